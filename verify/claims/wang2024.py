"""Wang, Malladi, Wang, Lyu, Li (ICLR 2024), "The marginal value of momentum for small learning rate SGD"
(MATH.md §8), as executable claims on quadratics with additive noise g = grad f + sigma v.

Only the abstract and the list of statements are available here: every statement is MATH.md's report of
the paper, never stronger; where MATH.md marks an item (check), the statement says "as stated in the
paper, our reading". Routes: SymPy identities on the affine moment operators (theory.additive), the exact
affine recursions in float64 with digits from a second route (numerics.weak_approx), Monte Carlo
(numerics.weak_approx.simulate_additive, numerics.label_noise), and the tuner (numerics.tuning).
"""
from __future__ import annotations

import math
from functools import lru_cache
from itertools import product

import numpy as np
import sympy as sp

from ...theory import symbols
from ..claim import FAILS, HOLDS, Claim, Verdict
from ...numerics.tuning import loglog_slope
from .common import sig

SOURCE = "Wang, Malladi, Wang, Lyu, Li (ICLR 2024), as reported in MATH.md §8"
SPECTRUM = (0.5, 1.0, 2.0)
LRS = (0.1, 0.05, 0.02, 0.01, 0.005, 0.002, 0.001)
HORIZON = 2.0
SYMBOLIC = "symbolic (SymPy, exact)"
EXACT = "numeric (affine moment recursions, float64; digits from a second float64 route)"


def _model():
    from ...theory.sampling import Gaussian
    return Gaussian(list(SPECTRUM))


def _err_str(p) -> str:
    d = p.digits
    return f"{p.max_error:.{max(1, min(6, d or 6))}g} ({d} digits)" if d is not None else f"{p.max_error:.6g} (unchecked)"


def _lines_plot(name, title, pts_by_label, ylabel="max_k |E f_SGDM - E f_SGD|"):
    xs = [p.lr for p in next(iter(pts_by_label.values()))]
    return {"kind": "lines", "name": name, "title": title, "x": xs, "xlabel": "learning rate eta",
            "ylabel": ylabel, "logx": True, "logy": True,
            "series": {k: [p.max_error for p in v] for k, v in pts_by_label.items()}}


@lru_cache(maxsize=None)
def _sweeps():
    """The three weak-error sequences: beta = 0.5 fixed, 1 - beta = 0.5 eta^(1/2), 1 - beta = eta."""
    from ...numerics.weak_approx import sweep
    m = _model()
    return {"beta=0.5": sweep(m, LRS, HORIZON, momentum=0.5),
            "alpha=0.5": sweep(m, LRS, HORIZON, scaling=(0.5, 0.5)),
            "alpha=1": sweep(m, LRS, HORIZON, scaling=(1.0, 1.0)),
            "beta=0.5, Sigma=H": sweep(m, LRS, HORIZON, momentum=0.5, cov="hessian")}


# --------------------------------------------------------------------------------------------------
# 1. formulations
# --------------------------------------------------------------------------------------------------
def _formulations(**_):
    from ...theory.additive import affine_second_moment, gamma, momentum_state_form, mu_m, undampened_parameters
    from ...theory.methods import METHODS
    from ...theory.sampling import Gaussian
    l1, l2 = sp.symbols("l1 l2", positive=True)
    model = Gaussian([l1, l2])
    H = model.hessian()
    s11, s12, s22 = sp.symbols("s11 s12 s22")
    Sig = sp.Matrix([[s11, s12], [s12, s22]])
    S = sp.Matrix(4, 4, lambda i, j: sp.Symbol(f"S{min(i, j)}{max(i, j)}"))
    und = METHODS["heavy-ball"].at(eta=gamma, beta=mu_m)
    a = affine_second_moment(METHODS["sgdm"], S, H, Sig, model=model)
    b = affine_second_moment(und, S, H, Sig, model=model).subs(undampened_parameters())
    same = sp.simplify(sp.expand(a - b)) == sp.zeros(4, 4)
    sims = []
    for kind, z in (("dampened", METHODS["sgdm"]), ("undampened", und)):
        m, P = momentum_state_form(kind)
        PI = sp.kronecker_product(P, sp.eye(2))
        lhs = PI * affine_second_moment(m, S, H, Sig, model=model) * PI.T
        rhs = affine_second_moment(z, PI * S * PI.T, H, Sig, model=model)
        sims.append(sp.simplify(sp.expand(lhs - rhs)) == sp.zeros(4, 4))
        sims.append(P * sp.Matrix([1, 0]) == sp.Matrix([1, 1]))        # m_0 = 0  <=>  x_{-1} = x_0
    ok = same and all(sims)
    return Verdict(HOLDS if ok else FAILS,
                   {"affine operators sgdm(eta, beta) - undampened(eta (1 - beta), beta)": "0" if same else "nonzero",
                    "momentum-state forms conjugate to the (x_k, x_{k-1}) form": "yes" if all(sims) else "no"},
                   [SYMBOLIC],
                   "second-moment recursion S+ = T(S) + sigma^2 (b b^T) ⊗ Sigma on d = 2 with symbolic H = diag(l1, l2), "
                   "symbolic Sigma and S, additive noise on top of gaussian mini-batch noise (batch B symbolic); the "
                   "(x, m)-state forms mapped by P = [[1, 0], [1, step]] (x_{k-1} = x_k + step m_k)",
                   "exact")


