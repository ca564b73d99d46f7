"""Methods as data: the built-ins through the one constructor, method files, the example methods
(QHM, triple momentum, robust momentum, AggMo) against their known rates and stated updates, an s = 3
method through every route, and bad input (one line naming the key, exit 2)."""
import math
from pathlib import Path

import mpmath as mp
import numpy as np
import pytest
import sympy as sp

from momentum_verify.numerics.montecarlo import exact_moments, simulate
from momentum_verify.numerics.operators import SecondMomentOperator
from momentum_verify.numerics.rates import spectral_radius
from momentum_verify.theory import symbols
from momentum_verify.theory.errors import InputError
from momentum_verify.theory.method_file import load_method, method_from_dict
from momentum_verify.theory.methods import METHODS, Method, get_method
from momentum_verify.theory.moments import apply_second_moment, second_moment_operator
from momentum_verify.theory.sampling import Coordinate, FiniteSum, Gaussian
from momentum_verify.verify.cli import main
from momentum_verify.verify.method_options import bind_method

ROOT = Path(__file__).resolve().parents[1]
EX = ROOT / "examples" / "methods"
eta, beta = symbols.eta, symbols.beta


def exact(v):
    """An mpmath / Python float as the exact binary fraction it holds (for comparisons with exact values)."""
    if not isinstance(v, mp.mpf):
        v = mp.mpf(v)                  # a float is exact in 53 bits; an mpf keeps its own mantissa
    man, e = v.man_exp
    return sp.Integer(man) * sp.Integer(2) ** e


def ex(name):
    return load_method(EX / f"{name}.toml")


# --------------------------------------------------------------------------------------------------
# the built-ins: the same triples as before, structurally (so every kernel is bit-identical)
# --------------------------------------------------------------------------------------------------
# MATH.md §3, typed again here as SymPy expressions (the form the built-ins had before they became data)
REFERENCE = {
    "sgd": ([[1, 0], [1, 0]], [-eta, 0], [1, 0]),
    "heavy-ball": ([[1 + beta, -beta], [1, 0]], [-eta, 0], [1, 0]),
    "nesterov": ([[1 + beta, -beta], [1, 0]], [-eta, 0], [1 + beta, -beta]),
    "sgdm": ([[1 + beta, -beta], [1, 0]], [-eta * (1 - beta), 0], [1, 0]),
}


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_builtins_are_the_same_expression_trees(name):
    A, b, c = (sp.ImmutableMatrix(x) for x in REFERENCE[name])
    m = METHODS[name]
    # srepr equality: the same expression trees, so lambdify generates the same code (bit-identical)
    assert (sp.srepr(m.A), sp.srepr(m.b), sp.srepr(m.c)) == (sp.srepr(A), sp.srepr(b), sp.srepr(c))
    assert m.uses_momentum == (name != "sgd")
    assert method_from_dict(m.to_data()) == m          # to_data parses back to the same method


def test_builtin_rates_unchanged_bit_for_bit():
    """The float rate through the data-built method equals the one through a hand-built Method."""
    A, b, c = (sp.ImmutableMatrix(x) for x in REFERENCE["nesterov"])
    hand = Method("nesterov-by-hand", A, b, c, "")
    model = Gaussian(np.geomspace(0.01, 1, 7))
    r1 = spectral_radius(METHODS["nesterov"], model, 4, 0.7, 0.6)
    r2 = spectral_radius(hand, model, 4, 0.7, 0.6)
    assert float(r1.rho) == float(r2.rho)


def test_example_files_load_and_round_trip():
    for f in sorted(EX.glob("*.toml")):
        m = load_method(f)
        assert m.name == f.stem
        again = method_from_dict(m.to_data())
        assert (again.A, again.b, again.c, again.init) == (m.A, m.b, m.c, m.init)


# --------------------------------------------------------------------------------------------------
# triple momentum at its stated parameters, B = inf: exact rate, 30 digits, certified
# --------------------------------------------------------------------------------------------------
def tmm_parameters(kappa, L=1):
    """Van Scoy et al. (2018): rho = 1 - 1/sqrt(kappa), alpha = (1 + rho)/L, beta = rho^2/(2 - rho),
    gamma = rho^2/((1 + rho)(2 - rho))."""
    r = 1 - 1 / sp.sqrt(kappa)
    return sp.nsimplify((1 + r) / L), sp.nsimplify(r**2 / (2 - r)), sp.nsimplify(r**2 / ((1 + r) * (2 - r))), r


