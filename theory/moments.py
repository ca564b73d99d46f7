"""First- and second-moment operators of a method under a sampling model (MATH.md §4-5).

Symmetric matrices are handled in the half-vectorised ("vech") basis: the upper triangle, row by row.
That basis has no spurious repeated eigenvalues (unlike the Kronecker form on all of R^{m x m}).

Second moment of z_k (size sd x sd):

    T(S) = Mbar S Mbar^T + (b ⊗ I) C_B((c^T ⊗ I) S (c ⊗ I)) (b ⊗ I)^T,   Mbar = A ⊗ I + b c^T ⊗ H.
"""
from __future__ import annotations

from functools import lru_cache

import sympy as sp

from . import symbols
from .methods import Method
from .sampling import DecoupledNoise, SamplingModel, batch_factor


# --------------------------------------------------------------------------------------------------
# the vech basis
# --------------------------------------------------------------------------------------------------
from .vech import vech_index  # noqa: E402  (SymPy-free: the numeric dense route imports it alone)


def vech(S: sp.Matrix) -> sp.Matrix:
    """Upper triangle of a symmetric matrix as a column."""
    return sp.Matrix([S[i, j] for i, j in vech_index(S.shape[0])])


def unvech(v, m: int) -> sp.Matrix:
    """Inverse of :func:`vech`."""
    S = sp.zeros(m, m)
    for k, (i, j) in enumerate(vech_index(m)):
        S[i, j] = S[j, i] = v[k]
    return S


def matrix_in_vech_basis(linear_map, m: int) -> sp.Matrix:
    """Matrix of a linear map on symmetric m x m matrices in the vech basis (columns = images of E_ij + E_ji)."""
    idx = vech_index(m)
    cols = []
    for k in range(len(idx)):
        e = [0] * len(idx)
        e[k] = 1
        cols.append(vech(sp.expand(linear_map(unvech(e, m)))))
    return sp.Matrix.hstack(*cols)


# --------------------------------------------------------------------------------------------------
# first moment
# --------------------------------------------------------------------------------------------------
def first_moment_block(method: Method, lam=symbols.lam) -> sp.Matrix:
    """A + lambda b c^T: E z_{k+1} = (A ⊗ I + b c^T ⊗ H) E z_k on the eigen-direction of lambda."""
    return method.block(lam)


def first_moment_operator(method: Method, H: sp.Matrix) -> sp.Matrix:
    """Mbar = A ⊗ I + b c^T ⊗ H (size sd x sd)."""
    d = H.shape[0]
    return sp.Matrix(sp.kronecker_product(method.A, sp.eye(d)) + sp.kronecker_product(method.b * method.c.T, H))


# --------------------------------------------------------------------------------------------------
# second moment, full operator
# --------------------------------------------------------------------------------------------------
def apply_second_moment(method: Method, model: SamplingModel, S: sp.Matrix, batch=symbols.B) -> sp.Matrix:
    """T(S) for a symmetric sd x sd matrix S (exact)."""
    H = model.hessian()
    d = H.shape[0]
    Mbar = first_moment_operator(method, H)
    bI = sp.kronecker_product(method.b, sp.eye(d))
    cI = sp.kronecker_product(method.c, sp.eye(d))
    Y = cI.T * S * cI
    return Mbar * S * Mbar.T + bI * model.covariance(Y, batch) * bI.T


def second_moment_operator(method: Method, model: SamplingModel, batch=symbols.B) -> sp.Matrix:
    """Matrix of T in the vech basis of symmetric sd x sd matrices (size sd(sd+1)/2)."""
    m = method.s * model.hessian().shape[0]
    return matrix_in_vech_basis(lambda S: apply_second_moment(method, model, S, batch), m)


# --------------------------------------------------------------------------------------------------
# second moment, decoupled reduction (MATH.md §5)
# --------------------------------------------------------------------------------------------------
def decoupled_block(method: Method, noise: DecoupledNoise, batch=symbols.B, fB=None):
    """Per-eigenvalue block D(lambda) and coupling u(lambda), v(lambda) in the vech basis of s x s blocks.

    D(Sigma) = M Sigma M^T + f_B alpha(lambda) b b^T (c^T Sigma c),   M = A + lambda b c^T,
    u = f_B w(lambda) vech(b b^T),   v^T vech(Sigma) = omega(lambda) c^T Sigma c,
    so that T = blockdiag(D(lambda_i)) + u v^T on the diagonal blocks Sigma_i of S.
    ``fB`` overrides the batch factor (e.g. a symbol) when given.
    """
    lam = symbols.lam
    f = batch_factor(batch) if fB is None else fB
    M = method.block(lam)
    b, c = method.b, method.c
    s = method.s

    D = matrix_in_vech_basis(lambda Sig: M * Sig * M.T + f * noise.alpha * b * b.T * (c.T * Sig * c)[0, 0], s)
    u = f * noise.w * vech(b * b.T)
    v = sp.Matrix([noise.omega * (c[i] * c[j] * (1 if i == j else 2)) for i, j in vech_index(s)])
    return D, u, v


@lru_cache(maxsize=None)
def secular_term(method: Method, noise: DecoupledNoise, fB=None) -> sp.Expr:
    """phi(z, lambda) = v^T (z I - D)^{-1} u: one eigenvalue's share of F(z) = sum_i phi(z, lambda_i).

    Returned as a single cancelled fraction in z, lambda, eta, beta and the batch factor symbol ``f_B``.
    """
    f = sp.Symbol("f_B", nonnegative=True) if fB is None else fB
    D, u, v = decoupled_block(method, noise, fB=f)
    k = D.shape[0]
    Mz = symbols.z * sp.eye(k) - D
    # v^T adj(Mz) u = det(Mz + u v^T) - det(Mz) (the matrix determinant lemma): two division-free
    # determinants instead of the k^2 minors of the adjugate (AggMo, k = 6: 17 s instead of 180 s)
    den = Mz.det(method="berkowitz")
    num = sp.expand((Mz + u * v.T).det(method="berkowitz") - den)
    return sp.factor(sp.cancel(num / den))
