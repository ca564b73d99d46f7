"""Property-based fuzzing of the command line (issue 17): for generated numbers, SPECs, formulas and TOML
sweep specs, every run exits with status 0 or 2, prints no traceback, and stays within a time and memory
bound. Each input runs in a forked child (the package already imported) under RLIMIT_AS and an alarm,
with small work limits (MOMENTUM_VERIFY_LIMITS) so that accepted inputs stay fast; Dask (sweep) and
the tuner (tune) are replaced by stubs in the child: the fuzz aims at validation, not at the engines.

Profiles: the default one (CI) runs a few dozen inputs; ``FUZZ_EXAMPLES=N`` with the slow test runs N.
"""
from __future__ import annotations

import io
import json
import os
import resource
import signal
import sys
import tempfile
import time
import traceback
from contextlib import redirect_stderr, redirect_stdout

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import momentum_verify.verify.cli as cli

TIME_S = 30                     # per input (wall clock, in the child)
MEMORY = 1536 * 1024 ** 2       # address space the child may add
LIMITS = "memory=512M,work=1e8,steps=20000,spectrum_size=5000,grid_points=200,matrix_entries=100000"
RESULTS = {"runs": 0, "by_rc": {}}


def _vm_size() -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


def _child(argv, tmp):
    os.environ["MOMENTUM_VERIFY_LIMITS"] = LIMITS
    os.chdir(tmp)
    resource.setrlimit(resource.RLIMIT_AS, (_vm_size() + MEMORY, resource.RLIM_INFINITY))
    signal.alarm(TIME_S)
    from momentum_verify.verify import cmd_sweep, sweep

    def fake_run_sweep(spec, text, out, **kw):     # no Dask: the grid is built, nothing computed
        return sweep.SweepOutcome(total=len(sweep.points(spec)), out=str(out))
    cmd_sweep.run_sweep = fake_run_sweep
    import momentum_verify.numerics.tuning as tuning

    def fake_tune_curve(*a, **kw):
        raise SystemExit(0)
    tuning.tune_curve = fake_tune_curve
    out, err = io.StringIO(), io.StringIO()
    try:
        with redirect_stdout(out), redirect_stderr(err):
            rc = cli.main(argv)
    except SystemExit as exc:
        rc = exc.code if isinstance(exc.code, int) else 2
    except BaseException:
        rc, err = 99, io.StringIO(traceback.format_exc())
    return rc, err.getvalue()


_WARM = []


def _warm():
    """Run each command once in this process, so that forked children inherit its imports and caches."""
    if _WARM:
        return
    _WARM.append(True)
    for a in (["rate", "--method", "heavy-ball", "--spectrum", "1,2", "--batch", "1", "--lr", "0.1", "--momentum", "0.5"],
              ["simulate", "--method", "sgd", "--spectrum", "1,2", "--batch", "1", "--lr", "0.1", "--steps", "5",
               "--runs", "4", "--quiet"],
              ["formula", "--method", "sgd", "--what", "stochastic-rate", "--spectrum", "1^d"],
              ["weak-approx", "--spectrum", "1,2", "--lr", "0.1,0.05", "--momentum", "0.5", "--horizon", "1"],
              ["check", "--only", "nomatch"]):
        with redirect_stdout(io.StringIO()), redirect_stderr(io.StringIO()):
            cli.main(a)


def run_limited(argv: list[str]) -> tuple[int, str]:
    """(exit status, stderr) of ``momentum-verify ARGV`` in a forked child with time and memory bounds;
    status -SIG when the child was killed (e.g. -14: the alarm)."""
    _warm()
    tmp = tempfile.mkdtemp(prefix="fuzz-")
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:   # pragma: no cover - the child
        os.close(r)
        try:
            rc, err = _child(argv, tmp)
            payload = json.dumps({"rc": rc, "err": err[-4000:]})
        except BaseException:
            payload = json.dumps({"rc": 98, "err": traceback.format_exc()[-4000:]})
        os.write(w, payload.encode())
        os._exit(0)
    os.close(w)
    chunks = []
    while True:
        b = os.read(r, 1 << 16)
        if not b:
            break
        chunks.append(b)
    os.close(r)
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        return -os.WTERMSIG(status), ""
    data = json.loads(b"".join(chunks).decode() or '{"rc": 97, "err": "no result"}')
    return data["rc"], data["err"]


