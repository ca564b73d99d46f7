"""The ``momentum-verify`` command line: parse, call the library, print.

Each subcommand lives in its own module ``verify.cmd_<name>`` with ``add_parser(subparsers)`` and
``run(args) -> int``; modules are imported lazily so that ``formula`` does not pay for Dask.

The one error boundary (:func:`main`): bad input raises :class:`theory.errors.InputError` and prints one
line on stderr, exit status 2; any other exception prints one line naming the command and the error,
exit status 1 (the traceback only with ``--debug``, accepted anywhere on the line). Warnings raised while
a command runs are held back: printed after its output when it succeeds, dropped when it ends in an error
(shown with ``--debug``), so that an error is always the one line on stderr. Limits on the work a
command may start are in :mod:`verify.limits` (``MOMENTUM_VERIFY_LIMITS``).
"""
from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
import traceback
import warnings

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


def _one_line(text: str, limit: int = 400) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _prefix(name) -> str:
    return f"momentum-verify {name}" if name else "momentum-verify"


def _show(caught) -> None:
    for w in caught:
        sys.stderr.write(warnings.formatwarning(w.message, w.category, w.filename, w.lineno, w.line))


def main(argv=None) -> int:
    """Run one command; return its exit status (0 ok, 1 a failing check or an internal error, 2 bad input)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    argv = [a for a in argv if a != "--debug"]
    cmd = next((a for a in argv if not a.startswith("-")), None)
    name = cmd if cmd in COMMANDS else None
    caught = []
    try:
        with warnings.catch_warnings(record=True) as caught:
            from . import limits
            limits.load_env()
            parser = build_parser(name or "")          # no command named: no command module imported
            args = parser.parse_args(argv)
            name = args.command
            mod = importlib.import_module(_available()[args.command][0])
            status = int(mod.run(args) or 0)
    except InputError as exc:
        if debug:
            _show(caught)
        sys.stderr.write(f"{_prefix(name)}: error: {_one_line(exc)}\n")
        return 2
    except BrokenPipeError:  # e.g. piped into `head`
        return 0
    except KeyboardInterrupt:
        sys.stderr.write("momentum-verify: interrupted\n")
        return 130
    except SystemExit:      # argparse: usage errors (status 2, one line) and --help (status 0)
        raise
    except Exception as exc:  # a bug, not bad input: say so in one line, the traceback with --debug
        if debug:
            _show(caught)
            traceback.print_exc()
        sys.stderr.write(f"{_prefix(name)}: internal error: {type(exc).__name__}: {_one_line(exc, 300)} "
                         "(a bug: please report it; --debug shows the traceback)\n")
        return 1
    _show(caught)
    return status
