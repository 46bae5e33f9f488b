"""Filter-normalized directions, batched slices, PCA, MDS, linear paths and the demo nets."""

import numpy as np
import pytest
import torch

from lls_core import hessian, models, params, visualize


@pytest.fixture(scope="module")
def lenet_problem():
    m = models.build("lenet", seed=0).eval()
    g = torch.Generator().manual_seed(0)
    x = torch.rand(12, 1, 28, 28, generator=g)
    y = torch.randint(0, 10, (12,), generator=g)
    return m, x, y, hessian.flat_loss(m, x, y), params.flatten(m)


def test_filter_normalization_matches_each_filter_norm(lenet_problem):
    m, _, _, _, w = lenet_problem
    d = visualize.random_direction(m, w, seed=4)
    for gd, gw, (name, shape) in zip(visualize.group_norms(m, d), visualize.group_norms(m, w), params.shapes(m)):
        if len(shape) >= 2:  # per conv filter / per neuron row
            assert gd.shape == (shape[0],)
            torch.testing.assert_close(gd, gw, rtol=1e-5, atol=1e-7)
        else:  # biases zeroed by default
            assert float(gd) == 0.0, name


def test_bias_option_and_other_norms(lenet_problem):
    m, _, _, _, w = lenet_problem
    d = visualize.random_direction(m, w, seed=4, bias_bn="filter")
    for gd, gw, (_, shape) in zip(visualize.group_norms(m, d), visualize.group_norms(m, w), params.shapes(m)):
        torch.testing.assert_close(gd, gw, rtol=1e-5, atol=1e-7)
    d = visualize.random_direction(m, w, seed=4, norm="layer")
    for (_, t), (_, s) in zip(params.unflatten(m, d).items(), params.unflatten(m, w).items()):
        if t.ndim >= 2:
            assert float(t.norm()) == pytest.approx(float(s.norm()), rel=1e-5)
    raw = visualize.random_direction(m, w, seed=4, norm="none")
    assert float(raw.std()) == pytest.approx(1.0, rel=0.02)
    assert torch.equal(raw, visualize.random_direction(m, w, seed=4, norm="none"))
    assert not torch.equal(raw, visualize.random_direction(m, w, seed=5, norm="none"))


def test_filter_normalized_slice_is_invariant_to_rescaling_a_relu_layer():
    """With ReLU, scaling layer 1 by c and layer 2 by 1/c leaves the function unchanged; so does
    the filter-normalized slice (the point of Li et al.'s normalization), but not a raw one."""
    m = models.build_demo("mlp", depth=2, width=8, seed=1).eval()
    g = torch.Generator().manual_seed(0)
    x, y = torch.rand(16, 1, 28, 28, generator=g), torch.randint(0, 10, (16,), generator=g)
    f = hessian.flat_loss(m, x, y)
    w = params.flatten(m)
    p = {k: v.clone() for k, v in params.unflatten(m, w).items()}
    p["hidden.0.weight"] *= 10.0
    p["hidden.0.bias"] *= 10.0
    p["hidden.1.weight"] /= 10.0
    w2 = torch.cat([v.reshape(-1) for v in p.values()])
    assert float(f(w2)) == pytest.approx(float(f(w)), rel=1e-5)
    alphas = np.linspace(-1, 1, 5)
    s1 = visualize.slice_1d(f, w, visualize.random_direction(m, w, seed=2), alphas)
    s2 = visualize.slice_1d(f, w2, visualize.random_direction(m, w2, seed=2), alphas)
    np.testing.assert_allclose(s1.loss, s2.loss, rtol=1e-4)
    r1 = visualize.slice_1d(f, w, visualize.random_direction(m, w, seed=2, norm="none"), alphas)
    r2 = visualize.slice_1d(f, w2, visualize.random_direction(m, w2, seed=2, norm="none"), alphas)
    assert np.max(np.abs(r1.loss - r2.loss)) > 1e-2


def test_batched_slice_equals_pointwise_slice(lenet_problem):
    m, _, _, f, w = lenet_problem
    u = visualize.random_direction(m, w, seed=1)
    v = visualize.random_direction(m, w, seed=2)
    grid = np.linspace(-1, 1, 5)
    a = visualize.slice_2d(f, w, u, v, grid, np.linspace(-0.5, 0.5, 4), chunk_size=3)
    b = visualize.slice_2d(f, w, u, v, grid, np.linspace(-0.5, 0.5, 4), batched=False)
    assert a.loss.shape == (4, 5)
    np.testing.assert_allclose(a.loss, b.loss, rtol=1e-5)
    # and each point equals a direct evaluation
    assert a.loss[0, 4] == pytest.approx(float(f(w + 1.0 * u - 0.5 * v)), rel=1e-5)
    s = visualize.slice_1d(f, w, u, grid)
    np.testing.assert_allclose(s.loss, a.loss[0] * 0 + [float(f(w + t * u)) for t in grid], rtol=1e-5)


