"""numerics.rank_one_secular (the symmetric form of the secular condition for rank-one models) against the
rate engine (spectral_radius, an independent route: dense vech eigenvalues or the matrix-free bracket),
and its gradient against central differences of its own root."""
import numpy as np
import pytest

from momentum_verify.numerics import rates
from momentum_verify.numerics.rank_one_secular import RankOneSecular, applies
from momentum_verify.theory.sampling import Coordinate, FiniteSum, Kaczmarz


def _rows(seed, n=14, d=4):
    return np.random.default_rng(seed).standard_normal((n, d)) @ np.diag([1.0, 0.7, 0.4, 0.2][:d])


@pytest.mark.parametrize("kind", [FiniteSum, Kaczmarz])
@pytest.mark.parametrize("method", ["sgd", "heavy-ball", "nesterov"])
def test_root_agrees_with_the_rate_engine(kind, method):
    model = kind(_rows(3))
    ev = RankOneSecular(method, model)
    rng = np.random.default_rng(7)
    L = float(np.max(np.linalg.eigvalsh(model.hessian_array(np))))
    e = np.exp(rng.uniform(np.log(0.01 / L), np.log(0.8 / L), 6))
    b = rng.uniform(0.0, 0.9, 6) if method != "sgd" else np.zeros(6)
    B = [1, 2, 3, 5, 8, 13]
    z, ok = ev.rho(np.log(e), np.log1p(-b), B)
    checked = 0
    for k in range(6):
        r = rates.spectral_radius(method, model, B[k], e[k], b[k])
        if ok[k]:
            checked += 1
            assert abs(z[k] - r.rho) <= 1e-9 * max(1 - r.rho, 1e-3) + 10.0 ** -r.digits, (k, z[k], r.rho)
    assert checked >= 5


def test_gradient_matches_central_differences():
    model = FiniteSum(_rows(5))
    ev = RankOneSecular("heavy-ball", model)
    x, w = np.log([0.3]), np.log1p(-np.array([0.6]))
    z, g, ok, verified = ev.rho_gradient(x, w, None, [4])
    assert ok[0] and verified[0]
    h = 1e-5
    for k, (dx, dw) in enumerate([(h, 0.0), (0.0, h)]):
        zp = ev.rho(x + dx, w + dw, [4])[0][0]
        zm = ev.rho(x - dx, w - dw, [4])[0][0]
        assert abs((zp - zm) / (2 * h) - g[0, k]) <= 1e-5 * max(abs(g[0, k]), 1e-8)


def test_gradient_at_beta_zero():
    """At beta = 0 (w = 0, the tuner's sgd line) the momentum derivative exists (a complex step of
    1e-30 * 1e-300 underflowed to 0 and made it nan): against a one-sided difference into beta > 0."""
    model = FiniteSum(_rows(5))
    ev = RankOneSecular("heavy-ball", model)
    x, w = np.log([0.3]), np.zeros(1)
    z, g, ok, verified = ev.rho_gradient(x, w, None, [4])
    assert ok[0] and np.all(np.isfinite(g))
    h = 1e-6
    zm = ev.rho(x, w - h, [4])[0][0]
    assert abs((z[0] - zm) / h - g[0, 1]) <= 1e-4 * abs(g[0, 1]) + 1e-6


def test_a_planted_wrong_root_is_not_verified():
    """A subspace too small to hold the Perron direction: the residual check must refuse the root."""
    import momentum_verify.numerics.rank_one_secular as mod
    model = FiniteSum(_rows(9, n=30, d=4))
    ev = RankOneSecular("heavy-ball", model)
    keep = mod.MAX_DIM
    try:
        mod.MAX_DIM = 1
        z, ok = ev.rho(np.log([0.2]), np.log1p(-np.array([0.5])), [2])
    finally:
        mod.MAX_DIM = keep
    r = rates.spectral_radius("heavy-ball", model, 2, 0.2, 0.5)
    assert not ok[0] or abs(z[0] - r.rho) <= 1e-9


