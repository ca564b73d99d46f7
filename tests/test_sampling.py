"""Covariance maps (with and without replacement) against exact enumeration of all batches, and the
validation of sampling models."""
import itertools
from fractions import Fraction
from math import comb, inf

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, strategies as st

from momentum_verify.theory.errors import InputError
from momentum_verify.theory.sampling import (Coordinate, FiniteSum, Gaussian, Kaczmarz, batch_factor, check_batch)


def _enumerate_cov(G, Y, B, probs, without):
    """E[G_B Y G_B^T] - H Y H^T by brute force over every batch, exact (Fractions / SymPy)."""
    n = len(G)
    H = sum((probs[i] * G[i] for i in range(n)), sp.zeros(*G[0].shape))
    if without:
        batches = [(S, Fraction(1, comb(n, B))) for S in itertools.combinations(range(n), B)]
    else:
        batches = [(S, np.prod([probs[i] for i in S])) for S in itertools.product(range(n), repeat=B)]
    acc = sp.zeros(*G[0].shape)
    for S, w in batches:
        GB = sum((G[i] for i in S), sp.zeros(*G[0].shape)) / B
        acc += sp.Rational(w) * GB * Y * GB.T if isinstance(w, Fraction) else w * GB * Y * GB.T
    return acc - H * Y * H.T


small_int = st.integers(-3, 3)


@given(n=st.integers(1, 5), d=st.integers(1, 2), data=st.data(), without=st.booleans())
def test_batch_factor_matches_enumeration_general_G(n, d, data, without):
    """Random G_i, including non-symmetric ones, uniform sampling, every B <= n."""
    G = [sp.Matrix(d, d, data.draw(st.lists(small_int, min_size=d * d, max_size=d * d))) for _ in range(n)]
    Yl = data.draw(st.lists(small_int, min_size=d * d, max_size=d * d))
    Y = sp.Matrix(d, d, Yl)
    Y = Y + Y.T
    probs = [sp.Rational(1, n)] * n
    H = sum(G, sp.zeros(d, d)) / n
    one = sum((G[i] * Y * G[i].T for i in range(n)), sp.zeros(d, d)) / n - H * Y * H.T
    for B in range(1, n + 1):
        if not without and n ** B > 800:
            continue
        brute = _enumerate_cov(G, Y, B, probs, without)
        assert sp.simplify(brute - batch_factor(B, n, without) * one) == sp.zeros(d, d)


@pytest.mark.slow
@given(data=st.data(), without=st.booleans())
def test_batch_factor_n6(data, without):
    n, d = 6, 2
    G = [sp.Matrix(d, d, data.draw(st.lists(small_int, min_size=4, max_size=4))) for _ in range(n)]
    Y = sp.Matrix(2, 2, [1, 2, 2, -1])
    probs = [sp.Rational(1, n)] * n
    H = sum(G, sp.zeros(d, d)) / n
    one = sum((G[i] * Y * G[i].T for i in range(n)), sp.zeros(d, d)) / n - H * Y * H.T
    for B in range(1, n + 1):
        brute = _enumerate_cov(G, Y, B, probs, without)
        assert sp.simplify(brute - batch_factor(B, n, without) * one) == sp.zeros(d, d)


def test_enumeration_catches_wrong_factor():
    """Negative control: 1/B is wrong without replacement (it would be right with replacement)."""
    G = [sp.Matrix([[1, 0], [0, 0]]), sp.Matrix([[0, 1], [0, 2]]), sp.Matrix([[2, 0], [1, 1]])]
    Y = sp.Matrix([[1, 1], [1, 3]])
    H = sum(G, sp.zeros(2, 2)) / 3
    one = sum((g * Y * g.T for g in G), sp.zeros(2, 2)) / 3 - H * Y * H.T
    brute = _enumerate_cov(G, Y, 2, [sp.Rational(1, 3)] * 3, without=True)
    assert sp.simplify(brute - one / 2) != sp.zeros(2, 2)
    assert sp.simplify(brute - batch_factor(2, 3, True) * one) == sp.zeros(2, 2)


def _model_components_as_matrices(model):
    p, X, Yv = model.components()
    return p, [x * y.T for x, y in zip(X, Yv)]


@given(rows=st.lists(st.lists(st.integers(-2, 3), min_size=2, max_size=2), min_size=1, max_size=4),
       B=st.integers(1, 3))
