"""The front door: ``import momentum_verify as mv`` is cheap, gives the everyday API in one vocabulary, and
its functions accept what the command line accepts (numbers as exact strings, batch "inf", SPECs)."""
import math
import subprocess
import sys
from argparse import Namespace
from fractions import Fraction

import pytest
import sympy as sp

import momentum_verify as mv
from momentum_verify.theory.errors import InputError


def test_import_is_lazy():
    code = ("import sys, momentum_verify as mv; print('sympy' in sys.modules, 'numpy' in sys.modules, "
            "sorted(mv.__all__) == sorted(dir(mv)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "False", "True"]


def test_every_exported_name_resolves():
    for name in mv.__all__:
        assert getattr(mv, name) is not None, name
    with pytest.raises(AttributeError):
        mv.no_such_name


def test_models_are_the_sampling_classes():
    from momentum_verify.theory import sampling
    assert mv.Gaussian is sampling.Gaussian and mv.Coordinate is sampling.Coordinate
    assert set(mv.MODELS) == {"gaussian", "finite", "kaczmarz", "coordinate"}


def test_rate_takes_strings_exactly():
    """lr = "2/5" is the exact fraction: the same digits as Fraction(2, 5), and the closed form 3/5 of
    isotropic SGD (MATH.md §7: rho = (d+1)/(B+d+1) at eta = B/(B+d+1), d = 2, B = 2)."""
    g = mv.Gaussian([1, 1])
    a = mv.rate("sgd", g, batch="2", lr="2/5", digits=30)
    b = mv.rate("sgd", g, batch=2, lr=Fraction(2, 5), digits=30)
    assert a.to_json()["rho"] == b.to_json()["rho"]
    assert abs(sp.Rational(str(a.to_json()["rho"])) - sp.Rational(3, 5)) < sp.Rational(1, 10**29)
    # a wrong closed form is caught by the same comparison
    assert abs(sp.Rational(str(a.to_json()["rho"])) - sp.Rational(5, 8)) > sp.Rational(1, 100)


def test_rate_takes_a_spec_as_a_gaussian_model_and_inf_batch():
    r1 = mv.rate("heavy-ball", "1,4", batch="inf", lr="0.1", momentum="1/2")
    r2 = mv.rate("heavy-ball", mv.Gaussian([1, 4]), batch=math.inf, lr=0.1, momentum=0.5)
    assert r1.route == r2.route == "deterministic" and float(r1.rho) == float(r2.rho)


@pytest.mark.parametrize("kwargs, param", [(dict(lr="1/0"), "lr"), (dict(lr="abc"), "lr"),
                                           (dict(lr="0.1", momentum="x"), "momentum"),
                                           (dict(lr="0.1", batch="two"), "batch"),
                                           (dict(lr=True), "lr")])
def test_bad_strings_name_the_parameter(kwargs, param):
    kw = dict(batch=2, momentum=0)
    kw.update(kwargs)
    with pytest.raises(InputError) as err:
        mv.rate("sgd", mv.Gaussian([1, 2]), **kw)
    assert err.value.param == param


def test_from_spec_is_what_the_cli_builds(tmp_path):
    import numpy as np
    from momentum_verify.verify.cmd_rate import build_model
    path = tmp_path / "A.npy"
    A = np.array([[1.0, 0.0], [1.0, 1.0], [0.0, 2.0]])
    np.save(path, A)
    args = Namespace(model="kaczmarz", spectrum=None, matrix=str(path), without_replacement=False)
    assert build_model(args) == mv.from_spec("kaczmarz", matrix=str(path)) == mv.Kaczmarz(A)
    args = Namespace(model="gaussian", spectrum="1,4/9", matrix=None, without_replacement=False)
    assert build_model(args) == mv.from_spec("gaussian", spectrum="1,4/9") == mv.Gaussian([1, Fraction(4, 9)])
    assert mv.from_spec("coordinate", spectrum="geomspace:1:100:3") == mv.Coordinate(spectrum=[1.0, 10.0, 100.0])


def test_from_spec_is_what_the_sweeps_build():
    from momentum_verify.verify import sweep
    assert sweep.build_model("gaussian", "spectra", "1,1/2", "", False) == mv.from_spec("gaussian", spectrum="1,1/2")


@pytest.mark.parametrize("call, param", [
    (lambda: mv.from_spec("gaussian"), "spectrum"),
    (lambda: mv.from_spec("gaussian", spectrum="1,2", matrix=[[1]]), "spectrum"),
    (lambda: mv.from_spec("finite", spectrum="1,2"), "matrix"),
    (lambda: mv.from_spec("coordinate"), "matrix"),
    (lambda: mv.from_spec("nonsense", spectrum="1"), "model"),
    (lambda: mv.from_spec("gaussian", spectrum="1,,2"), "spectrum"),
    (lambda: mv.from_spec("gaussian", spectrum="1,-2"), "spectrum"),
    (lambda: mv.from_spec("finite", matrix="/no/such/file.npy"), "matrix"),
])
def test_from_spec_errors_name_the_parameter(call, param):
    with pytest.raises(InputError) as err:
        call()
    assert err.value.param == param


def test_tune_and_simulate_take_strings():
    t = mv.tune("sgd", "1,1", batch="2")
    assert abs(t.lr - 0.4) < 1e-3 and abs(t.rho - 0.6) < 1e-6     # eta = B/(B+d+1), rho = (d+1)/(B+d+1)
    s = mv.simulate("sgd", "1,1", batch="2", lr="2/5", steps=5, runs=20, seed=1)
    assert len(s.steps) == 6


def test_method_and_formula():
    assert mv.method("nesterov").name == "nesterov"
    f = mv.formula("heavy-ball", "charpoly")
    assert "det(z I - (A + lambda b c^T))" in f.labels()
    expr = f["det(z I - (A + lambda b c^T))"]
    assert sp.simplify(expr - mv.method("heavy-ball").block(sp.Symbol("lambda", positive=True))
                       .charpoly(sp.Symbol("z")).as_expr()) == 0
    assert f._repr_latex_().startswith("$\\begin{aligned}") and "Formulas(method='heavy-ball'" in repr(f)


def test_check_runs_one_claim():
    out = mv.check("classical.sgd-deterministic-rate")
    assert [o.id for o in out] == ["classical.sgd-deterministic-rate"] and out[0].verdict.verdict == "holds"


@pytest.mark.parametrize("module", ["momentum_verify", "momentum_verify.verify.api",
                                    "momentum_verify.verify.model_spec", "momentum_verify.theory.sampling"])
def test_docstring_examples_run(module):
    """The examples in the front door's docstrings (and the model modules behind it) are executed."""
    import doctest
    import importlib
    res = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert res.attempted > 0 and res.failed == 0, res