# --------------------------------------------------------------------------------------------------
# 2. descent lemma
# --------------------------------------------------------------------------------------------------
def _descent(**_):
    from ...theory.additive import descent_lemma_sgd, descent_lemma_sgdm, one_step_loss_change
    from ...theory.methods import METHODS
    h11, h12, h22, s11, s12, s22 = sp.symbols("h11 h12 h22 s11 s12 s22")
    H = sp.Matrix([[h11, h12], [h12, h22]])
    Sig = sp.Matrix([[s11, s12], [s12, s22]])
    e, ep = sp.Matrix(sp.symbols("e1 e2")), sp.Matrix(sp.symbols("p1 p2"))
    d_sgd = sp.expand(one_step_loss_change(METHODS["sgd"], H, Sig, e, ep) - descent_lemma_sgd(H * e, H, Sig))
    d_sgdm = sp.simplify(one_step_loss_change(METHODS["sgdm"], H, Sig, e, ep)
                         - descent_lemma_sgdm(H * e, (ep - e) / symbols.eta, H, Sig))
    # independent route: a discrete noise law with the same two moments, enumerated in rationals
    Hq = sp.Matrix([[2, sp.Rational(1, 3)], [sp.Rational(1, 3), 1]])
    L = sp.Matrix([[1, 0], [sp.Rational(1, 2), sp.Rational(3, 2)]])
    x, step, s2 = sp.Matrix([1, -2]), sp.Rational(1, 5), sp.Rational(3, 1)
    f = lambda y: (y.T * Hq * y)[0, 0] / 2
    g = Hq * x
    outs = [f(x - step * (g + sp.sqrt(s2) * L * (sg * sp.sqrt(2) * sp.eye(2)[:, i]))) for i, sg in product(range(2), (1, -1))]
    enum = sp.expand(sum(outs) / 4 - f(x))
    stated = descent_lemma_sgd(g, Hq, L * L.T, step=step, sigma2=s2)
    ok = d_sgd == 0 and d_sgdm == 0 and sp.expand(enum - stated) == 0
    return Verdict(HOLDS if ok else FAILS,
                   {"SGD: recursion - stated lemma": str(d_sgd), "SGDM: recursion - expansion": str(d_sgdm),
                    "enumerated E f(x - eta g) - f(x) (discrete noise, rational instance)": str(enum),
                    "stated value": str(sp.expand(stated))},
                   [SYMBOLIC, "exact enumeration (rationals)"],
                   "one step of the affine recursion from a deterministic state, general symmetric 2 x 2 H and Sigma; "
                   "SGDM with m_k = (x_{k-1} - x_k)/eta and d = beta m + (1 - beta) grad f",
                   "exact")


