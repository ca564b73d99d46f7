"""bound-check: claimed bounds over grids, certified counterexamples, malformed claim files."""
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from momentum_verify.numerics.rates import spectral_radius
from momentum_verify.numerics.worst_case import SpectrumClass
from momentum_verify.theory.errors import InputError
from momentum_verify.verify.bound_check import check_bound, load_claim
from momentum_verify.verify.cli import main

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "bounds"

POLYAK = {"method": "heavy-ball", "model": "gaussian", "lr": "4/(sqrt(L) + sqrt(mu))^2",
          "momentum": "((sqrt(kappa) - 1)/(sqrt(kappa) + 1))^2"}


def test_planted_false_bound_refuted():
    """The deterministic rate claimed at B = 1: fails, with a certified counterexample in the class."""
    res = check_bound(load_claim(dict(POLYAK, bound="rho <= ((sqrt(kappa) - 1)/(sqrt(kappa) + 1))^2",
                                      grid={"kappa": [10], "d": [4], "B": [1]})))
    assert res.verdict == "fails"
    c = res.counterexample
    assert c is not None and c["interval"][0] > c["claimed"]
    cls = SpectrumClass("gaussian", 1.0, 10.0, len(c["spectrum"]))
    assert cls.contains(c["spectrum"])
    r = spectral_radius("heavy-ball", cls.sampling_model(c["spectrum"]), 1, c["lr"], c["momentum"])
    assert c["interval"][0] <= float(r.rho) <= c["interval"][1]
    assert len(c["spectrum"]) == 2          # shrunk to the smallest d


def test_search_finds_a_planted_bad_instance():
    """A bound true for the two-point spectrum (mu, L) but not for the class at d = 4: the checker must
    find the interior bad eigenvalue (the worst instance is not (mu, L, ..., L))."""
    cls = SpectrumClass("gaussian", 1.0, 10.0, 2)
    base = float(spectral_radius("heavy-ball", cls.sampling_model([1.0, 10.0]), 8, 0.1, 0.5).rho)
    res = check_bound(load_claim({"method": "heavy-ball", "lr": "1/10", "momentum": "1/2",
                                  "bound": f"rho <= {base!r} * (1 + 1/10^9)",
                                  "grid": {"mu": [1], "L": [10], "d": [2, 4], "B": [8]}}))
    assert [p["verdict"] for p in res.points] == ["holds", "fails"]
    c = res.counterexample
    assert c["interval"][0] > base and len(c["spectrum"]) == 3


def test_true_bound_holds_and_k_form():
    res = check_bound(load_claim({"method": "sgd", "lr": "B/(B + d + 1)",
                                  "bound": "K <= -1/log((d + 1)/(B + d + 1)) * (1 + 1/10^9)",
                                  "grid": {"mu": [1], "L": [1], "d": [2, 3], "B": [1, 8]}}))
    assert res.verdict == "holds" and res.counterexample is None
    # the same bound without slack is tight to the digits: it may not be called a failure
    res = check_bound(load_claim({"method": "sgd", "lr": "B/(B + d + 1)",
                                  "bound": "K <= -1/log((d + 1)/(B + d + 1)) * (1 - 1/10^6)",
                                  "grid": {"mu": [1], "L": [1], "d": [2], "B": [8]}}))
    assert res.verdict == "fails"


def test_lower_bound_claim_undecided_or_holds():
    res = check_bound(load_claim(dict(POLYAK, bound="rho >= ((sqrt(kappa) - 1)/(sqrt(kappa) + 1))^2 * (1 - 1/10^3)",
                                      grid={"kappa": [10], "d": [3], "B": ["inf"]})))
    assert res.verdict == "holds"
    res = check_bound(load_claim(dict(POLYAK, bound="rho >= 1", grid={"kappa": [10], "d": [3], "B": ["inf"]})))
    assert res.verdict == "fails" and res.counterexample is None


@pytest.mark.parametrize("data,key", [
    (dict(POLYAK, bound="rho <= 1", grid={"kappa": [10], "d": [3]}), "grid.B"),
    (dict(POLYAK, bound="rho <= 1", grid={"kappa": [10], "d": [3], "B": [0]}), "grid.B"),
    (dict(POLYAK, bound="rho <= 1", grid={"kappa": [10], "d": [3.5], "B": [1]}), "grid.d"),
    (dict(POLYAK, bound="rho < 1", grid={"kappa": [10], "d": [3], "B": [1]}), "bound"),
    (dict(POLYAK, bound="rho <= __import__('os')", grid={"kappa": [10], "d": [3], "B": [1]}), "bound"),
    (dict(POLYAK, bound="rho <= kappa_bar", grid={"kappa": [10], "d": [3], "B": [1]}), "bound"),
    (dict(POLYAK, lr="foo(L)", bound="rho <= 1", grid={"kappa": [10], "d": [3], "B": [1]}), "lr"),
    (dict(POLYAK, bound="rho <= 1", grid={"kappa": [10], "d": [3], "B": [1], "x": [1]}), "grid.x"),
    (dict(POLYAK, bound="rho <= 1", colour="red", grid={"kappa": [10], "d": [3], "B": [1]}), "colour"),
    (dict(POLYAK, method="adam", bound="rho <= 1", grid={"kappa": [10], "d": [3], "B": [1]}), "method"),
    (dict(POLYAK, bound="rho <= 1", grid={"kappa": [10], "d": [4], "B": [1], "kappa_bar": [1]}), "kappa_bar"),
])
def test_malformed_claim_is_input_error(data, key, tmp_path, capsys):
    with pytest.raises(InputError) as e:
        check_bound(load_claim(data))
    assert e.value.param == key
    f = tmp_path / "c.toml"
    lines = [f"{k} = {json.dumps(v)}" for k, v in data.items() if k != "grid"]
    lines.append("[grid]")
    lines += [f"{k} = {json.dumps(v)}" for k, v in data["grid"].items()]
    f.write_text("\n".join(lines) + "\n")
    rc = main(["bound-check", str(f)])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and key in err


def test_bad_toml_and_missing_file(tmp_path, capsys):
    f = tmp_path / "bad.toml"
    f.write_text("method = \n")
    assert main(["bound-check", str(f)]) == 2
    assert main(["bound-check", str(tmp_path / "none.toml")]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2 and all("file" in e for e in err)


def test_cli_json_keys(capsys):
    rc = main(["bound-check", str(EXAMPLES / "polyak_at_batch_1.toml"), "--json"])
    j = json.loads(capsys.readouterr().out)
    assert rc == 0 and j["verdict"] == "fails"
    assert set(j["points"][0]) >= {"params", "lower", "upper", "claimed", "verdict"}
    assert set(j["counterexample"]) >= {"spectrum", "lr", "momentum", "batch", "interval"}
    assert "not a proof between grid points" in j["note"]
