"""``momentum-verify weak-approx``: SGDM(eta, beta) against SGD(eta) at small learning rates under additive
noise sigma^2 = C / eta (Wang et al. 2024, Theorem 3.5; MATH.md §8), from the exact affine moment
recursions: max_{k <= T/eta} |E f(x_k^SGDM) - E f(x_k^SGD)| per learning rate, and the fitted order."""
from __future__ import annotations

import json
import math

from ..numerics.weak_approx import bound_check, fitted_order, local_orders, sweep
from ..theory.additive import NOISE_COVARIANCES
from ..theory.errors import InputError
from ..theory.sampling import Gaussian
from .parsing import load_array, parse_list, parse_momentum, parse_number, parse_positive, parse_spec


def add_parser(p):
    p.add_argument("--spectrum", required=True, metavar="SPEC",
                   help="eigenvalues of H: comma-separated, linspace:LO:HI:D, geomspace:LO:HI:D or @FILE")
    p.add_argument("--momentum", metavar="BETA", help="momentum beta in [0, 1), the same for every lr")
    p.add_argument("--momentum-scaling", metavar="ALPHA,C", help="1 - beta = C eta^ALPHA per lr (instead of --momentum)")
    p.add_argument("--lr", required=True, metavar="ETA1,ETA2,...", help="learning rates (> 0), comma-separated")
    p.add_argument("--horizon", required=True, metavar="T", help="time horizon T > 0: steps k <= T / eta")
    p.add_argument("--noise-scale", default="1", metavar="C", help="sigma^2 = C / eta (default 1; >= 0)")
    p.add_argument("--noise-cov", default="identity", help="Cov v = Sigma: identity (default) or hessian")
    p.add_argument("--x0", metavar="@FILE", help="initial error x_0 - x* (default all-ones / sqrt(d)); zero momentum")
    p.add_argument("--json", action="store_true", help="print one JSON object")


def _parse_scaling(text: str) -> tuple[float, float]:
    parts = parse_list(text, parse_number, "momentum-scaling")
    if len(parts) != 2:
        raise InputError("momentum-scaling", f"expected ALPHA,C (two numbers), got {text!r}")
    return float(parts[0]), float(parts[1])


def _parse_x0(text: str | None, d: int):
    if text is None:
        return None
    t = text.strip()
    arr = load_array(t[1:], "x0", ndim=1) if t.startswith("@") else parse_list(t, parse_number, "x0")
    if len(arr) != d:
        raise InputError("x0", f"needs {d} entries (one per eigenvalue), got {len(arr)}")
    return arr


def compute(args) -> dict:
    """Parse the options, run the sweep and return the JSON object (also used for the text output)."""
    from .model_spec import from_spec
    model = from_spec("gaussian", spectrum=args.spectrum)
    if (args.momentum is None) == (args.momentum_scaling is None):
        raise InputError("momentum", "give exactly one of --momentum BETA or --momentum-scaling ALPHA,C")
    momentum = None if args.momentum is None else parse_momentum(args.momentum)
    scaling = None if args.momentum_scaling is None else _parse_scaling(args.momentum_scaling)
    lrs = parse_list(args.lr, parse_positive, "lr")
    horizon = parse_positive(args.horizon, "horizon")
    from . import limits
    if len(set(lrs)) != len(lrs):          # the fitted order divides by log(eta_1 / eta_2)
        raise InputError("lr", f"duplicate learning rates in {args.lr!r} (give distinct values)")
    for lr in lrs:
        limits.check_step(lr, model, "lr")
    total = sum(horizon / lr for lr in lrs)
    limits.check("steps", total, f"T / eta summed over the learning rates = {total:.3g} steps", "horizon")
    limits.check_recursion(model.d, int(total), "horizon")
    noise_scale = parse_number(args.noise_scale, "noise-scale")
    if not noise_scale >= 0:
        raise InputError("noise-scale", f"must be >= 0, got {args.noise_scale}")
    if args.noise_cov not in NOISE_COVARIANCES:
        raise InputError("noise-cov", f"unknown covariance {args.noise_cov!r} (choose from {', '.join(NOISE_COVARIANCES)})")
    x0 = _parse_x0(args.x0, model.d)
    points = sweep(model, lrs, horizon, momentum, scaling, noise_scale, args.noise_cov, x0)
    order = fitted_order(points)
    digits = [p.digits for p in points]
    known = [d for d in digits if d is not None]
    order_err = None
    if order is not None and known:
        two = sorted(points, key=lambda p: p.lr)[:2]
        dmin = min(p.digits for p in two) if all(p.digits is not None for p in two) else None
        if dmin is not None:
            order_err = 2 * 10.0 ** (-dmin) / abs(math.log(two[1].lr / two[0].lr))
    bc = bound_check(points)
    return {
        "results": [p.to_json() for p in points],
        "order": order,
        "order_abs_error": order_err,
        "local_orders": local_orders(points),
        "bound": {"form": "max_error <= C sqrt(eta / (1 - beta))", "C_fitted_at_largest_lr": bc.constant,
                  "ratios": bc.ratios, "holds_over_sequence": bc.holds},
        "noise": {"sigma2": "noise_scale / lr", "noise_scale": noise_scale, "cov": args.noise_cov},
        "horizon": horizon,
        "precision": "max_error: the affine recursions in float64 (per-eigenvalue route), 'digits' = the "
                     "significant digits on which a second float64 route (dense (2d)^2 recursion) agrees, less one; "
                     "order_abs_error: the resulting bound on the slope's rounding error",
    }