def test_nonconvex_fraction_of_known_surfaces():
    g = np.linspace(-1, 1, 21)
    A, B = np.meshgrid(g, g)
    bowl = visualize.Slice2D(g, g, A**2 + 2 * B**2)
    saddle = visualize.Slice2D(g, g, A**2 - B**2)
    assert visualize.nonconvex_fraction(bowl) == 0.0
    assert visualize.nonconvex_fraction(saddle) == 1.0
    egg = visualize.Slice2D(g, g, np.cos(6 * A) + np.cos(6 * B))
    assert 0.2 < visualize.nonconvex_fraction(egg) < 1.0


def test_trajectory_pca_recovers_a_planar_path():
    d = 50
    e1, e2 = torch.zeros(d), torch.zeros(d)
    e1[3], e2[7] = 1.0, 1.0
    t = torch.linspace(0, 1, 30)
    traj = 5.0 + (1 - t)[:, None] * 3 * e1 + torch.sin(3 * t)[:, None] * e2
    res = visualize.trajectory_pca(traj)
    assert res.coords.shape == (30, 2)
    np.testing.assert_allclose(res.coords[-1], 0.0, atol=1e-12)
    assert res.explained.sum() == pytest.approx(1.0, abs=1e-9)
    # the plane of the two directions is span(e1, e2)
    P = res.directions.double()
    np.testing.assert_allclose((P @ P.T).numpy(), np.eye(2), atol=1e-10)
    assert float(P[:, [3, 7]].norm()) == pytest.approx(np.sqrt(2), abs=1e-8)


def test_mds_preserves_distances_of_planar_points():
    rng = np.random.default_rng(0)
    pts2 = rng.normal(size=(8, 2))
    Q, _ = np.linalg.qr(rng.normal(size=(30, 2)))
    W = torch.from_numpy(pts2 @ Q.T)
    emb = visualize.mds(W)
    D2 = np.linalg.norm(emb.coords[:, None] - emb.coords[None], axis=2)
    np.testing.assert_allclose(D2, emb.distances, atol=1e-3 * emb.distances.max())


def test_linear_path_and_chord_barrier():
    def f(w):  # a ring of minima at |w| = 1
        return (1 - (w**2).sum()) ** 2

    a, b = torch.tensor([1.0, 0.0]), torch.tensor([-1.0, 0.0])
    p = visualize.linear_path(f, a, b, 11)
    assert p.loss[0] == pytest.approx(0.0) and p.loss[-1] == pytest.approx(0.0)
    assert p.chord_barrier == pytest.approx(1.0)  # the centre of the ring, loss (1 - 0)^2
    q = visualize.linear_path(f, a, torch.tensor([0.0, 1.0]), 11)
    assert 0 < q.chord_barrier < p.chord_barrier


@pytest.mark.parametrize("kw", [dict(name="mlp", depth=3, width=16), dict(name="mlp", batch_norm=True),
                                dict(name="resnet", skip=False), dict(name="resnet", batch_norm=True, blocks=1)])
