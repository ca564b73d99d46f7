"""The shipped kernels (numerics/generated/) are what theory's expressions give today, and compute the
same bits as the SymPy route (lambdify) does for the same method and noise rebuilt from expressions.

Regenerating them is the drift check: the math is derived once, in theory/, and the shipped text can
never differ from it (a planted change to the text or to theory is caught).
"""
from __future__ import annotations

import os

import numpy as np
import pytest

from momentum_verify.numerics import kernels, operators
from momentum_verify.theory.methods import BUILTIN_DATA, METHODS, Method
from momentum_verify.theory.sampling import BUILTIN_NOISES, DecoupledNoise

FOLDER = kernels.generated_folder()


def shipped_text(family: str) -> str:
    with open(os.path.join(FOLDER, f"{family}.py")) as fh:
        return fh.read()


@pytest.fixture(scope="module")
def regenerated():
    return {family: kernels.generate_family(family) for family in kernels.FAMILIES}


@pytest.mark.parametrize("family", sorted(kernels.FAMILIES))
def test_shipped_text_is_what_theory_gives(family, regenerated):
    assert regenerated[family] == shipped_text(family), (
        f"numerics/generated/{family}.py is stale: run python -m momentum_verify.numerics.generate")


def test_init_is_the_generated_one():
    with open(os.path.join(FOLDER, "__init__.py")) as fh:
        assert fh.read() == kernels.GENERATED_INIT


def test_planted_drift_is_caught(regenerated, monkeypatch):
    # a changed shipped text differs from the regenerated one
    text = shipped_text("secular_grid")
    planted = text.replace("2*eta", "2.0000001*eta", 1)
    assert planted != text and planted != regenerated["secular_grid"]
    # a changed method in theory changes the regenerated text
    data = [dict(d) for d in BUILTIN_DATA]
    data[1] = {**data[1], "A": [["1 + beta", "-beta"], ["1", "0"]], "b": ["-2*eta", "0"]}   # heavy-ball, 2 eta
    from momentum_verify.theory import methods
    monkeypatch.setattr(methods, "METHODS", {d["name"]: methods.BuiltinMethod(d) for d in data})
    assert kernels.generate_family("triple") != shipped_text("triple")


def test_every_builtin_has_its_shipped_kernels():
    for family in kernels.FAMILIES:
        for name, m in METHODS.items():
            if family in kernels.METHOD_ONLY:
                assert kernels.shipped(family, m) is not None, (family, name)
            else:
                for noise in BUILTIN_NOISES.values():
                    assert kernels.shipped(family, m, noise) is not None, (family, name, noise.name)
    # a method or noise rebuilt from expressions has none (it takes the SymPy route)
    plain = Method.from_data(BUILTIN_DATA[0])
    assert plain == METHODS["sgd"] and kernels.shipped("triple", plain) is None
    g = BUILTIN_NOISES["gaussian"]
    assert kernels.shipped("secular_grid", METHODS["sgd"], DecoupledNoise(g.alpha, g.w, g.omega)) is None


def _same(a, c, where, args):
    if isinstance(a, dict):
        assert a.keys() == c.keys(), where
        for k in a:
            _same(a[k], c[k], f"{where}.{k}", args)
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(c), where
        for i, (x, y) in enumerate(zip(a, c)):
            _same(x, y, f"{where}[{i}]", args)
    elif callable(a):                                  # the h-coefficient kernel of the grid
        _same(a(*args), c(*args), f"{where}()", args)
    else:
        x, y = np.asarray(a), np.asarray(c)
        assert x.shape == y.shape and np.array_equal(x, y), where


def derived(kernel):
    """The kernel function without its cache (a plain method equals the built-in one, so the cached
    call would return the shipped kernel): the SymPy route itself."""
    return kernel.__wrapped__


@pytest.mark.parametrize("name", list(METHODS))
def test_shipped_kernels_are_bit_identical_to_lambdify(name):
    rng = np.random.default_rng(7)
    m = METHODS[name]
    plain = Method.from_data(next(d for d in BUILTIN_DATA if d["name"] == name))
    lam = rng.uniform(0.01, 3, (1, 6))
    e, b, f = rng.uniform(0.01, 1, (4, 1)), rng.uniform(0, 0.999, (4, 1)), rng.uniform(0, 1, (4, 1))
    tau = float(lam.sum())
    assert kernels.builtin_key(m) == (name,) and kernels.builtin_key(plain) is None
    _same(operators.triple_kernel(m)(0.3, 0.7), derived(operators.triple_kernel)(plain)(0.3, 0.7), "triple", ())
    _same(operators.first_moment_charpoly_kernel(m)(lam, e, b),
          derived(operators.first_moment_charpoly_kernel)(plain)(lam, e, b), "charpoly", ())
    z, li, lj = rng.uniform(1, 2, (3, 1, 1)), rng.uniform(0.1, 2, (1, 4)), rng.uniform(0.1, 2, (4, 1))
    _same(operators.pair_response_kernel(m)(z, li, lj, 0.3, 0.6),
          derived(operators.pair_response_kernel)(plain)(z, li, lj, 0.3, 0.6), "psi", ())
    _same(operators.pair_response_z_kernel(m)(li, lj, 0.3, 0.6),
          derived(operators.pair_response_z_kernel)(plain)(li, lj, 0.3, 0.6), "psi's coefficients in z", ())
    for nn, noise in BUILTIN_NOISES.items():
        pn = DecoupledNoise(noise.alpha, noise.w, noise.omega)
        args = (lam, e, b, f, tau)
        _same(operators.decoupled_kernel(m, noise)(*args), derived(operators.decoupled_kernel)(plain, pn)(*args),
              f"{nn} decoupled", ())
        _same(operators.secular_grid_kernel(m, noise)(*args),
              derived(operators.secular_grid_kernel)(plain, pn)(*args), f"{nn} grid", (e, b, f, tau))
        _same(operators.secular_magnitude_kernel(m, noise)(*args),
              derived(operators.secular_magnitude_kernel)(plain, pn)(*args), f"{nn} magnitude", ())
        _same(kernels.secular_tuning_kernel(m, noise)(*args),
              derived(kernels._secular_tuning_kernel)(plain, pn)(*args), f"{nn} tuning", ())


def test_a_planted_kernel_difference_is_seen():
    m, plain = METHODS["heavy-ball"], Method.from_data(BUILTIN_DATA[1])
    a = operators.triple_kernel(m)(0.3, 0.7)
    b = derived(operators.triple_kernel)(plain)(0.3, 0.70000000000001)
    with pytest.raises(AssertionError):
        _same(a, b, "triple", ())
