"""Sweeps on a real two-worker LocalCluster: equal to the serial results, unchanged by a killed worker,
resumable without recomputation; spec validation; the CSV survives torn writes."""
from __future__ import annotations

import functools
import hashlib
import json
import math
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import given, strategies as st

from momentum_verify.theory.errors import InputError
from momentum_verify.verify import sweep
from momentum_verify.verify.cli import main

ROOT = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------------------------------
# helpers: specs and deterministic stand-in point functions (run in the worker processes)
# --------------------------------------------------------------------------------------------------
def make_spec(tmp_path: Path, text: str, name: str = "spec.toml"):
    path = tmp_path / name
    path.write_text(text)
    return sweep.load_spec(path)


FAKE_SPEC = """
task = "rate"
model = "gaussian"
methods = ["sgd", "heavy-ball"]
batches = [1, 2, 8, "inf"]
spectra = ["1,2,3", "linspace:0.5:1:4"]
lrs = [0.1, 0.2]
momenta = [0.5]
"""  # 2 instances x (sgd: 4 batches x 2 lrs + heavy-ball: 4 x 2 x 1) = 32 points


def fake_point(p: sweep.Point, log: str | None = None, sleep: float = 0.0, fail_index: int | None = None) -> dict:
    """A deterministic function of the point (a hash), optionally logging every call to ``log``."""
    if log:
        with open(log, "a") as fh:
            fh.write(p.key + "\n")
    if sleep:
        time.sleep(sleep)
    if p.index == fail_index:
        raise ArithmeticError("no rate here,\nby construction")
    v = int(hashlib.sha256(p.key.encode()).hexdigest()[:12], 16) / 16**12
    return {"lr": repr(p.lr), "momentum": repr(p.momentum), "rho": f"{v:.15f}", "digits": 15,
            "K": f"{-1 / math.log(v):.12g}", "route": "fake", "precision": "double"}


def suicidal_point(p: sweep.Point, victim: int) -> dict:
    """Kills its own worker process on one point (every time it is tried)."""
    if p.index == victim:
        os.kill(os.getpid(), signal.SIGKILL)
    return fake_point(p)


def table(out: Path) -> list[dict]:
    return sweep.read_results(out / "results.csv")


def results_part(rows):
    return [{k: r[k] for k in sweep.COLUMNS} for r in rows]


# --------------------------------------------------------------------------------------------------
# the shared cluster
# --------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def client():
    from distributed import Client
    cluster = sweep.start_local_cluster(2)
    c = Client(cluster)
    c.wait_for_workers(2, timeout=60)
    yield c
    c.close()
    cluster.close()


@pytest.fixture
def ready(client):
    client.wait_for_workers(2, timeout=180)   # a killed worker is restarted by its nanny (slow under load)
    return client


# --------------------------------------------------------------------------------------------------
# sweep == serial, with the real engine
# --------------------------------------------------------------------------------------------------
def test_tune_sweep_equals_serial(ready, tmp_path):
    spec, text = make_spec(tmp_path, """
task = "tune"
model = "gaussian"
methods = ["sgd", "heavy-ball"]
batches = [4, "inf"]
spectra = ["geomspace:0.05:1:4"]
""")
    out = tmp_path / "run"
    res = sweep.run_sweep(spec, text, out, client=ready)
    assert (res.computed, res.skipped, res.failed, res.interrupted) == (4, 0, 0, False)
    serial = sweep.run_serial(spec)
    assert table(out) == results_part(serial)           # point for point, in grid order
    assert all(r["status"] == "ok" for r in serial)
    summary = json.loads((out / "summary.json").read_text())
    hb = summary["instances"][0]["methods"]["heavy-ball"]
    assert [c["batch"] for c in hb["curve"]] == ["4", "inf"]
    assert hb["acceleration"][0] >= 1 - 1e-6          # tuned momentum is never worse than tuned sgd
    assert (out / "curves.png").stat().st_size > 0


