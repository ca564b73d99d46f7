"""One module per source; each exposes ``CLAIMS``, a list of :class:`verify.claim.Claim`.

``MODULES`` is the one explicit list the runner reads: a module listed here is loaded and all of its
claims run; a module that fails to load, or has no ``CLAIMS``, is reported as a failing entry (never
skipped silently).
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass

from ..claim import Claim

MODULES = [
    "momentum_verify.verify.claims.classical",
    "momentum_verify.verify.claims.garg_derezinski",
    "momentum_verify.verify.claims.stochastic_formulas",
    "momentum_verify.verify.claims.wang2024",
    "momentum_verify.verify.claims.worst_case",
]


@dataclass
class LoadError:
    """A claims module that could not be loaded: its name and the error, reported as a failure."""

    module: str
    error: str


def load_claims(modules: list[str] | None = None) -> tuple[list[Claim], list[LoadError]]:
    """Import every module of ``modules`` (default ``MODULES``) and collect their ``CLAIMS``.

    Returns the claims in module order and the load errors. Duplicate claim ids are an error of the
    later module.
    """
    claims: list[Claim] = []
    errors: list[LoadError] = []
    seen: set[str] = set()
    for name in MODULES if modules is None else modules:
        try:
            mod = importlib.import_module(name)
        except Exception as exc:  # any import failure is reported, not hidden
            errors.append(LoadError(name, f"{type(exc).__name__}: {exc}"))
            continue
        found = getattr(mod, "CLAIMS", None)
        if not isinstance(found, list) or not all(isinstance(c, Claim) for c in found):
            errors.append(LoadError(name, "module has no CLAIMS list of Claim objects"))
            continue
        for c in found:
            if c.id in seen:
                errors.append(LoadError(name, f"duplicate claim id {c.id!r}"))
                continue
            seen.add(c.id)
            claims.append(c)
    return claims, errors
