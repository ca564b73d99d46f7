"""The `formula` command: output, LaTeX, and one-line errors with exit status 2."""
import subprocess
import sys

import pytest
import sympy as sp

from momentum_verify.verify.cli import main


def test_deterministic_rate_output_parses_back(capsys):
    assert main(["formula", "--method", "heavy-ball", "--what", "deterministic-rate"]) == 0
    out = capsys.readouterr().out.splitlines()
    rho_text = out[out.index("rho = rate of E||e_k||^2:") + 1].strip()
    k = sp.Symbol("kappa", positive=True)
    expr = sp.parse_expr(rho_text, local_dict={"kappa": k})   # our own output, not user input
    assert sp.simplify(expr - ((sp.sqrt(k) - 1) / (sp.sqrt(k) + 1)) ** 2) == 0


@pytest.mark.parametrize("what", ["first-moment", "second-moment", "charpoly", "deterministic-rate"])
@pytest.mark.parametrize("model", ["gaussian", "coordinate", "finite"])
def test_every_object_prints(capsys, what, model):
    assert main(["formula", "--method", "nesterov", "--model", model, "--what", what, "--latex"]) == 0
    assert "\\" in capsys.readouterr().out or what == "deterministic-rate"


@pytest.mark.parametrize("method", ["heavy-ball", "nesterov"])
def test_second_moment_charpoly_is_the_determinant(method):
    """Second route: det(z I - D(lambda)) of the decoupled block, expanded, equals the printed polynomial
    (collected in z, coefficients factored)."""
    from momentum_verify import formula
    from momentum_verify.theory import symbols
    from momentum_verify.theory.methods import get_method
    from momentum_verify.theory.moments import decoupled_block
    from momentum_verify.theory.sampling import GAUSSIAN_NOISE
    printed = dict(formula(method, "charpoly").items)
    (label,) = [k for k in printed if k.startswith("det(z I - D(lambda))")]
    D, _, _ = decoupled_block(get_method(method), GAUSSIAN_NOISE)
    det = (symbols.z * sp.eye(D.shape[0]) - D).det()
    assert sp.expand(printed[label] - det) == 0
    assert sp.Poly(printed[label], symbols.z).degree() == D.shape[0]
    assert sp.expand(printed[label] - det - symbols.z) != 0          # the comparison can fail


@pytest.mark.parametrize("argv, param", [
    (["formula", "--method", "adam"], "method"),
    (["formula", "--method", "sgd", "--what", "nope"], "what"),
    (["formula", "--method", "sgd", "--model", "nope"], "model"),
])
def test_bad_names_exit_2(argv, param):
    r = subprocess.run([sys.executable, "-m", "momentum_verify", *argv], capture_output=True, text=True)
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and f"error: {param}:" in r.stderr
    assert "Traceback" not in r.stderr
