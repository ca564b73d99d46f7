r"""
Monte Carlo against the exact second-moment recursion
=====================================================

``mv.simulate`` runs R independent replicas of the very process the exact operator describes (heavy ball
with mini-batch gradients on the ``gaussian`` model) and reports, per step, the mean of
:math:`\|e_k\|^2` with a batch-means confidence interval. The exact curve comes from the recursion
:math:`S_{k+1} = T(S_k)` (MATH.md §4). Two comparisons:

* at every step the exact :math:`E\|e_k\|^2` should lie in the 99% interval (about 99% of the steps do);
* the fitted decay rate over a window of steps should match the exact curve's own decay over the
  same window. Over a short window that decay is pre-asymptotic and differs from the spectral radius
  rho (the limit as k grows); we print both so the difference is visible.
"""
import math

import matplotlib.pyplot as plt
import numpy as np

import momentum_verify as mv
from momentum_verify.numerics.montecarlo import exact_moments

model = mv.Gaussian(np.geomspace(0.01, 1, 20))
method, batch, lr, momentum, steps = "heavy-ball", 4, 0.5, 0.5, 150
mc = mv.simulate(method, model, batch, lr, momentum, steps=steps, runs=4000, seed=0)
exact, _ = exact_moments(method, model, batch, lr, momentum, steps)
exact = np.asarray(exact, dtype=float)
lo, hi = np.asarray(mc.ci_low), np.asarray(mc.ci_high)
covered = np.mean((lo <= exact) & (exact <= hi))

k0, k1 = mc.rate_fit.window
window_rate = math.exp((math.log(exact[k1]) - math.log(exact[k0])) / (k1 - k0))
rho = mv.rate(method, model, batch=batch, lr=lr, momentum=momentum)
print(f"steps inside the {mc.confidence:.0%} interval: {covered:.1%} of {steps + 1}")
print(f"Monte Carlo fitted rate over steps {k0}..{k1}: {mc.rate_fit.rho:.6f} "
      f"({mc.rate_fit.confidence:.0%} CI [{mc.rate_fit.ci[0]:.6f}, {mc.rate_fit.ci[1]:.6f}])")
print(f"exact curve's decay over the same window:  {window_rate:.6f} (double precision)")
print(f"exact spectral radius (k -> inf):           {rho.to_json()['rho']} ({rho.digits} digits, {rho.route})")

# %%
# The comparison: the per-step intervals cover the exact curve (allowing a few misses at 99%), and the
# fitted rate's interval contains the exact curve's decay over the fitted window. The spectral radius is
# the slower asymptotic rate: the exact window decay is faster than rho here, not a failure of either.
assert covered >= 0.95, covered
assert mc.rate_fit.ci[0] <= window_rate <= mc.rate_fit.ci[1], (mc.rate_fit, window_rate)
assert window_rate < float(rho.rho)

fig, ax = plt.subplots(figsize=(5, 3.5))
k = np.arange(steps + 1)
ax.fill_between(k, np.maximum(lo, 1e-300), hi, alpha=0.3, label=f"Monte Carlo {mc.confidence:.0%} CI")
ax.semilogy(k, mc.mean_sq_error, lw=1, label=f"Monte Carlo mean, R = {mc.runs}")
ax.semilogy(k, exact, "k--", lw=1, label="exact recursion")
ax.set_xlabel("step k")
ax.set_ylabel("E ||e_k||^2")
ax.set_title(f"{method}, B = {batch}, lr = {lr}, momentum = {momentum}")
ax.legend()
fig.tight_layout()
