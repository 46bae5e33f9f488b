"""Claims table and third-optimizer comparison on synthetic weight sets with known answers (no training)."""

import numpy as np
import pandas as pd
import pytest
import torch

from lls_core import data, landscape, models, resources, stats, topography


def _fake(k=12, d=300, seed=0):
    """BFGS sets on an outer shell, SGD sets on an inner one, LBFGS sets on the outer one too."""
    g = torch.Generator().manual_seed(seed)

    def shell(r):
        u = torch.randn(k, d, generator=g, dtype=torch.float64)
        return r * u / u.norm(dim=1, keepdim=True)

    sets = {"BFGS-train": shell(2.0), "BFGS-test": shell(1.9), "SGD-train": shell(1.0), "SGD-test": shell(1.0),
            "LBFGS-train": shell(2.0), "LBFGS-test": shell(1.9)}
    ds = data.Dataset("none", torch.zeros(1), torch.zeros(1), torch.zeros(1), torch.zeros(1))
    return topography.Topography("fcp", "synthetic", k, k, models.build("fcp"), ds, sets)


def _bars(topo, high=("BFGS-train", "BFGS-test", "LBFGS-train"), n=10, seed=1, pairs=None):
    """Synthetic barriers on disjoint pairs (the same pairs for every set): ``high`` sets get heights
    in [2, 3], the others in [0.1, 1]."""
    rng = np.random.default_rng(seed)
    out = {}
    pairs = landscape.disjoint_pairs(2 * n, n, seed=0) if pairs is None else pairs
    for s in topo.sets:
        for w in ("train", "test"):
            h = rng.uniform(2.0, 3.0, n) if s in high else rng.uniform(0.1, 1.0, n)
            out[(s, w)] = landscape.PairPaths(s, w, landscape.PathConfig(), pairs, h, h, h,
                                             np.zeros(n), np.zeros(n))
    return out


def _sharp(topo, seed=2):
    rng = np.random.default_rng(seed)
    k = next(iter(topo.sets.values())).shape[0]
    return {s: landscape.SharpnessSet(s, rng.uniform(10, 20, k) if "BFGS" in s else rng.uniform(1, 2, k),
                                      rng.uniform(1, 2, k), np.zeros(k)) for s in topo.sets}


def _verdicts(table, key, arch="fcp"):
    f = table.frame
    return f[(f["key"] == key) & (f["arch"] == arch)]["verdict"].tolist()


def test_claims_supported_when_the_data_say_so():
    topo = _fake()
    table = topography.claims(topo, _bars(topo), _sharp(topo), n_boot=300)
    f = table.frame
    assert set(f.columns) >= {"arch", "claim", "evidence", "sets", "landscape", "n", "statistic", "estimate", "lo",
                              "hi", "p", "p_holm", "verdict"}
    assert set(f["arch"]) == {"fcp"}  # one Topography: its rows only
    assert _verdicts(table, "barriers_sgd_lower") == ["supported"] * 4
    assert _verdicts(table, "spread") == ["supported"] * 2
    assert _verdicts(table, "longer") == ["supported"]
    assert _verdicts(table, "far_apart") == ["supported"]
    assert _verdicts(table, "kpca_rbf") == ["supported"]
    assert _verdicts(table, "sharper") == ["supported"] * 2
    # concentric shells with random directions: the centroids coincide up to sampling noise
    assert _verdicts(table, "centroid_gap") == ["supported"]
    # every verdict comes from the package's list and Holm never lowers a p-value
    assert f["verdict"].isin(stats.VERDICTS).all(), f[["claim", "verdict"]]
    assert (f["p_holm"] >= f["p"] - 1e-12).all()
    facts = table.facts()
    assert facts["n_rows"] == len(f) and facts["n_supported"] >= 12 and facts["n_contradicted"] == 0


def test_no_difference_is_never_supported_without_equivalence():
    """Linear PCA on concentric shells: no separation, but with 12 + 12 solutions the AUC interval is
    wider than the margin: "not resolved", never "supported"; with many solutions it is "equivalent"."""
    small = topography.claims(_fake(k=12), None, None, n_boot=300, keys=["kpca_linear"])
    assert _verdicts(small, "kpca_linear") == ["not resolved"]
    big = topography.claims(_fake(k=150, d=400), None, None, n_boot=300, keys=["kpca_linear"])
    v = big.frame.iloc[0]
    assert v["verdict"] == "equivalent (supported)", v
    assert 0.35 < v["lo"] and v["hi"] < 0.65


