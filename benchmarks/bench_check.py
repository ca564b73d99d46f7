"""Time ``momentum-verify check``: the quick subset, the full run, or claims one by one, in one run.

Each timing is a fresh ``momentum-verify check`` process (report written under a temporary folder, never
over paper_checks.md): wall time and the CPU time of the process and its children (getrusage). The load
of the machine (``os.getloadavg``) is printed beside each row: on a shared machine the wall times are
noisy, the CPU times less so. ``--baseline-workers 1`` repeats each selection with one worker in the same
run, for the parallel speed-up as a ratio.

    python benchmarks/bench_check.py --quick                       # check --quick, every core
    python benchmarks/bench_check.py --quick --full                # both
    python benchmarks/bench_check.py --per-claim 'gd2026.*,worst_case.minimax-curve'
    python benchmarks/bench_check.py --quick --baseline-workers 1  # speed-up over one worker
    python benchmarks/bench_check.py --estimates-vs e0274b0        # minimax's inner loop vs a revision
"""
from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time


def _cli() -> list[str]:
    exe = shutil.which("momentum-verify")
    return [exe] if exe else [sys.executable, "-m", "momentum_verify.verify.cli"]


def time_check(args: list[str], workdir: str) -> dict:
    """One ``check`` process: wall seconds, CPU seconds (user + sys of the process and its children),
    exit status, the verdict counts from its --json output, and the load average when it ended."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    p = subprocess.run(_cli() + ["check", *args, "--json"], cwd=workdir, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    counts: dict[str, int] = {}
    seconds: dict[str, float] = {}
    try:
        import json
        for c in json.loads(p.stdout)["claims"]:
            counts[c["verdict"]] = counts.get(c["verdict"], 0) + 1
            seconds[c["id"]] = c["seconds"]
    except (ValueError, KeyError):
        counts = {"(no json)": 1}
    import re
    shared = [float(x) for x in re.findall(r"shared work, stage \d+: (?:\d+)/(?:\d+) tasks \(([\d.]+) s\)", p.stderr)]
    return {"wall": wall, "cpu": cpu, "rc": p.returncode, "verdicts": counts, "load": os.getloadavg()[0],
            "seconds": seconds, "shared": max(shared) if shared else 0.0, "stderr": p.stderr[-2000:]}


def _claim_ids(pattern: str) -> list[str]:
    from momentum_verify.verify.claims import load_claims
    from momentum_verify.verify.runner import select
    return [c.id for c in select(load_claims()[0], only=pattern)]


def estimates_vs(rev: str) -> int:
    """numerics.worst_case.estimate (the inner loop of the minimax-curve claim) now against the module at git
    revision ``rev``, loaded beside it in this process: CPU seconds of both over the same points (4 classes x
    3 methods x 4 batches x 15 (eta, beta) x 2 resolutions) and whether every output is identical."""
    import importlib.util
    import math
    import pathlib

    import numpy as np
    root = pathlib.Path(__file__).resolve().parent.parent
    src = subprocess.run(["git", "show", f"{rev}:numerics/worst_case.py"], cwd=root, capture_output=True, text=True,
                         check=True).stdout
    tmp = pathlib.Path(tempfile.mkdtemp()) / "worst_case_before.py"
    tmp.write_text(src)
    spec = importlib.util.spec_from_file_location("momentum_verify.numerics._worst_case_before", tmp)
    old = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = old
    spec.loader.exec_module(old)
    import momentum_verify.numerics.worst_case as new
    classes = [("gaussian", 1.0, 100.0, 50, 1000.0), ("gaussian", 1.0, 100.0, 50, None),
               ("gaussian", 1.0, 10.0, 5, None), ("coordinate", 1.0, 10.0, 6, None)]
    cpu, same, n = {"before": 0.0, "now": 0.0}, True, 0
    for c in classes:
        for meth in ("heavy-ball", "nesterov", "sgd"):
            for B in (1, 16, 256, math.inf):
                pts = [(math.exp(x), (1 - math.exp(y)) if meth != "sgd" else 0.0)
                       for x in np.log(np.geomspace(1e-3 / c[2], 4, 5)) for y in np.log([1.0, 0.1, 0.01])]
                out = {}
                for name, mod in (("before", old), ("now", new)):
                    cls = mod.SpectrumClass(*c[:4], *( [c[4]] if c[4] else []))
                    mod.estimate(meth, cls, B, *pts[0], mod.COARSE)          # kernels built outside the timing
                    t0 = time.process_time()
                    rows = []
                    for e, b in pts:
                        for res in (mod.COARSE, mod.FINE):
                            try:
                                x = mod.estimate(meth, cls, B, e, b, res)
                                rows.append((x.lower, x.upper, x.values, x.mults, x.nu, x.attained_by))
                            except Exception as exc:             # the same error both times counts as the same
                                rows.append(repr(exc))
                    cpu[name] += time.process_time() - t0
                    out[name] = rows
                n += len(out["now"])
                same &= out["before"] == out["now"]
    print(f"worst_case.estimate, {n} calls: CPU {cpu['before']:.2f} s at {rev}, {cpu['now']:.2f} s now "
          f"(ratio {cpu['before'] / cpu['now']:.2f}); outputs identical: {same}")
    return 0 if same else 1


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="time check --quick")
    ap.add_argument("--full", action="store_true", help="time the full check (all claims)")
    ap.add_argument("--per-claim", metavar="PATTERN", help="time each matching claim in its own process")
    ap.add_argument("--workers", type=int, default=None, help="check --workers (default: every core)")
    ap.add_argument("--baseline-workers", type=int, default=None,
                    help="also run each selection with this many workers; print the ratio")
    ap.add_argument("--estimates-vs", metavar="REV", help="time worst_case.estimate now against git revision REV")
    ap.add_argument("--top", type=int, default=8, help="claims listed by their own seconds (after the shared work)")
    a = ap.parse_args(argv)
    if a.estimates_vs:
        return estimates_vs(a.estimates_vs)
    if not (a.quick or a.full or a.per_claim):
        a.quick = True
    jobs: list[tuple[str, list[str]]] = []
    if a.quick:
        jobs.append(("check --quick", ["--quick"]))
    if a.full:
        jobs.append(("check (full)", []))
    if a.per_claim:
        jobs += [(cid, ["--only", cid]) for cid in _claim_ids(a.per_claim)]
    w = [] if a.workers is None else ["--workers", str(a.workers)]
    print(f"cores {len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else os.cpu_count()}, "
          f"load average at start {os.getloadavg()[0]:.2f} (1 min)")
    print(f"{'selection':48s} {'wall s':>8s} {'cpu s':>8s} {'load':>5s}  verdicts" +
          (f"  {'base wall s':>11s} {'ratio':>6s}" if a.baseline_workers else ""))
    bad = 0
    with tempfile.TemporaryDirectory() as tmp:
        for label, args in jobs:
            r = time_check(args + w + ["--report", os.path.join(tmp, "r.md")], tmp)
            row = (f"{label:48s} {r['wall']:8.1f} {r['cpu']:8.1f} {r['load']:5.2f}  "
                   + ", ".join(f"{k} {v}" for k, v in sorted(r["verdicts"].items())))
            if a.baseline_workers:
                b = time_check(args + ["--workers", str(a.baseline_workers), "--report", os.path.join(tmp, "b.md")], tmp)
                row += f"  {b['wall']:11.1f} {b['wall'] / r['wall']:6.2f}"
                if b["verdicts"] != r["verdicts"]:
                    row += "  VERDICTS DIFFER"
                    bad = 1
            print(row, flush=True)
            if len(r["seconds"]) > 1:
                top = sorted(r["seconds"].items(), key=lambda kv: -kv[1])[:a.top]
                print(f"    shared work (tuned curves, searches) {r['shared']:.1f} s wall; then the claims, longest: " +
                      ", ".join(f"{k} {v:.1f} s" for k, v in top), flush=True)
            if r["rc"] not in (0, 1):
                print(r["stderr"])
                bad = 1
    return bad


if __name__ == "__main__":
    sys.exit(main())
