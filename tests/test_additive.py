"""Additive noise (theory.additive): the SGDM formulations are one process, the descent lemma, SVAG's
moments, stationary and flat-direction second moments; each identity is exact and each has a mutated
twin that must fail (so a wrong coefficient is caught)."""
from fractions import Fraction
from itertools import product

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, strategies as st

from momentum_verify.numerics.weak_approx import loss_curve, noise_matrix
from momentum_verify.numerics.operators import SecondMomentOperator, method_arrays
from momentum_verify.theory import symbols
from momentum_verify.theory.additive import (
    affine_second_moment, decoupled_forcing, descent_lemma_sgd, descent_lemma_sgdm, ell, forcing,
    gamma, k, momentum_state_form, mu_m, noise_covariance, null_direction_moments, one_step_loss_change,
    stationary_block, stationary_with_batch, svag_oracle_moments, svag_parameters, svag_weights,
    undampened_parameters,
)
from momentum_verify.theory.errors import InputError
from momentum_verify.theory.methods import METHODS
from momentum_verify.theory.sampling import FiniteSum, GAUSSIAN_NOISE, Gaussian

eta, beta, lam, sigma = symbols.eta, symbols.beta, symbols.lam, symbols.sigma
h11, h12, h22, s11, s12, s22 = sp.symbols("h11 h12 h22 s11 s12 s22")
H2 = sp.Matrix([[h11, h12], [h12, h22]])
SIG2 = sp.Matrix([[s11, s12], [s12, s22]])


def _sym_S(m):
    S = sp.zeros(m, m)
    for i in range(m):
        for j in range(i, m):
            S[i, j] = S[j, i] = sp.Symbol(f"S{i}{j}")
    return S


def _zero(M):
    return sp.simplify(sp.expand(M)) == sp.zeros(*M.shape)


# --------------------------------------------------------------------------------------------------
# formulations: dampened SGDM = undampened (gamma, mu) = heavy ball, on the affine moment operators
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind, target", [("dampened", METHODS["sgdm"]),
                                          ("undampened", METHODS["heavy-ball"].at(eta=gamma, beta=mu_m))])
def test_momentum_state_form_is_the_triple(kind, target):
    m, P = momentum_state_form(kind)
    assert _zero(P * m.A * P.inv() - target.A)
    assert _zero(P * m.b - target.b)
    assert _zero((m.c.T * P.inv()) - target.c.T)
    # zero initial momentum m_0 = 0 is x_{-1} = x_0
    x0 = sp.Symbol("x0")
    assert P * sp.Matrix([x0, 0]) == sp.Matrix([x0, x0])


@pytest.mark.parametrize("kind", ["dampened", "undampened"])
def test_momentum_state_form_same_affine_second_moment(kind):
    """(P ⊗ I)(T_m(S) + F_m)(P ⊗ I)^T = T_z((P ⊗ I) S (P ⊗ I)^T) + F_z for every symmetric S (general H, Sigma)."""
    m, P = momentum_state_form(kind)
    z = METHODS["sgdm"] if kind == "dampened" else METHODS["heavy-ball"].at(eta=gamma, beta=mu_m)
    PI = sp.kronecker_product(P, sp.eye(2))
    S = _sym_S(4)
    lhs = PI * affine_second_moment(m, S, H2, SIG2) * PI.T
    rhs = affine_second_moment(z, PI * S * PI.T, H2, SIG2)
    assert _zero(lhs - rhs)


def test_dampened_equals_undampened_and_heavy_ball_with_minibatch_noise():
    """SGDM(eta, beta) and the undampened form at gamma = eta (1 - beta), mu = beta: identical affine maps,
    additive noise on top of gaussian mini-batch noise."""
    l1, l2 = sp.symbols("l1 l2", positive=True)
    model = Gaussian([l1, l2])
    H = model.hessian()
    S = _sym_S(4)
    und = METHODS["heavy-ball"].at(eta=gamma, beta=mu_m)
    a = affine_second_moment(METHODS["sgdm"], S, H, SIG2, model=model)
    b = affine_second_moment(und, S, H, SIG2, model=model).subs(undampened_parameters())
    assert _zero(a - b)
    # mutation: the undampened form at gamma = eta (forgetting the damping) is a different process
    wrong = affine_second_moment(und, S, H, SIG2, model=model).subs({gamma: eta, mu_m: beta})
    assert not _zero(a - wrong)


