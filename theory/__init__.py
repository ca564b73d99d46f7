"""Exact objects and derivations (SymPy): methods, sampling models, moment operators, rate formulas.

Nothing here knows about floating-point arrays or papers: ``numerics`` turns these expressions into
kernels and ``verify`` turns them into claims.
"""
from .errors import InputError
from .methods import METHODS, Method, get_method
from .symbols import B, beta, eta, lam, z

__all__ = ["InputError", "METHODS", "Method", "get_method", "B", "beta", "eta", "lam", "z"]
