"""The double-precision secular solver, vectorised over parameter points (the tuner's grid).

:func:`solve_grid` finds the largest root of F(z) = 1 above rho(D) at G parameter points at once
(MATH.md §5) over either of two array classes with one interface (``F``, ``above``, ``start``,
``extreme_char``, ``rel_error``):

* :class:`SecularArrays`: the coefficients in z of phi = num/den and of det(zI - D_i), one (G, d)
  array each. The single-point double route (:func:`.secular.secular_double`) is this at G = 1.
* :class:`LambdaPolyArrays` (the grid, :func:`secular_grid`): num and den as polynomials in z and
  lambda, coefficient tables of G rows from :func:`lambda_poly_kernel`; per z the coefficients in
  lambda cost O(G), and every pass over (G, d) is a product with the powers of lambda (F and F' in
  five passes, F alone in three). The grid starts each point from the root of a compressed spectrum
  (:func:`spectral_quadrature`, :func:`surrogate_roots`) and brackets it within 1e-11 at once, so most
  points cost one Budan-Fourier test and two evaluations of F (the previous grid: about eleven).

The multiprecision and certified tiers run the scalar algorithm of :mod:`.secular` over a context.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from .polynomials import horner, horner_last_axis, horner_monic, taylor_positive_monic
from .result import EPS
from ..operators import secular_grid_kernel
from ...theory.errors import InputError


class SecularArrays:
    """Coefficients of phi = num/den and of det(zI - D_i) for G parameter points x d eigenvalues,
    one contiguous (G, d) array per coefficient; ``F(z)`` sums over the eigenvalues for z of shape
    (G,). When theory's numerator factors as w(lambda) h(z), F = h(z) sum_i w_i / den_i(z).
    """

    def __init__(self, method, noise, lam, eta, beta, fB, tau):
        k = secular_grid_kernel(method, noise)(lam[None, :], eta[:, None], beta[:, None], fB[:, None], tau)
        self.G, self.d = eta.size, lam.size
        self.den, self.char = k["den"], k["char"]
        if "w" in k:
            self.w, self.num = k["w"], None
            self.h = np.broadcast_to(k["h"](eta, beta, fB, tau), (eta.size, len(k["h"](1.0, 0.5, 1.0, 1.0))))
            self.trivial = not np.any(self.w)
        else:
            self.num = k["num"]
            self.trivial = not any(np.any(c) for c in self.num)

    @staticmethod
    def _take(arrs, idx):
        return arrs if isinstance(idx, slice) else [a[idx] for a in arrs]

    def _norm_idx(self, idx):
        if not isinstance(idx, slice) and idx.size == self.G:
            return slice(None)
        return idx

    def F(self, z, idx=slice(None)):
        """F(z) and F'(z) at the points ``idx``."""
        idx = self._norm_idx(idx)
        zz = z[:, None]
        p, dp = horner_monic(self._take(self.den, idx), zz)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            if self.num is None:
                hz, dhz = horner_last_axis(self.h[idx], z)
                r = self.w[idx] / p
                S = np.sum(r, axis=-1)
                r *= dp
                r /= p
                dS = np.sum(r, axis=-1)
                return hz * S, dhz * S - hz * dS
            n, dn = horner(self._take(self.num, idx), zz)
            r = n / p
            return np.sum(r, axis=-1), np.sum((dn - r * dp) / p, axis=-1)

    def above(self, z, idx=slice(None)):
        """True where z > rho(D) (Budan-Fourier on every det(zI - D_i))."""
        idx = self._norm_idx(idx)
        coefs = self._take(self.char, idx)
        zz = z[:, None]
        if len(coefs) == 3:          # cubic: p, p', half of p'' = 3 z + c_0 (a sixth of p''' = 1)
            p, dp = horner_monic(coefs, zz)
            return np.all((p > 0) & (dp > 0) & (3 * zz + coefs[0] > 0), axis=-1)
        return np.all(taylor_positive_monic(coefs, zz), axis=-1)

    def extreme_char(self):
        """det(zI - D_i) coefficients (monic, leading 1 dropped) at the first and last eigenvalue: a list
        of (G, 2) arrays (where rho(D) usually sits)."""
        cols = [0, self.d - 1] if self.d > 1 else [0]
        return [np.stack([c[:, j] for j in cols], axis=-1) for c in self.char]

    def start(self):
        """Fujiwara's bound 2 max_k |c_k|^(1/k) >= |every root| of every det(zI - D_i)."""
        q = len(self.char)
        if q == 0:
            return np.full(self.G, 1e-300)
        b = np.zeros(self.G)
        for k, c in enumerate(self.char, start=1):
            t = np.abs(c) / 2 if k == q else np.abs(c)
            b = np.maximum(b, np.max(t, axis=-1) ** (1.0 / k))
        return np.maximum(2 * b, 1e-300)

    def rel_error(self, z, mags=None):
        """Running error bound for F(z) divided by |z F'(z)|: the relative error of a root at z.

        Counts the rounding of Horner in z and, with ``mags`` (coefficient magnitudes from
        :func:`numerics.operators.secular_magnitude_kernel`), the rounding of the coefficients
        themselves, which cancel when evaluated in expanded form (e.g. (1 - beta)^2 near beta = 1).
        """
        zz = z[:, None]
        az = np.abs(zz)
        q = len(self.den)
        p, _ = horner_monic(self.den, zz)
        pabs, _ = horner_monic([np.abs(c) for c in self.den], az)
        if mags is not None:             # |delta den_i(z)| <= eps sum_k mag_k |z|^k (times a few)
            pabs = pabs + horner([np.zeros_like(mags["den"][0])] + mags["den"], az)[0] * 4 * (q + 2)
        F, dF = self.F(z)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            if self.num is None:
                hz, _ = horner_last_axis(self.h, z)
                terms = np.abs(hz[:, None] * self.w / p)
                nrel = 8 * EPS * self.h.shape[-1]
                if mags is not None:
                    nrel = nrel + 8 * EPS * mags["num"][0] / np.maximum(np.abs(self.w), 1e-300)
            else:
                n, _ = horner(self.num, zz)
                nabs, _ = horner([np.abs(c) for c in self.num], az)
                if mags is not None:
                    nabs = nabs + horner(mags["num"], az)[0] * 8
                terms = np.abs(n / p)
                nrel = nabs / np.maximum(np.abs(n), 1e-300) * EPS
            err = 4 * (q + 3) * np.sum(terms * (EPS * pabs / np.abs(p) + nrel), axis=-1)
            return err / np.abs(z * dF)


