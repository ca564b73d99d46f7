"""Exact stochastic-rate polynomials, closed forms and asymptotics (theory.stochastic, theory.asymptotics).

Routes held against each other:
  * the largest real root of det(zI - T_k) from :func:`theory.stochastic.rate_polynomial` (mpmath, 60 digits);
  * the numeric engine ``numerics.spectral.spectral_radius`` (30 digits requested);
  * the dense decoupled operator ``numerics.operators.DecoupledProblem(...).dense()`` (double);
  * mpmath.eig of T_k assembled from ``theory.moments.decoupled_block`` (50 digits), a route that does not
    go through ``secular_term`` nor through the polynomial.
"""
import json
from fractions import Fraction

import mpmath as mp
import pytest
import sympy as sp
from hypothesis import given, strategies as st

from momentum_verify.numerics.operators import DecoupledProblem
from momentum_verify.numerics.rates import spectral_radius
from momentum_verify.theory import symbols
from momentum_verify.theory.asymptotics import family_spectrum, sgd_series
from momentum_verify.numerics.polynomial_tuning import top_root_mp, tuned_rate, tuned_sequence
from momentum_verify.theory.errors import InputError
from momentum_verify.theory.methods import get_method
from momentum_verify.theory.moments import decoupled_block
from momentum_verify.theory.sampling import GAUSSIAN_NOISE, Gaussian
from momentum_verify.theory.stochastic import (ISOTROPIC, Spectrum, d, isotropic_roots, isotropic_sgd, parse_spectrum,
                               rate_polynomial, tuning_conditions)

B, z, eta, beta = symbols.B, symbols.z, symbols.eta, symbols.beta
METHODS = ["sgd", "heavy-ball", "nesterov", "sgdm"]


# --------------------------------------------------------------------------------------------------
# parsing
# --------------------------------------------------------------------------------------------------
def test_parse_forms():
    s = parse_spectrum("L^1,mu^(d-1)")
    assert s.values == (symbols.L, symbols.mu) and s.mults == (1, d - 1)
    s = parse_spectrum("3, 1/2^3, (2^2)^5")
    assert s.values == (3, sp.Rational(1, 2), 4)
    assert s.mults == (1, 3, 5)
    assert parse_spectrum("1^d") == ISOTROPIC
    assert parse_spectrum("0.25^2").values == (sp.Rational(1, 4),)


@pytest.mark.parametrize("text", ["", "x^2", "1^0", "1^(1/2)", "-1^2", "1,1", "1^2,1^3", "1^(", "__import__('os')"])
def test_parse_errors(text):
    with pytest.raises(InputError) as e:
        parse_spectrum(text)
    assert str(e.value).startswith("spectrum:")


# --------------------------------------------------------------------------------------------------
# structure of the polynomial
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", METHODS)
def test_degree_and_factorisation(name):
    rp = rate_polynomial(name, parse_spectrum("L^m2,mu^m1"))
    assert rp.degree == 6                                    # 3k, s = 2
    assert sp.expand(rp.full - rp.extra * rp.secular) == 0
    # F(z) = 1 <=> Q(z) = 0: 1 - F times the cleared denominators is Q
    num = sp.fraction(sp.cancel(sp.together(1 - rp.secular_fn)))[0]
    assert z not in sp.cancel(num / rp.secular).free_symbols
    if name == "sgd":
        assert rp.extra == z**4                              # spurious roots of the cleared denominators


@pytest.mark.parametrize("name", ["sgd", "heavy-ball"])
def test_full_polynomial_by_expansion_equals_the_shifted_secular_factor(name, monkeypatch):
    """rate_polynomial reuses Q's factored coefficients for ``full`` when the extra factor is z^k (every
    built-in method); the general route (expanding extra * Q) must give the very same expression."""
    import momentum_verify.theory.stochastic as stochastic
    spec = parse_spectrum("L^1,mu^(d-1)")
    shifted = rate_polynomial(name, spec)
    monkeypatch.setattr(stochastic, "_z_power", lambda expr: None)
    expanded = rate_polynomial(name, spec)
    assert sp.srepr(expanded.full) == sp.srepr(shifted.full)
    assert sp.srepr(expanded.secular) == sp.srepr(shifted.secular)


