"""Claim files: instance-level claims as TOML data, run like the built-in claims (same verdicts,
report and JSON). ``momentum-verify check --claims FILE`` runs them; :mod:`momentum_verify.testing`
runs them from pytest.

Each ``[[claim]]`` table names a method (a built-in or a method file, relative to the claims file),
its extra parameters, a sampling model and instance, a batch size, either a point (lr, momentum) or
``tune = true`` (the optimal constant lr and momentum, found by search), and a relation on rho or K::

    [[claim]]
    id = "tmm.rate"
    source = "Van Scoy, Freeman and Lynch (2018), Theorem 1"
    statement = "iterates converge at 1 - 1/sqrt(kappa), so E||e_k||^2 at its square"
    method = "../methods/triple-momentum.toml"
    params = { gamma = "81/209" }
    model = "gaussian"
    spectrum = "1,2,50,99,100"
    batch = "inf"
    lr = "19/1000"
    momentum = "81/110"
    quantity = "rho"                  # rho (default) or K = -1/ln(rho)
    relation = "<="                   # <, <=, ==, >=, >
    value = "(1 - 1/sqrt(kappa))^2"   # a formula in mu, L, kappa, d, B, lr, momentum, the method's parameters
    tolerance = "1e-25"               # relative slack on the value (default 0)
    digits = 30                       # digits asked of the rate engine (default: double precision)
    certify = true                    # decide on a certified interval (default false)

Verdict, with [lo, hi] an enclosure of the quantity (the certified interval, else rho within one unit of
its last stated digit) and V the value with its slack: ``<=`` holds when hi <= V, fails when lo > V,
and is inconclusive between; ``==`` holds when [lo, hi] lies within V's slack, fails when the two are
disjoint; the others alike. A tuned rate is the rate at the best point a search found: an upper bound on
the optimum, and said so. Unknown keys, bad values and unreadable files are an :class:`InputError`
naming the key (exit status 2 on the command line), raised when the file is loaded, before any work.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from types import SimpleNamespace

import mpmath as mp
import sympy as sp

from ..theory.errors import InputError
from ..theory.method_file import read_toml
from ..theory.methods import Method, get_method
from ..theory.parse import parse_expression, parse_number_exact
from .claim import FAILS, HOLDS, INCONCLUSIVE, Claim, Verdict

TOP_KEYS = ("claim", "title")
KEYS = ("id", "source", "statement", "reading", "quick", "method", "params", "model", "spectrum", "matrix",
        "without_replacement", "batch", "lr", "momentum", "tune", "seed", "quantity", "relation", "value",
        "tolerance", "digits", "certify")
REQUIRED = ("id", "statement", "method", "batch", "relation", "value")
RELATIONS = ("<", "<=", "==", ">=", ">")
QUANTITIES = ("rho", "K")
READINGS = ("exact", "as reported", "uncertain")
VALUE_NAMES = ("mu", "L", "kappa", "d", "B", "lr", "momentum")


@dataclass(frozen=True)
class FileClaim:
    """One validated claim of a claims file (everything parsed; the check runs :func:`run_file_claim`)."""

    id: str
    method: Method
    model: object
    batch: object
    lr: object
    momentum: object
    tune: bool
    seed: int
    quantity: str
    relation: str
    value_text: str
    value: sp.Expr
    tolerance: sp.Rational
    tolerance_text: str
    digits: int | None
    certify: bool
    where: str


def _key(i: int, key: str) -> str:
    return f"claim[{i}].{key}"


def _str(c: dict, i: int, key: str, default=None) -> str | None:
    v = c.get(key, default)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, (str, int, float)):
        raise InputError(_key(i, key), f"must be a string, got {v!r}")
    return str(v)


def _bool(c: dict, i: int, key: str, default: bool) -> bool:
    v = c.get(key, default)
    if not isinstance(v, bool):
        raise InputError(_key(i, key), f"must be true or false, got {v!r}")
    return v


def _model(c: dict, i: int, base: Path):
    from .cmd_rate import build_model
    matrix = c.get("matrix")
    if matrix is not None:
        if not isinstance(matrix, str):
            raise InputError(_key(i, "matrix"), "must be a file name")
        matrix = str((base / matrix) if not Path(matrix).is_absolute() else Path(matrix))
    spectrum = _str(c, i, "spectrum")
    if spectrum is not None and spectrum.startswith("@"):
        spectrum = "@" + str(base / spectrum[1:])
    ns = SimpleNamespace(model=_str(c, i, "model", "gaussian"), spectrum=spectrum, matrix=matrix,
                         without_replacement=_bool(c, i, "without_replacement", False))
    try:
        return build_model(ns)
    except InputError as exc:
        raise InputError(_key(i, exc.param), str(exc).split(": ", 1)[1]) from None


def _method(c: dict, i: int, base: Path) -> Method:
    from .method_options import bind_method
    name = _str(c, i, "method")
    if name.lower().endswith(".toml") and not Path(name).is_absolute():
        name = str(base / name)
    params = c.get("params", {})
    if not isinstance(params, dict):
        raise InputError(_key(i, "params"), "must be a table {name = \"value\"}")
    params = {k: (v if isinstance(v, str) else repr(v)) for k, v in params.items()}
    try:
        return bind_method(get_method(name), params, c.get("momentum"))
    except InputError as exc:
        key = "params" if exc.param == "param" or exc.param in params else exc.param
        raise InputError(_key(i, key), str(exc).split(": ", 1)[1]) from None


def parse_claim(c: dict, i: int, base: Path, where: str) -> FileClaim:
    """Validate one ``[[claim]]`` table (keys, method, model, numbers) into a :class:`FileClaim`."""
    from .parsing import parse_batch
    if not isinstance(c, dict):
        raise InputError(f"claim[{i}]", "must be a table")
    for k in c:
        if k not in KEYS:
            raise InputError(_key(i, k), f"unknown key in a claim (allowed: {', '.join(KEYS)})")
    for k in REQUIRED:
        if k not in c:
            raise InputError(_key(i, k), "missing (a claim needs " + ", ".join(REQUIRED) + ")")
    tune = _bool(c, i, "tune", False)
    if tune and ("lr" in c or "momentum" in c):
        raise InputError(_key(i, "tune"), "a tuned claim takes no lr / momentum (they are searched)")
    if not tune and "lr" not in c:
        raise InputError(_key(i, "lr"), "missing (give lr and momentum, or tune = true)")
    method = _method(c, i, base)
    model = _model(c, i, base)
    batch = parse_batch(_str(c, i, "batch"), _key(i, "batch"))
    try:
        model.check_batch(batch)
    except InputError as exc:
        raise InputError(_key(i, "batch"), str(exc).split(": ", 1)[1]) from None
    lr = momentum = None
    if not tune:
        from .method_options import check_point
        lr = parse_number_exact(_str(c, i, "lr"), _key(i, "lr"))
        momentum = parse_number_exact(_str(c, i, "momentum", "0"), _key(i, "momentum"))
        if not lr > 0:
            raise InputError(_key(i, "lr"), f"must be > 0, got {c['lr']}")
        try:
            check_point(method, lr, momentum)
        except InputError as exc:
            raise InputError(_key(i, exc.param), str(exc).split(": ", 1)[1]) from None
    quantity = _str(c, i, "quantity", "rho")
    if quantity not in QUANTITIES:
        raise InputError(_key(i, "quantity"), f"must be one of {', '.join(QUANTITIES)}, got {quantity!r}")
    relation = _str(c, i, "relation")
    if relation not in RELATIONS:
        raise InputError(_key(i, "relation"), f"must be one of {', '.join(RELATIONS)}, got {relation!r}")
    names = {n: sp.Symbol(n) for n in VALUE_NAMES + tuple(p for p, _ in method.bound)}
    value_text = _str(c, i, "value")
    value = parse_expression(value_text, names, _key(i, "value"))
    tol_text = _str(c, i, "tolerance", "0")
    tol = parse_number_exact(tol_text, _key(i, "tolerance"))
    if tol < 0:
        raise InputError(_key(i, "tolerance"), f"must be >= 0, got {c['tolerance']}")
    digits = c.get("digits")
    if digits is not None and (isinstance(digits, bool) or not isinstance(digits, int) or not 1 <= digits <= 1000):
        raise InputError(_key(i, "digits"), f"must be an integer in [1, 1000], got {digits!r}")
    certify = _bool(c, i, "certify", False)
    if tune and (certify or digits is not None):
        raise InputError(_key(i, "certify" if certify else "digits"), "a tuned claim is decided at the "
                         "precision the tuner states (no digits / certify)")
    seed = c.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise InputError(_key(i, "seed"), f"must be an integer >= 0, got {seed!r}")
    for k in ("source", "statement"):
        _str(c, i, k)
    reading = _str(c, i, "reading", "exact")
    if reading not in READINGS:
        raise InputError(_key(i, "reading"), f"must be one of {', '.join(READINGS)}, got {reading!r}")
    _bool(c, i, "quick", True)
    return FileClaim(_str(c, i, "id"), method, model, batch, lr, momentum, tune, seed, quantity, relation,
                     value_text, value, tol, tol_text, digits, certify, where)


def load_claim_file(path) -> list[Claim]:
    """Read a claims file (TOML) into :class:`verify.claim.Claim` objects (validated, nothing run yet)."""
    p = Path(path)
    data = read_toml(p, "claims")
    for k in data:
        if k not in TOP_KEYS:
            raise InputError(k, f"unknown key in a claims file (allowed: {', '.join(TOP_KEYS)})")
    items = data.get("claim")
    if not isinstance(items, list) or not items:
        raise InputError("claim", "a claims file needs at least one [[claim]] table")
    out, seen = [], set()
    for i, c in enumerate(items):
        fc = parse_claim(c, i, p.parent, p.name)
        if fc.id in seen:
            raise InputError(_key(i, "id"), f"duplicate claim id {fc.id!r}")
        seen.add(fc.id)
        tol = f"relative slack {fc.tolerance_text} on the value" if fc.tolerance else "none (strict)"
        out.append(Claim(fc.id, _str(c, i, "source", p.name), _str(c, i, "statement"),
                         partial(run_file_claim, fc), tolerance=tol, quick=_bool(c, i, "quick", True),
                         reading=_str(c, i, "reading", "exact")))
    return out


def load_claim_files(paths) -> list[Claim]:
    """Several claims files; ids must be distinct across them."""
    out, seen = [], set()
    for path in paths:
        for c in load_claim_file(path):
            if c.id in seen:
                raise InputError("claims", f"claim id {c.id!r} appears in more than one file")
            seen.add(c.id)
            out.append(c)
    return out


# --------------------------------------------------------------------------------------------------
# running one claim
# --------------------------------------------------------------------------------------------------
def _values(fc: FileClaim, lr, momentum) -> dict:
    """Exact values of the names a value formula may use."""
    import numpy as np
    spec = fc.model.spectrum_array() if hasattr(fc.model, "spectrum_array") else None
    if spec is None:
        spec = np.linalg.eigvalsh(fc.model.hessian_array())
    pos = [float(x) for x in spec if x > 0]
    mu, L = sp.Rational(min(pos)), sp.Rational(max(pos))
    vals = {"mu": mu, "L": L, "kappa": L / mu, "d": sp.Integer(int(fc.model.d)),
            "B": sp.oo if fc.batch == math.inf else sp.Integer(int(fc.batch)),
            "lr": sp.nsimplify(lr) if lr is not None else None,
            "momentum": sp.nsimplify(momentum) if momentum is not None else None}
    vals.update({p: v for p, v in fc.method.bound})
    return vals


def _exact_value(fc: FileClaim, lr, momentum) -> sp.Expr:
    """The claim's value as an exact SymPy number (the model's numbers read as exact binary fractions)."""
    vals = _values(fc, lr, momentum)
    used = {s.name for s in fc.value.free_symbols}
    missing = [n for n in used if vals.get(n) is None]
    if missing:
        raise InputError("value", f"{missing[0]} is not known for this claim")
    return fc.value.subs({sp.Symbol(n): vals[n] for n in used})


def _as_rational(x):
    """An mpf (or float) as the exact binary fraction it holds; infinities as SymPy's."""
    if x == mp.inf:
        return sp.oo
    if x == -mp.inf:
        return -sp.oo
    if not isinstance(x, mp.mpf):
        with mp.workprec(max(mp.prec, 64)):
            x = mp.mpf(x)              # a float is exact in 53 bits
    man, e = x.man_exp
    return sp.Integer(man) * sp.Integer(2) ** e


