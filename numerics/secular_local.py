"""The secular root near a known point, and its implicit derivatives in (eta, beta): the tuner's local model.

For a decoupled model (MATH.md §5) rho(T) is the largest root z of F(z) = sum_i num_i(z) / den_i(z) = 1
above rho(D), where F is decreasing and convex. Given a nearby root (a warm start) this module

* polishes the root at new points by Newton on 1 - 1/F (exact for one dominant pole F ~ a/(z - p)) and
  *verifies* it: F(z) = 1 to rounding, F'(z) < 0 and z above every real root of every det(zI - D_i)
  (all Taylor coefficients positive there). Above rho(D) F is decreasing, so such a z is the unique
  root, i.e. rho(T); points that fail the check are recomputed by ``rates.rho_grid``;
* gives the gradient of rho from the implicit function theorem, rho_p = -F_p / F_z (p = eta, beta),
  O(d) per point, with F_p from the kernel of :func:`numerics.kernels.secular_tuning_kernel`
  (theory's expressions differentiated by SymPy, not re-typed).

It serves the search only: the tuner reports rho from ``rates.spectral_radius`` with its digits.
"""
from __future__ import annotations

import numpy as np

from . import rates
from .kernels import secular_tuning_kernel
from .operators import batch_factor_value

EPS = float(np.finfo(float).eps)


def _horner(coefs, z, monic: bool):
    """p(z), p'(z) for coefficient arrays (highest first); ``monic``: a leading 1 precedes them."""
    if monic:
        p, dp = np.ones_like(z), np.zeros_like(z)
    else:
        p, dp = coefs[0] + 0 * z, np.zeros_like(z)
        coefs = coefs[1:]
    for c in coefs:
        dp = dp * z + p
        p = p * z + c
    return p, dp


def _taylor_positive(coefs, z) -> np.ndarray:
    """True where every derivative of the monic z^q + coefs[0] z^(q-1) + ... is > 0 at z."""
    shape = np.broadcast(z, *coefs).shape
    a = [np.ones(shape)] + [c + np.zeros(shape) for c in coefs]
    q = len(a) - 1
    ok = np.ones(shape, dtype=bool)
    with np.errstate(all="ignore"):
        for k in range(q + 1):
            for j in range(1, q + 1 - k):
                a[j] = a[j - 1] * z + a[j]
            ok &= a[q - k] > 0
    return ok