def test_demo_nets_train_and_slice(kw):
    m = models.build_demo(**kw, seed=0)
    w0 = params.flatten(m)
    g = torch.Generator().manual_seed(0)
    x, y = torch.rand(64, 1, 28, 28, generator=g), torch.randint(0, 10, (64,), generator=g)
    res = visualize.train_demo(m, x, y, epochs=3, batch_size=16, lr=0.05, momentum=0.9, record_every=2)
    assert res.trajectory.shape == (1 + -(-res.steps // 2), params.num_params(m))
    assert torch.equal(res.trajectory[0], w0) and torch.equal(res.trajectory[-1], res.w)
    assert res.epoch_loss[-1] < res.epoch_loss[0]
    assert not m.training
    f = hessian.flat_loss(m, x, y)
    u = visualize.random_direction(m, res.w, seed=0)
    s = visualize.slice_2d(f, res.w, u, visualize.random_direction(m, res.w, seed=1), np.linspace(-1, 1, 3))
    assert s.center_loss == pytest.approx(float(f(res.w)), rel=1e-5)


def test_skip_switch_keeps_the_parameter_count():
    a, b = models.build_demo("resnet", skip=True), models.build_demo("resnet", skip=False)
    assert params.num_params(a) == params.num_params(b)
    assert torch.equal(params.flatten(a), params.flatten(b))
    x = torch.rand(2, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    assert not torch.allclose(a(x), b(x))


def test_bad_inputs_raise_clear_errors(lenet_problem):
    m, _, _, f, w = lenet_problem
    with pytest.raises(ValueError, match="unknown norm 'unit'"):
        visualize.random_direction(m, w, norm="unit")
    with pytest.raises(ValueError, match="unknown bias_bn 'keep'"):
        visualize.random_direction(m, w, bias_bn="keep")
    with pytest.raises(ValueError, match="unknown demo architecture 'vgg'"):
        models.build_demo("vgg")
    with pytest.raises(ValueError, match="depth=0"):
        models.build_demo("mlp", depth=0)
    with pytest.raises(ValueError, match="alphas"):
        visualize.slice_1d(f, w, w, [0.0])
    with pytest.raises(ValueError, match="chunk_size=0"):
        visualize.losses_at(f, w[None], chunk_size=0)
    with pytest.raises(ValueError, match="trajectory"):
        visualize.trajectory_pca(w[None])
    with pytest.raises(ValueError, match="lr=-1"):
        visualize.train_demo(m, torch.rand(4, 1, 28, 28, generator=torch.Generator().manual_seed(0)), torch.zeros(4, dtype=torch.long), lr=-1)


def _digits(n=120, seed=0):
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 10
    x = 0.3 * torch.rand(n, 1, 28, 28, generator=g)
    x[torch.arange(n), 0, 2 * y, :] += 1.0  # one bright row per class: learnable quickly
    return x, y


def test_train_stops_at_the_target_training_loss():
    x, y = _digits()
    m = models.build_demo("mlp", depth=1, width=16, seed=0)
    res = visualize.train_demo(m, x, y, epochs=200, batch_size=20, lr=0.05, momentum=0.9, target_loss=0.3, check_every=1)
    assert res.reached and res.train_loss <= 0.3 and res.target_loss == 0.3
    assert res.train_loss == pytest.approx(visualize.full_loss(m, x, y), rel=1e-6)
    assert len(res.epoch_loss) < 200
    # checked every step: one step fewer would not have reached it
    m2 = models.build_demo("mlp", depth=1, width=16, seed=0)
    before = visualize.train_demo(m2, x, y, epochs=200, batch_size=20, lr=0.05, momentum=0.9, target_loss=0.3,
                             check_every=res.steps - 1 if res.steps > 1 else 1)
    assert before.steps >= res.steps
    facts = res.facts()
    assert facts["steps"] == res.steps and facts["reached"] == 1.0
    # an unreachable target uses the whole budget and says so
    m3 = models.build_demo("mlp", depth=1, width=16, seed=0)
    miss = visualize.train_demo(m3, x, y, epochs=2, batch_size=20, lr=0.05, target_loss=1e-6)
    assert not miss.reached and len(miss.epoch_loss) == 2 and miss.steps == 12
    # no target: unchanged behaviour, reached is True, target nan
    m4 = models.build_demo("mlp", depth=1, width=16, seed=0)
    plain = visualize.train_demo(m4, x, y, epochs=2, batch_size=20, lr=0.05)
    assert plain.reached and np.isnan(plain.target_loss) and plain.steps == 12


def test_train_thins_the_trajectory_to_max_points():
    x, y = _digits(60)
    m = models.build_demo("mlp", depth=1, width=8, seed=0)
    w0 = params.flatten(m)
    res = visualize.train_demo(m, x, y, epochs=10, batch_size=6, lr=0.05, record_every=1, max_points=8)
    assert res.steps == 100
    assert 8 <= res.trajectory.shape[0] <= 2 * 8 + 1
    assert torch.equal(res.trajectory[0], w0) and torch.equal(res.trajectory[-1], res.w)
    # the kept snapshots are evenly spaced: replaying with that interval gives the same points
    m2 = models.build_demo("mlp", depth=1, width=8, seed=0)
    every = 100 // (res.trajectory.shape[0] - 1) if 100 % (res.trajectory.shape[0] - 1) == 0 else None
    if every:
        ref = visualize.train_demo(m2, x, y, epochs=10, batch_size=6, lr=0.05, record_every=every)
        torch.testing.assert_close(ref.trajectory, res.trajectory)
    with pytest.raises(ValueError, match="max_points=1"):
        visualize.train_demo(m, x, y, record_every=1, max_points=1)
    with pytest.raises(ValueError, match="target_loss=-1"):
        visualize.train_demo(m, x, y, target_loss=-1)


def test_curvature_map_equals_the_exact_hessian_eigenvalues():
    def f(w):  # Hessian diag(-cos w_i) + 0.5 * 11^T
        return torch.cos(w).sum() + 0.25 * w.sum() ** 2

    w = torch.tensor([0.1, 1.0, 2.0, 3.0, -0.5], dtype=torch.float64)
    u = torch.tensor([1.0, 0.0, 0.0, 0.0, 0.0], dtype=torch.float64)
    v = torch.tensor([0.0, 0.0, 0.5, 0.0, 0.5], dtype=torch.float64)
    grid = np.linspace(-1, 1, 3)
    m = visualize.curvature_map(f, w, u, v, grid, np.array([-0.5, 0.5]), iters=5)
    assert m.lam_min.shape == (2, 3)
    for i, b in enumerate([-0.5, 0.5]):
        for j, a in enumerate(grid):
            p = (w + a * u + b * v).numpy()
            ev = np.linalg.eigvalsh(np.diag(-np.cos(p)) + 0.5 * np.ones((5, 5)))
            assert m.lam_min[i, j] == pytest.approx(ev.min(), abs=1e-8)
            assert m.lam_max[i, j] == pytest.approx(ev.max(), abs=1e-8)
    np.testing.assert_allclose(m.ratio, np.abs(m.lam_min / m.lam_max))
    assert set(m.facts()) >= {"ratio_median", "ratio_max", "center_lam_min", "center_lam_max"}
    with pytest.raises(ValueError, match="iters=1"):
        visualize.curvature_map(f, w, u, v, grid, iters=1)
    with pytest.raises(ValueError, match="u has shape"):
        visualize.curvature_map(f, w, u[:3], v, grid)


@pytest.mark.parametrize("method", visualize.EMBEDDINGS)
def test_embed_trajectories_keeps_each_path_and_separates_distinct_ones(method):
    rng = np.random.default_rng(0)
    d = 40
    t = np.linspace(0, 1, 15)[:, None]
    e1, e2 = rng.normal(size=d), rng.normal(size=d)
    a = torch.from_numpy(t * 10 * e1)  # two paths leaving the origin in different directions
    b = torch.from_numpy(t * 10 * e2 + 0.01 * rng.normal(size=(15, d)))
    emb = visualize.embed_trajectories([a, b], method=method, seed=0)
    assert emb.method == method and [c.shape for c in emb.coords] == [(15, 2), (15, 2)]
    assert np.all(np.isfinite(np.concatenate(emb.coords)))
    # the two end points are further apart than two neighbouring points of one path
    ca, cb = emb.coords
    assert np.linalg.norm(ca[-1] - cb[-1]) > np.linalg.norm(ca[-1] - ca[-2])
    again = visualize.embed_trajectories([a, b], method=method, seed=0)
    np.testing.assert_allclose(np.concatenate(again.coords), np.concatenate(emb.coords))
    if method == "mds":
        assert 0 <= emb.stress < 0.2
    else:
        assert np.isnan(emb.stress)
    assert emb.facts()["points"] == 30


def test_embed_trajectories_rejects_bad_input():
    a = torch.zeros(5, 3)
    with pytest.raises(ValueError, match="unknown method 'tsne'"):
        visualize.embed_trajectories([a], method="tsne")
    with pytest.raises(ValueError, match="trajectory 1 has shape"):
        visualize.embed_trajectories([a, torch.zeros(5, 4)])
    with pytest.raises(ValueError, match="empty"):
        visualize.embed_trajectories([])


def test_plots_with_colour_bars():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    g = np.linspace(-1, 1, 5)
    A, B = np.meshgrid(g, g)
    fig, ax = plt.subplots()
    visualize.plot_slice(ax, visualize.Slice2D(g, g, 1 + A**2 + B**2), colorbar=True)
    assert len(fig.axes) == 2 and "log₁₀" in fig.axes[1].get_ylabel()
    ticks = fig.axes[1].get_yticks()  # round values inside the bar, not the contour levels
    z = np.log10(1 + A**2 + B**2)
    assert len(ticks) <= 6 and ticks.min() >= z.min() - 1e-9 and ticks.max() <= z.max() + 1e-9
    assert all(abs(t * 20 - round(t * 20)) < 1e-9 for t in ticks)
    m = visualize.CurvatureMap(g, g, -0.1 * np.ones((5, 5)), np.ones((5, 5)), 5)
    fig2, ax2 = plt.subplots()
    visualize.plot_map(ax2, m, colorbar=True)
    assert len(fig2.axes) == 2
    plt.close("all")
