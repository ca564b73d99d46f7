"""The report: markdown round trip, figures, JSON output, and the regression test on the committed
paper_checks.md (a moved verdict fails)."""
import json
import math
from pathlib import Path

import pytest

from momentum_verify.verify.claim import Claim, Verdict
from momentum_verify.verify.report import parse_verdicts, render_markdown, write_report
from momentum_verify.verify.runner import run_all, run_claim

REPORT = Path(__file__).resolve().parent.parent / "paper_checks.md"
PNG = b"\x89PNG\r\n\x1a\n"


def _outcome(cid, verdict, plots=()):
    v = Verdict(verdict, {"rho": "0.5 (30 digits)", "nested": {"a": 1.0, "b": {"c": [1, 2]}}},
                routes=["numeric (secular route, double)"], method="m", precision="30 digits", plots=list(plots))
    return run_claim(Claim(cid, "src | with pipe", "statement", lambda: v, tolerance="tol"))


def test_markdown_round_trip():
    outs = [_outcome("x.one", "holds"), _outcome("x.two", "fails"), _outcome("x.three", "inconclusive")]
    text = render_markdown(outs)
    assert parse_verdicts(text) == {"x.one": "holds", "x.two": "fails", "x.three": "inconclusive"}
    assert "| nested / b / c | [1, 2] |" in text
    assert "src \\| with pipe" in text


def test_figures_are_drawn_linked_and_pruned(tmp_path):
    data = {"batches": [1, 2, 4, 8], "predicted": {"kappa_bar/kappa": 2.0, "kappa_bar/sqrt(kappa)": 6.0}}
    plots = [dict(data, kind="iterations-vs-batch", name="t-iter", K={"sgd": [8, 4, 3, 3], "heavy-ball": [8, 4, 2, 1]},
                  saturation={"sgd": 3.0, "heavy-ball": None}, deterministic_K={"sgd": 3}),
             dict(data, kind="acceleration-vs-batch", name="t-acc", acceleration={"heavy-ball": [1, 1, 1.5, 3]},
                  sqrt_kappa=3.0, slope_window=[2, 8]),
             {"kind": "lines", "name": "t-lines", "x": [1, 2], "series": {"a": [1, 2]}, "logy": True}]
    (tmp_path / "figures").mkdir()
    (tmp_path / "figures" / "stale.png").write_bytes(PNG)
    path = write_report([_outcome("x.fig", "holds", plots)], tmp_path / "paper_checks.md", prune=True)
    text = path.read_text()
    for name in ("t-iter", "t-acc", "t-lines"):
        png = tmp_path / "figures" / f"{name}.png"
        assert png.read_bytes()[:8] == PNG
        assert f"](figures/{name}.png)" in text
    assert not (tmp_path / "figures" / "stale.png").exists()


