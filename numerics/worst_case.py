"""Worst case of rho(T) over a spectrum class of a decoupled model (MATH.md §9), certified with arb.

For fixed (eta, beta, B) and the class C(mu, L, d) (spectra of dimension d in [mu, L] containing mu and
L, optionally with kappa_bar fixed, i.e. tr H fixed), rho_worst = sup over the class of rho(T).

* gaussian: for z above every block radius, rho(T) >= z iff F(z) = sum_i phi(z, lambda_i) >= 1, so

      rho_worst = max( sup_lambda rho(D(lambda)),  root of Phi*(z) = 1 ),
      Phi*(z) = phi(z, mu) + phi(z, L) + (d - 2) max_lambda phi(z, lambda)          (no trace constraint)
      Phi*(z) <= phi(z, mu) + phi(z, L) + nu (S - mu - L) + (d - 2) max_lambda [phi(z, lambda) - nu lambda]
                                                                                (tr H = S, any nu)

  The lower bound is the rate of a printed instance (mu, L and d - 2 copies of the maximiser; with a
  trace, two free values with integer multiplicities), the upper bound the root of the bound on Phi*.
* coordinate (diagonal H): u = v = 0, so rho(T) = max_i rho(D(lambda_i; tau)) with tau = tr H, and
  rho(D) grows with tau (the self-noise f_B (tau lambda - lambda^2) grows; a larger cone-preserving
  map has a larger spectral radius): rho_worst = max over lambda of rho(D(lambda; largest trace of a
  class spectrum holding lambda)).

``certify=True`` proves both sides with python-flint: the instance's rate by the secular bracket, the
upper bound by branch and bound over lambda in [mu, L] (centred interval forms of the polynomials in
lambda of theory.classes: z above every block, and t P(lambda) - N(lambda) > 0, i.e. phi < t).

    >>> r = worst_case("heavy-ball", SpectrumClass("gaussian", 1.0, 10.0, 5), 8, 0.1, 0.5)
    >>> r.lower <= r.upper * (1 + 1e-12)
    True
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property, lru_cache

import flint
import numpy as np
import sympy as sp

from ..theory import classes as tc
from ..theory.errors import InputError
from ..theory.sampling import COORDINATE_DIAGONAL_NOISE, GAUSSIAN_NOISE, Coordinate, Gaussian, batch_factor
from .operators import as_method, block_charpoly_kernel, secular_kernel

NOISES = {"gaussian": GAUSSIAN_NOISE, "coordinate": COORDINATE_DIAGONAL_NOISE}
GRID_N = 257                 # lambda grid of the double-precision maximisations
ZOOM_LEVELS, ZOOM_N = 5, 33
TRACE_RTOL = 1e-12           # a float instance is in a fixed-trace class when its trace matches to this
BB_MAX_BOXES = 40000
CERT_BITS = 128
RATE_ENGINE_MAX_D_COORDINATE = 200   # above this the coordinate instance's rate is not recomputed by rates


@dataclass(frozen=True)
class Resolution:
    """Grid and tolerance of the double-precision search (coarser inside minimax tuning)."""

    n: int = GRID_N
    levels: int = ZOOM_LEVELS
    rtol: float = 1e-15


FINE, COARSE = Resolution(), Resolution(65, 3, 1e-9)


# --------------------------------------------------------------------------------------------------
# the class
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SpectrumClass:
    """C(mu, L, d) of a decoupled model, optionally with kappa_bar = R^2/mu fixed (tr H fixed).

    >>> SpectrumClass("gaussian", 1.0, 4.0, 3).free_range()
    (1.0, 4.0)
    """

    model: str
    mu: float
    L: float
    d: int
    kappa_bar: float | None = None

    def __post_init__(self):
        if self.model not in NOISES:
            raise InputError("model", f"spectrum classes exist for {', '.join(NOISES)}, not {self.model!r}")
        for name in ("mu", "L"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
                raise InputError(name, f"must be a finite number > 0, got {v!r}")
        if self.mu > self.L:
            raise InputError("mu", f"the class is empty: mu = {self.mu:g} > L = {self.L:g}")
        if isinstance(self.d, bool) or not isinstance(self.d, (int, np.integer)) or self.d < 2:
            raise InputError("d", f"the class needs d >= 2 (it contains mu and L), got {self.d!r}")
        if self.kappa_bar is not None:
            lo, hi = self.kappa_bar_range()
            kb = self.kappa_bar
            if not (isinstance(kb, (int, float)) and math.isfinite(kb)):
                raise InputError("kappa_bar", f"must be a finite number, got {kb!r}")
            if kb < lo * (1 - 1e-15) or kb > hi * (1 + 1e-15):
                raise InputError("kappa_bar", f"the class is empty: kappa_bar = {kb:g} outside "
                                              f"[{lo:.17g}, {hi:.17g}] for {self.model}, d = {self.d}")

    def kappa_bar_range(self) -> tuple[float, float]:
        lo, hi = tc.kappa_bar_range(self.model, sp.Float(self.mu), sp.Float(self.L), self.d)
        return float(lo), float(hi)

    def trace(self) -> float | None:
        """tr H fixed by kappa_bar (None without the constraint)."""
        return self._trace

    @cached_property
    def _trace(self):
        if self.kappa_bar is None:
            return None
        return float(tc.trace_for_kappa_bar(self.model, sp.Float(self.mu, 30), sp.Float(self.L, 30),
                                            sp.Float(self.kappa_bar, 30)))

    def free_range(self) -> tuple[float, float]:
        """Interval of values one eigenvalue besides mu and L can take in a class spectrum."""
        S = self.trace()
        if S is None or self.d < 3:
            return self.mu, self.L
        Sp = S - self.mu - self.L
        a = max(self.mu, Sp - (self.d - 3) * self.L)
        b = min(self.L, Sp - (self.d - 3) * self.mu)
        return a, max(a, b)

    def contains(self, spectrum) -> bool:
        s = np.sort(np.asarray(spectrum, dtype=float))
        if s.size != self.d or s[0] != self.mu or s[-1] != self.L:
            return False
        S = self.trace()
        return S is None or abs(float(np.sum(s)) - S) <= TRACE_RTOL * S

    def to_json(self) -> dict:
        out = {"model": self.model, "mu": self.mu, "L": self.L, "d": int(self.d), "kappa": self.L / self.mu}
        if self.kappa_bar is not None:
            out["kappa_bar"] = self.kappa_bar
            out["trace"] = self.trace()
        return out

    def sampling_model(self, spectrum):
        s = np.sort(np.asarray(spectrum, dtype=float))
        return Gaussian(s) if self.model == "gaussian" else Coordinate(spectrum=s)


CLASS_KEYS = ("mu", "L", "d", "kappa_bar")


def parse_class(text: str, model: str = "gaussian") -> SpectrumClass:
    """``"mu=1,L=100,d=10[,kappa_bar=..]"`` (decimals or fractions, no eval) as a :class:`SpectrumClass`.

    >>> parse_class("mu=1,L=4,d=3").d
    3
    """
    from ..theory.parse import parse_number_exact
    if not isinstance(text, str) or not text.strip():
        raise InputError("class", "empty class (use mu=..,L=..,d=..[,kappa_bar=..])")
    vals = {}
    for part in text.split(","):
        if "=" not in part:
            raise InputError("class", f"malformed entry {part.strip()!r} (use key=value)")
        k, v = (t.strip() for t in part.split("=", 1))
        if k not in CLASS_KEYS:
            raise InputError("class", f"unknown key {k!r} (allowed: {', '.join(CLASS_KEYS)})")
        if k in vals:
            raise InputError(k, "given twice")
        vals[k] = parse_number_exact(v, k)
    for k in ("mu", "L", "d"):
        if k not in vals:
            raise InputError(k, "missing from the class (use mu=..,L=..,d=..[,kappa_bar=..])")
    d = vals["d"]
    if d != int(d):
        raise InputError("d", f"must be an integer, got {d}")
    kb = float(vals["kappa_bar"]) if "kappa_bar" in vals else None
    return SpectrumClass(model, float(vals["mu"]), float(vals["L"]), int(d), kb)


# --------------------------------------------------------------------------------------------------
# the result
# --------------------------------------------------------------------------------------------------
@dataclass
class WorstCaseResult:
    """rho_worst bracketed by a class member's rate (``lower``) and a bound (``upper``).

    lower : rho of ``instance`` (a member of the class), correct to ``digits`` digits.
    upper : an upper bound on rho over the class: proven when ``certified`` (arb branch and bound),
        a double-precision estimate otherwise.
    lower_interval : certified enclosure of the instance's rho (``certify=True``), else None.
    attained_by : "secular root" or "block radius" (which candidate of MATH.md §9 is the worst).
    """

    cls: SpectrumClass
    method: str
    batch: object
    lr: float
    momentum: float
    lower: float
    upper: float
    digits: int
    certified: bool
    instance: list
    lower_interval: tuple | None = None
    attained_by: str = "secular root"
    notes: list = field(default_factory=list)

    @property
    def gap(self) -> float:
        """(upper - lower) / lower."""
        return (self.upper - self.lower) / self.lower if self.lower > 0 else self.upper

    def to_json(self) -> dict:
        from .rates import format_bound, format_digits
        nd = max(1, self.digits)
        out = {"lower": format_digits(self.lower, nd), "upper": format_bound(self.upper, nd, "up"),
               "digits": int(nd), "certified": bool(self.certified),
               "gap": format_bound(max(self.gap, 0.0), 2, "up") if self.gap > 0 else "0",
               "K_lower": _k_str(self.lower, nd), "K_upper": _k_str(self.upper, nd),
               "instance": {"spectrum": [float(v) for v in sorted(self.instance)],
                            "distinct": _distinct(self.instance)},
               "class": self.cls.to_json(), "method": self.method,
               "batch": "inf" if self.batch == math.inf else int(self.batch),
               "lr": self.lr, "momentum": self.momentum, "attained_by": self.attained_by,
               "notes": list(self.notes)}
        if self.lower_interval is not None:
            lo, hi = self.lower_interval
            out["lower_interval"] = [format_bound(lo, nd + 3, "down"), format_bound(hi, nd + 3, "up")]
            out["bracket"] = [format_bound(lo, nd + 3, "down"), format_bound(self.upper, nd, "up")]
        return out

    def __repr__(self):
        j = self.to_json()
        tag = "certified" if self.certified else "double, upper not proven"
        return (f"WorstCaseResult({self.method}, {self.cls.model} C(mu={self.cls.mu:g}, L={self.cls.L:g}, "
                f"d={self.cls.d}), lower={j['lower']}, upper={j['upper']} ({self.digits} digits, {tag}))")


def _k_str(rho: float, digits: int) -> str:
    from .rates import format_digits
    if rho >= 1:
        return "inf" if rho == 1 else format_digits(-1 / math.log(rho), max(1, digits - 2))
    lost = max(0, math.ceil(-math.log10(abs(math.log(rho))))) if rho > 0 else 0
    return format_digits(-1 / math.log(rho), max(1, digits - lost)) if rho > 0 else "0"


def _distinct(values) -> list:
    v, c = np.unique(np.asarray(values, dtype=float), return_counts=True)
    return [[float(a), int(b)] for a, b in zip(v, c)]


# --------------------------------------------------------------------------------------------------
# double precision pieces
# --------------------------------------------------------------------------------------------------
class _Point:
    """One parameter point (method, model, eta, beta, f_B) with vectorised phi and block radii."""

    def __init__(self, method, model: str, batch, lr, momentum):
        self.method = as_method(method)
        self.model = model
        self.noise = NOISES[model]
        self.e, self.b = float(lr), float(momentum)
        self.f = 0.0 if batch == math.inf else float(batch_factor(batch))
        self._phi = secular_kernel(self.method, self.noise)
        self._char = block_charpoly_kernel(self.method, self.noise)
        self.coupled = model == "gaussian" and self.f > 0

    def phi(self, z, lam, tau=0.0):
        if not self.coupled:
            return np.zeros(np.broadcast(np.asarray(z), np.asarray(lam)).shape)
        with np.errstate(all="ignore"):          # poles and overflow far from the root give inf/nan: skipped
            return np.asarray(self._phi(z, lam, self.e, self.b, self.f, tau), dtype=float)

    def phi_of_lambda(self, z: float):
        """lambda -> phi(z, lambda) at one z (gaussian): theory.classes' N/P with the coefficients in
        lambda evaluated once, then Horner on the lambda grid (the cheap inner loop of Phi*)."""
        kn, kd = _double_coeff_kernels(self.method, self.noise)
        args = (z, self.e, self.b, self.f, 0.0, 0.0)
        cn, cd = [float(g(*args)) for g in kn], [float(g(*args)) for g in kd]

        def f(lam):
            with np.errstate(all="ignore"):
                return _ratio(lam)

        def _ratio(lam):                 # Horner in place: the same operations as n = n * lam + c
            lam = np.asarray(lam, dtype=float)
            n = lam * cn[-1] if len(cn) > 1 else np.full(lam.shape, cn[-1])
            for k, c in enumerate(cn[-2::-1]):
                if k:
                    n *= lam
                n += c
            d = lam * cd[-1] if len(cd) > 1 else np.full(lam.shape, cd[-1])
            for k, c in enumerate(cd[-2::-1]):
                if k:
                    d *= lam
                d += c
            n /= d
            return n
        return f

    def block_radius(self, lam, tau=0.0):
        lam = np.atleast_1d(np.asarray(lam, dtype=float))
        c = np.asarray(self._char(lam, self.e, self.b, self.f, tau), dtype=float)
        c = np.broadcast_to(c, lam.shape + (c.shape[-1],))
        q = c.shape[-1] - 1
        comp = np.zeros(lam.shape + (q, q))
        comp[..., 0, :] = -c[..., 1:]
        for k in range(1, q):
            comp[..., k, k - 1] = 1
        return np.max(np.abs(np.linalg.eigvals(comp)), axis=-1)


@lru_cache(maxsize=None)
def _double_coeff_kernels(method, noise):
    polys = tc.lambda_polynomials(method, noise)
    lam = lambda cs: [sp.lambdify(tc.COEFF_ARGS, c, "math") for c in cs]
    return lam(polys["num"]), lam(polys["den"])


@lru_cache(maxsize=4096)
def _grid(a: float, b: float, n: int = GRID_N) -> np.ndarray:
    g = _make_grid(a, b, n)
    g.setflags(write=False)
    return g


def _make_grid(a: float, b: float, n: int) -> np.ndarray:
    if b <= a:
        return np.array([a])
    g = np.linspace(a, b, n)
    if a > 0 and b / a > 4:
        g = np.union1d(g, np.geomspace(a, b, n))
    return g


def maximise(fun, a: float, b: float, n: int = GRID_N, levels: int = ZOOM_LEVELS):
    """(x*, f*) maximising a vectorised ``fun`` on [a, b]: grid, then nested zooms around the best."""
    x = _grid(a, b, n)
    y = fun(x)
    y = np.where(np.isfinite(y), y, -np.inf)
    i = int(np.argmax(y))
    best_x, best_y = float(x[i]), float(y[i])
    for _ in range(levels):
        lo, hi = (x[max(i - 1, 0)], x[min(i + 1, x.size - 1)])
        if hi <= lo:
            break
        x = np.linspace(lo, hi, ZOOM_N)
        y = fun(x)
        y = np.where(np.isfinite(y), y, -np.inf)
        i = int(np.argmax(y))
        if y[i] > best_y:
            best_x, best_y = float(x[i]), float(y[i])
    return best_x, best_y


def _root_decreasing(fun, z_lo: float, z_hi: float, iters: int = 200, rtol: float = 1e-15) -> float:
    """Root of a decreasing function with fun(z_lo) > 0 > fun(z_hi) (Brent)."""
    from scipy.optimize import brentq
    return float(brentq(fun, z_lo, z_hi, xtol=1e-300, rtol=rtol, maxiter=iters))


def _above_start(r_D: float) -> float:
    return r_D * (1 + 1e-12) + 1e-300


def _first_below(fun, z0: float) -> float:
    """A z > z0 with fun(z) < 0 (fun decreasing)."""
    step = max(z0, 1e-3)
    z = z0 + step
    for _ in range(200):
        v = fun(z)
        if np.isfinite(v) and v < 0:
            return z
        step *= 2
        z = z0 + step
    raise RuntimeError("no upper bracket for the secular root")


def _memo(fun):
    """fun with its values kept by argument (a root search evaluates its bracket ends twice)."""
    seen = {}

    def f(z):
        z = float(z)
        if z not in seen:
            seen[z] = fun(z)
        return seen[z]
    f.seen = seen
    return f


def _secular_root(G, rD: float, rtol: float = 1e-15):
    """Largest root above rD of a function decreasing on (rD, inf), or None when G <= 0 all the way down
    to rD (1 + 1e-12). MATH.md §5's trap: near (nearly) defective blocks G evaluated a hair above rD can
    come out with the wrong sign, so walk down from a point where G < 0 instead of probing rD.
    Values are memoised by z: Brent starts from the two walk-down points already evaluated."""
    G = _memo(G)
    z_hi = _first_below(G, _above_start(rD))
    gap = z_hi - rD
    z_prev = z_hi
    while gap > 1e-12 * max(rD, 1e-300):
        gap *= 0.25
        z = rD + gap
        v = G(z)
        if np.isfinite(v) and v > 0:
            return _root_decreasing(G, z, z_prev, rtol=rtol)
        if not np.isfinite(v) or v < 0:
            z_prev = z if np.isfinite(v) else z_prev
    return None


def _instance_rho_double(pt: _Point, values, mults, tau: float) -> float:
    """rho(T) of the spectrum with distinct ``values`` of multiplicities ``mults`` (double)."""
    values, mults = np.asarray(values, float), np.asarray(mults, float)
    rD = float(np.max(pt.block_radius(values, tau)))
    if not pt.coupled:
        return rD
    if pt.model == "gaussian":
        F = lambda z: float(np.sum(mults * pt.phi_of_lambda(z)(values))) - 1.0
    else:
        F = lambda z: float(np.sum(mults * pt.phi(z, values, tau))) - 1.0
    root = _secular_root(F, rD)
    return rD if root is None else max(root, rD)


# --------------------------------------------------------------------------------------------------
# the worst case in double precision
# --------------------------------------------------------------------------------------------------
@dataclass
class _Estimate:
    lower: float            # rho of the instance (double, fast route)
    upper: float            # estimated root of the bound on Phi*
    values: list            # instance: distinct values and multiplicities
    mults: list
    attained_by: str
    nu: float = 0.0         # multiplier of the trace constraint at ``upper``


def _block_sup(pt: _Point, cls: SpectrumClass, res: "Resolution" = None):
    """(sup of rho(D(lambda)) over allowed lambda, the maximiser, its trace)."""
    d, mu, L = cls.d, cls.mu, cls.L
    S = cls.trace()
    cands = []
    if cls.model == "gaussian":
        for x in (mu, L):
            cands.append((float(pt.block_radius(x)[0]), x, 0.0))
        if d >= 3:
            a, b = cls.free_range()
            n, lv = (GRID_N, ZOOM_LEVELS) if res is None else (res.n, res.levels)
            x, r = maximise(lambda t: pt.block_radius(t), a, b, n, lv)
            cands.append((r, x, 0.0))
        return max(cands)
    # coordinate: tau is the largest trace of a class spectrum holding lambda
    if S is not None:
        for x in (mu, L):
            cands.append((float(pt.block_radius(x, S)[0]), x, S))
        if d >= 3:
            a, b = cls.free_range()
            x, r = maximise(lambda t: pt.block_radius(t, S), a, b)
            cands.append((r, x, S))
        return max(cands)
    if d == 2:
        t = mu + L
        return max((float(pt.block_radius(x, t)[0]), x, t) for x in (mu, L))
    t_mu = mu + (d - 1) * L
    cands.append((float(pt.block_radius(mu, t_mu)[0]), mu, t_mu))
    x, r = maximise(lambda t: pt.block_radius(t, mu + (d - 2) * L + t), mu, L)
    cands.append((r, x, mu + (d - 2) * L + x))
    return max(cands)


def _fill(cls: SpectrumClass, lam: float):
    """Distinct values and multiplicities of a class spectrum holding ``lam`` (trace matched)."""
    d, mu, L = cls.d, cls.mu, cls.L
    if d == 2:
        return [mu, L], [1, 1]
    S = cls.trace()
    if S is None:
        if cls.model == "coordinate":       # the largest trace: the rest at L
            return _merge([mu, L], [1, d - 1]) if lam == mu else _merge([mu, L, lam], [1, d - 2, 1])
        return _merge([mu, L, lam], [1, 1, d - 2])
    if d == 3:
        return _merge([mu, L, S - mu - L], [1, 1, 1])
    if lam in (mu, L):
        return _merge([mu, L, (S - mu - L) / (d - 2)], [1, 1, d - 2])
    rest = (S - mu - L - lam) / (d - 3)
    return _merge([mu, L, lam, rest], [1, 1, 1, d - 3])


def _merge(values, mults):
    out = {}
    for v, m in zip(values, mults):
        if m > 0:
            out[float(v)] = out.get(float(v), 0) + int(m)
    ks = sorted(out)
    return ks, [out[k] for k in ks]


def _envelope(pt: _Point, z: float, a: float, b: float, mbar: float):
    """Concave envelope of phi(z, .) on [a, b] at mbar: (value, lambda1, lambda2, nu); pairs on a grid,
    then zooms around the best pair."""
    f = pt.phi_of_lambda(z)
    if b <= a or mbar <= a or mbar >= b:
        x = min(max(mbar, a), b)
        return float(f(np.array([x]))[0]), x, x, 0.0
    left, right = _grid(a, mbar, 129), _grid(mbar, b, 129)

    def best_pair(l, r, geo=None):
        fl, fr = f(l), f(r)
        A, Bm, D, ties = geo or _pair_geometry(l, r, mbar)
        with np.errstate(all="ignore"):
            V = fl[:, None] * A                 # the chord at mbar, (fl (r - mbar) + fr (mbar - l)) / (r - l),
            V += fr[None, :] * Bm               # in the same floating-point operations as written out
            V /= D
        for i, j in ties:                       # r == l (both at mbar): the larger value
            V[i, j] = max(fl[i], fr[j])
        k = int(np.argmax(V))                   # argmax returns a nan or +inf first if there is one, so a
        if not math.isfinite(V.flat[k]):        # finite maximum means every entry is finite or -inf
            V[~np.isfinite(V)] = -np.inf
            k = int(np.argmax(V))
        i, j = np.unravel_index(k, V.shape)
        return float(V[i, j]), i, j, fl, fr

    v, i, j, fl, fr = best_pair(left, right, _pair_geometry_cached(a, mbar, b))
    for _ in range(ZOOM_LEVELS):
        l = np.linspace(left[max(i - 1, 0)], left[min(i + 1, left.size - 1)], 17)
        r = np.linspace(right[max(j - 1, 0)], right[min(j + 1, right.size - 1)], 17)
        v2, i, j, fl, fr = best_pair(l, r)
        left, right = l, r
        v = max(v, v2)
    l1, l2 = float(left[i]), float(right[j])
    nu = (float(fr[j]) - float(fl[i])) / (l2 - l1) if l2 > l1 else 0.0
    return v, l1, l2, nu


def _pair_geometry(l: np.ndarray, r: np.ndarray, mbar: float):
    """(r - mbar, mbar - l, r - l, pairs with r <= l) of the chords of :func:`_envelope` at mbar (l <= mbar
    <= r ascending, so r <= l only where both are mbar: the last l and the first r)."""
    A, Bm = (r - mbar)[None, :], (mbar - l)[:, None]
    D = r[None, :] - l[:, None]
    if D[-1, 0] > 0:
        return A, Bm, D, []
    ties = [tuple(int(k) for k in ij) for ij in np.argwhere(~(D > 0))]
    return A, Bm, D, ties


@lru_cache(maxsize=64)
def _pair_geometry_cached(a: float, mbar: float, b: float):
    """:func:`_pair_geometry` of the first-level grids (the same for every z of one search)."""
    A, Bm, D, ties = _pair_geometry(_grid(a, mbar, 129), _grid(mbar, b, 129), mbar)
    for x in (A, Bm, D):
        x.setflags(write=False)
    return A, Bm, D, ties


def _phi_star(pt: _Point, cls: SpectrumClass, z: float, res: Resolution = FINE):
    """(bound on Phi*(z), details) for the gaussian class."""
    d, mu, L = cls.d, cls.mu, cls.L
    ends = float(np.sum(pt.phi(z, np.array([mu, L]))))
    if d == 2:
        return ends, (None, None, 0.0)
    S = cls.trace()
    a, b = cls.free_range()
    if S is None:
        x, m = maximise(pt.phi_of_lambda(z), a, b, res.n, res.levels)
        return ends + (d - 2) * m, (x, x, 0.0)
    mbar = (S - mu - L) / (d - 2)
    v, l1, l2, nu = _envelope(pt, z, a, b, mbar)
    return ends + (d - 2) * v, (l1, l2, nu)


def _two_point_instances(cls: SpectrumClass, l1: float, l2: float):
    """Spectra with k copies of one free value, j of another and at most one adjusted value holding
    the rest of the trace (the integer rounding of the relaxed two-point solution)."""
    d, mu, L = cls.d, cls.mu, cls.L
    Sp = cls.trace() - mu - L
    n = d - 2
    out = [_merge([mu, L, Sp / n], [1, 1, n])]
    if l2 <= l1:
        return out
    t = (l2 - Sp / n) / (l2 - l1)
    k0 = int(math.floor(t * n))
    for k in range(max(0, k0 - 1), min(n, k0 + 2) + 1):
        for j in (n - k - 1, n - k):
            if j < 0:
                continue
            r = n - k - j
            x3 = Sp - k * l1 - j * l2
            if r == 0 and abs(x3) <= 1e-12 * Sp:
                out.append(_merge([mu, L, l1, l2], [1, 1, k, j]))
            elif r == 1 and mu <= x3 <= L:
                out.append(_merge([mu, L, l1, l2, x3], [1, 1, k, j, 1]))
            if 0 < k < n and r == 0:
                x2 = (Sp - k * l1) / (n - k)
                if mu <= x2 <= L:
                    out.append(_merge([mu, L, l1, x2], [1, 1, k, n - k]))
                x1 = (Sp - (n - k) * l2) / k
                if mu <= x1 <= L:
                    out.append(_merge([mu, L, x1, l2], [1, 1, k, n - k]))
    return out


def estimate(method, cls: SpectrumClass, batch, lr, momentum, res: Resolution = FINE) -> _Estimate:
    """Double-precision worst case: (instance rate, estimated upper bound, instance)."""
    pt = _Point(method, cls.model, batch, lr, momentum)
    rD, xD, tD = _block_sup(pt, cls, res)
    S = cls.trace()
    if not pt.coupled:
        vals, mults = _fill(cls, xD)
        tau = float(np.dot(vals, mults))
        low = _instance_rho_double(pt, vals, mults, tau)
        return _Estimate(low, rD, vals, mults, "block radius")
    seen = {}

    def G(z):
        seen[z] = _phi_star(pt, cls, z, res)
        return seen[z][0] - 1.0
    zu = _secular_root(G, rD, res.rtol)
    if zu is None:
        vals, mults = _fill(cls, xD)
        low = _instance_rho_double(pt, vals, mults, 0.0)
        return _Estimate(low, max(rD, low), vals, mults, "block radius")
    # the maximiser at the root (FINE resolution; the envelope of a fixed trace and d = 2 do not read res)
    same = zu in seen and (cls.d == 2 or S is not None)
    _, (l1, l2, nu) = seen[zu] if same else _phi_star(pt, cls, zu)
    if cls.d == 2:
        cands = [([cls.mu, cls.L], [1, 1])]
    elif S is None:
        cands = [_merge([cls.mu, cls.L, l1], [1, 1, cls.d - 2])]
    else:
        cands = _two_point_instances(cls, l1, l2)
    best = None
    for vals, mults in cands:
        r = _instance_rho_double(pt, vals, mults, 0.0)
        if best is None or r > best[0]:
            best = (r, vals, mults)
    return _Estimate(best[0], max(zu, best[0]), best[1], best[2], "secular root", nu)


def spectrum_of(values, mults) -> list:
    return sorted(float(v) for v, m in zip(values, mults) for _ in range(int(m)))


# --------------------------------------------------------------------------------------------------
# certification (python-flint arb)
# --------------------------------------------------------------------------------------------------
_ARB_MODULES = [{"mpf": flint.arb, "sqrt": lambda x: flint.arb(x).sqrt()}, "mpmath"]


@lru_cache(maxsize=None)
def _arb_kernels(method, noise):
    """theory.classes' coefficient expressions lambdified for arb arguments (z, eta, beta, f_B, tau0, tau1)."""
    polys = tc.lambda_polynomials(method, noise)
    lam = lambda cs: [sp.lambdify(tc.COEFF_ARGS, c, _ARB_MODULES) for c in cs]
    return {"num": lam(polys["num"]), "den": lam(polys["den"]), "taylor": [lam(t) for t in polys["taylor"]]}


