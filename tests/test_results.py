"""lls_core.results: background training, the archive of derived results, and a recompute of archived runs."""

from __future__ import annotations

import dataclasses
import json
import os

import numpy as np
import pytest
import torch

from lls_core import results, study, train

ARCHIVE = results.archive_root() / "full"


def test_interleaved_order_is_seed_major():
    ts = results.interleaved_tasks(["fcp", "autoencoder"], "smoke")
    assert [(t.key.seed, t.key.arch, t.key.optimizer) for t in ts[:4]] == [
        (0, "fcp", "lbfgs_gss"), (0, "fcp", "sgd"), (0, "autoencoder", "lbfgs_gss"), (0, "autoencoder", "sgd")]
    assert len(ts) == 2 * 2 * study.get_profile("smoke").n_inits


def test_ensembles_are_seed_major_and_capped_per_architecture():
    ts = results.interleaved_tasks(["fcp", "lenet", "autoencoder"], study.get_profile("smoke").replace(n_inits=5, k_best=2))
    groups = study.ensembles(ts, {"fcp": 2, "lenet": 4, "autoencoder": 4})
    got = [(g[0].key.arch, g[0].key.optimizer, [t.key.seed for t in g]) for g in groups]
    # LeNet's runs gain nothing from batching (study.ensemble_pays): one run per ensemble
    assert got[:6] == [("fcp", "lbfgs_gss", [0, 1]), ("fcp", "sgd", [0, 1]), ("lenet", "lbfgs_gss", [0]),
                       ("lenet", "sgd", [0]), ("autoencoder", "lbfgs_gss", [0, 1, 2, 3]), ("autoencoder", "sgd", [0, 1, 2, 3])]
    assert sorted((t.key.arch, t.key.optimizer, t.key.seed) for g in groups for t in g) == sorted(
        (t.key.arch, t.key.optimizer, t.key.seed) for t in ts)  # every task once
    assert all(len({(t.key.arch, t.key.optimizer) for t in g}) == 1 for g in groups)
    assert max(len(g) for g in groups if g[0].key.arch == "fcp") == 2


def test_ensembles_int_size_applies_to_every_set_and_bad_sizes_are_refused():
    ts = results.interleaved_tasks(["fcp", "lenet"], study.get_profile("smoke").replace(n_inits=3, k_best=2))
    groups = study.ensembles(ts, 2)  # an int is the size of every set's ensembles, LeNet's too
    assert [len(g) for g in groups if g[0].key.arch == "lenet"] == [2, 2, 1, 1]  # seeds 0-1 of both sets, then 2
    assert [len(g) for g in study.ensembles(ts)] == [3, 3, 1, 1, 1, 1, 1, 1]  # ENSEMBLE_MAX_RUNS: fcp 16, lenet 1
    for bad in (0, -1, "4", 2.5):
        with pytest.raises(ValueError, match="size"):
            study.ensembles(ts, bad)


def test_claims_skip_runs_a_live_process_holds(tmp_path):
    c = results._claim(tmp_path, "ab" * 20)
    assert c is not None and c.read_text() == str(os.getpid())
    assert results._claim(tmp_path, "ab" * 20) is None  # held by this (live) process
    c.write_text("999999999")  # a process that no longer exists
    assert results._claim(tmp_path, "ab" * 20) is not None


@pytest.fixture(scope="module")
def smoke_archive(tmp_path_factory):
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("res")
    store = root / "store"
    n = results.train_background(["fcp"], "smoke", store)
    assert n == 6
    assert results.train_background(["fcp"], "smoke", store) == 0  # everything finished: nothing redone
    assert not any((store / "claims").iterdir())  # claims are released
    out = results.archive("smoke", ["fcp"], store, root / "out", command="test")
    return store, out


