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
* ``pairs_speedup``: CPU time of the same ``N`` FCP pairs found one at a time
  (``landscape.pair_paths(..., pair_batch=1)``, each pair its own
  :func:`lls_core.pathfinder.find_paths` call) over the time with all ``N`` found
  together (``pair_batch=N``), same settings (fine grid included), in this process (one
  torch thread, so CPU time is the time computing; unlike wall time it leaves out the
  waits for a core that other jobs on a shared machine cause). The minimum over ``--reps``
  interleaved repetitions of each; the human-readable line gives the wall times too.
* ``pair_cpu_s_autoencoder`` / ``malloc_speedup``: CPU seconds per autoencoder pair in a fresh
  process set up by :func:`lls_core.runtime.configure` (as chapter kernels and Dask workers
  are), and the same pairs' CPU time with glibc's default allocator (``$LLS_DEFAULT_MALLOC``)
  over it: the gain of keeping freed memory instead of page-faulting every large array anew.
* ``pair_step_floor_ratio``: time of one batched path step (objective and gradient
  of all ``N`` pairs at their ``P - 2`` interior points, :func:`lls_core.pathfinder.group_step`
  with the end points' first stages kept from step to step as a search keeps them) over
  ``N x (P - 2) x`` one forward+backward of one FCP network on the same images
  (``models.loss(...).backward()`` at its own parameters). Below 1 the factored first
  layer (``K + 2`` products with the images per pair instead of ``P - 2``) more than
  pays for the batching overhead. Minimum over ``--reps`` repetitions.

Run: ``PYTHONPATH=. python benchmarks/bench_barriers.py [--pairs 8] [--lenet-pairs 1]``.
The last line is ``pair_s_fcp=<s> pair_s_lenet=<s> dask_speedup=<x> pairs_speedup=<x> pair_step_floor_ratio=<x>
pair_cpu_s_autoencoder=<s> malloc_speedup=<x>``.
"""

from __future__ import annotations

import argparse
import importlib
import os
import subprocess
import sys
import time

import torch

from lls_core import data, engine, landscape, models, params, runtime
from lls_core import pathfinder as pf
from lls_core.topography import PATH_PROFILES


def _set(arch: str, k: int) -> torch.Tensor:
    return torch.stack([params.flatten(models.build(arch, seed=s)) for s in range(k)])


def _serial(arch: str, n_pairs: int, cfg: landscape.PathConfig, ds: data.Dataset) -> float:
    w = _set(arch, n_pairs + 1)
    m = models.build(arch)
    res = landscape.pair_paths(m, ds.x_train, ds.y_train, w, n_pairs=n_pairs, config=cfg)
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
        landscape.pair_paths(m, ds.x_train, ds.y_train, w, n_pairs=n_pairs, config=cfg, client=client,
                           threads_per_task=1)
        return time.perf_counter() - start


_CHILD = """
import sys, time, torch
from lls_core import data, landscape, models, params, runtime
from lls_core.topography import PATH_PROFILES
runtime.configure(threads=1)
n = int(sys.argv[1])
ds = data.load("mnist-5k")
w = torch.stack([params.flatten(models.build("autoencoder", seed=s)) for s in range(n + 1)])
m = models.build("autoencoder")
landscape.pair_paths(m, ds.x_train, ds.y_train, w[:2], n_pairs=1, config=PATH_PROFILES["quick"])  # warm-up
c = time.process_time()
landscape.pair_paths(m, ds.x_train, ds.y_train, w, n_pairs=n, config=PATH_PROFILES["quick"])
print((time.process_time() - c) / n)
"""


def _ae_cpu_per_pair(n_pairs: int, default_malloc: bool) -> float:
    """CPU seconds per autoencoder pair in a fresh process (one torch thread), with or without
    :func:`lls_core.runtime.reuse_freed_memory` (``$LLS_DEFAULT_MALLOC`` switches it off)."""
    env = {k: v for k, v in os.environ.items() if k not in runtime.ALLOCATOR_ENV}
    if default_malloc:
        env["LLS_DEFAULT_MALLOC"] = "1"
    else:
        env.pop("LLS_DEFAULT_MALLOC", None)
    out = subprocess.run([sys.executable, "-c", _CHILD, str(n_pairs)], env=env, capture_output=True, text=True,
                         check=True, cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    return float(out.stdout.strip().splitlines()[-1])


def _pairs_speedup(n_pairs: int, cfg: landscape.PathConfig, ds: data.Dataset,
                   reps: int) -> tuple[float, float, float, float]:
    """(CPU s one at a time, CPU s together, wall s one at a time, wall s together): minima over ``reps``."""
    w = _set("fcp", n_pairs + 1)
    m = models.build("fcp")
    landscape.pair_paths(m, ds.x_train, ds.y_train, w[:2], n_pairs=1, config=cfg)  # warm-up: kept buffers
    cpu: dict[int, list[float]] = {1: [], n_pairs: []}
    wall: dict[int, list[float]] = {1: [], n_pairs: []}
    for _ in range(reps):
        for batch in (1, n_pairs):
            start, c0 = time.perf_counter(), time.process_time()
            landscape.pair_paths(m, ds.x_train, ds.y_train, w, n_pairs=n_pairs, config=cfg, pair_batch=batch)
            cpu[batch].append(time.process_time() - c0)
            wall[batch].append(time.perf_counter() - start)
    return min(cpu[1]), min(cpu[n_pairs]), min(wall[1]), min(wall[n_pairs])


def _step_floor(n_pairs: int, cfg: landscape.PathConfig, ds: data.Dataset, reps: int) -> tuple[float, float]:
    """(one batched path step of ``n_pairs`` pairs, one forward+backward of one network) in seconds."""
    x, y = ds.x_train[: cfg.n_data], ds.y_train[: cfg.n_data]
    m = models.build("fcp")
    w = _set("fcp", 2 * n_pairs)
    S, E = w[:n_pairs], w[n_pairs:]
    land = engine.Engine(m, (x, y), memory_mb=cfg.memory_mb)  # as barriers() bounds it
    t = torch.linspace(0.0, 1.0, cfg.n_points)
    ends = torch.stack([S, E], 1)
    b = 1e-3 * torch.randn(n_pairs, cfg.n_terms, S.shape[1], generator=torch.Generator().manual_seed(0))

    cache: dict = {}  # the end points' first stages, kept from step to step as find_paths keeps them

    def step() -> None:
        pf.group_step(land, t, ends, b, lam=cfg.lam, curve=cfg.curve, ends_cache=cache)

    def fwd_bwd() -> None:
        m.zero_grad(set_to_none=True)
        models.loss(m, x, y).backward()

    steps, floors = [], []
    step(), fwd_bwd()  # warm-up
    for _ in range(reps):
        for fn, out in ((step, steps), (fwd_bwd, floors)):
            start = time.perf_counter()
            fn()
            out.append(time.perf_counter() - start)
    return min(steps), min(floors)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=8, help="FCP pairs per timing (default 8)")
    ap.add_argument("--lenet-pairs", type=int, default=1, help="LeNet pairs timed (default 1)")
    ap.add_argument("--reps", type=int, default=3, help="repetitions of the batched/one-at-a-time timings (default 3)")
    ap.add_argument("--ae-pairs", type=int, default=4, help="autoencoder pairs per allocator timing (default 4)")
    ap.add_argument("--no-dask", action="store_true", help="skip the Dask timings (dask_speedup=nan)")
    a = ap.parse_args()
    cfg = PATH_PROFILES["quick"]
    torch.set_num_threads(1)
    ds = data.load("mnist-5k")
    print(f"quick profile: {cfg}; {os.cpu_count()} CPUs, torch threads {torch.get_num_threads()}", flush=True)
    fcp = _serial("fcp", a.pairs, cfg, ds)
    print(f"FCP   : {fcp:.2f} s per pair (mean of {a.pairs}, in-process)", flush=True)
    lenet = _serial("lenet", a.lenet_pairs, cfg, ds)
    print(f"LeNet : {lenet:.2f} s per pair (mean of {a.lenet_pairs}, in-process)", flush=True)
    ae_default = _ae_cpu_per_pair(a.ae_pairs, default_malloc=True)
    ae = _ae_cpu_per_pair(a.ae_pairs, default_malloc=False)
    print(f"Autoencoder: {ae:.2f} CPU s per pair (freed memory kept), {ae_default:.2f} with the default allocator "
          f"(mean of {a.ae_pairs}, fresh processes)", flush=True)
    one, many, one_wall, many_wall = _pairs_speedup(a.pairs, cfg, ds, a.reps)
    print(f"FCP, {a.pairs} pairs: {one:.2f} CPU s one at a time, {many:.2f} together "
          f"(wall {one_wall:.2f} s and {many_wall:.2f} s)", flush=True)
    st, fl = _step_floor(a.pairs, cfg, ds, a.reps)
    inner = a.pairs * (cfg.n_points - 2)
    print(f"one batched step of {a.pairs} pairs x {cfg.n_points - 2} points: {st * 1e3:.1f} ms; "
          f"one forward+backward: {fl * 1e3:.2f} ms (floor {inner * fl * 1e3:.1f} ms)", flush=True)
    if a.no_dask:
        dask = float("nan")
    else:
        t1 = _dask(1, a.pairs, cfg, ds)
        print(f"Dask, 1 worker : {t1:.2f} s for {a.pairs} FCP pairs", flush=True)
        t2 = _dask(2, a.pairs, cfg, ds)
        print(f"Dask, 2 workers: {t2:.2f} s for {a.pairs} FCP pairs", flush=True)
        dask = t1 / t2
    print(f"pair_s_fcp={fcp:.3g} pair_s_lenet={lenet:.3g} dask_speedup={dask:.3g} "
          f"pairs_speedup={one / many:.3g} pair_step_floor_ratio={st / (inner * fl):.3g} "
          f"pair_cpu_s_autoencoder={ae:.3g} malloc_speedup={ae_default / ae:.3g}")


if __name__ == "__main__":
    main()
