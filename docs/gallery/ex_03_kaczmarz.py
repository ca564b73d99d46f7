r"""
Randomized Kaczmarz against Strohmer and Vershynin
==================================================

Randomized Kaczmarz on a consistent system Ax = b projects onto the hyperplane of row i, drawn with
probability proportional to :math:`\|a_i\|^2`: SGD with lr 1, batch 1, no momentum on the ``kaczmarz``
model. Strohmer and Vershynin (2009) proved (MATH.md §6)

.. math::

    E\|e_{k+1}\|^2 \le \Big(1 - \frac{\sigma_{\min}(A)^2}{\|A\|_F^2}\Big) E\|e_k\|^2 ,

so the exact rate, the spectral radius of :math:`S \mapsto E[(I - P_i) S (I - P_i)]`, lies below
:math:`q = 1 - \sigma_{\min}^2/\|A\|_F^2`. It also lies above :math:`q^2`: the mean error contracts
exactly by :math:`q` per step and :math:`\|E e_k\|^2 \le E\|e_k\|^2`. We compute the exact rate with a
certified interval and place it between the two.
"""
import numpy as np

import momentum_verify as mv

rng = np.random.default_rng(0)
rows = []
for n, d, spread in [(8, 3, 1.0), (12, 4, 3.0), (20, 5, 10.0)]:
    # rows of unequal lengths and a spread of singular values make the bound less tight
    A = rng.standard_normal((n, d)) * np.geomspace(1, spread, d)
    A *= rng.uniform(0.5, 2.0, size=(n, 1))
    model = mv.Kaczmarz(A)
    result = mv.rate("sgd", model, batch=1, lr=1, momentum=0, certify=True)
    sigma_min = np.linalg.svd(A, compute_uv=False)[-1]
    q = 1 - sigma_min**2 / np.sum(A**2)
    lo, hi = (float(x) for x in result.interval)
    rows.append((n, d, q, lo, hi))
    print(f"A {n} x {d}: exact rho = {result.to_json()['rho']} ({result.digits} digits, {result.route}), "
          f"certified in [{', '.join(result.to_json()['interval'])}]")
    print(f"           Strohmer-Vershynin bound q = {q:.15g}; lower bound q^2 = {q*q:.15g}; "
          f"rho / q = {float(result.rho) / q:.6f}")

# %%
# The comparison: q^2 <= rho <= q. The certified interval is an interval proof for the exact operator of
# the double-precision matrix; q is computed in double precision, so we allow a relative 1e-12 for its
# rounding.
for n, d, q, lo, hi in rows:
    assert hi <= q * (1 + 1e-12), (n, d, hi, q)
    assert lo >= q * q * (1 - 1e-12), (n, d, lo, q)
print("q^2 <= rho <= q on every instance")