def test_archive_round_trip(smoke_archive):
    store, out = smoke_archive
    a = results.load_archive("smoke", out)
    prof = study.get_profile("smoke")
    assert len(a.runs) == 6 and set(a.runs.optimizer) == {"sgd", "lbfgs_gss"}
    assert (a.table1.k == min(prof.k_best, prof.n_inits)).all()
    assert a.provenance["runs_finished"] == a.provenance["runs_planned"] == 6
    assert a.provenance["runs_missing"] == {}
    assert a.provenance["archive_command"] == "test" and len(a.provenance["data_checksums_sha256"]) == 1
    log = [json.loads(x) for x in (store / "train-smoke.jsonl").read_text().splitlines()]
    assert len(log) == 6 and all(r["wall_s"] > 0 for r in log)
    assert {r["device"] for r in log} == {"cpu"}  # each record names the device its run was trained on
    # the archive holds exactly the stored curves and the K-best means
    st = study.run_study("fcp", "smoke", store=store, workers=1, progress=False)
    for opt in ("sgd", "lbfgs_gss"):
        r = st.runs[opt][1]
        assert np.array_equal(a.curve("fcp", opt, 1), r.train_loss.double().numpy(), equal_nan=True)
        assert np.array_equal(a.curve("fcp", opt, 1, "test"), r.test_loss.double().numpy(), equal_nan=True)
        row = a.table1[(a.table1.arch == "fcp") & (a.table1.optimizer == opt)].iloc[0]
        assert row.train == pytest.approx(st.table1_row()[f"train_{opt}"], rel=1e-12)
    ws = a.weight_stats.set_index("set")
    w = st.weight_sets()["SGD-test"].double()
    assert ws.loc["SGD-test", "std"] == pytest.approx(float(w.std(unbiased=False)), rel=1e-12)
    with pytest.raises(KeyError, match="runs.csv"):
        a.curve("fcp", "sgd", 99)


def test_archive_names_unfinished_runs(smoke_archive, tmp_path):
    store, _ = smoke_archive
    victim = study.plan("fcp", "smoke", ["sgd"])[2].key
    copy = tmp_path / "store"
    import shutil

    shutil.copytree(store, copy)
    (copy / os.path.relpath(results.Store(store).path(victim), store)).unlink()
    a = results.load_archive("smoke", results.archive("smoke", ["fcp"], copy, tmp_path / "out"))
    assert a.provenance["runs_missing"] == {"fcp/sgd": [2]}
    assert int(a.table1.set_index("optimizer").loc["sgd", "finished"]) == 2


def test_missing_archive_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing runs.csv"):
        results.load_archive("full", tmp_path)


@pytest.mark.skipif(not (ARCHIVE / "runs.csv").is_file(), reason="no archived full-profile results")
@pytest.mark.parametrize(("arch", "optimizer", "steps"), [("fcp", "sgd", 3), ("fcp", "lbfgs_gss", 8), ("autoencoder", "sgd", 2), ("autoencoder", "lbfgs_gss", 8)])
def test_recompute_archived_full_run_prefix(arch, optimizer, steps):
    """Re-train the lowest finished seed of an archived ``full`` run for a few steps: its curve must be equal
    (to float32 summation order; a wrong initialisation, data split, mini-batch order or optimizer is off by
    far more than 1e-5)."""
    torch.set_num_threads(1)
    a = results.load_archive("full")
    prof = study.get_profile("full")
    settings = a.provenance["profile_settings"]
    cfg = train.NETWORK_OPTIMIZERS[optimizer](**settings["optimizers"][optimizer])  # as archived, whatever the profile says now
    rows = a.runs[(a.runs.arch == arch) & (a.runs.optimizer == optimizer)]
    if rows.empty:
        pytest.skip(f"no archived {arch}/{optimizer} run")
    seed = int(rows.seed.min())
    field = "epochs" if optimizer == "sgd" else "iterations"
    short = dataclasses.replace(cfg, **{field: steps})
    ds = study.dataset(prof.replace(n_train=settings["n_train"], n_test=settings["n_test"], split_seed=settings["split_seed"]))
    assert ds.checksum in a.provenance["data_checksums_sha256"]
    r = train.train(arch, short, ds, seed=seed, activation=prof.activation, perm_seed=prof.perm_seed, device="cpu")
    stored_train = a.curve(arch, optimizer, seed)[: steps + 1]
    stored_test = a.curve(arch, optimizer, seed, "test")[: steps + 1]
    # Equal to float32 reduction order: the trainer that made the archive reproduces it bit for bit; an
    # ensemble trainer that sums in another order may differ in the 7th digit over these few steps.
    np.testing.assert_allclose(r.train_loss.double().numpy(), stored_train, rtol=1e-5, atol=0)
    np.testing.assert_allclose(r.test_loss.double().numpy(), stored_test, rtol=1e-5, atol=0)


