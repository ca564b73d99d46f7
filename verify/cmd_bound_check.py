"""``momentum-verify bound-check FILE.toml``: a claimed bound checked over a grid of spectrum classes."""
from __future__ import annotations

import json


def add_parser(p):
    p.add_argument("file", help="claim file (TOML): method, model, lr, momentum, bound, [grid]")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--figure", help="write a figure of claimed vs worst-case K over the grid (PNG/PDF)")


def _k(rho: float) -> float:
    import math
    return math.inf if rho >= 1 else (-1 / math.log(rho) if rho > 0 else 0.0)


def write_figure(res, path: str):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    pts = res.points
    x = range(len(pts))
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.semilogy(x, [_k(p["upper"]) for p in pts], "v", label="worst-case K (certified upper)")
    ax.semilogy(x, [_k(p["lower"]) for p in pts], "^", label="worst-case K (certified lower)")
    ax.semilogy(x, [_k(p["claimed_rho"]) for p in pts], "k_", markersize=14, label="claimed (as K)")
    ax.set_xlabel("grid point")
    ax.set_ylabel("K = -1/ln(rho)")
    ax.set_title(f"{res.claim.method}: {res.claim.text.get('bound')}", fontsize=9)
    ax.legend(fontsize=8)
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def run(args) -> int:
    from .bound_check import NOT_A_PROOF, bound_check
    res = bound_check(args.file)
    if args.figure:
        write_figure(res, args.figure)
    if args.json:
        print(json.dumps(res.to_json()))
        return 0
    print(f"claim: {res.claim.text.get('bound')} for {res.claim.method} ({res.claim.model}), "
          f"lr = {res.claim.text.get('lr')}, momentum = {res.claim.text.get('momentum', '0')}")
    print(f"{'params':<48} {'certified lower':>18} {'certified upper':>18} {'claimed':>14}  verdict")
    for p in res.points:
        par = ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in p["params"].items())
        print(f"{par:<48} {p['lower']:>18.12g} {p['upper']:>18.12g} {p['claimed']:>14.8g}  {p['verdict']}")
    print(f"verdict: {res.verdict} (lower/upper: arb-certified ends of the worst case over the class, "
          "rounded to 12 digits here; --json for the full values)")
    c = res.counterexample
    if c is not None:
        print(f"counterexample: spectrum {c['spectrum']}, lr {c['lr']!r}, momentum {c['momentum']!r}, "
              f"batch {c['batch']}: rho in [{c['interval'][0]!r}, {c['interval'][1]!r}] (arb) > claimed {c['claimed']!r}")
    print(f"note: {NOT_A_PROOF}")
    return 0