class _ArbPoint:
    """arb polynomials in lambda at one z for one parameter point (trace tau0 + tau1 lambda)."""

    def __init__(self, method, noise, e, b, f):
        self.k = _arb_kernels(as_method(method), noise)
        self.e, self.b, self.f = flint.arb(e), flint.arb(b), f

    def polys(self, z, tau0=0.0, tau1=0.0):
        args = (z, self.e, self.b, self.f, flint.arb(tau0), flint.arb(tau1))
        mk = lambda fs: flint.arb_poly([flint.arb(g(*args)) for g in fs])
        return mk(self.k["num"]), mk(self.k["den"]), [mk(t) for t in self.k["taylor"]]


def _centred_lower(p: flint.arb_poly, dp: flint.arb_poly, lo: float, hi: float) -> flint.arb:
    """An enclosure of p over [lo, hi] (the better of the naive and the centred form)."""
    if lo == hi:
        return p(flint.arb(lo))
    m = 0.5 * (lo + hi)                     # exact in binary for our boxes, or close: radius covers it
    r = max(m - lo, hi - m) * (1 + 2 ** -40)
    X = flint.arb(m, r)
    # Taylor form: p(m + t) = sum_k c_k t^k with the shifted coefficients enclosed at the midpoint, so
    # the width comes from the true derivatives at m, not from the cancellation of p's own coefficients
    q = p(flint.arb_poly([flint.arb(m), flint.arb(1)]))
    R = flint.arb(r)
    tail = flint.arb(0)
    for k in range(1, q.degree() + 1):
        tail += abs(q[k]) * R ** k
    c = q[0] + flint.arb(0, 1) * tail
    n = p(X)
    return c if c.lower() > n.lower() else n


