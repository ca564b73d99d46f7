"""The dense route: eigenvalues of T in the vech basis (size m(m+1)/2, m = s d; small d only), in double
precision with an eigenvalue-condition error bound, or in mpmath by shifted inverse iteration.
"""
from __future__ import annotations

import math

import mpmath as mp
import numpy as np

from .exact import ObjectSecondMomentOperator, to_mpf
from .result import EPS, RateResult, digits_from_rel
from ..operators import SecondMomentOperator


def dense_double(method, model, batch, e, b) -> RateResult:
    """Eigenvalues of T in the vech basis; the error bound uses the top eigenvalue's condition number
    ||x|| ||y|| / |y^H x| (left and right eigenvectors)."""
    import scipy.linalg as sla
    T = SecondMomentOperator(method, model, batch, e, b).vech_matrix()
    w, vl, vr = sla.eig(T, left=True, right=True)
    k = int(np.argmax(np.abs(w)))
    rho = float(abs(w[k]))
    x, y = vr[:, k], vl[:, k]
    cond = np.linalg.norm(x) * np.linalg.norm(y) / max(abs(np.vdot(y, x)), 1e-300)
    rel = 10 * T.shape[0] * EPS * np.linalg.norm(T, 1) * cond / max(rho, 1e-300)
    if cond > 1e6:      # near-defective: perturbation theory of a Jordan block, eps^(1/2)
        rel = max(rel, 10 * math.sqrt(EPS * np.linalg.norm(T, 1) / max(rho, 1e-300)))
    return RateResult(rho, digits_from_rel(rel), None, "dense", "double")


def dense_mp(method, model, batch, lr, momentum, sigma=None):
    """Top eigenvalue of T (vech basis) by inverse iteration shifted at the double estimate ``sigma``
    (a few steps reach any precision for a simple eigenvalue; mpmath's QR otherwise)."""
    T = mp.matrix(ObjectSecondMomentOperator(method, model, batch, lr, momentum, to_mpf).vech_matrix().tolist())
    N = T.rows
    if sigma is not None:
        shift = mp.mpf(sigma) * (1 + mp.mpf(2) ** -40)
        x = mp.matrix([1] * N)
        prev = None
        try:
            for _ in range(60):
                x = mp.lu_solve(T - shift * mp.eye(N), x)
                x = x / mp.norm(x)
                k = max(range(N), key=lambda i: abs(x[i]))
                est = (T * x)[k] / x[k]
                if prev is not None and abs(est - prev) <= mp.mpf(10) ** (-mp.mp.dps + 2) * abs(est):
                    return abs(est)
                prev = est
        except ZeroDivisionError:
            pass
    ev = mp.eig(T, left=False, right=False)
    return max(abs(x) for x in ev)
