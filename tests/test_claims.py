"""Claims: deliberately wrong statements are reported as failing; the runner never hides a broken check,
an unloadable module or an uncertain reading; the momentum rule is parsed safely."""
import pytest
from hypothesis import given, strategies as st

from momentum_verify.theory.errors import InputError
from momentum_verify.verify.claim import Claim, Verdict
from momentum_verify.verify.claims import MODULES, load_claims
from momentum_verify.verify.claims.classical import deterministic_rate_claim, kaczmarz_bound_claim, linear_scaling_claim
from momentum_verify.verify.claims.garg_derezinski import parse_momentum_rule, saturation_scales_claim
from momentum_verify.verify.runner import exit_status, jsonable, run_all, run_claim, select


def _verdict(claim, **options):
    return run_claim(claim, options).verdict


# ---------------------------------------------------------------- deliberately wrong claims fail
def test_rate_off_by_constant_factor_fails():
    right = deterministic_rate_claim("heavy-ball", kappas=(100,))
    wrong = deterministic_rate_claim("heavy-ball", rho_text="1.001*((sqrt(kappa) - 1)/(sqrt(kappa) + 1))^2",
                                     kappas=(100,))
    v_right, v_wrong = _verdict(right), _verdict(wrong)
    assert v_right.verdict == "holds", v_right.numbers
    assert v_wrong.verdict == "fails", v_wrong.numbers
    assert "no" in v_wrong.numbers["stated rho, eta, beta equal the derivation"]


def test_wrong_step_in_rate_claim_fails():
    wrong = deterministic_rate_claim("sgd", eta_text="1/(L + mu)", rho_text="((kappa - 1)/(kappa + 1))^2",
                                     kappas=(10,))
    assert _verdict(wrong).verdict == "fails"


def test_linear_scaling_wrong_constant_fails():
    v = _verdict(linear_scaling_claim(rho_text="1.01*(d + 1)/(B + d + 1)", batches=(1, 4, 16)))
    assert v.verdict == "fails", v.numbers


def test_kaczmarz_too_strong_bound_fails():
    """(1 - mu)^2 is the first-moment rate, a lower bound on rho: stated as an upper bound it must fail."""
    assert _verdict(kaczmarz_bound_claim("(1 - mu)^2")).verdict == "fails"


def test_wrong_saturation_formula_fails():
    """Momentum's saturation stated at SGD's scale kappa_bar/kappa is off by about sqrt(kappa)."""
    wrong = saturation_scales_claim(mom_scale_text="kappa_bar/kappa", instances=("gaussian-small",))
    right = saturation_scales_claim(instances=("gaussian-small",))
    v_wrong, v_right = _verdict(wrong), _verdict(right)
    assert v_wrong.verdict == "fails", v_wrong.numbers
    assert v_right.verdict != "fails", v_right.numbers


# ---------------------------------------------------------------- the runner
def _claim(check, **kw):
    return Claim(kw.pop("id", "test.claim"), "test", "a statement", check, **kw)


def test_raising_check_is_a_failure_with_its_error():
    def check():
        raise ZeroDivisionError("boom")
    out = run_claim(_claim(check))
    assert out.verdict.verdict == "fails"
    assert "boom" in out.verdict.numbers["error"]
    assert out.verdict.routes and out.verdict.precision
    assert exit_status([out]) == 1


def test_malformed_verdict_is_a_failure():
    out = run_claim(_claim(lambda: Verdict("probably")))
    assert out.verdict.verdict == "fails"


@pytest.mark.parametrize("raw", ["holds", "fails"])
def test_uncertain_reading_is_never_decisive(raw):
    out = run_claim(_claim(lambda: Verdict(raw, {"x": 1}, ["r"], precision="p"), reading="uncertain"))
    assert out.verdict.verdict == "inconclusive"
    assert out.verdict.numbers["outcome under our reading"] == raw
    assert exit_status([out]) == 0


def test_options_reach_only_checks_that_accept_them():
    seen = {}

    def takes(momentum_rule=None):
        seen["rule"] = momentum_rule
        return Verdict("holds", routes=["r"], precision="p")
    run_claim(_claim(takes), {"momentum_rule": "0.5", "other": 1})
    run_claim(_claim(lambda: Verdict("holds", routes=["r"], precision="p")), {"momentum_rule": "0.5"})
    assert seen["rule"] == "0.5"


