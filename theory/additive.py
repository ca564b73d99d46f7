"""Additive gradient noise (MATH.md §8): g = grad f(x) + sigma v, E v = 0, Cov v = Sigma.

On the quadratics of MATH.md §1 the moment recursions of every method (A, b, c) become affine:

    E z+ = Mbar E z,     S+ = T(S) + sigma^2 (b b^T) ⊗ Sigma,     Mbar = A ⊗ I + b c^T ⊗ H,

with T the second-moment map of MATH.md §4 (T(S) = Mbar S Mbar^T alone, plus the mini-batch term
(b ⊗ I) C_B(...) (b ⊗ I)^T when the noise sits on top of mini-batch noise), and E f = (1/2) tr(H S_00)
(S_00 the top-left d x d block, x* = 0 after the shift).

Also here, derived from the same triples: the momentum-state forms of SGDM (dampened and undampened)
and the similarity that maps them onto the (e_k, e_{k-1}) state; the one-step descent expansion
(Proposition 2.4 of Wang et al. 2024); SVAG's oracle moments; stationary second moments; the exact
null-direction (flat manifold) variance.
"""
from __future__ import annotations

import sympy as sp

from . import symbols
from .errors import InputError
from .methods import Method
from .moments import apply_second_moment, decoupled_block, first_moment_operator, vech
from .sampling import DecoupledNoise, SamplingModel

eta, beta, lam, sigma = symbols.eta, symbols.beta, symbols.lam, symbols.sigma
gamma = sp.Symbol("gamma", positive=True)     # step of the undampened form
mu_m = sp.Symbol("mu", nonnegative=True)      # momentum of the undampened form (not lambda_min here)
ell = sp.Symbol("l", positive=True)           # SVAG parameter l >= 1
t = sp.Symbol("t", positive=True)             # continuous time
k = sp.Symbol("k", positive=True, integer=True)  # step counter

#: eigenvalue s(lambda) of Sigma on H's eigenvector of eigenvalue lambda, for the decoupled kinds
SIGMA_SPECTRA = {"identity": sp.Integer(1), "hessian": lam}
NOISE_COVARIANCES = ("identity", "hessian")

# a second-moment map with no multiplicative noise (used for the deterministic part of the blocks)
_NO_NOISE = DecoupledNoise(sp.Integer(0), sp.Integer(0), sp.Integer(0))


# --------------------------------------------------------------------------------------------------
# the noise covariance and the affine recursion
# --------------------------------------------------------------------------------------------------
def noise_covariance(kind, H: sp.Matrix) -> sp.Matrix:
    """Sigma = I, H, or a given symmetric matrix (a list of rows or a SymPy matrix) of H's size."""
    d = H.shape[0]
    if isinstance(kind, str):
        if kind == "identity":
            return sp.eye(d)
        if kind == "hessian":
            return sp.Matrix(H)
        raise InputError("noise-cov", f"unknown covariance {kind!r} (choose from identity, hessian or a matrix)")
    S = sp.Matrix(kind)
    if S.shape != (d, d):
        raise InputError("noise-cov", f"must be {d} x {d}, got {S.shape[0]} x {S.shape[1]}")
    if S != S.T:
        raise InputError("noise-cov", "must be symmetric")
    return S


def forcing(method: Method, Sigma: sp.Matrix, sigma2=sigma**2) -> sp.Matrix:
    """The constant term sigma^2 (b b^T) ⊗ Sigma of the second-moment recursion."""
    return sigma2 * sp.Matrix(sp.kronecker_product(method.b * method.b.T, Sigma))


def affine_second_moment(method: Method, S: sp.Matrix, H: sp.Matrix, Sigma: sp.Matrix, sigma2=sigma**2,
                         model: SamplingModel | None = None, batch=symbols.B) -> sp.Matrix:
    """S+ = T(S) + sigma^2 (b b^T) ⊗ Sigma.

    Without ``model``: T(S) = Mbar S Mbar^T (additive noise alone, any symmetric H). With a sampling
    model the mini-batch term of MATH.md §4 is added (additive noise on top of mini-batch noise); then H
    is the model's Hessian.
    """
    if model is None:
        Mbar = first_moment_operator(method, H)
        lin = Mbar * S * Mbar.T
    else:
        lin = apply_second_moment(method, model, S, batch)
    return lin + forcing(method, Sigma, sigma2)


