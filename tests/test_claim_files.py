"""Claim files: the example passes `check --claims` and the pytest entry points; a planted false claim
fails; bad files are one line naming the key, exit 2."""
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from momentum_verify.testing import assert_claims, check_claims
from momentum_verify.theory.errors import InputError
from momentum_verify.verify.claim_file import _decide, load_claim_file
from momentum_verify.verify.cli import main

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "claims" / "momentum.claims.toml"
METHODS = ROOT / "examples" / "methods"

TMM = f"""
[[claim]]
id = "planted.tmm"
statement = "planted: triple momentum at kappa = 100 has rho < 0.8 (false: rho = 0.81)"
method = "{METHODS / 'triple-momentum.toml'}"
params = {{ gamma = "81/209" }}
spectrum = "1,2,50,99,100"
batch = "inf"
lr = "19/1000"
momentum = "81/110"
relation = "@REL@"
value = "@VALUE@"
digits = 30
certify = true
"""


def tmm(rel, value):
    return TMM.replace("@REL@", rel).replace("@VALUE@", value)


def write(tmp_path, text, name="x.claims.toml"):
    p = tmp_path / name
    p.write_text(textwrap.dedent(text))
    return p


def test_example_claims_hold_through_the_cli(capsys, tmp_path):
    report = tmp_path / "report.md"
    code = main(["check", "--claims", str(EXAMPLE), "--json", "--report", str(report)])
    out = capsys.readouterr().out
    assert code == 0
    claims = json.loads(out)["claims"]
    assert [c["verdict"] for c in claims] == ["holds"] * len(claims) and len(claims) == 4
    assert {"id", "verdict", "numbers", "routes", "precision"} <= set(claims[0])
    assert "file.tmm.rate" in report.read_text()


def test_example_claims_hold_through_the_python_entry_point():
    outcomes = assert_claims(EXAMPLE)
    assert {o.verdict.verdict for o in outcomes} == {"holds"}


def test_planted_false_claim_fails(tmp_path, capsys):
    p = write(tmp_path, tmm("<", "0.8"))
    [o] = check_claims(p)
    assert o.verdict.verdict == "fails"
    with pytest.raises(AssertionError, match="planted.tmm: fails"):
        assert_claims(p)
    assert main(["check", "--claims", str(p)]) == 1
    capsys.readouterr()


@pytest.mark.parametrize("rel, value, verdict", [
    ("<=", "0.81", "inconclusive"),               # attained: the certified ends straddle 0.81 by rounding
    ("<=", "0.8100001", "holds"),
    (">=", "0.8", "holds"),
    ("==", "0.82", "fails"),
    (">", "0.81", "inconclusive"),
])
def test_verdicts_follow_the_interval(tmp_path, rel, value, verdict):
    [o] = check_claims(write(tmp_path, tmm(rel, value)))
    assert o.verdict.verdict == verdict, o.verdict.numbers


def test_decide_rules():
    assert _decide(1, 2, 3, 0, "<") == "holds" and _decide(3, 4, 3, 0, "<") == "fails"
    assert _decide(2, 4, 3, 0, "<=") == "inconclusive" and _decide(2.9, 3.1, 3, 0.2, "==") == "holds"
    assert _decide(4, 5, 3, 0, ">") == "holds" and _decide(1, 3, 3, 0, ">") == "fails"


def test_pytest_plugin_collects_claims_files(tmp_path):
    good = tmp_path / "good.claims.toml"
    good.write_text(EXAMPLE.read_text().replace('"../methods/', f'"{METHODS}/').replace(
        '"../a_small.txt"', f'"{ROOT / "examples" / "a_small.txt"}"'))
    write(tmp_path, tmm("<", "0.8"), "bad.claims.toml")
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "momentum_verify.testing", "-p", "no:cacheprovider",
                        str(tmp_path)], capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 1, r.stdout
    assert "1 failed, 4 passed" in r.stdout, r.stdout
    assert "planted.tmm: fails" in r.stdout


@pytest.mark.parametrize("change, key", [
    ('relatoin = "<"', "claim[0].relatoin"),
    ('relation = "~"', "claim[0].relation"),
    ('quantity = "rate"', "claim[0].quantity"),
    ('value = "rho + 1"', "claim[0].value"),
    ('params = { nu = "1" }', "claim[0].params"),
    ('params = { gamma = "-1" }', "claim[0].params"),
    ('lr = "0"', "claim[0].lr"),
    ('spectrum = "1,2,x"', "claim[0].spectrum"),
    ('batch = "0"', "claim[0].batch"),
    ('digits = 0', "claim[0].digits"),
    ('tune = true', "claim[0].tune"),
    ('method = "adam"', "claim[0].method"),
])
def test_bad_claim_files_name_the_key(tmp_path, capsys, change, key):
    base = {"relation": 'relation = "<="', "params": 'params = { gamma = "81/209" }', "lr": 'lr = "19/1000"',
            "spectrum": 'spectrum = "1,2,50,99,100"', "batch": 'batch = "inf"', "digits": "digits = 30",
            "method": f'method = "{METHODS / "triple-momentum.toml"}"', "value": 'value = "0.82"'}
    k = change.split(" ")[0]
    lines = [v for kk, v in base.items() if kk != k] + [change]
    text = '[[claim]]\nid = "x"\nstatement = "s"\nmomentum = "81/110"\n' + "\n".join(lines) + "\n"
    if k == "quantity":
        text += ""
    p = write(tmp_path, text)
    with pytest.raises(InputError) as err:
        load_claim_file(p)
    assert str(err.value).startswith(f"{key}: "), str(err.value)
    code = main(["check", "--claims", str(p)])
    e = capsys.readouterr().err
    assert code == 2 and e.count("\n") == 1 and f"error: {key}: " in e


def test_unknown_top_level_key_and_empty_file(tmp_path):
    with pytest.raises(InputError, match="^claims_list: unknown key"):
        load_claim_file(write(tmp_path, 'claims_list = []\n'))
    with pytest.raises(InputError, match="^claim: a claims file needs"):
        load_claim_file(write(tmp_path, 'title = "t"\n'))
