"""The L-BFGS-GSS comparison harness on the engine: the same runs as on a module forward, one trainer.

``comparison.run_network`` and ``comparison.first_line_search`` evaluate the network through one
:class:`lls_core.engine.Engine`; these tests hold them against the module-forward runs they replaced
(``run_optimizer`` on ``models.loss(net, x, y)``) and L-BFGS-GSS against the study trainer.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lls_core import comparison, data, models, params, train
from lls_core.engine import Engine
from lls_core.lbfgs_gss import COMPARED_OPTIMIZERS, golden_section_search, run_optimizer, two_loop_direction

# The chapter's settings (notebooks/lbfgs_gss.md): BGD and Adam learning rates on FCP, the variant's options.
LR = {"L-BFGS-GSS": None, "L-BFGS": None, "BGD": 0.2, "Adam": 0.003}
CASES = [(n, None) for n in COMPARED_OPTIMIZERS] + [
    ("L-BFGS-GSS", {"mode": "authors"}),
    ("L-BFGS-GSS", {"initial_step": 1.0, "line_search_budget": 2}),
]


@pytest.fixture(scope="module")
def digits(mnist_5k):
    return mnist_5k.x_train[:400], mnist_5k.y_train[:400]


def _module_run(name, x, y, n, options=None, dtype=torch.float32):
    """The harness as it was: the optimizer on the module's parameters, the loss a module forward."""
    net = models.build("fcp", seed=0).to(dtype)
    xs = x.to(dtype)
    return run_optimizer(name, list(net.parameters()), lambda: models.loss(net, xs, y), n, lr=LR[name], options=options)


def _assert_same_run(new, old, rtol):
    np.testing.assert_array_equal(new.gradient_evaluations, old.gradient_evaluations)
    np.testing.assert_array_equal(new.forward_evaluations, old.forward_evaluations)
    np.testing.assert_allclose(new.loss, old.loss, rtol=rtol)
    np.testing.assert_allclose(new.step_length, old.step_length, rtol=100 * rtol, atol=1e-12)
    np.testing.assert_allclose(new.step_ratio, old.step_ratio, rtol=100 * rtol, atol=1e-12)


@pytest.mark.parametrize("name,options", CASES)
def test_engine_run_equals_the_module_run_in_float64(digits, name, options):
    # In float64 rounding cannot steer the line searches apart: the engine run is the module run,
    # iterate for iterate and evaluation for evaluation, for every compared optimizer.
    x, y = digits
    n = 8
    old = _module_run(name, x, y, n, options, torch.float64)
    net = models.build("fcp", seed=0).double()
    w = params.flatten(net).requires_grad_(True)
    new = run_optimizer(name, [w], Engine(net, (x.double(), y)), n, lr=LR[name], options=options)
    assert new.iterations == old.iterations == n
    _assert_same_run(new, old, rtol=1e-10)
    ref = models.build("fcp", seed=0).double()
    torch.nn.utils.vector_to_parameters(w.detach(), ref.parameters())  # the final weights, written back in place
    with torch.no_grad():
        assert float(models.loss(ref, x.double(), y)) == pytest.approx(new.loss[-1], rel=1e-10)
    if name == "L-BFGS-GSS":
        assert new.diagnostics.counts() == old.diagnostics.counts()
        assert new.diagnostics.mode == (options or {}).get("mode", "safe")


@pytest.mark.parametrize("name,options", [c for c in CASES if c[0] != "L-BFGS"])
def test_run_network_equals_the_module_run(digits, name, options):
    # What the chapter calls (float32). Torch's L-BFGS is left to the float64 test: its strong-Wolfe
    # interpolation divides loss differences of order 1e-3 by small steps, so a rounding difference
    # of 1e-7 in a trial loss moves its next trial visibly (measured: 1e-3 in the loss after one iteration).
    x, y = digits
    n = 6
    old = _module_run(name, x, y, n, options)
    new = comparison.run_network(name, "fcp", 0, x, y, n, lr=LR[name], options=options)
    _assert_same_run(new, old, rtol=2e-5)


def test_run_network_takes_no_module_forward(digits, monkeypatch):
    x, y = digits

    def refuse(self, *args, **kwargs):
        raise AssertionError("a module forward in the engine harness")

    monkeypatch.setattr(models.FCP, "forward", refuse)
    for name in COMPARED_OPTIMIZERS:
        tr = comparison.run_network(name, "fcp", 0, x, y, 2, lr=LR[name])
        assert tr.iterations == 2 and np.isfinite(tr.loss).all()
    fl = comparison.first_line_search(models.build("fcp", seed=0), x, y, grid=5)
    assert fl.loss_grid.shape == (5,)
    with pytest.raises(AssertionError, match="module forward"):  # the patch is live: the module route would fail
        _module_run("BGD", x, y, 1)


