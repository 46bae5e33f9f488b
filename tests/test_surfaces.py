"""The 2-D surfaces: values, gradients, critical points, Figure 10 layers, registry."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest
import torch

from lls_core import surfaces

NAMES = (
    "fig2a fig2b fig2c case1 case2 case3 case4 fig10 fig10_printed fig10_noisy "
    "toy rosenbrock rastrigin himmelblau"
).split()


def _random_points(s: surfaces.Surface, n: int = 64, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    (x0, x1), (y0, y1) = s.domain
    u = torch.rand(n, 2, generator=g, dtype=torch.float64)
    return torch.stack([x0 + (x1 - x0) * u[:, 0], y0 + (y1 - y0) * u[:, 1]], dim=-1)


def _central_differences(s: surfaces.Surface, p: torch.Tensor, h: float = 1e-6) -> torch.Tensor:
    cols = []
    with torch.no_grad():
        for i in range(2):
            e = torch.zeros(2, dtype=torch.float64)
            e[i] = h
            cols.append((s(p + e) - s(p - e)) / (2 * h))
    return torch.stack(cols, dim=-1)


# -- registry ----------------------------------------------------------------


def test_registry_has_exactly_the_agreed_names():
    assert list(surfaces.names()) == NAMES


@pytest.mark.parametrize("bad", ["peaks", "Case4", "", 3])
def test_unknown_name_lists_the_valid_ones(bad):
    with pytest.raises(KeyError) as info:
        surfaces.get(bad)
    msg = str(info.value)
    assert repr(bad) in msg and all(n in msg for n in NAMES)
    with pytest.raises(ValueError):  # also catchable as ValueError
        surfaces.get(bad)


@pytest.mark.parametrize("name", NAMES)
def test_metadata(name):
    s = surfaces.get(name)
    assert s.name == name and s.title and s.latex
    (x0, x1), (y0, y1) = s.domain
    assert x0 < x1 and y0 < y1
    for q in s.minima + s.saddles + s.maxima:
        assert x0 <= q[0] <= x1 and y0 <= q[1] <= y1, (name, q)


# -- evaluation and shapes ------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_batch_shapes_and_dtypes(name):
    s = surfaces.get(name)
    p = _random_points(s, 7)
    assert s(p).shape == (7,)
    assert s(p.reshape(7, 1, 2)).shape == (7, 1)
    assert s(p[0]).shape == ()
    assert s(p.float()).dtype == torch.float32
    assert s(p).dtype == torch.float64
    # each row is evaluated on its own
    assert torch.allclose(s(p)[3], s(p[3]))
    assert s.grad(p).shape == (7, 2)
    assert s.hessian(p[:2]).shape == (2, 2, 2)


def test_bad_points_are_rejected_with_the_shape():
    s = surfaces.get("case1")
    with pytest.raises(ValueError, match=r"\(4, 3\)"):
        s(torch.zeros(4, 3))
    with pytest.raises(TypeError, match="real"):
        s(torch.zeros(4, 2, dtype=torch.complex64))
    assert s([[1, 2]]).tolist() == [5.0]  # lists and ints are converted


@pytest.mark.parametrize("name", NAMES)
def test_grid_matches_pointwise_evaluation(name):
    s = surfaces.get(name)
    X, Y, Z = s.grid(n=9)
    assert X.shape == Y.shape == Z.shape == (9, 9)
    assert X[0, 0] == s.domain[0][0] and X[0, -1] == s.domain[0][1]
    assert Y[0, 0] == s.domain[1][0] and Y[-1, 0] == s.domain[1][1]
    pts = torch.tensor(np.stack([X, Y], axis=-1))
    np.testing.assert_allclose(Z, s(pts).numpy(), rtol=1e-12)


@pytest.mark.parametrize("n", [1, 2.5, True, "9"])
def test_grid_rejects_bad_sizes(n):
    with pytest.raises(ValueError, match="grid size"):
        surfaces.get("case1").grid(n=n)


# -- gradients ---------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_gradients_match_central_differences(name):
    s = surfaces.get(name)
    p = _random_points(s, 64, seed=1)
    g = s.grad(p)
    fd = _central_differences(s, p)
    scale = torch.maximum(g.abs(), torch.ones_like(g))
    assert torch.all((g - fd).abs() <= 1e-5 * scale), (g - fd).abs().max()


@pytest.mark.parametrize("name", NAMES)
def test_works_under_torch_func_transforms(name):
    s = surfaces.get(name)
    p = _random_points(s, 5, seed=2)
    g = torch.func.vmap(torch.func.grad(s))(p)
    assert torch.allclose(g, s.grad(p), rtol=1e-10, atol=1e-12)


# -- known points ------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_gradient_vanishes_at_every_listed_critical_point(name):
    s = surfaces.get(name)
    for c in s.critical_points():
        scale = max(1.0, abs(c.value))
        assert c.grad_norm < 1e-7 * scale, (name, c)
        lo, hi = c.eigenvalues
        if c.kind == "minimum":
            assert lo > -1e-6, c
        elif c.kind == "maximum":
            assert hi < 1e-6, c
        else:
            assert lo < 0 < hi, c


def test_peaks_extremes():
    s = surfaces.get("case4")
    (xm, ym) = s.global_minima[0]
    assert round(s.value(xm, ym), 3) == -6.551
    assert (round(xm, 3), round(ym, 3)) == (0.228, -1.626)
    top = max(s.maxima, key=lambda q: s.value(*q))
    assert round(s.value(*top), 3) == 8.106
    # and nothing on a fine grid goes beyond them
    _, _, Z = s.grid(n=601)
    assert Z.min() >= s.value(xm, ym) - 1e-9 and Z.max() <= s.value(*top) + 1e-9


def test_peaks_coefficient_is_a_parameter():
    p10, p5 = surfaces.peaks(10.0), surfaces.peaks(5)
    pts = _random_points(p10, 16, seed=3)
    assert torch.equal(p10(pts), surfaces.get("case4")(pts))
    assert not torch.allclose(p5(pts), p10(pts))
    # the coefficient multiplies exactly the middle term
    mid = (pts[:, 0] / 5 - pts[:, 0] ** 3 - pts[:, 1] ** 5) * torch.exp(-pts[:, 0] ** 2 - pts[:, 1] ** 2)
    assert torch.allclose(p10(pts) - p5(pts), -5 * mid)
    assert p5.minima == () and "5" in p5.latex
    with pytest.raises(ValueError, match="coefficient"):
        surfaces.peaks(float("nan"))


def test_use_case_three_hessian_is_a_saddle():
    s = surfaces.get("case3")
    h = torch.autograd.functional.hessian(lambda p: s(p), torch.zeros(2, dtype=torch.float64))
    assert torch.allclose(h, torch.tensor([[2.0, 0.0], [0.0, -2.0]], dtype=torch.float64))
    assert h[0, 0] > 0 > h[1, 1]
    assert torch.linalg.det(h) < 0
    assert s.minima == () and s.saddles == ((0.0, 0.0),) and not s.bounded_below


@pytest.mark.parametrize(
    "name", ["case4", "himmelblau", "toy", "fig10", "fig10_printed", "rosenbrock", "fig2b"]
)
def test_search_finds_exactly_the_listed_critical_points(name):
    s = surfaces.get(name)
    found = surfaces.find_critical_points(s)
    for kind in ("minima", "saddles", "maxima"):
        listed = getattr(s, kind)
        got = [(c.x, c.y) for c in getattr(found, kind)]
        assert len(got) == len(listed), (kind, got, listed)
        for q in listed:
            assert min(math.dist(q, r) for r in got) < 1e-7, (kind, q)


def test_fig2c_extrema_are_plus_minus_one():
    s = surfaces.get("fig2c")
    assert {round(s.value(*q), 12) for q in s.minima} == {-1.0}
    assert {round(s.value(*q), 12) for q in s.maxima} == {1.0}
    assert {round(abs(s.value(*q)), 12) for q in s.saddles} == {0.0}
    assert len(s.global_minima) == len(s.minima) > 1  # multiple global minima


def test_global_minima():
    assert surfaces.get("rastrigin").global_minima == ((0.0, 0.0),)
    assert len(surfaces.get("rastrigin").minima) == 121
    assert surfaces.get("fig2b").global_minima == ((-0.290839314995, -0.290839314995),)
    assert len(surfaces.get("himmelblau").global_minima) == 4
    assert surfaces.get("fig10").global_minima[0] == pytest.approx((-0.5, -0.5), abs=1e-5)


def test_toy_constant_and_endpoints():
    s = surfaces.get("toy")
    floor = min(s.value(*q) for q in s.minima)
    assert abs(floor) < 1e-4  # the constant lifts the deeper well's floor to about zero
    for end in surfaces.TOY_ENDPOINTS:
        assert min(math.dist(end, q) for q in s.minima) < 0.01
    assert s.value(0.0, 0.0) == pytest.approx(
        -math.exp(-0.75) - math.exp(-1.5) + math.exp(-15 * 0.2) + math.exp(-15 * 0.09) + surfaces.TOY_CONSTANT
    )


# -- Figure 10 ---------------------------------------------------------------


@pytest.mark.parametrize("saddle", ["bounded", "printed"])
def test_fig10_layers_sum_to_the_panels(saddle):
    kw = {"saddle": saddle, "t": 1.7, "seed": 3, "noise_amplitude": 0.4}
    layers = [surfaces.fig10_layer(n, **kw) for n in surfaces.FIG10_LAYERS]
    a, b, c, d = surfaces.fig10_panels(**kw)
    p = _random_points(c, 200, seed=4)
    cum = torch.zeros(200, dtype=torch.float64)
    partial = []
    for layer in layers:
        cum = cum + layer(p)
        partial.append(cum)
    assert torch.equal(a(p), torch.ones(200, dtype=torch.float64))
    assert torch.allclose(b(p), partial[1], rtol=1e-12)
    assert torch.allclose(c(p), partial[4], rtol=1e-12)
    assert torch.allclose(d(p), partial[5], rtol=1e-12)
    ok = c(p).abs() < 1e6  # the printed saddle reaches 1e56 here: differences lose all digits
    assert torch.allclose((d(p) - c(p))[ok], layers[5](p)[ok], rtol=1e-9, atol=1e-9)


def test_registered_fig10_surfaces_are_the_panels():
    p = _random_points(surfaces.get("fig10"), 50, seed=5)
    assert torch.equal(surfaces.get("fig10")(p), surfaces.fig10_panels()[2](p))
    assert torch.equal(surfaces.get("fig10_printed")(p), surfaces.fig10_panels(saddle="printed")[2](p))
    assert torch.equal(surfaces.get("fig10_noisy")(p), surfaces.fig10_panels(t=0.0, seed=0)[3](p))


def test_printed_saddle_layer_grows_without_bound_along_y():
    layer = surfaces.fig10_layer("saddle", saddle="printed")
    v = torch.linspace(0.0, 6.0, 61, dtype=torch.float64)
    z = layer(torch.stack([torch.full_like(v, -2.0), -2.0 + v], dim=-1))
    assert torch.all(z[1:] > z[:-1])  # strictly increasing away from y = -2
    assert torch.allclose(z, 2 * torch.exp(v**2 / 0.2), rtol=1e-12)  # = 2 exp(v^2 / 0.2)
    assert z[30] > 1e19 and z[-1] > 1e78
    assert not layer.bounded_above and not surfaces.get("fig10_printed").bounded_above
    # on the diagonals |x+2| = |y+2| it equals 2, with an x-slope of -20 (x+2)
    assert layer.value(-0.5, -0.5) == pytest.approx(2.0)
    assert layer.grad(torch.tensor([-0.5, -0.5], dtype=torch.float64))[0] == pytest.approx(-30.0)


def test_bounded_saddle_layer_is_a_bounded_saddle():
    layer = surfaces.fig10_layer("saddle")
    _, _, Z = layer.grid(n=401, domain=((-10, 6), (-10, 6)))
    assert Z.min() >= 0.0 and Z.max() <= 4 * math.exp(-0.5) + 1e-12
    assert Z.max() > 4 * math.exp(-0.5) - 1e-3
    h = layer.hessian(torch.tensor([-2.0, -2.0], dtype=torch.float64))
    assert torch.allclose(h, torch.tensor([[-20.0, 0.0], [0.0, 10.0]], dtype=torch.float64))
    printed = surfaces.fig10_layer("saddle", saddle="printed")
    assert layer.value(-2, -2) == printed.value(-2, -2) == 2.0
    assert layer.bounded_above and surfaces.get("fig10").bounded_above


def test_fig10_layer_and_variant_errors():
    with pytest.raises(ValueError, match="plane, saddle"):
        surfaces.fig10_layer("ridge")
    with pytest.raises(ValueError, match="'bounded' or 'printed'"):
        surfaces.fig10_panels(saddle="gaussian")


def test_noise_is_deterministic_smooth_and_time_varying():
    p = _random_points(surfaces.get("fig10"), 400, seed=6)
    n = lambda **kw: surfaces.fig10_layer("noise", **kw)(p)  # noqa: E731
    assert torch.equal(n(seed=1, t=0.5), n(seed=1, t=0.5))
    assert not torch.allclose(n(seed=1, t=0.5), n(seed=2, t=0.5))
    assert not torch.allclose(n(seed=1, t=0.5), n(seed=1, t=1.5))
    # continuous in time: a small step moves the field a little
    step = (n(seed=1, t=0.501) - n(seed=1, t=0.5)).abs().max()
    assert 0 < step < 0.01
    # RMS about the requested amplitude (the modes are random, so loosely)
    _, _, Z = surfaces.fig10_layer("noise", seed=1, noise_amplitude=0.3).grid(n=121, domain=((-20, 20), (-20, 20)))
    assert 0.15 < Z.std() < 0.45
    assert torch.equal(n(noise_amplitude=0.0), torch.zeros(400, dtype=torch.float64))
    noise = surfaces.FourierNoise(seed=4, t=2.0)
    assert noise.at(2.0) == noise and noise.at(3.0).t == 3.0
    with pytest.raises(ValueError, match="seed"):
        surfaces.FourierNoise(seed=-1)
    with pytest.raises(ValueError, match="amplitude"):
        surfaces.FourierNoise(amplitude=-0.1)


# -- plumbing ------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_surfaces_pickle(name):
    s = surfaces.get(name)
    p = _random_points(s, 8, seed=7)
    assert torch.equal(pickle.loads(pickle.dumps(s))(p), s(p))


def test_surface_validates_its_domain():
    with pytest.raises(ValueError, match="domain"):
        surfaces.Surface("x", "x", "x", surfaces.get("case1").fn, ((1.0, -1.0), (0.0, 1.0)))
    with pytest.raises(ValueError, match="domain"):
        surfaces.get("case1").grid(n=5, domain=((0, 1),))


def test_noise_drift_follows_the_lowest_grid_point_and_counts_minima():
    d = surfaces.noise_drift([0.0, 1.0], n=41, starts_per_axis=5)
    assert d.times == (0.0, 1.0) and len(d.snapshots) == len(d.lowest) == len(d.n_minima) == 2
    for snap, (x, y, z) in zip(d.snapshots, d.lowest):
        X, Y, Z = snap.grid(n=41)
        assert z == Z.min() and snap.value(x, y) == pytest.approx(z)
    assert d.grid_h == pytest.approx((d.snapshots[0].domain[0][1] - d.snapshots[0].domain[0][0]) / 40)
    (x0, y0, _), (x1, y1, _) = d.lowest
    assert d.drift == pytest.approx(((x1 - x0) ** 2 + (y1 - y0) ** 2) ** 0.5)
    f = d.facts()
    assert f["noise_span"] == 1.0 and f["fig10c_minima"] == len(surfaces.get("fig10").minima)
    assert f["noise_minima"] == ", ".join(str(k) for k in d.n_minima)
    # a standing noise field (the same time twice) does not drift
    assert surfaces.noise_drift([0.5, 0.5], n=41, starts_per_axis=3).drift == 0.0
    with pytest.raises(ValueError, match="at least two"):
        surfaces.noise_drift([0.0])
