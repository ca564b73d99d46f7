"""The method options every command shares: ``--method NAME|FILE.toml``, ``--param NAME=VALUE`` and the
optimizer conventions ``--torch-sgd SPEC`` / ``--optax-sgd SPEC``.

``--lr`` is the step eta and ``--momentum`` the momentum beta; every other parameter of a method comes
by ``--param`` (or from the method file's ``defaults``) and is checked against its declared range.
"""
from __future__ import annotations

from ..theory.errors import InputError
from ..theory.methods import METHODS, Method, get_method

METHOD_HELP = f"one of: {', '.join(METHODS)}, or a method file FILE.toml"


def add_param_option(p, conventions: bool = True):
    """Add ``--param`` (repeatable) and, with ``conventions``, ``--torch-sgd`` / ``--optax-sgd``."""
    p.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                   help="a parameter of the method beyond lr (eta) and momentum (beta), e.g. nu=0.7 "
                        "(repeatable; checked against the range the method declares)")
    if conventions:
        p.add_argument("--torch-sgd", metavar="SPEC",
                       help="the method, lr and momentum of torch.optim.SGD, e.g. "
                            "lr=0.1,momentum=0.9,dampening=0,nesterov=true (instead of --method/--lr/--momentum)")
        p.add_argument("--optax-sgd", metavar="SPEC",
                       help="the same for optax.sgd, e.g. learning_rate=0.1,momentum=0.9,nesterov=false")


def parse_params(items) -> dict:
    """``['nu=0.7', 'gamma=1/3']`` -> ``{'nu': '0.7', 'gamma': '1/3'}`` (values parsed by the method)."""
    out = {}
    for item in items or []:
        if "=" not in str(item):
            raise InputError("param", f"malformed {item!r} (use NAME=VALUE)")
        k, v = (t.strip() for t in str(item).split("=", 1))
        if not k or not v:
            raise InputError("param", f"malformed {item!r} (use NAME=VALUE)")
        if k in out:
            raise InputError("param", f"{k} given twice")
        if k in ("eta", "beta"):
            raise InputError("param", f"{k} is given by --{'lr' if k == 'eta' else 'momentum'}, not --param")
        out[k] = v
    return out


def bind_method(method, params: dict | None = None, momentum=None) -> Method:
    """The method with ``params`` (and its defaults for the rest) substituted, checked against ranges.

    After binding only eta and beta may remain free (the numeric routes take them as lr and momentum);
    ``momentum`` (a number or None) is refused for a method without beta unless it is 0.
    """
    m = get_method(method)
    params = dict(params or {})
    for k in params:
        if k not in m.parameters:
            raise InputError("param", f"method {m.name} has no parameter {k!r} "
                                      f"(its parameters: {', '.join(m.parameters) or 'none'})")
    m = m.bind(**params).with_defaults()
    missing = [p for p in m.extra_parameters]
    if missing:
        raise InputError("param", f"method {m.name} needs a value for {', '.join(missing)} "
                                  f"(--param {missing[0]}=VALUE)")
    if momentum is not None and "beta" not in m.parameters:
        from ..theory.parse_number import parse_fraction
        if parse_fraction(str(momentum), "momentum") != 0:
            raise InputError("momentum", f"method {m.name} has no momentum parameter beta "
                                         f"(its parameters: {', '.join(m.parameters) or 'none'})")
    return m


def resolve_method(args, text=None) -> Method:
    """The method of a command: ``--torch-sgd`` / ``--optax-sgd`` (which also set ``args.lr`` and
    ``args.momentum``), or ``--method`` (name or file, or ``text``) bound with ``--param``; the step and
    momentum are checked against the method's declared ranges."""
    conv = [(k, getattr(args, f"{k}_sgd", None)) for k in ("torch", "optax")]
    conv = [(k, v) for k, v in conv if v is not None]
    if conv:
        from ..numerics.conventions import from_spec
        if len(conv) > 1:
            raise InputError("torch-sgd", "give one of --torch-sgd and --optax-sgd")
        kind, spec = conv[0]
        if getattr(args, "method", None) is not None or getattr(args, "param", None):
            raise InputError(f"{kind}-sgd", "replaces --method and --param: give one or the other")
        if getattr(args, "lr", None) is not None or str(getattr(args, "momentum", "0") or "0") != "0":
            raise InputError(f"{kind}-sgd", "sets lr and momentum itself: drop --lr / --momentum")
        mapped = from_spec(kind, spec)
        args.lr, args.momentum = str(mapped.lr), str(mapped.momentum)
        return mapped.method
    name = text if text is not None else getattr(args, "method", None)
    if name is None:
        raise InputError("method", f"required ({METHOD_HELP}; or --torch-sgd / --optax-sgd)")
    if hasattr(args, "lr") and getattr(args, "lr", None) is None:
        raise InputError("lr", "required (the step size eta > 0)")
    m = bind_method(name, parse_params(getattr(args, "param", None)), getattr(args, "momentum", None))
    check_point(m, getattr(args, "lr", None), getattr(args, "momentum", None))
    return m


def check_point(method: Method, lr=None, momentum=None):
    """lr and momentum (texts or numbers) against the method's declared ranges of eta and beta."""
    for key, name, val in (("lr", "eta", lr), ("momentum", "beta", momentum)):
        if val is None or name not in method.parameters:
            continue
        if not method.in_range(name, str(val) if not isinstance(val, str) else val, key):
            r = method.range(name)
            raise InputError(key, f"must lie in {r} (the range of {name} in method {method.name}), got {val}")


def resolve_methods(args, text: str) -> list[Method]:
    """A comma list of method names or files, each bound with ``--param`` where it has the parameter."""
    from .parsing import parse_list
    params = parse_params(getattr(args, "param", None))
    out = []
    for name in parse_list(text, lambda t, p: t, "method"):
        m = get_method(name)
        mine = {k: v for k, v in params.items() if k in m.parameters}
        out.append(bind_method(m, mine))
    used = {k for m in out for k in dict(m.bound)}
    unused = sorted(set(params) - used)
    if unused:
        raise InputError("param", f"no listed method has a parameter {unused[0]!r}")
    return list({m.name: m for m in out}.values())


def formula_method(args) -> Method:
    """The method of ``formula``: ``--method`` with the ``--param`` values given (others stay symbolic)."""
    m = get_method(args.method)
    params = parse_params(getattr(args, "param", None))
    for k in params:
        m.range(k)                     # an unknown name is an error naming it
    return m.bind(**params)