@pytest.mark.parametrize("kappa", [100, 7])
def test_triple_momentum_exact_rate_30_digits(kappa):
    L = kappa                                   # mu = 1
    alpha, b, g, r = tmm_parameters(kappa, L)
    m = ex("triple-momentum").bind(gamma=g)
    model = Gaussian([1, 2, (1 + kappa) / 2, kappa - 1, kappa])
    res = spectral_radius(m, model, math.inf, alpha, b, digits=30, certify=True)
    assert res.route == "deterministic" and res.digits >= 30
    stated = r**2                               # E||e||^2 at the square of the iterates' rate
    lo, hi = (exact(v) for v in res.interval)
    # the certified interval holds the stated rate: the bound is attained (not only respected)
    assert sp.N(stated - lo, 50) >= 0 and sp.N(hi - stated, 50) >= 0
    assert abs(sp.N(exact(res.rho) - stated, 50)) <= sp.N(stated, 50) * sp.Float(10, 50) ** -29
    # an independent route: exact roots of each block's charpoly (SymPy), the largest modulus at mu
    z = symbols.z
    worst = max(max(abs(complex(sp.N(x, 40))) for x in sp.Poly((z * sp.eye(2) - m.at(eta=alpha, beta=b).block(lam)).det(), z).nroots(n=40))
                for lam in (1, 2, kappa))
    assert worst == pytest.approx(float(r), rel=1e-14)
    # attained exactly at lambda = mu: rho is a root of the block's charpoly there
    cp = sp.expand((z * sp.eye(2) - m.at(eta=alpha, beta=b).block(1)).det())
    assert sp.simplify(cp.subs(z, r)) == 0


def test_triple_momentum_rate_is_not_exceeded_inside_the_interval():
    """Every eigenvalue in [mu, L] gives a block radius <= 1 - 1/sqrt(kappa) (fine grid, double)."""
    kappa = 50
    alpha, b, g, r = tmm_parameters(kappa, kappa)
    m = ex("triple-momentum").bind(gamma=g)
    model = Gaussian(np.linspace(1, kappa, 400))
    res = spectral_radius(m, model, math.inf, alpha, b, digits=20)
    assert float(res.rho) <= float(r**2) * (1 + 1e-15)
    assert float(res.rho) == pytest.approx(float(r**2), rel=1e-15)


def test_robust_momentum_respects_its_stated_rate():
    """Cyrus et al. (2018) with rho in [1 - 1/sqrt(kappa), 1 - 1/kappa]: exact rate of E||e||^2 <= rho^2."""
    kappa, L = sp.Integer(100), sp.Integer(100)
    for rr in (sp.Rational(19, 20), sp.Rational(24, 25), sp.Rational(99, 100)):
        alpha = kappa * (1 - rr) ** 2 * (1 + rr) / L
        b = kappa * rr**3 / (kappa - 1)
        g = rr**3 / ((kappa - 1) * (1 - rr) ** 2 * (1 + rr))
        m = ex("robust-momentum").bind(gamma=g)
        res = spectral_radius(m, Gaussian([1, 3, 10, 30, 100]), math.inf, alpha, b, digits=25, certify=True)
        lo, hi = (exact(v) for v in res.interval)
        assert lo <= rr**2 <= hi                        # certified: the stated rate is attained, not exceeded
        assert hi - lo <= rr**2 * sp.Rational(1, 10**24)
    # rho = 1 - 1/sqrt(kappa) is the triple momentum method (the same four numbers)
    rr = 1 - 1 / sp.sqrt(kappa)
    assert (kappa * (1 - rr) ** 2 * (1 + rr) / L, kappa * rr**3 / (kappa - 1),
            rr**3 / ((kappa - 1) * (1 - rr) ** 2 * (1 + rr))) == tmm_parameters(kappa, L)[:3]
    # rho = 1 - 1/kappa is gradient descent with step 1/L (its stated end point)
    rr = 1 - 1 / kappa
    m = ex("robust-momentum").at(eta=kappa * (1 - rr) ** 2 * (1 + rr) / L, beta=kappa * rr**3 / (kappa - 1),
                                 gamma=rr**3 / ((kappa - 1) * (1 - rr) ** 2 * (1 + rr)))
    assert m.block(symbols.lam) != METHODS["sgd"].at(eta=1 / L).block(symbols.lam)   # different states...
    z = symbols.z
    cp = sp.factor((z * sp.eye(2) - m.block(symbols.lam)).det())
    assert sp.simplify(cp.subs(z, 1 - symbols.lam / L)) == 0          # ...but the GD mode 1 - lambda/L is there


