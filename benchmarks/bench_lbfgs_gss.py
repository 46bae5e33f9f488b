"""Cost of one L-BFGS-GSS iteration in units of forward+backward passes, against torch's L-BFGS.

For FCP and LeNet trained full batch on the embedded MNIST digits (4,000 training images
as one batch), this script measures in one run:

* ``t_fb``: one forward+backward pass over the batch, ``t_f``: one forward pass (no graph),
  each the median of samples taken before, between and after the optimizer steps;
* L-BFGS-GSS: the wall clock of each ``step`` and the number ``e_i`` of forward-only
  line-search evaluations it made. Its **cost ratio** is the median over iterations of
  ``step time_i / (t_fb + e_i * t_f)`` (the median, because other processes on a shared
  machine add outliers): 1.0 means the optimizer costs nothing beyond its loss
  evaluations; the goal is at most 1.10. Also printed: total step time over the time spent
  inside the closure during those steps (the optimizer's own overhead, immune to drift
  between the baseline and the steps);
* ``torch.optim.LBFGS(line_search_fn="strong_wolfe")`` for the same number of iterations
  (one ``step`` call with ``max_iter=n``): seconds per iteration, forward+backward passes
  per iteration, and its own cost ratio ``time / (evaluations * t_fb)``.

``fcp_vs_torch_lbfgs`` is L-BFGS-GSS's time per iteration divided by torch L-BFGS's time per
iteration on FCP (above 1: an L-BFGS-GSS iteration is dearer, because its line search
spends ``line_search_budget`` forward passes where a strong-Wolfe search usually accepts
the first trial).

The comparison harness of the L-BFGS-GSS chapter (:func:`lls_core.comparison.run_network`)
evaluates FCP through one :class:`lls_core.engine.Engine`; ``harness_<optimizer>`` is its
time per loss evaluation divided by that of the same run on a module forward
(:func:`lls_core.lbfgs_gss.run_optimizer` on ``models.loss(net, x, y)``, the harness before
it moved onto the engine), the median of ``--reps`` alternating pairs (below 1: the engine
route is faster).

Usage: ``python benchmarks/bench_lbfgs_gss.py [--iters-fcp 20] [--iters-lenet 4] [--reps 3] [--threads 1]``.
The last printed line is ``fcp_cost_ratio=<x> lenet_cost_ratio=<x> fcp_vs_torch_lbfgs=<x>
harness_gss=<x> harness_lbfgs=<x> harness_bgd=<x> harness_adam=<x>``.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from lls_core import comparison, data, models
from lls_core.lbfgs_gss import COMPARED_OPTIMIZERS, LBFGSGSS, run_optimizer

# The chapter's learning rates on FCP (notebooks/lbfgs_gss.md).
HARNESS_LR = {"L-BFGS-GSS": None, "L-BFGS": None, "BGD": 0.2, "Adam": 0.003}


def _median_time(fn, reps: int) -> float:
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def measure(arch: str, n_iter: int, x: torch.Tensor, y: torch.Tensor, reps: int = 5) -> dict[str, float]:
    model = models.build(arch, seed=0)

    def fb() -> None:
        model.zero_grad()
        models.loss(model, x, y).backward()

    def fwd() -> None:
        with torch.no_grad():
            models.loss(model, x, y)

    fb(), fwd()  # warm-up
    # Samples of t_fb and t_f are taken before, between the optimizer steps and after, so
    # that the baseline sees the same machine load as the steps it is compared with.
    t_fb = [_median_time(fb, 1) for _ in range(reps)]
    t_f = [_median_time(fwd, 1) for _ in range(reps)]

    # L-BFGS-GSS, step by step.
    opt = LBFGSGSS(model.parameters())
    inside = {"t": 0.0}

    def closure():
        t0 = time.perf_counter()
        opt.zero_grad()
        loss = models.loss(model, x, y)
        if torch.is_grad_enabled():
            loss.backward()
        inside["t"] += time.perf_counter() - t0
        return loss

    step_times, closure_times = [], []
    for _ in range(n_iter):
        inside["t"] = 0.0
        t0 = time.perf_counter()
        opt.step(closure)
        step_times.append(time.perf_counter() - t0)
        closure_times.append(inside["t"])
        t_fb.append(_median_time(fb, 1))
        t_f.append(_median_time(fwd, 1))
    evals = opt.diagnostics().evaluations

    # torch L-BFGS with strong Wolfe, the same number of iterations in one call.
    model_t = models.build(arch, seed=0)
    opt_t = torch.optim.LBFGS(model_t.parameters(), lr=1.0, max_iter=n_iter, max_eval=25 * n_iter,
                              history_size=10, tolerance_grad=0.0, tolerance_change=0.0,
                              line_search_fn="strong_wolfe")
    count = {"fb": 0}

    def closure_t():
        opt_t.zero_grad()
        loss = models.loss(model_t, x, y)
        loss.backward()
        count["fb"] += 1
        return loss

    t0 = time.perf_counter()
    opt_t.step(closure_t)
    torch_time = time.perf_counter() - t0
    torch_iters = opt_t.state[opt_t.param_groups[0]["params"][0]]["n_iter"]

    t_fb += [_median_time(fb, 1) for _ in range(reps)]
    t_f += [_median_time(fwd, 1) for _ in range(reps)]
    tfb, tf = statistics.median(t_fb), statistics.median(t_f)

    gss_time = sum(step_times)
    per_iter_ratio = [st / (tfb + e * tf) for st, e in zip(step_times, evals)]
    return {
        "t_fb_ms": 1e3 * tfb,
        "t_f_ms": 1e3 * tf,
        "gss_iters": n_iter,
        "gss_s_per_iter": gss_time / n_iter,
        "gss_forward_per_iter": sum(evals) / n_iter,
        "gss_fb_units_per_iter": gss_time / n_iter / tfb,
        "gss_cost_ratio": statistics.median(per_iter_ratio),
        "gss_overhead": sum(step_times) / sum(closure_times),
        "torch_iters": torch_iters,
        "torch_s_per_iter": torch_time / torch_iters,
        "torch_fb_per_iter": count["fb"] / torch_iters,
        "torch_fb_units_per_iter": torch_time / torch_iters / tfb,
        "torch_cost_ratio": torch_time / (count["fb"] * tfb),
    }


def harness(n_iter: int, x: torch.Tensor, y: torch.Tensor, reps: int) -> dict[str, float]:
    """Per compared optimizer: the engine harness's time per evaluation over the module-forward one (median of pairs)."""
    out = {}
    for name in COMPARED_OPTIMIZERS:
        ratios = []
        for _ in range(reps):
            net = models.build("fcp", seed=0)
            old = run_optimizer(name, list(net.parameters()), lambda net=net: models.loss(net, x, y), n_iter, lr=HARNESS_LR[name])
            new = comparison.run_network(name, "fcp", 0, x, y, n_iter, lr=HARNESS_LR[name])
            # Per evaluation: in float32 the two runs' line searches may part after some iterations.
            ratios.append((new.seconds[-1] / new.evaluations[-1]) / (old.seconds[-1] / old.evaluations[-1]))
        out[name] = statistics.median(ratios)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--iters-fcp", type=int, default=20)
    parser.add_argument("--iters-lenet", type=int, default=4)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    for name in ("iters_fcp", "iters_lenet", "reps", "threads"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')}={getattr(args, name)}: must be >= 1")
    torch.set_num_threads(args.threads)
    ds = data.load("mnist-5k")
    results = {}
    for arch, n in (("fcp", args.iters_fcp), ("lenet", args.iters_lenet)):
        r = measure(arch, n, ds.x_train, ds.y_train)
        results[arch] = r
        print(
            f"{arch}: forward+backward {r['t_fb_ms']:.1f} ms, forward {r['t_f_ms']:.1f} ms | "
            f"L-BFGS-GSS {r['gss_s_per_iter'] * 1e3:.1f} ms/iter = {r['gss_fb_units_per_iter']:.2f} fb units "
            f"(1 fb + {r['gss_forward_per_iter']:.1f} forwards), cost ratio {r['gss_cost_ratio']:.3f}, "
            f"step/closure time {r['gss_overhead']:.3f} | "
            f"torch L-BFGS {r['torch_s_per_iter'] * 1e3:.1f} ms/iter = {r['torch_fb_units_per_iter']:.2f} fb units "
            f"({r['torch_fb_per_iter']:.2f} fb/iter over {r['torch_iters']} iters), "
            f"cost ratio {r['torch_cost_ratio']:.3f}",
            flush=True,
        )
    h = harness(args.iters_fcp, ds.x_train, ds.y_train, args.reps)
    print("fcp harness, engine over module forward, time per loss evaluation: "
          + ", ".join(f"{n} {v:.3f}" for n, v in h.items()), flush=True)
    vs = results["fcp"]["gss_s_per_iter"] / results["fcp"]["torch_s_per_iter"]
    print(f"fcp_cost_ratio={results['fcp']['gss_cost_ratio']:.3f} "
          f"lenet_cost_ratio={results['lenet']['gss_cost_ratio']:.3f} fcp_vs_torch_lbfgs={vs:.3f} "
          f"harness_gss={h['L-BFGS-GSS']:.3f} harness_lbfgs={h['L-BFGS']:.3f} harness_bgd={h['BGD']:.3f} "
          f"harness_adam={h['Adam']:.3f}")


if __name__ == "__main__":
    main()
