"""Sampling models (MATH.md §2): each gives H = E[G_xi] and the mini-batch covariance map

    C_B(Y) = E[G_B Y G_B^T] - H Y H^T = f_B (E[G_xi Y G_xi^T] - H Y H^T),

with f_B = 1/B with replacement and f_B = (n - B) / (B (n - 1)) for a uniform B-subset of n components.

Models hold their data as given (lists, fractions, numpy arrays); ``hessian`` and ``covariance`` are
exact SymPy objects built from it, ``*_array`` methods give float64 copies for ``numerics``.
Finite-sum models are lists of rank-one components G_i = x_i y_i^T drawn with probability p_i.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import sympy as sp

from . import symbols
from .errors import InputError


# --------------------------------------------------------------------------------------------------
# batch sizes
# --------------------------------------------------------------------------------------------------
def check_batch(batch, n: int | None = None, without_replacement: bool = False):
    """Validate a batch size: an integer >= 1 or ``math.inf`` (deterministic); B <= n without replacement."""
    if isinstance(batch, float) and math.isinf(batch) and batch > 0:
        return math.inf
    if batch is sp.oo:
        return math.inf
    if isinstance(batch, bool) or not isinstance(batch, (int, np.integer)):
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


def batch_factor(batch=symbols.B, n=None, without_replacement: bool = False):
    """f_B with C_B = f_B (E[G Y G^T] - H Y H^T): 1/B, or (n - B)/(B (n - 1)) without replacement."""
    if batch == math.inf or batch is sp.oo:
        return sp.Integer(0)
    Bs = sp.sympify(batch)
    if not without_replacement:
        return 1 / Bs
    ns = symbols.n if n is None else sp.sympify(n)
    if ns == 1:
        return sp.Integer(0)
    return (ns - Bs) / (Bs * (ns - 1))


# --------------------------------------------------------------------------------------------------
# decoupled noise: the diagonal of C_B(Y) for Y diagonal in H's eigenbasis closes on itself
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DecoupledNoise:
    """diag C_B(Y)_i = f_B (alpha(lambda_i) Y_ii + w(lambda_i) sum_j omega(lambda_j) Y_jj).

    ``alpha``, ``w``, ``omega`` are SymPy expressions in ``symbols.lam`` (and ``symbols.tau`` = tr H).
    Gaussian data: alpha = lambda^2, w = omega = lambda (MATH.md §5). Coordinate descent on a diagonal H:
    alpha = tau lambda - lambda^2, w = omega = 0.
    """

    alpha: sp.Expr
    w: sp.Expr
    omega: sp.Expr


GAUSSIAN_NOISE = DecoupledNoise(symbols.lam**2, symbols.lam, symbols.lam)
COORDINATE_DIAGONAL_NOISE = DecoupledNoise(symbols.tau * symbols.lam - symbols.lam**2, sp.Integer(0), sp.Integer(0))


# --------------------------------------------------------------------------------------------------
# validation helpers
# --------------------------------------------------------------------------------------------------
def _as_float_array(data, param: str, ndim: int) -> np.ndarray:
    try:
        arr = np.asarray(data, dtype=float)
    except (TypeError, ValueError):
        raise InputError(param, "must be numeric") from None
    if arr.ndim != ndim:
        raise InputError(param, f"must be {ndim}-dimensional, got shape {arr.shape}")
    if arr.size == 0:
        raise InputError(param, "is empty")
    if not np.all(np.isfinite(arr)):
        bad = np.argwhere(~np.isfinite(arr))[0]
        raise InputError(param, f"non-finite entry at index {tuple(int(i) for i in bad)}")
    return arr


def _exact(x):
    """SymPy number from an input entry: ints and fractions stay exact, floats stay floats."""
    if isinstance(x, (np.floating, float)):
        return sp.Float(float(x))
    if isinstance(x, np.integer):
        return sp.Integer(int(x))
    return sp.sympify(x, strict=True)


def _exact_matrix(data) -> sp.Matrix:
    rows = data.tolist() if isinstance(data, np.ndarray) else data
    return sp.Matrix([[_exact(v) for v in row] for row in rows])


def _check_psd(H: np.ndarray, param: str):
    if H.shape[0] != H.shape[1]:
        raise InputError(param, f"must be square, got shape {H.shape}")
    scale = max(1.0, float(np.max(np.abs(H))))
    if not np.allclose(H, H.T, rtol=0, atol=1e-12 * scale):
        raise InputError(param, "must be symmetric")
    w = np.linalg.eigvalsh((H + H.T) / 2)
    if w[0] < -1e-10 * scale * H.shape[0]:
        raise InputError(param, f"must be positive semidefinite (smallest eigenvalue {w[0]:.3g})")


# --------------------------------------------------------------------------------------------------
# models
# --------------------------------------------------------------------------------------------------
class SamplingModel:
    """Base class. Subclasses set ``name``, ``d``, ``n`` (None for an infinite population),
    ``without_replacement`` and implement ``hessian`` and ``second_moment``."""

    name: str = ""
    without_replacement: bool = False
    decoupled: DecoupledNoise | None = None
    n: int | None = None
    d: int = 0

    # exact objects -------------------------------------------------------------------------------
    def hessian(self) -> sp.Matrix:
        raise NotImplementedError

    def second_moment(self, Y: sp.Matrix) -> sp.Matrix:
        """E[G_xi Y G_xi^T] for one draw."""
        raise NotImplementedError

    def batch_factor(self, batch=symbols.B):
        return batch_factor(batch, self.n, self.without_replacement)

    def covariance(self, Y: sp.Matrix, batch=symbols.B) -> sp.Matrix:
        """C_B(Y) = f_B (E[G Y G^T] - H Y H^T), symbolic in B (and n)."""
        H = self.hessian()
        return self.batch_factor(batch) * (self.second_moment(Y) - H * Y * H.T)

    def check_batch(self, batch):
        return check_batch(batch, self.n, self.without_replacement)

    # float copies ----------------------------------------------------------------------------------
    def hessian_array(self) -> np.ndarray:
        raise NotImplementedError

    def spectrum_array(self) -> np.ndarray:
        """Eigenvalues of H, ascending."""
        return np.linalg.eigvalsh(self.hessian_array())


class RankOneModel(SamplingModel):
    """Finite population of rank-one components G_i = x_i y_i^T, drawn with probability p_i."""

    def components(self):
        """Exact (p, X, Y): lists of probabilities and of x_i, y_i as column matrices."""
        raise NotImplementedError

    def component_arrays(self):
        """Float (p (n,), X (n, d), Y (n, d)) with G_i = outer(X[i], Y[i])."""
        raise NotImplementedError

    def hessian(self) -> sp.Matrix:
        p, X, Yv = self.components()
        return sp.Matrix(sum((pi * x * y.T for pi, x, y in zip(p, X, Yv)), sp.zeros(self.d, self.d)))

    def second_moment(self, Y: sp.Matrix) -> sp.Matrix:
        p, X, Yv = self.components()
        return sp.Matrix(sum((pi * (y.T * Y * y)[0, 0] * x * x.T for pi, x, y in zip(p, X, Yv)),
                             sp.zeros(self.d, self.d)))

    def hessian_array(self) -> np.ndarray:
        p, X, Yv = self.component_arrays()
        return (X * p[:, None]).T @ Yv

    def _check_uniform_for_without_replacement(self, p: np.ndarray, why: str):
        if self.without_replacement and not np.allclose(p, p[0], rtol=1e-12, atol=0):
            raise InputError("without_replacement", f"needs uniform sampling probabilities ({why})")


class Gaussian(SamplingModel):
    """Streaming least squares: G = x x^T, x ~ N(0, H), H = diag(spectrum).

    E[x x^T Y x x^T] = H (Y + Y^T) H + tr(H Y) H (= 2 H Y H + tr(H Y) H for symmetric Y, by Isserlis),
    so C_B(Y) = (1/B)(H Y H + tr(H Y) H) on symmetric Y.
    """

    name = "gaussian"
    decoupled = GAUSSIAN_NOISE

    def __init__(self, spectrum: Sequence, without_replacement: bool = False):
        if without_replacement:
            raise InputError("without_replacement", "does not apply to the gaussian model (an infinite population)")
        if any(isinstance(v, sp.Basic) and not v.is_number for v in spectrum):   # symbolic eigenvalues
            self.spectrum, self._arr, self.d = tuple(spectrum), None, len(spectrum)
            return
        arr = _as_float_array(spectrum, "spectrum", 1)
        if np.any(arr < 0):
            i = int(np.argmax(arr < 0))
            raise InputError("spectrum", f"entries must be >= 0 (got {arr[i]:g} at position {i})")
        if not np.any(arr > 0):
            raise InputError("spectrum", "needs at least one positive entry")
        self.spectrum = tuple(spectrum) if not isinstance(spectrum, np.ndarray) else spectrum
        self._arr = arr
        self.d = arr.size

    def hessian(self) -> sp.Matrix:
        return sp.diag(*[_exact(v) for v in (self.spectrum.tolist() if isinstance(self.spectrum, np.ndarray)
                                              else self.spectrum)])

    def second_moment(self, Y: sp.Matrix) -> sp.Matrix:
        H = self.hessian()
        return H * (Y + Y.T) * H + (H * Y).trace() * H

    def hessian_array(self) -> np.ndarray:
        return np.diag(self._arr)

    def spectrum_array(self) -> np.ndarray:
        return np.sort(self._arr)


class FiniteSum(RankOneModel):
    """Consistent least squares f = (1/2) sum_i p_i (a_i^T x - b_i)^2: G_i = a_i a_i^T, p_i ∝ weights
    (uniform by default), H = sum_i p_i a_i a_i^T (= A^T A / n)."""

    name = "finite"

    def __init__(self, A, weights=None, without_replacement: bool = False):
        self.A = A
        arr = _as_float_array(A, "matrix", 2)
        self.n, self.d = arr.shape
        self._arr = arr
        if weights is None:
            self.weights = None
            self._p = np.full(self.n, 1.0 / self.n)
        else:
            w = _as_float_array(weights, "weights", 1)
            if w.size != self.n:
                raise InputError("weights", f"needs {self.n} entries (one per row), got {w.size}")
            if np.any(w < 0) or not np.any(w > 0):
                raise InputError("weights", "must be >= 0 with a positive sum")
            self.weights = weights
            self._p = w / w.sum()
        self.without_replacement = without_replacement
        self._check_uniform_for_without_replacement(self._p, "weights must be equal")

    def components(self):
        A = _exact_matrix(self.A)
        if self.weights is None:
            p = [sp.Rational(1, self.n)] * self.n
        else:
            w = [_exact(v) for v in (self.weights.tolist() if isinstance(self.weights, np.ndarray) else self.weights)]
            p = [wi / sum(w) for wi in w]
        rows = [A[i, :].T for i in range(self.n)]
        return p, rows, rows

    def component_arrays(self):
        return self._p, self._arr, self._arr


class Kaczmarz(RankOneModel):
    """Randomized Kaczmarz sampling: G_i = a_i a_i^T / ||a_i||^2 with p_i = ||a_i||^2 / ||A||_F^2,
    so H = A^T A / ||A||_F^2 and R^2 = 1."""

    name = "kaczmarz"

    def __init__(self, A, without_replacement: bool = False):
        self.A = A
        arr = _as_float_array(A, "matrix", 2)
        norms = np.sum(arr**2, axis=1)
        if np.any(norms == 0):
            raise InputError("matrix", f"row {int(np.argmax(norms == 0))} is zero (kaczmarz needs nonzero rows)")
        self.n, self.d = arr.shape
        self._arr = arr
        self._norms = norms
        self.without_replacement = without_replacement
        self._check_uniform_for_without_replacement(norms / norms.sum(), "rows must have equal norms")

    def components(self):
        A = _exact_matrix(self.A)
        rows = [A[i, :].T for i in range(self.n)]
        norms = [(r.T * r)[0, 0] for r in rows]
        total = sum(norms)
        p = [nr / total for nr in norms]
        return p, [r / nr for r, nr in zip(rows, norms)], rows

    def component_arrays(self):
        return self._norms / self._norms.sum(), self._arr / self._norms[:, None], self._arr


class Coordinate(RankOneModel):
    """Randomized coordinate descent: G_i = (1/p_i) e_i e_i^T H, p_i = H_ii / tr H (G_i not symmetric).

    Given a diagonal spectrum instead of H, the model is decoupled (MATH.md §5): diag C_B(Y)_i =
    f_B (tr(H) lambda_i - lambda_i^2) Y_ii.
    """

    name = "coordinate"

    def __init__(self, H=None, spectrum=None, without_replacement: bool = False):
        if (H is None) == (spectrum is None):
            raise InputError("matrix", "coordinate needs exactly one of H (a matrix) or its diagonal spectrum")
        if spectrum is not None:
            arr = _as_float_array(spectrum, "spectrum", 1)
            if np.any(arr <= 0):
                raise InputError("spectrum", "coordinate descent needs every diagonal entry of H > 0")
            self.H = np.diag(arr) if isinstance(spectrum, np.ndarray) else \
                [[(v if i == j else 0) for j, v in enumerate(spectrum)] for i in range(len(spectrum))]
            self.decoupled = COORDINATE_DIAGONAL_NOISE
        else:
            arr = _as_float_array(H, "matrix", 2)
            _check_psd(arr, "matrix")
            if np.any(np.diag(arr) <= 0):
                raise InputError("matrix", "coordinate descent needs every diagonal entry of H > 0")
            self.H = H
            self.decoupled = COORDINATE_DIAGONAL_NOISE if np.count_nonzero(arr - np.diag(np.diag(arr))) == 0 else None
        self._H = np.diag(arr) if arr.ndim == 1 else arr
        self.n = self.d = self._H.shape[0]
        self.without_replacement = without_replacement
        diag = np.diag(self._H)
        self._check_uniform_for_without_replacement(diag / diag.sum(), "the diagonal of H must be constant")

    def components(self):
        H = _exact_matrix(self.H)
        tr = H.trace()
        p = [H[i, i] / tr for i in range(self.d)]
        X = [sp.eye(self.d)[:, i] / p[i] for i in range(self.d)]
        Y = [H[i, :].T for i in range(self.d)]
        return p, X, Y

    def component_arrays(self):
        diag = np.diag(self._H)
        p = diag / diag.sum()
        return p, np.eye(self.d) / p[:, None], self._H.copy()

    def hessian_array(self) -> np.ndarray:
        return np.array(self._H, dtype=float)


MODELS = {"gaussian": Gaussian, "finite": FiniteSum, "kaczmarz": Kaczmarz, "coordinate": Coordinate}


def check_model_name(name: str) -> type:
    try:
        return MODELS[name]
    except KeyError:
        raise InputError("model", f"unknown model {name!r} (choose from {', '.join(MODELS)})") from None
