"""The matrix-free route (finite sums, kaczmarz, coordinate at larger d): T is never formed.

In H's eigenbasis T = K + N with K(S) = Mbar S Mbar^T (s x s blocks per pair of eigen-directions) and N
acting through Y = (c^T ⊗ I) S (c ⊗ I) only; z > rho(K) is an eigenvalue of T iff 1 is an eigenvalue of
Y -> Psi(z) o C_B(Y) (Hadamard product; Psi_ij(z) = sum_k z^-(k+1) (c^T M_i^k b)(c^T M_j^k b), from
theory's triple). A nonlinear power iteration on d x d matrices (one O(n d^2) application of C_B per
step) finds it; Collatz-Wielandt bounds on T itself give the digits; ARPACK on T is the fallback.
"""
from __future__ import annotations

import math

import numpy as np

from .deterministic import deterministic_double, deterministic_result
from .result import EPS, RateResult, digits_from_rel
from ..operators import SecondMomentOperator, as_method, batch_factor_value, pair_response_kernel


def sym_packing(m: int):
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


def perron_matrix_free(op, tol: float = 1e-14):
    """Top eigenpair of T by ARPACK on packed symmetric matrices; returns (rho, P) with P symmetric."""
    from scipy.sparse.linalg import LinearOperator, eigs
    m = op.s * op.d
    iu, scale = sym_packing(m)
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


class ResolventReduction:
    """T = K + N in H's eigenbasis (MATH.md §4): K(S) = Mbar S Mbar^T splits into 2 x 2 blocks per pair of
    eigen-directions, N(S) = (b b^T) ⊗ C_B(Y) acts through Y = (c^T ⊗ I) S (c ⊗ I) only. For z > rho(K),
    z is an eigenvalue of T iff 1 is an eigenvalue of Phi_z(Y) = Psi(z) o C~(Y) (Hadamard product,
    Psi_ij = psi(z, lambda_i, lambda_j) from theory's triple, C~ the covariance map in the eigenbasis);
    Phi_z preserves the PSD cone (Psi(z) = sum_k z^(-k-1) h_k h_k^T is PSD: Schur product theorem) and
    decreases with z. So rho(T) = the z where the Perron root of Phi_z is 1 (or rho(K)): found by a
    nonlinear power iteration on d x d matrices, each step one application of C_B (O(n d^2)).
    """

    def __init__(self, method, model, batch, e, b):
        self.op = SecondMomentOperator(method, model, batch, e, b)
        H = (self.op.H + self.op.H.T) / 2
        self.lam, self.Q = np.linalg.eigh(H)
        self.e, self.b = e, b
        self.psi = pair_response_kernel(as_method(method))
        self.rho_K = float(deterministic_double(as_method(method), self.lam, np.array([e]), np.array([b]))[0][0])

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


def matrix_free_double(method, model, batch, e, b) -> RateResult:
    """The resolvent reduction (never forms T; O(n d^2) per step), checked by Collatz-Wielandt bounds
    on T itself with the assembled Perron matrix; ARPACK on T as a fallback."""
    if batch_factor_value(model, batch) == 0.0:        # no noise: the deterministic rate, exactly
        return deterministic_result(method, model, e, b)
    red = ResolventReduction(method, model, batch, e, b)
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
        return arpack_double(method, model, batch, e, b)
    rel = (hi - lo) / max(z, 1e-300) + 10 * EPS
    return RateResult(float(z), digits_from_rel(rel), None, "matrix-free", "double")


def arpack_double(method, model, batch, e, b) -> RateResult:
    """ARPACK for the Perron pair of T, then Collatz-Wielandt bounds with X = P + (small) I."""
    op = SecondMomentOperator(method, model, batch, e, b)
    rho, P = perron_matrix_free(op)
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
    return RateResult(rho, digits_from_rel(rel), None, "matrix-free", "double")
