"""Sweeps: grids of ``rate`` or ``tune`` points run on Dask, streamed to ``DIR/results.csv``, resumable.

A sweep spec (TOML) names a task, a model, methods, batch sizes and instances (spectra or matrices),
plus (lr, momentum) pairs for ``task = "rate"``. The grid is the product

    points = instances x methods x batches [x lrs x momenta]     (sgd: one point per lr, momentum 0),

each with a key (a hash of what defines it) written in the CSV, so that a table assembled from
interrupted, resumed or fault-retried runs holds every point exactly once. The engine is
``dask.distributed``: a ``LocalCluster`` of worker processes by default, any scheduler address otherwise.
Nothing here knows how a rate is found: the work per point is a function (``compute_point`` by default,
calling ``numerics.spectral.spectral_radius`` or ``numerics.tuning.tune``) passed to the driver.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import os
import sys
import time
import tomllib
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Callable

from ..theory.errors import InputError
from ..theory.methods import METHODS, get_method
from ..theory.sampling import check_model_name
from . import limits
from .parsing import load_array, parse_batch, parse_number, parse_spec

TASKS = ("tune", "rate")
SPECTRUM_MODELS = ("gaussian", "coordinate")        # models given by a spectrum (a diagonal H)
MATRIX_MODELS = ("finite", "kaczmarz", "coordinate")  # models given by a matrix (data A, or H)
KEYS = {
    "task": "\"tune\" or \"rate\"",
    "model": "a sampling model",
    "methods": "list of method names",
    "batches": "list of batch sizes (integers >= 1 or \"inf\")",
    "spectra": "list of SPEC strings (gaussian, coordinate)",
    "matrices": "list of matrix files (finite, kaczmarz, coordinate)",
    "without_replacement": "boolean",
    "lrs": "list of step sizes (rate)",
    "momenta": "list of momenta in [0, 1) (rate)",
    "seed": "integer >= 0 (tune)",
    "digits": "integer >= 1 (rate)",
    "family": "table {shapes, kappas, d}: generated spectra (gaussian, coordinate)",
}
FAMILY_KEYS = ("shapes", "kappas", "d")
COLUMNS = ["index", "key", "task", "model", "instance", "without_replacement", "method", "batch",
           "lr", "momentum", "rho", "digits", "K", "route", "precision", "status", "reason"]
ALLOWED_FAILURES = 2     # a point whose worker died this many times (+1) is recorded as failed
CONNECT_TIMEOUT_S = 10   # an unreachable scheduler is reported after this long


# --------------------------------------------------------------------------------------------------
# the spec
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SweepSpec:
    """A validated sweep spec. ``instances`` are the strings as written; ``paths`` the files they name
    (resolved against the spec's folder), or ``""`` for a literal spectrum."""

    task: str
    model: str
    methods: tuple
    batches: tuple
    source: str                 # "spectra" or "matrices"
    instances: tuple
    paths: tuple
    without_replacement: bool = False
    lrs: tuple = ()
    momenta: tuple = ()
    seed: int = 0
    digits: int | None = None
    file_hashes: tuple = field(default=(), compare=False)

    def canonical(self) -> dict:
        """The spec as plain JSON data (batches as strings), with the content hash of every file."""
        d = asdict(self)
        d.pop("paths")
        d["batches"] = [_batch_text(b) for b in self.batches]
        d["file_hashes"] = list(self.file_hashes)
        return d

    def hash(self) -> str:
        return hashlib.sha256(json.dumps(self.canonical(), sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class Point:
    """One grid point. ``lr`` and ``momentum`` are None for tune points (the tuner finds them)."""

    index: int
    task: str
    model: str
    instance: str
    path: str
    source: str
    without_replacement: bool
    method: str
    batch: object
    lr: float | None = None
    momentum: float | None = None
    seed: int = 0
    digits: int | None = None

    @property
    def key(self) -> str:
        """16 hex digits of sha256 over what defines the point (not its position in the grid)."""
        fields = [self.task, self.model, self.source, self.instance, self.without_replacement, self.method,
                  _batch_text(self.batch), _num_text(self.lr), _num_text(self.momentum), self.seed, self.digits]
        return hashlib.sha256(json.dumps(fields).encode()).hexdigest()[:16]


def _batch_text(b) -> str:
    return "inf" if b == math.inf else str(int(b))


def _num_text(x) -> str:
    return "" if x is None else repr(float(x))


def _one_line(text: str, limit: int = 300) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _list(raw: dict, key: str, kinds: tuple, what: str) -> list:
    value = raw[key]
    if not isinstance(value, list):
        raise InputError(key, f"must be a list of {what}, got {type(value).__name__}")
    if not value:
        raise InputError(key, "is empty")
    for i, v in enumerate(value):
        if isinstance(v, bool) or not isinstance(v, kinds):
            raise InputError(f"{key}[{i}]", f"must be {what}, got {v!r}")
    return value


def _unique(key: str, values: list, show=repr):
    seen = set()
    for v in values:
        if v in seen:
            raise InputError(key, f"duplicate entry {show(v)}")
        seen.add(v)


def _number(v, param: str) -> float:
    """A TOML number or numeric string as a float (integers of any length included: float(10**400)
    would raise OverflowError; parse_number refuses it as bad input)."""
    if isinstance(v, float):
        if not math.isfinite(v):
            raise InputError(param, f"must be finite, got {v!r}")
        return v
    return parse_number(str(v), param)


def _file_hash(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def resolve_instance(text: str, source: str, base: Path) -> str:
    """The file an instance names (absolute), or ``""`` for a literal SPEC."""
    if source == "matrices":
        return str((base / text).resolve())
    t = text.strip()
    return str((base / t[1:]).resolve()) if t.startswith("@") else ""


@lru_cache(maxsize=64)
def build_model(model: str, source: str, instance: str, path: str, without_replacement: bool):
    """The sampling model of one instance (cached per process: workers build each instance once)."""
    from .model_spec import from_spec
    if source == "spectra":
        return from_spec(model, spectrum="@" + path if path else instance, without_replacement=without_replacement,
                         spectrum_param="spectra")
    return from_spec(model, matrix=path, without_replacement=without_replacement, matrix_param="matrices")


def family_spectra(fam) -> list[str]:
    """SPEC strings of a family: for each shape in ``shapes`` (linspace, geomspace) and kappa in ``kappas``,
    ``SHAPE:1/KAPPA:1:D``: d eigenvalues from mu = 1/kappa to L = 1 (condition number kappa)."""
    if not isinstance(fam, dict):
        raise InputError("family", f"must be a table {{shapes, kappas, d}}, got {fam!r}")
    for k in fam:
        if k not in FAMILY_KEYS:
            raise InputError(f"family.{k}", f"unknown key (allowed: {', '.join(FAMILY_KEYS)})")
    for k in FAMILY_KEYS:
        if k not in fam:
            raise InputError(f"family.{k}", "missing (required in a family)")
    shapes = _list(fam, "shapes", (str,), "\"linspace\" or \"geomspace\"")
    for i, sh in enumerate(shapes):
        if sh not in ("linspace", "geomspace"):
            raise InputError(f"family.shapes[{i}]", f"must be \"linspace\" or \"geomspace\", got {sh!r}")
    kappas = [_number(k, f"family.kappas[{i}]")
              for i, k in enumerate(_list(fam, "kappas", (int, float), "a number >= 1"))]
    for i, k in enumerate(kappas):
        if not (k >= 1 and math.isfinite(k)):
            raise InputError(f"family.kappas[{i}]", f"must be a finite number >= 1, got {k!r}")
    d = fam["d"]
    if isinstance(d, bool) or not isinstance(d, int) or d < 1:
        raise InputError("family.d", f"must be an integer >= 1, got {_short(d)}")
    limits.check_spectrum_size(d, "family.d")            # before any spectrum is built
    text = [f"{sh}:1/{int(k) if float(k).is_integer() else repr(float(k))}:1:{d}" for sh in shapes for k in kappas]
    _unique("family", text)
    return text


def _short(v, limit: int = 40) -> str:
    t = repr(v) if not isinstance(v, int) or v.bit_length() < 1000 else f"<integer of about {int(v.bit_length() * 0.30103)} digits>"
    return t if len(t) <= limit else t[:limit - 3] + "..."


def _spec_size(text: str) -> int:
    """Eigenvalues a SPEC string names, without building it (files: 0, checked when read)."""
    t = text.strip()
    if t.startswith("@"):
        return 0
    parts = t.split(":")
    if parts[0] in ("linspace", "geomspace") and len(parts) == 4:
        d = parts[3].strip()
        return int(d) if d.isdigit() and len(d) <= 18 else 10 ** 18
    return t.count(",") + 1


def _check_sizes(raw: dict, task: str, source: str, instances: list, methods: list, batches: list):
    """The sweep's cost before anything is built: total eigenvalues over the instances (each one is
    built during validation and cached by the workers) and the number of grid points."""
    if source == "spectra":
        sizes = [_spec_size(t) for t in instances]
        for i, s in enumerate(sizes):
            limits.check_spectrum_size(s, f"spectra[{i}]")
        limits.check_memory(8.0 * 4 * sum(sizes), f"{len(instances)} spectra of {sum(sizes)} eigenvalues", "spectra")
    count = len(instances) * len(methods) * len(batches)
    if task == "rate":
        for k in ("lrs", "momenta"):
            if isinstance(raw.get(k), list):
                count *= max(1, len(raw[k]))
    limits.check_grid(count, "SPEC")


def spec_from_dict(raw: dict, base: Path = Path(".")) -> SweepSpec:
    """Validate every key of a parsed TOML table and build the spec (errors name the key)."""
    if not isinstance(raw, dict):
        raise InputError("SPEC", "must be a TOML table")
    for k in raw:
        if k not in KEYS:
            raise InputError(k, f"unknown key (allowed: {', '.join(KEYS)})")
    for k in ("task", "model", "methods", "batches"):
        if k not in raw:
            raise InputError(k, "missing (required)")
    for k in ("task", "model"):
        if not isinstance(raw[k], str):
            raise InputError(k, f"must be a string, got {raw[k]!r}")
    task = raw["task"]
    if task not in TASKS:
        raise InputError("task", f"unknown task {task!r} (choose from {', '.join(TASKS)})")
    model = raw["model"]
    check_model_name(model)
    methods = _list(raw, "methods", (str,), "a method name")
    for i, m in enumerate(methods):
        try:
            get_method(m)
        except InputError as exc:
            raise InputError(f"methods[{i}]", str(exc).split(": ", 1)[1]) from None
    _unique("methods", methods)
    batches = [parse_batch(b, f"batches[{i}]") for i, b in
               enumerate(_list(raw, "batches", (int, str), "an integer >= 1 or \"inf\""))]
    _unique("batches", batches, _batch_text)
    wr = raw.get("without_replacement", False)
    if not isinstance(wr, bool):
        raise InputError("without_replacement", f"must be true or false, got {wr!r}")

    if "family" in raw:
        if "matrices" in raw:
            raise InputError("family", "generates spectra: not with 'matrices'")
        raw = dict(raw, spectra=list(raw.get("spectra", [])) + family_spectra(raw["family"]))
    if ("spectra" in raw) == ("matrices" in raw):
        raise InputError("spectra", "give exactly one of 'spectra' (or 'family') or 'matrices'")
    source = "spectra" if "spectra" in raw else "matrices"
    allowed = SPECTRUM_MODELS if source == "spectra" else MATRIX_MODELS
    if model not in allowed:
        raise InputError(source, f"model {model!r} takes {'matrices' if source == 'spectra' else 'spectra'}, "
                                 f"not {source}")
    instances = _list(raw, source, (str,), "a SPEC string" if source == "spectra" else "a file path")
    _unique(source, instances)
    _check_sizes(raw, task, source, instances, methods, batches)   # limits, before any model is built
    paths, hashes = [], []
    for i, text in enumerate(instances):
        path = resolve_instance(text, source, base)
        try:
            m = build_model(model, source, text, path, wr)
            for b in batches:
                m.check_batch(b)
        except InputError as exc:
            raise InputError(f"{source}[{i}]", f"{text!r}: {exc}") from None
        paths.append(path)
        hashes.append(_file_hash(path) if path else "")

    lrs, momenta, digits = (), (), None
    if task == "rate":
        for k in ("lrs", "momenta"):
            if k not in raw:
                raise InputError(k, "missing (required for task = \"rate\")")
        lrs = tuple(_number(v, f"lrs[{i}]") for i, v in enumerate(_list(raw, "lrs", (int, float, str), "a number")))
        for i, v in enumerate(lrs):
            if not (v > 0 and math.isfinite(v)):
                raise InputError(f"lrs[{i}]", f"must be > 0, got {v!r}")
        momenta = tuple(_number(v, f"momenta[{i}]")
                        for i, v in enumerate(_list(raw, "momenta", (int, float, str), "a number")))
        for i, v in enumerate(momenta):
            if not 0 <= v < 1:
                raise InputError(f"momenta[{i}]", f"must lie in [0, 1), got {v!r}")
        _unique("lrs", list(lrs))
        for i, (text, path) in enumerate(zip(instances, paths)):   # eta L within double precision
            limits.check_step(max(lrs), build_model(model, source, text, path, wr), f"lrs (at {source}[{i}])")
        _unique("momenta", list(momenta))
        if "digits" in raw:
            digits = raw["digits"]
            if isinstance(digits, bool) or not isinstance(digits, int) or digits < 1:
                raise InputError("digits", f"must be an integer >= 1, got {_short(digits)}")
            limits.check_digits(digits, "digits")
        if "seed" in raw:
            raise InputError("seed", "only for task = \"tune\"")
    else:
        for k in ("lrs", "momenta", "digits"):
            if k in raw:
                raise InputError(k, "only for task = \"rate\" (tune finds lr and momentum)")
    seed = raw.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise InputError("seed", f"must be an integer >= 0, got {seed!r}")
    return SweepSpec(task, model, tuple(methods), tuple(batches), source, tuple(instances), tuple(paths), wr,
                     lrs, momenta, seed, digits, tuple(hashes))


def load_spec(path) -> tuple[SweepSpec, str]:
    """Read and validate a TOML spec file; returns the spec and its text."""
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as exc:
        raise InputError("SPEC", f"cannot read {str(path)!r}: {exc.strerror}") from None
    try:
        raw = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, ValueError) as exc:   # ValueError: an integer over 4300 digits
        raise InputError("SPEC", f"{str(path)!r} is not valid TOML: {_one_line(exc, 200)}") from None
    return spec_from_dict(raw, p.resolve().parent), text


def points(spec: SweepSpec) -> list[Point]:
    """The grid in a fixed order: instance, method, batch, lr, momentum (sgd: momentum 0 only)."""
    out = []
    for inst, path in zip(spec.instances, spec.paths):
        for method in spec.methods:
            for batch in spec.batches:
                if spec.task == "tune":
                    pairs = [(None, None)]
                else:
                    moms = spec.momenta if get_method(method).uses_momentum else (0.0,)   # names or method files
                    pairs = [(lr, mom) for lr in spec.lrs for mom in moms]
                for lr, mom in pairs:
                    out.append(Point(len(out), spec.task, spec.model, inst, path, spec.source,
                                     spec.without_replacement, method, batch, lr, mom, spec.seed, spec.digits))
    return out


# --------------------------------------------------------------------------------------------------
# the work per point
# --------------------------------------------------------------------------------------------------
def compute_point(point: Point) -> dict:
    """rate: rho(T) at (lr, momentum); tune: the optimal (lr, momentum) and its rho. Returns the result
    columns of the CSV (lr, momentum, rho, digits, K, route, precision) as strings."""
    model = build_model(point.model, point.source, point.instance, point.path, point.without_replacement)
    if point.task == "rate":
        from ..numerics.rates import spectral_radius
        res = spectral_radius(point.method, model, point.batch, point.lr, point.momentum, digits=point.digits)
        out = res.to_json()
        return {"lr": repr(point.lr), "momentum": repr(point.momentum), "rho": out["rho"], "K": out["K"],
                "digits": out["digits"], "route": out.get("route", ""), "precision": out.get("precision", "")}
    from ..numerics.tuning import tune
    res = tune(point.method, model, point.batch, seed=point.seed)
    return tune_columns(res)


def tune_columns(res) -> dict:
    """CSV columns of a ``numerics.tuning.TuneResult``: rho and K to the digits the tuner states."""
    from ..numerics.rates import format_digits
    return {"lr": repr(float(res.lr)), "momentum": repr(float(res.momentum)),
            "rho": format_digits(res.rho, res.rho_digits), "digits": int(res.rho_digits),
            "K": format_digits(res.K, res.K_digits), "route": res.route, "precision": res.precision}


def point_identity(p: Point) -> dict:
    return {"index": p.index, "key": p.key, "task": p.task, "model": p.model, "instance": p.instance,
            "without_replacement": str(p.without_replacement).lower(), "method": p.method,
            "batch": _batch_text(p.batch), "lr": "" if p.lr is None else repr(p.lr),
            "momentum": "" if p.momentum is None else repr(p.momentum)}


def run_chunk(chunk: list, point_fn: Callable = compute_point) -> list[dict]:
    """Run points one by one (on a worker); a point that raises becomes a failed row with a one-line reason."""
    rows = []
    for p in chunk:
        row = point_identity(p)
        try:
            row.update({k: str(v) for k, v in point_fn(p).items()})
            row.update(status="ok", reason="")
        except Exception as exc:  # recorded, not retried: the same inputs raise again
            row.update(status="failed", reason=_one_line(f"{type(exc).__name__}: {exc}"))
        rows.append({c: str(row.get(c, "")) for c in COLUMNS})
    return rows


def failed_rows(chunk: list, reason: str) -> list[dict]:
    rows = []
    for p in chunk:
        row = point_identity(p)
        row.update(status="failed", reason=_one_line(reason))
        rows.append({c: str(row.get(c, "")) for c in COLUMNS})
    return rows


# --------------------------------------------------------------------------------------------------
# the results table: whole lines appended atomically, fsynced; read back tolerant of a torn last line
# --------------------------------------------------------------------------------------------------
def format_rows(rows: list[dict], header: bool = False) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    if header:
        w.writeheader()
    w.writerows(rows)
    return buf.getvalue()


class ResultsFile:
    """``DIR/results.csv`` opened for appending; ``append`` writes whole lines with one write + fsync."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        if os.fstat(self.fd).st_size == 0:
            self._write(format_rows([], header=True))

    def _write(self, text: str):
        data = text.encode()
        while data:
            data = data[os.write(self.fd, data):]
        os.fsync(self.fd)

    def append(self, rows: list[dict]):
        if rows:
            self._write(format_rows(rows))

    def close(self):
        os.close(self.fd)


def read_results(path, repair: bool = False) -> list[dict]:
    """Rows of a results file. A torn last line (no newline: the process was killed mid-write) is
    dropped, and cut from the file when ``repair``."""
    path = Path(path)
    if not path.exists():
        return []
    data = path.read_bytes()
    cut = data.rfind(b"\n") + 1
    if cut < len(data) and repair:
        os.truncate(path, cut)
    lines = data[:cut].decode()
    if not lines:
        return []
    reader = csv.DictReader(io.StringIO(lines))
    if reader.fieldnames != COLUMNS:
        raise InputError("--out", f"{path} has columns {reader.fieldnames}, expected {COLUMNS}")
    return list(reader)


def final_table(rows: list[dict]) -> list[dict]:
    """One row per point key (an ok row wins over a failed one), in grid order."""
    best = {}
    for r in rows:
        old = best.get(r["key"])
        if old is None or (old["status"] != "ok" and r["status"] == "ok"):
            best[r["key"]] = r
    return sorted(best.values(), key=lambda r: int(r["index"]))


def write_table(path, rows: list[dict]):
    """Replace ``path`` by the given rows atomically (write a sibling, fsync, rename)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w") as fh:
        fh.write(format_rows(rows, header=True))
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


# --------------------------------------------------------------------------------------------------
# the output folder: the spec it belongs to, and resume
# --------------------------------------------------------------------------------------------------
def check_dir(out: Path, spec: SweepSpec, resume: bool) -> list[dict] | None:
    """Check ``out`` without writing to it: the rows already there (with ``resume``), or None when the
    folder is new. A folder holding another spec's results is refused; so is one holding this spec's
    results without ``resume`` (nothing is overwritten)."""
    out = Path(out)
    meta_path = out / "meta.json"
    h = spec.hash()
    if out.exists() and not out.is_dir():
        raise InputError("--out", f"{str(out)!r} exists and is not a folder")
    if meta_path.exists():
        try:
            old = json.loads(meta_path.read_text()).get("spec_hash")
        except (OSError, ValueError, AttributeError):
            raise InputError("--out", f"{meta_path} is unreadable; use another folder") from None
        if old != h:
            raise InputError("--out", f"{str(out)!r} holds results of a different spec (hash {str(old)[:12]}, "
                                      f"this one {h[:12]}); use another folder")
        if not resume:
            raise InputError("--out", f"{str(out)!r} already holds results of this spec; pass --resume to "
                                      "compute only the missing points, or use another folder")
        return read_results(out / "results.csv")
    leftovers = {"spec.toml", "meta.json.tmp"}   # of a start killed before meta.json was in place
    if out.exists() and any(f.name not in leftovers for f in out.iterdir()):
        raise InputError("--out", f"{str(out)!r} is not empty and holds no sweep; use another folder")
    return None


def init_dir(out: Path, spec: SweepSpec, spec_text: str, total: int):
    """Create ``out`` with ``spec.toml`` (the spec as written) and ``meta.json`` (its hash)."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "spec.toml").write_text(spec_text)
    meta = {"spec_hash": spec.hash(), "points": total, "spec": spec.canonical(), "columns": COLUMNS}
    tmp = out / "meta.json.tmp"
    tmp.write_text(json.dumps(meta, indent=1))
    os.replace(tmp, out / "meta.json")


# --------------------------------------------------------------------------------------------------
# Dask
# --------------------------------------------------------------------------------------------------
def start_local_cluster(workers: int | None = None):
    """A LocalCluster of ``workers`` single-threaded worker processes (default: the cores), with the
    retry policy of this module: a task whose worker dies is rerun elsewhere, at most
    ``ALLOWED_FAILURES`` times."""
    import logging

    import dask
    from distributed import LocalCluster

    n = workers or os.cpu_count() or 1
    # Dask sets MALLOC_TRIM_THRESHOLD_ in its workers, which turns off glibc's adaptive mmap threshold:
    # every large numpy temporary is then mmapped and faulted in afresh (measured: 2.5x the CPU time of a
    # d = 1000 tune). Unset it (None); keep one BLAS thread per single-threaded worker. The workers'
    # statistical profiler (a thread sampling every stack each 10 ms) competes for the GIL with the pure
    # Python parts of a tune: off (measured: 1.2 of 6.3 worker CPU s in a 24-point tune sweep).
    with dask.config.set({"distributed.scheduler.allowed-failures": ALLOWED_FAILURES,
                          "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None,
                          "distributed.worker.profile.enabled": False}):
        # no dashboard; the scheduler's own HTTP routes on a free port (not 8787, maybe someone else's)
        return LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None,
                            scheduler_kwargs={"dashboard_address": ":0"}, silence_logs=logging.ERROR)


def connect(scheduler: str | None, workers: int | None, timeout: float = CONNECT_TIMEOUT_S):
    """(client, cluster or None): a new LocalCluster, or a client of the scheduler at ``scheduler``."""
    from distributed import Client

    if scheduler is None:
        cluster = start_local_cluster(workers)
        return Client(cluster), cluster
    try:
        return Client(scheduler, timeout=timeout), None
    except Exception as exc:  # OSError, TimeoutError, ValueError for a malformed address
        raise InputError("--scheduler", f"cannot reach {scheduler!r} within {timeout:g} s "
                                        f"({_one_line(type(exc).__name__ + ': ' + str(exc), 160)})") from None


def default_chunk(task: str, todo: int, workers: int) -> int:
    """Points per task: 1 for tune (0.1 s and more per point against ~6 ms of Dask per task); for rate
    (often ~1 ms per point) enough to amortise that, yet at least 8 tasks per worker, at most 50 points."""
    if task == "tune":
        return 1
    return max(1, min(50, todo // (8 * max(1, workers))))


def check_cluster(client, point_fn: Callable, timeout: float = 120):
    """One empty task through the cluster: the scheduler and a worker must unpickle the sweep's functions
    (they import this package). A cluster that cannot is refused before any point is scheduled."""
    if not client.nthreads():   # e.g. dask-jobqueue workers still queued: wait for them, not a timeout
        sys.stderr.write("sweep: the cluster has no workers yet; waiting for one (Ctrl-C to stop)\n")
        client.wait_for_workers(1)
    try:
        client.submit(run_chunk, [], point_fn, pure=False).result(timeout=timeout)
    except Exception as exc:
        raise InputError("--scheduler", "the cluster cannot run the sweep's tasks (start the scheduler and "
                                        "workers where `import momentum_verify.verify.sweep` works: pip install -e . or "
                                        f"PYTHONPATH): {_one_line(type(exc).__name__ + ': ' + str(exc), 160)}") \
            from None


@dataclass
class SweepOutcome:
    total: int
    computed: int = 0
    skipped: int = 0
    failed: int = 0
    wall_s: float = 0.0
    interrupted: bool = False
    workers: int = 0
    out: str = ""

    def line(self) -> str:
        state = "interrupted" if self.interrupted else "done"
        missing = self.total - self.skipped - self.computed
        tail = f", {missing} missing (rerun with --resume)" if self.interrupted else ""
        return (f"sweep {state}: {self.total} points, {self.computed} computed, {self.skipped} skipped "
                f"(already in {self.out}), {self.failed} failed{tail}; {self.wall_s:.1f} s wall on "
                f"{self.workers} worker{'' if self.workers == 1 else 's'}")


class _Progress:
    """rich progress bar on stderr (points done / total, rate, ETA); silent when not enabled."""

    def __init__(self, enabled: bool, total: int):
        self.bar = None
        if enabled and total:
            from rich.console import Console
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                                       TimeElapsedColumn, TimeRemainingColumn)
            self.bar = Progress(TextColumn("sweep"), BarColumn(), MofNCompleteColumn(),
                                TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TextColumn("ETA"),
                                TimeRemainingColumn(), console=Console(stderr=True), transient=False)
            self.task = self.bar.add_task("sweep", total=total, rate="")
            self.t0 = time.perf_counter()
            self.done = 0
            self.bar.start()

    def advance(self, n: int):
        if self.bar:
            self.done += n
            rate = self.done / max(time.perf_counter() - self.t0, 1e-9)
            self.bar.update(self.task, advance=n, rate=f"{rate:.2f} pt/s")

    def close(self):
        if self.bar:
            self.bar.stop()


def run_sweep(spec: SweepSpec, spec_text: str, out, *, client=None, scheduler: str | None = None,
              workers: int | None = None, resume: bool = False, retry_failed: bool = False,
              point_fn: Callable = compute_point, chunk: int | None = None, progress: bool = False,
              on_rows: Callable | None = None, connect_timeout: float = CONNECT_TIMEOUT_S) -> SweepOutcome:
    """Run every point of ``spec`` not yet in ``out`` on Dask; append rows to ``out/results.csv`` as
    chunks finish. On completion the table is rewritten once, deduplicated and in grid order, and (tune)
    ``summary.json`` and ``curves.png`` are written. Ctrl-C/SIGTERM (KeyboardInterrupt) stops it with every
    finished row on disk: ``outcome.interrupted``.

    ``client``: an existing ``distributed.Client`` (not closed here); else ``scheduler`` (an address) or a
    new LocalCluster of ``workers`` processes. ``chunk``: points per task (default: ``default_chunk``).
    ``on_rows(rows)`` is called after each batch of rows is on disk.
    """
    t0 = time.perf_counter()
    out = Path(out)
    grid = points(spec)
    done_rows = check_dir(out, spec, resume)
    finished = {r["key"] for r in done_rows or [] if r["status"] == "ok" or not retry_failed}
    todo = [p for p in grid if p.key not in finished]
    outcome = SweepOutcome(total=len(grid), skipped=len(grid) - len(todo), out=str(out))
    own_client = own_cluster = None
    if todo and client is None:   # before anything is written: an unreachable scheduler leaves no folder
        own_client, own_cluster = connect(scheduler, workers, connect_timeout)
        client = own_client
    if todo:
        try:
            check_cluster(client, point_fn)
        except InputError:
            if own_client is not None:
                _close_quietly(own_client, own_cluster)
            raise
    if done_rows is None:
        init_dir(out, spec, spec_text, len(grid))
    else:
        read_results(out / "results.csv", repair=True)   # cut a torn last line before appending
    writer = ResultsFile(out / "results.csv")
    futures = {}
    bar = None
    try:
        if todo:
            from distributed import as_completed
            outcome.workers = len(client.nthreads())
            size = chunk or default_chunk(spec.task, len(todo), outcome.workers)
            chunks = [todo[i:i + size] for i in range(0, len(todo), size)]
            # the costlier tasks first (a momentum method's tune costs several sgd tunes), so the cheap
            # ones fill the workers' tails: grid order otherwise (the table is rewritten in grid order)
            chunks.sort(key=lambda c: all(p.method == "sgd" for p in c))
            for c in chunks:
                futures[client.submit(run_chunk, c, point_fn, pure=False, retries=0)] = c
            bar = _Progress(progress, len(todo))
            # results are gathered in the background; every batch of tasks finished since the last one is
            # written with one write + fsync
            for batch in as_completed(list(futures), with_results=True, raise_errors=False).batches():
                rows = []
                for fut, result in batch:
                    c = futures.pop(fut)
                    if fut.status == "error":   # KilledWorker: its workers died ALLOWED_FAILURES + 1 times
                        exc = result[1]
                        rows += failed_rows(c, f"{type(exc).__name__}: {exc}")
                    else:
                        rows += result
                writer.append(rows)
                bar.advance(len(rows))
                if on_rows is not None:
                    on_rows(rows)
    except KeyboardInterrupt:
        outcome.interrupted = True
    finally:
        writer.close()
        try:   # a second interrupt here only cuts the clean-up short (the cluster dies with the process)
            if bar:
                bar.close()
            for fut in futures:
                fut.cancel()
            if own_client is not None:
                _close_quietly(own_client, own_cluster)
        except KeyboardInterrupt:
            outcome.interrupted = True
    # count what is on disk (a signal may land between a write and any counter update)
    table = final_table(read_results(out / "results.csv"))
    new = [r for r in table if r["key"] not in finished]
    outcome.computed, outcome.failed = len(new), sum(r["status"] != "ok" for r in new)
    if not outcome.interrupted:
        try:   # atomic replacements: an interrupt leaves the old file or the new one
            write_table(out / "results.csv", table)
            if spec.task == "tune":
                write_summary(out, spec, table)
        except KeyboardInterrupt:
            outcome.interrupted = True
    outcome.wall_s = time.perf_counter() - t0
    return outcome


def _close_quietly(client, cluster):
    try:
        client.close(timeout=5)
    except Exception:
        pass
    if cluster is not None:
        try:
            cluster.close(timeout=5)
        except Exception:
            pass


def run_serial(spec: SweepSpec, point_fn: Callable = compute_point) -> list[dict]:
    """Every point in this process, in grid order: the reference a sweep must reproduce."""
    return run_chunk(points(spec), point_fn)


# --------------------------------------------------------------------------------------------------
# summary and figure (tune)
# --------------------------------------------------------------------------------------------------
def write_summary(out: Path, spec: SweepSpec, table: list[dict]):
    """``summary.json`` and ``curves.png`` of a finished tune sweep (written atomically)."""
    summary = summarize(spec, table)
    tmp = out / "summary.json.tmp"
    tmp.write_text(json.dumps(summary, indent=1))
    os.replace(tmp, out / "summary.json")
    plot_curves(summary, out / "curves.png")


def _K_value(row: dict) -> float:
    """K of a row as a float; inf where the point failed or diverges (rho >= 1: no stable tuning)."""
    if row is None or row["status"] != "ok" or not float(row["rho"]) < 1:
        return math.inf
    return float(row["K"])


def summarize(spec: SweepSpec, table: list[dict]) -> dict:
    """Per instance and method: the curve (lr, momentum, rho, K, B*K per batch), the acceleration
    K_sgd / K_m, its fitted log-log slope and the saturation batch, computed by ``numerics.tuning``'s
    own curve functions (the same definitions as ``tune_curve``) from the rows of the table."""
    from ..numerics.tuning import _slope_window, loglog_slope, model_info, saturation_batch

    batches = sorted(spec.batches)
    finite = [b for b in batches if math.isfinite(b)]
    by_key = {(r["instance"], r["method"], r["batch"]): r for r in table}
    out = {"task": "tune", "model": spec.model, "methods": list(spec.methods),
           "batches": [_batch_text(b) for b in batches], "seed": spec.seed,
           "note": "rho and K are decimal strings to 'digits' significant digits; acceleration and slopes "
                   "are floats from them (as accurate as the least accurate K); saturation: smallest B where "
                   "B*K doubles from the smallest batch (log-log interpolation); None where undefined",
           "instances": []}
    for inst, path in zip(spec.instances, spec.paths):
        info = model_info(build_model(spec.model, spec.source, inst, path, spec.without_replacement))
        rows = {m: [by_key.get((inst, m, _batch_text(b))) for b in batches] for m in spec.methods}
        K = {m: [_K_value(r) for r in rows[m]] for m in spec.methods}
        Kf = {m: [k for k, b in zip(K[m], batches) if math.isfinite(b)] for m in spec.methods}
        sat = {m: saturation_batch(finite, Kf[m]) for m in spec.methods}
        entry = {"instance": inst, "model_info": info, "methods": {}}
        for m in spec.methods:
            curve = [{"batch": _batch_text(b), "lr": r and r["lr"], "momentum": r and r["momentum"],
                      "rho": r and r["rho"], "K": r and r["K"], "digits": r and r["digits"],
                      "status": r["status"] if r else "missing", "BK": b * k if math.isfinite(b * k) else None}
                     for b, r, k in zip(batches, rows[m], K[m])]
            item = {"curve": curve, "saturation_batch": sat[m], "acceleration": None,
                    "acceleration_slope": None, "slope_batches": None}
            if "sgd" in spec.methods:
                acc = [ks / km if math.isfinite(ks) and math.isfinite(km) and km > 0 else None
                       for ks, km in zip(K["sgd"], K[m])]
                window = _slope_window(finite, sat["sgd"], sat[m])
                item["acceleration"] = acc
                item["slope_batches"] = [int(b) for b in window]
                item["acceleration_slope"] = loglog_slope(
                    window, [acc[batches.index(b)] if acc[batches.index(b)] is not None else math.nan
                             for b in window])
            entry["methods"][m] = item
        out["instances"].append(entry)
    return out


def plot_curves(summary: dict, path, max_panels: int = 24):
    """B*K against B (finite batches), log-log, one panel per instance, one line per method; the
    saturation batch of each method dotted."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    insts = summary["instances"][:max_panels]
    ncols = min(3, len(insts))
    nrows = math.ceil(len(insts) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.5 * ncols, 3.6 * nrows), squeeze=False)
    for ax, entry in zip(axes.flat, insts):
        for m, item in entry["methods"].items():
            pts = [(float(c["batch"]), c["BK"]) for c in item["curve"]
                   if c["batch"] != "inf" and c["BK"] is not None]
            if not pts:
                continue
            line, = ax.loglog(*zip(*pts), marker="o", ms=3, label=m)
            if item["saturation_batch"] is not None:
                ax.axvline(item["saturation_batch"], color=line.get_color(), ls=":", lw=1)
        ax.set_title(entry["instance"] if len(entry["instance"]) <= 40 else entry["instance"][:37] + "...",
                     fontsize=9)
        ax.set_xlabel("batch B")
        ax.set_ylabel("B K (K = -1/ln rho)")
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(insts):]:
        ax.set_visible(False)
    more = len(summary["instances"]) - len(insts)
    fig.suptitle(f"tuned {summary['model']} sweep: B K against B (dotted: saturation batch)"
                 + (f"; {more} more instances in summary.json" if more > 0 else ""), fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
