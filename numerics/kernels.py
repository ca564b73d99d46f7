"""Numeric kernels generated from theory's expressions as Python source (no lambdify at run time).

A kernel is a list of SymPy expressions (from :mod:`theory`) printed once as a plain NumPy function,
with common subexpressions shared (``sympy.cse``) and every output polynomial in lambda evaluated by
Horner in lambda (coefficients first, in the parameters only). The generated source is cached in
memory and, keyed by a hash of the expressions, on disk (:func:`cache_dir`), so a later process only
compiles the text.

Built-in methods and noises need no SymPy at all: their kernels are printed once, by
``python -m momentum_verify.numerics.generate`` (:func:`write_generated`), into the modules of
:mod:`numerics.generated` (one per kernel family, :data:`FAMILIES`), which are shipped with the package
and read by :func:`shipped` keyed by the names (``("heavy-ball", "gaussian")``); the tests regenerate
them from theory and compare the text, so the math is still derived once, in theory/.

The kernel used by the tuner (:func:`secular_tuning_kernel`) gives, for phi(z, lambda) = num(z) / den(z)
(theory's secular term, MATH.md §5), the coefficients in z of ``num`` and ``den``, their partial
derivatives in eta and beta, and the coefficients of det(zI - D(lambda)); then

    F(z) = sum_i num_i(z) / den_i(z),   dF/dp = sum_i (num_i,p den_i - num_i den_i,p)(z) / den_i(z)^2,

O(d) each, and the secular root z(eta, beta) (F(z) = 1) has dz/dp = -F_p / F_z.

>>> from momentum_verify.theory.sampling import GAUSSIAN_NOISE
>>> k = secular_tuning_kernel("sgd", GAUSSIAN_NOISE)
>>> out = k(np.array([[1.0]]), np.array([[0.5]]), np.array([[0.0]]), np.array([[1.0]]), np.array([[1.0]]))
>>> [float(c[0, 0]) for c in out["den"]]       # z - (1 - eta)^2 - f_B eta^2 at lambda = 1
[-0.5]
"""
from __future__ import annotations

import importlib
import os
from functools import lru_cache

import numpy as np

GENERATOR_VERSION = "1"

#: the kernel families shipped in numerics/generated/ (one module each) and what they hold per key
FAMILIES = {
    "triple": "(eta, beta) -> A, b, c entries (numerics.operators.triple_kernel)",
    "first_moment": "(lambda, eta, beta) -> det(zI - (A + lambda b c^T)) coefficients "
                    "(operators.first_moment_charpoly_kernel: the deterministic route)",
    "decoupled": "(lambda, eta, beta, f_B, tau) -> D, u, v entries (operators.decoupled_kernel)",
    "secular_grid": "Horner-in-lambda plans of the double secular route "
                    "(operators.secular_grid_kernel, operators.secular_magnitude_kernel)",
    "pair_response": "(z, lambda_i, lambda_j, eta, beta) -> psi and its rounding factor kappa "
                     "(operators.pair_response_kernel, operators.pair_response_error_kernel: matrix-free); "
                     "psi's numerator and denominator coefficients in z (operators.pair_response_z_kernel)",
    "secular_tuning": "the tuner's kernel (secular_tuning_kernel)",
}
#: the families keyed by method alone (the others by method and noise)
METHOD_ONLY = ("triple", "first_moment", "pair_response")


def builtin_key(method, noise=None):
    """("heavy-ball", "gaussian") for a built-in method (and built-in noise), else None: the key of
    the shipped kernels. A method or noise rebuilt from expressions (equal or not) has no key."""
    from ..theory.methods import BuiltinMethod
    from ..theory.sampling import BuiltinNoise
    if type(method) is not BuiltinMethod:
        return None
    if noise is None:
        return (method.name,)
    if type(noise) is not BuiltinNoise:
        return None
    return (method.name, noise.name)


def shipped(family: str, method, noise=None):
    """The shipped kernel of ``family`` for a built-in (method, noise), or None (then derive it)."""
    key = builtin_key(method, noise)
    if key is None:
        return None
    try:
        mod = importlib.import_module(f"{__package__}.generated.{family}")
    except ImportError:                     # a checkout without generated kernels: derive them
        return None
    return mod.KERNELS.get(key)


