"""Identities between methods, on the operators (not only on the triples)."""
import sympy as sp
import pytest

from momentum_verify.theory import symbols
from momentum_verify.theory.methods import METHODS, get_method
from momentum_verify.theory.errors import InputError
from momentum_verify.theory.moments import decoupled_block, second_moment_operator, secular_term, first_moment_operator
from momentum_verify.theory.sampling import Gaussian, GAUSSIAN_NOISE, Coordinate

eta, beta = symbols.eta, symbols.beta
l1, l2 = sp.symbols("l1 l2", positive=True)


def _full_T(method, model):
    return second_moment_operator(method, model)


@pytest.mark.parametrize("name", ["heavy-ball", "nesterov"])
def test_momentum_zero_is_sgd(name):
    m0, sgd = METHODS[name].at(beta=0), METHODS["sgd"]
    model = Gaussian([l1, l2])
    assert sp.simplify(_full_T(m0, model) - _full_T(sgd, model)) == sp.zeros(10, 10)
    assert sp.simplify(secular_term(m0, GAUSSIAN_NOISE) - secular_term(sgd, GAUSSIAN_NOISE)) == 0


def test_sgdm_is_heavy_ball_with_rescaled_step():
    hb = METHODS["heavy-ball"].at(eta=eta * (1 - beta))
    sgdm = METHODS["sgdm"]
    model = Coordinate(H=[[2, 1], [1, 3]])
    assert sp.simplify(_full_T(hb, model) - _full_T(sgdm, model)) == sp.zeros(10, 10)
    assert sp.simplify(first_moment_operator(hb, model.hessian()) - first_moment_operator(sgdm, model.hessian())) \
        == sp.zeros(4, 4)
    for a, b in zip(decoupled_block(hb, GAUSSIAN_NOISE), decoupled_block(sgdm, GAUSSIAN_NOISE)):
        assert sp.simplify(a - b) == sp.zeros(*a.shape)


def test_nesterov_differs_from_heavy_ball():
    # a test that can fail: the identities above are not vacuous. cancel is a complete zero test for
    # rational functions (simplify is a heuristic one, and took 6 s here)
    hb, nes = METHODS["heavy-ball"], METHODS["nesterov"]
    assert sp.cancel(secular_term(hb, GAUSSIAN_NOISE) - secular_term(nes, GAUSSIAN_NOISE)) != 0


def test_unknown_method_names_the_parameter():
    with pytest.raises(InputError, match=r"^method: unknown method 'adam'"):
        get_method("adam")
