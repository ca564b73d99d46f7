"""Write paper_checks.md and the PNG figures it links, from the runner's outcomes; read verdicts back.

Layout of the report: a summary table (id, source, verdict, routes, precision), then one section per
claim (source, reading, statement, how it was checked, tolerance, numbers, routes, precision, verdict,
figures). Figures are drawn from the data a verdict carries in ``Verdict.plots`` (see ``PLOTTERS``)
into ``figures/`` beside the report. Nothing time-dependent is written, so a diff shows moved numbers.
"""
from __future__ import annotations

import re
import textwrap
from pathlib import Path

from .runner import Outcome, jsonable

VERDICT_MARK = {"holds": "holds", "fails": "**fails**", "inconclusive": "inconclusive"}
_ROW = re.compile(r"^\|\s*`([^`]+)`\s*\|(?:[^|\\]|\\.)*\|\s*\**(holds|fails|inconclusive)\**\s*\|")


# --------------------------------------------------------------------------------------------------
# figures
# --------------------------------------------------------------------------------------------------
METHOD_STYLE = {"sgd": ("C0", "o"), "heavy-ball": ("C1", "s"), "nesterov": ("C2", "^"), "sgdm": ("C3", "d")}


def _pyplot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _mark_scales(ax, predicted: dict):
    for i, (label, x) in enumerate((predicted or {}).items()):
        if x:
            ax.axvline(x, color="0.5", ls=("--", ":", "-.")[i % 3], lw=1, label=f"B = {label} = {x:.3g}")


def _finish(plt, fig, ax, data: dict, path: Path):
    """Title, grid, legend; save as PNG and close (shared by every figure)."""
    ax.set_title(textwrap.fill(data.get("title", ""), 80), fontsize=8)
    ax.grid(True, which="both", alpha=0.25)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_iterations(data: dict, path: Path):
    """Tuned iterations K(B) per e-fold of E||e||^2 against B (log-log), saturation batches marked."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    B = data["batches"]
    for m, K in data["K"].items():
        color, marker = METHOD_STYLE.get(m, ("k", "x"))
        ax.loglog(B, K, marker=marker, color=color, ms=4, label=f"{m} (tuned)")
        sat = (data.get("saturation") or {}).get(m)
        if sat:
            Ks = _interp_loglog(B, K, sat)
            ax.plot([sat], [Ks], marker="*", ms=14, color=color, mec="k", ls="none",
                    label=f"{m} saturation B = {sat:.3g}")
    for m, K in (data.get("deterministic_K") or {}).items():
        ax.axhline(K, color=METHOD_STYLE.get(m, ("k",))[0], lw=0.8, alpha=0.5)
    _mark_scales(ax, data.get("predicted"))
    ax.set_xlabel("batch size B")
    ax.set_ylabel("K = -1/ln(rho)  (iterations per e-fold)")
    _finish(plt, fig, ax, data, path)


def plot_acceleration(data: dict, path: Path):
    """Acceleration K_sgd/K_method against B (log-log) with the predicted scales and sqrt(kappa)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    B = data["batches"]
    for m, acc in data["acceleration"].items():
        color, marker = METHOD_STYLE.get(m, ("k", "x"))
        ax.loglog(B, acc, marker=marker, color=color, ms=4, label=f"K_sgd / K_{m}")
    if data.get("sqrt_kappa"):
        ax.axhline(data["sqrt_kappa"], color="k", lw=0.8, ls="--", label=f"sqrt(kappa) = {data['sqrt_kappa']:.3g}")
    if data.get("slope_window"):
        lo, hi = data["slope_window"]
        ax.axvspan(lo, hi, color="0.9", label="slope fit window")
    _mark_scales(ax, data.get("predicted"))
    ax.set_xlabel("batch size B")
    ax.set_ylabel("acceleration (tuned iterations, SGD / momentum)")
    _finish(plt, fig, ax, data, path)


