"""FourierPathFinder (Yu & Morozov 2026, Algorithm 2): batched vs point-by-point, toy landscape, invariants."""

import dataclasses
import math

import pytest
import torch

from lls_core import batched, models, params, pathfinder as pf
from lls_core import pathfinder

W1_TOY = torch.tensor([-0.62, -0.54], dtype=torch.float64)
W2_TOY = torch.tensor([0.49, -0.02], dtype=torch.float64)


def toy(p: torch.Tensor) -> torch.Tensor:
    """Yu & Morozov Figure 3 landscape (SPEC section 1), written out independently of lls_core.surfaces."""
    x, y = p[:, 0], p[:, 1]
    return (
        -torch.exp(-3 * ((x - 0.5) ** 2 + y**2))
        - torch.exp(-3 * ((x + 0.5) ** 2 + (y + 0.5) ** 2))
        + torch.exp(-15 * ((x + 0.2) ** 2 + (y + 0.4) ** 2))
        + torch.exp(-15 * (x**2 + (y - 0.3) ** 2))
        + 1.0190055296306975
    )


@pytest.fixture(scope="module")
def tiny(make_mlp, make_data):
    """A small MLP with biases: 6-5-3, softplus, float64."""
    m = make_mlp((6, 5, 3), "softplus", seed=0, dtype=torch.float64)
    x, y = make_data(40, 6, 3, seed=0, dtype=torch.float64)
    w1 = params.flatten(m)
    w2 = w1 + torch.randn(w1.shape, dtype=w1.dtype, generator=torch.Generator().manual_seed(1))
    return m, (x, y), w1, w2


def reference_objective(m, data, w1, w2, b, n_points, lam, curve="fourier"):
    """Eq. 4 written directly: a loop over points, plain module calls, autograd on b."""
    x, y = data
    b = b.detach().clone().requires_grad_(True)
    t = torch.linspace(0, 1, n_points, dtype=w1.dtype)
    pts = []
    for ti in t:
        if curve == "fourier":
            c = torch.sin(math.pi * ti * torch.arange(1, b.shape[0] + 1, dtype=w1.dtype))
        else:
            c = (2 * ti * (1 - ti)).reshape(1)
        if ti in (0.0, 1.0):
            c = torch.zeros_like(c)
        pts.append((1 - ti) * w1 + ti * w2 + c @ b)
    total = 0.0
    for p in pts:
        total = total + models.loss(m, x, y, params.unflatten(m, p))
    for p, q in zip(pts[:-1], pts[1:]):
        total = total + lam * ((q - p) ** 2).sum()
    total.backward()
    return float(total.detach()), b.grad