def expected_loss(S: sp.Matrix, H: sp.Matrix):
    """E f = (1/2) tr(H E[e e^T]) with E[e e^T] the top-left d x d block of S."""
    d = H.shape[0]
    return (H * S[:d, :d]).trace() / 2


def decoupled_forcing(method: Method, kind: str = "identity", sigma2=sigma**2) -> sp.Matrix:
    """Per-eigenvalue forcing sigma^2 s(lambda) vech(b b^T) when Sigma shares H's eigenvectors
    (s = 1 for identity, s = lambda for the Hessian); added to D(lambda) x + u (v . x) of MATH.md §5."""
    if kind not in SIGMA_SPECTRA:
        raise InputError("noise-cov", f"unknown covariance {kind!r} (choose from {', '.join(SIGMA_SPECTRA)})")
    return sigma2 * SIGMA_SPECTRA[kind] * vech(method.b * method.b.T)


# --------------------------------------------------------------------------------------------------
# formulations of SGDM
# --------------------------------------------------------------------------------------------------
def momentum_state_form(kind: str) -> tuple[Method, sp.Matrix]:
    """SGDM on the state (x, m) and the similarity P with (e_k, e_{k-1}) = (P ⊗ I)(e_k, m_k).

    dampened:   m+ = beta m + (1 - beta) g,  x+ = x - eta m+      (x_{k-1} = x_k + eta m_k)
    undampened: m+ = mu m + g,               x+ = x - gamma m+    (x_{k-1} = x_k + gamma m_k)
    Zero initial momentum m_0 = 0 is x_{-1} = x_0.
    """
    if kind == "dampened":
        step, mom, damp = eta, beta, 1 - beta
    elif kind == "undampened":
        step, mom, damp = gamma, mu_m, sp.Integer(1)
    else:
        raise InputError("form", f"unknown form {kind!r} (dampened or undampened)")
    A = sp.ImmutableMatrix([[1, -step * mom], [0, mom]])
    b = sp.ImmutableMatrix([-step * damp, damp])
    c = sp.ImmutableMatrix([1, 0])
    m = Method(f"sgdm-{kind}-xm", A, b, c, f"{kind} SGDM on the state (x, m)")
    return m, sp.Matrix([[1, 0], [1, step]])


def undampened_parameters():
    """gamma = eta (1 - beta), mu = beta: the undampened form of SGDM(eta, beta)."""
    return {gamma: eta * (1 - beta), mu_m: beta}


# --------------------------------------------------------------------------------------------------
# descent lemma (Proposition 2.4) and its SGDM analogue
# --------------------------------------------------------------------------------------------------
def one_step_loss_change(method: Method, H: sp.Matrix, Sigma: sp.Matrix, e, e_prev, sigma2=sigma**2):
    """E f(x_{k+1}) - f(x_k) given the state z_k = (e, e_prev), read off the affine recursion."""
    z = sp.Matrix.vstack(sp.Matrix(e), sp.Matrix(e_prev))
    S1 = affine_second_moment(method, z * z.T, H, Sigma, sigma2)
    return sp.expand(expected_loss(S1, H) - expected_loss(z * z.T, H))


def descent_lemma_sgd(grad, H, Sigma, step=eta, sigma2=sigma**2):
    """Proposition 2.4 as reported: -eta |grad|^2 + (eta^2/2) grad^T H grad + (eta^2 sigma^2/2) tr(H Sigma)."""
    g = sp.Matrix(grad)
    return (-step * (g.T * g)[0, 0] + step**2 / 2 * (g.T * H * g)[0, 0]
            + step**2 * sigma2 / 2 * (H * Sigma).trace())


def descent_lemma_sgdm(grad, m, H, Sigma, step=eta, mom=beta, sigma2=sigma**2):
    """The same expansion for dampened SGDM with direction d = beta m + (1 - beta) grad:
    -eta grad^T d + (eta^2/2) d^T H d + (eta^2 (1 - beta)^2 sigma^2 / 2) tr(H Sigma)."""
    g, mm = sp.Matrix(grad), sp.Matrix(m)
    dirn = mom * mm + (1 - mom) * g
    return (-step * (g.T * dirn)[0, 0] + step**2 / 2 * (dirn.T * H * dirn)[0, 0]
            + step**2 * (1 - mom)**2 * sigma2 / 2 * (H * Sigma).trace())