def prove_positive(polys, lo: float, hi: float, max_boxes: int = BB_MAX_BOXES):
    """Branch and bound: True if every arb polynomial of ``polys`` is certainly > 0 on [lo, hi];
    False if one is certainly <= 0 at a point (refuted); None if undecided within ``max_boxes``."""
    ders = [p.derivative() for p in polys]
    stack = [(lo, hi)]
    boxes = 0
    while stack:
        a, b = stack.pop()
        boxes += 1
        if boxes > max_boxes:
            return None
        if all(_centred_lower(p, dp, a, b) > 0 for p, dp in zip(polys, ders)):
            continue
        m = 0.5 * (a + b)
        pm = [p(flint.arb(m)) for p in polys]
        if any(v <= 0 for v in pm):
            return False
        if not (a < m < b):
            return None
        stack.append((m, b))
        stack.append((a, m))
    return True


def _rational_arb(x) -> flint.arb:
    return flint.arb(x)


def _certify_instance(pt: _Point, cls: SpectrumClass, values, mults, rho: float):
    """Certified (lo, hi) around the double rate ``rho`` of an instance, or None."""
    S = float(np.dot(values, mults))
    tau0 = S if cls.model == "coordinate" else 0.0
    ap = _ArbPoint(pt.method, pt.noise, pt.e, pt.b, flint.arb(pt.f))
    X = [flint.arb(v) for v in values]
    M = [flint.arb(int(m)) for m in mults]

    def side(z: flint.arb):
        num, den, tay = ap.polys(z, tau0, 0.0)
        above = all(all(t(x) > 0 for t in tay) for x in X)
        not_above = any(any(t(x) <= 0 for t in tay) for x in X)
        if above and pt.coupled:
            F = sum((m * num(x) / den(x) for m, x in zip(M, X)), flint.arb(0))
            return "above", F
        return ("above" if above else "below" if not_above else "unknown"), flint.arb(0)

    for rel in (1e-14, 1e-12, 1e-10, 1e-8, 1e-6, 1e-4):
        with _prec(CERT_BITS):
            lo, hi = rho * (1 - rel), rho * (1 + rel)
            sh, Fh = side(flint.arb(hi))
            sl, Fl = side(flint.arb(lo))
            up_ok = sh == "above" and Fh < 1
            lo_ok = sl == "below" or (sl == "above" and Fl > 1)
            if up_ok and lo_ok:
                return lo, hi
    return None


