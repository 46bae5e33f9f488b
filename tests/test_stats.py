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
