"""Methods as state-space triples (A, b, c) in eta and beta (MATH.md §3).

With z_k = (e_k, e_{k-1}):  z_{k+1} = (A ⊗ I) z_k + (b ⊗ I) u_k,  y_k = (c^T ⊗ I) z_k,  u_k = G_B y_k.
Adding a method is adding one entry to ``METHODS``; every operator, kernel and simulator is derived
from the triple.
"""
from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from .errors import InputError
from .symbols import beta, eta


@dataclass(frozen=True)
class Method:
    """A first-order method with one stochastic-gradient feedback per step.

    Attributes
    ----------
    name : registry name (``sgd``, ``heavy-ball``, ``nesterov``, ``sgdm``).
    A, b, c : ImmutableMatrix of shapes (s, s), (s, 1), (s, 1), entries in ``eta``, ``beta``.
    update : the update rule in words.
    """

    name: str
    A: sp.ImmutableMatrix
    b: sp.ImmutableMatrix
    c: sp.ImmutableMatrix
    update: str
    uses_momentum: bool = True

    @property
    def s(self) -> int:
        """Number of stacked copies of the error in the state."""
        return self.A.shape[0]

    def block(self, lam) -> sp.Matrix:
        """First-moment block ``A + lam b c^T``: the deterministic method on one eigen-direction."""
        return sp.Matrix(self.A + lam * self.b * self.c.T)

    def at(self, **values) -> "Method":
        """The triple with some symbols substituted (e.g. ``beta=0``)."""
        subs = {sp.Symbol(k, **_ASSUMPTIONS.get(k, {})): v for k, v in values.items()}
        return Method(self.name, self.A.subs(subs), self.b.subs(subs), self.c.subs(subs),
                      self.update, self.uses_momentum)


_ASSUMPTIONS = {"eta": {"positive": True}, "beta": {"nonnegative": True}}


def _triple(A, b, c):
    return sp.ImmutableMatrix(A), sp.ImmutableMatrix(b), sp.ImmutableMatrix(c)


METHODS: dict[str, Method] = {
    "sgd": Method("sgd", *_triple([[1, 0], [1, 0]], [-eta, 0], [1, 0]),
                  "x+ = x - eta g(x)", uses_momentum=False),
    "heavy-ball": Method("heavy-ball", *_triple([[1 + beta, -beta], [1, 0]], [-eta, 0], [1, 0]),
                         "x+ = x - eta g(x) + beta (x - x-)"),
    "nesterov": Method("nesterov", *_triple([[1 + beta, -beta], [1, 0]], [-eta, 0], [1 + beta, -beta]),
                       "y = x + beta (x - x-); x+ = y - eta g(y)"),
    "sgdm": Method("sgdm", *_triple([[1 + beta, -beta], [1, 0]], [-eta * (1 - beta), 0], [1, 0]),
                   "m+ = beta m + (1 - beta) g(x); x+ = x - eta m+  (dampened)"),
}


def get_method(name: str) -> Method:
    """Look a method up by name; unknown names raise :class:`InputError` listing the choices."""
    try:
        return METHODS[name]
    except KeyError:
        raise InputError("method", f"unknown method {name!r} (choose from {', '.join(METHODS)})") from None
