"""Sphinx configuration for the momentum-verify documentation.

Build (warning-free, as CI does):  ``python -m sphinx -W --keep-going -b html docs docs/_build/html``
Needs only the ``docs`` extra: ``pip install -e ".[docs]"``.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))
os.environ.setdefault("MPLBACKEND", "Agg")

import momentum_verify  # noqa: E402  (installed: pip install -e .)

project = "momentum-verify"
author = "the momentum-verify authors"
copyright = "2026, " + author
release = version = momentum_verify.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
    "cli_reference",
    "plain_docstrings",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "gallery/GALLERY_HEADER.rst", "gallery/*.py",
                    "Thumbs.db", ".DS_Store"]

# MyST: $...$ math, ::: fences; headings get anchors so pages can link to sections.
myst_enable_extensions = ["dollarmath", "colon_fence", "deflist"]
myst_heading_anchors = 3

# API reference from the docstrings (NumPy style, read by napoleon).
autosummary_generate = ["api/index.rst", "api/generated/modules.rst"]
autosummary_imported_members = False
autodoc_default_options = {"members": True, "show-inheritance": False}
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_mock_imports = ["cupy"]
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_rtype = False


def _write_module_list() -> None:
    """api/generated/modules.rst: an autosummary of every module of the package (not ``__main__``,
    which runs the command line when imported), so a new module appears without editing the docs."""
    import pkgutil

    names = set()
    for sub in ("theory", "numerics", "verify"):
        pkg = __import__(f"momentum_verify.{sub}", fromlist=["__path__"])
        names.add(pkg.__name__)
        names.update(i.name for i in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + "."))
    names = sorted(n for n in names if not n.endswith("__main__"))
    out = HERE / "api" / "generated"
    out.mkdir(parents=True, exist_ok=True)
    text = "Modules\n=======\n\n.. autosummary::\n   :toctree: .\n\n" + "".join(f"   {n}\n" for n in names)
    target = out / "modules.rst"
    if not target.exists() or target.read_text() != text:
        target.write_text(text)


_write_module_list()

# Gallery: every file in docs/gallery is executed at build time; a failing assertion fails the build.
sphinx_gallery_conf = {
    "examples_dirs": "gallery",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/ex_",
    "ignore_pattern": r"__init__\.py",
    "abort_on_example_error": True,
    "download_all_examples": False,
    "remove_config_comments": True,
    "within_subsection_order": "FileNameSortKey",
    "matplotlib_animations": False,
    "show_memory": False,
}

html_theme = "alabaster"
html_static_path: list[str] = []
html_title = "momentum-verify"
html_theme_options = {"description": "exact rates of stochastic momentum methods", "fixed_sidebar": True}

nitpicky = False
suppress_warnings = ["config.cache"]