def _certify_upper(pt: _Point, cls: SpectrumClass, z: float, nu: float = 0.0):
    """True if rho_worst(C) <= z is proven, False/None otherwise."""
    d, mu, L = cls.d, cls.mu, cls.L
    S = cls.trace()
    f = flint.arb(pt.f)
    ap = _ArbPoint(pt.method, pt.noise, pt.e, pt.b, f)
    Z = flint.arb(z)
    with _prec(CERT_BITS):
        if cls.model == "coordinate":
            if S is not None:
                _, _, tay = ap.polys(Z, S, 0.0)
                ok = prove_positive(tay, mu, mu) and prove_positive(tay, L, L)
                if d >= 3 and ok:
                    a, b = cls.free_range()
                    ok = prove_positive(tay, a, b)
                return ok
            if d == 2:
                _, _, tay = ap.polys(Z, mu + L, 0.0)
                return prove_positive(tay, mu, mu) and prove_positive(tay, L, L)
            _, _, tay_mu = ap.polys(Z, mu + (d - 1) * L, 0.0)
            _, _, tay = ap.polys(Z, mu + (d - 2) * L, 1.0)
            return prove_positive(tay_mu, mu, mu) and prove_positive(tay, mu, L)
        num, den, tay = ap.polys(Z)
        for x in (mu, L):
            if not prove_positive(tay, x, x):
                return False
        ends = num(flint.arb(mu)) / den(flint.arb(mu)) + num(flint.arb(L)) / den(flint.arb(L))
        if not pt.coupled:
            ends = flint.arb(0)
        if d == 2:
            return bool(ends < 1)
        a, b = cls.free_range()
        if not prove_positive(tay, a, b):
            return False
        if not pt.coupled:
            return True
        Nu = flint.arb(nu)
        Sp = flint.arb(S) - flint.arb(mu) - flint.arb(L) if S is not None else flint.arb(0)
        t = (1 - ends - Nu * Sp) / (d - 2)
        # phi(z, lambda) - nu lambda < t on [a, b]  <=>  (t + nu lambda) P - N > 0  (P > 0 above the blocks)
        Q = (flint.arb_poly([t, Nu]) * den) - num
        return prove_positive([Q], a, b)