# --------------------------------------------------------------------------------------------------
# QHM: nu = 1 is dampened SGDM, nu = 0 is SGD, on the full operators
# --------------------------------------------------------------------------------------------------
def _sym_S(m):
    xs = sp.symbols(f"s0:{m * (m + 1) // 2}")
    S = sp.zeros(m, m)
    k = 0
    for i in range(m):
        for j in range(i, m):
            S[i, j] = S[j, i] = xs[k]
            k += 1
    return S


def test_qhm_nu_one_is_dampened_sgdm_on_the_full_operator():
    """(e_k, e_{k-1}) = (P ⊗ I)(e_k, m_k), P = [[1, 0], [1, eta]]: T_sgdm(S) = P T_qhm(P^-1 S P^-T) P^T."""
    q = ex("qhm").bind(nu=1)
    sgdm = METHODS["sgdm"]
    P = sp.Matrix([[1, 0], [1, eta]])
    assert sp.simplify(P * q.A * P.inv() - sgdm.A) == sp.zeros(2, 2)
    assert sp.simplify(P * q.b - sgdm.b) == sp.zeros(2, 1)
    assert sp.simplify(q.c.T * P.inv() - sgdm.c.T) == sp.zeros(1, 2)
    assert P * q.init_vector() == sgdm.init_vector()             # zero momentum is x_{-1} = x_0
    model = Coordinate(H=[[2, 1], [1, 3]])                       # not decoupled: the full operator
    d = 2
    PI = sp.kronecker_product(P, sp.eye(d))
    S = _sym_S(2 * d)
    lhs = apply_second_moment(sgdm, model, S)
    rhs = PI * apply_second_moment(q, model, PI.inv() * S * PI.inv().T) * PI.T
    assert sp.simplify(lhs - rhs) == sp.zeros(4, 4)


def test_qhm_nu_zero_is_sgd_on_the_error_block():
    """The e-block of T(S) depends on S_ee alone and is SGD's (the momentum buffer is not fed back)."""
    q, sgd = ex("qhm").bind(nu=0), METHODS["sgd"]
    model = Coordinate(H=[[2, 1], [1, 3]])
    S = _sym_S(4)
    Tq = apply_second_moment(q, model, S)[:2, :2]
    Ts = apply_second_moment(sgd, model, S)[:2, :2]
    assert sp.simplify(Tq - Ts) == sp.zeros(2, 2)
    outside = {S[i, j] for i in range(4) for j in range(4) if i >= 2 or j >= 2}
    assert not (sp.Matrix(Tq).free_symbols & outside)


def test_qhm_nu_endpoints_give_the_same_numbers():
    model = FiniteSum(np.random.default_rng(3).standard_normal((7, 3)))
    for nu, ref, lr in ((1, "sgdm", 0.2), (0, "sgd", 0.05)):
        q = ex("qhm").bind(nu=nu)
        a, _ = exact_moments(q, model, 2, lr, 0.8, 40)
        b, _ = exact_moments(ref, model, 2, lr, 0.8, 40)
        np.testing.assert_allclose(a, b, rtol=1e-12)
    # nu = 1: the same operator up to similarity, so the same rate
    r1 = spectral_radius(ex("qhm").bind(nu=1), model, 2, 0.2, 0.8, digits=20)
    r2 = spectral_radius("sgdm", model, 2, 0.2, 0.8, digits=20)
    assert abs(float(r1.rho) - float(r2.rho)) <= 1e-18
    # a planted difference: nu = 1/2 is neither
    a, _ = exact_moments(ex("qhm").bind(nu="1/2"), model, 2, 0.2, 0.8, 40)
    b, _ = exact_moments("sgdm", model, 2, 0.2, 0.8, 40)
    assert not np.allclose(a, b, rtol=1e-6)