def weak_json(out: dict) -> dict:
    """``weak-approx --json`` in the JSON convention of verify.json_convention: max_error, order, local orders
    and the bound's ratios as decimal strings beside their digits (``digits`` kept for compatibility)."""
    from .json_convention import digits_from_error, with_digits
    out = {**out, "results": [dict(r) for r in out["results"]], "bound": dict(out["bound"])}
    for r in out["results"]:
        r.update(with_digits("max_error", r["max_error"], r["digits"]))
        r["max_error_digits"] = r["digits"]
    desc = sorted(out["results"], key=lambda r: -r["lr"])
    err = out["order_abs_error"]
    if out["order"] is not None:
        d = None if err is None else digits_from_error(out["order"], err)
        out.update(with_digits("order", out["order"], d))
    local, local_d = [], []
    for a, b, v in zip(desc, desc[1:], out["local_orders"]):
        d = None
        if a["digits"] is not None and b["digits"] is not None:
            e = 2 * 10.0 ** (-min(a["digits"], b["digits"])) / abs(math.log(a["lr"] / b["lr"]))
            d = digits_from_error(v, e)
        e = with_digits("v", v, d)
        local.append(e["v"])
        local_d.append(e["v_digits"])
    out["local_orders"], out["local_orders_digits"] = local, local_d
    b = out["bound"]
    rd = [None if r["digits"] is None else max(0, r["digits"] - 1) for r in desc]   # one division: one digit less
    b["ratios"] = [with_digits("v", v, d)["v"] for v, d in zip(b["ratios"], rd)]
    b["ratios_digits"] = rd
    b.update(with_digits("C_fitted_at_largest_lr", b["C_fitted_at_largest_lr"], rd[0] if rd else None))
    return out


def _fmt(x: float, digits) -> str:
    n = 6 if digits is None else max(1, min(6, digits))
    return f"{x:.{n}g}"


def run(args) -> int:
    out = compute(args)
    if args.json:
        print(json.dumps(weak_json(out)))
        return 0
    print(f"SGDM(eta, beta) vs SGD(eta), additive noise sigma^2 = {out['noise']['noise_scale']:g} / eta, "
          f"Sigma = {out['noise']['cov']}, horizon T = {out['horizon']:g}")
    print(f"{'lr':>10} {'beta':>10} {'steps':>8} {'max_k |E f_SGDM - E f_SGD|':>28} {'digits':>6} "
          f"{'at step':>8} {'/sqrt(eta/(1-beta))':>20}")
    ratios = {p["lr"]: q for p, q in zip(sorted(out["results"], key=lambda p: -p["lr"]), out["bound"]["ratios"])}
    for r in out["results"]:
        dg = "?" if r["digits"] is None else str(r["digits"])
        print(f"{r['lr']:>10.4g} {r['momentum']:>10.6g} {r['steps']:>8d} {_fmt(r['max_error'], r['digits']):>28} "
              f"{dg:>6} {r['argmax_step']:>8d} {_fmt(ratios[r['lr']], r['digits']):>20}")
    if out["order"] is None:
        print("order: null (needs two learning rates)")
    else:
        err = out["order_abs_error"]
        tail = f" ± {err:.1g} (rounding)" if err is not None else " (rounding not cross-checked)"
        print(f"order (slope of log error on log lr, two smallest lr): {out['order']:.6f}{tail}")
        print("local orders (descending lr): " + ", ".join(f"{x:.4f}" for x in out["local_orders"]))
    b = out["bound"]
    print(f"bound max_error <= C sqrt(eta/(1-beta)), C = {b['C_fitted_at_largest_lr']:.6g} fitted at the largest lr: "
          f"{'holds' if b['holds_over_sequence'] else 'FAILS'} over the sequence")
    print(f"precision: {out['precision']}")
    return 0