def test_claims_contradicted_when_sgd_barriers_are_higher():
    topo = _fake()
    table = topography.claims(topo, _bars(topo, high=("SGD-train", "SGD-test")), None, n_boot=300)
    assert _verdicts(table, "barriers_sgd_lower") == ["contradicted"] * 4


def test_equal_barriers_are_not_resolved():
    """Both sets drawn from one distribution: the difference is zero, and so is the support."""
    topo = _fake()
    table = topography.claims(topo, _bars(topo, high=()), None, n_boot=300, keys=["barriers_sgd_lower"])
    assert _verdicts(table, "barriers_sgd_lower") == ["not resolved"] * 4


def test_overlapping_pairs_are_reduced_to_a_disjoint_subset():
    topo = _fake()
    overlapping = np.array([[0, 1], [0, 2], [1, 2], [0, 3], [2, 3], [4, 5], [0, 4], [6, 7], [2, 4], [3, 4]])
    sub = topography.disjoint_subset(_bars(topo, pairs=overlapping)[("SGD-train", "train")])
    np.testing.assert_array_equal(sub.pairs, [[0, 1], [2, 3], [4, 5], [6, 7]])
    assert sub.height.shape == (4,) and np.unique(sub.pairs).size == 8
    table = topography.claims(topo, _bars(topo, pairs=overlapping), None, n_boot=300, keys=["barriers_sgd_lower"])
    assert (table.frame["n"] == "4/4 pairs (disjoint, of 10/10)").all()


def test_missing_architectures_and_sets_say_what_they_need():
    topo = _fake()
    table = topography.claims({"fcp": topo}, {"fcp": _bars(topo)}, None, n_boot=200)
    f = table.frame
    assert set(f["arch"]) == {"fcp", "lenet", "autoencoder", "lstm"}
    assert (f.loc[f["arch"] == "lenet", "verdict"] == "needs lenet").all()
    assert (f.loc[(f["arch"] == "fcp") & (f["key"] == "sharper"), "verdict"] == "needs curvature").all()
    # every claim of the paper has a row for every architecture
    keys = {"barriers_sgd_lower", "barriers_train_vs_test", "spread", "far_apart", "longer", "centroid_gap",
            "test_gap", "kpca_rbf", "kpca_linear", "kpca_poly", "kpca_sigmoid", "kpca_rbf_test", "sharper"}
    for a in ("fcp", "lenet", "autoencoder", "lstm"):
        assert set(f.loc[f["arch"] == a, "key"]) == keys
    # the paper's per-architecture expectations
    tvt = f[f["key"] == "barriers_train_vs_test"].groupby("arch")["expect"].first()
    assert tvt["fcp"] == tvt["lstm"] == "above 0.5" and tvt["lenet"].startswith("below 0.65")
    gap = f[f["key"] == "test_gap"].set_index("arch")["claim"]
    assert "shrinks" in gap["fcp"] and "shrinks" in gap["lenet"] and "persists" in gap["lstm"]
    assert table.facts()["n_needs"] >= 3 * 13


def test_train_vs_test_barriers_are_paired_run_for_run():
    topo = _fake()
    bars = _bars(topo, high=("BFGS-train",))
    table = topography.claims(topo, bars, None, n_boot=300, keys=["barriers_train_vs_test"])
    f = table.frame
    bfgs = f[f["sets"] == "BFGS-train vs BFGS-test"].iloc[0]
    assert bfgs["verdict"] == "supported" and "paired" in bfgs["n"]
    sgd = f[f["sets"] == "SGD-train vs SGD-test"].iloc[0]
    assert sgd["verdict"] == "not resolved"


def test_claims_changes_lists_rows_whose_verdict_moved():
    topo = _fake()
    a = topography.claims(topo, _bars(topo), None, n_boot=200, keys=["barriers_sgd_lower"])
    b = topography.claims(topo, _bars(topo, high=("SGD-train", "SGD-test")), None, n_boot=200,
                          keys=["barriers_sgd_lower"])
    ch = topography.claims_changes(a, b)
    assert len(ch) == 4 and set(ch["verdict_after"]) == {"contradicted"}
    assert topography.claims_changes(a, a).empty


def test_disjoint_pairs_use_every_solution_once():
    p = landscape.disjoint_pairs(11, seed=3)
    assert p.shape == (5, 2) and np.unique(p).size == 10 and (p[:, 0] < p[:, 1]).all()
    np.testing.assert_array_equal(p, landscape.disjoint_pairs(11, seed=3))
    assert not np.array_equal(p, landscape.disjoint_pairs(11, seed=4))
    assert landscape.disjoint_pairs(6, 2, seed=0).shape == (2, 2)
    with pytest.raises(ValueError, match="n_pairs"):
        landscape.disjoint_pairs(6, 4)
    with pytest.raises(ValueError, match="at least 2"):
        landscape.disjoint_pairs(1)


