"""Claim statistics: Mann–Whitney with effect sizes, AUC separation with permutation p, Holm."""

import numpy as np
import pytest
from scipy import stats as sps
from sklearn.metrics import roc_auc_score

from lls_core import stats


def test_compare_matches_scipy_and_detects_a_shift():
    rng = np.random.default_rng(1)
    a, b = rng.normal(1.0, 1.0, 40), rng.normal(0.0, 1.0, 30)
    c = stats.compare(a, b, alternative="greater", n_boot=500)
    ref = sps.mannwhitneyu(a, b, alternative="greater")
    assert c.u == pytest.approx(ref.statistic)
    assert c.p == pytest.approx(ref.pvalue)
    assert c.cl == pytest.approx(ref.statistic / (40 * 30))
    assert c.rank_biserial == pytest.approx(2 * c.cl - 1)
    assert c.cl_ci[0] <= c.cl <= c.cl_ci[1]
    assert c.median_diff_ci[0] <= c.median_diff <= c.median_diff_ci[1]
    assert c.supports("greater") and not c.supports("less")
    flipped = stats.compare(b, a, alternative="greater", n_boot=500)  # the expected direction is wrong
    assert flipped.p > 0.5 and flipped.supports("less")  # ... and that is visible


def test_compare_without_effect_has_interval_around_half():
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=50), rng.normal(size=50)
    c = stats.compare(a, b, n_boot=500, seed=3)
    assert c.cl_ci[0] < 0.5 < c.cl_ci[1]
    assert not c.supports("greater") and not c.supports("less")


def test_compare_bad_input():
    with pytest.raises(ValueError, match="at least 2"):
        stats.compare([1.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="non-finite"):
        stats.compare([1.0, np.nan], [1.0, 2.0])
    with pytest.raises(ValueError, match="alternative"):
        stats.compare([1.0, 2.0], [1.0, 2.0], alternative="bigger")
    with pytest.raises(ValueError, match="level"):
        stats.compare([1.0, 2.0], [1.0, 2.0], level=95)


def test_separation_auc_matches_sklearn_and_permutation_p():
    rng = np.random.default_rng(4)
    y = np.r_[np.zeros(20, int), np.ones(25, int)]
    s = rng.normal(size=45) - 1.5 * y  # group 1 lower: orientation must flip
    sep = stats.separation(s, y, n_perm=999, n_boot=500)
    assert sep.auc == pytest.approx(1 - roc_auc_score(y, s))
    assert sep.sign == -1
    assert sep.p < 0.01
    assert sep.auc_ci[0] <= sep.auc <= sep.auc_ci[1]
    null = stats.separation(rng.normal(size=45), y, n_perm=999, n_boot=500)
    assert null.p > 0.05


def test_separation_perfect_split_reaches_minimum_p():
    y = np.r_[np.zeros(10, int), np.ones(10, int)]
    s = np.r_[np.arange(10.0), np.arange(10.0) + 100]
    sep = stats.separation(s, y, n_perm=199, n_boot=200)
    assert sep.auc == 1.0 and sep.auc_ci == (1.0, 1.0)
    assert 1 / 200 <= sep.p < 0.02  # a perfect split under permutation has chance 2 / C(20, 10)


def test_separation_bad_labels():
    with pytest.raises(ValueError, match="0 or 1"):
        stats.separation(np.arange(6.0), np.array([0, 1, 2, 0, 1, 2]))
    with pytest.raises(ValueError, match="per group"):
        stats.separation(np.arange(6.0), np.array([0, 0, 0, 0, 0, 1]))


def test_holm():
    adj = stats.holm([0.01, 0.04, 0.03])
    np.testing.assert_allclose(adj, [0.03, 0.06, 0.06])
    with pytest.raises(ValueError, match="p-values"):
        stats.holm([0.5, 1.5])


def test_bootstrap_units_zero_and_strong_differences():
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=20), rng.normal(size=20)

    def diff(xs, ys):
        return lambda a, b: a @ xs / a.sum() - b @ ys / b.sum()

    null = stats.bootstrap_units(diff(x, y), [20, 20], n_boot=500, seed=1)
    assert null.ci[0] < 0 < null.ci[1]
    assert null.p_greater > 0.05 and null.p_less > 0.05
    strong = stats.bootstrap_units(diff(x + 2, y), [20, 20], n_boot=500, seed=1)
    assert strong.ci[0] > 0 and strong.p_greater < 0.01 and strong.p_less > 0.9
    assert strong.value == pytest.approx(x.mean() + 2 - y.mean())
    with pytest.raises(ValueError, match="at least 2"):
        stats.bootstrap_units(diff(x, y), [1, 20])


def test_bootstrap_units_plugin_gives_the_pivotal_interval():
    """A debiased squared mean: the percentile interval would sit above the truth (0), the
    pivotal one covers it."""
    rng = np.random.default_rng(6)
    x = rng.normal(size=30)

    def sq(debias):
        def f(m):
            mean = m @ x / m.sum()
            var = m @ (x - mean) ** 2 / m.sum()
            return mean**2 - (var / (m.size - 1) if debias else 0.0)
        return f

    pct = stats.bootstrap_units(sq(True), [30], n_boot=1000, seed=2)
    piv = stats.bootstrap_units(sq(True), [30], n_boot=1000, seed=2, plugin=sq(False))
    assert piv.value == pct.value
    assert piv.ci[0] < 0 < piv.ci[1]
    assert piv.ci[0] < pct.ci[0]


