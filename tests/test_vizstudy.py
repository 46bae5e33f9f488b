"""Training to a target loss, the trend statistic and its verdicts, and the chapter's studies on tiny data."""

import itertools

import numpy as np
import pytest
import torch

from lls_core import hessian, models, params, visualize, vizstudy


def _digits(n=100, seed=0):
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 10
    x = 0.3 * torch.rand(n, 1, 28, 28, generator=g)
    x[torch.arange(n), 0, 2 * y, :] += 1.0  # one bright row per class
    return x, y


def _exact_p(levels, values):
    """Two-sided p of Spearman's rho by full enumeration of the permutations."""
    from scipy.stats import spearmanr

    obs = abs(spearmanr(levels, values).statistic)
    null = [abs(spearmanr(levels, p).statistic) for p in itertools.permutations(values)]
    return np.mean(np.array(null) >= obs - 1e-12)


# --------------------------------------------------------------------------- trend_test
def test_trend_test_verdicts_follow_the_data():
    lv = [1] * 4 + [4] * 4 + [10] * 4
    up = [0.00, 0.10, 0.05, 0.02, 0.20, 0.30, 0.25, 0.15, 0.50, 0.40, 0.60, 0.45]
    t = vizstudy.trend_test(lv, up, claim="deeper is more chaotic", measure="nonconvex")
    assert t.verdict == "supported" and t.rho > 0.8 and t.p < 0.001 and t.ci[0] > 0
    assert t.n == 12 and t.n_levels == 3 and t.claim == "deeper is more chaotic"
    down = vizstudy.trend_test(lv, up, expected="decrease")
    assert down.verdict == "contradicted" and down.rho == pytest.approx(t.rho)
    flat = vizstudy.trend_test(lv, [0.3] * 12)
    assert flat.verdict == "not resolved" and flat.p == 1.0 and flat.rho == 0.0
    facts = t.facts()
    assert facts["verdict"] == "supported" and facts["n"] == 12


def test_trend_test_p_value_matches_full_enumeration():
    lv = [0, 0, 1, 1, 2, 2]
    vals = [0.1, 0.3, 0.2, 0.5, 0.4, 0.6]
    t = vizstudy.trend_test(lv, vals, n_perm=40000, seed=1)
    assert t.p == pytest.approx(_exact_p(lv, vals), abs=0.01)


def test_trend_test_is_calibrated_under_the_null():
    rng = np.random.default_rng(0)
    lv = np.repeat([1, 2, 3], 4)
    ps = np.array([vizstudy.trend_test(lv, rng.normal(size=12), n_perm=499, seed=i).p for i in range(200)])
    assert 0.01 < np.mean(ps < 0.05) < 0.10
    assert 0.4 < np.mean(ps < 0.5) < 0.6


def test_trend_test_small_designs_cannot_claim_support():
    # two levels, two runs each: the smallest two-sided p is 1/3 -- never significant
    t = vizstudy.trend_test([0, 0, 1, 1], [0.0, 0.1, 0.9, 1.0])
    assert t.rho == pytest.approx(0.894, abs=1e-3) and t.p > 0.3 and t.verdict == "not resolved"
    # within-group permutation with 2 levels and 4 groups: smallest p = 2/16
    g = vizstudy.trend_test([0, 1] * 4, [0, 1, 0.1, 1.1, 0.2, 1.2, 0.3, 1.3], groups=[0, 0, 1, 1, 2, 2, 3, 3])
    assert g.p == pytest.approx(0.125, abs=0.02) and g.verdict == "not resolved"
    # ... but 4 levels within 4 groups resolve a consistent order
    lv = [0, 1, 2, 3] * 4
    vals = [a + 0.01 * s for s in range(4) for a in (0, 1, 2, 3)]
    gg = vizstudy.trend_test(lv, vals, groups=np.repeat(np.arange(4), 4))
    assert gg.verdict == "supported" and gg.p < 0.01


def test_trend_test_leaves_out_non_finite_values_and_says_so():
    lv = [1] * 4 + [2] * 4 + [3] * 4
    vals = [0, 0.1, 0.2, np.nan, 1, 1.1, 1.2, 1.3, 2, 2.1, np.nan, 2.3]
    t = vizstudy.trend_test(lv, vals)
    assert t.n == 10 and t.n_excluded == 2 and t.verdict == "supported"


def test_trend_test_rejects_bad_input():
    with pytest.raises(ValueError, match="expected='up'"):
        vizstudy.trend_test([0, 1], [0, 1], expected="up")
    with pytest.raises(ValueError, match="levels has 2 entries and values 3"):
        vizstudy.trend_test([0, 1], [0, 1, 2])
    with pytest.raises(ValueError, match="n_perm=10"):
        vizstudy.trend_test([0, 1], [0, 1], n_perm=10)
    with pytest.raises(ValueError, match="groups has 1 entries"):
        vizstudy.trend_test([0, 1], [0, 1], groups=[0])


