"""A timed sample of the paper-scale work on the device at hand (a GPU when one is lent): batched against alone.

Made for one short session on a lent GPU (the whole script stays under ``--budget-s``, default
420 s, so that it fits an 8-minute slot with its start-up); it runs on a CPU too, with small
settings, to check it before the device time is spent. On the ``full`` profile's data (the
5,000 embedded training digits and the 10,000 official test images), moved to ``--device``:

* for each network, the ``full`` profile's L-BFGS-GSS configuration: ``--runs`` runs trained
  together for ``--iters`` iterations (:func:`lls_core.train.train_ensemble`, every run as it
  would run alone) against ``--alone`` of the same runs trained one at a time, and the ``full``
  SGD configuration for ``--epochs`` epochs the same way. ``gss_speedup_<net>`` and
  ``sgd_speedup_<net>``: seconds per run and iteration (epoch) alone over batched;
* ``full_hours_<net>``: the hours the ``full`` profile's runs of that network (both optimizers,
  their counts of runs, iterations and epochs) take at the batched rates, the extrapolation the
  session note and the reproducibility appendix record;
* ``pairs_speedup``: ``--pairs`` FCP pairs found together against one at a time
  (:func:`lls_core.landscape.pair_paths`, the authors' path settings cut to ``--path-steps``
  Adam steps, on the training landscape).

Each measurement is timed after a warm-up call (CUDA kernels, allocator); a measurement that
would start after the budget is spent is skipped and printed as ``nan``. Timings are wall
seconds with the device synchronised.

Run: ``PYTHONPATH=. python benchmarks/bench_gpu.py --device cuda``; a CPU check:
``PYTHONPATH=. python benchmarks/bench_gpu.py --device cpu --runs 4 --alone 1 --iters 2 --epochs 1 --pairs 2
--path-steps 2 --nets fcp``. The last line is ``device=<name> gss_speedup_fcp=<x> sgd_speedup_fcp=<x>
full_hours_fcp=<h> ... pairs_speedup=<x>``.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import time

import torch

from lls_core import landscape, models, params, study, topography, train

NETS = ("fcp", "autoencoder", "lstm", "lenet")


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _timed(fn, device: str) -> float:  # noqa: ANN001
    _sync(device)
    start = time.perf_counter()
    fn()
    _sync(device)
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--nets", nargs="+", default=list(NETS), choices=NETS)
    ap.add_argument("--runs", type=int, default=75, help="runs trained together (default 75, the paper's count)")
    ap.add_argument("--alone", type=int, default=2, help="of them, trained one at a time (default 2)")
    ap.add_argument("--iters", type=int, default=20, help="L-BFGS-GSS iterations timed (default 20)")
    ap.add_argument("--epochs", type=int, default=1, help="SGD epochs timed (default 1)")
    ap.add_argument("--pairs", type=int, default=24, help="FCP pairs found together (default 24)")
    ap.add_argument("--path-steps", type=int, default=10, help="Adam steps per path (default 10 of the authors' 100)")
    ap.add_argument("--budget-s", type=float, default=420.0)
    a = ap.parse_args()
    if a.device == "cpu":
        torch.set_num_threads(1)
    t_start = time.perf_counter()
    prof = study.get_profile("full")
    ds = study.dataset(prof)
    name = torch.cuda.get_device_name(0) if a.device.startswith("cuda") else "cpu"
    print(f"device {name}; data {ds.n_train} training / {ds.n_test} test images; budget {a.budget_s:.0f} s", flush=True)
    figures: dict[str, float] = {}

    def left() -> bool:
        return time.perf_counter() - t_start < a.budget_s

    for net in a.nets:
        n_full, _ = prof.counts(net)
        rates: dict[str, float] = {}
        for opt, steps, what in (("lbfgs_gss", a.iters, "iterations"), ("sgd", a.epochs, "epochs")):
            cfg = prof.config(opt, net)
            cfg = dataclasses.replace(cfg, **({"iterations": steps} if opt == "lbfgs_gss" else {"epochs": steps}))
            full_steps = prof.config(opt, net).steps
            seeds = list(range(a.runs))
            if not left():
                figures[f"{'gss' if opt == 'lbfgs_gss' else 'sgd'}_speedup_{net}"] = math.nan
                continue

            def together(cfg=cfg, seeds=seeds, net=net) -> None:  # noqa: ANN001
                train.train_ensemble(net, cfg, ds, seeds, device=a.device, activation=prof.activation)

            def alone(cfg=cfg, net=net) -> None:  # noqa: ANN001
                for s in range(a.alone):
                    train.train_ensemble(net, cfg, ds, [s], device=a.device, activation=prof.activation)

            warm = dataclasses.replace(cfg, **({"iterations": 1} if opt == "lbfgs_gss" else {"epochs": 1}))
            train.train_ensemble(net, warm, ds, seeds[:2], device=a.device, activation=prof.activation)
            tb = _timed(together, a.device) / (a.runs * steps)
            ta = _timed(alone, a.device) / (a.alone * steps) if left() else math.nan
            key = "gss" if opt == "lbfgs_gss" else "sgd"
            figures[f"{key}_speedup_{net}"] = ta / tb
            rates[opt] = tb * n_full * full_steps
            print(f"{net} {opt}: {1e3 * tb:.2f} ms per run and {what[:-1]} batched ({a.runs} runs), "
                  f"{1e3 * ta:.2f} ms alone; the full profile's {n_full} runs x {full_steps} {what}: "
                  f"{rates[opt] / 3600:.2f} h batched", flush=True)
        figures[f"full_hours_{net}"] = sum(rates.values()) / 3600 if len(rates) == 2 else math.nan

    if left():
        cfg = dataclasses.replace(topography.AUTHORS_PATHS, steps=a.path_steps, fine_points=0)
        w = torch.stack([params.flatten(models.build("fcp", seed=s)) for s in range(2 * a.pairs)])
        m = models.build("fcp").to(a.device)
        x, y = ds.x_train.to(a.device), ds.y_train.to(a.device)
        wd = w.to(a.device)
        landscape.pair_paths(m, x, y, wd, n_pairs=1, config=dataclasses.replace(cfg, steps=1), pair_batch=1)  # warm-up
        many = _timed(lambda: landscape.pair_paths(m, x, y, wd, n_pairs=a.pairs, config=cfg, pair_batch=a.pairs),
                      a.device)
        one = _timed(lambda: landscape.pair_paths(m, x, y, wd, n_pairs=a.pairs, config=cfg, pair_batch=1),
                     a.device) if left() else math.nan
        figures["pairs_speedup"] = one / many
        print(f"paths: {a.pairs} FCP pairs, {cfg.n_points} points, {a.path_steps} steps: {many:.2f} s together, "
              f"{one:.2f} s one at a time", flush=True)
    else:
        figures["pairs_speedup"] = math.nan
    print(f"elapsed {time.perf_counter() - t_start:.0f} s of a {a.budget_s:.0f} s budget")
    print(f"device={name.replace(' ', '_')} " + " ".join(f"{k}={v:.3g}" for k, v in figures.items()))


if __name__ == "__main__":
    main()
