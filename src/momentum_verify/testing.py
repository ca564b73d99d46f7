"""Regression-test a paper's math in its own CI: run claim files (TOML) from pytest.

Two ways:

* call :func:`check_claims` (the verdicts, as the runner returns them) or :func:`assert_claims` (raises
  ``AssertionError`` listing every claim that fails) from an ordinary test::

      from momentum_verify.testing import assert_claims

      def test_paper_claims():
          assert_claims("claims/paper.claims.toml")

* or load this module as a pytest plugin (``pytest -p momentum_verify.testing``, or
  ``pytest_plugins = ["momentum_verify.testing"]`` in a conftest.py): every ``*.claims.toml`` file
  pytest is pointed at (or finds under its test paths) is collected, one test item per claim; a
  failing claim fails its item, an inconclusive one is skipped with its numbers as the reason.

The claims file format is that of ``momentum-verify check --claims FILE`` (see
:mod:`momentum_verify.verify.claim_file`).
"""
from __future__ import annotations

from pathlib import Path

SUFFIX = ".claims.toml"


def check_claims(path, only: str | None = None) -> list:
    """Run the claims of a claims file; returns the runner's outcomes (``.id``, ``.verdict.verdict``
    in {"holds", "fails", "inconclusive"}, ``.verdict.numbers``, ``.to_json()``)."""
    from .verify.claim_file import load_claim_file
    from .verify.runner import run_all
    return run_all(claims=load_claim_file(path), only=only)


def _describe(o) -> str:
    nums = "; ".join(f"{k}: {v}" for k, v in o.verdict.numbers.items())
    return f"{o.id}: {o.verdict.verdict} ({nums})"


def assert_claims(path, only: str | None = None, allow_inconclusive: bool = True) -> list:
    """Run a claims file and raise ``AssertionError`` naming every failing claim (and every
    inconclusive one unless ``allow_inconclusive``); returns the outcomes otherwise."""
    outcomes = check_claims(path, only)
    bad = [o for o in outcomes if o.verdict.verdict == "fails"
           or (not allow_inconclusive and o.verdict.verdict == "inconclusive")]
    if not outcomes:
        raise AssertionError(f"{path}: no claim ran")
    if bad:
        raise AssertionError("\n".join(_describe(o) for o in bad))
    return outcomes


# --------------------------------------------------------------------------------------------------
# the pytest plugin (pytest is imported only when pytest loads this module as a plugin)
# --------------------------------------------------------------------------------------------------
try:
    import pytest
except ImportError:                       # pragma: no cover - the functions above work without pytest
    pytest = None

if pytest is not None:
    class ClaimsFile(pytest.File):
        """A ``*.claims.toml`` file: one item per claim (loaded and validated at collection)."""

        def collect(self):
            from .verify.claim_file import load_claim_file
            for claim in load_claim_file(self.path):
                yield ClaimItem.from_parent(self, name=claim.id, claim=claim)

    class ClaimItem(pytest.Item):
        """One claim, run by the runner; fails on "fails", skipped on "inconclusive"."""

        def __init__(self, *, claim, **kwargs):
            super().__init__(**kwargs)
            self.claim = claim

        def runtest(self):
            from .verify.runner import run_claim
            o = run_claim(self.claim)
            if o.verdict.verdict == "fails":
                raise ClaimFailed(_describe(o))
            if o.verdict.verdict == "inconclusive":
                pytest.skip(_describe(o))

        def repr_failure(self, excinfo):
            if isinstance(excinfo.value, ClaimFailed):
                return str(excinfo.value)
            return super().repr_failure(excinfo)

        def reportinfo(self):
            return self.path, None, f"claim {self.name}"

    class ClaimFailed(Exception):
        """A claim whose verdict is "fails"."""

    def pytest_collect_file(parent, file_path: Path):
        if file_path.name.endswith(SUFFIX):
            return ClaimsFile.from_parent(parent, path=file_path)
        return None
