"""Speed of the survey's Table 4 benchmark: the vectorized runner against a per-start loop.

Full Table 4 scale: 10 optimizers x 4 Use Cases x 1000 starts x up to 1000 iterations,
run by ``lls_core.benchmark.run_benchmark`` as one tensor (target: under 10 s on two
cores). Baseline, measured in the same process: the same update code
(``lls_core.optimizers.run``) called once per start and surface, on a subset of
``--loop-starts`` starts per optimizer and surface, its mean time per run extrapolated
to all 40,000 runs. For the deterministic optimizers the script also checks that the
loop reproduces the vectorized final points.

    python benchmarks/bench_optimizers.py [--starts 1000] [--iters 1000] [--loop-starts 1] [--threads 1]

Last line: ``table4_seconds=<s> loop_ratio=<x>``.
"""

from __future__ import annotations

import argparse
import os
import time

import torch

from lls_core import benchmark, optimizers as opt, surfaces


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--starts", type=int, default=1000)
    ap.add_argument("--iters", type=int, default=1000)
    ap.add_argument("--loop-starts", type=int, default=1, help="starts per optimizer and surface in the loop baseline")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch intra-op threads (1 is fastest for these small tensors; more threads contend on a busy machine)")
    a = ap.parse_args()
    if a.starts < 1 or a.iters < 1 or not (1 <= a.loop_starts <= a.starts) or a.threads < 1:
        ap.error("--starts, --iters, --threads must be >= 1 and 1 <= --loop-starts <= --starts")
    torch.set_num_threads(a.threads)

    names = opt.SURVEY_TEN
    surfs = benchmark.SURVEY_SURFACES
    x0 = benchmark.starts(a.starts, seed=0)
    benchmark.run_benchmark(names, surfs, x0[:4], max_iter=5)  # warm-up: lazy imports, allocator

    t0, c0 = time.perf_counter(), time.process_time()
    res = benchmark.run_benchmark(names, surfs, x0, max_iter=a.iters)
    vec, cpu = time.perf_counter() - t0, time.process_time() - c0
    runs = len(names) * len(surfs) * a.starts
    print(f"vectorized: {len(names)} optimizers x {len(surfs)} surfaces x {a.starts} starts x <= {a.iters} "
          f"iterations = {runs} runs in {vec:.2f} s wall, {cpu:.2f} s CPU ({torch.get_num_threads()} threads; "
          f"load average {os.getloadavg()[0]:.1f})")

    loop_runs, loop_time, worst = 0, 0.0, 0.0
    for name in names:
        oracle = opt.GaussianNoiseOracle(1.0) if name == "SGD" else None
        for k, sname in enumerate(surfs):
            s = surfaces.get(sname)
            for i in range(a.loop_starts):
                t0 = time.perf_counter()
                r = opt.run(name, s, x0[i : i + 1], max_iter=a.iters, oracle=oracle)
                loop_time += time.perf_counter() - t0
                loop_runs += 1
                if name != "SGD":  # deterministic: the loop must reproduce the batch
                    ref = res[name].final_x[k, i]
                    fin = torch.isfinite(ref).all() and torch.isfinite(r.final_x[0, 0]).all()
                    if fin:
                        worst = max(worst, float((r.final_x[0, 0] - ref).abs().max()))
    per_run = loop_time / loop_runs
    loop_total = per_run * runs
    ratio = loop_total / vec
    print(f"per-start loop: {loop_runs} runs in {loop_time:.2f} s, {1e3 * per_run:.1f} ms per run, "
          f"extrapolated to {runs} runs: {loop_total:.0f} s")
    print(f"largest |loop - vectorized| over deterministic final points: {worst:.2e}")
    print(f"table4_seconds={vec:.2f} loop_ratio={ratio:.0f}")


if __name__ == "__main__":
    main()
