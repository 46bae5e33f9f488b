"""The archived path calibration (``python -m lls_core.results calibrate-paths``): writer, reader, resume, and a
recompute of one archived pair from its stored training seeds."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
import torch

from lls_core import landscape, models, results, study, topography

SMOKE_LOAD = results.CalibrationLoad(16, 16, (("lbfgs", 2, 1),))


@pytest.fixture(scope="module")
def smoke_cal(tmp_path_factory):
    """A smoke-scale calibration of FCP (16 runs per optimizer, 8 disjoint pairs per set), archived once."""
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("calibration")
    build = topography.PATH_PROFILES["smoke"]
    kw = dict(load=SMOKE_LOAD, build=build, reference=dataclasses.replace(build, steps=5, n_points=9, n_data=None),
              store=str(root / "store"), n_boot=200)
    out = results.archive_path_calibration("smoke", ["fcp"], out_dir=root / "out", **kw)
    return root, out, kw


def test_archive_holds_the_pairs_seeds_and_checksums_of_the_sets(smoke_cal):
    root, out, kw = smoke_cal
    rec = results.load_path_calibration("smoke", out)
    topo = topography.load("fcp", "smoke", n_inits=16, k_best=16, counts={"lbfgs": (2, 1)}, store=kw["store"], workers=1)
    assert rec.archs == ["fcp"]
    copies = {b for _, b in topo.same_sets()}  # a set holding another's vectors is left out (its paths, twice)
    used = [n for n in topography.CALIBRATION_SETS if n not in copies]
    assert set(rec.pairs["set"]) == set(used) and len(rec.pairs) == len(used) * 2 * 8  # sets, two landscapes, eight pairs
    for (s, which), g in rec.pairs.groupby(["set", "landscape"]):
        ends = np.r_[g["i"], g["j"]]
        assert len(set(ends)) == len(ends), "calibration pairs share an end point"
        np.testing.assert_array_equal(g[["i", "j"]].to_numpy(), landscape.disjoint_pairs(16, 8, 0))
        assert list(g["seed_i"]) == [topo.seeds[s][i] for i in g["i"]]
        assert list(g["sha_j"]) == [results.tensor_sha256(topo.sets[s][j]) for j in g["j"]]
    res = study.run_study("fcp", study.get_profile("smoke").replace(n_inits=16, k_best=16), ["sgd"], store=kw["store"],
                          workers=1, progress=False)
    by_seed = {r.seed: r for r in res.runs["sgd"]}
    for s in ("SGD-train", "SGD-test"):  # a row's seed names the run whose weights the row holds
        for k, sd in enumerate(topo.seeds[s]):
            assert torch.equal(topo.sets[s][k], by_seed[sd].w_train if s.endswith("train") else by_seed[sd].w_test)
    prov = rec.provenance["archs"]["fcp"]
    assert prov["weight_sets_sha256"] == {s: results.tensor_sha256(topo.sets[s]) for s in topography.CALIBRATION_SETS}
    assert prov["data_checksum_sha256"] == topo.dataset.checksum
    assert rec.provenance["settings"]["reference"]["steps"] == 5 and prov["wall_s"] > 0
    assert rec.coverage_text(["fcp"]) == "Every network on this page is calibrated on its own solutions."
    assert rec.coverage_text(["fcp"], {"fcp": topo.sets}) == "Every network on this page is calibrated on its own solutions."
    assert rec.provenance["archs"]["fcp"]["sets_left_out"] == {b: f"the same vectors as {a}" for a, b in topo.same_sets()
                                                              if b in topography.CALIBRATION_SETS}
    moved = {n: w + (1.0 if n == "SGD-test" else 0.0) for n, w in topo.sets.items()}
    assert rec.coverage_text(["fcp"], {"fcp": moved}).startswith("Calibrated on other solutions: FCP.")
    assert rec.coverage_text(["fcp", "autoencoder"]).startswith("Not calibrated: the autoencoder.")
    assert "--archs autoencoder" in rec.coverage_text(["fcp", "autoencoder"])
    f = rec.facts()
    assert f["archs"] == "FCP" and f["command"] == prov["command"]
    assert f["pairs"] == 16 * len(used) and f["verdicts_changed"] == len(rec.changed()) and f["date"] == prov["finished_utc"][:10]
    diff = rec.pairs["height_build"] - rec.pairs["height_reference"]
    assert f["fcp_bias"] == pytest.approx(diff.mean())
    assert f["fcp_bias_lo"] <= f["fcp_bias"] <= f["fcp_bias_hi"]
    assert f["summary_text"].startswith("FCP, training landscape") and np.isfinite(f["fcp_train_under_reference"])
    land = rec.by_landscape().set_index("landscape")
    tr = rec.pairs.query("landscape == 'train'")
    assert land.loc["train", "identical"] == pytest.approx((tr.height_build == tr.height_reference).mean())
    assert land.loc["train", "at_end_reference"] == pytest.approx((tr.height_reference <= tr.endpoint_reference * (1 + 1e-6)).mean())
    assert f["fcp_test_bias_lo"] <= f["fcp_test_bias"] <= f["fcp_test_bias_hi"]
    table = rec.table()
    assert table.loc[("fcp", "SGD-train", "train"), "median height (authors)"] == pytest.approx(
        rec.pairs.query("set == 'SGD-train' and landscape == 'train'")["height_reference"].median())
    row, wi, wj = rec.endpoints("fcp")
    assert row.set == results.RECOMPUTE_SET and row.landscape == "train"
    assert torch.equal(wi, topo.sets[row.set][row.i]) and torch.equal(wj, topo.sets[row.set][row.j])
    # one archived pair, recomputed alone under the archived reference settings
    row = rec.pairs.query("set == 'BFGS-train' and landscape == 'test'").iloc[0]
    cfg = landscape.PathConfig(**rec.provenance["settings"]["reference"])
    x, y = topo.xy("test")
    got = landscape.pair_path(topo.model, x, y, topo.sets["BFGS-train"][row.i], topo.sets["BFGS-train"][row.j], cfg)
    assert got.height == pytest.approx(row.height_reference, rel=1e-5, abs=1e-7)


def test_rerun_reuses_every_stored_path_and_keeps_the_archive(smoke_cal, tmp_path):
    root, out, kw = smoke_cal
    cache = root / "store" / "pairs" / "fcp"
    before = {p.name: p.stat().st_mtime_ns for p in cache.glob("*.npz")}
    assert len(before) >= 64  # 64 pairs under each setting; a vector in two sets (train = test weights) shares its paths
    again = results.archive_path_calibration("smoke", ["fcp"], out_dir=tmp_path / "again", **kw)
    assert {p.name: p.stat().st_mtime_ns for p in cache.glob("*.npz")} == before
    a, b = results.load_path_calibration("smoke", out), results.load_path_calibration("smoke", again)
    assert a.provenance["archs"]["fcp"]["paths_computed"] >= 64 and b.provenance["archs"]["fcp"]["paths_computed"] == 0
    pd.testing.assert_frame_equal(a.pairs, b.pairs)
    pd.testing.assert_frame_equal(a.verdicts, b.verdicts)


def test_other_settings_in_the_same_folder_are_refused_before_any_work(smoke_cal):
    root, out, kw = smoke_cal
    with pytest.raises(ValueError, match="other settings"):
        results.archive_path_calibration("smoke", ["fcp"], out_dir=out, **{**kw, "n_boot": 300, "store": "/nonexistent"})


@pytest.mark.parametrize("bad, match", [({"n_pairs": 7}, "at least 8"), ({"archs": ["vgg"]}, "unknown architecture"),
                                        ({"n_pairs": 30}, "k_best // 2"), ({"pair_batch": 0}, "pair_batch=0")])
def test_bad_values_are_refused_with_the_valid_ones(bad, match, tmp_path):
    kw = {"archs": ["fcp"], "n_pairs": 8, **bad}
    with pytest.raises(ValueError, match=match):
        results.archive_path_calibration("smoke", kw.pop("archs"), out_dir=tmp_path, store=str(tmp_path / "s"), **kw)


@pytest.mark.parametrize("argv", [["--pairs", "7"], ["--pairs", "25"], ["--k-best", "80"]])
def test_command_refuses_bad_counts_in_one_line(argv, capsys):
    with pytest.raises(SystemExit) as e:
        results.main(["calibrate-paths", "--archs", "fcp", *argv])
    assert e.value.code == 2 and "pairs <= k_best // 2" in capsys.readouterr().err


def test_command_refuses_a_bad_pair_batch(capsys):
    with pytest.raises(SystemExit) as e:
        results.main(["calibrate-paths", "--archs", "fcp", "--pair-batch", "0"])
    assert e.value.code == 2 and "--pair-batch 0" in capsys.readouterr().err


def test_missing_archive_names_the_command(tmp_path):
    with pytest.raises(FileNotFoundError, match="calibrate-paths"):
        results.load_path_calibration("quick", tmp_path)


@pytest.mark.parametrize("arch", ["fcp", "autoencoder"])
def test_recompute_archived_calibration_pair(arch):
    """Run the paths of one archived pair (SGD-train, training landscape) from its archived end points under both
    archived settings: the heights must be the archived ones to float32 summation order."""
    torch.set_num_threads(1)
    rec = results.load_path_calibration("quick")
    if arch not in rec.archs:
        pytest.skip(f"no archived {arch} calibration")
    row, wi, wj = rec.endpoints(arch)
    prof = study.get_profile(rec.provenance["settings"]["profile"])
    ds = study.dataset(prof)
    assert ds.checksum == rec.provenance["archs"][arch]["data_checksum_sha256"]
    model = models.build(arch, activation=prof.activation)
    for which in ("build", "reference"):
        pc = landscape.PathConfig(**rec.provenance["settings"][which])
        got = landscape.pair_path(model, ds.x_train, ds.y_train, wi, wj, pc, int(row.i), int(row.j))
        # Path losses are float32 means over images: another batch of pairs sums in another order (~1e-7).
        # The straight line is one evaluation and stays that close. The found path's height is not: Adam
        # divides each gradient entry by its own running size, so entries made of float32 rounding move by
        # up to lr whatever their size, and 30 steps carry another summation order into the height. The
        # same code with chunk_data=250 instead of all 500 images moved the build height by 1.9e-4
        # (relative), batched="vmap" by 6.8e-4, and the written-out FCP backward by 6.0e-4 (fine grid:
        # up to 8.9e-4); the two settings' heights differ by a factor of 2. Hence 2e-3 for found paths.
        assert got.height == pytest.approx(row[f"height_{which}"], rel=2e-3, abs=1e-7), which
        assert got.linear_height == pytest.approx(row[f"linear_{which}"], rel=1e-5, abs=1e-7), which
        assert got.fine_height == pytest.approx(row[f"fine_{which}"], rel=2e-3, abs=1e-7), which
