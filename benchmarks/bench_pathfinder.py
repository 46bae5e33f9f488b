"""Speed of one FourierPathFinder step on the MNIST networks, against its floor and a loop.

One step evaluates the objective and its gradient with respect to the Fourier
coefficients at the ``P - 2`` interior path points (the end points are fixed and
need no gradient). Measured in the same run, with the same threads and data:

- floor: ``(P - 2) x`` one forward+backward of the network at one weight vector
  over all the data (gradient with respect to the weights);
- ours: :func:`lls_core.pathfinder.objective_and_grad` (batched, chunked under
  ``--memory-mb``);
- loop: the same objective with the points evaluated one at a time.

Each timing is the minimum over ``--reps`` interleaved repetitions (the machine
is shared; the minimum is the least disturbed run). Peak memory is the growth of
the process's resident set during our step (``VmHWM`` after resetting it, minus
``VmRSS`` before), the largest over the networks.

Last line: ``fcp_floor_ratio=<x> lenet_floor_ratio=<x> fcp_vs_loop=<x> lenet_vs_loop=<x> peak_mb=<MB>``
(floor ratio = our step time / floor; vs_loop = loop time / our step time).
"""

from __future__ import annotations

import argparse
import os
import time

import torch

from lls_core import data, engine, models, params
from lls_core import pathfinder as pf


def _rss_kib(field: str) -> int | None:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def bench(arch: str, x: torch.Tensor, y: torch.Tensor, args: argparse.Namespace) -> dict[str, float]:
    m = models.build(arch, seed=0)
    w1 = params.flatten(m)
    w2 = params.flatten(models.build(arch, seed=1))
    g = torch.Generator().manual_seed(0)
    b = 1e-2 * torch.randn(args.n_terms, w1.numel(), generator=g)
    interior = args.n_points - 2
    kw = dict(data=(x, y), n_points=args.n_points, lam=1.0, end_losses=(0.0, 0.0))

    w = w1.clone().requires_grad_(True)

    def one_point() -> None:
        value = models.loss(m, x, y, params.unflatten(m, w))
        torch.autograd.grad(value, w)

    def ours() -> None:
        pf.objective_and_grad(m, w1, w2, b, batched=True, memory_mb=args.memory_mb, **kw)

    def loop() -> None:
        pf.objective_and_grad(m, w1, w2, b, batched=False, chunk_points=1, **kw)

    one_point()  # warm-up (allocator, oneDNN primitives)
    ours()
    t_one, t_ours, t_loop = [], [], []
    peak_mb = float("nan")
    for rep in range(args.reps):
        t_one.append(min(_timed(one_point) for _ in range(3)))
        before = _rss_kib("VmRSS")
        reset = _reset_peak()
        t_ours.append(_timed(ours))
        after = _rss_kib("VmHWM")
        if reset and before is not None and after is not None:
            grown = max(after - before, 0) / 1024
            peak_mb = grown if peak_mb != peak_mb else max(peak_mb, grown)
        if rep < args.loop_reps:
            t_loop.append(_timed(loop))
    floor = interior * min(t_one)
    step = min(t_ours)
    loop_t = min(t_loop)
    cp, cd = engine.Engine(m, (x, y)).chunk_sizes(interior, memory_mb=args.memory_mb)
    print(
        f"{arch:6s} d={w1.numel():6d}  one fwd+bwd {1e3 * min(t_one):8.1f} ms  floor {floor:7.3f} s  "
        f"ours {step:7.3f} s (chunks {cp} points x {cd} images)  loop {loop_t:7.3f} s  "
        f"floor_ratio {step / floor:5.2f}  vs_loop {loop_t / step:5.2f}  peak {peak_mb:7.1f} MB",
        flush=True,
    )
    return dict(floor_ratio=step / floor, vs_loop=loop_t / step, peak_mb=peak_mb)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n-data", type=int, default=5000, help="images in the loss (default: all 5,000 embedded)")
    ap.add_argument("--n-points", type=int, default=51)
    ap.add_argument("--n-terms", type=int, default=10)
    ap.add_argument("--memory-mb", type=float, default=1024.0, help="bound on one batched call's autograd graph")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--loop-reps", type=int, default=2, help="repetitions of the (slow) loop baseline")
    ap.add_argument("--threads", type=int, default=int(os.environ.get("OMP_NUM_THREADS", "2")))
    ap.add_argument("--archs", default="fcp,lenet")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    ds = data.load("mnist-5k", n_train=4000, n_test=1000)
    x = torch.cat([ds.x_train, ds.x_test])[: args.n_data]
    y = torch.cat([ds.y_train, ds.y_test])[: args.n_data]
    print(f"threads={torch.get_num_threads()} images={x.shape[0]} points={args.n_points} terms={args.n_terms}")
    res = {a: bench(a, x, y, args) for a in args.archs.split(",")}
    f, le = res.get("fcp", {}), res.get("lenet", {})
    nan = float("nan")
    peak = max(r["peak_mb"] for r in res.values())
    print(
        f"fcp_floor_ratio={f.get('floor_ratio', nan):.2f} lenet_floor_ratio={le.get('floor_ratio', nan):.2f} "
        f"fcp_vs_loop={f.get('vs_loop', nan):.2f} lenet_vs_loop={le.get('vs_loop', nan):.2f} peak_mb={peak:.0f}"
    )


if __name__ == "__main__":
    main()
