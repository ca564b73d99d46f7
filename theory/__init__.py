"""Exact objects and derivations (SymPy): methods, sampling models, moment operators, rate formulas.

Nothing here knows about floating-point arrays or papers: ``numerics`` turns these expressions into
kernels and ``verify`` turns them into claims.
"""
from theory.errors import InputError
from theory.methods import METHODS, Method, get_method
from theory.symbols import B, beta, eta, lam, z

__all__ = ["InputError", "METHODS", "Method", "get_method", "B", "beta", "eta", "lam", "z"]
