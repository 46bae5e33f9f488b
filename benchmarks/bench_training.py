"""Training speed of the MNIST study on this machine, and the Dask speed-up.

For each architecture, on the embedded MNIST digits (``mnist-5k``):

* SGD throughput: images per second of 64-image mini-batch steps (forward,
  backward, update; no evaluation), over ``--n-train`` images;
* L-BFGS-GSS throughput: full-batch iterations per second over the same images
  (each iteration = one forward+backward plus the line search's forward passes);

then the speed-up of ``--runs`` independent training runs (LeNet, SGD) spread over
2 Dask workers (a LocalCluster of processes, started and warmed before the clock;
its start-up time is printed separately) against the same runs done one after the
other by a single worker, both through ``lls_core.study.run_studies``.

Usage: ``python benchmarks/bench_training.py [--n-train 2000] [--runs 4]``. The last
line is ``sgd_img_per_s_fcp=<n> lbfgs_it_per_s_fcp=<n> dask_speedup=<x>``.
"""

from __future__ import annotations

import argparse
import tempfile
import time

import torch

from lls_core import data, models, study, train
from lls_core.lbfgs_gss import LBFGSGSS


def sgd_images_per_s(arch: str, ds: data.Dataset, min_time: float = 2.0) -> float:
    model = models.build(arch, seed=0)
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    x, y = ds.x_train, ds.y_train
    order = torch.randperm(x.shape[0], generator=torch.Generator().manual_seed(0))
    done, t0 = 0, time.perf_counter()
    while True:
        for i in range(0, x.shape[0], 64):
            idx = order[i : i + 64]
            opt.zero_grad(set_to_none=True)
            models.loss(model, x[idx], y[idx]).backward()
            opt.step()
            done += idx.numel()
        if time.perf_counter() - t0 >= min_time:
            return done / (time.perf_counter() - t0)


def lbfgs_iterations_per_s(arch: str, ds: data.Dataset, min_time: float = 3.0, max_iter: int = 50) -> float:
    model = models.build(arch, seed=0)
    opt = LBFGSGSS(model.parameters())
    x, y = ds.x_train, ds.y_train

    def closure():
        value = models.loss(model, x, y)
        if torch.is_grad_enabled():
            opt.zero_grad()
            value.backward()
        return value

    opt.step(closure)  # warm-up
    n, t0 = 0, time.perf_counter()
    while n < max_iter and (n < 2 or time.perf_counter() - t0 < min_time):
        opt.step(closure)
        n += 1
    return n / (time.perf_counter() - t0)


def dask_speedup(runs: int, n_train: int, epochs: int) -> tuple[float, float, float, float]:
    """Wall time of ``runs`` LeNet SGD runs: serial (one worker, this process) and on 2 Dask workers.

    The cluster is started, and each worker has imported lls_core and loaded the
    data, before the clock starts (its start-up time is returned separately), so
    the ratio measures the spreading of the runs themselves.
    """
    from distributed import Client, LocalCluster

    prof = study.Profile(
        "bench", n_train=n_train, n_test=200, n_inits=runs, k_best=1,
        optimizers=(("sgd", train.SGDConfig(epochs=epochs)),),
    )
    study.dataset(prof)  # the serial side loads its data before the clock too
    with tempfile.TemporaryDirectory() as root:
        t0 = time.perf_counter()
        study.run_studies(["lenet"], prof, ("sgd",), store=root, workers=1, progress=False, device="cpu")
        serial = time.perf_counter() - t0
    t0 = time.perf_counter()
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None) as cluster, Client(cluster) as client:
        client.run(study.dataset, prof)
        startup = time.perf_counter() - t0
        with tempfile.TemporaryDirectory() as root:
            t0 = time.perf_counter()
            res = study.run_studies(["lenet"], prof, ("sgd",), store=root, scheduler=client, progress=False, device="cpu")
            parallel = time.perf_counter() - t0
        assert res["lenet"].n_computed == runs
    return serial, parallel, serial / parallel, startup


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-train", type=int, default=2000, help="training images (default 2000)")
    ap.add_argument("--runs", type=int, default=4, help="runs for the Dask speed-up (default 4)")
    ap.add_argument("--epochs", type=int, default=3, help="SGD epochs per run for the Dask speed-up (default 3)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    ds = data.load("mnist-5k", n_train=args.n_train, n_test=200)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), {args.n_train} training images")
    sgd, gss = {}, {}
    for arch in models.ARCHITECTURES:
        sgd[arch] = sgd_images_per_s(arch, ds)
        gss[arch] = lbfgs_iterations_per_s(arch, ds)
        print(f"{arch:12s} SGD {sgd[arch]:10.0f} images/s   L-BFGS-GSS {gss[arch]:8.3f} iterations/s", flush=True)
    t1, t2, speedup, startup = dask_speedup(args.runs, args.n_train, args.epochs)
    print(f"{args.runs} LeNet SGD runs of {args.epochs} epochs: 1 worker {t1:.1f} s, 2 Dask workers {t2:.1f} s "
          f"(+ {startup:.1f} s to start the cluster, not counted)")
    print(f"sgd_img_per_s_fcp={sgd['fcp']:.0f} lbfgs_it_per_s_fcp={gss['fcp']:.2f} dask_speedup={speedup:.2f}")


if __name__ == "__main__":
    main()
