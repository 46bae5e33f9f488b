"""Barrier computation speed: seconds per FourierPathFinder pair, and Dask's speed-up over pairs.

Settings are the ``quick`` profile of :data:`lls_core.topography.PATH_PROFILES`
(15 points, 10 Fourier terms, 30 Adam steps at lr 3e-3, 500 training images of the
embedded MNIST set). End points are two initialisations of each network (the cost
of a path does not depend on where its ends lie).

* ``pair_s_fcp`` / ``pair_s_lenet``: wall time of one pair, run in this process
  with one torch thread (mean over the pairs timed). One thread per path is how the
  chapters run them (one Dask worker process per core); on a busy 2-core machine two
  intra-op threads per small network were measured 5-10x *slower* than one.
* ``dask_speedup``: wall time of ``N`` FCP pairs on a Dask ``LocalCluster`` with
  one single-threaded worker process, divided by the wall time of the same pairs
  with two single-threaded workers; both runs in this script, cluster start-up and
  the workers' first imports excluded. On a machine shared with other jobs the two
  workers may not get two cores, and the ratio shows it.

Run: ``PYTHONPATH=. python benchmarks/bench_barriers.py [--pairs 8] [--lenet-pairs 1]``.
The last line is ``pair_s_fcp=<s> pair_s_lenet=<s> dask_speedup=<x>``.
"""

from __future__ import annotations

import argparse
import importlib
import os
import time

import torch

from lls_core import data, landscape, models, params
from lls_core.topography import PATH_PROFILES


def _set(arch: str, k: int) -> torch.Tensor:
    return torch.stack([params.flatten(models.build(arch, seed=s)) for s in range(k)])


def _serial(arch: str, n_pairs: int, cfg: landscape.PathConfig, ds: data.Dataset) -> float:
    w = _set(arch, n_pairs + 1)
    m = models.build(arch)
    res = landscape.barriers(m, ds.x_train, ds.y_train, w, n_pairs=n_pairs, config=cfg)
    return float(res.seconds.mean())


def _dask(n_workers: int, n_pairs: int, cfg: landscape.PathConfig, ds: data.Dataset) -> float:
    from dask.distributed import Client, LocalCluster

    w = _set("fcp", n_pairs + 1)
    m = models.build("fcp")
    with LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=None) as cl, \
            Client(cl) as client:
        client.run(torch.set_num_threads, 1)
        client.run(importlib.import_module, "lls_core.landscape")  # imports are start-up, not work
        start = time.perf_counter()
        landscape.barriers(m, ds.x_train, ds.y_train, w, n_pairs=n_pairs, config=cfg, client=client,
                           threads_per_task=1)
        return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=8, help="FCP pairs per timing (default 8)")
    ap.add_argument("--lenet-pairs", type=int, default=1, help="LeNet pairs timed (default 1)")
    a = ap.parse_args()
    cfg = PATH_PROFILES["quick"]
    torch.set_num_threads(1)
    ds = data.load("mnist-5k")
    print(f"quick profile: {cfg}; {os.cpu_count()} CPUs, torch threads {torch.get_num_threads()}", flush=True)
    fcp = _serial("fcp", a.pairs, cfg, ds)
    print(f"FCP   : {fcp:.2f} s per pair (mean of {a.pairs}, in-process)", flush=True)
    lenet = _serial("lenet", a.lenet_pairs, cfg, ds)
    print(f"LeNet : {lenet:.2f} s per pair (mean of {a.lenet_pairs}, in-process)", flush=True)
    t1 = _dask(1, a.pairs, cfg, ds)
    print(f"Dask, 1 worker : {t1:.2f} s for {a.pairs} FCP pairs", flush=True)
    t2 = _dask(2, a.pairs, cfg, ds)
    print(f"Dask, 2 workers: {t2:.2f} s for {a.pairs} FCP pairs", flush=True)
    print(f"pair_s_fcp={fcp:.3g} pair_s_lenet={lenet:.3g} dask_speedup={t1 / t2:.3g}")


if __name__ == "__main__":
    main()
