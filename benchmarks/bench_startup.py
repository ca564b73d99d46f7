"""Start-up time of the command line, beyond the interpreter's own (issue 16 item 2, issue 13 item 6).

    python benchmarks/bench_startup.py [--repeat 7] [--before REV]

Times, as the median of ``--repeat`` fresh processes (wall and child CPU), ``python -c pass`` (the
baseline, measured in the same run), ``momentum-verify --help`` and ``momentum-verify rate`` on small
problems (the brief's heavy-ball d = 3 point and the README's first rate example, d = 100), and prints
each minus the baseline; ``import numpy, mpmath`` is the floor every numeric command pays (the
arrays and the digit formatting). With ``--before REV`` the same commands also run on the package as it was at
git revision REV (exported with ``git archive`` to a temporary folder, put first on PYTHONPATH), in
the same run, so before / after are measured under the same load. Targets: --help < 0.3 s, rate
< 0.5 s beyond the interpreter. The load average is printed: on a loaded machine the absolute numbers
are inflated, the differences and ratios less so.
"""
from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLI = [sys.executable, "-m", "momentum_verify.verify"]
CASES = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "import numpy, mpmath (floor)": [sys.executable, "-c", "import numpy, mpmath"],
    "--help": CLI + ["--help"],
    "rate heavy-ball d=3 (brief)": CLI + ["rate", "--method", "heavy-ball", "--model", "gaussian", "--spectrum",
                                          "1,2,4", "--batch", "2", "--lr", "0.1", "--momentum", "0.5"],
    "rate README example d=100": CLI + ["rate", "--method", "heavy-ball", "--spectrum", "geomspace:0.01:1:100",
                                        "--batch", "16", "--lr", "0.29503", "--momentum", "0.745171"],
}


def run_once(cmd, env=None):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True, env=env)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def export_revision(rev: str, folder: str) -> str:
    """The package ``momentum_verify`` of git revision ``rev`` laid out under ``folder`` (the pyproject
    package-dir mapping: src/momentum_verify with theory/, numerics/, verify/ inside); returns the
    folder to put on PYTHONPATH."""
    tree = os.path.join(folder, "tree")
    os.makedirs(tree)
    archive = subprocess.run(["git", "-C", ROOT, "archive", rev], capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", tree], input=archive, check=True)
    pkg = os.path.join(folder, "path", "momentum_verify")
    shutil.copytree(os.path.join(tree, "src", "momentum_verify"), pkg)
    for sub in ("theory", "numerics", "verify"):
        shutil.copytree(os.path.join(tree, sub), os.path.join(pkg, sub))
    return os.path.join(folder, "path")


def measure(cases, repeat, env=None):
    for cmd in cases.values():                    # warm the file cache (and any disk kernel cache)
        run_once(cmd, env)
    out = {}
    for name, cmd in cases.items():
        runs = [run_once(cmd, env) for _ in range(repeat)]
        out[name] = (statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs))
    return out


def report(title, res, base):
    bw, bc = base
    print(title)
    for name, (w, c) in res.items():
        print(f"  {name:<30s} wall {w:6.3f} s  CPU {c:6.3f} s   beyond python: wall {w - bw:6.3f} s, "
              f"CPU {c - bc:6.3f} s")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--before", help="also time the package at this git revision (same run)")
    args = ap.parse_args()
    print(f"load average before: {os.getloadavg()} on {os.cpu_count()} cores")
    now = measure(CASES, args.repeat)
    base = now.pop("python -c pass")
    print(f"python -c pass: wall {base[0]:.3f} s, CPU {base[1]:.3f} s (the baseline, median of {args.repeat})")
    report("now:", now, base)
    if args.before:
        with tempfile.TemporaryDirectory() as tmp:
            env = dict(os.environ, PYTHONPATH=export_revision(args.before, tmp))
            env["MOMENTUM_VERIFY_CACHE"] = os.path.join(tmp, "cache")   # its own disk kernel cache (warmed)
            then = measure({k: v for k, v in CASES.items() if k.startswith(("--", "rate"))}, args.repeat, env)
        report(f"at {args.before}:", then, base)
        print("CPU beyond python, before / now:")
        for name in then:
            b, a = then[name][1] - base[1], now[name][1] - base[1]
            print(f"  {name:<30s} {b:6.3f} s / {a:6.3f} s = {b / a if a > 0 else float('inf'):5.1f}x")
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
