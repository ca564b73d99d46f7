"""The matrix-free route (finite sums, kaczmarz, coordinate at larger d): T is never formed.

In H's eigenbasis T = K + N with K(S) = Mbar S Mbar^T (s x s blocks per pair of eigen-directions) and N
acting through Y = (c^T ⊗ I) S (c ⊗ I) only; for z > rho(K), rho(T) < z iff rho(Phi_z) < 1 with
Phi_z(Y) = Psi(z) o C_B(Y) (Hadamard product; Psi_ij(z) = sum_k z^-(k+1) (c^T M_i^k b)(c^T M_j^k b),
from theory's triple; the regular-splitting theorem for cone-preserving maps, since Phi_z has the
nonzero spectrum of N (z - K)^-1).

Rank-one components (finite sums, kaczmarz, coordinate: G_i = x_i y_i^T), :class:`KrylovReduction`: C_B = f_B C0
with C0(Y) = sum_i p_i (y_i^T Y y_i) x_i x_i^T - Lambda Y Lambda applied to rows rotated into H's
eigenbasis, in blocks of rows (memory O(block d + d^2) beyond the rows, never an n x d^2 object). A
nonlinear Arnoldi iteration on Phi_z (Ritz value 1 at z; one O(n d^2) application of C0 per step) gives
z and the Perron approximation Y > 0; the Collatz-Wielandt bounds of Phi_z at Y,
lo(z) = lambda_min(Y^-1/2 Phi_z(Y) Y^-1/2) <= rho(Phi_z) <= hi(z) = lambda_max(...), less their
first-order rounding bounds, give [z_lo, z_hi] with lo(z_lo) > 1 (so rho(T) > z_lo) and hi(z_hi) < 1
(so rho(T) < z_hi); where it is too wide, each side is redone with a few power steps at a point just
beyond z. The stated digits come from that bracket (intersected with the bracket on T itself,
independent of Psi, for s d <= T_CHECK_MAX). Ritz values alone are no bound (Phi_z is not self-adjoint).

Other models, and points where the Krylov route forms no bracket, use the nonlinear power iteration
(:class:`ResolventReduction`, the previous route) checked by Collatz-Wielandt bounds on T itself;
ARPACK on T is the last fallback.
"""
from __future__ import annotations

import math

import numpy as np

from .deterministic import deterministic_double, deterministic_result
from .result import EPS, RateResult, digits_from_rel
from ..operators import (SecondMomentOperator, as_method, batch_factor_value, method_arrays,
                         pair_response_error_kernel, pair_response_kernel)


ARB_MAX = 512        # entries of Psi evaluated in arb per call of accurate_psi, at most (~26 us each)


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
    """Top eigenpair of T by ARPACK on packed symmetric matrices; returns (rho, P) with P symmetric (where
    ARPACK stops short, its converged pairs: the caller's Collatz-Wielandt bounds say how good P is)."""
    from scipy.sparse.linalg import ArpackNoConvergence, LinearOperator, eigs
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
        try:
            w, V = eigs(L, k=4, which="LM", v0=v0, tol=tol, ncv=min(N - 1, 24), maxiter=5000)
        except ArpackNoConvergence as err:   # the pairs that converged still give a cone vector to bound from
            if not err.eigenvalues.size:
                raise RuntimeError("the matrix-free route found no eigenpair of T: ARPACK did not "
                                   "converge in 5000 iterations") from None
            w, V = err.eigenvalues, err.eigenvectors
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
        return eigenmatrix(self.op.A, self.op.b, self.op.c, self.lam, self.Q, z, self.C(Y))


def eigenmatrix(A, bv, cv, lam, Q, z, CY):
    """X = (z - K)^{-1} ((b b^T) ⊗ CY) in the original basis, CY = C_B(Y) in H's eigenbasis (d x d):
    per pair (i, j) the s x s block solves z X_ij - M_i X_ij M_j^T = CY_ij b b^T."""
    d, s = lam.size, A.shape[0]
    M = A[None] + lam[:, None, None] * np.outer(bv, cv)[None]
    Kr = np.einsum("iab,jcd->ijacbd", M, M).reshape(d, d, s * s, s * s)
    rhs = np.broadcast_to(np.outer(bv, bv).ravel(), (d, d, s * s))
    G = np.linalg.solve(z * np.eye(s * s) - Kr, rhs[..., None])[..., 0].reshape(d, d, s, s)
    Xt = CY[:, :, None, None] * G                  # (i, j, a, b)
    X = np.empty((s, d, s, d))
    for a in range(s):
        for c in range(s):
            X[a, :, c, :] = Q @ Xt[:, :, a, c] @ Q.T
    X = X.reshape(s * d, s * d)
    return (X + X.T) / 2


