"""rho(T) of the dense route at many (eta, beta) points at once: the tuner's evaluator for small coupled models.

In the vech basis of symmetric (s d) x (s d) matrices (MATH.md §4)

    T(S) = Mbar S Mbar^T + f_B (b b^T) ⊗ C(Y),   Y = (c^T ⊗ I) S (c ⊗ I),   C(Y) = E[G Y G^T] - H Y H,

with Mbar = A ⊗ I + (b c^T) ⊗ H. The noise map C does not depend on (eta, beta): it is tabulated once
per model (one application of the model's ``second_moment_array`` per vech basis element), so the
matrix of T at G points is a few vectorised products, and rho = max |eigenvalue| comes from one
batched ``numpy.linalg.eigvals`` call. The values serve the search only (no error bound, eigenvalues
of a near-defective T are accurate to about sqrt(eps)); the tuner reports rho from
``rates.spectral_radius``. The tests check this matrix against ``SecondMomentOperator.vech_matrix``.
"""
from __future__ import annotations

import numpy as np

from .operators import as_method, batch_factor_value, triple_kernel

_CHUNK_ENTRIES = 2_000_000   # matrix entries per batched eigvals call (~16 MB a temporary array)


class DenseBatch:
    """rho(T) over arrays of (eta, beta) for one method, model and batch size (dense route, double).

    >>> import numpy as np
    >>> from momentum_verify.theory.sampling import Kaczmarz
    >>> from momentum_verify.numerics.rates import spectral_radius
    >>> model = Kaczmarz(np.array([[1.0, 0.0], [1.0, 1.0], [0.0, 2.0]]))
    >>> ev = DenseBatch("heavy-ball", model, 1)
    >>> r = ev.rho(np.array([0.5]), np.array([0.2]))
    >>> abs(float(r[0]) - float(spectral_radius("heavy-ball", model, 1, 0.5, 0.2).rho)) < 1e-10
    True
    """

    def __init__(self, method, model, batch):
        self.method = as_method(method)
        self.model, self.batch = model, batch
        self.fB = batch_factor_value(model, batch)
        self.H = np.asarray(model.hessian_array(np), dtype=float)
        d, s = self.H.shape[0], self.method.s
        self.d, self.s = d, s
        M = s * d
        iu, ju = np.triu_indices(M)                 # vech positions (i <= j), the same for rows and columns
        self.P, self.Q = iu[:, None], ju[:, None]   # rows
        self.I, self.J = iu[None, :], ju[None, :]   # columns
        self.off = (iu != ju)[None, :].astype(float)
        self.aP, self.aQ, self.aI, self.aJ = iu // d, ju // d, iu // d, ju // d
        kI, kJ = iu % d, ju % d
        # the noise map on each column's output moment: Y(E_IJ) = c_aI c_aJ Ybase(kI, kJ)
        data = model.operator_data(np)
        N = np.empty((iu.size, iu.size))
        for col in range(iu.size):
            Y = np.zeros((d, d))
            Y[kI[col], kJ[col]] += 1.0
            if iu[col] != ju[col]:
                Y[kJ[col], kI[col]] += 1.0
            C = model.second_moment_array(Y, data, np) - self.H @ Y @ self.H.T
            N[:, col] = C[kI, kJ]                   # rows (P, Q) read C at (P mod d, Q mod d)
        self.N = N
        self.kernel = triple_kernel(self.method)
        self.evaluations = 0

    def matrices(self, eta, beta) -> np.ndarray:
        """The vech matrices of T at the points, shape (G, N, N)."""
        eta, beta = np.atleast_1d(np.asarray(eta, dtype=float)), np.atleast_1d(np.asarray(beta, dtype=float))
        A, b, c = self.kernel(eta, beta)
        A, b, c = np.asarray(A, dtype=float), np.asarray(b, dtype=float), np.asarray(c, dtype=float)
        G, d, s = eta.size, self.d, self.s
        Mb = (np.einsum("gab,pq->gapbq", A, np.eye(d)) +
              np.einsum("ga,gb,pq->gapbq", b, c, self.H)).reshape(G, s * d, s * d)
        T = Mb[:, self.P, self.I] * Mb[:, self.Q, self.J]
        T += self.off * (Mb[:, self.P, self.J] * Mb[:, self.Q, self.I])
        if self.fB != 0.0:
            rb = b[:, self.aP] * b[:, self.aQ]      # (G, N) row factors
            cc = c[:, self.aI] * c[:, self.aJ]      # (G, N) column factors
            T += self.fB * rb[:, :, None] * cc[:, None, :] * self.N[None, :, :]
        return T

    def rho(self, eta, beta) -> np.ndarray:
        """max |eigenvalue of T| at each point (inf where not finite or beta >= 1)."""
        eta, beta = np.broadcast_arrays(np.atleast_1d(np.asarray(eta, dtype=float)),
                                        np.atleast_1d(np.asarray(beta, dtype=float)))
        shape = eta.shape
        eta, beta = eta.ravel(), beta.ravel()
        self.evaluations += eta.size
        out = np.full(eta.size, np.inf)
        good = np.isfinite(eta) & (eta > 0) & (beta < 1)
        idx = np.flatnonzero(good)
        chunk = max(1, min(128, _CHUNK_ENTRIES // self.N.size))
        for k in range(0, idx.size, chunk):
            sel = idx[k:k + chunk]
            with np.errstate(all="ignore"):
                T = self.matrices(eta[sel], beta[sel])
                fin = np.all(np.isfinite(T), axis=(1, 2))
                r = np.full(sel.size, np.inf)
                if fin.any():
                    r[fin] = np.max(np.abs(np.linalg.eigvals(T[fin])), axis=-1)
            out[sel] = r
        out[np.isfinite(eta) & (eta == 0)] = 1.0
        return out.reshape(shape)