def test_table1_beside_puts_page_archive_and_published_side_by_side(smoke_archive):
    store, out = smoke_archive
    a = results.load_archive("smoke", out)
    res = study.run_studies(["fcp"], "smoke", store=store, workers=1, progress=False)
    page = study.table1(res)
    frame = results.table1_beside(a, page)
    assert list(frame.index) == ["FCP"]
    assert frame.loc["FCP", ("train", "L-BFGS-GSS", "smoke")] == pytest.approx(res["fcp"].table1_row()["train_lbfgs_gss"])
    assert frame.loc["FCP", ("train", "SGD", "page")] == page.loc["FCP", ("train", "SGD", "book")]
    assert frame.loc["FCP", ("test", "SGD", "published")] == page.loc["FCP", ("test", "SGD", "published")]
    assert frame.loc["FCP", ("runs", "SGD", "K / finished / planned (smoke)")] == "2 / 3 / 3"
    assert [c[0] for c in frame.columns][:3] == ["train"] * 3
    # an optimizer with no finished archived run still shows this page's and the published values
    gss_only_sgd = results.Archive(a.profile, a.folder, a.runs, a.table1[a.table1.optimizer == "sgd"], a.weight_stats,
                                   a.provenance)
    f2 = results.table1_beside(gss_only_sgd, page)
    assert f2.loc["FCP", ("train", "L-BFGS-GSS", "page")] == page.loc["FCP", ("train", "L-BFGS-GSS", "book")]
    assert f2.loc["FCP", ("runs", "SGD", "K / finished / planned (smoke)")] == "2 / 3 / 3"


def test_a_failing_run_is_logged_and_the_others_go_on(tmp_path, monkeypatch):
    real = study.execute

    def flaky(task, root, device=None, threads=1):
        if task.key.optimizer == "lbfgs_gss" and task.key.seed == 1:
            raise ZeroDivisionError("float division by zero")
        return real(task, root, device, threads)

    real_ensemble = study.execute_ensemble

    def flaky_ensemble(tasks, root, device=None, threads=1):
        if any(t.key.optimizer == "lbfgs_gss" and t.key.seed == 1 for t in tasks):
            raise ZeroDivisionError("float division by zero")
        return real_ensemble(tasks, root, device, threads)

    monkeypatch.setattr(study, "execute", flaky)
    monkeypatch.setattr(study, "execute_ensemble", flaky_ensemble)  # the ensemble fails, then its runs alone
    store = tmp_path / "s"
    assert results.train_background(["fcp"], "smoke", store) == 5
    log = [json.loads(x) for x in (store / "train-smoke.jsonl").read_text().splitlines()]
    bad = [r for r in log if "error" in r]
    assert [(r["optimizer"], r["seed"]) for r in bad] == [("lbfgs_gss", 1)] and "ZeroDivisionError" in bad[0]["error"]
    assert results.train_background(["fcp"], "smoke", store) == 0  # not retried by default
    a = results.load_archive("smoke", results.archive("smoke", ["fcp"], store, tmp_path / "out"))
    assert a.provenance["runs_missing"] == {"fcp/lbfgs_gss": [1]}
    assert a.provenance["runs_failed"][0]["seed"] == 1
    monkeypatch.setattr(study, "execute", real)
    monkeypatch.setattr(study, "execute_ensemble", real_ensemble)
    assert results.train_background(["fcp"], "smoke", store, retry_failed=True) == 1


