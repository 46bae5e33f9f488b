"""Dask: a real ``dask scheduler`` and two ``dask worker`` processes on 127.0.0.1 give the serial results.

The scheduler and workers are subprocesses started here (random ports, their own
process group), waited for with deadlines and torn down in the fixture's finally.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from lls_core import cluster, study, topography

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT_S = 90


def _kill(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
    deadline = time.monotonic() + 15
    for p in procs:
        try:
            p.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.wait(timeout=10)


@pytest.fixture(scope="module")
def scheduler_address(tmp_path_factory):
    """Start ``dask scheduler`` + 2 single-threaded ``dask worker`` processes; yield the scheduler address."""
    tmp = tmp_path_factory.mktemp("dask")
    sfile = tmp / "scheduler.json"
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""), OMP_NUM_THREADS="1")
    procs: list[subprocess.Popen] = []
    common = dict(env=env, cwd=tmp, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "dask", "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
             "--scheduler-file", str(sfile)], **common))
        deadline = time.monotonic() + START_TIMEOUT_S
        address = None
        while time.monotonic() < deadline:
            if procs[0].poll() is not None:
                pytest.fail(f"dask scheduler exited with {procs[0].returncode}")
            try:
                address = json.loads(sfile.read_text())["address"]
                break
            except (FileNotFoundError, json.JSONDecodeError, KeyError):
                time.sleep(0.2)
        assert address and address.startswith("tcp://127.0.0.1:"), address
        for i in range(2):
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "dask", "worker", address, "--host", "127.0.0.1", "--nthreads", "1",
                 "--nworkers", "1", "--no-dashboard", "--memory-limit", "0", "--death-timeout", "60",
                 "--local-directory", str(tmp / f"w{i}")], **common))
        from distributed import Client

        with Client(address, timeout="30s") as c:
            c.wait_for_workers(2, timeout=START_TIMEOUT_S)
            assert len(c.scheduler_info()["workers"]) == 2
        yield address
    finally:
        _kill(procs)


def _same_runs(a: study.StudyResult, b: study.StudyResult) -> None:
    assert a.runs.keys() == b.runs.keys()
    for opt in a.runs:
        for ra, rb in zip(a.runs[opt], b.runs[opt], strict=True):
            assert ra.seed == rb.seed
            assert torch.equal(ra.train_loss.nan_to_num(-1), rb.train_loss.nan_to_num(-1))  # bit for bit
            assert torch.equal(ra.test_loss.nan_to_num(-1), rb.test_loss.nan_to_num(-1))
            assert torch.equal(ra.w_final, rb.w_final) and torch.equal(ra.w_test, rb.w_test)


def test_study_on_real_dask_processes_equals_serial(scheduler_address, tmp_path):
    torch.set_num_threads(1)
    dask_res = study.run_study("fcp", "smoke", store=tmp_path / "dask", scheduler=scheduler_address, progress=False)
    assert dask_res.n_computed == 6
    serial = study.run_study("fcp", "smoke", store=tmp_path / "serial", workers=1, progress=False)
    _same_runs(dask_res, serial)
    # the workers wrote into the shared store: a rerun reuses everything
    again = study.run_study("fcp", "smoke", store=tmp_path / "dask", scheduler=scheduler_address, progress=False)
    assert again.n_computed == 0 and again.n_reused == 6


def test_barriers_on_real_dask_processes_equal_serial(scheduler_address, tmp_path):
    torch.set_num_threads(1)
    topo = topography.load("fcp", "smoke", store=tmp_path / "s", workers=1, optimizers=("sgd", "lbfgs_gss"))
    cfg = topography.PATH_PROFILES["smoke"]
    sets = ["BFGS-train", "SGD-train"]
    on_dask = topography.all_barriers(topo, n_pairs=1, config=cfg, sets=sets, scheduler=scheduler_address, cache=False)
    serial = topography.all_barriers(topo, n_pairs=1, config=cfg, sets=sets, workers=1, cache=False)
    assert on_dask.keys() == serial.keys()
    for k in serial:
        assert (on_dask[k].height == serial[k].height).all(), k
        assert (on_dask[k].linear_height == serial[k].linear_height).all(), k


def test_store_not_visible_to_the_caller_is_named(scheduler_address, tmp_path, monkeypatch):
    """Workers that write where this process cannot see: the error names the store and what to do."""
    from lls_core import store as store_mod

    real_has = store_mod.Store.has
    calls = {"n": 0}

    def has(self, key):  # the caller never sees the runs the workers wrote
        if os.getpid() == main_pid:
            calls["n"] += 1
            return False
        return real_has(self, key)

    main_pid = os.getpid()
    monkeypatch.setattr(store_mod.Store, "has", has)
    with pytest.raises(FileNotFoundError, match="path every worker"):
        study.run_study("fcp", "smoke", store=tmp_path / "x", scheduler=scheduler_address, progress=False,
                        optimizers=("sgd",))


@pytest.mark.parametrize("bad", ["localhost:8786", "http://127.0.0.1:8786", "tcp://", "tcp://h:99999", "tcp://a b:1", "tcp://h:1/x y", 17])
def test_bad_scheduler_addresses_are_refused_before_work(bad, tmp_path):
    with pytest.raises(ValueError, match="scheduler="):
        study.run_study("fcp", "smoke", store=tmp_path, scheduler=bad, progress=False)
    assert not (tmp_path / "runs").exists()


def test_good_addresses_pass():
    assert cluster.check_scheduler("") is None and cluster.check_scheduler(None) is None
    assert cluster.check_scheduler("tcp://10.0.0.5:8786") == "tcp://10.0.0.5:8786"
    assert cluster.check_scheduler("tls://sched.example.org:8786") == "tls://sched.example.org:8786"


def test_local_cluster_listens_on_loopback_and_prints_dashboard(capfd):
    with cluster.client("", workers=1) as c:
        assert c.submit(sum, [1, 2]).result() == 3
        assert c.scheduler.address.startswith("tcp://127.0.0.1:")
        for w in c.scheduler_info()["workers"]:
            assert w.startswith("tcp://127.0.0.1:")
        link = c.dashboard_link
    assert link.startswith("http://127.0.0.1:")
    assert f"Dask dashboard: {link}" in capfd.readouterr().err
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "port 8787 in use": the health pages take a free port
        with cluster.client("", workers=1, dashboard=False, quiet=True) as c:
            assert c.submit(sum, [2, 2]).result() == 4
            http = c.run_on_scheduler(lambda dask_scheduler: dask_scheduler.http_server.address)
    assert http == "127.0.0.1"
