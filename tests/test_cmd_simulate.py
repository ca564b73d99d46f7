"""``momentum-verify simulate``: JSON contract, text output, plot, errors."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from momentum_verify.numerics.montecarlo import exact_moments
from momentum_verify.theory.sampling import Gaussian
from momentum_verify.verify.cli import main

BASE = ["simulate", "--method", "heavy-ball", "--spectrum", "1,0.5,0.1", "--batch", "2", "--lr", "0.3",
        "--momentum", "0.5", "--steps", "30", "--runs", "2000", "--seed", "1"]


def run_json(capsys, argv):
    assert main(argv + ["--json"]) == 0
    out, err = capsys.readouterr()
    assert err == ""                   # no progress bar when stderr is not a terminal
    return json.loads(out)


def test_json_contract(capsys):
    d = run_json(capsys, BASE)
    for key in ("steps", "mean_sq_error", "ci_low", "ci_high", "exact"):
        assert len(d[key]) == 31
    assert d["steps"] == list(range(31))
    exact, _ = exact_moments("heavy-ball", Gaussian([1, 0.5, 0.1]), 2, 0.3, 0.5, 30)
    np.testing.assert_allclose(d["exact"], exact, rtol=1e-12)
    assert all(lo <= m <= hi for lo, m, hi in zip(d["ci_low"], d["mean_sq_error"], d["ci_high"]))
    w = d["rate_fit"]["window_rho"]
    lo, hi = (float(v) for v in w["ci"])
    assert lo <= float(w["estimate"]) <= hi and w["confidence"] == 0.99
    assert d["confidence"] == 0.99 and d["runs"] == 2000 and d["backend"] == "numpy"
    assert d["stopped_at"] is None
    if "exact_rate" in d:              # numerics.spectral present: the fitted rate brackets rho
        rho = float(d["exact_rate"]["rho"])
        assert abs(math.log(rho)) == pytest.approx(abs(math.log(float(w["estimate"]))), rel=0.05)


def test_json_divergent_has_no_nan(capsys):
    argv = ["simulate", "--method", "sgd", "--spectrum", "1,0.5", "--batch", "1", "--lr", "1.5",
            "--steps", "3000", "--runs", "50", "--json"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "NaN" not in out and "Infinity" not in out
    d = json.loads(out)
    assert d["stopped_at"] is not None and "overflow" in d["stop_reason"]
    assert len(d["mean_sq_error"]) == len(d["exact"]) == d["stopped_at"]


def test_text_output_and_plot(capsys, tmp_path):
    png = tmp_path / "mc.png"
    assert main(BASE + ["--plot", str(png), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "99% CI" in out and "fitted slope of the window" in out and "replica-steps/s" in out
    assert png.stat().st_size > 1000


def test_models_and_x0(capsys, tmp_path):
    A = np.random.default_rng(0).standard_normal((6, 3))
    np.save(tmp_path / "A.npy", A)
    (tmp_path / "x0.txt").write_text("1 0 -1\n")
    for model in ("finite", "kaczmarz"):
        argv = ["simulate", "--method", "nesterov", "--model", model, "--matrix", str(tmp_path / "A.npy"),
                "--batch", "2", "--lr", "0.05", "--momentum", "1/2", "--steps", "10", "--runs", "100",
                "--x0", "@" + str(tmp_path / "x0.txt")]
        d = run_json(capsys, argv + ["--without-replacement"] if model == "finite" else argv)
        assert d["exact"][0] == pytest.approx(2.0) and d["mean_sq_error"][0] == pytest.approx(2.0)
    d = run_json(capsys, ["simulate", "--method", "sgd", "--model", "coordinate", "--spectrum", "1,2",
                          "--batch", "1", "--lr", "1/3", "--steps", "5", "--runs", "10"])
    assert len(d["steps"]) == 6


def test_deterministic_batch(capsys):
    d = run_json(capsys, BASE[:5] + ["--batch", "inf"] + BASE[7:])
    np.testing.assert_allclose(d["mean_sq_error"], d["exact"], rtol=1e-11)


@pytest.mark.parametrize("change, param", [
    (("--runs", "1"), "runs"), (("--steps", "0"), "steps"), (("--steps", "2.5"), "steps"),
    (("--lr", "-1"), "lr"), (("--momentum", "1"), "momentum"), (("--batch", "0"), "batch"),
    (("--backend", "torch"), "backend"), (("--spectrum", "1,nan"), "spectrum"), (("--x0", "1,2"), "x0"),
    (("--method", "adam"), "method"), (("--model", "finite"), "matrix"), (("--confidence", "2"), "confidence"),
])
def test_bad_input_is_one_line_exit_2(capsys, change, param):
    argv = list(BASE)
    if change[0] in argv:
        argv[argv.index(change[0]) + 1] = change[1]
    else:
        argv += list(change)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"error: {param}:" in err


def test_progress_bar_only_when_enabled_and_after_the_delay(capsys):
    from momentum_verify.verify.cmd_simulate import DelayedProgress
    off = DelayedProgress(enabled=False, delay=0.0)
    off(1, 10)
    assert off.bar is None
    late = DelayedProgress(enabled=True, delay=3600.0)
    late(1, 10)
    assert late.bar is None                      # short runs never show a bar
    on = DelayedProgress(enabled=True, delay=0.0)
    on(1, 10)
    on(10, 10)
    assert on.bar is not None
    on.close()
    assert capsys.readouterr().out == ""          # never on stdout


def test_exact_skipped_when_too_costly(capsys, tmp_path, monkeypatch):
    import momentum_verify.verify.cmd_simulate as cmd
    monkeypatch.setattr(cmd, "EXACT_MAX_FLOPS", 1.0)
    np.save(tmp_path / "A.npy", np.random.default_rng(0).standard_normal((5, 3)))
    d = run_json(capsys, ["simulate", "--method", "sgd", "--model", "finite", "--matrix", str(tmp_path / "A.npy"),
                          "--batch", "1", "--lr", "0.1", "--steps", "5", "--runs", "10"])
    assert d["exact"] == [None] * 6 and "skipped" in d["exact_note"]


# a pre-asymptotic window (small d, few steps): the fitted slope of steps 10-20 is not rho
PRE = ["simulate", "--method", "sgd", "--spectrum", "0.5,2", "--batch", "1", "--lr", "0.1", "--steps", "20",
       "--runs", "4000", "--seed", "0"]


def test_pre_asymptotic_window_says_which_is_which(capsys):
    d = run_json(capsys, PRE)
    f = d["rate_fit"]
    exact, _ = exact_moments("sgd", Gaussian([0.5, 2]), 1, 0.1, 0, 20)
    k0, k1 = f["window"]
    slope = np.polyfit(np.arange(k0, k1 + 1), np.log(exact[k0:k1 + 1]), 1)[0]   # second route: numpy's fit
    assert float(f["exact_window_rho"]) == pytest.approx(math.exp(slope), rel=1e-7)
    lo, hi = (float(v) for v in f["window_rho"]["ci"])
    rho = float(d["exact_rate"]["rho"])
    assert not lo <= rho <= hi and f["ci_contains_asymptotic_rho"] is False      # the interval misses rho ...
    assert lo <= float(f["exact_window_rho"]) <= hi and f["ci_contains_exact_window_rho"] is True  # ... not its window
    assert f["asymptotic_rho"] == d["exact_rate"]["rho"]
    assert f["reliable"] is True
    assert main(PRE + ["--quiet"]) == 0
    out = capsys.readouterr().out
    assert "window is pre-asymptotic" in out and "asymptotic rate rho (spectral radius) is outside the CI" in out


def test_interval_excluding_its_window_slope_is_not_reliable():
    from momentum_verify.numerics.montecarlo import RateFit
    from momentum_verify.verify.cmd_simulate import window_comparison, window_lines
    exact = 0.9 ** np.arange(21.0)                                   # window slope exactly 0.9
    good = RateFit(0.9, (0.89, 0.91), (10, 20), 0.99, True, n_used=11)
    bad = RateFit(0.95, (0.94, 0.96), (10, 20), 0.99, True, n_used=11)   # planted: misses 0.9
    assert window_comparison(good, exact, None)["reliable"] is True
    c = window_comparison(bad, exact, None)
    assert c["ci_contains_exact_window_rho"] is False and c["reliable"] is False and c["ess_reliable"] is True
    assert float(c["exact_window_rho"]) == pytest.approx(0.9, rel=1e-12)
    assert any("OUTSIDE the CI" in line for line in window_lines(c, 30))