# --------------------------------------------------------------------------------------------------
# the grid's fast arrays: n(z, lambda) and p(z, lambda) as polynomials in both variables
# --------------------------------------------------------------------------------------------------
def _expanded_table(coefs, monic: bool):
    """[[a_jk]]: coefficient of z^(q-j) lambda^k of the polynomial whose z-coefficients (highest first,
    the monic leading 1 dropped when ``monic``) are ``coefs``; None if one is not polynomial."""
    import sympy as sp
    from ..operators import F_B
    from ...theory import symbols
    rows = [[sp.Integer(1)]] if monic else []
    params = (symbols.eta, symbols.beta, F_B, symbols.tau)
    for c in coefs:
        c = sp.expand(c)
        try:
            cs = sp.Poly(c, symbols.lam).all_coeffs()[::-1] if c.has(symbols.lam) else [c]
            for a in cs:
                if a != 0:
                    sp.Poly(a, *params)          # polynomial in the parameters too
        except sp.PolynomialError:
            return None
        rows.append([sp.expand(a) for a in cs])
    m = max(len(r) for r in rows)
    return [r + [sp.Integer(0)] * (m - len(r)) for r in rows]


def _ops(a) -> int:
    """Rounding count of an expanded polynomial in the parameters: terms + the largest degree + 2."""
    import sympy as sp
    terms = sp.Add.make_args(a)
    deg = max((sp.Poly(t, *sorted(t.free_symbols, key=str)).total_degree() if t.free_symbols else 0)
              for t in terms)
    return len(terms) + deg + 2


#: rounding count used with the shipped kernels (tests/test_rho_grid.py: >= every built-in's count)
SHIPPED_OPS = 32


def _shipped_tables(method, noise):
    """:func:`lambda_poly_kernel` from the shipped Horner-in-lambda plans of the double secular route
    (numerics/generated/secular_grid.py, printed from theory), without SymPy; None for a method or
    noise without shipped kernels or with a plan not polynomial in lambda. The numerator's magnitudes:
    those of its coefficients, or for a numerator w(lambda) h(z), |h_j| times those of w (h's
    coefficients are monomials for the built-ins; tests/test_rho_grid.py compares every table with the
    SymPy route's)."""
    from .. import kernels
    k = kernels.shipped("secular_grid", method, noise)
    if k is None:
        return None
    g, mg = k["grid"], k["magnitude"]
    weight = g.get("w") is not None            # num = w(lambda) h(z): a_jk = h_j w_k
    plans = {"den": g["den"], "char": g["char"] if g.get("char") is not None else g["den"],
             "num": g["w"] if weight else g.get("num")}
    if plans["num"] is None or any(kind != "horner" for v in plans.values() for kind, _ in v) \
            or any(kind != "horner" for kind, _ in mg["den"] + mg["num"]):
        return None

    def table(pl, args, monic):
        rows = [[np.ones(args[0].shape)]] if monic else []
        rows += [[np.broadcast_to(np.asarray(f(*args), dtype=float), args[0].shape) for f in fs[::-1]]
                 for _, fs in pl]
        m = max(len(r) for r in rows)
        return np.stack([np.stack(r + [np.zeros(args[0].shape)] * (m - len(r)), axis=-1) for r in rows], axis=1)

    def run(eta, beta, fB, tau):
        args = (eta, beta, fB, tau)
        out = {key: table(plans[key], args, key != "num") for key in ("den", "char", "num")}
        out["den_mag"] = table(mg["den"], args, True)
        if weight:                           # h_j w_k, magnitudes |h_j(params)| mag(w)_k
            h = np.stack([np.broadcast_to(np.asarray(f(*args), dtype=float), eta.shape) for f in g["h"]], axis=1)
            out["num"] = h[:, :, None] * out["num"][:, 0, None, :]
            wm = table(mg["num"], args, False)[:, 0, :]
            out["num_mag"] = np.abs(h)[:, :, None] * wm[:, None, :]
        else:
            out["num_mag"] = table(mg["num"], args, False)
        if out["num_mag"].shape != out["num"].shape:
            return None
        out["ops"] = SHIPPED_OPS
        return out
    probe = run(*(np.full(1, v) for v in (0.3, 0.5, 0.7, 2.0)))
    if probe is None or not np.any(probe["num"]) or probe["den"].shape[1] < 2:
        return None                          # no coupling (F = 0) or a constant denominator
    return run


@lru_cache(maxsize=None)
def lambda_poly_kernel(method, noise):
    """Kernel (eta, beta, f_B, tau as (G,) arrays) -> dict of coefficient tables, or None.

    For theory's secular term phi = num/den (MATH.md §5), den monic in z: ``den``, ``num``, ``char``
    (det(zI - D), monic), arrays (G, q + 1, m + 1) with [g, j, k] the coefficient of z^(q-j) lambda^k,
    and ``den_mag``, ``num_mag``: the same tables with every monomial in the parameters replaced by its
    absolute value (the scale of the rounding of the expanded coefficients, e.g. (1 - beta)^2 near
    beta = 1), and ``ops``: a rounding count for those coefficients (error <= ops eps mag). None when a
    table is not polynomial in lambda or F = 0 (no coupling): the generic :class:`SecularArrays` then.
    """
    fast = _shipped_tables(method, noise)
    if fast is not None:
        return fast
    import sympy as sp
    from ..kernels import cached_source, compile_source, secular_tuning_exprs
    from ..operators import F_B
    from ...theory import symbols
    ex = secular_tuning_exprs(method, noise)
    if all(sp.expand(c) == 0 for c in ex["num"]) or not ex["den"]:
        return None
    tabs = {"den": _expanded_table(ex["den"], True), "num": _expanded_table(ex["num"], False),
            "char": _expanded_table(ex["char"], True)}
    if any(t is None for t in tabs.values()):
        return None
    mag = lambda t: [[sp.Add(*[abs(x) for x in sp.Add.make_args(a)]) for a in r] for r in t]  # noqa: E731
    tabs["den_mag"], tabs["num_mag"] = mag(tabs["den"]), mag(tabs["num"])
    ops = max(_ops(a) for key in ("den", "num") for r in tabs[key] for a in r if a != 0)
    shapes = {k: (len(t), len(t[0])) for k, t in tabs.items()}
    outputs = {k: [a for r in t for a in r] for k, t in tabs.items()}
    args = (symbols.eta, symbols.beta, F_B, symbols.tau)
    fn = compile_source(cached_source("lambda_poly", outputs, args), "lambda_poly")

    def run(eta, beta, fB, tau):
        out = fn(eta, beta, fB, tau)
        res = {k: np.stack(out[k], axis=-1).reshape((eta.size,) + shapes[k]) for k in shapes}
        res["ops"] = ops
        return res
    return run


