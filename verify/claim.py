"""A claim of a paper as data, and its verdict as data (read by the runner, the report, the JSON
output and the tests alike)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

HOLDS, FAILS, INCONCLUSIVE = "holds", "fails", "inconclusive"


@dataclass
class Verdict:
    """Outcome of one check.

    verdict : "holds" | "fails" | "inconclusive".
    numbers : the measured numbers that decided it, as printable values (strings carrying their
              precision, e.g. "0.9361 (8 digits)", "[0.41, 0.44] (99% CI)"), or plain floats/ints.
    routes  : the independent routes that agreed, e.g. ["symbolic", "numeric (secular, double)",
              "Monte Carlo (99% CI)"].
    method  : how it was checked, in words (instances, tolerances).
    precision : the precision of the deciding numbers, in words.
    """

    verdict: str
    numbers: dict[str, Any] = field(default_factory=dict)
    routes: list[str] = field(default_factory=list)
    method: str = ""
    precision: str = ""
    figures: list[str] = field(default_factory=list)
    plots: list[dict] = field(default_factory=list)   # data the report draws (verify.report.PLOTTERS)


@dataclass
class Claim:
    """id, source (paper + theorem/section), statement in words (as the paper states it, never
    stronger), the check, and its tolerance. ``quick`` claims run in ``check --quick``.

    ``reading``: how sure the statement's reading is (MATH.md): "exact" (a textbook formula),
    "as reported" (read from MATH.md's account of the paper), "uncertain" (our own reading of a result
    whose text is not available). The runner demotes "holds" to "inconclusive" for "uncertain" readings.
    """

    id: str
    source: str
    statement: str
    check: Callable[..., Verdict]
    tolerance: str = ""
    quick: bool = True
    reading: str = "exact"
    needs: tuple = ()        # shared work plans (verify.claims.shared) the runner computes once, up front

    def run(self, **options) -> Verdict:
        return self.check(**options)
