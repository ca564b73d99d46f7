"""The result type of the rate engine and the formatting of numbers with stated digits.

A :class:`RateResult` is a value: frozen, validated on construction, and its repr shows exactly the
digits it states (a 30-digit rho prints 30 significant digits, a certified interval prints as an
interval rounded outward), so the repr pastes back.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import mpmath as mp
import numpy as np

EPS = float(np.finfo(float).eps)
ROUTES = ("secular", "dense", "matrix-free", "deterministic")
PRECISIONS = ("double", "mpmath", "arb", "double-double")


def format_digits(x, digits: int) -> str:
    """``x`` rounded to ``digits`` significant digits (``inf`` and ``-inf`` spelled out).

    >>> format_digits(mp.mpf(1) / 3, 5)
    '0.33333'
    >>> format_digits(float("inf"), 3)
    'inf'
    """
    if isinstance(x, float) and math.isinf(x) or (not isinstance(x, float) and mp.isinf(x)):
        return "inf" if x > 0 else "-inf"
    digits = max(1, int(digits))
    with mp.workdps(digits + 10):
        out = mp.nstr(mp.mpf(x), digits, strip_zeros=False, min_fixed=-4, max_fixed=digits + 1)
    return out[:-1] if out.endswith(".") else out


def format_bound(x, digits: int, direction: str) -> str:
    """Decimal string of ``x`` with ``digits`` significant digits rounded outward ("down" or "up").

    >>> format_bound(mp.mpf(2) / 3, 3, "down"), format_bound(mp.mpf(2) / 3, 3, "up")
    ('0.666', '0.667')
    """
    with mp.workdps(digits + 20):
        x = mp.mpf(x)
        if x == 0:
            return "0"
        e = int(mp.floor(mp.log10(abs(x)))) - digits + 1
        q = x / mp.mpf(10) ** e
        q = mp.floor(q) if direction == "down" else mp.ceil(q)
        s = mp.nstr(q * mp.mpf(10) ** e, digits + 2, strip_zeros=True)
        return s


def digits_from_rel(rel) -> int:
    """Correct significant digits guaranteed by a relative error bound ``rel`` (0 to 15).

    >>> digits_from_rel(3e-12), digits_from_rel(1.0)
    (10, 0)
    """
    if not np.isfinite(rel) or rel >= 1:
        return 0
    if rel <= 0:
        return 15
    return int(max(0, min(15, math.floor(-math.log10(rel)) - 1)))


def _as_number(x, digits: int):
    """Decimal strings (as printed by the repr) become mpf at enough precision; numbers stay."""
    if isinstance(x, str):
        with mp.workdps(max(int(digits), 15) + 10):
            return mp.mpf(x)
    return x


@dataclass(frozen=True)
class RateResult:
    """A spectral radius with its guarantee.

    Attributes
    ----------
    rho : mpmath.mpf or float, the spectral radius of T (a decimal string is read at ``digits`` + 10).
    digits : number of correct significant digits of ``rho``.
    interval : (lo, hi) with lo <= rho <= hi proven by interval arithmetic, or None.
    route : "secular", "dense", "matrix-free" or "deterministic".
    precision : "double", "double-double", "mpmath" or "arb".
    notes : remarks on how the value was obtained.

    Examples
    --------
    >>> RateResult(mp.mpf(1) / 4, 5, route="secular", precision="mpmath")
    RateResult(rho='0.25000', digits=5, route='secular', precision='mpmath')
    >>> RateResult('0.25000', 5).K_str()
    '0.72135'
    """

    rho: object
    digits: int
    interval: tuple | None = None
    route: str = "secular"
    precision: str = "double"
    notes: tuple = field(default_factory=tuple)

    def __post_init__(self):
        if isinstance(self.digits, bool) or not isinstance(self.digits, (int, np.integer)) or self.digits < 0:
            raise ValueError(f"digits must be an integer >= 0, got {self.digits!r}")
        object.__setattr__(self, "digits", int(self.digits))
        object.__setattr__(self, "rho", _as_number(self.rho, self.digits))
        if self.interval is not None:
            lo, hi = (_as_number(v, max(self.digits, 20) + 5) for v in self.interval)
            if not lo <= hi:
                raise ValueError(f"interval must have lo <= hi, got {self.interval!r}")
            object.__setattr__(self, "interval", (lo, hi))
        if self.route not in ROUTES:
            raise ValueError(f"route must be one of {ROUTES}, got {self.route!r}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {self.precision!r}")
        object.__setattr__(self, "notes", tuple(self.notes))

    # ---------------------------------------------------------------------------------------------
    def _interval_strings(self):
        lo, hi = self.interval
        nd = max(self.digits + 5, 20)
        return format_bound(lo, nd, "down"), format_bound(hi, nd, "up")

    def __repr__(self) -> str:
        # digits = 0: one digit shown as an estimate (no digit guaranteed, as ``digits=0`` says)
        parts = [f"rho={format_digits(self.rho, max(self.digits, 1))!r}", f"digits={self.digits}"]
        if self.interval is not None:
            parts.append(f"interval={self._interval_strings()!r}")
        parts += [f"route={self.route!r}", f"precision={self.precision!r}"]
        if self.notes:
            parts.append(f"notes={self.notes!r}")
        return f"RateResult({', '.join(parts)})"

    # ---------------------------------------------------------------------------------------------
    def _error(self):
        """Absolute error bar of rho: 10^-digits |rho|."""
        with mp.workdps(self.digits + 20):
            return abs(mp.mpf(self.rho)) * mp.mpf(10) ** (-self.digits)

    @property
    def undecided(self) -> bool:
        """True when rho = 1 lies within rho's stated error bar (decay or growth cannot be told apart)."""
        if self.rho == 1:
            return True
        with mp.workdps(self.digits + 20):
            return abs(mp.mpf(self.rho) - 1) <= self._error()

    @property
    def diverges(self) -> bool:
        """rho > 1 beyond its error bar: E||e_k||^2 grows."""
        return not self.undecided and self.rho > 1

    @property
    def K(self):
        """K = -1/ln(rho): iterations per e-fold of E||e_k||^2.

        ``inf`` when rho = 1 or rho is within its stated error of 1 (no decay measurable), 0 at rho = 0,
        negative when rho > 1 (``diverges``: E||e_k||^2 grows by e every -K iterations; never a
        positive number of iterations)."""
        r = self.rho
        is_float = isinstance(r, float)
        if r == 0:
            return 0.0 if is_float else mp.mpf(0)
        if self.undecided:
            return math.inf if is_float else mp.inf
        if is_float:
            return -1.0 / math.log(r)
        with mp.workdps(self.digits + 15):
            return -1 / mp.log(r)

    def K_digits(self) -> int:
        """Correct digits of K: relative error of K = rel. error of rho / |ln rho| (0 when K = inf)."""
        if self.undecided:
            return 0
        r = float(self.rho)
        if r <= 0:
            return self.digits
        with mp.workdps(self.digits + 20):
            lnr = abs(mp.log(mp.mpf(self.rho)))
        lost = max(0.0, -math.log10(float(lnr)))
        return max(0, int(self.digits - math.ceil(lost)))

    def K_str(self) -> str:
        """K to its correct digits ('inf' when no decay is measurable)."""
        K = self.K
        if isinstance(K, float) and math.isinf(K) or not isinstance(K, float) and mp.isinf(K):
            return "inf"
        return format_digits(K, max(self.K_digits(), 1))

    def to_json(self) -> dict:
        """The JSON of ``momentum-verify rate --json`` (decimal strings to the stated digits).

        ``K`` is "inf" when no decay is measurable; negative when the iteration diverges."""
        out = {"rho": format_digits(self.rho, self.digits), "K": self.K_str(),
               "digits": int(self.digits), "route": self.route, "precision": self.precision}
        if self.interval is not None:
            out["interval"] = list(self._interval_strings())
        return out
