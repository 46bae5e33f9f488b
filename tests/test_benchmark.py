"""lls_core.benchmark: verdict functions that turn the benchmark's tables into the chapter's sentences."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from lls_core import benchmark


def _sweep(rows):
    cols = ["algorithm", "lr", "tuned", "surface", "success_pct", "successes", "n", "median_distance"]
    df = pd.DataFrame(rows, columns=cols)
    return df


def test_tuned_rates_picks_the_best_rate_with_stated_ties():
    df = _sweep([
        # A on I: 0.1 and 0.3 tie on success; 0.3 ends closer -> 0.3
        ("A", 0.1, True, "I", 90.0, 90, 100, 0.2), ("A", 0.3, True, "I", 90.0, 90, 100, 0.1),
        ("A", 0.01, True, "I", 50.0, 50, 100, 0.0),
        # B on I: full tie -> the smaller rate
        ("B", 0.3, True, "I", 70.0, 70, 100, 0.5), ("B", 0.1, True, "I", 70.0, 70, 100, 0.5),
        # AdaDelta-like: no learning rate, the same run repeated
        ("C", 0.1, False, "I", 40.0, 40, 100, 1.0), ("C", 0.3, False, "I", 40.0, 40, 100, 1.0),
        # a surface without a minimum (distance undefined) is left out by default
        ("A", 0.1, True, "III", 0.0, 0, 100, math.nan), ("B", 0.1, True, "III", 0.0, 0, 100, math.nan),
        ("C", 0.1, False, "III", 0.0, 0, 100, math.nan),
    ])
    tr = benchmark.tuned_rates(df)
    t = tr.table.set_index("algorithm")
    assert list(tr.table.algorithm) == ["A", "B", "C"] and set(tr.table.surface) == {"I"}
    assert t.loc["A", "lr"] == 0.3 and t.loc["B", "lr"] == 0.1 and math.isnan(t.loc["C", "lr"])
    assert tr.success("A", "I") == 90.0
    with pytest.raises(ValueError, match="surface='IV'"):
        tr.success("A", "IV")
    # the rows of III are kept when asked for
    assert set(benchmark.tuned_rates(df, surface_labels=["I", "III"]).table.surface) == {"I", "III"}


@pytest.mark.parametrize("k, n, reaches", [(30, 30, False), (59, 59, True), (58, 58, False),
                                           (200, 200, True), (196, 200, True), (195, 200, False)])
def test_reaching_the_minimum_is_a_lower_confidence_bound_not_a_rate(k, n, reaches):
    df = _sweep([("A", 0.1, True, "I", 100 * k / n, k, n, 0.0)])
    tr = benchmark.tuned_rates(df)
    want = 100 * sps.beta.ppf(1 - benchmark.REACH_LEVEL, k, n - k + 1)  # Clopper-Pearson, one-sided
    assert tr.table.lower_pct.iloc[0] == pytest.approx(want, rel=1e-9)
    assert bool(tr.table.reaches.iloc[0]) is reaches
    assert tr.reaching("I") == (("A",) if reaches else ())
    f = tr.facts()
    assert f["n_reach_I"] == int(reaches) and f["reach_I_names"] == ("A" if reaches else "none")
    assert f["reach_share_pct"] == 95.0 and f["reach_level_pct"] == 95.0


def test_tuned_rates_facts_name_the_best():
    df = _sweep([("Adam", 0.1, True, "IV", 60.0, 60, 100, 0.3), ("Momentum", 0.1, True, "IV", 60.0, 60, 100, 0.4),
                 ("AdaGrad", 0.1, True, "IV", 20.0, 20, 100, 0.9)])
    f = benchmark.tuned_rates(df).facts()
    assert f["best_tuned_IV"] == 60.0 and f["best_tuned_IV_name"] == "Adam, Momentum"
    assert f["adagrad_tuned_IV"] == 20.0 and f["n_algorithms"] == 3 and f["n_reach_IV"] == 0


def test_tuned_rates_rejects_bad_input():
    with pytest.raises(ValueError, match="lacks columns"):
        benchmark.tuned_rates(pd.DataFrame({"algorithm": ["A"]}))
    df = _sweep([("A", 0.1, True, "I", 100.0, 10, 10, 0.0)])
    with pytest.raises(ValueError, match="share"):
        benchmark.tuned_rates(df, share=1.0)
    with pytest.raises(ValueError, match="not in the sweep"):
        benchmark.tuned_rates(df, surface_labels=["II"])
    with pytest.raises(ValueError, match="no rows"):
        benchmark.tuned_rates(df.iloc[:0])


def test_lr_sweep_counts_agree_with_rates_and_feed_tuned_rates():
    x0 = benchmark.starts(12, seed=1)
    sweep = benchmark.lr_sweep(["BGD", "AdaDelta"], [0.01, 0.3], ["case1", "case3"], x0, max_iter=200)
    assert (sweep.n == 12).all()
    np.testing.assert_allclose(sweep.success_pct, 100 * sweep.successes / sweep.n)
    tr = benchmark.tuned_rates(sweep)
    assert set(tr.table.surface) == {"I"}  # case3 has no minimum
    bgd = tr.table.set_index("algorithm").loc["BGD"]
    # lr 0.3 brings every start of x^2 + y^2 to the minimum in far fewer than 200 updates
    assert bgd.lr == 0.3 and bgd.successes == 12
    assert math.isnan(tr.table.set_index("algorithm").loc["AdaDelta", "lr"])


def _runs(pct):
    pct = np.asarray(pct, dtype=float)[None, None]
    return benchmark.SurveyRuns(algorithms=("Momentum",), rules=("Momentum",), surfaces=("I",), start=(-2.0, 2.0),
                                loss=np.zeros_like(pct), points=np.zeros((*pct.shape, 2)), pct=pct,
                                hyperparameters={"Momentum": {}}, peaks_coefficient=5.0)


def test_share_printed_as_follows_the_printed_rounding():
    r = _runs([0.0, -50.0, -99.994, -99.996, -100.0, np.nan])
    # -99.996 and -100 print as -100.00; -99.994 prints as -99.99; NaN never counts
    assert r.share_printed_as("Momentum", "I") == pytest.approx(2 / 6)
    assert r.share_printed_as("Momentum", "I", 0.0) == pytest.approx(1 / 6)
    assert r.share_printed_as("Momentum", "I", -100.0, decimals=1) == pytest.approx(3 / 6)
    with pytest.raises(ValueError, match="'Adam' is not among Momentum"):
        r.share_printed_as("Adam", "I")
    with pytest.raises(ValueError, match="surface='IV'"):
        r.share_printed_as("Momentum", "IV")


def test_share_printed_as_on_a_real_run():
    # BGD on x^2 + y^2 with lr 0.1: x_t = 0.8^t x_0, so pct_t = 100 (0.64^t - 1) prints as -100.00 from t = 23 on
    r = benchmark.survey_runs(algorithms=["BGD"], lr=0.1)
    t = np.arange(1001)
    want = np.mean(np.round(100 * (0.64**t - 1), 2) == -100.0)
    assert 0.9 < want < 1 and r.share_printed_as("BGD", "I") == pytest.approx(want, abs=1.5 / 1001)


def test_extra_algorithms_table_and_the_variance_reduction_verdict():
    import lls_core.optimizers as opt

    x0 = benchmark.starts(24, seed=3)
    e = benchmark.extra_algorithms(x0, ("case1", "case2"), max_iter=300)
    assert list(dict.fromkeys(e.table.algorithm)) == ["SGD", "SVRG", "SARAH", "NAG", "SPSA"]
    assert set(e.table.surface) == {"I", "II"} and len(e.table) == 10
    assert list(e.comparisons.algorithm) == ["SVRG", "SARAH"]
    # mini-batch noise keeps SGD away from the minimum; the corrected estimates do not
    assert (e.comparisons.verdict == "supported").all()
    assert (e.comparisons.cl < 0.5).all() and (e.comparisons["median"] < e.comparisons.median_sgd).all()
    f = e.facts()
    assert f["svrg_verdict"] == "supported" and f["sgd_median"] > f["svrg_median"] and f["vr_alpha_pct"] == 5.0
    # without noise (a = b = 0) all three are gradient descent: nothing to resolve
    quiet = opt.FiniteSumOracle.make(n=10, batch_size=2, scale_a=0.0, scale_b=0.0)
    e0 = benchmark.extra_algorithms(x0, ("case1",), oracle=quiet, max_iter=50)
    assert (e0.comparisons.verdict == "not resolved").all()
    assert (abs(e0.comparisons.cl - 0.5) < 0.05).all()  # equal up to rounding


def test_extra_algorithms_refuses_a_surface_without_a_minimum():
    with pytest.raises(ValueError, match="case3"):
        benchmark.extra_algorithms(benchmark.starts(4), ("case1", "case3"))
    with pytest.raises(ValueError, match="lr"):
        benchmark.extra_algorithms(benchmark.starts(4), lr=-0.1)


def test_table4_patterns_on_the_survey_runs():
    runs = benchmark.survey_runs()
    table = benchmark.survey_table4(runs=runs)
    p = benchmark.table4_patterns(runs, table)
    assert p.n_defined == 30 and p.n_max_zero == 30  # Surface III undefined; no run rises above its start
    assert p.f0_case3 == 0.0 and p.bgd_sgd_identical and p.n_rows == 40
    assert p.mode_eq_min == int((table.Mode == table.Min).sum())
    # the lowest end on Surface IV: near f = 0 on the plateau, far from the global minimum (about -2.83 for c = 5)
    assert 0 < p.iv_fT < 1e-3 < p.iv_f0 and p.iv_gmin_value < -2 and p.iv_distance > 3
    assert p.share_at_minus_100["BGD"] == 0.0 and 0.5 < p.share_at_minus_100["Momentum"] < 1
    f = p.facts()
    assert f["bgd_sgd_equal"] == "identical" and f["momentum_I_at_min"] == 100 * p.share_at_minus_100["Momentum"]
    # a table whose SGD row differs is reported as such
    t2 = table.copy()
    t2.loc[t2.algorithm == "SGD", "Min"] += 1.0
    assert benchmark.table4_patterns(runs, t2).facts()["bgd_sgd_equal"] == "different"
    with pytest.raises(ValueError, match="algorithms"):
        benchmark.table4_patterns(runs, table[table.algorithm != "Adam"])


def test_claim_facts_names_every_claim():
    frame = pd.DataFrame({"claim": list(benchmark.CLAIM_KEYS), "estimate": [f"e{i}" for i in range(len(benchmark.CLAIM_KEYS))],
                          "verdict": ["supported", "not resolved"] * (len(benchmark.CLAIM_KEYS) // 2)})
    f = benchmark.claim_facts(frame, suffix="_10")
    assert len(f) == 2 * len(benchmark.CLAIM_KEYS)
    assert f["adadelta_iv_10"] == "supported" and f["adadelta_iv_10_est"] == "e0"
    assert f["start_ii_10"] == "not resolved"
    assert set(benchmark.claim_facts(frame)) == {k + e for k in benchmark.CLAIM_KEYS.values() for e in ("", "_est")}
    with pytest.raises(ValueError, match="no short name"):
        benchmark.claim_facts(pd.DataFrame({"claim": ["x"], "estimate": ["1"], "verdict": ["supported"]}))
    with pytest.raises(ValueError, match="lacks columns"):
        benchmark.claim_facts(frame[["claim"]])
