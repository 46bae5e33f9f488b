"""Speed of a 51 x 51 filter-normalized 2-D loss slice of LeNet on the embedded MNIST digits.

Measured in the same run, with the same torch threads, all without gradients:

- batched: :func:`lls_core.visualize.slice_2d` on the loss from
  :func:`lls_core.hessian.flat_loss`. For the study networks that is the
  hand-batched forward of :mod:`lls_core.batched` through one
  :class:`lls_core.engine.Engine` (``Engine.affine_losses`` on the grid, the affine
  family ``[1, a, b] @ [w; u; v]``), on chunks of points and images sized by
  ``engine.TRIAL_CALL_MB``.
- loop: the point-by-point baseline, one ``functional_call`` of the module per
  grid point (``visualize.losses_at(..., batched=False)``).
- vmap (context only): ``torch.func.vmap`` over ``functional_call`` on chunks of
  ``--vmap-chunk`` points, the generic route other modules take.

The loop and vmap are timed on a subset of the grid (``--loop-points``, spread
over the grid) and extrapolated to all points; ``--loop-points 0`` times every
point. Each timing is the minimum over ``--reps`` interleaved repetitions (the
machine is shared; the minimum is the least disturbed run). All three must agree
on the shared points.

First, for context, the same comparison for a small fully connected demo net
(the chapter's 2-layer MLP, which has no hand-batched forward: vmap against the loop).

Last line (LeNet): ``slice_speedup=<loop_s / batched_s> slice_s=<batched seconds>``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from lls_core import data, hessian, models, params, visualize


def _timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def compare(f, w, u, v, grid, chunk: int | None, loop_points: int, reps: int, vmap_chunk: int | None = None):
    """Seconds for the batched slice, the loop and (optionally) vmap, the latter two
    extrapolated from ``loop_points`` grid points, and a line saying how they were timed."""
    total = len(grid) ** 2
    warm = torch.stack([w, w + u])  # first calls pay one-off costs (vmap set-up, allocator, oneDNN); not timed
    visualize.slice_2d(f, w, u, v, grid[:2], chunk_size=chunk)
    visualize.losses_at(f, warm, batched=False)
    if vmap_chunk:
        visualize.losses_at(f, warm, chunk_size=2, batched="vmap")
    A, B = np.meshgrid(grid, grid)
    idx = np.arange(total) if loop_points <= 0 else np.linspace(0, total - 1, min(loop_points, total)).astype(int)
    ca = torch.from_numpy(A.reshape(-1)[idx]).to(w.dtype)[:, None]
    cb = torch.from_numpy(B.reshape(-1)[idx]).to(w.dtype)[:, None]
    W = w + ca * u + cb * v
    t_b, t_l, t_v = [], [], []
    for _ in range(reps):
        dt, s = _timed(lambda: visualize.slice_2d(f, w, u, v, grid, chunk_size=chunk))
        t_b.append(dt)
        dt, loop_vals = _timed(lambda: visualize.losses_at(f, W, batched=False).numpy())
        t_l.append(dt)
        if vmap_chunk:
            dt, vmap_vals = _timed(lambda: visualize.losses_at(f, W, chunk_size=vmap_chunk, batched="vmap").numpy())
            t_v.append(dt)
    scale = total / len(idx)
    batched_s, loop_s = min(t_b), min(t_l) * scale
    how = "measured on every point" if len(idx) == total else f"extrapolated from {len(idx)} points"
    err = float(np.max(np.abs(loop_vals - s.loss.reshape(-1)[idx])))
    if not err < 1e-4:
        raise SystemExit(f"batched and loop slices disagree by {err}")
    line = f"{how}; max |batched - loop| = {err:.1e}"
    vmap_s = None
    if vmap_chunk:
        vmap_s = min(t_v) * scale
        verr = float(np.max(np.abs(loop_vals - vmap_vals)))
        if not verr < 1e-4:
            raise SystemExit(f"vmap and loop disagree by {verr}")
        line += f", |vmap - loop| = {verr:.1e}"
    return batched_s, loop_s, vmap_s, line


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=51, help="grid points per axis")
    ap.add_argument("--n-images", type=int, default=256, help="training images the loss averages over")
    ap.add_argument("--chunk", type=int, default=0, help="grid points per batched call (0 = sized by engine.TRIAL_CALL_MB)")
    ap.add_argument("--vmap-chunk", type=int, default=8, help="grid points per vmap call (0 = skip vmap)")
    ap.add_argument("--loop-points", type=int, default=260, help="points timed in the loop and vmap (0 = all)")
    ap.add_argument("--reps", type=int, default=2, help="repetitions; the minimum is reported")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (0 = leave as is); 1 is stable on shared cores")
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    chunk = a.chunk or None
    ds = data.load("mnist-5k")
    x, y = ds.x_train[: a.n_images], ds.y_train[: a.n_images]
    grid = np.linspace(-1.0, 1.0, a.n)
    total = a.n * a.n

    mlp = models.build_demo("mlp", depth=2, width=32, seed=0).eval()
    w = params.flatten(mlp)
    f = hessian.flat_loss(mlp, x, y)
    u, v = (visualize.random_direction(mlp, w, seed=s) for s in (1, 2))
    b, lp, _, how = compare(f, w, u, v, grid, 64, 0, 1)
    print(f"demo MLP d={w.numel()}, {a.n}x{a.n} points, {a.n_images} images, vmap chunk 64: "
          f"batched {b:.2f} s, loop {lp:.2f} s ({how}); mlp_speedup={lp / b:.2f}", flush=True)

    model = models.build("lenet", seed=0).eval()
    w = params.flatten(model)
    f = hessian.flat_loss(model, x, y)
    u, v = (visualize.random_direction(model, w, seed=s) for s in (1, 2))
    print(f"LeNet d={w.numel()}, {a.n}x{a.n}={total} points, loss over {a.n_images} images, "
          f"torch threads={torch.get_num_threads()}, batched calls of {chunk or 'engine.TRIAL_CALL_MB-sized'} points, "
          f"reps={a.reps}", flush=True)
    batched_s, loop_s, vmap_s, how = compare(f, w, u, v, grid, chunk, a.loop_points, a.reps, a.vmap_chunk)
    print(f"batched: {batched_s:.2f} s ({1e3 * batched_s / total:.2f} ms/point)")
    print(f"loop: {loop_s:.2f} s ({1e3 * loop_s / total:.2f} ms/point), {how}")
    if vmap_s is not None:
        print(f"vmap (chunks of {a.vmap_chunk}): {vmap_s:.2f} s ({1e3 * vmap_s / total:.2f} ms/point); "
              f"vmap_speedup={loop_s / vmap_s:.3f}")
    print(f"slice_speedup={loop_s / batched_s:.3f} slice_s={batched_s:.2f}")


if __name__ == "__main__":
    main()
