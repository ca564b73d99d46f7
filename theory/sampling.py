"""Sampling models (MATH.md §2): each gives H = E[G_xi] and the mini-batch covariance map

    C_B(Y) = E[G_B Y G_B^T] - H Y H^T = f_B (E[G_xi Y G_xi^T] - H Y H^T),

with f_B = 1/B with replacement and f_B = (n - B) / (B (n - 1)) for a uniform B-subset of n components.

A model is ONE frozen class (a value object: it validates on construction, compares by value, and its
repr pastes back) holding its data as given: ints, fractions, strings such as ``"4/9"`` (parsed exactly by
:mod:`theory.parse`), floats or SymPy numbers. It knows

* its exact objects: ``hessian()``, ``second_moment(Y)`` = E[G Y G^T], ``covariance(Y, B)``,
  ``exact_spectrum()`` and ``exact_copy()`` (floats read as the binary fractions they store);
* its numbers, written against an array namespace ``xp`` passed in (numpy, CuPy, or numpy object arrays
  of mpmath / arb numbers), so that theory itself imports no array library: ``hessian_array(xp)``,
  ``spectrum_array(xp)``, ``operator_data(xp)`` with ``second_moment_array(Y, data, xp)``,
  ``gradient_gram_array(xp)`` (E[G^T G], whose largest generalized eigenvalue against H is R^2);
* its Monte Carlo sampler: ``sampler(batch, backend)`` gives u = G_B y for a stack of replicas.

Finite-sum models are populations of rank-one components G_i = x_i y_i^T drawn with probability p_i
(:class:`RankOneModel`): a new such model only says what its components are (``components()``); the
operator, R^2, the exact copy and the sampler follow. Registered names are in :data:`MODELS`.

>>> Gaussian([1, "1/4"])
Gaussian(spectrum=(1, '1/4'))
>>> Gaussian([1, "1/4"]).hessian()
Matrix([
[1,   0],
[0, 1/4]])
"""
from __future__ import annotations

import math
import numbers
import sys
from dataclasses import dataclass, field
from functools import cached_property
from fractions import Fraction
from typing import ClassVar

from .errors import InputError
from .lazy import LazyModule, is_sympy, is_sympy_infinity

# SymPy loads on first use: a model built from numbers gives its float arrays and f_B without it
sp = LazyModule("sympy")
symbols = LazyModule(f"{__package__}.symbols")


# --------------------------------------------------------------------------------------------------
# batch sizes
# --------------------------------------------------------------------------------------------------
def check_batch(batch, n: int | None = None, without_replacement: bool = False):
    """Validate a batch size: an integer >= 1 or ``math.inf`` (deterministic); B <= n without replacement.

    >>> check_batch(4), check_batch("inf"), check_batch(2.0)
    (4, inf, 2)
    """
    if isinstance(batch, str):
        t = batch.strip().lower()
        if t in ("inf", "infinity", "∞"):
            return math.inf
        try:
            batch = int(t)
        except ValueError:
            raise InputError("batch", f"must be a positive integer or inf, got {batch!r}") from None
    if isinstance(batch, float) and math.isinf(batch) and batch > 0:
        return math.inf
    if is_sympy_infinity(batch):
        return math.inf
    if isinstance(batch, bool) or not isinstance(batch, numbers.Integral):
        if isinstance(batch, float) and batch.is_integer():
            batch = int(batch)
        else:
            raise InputError("batch", f"must be a positive integer or inf, got {batch!r}")
    batch = int(batch)
    if batch < 1:
        raise InputError("batch", f"must be >= 1, got {batch}")
    if without_replacement and n is not None and batch > n:
        raise InputError("batch", f"B = {batch} exceeds n = {n} components (without replacement)")
    return batch


def batch_factor(batch=None, n=None, without_replacement: bool = False):
    """f_B with C_B = f_B (E[G Y G^T] - H Y H^T): 1/B, or (n - B)/(B (n - 1)) without replacement
    (``batch`` None: the symbol B).

    >>> batch_factor(4), batch_factor(2, n=4, without_replacement=True)
    (1/4, 1/3)
    """
    if batch is None:
        batch = symbols.B
    if batch == math.inf or is_sympy_infinity(batch):
        return sp.Integer(0)
    f = batch_factor_fraction(batch, n, without_replacement)
    if f is not None:
        return sp.Rational(f.numerator, f.denominator)
    Bs = sp.sympify(batch)
    if not without_replacement:
        return 1 / Bs
    ns = symbols.n if n is None else sp.sympify(n)
    if ns == 1:
        return sp.Integer(0)
    return (ns - Bs) / (Bs * (ns - 1))


def batch_factor_fraction(batch, n=None, without_replacement: bool = False):
    """f_B as an exact Fraction for an integer B (and n), without SymPy; 0 at B = inf; None when B or
    n is symbolic (then see :func:`batch_factor`).

    >>> batch_factor_fraction(4), batch_factor_fraction(2, n=4, without_replacement=True)
    (Fraction(1, 4), Fraction(1, 3))
    """
    if batch == math.inf or is_sympy_infinity(batch):
        return Fraction(0)
    if isinstance(batch, bool) or not isinstance(batch, numbers.Integral):
        return None
    if not without_replacement:
        return Fraction(1, int(batch))
    if n is None or isinstance(n, bool) or not isinstance(n, numbers.Integral):
        return None
    if int(n) == 1:
        return Fraction(0)
    return Fraction(int(n) - int(batch), int(batch) * (int(n) - 1))