def test_forcing_is_b_bT_kron_sigma():
    F = forcing(METHODS["sgdm"], SIG2)
    assert F[:2, :2] == sigma**2 * eta**2 * (1 - beta) ** 2 * SIG2
    assert F[2:, :] == sp.zeros(2, 4)
    assert decoupled_forcing(METHODS["sgd"], "hessian") == sp.Matrix([sigma**2 * eta**2 * lam, 0, 0])


def test_noise_covariance_kinds_and_errors():
    assert noise_covariance("identity", H2) == sp.eye(2)
    assert noise_covariance("hessian", H2) == H2
    with pytest.raises(InputError, match="^noise-cov"):
        noise_covariance("diagonal", H2)
    with pytest.raises(InputError, match="symmetric"):
        noise_covariance([[1, 2], [0, 1]], H2)


# --------------------------------------------------------------------------------------------------
# descent lemma (Proposition 2.4) and the SGDM expansion
# --------------------------------------------------------------------------------------------------
E = sp.Matrix(sp.symbols("e1 e2"))
EP = sp.Matrix(sp.symbols("p1 p2"))


def test_descent_lemma_sgd_exact_from_the_recursion():
    got = one_step_loss_change(METHODS["sgd"], H2, SIG2, E, EP)
    assert sp.expand(got - descent_lemma_sgd(H2 * E, H2, SIG2)) == 0
    # each coefficient matters: perturb one at a time
    g = H2 * E
    for wrong in (-2 * eta * (g.T * g)[0, 0] + eta**2 / 2 * (g.T * H2 * g)[0, 0] + eta**2 * sigma**2 / 2 * (H2 * SIG2).trace(),
                  -eta * (g.T * g)[0, 0] + eta**2 * (g.T * H2 * g)[0, 0] + eta**2 * sigma**2 / 2 * (H2 * SIG2).trace(),
                  -eta * (g.T * g)[0, 0] + eta**2 / 2 * (g.T * H2 * g)[0, 0] + eta * sigma**2 / 2 * (H2 * SIG2).trace()):
        assert sp.expand(got - wrong) != 0


def test_descent_lemma_sgdm_with_momentum_state():
    got = one_step_loss_change(METHODS["sgdm"], H2, SIG2, E, EP)
    m = (EP - E) / eta                                   # x_{k-1} = x_k + eta m_k
    assert sp.simplify(got - descent_lemma_sgdm(H2 * E, m, H2, SIG2)) == 0
    assert sp.simplify(got - descent_lemma_sgdm(H2 * E, m, H2, SIG2, sigma2=sigma**2 * (1 - beta))) != 0
    # beta = 0 (momentum off) is the SGD lemma
    assert sp.simplify(descent_lemma_sgdm(H2 * E, m, H2, SIG2).subs(beta, 0) - descent_lemma_sgd(H2 * E, H2, SIG2)) == 0


_frac = st.fractions(min_value=-3, max_value=3, max_denominator=7)


@given(h=st.tuples(st.fractions(1, 3, max_denominator=5), _frac, st.fractions(1, 3, max_denominator=5)),
       x=st.tuples(_frac, _frac), lw=st.tuples(_frac, _frac, _frac), step=st.fractions(Fraction(1, 10), 1, max_denominator=10),
       s2=st.fractions(0, 4, max_denominator=5))
