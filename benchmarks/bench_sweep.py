"""Sweep engine against its baseline, in one run: the same tune sweep

    serial   : every point tuned in this process (``verify.sweep.run_serial``), no Dask
    1 worker : ``run_sweep`` on a LocalCluster of one worker process
    2 workers: ``run_sweep`` on a LocalCluster of two worker processes

printing the per-point cost, the sweep's per-point overhead (1 worker against serial; target <= 10%) and
the speedup of 2 workers over 1 (target >= 1.6 on a 2-core machine). Every process is warmed up first
(kernels lambdified, one tune) so that the timings compare steady states; the cluster start-up and
warm-up are printed apart. The tables of the three runs must be identical.

    python benchmarks/bench_sweep.py [--points-per-instance-scale N]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from momentum_verify.verify import sweep  # noqa: E402

SPEC = """
task = "tune"
model = "gaussian"
methods = ["sgd", "heavy-ball", "nesterov"]
batches = [1, 8, 64, "inf"]
spectra = [{spectra}]
"""


NOOP_SPEC = """
task = "rate"
model = "gaussian"
methods = ["sgd", "heavy-ball"]
batches = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
spectra = ["1,2"]
lrs = [0.1, 0.2, 0.3, 0.4, 0.5]
momenta = [0.1, 0.2, 0.3]
"""  # 200 points


def noop_point(p):
    """No work: a sweep of these measures the machinery alone (Dask round trip, CSV write + fsync)."""
    return {"rho": "0.5", "digits": 1, "K": "1", "route": "none", "precision": "none"}


def warm_up():
    """Lambdify the kernels and run one tune (the per-process start-up cost of the engine)."""
    from momentum_verify.numerics.tuning import tune
    from momentum_verify.theory.sampling import Gaussian
    for m in ("sgd", "heavy-ball", "nesterov"):
        tune(m, Gaussian([0.1, 1.0]), 4)
    return True


SUMMARY_S: list = []     # seconds of each sweep's final summary.json + curves.png (once per sweep)


def _timed_summary(fn):
    def wrapped(*args, **kwargs):
        t0 = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            SUMMARY_S.append(time.perf_counter() - t0)
    return wrapped


sweep.write_summary = _timed_summary(sweep.write_summary)


def timed_sweep(spec, text, workers: int, root: Path):
    """(wall of the points, start-up, worker CPU, machinery per point, rows, seconds of the final summary):
    the wall excludes the once-per-sweep summary.json + curves.png, printed apart."""
    from distributed import Client
    t0 = time.perf_counter()
    cluster = sweep.start_local_cluster(workers)
    client = Client(cluster)
    client.wait_for_workers(workers)
    client.run(warm_up)
    start = time.perf_counter() - t0
    try:
        out = root / f"w{workers}"
        cpu0 = sum(client.run(time.process_time).values())
        t0 = time.perf_counter()
        SUMMARY_S.clear()
        res = sweep.run_sweep(spec, text, out, client=client)
        summary = sum(SUMMARY_S)
        wall = time.perf_counter() - t0 - summary
        cpu = sum(client.run(time.process_time).values()) - cpu0
        (root / "noop.toml").write_text(NOOP_SPEC)
        nspec, ntext = sweep.load_spec(root / "noop.toml")
        t0 = time.perf_counter()
        nres = sweep.run_sweep(nspec, ntext, root / f"noop{workers}", client=client, point_fn=noop_point)
        machinery = (time.perf_counter() - t0) / nres.total
    finally:
        client.close()
        cluster.close()
    assert res.computed == res.total and res.failed == 0, res
    return wall, start, cpu, machinery, sweep.read_results(out / "results.csv"), summary


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--instances", type=int, default=2, help="gaussian spectra in the sweep (12 points each)")
    ap.add_argument("--d", type=int, default=200, help="dimension of each spectrum")
    args = ap.parse_args(argv)
    spectra = ", ".join(f'"geomspace:{10.0 ** -(2 + k % 2)}:1:{args.d + k}"' for k in range(args.instances))
    text = SPEC.format(spectra=spectra)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "spec.toml").write_text(text)
        spec, text = sweep.load_spec(root / "spec.toml")
        n = len(sweep.points(spec))
        print(f"tune sweep: {n} points (gaussian, d ~ {args.d}, 3 methods x 4 batches x {args.instances} spectra)")

        warm_up()
        load = os.getloadavg()[0]

        c0 = time.process_time()
        t0 = time.perf_counter()
        serial = sweep.run_serial(spec)
        t_serial = time.perf_counter() - t0
        c_serial = time.process_time() - c0
        print(f"serial in-process : {t_serial:8.2f} s  ({t_serial / n:.3f} s/point; CPU {c_serial:.2f} s)")

        t1, s1, c1, m1, rows1, f1 = timed_sweep(spec, text, 1, root)
        print(f"sweep, 1 worker   : {t1:8.2f} s  ({t1 / n:.3f} s/point; worker CPU {c1:.2f} s; "
              f"cluster start + warm-up {s1:.1f} s; final summary + figure {f1:.2f} s)")
        t2, s2, c2, m2, rows2, f2 = timed_sweep(spec, text, 2, root)
        print(f"sweep, 2 workers  : {t2:8.2f} s  ({t2 / n:.3f} s/point; worker CPU {c2:.2f} s = {c2 / t2:.2f} "
              f"cores busy on average; cluster start + warm-up {s2:.1f} s; final summary + figure {f2:.2f} s)")

        same = rows1 == rows2 == [{k: r[k] for k in sweep.COLUMNS} for r in serial]
        overhead = t1 / t_serial - 1
        print(f"tables identical (serial, 1 worker, 2 workers): {same}")
        print(f"per-point overhead of the sweep (1 worker vs serial): {100 * overhead:+.1f} % wall, "
              f"{100 * (c1 / c_serial - 1):+.1f} % CPU  (target <= 10 %)")
        print(f"speedup 2 workers / 1 worker: {t1 / t2:.2f}x wall  (target >= 1.6x); "
              f"machine load average before the runs: {load:.1f} on {os.cpu_count()} cores")
        per_point = c_serial / n    # CPU seconds: the wall time of an unloaded core
        print(f"machinery per point (200 no-op points): {1e3 * m1:.1f} ms wall on 1 worker, {1e3 * m2:.1f} ms on 2 "
              f"= {100 * m1 / per_point:.1f} % of a {per_point:.3f} CPU s tune point")
        print(f"per-point cost: {per_point:.3f} CPU s ({t_serial / n:.3f} s wall here); estimate for 10,000 such "
              f"points: {10_000 * per_point / 2 / 60:.1f} min on an idle 2-core machine, "
              f"{10_000 * per_point / 32 / 60:.1f} min on 32 workers (+ cluster start, ~5 s)")
        return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
