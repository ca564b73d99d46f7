"""numerics.rates.certify: every certified interval contains the value computed independently (mpmath to
more digits, exact charpoly roots, closed forms)."""
import math

import mpmath as mp
import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings, strategies as st

from momentum_verify.numerics.rates.certify import (
    deterministic_interval, dense_interval, exact_radius_interval, is_positive_definite, secular_interval,
    to_arb,
)
from momentum_verify.numerics.rates import spectral_radius
from momentum_verify.theory.sampling import Coordinate, FiniteSum, Gaussian, Kaczmarz

METHODS = ["sgd", "heavy-ball", "nesterov", "sgdm"]
INF = math.inf

fractions = st.fractions(min_value=sp.Rational(1, 50), max_value=sp.Rational(3, 2), max_denominator=50)


def contains(interval, value) -> bool:
    lo, hi = interval
    return lo <= value <= hi


@given(method=st.sampled_from(METHODS),
       lam=st.lists(st.fractions(min_value=sp.Rational(1, 20), max_value=2, max_denominator=20),
                    min_size=1, max_size=3),
       batch=st.integers(1, 6), lr=fractions,
       momentum=st.fractions(min_value=0, max_value=sp.Rational(19, 20), max_denominator=20))
@settings(max_examples=10)
def test_secular_interval_contains_mpmath_and_exact(method, lam, batch, lr, momentum):
    g = Gaussian(lam)
    res = spectral_radius(method, g, batch, lr, momentum, certify=True)
    truth = spectral_radius(method, g, batch, lr, momentum, digits=30).rho
    assert contains(res.interval, truth)
    assert res.interval[1] - res.interval[0] <= mp.mpf(10) ** (-res.digits + 1) * truth
    if len(lam) <= 2:               # exact charpoly over Q, roots isolated by flint
        ex = exact_radius_interval(method, g, batch, lr, momentum)
        assert ex[0] <= res.interval[1] and res.interval[0] <= ex[1]
        assert contains(ex, truth) or abs(ex[0] - truth) <= mp.mpf(10) ** -28


@pytest.mark.parametrize("method", METHODS)
def test_secular_interval_at_many_digits(method):
    g = Gaussian([sp.Rational(1, 10), 1, 3])
    res = spectral_radius(method, g, 4, sp.Rational(1, 5), sp.Rational(1, 2), digits=40, certify=True)
    lo, hi = res.interval
    with mp.workdps(150):
        assert lo <= res.rho <= hi
        assert hi - lo <= mp.mpf(10) ** -38 * res.rho


@pytest.mark.parametrize("kappa", [4, 10, 10 ** 4])
def test_polyak_certified_interval(kappa):
    k = sp.Integer(kappa)
    eta, beta = 4 / (sp.sqrt(k) + 1) ** 2, ((sp.sqrt(k) - 1) / (sp.sqrt(k) + 1)) ** 2
    g = Gaussian([1, 2, kappa])
    lo, hi = deterministic_interval("heavy-ball", g, eta, beta, digits=30)
    with mp.workdps(150):
        truth = mp.mpf(sp.N(beta, 80))
        assert lo <= truth <= hi
        assert hi - lo <= mp.mpf(10) ** -30 * truth


def test_polyak_rational_exact_charpoly():
    """kappa = 4: eta = 4/9, beta = 1/9 rational; every block is a Jordan block at mu and L, and the
    exact charpoly of T (with its multiple roots) gives rho = 1/9 exactly."""
    g = Gaussian([1, 4])
    lo, hi = exact_radius_interval("heavy-ball", g, INF, sp.Rational(4, 9), sp.Rational(1, 9))
    with mp.workdps(150):
        assert lo <= mp.mpf(1) / 9 <= hi and hi - lo < mp.mpf(10) ** -30
    lo2, hi2 = deterministic_interval("heavy-ball", g, sp.Rational(4, 9), sp.Rational(1, 9), 30)
    with mp.workdps(150):
        assert lo2 <= mp.mpf(1) / 9 <= hi2


