"""The LLS survey's optimizer benchmark (Figures 8, 9 and Table 4), with its figures defined.

The survey runs ten optimizers from 1000 starting points on each of its four Use Cases
and summarises "a per-run figure" in Table 4 without defining it. This module fixes
every choice the survey leaves open, as parameters with stated defaults:

* **start region**: uniform in a square (default ``[-2, 2]^2``, the surfaces' plotting
  domain), or on its diagonal ``x = y`` (:func:`starts`);
* **learning rates**: Ruder's (2016) defaults unless overridden per optimizer;
* **gradient oracle**: exact for every optimizer except SGD, which gets additive
  Gaussian noise of scale ``sgd_sigma`` (with ``sgd_sigma = 0`` SGD *is* BGD);
* **per-run figures** (:func:`per_run_figures`), each an ``(S, N)`` array:

  ``loss_change_pct``  ``100 (f(x_T) - f(x_0)) / |f(x_0)|``: percent change of the loss
                       from start to end (NaN where ``f(x_0) = 0``);
  ``gap_closed_pct``   ``100 (f(x_T) - f(x_0)) / (f(x_0) - f^*)`` with ``f^*`` the global
                       minimum: -100 means the global minimum was reached; on a surface
                       unbounded below (``f^* = -inf``) it is 0 for every finite run;
  ``distance``         distance from ``x_T`` to the nearest known minimum (NaN if none);
  ``iterations``       updates until convergence (NaN if the run did not converge);
  ``success``          1 if the run did not diverge and ended within ``success_radius``
                       of a global minimum, else 0.

Diverged runs keep their status and are left out of the statistics of a figure
(:func:`table4` reports how many); they are never replaced by zeros.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from lls_core import optimizers as opt
from lls_core import stats, surfaces

__all__ = [
    "SURVEY_SURFACES",
    "ROMAN",
    "FIGURES",
    "starts",
    "run_benchmark",
    "per_run_figures",
    "table4",
    "published_table4",
    "lr_sweep",
    "table3_status",
]

SURVEY_SURFACES: tuple[str, ...] = ("case1", "case2", "case3", "case4")
ROMAN: Mapping[str, str] = {"case1": "I", "case2": "II", "case3": "III", "case4": "IV"}
FIGURES: tuple[str, ...] = ("loss_change_pct", "gap_closed_pct", "distance", "iterations", "success")
_DATA = Path(__file__).resolve().parent.parent / "data"


def starts(n: int, region: tuple[tuple[float, float], tuple[float, float]] = ((-2.0, 2.0), (-2.0, 2.0)),
           kind: str = "uniform", seed: int = 0) -> Tensor:
    """``n`` starting points ``(n, 2)`` (float64) in ``region = ((xmin, xmax), (ymin, ymax))``.

    ``kind="uniform"``: independent uniform coordinates; ``kind="diagonal"``: ``x = y``
    uniform in the x-range (the region must then be square); ``kind="grid"``: a
    ``ceil(sqrt(n))``-square grid, first ``n`` points. Deterministic given ``seed``.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n={n!r} must be an integer >= 1")
    try:
        (x0, x1), (y0, y1) = region
    except (TypeError, ValueError):
        raise ValueError(f"region must be ((xmin, xmax), (ymin, ymax)); got {region!r}") from None
    if not (x0 < x1 and y0 < y1):
        raise ValueError(f"region bounds must increase; got {region!r}")
    gen = torch.Generator().manual_seed(seed)
    if kind == "uniform":
        u = torch.rand(n, 2, generator=gen, dtype=torch.float64)
        return torch.stack([x0 + (x1 - x0) * u[:, 0], y0 + (y1 - y0) * u[:, 1]], 1)
    if kind == "diagonal":
        if (x0, x1) != (y0, y1):
            raise ValueError(f"kind='diagonal' needs a square region; got {region!r}")
        u = x0 + (x1 - x0) * torch.rand(n, generator=gen, dtype=torch.float64)
        return torch.stack([u, u], 1)
    if kind == "grid":
        k = math.ceil(math.sqrt(n))
        gx, gy = torch.meshgrid(torch.linspace(x0, x1, k, dtype=torch.float64),
                                torch.linspace(y0, y1, k, dtype=torch.float64), indexing="xy")
        return torch.stack([gx.reshape(-1), gy.reshape(-1)], 1)[:n]
    raise ValueError(f"kind={kind!r} is not one of 'uniform', 'diagonal', 'grid'")