def test_verdict_rejects_unknown_expectation():
    c = stats.compare([1.0, 2.0, 3.0], [1.0, 2.0, 3.0], n_boot=100)
    with pytest.raises(ValueError, match="expect"):
        topography.verdict(c, "bigger")


def test_resemblance_places_lbfgs_with_bfgs():
    topo = _fake()
    res = topography.resemblance(topo, _bars(topo), _sharp(topo), n_boot=300)
    assert isinstance(res, pd.DataFrame) and len(res) == 5
    # distances, barriers and top eigenvalue are built to match BFGS; the trace is random noise
    decided = res[res["metric"] != "Hessian trace"]
    assert (decided["closer_to"] == "BFGS-train").all(), res[["metric", "closer_to"]]
    with pytest.raises(KeyError, match="NOPE"):
        topography.resemblance(topo, third="NOPE")


def test_published_table_s1_is_labelled_and_complete():
    pub = topography.published_table_s1()
    assert len(pub) == 16 and set(pub["arch"]) == set(models.ARCHITECTURES)
    row = pub[(pub.arch == "fcp") & (pub["set"] == "BFGS-train")].iloc[0]
    assert row["std"] == pytest.approx(0.234)
    with resources.files("published", "yu_morozov_table_s1.csv").open() as f:
        header = "".join(line for line in f if line.startswith("#")).lower()
    assert "published" in header and "2602.21276" in header


def test_path_profiles_are_valid_and_ordered():
    p = topography.PATH_PROFILES
    assert p["paper"].n_points == 51 and p["paper"].steps == 100 and p["paper"].n_terms == 10
    assert p["smoke"].n_points <= p["quick"].n_points <= p["paper"].n_points


def test_autoencoder_exception_is_checked_the_other_way():
    topo = _fake()
    ae = topography.Topography("autoencoder", "synthetic", topo.n_inits, topo.k_best, topo.model, topo.dataset,
                               topo.sets)
    table = topography.claims(ae, _bars(ae), None, n_boot=300)
    rows = table.frame[table.frame["claim"].str.startswith("autoencoder exception")]
    assert len(rows) == 4 and (rows["verdict"] == "contradicted").all()
    flat = topography.claims(ae, _bars(ae, high=()), None, n_boot=300)
    rows = flat.frame[flat.frame["claim"].str.startswith("autoencoder exception")]
    # 10 pairs per set drawn from one distribution: no BFGS excess, but not shown to be below the margin either
    assert set(rows["verdict"]) <= {"not resolved", "no excess (supported)"} and "contradicted" not in set(rows["verdict"])
    many = topography.claims(ae, _bars(ae, high=(), n=200), None, n_boot=300, keys=["barriers_sgd_lower"])
    assert (many.frame["verdict"] == "no excess (supported)").all()


def test_all_barriers_reuses_the_store_without_starting_dask(tmp_path, monkeypatch, trained_set):
    model, x, y, w = trained_set(k=3)
    ds = data.Dataset("tiny", x, y, x[:30], y[:30])
    topo = topography.Topography("fcp", "synthetic", 3, 3, model, ds, {"SGD-train": w, "BFGS-train": w.flip(0)},
                                 store_root=str(tmp_path))
    cfg = landscape.PathConfig(n_points=5, steps=2)
    first = topography.all_barriers(topo, n_pairs=2, config=cfg)
    assert len(first) == 4 and all(b.n_cached == 0 for b in first.values())
    assert topography.pair_store(topo).dir == tmp_path / "pairs" / "fcp"  # a namespace of the run store
    assert any((tmp_path / "pairs" / "fcp").glob("*.npz"))

    import dask.distributed

    def boom(*a, **k):
        raise AssertionError("a cluster was started although every path is stored")

    monkeypatch.setattr(dask.distributed, "LocalCluster", boom)
    again = topography.all_barriers(topo, n_pairs=2, config=cfg, workers=2)
    assert all(b.n_cached == 2 for b in again.values())
    # disjoint pairing: 3 solutions make one pair, found among the stored ones
    one = topography.all_barriers(topo, n_pairs=2, config=cfg, seed=0, pairing="disjoint")
    assert all(len(b.height) == 1 for b in one.values())
    with pytest.raises(ValueError, match="pairing"):
        topography.all_barriers(topo, n_pairs=2, config=cfg, pairing="overlapping")
    np.testing.assert_allclose(again[("SGD-train", "test")].height, first[("SGD-train", "test")].height)
    frame = topography.barrier_frame(again)
    assert len(frame) == 8 and set(frame["landscape"]) == {"train", "test"}


