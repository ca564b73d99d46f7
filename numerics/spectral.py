"""Spectral radius rho(T) of the second-moment operator (MATH.md §4-5), the rate of E||e_k||^2.

Routes
------
* ``deterministic`` (batch = inf, or f_B = 0): T(S) = Mbar S Mbar^T, so rho = max_i rho(M_i)^2 with
  M_i = A + lambda_i b c^T, from the closed-form roots of the 2 x 2 (or s x s) block charpolys.
* ``secular`` (decoupled models: gaussian, coordinate with diagonal H): T = blockdiag(D_i) + u v^T and
  rho(T) = max(rho(D), largest root of F(z) = sum_i phi(z, lambda_i) = 1), O(d) per evaluation of F.
  The off-diagonal blocks of S decouple and cannot dominate: the Perron eigenvector of T is PSD and its
  diagonal blocks form an eigenvector of the reduced operator, so the reduced rho is the full rho.
* ``dense``: eigenvalues of T in the vech basis (size m(m+1)/2, m = s d; small d only).
* ``matrix-free``: finite sums, kaczmarz, coordinate at larger d. In H's eigenbasis T = K + N with
  K(S) = Mbar S Mbar^T (2 x 2 blocks per pair of eigen-directions) and N acting through
  Y = (c^T ⊗ I) S (c ⊗ I) only; z > rho(K) is an eigenvalue of T iff 1 is an eigenvalue of
  Y -> Psi(z) o C_B(Y) (Hadamard product; Psi_ij(z) = sum_k z^-(k+1) (c^T M_i^k b)(c^T M_j^k b), from
  theory's triple). A nonlinear power iteration on d x d matrices (one O(n d^2) application of C_B per
  step) finds it; Collatz-Wielandt bounds on T itself give the digits; ARPACK on T is the fallback.

Precision: ``digits=None`` works in double precision and states a conservative number of correct digits
(running error bounds that include the rounding of the expanded coefficients, eigenvalue condition
numbers, Collatz-Wielandt brackets); ill-conditioned points (near-defective blocks, a root squeezed
against rho(D)) are recomputed with mpmath. ``digits=N`` computes with mpmath at two working precisions
and keeps the result only when they agree to N + 2 digits. ``certify=True`` adds an interval from
:mod:`numerics.certify` (python-flint arb) that provably contains rho.

The secular solver (MATH.md §5): on (rho(D), inf) every term of F is a power series in 1/z with
non-negative coefficients, so F is decreasing and convex there. Whether a point lies above rho(D) is
decided by the Budan-Fourier test (every derivative of every det(zI - D_i) positive there, which by
Gauss-Lucas is equivalent), never by F's value. The search starts above everything (Fujiwara's bound,
F < 1) and walks down inside a bracket that only shrinks: candidates from the model F ~ b + a/(z - p)
with p the estimated rho(D), Newton on 1/F, Newton on F from a point with F >= 1 (monotone: it never
overshoots), bisection as the last resort.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import mpmath as mp
import numpy as np

from .operators import as_method, batch_factor_value, first_moment_charpoly_kernel, secular_grid_kernel
from ..theory.errors import InputError
from ..theory.sampling import SamplingModel

EPS = float(np.finfo(float).eps)
ROUTES = ("secular", "dense", "matrix-free", "deterministic")
DOUBLE_DIGITS_MIN = 8        # below this many trustworthy digits a double result is recomputed in mpmath
MAX_DIGITS = 1000


# --------------------------------------------------------------------------------------------------
# the result
# --------------------------------------------------------------------------------------------------
@dataclass
class RateResult:
    """A spectral radius with its guarantee.

    Attributes
    ----------
    rho : mpmath.mpf or float, the spectral radius of T.
    digits : number of correct significant digits of ``rho``.
    interval : (lo, hi) as mpmath mpf with lo <= rho <= hi proven by interval arithmetic, or None.
    route : "secular", "dense", "matrix-free" or "deterministic".
    precision : "double", "mpmath" or "arb".
    """

    rho: object
    digits: int
    interval: tuple | None = None
    route: str = "secular"
    precision: str = "double"
    notes: list = field(default_factory=list)

    @property
    def K(self):
        """K = -1/ln(rho): iterations per e-fold of E||e_k||^2. ``inf`` at rho = 1 (no decay), 0 at rho = 0,
        negative for rho > 1 (divergence: -K iterations per e-fold of growth)."""
        r = self.rho
        if r == 0:
            return 0.0 if isinstance(r, float) else mp.mpf(0)
        if r == 1:
            return math.inf if isinstance(r, float) else mp.inf
        if isinstance(r, float):
            return -1.0 / math.log(r)
        with mp.workdps(self.digits + 15):
            return -1 / mp.log(r)

    def K_digits(self) -> int:
        """Correct digits of K: relative error of K = rel. error of rho / |ln rho|."""
        r = float(self.rho)
        if r <= 0 or r == 1:
            return self.digits
        lost = max(0.0, -math.log10(abs(math.log(r))))
        return max(0, int(self.digits - math.ceil(lost)))

    def to_json(self) -> dict:
        """The JSON of ``momentum-verify rate --json`` (decimal strings to the stated digits)."""
        out = {"rho": format_digits(self.rho, self.digits), "K": format_digits(self.K, self.K_digits()),
               "digits": int(self.digits), "route": self.route, "precision": self.precision}
        if self.interval is not None:
            lo, hi = self.interval
            nd = max(self.digits + 5, 20)
            out["interval"] = [format_bound(lo, nd, "down"), format_bound(hi, nd, "up")]
        return out


def format_digits(x, digits: int) -> str:
    """``x`` rounded to ``digits`` significant digits (``inf`` and ``-inf`` spelled out)."""
    if isinstance(x, float) and math.isinf(x) or (not isinstance(x, float) and mp.isinf(x)):
        return "inf" if x > 0 else "-inf"
    digits = max(1, int(digits))
    with mp.workdps(digits + 10):
        out = mp.nstr(mp.mpf(x), digits, strip_zeros=False, min_fixed=-4, max_fixed=digits + 1)
    return out[:-1] if out.endswith(".") else out


def format_bound(x, digits: int, direction: str) -> str:
    """Decimal string of ``x`` with ``digits`` significant digits rounded outward ("down" or "up")."""
    with mp.workdps(digits + 20):
        x = mp.mpf(x)
        if x == 0:
            return "0"
        e = int(mp.floor(mp.log10(abs(x)))) - digits + 1
        q = x / mp.mpf(10) ** e
        q = mp.floor(q) if direction == "down" else mp.ceil(q)
        s = mp.nstr(q * mp.mpf(10) ** e, digits + 2, strip_zeros=True)
        return s


# --------------------------------------------------------------------------------------------------
# polynomial helpers (coefficients highest degree first, on the last axis)
# --------------------------------------------------------------------------------------------------
def _horner(c: np.ndarray, z):
    """p(z) and p'(z) for coefficient arrays ``c`` (..., q+1)."""
    p = c[..., 0] + 0 * z
    dp = np.zeros_like(p)
    for k in range(1, c.shape[-1]):
        dp = dp * z + p
        p = p * z + c[..., k]
    return p, dp


