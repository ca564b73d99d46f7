"""``momentum-verify rate``: output states its precision; --json; one-line errors with exit 2."""
import json
import subprocess
import sys

import mpmath as mp
import numpy as np
import pytest

from momentum_verify.verify.cli import main


def run(capsys, *argv):
    code = main(["rate", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_plain_output_states_precision(capsys):
    code, out, err = run(capsys, "--method", "heavy-ball", "--spectrum", "geomspace:0.01:1:50",
                         "--batch", "8", "--lr", "0.5", "--momentum", "0.5")
    assert code == 0 and err == ""
    first = out.splitlines()[0]
    assert first.startswith("rho = ") and "digits, secular, double)" in first
    assert "K = " in out


def test_json_polyak_30_digits_certified(capsys):
    """kappa = 4: eta = 4/9, beta = 1/9 (fractions on the command line), rho = 1/9."""
    code, out, _ = run(capsys, "--method", "heavy-ball", "--spectrum", "1,2,4", "--batch", "inf",
                       "--lr", "4/9", "--momentum", "1/9", "--digits", "30", "--certify", "--json")
    assert code == 0
    j = json.loads(out)
    assert j["rho"] == "0." + "1" * 30 and j["digits"] == 30
    assert j["route"] == "deterministic" and j["precision"] == "mpmath"
    with mp.workdps(60):
        lo, hi = (mp.mpf(v) for v in j["interval"])
        assert lo <= mp.mpf(1) / 9 <= hi
    assert set(j) == {"rho", "K", "digits", "interval", "route", "precision", "rho_digits", "K_digits",
                      "rho_interval"}
    assert j["rho_digits"] == 30 and j["rho_interval"] == j["interval"]


@pytest.mark.parametrize("model", ["finite", "kaczmarz", "coordinate"])
def test_matrix_models(capsys, tmp_path, model):
    A = np.array([[1.0, 2.0, 0.0], [0.0, 1.0, 1.0], [1.0, 0.0, 3.0], [2.0, 1.0, 1.0]])
    if model == "coordinate":
        A = A.T @ A
    path = tmp_path / "A.npy"
    np.save(path, A)
    lr = "1" if model == "kaczmarz" else "0.05"
    code, out, _ = run(capsys, "--method", "sgd", "--model", model, "--matrix", str(path), "--batch", "1",
                       "--lr", lr, "--json")
    assert code == 0
    j = json.loads(out)
    assert j["route"] == "dense" and 0 < float(j["rho"]) < 1


def test_kaczmarz_strohmer_vershynin(capsys, tmp_path):
    """lr 1, batch 1, momentum 0 is randomized Kaczmarz: rho <= 1 - sigma_min^2 / ||A||_F^2."""
    A = np.random.default_rng(5).standard_normal((8, 3))
    np.save(tmp_path / "A.npy", A)
    code, out, _ = run(capsys, "--method", "sgd", "--model", "kaczmarz", "--matrix", str(tmp_path / "A.npy"),
                       "--batch", "1", "--lr", "1", "--json")
    bound = 1 - np.linalg.svd(A, compute_uv=False)[-1] ** 2 / np.sum(A ** 2)
    assert float(json.loads(out)["rho"]) <= bound * (1 + 1e-12)


@pytest.mark.parametrize("argv,param", [
    (["--momentum", "1"], "momentum"),
    (["--momentum", "-0.5"], "momentum"),
    (["--lr", "0"], "lr"),
    (["--lr", "-1/3"], "lr"),
    (["--lr", "abc"], "lr"),
    (["--lr", "1/0"], "lr"),
    (["--batch", "0"], "batch"),
    (["--batch", "two"], "batch"),
    (["--spectrum", "1,nan"], "spectrum"),
    (["--spectrum", "1,-2"], "spectrum"),
    (["--spectrum", "linspace:1:2"], "spectrum"),
    (["--spectrum", "1,,2"], "spectrum"),
    (["--spectrum", "@/nonexistent/file.txt"], "spectrum"),
    (["--digits", "x"], "digits"),
    (["--digits", "0"], "digits"),
    (["--method", "adam"], "method"),
    (["--model", "nonsense"], "model"),
])
def test_bad_input_one_line_exit_2(capsys, argv, param):
    base = {"--method": "heavy-ball", "--spectrum": "1,2", "--batch": "2", "--lr": "0.1", "--momentum": "0.5"}
    args = dict(base)
    for k, v in zip(argv[::2], argv[1::2]):
        args[k] = v
    flat = [f"{k}={v}" for k, v in args.items()]
    code, out, err = run(capsys, *flat)
    assert code == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and f"error: {param}" in lines[0], err
    assert "Traceback" not in err


def test_batch_exceeds_n_without_replacement(capsys, tmp_path):
    np.save(tmp_path / "A.npy", np.eye(3))
    code, _, err = run(capsys, "--method", "sgd", "--model", "finite", "--matrix", str(tmp_path / "A.npy"),
                       "--batch", "4", "--without-replacement", "--lr", "0.5")
    assert code == 2 and "error: batch" in err and len(err.strip().splitlines()) == 1


def test_unreadable_matrix_file(capsys, tmp_path):
    bad = tmp_path / "A.npy"
    bad.write_bytes(b"not a numpy file")
    code, _, err = run(capsys, "--method", "sgd", "--model", "finite", "--matrix", str(bad), "--batch", "1",
                       "--lr", "0.5")
    assert code == 2 and "error: matrix" in err and len(err.strip().splitlines()) == 1


def test_subprocess_exit_status():
    p = subprocess.run([sys.executable, "-m", "momentum_verify", "rate", "--method", "sgd", "--spectrum", "1,2",
                        "--batch", "1", "--lr", "-1"], capture_output=True, text=True, timeout=120)
    assert p.returncode == 2 and p.stderr.count("\n") == 1 and "lr" in p.stderr