def test_paired_compare_matches_wilcoxon():
    rng = np.random.default_rng(7)
    a = rng.normal(size=15)
    b = a - 0.8 + 0.3 * rng.normal(size=15)
    pc = stats.paired_compare(a, b, n_boot=500)
    assert pc.p_greater == pytest.approx(sps.wilcoxon(a, b, alternative="greater").pvalue)
    assert pc.cl == pytest.approx(np.mean(a > b)) and pc.cl_ci[0] <= pc.cl <= pc.cl_ci[1]
    same = stats.paired_compare(a, a, n_boot=500)
    assert same.p_greater == same.p_less == 1.0 and same.cl == 0.5
    with pytest.raises(ValueError, match="equal sizes"):
        stats.paired_compare(a, a[:5])


def test_boot_p():
    assert stats.boot_p(np.arange(1.0, 100.0), 0.0, "above") == pytest.approx(0.01)
    assert stats.boot_p(np.arange(1.0, 100.0), 0.0, "below") == pytest.approx(1.0)
    assert np.isnan(stats.boot_p([], 0.0, "above"))
    with pytest.raises(ValueError, match="side"):
        stats.boot_p([1.0], 0.0, "up")


@pytest.mark.parametrize("expect, ci, p, p_against, margin, verdict", [
    ("greater", (0.6, 0.9), 0.01, 0.99, None, "supported"),
    ("greater", (0.45, 0.9), 0.01, 0.99, None, "not resolved"),   # interval touches no effect
    ("greater", (0.6, 0.9), 0.2, 0.8, None, "not resolved"),      # not significant is not support
    ("greater", (0.1, 0.4), 0.99, 0.01, None, "contradicted"),
    ("less", (0.1, 0.4), 0.01, 0.99, None, "supported"),
    ("equivalent", (0.45, 0.6), 0.01, 0.7, (0.35, 0.65), "equivalent (supported)"),
    ("equivalent", (0.2, 0.9), 0.6, 0.7, (0.35, 0.65), "not resolved"),  # no difference found, none shown
    ("equivalent", (0.7, 0.9), 0.99, 0.01, (0.35, 0.65), "contradicted"),
    ("not greater", (0.3, 0.6), 0.01, 0.9, (0.35, 0.65), "no excess (supported)"),
    ("not greater", (0.3, 0.7), 0.1, 0.9, (0.35, 0.65), "not resolved"),
    ("not greater", (0.6, 0.9), 0.99, 0.01, (0.35, 0.65), "contradicted"),
    ("separates", (0.7, 1.0), 0.001, 0.99, (0.35, 0.65), "supported"),
    ("separates", (0.4, 0.6), 0.6, 0.01, (0.35, 0.65), "contradicted"),
    ("separates", (0.3, 0.9), 0.2, 0.6, (0.35, 0.65), "not resolved"),
    ("separates", (0.2, 0.4), 0.99, 0.01, (0.35, 0.65), "not resolved"),  # outside the margin: not "no separation"
    ("less", (0.6, 0.9), 0.99, 0.01, None, "contradicted"),
    ("less", (0.1, 0.4), float("nan"), 0.99, None, "not resolved"),  # a NaN p-value is never significant
    ("not less", (0.4, 0.7), 0.01, 0.9, (0.35, 0.65), "no excess (supported)"),
    ("not less", (0.3, 0.7), 0.01, 0.9, (0.35, 0.65), "not resolved"),  # lower end beyond the margin
    ("not less", (0.1, 0.4), 0.99, 0.01, (0.35, 0.65), "contradicted"),
])
def test_decide(expect, ci, p, p_against, margin, verdict):
    assert stats.decide(expect, ci, 0.5, p, p_against, margin=margin) == verdict
    assert verdict in stats.VERDICTS


def test_decide_bad_input():
    with pytest.raises(ValueError, match="expect"):
        stats.decide("bigger", (0.1, 0.2), 0.5, 0.01, 0.9)
    with pytest.raises(ValueError, match="margin"):
        stats.decide("equivalent", (0.4, 0.6), 0.5, 0.01, 0.9)
    assert stats.decide("greater", (float("nan"), 0.9), 0.5, 0.01, 0.9) == "not resolved"


def test_min_p_rank_test_is_the_exact_minimum():
    assert stats.min_p_rank_test(3, 3) == pytest.approx(0.05)
    a, b = np.array([4.0, 5, 6]), np.array([1.0, 2, 3])
    assert sps.mannwhitneyu(a, b, alternative="greater", method="exact").pvalue == pytest.approx(
        stats.min_p_rank_test(3, 3))
    assert stats.min_p_rank_test(6, 6) == pytest.approx(1 / 924)
    with pytest.raises(ValueError, match="n_a"):
        stats.min_p_rank_test(0, 3)


def test_holm_skip_leaves_untested_claims_out_of_the_family():
    got = stats.holm([0.01, float("nan"), 0.04, float("nan")], missing="skip")
    np.testing.assert_allclose(got[[0, 2]], stats.holm([0.01, 0.04]))
    assert np.isnan(got[[1, 3]]).all() and np.isnan(stats.holm([np.nan], missing="skip")).all()
    with pytest.raises(ValueError, match="non-finite"):
        stats.holm([0.01, float("nan")])
    with pytest.raises(ValueError, match="missing='drop'"):
        stats.holm([0.01], missing="drop")
