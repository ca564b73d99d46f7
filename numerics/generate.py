"""Regenerate the shipped numeric kernels (numerics/generated/) from theory's SymPy expressions.

    python -m momentum_verify.numerics.generate [--family NAME ...] [--out FOLDER]

Writes one module per kernel family (:data:`numerics.kernels.FAMILIES`); tests/test_generated_kernels.py
checks that the shipped text is what this writes.
"""
from __future__ import annotations

import argparse

from .kernels import FAMILIES, write_generated


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m momentum_verify.numerics.generate", description=__doc__.split("\n")[0])
    ap.add_argument("--family", action="append", choices=sorted(FAMILIES), help="only these families")
    ap.add_argument("--out", help="folder (default: numerics/generated/ of the package)")
    args = ap.parse_args(argv)
    for path in write_generated(args.out, args.family):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
