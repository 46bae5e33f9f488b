"""Alignment speed: seconds to align 48 weight vectors of each study network to a reference.

For each architecture, 48 vectors (independent initialisations, seeds 1-48, each
perturbed so no layer's scale dominates) are aligned to a 49th (seed 0) by
:func:`lls_core.symmetry.align` (weight matching, one linear assignment per group
per pass, until a pass changes nothing). For the LSTM the authors' 48 published
L-BFGS-GSS solutions are used instead when the file is present
(:func:`lls_core.symmetry.authors_lstm_path`), aligned to their mean.

Baseline, measured in the same run: one forward pass of the same 48 networks on
1,000 embedded MNIST images with the hand-batched forwards of
:mod:`lls_core.batched`. ``ratio_<arch>`` = align time / forward time.

Run: ``PYTHONPATH=. python benchmarks/bench_symmetry.py``. The last line is
``align_s_fcp=<s> align_s_lenet=<s> align_s_ae=<s> align_s_lstm=<s> ratio_fcp=<x> ...``.
"""

from __future__ import annotations

import os
import time

import torch

from lls_core import batched, data, models, params, symmetry

SHORT = {"fcp": "fcp", "lenet": "lenet", "autoencoder": "ae", "lstm": "lstm"}


def _vectors(arch: str, k: int) -> tuple[torch.Tensor, torch.Tensor, str]:
    if arch == "lstm" and symmetry.authors_lstm_path() is not None:
        w = symmetry.authors_lstm_weights()[:k]
        return w.double().mean(0).float(), w, "authors' published solutions"
    w = torch.stack([params.flatten(models.build(arch, seed=s)) for s in range(k + 1)])
    w = w + 0.05 * torch.randn(w.shape, generator=torch.Generator().manual_seed(0))
    return w[0], w[1:], "initialisations"


def main() -> None:
    torch.set_num_threads(1)
    ds = data.load("mnist-5k")
    x, k = ds.x_train[:1000], 48
    print(f"{os.cpu_count()} CPUs, torch threads {torch.get_num_threads()}; {k} vectors per network", flush=True)
    out, ratios = {}, {}
    for arch in models.ARCHITECTURES:
        ref, w, what = _vectors(arch, k)
        symmetry.group_sizes(arch)  # layout check (builds the model once): set-up, not work
        m = models.build(arch)
        with torch.no_grad():
            batched.outputs(m, w[:2], x[:10])  # warm-up
            t = time.perf_counter()
            batched.outputs(m, w, x)
            fwd = time.perf_counter() - t
        t = time.perf_counter()
        res = symmetry.align(arch, ref, w)
        sec = time.perf_counter() - t
        shrink = float((res.distance_after / res.distance_before).mean())
        print(f"{arch:11s}: align {sec:6.2f} s ({what}; mean passes {res.iterations.mean():.1f}, "
              f"distance after/before {shrink:.3f}); forward of {k} nets on 1000 images {fwd:.3f} s", flush=True)
        out[arch], ratios[arch] = sec, sec / fwd
    print(" ".join(f"align_s_{SHORT[a]}={out[a]:.3g}" for a in models.ARCHITECTURES) + " "
          + " ".join(f"ratio_{SHORT[a]}={ratios[a]:.3g}" for a in models.ARCHITECTURES))


if __name__ == "__main__":
    main()
