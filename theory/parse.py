"""A whitelist parser for user formulas: numbers, named symbols, + - * / ^ **, parentheses, and a few
functions. Builds SymPy objects directly; never calls eval or sympify on user text.

Grammar::

    expr   := term (('+' | '-') term)*
    term   := factor (('*' | '/') factor)*
    factor := ('+' | '-') factor | power
    power  := atom (('^' | '**') factor)?
    atom   := NUMBER | NAME | NAME '(' expr ')' | '(' expr ')'
"""
from __future__ import annotations

import re
from fractions import Fraction

import sympy as sp

from .errors import InputError

FUNCTIONS = {"sqrt": sp.sqrt, "log": sp.log, "exp": sp.exp, "ln": sp.log, "min": sp.Min, "max": sp.Max}
VARIADIC = {"min", "max"}          # functions taking two or more comma-separated arguments
_TOKEN = re.compile(r"\s*(?:(\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)|([A-Za-z_][A-Za-z_0-9]*)|(\*\*|[-+*/^(),]))")


def _tokenize(text: str, param: str):
    pos, out = 0, []
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise InputError(param, f"unexpected character {text[pos]!r} at position {pos} in {text!r}")
        num, name, op = m.groups()
        out.append(("num", num) if num else ("name", name) if name else ("op", op))
        pos = m.end()
    return out


def parse_number_exact(text: str, param: str) -> sp.Rational:
    """A decimal or a fraction 'p/q' as an exact Rational (decimals are read exactly: 0.1 = 1/10)."""
    t = text.strip()
    m = re.fullmatch(r"([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)(?:\s*/\s*(\d+\.?\d*(?:[eE][-+]?\d+)?))?", t)
    if not m:
        raise InputError(param, f"not a number: {text!r} (use a decimal like 0.25 or a fraction like 1/4)")
    num = Fraction(m.group(1))
    if m.group(2) is not None:
        den = Fraction(m.group(2))
        if den == 0:
            raise InputError(param, f"division by zero in {text!r}")
        num /= den
    return sp.Rational(num.numerator, num.denominator)


class _Parser:
    def __init__(self, tokens, names, param, text):
        self.toks, self.i, self.names, self.param, self.text = tokens, 0, names, param, text

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
            v = v * w if op == "*" else v / w
        return v

    def factor(self):
        if self.peek()[1] in ("+", "-"):
            op = self.take()[1]
            v = self.factor()
            return v if op == "+" else -v
        return self.power()

    def power(self):
        v = self.atom()
        if self.peek()[1] in ("^", "**"):
            self.take()
            return v ** self.factor()
        return v

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
                return FUNCTIONS[val](*args)
            if val not in self.names:
                allowed = ", ".join(sorted(self.names)) or "none"
                raise InputError(self.param, f"unknown name {val!r} in {self.text!r} (allowed: {allowed})")
            return self.names[val]
        if val == "(":
            v = self.expr()
            self.take(")")
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