def test_descent_lemma_by_enumeration_of_a_discrete_noise(h, x, lw, step, s2):
    """Independent route: the noise v = L w, w uniform on {±sqrt(2) e_1, ±sqrt(2) e_2} (E w = 0, Cov w = I),
    enumerated exactly in rationals; the lemma holds for any noise law with these two moments."""
    H = sp.Matrix([[h[0], h[1]], [h[1], h[2] + abs(h[1])]])
    L = sp.Matrix([[lw[0], 0], [lw[1], lw[2]]])
    Sigma = L * L.T
    xv = sp.Matrix(x)
    f = lambda y: (y.T * H * y)[0, 0] / 2
    g = H * xv
    outs = [f(xv - step * (g + sp.sqrt(s2) * L * (sgn * sp.sqrt(2) * sp.eye(2)[:, i])))
            for i, sgn in product(range(2), (1, -1))]
    enumerated = sp.expand(sum(outs) / 4 - f(xv))
    stated = descent_lemma_sgd(g, H, Sigma, step=sp.Rational(step), sigma2=sp.Rational(s2))
    assert sp.expand(enumerated - stated) == 0


# --------------------------------------------------------------------------------------------------
# SVAG
# --------------------------------------------------------------------------------------------------
def test_svag_mean_unchanged_covariance_times_l():
    r1, r2 = svag_weights()
    assert sp.simplify(r1 + r2 - 1) == 0
    assert sp.simplify(r1**2 + r2**2 - ell) == 0
    mean, cov = svag_oracle_moments(sp.Matrix([sp.Symbol("g1"), sp.Symbol("g2")]), SIG2)
    assert mean == sp.Matrix([sp.Symbol("g1"), sp.Symbol("g2")])
    assert _zero(cov - ell * SIG2)
    assert not _zero(cov - sp.sqrt(ell) * SIG2)
    assert svag_parameters(ell) == (eta / ell, ell * sigma**2, ell)


def test_svag_keeps_the_noise_per_unit_time():
    """l SVAG steps of SGD: the forcing per unit time eta^2 sigma^2 is unchanged, the curvature term /l."""
    step, var, mult = svag_parameters(ell)
    F = decoupled_forcing(METHODS["sgd"].at(eta=step), "identity", var)
    assert sp.simplify(mult * F[0] - eta**2 * sigma**2) == 0


# --------------------------------------------------------------------------------------------------
# stationary second moments; the flat (null) direction
# --------------------------------------------------------------------------------------------------
def test_stationary_sgd_is_the_ar1_variance():
    X = stationary_block(METHODS["sgd"])
    assert sp.simplify(X[0] - eta**2 * sigma**2 / (1 - (1 - eta * lam) ** 2)) == 0


@pytest.mark.parametrize("name", ["sgd", "sgdm", "heavy-ball"])
def test_stationary_block_is_the_fixed_point_numerically(name):
    vals = {eta: sp.Rational(1, 10), beta: sp.Rational(1, 2), lam: 2, sigma: 1}
    X = [float(v) for v in stationary_block(METHODS[name]).subs(vals)]
    model = Gaussian([2.0])
    curve = loss_curve(name, model, 0.1, 0.5, 3000, 1.0, x0=[0.0])
    assert curve[-1] == pytest.approx(X[0] * 2 / 2, rel=1e-12)


def test_normal_part_is_order_eta_and_the_same_for_sgd_and_sgdm():
    """sigma = Theta(1): stationary E e^2 in a curved direction = eta sigma^2 s / (2 lambda) + o(eta), both methods."""
    for name in ("sgd", "sgdm"):
        for kind, s in (("identity", 1), ("hessian", lam)):
            X = stationary_block(METHODS[name], kind)
            assert sp.simplify(sp.limit(X[0] / eta, eta, 0) - sigma**2 * s / (2 * lam)) == 0
    hb = stationary_block(METHODS["heavy-ball"])          # undampened at step eta: 1/(1 - beta) larger
    assert sp.simplify(sp.limit(hb[0] / eta, eta, 0) - sigma**2 / (2 * lam * (1 - beta))) == 0


def test_stationary_with_minibatch_noise_matches_iteration():
    spec = [sp.Rational(1, 2), sp.Integer(1), sp.Integer(2)]
    method = METHODS["sgdm"].at(eta=sp.Rational(1, 10), beta=sp.Rational(1, 2))
    Xs = stationary_with_batch(method, GAUSSIAN_NOISE, spec, sp.Rational(1, 4), sigma2=sp.Rational(9, 4))
    loss = float(sum(li * X[0] for li, X in zip(spec, Xs)) / 2)
    curve = loss_curve("sgdm", Gaussian([0.5, 1.0, 2.0]), 0.1, 0.5, 4000, 2.25, batch=4)
    assert curve[-1] == pytest.approx(loss, rel=1e-11)


