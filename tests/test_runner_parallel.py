"""``check`` in parallel (verify.runner.run_all with workers > 1): same outcomes, in the claims' order; the
shared work (verify.claims.shared) computed once, over the pool, and inherited by the claims; no nested
pools; progress reported."""
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor

import pytest

from momentum_verify.verify import runner
from momentum_verify.verify.claim import FAILS, HOLDS, Claim, Verdict
from momentum_verify.verify.claims import shared
from momentum_verify.verify.runner import run_all, run_shared

needs_fork = pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(), reason="needs fork")


def _holds():
    return Verdict(HOLDS, {"pid": os.getpid()})


def _fails():
    return Verdict(FAILS, {"x": 1.5})


def _raises():
    raise ValueError("planted")


CLAIMS = [Claim("t.a", "s", "a", _holds), Claim("t.b", "s", "b", _fails, quick=False),
          Claim("t.c", "s", "c", _raises), Claim("t.d", "s", "d", _holds, reading="uncertain")]


@needs_fork
def test_parallel_run_matches_serial_run():
    done = []
    serial = run_all(claims=CLAIMS, workers=1)
    par = run_all(claims=CLAIMS, workers=2, on_done=lambda o: done.append(o.id))
    assert [o.id for o in par] == [o.id for o in serial] == ["t.a", "t.b", "t.c", "t.d"]
    assert [o.verdict.verdict for o in par] == [o.verdict.verdict for o in serial] == \
        ["holds", "fails", "fails", "inconclusive"]
    assert "planted" in par[2].verdict.numbers["error"]
    assert sorted(done) == ["t.a", "t.b", "t.c", "t.d"]           # progress reported for every claim
    assert par[0].verdict.numbers["pid"] != os.getpid()           # ran in a worker process


# --------------------------------------------------------------------------------------------------
# shared work: tasks of several claims' plans, computed once, read by the claims
# --------------------------------------------------------------------------------------------------
def square(x):
    """A shared task: x^2, with the process that computed it."""
    return x * x, os.getpid()


def offset(x, y):
    """A second-stage task (reads the first stage through shared.cached)."""
    return shared.cached(square, x)[0] + y, os.getpid()


def boom(x):
    raise RuntimeError(f"planted task failure {x}")


def plan(xs):
    yield [(square, (x,)) for x in xs]
    yield [(offset, (x, shared.cached(square, x)[0])) for x in xs]      # planned from stage 1's results


def _sum_claim(cid, xs):
    def check():
        vals = [shared.cached(offset, x, shared.cached(square, x)[0])[0] for x in xs]
        pids = {shared.cached(square, x)[1] for x in xs}
        return Verdict(HOLDS if sum(vals) == sum(2 * x * x for x in xs) else FAILS,
                       {"sum": sum(vals), "computed in this claim's process": os.getpid() in pids})
    return Claim(cid, "s", "shared sum", check, needs=((plan, tuple(xs)),))


SHARED_CLAIMS = [_sum_claim("s.one", (1, 2, 3)), _sum_claim("s.two", (2, 3, 4)), Claim("s.none", "s", "n", _holds)]


@pytest.fixture(autouse=True)
def _fresh_store():
    shared.clear()
    yield
    shared.clear()


@needs_fork
def test_shared_work_once_and_same_verdicts_with_1_and_2_workers():
    progress = []
    info = run_shared(SHARED_CLAIMS, workers=2, on_progress=lambda d, t, s: progress.append((s, d, t)))
    # two plans share x = 2, 3: 4 distinct tasks per stage, each computed once
    assert info["tasks"] == 8 and info["stages"] == 2 and info["failed"] == 0
    assert progress[-1] == (2, 4, 4) and (1, 4, 4) in progress           # progress per task, per stage
    pids = {shared.cached(square, x)[1] for x in (1, 2, 3, 4)}
    assert os.getpid() not in pids                                        # over the pool, not here
    shared.clear()
    serial = run_all(claims=SHARED_CLAIMS, workers=1)
    shared.clear()
    par = run_all(claims=SHARED_CLAIMS, workers=2)
    assert [o.verdict.verdict for o in par] == [o.verdict.verdict for o in serial] == ["holds"] * 3
    assert [o.verdict.numbers["sum"] for o in par[:2]] == [o.verdict.numbers["sum"] for o in serial[:2]] == [28, 58]
    # the claims read what the shared phase computed (inherited by fork), they did not recompute it
    assert not any(o.verdict.numbers["computed in this claim's process"] for o in par[:2])


