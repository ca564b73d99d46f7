"""A whitelist parser for user formulas: numbers, named symbols, + - * / ^ **, parentheses, and a few
functions. Builds SymPy objects directly; never calls eval or sympify on user text.

Grammar::

    expr   := term (('+' | '-') term)*
    term   := factor (('*' | '/') factor)*
    factor := ('+' | '-') factor | power
    power  := atom (('^' | '**') factor)?
    atom   := NUMBER | NAME | NAME '(' expr ')' | '(' expr ')'

Bounded work (hostile input): the text is at most ``LIMITS["formula_length"]`` characters, nests at most
``LIMITS["formula_depth"]`` levels (parentheses, unary signs, exponents), number literals carry at most
``LIMITS["literal_digits"]`` digits and a decimal exponent of at most ``LIMITS["literal_exponent"]``, and a
power is refused before it is built when its exponent is a number larger than ``LIMITS["power_exponent"]``
in magnitude or its exact value would exceed ``LIMITS["power_digits"]`` digits (so ``9^9^9^9`` is refused
at once instead of computing 9^387420489). Every refusal is an :class:`InputError` naming the limit;
``momentum_verify.verify.limits`` documents them and overrides them (``MOMENTUM_VERIFY_LIMITS``).
"""
from __future__ import annotations

import math
import re
from fractions import Fraction

import sympy as sp

from .errors import InputError

FUNCTIONS = {"sqrt": sp.sqrt, "log": sp.log, "exp": sp.exp, "ln": sp.log, "min": sp.Min, "max": sp.Max}
VARIADIC = {"min", "max"}          # functions taking two or more comma-separated arguments
from .parse_limits import LIMITS  # noqa: E402  (a SymPy-free module, so the CLI reads it cheaply)
from .parse_number import MAX_MAGNITUDE as _MAX_MAGNITUDE, limit_error, parse_fraction  # noqa: E402,F401
from .parse_number import literal as _literal, short as _short  # noqa: E402,F401


_TOKEN = re.compile(r"\s*(?:(\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)|([A-Za-z_][A-Za-z_0-9]*)|(\*\*|[-+*/^(),]))")


def _tokenize(text: str, param: str):
    pos, out = 0, []
    text = text.strip()
    if len(text) > LIMITS["formula_length"]:
        raise limit_error(param, f"formula of {len(text)} characters is too long", "formula_length")
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise InputError(param, f"unexpected character {text[pos]!r} at position {pos} in {text!r}")
        num, name, op = m.groups()
        out.append(("num", num) if num else ("name", name) if name else ("op", op))
        pos = m.end()
    return out


def parse_number_exact(text: str, param: str) -> sp.Rational:
    """A decimal or a fraction 'p/q' as an exact Rational (decimals are read exactly: 0.1 = 1/10);
    the value of :func:`theory.parse_number.parse_fraction`."""
    num = parse_fraction(text, param)
    return sp.Rational(num.numerator, num.denominator)


def _within(x: sp.Expr, bound: float) -> bool:
    """True when the real number ``x`` is at most ``bound`` in magnitude (evaluated at low precision)."""
    try:
        return abs(float(sp.N(x, 15))) <= bound
    except (TypeError, ValueError, OverflowError):
        return False


def _power_digits(base: sp.Expr, exp: sp.Expr) -> float:
    """Decimal digits of the exact value of ``base ** exp`` for numeric rationals (an upper estimate)."""
    bits = max(int(base.p).bit_length(), int(base.q).bit_length())
    return bits * math.log10(2) * float(abs(exp))