def plot_lines(data: dict, path: Path):
    """Generic: ``{"x": [...], "series": {label: [...]}, "xlabel", "ylabel", "logx", "logy", "title"}``."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    for label, ys in data["series"].items():
        ax.plot(data["x"], ys, marker="o", ms=3, label=label)
    ax.set_xscale("log" if data.get("logx") else "linear")
    ax.set_yscale("log" if data.get("logy") else "linear")
    ax.set_xlabel(data.get("xlabel", ""))
    ax.set_ylabel(data.get("ylabel", ""))
    _finish(plt, fig, ax, data, path)


PLOTTERS = {"iterations-vs-batch": plot_iterations, "acceleration-vs-batch": plot_acceleration,
            "lines": plot_lines}


def _interp_loglog(xs, ys, x):
    import numpy as np
    return float(np.exp(np.interp(np.log(x), np.log(xs), np.log(ys))))


def draw_figures(outcomes: list[Outcome], fig_dir: Path, rel: str, prune: bool = False) -> None:
    """Draw every plot the verdicts carry into ``fig_dir``; record the relative paths in the verdicts.
    ``prune`` removes PNGs in ``fig_dir`` that no verdict drew (stale figures of a full run)."""
    drawn = set()
    for o in outcomes:
        for data in o.verdict.plots:
            plotter = PLOTTERS.get(data.get("kind"))
            if plotter is None:
                continue
            fig_dir.mkdir(parents=True, exist_ok=True)
            name = re.sub(r"[^A-Za-z0-9_.-]+", "_", data["name"]) + ".png"
            plotter(data, fig_dir / name)
            drawn.add(name)
            o.verdict.figures.append(f"{rel}/{name}")
    if prune and fig_dir.is_dir():
        for old in fig_dir.glob("*.png"):
            if old.name not in drawn:
                old.unlink()


# --------------------------------------------------------------------------------------------------
# markdown
# --------------------------------------------------------------------------------------------------
def _cell(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _fmt(value) -> str:
    v = jsonable(value)
    if isinstance(v, float):
        return f"{v:.6g}"
    if isinstance(v, list):
        return "[" + ", ".join(_fmt(x) for x in v) + "]"
    if isinstance(v, dict):
        return "; ".join(f"{k}: {_fmt(x)}" for k, x in v.items())
    return str(v)


def _flatten(numbers: dict, prefix: str = "") -> list[tuple[str, str]]:
    """Nested dicts as rows "outer / inner | value"."""
    rows = []
    for k, v in numbers.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and v:
            rows += _flatten(v, key + " / ")
        else:
            rows.append((key, _fmt(v)))
    return rows


def render_markdown(outcomes: list[Outcome], *, command: str = "momentum-verify check") -> str:
    """The whole report as markdown text."""
    n = {k: sum(o.verdict.verdict == k for o in outcomes) for k in ("holds", "fails", "inconclusive")}
    lines = ["# Paper checks", "",
             f"Generated by `{command}` (do not edit by hand; regenerate with that command). "
             f"{len(outcomes)} claims: {n['holds']} hold, {n['fails']} fail, {n['inconclusive']} inconclusive.",
             "",
             "Notation: MATH.md (rho = spectral radius of the second-moment operator, the rate of E||e_k||^2; "
             "K = -1/ln(rho) iterations per e-fold; kappa = L/mu; kappa_bar = R^2/mu). A verdict \"holds\" means "
             "the measured numbers meet the stated tolerance; \"inconclusive\" that the reading of the claim is "
             "uncertain or the numbers are borderline. Readings: *exact* (textbook formula), *as reported* "
             "(MATH.md's account of the paper), *uncertain* (our reading; never holds or fails).",
             "", "## Summary", "",
             "| claim | source | verdict | routes | precision |", "|---|---|---|---|---|"]
    for o in outcomes:
        v = o.verdict
        lines.append(f"| `{o.id}` | {_cell(o.source)} | {VERDICT_MARK[v.verdict]} | "
                     f"{_cell('; '.join(v.routes))} | {_cell(v.precision)} |")
    for o in outcomes:
        v = o.verdict
        lines += ["", f"## `{o.id}`", "",
                  f"- **Source:** {o.source}",
                  f"- **Reading:** {o.reading}",
                  f"- **Statement:** {o.statement}",
                  f"- **How it was checked:** {v.method}",
                  f"- **Tolerance:** {o.tolerance or 'n/a'}",
                  f"- **Routes:** {'; '.join(v.routes)}",
                  f"- **Precision:** {v.precision}",
                  f"- **Verdict:** {VERDICT_MARK[v.verdict]}", "",
                  "| quantity | value |", "|---|---|"]
        lines += [f"| {_cell(k)} | {_cell(val)} |" for k, val in _flatten(v.numbers)]
        for f in v.figures:
            lines += ["", f"![{o.id}]({f})"]
    return "\n".join(lines) + "\n"


def write_report(outcomes: list[Outcome], path, *, command: str = "momentum-verify check",
                 prune: bool = False) -> Path:
    """Draw the figures into ``figures/`` beside ``path`` and write the markdown report."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    draw_figures(outcomes, path.parent / "figures", "figures", prune=prune)
    path.write_text(render_markdown(outcomes, command=command))
    return path


def parse_verdicts(text: str) -> dict[str, str]:
    """{claim id: verdict} read back from a report's summary table."""
    out = {}
    for line in text.splitlines():
        m = _ROW.match(line)
        if m:
            out[m.group(1)] = m.group(2)
    return out