# --------------------------------------------------------------------------------------------------
# an s = 3 method (AggMo with two velocities) through every route
# --------------------------------------------------------------------------------------------------
def test_aggmo_dense_routes_agree():
    """s = 3 (fast part): dense double vs dense mpmath vs the vech matrix of the numeric operator vs the
    certified interval, on a decoupled and on a non-decoupled model."""
    m = ex("aggmo").with_defaults()
    assert m.s == 3
    g = Gaussian([1, 2, 4])
    ref = spectral_radius(m, g, 4, 0.1, 0, route="dense", digits=20)
    dbl = spectral_radius(m, g, 4, 0.1, 0, route="dense")
    assert abs(float(dbl.rho) - float(ref.rho)) <= 10.0 ** (1 - dbl.digits) * float(ref.rho)
    T = SecondMomentOperator(m, g, 4, 0.1, 0).vech_matrix()
    assert max(abs(np.linalg.eigvals(T))) == pytest.approx(float(ref.rho), rel=1e-10)
    f = FiniteSum(np.random.default_rng(0).standard_normal((6, 3)))
    rd = spectral_radius(m, f, 2, 0.05, 0, route="dense", digits=20)
    rc = spectral_radius(m, f, 2, 0.05, 0, certify=True)
    with mp.workdps(40):
        assert rc.interval[0] <= mp.mpf(rd.rho) <= rc.interval[1]
    assert abs(float(rc.rho) - float(rd.rho)) <= 10.0 ** (1 - rc.digits) * float(rd.rho)


@pytest.mark.slow
def test_aggmo_every_route_agrees():
    """s = 3 through the secular (double, 30 digits, certified) and matrix-free routes too. Slow: SymPy
    builds the s = 3 secular kernels (a 6 x 6 adjugate, 20-140 s on the shared machine)."""
    m = ex("aggmo").with_defaults()
    g = Gaussian([1, 2, 4])
    ref = spectral_radius(m, g, 4, 0.1, 0, route="secular", digits=30, certify=True)
    dense = spectral_radius(m, g, 4, 0.1, 0, route="dense", digits=20)
    with mp.workdps(40):
        assert abs(mp.mpf(dense.rho) - mp.mpf(ref.rho)) <= mp.mpf(10) ** (-19)
        assert ref.interval[0] <= mp.mpf(ref.rho) <= ref.interval[1]
    for route in ("secular", "dense", "matrix-free"):
        r = spectral_radius(m, g, 4, 0.1, 0, route=route)
        assert abs(float(r.rho) - float(ref.rho)) <= 10.0 ** (1 - r.digits) * float(ref.rho), route
    f = FiniteSum(np.random.default_rng(0).standard_normal((6, 3)))
    rd = spectral_radius(m, f, 2, 0.05, 0, route="dense", digits=20)
    rm = spectral_radius(m, f, 2, 0.05, 0, route="matrix-free")
    assert abs(float(rm.rho) - float(rd.rho)) <= 10.0 ** (1 - rm.digits) * float(rd.rho)


def test_aggmo_monte_carlo_matches_exact():
    """Monte Carlo (99.9% intervals at each reliable step, Bonferroni over steps) against the exact
    second-moment recursion, both from z_0 = (e_0, 0, 0)."""
    m = ex("aggmo").with_defaults()
    g = Gaussian([1, 2, 4])
    K = 40
    res = simulate(m, g, 4, 0.1, 0, K, 4000, seed=5, confidence=1 - 0.01 / K)
    exact, _ = exact_moments(m, g, 4, 0.1, 0, K)
    rel = res.reliable
    assert rel[:10].all()
    assert np.all(res.ci_low[rel] * (1 - 1e-9) <= exact[rel]) and np.all(exact[rel] <= res.ci_high[rel] * (1 + 1e-9))
    # the init matters: starting from (e0, e0, e0) gives a different curve (a test that can fail)
    other = Method("aggmo-all-e0", m.A, m.b, m.c, "")
    wrong, _ = exact_moments(other, g, 4, 0.1, 0, K)
    assert not np.allclose(wrong[1:10], exact[1:10], rtol=1e-3)


# --------------------------------------------------------------------------------------------------
# each method's stated update against its triple, by direct simulation
# --------------------------------------------------------------------------------------------------
def _triple_run(m, lr, mom, Gs, e0):
    from momentum_verify.numerics.operators import init_weights, method_arrays
    A, b, c = method_arrays(m, lr, mom)
    z = [w * e0 for w in init_weights(m, lr, mom)]
    out = [z[0]]
    for G in Gs:
        u = G @ sum(ci * zi for ci, zi in zip(c, z))
        z = [sum(A[a, j] * z[j] for j in range(m.s)) + b[a] * u for a in range(m.s)]
        out.append(z[0])
    return np.array(out)