def _zpoly(tab, z):
    """P_k(z) = sum_j tab[:, j, k] z^(q-j) and its z-derivative, arrays (G, m + 1) (Horner in z)."""
    zz = z[:, None]
    p = tab[:, 0, :].copy()
    dp = np.zeros_like(p)
    for j in range(1, tab.shape[1]):
        dp *= zz
        dp += p
        p *= zz
        p += tab[:, j, :]
    return p, dp


def _conv(a, b):
    """Coefficients (in lambda) of the product of two (G, .) coefficient arrays (lowest degree first)."""
    out = np.zeros((a.shape[0], a.shape[1] + b.shape[1] - 1))
    for k in range(b.shape[1]):
        out[:, k:k + a.shape[1]] += a * b[:, k:k + 1]
    return out


def _powers(lam, n, weight=None):
    """(n, d) array of weight * lambda^k, k = 0..n-1."""
    L = np.empty((n, lam.size))
    L[0] = 1.0 if weight is None else weight
    for k in range(1, n):
        L[k] = L[k - 1] * lam
    return L


def _positive_on_interval(C: np.ndarray, a: float, b: float) -> np.ndarray:
    """True where the polynomial sum_k C[:, k] x^k (degree <= 3) is > 0 on all of [a, b], by its values
    at a, b and its real critical points inside, each with a margin of 16 eps sum_k |C_k| |x|^k for
    rounding; False also where undecided (degree > 3). Sufficient for positivity at every lambda_i."""
    n, m1 = C.shape
    if m1 > 4:
        return np.zeros(n, dtype=bool)
    C = np.concatenate([C, np.zeros((n, 4 - m1))], axis=1)
    c0, c1, c2, c3 = C.T
    pts = [np.full(n, a), np.full(n, b)]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        # roots of c1 + 2 c2 x + 3 c3 x^2 (the linear case where c3 = 0)
        A, Bq = 3 * c3, 2 * c2
        disc = Bq * Bq - 4 * A * c1
        sq = np.sqrt(np.where(disc >= 0, disc, np.nan))
        lin = -c1 / Bq
        r1 = np.where(A != 0, (-Bq + sq) / (2 * A), lin)
        r2 = np.where(A != 0, (-Bq - sq) / (2 * A), lin)
    for r in (r1, r2):
        inside = np.isfinite(r) & (r > a) & (r < b)
        pts.append(np.where(inside, r, a))
    X = np.stack(pts, axis=1)                                  # (n, 4)
    val = ((c3[:, None] * X + c2[:, None]) * X + c1[:, None]) * X + c0[:, None]
    ax = np.abs(X)
    mag = ((np.abs(c3)[:, None] * ax + np.abs(c2)[:, None]) * ax + np.abs(c1)[:, None]) * ax + np.abs(c0)[:, None]
    return np.all(val > 16 * EPS * mag, axis=1)


def _sums(R: np.ndarray, L: np.ndarray, cols, width: int) -> np.ndarray:
    """(G, width) array with column k = R @ L[k] for k in ``cols`` (sum_i w_i lambda_i^k R_i), 0 elsewhere."""
    out = np.zeros((R.shape[0], width))
    for k in cols:
        if k < width:
            out[:, k] = R @ L[k]
    return out