# --------------------------------------------------------------------------------------------------
# decoupled noise: the diagonal of C_B(Y) for Y diagonal in H's eigenbasis closes on itself
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DecoupledNoise:
    """diag C_B(Y)_i = f_B (alpha(lambda_i) Y_ii + w(lambda_i) sum_j omega(lambda_j) Y_jj).

    ``alpha``, ``w``, ``omega`` are SymPy expressions in ``symbols.lam`` (and ``symbols.tau`` = tr H).
    Gaussian data: alpha = lambda^2, w = omega = lambda (MATH.md §5). Coordinate descent on a diagonal H:
    alpha = tau lambda - lambda^2, w = omega = 0.

    >>> GAUSSIAN_NOISE
    DecoupledNoise(alpha=lambda**2, w=lambda, omega=lambda)
    """

    alpha: sp.Expr
    w: sp.Expr
    omega: sp.Expr

    def __hash__(self):
        # few noises exist: one hash for all keeps hashing free of SymPy (a built-in noise and an equal
        # copy built from expressions hash alike)
        return hash("DecoupledNoise")

    def _repr_latex_(self) -> str:
        return (rf"$\mathrm{{diag}}\,C_B(Y)_i = f_B\big(({sp.latex(self.alpha)}) Y_{{ii}} + ({sp.latex(self.w)})"
                rf"\sum_j ({sp.latex(self.omega)})|_{{\lambda_j}} Y_{{jj}}\big)$")


class BuiltinNoise(DecoupledNoise):
    """A registered decoupled noise: ``name`` keys the shipped numeric kernels (:mod:`numerics.generated`)
    and the expressions are built (SymPy) on first use. It equals a :class:`DecoupledNoise` of the same
    expressions; one object per name (a pickled copy comes back as it)."""

    def __init__(self, name: str, make):                 # pylint: disable=super-init-not-called
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "_make", make)
        object.__setattr__(self, "_exprs", None)

    def _expressions(self) -> tuple:
        if self._exprs is None:
            object.__setattr__(self, "_exprs", tuple(self._make()))
        return self._exprs

    alpha = property(lambda self: self._expressions()[0])
    w = property(lambda self: self._expressions()[1])
    omega = property(lambda self: self._expressions()[2])

    def __eq__(self, other):
        if isinstance(other, BuiltinNoise):
            return self.name == other.name
        if isinstance(other, DecoupledNoise):
            return (self.alpha, self.w, self.omega) == (other.alpha, other.w, other.omega)
        return NotImplemented

    __hash__ = DecoupledNoise.__hash__

    def __repr__(self) -> str:
        return f"DecoupledNoise(alpha={self.alpha}, w={self.w}, omega={self.omega})"

    def __reduce__(self):
        return (builtin_noise, (self.name,))


GAUSSIAN_NOISE = BuiltinNoise("gaussian", lambda: (symbols.lam**2, symbols.lam, symbols.lam))
COORDINATE_DIAGONAL_NOISE = BuiltinNoise(
    "coordinate-diagonal", lambda: (symbols.tau * symbols.lam - symbols.lam**2, sp.Integer(0), sp.Integer(0)))
BUILTIN_NOISES = {n.name: n for n in (GAUSSIAN_NOISE, COORDINATE_DIAGONAL_NOISE)}


def builtin_noise(name: str) -> BuiltinNoise:
    """The registered decoupled noise ``name`` (what a pickled built-in noise unpickles to)."""
    return BUILTIN_NOISES[name]


# --------------------------------------------------------------------------------------------------
# entries: what a user may pass, kept as given (exact where exact); exact SymPy numbers from them
# --------------------------------------------------------------------------------------------------
def _entry(x, param: str):
    """One data entry, normalised: int, float, Fraction / SymPy number (strings parsed exactly)."""
    if isinstance(x, str):
        from .parse_number import parse_fraction
        r = parse_fraction(x, param)
        return int(r) if r.denominator == 1 else r
    if isinstance(x, bool):
        raise InputError(param, f"must be numeric, got {x!r}")
    if isinstance(x, numbers.Integral):
        return int(x)
    if isinstance(x, Fraction):
        return x if x.denominator != 1 else int(x)
    if is_sympy(x):
        if x.is_Integer:
            return int(x)
        if x.is_Rational:
            return Fraction(int(x.p), int(x.q))
        return x
    if isinstance(x, numbers.Real) and not hasattr(x, "_mpf_"):
        v = float(x)
        if not math.isfinite(v):
            raise InputError(param, f"non-finite entry {v!r}")
        return v
    if hasattr(x, "_mpf_"):                      # mpmath numbers: kept (read exactly by exact_number)
        return x
    raise InputError(param, f"must be numeric, got {x!r}")


def _as_vector(data, param: str) -> tuple:
    if isinstance(data, str):
        raise InputError(param, f"must be a sequence of numbers, got the string {data!r}")
    rows = data.tolist() if hasattr(data, "tolist") else data
    try:
        out = tuple(_entry(v, param) for v in rows)
    except TypeError:
        raise InputError(param, f"must be a sequence of numbers, got {data!r}") from None
    if not out:
        raise InputError(param, "is empty")
    return out


def _as_matrix(data, param: str) -> tuple:
    if isinstance(data, str):
        raise InputError(param, f"must be a matrix (a list of rows), got the string {data!r}")
    rows = data.tolist() if hasattr(data, "tolist") else data
    try:
        rows = [list(r.tolist() if hasattr(r, "tolist") else r) for r in rows]
    except TypeError:
        raise InputError(param, "must be 2-dimensional (a list of rows)") from None
    if not rows or not rows[0]:
        raise InputError(param, "is empty")
    width = len(rows[0])
    for i, r in enumerate(rows):
        if len(r) != width:
            raise InputError(param, f"must be 2-dimensional: row {i} has {len(r)} entries, row 0 has {width}")
        if any(isinstance(v, (list, tuple)) for v in r):
            raise InputError(param, "must be 2-dimensional")
    return tuple(tuple(r) if _finite_floats(r) else tuple(_entry(v, param) for v in r) for r in rows)


def _finite_floats(r) -> bool:
    """All entries of a row are finite Python floats (the fast path for float arrays: nothing to parse)."""
    return all(type(v) is float for v in r) and math.isfinite(sum(r))


def _value(x) -> float:
    """An entry as a float (for validation and float copies)."""
    if is_sympy(x):
        return float(x)
    return float(x)