class _prec:
    def __init__(self, bits):
        self.bits = bits

    def __enter__(self):
        self.old = flint.ctx.prec
        flint.ctx.prec = self.bits

    def __exit__(self, *a):
        flint.ctx.prec = self.old


# --------------------------------------------------------------------------------------------------
# the public entry points
# --------------------------------------------------------------------------------------------------
def _check(method, cls, batch, lr, momentum):
    from ..theory.sampling import check_batch
    if not isinstance(cls, SpectrumClass):
        raise InputError("class", "must be a SpectrumClass (see parse_class)")
    from .rates import check_params
    batch = check_batch(batch)
    e, b = check_params(lr, momentum)
    m = as_method(method)
    if not m.uses_momentum and b != 0:
        raise InputError("momentum", f"{m.name} has no momentum (got {momentum!r})")
    return m, batch, e, b


def worst_case(method, cls: SpectrumClass, batch, lr, momentum, *, certify: bool = False) -> WorstCaseResult:
    """Worst rate over a spectrum class: a class member's rate (lower) and a bound (upper).

    Parameters
    ----------
    method : name or Method; cls : :class:`SpectrumClass`; batch : int >= 1 or ``math.inf``;
    lr, momentum : floats (read exactly as the binary fractions they are).
    certify : prove both sides with arb (instance by the secular bracket, upper by branch and bound).

    >>> r = worst_case("sgd", SpectrumClass("gaussian", 1.0, 1.0, 3), 4, 0.5, 0.0, certify=True)
    >>> float(r.to_json()["lower"]), r.certified
    (0.5, True)
    """
    m, batch, e, b = _check(method, cls, batch, lr, momentum)
    est = estimate(m, cls, batch, e, b)
    pt = _Point(m, cls.model, batch, e, b)
    inst = spectrum_of(est.values, est.mults)
    notes = []
    if cls.trace() is not None:
        notes.append(f"fixed trace: the instance's trace matches tr H = {cls.trace()!r} to relative {TRACE_RTOL:g}"
                     " (float eigenvalues)")
    from .rates import spectral_radius
    iv = None
    if cls.model == "coordinate" and cls.d > RATE_ENGINE_MAX_D_COORDINATE:
        # rho = the top block radius; the rate engine loops over every block (seconds at d = 1000), so
        # take the double value of the distinct blocks and let the arb enclosure state its digits
        lower = est.lower
        iv = _certify_instance(pt, cls, est.values, est.mults, lower)
        if iv is None:
            raise RuntimeError("could not certify the instance's rate")
        rel_i = (iv[1] - iv[0]) / (2 * lower) if lower > 0 else 0.0
        digits = max(1, min(15, int(math.floor(-math.log10(max(rel_i, 1e-300)))) - 1))
        notes.append("lower: the top block radius of the instance's distinct eigenvalues (double), digits "
                     "from its arb enclosure")
    else:
        res = spectral_radius(m, cls.sampling_model(inst), batch, e, b)
        lower, digits = float(res.rho), int(res.digits)
    upper = max(est.upper, lower)
    if not certify:
        notes.append("upper is a double-precision estimate (not proven); use certify=True for a bound")
        return WorstCaseResult(cls, m.name, batch, e, b, lower, upper, digits, False, inst, None,
                               est.attained_by, notes)
    if iv is None:
        iv = _certify_instance(pt, cls, est.values, est.mults, lower)
    if iv is None:
        raise RuntimeError("could not certify the instance's rate")
    rel_i = (iv[1] - iv[0]) / (2 * lower) if lower > 0 else 0.0
    digits = min(digits, max(1, int(math.floor(-math.log10(max(rel_i, 1e-300)))) - 1))
    hi = None
    # candidates above the instance's certified upper end (the double estimate of the class bound can be
    # off by eps^(1/3) at Jordan blocks, in either direction), then above the estimate; first proven wins
    rels = [10.0 ** (-k / 2) for k in range(26, 1, -1)]              # 1e-13 ... 1e-1, factors of sqrt(10)
    if est.upper > est.lower * (1 + 1e-9):      # a real gap (fixed trace): start from the relaxation's root
        zs = [max(upper, float(iv[1])) * (1 + r) for r in rels]
    else:                                        # bound = the instance's rate: start from its certified end
        zs = [float(iv[1]) * (1 + r) for r in rels]
    for z in zs:
        nu = est.nu
        if cls.model == "gaussian" and cls.trace() is not None and pt.coupled and cls.d > 2:
            _, (_, _, nu) = _phi_star(pt, cls, z)
        if _certify_upper(pt, cls, z, nu):
            hi = z
            break
    if hi is None:
        raise RuntimeError("could not certify an upper bound on the class")
    return WorstCaseResult(cls, m.name, batch, e, b, lower, hi, digits, True, inst, iv, est.attained_by, notes)