def cache_dir() -> str | None:
    """Folder for generated kernel sources: $MOMENTUM_VERIFY_CACHE, else ~/.cache/momentum_verify/kernels
    (None when neither can be created: kernels are then generated in memory only)."""
    base = os.environ.get("MOMENTUM_VERIFY_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "momentum_verify")
    path = os.path.join(base, "kernels")
    try:
        os.makedirs(path, exist_ok=True)
    except OSError:
        return None
    return path


# --------------------------------------------------------------------------------------------------
# source generation (SymPy is imported only here)
# --------------------------------------------------------------------------------------------------
def generate_source(name: str, outputs: dict, args, horner=None) -> str:
    """Source of ``def name(*args)`` returning {key: [array, ...]} for ``outputs`` {key: [expr, ...]}.

    ``horner``: a symbol among ``args`` in which every output is a polynomial; each output is then
    evaluated by Horner in it, the coefficients (free of it) being shared subexpressions. Every output
    has the broadcast shape of the arguments.
    """
    import sympy as sp
    from sympy.printing.numpy import NumPyPrinter

    plans, flat = {}, []
    for key, exprs in outputs.items():
        plans[key] = []
        for e in exprs:
            e = sp.expand(e)
            if horner is not None and e.has(horner):
                cs = sp.Poly(e, horner).all_coeffs()
            else:
                cs = [e]
            plans[key].append((len(flat), len(cs)))
            flat.extend(cs)
    subs, reduced = sp.cse(flat, symbols=sp.numbered_symbols("_t"), optimizations="basic")
    pr = NumPyPrinter({"fully_qualified_modules": False, "allow_unknown_functions": False})
    names = [pr.doprint(a) for a in args]
    lines = [f"def {name}({', '.join(names)}):",
             f"    _zero = numpy.zeros(numpy.broadcast({', '.join(names)}).shape)"]
    for s, e in subs:
        lines.append(f"    {pr.doprint(s)} = {pr.doprint(e)}")
    lines.append("    _out = {}")
    hname = pr.doprint(horner) if horner is not None else None
    for key, plan in plans.items():
        items = []
        for start, n in plan:
            cs = [pr.doprint(c) for c in reduced[start:start + n]]
            acc = f"({cs[0]})"
            for c in cs[1:]:
                acc = f"({acc}*{hname} + ({c}))"
            items.append(f"_zero + {acc}")
        lines.append(f"    _out[{key!r}] = [" + ", ".join(items) + "]")
    lines.append("    return _out")
    return "\n".join(lines) + "\n"


def compile_source(src: str, name: str):
    """The function ``name`` defined by ``src`` (generated by :func:`generate_source`)."""
    ns = {"numpy": np}
    exec(compile(src, f"<kernel {name}>", "exec"), ns)   # our own generated text, never user input
    return ns[name]


def _source_key(outputs: dict, args, horner) -> str:
    import hashlib
    import sympy as sp
    text = GENERATOR_VERSION + repr([(k, [sp.srepr(e) for e in v]) for k, v in outputs.items()]) + \
        sp.srepr(tuple(args)) + sp.srepr(horner)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def cached_source(name: str, outputs: dict, args, horner=None) -> str:
    """:func:`generate_source`, read from the disk cache when the same expressions were generated before."""
    key = _source_key(outputs, args, horner)
    folder = cache_dir()
    path = None if folder is None else os.path.join(folder, f"{name}_{key}.py")
    if path and os.path.exists(path):
        with open(path) as fh:
            return fh.read()
    src = generate_source(name, outputs, args, horner)
    if path:
        tmp = f"{path}.{os.getpid()}.tmp"
        try:
            with open(tmp, "w") as fh:
                fh.write(src)
            os.replace(tmp, path)
        except OSError:
            pass
    return src


# --------------------------------------------------------------------------------------------------
# the tuner's kernel: secular coefficients and their derivatives in eta and beta
# --------------------------------------------------------------------------------------------------
def secular_tuning_exprs(method, noise) -> dict:
    """Coefficient lists in z (highest degree first) from theory's secular term phi = num/den:

    ``den`` (monic, leading 1 dropped), ``num`` (divided by den's leading coefficient), ``char``
    (det(zI - D), monic, leading 1 dropped), and ``den_eta``, ``den_beta``, ``num_eta``, ``num_beta``
    (partial derivatives of those coefficients). Expressions in lambda, eta, beta, f_B, tau.
    """
    import sympy as sp
    from ..theory import symbols
    from ..theory.formulas import charpoly
    from ..theory.moments import decoupled_block, secular_term
    from .operators import F_B, as_method

    method = as_method(method)
    z = symbols.z
    num, den = sp.fraction(sp.together(secular_term(method, noise, F_B)))
    P = sp.Poly(sp.expand(den), z)
    lc = P.LC()
    dcoef = [sp.cancel(c / lc) for c in P.all_coeffs()][1:]
    ncoef = [sp.cancel(c / lc) for c in sp.Poly(sp.expand(num), z).all_coeffs()] if num != 0 else [sp.Integer(0)]
    D, _, _ = decoupled_block(method, noise, fB=F_B)
    C = sp.Poly(charpoly(D), z)
    ccoef = [sp.cancel(c / C.LC()) for c in C.all_coeffs()][1:]
    out = {"den": dcoef, "num": ncoef, "char": ccoef}
    for p, tag in ((symbols.eta, "eta"), (symbols.beta, "beta")):
        out[f"den_{tag}"] = [sp.diff(c, p) for c in dcoef]
        out[f"num_{tag}"] = [sp.diff(c, p) for c in ncoef]
    return out


def _tuning_args():
    from ..theory import symbols
    from .operators import F_B
    return (symbols.lam, symbols.eta, symbols.beta, F_B, symbols.tau)


@lru_cache(maxsize=None)
def _secular_tuning_kernel(method, noise):
    found = shipped("secular_tuning", method, noise)
    if found is not None:
        return found["kernel"]
    from ..theory import symbols
    src = cached_source("secular_tuning", secular_tuning_exprs(method, noise), _tuning_args(), symbols.lam)
    return compile_source(src, "secular_tuning")


def secular_tuning_kernel(method, noise):
    """(lambda, eta, beta, f_B, tau broadcasting, e.g. (1, d) and (G, 1)) -> dict of coefficient lists
    (see :func:`secular_tuning_exprs`), each entry an array of the broadcast shape."""
    from .operators import as_method
    return _secular_tuning_kernel(as_method(method), noise)


# --------------------------------------------------------------------------------------------------
# the shipped kernels: printed from theory's expressions into numerics/generated/ (SymPy only here)
# --------------------------------------------------------------------------------------------------
class Fn:
    """One printed function: ``lambda args: expr`` (``expr`` SymPy, ``args`` its symbols)."""

    def __init__(self, expr, args):
        self.expr, self.args = expr, tuple(args)

    def __repr__(self) -> str:
        return f"Fn({self.expr!r}, {self.args!r})"


def _printer():
    """NumPyPrinter with lambdify's settings (so the shipped text does the arithmetic lambdify's does),
    module names written out (``numpy.sqrt``), a Dummy printed by its name."""
    from sympy.printing.numpy import NumPyPrinter

    class KernelPrinter(NumPyPrinter):
        def _print_Dummy(self, expr):
            return expr.name
    return KernelPrinter({"fully_qualified_modules": True, "inline": True, "allow_unknown_functions": False,
                          "user_functions": {}})


def print_function(fn: Fn) -> str:
    """``lambda ...: ...`` for ``fn``, the arguments that are not Python identifiers (``lambda``)
    replaced by a Dummy first, as lambdify does (the printed factors then come in lambdify's order)."""
    import keyword
    import sympy as sp
    expr, names = sp.sympify(fn.expr), []
    subs = {}
    for a in fn.args:
        if keyword.iskeyword(a.name) or not a.name.isidentifier():
            d = sp.Dummy(f"{a.name}_")
            subs[a] = d
            names.append(d)
        else:
            names.append(a)
    if subs:
        expr = expr.xreplace(subs)
    pr = _printer()
    return f"lambda {', '.join(pr.doprint(a) for a in names)}: {pr.doprint(expr)}"


def _emit(value, indent: int) -> str:
    pad = " " * indent
    if isinstance(value, Fn):
        return print_function(value)
    if isinstance(value, dict):
        items = [f"{pad}    {k!r}: {_emit(v, indent + 4)}," for k, v in value.items()]
        return "{\n" + "\n".join(items) + f"\n{pad}}}"
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], str):    # ("horner", [...])
        return f"({value[0]!r}, {_emit(value[1], indent)})"
    if isinstance(value, (list, tuple)):
        if not value:
            return "[]" if isinstance(value, list) else "()"
        if all(not isinstance(v, (Fn, dict, list, tuple)) for v in value):
            inner = ", ".join(repr(v) for v in value)
            return f"[{inner}]" if isinstance(value, list) else f"({inner}{',' if len(value) == 1 else ''})"
        open_, close = ("[", "]") if isinstance(value, list) else ("(", ")")
        items = [f"{pad}    {_emit(v, indent + 4)}," for v in value]
        return open_ + "\n" + "\n".join(items) + f"\n{pad}{close}"
    return repr(value)


