"""The tuner (numerics.tuning) against an independent grid + Nelder-Mead reference, and on the paper panel.

    python benchmarks/bench_tuner.py                 # everything (several minutes on a loaded machine)
    python benchmarks/bench_tuner.py --skip-reference
    python benchmarks/bench_tuner.py --skip-36 --panel-batches 3

Part 1 (issue 16 item 1): 36 tuned points, B = 1, 2, 4, ..., 2048 x sgd, heavy-ball, nesterov, gaussian
spectrum geomspace(1e-3, 1, 200), in one process after a warm-up (kernels generated, the arb route of
``spectral_radius`` used once): ``tune_many`` per method (the 12 searches side by side, as ``tune_curve``
runs them), then ``tune`` point by point (the same searches one at a time). Target: < 2 s.

Part 2: the reference on the same points, run in the same process: the best of a 40 x 40 ``rho_grid``
grid over (ln eta in [ln 1e-5, ln 8], ln(1 - beta) in [ln 1e-4, 0]) (a 400-point line for sgd), then
scipy's Nelder-Mead on ``rho_grid`` from there (xatol 1e-8, fatol 1e-14, at most 4000 evaluations).
Both optima re-evaluated by ``spectral_radius``; the table prints (rho_tuner - rho_ref) / (1 - rho_ref)
(<= 0: the tuner is as good or better). Target: reference time / tuner time >= 50.

Part 3: ``tune_curve`` (cache off, one process) on every instance of the gd2026 panel
(verify/claims/instances.py PANEL) against ``tune`` point by point, on the first ``--panel-batches``
batches of each instance (all with 0), and the largest change of rho between the two as a fraction of
(1 - rho).

Times are wall and CPU of this process; the load average is printed (the machine is shared: compare the
ratios, measured in the same run).
"""
from __future__ import annotations

import argparse
import os
import sys

for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from momentum_verify.numerics.rates import spectral_radius  # noqa: E402
from momentum_verify.numerics.tuning import tune, tune_curve, tune_many  # noqa: E402
from momentum_verify.theory.sampling import Gaussian  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_tune import compare, reference, timed  # noqa: E402  (the grid + Nelder-Mead reference, one copy)

METHODS = ("sgd", "heavy-ball", "nesterov")


def part_36(args):
    d = args.d
    batches = [2 ** k for k in range(12)]
    model = Gaussian(np.geomspace(1e-3, 1.0, d))
    print(f"== 36 points: gaussian, spectrum geomspace(1e-3, 1, {d}), B = {batches}, {list(METHODS)}")
    for m in METHODS:                                   # warm-up: kernels, the arb route
        tune(m, model, 4)
        spectral_radius(m, model, 4, 0.01, 0.5 if m != "sgd" else 0.0, digits=20)
    points = [(m, b) for m in METHODS for b in batches]
    print(f"load average before: {os.getloadavg()}")
    # the searches of one method's 12 batch sizes side by side (tune_many: what tune_curve runs)
    res, wall, cpu = timed(lambda: {(m, b): r for m in METHODS for b, r in zip(batches, tune_many(m, model, batches))})
    ev = sum(r.evaluations for r in res.values())
    print(f"tuner (tune_many, lockstep): {len(points)} points, wall {wall:.2f} s, CPU {cpu:.2f} s, {ev} rho "
          f"evaluations ({ev / len(points):.0f} per point) (target < 2 s: {'met' if wall < 2 else 'MISSED'})")
    # the same searches one point at a time (tune: the previous round's tuner, step for step)
    one, wall1, cpu1 = timed(lambda: {p: tune(p[0], model, p[1]) for p in points})
    d1 = max(abs(one[p].rho - res[p].rho) / (1 - res[p].rho) for p in points)
    print(f"tuner (tune, one point at a time): wall {wall1:.2f} s, CPU {cpu1:.2f} s; lockstep speed-up "
          f"{wall1 / wall:.1f}x wall; largest |rho_one - rho_lockstep| / (1 - rho) = {d1:.1e}")
    if args.skip_reference:
        return
    for m in METHODS:
        reference(m, model, 4)
    ref, rwall, rcpu = timed(lambda: {p: reference(p[0], model, p[1]) for p in points})
    rev = sum(v[2] for v in ref.values())
    print(f"reference (grid + Nelder-Mead): wall {rwall:.2f} s, CPU {rcpu:.2f} s, {rev} rho evaluations")
    print(f"ratio reference / tuner: wall {rwall / wall:.1f}x, CPU {rcpu / cpu:.1f}x (target >= 50x)")
    compare(model, points, res, ref)
    print(f"load average after: {os.getloadavg()}")


def part_panel(args):
    from momentum_verify.verify.claims.instances import PANEL
    print("== gd2026 panel: tune_curve(sgd, heavy-ball, nesterov) (lockstep, cache off) vs tune() point by point")
    print(f"load average before: {os.getloadavg()}")
    print(f"{'instance':<30s} {'batches':>7s} {'curve':>16s} {'point by point':>16s} {'ratio':>6s} "
          f"{'max |drho|/(1-rho)':>18s}")
    tot_new = tot_old = 0.0
    for name, inst in PANEL.items():
        if args.instances and name not in args.instances:
            continue
        model = inst.model()
        bs = list(inst.batches) if args.panel_batches == 0 else \
            [inst.batches[i] for i in np.unique(np.linspace(0, len(inst.batches) - 1, args.panel_batches).round().astype(int))]
        tune("heavy-ball", model, bs[0])                # warm-up of this model's kernels
        cn, wn, pn = timed(lambda: tune_curve(list(METHODS), model, bs, cache=False))
        co, wo, po = timed(lambda: {m: [tune(m, model, b) for b in bs] for m in METHODS})
        dmax = max(abs(a.rho - b.rho) / (1 - b.rho) for m in METHODS for a, b in zip(cn.results[m], co[m])
                   if b.rho < 1)
        tot_new += pn
        tot_old += po
        print(f"{name:<30s} {len(bs):7d} {wn:7.2f}s/{pn:6.2f}c {wo:7.2f}s/{po:6.2f}c {po / pn:5.1f}x "
              f"{dmax:18.1e}", flush=True)
    print(f"total CPU: curve {tot_new:.1f} s, point by point {tot_old:.1f} s, ratio {tot_old / tot_new:.1f}x")
    print(f"load average after: {os.getloadavg()}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--d", type=int, default=200)
    ap.add_argument("--skip-reference", action="store_true")
    ap.add_argument("--skip-36", action="store_true")
    ap.add_argument("--skip-panel", action="store_true")
    ap.add_argument("--panel-batches", type=int, default=3, help="batches per panel instance (0: all)")
    ap.add_argument("--instances", nargs="*", default=None, help="panel instances (default: all)")
    args = ap.parse_args()
    if not args.skip_36:
        part_36(args)
    if not args.skip_panel:
        part_panel(args)


if __name__ == "__main__":
    main()