def brute_force(method, cls: SpectrumClass, batch, lr, momentum, grid: int = 9):
    """max of rho over class spectra whose free eigenvalues lie on a grid of ``grid`` points in [mu, L]
    (every multiset; with a fixed trace only those matching it to 1e-9): a lower bound on rho_worst.
    Returns (rho, spectrum). For tests and benchmarks (small d)."""
    from itertools import combinations_with_replacement
    m, batch, e, b = _check(method, cls, batch, lr, momentum)
    pt = _Point(m, cls.model, batch, e, b)
    g = np.linspace(cls.mu, cls.L, grid)
    S = cls.trace()
    best = (-1.0, None)
    for free in combinations_with_replacement(g, cls.d - 2):
        spec = [cls.mu, cls.L, *free]
        if S is not None and abs(sum(spec) - S) > 1e-9 * S:
            continue
        vals, mults = np.unique(spec, return_counts=True)
        r = _instance_rho_double(pt, vals, mults, float(sum(spec)))
        if r > best[0]:
            best = (r, sorted(spec))
    return best


# --------------------------------------------------------------------------------------------------
# minimax tuning
# --------------------------------------------------------------------------------------------------
@dataclass
class MinimaxResult:
    """(eta, beta) minimising the class's worst rate, next to the instance-optimal tuning.

    worst : :class:`WorstCaseResult` at the minimax parameters (its lower/upper bracket rho_worst).
    instance_tune : numerics.tuning's TuneResult on the worst instance (the price of not knowing the
        spectrum is K_minimax / K_instance >= 1 up to the tolerances of both searches).
    """

    worst: WorstCaseResult
    instance_tune: object
    evaluations: int

    @property
    def K_minimax(self) -> float:
        return -1 / math.log(self.worst.lower) if 0 < self.worst.lower < 1 else math.inf

    @property
    def K_instance(self) -> float:
        return float(self.instance_tune.K)

    def to_json(self) -> dict:
        from .rates import format_digits
        out = self.worst.to_json()
        out["tune"] = {"lr": self.worst.lr, "momentum": self.worst.momentum,
                       "K_minimax": format_digits(self.K_minimax, 6),
                       "instance_lr": float(self.instance_tune.lr), "instance_momentum": float(self.instance_tune.momentum),
                       "K_instance": format_digits(self.K_instance, 6),
                       "price": format_digits(self.K_minimax / self.K_instance, 4),
                       "evaluations": self.evaluations,
                       "note": "minimax and instance tunings are numerical searches (local optima possible); "
                               "K to 6 digits of the searched optimum, not of the global optimum"}
        return out