def test_archived_full_landscape_recomputes_from_its_embedding():
    """The full profile's geometry claims, kernel PCA and distances, recomputed from the archived embedding
    (same inner products as the weight sets, which stay out of git), and its barrier claims, recomputed from
    the archived path heights, equal the archived numbers."""
    import pandas as pd

    from lls_core import landscape, stats, topography

    arc = results.load_landscape("full")
    s = arc.provenance["settings"]
    assert arc.archs and set(arc.claims["arch"]) == set(arc.archs)
    topos = arc.topographies()
    for a, t in topos.items():
        assert {f"{a}/{n}" for n in t.sets} <= set(arc.provenance["weight_sets_sha256"])
        assert all(v.shape[0] == s["counts"][a][1] for v in t.sets.values())
    bars = arc.barriers()  # the barrier rows from the archived paths
    assert set(bars) == set(arc.barrier_archs) and all(len(b) == 8 for b in bars.values())
    again = topography.claims(topos, bars or None, None, n_boot=s["n_boot"], seed=s["seed"]).frame
    again = again[again["arch"].isin(arc.archs)].reset_index(drop=True)
    stored = arc.claims.reset_index(drop=True)
    assert list(again["key"]) == list(stored["key"]) and list(again["sets"]) == list(stored["sets"])
    done = stored["verdict"].isin(stats.VERDICTS).to_numpy()
    assert done.sum() >= 10
    geo = done & (stored["key"] != "spread").to_numpy()  # per-component spread is not a property of the geometry
    for col in ("estimate", "lo", "hi", "p"):
        np.testing.assert_allclose(again.loc[geo, col].astype(float), stored.loc[geo, col].astype(float), rtol=0, atol=1e-9)
    for i in np.flatnonzero(done & ~geo):  # spread: from the archived per-vector standard deviations
        a, b = stored.loc[i, "a"], stored.loc[i, "b"]
        arch = stored.loc[i, "arch"]
        c = stats.compare(arc.embedding[f"{arch}/{a}/std"], arc.embedding[f"{arch}/{b}/std"], alternative="greater",
                          n_boot=s["n_boot"], seed=s["seed"])
        np.testing.assert_allclose([c.cl, *c.cl_ci, c.p_greater], stored.loc[i, ["estimate", "lo", "hi", "p"]].astype(float),
                                   atol=1e-12)
    np.testing.assert_allclose(stored.loc[done, "p_holm"].astype(float), stats.holm(stored.loc[done, "p"].to_numpy(float)))
    pairs = list(dict.fromkeys(tuple(p.split(" vs ")) for p in arc.kpca["sets"]))
    k = topography.kpca_separation(topos, pairs=pairs, n_boot=s["n_boot"], seed=s["seed"]).frame
    for col in ("AUC (PC1)", "low", "high", "p"):
        np.testing.assert_allclose(k[col], arc.kpca[col], atol=1e-9)
    for (a, sets), g in arc.distances.groupby(["arch", "sets"], sort=False):
        d = landscape.distances(topos[a].sets, between=tuple(sets.split(" vs ")))
        np.testing.assert_allclose([np.median(d.distance[n]) for n in g["set"]], g["median"], rtol=1e-9)
        np.testing.assert_allclose(d.centroid_gap, g["centroid_gap"].iloc[0], rtol=1e-7)
    # The same weight sets as the training archive's Table S1 (its per-vector spread, computed from the weights).
    ws = pd.read_csv(results.archive_root() / "full" / "weight_stats.csv", comment="#")
    for r in ws[ws["arch"].isin(arc.archs)].itertuples():
        assert np.mean(arc.embedding[f"{r.arch}/{r.set}/std"]) == pytest.approx(r.per_vector_std_mean, rel=1e-6)


