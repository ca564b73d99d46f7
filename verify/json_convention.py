"""One convention for the numbers in every ``--json`` output (rate, tune, simulate, weak-approx, check).

* A number computed to ``d`` correct significant digits is a decimal string with exactly ``d``
  significant digits, and the integer ``d`` beside it under ``<key>_digits``
  (``{"rho": "0.6536324233", "rho_digits": 10}``; :func:`with_digits`). Infinite values are ``"inf"`` /
  ``"-inf"``; an unknown value is ``null``. Where no digit could be established (a cross-check missing) the
  value is the raw double, a JSON number, with ``<key>_digits`` null.
* A certified interval (proven to contain the value) is ``<key>_interval``: ``[lo, hi]``, two decimal
  strings rounded outward (:func:`certified_interval`).
* A statistical estimate is labelled as one: ``{"estimate": s, "ci": [lo, hi], "confidence": 0.99,
  "ci_method": text}`` (:func:`confidence_entry`), strings with 6 significant digits; the confidence
  interval, not the digit count, states its precision (so there is no ``_digits`` key).
* ``_digits`` 0 means that no digit is guaranteed: the string then shows one digit as an estimate.
* Exact numbers stay JSON numbers: counts, seeds, user inputs, flags, and the binary64 points at which
  something was evaluated (a tuned step size is the double at which rho was computed; its distance to the
  optimum is stated beside it as ``<key>_tol``).
* Long per-step series (``simulate``'s curves) are JSON numbers (binary64 as computed) with their
  confidence intervals as parallel series and a ``precision`` key saying what they are.

``check --json`` claims carry their numbers as the report's phrases; :func:`structure_numbers` turns the
phrases that state a precision ("X (N digits, P)", "certified [lo, hi]", "X, 99% CI [lo, hi]") into the
entries above, keeping the phrase under ``text``.

>>> with_digits("rho", 0.65363242331, 4)
{'rho': '0.6536', 'rho_digits': 4}
>>> count_digits("0.06500"), count_digits("1.2e+5"), count_digits("-10")
(4, 2, 2)
>>> structure_phrase("0.8940578523 (10 digits, double), certified [0.89, 0.90]")["value_interval"]
['0.89', '0.90']
"""
from __future__ import annotations

import math
import re

CI_DIGITS = 6


def digits_str(x, digits: int) -> str:
    """``x`` as a decimal string with exactly ``digits`` significant digits ("inf", "-inf" spelled out)."""
    from ..numerics.rates import format_digits
    return format_digits(x, digits)


def with_digits(key: str, x, digits: int | None) -> dict:
    """``{key: "<digits significant digits>", key + "_digits": digits}``; ``None`` when ``x`` is unknown,
    and the raw double (a JSON number, no digit claimed) with ``_digits`` null when ``digits`` is None."""
    if x is None or isinstance(x, float) and math.isnan(x):
        return {key: None, f"{key}_digits": None}
    if digits is None:
        x = float(x)
        return {key: x if math.isfinite(x) else ("inf" if x > 0 else "-inf"), f"{key}_digits": None}
    d = max(1, int(digits))
    return {key: digits_str(x, d), f"{key}_digits": d}


def digits_from_error(x: float, abs_error: float) -> int:
    """Significant digits of ``x`` that an absolute error bound ``abs_error`` leaves correct: the last one
    shown sits a decade above the error, so error plus rounding stay below one unit in it.

    >>> digits_from_error(0.9127592547, 2.9e-12)
    10
    """
    if not abs_error > 0 or x == 0 or not math.isfinite(x):
        return 0
    return max(0, math.floor(math.log10(abs(x))) - math.floor(math.log10(abs_error)) - 1)


def certified_interval(lo, hi, digits: int = 20) -> list[str]:
    """``[lo, hi]`` as decimal strings with ``digits`` significant digits, rounded outward."""
    from ..numerics.rates import format_bound
    return [format_bound(lo, digits, "down"), format_bound(hi, digits, "up")]


def confidence_entry(estimate, lo, hi, confidence: float, method: str, digits: int = CI_DIGITS) -> dict:
    """A statistical estimate with its confidence interval at level ``confidence`` (ends rounded outward)."""
    def s(v, direction=None):
        if v is None or not math.isfinite(float(v)):
            return None if v is None or math.isnan(float(v)) else ("inf" if v > 0 else "-inf")
        if direction is None:
            return f"{float(v):.{digits}g}"
        from ..numerics.rates import format_bound
        return format_bound(float(v), digits, direction)
    return {"estimate": s(estimate), "ci": [s(lo, "down"), s(hi, "up")], "confidence": float(confidence),
            "ci_method": method}


def rate_json(res) -> dict:
    """A RateResult in this convention: its ``to_json`` (``rho``, ``K``, ``digits``, ``interval``, route and
    precision; kept for compatibility) plus ``rho_digits``, ``K_digits`` and ``rho_interval``."""
    out = res.to_json()
    out["rho_digits"] = int(res.digits)
    out["K_digits"] = int(res.K_digits())
    if "interval" in out:
        out["rho_interval"] = list(out["interval"])
    return out


# --------------------------------------------------------------------------------------------------
# reading a decimal string back
# --------------------------------------------------------------------------------------------------
def count_digits(text: str) -> int:
    """Significant digits written in a decimal string (leading zeros do not count, trailing ones do)."""
    t = text.strip().lstrip("+-").lower()
    mant = t.split("e")[0].replace(".", "")
    if not mant.isdigit():
        raise ValueError(f"not a decimal string: {text!r}")
    stripped = mant.lstrip("0")
    return len(stripped) if stripped else len(mant)


# --------------------------------------------------------------------------------------------------
# the report's number phrases (check --json)
# --------------------------------------------------------------------------------------------------
_NUM = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|[-+]?inf"
_DIGITS = re.compile(rf"^\s*({_NUM})\s*\((\d+) (?:significant )?digits?(?:,\s*([^)]*))?\)")
_CERT = re.compile(rf"certified \[\s*({_NUM})\s*,\s*({_NUM})\s*\]")
_CI = re.compile(rf"^\s*({_NUM})\s*,\s*(\d+(?:\.\d+)?)% CI \[\s*({_NUM})\s*,\s*({_NUM})\s*\]")


def structure_phrase(text: str):
    """A report phrase as a JSON entry of this convention, or the phrase unchanged when it states no
    precision that can be read. The phrase itself is kept under ``text``."""
    out = {}
    m = _DIGITS.match(text)
    if m:
        out.update({"value": m.group(1), "value_digits": int(m.group(2))})
        if m.group(3):
            out["precision"] = m.group(3).strip()
    c = _CERT.search(text)
    if c:
        out["value_interval"] = [c.group(1), c.group(2)]
    ci = _CI.match(text)
    if ci and not out:
        out.update({"estimate": ci.group(1), "ci": [ci.group(3), ci.group(4)],
                    "confidence": float(ci.group(2)) / 100})
    if not out:
        return text
    out["text"] = text
    return out


def structure_numbers(x):
    """:func:`structure_phrase` on every string inside a (JSON-safe) numbers dict."""
    if isinstance(x, dict):
        return {k: structure_numbers(v) for k, v in x.items()}
    if isinstance(x, list):
        return [structure_numbers(v) for v in x]
    if isinstance(x, str):
        return structure_phrase(x)
    return x
