"""Hand-batched forward passes of the study networks (lls_core.batched) and the fast slices built on them."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch.func import functional_call

from lls_core import batched, hessian, models, params, visualize


def _problem(arch: str, n: int = 10):
    m = models.build(arch, seed=0).eval()
    g = torch.Generator().manual_seed(3)
    x, y = torch.rand(n, 1, 28, 28, generator=g), torch.randint(0, 10, (n,), generator=g)
    return m, x, y, params.flatten(m), g


@pytest.mark.parametrize("arch", models.ARCHITECTURES)
def test_outputs_equal_functional_call_at_every_row(arch):
    m, x, _, w, g = _problem(arch)
    W = w + 0.05 * torch.randn(3, w.numel(), generator=g)
    out = batched.outputs(m, W, x)
    for i in range(3):
        want = functional_call(m, params.unflatten(m, W[i]), (x,))
        torch.testing.assert_close(out[i].reshape(want.shape), want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("arch", models.ARCHITECTURES)
def test_factored_first_stage_equals_direct(arch):
    """W = C @ V: the first stage mixed from the basis rows gives the same losses as running it at W."""
    m, x, y, w, g = _problem(arch)
    V = torch.stack([w, 0.1 * torch.randn(w.shape, generator=g), 0.1 * torch.randn(w.shape, generator=g)])
    C = torch.cat([torch.ones(7, 1), torch.rand(7, 2, generator=g) * 2 - 1], dim=1)
    direct = batched.affine_losses(m, C, V, x, y, factor=False)
    factored = batched.affine_losses(m, C, V, x, y)
    torch.testing.assert_close(factored, direct, rtol=1e-5, atol=1e-6)
    Z = batched.first_stage(m, V, x)
    assert Z.shape[:2] == (3, x.shape[0])
    torch.testing.assert_close(batched.affine_losses(m, C[:2], V, x, y, Z=Z), direct[:2], rtol=1e-5, atol=1e-6)
    for i in (0, 6):
        assert float(direct[i]) == pytest.approx(float(models.loss(m, x, y, params.unflatten(m, C[i] @ V))), rel=1e-5)


@pytest.mark.parametrize("arch", models.ARCHITECTURES)
def test_fast_slice_equals_point_by_point_slice(arch):
    """The hand-batched 2-D slice (factored first layer, chunked over points and data)
    equals the point-by-point loop and the vmap route, for each study network."""
    m, x, y, w, _ = _problem(arch, n=12)
    u = visualize.random_direction(m, w, seed=1, bias_bn="filter")
    v = visualize.random_direction(m, w, seed=2)
    alphas, betas = np.linspace(-1, 1, 5), np.linspace(-0.5, 0.5, 4)
    loop = visualize.slice_2d(hessian.flat_loss(m, x, y), w, u, v, alphas, betas, batched=False)
    for data_chunk, chunk in ((None, None), (5, 3)):  # one call; 3 data chunks x 7 point chunks
        f = hessian.flat_loss(m, x, y, data_chunk=data_chunk)
        fast = visualize.slice_2d(f, w, u, v, alphas, betas, chunk_size=chunk)
        np.testing.assert_allclose(fast.loss, loop.loss, rtol=2e-5, atol=1e-6)
    if arch != "lstm":  # vmap has no batching rule for aten::lstm
        vm = visualize.slice_2d(hessian.flat_loss(m, x, y), w, u, v, alphas, betas, batched="vmap", chunk_size=8)
        np.testing.assert_allclose(vm.loss, loop.loss, rtol=2e-5, atol=1e-6)
    assert loop.loss[0, 4] == pytest.approx(float(models.loss(m, x, y, params.unflatten(m, w + u - 0.5 * v))), rel=1e-5)
    W = w + torch.linspace(-1, 1, 6)[:, None] * u
    torch.testing.assert_close(
        visualize.losses_at(hessian.flat_loss(m, x, y, data_chunk=5), W, chunk_size=4),
        visualize.losses_at(hessian.flat_loss(m, x, y), W, batched=False),
        rtol=2e-5, atol=1e-6,
    )


def test_pooling_with_and_without_autograd_is_the_average_pool():
    h = torch.randn(3, 2, 6, 28, 28, generator=torch.Generator().manual_seed(0))
    want = F.avg_pool2d(h.flatten(0, 1), 2).reshape(3, 2, 6, 14, 14)
    with torch.no_grad():
        torch.testing.assert_close(batched._avg_pool2(h), want)
    torch.testing.assert_close(batched._avg_pool2(h), want)


def test_other_modules_are_refused_and_bad_options_named():
    mlp = models.build_demo("mlp", depth=1, width=4)
    assert not batched.supports(mlp)
    with pytest.raises(TypeError, match="DemoMLP"):
        batched.outputs(mlp, params.flatten(mlp)[None], torch.rand(2, 1, 28, 28, generator=torch.Generator().manual_seed(0)))
    m, x, y, w, _ = _problem("fcp", n=4)
    f = hessian.flat_loss(m, x, y)
    with pytest.raises(ValueError, match="batched='fast'"):
        visualize.losses_at(f, w[None], batched="fast")
    with pytest.raises(ValueError, match="chunk_size=0"):
        visualize.slice_1d(f, w, w, [0.0, 1.0], chunk_size=0)


def test_sigmoid_mse_equals_autograd_through_the_plain_formula():
    """The fused autoencoder loss against F.mse_loss of the sigmoid, value and gradient (float64, weighted sum)."""
    g = torch.Generator().manual_seed(3)
    z = torch.randn(3, 20, 784, dtype=torch.float64, generator=g, requires_grad=True)
    t = torch.rand(20, 1, 28, 28, dtype=torch.float64, generator=g)
    w = torch.randn(3, dtype=torch.float64, generator=g)
    fused = batched.sigmoid_mse(z, t)
    (gf,) = torch.autograd.grad((fused * w).sum(), z)
    plain = torch.stack([F.mse_loss(z[b].sigmoid().reshape(20, 1, 28, 28), t) for b in range(3)])
    (gp,) = torch.autograd.grad((plain * w).sum(), z)
    torch.testing.assert_close(fused, plain, rtol=1e-12, atol=0)
    torch.testing.assert_close(gf, gp, rtol=1e-10, atol=1e-18)
    with torch.no_grad():  # no gradient asked: the same value
        torch.testing.assert_close(batched.sigmoid_mse(z, t), plain.detach(), rtol=1e-12, atol=0)


def test_autoencoder_forward_losses_equal_the_model_loss():
    m = models.build("autoencoder", seed=0)
    g = torch.Generator().manual_seed(4)
    x = torch.rand(4000, 1, 28, 28, generator=g)  # as many images as a full-profile evaluation: float32 sums drift
    W = torch.stack([params.flatten(models.build("autoencoder", seed=s)) for s in range(3)])
    got = batched.losses(m, W, x, torch.zeros(4000, dtype=torch.long))
    want = torch.stack([models.loss(m, x.double(), None, {k: v.double() for k, v in params.unflatten(m, w).items()})
                        for w in W]).float()  # float64 reference
    torch.testing.assert_close(got, want, rtol=2e-6, atol=0)