class LambdaPolyArrays:
    """F(z) = sum_i w_i n(z, lambda_i) / p(z, lambda_i) at G parameter points, with n and p polynomials
    in z and lambda (tables from :func:`lambda_poly_kernel`; weights w_i = 1 for the true spectrum).

    Per z, the coefficients in lambda, P_k(z) = sum_j a_jk z^(q-j), cost O(G); the passes over the
    (G, d) arrays are matrix products with the powers of lambda: p = P L (one write), R = 1/p, then
    R L^T gives every sum_i lambda_i^k / p_i at once; F = sum_k Q_k(z) (R L^T)_k and
    F' = sum_k Q_k' (R L^T)_k - sum_s (Q * P')_s (R^2 L^T)_s. The same interface as
    :class:`SecularArrays` (``F``, ``above``, ``start``, ``extreme_char``, ``rel_error``).
    """

    def __init__(self, tables: dict, lam: np.ndarray, weight=None, certify: bool = True):
        self.t = tables
        self.certify = certify
        self.lam = np.asarray(lam, dtype=float)
        self.G, self.d = tables["den"].shape[0], self.lam.size
        self.weight = weight
        md, mn, mc = (tables[k].shape[2] for k in ("den", "num", "char"))
        self.Lden = _powers(self.lam, md)
        self.Lchar = _powers(self.lam, mc)
        self.Lnum_w = _powers(self.lam, max(mn + md - 1, 2 * md - 1), weight)   # rows w lambda^k
        self.mn = mn
        # the powers of lambda that occur (the tables are sparse in lambda: heavy ball's numerator is
        # lambda^2 times a polynomial in z): one matrix-vector product each (faster than a product with
        # a thin matrix, and none for the powers that never occur)
        kn = np.flatnonzero(np.any(tables["num"] != 0, axis=(0, 1)))
        kd = np.flatnonzero(np.any(tables["den"][:, :-1, :] != 0, axis=(0, 1)))
        self.cols_F = kn
        self.cols_dF = np.unique(np.add.outer(kn, kd).ravel())
        self.trivial = ~np.any(tables["num"] != 0, axis=(1, 2))
        self.same_char = tables["char"].shape == tables["den"].shape and np.array_equal(tables["char"],
                                                                                         tables["den"])

    def _rows(self, key, idx):
        return self.t[key] if isinstance(idx, slice) else self.t[key][idx]

    def F(self, z, idx=slice(None), deriv: bool = True):
        """F(z) and F'(z) at the points ``idx`` (F' NaN when not ``deriv``: three passes instead of five)."""
        P, dP = _zpoly(self._rows("den", idx), z)
        Q, dQ = _zpoly(self._rows("num", idx), z)
        R = P @ self.Lden
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            np.reciprocal(R, out=R)
            S = _sums(R, self.Lnum_w, self.cols_F, Q.shape[1])
            F = np.einsum("gk,gk->g", Q, S)
            if not deriv:
                return F, np.full(F.shape, np.nan)
            dF = np.einsum("gk,gk->g", dQ, S)
            R *= R
            C = _conv(Q, dP)
            dF -= np.einsum("gk,gk->g", C, _sums(R, self.Lnum_w, self.cols_dF, C.shape[1]))
        return F, dF

    def _taylor_rows(self, z, idx):
        """(G, q, m + 1): coefficients in lambda of char^(r)(z) / r!, r = 0..q-1 (synthetic division)."""
        tab = self._rows("char", idx)
        zz = z[:, None]
        a = [tab[:, j, :].copy() for j in range(tab.shape[1])]
        q = len(a) - 1
        out = []
        for k in range(q):
            for j in range(1, q + 1 - k):
                a[j] = a[j - 1] * zz + a[j]
            out.append(a[q - k])
        return np.stack(out, axis=1)

    def above(self, z, idx=slice(None)):
        """True where z > rho(D): every Taylor coefficient of every det(zI - D_i) at z is > 0
        (Budan-Fourier and Gauss-Lucas, as in :meth:`SecularArrays.above`); always True for arrays made
        with ``certify=False`` (a compressed spectrum's, whose roots are only starting points)."""
        if not self.certify:
            return np.ones(np.size(z), dtype=bool)
        T = self._taylor_rows(z, idx)
        n, q, m1 = T.shape
        if q == 0:
            return np.ones(n, dtype=bool)
        C = T.reshape(-1, m1)
        ok = _positive_on_interval(C, float(np.min(self.lam)), float(np.max(self.lam))).reshape(n, q).all(-1)
        rest = np.flatnonzero(~ok)               # not proven on the whole interval: the eigenvalues one by one
        if rest.size:
            V = T[rest].reshape(-1, m1) @ self.Lchar
            ok[rest] = np.all(np.min(V, axis=-1).reshape(rest.size, q) > 0, axis=-1)
        return ok

    def start(self):
        """Fujiwara's bound 2 max_k |c_k|^(1/k) (|c_k(lambda_i)| <= sum_m |a_km| max(lambda)^m)."""
        tab = self.t["char"]
        q = tab.shape[1] - 1
        if q == 0:
            return np.full(self.G, 1e-300)
        top = _powers(np.array([np.max(np.abs(self.lam))]), tab.shape[2])[:, 0]
        b = np.zeros(self.G)
        for k in range(1, q + 1):
            c = np.abs(tab[:, k, :]) @ top * (1 + 1e-12)
            b = np.maximum(b, (c / 2 if k == q else c) ** (1.0 / k))
        return np.maximum(2 * b, 1e-300)

    def extreme_char(self):
        """det(zI - D_i) coefficients (monic, leading 1 dropped) at the smallest and largest lambda_i:
        a list of (G, 2) arrays (where rho(D) usually sits)."""
        cols = [int(np.argmin(self.lam)), int(np.argmax(self.lam))] if self.d > 1 else [0]
        L = self.Lchar[:, cols]
        return [self.t["char"][:, j, :] @ L for j in range(1, self.t["char"].shape[1])]

    def rel_error(self, z, mags=None):
        """Bound on |z - z*| / z for the root z* of F = 1 next to z: (E_F + |F(z) - 1|) / (z (|F'| - E_F'))
        (|F'| / 2 in the denominator where E_F' > |F'| / 2, see below).

        Above rho(D) every p_i(z) > 0, so with R_i = 1/p_i every bound is a sum of R_i or R_i^2 times a
        polynomial in lambda, i.e. a matrix product of the same kind as in :meth:`F` (five passes in all).
        E_F: n_i and p_i come from coefficients computed in expanded form, then Horner in z and a dot
        product in lambda, so each errs by <= gamma times its magnitude (every monomial by its absolute
        value: nabs_i, pabs_i; gamma = 2 (ops + 2 q + 2 m + 4) eps); hence
        E_F <= 1.5 gamma sum_i (|n_i| pabs_i R_i^2 + nabs_i R_i) + 1.5 (2 eps + gamma_d) sum_i |n_i| R_i,
        gamma_d = (d + 4) eps for a sum in any order (a matrix product), first order made safe by the
        factor 1.5 where every gamma pabs_i R_i <= 1/4 (checked through sqrt(sum_i pabs_i^2 R_i^2); else
        inf). E_F' alike for the slope's two sums. ``mags`` is ignored (the tables carry magnitudes).
        """
        t = self.t
        n_ops = t["ops"] + 2 * t["den"].shape[1] + 2 * t["den"].shape[2] + 4
        gam = 2.0 * n_ops * EPS
        gam_d = (self.d + 4) * EPS * 1.01
        az = np.abs(z)
        P, dP = _zpoly(t["den"], z)
        Q, dQ = _zpoly(t["num"], z)
        Pm, dPm = _zpoly(t["den_mag"], az)
        Qm, dQm = _zpoly(t["num_mag"], az)
        md, mn = P.shape[1], Q.shape[1]
        L = _powers(self.lam, max(mn + md - 1, 2 * md - 1), None if self.weight is None else np.abs(self.weight))
        allc = range(L.shape[0])
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            R = P @ self.Lden
            np.reciprocal(R, out=R)
            pos = np.all(R > 0, axis=-1)         # above rho(D) (the solver's bracket): else no bound
            S = _sums(R, L, allc, L.shape[0])    # sum_i lambda_i^k R_i
            R *= R
            S2 = _sums(R, L, allc, L.shape[0])   # sum_i lambda_i^k R_i^2
            dot = lambda a, b: np.einsum("gk,gk->g", a, b[:, :a.shape[1]])  # noqa: E731
            F = dot(Q, S)
            dF = dot(dQ, S) - dot(_conv(Q, dP), S2)
            aQ, adQ, adP = np.abs(Q), np.abs(dQ), np.abs(dP)
            nR = dot(Qm, S)                      # >= sum_i nabs_i R_i (nabs: n's magnitude)
            aR = dot(aQ, S)                      # >= sum_i |n_i| R_i (n as computed)
            npR2 = dot(_conv(aQ, Pm), S2)        # >= sum_i |n_i| pabs_i R_i^2
            p2R2 = dot(_conv(Pm, Pm), S2)        # = sum_i pabs_i^2 R_i^2
            rho = gam * np.sqrt(p2R2)            # >= every gamma pabs_i R_i (the relative error of R_i)
            redo = np.flatnonzero(pos & ~(rho <= 0.25))
            if redo.size:                        # the largest term itself where the 2-norm is too coarse
                rho[redo] = gam * np.max((Pm[redo] @ self.Lden) / (P[redo] @ self.Lden), axis=-1)
            ok = pos & (rho <= 0.25)
            eF = 1.5 * gam * (npR2 + nR) + (2 * EPS + gam_d) * aR * 1.5
            # the slope sum_i dn_i R_i - n_i dp_i R_i^2: dn, n, dp to gamma of their magnitudes, R_i to
            # 1.5 rho, R_i^2 to 3 rho, products and sums to eps and gamma_d
            eD = gam * (dot(dQm, S) + dot(_conv(Qm, adP), S2) + dot(_conv(aQ, dPm), S2)) \
                + (3 * rho + 2 * EPS + gam_d) * (dot(adQ, S) + dot(_conv(aQ, adP), S2)) * 1.5
            # where that bound exceeds half the slope (1 - beta ~ 1e-2 and a root next to a pole, the
            # expanded terms cancel to 1e-12), half the computed slope: first order in it, as the
            # previous solver's bound (which took the computed slope as it was)
            slope = np.where(eD <= 0.5 * np.abs(dF), np.abs(dF) - eD, 0.5 * np.abs(dF))
            rel = (eF + np.abs(F - 1)) / (np.abs(z) * slope)
        return np.where(ok & (slope > 0), rel, np.inf)