@pytest.mark.parametrize("curve", pf.CURVES)
def test_batched_equals_point_by_point_and_reference(tiny, curve):
    m, data, w1, w2 = tiny
    K = 4 if curve == "fourier" else 1
    b = 0.3 * torch.randn(K, w1.numel(), dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    kw = dict(data=data, n_points=9, lam=0.7, curve=curve)
    o1, g1, l1 = pf.objective_and_grad(m, w1, w2, b, batched=True, **kw)
    o2, g2, l2 = pf.objective_and_grad(m, w1, w2, b, batched=False, **kw)
    o3, g3 = reference_objective(m, data, w1, w2, b, 9, 0.7, curve)
    assert o1 == pytest.approx(o2, rel=1e-12) and o1 == pytest.approx(o3, rel=1e-12)
    torch.testing.assert_close(g1, g2, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(g1, g3, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(l1, l2, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("arch", models.ARCHITECTURES)
def test_batched_equals_point_by_point_study_networks(arch):
    """Each study network in float32: the hand-batched forward (with the factored first
    layer where there is one) gives the loop's objective and gradient to float tolerance."""
    m = models.build(arch, seed=0)
    g = torch.Generator().manual_seed(0)
    x, y = torch.rand(16, 1, 28, 28, generator=g), torch.randint(0, 10, (16,), generator=g)
    w1, w2 = params.flatten(m), params.flatten(models.build(arch, seed=1))
    b = 0.01 * torch.randn(3, w1.numel(), generator=g)
    kw = dict(data=(x, y), n_points=12, lam=0.5)  # 10 interior points > 5 basis rows: factored first layer
    o1, g1, l1 = pf.objective_and_grad(m, w1, w2, b, batched=True, **kw)
    o2, g2, l2 = pf.objective_and_grad(m, w1, w2, b, batched=False, **kw)
    assert pf.BATCHED_FORWARD.get(type(m)) is not None
    assert o1 == pytest.approx(o2, rel=1e-5)
    torch.testing.assert_close(l1, l2, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(g1, g2, rtol=1e-3, atol=1e-5)


def test_vmap_path_equals_loop_for_other_modules(tiny):
    """A module without a hand-batched forward goes through vmap over functional_call."""
    m, data, w1, w2 = tiny
    b = 0.2 * torch.randn(2, w1.numel(), dtype=torch.float64, generator=torch.Generator().manual_seed(5))
    o1, g1, _ = pf.objective_and_grad(m, w1, w2, b, data=data, n_points=6, batched="vmap")
    o2, g2, _ = pf.objective_and_grad(m, w1, w2, b, data=data, n_points=6, batched=False)
    assert o1 == pytest.approx(o2, rel=1e-12)
    torch.testing.assert_close(g1, g2, rtol=1e-10, atol=1e-12)


def test_chunking_does_not_change_results(tiny):
    m, data, w1, w2 = tiny
    kw = dict(data=data, n_terms=3, n_points=9, lam=0.2, lr=1e-2, steps=3)
    a = pf.find_path(m, w1, w2, **kw)
    b = pf.find_path(m, w1, w2, chunk_points=2, chunk_data=7, **kw)
    # A bound that fits one point with about ten data items: chunks chosen from the measured graph size.
    per_item = pf.graph_bytes_per_item(m, data)
    c = pf.find_path(m, w1, w2, memory_mb=(10.5 * per_item + 2 * w1.numel() * 8) / 2**20, **kw)
    assert c.chunk_points == 1 and 5 <= c.chunk_data <= 15
    for r in (b, c):
        torch.testing.assert_close(a.b, r.b, rtol=1e-9, atol=1e-12)
        torch.testing.assert_close(a.losses, r.losses, rtol=1e-10, atol=1e-12)
        torch.testing.assert_close(a.objective, r.objective, rtol=1e-10, atol=1e-12)


def test_toy_path_is_well_below_straight_line():
    r = pf.find_path(toy, W1_TOY, W2_TOY, n_terms=15, n_points=101, lam=35.0, lr=1e-2, steps=300, grad_noise=1.0)
    assert r.linear_height > 1.0  # the straight line crosses the bump at (-0.2, -0.4)
    assert r.height < 0.8 * r.linear_height
    assert r.length > r.linear_length  # a detour
    # the reported losses are the landscape's values at the reported points
    torch.testing.assert_close(r.losses, toy(r.points))
    torch.testing.assert_close(r.linear_losses, toy(pf.path_points(W1_TOY, W2_TOY, torch.zeros_like(r.b), r.t)))
    assert r.objective.shape == (301,) and r.objective[r.best_step] == r.objective.min()


def test_zero_coefficients_are_linear_interpolation():
    r = pf.find_path(toy, W1_TOY, W2_TOY, n_terms=5, n_points=21, steps=0)
    t = torch.linspace(0, 1, 21, dtype=torch.float64)
    line = W1_TOY + t[:, None] * (W2_TOY - W1_TOY)
    assert torch.equal(r.b, torch.zeros(5, 2, dtype=torch.float64))
    torch.testing.assert_close(r.points, line, rtol=0, atol=1e-15)
    torch.testing.assert_close(r.losses, r.linear_losses)
    assert r.height == r.linear_height
    assert r.length == pytest.approx(float(torch.linalg.vector_norm(W2_TOY - W1_TOY)), rel=1e-12)


@pytest.mark.parametrize("curve", pf.CURVES)
def test_end_points_fixed_exactly(curve):
    g = torch.Generator().manual_seed(3)
    w1, w2 = torch.randn(7, generator=g), torch.randn(7, generator=g)
    b = 1e3 * torch.randn(12 if curve == "fourier" else 1, 7, generator=g)
    t = torch.linspace(0, 1, 33)
    pts = pf.path_points(w1, w2, b, t, curve=curve)
    assert torch.equal(pts[0], w1) and torch.equal(pts[-1], w2)
    r = pf.find_path(toy, W1_TOY, W2_TOY, curve=curve, n_terms=12, lr=0.1, steps=20, grad_noise=3.0)
    assert torch.equal(r.points[0], W1_TOY) and torch.equal(r.points[-1], W2_TOY)
    assert r.losses[0] == toy(W1_TOY[None])[0] and r.losses[-1] == toy(W2_TOY[None])[0]


def test_bezier_control_point_parametrisation():
    """b = 0 is the straight line; the curve is the quadratic Bezier with control (w1 + w2)/2 + b."""
    g = torch.Generator().manual_seed(4)
    w1, w2, b = torch.randn(5, generator=g, dtype=torch.float64), torch.randn(5, generator=g, dtype=torch.float64), torch.randn(1, 5, generator=g, dtype=torch.float64)
    t = torch.linspace(0, 1, 11, dtype=torch.float64)
    theta = (w1 + w2) / 2 + b[0]
    want = (1 - t)[:, None] ** 2 * w1 + 2 * (t * (1 - t))[:, None] * theta + t[:, None] ** 2 * w2
    torch.testing.assert_close(pf.path_points(w1, w2, b, t, curve="bezier"), want)


def test_lambda_trades_length_for_loss():
    kw = dict(n_terms=10, n_points=51, lr=1e-2, steps=150)
    short = pf.find_path(toy, W1_TOY, W2_TOY, lam=100.0, **kw)
    long = pf.find_path(toy, W1_TOY, W2_TOY, lam=0.1, **kw)
    assert long.length > short.length
    assert long.losses.sum() < short.losses.sum()


def test_module_result_matches_direct_evaluation(tiny):
    m, data, w1, w2 = tiny
    r = pf.find_path(m, w1, w2, data=data, n_terms=3, n_points=7, lam=0.1, lr=1e-2, steps=3, keep="last")
    want = torch.stack([models.loss(m, *data, params.unflatten(m, p)) for p in r.points])
    torch.testing.assert_close(r.losses, want)
    assert r.best_step == 3 and r.height == pytest.approx(float(want.max()), rel=1e-12)  # batched vs direct sums


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(w2=torch.zeros(3, dtype=torch.float64)), "differ in size: w1 has 2 entries, w2 has 3"),
        (dict(w1=torch.tensor([0.0, float("nan")], dtype=torch.float64)), r"w1 contains NaN or infinite values \(1 non-finite entries, first w1\[1\] = nan\)"),
        (dict(w2=torch.tensor([float("inf"), 0.0], dtype=torch.float64)), r"w2 contains NaN or infinite values \(1 non-finite"),
        (dict(w1=torch.zeros(1, 2, dtype=torch.float64)), r"w1 has shape \(1, 2\); expected a non-empty vector \(d,\)"),
        (dict(n_points=2), r"PathSettings.n_points=2 is out of range; expected an integer >= 3"),
        (dict(lam=-0.5), r"PathSettings.lam=-0.5 is out of range; expected a real number >= 0"),
        (dict(lr=0.0), r"PathSettings.lr=0.0 is out of range; expected a real number > 0"),
        (dict(lr=float("nan")), r"PathSettings.lr=nan is not finite"),
        (dict(n_terms=0), "PathSettings.n_terms=0"),
        (dict(steps=1.5), r"PathSettings.steps=1.5 is not an integer"),
        (dict(curve="spline"), "PathSettings.curve='spline' is not allowed; expected one of 'fourier', 'bezier'"),
        (dict(keep="first"), "PathSettings.keep='first'"),
        (dict(batched="yes"), "PathSettings.batched='yes'"),
        (dict(chunk_points=0), "PathSettings.chunk_points=0"),
        (dict(memory_mb=0.0), "PathSettings.memory_mb=0.0"),
        (dict(n_point=3), "unknown path setting 'n_point'; valid: n_terms, n_points"),
    ],
)
def test_bad_input_is_named(kwargs, match):
    args = dict(w1=W1_TOY, w2=W2_TOY)
    args.update(kwargs)
    w1, w2 = args.pop("w1"), args.pop("w2")
    with pytest.raises(ValueError, match=match):
        pf.find_path(toy, w1, w2, **args)


def test_module_size_mismatch_and_missing_data(tiny):
    m, data, w1, _ = tiny
    d = params.num_params(m)
    with pytest.raises(ValueError, match=f"end points have 5 entries but the module TinyMLP has d={d}"):
        pf.find_path(m, torch.zeros(5), torch.zeros(5), data=data)
    with pytest.raises(ValueError, match="needs data"):
        pf.find_path(m, w1, w1)
    with pytest.raises(ValueError, match="w1 is a list; expected a torch.Tensor"):
        pf.find_path(toy, [0.0, 1.0], W2_TOY)


def test_registry_toy_surface_is_a_landscape():
    """lls_core.surfaces' toy is the landscape above and plugs into find_path unchanged."""
    from lls_core import surfaces

    s = surfaces.get("toy")
    pts = torch.rand(20, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0)) * 2 - 1
    torch.testing.assert_close(s(pts), toy(pts))
    r = pf.find_path(s, W1_TOY, W2_TOY, n_terms=5, n_points=31, lam=35.0, lr=1e-2, steps=30)
    assert r.height < r.linear_height


def test_lenet_grouped_and_per_set_conv2_agree(monkeypatch):
    m = models.build("lenet", seed=0)
    g = torch.Generator().manual_seed(2)
    x = torch.rand(6, 1, 28, 28, generator=g)
    W = params.flatten(m) + 0.01 * torch.randn(4, params.num_params(m), generator=g)
    outs = []
    for grouped in (True, False):
        monkeypatch.setattr(batched, "LENET_GROUPED_CONV2", grouped)
        outs.append(pf.BATCHED_FORWARD[type(m)](m, params.unflatten(m, W), x))
    torch.testing.assert_close(outs[0], outs[1], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(outs[1][2], torch.func.functional_call(m, params.unflatten(m, W[2]), (x,)))


def test_toy_objective_squares_and_remeasure_gives_the_landscape_heights():
    from lls_core import surfaces

    toy = surfaces.get("toy")
    a = torch.tensor([-0.62, -0.54], dtype=torch.float64)
    z = torch.tensor([0.49, -0.02], dtype=torch.float64)
    sq = pathfinder.toy_objective(toy, "squared")
    pts = torch.randn(7, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(sq(pts), toy(pts) ** 2)
    assert pathfinder.toy_objective(toy, "plain") is toy
    with pytest.raises(ValueError, match="kind='cubed' is not allowed; expected one of 'squared', 'plain'"):
        pathfinder.toy_objective(toy, "cubed")  # type: ignore[arg-type]
    r = pathfinder.find_path(sq, a, z, n_terms=5, n_points=21, lam=pathfinder.TOY_LAMBDA, lr=0.01, steps=20)
    assert torch.allclose(r.losses, toy(r.points) ** 2)
    m = pathfinder.remeasure(r, toy)
    assert torch.allclose(m.losses, toy(r.points)) and m.height == pytest.approx(float(toy(r.points).max()))
    assert m.linear_height == pytest.approx(float(toy(pathfinder.path_points(a, z, torch.zeros_like(r.b), r.t)).max()))
    assert torch.equal(m.b, r.b) and torch.equal(m.objective, r.objective)


def test_network_lambda_default_is_the_authors():
    import inspect

    assert pathfinder.PathSettings().lam == pathfinder.NETWORK_LAMBDA == 1e-3
    assert inspect.signature(pathfinder.find_path).parameters["settings"].default is None  # None: PathSettings()


# ----------------------------------------------------------------------------- many pairs at once
def _pairs(w1, w2, gen):
    """Three pairs: an ordinary one, one whose end points coincide, one whose ends lie far apart."""
    far = w1 + 10.0 * torch.randn(w1.shape, generator=gen, dtype=w1.dtype)
    return torch.stack([w1, w2, w2]), torch.stack([w2, w2.clone(), far])


@pytest.mark.parametrize("noise", [0.0, 0.5])
def test_find_paths_equal_pairs_one_at_a_time(tiny, noise):
    m, data, w1, w2 = tiny
    S, E = _pairs(w1, w2, torch.Generator().manual_seed(3))
    kw = dict(data=data, n_terms=3, n_points=9, lam=0.3, lr=2e-2, steps=6, grad_noise=noise, seed=4)
    many = pf.find_paths(m, S, E, **kw)
    assert len(many) == 3 and many.b.shape == (3, 3, w1.numel()) and many.losses.shape == (3, 9)
    for k in range(3):
        alone = pf.find_path(m, S[k], E[k], **kw)
        one = many.path(k)
        torch.testing.assert_close(one.b, alone.b, rtol=1e-7, atol=1e-9)  # Adam: 1e-2 steps
        torch.testing.assert_close(one.losses, alone.losses, rtol=1e-10, atol=1e-12)
        torch.testing.assert_close(one.objective, alone.objective, rtol=1e-10, atol=1e-12)
        torch.testing.assert_close(one.heights, alone.heights, rtol=1e-10, atol=1e-12)
        assert one.best_step == alone.best_step
        assert one.height == pytest.approx(alone.height, rel=1e-10)
        assert one.length == pytest.approx(alone.length, rel=1e-10)
        torch.testing.assert_close(one.linear_losses, alone.linear_losses, rtol=1e-10, atol=1e-12)
    # the coincident pair: the straight line is one point, its losses constant
    assert float(many.linear_losses[1].max() - many.linear_losses[1].min()) < 1e-12
    # the pairs really moved, differently
    assert float(many.b[0].abs().max()) > 0 and not torch.allclose(many.b[0], many.b[2])


def test_find_paths_pair_loop_reference(tiny):
    """Independent of the engine: each pair's first objective and gradient from the plain-module loop."""
    m, data, w1, w2 = tiny
    S, E = _pairs(w1, w2, torch.Generator().manual_seed(7))
    b0 = 0.1 * torch.randn(3, 2, w1.numel(), dtype=torch.float64, generator=torch.Generator().manual_seed(8))
    res = pf.find_paths(m, S, E, data=data, n_terms=2, n_points=7, lam=0.9, lr=1e-3, steps=1, b0=b0, keep="last")
    for k in range(3):
        o, g = reference_objective(m, data, S[k], E[k], b0[k], 7, 0.9)
        assert float(res.objective[k, 0]) == pytest.approx(o, rel=1e-12)
        # Adam's first step moves every coordinate by lr * sign(gradient) (to within eps)
        step = res.b[k] - b0[k]
        big = g.abs() > 1e-6
        torch.testing.assert_close(step[big], -1e-3 * torch.sign(g[big]), rtol=1e-4, atol=1e-9)


@pytest.mark.parametrize("arch", ["fcp", "autoencoder", "lenet"])
def test_find_paths_study_networks_equal_alone(arch):
    """Study networks through the hand-batched kernels, factored first layer (FCP, autoencoder):
    batched pairs == pairs alone, also when one pair's points are split over calls.

    For the pair whose ends coincide the even terms have zero gradient in exact arithmetic
    (the path is symmetric in t <-> 1 - t and sin(2 k pi t) is not), so their coefficients
    follow Adam's normalised rounding noise and differ at the size of one step (lr) between
    any two ways of summing; for that pair the odd terms and the losses are compared."""
    g = torch.Generator().manual_seed(0)
    x, y = torch.rand(24, 1, 28, 28, generator=g, dtype=torch.float64), torch.randint(0, 10, (24,), generator=g)
    m = models.build(arch, seed=0).double()
    W = torch.stack([params.flatten(models.build(arch, seed=s)) for s in range(4)]).double()
    S, E = W[[0, 1, 2]], W[[1, 1, 3]]  # the middle pair's ends coincide
    kw = dict(data=(x, y), n_terms=3, n_points=10, lr=1e-3, steps=3, memory_mb=None)
    for extra in ({}, {"chunk_points": 5, "chunk_data": 10}):  # the second splits a pair's points over calls
        many = pf.find_paths(m, S, E, **kw, **extra)
        for k in range(3):
            alone = pf.find_path(m, S[k], E[k], **kw, **extra)
            if k == 1:
                torch.testing.assert_close(many.path(k).b[0::2], alone.b[0::2], rtol=1e-3, atol=1e-6)
                torch.testing.assert_close(many.path(k).losses, alone.losses, rtol=1e-3, atol=1e-6)
                continue
            torch.testing.assert_close(many.path(k).losses, alone.losses, rtol=1e-9, atol=1e-12)
            torch.testing.assert_close(many.path(k).b, alone.b, rtol=1e-6, atol=1e-9)  # steps are 1e-3
            torch.testing.assert_close(many.objective[k], alone.objective, rtol=1e-10, atol=1e-12)


def test_find_paths_bad_input_is_named(tiny):
    m, data, w1, w2 = tiny
    with pytest.raises(ValueError, match="same shape"):
        pf.find_paths(m, torch.stack([w1, w2]), w2[None], data=data)
    with pytest.raises(ValueError, match=r"starts has shape \(\d+,\); expected a matrix \(M, d\)"):
        pf.find_paths(m, w1, w2[None], data=data)
    bad = torch.stack([w1, w2]).clone()
    bad[1, 3] = float("nan")
    with pytest.raises(ValueError, match=r"ends contains NaN or infinite values \(1 non-finite entries, first ends\[1, 3\] = nan\)"):
        pf.find_paths(m, torch.stack([w1, w2]), bad, data=data)
    with pytest.raises(ValueError, match=r"b0 has shape \(2, \d+\); expected \(1, 2, \d+\)"):
        pf.find_paths(m, w1[None], w2[None], data=data, n_terms=2, b0=torch.zeros(2, w1.numel(), dtype=w1.dtype))
    with pytest.raises(IndexError, match="out of range"):
        pf.find_paths(m, w1[None], w2[None], data=data, steps=0, n_points=4).path(1)


def test_fine_grid_finds_a_peak_between_the_path_points():
    """A narrow bump on the straight line at t = 0.55, between the points t = 0.5 and 0.6 of an 11-point path."""
    w1, w2 = torch.tensor([0.0, 0.0], dtype=torch.float64), torch.tensor([1.0, 0.0], dtype=torch.float64)

    def bump(p):
        return torch.exp(-((p[:, 0] - 0.55) ** 2) / (2 * 0.01**2)) + 0.0 * p[:, 1]

    res = pf.find_paths(bump, w1[None], w2[None], n_terms=2, n_points=11, steps=0)
    assert float(res.height[0]) < 0.3  # the bump sits between the path's own points
    fg = pf.fine_grid(bump, res, n_points=401)
    assert float(fg.height[0]) == pytest.approx(1.0, abs=1e-6) and float(fg.max_t[0]) == pytest.approx(0.55)
    assert float(fg.understatement[0]) > 0.7 and float(fg.relative[0]) > 2
    # on the path's own grid the understatement is exactly zero
    own = pf.fine_grid(bump, res, n_points=11)
    assert float(own.understatement[0]) == 0.0
    assert set(fg.facts()) >= {"median_understatement", "max_understatement", "grid_points"}


def test_fine_grid_equals_direct_evaluation(tiny):
    m, data, w1, w2 = tiny
    S, E = _pairs(w1, w2, torch.Generator().manual_seed(2))
    res = pf.find_paths(m, S, E, data=data, n_terms=2, n_points=5, lr=1e-2, steps=3)
    fg = pf.fine_grid(m, res, data=data, n_points=21)
    assert fg.t.numel() == 21  # the 5 own points (0, .25, ...) lie on the 21-point grid
    assert bool((fg.understatement >= 0).all())
    for k in range(3):
        pts = pf.path_points(S[k], E[k], res.b[k], fg.t)
        direct = torch.stack([models.loss(m, *data, params.unflatten(m, p)) for p in pts])
        torch.testing.assert_close(fg.losses[k], direct, rtol=1e-10, atol=1e-12)
    import dataclasses

    wrong = dataclasses.replace(res, starts=torch.zeros(3, 3, dtype=torch.float64))
    with pytest.raises(ValueError, match="d=3"):
        pf.fine_grid(m, wrong, data=data)


def test_settings_object_and_keyword_form_are_one_search():
    """find_path(..., PathSettings(...)) and find_path(..., **keywords) run the same search; keywords
    replace fields of a given settings object; the result records the settings it ran with."""
    s = pf.PathSettings(n_terms=4, n_points=21, lam=pf.TOY_LAMBDA, lr=1e-2, steps=15, grad_noise=0.5, seed=3)
    a = pf.find_path(toy, W1_TOY, W2_TOY, s)
    b = pf.find_path(toy, W1_TOY, W2_TOY, n_terms=4, n_points=21, lam=pf.TOY_LAMBDA, lr=1e-2, steps=15,
                     grad_noise=0.5, seed=3)
    assert torch.equal(a.b, b.b) and torch.equal(a.objective, b.objective)
    assert a.settings == s == b.settings
    c = pf.find_path(toy, W1_TOY, W2_TOY, s, steps=0)
    assert c.settings == dataclasses.replace(s, steps=0) and c.height == c.linear_height
    assert pf.path_settings(s) is s and pf.path_settings(None) == pf.PathSettings()
    with pytest.raises(ValueError, match="settings is a dict; expected a PathSettings"):
        pf.find_path(toy, W1_TOY, W2_TOY, {"steps": 3})  # type: ignore[arg-type]
    with pytest.raises(KeyError, match="unknown path setting 'step'"):  # UnknownNameError is a KeyError too
        pf.find_path(toy, W1_TOY, W2_TOY, step=3)


def test_path_profiles_are_path_settings():
    from lls_core import landscape, topography

    for name, cfg in topography.PATH_PROFILES.items():
        assert isinstance(cfg, pf.PathSettings) and isinstance(cfg, landscape.PathConfig), name
    with pytest.raises(ValueError, match=r"PathConfig.n_data=0 is out of range"):
        landscape.PathConfig(n_data=0)
    with pytest.raises(ValueError, match=r"PathConfig.lr=-1.0 is out of range"):
        landscape.PathConfig(lr=-1.0)


def test_objective_takes_the_same_settings():
    b = 0.01 * torch.ones(3, 2, dtype=torch.float64)
    s = pf.PathSettings(n_points=11, lam=2.0)
    o1, g1, l1 = pf.objective_and_grad(toy, W1_TOY, W2_TOY, b, s)
    o2, g2, l2 = pf.objective_and_grad(toy, W1_TOY, W2_TOY, b, n_points=11, lam=2.0)
    assert o1 == o2 and torch.equal(g1, g2) and l1.shape == (11,)
    with pytest.raises(ValueError, match=r"b has shape \(3, 2\); expected \(1, 2\)"):
        pf.objective_and_grad(toy, W1_TOY, W2_TOY, b, s, curve="bezier")


def test_group_step_of_many_pairs_equals_each_pair_alone():
    """pathfinder.group_step (M paths at once) against objective_and_grad of each pair, end losses removed."""
    from lls_core import engine

    g = torch.Generator().manual_seed(11)
    m = models.build("fcp")
    x, y = torch.rand(40, 1, 28, 28, generator=g), torch.randint(0, 10, (40,), generator=g)
    W = torch.stack([params.flatten(models.build("fcp", seed=s)) for s in range(6)])
    ends = torch.stack([W[:3], W[3:]], 1)  # (3, 2, d)
    b = 1e-2 * torch.randn(3, 4, W.shape[1], generator=g)
    t = torch.linspace(0.0, 1.0, 7)
    obj, grad = pf.group_step(engine.Engine(m, (x, y)), t, ends, b, lam=1e-3)
    assert obj.shape == (3,) and grad.shape == b.shape
    for k in range(3):
        o, gk, losses = pf.objective_and_grad(m, ends[k, 0], ends[k, 1], b[k], data=(x, y), n_terms=4, n_points=7,
                                              lam=1e-3)
        assert float(obj[k]) == pytest.approx(o - float(losses[0]) - float(losses[-1]), rel=1e-5)
        torch.testing.assert_close(grad[k], gk, rtol=1e-4, atol=1e-7)


@pytest.mark.parametrize("arch", ["fcp", "autoencoder"])
@pytest.mark.parametrize("chunks", [(None, None), (3, 13), "blocks"])
def test_group_step_written_out_backward_equals_autograd_reference(arch, chunks, monkeypatch):
    """The path step of the networks with a factored first layer has its chain rule through
    W(b) written out (FCP: its whole backward; the autoencoder: autograd above the first layer
    only): in float64 its objective and gradient equal Eq. 4 written directly (reference_objective:
    module calls point by point, autograd on b) for pairs with different coefficients, whole,
    chunked over data and points (blocks of 3), or in blocks of two points; so do its losses without
    gradient."""
    from lls_core import engine

    if chunks == "blocks":  # blocks of 2 points (one block holds at most this much of first stages)
        H = 50 if arch == "fcp" else 32
        monkeypatch.setattr(engine, "GRAD_CALL_MB", 2 * 30 * H * 8 / 2**20)
        monkeypatch.setattr(engine, "TRIAL_CALL_MB", 2 * 30 * H * 8 / 2**20)
        chunks = (None, None)
    g = torch.Generator().manual_seed(5)
    m = models.build(arch).double()
    x, y = torch.rand(30, 1, 28, 28, generator=g, dtype=torch.float64), torch.randint(0, 10, (30,), generator=g)
    W = torch.stack([params.flatten(models.build(arch, seed=s)) for s in range(6)]).double()
    ends = torch.stack([W[:3], W[3:]], 1)  # (3, 2, d)
    b = torch.randn(3, 4, W.shape[1], generator=g, dtype=torch.float64)
    b *= torch.tensor([0.0, 1e-2, 5e-2], dtype=torch.float64)[:, None, None]  # straight line, small, larger bend
    t = torch.linspace(0.0, 1.0, 7, dtype=torch.float64)
    land = engine.Engine(m, (x, y))
    assert pf._written_out(land)
    obj, grad = pf.group_step(land, t, ends, b, lam=0.3, chunk_points=chunks[0], chunk_data=chunks[1])
    cache: dict = {}  # the end points' first stages kept from one step to the next, as find_paths does
    for _ in range(2):
        again = pf.group_step(land, t, ends, b, lam=0.3, chunk_points=chunks[0], chunk_data=chunks[1], ends_cache=cache)
        assert len(cache) > 0 and torch.equal(again[0], obj) and torch.equal(again[1], grad)
    for k in range(3):
        o, gk = reference_objective(m, (x, y), ends[k, 0], ends[k, 1], b[k], 7, 0.3)
        with torch.no_grad():
            o -= float(models.loss(m, x, y, params.unflatten(m, ends[k, 0])) + models.loss(m, x, y, params.unflatten(m, ends[k, 1])))
        assert float(obj[k]) == pytest.approx(o, rel=1e-11)
        torch.testing.assert_close(grad[k], gk, rtol=1e-9, atol=1e-13)
    C = pf._coefficients(t, 4, "fourier")
    L, _ = pf._group_losses(land, C, ends, b, chunks[0] or 21, chunks[1] or 30, False)
    for k in range(3):
        with torch.no_grad():
            want = torch.stack([models.loss(m, x, y, params.unflatten(m, w)) for w in C @ torch.cat([ends[k], b[k]])])
        torch.testing.assert_close(L[k], want, rtol=1e-12, atol=1e-12)
    # float32, as the study runs it: the same to float32 rounding
    land32 = engine.Engine(models.build(arch), (x.float(), y))
    obj32, grad32 = pf.group_step(land32, t.float(), ends.float(), b.float(), lam=0.3)
    torch.testing.assert_close(obj32.double(), obj, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(grad32.double(), grad, rtol=1e-3, atol=2e-6)