def _entries(M, args):
    """(functions of the entries of M row major, shape) for :func:`operators.entries_runner`."""
    return ([Fn(e, args) for e in M], tuple(M.shape))


def _fn_split(plans, args):
    """:func:`operators.lambda_poly_split` plans as printed functions (coefficients of the parameters)."""
    return [("direct", Fn(e, args)) if kind == "direct" else ("horner", [Fn(c, args[1:]) for c in e])
            for kind, e in plans]


def family_data(family: str, method, noise=None):
    """What the shipped module of ``family`` holds for (method, noise): :class:`Fn` leaves in dicts,
    lists and tuples, derived from theory's expressions (the code paths the SymPy route lambdifies)."""
    import sympy as sp
    from . import operators as op
    from ..theory import symbols
    if family == "triple":
        args = (symbols.eta, symbols.beta)
        return {k: _entries(M, args) for k, M in (("A", method.A), ("b", method.b), ("c", method.c))}
    if family == "first_moment":
        coef = op.first_moment_charpoly_exprs(method)
        return {"charpoly": _entries(sp.Matrix([coef]), (symbols.lam, symbols.eta, symbols.beta))}
    args = op._args()
    if family == "decoupled":
        D, u, v = op.decoupled_exprs(method, noise)
        return {"D": _entries(D, args), "u": _entries(u, args), "v": _entries(v, args)}
    if family == "secular_grid":
        grid = op.secular_grid_plans(method, noise)
        g = {k: (None if v is None else [Fn(c, args[1:]) for c in v] if k == "h" else _fn_split(v, args))
             for k, v in grid.items()}
        mags = {k: _fn_split(v, args) for k, v in op.secular_magnitude_plans(method, noise).items()}
        return {"grid": g, "magnitude": mags}
    if family == "pair_response":
        num, den = op.pair_response_z_coeffs(method)
        zargs = op.pair_response_args()[1:]
        return {"psi": Fn(op.pair_response(method), op.pair_response_args()),
                "kappa": Fn(op.pair_response_error(method), op.pair_response_args()),
                "num": [Fn(c, zargs) for c in num], "den": [Fn(c, zargs) for c in den]}
    raise KeyError(family)