# --------------------------------------------------------------------------------------------------
# symmetric rank-one components: covariance in blocks of rows, nonlinear Rayleigh-Ritz, CW bracket
# --------------------------------------------------------------------------------------------------
BLOCK_BYTES = 1 << 24        # rows per block of the covariance map: about 16 MiB of rows at a time
BASIS_BYTES = 1 << 28        # at most about 256 MiB for the Krylov basis (V and C0 V): restart beyond
ROWS_BYTES = 1 << 28         # rows rotated into H's eigenbasis are stored up to about 256 MiB


class RankOneCovariance:
    """C0(Y) = sum_i p_i (y_i^T Y y_i) x_i x_i^T - Lambda Y Lambda in H's eigenbasis (C_B = f_B C0, f_B
    from the batch), for
    rank-one components G_i = x_i y_i^T drawn with probability p_i (MATH.md §2), with the rows rotated
    into the eigenbasis (x_i -> Q^T x_i): stored when they fit in ``rows_bytes``, else rotated block
    by block on the fly.

    Applied in blocks of rows (memory O(block d + d^2), never an n x d^2 object); cost O(n d^2) per
    application (O(n d^2) more when rotating on the fly); C0 maps the PSD cone into itself
    (E[(G - H) Y (G - H)^T]).

    >>> from momentum_verify.theory.sampling import FiniteSum
    >>> C = RankOneCovariance(FiniteSum([[1.0, 0.0], [1.0, 1.0], [0.0, 2.0]]))
    >>> C.n, C.d, C.block > 0, C.stored
    (3, 2, True, True)
    """

    def __init__(self, model, block_bytes: int = BLOCK_BYTES, rows_bytes: int = ROWS_BYTES):
        p, X, Yv = model.component_arrays(np)
        self.p = p
        self.same = X is Yv
        self.n, self.d = X.shape
        H = model.hessian_array(np)
        if np.max(np.abs(H - H.T)) > 1e-12 * max(np.max(np.abs(H)), 1e-300):
            raise ValueError("the Krylov route needs a symmetric H")
        self.lam, self.Q = np.linalg.eigh((H + H.T) / 2)
        k = 1 if self.same else 2
        self.block = max(1, int(block_bytes // (8 * self.d * k)))
        self.stored = self.n * self.d * 8 * k <= rows_bytes
        if self.stored:
            self.X = X @ self.Q
            self.Y = self.X if self.same else Yv @ self.Q
        else:
            self.X, self.Y = X, Yv
        self.applications = 0

    def rows(self, k):
        """(x rows, y rows) of block k in the eigenbasis."""
        sl = slice(k, k + self.block)
        if self.stored:
            return self.X[sl], self.Y[sl]
        Rx = self.X[sl] @ self.Q
        return Rx, (Rx if self.same else self.Y[sl] @ self.Q)

    def _sum(self, Yt, absolute: bool):
        out = np.zeros((self.d, self.d))
        for k in range(0, self.n, self.block):
            Rx, Ry = self.rows(k)
            if absolute:
                Rx, Ry = np.abs(Rx), np.abs(Ry)
            w = self.p[k:k + self.block] * np.einsum("ij,ij->i", Ry @ Yt, Ry)
            out += (Rx * w[:, None]).T @ Rx
        return out

    def rounding_bound(self, Yt: np.ndarray) -> np.ndarray:
        """Entrywise rounding error of ``self(Yt)`` in the probabilistic model of Higham and Mary (2019):
        gamma (S_abs(|Y|) + |Lambda| |Y| |Lambda|), S_abs(A) = sum_i p_i (|y_i|^T A |y_i|) |x_i| |x_i|^T,
        gamma = 4 sqrt(2 d + block + n / block) eps (sums of those lengths); the rotation of the rows is a
        relative perturbation of the data of about d eps, not counted here."""
        aY = np.abs(Yt)
        al = np.abs(self.lam)
        gamma = 4 * math.sqrt(2 * self.d + min(self.block, self.n) + self.n / self.block) * EPS
        return gamma * (self._sum(aY, True) + al[:, None] * aY * al[None, :])

    def __call__(self, Yt: np.ndarray) -> np.ndarray:
        """C0(Y) for Y given (and returned) in H's eigenbasis."""
        out = self._sum(Yt, False) - self.lam[:, None] * Yt * self.lam[None, :]
        self.applications += 1
        return (out + out.T) / 2


_SHARED: dict = {}


def shared_covariance(model, block_bytes: int = BLOCK_BYTES) -> RankOneCovariance:
    """The :class:`RankOneCovariance` of ``model`` (H's eigendecomposition and the rotated rows), kept
    for the last model used (held by a weak reference, so a model's data is never kept alive): the
    rate at many (lr, momentum, batch) points on one data set pays for them once."""
    import weakref
    ref, key, cov = _SHARED.get("last", (None, None, None))
    if ref is not None and ref() is model and key == block_bytes:
        return cov
    cov = RankOneCovariance(model, block_bytes)
    try:
        _SHARED["last"] = (weakref.ref(model), block_bytes, cov)
    except TypeError:                       # not weak-referenceable: no sharing
        pass
    return cov


def _monotone_root(f, z_start: float, z_min: float, rtol: float, step: float | None = None,
                   max_eval: int = 400):
    """(a, b) with f(a) > 0 >= f(b), z_min < a < b, b - a <= rtol b, for f decreasing on (z_min, inf)
    (f(z) = nan counts as > 0: a point too close to a pole); a = None when f <= 0 right above z_min.
    The search starts at ``z_start`` and steps by ``step`` (growing fourfold) to bracket the root."""
    def val(z):
        v = f(z)
        return math.inf if not np.isfinite(v) else v
    g = max(z_start - z_min, 1e-300)               # work with the gap above z_min
    h = g if step is None else max(step, 1e-300)
    z = z_min + g
    fz = val(z)
    a = b = None
    fa = fb = None
    for _ in range(max_eval):
        if fz > 0:
            a, fa = z, fz
            if b is not None:
                break
            g += h
        else:
            b, fb = z, fz
            if a is not None:
                break
            if g <= 4 * EPS * max(z_min, 1e-300):
                return None, b
            g = max(g - h, g / 4)
        h *= 4
        z = z_min + g
        fz = val(z)
    side = 0
    for _ in range(max_eval):                      # Illinois regula falsi, keeping the bracket
        if b - a <= rtol * b:
            break
        if math.isfinite(fa):
            z = (a * fb - b * fa) / (fb - fa)
        else:
            z = 0.5 * (a + b)
        if not a < z < b:
            z = 0.5 * (a + b)
        fz = val(z)
        if fz > 0:
            a, fa = z, fz
            if side == 1:
                fb /= 2
            side = 1
        else:
            b, fb = z, fz
            if side == -1 and math.isfinite(fa):
                fa /= 2
            side = -1
    return a, b


class KrylovReduction:
    """rho(T) for symmetric rank-one components (finite sums, kaczmarz) without forming T.

    Phi_z(Y) = f_B Psi(z) o C0(Y) maps the PSD cone into itself; its Perron Ritz value on an orthonormal
    Krylov basis V (W = C0 V kept) is the top eigenvalue of V^T (Psi(z) o W); the z with Ritz value 1 is
    found by a monotone root search and the basis grows by Phi_z(Ritz vector) (a nonlinear Arnoldi
    step): one O(n d^2) application of C0 per step. The Ritz values are only an accelerator (no bound). ``bracket`` then gives the Collatz-Wielandt
    interval for rho(T) (see the module docstring).
    """

    def __init__(self, method, model, batch, e, b, block_bytes: int = BLOCK_BYTES, cov=None):
        self.method = as_method(method)
        self.cov = shared_covariance(model, block_bytes) if cov is None else cov
        self.lam, self.fB = self.cov.lam, batch_factor_value(model, batch)
        self.e, self.b = e, b
        self.psi = pair_response_kernel(self.method)
        self.kappa = pair_response_error_kernel(self.method)
        self.triple = method_arrays(self.method, e, b)
        self.arb_entries = 0                # entries of Psi evaluated in interval arithmetic (accurate_psi)
        self.rho_K = float(deterministic_double(self.method, self.lam, np.array([e]), np.array([b]))[0][0])
        self.iterations = 0

    def Psi(self, z):
        with np.errstate(all="ignore"):
            return self.fB * self.psi(z, self.lam[:, None], self.lam[None, :], self.e, self.b)

    def _psi_ok(self, P):
        return bool(np.all(np.isfinite(P)) and np.all(np.diag(P) >= 0))

    def ritz(self, z, Vm, Wm):
        """(Perron Ritz value, its coefficient vector) of Phi_z projected on the orthonormal basis
        Vm (rows; C0 V = rows of Wm): the eigenvalue of largest real part of Vm Phi_z(V)^T."""
        P = self.Psi(z)
        if not self._psi_ok(P):
            return math.nan, None
        A = Vm @ (P.ravel()[:, None] * Wm.T)
        w, U = np.linalg.eig(A)
        real = np.abs(w.imag) <= 1e-8 * np.abs(w)
        if not real.any():                  # a complex pair on a small basis: its real part for now
            real = np.ones(w.shape, dtype=bool)
        k = int(np.argmax(np.where(real, w.real, -np.inf)))
        x = U[:, k].real
        return float(w[k].real), x

    def iterate(self, tol: float = 1e-13, res_tol: float = 1e-10, max_dim: int | None = None,
                max_iter: int = 120, start=None, basis=None):
        """(z, Y): the z where the Perron Ritz value of Phi_z on a Krylov basis (orthonormal in the
        Frobenius product) is 1, and Y = Phi_z(Ritz vector). The basis grows by Phi_z of the Ritz
        vector; when that lies in the span already (an invariant subspace: e.g. the mode of a pole of
        Psi, while the Perron mode is elsewhere), by Phi_z of the last basis vector, then of I."""
        d = self.lam.size
        if max_dim is None:
            max_dim = int(min(40, max(6, BASIS_BYTES // (16 * d * d))))
        Vs, Ws = ([], []) if basis is None else (list(basis[0]), list(basis[1]))
        eye = np.eye(d) / math.sqrt(d)
        cands = [eye if start is None else start[1]]
        z, hist = (None if start is None else start[0]), []
        rk = self.rho_K
        self.history = hist
        v = C_eye = P = None
        still = 0                                      # steps with z unchanged to tol
        for it in range(max_iter):
            grown = False
            for v in cands:
                if v is None:                          # Phi_z(I), computed when first needed
                    if C_eye is None:
                        C_eye = self.cov(eye)
                    v = P * C_eye
                n0 = float(np.linalg.norm(v))
                for _ in range(2):                     # orthogonalise (twice is enough)
                    for Vj in Vs:
                        v = v - float(np.sum(v * Vj)) * Vj
                nv = float(np.linalg.norm(v))
                if nv > 1e-8 * n0 and np.isfinite(nv):
                    v = v / nv
                    Vs.append(v)
                    Ws.append(self.cov(v))
                    grown = True
                    break
            if not Vs:
                return rk, None
            Vm = np.stack([x.ravel() for x in Vs])
            Wm = np.stack([x.ravel() for x in Ws])
            z0 = 2 * max(rk, 1e-3) if z is None else z
            step = None if z is None else max(1e-9 * z, 4 * abs(z - hist[-2][0]) if len(hist) > 1 else 1e-4 * z)
            a, _ = _monotone_root(lambda t: self.ritz(t, Vm, Wm)[0] - 1, z0, rk, 4 * EPS, step)
            if a is None:                    # no Ritz root on this basis (a poor small projection near a
                if z is None or it >= max_iter // 2:       # pole of Psi): grow it at the last z
                    return rk, None
                a = z
            z_new = a
            _, x = self.ritz(z_new, Vm, Wm)
            if x is None:
                return z_new, None
            Yr = (x @ Vm).reshape(d, d)
            if np.trace(Yr) < 0:
                x, Yr = -x, -Yr
            CYr = (x @ Wm).reshape(d, d)
            P = self.Psi(z_new)
            y_next = P * CYr                           # Phi_z(Yr)
            y_next = (y_next + y_next.T) / 2
            mu = float(np.sum(y_next * Yr) / max(np.sum(Yr * Yr), 1e-300))
            res = float(np.linalg.norm(y_next - mu * Yr) / max(np.linalg.norm(Yr), 1e-300))
            hist.append((z_new, res, len(Vs)))
            self.iterations += 1
            still = still + 1 if z is not None and abs(z_new - z) <= tol * z_new else 0
            done = (still >= 1 and res <= res_tol) or (still >= 4 and res <= 1e-6)
            z = z_new
            if done or res <= 1e-15 or (not grown and len(Vs) >= d * (d + 1) // 2):
                break
            if len(Vs) >= max_dim and basis is not None:   # warm start: keep the newest directions
                Vs, Ws = Vs[-(max_dim // 2):], Ws[-(max_dim // 2):]
                basis = None
            if len(Vs) >= max_dim:                     # restart from the Ritz vector
                nY = float(np.linalg.norm(Yr))
                Vs, Ws = [Yr / nY], [CYr / nY]
            last = P * Ws[-1]
            last = (last + last.T) / 2
            # alternate the Ritz expansion with the plain Krylov direction Phi_z(V_last), so that a mode
            # the Ritz vector does not see (a second cone mode near a pole of Psi) enters the basis
            cands = [y_next, last] if it % 2 == 0 else [last, y_next]
            cands.append(P * C_eye if C_eye is not None else None)
        self.basis = (Vs, Ws)
        return z, y_next / np.linalg.norm(y_next)

    def accurate_psi(self, z, P, tol=None):
        """(Psi, E) with |Psi(z) - Psi| <= E entrywise (first order): E = kappa eps |Psi| from the
        printed fraction; entries with E > ``tol`` (an array; default 1e-13 |Psi|: near a pole of Psi,
        where the expanded denominator cancels) solved again from the Stein equation
        (:meth:`stein_psi`), and those whose bound is still above ``tol`` (the ARB_MAX worst) in arb
        interval arithmetic at 80 + log2(kappa) bits (E: the radius, plus eps |Psi| for the rounding to double). (P, None)
        where kappa is not finite (z on a pole)."""
        lam = self.lam
        with np.errstate(all="ignore"):
            kappa = self.kappa(z, lam[:, None], lam[None, :], self.e, self.b)
        if not np.all(np.isfinite(kappa)):
            return P, None
        tol = 1e-13 * np.abs(P) if tol is None else tol
        E = EPS * kappa * np.abs(P)
        rows, cols = np.nonzero(E > tol)
        if rows.size == 0:
            return P, E
        P, E = P.copy(), E.copy()
        v, ev = self.stein_psi(z, rows, cols)
        better = ev < E[rows, cols]
        P[rows[better], cols[better]], E[rows[better], cols[better]] = v[better], ev[better]
        rows, cols = np.nonzero(E > tol)
        if rows.size > ARB_MAX:       # the worst ones; the others keep their Stein bound (it is propagated)
            worst = np.argsort((E / tol)[rows, cols])[-ARB_MAX:]
            rows, cols = rows[worst], cols[worst]
        if rows.size:                 # python-flint's arb: an enclosure (value, radius), about 15 us an entry
            import flint
            prec = flint.ctx.prec
            flint.ctx.prec = 80 + int(math.log2(float(kappa[rows, cols].max())))
            try:
                zm, em, bm, fm = (flint.arb(float(v)) for v in (z, self.e, self.b, self.fB))
                lm = {k: flint.arb(float(lam[k])) for k in set(rows.tolist()) | set(cols.tolist())}
                for i, j in zip(rows.tolist(), cols.tolist()):
                    v = fm * self.psi(zm, lm[i], lm[j], em, bm)
                    P[i, j] = float(v.mid())
                    E[i, j] = float(v.rad()) + EPS * abs(P[i, j]) if v.is_finite() else math.inf
            finally:
                flint.ctx.prec = prec
            self.arb_entries += rows.size
        return P, E

    def stein_psi(self, z, rows, cols):
        """(Psi, E) at the entries (rows, cols): f_B (c ⊗ c)^T x with G x = b ⊗ b, G = z I - M_i ⊗ M_j (the
        definition of psi; M = A + lambda b c^T), G formed in long double, solved in double and
        refined twice on long-double residuals r; E = f_B |(c ⊗ c)^T G^-1| (|r| + g (|z| I + |M_i| ⊗
        |M_j|) |x| + g |b ⊗ b|) + eps |Psi|, g = (s^2 + 4) eps_ld (forming G and r): about eps |Psi|
        + eps_ld |z| / (z - pole) (eps_ld = 2^-63 on x86-64; where long double is double, this is
        only the a posteriori bound of the double solve)."""
        ld = np.longdouble
        A, bv, cv = self.triple
        s = A.shape[0]
        li, lj = self.lam[rows].astype(ld), self.lam[cols].astype(ld)
        bc = np.outer(bv, cv).astype(ld)
        Mi, Mj = A.astype(ld) + li[:, None, None] * bc, A.astype(ld) + lj[:, None, None] * bc
        n = rows.size
        K = np.einsum("nab,ncd->nacbd", Mi, Mj).reshape(n, s * s, s * s)
        G = ld(z) * np.eye(s * s, dtype=ld) - K
        rhs = np.kron(bv, bv).astype(ld)
        with np.errstate(all="ignore"):
            try:
                Gi = np.linalg.inv(G.astype(float))
            except np.linalg.LinAlgError:
                return np.zeros(n), np.full(n, np.inf)
            x = (Gi @ rhs.astype(float)).astype(ld)
            for _ in range(3):
                r = rhs - np.einsum("nab,nb->na", G, x)
                if _ == 2:
                    break
                x = x + (Gi @ r.astype(float)[..., None])[..., 0]
            g = (s * s + 4) * float(np.finfo(ld).eps)
            aK = np.abs(K.astype(float))
            ax = np.abs(x.astype(float))
            w = (np.abs(r.astype(float)) + g * (abs(z) * ax + np.einsum("nab,nb->na", aK, ax))
                 + g * np.abs(rhs.astype(float)))
            cc = np.kron(cv, cv)
            v = self.fB * (x @ cc.astype(ld)).astype(float)
            e = 2 * self.fB * np.einsum("na,na->n", np.abs(cc @ Gi), w) + EPS * np.abs(v)
        e = np.where(np.isfinite(e), e, np.inf)
        return v, e

    def eigenvalue_shift(self, z, Y) -> float:
        """First-order bound on how far rho(T) moves under an error delta = 4 sqrt(d + n) eps max |lambda|
        of each of H's eigenvalues (H summed from n rows, then ``eigh``): sum_k |dz/dlambda_k| delta,
        with dz/dlambda_k = -(<d_k Psi o W, W> + <Psi o W, d_k C0(Y)>) / <d_z Psi o W, W>, W = C0(Y) (C0
        is self-adjoint, so W is the left Perron vector of Phi_z), Psi's derivatives by complex steps.
        The pole and the root move together, so this is far smaller than Psi's own change near a pole."""
        lam = self.lam
        delta = 4 * math.sqrt(lam.size + self.cov.n) * EPS * float(np.max(np.abs(lam)))
        W = self.cov(Y)
        W2 = W * W
        h = 1e-30
        with np.errstate(all="ignore"):
            dz = float(np.sum(self.Psi(z + 1j * h).imag * W2)) / h
            up = lam + 1j * h
            drow = self.psi(z, up[:, None], lam[None, :], self.e, self.b).imag
            dcol = self.psi(z, lam[:, None], up[None, :], self.e, self.b).imag
            dk = self.fB * (np.sum(drow * W2, axis=1) + np.sum(dcol * W2, axis=0)) / h
            t = self.Psi(z) * W * Y                 # C0's own -Lambda Y Lambda term: <Psi o W, d_k C0(Y)>
            dk -= t @ lam + lam @ t
        shift = 2 * delta * float(np.sum(np.abs(dk))) / abs(dz)
        return shift if math.isfinite(shift) else math.inf

    def cw_functions(self, Y):
        """ext(z) = (lo(z), hi(z), err_lo, err_hi): the extreme eigenvalues of Y^-1/2 Phi_z(Y) Y^-1/2
        (Y > 0) and first-order bounds on their rounding, |u|^T E_F |u| + |lambda| |u|^T E_Y |u| for the
        Y-normalised eigenvector u, with E_F the entrywise error of F = Phi_z(Y) (covariance: its
        rounding bound; Psi: below) and E_Y = 2 (d + 2) eps |L| |L|^T (Cholesky's backward error; the
        triangular solves' is of the same form).

        Psi's own error is kappa eps |Psi| (theory's factored fraction as printed: kappa from
        :func:`~momentum_verify.numerics.operators.pair_response_error_kernel`, large near a pole
        of Psi where the expanded denominator cancels); entries whose bound exceeds 1e-13 of F's
        scale sqrt(Y_ii Y_jj) are evaluated again more accurately (:meth:`accurate_psi`). The
        first-order bound at the computed eigenvector fails when the eigenvalues of Y^-1/2 F Y^-1/2
        cluster (Y near the Perron vector: all near 1), so each side takes min(W, first-order + 2 W^2 /
        gap) with W >= ||L^-1 E L^-T||_2 (Weyl), the Collatz-Wielandt upper bound of the nonnegative
        |L^-1| E |L^-1|^T at a few power iterates. H's eigenvalues' own error is not in these bounds
        (:meth:`eigenvalue_shift` adds it to the bracket)."""
        import scipy.linalg as sla
        CY = self.cov(Y)
        ECY = self.cov.rounding_bound(Y)
        aCY = np.abs(CY)
        Lc = np.linalg.cholesky(Y)
        aL = np.abs(Lc)
        EY = 2 * (self.lam.size + 2) * EPS * (aL @ aL.T) + EPS * np.abs(Y)
        aLi = np.abs(sla.solve_triangular(Lc, np.eye(Lc.shape[0]), lower=True))
        dY = np.sqrt(np.abs(np.diag(Y)))
        with np.errstate(all="ignore"):      # Psi's accuracy asked for: 1e-13 of F's scale sqrt(Y_ii Y_jj)
            tol = 1e-13 * np.outer(dY, dY) / aCY
        cache = {}

        def weyl(E):
            """An upper bound on the Perron root of |L^-1| E |L^-1|^T (E >= 0, symmetric)."""
            v, best = np.ones(E.shape[0]), math.inf
            for _ in range(4):
                w = aLi @ (E @ (aLi.T @ v))
                best = min(best, float(np.max(w / v)))
                v = w / np.max(w) + 1e-3
            return best

        def ext(z):
            if z not in cache:
                P = self.Psi(z)
                if not self._psi_ok(P):
                    cache[z] = (math.nan, math.nan, math.inf, math.inf)
                    return cache[z]
                P, EP = self.accurate_psi(z, P, tol)
                if EP is None:
                    cache[z] = (math.nan, math.nan, math.inf, math.inf)
                    return cache[z]
                F = P * CY
                EF = np.abs(P) * ECY + EP * aCY + EPS * np.abs(F)
                Z = sla.solve_triangular(Lc, sla.solve_triangular(Lc, F, lower=True).T, lower=True)
                e, V = np.linalg.eigh((Z + Z.T) / 2)
                errs = []
                for k, nb in ((0, 1), (-1, -2)):
                    u = np.abs(sla.solve_triangular(Lc.T, V[:, k], lower=False))
                    first = 2 * float(u @ EF @ u + abs(e[k]) * (u @ EY @ u))
                    W = 2 * weyl(EF + abs(e[k]) * EY)
                    gap = abs(e[k] - e[nb]) if e.size > 1 else math.inf
                    bound = min(W, first + 2 * W * W / gap) if gap > 4 * W else W
                    errs.append(bound + 4 * self.lam.size * EPS * abs(e[k]))
                cache[z] = (float(e[0]), float(e[-1]), errs[0], errs[1])
            return cache[z]
        return ext

    def _side(self, z, Y, side: int, rtol: float):
        """The z_lo (side 0: lo(z_lo) - err > 1) or z_hi (side 1: hi(z_hi) + err <= 1) of Y, or None."""
        rk = self.rho_K
        try:
            ext = self.cw_functions(Y)
        except np.linalg.LinAlgError:
            return None, None
        z0 = max(z, rk * (1 + 1e-12) + 1e-300)
        e0 = ext(z0)
        if not e0[2 + side] < 0.5:
            return None, e0
        step = max(1e-12, e0[1] - e0[0]) * z0
        if side == 0:
            a, _ = _monotone_root(lambda t: (lambda r: r[0] - r[2] - 1)(ext(t)), z0, rk, rtol, step)
            return (rk if a is None else max(a, rk)), e0
        _, b = _monotone_root(lambda t: (lambda r: r[1] + r[3] - 1)(ext(t)), z0, rk, rtol, step)
        return b, e0

    def power(self, z, Y, steps: int):
        """Y after ``steps`` power steps Y <- Phi_z(Y) / ||Phi_z(Y)|| (one application of C0 each)."""
        P = self.Psi(z)
        for _ in range(steps):
            Y = P * self.cov(Y)
            Y = (Y + Y.T) / 2
            Y = Y / np.linalg.norm(Y)
        return Y

    def bracket(self, z, Y, target: float = 1e-13, rtol: float = 4 * EPS, max_power: int = 8):
        """(z_lo, z_hi, delta): rho(T) in [z_lo, z_hi] from the Collatz-Wielandt bounds of Phi beyond
        their rounding (lo(z_lo) - err > 1 at a cone vector for z_lo, hi(z_hi) + err <= 1 at one for
        z_hi); delta the largest rounding bound met. Where the bracket is wider than ``target``
        (relative), each side is redone with the Perron vector of Phi at a point just beyond the Ritz
        root z (power steps from Y, at most ``max_power``): near a pole of Psi the Ritz root is exact
        to the last bit while the other directions of Y move slowly in z. None without a bracket."""
        a, ea = self._side(z, Y, 0, rtol)
        b, eb = self._side(z, Y, 1, rtol)
        if a is None or b is None:
            return None
        delta = max(ea[2], eb[3])
        rk = self.rho_K
        h = max(target / 4, 8 * EPS)
        for side in (0, 1):
            if (b - a) / b <= target:
                break
            zt = max(rk + (z - rk) * (1 - h), z * (1 - h)) if side == 0 else z * (1 + h)
            if zt <= rk or (side == 0 and zt <= a) or (side == 1 and zt >= b):
                continue
            Yt, done_steps = Y, 0
            for steps in (1, 3, max_power):           # power steps at zt, then the best bound from Yt
                if steps > max_power:
                    break
                Yt = self.power(zt, Yt, steps - done_steps)
                done_steps = steps
                r, e = self._side(zt, Yt, side, rtol)
                if r is None:
                    continue
                if side == 0 and r > a:
                    a, delta = r, max(delta, e[2])
                if side == 1 and r < b:
                    b, delta = r, max(delta, e[3])
                if (b - a) / b <= target:
                    break
        shift = self.eigenvalue_shift(z, Y)
        return a - shift, b + shift, delta


T_CHECK_MAX = 256        # s d up to which the Krylov bracket is also checked by Collatz-Wielandt bounds on T
RETRY_DIGITS = 6         # ... and up to which fewer digits than this send the point to the resolvent route too
T_CHECK_STEPS = 40       # at most this many power steps on T for that check


def krylov_double(method, model, batch, e, b, *, target_digits: int = 10, check_T: bool | None = None):
    """rho(T) for symmetric rank-one components by :class:`KrylovReduction`, with the Collatz-Wielandt
    bracket of Phi_z at the Perron approximation (escalating with more Krylov steps while the bracket
    allows fewer than ``target_digits`` digits); for s d <= ``T_CHECK_MAX`` also the bracket on T
    itself (independent of Psi), intersected (their union where they miss each other by less than 1e-9,
    i.e. by rounding; further apart is an error). None when no bracket could be formed (caller falls back).
    """
    red = KrylovReduction(method, model, batch, e, b)
    target = 10.0 ** -(target_digits + 1)
    z, Y = red.iterate()
    if Y is None:
        return None
    br = red.bracket(z, Y, target=target)
    if br is None:
        return None
    lo, hi, delta = br
    notes = []
    if check_T is None:
        check_T = red.method.s * red.lam.size <= T_CHECK_MAX
    if check_T and z > red.rho_K:
        op = SecondMomentOperator(red.method, model, batch, e, b)
        X = eigenmatrix(op.A, op.b, op.c, red.lam, red.cov.Q, z, red.fB * red.cov(Y))
        X = X / np.trace(X)
        tlo, thi = 0.0, math.inf
        for _ in range(T_CHECK_STEPS):     # power steps on T tighten its bracket (never widen it)
            try:
                l2, h2 = collatz_wielandt(op, X)
            except np.linalg.LinAlgError:
                break
            tlo, thi = max(tlo, l2), min(thi, h2)
            if (thi - tlo) <= 1e-3 * max(hi - lo, 1e-15 * hi):
                break
            X = op.apply(X)
            X = (X + X.T) / (2 * np.trace(X))
        tlo, thi = tlo * (1 - 1e3 * EPS), thi * (1 + 1e3 * EPS)
        gap = max(tlo - hi, lo - thi)
        if gap > 1e-9 * hi:
            raise RuntimeError(f"matrix-free: the brackets on Phi_z [{float(lo)!r}, {float(hi)!r}] and on T "
                               f"[{tlo!r}, {thi!r}] do not meet")
        if gap > 0:         # apart by rounding beyond a first-order bound: one of them holds, so their union
            lo, hi = min(lo, tlo), max(hi, thi)
            notes.append("the brackets on Phi_z and on T missed by rounding; the digits are their union's")
        else:
            lo, hi = max(lo, tlo), min(hi, thi)
    if lo > hi:         # the two sides cross: rounding beyond its first-order bound; widen by the gap
        gap = lo - hi
        lo, hi = hi - 2 * gap, lo + 2 * gap
        notes.append("the Collatz-Wielandt bounds crossed by rounding; the digits allow 4x the gap")
    rho = 0.5 * (lo + hi)
    rel = (hi - lo) / max(rho, 1e-300) + 10 * EPS
    return RateResult(float(rho), digits_from_rel(rel), None, "matrix-free", "double", tuple(notes))


def matrix_free_double(method, model, batch, e, b) -> RateResult:
    """Rank-one models: :func:`krylov_double` (the Collatz-Wielandt bracket of the reduced operator);
    otherwise, or where it forms no bracket, :func:`resolvent_double`. On small models (s d <=
    T_CHECK_MAX) a Krylov bracket with fewer than RETRY_DIGITS digits (its iterate can settle on another
    mode's root, outside its own bracket) is compared with the resolvent route's: the tighter one wins."""
    if batch_factor_value(model, batch) == 0.0:        # no noise: the deterministic rate, exactly
        return deterministic_result(method, model, e, b)
    if hasattr(model, "component_arrays"):
        res = krylov_double(method, model, batch, e, b)
        if res is not None and (res.digits >= RETRY_DIGITS or as_method(method).s * model.d > T_CHECK_MAX):
            return res
        alt = resolvent_double(method, model, batch, e, b)
        return alt if res is None or alt.digits > res.digits else res
    return resolvent_double(method, model, batch, e, b)


def resolvent_double(method, model, batch, e, b) -> RateResult:
    """The nonlinear power iteration of :class:`ResolventReduction` (the route before the Krylov one;
    kept as its fallback and as the benchmarks' baseline), Collatz-Wielandt bounds on T, ARPACK last."""
    if batch_factor_value(model, batch) == 0.0:
        return deterministic_result(method, model, e, b)
    red = ResolventReduction(method, model, batch, e, b)
    try:
        z, Y = red.iterate()
    except ValueError:               # brentq met a NaN ratio (Psi rounding to nan next to a pole)
        return arpack_double(method, model, batch, e, b)
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