def spectral_quadrature(lam: np.ndarray, m: int):
    """(nodes, weights) with sum_j w_j f(x_j) ~ sum_i f(lambda_i): the smallest and the largest
    lambda_i (weight 1 each, where rho(D) usually sits) and the m-point Gauss rule of the others
    (Lanczos on diag(lambda) from the all-ones vector, fully reorthogonalised; exact for polynomials of
    degree < 2m). Only for starting points: nothing is concluded from it.

    >>> x, w = spectral_quadrature(np.arange(1.0, 101.0), 5)
    >>> bool(np.isclose(w @ x**3, np.sum(np.arange(1.0, 101.0)**3), rtol=1e-12)), round(float(w.sum()), 9)
    (True, 100.0)
    """
    lam = np.asarray(lam, dtype=float)
    i0, i1 = int(np.argmin(lam)), int(np.argmax(lam))
    mid = np.delete(lam, [i0, i1]) if i0 != i1 else np.delete(lam, [i0])
    ends = np.array([lam[i0], lam[i1]]) if i0 != i1 else np.array([lam[i0]])
    m = min(m, mid.size)
    if m == 0:
        return ends, np.ones(ends.size)
    V = np.zeros((m + 1, mid.size))
    V[0] = 1 / np.sqrt(mid.size)
    a, bt = np.zeros(m), np.zeros(m)
    for k in range(m):
        w = mid * V[k]
        a[k] = w @ V[k]
        w -= V[:k + 1].T @ (V[:k + 1] @ w)       # full reorthogonalisation (twice is enough)
        w -= V[:k + 1].T @ (V[:k + 1] @ w)
        bt[k] = np.linalg.norm(w)
        if bt[k] <= 1e-14 * max(np.abs(mid).max(), 1e-300):
            m = k + 1
            break
        V[k + 1] = w / bt[k]
    T = np.diag(a[:m]) + np.diag(bt[:m - 1], 1) + np.diag(bt[:m - 1], -1)
    x, U = np.linalg.eigh(T)
    return np.concatenate([ends, x]), np.concatenate([np.ones(ends.size), mid.size * U[0] ** 2])


SURROGATE_NODES = 24
SURROGATE_ITER = 40     # iterations of the compressed solve (starting points only)


def surrogate_roots(tables: dict, lam: np.ndarray, m: int = SURROGATE_NODES, pole=None, quad=None) -> np.ndarray:
    """Estimates of the secular roots from the compressed spectrum of :func:`spectral_quadrature`
    (NaN where the compressed problem has no root): the starting points of the full solve. ``pole``:
    :func:`pole_estimate` of the full problem (the compressed one keeps the extreme eigenvalues);
    ``quad``: the (nodes, weights) when already computed."""
    x, w = spectral_quadrature(lam, m) if quad is None else quad
    # no Budan-Fourier tests (half the cost): a root found between poles only costs the full solve,
    # which tests its own bracket, the default start at that point
    # (where the compressed problem has no root above its pole at double resolution, i.e. the root hugs
    # rho(D) within rounding, its uncertified solve would bisect toward 0 for all max_iter steps: the
    # cap leaves those points NaN, the full solve's default start, and costs the others nothing, since
    # a root converges in under ten steps)
    arr = LambdaPolyArrays(tables, x, w, certify=False)
    rho, _, _, found = solve_grid(arr, pole=pole, max_iter=SURROGATE_ITER)
    return np.where(found, rho, np.nan)


def pole_estimate(arr: SecularArrays, iters: int = 80) -> np.ndarray:
    """Largest real root of det(zI - D_i) at the extreme eigenvalues (where rho(D) usually sits), by
    Newton from the right (monotone: beyond the largest root every derivative is positive)."""
    coefs = arr.extreme_char()
    q = len(coefs)
    if q == 0:
        return np.zeros(arr.G)
    z = np.zeros(coefs[0].shape)
    for k, c in enumerate(coefs, start=1):
        z = np.maximum(z, (np.abs(c) / (2 if k == q else 1)) ** (1.0 / k))
    z = 2 * z + 1e-300
    for _ in range(iters):
        p, dp = horner_monic(coefs, z)
        with np.errstate(divide="ignore", invalid="ignore"):
            step = np.where(dp > 0, p / dp, 0.0)
        step = np.where(np.isfinite(step) & (step > 0), step, 0.0)
        z = z - step
        if np.all(step <= 4 * EPS * z):
            break
    return np.max(z, axis=-1)


