"""Claimed bounds over grids of spectrum classes, checked with certified worst cases (MATH.md §9).

A claim file (TOML) states::

    method = "heavy-ball"
    model = "gaussian"                      # or "coordinate" (diagonal H)
    lr = "4/(sqrt(L) + sqrt(mu))^2"         # formulas in mu, L, kappa, kappa_bar, d, B
    momentum = "((sqrt(kappa) - 1)/(sqrt(kappa) + 1))^2"
    bound = "rho <= ((sqrt(kappa) - 1)/(sqrt(kappa) + 1))^2"     # or "K >= EXPR" (also "rho >= ", "K <= ")
    [grid]                                  # lists for a sufficient subset of mu, L, kappa, kappa_bar, d, B
    kappa = [10, 100]
    d = [3, 10]
    B = [1, "inf"]

Formulas go through the whitelist parser (theory.parse; sqrt, log, exp, min, max), never eval.
At each grid point the certified worst case over the class gives [lower, upper] (lower: the arb
enclosure's lower end of a class member's rate; upper: the branch-and-bound bound). ``rho <= c`` (and
``K <= c``, i.e. rho <= exp(-1/c)) is a statement about every class member: it holds at the point when
upper <= c, fails when lower > c (a certified counterexample), and is undecided otherwise.
``rho >= c`` and ``K >= c`` say the class has a member at least that slow: they hold when lower >= c and
fail when upper < c. A grid is not a proof between grid points.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from pathlib import Path

import sympy as sp

from ..theory import symbols
from ..theory.errors import InputError
from ..theory.parse import parse_expression

HOLDS, FAILS, UNDECIDED = "holds", "fails", "undecided"
GRID_KEYS = ("mu", "L", "kappa", "kappa_bar", "d", "B")
FILE_KEYS = ("method", "model", "lr", "momentum", "bound", "grid", "name", "source")
D_SYM = sp.Symbol("d", positive=True, integer=True)
NAMES = {"mu": symbols.mu, "L": symbols.L, "kappa": symbols.kappa, "kappa_bar": symbols.kappa_bar,
         "d": D_SYM, "B": symbols.B}
NOT_A_PROOF = "a grid is not a proof between grid points: the verdict covers the listed points only"


@dataclass
class BoundClaim:
    """A parsed claim file: method, model, parameter rules and the claimed bound as SymPy expressions."""

    method: str
    model: str
    lr: sp.Expr
    momentum: sp.Expr
    quantity: str            # "rho" or "K"
    op: str                  # "<=" or ">="
    bound: sp.Expr
    grid: dict
    text: dict = field(default_factory=dict)


def _formula(raw, key: str) -> sp.Expr:
    if not isinstance(raw, str):
        raise InputError(key, f"must be a formula string, got {raw!r}")
    return parse_expression(raw, NAMES, key)


def parse_bound(text, key: str = "bound"):
    """'rho <= EXPR' | 'K >= EXPR' (also 'rho >= EXPR', 'K <= EXPR') -> (quantity, op, expr)."""
    if not isinstance(text, str):
        raise InputError(key, f"must be a string like 'rho <= EXPR' or 'K >= EXPR', got {text!r}")
    t = text.strip()
    for q in ("rho", "K"):
        for op in ("<=", ">="):
            head = f"{q}"
            if t.startswith(head) and t[len(head):].lstrip().startswith(op):
                rest = t[len(head):].lstrip()[len(op):]
                return q, op, _formula(rest, key)
    raise InputError(key, f"must read 'rho <= EXPR' or 'K >= EXPR' (or 'rho >= ', 'K <= '), got {text!r}")


def _grid_values(key, raw) -> list:
    if not isinstance(raw, list) or not raw:
        raise InputError(f"grid.{key}", f"must be a non-empty list, got {raw!r}")
    out = []
    for v in raw:
        if key == "B" and isinstance(v, str) and v.strip().lower() == "inf":
            out.append(math.inf)
            continue
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            extra = ' or "inf"' if key == "B" else ""
            raise InputError(f"grid.{key}", f"entries must be finite numbers{extra}, got {v!r}")
        if key in ("d", "B") and v != int(v):
            raise InputError(f"grid.{key}", f"entries must be integers, got {v!r}")
        if v <= 0:
            raise InputError(f"grid.{key}", f"entries must be > 0, got {v!r}")
        out.append(int(v) if key in ("d", "B") else float(v))
    return out


def load_claim(data: dict) -> BoundClaim:
    """Validate a claim (a dict as read from TOML); every problem names its key."""
    from ..theory.methods import get_method
    if not isinstance(data, dict):
        raise InputError("file", "must be a TOML table")
    for k in data:
        if k not in FILE_KEYS:
            raise InputError(k, f"unknown key (allowed: {', '.join(FILE_KEYS)})")
    for k in ("method", "lr", "bound", "grid"):
        if k not in data:
            raise InputError(k, "missing from the claim file")
    method = data["method"]
    if not isinstance(method, str):
        raise InputError("method", f"must be a string, got {method!r}")
    get_method(method)
    model = data.get("model", "gaussian")
    if model not in ("gaussian", "coordinate"):
        raise InputError("model", f"bound-check handles gaussian and coordinate (diagonal H), not {model!r}")
    grid_raw = data["grid"]
    if not isinstance(grid_raw, dict):
        raise InputError("grid", "must be a table of lists")
    grid = {}
    for k, v in grid_raw.items():
        if k not in GRID_KEYS:
            raise InputError(f"grid.{k}", f"unknown grid key (allowed: {', '.join(GRID_KEYS)})")
        grid[k] = _grid_values(k, v)
    for k in ("d", "B"):
        if k not in grid:
            raise InputError(f"grid.{k}", "missing: the grid needs d and B")
    if sum(k in grid for k in ("mu", "L", "kappa")) < 1:
        raise InputError("grid.kappa", "missing: give kappa (or mu and L)")
    if all(k in grid for k in ("mu", "L", "kappa")):
        raise InputError("grid.kappa", "give two of mu, L, kappa, not all three")
    q, op, bound = parse_bound(data["bound"])
    lr = _formula(data["lr"], "lr")
    mom = _formula(data.get("momentum", "0"), "momentum")
    for key, e in (("lr", lr), ("momentum", mom), ("bound", bound)):
        if symbols.kappa_bar in e.free_symbols and "kappa_bar" not in grid:
            raise InputError(key, "uses kappa_bar but [grid] does not fix kappa_bar")
    return BoundClaim(method, model, lr, mom, q, op, bound, grid,
                      {k: data[k] for k in ("lr", "momentum", "bound") if k in data})


def read_claim_file(path) -> BoundClaim:
    try:
        import tomllib
    except ModuleNotFoundError:           # Python 3.10
        import tomli as tomllib
    p = Path(path)
    if not p.is_file():
        raise InputError("file", f"cannot read {str(path)!r}")
    try:
        data = tomllib.loads(p.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError("file", f"{p.name} is not valid TOML: {exc}") from None
    return load_claim(data)


# --------------------------------------------------------------------------------------------------
# grid points
# --------------------------------------------------------------------------------------------------
def grid_points(claim: BoundClaim) -> list[dict]:
    """Every combination of the grid lists, completed to mu, L, kappa, d, B (mu = 1 when only kappa)."""
    keys = list(claim.grid)
    out = []
    for combo in itertools.product(*(claim.grid[k] for k in keys)):
        p = dict(zip(keys, combo))
        if "kappa" in p:
            if "mu" in p:
                p["L"] = p["kappa"] * p["mu"]
            elif "L" in p:
                p["mu"] = p["L"] / p["kappa"]
            else:
                p["mu"] = 1.0
                p["L"] = p["kappa"]
        elif "mu" in p and "L" in p:
            p["kappa"] = p["L"] / p["mu"]
        else:
            raise InputError("grid.kappa", "give kappa, or both mu and L")
        out.append(p)
    return out


def _subs(p: dict) -> dict:
    s = {NAMES[k]: (sp.oo if v == math.inf else sp.nsimplify(v) if isinstance(v, int) else sp.Float(v, 30))
         for k, v in p.items() if k in NAMES}
    return s


def evaluate(expr: sp.Expr, p: dict, key: str) -> float:
    """A claim formula at a grid point, as a float (InputError naming ``key`` if not a real number)."""
    try:
        v = sp.N(expr.subs(_subs(p)), 30)
        if v is sp.oo:
            return math.inf
        x = float(v)
    except (TypeError, ValueError, ZeroDivisionError):
        raise InputError(key, f"does not evaluate to a real number at {p}") from None
    if not math.isfinite(x) and x != math.inf:
        raise InputError(key, f"evaluates to {x} at {p}")
    return x


# --------------------------------------------------------------------------------------------------
# the check
# --------------------------------------------------------------------------------------------------
def _rho_threshold(claim: BoundClaim, c: float) -> float:
    """The claim as a bound on rho: K <= c iff rho <= exp(-1/c) (K increases with rho on (0, 1))."""
    if claim.quantity == "rho":
        return c
    if c <= 0:
        raise InputError("bound", f"a bound on K must be > 0, got {c:g}")
    return math.exp(-1 / c) if math.isfinite(c) else 1.0


def _verdict(claim: BoundClaim, lo: float, hi: float, thr: float) -> str:
    if claim.op == "<=":
        return HOLDS if hi <= thr else FAILS if lo > thr else UNDECIDED
    return HOLDS if lo >= thr else FAILS if hi < thr else UNDECIDED


def _point(claim: BoundClaim, p: dict):
    from ..numerics.worst_case import SpectrumClass, worst_case
    lr = evaluate(claim.lr, p, "lr")
    mom = evaluate(claim.momentum, p, "momentum")
    c = evaluate(claim.bound, p, "bound")
    cls = SpectrumClass(claim.model, float(p["mu"]), float(p["L"]), int(p["d"]), p.get("kappa_bar"))
    wc = worst_case(claim.method, cls, p["B"], lr, mom, certify=True)
    lo, hi = float(wc.lower_interval[0]), float(wc.upper)
    thr = _rho_threshold(claim, c)
    return wc, lo, hi, c, thr, _verdict(claim, lo, hi, thr)


def _round_sig(x: float, n: int) -> float:
    return float(f"{x:.{n}g}")


def _counterexample(claim: BoundClaim, p: dict, wc) -> dict:
    """Shrink a failing point: the smallest d (2, 3, ... up to the point's d) whose certified worst
    instance still violates the claim (evaluated at that d), then the instance's interior eigenvalues
    rounded to as few significant digits as still fail; its rate certified by the rate engine (arb)."""
    from ..numerics.rates import spectral_radius
    from ..numerics.worst_case import SpectrumClass, worst_case
    best = (p, wc)
    for d in list(range(2, min(int(p["d"]), 9))):
        q = dict(p, d=d)
        try:
            cls = SpectrumClass(claim.model, float(q["mu"]), float(q["L"]), d, q.get("kappa_bar"))
        except InputError:
            continue
        w2, lo, hi, c, thr, v = _point(claim, q)
        if v == FAILS:
            best = (q, w2)
            break
    q, w = best
    thr = _rho_threshold(claim, evaluate(claim.bound, q, "bound"))
    spec = list(w.instance)
    mu, L = float(q["mu"]), float(q["L"])
    cls = w.cls
    candidates = []
    if cls.trace() is None:
        for n in (1, 2, 3, 4, 6):
            s = [v if v in (mu, L) else min(max(_round_sig(v, n), mu), L) for v in spec]
            candidates.append(s)
    candidates.append(spec)
    lr, mom = evaluate(claim.lr, q, "lr"), evaluate(claim.momentum, q, "momentum")
    for s in candidates:
        if not cls.contains(s):
            continue
        r = spectral_radius(claim.method, cls.sampling_model(s), q["B"], lr, mom, certify=True)
        lo, hi = float(r.interval[0]), float(r.interval[1])
        if lo > thr:
            return {"spectrum": sorted(s), "lr": lr, "momentum": mom,
                    "batch": "inf" if q["B"] == math.inf else int(q["B"]),
                    "interval": [lo, hi], "claimed": thr, "params": _jsonable(q),
                    "model": claim.model, "method": claim.method}
    return None


def _jsonable(p: dict) -> dict:
    return {k: ("inf" if v == math.inf else v) for k, v in p.items()}


@dataclass
class BoundCheckResult:
    verdict: str
    points: list
    counterexample: dict | None
    claim: BoundClaim

    def to_json(self) -> dict:
        return {"verdict": self.verdict, "points": self.points, "counterexample": self.counterexample,
                "bound": self.claim.text.get("bound"), "method": self.claim.method, "model": self.claim.model,
                "note": NOT_A_PROOF}


def check_bound(claim: BoundClaim) -> BoundCheckResult:
    """Certified worst case at every grid point; verdict holds | fails | undecided; a shrunk certified
    counterexample for a failing universal (``<=``) claim.

    >>> c = load_claim({"method": "sgd", "lr": "B/(B + d + 1)", "bound": "rho <= (d + 1)/(B + d + 1) + 1/10^9",
    ...                 "grid": {"mu": [1], "L": [1], "d": [3], "B": [4]}})
    >>> check_bound(c).verdict
    'holds'
    """
    points, first_fail = [], None
    for p in grid_points(claim):
        wc, lo, hi, c, thr, v = _point(claim, p)
        points.append({"params": _jsonable(p), "lower": lo, "upper": hi, "claimed": c,
                       "claimed_rho": thr, "verdict": v, "instance": wc.to_json()["instance"]["distinct"],
                       "lr": wc.lr, "momentum": wc.momentum})
        if v == FAILS and first_fail is None:
            first_fail = (p, wc)
    vs = [pt["verdict"] for pt in points]
    verdict = FAILS if FAILS in vs else UNDECIDED if UNDECIDED in vs else HOLDS
    cex = None
    if first_fail is not None and claim.op == "<=":
        cex = _counterexample(claim, *first_fail)
    return BoundCheckResult(verdict, points, cex, claim)


def bound_check(path) -> BoundCheckResult:
    """Read a claim file and check it (the API of ``momentum-verify bound-check``)."""
    return check_bound(read_claim_file(path))