def test_rate_sweep_equals_serial_and_keeps_divergent_rows(ready, tmp_path):
    spec, text = make_spec(tmp_path, """
task = "rate"
model = "kaczmarz"
methods = ["sgd", "nesterov"]
batches = [1, "inf"]
matrices = ["a.txt"]
lrs = ["1/2", 3]        # lr 3 diverges: rho >= 1 is still a row
momenta = [0.3]
""".replace("a.txt", str(ROOT / "examples" / "a_small.txt")))
    out = tmp_path / "run"
    res = sweep.run_sweep(spec, text, out, client=ready, chunk=3)
    assert (res.computed, res.failed) == (8, 0)
    rows = table(out)
    assert rows == results_part(sweep.run_serial(spec))
    assert any(float(r["rho"]) >= 1 for r in rows)
    assert not (out / "summary.json").exists()          # summaries are for tune sweeps


# --------------------------------------------------------------------------------------------------
# faults
# --------------------------------------------------------------------------------------------------
def test_sigkilled_worker_changes_nothing(ready, tmp_path):
    spec, text = make_spec(tmp_path, FAKE_SPEC)
    pids = list(ready.run(os.getpid).values())
    killed = []

    def kill_one(rows):
        if not killed:
            os.kill(pids[0], signal.SIGKILL)
            killed.append(pids[0])

    out = tmp_path / "run"
    fn = functools.partial(fake_point, sleep=0.05)
    res = sweep.run_sweep(spec, text, out, client=ready, point_fn=fn, on_rows=kill_one)
    assert killed and res.computed == 32 and res.failed == 0
    rows = table(out)
    assert rows == results_part(sweep.run_serial(spec, fake_point))
    assert len({r["key"] for r in rows}) == 32


def test_raising_point_is_recorded_once_with_one_line_reason(ready, tmp_path):
    spec, text = make_spec(tmp_path, FAKE_SPEC)
    out, log = tmp_path / "run", tmp_path / "calls.log"
    fn = functools.partial(fake_point, fail_index=5, log=str(log))
    res = sweep.run_sweep(spec, text, out, client=ready, point_fn=fn)
    assert (res.computed, res.failed) == (32, 1)
    bad = [r for r in table(out) if r["status"] == "failed"]
    assert len(bad) == 1 and bad[0]["reason"] == "ArithmeticError: no rate here, by construction"
    assert len(log.read_text().split()) == 32           # tried once
    # --resume skips it; --retry-failed computes exactly it
    again = sweep.run_sweep(spec, text, out, client=ready, point_fn=fn, resume=True)
    assert (again.computed, again.skipped) == (0, 32)
    fixed = sweep.run_sweep(spec, text, out, client=ready, point_fn=fake_point, resume=True, retry_failed=True)
    assert (fixed.computed, fixed.skipped, fixed.failed) == (1, 31, 0)
    assert table(out) == results_part(sweep.run_serial(spec, fake_point))


def test_interrupted_sweep_resumes_without_recomputing(ready, tmp_path):
    spec, text = make_spec(tmp_path, FAKE_SPEC)
    out, log1, log2 = tmp_path / "run", tmp_path / "first.log", tmp_path / "second.log"
    seen = []

    def interrupt(rows):
        seen.extend(rows)
        if len(seen) >= 10:
            raise KeyboardInterrupt

    first = sweep.run_sweep(spec, text, out, client=ready, on_rows=interrupt,
                            point_fn=functools.partial(fake_point, log=str(log1), sleep=0.05))
    assert first.interrupted and first.computed == len(seen) >= 10
    on_disk = table(out)
    assert len(on_disk) == len(seen) < 32
    finished = {r["key"] for r in on_disk}
    with pytest.raises(InputError, match="--resume"):          # same DIR without --resume: refused
        sweep.run_sweep(spec, text, out, client=ready, point_fn=fake_point)

    second = sweep.run_sweep(spec, text, out, client=ready, resume=True,
                             point_fn=functools.partial(fake_point, log=str(log2)))
    recomputed = set(log2.read_text().split())
    assert not recomputed & finished                             # no finished point computed again
    assert (second.skipped, second.computed) == (len(finished), 32 - len(finished))
    assert len(recomputed) == 32 - len(finished)
    assert table(out) == results_part(sweep.run_serial(spec, fake_point))