def test_select_quick_and_patterns():
    cs = [_claim(lambda: None, id="a.one", quick=True), _claim(lambda: None, id="a.two", quick=False),
          _claim(lambda: None, id="b.three", quick=True)]
    assert [c.id for c in select(cs, quick=True)] == ["a.one", "b.three"]
    assert [c.id for c in select(cs, only="a.*")] == ["a.one", "a.two"]
    assert [c.id for c in select(cs, only="three,two")] == ["a.two", "b.three"]


def test_unloadable_module_is_reported_not_skipped(monkeypatch):
    monkeypatch.setattr("momentum_verify.verify.claims.MODULES", MODULES + ["momentum_verify.verify.claims.does_not_exist"])
    claims, errors = load_claims()
    assert [e.module for e in errors] == ["momentum_verify.verify.claims.does_not_exist"]
    outs = run_all(only="no-claim-matches-this")
    assert [o.id for o in outs] == ["load:momentum_verify.verify.claims.does_not_exist"]
    assert exit_status(outs) == 1


def test_every_listed_module_loads_with_unique_ids():
    claims, errors = load_claims()
    assert errors == []
    ids = [c.id for c in claims]
    assert len(ids) == len(set(ids)) >= 8 + 4
    assert all(c.reading in ("exact", "as reported", "uncertain") for c in claims)
    assert all(c.statement and c.source and c.tolerance for c in claims)


@given(st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(), st.text(max_size=5)))
def test_jsonable_numbers(x):
    import json
    json.dumps(jsonable({"v": [x, (x,)]}), allow_nan=False)


# ---------------------------------------------------------------- the momentum rule (user input)
@pytest.mark.parametrize("text", ["1 - 2/sqrt(kappa)", "(1 - sqrt(eta*mu))^2", "B/(B + kappa_bar)", "0.9"])
def test_momentum_rule_parses(text):
    parse_momentum_rule(text)


@pytest.mark.parametrize("text", ["__import__('os')", "x + 1", "kappa; 1", "", "exp(", "eval(kappa)"])
def test_momentum_rule_rejects(text):
    with pytest.raises(InputError) as e:
        parse_momentum_rule(text)
    assert str(e.value).startswith("momentum-rule:")


def test_check_command_bad_rule_exits_2(capsys):
    from momentum_verify.verify.cli import main
    assert main(["check", "--only", "nothing", "--momentum-rule", "import os"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "momentum-rule" in err


def test_rule_search_pruned_by_the_deterministic_bound_is_the_full_grid(monkeypatch):
    """best_K_under_rule evaluates each grid in the order of rho(Mbar)^2 <= rho(T) and stops where that
    bound passes the best rho: the same (K, eta, beta) as every point evaluated; with a planted bound
    that is too high (not a lower bound) the pruning would drop the minimum, and the answers differ."""
    import numpy as np
    from momentum_verify.numerics.rates import deterministic
    from momentum_verify.verify.claims import garg_derezinski as g
    cases = [("kaczmarz-coherent-rows", "heavy-ball", 4, 2.0), ("coordinate-dense-6x6", "nesterov", 16, 0.5),
             ("gaussian-uniform", "heavy-ball", 64, 2.0)]
    full = {}
    for c in cases:
        monkeypatch.setattr(g, "RULE_CHUNK", 10**9)
        full[c] = g.rule_search(c[1], c[0], c[2], g.DEFAULT_RULES[c[1]], c[3])
        monkeypatch.setattr(g, "RULE_CHUNK", 40)
        assert g.rule_search(c[1], c[0], c[2], g.DEFAULT_RULES[c[1]], c[3]) == full[c], c
    real = deterministic.deterministic_double
    monkeypatch.setattr(deterministic, "deterministic_double",
                        lambda m, lam, e, b: (1.0 + 0.0 * real(m, lam, e, b)[0] - 1e-3 * np.log(e),))
    assert any(g.rule_search(c[1], c[0], c[2], g.DEFAULT_RULES[c[1]], c[3]) != full[c] for c in cases)
