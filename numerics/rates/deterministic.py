"""The deterministic route (B = inf, or f_B = 0): T(S) = Mbar S Mbar^T, so rho = max_i rho(M_i)^2 with
M_i = A + lambda_i b c^T, from the roots of the s x s block charpolys (closed form for s = 2).
"""
from __future__ import annotations

import mpmath as mp
import numpy as np

from .exact import ObjectSecondMomentOperator, spectrum_exact, to_mpf
from .result import EPS, RateResult, digits_from_rel
from ..operators import first_moment_charpoly_kernel


def deterministic_double(method, lam, eta, beta):
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
        # scale = 0 (t = q = 0, e.g. lr = 0 with beta = 0): nothing to perturb, err = 0 (no 0/0); where
        # 8 eps scale underflows, den >= sqrt(8 eps scale) still gives err <= (2|t| + sq) sqrt(8 eps scale)
        den = np.sqrt(np.abs(disc) + 8 * EPS * scale)
        safe = np.where(den > 0, den, 1.0)
        err = np.where(den > 0, (2 * np.abs(t) + sq) * (8 * EPS * scale) / safe,
                       (2 * np.abs(t) + sq) * np.sqrt(8 * EPS) * np.sqrt(scale))
        err = err + 8 * EPS * r
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


def deterministic_mp(method, model, lr, momentum):
    """max_i rho(A + lambda_i b c^T)^2 from the closed-form roots of the block charpolys."""
    if model.decoupled is not None:
        lam = [to_mpf(v) for v in spectrum_exact(model)]
    else:
        Hs = ObjectSecondMomentOperator(method, model, 1, lr, momentum, to_mpf).H
        lam = list(mp.eigsy(mp.matrix(Hs.tolist()), eigvals_only=True))
    k = first_moment_charpoly_kernel(method, "mpmath")
    e, b = to_mpf(lr), to_mpf(momentum)
    best = mp.mpf(0)
    for l in lam:
        c = [mp.mpf(x) for x in k(l, e, b)]
        if len(c) == 3:
            t, q = -c[1], c[2]
            disc = t * t - 4 * q
            r = abs(q) if disc < 0 else ((abs(t) + mp.sqrt(disc)) / 2) ** 2
        else:
            r = max(abs(x) for x in mp.polyroots(c, maxsteps=400, extraprec=4 * mp.mp.prec)) ** 2
        best = max(best, r)
    return best


def deterministic_result(method, model, e: float, b: float) -> RateResult:
    """The double-precision deterministic rate at one point, with its digits."""
    rho, rel = deterministic_double(method, model.spectrum_array(), np.array([e]), np.array([b]))
    return RateResult(float(rho[0]), digits_from_rel(rel[0]), None, "deterministic", "double")