@pytest.mark.parametrize("method", ["sgd", "heavy-ball", "nesterov"])
def test_an_unverified_root_is_a_lower_bound(method):
    """Subspaces too small to converge (MAX_DIM 1 to 3): where the check fails, the value returned is a
    lower bound of rho (the projected root: Ritz values are lower bounds of lambda_max; or rho(K)), as
    the tuner's filter assumes; against the rate engine (its bracket's lower end)."""
    import momentum_verify.numerics.rank_one_secular as mod
    model = FiniteSum(_rows(9, n=30, d=4))
    rng = np.random.default_rng(4)
    L = float(np.max(np.linalg.eigvalsh(model.hessian_array(np))))
    e = np.exp(rng.uniform(np.log(0.01 / L), np.log(0.8 / L), 8))
    b = rng.uniform(0.0, 0.95, 8) if method != "sgd" else np.zeros(8)
    B = [1, 2, 3, 5, 8, 13, 2, 4]
    unverified = 0
    keep = mod.MAX_DIM
    for dim in (1, 2, 3):
        try:
            mod.MAX_DIM = dim
            z, ok = RankOneSecular(method, model).rho(np.log(e), np.log1p(-b), B)
        finally:
            mod.MAX_DIM = keep
        for k in np.flatnonzero(~ok):
            unverified += 1
            r = rates.spectral_radius(method, model, B[k], e[k], b[k])
            assert z[k] <= r.rho + 10.0 ** -r.digits, (dim, k, z[k], r.rho)
    assert unverified >= 4


def test_a_root_accepted_at_a_stalled_residual_is_right(monkeypatch):
    """With RES_TOL out of reach only the stall rule can accept a root (a residual that stopped halving,
    below RES_FLOOR: psi's rounding near a pole); those roots agree with the rate engine."""
    import momentum_verify.numerics.rank_one_secular as mod
    monkeypatch.setattr(mod, "RES_TOL", 1e-30)
    model = FiniteSum(_rows(3))
    ev = RankOneSecular("heavy-ball", model)
    rng = np.random.default_rng(8)
    L = float(np.max(np.linalg.eigvalsh(model.hessian_array(np))))
    e = np.exp(rng.uniform(np.log(0.01 / L), np.log(0.8 / L), 6))
    b = rng.uniform(0.0, 0.9, 6)
    B = [1, 2, 3, 5, 8, 13]
    z, ok = ev.rho(np.log(e), np.log1p(-b), B)
    assert ok.sum() >= 5
    for k in np.flatnonzero(ok):
        r = rates.spectral_radius("heavy-ball", model, B[k], e[k], b[k])
        assert abs(z[k] - r.rho) <= 1e-9 * max(1 - r.rho, 1e-3) + 10.0 ** -r.digits, (k, z[k], r.rho)
    monkeypatch.setattr(mod, "RES_FLOOR", 1e-30)           # and without the floor nothing passes
    assert not RankOneSecular("heavy-ball", model).rho(np.log(e), np.log1p(-b), B)[1].any()


@pytest.mark.parametrize("method", ["sgd", "heavy-ball", "nesterov", "sgdm"])
def test_psi_from_its_coefficients_in_z(method):
    """The evaluator's psi = N(z) / D(z) (coefficients in z per point) is theory's pair response: exactly
    (SymPy), and in double against the shipped psi kernel at random points."""
    import sympy as sp
    from momentum_verify.numerics import operators as op
    from momentum_verify.theory import symbols
    m = op.as_method(method)
    num, den = op.pair_response_z_coeffs(m)
    N, D = (sum(c * symbols.z ** (len(cs) - 1 - k) for k, c in enumerate(cs)) for cs in (num, den))
    assert sp.cancel(N / D - op.pair_response(m)) == 0
    ev = RankOneSecular(method, FiniteSum(_rows(2)))
    rng = np.random.default_rng(5)
    e, b, z = rng.uniform(0.01, 0.5, 5), rng.uniform(0.0, 0.9, 5), rng.uniform(1.0, 1.5, 5)
    C = ev._coeffs(e, b)
    psi = ev._horner(C[0], z) / ev._horner(C[1], z)
    ref = ev.psi(z[:, None], ev.li, ev.lj, e[:, None], b[:, None])
    assert np.allclose(psi, ref, rtol=1e-12, atol=0)


