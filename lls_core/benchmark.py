"""The LLS survey's optimizer benchmark (Figures 8, 9 and Table 4), with its figures defined.

The survey runs ten optimizers from 1000 starting points on each of its four Use Cases
and summarises "a per-run figure" in Table 4 without defining it. This module fixes
every choice the survey leaves open, as parameters with stated defaults:

* **start region**: uniform in a square (default ``[-2, 2]^2``, the surfaces' plotting
  domain), or on its diagonal ``x = y`` (:func:`starts`);
* **learning rates**: the registry's defaults unless overridden per optimizer (where each
  value comes from is in ``optimizers.get(name).provenance``; Ruder (2016) gives one only
  for AdaGrad, RMSprop and Adamax);
* **gradient oracle**: exact for every optimizer except SGD, which gets additive
  Gaussian noise of scale ``sgd_sigma`` (with ``sgd_sigma = 0`` SGD *is* BGD);
* **per-run figures** (:func:`per_run_figures`), each an ``(S, N)`` array::

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
(:func:`table4` reports how many); they are never replaced by zeros. This multi-start
benchmark is the book's own, defined measurement; :func:`survey_claims` re-tests the
survey's verdicts on it with statistics, :func:`tuned_rates` compares the algorithms at their
best learning rates of an :func:`lr_sweep` (with a stated criterion for "reaches the minimum
from nearly every start"), and :func:`extra_algorithms` runs NAG, SPSA, SVRG and SARAH and
tests the variance-reduced methods against SGD. Each returns what the chapter's sentences
say as ``facts()`` (or :func:`claim_facts` for the claims table).

The survey's printed Table 4 is a different computation, which :func:`survey_table4`
reproduces number for number: the spread over the iterates ``t = 0..1000`` of ONE run
from ``(-2, 2)`` per algorithm and surface, of ``100 (f(x_t) - f(x_0)) / |f(x_0)|``, with
learning rate 0.001 for every algorithm that has one, ``peaks`` with middle coefficient 5,
the survey's statistics conventions (``stats.describe(..., "survey")``) and its own
versions of Adamax, Nadam and AdaDelta (``optimizers.SURVEY_VARIANTS``);
:func:`table4_patterns` measures the printed table's patterns on those runs.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from lls_core import optimizers as opt
from lls_core import checks, resources, stats, surfaces

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
    "TunedRates",
    "tuned_rates",
    "ExtraAlgorithms",
    "extra_algorithms",
    "REACH_SHARE",
    "REACH_LEVEL",
    "table3_status",
    "peaks_surface",
    "SurveyRuns",
    "survey_runs",
    "survey_table4",
    "compare_table4",
    "Table4Patterns",
    "table4_patterns",
    "SURVEY_START",
    "start_dependence",
    "survey_claims",
    "CLAIM_KEYS",
    "claim_facts",
    "table4_facts",
]

SURVEY_SURFACES: tuple[str, ...] = ("case1", "case2", "case3", "case4")
ROMAN: Mapping[str, str] = {"case1": "I", "case2": "II", "case3": "III", "case4": "IV"}
FIGURES: tuple[str, ...] = ("loss_change_pct", "gap_closed_pct", "distance", "iterations", "success")


def _surface(name: "str | surfaces.Surface") -> surfaces.Surface:
    if isinstance(name, surfaces.Surface):
        return name
    if isinstance(name, str) and name.startswith("peaks_c"):
        try:
            c = float(name[len("peaks_c"):])
        except ValueError:
            return surfaces.get(name)  # raises with the list of valid names
        return peaks_surface(c)
    return surfaces.get(name)


@lru_cache(maxsize=8)
def peaks_surface(coefficient: float = 5.0) -> surfaces.Surface:
    """``surfaces.peaks(coefficient)`` with its minima, saddles and maxima filled in.

    For ``c = 10`` the registered ``case4``; otherwise the critical points come from
    :func:`lls_core.surfaces.find_critical_points` on ``[-3, 3]^2`` (cached per coefficient). The
    survey's Use Case IV prints ``c = 5``.
    """
    c = float(coefficient)
    surf = surfaces.peaks(c)
    if c == surfaces.PEAKS_COEFFICIENT:
        return surfaces.get("case4")
    cp = surfaces.find_critical_points(surf)
    return surf.with_(minima=tuple((p.x, p.y) for p in cp.minima), saddles=tuple((p.x, p.y) for p in cp.saddles),
                      maxima=tuple((p.x, p.y) for p in cp.maxima), notes="critical points by find_critical_points")


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
) -> dict[str, opt.SurfaceRun]:
    """All ``optimizers`` x ``surface_names`` x starts in one :func:`lls_core.optimizers.run_many` call.

    ``lrs`` overrides the learning rate per optimizer (AdaDelta has none and rejects one);
    ``start_points`` defaults to ``starts(1000)``.
    """
    if start_points is None:
        start_points = starts(1000, seed=seed)
    surfs = [_surface(n) for n in surface_names]
    hypers = {name: {"lr": float(v)} for name, v in (lrs or {}).items()}
    oracles: dict[str, opt.GradientOracle] = {}
    if "SGD" in [opt.get(o).name for o in optimizers]:
        oracles["SGD"] = opt.GaussianNoiseOracle(sgd_sigma)
    return opt.run_many(list(optimizers), surfs, start_points, hypers=hypers, oracles=oracles,
                        max_iter=max_iter, grad_tol=grad_tol, bound=bound,
                        record_every=record_every, seed=seed)


def per_run_figures(result: opt.SurfaceRun, surface_names: Sequence[str] | None = None,
                    success_radius: float = 1e-2) -> dict[str, np.ndarray]:
    """The per-run figures of the module docstring, each an ``(S, N)`` float array.

    ``surface_names`` default to ``result.surfaces`` (registered surface names or
    :class:`lls_core.surfaces.Surface` objects, whose listed minima and global minimum are used;
    ``peaks_c<c>`` names are rebuilt by :func:`peaks_surface`).
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
            surf = _surface(name)
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


def table4(results: Mapping[str, opt.SurfaceRun], figure: str = "loss_change_pct",
           success_radius: float = 1e-2) -> pd.DataFrame:
    """Table 4 of the book: one row per optimizer x surface, the :mod:`lls_core.stats` columns of ``figure``.

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


def published_table4(path: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """The survey's printed Table 4 (shipped ``published/survey_table4.csv``, or ``path``), 40 rows."""
    p = path if path is not None else resources.files("published", "survey_table4.csv")
    df = resources.read_csv(p)
    expected = ["id", "algorithm", "surface", *stats.TABLE4_COLUMNS]
    if list(df.columns) != expected:
        raise ValueError(f"{p}: columns {list(df.columns)}, expected {expected}")
    return df


