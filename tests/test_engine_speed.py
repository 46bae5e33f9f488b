"""The engine's fast paths (lls_core.engine / lls_core.batched): each equals the plain route it replaces."""

import pytest
import torch

from lls_core import batched, engine, models, params


def _problem(arch: str, n: int = 24, R: int = 3, activation: str | None = None):
    m = models.build(arch, seed=0, activation=activation)
    g = torch.Generator().manual_seed(5)
    x, y = torch.rand(n, 1, 28, 28, generator=g), torch.randint(0, 10, (n,), generator=g)
    W = torch.stack([params.flatten(models.build(arch, seed=s, activation=activation)) for s in range(R)])
    return m, x, y, W, g


@pytest.mark.parametrize("arch,activation", [("fcp", None), ("fcp", "softplus"), ("autoencoder", None)])
def test_gradients_from_a_known_first_stage_equal_the_full_pass(arch, activation):
    """FCP/ReLU: backward written out; others: autograd above the first layer plus dL/dZ^T X."""
    m, x, y, W, _ = _problem(arch, activation=activation)
    eng = engine.Engine(m, (x, y))
    L, G, Z = eng.losses_and_grads(W, keep_first=True)
    L2, G2 = eng.losses_and_grads_at_first(W, Z)
    torch.testing.assert_close(L2, L, rtol=1e-5, atol=1e-7)
    torch.testing.assert_close(G2, G, rtol=1e-4, atol=1e-7)
    # rows of a larger cache, not consecutive
    big = torch.cat([torch.zeros_like(Z[:1]), Z.flip(0)])
    L3, G3 = eng.losses_and_grads_at_first(W, big, rows=[3, 2, 1])
    torch.testing.assert_close(G3, G, rtol=1e-4, atol=1e-7)
    # chunked over runs and data: the same
    small = engine.Engine(m, (x, y), memory_mb=engine.graph_bytes_per_item(m, (x, y)) * 30 / 2**20)
    torch.testing.assert_close(small.losses_and_grads_at_first(W, Z)[1], G, rtol=1e-4, atol=1e-7)


def test_gradients_from_a_first_stage_are_refused_where_the_first_layer_is_not_factored():
    m, x, y, W, _ = _problem("lenet")
    eng = engine.Engine(m, (x, y))
    with pytest.raises(TypeError, match="factored first layer"):
        eng.losses_and_grads_at_first(W, torch.zeros(3, 24, 6, 28, 28))
    fcp, x, y, W, _ = _problem("fcp")
    with pytest.raises(ValueError, match="N=24"):
        engine.Engine(fcp, (x, y)).losses_and_grads_at_first(W, torch.zeros(3, 5, 50))


def test_fcp_kernels_equal_the_batched_forward_and_autograd():
    m, x, y, W, _ = _problem("fcp", R=4)
    p = params.unflatten(m, W)
    z = batched.first_stage(m, W, x)
    want = batched.mean_losses(m, batched.outputs(m, W, x), x, y)
    torch.testing.assert_close(batched.fcp_losses_from_first(m, p, z.clone(), y), want, rtol=1e-5, atol=1e-7)
    leaf = W.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(batched.losses(m, leaf, x, y).sum(), leaf)
    out = torch.full((5, W.shape[1]), 7.0)  # rows 1..4 receive the gradient, row 0 is left alone
    L, G = batched.fcp_grads_from_first(m, p, z, x, y, 0.5, grad_out=out[1:])
    assert G.data_ptr() == out[1:].data_ptr() and bool((out[0] == 7.0).all())
    torch.testing.assert_close(L, 0.5 * want, rtol=1e-5, atol=1e-7)
    torch.testing.assert_close(G, 0.5 * g, rtol=1e-4, atol=1e-7)
    soft = models.build("fcp", activation="softplus")
    with pytest.raises(ValueError, match="softplus"):
        batched.fcp_grads_from_first(soft, p, z, x, y)