class _Parser:
    def __init__(self, tokens, names, param, text):
        self.toks, self.i, self.names, self.param, self.text = tokens, 0, names, param, text
        self.depth = 0

    def enter(self):
        self.depth += 1
        if self.depth > LIMITS["formula_depth"]:
            raise limit_error(self.param, f"formula nested deeper than {LIMITS['formula_depth']} levels",
                              "formula_depth")

    def peek(self):
        return self.toks[self.i] if self.i < len(self.toks) else (None, None)

    def take(self, value=None):
        tok = self.peek()
        if tok[0] is None or (value is not None and tok[1] != value):
            want = repr(value) if value else "more input"
            raise InputError(self.param, f"expected {want} in {self.text!r}")
        self.i += 1
        return tok

    def expr(self):
        v = self.term()
        while self.peek()[1] in ("+", "-"):
            op = self.take()[1]
            w = self.term()
            v = v + w if op == "+" else v - w
        return v

    def term(self):
        v = self.factor()
        while self.peek()[1] in ("*", "/"):
            op = self.take()[1]
            w = self.factor()
            if op == "/" and w.is_number and w == 0:
                raise InputError(self.param, f"division by zero in {_short(self.text)}")
            v = v * w if op == "*" else v / w
        return v

    def factor(self):
        self.enter()
        try:
            if self.peek()[1] in ("+", "-"):
                op = self.take()[1]
                v = self.factor()
                return v if op == "+" else -v
            return self.power()
        finally:
            self.depth -= 1

    def power(self):
        v = self.atom()
        if self.peek()[1] in ("^", "**"):
            self.take()
            return self.pow(v, self.factor())
        return v

    def pow(self, base, exp):
        """``base ** exp``, refused before it is built when the exponent or the exact value is too large."""
        if exp.is_number:
            if exp.is_Rational and abs(exp) > LIMITS["power_exponent"]:
                raise limit_error(self.param, f"exponent {_short(exp)} is too large in {_short(self.text)}",
                                  "power_exponent")
            if not exp.is_Rational and exp.is_real and not _within(exp, LIMITS["power_exponent"]):
                raise limit_error(self.param, f"exponent {_short(exp)} is too large in {_short(self.text)}",
                                  "power_exponent")
            if base.is_Rational and exp.is_Rational and _power_digits(base, exp) > LIMITS["power_digits"]:
                raise limit_error(self.param, f"{_short(base)}^{_short(exp)} has more than "
                                              f"{LIMITS['power_digits']} digits in {_short(self.text)}",
                                  "power_digits")
        return base ** exp

    def atom(self):
        kind, val = self.take()
        if kind == "num":
            return parse_number_exact(val, self.param)
        if kind == "name":
            if val in FUNCTIONS and self.peek()[1] == "(":
                self.take("(")
                args = [self.expr()]
                while val in VARIADIC and self.peek()[1] == ",":
                    self.take(",")
                    args.append(self.expr())
                self.take(")")
                if val in VARIADIC and len(args) < 2:
                    raise InputError(self.param, f"{val}() needs at least two arguments in {self.text!r}")
                if val == "exp" and args[0].is_number and args[0].is_real is not False \
                        and not _within(args[0], LIMITS["power_exponent"]):
                    raise limit_error(self.param, f"exp of {_short(args[0])} is too large in {_short(self.text)}",
                                      "power_exponent")
                return FUNCTIONS[val](*args)
            if val not in self.names:
                allowed = ", ".join(sorted(self.names)) or "none"
                raise InputError(self.param, f"unknown name {val!r} in {self.text!r} (allowed: {allowed})")
            return self.names[val]
        if val == "(":
            self.enter()
            v = self.expr()
            self.take(")")
            self.depth -= 1
            return v
        raise InputError(self.param, f"unexpected {val!r} in {self.text!r}")


def parse_expression(text: str, names: dict[str, sp.Basic], param: str = "formula") -> sp.Expr:
    """Parse ``text`` into a SymPy expression using only the given names and ``FUNCTIONS``."""
    if not isinstance(text, str) or not text.strip():
        raise InputError(param, "empty formula")
    p = _Parser(_tokenize(text, param), names, param, text)
    out = p.expr()
    if p.i != len(p.toks):
        raise InputError(param, f"unexpected {p.toks[p.i][1]!r} in {text!r}")
    return out