def solve_grid(arr: SecularArrays, max_iter: int = 200, z0=None, gap: float = 1e-12, pole=None,
               xtol: float = 0.0):
    """Largest root of F(z) = 1 above rho(D), or rho(D) when there is none.

    Bracket that only shrinks: ``hi`` above rho(D) with F < 1, ``left`` above rho(D) with F >= 1,
    ``below`` at or below rho(D) (failed Budan-Fourier test). Candidates, from the last point: the
    root of the model F ~ b + a/(z - p) with p the estimated rho(D) (exact for one dominant pole), else
    Newton on G = 1/F; when those leave the bracket, Newton on F from ``left`` (never overshoots: F is
    convex decreasing above rho(D)), else bisection. Returns (rho, lo, hi, found), arrays of shape (G,);
    in exact arithmetic lo <= rho(T) <= hi; ``found`` is False where rho = rho(D).

    ``z0`` (optional, shape (G,), NaN where unknown): estimates of the root. Where z0 (1 - gap) passes
    the Budan-Fourier test, it and z0 (1 + gap) seed the bracket (each lands in ``left`` or ``hi`` by
    the sign of F - 1), which spares the bound-and-double start and the tests of the rho(D) estimate;
    the result does not depend on the estimate beyond the iterations it takes. ``pole``: the estimate
    of rho(D) from :func:`pole_estimate` when already known. ``xtol`` > 0: a point whose bracket
    [left, hi] is narrower than xtol hi takes the candidate inside it without evaluating F there (the
    root is then known to xtol; the a-posteriori bound of ``rel_error`` states what it is worth).
    """
    G = arr.G
    hi, Fh, dFh = np.full(G, np.nan), np.full(G, np.nan), np.full(G, np.nan)
    left = np.full(G, np.nan)
    Fl, dFl = np.full(G, np.nan), np.full(G, np.nan)
    known_above = np.full(G, np.inf)         # every z >= known_above is above rho(D)
    seeded = np.zeros(G, dtype=bool)
    below = np.zeros(G)
    if z0 is not None:
        _seed(arr, np.asarray(z0, dtype=float), gap, hi, Fh, dFh, left, Fl, dFl, known_above, below, seeded)
    need = np.flatnonzero(np.isnan(hi))      # no upper end yet: Fujiwara's bound, doubled as needed
    if need.size:
        h = arr.start()[need]
        Fn, dFn = arr.F(h, need)
        for _ in range(2000):                # F < 1 at hi (F -> 0 at infinity)
            bad = Fn >= 1
            if not bad.any():
                break
            h = np.where(bad, 2 * h, h)
            Fn, dFn = arr.F(h, need)
        hi[need], Fh[need], dFh[need] = h, Fn, dFn
        known_above[need] = np.minimum(known_above[need], h)
    pole = pole_estimate(arr) if pole is None else np.asarray(pole, dtype=float)
    pole = np.where(pole < hi, pole, np.nan)
    ok_pole = np.isfinite(pole)
    test = ok_pole & ~seeded                 # seeded points know a z above rho(D) next to the root
    if test.any():                           # the estimate is a lower bound of rho(D) iff it fails the test
        i = np.flatnonzero(test)
        ab = arr.above(pole[i], i)
        below[i[~ab]] = pole[i[~ab]]
        known_above[i[ab]] = pole[i[ab]]
        j = i[~ab]                           # one test just above the estimate spares most later ones
        if j.size:
            za = pole[j] * (1 + 1e-7) + 1e-300
            ok = arr.above(za, j)
            known_above[j[ok]] = za[ok]
        j = i[ab]                            # Newton from the right overshot the root a little: just below
        if j.size:
            zb = pole[j] * (1 - 1e-9)
            no = ~arr.above(zb, j)
            below[j[no]] = zb[no]
    zl, Fz, dFz = hi.copy(), Fh.copy(), dFh.copy()       # the last point evaluated
    active = np.ones(G, dtype=bool)
    rooted = np.zeros(G, dtype=bool)         # converged onto F = 1 (possibly only from above)
    result = hi.copy()
    for _ in range(max_iter):
        idx = np.flatnonzero(active)
        if idx.size == 0:
            break
        has_left = ~np.isnan(left[idx])
        h, lft, bel, p = hi[idx], left[idx], below[idx], pole[idx]
        z, F, dF = zl[idx], Fz[idx], dFz[idx]
        floor = np.where(has_left, lft, bel)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            a = -dF * (z - p) ** 2
            b = F - a / (z - p)
            model = np.where((p < z) & (a > 0) & (b < 1), p + a / (1 - b), np.nan)
            newton_G = z + (F * F - F) / -dF
            c = np.where(np.isfinite(model), model, newton_G)
            newton_F = lft + (Fl[idx] - 1) / -dFl[idx]
            # no slope at the last point (evaluated without it): the same one-pole model through both
            # ends of the bracket, F(left) and F(hi); a secant where there is no pole estimate
            two = has_left & ~np.isfinite(c)
            if two.any():
                F1, F2 = Fl[idx], Fh[idx]
                u1, u2 = 1 / (lft - p), 1 / (h - p)
                a2 = (F1 - F2) / (u1 - u2)
                b2 = F1 - a2 * u1
                pm = np.where((p < lft) & (a2 > 0) & (b2 < 1), p + a2 / (1 - b2), np.nan)
                sec = lft + (F1 - 1) * (h - lft) / (F1 - F2)
                c = np.where(two, np.where(np.isfinite(pm), pm, sec), c)
        inside = np.isfinite(c) & (c > floor) & (c < h)
        # converged: the step from the last point is below rounding with F there within rounding of 1
        # (a tiny step next to a pole of F is no proof), or the bracket is below rounding
        at_root = (np.abs(F - 1) <= 1e-9) & (np.abs(c - z) <= 2 * EPS * z)
        conv = at_root | (h - floor <= 4 * EPS * h)
        if xtol > 0:                         # a narrow bracket: its model root, unevaluated
            conv |= has_left & (h - lft <= xtol * h) & inside
        rooted[idx[at_root]] = True
        fallback = np.where(has_left & np.isfinite(newton_F) & (newton_F > lft) & (newton_F < h)
                            & (newton_F - lft > 2 * EPS * lft), newton_F, 0.5 * (floor + h))
        final = np.clip(np.where(np.isfinite(c), c, z), floor, h)
        final = np.where(~has_left & (h - floor <= 4 * EPS * h), h, final)
        # the step from the last point is below rounding but F is not within 1e-9 of 1 (next to a pole
        # F is steep): a few ulps to the other side closes the bracket instead of bisection
        small = ~conv & (np.abs(c - z) <= 2 * EPS * z)
        tiny = small & ((z == h) | (has_left & (z == lft)))
        c = np.where(inside & ((c - z) != 0), c, fallback)
        if tiny.any():
            step = np.where(z == h, -3 * EPS * z, 3 * EPS * z)
            c = np.where(tiny, np.clip(z + step, floor, h), c)
        if xtol > 0:                         # one end within xtol/2 of the model root: evaluate xtol/4
            dlt = 0.25 * xtol * h            # beyond it, away from that end, so the bracket closes
            near_h = has_left & inside & (h - c <= 2 * dlt) & (c - lft > 4 * dlt)
            near_l = has_left & inside & (c - lft <= 2 * dlt) & (h - c > 4 * dlt)
            c = np.where(near_h, c - dlt, np.where(near_l, c + dlt, c))
        if conv.any():
            result[idx[conv]] = final[conv]
            active[idx[conv]] = False
            keep = ~conv
            idx, c, has_left = idx[keep], c[keep], has_left[keep]
            if idx.size == 0:
                break
        Fc, dFc = arr.F(c, idx)
        ab = np.ones(idx.size, dtype=bool)
        need = ~has_left & (c < known_above[idx])
        if need.any():
            ab[need] = arr.above(c[need], idx[need])
        up = ab & (Fc < 1)
        lo_ok = ab & (Fc >= 1)
        i_up, i_lo, i_bel = idx[up], idx[lo_ok], idx[~ab]
        hi[i_up], Fh[i_up], dFh[i_up] = c[up], Fc[up], dFc[up]
        left[i_lo], Fl[i_lo], dFl[i_lo] = c[lo_ok], Fc[lo_ok], dFc[lo_ok]
        below[i_bel] = c[~ab]
        i_ab = idx[ab]
        zl[i_ab], Fz[i_ab], dFz[i_ab] = c[ab], Fc[ab], dFc[ab]
    found = ~np.isnan(left) | rooted
    result = np.where(active, np.where(found, left, hi), result)
    lo = np.where(~np.isnan(left), left, np.where(rooted, result, below))
    return result, lo, hi, found