def check(argv):
    t0 = time.perf_counter()
    rc, err = run_limited(argv)
    RESULTS["seconds"] = RESULTS.get("seconds", 0.0) + time.perf_counter() - t0
    RESULTS["runs"] += 1
    RESULTS["by_rc"][rc] = RESULTS["by_rc"].get(rc, 0) + 1
    if os.environ.get("FUZZ_LOG"):
        with open(os.environ["FUZZ_LOG"], "w") as fh:
            fh.write(json.dumps(RESULTS) + "\n")
    assert "Traceback" not in err, (argv, err)
    assert rc in (0, 2), (argv, rc, err)
    if rc == 2:
        lines = [ln for ln in err.splitlines() if ln.strip() and not ln.startswith("note:")]
        assert len(lines) == 1, (argv, err)


# --------------------------------------------------------------------------------------------------
# strategies
# --------------------------------------------------------------------------------------------------
digits = st.text("0123456789", min_size=1, max_size=12)
huge = st.sampled_from(["9" * 500, "9" * 5000, "1e999999999", "1e400", "1e-400", "1e308", "1e-320",
                        "1" + "0" * 300, "0." + "0" * 400 + "1", "1e+0400", "1e-99999", "1_000"])
number = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-10 ** 6, 10 ** 6).map(str),
    st.builds(lambda a, b: f"{a}/{b}", digits, digits),
    st.builds(lambda a, e: f"{a}e{e}", digits, st.integers(-500, 500)),
    huge,
    st.text("0123456789.eE+-/ ", max_size=10),
)
positive = st.one_of(st.sampled_from(["0.1", "0.5", "1/3", "1e-3", "2"]), number)
spec = st.one_of(
    st.lists(positive, min_size=1, max_size=4).map(",".join),
    st.builds(lambda h, lo, hi, d: f"{h}:{lo}:{hi}:{d}", st.sampled_from(["linspace", "geomspace", "logspace"]),
              positive, positive, st.one_of(st.integers(-3, 10 ** 15).map(str), huge, st.just("x"))),
    st.sampled_from(["", "@/nonexistent", "@/proc/self/status", "@/dev/null", ",", "1,,2", "nan", "inf"]),
)
atoms = st.sampled_from(["1", "2", "9", "d", "L", "mu", "kappa", "m", "m1", "1/2", "0", "0.5", "1e400",
                         "9" * 50, "x", "sqrt(2)", "exp(9)", "log(0)"])


@st.composite
def formula(draw, depth=0):
    if depth > 3 or draw(st.booleans()):
        return draw(atoms)
    kind = draw(st.integers(0, 6))
    a, b = draw(formula(depth + 1)), draw(formula(depth + 1))
    ops = {0: f"{a}^{b}", 1: f"({a})^({b})^({a})", 2: f"{a}*{b}", 3: f"{a}/({b})", 4: f"-{a}",
           5: "(" * draw(st.integers(1, 400)) + a + ")" * draw(st.integers(0, 400)), 6: f"{a}+{b}**{b}"}
    return ops[kind]


weird = st.text(max_size=30)
spectrum_formula = st.one_of(st.builds(lambda v, m: f"{v}^({m})", formula(), formula()),
                             st.lists(formula(), min_size=1, max_size=2).map(",".join), weird)


def toml_value(draw_from):
    return draw_from


@st.composite
def sweep_spec(draw):
    task = draw(st.sampled_from(["rate", "tune", "rate", "nope"]))
    items = {"task": json.dumps(task), "model": json.dumps(draw(st.sampled_from(["gaussian", "coordinate",
                                                                                   "finite", "x"]))),
             "methods": json.dumps(draw(st.lists(st.sampled_from(["sgd", "heavy-ball", "nesterov", "zz"]),
                                                 min_size=0, max_size=2)))}
    tomlnum = st.one_of(st.integers(-10 ** 30, 10 ** 30).map(str), st.sampled_from(["9" * 400, "1e308", "inf", "nan",
                        "0", "-1", "1.5", "100000", '"1/3"', '"1e999999999"', "true"]))
    items["batches"] = "[" + ",".join(draw(st.lists(st.one_of(tomlnum, st.just('"inf"')), max_size=3))) + "]"
    if draw(st.booleans()):
        items["spectra"] = json.dumps(draw(st.lists(spec, min_size=0, max_size=2)))
    else:
        items["family"] = "{shapes = %s, kappas = [%s], d = %s}" % (
            json.dumps(draw(st.lists(st.sampled_from(["linspace", "geomspace", "x"]), min_size=1, max_size=2))),
            ",".join(draw(st.lists(tomlnum, min_size=1, max_size=2))), draw(tomlnum))
    if task == "rate" or draw(st.booleans()):
        items["lrs"] = "[" + ",".join(draw(st.lists(tomlnum, min_size=1, max_size=3))) + "]"
        items["momenta"] = "[" + ",".join(draw(st.lists(tomlnum, min_size=1, max_size=2))) + "]"
    for k in ("digits", "seed"):
        if draw(st.booleans()):
            items[k] = draw(tomlnum)
    if draw(st.integers(0, 9)) == 0:
        items[draw(st.sampled_from(["bogus", "without_replacement"]))] = draw(tomlnum)
    return "\n".join(f"{k} = {v}" for k, v in items.items()) + "\n"


