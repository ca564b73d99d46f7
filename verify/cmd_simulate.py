"""``momentum-verify simulate``: Monte Carlo of a method on a sampling model, against the exact
second-moment recursion (E||e_k||^2 with confidence intervals, and a fitted decay rate)."""
from __future__ import annotations

import json
import math
import sys
import time

import numpy as np

from ..theory.errors import InputError
from ..theory.methods import METHODS, get_method
from ..theory.sampling import MODELS
from .cmd_rate import build_model   # the model options are those of `rate`
from .json_convention import confidence_entry, rate_json, with_digits
from .method_options import METHOD_HELP, add_param_option, resolve_method
from .parsing import parse_batch, parse_momentum, parse_number, parse_positive, parse_spec

TABLE_ROWS = 12
EXACT_MAX_FLOPS = 1e11      # about a minute of dense second-moment recursion


# --------------------------------------------------------------------------------------------------
# arguments
# --------------------------------------------------------------------------------------------------
def add_parser(p):
    p.add_argument("--method", help=METHOD_HELP)
    add_param_option(p)
    p.add_argument("--model", default="gaussian", help=f"one of: {', '.join(MODELS)} (default gaussian)")
    p.add_argument("--spectrum", metavar="SPEC", help="eigenvalues of H (gaussian; coordinate with diagonal H): "
                   "comma-separated, linspace:LO:HI:D, geomspace:LO:HI:D or @FILE")
    p.add_argument("--matrix", metavar="FILE", help="data matrix A (finite, kaczmarz) or H (coordinate), .npy or text")
    p.add_argument("--without-replacement", action="store_true",
                   help="batches are uniform B-subsets of the n components (finite-population models)")
    p.add_argument("--batch", required=True, help="batch size B (integer >= 1) or inf")
    p.add_argument("--lr", help="step size eta (> 0; decimals or fractions like 1/3); required")
    p.add_argument("--momentum", default="0", help="momentum beta in [0, 1) (default 0)")
    p.add_argument("--steps", required=True, help="number of steps K")
    p.add_argument("--runs", required=True, help="number of independent replicas R (>= 2)")
    p.add_argument("--seed", default="0", help="seed of the random generator (default 0)")
    p.add_argument("--backend", default="numpy", help="numpy (default) or cupy (extra 'gpu', NVIDIA GPU)")
    p.add_argument("--confidence", default="0.99", help="level of the confidence intervals (default 0.99)")
    p.add_argument("--x0", metavar="@FILE", help="initial error x_0 - x* = x_{-1} - x* (default: ones/sqrt(d))")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--plot", metavar="FILE.png", help="draw Monte Carlo with its band over the exact curve")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def parse_count(text, param: str, minimum: int = 1) -> int:
    """A positive integer (decimal notation such as 1e4 allowed when integral)."""
    v = parse_number(str(text), param)
    if not float(v).is_integer() or v < minimum:
        raise InputError(param, f"must be an integer >= {minimum}, got {text}")
    return int(v)


# --------------------------------------------------------------------------------------------------
# progress bar: rich, on stderr, only on a terminal and only once a run has lasted a second
# --------------------------------------------------------------------------------------------------
class DelayedProgress:
    """``progress(k, total)`` callback that shows a rich bar on stderr after ``delay`` seconds."""

    def __init__(self, enabled: bool, delay: float = 1.0):
        self.enabled, self.delay = enabled, delay
        self.t0 = time.perf_counter()
        self.bar = self.task = None

    def __call__(self, k: int, total: int):
        if not self.enabled:
            return
        if self.bar is None:
            if time.perf_counter() - self.t0 < self.delay:
                return
            from rich.console import Console
            from rich.progress import Progress
            self.bar = Progress(console=Console(file=sys.stderr), transient=True)
            self.bar.start()
            self.task = self.bar.add_task("simulating", total=total)
        self.bar.update(self.task, completed=k)

    def close(self):
        if self.bar is not None:
            self.bar.stop()


# --------------------------------------------------------------------------------------------------
# output
# --------------------------------------------------------------------------------------------------
def _finite_list(values) -> list:
    """Floats, with non-finite values as null (JSON has no NaN)."""
    return [float(v) if math.isfinite(v) else None for v in np.asarray(values, dtype=float)]


def exact_rate(method, model, batch, lr, momentum):
    """The spectral radius from numerics.spectral (None where that engine is not installed)."""
    try:
        from ..numerics.rates import spectral_radius
    except ImportError:
        return None
    try:
        return spectral_radius(method, model, batch, lr, momentum)
    except InputError:        # a route the rate engine refuses here: the simulation still stands
        return None


EXACT_WINDOW_DIGITS = 8     # the float64 exact recursion's window slope: far more accurate than this