# --------------------------------------------------------------------------------------------------
# 3-5. weak approximation (Theorem 3.5)
# --------------------------------------------------------------------------------------------------
def _bound(**_):
    from ...numerics.weak_approx import bound_check
    sw = _sweeps()
    nums, ok = {}, True
    for label in ("beta=0.5", "beta=0.5, Sigma=H", "alpha=0.5"):
        bc = bound_check(sw[label])
        ok &= bc.holds
        nums[f"{label}: C fitted at eta = {LRS[0]}"] = sig(bc.constant, 6)
        nums[f"{label}: max_error / sqrt(eta/(1-beta)) from largest to smallest eta"] = \
            f"{sig(bc.ratios[0], 4)} -> {sig(bc.ratios[-1], 4)}"
    dmin = min(p.digits for v in sw.values() for p in v if p.digits is not None)
    return Verdict(HOLDS if ok else FAILS, nums, [EXACT],
                   f"gaussian spectrum {SPECTRUM}, x_0 = ones/sqrt(3), zero momentum, sigma^2 = 1/eta, Sigma = I (and H), "
                   f"T = {HORIZON}, eta in {LRS}; C fitted at the largest eta, then checked as an inequality at every eta",
                   f"max errors to >= {dmin} significant digits (two float64 routes)",
                   plots=[{**_lines_plot("wang2024_weak_error", "SGDM vs SGD weak error (Theorem 3.5)",
                                         {k: sw[k] for k in ("beta=0.5", "alpha=0.5", "alpha=1")}),
                           "reference_slopes": [{"slope": 1, "anchor": "beta=0.5"},
                                                {"slope": 0.5, "anchor": "alpha=0.5"}]}])


def _order(**_):
    from ...numerics.weak_approx import fitted_order, local_orders
    sw = _sweeps()
    o_fixed = fitted_order(sw["beta=0.5"])
    o_half = fitted_order(sw["alpha=0.5"])
    lo_fixed, lo_half = local_orders(sw["beta=0.5"]), local_orders(sw["alpha=0.5"])
    ok_fixed = 0.85 <= o_fixed <= 1.15
    ok_half = lo_half[-1] > lo_half[0] and abs(o_half - 0.5) < 0.15
    nums = {"beta = 0.5: order at the two smallest eta": f"{o_fixed:.6f} (limit 1; distance {1 - o_fixed:.2g})",
            "beta = 0.5: local orders (descending eta)": ", ".join(f"{x:.4f}" for x in lo_fixed),
            "alpha = 0.5: order at the two smallest eta": f"{o_half:.6f} (limit 0.5; distance {0.5 - o_half:.2g})",
            "alpha = 0.5: local orders": ", ".join(f"{x:.4f}" for x in lo_half),
            "beta = 0.5: errors": ", ".join(_err_str(p) for p in sw["beta=0.5"])}
    return Verdict(HOLDS if ok_fixed and ok_half else FAILS, nums, [EXACT],
                   "slope of log max-error on log eta between the two smallest eta; local orders between neighbours",
                   "orders to about 1e-9 (errors to >= 9 digits at beta = 0.5)")


def _alpha_one(**_):
    from ...numerics.weak_approx import local_orders
    pts = _sweeps()["alpha=1"]
    errs = [p.max_error for p in pts]
    lo = local_orders(pts)
    ok = min(errs) > 0.5 * errs[0] and all(abs(o) < 0.1 for o in lo)
    return Verdict(HOLDS if ok else FAILS,
                   {"errors (1 - beta = eta)": ", ".join(_err_str(p) for p in pts),
                    "local orders": ", ".join(f"{x:.4f}" for x in lo)},
                   [EXACT], "1 - beta = eta, otherwise as the bound check; holds if the error keeps > half its value "
                            "at the largest eta and every local order is below 0.1 in size",
                   "digits as stated per value (fewer near beta = 1: the recursion is ill-conditioned there)")


