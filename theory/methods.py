"""Methods as state-space triples (A, b, c) in named parameters (MATH.md §3), any state size s >= 1.

With a state z_k of s stacked copies of the error (for the built-ins z_k = (e_k, e_{k-1})):

    z_{k+1} = (A ⊗ I) z_k + (b ⊗ I) u_k,   y_k = (c^T ⊗ I) z_k,   u_k = G_B y_k.

A method is data: a name, its parameters (``eta`` is the step ``--lr``, ``beta`` the momentum
``--momentum``; any others come by ``--param NAME=VALUE``), each with a range, and A, b, c (and an
optional initial state) as formula strings read by the whitelist parser :mod:`theory.parse` (never
eval). The built-in methods below and the TOML method files of :mod:`theory.method_file` go through
the same constructor, :meth:`Method.from_data`. Every operator, kernel and simulator is derived from
the triple.

>>> m = Method.from_data({"name": "gd", "parameters": ["eta"], "A": [["1"]], "b": ["-eta"], "c": ["1"]})
>>> m.s, m.parameters
(1, ('eta',))
>>> m.block(2)
Matrix([[1 - 2*eta]])
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from .errors import InputError
from .lazy import LazyModule

# SymPy and the parser load on first use: a built-in method (:class:`BuiltinMethod`) answers its name,
# parameters and state size without them, so the numeric fast paths never import SymPy
sp = LazyModule("sympy")
_symbols = LazyModule(f"{__package__}.symbols")


def parse_expression(text, names, param="formula"):
    """:func:`theory.parse.parse_expression` (imported on first use)."""
    from .parse import parse_expression as parse
    return parse(text, names, param)


#: names a parameter may not take: the spectral variable, eigenvalues, batch factor, trace, the
#: initial error and the functions of the parser (they would collide inside the derivations)
RESERVED = frozenset({"z", "lambda", "lam", "lambda_i", "lambda_j", "f_B", "tau", "B", "e0",
                      "sqrt", "log", "exp", "ln", "inf", "oo", "pi", "E", "I"})
_NAME = re.compile(r"[A-Za-z_][A-Za-z_0-9]*\Z")
_INTERVAL = re.compile(r"\s*([\[(])\s*([^,]+?)\s*,\s*([^,]+?)\s*([\])])\s*\Z")
#: default ranges: a step is positive, a momentum lies in [0, 1); other parameters are any real
DEFAULT_RANGES = {"eta": "(0, inf)", "beta": "[0, 1)"}


def _e0():
    """The initial error e0 as a symbol (in ``init`` formulas)."""
    return sp.Symbol("e0")


def parameter_symbol(name: str, lo=None) -> sp.Symbol:
    """The SymPy symbol of a parameter: ``eta`` and ``beta`` are the shared ones of :mod:`theory.symbols`;
    others are positive / nonnegative / real according to the lower end ``lo`` of their range."""
    if name == "eta":
        return _symbols.eta
    if name == "beta":
        return _symbols.beta
    if lo is not None and lo.is_number and lo > 0:
        return sp.Symbol(name, positive=True)
    if lo is not None and lo.is_number and lo >= 0:
        return sp.Symbol(name, nonnegative=True)
    return sp.Symbol(name, real=True)


@dataclass(frozen=True)
class Range:
    """An interval of allowed values of one parameter, e.g. ``[0, 1)`` (``inf`` allowed as an end)."""

    lo: sp.Expr
    hi: sp.Expr
    lo_closed: bool
    hi_closed: bool

    @classmethod
    def parse(cls, text: str, param: str = "range") -> "Range":
        """Read ``'[lo, hi]'``, ``'(lo, hi)'``, ``'[lo, hi)'`` or ``'(lo, hi]'`` (ends: numbers, sqrt(.), inf).

        >>> Range.parse("[0, 1)", "beta")
        Range.parse('[0, 1)')
        """
        m = _INTERVAL.match(text) if isinstance(text, str) else None
        if not m:
            raise InputError(param, f"range must be an interval like '[0, 1)' or '(0, inf)', got {text!r}")
        ends = []
        for t in (m.group(2), m.group(3)):
            t = t.strip()
            if t.lower() in ("inf", "+inf", "-inf"):
                ends.append(-sp.oo if t.startswith("-") else sp.oo)
                continue
            v = parse_expression(t, {}, param)
            if not (v.is_number and v.is_real):
                raise InputError(param, f"range end {t!r} is not a real number")
            ends.append(v)
        lo, hi = ends
        if not lo < hi:
            raise InputError(param, f"empty range {text!r}")
        return cls(lo, hi, m.group(1) == "[" and lo.is_finite, m.group(4) == "]" and hi.is_finite)

    def __str__(self) -> str:
        def end(v):
            return "inf" if v == sp.oo else "-inf" if v == -sp.oo else str(v)
        return f"{'[' if self.lo_closed else '('}{end(self.lo)}, {end(self.hi)}{']' if self.hi_closed else ')'}"

    def __repr__(self) -> str:
        return f"Range.parse({str(self)!r})"

    def contains(self, value) -> bool:
        """Whether an exact or float value lies in the interval."""
        v = sp.nsimplify(value) if isinstance(value, float) else sp.sympify(value)
        above = v >= self.lo if self.lo_closed else v > self.lo
        below = v <= self.hi if self.hi_closed else v < self.hi
        return bool(above) and bool(below)


def _as_tuple_of_pairs(d):
    return tuple(d.items()) if isinstance(d, dict) else tuple(d)


@dataclass(frozen=True)
class Method:
    """A first-order method with one stochastic-gradient feedback per step.

    Attributes
    ----------
    name : registry name (``sgd``, ``heavy-ball``, ``nesterov``, ``sgdm``) or the file's ``name``.
    A, b, c : ImmutableMatrix of shapes (s, s), (s, 1), (s, 1), entries in the parameters.
    update : the update rule in words.
    uses_momentum : whether the triple depends on ``beta`` (tuned over (eta, beta) or eta alone).
    parameters : parameter names (default: the free symbols of the triple, eta and beta first).
    ranges : ``((name, Range), ...)`` for every parameter.
    init : None (the initial state is e0 in every block) or an (s, 1) ImmutableMatrix w with
        z_0 = w ⊗ e0 (e.g. (1, 0) for a state (e, m) starting with zero momentum).
    defaults : ``((name, value), ...)``: values used for parameters beyond eta and beta not given.
    bound : ``((name, value), ...)``: parameters already substituted by :meth:`bind`.

    Validated on construction: shapes, s >= 1, free symbols of A, b, c, init among the parameters.
    """

    name: str
    A: sp.ImmutableMatrix
    b: sp.ImmutableMatrix
    c: sp.ImmutableMatrix
    update: str
    uses_momentum: bool = True
    parameters: tuple = None
    ranges: tuple = field(default=None, compare=False)
    init: sp.ImmutableMatrix = None
    defaults: tuple = field(default=(), compare=False)
    bound: tuple = ()

    def __post_init__(self):
        A, b, c = self.A, self.b, self.c
        for key, M in (("A", A), ("b", b), ("c", c)):
            if not isinstance(M, sp.MatrixBase):
                raise InputError(key, f"must be a SymPy matrix, got {type(M).__name__}")
        s = A.shape[0]
        if s < 1 or A.shape != (s, s):
            raise InputError("A", f"must be square s x s with s >= 1, got shape {A.shape[0]} x {A.shape[1]}")
        if b.shape != (s, 1):
            raise InputError("b", f"must have {s} entries (the state size of A), got shape {b.shape}")
        if c.shape != (s, 1):
            raise InputError("c", f"must have {s} entries (the state size of A), got shape {c.shape}")
        if self.init is not None and self.init.shape != (s, 1):
            raise InputError("init", f"must have {s} entries (the state size of A), got shape {self.init.shape}")
        used = set().union(*(M.free_symbols for M in (A, b, c) + ((self.init,) if self.init is not None else ())))
        if self.parameters is None:
            names = sorted({x.name for x in used}, key=lambda n: (n != "eta", n != "beta", n))
            object.__setattr__(self, "parameters", tuple(names))
        else:
            object.__setattr__(self, "parameters", tuple(self.parameters))
            unknown = sorted({x.name for x in used} - set(self.parameters))
            if unknown:
                raise InputError("parameters", f"the triple uses {', '.join(unknown)}, which are not "
                                               f"declared parameters ({', '.join(self.parameters) or 'none'})")
        if self.ranges is None:
            object.__setattr__(self, "ranges", tuple((p, Range.parse(DEFAULT_RANGES.get(p, "(-inf, inf)"), p))
                                                     for p in self.parameters))
        object.__setattr__(self, "defaults", _as_tuple_of_pairs(self.defaults))
        object.__setattr__(self, "bound", _as_tuple_of_pairs(self.bound))

    # ----------------------------------------------------------------------------------------------
    @classmethod
    def from_data(cls, data: dict, where: str = "method") -> "Method":
        """The one constructor of methods from data (built-ins and TOML files alike).

        ``data`` has ``name``, ``parameters`` (list of names), ``A`` (s lists of s formula strings),
        ``b`` and ``c`` (s formula strings) and optionally ``init`` (s strings in ``e0``, e.g.
        ``["e0", "0"]``), ``ranges`` ({name: "[lo, hi)"}), ``defaults`` ({name: "0.7"}), ``update``
        (words), ``reference``. Formulas are read by :func:`theory.parse.parse_expression` with the
        parameters as the only names. ``where`` prefixes the key in error messages.
        """
        if not isinstance(data, dict):
            raise InputError(where, "a method is a table of keys")
        for key in ("name", "parameters", "A", "b", "c"):
            if key not in data:
                raise InputError(f"{where}.{key}" if where != "method" else key, "missing (a method needs "
                                 "name, parameters, A, b, c)")
        name = data["name"]
        if not isinstance(name, str) or not name.strip():
            raise InputError(_k(where, "name"), f"must be a non-empty string, got {name!r}")
        params = data["parameters"]
        if not isinstance(params, list) or not all(isinstance(p, str) for p in params):
            raise InputError(_k(where, "parameters"), "must be a list of names, e.g. [\"eta\", \"beta\", \"nu\"]")
        for p in params:
            if not _NAME.match(p) or p in RESERVED or re.fullmatch(r"x\d+", p):
                raise InputError(_k(where, "parameters"), f"{p!r} is not allowed as a parameter name "
                                 f"(identifiers only; reserved: {', '.join(sorted(RESERVED))}, x0, x1, ...)")
        if len(set(params)) != len(params):
            raise InputError(_k(where, "parameters"), f"duplicate names in {params}")
        ranges_in = data.get("ranges", {})
        if not isinstance(ranges_in, dict):
            raise InputError(_k(where, "ranges"), "must be a table {name = \"[lo, hi)\"}")
        for p in ranges_in:
            if p not in params:
                raise InputError(_k(where, f"ranges.{p}"), f"not a declared parameter ({', '.join(params)})")
        ranges = {p: Range.parse(ranges_in.get(p, DEFAULT_RANGES.get(p, "(-inf, inf)")), _k(where, f"ranges.{p}"))
                  for p in params}
        names = {p: parameter_symbol(p, ranges[p].lo) for p in params}

        def formula(text, key):
            if isinstance(text, (int, float)) and not isinstance(text, bool):
                text = repr(text)
            if not isinstance(text, str):
                raise InputError(key, f"must be a formula string, got {text!r}")
            return parse_expression(text, names, key)

        A = data["A"]
        if not isinstance(A, list) or not A or not all(isinstance(r, list) for r in A):
            raise InputError(_k(where, "A"), "must be a list of rows, e.g. [[\"1\", \"-eta\"], [\"0\", \"beta\"]]")
        s = len(A)
        for i, row in enumerate(A):
            if len(row) != s:
                raise InputError(_k(where, "A"), f"must be square: row {i} has {len(row)} entries, expected {s}")
        vecs = {}
        for key in ("b", "c") + (("init",) if "init" in data else ()):
            v = data[key]
            if not isinstance(v, list) or len(v) != s:
                got = len(v) if isinstance(v, list) else type(v).__name__
                raise InputError(_k(where, key), f"must be a list of {s} entries (the size of A), got {got}")
            vecs[key] = v
        Am = sp.ImmutableMatrix([[formula(x, f"{_k(where, 'A')}[{i}][{j}]") for j, x in enumerate(row)]
                                 for i, row in enumerate(A)])
        bm = sp.ImmutableMatrix([formula(x, f"{_k(where, 'b')}[{i}]") for i, x in enumerate(vecs["b"])])
        cm = sp.ImmutableMatrix([formula(x, f"{_k(where, 'c')}[{i}]") for i, x in enumerate(vecs["c"])])
        init = None
        if "init" in vecs:
            init = sp.ImmutableMatrix([_init_coefficient(x, {**names, "e0": _e0()}, f"{_k(where, 'init')}[{i}]")
                                       for i, x in enumerate(vecs["init"])])
        defaults = {}
        dflt = data.get("defaults", {})
        if not isinstance(dflt, dict):
            raise InputError(_k(where, "defaults"), "must be a table {name = \"value\"}")
        for p, v in dflt.items():
            key = _k(where, f"defaults.{p}")
            if p not in params:
                raise InputError(key, f"not a declared parameter ({', '.join(params)})")
            val = formula(v, key)
            if val.free_symbols or not val.is_real:
                raise InputError(key, f"must be a real number, got {v!r}")
            if not ranges[p].contains(val):
                raise InputError(key, f"must lie in {ranges[p]}, got {v}")
            defaults[p] = val
        update = data.get("update", "")
        if not isinstance(update, str):
            raise InputError(_k(where, "update"), "must be a string")
        return cls(name.strip(), Am, bm, cm, update, uses_momentum="beta" in params, parameters=tuple(params),
                   ranges=tuple((p, ranges[p]) for p in params), init=init, defaults=tuple(defaults.items()))

    # ----------------------------------------------------------------------------------------------
    @property
    def s(self) -> int:
        """Number of stacked copies of the error in the state."""
        return self.A.shape[0]

    def symbol(self, name: str) -> sp.Symbol:
        """The symbol of parameter ``name`` as the triple uses it."""
        for x in self.A.free_symbols | self.b.free_symbols | self.c.free_symbols:
            if x.name == name:
                return x
        return parameter_symbol(name, self.range(name).lo if name in dict(self.ranges) else None)

    def range(self, name: str) -> Range:
        """The declared range of parameter ``name``."""
        r = dict(self.ranges).get(name)
        if r is None:
            raise InputError("param", f"method {self.name} has no parameter {name!r} "
                                      f"(its parameters: {', '.join(self.parameters) or 'none'})")
        return r

    def in_range(self, name: str, value, key: str) -> bool:
        """Whether a user value (text or number, read exactly) lies in the declared range of ``name``;
        ``key`` names the value in errors."""
        return self.range(name).contains(_exact_value(value, key))

    @property
    def extra_parameters(self) -> tuple:
        """Parameters beyond the step ``eta`` and the momentum ``beta`` (given by ``--param``)."""
        return tuple(p for p in self.parameters if p not in ("eta", "beta"))

    def block(self, lam) -> sp.Matrix:
        """First-moment block ``A + lam b c^T``: the deterministic method on one eigen-direction."""
        return sp.Matrix(self.A + lam * self.b * self.c.T)

    def init_vector(self) -> sp.ImmutableMatrix:
        """w with z_0 = w ⊗ e0 (all ones unless the method gives ``init``)."""
        return sp.ImmutableMatrix([1] * self.s) if self.init is None else self.init

    def at(self, **values) -> "Method":
        """The triple with some symbols substituted (e.g. ``beta=0``); values may be expressions, whose
        free symbols become parameters. No range check (see :meth:`bind` for user values)."""
        syms = self.A.free_symbols | self.b.free_symbols | self.c.free_symbols
        if self.init is not None:
            syms |= self.init.free_symbols
        by_name = {x.name: x for x in syms}
        subs = {by_name.get(k, sp.Symbol(k, **_ASSUMPTIONS.get(k, {}))): v for k, v in values.items()}
        new = [p for p in self.parameters if p not in values]
        for v in values.values():
            for x in sorted(getattr(sp.sympify(v), "free_symbols", ()), key=lambda x: x.name):
                if x.name not in new:
                    new.append(x.name)
        ranges = tuple((p, r) for p, r in self.ranges if p in new)
        ranges += tuple((p, Range.parse(DEFAULT_RANGES.get(p, "(-inf, inf)"), p)) for p in new
                        if p not in dict(ranges))
        init = None if self.init is None else self.init.subs(subs)
        return Method(self.name, self.A.subs(subs), self.b.subs(subs), self.c.subs(subs), self.update,
                      self.uses_momentum, parameters=tuple(new), ranges=ranges, init=init,
                      defaults=tuple((p, v) for p, v in self.defaults if p in new), bound=self.bound)

    def bind(self, **values) -> "Method":
        """Substitute user values (numbers) for parameters, checked against their declared ranges.

        The name records them: ``qhm[nu=7/10]``. Floats are read exactly (their binary value).

        >>> from momentum_verify.theory.methods import get_method
        >>> get_method("heavy-ball").bind(beta="1/2").name
        'heavy-ball[beta=1/2]'
        """
        subs = {}
        for k, v in values.items():
            r = self.range(k)
            val = _exact_value(v, k)
            if not r.contains(val):
                raise InputError(k, f"must lie in {r} (the declared range of {k} in method {self.name}), got {v}")
            subs[k] = val
        if not subs:
            return self
        m = self.at(**subs)
        label = ",".join(f"{k}={v}" for k, v in subs.items())
        name = f"{self.name[:-1]},{label}]" if self.bound and self.name.endswith("]") else f"{self.name}[{label}]"
        return Method(name, m.A, m.b, m.c, m.update, m.uses_momentum and "beta" in m.parameters,
                      parameters=m.parameters, ranges=m.ranges,
                      init=m.init, defaults=m.defaults, bound=self.bound + tuple(subs.items()))

    def as_momentum_axis(self, name: str) -> "Method":
        """The method with parameter ``name`` renamed to ``beta``: tuning over (lr, momentum) then tunes
        over (eta, name) (bind the real momentum first, e.g. ``qhm.bind(beta=0.9).as_momentum_axis("nu")``).
        """
        if "beta" in self.parameters:
            raise InputError("momentum", f"method {self.name} still has its momentum beta: bind it first")
        r = self.range(name)
        m = self.at(**{name: _symbols.beta})
        ranges = tuple((p, r if p == "beta" else q) for p, q in m.ranges)
        return Method(f"{self.name}(momentum={name})", m.A, m.b, m.c, m.update, True, parameters=m.parameters,
                      ranges=ranges, init=m.init, defaults=m.defaults, bound=self.bound)

    def with_defaults(self) -> "Method":
        """:meth:`bind` the declared defaults of parameters not yet given."""
        return self.bind(**{p: v for p, v in self.defaults if p in self.parameters})

    def to_data(self) -> dict:
        """The method as data (the keys of a method file; formulas as strings that parse back)."""
        out = {"name": self.name, "parameters": list(self.parameters),
               "A": [[str(self.A[i, j]) for j in range(self.s)] for i in range(self.s)],
               "b": [str(x) for x in self.b], "c": [str(x) for x in self.c],
               "ranges": {p: str(r) for p, r in self.ranges}}
        if self.init is not None:
            out["init"] = [str(w * _e0()) for w in self.init]
        if self.defaults:
            out["defaults"] = {p: str(v) for p, v in self.defaults}
        if self.update:
            out["update"] = self.update
        return out

    def __hash__(self):
        # name, parameters and what was bound (equal methods agree on them): cheap, and a built-in
        # method hashes without building its triple
        return hash((self.name, self.parameters, self.bound))

    def __repr__(self) -> str:
        return (f"Method({self.name!r}, s={self.s}, parameters={self.parameters}, A={list(map(list, self.A.tolist()))}, "
                f"b={list(self.b)}, c={list(self.c)})")


def _k(where: str, key: str) -> str:
    return key if where == "method" else f"{where}.{key}"


def _init_coefficient(text, names, key):
    """w with ``text`` = w * e0 (linear in e0, no constant term)."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        text = repr(text)
    if not isinstance(text, str):
        raise InputError(key, f"must be a formula string in e0, got {text!r}")
    e0 = _e0()
    e = sp.expand(parse_expression(text, names, key))
    w = sp.diff(e, e0)
    if w.has(e0) or sp.simplify(e - w * e0) != 0:
        raise InputError(key, f"must be a multiple of e0 (the initial error), e.g. 'e0' or '0', got {text!r}")
    return w