def test_centroid_gap_far_apart_is_contradicted():
    topo = _fake(k=20)
    sets = dict(topo.sets)
    shift = torch.zeros(sets["SGD-test"].shape[1], dtype=torch.float64)
    shift[0] = 3.0  # the SGD centroid moves by 3 against spreads of 1 and 2
    sets["SGD-test"] = sets["SGD-test"] + shift
    moved = topography.Topography("fcp", "synthetic", 20, 20, topo.model, topo.dataset, sets)
    table = topography.claims(moved, None, None, n_boot=400, keys=["centroid_gap"])
    row = table.frame.iloc[0]
    assert row["verdict"] == "contradicted" and row["lo"] > topography.SMALL_GAP, row


def test_sensitivity_table_marks_settings_that_flip_a_verdict(monkeypatch):
    topo = _fake()
    calls = []

    def fake_all_barriers(t, *, n_pairs, config, seed=0, sets=None, **kw):
        calls.append((t.profile, config.lam))
        # SGD lower at small lambda, equal from lambda = 1e-2 on; the "safe" sets: always lower
        high = ("BFGS-train", "BFGS-test") if (config.lam < 1e-2 or t.profile == "safe") else ()
        return {k: v for k, v in _bars(t, high=high).items() if k[0] in sets}

    monkeypatch.setattr(topography, "all_barriers", fake_all_barriers)
    monkeypatch.setattr(topography, "_variant_topography",
                        lambda t, mode, **kw: topography.Topography(t.arch, mode, t.n_inits, t.k_best, t.model,
                                                                   t.dataset, t.sets))
    sens = topography.sensitivity({"fcp": topo}, config=landscape.PathConfig(), n_pairs=10, n_boot=200)
    assert sens.settings == ("λ = 0.0001", "λ = 0.001", "λ = 0.01", "λ = 1", "mode = authors", "mode = safe")
    f = sens.frame
    assert len(f) == 4 and not f["stable"].any()
    assert (f["λ = 0.001"] == "supported").all() and (f["λ = 1"] == "not resolved").all()
    assert (f["mode = safe"] == "supported").all()
    assert sens.facts() == {"n_rows": 4, "n_stable": 0, "n_changed": 4, "n_settings": 6}
    assert len(calls) == 5  # four lambdas, one retrained mode; "authors" reuses the lambda = 1e-3 column
    with pytest.raises(ValueError, match="mode"):
        topography.sensitivity({"fcp": topo}, config=landscape.PathConfig(), n_pairs=2, modes=("fast",))
    with pytest.raises(ValueError, match="lam"):
        topography.sensitivity({"fcp": topo}, config=landscape.PathConfig(), n_pairs=2, lams=(-1.0,))


def test_sensitivity_checks_architectures_before_work():
    topo = _fake()
    with pytest.raises(ValueError, match="lenet"):
        topography.sensitivity({"fcp": topo}, config=landscape.PathConfig(), n_pairs=2, archs=["lenet"])
    empty = topography.sensitivity({"fcp": topo}, config=landscape.PathConfig(), n_pairs=2, archs=[])
    assert empty.frame.empty and empty.facts()["n_rows"] == 0


def test_authors_path_profile_is_the_published_setting_and_used_by_full_and_paper():
    a = topography.PATH_PROFILES["authors"]
    assert (a.n_points, a.n_terms, a.steps, a.lr, a.lam, a.n_data) == (51, 10, 100, 1e-3, 1e-3, None)
    assert a is topography.AUTHORS_PATHS
    import dataclasses

    for name in ("full", "paper"):
        p = topography.PATH_PROFILES[name]
        assert dataclasses.replace(p, memory_mb=a.memory_mb) == a  # only the chunking bound may differ


