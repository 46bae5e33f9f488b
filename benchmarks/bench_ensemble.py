"""Ensembles against runs one at a time: what the engine buys the study.

On the embedded MNIST digits (``mnist-5k``: 4,000 + 1,000 = 5,000 images), one torch thread:

* ``sgd_speedup``: ``--runs`` (75) FCP runs, each ``--steps`` 64-image SGD steps
  (forward, backward, update; every run its own batches). One at a time: the
  plain torch loop of one model (``models.loss`` + ``torch.optim.SGD``), run after
  run. Batched: the ensemble trainer's step (all runs' weights ``(R, d)`` as one
  parameter, :meth:`lls_core.engine.Engine.minibatch_losses_and_grads`). Ratio of the times.
* ``gss_iter_cost``: one batched L-BFGS-GSS iteration of the 75 FCP runs on all
  5,000 images (:class:`lls_core.train.FullBatchEnsemble`: one forward+backward,
  the direction's first stage, the line-search trials along each run's line) over
  one batched forward+backward of the same 75 runs on the same images
  (:meth:`lls_core.engine.Engine.losses_and_grads`). A run alone pays one
  forward+backward plus about six full forwards per iteration.
* ``lenet_sgd_speedup``, ``lstm_sgd_speedup``: as ``sgd_speedup`` for LeNet and the
  LSTM with ``--small-runs`` (16) runs of ``--small-steps`` steps.

Roofline of the FCP SGD step (how far ``sgd_speedup`` can go on this CPU):
``matmul_peak_gflops`` is one thread's rate on a 2048 x 2048 float32 matmul, timed in
the same run; ``fcp_step_gflops`` the batched FCP SGD steps' rate (forward, the three
weight gradients and the two input gradients above the first layer: 2 x 64 x 87,400
flops per run and step); ``sgd_speedup_bound`` the one-at-a-time time over the time
those flops take at the matmul peak: no batching of these steps can beat it here.

Timings are the minimum over ``--reps`` repetitions of the process's CPU time
(``--clock cpu``, the default: one torch thread, so on an idle machine it is the
wall time, and other jobs on a shared machine disturb it less) or of the wall time
(``--clock wall``); ratios come from the same process. ``--profile`` prints where
the time of a batched L-BFGS-GSS iteration goes (torch.profiler, top operators).

Usage: ``python benchmarks/bench_ensemble.py [--runs 75] [--steps 30]``. The last line is
``sgd_speedup=<x> gss_iter_cost=<x> lenet_sgd_speedup=<x> lstm_sgd_speedup=<x> fcp_step_gflops=<x>
matmul_peak_gflops=<x> sgd_speedup_bound=<x>``.
"""

from __future__ import annotations

import argparse
import time

import torch

from lls_core import data, engine, models, params, train


CLOCK = time.process_time
FCP_STEP_FLOPS = 2 * 64 * (2 * 42_200 + 50 * 50 + 50 * 10)
"""Flops of one 64-image FCP SGD step of one run: forward, weight gradients, input gradients above fc1."""


def _min_time(fn, reps: int) -> float:
    best = float("inf")
    for _ in range(reps):
        t0 = CLOCK()
        fn()
        best = min(best, CLOCK() - t0)
    return best


def matmul_peak(reps: int) -> float:
    """GFLOP/s of one 2048 x 2048 float32 matmul on this thread (the best of ``reps`` + 2 tries)."""
    a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
    a @ b
    return 2 * 2048**3 / _min_time(lambda: a @ b, reps + 2) / 1e9


def sgd_times(arch: str, ds: data.Dataset, runs: int, steps: int, reps: int) -> tuple[float, float]:
    """(one at a time, batched) seconds for ``runs`` x ``steps`` SGD steps of 64 images."""
    x, y = ds.x_train, ds.y_train
    n = x.shape[0]
    seeds = list(range(runs))
    orders = torch.stack([torch.randperm(n, generator=torch.Generator().manual_seed(10_007 * s + 1)) for s in seeds])
    batches = [orders[:, (i * 64) % (n - 64) : (i * 64) % (n - 64) + 64] for i in range(steps)]
    inits = [models.build(arch, seed=s) for s in seeds]

    def one_at_a_time() -> None:
        for r, _m0 in enumerate(inits):
            m = models.build(arch, seed=seeds[r])
            opt = torch.optim.SGD(m.parameters(), lr=0.1)
            for idx in batches:
                j = idx[r]
                opt.zero_grad(set_to_none=True)
                models.loss(m, x[j], y[j]).backward()
                opt.step()

    W0 = torch.stack([params.flatten(m) for m in inits])
    eng = engine.Engine(inits[0], (x, y))

    def batched() -> None:
        W = W0.clone().requires_grad_(True)
        opt = torch.optim.SGD([W], lr=0.1)
        W.grad = torch.zeros_like(W)
        for idx in batches:
            eng.minibatch_losses_and_grads(W, *eng.minibatch_items(idx), grad_out=W.grad)
            opt.step()

    batched()  # warm-up
    return _min_time(one_at_a_time, reps), _min_time(batched, reps)