def _F(arr, z, idx, deriv=True):
    """arr.F, without the slope where the arrays allow it."""
    return arr.F(z, idx, deriv=deriv) if isinstance(arr, LambdaPolyArrays) else arr.F(z, idx)


def _seed(arr, z0, gap, hi, Fh, dFh, left, Fl, dFl, known_above, below, seeded):
    """Bracket the root from estimates z0 (in place; see :func:`solve_grid`): z0 (1 - gap) must pass
    the Budan-Fourier test; z0 (1 + g) and z0 (1 - g) for g = gap, 1e-8, 1e-4 until each side has a
    point (a side still missing falls back to the default start)."""
    s = np.flatnonzero(np.isfinite(z0) & (z0 > 0))
    if s.size == 0:
        return
    zlo = z0[s] * (1 - gap)
    ok = arr.above(zlo, s)
    s, zlo = s[ok], zlo[ok]
    seeded[s] = True
    known_above[s] = zlo
    for g in [gap] + [x for x in (1e-8, 1e-4) if x > gap]:
        # right side: above rho(D) (beyond zlo); F < 1 makes an upper end, F >= 1 a larger left end
        r = s[np.isnan(hi[s])]
        if r.size:
            zr = z0[r] * (1 + g)
            Fr, dFr = _F(arr, zr, r, deriv=False)    # the model through both ends needs no slope
            up = Fr < 1
            hi[r[up]], Fh[r[up]], dFh[r[up]] = zr[up], Fr[up], dFr[up]
            dn = Fr >= 1
            left[r[dn]], Fl[r[dn]], dFl[r[dn]] = zr[dn], Fr[dn], dFr[dn]
        # left side: below the smallest upper end; a failed test ends the ladder for that point
        r = s[np.isnan(left[s]) & (below[s] == 0)]
        if r.size:
            zl = z0[r] * (1 - g)
            ab = np.ones(r.size, dtype=bool)
            t = zl < known_above[r]
            if t.any():
                ab[t] = arr.above(zl[t], r[t])
            below[r[~ab]] = zl[~ab]
            r, zl = r[ab], zl[ab]
            known_above[r] = np.minimum(known_above[r], zl)
            Fz, dFz = _F(arr, zl, r, deriv=False)    # a left end needs no slope (the model steps from hi)
            up = (Fz < 1) & ~(hi[r] <= zl)
            if up.any():                             # a new upper end does
                Fz[up], dFz[up] = arr.F(zl[up], r[up])
            hi[r[up]], Fh[r[up]], dFh[r[up]] = zl[up], Fz[up], dFz[up]
            dn = Fz >= 1
            left[r[dn]], Fl[r[dn]], dFl[r[dn]] = zl[dn], Fz[dn], dFz[dn]
        if not (np.isnan(hi[s]) | (np.isnan(left[s]) & (below[s] == 0))).any():
            break


def grid_inputs(lrs, momenta):
    try:
        e, b = np.broadcast_arrays(np.asarray(lrs, dtype=float), np.asarray(momenta, dtype=float))
    except ValueError as exc:
        raise InputError("lr", f"lrs and momenta do not broadcast: {exc}") from None
    if not np.all(e >= 0):                    # NaN or negative (inf is allowed: rho = inf there)
        raise InputError("lr", "every step size must be >= 0")
    if not np.all((b >= 0) & (b <= 1)):
        raise InputError("momentum", "every momentum must lie in [0, 1]")
    return e.shape, e.ravel(), b.ravel()


REDO_REL = 1e-9       # bound above which a point is solved again by the generic path


