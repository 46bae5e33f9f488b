"""The artifact store: atomic saves, metadata checks, safe loading, and a study killed mid-way and resumed."""

import dataclasses
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch

from lls_core import data, store, study, train

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def run_and_key():
    ds = data.load("mnist-5k", n_train=100, n_test=50)
    cfg = train.SGDConfig(epochs=1, lr=0.5)
    r = train.train("fcp", cfg, ds, seed=2, device="cpu")
    key = store.RunKey("fcp", "softplus", "sgd", tuple(sorted({"lr": 0.5, "epochs": 1, "momentum": 0.0, "batch_size": 64}.items())),
                       2, "mnist-5k", 100, 50, 0, ds.checksum, 0)
    return r, key


def test_roundtrip_with_metadata(tmp_path, run_and_key):
    r, key = run_and_key
    st = store.Store(tmp_path)
    assert not st.has(key)
    path = st.save(key, r)
    assert st.has(key) and path.parent == tmp_path / "runs" / "fcp" / "sgd"
    back = st.load(key)
    for name in ("train_loss", "test_loss", "w_final", "w_train", "w_test"):
        assert torch.equal(getattr(back, name), getattr(r, name))
    assert back.hyper["lr"] == 0.5 and back.best_test_step == r.best_test_step
    prov = st.provenance(key)
    assert prov["torch"] == torch.__version__ and prov["device"] == "cpu" and "lls_core" in prov
    # Plain torch.load with weights_only=True reads it (no pickled code inside).
    blob = torch.load(path, weights_only=True)
    meta = json.loads(blob["key"])
    assert meta["arch"] == "fcp" and meta["data_checksum"] == key.data_checksum and meta["perm_seed"] == 0
    assert st.temp_files() == []


def test_mismatched_metadata_is_refused(tmp_path, run_and_key):
    r, key = run_and_key
    st = store.Store(tmp_path)
    st.save(key, r)
    other = key.__class__(**{**key.__dict__, "data_checksum": "0" * 64})
    # Force the collision: put the stored file where the other key would look.
    st.path(other).parent.mkdir(parents=True, exist_ok=True)
    os.replace(st.path(key), st.path(other))
    with pytest.raises(store.MetadataMismatch, match="data_checksum: stored"):
        st.load(other)
    with pytest.raises(store.MetadataMismatch, match="does not belong"):
        st.save(key.__class__(**{**key.__dict__, "seed": 9}), r)
    with pytest.raises(FileNotFoundError, match="no finished run"):
        st.load(key)


def test_failed_save_leaves_nothing(tmp_path, run_and_key, monkeypatch):
    r, key = run_and_key
    st = store.Store(tmp_path)

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", boom)
    with pytest.raises(OSError, match="disk full"):
        st.save(key, r)
    assert not st.has(key) and st.temp_files() == [] and list(st.runs()) == []


def test_default_root_follows_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("LLS_ARTIFACTS", str(tmp_path / "elsewhere"))
    assert store.Store().root == tmp_path / "elsewhere"
    monkeypatch.delenv("LLS_ARTIFACTS")
    assert store.Store().root == ROOT / "artifacts"


SCRIPT = textwrap.dedent(
    """
    import json, sys, time
    import torch
    torch.set_num_threads(1)
    from lls_core import study, train
    prof = study.Profile("killtest", n_train=120, n_test=60, n_inits=4, k_best=2,
                         optimizers=(("sgd", train.SGDConfig(epochs=2, lr=0.5)),))
    if sys.argv[2] == "slow":  # a real run, made slower so the test can kill it between two runs
        _train = study.train
        def slow(*a, **k):
            time.sleep(0.4)
            return _train(*a, **k)
        study.train = slow
    res = study.run_study("fcp", prof, ("sgd",), store=sys.argv[1], workers=1, progress=False, device="cpu")
    torch.save({"w": res.weight_sets()["SGD-train"], "t": res.weight_sets()["SGD-test"]}, sys.argv[1] + ".out.pt")
    print(json.dumps({"computed": res.n_computed, "reused": res.n_reused}))
    """
)


def _python(args, **kw):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-c", SCRIPT, *args], env=env, cwd=ROOT, stdout=subprocess.PIPE, text=True, **kw)


def test_killed_study_resumes_without_loss_or_repeat(tmp_path):
    killed = tmp_path / "killed"
    proc = _python([str(killed), "slow"])
    runs = killed / "runs" / "fcp" / "sgd"
    deadline = time.time() + 120
    def finished():
        return [p for p in runs.glob("*.pt") if not p.name.startswith(".")]  # not the temp files

    while time.time() < deadline and len(finished()) < 2 and proc.poll() is None:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done_before = len(finished())
    assert 1 <= done_before < 4, f"the kill came too late or too early: {done_before} runs finished"
    resumed = _python([str(killed), "fast"])
    out, _ = resumed.communicate(timeout=300)
    counts = json.loads(out.strip().splitlines()[-1])
    assert counts == {"computed": 4 - done_before, "reused": done_before}  # nothing lost, nothing repeated
    whole = _python([str(tmp_path / "whole"), "fast"])
    whole.communicate(timeout=300)
    a = torch.load(str(killed) + ".out.pt", weights_only=True)
    b = torch.load(str(tmp_path / "whole") + ".out.pt", weights_only=True)
    assert torch.equal(a["w"], b["w"]) and torch.equal(a["t"], b["t"])


def test_lbfgs_gss_counts_survive_the_store(tmp_path):
    ds = data.load("mnist-5k", n_train=100, n_test=50)
    cfg = train.LBFGSGSSConfig(iterations=2)
    r = train.train("fcp", cfg, ds, seed=2, device="cpu")
    key = store.RunKey("fcp", "softplus", "lbfgs_gss", tuple(sorted(dataclasses.asdict(cfg).items())),
                       2, "mnist-5k", 100, 50, 0, ds.checksum, 0)
    st = store.Store(tmp_path)
    st.save(key, r)
    assert st.load(key).counts == r.counts and r.counts["iterations"] == 2