def test_height_understatement_from_fine_heights():
    h = np.array([1.0, 2.0, 4.0, 0.5])
    fine = np.array([1.0, 2.1, 4.0, 0.5])
    end = np.array([0.5, 1.5, 4.0, 0.5 * (1 + 1e-7)])  # the last two peak at an end point (float rounding)
    b = landscape.PairPaths("S", "train", landscape.PathConfig(), np.zeros((4, 2), int), h, h, h, end,
                           np.zeros(4), fine_height=fine, max_t=np.array([0.5, 0.4, 1.0, 0.0]))
    u = topography.height_understatement({("S", "train"): b})
    f = u.facts()
    assert f["pairs"] == 4 and f["max"] == pytest.approx(0.1) and f["max_relative"] == pytest.approx(0.05)
    assert f["share_understated"] == pytest.approx(0.25) and f["share_at_end"] == pytest.approx(0.5)
    np.testing.assert_allclose(b.understatement, fine - h)
    no_fine = landscape.PairPaths("S", "test", landscape.PathConfig(), np.zeros((4, 2), int), h, h, h,
                                 np.zeros(4), np.zeros(4))
    assert np.isnan(no_fine.understatement).all()
    both = topography.height_understatement({("S", "train"): b, ("S", "test"): no_fine})
    assert list(both.frame["n"]) == [4, 0] and both.facts()["pairs"] == 4


def _calibration_topo(tmp_path, trained_set):
    model, x, y, w = trained_set(k=5, steps=40)
    ds = data.Dataset("tiny", x, y, x[:30], y[:30])
    return topography.Topography("fcp", "synthetic", 5, 5, model, ds, {"SGD-train": w, "BFGS-train": w.flip(0)},
                                 store_root=str(tmp_path))


def test_calibrate_paths_compares_the_same_pairs_under_both_settings(tmp_path, trained_set):
    topo = _calibration_topo(tmp_path, trained_set)
    build = landscape.PathConfig(n_points=5, steps=1, lr=0.01, fine_points=9)
    ref = landscape.PathConfig(n_points=9, steps=4, lr=0.01, fine_points=17)
    cal = topography.calibrate_paths(topo, build, reference=ref, n_pairs=8, n_boot=200)
    assert len(cal.frame) == 2 * 2 * 8
    # independently: the same pairs from all_barriers (stored now, so loaded)
    bb = topography.all_barriers(topo, n_pairs=8, config=build, sets=["BFGS-train", "SGD-train"])
    br = topography.all_barriers(topo, n_pairs=8, config=ref, sets=["BFGS-train", "SGD-train"])
    assert all(b.n_cached == 8 for b in (*bb.values(), *br.values()))
    diff = np.concatenate([bb[k].height - br[k].height for k in bb])
    assert cal.bias == pytest.approx(diff.mean(), rel=1e-9)
    assert cal.bias_ci[0] <= cal.bias <= cal.bias_ci[1]
    assert -1 <= cal.spearman <= 1 and len(cal.groups) == 4
    # the barrier claims (one per landscape) are the compared verdicts
    assert len(cal.verdicts) == 2 and set(cal.verdicts.columns) >= {"verdict_build", "verdict_reference", "changed"}
    f = cal.facts()
    assert f["pairs"] == 32 and f["verdicts"] == 2 and 0 <= f["verdicts_changed"] <= 2
    # the same settings on both sides: no bias, perfect rank agreement, no verdict changes
    same = topography.calibrate_paths(topo, build, reference=build, n_pairs=8, n_boot=200)
    assert same.bias == 0.0 and same.spearman == pytest.approx(1.0) and same.changed == []
    # a set holding the same vectors as another (the autoencoder's early-stopping weights) is left out:
    # its paths would enter every statistic twice
    twin = topography.Topography("fcp", "synthetic", 5, 5, topo.model, topo.dataset,
                                 {**topo.sets, "BFGS-test": topo.sets["BFGS-train"].clone()}, store_root=str(tmp_path))
    again = topography.calibrate_paths(twin, build, reference=ref, n_pairs=8, n_boot=200)
    assert set(again.frame["set"]) == {"BFGS-train", "SGD-train"} and again.bias == cal.bias


def test_calibrate_paths_bad_input(tmp_path, trained_set):
    topo = _calibration_topo(tmp_path, trained_set)
    cfg = landscape.PathConfig(n_points=5, steps=1)
    with pytest.raises(ValueError, match="at least 8"):
        topography.calibrate_paths(topo, cfg, n_pairs=4)
    with pytest.raises(TypeError, match="build must be a PathConfig"):
        topography.calibrate_paths(topo, {"n_points": 5}, n_pairs=8)
    with pytest.raises(ValueError, match="none of the sets"):
        topography.calibrate_paths(topography.Topography("fcp", "s", 5, 5, topo.model, topo.dataset,
                                                         {"X": topo.sets["SGD-train"]}), cfg, n_pairs=8)


