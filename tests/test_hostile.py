"""Hostile input (issue 17): every example class refused at once with one line and exit status 2."""
from __future__ import annotations

import tomllib

import pytest

from momentum_verify.theory.errors import InputError
from momentum_verify.theory.parse import parse_expression
from momentum_verify.verify import cli, limits
from momentum_verify.verify.sweep import spec_from_dict

SPEC = ["--spectrum", "1,2", "--batch", "1"]


def run(capsys, *argv):
    rc = cli.main(list(argv))
    err = capsys.readouterr().err
    return rc, [ln for ln in err.splitlines() if ln.strip()]


def refused(capsys, *argv, word=None):
    rc, lines = run(capsys, *argv)
    assert rc == 2, lines
    assert len(lines) == 1 and "Traceback" not in lines[0], lines
    if word:
        assert word in lines[0], lines
    return lines[0]


@pytest.mark.parametrize("lr", ["9" * 5000, "1e999999999", "1e400"])
def test_number_literals_bounded(capsys, lr):
    refused(capsys, "rate", "--method", "sgd", *SPEC, "--lr", lr, word="lr")


def test_huge_step_size_refused_not_overflow(capsys):
    refused(capsys, "rate", "--method", "sgd", *SPEC, "--lr", "1e300", word="lr_scale")


@pytest.mark.parametrize("text", ["9^9^9^9", "(" * 300 + "1" + ")" * 300, "-" * 300 + "1", "x" * 5000,
                                  "exp(10^9)", "2^(10^6)"])
def test_formula_parser_bounded(text):
    with pytest.raises(InputError, match="limit"):
        parse_expression(text, {})


def test_formula_commands(capsys):
    refused(capsys, "formula", "--method", "sgd", "--what", "stochastic-rate", "--spectrum", "9^9^9^9",
            word="power_exponent")
    refused(capsys, "formula", "--method", "sgd", "--what", "stochastic-rate", "--spectrum", "1^(-d)",
            word="multiplicity")
    refused(capsys, "check", "--momentum-rule", "9^9^9^9", "--only", "classical.*", word="momentum-rule")


def test_small_powers_still_exact():
    assert parse_expression("2^10", {}) == 1024
    assert parse_expression("(1/2)^3", {}) == parse_expression("1/8", {})


@pytest.mark.parametrize("steps,runs,word", [("1e12", "2", "steps"), ("10", "3e9", "memory")])
def test_simulate_sizes(capsys, steps, runs, word):
    refused(capsys, "simulate", "--method", "sgd", *SPEC, "--lr", "0.1", "--steps", steps, "--runs", runs, word=word)


def test_workers_capped_with_a_note(monkeypatch, capsys):
    import momentum_verify.numerics.tuning as tuning
    seen = {}

    def fake(*a, workers=1, **kw):
        seen["workers"] = workers
        raise InputError("stub", "stop")
    monkeypatch.setattr(tuning, "tune_curve", fake)
    rc, lines = run(capsys, "tune", "--spectrum", "1,2", "--batch", "1", "--workers", "100000")
    assert rc == 2 and seen["workers"] == limits.cpu_count()
    assert any("capped" in ln for ln in lines)


def test_limits_are_overridable(monkeypatch):
    monkeypatch.setenv(limits.ENV, "spectrum_size=3")
    limits.load_env()
    try:
        with pytest.raises(InputError, match="spectrum_size = 3"):
            limits.check_spectrum_size(4, "spectrum")
    finally:
        monkeypatch.delenv(limits.ENV)
        limits.load_env()
    limits.check_spectrum_size(4, "spectrum")


BASE = 'task = "rate"\nmodel = "gaussian"\nmethods = ["sgd"]\nbatches = [1]\nmomenta = [0.5]\n'


@pytest.mark.parametrize("extra,key", [
    (f'spectra = ["1,2"]\nlrs = [{"9" * 400}]\n', "lrs"),
    ('spectra = ["1,2"]\nlrs = [0.1]\ndigits = 100000\n', "digits"),
    ('family = {shapes = ["linspace"], kappas = [10], d = 1000000000}\nlrs = [0.1]\n', "family.d"),
    ('spectra = ["linspace:1:2:100000000000000"]\nlrs = [0.1]\n', "spectra"),
])
def test_sweep_keys_fully_validated(extra, key):
    with pytest.raises(InputError) as exc:
        spec_from_dict(tomllib.loads(BASE + extra))
    assert exc.value.param.startswith(key)


@pytest.mark.parametrize("opts,word", [
    (["--lr", "0.1,0.1", "--momentum", "0.5", "--horizon", "1"], "duplicate"),
    (["--lr", "0.1", "--momentum", "0.5", "--horizon", "1e400"], "horizon"),
    (["--lr", "0.1", "--momentum", "0.5", "--horizon", "1", "--noise-scale", "1e400"], "noise-scale"),
    (["--lr", "0.1", "--momentum", "0.5", "--horizon", "1e300"], "steps"),
])
def test_weak_approx_gaps(capsys, opts, word):
    refused(capsys, "weak-approx", "--spectrum", "1,2", *opts, word=word)


def test_report_paths_checked_before_any_claim(monkeypatch, capsys, tmp_path):
    import momentum_verify.verify.runner as runner
    monkeypatch.setattr(runner, "run_claim", lambda *a, **k: pytest.fail("a claim ran"))
    (tmp_path / "f").write_text("x")
    for bad in (str(tmp_path), str(tmp_path / "f" / "r.md"), "/proc/r.md", str(tmp_path / "no" / "r.md")):
        refused(capsys, "check", "--only", "classical.*", "--report", bad, word="report")
    refused(capsys, "check", "--only", "nomatch", word="only")
    refused(capsys, "check", "--only", "", word="only")


def test_no_warning_before_the_error_line(capsys, tmp_path):
    x0 = tmp_path / "x0.txt"
    x0.write_text("1e200\n1e200\n")
    refused(capsys, "simulate", "--method", "sgd", *SPEC, "--lr", "0.1", "--steps", "5", "--runs", "4",
            "--x0", f"@{x0}", word="x0")


def test_internal_error_is_one_line_and_traceback_with_debug(monkeypatch, capsys):
    import momentum_verify.verify.cmd_rate as cmd_rate

    def boom(args):
        raise RuntimeError("planted bug")
    monkeypatch.setattr(cmd_rate, "run", boom)
    rc, lines = run(capsys, "rate", "--method", "sgd", *SPEC, "--lr", "0.1")
    assert rc == 1 and len(lines) == 1 and "rate" in lines[0] and "planted bug" in lines[0]
    rc, lines = run(capsys, "--debug", "rate", "--method", "sgd", *SPEC, "--lr", "0.1")
    assert rc == 1 and any("Traceback" in ln for ln in lines)


def test_valid_input_still_runs(capsys):
    rc, _ = run(capsys, "rate", "--method", "sgd", *SPEC, "--lr", "0.1")
    assert rc == 0