# --------------------------------------------------------------------------- fit and scores
def test_fit_trains_to_the_target_and_scores_agree():
    x, y = _digits()
    f = vizstudy.fit(dict(name="mlp", depth=1, width=16), x, y, seed=3,
                     config=vizstudy.FitConfig(lr=0.05, batch_size=20, target_loss=0.4))
    assert f.result.reached and f.result.train_loss <= 0.4 and f.seed == 3
    s = vizstudy.scores(f.model, x, y)
    assert s.loss == pytest.approx(f.result.train_loss, rel=1e-5)
    with torch.no_grad():
        err = float((f.model(x).argmax(1) != y).float().mean())
    assert s.error == pytest.approx(err) and s.n == 100
    assert f.facts()["params"] == params.num_params(f.model)
    # full batch when batch_size >= N
    g = vizstudy.fit(dict(name="mlp", depth=1, width=16), x, y,
                     config=vizstudy.FitConfig(lr=0.1, batch_size=10_000, target_loss=1.0))
    assert g.result.steps == len(g.result.epoch_loss)


@pytest.mark.parametrize("kw, match", [(dict(lr=0), "lr=0"), (dict(momentum=1.0), "momentum=1.0"),
                                       (dict(batch_size=0), "batch_size=0"), (dict(target_loss=float("nan")), "target_loss"),
                                       (dict(max_epochs=2.5), "max_epochs=2.5")])
def test_fit_config_rejects_bad_values(kw, match):
    with pytest.raises(ValueError, match=match):
        vizstudy.FitConfig(**kw)


# --------------------------------------------------------------------------- studies
@pytest.fixture(scope="module")
def tiny_batch_study():
    x, y = _digits(100)
    xt, yt = _digits(60, seed=1)
    cfg = vizstudy.FitConfig(lr=0.05, target_loss=0.5, max_epochs=100)
    return vizstudy.batch_study(dict(name="mlp", depth=1, width=16), x, y, xt, yt, batches=[10, 100],
                                seeds=[0, 1], config=cfg, lanczos_iters=10, max_points=6), (x, y, xt, yt)


def test_batch_study_reports_every_run(tiny_batch_study):
    bs, (x, y, xt, yt) = tiny_batch_study
    t = bs.table
    assert len(t) == 4 and set(t["batch"]) == {10, 100} and t["reached"].all()
    assert (t["train_loss"] <= 0.5).all()
    np.testing.assert_allclose(t["gap_loss"], t["test_loss"] - t["train_loss"])
    np.testing.assert_allclose(t["gap_error"], t["test_error"] - t["train_error"])
    # sharpness is the top Hessian eigenvalue of the training loss at the solution
    f = bs.fits[(10, 0)]
    lam = hessian.lambda_max(hessian.flat_loss(f.model, x, y), f.result.w, iters=10)
    assert t.loc[(t["batch"] == 10) & (t["seed"] == 0), "sharpness"].item() == pytest.approx(lam, rel=1e-6)
    # one initialisation per seed, shared across batch sizes
    assert torch.equal(bs.fits[(10, 1)].result.trajectory[0], bs.fits[(100, 1)].result.trajectory[0])
    assert not torch.equal(bs.fits[(10, 0)].result.trajectory[0], bs.fits[(10, 1)].result.trajectory[0])
    assert set(bs.trends) == {"sharpness", "test_error", "gap_error", "gap_loss"}
    assert all(tr.verdict == "not resolved" for tr in bs.trends.values())  # 2 seeds can never resolve
    facts = bs.facts()
    assert facts["runs"] == 4 and "sharpness_b100" in facts and "sharpness_p" in facts
    with pytest.raises(ValueError, match="batches"):
        vizstudy.batch_study(dict(name="mlp"), x, y, xt, yt, batches=[8], seeds=[0, 1])
    with pytest.raises(ValueError, match="seeds"):
        vizstudy.batch_study(dict(name="mlp"), x, y, xt, yt, batches=[8, 16], seeds=[0])


def test_normalization_study_filter_is_scale_invariant_and_none_is_not(tiny_batch_study):
    bs, (x, y, _, _) = tiny_batch_study
    f = bs.fits[(10, 0)]
    # the same function with layer 0 scaled up 10x and the output layer down 10x (ReLU)
    m2 = models.build_demo("mlp", depth=1, width=16).eval()
    p = {k: v.clone() for k, v in params.unflatten(f.model, f.result.w).items()}
    p["hidden.0.weight"] *= 10.0
    p["hidden.0.bias"] *= 10.0
    p["out.weight"] /= 10.0
    w2 = torch.cat([v.reshape(-1) for v in p.values()])
    params.assign(m2, w2)
    res2 = visualize.TrainResult(w2, w2[None], np.zeros(1), 0)
    fits = {"a": f, "b": vizstudy.Fit(m2, res2, f.arch, 0)}
    ns = vizstudy.normalization_study(fits, {"a": 0, "b": 1}, x, y, n=9, probe=0.5, n_dirs=2)
    np.testing.assert_allclose(ns.curves[("filter", "a")], ns.curves[("filter", "b")], rtol=1e-4)
    assert np.max(np.abs(ns.curves[("none", "a")] - ns.curves[("none", "b")])) > 1e-2
    t = ns.table
    assert set(t["norm"]) == set(visualize.NORMS) and len(t) == 6
    rise_a = t[(t["norm"] == "filter") & (t["key"] == "a")]["rise"].item()
    c = ns.curves[("filter", "a")]
    # the rise is read at +-probe, which lie on this 9-point grid
    assert rise_a == pytest.approx(0.5 * (c[2] + c[6]) - c[4], rel=1e-5)
    f = ns.facts()  # two runs: no statistic, said in words, and never a NaN for the prose
    assert ns.none_scale > 0 and f["filter_summary"].startswith("no test: 2 runs") and "filter_p" not in f
    with pytest.raises(ValueError, match="unknown norms"):
        vizstudy.normalization_study(fits, {"a": 0, "b": 1}, x, y, norms=["unit"])