def test_margins_need_enough_values_per_group():
    """Two pairs per set with SGD far above BFGS: every bootstrap resample agrees, but two pairs
    cannot show that the autoencoder's BFGS barriers stay below the margin."""
    topo = _fake()
    ae = topography.Topography("autoencoder", "synthetic", topo.n_inits, topo.k_best, topo.model, topo.dataset,
                               topo.sets)
    few = topography.claims(ae, _bars(ae, high=("SGD-train", "SGD-test"), n=2), None, n_boot=300,
                            keys=["barriers_sgd_lower"])
    assert (few.frame["verdict"] == "not resolved").all(), few.frame[["sets", "estimate", "hi", "verdict"]]
    enough = topography.claims(ae, _bars(ae, high=("SGD-train", "SGD-test"), n=8), None, n_boot=300,
                               keys=["barriers_sgd_lower"])
    assert (enough.frame["verdict"] == "no excess (supported)").all()
    tiny = topography.claims(_fake(k=4), None, None, n_boot=300, keys=["kpca_linear"])
    assert tiny.frame["verdict"].iloc[0] == "not resolved"


def test_all_sharpness_per_set_measures_a_shared_random_subset(trained_set):
    model, x, y, w = trained_set(k=4)
    ds = data.Dataset("tiny", x, y, x[:30], y[:30])
    topo = topography.Topography("fcp", "synthetic", 4, 4, model, ds, {"SGD-train": w, "SGD-test": w.clone()})
    full = topography.all_sharpness(topo, n_probes=2, lanczos_steps=4)
    some = topography.all_sharpness(topo, n_probes=2, lanczos_steps=4, per_set=2)
    assert all(len(s.trace) == 4 for s in full.values()) and all(len(s.trace) == 2 for s in some.values())
    np.testing.assert_allclose(some["SGD-train"].top_eigenvalue, some["SGD-test"].top_eigenvalue)  # same runs
    picked = np.sort(np.random.default_rng(0).choice(4, 2, replace=False))
    np.testing.assert_allclose(some["SGD-train"].top_eigenvalue, full["SGD-train"].top_eigenvalue[picked], rtol=1e-4)
    with pytest.raises(ValueError, match="per_set=1"):
        topography.all_sharpness(topo, per_set=1)


def test_load_checks_per_optimizer_counts_before_work():
    with pytest.raises(ValueError, match="counts names optimizer 'adam'"):
        topography.load("fcp", "smoke", counts={"adam": (3, 2)})
    with pytest.raises(ValueError, match=r"counts\['lbfgs'\]=\(2, 3\)"):
        topography.load("fcp", "smoke", counts={"lbfgs": (2, 3)})


def test_max_at_end_is_one_rule_with_absolute_and_relative_rounding():
    h = np.array([1.0, 1.0 + 5e-10, 1.0 + 5e-7, 1.0 + 2e-6, 0.9, np.nan])
    assert topography.max_at_end(h, np.ones(6)).tolist() == [True, True, True, False, True, False]
    assert topography.max_at_end([1e-9], [0.0]).tolist() == [True]  # LOSS_TOL near a zero loss
    assert topography.max_at_end([3e-9], [0.0]).tolist() == [False]
    with pytest.raises(ValueError, match="same shape"):
        topography.max_at_end([1.0, 2.0], [1.0])


def test_path_summary_counts_lowered_paths_and_maxima_at_an_end():
    f = pd.DataFrame({"arch": ["fcp"] * 4, "landscape": ["train", "train", "test", "test"],
                      "set": ["SGD-train"] * 4, "height": [1.0, 2.0, 3.0, 4.0],
                      "linear_height": [2.0, 2.0, 3.0, 8.0], "barrier": [0.5, 0.0, 0.0, 1e-12],
                      "endpoint_loss": [0.5, 2.0, 3.0, 4.0]})
    s = topography.path_summary(f)
    assert s.lowered_pct == pytest.approx(50.0)  # 1 < 2 and 4 < 8; 2 == 2 and 3 == 3 are not lowered
    assert s.height_ratio == pytest.approx(np.median([0.5, 1.0, 1.0, 0.5]))
    assert s.test_at_end_pct == pytest.approx(100.0)  # 0 and 1e-12 are within the tolerance
    assert s.table.loc[("fcp", "train", "SGD-train"), "share_max_at_end"] == pytest.approx(0.5)
    assert set(s.facts()) == {"lowered_pct", "height_ratio", "test_at_end_pct"}
    with pytest.raises(ValueError, match="missing"):
        topography.path_summary(f.drop(columns="barrier"))


