"""The engine (lls_core.engine): R weight vectors on shared data, against one-at-a-time references."""

import pytest
import torch

from lls_core import engine, models, params


def _problem(arch: str, n: int = 24, R: int = 3):
    m = models.build(arch, seed=0)
    g = torch.Generator().manual_seed(5)
    x, y = torch.rand(n, 1, 28, 28, generator=g), torch.randint(0, 10, (n,), generator=g)
    W = torch.stack([params.flatten(models.build(arch, seed=s)) for s in range(R)])
    return m, x, y, W, g


def _reference(m, W, x, y):
    """Loss and gradient of each row alone, through the module's own forward."""
    L, G = [], []
    for w in W:
        leaf = w.clone().requires_grad_(True)
        v = models.loss(m, x, y, params.unflatten(m, leaf))
        (g,) = torch.autograd.grad(v, leaf)
        L.append(v.detach())
        G.append(g)
    return torch.stack(L), torch.stack(G)


@pytest.mark.parametrize("arch", models.ARCHITECTURES)
@pytest.mark.parametrize("chunked", [False, True])  # one call; calls of ~30 (run x item) pairs
def test_losses_and_per_run_gradients_equal_one_at_a_time(arch, chunked):
    m, x, y, W, _ = _problem(arch)
    memory_mb = engine.graph_bytes_per_item(m, (x, y)) * 30 / 2**20 if chunked else None
    eng = engine.Engine(m, (x, y), memory_mb=memory_mb)
    L_ref, G_ref = _reference(m, W, x, y)
    L, G, Z = eng.losses_and_grads(W, keep_first=True)
    torch.testing.assert_close(L, L_ref, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(G, G_ref, rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(eng.losses(W), L_ref, rtol=1e-5, atol=1e-6)
    assert Z is not None and Z.shape[:2] == (W.shape[0], x.shape[0])
    if memory_mb is not None:
        cp, cd = eng.chunk_sizes(W.shape[0])
        assert cp * cd < W.shape[0] * x.shape[0]  # really chunked


@pytest.mark.parametrize("arch", models.ARCHITECTURES)
def test_lines_and_anchored_trials_equal_direct_evaluation(arch):
    """A trial along a line (first stage mixed from the anchor's and the direction's) equals a full forward."""
    m, x, y, W, g = _problem(arch)
    D = 0.05 * torch.randn(W.shape, generator=g)
    a = torch.tensor([0.3, -1.0, 2.0])
    direct = torch.stack([models.loss(m, x, y, params.unflatten(m, W[i] + a[i] * D[i])).detach() for i in range(3)])
    eng = engine.Engine(m, (x, y))
    lines = eng.lines(W, D)
    assert lines.cached
    torch.testing.assert_close(lines.losses(a), direct, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(lines.losses(a[[2]], torch.tensor([2])), direct[[2]], rtol=1e-5, atol=1e-6)
    # Anchors read the line from the points: anchor, first trial (new direction), later trials on it.
    anc = engine.Anchors(eng, 3, W.shape[1])
    assert anc.cacheable
    anc.grads([0, 1, 2], W)
    first = anc.values([0, 1, 2], W + D)
    later = anc.values([1, 2], torch.stack([W[i] + a[i] * D[i] for i in (1, 2)]))
    off = anc.values([0], (W[0] + D[0].flip(0))[None])  # off the line: a new direction, still exact
    torch.testing.assert_close(later, direct[1:], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(first, eng.losses(W + D), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(off, eng.losses((W[0] + D[0].flip(0))[None]), rtol=1e-5, atol=1e-6)
    assert anc.factored_trials == anc.trials == 6


@pytest.mark.parametrize("arch", models.ARCHITECTURES)
def test_per_run_inputs_equal_functional_call(arch):
    m, x, y, W, g = _problem(arch, n=8)
    xr = torch.rand(3, 5, 1, 28, 28, generator=g)
    yr = torch.randint(0, 10, (3, 5), generator=g)
    got = engine.Engine(m, (x, y)).minibatch_losses(W, xr, yr)
    want = torch.stack([models.loss(m, xr[i], yr[i], params.unflatten(m, W[i])) for i in range(3)])
    torch.testing.assert_close(got, want.detach(), rtol=1e-5, atol=1e-6)


def test_affine_family_and_surface():
    m, x, y, W, g = _problem("fcp")
    eng = engine.Engine(m, (x, y))
    C = torch.rand(7, 3, generator=g)
    torch.testing.assert_close(eng.affine_losses(C, W), eng.losses(C @ W), rtol=1e-5, atol=1e-6)
    surf = engine.Engine(lambda P: (P**2).sum(1))
    torch.testing.assert_close(surf.losses(torch.ones(4, 2)), torch.full((4,), 2.0))


def test_bad_input_is_refused():
    m, x, y, W, _ = _problem("fcp")
    with pytest.raises(ValueError, match="batched='yes'"):
        engine.Engine(m, (x, y), batched="yes")
    with pytest.raises(ValueError, match="memory_mb=-1"):
        engine.Engine(m, (x, y), memory_mb=-1)
    with pytest.raises(ValueError, match="needs data"):
        engine.Engine(m)
    with pytest.raises(ValueError, match=r"must both be \(R, d\)"):
        engine.Engine(m, (x, y)).lines(W, W[:2])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_equals_cpu():
    m, x, y, W, _ = _problem("lenet")
    L, G, _ = engine.Engine(m, (x, y)).losses_and_grads(W)
    Lc, Gc, _ = engine.Engine(m.cuda(), (x.cuda(), y.cuda())).losses_and_grads(W.cuda())
    torch.testing.assert_close(Lc.cpu(), L, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(Gc.cpu(), G, rtol=1e-3, atol=1e-5)