# --------------------------------------------------------------------------------------------------
# 6. where momentum helps: large batches (tuner)
# --------------------------------------------------------------------------------------------------
def _large_batch(**_):
    from ...numerics.tuning import tune_curve
    from ...theory.sampling import Gaussian
    batches = [1, 8, 64, 512, math.inf]
    curve = tune_curve(["sgd", "heavy-ball"], Gaussian(list(np.geomspace(0.01, 1.0, 8))), batches)
    acc = curve.acceleration["heavy-ball"]
    ok = acc[0] < 2.0 and acc[-1] > 3 * acc[0] and acc[-1] > 5
    nums = {"acceleration K_sgd / K_sgdm (tuned), B = " + ", ".join(str(b) for b in curve.batches):
            ", ".join(sig(a, 4) for a in acc),
            "K_sgd": ", ".join(sig(r.K, 5) for r in curve.results["sgd"]),
            "K_sgdm": ", ".join(sig(r.K, 5) for r in curve.results["heavy-ball"]),
            "K digits": ", ".join(str(r.K_digits) for r in curve.results["heavy-ball"])}
    return Verdict(HOLDS if ok else FAILS, nums, ["numeric (numerics.tuning over (eta, beta); spectral radius, double)"],
                   "gaussian spectrum geomspace(0.01, 1, 8) (kappa = 100), mini-batch noise (sigma^2 ~ 1/B); tuned "
                   "SGDM = tuned heavy ball (the same family of processes, §8 formulations); holds if the acceleration "
                   "is < 2 at B = 1, > 5 at B = inf and grows by > 3x",
                   "K to the digits stated by the tuner; tuner tolerance on (eta, beta) as in numerics.tuning",
                   plots=[{"kind": "lines", "name": "wang2024_acceleration_vs_batch",
                           "title": "tuned SGDM vs tuned SGD (kappa = 100)", "x": [b if math.isfinite(b) else 4096
                                                                                    for b in curve.batches],
                           "xlabel": "batch B (inf drawn at 4096)", "ylabel": "K_sgd / K_sgdm", "logx": True,
                           "logy": True, "series": {"acceleration": list(acc)},
                           "fits": {"acceleration": [curve.slope_batches["heavy-ball"][0],
                                                     curve.slope_batches["heavy-ball"][-1]]}
                           if len(curve.slope_batches["heavy-ball"]) >= 2 else {}, "fit_variable": "B"}])


# --------------------------------------------------------------------------------------------------
# 7. SVAG
# --------------------------------------------------------------------------------------------------
def _svag(**_):
    from ...numerics.weak_approx import svag_gap
    from ...theory.additive import ell, svag_oracle_moments, svag_weights
    r1, r2 = svag_weights()
    C = sp.Matrix(2, 2, lambda i, j: sp.Symbol(f"c{min(i, j)}{max(i, j)}"))
    mean, cov = svag_oracle_moments(sp.Matrix(sp.symbols("g1 g2")), C)
    sym_ok = (sp.simplify(r1 + r2 - 1) == 0 and sp.simplify(r1**2 + r2**2 - ell) == 0
              and mean == sp.Matrix(sp.symbols("g1 g2")) and sp.simplify(cov - ell * C) == sp.zeros(2, 2))
    ls = [1, 2, 4, 8, 16]
    pts = [svag_gap(_model(), 0.02, 0.5, HORIZON, l) for l in ls]
    gaps = [p.max_error for p in pts]
    slope = loglog_slope(ls, gaps)
    ok = sym_ok and all(a > b for a, b in zip(gaps, gaps[1:])) and slope <= -0.5 + 0.05
    return Verdict(HOLDS if ok else FAILS,
                   {"r1 + r2, r1^2 + r2^2": "1, l (exact)" if sym_ok else "mismatch",
                    "gap max_k |E f_SGDM - E f_SGD| at l = 1, 2, 4, 8, 16": ", ".join(sig(g, 6) for g in gaps),
                    "fitted decay exponent (theorem: -1/2; quadratics: about -1)": f"{slope:.4f}"},
                   [SYMBOLIC, EXACT],
                   f"eta = 0.02, beta = 0.5, sigma^2 = 1/eta, T = {HORIZON}, spectrum {SPECTRUM}; SVAG = step eta/l, noise "
                   "variance l sigma^2, l times the steps; holds if the gap decreases at least like l^(-1/2) (slope <= -0.45)",
                   "gaps to >= 10 digits (float64 affine recursion)")


