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

``--json PATH`` also writes the figures as a record (:func:`record`) that the reproducibility
appendix reads from ``data/results/device/bench_gpu.json`` (:func:`lls_core.results.load_device_bench`);
``--from-log LOG --json PATH`` makes that record from a run's printed output (the lines below), for
a run whose output came back but not its files.

Run: ``PYTHONPATH=. python benchmarks/bench_gpu.py --device cuda``; a CPU check:
``PYTHONPATH=. python benchmarks/bench_gpu.py --device cpu --runs 4 --alone 1 --iters 2 --epochs 1 --pairs 2
--path-steps 2 --nets fcp``. The last line is ``device=<name> gss_speedup_fcp=<x> sgd_speedup_fcp=<x>
full_hours_fcp=<h> ... pairs_speedup=<x>``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import platform
import re
import sys
import time
from pathlib import Path

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


_ROW = re.compile(r"^(?P<arch>\w+) (?P<optimizer>lbfgs_gss|sgd): (?P<batched>[\d.]+) ms per run and (?P<step>\w+) batched "
                  r"\((?P<runs>\d+) runs\), (?P<alone>[\d.na]+) ms alone; the full profile's (?P<n>\d+) runs x (?P<steps>\d+)")
_PATHS = re.compile(r"^paths: (?P<pairs>\d+) FCP pairs, (?P<points>\d+) points, (?P<psteps>\d+) steps: (?P<many>[\d.]+) s together, "
                    r"(?P<one>[\d.na]+) s one at a time")


def record(lines: list[str], **meta: object) -> dict:
    """The run's figures as a plain record, parsed from its printed ``lines`` (so a record made from a
    log and one written at the end of a run are the same): one row per network and optimizer (ms per
    run and step, batched and alone, their ratio, and the hours of the ``full`` profile's runs at the
    batched rate), the paths' seconds, the last line, and ``meta`` (command, commit, device, ...)."""
    rows, paths = [], None
    for line in lines:
        if m := _ROW.match(line):
            b, a = float(m["batched"]), float(m["alone"])
            rows.append({"arch": m["arch"], "optimizer": m["optimizer"], "step": m["step"], "runs_batched": int(m["runs"]),
                         "batched_ms": b, "alone_ms": a, "speedup": a / b,
                         "full_runs": int(m["n"]), "full_steps": int(m["steps"]),
                         "full_hours": b * 1e-3 * int(m["n"]) * int(m["steps"]) / 3600})
        elif m := _PATHS.match(line):
            paths = {"pairs": int(m["pairs"]), "points": int(m["points"]), "steps": int(m["psteps"]),
                     "together_s": float(m["many"]), "alone_s": float(m["one"]),
                     "speedup": float(m["one"]) / float(m["many"])}
    last = next((ln for ln in reversed(lines) if ln.startswith("device=")), "")
    return {**meta, "rows": rows, "paths": paths, "last_line": last, "log": lines}


def _write(path: str, rec: dict) -> None:
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(rec, indent=1) + "\n")
    tmp.replace(out)


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
    ap.add_argument("--json", default=None, help="also write the figures as a JSON record to this path")
    ap.add_argument("--from-log", default=None, help="make the --json record from this printed output; run nothing")
    ap.add_argument("--meta", nargs="*", default=[], metavar="KEY=VALUE", help="fields added to the record (with --from-log: "
                    "command, git_commit, device, torch, utc of the run)")
    a = ap.parse_args()
    meta = dict(kv.split("=", 1) for kv in a.meta)
    if a.from_log:
        if not a.json:
            ap.error("--from-log needs --json PATH")
        rec = record(Path(a.from_log).read_text().splitlines(), **meta)
        if not rec["rows"]:
            ap.error(f"--from-log {a.from_log}: no figure lines in it")
        _write(a.json, rec)
        print(rec["last_line"])
        return
    printed: list[str] = []

    def say(line: str) -> None:  # every printed line also goes into the record
        printed.append(line)
        print(line, flush=True)

    if a.device == "cpu":
        torch.set_num_threads(1)
    t_start = time.perf_counter()
    prof = study.get_profile("full")
    ds = study.dataset(prof)
    name = torch.cuda.get_device_name(0) if a.device.startswith("cuda") else "cpu"
    say(f"device {name}; data {ds.n_train} training / {ds.n_test} test images; budget {a.budget_s:.0f} s")
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
            say(f"{net} {opt}: {1e3 * tb:.2f} ms per run and {what[:-1]} batched ({a.runs} runs), "
                  f"{1e3 * ta:.2f} ms alone; the full profile's {n_full} runs x {full_steps} {what}: "
                  f"{rates[opt] / 3600:.2f} h batched")
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
        say(f"paths: {a.pairs} FCP pairs, {cfg.n_points} points, {a.path_steps} steps: {many:.2f} s together, "
              f"{one:.2f} s one at a time")
    else:
        figures["pairs_speedup"] = math.nan
    say(f"elapsed {time.perf_counter() - t_start:.0f} s of a {a.budget_s:.0f} s budget")
    say(f"device={name.replace(' ', '_')} " + " ".join(f"{k}={v:.3g}" for k, v in figures.items()))
    if a.json:
        _write(a.json, record(printed, command="python benchmarks/bench_gpu.py " + " ".join(sys.argv[1:]),
                              device=name, torch=torch.__version__, python=platform.python_version(),
                              utc=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **meta))


if __name__ == "__main__":
    main()