def run_benchmark(
    optimizers: Sequence[str] = opt.SURVEY_TEN,
    surface_names: Sequence[str] = SURVEY_SURFACES,
    start_points: Tensor | None = None,
    *,
    lrs: Mapping[str, float] | None = None,
    sgd_sigma: float = 1.0,
    max_iter: int = 1000,
    grad_tol: float = 1e-6,
    bound: float = 1e3,
    record_every: int | None = None,
    seed: int = 0,
) -> dict[str, opt.RunResult]:
    """All ``optimizers`` x ``surface_names`` x starts in one :func:`optimizers.run_many` call.

    ``lrs`` overrides the learning rate per optimizer (AdaDelta has none and rejects one);
    ``start_points`` defaults to ``starts(1000)``.
    """
    if start_points is None:
        start_points = starts(1000, seed=seed)
    surfs = [surfaces.get(n) for n in surface_names]
    hypers = {name: {"lr": float(v)} for name, v in (lrs or {}).items()}
    oracles: dict[str, opt.GradientOracle] = {}
    if "SGD" in [opt.get(o).name for o in optimizers]:
        oracles["SGD"] = opt.GaussianNoiseOracle(sgd_sigma)
    return opt.run_many(list(optimizers), surfs, start_points, hypers=hypers, oracles=oracles,
                        max_iter=max_iter, grad_tol=grad_tol, bound=bound,
                        record_every=record_every, seed=seed)


def per_run_figures(result: opt.RunResult, surface_names: Sequence[str] | None = None,
                    success_radius: float = 1e-2) -> dict[str, np.ndarray]:
    """The per-run figures of the module docstring, each an ``(S, N)`` float array.

    ``surface_names`` default to ``result.surfaces`` (they must be registered surfaces,
    whose known minima and global minimum are used).
    """
    names_ = list(surface_names or result.surfaces)
    if len(names_) != result.final_loss.shape[0]:
        raise ValueError(f"{len(names_)} surface names for {result.final_loss.shape[0]} surfaces in the result")
    f0 = result.initial_loss.numpy()
    fT = result.final_loss.numpy()
    xT = result.final_x.numpy()
    status = result.status.numpy()
    div = status == opt.DIVERGED
    out = {k: np.full(f0.shape, np.nan) for k in FIGURES}
    with np.errstate(divide="ignore", invalid="ignore"):
        out["loss_change_pct"] = np.where(f0 != 0, 100 * (fT - f0) / np.abs(f0), np.nan)
        for s, name in enumerate(names_):
            surf = surfaces.get(name)
            if surf.minima:
                mins = np.asarray(surf.minima)
                d = np.linalg.norm(xT[s][:, None, :] - mins[None], axis=-1)
                out["distance"][s] = d.min(1)
                gmins = np.asarray(surf.global_minima)
                dg = np.linalg.norm(xT[s][:, None, :] - gmins[None], axis=-1).min(1)
                fstar = min(surf.value(*m) for m in surf.global_minima)
                out["gap_closed_pct"][s] = 100 * (fT[s] - f0[s]) / (f0[s] - fstar)
                out["success"][s] = ((dg <= success_radius) & ~div[s]).astype(float)
            else:
                out["success"][s] = 0.0
                if not surf.bounded_below:  # f* = -inf: the closed fraction of an infinite gap
                    out["gap_closed_pct"][s] = np.where(np.isfinite(fT[s]), 0.0, np.nan)
    out["iterations"] = np.where(status == opt.CONVERGED, result.iterations.numpy().astype(float), np.nan)
    for k in ("loss_change_pct", "gap_closed_pct", "distance"):
        out[k] = np.where(div, np.nan, out[k])
    return out