def lr_sweep(optimizers: Sequence[str], lrs: Sequence[float], surface_names: Sequence[str] = SURVEY_SURFACES,
             start_points: Tensor | None = None, *, max_iter: int = 1000, success_radius: float = 1e-2,
             sgd_sigma: float = 1.0, seed: int = 0) -> pd.DataFrame:
    """Success rate and median final distance per optimizer, learning rate and surface.

    AdaDelta has no learning rate; its single default run is repeated for every ``lr``
    (column ``tuned=False``). Returns a long DataFrame: algorithm, lr, tuned, surface,
    success_pct, successes and n (successful runs of all runs), diverged_pct, median_distance,
    median_loss_change_pct. :func:`tuned_rates` picks each algorithm's best rate from it.
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
                    "successes": int(np.sum(figs["success"][s])), "n": int(figs["success"][s].size),
                    "diverged_pct": 100 * float((r.status[s] == opt.DIVERGED).double().mean()),
                    "median_distance": float(np.nanmedian(dist)) if np.isfinite(dist).any() else math.nan,
                    "median_loss_change_pct": float(np.nanmedian(lc)) if np.isfinite(lc).any() else math.nan,
                })
    return pd.DataFrame(rows)


#: An algorithm *reaches the minimum from (nearly) every start* when the one-sided lower confidence
#: bound (Clopper-Pearson, level :data:`REACH_LEVEL`) of its success probability is at least
#: :data:`REACH_SHARE`: with 95 % confidence, at most one start in twenty fails.
REACH_SHARE: float = 0.95
REACH_LEVEL: float = 0.95


@dataclass(frozen=True, eq=False)
class TunedRates:
    """Each algorithm at its best learning rate of an :func:`lr_sweep`, per surface.

    Attributes:
        table: one row per algorithm and surface: ``algorithm``, ``surface``, ``lr`` (the best
            rate; NaN for an algorithm without one, e.g. AdaDelta), ``success_pct``,
            ``successes``, ``n``, ``median_distance``, ``lower_pct`` (the one-sided ``level``
            Clopper-Pearson lower bound of the success probability, percent) and ``reaches``
            (``lower_pct >= 100 * share``).
        share, level: the criterion (see :data:`REACH_SHARE`).

    The best rate is the one with the highest success rate; ties go to the smaller median
    final distance, then to the smaller rate. Choosing the best of several rates favours
    chance highs a little: the bound is that of the chosen rate, not corrected for the choice.
    """

    table: pd.DataFrame
    share: float
    level: float

    def success(self, algorithm: str, surface: str) -> float:
        """Success rate (percent) of ``algorithm`` on ``surface`` (``"I"``, ``"II"``, ...) at its best rate."""
        row = self.table[(self.table.algorithm == algorithm) & (self.table.surface == surface)]
        if row.empty:
            raise ValueError(f"no row for algorithm={algorithm!r}, surface={surface!r}; valid algorithms: "
                             f"{', '.join(dict.fromkeys(self.table.algorithm))}; surfaces: "
                             f"{', '.join(dict.fromkeys(self.table.surface))}")
        return float(row["success_pct"].iloc[0])

    def reaching(self, surface: str) -> tuple[str, ...]:
        """The algorithms that reach the minimum of ``surface`` from (nearly) every start, in table order."""
        t = self.table[self.table.surface == surface]
        return tuple(t.algorithm[t.reaches])

    def facts(self) -> dict[str, float | int | str]:
        """For the prose, per surface ``S``: ``n_reach_S`` (how many algorithms reach the minimum
        from nearly every start), ``reach_S_names``, ``best_tuned_S`` (the highest success rate,
        percent) and ``best_tuned_S_name``; per algorithm ``a`` (lower case) ``a_tuned_S`` (its
        success rate at its best rate) and ``a_best_lr_S`` (that rate; absent for an algorithm
        without a learning rate); the criterion ``reach_share_pct``, ``reach_level_pct``
        and ``n_algorithms``."""
        out: dict[str, float | int | str] = {"reach_share_pct": 100 * self.share, "reach_level_pct": 100 * self.level,
                                             "n_algorithms": int(self.table.algorithm.nunique())}
        for surf, t in self.table.groupby("surface", sort=False):
            best = float(t.success_pct.max())
            out[f"n_reach_{surf}"] = int(t.reaches.sum())
            out[f"reach_{surf}_names"] = ", ".join(t.algorithm[t.reaches]) or "none"
            out[f"best_tuned_{surf}"] = best
            out[f"best_tuned_{surf}_name"] = ", ".join(t.algorithm[t.success_pct == best])
            for a, v, lr in zip(t.algorithm, t.success_pct, t.lr):
                key = a.lower().replace("-", "_")
                out[f"{key}_tuned_{surf}"] = float(v)
                if np.isfinite(lr):
                    out[f"{key}_best_lr_{surf}"] = float(lr)
        return out


def tuned_rates(sweep: pd.DataFrame, *, surface_labels: Sequence[str] | None = None, share: float = REACH_SHARE,
                level: float = REACH_LEVEL) -> TunedRates:
    """Each algorithm's best learning rate per surface in an :func:`lr_sweep` frame, and whether it
    reaches the minimum from (nearly) every start there.

    ``surface_labels``: the surface labels to keep (default: every surface with a minimum, i.e. where
    some run succeeded or the median distance is defined). ``share``, ``level``: the criterion
    (:data:`REACH_SHARE`, :data:`REACH_LEVEL`). A success rate alone cannot say "every run": 30
    of 30 successes and 1000 of 1000 are both 100 %, but only the second bounds the failure
    rate below 1 %; the lower confidence bound makes the verdict depend on how many starts ran.

    Example:
        >>> sweep = pd.DataFrame({"algorithm": ["A", "A", "B"], "lr": [0.1, 0.2, 0.1], "tuned": [True, True, True],
        ...                       "surface": ["I"] * 3, "success_pct": [50.0, 100.0, 98.0], "successes": [100, 200, 196],
        ...                       "n": [200] * 3, "median_distance": [0.1, 0.0, 0.0]})
        >>> tr = tuned_rates(sweep)
        >>> tr.reaching("I"), tr.facts()["a_tuned_I"]
        (('A', 'B'), 100.0)
    """
    from scipy import stats as sps

    need = ["algorithm", "lr", "tuned", "surface", "success_pct", "successes", "n", "median_distance"]
    missing = [c for c in need if c not in sweep.columns]
    if missing:
        raise ValueError(f"sweep lacks columns {missing}; pass the frame lr_sweep returns")
    if sweep.empty:
        raise ValueError("sweep has no rows")
    if not (0 < share < 1) or not (0 < level < 1):
        raise ValueError(f"share={share!r} and level={level!r} must lie in (0, 1)")
    df = sweep
    if surface_labels is not None:
        unknown = sorted(set(surface_labels) - set(df.surface))
        if unknown:
            raise ValueError(f"surface_labels {unknown} are not in the sweep; valid: {', '.join(dict.fromkeys(df.surface))}")
        df = df[df.surface.isin(list(surface_labels))]
    else:
        has_min = df.groupby("surface", sort=False).median_distance.apply(lambda d: bool(np.isfinite(d).any()))
        df = df[df.surface.isin(has_min.index[has_min])]
    order = {a: i for i, a in enumerate(dict.fromkeys(df.algorithm))}
    ranked = df.assign(_d=df.median_distance.fillna(np.inf)).sort_values(
        ["algorithm", "surface", "success_pct", "_d", "lr"], ascending=[True, True, False, True, True], kind="stable")
    best = ranked.groupby(["algorithm", "surface"], sort=False).head(1).drop(columns="_d")
    s_order = {x: i for i, x in enumerate(dict.fromkeys(df.surface))}
    best = (best.assign(_o=best.algorithm.map(order), _s=best.surface.map(s_order))
            .sort_values(["_o", "_s"], kind="stable").drop(columns=["_o", "_s"]))

    def lower(k: int, n: int) -> float:
        return 100 * float(sps.binomtest(int(k), int(n), alternative="greater").proportion_ci(level, "exact").low)

    table = pd.DataFrame({
        "algorithm": best.algorithm.to_numpy(), "surface": best.surface.to_numpy(),
        "lr": np.where(best.tuned.to_numpy(dtype=bool), best.lr.to_numpy(dtype=float), np.nan),
        "success_pct": best.success_pct.to_numpy(dtype=float), "successes": best.successes.to_numpy(dtype=int),
        "n": best.n.to_numpy(dtype=int), "median_distance": best.median_distance.to_numpy(dtype=float),
        "lower_pct": [lower(k, n) for k, n in zip(best.successes, best.n)],
    })
    table["reaches"] = table.lower_pct >= 100 * share - 1e-9
    return TunedRates(table=table, share=float(share), level=float(level))


@dataclass(frozen=True, eq=False)
class ExtraAlgorithms:
    """NAG, SPSA, SVRG and SARAH of the survey's Table 3, with mini-batch SGD as the baseline.

    Attributes:
        table: one row per algorithm and surface: ``algorithm``, ``gradient`` (what it sees),
            ``surface`` (``"I"``, ...), ``median_distance`` (final distance to the nearest
            minimum; diverged runs left out), ``success_pct``, ``diverged_pct``.
        comparisons: one row per variance-reduced method: ``algorithm``, ``median``,
            ``median_sgd`` (final distances over all surfaces), ``cl`` (P(its distance > SGD's)
            + half the ties; below 0.5 = closer), ``p_closer``, ``p_farther`` (one-sided
            Mann-Whitney), ``p_holm`` (``p_closer``, Holm-adjusted over the methods) and ``verdict``.
        alpha: the level of the verdicts.
    """

    table: pd.DataFrame
    comparisons: pd.DataFrame
    alpha: float

    def facts(self) -> dict[str, float | str]:
        """``<a>_median``, ``<a>_cl`` and ``<a>_verdict`` per variance-reduced method ``a`` (lower
        case), ``sgd_median``, and ``vr_alpha_pct``."""
        out: dict[str, float | str] = {"vr_alpha_pct": 100 * self.alpha}
        for _, r in self.comparisons.iterrows():
            a = str(r.algorithm).lower()
            out.update({f"{a}_median": float(r["median"]), f"{a}_cl": float(r.cl), f"{a}_verdict": str(r.verdict)})
            out["sgd_median"] = float(r.median_sgd)
        return out


def extra_algorithms(
    start_points: Tensor,
    surface_names: Sequence[str] = ("case1", "case2", "case4"),
    *,
    oracle: opt.FiniteSumOracle | None = None,
    lr: float = 0.01,
    max_iter: int = 1000,
    success_radius: float = 1e-2,
    alpha: float = 0.05,
    seed: int = 0,
) -> ExtraAlgorithms:
    """Run NAG and SPSA (exact gradient / loss values) and SGD, SVRG, SARAH (one finite-sum oracle).

    SGD, SVRG and SARAH see the same mini-batch oracle (default
    ``FiniteSumOracle.make(n=100, batch_size=10, seed=seed)``) at learning rate ``lr``; NAG
    and SPSA run with their registry defaults. The claim "the variance-reduced methods end
    closer to the minimum than SGD on the same oracle" is tested per method by a one-sided
    Mann-Whitney test of the final distances to the nearest minimum, all surfaces pooled
    (both samples cover the same starts on the same surfaces); a diverged run ranks behind
    every finite distance. p-values are Holm-adjusted over the methods; ``verdict`` is
    "supported", "contradicted" or "not resolved" at ``alpha``.
    """
    checks.real("lr", lr, min=0.0, min_open=True)
    checks.real("alpha", alpha, min=0.0, max=0.5, min_open=True)
    names_ = list(surface_names)
    surfs = [_surface(n) for n in names_]
    if any(not s.minima for s in surfs):
        raise ValueError(f"surface_names={names_}: every surface needs a minimum (distances); "
                         "Use Case III ('case3') has none")
    fs = oracle if oracle is not None else opt.FiniteSumOracle.make(n=100, batch_size=10, d=2, seed=seed)
    finite = {a: opt.run(a, surfs, start_points, oracle=fs, hyper={"lr": lr}, max_iter=max_iter, seed=seed)
              for a in ("SGD", "SVRG", "SARAH")}
    exact = opt.run_many(["NAG", "SPSA"], surfs, start_points, max_iter=max_iter, seed=seed)
    seen = {"SGD": f"mini-batch of {fs.batch_size} of {fs.n}", "SVRG": f"mini-batch of {fs.batch_size} of {fs.n}",
            "SARAH": f"mini-batch of {fs.batch_size} of {fs.n}", "NAG": "exact", "SPSA": "loss values only"}
    rows, dist = [], {}
    for a, r in {**finite, **exact}.items():
        f = per_run_figures(r, names_, success_radius)
        dist[a] = np.where(r.status.numpy() == opt.DIVERGED, np.inf, f["distance"]).ravel()
        for k, n in enumerate(names_):
            d = f["distance"][k]
            rows.append({"algorithm": a, "gradient": seen[a], "surface": ROMAN.get(n, n),
                         "median_distance": float(np.nanmedian(d)) if np.isfinite(d).any() else math.nan,
                         "success_pct": 100 * float(f["success"][k].mean()),
                         "diverged_pct": 100 * float((r.status[k] == opt.DIVERGED).double().mean())})
    finite_max = max(float(np.max(v[np.isfinite(v)], initial=0.0)) for v in dist.values())
    comp = []
    for a in ("SVRG", "SARAH"):
        xa, xb = (np.where(np.isinf(dist[k]), 2 * finite_max + 1, dist[k]) for k in (a, "SGD"))
        t = stats.rank_test(xa, xb)
        comp.append({"algorithm": a, "median": float(np.median(dist[a])), "median_sgd": float(np.median(dist["SGD"])),
                     "cl": t.cl, "p_closer": t.p_less, "p_farther": t.p_greater})
    cdf = pd.DataFrame(comp)
    closer, farther = stats.holm(cdf.p_closer.to_numpy()), stats.holm(cdf.p_farther.to_numpy())
    cdf["p_holm"] = closer
    cdf["verdict"] = [_verdict(p, q, alpha) for p, q in zip(closer, farther)]
    return ExtraAlgorithms(table=pd.DataFrame(rows), comparisons=cdf, alpha=float(alpha))


def table3_status(path: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """The book's status for each row of the survey's Table 3 (shipped ``survey/table3_book_status.csv``, or ``path``).

    Columns: index (the survey's row index, the join key), algorithm, runs_in_book
    (``yes``/``no``), where (registry entry and chapter), reason_if_not.
    """
    p = path if path is not None else resources.files("survey", "table3_book_status.csv")
    df = resources.read_csv(p)
    expected = ["index", "algorithm", "runs_in_book", "where", "reason_if_not"]
    if list(df.columns) != expected:
        raise ValueError(f"{p}: columns {list(df.columns)}, expected {expected}")
    bad = set(df.runs_in_book) - {"yes", "no"}
    if bad:
        raise ValueError(f"{p}: runs_in_book must be 'yes' or 'no', found {sorted(bad)}")
    return df


# ----------------------------------------------------------------------------- the survey's Table 4
SURVEY_START: tuple[float, float] = (-2.0, 2.0)
_SURVEY_SURFACE_LABELS = ("I", "II", "III", "IV")


@dataclass(frozen=True, eq=False)
class SurveyRuns:
    """One run per algorithm and surface, every iterate kept (the survey's Table 4 setting).

    Attributes:
        algorithms: the survey's names, ``A`` of them (e.g. ``"Adamax"``).
        rules: the registry rule each name ran (e.g. ``"Adamax-survey"``).
        surfaces: ``S`` labels (``"I"`` .. ``"IV"``).
        start: the start point ``(x, y)``.
        loss: ``(A, S, T + 1)`` float64, ``f(x_t)`` for ``t = 0..T`` (surface units).
        points: ``(A, S, T + 1, 2)`` the iterates ``x_t``.
        pct: ``(A, S, T + 1)`` the tabulated value ``100 (f(x_t) - f(x_0)) / |f(x_0)|``
            (percent; NaN where ``f(x_0) = 0``).
        hyperparameters: per algorithm, the values used.
        peaks_coefficient: the middle coefficient of Use Case IV.
    """

    algorithms: tuple[str, ...]
    rules: tuple[str, ...]
    surfaces: tuple[str, ...]
    start: tuple[float, float]
    loss: np.ndarray
    points: np.ndarray
    pct: np.ndarray
    hyperparameters: Mapping[str, Mapping[str, float]]
    peaks_coefficient: float

    def share_printed_as(self, algorithm: str, surface: str, value: float = -100.0, decimals: int = 2) -> float:
        """Fraction of the ``T + 1`` iterates of one run whose tabulated value prints as ``value``.

        The survey prints two decimals, so an iterate "sits at -100 %" when
        ``round(pct, 2) == -100.00``, i.e. its loss has closed all but less than 0.005 % of
        ``|f(x_0)|``. NaN values (undefined percentages) never count.

        Example: ``survey_runs(algorithms=["Momentum"]).share_printed_as("Momentum", "I")``.
        """
        if algorithm not in self.algorithms:
            raise ValueError(f"algorithm={algorithm!r} is not among {', '.join(self.algorithms)}")
        if surface not in self.surfaces:
            raise ValueError(f"surface={surface!r} is not among {', '.join(self.surfaces)}")
        v = self.pct[self.algorithms.index(algorithm), self.surfaces.index(surface)]
        return float(np.mean(np.round(v, decimals) == round(float(value), decimals)))


def survey_runs(
    *,
    algorithms: Sequence[str] = opt.SURVEY_TEN,
    start: tuple[float, float] = SURVEY_START,
    n_updates: int = 1000,
    lr: float | None = 1e-3,
    peaks_coefficient: float = 5.0,
    variants: Mapping[str, str] | None = None,
    hypers: Mapping[str, Mapping[str, float]] | None = None,
) -> SurveyRuns:
    """The survey's single runs: every algorithm from ``start`` on Use Cases I-IV, all iterates.

    Args:
        algorithms: the survey's algorithm names (registry names of Ruder's rules).
        start: the one start point, used on every surface (the survey's: ``(-2, 2)``).
        n_updates: number of updates ``T`` (the survey's: 1000); ``T + 1`` values per run.
        lr: learning rate for every algorithm that has one (the survey's: 0.001);
            ``None`` keeps each rule's registry default.
        peaks_coefficient: middle coefficient of ``peaks`` (the survey prints 5; MATLAB's is 10).
        variants: which registry rule runs under a survey name; defaults to
            :data:`lls_core.optimizers.SURVEY_VARIANTS` (Adamax, Nadam, AdaDelta as the survey coded
            them). Pass ``{}`` to run Ruder's rules throughout.
        hypers: further hyperparameter overrides per survey name (e.g.
            ``{"AdaDelta": {"eps": 1e-8}}``).

    Every gradient is exact (the survey's SGD saw no noise: its rows equal BGD's); runs
    are never stopped early (no gradient tolerance, no bound).

    Example: ``survey_runs(algorithms=["BGD"]).pct[0, 0, -1]`` is ``100((1-0.002)^2000 - 1)``.
    """
    names_ = [opt.get(a).name for a in algorithms]
    if not names_:
        raise ValueError("algorithms must name at least one optimizer")
    if isinstance(n_updates, bool) or not isinstance(n_updates, int) or n_updates < 1:
        raise ValueError(f"n_updates={n_updates!r} must be an integer >= 1")
    if lr is not None and not (isinstance(lr, (int, float)) and math.isfinite(lr) and lr > 0):
        raise ValueError(f"lr={lr!r} must be a positive finite number or None")
    try:
        x0 = torch.tensor([[float(start[0]), float(start[1])]], dtype=torch.float64)
    except (TypeError, IndexError, ValueError):
        raise ValueError(f"start={start!r} must be a pair of numbers (x, y)") from None
    if len(start) != 2 or not torch.isfinite(x0).all():
        raise ValueError(f"start={start!r} must be a pair of finite numbers (x, y)")
    if variants is None:
        variants = {k: v for k, v in opt.SURVEY_VARIANTS.items() if k in names_}
    variants = dict(variants)
    for k in variants:
        if k not in names_:
            raise ValueError(f"variants names {k!r}, which is not among algorithms {names_}")
    for k in hypers or {}:
        if opt.get(k).name not in names_:
            raise ValueError(f"hypers names {k!r}, which is not among algorithms {names_}")
    rules = [opt.get(variants.get(a, a)).name for a in names_]
    surfs = [surfaces.get("case1"), surfaces.get("case2"), surfaces.get("case3"),
             surfaces.peaks(float(peaks_coefficient))]
    hp: dict[str, dict[str, float]] = {}
    oracles: dict[str, opt.GradientOracle] = {}
    for a, r in zip(names_, rules):
        h = {}
        if lr is not None and "lr" in opt.get(r).defaults:
            h["lr"] = float(lr)
        h.update({k: float(v) for k, v in (hypers or {}).get(a, {}).items()})
        hp[r] = h
        if opt.get(r).stochastic_default:
            oracles[r] = opt.ExactOracle()
    res = opt.run_many(rules, surfs, x0, hypers=hp, oracles=oracles, max_iter=n_updates, grad_tol=0.0,
                       bound=math.inf, record_every=1)
    losses, points = [], []
    for r in rules:
        lt, tr = res[r].loss_trace, res[r].trajectory
        if lt is None or tr is None:  # never: record_every=1 above
            raise RuntimeError(f"optimizers.run_many returned {r} without its recorded trajectory")
        losses.append(lt[:, 0].numpy())
        points.append(tr[:, 0].numpy())
    loss = np.stack(losses)  # (A, S, K)
    pts = np.stack(points)
    if loss.shape[-1] != n_updates + 1:  # a run stopped (non-finite loss or an exact zero gradient)
        raise RuntimeError(f"expected {n_updates + 1} recorded iterates, got {loss.shape[-1]}")
    f0 = loss[..., :1]
    with np.errstate(divide="ignore", invalid="ignore"):
        pct = np.where(f0 != 0, 100.0 * (loss - f0) / np.abs(f0), np.nan)
    return SurveyRuns(
        algorithms=tuple(names_), rules=tuple(rules), surfaces=_SURVEY_SURFACE_LABELS,
        start=(float(start[0]), float(start[1])), loss=loss, points=pts, pct=pct,
        hyperparameters={a: dict(res[r].hyperparameters) for a, r in zip(names_, rules)},
        peaks_coefficient=float(peaks_coefficient),
    )


def survey_table4(
    *,
    algorithms: Sequence[str] = opt.SURVEY_TEN,
    start: tuple[float, float] = SURVEY_START,
    n_updates: int = 1000,
    lr: float | None = 1e-3,
    peaks_coefficient: float = 5.0,
    variants: Mapping[str, str] | None = None,
    hypers: Mapping[str, Mapping[str, float]] | None = None,
    conventions: stats.Conventions = "survey",
    undefined: Literal["zero", "nan"] = "zero",
    runs: SurveyRuns | None = None,
) -> pd.DataFrame:
    """The survey's Table 4 recomputed, in the layout of the shipped ``published/survey_table4.csv``.

    With no arguments: the survey's setting (see :func:`survey_runs` for the run
    arguments). Each row summarises the ``T + 1`` values ``100 (f(x_t) - f(x_0)) / |f(x_0)|``
    of one run with :func:`lls_core.stats.describe` under ``conventions`` (the survey's: ``ddof=0``,
    biased Skew, excess Kurt, ``scipy.stats.mode``). Where ``f(x_0) = 0`` (Surface III from
    ``(-2, 2)``) the values are undefined: ``undefined="zero"`` prints 0 in every column, as
    the survey does; ``"nan"`` prints NaN. ``runs`` reuses a :func:`survey_runs` result
    (the run arguments must then be left at their defaults).

    Returns columns ``id, algorithm, surface, Min, Q1, Q3, Mode, Med, Mean, Var, SD, Skew, Kurt``,
    rows in the survey's order (algorithm-major, surfaces I-IV), ids from 1.
    """
    if undefined not in ("zero", "nan"):
        raise ValueError(f"undefined={undefined!r}; valid: 'zero', 'nan'")
    if conventions not in ("book", "survey"):
        raise ValueError(f"conventions={conventions!r}; valid: 'book', 'survey'")
    if runs is not None:
        given = dict(algorithms=tuple(algorithms), start=tuple(start), n_updates=n_updates, lr=lr,
                     peaks_coefficient=peaks_coefficient, variants=variants, hypers=hypers)
        default = dict(algorithms=tuple(opt.SURVEY_TEN), start=SURVEY_START, n_updates=1000, lr=1e-3,
                       peaks_coefficient=5.0, variants=None, hypers=None)
        changed = [k for k in given if given[k] != default[k]]
        if changed:
            raise ValueError(f"runs= was given, so the run arguments must keep their defaults; got {changed}")
    if runs is None:
        runs = survey_runs(algorithms=algorithms, start=start, n_updates=n_updates, lr=lr,
                           peaks_coefficient=peaks_coefficient, variants=variants, hypers=hypers)
    cols = list(stats.TABLE4_COLUMNS)
    rows: list[dict[str, Any]] = []
    for i, a in enumerate(runs.algorithms):
        for j, surf in enumerate(runs.surfaces):
            v = runs.pct[i, j]
            if np.isnan(v).all():
                vals = dict.fromkeys(cols, 0.0 if undefined == "zero" else math.nan)
            else:
                d = stats.describe(v, conventions).as_dict()
                vals = {c: d[c] for c in cols}
            rows.append({"id": len(rows) + 1, "algorithm": a, "surface": surf, **vals})
    return pd.DataFrame(rows, columns=["id", "algorithm", "surface", *cols])


@dataclass(frozen=True)
class Table4Patterns:
    """The printed Table 4's patterns, measured on the survey's single runs (:func:`table4_patterns`).

    Attributes:
        n_max_zero: runs (with a defined percentage) whose largest tabulated value is exactly 0,
            i.e. that never rise above their start; ``n_defined``: runs with a defined value.
        f0_case3: the largest ``|f(x_0)|`` over the runs on Surface III (0: undefined percentages).
        bgd_sgd_identical: whether the recomputed BGD and SGD rows are equal in every column.
        mode_eq_min: recomputed rows whose Mode equals their Min, of ``n_rows``.
        share_at_minus_100: per algorithm on Surface I, the share of iterates printed as -100.00
            (:meth:`SurveyRuns.share_printed_as`).
        iv_algorithm, iv_f0, iv_fT, iv_xT: the run on Surface IV that ends lowest: its name,
            start and end loss and end point; ``iv_gmin``, ``iv_gmin_value``: the global minimum
            of the ``peaks`` surface it ran on; ``iv_distance``: how far the run ends from it.
    """

    n_max_zero: int
    n_defined: int
    f0_case3: float
    bgd_sgd_identical: bool
    mode_eq_min: int
    n_rows: int
    share_at_minus_100: Mapping[str, float]
    iv_algorithm: str
    iv_f0: float
    iv_fT: float
    iv_xT: tuple[float, float]
    iv_gmin: tuple[float, float]
    iv_gmin_value: float
    iv_distance: float

    def facts(self) -> dict[str, float | int | str]:
        """The attributes under the chapter's names; ``bgd_sgd_equal`` is ``"identical"`` or
        ``"different"``, points are ``"(x, y)"`` strings with two decimals, and
        ``<a>_I_at_min`` (lower case) is a share in percent."""
        out: dict[str, float | int | str] = {
            "n_max_zero": self.n_max_zero, "n_defined": self.n_defined, "f0_case3": self.f0_case3,
            "bgd_sgd_equal": "identical" if self.bgd_sgd_identical else "different",
            "mode_eq_min": self.mode_eq_min, "n_rows": self.n_rows, "iv_algorithm": self.iv_algorithm,
            "f0_iv": self.iv_f0, "fT_iv": self.iv_fT, "xT_iv": f"({self.iv_xT[0]:.2f}, {self.iv_xT[1]:.2f})",
            "gmin_iv_value": self.iv_gmin_value, "gmin_iv_at": f"({self.iv_gmin[0]:.2f}, {self.iv_gmin[1]:.2f})",
            "dist_iv": self.iv_distance,
        }
        out.update({f"{a.lower().replace('-', '_')}_I_at_min": 100 * v for a, v in self.share_at_minus_100.items()})
        return out


def table4_patterns(runs: SurveyRuns, table: pd.DataFrame) -> Table4Patterns:
    """Measure the printed table's patterns on :func:`survey_runs` output and its :func:`survey_table4`.

    ``table`` must be the table recomputed from ``runs`` (same algorithms). The Surface IV run
    that ends lowest stands for the "-100" rows: how far it is from the global minimum of the
    ``peaks`` surface it ran on (coefficient ``runs.peaks_coefficient``).
    """
    cols = list(stats.TABLE4_COLUMNS)
    missing = [c for c in ("algorithm", "surface", *cols) if c not in table.columns]
    if missing:
        raise ValueError(f"table lacks columns {missing}; pass survey_table4's output")
    if tuple(dict.fromkeys(table.algorithm)) != runs.algorithms:
        raise ValueError(f"table has algorithms {list(dict.fromkeys(table.algorithm))}, runs {list(runs.algorithms)}")
    if "IV" not in runs.surfaces or "I" not in runs.surfaces:
        raise ValueError(f"runs must cover Surfaces I and IV; got {runs.surfaces}")
    defined = ~np.isnan(runs.pct).all(-1)
    num = table.set_index(["algorithm", "surface"])[cols]
    both = "BGD" in runs.algorithms and "SGD" in runs.algorithms
    iv = runs.surfaces.index("IV")
    k = int(np.argmin(runs.loss[:, iv, -1]))
    surf = peaks_surface(runs.peaks_coefficient)
    gmin = min(surf.global_minima, key=lambda m: float(np.linalg.norm(runs.points[k, iv, -1] - np.asarray(m))))
    iii = runs.surfaces.index("III") if "III" in runs.surfaces else None
    return Table4Patterns(
        n_max_zero=int((np.nanmax(runs.pct[defined], axis=-1) == 0).sum()), n_defined=int(defined.sum()),
        f0_case3=float(np.abs(runs.loss[:, iii, 0]).max()) if iii is not None else math.nan,
        bgd_sgd_identical=bool(both and num.loc["BGD"].equals(num.loc["SGD"])),
        mode_eq_min=int((table.Mode == table.Min).sum()), n_rows=len(table),
        share_at_minus_100={a: runs.share_printed_as(a, "I", -100.0) for a in runs.algorithms},
        iv_algorithm=runs.algorithms[k], iv_f0=float(runs.loss[k, iv, 0]), iv_fT=float(runs.loss[k, iv, -1]),
        iv_xT=(float(runs.points[k, iv, -1, 0]), float(runs.points[k, iv, -1, 1])),
        iv_gmin=(float(gmin[0]), float(gmin[1])), iv_gmin_value=float(surf.value(*gmin)),
        iv_distance=float(np.linalg.norm(runs.points[k, iv, -1] - np.asarray(gmin))),
    )


def compare_table4(ours: pd.DataFrame, published: pd.DataFrame | None = None, *, decimals: int = 2,
                   tol: float = 0.01) -> pd.DataFrame:
    """Per-cell differences between a recomputed Table 4 and the printed one.

    ``ours`` and ``published`` in the layout of :func:`published_table4` (defaults to the
    printed table), joined on algorithm and surface. Each Table 4 column becomes
    ``round(ours, decimals) - published``; column ``max_abs_diff`` is the largest absolute
    difference in the row and ``match`` is True when it is at most ``tol`` (NaN never matches).
    Rows in the published order.
    """
    pub = published_table4() if published is None else published
    cols = list(stats.TABLE4_COLUMNS)
    key = ["algorithm", "surface"]
    for name, df in (("ours", ours), ("published", pub)):
        missing = [c for c in (*key, *cols) if c not in df.columns]
        if missing:
            raise ValueError(f"{name} lacks columns {missing}")
    m = pub[key + cols].merge(ours[key + cols], on=key, how="left", suffixes=("_pub", "_ours"),
                              validate="one_to_one")
    out = m[key].copy()
    for c in cols:
        out[c] = m[f"{c}_ours"].round(decimals) - m[f"{c}_pub"]
    diffs = out[cols].abs()
    out["max_abs_diff"] = diffs.max(axis=1, skipna=False)
    out["match"] = (diffs <= tol + 1e-9).all(axis=1) & diffs.notna().all(axis=1)
    return out


def table4_facts(cmp: pd.DataFrame) -> dict[str, int | float]:
    """What the prose says about a :func:`compare_table4` frame: ``t4_match`` rows within the
    tolerance of ``t4_rows``, the largest difference ``t4_maxdiff`` and ``t4_ncells_diff``, the
    cells whose rounded value differs from the printed one at all (by more than 1e-9)."""
    cols = list(stats.TABLE4_COLUMNS)
    return {"t4_match": int(cmp["match"].sum()), "t4_rows": len(cmp), "t4_maxdiff": float(cmp["max_abs_diff"].max()),
            "t4_ncells_diff": int((cmp[cols].abs() > 1e-9).sum().sum())}


# ----------------------------------------------------------------------------- the survey's verdicts, re-tested
def start_dependence(
    optimizers: Sequence[str] = opt.SURVEY_TEN,
    surface_names: Sequence[str] = ("case1", "case2"),
    *,
    level: float = 8.0,
    n: int = 64,
    n_sectors: int = 4,
    max_iter: int = 1000,
    grad_tol: float = 1e-6,
    outcome: Literal["loss_ratio", "iterations"] = "loss_ratio",
    sgd_sigma: float = 0.0,
    alpha: float = 0.05,
    seed: int = 0,
) -> pd.DataFrame:
    """Does the outcome depend on where on one level set a run starts?

    ``n`` starts on the level set ``f = level`` of each surface, at uniformly random angles
    (surfaces homogeneous of degree 2 and positive, such as Use Cases I and II: the start
    at angle ``theta`` is ``sqrt(level / f(cos theta, sin theta)) (cos theta, sin theta)``;
    ``level = 8`` is ``f_I(-2, 2)``). The outcome is ``outcome="loss_ratio"``: the
    decimal logarithm of ``f(x_T) / f(x_0)`` after exactly ``T = max_iter`` updates (no
    early stop; floored at 1e-300), the survey's figure on a log scale; or
    ``"iterations"``: updates until the exact gradient norm is at most ``grad_tol``
    (``max_iter + 1`` for a run that did not get there). Both surfaces are symmetric under
    ``x -> -x`` and ``y -> -y``, so angles are folded into ``[0, pi/2)`` and cut into
    ``n_sectors`` equal sectors (by the angle of ``(|x|, |y|)``); the Kruskal-Wallis test across sectors says whether the
    outcome depends on the direction of the start (p = 1 when every outcome is equal).
    SGD sees Gaussian noise of scale ``sgd_sigma`` (0: exact gradients, as in the survey).

    Returns one row per optimizer and surface: optimizer, surface, n, median, min, max
    (of the outcome), spread (max - min), constant (spread below 1e-9 of the largest
    magnitude: rounding only; then kruskal_h = 0 and p = 1), kruskal_h, p, depends
    (``p < alpha``: the outcome depends on the start direction).
    """
    if outcome not in ("loss_ratio", "iterations"):
        raise ValueError(f"outcome={outcome!r}; valid: 'loss_ratio', 'iterations'")
    if not (isinstance(level, (int, float)) and math.isfinite(level) and level > 0):
        raise ValueError(f"level={level!r} must be a positive finite number")
    if isinstance(n, bool) or not isinstance(n, int) or n < 2 * n_sectors:
        raise ValueError(f"n={n!r} must be an integer >= 2 * n_sectors = {2 * n_sectors}")
    if isinstance(n_sectors, bool) or not isinstance(n_sectors, int) or n_sectors < 2:
        raise ValueError(f"n_sectors={n_sectors!r} must be an integer >= 2")
    gen = torch.Generator().manual_seed(seed)
    theta = 2 * math.pi * torch.rand(n, generator=gen, dtype=torch.float64)
    u = torch.stack([theta.cos(), theta.sin()], 1)
    folded = np.arctan2(np.abs(u[:, 1].numpy()), np.abs(u[:, 0].numpy()))  # reflections -> [0, pi/2]
    sector = np.minimum((folded / (math.pi / 2 / n_sectors)).astype(int), n_sectors - 1)
    rows = []
    for name in surface_names:
        surf = _surface(name)
        with torch.no_grad():
            fu, f2u = surf(u), surf(2 * u)
        if not (fu > 0).all() or not torch.allclose(f2u, 4 * fu, rtol=1e-12, atol=0):
            raise ValueError(f"surface {name!r} is not homogeneous of degree 2 and positive; "
                             "start_dependence needs one such as 'case1' or 'case2'")
        x0 = u * (level / fu).sqrt()[:, None]
        res = run_benchmark(optimizers, [name], x0, sgd_sigma=sgd_sigma, max_iter=max_iter,
                            grad_tol=grad_tol if outcome == "iterations" else 0.0, bound=math.inf, seed=seed)
        for a, r in res.items():
            if outcome == "iterations":
                it = np.where(r.status[0].numpy() == opt.CONVERGED, r.iterations[0].numpy(),
                              max_iter + 1).astype(float)
            else:
                ratio = (r.final_loss[0] / r.initial_loss[0]).numpy()
                it = np.log10(np.clip(ratio, 1e-300, None))
            groups = [it[sector == k] for k in range(n_sectors) if (sector == k).any()]
            constant = bool(np.ptp(it) <= 1e-9 * max(1.0, float(np.abs(it).max())))
            if constant:
                h, p = 0.0, 1.0
            else:
                h, p = _kruskal(groups)
            rows.append({"optimizer": a, "surface": ROMAN.get(surf.name, surf.name), "n": n,
                         "median": float(np.median(it)), "min": float(it.min()), "max": float(it.max()),
                         "spread": float(np.ptp(it)), "constant": constant, "kruskal_h": h, "p": p,
                         "depends": bool(p < alpha)})
    return pd.DataFrame(rows)


def _kruskal(groups: Sequence[np.ndarray]) -> tuple[float, float]:
    """Kruskal-Wallis H and p (scipy), for :func:`start_dependence`."""
    from scipy.stats import kruskal

    out = kruskal(*groups)
    return float(out.statistic), float(out.pvalue)


CLAIM_KEYS: Mapping[str, str] = {
    "AdaDelta excellent on Surface IV": "adadelta_iv",
    "RMSProp excellent on Surface IV": "rmsprop_iv",
    "RMSProp weak on Surfaces I and II": "rmsprop_weak",
    "Momentum: high kurtosis on Surface I": "mom_i",
    "Momentum: high kurtosis on Surface II": "mom_ii",
    "Momentum: high kurtosis on Surface IV": "mom_iv",
    "iterations rise with complexity (II vs I)": "iters_ii",
    "iterations rise with complexity (IV vs II)": "iters_iv",
    "start does not matter on Use Case I (BGD)": "start_i",
    "start matters on Use Case II (BGD)": "start_ii",
}
"""Short names of the :func:`survey_claims` claims, for :func:`claim_facts`."""


def claim_facts(claims: pd.DataFrame, suffix: str = "") -> dict[str, str]:
    """The verdict and estimate of every claim in a :func:`survey_claims` frame, for the prose.

    Returns ``{key + suffix: verdict, key + suffix + "_est": estimate}`` with the keys of
    :data:`CLAIM_KEYS` (e.g. ``"adadelta_iv_10"`` and ``"adadelta_iv_10_est"`` for ``suffix="_10"``).
    """
    missing = [c for c in ("claim", "estimate", "verdict") if c not in claims.columns]
    if missing:
        raise ValueError(f"claims lacks columns {missing}; pass survey_claims' output")
    unknown = sorted(set(claims.claim) - set(CLAIM_KEYS))
    if unknown:
        raise ValueError(f"claims {unknown} have no short name; known: {', '.join(CLAIM_KEYS)}")
    out: dict[str, str] = {}
    for claim, est, verdict in zip(claims.claim, claims.estimate, claims.verdict):
        out[CLAIM_KEYS[claim] + suffix] = str(verdict)
        out[CLAIM_KEYS[claim] + suffix + "_est"] = str(est)
    return out


def _verdict(p_for: float, p_against: float, alpha: float) -> str:
    if p_for < alpha:
        return "supported"
    if p_against < alpha:
        return "contradicted"
    return "not resolved"


def survey_claims(
    results: Mapping[str, opt.SurfaceRun],
    *,
    dependence: pd.DataFrame | None = None,
    success_radius: float = 1e-2,
    alpha: float = 0.05,
    level: float = 0.95,
    n_boot: int = 2000,
    seed: int = 0,
) -> pd.DataFrame:
    """The survey's verdicts on its benchmark, re-tested on the book's multi-start benchmark.

    ``results``: :func:`run_benchmark` output for the survey's ten algorithms on Use Cases
    I, II, III and IV (in that order; Use Case IV may be ``case4`` or a
    :func:`peaks_surface`). ``dependence``: a :func:`start_dependence` table (optional; it
    adds the Use Case I / II start-dependence claims for BGD). Each claim gets a test:

    * "AdaDelta / RMSProp excellent on Surface IV": Fisher's exact test of its success rate
      (ending within ``success_radius`` of the global minimum) against the other nine
      algorithms pooled, one-sided;
    * "RMSProp weak on Surfaces I and II (Figure 9)": Mann-Whitney test of its final distance
      to the minimum against the other nine pooled (larger = weaker);
    * "Momentum shows high kurtosis: consistent convergence with occasional outliers":
      bootstrap interval of the difference in excess kurtosis of the final distance to the
      nearest minimum, Momentum minus the other nine pooled, per surface I, II, IV;
    * "iterations to converge rise with surface complexity": Mann-Whitney tests, all ten
      algorithms pooled, of the updates to converge (``max_iter + 1`` when a run did not),
      II against I and IV against II;
    * "on Use Case I the start does not matter, on II it does": the Kruskal-Wallis p of
      :func:`start_dependence` for BGD.

    p-values are Holm-adjusted over all claims with one (``p_holm``). ``verdict``:
    "supported" when the adjusted p (or, for kurtosis, the interval) favours the claim,
    "contradicted" when it significantly favours the opposite, "not resolved" otherwise; a
    start-independence claim is "supported" only when every start gives the same outcome.
    Returns columns claim, where (in the survey), test, estimate, interval, p, p_holm, verdict.
    """
    ten = [a for a in opt.SURVEY_TEN if a in results]
    if len(ten) != len(opt.SURVEY_TEN):
        raise ValueError(f"results must hold the ten survey algorithms; missing {sorted(set(opt.SURVEY_TEN) - set(ten))}")
    labels = results[ten[0]].surfaces
    if len(labels) != 4:
        raise ValueError(f"results must cover Use Cases I-IV (4 surfaces); got {labels}")
    figs = {a: per_run_figures(results[a], success_radius=success_radius) for a in ten}
    I, II, IV = 0, 1, 3  # noqa: E741 (Use Cases I, II, IV)
    rows: list[dict] = []

    def others(a: str, fig: str, surfs: Sequence[int]) -> np.ndarray:
        return np.concatenate([figs[b][fig][s] for b in ten if b != a for s in surfs])

    def own(a: str, fig: str, surfs: Sequence[int]) -> np.ndarray:
        return np.concatenate([figs[a][fig][s] for s in surfs])

    for a in ("AdaDelta", "RMSProp"):
        sa, so = own(a, "success", [IV]), others(a, "success", [IV])
        c = stats.compare_proportions(int(sa.sum()), sa.size, int(so.sum()), so.size, level=level)
        rows.append({"claim": f"{a} excellent on Surface IV", "where": "Table 4 discussion",
                     "test": "Fisher exact, success vs the other nine",
                     "estimate": f"{100 * c.p_a:.1f}% vs {100 * c.p_b:.1f}%",
                     "interval": f"[{100 * c.ci_a[0]:.1f}, {100 * c.ci_a[1]:.1f}]%",
                     "p": c.p_greater, "p_against": c.p_less})
    da, do = own("RMSProp", "distance", [I, II]), others("RMSProp", "distance", [I, II])
    da, do = da[np.isfinite(da)], do[np.isfinite(do)]
    rt = stats.rank_test(da, do, level=level)
    rows.append({"claim": "RMSProp weak on Surfaces I and II", "where": "Figure 9 caption",
                 "test": "Mann-Whitney, final distance vs the other nine",
                 "estimate": f"P(farther) = {rt.cl:.2f}", "interval": f"[{rt.cl_ci[0]:.2f}, {rt.cl_ci[1]:.2f}]",
                 "p": rt.p_greater, "p_against": rt.p_less})
    for s, lab in ((I, "I"), (II, "II"), (IV, "IV")):
        ka, ko = own("Momentum", "distance", [s]), others("Momentum", "distance", [s])
        d = stats.bootstrap_difference(ka[np.isfinite(ka)], ko[np.isfinite(ko)], "kurtosis", level=level,
                                       n_boot=n_boot, seed=seed)
        verdict = ("supported" if d.supports("greater") else "contradicted" if d.supports("less")
                   else "not resolved")
        rows.append({"claim": f"Momentum: high kurtosis on Surface {lab}", "where": "Key observation 4",
                     "test": "bootstrap, excess kurtosis of final distance minus the other nine",
                     "estimate": f"{d.value_a:.2f} vs {d.value_b:.2f}",
                     "interval": f"[{d.diff_ci[0]:.2f}, {d.diff_ci[1]:.2f}]",
                     "p": math.nan, "p_against": math.nan, "verdict": verdict})
    max_iter = results[ten[0]].max_iter
    it = {s: np.concatenate([np.where(results[a].status[s].numpy() == opt.CONVERGED,
                                      results[a].iterations[s].numpy(), results[a].max_iter + 1)
                             for a in ten]).astype(float) for s in (I, II, IV)}
    for hi, lo, lab in ((II, I, "II vs I"), (IV, II, "IV vs II")):
        rt = stats.rank_test(it[hi], it[lo], level=level)
        cv = [100 * float(np.mean(it[s] <= max_iter)) for s in (hi, lo)]
        rows.append({"claim": f"iterations rise with complexity ({lab})", "where": "Figure 9 discussion",
                     "test": "Mann-Whitney, updates to converge, ten algorithms pooled",
                     "estimate": f"converged {cv[0]:.0f}% vs {cv[1]:.0f}%; P(more) = {rt.cl:.2f}",
                     "interval": f"[{rt.cl_ci[0]:.2f}, {rt.cl_ci[1]:.2f}]", "p": rt.p_greater, "p_against": rt.p_less})
    if dependence is not None:
        dep = dependence.set_index(["optimizer", "surface"])
        for lab, expect in (("I", "independent"), ("II", "dependent")):
            if ("BGD", lab) not in dep.index:
                raise ValueError(f"dependence lacks the row BGD / {lab}")
            r = dep.loc[("BGD", lab)]
            row = {"claim": f"start {'does not matter' if expect == 'independent' else 'matters'} on Use Case {lab} (BGD)",
                   "where": "Figure 7 discussion", "test": "Kruskal-Wallis across start directions on one level set",
                   "estimate": f"outcome from {r['min']:.3g} to {r['max']:.3g}", "interval": "",
                   "p": float(r["p"]) if expect == "dependent" else math.nan,
                   "p_against": float(r["p"]) if expect == "independent" else math.nan}
            if expect == "independent":
                row["verdict"] = "supported" if r["constant"] else ("contradicted" if r["p"] < alpha else
                                                                       "not resolved")
                row["p"] = math.nan
            rows.append(row)
    df = pd.DataFrame(rows)
    p_all = df[["p", "p_against"]].to_numpy(float)
    mask = np.isfinite(p_all)
    adj = np.full(p_all.shape, math.nan)
    if mask.any():
        adj[mask] = stats.holm(p_all[mask])
    df["p_holm"] = adj[:, 0]
    against = adj[:, 1]
    if "verdict" not in df:
        df["verdict"] = None
    df["verdict"] = [v if isinstance(v, str) else _verdict(p if np.isfinite(p) else 1.0,
                                                             q if np.isfinite(q) else 1.0, alpha)
                     for v, p, q in zip(df["verdict"], df["p_holm"], against)]
    return df[["claim", "where", "test", "estimate", "interval", "p", "p_holm", "verdict"]]