# --------------------------------------------------------------------------------------------------
# the largest root is the rate: three independent routes
# --------------------------------------------------------------------------------------------------
def _Tk_mp(name, spec: Spectrum, fB, lr, mom):
    """T_k = blockdiag(D(lambda_i)) + (m_i u_i) v_j^T from decoupled_block (exact, then mpmath)."""
    D, u, v = decoupled_block(get_method(name), GAUSSIAN_NOISE, fB=fB)
    sub = {eta: lr, beta: mom}
    k = spec.k
    T = sp.zeros(3 * k, 3 * k)
    for i, (li, mi) in enumerate(zip(spec.values, spec.mults)):
        T[3 * i:3 * i + 3, 3 * i:3 * i + 3] = D.subs(symbols.lam, li).subs(sub)
        for j, lj in enumerate(spec.values):
            T[3 * i:3 * i + 3, 3 * j:3 * j + 3] += mi * u.subs(symbols.lam, li).subs(sub) * \
                v.subs(symbols.lam, lj).subs(sub).T
    return mp.matrix([[mp.mpf(sp.Rational(x).p) / sp.Rational(x).q for x in T.row(r)] for r in range(3 * k)])


fractions = st.fractions(min_value=Fraction(1, 20), max_value=4, max_denominator=50)


@st.composite
def instances(draw):
    vals = draw(st.lists(fractions, min_size=1, max_size=3, unique=True))
    mults = draw(st.lists(st.integers(1, 3), min_size=len(vals), max_size=len(vals)))
    L = max(vals)
    lr = draw(st.fractions(min_value=Fraction(1, 100), max_value=1, max_denominator=100)) / L
    mom = draw(st.fractions(min_value=0, max_value=Fraction(95, 100), max_denominator=100))
    batch = draw(st.integers(1, 64))
    name = draw(st.sampled_from(METHODS))
    return name, vals, mults, lr, mom, batch


@given(instances())
def test_largest_root_is_rho(inst):
    name, vals, mults, lr, mom, batch = inst
    if name == "sgd":
        mom = Fraction(0)
    spec = Spectrum(tuple(sp.Rational(v.numerator, v.denominator) for v in vals), tuple(sp.Integer(m) for m in mults))
    lr_s, mom_s = sp.Rational(lr.numerator, lr.denominator), sp.Rational(mom.numerator, mom.denominator)
    rp = rate_polynomial(name, spec, batch)
    coeffs = [c.subs({eta: lr_s, beta: mom_s}) for c in rp.coefficients()]
    with mp.workdps(60):
        root = top_root_mp([mp.mpf(c.p) / c.q for c in map(sp.Rational, coeffs)])
        # the largest REAL root equals the largest modulus (Krein-Rutman)
        Qc = [mp.mpf(c.p) / c.q for c in map(sp.Rational, sp.Poly(rp.secular.subs({eta: lr_s, beta: mom_s}), z).all_coeffs())]
        reals = [r.real for r in mp.polyroots(Qc, maxsteps=200, extraprec=400) if abs(r.imag) < mp.mpf(10) ** -40]
        assert abs(max(reals) - root) < mp.mpf(10) ** -45     # the top root is a real root of Q
    model = Gaussian([Fraction(v) for v, mlt in zip(vals, mults) for _ in range(mlt)])
    eng = spectral_radius(name, model, batch, lr, mom, digits=30)
    with mp.workdps(60):
        assert abs(mp.mpf(eng.rho) - root) <= mp.mpf(10) ** -29 * root, (eng.rho, root)
    dense = DecoupledProblem(name, model, batch, float(lr), float(mom)).dense()
    import numpy as np
    assert abs(np.max(np.abs(np.linalg.eigvals(dense))) - float(root)) <= 1e-6 * float(root)
    with mp.workdps(50):
        ev = mp.eig(_Tk_mp(name, spec, sp.Rational(1, batch), lr_s, mom_s), left=False, right=False)
        assert abs(max(abs(e) for e in ev) - root) <= mp.mpf(10) ** -40 * root