def test_check_json_output(capsys):
    from momentum_verify.verify.cli import main
    rc = main(["check", "--only", "classical.coordinate-descent", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0
    (c,) = out["claims"]
    assert {"id", "source", "verdict", "numbers", "routes"} <= set(c)
    assert c["id"] == "classical.coordinate-descent" and c["verdict"] == "holds" and c["routes"]


def _committed():
    assert REPORT.is_file(), "paper_checks.md is missing: run `momentum-verify check`"
    committed = parse_verdicts(REPORT.read_text())
    assert committed, "paper_checks.md has no summary table: run `momentum-verify check`"
    return committed


def _compare(outcomes, committed):
    moved = {o.id: (committed.get(o.id), o.verdict.verdict) for o in outcomes
             if committed.get(o.id) != o.verdict.verdict}
    assert not moved, f"verdicts moved (committed, now): {moved}; regenerate with `momentum-verify check`"
    for o in outcomes:
        assert o.verdict.routes and all(r.strip() for r in o.verdict.routes), o.id
        assert o.verdict.precision.strip(), o.id


def test_quick_subset_agrees_with_committed_report():
    """The quick subset as `check --quick` runs it (shared work and claims over 2 worker processes)."""
    committed = _committed()
    outcomes = run_all(quick=True, workers=2)
    assert len(outcomes) >= 10
    _compare(outcomes, committed)


def test_committed_report_names_routes_and_precision():
    text = REPORT.read_text()
    sections = text.split("\n## `")[1:]
    assert len(sections) == len(_committed())
    for sec in sections:
        routes = next(ln for ln in sec.splitlines() if ln.startswith("- **Routes:**"))
        prec = next(ln for ln in sec.splitlines() if ln.startswith("- **Precision:**"))
        assert routes.split("**Routes:**")[1].strip() and prec.split("**Precision:**")[1].strip()


@pytest.mark.slow
def test_full_run_agrees_with_committed_report():
    committed = _committed()
    outcomes = run_all()
    assert {o.id for o in outcomes} == set(committed)
    _compare(outcomes, committed)


# --------------------------------------------------------------------------------------------------
# figures: fitted slopes, reference slopes, coinciding methods
# --------------------------------------------------------------------------------------------------
def _legend_texts(monkeypatch, plotter, data, tmp_path):
    import matplotlib.pyplot as plt
    seen = []
    orig = plt.Figure.savefig

    def spy(fig, *a, **k):
        for ax in fig.axes:
            leg = ax.get_legend()
            seen.extend(t.get_text() for t in (leg.get_texts() if leg else []))
        return orig(fig, *a, **k)
    monkeypatch.setattr(plt.Figure, "savefig", spy)
    plotter(data, tmp_path / "f.png")
    assert (tmp_path / "f.png").stat().st_size > 1000
    return seen


def test_loglog_fit_recovers_a_power_law():
    from momentum_verify.verify.report import loglog_fit
    xs = [1, 2, 4, 8, 16, 32]
    s, a = loglog_fit(xs, [3 * x ** 0.75 for x in xs], 2, 16)
    assert s == pytest.approx(0.75, rel=1e-12) and a == pytest.approx(math.log(3), rel=1e-12)
    assert loglog_fit(xs, xs, 100, 200) is None


def test_acceleration_figure_shows_fitted_slope(monkeypatch, tmp_path):
    from momentum_verify.verify.report import plot_acceleration
    B = [1, 2, 4, 8, 16]
    data = {"batches": B, "acceleration": {"heavy-ball": [b ** 0.5 for b in B], "nesterov": [1.0] * 5},
            "slopes": {"heavy-ball": [0.5, 2, 16]}, "slope_window": [2, 16], "title": "t"}
    texts = _legend_texts(monkeypatch, plot_acceleration, data, tmp_path)
    assert any("heavy-ball: fitted log-log slope 0.5 (B = 2-16)" in t for t in texts)
    assert any(t.startswith("nesterov: fitted log-log slope 0 ") for t in texts)     # from the window


def test_weak_error_figure_has_reference_slopes(monkeypatch, tmp_path):
    from momentum_verify.verify.report import plot_lines
    xs = [0.1, 0.05, 0.02, 0.01]
    data = {"x": xs, "series": {"a": xs, "b": [x ** 0.5 for x in xs]}, "logx": True, "logy": True,
            "reference_slopes": [{"slope": 1, "anchor": "a"}, {"slope": 0.5, "anchor": "b"}],
            "fits": {"b": [0.01, 0.1]}, "fit_variable": "eta", "title": "t"}
    texts = _legend_texts(monkeypatch, plot_lines, data, tmp_path)
    assert "reference slope 1" in texts and "reference slope 1/2" in texts
    assert any("b: fitted log-log slope 0.5 (eta = 0.01-0.1)" in t for t in texts)


def test_tune_plot_names_coinciding_methods():
    from momentum_verify.verify.cmd_tune import coincidence_labels
    hb = [(1, 10.0), (4, 5.0)]
    labels = coincidence_labels({"sgd": [(1, 20.0), (4, 9.0)], "heavy-ball": hb,
                                 "sgdm": [(1, 10.0 * (1 + 1e-9)), (4, 5.0)], "nesterov": [(1, 10.0), (4, 4.0)]})
    assert labels == {"sgd": "sgd", "heavy-ball": "heavy-ball", "sgdm": "sgdm (coincides with heavy-ball)",
                      "nesterov": "nesterov"}


# --------------------------------------------------------------------------------------------------
# reproducibility: the same claim run twice writes the same text
# --------------------------------------------------------------------------------------------------
def _report_text(tmp_path, name, claim, env_extra):
    import os
    import subprocess
    import sys
    env = {**os.environ, **env_extra}
    path = tmp_path / f"{name}.md"
    subprocess.run([sys.executable, "-m", "momentum_verify.verify", "check", "--only", claim, "--report", str(path)],
                   env=env, check=False, capture_output=True, timeout=600)
    return path.read_text()


@pytest.mark.parametrize("claim", ["classical.sgd-deterministic-rate",
                                   pytest.param("classical.coordinate-descent", marks=pytest.mark.slow),
                                   pytest.param("classical.kaczmarz-strohmer-vershynin", marks=pytest.mark.slow)])
def test_two_runs_write_identical_text(tmp_path, claim):
    """Fresh processes with different hash seeds, BLAS thread counts and environment sizes (which move
    memory alignment) give byte-identical reports, certified interval ends included."""
    a = _report_text(tmp_path, "a", claim, {"PYTHONHASHSEED": "1"})
    b = _report_text(tmp_path, "b", claim, {"PYTHONHASHSEED": "4242", "OPENBLAS_NUM_THREADS": "1",
                                            "MV_PADDING": "x" * 3001})
    assert "certified [" in a
    assert a == b