def test_model_covariances_equal_enumeration(rows, B):
    """finite, kaczmarz (importance sampling) and coordinate (non-symmetric G_i) models' exact C_B."""
    Y = sp.Matrix([[2, 1], [1, 1]])
    models = [FiniteSum(rows)]
    if all(any(v != 0 for v in r) for r in rows):
        models.append(Kaczmarz(rows))
    A = sp.Matrix(rows)
    Hc = A.T * A + sp.eye(2)
    models.append(Coordinate(H=Hc.tolist()))
    for model in models:
        p, G = _model_components_as_matrices(model)
        assert sp.simplify(sum((pi * g for pi, g in zip(p, G)), sp.zeros(2, 2)) - model.hessian()) == sp.zeros(2, 2)
        brute = _enumerate_cov(G, Y, B, p, without=False)
        assert sp.simplify(brute - model.covariance(Y, B)) == sp.zeros(2, 2), model.name
        if model.name == "finite" and B <= model.n:
            fw = FiniteSum(rows, without_replacement=True)
            brute = _enumerate_cov(G, Y, B, p, without=True)
            assert sp.simplify(brute - fw.covariance(Y, B)) == sp.zeros(2, 2)


def test_float_copies_match_exact():
    A = [[1, 2], [3, 0.5], [0, 1]]
    for model in (FiniteSum(A), Kaczmarz(A), Coordinate(H=[[2, 1], [1, 3]]), Gaussian([1, 0.25])):
        assert np.allclose(np.array(model.hessian(), dtype=float), model.hessian_array())


@pytest.mark.parametrize("make, param", [
    (lambda: Gaussian([1, -1]), "spectrum"),
    (lambda: Gaussian([1, float("nan")]), "spectrum"),
    (lambda: Gaussian([]), "spectrum"),
    (lambda: Gaussian([0, 0]), "spectrum"),
    (lambda: FiniteSum(np.zeros((0, 2))), "matrix"),
    (lambda: Kaczmarz([[1, 0], [0, 0]]), "matrix"),
    (lambda: Coordinate(H=[[1, 2], [2, 1]]), "matrix"),        # not PSD
    (lambda: Coordinate(H=[[1, 2, 3], [2, 1, 0]]), "matrix"),  # not square
    (lambda: Coordinate(H=[[1, 0.5], [0, 1]]), "matrix"),      # not symmetric
    (lambda: FiniteSum([[1, 0], [0, 1]], weights=[1, 2], without_replacement=True), "without_replacement"),
    (lambda: check_batch(0), "batch"),
    (lambda: check_batch(-3), "batch"),
    (lambda: check_batch(2.5), "batch"),
    (lambda: check_batch(4, n=3, without_replacement=True), "batch"),
])
def test_validation_names_parameter(make, param):
    with pytest.raises(InputError) as err:
        make()
    assert err.value.param == param
    assert "\n" not in str(err.value)


def test_batch_inf_is_deterministic():
    assert check_batch(inf) == inf and batch_factor(inf) == 0
    assert batch_factor(5, 5, True) == 0


# --------------------------------------------------------------------------------------------------
# value objects: validate, compare by value, repr pastes back (or names every parameter)
# --------------------------------------------------------------------------------------------------
from momentum_verify.theory import sampling as _sampling  # noqa: E402


@pytest.mark.parametrize("model", [
    Gaussian([1, "4/9", 0.25]), Gaussian.linspace(1, 2, 3), Gaussian.geomspace("1/100", 1, 4),
    FiniteSum([[1, 0], [1, "1/2"]], weights=[1, 2]), FiniteSum([[1.5, 0], [0, 1]], without_replacement=True),
    Kaczmarz([[1, 0], [1, 1], [0, 2]]), Coordinate(H=[[2, 1], [1, 3]]), Coordinate(spectrum=[1, 2, 3]),
])
def test_models_repr_pastes_back_and_is_frozen(model):
    ns = {k: getattr(_sampling, k) for k in ("Gaussian", "FiniteSum", "Kaczmarz", "Coordinate")}
    again = eval(repr(model), ns)                        # the repr is the constructor call
    assert again == model and hash(again) == hash(model) and repr(again) == repr(model)
    assert " object at 0x" not in repr(model)
    with pytest.raises(Exception):
        model.without_replacement = True                 # frozen
    assert again.hessian() == model.hessian()


def test_exact_strings_are_exact():
    g = Gaussian(["1/3", "0.1"])
    assert g.hessian() == sp.diag(sp.Rational(1, 3), sp.Rational(1, 10))
    assert Gaussian(["1/3"]) != Gaussian([1 / 3])          # the float is not the fraction
    assert FiniteSum([["1/2", 1]]).exact_copy().components()[1][0] == sp.Matrix([sp.Rational(1, 2), 1])


