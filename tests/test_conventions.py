"""PyTorch and optax conventions mapped onto triples, checked against a transcription of
torch.optim.SGD's update rule (and against torch itself where it is installed)."""
import numpy as np
import pytest
import sympy as sp

from momentum_verify.numerics.conventions import from_spec, from_torch, optax_sgd, torch_sgd
from momentum_verify.numerics.operators import method_arrays
from momentum_verify.theory.errors import InputError
from momentum_verify.verify.cli import main


def torch_sgd_transcribed(p0, grads_of, steps, lr, momentum=0.0, dampening=0.0, nesterov=False):
    """torch.optim.SGD's single-tensor update (torch/optim/sgd.py, _single_tensor_sgd), weight_decay = 0:

        buf = clone(grad) at the first step, else buf = momentum buf + (1 - dampening) grad
        grad = grad + momentum buf if nesterov else buf
        param -= lr grad
    """
    p, buf, out = p0.copy(), None, [p0.copy()]
    for k in range(steps):
        g = grads_of(k, p)
        if momentum != 0:
            buf = g.copy() if buf is None else momentum * buf + (1 - dampening) * g
            g = g + momentum * buf if nesterov else buf
        p = p - lr * g
        out.append(p.copy())
    return np.array(out)


def triple_run(method, lr, momentum, grads_of, z0, steps, output="first"):
    """z+ = (A ⊗ I) z + (b ⊗ I) G y,  y = (c^T ⊗ I) z; returns x_k (first block) or y_k (the output)."""
    A, b, c = method_arrays(method, lr, momentum)
    z = [v.copy() for v in z0]
    pick = (lambda z: z[0]) if output == "first" else (lambda z: sum(ci * zi for ci, zi in zip(c, z)))
    out = [pick(z)]
    for k in range(steps):
        y = sum(ci * zi for ci, zi in zip(c, z))
        u = grads_of(k, y)
        z = [sum(A[a, j] * z[j] for j in range(len(z))) + b[a] * u for a in range(len(z))]
        out.append(pick(z))
    return np.array(out)


@pytest.fixture
def problem():
    """A stochastic quadratic with interpolation: grad f_i(x) = a_i a_i^T x (x* = 0), indices fixed in advance."""
    rng = np.random.default_rng(11)
    X = rng.standard_normal((20, 4))
    idx = rng.integers(0, 20, size=60)
    return (lambda k, x: X[idx[k]] * (X[idx[k]] @ x)), rng.standard_normal(4)


def test_plain_momentum_is_heavy_ball(problem):
    grads, p0 = problem
    m = torch_sgd(lr=0.05, momentum=0.9)
    assert m.method.name == "heavy-ball" and (m.lr, m.momentum) == (sp.Rational(1, 20), sp.Rational(9, 10))
    want = torch_sgd_transcribed(p0, grads, 60, 0.05, 0.9)
    got = triple_run(m.method, m.lr, m.momentum, grads, [p0, p0], 60)
    np.testing.assert_allclose(got, want, rtol=1e-11, atol=1e-13)


def test_nesterov_stores_the_look_ahead_point(problem):
    grads, p0 = problem
    m = torch_sgd(lr=0.05, momentum=0.8, nesterov=True)
    assert m.method.name == "nesterov" and "look-ahead" in m.stored
    want = torch_sgd_transcribed(p0, grads, 60, 0.05, 0.8, nesterov=True)
    got = triple_run(m.method, m.lr, m.momentum, grads, [p0, p0], 60, output="y")
    np.testing.assert_allclose(got, want, rtol=1e-11, atol=1e-13)
    # planted: the first block x_k is not what torch stores
    x = triple_run(m.method, m.lr, m.momentum, grads, [p0, p0], 60)
    assert not np.allclose(x[1:], want[1:], rtol=1e-6)


def test_dampening_rescales_the_step_after_the_undamped_first_step(problem):
    grads, p0 = problem
    lr, mom, tau = 0.05, 0.9, 0.3
    m = torch_sgd(lr=lr, momentum=mom, dampening=tau)
    assert m.method.name == "heavy-ball" and m.lr == sp.Rational(1, 20) * (1 - sp.Rational(3, 10))
    assert "first step" in m.note
    want = torch_sgd_transcribed(p0, grads, 60, lr, mom, dampening=tau)
    # from z_1 = (x_1, x_0) on, torch is exactly heavy ball with step lr (1 - tau): only the constant differs
    shifted = lambda k, x: grads(k + 1, x)            # noqa: E731
    got = triple_run(m.method, m.lr, m.momentum, shifted, [want[1], want[0]], 59)
    np.testing.assert_allclose(got, want[1:], rtol=1e-11, atol=1e-13)
    # planted: the undamped step size does not reproduce it
    wrong = triple_run("heavy-ball", lr, mom, shifted, [want[1], want[0]], 59)
    assert not np.allclose(wrong, want[1:], rtol=1e-6)


