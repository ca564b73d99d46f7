"""One JSON convention for every ``--json`` output (verify.json_convention): each command's JSON parses;
a number beside ``<key>_digits`` is a decimal string with that many significant digits; ``*_interval`` is
``[lo, hi]`` as strings; confidence intervals carry their level."""
from __future__ import annotations

import json

import mpmath as mp
import pytest

from momentum_verify.verify.cli import main
from momentum_verify.verify.json_convention import (count_digits, digits_from_error, structure_phrase,
                                                    with_digits)

SPECIALS = ("inf", "-inf")


def violations(x, path="") -> list[str]:
    """Every place where ``x`` breaks the convention (empty when it keeps it)."""
    bad = []
    if isinstance(x, list):
        for i, v in enumerate(x):
            bad += violations(v, f"{path}[{i}]")
        return bad
    if not isinstance(x, dict):
        return bad
    for k, v in x.items():
        p = f"{path}.{k}"
        if k.endswith("_digits") and k[:-7] in x:
            vals, ds = x[k[:-7]], v
            if isinstance(ds, dict):                           # {name: [values]} beside {name: [digits]}
                vals = [e for name in ds for e in (vals[name] if isinstance(vals[name], list) else [vals[name]])]
                ds = [e for d in ds.values() for e in (d if isinstance(d, list) else [d])]
            if not isinstance(ds, list):
                vals, ds = [vals], [ds]
            for val, d in zip(vals, ds):
                if d is None:
                    continue                                   # no digit claimed: a raw double is allowed
                if not isinstance(val, str):
                    bad.append(f"{p}: {k[:-7]} = {val!r} is not a decimal string")
                elif val not in SPECIALS and count_digits(val) != max(d, 1):
                    bad.append(f"{p}: {val!r} has {count_digits(val)} digits, {d} stated")
        if k.endswith("_interval") or k == "interval":
            ok = isinstance(v, list) and len(v) == 2 and all(isinstance(e, str) for e in v)
            if not ok:
                bad.append(f"{p}: not [lo, hi] strings: {v!r}")
            else:
                with mp.workdps(60):
                    if not mp.mpf(v[0]) <= mp.mpf(v[1]):
                        bad.append(f"{p}: lo > hi")
        if k == "ci":
            if not (isinstance(v, list) and len(v) == 2 and all(isinstance(e, str) for e in v)):
                bad.append(f"{p}: not [lo, hi] strings: {v!r}")
            c = x.get("confidence")
            if not (isinstance(c, float) and 0 < c < 1):
                bad.append(f"{p}: confidence interval without its level")
            elif not float(v[0]) <= float(x["estimate"]) <= float(v[1]):
                bad.append(f"{p}: estimate outside its interval")
        bad += violations(v, p)
    return bad


def run_json(capsys, *argv) -> dict:
    assert main(list(argv) + ["--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_rate(capsys):
    j = run_json(capsys, "rate", "--method", "heavy-ball", "--spectrum", "1,2,3", "--batch", "4", "--lr", "0.1",
                 "--momentum", "0.5", "--digits", "25", "--certify")
    assert violations(j) == []
    assert j["rho_digits"] == 25 and count_digits(j["rho"]) == 25 and isinstance(j["K"], str)
    assert "rho_interval" in j and "K_digits" in j


def test_tune(capsys):
    j = run_json(capsys, "tune", "--method", "heavy-ball", "--spectrum", "linspace:0.1:1:4", "--batch", "1,8,inf")
    assert violations(j) == []
    for r in j["results"]:
        assert isinstance(r["rho"], str) and isinstance(r["K"], str) and r["rho_digits"] >= 1
        assert isinstance(r["lr"], float) and "lr_tol" in r           # the double where rho was evaluated
    assert all(isinstance(a, str) for a in j["acceleration"]["heavy-ball"])


def test_simulate(capsys):
    j = run_json(capsys, "simulate", "--method", "sgd", "--spectrum", "0.5,2", "--batch", "1", "--lr", "0.1",
                 "--steps", "20", "--runs", "400")
    assert violations(j) == []
    w = j["rate_fit"]["window_rho"]
    assert w["confidence"] == 0.99 and len(w["ci"]) == 2 and "ci_method" in w
    assert isinstance(j["rate_fit"]["exact_window_rho"], str) and j["exact_rate"]["rho_digits"] >= 1


def test_weak_approx(capsys):
    j = run_json(capsys, "weak-approx", "--spectrum", "1,0.5", "--momentum", "0.5", "--lr", "0.1,0.05,0.025",
                 "--horizon", "2")
    assert violations(j) == []
    assert all(isinstance(r["max_error"], str) for r in j["results"])
    assert isinstance(j["order"], str) and j["order_digits"] >= 6


def test_check(capsys):
    assert main(["check", "--only", "classical.sgd-deterministic-rate", "--json"]) == 0
    j = json.loads(capsys.readouterr().out)
    assert violations(j) == []
    e = j["claims"][0]["numbers"]["kappa = 10"]["engine rho"]
    assert e["value_digits"] == 30 and count_digits(e["value"]) == 30 and len(e["value_interval"]) == 2
    assert "text" in e                                                       # the report's phrase is kept


def test_formula_parses(capsys):
    j = run_json(capsys, "formula", "--method", "sgd", "--what", "deterministic-rate")
    assert j["items"] and violations(j) == []


def test_check_phrases():
    ci = structure_phrase("0.886939, 99% CI [0.883951, 0.889937] (4000 runs, steps 23-46)")
    assert ci["estimate"] == "0.886939" and ci["ci"] == ["0.883951", "0.889937"] and ci["confidence"] == 0.99
    d = structure_phrase("0.68014490223 (11 digits, double), certified [0.6801449022263, 0.6801449022264]")
    assert d["value_digits"] == 11 and d["precision"] == "double" and violations(d) == []
    assert structure_phrase("yes (certified upper end <= bound)") == "yes (certified upper end <= bound)"


def test_helpers():
    assert with_digits("rho", 1 / 3, 5) == {"rho": "0.33333", "rho_digits": 5}
    assert with_digits("x", 2.5, None) == {"x": 2.5, "x_digits": None}
    assert count_digits("0.0012300") == 5 and count_digits("1.e+2") == 1 and count_digits("120") == 3
    e = 3e-9
    d = digits_from_error(0.123456789, e)
    assert 10.0 ** (-1 - d + 1) > 2 * e                                   # the last digit shown is above the error


@pytest.mark.parametrize("planted", [
    {"rho": "0.653", "rho_digits": 4},                       # digit count off
    {"rho": 0.653, "rho_digits": 3},                         # a float beside its digits
    {"rho_interval": [0.6, 0.7]},                            # interval of floats
    {"x_interval": ["0.7", "0.6"]},                          # reversed
    {"estimate": "0.5", "ci": ["0.4", "0.6"]},               # confidence interval without its level
])
def test_checker_catches_planted_violations(planted):
    assert violations({"a": [planted]}) != []
