"""Start-up time of the command line, beyond the interpreter's own (issue 16 item 2, issue 13 item 6).

    python benchmarks/bench_startup.py [--repeat 5]

Times, as the median of ``--repeat`` fresh processes (wall and child CPU), ``python -c pass`` (the
baseline), ``momentum-verify --help`` and ``momentum-verify rate`` on a small gaussian problem, and
prints each minus the baseline. Targets: --help < 0.3 s, rate < 0.5 s beyond the interpreter. Run it
on a quiet machine (the load average is printed).
"""
from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time

CASES = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "momentum-verify --help": [sys.executable, "-m", "momentum_verify.verify", "--help"],
    "momentum-verify rate (gaussian, d = 3)": [sys.executable, "-m", "momentum_verify.verify", "rate",
                                               "--method", "heavy-ball", "--spectrum", "1,2,3", "--batch", "4",
                                               "--lr", "0.1", "--momentum", "0.5"],
}


def run_once(cmd):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    print(f"load average before: {os.getloadavg()}")
    for cmd in CASES.values():                     # warm the file cache and the kernel cache
        run_once(cmd)
    res = {}
    for name, cmd in CASES.items():
        runs = [run_once(cmd) for _ in range(args.repeat)]
        res[name] = (statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs))
    base_w, base_c = res["python -c pass"]
    for name, (w, c) in res.items():
        print(f"{name:<42s} wall {w:6.3f} s  CPU {c:6.3f} s   beyond python: wall {w - base_w:6.3f} s, "
              f"CPU {c - base_c:6.3f} s")
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