def _claims_frame():
    rows = [
        {"arch": "fcp", "key": "spread", "claim": "BFGS more spread", "sets": "BFGS-train vs SGD-train",
         "landscape": "—", "estimate": 0.91, "lo": 0.8, "hi": 0.97, "p_holm": 0.001, "verdict": "supported"},
        {"arch": "fcp", "key": "spread", "claim": "BFGS more spread", "sets": "BFGS-test vs SGD-test",
         "landscape": "—", "estimate": 0.2, "lo": 0.1, "hi": 0.3, "p_holm": 0.01, "verdict": "contradicted"},
        {"arch": "autoencoder", "key": "spread", "claim": "no difference", "sets": "BFGS-train vs SGD-train",
         "landscape": "—", "estimate": np.nan, "lo": np.nan, "hi": np.nan, "p_holm": np.nan,
         "verdict": "fewer than 5 solutions per set"},
        {"arch": "lenet", "key": "spread", "claim": "BFGS more spread", "sets": "BFGS-train vs SGD-train",
         "landscape": "—", "estimate": np.nan, "lo": np.nan, "hi": np.nan, "p_holm": np.nan, "verdict": "needs lenet"},
    ]
    return topography.Claims(pd.DataFrame(rows), alpha=0.05)


def test_claims_by_network_gives_each_run_network_its_row_or_reason():
    c = _claims_frame()
    assert c.by_network("spread", sets="BFGS-train vs SGD-train") == (
        "FCP: 0.91 [0.8, 0.97], p (Holm) 0.001, supported; the autoencoder: fewer than 5 solutions per set")
    assert c.by_network("spread").startswith("FCP: 0.91")  # the first row per network
    assert c.by_network("spread", sets="BFGS-test vs SGD-test", with_claim=True) == (
        "FCP (BFGS more spread): 0.2 [0.1, 0.3], p (Holm) 0.01, contradicted")
    with pytest.raises(ValueError, match="key='nosuch'; valid: spread"):
        c.by_network("nosuch")
    with pytest.raises(ValueError, match="no row of claim 'spread'"):
        c.by_network("spread", landscape="test")


def test_prose_texts_per_network():
    table = pd.DataFrame({"arch": ["fcp", "fcp", "lstm", "lstm"], "set": ["BFGS-train", "SGD-train"] * 2,
                          "s.d. (book)": [2.0, 1.0, 3.0, 4.0], "s.d. (paper)": [3.0, 2.0, np.nan, 1.0]})
    assert topography.spread_ratio_text(table) == "FCP 2.00 (paper 1.50); the LSTM 0.75 (paper not published)"
    with pytest.raises(ValueError, match="needs columns"):
        topography.spread_ratio_text(table.drop(columns="s.d. (paper)"))
    third = pd.DataFrame({"arch": ["fcp", "fcp", "autoencoder"], "landscape": ["train", "test", "train"],
                          "resembles": ["like SGD", "not resolved", "unlike both"]})
    assert topography.resemblance_text(third) == "FCP: like SGD; the autoencoder: unlike both"
    with pytest.raises(ValueError, match="no row of landscape 'nosuch'"):
        topography.resemblance_text(third, "nosuch")
    g = torch.Generator().manual_seed(0)
    sets = {"BFGS-train": 2 + torch.randn(6, 5, generator=g, dtype=torch.float64),
            "SGD-test": torch.randn(6, 5, generator=g, dtype=torch.float64)}
    d = landscape.distances(sets)
    text = topography.distance_text({"fcp": d})
    assert text == (f"FCP: medians {np.median(d.distance['BFGS-train']):.3g} (BFGS-train) and "
                    f"{np.median(d.distance['SGD-test']):.3g} (SGD-test), centroids {d.centroid_gap:.3g} apart")
    sharp = {"fcp": {"BFGS-train": landscape.SharpnessSet("BFGS-train", np.arange(10.0, 20.0), np.ones(10), np.ones(10)),
                     "SGD-train": landscape.SharpnessSet("SGD-train", np.arange(10.0), np.ones(10), np.ones(10))}}
    got = topography.sharpness_text(sharp, n_boot=200)
    assert got.startswith("FCP: 14.5 against 4.5, P(sharper) 1.00 (p ")
    assert float(got.split("(p ")[1].rstrip(")")) < 1e-3  # complete separation of 10 against 10
    with pytest.raises(KeyError, match="no curvature of set 'BFGS-test'"):
        topography.sharpness_text(sharp, "BFGS-test")


