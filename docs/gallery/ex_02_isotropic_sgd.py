r"""
Isotropic SGD: the tuned rate (d+1)/(B+d+1)
===========================================

On the ``gaussian`` model with H = I_d (isotropic data), SGD with batch size B and step eta has
mean-square rate :math:`\rho(\eta) = 1 - 2\eta + \eta^2 (B + d + 1)/B`, so the best step and the tuned
rate are (MATH.md §7, the critical batch of Ma, Bassily and Belkin)

.. math::

    \eta^\star = \frac{B}{B + d + 1}, \qquad \rho^\star = \frac{d + 1}{B + d + 1}.

Linear scaling (eta proportional to B, rho improving like 1/B) holds until B is about d + 1.
We compare two routes with it: the rate at the exact step, to 20 digits, and the numerical tuner
``mv.tune``, which searches (eta) without knowing the formula and returns an attained rate (an upper bound
on the optimum) within its stated tolerance.
"""
from fractions import Fraction

import matplotlib.pyplot as plt
import mpmath as mp

import momentum_verify as mv

d = 10
model = mv.Gaussian([1] * d)
batches = [1, 2, 4, 8, 16, 32, 64]
tuned, exact = [], []
for B in batches:
    theory_rho = Fraction(d + 1, B + d + 1)
    theory_lr = Fraction(B, B + d + 1)
    at_opt = mv.rate("sgd", model, batch=B, lr=theory_lr, momentum=0, digits=20)
    t = mv.tune("sgd", model, B)
    tuned.append(t)
    exact.append(at_opt)
    print(f"B = {B:3d}: theory rho* = {theory_rho}; "
          f"rate at eta* = {at_opt.to_json()['rho']} ({at_opt.digits} digits); "
          f"tuned rho = {t.rho:.{t.rho_digits}g} ({t.rho_digits} digits) at lr = {t.lr:.6f} +- {t.lr_tol:.1e} "
          f"(theory {float(theory_lr):.6f})")

# %%
# The comparison. The rate at eta* agrees with (d+1)/(B+d+1) to its 20 stated digits; the tuner's rate is
# attained, so it cannot be below the optimum (beyond rounding), and it is within 1e-6 of it; its step is
# within its stated tolerance of B/(B+d+1).
for B, at_opt, t in zip(batches, exact, tuned):
    theory_rho = Fraction(d + 1, B + d + 1)
    with mp.workdps(40):
        assert abs(mp.mpf(at_opt.rho) - mp.mpf(theory_rho.numerator) / theory_rho.denominator) \
            < mp.mpf(10) ** -19 * theory_rho, B
    assert at_opt.digits >= 20
    assert t.rho >= float(theory_rho) * (1 - 1e-12), (B, t.rho)
    assert t.rho <= float(theory_rho) * (1 + 1e-6), (B, t.rho)
    assert abs(t.lr - B / (B + d + 1)) <= 2 * t.lr_tol, (B, t.lr, t.lr_tol)

fig, ax = plt.subplots(figsize=(5, 3.5))
ax.loglog(batches, [float(Fraction(d + 1, B + d + 1)) for B in batches], "k-", label="(d+1)/(B+d+1)")
ax.loglog(batches, [t.rho for t in tuned], "o", label="mv.tune")
ax.axvline(d + 1, color="grey", ls=":", label="B = d + 1")
ax.set_xlabel("batch size B")
ax.set_ylabel("tuned rate rho")
ax.set_title(f"isotropic SGD, d = {d}")
ax.legend()
fig.tight_layout()
