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