# --------------------------------------------------------------------------------------------------
# closed forms
# --------------------------------------------------------------------------------------------------
def test_isotropic_sgd_matches_math_md():
    """MATH.md §7: tuned SGD on H = I_d has rho = (d+1)/(B+d+1) at eta = B/(B+d+1), stable up to
    eta = 2B/(B+d+1); linear scaling until B = d + 1."""
    iso = isotropic_sgd()
    assert sp.simplify(iso.rho_opt - (d + 1) / (B + d + 1)) == 0
    assert sp.simplify(iso.eta_opt - B / (B + d + 1)) == 0
    assert sp.simplify(iso.eta_max - 2 * B / (B + d + 1)) == 0
    assert sp.simplify(iso.batch_critical - (d + 1)) == 0


@given(st.integers(1, 12), st.integers(1, 200))
def test_isotropic_sgd_numeric(dim, batch):
    """rho_opt equals the engine at eta_opt to 30 digits, and rho grows on both sides of eta_opt."""
    iso = isotropic_sgd()
    sub = {d: dim, B: batch}
    e_opt, r_opt = sp.Rational(iso.eta_opt.subs(sub)), sp.Rational(iso.rho_opt.subs(sub))
    model = Gaussian([1] * dim)
    res = spectral_radius("sgd", model, batch, Fraction(e_opt.p, e_opt.q), 0, digits=30)
    with mp.workdps(40):
        assert abs(mp.mpf(res.rho) - mp.mpf(r_opt.p) / r_opt.q) <= mp.mpf(10) ** -29
    for f in (Fraction(99, 100), Fraction(101, 100)):
        assert spectral_radius("sgd", model, batch, Fraction(e_opt.p, e_opt.q) * f, 0).rho > float(r_opt)


@given(st.sampled_from(["heavy-ball", "nesterov", "sgdm"]), st.integers(1, 10), st.integers(1, 50),
       st.fractions(min_value=Fraction(1, 50), max_value=1, max_denominator=50),
       st.fractions(min_value=0, max_value=Fraction(9, 10), max_denominator=50))
def test_isotropic_explicit_roots(name, dim, batch, lr, mom):
    """One of the explicit (Cardano) roots is real and equals the engine's rho to 30 digits."""
    rp, roots = isotropic_roots(name, B)
    assert len(roots) == 3
    sub = {d: dim, B: batch, eta: sp.Rational(lr.numerator, lr.denominator),
           beta: sp.Rational(mom.numerator, mom.denominator)}
    with mp.workdps(60):
        vals = [sp.N(r.subs(sub), 60).as_real_imag() for r in roots]
        top = max(re for re, im in vals if abs(im) < 1e-40)
    res = spectral_radius(name, Gaussian([1] * dim), batch, lr, mom, digits=30)
    assert abs(sp.Float(res.rho, 40) - top) <= sp.Float(10) ** -29 * top, (vals, res.rho)


def test_two_point_sgd_tuned_step_is_a_root_of_the_eliminant():
    tc = tuning_conditions("sgd")
    spec = family_spectrum(100, 3)
    t = tuned_rate("sgd", spec, 2, dps=30)
    sub = {symbols.mu: sp.Rational(1, 100), symbols.L: 1, sp.Symbol("m1", positive=True, integer=True): 1,
           sp.Symbol("m2", positive=True, integer=True): 3, B: 2}
    quartic = sp.Poly(sp.factor(tc.eliminated.subs(sub)) / eta**2, eta)
    with mp.workdps(40):
        val = mp.polyval([mp.mpf(sp.Rational(c).p) / sp.Rational(c).q for c in quartic.all_coeffs()], t.eta)
        scale = max(abs(mp.mpf(sp.Rational(c).p) / sp.Rational(c).q) for c in quartic.all_coeffs())
        assert abs(val) <= mp.mpf(10) ** -25 * scale
    # and the tuned rate agrees with the engine at the tuned step (30 digits)
    lr = Fraction(mp.nstr(t.eta, 45, min_fixed=-100, max_fixed=100))     # exact input for the engine
    res = spectral_radius("sgd", Gaussian([1, 1, 1, Fraction(1, 100)]), 2, lr, 0, digits=30)
    with mp.workdps(50):
        assert abs(mp.mpf(res.rho) - t.rho) <= mp.mpf(10) ** -29


