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
