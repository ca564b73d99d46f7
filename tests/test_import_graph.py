"""The module-level import graph of the momentum_verify package has no cycle (DESIGN.md).

Each module's imports executed at import time (statements outside function and class bodies,
including those under ``if``/``try`` at module level) are read from the AST, relative imports
resolved; ``from pkg import name`` counts as an import of ``pkg.name`` when that is a module, else of
``pkg``. A submodule's implicit import of its parent package is not an edge; an explicit one
(``from . import name`` of a name defined in the parent's ``__init__``) is.
"""
from __future__ import annotations

import ast
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[1]
FOLDERS = {"momentum_verify": ROOT / "src" / "momentum_verify", "momentum_verify.theory": ROOT / "theory",
           "momentum_verify.numerics": ROOT / "numerics", "momentum_verify.verify": ROOT / "verify"}


def package_modules(folders: dict) -> dict:
    """{dotted module name: (path, is_package)} for every .py file under the folders."""
    mods = {}
    for base, folder in folders.items():
        for path in folder.rglob("*.py"):
            rel = path.relative_to(folder).with_suffix("").parts
            if rel[-1] == "__init__":
                mods[".".join((base,) + rel[:-1])] = (path, True)
            else:
                mods[".".join((base,) + rel)] = (path, False)
    return mods


def _top_level_imports(tree: ast.Module):
    """Import nodes executed when the module is imported (not inside def/class bodies)."""
    stack = list(tree.body)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            continue
        else:
            for field in ("body", "orelse", "finalbody", "handlers"):
                stack.extend(getattr(node, field, []) or [])


def import_graph(mods: dict) -> dict:
    """{module: set of package modules it imports at module level}."""
    graph = {}
    for name, (path, is_pkg) in mods.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        here = name if is_pkg else name.rpartition(".")[0]
        edges = set()
        for node in _top_level_imports(tree):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                if node.level:
                    base = here.split(".")
                    base = base[:len(base) - (node.level - 1)]
                    mod = ".".join(base + ([node.module] if node.module else []))
                else:
                    mod = node.module or ""
                targets = [f"{mod}.{a.name}" if f"{mod}.{a.name}" in mods else mod for a in node.names]
            for t in targets:
                while t and t not in mods:           # "import a.b.c" imports a.b.c (and its parents)
                    t = t.rpartition(".")[0]
                if t and t != name:
                    edges.add(t)
        graph[name] = edges
    return graph


def find_cycle(graph: dict):
    """One cycle as a list of modules [a, b, ..., a], or None (iterative depth-first search)."""
    color = {v: 0 for v in graph}                # 0 new, 1 on the stack, 2 done
    for root in graph:
        if color[root]:
            continue
        path, iters = [root], [iter(sorted(graph[root]))]
        color[root] = 1
        while path:
            nxt = next(iters[-1], None)
            if nxt is None:
                color[path.pop()] = 2
                iters.pop()
            elif color.get(nxt, 2) == 1:
                return path[path.index(nxt):] + [nxt]
            elif color.get(nxt, 2) == 0:
                color[nxt] = 1
                path.append(nxt)
                iters.append(iter(sorted(graph[nxt])))
    return None


def test_package_has_no_import_cycle():
    mods = package_modules(FOLDERS)
    assert "momentum_verify.numerics.rates" in mods
    graph = import_graph(mods)
    assert "momentum_verify.numerics.rates.result" in graph["momentum_verify.numerics.rates"]
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_planted_cycle_is_detected(tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from .sub import b\n")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "b.py").write_text("import os\ntry:\n    from ..c import f\nexcept ImportError:\n    pass\n")
    (pkg / "c.py").write_text("def g():\n    from . import a\n")          # inside a function: no edge
    mods = package_modules({"pkg": pkg})
    assert find_cycle(import_graph(mods)) is None
    (pkg / "c.py").write_text("from .a import x\n")                       # module level: a -> b -> c -> a
    cycle = find_cycle(import_graph(package_modules({"pkg": pkg})))
    assert cycle is not None and set(cycle) == {"pkg.a", "pkg.sub.b", "pkg.c"}
    (pkg / "c.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("from .b import y\n")
    (pkg / "sub" / "b.py").write_text("from . import z\n")               # z defined in sub/__init__
    assert find_cycle(import_graph(package_modules({"pkg": pkg}))) is not None
