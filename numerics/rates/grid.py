"""The double-precision secular solver, vectorised over parameter points (the tuner's grid).

:class:`SecularArrays` holds the coefficients of phi = num/den and of det(zI - D_i) for G parameter
points x d eigenvalues, one contiguous (G, d) array per coefficient; :func:`solve_grid` finds the
largest root of F(z) = 1 above rho(D) at every point at once (MATH.md §5). The single-point double route
(:func:`.secular.secular_double`) is this solver at G = 1; the multiprecision and certified tiers run
the scalar algorithm of :mod:`.secular` over a context.
"""
from __future__ import annotations

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


def pole_estimate(arr: SecularArrays, iters: int = 80) -> np.ndarray:
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
        p, dp = horner_monic(coefs, z)
        with np.errstate(divide="ignore", invalid="ignore"):
            step = np.where(dp > 0, p / dp, 0.0)
        step = np.where(np.isfinite(step) & (step > 0), step, 0.0)
        z = z - step
        if np.all(step <= 4 * EPS * z):
            break
    return np.max(z, axis=-1)


def solve_grid(arr: SecularArrays, max_iter: int = 200):
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
    pole = pole_estimate(arr)
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


def secular_grid(method, model, fB: float, e: np.ndarray, b: np.ndarray, error_bounds: bool = True):
    """(rho, relative error bound) at the points (e[k], b[k]) of a decoupled model, in chunks of about
    2^16 (point, eigenvalue) pairs. The bound is the running error bound of
    :meth:`SecularArrays.rel_error` (with the rounding of the expanded coefficients, which cancel near
    beta = 1) where a root of F = 1 was found; inf where rho = rho(D) (the bracket does not resolve it), 0 for
    models without coupling; all 0 (not computed) when ``error_bounds`` is False."""
    from ..operators import secular_magnitude_kernel
    lam = model.spectrum_array()
    tau = float(np.sum(lam))
    out, rel = np.empty(e.size), np.zeros(e.size)
    chunk = max(1, (1 << 16) // lam.size)
    mk = secular_magnitude_kernel(method, model.decoupled)
    for s in range(0, e.size, chunk):
        sl = slice(s, s + chunk)
        arr = SecularArrays(method, model.decoupled, lam, e[sl], b[sl], np.full(e[sl].size, fB), tau)
        rho, _, _, found = solve_grid(arr)
        out[sl] = rho
        if not error_bounds:
            continue
        mags = mk(lam[None, :], e[sl][:, None], b[sl][:, None], fB, tau)
        with np.errstate(all="ignore"):
            r = arr.rel_error(rho, mags)
        # no root above rho(D): rho = rho(D), which the bracket does not resolve (unless u = v = 0)
        rel[sl] = np.where(found, np.where(np.isfinite(r), r, np.inf), 0.0 if arr.trivial else np.inf)
    return out, rel