def test_a_claim_alone_computes_its_shared_work_lazily():
    (o,) = [runner.run_claim(c) for c in SHARED_CLAIMS[:1]]
    assert o.verdict.verdict == HOLDS and o.verdict.numbers["sum"] == 28


@needs_fork
def test_failed_shared_task_is_reported_by_the_claim_that_reads_it():
    def bad_plan():
        yield [(boom, (7,))]

    def check():
        shared.cached(boom, 7)
        return Verdict(HOLDS, {})
    c = Claim("s.bad", "s", "reads a failing task", check, needs=((bad_plan,),))
    info = run_shared([c], workers=2)
    assert info["failed"] == 1 and not shared.is_stored(boom, 7)
    (o,) = run_all(claims=[c, SHARED_CLAIMS[2]], workers=2)[:1]
    assert o.verdict.verdict == FAILS and "planted task failure 7" in o.verdict.numbers["error"]


# --------------------------------------------------------------------------------------------------
# no nested pools
# --------------------------------------------------------------------------------------------------
def _nested_run():
    inner = run_all(claims=[Claim("n.x", "s", "x", _holds), Claim("n.y", "s", "y", _holds)], workers=2)
    return Verdict(HOLDS, {"inner pids": sorted({o.verdict.numbers["pid"] for o in inner}),
                           "pid": os.getpid(), "in worker": runner.IN_WORKER})


@needs_fork
def test_workers_start_no_pool_of_their_own(monkeypatch):
    made = []
    orig = ProcessPoolExecutor.__init__

    def spy(self, *a, **k):
        made.append(os.getpid())
        if os.getpid() != parent:
            raise RuntimeError("nested pool")
        orig(self, *a, **k)
    parent = os.getpid()
    monkeypatch.setattr(ProcessPoolExecutor, "__init__", spy)     # inherited by the forked workers
    outs = run_all(claims=[Claim("n.outer", "s", "o", _nested_run), Claim("n.b", "s", "b", _holds)], workers=2)
    o = outs[0]
    assert o.verdict.verdict == HOLDS, o.verdict.numbers
    assert o.verdict.numbers["in worker"] is True
    assert o.verdict.numbers["inner pids"] == [o.verdict.numbers["pid"]]   # run in order, in that worker
    assert made == [parent]                                               # one pool, in the parent


def test_builtin_claims_read_the_panel_through_the_shared_store():
    """The gd2026 and Lee claims declare the panel plans they read; the minimax curve its points."""
    from momentum_verify.verify.claims import load_claims
    from momentum_verify.verify.claims.garg_derezinski import panel_plan, simple_rule_plan
    from momentum_verify.verify.claims.worst_case import minimax_curve_plan
    claims = {c.id: c for c in load_claims()[0]}
    for cid, c in claims.items():
        if cid.startswith("gd2026") or cid == "classical.lee-implicit-conditioning-ratio":
            assert c.needs and all(p[0] in (panel_plan, simple_rule_plan) for p in c.needs), cid
    assert claims["worst_case.minimax-curve"].needs[0][0] is minimax_curve_plan
    names = {p[1] for c in claims.values() for p in c.needs if p[0] is panel_plan}
    assert names == set(__import__("momentum_verify.verify.claims.instances", fromlist=["PANEL"]).PANEL)