def window_comparison(fit, exact_err2, rate) -> dict:
    """The fitted rate read for what it is: the slope of its own window, against the exact curve's slope over
    the same steps and against the asymptotic rho (the spectral radius).

    ``exact_window_rho`` = exp(least-squares slope of log E||e_k||^2 (exact recursion) on k over the window);
    the Monte Carlo interval estimates exactly this, and rho only once the window is asymptotic. The fit is
    called reliable only when its ESS test passed and its interval contains ``exact_window_rho`` (when known).
    """
    k0, k1 = fit.window
    ex = np.asarray(exact_err2, dtype=float)[k0:k1 + 1]
    exact_w = None
    if ex.size >= 2 and np.all(np.isfinite(ex)) and np.all(ex > 0):
        slope = float(np.polyfit(np.arange(k0, k1 + 1, dtype=float), np.log(ex), 1)[0])
        exact_w = math.exp(slope)
    lo, hi = fit.ci
    in_w = None if exact_w is None else bool(lo <= exact_w <= hi)
    rho = None if rate is None else float(rate.rho)
    in_rho = None if rho is None else bool(lo <= rho <= hi)
    out = {"window": [int(k0), int(k1)], "steps_used": int(fit.n_used),
           "window_rho": confidence_entry(fit.rho, lo, hi, fit.confidence, fit.method),
           **with_digits("exact_window_rho", exact_w, None if exact_w is None else EXACT_WINDOW_DIGITS),
           "ci_contains_exact_window_rho": in_w,
           "ci_contains_asymptotic_rho": in_rho,
           "ess_reliable": bool(fit.reliable),
           "reliable": bool(fit.reliable) and in_w is not False,
           "what": "window_rho: exp(least-squares slope of log E||e_k||^2 on k over the window), fitted to the "
                   "Monte Carlo means; exact_window_rho: the same slope of the exact recursion; the asymptotic "
                   "rate is exact_rate.rho (they agree only once the window is asymptotic)"}
    if rate is not None:
        j = rate.to_json()
        out.update({"asymptotic_rho": j["rho"], "asymptotic_rho_digits": int(j["digits"])})
    return out


def window_lines(cmp: dict, groups: int) -> list[str]:
    """Text of :func:`window_comparison`: which number is the window's slope and which is rho."""
    w = cmp["window_rho"]
    pct = f"{100 * w['confidence']:g}%"
    k0, k1 = cmp["window"]
    out = [f"fitted slope of the window (steps {k0}-{k1}): {w['estimate']}, {pct} CI [{w['ci'][0]}, {w['ci'][1]}] "
           f"(jackknife over {groups} groups)"]
    if not cmp["ess_reliable"]:
        out.append("  window has fewer than 3 steps with reliable means: treat with care")
    if cmp["exact_window_rho"] is not None:
        verdict = "inside the CI" if cmp["ci_contains_exact_window_rho"] else \
            "OUTSIDE the CI: the fitted interval is not reliable"
        out.append(f"  exact curve's slope over the same steps: {cmp['exact_window_rho']} "
                   f"({cmp['exact_window_rho_digits']} digits, exact recursion): {verdict}")
    if "asymptotic_rho" in cmp:
        where = "inside" if cmp["ci_contains_asymptotic_rho"] else "outside"
        out.append(f"  asymptotic rate rho (spectral radius) is {where} the CI")
        if not cmp["ci_contains_asymptotic_rho"] and cmp["ci_contains_exact_window_rho"]:
            out.append("  the window is pre-asymptotic: its slope is not yet rho (simulate more steps)")
    return out


def to_json(res, exact_err2, exact_loss, rate) -> dict:
    fit = res.rate_fit
    out = {
        "steps": [int(k) for k in res.steps],
        "mean_sq_error": _finite_list(res.mean_sq_error),
        "ci_low": _finite_list(res.ci_low),
        "ci_high": _finite_list(res.ci_high),
        "exact": _finite_list(exact_err2),
        "rate_fit": None if fit is None else window_comparison(fit, exact_err2, rate),
        "mean_loss": _finite_list(res.mean_loss),
        "loss_ci_low": _finite_list(res.loss_ci_low),
        "loss_ci_high": _finite_list(res.loss_ci_high),
        "exact_loss": _finite_list(exact_loss),
        "ess": _finite_list(res.ess),
        "reliable": [bool(v) for v in res.reliable],
        "loss_ess": _finite_list(res.loss_ess),
        "loss_reliable": [bool(v) for v in res.loss_reliable],
        "confidence": res.confidence,
        "interval_method": f"{res.interval_method}; {res.groups} groups; reliable while ESS >= 20 x groups",
        "runs": res.runs, "groups": res.groups, "seed": res.seed, "backend": res.backend,
        "stopped_at": res.stopped_at, "stop_reason": res.stop_reason,
        "elapsed_s": res.elapsed_s,
        "replica_steps_per_s": res.replica_steps / res.elapsed_s if res.elapsed_s > 0 else None,
    }
    if rate is not None:
        out["exact_rate"] = rate_json(rate)
    return out


def _rows(n: int) -> list[int]:
    if n <= TABLE_ROWS:
        return list(range(n))
    return sorted(set(np.linspace(0, n - 1, TABLE_ROWS).round().astype(int).tolist()))