def exact_number(x) -> sp.Expr:
    """An exact SymPy number for an entry: floats (and mpmath / SymPy floats) are the binary fractions they
    store, fractions and strings stay exact, SymPy expressions are kept.

    >>> exact_number(0.5), exact_number("4/9"), exact_number(0.1) == sp.Rational(1, 10)
    (1/2, 4/9, False)
    """
    if isinstance(x, str):
        from .parse import parse_number_exact
        return parse_number_exact(x, "value")
    if isinstance(x, sp.Float) or (hasattr(x, "_mpf_") and not isinstance(x, sp.Basic)):
        sign, man, exp, _ = x._mpf_
        if man == 0 and exp != 0:
            raise InputError("value", "not a finite number")
        v = sp.Integer(int(man)) * sp.Integer(2) ** int(exp)
        return -v if sign else v
    if isinstance(x, sp.Basic):
        return x
    if isinstance(x, bool):
        raise InputError("value", f"not a number: {x!r}")
    if isinstance(x, numbers.Integral):
        return sp.Integer(int(x))
    if isinstance(x, Fraction):
        return sp.Rational(x.numerator, x.denominator)
    if isinstance(x, numbers.Real):
        return sp.Rational(*Fraction(float(x)).as_integer_ratio())
    raise InputError("value", f"not a number: {x!r}")


def _sympy_entry(x) -> sp.Expr:
    """SymPy number from an entry for the symbolic objects: ints and fractions stay exact, floats stay floats."""
    if isinstance(x, float):
        return sp.Float(x)
    if isinstance(x, Fraction):
        return sp.Rational(x.numerator, x.denominator)
    if isinstance(x, int):
        return sp.Integer(x)
    if hasattr(x, "_mpf_") and not isinstance(x, sp.Basic):
        return exact_number(x)
    return sp.sympify(x, strict=True)


def _entry_repr(x) -> str:
    if isinstance(x, Fraction):
        return repr(f"{x.numerator}/{x.denominator}")
    if is_sympy(x):
        return f"sympify({str(x)!r})" if not x.is_Symbol else f"Symbol({str(x)!r})"
    return repr(x)


REPR_MAX_ENTRIES = 64      # longer data print as a summary naming the parameter, its size and range


def _vector_repr(v: tuple) -> str:
    if len(v) > REPR_MAX_ENTRIES:
        vals = [_value(x) for x in v if not (is_sympy(x) and not x.is_number)]
        rng = f", range [{min(vals):.17g}, {max(vals):.17g}]" if vals else ""
        return f"<{len(v)} values{rng}>"
    return "(" + ", ".join(_entry_repr(x) for x in v) + ("," if len(v) == 1 else "") + ")"


def _matrix_repr(M: tuple) -> str:
    if len(M) * len(M[0]) > REPR_MAX_ENTRIES:
        return f"<{len(M)}x{len(M[0])} matrix>"
    return "(" + ", ".join(_vector_repr(r) for r in M) + ("," if len(M) == 1 else "") + ")"


def _exact_matrix(rows: tuple) -> sp.Matrix:
    return sp.Matrix([[_sympy_entry(v) for v in r] for r in rows])


def _check_finite(rows, param: str):
    for i, r in enumerate(rows):
        if _finite_floats(r):
            continue
        for j, v in enumerate(r):
            if is_sympy(v) and not v.is_number:
                continue
            if not math.isfinite(_value(v)):
                raise InputError(param, f"non-finite entry at index {(i, j)}")


def _check_psd(rows: tuple, param: str):
    """Square, symmetric (to 1e-12 relative) and positive semidefinite: H + tol I has a Cholesky factor
    with tol = 1e-10 max|H| d (so the smallest eigenvalue is > -tol)."""
    d = len(rows)
    if any(len(r) != d for r in rows):
        raise InputError(param, f"must be square, got shape ({d}, {len(rows[0])})")
    H = [[_value(v) for v in r] for r in rows]
    scale = max(1.0, max(abs(v) for r in H for v in r))
    for i in range(d):
        for j in range(i):
            if abs(H[i][j] - H[j][i]) > 1e-12 * scale:
                raise InputError(param, "must be symmetric")
    tol = 1e-10 * scale * d
    Lf = [[0.0] * d for _ in range(d)]
    for j in range(d):
        s = (H[j][j] + H[j][j]) / 2 + tol - sum(Lf[j][k] ** 2 for k in range(j))
        if s <= 0:
            raise InputError(param, "must be positive semidefinite (a leading minor is negative)")
        Lf[j][j] = math.sqrt(s)
        for i in range(j + 1, d):
            Lf[i][j] = ((H[i][j] + H[j][i]) / 2 - sum(Lf[i][k] * Lf[j][k] for k in range(j))) / Lf[j][j]


def array_namespace(xp=None):
    """The array namespace of the float copies: ``xp`` when given, else the numpy module the caller has
    already imported (theory never imports an array library itself)."""
    if xp is not None:
        return xp
    xp = sys.modules.get("numpy")
    if xp is None:
        raise RuntimeError("float copies of a sampling model need an array namespace: pass xp (numpy, cupy)")
    return xp


def _trace_product(H, Y, xp):
    """tr(H Y) for arrays of any number type."""
    return xp.trace(H @ Y)


def alias_table(p) -> tuple[list, list]:
    """Walker's alias table (Vose's construction), pure Python: draw j uniform in 0..n-1 and V uniform in
    [0, 1); the index is j if V < keep[j], else alias[j]. Then P(index = i) = p_i / sum(p)."""
    p = [float(v) for v in p]
    n, total = len(p), sum(p)
    scaled = [v * n / total for v in p]
    keep, alias = [1.0] * n, list(range(n))
    small = [i for i in range(n) if scaled[i] < 1.0]
    large = [i for i in range(n) if scaled[i] >= 1.0]
    while small and large:
        s, g = small.pop(), large.pop()
        keep[s], alias[s] = scaled[s], g
        scaled[g] -= 1.0 - scaled[s]
        (small if scaled[g] < 1.0 else large).append(g)
    return keep, alias            # leftovers (rounding) keep probability 1