def _exact_value(v, key):
    from .parse import parse_number_exact
    if isinstance(v, bool):
        raise InputError(key, f"must be a number, got {v!r}")
    if isinstance(v, str):
        return parse_number_exact(v, key)
    if isinstance(v, float):
        if v != v or v in (float("inf"), float("-inf")):
            raise InputError(key, f"must be finite, got {v!r}")
        return sp.Rational(*v.as_integer_ratio())
    if isinstance(v, int):
        return sp.Integer(v)
    val = sp.sympify(v) if isinstance(v, sp.Basic) else None
    if val is None:
        try:
            from fractions import Fraction
            f = Fraction(v)
            return sp.Rational(f.numerator, f.denominator)
        except (TypeError, ValueError):
            raise InputError(key, f"must be a number, got {v!r}") from None
    if val.free_symbols or not val.is_real:
        raise InputError(key, f"must be a real number, got {v!r}")
    return val


exact_value = _exact_value     # public name: a user value (str, int, float, Fraction, SymPy) as an exact number

_ASSUMPTIONS = {"eta": {"positive": True}, "beta": {"nonnegative": True}}


# --------------------------------------------------------------------------------------------------
# the built-in methods: the same data a method file holds, through the same constructor
# --------------------------------------------------------------------------------------------------
BUILTIN_DATA = [
    {"name": "sgd", "parameters": ["eta"],
     "A": [["1", "0"], ["1", "0"]], "b": ["-eta", "0"], "c": ["1", "0"],
     "update": "x+ = x - eta g(x)"},
    {"name": "heavy-ball", "parameters": ["eta", "beta"],
     "A": [["1 + beta", "-beta"], ["1", "0"]], "b": ["-eta", "0"], "c": ["1", "0"],
     "update": "x+ = x - eta g(x) + beta (x - x-)"},
    {"name": "nesterov", "parameters": ["eta", "beta"],
     "A": [["1 + beta", "-beta"], ["1", "0"]], "b": ["-eta", "0"], "c": ["1 + beta", "-beta"],
     "update": "y = x + beta (x - x-); x+ = y - eta g(y)"},
    {"name": "sgdm", "parameters": ["eta", "beta"],
     "A": [["1 + beta", "-beta"], ["1", "0"]], "b": ["-eta*(1 - beta)", "0"], "c": ["1", "0"],
     "update": "m+ = beta m + (1 - beta) g(x); x+ = x - eta m+  (dampened)"},
]