def test_archive_landscape_refuses_unfinished_sets_then_archives_and_loads(tmp_path):
    store, root = tmp_path / "store", tmp_path / "root"
    out = root / "smoke" / results.LANDSCAPE_FOLDER
    with pytest.raises(ValueError, match=r"fcp: 16 of 16 smoke runs are not finished .*results train --profile smoke"):
        results.archive_landscape("smoke", ["fcp"], store, out_dir=out, n_inits=8, k_best=6)
    assert not out.exists()
    for bad, match in ((dict(archs=["fcp", "fcp"]), "distinct"), (dict(archs=["vgg"]), "vgg"),
                       (dict(archs=["fcp"], k_best=9), "k_best"), (dict(archs=["fcp"], barriers=True, n_pairs=4), "n_pairs"),
                       (dict(archs=["fcp"], barriers=["autoencoder"]), "must be in archs"),
                       (dict(archs=["fcp"], barriers=["vgg"]), "vgg")):
        with pytest.raises(ValueError, match=match):
            results.archive_landscape("smoke", store=store, out_dir=out, **{"n_inits": 8, "k_best": 6, **bad})
    results.train_background(["fcp"], study.get_profile("smoke").replace(n_inits=8, k_best=6), store,
                             results.LANDSCAPE_OPTIMIZERS)
    results.archive_landscape("smoke", ["fcp"], store, out_dir=out, n_inits=8, k_best=6, n_boot=200, barriers=True,
                              n_pairs=3)
    arc = results.load_landscape("smoke", out)
    assert arc.archs == ["fcp"] and arc.paths is not None and len(arc.paths) == 4 * 2 * 3
    assert "best 6 of 8 runs" in arc.coverage_text() and "3 disjoint pairs" in arc.coverage_text()
    assert (arc.claims["verdict"] != "needs barriers").all()  # the barrier rows are computed
    assert {t.sets["SGD-train"].shape for t in arc.topographies().values()} == {(6, 24)}  # 4 sets x 6 vectors
    results.archive_landscape("smoke", ["fcp"], store, out_dir=out, n_inits=8, k_best=6, n_boot=200)
    assert results.load_landscape("smoke", out).paths is None  # a rewrite without barriers drops the old paths
    with pytest.raises(FileNotFoundError, match="results landscape --profile paper"):
        results.load_landscape("paper", root / "paper")


def test_a_background_ensemble_killed_mid_run_resumes_from_its_store_checkpoint(tmp_path, monkeypatch):
    """results train: the killed ensemble's work is kept in the store and the restart finishes it, equal to a
    run that was never stopped; the checkpoint is gone once the runs are saved."""
    from lls_core import train as train_mod

    prof = study.get_profile("smoke").replace(n_inits=3, k_best=2)
    args = (["fcp"], prof)
    results.train_background(*args, tmp_path / "straight", ["lbfgs_gss"])
    monkeypatch.setattr(study, "CHECKPOINT_EVERY_S", 0.0)
    save = train_mod._Checkpoint.save

    class Killed(BaseException):  # not an Exception: train_background's per-run retry must not catch it
        pass

    def save_then_die(self, step, runs, loop):
        save(self, step, runs, loop)
        if step == 2:
            raise Killed

    monkeypatch.setattr(train_mod._Checkpoint, "save", save_then_die)
    with pytest.raises(Killed):
        results.train_background(*args, tmp_path / "killed", ["lbfgs_gss"], claim_runs=False)
    ckpts = list((tmp_path / "killed" / "checkpoints").glob("*.ckpt"))
    assert len(ckpts) == 1 and torch.load(ckpts[0], weights_only=True)["step"] == 2
    monkeypatch.setattr(train_mod._Checkpoint, "save", save)
    assert results.train_background(*args, tmp_path / "killed", ["lbfgs_gss"], claim_runs=False) == 3
    assert not ckpts[0].exists()
    a, b = results.Store(tmp_path / "straight"), results.Store(tmp_path / "killed")
    for t in study.plan("fcp", prof, ["lbfgs_gss"]):
        ra, rb = a.load(t.key), b.load(t.key)
        assert torch.equal(ra.train_loss, rb.train_loss) and torch.equal(ra.w_final, rb.w_final)


def test_archives_lists_every_long_run_kept_with_the_book(tmp_path):
    t = results.archives()
    assert list(t["archive"]) == ["training runs, full", "path calibration, quick", "geometry claims, full",
                                  "accelerator timing"]
    assert (t["holds"] != "not written").all()
    assert t["command"].iloc[:3].str.startswith("python -m lls_core.results").all()
    assert "bench_gpu.py" in t["command"].iloc[3]
    empty = results.archives(tmp_path)
    assert (empty["holds"] == "not written").all() and (empty["written"] == "").all()


