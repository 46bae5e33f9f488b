"""Hessian-vector products, top eigenvalues, Hutchinson trace and SLQ against the dense Hessian of a tiny net."""

import numpy as np
import pytest
import torch
from torch import nn

from lls_core import hessian, params


@pytest.fixture(scope="module")
def problem(make_mlp, make_data):
    """6 -> 5 -> 3 tanh classifier (d = 53), float64: small enough for an explicit Hessian."""
    model = make_mlp((6, 5, 3), "tanh", seed=0, dtype=torch.float64)
    x, y = make_data(40, 6, 3, seed=0, dtype=torch.float64)
    # move a little downhill so the point is not a random one
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    for _ in range(200):
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    f = hessian.flat_loss(model, x, y)
    w = params.flatten(model)
    H = hessian.hessian_matrix(f, w)
    return model, x, y, f, w, H, np.linalg.eigvalsh(H.numpy())


def test_hvp_matches_dense_hessian(problem):
    _, _, _, f, w, H, _ = problem
    hvp = hessian.make_hvp(f, w)
    v = torch.randn(w.numel(), dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    assert torch.allclose(hvp(v), H @ v, atol=1e-10)
    assert torch.allclose(H, H.T, atol=1e-10)


def test_data_chunks_give_the_same_loss(problem):
    model, x, y, f, w, _, _ = problem
    g = hessian.flat_loss(model, x, y, data_chunk=7)
    assert torch.allclose(f(w), g(w), atol=1e-12)


@pytest.mark.parametrize("method", hessian.METHODS)
def test_top_eigenvalues_match_eigvalsh(problem, method):
    _, _, _, f, w, H, evals = problem
    k = 3
    res = hessian.top_eigenvalues(hessian.make_hvp(f, w), w.numel(), k=k, method=method, iters=500 if method == "power" else None, tol=1e-10)
    top = evals[::-1][:k]
    rtol = 1e-2 if method == "power" else 1e-6
    np.testing.assert_allclose(res.values, top, rtol=rtol, atol=1e-8)
    # Rayleigh quotients of the returned vectors give the same values
    Hn = H.numpy()
    rq = np.einsum("kd,de,ke->k", res.vectors, Hn, res.vectors) / np.einsum("kd,kd->k", res.vectors, res.vectors)
    np.testing.assert_allclose(rq, top, rtol=rtol, atol=1e-8)


def test_lanczos_full_run_recovers_the_whole_spectrum(problem):
    _, _, _, f, w, _, evals = problem
    t = hessian.lanczos(hessian.make_hvp(f, w), torch.ones(w.numel(), dtype=torch.float64), w.numel())
    ritz, _ = t.ritz()
    # The Krylov space of one start vector can miss eigenvalues only when they are (numerically) repeated.
    for r in ritz:
        assert np.min(np.abs(evals - r)) < 1e-6
    assert ritz.max() == pytest.approx(evals.max(), rel=1e-8)
    assert ritz.min() == pytest.approx(evals.min(), rel=1e-6, abs=1e-8)


def test_hutchinson_trace_is_within_its_error_bar(problem):
    _, _, _, f, w, H, _ = problem
    est = hessian.hutchinson_trace(hessian.make_hvp(f, w), w.numel(), n_samples=400, seed=1)
    assert abs(est.mean - float(torch.trace(H))) < 4 * est.stderr


def test_slq_density_integrates_to_one_and_matches_moments(problem):
    _, _, _, f, w, H, evals = problem
    d = w.numel()
    hvp = hessian.make_hvp(f, w)
    sd = hessian.spectral_density(hvp, d, n_probes=200, m=12, seed=3)
    np.testing.assert_allclose(sd.weights.sum(axis=1), 1.0, atol=1e-10)
    lo, hi = evals.min(), evals.max()
    sigma = 0.02 * (hi - lo)
    grid = np.linspace(lo - 10 * sigma, hi + 10 * sigma, 4001)
    assert np.trapezoid(sd.density(grid, sigma), grid) == pytest.approx(1.0, abs=1e-3)
    # moments: tr(H^k)/d for k = 1, 2, 3 (Monte Carlo over 200 probes)
    for k in (1, 2, 3):
        exact = float(np.mean(evals**k))
        assert sd.moment(k) == pytest.approx(exact, rel=0.15, abs=1e-6 * np.abs(evals).max() ** k)
    # per-probe quadrature is exact for polynomials of degree < 2m: v^T H^k v / v^T v
    t = hessian.lanczos(hvp, np.ones(d), 12)
    vals, vecs = t.ritz()
    u = np.ones(d) / np.sqrt(d)
    Hn = H.numpy()
    for k in (1, 2, 5):
        assert float((vecs[0] ** 2 * vals**k).sum()) == pytest.approx(float(u @ np.linalg.matrix_power(Hn, k) @ u), rel=1e-8)
    lmin, lmax = sd.extremes
    assert lmax == pytest.approx(hi, rel=1e-3)
    assert sd.mass_below(hi + 1) == pytest.approx(1.0)


def test_bad_inputs_raise_clear_errors(problem):
    _, _, _, f, w, _, _ = problem
    hvp = hessian.make_hvp(f, w)
    with pytest.raises(ValueError, match="unknown method 'qr'"):
        hessian.top_eigenvalues(hvp, w.numel(), method="qr")
    with pytest.raises(ValueError, match="k=0"):
        hessian.top_eigenvalues(hvp, w.numel(), k=0)
    with pytest.raises(ValueError, match="shape"):
        hvp(torch.zeros(3, dtype=torch.float64))
    with pytest.raises(ValueError, match="sigma"):
        hessian.spectral_density(hvp, w.numel(), n_probes=1, m=3).density(np.zeros(3), 0.0)
    with pytest.raises(ValueError, match="too large"):
        hessian.hessian_matrix(lambda v: v.sum(), torch.zeros(6000))


def test_extreme_eigenvalues_match_both_ends_of_eigvalsh(problem):
    _, _, _, f, w, _, evals = problem
    hvp = hessian.make_hvp(f, w)
    d = w.numel()
    full = hessian.extreme_eigenvalues(hvp, d, iters=d)
    assert full.lam_max == pytest.approx(evals.max(), rel=1e-8)
    assert full.lam_min == pytest.approx(evals.min(), rel=1e-6, abs=1e-8)
    assert full.ratio == pytest.approx(abs(evals.min() / evals.max()), rel=1e-5)
    short = hessian.extreme_eigenvalues(hvp, d, iters=8)
    # Ritz values lie inside the spectrum
    assert evals.min() - 1e-10 <= short.lam_min and short.lam_max <= evals.max() + 1e-10
    assert short.matvecs == 8 and set(short.facts()) == {"lam_min", "lam_max", "ratio", "matvecs"}
    assert hessian.lambda_max(f, w, iters=d) == pytest.approx(evals.max(), rel=1e-8)
    assert np.isnan(hessian.Extremes(-1.0, -0.5, 3).ratio)
    with pytest.raises(ValueError, match="iters=1"):
        hessian.extreme_eigenvalues(hvp, d, iters=1)
    with pytest.raises(ValueError, match="iters=0"):
        hessian.lambda_max(f, w, iters=0)


def test_trace_estimate_z_score():
    t = hessian.TraceEstimate(10.0, 2.0, np.zeros(3))
    assert t.z(14.0) == pytest.approx(2.0) and t.z(6.0) == pytest.approx(-2.0)
    flat = hessian.TraceEstimate(1.0, 0.0, np.ones(3))
    assert flat.z(1.0) == 0.0 and flat.z(2.0) == np.inf