def secular_grid(method, model, fB, e: np.ndarray, b: np.ndarray, error_bounds: bool = True,
                 chunk_entries: int = 1 << 20, surrogate_min_d: int = 64, gap: float = 1e-11,
                 xtol: float = 3e-11):
    """(rho, relative error bound) at the points (e[k], b[k]) of a decoupled model; ``fB``: the batch
    factor, one number or one per point.

    Where theory's secular term is polynomial in lambda (every built-in method and model with coupling),
    :class:`LambdaPolyArrays` in chunks of about ``chunk_entries`` (point, eigenvalue) pairs, each point
    started from the root of a compressed spectrum (:func:`surrogate_roots`, for d >= ``surrogate_min_d``)
    with the bracket z0 (1 -+ ``gap``), and taken as the model root inside a bracket narrower than
    ``xtol`` (see :func:`solve_grid`): most points cost one Budan-Fourier test and two evaluations of F
    (the previous solver: about 11). Else :class:`SecularArrays`. The bound is the a-posteriori bound of
    ``rel_error`` (with the residual F - 1 at the returned point) where a root of F = 1 was found; inf
    where rho = rho(D) (the bracket does not resolve it), 0 for models without coupling; all 0 (not
    returned) when ``error_bounds`` is False. Points whose bound exceeds ``REDO_REL`` are solved again on
    coefficient arrays in z (:func:`_secular_grid_generic`), which keep more digits near beta = 1; the
    better of the two (by its bound) is kept."""
    fB = np.broadcast_to(np.asarray(fB, dtype=float), e.shape)
    kern = lambda_poly_kernel(method, model.decoupled)
    if kern is None:
        return _secular_grid_generic(method, model, fB, e, b, error_bounds)
    lam = model.spectrum_array()
    tau = float(np.sum(lam))
    G = e.size
    tabs = kern(e, b, np.array(fB), np.full(G, tau))
    pole = pole_estimate(LambdaPolyArrays(tabs, lam))
    quad = spectral_quadrature(lam, SURROGATE_NODES) if lam.size >= surrogate_min_d else None
    z0 = None if quad is None else surrogate_roots(tabs, lam, pole=pole, quad=quad)
    out, rel = np.empty(G), np.zeros(G)
    chunk = max(1, chunk_entries // lam.size)
    for s in range(0, G, chunk):
        sl = slice(s, s + chunk)
        arr = LambdaPolyArrays({k: (v if k == "ops" else v[sl]) for k, v in tabs.items()}, lam)
        rho, _, _, found = solve_grid(arr, z0=None if z0 is None else z0[sl], pole=pole[sl], gap=gap, xtol=xtol)
        out[sl] = rho
        r = arr.rel_error(rho)
        weak = np.flatnonzero(found & ~np.isfinite(r))
        if weak.size:                        # see _first_order_bound
            r[weak] = _first_order_bound(method, model, fB[sl][weak], e[sl][weak], b[sl][weak], rho[weak])
        rel[sl] = np.where(found, np.where(np.isfinite(r), r, np.inf), np.where(arr.trivial, 0.0, np.inf))
    # Near beta = 1 the lambda-polynomial tables cancel (the bound says so: 1e-4 on the gd2026 panel at
    # B = 1, where the coefficient arrays in z keep 7 digits): those points are solved again that way,
    # also when no bound is asked for, so that searches over the grid rank points by values this good.
    redo = np.flatnonzero(rel > REDO_REL)
    if redo.size:
        o2, r2 = _secular_grid_generic(method, model, fB[redo], e[redo], b[redo], True)
        better = r2 < rel[redo]
        out[redo[better]], rel[redo[better]] = o2[better], r2[better]
    if not error_bounds:
        rel[:] = 0.0
    return out, rel


def _first_order_bound(method, model, fB, e, b, rho):
    """The previous solver's running bound (:meth:`SecularArrays.rel_error`: first order, with the
    computed slope) at points where :meth:`LambdaPolyArrays.rel_error` cannot linearise (a denominator
    p_i uncertain by more than a quarter: 1 - beta ~ 1e-2 with the root within 1e-9 of a pole; sgdm on
    the benchmark grid). Against 20 arb digits at such points it held with a margin of about 2000
    (tests/test_rho_grid.py checks it at sampled points)."""
    from ..operators import secular_magnitude_kernel
    lam = model.spectrum_array()
    tau = float(np.sum(lam))
    fB = np.broadcast_to(np.asarray(fB, dtype=float), e.shape)
    arr = SecularArrays(method, model.decoupled, lam, e, b, np.array(fB), tau)
    mags = secular_magnitude_kernel(method, model.decoupled)(lam[None, :], e[:, None], b[:, None], fB[:, None], tau)
    with np.errstate(all="ignore"):
        return arr.rel_error(rho, mags)


def _secular_grid_generic(method, model, fB, e: np.ndarray, b: np.ndarray, error_bounds: bool = True):
    """:func:`secular_grid` through :class:`SecularArrays` (coefficient arrays in z), in chunks of
    about 2^16 (point, eigenvalue) pairs (also the baseline of benchmarks/bench_rho_grid.py)."""
    from ..operators import secular_magnitude_kernel
    lam = model.spectrum_array()
    tau = float(np.sum(lam))
    fB = np.broadcast_to(np.asarray(fB, dtype=float), e.shape)
    out, rel = np.empty(e.size), np.zeros(e.size)
    chunk = max(1, (1 << 16) // lam.size)
    mk = secular_magnitude_kernel(method, model.decoupled)
    for s in range(0, e.size, chunk):
        sl = slice(s, s + chunk)
        arr = SecularArrays(method, model.decoupled, lam, e[sl], b[sl], np.array(fB[sl]), tau)
        rho, _, _, found = solve_grid(arr)
        out[sl] = rho
        if not error_bounds:
            continue
        mags = mk(lam[None, :], e[sl][:, None], b[sl][:, None], fB[sl][:, None], tau)
        with np.errstate(all="ignore"):
            r = arr.rel_error(rho, mags)
        # no root above rho(D): rho = rho(D), which the bracket does not resolve (unless u = v = 0)
        rel[sl] = np.where(found, np.where(np.isfinite(r), r, np.inf), 0.0 if arr.trivial else np.inf)
    return out, rel