class BuiltinMethod(Method):
    """A built-in method: the :class:`Method` that ``Method.from_data(data)`` gives, whose triple is read
    (with SymPy) only when first asked for.

    Its name, parameters, ``uses_momentum`` and state size ``s`` come from the data directly, so the
    numeric fast paths (the shipped kernels of :mod:`numerics.generated`, keyed by the name) never
    import SymPy; ``A``, ``b``, ``c``, ``init`` and ``ranges`` (and everything derived from them) are
    those of the full method. One object per name: two built-ins compare by name, and a pickled copy
    comes back as the registry's object. It equals the full method (and hashes like it).

    >>> m = METHODS["heavy-ball"]
    >>> m.name, m.s, m.parameters, m.uses_momentum
    ('heavy-ball', 2, ('eta', 'beta'), True)
    >>> m.A
    Matrix([
    [beta + 1, -beta],
    [       1,     0]])
    """

    def __init__(self, data: dict):                  # pylint: disable=super-init-not-called
        for key, value in (("name", data["name"]), ("update", data.get("update", "")),
                           ("uses_momentum", "beta" in data["parameters"]),
                           ("parameters", tuple(data["parameters"])), ("defaults", ()), ("bound", ()),
                           ("_data", data), ("_full", None)):
            object.__setattr__(self, key, value)

    def full(self) -> Method:
        """The method built through :meth:`Method.from_data` (SymPy; once)."""
        if self._full is None:
            object.__setattr__(self, "_full", Method.from_data(self._data))
        return self._full

    A = property(lambda self: self.full().A, doc="A (s, s), entries in the parameters")
    b = property(lambda self: self.full().b, doc="b (s, 1)")
    c = property(lambda self: self.full().c, doc="c (s, 1)")
    init = property(lambda self: self.full().init, doc="the initial-state weights (None: all ones)")
    ranges = property(lambda self: self.full().ranges, doc="((name, Range), ...) for every parameter")

    @property
    def s(self) -> int:
        """Number of stacked copies of the error in the state (rows of ``A`` in the data)."""
        return len(self._data["A"])

    @property
    def has_init(self) -> bool:
        """Whether the data give an initial state (else all ones)."""
        return "init" in self._data

    def in_range(self, name: str, value, key: str) -> bool:
        """:meth:`Method.in_range` read with Fractions when the range ends and the value are plain
        numbers (no SymPy); otherwise the full method's answer."""
        if name in self.parameters:
            text = self._data.get("ranges", {}).get(name, DEFAULT_RANGES.get(name, "(-inf, inf)"))
            iv, v = _plain_interval(text), _plain_number(value, key)
            if iv is not None and v is not None:
                lo, hi, lo_closed, hi_closed = iv
                above = lo is None or (v >= lo if lo_closed else v > lo)
                below = hi is None or (v <= hi if hi_closed else v < hi)
                return above and below
        return super().in_range(name, value, key)

    def __eq__(self, other):
        if type(other) is BuiltinMethod:
            return self.name == other.name
        if isinstance(other, Method):
            return self.full() == other
        return NotImplemented

    __hash__ = Method.__hash__

    def __reduce__(self):
        return (builtin_method, (self.name,))