# --------------------------------------------------------------------------------------------------
# the base class
# --------------------------------------------------------------------------------------------------
class SamplingModel:
    """Base class of the sampling models. A subclass is a frozen dataclass; it sets ``name`` and
    implements ``hessian``, ``second_moment``, ``hessian_array``, ``operator_data``,
    ``second_moment_array``, ``gradient_gram_array`` and ``sampler`` (or derives from
    :class:`RankOneModel`, which needs only ``components``)."""

    name: ClassVar[str] = ""
    decoupled: ClassVar[DecoupledNoise | None] = None
    n: ClassVar[int | None] = None
    without_replacement: bool = False

    @property
    def d(self) -> int:
        raise NotImplementedError

    # exact objects -------------------------------------------------------------------------------
    def hessian(self) -> sp.Matrix:
        raise NotImplementedError

    def second_moment(self, Y: sp.Matrix) -> sp.Matrix:
        """E[G_xi Y G_xi^T] for one draw."""
        raise NotImplementedError

    def batch_factor(self, batch=None):
        """f_B (SymPy; ``batch`` None: the symbol B)."""
        return batch_factor(batch, self.n, self.without_replacement)

    def batch_factor_fraction(self, batch):
        """f_B as a Fraction for an integer batch (None when symbolic), without SymPy."""
        return batch_factor_fraction(batch, self.n, self.without_replacement)

    def covariance(self, Y: sp.Matrix, batch=None) -> sp.Matrix:
        """C_B(Y) = f_B (E[G Y G^T] - H Y H^T), symbolic in B (and n)."""
        H = self.hessian()
        return self.batch_factor(batch) * (self.second_moment(Y) - H * Y * H.T)

    def check_batch(self, batch):
        return check_batch(batch, self.n, self.without_replacement)

    def exact_copy(self) -> "SamplingModel":
        """The same model with its data as exact rationals (floats read as their binary fractions), so that
        derived components (a_i / ||a_i||^2, e_i / p_i) are exact too."""
        return self

    def exact_spectrum(self) -> list:
        """Exact eigenvalues of a model with a diagonal H (decoupled models), ascending like
        ``spectrum_array`` (indices agree between the double and the exact routes)."""
        H = self.exact_copy().hessian()
        if not H.is_diagonal():
            raise InputError("model", f"{self.name}: H is not diagonal (no exact spectrum by reading it)")
        return sorted((H[i, i] for i in range(self.d)), key=lambda v: (float(v), v))

    def R2_exact(self):
        """R^2 in closed form (SymPy) where the model knows it, else None (numerics then takes the largest
        generalized eigenvalue of (E[G^T G], H))."""
        return None

    # numbers (xp: an array namespace) ---------------------------------------------------------------
    def hessian_array(self, xp=None):
        xp = array_namespace(xp)
        raise NotImplementedError

    def spectrum_array(self, xp=None):
        """Eigenvalues of H, ascending (float64)."""
        xp = array_namespace(xp)
        return xp.linalg.eigvalsh(self.hessian_array(xp))

    def operator_data(self, xp=None, conv=None) -> dict:
        """Arrays the second-moment operator needs: ``H`` and whatever ``second_moment_array`` reads; floats,
        or ``conv(exact number)`` entries (mpmath / arb) in numpy object arrays when ``conv`` is given."""
        xp = array_namespace(xp)
        raise NotImplementedError

    def second_moment_array(self, Y, data: dict, xp):
        """E[G Y G^T] from ``operator_data``'s arrays, in their number type."""
        raise NotImplementedError

    def gradient_gram_array(self, xp=None):
        """E[G_xi^T G_xi] (float64): R^2 is its largest generalized eigenvalue against H."""
        xp = array_namespace(xp)
        raise NotImplementedError

    def sampler(self, batch: int, backend, **options):
        """The Monte Carlo sampler: an object whose ``grad(y)`` is G_B y for each row of y (fresh draws per
        replica) and whose ``per_replica`` is the number of array elements one replica-step touches."""
        raise NotImplementedError

    # display ---------------------------------------------------------------------------------------
    def _repr_latex_(self) -> str:
        """The model and its H (written out for d <= 8) for Jupyter."""
        head = rf"\text{{{self.name}}}\ (d = {self.d}{'' if self.n is None else f', n = {self.n}'})"
        if self.d > 8:
            return f"${head}$"
        return rf"${head}:\ H = {sp.latex(self.hessian())}$"

    def _repr_html_(self) -> str:
        import html
        return f"<code>{html.escape(repr(self))}</code> (d = {self.d}{'' if self.n is None else f', n = {self.n}'})"


# --------------------------------------------------------------------------------------------------
# finite populations of rank-one components
# --------------------------------------------------------------------------------------------------
class RankOneModel(SamplingModel):
    """Finite population of rank-one components G_i = x_i y_i^T, drawn with probability p_i.

    A subclass gives ``components()`` (exact) and may give faster float ``component_arrays(xp)``;
    H, E[G Y G^T], R^2, the exact copy and the Monte Carlo sampler follow from them."""

    def components(self):
        """Exact (p, X, Y): lists of probabilities and of x_i, y_i as column matrices."""
        raise NotImplementedError

    def component_arrays(self, xp=None):
        """Float (p (n,), X (n, d), Y (n, d)) with G_i = outer(X[i], Y[i]) (default: from ``components``)."""
        xp = array_namespace(xp)
        p, X, Yv = self.components()
        f = xp.float64
        return (xp.asarray([float(v) for v in p], dtype=f), xp.asarray([[float(v) for v in x] for x in X], dtype=f),
                xp.asarray([[float(v) for v in y] for y in Yv], dtype=f))

    @property
    def n(self) -> int:
        return len(self.components()[0])

    def hessian(self) -> sp.Matrix:
        p, X, Yv = self.components()
        return sp.Matrix(sum((pi * x * y.T for pi, x, y in zip(p, X, Yv)), sp.zeros(self.d, self.d)))

    def second_moment(self, Y: sp.Matrix) -> sp.Matrix:
        p, X, Yv = self.components()
        return sp.Matrix(sum((pi * (y.T * Y * y)[0, 0] * x * x.T for pi, x, y in zip(p, X, Yv)),
                             sp.zeros(self.d, self.d)))

    def hessian_array(self, xp=None):
        xp = array_namespace(xp)
        p, X, Yv = self.component_arrays(xp)
        return (X * p[:, None]).T @ Yv

    def operator_data(self, xp=None, conv=None) -> dict:
        xp = array_namespace(xp)
        if conv is None:
            p, X, Yv = self.component_arrays(xp)
            return {"H": self.hessian_array(xp), "p": p, "X": X, "Y": Yv}
        p, X, Yv = self.exact_copy().components()
        p = xp.array([conv(exact_number(v)) for v in p], dtype=object)
        X = xp.array([[conv(exact_number(v)) for v in x] for x in X], dtype=object)
        Yv = xp.array([[conv(exact_number(v)) for v in y] for y in Yv], dtype=object)
        return {"H": (X * p[:, None]).T @ Yv, "p": p, "X": X, "Y": Yv}

    def second_moment_array(self, Y, data: dict, xp):
        """sum_i p_i (y_i^T Y y_i) x_i x_i^T."""
        w = data["p"] * xp.sum((data["Y"] @ Y) * data["Y"], axis=1)
        return (data["X"] * w[:, None]).T @ data["X"]

    def gradient_gram_array(self, xp=None):
        """E[G^T G] = sum_i p_i |x_i|^2 y_i y_i^T."""
        xp = array_namespace(xp)
        p, X, Yv = self.component_arrays(xp)
        return (Yv * (p * xp.sum(X**2, axis=1))[:, None]).T @ Yv

    def sampler(self, batch: int, backend, **options):
        return ComponentSampler(self, batch, backend)

    def _check_uniform_for_without_replacement(self, p, why: str):
        if self.without_replacement and any(abs(v - p[0]) > 1e-12 * abs(p[0]) for v in p):
            raise InputError("without_replacement", f"needs uniform sampling probabilities ({why})")