def _stated(name, p, Gs, e0):
    """The update rules as the papers state them (x here is the error e = x - x*, g = G_k e)."""
    x, out = e0.copy(), [e0.copy()]
    if name == "qhm":
        mbuf = np.zeros_like(x)
        for G in Gs:
            g = G @ x
            mbuf = p["beta"] * mbuf + (1 - p["beta"]) * g
            x = x - p["eta"] * ((1 - p["nu"]) * g + p["nu"] * mbuf)
            out.append(x)
    elif name in ("triple-momentum", "robust-momentum"):
        prev = x.copy()
        for G in Gs:
            y = x + p["gamma"] * (x - prev)
            x, prev = x + p["beta"] * (x - prev) - p["eta"] * (G @ y), x
            out.append(x)
    elif name == "aggmo":
        v1, v2 = np.zeros_like(x), np.zeros_like(x)
        for G in Gs:
            g = G @ x
            v1, v2 = p["beta1"] * v1 - g, p["beta2"] * v2 - g
            x = x + p["eta"] / 2 * (v1 + v2)
            out.append(x)
    return np.array(out)


@pytest.mark.parametrize("name, p", [
    ("qhm", {"eta": 0.3, "beta": 0.8, "nu": 0.7}),
    ("triple-momentum", {"eta": 0.19, "beta": 81 / 110, "gamma": 81 / 209}),
    ("robust-momentum", {"eta": 0.05, "beta": 0.85, "gamma": 0.3}),
    ("aggmo", {"eta": 0.2, "beta1": 0.5, "beta2": 0.9}),
])
def test_stated_update_matches_triple(name, p):
    rng = np.random.default_rng(7)
    d = 3
    X = rng.standard_normal((30, d))
    Gs = [np.outer(X[i], X[i]) / 2 for i in rng.integers(0, 30, size=25)]   # stochastic gradients G_k e
    e0 = rng.standard_normal(d)
    m = ex(name)
    extra = {k: v for k, v in p.items() if k not in ("eta", "beta")}
    bound = m.bind(**extra)
    got = _triple_run(bound, p["eta"], p.get("beta", 0.0), Gs, e0)
    want = _stated(name, p, Gs, e0)
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    # planted: a wrong parameter value does not match
    wrong = _triple_run(bound, p["eta"] * 1.1, p.get("beta", 0.0), Gs, e0)
    assert not np.allclose(wrong, want, rtol=1e-6)


# --------------------------------------------------------------------------------------------------
# parameters, ranges, tuning hook
# --------------------------------------------------------------------------------------------------
def test_bind_checks_ranges_and_names():
    q = ex("qhm")
    assert q.bind(nu="7/10").name == "qhm[nu=7/10]"
    with pytest.raises(InputError, match=r"^nu: must lie in \[0, 1\]"):
        q.bind(nu=1.5)
    with pytest.raises(InputError, match=r"^param: method qhm has no parameter 'zeta'"):
        bind_method(q, {"zeta": "1"})
    with pytest.raises(InputError, match=r"^param: method triple-momentum needs a value for gamma"):
        bind_method(ex("triple-momentum"), {})
    assert bind_method(q, {}).name == "qhm[nu=7/10]"               # the file's default
    with pytest.raises(InputError, match=r"^momentum: method aggmo"):
        bind_method(ex("aggmo"), {}, momentum="0.5")


def test_momentum_axis_hook_tunes_another_parameter():
    """Tuning over (eta, nu) at fixed beta: rename nu to the momentum axis (numerics.tuning is unchanged)."""
    q = ex("qhm").bind(beta="9/10").as_momentum_axis("nu")
    assert q.uses_momentum and "beta" in q.parameters and "nu" not in q.parameters
    direct = spectral_radius(ex("qhm").bind(beta="9/10", nu="3/10"), Gaussian([1, 2, 4]), 4, 0.2, 0)
    via = spectral_radius(q, Gaussian([1, 2, 4]), 4, 0.2, 0.3)
    assert float(direct.rho) == pytest.approx(float(via.rho), rel=1e-14)


# --------------------------------------------------------------------------------------------------
# bad input: one line naming the key, exit 2
# --------------------------------------------------------------------------------------------------
GOOD = {"name": "x", "parameters": ["eta", "beta"], "A": [["1 + beta", "-beta"], ["1", "0"]],
        "b": ["-eta", "0"], "c": ["1", "0"]}


