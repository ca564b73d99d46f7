"""The ``momentum-verify`` command line: parse, call the library, print.

Each subcommand lives in its own module ``verify.cmd_<name>`` with ``add_parser(subparsers)`` and
``run(args) -> int``; modules are imported lazily so that ``formula`` does not pay for Dask.
Bad input raises :class:`theory.errors.InputError`: one line on stderr, exit status 2.
"""
from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys

from ..theory.errors import InputError

COMMANDS = {
    "check": ("momentum_verify.verify.cmd_check", "run the claims of the papers and write paper_checks.md"),
    "formula": ("momentum_verify.verify.cmd_formula", "print a derived formula (operators, charpolys, rates)"),
    "rate": ("momentum_verify.verify.cmd_rate", "spectral radius of the second-moment operator"),
    "tune": ("momentum_verify.verify.cmd_tune", "optimal step size and momentum per batch size"),
    "simulate": ("momentum_verify.verify.cmd_simulate", "Monte Carlo simulation against the exact recursion"),
    "weak-approx": ("momentum_verify.verify.cmd_weak_approx", "SGDM vs SGD at small learning rates (Wang et al. 2024)"),
    "sweep": ("momentum_verify.verify.cmd_sweep", "grids of rate/tune points on Dask"),
    "worst-case": ("momentum_verify.verify.cmd_worst_case", "worst rate over a spectrum class (certified bracket, minimax tuning)"),
    "bound-check": ("momentum_verify.verify.cmd_bound_check", "check a claimed bound over a grid of classes (TOML)"),
}


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2 (argparse's default also prints usage)
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        sys.exit(2)


def _available():
    out = {}
    for name, (mod, help_) in COMMANDS.items():
        if importlib.util.find_spec(mod) is not None:
            out[name] = (mod, help_)
    return out


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    parser = _Parser(prog="momentum-verify", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for name, (mod, help_) in _available().items():
        if only is None or only == name:
            importlib.import_module(mod).add_parser(sub.add_parser(name, help=help_, description=help_))
        else:
            sub.add_parser(name, help=help_, add_help=False)
    return parser


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    cmd = next((a for a in argv if not a.startswith("-")), None)
    parser = build_parser(cmd if cmd in COMMANDS else None)
    args = parser.parse_args(argv)
    mod = importlib.import_module(_available()[args.command][0])
    try:
        return int(mod.run(args) or 0)
    except InputError as exc:
        sys.stderr.write(f"momentum-verify {args.command}: error: {exc}\n")
        return 2
    except BrokenPipeError:  # e.g. piped into `head`
        return 0
    except KeyboardInterrupt:
        sys.stderr.write("momentum-verify: interrupted\n")
        return 130