class ComponentSampler:
    """u = G_B y = (1/B) sum_j x_{i_j} (y_{i_j} . y): indices i.i.d. with probabilities p (Walker's alias
    method, O(1) per draw) or a uniform B-subset (argsort of uniforms) without replacement."""

    def __init__(self, model: RankOneModel, batch: int, bk):
        xp = self.xp = bk.xp
        self.bk, self.B, self.d = bk, int(batch), model.d
        p, X, Y = model.component_arrays(xp)
        self.n = int(p.shape[0])
        self.X = X
        self.Y = X if Y is X else Y
        self.without = bool(model.without_replacement)
        keep, alias = alias_table([float(v) for v in p])
        self.keep, self.alias = xp.asarray(keep, dtype=xp.float64), xp.asarray(alias, dtype=xp.int64)
        self.per_replica = self.B * self.d * (1 if Y is X else 2) + (self.n if self.without else 0)
        self.model = model

    def __repr__(self) -> str:
        return f"ComponentSampler(model={self.model!r}, batch={self.B}, backend={getattr(self.bk, 'name', '?')!r})"

    def grad(self, y):
        xp, r = self.xp, y.shape[0]
        if self.without:
            order = xp.argsort(self.bk.uniform((r, self.n)), axis=1)
            idx = order[:, :self.B]
        else:                                                                    # alias method, O(1) per draw
            scaled = self.bk.uniform((r, self.B)) * self.n
            j = xp.astype(xp.floor(scaled), xp.int64)
            j = xp.minimum(j, self.n - 1)
            flat_j = xp.reshape(j, (-1,))
            stay = xp.reshape(scaled - xp.astype(j, xp.float64), (-1,)) < xp.take(self.keep, flat_j)
            idx = xp.reshape(xp.where(stay, flat_j, xp.take(self.alias, flat_j)), (r, self.B))
        flat = xp.reshape(idx, (-1,))
        Yg = xp.reshape(xp.take(self.Y, flat, axis=0), (r, self.B, self.d))
        Xg = Yg if self.Y is self.X else xp.reshape(xp.take(self.X, flat, axis=0), (r, self.B, self.d))
        w = xp.vecdot(Yg, y[:, None, :])                                         # (r, B): y_i . y
        return _batch_sum(xp, w, Xg) / self.B                                   # (1/B) sum_j x_ij w_j


def _batch_sum(xp, w, X):
    """sum_j w[:, j] X[:, j, :] for w (r, B), X (r, B, d): a batched product (a plain one at B = 1)."""
    if X.shape[1] == 1:
        return w * X[:, 0, :]
    return xp.matmul(w[:, None, :], X)[:, 0, :]


