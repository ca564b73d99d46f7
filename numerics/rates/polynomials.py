"""Polynomial tools shared by every route and every arithmetic (written once).

Coefficients are listed highest degree first. Each function works for NumPy arrays (broadcast over
parameter points and eigenvalues), for mpmath numbers and for python-flint arb intervals alike: it only
uses +, * and comparisons.
"""
from __future__ import annotations

import numpy as np


def horner(coefs, z):
    """p(z) and p'(z) for p = coefs[0] z^q + ... + coefs[q] (a list or a sequence of arrays).

    >>> horner([1.0, -3.0, 2.0], 3.0)
    (2.0, 3.0)
    """
    p = coefs[0] + 0 * z
    dp = np.zeros_like(p) if isinstance(p, np.ndarray) else 0 * p
    for c in coefs[1:]:
        dp = dp * z + p
        p = p * z + c
    return p, dp


def horner_last_axis(c: np.ndarray, z):
    """p(z), p'(z) for coefficient arrays ``c`` of shape (..., q+1) (degree on the last axis)."""
    p = c[..., 0] + 0 * z
    dp = np.zeros_like(p)
    for k in range(1, c.shape[-1]):
        dp = dp * z + p
        p = p * z + c[..., k]
    return p, dp


def horner_monic(coefs, z):
    """p(z), p'(z) for the monic polynomial z^q + coefs[0] z^(q-1) + ... + coefs[q-1] (arrays).

    >>> [float(v) for v in horner_monic([np.array(-3.0), np.array(2.0)], np.array(3.0))]
    [2.0, 3.0]
    """
    if not coefs:
        return np.ones_like(z), np.zeros_like(z)
    p = np.add(z, coefs[0])
    if len(coefs) == 1:
        return p, np.ones_like(p)
    dp = np.add(z, p)
    p *= z                                   # in place: the same operations, half the memory traffic
    p += coefs[1]
    for c in coefs[2:]:
        dp *= z
        dp += p
        p *= z
        p += c
    return p, dp


def taylor_shift(coefs, z) -> list:
    """[p(z), p'(z), p''(z)/2!, ..., p^(q)(z)/q!] for p = coefs[0] z^q + ... (repeated synthetic
    division); the Budan-Fourier count at z is the number of sign changes of this list.

    >>> taylor_shift([1, -3, 2], 3)
    [2, 3, 1]
    """
    a = [c + 0 * z for c in coefs]
    q = len(a) - 1
    out = []
    for k in range(q + 1):           # after pass k, a[q-k] = p^(k)(z) / k!
        for j in range(1, q + 1 - k):
            a[j] = a[j - 1] * z + a[j]
        out.append(a[q - k])
    return out


def taylor_positive_monic(coefs, z):
    """True where every derivative of z^q + coefs[0] z^(q-1) + ... is > 0 at z (NumPy arrays): by
    Budan-Fourier and Gauss-Lucas, exactly where z exceeds the real part of every root."""
    a = [np.ones_like(z)] + [c + 0 * z for c in coefs]
    q = len(a) - 1
    ok = np.ones(np.broadcast(z, *coefs).shape, dtype=bool) if coefs else np.ones_like(z, dtype=bool)
    for k in range(q + 1):
        for j in range(1, q + 1 - k):
            a[j] = a[j - 1] * z + a[j]
        ok &= a[q - k] > 0
    return ok
