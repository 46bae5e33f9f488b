"""Long study runs made outside the book build, and their derived results archived in ``data/results/<profile>/``.

A profile such as ``full`` (75 initialisations per optimizer, 1000 L-BFGS-GSS
iterations) takes hours on a CPU, so it is trained apart from the book build, in
the background, with its runs in an artifact store outside git::

    nice -n 19 python -m lls_core.results train --profile full --archs fcp autoencoder \\
        --store /path/outside/git
    python -m lls_core.results archive --profile full --archs fcp autoencoder --store /path/outside/git

``train`` trains the missing runs one at a time through :func:`lls_core.study.execute`
(the very function the chapters' Dask workers run), interleaved by initialisation
(seed 0 of every network and optimizer, then seed 1, ...) so that a run stopped
early leaves comparable counts for every set. ``archive`` reads what is in the store
and writes the derived results (per-run final losses and curves, the weight-set
statistics, Table 1, provenance: command, git commit, machine, wall times, input
checksums) into ``data/results/<profile>/``; the weights stay in the store. The
chapters read the archive with :func:`load_archive`, offline.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Sequence

import torch

from . import models, study
from .store import Store

__all__ = ["interleaved_tasks", "train_background", "ARCHIVE_ROOT"]

_PROJECT_ROOT = Path(__file__).resolve().parent.parent
ARCHIVE_ROOT = _PROJECT_ROOT / "data" / "results"


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
) -> int:
    """Train every missing run of ``archs`` under ``profile`` into ``store``, one at a time; return how many.

    Runs go in :func:`interleaved_tasks` order through :func:`lls_core.study.execute`
    with one torch thread. ``log``: a JSON-lines file that gets one record per
    finished run (arch, optimizer, seed, wall seconds, UTC time); default
    ``<store>/train-<profile>.jsonl``. ``shard=(i, n)``: do only the tasks whose
    position in that order is ``i`` modulo ``n`` (``n`` processes share the work
    without ever training the same run twice). ``claim_runs``: before training a run,
    create ``<store>/claims/<key digest>`` exclusively (holding this process's id) and
    skip runs another live process on this machine has claimed, so that several
    processes started alike share the work dynamically.
    """
    i_shard, n_shard = shard
    if not (isinstance(n_shard, int) and n_shard >= 1 and isinstance(i_shard, int) and 0 <= i_shard < n_shard):
        raise ValueError(f"shard={shard!r}: must be (i, n) with n >= 1 and 0 <= i < n")
    prof = study.get_profile(profile)
    st = Store(store)
    st.root.mkdir(parents=True, exist_ok=True)
    log_path = Path(log) if log else st.root / f"train-{prof.name}.jsonl"
    n = 0
    for pos, task in enumerate(interleaved_tasks(archs, prof, optimizers)):
        if pos % n_shard != i_shard or st.has(task.key):
            continue
        claim = _claim(st.root, task.key.digest) if claim_runs else None
        if claim_runs and claim is None:
            continue  # another live process is training it
        try:
            if st.has(task.key):
                continue
            t0 = time.perf_counter()
            study.execute(task, str(st.root), device, threads=1)
        finally:
            if claim is not None:
                claim.unlink(missing_ok=True)
        rec = {
            "arch": task.key.arch,
            "optimizer": task.key.optimizer,
            "seed": task.key.seed,
            "wall_s": round(time.perf_counter() - t0, 3),
            "finished_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "machine": platform.node(),
        }
        with open(log_path, "a") as f:
            f.write(json.dumps(rec) + "\n")
        n += 1
    return n


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
    tr = sub.add_parser("train", help="train the missing runs of a profile into a store, one at a time")
    for p in (tr,):
        p.add_argument("--profile", required=True, choices=list(study.PROFILES))
        p.add_argument("--archs", nargs="+", default=list(models.ARCHITECTURES), choices=list(models.ARCHITECTURES))
        p.add_argument("--store", required=True, help="artifact store folder (outside git)")
    tr.add_argument("--shard", default="0/1", help="I/N: this process does every N-th task from the I-th (default 0/1)")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    if args.cmd == "train":
        try:
            i, n_sh = (int(v) for v in args.shard.split("/"))
        except ValueError:
            ap.error(f"--shard {args.shard!r}: expected I/N, e.g. 0/2")
        n = train_background(args.archs, args.profile, args.store, shard=(i, n_sh))
        print(f"trained {n} runs into {args.store}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