# --------------------------------------------------------------------------------------------------
# gaussian data
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True, repr=False)
class Gaussian(SamplingModel):
    """Streaming least squares: G = x x^T, x ~ N(0, H), H = diag(spectrum).

    E[x x^T Y x x^T] = H (Y + Y^T) H + tr(H Y) H (= 2 H Y H + tr(H Y) H for symmetric Y, by Isserlis),
    so C_B(Y) = (1/B)(H Y H + tr(H Y) H) on symmetric Y; R^2 = tr H + 2 L.

    >>> g = Gaussian.linspace(1, 2, 3)
    >>> g
    Gaussian(spectrum=(1.0, 1.5, 2.0))
    >>> g.d, g.R2_exact()
    (3, 8.50000000000000)
    """

    spectrum: tuple
    without_replacement: bool = False
    _cache: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    name: ClassVar[str] = "gaussian"
    decoupled: ClassVar[DecoupledNoise] = GAUSSIAN_NOISE

    def __post_init__(self):
        if self.without_replacement:
            raise InputError("without_replacement", "does not apply to the gaussian model (an infinite population)")
        spec = _as_vector(self.spectrum, "spectrum")
        object.__setattr__(self, "spectrum", spec)
        numeric = [v for v in spec if not (is_sympy(v) and not v.is_number)]
        if len(numeric) < len(spec):                                  # symbolic eigenvalues: no checks
            return
        vals = [_value(v) for v in spec]
        for i, v in enumerate(vals):
            if not math.isfinite(v):
                raise InputError("spectrum", f"non-finite entry at index ({i},)")
            if v < 0:
                raise InputError("spectrum", f"entries must be >= 0 (got {v:g} at position {i})")
        if not any(v > 0 for v in vals):
            raise InputError("spectrum", "needs at least one positive entry")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(spectrum={_vector_repr(self.spectrum)})"

    @classmethod
    def linspace(cls, lo, hi, d: int) -> "Gaussian":
        """d eigenvalues evenly spaced from lo to hi (floats), like numpy.linspace."""
        lo, hi, d = float(_entry(lo, "lo")), float(_entry(hi, "hi")), int(d)
        if d < 1:
            raise InputError("d", f"must be >= 1, got {d}")
        return cls(tuple(lo + (hi - lo) * i / (d - 1) if d > 1 else lo for i in range(d)))

    @classmethod
    def geomspace(cls, lo, hi, d: int) -> "Gaussian":
        """d eigenvalues geometrically spaced from lo to hi > 0 (floats), like numpy.geomspace."""
        lo, hi, d = float(_entry(lo, "lo")), float(_entry(hi, "hi")), int(d)
        if not (lo > 0 and hi > 0):
            raise InputError("spectrum", f"geomspace needs lo, hi > 0, got {lo:g}, {hi:g}")
        if d < 1:
            raise InputError("d", f"must be >= 1, got {d}")
        r = math.log(hi / lo)
        vals = [lo * math.exp(r * i / (d - 1)) if d > 1 else lo for i in range(d)]
        if d > 1:
            vals[0], vals[-1] = lo, hi
        return cls(tuple(vals))

    @property
    def d(self) -> int:
        return len(self.spectrum)

    def hessian(self) -> sp.Matrix:
        return sp.diag(*[_sympy_entry(v) for v in self.spectrum])

    def second_moment(self, Y: sp.Matrix) -> sp.Matrix:
        H = self.hessian()
        return H * (Y + Y.T) * H + (H * Y).trace() * H

    def exact_spectrum(self) -> list:
        return sorted((exact_number(v) for v in self.spectrum), key=lambda v: (float(v), v))

    def R2_exact(self):
        lam = [_sympy_entry(v) for v in self.spectrum]
        return sp.Add(*lam) + 2 * sp.Max(*lam)

    @cached_property
    def _float_spectrum(self) -> tuple:
        # converted once per (immutable) model: the tuner asks for the spectrum ~1,000 times a point
        return tuple(_value(v) for v in self.spectrum)

    def _floats(self) -> list:
        return list(self._float_spectrum)

    def hessian_array(self, xp=None):
        xp = array_namespace(xp)
        return xp.asarray(self._floats(), dtype=xp.float64)[None, :] * xp.eye(self.d, dtype=xp.float64)

    def spectrum_array(self, xp=None):
        xp = array_namespace(xp)
        return xp.sort(xp.asarray(self._floats(), dtype=xp.float64))

    def operator_data(self, xp=None, conv=None) -> dict:
        xp = array_namespace(xp)
        if conv is None:
            return {"H": self.hessian_array(xp)}
        lam = self.exact_spectrum()
        zero = conv(sp.Integer(0))
        return {"H": xp.array([[conv(lam[i]) if i == j else zero for j in range(self.d)]
                               for i in range(self.d)], dtype=object)}

    def second_moment_array(self, Y, data: dict, xp):
        H = data["H"]
        return H @ (Y + Y.T) @ H + _trace_product(H, Y, xp) * H

    def gradient_gram_array(self, xp=None):
        """E[x x^T x x^T] = 2 H^2 + tr(H) H."""
        xp = array_namespace(xp)
        H = self.hessian_array(xp)
        return 2 * H @ H + xp.sum(self.spectrum_array(xp)) * H

    def sampler(self, batch: int, backend, gaussian_sampler: str = "reduced", **options):
        return GaussianSampler(self, batch, backend, gaussian_sampler)


class GaussianSampler:
    """u = G_B y with x_j ~ N(0, H). "direct": B d normals per replica-step. "reduced" (B >= 2): the identity
    in law G_B y = (1/B)(Q v + s sqrt(Q) x'), v = H y, s^2 = y^T H y, Q ~ chi^2_B, x' = x - v (x.y)/s^2,
    x ~ N(0, H): d + B normals (numerics.montecarlo's module docstring derives it)."""

    def __init__(self, model: Gaussian, batch: int, bk, kind: str = "reduced"):
        if kind not in ("reduced", "direct"):
            raise InputError("gaussian_sampler", f"must be 'reduced' or 'direct', got {kind!r}")
        xp = self.xp = bk.xp
        self.bk, self.B, self.d = bk, int(batch), model.d
        lam = model._floats()
        self.lam = xp.asarray(lam, dtype=xp.float64)
        self.sqrt_lam = xp.asarray([math.sqrt(v) for v in lam], dtype=xp.float64)
        self.kind = "gaussian-reduced" if kind == "reduced" and self.B >= 2 else "gaussian"
        self.per_replica = self.B * self.d if self.kind == "gaussian" else self.d + self.B
        self.model, self.requested = model, kind

    def __repr__(self) -> str:
        return (f"GaussianSampler(model={self.model!r}, batch={self.B}, backend={getattr(self.bk, 'name', '?')!r}, "
                f"kind={self.requested!r})")

    def grad(self, y):
        xp, r = self.xp, y.shape[0]
        if self.kind == "gaussian-reduced":
            x = self.sqrt_lam * self.bk.normal((r, self.d))                      # x ~ N(0, H)
            v = self.lam * y                                                     # H y
            s2 = xp.sum(v * y, axis=1)                                           # y^T H y
            safe = xp.where(s2 > 0, s2, xp.ones_like(s2))
            Q = xp.sum(self.bk.normal((r, self.B)) ** 2, axis=1)                 # chi^2_B
            xperp = x - v * (xp.sum(x * y, axis=1) / safe)[:, None]
            return (Q[:, None] * v + (xp.sqrt(s2 * Q))[:, None] * xperp) / self.B
        Z = self.bk.normal((r, self.B, self.d))
        w = xp.vecdot(Z, (self.sqrt_lam * y)[:, None, :])                      # (r, B): z_j . (sqrt(lam) y)
        return self.sqrt_lam * _batch_sum(xp, w, Z) / self.B


