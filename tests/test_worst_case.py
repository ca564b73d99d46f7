"""Worst case over spectrum classes (numerics.worst_case): against brute-force enumeration, mpmath and
explicit class members; bad classes are input errors."""
from __future__ import annotations

import json
import math

import mpmath as mp
import numpy as np
import pytest

from momentum_verify.numerics.rates import spectral_radius
from momentum_verify.numerics.worst_case import (
    SpectrumClass, brute_force, minimax_tune, parse_class, worst_case,
)
from momentum_verify.theory.errors import InputError
from momentum_verify.verify.cli import main

POINTS = [("sgd", 4, 0.12, 0.0), ("heavy-ball", 8, 0.1, 0.5), ("nesterov", 2, 0.05, 0.6)]


@pytest.mark.parametrize("method,batch,lr,mom", POINTS)
@pytest.mark.parametrize("model", ["gaussian", "coordinate"])
def test_untraced_against_brute_force(method, batch, lr, mom, model):
    """Enumeration over a grid of spectra is a lower bound; the certified upper bound lies above it, the
    tool's instance is at least as bad as the enumeration, and the enumeration's gap shrinks with the grid."""
    lr = lr if model == "gaussian" else lr / 5
    cls = SpectrumClass(model, 1.0, 10.0, 4)
    r = worst_case(method, cls, batch, lr, mom, certify=True)
    assert cls.contains(r.instance)
    gaps = []
    for g in (5, 9, 17):
        bf, spec = brute_force(method, cls, batch, lr, mom, grid=g)
        assert bf <= r.upper
        assert r.lower >= bf * (1 - 1e-10)
        gaps.append(r.upper - bf)
    assert gaps[0] >= gaps[1] >= gaps[2] >= 0
    assert r.gap < 1e-9


def test_traced_dual_bound_never_below_an_instance():
    """tr H fixed: the Lagrangian bound is above every enumerated and every random class member."""
    cls = SpectrumClass("gaussian", 1.0, 4.0, 4, (1 + 4 + 2.5 + 2.5 + 8) / 1.0)     # tr H = 10
    rng = np.random.default_rng(0)
    for method, batch, lr, mom in POINTS:
        r = worst_case(method, cls, batch, lr, mom, certify=True)
        assert cls.contains(r.instance)
        bf, _ = brute_force(method, cls, batch, lr, mom, grid=31)
        assert bf <= r.upper and r.lower <= r.upper
        for _ in range(20):
            x = rng.uniform(1, 4)
            y = 5 - x
            if not 1 <= y <= 4:
                continue
            rho = float(spectral_radius(method, cls.sampling_model([1.0, 4.0, x, y]), batch, lr, mom).rho)
            assert rho <= r.upper * (1 + 1e-12)


def test_traced_large_d_gap_reported():
    cls = SpectrumClass("gaussian", 1.0, 100.0, 200, 20.0 * 200 + 300)
    r = worst_case("heavy-ball", cls, 64, 0.004, 0.9, certify=True)
    assert r.lower <= r.upper and cls.contains(r.instance)
    assert 0 <= r.gap < 1e-2


def test_certified_intervals_contain_mpmath_values():
    cls = SpectrumClass("gaussian", 1.0, 10.0, 4)
    r = worst_case("heavy-ball", cls, 8, 0.1, 0.5, certify=True)
    ref = spectral_radius("heavy-ball", cls.sampling_model(r.instance), 8, 0.1, 0.5, digits=30).rho
    lo, hi = r.lower_interval
    assert mp.mpf(lo) <= ref <= mp.mpf(hi)
    assert ref <= mp.mpf(r.upper)


def test_lower_equals_rate_of_the_instance_to_stated_digits():
    cls = parse_class("mu=1,L=10,d=5")
    j = worst_case("nesterov", cls, 4, 0.05, 0.6).to_json()
    rate = spectral_radius("nesterov", cls.sampling_model(j["instance"]["spectrum"]), 4, 0.05, 0.6)
    assert abs(float(j["lower"]) - float(rate.rho)) <= 10 ** (1 - j["digits"]) * float(rate.rho)


def test_isotropic_sgd_closed_form():
    """H = I_d: rho = (d + 1)/(B + d + 1) at eta = B/(B + d + 1) (MATH.md §7)."""
    for d, B in ((2, 1), (5, 8)):
        r = worst_case("sgd", SpectrumClass("gaussian", 1.0, 1.0, d), B, B / (B + d + 1), 0.0, certify=True)
        exact = (d + 1) / (B + d + 1)
        assert r.lower_interval[0] <= exact * (1 + 1e-15) and exact <= r.upper * (1 + 1e-15)