def _plain_interval(text: str):
    """(lo, hi, lo_closed, hi_closed) of a range whose ends are plain numbers (Fractions; None for
    -inf / inf), as :meth:`Range.parse` reads it; None when an end is anything else."""
    from .parse_number import parse_fraction
    m = _INTERVAL.match(text)
    if not m:
        return None
    ends = []
    for t, infinite in ((m.group(2).strip(), "-inf"), (m.group(3).strip(), "inf")):
        if t.lower() in (infinite, "+" + infinite if infinite == "inf" else infinite):
            ends.append(None)
            continue
        try:
            ends.append(parse_fraction(t, "range"))
        except InputError:
            return None
    lo, hi = ends
    return lo, hi, m.group(1) == "[" and lo is not None, m.group(4) == "]" and hi is not None


def _plain_number(v, key):
    """A user value as an exact Fraction when it is text, an int, a finite float or a Fraction (the
    value :func:`exact_value` gives); None otherwise (then :func:`exact_value` decides)."""
    import math
    from fractions import Fraction
    from .parse_number import parse_fraction
    if isinstance(v, bool):
        return None
    if isinstance(v, str):
        return parse_fraction(v, key)
    if isinstance(v, int):
        return Fraction(v)
    if isinstance(v, float):
        return Fraction(v) if math.isfinite(v) else None
    if isinstance(v, Fraction):
        return v
    return None


METHODS: dict[str, Method] = {d["name"]: BuiltinMethod(d) for d in BUILTIN_DATA}


def builtin_method(name: str) -> BuiltinMethod:
    """The registry's built-in method ``name`` (what a pickled built-in method unpickles to)."""
    return METHODS[name]


def get_method(name) -> Method:
    """A built-in method by name, a method file by path (``*.toml``), or a :class:`Method` as is.

    Unknown names raise :class:`InputError` listing the choices.
    """
    if isinstance(name, Method):
        return name
    if isinstance(name, str) and name.strip().lower().endswith(".toml"):
        from .method_file import load_method
        return load_method(name.strip())
    try:
        return METHODS[name]
    except (KeyError, TypeError):
        raise InputError("method", f"unknown method {name!r} (choose from {', '.join(METHODS)}, "
                                   "or a method file FILE.toml)") from None