# --------------------------------------------------------------------------------------------------
# double precision secular solver, vectorised over parameter points
# --------------------------------------------------------------------------------------------------
def _horner_list(coefs, z):
    """p(z), p'(z) for coefficient arrays given as a list, highest degree first."""
    p = coefs[0] + 0 * z
    dp = np.zeros_like(p)
    for c in coefs[1:]:
        dp = dp * z + p
        p = p * z + c
    return p, dp


def _horner_monic(coefs, z):
    """p(z), p'(z) for the monic polynomial z^q + coefs[0] z^(q-1) + ... (coefficient arrays)."""
    if not coefs:
        return np.ones_like(z), np.zeros_like(z)
    p = z + coefs[0]
    if len(coefs) == 1:
        return p, np.ones_like(p)
    dp = z + p
    p = p * z + coefs[1]
    for c in coefs[2:]:
        dp = dp * z + p
        p = p * z + c
    return p, dp


def _taylor_positive_lists(coefs, z):
    """True where every derivative of z^q + coefs[0] z^(q-1) + ... is > 0 at z (Taylor shift)."""
    a = [np.ones_like(z)] + [c + 0 * z for c in coefs]
    q = len(a) - 1
    ok = np.ones(np.broadcast(z, *coefs).shape, dtype=bool) if coefs else np.ones_like(z, dtype=bool)
    for k in range(q + 1):           # after pass k, a[q-k] = p^(k)(z) / k!
        for j in range(1, q + 1 - k):
            a[j] = a[j - 1] * z + a[j]
        ok &= a[q - k] > 0
    return ok