# --------------------------------------------------------------------------------------------------
# 8-9. slow SDE (Theorem 4.5)
# --------------------------------------------------------------------------------------------------
def _flat(**_):
    from ...theory.additive import k, null_direction_moments, stationary_block
    from ...theory.methods import METHODS
    eta, sigma, lam, beta = symbols.eta, symbols.sigma, symbols.lam, symbols.beta
    t = sp.Symbol("t", positive=True)
    w = sp.Symbol("w", nonnegative=True)
    sgd = sp.simplify(null_direction_moments(METHODS["sgd"])[0].subs(k, t / eta**2))
    X = sp.expand(sp.powsimp(sp.expand(null_direction_moments(METHODS["sgdm"])[0])))
    Xw = sp.simplify(X.subs(beta ** (2 * k), w**2).subs(beta**k, w))
    slope_k = sp.simplify(sp.diff(Xw, k))
    rest = sp.simplify(Xw - slope_k * k)
    normal = {n: sp.simplify(sp.limit(stationary_block(METHODS[n])[0] / eta, eta, 0)) for n in ("sgd", "sgdm")}
    ok = (sp.simplify(sgd - sigma**2 * t) == 0 and sp.simplify(slope_k - eta**2 * sigma**2) == 0
          and k not in rest.free_symbols and sp.simplify(normal["sgd"] - normal["sgdm"]) == 0)
    return Verdict(HOLDS if ok else FAILS,
                   {"SGD: Var(P x_k) at k = t/eta^2 (per P Sigma P)": str(sgd),
                    "SGDM: Var(P x_k) = eta^2 sigma^2 k + R, R (w = beta^k in [0, 1])": str(rest),
                    "normal part: lim E e^2 / eta (SGD, SGDM)": f"{normal['sgd']}, {normal['sgdm']}"},
                   [SYMBOLIC, "numeric (dense float64 recursion on a singular non-diagonal H, tests)"],
                   "lambda = 0 block of the affine recursion summed in closed form; Cov(P x_k) = Var_k sigma^2 P Sigma P "
                   "because the null coordinates decouple; so Cov(P x_k) -> sigma^2 t P Sigma P as eta -> 0 for both "
                   "(R is bounded by a function of beta); curved directions: stationary E e^2 = O(eta), same leading term",
                   "exact")


def _label_noise(**_):
    from ...numerics.label_noise import simulate_label_noise, slow_sde_prediction
    lrs, delta, tt, runs = (0.1, 0.05, 0.025), 0.5, 1.0, 4000
    est = {}
    for m, b in (("sgd", 0.0), ("sgdm", 0.5)):
        rs = [simulate_label_noise(m, lr, b, delta, tt, runs=runs, seed=11) for lr in lrs]
        # second-order Richardson in eta (lr halves): q(0) = (8 q(eta/4) - 6 q(eta/2) + q(eta)) / 3
        val = (8 * rs[2].q_mean - 6 * rs[1].q_mean + rs[0].q_mean) / 3
        hw = math.sqrt((8 * rs[2].q_half_width) ** 2 + (6 * rs[1].q_half_width) ** 2 + rs[0].q_half_width ** 2) / 3
        est[m] = (rs, val, hw)
    pred = slow_sde_prediction(2.0**2 - 0.5**2, delta, tt)
    (rs_s, v_s, h_s), (rs_m, v_m, h_m) = est["sgd"], est["sgdm"]
    gap_ok = abs(v_s - v_m) <= math.hypot(h_s, h_m)
    drift_ok = all(r.q_mean < 3.75 - 0.5 * (3.75 - pred) for r in rs_s + rs_m)
    pred_ok = abs(v_s - pred) <= h_s and abs(v_m - pred) <= h_m
    ok = gap_ok and drift_ok and pred_ok
    nums = {f"E[u^2 - v^2] at t = {tt}, eta = {', '.join(map(str, lrs))} (SGD)":
            ", ".join(f"{r.q_mean:.4f} ± {r.q_half_width:.1g}" for r in rs_s),
            "same, SGDM beta = 0.5": ", ".join(f"{r.q_mean:.4f} ± {r.q_half_width:.1g}" for r in rs_m),
            "extrapolated to eta -> 0 (SGD, SGDM)": f"{v_s:.4f} ± {h_s:.1g}, {v_m:.4f} ± {h_m:.1g} (99% CI)",
            "slow-SDE prediction q_0 exp(-delta^2 t)": f"{pred:.4f} (exact)"}
    return Verdict(HOLDS if ok else FAILS, nums, ["Monte Carlo (numerics.label_noise, 99% batch-means CI)",
                                                  "closed-form drift of q for SGD"],
                   f"f(u, v) = (uv - y)^2/2, y = 1 ± {delta}, (u0, v0) = (2, 0.5), {runs} replicas per point, t/eta^2 "
                   "steps; second-order Richardson extrapolation in eta; holds if SGD and SGDM agree within their "
                   "combined CI, both match q_0 exp(-delta^2 t), and every run has drifted more than half way",
                   "99% batch-means intervals, propagated through the extrapolation (root sum of squares)")