# --------------------------------------------------------------------------------------------------
# finite sums, Kaczmarz, coordinate descent
# --------------------------------------------------------------------------------------------------
def _float_rows(rows: tuple) -> list:
    return [r if _finite_floats(r) else [_value(v) for v in r] for r in rows]


@dataclass(frozen=True, repr=False)
class FiniteSum(RankOneModel):
    """Consistent least squares f = (1/2) sum_i p_i (a_i^T x - b_i)^2: G_i = a_i a_i^T, p_i ∝ weights
    (uniform by default), H = sum_i p_i a_i a_i^T (= A^T A / n).

    >>> FiniteSum([[1, 0], [1, 1], [0, 2]])
    FiniteSum(A=((1, 0), (1, 1), (0, 2)))
    >>> FiniteSum([[1, 0], [1, 1], [0, 2]]).hessian()
    Matrix([
    [2/3, 1/3],
    [1/3, 5/3]])
    """

    A: tuple
    weights: tuple | None = None
    without_replacement: bool = False
    _cache: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    name: ClassVar[str] = "finite"

    def __post_init__(self):
        A = _as_matrix(self.A, "matrix")
        _check_finite(A, "matrix")
        object.__setattr__(self, "A", A)
        if self.weights is not None:
            w = _as_vector(self.weights, "weights")
            if len(w) != len(A):
                raise InputError("weights", f"needs {len(A)} entries (one per row), got {len(w)}")
            wf = [_value(v) for v in w]
            if any(not math.isfinite(v) or v < 0 for v in wf) or not any(v > 0 for v in wf):
                raise InputError("weights", "must be >= 0 with a positive sum")
            object.__setattr__(self, "weights", w)
        self._check_uniform_for_without_replacement(self._probabilities(), "weights must be equal")

    def __repr__(self) -> str:
        extra = "" if self.weights is None else f", weights={_vector_repr(self.weights)}"
        wr = ", without_replacement=True" if self.without_replacement else ""
        return f"{type(self).__name__}(A={_matrix_repr(self.A)}{extra}{wr})"

    @property
    def n(self) -> int:
        return len(self.A)

    @property
    def d(self) -> int:
        return len(self.A[0])

    def _probabilities(self) -> list:
        if self.weights is None:
            return [1.0 / self.n] * self.n
        w = [_value(v) for v in self.weights]
        s = sum(w)
        return [v / s for v in w]

    def exact_copy(self) -> "FiniteSum":
        w = None if self.weights is None else [exact_number(v) for v in self.weights]
        return FiniteSum([[exact_number(v) for v in r] for r in self.A], weights=w,
                         without_replacement=self.without_replacement)

    def components(self):
        A = _exact_matrix(self.A)
        if self.weights is None:
            p = [sp.Rational(1, self.n)] * self.n
        else:
            w = [_sympy_entry(v) for v in self.weights]
            p = [wi / sum(w) for wi in w]
        rows = [A[i, :].T for i in range(self.n)]
        return p, rows, rows

    def component_arrays(self, xp=None):
        xp = array_namespace(xp)
        key = ("components", xp.__name__)
        if key not in self._cache:
            if self.weights is None:
                p = xp.full((self.n,), 1.0 / self.n, dtype=xp.float64)
            else:
                w = xp.asarray([_value(v) for v in self.weights], dtype=xp.float64)
                p = w / xp.sum(w)
            X = xp.asarray(_float_rows(self.A), dtype=xp.float64)
            self._cache[key] = (p, X, X)
        return self._cache[key]


@dataclass(frozen=True, repr=False)
class Kaczmarz(RankOneModel):
    """Randomized Kaczmarz sampling: G_i = a_i a_i^T / ||a_i||^2 with p_i = ||a_i||^2 / ||A||_F^2,
    so H = A^T A / ||A||_F^2 and R^2 = 1.

    >>> Kaczmarz([[1, 0], [1, 1], [0, 2]]).hessian()
    Matrix([
    [2/7, 1/7],
    [1/7, 5/7]])
    """

    A: tuple
    without_replacement: bool = False
    _cache: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    name: ClassVar[str] = "kaczmarz"

    def __post_init__(self):
        A = _as_matrix(self.A, "matrix")
        _check_finite(A, "matrix")
        object.__setattr__(self, "A", A)
        norms = self._norms()
        for i, v in enumerate(norms):
            if v == 0:
                raise InputError("matrix", f"row {i} is zero (kaczmarz needs nonzero rows)")
        s = sum(norms)
        self._check_uniform_for_without_replacement([v / s for v in norms], "rows must have equal norms")

    def __repr__(self) -> str:
        wr = ", without_replacement=True" if self.without_replacement else ""
        return f"{type(self).__name__}(A={_matrix_repr(self.A)}{wr})"

    @property
    def n(self) -> int:
        return len(self.A)

    @property
    def d(self) -> int:
        return len(self.A[0])

    def _norms(self) -> list:
        return [sum(_value(v) ** 2 for v in r) for r in self.A]

    def exact_copy(self) -> "Kaczmarz":
        return Kaczmarz([[exact_number(v) for v in r] for r in self.A], without_replacement=self.without_replacement)

    def R2_exact(self):
        return sp.Integer(1)

    def components(self):
        A = _exact_matrix(self.A)
        rows = [A[i, :].T for i in range(self.n)]
        norms = [(r.T * r)[0, 0] for r in rows]
        total = sum(norms)
        p = [nr / total for nr in norms]
        return p, [r / nr for r, nr in zip(rows, norms)], rows

    def component_arrays(self, xp=None):
        xp = array_namespace(xp)
        key = ("components", xp.__name__)
        if key not in self._cache:
            A = xp.asarray(_float_rows(self.A), dtype=xp.float64)
            norms = xp.sum(A**2, axis=1)
            self._cache[key] = (norms / xp.sum(norms), A / norms[:, None], A)
        return self._cache[key]