def gss_cost(ds: data.Dataset, runs: int, iters: int, reps: int, profile: bool) -> tuple[float, float, float]:
    """(seconds per batched L-BFGS-GSS iteration, seconds per batched forward+backward, trials per iteration)."""
    x = torch.cat([ds.x_train, ds.x_test])
    y = torch.cat([ds.y_train, ds.y_test])
    m = models.build("fcp", seed=0)
    W = torch.stack([params.flatten(models.build("fcp", seed=s)) for s in range(runs)])
    eng = engine.Engine(m, (x, y))
    eng.losses_and_grads(W)  # warm-up (and the chunk sizes)
    t_fb = _min_time(lambda: eng.losses_and_grads(W), reps)
    cfg = train.LBFGSGSSConfig()
    rows = list(range(runs))
    with train.FullBatchEnsemble(cfg, eng, W) as ens:
        for _ in range(3):  # warm-up: past the first steepest-descent iterations
            ens.step(rows)
        t0 = CLOCK()
        trials0 = ens.anchors.trials
        for _ in range(iters):
            ens.step(rows)
        t_it = (CLOCK() - t0) / iters
        per_iter = (ens.anchors.trials - trials0) / iters / runs
        if profile:
            from torch.profiler import ProfilerActivity, profile as prof

            with prof(activities=[ProfilerActivity.CPU]) as p:
                ens.step(rows)
            print(p.key_averages().table(sort_by="self_cpu_time_total", row_limit=15))
    return t_it, t_fb, per_iter


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=75)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--small-runs", type=int, default=16)
    ap.add_argument("--small-steps", type=int, default=8)
    ap.add_argument("--gss-iters", type=int, default=3)
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--clock", choices=("cpu", "wall"), default="cpu")
    args = ap.parse_args()
    global CLOCK
    CLOCK = time.process_time if args.clock == "cpu" else time.perf_counter
    torch.set_num_threads(1)
    ds = data.load("mnist-5k", n_train=4000, n_test=1000, seed=0)

    one, bat = sgd_times("fcp", ds, args.runs, args.steps, args.reps)
    fcp_one, fcp_bat = one, bat
    sgd_speedup = one / bat
    print(f"fcp SGD {args.runs} runs x {args.steps} steps: one at a time {one:.3f} s, batched {bat:.3f} s, x{sgd_speedup:.2f}", flush=True)
    t_it, t_fb, trials = gss_cost(ds, args.runs, args.gss_iters, args.reps, args.profile)
    gss = t_it / t_fb
    print(f"fcp L-BFGS-GSS {args.runs} runs on 5000 images: iteration {t_it:.3f} s, forward+backward {t_fb:.3f} s, "
          f"{trials:.2f} trials per run and iteration, cost {gss:.2f} units", flush=True)
    speed = {}
    for arch in ("lenet", "lstm"):
        one, bat = sgd_times(arch, ds, args.small_runs, args.small_steps, args.reps)
        speed[arch] = one / bat
        print(f"{arch} SGD {args.small_runs} runs x {args.small_steps} steps: one at a time {one:.3f} s, batched {bat:.3f} s, "
              f"x{speed[arch]:.2f}", flush=True)
    peak = matmul_peak(args.reps)
    step_gflops = FCP_STEP_FLOPS * args.runs * args.steps / fcp_bat / 1e9
    bound = fcp_one / (FCP_STEP_FLOPS * args.runs * args.steps / (peak * 1e9))
    print(f"roofline: matmul peak {peak:.0f} GFLOP/s on one thread; batched FCP SGD steps {step_gflops:.0f} GFLOP/s "
          f"({step_gflops / peak:.0%} of it); at the peak the speedup would be x{bound:.1f}", flush=True)
    print(f"sgd_speedup={sgd_speedup:.2f} gss_iter_cost={gss:.2f} lenet_sgd_speedup={speed['lenet']:.2f} "
          f"lstm_sgd_speedup={speed['lstm']:.2f} fcp_step_gflops={step_gflops:.1f} matmul_peak_gflops={peak:.1f} "
          f"sgd_speedup_bound={bound:.2f}")


if __name__ == "__main__":
    main()
