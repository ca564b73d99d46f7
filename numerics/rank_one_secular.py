"""The tuner's evaluator for symmetric rank-one models (finite sums, kaczmarz): a symmetric eigenproblem.

With components G_i = x_i y_i^T symmetric (x_i parallel to y_i), the covariance map in H's eigenbasis is
C0 = G - Lambda2 on packed symmetric matrices (orthonormal vech, MATH.md §4): G = F F^T with column i of F
equal to sqrt(p_i) vech(x_i y_i^T), and Lambda2 = diag(lambda_i lambda_j). The reduced operator
Phi_z = f_B diag(psi(z)) C0 (matrix_free's Psi(z) o C_B) then gives, for z > rho(K),

    det(I - Phi_z) = det(E) det(I - S(z)),  E = I + f_B diag(psi) Lambda2,  S(z) = F^T diag(q(z)) F,
    q = f_B psi / (1 + f_B psi lambda_i lambda_j),

and S(z) is symmetric. Where E > 0 on (rho(T), inf), S(z) -> 0 as z -> inf and det(I - Phi_z) != 0 above
rho(T), so rho(T) is the largest z with lambda_max(S(z)) = 1 (or rho(K) when lambda_max(S(rho(K)+)) <= 1:
q stays finite at the pole, q -> 1 / (lambda_i lambda_j)). Ritz values of a symmetric matrix are lower
bounds of lambda_max, so a projected root is at most rho(T); a nonlinear Rayleigh-Ritz iteration (the
projected root in z, then the residual added to the subspace) converges to the top mode, unless the
subspace holds an exact eigenvector of another mode and nothing of the top one (a zero residual at the
wrong root): so every solve, warm-started or not, first adds F^T q(z) F 1, which has components on all
modes. The residual check alone cannot tell the modes apart: this is a search-grade value.
The gradient of the root is exact from the Ritz vector (Hellmann-Feynman):
d lambda_max = u^T F^T diag(dq) F u, so rho_p = -theta_p / theta_z.

psi = N(z) / D(z) is evaluated by Horner in z from its coefficients (polynomials in lambda_i, lambda_j,
eta, beta from theory, numerics.operators.pair_response_z_kernel), computed once per point and reused at
every z of the root search; q = f_B N / (D + f_B lambda_i lambda_j N) and dq/dz follow from N, D and
their derivatives. Near a pole of psi (a root squeezed against rho(K): small steps, an isolated small
eigenvalue) D cancels and psi's relative error grows like kappa eps (numerics.operators'
pair_response_error_kernel, the first-order factor of the expanded form, taken as the estimate), up to
1e-5 at a root 1e-9 above rho(K); q stays finite at the pole, and the theta = 1 check allows that
rounding. Closer still (tiny steps), psi is rounding only and theta jumps by O(1) between neighbouring
z: a root found there, within 1e-6 (1 - rho(K)) of rho(K), is accepted as rho(K) to that resolution
(no gradient).

It is for a search only (no error bound): numerics.tuning uses it for these models on the matrix-free
route, and for its structured search on the dense route too, and recomputes the rate at the optimum with
the rate engine.
"""
from __future__ import annotations

import math

import numpy as np

from .operators import (as_method, batch_factor_value, pair_response_error_kernel, pair_response_kernel,
                        pair_response_z_kernel)
from .rates.deterministic import deterministic_double
from .rates.matrix_free import sym_packing

EPS = float(np.finfo(float).eps)
FACTOR_BYTES = 1 << 28        # F (vech size x min(n, vech size) doubles) is built up to about 256 MiB
POLE = 1e-13                  # z = rho(K) (1 + POLE) stands for rho(K)+
RES_TOL = 1e-9                # residual of the Ritz pair (lambda_max error ~ residual^2 / gap)
RES_FLOOR = 1e-8              # ... or this, once it has not halved in STALL steps (psi's rounding near a pole)
STALL = 8
MAX_DIM = 40                  # subspace dimension per point (warm-start basis included)
WARM = 12                     # Ritz vectors kept as the next call's starting basis (per batch size)


def symmetric_components(model):
    """(p, X, Y) of ``model``'s rank-one components if every G_i = x_i y_i^T is symmetric, else None."""
    arrays = getattr(model, "component_arrays", None)
    if arrays is None:
        return None
    p, X, Y = arrays(np)
    if X is not Y:
        xy = np.einsum("ij,ij->i", X, Y)
        if np.any(np.abs(xy * xy - np.sum(X * X, 1) * np.sum(Y * Y, 1)) > 1e-12 * np.sum(X * X, 1) * np.sum(Y * Y, 1)):
            return None
    return p, X, Y


