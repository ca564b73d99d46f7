"""Start-up: ``momentum-verify --help`` imports neither SymPy nor NumPy, and ``rate`` on a built-in method
and model in double precision imports no SymPy (shipped kernels, Fraction parsing); the speed itself is
measured in benchmarks/bench_startup.py."""
import subprocess
import sys

import pytest

RATE = ["rate", "--method", "heavy-ball", "--model", "gaussian", "--spectrum", "1,2,4", "--batch", "2",
        "--lr", "0.1", "--momentum", "0.5"]
README_RATE = ["rate", "--method", "heavy-ball", "--spectrum", "geomspace:0.01:1:100", "--batch", "16",
               "--lr", "0.29503", "--momentum", "0.745171"]


def run_cli(argv):
    """(stdout of the command, whether sympy / numpy were imported) in a fresh interpreter."""
    code = ("import sys\nfrom momentum_verify.verify import cli\n"
            f"try:\n    cli.main({argv!r})\nexcept SystemExit:\n    pass\n"
            "print('sympy' in sys.modules, 'numpy' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    *out, flags = proc.stdout.splitlines()
    return "\n".join(out), tuple(f == "True" for f in flags.split())


def test_help_imports_no_sympy():
    assert run_cli(["--help"])[1] == (False, False)


@pytest.mark.parametrize("argv", [RATE, README_RATE, RATE[:-2] + ["--batch", "inf"],
                                  ["rate", "--method", "sgdm", "--model", "coordinate", "--spectrum", "1,2,3",
                                   "--batch", "1", "--lr", "4/9"]],
                         ids=["rate", "readme-rate", "deterministic", "coordinate"])
def test_numeric_rate_imports_no_sympy(argv):
    out, (sympy, numpy) = run_cli(argv)
    assert out.startswith("rho = ") and numpy
    assert not sympy, f"{' '.join(argv)} imported SymPy"


def test_the_check_can_fail():
    # --digits asks for exact numbers (SymPy): the same check sees the import
    out, (sympy, _) = run_cli(RATE + ["--digits", "20"])
    assert out.startswith("rho = ") and sympy


HEAVY_BALL_FILE = """name = "heavy-ball"
parameters = ["eta", "beta"]
A = [["1 + beta", "-beta"], ["1", "0"]]
b = ["-eta", "0"]
c = ["1", "0"]
"""


@pytest.mark.parametrize("argv", [RATE, README_RATE], ids=["rate", "readme-rate"])
def test_fast_path_prints_what_the_sympy_route_prints(argv, tmp_path):
    """The same text as heavy ball read from a method file (SymPy, lambdify, exact parsing of the ends)."""
    path = tmp_path / "hb.toml"
    path.write_text(HEAVY_BALL_FILE)
    fast, (sympy, _) = run_cli(argv)
    slow, (sympy_file, _) = run_cli([str(path) if a == "heavy-ball" else a for a in argv])
    assert not sympy and sympy_file
    assert fast == slow and fast.count("digits") == 2