@pytest.mark.parametrize("arch", models.ARCHITECTURES)
def test_minibatch_gradients_equal_autograd_of_the_minibatch_losses(arch):
    m, x, y, W, g = _problem(arch, n=8)
    xr = torch.rand(3, 5, 1, 28, 28, generator=g)
    yr = torch.randint(0, 10, (3, 5), generator=g)
    eng = engine.Engine(m, (x, y))
    leaf = W.clone().requires_grad_(True)
    Lw = eng.minibatch_losses(leaf, xr, yr)
    (Gw,) = torch.autograd.grad(Lw.sum(), leaf)
    buf = torch.zeros(4, W.shape[1])
    L, G = eng.minibatch_losses_and_grads(W, xr, yr, grad_out=buf[1:])
    assert G.data_ptr() == buf[1:].data_ptr() and not W.requires_grad
    torch.testing.assert_close(L, Lw.detach(), rtol=1e-5, atol=1e-7)
    torch.testing.assert_close(G, Gw, rtol=1e-4, atol=1e-7)
    torch.testing.assert_close(eng.minibatch_losses_and_grads(W, xr, yr)[1], Gw, rtol=1e-4, atol=1e-7)


@pytest.mark.parametrize("arch", models.ARCHITECTURES)
def test_first_stages_written_into_rows_and_line_points(arch):
    m, x, y, W, g = _problem(arch, R=4)
    eng = engine.Engine(m, (x, y))
    Z = engine.first_stage_all(eng, W)
    torch.testing.assert_close(Z, batched.first_stage(m, W, x), rtol=1e-5, atol=1e-6)
    out = torch.zeros(6, *Z.shape[1:])
    engine.first_stage_all(eng, W[[2, 0]], out=out, rows=[5, 1])
    torch.testing.assert_close(out[[5, 1]], Z[[2, 0]], rtol=1e-5, atol=1e-6)  # (matmul blocking: not bitwise)
    assert not out[[0, 2, 3, 4]].any()
    with pytest.raises(ValueError, match="one output row per row"):
        engine.first_stage_all(eng, W, out=out, rows=[0])
    D = engine.first_stage_all(eng, torch.randn(W.shape, generator=g))
    got = engine.line_points(Z, D, [3, 1], [0.5, -2.0], 2, 7)
    torch.testing.assert_close(got, torch.stack([Z[3, 2:7] + 0.5 * D[3, 2:7], Z[1, 2:7] - 2.0 * D[1, 2:7]]))


def test_an_accepted_trial_point_reuses_its_first_stage_as_the_next_anchor(monkeypatch):
    """Anchors: a new anchor on its line gets Z0 + a ZD (no first-layer forward), and equals a fresh gradient."""
    m, x, y, W, g = _problem("fcp")
    eng = engine.Engine(m, (x, y))
    anc = engine.Anchors(eng, 3, W.shape[1])
    anc.grads([0, 1, 2], W)
    D = 0.05 * torch.randn(W.shape, generator=g)
    anc.values([0, 1, 2], W + D)  # new directions
    trial = W + 0.7 * D
    anc.values([0, 1, 2], trial)  # on the lines
    calls = []
    real = eng.losses_and_grads
    monkeypatch.setattr(eng, "losses_and_grads", lambda *a, **k: calls.append(len(a[0])) or real(*a, **k))
    moved = trial.clone()
    moved[2] += 0.01 * torch.randn(W.shape[1], generator=g)  # run 2 leaves its line: a fresh pass
    L, G = anc.grads([0, 1, 2], moved)
    assert anc.reused == [1, 1, 0] and calls == [1]
    L_ref, G_ref, Z_ref = real(moved, keep_first=True)
    torch.testing.assert_close(L, L_ref, rtol=1e-5, atol=1e-7)
    torch.testing.assert_close(G, G_ref, rtol=1e-4, atol=1e-7)
    torch.testing.assert_close(anc.Z0, Z_ref, rtol=1e-5, atol=1e-5)
    # after ANCHOR_REFRESH reuses in a row, the first stage is computed afresh
    monkeypatch.setattr(engine, "ANCHOR_REFRESH", 1)
    anc.values([0], (moved[0] + D[0])[None])
    anc.grads([0], (moved[0] + D[0])[None])
    assert anc.reused[0] == 0 and calls == [1, 1]


def test_gather_items_is_advanced_indexing():
    g = torch.Generator().manual_seed(1)
    x, y = torch.rand(10, 1, 28, 28, generator=g), torch.randint(0, 10, (10,), generator=g)
    idx = torch.randint(0, 10, (3, 4), generator=g)
    assert torch.equal(engine.gather_items(x, idx), x[idx]) and torch.equal(engine.gather_items(y, idx), y[idx])
