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


def _bars(topo, high=("BFGS-train", "BFGS-test", "LBFGS-train"), n=10, seed=1):
    rng = np.random.default_rng(seed)
    out = {}
    for s in topo.sets:
        for w in ("train", "test"):
            h = rng.uniform(2.0, 3.0, n) if s in high else rng.uniform(0.1, 1.0, n)
            out[(s, w)] = landscape.Barriers(s, w, landscape.PathConfig(), np.zeros((n, 2), int), h, h, h,
                                             np.zeros(n), np.zeros(n))
    return out


def _sharp(topo, seed=2):
    rng = np.random.default_rng(seed)
    k = next(iter(topo.sets.values())).shape[0]
    return {s: landscape.SharpnessSet(s, rng.uniform(10, 20, k) if "BFGS" in s else rng.uniform(1, 2, k),
                                      rng.uniform(1, 2, k), np.zeros(k)) for s in topo.sets}


def test_claims_supported_when_the_data_say_so():
    topo = _fake()
    table = topography.claims(topo, _bars(topo), _sharp(topo), n_boot=300)
    assert set(table.columns) >= {"claim", "evidence", "result", "verdict", "p"}
    assert (table["verdict"] == "supported").all(), table[["claim", "verdict"]]
    # linear PCA row is a "no separation" expectation and holds for concentric shells
    lin = table[table["claim"].str.startswith("linear PCA")]
    assert len(lin) == 1 and lin["verdict"].iloc[0] == "supported"


def test_claims_contradicted_when_sgd_barriers_are_higher():
    topo = _fake()
    table = topography.claims(topo, _bars(topo, high=("SGD-train", "SGD-test")), None, n_boot=300)
    rows = table[table["claim"].str.startswith("SGD barriers lower")]
    assert len(rows) == 4 and (rows["verdict"] == "contradicted").all()


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
    rows = table[table["claim"].str.startswith("autoencoder exception")]
    assert len(rows) == 4 and (rows["verdict"] == "contradicted").all()
    flat = topography.claims(ae, _bars(ae, high=()), None, n_boot=300)
    rows = flat[flat["claim"].str.startswith("autoencoder exception")]
    assert (rows["verdict"] == "not contradicted").all()


def test_all_barriers_reuses_the_store_without_starting_dask(tmp_path, monkeypatch, trained_set):
    model, x, y, w = trained_set(k=3)
    ds = data.Dataset("tiny", x, y, x[:30], y[:30])
    topo = topography.Topography("fcp", "synthetic", 3, 3, model, ds, {"SGD-train": w, "BFGS-train": w.flip(0)},
                                 store_root=str(tmp_path))
    cfg = landscape.PathConfig(n_points=5, steps=2)
    first = topography.all_barriers(topo, n_pairs=2, config=cfg)
    assert len(first) == 4 and all(b.n_cached == 0 for b in first.values())
    assert any((tmp_path / "barriers" / "fcp").glob("pair-*.npz"))

    import dask.distributed

    def boom(*a, **k):
        raise AssertionError("a cluster was started although every path is stored")

    monkeypatch.setattr(dask.distributed, "LocalCluster", boom)
    again = topography.all_barriers(topo, n_pairs=2, config=cfg, workers=2)
    assert all(b.n_cached == 2 for b in again.values())
    np.testing.assert_allclose(again[("SGD-train", "test")].height, first[("SGD-train", "test")].height)
    frame = topography.barrier_frame(again)
    assert len(frame) == 8 and set(frame["landscape"]) == {"train", "test"}


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
    b = landscape.Barriers("S", "train", landscape.PathConfig(), np.zeros((4, 2), int), h, h, h, np.zeros(4),
                           np.zeros(4), fine_height=fine, max_t=np.array([0.5, 0.4, 1.0, 0.0]))
    u = topography.height_understatement({("S", "train"): b})
    f = u.facts()
    assert f["pairs"] == 4 and f["max"] == pytest.approx(0.1) and f["max_relative"] == pytest.approx(0.05)
    assert f["share_over_1pct"] == pytest.approx(0.25) and f["share_at_end"] == pytest.approx(0.5)
    np.testing.assert_allclose(b.understatement, fine - h)
    no_fine = landscape.Barriers("S", "test", landscape.PathConfig(), np.zeros((4, 2), int), h, h, h,
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