def test_landscape_study_runs_are_independent_and_measured_at_minima():
    x, y = _digits(100)
    cfg = vizstudy.FitConfig(lr=0.05, batch_size=20, target_loss=0.6, max_epochs=100)
    archs = {"1 layer": dict(name="mlp", depth=1, width=8), "2 layers": dict(name="mlp", depth=2, width=8)}
    ls = vizstudy.landscape_study(archs, {"1 layer": 1, "2 layers": 2}, x, y, x[:40], y[:40], seeds=[0, 1],
                                  config=cfg, grid_n=5, map_n=2, map_images=20, lanczos_iters=4)
    t = ls.table
    assert len(t) == 4 and t["reached"].all() and (t["train_loss"] <= 0.6).all()
    assert set(ls.slices) == set(ls.maps) == {(lab, s) for lab in archs for s in (0, 1)}
    s = ls.slices[("2 layers", 1)]
    assert s.loss.shape == (5, 5)
    assert t.loc[(t["label"] == "2 layers") & (t["seed"] == 1), "nonconvex"].item() == visualize.nonconvex_fraction(s)
    assert ls.maps[("1 layer", 0)].ratio.shape == (2, 2)
    tr = ls.trend("nonconvex", claim="deeper is more chaotic")
    assert tr.n == 4 and tr.verdict == "not resolved"
    assert "nonconvex_2_layers" in ls.facts()
    with pytest.raises(ValueError, match="unknown measure 'chaos'"):
        ls.trend("chaos")
    with pytest.raises(ValueError, match="levels has no entry"):
        vizstudy.landscape_study(archs, {"1 layer": 1}, x, y, x, y, seeds=[0, 1])


def test_chord_barriers_between_all_pairs():
    def f(w):  # a ring of minima at |w| = 1
        return (1 - (w**2).sum()) ** 2

    ws = [torch.tensor([1.0, 0.0]), torch.tensor([-1.0, 0.0]), torch.tensor([0.0, 1.0])]
    b = vizstudy.chord_barriers(f, ws, n=11)
    assert b.pairs == ((0, 1), (0, 2), (1, 2))
    assert b.values[0] == pytest.approx(1.0) and 0 < b.values[1] < 1
    assert b.loss.shape == (3, 11) and b.facts()["pairs"] == 3
    with pytest.raises(ValueError, match="need at least 2"):
        vizstudy.chord_barriers(f, ws[:1])


def test_trend_interval_contains_rho_and_narrows_with_more_runs():
    rng = np.random.default_rng(1)
    lv = np.repeat([1, 2, 3], 4)
    vals = lv + rng.normal(size=12)
    t = vizstudy.trend_test(lv, vals)
    assert t.ci[0] < t.rho < t.ci[1]
    big = vizstudy.trend_test(np.repeat([1, 2, 3], 40), np.repeat([1, 2, 3], 40) + rng.normal(size=120))
    assert big.ci[1] - big.ci[0] < t.ci[1] - t.ci[0]
    # the Fisher-z interval with Bonett-Wright's standard error
    z, se = np.arctanh(t.rho), np.sqrt((1 + t.rho**2 / 2) / 9)
    np.testing.assert_allclose(t.ci, np.tanh([z - 1.959964 * se, z + 1.959964 * se]), rtol=1e-5)


def test_trend_facts_carry_numbers_only_when_the_statistic_exists():
    t = vizstudy.trend_test([1, 1, 4, 4, 10, 10], [0.0, 0.1, 0.2, 0.3, 0.5, 0.4], n_perm=199)
    f = t.facts()
    assert t.defined and f["rho"] == t.rho and f["p"] == t.p
    assert f["summary"] == f"ρ = {t.rho:.2f}, interval {t.ci[0]:.2f} to {t.ci[1]:.2f}, p = {t.p:.3g}, 6 runs"
    few = vizstudy.trend_test([1, 2], [0.0, 1.0], n_perm=199)
    g = few.facts()
    assert not few.defined and few.verdict == "not resolved" and not {"rho", "ci_low", "ci_high", "p"} & set(g)
    assert g["summary"] == "no test: 2 runs at 2 levels, at least 4 runs at 2 levels needed"
    none = vizstudy.trend_test([1, 2, 3], [float("nan")] * 3, n_perm=199)
    assert none.summary() == "no test: 0 runs at 0 levels (3 more left out without a value), at least 4 runs at 2 levels needed"