# --------------------------------------------------------------------------------------------------
# asymptotics
# --------------------------------------------------------------------------------------------------
def _errors(series, kappas, m_value, b):
    seq = tuned_sequence(series.method, kappas, m_value, b, 0, dps=30)
    sub = {symbols.B: b, sp.Symbol("m", positive=True, integer=True): m_value}
    lead = sp.lambdify(symbols.kappa, series.leading.subs(sub), "mpmath")
    two = sp.lambdify(symbols.kappa, series.K().subs(sub), "mpmath")
    e1 = [abs(lead(mp.mpf(k)) / t.K - 1) for k, t in zip(kappas, seq)]
    e2 = [abs(two(mp.mpf(k)) / t.K - 1) for k, t in zip(kappas, seq)]
    return e1, e2


def _order(errs, kappas):
    return [float(mp.log(errs[i] / errs[i + 1]) / mp.log(mp.mpf(kappas[i + 1]) / kappas[i]))
            for i in range(len(errs) - 1)]


def test_sgd_series_orders():
    """Leading term: relative error ~ kappa^(-1/2); two terms: ~ kappa^(-1)."""
    s = sgd_series()
    kappas = [10**4, 10**5]
    e1, e2 = _errors(s, kappas, 4, 2)
    o1, o2 = _order(e1, kappas), _order(e2, kappas)
    assert all(0.4 < o < 0.6 for o in o1), o1
    assert all(0.85 < o < 1.15 for o in o2), o2


@pytest.mark.slow
@pytest.mark.parametrize("m_value,b", [(1, 1), (8, 1), (8, 64)])
def test_sgd_series_orders_more(m_value, b):
    s = sgd_series()
    kappas = [10**3, 10**4, 10**5, 10**6, 10**7]
    e1, e2 = _errors(s, kappas, m_value, b)
    assert all(0.4 < o < 0.6 for o in _order(e1, kappas)[1:])
    assert all(0.85 < o < 1.15 for o in _order(e2, kappas)[1:])


@pytest.mark.slow
@pytest.mark.parametrize("m_value,b", [(4, 1), (4, 16), (1, 2)])
def test_heavy_ball_series_orders(m_value, b):
    """K_hb = kappa (m+1)/(4B) (1 + 2 (B + sqrt m)/(m+1) kappa^(-1/2) + ...) against exact tuned rates."""
    from momentum_verify.theory.asymptotics import heavy_ball_series
    s = heavy_ball_series()
    kappas = [10**4, 10**5, 10**6]
    e1, e2 = _errors(s, kappas, m_value, b)
    assert all(0.4 < o < 0.6 for o in _order(e1, kappas)), _order(e1, kappas)
    assert all(o > 0.85 for o in _order(e2, kappas)), _order(e2, kappas)


# --------------------------------------------------------------------------------------------------
# command line and JSON round trip
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("args", [["--method", "sgd"], ["--method", "heavy-ball", "--spectrum", "L^m2,mu^m1"],
                                  ["--method", "nesterov", "--spectrum", "1^d", "--batch", "8"],
                                  ["--method", "sgd", "--spectrum", "1^m,(1/kappa)^1"]])
def test_json_round_trip(args, capsys):
    from momentum_verify.verify.cli import main
    from momentum_verify.verify.cmd_formula import stochastic_rate_lines
    assert main(["formula", "--what", "stochastic-rate", "--json"] + args) == 0
    out = json.loads(capsys.readouterr().out)
    get = dict(zip(args[::2], args[1::2]))
    items = stochastic_rate_lines(get["--method"], get.get("--spectrum"), get.get("--batch"))
    assert len(items) == len(out["items"])
    for (label, obj), item in zip(items, out["items"]):
        assert item["label"] == label
        back = sp.sympify(item["srepr"])            # our own output, not user text
        assert back == obj
        assert sp.simplify(sp.parse_expr(item["text"], local_dict={s.name: s for s in obj.free_symbols}) - obj) == 0 \
            if isinstance(obj, sp.Expr) else True


@pytest.mark.parametrize("args,param", [(["--spectrum", "q^2"], "spectrum"), (["--batch", "0"], "batch"),
                                        (["--batch", "x"], "batch"), (["--model", "finite"], "model")])
def test_cli_errors(args, param, capsys):
    from momentum_verify.verify.cli import main
    assert main(["formula", "--method", "sgd", "--what", "stochastic-rate"] + args) == 2
    err = capsys.readouterr().err
    assert f"error: {param}:" in err and len(err.strip().splitlines()) == 1
