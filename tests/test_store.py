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

from lls_core import store, study, train

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def run_and_key(mnist_tiny):
    ds = mnist_tiny
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
    if sys.argv[2] == "slow":  # a real run, made slower so the test can kill it between two ensembles
        _train = study.train_ensemble
        def slow(*a, **k):
            time.sleep(0.4)
            return _train(*a, **k)
        study.train_ensemble = slow
    # Runs are saved when their ensemble ends: ensembles of 2 runs, so a kill can fall between two.
    res = study.run_study("fcp", prof, ("sgd",), store=sys.argv[1], workers=1, progress=False, device="cpu",
                          ensemble_size=2)
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


def test_lbfgs_gss_counts_survive_the_store(tmp_path, mnist_tiny):
    ds = mnist_tiny
    cfg = train.LBFGSGSSConfig(iterations=2)
    r = train.train("fcp", cfg, ds, seed=2, device="cpu")
    key = store.RunKey("fcp", "softplus", "lbfgs_gss", tuple(sorted(dataclasses.asdict(cfg).items())),
                       2, "mnist-5k", 100, 50, 0, ds.checksum, 0)
    st = store.Store(tmp_path)
    st.save(key, r)
    assert st.load(key).counts == r.counts and r.counts["iterations"] == 2


# ------------------------------------------------------------------ damaged artifacts, locks, exposure


