"""lls_core.benchmark.survey_table4 and the survey's verdicts: the printed Table 4 recomputed."""

import math

import numpy as np
import pytest
import torch

from lls_core import benchmark, optimizers as opt, stats

COLS = list(stats.TABLE4_COLUMNS)


@pytest.fixture(scope="module")
def runs():
    return benchmark.survey_runs()


@pytest.fixture(scope="module")
def table(runs):
    return benchmark.survey_table4(runs=runs)


def test_survey_setting_reproduces_the_printed_table(table):
    pub = benchmark.published_table4()
    assert list(table.columns) == list(pub.columns)
    assert table[["id", "algorithm", "surface"]].equals(pub[["id", "algorithm", "surface"]])
    cmp = benchmark.compare_table4(table)
    assert int(cmp.match.sum()) >= 38
    assert int(cmp.match.sum()) == 40, cmp[~cmp.match]
    assert float(cmp.max_abs_diff.max()) <= 0.01 + 1e-9


def test_ruders_rules_miss_exactly_the_three_variant_algorithms():
    t = benchmark.survey_table4(algorithms=["Adam", "AdaDelta", "Adamax", "Nadam"], variants={})
    pub = benchmark.published_table4()
    cmp = benchmark.compare_table4(t, pub[pub.algorithm.isin(["Adam", "AdaDelta", "Adamax", "Nadam"])])
    missed = cmp[~cmp.match & (cmp.surface != "III")]
    assert set(missed.algorithm) == {"AdaDelta", "Adamax", "Nadam"}
    assert cmp[cmp.algorithm == "Adam"].match.all()


def test_adadelta_eps_inside_the_root_misses_surface_iv_only():
    t = benchmark.survey_table4(algorithms=["AdaDelta"], variants={}, hypers={"AdaDelta": {"gamma": 0.95}})
    pub = benchmark.published_table4()
    cmp = benchmark.compare_table4(t, pub[pub.algorithm == "AdaDelta"])
    assert cmp.set_index("surface").match.to_dict() == {"I": True, "II": True, "III": True, "IV": False}
    iv = cmp.set_index("surface").loc["IV"]
    assert 0.05 < abs(iv["Med"]) < 0.2 and 0.01 < iv["max_abs_diff"] < 2


def test_artefacts_explained_by_the_computation(runs, table):
    # every Max is 0 (t = 0): the values never rise above the start on I, II, IV
    defined = ~np.isnan(runs.pct).all(-1)
    assert defined[:, 2].sum() == 0 and defined[:, [0, 1, 3]].all()
    np.testing.assert_array_equal(np.nanmax(runs.pct[:, [0, 1, 3]], axis=-1), 0.0)
    # Surface III: f(-2, 2) = 0, the percentage divides by zero
    assert (runs.loss[:, 2, 0] == 0).all()
    assert (table[table.surface == "III"][COLS] == 0).all().all()
    nan_t = benchmark.survey_table4(algorithms=["BGD"], undefined="nan")
    assert nan_t[nan_t.surface == "III"][COLS].isna().all().all()
    # -100 on IV: AdaDelta slid from f = 0.0387 onto the plateau f ~ 0, far from the minimum
    i = runs.algorithms.index("AdaDelta")
    assert runs.loss[i, 3, 0] == pytest.approx(0.038741487, abs=1e-8)
    assert abs(runs.loss[i, 3, -1]) < 1e-4
    gmin = benchmark.peaks_surface(5.0).global_minima[0]
    assert np.linalg.norm(runs.points[i, 3, -1] - np.asarray(gmin)) > 1.0
    assert benchmark.peaks_surface(5.0).value(*gmin) < -2.5  # c = 5: global minimum -2.83
    # identical BGD/SGD rows (no gradient noise) and identical I/II rows (scale invariance, diagonal start)
    num = table.set_index(["algorithm", "surface"])[COLS]
    assert num.loc["BGD"].equals(num.loc["SGD"])
    for name in ("AdaGrad", "RMSProp", "Adam", "Adamax", "Nadam"):
        np.testing.assert_allclose(num.loc[(name, "I")], num.loc[(name, "II")], atol=1e-6)
    assert not np.allclose(num.loc[("BGD", "I")], num.loc[("BGD", "II")])


