"""theory/ is exact mathematics: no module of it imports numpy (or another array / float library) or
numerics, at top level or inside a function (DESIGN.md: verify -> numerics -> theory, one direction)."""
import ast
from pathlib import Path

import pytest

THEORY = Path(__file__).resolve().parent.parent / "theory"
FORBIDDEN = ("numpy", "scipy", "mpmath", "flint", "cupy", "numerics")


def imported_modules(source: str) -> list[tuple[int, str]]:
    """(line, dotted name) of every import in a module, absolute or relative (``..numerics.x`` gives
    ``numerics.x``)."""
    out = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            out += [(node.lineno, base)] + [(node.lineno, f"{base}.{a.name}" if base else a.name) for a in node.names]
    return out


def violations(source: str) -> list[str]:
    bad = []
    for line, name in imported_modules(source):
        parts = name.split(".")
        if parts[0] in FORBIDDEN or "numerics" in parts[:2] or name.startswith("momentum_verify.numerics"):
            bad.append(f"line {line}: {name}")
    return bad


def test_planted_violations_are_caught():
    planted = ["import numpy as np", "from numpy import linalg", "def f():\n    import mpmath\n",
               "from ..numerics.rates import rho_grid", "from momentum_verify.numerics import tuning",
               "from .. import numerics", "import scipy.linalg"]
    for src in planted:
        assert violations(src), src
    assert not violations("import sympy as sp\nfrom .errors import InputError\nimport math, numbers\n")


@pytest.mark.parametrize("path", sorted(THEORY.glob("*.py")), ids=lambda p: p.name)
def test_theory_module_is_pure(path):
    assert violations(path.read_text()) == [], f"{path.name} imports numbers/arrays or numerics"