@dataclass(frozen=True, repr=False)
class Coordinate(RankOneModel):
    """Randomized coordinate descent: G_i = (1/p_i) e_i e_i^T H, p_i = H_ii / tr H (G_i not symmetric).

    Given a diagonal spectrum instead of H, the model is decoupled (MATH.md §5): diag C_B(Y)_i =
    f_B (tr(H) lambda_i - lambda_i^2) Y_ii.

    >>> Coordinate(spectrum=[1, 2])
    Coordinate(spectrum=(1, 2))
    >>> Coordinate(H=[[2, 1], [1, 3]]).decoupled is None
    True
    """

    H: tuple | None = None
    spectrum: tuple | None = None
    without_replacement: bool = False
    _cache: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    name: ClassVar[str] = "coordinate"

    def __post_init__(self):
        if (self.H is None) == (self.spectrum is None):
            raise InputError("matrix", "coordinate needs exactly one of H (a matrix) or its diagonal spectrum")
        if self.spectrum is not None:
            spec = _as_vector(self.spectrum, "spectrum")
            _check_finite([spec], "spectrum")
            if any(_value(v) <= 0 for v in spec):
                raise InputError("spectrum", "coordinate descent needs every diagonal entry of H > 0")
            object.__setattr__(self, "spectrum", spec)
            object.__setattr__(self, "H", tuple(tuple(v if i == j else 0 for j, v in enumerate(spec))
                                                for i in range(len(spec))))
            diag = [_value(v) for v in spec]
            self._check_uniform_for_without_replacement([v / sum(diag) for v in diag],
                                                        "the diagonal of H must be constant")
            return
        H = _as_matrix(self.H, "matrix")
        _check_finite(H, "matrix")
        _check_psd(H, "matrix")
        if any(_value(H[i][i]) <= 0 for i in range(len(H))):
            raise InputError("matrix", "coordinate descent needs every diagonal entry of H > 0")
        object.__setattr__(self, "H", H)
        diag = [_value(H[i][i]) for i in range(len(H))]
        s = sum(diag)
        self._check_uniform_for_without_replacement([v / s for v in diag], "the diagonal of H must be constant")

    def __repr__(self) -> str:
        wr = ", without_replacement=True" if self.without_replacement else ""
        if self.spectrum is not None:
            return f"{type(self).__name__}(spectrum={_vector_repr(self.spectrum)}{wr})"
        return f"{type(self).__name__}(H={_matrix_repr(self.H)}{wr})"

    @property
    def matrix(self) -> tuple:
        """H as rows (the diagonal matrix of the spectrum when given as one)."""
        return self.H

    @property
    def decoupled(self):
        M = self.matrix
        diagonal = all(_value(M[i][j]) == 0 for i in range(len(M)) for j in range(len(M)) if i != j)
        return COORDINATE_DIAGONAL_NOISE if diagonal else None

    @property
    def n(self) -> int:
        return self.d

    @property
    def d(self) -> int:
        return len(self.H)

    def exact_spectrum(self) -> list:
        if self.decoupled is None:
            return super().exact_spectrum()
        return sorted((exact_number(self.H[i][i]) for i in range(self.d)), key=lambda v: (float(v), v))

    def exact_copy(self) -> "Coordinate":
        return Coordinate(H=[[exact_number(v) for v in r] for r in self.matrix],
                          without_replacement=self.without_replacement)

    def components(self):
        H = _exact_matrix(self.matrix)
        tr = H.trace()
        p = [H[i, i] / tr for i in range(self.d)]
        X = [sp.eye(self.d)[:, i] / p[i] for i in range(self.d)]
        Y = [H[i, :].T for i in range(self.d)]
        return p, X, Y

    def hessian_array(self, xp=None):
        xp = array_namespace(xp)
        return xp.asarray(_float_rows(self.matrix), dtype=xp.float64)

    def component_arrays(self, xp=None):
        xp = array_namespace(xp)
        key = ("components", xp.__name__)
        if key not in self._cache:
            H = self.hessian_array(xp)
            diag = xp.asarray([_value(self.matrix[i][i]) for i in range(self.d)], dtype=xp.float64)
            p = diag / xp.sum(diag)
            self._cache[key] = (p, xp.eye(self.d, dtype=xp.float64) / p[:, None], H)
        return self._cache[key]


# --------------------------------------------------------------------------------------------------
# the registry and the one constructor from named data
# --------------------------------------------------------------------------------------------------
MODELS = {"gaussian": Gaussian, "finite": FiniteSum, "kaczmarz": Kaczmarz, "coordinate": Coordinate}

#: which data each registered model takes: "spectrum" (a diagonal H) and/or "matrix" (A, or H for coordinate)
MODEL_DATA = {"gaussian": ("spectrum",), "finite": ("matrix",), "kaczmarz": ("matrix",),
              "coordinate": ("spectrum", "matrix")}


def check_model_name(name: str) -> type:
    try:
        return MODELS[name]
    except (KeyError, TypeError):
        raise InputError("model", f"unknown model {name!r} (choose from {', '.join(MODELS)})") from None


def build(model: str, spectrum=None, matrix=None, without_replacement: bool = False) -> SamplingModel:
    """The registered model ``model`` from already-parsed data: a spectrum (gaussian; coordinate with a
    diagonal H) or a matrix (the rows a_i of A for finite and kaczmarz, H for coordinate).

    >>> build("coordinate", spectrum=[1, 2])
    Coordinate(spectrum=(1, 2))
    """
    cls = check_model_name(model)
    takes = MODEL_DATA[model]
    if (spectrum is None) == (matrix is None):
        want = " or ".join(takes)
        raise InputError(takes[-1] if len(takes) > 1 else takes[0],
                         f"the {model} model takes exactly one of: {want}")
    if spectrum is not None and "spectrum" not in takes:
        raise InputError("matrix", f"the {model} model takes a matrix (the rows a_i of A), not a spectrum")
    if matrix is not None and "matrix" not in takes:
        raise InputError("spectrum", f"the {model} model takes a spectrum, not a matrix")
    wr = bool(without_replacement)
    if model == "coordinate":
        return cls(spectrum=spectrum, without_replacement=wr) if spectrum is not None \
            else cls(H=matrix, without_replacement=wr)
    return cls(spectrum if spectrum is not None else matrix, without_replacement=wr)