def test_coverage_text_names_the_networks_with_and_without_barriers():
    prov = {"finished_utc": "2026-11-30T15:00:00Z",
            "settings": {"profile": "full", "archs": ["fcp", "autoencoder"], "counts": {"fcp": [75, 48], "autoencoder": [75, 48]},
                         "barriers": ["fcp"], "n_pairs": 24}}
    arc = results.LandscapeArchive(None, None, None, None, prov, {})
    assert arc.barrier_archs == ["fcp"]
    text = arc.coverage_text()
    assert "with barriers for FCP on 24 disjoint pairs" in text and "none yet for the autoencoder" in text
    old = {**prov, "settings": {**prov["settings"], "barriers": True}}  # archives written before a subset was possible
    assert results.LandscapeArchive(None, None, None, None, old, {}).barrier_archs == ["fcp", "autoencoder"]
    none = {**prov, "settings": {**prov["settings"], "barriers": []}}
    assert "without barriers" in results.LandscapeArchive(None, None, None, None, none, {}).coverage_text()


def test_machines_text_says_which_sets_each_device_trained():
    per = {"fcp/sgd": {"runs_logged": 75, "devices": ["cpu"]},
           "autoencoder/lbfgs_gss": {"runs_logged": 75, "devices": ["cuda: NVIDIA H200"]},
           "lenet/sgd": {"runs_logged": 0, "devices": []}}
    a = results.Archive("full", None, None, None, None, {"machine": {"cpu_count": 2}, "per_set_from_log": per})
    assert a.machines_text() == "2 CPU cores (FCP SGD) and an NVIDIA H200 GPU (Autoencoder L-BFGS-GSS)"
    only_cpu = {"fcp/sgd": per["fcp/sgd"], "fcp/lbfgs_gss": {"runs_logged": 3}}  # records without a device: the CPU
    assert results.Archive("full", None, None, None, None, {"machine": {"cpu_count": 2},
                                                            "per_set_from_log": only_cpu}).machines_text() == "2 CPU cores"


def test_results_train_refuses_a_missing_gpu_and_a_bad_ensemble_size(tmp_path, capsys):
    args = ["train", "--profile", "smoke", "--archs", "fcp", "--store", str(tmp_path / "s")]
    with pytest.raises(SystemExit) as err:
        results.main([*args, "--ensemble-size", "0"])
    assert err.value.code == 2 and "--ensemble-size 0" in capsys.readouterr().err
    if not torch.cuda.is_available():
        with pytest.raises(SystemExit) as err:
            results.main([*args, "--device", "cuda"])
        assert err.value.code == 2 and "no GPU" in capsys.readouterr().err
    assert not (tmp_path / "s" / "runs").exists()  # refused before any training


def _bench_gpu():
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_gpu", results.resources.root() / "benchmarks" / "bench_gpu.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_bench_gpu_record_parses_what_the_script_prints():
    lines = ["device cpu; data 5000 training / 10000 test images; budget 420 s",
             "fcp lbfgs_gss: 2.00 ms per run and iteration batched (75 runs), 10.00 ms alone; the full profile's 75 runs x 1000 iterations: 0.04 h batched",
             "fcp sgd: 4.00 ms per run and epoch batched (75 runs), nan ms alone; the full profile's 75 runs x 100 epochs: 0.01 h batched",
             "paths: 24 FCP pairs, 51 points, 10 steps: 2.00 s together, 3.00 s one at a time",
             "device=cpu gss_speedup_fcp=5 sgd_speedup_fcp=nan full_hours_fcp=0.05 pairs_speedup=1.5"]
    rec = _bench_gpu().record(lines, device="cpu")
    gss, sgd = rec["rows"]
    assert (gss["arch"], gss["optimizer"], gss["step"], gss["runs_batched"]) == ("fcp", "lbfgs_gss", "iteration", 75)
    assert gss["speedup"] == pytest.approx(5.0) and gss["full_hours"] == pytest.approx(2e-3 * 75 * 1000 / 3600)
    assert np.isnan(sgd["speedup"]) and sgd["full_hours"] == pytest.approx(4e-3 * 75 * 100 / 3600)
    assert rec["paths"]["speedup"] == pytest.approx(1.5) and rec["last_line"].startswith("device=cpu")
    assert rec["device"] == "cpu" and rec["log"] == lines