@pytest.mark.parametrize("mode", ["safe", "authors"])
def test_lbfgs_gss_network_run_is_the_study_trainers_run(digits, mode):
    # One trainer: the harness's L-BFGS-GSS run and train.train's full-batch run are the same code,
    # so they reach the same weights bit for bit and record the same losses.
    x, y = digits
    n = 5
    res = train.train("fcp", train.LBFGSGSSConfig(iterations=n, variant=mode), data.Dataset("t", x, y, x[:50], y[:50]),
                      seed=0, device="cpu")
    net = models.build("fcp", seed=0)
    w = params.flatten(net).requires_grad_(True)
    tr = run_optimizer("L-BFGS-GSS", [w], Engine(net, (x, y)), n, options={"mode": mode})
    assert torch.equal(w.detach(), res.w_final)
    np.testing.assert_allclose(tr.loss, res.train_loss.numpy(), rtol=1e-6)
    assert tr.diagnostics.counts() == res.counts


def test_first_line_search_grid_equals_a_module_forward_grid(digits):
    x, y = digits
    model = models.build("fcp", seed=0)
    fl = comparison.first_line_search(model, x, y, first_trial=0.2, budget=6, tol=1e-4)
    # The same line from the module: loss and gradient by autograd, points by a module forward.
    w0 = params.flatten(model).requires_grad_(True)
    loss0 = models.loss(model, x, y, params.unflatten(model, w0))
    (g0,) = torch.autograd.grad(loss0, w0)
    loss0 = loss0.detach()
    u = -two_loop_direction(g0, [], []) / g0.norm()
    base = w0.detach()

    def phi(t):
        with torch.no_grad():
            return float(models.loss(model, x, y, params.unflatten(model, base + t * u)))

    assert fl.loss0 == pytest.approx(float(loss0), rel=1e-6)
    assert fl.gradient_norm == pytest.approx(float(g0.norm()), rel=1e-5)
    np.testing.assert_allclose(fl.loss_grid, [phi(t) for t in fl.t_grid], rtol=2e-6)
    ref = golden_section_search(phi, f0=float(loss0), initial_step=0.2 * float(g0.norm()), budget=6, tol=1e-4)
    assert fl.search.evaluations == ref.evaluations and fl.search.decreased == ref.decreased
    np.testing.assert_allclose([t for t, _ in fl.search.trials], [t for t, _ in ref.trials], rtol=1e-5)
    np.testing.assert_allclose([v for _, v in fl.search.trials], [v for _, v in ref.trials], rtol=2e-6)
    assert fl.t_grid[-1] == pytest.approx(1.15 * max(t for t, _ in fl.search.trials))


def test_engine_run_bad_input(digits):
    x, y = digits
    net = models.build("fcp", seed=0)
    eng = Engine(net, (x, y))
    w = params.flatten(net).requires_grad_(True)
    with pytest.raises(ValueError, match=r"one flat float weight vector of shape \(42200,\)"):
        run_optimizer("BGD", list(net.parameters()), eng, 1)
    with pytest.raises(ValueError, match=r"shape \(42200,\)"):
        run_optimizer("BGD", [w[:10].detach().requires_grad_(True)], eng, 1)
    with pytest.raises(TypeError, match="surface"):
        run_optimizer("BGD", [torch.zeros(2, requires_grad=True)], Engine(lambda P: (P**2).sum(-1)), 1)
    with pytest.raises(TypeError, match="loss closure or an Engine"):
        run_optimizer("BGD", [w], 3.0, 1)
    with pytest.raises(ValueError, match="grid=1"):
        comparison.first_line_search(net, x, y, grid=1)


def test_engine_keeps_small_losses_as_the_module_does(mnist_5k):
    # Near convergence (the end of the chapter's runs) the loss is 1e-7 or less. The engine's cross-entropy
    # must keep it as F.cross_entropy does: logsumexp(z) - z[y] in float32 rounded it to the spacing of
    # floats near the largest logit (about 4e-6 here), which made such losses 0 or several times too small.
    x = mnist_5k.x_train[:2000]
    net = models.build("fcp", seed=0)
    w = params.flatten(net)
    w[-500:] *= 400  # confident logits (up to about 50)
    p = params.unflatten(net, w)
    with torch.no_grad():
        logits = torch.func.functional_call(net, p, (x,))
        top = logits.topk(2, 1).values
        keep = (top[:, 0] - top[:, 1] > 14) & (top[:, 0] - top[:, 1] < 20)  # per-item losses 1e-6 .. 1e-9
        xs, ys = x[keep], logits[keep].argmax(1)
        module = float(models.loss(net, xs, ys, p))
        exact = float(torch.nn.functional.cross_entropy(logits[keep].double(), ys))
    assert keep.sum() >= 20 and 1e-8 < exact < 1e-5
    assert module == pytest.approx(exact, rel=0.05)
    eng = Engine(net, (xs, ys))
    L, _, _ = eng.losses_and_grads(w[None])
    for value in (float(eng.losses(w[None])[0]), float(L[0])):  # the trial kernel and the gradient kernel
        assert value == pytest.approx(module, rel=0.02)
    from lls_core import batched

    rows = batched.cross_entropy_rows(logits[keep], ys)
    np.testing.assert_allclose(rows.numpy(), torch.nn.functional.cross_entropy(logits[keep], ys, reduction="none").numpy(),
                               rtol=0, atol=2.5e-7)