def minimax_tune(method, cls: SpectrumClass, batch, *, certify: bool = False, seed: int = 0) -> MinimaxResult:
    """min over (eta, beta) of the class's worst rate (double estimate of the upper side), by a coarse
    grid in (log eta, log(1 - beta)) and Nelder-Mead from the best points; then the instance-optimal
    tuning of the worst instance (numerics.tuning.tune).

    >>> r = minimax_tune("sgd", SpectrumClass("gaussian", 1.0, 1.0, 3), 4)
    >>> abs(r.worst.lr - 4 / 8) < 1e-3
    True
    """
    from scipy.optimize import minimize
    from .tuning import tune
    m = as_method(method)
    from ..theory.sampling import check_batch
    batch = check_batch(batch)
    count = [0]

    def obj(x):
        e = math.exp(x[0])
        b = 0.0 if not m.uses_momentum else 1 - math.exp(x[1])
        if not (0 <= b < 1) or not math.isfinite(e):
            return math.inf
        count[0] += 1
        try:
            return estimate(m, cls, batch, e, b, COARSE).upper
        except (RuntimeError, ValueError, FloatingPointError):
            return math.inf

    etas = np.log(np.geomspace(1e-3 / cls.L, 8 / cls.mu if m.uses_momentum else 4 / cls.L, 12))
    oms = np.log(np.array([1.0, 0.3, 0.1, 0.03, 0.01, 0.003])) if m.uses_momentum else np.array([0.0])
    pts = [(obj((x, y)), x, y) for x in etas for y in oms]
    pts.sort()
    best = None
    for v, x, y in pts[:2]:
        if not math.isfinite(v):
            continue
        x0 = np.array([x, y]) if m.uses_momentum else np.array([x])
        f = (lambda p: obj((p[0], p[1]))) if m.uses_momentum else (lambda p: obj((p[0], 0.0)))
        r = minimize(f, x0, method="Nelder-Mead", options={"xatol": 1e-4, "fatol": 1e-10, "maxfev": 120})
        if best is None or r.fun < best[0]:
            best = (r.fun, r.x)
    if best is None:
        raise InputError("batch", "no (lr, momentum) makes the class converge on the searched grid")
    e = float(math.exp(best[1][0]))
    b = float(1 - math.exp(best[1][1])) if m.uses_momentum else 0.0
    wc = worst_case(m, cls, batch, e, b, certify=certify)
    it = tune(m, cls.sampling_model(wc.instance), batch, seed=seed)
    return MinimaxResult(wc, it, count[0])


# --------------------------------------------------------------------------------------------------
# data-matrix classes (no decoupling): a search, whose result is a certified LOWER bound only
# --------------------------------------------------------------------------------------------------
DATA_MODELS = ("finite", "kaczmarz", "coordinate")


@dataclass(frozen=True)
class DataClass:
    """Data matrices whose H has its spectrum in [mu, L] and contains mu and L.

    finite, kaczmarz: A (n x d) with the eigenvalues of A^T A / n in [mu, L] (A = sqrt(n) U diag(sqrt
    lambda) V^T, U with orthonormal columns); coordinate: H = V diag(lambda) V^T (a general, non-diagonal
    H). The sampling model is then built from A (or H) as usual; kaczmarz normalises H by ||A||_F^2.
    """

    model: str
    mu: float
    L: float
    d: int
    n: int | None = None

    def __post_init__(self):
        if self.model not in DATA_MODELS:
            raise InputError("model", f"data-matrix classes exist for {', '.join(DATA_MODELS)}, not {self.model!r}")
        SpectrumClass("gaussian", self.mu, self.L, self.d)          # the same checks of mu, L, d
        if self.model != "coordinate":
            if isinstance(self.n, bool) or not isinstance(self.n, (int, np.integer)) or self.n < self.d:
                raise InputError("n", f"the {self.model} class needs an integer n >= d = {self.d}, got {self.n!r}")

    def matrix(self, x: np.ndarray) -> np.ndarray:
        """The class member with free parameters ``x``: d - 2 interior eigenvalues (through a logistic
        map onto [mu, L]) and a free matrix orthonormalised by QR."""
        d = self.d
        t = x[: d - 2]
        lam = np.concatenate([[self.mu, self.L], self.mu + (self.L - self.mu) / (1 + np.exp(-t))])
        rows = d if self.model == "coordinate" else self.n
        Q, _ = np.linalg.qr(x[d - 2:].reshape(rows, d))
        if self.model == "coordinate":
            return (Q * lam) @ Q.T
        return math.sqrt(rows) * Q * np.sqrt(lam)

    def sampling_model(self, M):
        from ..theory.sampling import FiniteSum, Kaczmarz
        if self.model == "coordinate":
            return Coordinate(H=(M + M.T) / 2)
        return FiniteSum(M) if self.model == "finite" else Kaczmarz(M)

    def size(self) -> int:
        rows = self.d if self.model == "coordinate" else self.n
        return self.d - 2 + rows * self.d