def test_claims_beside_keeps_rows_computed_in_both_and_flags_changed_verdicts():
    before = _claims_frame()
    f = before.frame.copy()
    f.loc[0, ["estimate", "verdict"]] = [0.6, "not resolved"]  # the FCP train-weight spread row changes
    f.loc[2, ["estimate", "verdict"]] = [0.7, "supported"]  # computed only in 'after': left out
    b = topography.claims_beside(before, topography.Claims(f, 0.05), ("quick", "full"))
    assert list(b.frame["sets"]) == ["BFGS-train vs SGD-train", "BFGS-test vs SGD-test"]
    assert list(b.frame["changed"]) == [True, False]
    assert list(b.frame["verdict (quick)"]) == ["supported", "contradicted"]
    assert b.frame.loc[0, "estimate (full)"] == 0.6
    assert b.facts() == {"n_compared": 2, "n_changed": 1,
                         "changed_claims": "FCP, BFGS more spread (BFGS-train vs SGD-train)"}
    with pytest.raises(ValueError, match="two different names"):
        topography.claims_beside(before, before, ("x", "x"))


def test_sets_that_hold_the_same_vectors_are_named():
    fcp = _fake()
    assert fcp.same_sets() == []
    sets = dict(fcp.sets)
    sets["BFGS-test"] = sets["BFGS-train"].clone()
    sets["SGD-test"] = sets["SGD-train"].clone()
    sets["LBFGS-test"] = sets["LBFGS-test"].clone()
    sets["LBFGS-test"][0, 0] += 1e-12  # one component apart is another set
    ae = topography.Topography("autoencoder", "synthetic", fcp.n_inits, fcp.k_best, fcp.model, fcp.dataset, sets)
    assert ae.same_sets() == [("BFGS-train", "BFGS-test"), ("SGD-train", "SGD-test")]
    text = topography.same_sets_text({"autoencoder": ae, "fcp": fcp})
    assert text.startswith("In the autoencoder, BFGS-test holds the same vectors as BFGS-train and SGD-test as SGD-train:")
    assert text.endswith("In FCP every set holds its own vectors.")
    assert topography.same_sets_text({"fcp": fcp, "lstm": fcp}) == "In FCP and the LSTM every set holds its own vectors."
    assert topography.same_sets_text({"autoencoder": sets}) == topography.same_sets_text({"autoencoder": ae})
    both = topography.same_sets_text({"autoencoder": ae, "lstm": sets, "fcp": fcp})
    assert both.startswith("In the autoencoder and the LSTM, BFGS-test holds") and both.count("zero by construction") == 1


def test_a_claim_that_would_compare_a_set_with_itself_is_not_tested():
    """Identical training and early-stopping sets (the autoencoder's): the paired barrier rows and the length-gap
    ratio are fixed by construction, so they get no verdict and stay out of Holm; the other rows are tested."""
    fcp = _fake(k=16)
    sets = dict(fcp.sets)
    sets["BFGS-test"] = sets["BFGS-train"].clone()
    ae = topography.Topography("autoencoder", "synthetic", 16, 16, fcp.model, fcp.dataset, sets)
    pairs = landscape.disjoint_pairs(16, 8, seed=0)
    bars = _bars(ae, n=8, pairs=pairs)
    bars[("BFGS-test", "train")] = bars[("BFGS-train", "train")]
    f = topography.claims(ae, bars, n_boot=200).frame
    untested = f[f["verdict"].str.startswith("same vectors")]
    assert sorted(zip(untested["key"], untested["verdict"])) == [
        ("barriers_train_vs_test", "same vectors (BFGS-train = BFGS-test): no test"),
        ("test_gap", "same vectors (BFGS-test = BFGS-train): no test")]
    assert untested["p_holm"].isna().all()
    facts = topography.claims(ae, bars, n_boot=200).facts()
    assert facts["n_same"] == 2 and facts["n_computed"] + facts["n_same"] + facts["n_needs"] == facts["n_rows"]
    assert facts["same_text"] == "2 rows would compare a set with one that holds the same vectors and are not tested."
    assert topography.claims(fcp, _bars(fcp, n=8, pairs=pairs), n_boot=200).facts()["same_text"] == ""
    sgd = f[(f["key"] == "barriers_train_vs_test") & (f["a"] == "SGD-train")]
    assert sgd["verdict"].iloc[0] in stats.VERDICTS  # SGD-test differs from SGD-train here: tested
    plain = topography.claims(_fake(k=16), _bars(_fake(k=16), n=8, pairs=pairs), n_boot=200).frame
    assert not plain["verdict"].str.startswith("same vectors").any()