def _key_name(key) -> str:
    return "__".join(k.replace("-", "_") for k in key)


def generate_family(family: str) -> str:
    """The text of numerics/generated/<family>.py for every built-in method (and built-in noise)."""
    from ..theory.methods import METHODS
    from ..theory.sampling import BUILTIN_NOISES
    keys = [(m,) for m in METHODS] if family in METHOD_ONLY else [(m, n) for m in METHODS for n in BUILTIN_NOISES]
    head = [f'"""{family}: {FAMILIES[family]}.',
            "",
            "GENERATED by `python -m momentum_verify.numerics.generate` from theory's expressions (theory/methods.py,",
            "theory/moments.py, theory/sampling.py through numerics/operators.py and numerics/kernels.py). Do not",
            "edit: tests/test_generated_kernels.py regenerates it and requires the same text.",
            '"""',
            "import numpy",
            "",
            f"GENERATOR_VERSION = {GENERATOR_VERSION!r}",
            "KERNELS = {}", ""]
    body = []
    for key in keys:
        method = METHODS[key[0]]
        noise = BUILTIN_NOISES[key[1]] if len(key) > 1 else None
        if family == "secular_tuning":
            from ..theory import symbols
            name = f"secular_tuning__{_key_name(key)}"
            body.append(generate_source(name, secular_tuning_exprs(method, noise), _tuning_args(), symbols.lam))
            body.append(f"KERNELS[{key!r}] = {{'kernel': {name}}}\n")
            continue
        body.append(f"KERNELS[{key!r}] = {_emit(family_data(family, method, noise), 0)}\n")
    return "\n".join(head) + "\n" + "\n\n".join(body)


def generated_folder() -> str:
    """numerics/generated/ of this package."""
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "generated")


def write_generated(folder: str | None = None, families=None) -> list[str]:
    """Write numerics/generated/<family>.py (and its __init__.py) for ``families`` (default all);
    returns the paths written."""
    folder = folder or generated_folder()
    os.makedirs(folder, exist_ok=True)
    out = []
    init = os.path.join(folder, "__init__.py")
    with open(init, "w") as fh:
        fh.write(GENERATED_INIT)
    out.append(init)
    for family in families or FAMILIES:
        path = os.path.join(folder, f"{family}.py")
        text = generate_family(family)
        with open(path, "w") as fh:
            fh.write(text)
        out.append(path)
    return out


GENERATED_INIT = '''"""Numeric kernels of the built-in methods and noises, printed from theory's SymPy expressions.

GENERATED by `python -m momentum_verify.numerics.generate` (numerics/kernels.py, write_generated); one
module per kernel family (numerics.kernels.FAMILIES), each a dict KERNELS keyed by ("method", "noise")
or ("method",). Do not edit: tests/test_generated_kernels.py regenerates them from theory and requires
the same text; numerics.kernels.shipped reads them (no SymPy at run time).
"""
'''