# --------------------------------------------------------------------------------------------------
# SVAG (Definition 5.1)
# --------------------------------------------------------------------------------------------------
def svag_weights(l=ell):
    """r1, r2 = (1 ± sqrt(2 l - 1)) / 2."""
    root = sp.sqrt(2 * l - 1)
    return (1 + root) / 2, (1 - root) / 2


def svag_oracle_moments(mean, cov, l=ell):
    """Mean and covariance of r1 g1 + r2 g2 for two independent oracle calls with the given moments."""
    r1, r2 = svag_weights(l)
    return sp.simplify((r1 + r2) * sp.Matrix(mean)), sp.simplify((r1**2 + r2**2) * sp.Matrix(cov))


def svag_parameters(l, step=eta, sigma2=sigma**2):
    """SVAG as an additive-noise process: (step / l, noise variance scale (r1^2 + r2^2) sigma^2, steps x l).

    The variance factor is derived from :func:`svag_oracle_moments`; on top of mini-batch noise the
    batch factor f_B is multiplied by the same factor.
    """
    _, cov = svag_oracle_moments(sp.Matrix([0]), sp.Matrix([[1]]), l)
    return step / l, sp.simplify(cov[0, 0] * sigma2), l


# --------------------------------------------------------------------------------------------------
# stationary second moment and the flat (null) direction
# --------------------------------------------------------------------------------------------------
def stationary_block(method: Method, kind: str = "identity", sigma2=sigma**2) -> sp.Matrix:
    """vech of the stationary s x s block per eigenvalue lambda (additive noise alone):
    X = D0(lambda) X + sigma^2 s(lambda) vech(b b^T), D0 the noiseless second-moment block. Exists when
    the first-moment block is stable."""
    D0, _, _ = decoupled_block(method, _NO_NOISE, fB=0)
    F = decoupled_forcing(method, kind, sigma2)
    X = (sp.eye(D0.shape[0]) - D0).LUsolve(F)
    return sp.simplify(X)


def stationary_with_batch(method: Method, noise: DecoupledNoise, spectrum, fB, kind: str = "identity",
                          sigma2=sigma**2) -> list[sp.Matrix]:
    """Stationary per-eigenvalue blocks with additive noise on top of decoupled mini-batch noise:
    X_i = D_i X_i + u_i (sum_j v_j . X_j) + F_i, solved by Sherman-Morrison:
    X_i = a_i + c_i tau, a_i = (I - D_i)^{-1} F_i, c_i = (I - D_i)^{-1} u_i,
    tau = sum v_i . a_i / (1 - sum v_i . c_i)   (1 - F(1) > 0 iff rho(T) < 1)."""
    D, u, v = decoupled_block(method, noise, fB=fB)
    F = decoupled_forcing(method, kind, sigma2)
    tr = sum(sp.sympify(x) for x in spectrum)
    a_s, c_s, v_s = [], [], []
    for li in spectrum:
        sub = {lam: li, symbols.tau: tr}
        I_D = sp.eye(D.shape[0]) - D.subs(sub)
        a_s.append(I_D.LUsolve(F.subs(sub)))
        c_s.append(I_D.LUsolve(u.subs(sub)))
        v_s.append(v.subs(sub))
    num = sum((vi.T * ai)[0, 0] for vi, ai in zip(v_s, a_s))
    den = 1 - sum((vi.T * ci)[0, 0] for vi, ci in zip(v_s, c_s))
    tau_ = num / den
    return [sp.cancel(ai + ci * tau_) for ai, ci in zip(a_s, c_s)]


def null_direction_moments(method: Method, steps=k, sigma2=sigma**2) -> sp.Matrix:
    """vech of the s x s block at step ``steps`` on a direction with lambda = 0 (flat manifold), started
    from zero (the mean stays at its initial value there), per unit noise eigenvalue s = 1.

    X_k = sum_{j<k} D0^j F, summed in closed form through the eigen-decomposition of D0(0)
    (eigenvalues 1, beta, beta^2 for momentum methods, the 1 giving the linear growth in k).
    """
    D0, _, _ = decoupled_block(method, _NO_NOISE, fB=0)
    D0 = sp.simplify(D0.subs(lam, 0))
    F = decoupled_forcing(method, "identity", sigma2)
    P, J = D0.diagonalize()
    geo = []
    for i in range(J.shape[0]):
        r = sp.simplify(J[i, i])
        geo.append(steps if r == 1 else (1 - r**steps) / (1 - r))
    X = P * sp.diag(*geo) * P.inv() * F
    return sp.simplify(X)