def test_device_bench_table_agrees_with_its_record(tmp_path):
    d = results.load_device_bench()
    rec = d.record
    assert len(d.frame) == len(rec["rows"]) > 0
    np.testing.assert_allclose(d.frame["batched speed-up"], d.frame["ms per run and step, alone"] / d.frame["ms per run and step, batched"])
    again = _bench_gpu().record(rec["log"])  # the figures are those of the printed lines kept with them
    assert again["rows"] == rec["rows"] and again["paths"] == rec["paths"]
    f = d.facts()
    assert f["hours_all"] == pytest.approx(d.frame["full profile, hours"].sum())
    assert f["slowest_hours"] >= f["fastest_hours"] > 0 and f["device"] == rec["device"]
    with pytest.raises(FileNotFoundError, match="bench_gpu.py --device cuda --json"):
        results.load_device_bench(tmp_path)


def test_paths_found_elsewhere_join_the_store_and_the_archive_finds_them(tmp_path, monkeypatch):
    """export-sets -> paths (another store, as on a GPU machine) -> import-pairs -> archive_landscape computes no path."""
    from lls_core import landscape

    torch.set_num_threads(1)
    home, away = tmp_path / "home", tmp_path / "away"
    prof = study.get_profile("smoke").replace(n_inits=8, k_best=6)
    with pytest.raises(ValueError, match="not finished"):
        results.export_sets("smoke", ["fcp"], home, tmp_path / "sets.pt", n_inits=8, k_best=6)
    results.train_background(["fcp"], prof, home, results.LANDSCAPE_OPTIMIZERS)
    f = results.export_sets("smoke", ["fcp"], home, tmp_path / "sets.pt", n_inits=8, k_best=6)
    blob = torch.load(f, weights_only=True)
    meta = json.loads(blob["meta"])
    assert meta["counts"] == {"fcp": [8, 6]} and {k for k in blob if k != "meta"} == {
        "fcp/BFGS-train", "fcp/BFGS-test", "fcp/SGD-train", "fcp/SGD-test"}
    recs = results.find_paths(f, away, n_pairs=3, device="cpu")
    # sets whose train and test weights coincide share their pairs' keys: those are found once
    assert recs["fcp"]["paths"] == 4 * 2 * 3 and 0 < recs["fcp"]["computed"] <= 24 and recs["fcp"]["device"] == "cpu"
    assert results.find_paths(f, away, n_pairs=3, device="cpu")["fcp"]["computed"] == 0  # all in its cache now
    log = [json.loads(x) for x in (away / results.PATHS_LOG).read_text().splitlines()]
    assert len(log) == 2 * 8 and {(r["set"], r["landscape"]) for r in log[:8]} == {
        (n, w) for n in ("BFGS-train", "BFGS-test", "SGD-train", "SGD-test") for w in ("train", "test")}
    assert sum(r["computed"] for r in log) == recs["fcp"]["computed"] and all(r["device"] == "cpu" for r in log)
    assert results.main(["import-pairs", "--source", str(away), "--store", str(home), "--archs", "fcp"]) in (0, None)
    assert results.import_pairs(away, home, ["fcp"]) == {"fcp": (0, recs["fcp"]["computed"])}  # nothing twice
    home_log = (home / results.PATHS_LOG).read_text().splitlines()
    assert len(home_log) == 16 and all(json.loads(x)["imported_from"] == str(away) for x in home_log)

    def no_search(*a, **kw):
        raise AssertionError("a path was searched although the store holds it")

    monkeypatch.setattr(landscape, "_run_paths", no_search)
    out = results.archive_landscape("smoke", ["fcp"], home, out_dir=tmp_path / "arc", n_inits=8, k_best=6, n_boot=200,
                                    barriers=["fcp"], n_pairs=3, note="paths found in another store")
    arc = results.load_landscape("smoke", out)
    assert len(arc.paths) == 24 and arc.provenance["note"] == "paths found in another store"
    assert len(arc.provenance["paths_log"]) == 16  # where the paths were found, from the store's log
    assert (arc.claims["verdict"] != "needs barriers").all()