def print_text(res, exact_err2, rate, header: str):
    pct = f"{100 * res.confidence:g}%"
    print(header)
    print(f"E||e_k||^2: Monte Carlo mean with {pct} batch-means t intervals ({res.groups} groups); "
          f"exact = second-moment recursion")
    print(f"{'k':>7}  {'Monte Carlo':>12}  {pct + ' CI':>27}  {'exact':>12}  {'ESS':>8}")
    for k in _rows(len(res.steps)):
        flag = "" if res.reliable[k] else "  (heavy tail: interval unreliable)"
        print(f"{int(res.steps[k]):>7}  {res.mean_sq_error[k]:>12.6g}  [{res.ci_low[k]:>11.6g}, "
              f"{res.ci_high[k]:>11.6g}]  {exact_err2[k]:>12.6g}  {res.ess[k]:>8.3g}{flag}")
    fit = res.rate_fit
    if fit is None:
        print("fitted rate: not available (fewer than 3 usable steps)")
    if rate is not None:
        j = rate.to_json()
        print(f"asymptotic rate: rho = {j['rho']} ({j['digits']} digits, {j['route']}, {j['precision']}; "
              "spectral radius of the second-moment operator)")
    if fit is not None:
        for line in window_lines(window_comparison(fit, exact_err2, rate), res.groups):
            print(line)
    if res.stop_reason:
        print(f"stopped: {res.stop_reason}")
    speed = res.replica_steps / res.elapsed_s if res.elapsed_s > 0 else float("inf")
    print(f"time: {res.elapsed_s:.3g} s, {speed:.3g} replica-steps/s ({res.backend})")


def plot(res, exact_err2, path: str, title: str):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    pos = res.mean_sq_error[res.mean_sq_error > 0]
    floor = float(pos.min()) * 1e-3 if pos.size else 1e-300
    ax.fill_between(res.steps, np.maximum(res.ci_low, floor), res.ci_high, alpha=0.3,
                    label=f"{100 * res.confidence:g}% CI")
    ax.plot(res.steps, res.mean_sq_error, label=f"Monte Carlo ({res.runs} runs)")
    ax.plot(res.steps, exact_err2, "k--", label="exact recursion")
    ax.set_yscale("log")
    ax.set_xlabel("step k")
    ax.set_ylabel("E ||e_k||^2")
    ax.set_title(title, fontsize=9)
    ax.legend()
    try:
        fig.savefig(path, dpi=120, bbox_inches="tight")
    except OSError as exc:
        raise InputError("plot", f"cannot write {path!r}: {exc}") from None
    finally:
        plt.close(fig)


# --------------------------------------------------------------------------------------------------
# run
# --------------------------------------------------------------------------------------------------
def run(args) -> int:
    from ..numerics.montecarlo import exact_cost, exact_moments, simulate

    method = resolve_method(args)
    model = build_model(args)
    batch = model.check_batch(parse_batch(args.batch))
    lr = parse_positive(args.lr, "lr")
    momentum = parse_momentum(args.momentum)
    steps = parse_count(args.steps, "steps")
    runs = parse_count(args.runs, "runs", minimum=2)
    seed = parse_count(args.seed, "seed", minimum=0)
    confidence = parse_number(args.confidence, "confidence")
    if not 0 < confidence < 1:
        raise InputError("confidence", f"must lie in (0, 1), got {args.confidence}")
    if args.backend not in ("numpy", "cupy"):
        raise InputError("backend", f"unknown backend {args.backend!r} (choose from numpy, cupy)")
    x0 = None if args.x0 is None else parse_spec(args.x0, "x0")
    from . import limits
    limits.check_simulate(model.d, steps, runs)          # time and memory, before anything is allocated
    if args.plot:
        from .parsing import check_output_file
        check_output_file(args.plot, "plot")

    progress = DelayedProgress(enabled=not args.quiet and sys.stderr.isatty())
    try:
        res = simulate(method, model, batch, lr, momentum, steps, runs, seed=seed, backend=args.backend,
                       x0=x0, progress=progress, confidence=confidence)
    finally:
        progress.close()
    k_done = int(res.steps[-1])
    note = None
    if exact_cost(method, model, k_done) <= EXACT_MAX_FLOPS:
        exact_err2, exact_loss = exact_moments(method, model, batch, lr, momentum, k_done, x0)
    else:                                 # the dense recursion costs O((s d)^3) per step: reported as null
        exact_err2 = exact_loss = np.full(k_done + 1, np.nan)
        note = (f"exact recursion skipped: about {exact_cost(method, model, k_done):.1e} flops for the dense "
                f"operator at d = {model.d} (limit {EXACT_MAX_FLOPS:.0e}); use fewer steps or a smaller d")
    rate = exact_rate(method, model, batch, lr, momentum)
    header = (f"Monte Carlo: {method.name} on {model.name} (d = {model.d}), B = {batch}, lr = {lr:g}, "
              f"momentum = {momentum:g}; {runs} runs x {steps} steps, seed {seed}, {res.backend}")
    if args.json:
        out = to_json(res, exact_err2, exact_loss, rate)
        if note:
            out["exact_note"] = note
        print(json.dumps(out, allow_nan=False))
    else:
        print_text(res, exact_err2, rate, header)
        if note:
            print(note)
    if args.plot:
        plot(res, exact_err2, args.plot, header)
    return 0