def test_no_momentum_is_sgd_and_optax_matches_torch():
    assert torch_sgd(lr=0.1).method.name == "sgd"
    assert optax_sgd(0.1).method.name == "sgd"
    for nest in (False, True):
        a, b = optax_sgd(0.1, 0.9, nest), torch_sgd(lr=0.1, momentum=0.9, nesterov=nest)
        assert (a.method, a.lr, a.momentum) == (b.method, b.lr, b.momentum)


class SGD:
    """A stand-in with torch.optim.SGD's param_groups (duck typing: no torch needed)."""

    def __init__(self, **group):
        self.param_groups = [dict({"params": [], "momentum": 0, "dampening": 0, "weight_decay": 0,
                                   "nesterov": False, "maximize": False, "foreach": None,
                                   "differentiable": False, "fused": None}, **group)]


class Adam(SGD):
    pass


def test_from_torch_reads_param_groups():
    m = from_torch(SGD(lr=0.1, momentum=0.9, nesterov=True))
    assert (m.method.name, m.lr, m.momentum) == ("nesterov", sp.Rational(1, 10), sp.Rational(9, 10))
    opt = SGD(lr=0.1, momentum=0.9)
    opt.param_groups.append(dict(opt.param_groups[0], lr=0.2))
    with pytest.raises(InputError, match="^group: "):
        from_torch(opt)
    assert from_torch(opt, group=1).lr == sp.Rational(1, 5)


@pytest.mark.parametrize("make, key", [
    (lambda: from_torch(Adam(lr=0.1)), "optimizer"),
    (lambda: from_torch(object()), "optimizer"),
    (lambda: from_torch(SGD(lr=0.1, weight_decay=1e-4)), "weight_decay"),
    (lambda: from_torch(SGD(lr=0.1, momentum=0.9, dampening=0.1, nesterov=True)), "nesterov"),
    (lambda: torch_sgd(lr=0), "lr"),
    (lambda: torch_sgd(lr=0.1, momentum=1), "momentum"),
    (lambda: from_spec("torch", "lr=0.1,momentun=0.9"), "torch-sgd.momentun"),
    (lambda: from_spec("torch", "momentum=0.9"), "torch-sgd.lr"),
    (lambda: from_spec("optax", "learning_rate=0.1,nesterov=maybe"), "nesterov"),
])
def test_bad_settings_name_the_key(make, key):
    with pytest.raises(InputError) as err:
        make()
    assert str(err.value).startswith(f"{key}: ")


def test_cli_torch_sgd_gives_the_mapped_rate(capsys):
    base = ["rate", "--spectrum", "1,2,4", "--batch", "4"]
    assert main(base + ["--torch-sgd", "lr=0.1,momentum=0.9,nesterov=true"]) == 0
    a = capsys.readouterr().out
    assert main(base + ["--method", "nesterov", "--lr", "0.1", "--momentum", "0.9"]) == 0
    b = capsys.readouterr().out
    assert a == b
    assert main(base + ["--torch-sgd", "lr=0.1,momentum=0.9", "--lr", "0.1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "error: torch-sgd: " in err
    assert main(base + ["--optax-sgd", "learning_rate=0.1,momentum=0.9"]) == 0
    c = capsys.readouterr().out
    assert main(base + ["--method", "heavy-ball", "--lr", "0.1", "--momentum", "0.9"]) == 0
    assert c == capsys.readouterr().out


def test_real_torch_sgd_if_installed(problem):
    """Optional: a real torch.optim.SGD run against the mapped triple (skipped without torch)."""
    torch = pytest.importorskip("torch")
    grads, p0 = problem
    for kw in ({"momentum": 0.9}, {"momentum": 0.8, "nesterov": True}, {"momentum": 0.9, "dampening": 0.3}):
        p = torch.tensor(p0, dtype=torch.float64, requires_grad=True)
        opt = torch.optim.SGD([p], lr=0.05, **kw)
        traj = [p0.copy()]
        for k in range(40):
            opt.zero_grad()
            p.grad = torch.tensor(grads(k, p.detach().numpy()), dtype=torch.float64)
            opt.step()
            traj.append(p.detach().numpy().copy())
        traj = np.array(traj)
        m = from_torch(opt)
        if kw.get("dampening"):
            got = triple_run(m.method, m.lr, m.momentum, lambda k, x: grads(k + 1, x), [traj[1], traj[0]], 39)
            np.testing.assert_allclose(got, traj[1:], rtol=1e-10, atol=1e-12)
        else:
            got = triple_run(m.method, m.lr, m.momentum, grads, [p0, p0], 40,
                             output="y" if kw.get("nesterov") else "first")
            np.testing.assert_allclose(got, traj, rtol=1e-10, atol=1e-12)