@pytest.mark.parametrize("change, key", [
    ({"A": [["1", "0"], ["1"]]}, "A"),
    ({"A": [["1", "0", "0"], ["1", "0", "0"]]}, "A"),
    ({"b": ["-eta"]}, "b"),
    ({"c": ["1", "0", "0"]}, "c"),
    ({"b": ["-eta*rho", "0"]}, "b[0]"),
    ({"A": [["1 + beta", "-beta"], ["1", "import os"]]}, "A[1][1]"),
    ({"init": ["e0", "1"]}, "init[1]"),
    ({"parameters": ["eta", "z"]}, "parameters"),
    ({"ranges": {"beta": "[0, 1"}}, "ranges.beta"),
    ({"ranges": {"nu": "[0, 1]"}}, "ranges.nu"),
    ({"defaults": {"beta": "2"}}, "defaults.beta"),
    ({"colour": "red"}, "colour"),
])
def test_bad_method_data_names_the_key(change, key):
    with pytest.raises(InputError) as err:
        method_from_dict({**GOOD, **change})
    assert str(err.value).startswith(f"{key}: ") and "\n" not in str(err.value)


def test_free_symbols_checked_on_construction():
    with pytest.raises(InputError, match="^parameters: the triple uses gamma"):
        Method("x", sp.ImmutableMatrix([[sp.Symbol("gamma")]]), sp.ImmutableMatrix([1]), sp.ImmutableMatrix([1]),
               "", parameters=("eta",))
    with pytest.raises(InputError, match="^b: must have 1 entries"):
        Method("x", sp.ImmutableMatrix([[1]]), sp.ImmutableMatrix([1, 2]), sp.ImmutableMatrix([1]), "")


def _cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("extra, key", [
    (["--param", "nu=1.5"], "nu"),
    (["--param", "zeta=1"], "param"),
    (["--param", "nu"], "param"),
    (["--param", "eta=1"], "param"),
])
def test_cli_bad_params_exit_2(capsys, extra, key):
    code, out, err = _cli(capsys, "rate", "--method", str(EX / "qhm.toml"), "--spectrum", "1,2", "--batch", "4",
                          "--lr", "0.1", "--momentum", "0.5", *extra)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and f"error: {key}: " in err


def test_cli_bad_file_exit_2(capsys, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "bad"\nparameters = ["eta"]\nA = [["1", "0"], ["0", "1"]]\nb = ["-eta"]\nc = ["1", "0"]\n')
    code, _, err = _cli(capsys, "rate", "--method", str(bad), "--spectrum", "1", "--batch", "4", "--lr", "0.1")
    assert code == 2 and err.count("\n") == 1 and "error: b: must be a list of 2 entries" in err
    (tmp_path / "syntax.toml").write_text('name = "bad\n')
    code, _, err = _cli(capsys, "rate", "--method", str(tmp_path / "syntax.toml"), "--spectrum", "1", "--batch", "4",
                        "--lr", "0.1")
    assert code == 2 and err.count("\n") == 1 and "error: method: syntax.toml is not valid TOML" in err
    code, _, err = _cli(capsys, "rate", "--method", str(tmp_path / "missing.toml"), "--spectrum", "1", "--batch", "4",
                        "--lr", "0.1")
    assert code == 2 and "error: method: cannot read file" in err


def test_cli_method_file_in_every_command(capsys):
    q = str(EX / "qhm.toml")
    code, out, _ = _cli(capsys, "rate", "--method", q, "--param", "nu=1", "--spectrum", "1,2,4", "--batch", "4",
                        "--lr", "0.1", "--momentum", "0.9")
    code2, out2, _ = _cli(capsys, "rate", "--method", "sgdm", "--spectrum", "1,2,4", "--batch", "4",
                          "--lr", "0.1", "--momentum", "0.9")
    assert code == code2 == 0 and out.splitlines()[0] == out2.splitlines()[0]
    code, out, _ = _cli(capsys, "simulate", "--method", str(EX / "aggmo.toml"), "--spectrum", "1,2", "--batch", "2",
                        "--lr", "0.1", "--steps", "5", "--runs", "20", "--quiet")
    assert code == 0 and "aggmo[beta1=1/2,beta2=9/10]" in out
    code, out, _ = _cli(capsys, "formula", "--method", q, "--param", "nu=0", "--what", "charpoly")
    assert code == 0 and "nu" not in out
    code, out, _ = _cli(capsys, "formula", "--method", q, "--what", "charpoly")
    assert code == 0 and "nu" in out                            # unbound parameters stay symbolic