@pytest.mark.slow   # three worker deaths and restarts: ~20 s
def test_point_that_kills_its_worker_is_failed_not_retried_forever(ready, tmp_path):
    spec, text = make_spec(tmp_path, FAKE_SPEC.replace('["1,2,3", "linspace:0.5:1:4"]', '["1,2,3"]'))
    out = tmp_path / "run"
    res = sweep.run_sweep(spec, text, out, client=ready, point_fn=functools.partial(suicidal_point, victim=3))
    assert (res.computed, res.failed) == (16, 1)
    rows = table(out)
    bad = [r for r in rows if r["status"] != "ok"]
    assert [r["index"] for r in bad] == ["3"] and "KilledWorker" in bad[0]["reason"]
    assert rows[:3] + rows[4:] == [r for r in results_part(sweep.run_serial(spec, fake_point)) if r["index"] != "3"]


# --------------------------------------------------------------------------------------------------
# the output folder and the CSV
# --------------------------------------------------------------------------------------------------
def test_other_spec_in_existing_dir_is_refused(tmp_path):
    spec, text = make_spec(tmp_path, FAKE_SPEC)
    out = tmp_path / "run"
    sweep.init_dir(out, spec, text, 32)
    other, other_text = make_spec(tmp_path, FAKE_SPEC.replace("0.5]", "0.6]"), "other.toml")
    for resume in (False, True):
        with pytest.raises(InputError, match="different spec"):
            sweep.check_dir(out, other, resume)
    assert sweep.check_dir(out, spec, True) == []


def test_matrix_file_contents_are_part_of_the_spec_hash(tmp_path):
    a = tmp_path / "a.txt"
    a.write_text("1 0\n0 2\n1 1\n")
    text = f'task = "tune"\nmodel = "finite"\nmethods = ["sgd"]\nbatches = [1]\nmatrices = ["a.txt"]\n'
    h1 = make_spec(tmp_path, text)[0].hash()
    a.write_text("1 0\n0 3\n1 1\n")
    assert make_spec(tmp_path, text)[0].hash() != h1


reasons = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=40)


@given(reasons=st.lists(reasons, min_size=1, max_size=6), cut=st.integers(1, 60))
def test_csv_round_trip_and_torn_last_line(tmp_path_factory, reasons, cut):
    path = tmp_path_factory.mktemp("csv") / "results.csv"
    spec = sweep.spec_from_dict({"task": "rate", "model": "gaussian", "methods": ["sgd"], "batches": [1],
                                 "spectra": ["1,2"], "lrs": [0.1], "momenta": [0.0]})
    p = sweep.points(spec)[0]
    rows = [dict(sweep.failed_rows([p], r)[0], index=str(i)) for i, r in enumerate(reasons)]
    f = sweep.ResultsFile(path)
    f.append(rows)
    f.close()
    back = sweep.read_results(path)
    assert [r["reason"] for r in back] == [" ".join(r.split()) for r in reasons]   # one line each
    assert all("\n" not in r["reason"] for r in back)
    # a writer killed mid-line: the torn line is dropped and cut off, whole lines survive
    data = path.read_bytes()
    path.write_bytes(data + sweep.format_rows(rows[:1]).encode()[:cut - 1] + b"x")
    assert sweep.read_results(path, repair=True) == back
    assert path.read_bytes() == data


# --------------------------------------------------------------------------------------------------
# the grid
# --------------------------------------------------------------------------------------------------
@given(n_inst=st.integers(1, 3), methods=st.lists(st.sampled_from(["sgd", "heavy-ball", "nesterov", "sgdm"]),
                                                  min_size=1, max_size=4, unique=True),
       batches=st.lists(st.one_of(st.integers(1, 500), st.just("inf")), min_size=1, max_size=5, unique=True),
       n_lr=st.integers(1, 3), n_mom=st.integers(1, 3), task=st.sampled_from(["rate", "tune"]))
