"""``momentum-verify tune``: optimal step size and momentum per batch size, iterations-versus-batch curves.

For each method and batch size B: the (eta, beta) minimising rho (numerics.tuning.tune), K = -1/ln rho,
B K (work per e-fold), the acceleration K_sgd / K_method, the fitted log-log slope of the acceleration
and the saturation batch of each method (where B K has doubled from its value at the smallest B).
"""
from __future__ import annotations

import json
import math

from ..theory.errors import InputError
from ..theory.methods import METHODS, get_method
from ..theory.sampling import MODELS
from .cmd_rate import build_model
from .method_options import add_param_option, resolve_methods
from .parsing import parse_batch, parse_list

DEFAULT_METHODS = "sgd,heavy-ball,nesterov"


def add_parser(p):
    p.add_argument("--method", default=DEFAULT_METHODS,
                   help=f"a method or a comma list of: {', '.join(METHODS)} (default {DEFAULT_METHODS}); "
                        "sgd is always tuned, as the baseline of the acceleration")
    p.add_argument("--model", default="gaussian", help=f"one of: {', '.join(MODELS)} (default gaussian)")
    p.add_argument("--spectrum", help="eigenvalues of H: 1,2,3 | linspace:LO:HI:D | geomspace:LO:HI:D | @FILE "
                                      "(gaussian; coordinate with diagonal H)")
    p.add_argument("--matrix", help="FILE.npy or text: the data matrix A (finite, kaczmarz) or H (coordinate)")
    p.add_argument("--without-replacement", action="store_true",
                   help="draw a uniform B-subset of the n components (finite, kaczmarz, coordinate)")
    add_param_option(p, conventions=False)
    p.add_argument("--batch", required=True, help="comma list of batch sizes B >= 1 or inf, e.g. 1,4,16,64,inf")
    p.add_argument("--seed", default="0", help="seed of the grid jitter (default 0)")
    p.add_argument("--workers", default="1", help="processes for the independent (method, B) points (default 1)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--plot", metavar="FILE.png", help="write K and B K versus B (log-log) to FILE.png")


def _int_option(text, param, lo):
    try:
        v = int(str(text).strip())
    except ValueError:
        raise InputError(param, f"must be an integer, got {text!r}") from None
    if v < lo:
        raise InputError(param, f"must be >= {lo}, got {v}")
    return v


def parse_methods(text: str) -> list[str]:
    """Comma list of method names (validated, duplicates dropped)."""
    names = parse_list(text, lambda t, p: get_method(t).name, "method")
    return list(dict.fromkeys(names))


def _fmt(x, digits: int = 6) -> str:
    if x is None:
        return "none"
    if isinstance(x, float) and (math.isinf(x) or math.isnan(x)):
        return str(x)
    return f"{x:.{digits}g}"


def table_lines(curve) -> list[str]:
    """The human-readable table: one block per method."""
    from ..numerics.rates import format_digits
    out = []
    for m, rows in curve.results.items():
        out.append(f"{m}:")
        out.append(f"  {'batch':>7} {'lr':>11} {'momentum':>11} {'rho (digits)':>24} {'K':>11} {'B*K':>11} "
                   f"{'accel':>8}")
        for i, r in enumerate(rows):
            rho = f"{format_digits(r.rho, max(r.rho_digits, 1))} ({r.rho_digits})"
            K = format_digits(r.K, max(min(r.K_digits, 6), 1)) if r.rho < 1 else "no decay"
            BK = _fmt(r.batch * r.K, 6) if r.rho < 1 and math.isfinite(r.batch) else "-"
            acc = _fmt(curve.acceleration[m][i], 4)
            b = "inf" if r.batch == math.inf else str(r.batch)
            out.append(f"  {b:>7} {r.lr:>11.5g} {r.momentum:>11.6g} {rho:>24} {K:>11} {BK:>11} {acc:>8}")
            for note in r.notes:
                out.append(f"          note: {note}")
    return out


def summary_lines(curve) -> list[str]:
    out = [f"model: {curve.model['name']}, d = {curve.model['d']}, mu = {_fmt(curve.model['mu'])}, "
           f"L = {_fmt(curve.model['L'])}, kappa = {_fmt(curve.model['kappa'])}"]
    for m in curve.results:
        if m == "sgd":
            continue
        used = ",".join("inf" if b == math.inf else str(b) for b in curve.slope_batches[m]) or "none"
        out.append(f"acceleration slope {m}: {_fmt(curve.acceleration_slope[m], 4)} "
                   f"(least squares of ln(K_sgd/K) on ln B over B = {used})")
    for m in curve.results:
        out.append(f"saturation batch {m}: {_fmt(curve.saturation_batch[m], 4)} (B K doubled from the smallest "
                   f"B; from its running minimum: {_fmt(curve.saturation_from_min[m], 4)}; log-log "
                   "interpolation between listed batches)")
    worst = max((max(r.lr_tol, r.momentum_tol) for rows in curve.results.values() for r in rows), default=0.0)
    out.append(f"tuned points located to relative {worst:.1g} in lr and 1 - momentum or better; "
               "rho and K carry the digits shown")
    return out