class LocalSecular:
    """rho and its gradient in (x, w) = (ln eta, ln(1 - beta)) for one method and decoupled model, at the
    batch size ``batch`` or, where a call passes ``batches``, at one batch size per point.

    >>> import numpy as np
    >>> from momentum_verify.theory.sampling import Gaussian
    >>> ev = LocalSecular("sgd", Gaussian(np.ones(3)), 4)
    >>> x = np.log([4 / 8])                    # isotropic optimum eta = B / (B + d + 1), rho = 1/2
    >>> z = ev.rho(x, np.zeros(1))
    >>> round(float(z[0]), 12), abs(float(ev.gradient(x, np.zeros(1), z)[0][0, 0])) < 1e-12
    (0.5, True)
    """

    def __init__(self, method, model, batch, momentum: bool = True):
        from .operators import as_method
        self.method, self.model, self.batch = as_method(method), model, batch
        self.momentum = momentum
        self.lam = np.asarray(model.spectrum_array(), dtype=float)[None, :]
        self.fB = batch_factor_value(model, batch)
        self.tau = float(np.sum(self.lam))
        self.kernel = secular_tuning_kernel(self.method, model.decoupled)
        self.evaluations = 0
        self.fallbacks = 0

    def _params(self, x, w):
        eta = np.exp(np.asarray(x, dtype=float))
        beta = -np.expm1(np.asarray(w, dtype=float)) if self.momentum else np.zeros_like(eta)
        return eta, beta

    def _factors(self, batches):
        """f(B) per point (the constructor's batch where ``batches`` is None)."""
        if batches is None:
            return self.fB
        return np.array([batch_factor_value(self.model, B) for B in batches], dtype=float)[:, None]

    def coefficients(self, x, w, batches=None):
        eta, beta = self._params(x, w)
        return self.kernel(self.lam, eta[:, None], beta[:, None], self._factors(batches), self.tau)

    @staticmethod
    def F(C, z, derivatives: bool = False):
        """F(z), F'(z) (and F_eta, F_beta) for coefficients ``C`` of G points, z of shape (G,)."""
        zz = z[:, None]
        with np.errstate(all="ignore"):
            p, dp = _horner(C["den"], zz, True)
            n, dn = _horner(C["num"], zz, False)
            r = n / p
            F = np.sum(r, axis=-1)
            Fz = np.sum((dn - r * dp) / p, axis=-1)
            if not derivatives:
                return F, Fz
            out = [F, Fz]
            for tag in ("eta", "beta"):
                pp = _horner(C[f"den_{tag}"], zz, False)[0] if C[f"den_{tag}"] else 0.0
                nn = _horner(C[f"num_{tag}"], zz, False)[0]
                out.append(np.sum((nn - r * pp) / p, axis=-1))
        return tuple(out)

    def _verified(self, C, z, F, Fz):
        with np.errstate(all="ignore"):   # F = 1 to rounding: the root moves by at most ~64 eps z
            tol = np.maximum(1e-7, 64 * EPS * np.abs(z * Fz))   # (expanded coefficients round)
        ok = np.isfinite(z) & np.isfinite(F) & (np.abs(F - 1) <= tol) & (Fz < 0) & (z > 0)
        if ok.any():
            zz = z[:, None]
            ok[ok] = np.all(_taylor_positive([c[ok] for c in C["char"]], zz[ok]), axis=-1)
        return ok

    def rho(self, x, w, z0=None, C=None, iters: int = 30, fallback: bool = True) -> np.ndarray:
        """rho at the points (x, w) (arrays), by Newton on 1 - 1/F from ``z0`` (default: rho_grid).

        Points whose root fails the check get rho from ``rates.rho_grid`` (``fallback``) or inf."""
        x, w = np.broadcast_arrays(np.atleast_1d(np.asarray(x, dtype=float)),
                                   np.atleast_1d(np.asarray(w, dtype=float)))
        if z0 is None:
            self.evaluations += x.size
            return self._fallback(x, w)
        return self._solve(x, w, z0, C, iters, fallback, False)[0]

    def _solve(self, x, w, z0, C, iters, fallback, derivatives, batches=None):
        self.evaluations += x.size
        C = self.coefficients(x, w, batches) if C is None else C
        z = np.broadcast_to(np.asarray(z0, dtype=float), x.shape).copy()
        F, Fz = np.empty(x.shape), np.empty(x.shape)
        idx = np.arange(x.size)                       # the points still iterating (F only there)
        last = np.full(x.shape, np.inf)
        for it in range(iters + 1):
            Ci = C if idx.size == x.size else {k: [c[idx] for c in C[k]] for k in ("den", "num")}
            zi = z[idx]
            Fi, Fzi = self.F(Ci, zi)
            F[idx], Fz[idx] = Fi, Fzi
            with np.errstate(all="ignore"):
                step = Fi * (Fi - 1) / Fzi
                size = np.abs(step)
                # converged: F = 1 to rounding, or the step is at rounding level (F's own noise), or
                # stalled (no longer shrinking below a millionth of z: a wrong branch, checked below)
                done = (np.abs(Fi - 1) <= 8 * EPS * np.abs(zi * Fzi)) | (size <= 64 * EPS * np.abs(zi)) | \
                    ~np.isfinite(step) | ((size >= 0.5 * last[idx]) & (size <= 1e-6 * np.abs(zi)))
            keep = ~done
            if not keep.any() or it == iters:
                break
            idx, step, zi = idx[keep], step[keep], zi[keep]
            last[idx] = size[keep]
            z_new = zi - step
            z[idx] = np.where(z_new > 0, z_new, zi / 2)   # left every pole behind: halve toward zero instead
        vals = self.F(C, z, derivatives=True) if derivatives else (F, Fz)
        ok = self._verified(C, z, vals[0], vals[1])
        if not ok.all():
            fallback = np.broadcast_to(np.asarray(fallback, dtype=bool), x.shape)
            z[~ok & ~fallback] = np.inf
            bad = ~ok & fallback
            if not bad.any():
                return z, ok, C, vals
            bb = None if batches is None else batches[bad]
            zf = self._fallback(x[bad], w[bad], bb)      # the engine's root: polish it onto ours
            Cb = {k: [c[bad] for c in v] for k, v in C.items()}
            zb, okb, _, vb = self._solve(x[bad], w[bad], zf, Cb, iters, False, derivatives, bb)
            z[bad] = np.where(okb, zb, zf)
            ok[bad] = okb
            for v, v_bad in zip(vals, vb):
                v[bad] = v_bad
        return z, ok, C, vals

    def _fallback(self, x, w, batches=None):
        """rho by the rate engine (cold start, every safeguard)."""
        self.fallbacks += x.size
        eta, beta = self._params(x, w)
        with np.errstate(all="ignore"):
            if batches is None:
                r = rates.rho_grid(self.method, self.model, self.batch, eta, beta)
            else:
                r = rates.rho_batches(self.method, self.model, batches, eta, beta)
            r = np.asarray(r, dtype=float)
        return np.where(np.isfinite(r), r, np.inf)

    def gradient(self, x, w, z, C=None):
        """(g (G, 2), ok (G,)): d rho / d(x, w) at roots z of the points (x, w), by rho_p = -F_p / F_z.

        ``ok`` is False where z is not a verified secular root (rho = rho(D) there, or unstable)."""
        x, w = np.atleast_1d(np.asarray(x, dtype=float)), np.atleast_1d(np.asarray(w, dtype=float))
        z = np.atleast_1d(np.asarray(z, dtype=float))
        C = self.coefficients(x, w) if C is None else C
        F, Fz, Fe, Fb = self.F(C, z, derivatives=True)
        ok = self._verified(C, z, F, Fz)
        eta, beta = self._params(x, w)
        with np.errstate(all="ignore"):
            gx = -Fe / Fz * eta
            gw = Fb / Fz * (1 - beta) if self.momentum else np.zeros_like(gx)
        g = np.stack([gx, gw], axis=-1)
        ok &= np.all(np.isfinite(g), axis=-1)
        return g, ok

    def rho_gradient(self, x, w, z0, fallback: bool = True, batches=None):
        """(rho, g, ok) at the points (x, w): :meth:`rho` from the warm starts ``z0`` and the gradient of
        :meth:`gradient` at the verified roots (``ok``; elsewhere g is nan), one kernel evaluation.
        ``fallback``: one flag, or one per point; ``batches``: a batch size per point (default: the
        constructor's)."""
        x, w = np.broadcast_arrays(np.atleast_1d(np.asarray(x, dtype=float)),
                                   np.atleast_1d(np.asarray(w, dtype=float)))
        if batches is not None:
            batches = np.asarray(batches, dtype=object)
        z, ok, C, (F, Fz, Fe, Fb) = self._solve(x, w, z0, None, 30, fallback, True, batches)
        eta, beta = self._params(x, w)
        with np.errstate(all="ignore"):
            gx = -Fe / Fz * eta
            gw = Fb / Fz * (1 - beta) if self.momentum else np.zeros_like(gx)
        g = np.stack([gx, gw], axis=-1)
        ok = ok & np.all(np.isfinite(g), axis=-1)
        g[~ok] = np.nan
        return z, g, ok
