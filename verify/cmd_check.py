"""``momentum-verify check``: run the claims of the papers, print a summary, write paper_checks.md.

The full run writes the report (default ``paper_checks.md`` in the current directory) and its figures
beside it; a partial run (``--quick`` or ``--only``) writes one only to an explicit ``--report PATH``.
Exit status 0 when no claim fails, 1 otherwise.
"""
from __future__ import annotations

import json
import sys
from contextlib import nullcontext

from .runner import exit_status, run_all

DEFAULT_REPORT = "paper_checks.md"


def add_parser(p):
    p.add_argument("--quick", action="store_true", help="run only the quick subset (under 2 minutes)")
    p.add_argument("--only", metavar="PATTERN",
                   help="claims whose id matches (comma-separated globs like 'classical.*', or substrings)")
    p.add_argument("--report", metavar="PATH",
                   help=f"write the report here (default {DEFAULT_REPORT} for a full run; partial runs "
                        "write only when given)")
    p.add_argument("--momentum-rule", metavar="FORMULA",
                   help="your momentum choice beta(eta, B, kappa, kappa_bar, mu, L) for the "
                        "near-optimality claim, e.g. '(1 - sqrt(eta*mu))^2' or '1 - 2/sqrt(kappa)'")
    p.add_argument("--claims", metavar="FILE.toml", action="append",
                   help="run the claims of this file instead of the built-in ones (repeatable; "
                        "see verify/claim_file.py for the format)")
    p.add_argument("--json", action="store_true", help='print {"claims": [...]} to stdout')
    p.add_argument("--workers", type=int, metavar="N", default=None,
                   help="processes running claims at once (default: every core; 1 runs them in order)")


def _command_line(args) -> str:
    parts = ["momentum-verify check"]
    if args.quick:
        parts.append("--quick")
    if args.only:
        parts.append(f"--only '{args.only}'")
    for path in getattr(args, "claims", None) or []:
        parts.append(f"--claims {path}")
    if args.momentum_rule:
        parts.append(f"--momentum-rule '{args.momentum_rule}'")
    return " ".join(parts)


def _check_selection(args, file_claims) -> None:
    """Bad input before any work: an empty --only, an --only that matches no claim, an unwritable --report."""
    from ..theory.errors import InputError
    from .claims import load_claims
    from .parsing import check_output_file
    from .runner import select
    if args.only is not None and not [p for p in args.only.split(",") if p.strip()]:
        raise InputError("only", f"empty pattern {args.only!r} (give claim ids or globs like 'classical.*')")
    if args.report is not None:
        check_output_file(args.report, "report")
    if args.only is not None:
        claims = file_claims if file_claims is not None else load_claims()[0]
        if not select(claims, quick=args.quick, only=args.only):
            raise InputError("only", f"no claim matches {args.only!r}{' among the quick ones' if args.quick else ''}"
                                     " (ids look like 'classical.sgd-deterministic-rate'; globs like 'classical.*')")


def run(args) -> int:
    from rich.console import Console
    from rich.table import Table

    from .claims.garg_derezinski import parse_momentum_rule
    from .report import write_report

    if args.momentum_rule is not None:
        parse_momentum_rule(args.momentum_rule)          # bad input: one line, exit 2, before any work
    file_claims = None
    if getattr(args, "claims", None):
        from .claim_file import load_claim_files
        file_claims = load_claim_files(args.claims)     # bad files: one line, exit 2, before any work
    _check_selection(args, file_claims)                 # --only and --report, before any claim runs
    err = Console(stderr=True)
    colors = {"holds": "green", "fails": "red", "inconclusive": "yellow"}

    from .runner import default_workers
    workers = default_workers() if args.workers is None else args.workers
    if workers < 1:
        from ..theory.errors import InputError
        raise InputError("workers", f"must be >= 1, got {workers}")
    progress = {"total": 0, "done": 0}

    def on_start(claim, i, n):
        progress["total"] = n
        if workers == 1:
            err.print(f"[dim][{i + 1}/{n}] {claim.id} ...[/dim]", highlight=False)

    def on_done(o):
        v = o.verdict.verdict
        progress["done"] += 1
        count = f"[{progress['done']}/{progress['total']}] " if workers > 1 else ""
        err.print(f"  {count}[{colors[v]}]{v}[/{colors[v]}]  {o.id}  ({o.seconds:.1f} s)", highlight=False)

    import time
    shared = {"t0": time.perf_counter(), "status": None}

    def on_shared(done, total, stage):
        # shared work (tuned curves several claims read): a live count, a line per tenth and per stage
        msg = f"shared work, stage {stage}: {done}/{total} tasks"
        if shared["status"] is not None:
            shared["status"].update(msg)
        step = max(1, total // 10)
        if done == total or (not err.is_terminal and done % step == 0):
            err.print(f"[dim]  {msg} ({time.perf_counter() - shared['t0']:.1f} s)[/dim]", highlight=False)

    with err.status("running claims", spinner="dots") if err.is_terminal else nullcontext() as status:
        shared["status"] = status
        outcomes = run_all(quick=args.quick, only=args.only, options={"momentum_rule": args.momentum_rule},
                           claims=file_claims, on_shared=on_shared,
                           on_start=on_start, on_done=on_done, workers=workers)
    if not outcomes:
        err.print("no claim matches")
        return 1

    partial = args.quick or bool(args.only) or bool(getattr(args, "claims", None))
    path = args.report or (None if partial else DEFAULT_REPORT)
    if path:
        try:
            write_report(outcomes, path, command=_command_line(args), prune=not partial, workers=workers)
        except OSError as exc:                          # checked up front; a disk that fills up since
            from ..theory.errors import InputError
            raise InputError("report", f"cannot write {path!r}: {exc.strerror or exc}") from None
        err.print(f"report written to {path}")
    elif partial:
        err.print("partial run: report not written (pass --report PATH to write one)")

    if args.json:
        json.dump({"claims": [o.to_json() for o in outcomes]}, sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        table = Table(title="paper checks (numbers, routes and precision in the report / --json)")
        table.add_column("claim", no_wrap=True)
        table.add_column("verdict", no_wrap=True)
        table.add_column("seconds", justify="right")
        for o in outcomes:
            v = o.verdict.verdict
            table.add_row(o.id, f"[{colors[v]}]{v}[/{colors[v]}]", f"{o.seconds:.1f}")
        Console().print(table)
    return exit_status(outcomes)