CLAIMS = [
    Claim("wang2024-formulations", SOURCE + ", Definition 2.3 / Definition B.1",
          "Dampened SGDM (m+ = beta m + (1 - beta) g, x+ = x - eta m+, m_0 = 0) and SGDM as practised "
          "(m+ = mu m + g, x+ = x - gamma m+) are the same process when gamma = eta (1 - beta), mu = beta; both are "
          "heavy ball with step eta (1 - beta) and momentum beta (constant parameters).",
          _formulations, "exact symbolic identity", reading="as reported"),
    Claim("wang2024-descent-lemma", SOURCE + ", Proposition 2.4",
          "For SGD with the noisy oracle, E f(x - eta g) - f(x) = -eta |grad f|^2 + (eta^2/2) grad f^T H grad f + "
          "(eta^2 sigma^2 / 2) tr(H Sigma); exact on quadratics for any noise law with these two moments.",
          _descent, "exact symbolic identity", reading="as reported"),
    Claim("wang2024-weak-approx-bound", SOURCE + ", Theorem 3.5",
          "With 1 - beta = Theta(eta^alpha), alpha in [0, 1), and sigma <= eta^(-1/2), SGDM(eta, beta) and SGD(eta) "
          "stay within O(sqrt(eta / (1 - beta))) of each other in max_{k <= T/eta} |E h(x_k) - E h(z_k)| "
          "(here h = f on a quadratic, sigma^2 = 1/eta).",
          _bound, "one constant fitted at the largest eta bounds every smaller eta", reading="as reported"),
    Claim("wang2024-weak-approx-order", "MATH.md §8 (the project's expectation on quadratics, not a claim of the paper)",
          "On quadratics the exact weak error is about eta / (1 - beta): the observed order tends to 1 - alpha, "
          "sharper than the bound's (1 - alpha)/2.",
          _order, "order in [0.85, 1.15] at beta = 0.5; at alpha = 1/2 rising toward 0.5, within 0.15 of it",
          reading="as reported"),
    Claim("wang2024-alpha-ge-1", SOURCE + ", Theorem 3.5 (outside its range; negative control)",
          "Outside the theorem (1 - beta of order eta, alpha = 1) the SGDM-SGD weak error does not vanish as eta -> 0.",
          _alpha_one, "error stays above half its value at the largest eta; |local order| < 0.1",
          reading="as reported"),
    Claim("wang2024-large-batch", SOURCE + ", abstract and §8 (where momentum helps)",
          "Momentum's benefit is limited where gradient noise dominates and appears at large learning rates or "
          "large batches: tuned SGDM's speed-up over tuned SGD is about 1 at small batch and grows at large batch.",
          _large_batch, "acceleration < 2 at B = 1, > 5 at B = inf, growth > 3x", quick=False, reading="as reported"),
    Claim("wang2024-svag", SOURCE + ", Definition 5.1 and §5",
          "SVAG with l >= 1 (r1,2 = (1 ± sqrt(2l - 1))/2 on two independent gradients, step eta/l, l times the steps) "
          "keeps the gradient mean, multiplies the noise covariance by l, and SGD and SGDM approach each other as l "
          "grows (the theorem's rate l^(-1/2)).",
          _svag, "exact moments; gap decreasing, fitted exponent <= -0.45", reading="as reported"),
    Claim("wang2024-slow-sde-flat", SOURCE + ", Theorem 4.5 (flat manifold, as stated in the paper, our reading)",
          "Over t/eta^2 steps with sigma = Theta(1), SGD and SGDM follow the same slow SDE; on a quadratic with "
          "singular H: Cov(P x_k) -> sigma^2 t P Sigma P for both, the normal part O(eta).",
          _flat, "exact symbolic limits", reading="as reported"),
    Claim("wang2024-slow-sde-label-noise", SOURCE + ", Theorem 4.5 (label noise, as stated in the paper, our reading)",
          "Near a manifold of minimizers SGD and SGDM (fixed beta) have the same slow-SDE drift: on f(u, v) = "
          "(uv - y)^2/2 with label noise both drift toward |u| = |v| at the same rate as eta -> 0.",
          _label_noise, "extrapolated drifts agree within the combined 99% CI", reading="as reported"),
]
