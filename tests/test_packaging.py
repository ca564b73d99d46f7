"""Packaging: one import name, ``momentum_verify``; no bare ``theory``/``numerics``/``verify`` imports.

The three folders sit at the repository root (so ``import theory`` would work by accident from a
checkout); these tests make sure nothing relies on that, and that pyproject lists every subpackage.
"""
from __future__ import annotations

import ast
import pathlib
import sys

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = pathlib.Path(__file__).resolve().parents[1]
FOLDERS = {"theory": "theory", "numerics": "numerics", "verify": "verify", "momentum_verify": "src/momentum_verify"}
BARE = {"theory", "numerics", "verify"}


def python_files():
    for folder in ["theory", "numerics", "verify", "src", "tests", "benchmarks", "examples", "docs"]:
        yield from (ROOT / folder).rglob("*.py")


def bare_imports(path: pathlib.Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    bad = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            bad += [a.name for a in node.names if a.name.split(".")[0] in BARE]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module.split(".")[0] in BARE:
                bad.append(node.module)
    return bad


def test_no_bare_imports():
    offenders = {str(p.relative_to(ROOT)): b for p in python_files() if (b := bare_imports(p))}
    assert offenders == {}, f"import through momentum_verify (or relatively inside it): {offenders}"


def test_bare_import_detector_can_fail(tmp_path):
    f = tmp_path / "x.py"
    f.write_text("import numerics.spectral\nfrom theory import eta\nfrom .theory import ok\n")
    assert bare_imports(f) == ["numerics.spectral", "theory"]


def test_pyproject_lists_every_package():
    conf = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(conf["packages"])
    mapping = conf["package-dir"]
    found = set()
    for top, folder in FOLDERS.items():
        base = "momentum_verify" if top == "momentum_verify" else f"momentum_verify.{top}"
        assert mapping[base] == folder
        for init in (ROOT / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / folder).parts
            found.add(".".join((base,) + rel))
    assert found == listed


def test_console_script_points_into_the_package():
    conf = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert conf["momentum-verify"].startswith("momentum_verify.verify.cli:")