def tune_json(curve) -> dict:
    """``tune --json`` in the JSON convention of verify.json_convention.

    rho and K are decimal strings to their stated digits (``rho_digits``, ``K_digits``); the acceleration
    K_sgd / K at one batch to one digit less than the fewer of its two K's (``acceleration_digits``); lr and
    momentum are the doubles at which rho was evaluated (``lr_tol``, ``momentum_tol``: relative distance to
    the optimum); the acceleration slope (a least-squares fit) and the saturation batches (log-log
    interpolation between listed batches) claim no digits and stay JSON numbers, named in ``methods``.
    """
    from .json_convention import with_digits
    out = curve.to_json()
    rows = iter(out["results"])
    for i in range(len(curve.batches)):
        for m in curve.results:
            j, r = next(rows), curve.results[m][i]
            j.update(with_digits("rho", r.rho, r.rho_digits))
            j.update(with_digits("K", r.K, r.K_digits) if r.rho < 1 else {"K": None, "K_digits": None})
    acc, acc_d = {}, {}
    sgd = curve.results.get("sgd")
    for m, vals in curve.acceleration.items():
        acc[m], acc_d[m] = [], []
        for i, a in enumerate(vals):
            r = curve.results[m][i]
            d = None
            if sgd is not None and a is not None and math.isfinite(a) and r.rho < 1 and sgd[i].rho < 1:
                d = max(0, min(r.K_digits, sgd[i].K_digits) - 1)
            e = with_digits("a", a, d)
            acc[m].append(e["a"])
            acc_d[m].append(e["a_digits"])
    out["acceleration"], out["acceleration_digits"] = acc, acc_d
    out["methods"] = {"acceleration_slope": "least squares of ln(K_sgd/K) on ln B over slope_batches (no digits "
                                            "claimed)",
                      "saturation_batch": "B where B K has doubled from the smallest B, log-log interpolation "
                                          "between listed batches (no digits claimed)",
                      "saturation_from_min": "the same from the running minimum of B K",
                      "lr, momentum": "the doubles at which rho was evaluated; lr_tol, momentum_tol: relative "
                                      "distance to the optimum (in lr and 1 - momentum)"}
    return out


PLOT_STYLES = [("o", "-"), ("s", "--"), ("^", "-."), ("D", ":"), ("v", "-"), ("x", "--")]


def coincidence_labels(curves: dict, rel: float = 1e-6) -> dict:
    """Legend labels; a method whose tuned K equals an earlier method's at every plotted batch (relative
    ``rel``; sgdm and heavy ball are one family of processes, so their tuned curves coincide) says so."""
    out = {}
    for m, pts in curves.items():
        same = [o for o in out if curves[o] and len(curves[o]) == len(pts) and all(
            b1 == b2 and abs(k1 - k2) <= rel * abs(k2) for (b1, k1), (b2, k2) in zip(pts, curves[o]))]
        out[m] = f"{m} (coincides with {same[0]})" if same and pts else m
    return out


def plot(curve, path: str):
    """K and B K against B (finite batches), log-log; saturation batches marked; K at B = inf dashed."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4.2))
    curves = {m: [(r.batch, r.K) for r in rows if math.isfinite(r.batch) and r.rho < 1]
              for m, rows in curve.results.items()}
    labels = coincidence_labels(curves)
    for i, (m, rows) in enumerate(curve.results.items()):
        pts = curves[m]
        if pts:
            B, K = np.array(pts).T
            marker, ls = PLOT_STYLES[i % len(PLOT_STYLES)]
            ms = 9 - 2 * (i % 3)                      # later methods smaller, so coinciding ones stay visible
            style = dict(marker=marker, ls=ls, ms=ms, mfc="none" if i % 2 == 0 else None, label=labels[m])
            line, = a1.loglog(B, K, **style)
            a2.loglog(B, B * K, color=line.get_color(), **style)
            sat = curve.saturation_batch[m]
            if sat is not None:
                for ax, y in ((a1, np.interp(np.log(sat), np.log(B), np.log(K))),
                              (a2, np.interp(np.log(sat), np.log(B), np.log(B * K)))):
                    ax.plot([sat], [np.exp(y)], "*", ms=14, color=line.get_color(), mec="k")
                    ax.axvline(sat, ls=":", color=line.get_color(), lw=1)
            inf_rows = [r for r in rows if r.batch == math.inf and r.rho < 1]
            if inf_rows:
                a1.axhline(inf_rows[0].K, ls="--", color=line.get_color(), lw=1)
    a1.set(xlabel="batch size B", ylabel="K = -1/ln rho (iterations per e-fold)", title="tuned iterations")
    a2.set(xlabel="batch size B", ylabel="B K (samples per e-fold)", title="tuned work (star: saturation)")
    for ax in (a1, a2):
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    info = curve.model
    fig.suptitle(f"{info['name']}, d = {info['d']}, kappa = {info['kappa']:.3g}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def run(args) -> int:
    from ..numerics.tuning import tune_curve
    methods = resolve_methods(args, args.method)
    batches = parse_list(args.batch, parse_batch, "batch")
    seed = _int_option(args.seed, "seed", 0)
    workers = _int_option(args.workers, "workers", 1)
    from . import limits
    workers, note = limits.cap_workers(workers, "workers")   # more processes than CPUs: memory, no speed
    if note:
        import sys
        sys.stderr.write(f"note: {note}\n")
    model = build_model(args)
    for b in batches:
        model.check_batch(b)
    if args.plot is not None and not str(args.plot).lower().endswith(".png"):
        raise InputError("plot", f"must name a .png file, got {args.plot!r}")
    if args.plot is not None:
        from .parsing import check_output_file
        check_output_file(args.plot, "plot")             # before the tuning runs
    curve = tune_curve(methods, model, batches, seed=seed, workers=workers)
    if args.plot is not None:
        try:
            plot(curve, args.plot)
        except OSError as exc:
            raise InputError("plot", f"cannot write {args.plot!r}: {exc.strerror or exc}") from None
    if args.json:
        print(json.dumps(tune_json(curve)))
        return 0
    for line in table_lines(curve) + summary_lines(curve):
        print(line)
    if args.plot is not None:
        print(f"plot written to {args.plot}")
    return 0