def test_a_warm_basis_holding_another_modes_eigenvector_is_not_trusted():
    """Kidambi's 2-D finite sum: S(z) has fixed eigenvectors, so after a solve at a small step the warm
    basis is an exact eigenvector of the mode that is no longer the top one (zero residual at that mode's
    root). The first new direction is added after a warm start too: the root is the dense route's."""
    from momentum_verify.numerics.operators import batch_factor_value
    model = FiniteSum(np.array([[1.0, 0.0], [0.0, 0.1]]))
    ev = RankOneSecular("sgd", model)
    fB = np.array([batch_factor_value(model, 1)])
    for lr in (0.1, 1.79, 2.6156):
        z, ok, _ = ev.solve(np.array([lr]), np.zeros(1), fB)
        r = rates.spectral_radius("sgd", model, 1, lr, 0.0)
        assert ok[0] and abs(z[0] - r.rho) <= 1e-9, (lr, z[0], r.rho)


def test_only_symmetric_rank_one_models():
    A = _rows(1)
    assert applies(FiniteSum(A)) and applies(Kaczmarz(A))
    assert not applies(Coordinate(A.T @ A / len(A)))


def test_roots_squeezed_against_a_pole_are_verified():
    """Roots within 1e-8 of rho(K) (small steps, an isolated small eigenvalue): psi's expanded
    denominator cancels there, so theta carries psi's rounding (kappa eps) and the theta = 1 check must
    allow it; the value agrees with the rate engine to 1e-6 of 1 - rho (search grade). Before that
    allowance none of these four was verified."""
    from momentum_verify.numerics.rates.deterministic import deterministic_double
    A = np.random.default_rng(3).standard_normal((14, 4)) @ np.diag([1.0, 0.7, 0.4, 0.05])
    model = FiniteSum(A)
    ev = RankOneSecular("heavy-ball", model)
    e = np.array([0.0010988564387140077, 0.0010157424361357161, 0.0011753068282905248, 0.001396626003631227])
    b = np.array([0.9131648152674359, 0.9807951378482341, 0.9477571248351169, 0.8031183872570966])
    B = [4, 2, 13, 2]
    z, ok = ev.rho(np.log(e), np.log1p(-b), B)
    rK = deterministic_double(ev.method, ev.lam, e, b)[0]
    assert ok.all()
    assert np.all(z - rK < 1e-8 * rK)
    for k in range(4):
        r = rates.spectral_radius("heavy-ball", model, B[k], e[k], b[k])
        assert abs(z[k] - r.rho) <= 1e-6 * (1 - r.rho) + 10.0 ** -r.digits, (k, z[k], r.rho)


def test_roots_blurred_by_psis_rounding_at_the_pole():
    """Tiny steps: right above rho(K) psi is rounding only, theta jumps by O(1) between neighbouring z and
    the theta = 1 check cannot pass; a root found within 1e-6 (1 - rho(K)) of rho(K) is accepted
    (blurred, or at rho(K)+ itself: no gradient either way) and is rho to 1e-6 of 1 - rho, against the
    rate engine."""
    from momentum_verify.numerics.operators import batch_factor_value
    A = np.random.default_rng(3).standard_normal((14, 4)) @ np.diag([1.0, 0.7, 0.4, 0.05])
    model = FiniteSum(A)
    ev = RankOneSecular("heavy-ball", model)
    e = np.array([2.0455512986830145e-05, 1.4073034949756848e-05, 3.484023428966138e-05])
    b = np.array([0.9642720748653176, 0.9147632435343375, 0.967404370545785])
    B = [13, 4, 2]
    z, ok, (_, rK, sharp) = ev.solve(e, b, np.array([batch_factor_value(model, x) for x in B]))
    assert ok.all() and np.all(z - rK <= 1e-6 * (1 - rK))
    assert not ev.rho_gradient(np.log(e), np.log1p(-b), None, B)[2].any()
    for k in range(3):
        r = rates.spectral_radius("heavy-ball", model, B[k], e[k], b[k])
        assert abs(z[k] - r.rho) <= 1e-6 * (1 - r.rho) + 10.0 ** -r.digits, (k, z[k], r.rho)