def test_bgd_value_in_closed_form(runs):
    i = runs.algorithms.index("BGD")
    t = np.arange(1001)
    np.testing.assert_allclose(runs.pct[i, 0], 100 * ((1 - 0.002) ** (2 * t) - 1), rtol=1e-10, atol=1e-10)


def test_peaks_coefficient_ten_misses_surface_iv():
    t = benchmark.survey_table4(algorithms=["BGD"], peaks_coefficient=10.0)
    cmp = benchmark.compare_table4(t, benchmark.published_table4().query("algorithm == 'BGD'"))
    assert cmp.set_index("surface").match.to_dict() == {"I": True, "II": True, "III": True, "IV": False}


@pytest.mark.parametrize("kw, match", [
    ({"lr": -1.0}, "lr"), ({"n_updates": 0}, "n_updates"), ({"start": (1.0,)}, "start"),
    ({"start": (math.nan, 1.0)}, "start"), ({"variants": {"Foo": "Adam"}}, "variants"),
    ({"undefined": "drop"}, "undefined"), ({"conventions": "pandas"}, "conventions"),
    ({"hypers": {"Adam": {"lr": 0.1}}, "algorithms": ["BGD"]}, "hypers"),
])
def test_bad_arguments_raise(kw, match):
    with pytest.raises(ValueError, match=match):
        benchmark.survey_table4(**kw)


def test_compare_table4_flags_a_changed_cell():
    pub = benchmark.published_table4()
    ours = pub.copy()
    ours.loc[5, "Var"] += 0.02
    cmp = benchmark.compare_table4(ours, pub)
    assert int(cmp.match.sum()) == 39 and not cmp.match.iloc[5]
    with pytest.raises(ValueError, match="lacks"):
        benchmark.compare_table4(ours.drop(columns="Kurt"), pub)


# ---------------------------------------------------------------- statistics conventions
def test_survey_conventions_are_numpy_scipy_defaults():
    from scipy import stats as sps

    a = np.random.default_rng(0).gamma(2.0, 3.0, size=501)
    s = stats.describe(a, "survey")
    assert s.Var == pytest.approx(np.var(a), rel=1e-12) and s.SD == pytest.approx(np.std(a), rel=1e-12)
    assert s.Skew == pytest.approx(sps.skew(a), rel=1e-12)
    assert s.Kurt == pytest.approx(sps.kurtosis(a), rel=1e-12)
    assert s.Mode == a.min()  # scipy.stats.mode: all values differ -> the smallest
    assert stats.describe([1.0, 2.0, 2.0, 5.0], "survey").Mode == 2.0
    b = stats.describe(a)
    assert b.Var > s.Var and b.Mode != s.Mode and b.Min == s.Min and b.Q3 == s.Q3
    with pytest.raises(ValueError, match="conventions"):
        stats.describe(a, "excel")


def test_compare_proportions_rank_test_and_bootstrap_difference():
    from scipy import stats as sps

    c = stats.compare_proportions(40, 50, 10, 50)
    assert c.supports("greater") and not c.supports("less")
    assert c.p_greater == pytest.approx(sps.fisher_exact([[40, 10], [10, 40]], alternative="greater")[1])
    assert c.ci_a[0] < 0.8 < c.ci_a[1]
    null = stats.compare_proportions(25, 50, 25, 50)
    assert not null.supports("greater") and not null.supports("less")
    with pytest.raises(ValueError, match="k <= n"):
        stats.compare_proportions(5, 3, 1, 2)
    rng = np.random.default_rng(0)
    a, b = rng.normal(0.5, 1, 400), rng.normal(0, 1, 400)
    r = stats.rank_test(a, b)
    assert r.p_greater < 1e-6 and r.p_less > 0.5 and r.cl_ci[0] > 0.5
    assert r.cl == pytest.approx(stats.compare(a, b, n_boot=200).cl, rel=1e-12)
    assert stats.rank_test([3, 4, 5, 6], [0, 1, 2, 3]).cl == pytest.approx(0.96875)
    d = stats.bootstrap_difference(rng.standard_t(3, 2000), rng.normal(size=2000), "kurtosis", n_boot=300)
    assert d.supports("greater") and d.diff == pytest.approx(d.value_a - d.value_b)
    flat = stats.bootstrap_difference(np.zeros(10), rng.normal(size=10), "kurtosis", n_boot=200)
    assert math.isnan(flat.diff) and not flat.supports("greater")
    with pytest.raises(ValueError, match="statistic"):
        stats.bootstrap_difference(a, b, "mode")