def test_certifier_refuses_a_planted_false_upper_bound():
    """The branch and bound must not prove an upper bound below a class member's rate."""
    from momentum_verify.numerics import worst_case as W
    for model, lr in (("gaussian", 0.1), ("coordinate", 0.02)):
        cls = SpectrumClass(model, 1.0, 10.0, 3)
        r = worst_case("heavy-ball", cls, 2, lr, 0.5, certify=True)
        pt = W._Point("heavy-ball", model, 2, lr, 0.5)
        assert W._certify_upper(pt, cls, r.upper)
        member = float(spectral_radius("heavy-ball", cls.sampling_model([1.0, 5.5, 10.0]), 2, lr, 0.5).rho)
        assert member <= r.upper
        assert not W._certify_upper(pt, cls, member * (1 - 1e-6))
        assert not W._certify_upper(pt, cls, r.lower * (1 - 1e-9))


def test_minimax_sgd_isotropic():
    t = minimax_tune("sgd", SpectrumClass("gaussian", 1.0, 1.0, 3), 4)
    assert abs(t.worst.lr - 0.5) < 1e-3
    assert t.K_minimax >= t.K_instance * (1 - 1e-6)


@pytest.mark.parametrize("text,key", [
    ("mu=2,L=1,d=3", "mu"), ("mu=1,L=2,d=1", "d"), ("mu=1,L=10,d=4,kappa_bar=5", "kappa_bar"),
    ("mu=1,L=10,d=4,kappa_bar=1e9", "kappa_bar"), ("mu=1,L=2", "d"), ("mu=1,L=x,d=3", "L"), ("", "class"),
    ("mu=1,L=2,d=3,foo=1", "class"), ("mu=1,L=2,d=2.5", "d"),
])
def test_bad_class_is_input_error(text, key, capsys):
    with pytest.raises(InputError) as e:
        parse_class(text)
    assert e.value.param == key
    rc = main(["worst-case", "--method", "sgd", "--class", text, "--batch", "4", "--lr", "0.1"])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and key in err


def test_cli_json_keys(capsys):
    rc = main(["worst-case", "--method", "heavy-ball", "--class", "mu=1,L=10,d=4", "--batch", "8", "--lr", "0.1",
               "--momentum", "0.5", "--certify", "--json"])
    j = json.loads(capsys.readouterr().out)
    assert rc == 0
    for k in ("lower", "upper", "digits", "certified", "instance", "class"):
        assert k in j
    assert j["certified"] is True and j["instance"]["spectrum"] == sorted(j["instance"]["spectrum"])
    assert float(j["lower"]) <= float(j["upper"])


def test_cli_tune_excludes_lr(capsys):
    rc = main(["worst-case", "--method", "sgd", "--class", "mu=1,L=1,d=3", "--batch", "4", "--lr", "0.1", "--tune"])
    assert rc == 2 and "tune" in capsys.readouterr().err


def test_data_class_search_is_a_certified_lower_bound():
    """General H (coordinate) contains the diagonal class: the search (seeded there) is at least the
    certified diagonal worst instance; its instance is a class member and its interval is certified."""
    from momentum_verify.numerics.worst_case import DataClass, search_data_class
    r = search_data_class("heavy-ball", DataClass("coordinate", 1.0, 4.0, 3), 1, 0.2, 0.3, restarts=2, maxfev=150)
    diag = worst_case("heavy-ball", SpectrumClass("coordinate", 1.0, 4.0, 3), 1, 0.2, 0.3, certify=True)
    lo, hi = r.rate.interval
    assert lo >= diag.lower_interval[0] * (1 - 1e-12)
    ev = np.linalg.eigvalsh((r.matrix + r.matrix.T) / 2)
    assert abs(ev[0] - 1) < 1e-10 and abs(ev[-1] - 4) < 1e-10 and np.all(ev >= 1 - 1e-10) and np.all(ev <= 4 + 1e-10)
    j = r.to_json()
    assert j["kind"] == "lower bound (search)" and "not the worst case" in j["note"]


def test_data_class_finite_search(capsys):
    rc = main(["worst-case", "--method", "sgd", "--model", "finite", "--class", "mu=1,L=4,d=2,n=3", "--batch", "1",
               "--lr", "0.2", "--restarts", "1", "--json"])
    j = json.loads(capsys.readouterr().out)
    assert rc == 0 and j["certified"] and float(j["lower"]) <= float(j["rate"]["rho"])
    assert main(["worst-case", "--method", "sgd", "--model", "finite", "--class", "mu=1,L=4,d=3,n=2", "--batch", "1",
                 "--lr", "0.2"]) == 2
    assert "n" in capsys.readouterr().err