class _SecularArrays:
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
        p, dp = _horner_monic(self._take(self.den, idx), zz)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            if self.num is None:
                hz, dhz = _horner(self.h[idx], z)
                r = self.w[idx] / p
                S = np.sum(r, axis=-1)
                r *= dp
                r /= p
                dS = np.sum(r, axis=-1)
                return hz * S, dhz * S - hz * dS
            n, dn = _horner_list(self._take(self.num, idx), zz)
            r = n / p
            return np.sum(r, axis=-1), np.sum((dn - r * dp) / p, axis=-1)

    def above(self, z, idx=slice(None)):
        """True where z > rho(D) (Budan-Fourier on every det(zI - D_i))."""
        idx = self._norm_idx(idx)
        coefs = self._take(self.char, idx)
        zz = z[:, None]
        if len(coefs) == 3:          # cubic: p, p', half of p'' = 3 z + c_0 (a sixth of p''' = 1)
            p, dp = _horner_monic(coefs, zz)
            return np.all((p > 0) & (dp > 0) & (3 * zz + coefs[0] > 0), axis=-1)
        return np.all(_taylor_positive_lists(coefs, zz), axis=-1)

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
        p, _ = _horner_monic(self.den, zz)
        pabs, _ = _horner_monic([np.abs(c) for c in self.den], az)
        if mags is not None:             # |delta den_i(z)| <= eps sum_k mag_k |z|^k (times a few)
            pabs = pabs + _horner_list([np.zeros_like(mags["den"][0])] + mags["den"], az)[0] * 4 * (q + 2)
        F, dF = self.F(z)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            if self.num is None:
                hz, _ = _horner(self.h, z)
                terms = np.abs(hz[:, None] * self.w / p)
                nrel = 8 * EPS * self.h.shape[-1]
                if mags is not None:
                    nrel = nrel + 8 * EPS * mags["num"][0] / np.maximum(np.abs(self.w), 1e-300)
            else:
                n, _ = _horner_list(self.num, zz)
                nabs, _ = _horner_list([np.abs(c) for c in self.num], az)
                if mags is not None:
                    nabs = nabs + _horner_list(mags["num"], az)[0] * 8
                terms = np.abs(n / p)
                nrel = nabs / np.maximum(np.abs(n), 1e-300) * EPS
            err = 4 * (q + 3) * np.sum(terms * (EPS * pabs / np.abs(p) + nrel), axis=-1)
            return err / np.abs(z * dF)


def _pole_estimate(arr: _SecularArrays, iters: int = 80) -> np.ndarray:
    """Largest real root of det(zI - D_i) at the extreme eigenvalues (where rho(D) usually sits), by
    Newton from the right (monotone: beyond the largest root every derivative is positive)."""
    cols = [0, arr.d - 1] if arr.d > 1 else [0]
    coefs = [np.stack([c[:, j] for j in cols], axis=-1) for c in arr.char]
    q = len(coefs)
    if q == 0:
        return np.zeros(arr.G)
    z = np.zeros(coefs[0].shape)
    for k, c in enumerate(coefs, start=1):
        z = np.maximum(z, (np.abs(c) / (2 if k == q else 1)) ** (1.0 / k))
    z = 2 * z + 1e-300
    for _ in range(iters):
        p, dp = _horner_monic(coefs, z)
        with np.errstate(divide="ignore", invalid="ignore"):
            step = np.where(dp > 0, p / dp, 0.0)
        step = np.where(np.isfinite(step) & (step > 0), step, 0.0)
        z = z - step
        if np.all(step <= 4 * EPS * z):
            break
    return np.max(z, axis=-1)


def _solve_secular(arr: _SecularArrays, max_iter: int = 200):
    """Largest root of F(z) = 1 above rho(D), or rho(D) when there is none.

    Bracket that only shrinks: ``hi`` above rho(D) with F < 1, ``left`` above rho(D) with F >= 1,
    ``below`` at or below rho(D) (failed Budan-Fourier test). Candidates, from the last point: the
    root of the model F ~ b + a/(z - p) with p the estimated rho(D) (exact for one dominant pole), else
    Newton on G = 1/F; when those leave the bracket, Newton on F from ``left`` (never overshoots: F is
    convex decreasing above rho(D)), else bisection. Returns (rho, lo, hi, found), arrays of shape (G,);
    in exact arithmetic lo <= rho(T) <= hi; ``found`` is False where rho = rho(D).
    """
    G = arr.G
    hi = arr.start()
    Fh, dFh = arr.F(hi)
    for _ in range(2000):                    # F < 1 at hi, doubling as needed (F -> 0 at infinity)
        bad = Fh >= 1
        if not bad.any():
            break
        hi = np.where(bad, 2 * hi, hi)
        Fh, dFh = arr.F(hi)
    pole = _pole_estimate(arr)
    pole = np.where(pole < hi, pole, np.nan)
    ok_pole = np.isfinite(pole)
    below = np.zeros(G)
    known_above = hi.copy()                  # every z >= known_above is above rho(D)
    if ok_pole.any():                        # the estimate is a lower bound of rho(D) iff it fails the test
        i = np.flatnonzero(ok_pole)
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
    left = np.full(G, np.nan)
    Fl, dFl = np.full(G, np.nan), np.full(G, np.nan)
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
        inside = np.isfinite(c) & (c > floor) & (c < h)
        # converged: the step from the last point is below rounding with F there within rounding of 1
        # (a tiny step next to a pole of F is no proof), or the bracket is below rounding
        at_root = (np.abs(F - 1) <= 1e-9) & (np.abs(c - z) <= 2 * EPS * z)
        conv = at_root | (h - floor <= 4 * EPS * h)
        rooted[idx[at_root]] = True
        fallback = np.where(has_left & np.isfinite(newton_F) & (newton_F > lft) & (newton_F < h)
                            & (newton_F - lft > 2 * EPS * lft), newton_F, 0.5 * (floor + h))
        final = np.clip(np.where(np.isfinite(c), c, z), floor, h)
        final = np.where(~has_left & (h - floor <= 4 * EPS * h), h, final)
        c = np.where(inside & ((c - z) != 0), c, fallback)
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