def _damage(path: Path, how: str, r) -> None:
    raw = bytearray(path.read_bytes())
    if how == "bit_flip_weights":  # one bit inside the stored w_final: torch.load alone would not notice
        at = raw.find(r.w_final.numpy().tobytes()[:64])
        assert at > 0
        raw[at + 17] ^= 0x04
    elif how == "zero_4k":
        at = raw.find(r.w_final.numpy().tobytes()[:64])
        raw[at : at + 4096] = bytes(min(4096, len(raw) - at))
    elif how == "zero_bytes":
        raw = bytearray()
    elif how == "truncated":
        raw = raw[: len(raw) // 2]
    elif how == "junk":
        raw = bytearray(b"this is not a stored run\n" * 50)
    path.write_bytes(bytes(raw))


@pytest.mark.parametrize("how", ["bit_flip_weights", "zero_4k", "zero_bytes", "truncated", "junk"])
def test_damaged_run_is_quarantined_named_and_absent(tmp_path, run_and_key, how):
    from lls_core.io import ArtifactWarning

    r, key = run_and_key
    st = store.Store(tmp_path)
    path = st.save(key, r)
    _damage(path, how, r)
    fresh = store.Store(tmp_path)  # a new process: nothing verified yet
    with pytest.warns(ArtifactWarning, match=path.name):
        assert not fresh.has(key)
    assert not path.exists()
    moved = list(fresh.quarantine_dir.iterdir())
    assert len(moved) == 1 and moved[0].name.startswith(path.name)
    with pytest.raises(FileNotFoundError):
        fresh.load(key)
    fresh.save(key, r)  # recomputed and stored again: now verified
    assert store.Store(tmp_path).has(key) and torch.equal(store.Store(tmp_path).load(key).w_final, r.w_final)


def test_load_of_damaged_run_names_the_file(tmp_path, run_and_key):
    r, key = run_and_key
    st = store.Store(tmp_path)
    path = st.save(key, r)
    path.write_bytes(b"")
    with pytest.warns(UserWarning), pytest.raises(store.CorruptArtifact, match=str(path)):
        store.Store(tmp_path).load(key)


def test_old_format_without_checksum_is_recomputed(tmp_path, run_and_key):
    r, key = run_and_key
    st = store.Store(tmp_path)
    path = st.save(key, r)
    blob = torch.load(path, weights_only=True)
    blob["format"] = 1
    del blob["checksum"]
    torch.save(blob, path)
    with pytest.warns(UserWarning, match="format 1"):
        assert not store.Store(tmp_path).has(key)


def test_study_recomputes_a_damaged_run(tmp_path):
    from lls_core.io import ArtifactWarning

    prof = study.Profile("damage", n_train=60, n_test=30, n_inits=2, k_best=1,
                         optimizers=(("sgd", train.SGDConfig(epochs=1, lr=0.5)),))
    first = study.run_study("fcp", prof, ("sgd",), store=tmp_path, workers=1, progress=False, device="cpu")
    victim = sorted((tmp_path / "runs" / "fcp" / "sgd").glob("*.pt"))[0]
    victim.write_bytes(victim.read_bytes()[:100])
    with pytest.warns(ArtifactWarning, match=victim.name):
        again = study.run_study("fcp", prof, ("sgd",), store=tmp_path, workers=1, progress=False, device="cpu")
    assert (again.n_computed, again.n_reused) == (1, 1)
    for a, b in zip(first.runs["sgd"], again.runs["sgd"]):
        assert torch.equal(a.w_final, b.w_final)


@pytest.mark.parametrize("field,value", [("arch", "../../x"), ("optimizer", ".."), ("arch", "a/b"), ("optimizer", "")])
def test_store_path_refuses_traversal(tmp_path, run_and_key, field, value):
    _, key = run_and_key
    bad = key.__class__(**{**key.__dict__, field: value})
    with pytest.raises(ValueError, match="cannot name a store folder"):
        store.Store(tmp_path).path(bad)


def test_artifacts_follow_the_umask(tmp_path, run_and_key):
    r, key = run_and_key
    old = os.umask(0o022)
    try:
        path = store.Store(tmp_path).save(key, r)
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o644


def test_per_run_lock_blocks_a_second_trainer(tmp_path, run_and_key):
    from lls_core.io import LockBusy

    _, key = run_and_key
    st = store.Store(tmp_path)
    code = ("import sys, time; from lls_core import store; from tests.test_store import _key_from_json;"
            "k = _key_from_json(sys.argv[1]); l = store.Store(sys.argv[2]).lock(k).acquire();"
            "print('held', flush=True); time.sleep(30)")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-c", code, json.dumps(key.as_dict()), str(tmp_path)], env=env,
                            cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "held"
        with pytest.raises(LockBusy, match=f"process {proc.pid}"):
            st.lock(key, wait=False).acquire()
    finally:
        proc.kill()
        proc.wait()
    with st.lock(key, wait=False):  # the kernel released the dead holder's lock
        pass


def _key_from_json(text: str) -> store.RunKey:
    d = json.loads(text)
    d["hyper"] = tuple(sorted(d["hyper"].items()))
    return store.RunKey(**d)


def test_clean_temp_removes_orphans_of_dead_writers_only(tmp_path):
    st = store.Store(tmp_path)
    folder = tmp_path / "runs" / "fcp" / "sgd"
    folder.mkdir(parents=True)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    orphan = folder / f".tmp-{dead.stdout.strip()}-abcd-x.pt"
    mine = folder / f".tmp-{os.getpid()}-abcd-y.pt"
    orphan.write_bytes(b"x" * 10)
    mine.write_bytes(b"y")
    assert st.clean_temp() == 1
    assert not orphan.exists() and mine.exists()


def test_two_workers_never_train_the_same_run(tmp_path, monkeypatch):
    import threading

    prof = study.Profile("twice", n_train=60, n_test=30, n_inits=1, k_best=1,
                         optimizers=(("sgd", train.SGDConfig(epochs=1, lr=0.5)),))
    task = study.plan("fcp", prof, ("sgd",))[0]
    calls = []
    real = study.train

    def slow(*a, **k):
        calls.append(threading.get_ident())
        time.sleep(1.0)  # the second worker arrives while the first trains
        return real(*a, **k)

    monkeypatch.setattr(study, "train", slow)
    paths = []
    workers = [threading.Thread(target=lambda: paths.append(study.execute(task, str(tmp_path), "cpu", None))) for _ in range(2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(120)
    assert len(calls) == 1 and len(paths) == 2 and paths[0] == paths[1]


def test_every_network_and_mode_says_whether_ensembles_pay():
    from lls_core import models

    for arch in models.ARCHITECTURES:
        for mode in ("minibatch", "fullbatch"):
            assert (arch, mode) in study.ENSEMBLE_PAYS
            assert study.ensemble_pays(arch, mode) is study.ENSEMBLE_PAYS[(arch, mode)]


def test_pair_store_is_a_namespace_of_the_store(tmp_path: Path):
    from lls_core.io import ArtifactWarning

    s = store.Store(tmp_path)
    ps = s.pairs("fcp")
    assert ps.root == s.root and ps.dir == tmp_path / "pairs" / "fcp" and ps.quarantine_dir == s.quarantine_dir
    key, meta = "ab" * 16, '{"config": 1}'
    assert ps.load(key, meta, ("height",)) is None  # absent
    assert ps.save(key, {"height": float("nan"), "seconds": 1.0}, meta, finite=("height",)) is None  # never stored
    path = ps.save(key, {"height": 2.0, "seconds": 1.0}, meta)
    assert path == ps.dir / f"{key}.npz" and ps.keys() == [key] and not list(ps.dir.glob(".tmp-*"))
    assert ps.load(key, meta, ("height", "seconds")) == {"height": 2.0, "seconds": 1.0}
    with pytest.warns(ArtifactWarning, match="computed for different settings"):
        assert ps.load(key, '{"config": 2}', ("height",)) is None
    assert not path.exists() and len(list(s.quarantine_dir.iterdir())) == 1
    with pytest.raises(ValueError, match="key='../x' cannot name a stored pair; expected 32 lowercase hex digits"):
        ps.path("../x")
    with pytest.raises(ValueError, match="namespace='a/b' cannot name a store folder"):
        s.pairs("a/b")
    with ps.lock(key):
        with pytest.raises(Exception, match=f"pair fcp/{key} is busy"):
            ps.lock(key, wait=False).acquire()


def test_numerics_revision_names_new_runs_and_leaves_old_keys_alone():
    from lls_core import study, train

    prof = study.get_profile("smoke")
    fcp = study.plan("fcp", prof, ["sgd"])[0].key
    ae = study.plan("autoencoder", prof, ["sgd"])[0].key
    assert fcp.numerics == train.NUMERICS["fcp"] >= 1 and fcp.as_dict()["numerics"] == fcp.numerics
    assert ae.numerics == 0 and "numerics" not in ae.as_dict()  # revision 0: the digest of keys made before revisions
    old = dataclasses.replace(fcp, numerics=0)
    assert old.digest != fcp.digest and "numerics" not in old.as_dict()


def test_pair_import_copies_verified_pairs_only_and_never_replaces(tmp_path: Path):
    away, home = store.Store(tmp_path / "away").pairs("fcp"), store.Store(tmp_path / "home").pairs("fcp")
    good, bad, both = "a" * 32, "b" * 32, "c" * 32
    away.save(good, {"height": 1.5}, '{"config": 1}')
    away.save(bad, {"height": 2.5}, '{"config": 1}')
    away.save(both, {"height": 3.5}, '{"config": 1}')
    home.save(both, {"height": 9.0}, '{"config": 1}')  # home's own value stays
    raw = away.path(bad).read_bytes()
    away.path(bad).write_bytes(raw.replace(b"2.5", b"2.6") if b"2.5" in raw else raw[:-10])  # damaged in transit
    with pytest.warns(Warning):
        assert home.import_from(away) == (1, 1)
    assert home.load(good, '{"config": 1}', ("height",)) == {"height": 1.5}
    assert home.load(both, '{"config": 1}', ("height",)) == {"height": 9.0}
    assert not home.path(bad).exists()
    with pytest.raises(ValueError, match="namespace"):
        home.import_from(store.Store(tmp_path / "away").pairs("lenet"))


def test_run_import_copies_verified_runs_only_and_never_replaces(tmp_path: Path, run_and_key):
    r, key = run_and_key
    away, home = store.Store(tmp_path / "away"), store.Store(tmp_path / "home")
    other = dataclasses.replace(key, seed=3)
    away.save(key, r)
    away.save(other, dataclasses.replace(r, seed=3))
    renamed = away.path(dataclasses.replace(key, seed=4))  # a file whose name is not its key's
    renamed.write_bytes(away.path(key).read_bytes())
    home.save(other, dataclasses.replace(r, seed=3, wall_s=99.0))  # home's own copy stays
    with pytest.warns(Warning, match="does not match its key"):
        copied, kept = home.import_from(away)
    assert copied == [key] and kept == [other]
    assert torch.equal(home.load(key).w_final, r.w_final) and home.load(other).wall_s == 99.0
    assert home.path(key).read_bytes() == away.path(key).read_bytes()  # bytes (and provenance) unchanged
    assert not home.path(dataclasses.replace(key, seed=4)).exists()
    with pytest.raises(ValueError, match="same store"):
        home.import_from(store.Store(tmp_path / "home"))
