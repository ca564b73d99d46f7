"""Method files: a method as TOML data, read through :meth:`theory.methods.Method.from_data`.

The format (independent checks use it: these names are fixed), e.g. quasi-hyperbolic momentum::

    name = "qhm"
    parameters = ["eta", "beta", "nu"]      # eta is --lr, beta is --momentum, the rest come by --param
    A = [["1", "-eta*nu*beta"], ["0", "beta"]]
    b = ["-eta*(1 - nu*beta)", "1 - beta"]
    c = ["1", "0"]
    init = ["e0", "0"]                      # optional: z_0 = (e_0, 0); default e0 in every block

    [ranges]                                # optional; defaults eta (0, inf), beta [0, 1), others any real
    nu = "[0, 1]"
    [defaults]                              # optional values for parameters beyond eta and beta
    nu = "0.7"

Optional keys beside these: ``update`` (the update rule in words), ``reference`` (the source),
``description``. Any other key is an error naming it. Formulas go through the whitelist parser
(numbers, the parameters, + - * / ^, parentheses, sqrt, log, exp): never eval.

>>> import tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "gd.toml")
>>> _ = open(path, "w").write('name = "gd"\\nparameters = ["eta"]\\nA = [["1"]]\\nb = ["-eta"]\\nc = ["1"]\\n')
>>> load_method(path).s
1
"""
from __future__ import annotations

import sys
from pathlib import Path

from .errors import InputError
from .methods import Method

if sys.version_info >= (3, 11):
    import tomllib
else:                                   # pragma: no cover
    import tomli as tomllib

KEYS = ("name", "parameters", "A", "b", "c", "init", "ranges", "defaults", "update", "reference", "description")


def read_toml(path, param: str) -> dict:
    """A TOML file as a dict; unreadable or malformed files are an :class:`InputError` on ``param``."""
    p = Path(path)
    if not p.is_file():
        raise InputError(param, f"cannot read file {str(path)!r}")
    try:
        with open(p, "rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(param, f"{p.name} is not valid TOML: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(param, f"cannot read file {str(path)!r}: {exc}") from None


def method_from_dict(data: dict, where: str = "method") -> Method:
    """Validate the keys of a method table and build the :class:`Method` (unknown keys are errors)."""
    if not isinstance(data, dict):
        raise InputError(where, "a method is a table of keys")
    for key in data:
        if key not in KEYS:
            raise InputError(key if where == "method" else f"{where}.{key}",
                             f"unknown key in a method (allowed: {', '.join(KEYS)})")
    for key in ("reference", "description"):
        if key in data and not isinstance(data[key], str):
            raise InputError(key, "must be a string")
    return Method.from_data(data, where)


def load_method(path) -> Method:
    """Read a method file (TOML) into a :class:`Method`."""
    return method_from_dict(read_toml(path, "method"))
