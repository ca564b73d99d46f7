"""The optimizer conventions users bring, mapped onto the project's triples (MATH.md §3, §8).

PyTorch ``torch.optim.SGD(lr, momentum, dampening, nesterov)`` steps, with buffer b and gradient g(p):

    b+ = momentum b + (1 - dampening) g(p)     (b = g(p) at the first step: no dampening there)
    p+ = p - lr b+                             (nesterov=False)
    p+ = p - lr (g(p) + momentum b+)           (nesterov=True; needs dampening = 0)

Mapped onto triples (z = (e_k, e_{k-1}), zero initial buffer):

* momentum = 0: ``sgd`` (eta = lr);
* plain momentum: ``heavy-ball`` (eta = lr, beta = momentum), the stored parameter is x_k;
* dampening tau: ``heavy-ball`` (eta = lr (1 - tau), beta = momentum); PyTorch's undamped first step
  changes only the constant in front of rho^k, never the rate;
* nesterov=True: ``nesterov`` (eta = lr, beta = momentum); the stored parameter is the look-ahead point
  y_k = x_k + beta (x_k - x_{k-1}) = (c^T ⊗ I) z_k.

optax ``sgd(learning_rate, momentum, nesterov)`` (``trace`` then ``scale(-lr)``: t+ = g + momentum t,
update = -lr t+ or -lr (g + momentum t+)) is PyTorch's rule without dampening: the same mapping.
Weight decay changes the problem (H + wd I and a minimiser moved away from x*), not the method, and is
refused; so is ``maximize``.

>>> m = torch_sgd(lr=0.1, momentum=0.9, nesterov=True)
>>> m.method.name, m.lr, m.momentum
('nesterov', 1/10, 9/10)
"""
from __future__ import annotations

from dataclasses import dataclass

from ..theory.errors import InputError
from ..theory.methods import Method, exact_value, get_method


@dataclass(frozen=True)
class Mapped:
    """An optimizer setting as (method, lr, momentum) of this project, exact numbers.

    ``stored`` says which point of the triple the optimizer stores as its parameter; ``note`` what
    differs from the triple (e.g. the constant of the first step).
    """

    method: Method
    lr: object
    momentum: object
    source: str
    stored: str = "x_k (the first block of the state)"
    note: str = ""

    def point(self) -> tuple:
        """(method, lr, momentum) for ``mv.rate``, ``mv.simulate`` and friends."""
        return self.method, self.lr, self.momentum

    def __repr__(self) -> str:
        return (f"Mapped({self.method.name!r}, lr={self.lr}, momentum={self.momentum}, "
                f"source={self.source!r}) (exact values)")


def _number(v, key, lo=None, hi=None, lo_open=False, hi_open=False):
    """A setting as an exact number; a float is read as the decimal it prints as (0.1 -> 1/10: the
    value the user wrote in the optimizer's constructor, not its binary rounding)."""
    if isinstance(v, float) and v == v and abs(v) != float("inf"):
        v = repr(v)
    x = exact_value(v, key)
    bad = (lo is not None and (x < lo or (lo_open and x == lo))) or \
          (hi is not None and (x > hi or (hi_open and x == hi)))
    if bad:
        lb, rb = ("(" if lo_open else "["), (")" if hi_open else "]")
        raise InputError(key, f"must lie in {lb}{lo}, {hi if hi is not None else 'inf'}{rb}, got {v}")
    return x


def _flag(v, key) -> bool:
    if isinstance(v, bool):
        return v
    if isinstance(v, str) and v.strip().lower() in ("true", "1", "yes", "false", "0", "no"):
        return v.strip().lower() in ("true", "1", "yes")
    if isinstance(v, int) and v in (0, 1):
        return bool(v)
    raise InputError(key, f"must be true or false, got {v!r}")


