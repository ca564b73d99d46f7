"""Number literals of the command line and of formulas, read exactly without SymPy: a decimal
(``0.29503``, ``1e-3``) or a fraction ``p/q`` as a :class:`fractions.Fraction`, within the parser's work
limits (:data:`theory.parse_limits.LIMITS`). :func:`theory.parse.parse_number_exact` is this value as a
SymPy Rational; the numeric command line uses the Fraction itself (no SymPy import).

>>> parse_fraction("4/9", "lr"), parse_fraction("0.1", "lr"), parse_fraction("2e-3", "lr")
(Fraction(4, 9), Fraction(1, 10), Fraction(1, 500))
"""
from __future__ import annotations

import re
from fractions import Fraction

from .errors import InputError
from .parse_limits import LIMITS

MAX_MAGNITUDE = Fraction(2) ** 1024 - Fraction(2) ** 970   # the largest double, 1.797e308
_LIMIT_HINT = "raise it with MOMENTUM_VERIFY_LIMITS={name}=N"
_NUMBER = re.compile(r"([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)(?:\s*/\s*(\d+\.?\d*(?:[eE][-+]?\d+)?))?")
_LITERAL = re.compile(r"[-+]?(\d*)\.?(\d*)(?:[eE]([-+]?\d+))?")


def limit_error(param: str, what: str, name: str) -> InputError:
    """The refusal of a value over ``LIMITS[name]``: the message names the limit and how to raise it."""
    return InputError(param, f"{what} (limit {name} = {LIMITS[name]}; {_LIMIT_HINT.format(name=name)})")


def short(x, limit: int = 60) -> str:
    """``x`` as text, cut to ``limit`` characters (messages stay one short line)."""
    t = str(x)
    return repr(t if len(t) <= limit else t[:limit - 3] + "...")


def parse_fraction(text: str, param: str) -> Fraction:
    """A decimal or a fraction 'p/q' as an exact Fraction (decimals are read exactly: 0.1 = 1/10);
    |x| at most the largest double (every numeric route would overflow beyond it)."""
    t = text.strip()
    if len(t) > 2 * LIMITS["literal_digits"] + 40:
        raise limit_error(param, f"number literal of {len(t)} characters is too long", "literal_digits")
    m = _NUMBER.fullmatch(t)
    if not m:
        raise InputError(param, f"not a number: {text!r} (use a decimal like 0.25 or a fraction like 1/4)")
    num = literal(m.group(1), param)
    if m.group(2) is not None:
        den = literal(m.group(2), param)
        if den == 0:
            raise InputError(param, f"division by zero in {text!r}")
        num /= den
    if abs(num) > MAX_MAGNITUDE:
        raise InputError(param, f"{short(t)} is above the double-precision range (|x| <= 1.8e308)")
    return num


def literal(text: str, param: str) -> Fraction:
    """One decimal literal as an exact Fraction, after checking its digits and exponent (``Fraction``
    itself would build 10**999999999 for ``1e999999999``)."""
    m = _LITERAL.fullmatch(text)
    digits = len((m.group(1) + m.group(2)).lstrip("0")) if m else len(text)
    if digits > LIMITS["literal_digits"]:
        raise limit_error(param, f"number with {digits} digits", "literal_digits")
    if m and m.group(3) is not None:
        exp = m.group(3).lstrip("+-").lstrip("0")
        if len(exp) > 6 or int(exp or 0) > LIMITS["literal_exponent"]:
            raise limit_error(param, f"exponent e{m.group(3)} is too large", "literal_exponent")
    return Fraction(text)
