"""Training speed of the MNIST study on this machine, and the Dask speed-up.

For each architecture, on the embedded MNIST digits (``mnist-5k``):

* SGD throughput: images per second of 64-image mini-batch steps (forward,
  backward, update; no evaluation), over ``--n-train`` images;
* L-BFGS-GSS throughput: full-batch iterations per second over the same images
  (each iteration = one forward+backward plus the line search's forward passes);

then the speed-up of ``--runs`` independent training runs (LeNet, SGD) spread over
2 Dask workers (a LocalCluster, its start-up included) against the same runs done
one after the other by a single worker, both through ``lls_core.study.run_studies``.

Usage: ``python benchmarks/bench_training.py [--n-train 2000] [--runs 6]``. The last
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


def dask_speedup(runs: int, n_train: int) -> tuple[float, float, float]:
    prof = study.Profile(
        "bench", n_train=n_train, n_test=200, n_inits=runs, k_best=1,
        optimizers=(("sgd", train.SGDConfig(epochs=2)),),
    )
    times = []
    for workers in (1, 2):
        with tempfile.TemporaryDirectory() as root:
            t0 = time.perf_counter()
            res = study.run_studies(["lenet"], prof, ("sgd",), store=root, workers=workers, progress=False, device="cpu")
            times.append(time.perf_counter() - t0)
            assert res["lenet"].n_computed == runs
    return times[0], times[1], times[0] / times[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-train", type=int, default=2000, help="training images (default 2000)")
    ap.add_argument("--runs", type=int, default=6, help="runs for the Dask speed-up (default 6)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    ds = data.load("mnist-5k", n_train=args.n_train, n_test=200)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), {args.n_train} training images")
    sgd, gss = {}, {}
    for arch in models.ARCHITECTURES:
        sgd[arch] = sgd_images_per_s(arch, ds)
        gss[arch] = lbfgs_iterations_per_s(arch, ds)
        print(f"{arch:12s} SGD {sgd[arch]:10.0f} images/s   L-BFGS-GSS {gss[arch]:8.3f} iterations/s", flush=True)
    t1, t2, speedup = dask_speedup(args.runs, args.n_train)
    print(f"{args.runs} LeNet SGD runs: 1 worker {t1:.1f} s, 2 Dask workers {t2:.1f} s (cluster start-up included)")
    print(f"sgd_img_per_s_fcp={sgd['fcp']:.0f} lbfgs_it_per_s_fcp={gss['fcp']:.2f} dask_speedup={speedup:.2f}")


if __name__ == "__main__":
    main()
