"""Write paper_checks.md and the PNG figures it links, from the runner's outcomes; read verdicts back.

Layout of the report: a summary table (id, source, verdict, routes, precision), then one section per
claim (source, reading, statement, how it was checked, tolerance, numbers, routes, precision, verdict,
figures). Figures are drawn from the data a verdict carries in ``Verdict.plots`` (see ``PLOTTERS``)
into ``figures/`` beside the report. Nothing time-dependent is written, so a diff shows moved numbers.
"""
from __future__ import annotations

import math
import re
import textwrap
from pathlib import Path

from .runner import Outcome, _fork_pool, jsonable

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


def loglog_fit(xs, ys, lo, hi):
    """(slope, intercept) of the least-squares line ln y = intercept + slope ln x over lo <= x <= hi
    (finite, positive points); None with fewer than 2 points."""
    import numpy as np
    pts = [(x, y) for x, y in zip(xs, ys) if x is not None and y is not None and math.isfinite(x)
           and math.isfinite(y) and x > 0 and y > 0 and lo <= x <= hi]
    if len(pts) < 2:
        return None
    lx, ly = np.log(np.array(pts, dtype=float)).T
    slope, intercept = np.polyfit(lx, ly, 1)
    return float(slope), float(intercept)


def _draw_fit(ax, xs, ys, lo, hi, color, name: str, slope=None, xname: str = "B"):
    """The fitted log-log line over [lo, hi], its slope in the legend (``slope`` given: that value, with
    the least-squares intercept for it)."""
    import numpy as np
    fit = loglog_fit(xs, ys, lo, hi)
    if fit is None:
        return
    s, a = fit
    if slope is not None and slope != s:                 # the claim's own slope: refit the intercept only
        lx = np.log([x for x, y in zip(xs, ys) if x and y and math.isfinite(x) and lo <= x <= hi and y > 0])
        ly = np.log([y for x, y in zip(xs, ys) if x and y and math.isfinite(x) and lo <= x <= hi and y > 0])
        s, a = float(slope), float(np.mean(ly - slope * lx))
    x = np.geomspace(lo, hi, 20)
    ax.plot(x, np.exp(a) * x ** s, color=color, ls="-", lw=6, alpha=0.3, solid_capstyle="butt",
            label=f"{name}: fitted log-log slope {s:.3g} ({xname} = {lo:g}-{hi:g})")


def _draw_reference_slopes(ax, xs, series: dict, refs):
    """Reference lines C x^p for each ``{"slope": p, "anchor": label}``, through the anchor series' point
    at the smallest x, shifted down by 2 so that the data stay visible."""
    import numpy as np
    for i, ref in enumerate(refs or []):
        ys = series.get(ref.get("anchor")) or next(iter(series.values()))
        pts = sorted((x, y) for x, y in zip(xs, ys) if x and y and math.isfinite(x) and y > 0)
        if not pts:
            continue
        x0, y0 = pts[0]
        x = np.geomspace(pts[0][0], pts[-1][0], 20)
        p = ref["slope"]
        text = {0.5: "1/2"}.get(p, f"{p:g}")
        ax.plot(x, 0.5 * y0 * (x / x0) ** p, color="0.35", ls=(":", "-.", "--")[i % 3], lw=1.2,
                label=f"reference slope {text}")


def plot_acceleration(data: dict, path: Path):
    """Acceleration K_sgd/K_method against B (log-log) with the predicted scales and sqrt(kappa); the
    fitted log-log slope of each method over its window (``slopes``: {method: [slope, B0, B1]}, else the
    least-squares slope over ``slope_window``) as a wide translucent line with its value in the legend."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    B = data["batches"]
    slopes = data.get("slopes") or {}
    for m, acc in data["acceleration"].items():
        color, marker = METHOD_STYLE.get(m, ("k", "x"))
        ax.loglog(B, acc, marker=marker, color=color, ms=4, label=f"K_sgd / K_{m}")
        if m in slopes and slopes[m] and slopes[m][0] is not None:
            s, lo, hi = slopes[m]
            _draw_fit(ax, B, acc, lo, hi, color, m, slope=s)
        elif data.get("slope_window") and m != "sgd":
            _draw_fit(ax, B, acc, *data["slope_window"], color, m)
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
    """Generic: ``{"x": [...], "series": {label: [...]}, "xlabel", "ylabel", "logx", "logy", "title"}``;
    optional ``"fits": {label: [x0, x1]}`` (fitted log-log slope over [x0, x1], value in the legend) and
    ``"reference_slopes": [{"slope": p, "anchor": label}, ...]`` (reference lines C x^p)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    for label, ys in data["series"].items():
        line, = ax.plot(data["x"], ys, marker="o", ms=3, label=label)
        if label in (data.get("fits") or {}):
            _draw_fit(ax, data["x"], ys, *data["fits"][label], line.get_color(), label,
                      xname=data.get("fit_variable", "x"))
    _draw_reference_slopes(ax, data["x"], data["series"], data.get("reference_slopes"))
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


def _draw(job) -> None:
    kind, data, path = job
    PLOTTERS[kind](data, path)


def draw_figures(outcomes: list[Outcome], fig_dir: Path, rel: str, prune: bool = False, workers: int = 1) -> None:
    """Draw every plot the verdicts carry into ``fig_dir`` (over ``workers`` fork processes when more than
    one); record the relative paths in the verdicts. ``prune`` removes PNGs in ``fig_dir`` that no verdict
    drew (stale figures of a full run)."""
    drawn, jobs = set(), []
    for o in outcomes:
        for data in o.verdict.plots:
            if data.get("kind") not in PLOTTERS:
                continue
            fig_dir.mkdir(parents=True, exist_ok=True)
            name = re.sub(r"[^A-Za-z0-9_.-]+", "_", data["name"]) + ".png"
            jobs.append((data["kind"], data, fig_dir / name))
            drawn.add(name)
            o.verdict.figures.append(f"{rel}/{name}")
    import multiprocessing as mp
    if workers > 1 and len(jobs) > 1 and "fork" in mp.get_all_start_methods():
        with _fork_pool(min(workers, len(jobs))) as pool:          # the run's own pool kind
            list(pool.map(_draw, jobs))
    else:
        for job in jobs:
            _draw(job)
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
                 prune: bool = False, workers: int = 1) -> Path:
    """Draw the figures into ``figures/`` beside ``path`` (over ``workers`` processes) and write the
    markdown report."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    draw_figures(outcomes, path.parent / "figures", "figures", prune=prune, workers=workers)
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