# ---------------------------------------------------------------- the verdicts
def test_start_dependence_separates_rotation_invariant_and_adaptive_rules():
    dep = benchmark.start_dependence(["BGD", "Adam"], n=32, max_iter=300).set_index(["optimizer", "surface"])
    assert dep.loc[("BGD", "I"), "constant"] and dep.loc[("BGD", "I"), "p"] == 1.0
    assert not dep.loc[("BGD", "II"), "constant"] and dep.loc[("BGD", "II"), "p"] < 1e-3
    assert dep.loc[("Adam", "I"), "p"] < 1e-3  # coordinate-wise scaling: the start direction matters on I
    it = benchmark.start_dependence(["BGD"], n=16, outcome="iterations").set_index("surface")
    assert it.loc["I", "constant"] and it.loc["I", "median"] < 1001
    with pytest.raises(ValueError, match="homogeneous"):
        benchmark.start_dependence(["BGD"], ["case3"], n=16)
    with pytest.raises(ValueError, match="outcome"):
        benchmark.start_dependence(["BGD"], n=16, outcome="speed")


def test_survey_claims_table():
    x0 = benchmark.starts(40, seed=1)
    res = benchmark.run_benchmark(opt.SURVEY_TEN, ["case1", "case2", "case3", benchmark.peaks_surface(5.0)], x0,
                                  max_iter=300)
    dep = benchmark.start_dependence(["BGD"], n=16, max_iter=300)
    t = benchmark.survey_claims(res, dependence=dep, n_boot=200)
    assert list(t.columns) == ["claim", "where", "test", "estimate", "interval", "p", "p_holm", "verdict"]
    assert len(t) == 10 and set(t.verdict) <= {"supported", "contradicted", "not resolved"}
    v = t.set_index("claim").verdict
    assert v["start does not matter on Use Case I (BGD)"] == "supported"
    assert v["start matters on Use Case II (BGD)"] == "supported"
    ok = t.p_holm.notna()
    assert (t.p_holm[ok] >= t.p[ok] - 1e-15).all()
    f = benchmark.claim_facts(t)  # every claim the table makes has a short name for the prose
    assert f["start_i"] == "supported" and len(f) == 2 * len(t)
    with pytest.raises(ValueError, match="ten survey algorithms"):
        benchmark.survey_claims({k: res[k] for k in list(res)[:3]})


def test_peaks_surface_critical_points():
    s5 = benchmark.peaks_surface(5.0)
    assert s5.minima and s5.name == "peaks_c5"
    assert benchmark.peaks_surface(10.0).name == "case4"
    g = s5.grad(torch.tensor([list(s5.global_minima[0])], dtype=torch.float64))
    assert float(g.norm()) < 1e-8
    r = benchmark.run_benchmark(["BGD"], ["peaks_c5"], benchmark.starts(4), max_iter=5)
    assert np.isfinite(benchmark.per_run_figures(r["BGD"])["distance"]).all()


def test_runs_argument_refuses_changed_run_settings(runs):
    with pytest.raises(ValueError, match="runs= was given"):
        benchmark.survey_table4(runs=runs, lr=0.01)
    t = benchmark.survey_table4(runs=runs, conventions="book")
    assert t.loc[0, "Var"] > benchmark.survey_table4(runs=runs).loc[0, "Var"]  # ddof 1 > ddof 0


def test_published_file_names_its_source():
    from lls_core import resources

    lines = resources.files("published", "survey_table4.csv").read_text().splitlines()
    assert lines[0].startswith("# source:") and "Table 4" in lines[0]
    assert not any("seed" in line for line in lines if line.startswith("#"))


def test_table4_facts_summarise_the_comparison(table):
    cmp = benchmark.compare_table4(table)
    f = benchmark.table4_facts(cmp)
    assert f["t4_rows"] == len(cmp) == 40 and f["t4_match"] == int(cmp.match.sum())
    assert f["t4_maxdiff"] == float(cmp.max_abs_diff.max())
    shifted = cmp.copy()
    shifted.loc[0, "Min"] = 0.5  # one more differing cell, outside the tolerance
    assert benchmark.table4_facts(shifted)["t4_ncells_diff"] == f["t4_ncells_diff"] + (cmp.loc[0, "Min"] == 0)
