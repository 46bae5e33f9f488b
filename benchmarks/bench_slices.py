"""Speed of a 51 x 51 filter-normalized 2-D loss slice of LeNet on the embedded MNIST digits.

Both ways in the same run: batched (``torch.func.vmap`` over chunks of grid
points) against the point-by-point loop (one ``functional_call`` per point). The
loop is timed on a subset of the grid (``--loop-points``, spread over the grid)
and extrapolated to all points (printed); pass ``--loop-points 0`` to loop over
the whole grid. The two must agree on the shared points.

First, for context, the same comparison for a small fully connected net (the
chapter's 2-layer demo MLP), where per-point overhead matters more than arithmetic.

Last line (LeNet): ``slice_speedup=<loop_s / batched_s> slice_s=<batched seconds>``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from lls_core import data, hessian, models, params, visualize


def compare(f, w, u, v, grid, chunk: int, loop_points: int) -> tuple[float, float, str]:
    """Seconds for the batched slice and for the loop (extrapolated when a subset), and how the loop was timed."""
    total = len(grid) ** 2
    warm = torch.stack([w, w + u])  # first calls pay one-off costs (vmap set-up, allocator); not timed
    visualize.evaluate(f, warm, chunk_size=2)
    visualize.evaluate(f, warm, batched=False)
    t0 = time.perf_counter()
    s = visualize.slice_2d(f, w, u, v, grid, chunk_size=chunk)
    batched_s = time.perf_counter() - t0
    A, B = np.meshgrid(grid, grid)
    idx = np.arange(total) if loop_points <= 0 else np.linspace(0, total - 1, min(loop_points, total)).astype(int)
    ca = torch.from_numpy(A.reshape(-1)[idx]).to(w.dtype)[:, None]
    cb = torch.from_numpy(B.reshape(-1)[idx]).to(w.dtype)[:, None]
    t0 = time.perf_counter()
    loop_vals = visualize.evaluate(f, w + ca * u + cb * v, batched=False).numpy()
    loop_sub = time.perf_counter() - t0
    loop_s = loop_sub * total / len(idx)
    how = "measured on every point" if len(idx) == total else f"extrapolated from {len(idx)} points ({loop_sub:.2f} s)"
    err = float(np.max(np.abs(loop_vals - s.loss.reshape(-1)[idx])))
    if not err < 1e-4:
        raise SystemExit(f"batched and loop slices disagree by {err}")
    return batched_s, loop_s, f"{how}; max |batched - loop| = {err:.1e}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=51, help="grid points per axis")
    ap.add_argument("--n-images", type=int, default=256, help="training images the loss averages over")
    ap.add_argument("--chunk", type=int, default=8, help="grid points per vmap call")
    ap.add_argument("--loop-points", type=int, default=260, help="points timed in the loop (0 = all)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (0 = leave as is); 1 is stable on shared cores")
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    ds = data.load("mnist-5k")
    x, y = ds.x_train[: a.n_images], ds.y_train[: a.n_images]
    grid = np.linspace(-1.0, 1.0, a.n)
    total = a.n * a.n

    mlp = models.build_demo("mlp", depth=2, width=32, seed=0).eval()
    w = params.flatten(mlp)
    f = hessian.flat_loss(mlp, x, y)
    u, v = (visualize.random_direction(mlp, w, seed=s) for s in (1, 2))
    b, lp, how = compare(f, w, u, v, grid, 64, 0)
    print(f"demo MLP d={w.numel()}, {a.n}x{a.n} points, {a.n_images} images, chunk 64: "
          f"batched {b:.2f} s, loop {lp:.2f} s ({how}); mlp_speedup={lp / b:.2f}")

    model = models.build("lenet", seed=0).eval()
    w = params.flatten(model)
    f = hessian.flat_loss(model, x, y)
    u, v = (visualize.random_direction(model, w, seed=s) for s in (1, 2))
    print(f"LeNet d={w.numel()}, {a.n}x{a.n}={total} points, loss over {a.n_images} images, "
          f"torch threads={torch.get_num_threads()}, chunk={a.chunk}")
    batched_s, loop_s, how = compare(f, w, u, v, grid, a.chunk, a.loop_points)
    print(f"batched: {batched_s:.2f} s ({1e3 * batched_s / total:.2f} ms/point)")
    print(f"loop: {loop_s:.2f} s ({1e3 * loop_s / total:.2f} ms/point), {how}")
    print(f"slice_speedup={loop_s / batched_s:.3f} slice_s={batched_s:.2f}")


if __name__ == "__main__":
    main()
