"""``check`` in parallel (verify.runner.run_all with workers > 1): same outcomes, in the claims' order."""
import os

import pytest

from momentum_verify.verify.claim import FAILS, HOLDS, Claim, Verdict
from momentum_verify.verify.runner import run_all


def _holds():
    return Verdict(HOLDS, {"pid": os.getpid()})


def _fails():
    return Verdict(FAILS, {"x": 1.5})


def _raises():
    raise ValueError("planted")


CLAIMS = [Claim("t.a", "s", "a", _holds), Claim("t.b", "s", "b", _fails, quick=False),
          Claim("t.c", "s", "c", _raises), Claim("t.d", "s", "d", _holds, reading="uncertain")]


@pytest.mark.skipif("fork" not in __import__("multiprocessing").get_all_start_methods(), reason="needs fork")
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
