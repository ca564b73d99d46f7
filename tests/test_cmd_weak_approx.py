"""``momentum-verify weak-approx``: JSON contract, text output with precision, bad input (one line, exit 2)."""
import json
import math

import pytest

from momentum_verify.numerics.weak_approx import fitted_order, sweep
from momentum_verify.theory.sampling import Gaussian
from momentum_verify.verify.cli import main

BASE = ["weak-approx", "--spectrum", "0.5,1,2", "--horizon", "2"]


def _json(capsys, *extra):
    assert main(BASE + list(extra) + ["--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_json_contract_and_order(capsys):
    out = _json(capsys, "--momentum", "0.5", "--lr", "0.01,0.002,0.001")
    assert [r["lr"] for r in out["results"]] == [0.01, 0.002, 0.001]
    assert all(set(r) >= {"lr", "max_error", "digits"} for r in out["results"])
    pts = sweep(Gaussian([0.5, 1.0, 2.0]), [0.01, 0.002, 0.001], 2.0, momentum=0.5)
    order = float(out["order"])                   # a decimal string to order_digits digits (JSON convention)
    ulp = 10.0 ** (math.floor(math.log10(order)) - out["order_digits"] + 1)
    assert abs(order - fitted_order(pts)) <= 0.5 * ulp and out["order_digits"] >= 6
    assert 0.85 <= order <= 1.15
    assert out["order_abs_error"] < 1e-6
    assert out["bound"]["holds_over_sequence"] is True


def test_single_lr_order_is_null(capsys):
    out = _json(capsys, "--momentum", "0.9", "--lr", "0.01")
    assert out["order"] is None and len(out["results"]) == 1


def test_momentum_scaling_sets_beta_per_lr(capsys):
    out = _json(capsys, "--momentum-scaling", "0.5,0.5", "--lr", "0.04,0.01", "--noise-cov", "hessian",
                "--noise-scale", "2")
    assert [r["momentum"] for r in out["results"]] == pytest.approx([0.9, 0.95])
    assert out["results"][0]["sigma2"] == pytest.approx(2 / 0.04)


def test_x0_from_file_changes_the_answer(tmp_path, capsys):
    f = tmp_path / "x0.txt"
    f.write_text("1 0 0\n")
    a = _json(capsys, "--momentum", "0.5", "--lr", "0.01")
    b = _json(capsys, "--momentum", "0.5", "--lr", "0.01", "--x0", f"@{f}")
    assert a["results"][0]["max_error"] != b["results"][0]["max_error"]


def test_text_output_states_precision(capsys):
    assert main(BASE + ["--momentum", "0.5", "--lr", "0.01,0.005"]) == 0
    out = capsys.readouterr().out
    assert "digits" in out and "precision:" in out and "(rounding)" in out and "holds" in out


@pytest.mark.parametrize("extra, param", [
    (["--momentum", "0.5", "--lr", "0"], "lr"),
    (["--momentum", "0.5", "--lr", "-0.1"], "lr"),
    (["--momentum", "1", "--lr", "0.1"], "momentum"),
    (["--momentum", "-0.5", "--lr", "0.1"], "momentum"),
    (["--momentum", "0.5", "--lr", "0.1,,0.2"], "lr"),
    (["--momentum", "0.5", "--lr", "0.1,abc"], "lr"),
    (["--momentum", "0.5", "--lr", "0.1", "--horizon", "0"], "horizon"),
    (["--momentum", "0.5", "--lr", "0.1", "--horizon", "-1"], "horizon"),
    (["--momentum-scaling", "1", "--lr", "0.1"], "momentum-scaling"),
    (["--momentum-scaling", "0,2", "--lr", "0.1"], "momentum-scaling"),
    (["--momentum", "0.5", "--momentum-scaling", "1,1", "--lr", "0.1"], "momentum"),
    (["--lr", "0.1"], "momentum"),
    (["--momentum", "0.5", "--lr", "0.1", "--noise-cov", "full"], "noise-cov"),
    (["--momentum", "0.5", "--lr", "0.1", "--noise-scale", "-1"], "noise-scale"),
    (["--momentum", "0.5", "--lr", "0.1", "--x0", "@/does/not/exist"], "x0"),
    (["--momentum", "0.5", "--lr", "0.1", "--x0", "1,2"], "x0"),
])
def test_bad_input_one_line_exit_2(capsys, extra, param):
    argv = BASE[:1] + ["--spectrum", "0.5,1,2"] + (["--horizon", "2"] if "--horizon" not in extra else []) + extra
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"error: {param}:" in err


def test_bad_spectrum(capsys):
    assert main(["weak-approx", "--spectrum", "0,0", "--momentum", "0.5", "--lr", "0.1", "--horizon", "1"]) == 2
    assert "spectrum" in capsys.readouterr().err