def _decide(lo, hi, V, slack, relation) -> str:
    """holds / fails / inconclusive for an enclosure [lo, hi] of the quantity against V with slack
    (exact SymPy numbers compare exactly: SymPy refines its evaluation until the order is decided)."""
    lo, hi, V, slack = (sp.sympify(x) for x in (lo, hi, V, slack))
    lo_v, hi_v = V - slack, V + slack
    if relation in ("<=", "<"):
        strict = relation == "<"
        if bool(hi < hi_v) or (not strict and bool(hi <= hi_v)):
            return HOLDS
        return FAILS if bool(lo >= hi_v if strict else lo > hi_v) else INCONCLUSIVE
    if relation in (">=", ">"):
        strict = relation == ">"
        if bool(lo > lo_v) or (not strict and bool(lo >= lo_v)):
            return HOLDS
        return FAILS if bool(hi <= lo_v if strict else hi < lo_v) else INCONCLUSIVE
    if bool(lo_v <= lo) and bool(hi <= hi_v):
        return HOLDS
    return FAILS if bool(hi < lo_v) or bool(lo > hi_v) else INCONCLUSIVE


def _K(r):
    return mp.inf if r >= 1 else -1 / mp.log(r)


def run_file_claim(fc: FileClaim) -> Verdict:
    """Compute rho (or K) at the claim's point or tuning, and decide the relation."""
    from ..numerics.rates import format_bound, spectral_radius
    from .claims.common import mp_str, rate_str

    def enc(a, b, n):                 # an enclosure printed rounded outward
        fa = "inf" if a == mp.inf else format_bound(a, n, "down")
        fb = "inf" if b == mp.inf else format_bound(b, n, "up")
        return f"[{fa}, {fb}]"
    numbers, routes = {}, []
    if fc.tune:
        from ..numerics.tuning import tune
        t = tune(fc.method, fc.model, fc.batch, seed=fc.seed)
        lr, momentum, rho, digits = t.lr, t.momentum, mp.mpf(t.rho), max(int(t.rho_digits), 1)
        numbers["tuned lr"] = f"{t.lr:.6g} (located to relative {t.lr_tol:.1g})"
        numbers["tuned momentum"] = f"{t.momentum:.6g} (1 - momentum located to relative {t.momentum_tol:.1g})"
        numbers["rho (tuned)"] = f"{mp_str(rho, digits)} ({digits} digits, {t.route}, {t.precision})"
        routes.append(f"numeric ({t.route} route, {t.precision}) at the tuned point")
        interval, enclosure = None, "rho within one unit of its last stated digit"
        how = ("tuned by the global search of numerics.tuning: the rate at the best point found, an upper "
               "bound on the optimal rate (a 'fails' of an upper bound may be a search miss)")
    else:
        lr, momentum = fc.lr, fc.momentum
        r = spectral_radius(fc.method, fc.model, fc.batch, lr, momentum, digits=fc.digits, certify=fc.certify)
        rho, digits, interval = mp.mpf(r.rho), max(int(r.digits), 1), r.interval
        numbers["rho"] = rate_str(r)
        routes.append(f"numeric ({r.route} route, {r.precision})")
        if interval is not None:
            routes.append("certified (arb interval)")
        enclosure = "the certified interval" if interval is not None else \
            "rho within one unit of its last stated digit"
        how = f"rate engine at lr = {lr}, momentum = {momentum}"
    dps = max(digits, 15) + 20
    with mp.workdps(dps):
        if interval is not None:           # the ends as they are (re-rounding could cross the value)
            lo, hi = interval
        else:
            err = abs(rho) * mp.mpf(10) ** (1 - digits)
            lo, hi = rho - err, rho + err
        if fc.quantity == "K":
            lo, hi = _K(lo), _K(hi)
            numbers["K"] = f"{enc(lo, hi, digits)} (from {enclosure}, rounded outward)"
        V = _exact_value(fc, lr, momentum)
        slack = abs(V) * fc.tolerance
        # decided in exact arithmetic: the enclosure's ends are binary fractions, V an exact expression
        verdict = _decide(_as_rational(lo), _as_rational(hi), V, slack, fc.relation)
        numbers["value"] = f"{mp_str(mp.mpf(sp.N(V, dps)), digits + 2)} ({digits + 2} digits; {fc.value_text})"
        numbers["decided on"] = (f"{enc(lo, hi, digits + 2)} (rounded outward) {fc.relation} value"
                                 + (f" within relative {fc.tolerance_text}" if fc.tolerance else "")
                                 + " (compared exactly)")
    return Verdict(verdict, numbers, routes=routes,
                   method=(f"{fc.where}: {fc.method.name} on {fc.model.name} (d = {fc.model.d}), B = {fc.batch}; "
                           f"{how}; {fc.quantity} {fc.relation} {fc.value_text} decided on {enclosure}"),
                   precision=(f"{enclosure}" + (f", {digits} digits" if interval is None else "")))