def _grid_inputs(lrs, momenta):
    try:
        e, b = np.broadcast_arrays(np.asarray(lrs, dtype=float), np.asarray(momenta, dtype=float))
    except ValueError as exc:
        raise InputError("lr", f"lrs and momenta do not broadcast: {exc}") from None
    if not np.all(e >= 0):                    # NaN or negative (inf is allowed: rho = inf there)
        raise InputError("lr", "every step size must be >= 0")
    if not np.all((b >= 0) & (b <= 1)):
        raise InputError("momentum", "every momentum must lie in [0, 1]")
    return e.shape, e.ravel(), b.ravel()


def rho_grid(method, model: SamplingModel, batch, lrs, momenta) -> np.ndarray:
    """Double-precision rho over broadcast arrays of step sizes and momenta (shape of the broadcast).

    Decoupled models use the vectorised secular solver; batch = inf the closed-form deterministic rate;
    other models loop over :func:`spectral_radius`. Diverging points get rho > 1.
    """
    method = as_method(method)
    batch = model.check_batch(batch)
    shape, e, b = _grid_inputs(lrs, momenta)
    if not np.all(np.isfinite(e)):           # infinite steps diverge
        out = np.full(e.size, np.inf)
        fin = np.isfinite(e)
        if fin.any():
            out[fin] = rho_grid(method, model, batch, e[fin], b[fin])
        return out.reshape(shape)
    fB = batch_factor_value(model, batch)
    if fB == 0.0:
        lam = model.spectrum_array()
        return _deterministic_double(method, lam, e, b)[0].reshape(shape)
    if model.decoupled is None:              # lr = 0: nothing moves (rho = 1); momentum 1: not convergent
        out = [1.0 if ei == 0 else math.inf if bi >= 1 else float(spectral_radius(method, model, batch, ei, bi).rho)
               for ei, bi in zip(e, b)]
        return np.array(out).reshape(shape)
    lam = model.spectrum_array()
    tau = float(np.sum(lam))
    out = np.empty(e.size)
    chunk = max(1, (1 << 16) // lam.size)
    for s in range(0, e.size, chunk):
        sl = slice(s, s + chunk)
        arr = _SecularArrays(method, model.decoupled, lam, e[sl], b[sl], np.full(e[sl].size, fB), tau)
        out[sl] = _solve_secular(arr)[0]
    return out.reshape(shape)


# --------------------------------------------------------------------------------------------------
# deterministic (B = inf): rho = max_i rho(A + lambda_i b c^T)^2
# --------------------------------------------------------------------------------------------------
def _deterministic_double(method, lam, eta, beta):
    """(rho (G,), relative error bound (G,)) from the closed-form roots of each block charpoly.

    For 2 x 2 blocks z^2 - t z + q: |mu|^2 = q when t^2 < 4 q, else ((|t| + sqrt(t^2 - 4q)) / 2)^2; a
    discriminant within rounding of 0 (critical damping, a Jordan block) costs half the digits, which
    the error bound reports.
    """
    c = first_moment_charpoly_kernel(method)(lam[None, :], eta[:, None], beta[:, None])
    c = np.broadcast_to(c, (eta.size, lam.size, c.shape[-1]))
    if c.shape[-1] == 3:
        t, q = -c[..., 1], c[..., 2]
        disc = t * t - 4 * q
        scale = t * t + 4 * np.abs(q)
        sq = np.sqrt(np.maximum(disc, 0))
        r = np.where(disc < 0, np.abs(q), ((np.abs(t) + sq) / 2) ** 2)
        # perturbation of disc by ~4 eps scale moves the root by ~ 2 eps scale / sqrt(|disc| + 4 eps scale)
        err = (2 * np.abs(t) + sq) * 8 * EPS * scale / np.sqrt(np.abs(disc) + 8 * EPS * scale) + 8 * EPS * r
        i = np.argmax(r, axis=-1)
        rho = np.take_along_axis(r, i[:, None], -1)[:, 0]
        # another block within its error of the max also counts
        e_max = np.max(np.where(r + err >= rho[:, None], err, 0), axis=-1)
        with np.errstate(divide="ignore", invalid="ignore"):
            rel = np.where(rho > 0, e_max / rho, 0.0)
        return rho, rel
    if c.shape[-1] == 2:
        r = c[..., 1] ** 2
        return np.max(r, axis=-1), np.full(eta.size, 8 * EPS)
    # general s: companion eigenvalues, condition unknown -> modest guarantee
    comp = np.zeros(c.shape[:-1] + (c.shape[-1] - 1,) * 2)
    comp[..., 0, :] = -c[..., 1:]
    for k in range(1, comp.shape[-1]):
        comp[..., k, k - 1] = 1
    r = np.max(np.abs(np.linalg.eigvals(comp)), axis=-1) ** 2
    return np.max(r, axis=-1), np.full(eta.size, 1e-8)


# --------------------------------------------------------------------------------------------------
# the public entry point
# --------------------------------------------------------------------------------------------------
def _digits_from_rel(rel) -> int:
    if not np.isfinite(rel) or rel >= 1:
        return 0
    if rel <= 0:
        return 15
    return int(max(0, min(15, math.floor(-math.log10(rel)) - 1)))


def _check_params(lr, momentum):
    try:
        e, b = float(lr), float(momentum)
    except (TypeError, ValueError):
        raise InputError("lr", f"must be a number, got {lr!r}") from None
    if not (e > 0 and math.isfinite(e)):
        raise InputError("lr", f"must be > 0, got {lr!r}")
    if not (0 <= b < 1):
        raise InputError("momentum", f"must lie in [0, 1), got {momentum!r}")
    return e, b


def pick_route(model: SamplingModel, batch, route=None) -> str:
    """The route used for a model and batch (``route`` forces one where it applies)."""
    fB = batch_factor_value(model, batch)
    if route is not None:
        if route not in ROUTES:
            raise InputError("route", f"unknown route {route!r} (choose from {', '.join(ROUTES)})")
        if route == "secular" and model.decoupled is None:
            raise InputError("route", f"the secular route needs a decoupled model, not {model.name}")
        if route == "deterministic" and fB != 0.0:
            raise InputError("route", "the deterministic route needs batch = inf (or B = n without replacement)")
        return route
    if fB == 0.0:
        return "deterministic"
    if model.decoupled is not None:
        return "secular"
    m = 2 * model.d
    return "dense" if m * (m + 1) // 2 <= DENSE_MAX else "matrix-free"


DENSE_MAX = 210          # vech size of T up to which the dense route is the default (s d <= 20)


def spectral_radius(method, model: SamplingModel, batch, lr, momentum, *, digits=None, certify=False,
                    route=None) -> RateResult:
    """rho(T) for a method, sampling model and batch size at step ``lr`` and momentum ``momentum``.

    Parameters
    ----------
    method : a name or :class:`theory.methods.Method`.
    model : a :mod:`theory.sampling` model.
    batch : int >= 1 or ``math.inf`` (deterministic).
    lr, momentum : numbers (float, int, Fraction, SymPy numbers such as ``sqrt(2)`` or mpmath mpf);
        exact types are kept exact in the multiprecision and certified routes.
    digits : None for double precision (escalating to mpmath when ill-conditioned), or the number of
        correct significant digits wanted.
    certify : also return an interval proven (python-flint arb) to contain rho.
    route : force "secular", "dense", "matrix-free" or "deterministic".
    """
    method = as_method(method)
    batch = model.check_batch(batch)
    _check_params(lr, momentum)
    if digits is not None:
        if isinstance(digits, bool) or not isinstance(digits, (int, np.integer)) or not 1 <= digits <= MAX_DIGITS:
            raise InputError("digits", f"must be an integer in [1, {MAX_DIGITS}], got {digits!r}")
        digits = int(digits)
    route = pick_route(model, batch, route)
    if digits is None:
        res = _double(method, model, batch, lr, momentum, route)
        if res.digits < DOUBLE_DIGITS_MIN and route in ("secular", "deterministic") or \
                (res.digits < DOUBLE_DIGITS_MIN and route == "dense" and 2 * model.d <= MP_DENSE_MAX_M):
            res = _multiprecision(method, model, batch, lr, momentum, route, 15)
            res.notes.append("double precision was ill-conditioned here; recomputed with mpmath")
    elif digits <= 12 and (route == "matrix-free" or (route == "dense" and 2 * model.d > 12)):
        res = _double(method, model, batch, lr, momentum, route)
        if res.digits < digits:
            raise InputError("digits", f"the {route} route reached only {res.digits} digits here")
    else:
        res = _multiprecision(method, model, batch, lr, momentum, route, digits)
    if certify:
        from .certify import certify_rate
        res.interval = certify_rate(method, model, batch, lr, momentum, res, route)
        if res.precision == "double" and digits is None:
            res.precision = "double"
    return res


MP_DENSE_MAX_M = 8


def _double(method, model, batch, lr, momentum, route) -> RateResult:
    e, b = _check_params(lr, momentum)
    if route == "deterministic":
        lam = model.spectrum_array()
        rho, rel = _deterministic_double(method, lam, np.array([e]), np.array([b]))
        return RateResult(float(rho[0]), _digits_from_rel(rel[0]), None, route, "double")
    if route == "secular":
        return _secular_double(method, model, batch, e, b)
    if route == "dense":
        return _dense_double(method, model, batch, e, b)
    return _matrix_free_double(method, model, batch, e, b)


def _secular_double(method, model, batch, e, b) -> RateResult:
    lam = model.spectrum_array()
    fB = batch_factor_value(model, batch)
    arr = _SecularArrays(method, model.decoupled, lam, np.array([e]), np.array([b]), np.array([fB]),
                         float(np.sum(lam)))
    rho, lo, hi, found = _solve_secular(arr)
    r = float(rho[0])
    if found[0]:
        from .operators import secular_magnitude_kernel
        mags = secular_magnitude_kernel(method, model.decoupled)(lam[None, :], e, b, fB, float(np.sum(lam)))
        rel = float(arr.rel_error(rho, mags)[0])
        return RateResult(r, _digits_from_rel(rel), None, "secular", "double")
    # rho = rho(D) (e.g. coordinate descent, where u = v = 0): the top block's eigenvalue
    r, rel = _block_radius_double(method, model, batch, e, b)
    return RateResult(r, _digits_from_rel(rel), None, "secular", "double")


def _block_eigs(method, model, batch, e, b):
    from .operators import DecoupledProblem
    return np.linalg.eigvals(DecoupledProblem(method, model, batch, e, b).D)


def _top_blocks(method, model, batch, e, b, rel: float = 1e-6) -> list[int]:
    """Indices i whose block radius rho(D_i) is within ``rel`` (relative) of rho(D)."""
    r = np.max(np.abs(_block_eigs(method, model, batch, e, b)), axis=-1)
    return [int(i) for i in np.flatnonzero(r >= r.max() * (1 - rel) - 1e-300)]


def _block_radius_double(method, model, batch, e, b):
    """rho(D) = max_i rho(D_i) and a relative error bound from the top block's eigenvalue condition
    number ||x|| ||y|| / |y^H x| (left and right eigenvectors: the blocks are far from normal near
    critical damping), eps^(1/k) when the block is (nearly) defective."""
    import scipy.linalg as sla
    from .operators import DecoupledProblem
    D = DecoupledProblem(method, model, batch, e, b).D
    r = np.max(np.abs(np.linalg.eigvals(D)), axis=-1)
    i = int(np.argmax(r))
    rho = float(r[i])
    if rho == 0:
        return 0.0, 0.0
    rel = 0.0
    for j in np.flatnonzero(r >= rho * (1 - 1e-6)):      # every block that may attain the max
        w, vl, vr = sla.eig(D[j], left=True, right=True)
        k = int(np.argmax(np.abs(w)))
        x, y = vr[:, k], vl[:, k]
        cond = np.linalg.norm(x) * np.linalg.norm(y) / max(abs(np.vdot(y, x)), 1e-300)
        kk = D.shape[-1]
        bound = 40 * EPS * np.linalg.norm(D[j]) * cond / rho
        if not np.isfinite(bound) or bound > EPS ** (1 / kk):
            bound = max(bound if np.isfinite(bound) else 0.0, 10 * EPS ** (1 / kk))
        rel = max(rel, bound)
    return rho, rel


def _dense_double(method, model, batch, e, b) -> RateResult:
    """Eigenvalues of T in the vech basis; the error bound uses the top eigenvalue's condition number
    ||x|| ||y|| / |y^H x| (left and right eigenvectors)."""
    import scipy.linalg as sla
    from .operators import SecondMomentOperator
    T = SecondMomentOperator(method, model, batch, e, b).vech_matrix()
    w, vl, vr = sla.eig(T, left=True, right=True)
    k = int(np.argmax(np.abs(w)))
    rho = float(abs(w[k]))
    x, y = vr[:, k], vl[:, k]
    cond = np.linalg.norm(x) * np.linalg.norm(y) / max(abs(np.vdot(y, x)), 1e-300)
    rel = 10 * T.shape[0] * EPS * np.linalg.norm(T, 1) * cond / max(rho, 1e-300)
    if cond > 1e6:      # near-defective: perturbation theory of a Jordan block, eps^(1/2)
        rel = max(rel, 10 * math.sqrt(EPS * np.linalg.norm(T, 1) / max(rho, 1e-300)))
    return RateResult(rho, _digits_from_rel(rel), None, "dense", "double")


def _sym_packing(m: int):
    """Index arrays for an orthonormal packing of symmetric m x m matrices (off-diagonals times sqrt 2)."""
    iu = np.triu_indices(m)
    scale = np.where(iu[0] == iu[1], 1.0, math.sqrt(2.0))
    return iu, scale


def collatz_wielandt(op, X: np.ndarray):
    """(lo, hi) with lo <= rho(T) <= hi for X > 0 (MATH.md §4, up to rounding): the extreme eigenvalues
    of X^{-1/2} T(X) X^{-1/2}, i.e. the best c', c with c' X <= T(X) <= c X."""
    Lc = np.linalg.cholesky(X)
    TX = op.apply(X)
    TX = (TX + TX.T) / 2
    Z = np.linalg.solve(Lc, np.linalg.solve(Lc, TX).T)
    ev = np.linalg.eigvalsh((Z + Z.T) / 2)
    return float(ev[0]), float(ev[-1])


def _perron_matrix_free(op, tol: float = 1e-14):
    """Top eigenpair of T by ARPACK on packed symmetric matrices; returns (rho, P) with P symmetric."""
    from scipy.sparse.linalg import LinearOperator, eigs
    m = op.s * op.d
    iu, scale = _sym_packing(m)
    N = iu[0].size

    def unpack(v):
        S = np.zeros((m, m))
        S[iu] = v / scale
        return S + np.triu(S, 1).T

    def mv(v):
        return op.apply(unpack(np.real(v)))[iu] * scale

    v0 = np.eye(m)[iu] * scale
    if N <= 60:          # too small for ARPACK: the packed matrix, column by column
        w, V = np.linalg.eig(np.column_stack([mv(e) for e in np.eye(N)]))
    else:
        L = LinearOperator((N, N), matvec=mv, dtype=float)
        w, V = eigs(L, k=4, which="LM", v0=v0, tol=tol, ncv=min(N - 1, 24), maxiter=5000)
    mag = np.abs(w)
    cand = np.flatnonzero(mag >= mag.max() * (1 - 1e-8))
    k = int(cand[np.argmax(np.real(w[cand]))])
    P = unpack(np.real(V[:, k]))
    if np.trace(P) < 0:
        P = -P
    return float(abs(w[k])), P


class _ResolventReduction:
    """T = K + N in H's eigenbasis (MATH.md §4): K(S) = Mbar S Mbar^T splits into 2 x 2 blocks per pair of
    eigen-directions, N(S) = (b b^T) ⊗ C_B(Y) acts through Y = (c^T ⊗ I) S (c ⊗ I) only. For z > rho(K),
    z is an eigenvalue of T iff 1 is an eigenvalue of Phi_z(Y) = Psi(z) o C~(Y) (Hadamard product,
    Psi_ij = psi(z, lambda_i, lambda_j) from theory's triple, C~ the covariance map in the eigenbasis);
    Phi_z preserves the PSD cone (Psi(z) = sum_k z^(-k-1) h_k h_k^T is PSD: Schur product theorem) and
    decreases with z. So rho(T) = the z where the Perron root of Phi_z is 1 (or rho(K)): found by a
    nonlinear power iteration on d x d matrices, each step one application of C_B (O(n d^2)).
    """

    def __init__(self, method, model, batch, e, b):
        from .operators import SecondMomentOperator, pair_response_kernel
        self.op = SecondMomentOperator(method, model, batch, e, b)
        H = (self.op.H + self.op.H.T) / 2
        self.lam, self.Q = np.linalg.eigh(H)
        self.e, self.b = e, b
        self.psi = pair_response_kernel(as_method(method))
        self.rho_K = float(_deterministic_double(as_method(method), self.lam, np.array([e]), np.array([b]))[0][0])

    def Psi(self, z):
        with np.errstate(all="ignore"):
            return self.psi(z, self.lam[:, None], self.lam[None, :], self.e, self.b)

    def C(self, Yt):
        Q = self.Q
        return Q.T @ self.op.covariance(Q @ Yt @ Q.T) @ Q

    def ratio(self, z, Y, W):
        """<Psi(z), Y o C~(Y)> / <Y, Y>: 1 at the fixed point; decreasing in z above rho(K)."""
        with np.errstate(all="ignore"):
            return float(np.sum(self.Psi(z) * W) / np.sum(Y * Y))

    def solve_z(self, Y, W, z_guess=None):
        """The z > rho(K) with ratio = 1 (rho(K) if ratio <= 1 just above it), bracketing from above."""
        from scipy.optimize import brentq
        rk = self.rho_K
        hi = max(2 * rk, 1e-3) if z_guess is None else max(z_guess * (1 + 1e-3), rk * (1 + 1e-9) + 1e-300)
        for _ in range(3000):
            r = self.ratio(hi, Y, W)
            if np.isfinite(r) and r < 1 and np.all(np.diag(self.Psi(hi)) >= 0):
                break
            hi = rk + 2 * (hi - rk) + 1e-300
        lo = None
        gap = hi - rk
        for _ in range(200):                 # walk down toward rho(K): the first point with ratio > 1
            gap /= 2
            z = rk + gap
            r = self.ratio(z, Y, W)
            if not (np.isfinite(r) and np.all(np.diag(self.Psi(z)) >= 0)):
                break
            if r > 1:
                lo = z
                break
            hi = z
            if gap <= 4 * EPS * rk:
                break
        if lo is None:
            return rk
        return brentq(lambda t: self.ratio(t, Y, W) - 1, lo, hi, xtol=1e-300, rtol=4 * EPS, maxiter=200)

    def iterate(self, tol: float = 1e-14, max_iter: int = 2000):
        d = self.lam.size
        Y = np.eye(d) / np.sqrt(d)
        CY = self.C(Y)
        z = None
        for it in range(max_iter):
            z_new = self.solve_z(Y, Y * CY, z)
            Ynew = self.Psi(z_new) * CY if z_new > self.rho_K else Y
            Ynew = (Ynew + Ynew.T) / 2
            Ynew /= np.linalg.norm(Ynew)
            done = z is not None and abs(z_new - z) <= tol * z_new and np.linalg.norm(Ynew - Y) <= 1e-10
            Y, z = Ynew, z_new
            CY = self.C(Y)
            if done:
                break
        self.iterations = it + 1
        return z, Y

    def eigenmatrix(self, z, Y):
        """X = (z - K)^{-1} N(Y) in the original basis: the Perron eigenvector of T (PSD)."""
        d, s = self.lam.size, self.op.s
        A, bv, cv = self.op.A, self.op.b, self.op.c
        M = A[None] + self.lam[:, None, None] * np.outer(bv, cv)[None]
        Kr = np.einsum("iab,jcd->ijacbd", M, M).reshape(d, d, s * s, s * s)
        rhs = np.broadcast_to(np.outer(bv, bv).ravel(), (d, d, s * s))
        G = np.linalg.solve(z * np.eye(s * s) - Kr, rhs[..., None])[..., 0].reshape(d, d, s, s)
        Xt = self.C(Y)[:, :, None, None] * G                  # (i, j, a, b)
        X = np.empty((s, d, s, d))
        for a in range(s):
            for c in range(s):
                X[a, :, c, :] = self.Q @ Xt[:, :, a, c] @ self.Q.T
        X = X.reshape(s * d, s * d)
        return (X + X.T) / 2


def _matrix_free_double(method, model, batch, e, b) -> RateResult:
    """The resolvent reduction (never forms T; O(n d^2) per step), checked by Collatz-Wielandt bounds
    on T itself with the assembled Perron matrix; ARPACK on T as a fallback."""
    if batch_factor_value(model, batch) == 0.0:        # no noise: the deterministic rate, exactly
        return _double(method, model, batch, e, b, "deterministic")
    red = _ResolventReduction(method, model, batch, e, b)
    z, Y = red.iterate()
    X = red.eigenmatrix(z, Y) if z > red.rho_K else None
    best = (0.0, math.inf)
    if X is not None and np.all(np.isfinite(X)):
        m = X.shape[0]
        X = X / np.trace(X)
        for ridge in (0.0, 1e-12, 1e-9):
            try:
                lo, hi = collatz_wielandt(red.op, X + ridge * np.eye(m) / m)
            except np.linalg.LinAlgError:
                continue
            if hi - lo < best[1] - best[0]:
                best = (lo, hi)
            if lo <= z <= hi:
                break
    lo, hi = best
    if not (math.isfinite(hi) and lo <= z * (1 + 1e-9) and z <= hi * (1 + 1e-9)):
        return _arpack_double(method, model, batch, e, b)
    rel = (hi - lo) / max(z, 1e-300) + 10 * EPS
    return RateResult(float(z), _digits_from_rel(rel), None, "matrix-free", "double")


def _arpack_double(method, model, batch, e, b) -> RateResult:
    """ARPACK for the Perron pair of T, then Collatz-Wielandt bounds with X = P + (small) I."""
    from .operators import SecondMomentOperator
    op = SecondMomentOperator(method, model, batch, e, b)
    rho, P = _perron_matrix_free(op)
    m = P.shape[0]
    X = P / np.trace(P)
    best = (0.0, math.inf)
    for ridge in (1e-13, 1e-11, 1e-9, 1e-7, 1e-5):
        try:
            lo, hi = collatz_wielandt(op, X + ridge * np.eye(m) / m)
        except np.linalg.LinAlgError:
            continue
        if hi - lo < best[1] - best[0]:
            best = (lo, hi)
        if hi - lo <= 1e-12 * rho:
            break
    lo, hi = best
    if not (lo <= rho * (1 + 1e-12) and rho <= hi * (1 + 1e-12)):
        rho = 0.5 * (lo + hi)
    rel = (hi - lo) / max(rho, 1e-300) + 10 * EPS if math.isfinite(hi) else 1.0
    return RateResult(rho, _digits_from_rel(rel), None, "matrix-free", "double")


def _multiprecision(method, model, batch, lr, momentum, route, digits) -> RateResult:
    from . import precision
    return precision.spectral_radius_mp(method, model, batch, lr, momentum, route, digits)