def test_grid_size_and_keys(n_inst, methods, batches, n_lr, n_mom, task):
    raw = {"task": task, "model": "gaussian", "methods": methods, "batches": batches,
           "spectra": [f"linspace:0.1:1:{k + 2}" for k in range(n_inst)]}
    if task == "rate":
        raw.update(lrs=[0.1 * (k + 1) for k in range(n_lr)], momenta=[0.2 * k for k in range(n_mom)])
    spec = sweep.spec_from_dict(raw)
    grid = sweep.points(spec)
    with_mom = sum(m != "sgd" for m in methods)
    per = 1 if task == "tune" else n_lr * (with_mom * n_mom + (len(methods) - with_mom)) / len(methods)
    assert len(grid) == round(n_inst * len(batches) * len(methods) * per)
    assert len({p.key for p in grid}) == len(grid)
    assert [p.index for p in grid] == list(range(len(grid)))
    assert [p.key for p in sweep.points(sweep.spec_from_dict(raw))] == [p.key for p in grid]
    assert all(p.momentum == 0.0 for p in grid if p.method == "sgd" and task == "rate")


def test_family_generates_spectra_with_the_stated_condition_numbers():
    spec = sweep.spec_from_dict({"task": "tune", "model": "gaussian", "methods": ["sgd"], "batches": [1],
                                 "spectra": ["1,2"],
                                 "family": {"shapes": ["linspace", "geomspace"], "kappas": [10, 1e3], "d": 7}})
    assert spec.instances == ("1,2", "linspace:1/10:1:7", "linspace:1/1000:1:7", "geomspace:1/10:1:7",
                              "geomspace:1/1000:1:7")
    for inst in spec.instances[1:]:
        lam = sweep.build_model("gaussian", "spectra", inst, "", False).spectrum_array()
        kappa = float(inst.split(":")[1].split("/")[1])
        assert lam.size == 7 and lam[-1] / lam[0] == pytest.approx(kappa, rel=1e-12)


# --------------------------------------------------------------------------------------------------
# bad input: one line naming the key, exit 2, nothing scheduled, no folder written
# --------------------------------------------------------------------------------------------------
GOOD = 'task = "tune"\nmodel = "gaussian"\nmethods = ["sgd"]\nbatches = [1, "inf"]\nspectra = ["1,2"]\n'