@pytest.mark.parametrize("model", [
    FiniteSum(np.array([[1, 2, 0], [0, 1, 1], [1, 0, 3], [2, 1, 1]])),
    Kaczmarz(np.array([[1, 2, 0], [0, 1, 1], [1, 0, 3], [2, 1, 1]])),
    Coordinate(H=np.array([[2, 1, 0], [1, 3, 1], [0, 1, 2]])),
    Gaussian([sp.Rational(1, 4), 1]),
], ids=["finite", "kaczmarz", "coordinate", "gaussian"])
@pytest.mark.parametrize("method", ["heavy-ball", "nesterov"])
def test_dense_cone_bounds_contain_exact(model, method):
    B, lr, mom = 2, sp.Rational(1, 10), sp.Rational(1, 2)
    if model.name == "kaczmarz":
        lr = sp.Rational(1, 2)
    lo, hi = dense_interval(method, model, B, lr, mom)
    ex = exact_radius_interval(method, model, B, lr, mom)
    assert lo <= ex[0] and ex[1] <= hi
    assert lo > 0 and hi - lo <= 1e-8 * hi


def test_positive_definite_check():
    A = np.array([[to_arb(2), to_arb(1)], [to_arb(1), to_arb(2)]], dtype=object)
    assert is_positive_definite(A)
    B = np.array([[to_arb(1), to_arb(2)], [to_arb(2), to_arb(1)]], dtype=object)
    assert not is_positive_definite(B)


def test_secular_interval_rejects_a_wrong_center():
    """Handed a wrong approximation, the certificate widens until it is proven; it never returns an
    interval that misses rho."""
    g = Gaussian([sp.Rational(1, 2), 1])
    truth = spectral_radius("heavy-ball", g, 2, sp.Rational(1, 3), sp.Rational(1, 2), digits=30).rho
    lo, hi = secular_interval("heavy-ball", g, 2, sp.Rational(1, 3), sp.Rational(1, 2), truth * (1 + 1e-6), 12)
    assert lo <= truth <= hi


@pytest.mark.parametrize("model", [
    Kaczmarz(np.array([[1.0, 2.0, 0.0], [0.0, 1.0, 1.0], [1.0, 0.0, 3.0], [2.0, 1.0, 1.0]])),
    FiniteSum(np.array([[1.0, 2.0, 0.0], [0.0, 1.0, 1.0], [1.0, 0.0, 3.0], [2.0, 1.0, 1.0]])),
], ids=["kaczmarz", "finite"])
@pytest.mark.parametrize("batch", [2, INF])
def test_float_inputs_are_their_binary_fractions(model, batch):
    """lr = 0.1 (a float) is 0.1000000000000000055...: mpmath, arb and the exact charpoly all use that
    value (and the exact a_i / ||a_i||^2), so they agree far beyond double precision."""
    hi = spectral_radius("heavy-ball", model, batch, 0.1, 0.5, digits=25, certify=True)
    ex = exact_radius_interval("heavy-ball", model, batch, 0.1, 0.5, digits=30)
    dec = exact_radius_interval("heavy-ball", model, batch, sp.Rational(1, 10), 0.5, digits=30)
    with mp.workdps(60):
        assert hi.interval[0] <= ex[1] and ex[0] <= hi.interval[1]      # both enclosures overlap
        assert abs(hi.rho - ex[0]) <= mp.mpf(10) ** -25 * ex[0]
        assert abs(dec[0] - ex[0]) > mp.mpf(10) ** -22          # 1/10 is another input


@pytest.mark.parametrize("method", METHODS)
def test_coordinate_diagonal_certified_where_rho_is_rho_D(method):
    """Coordinate descent on a diagonal H: u = v = 0, rho(T) = rho(D); the lower end is proven by a
    derivative of det(zI - D_i) that is certainly <= 0 there."""
    c = Coordinate(spectrum=[1, 2, 3])
    r = spectral_radius(method, c, 2, sp.Rational(1, 10), sp.Rational(1, 2), certify=True)
    truth = spectral_radius(method, c, 2, sp.Rational(1, 10), sp.Rational(1, 2), digits=30).rho
    with mp.workdps(60):
        assert contains(r.interval, truth)
