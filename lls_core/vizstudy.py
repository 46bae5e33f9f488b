"""The visualization chapter's experiments: runs over seeds, trained to one training loss, with a statistic.

Each claim about pictures of loss landscapes (deeper nets are more chaotic, skip
connections smooth the landscape, larger batches end in sharper minima that
generalize worse) becomes a set of runs at several *levels* of one variable (depth,
skip on/off, batch size), several independent runs per level, and a rank
statistic over all the runs:

* :func:`fit` -- build a demonstration net (:func:`lls_core.models.build_demo`) and
  train it with :func:`lls_core.visualize.train_demo` until the training loss over all
  training data reaches one target (:class:`FitConfig`), so that every landscape is
  looked at a minimum of comparable depth (Li et al. 2018 compare trained nets).
* :func:`scores` -- mean loss and error rate of a net on a data set.
* :func:`trend_test` -- Spearman's rank correlation between the level and a
  measure over all runs, a permutation p-value (two-sided; permuting within groups
  when runs share an initialisation) and a Fisher-z interval; the verdict is
  "supported", "contradicted" or "not resolved" (never "supported" without a
  significant effect in the expected direction).
* :func:`batch_study` -- Keskar et al. (2017): one net per (batch size, seed), each
  trained to the target loss; test error, generalization gap and sharpness
  (largest Hessian eigenvalue) per run, with a trend test for each.
* :func:`landscape_study` -- architectures at minima: a filter-normalized 2-D slice
  (non-convex fraction, :func:`lls_core.visualize.nonconvex_fraction`) and Li et
  al.'s ``|lambda_min / lambda_max|`` map (:func:`lls_core.visualize.curvature_map`)
  per run.
* :func:`normalization_study` -- Li et al.'s argument for filter normalization:
  1-D slices of the same solutions with filter-, layer- and no normalization, and
  whether the sharpness ordering across batch sizes survives each.
* :func:`chord_barriers` -- linear mode connectivity between independently trained solutions.

Every result is a frozen dataclass with a ``facts()`` mapping of scalars for the
chapter's ``glue``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal, Mapping, Sequence

import numpy as np
import pandas as pd
import scipy.stats as sps
import torch
from torch import Tensor, nn

from lls_core import checks, hessian, models
from lls_core import visualize as vz

__all__ = [
    "FitConfig",
    "Fit",
    "fit",
    "Scores",
    "scores",
    "VERDICTS",
    "Trend",
    "trend_test",
    "BatchStudy",
    "batch_study",
    "LandscapeStudy",
    "landscape_study",
    "NormalizationStudy",
    "normalization_study",
    "ChordBarriers",
    "chord_barriers",
]

Expected = Literal["increase", "decrease"]
VERDICTS: tuple[str, ...] = ("supported", "contradicted", "not resolved")


# --------------------------------------------------------------------------- training to a target loss
@dataclass(frozen=True)
class FitConfig:
    """How :func:`fit` trains: SGD with ``momentum``, step ``lr``, ``batch_size`` images per step, until the
    training loss (mean cross-entropy over all training images) is at most ``target_loss``, for at most
    ``max_epochs`` epochs; the loss is checked every ``check_every`` steps (default four times an epoch)."""

    lr: float = 0.02
    momentum: float = 0.9
    batch_size: int = 32
    target_loss: float = 0.05
    max_epochs: int = 200
    check_every: int | None = None

    def __post_init__(self) -> None:
        if not (isinstance(self.lr, (int, float)) and math.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"lr={self.lr!r}: must be a positive finite number")
        if not (isinstance(self.momentum, (int, float)) and 0 <= self.momentum < 1):
            raise ValueError(f"momentum={self.momentum!r}: must lie in [0, 1)")
        for name in ("batch_size", "max_epochs"):
            checks.integer(name, getattr(self, name), min=1)
        if not (isinstance(self.target_loss, (int, float)) and math.isfinite(self.target_loss) and self.target_loss > 0):
            raise ValueError(f"target_loss={self.target_loss!r}: must be a positive finite number")


@dataclass(frozen=True, eq=False)
class Fit:
    """A trained demonstration net: ``model`` (eval mode), its :class:`~lls_core.visualize.TrainResult`,
    the architecture keywords ``arch`` and the ``seed`` of its initialisation and shuffling."""

    model: nn.Module
    result: vz.TrainResult
    arch: Mapping[str, object]
    seed: int

    def facts(self) -> dict[str, float]:
        """The training facts of :meth:`lls_core.visualize.TrainResult.facts` plus ``params``."""
        return {**self.result.facts(), "params": int(self.result.w.numel())}


def fit(
    arch: Mapping[str, Any],
    x: Tensor,
    y: Tensor,
    *,
    seed: int = 0,
    config: FitConfig = FitConfig(),
    record_every: int = 0,
    max_points: int | None = None,
) -> Fit:
    """Build ``models.build_demo(**arch, seed=seed)`` and train it on ``x`` ``(N, 1, 28, 28)``, ``y`` ``(N,)``
    until the training loss reaches ``config.target_loss`` (or the epoch budget runs out: ``reached`` False).

    A ``batch_size`` at or above ``N`` is full-batch gradient descent. Example::

        f = fit(dict(name="mlp", depth=2, width=64, init="he"), x, y, config=FitConfig(target_loss=0.05))
        f.result.steps, f.result.train_loss
    """
    net = models.build_demo(**dict(arch), seed=seed)
    res = vz.train_demo(net, x, y, epochs=config.max_epochs, batch_size=min(config.batch_size, int(x.shape[0])),
                        lr=config.lr, momentum=config.momentum, seed=seed, record_every=record_every,
                        max_points=max_points, target_loss=config.target_loss, check_every=config.check_every)
    return Fit(net, res, dict(arch), seed)


@dataclass(frozen=True)
class Scores:
    """Mean ``loss`` (cross-entropy, nats) and ``error`` (fraction misclassified) over ``n`` images."""

    loss: float
    error: float
    n: int

    def facts(self) -> dict[str, float]:
        return {"loss": self.loss, "error": self.error, "n": self.n}


@torch.no_grad()
def scores(model: nn.Module, x: Tensor, y: Tensor, *, batch_size: int = 1000) -> Scores:
    """Loss and error rate of ``model`` (put in eval mode) on ``x`` ``(N, 1, 28, 28)``, ``y`` ``(N,)``."""
    n = int(x.shape[0])
    if n == 0 or int(y.shape[0]) != n:
        raise ValueError(f"x has {n} images and y has {int(y.shape[0])} labels; need the same positive number")
    model.eval()
    loss, wrong = 0.0, 0
    for i in range(0, n, batch_size):
        out = model(x[i : i + batch_size])
        loss += float(torch.nn.functional.cross_entropy(out, y[i : i + batch_size], reduction="sum"))
        wrong += int((out.argmax(dim=1) != y[i : i + batch_size]).sum())
    return Scores(loss / n, wrong / n, n)


# --------------------------------------------------------------------------- the statistic
@dataclass(frozen=True)
class Trend:
    """Rank trend of a ``measure`` over the levels of a variable (see :func:`trend_test`).

    ``rho``: Spearman's correlation between level and measure over ``n`` runs at
    ``n_levels`` levels; ``ci``: Fisher-z interval at ``level``; ``p``: two-sided
    permutation p-value; ``expected``: the claim's direction; ``verdict``: one of
    :data:`VERDICTS`.
    """

    claim: str
    measure: str
    expected: str
    rho: float
    ci: tuple[float, float]
    p: float
    n: int
    n_levels: int
    alpha: float
    level: float
    verdict: str
    n_excluded: int = 0

    @property
    def defined(self) -> bool:
        """Whether the statistic exists: enough runs (4) at two or more levels, so ``rho`` is a number."""
        return math.isfinite(self.rho)

    def summary(self) -> str:
        """The statistic in words for the prose: ``"ρ = 0.53, interval 0.10 to 0.80, p = 0.031, 12 runs"``,
        or why there is none (``"no test: 2 runs at 2 levels, at least 4 runs at 2 levels needed"``)."""
        if not self.defined:
            left = f" ({self.n_excluded} more left out without a value)" if self.n_excluded else ""
            return (f"no test: {self.n} run{'s' if self.n != 1 else ''} at {self.n_levels} "
                    f"level{'s' if self.n_levels != 1 else ''}{left}, at least 4 runs at 2 levels needed")
        return f"ρ = {self.rho:.2f}, interval {self.ci[0]:.2f} to {self.ci[1]:.2f}, p = {self.p:.3g}, {self.n} runs"

    def facts(self) -> dict[str, float | int | str]:
        """For glue: ``summary`` (always), ``verdict``, ``n``, ``n_excluded``, and ``rho``, ``ci_low``,
        ``ci_high``, ``p`` only when the statistic is :attr:`defined` (never a NaN for the prose)."""
        out: dict[str, float | int | str] = {"summary": self.summary(), "n": self.n, "n_excluded": self.n_excluded,
                                             "verdict": self.verdict}
        if self.defined:
            out.update({"rho": self.rho, "ci_low": self.ci[0], "ci_high": self.ci[1], "p": self.p})
        return out


def _rank_corr(r_levels: np.ndarray, r_values: np.ndarray) -> np.ndarray:
    """Pearson correlation of ``r_levels`` ``(n,)`` with every row of ``r_values`` ``(..., n)`` (nan if constant)."""
    a = r_levels - r_levels.mean()
    b = r_values - r_values.mean(axis=-1, keepdims=True)
    den = np.sqrt((a**2).sum() * (b**2).sum(axis=-1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, (b @ a) / np.where(den > 0, den, 1.0), np.nan)


def trend_test(
    levels: Sequence[float] | np.ndarray,
    values: Sequence[float] | np.ndarray,
    *,
    expected: Expected = "increase",
    groups: Sequence[object] | None = None,
    claim: str = "",
    measure: str = "",
    alpha: float = 0.05,
    level: float = 0.95,
    n_perm: int = 9999,
    seed: int = 0,
) -> Trend:
    """Does ``values`` rise (``expected="increase"``) or fall with ``levels``? One value per run, ``(n,)`` each.

    Statistic: Spearman's rho over all runs whose value is finite (the others,
    e.g. runs that never reached the target loss, are left out and counted in
    ``n_excluded``). p-value: two-sided, from ``n_perm`` random permutations of the
    values (within each group when ``groups`` is given: runs of one group share an
    initialisation, so only their order across levels is exchangeable); ``(1 + #
    {|rho*| >= |rho|}) / (1 + n_perm)``. Interval: Fisher's z transform of rho with
    Bonett and Wright's standard error ``sqrt((1 + rho^2 / 2) / (n - 3))`` (a percentile
    bootstrap of rho over a handful of runs per level is biased by the ties resampling
    creates, and can exclude rho itself). Verdict:
    "supported" when ``p < alpha`` and the interval excludes 0 on the expected
    side, "contradicted" when both point the other way, else "not resolved".
    Example::

        t = trend_test([1, 1, 4, 4, 10, 10], [0.0, 0.1, 0.2, 0.3, 0.5, 0.4])
        t.rho, t.p, t.verdict
    """
    if expected not in ("increase", "decrease"):
        raise ValueError(f"expected={expected!r}; valid: 'increase', 'decrease'")
    if not 0 < alpha < 0.5:
        raise ValueError(f"alpha={alpha!r}: must lie in (0, 0.5)")
    if not 0.5 < level < 1:
        raise ValueError(f"level={level!r}: must lie in (0.5, 1)")
    checks.integer("n_perm", n_perm, min=99)
    lv = np.asarray(levels, dtype=float).ravel()
    val = np.asarray(values, dtype=float).ravel()
    if lv.shape != val.shape:
        raise ValueError(f"levels has {lv.size} entries and values {val.size}; need one level per value")
    if not np.all(np.isfinite(lv)):
        raise ValueError("levels must be finite numbers")
    grp = None if groups is None else np.asarray(list(groups), dtype=object).ravel()
    if grp is not None and grp.shape != lv.shape:
        raise ValueError(f"groups has {grp.size} entries; need one per value ({lv.size})")
    keep = np.isfinite(val)
    n_excl = int((~keep).sum())
    lv, val = lv[keep], val[keep]
    grp = None if grp is None else grp[keep]
    n, k = int(lv.size), int(np.unique(lv).size)

    def result(rho: float, ci: tuple[float, float], p: float) -> Trend:
        verdict = "not resolved"
        if p < alpha:
            if (expected == "increase" and rho > 0 and ci[0] > 0) or (expected == "decrease" and rho < 0 and ci[1] < 0):
                verdict = "supported"
            elif (expected == "increase" and rho < 0 and ci[1] < 0) or (expected == "decrease" and rho > 0 and ci[0] > 0):
                verdict = "contradicted"
        return Trend(claim, measure, expected, rho, ci, p, n, k, alpha, level, verdict, n_excl)

    if k < 2 or n < 4:
        return result(float("nan"), (float("nan"), float("nan")), 1.0)
    rl, rv = sps.rankdata(lv), sps.rankdata(val)
    rho = float(_rank_corr(rl, rv[None])[0])
    if not math.isfinite(rho):  # all values tied
        return result(0.0, (0.0, 0.0), 1.0)
    rng = np.random.default_rng(seed)
    if grp is None:
        perms = rng.permuted(np.tile(rv, (n_perm, 1)), axis=1)
    else:
        perms = np.tile(rv, (n_perm, 1))
        for gname in dict.fromkeys(grp.tolist()):
            idx = np.flatnonzero(grp == gname)
            perms[:, idx] = rng.permuted(np.tile(rv[idx], (n_perm, 1)), axis=1)
    null = _rank_corr(rl, perms)
    p = float((1 + np.count_nonzero(np.abs(null) >= abs(rho) - 1e-12)) / (1 + n_perm))
    # Fisher z interval with Bonett & Wright's (2000) standard error for Spearman's rho
    if n > 3:
        z, se = math.atanh(max(min(rho, 0.9999), -0.9999)), math.sqrt((1 + rho**2 / 2) / (n - 3))
        q = float(sps.norm.ppf(0.5 + level / 2))
        ci = (math.tanh(z - q * se), math.tanh(z + q * se))
    else:
        ci = (-1.0, 1.0)
    return result(rho, ci, p)


def _median_by(table: pd.DataFrame, by: str, col: str) -> dict:
    return {k: float(v) for k, v in table.groupby(by, sort=True)[col].median().items()}


# --------------------------------------------------------------------------- batch size
@dataclass(frozen=True, eq=False)
class BatchStudy:
    """One row per run in ``table`` (batch, seed, steps, epochs, train/test loss and error, generalization
    gaps, sharpness, weight norm, reached); ``fits[(batch, seed)]``; one :class:`Trend` per measure in
    ``trends`` (``"sharpness"``, ``"test_error"``, ``"gap_error"``, ``"gap_loss"``)."""

    table: pd.DataFrame
    fits: dict = field(repr=False)
    trends: dict
    config: FitConfig

    def facts(self) -> dict[str, float]:
        """Scalars for glue: ``<measure>_b<batch>`` medians over seeds, ``<trend>_<fact>`` for every trend,
        ``runs`` and ``reached`` counts, ``target_loss``."""
        out: dict[str, float] = {"runs": len(self.table), "reached": int(self.table["reached"].sum()),
                                 "target_loss": self.config.target_loss}
        for col in ("steps", "train_loss", "test_loss", "test_error", "gap_loss", "gap_error", "sharpness", "weight_norm"):
            for b, v in _median_by(self.table, "batch", col).items():
                out[f"{col}_b{b}"] = v
        for name, t in self.trends.items():
            out.update({f"{name}_{k}": v for k, v in t.facts().items()})
        return out


def batch_study(
    arch: Mapping[str, object],
    x: Tensor,
    y: Tensor,
    x_test: Tensor,
    y_test: Tensor,
    *,
    batches: Sequence[int],
    seeds: Sequence[int],
    config: FitConfig = FitConfig(),
    lanczos_iters: int = 20,
    max_points: int = 24,
    alpha: float = 0.05,
) -> BatchStudy:
    """Keskar et al. (2017) at one training loss: for every batch size in ``batches`` and seed in ``seeds``,
    train ``arch`` (same initialisation for one seed across batch sizes) with ``config`` at that batch
    size until the training loss reaches ``config.target_loss``.

    Per run: steps and epochs taken; training loss and error over ``(x, y)``; test loss and error over
    ``(x_test, y_test)``; the generalization gaps (test minus training, in loss and in error); the
    sharpness (largest eigenvalue of the training-loss Hessian over ``(x, y)``, ``lanczos_iters`` Lanczos
    steps); the weight norm. Trends against batch size (permutation within seeds, since runs of one seed
    share the initialisation) for sharpness, test error and both gaps, all expected to increase.
    Trajectories are recorded (at most ``2 * max_points`` snapshots each) for PCA / MDS / PHATE.
    """
    bs = [int(b) for b in batches]
    if len(bs) < 2 or any(b < 1 for b in bs) or len(set(bs)) != len(bs):
        raise ValueError(f"batches={list(batches)!r}: need at least 2 distinct positive batch sizes")
    sd = [int(s) for s in seeds]
    if len(sd) < 2 or len(set(sd)) != len(sd):
        raise ValueError(f"seeds={list(seeds)!r}: need at least 2 distinct seeds")
    n = int(x.shape[0])
    rows, fits = [], {}
    f_train_all = None
    for b in bs:
        for s in sd:
            cfg = FitConfig(lr=config.lr, momentum=config.momentum, batch_size=b, target_loss=config.target_loss,
                            max_epochs=config.max_epochs, check_every=config.check_every)
            per_epoch = -(-n // min(b, n))
            ft = fit(arch, x, y, seed=s, config=cfg, record_every=max(1, per_epoch // 4), max_points=max_points)
            fits[(b, s)] = ft
            tr, te = scores(ft.model, x, y), scores(ft.model, x_test, y_test)
            f_train_all = hessian.flat_loss(ft.model, x, y)
            lam = hessian.lambda_max(f_train_all, ft.result.w, iters=lanczos_iters)
            rows.append(dict(batch=b, seed=s, steps=ft.result.steps, epochs=len(ft.result.epoch_loss),
                             train_loss=tr.loss, train_error=tr.error, test_loss=te.loss, test_error=te.error,
                             gap_loss=te.loss - tr.loss, gap_error=te.error - tr.error, sharpness=lam,
                             weight_norm=float(ft.result.w.norm()), reached=ft.result.reached))
    table = pd.DataFrame(rows)
    ok = table["reached"].to_numpy()
    claims = {"sharpness": "larger batches end in sharper minima",
              "test_error": "larger batches generalize worse (test error)",
              "gap_error": "larger batches have a larger generalization gap (error)",
              "gap_loss": "larger batches have a larger generalization gap (loss)"}
    trends = {m: trend_test(np.log2(table["batch"]), np.where(ok, table[m], np.nan), expected="increase",
                            groups=table["seed"], claim=c, measure=m, alpha=alpha) for m, c in claims.items()}
    return BatchStudy(table, fits, trends, config)


# --------------------------------------------------------------------------- architectures at minima
@dataclass(frozen=True, eq=False)
class LandscapeStudy:
    """Architectures at minima: one row per run in ``table`` (label, level, seed, params, steps, train_loss,
    reached, nonconvex, ratio_median, ratio_max, center_lam_min, center_lam_max); ``slices[(label, seed)]``
    (:class:`~lls_core.visualize.Slice2D`), ``maps[(label, seed)]`` (:class:`~lls_core.visualize.CurvatureMap`)."""

    table: pd.DataFrame
    slices: dict = field(repr=False)
    maps: dict = field(repr=False)
    config: FitConfig

    def trend(self, measure: str, *, expected: Expected = "increase", claim: str = "", alpha: float = 0.05) -> Trend:
        """:func:`trend_test` of ``measure`` (a column of ``table``) against ``level`` over the runs that
        reached the target loss (independent runs: a fresh initialisation each)."""
        checks.name("measure", measure, [str(c) for c in self.table.columns])
        ok = self.table["reached"].to_numpy()
        return trend_test(self.table["level"], np.where(ok, self.table[measure].astype(float), np.nan),
                          expected=expected, claim=claim, measure=measure, alpha=alpha)

    def facts(self) -> dict[str, float]:
        """Scalars for glue: ``<measure>_<label>`` medians over seeds (labels with spaces as ``_``), ``runs``,
        ``reached``."""
        out: dict[str, float] = {"runs": len(self.table), "reached": int(self.table["reached"].sum())}
        for col in ("steps", "train_loss", "nonconvex", "ratio_median", "params"):
            for lab, v in _median_by(self.table, "label", col).items():
                out[f"{col}_{str(lab).replace(' ', '_')}"] = v
        return out


def landscape_study(
    archs: Mapping[str, Mapping[str, object]],
    levels: Mapping[str, float],
    x: Tensor,
    y: Tensor,
    x_eval: Tensor,
    y_eval: Tensor,
    *,
    seeds: Sequence[int],
    config: FitConfig = FitConfig(),
    grid_n: int = 21,
    span: float = 1.0,
    map_n: int = 5,
    map_images: int | None = None,
    lanczos_iters: int = 12,
    direction_seed: int = 0,
) -> LandscapeStudy:
    """Train every architecture ``archs[label]`` (keywords of :func:`lls_core.models.build_demo`) from
    ``len(seeds)`` fresh initialisations to ``config.target_loss`` on ``(x, y)``, then look at each minimum.

    ``levels[label]``: the label's position on the variable under test (e.g. depth; skip = 0, no skip =
    1). Runs are independent: run ``i`` of label ``k`` uses seed ``seeds[i] + 1000 * k``. Per run: a
    filter-normalized 2-D slice on ``grid_n x grid_n`` points of ``[-span, span]^2`` over ``(x_eval,
    y_eval)`` and its non-convex fraction; Li et al.'s ``|lambda_min / lambda_max|`` map on a ``map_n x
    map_n`` sub-grid of the same plane over the first ``map_images`` evaluation images (all by default),
    ``lanczos_iters`` Lanczos steps a point.
    """
    if not archs:
        raise ValueError("archs is empty; give at least two architectures")
    missing = [k for k in archs if k not in levels]
    if missing:
        raise ValueError(f"levels has no entry for {missing}; give one level per architecture label")
    sd = [int(s) for s in seeds]
    if len(sd) < 2 or len(set(sd)) != len(sd):
        raise ValueError(f"seeds={list(seeds)!r}: need at least 2 distinct seeds")
    if not isinstance(grid_n, int) or grid_n < 5:
        raise ValueError(f"grid_n={grid_n!r}: need an integer >= 5")
    if not isinstance(map_n, int) or map_n < 2:
        raise ValueError(f"map_n={map_n!r}: need an integer >= 2")
    m_img = int(x_eval.shape[0]) if map_images is None else int(map_images)
    if not 1 <= m_img <= int(x_eval.shape[0]):
        raise ValueError(f"map_images={map_images!r}: must lie in [1, {int(x_eval.shape[0])}]")
    rows, slices, maps = [], {}, {}
    grid = np.linspace(-span, span, grid_n)
    mgrid = np.linspace(-span, span, map_n)
    for k, (label, arch) in enumerate(archs.items()):
        for s in sd:
            ft = fit(arch, x, y, seed=s + 1000 * k, config=config)
            w = ft.result.w
            u, v = vz.plane_directions(ft.model, w, seed=direction_seed)
            f = hessian.flat_loss(ft.model, x_eval, y_eval)
            sl = vz.slice_2d(f, w, u, v, grid)
            fm = hessian.flat_loss(ft.model, x_eval[:m_img], y_eval[:m_img])
            cm = vz.curvature_map(fm, w, u, v, mgrid, iters=lanczos_iters)
            slices[(label, s)], maps[(label, s)] = sl, cm
            mf = cm.facts()
            rows.append(dict(label=label, level=float(levels[label]), seed=s, params=int(w.numel()),
                             steps=ft.result.steps, train_loss=ft.result.train_loss, reached=ft.result.reached,
                             nonconvex=vz.nonconvex_fraction(sl), ratio_median=mf["ratio_median"],
                             ratio_max=mf["ratio_max"], center_lam_min=mf["center_lam_min"],
                             center_lam_max=mf["center_lam_max"]))
    return LandscapeStudy(pd.DataFrame(rows), slices, maps, config)


# --------------------------------------------------------------------------- normalization
@dataclass(frozen=True, eq=False)
class NormalizationStudy:
    """1-D slices of the same solutions under several direction normalizations.

    ``alphas`` ``(A,)``; ``curves[(norm, key)]`` ``(A,)`` the loss averaged over the random directions;
    ``table``: one row per (norm, run) with ``level``, ``group``, ``rise`` (mean loss increase a step
    ``probe`` away) and the run's ``weight_norm``; ``trends[norm]``: :func:`trend_test` of ``rise`` against
    ``level`` (expected to increase: larger batch, sharper); ``none_scale``: the common entry scale of the
    un-normalized directions.
    """

    alphas: np.ndarray
    curves: dict = field(repr=False)
    table: pd.DataFrame
    trends: dict
    probe: float
    none_scale: float

    def facts(self) -> dict[str, float]:
        """Scalars for glue: ``<norm>_<trend fact>`` for every norm, ``probe``, ``none_scale``."""
        out: dict[str, float] = {"probe": self.probe, "none_scale": self.none_scale}
        for norm, t in self.trends.items():
            out.update({f"{norm}_{k}": v for k, v in t.facts().items()})
        return out


def normalization_study(
    fits: Mapping[object, Fit],
    levels: Mapping[object, float],
    x_eval: Tensor,
    y_eval: Tensor,
    *,
    norms: Sequence[str] = vz.NORMS,
    span: float = 1.0,
    n: int = 21,
    probe: float = 0.5,
    n_dirs: int = 2,
    groups: Mapping[object, object] | None = None,
    alpha: float = 0.05,
) -> NormalizationStudy:
    """Li et al.'s argument for filter normalization, on solutions of one architecture (``fits[key]``).

    For every norm in ``norms`` and every solution: ``n_dirs`` random directions (seeds 0, 1, ...),
    normalized per filter (``"filter"``), per parameter tensor (``"layer"``), or not at all
    (``"none"``: Gaussian entries times one common scale for all solutions, the median of
    ``||w|| / sqrt(d)``, so a step means the same distance in weight space for every net); the loss over
    ``(x_eval, y_eval)`` on ``n`` points of ``[-span, span]``; the ``rise`` = mean of ``L(+probe)`` and
    ``L(-probe)`` minus ``L(0)``, averaged over the directions. Without normalization the rise mixes
    curvature with the weights' scale (which differs between batch sizes), so the same solutions can be
    ordered differently. ``groups[key]``: runs sharing an initialisation (permutation within groups).
    """
    if not fits:
        raise ValueError("fits is empty")
    bad = [nm for nm in norms if nm not in vz.NORMS]
    if bad:
        raise checks.UnknownNameError(f"unknown norms {bad}; valid: {', '.join(vz.NORMS)}")
    if not 0 < probe <= span:
        raise ValueError(f"probe={probe!r}: must lie in (0, span={span}]")
    checks.integer("n_dirs", n_dirs, min=1)
    alphas = np.linspace(-span, span, n)
    keys = list(fits)
    scale = float(np.median([float(fits[k].result.w.norm()) / math.sqrt(fits[k].result.w.numel()) for k in keys]))
    curves, rows = {}, []
    for norm in norms:
        for key in keys:
            ft = fits[key]
            w = ft.result.w
            f = hessian.flat_loss(ft.model, x_eval, y_eval)
            cs = []
            for j in range(n_dirs):
                d = vz.random_direction(ft.model, w, seed=j, norm=norm)
                if norm == "none":
                    d = d * scale
                cs.append(vz.slice_1d(f, w, d, np.concatenate([alphas, [-probe, 0.0, probe]])).loss)
            c = np.mean(cs, axis=0)
            curves[(norm, key)] = c[:n]
            lm, l0, lp = c[n:]
            rows.append(dict(norm=norm, key=key, level=float(levels[key]),
                             group=None if groups is None else groups[key],
                             rise=0.5 * (lm + lp) - l0, weight_norm=float(w.norm())))
    table = pd.DataFrame(rows)
    trends = {}
    for norm in norms:
        t = table[table["norm"] == norm]
        trends[norm] = trend_test(t["level"], t["rise"], expected="increase",
                                  groups=None if groups is None else t["group"],
                                  claim=f"larger batches sharper ({norm} normalization)", measure="rise", alpha=alpha)
    return NormalizationStudy(alphas, curves, table, trends, probe, scale)


# --------------------------------------------------------------------------- linear mode connectivity
@dataclass(frozen=True)
class ChordBarriers:
    """Chord barriers (the loss's largest rise above the chord of the straight line,
    :func:`lls_core.visualize.linear_path`; not the barrier of :mod:`lls_core.landscape`, which is
    measured above the higher end point) between ``pairs`` of solutions: ``values`` ``(P,)``, the mean loss at the two ends ``endpoint_loss`` ``(P,)``, and the
    paths' ``ts`` ``(T,)`` and ``loss`` ``(P, T)``."""

    pairs: tuple[tuple[int, int], ...]
    values: np.ndarray
    endpoint_loss: np.ndarray
    ts: np.ndarray
    loss: np.ndarray

    def facts(self) -> dict[str, float]:
        """Scalars for glue: ``pairs``, ``median``, ``min``, ``max`` chord barrier, ``endpoint_median``, and the
        median ``ratio`` of chord barrier to end-point loss (``inf`` where an end-point loss is 0)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(self.endpoint_loss > 0, self.values / np.where(self.endpoint_loss > 0, self.endpoint_loss, 1), np.inf)
        return {"pairs": len(self.pairs), "median": float(np.median(self.values)), "min": float(self.values.min()),
                "max": float(self.values.max()), "endpoint_median": float(np.median(self.endpoint_loss)),
                "ratio": float(np.median(ratio))}


def chord_barriers(loss_fn: hessian.FlatLossFn, ws: Sequence[Tensor], *, n: int = 21) -> ChordBarriers:
    """Chord barriers between every pair of the solutions ``ws`` (each ``(d,)``; independent runs, so that a
    small barrier is not an artefact of a shared start), ``n`` points per segment."""
    if len(ws) < 2:
        raise ValueError(f"{len(ws)} solutions; need at least 2")
    pairs = tuple((i, j) for i in range(len(ws)) for j in range(i + 1, len(ws)))
    paths = [vz.linear_path(loss_fn, ws[i], ws[j], n) for i, j in pairs]
    ends = np.array([0.5 * (p.loss[0] + p.loss[-1]) for p in paths])
    return ChordBarriers(pairs, np.array([p.chord_barrier for p in paths]), ends, paths[0].ts,
                         np.stack([p.loss for p in paths]))
