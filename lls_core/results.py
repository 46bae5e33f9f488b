"""Long study runs made outside the book build, and their derived results archived in ``<root>/data/results/<profile>/``.

A profile such as ``full`` (75 initialisations per optimizer, 1000 L-BFGS-GSS
iterations) takes hours on a CPU, so it is trained apart from the book build, in
the background, with its runs in an artifact store outside git::

    nice -n 19 python -m lls_core.results train --profile full --archs fcp autoencoder \\
        --store /path/outside/git
    python -m lls_core.results archive --profile full --archs fcp autoencoder --store /path/outside/git

``train`` trains the missing runs in ensembles through :func:`lls_core.study.execute_ensemble`
(the very function the chapters' Dask workers run), interleaved by initialisation
(seeds 0-15 of every network and optimizer, then 16-31, ...) so that a run stopped
early leaves comparable counts for every set. ``archive`` reads what is in the store
and writes the derived results (per-run final losses and curves, the weight-set
statistics, Table 1, provenance: command, git commit, machine, wall times, input
checksums) into ``<root>/data/results/<profile>/`` (:func:`archive_root`; ``<root>`` is the one
writable root, :func:`lls_core.resources.root`: the checkout, or ``$LLS_ROOT``); the weights stay
in the store. The chapters read the archive with :func:`load_archive`, offline.

Runs trained on another machine (``train --device cuda`` on a lent GPU, into a store of its own)
come home with ``import-runs``: verified run files, their log records and a manifest entry::

    python -m lls_core.results import-runs --source /tmp/gpu-store --store /path/outside/git

``calibrate-paths`` runs a sample of barrier paths under a profile's cheap path settings and
under the authors' (:func:`archive_path_calibration`) and archives the comparison in
``<root>/data/results/<profile>/path_calibration/``; the barriers chapter reads it with
:func:`load_path_calibration`::

    LLS_ARTIFACTS=STORE python -m lls_core.results calibrate-paths --profile quick --archs fcp autoencoder --pairs 8
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import io
import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import torch

from . import __version__, checks, models, resources, runtime, study
from .store import Store
from .io import atomic_write
from .train import NETWORK_OPTIMIZERS, default_device

__all__ = ["interleaved_tasks", "train_background", "archive", "load_archive", "table1_beside", "Archive", "archive_root",
           "CALIBRATION_FOLDER", "RECOMPUTE_SET", "LANDSCAPE_FOLDER", "archive_landscape", "LandscapeArchive",
           "load_landscape", "archives", "CalibrationLoad", "archive_path_calibration", "PathCalibrationRecord",
           "load_path_calibration", "tensor_sha256", "DEVICE_FOLDER", "DeviceBench", "load_device_bench", "export_sets",
           "find_paths", "import_pairs", "import_runs", "PATHS_LOG"]


def archive_root() -> Path:
    """The folder of the archives: ``<root>/data/results`` (:func:`lls_core.resources.root`)."""
    return resources.root() / "data" / "results"


def interleaved_tasks(
    archs: Sequence[str], profile: str | study.Profile, optimizers: Sequence[str] = study.DEFAULT_OPTIMIZERS
) -> list[study.Task]:
    """Every task of the studies of ``archs``, ordered by seed first, then architecture, then optimizer."""
    prof = study.get_profile(profile)
    tasks = [t for a in archs for t in study.plan(a, prof, optimizers)]
    order = {(a, o): i for i, (a, o) in enumerate((a, o) for a in archs for o in optimizers)}
    return sorted(tasks, key=lambda t: (t.key.seed, order[(t.key.arch, t.key.optimizer)]))


def train_background(
    archs: Sequence[str],
    profile: str | study.Profile,
    store: str | os.PathLike[str],
    optimizers: Sequence[str] = study.DEFAULT_OPTIMIZERS,
    *,
    log: str | os.PathLike[str] | None = None,
    device: str | None = "cpu",
    shard: tuple[int, int] = (0, 1),
    claim_runs: bool = True,
    retry_failed: bool = False,
    ensemble_size: Mapping[str, int] | None = None,
) -> int:
    """Train every missing run of ``archs`` under ``profile`` into ``store``, ensemble by ensemble; return how many.

    The missing runs, in :func:`interleaved_tasks` order, are cut into :func:`lls_core.study.ensembles`
    (``ensemble_size``: runs per ensemble by architecture, default
    :data:`lls_core.study.ENSEMBLE_MAX_RUNS`) and each is trained by
    :func:`lls_core.study.execute_ensemble` (the function the chapters' Dask workers run:
    every run as it would run alone) with one torch thread. ``log``: a JSON-lines file
    that gets one record per finished run (arch, optimizer, seed, UTC time, the git
    commit of the code, and the run's share of its ensemble's wall and CPU seconds, with
    ``ensemble`` runs and the whole ``ensemble_wall_s``; ``resumed`` when the ensemble
    went on from a checkpoint, whose times then count only this process's part);
    default ``<store>/train-<profile>.jsonl``.
    ``shard=(i, n)``: do only the ensembles whose position is ``i`` modulo ``n`` (``n``
    processes share the work without ever training the same run twice).
    ``claim_runs``: before training, create ``<store>/claims/<key digest>`` of each run
    exclusively (holding this process's id) and leave out runs another live process on
    this machine has claimed, so that several processes started alike share the work
    dynamically. An ensemble that raises is retried one run at a time
    (:func:`lls_core.study.execute`); a run that still raises is logged with its error
    (``"error"``) and skipped, and later calls skip it too unless ``retry_failed``; the
    others go on. Returns how many runs finished.
    """
    i_shard, n_shard = shard
    if not (isinstance(n_shard, int) and n_shard >= 1 and isinstance(i_shard, int) and 0 <= i_shard < n_shard):
        raise ValueError(f"shard={shard!r}: must be (i, n) with n >= 1 and 0 <= i < n")
    prof = study.get_profile(profile)
    st = Store(store)
    st.root.mkdir(parents=True, exist_ok=True)
    log_path = Path(log) if log else st.root / f"train-{prof.name}.jsonl"
    failed = set()
    if log_path.is_file() and not retry_failed:
        for line in log_path.read_text().splitlines():
            rec = json.loads(line) if line.strip() else {}
            if "error" in rec:
                failed.add((rec["arch"], rec["optimizer"], rec["seed"]))
    todo = [t for t in interleaved_tasks(archs, prof, optimizers)
            if not st.has(t.key) and (t.key.arch, t.key.optimizer, t.key.seed) not in failed]

    commit = _git_commit()
    device_name = _device_name(device or default_device())
    n = 0
    for pos, group in enumerate(study.ensembles(todo, ensemble_size)):
        if pos % n_shard != i_shard:
            continue
        claims: list[Path] = []
        try:
            mine = []
            for t in group:
                c = _claim(st.root, t.key.digest) if claim_runs else None
                if claim_runs and c is None:
                    continue  # another live process is training it
                if c is not None:
                    claims.append(c)
                if not st.has(t.key):
                    mine.append(t)
            if not mine:
                continue
            t0, c0 = time.perf_counter(), time.process_time()
            resumed = study.checkpoint_path(st, [t.key for t in mine]).is_file()
            errors: dict[int, str] = {}
            times: dict[int, tuple[float, float]] = {}
            try:
                study.execute_ensemble(mine, str(st.root), device, threads=1)
                wall, cpu = time.perf_counter() - t0, time.process_time() - c0
                times = {id(t): (wall / len(mine), cpu / len(mine)) for t in mine}
            except Exception:  # noqa: BLE001 - find the run that fails: the others are trained alone
                for t in mine:
                    if st.has(t.key):
                        continue
                    t1, c1 = time.perf_counter(), time.process_time()
                    try:
                        study.execute(t, str(st.root), device, threads=1)
                    except Exception as err:  # noqa: BLE001 - a failed run is logged and the others go on
                        errors[id(t)] = f"{type(err).__name__}: {err}"
                    times[id(t)] = (time.perf_counter() - t1, time.process_time() - c1)
                wall = time.perf_counter() - t0
        finally:
            for c in claims:
                c.unlink(missing_ok=True)
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        records = []
        for t in mine:
            wall_s, cpu_s = times.get(id(t), (0.0, 0.0))
            entry: dict[str, Any] = {"arch": t.key.arch, "optimizer": t.key.optimizer, "seed": t.key.seed,
                                     "wall_s": round(wall_s, 3), "cpu_s": round(cpu_s, 3), "ensemble": len(mine),
                                     "ensemble_wall_s": round(wall, 3), "finished_utc": stamp, "machine": platform.node(),
                                     "device": device_name, "git_commit": commit}
            if resumed:  # its times count only the part after the checkpoint
                entry["resumed"] = True
            if id(t) in errors:
                entry["error"] = errors[id(t)]
            records.append(entry)
            n += id(t) not in errors
        with open(log_path, "a") as f:
            f.write("".join(json.dumps(r) + "\n" for r in records))
    return n


def _git_commit() -> str:
    """``$LLS_GIT_COMMIT`` when set (a copy of the working tree on another machine, whose ``.git`` may be
    missing or stale: a lent GPU machine's copy once reported an older commit than the code it ran), else
    the checkout's HEAD, else ``"unknown"``."""
    if os.environ.get("LLS_GIT_COMMIT"):
        return os.environ["LLS_GIT_COMMIT"]
    try:
        out = subprocess.run(["git", "-C", str(resources.checkout() or resources.root()), "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=10, check=True)
        return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return os.environ.get("LLS_GIT_COMMIT", "unknown")


def _device_name(device: str) -> str:
    """``"cpu"``, or the GPU's name (``"cuda: NVIDIA H200"``): what a log record says the run was trained on."""
    if device.startswith("cuda") and torch.cuda.is_available():
        return f"cuda: {torch.cuda.get_device_name(torch.device(device))}"
    return device


def _machine() -> dict[str, Any]:
    return {
        "node": platform.node(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "lls_core": __version__,
    }


def _write_manifest(root: Path, profile: str, argv: Sequence[str], extra: Mapping[str, Any] | None = None) -> None:
    """The store's record of how its runs were started: the first start at the top level, every later
    start (a restart, another command into the same store, an import) appended to ``later_starts``;
    ``extra`` joins the record."""
    path = root / f"train-{profile}.manifest.json"
    rec = {"command": " ".join(argv), "git_commit": _git_commit(), "machine": _machine(), "niceness": os.nice(0),
           "torch_threads": torch.get_num_threads(), "pid": os.getpid(),
           "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **(extra or {})}
    if path.exists():
        first = json.loads(path.read_text())
        first.setdefault("later_starts", []).append(rec)
        rec = first
    atomic_write(path, json.dumps(rec, indent=1, sort_keys=True).encode())


def import_runs(source: str | os.PathLike[str], store: str | os.PathLike[str], *,
                command: str | None = None) -> dict[str, tuple[int, int]]:
    """Bring the finished runs of ``source`` (a store trained on another machine, e.g. by ``results train
    --device cuda`` on a lent GPU) that ``store`` lacks into it, with their records.

    Runs are checked and copied by :meth:`lls_core.store.Store.import_from` (checksum and key verified,
    bytes unchanged: each run file keeps the device it was trained on). For every profile whose log
    ``train-<profile>.jsonl`` is in ``source``, the log records of the copied runs (those of that
    profile's keys, :func:`interleaved_tasks`) are appended to ``store``'s log of the same name, each
    marked ``imported_from``, and ``store``'s manifest ``train-<profile>.manifest.json`` gets a
    ``later_starts`` entry for the import (this command, commit and machine, the runs copied, and the
    source's own manifest). Returns ``{"<arch>/<optimizer>": (copied, kept)}``; kept: runs ``store``
    already had (never replaced).

    Example::

        import_runs("/tmp/gpu-store", "/work/lls-full-store2")   # {"lenet/sgd": (16, 0)}
    """
    src, dst = Store(source), Store(store)
    if not src.root.is_dir():
        raise FileNotFoundError(f"no store at {src.root}")
    dst.root.mkdir(parents=True, exist_ok=True)
    copied, kept = dst.import_from(src)
    out: dict[str, list[int]] = {}
    for col, group in enumerate((copied, kept)):
        for k in group:
            out.setdefault(f"{k.arch}/{k.optimizer}", [0, 0])[col] += 1
    digests = {k.digest for k in copied}
    cmd = command or " ".join(["python", "-m", "lls_core.results", "import-runs", "--source", str(src.root),
                               "--store", str(dst.root)])
    for log in sorted(src.root.glob("train-*.jsonl")):
        name = log.stem[len("train-"):]
        if name not in study.PROFILES:
            continue
        digest_of = {(t.key.arch, t.key.optimizer, t.key.seed): t.key.digest
                     for t in interleaved_tasks(list(models.ARCHITECTURES), name, list(NETWORK_OPTIMIZERS))}
        recs = [json.loads(x) for x in log.read_text().splitlines() if x.strip()]
        mine = [r for r in recs if "error" not in r and digest_of.get((r.get("arch"), r.get("optimizer"), r.get("seed"))) in digests]
        if not mine:
            continue
        with open(dst.root / log.name, "a") as f:
            f.write("".join(json.dumps({**r, "imported_from": str(src.root)}) + "\n" for r in mine))
        man = src.root / f"train-{name}.manifest.json"
        _write_manifest(dst.root, name, [cmd], {
            "imported_from": str(src.root), "runs_imported": len(mine),
            "source_manifest": json.loads(man.read_text()) if man.is_file() else None})
    return {k: (v[0], v[1]) for k, v in sorted(out.items())}


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def archive(
    profile: str | study.Profile,
    archs: Sequence[str],
    store: str | os.PathLike[str],
    out_dir: str | os.PathLike[str] | None = None,
    optimizers: Sequence[str] = study.DEFAULT_OPTIMIZERS,
    *,
    command: str | None = None,
) -> Path:
    """Write the derived results of the finished runs of ``archs`` under ``profile`` into ``out_dir``.

    ``out_dir`` (default ``<root>/data/results/<profile>/``, :func:`archive_root`) gets, atomically:
    ``runs.csv`` (one row per finished run: final, minimum and early-stopping losses,
    steps, wall seconds, device, the run file's SHA-256), ``curves.npz`` (every
    finished run's training and test curve, float64, ``<arch>/<optimizer>/<seed>/train``
    and ``.../test``), ``table1.csv`` (the mean over the K best finished runs of the
    minimum training and test loss, K = min(k_best, finished runs), with K stated),
    ``weight_stats.csv`` (Table S1: mean and standard deviation of all components of
    each weight set) and ``provenance.json`` (this command, its git commit, the
    training command, commit and machine from the store's manifest, wall times,
    the data checksum). Runs not yet finished are listed in ``provenance.json``.
    Weights stay in the store.
    """
    import pandas as pd

    prof = study.get_profile(profile)
    st = Store(store)
    out = Path(out_dir) if out_dir is not None else archive_root() / prof.name
    rows: list[dict[str, Any]] = []
    curves: dict[str, np.ndarray] = {}
    t1: list[dict[str, Any]] = []
    ws: list[dict[str, Any]] = []
    missing: dict[str, list[int]] = {}
    checksums: set[str] = set()
    for arch in archs:
        for opt in optimizers:
            tasks = study.plan(arch, prof, [opt])
            done = [t for t in tasks if st.has(t.key)]
            missing[f"{arch}/{opt}"] = [t.key.seed for t in tasks if not st.has(t.key)]
            runs = []
            for t in done:
                r = st.load(t.key)
                checksums.add(t.key.data_checksum)
                runs.append(r)
                finite = torch.nan_to_num(r.train_loss, nan=float("inf"))
                last = int(torch.isfinite(finite).nonzero().max()) if torch.isfinite(finite).any() else 0
                rows.append({
                    "arch": arch, "optimizer": opt, "seed": r.seed, "steps": len(r.train_loss) - 1,
                    "final_train_loss": float(r.train_loss[last]), "final_test_loss": float(r.test_loss[last]),
                    "last_finite_step": last,
                    "min_train_loss": r.min_train_loss, "min_test_loss": r.min_test_loss,
                    "best_train_step": r.best_train_step, "best_test_step": r.best_test_step,
                    "wall_s": r.wall_s, "device": r.device, "run_sha256": _sha256(st.path(t.key)),
                })
                curves[f"{arch}/{opt}/{r.seed}/train"] = r.train_loss.double().numpy()
                curves[f"{arch}/{opt}/{r.seed}/test"] = r.test_loss.double().numpy()
            if not runs:
                continue
            k = min(prof.k_best, len(runs))
            best = study.best_runs(runs, k)
            t1.append({"arch": arch, "optimizer": opt, "finished": len(runs), "of": prof.n_inits, "k": k,
                       "k_target": prof.k_best,
                       "train": float(np.mean([r.min_train_loss for r in best])),
                       "test": float(np.mean([r.min_test_loss for r in best]))})
            prefix = NETWORK_OPTIMIZERS[opt].set_prefix
            for which in ("train", "test"):
                w = torch.stack([r.w_train if which == "train" else r.w_test for r in best]).double()
                per_vec = w.std(dim=1, unbiased=False)
                ws.append({"arch": arch, "set": f"{prefix}-{which}", "k": k, "mean": float(w.mean()),
                           "std": float(w.std(unbiased=False)), "per_vector_std_mean": float(per_vec.mean()),
                           "per_vector_std_sd": float(per_vec.std(unbiased=False))})
    if not rows:
        raise FileNotFoundError(f"no finished {prof.name} runs of {', '.join(archs)} in the store {st.root}")
    manifest_path = st.root / f"train-{prof.name}.manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.is_file() else None
    log_path = st.root / f"train-{prof.name}.jsonl"
    log = [json.loads(line) for line in log_path.read_text().splitlines() if line.strip()] if log_path.is_file() else []
    walls = [r["wall_s"] for r in rows]
    prov = {
        "profile": prof.name,
        "profile_settings": {"dataset": prof.dataset, "n_train": prof.n_train, "n_test": prof.n_test,
                             "split_seed": prof.split_seed, "n_inits": prof.n_inits, "k_best": prof.k_best,
                             "optimizers": {o: dataclasses.asdict(prof.config(o)) for o in optimizers}},
        "archs": list(archs),
        "archive_command": command or "python -m lls_core.results archive",
        "archive_git_commit": _git_commit(),
        "archive_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "training": manifest,
        "machine": _machine(),
        "data_checksums_sha256": sorted(checksums),
        "runs_finished": len(rows),
        "runs_planned": prof.n_inits * len(archs) * len(optimizers),
        "runs_missing": {k: v for k, v in missing.items() if v},
        "run_wall_s_sum": float(sum(walls)),
        "run_wall_s_by_set": {f"{a}/{o}": float(sum(r["wall_s"] for r in rows if (r["arch"], r["optimizer"]) == (a, o)))
                              for a in archs for o in optimizers},
        "per_set_from_log": _per_set([r for r in log if "error" not in r], archs, optimizers, prof.n_inits),
        "runs_failed": [{k: r[k] for k in ("arch", "optimizer", "seed", "error", "cpu_s", "finished_utc")}
                        for r in log if "error" in r and r["arch"] in archs and r["optimizer"] in optimizers],
        "log_first_finish_utc": log[0]["finished_utc"] if log else None,
        "log_last_finish_utc": log[-1]["finished_utc"] if log else None,
    }
    buf = io.BytesIO()
    arrays: dict[str, Any] = dict(curves)  # names "arch/optimizer/seed/split": never savez's own allow_pickle
    np.savez_compressed(buf, **arrays)
    atomic_write(out / "curves.npz", buf.getvalue())
    atomic_write(out / "runs.csv", pd.DataFrame(rows).to_csv(index=False, float_format="%.17g").encode())
    atomic_write(out / "table1.csv", pd.DataFrame(t1).to_csv(index=False, float_format="%.17g").encode())
    atomic_write(out / "weight_stats.csv", pd.DataFrame(ws).to_csv(index=False, float_format="%.17g").encode())
    atomic_write(out / "provenance.json", json.dumps(prov, indent=1, sort_keys=True).encode())
    return out


def _per_set(log: Sequence[Mapping[str, Any]], archs: Sequence[str], optimizers: Sequence[str], n_inits: int) -> dict:
    """Per network/optimizer: runs logged, the sizes of the ensembles they were trained in, the devices they were trained on (``"cpu"`` for records
    written before the log named one: ``results train`` trained on the CPU only), mean wall and CPU
    seconds per run, and the CPU hours all ``n_inits`` runs would take at that mean (the
    extrapolation for unfinished sets)."""
    out = {}
    for a in archs:
        for o in optimizers:
            recs = [r for r in log if r["arch"] == a and r["optimizer"] == o]
            cpu = [r["cpu_s"] for r in recs if "cpu_s" in r]
            out[f"{a}/{o}"] = {
                "runs_logged": len(recs),
                "devices": sorted({r.get("device", "cpu") for r in recs}),
                "ensemble_sizes": sorted({int(r["ensemble"]) for r in recs if "ensemble" in r}, reverse=True),
                "mean_wall_s": float(np.mean([r["wall_s"] for r in recs])) if recs else None,
                "runs_with_cpu_s": len(cpu),
                "mean_cpu_s": float(np.mean(cpu)) if cpu else None,
                "cpu_hours_all_runs": float(np.mean(cpu)) * n_inits / 3600 if cpu else None,
            }
    return out


@dataclass(frozen=True, eq=False)
class Archive:
    """Derived results of a long profile run, read from ``data/results/<profile>/`` (no store, no network).

    ``runs``: one row per finished run; ``table1``: mean minimum losses of the K best
    finished runs per network and optimizer; ``weight_stats``: Table S1 of those sets;
    ``provenance``: how, where and when they were made.
    """

    profile: str
    folder: Path
    runs: Any
    table1: Any
    weight_stats: Any
    provenance: Mapping[str, Any]

    def curve(self, arch: str, optimizer: str, seed: int, which: str = "train") -> np.ndarray:
        """One stored loss curve, float64 ``(steps + 1,)``."""
        if which not in ("train", "test"):
            raise ValueError(f"which={which!r}; valid: train, test")
        key = f"{arch}/{optimizer}/{seed}/{which}"
        with np.load(self.folder / "curves.npz", allow_pickle=False) as z:
            if key not in z.files:
                raise KeyError(f"no archived curve {key!r} in {self.folder}; finished runs are listed in runs.csv")
            return z[key]

    def machines_text(self) -> str:
        """Where the archived runs were trained, for the prose: ``"2 CPU cores"``, or per device the sets
        it trained (``"2 CPU cores (FCP L-BFGS-GSS, ...) and an NVIDIA H200 GPU (autoencoder L-BFGS-GSS)"``)."""
        cores = self.provenance["machine"]["cpu_count"]
        by: dict[str, list[str]] = {}
        for key, rec in self.provenance.get("per_set_from_log", {}).items():
            if rec.get("runs_logged"):
                arch, opt = key.split("/")
                for dev in rec.get("devices") or ["cpu"]:
                    by.setdefault(dev, []).append(f"{study.NETWORK_NAMES[arch]} {NETWORK_OPTIMIZERS[opt].label}")

        def name(dev: str) -> str:
            return f"{cores} CPU cores" if dev == "cpu" else f"an {dev.removeprefix('cuda: ')} GPU"

        if len(by) <= 1:
            return name(next(iter(by), "cpu"))
        return " and ".join(f"{name(d)} ({', '.join(sets)})" for d, sets in by.items())

    def facts(self) -> dict[str, Any]:
        """Flat numbers for the prose: runs finished / planned / failed, summed run hours, training commit."""
        p = self.provenance
        return {"runs_finished": p["runs_finished"], "runs_planned": p["runs_planned"],
                "runs_failed": len(p.get("runs_failed", [])),
                "run_hours": p["run_wall_s_sum"] / 3600, "commit": (p.get("training") or {}).get("git_commit", "")[:10]}


def table1_beside(archive: Archive, page: Any) -> Any:
    """Table 1 for the archived networks: this page's runs, the archived profile's runs and the published values.

    ``page``: the frame of :func:`lls_core.study.table1` (columns ``(loss, optimizer,
    source)``). Returns a DataFrame indexed by network name with columns
    ``(loss, optimizer, source)``, source in {``page``, the archive's profile name,
    ``published``}, plus ``(K of finished, optimizer, <profile>)``: how many runs the
    archived mean covers and how many of the planned runs had finished.
    """
    import pandas as pd

    n_inits = archive.provenance.get("profile_settings", {}).get("n_inits", "?")
    runs_col = f"K / finished / planned ({archive.profile})"
    rows: dict[str, dict[tuple[str, str, str], Any]] = {}
    for arch in dict.fromkeys(archive.table1.arch):  # this page's and the published values of every optimizer
        name = study.NETWORK_NAMES[arch]
        row = rows.setdefault(name, {})
        if name in page.index:
            for loss, label, source in page.columns:
                if loss in ("train", "test") and source in ("book", "published"):
                    row[(loss, label, "page" if source == "book" else "published")] = float(page.loc[name, (loss, label, source)])
    for rec in archive.table1.itertuples(index=False):
        name = study.NETWORK_NAMES[rec.arch]
        label = NETWORK_OPTIMIZERS[rec.optimizer].label
        row = rows.setdefault(name, {})
        for loss in ("train", "test"):
            if name in page.index and (loss, label, "book") in page.columns:
                row[(loss, label, "page")] = float(page.loc[name, (loss, label, "book")])
            row[(loss, label, archive.profile)] = float(getattr(rec, loss))
            if name in page.index and (loss, label, "published") in page.columns:
                row[(loss, label, "published")] = float(page.loc[name, (loss, label, "published")])
        row[("runs", label, runs_col)] = f"{rec.k} / {rec.finished} / {rec.of}"
    labels_done = {c[1] for r in rows.values() for c in r if c[0] == "runs"}
    for row in rows.values():
        for label in labels_done:
            row.setdefault(("runs", label, runs_col), f"0 / 0 / {n_inits}")  # nothing finished for this one
    frame = pd.DataFrame.from_dict(rows, orient="index")
    rank = {"train": 0, "test": 1, "runs": 2, "page": 0, archive.profile: 1, "published": 2}
    labels = [NETWORK_OPTIMIZERS[o].label for o in NETWORK_OPTIMIZERS]
    order = sorted(frame.columns, key=lambda c: (rank[c[0]], labels.index(c[1]), rank.get(c[2], 3)))
    frame = frame[order]
    frame.columns = pd.MultiIndex.from_tuples(frame.columns, names=["loss", "optimizer", "source"])
    frame.index.name = "network"
    return frame


def load_archive(profile: str = "full", root: str | os.PathLike[str] | None = None) -> Archive:
    """The archived results of ``profile`` (``FileNotFoundError`` naming the folder when there are none)."""
    import pandas as pd

    folder = Path(root) if root is not None else archive_root() / profile
    need = ["runs.csv", "table1.csv", "weight_stats.csv", "provenance.json", "curves.npz"]
    absent = [n for n in need if not (folder / n).is_file()]
    if absent:
        raise FileNotFoundError(f"no archived {profile!r} results in {folder}: missing {', '.join(absent)}")
    return Archive(profile, folder, pd.read_csv(folder / "runs.csv"), pd.read_csv(folder / "table1.csv"),
                   pd.read_csv(folder / "weight_stats.csv"), json.loads((folder / "provenance.json").read_text()))


# ------------------------------------------------------------------ path calibration (barriers chapter)
CALIBRATION_FOLDER = "path_calibration"
"""Subfolder of ``data/results/<profile>/`` that holds the archived path calibration."""

_CAL_FILES = ("pairs.csv", "groups.csv", "summary.csv", "verdicts.csv", "endpoints.npz", "provenance.json")

RECOMPUTE_SET = "SGD-train"
"""The set whose first training-landscape pair keeps its two end points in ``endpoints.npz``: the
recompute test runs that pair's paths from them."""


@dataclass(frozen=True)
class CalibrationLoad:
    """How the weight sets of a calibration are loaded: :func:`lls_core.topography.load` with
    ``n_inits``, ``k_best`` and ``counts`` (``{optimizer: (n_inits, k_best)}``); the defaults are
    those of the barriers chapter at the ``quick`` profile."""

    n_inits: int = 75
    k_best: int = 48
    counts: tuple[tuple[str, int, int], ...] = (("lbfgs", 8, 6),)

    def counts_dict(self) -> dict[str, tuple[int, int]]:
        return {o: (n, k) for o, n, k in self.counts}


def tensor_sha256(t: torch.Tensor) -> str:
    """SHA-256 (hex) of a tensor's contiguous CPU bytes (float32 little-endian for the weight sets), in row order."""
    return hashlib.sha256(t.detach().contiguous().cpu().numpy().tobytes()).hexdigest()


def _config_dict(cfg: Any) -> dict[str, Any]:
    return {k: v for k, v in dataclasses.asdict(cfg).items() if k != "memory_mb"}  # memory_mb: chunking only


def archive_path_calibration(
    profile: str = "quick",
    archs: Sequence[str] = ("fcp", "autoencoder"),
    *,
    n_pairs: int = 8,
    load: CalibrationLoad = CalibrationLoad(),
    build: Any = None,
    reference: Any = None,
    store: str | os.PathLike[str] | None = None,
    out_dir: str | os.PathLike[str] | None = None,
    workers: int = 1,
    seed: int = 0,
    n_boot: int = 2000,
    command: str | None = None,
    progress: bool = False,
    pair_batch: int = 1,
) -> Path:
    """Calibrate a profile's path settings against the authors' and archive the result.

    For each architecture in ``archs``: load the weight sets as the barriers chapter does
    (:func:`lls_core.topography.load` with ``load``; missing runs are trained), then
    :func:`lls_core.topography.calibrate_paths` with ``build`` (default
    ``topography.PATH_PROFILES[profile]``) against ``reference`` (default
    :data:`lls_core.topography.AUTHORS_PATHS`) on the first ``n_pairs`` disjoint pairs of
    each of the four sets (BFGS/SGD, train/test weights; a set holding the same vectors as an earlier
    one is left out) on both landscapes: the pairs the
    chapter draws with the same ``seed``. Paths already in the store's pair cache are reused,
    so a stopped call resumes; ``pair_batch`` pairs are found and stored together (default 1:
    on a CPU batching pairs gains nothing, ``pairs_speedup`` of ``benchmarks/bench_barriers.py``,
    and an autoencoder path under the authors' settings takes minutes, so each is kept as it finishes). Writes, atomically, into ``out_dir`` (default
    ``data/results/<profile>/path_calibration``):

    * ``pairs.csv``: one row per pair and landscape: ``arch``, ``set``, ``landscape``, ``i``,
      ``j`` (rows of the weight set), ``seed_i``, ``seed_j`` (the runs' training seeds),
      ``sha_i``, ``sha_j`` (:func:`tensor_sha256` of the two end points), ``height_build``,
      ``height_reference``, ``fine_build``, ``fine_reference`` (the same paths on the fine
      grid), ``linear_build``, ``linear_reference`` (the straight line's height), ``endpoint_build``,
      ``endpoint_reference`` (the higher end point's loss);
    * ``groups.csv``: per arch, set and landscape ``n``, ``bias``, ``spearman`` and the median
      heights; ``summary.csv``: per arch the :meth:`PathCalibration.facts
      <lls_core.topography.PathCalibration.facts>`; ``verdicts.csv``: the barrier claims'
      verdicts under both settings;
    * ``endpoints.npz``: the two end points (float32) of the first :data:`RECOMPUTE_SET` pair on
      the training landscape, keys ``<arch>/i`` and ``<arch>/j`` (:meth:`PathCalibrationRecord.endpoints`);
    * ``provenance.json``: the settings (both :class:`~lls_core.landscape.PathConfig`, pairs,
      seed, how the sets were loaded) and, per arch, the command, git commit, machine, start
      and end time, wall seconds, the paths this call computed (the others came from the pair
      cache), the data checksum, the SHA-256 of every weight set used, and ``earlier_runs``: the
      same record of each earlier call that wrote this architecture.

    Architectures already in ``out_dir`` and not in ``archs`` are kept, when their settings
    are the same (else ``ValueError``: write to another folder). Returns ``out_dir``.
    """
    import pandas as pd

    from . import topography

    prof = study.get_profile(profile)
    build = topography.PATH_PROFILES[prof.name] if build is None else build
    reference = topography.AUTHORS_PATHS if reference is None else reference
    archs = models.check_archs(archs)
    if isinstance(n_pairs, bool) or not isinstance(n_pairs, int) or n_pairs < 8:
        raise ValueError(f"n_pairs={n_pairs!r}: a calibration needs at least 8 pairs per set")
    checks.integer("pair_batch", pair_batch, min=1)
    if n_pairs > load.k_best // 2:
        raise ValueError(f"n_pairs={n_pairs}: at most k_best // 2 = {load.k_best // 2} disjoint pairs")
    out = Path(out_dir) if out_dir is not None else archive_root() / prof.name / CALIBRATION_FOLDER
    settings = {"profile": prof.name, "build": _config_dict(build), "reference": _config_dict(reference),
                "n_pairs": n_pairs, "pairing": "disjoint", "seed": seed, "n_boot": n_boot,
                "load": {"n_inits": load.n_inits, "k_best": load.k_best,
                         "counts": {o: [n, k] for o, n, k in load.counts}}}
    old = _read_calibration(out, endpoints=False) if (out / "provenance.json").is_file() else None
    if old is not None and old[4]["settings"] != settings:
        raise ValueError(f"{out} holds a calibration with other settings ({old[4]['settings']}); "
                         f"this call has {settings}: pass another out_dir")
    cmd = command or " ".join(["python", "-m", "lls_core.results", "calibrate-paths", "--profile", prof.name,
                               "--archs", *archs, "--pairs", str(n_pairs)])
    commit = _git_commit()  # the code that runs: read before the long work, not after it
    for arch in archs:
        t0, started = time.perf_counter(), time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        topo = topography.load(arch, prof.name, n_inits=load.n_inits, k_best=load.k_best, counts=load.counts_dict(),
                               store=store, workers=workers, progress=progress)
        every = [n for n in topography.CALIBRATION_SETS if n in topo.sets]  # their checksums are recorded
        cache = topography.pair_store(topo)

        stored_before = _n_stored(cache)
        # calibrate_paths leaves out a set that holds another's vectors (recorded in sets_left_out below)
        cal = topography.calibrate_paths(topo, build, reference=reference, n_pairs=n_pairs, seed=seed, sets=every,
                                         workers=workers, n_boot=n_boot, pairing="disjoint", pair_batch=pair_batch)
        pf = cal.frame.copy()
        seeds = {n: topo.seeds.get(n, ()) for n in every}
        for end in ("i", "j"):
            pf[f"seed_{end}"] = [int(seeds[s][k]) if seeds[s] else -1 for s, k in zip(pf["set"], pf[end])]
            pf[f"sha_{end}"] = [tensor_sha256(topo.sets[s][k]) for s, k in zip(pf["set"], pf[end])]
        cols = ["set", "landscape", "i", "j", "seed_i", "seed_j", "sha_i", "sha_j", "height_build", "height_reference",
                "fine_build", "fine_reference", "linear_build", "linear_reference", "endpoint_build", "endpoint_reference"]
        med = pf.groupby(["set", "landscape"], sort=False)[["height_build", "height_reference"]].median()
        g = cal.groups.merge(med.rename(columns={"height_build": "median_build", "height_reference": "median_reference"}),
                             left_on=["set", "landscape"], right_index=True)
        new = {"pairs": pf[cols].assign(arch=arch)[["arch", *cols]], "groups": g.assign(arch=arch)[["arch", *g.columns]],
               "summary": pd.DataFrame([{"arch": arch, **cal.facts()}]),
               "verdicts": cal.verdicts.assign(arch=arch)[["arch", *cal.verdicts.columns]]}
        rec = {
            "paths_computed": _n_stored(cache) - stored_before,  # new in the pair cache (the rest reused)
            "command": cmd, "git_commit": commit, "machine": _machine(), "torch_threads": torch.get_num_threads(),
            "workers": workers, "started_utc": started, "finished_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "wall_s": round(time.perf_counter() - t0, 1), "store": topo.store_root,
            "data_checksum_sha256": topo.dataset.checksum, "n_train": topo.dataset.n_train, "n_test": topo.dataset.n_test,
            "weight_sets_sha256": {n: tensor_sha256(topo.sets[n]) for n in every},
            "weight_sets_shape": {n: list(topo.sets[n].shape) for n in every},
            "sets_left_out": {b: f"the same vectors as {a}" for a, b in topo.same_sets() if b in every},
        }
        first = pf[(pf["set"] == RECOMPUTE_SET) & (pf["landscape"] == "train")].iloc[0]
        ends = {f"{arch}/i": topo.sets[RECOMPUTE_SET][int(first["i"])].numpy(),
                f"{arch}/j": topo.sets[RECOMPUTE_SET][int(first["j"])].numpy()}
        _merge_calibration(out, settings, arch, new, rec, ends)
    return out


def _n_stored(ps: Any) -> int:
    """Paths in a :class:`~lls_core.store.PairStore` and its legacy folder (files move from one to the other on load)."""
    return len(list(ps.dir.glob("*.npz"))) + len(list(ps.legacy_dir.glob("pair-*.npz")))


def _merge_calibration(out: Path, settings: Mapping[str, Any], arch: str, new: Mapping[str, Any],
                       rec: dict[str, Any], ends: Mapping[str, np.ndarray]) -> None:
    """Put one architecture's frames and provenance into the archive at ``out``, beside the others.

    Under a lock, the archive is read again at this moment (another call may have added an
    architecture meanwhile), this architecture's old rows are replaced and its old provenance
    moves to ``earlier_runs``; every file is written atomically, provenance last.
    """
    import pandas as pd

    from .io import FileLock

    import tempfile

    out.mkdir(parents=True, exist_ok=True)
    tag = hashlib.sha256(str(out.resolve()).encode()).hexdigest()[:16]  # the lock lives outside the (git) folder
    with FileLock(Path(tempfile.gettempdir()) / f"lls-calibration-{tag}.lock", what=f"the path calibration archive {out}"):
        old = _read_calibration(out, endpoints=False) if (out / "provenance.json").is_file() else None
        if old is not None and old[4]["settings"] != settings:
            raise ValueError(f"{out} holds a calibration with other settings ({old[4]['settings']}); "
                             f"this call has {dict(settings)}: pass another out_dir")
        archs = dict(old[4]["archs"]) if old is not None else {}
        earlier = archs.get(arch)
        rec = {"earlier_runs": list(earlier.get("earlier_runs", [])) + [{k: earlier.get(k) for k in (
            "command", "git_commit", "started_utc", "finished_utc", "wall_s", "paths_computed")}] if earlier else [],
            **rec}  # earlier_runs: the calls that wrote this architecture before (e.g. the one that found the paths)
        archs[arch] = rec
        for i, name in enumerate(("pairs", "groups", "summary", "verdicts")):
            parts = ([old[i][old[i]["arch"] != arch]] if old is not None else []) + [new[name]]
            frame = pd.concat(parts, ignore_index=True)
            atomic_write(out / f"{name}.csv", frame.to_csv(index=False, float_format="%.17g").encode())
        kept: dict[str, np.ndarray] = {}
        if (out / "endpoints.npz").is_file():
            with np.load(out / "endpoints.npz", allow_pickle=False) as z:
                kept = {k: z[k] for k in z.files if not k.startswith(f"{arch}/")}
        buf = io.BytesIO()
        arrays: dict[str, Any] = {**kept, **ends}
        np.savez_compressed(buf, **arrays)
        atomic_write(out / "endpoints.npz", buf.getvalue())
        prov = {"settings": dict(settings), "archs": archs}
        atomic_write(out / "provenance.json", json.dumps(prov, indent=1, sort_keys=True).encode())  # last: marks it complete


def _read_calibration(folder: Path, endpoints: bool = True) -> tuple[Any, Any, Any, Any, dict[str, Any]]:
    import pandas as pd

    absent = [n for n in _CAL_FILES if not (folder / n).is_file() and (endpoints or n != "endpoints.npz")]
    if absent:
        raise FileNotFoundError(f"no archived path calibration in {folder}: missing {', '.join(absent)} "
                                "(python -m lls_core.results calibrate-paths writes it)")
    prov = json.loads((folder / "provenance.json").read_text())
    return (*(pd.read_csv(folder / f"{n}.csv", keep_default_na=True) for n in ("pairs", "groups", "summary", "verdicts")),
            prov)


@dataclass(frozen=True, eq=False)
class PathCalibrationRecord:
    """An archived path calibration (:func:`archive_path_calibration`), read with :func:`load_path_calibration`.

    ``pairs``, ``groups``, ``summary``, ``verdicts``: the archived frames (see
    :func:`archive_path_calibration`); ``provenance``: ``{"settings": ..., "archs": {arch: ...}}``.
    """

    profile: str
    folder: Path
    pairs: Any
    groups: Any
    summary: Any
    verdicts: Any
    provenance: Mapping[str, Any]

    @property
    def archs(self) -> list[str]:
        """The calibrated architectures, in archive order."""
        return list(dict.fromkeys(self.summary["arch"]))

    def table(self) -> Any:
        """Build against reference settings per arch, set and landscape: pairs, median heights under
        both, mean difference (build - reference), rank correlation. A DataFrame indexed by
        ``(arch, set, landscape)``."""
        g = self.groups.set_index(["arch", "set", "landscape"])
        return g[["n", "median_build", "median_reference", "bias", "spearman"]].rename(columns={
            "median_build": "median height (build)", "median_reference": "median height (authors)",
            "bias": "mean difference", "spearman": "Spearman"})

    def endpoints(self, arch: str) -> tuple[Any, Any, Any]:
        """The archived end points of ``arch``'s first :data:`RECOMPUTE_SET` pair on the training
        landscape: ``(row, w_i, w_j)``, ``row`` its line of the ``pairs`` frame, ``w_i`` / ``w_j`` float32
        ``(d,)`` tensors whose SHA-256 are the row's (``ValueError`` otherwise)."""
        rows = self.pairs[(self.pairs["arch"] == arch) & (self.pairs["set"] == RECOMPUTE_SET)
                          & (self.pairs["landscape"] == "train")]
        if rows.empty:
            raise KeyError(f"no archived {RECOMPUTE_SET} pair of {arch!r}; archived: {', '.join(self.archs)}")
        row = rows.iloc[0]
        with np.load(self.folder / "endpoints.npz", allow_pickle=False) as z:
            w = [torch.from_numpy(z[f"{arch}/{e}"].copy()) for e in ("i", "j")]
        for e, v in zip(("i", "j"), w):
            if tensor_sha256(v) != row[f"sha_{e}"]:
                raise ValueError(f"{self.folder / 'endpoints.npz'}: {arch}/{e} does not match the SHA-256 of pairs.csv")
        return row, w[0], w[1]

    def coverage_text(self, archs: Sequence[str], sets: Mapping[str, Mapping[str, torch.Tensor]] | None = None) -> str:
        """A sentence on which of a page's architectures ``archs`` the archive calibrates.

        "Every network on this page is calibrated." or one naming those that are not, whose
        heights on the page then have no measured relation to the authors' settings. With
        ``sets`` (``{arch: {set name: (K, d)}}``, the page's weight sets), a calibrated network
        whose archived weight sets (SHA-256 in the provenance) differ from the page's is named
        too: its calibration measured the path settings on other solutions (trained by other code
        or settings), so it describes the settings, not these paths.
        """
        missing = [a for a in archs if a not in self.archs]
        other = []
        for a in archs:
            if a in self.archs and sets is not None and a in sets:
                stored = self.provenance["archs"][a].get("weight_sets_sha256", {})
                if any(n in sets[a] and tensor_sha256(sets[a][n]) != h for n, h in stored.items()):
                    other.append(a)
        parts = []
        if missing:
            them = " and ".join(study.network_phrase(a) for a in missing)
            parts.append(f"Not calibrated: {them}. The archive holds no paths of {them} under the authors' settings, "
                         f"so how far {'its' if len(missing) == 1 else 'their'} heights on this page are from the "
                         f"authors' is not measured; the command above with `--archs {' '.join(missing)}` adds "
                         f"{'it' if len(missing) == 1 else 'them'} to the archive.")
        if other:
            them = " and ".join(study.network_phrase(a) for a in other)
            parts.append(f"Calibrated on other solutions: {them}. The archived pairs of {them} join weight vectors "
                         "other than this page's (trained by earlier code or other settings), so the comparison "
                         "describes the path settings, not these paths; the command above rewrites it for the "
                         "current solutions.")
        return " ".join(parts) if parts else "Every network on this page is calibrated on its own solutions."

    def changed(self) -> list[str]:
        """The barrier claims (``arch, claim: a vs b``) whose verdict differs between the two settings."""
        v = self.verdicts
        return [f"{study.NETWORK_NAMES.get(r.arch, r.arch)}, {r.claim}: {r.a} vs {r.b}"
                for r in v[v["changed"].astype(bool)].itertuples()]

    def by_landscape(self, n_boot: int = 2000, level: float = 0.95) -> Any:
        """Build against reference heights per arch and landscape, over the pairs of all four sets.

        Columns: ``n``; ``bias`` (mean of build - reference, loss units) with ``bias_lo`` /
        ``bias_hi`` (percentile bootstrap over pairs at ``level``, fixed generator: the same
        numbers on every read); ``ratio`` (median of build / reference); ``spearman`` (rank
        correlation over the pairs; it mixes the sets, see :meth:`table` for each set alone);
        ``identical`` (share of pairs with the same height under both settings: there the highest
        point is an end point, which no path search moves); ``under_build`` / ``under_reference``
        (median relative amount by which the height on the path's own points understates its
        maximum on the fine grid) and ``under_build_max`` / ``under_reference_max``;
        ``at_end_build`` / ``at_end_reference``: share of pairs whose maximum sits at an end
        point (:func:`lls_core.topography.max_at_end`).
        """
        import pandas as pd
        import scipy.stats as sps

        from . import topography

        rows = []
        for (arch, which), g in self.pairs.groupby(["arch", "landscape"], sort=False):
            hb, hr = g["height_build"].to_numpy(float), g["height_reference"].to_numpy(float)
            d = hb - hr
            lo = hi = float(d.mean())  # every resample has this mean when all differences are equal
            if np.ptp(d) > 0:
                ci = sps.bootstrap((d,), np.mean, n_resamples=n_boot, confidence_level=level, method="percentile",
                                   random_state=np.random.default_rng(0)).confidence_interval
                lo, hi = float(ci.low), float(ci.high)
            row = {"arch": arch, "landscape": which, "n": len(g), "bias": float(d.mean()), "bias_lo": lo,
                   "bias_hi": hi, "ratio": float(np.median(hb / hr)),
                   "spearman": float(sps.spearmanr(hb, hr).statistic) if np.ptp(hb) > 0 and np.ptp(hr) > 0 else float("nan"),
                   "identical": float(np.mean(hb == hr))}
            for w, h in (("build", hb), ("reference", hr)):  # the maximum is an end point (to float32 rounding)
                if f"endpoint_{w}" in g:
                    e = g[f"endpoint_{w}"].to_numpy(float)
                    row[f"at_end_{w}"] = float(np.mean(topography.max_at_end(h, e)))
                else:
                    row[f"at_end_{w}"] = float("nan")
            for w, h in (("build", hb), ("reference", hr)):
                rel = (g[f"fine_{w}"].to_numpy(float) - h) / np.abs(h)
                ok = np.isfinite(rel)
                row[f"under_{w}"] = float(np.median(rel[ok])) if ok.any() else float("nan")
                row[f"under_{w}_max"] = float(rel[ok].max()) if ok.any() else float("nan")
            rows.append(row)
        return pd.DataFrame(rows)

    def facts(self) -> dict[str, Any]:
        """Flat numbers and words for the prose.

        Pooled: ``archs`` (names), ``pairs`` (paths compared under both settings),
        ``pairs_per_set`` (disjoint pairs per set and landscape), ``verdicts``,
        ``verdicts_changed``, ``changed_claims`` (the changed claims, or ``"none"``),
        ``build_points``, ``build_steps``, ``build_images``, ``reference_points``,
        ``reference_steps``, ``command``, ``date`` (the last finish, ``YYYY-MM-DD``), ``wall_h``
        (hours of every call that wrote the archive, earlier ones included), ``cpus`` (the
        fewest CPU cores of the machines that wrote it), ``summary_text`` (one sentence per architecture and landscape,
        without the last full stop, from
        :meth:`by_landscape`); per architecture and landscape (:meth:`by_landscape`)
        ``<arch>_<landscape>_<column>``; per architecture, over both landscapes (the archived
        summary), ``<arch>_bias``, ``<arch>_bias_lo``, ``<arch>_bias_hi``, ``<arch>_spearman``,
        ``<arch>_min_group_spearman`` (the lowest rank correlation within one set and landscape),
        ``<arch>_verdicts_changed``.
        """
        st = self.provenance["settings"]
        pa = self.provenance["archs"]
        changed = self.changed()
        out: dict[str, Any] = {
            "archs": study.phrase_list([study.network_phrase(a) for a in self.archs]), "pairs": int(len(self.pairs)),
            "pairs_per_set": int(st["n_pairs"]),
            "verdicts": int(len(self.verdicts)), "verdicts_changed": len(changed),
            "changed_claims": "; ".join(changed) if changed else "none",
            "build_points": st["build"]["n_points"], "build_steps": st["build"]["steps"],
            "build_images": st["build"]["n_data"] if st["build"]["n_data"] is not None else "all",
            "reference_points": st["reference"]["n_points"], "reference_steps": st["reference"]["steps"],
            "command": "; ".join(dict.fromkeys(pa[a]["command"] for a in self.archs)),
            "date": max(p["finished_utc"] for p in pa.values())[:10],
            "cpus": min(int(p["machine"].get("cpu_count") or 0) for p in pa.values()),
            "wall_h": sum(p["wall_s"] + sum(e.get("wall_s") or 0.0 for e in p.get("earlier_runs", []))
                          for p in pa.values()) / 3600,
        }
        land = self.by_landscape()
        clauses = []
        for r in land.itertuples(index=False):
            for k in ("n", "bias", "bias_lo", "bias_hi", "ratio", "spearman", "identical", "under_build",
                      "under_build_max", "under_reference", "under_reference_max", "at_end_build", "at_end_reference"):
                out[f"{r.arch}_{r.landscape}_{k}"] = getattr(r, k)
            phrase = study.network_phrase(str(r.arch))
            name = phrase[:1].upper() + phrase[1:]  # each network and landscape a sentence of its own
            where = "training" if r.landscape == "train" else "test"
            ends = (f"{100 * r.at_end_build:.0f} % of the paths have their highest own point at an end point under "
                    f"the build's settings, {100 * r.at_end_reference:.0f} % under the authors'")
            if r.identical == 1.0:
                clauses.append(f"{name}, {where} landscape: the same height under both settings for all {r.n} pairs; "
                               + ends)
            else:
                clauses.append(
                    f"{name}, {where} landscape: the build's heights are {r.ratio:.2f} times the authors' (median), "
                    f"mean difference {r.bias:.3g} (95 % interval {r.bias_lo:.3g} to {r.bias_hi:.3g}), "
                    f"Spearman {r.spearman:.2f} over the {r.n} pairs, {100 * r.identical:.0f} % of them equal; "
                    f"on the fine grid a path's maximum is a median {1 + r.under_build:.3g} times its height on its "
                    f"own points (at most {1 + r.under_build_max:.3g} times) with the build's points and "
                    f"{1 + r.under_reference:.3g} times (at most {1 + r.under_reference_max:.3g}) with the authors'; "
                    + ends)
        out["summary_text"] = ". ".join(clauses)
        for r in self.summary.itertuples(index=False):
            for k in ("bias", "bias_lo", "bias_hi", "spearman", "min_group_spearman"):
                out[f"{r.arch}_{k}"] = float(getattr(r, k))
            out[f"{r.arch}_verdicts_changed"] = int(r.verdicts_changed)
        return out


def load_path_calibration(profile: str = "quick", root: str | os.PathLike[str] | None = None) -> PathCalibrationRecord:
    """The archived path calibration of ``profile`` (``root``: its folder; default
    ``data/results/<profile>/path_calibration``). ``FileNotFoundError`` naming the folder and
    the command that writes it when there is none.

    Example::

        cal = load_path_calibration("quick")
        cal.facts()["fcp_spearman"], cal.table()
    """
    folder = Path(root) if root is not None else archive_root() / profile / CALIBRATION_FOLDER
    pairs, groups, summary, verdicts, prov = _read_calibration(folder)
    return PathCalibrationRecord(profile, folder, pairs, groups, summary, verdicts, prov)


LANDSCAPE_FOLDER = "landscape"
"""Sub-folder of ``data/results/<profile>/`` that :func:`archive_landscape` writes."""

LANDSCAPE_OPTIMIZERS: tuple[str, ...] = ("sgd", "lbfgs_gss")
"""The optimizers whose weight sets the landscape archive holds (the paper's four sets)."""


def archive_landscape(
    profile: str = "full",
    archs: Sequence[str] = ("fcp",),
    store: str | os.PathLike[str] | None = None,
    *,
    out_dir: str | os.PathLike[str] | None = None,
    barriers: bool | Sequence[str] = False,
    n_pairs: int = 24,
    n_inits: int | None = None,
    k_best: int | None = None,
    workers: int = 1,
    n_boot: int = 2000,
    seed: int = 0,
    command: str | None = None,
    note: str | None = None,
    progress: bool = False,
) -> Path:
    """Test the paper's geometry claims on a long profile's finished weight sets and archive the results.

    For every architecture of ``archs`` (all of them checked first: every run of
    :data:`LANDSCAPE_OPTIMIZERS` under ``profile`` must be finished in ``store``, else
    ``ValueError`` naming what is missing and the command that trains it; nothing is trained
    here), the four weight sets are loaded as the chapters load them (the best ``k_best`` of
    ``n_inits``: the profile's counts for the architecture unless given), and :func:`lls_core.topography.claims` tests every claim that needs no
    curvature, with one Holm adjustment across all computed rows of all ``archs``; the
    barrier rows too for the architectures ``barriers`` names (``True``: all of ``archs``;
    FourierPathFinder with the profile's settings, ``topography.PATH_PROFILES[profile]``, on
    ``n_pairs`` disjoint pairs per set and landscape; paths already in the store's pair cache
    are reused, so a stopped call resumes). Writes,
    atomically, into ``out_dir`` (default ``data/results/<profile>/landscape``), replacing
    what was there:

    * ``claims.csv``: the claims table (:data:`lls_core.topography.CLAIM_COLUMNS`);
    * ``kpca.csv``: PC1 separation of every pair of :data:`lls_core.topography.KPCA_PAIRS`
      present, under every kernel (:func:`lls_core.topography.kpca_separation`);
    * ``distances.csv``: per arch and pair of sets (Figs. 5 and S3), each set's median distance
      from the midpoint origin and the centroid gap;
    * ``embedding.npz``: per arch the sets in :func:`lls_core.landscape.isometric_embedding`
      form (``<arch>/<set>``, float64) and each vector's component standard deviation
      (``<arch>/<set>/std``): enough to recompute every row above except the barriers
      (:meth:`LandscapeArchive.topographies`);
    * ``paths.csv`` (with ``barriers``): one row per path and its ``arch`` (:func:`lls_core.topography.barrier_frame`);
    * ``provenance.json``: the command, git commit, machine, wall seconds, settings, data
      checksum, the SHA-256 of every weight set, ``note`` (how work done elsewhere entered
      the store, e.g. paths found on another machine; ``None`` when not given) and
      ``paths_log``: the store's :data:`PATHS_LOG` records of the networks with barriers
      (where and how fast :func:`find_paths` found their paths).

    Returns ``out_dir``.
    """
    import pandas as pd

    from . import landscape, topography

    archs = models.check_archs(archs)
    prof = _counted_profile(profile, n_inits, k_best)
    checks.integer("n_boot", n_boot, min=100)
    checks.integer("workers", workers, min=1)
    if isinstance(barriers, bool):
        barriers = list(archs) if barriers else []
    else:
        barriers = models.check_archs(barriers, "barriers")
        if not set(barriers) <= set(archs):
            raise ValueError(f"barriers={barriers!r}: every network with barriers must be in archs={archs!r}")
    if barriers:
        for a in barriers:
            with checks.context(a):
                checks.integer("n_pairs", n_pairs, min=2, max=prof.counts(a)[1] // 2)
    st = Store(store)
    _check_finished(archs, prof, st)
    out = Path(out_dir) if out_dir is not None else archive_root() / prof.name / LANDSCAPE_FOLDER
    cmd = command or " ".join(["python", "-m", "lls_core.results", "landscape", "--profile", prof.name, "--archs", *archs,
                               "--store", str(st.root), *(["--barriers", *barriers, "--pairs", str(n_pairs)] if barriers else [])])
    commit, t0 = _git_commit(), time.perf_counter()
    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    topos, bars, dists, emb = {}, {}, [], {}
    for a in archs:
        topo = topography.load(a, prof.name, optimizers=LANDSCAPE_OPTIMIZERS, store=st, workers=1, n_inits=n_inits,
                               k_best=k_best)
        topos[a] = topo
        for pair in (("BFGS-train", "SGD-test"), ("BFGS-test", "SGD-test")):
            d = landscape.distances(topo.sets, between=pair)
            dists += [{"arch": a, "sets": f"{pair[0]} vs {pair[1]}", "set": n, "median": float(np.median(d.distance[n])),
                       "centroid_gap": d.centroid_gap} for n in pair]
        spread = topography.vector_spread(topo.sets)
        for n, x in landscape.isometric_embedding(topo.sets).items():
            emb[f"{a}/{n}"] = x
            emb[f"{a}/{n}/std"] = np.asarray(spread[n], dtype=np.float64)
        if a in barriers:
            bars[a] = topography.all_barriers(topo, n_pairs=n_pairs, config=topography.PATH_PROFILES[prof.name],
                                              seed=seed, workers=workers, progress=progress, pairing="disjoint")
    claims = topography.claims(topos, bars or None, None, n_boot=n_boot, seed=seed)
    pairs = [p for p in topography.KPCA_PAIRS if all(n in topos[archs[0]].sets for n in p)]
    kpca = topography.kpca_separation(topos, pairs=pairs, n_boot=n_boot, seed=seed)
    rec = {"command": cmd, "git_commit": commit, "machine": _machine(), "torch_threads": torch.get_num_threads(),
           "started_utc": started, "finished_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
           "wall_s": round(time.perf_counter() - t0, 1), "store": str(st.root),
           "settings": {"profile": prof.name, "archs": list(archs),
                        "counts": {a: list(prof.counts(a)) for a in archs},
                        "optimizers": list(LANDSCAPE_OPTIMIZERS), "n_boot": n_boot, "seed": seed, "kpca_gamma": "median",
                        "alpha": claims.alpha,
                        "barriers": barriers, "n_pairs": n_pairs if barriers else None,  # the networks with barriers
                        "paths": _config_dict(topography.PATH_PROFILES[prof.name]) if barriers else None},
           "data_checksum_sha256": {a: t.dataset.checksum for a, t in topos.items()},
           "weight_sets_sha256": {f"{a}/{n}": tensor_sha256(w) for a, t in topos.items() for n, w in t.sets.items()},
           "weight_sets_shape": {f"{a}/{n}": list(w.shape) for a, t in topos.items() for n, w in t.sets.items()},
           "note": note,
           "paths_log": _paths_log(st.root, barriers) if barriers else []}  # paths found elsewhere or by `paths`
    out.mkdir(parents=True, exist_ok=True)
    table = claims.frame[claims.frame["arch"].isin(list(archs))]  # the rows of networks not archived say only "needs"
    files: dict[str, bytes] = {"claims.csv": table.to_csv(index=False).encode(),
                               "kpca.csv": kpca.frame.to_csv(index=False).encode(),
                               "distances.csv": pd.DataFrame(dists).to_csv(index=False).encode()}
    if barriers:
        frame = pd.concat([topography.barrier_frame(b).assign(arch=a) for a, b in bars.items()], ignore_index=True)
        files["paths.csv"] = frame.to_csv(index=False).encode()
    buf = io.BytesIO()
    np.savez(buf, **emb)  # type: ignore[arg-type]
    files["embedding.npz"] = buf.getvalue()
    if not barriers:
        (out / "paths.csv").unlink(missing_ok=True)  # a barrier table of an earlier call would not match
    for name, data in files.items():
        atomic_write(out / name, data)
    atomic_write(out / "provenance.json", json.dumps(rec, indent=1, sort_keys=True).encode())  # last: marks it complete
    return out


def _counted_profile(profile: str | study.Profile, n_inits: int | None, k_best: int | None) -> study.Profile:
    """``profile`` with its counts replaced where given (checked: ``2 <= k_best <= n_inits``)."""
    checks.optional_integer("n_inits", n_inits, min=2)
    checks.optional_integer("k_best", k_best, min=2, max=n_inits)
    prof = study.get_profile(profile)
    changes = {k: v for k, v in (("n_inits", n_inits), ("k_best", k_best)) if v is not None}
    return prof.replace(**changes) if changes else prof


def _check_finished(archs: Sequence[str], prof: study.Profile, st: Store) -> None:
    """``ValueError`` naming the first network with unfinished runs and the command that trains them."""
    for a in archs:
        tasks = study.plan(a, prof, list(LANDSCAPE_OPTIMIZERS))
        missing = [t for t in tasks if not st.has(t.key)]
        if missing:
            raise ValueError(f"{a}: {len(missing)} of {len(tasks)} {prof.name} runs are not finished in {st.root}; train "
                             f"them first: python -m lls_core.results train --profile {prof.name} --archs {a} --store {st.root}")


SETS_FORMAT = 1
"""Format of the file :func:`export_sets` writes."""


def export_sets(
    profile: str,
    archs: Sequence[str],
    store: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    n_inits: int | None = None,
    k_best: int | None = None,
) -> Path:
    """Write the weight sets of ``archs`` (loaded as :func:`archive_landscape` loads them) into one file, for
    finding their barrier paths on another machine (:func:`find_paths`) without its artifact store.

    The file (``torch.save``, read back with ``weights_only=True``) holds ``"<arch>/<set>"``: ``(K, d)``
    float32 tensors and ``meta``, a JSON string: profile, counts, activation, the data's checksum, the
    SHA-256 of every set, the source store and the git commit. Written atomically; refuses, before any
    work, when a run is missing. Returns ``out``. About ``4 K d`` x 4 bytes per network (FCP at
    ``full``: 32 MB).
    """
    from . import topography

    archs = models.check_archs(archs)
    prof = _counted_profile(profile, n_inits, k_best)
    st = Store(store)
    _check_finished(archs, prof, st)
    payload: dict[str, Any] = {}
    meta: dict[str, Any] = {"format": SETS_FORMAT, "profile": prof.name, "archs": archs, "counts": {},
                            "activation": prof.activation, "data_checksum": {}, "weight_sets_sha256": {},
                            "store": str(st.root), "git_commit": _git_commit(),
                            "written_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    for a in archs:
        topo = topography.load(a, prof.name, optimizers=LANDSCAPE_OPTIMIZERS, store=st, workers=1, n_inits=n_inits,
                               k_best=k_best)
        meta["counts"][a] = list(prof.counts(a))
        meta["data_checksum"][a] = topo.dataset.checksum
        for n, w in topo.sets.items():
            payload[f"{a}/{n}"] = w.detach().contiguous().cpu().clone()
            meta["weight_sets_sha256"][f"{a}/{n}"] = tensor_sha256(w)
    payload["meta"] = json.dumps(meta, sort_keys=True)
    buf = io.BytesIO()
    torch.save(payload, buf)
    atomic_write(Path(out), buf.getvalue())
    return Path(out)


def find_paths(
    sets_file: str | os.PathLike[str],
    store: str | os.PathLike[str],
    *,
    n_pairs: int = 24,
    device: str | None = None,
    seed: int = 0,
    progress: bool = False,
) -> dict[str, Any]:
    """Find the barrier paths of the weight sets in ``sets_file`` (:func:`export_sets`) into ``store``'s pair cache.

    For each network of the file: the profile's data (its checksum must equal the file's, checked before
    any work, as are the sets' SHA-256), the network, and :func:`lls_core.topography.all_barriers` with
    the profile's path settings (``topography.PATH_PROFILES``) on ``n_pairs`` disjoint pairs per set and
    landscape, on ``device`` (default: the GPU when torch sees one). The pairs' keys are those the
    source store would give them (same vectors, data, network and settings), so
    ``python -m lls_core.results import-pairs`` brings them home and :func:`archive_landscape` then finds
    them there. Appends one record per network, set and landscape to ``<store>/paths.jsonl``
    (:data:`PATHS_LOG`: device, wall seconds, paths found and computed, git commit) as each finishes,
    and returns per network the sums (``paths``, ``computed``, ``wall_s``) and the ``device``.
    """
    from . import data, topography
    from . import landscape as landscape_mod

    blob = torch.load(Path(sets_file), weights_only=True, map_location="cpu")
    if not isinstance(blob, dict) or "meta" not in blob:
        raise ValueError(f"{sets_file}: not a weight-set file of lls_core.results export-sets")
    meta = json.loads(blob["meta"])
    if meta.get("format") != SETS_FORMAT:
        raise ValueError(f"{sets_file}: format {meta.get('format')!r}; this code reads format {SETS_FORMAT}")
    device = device or default_device()
    prof = study.get_profile(meta["profile"])
    st = Store(store)
    jobs = []
    for a in meta["archs"]:
        n, k = meta["counts"][a]
        p = prof.replace(n_inits=n, k_best=k)
        with checks.context(a):
            checks.integer("n_pairs", n_pairs, min=1, max=k // 2)
        ds = data.load(p.dataset, n_train=p.n_train, n_test=p.n_test, seed=p.split_seed)
        if ds.checksum != meta["data_checksum"][a]:
            raise ValueError(f"{a}: the {p.dataset} data here have checksum {ds.checksum[:12]}..., the sets were trained "
                             f"on {meta['data_checksum'][a][:12]}...: other files or another split")
        sets = {key.split("/", 1)[1]: w for key, w in blob.items() if key.startswith(a + "/")}
        for name, w in sets.items():
            if tensor_sha256(w) != meta["weight_sets_sha256"][f"{a}/{name}"]:
                raise ValueError(f"{a}/{name}: the set's SHA-256 differs from the one recorded in {sets_file}")
        jobs.append((a, p, ds, sets))
    commit, out = _git_commit(), {}
    st.root.mkdir(parents=True, exist_ok=True)
    for a, p, ds, sets in jobs:
        dsd = dataclasses.replace(ds, x_train=ds.x_train.to(device), y_train=ds.y_train.to(device),
                                  x_test=ds.x_test.to(device), y_test=ds.y_test.to(device))
        model = models.build(a, activation=meta["activation"]).to(device)
        n, k = p.counts(a)
        topo = topography.Topography(a, p.name, n, k, model, dsd, {s: w.to(device) for s, w in sets.items()},
                                     str(st.root), {})
        total = {"arch": a, "paths": 0, "computed": 0, "wall_s": 0.0, "device": _device_name(device)}
        for name in topo.sets:  # one record per set and landscape, written as each finishes (a stopped call keeps them)
            for which in landscape_mod.LANDSCAPES:
                t0 = time.perf_counter()
                b = topography.all_barriers(topo, n_pairs=n_pairs, config=topography.PATH_PROFILES[p.name], seed=seed,
                                            sets=[name], landscapes=[which], workers=1, progress=progress,
                                            pairing="disjoint")[(name, which)]
                rec = {"arch": a, "set": name, "landscape": which, "profile": p.name, "n_pairs": n_pairs,
                       "paths": len(b.height), "computed": len(b.height) - b.n_cached, "device": total["device"],
                       "wall_s": round(time.perf_counter() - t0, 1), "git_commit": commit,
                       "weight_set_sha256": meta["weight_sets_sha256"][f"{a}/{name}"],
                       "finished_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
                with open(st.root / PATHS_LOG, "a") as f:
                    f.write(json.dumps(rec) + "\n")
                for key in ("paths", "computed", "wall_s"):
                    total[key] += rec[key]
        out[a] = total
    return out


PATHS_LOG = "paths.jsonl"
"""A store's log of the paths :func:`find_paths` found into it, or :func:`import_pairs` brought into it: one
JSON record per network, set and landscape (device, wall seconds, paths computed, git commit)."""


def import_pairs(source: str | os.PathLike[str], store: str | os.PathLike[str],
                 archs: Sequence[str] = models.ARCHITECTURES) -> dict[str, tuple[int, int]]:
    """Bring the verified paths of ``source``'s pair cache that ``store`` lacks into it
    (:meth:`lls_core.store.PairStore.import_from`), with ``source``'s :data:`PATHS_LOG` records of
    ``archs`` (each marked ``imported_from``; records already there are not repeated).
    Returns ``{arch: (copied, kept)}``."""
    archs = models.check_archs(list(archs))
    src, dst = Store(source), Store(store)
    out = {a: dst.pairs(a).import_from(src.pairs(a)) for a in archs}
    have = set((dst.root / PATHS_LOG).read_text().splitlines()) if (dst.root / PATHS_LOG).is_file() else set()
    new = [text + "\n" for rec in _paths_log(src.root, archs)
           if (text := json.dumps({**rec, "imported_from": str(src.root)})) not in have]
    if new:
        dst.root.mkdir(parents=True, exist_ok=True)
        with open(dst.root / PATHS_LOG, "a") as f:
            f.write("".join(new))
    return out


def _paths_log(root: Path, archs: Sequence[str]) -> list[dict[str, Any]]:
    """The :data:`PATHS_LOG` records of ``archs`` in the store at ``root`` (empty when it has none)."""
    log = root / PATHS_LOG
    if not log.is_file():
        return []
    recs = [json.loads(x) for x in log.read_text().splitlines() if x.strip()]
    return [r for r in recs if r.get("arch") in archs]


@dataclass(frozen=True, eq=False)
class LandscapeArchive:
    """What :func:`archive_landscape` wrote: ``claims``, ``kpca``, ``distances`` (DataFrames),
    ``paths`` (DataFrame or ``None`` without barriers), ``provenance`` (dict) and ``embedding``
    (``{"<arch>/<set>": (K, n)}`` and ``{"<arch>/<set>/std": (K,)}``, float64)."""

    claims: Any
    kpca: Any
    distances: Any
    paths: Any
    provenance: Mapping[str, Any]
    embedding: Mapping[str, np.ndarray]

    @property
    def archs(self) -> list[str]:
        return list(self.provenance["settings"]["archs"])

    def topographies(self) -> dict[str, Any]:
        """``{arch: Topography}`` on the archived embedding (no data, no model weights): the claims
        that depend on the vectors only through their geometry recompute from it. Sets whose archived
        SHA-256 are equal (the autoencoder's training and early-stopping weights) share their rows, so
        :meth:`lls_core.topography.Topography.same_sets` finds them as in the weights themselves."""
        from . import topography

        s = self.provenance["settings"]
        sha = self.provenance.get("weight_sets_sha256", {})
        out = {}
        for a in self.archs:
            sets = {k.split("/", 1)[1]: torch.from_numpy(v) for k, v in self.embedding.items()
                    if k.startswith(a + "/") and not k.endswith("/std")}
            first: dict[str, str] = {}
            for name in list(sets):  # sets that are the same vectors (same SHA-256) get the same embedded rows,
                h = sha.get(f"{a}/{name}")  # which the embedding's rounding would otherwise tell apart
                if h is not None and h in first:
                    sets[name] = sets[first[h]]
                elif h is not None:
                    first[h] = name
            n, k = s["counts"][a]
            out[a] = topography.Topography(a, s["profile"], n, k, models.build(a), None, sets)  # type: ignore[arg-type]
        return out

    def barriers(self) -> dict[str, dict[tuple[str, str], Any]]:
        """``{arch: {(set, landscape): PairPaths}}`` rebuilt from ``paths.csv`` (empty without barriers), with
        the archived path settings: enough to recompute the barrier claims (:func:`lls_core.topography.claims`)."""
        from . import landscape

        if self.paths is None:
            return {}
        fields = {f.name for f in dataclasses.fields(landscape.PathConfig)}
        cfg = landscape.PathConfig(**{k: v for k, v in (self.provenance["settings"]["paths"] or {}).items() if k in fields})
        out: dict[str, dict[tuple[str, str], Any]] = {}
        for (arch, name, which), g in self.paths.groupby(["arch", "set", "landscape"], sort=False):
            v = {c: g[c].to_numpy(np.float64) for c in ("height", "length", "linear_height", "endpoint_loss", "seconds",
                                                         "fine_height", "max_t")}
            out.setdefault(str(arch), {})[(str(name), str(which))] = landscape.PairPaths(
                str(name), str(which), cfg, g[["i", "j"]].to_numpy(np.int64), v["height"], v["length"],
                v["linear_height"], v["endpoint_loss"], v["seconds"], 0, v["fine_height"], v["max_t"])
        return out

    def claims_table(self) -> Any:
        """The archived claims as a :class:`lls_core.topography.Claims` (e.g. for
        :func:`lls_core.topography.claims_beside`)."""
        from . import topography

        return topography.Claims(self.claims, float(self.provenance["settings"].get("alpha", 0.05)))

    @property
    def barrier_archs(self) -> list[str]:
        """The networks whose barrier paths are archived (``paths.csv``)."""
        b = self.provenance["settings"]["barriers"]
        return self.archs if b is True else list(b or [])

    def coverage_text(self) -> str:
        """One sentence: which networks, how many solutions per set, and which have barriers."""
        s = self.provenance["settings"]
        nets = " and ".join(f"{study.network_phrase(a)} (the best {s['counts'][a][1]} of {s['counts'][a][0]} runs per "
                            "optimizer)" for a in self.archs)
        with_b, without = self.barrier_archs, [a for a in self.archs if a not in self.barrier_archs]
        if not with_b:
            bars = "without barriers (their paths are not archived yet)"
        else:
            bars = (f"with barriers{' for ' + ' and '.join(study.network_phrase(a) for a in with_b) if without else ''} "
                    f"on {s['n_pairs']} disjoint pairs per set and landscape")
            if without:
                bars += f" (none yet for {' and '.join(study.network_phrase(a) for a in without)})"
        return f"the {s['profile']} profile's weight sets of {nets}, {bars}; computed {self.provenance['finished_utc'][:10]}"


def load_landscape(profile: str = "full", root: str | os.PathLike[str] | None = None) -> LandscapeArchive:
    """The archived :func:`archive_landscape` results of ``profile`` (``FileNotFoundError`` when there are none).

    ``root``: its folder (default ``data/results/<profile>/landscape``).
    """
    import pandas as pd

    folder = Path(root) if root is not None else archive_root() / profile / LANDSCAPE_FOLDER
    if not (folder / "provenance.json").is_file():
        raise FileNotFoundError(f"no landscape archive in {folder}; write one with "
                                f"`python -m lls_core.results landscape --profile {profile} --store STORE`")
    prov = json.loads((folder / "provenance.json").read_text())
    with np.load(folder / "embedding.npz", allow_pickle=False) as z:
        emb = {k: z[k] for k in z.files}
    paths = pd.read_csv(folder / "paths.csv") if (folder / "paths.csv").is_file() else None
    return LandscapeArchive(pd.read_csv(folder / "claims.csv", keep_default_na=False, na_values=[""]),
                            pd.read_csv(folder / "kpca.csv"), pd.read_csv(folder / "distances.csv"), paths, prov, emb)


DEVICE_FOLDER = "device"
"""Where a timed sample on a lent accelerator is kept: ``data/results/device/bench_gpu.json``."""


@dataclass(frozen=True, eq=False)
class DeviceBench:
    """A timed sample of the ``full`` profile's work on an accelerator (``benchmarks/bench_gpu.py --json``).

    ``frame``: one row per network and optimizer: ``ms per run and step`` batched and alone, their
    ratio, the runs trained together, and the hours the ``full`` profile's runs of that network and
    optimizer take at the batched rate (columns named for the table). ``record``: the whole record
    (command, commit, device, torch, UTC time, the printed log, the paths' timing).
    """

    frame: Any
    record: Mapping[str, Any]

    def facts(self) -> dict[str, Any]:
        """For the prose: ``device``, ``date``, ``runs`` trained together, ``full_runs`` (the profile's runs per
        network and optimizer), ``hours_all`` (every network, both
        optimizers, at the batched rates), its fastest and slowest network (as the prose names them, with
        their hours), and the paths' ``pairs`` and ``pairs_speedup``."""
        r = self.record
        hours: dict[str, float] = {}
        for x in r["rows"]:
            hours[x["arch"]] = hours.get(x["arch"], 0.0) + x["full_hours"]
        slow, fast = max(hours, key=hours.__getitem__), min(hours, key=hours.__getitem__)
        paths = r.get("paths") or {}
        return {"device": r["device"], "date": str(r.get("utc", ""))[:10], "runs": int(self.frame["runs together"].max()),
                "full_runs": max(int(x["full_runs"]) for x in r["rows"]),
                "hours_all": float(sum(hours.values())), "slowest": study.network_phrase(slow),
                "slowest_hours": hours[slow], "fastest": study.network_phrase(fast), "fastest_hours": hours[fast],
                "pairs": paths.get("pairs", 0), "pairs_speedup": paths.get("speedup", float("nan"))}


def load_device_bench(root: str | os.PathLike[str] | None = None) -> DeviceBench:
    """Read ``<root>/device/bench_gpu.json`` (``root`` default :func:`archive_root`); ``FileNotFoundError``
    naming the command that writes it when absent."""
    import pandas as pd

    path = (Path(root) if root is not None else archive_root()) / DEVICE_FOLDER / "bench_gpu.json"
    if not path.is_file():
        raise FileNotFoundError(f"no accelerator timing at {path}; on a machine with a GPU: "
                                f"python benchmarks/bench_gpu.py --device cuda --json {path}")
    rec = json.loads(path.read_text())
    rows = [{"network": study.NETWORK_NAMES[x["arch"]], "optimizer": NETWORK_OPTIMIZERS[x["optimizer"]].label,
             "step": x["step"], "runs together": x["runs_batched"], "ms per run and step, batched": x["batched_ms"],
             "ms per run and step, alone": x["alone_ms"], "batched speed-up": x["speedup"],
             "full profile, hours": x["full_hours"]} for x in rec["rows"]]
    return DeviceBench(pd.DataFrame(rows), rec)


def archives(root: str | os.PathLike[str] | None = None) -> Any:
    """What the long runs kept with the book hold: one row per archive under ``data/results``.

    Columns: ``archive``, ``folder`` (relative to ``root``, default :func:`archive_root`),
    ``holds`` (in words), ``written`` (UTC date), ``command`` (the one that rewrites it).
    An archive not written says so in ``holds``.
    """
    import pandas as pd

    base = Path(root) if root is not None else archive_root()
    rows = []
    try:
        a = load_archive("full", base / "full")
        p = a.provenance
        rows.append({"archive": "training runs, full", "folder": "full",
                     "holds": f"{p['runs_finished']} of {p['runs_planned']} runs finished "
                              f"({', '.join(study.network_phrase(x) for x in p['archs'])}), Table 1, Table S1, curves",
                     "written": str(p.get("archive_utc", ""))[:10], "command": p.get("archive_command", "")})
    except FileNotFoundError:
        rows.append({"archive": "training runs, full", "folder": "full", "holds": "not written", "written": "",
                     "command": "python -m lls_core.results archive --profile full --store STORE"})
    try:
        c = load_path_calibration("quick", base / "quick" / CALIBRATION_FOLDER)
        last = max(str(r.get("finished_utc", "")) for r in c.provenance["archs"].values())
        rows.append({"archive": "path calibration, quick", "folder": f"quick/{CALIBRATION_FOLDER}",
                     "holds": "paths under the build's and the authors' settings for "
                              + " and ".join(study.network_phrase(x) for x in c.archs),
                     "written": last[:10], "command": next(iter(c.provenance["archs"].values()))["command"]})
    except FileNotFoundError:
        rows.append({"archive": "path calibration, quick", "folder": f"quick/{CALIBRATION_FOLDER}", "holds": "not written",
                     "written": "", "command": "python -m lls_core.results calibrate-paths --profile quick"})
    try:
        g = load_landscape("full", base / "full" / LANDSCAPE_FOLDER)
        rows.append({"archive": "geometry claims, full", "folder": f"full/{LANDSCAPE_FOLDER}", "holds": g.coverage_text(),
                     "written": g.provenance["finished_utc"][:10], "command": g.provenance["command"]})
    except FileNotFoundError:
        rows.append({"archive": "geometry claims, full", "folder": f"full/{LANDSCAPE_FOLDER}", "holds": "not written",
                     "written": "", "command": "python -m lls_core.results landscape --profile full --store STORE"})
    try:
        d = load_device_bench(base)
        f = d.facts()
        rows.append({"archive": "accelerator timing", "folder": DEVICE_FOLDER,
                     "holds": f"{len(d.frame)} timed samples of the full profile's training on an {f['device']}",
                     "written": f["date"], "command": d.record.get("command", "")})
    except FileNotFoundError:
        rows.append({"archive": "accelerator timing", "folder": DEVICE_FOLDER, "holds": "not written", "written": "",
                     "command": "python benchmarks/bench_gpu.py --device cuda --json data/results/device/bench_gpu.json"})
    return pd.DataFrame(rows)


def _claim(root: Path, digest: str) -> Path | None:
    """Exclusively create the claim file of one run; ``None`` when a live process holds it."""
    path = root / "claims" / digest[:32]
    path.parent.mkdir(parents=True, exist_ok=True)
    for _ in range(2):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            try:
                pid = int(path.read_text().strip() or "0")
            except (OSError, ValueError):
                pid = 0
            alive = pid > 0
            if alive:
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    alive = False
                except PermissionError:
                    pass
            if alive:
                return None
            path.unlink(missing_ok=True)  # a stale claim of a process that died
            continue
        with os.fdopen(fd, "w") as f:
            f.write(str(os.getpid()))
        return path
    return None


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m lls_core.results", description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    tr = sub.add_parser("train", help="train the missing runs of a profile into a store, ensemble by ensemble (resumable)")
    for p in (tr,):
        p.add_argument("--profile", required=True, choices=list(study.PROFILES))
        p.add_argument("--archs", nargs="+", default=list(models.ARCHITECTURES), choices=list(models.ARCHITECTURES))
        p.add_argument("--store", required=True, help="artifact store folder (outside git)")
    ar = sub.add_parser("archive", help="write the derived results of the finished runs into data/results/<profile>/")
    ar.add_argument("--out", default=None, help="output folder (default <root>/data/results/<profile>; root: $LLS_ROOT or the checkout)")
    for p in (ar,):
        p.add_argument("--profile", required=True, choices=list(study.PROFILES))
        p.add_argument("--archs", nargs="+", default=list(models.ARCHITECTURES), choices=list(models.ARCHITECTURES))
        p.add_argument("--store", required=True, help="artifact store folder the runs were trained into")
    ca = sub.add_parser("calibrate-paths", help="run a sample of pairs under a profile's path settings and the authors', "
                        "archive the comparison in data/results/<profile>/path_calibration")
    ca.add_argument("--profile", default="quick", choices=[p for p in study.PROFILES if p in ("smoke", "quick")])
    ca.add_argument("--archs", nargs="+", default=["fcp", "autoencoder"], choices=list(models.ARCHITECTURES))
    ca.add_argument("--pairs", type=int, default=8, help="disjoint pairs per set and landscape (>= 8; default 8)")
    ca.add_argument("--n-inits", type=int, default=75, help="initialisations per optimizer, as the chapter (default 75)")
    ca.add_argument("--k-best", type=int, default=48, help="runs kept per optimizer, as the chapter (default 48)")
    ca.add_argument("--workers", type=int, default=1, help="Dask worker processes for missing runs and paths (default 1)")
    ca.add_argument("--store", default=None, help="artifact store (default $LLS_ARTIFACTS or <root>/artifacts)")
    ca.add_argument("--out", default=None, help="output folder (default <root>/data/results/<profile>/path_calibration)")
    ca.add_argument("--pair-batch", type=int, default=1,
                    help="pairs found and stored together (default 1: each pair kept as it finishes)")
    la = sub.add_parser("landscape", help="test the geometry claims on a long profile's finished weight sets, archive them "
                        "in data/results/<profile>/landscape")
    la.add_argument("--profile", default="full", choices=list(study.PROFILES))
    la.add_argument("--archs", nargs="+", default=["fcp"], choices=list(models.ARCHITECTURES))
    la.add_argument("--store", required=True, help="artifact store the runs were trained into")
    la.add_argument("--barriers", nargs="*", default=None, choices=list(models.ARCHITECTURES), metavar="ARCH",
                    help="also find the barrier paths, of these networks (none named: all of --archs; hours; resumes "
                         "from the store)")
    la.add_argument("--pairs", type=int, default=24, help="disjoint pairs per set and landscape with --barriers (default 24)")
    la.add_argument("--workers", type=int, default=1, help="Dask worker processes for the paths (default 1)")
    la.add_argument("--out", default=None, help="output folder (default <root>/data/results/<profile>/landscape)")
    la.add_argument("--note", default=None, help="kept in provenance.json: how work done elsewhere entered the store")
    ex = sub.add_parser("export-sets", help="write a profile's weight sets into one file, to find their paths elsewhere")
    ex.add_argument("--profile", default="full", choices=list(study.PROFILES))
    ex.add_argument("--archs", nargs="+", default=["fcp"], choices=list(models.ARCHITECTURES))
    ex.add_argument("--store", required=True, help="artifact store the runs were trained into")
    ex.add_argument("--out", required=True, help="the file to write (e.g. sets.pt)")
    pa = sub.add_parser("paths", help="find the barrier paths of an exported weight-set file into a store (e.g. on a GPU)")
    pa.add_argument("--sets", required=True, help="file written by export-sets")
    pa.add_argument("--store", required=True, help="store whose pair cache receives the paths")
    pa.add_argument("--pairs", type=int, default=24, help="disjoint pairs per set and landscape (default 24)")
    pa.add_argument("--device", default=None, choices=["cpu", "cuda"], help="default: cuda when torch sees a GPU")
    ir = sub.add_parser("import-runs", help="copy the verified finished runs of another store (trained elsewhere) "
                        "into this one, with their log records and a manifest entry")
    ir.add_argument("--source", required=True, help="the store the runs were trained into")
    ir.add_argument("--store", required=True, help="the store that receives them")
    ip = sub.add_parser("import-pairs", help="copy the verified paths of another store into this one's pair cache")
    ip.add_argument("--source", required=True, help="the store the paths were found into")
    ip.add_argument("--store", required=True, help="the store that receives them")
    ip.add_argument("--archs", nargs="+", default=list(models.ARCHITECTURES), choices=list(models.ARCHITECTURES))
    tr.add_argument("--optimizers", nargs="+", default=list(study.DEFAULT_OPTIMIZERS), choices=list(NETWORK_OPTIMIZERS),
                    help="train only these optimizers' runs (default: %(default)s)")
    tr.add_argument("--shard", default="0/1", help="I/N: this process does every N-th task from the I-th (default 0/1)")
    tr.add_argument("--device", default="cpu", choices=["cpu", "cuda"],
                    help="train on this device (default cpu; results differ from the CPU's by float rounding)")
    tr.add_argument("--ensemble-size", type=int, default=None,
                    help="runs trained together per ensemble (default: lls_core.study.ENSEMBLE_MAX_RUNS per network)")
    args = ap.parse_args(argv)
    runtime.configure(threads=1)
    if args.cmd == "train":
        try:
            i, n_sh = (int(v) for v in args.shard.split("/"))
        except ValueError:
            ap.error(f"--shard {args.shard!r}: expected I/N, e.g. 0/2")
        Path(args.store).mkdir(parents=True, exist_ok=True)
        _write_manifest(Path(args.store), args.profile, ["python", "-m", "lls_core.results", *(argv or sys.argv[1:])])
        if args.device == "cuda" and not torch.cuda.is_available():
            ap.error("--device cuda: torch sees no GPU here; use --device cpu")
        if args.ensemble_size is not None and args.ensemble_size < 1:
            ap.error(f"--ensemble-size {args.ensemble_size}: must be a positive number of runs")
        sizes = None if args.ensemble_size is None else {a: args.ensemble_size for a in args.archs}
        n = train_background(args.archs, args.profile, args.store, args.optimizers, shard=(i, n_sh), device=args.device,
                             ensemble_size=sizes)
        print(f"trained {n} runs into {args.store}")
    elif args.cmd == "calibrate-paths":
        if args.pair_batch < 1:
            ap.error(f"--pair-batch {args.pair_batch}: must be a positive number of pairs")
        if args.pairs < 8 or args.pairs > args.k_best // 2 or args.k_best > args.n_inits:
            ap.error(f"--pairs {args.pairs} --k-best {args.k_best} --n-inits {args.n_inits}: need "
                     "8 <= pairs <= k_best // 2 and k_best <= n_inits")
        cmd = " ".join(["python", "-m", "lls_core.results", *(argv if argv is not None else sys.argv[1:])])
        out = archive_path_calibration(args.profile, args.archs, n_pairs=args.pairs,
                                       load=CalibrationLoad(args.n_inits, args.k_best), store=args.store,
                                       out_dir=args.out, workers=args.workers, command=cmd, progress=True,
                                       pair_batch=args.pair_batch)
        print(f"archived the path calibration into {out}")
    elif args.cmd == "export-sets":
        try:
            path = export_sets(args.profile, args.archs, args.store, args.out)
        except ValueError as err:
            ap.error(str(err))
        print(f"wrote the weight sets of {', '.join(args.archs)} ({args.profile}) to {path}")
    elif args.cmd == "paths":
        if args.device == "cuda" and not torch.cuda.is_available():
            ap.error("--device cuda: torch sees no GPU here; use --device cpu")
        try:
            recs = find_paths(args.sets, args.store, n_pairs=args.pairs, device=args.device, progress=True)
        except (ValueError, FileNotFoundError) as err:
            ap.error(str(err))
        for a, r in recs.items():
            print(f"{a}: {r['paths']} paths ({r['computed']} computed) in {r['wall_s']} s on {r['device']}")
    elif args.cmd == "import-runs":
        cmd = " ".join(["python", "-m", "lls_core.results", *(argv if argv is not None else sys.argv[1:])])
        try:
            got = import_runs(args.source, args.store, command=cmd)
        except (ValueError, FileNotFoundError) as err:
            ap.error(str(err))
        for name, (copied, kept) in got.items():
            print(f"{name}: {copied} runs copied, {kept} already there")
        if not got:
            print(f"no finished runs in {args.source}")
    elif args.cmd == "import-pairs":
        total = 0
        for a, (copied, kept) in import_pairs(args.source, args.store, args.archs).items():
            total += copied + kept
            if copied or kept:
                print(f"{a}: {copied} paths copied, {kept} already there")
        if not total:
            print(f"no paths of {', '.join(args.archs)} in {args.source}")
    elif args.cmd == "landscape":
        cmd = " ".join(["python", "-m", "lls_core.results", *(argv if argv is not None else sys.argv[1:])])
        try:
            out = archive_landscape(args.profile, args.archs, args.store, out_dir=args.out,
                                    barriers=False if args.barriers is None else (args.barriers or True),
                                    n_pairs=args.pairs, workers=args.workers, command=cmd, note=args.note, progress=True)
        except ValueError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        print(f"archived the landscape results into {out}")
    elif args.cmd == "archive":
        cmd = " ".join(["python", "-m", "lls_core.results", *(argv or sys.argv[1:])])
        out = archive(args.profile, args.archs, args.store, args.out, command=cmd)
        print(f"archived into {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
