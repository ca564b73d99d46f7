"""Exact input data for the multiprecision and certified tiers, and the second-moment operator over any
number type.

Inputs are kept exact: floats are read as the binary fractions they are, fractions and SymPy numbers
(``sqrt(2)``) stay symbolic until a context converts them at its working precision.
"""
from __future__ import annotations

import math
from fractions import Fraction

import mpmath as mp
import numpy as np

from ..operators import SecondMomentOperator, as_method
from ...theory.errors import InputError
from ...theory.sampling import SamplingModel
from ...theory.lazy import LazyModule

sp = LazyModule("sympy")          # the exact tiers only: the double routes import no SymPy

# --------------------------------------------------------------------------------------------------
# exact inputs
# --------------------------------------------------------------------------------------------------
def exact(x) -> sp.Expr:
    """An exact SymPy number for an input value (floats are the binary fractions they store)."""
    if isinstance(x, sp.Basic):
        if isinstance(x, sp.Float):
            return _binary_fraction(x._mpf_)
        return x
    if isinstance(x, (bool, np.bool_)):
        raise InputError("value", f"not a number: {x!r}")
    if isinstance(x, (int, np.integer)):
        return sp.Integer(int(x))
    if isinstance(x, Fraction):
        return sp.Rational(x.numerator, x.denominator)
    if isinstance(x, (float, np.floating)):
        return sp.Rational(*Fraction(float(x)).as_integer_ratio())
    if isinstance(x, mp.mpf):
        return _binary_fraction(x._mpf_)
    raise InputError("value", f"not a number: {x!r}")


def _binary_fraction(mpf_tuple) -> sp.Rational:
    """The binary fraction (-1)^sign man 2^exp that an mpf / SymPy Float stores, exactly."""
    sign, man, exp, bc = mpf_tuple
    if man == 0 and exp != 0:           # mpmath's encodings of inf / nan
        raise InputError("value", "not a finite number")
    v = sp.Integer(int(man)) * sp.Integer(2) ** int(exp)
    return -v if sign else v


def to_mpf(x):
    """An exact input at the current mpmath working precision."""
    e = exact(x)
    if isinstance(e, sp.Rational):
        return mp.mpf(e.p) / e.q
    return mp.mpf(sp.N(e, mp.mp.dps + 10))


def spectrum_exact(model: SamplingModel) -> list:
    """Exact eigenvalues of a diagonal model (gaussian, coordinate with diagonal H), ascending like
    ``model.spectrum_array()`` (indices of eigenvalues agree between the double and exact routes)."""
    return model.exact_spectrum()


def exact_copy(model: SamplingModel) -> SamplingModel:
    """The same model with its data as exact rationals, so that derived components (a_i / ||a_i||^2,
    e_i / p_i) are exact too (a model built from floats computes them in rounded arithmetic)."""
    return model.exact_copy()


def batch_factor_exact(model: SamplingModel, batch) -> sp.Expr:
    return sp.Integer(0) if batch == math.inf else sp.sympify(model.batch_factor(batch))


# --------------------------------------------------------------------------------------------------
# the operator with entries in any number type (object arrays): mpmath mpf or flint arb
# --------------------------------------------------------------------------------------------------
class ObjectSecondMomentOperator(SecondMomentOperator):
    """:class:`numerics.operators.SecondMomentOperator` whose arrays hold exact data converted by ``conv``
    (a function from an exact SymPy number to mpf or arb); ``apply`` is inherited unchanged."""

    def __init__(self, method, model: SamplingModel, batch, lr, momentum, conv):
        self.method, self.model = as_method(method), model
        from ...theory.symbols import beta, eta
        subs = {eta: exact(lr), beta: exact(momentum)}

        def arr(M):
            return np.array([[conv(sp.sympify(e).subs(subs)) for e in row]
                             for row in sp.Matrix(M).tolist()], dtype=object)

        self.A, self.b, self.c = arr(self.method.A), arr(self.method.b)[:, 0], arr(self.method.c)[:, 0]
        self.d, self.s = model.d, self.A.shape[0]
        self.fB = conv(batch_factor_exact(model, batch))
        self._zero = conv(sp.Integer(0))
        self.data = model.operator_data(np, conv)         # H and the model's own arrays, entries conv(exact)
        self.H = self.data["H"]
        eye = np.array([[conv(sp.Integer(int(i == j))) for j in range(self.d)] for i in range(self.d)],
                       dtype=object)
        self.Mbar = np.kron(self.A, eye) + np.kron(np.outer(self.b, self.c), self.H)

    def covariance(self, Y):
        if self.fB == 0:
            return np.full(Y.shape, self._zero, dtype=object)
        return self.fB * (self.second_moment(Y) - self.H @ Y @ self.H.T)

    def second_moment(self, Y):
        return self.model.second_moment_array(Y, self.data, np)

    def vech_matrix(self):
        from ...theory.moments import vech_index
        m = self.s * self.d
        idx = vech_index(m)
        T = np.empty((len(idx), len(idx)), dtype=object)
        for k, (i, j) in enumerate(idx):
            E = np.full((m, m), self._zero, dtype=object)
            E[i, j] = E[j, i] = self._zero + 1
            img = self.apply(E)
            T[:, k] = [img[a, b] for a, b in idx]
        return T
