r"""
Heavy ball at B = inf: Polyak's rate
====================================

With exact gradients (batch size B = inf) and eigenvalues of H in [mu, L], Polyak's heavy ball with

.. math::

    \eta = \frac{4}{(\sqrt{L} + \sqrt{\mu})^2}, \qquad
    \beta = \Big(\frac{\sqrt\kappa - 1}{\sqrt\kappa + 1}\Big)^2

contracts the error by :math:`(\sqrt\kappa - 1)/(\sqrt\kappa + 1)` per step (MATH.md §6), so the
rate of :math:`E\|e_k\|^2` is

.. math::

    \rho = \Big(\frac{\sqrt\kappa - 1}{\sqrt\kappa + 1}\Big)^2 .

At these parameters both extreme blocks are critically damped (a Jordan block), where a double precision
eigensolver loses half its digits. We ask for 30 digits and a certified interval, with exact rational
inputs (kappa a perfect square, so every parameter is rational), and compare with the closed form.
"""
import math
from fractions import Fraction

import mpmath as mp

import momentum_verify as mv

rows = []
for q in [2, 5, 10, 100]:  # q = sqrt(kappa)
    kappa = q * q
    model = mv.Gaussian([Fraction(1, kappa), 1])  # mu = 1/kappa, L = 1
    lr = Fraction(4) / (1 + Fraction(1, q)) ** 2
    momentum = Fraction(q - 1, q + 1) ** 2
    result = mv.rate("heavy-ball", model, batch=math.inf, lr=lr, momentum=momentum, digits=30, certify=True)
    theory = Fraction(q - 1, q + 1) ** 2
    with mp.workdps(60):
        exact = mp.mpf(theory.numerator) / theory.denominator
        rel_error = abs(mp.mpf(result.rho) - exact) / exact
        lo, hi = result.interval
        contains = mp.mpf(lo) <= exact <= mp.mpf(hi)
    rows.append((kappa, result, theory, rel_error, contains))
    print(f"kappa = {kappa:5d}: rho = {result.to_json()['rho']} ({result.digits} digits, {result.route})")
    print(f"              theory ((sqrt k - 1)/(sqrt k + 1))^2 = {theory} = {mp.nstr(exact, 30)}")
    print(f"              relative error {mp.nstr(rel_error, 3)}; certified interval contains it: {contains}")

# %%
# The comparison: 30 correct digits means a relative error below 10^-29 or so; the certified interval
# must contain the exact value.
for kappa, result, theory, rel_error, contains in rows:
    assert result.digits >= 30, (kappa, result.digits)
    assert rel_error < mp.mpf(10) ** -29, (kappa, rel_error)
    assert contains, (kappa, result.interval)
print("Polyak's rate reproduced to 30 digits for kappa =", [r[0] for r in rows])