def applies(model) -> bool:
    """True for a model with symmetric rank-one components whose factor F fits in FACTOR_BYTES."""
    comps = symmetric_components(model)
    if comps is None:
        return False
    n, N = comps[0].size, model.d * (model.d + 1) // 2
    return N * min(n, N) * 8 <= FACTOR_BYTES


class RankOneSecular:
    """rho and its gradient in (x, w) = (ln eta, ln(1 - beta)) for a symmetric rank-one model, one batch
    size per point.

    >>> import numpy as np
    >>> from momentum_verify.theory.sampling import FiniteSum
    >>> from momentum_verify.numerics import rates
    >>> A = np.random.default_rng(1).standard_normal((12, 3))
    >>> ev = RankOneSecular("heavy-ball", FiniteSum(A))
    >>> z, ok = ev.rho(np.log([0.05]), np.log([0.5]), [2])
    >>> r = rates.spectral_radius("heavy-ball", FiniteSum(A), 2, 0.05, 0.5)
    >>> bool(ok[0]), bool(abs(z[0] - r.rho) < 1e-10)
    (True, True)
    """

    def __init__(self, method, model):
        self.method, self.model = as_method(method), model
        self.momentum = self.method.uses_momentum
        p, X, Y = symmetric_components(model)
        H = model.hessian_array(np)
        lam, Q = np.linalg.eigh((H + H.T) / 2)
        Rx, Ry = X @ Q, (X if Y is X else Y) @ Q
        iu, sc = sym_packing(lam.size)
        V = (Rx[:, iu[0]] * Ry[:, iu[1]]) * (sc * np.sqrt(p)[:, None])     # n x N: G = V^T V
        if V.shape[0] <= V.shape[1]:
            self.F = np.ascontiguousarray(V.T)
        else:                                     # more rows than pairs: a square factor of G
            w, U = np.linalg.eigh(V.T @ V)
            keep = w > max(w[-1], 0) * w.size * EPS
            self.F = np.ascontiguousarray(U[:, keep] * np.sqrt(w[keep]))
        self.lam = lam
        self.li, self.lj = lam[iu[0]], lam[iu[1]]
        self.L2 = self.li * self.lj
        self.psi = pair_response_kernel(self.method)
        self.psi_z = pair_response_z_kernel(self.method)
        self.kappa = pair_response_error_kernel(self.method)
        self.warm = {}                            # f_B -> orthonormal columns: the last Ritz vectors
        self.evaluations = 0

    # -- q(z) and its derivatives ------------------------------------------------------------------
    def _coeffs(self, e, b):
        """psi = N(z) / D(z) per point and pair: (N's, D's) coefficients in z, arrays (degree + 1, G, N)."""
        shape = (e.size, self.li.size)
        with np.errstate(all="ignore"):
            num, den = self.psi_z(self.li, self.lj, e[:, None], b[:, None])
        return tuple(np.stack([np.broadcast_to(np.asarray(c, dtype=float), shape) for c in cs])
                     for cs in (num, den))

    @staticmethod
    def _horner(C, z, deriv: bool = False):
        """p(z), or (p(z), p'(z)), for coefficient arrays C (highest first, (k, G, N)) at z (G,)."""
        z = z[:, None]
        p, dp = C[0], np.zeros_like(C[0])
        for c in C[1:]:
            if deriv:
                dp = dp * z + p
            p = p * z + c
        return (p, dp) if deriv else p

    def _q(self, z, e, b, fB, C=None):
        """q (G, N) and E = 1 + f_B psi lambda_i lambda_j at z (G,), points (e, b, fB) (G,):
        q = f_B N / (D + f_B lambda_i lambda_j N), E = (D + f_B lambda_i lambda_j N) / D (``C``:
        :meth:`_coeffs` of the points, evaluated here if None)."""
        C = self._coeffs(e, b) if C is None else C
        n, d = self._horner(C[0], z), self._horner(C[1], z)
        with np.errstate(all="ignore"):
            s = d + fB[:, None] * self.L2 * n
            return fB[:, None] * n / s, s / d

    def _dq(self, z, e, b, fB, which: int, C=None):
        """dq/d(z, eta or beta) (G, N): in z from psi's coefficients, f_B (N' D - N D') / (D + f_B
        lambda_i lambda_j N)^2; in eta or beta by complex step on theory's psi."""
        if which == 0:
            C = self._coeffs(e, b) if C is None else C
            n, dn = self._horner(C[0], z, deriv=True)
            d, dd = self._horner(C[1], z, deriv=True)
            with np.errstate(all="ignore"):
                s = d + fB[:, None] * self.L2 * n
                return fB[:, None] * (dn * d - n * dd) / (s * s)
        args = [z[:, None], e[:, None], b[:, None]]
        h = 1e-30 * np.maximum(np.abs(args[which]), 1e-30)      # beta = 0 too (1e-30 * 1e-300 underflows)
        args[which] = args[which] + 1j * h
        with np.errstate(all="ignore"):
            R = 1 / self.psi(args[0], self.li, self.lj, args[1], args[2])
            D = R.real + fB[:, None] * self.L2
            return -fB[:, None] * (R.imag / h) / (D * D)

    # -- the nonlinear Rayleigh-Ritz iteration ------------------------------------------------------
    def _projected_root(self, P, z, zlo, e, b, fB, rK, C):
        """Per point the z with lambda_max(P^T diag(q(z)) P) = 1 above rho(K) (safeguarded Newton from
        z), or rho(K)+ if it stays below 1 there; returns (z, theta, y, q, d theta / dz) there (``C``:
        :meth:`_coeffs` of the points)."""
        G = z.size
        zlo = zlo.copy()
        zhi = np.full(G, np.inf)
        act = np.ones(G, dtype=bool)
        for it in range(80):
            idx = np.flatnonzero(act)
            if not idx.size:
                break
            Ci = (C[0][:, idx], C[1][:, idx])
            q, _ = self._q(z[idx], e[idx], b[idx], fB[idx], Ci)
            Pi = P[idx]
            A = np.matmul(Pi.transpose(0, 2, 1), q[:, :, None] * Pi)
            A = (A + A.transpose(0, 2, 1)) / 2
            bad = ~np.all(np.isfinite(A), axis=(1, 2))
            A[bad] = 0
            w, U = np.linalg.eigh(A)
            th, y = w[:, -1], U[:, :, -1]
            th[bad] = np.nan
            up = th > 1                                # below the root
            zlo[idx] = np.where(up, np.maximum(zlo[idx], z[idx]), zlo[idx])
            zhi[idx] = np.where(th <= 1, np.minimum(zhi[idx], z[idx]), zhi[idx])
            dq = self._dq(z[idx], e[idx], b[idx], fB[idx], 0, Ci)
            Py = np.einsum("gnk,gk->gn", Pi, y)
            dth = np.sum(dq * Py * Py, axis=1)
            with np.errstate(all="ignore"):
                zn = z[idx] - (th - 1) / dth
            lo, hi = zlo[idx], zhi[idx]
            # Newton for 20 steps; then bisection only (near a pole psi's rounding makes theta noisy)
            okn = np.isfinite(zn) & (dth < 0) & (zn >= lo) & (zn <= hi) & (it < 20)
            converged = okn & (np.abs(zn - z[idx]) <= 4 * EPS * np.abs(z[idx]))
            # bisection inside the bracket; above every point tried while none is above the root
            fallback = np.where(np.isfinite(hi), (lo + hi) / 2, rK[idx] + 2 * (z[idx] - rK[idx]))
            zn = np.where(okn, zn, fallback)
            at_pole = hi <= rK[idx] * (1 + POLE)
            zn = np.where(at_pole, rK[idx] * (1 + POLE), zn)
            done = at_pole | converged | (zn > 1e6) | (hi - lo <= 4 * EPS * lo)
            z[idx] = zn
            act[idx[done]] = False
        # the Ritz pair at the final z
        q, _ = self._q(z, e, b, fB, C)
        A = np.matmul(P.transpose(0, 2, 1), q[:, :, None] * P)
        A = (A + A.transpose(0, 2, 1)) / 2
        A[~np.all(np.isfinite(A), axis=(1, 2))] = 0
        w, U = np.linalg.eigh(A)
        y = U[:, :, -1]
        Py = np.einsum("gnk,gk->gn", P, y)
        dth = np.sum(self._dq(z, e, b, fB, 0, C) * Py * Py, axis=1)
        return z, w[:, -1], y, q, dth

    def solve(self, e, b, fB, z0=None):
        """(z, ok, (P y, rho(K), sharp)) for points (e, b, fB) (arrays): the root (where ok is false, a
        lower bound of rho), its check, and what the gradient needs (P y: (G, N)). ``z0``: warm starts
        (default 1). Points are solved in groups of one batch size, each group starting from the Ritz
        vectors its batch size left last time."""
        z0 = np.ones(e.size) if z0 is None else np.asarray(z0, dtype=float)
        z, rK = np.empty(e.size), np.empty(e.size)
        ok, sharp = np.empty(e.size, dtype=bool), np.empty(e.size, dtype=bool)
        Py = np.empty((e.size, self.F.shape[0]))
        for f in np.unique(fB):
            g = np.flatnonzero(fB == f)
            z[g], ok[g], sharp[g], Py[g], rK[g] = self._solve(e[g], b[g], fB[g], z0[g])
        return z, ok, (Py, rK, sharp)

    def _solve(self, e, b, fB, z0):
        """:meth:`solve` for points of one batch size: (z, ok, sharp, P y, rho(K)); ``sharp``: theta = 1
        to its rounding (else a root blurred by psi's rounding within 1e-6 (1 - rho(K)) of rho(K))."""
        G = e.size
        rK = deterministic_double(self.method, self.lam, e, b)[0]
        C = self._coeffs(e, b)
        z = np.maximum(z0, rK * (1 + 1e-6))
        z = np.where(np.isfinite(z), z, 1.0)
        F = self.F
        N, r = F.shape
        W0 = self.warm.get(float(fB[0]))
        # the first new direction, F^T q(z) F 1 / sqrt(r), also after a warm start: a warm basis can hold
        # an exact eigenvector of another mode (zero residual at that mode's root)
        q, _ = self._q(z, e, b, fB, C)
        V = (F.T @ (q * (F @ np.full(r, 1 / math.sqrt(r)))[None, :]).T).T    # G x r
        if W0 is not None:
            k0 = W0.shape[1]
            W = np.repeat(W0[None], G, axis=0)
            P = np.repeat((F @ W0)[None], G, axis=0)
        else:
            k0 = 0
            W = np.empty((G, r, 0))
            P = np.empty((G, N, 0))
        zlo = rK.copy()
        res = np.full(G, np.inf)                           # relative residual of each Ritz pair
        best, since = np.full(G, np.inf), np.zeros(G, dtype=int)
        theta, dth = np.full(G, np.nan), np.full(G, np.nan)
        y = np.zeros((G, k0))
        Rv = np.zeros((G, r))
        act = np.ones(G, dtype=bool)
        for it in range(MAX_DIM):
            idx = np.flatnonzero(act)
            # a new direction (orthogonalised twice) in the active points' subspaces, zero elsewhere
            Wn = np.zeros((G, r))
            Wi = (V if it == 0 else Rv)[idx]
            nrm0 = np.linalg.norm(Wi, axis=1)
            for _ in range(2):
                Wi -= np.einsum("grk,gk->gr", W[idx], np.einsum("grk,gr->gk", W[idx], Wi))
            nrm = np.linalg.norm(Wi, axis=1)
            with np.errstate(all="ignore"):
                Wi = Wi / nrm[:, None]
            Wi[~(nrm > 1e-8 * nrm0)] = 0         # nothing new (the subspace is invariant): no column
            Wn[idx] = Wi
            Pn = np.zeros((G, N))
            Pn[idx] = (F @ Wi.T).T
            W = np.concatenate([W, Wn[:, :, None]], axis=2)
            P = np.concatenate([P, Pn[:, :, None]], axis=2)
            y = np.concatenate([y, np.zeros((G, 1))], axis=1)
            Ci = (C[0][:, idx], C[1][:, idx])
            z[idx], theta[idx], y[idx], q, dth[idx] = self._projected_root(P[idx], z[idx], zlo[idx], e[idx],
                                                                          b[idx], fB[idx], rK[idx], Ci)
            U = np.einsum("grk,gk->gr", W[idx], y[idx])
            Rv[idx] = (F.T @ (q * np.einsum("gnk,gk->gn", P[idx], y[idx])).T).T - theta[idx, None] * U
            res[idx] = np.linalg.norm(Rv[idx], axis=1) / np.maximum(theta[idx], 1e-300)
            # a residual that has not halved in STALL steps sits at psi's rounding (near a pole)
            gain = res[idx] < best[idx] / 2
            since[idx] = np.where(gain, 0, since[idx] + 1)
            best[idx] = np.minimum(best[idx], res[idx])
            act[idx] = ~(res[idx] <= RES_TOL) & np.isfinite(res[idx]) & (since[idx] < STALL)
            if not act.any():
                break
        self.evaluations += G
        q, E = self._q(z, e, b, fB, C)
        ok = ((res <= RES_TOL) | (since >= STALL) & (res <= RES_FLOOR)) & np.all(E > 0, axis=1) & np.isfinite(z)
        at_pole = z <= rK * (1 + POLE)
        # theta = 1 to the resolution of z (theta_z ~ 1 / (z - rho(K))) and of psi (relative error
        # kappa eps, large near a pole; q's is kappa eps / E)
        with np.errstate(all="ignore"):
            kap = self.kappa(z[:, None], self.li, self.lj, e[:, None], b[:, None])
            Py = np.einsum("gnk,gk->gn", P, y)
            noise = 4 * EPS * np.sum(np.abs(q) * kap / np.abs(E) * Py * Py, axis=1)
            tol = 1e-10 + 64 * EPS * np.abs(z * dth) + noise
        sharp = ok & (at_pole & (theta <= 1 + tol) | ~at_pole & (np.abs(theta - 1) <= tol))
        # right above rho(K) psi may be rounding only (theta jumps by O(1) between neighbouring z): a
        # root found there is rho(K) to 1e-6 of 1 - rho(K), which is all a search needs
        blurred = ok & ~sharp & (z - rK <= 1e-6 * np.abs(1 - rK))
        z = np.where(at_pole, rK, z)
        self._keep(float(fB[0]), W, y, sharp)
        # where the check fails z is only a lower bound of rho: the projected root where theta >= 1 there
        # (a Ritz value is a lower bound of lambda_max(S(z)), and lambda_max(S) < 1 above rho(T)), else rho(K)
        good = sharp | blurred
        z = np.where(good | np.all(E > 0, axis=1) & np.isfinite(z) & (theta >= 1), z, rK)
        return z, good, sharp, Py, rK

    def _keep(self, f, W, y, ok):
        """The next call's starting basis at f_B = f: up to WARM Ritz vectors of this call's verified
        points, then the last ones."""
        idx = np.flatnonzero(ok)
        if not idx.size:
            return
        idx = idx[np.linspace(0, idx.size - 1, min(WARM, idx.size)).astype(int)]
        U = np.einsum("grk,gk->rg", W[idx], y[idx])
        if f in self.warm:
            U = np.concatenate([U, self.warm[f]], axis=1)[:, :WARM]
        Qm, Rm = np.linalg.qr(U)
        keep = np.abs(np.diag(Rm)) > 1e-8 * np.max(np.abs(np.diag(Rm)))
        self.warm[f] = Qm[:, keep]

    # -- the tuner's interface ------------------------------------------------------------------------
    def _params(self, x, w, batches):
        e = np.exp(np.asarray(x, dtype=float))
        b = -np.expm1(np.asarray(w, dtype=float)) if self.momentum else np.zeros_like(e)
        fB = np.array([batch_factor_value(self.model, B) for B in batches], dtype=float)
        return e, b, fB

    def rho(self, x, w, batches, z0=None):
        """(rho, ok) at the points (x, w) with a batch size each (B = inf: rho(K)); where ok is false,
        rho is a lower bound only (the projected root or rho(K))."""
        x, w = np.broadcast_arrays(np.atleast_1d(np.asarray(x, dtype=float)),
                                   np.atleast_1d(np.asarray(w, dtype=float)))
        e, b, fB = self._params(x, w, batches)
        z = np.empty(x.size)
        ok = np.ones(x.size, dtype=bool)
        det = fB == 0
        if det.any():
            z[det] = deterministic_double(self.method, self.lam, e[det], b[det])[0]
        if (~det).any():
            s = ~det
            z[s], ok[s], _ = self.solve(e[s], b[s], fB[s], None if z0 is None else np.asarray(z0)[s])
        return z, ok

    def rho_gradient(self, x, w, z0, batches):
        """(rho, g (G, 2), ok, verified) at the points (x, w): the root and dz/d(x, w) =
        -theta_p / theta_z p' (``ok``: the gradient exists, not at rho(K)); ``verified``: rho passed
        the check (at rho(K) too)."""
        x, w = np.broadcast_arrays(np.atleast_1d(np.asarray(x, dtype=float)),
                                   np.atleast_1d(np.asarray(w, dtype=float)))
        e, b, fB = self._params(x, w, batches)
        z, verified, (Py, rK, sharp) = self.solve(e, b, fB, z0)
        zz = np.where(z > rK, z, rK * (1 + POLE))
        th = [np.sum(self._dq(zz, e, b, fB, k) * Py * Py, axis=1) for k in (0, 1, 2)]
        with np.errstate(all="ignore"):
            gx = -th[1] / th[0] * e
            gw = th[2] / th[0] * (1 - b) if self.momentum else np.zeros_like(gx)
        g = np.stack([gx, gw], axis=-1)
        ok = sharp & (z > rK) & (th[0] < 0) & np.all(np.isfinite(g), axis=-1)
        g[~ok] = np.nan
        return z, g, ok, verified