@pytest.mark.parametrize("text, key", [
    (GOOD + "colour = 1\n", "colour"),
    (GOOD.replace('"tune"', '"simulate"'), "task"),
    (GOOD.replace('"gaussian"', '"poisson"'), "model"),
    (GOOD.replace('["sgd"]', '["sgd", "adam"]'), "methods[1]"),
    (GOOD.replace('["sgd"]', '"sgd"'), "methods"),
    (GOOD.replace('["sgd"]', '[]'), "methods"),
    (GOOD.replace('[1, "inf"]', '[1, 0]'), "batches[1]"),
    (GOOD.replace('[1, "inf"]', '[1, 2.5]'), "batches[1]"),
    (GOOD.replace('[1, "inf"]', '[4, 4]'), "batches"),
    (GOOD.replace('["1,2"]', '["linspace:1:2"]'), "spectra[0]"),
    (GOOD.replace('["1,2"]', '["1,-2"]'), "spectra[0]"),
    (GOOD.replace('["1,2"]', '[]'), "spectra"),
    (GOOD.replace('spectra = ["1,2"]', 'matrices = ["a.npy"]'), "matrices"),
    (GOOD.replace('"gaussian"', '"finite"').replace('spectra = ["1,2"]', 'matrices = ["nope.npy"]'), "matrices[0]"),
    (GOOD + 'without_replacement = "yes"\n', "without_replacement"),
    (GOOD + "lrs = [0.1]\n", "lrs"),
    (GOOD + "seed = -1\n", "seed"),
    (GOOD.replace('"tune"', '"rate"') + "lrs = [0.1]\n", "momenta"),
    (GOOD.replace('"tune"', '"rate"') + "lrs = [0.1]\nmomenta = [1]\n", "momenta[0]"),
    (GOOD.replace('"tune"', '"rate"') + "lrs = [-1]\nmomenta = [0]\n", "lrs[0]"),
    (GOOD.replace('"tune"', '"rate"') + "lrs = [\"1/0\"]\nmomenta = [0]\n", "lrs[0]"),
    ("task = \n", "SPEC"),
    (GOOD + "[family]\nshapes = [\"linspace\"]\nkappas = [10]\n", "family.d"),
    (GOOD + "[family]\nshapes = [\"cosine\"]\nkappas = [10]\nd = 3\n", "family.shapes[0]"),
    (GOOD + "[family]\nshapes = [\"linspace\"]\nkappas = [0.5]\nd = 3\n", "family.kappas[0]"),
    (GOOD + "[family]\nshapes = [\"linspace\"]\nkappas = [10]\nd = 3\nmu = 1\n", "family.mu"),
])
def test_bad_spec_is_one_line_exit_2_before_any_work(tmp_path, capsys, text, key):
    (tmp_path / "s.toml").write_text(text)
    with pytest.raises(InputError) as err:
        sweep.load_spec(tmp_path / "s.toml")
    assert err.value.param == key
    out = tmp_path / "run"
    assert main(["sweep", str(tmp_path / "s.toml"), "--out", str(out)]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and f"error: {key}: " in lines[0]
    assert not out.exists()


def test_unreachable_scheduler_is_one_line_exit_2(tmp_path, capsys):
    with socket.socket() as s:          # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    spec, text = make_spec(tmp_path, GOOD)
    with pytest.raises(InputError, match="--scheduler"):
        sweep.run_sweep(spec, text, tmp_path / "run", scheduler=f"tcp://127.0.0.1:{port}", connect_timeout=2)
    assert main(["sweep", str(tmp_path / "spec.toml"), "--out", str(tmp_path / "run"),
                 "--scheduler", "not-an-address"]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("extra, key", [(["--workers", "0"], "--workers"), (["--chunk", "x"], "--chunk"),
                                        (["--workers", "2", "--scheduler", "tcp://127.0.0.1:1"], "--workers"),
                                        (["--retry-failed"], "--retry-failed")])
def test_bad_options_exit_2(tmp_path, capsys, extra, key):
    (tmp_path / "s.toml").write_text(GOOD)
    assert main(["sweep", str(tmp_path / "s.toml"), "--out", str(tmp_path / "run")] + extra) == 2
    assert f"error: {key}: " in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_cli_rate_sweep_on_its_own_local_cluster(tmp_path, capsys):
    spec = tmp_path / "s.toml"
    spec.write_text(GOOD.replace('"tune"', '"rate"') + "lrs = [0.5]\nmomenta = [0.5]\ndigits = 20\n")
    out = tmp_path / "run"
    assert main(["sweep", str(spec), "--out", str(out), "--workers", "1", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["points"], report["computed"], report["failed"], report["workers"]) == (2, 2, 0, 1)
    rows = sweep.read_results(out / "results.csv")
    assert rows == results_part(sweep.run_serial(sweep.load_spec(spec)[0]))
    assert [r["digits"] for r in rows] == ["20", "20"] and len(rows[0]["rho"].replace("0.", "", 1)) >= 20
    assert main(["sweep", str(spec), "--out", str(out), "--resume", "--json"]) == 0   # nothing to do: no cluster
    assert json.loads(capsys.readouterr().out)["skipped"] == 2


# --------------------------------------------------------------------------------------------------
# the command, end to end (its own LocalCluster): SIGTERM keeps a well-formed table, --resume finishes it
# --------------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_cli_sigterm_then_resume(tmp_path):
    spec = tmp_path / "spec.toml"
    spec.write_text(GOOD.replace('["1,2"]', '["geomspace:1e-3:1:30", "linspace:0.01:1:30"]')
                    .replace('["sgd"]', '["sgd", "heavy-ball", "nesterov"]')
                    .replace('[1, "inf"]', '[1, 2, 4, 8, 16, 32, 64, "inf"]'))
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "momentum_verify", "sweep", str(spec), "--out", str(out), "--workers", "2", "--json"]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and (not (out / "results.csv").exists()
                                      or len((out / "results.csv").read_text().splitlines()) < 4):
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    stdout, _ = proc.communicate(timeout=60)
    assert proc.returncode == 130
    first = json.loads(stdout)
    assert first["interrupted"] and first["computed"] >= 3
    done = {r["key"] for r in sweep.read_results(out / "results.csv")}
    assert len(done) == first["computed"]
    again = subprocess.run(cmd + ["--resume"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr
    second = json.loads(again.stdout)
    assert second["skipped"] == len(done) and second["computed"] == 48 - len(done)
    rows = sweep.read_results(out / "results.csv")
    assert [int(r["index"]) for r in rows] == list(range(48))