def torch_sgd(lr, momentum=0, dampening=0, nesterov=False, weight_decay=0, maximize=False,
              **ignored) -> Mapped:
    """``torch.optim.SGD(lr, momentum, dampening, weight_decay, nesterov, maximize)`` as a triple.

    Keys PyTorch adds that do not change the update (``foreach``, ``differentiable``, ``fused``,
    ``params``, ``initial_lr``) are ignored.
    """
    unknown = sorted(set(ignored) - {"foreach", "differentiable", "fused", "params", "initial_lr"})
    if unknown:
        raise InputError(unknown[0], "not an option of torch.optim.SGD (lr, momentum, dampening, "
                                     "weight_decay, nesterov, maximize)")
    lr = _number(lr, "lr", 0, None, lo_open=True)
    mom = _number(momentum, "momentum", 0, 1, hi_open=True)
    tau = _number(dampening, "dampening", 0, 1, hi_open=True)
    nesterov = _flag(nesterov, "nesterov")
    if _number(weight_decay, "weight_decay") != 0:
        raise InputError("weight_decay", "must be 0: weight decay changes the problem (H + wd I), not the method")
    if _flag(maximize, "maximize"):
        raise InputError("maximize", "must be false (the project minimises)")
    src = f"torch.optim.SGD(lr={lr}, momentum={mom}, dampening={tau}, nesterov={nesterov})"
    if nesterov:
        if mom == 0 or tau != 0:
            raise InputError("nesterov", "Nesterov momentum requires a momentum and zero dampening (as in PyTorch)")
        return Mapped(get_method("nesterov"), lr, mom, src,
                      stored="the look-ahead point y_k = x_k + beta (x_k - x_{k-1})")
    if mom == 0:
        return Mapped(get_method("sgd"), lr, 0, src, note="dampening has no effect without momentum")
    if tau == 0:
        return Mapped(get_method("heavy-ball"), lr, mom, src)
    return Mapped(get_method("heavy-ball"), lr * (1 - tau), mom, src,
                  note="PyTorch's first step is undamped (buffer = g): only the constant in front of rho^k "
                       "differs from the triple, not the rate")


def optax_sgd(learning_rate, momentum=None, nesterov=False) -> Mapped:
    """``optax.sgd(learning_rate, momentum, nesterov)`` as a triple (momentum None or 0: plain SGD)."""
    mom = 0 if momentum is None else momentum
    m = torch_sgd(learning_rate, mom, 0, nesterov if mom else False)
    if _flag(nesterov, "nesterov") and not mom:
        raise InputError("nesterov", "needs a momentum")
    src = f"optax.sgd(learning_rate={m.lr}, momentum={momentum}, nesterov={_flag(nesterov, 'nesterov')})"
    return Mapped(m.method, m.lr, m.momentum, src, m.stored, m.note)


def from_torch(optimizer, group: int | None = None) -> Mapped:
    """Map a ``torch.optim.SGD`` instance by duck typing on ``optimizer.param_groups`` (no torch import).

    ``group``: which parameter group (required when groups differ in their settings).
    """
    groups = getattr(optimizer, "param_groups", None)
    if not isinstance(groups, (list, tuple)) or not groups or not all(isinstance(g, dict) for g in groups):
        raise InputError("optimizer", "needs a torch.optim.SGD-like object with a non-empty param_groups list")
    kind = type(optimizer).__name__
    if kind != "SGD":
        raise InputError("optimizer", f"only torch.optim.SGD maps onto a triple, got {kind}")
    keys = ("lr", "momentum", "dampening", "nesterov", "weight_decay", "maximize")
    settings = [{k: g[k] for k in keys if k in g} for g in groups]
    if group is None:
        if any(s != settings[0] for s in settings[1:]):
            raise InputError("group", f"the {len(groups)} parameter groups differ: pass group=i")
        group = 0
    if not isinstance(group, int) or not 0 <= group < len(groups):
        raise InputError("group", f"must be an index in [0, {len(groups)}), got {group!r}")
    if "lr" not in settings[group]:
        raise InputError("lr", "the parameter group has no lr")
    return torch_sgd(**settings[group])


def parse_spec(text: str, param: str) -> dict:
    """``'lr=0.1,momentum=0.9,nesterov=true'`` as a dict of strings (command-line form)."""
    out = {}
    for part in str(text).split(","):
        if "=" not in part or not part.split("=", 1)[0].strip():
            raise InputError(param, f"malformed entry {part.strip()!r} (use KEY=VALUE, comma-separated)")
        k, v = (t.strip() for t in part.split("=", 1))
        if k in out:
            raise InputError(param, f"duplicate key {k!r}")
        out[k] = v
    return out


def from_spec(kind: str, text: str) -> Mapped:
    """The command-line options ``--torch-sgd SPEC`` (kind "torch") and ``--optax-sgd SPEC`` ("optax")."""
    param = f"{kind}-sgd"
    spec = parse_spec(text, param)
    allowed = (("lr", "momentum", "dampening", "nesterov", "weight_decay", "maximize") if kind == "torch"
               else ("learning_rate", "lr", "momentum", "nesterov"))
    for k in spec:
        if k not in allowed:
            raise InputError(f"{param}.{k}", f"unknown key (allowed: {', '.join(allowed)})")
    if kind == "torch":
        if "lr" not in spec:
            raise InputError(f"{param}.lr", "required")
        return torch_sgd(**spec)
    lr = spec.get("learning_rate", spec.get("lr"))
    if lr is None:
        raise InputError(f"{param}.learning_rate", "required")
    return optax_sgd(lr, spec.get("momentum"), spec.get("nesterov", False))