def test_find_paths_refuses_altered_sets_and_other_data_before_any_work(tmp_path):
    w = torch.zeros(6, 24)
    meta = {"format": results.SETS_FORMAT, "profile": "smoke", "archs": ["fcp"], "counts": {"fcp": [8, 6]},
            "activation": "relu", "data_checksum": {"fcp": "0" * 64}, "weight_sets_sha256": {"fcp/SGD-train": "x"}}
    torch.save({"fcp/SGD-train": w, "meta": json.dumps(meta)}, tmp_path / "s.pt")
    with pytest.raises(ValueError, match="trained on 000000000000"):
        results.find_paths(tmp_path / "s.pt", tmp_path / "away", n_pairs=3, device="cpu")
    torch.save({"x": w}, tmp_path / "bad.pt")
    with pytest.raises(ValueError, match="not a weight-set file"):
        results.find_paths(tmp_path / "bad.pt", tmp_path / "away", device="cpu")
    assert not (tmp_path / "away").exists()


def test_runs_trained_elsewhere_come_home_with_their_records(tmp_path, monkeypatch, capsys):
    """``import-runs``: verified runs only, never replacing one already home, with their log lines and a manifest entry."""
    away, home = tmp_path / "away", tmp_path / "home"
    monkeypatch.setenv("LLS_GIT_COMMIT", "f" * 40)  # the device copy's commit, named explicitly
    results.main(["train", "--profile", "smoke", "--archs", "fcp", "--store", str(away)])
    results.train_background(["fcp"], "smoke", home, optimizers=["sgd"])  # home already has the SGD runs
    bad = sorted((away / "runs" / "fcp" / "lbfgs_gss").glob("*.pt"))[0]
    bad.write_bytes(bad.read_bytes()[:-100])  # damaged in transit
    with pytest.warns(Warning, match="unreadable|checksum"):
        got = results.import_runs(away, home)
    n_gss = len(list((away / "runs" / "fcp" / "lbfgs_gss").glob("*.pt")))
    assert got == {"fcp/lbfgs_gss": (n_gss, 0), "fcp/sgd": (0, 3)}
    log = [json.loads(x) for x in (home / "train-smoke.jsonl").read_text().splitlines()]
    imported = [r for r in log if "imported_from" in r]
    assert n_gss == 2 and len({r["seed"] for r in imported}) == len(imported) == 2  # the damaged one stays away
    assert {r["optimizer"] for r in imported} == {"lbfgs_gss"} and {r["git_commit"] for r in imported} == {"f" * 40}
    manifest = json.loads((home / "train-smoke.manifest.json").read_text())
    entry = [e for e in ([manifest] + manifest.get("later_starts", [])) if "imported_from" in e]
    assert len(entry) == 1 and entry[0]["runs_imported"] == n_gss and entry[0]["source_manifest"]["git_commit"] == "f" * 40
    a = results.load_archive("smoke", results.archive("smoke", ["fcp"], home, tmp_path / "out"))
    assert a.provenance["runs_missing"] == {"fcp/lbfgs_gss": [s for s in range(3) if s not in {r["seed"] for r in imported}]}
    assert results.import_runs(away, home) == {"fcp/lbfgs_gss": (0, n_gss), "fcp/sgd": (0, 3)}  # nothing twice
    assert len((home / "train-smoke.jsonl").read_text().splitlines()) == len(log)
    with pytest.raises(SystemExit) as err:
        results.main(["import-runs", "--source", str(tmp_path / "nowhere"), "--store", str(home)])
    assert err.value.code == 2 and "no store" in capsys.readouterr().err


def test_git_commit_named_in_the_environment_wins_over_a_stale_checkout(monkeypatch):
    monkeypatch.setenv("LLS_GIT_COMMIT", "0123abc")
    assert results._git_commit() == "0123abc"
    monkeypatch.delenv("LLS_GIT_COMMIT")
    assert results._git_commit() != "0123abc"