@dataclass
class SearchResult:
    """The worst data matrix found by local search with restarts: a certified LOWER bound on the worst
    case over the class (the true worst case may be larger; nothing here bounds it from above)."""

    cls: DataClass
    method: str
    batch: object
    lr: float
    momentum: float
    matrix: np.ndarray
    rate: object               # RateResult of the best matrix (certified interval when available)
    restarts: int
    evaluations: int
    history: list

    def to_json(self) -> dict:
        from .rates import format_bound
        iv = self.rate.interval
        out = {"lower": format_bound(iv[0], 12, "down") if iv else None,
               "rate": self.rate.to_json(), "certified": iv is not None, "kind": "lower bound (search)",
               "note": "the best instance found by local search: a certified LOWER bound on the worst case over "
                       "the class, not the worst case",
               "class": {"model": self.cls.model, "mu": self.cls.mu, "L": self.cls.L, "d": self.cls.d, "n": self.cls.n},
               "method": self.method, "batch": "inf" if self.batch == math.inf else int(self.batch),
               "lr": self.lr, "momentum": self.momentum, "restarts": self.restarts,
               "evaluations": self.evaluations, "best_per_restart": self.history,
               "instance": {"matrix": self.matrix.tolist(),
                            "spectrum": np.linalg.eigvalsh(self._H()).tolist()}}
        return out

    def _H(self):
        M = self.matrix
        if self.cls.model == "coordinate":
            return (M + M.T) / 2
        return M.T @ M / M.shape[0]


def search_data_class(method, cls: DataClass, batch, lr, momentum, *, restarts: int = 4, seed: int = 0,
                      maxfev: int = 400, certify: bool = True) -> SearchResult:
    """Local maximisation of rho(T) over the class's matrices (Nelder-Mead on the free parameters of
    :meth:`DataClass.matrix`, rho from the rate engine) from ``restarts`` random starts; the best matrix's
    rate is certified with arb. The result is a LOWER bound on the worst case, never the worst case.

    >>> r = search_data_class("sgd", DataClass("coordinate", 1.0, 4.0, 2), 1, 0.2, 0.0, restarts=1, maxfev=20)
    >>> r.to_json()["kind"]
    'lower bound (search)'
    """
    from scipy.optimize import minimize
    from .rates import spectral_radius
    m, batch, e, b = _check(method, SpectrumClass("gaussian", cls.mu, cls.L, cls.d), batch, lr, momentum)
    rng = np.random.default_rng(seed)
    count = [0]

    def neg_rho(x):
        count[0] += 1
        try:
            model = cls.sampling_model(cls.matrix(x))
            return -float(spectral_radius(m, model, batch, e, b).rho)
        except (InputError, np.linalg.LinAlgError, ValueError, RuntimeError):
            return math.inf

    starts = [rng.standard_normal(cls.size()) for _ in range(restarts)]
    if cls.model == "coordinate":       # seed: the certified worst diagonal H (a member of this class)
        wc = worst_case(m, SpectrumClass("coordinate", cls.mu, cls.L, cls.d), batch, e, b)
        inner = [v for v in wc.instance][1:-1]
        p = np.clip([(v - cls.mu) / (cls.L - cls.mu) if cls.L > cls.mu else 0.5 for v in inner], 1e-9, 1 - 1e-9)
        lam = sorted(wc.instance)
        order = [0, cls.d - 1] + list(range(1, cls.d - 1))          # matrix() puts mu, L first
        perm = np.eye(cls.d)[:, order]
        starts[0] = np.concatenate([np.log(p / (1 - p)), perm.ravel()])
    best, history = None, []
    for x0 in starts:
        r = minimize(neg_rho, x0, method="Nelder-Mead", options={"maxfev": maxfev, "xatol": 1e-6, "fatol": 1e-12})
        history.append(-float(r.fun))
        if best is None or r.fun < best.fun:
            best = r
    M = cls.matrix(best.x)
    rate = spectral_radius(m, cls.sampling_model(M), batch, e, b, certify=certify)
    return SearchResult(cls, m.name, batch, e, b, M, rate, restarts, count[0], history)


def parse_data_class(text: str, model: str) -> DataClass:
    """``"mu=..,L=..,d=..[,n=..]"`` as a :class:`DataClass` (no eval)."""
    from ..theory.parse import parse_number_exact
    if not isinstance(text, str) or not text.strip():
        raise InputError("class", "empty class (use mu=..,L=..,d=..[,n=..])")
    vals = {}
    for part in text.split(","):
        if "=" not in part:
            raise InputError("class", f"malformed entry {part.strip()!r} (use key=value)")
        k, v = (t.strip() for t in part.split("=", 1))
        if k not in ("mu", "L", "d", "n"):
            raise InputError("class", f"unknown key {k!r} for a data-matrix class (allowed: mu, L, d, n)")
        vals[k] = parse_number_exact(v, k)
    for k in ("mu", "L", "d"):
        if k not in vals:
            raise InputError(k, "missing from the class (use mu=..,L=..,d=..[,n=..])")
    for k in ("d", "n"):
        if k in vals and vals[k] != int(vals[k]):
            raise InputError(k, f"must be an integer, got {vals[k]}")
    n = int(vals["n"]) if "n" in vals else None
    return DataClass(model, float(vals["mu"]), float(vals["L"]), int(vals["d"]), n)


def minimax_curve(method, cls: SpectrumClass, batches) -> dict:
    """Iterations-versus-batch curve of the class under minimax tuning: K_minimax(B), K_instance(B) on
    each B's worst instance, their ratio, and (numerics.tuning's definitions) the log-log slope over the
    first three batch sizes and the saturation batch. Searches: about 4 correct digits of K."""
    from .tuning import loglog_slope, saturation_batch
    rows = []
    for B in batches:
        t = minimax_tune(method, cls, B)
        rows.append({"batch": "inf" if B == math.inf else int(B), "K_minimax": t.K_minimax,
                     "K_instance": t.K_instance, "price": t.K_minimax / t.K_instance,
                     "lr": t.worst.lr, "momentum": t.worst.momentum})
    fin = [(b, r["K_minimax"]) for b, r in zip(batches, rows) if b != math.inf]
    slope = loglog_slope([b for b, _ in fin[:3]], [k for _, k in fin[:3]]) if len(fin) >= 2 else None
    sat = saturation_batch([b for b, _ in fin], [k for _, k in fin]) if len(fin) >= 2 else None
    return {"method": as_method(method).name, "class": cls.to_json(), "points": rows, "slope": slope,
            "saturation_batch": sat}
