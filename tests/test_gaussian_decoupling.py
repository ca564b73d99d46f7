"""The decoupled gaussian block + coupling (MATH.md §5) equals the full Kronecker second-moment
operator built from the exact Gaussian fourth moment (Isserlis), symbolically (d = 2) and
numerically (d <= 6)."""
import itertools

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, strategies as st

from momentum_verify.numerics.operators import DecoupledProblem
from momentum_verify.theory import symbols
from momentum_verify.theory.methods import METHODS
from momentum_verify.theory.moments import decoupled_block
from momentum_verify.theory.sampling import GAUSSIAN_NOISE, Gaussian


def isserlis_fourth(H, zeros, kron):
    """K with vec(E[x x^T Y x x^T]) = K vec(Y) (row-major vec), from E[x_a x_j x_k x_b] by Isserlis."""
    d = H.shape[0]
    K = zeros(d * d, d * d)
    for a, b, j, k in itertools.product(range(d), repeat=4):
        K[a * d + b, j * d + k] = H[a, j] * H[k, b] + H[a, k] * H[j, b] + H[a, b] * H[j, k]
    return K


def kronecker_T(A, b, c, H, fB, lib):
    """(sd)^2 x (sd)^2 matrix of T on vec(S): Mbar⊗Mbar + f_B (bI⊗bI)(K4 - H⊗H)(cI^T⊗cI^T)."""
    kron, eye = lib
    d = H.shape[0]
    Mbar = kron(A, eye(d)) + kron(b @ c.T, H)
    bI, cI = kron(b, eye(d)), kron(c, eye(d))
    zeros = (lambda r, q: sp.zeros(r, q)) if kron is sp.kronecker_product else (lambda r, q: np.zeros((r, q)))
    K4 = isserlis_fourth(H, zeros, kron)
    return kron(Mbar, Mbar) + fB * kron(bI, bI) @ (K4 - kron(H, H)) @ kron(cI.T, cI.T)


def restrict_to_diagonal_blocks(Tk, s, d):
    """Matrix of T on the diagonal s x s blocks Sigma_i (vech order per block), read off the Kronecker form."""
    pairs = [(a, b) for a in range(s) for b in range(a, s)]
    coords = [(i, a, b) for i in range(d) for a, b in pairs]
    m = s * d
    out = [[0] * len(coords) for _ in coords]
    for col, (i, a, b) in enumerate(coords):
        src = {(a * d + i) * m + (b * d + i), (b * d + i) * m + (a * d + i)}
        for row, (j, p, q) in enumerate(coords):
            tgt = (p * d + j) * m + (q * d + j)
            out[row][col] = sum(Tk[tgt, k] for k in src)
    return out


@pytest.mark.parametrize("name", list(METHODS))
def test_symbolic_d2(name):
    method = METHODS[name]
    l1, l2 = sp.symbols("l1 l2", positive=True)
    H = sp.diag(l1, l2)
    # the fourth moment used by the model is Isserlis' (for this H)
    Y = sp.Matrix(2, 2, sp.symbols("y0:4"))
    K4 = isserlis_fourth(H, sp.zeros, sp.kronecker_product)
    vecY = sp.Matrix([Y[i, j] for i in range(2) for j in range(2)])
    assert sp.expand(sp.Matrix(K4 @ vecY) - sp.Matrix(Gaussian([l1, l2]).second_moment(Y).reshape(4, 1))) == sp.zeros(4, 1)

    fB = 1 / symbols.B
    Tk = kronecker_T(sp.Matrix(method.A), sp.Matrix(method.b), sp.Matrix(method.c), H, fB,
                     (sp.kronecker_product, sp.eye))
    R = sp.Matrix(restrict_to_diagonal_blocks(Tk, method.s, 2))
    D, u, v = decoupled_block(method, GAUSSIAN_NOISE)
    blocks = [D.subs(symbols.lam, l) for l in (l1, l2)]
    us = [u.subs(symbols.lam, l) for l in (l1, l2)]
    vs = [v.subs(symbols.lam, l) for l in (l1, l2)]
    expected = sp.diag(*blocks) + sp.Matrix.vstack(*us) * sp.Matrix.vstack(*vs).T
    assert sp.simplify(R - expected) == sp.zeros(*R.shape)


def test_symbolic_detects_wrong_fourth_moment():
    """Negative control: with the fourth moment H Y H + tr(HY) H (a factor 2 lost) the comparison fails."""
    method = METHODS["heavy-ball"]
    l1, l2 = sp.symbols("l1 l2", positive=True)
    H = sp.diag(l1, l2)
    d = 2
    Mbar = sp.kronecker_product(method.A, sp.eye(d)) + sp.kronecker_product(method.b * method.c.T, H)
    bI, cI = sp.kronecker_product(method.b, sp.eye(d)), sp.kronecker_product(method.c, sp.eye(d))
    K_wrong = sp.kronecker_product(H, H) + sp.Matrix(4, 4, lambda r, q: H[r // 2, r % 2] * H[q // 2, q % 2])
    Tk = sp.kronecker_product(Mbar, Mbar) + (1 / symbols.B) * sp.kronecker_product(bI, bI) * (
        K_wrong - sp.kronecker_product(H, H)) * sp.kronecker_product(cI.T, cI.T)
    R = sp.Matrix(restrict_to_diagonal_blocks(Tk, 2, 2))
    D, u, v = decoupled_block(method, GAUSSIAN_NOISE)
    expected = sp.diag(D.subs(symbols.lam, l1), D.subs(symbols.lam, l2)) + \
        sp.Matrix.vstack(u.subs(symbols.lam, l1), u.subs(symbols.lam, l2)) * \
        sp.Matrix.vstack(v.subs(symbols.lam, l1), v.subs(symbols.lam, l2)).T
    assert sp.simplify(R - expected) != sp.zeros(*R.shape)


@given(d=st.integers(1, 6), name=st.sampled_from(list(METHODS)),
       lr=st.floats(0.01, 1.5), mom=st.floats(0, 0.95), batch=st.integers(1, 20),
       seed=st.integers(0, 2**31 - 1))
def test_numeric_up_to_d6(d, name, lr, mom, batch, seed):
    rng = np.random.default_rng(seed)
    spec = rng.uniform(0.05, 1.0, size=d)
    method = METHODS[name]
    from momentum_verify.numerics.operators import method_arrays
    A, b, c = method_arrays(method, lr, mom)
    Tk = kronecker_T(A, b[:, None], c[:, None], np.diag(spec), 1.0 / batch, (np.kron, np.eye))
    R = np.array(restrict_to_diagonal_blocks(Tk, method.s, d))
    P = DecoupledProblem(method, Gaussian(spec), batch, lr, mom)
    # DecoupledProblem orders eigenvalues ascending: permute the Kronecker side the same way
    order = np.argsort(spec, kind="stable")
    k = 3
    perm = np.concatenate([np.arange(i * k, (i + 1) * k) for i in order])
    assert np.allclose(R[np.ix_(perm, perm)], P.dense(), rtol=1e-12, atol=1e-12 * np.abs(R).max())