def test_long_data_repr_names_the_parameter():
    r = repr(Gaussian(np.geomspace(1e-3, 1, 100)))
    assert r.startswith("Gaussian(spectrum=<100 values, range [0.001") and len(r) < 120


def test_public_objects_have_reprs():
    from momentum_verify.numerics.backends import get_backend
    from momentum_verify.numerics.montecarlo import simulate
    from momentum_verify.numerics.operators import DecoupledProblem, SecondMomentOperator
    g = Gaussian([1, 0.5])
    bk = get_backend("numpy", 0)
    objs = [g.sampler(2, bk), FiniteSum([[1, 0], [0, 1]]).sampler(1, bk), _sampling.GAUSSIAN_NOISE,
            SecondMomentOperator("sgd", g, 2, 0.1, 0), DecoupledProblem("heavy-ball", g, 2, 0.1, 0.5),
            simulate("sgd", g, 2, 0.1, 0.0, 5, 20)]
    for o in objs:
        r = repr(o)
        assert " object at 0x" not in r, r
    assert "lr=0.1" in repr(objs[3]) and "batch=2" in repr(objs[4])
    assert "CI [" in repr(objs[5]) and "runs=20" in repr(objs[5])       # numbers carry their precision


@pytest.mark.parametrize("bad, param", [
    (lambda: Gaussian("1,2"), "spectrum"), (lambda: Gaussian([1, "x"]), "spectrum"),
    (lambda: Gaussian([1, True]), "spectrum"), (lambda: FiniteSum([[1, 0], [1]]), "matrix"),
    (lambda: FiniteSum([[1, 0]], weights=[1, 2]), "weights"), (lambda: Coordinate(), "matrix"),
    (lambda: Coordinate(spectrum=[1, 0]), "spectrum"), (lambda: Gaussian([1], without_replacement=True),
                                                        "without_replacement"),
])
def test_more_bad_input_names_the_parameter(bad, param):
    with pytest.raises(InputError) as err:
        bad()
    assert err.value.param == param


# --------------------------------------------------------------------------------------------------
# a new sampling model is one class: a toy defined here runs through rate (dense route) and Monte Carlo
# --------------------------------------------------------------------------------------------------
from dataclasses import dataclass  # noqa: E402
from typing import ClassVar  # noqa: E402

from momentum_verify.theory.sampling import RankOneModel, exact_number  # noqa: E402


@dataclass(frozen=True)
class TwoRows(RankOneModel):
    """Toy: G = a a^T with a = (1, 0) w.p. 1/3 and a = (t, 1) w.p. 2/3 (nothing else in the project knows it)."""

    t: object = "1/2"
    swap: bool = False            # a planted mistake: the probabilities exchanged
    name: ClassVar[str] = "two-rows"

    @property
    def d(self) -> int:
        return 2

    def components(self):
        p = [sp.Rational(2, 3), sp.Rational(1, 3)] if self.swap else [sp.Rational(1, 3), sp.Rational(2, 3)]
        rows = [sp.Matrix([1, 0]), sp.Matrix([exact_number(self.t), 1])]
        return p, rows, rows


def test_toy_model_is_one_class_through_rate_and_monte_carlo():
    from momentum_verify.numerics.montecarlo import exact_moments, simulate
    from momentum_verify.numerics.rates import spectral_radius
    toy, same = TwoRows(), FiniteSum([[1, 0], [0.5, 1]], weights=[1, 2])      # the same law, two classes
    args = ("heavy-ball", 1, 0.4, 0.5)
    r_toy = spectral_radius(args[0], toy, *args[1:], route="dense")
    r_fs = spectral_radius(args[0], same, *args[1:], route="dense")
    assert abs(float(r_toy.rho) - float(r_fs.rho)) <= 1e-12 and float(r_toy.rho) < 1
    r_bad = spectral_radius(args[0], TwoRows(swap=True), *args[1:], route="dense")
    assert abs(float(r_bad.rho) - float(r_fs.rho)) > 1e-3                     # the planted mistake shows
    assert abs(float(spectral_radius(args[0], toy, *args[1:], digits=20).rho) - float(r_fs.rho)) <= 1e-12
    steps = 8
    exact, _ = exact_moments(args[0], toy, *args[1:], steps)
    np.testing.assert_allclose(exact, exact_moments(args[0], same, *args[1:], steps)[0], rtol=1e-12)
    res = simulate(args[0], toy, *args[1:], steps, 6000, seed=3, confidence=1 - 0.01 / steps)
    inside = (res.ci_low <= exact * (1 + 1e-12)) & (exact <= res.ci_high * (1 + 1e-12))
    assert inside[1:].all() and res.reliable[1:].all()