@pytest.mark.parametrize("name", ["sgd", "sgdm", "heavy-ball"])
def test_null_direction_closed_form_equals_the_unrolled_sum(name):
    """Independent route: e_k = sum_j eta_eff (sum_{i<k-j} beta^i) sigma v_j on lambda = 0, so
    Var e_k = sigma^2 sum_{n=1}^{k} (eta_eff (1 - beta^n)/(1 - beta))^2 with eta_eff the step on the gradient."""
    X = null_direction_moments(METHODS[name])
    step = {"sgd": eta, "sgdm": eta * (1 - beta), "heavy-ball": eta}[name]
    bt = 0 if name == "sgd" else beta
    for kk in range(1, 6):
        direct = sigma**2 * sum((step * sum(bt**i for i in range(n))) ** 2 for n in range(1, kk + 1))
        assert sp.simplify(X[0].subs(k, kk) - direct) == 0


def test_null_direction_grows_as_sigma2_t():
    """Cov(P x_k) at k = t / eta^2 -> sigma^2 t (per unit of P Sigma P): SGD exactly; dampened SGDM up to
    eta^2 times a k-independent term bounded in beta^k (so the limit eta -> 0 is sigma^2 t)."""
    t = sp.Symbol("t", positive=True)
    assert sp.simplify(null_direction_moments(METHODS["sgd"])[0].subs(k, t / eta**2) - sigma**2 * t) == 0
    w = sp.Symbol("w", nonnegative=True)                  # w = beta^k in [0, 1]
    X = sp.expand(sp.powsimp(sp.expand(null_direction_moments(METHODS["sgdm"])[0])))
    Xw = sp.simplify(X.subs(beta ** (2 * k), w**2).subs(beta**k, w))
    assert sp.simplify(sp.diff(Xw, k) - eta**2 * sigma**2) == 0
    rest = sp.simplify(Xw - eta**2 * sigma**2 * k)
    assert rest.free_symbols <= {eta, sigma, beta, w}
    assert sp.limit(rest.subs(t, 1), eta, 0) == 0
    # the undampened form at the same eta grows 1/(1 - beta)^2 faster: a different limit
    Xh = null_direction_moments(METHODS["heavy-ball"])[0]
    assert sp.simplify(sp.diff(sp.expand(sp.powsimp(sp.expand(Xh))).subs(beta ** (2 * k), w**2).subs(beta**k, w), k)
                       - eta**2 * sigma**2 / (1 - beta) ** 2) == 0


@pytest.mark.parametrize("name", ["sgd", "sgdm"])
def test_flat_manifold_covariance_matrix(name):
    """Singular, non-diagonal H and a general Sigma: P S_k P = Var_k(eta, beta) sigma^2 P Sigma P exactly
    (dense float64 recursion against the symbolic scalar)."""
    model = FiniteSum([[1.0, 1.0, 0.0], [0.0, 1.0, 1.0]])        # H = A^T A / 2, rank 2
    H = model.hessian_array()
    w, Q = np.linalg.eigh(H)
    n = Q[:, np.abs(w) < 1e-12]
    P = n @ n.T
    Sigma = np.array([[2.0, 0.3, -0.4], [0.3, 1.0, 0.2], [-0.4, 0.2, 1.5]])
    lr, mom, s2, steps = 0.05, 0.6, 2.0, 120
    op = SecondMomentOperator(name, model, float("inf"), lr, mom)
    A, b, c = method_arrays(name, lr, mom)
    F = np.kron(np.outer(b, b), s2 * Sigma)
    S = np.zeros((6, 6))
    for _ in range(steps):
        S = op.apply(S) + F
    var = float(null_direction_moments(METHODS[name])[0].subs({k: steps, eta: lr, beta: mom, sigma: 1}))
    got = P @ S[:3, :3] @ P
    assert np.allclose(got, var * s2 * P @ Sigma @ P, rtol=1e-11, atol=1e-14)
    assert np.allclose(noise_matrix(model, Sigma), Sigma)