def table4(results: Mapping[str, opt.RunResult], figure: str = "loss_change_pct",
           success_radius: float = 1e-2) -> pd.DataFrame:
    """Table 4 of the book: one row per optimizer x surface, the :mod:`stats` columns of ``figure``.

    Extra columns: ``n`` (runs in the statistics: not diverged, figure defined),
    ``diverged_pct``, ``success_pct`` and ``converged_pct``.
    """
    if figure not in FIGURES:
        raise ValueError(f"figure={figure!r} is not one of {', '.join(FIGURES)}")
    rows = []
    for name, res in results.items():
        figs = per_run_figures(res, success_radius=success_radius)
        for s, surf in enumerate(res.surfaces):
            v = figs[figure][s]
            summ = stats.describe(v[np.isfinite(v)])
            rows.append({
                "algorithm": name,
                "surface": ROMAN.get(surf, surf),
                **summ.as_dict(),
                "diverged_pct": 100 * float((res.status[s] == opt.DIVERGED).double().mean()),
                "converged_pct": 100 * float((res.status[s] == opt.CONVERGED).double().mean()),
                "success_pct": 100 * float(np.mean(figs["success"][s])),
            })
    return pd.DataFrame(rows)


def published_table4(path: str | Path | None = None) -> pd.DataFrame:
    """The survey's printed Table 4 (``data/published/survey_table4.csv``), 40 rows."""
    p = Path(path) if path is not None else _DATA / "published" / "survey_table4.csv"
    df = pd.read_csv(p, comment="#")
    expected = ["id", "algorithm", "surface", *stats.TABLE4_COLUMNS]
    if list(df.columns) != expected:
        raise ValueError(f"{p}: columns {list(df.columns)}, expected {expected}")
    return df


def lr_sweep(optimizers: Sequence[str], lrs: Sequence[float], surface_names: Sequence[str] = SURVEY_SURFACES,
             start_points: Tensor | None = None, *, max_iter: int = 1000, success_radius: float = 1e-2,
             sgd_sigma: float = 1.0, seed: int = 0) -> pd.DataFrame:
    """Success rate and median final distance per optimizer, learning rate and surface.

    AdaDelta has no learning rate; its single default run is repeated for every ``lr``
    (column ``tuned=False``). Returns a long DataFrame: algorithm, lr, surface,
    success_pct, diverged_pct, median_distance, median_loss_change_pct.
    """
    if not lrs or any(not (lr > 0) for lr in lrs):
        raise ValueError(f"lrs={list(lrs)!r} must be a non-empty list of positive numbers")
    rows = []
    for lr in lrs:
        tunable = [o for o in optimizers if "lr" in opt.get(o).defaults]
        others = [o for o in optimizers if o not in tunable]
        res = run_benchmark(tunable + others, surface_names, start_points, lrs={o: lr for o in tunable},
                            sgd_sigma=sgd_sigma, max_iter=max_iter, seed=seed)
        for name, r in res.items():
            figs = per_run_figures(r, success_radius=success_radius)
            for s, surf in enumerate(r.surfaces):
                dist = figs["distance"][s]
                lc = figs["loss_change_pct"][s]
                rows.append({
                    "algorithm": name, "lr": float(lr), "tuned": name in tunable,
                    "surface": ROMAN.get(surf, surf),
                    "success_pct": 100 * float(np.mean(figs["success"][s])),
                    "diverged_pct": 100 * float((r.status[s] == opt.DIVERGED).double().mean()),
                    "median_distance": float(np.nanmedian(dist)) if np.isfinite(dist).any() else math.nan,
                    "median_loss_change_pct": float(np.nanmedian(lc)) if np.isfinite(lc).any() else math.nan,
                })
    return pd.DataFrame(rows)


def table3_status(path: str | Path | None = None) -> pd.DataFrame:
    """The book's status for each row of the survey's Table 3 (``data/survey/table3_book_status.csv``).

    Columns: index (the survey's row index, the join key), algorithm, runs_in_book
    (``yes``/``no``), where (registry entry and chapter), reason_if_not.
    """
    p = Path(path) if path is not None else _DATA / "survey" / "table3_book_status.csv"
    df = pd.read_csv(p, comment="#")
    expected = ["index", "algorithm", "runs_in_book", "where", "reason_if_not"]
    if list(df.columns) != expected:
        raise ValueError(f"{p}: columns {list(df.columns)}, expected {expected}")
    bad = set(df.runs_in_book) - {"yes", "no"}
    if bad:
        raise ValueError(f"{p}: runs_in_book must be 'yes' or 'no', found {sorted(bad)}")
    return df