method = st.sampled_from(["sgd", "heavy-ball", "nesterov", "nope"])
argv = st.one_of(
    st.builds(lambda m, s, b, lr, mo, dg: ["rate", "--method", m, "--spectrum", s, "--batch", b, "--lr", lr,
                                           "--momentum", mo] + (["--digits", dg] if dg else []),
              method, spec, st.sampled_from(["1", "2", "inf", "0", "9" * 5000, "x"]), positive, positive,
              st.one_of(st.none(), st.sampled_from(["10", "100000", "9" * 5000, "-1", "x"]))),
    st.builds(lambda m, s, lr, steps, runs: ["simulate", "--method", m, "--spectrum", s, "--batch", "1",
                                             "--lr", lr, "--steps", steps, "--runs", runs, "--quiet"],
              method, spec, positive, st.one_of(st.sampled_from(["5", "20", "1e12", "1e400", "0"]), number),
              st.one_of(st.sampled_from(["2", "4", "3e9", "1"]), number)),
    st.builds(lambda m, s, b: ["formula", "--method", m, "--what", "stochastic-rate", "--spectrum", s]
              + (["--batch", b] if b else []), st.sampled_from(["sgd", "heavy-ball"]), spectrum_formula,
              st.one_of(st.none(), formula())),
    st.builds(lambda s, lrs, mom, h, c: ["weak-approx", "--spectrum", s, "--lr", lrs, mom[0], mom[1],
                                         "--horizon", h, "--noise-scale", c],
              spec, st.lists(positive, min_size=1, max_size=3).map(",".join),
              st.one_of(st.tuples(st.just("--momentum"), positive),
                        st.tuples(st.just("--momentum-scaling"), st.builds(lambda a, c: f"{a},{c}", positive, positive))),
              positive, positive),
    st.builds(lambda rule, only: ["check", "--only", only, "--momentum-rule", rule, "--report", "/proc/x.md"],
              formula(), st.sampled_from(["nomatch", "", " , ", "zz*"])),
    st.builds(lambda s, w: ["tune", "--spectrum", s, "--batch", "1,2", "--workers", w],
              spec, st.sampled_from(["1", "2", "100000", "0", "9" * 5000])),
)

FAST = settings(max_examples=int(os.environ.get("FUZZ_FAST_EXAMPLES", 12)), deadline=None, derandomize=True,
                suppress_health_check=list(HealthCheck))
LONG = settings(max_examples=int(os.environ.get("FUZZ_EXAMPLES", 2000)), deadline=None,
                suppress_health_check=list(HealthCheck))


def _sweep_argv(text):
    d = tempfile.mkdtemp(prefix="fuzz-spec-")
    path = os.path.join(d, "spec.toml")
    with open(path, "w") as fh:
        fh.write(text)
    return ["sweep", path, "--out", os.path.join(d, "out")]


pytestmark = pytest.mark.skipif(not hasattr(os, "fork") or sys.platform != "linux", reason="needs fork, Linux")


@FAST
@given(argv)
def test_fuzz_cli_fast(args):
    check(args)


@FAST
@given(sweep_spec())
def test_fuzz_sweep_specs_fast(text):
    check(_sweep_argv(text))


@pytest.mark.slow
@LONG
@given(st.one_of(argv, sweep_spec().map(_sweep_argv)))
def test_fuzz_cli_long(args):
    check(args)


@pytest.mark.slow
def test_fuzz_report():
    """Prints the count of inputs the long profile ran (run after test_fuzz_cli_long: -s to see it)."""
    print(f"fuzz: {RESULTS['runs']} inputs, exit statuses {RESULTS['by_rc']}")


def test_limited_runner_catches_a_hang(monkeypatch):
    """The harness itself must be able to fail: a child past its memory bound is reported, not hung.

    The tool's own work limit is raised for the child, so that the harness's bound (not the tool's
    validation) is what stops it."""
    global MEMORY
    monkeypatch.setattr(sys.modules[__name__], "LIMITS", LIMITS.replace("work=1e8", "work=1e12"))
    old = MEMORY
    MEMORY = 64 * 1024 ** 2
    try:
        rc, err = run_limited(["simulate", "--method", "sgd", "--spectrum", "linspace:1:2:4000", "--batch", "1",
                               "--lr", "0.1", "--steps", "5000", "--runs", "2000", "--quiet"])
    finally:
        MEMORY = old
    assert rc not in (0, 2) or "memory" in err
