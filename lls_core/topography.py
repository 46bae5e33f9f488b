"""The topography study's part 2, end to end: weight sets -> barriers, geometry, sharpness -> claims.

This module joins :mod:`lls_core.study` (the trained weight sets, reused from the
artifact store) with :mod:`lls_core.landscape` (the analyses on plain tensors) and
:mod:`lls_core.stats` (tests with effect sizes) so that a chapter is a few short
calls::

    topo = topography.load("fcp", "quick", n_inits=8, k_best=6)
    bars = topography.all_barriers(topo, n_pairs=6, config=topography.PATH_PROFILES["quick"])
    table = topography.claims(topo, bars, sharp=topography.all_sharpness(topo))

Barrier paths are cached in ``<artifact store>/barriers``: a chapter rerun, or a
second chapter asking for the same pairs with the same settings, loads them
instead of recomputing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
from torch import Tensor, nn

from lls_core import data, landscape, models, resources, stats
from lls_core.landscape import Barriers, PathConfig, SharpnessSet

__all__ = [
    "PATH_PROFILES",
    "SET_ORDER",
    "Topography",
    "load",
    "barrier_cache_dir",
    "all_barriers",
    "barrier_frame",
    "AUTHORS_PATHS",
    "Understatement",
    "height_understatement",
    "PathCalibration",
    "calibrate_paths",
    "all_sharpness",
    "sharpness_frame",
    "vector_spread",
    "claims",
    "verdict",
    "resemblance",
    "published_table_s1",
]

AUTHORS_PATHS: PathConfig = PathConfig(n_terms=10, n_points=51, steps=100, lr=1e-3, lam=1e-3, n_data=None,
                                       memory_mb=2048.0)
"""The authors' path settings: 51 points, 10 Fourier terms, 100 Adam steps at lr 1e-3,
lambda 1e-3, the loss over every image of the landscape (``n_data=None``: the whole
training split the networks were trained on, or the whole test split -- the official
10,000 images). ``memory_mb`` only bounds one call's autograd graph (chunking; it is not
part of a stored pair's key)."""

PATH_PROFILES: dict[str, PathConfig] = {
    "smoke": PathConfig(n_terms=4, n_points=7, steps=3, lr=1e-3, n_data=250),
    "quick": PathConfig(n_terms=10, n_points=15, steps=30, lr=3e-3, n_data=500),
    "authors": AUTHORS_PATHS,
    "full": AUTHORS_PATHS,
    "paper": replace(AUTHORS_PATHS, memory_mb=8192.0),
}
"""FourierPathFinder settings per profile. ``authors`` (:data:`AUTHORS_PATHS`: 10 terms,
51 points, Adam lr 1e-3, 100 steps, lambda 1e-3, every image of the landscape) is used by
the ``full`` and ``paper`` study profiles (``paper`` with calls bounded to 8 GiB instead of
2; the paths are the same). ``quick`` fits 2 CPU cores: 15 points,
500 images, 30 steps at lr 3e-3 (about the same total movement of the coefficients
as the authors' 100 steps at 1e-3). ``lam`` = 1e-3 everywhere (the PathConfig default:
the authors' network code, commits d1697ac, 5a68028, e11b717; the path-finder chapter
sweeps it from 1e-4 to 1 on an FCP pair). The
small profiles evaluate all path points and images in one batched call; ``paper``
bounds each call's autograd graph to 8 GiB."""

SET_ORDER: tuple[str, ...] = ("BFGS-train", "BFGS-test", "SGD-train", "SGD-test", "LBFGS-train", "LBFGS-test")


@dataclass(frozen=True, eq=False)
class Topography:
    """One architecture's weight sets with the network and data they were trained on.

    ``sets[name]``: ``(K, d)`` float tensors in :data:`SET_ORDER`; ``train_losses`` /
    ``test_losses``: per-set mean loss of the K vectors on each landscape.
    """

    arch: str
    profile: str
    n_inits: int
    k_best: int
    model: nn.Module
    dataset: data.Dataset
    sets: dict[str, Tensor]
    store_root: str = field(default="")

    def xy(self, which: str) -> tuple[Tensor, Tensor]:
        """Images and labels of the ``"train"`` or ``"test"`` landscape."""
        if which == "train":
            return self.dataset.x_train, self.dataset.y_train
        if which == "test":
            return self.dataset.x_test, self.dataset.y_test
        raise ValueError(f"landscape {which!r}; valid: train, test")


def load(arch: str, profile: str = "quick", *, n_inits: int | None = None, k_best: int | None = None,
         optimizers: Sequence[str] = ("sgd", "lbfgs_gss", "lbfgs"), store: Any = None,
         workers: int | None = None, progress: bool = False, scheduler: Any = None) -> Topography:
    """Weight sets of ``arch`` under study profile ``profile`` (optionally with more or fewer
    initialisations ``n_inits`` and kept runs ``k_best``), trained or reused from the store.
    ``scheduler``: a Dask scheduler address for the missing runs (see :mod:`lls_core.cluster`)."""
    from lls_core import study

    if arch not in models.ARCHITECTURES:
        raise ValueError(f"unknown architecture {arch!r}; valid: {', '.join(models.ARCHITECTURES)}")
    prof = study.get_profile(profile)
    changes = {k: v for k, v in (("n_inits", n_inits), ("k_best", k_best)) if v is not None}
    if changes:
        prof = prof.replace(**changes)
    res = study.run_study(arch, prof, optimizers, store=store, workers=workers, progress=progress, scheduler=scheduler)
    raw = res.weight_sets()
    sets = {k: raw[k] for k in SET_ORDER if k in raw}
    sets.update({k: v for k, v in raw.items() if k not in sets})
    ds = data.load(prof.dataset, n_train=prof.n_train, n_test=prof.n_test, seed=prof.split_seed)
    model = models.build(arch, activation=prof.activation)
    return Topography(arch, prof.name, prof.n_inits, prof.k_best, model, ds, sets, res.store_root)


def barrier_cache_dir(topo: Topography) -> Path:
    """``<artifact store>/barriers/<arch>``: where finished paths are kept."""
    from lls_core.store import Store

    root = Path(topo.store_root) if topo.store_root else Store().root
    return root / "barriers" / topo.arch


def all_barriers(topo: Topography, *, n_pairs: int, config: PathConfig, seed: int = 0,
                 sets: Sequence[str] | None = None, landscapes: Sequence[str] = landscape.LANDSCAPES,
                 workers: int = 1, client: Any = None, progress: bool = False,
                 cache: bool = True, scheduler: Any = None) -> dict[tuple[str, str], Barriers]:
    """Barriers of ``n_pairs`` random pairs (at most all pairs) of every set on every landscape.

    ``workers > 1`` starts a Dask ``LocalCluster`` of that many single-threaded
    processes (bound to 127.0.0.1) for the duration of the call, once some path is
    missing from the cache; ``scheduler`` (``"tcp://HOST:PORT"``) connects to a running
    cluster instead, or pass a running ``client``. The same pairs (``seed``) are used
    on both landscapes.
    """
    names = list(sets) if sets is not None else list(topo.sets)
    for n in names:
        if n not in topo.sets:
            raise KeyError(f"no weight set {n!r}; available: {', '.join(topo.sets)}")
    if not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers={workers!r}: must be an integer >= 1")
    from lls_core import cluster

    addr = cluster.check_scheduler(scheduler)  # a bad address fails here, before any work
    own = None
    if client is None and (workers > 1 or addr is not None):
        own = _LazyClient(workers, addr)  # connects or starts a cluster only if some path is not in the store
        client = own
    try:
        out: dict[tuple[str, str], Barriers] = {}
        for name in names:
            k = topo.sets[name].shape[0]
            p = min(n_pairs, k * (k - 1) // 2)
            for which in landscapes:
                x, y = topo.xy(which)
                out[(name, which)] = landscape.barriers(
                    topo.model, x, y, topo.sets[name], n_pairs=p, seed=seed, config=config, set_name=name,
                    landscape=which, client=client, cache_dir=barrier_cache_dir(topo) if cache else None,
                    progress=progress)
        return out
    finally:
        if own is not None:
            own.close()


class _LazyClient:
    """A Dask client made on first use: to ``scheduler`` when given, else to a LocalCluster of
    ``workers`` single-threaded processes on 127.0.0.1 (:func:`lls_core.cluster.client`)."""

    def __init__(self, workers: int, scheduler: str | None = None) -> None:
        self.workers = workers
        self.scheduler = scheduler
        self._ctx: Any = None
        self._client: Any = None

    def _get(self) -> Any:
        if self._client is None:
            from lls_core import cluster

            self._ctx = cluster.client(self.scheduler, self.workers, dashboard=False)
            self._client = self._ctx.__enter__()
        return self._client

    def scatter(self, *a: Any, **k: Any) -> Any:
        return self._get().scatter(*a, **k)

    def submit(self, *a: Any, **k: Any) -> Any:
        return self._get().submit(*a, **k)

    def scheduler_info(self) -> Any:
        return self._get().scheduler_info()

    def close(self) -> None:
        if self._ctx is not None:
            self._ctx.__exit__(None, None, None)
            self._ctx = self._client = None


def barrier_frame(results: Mapping[tuple[str, str], Barriers]) -> pd.DataFrame:
    """Long table, one row per path: set, landscape, i, j, height, linear_height, excess, length, seconds."""
    rows = []
    for (name, which), b in results.items():
        for k in range(len(b.height)):
            rows.append({"set": name, "landscape": which, "i": int(b.pairs[k, 0]), "j": int(b.pairs[k, 1]),
                         "height": b.height[k], "linear_height": b.linear_height[k], "excess": b.excess[k],
                         "endpoint_loss": b.endpoint_loss[k], "length": b.length[k], "seconds": b.seconds[k],
                         "fine_height": np.nan if b.fine_height is None else b.fine_height[k],
                         "max_t": np.nan if b.max_t is None else b.max_t[k]})
    return pd.DataFrame(rows)


@dataclass(frozen=True, eq=False)
class Understatement:
    """How far the height on a path's own points (Eq. 5) understates its maximum on the fine grid.

    ``frame``: one row per set and landscape with ``n`` (pairs with a fine grid),
    ``median`` / ``max`` (absolute, loss units), ``median_relative`` / ``max_relative``
    (over the discrete height), ``share_over_1pct`` (pairs understated by more than 1 %)
    and ``share_at_end`` (pairs whose discrete maximum sits at an end point, ``t`` = 0 or
    1: there the path is no barrier, the end point is the highest point); ``all``: the same
    over every pair.
    """

    frame: pd.DataFrame
    all: dict[str, float]

    def facts(self) -> dict[str, float]:
        """The pooled figures: ``pairs``, ``median``, ``max``, ``median_relative``, ``max_relative``,
        ``share_over_1pct``, ``share_at_end``."""
        return dict(self.all)


def _under_row(h: np.ndarray, fine: np.ndarray, max_t: np.ndarray) -> dict[str, float]:
    ok = np.isfinite(fine) & np.isfinite(h)
    u = fine[ok] - h[ok]
    rel = u / np.where(np.abs(h[ok]) > 0, np.abs(h[ok]), np.inf)
    at_end = np.isin(max_t[np.isfinite(max_t)], (0.0, 1.0))
    nan = float("nan")
    return {"pairs": int(ok.sum()), "median": float(np.median(u)) if u.size else nan,
            "max": float(u.max()) if u.size else nan,
            "median_relative": float(np.median(rel)) if rel.size else nan,
            "max_relative": float(rel.max()) if rel.size else nan,
            "share_over_1pct": float((rel > 0.01).mean()) if rel.size else nan,
            "share_at_end": float(at_end.mean()) if at_end.size else nan}


def height_understatement(results: Mapping[tuple[str, str], Barriers]) -> Understatement:
    """Per set and landscape, how far the discrete path height understates the fine-grid one.

    Reads ``fine_height`` and ``max_t`` of :func:`all_barriers`' results (paths found with
    ``PathConfig.fine_points`` > 0; pairs without a fine grid are left out, ``n`` counts
    the rest). Example: ``height_understatement(bars).facts()["median_relative"]``.
    """
    if not results:
        raise ValueError("no barrier results given")
    rows, hs, fs, ts = [], [], [], []
    for (name, which), b in results.items():
        fine = np.full(b.height.shape, np.nan) if b.fine_height is None else np.asarray(b.fine_height, float)
        mt = np.full(b.height.shape, np.nan) if b.max_t is None else np.asarray(b.max_t, float)
        rows.append({"set": name, "landscape": which, **_under_row(np.asarray(b.height, float), fine, mt)})
        hs.append(np.asarray(b.height, float))
        fs.append(fine)
        ts.append(mt)
    frame = pd.DataFrame(rows).rename(columns={"pairs": "n"})
    return Understatement(frame, _under_row(np.concatenate(hs), np.concatenate(fs), np.concatenate(ts)))


@dataclass(frozen=True, eq=False)
class PathCalibration:
    """The build's path settings against the authors' on one sample of pairs (:func:`calibrate_paths`).

    ``frame``: one row per pair (``set``, ``landscape``, ``i``, ``j``, ``height_build``,
    ``height_reference``, ``fine_build``, ``fine_reference``); ``bias``: mean of
    ``height_build - height_reference`` (loss units) with ``bias_ci``, a percentile
    bootstrap interval over pairs at ``level``; ``relative_bias``: median of
    ``height_build / height_reference - 1``; ``spearman`` (``spearman_p``): rank
    correlation of the two heights over all pairs; ``groups``: per set and landscape
    ``n``, ``bias``, ``spearman``; ``verdicts``: the claims whose result depends on the
    barriers, with ``verdict_build``, ``verdict_reference`` and ``changed``.

    Pairs of one set share end points, so the bootstrap interval over pairs is narrower
    than one over solutions would be; it describes this sample.
    """

    build: PathConfig
    reference: PathConfig
    frame: pd.DataFrame
    bias: float
    bias_ci: tuple[float, float]
    relative_bias: float
    spearman: float
    spearman_p: float
    groups: pd.DataFrame
    verdicts: pd.DataFrame
    level: float

    @property
    def changed(self) -> list[str]:
        """The claims (``claim: a vs b``) whose verdict differs between the two settings."""
        v = self.verdicts
        return [f"{r.claim}: {r.a} vs {r.b}" for r in v[v["changed"]].itertuples()] if len(v) else []

    def facts(self) -> dict[str, float]:
        """``pairs``, ``bias``, ``bias_lo``, ``bias_hi``, ``relative_bias``, ``spearman``,
        ``spearman_p``, ``min_group_spearman``, ``verdicts`` (compared), ``verdicts_changed``."""
        g = self.groups["spearman"].dropna()
        return {"pairs": int(len(self.frame)), "bias": self.bias, "bias_lo": self.bias_ci[0],
                "bias_hi": self.bias_ci[1], "relative_bias": self.relative_bias, "spearman": self.spearman,
                "spearman_p": self.spearman_p, "min_group_spearman": float(g.min()) if len(g) else float("nan"),
                "verdicts": int(len(self.verdicts)), "verdicts_changed": int(self.verdicts["changed"].sum())
                if len(self.verdicts) else 0}


CALIBRATION_SETS: tuple[str, ...] = ("BFGS-train", "BFGS-test", "SGD-train", "SGD-test")
"""The sets whose barriers the paper's claims compare (Figures 4 and S2)."""


def calibrate_paths(topo: Topography, build: PathConfig, *, reference: PathConfig = AUTHORS_PATHS,
                    n_pairs: int = 8, seed: int = 0, sets: Sequence[str] | None = None,
                    landscapes: Sequence[str] = landscape.LANDSCAPES, workers: int = 1, scheduler: Any = None,
                    cache: bool = True, n_boot: int = 2000, level: float = 0.95,
                    claims_fn: Any = None) -> PathCalibration:
    """Run one sample of pairs under the build's path settings and the authors', and compare.

    ``n_pairs`` (>= 8) pairs of each set in ``sets`` (default: those of
    :data:`CALIBRATION_SETS` that ``topo`` has) on each landscape, the same pairs under
    both settings (:func:`all_barriers` with ``seed``; stored pairs are reused, so pairs
    the chapter already computed under the build's settings cost nothing). Returns the
    bias of the heights, their rank correlation and which claim verdicts change (the
    claims table of ``claims_fn(topo, bars)``, default :func:`claims`, computed from
    each setting's barriers; rows that do not depend on the barriers are left out).

    Example::

        cal = calibrate_paths(topo, PATH_PROFILES["quick"], n_pairs=8)
        cal.facts()["spearman"], cal.changed
    """
    import scipy.stats as sps

    if not isinstance(n_pairs, int) or isinstance(n_pairs, bool) or n_pairs < 8:
        raise ValueError(f"n_pairs={n_pairs!r}: a calibration needs at least 8 pairs per set")
    for name, c in (("build", build), ("reference", reference)):
        if not isinstance(c, PathConfig):
            raise TypeError(f"{name} must be a PathConfig, got {type(c).__name__}")
    if not 0.5 < level < 1:
        raise ValueError(f"level={level!r}: must lie in (0.5, 1)")
    names = list(sets) if sets is not None else [n for n in CALIBRATION_SETS if n in topo.sets]
    if not names:
        raise ValueError(f"none of the sets {', '.join(CALIBRATION_SETS)} in this topography; "
                         f"available: {', '.join(topo.sets)}")
    for n in names:
        k = topo.sets[n].shape[0] if n in topo.sets else 0
        if n in topo.sets and k * (k - 1) // 2 < n_pairs:
            raise ValueError(f"set {n!r} has {k} vectors: fewer than n_pairs={n_pairs} pairs")
    kw = dict(n_pairs=n_pairs, seed=seed, sets=names, landscapes=landscapes, workers=workers,
              scheduler=scheduler, cache=cache)
    b_build = all_barriers(topo, config=build, **kw)
    b_ref = all_barriers(topo, config=reference, **kw)
    rows = []
    for key, bb in b_build.items():
        br = b_ref[key]
        for m in range(len(bb.height)):
            rows.append({"set": key[0], "landscape": key[1], "i": int(bb.pairs[m, 0]), "j": int(bb.pairs[m, 1]),
                         "height_build": float(bb.height[m]), "height_reference": float(br.height[m]),
                         "fine_build": np.nan if bb.fine_height is None else float(bb.fine_height[m]),
                         "fine_reference": np.nan if br.fine_height is None else float(br.fine_height[m])})
    frame = pd.DataFrame(rows)
    diff = (frame["height_build"] - frame["height_reference"]).to_numpy()
    boot = sps.bootstrap((diff,), np.mean, n_resamples=n_boot, confidence_level=level, method="percentile",
                         random_state=np.random.default_rng(seed))
    ratio = (frame["height_build"] / frame["height_reference"] - 1.0).to_numpy()
    rho = sps.spearmanr(frame["height_build"], frame["height_reference"])
    groups = []
    for (name, which), g in frame.groupby(["set", "landscape"], sort=False):
        r = sps.spearmanr(g["height_build"], g["height_reference"]) if len(g) >= 3 else None
        groups.append({"set": name, "landscape": which, "n": len(g),
                       "bias": float((g["height_build"] - g["height_reference"]).mean()),
                       "spearman": float(r.statistic) if r is not None else float("nan")})
    fn = claims if claims_fn is None else claims_fn
    ca, cb = fn(topo, b_build, None, n_boot=n_boot, seed=seed), fn(topo, b_ref, None, n_boot=n_boot, seed=seed)
    keys = ["claim", "a", "b"]
    base = fn(topo, None, None, n_boot=n_boot, seed=seed)  # the rows that need no barriers
    both = ca.merge(cb, on=keys, suffixes=("_build", "_reference"))
    if len(base):
        both = both.merge(base[keys].drop_duplicates(), on=keys, how="left", indicator=True)
        both = both[both["_merge"] == "left_only"]
    dep = both
    verdicts = pd.DataFrame({"claim": dep["claim"], "a": dep["a"], "b": dep["b"],
                             "verdict_build": dep["verdict_build"], "verdict_reference": dep["verdict_reference"],
                             "changed": dep["verdict_build"] != dep["verdict_reference"]}).reset_index(drop=True)
    return PathCalibration(build, reference, frame, float(diff.mean()),
                           (float(boot.confidence_interval.low), float(boot.confidence_interval.high)),
                           float(np.median(ratio)), float(rho.statistic), float(rho.pvalue),
                           pd.DataFrame(groups), verdicts, level)


def all_sharpness(topo: Topography, *, sets: Sequence[str] | None = None, n_probes: int = 10,
                  n_data: int | None = None, lanczos_steps: int = 30,
                  progress: bool = False) -> dict[str, SharpnessSet]:
    """Top Hessian eigenvalue and Hutchinson trace of the training loss at every vector of every set.

    ``n_data``: use the first ``n_data`` training images (``None``: all).
    """
    x, y = topo.xy("train")
    if n_data is not None:
        x, y = x[:n_data], y[:n_data]
    names = list(sets) if sets is not None else list(topo.sets)
    return {n: landscape.sharpness_set(topo.model, x, y, topo.sets[n], set_name=n, n_probes=n_probes,
                                       lanczos_steps=lanczos_steps,
                                       progress=progress) for n in names}


def sharpness_frame(sharp: Mapping[str, SharpnessSet]) -> pd.DataFrame:
    """Long table: set, k, top_eigenvalue, trace, trace_se."""
    return pd.DataFrame([{"set": n, "k": k, "top_eigenvalue": s.top_eigenvalue[k], "trace": s.trace[k],
                          "trace_se": s.trace_se[k]} for n, s in sharp.items() for k in range(len(s.trace))])


def vector_spread(sets: Mapping[str, Tensor]) -> dict[str, np.ndarray]:
    """Standard deviation of the components of each vector separately: ``(K,)`` per set.

    Table S1 pools all ``K * d`` numbers of a set into one standard deviation; this
    per-vector version gives ``K`` values per set, so two sets can be compared with a test.
    """
    return {k: v.detach().double().std(dim=1, unbiased=False).numpy() for k, v in landscape.check_sets(sets).items()}


def verdict(c: stats.Comparison | stats.Separation, expect: str, alpha: float = 0.05) -> str:
    """``supported`` / ``contradicted`` / ``not resolved`` for an expected direction.

    ``expect``: ``"greater"`` or ``"less"`` (a Comparison of a vs b), ``"not greater"``
    (no excess of a over b expected: ``contradicted`` / ``not contradicted``),
    ``"separates"`` or ``"no separation"`` (a Separation).
    """
    if isinstance(c, stats.Separation):
        if expect == "separates":
            return "supported" if c.p < alpha and c.auc_ci[0] > 0.5 else "not resolved"
        if expect == "no separation":
            return "supported" if c.p >= alpha else "contradicted"
        raise ValueError(f"expect={expect!r} for a Separation; valid: 'separates', 'no separation'")
    if expect == "not greater":  # the paper's autoencoder exception: no BFGS excess expected
        return "contradicted" if c.supports("greater", alpha) else "not contradicted"
    if expect not in ("greater", "less"):
        raise ValueError(f"expect={expect!r} for a Comparison; valid: 'greater', 'less', 'not greater'")
    other = "less" if expect == "greater" else "greater"
    if c.supports(expect, alpha):
        return "supported"
    if c.supports(other, alpha):
        return "contradicted"
    return "not resolved"


def _fmt(c: stats.Comparison | stats.Separation) -> str:
    if isinstance(c, stats.Separation):
        return (f"AUC = {c.auc:.2f} [{c.auc_ci[0]:.2f}, {c.auc_ci[1]:.2f}], permutation p = {c.p:.3g}, "
                f"n = {c.n_a}/{c.n_b}")
    return (f"P(A > B) = {c.cl:.2f} [{c.cl_ci[0]:.2f}, {c.cl_ci[1]:.2f}], Mann–Whitney p = {c.p:.3g}, "
            f"n = {c.n_a}/{c.n_b}")


def claims(topo: Topography, bars: Mapping[tuple[str, str], Barriers] | None = None,
           sharp: Mapping[str, SharpnessSet] | None = None, *, kpca_gamma: float | str | None = "median",
           alpha: float = 0.05, n_boot: int = 2000, seed: int = 0) -> pd.DataFrame:
    """The paper's claims tested on ``topo`` (one architecture at one profile).

    Returns one row per test with columns ``claim``, ``evidence`` (the paper's
    figure or table), ``a``, ``b`` (the sets compared: "A" and "B" of the result),
    ``expect``, ``effect``, ``lo``, ``hi``, ``p``, ``result`` (text) and ``verdict``.
    Comparisons are one-sided in the paper's direction; ``verdict`` also reports a
    significant effect in the opposite direction. For the autoencoder the paper
    itself expects no lower SGD barriers, so those rows expect ``"not greater"``.

    Example: synthetic sets of 12 vectors, BFGS on a sphere of radius 2, SGD on radius 1.

    >>> import torch
    >>> from lls_core import models
    >>> g = torch.Generator().manual_seed(0)
    >>> u = torch.randn(3, 12, 300, generator=g, dtype=torch.float64)
    >>> u = u / u.norm(dim=2, keepdim=True)
    >>> sets = {"BFGS-train": 2 * u[0], "SGD-train": u[1], "SGD-test": u[2]}
    >>> topo = Topography("fcp", "demo", 12, 12, models.build("fcp"), None, sets)
    >>> table = claims(topo, n_boot=200)
    >>> table.loc[0, "claim"], table.loc[0, "verdict"]
    ('BFGS weights more spread (per-vector s.d.)', 'supported')
    """
    rows: list[dict[str, Any]] = []
    s = topo.sets

    def add(claim: str, evidence: str, a: str, b: str, res: stats.Comparison | stats.Separation, expect: str) -> None:
        eff, lo, hi = ((res.auc, *res.auc_ci) if isinstance(res, stats.Separation) else (res.cl, *res.cl_ci))
        rows.append({"claim": claim, "evidence": evidence, "a": a, "b": b, "expect": expect, "effect": eff,
                     "lo": lo, "hi": hi, "p": res.p, "result": _fmt(res), "verdict": verdict(res, expect, alpha)})

    cmp = dict(n_boot=n_boot, seed=seed)
    ae = topo.arch == "autoencoder"
    if bars:
        for w, fig in (("train", "Fig. 4"), ("test", "Fig. S2")):
            for pair in (("BFGS-train", "SGD-train"), ("BFGS-test", "SGD-test")):
                if (pair[0], w) in bars and (pair[1], w) in bars:
                    a, b = bars[(pair[0], w)].height, bars[(pair[1], w)].height
                    if min(a.size, b.size) < 2:
                        continue
                    claim = (f"SGD barriers lower than BFGS ({w} landscape)" if not ae else
                             f"autoencoder exception: SGD barriers not lower ({w} landscape)")
                    add(claim, fig, pair[0], pair[1], stats.compare(a, b, alternative="greater", **cmp),
                        "not greater" if ae else "greater")
    if "BFGS-train" in s and "SGD-train" in s:
        spread = vector_spread(s)
        add("BFGS weights more spread (per-vector s.d.)", "Table S1", "BFGS-train", "SGD-train",
            stats.compare(spread["BFGS-train"], spread["SGD-train"], alternative="greater", **cmp), "greater")
    if "BFGS-train" in s and "SGD-test" in s:
        dist = landscape.distances(s, between=("BFGS-train", "SGD-test"))
        add("BFGS vectors longer (distance from the common origin)", "Fig. 5", "BFGS-train", "SGD-test",
            stats.compare(dist.distance["BFGS-train"], dist.distance["SGD-test"], alternative="greater", **cmp),
            "greater")
        for kernel, expect, claim in (("rbf", "separates", "RBF kernel PCA separates the sets along PC1"),
                                      ("linear", "no separation", "linear PCA does not separate them")):
            kp = landscape.kernel_pca(s["BFGS-train"], s["SGD-test"], kernel=kernel, gamma=kpca_gamma,
                                      names=("BFGS-train", "SGD-test"))
            add(claim, "Fig. 6", "BFGS-train", "SGD-test",
                stats.separation(kp.pc1, kp.labels, n_boot=n_boot, n_perm=n_boot, seed=seed), expect)
    if sharp:
        for pair in (("BFGS-train", "SGD-train"), ("BFGS-test", "SGD-test")):
            if pair[0] in sharp and pair[1] in sharp:
                add("SGD minima flatter (top Hessian eigenvalue)", "inferred, not measured", pair[0], pair[1],
                    stats.compare(sharp[pair[0]].top_eigenvalue, sharp[pair[1]].top_eigenvalue,
                                  alternative="greater", **cmp), "greater")
    return pd.DataFrame(rows)


def resemblance(topo: Topography, bars: Mapping[tuple[str, str], Barriers] | None = None,
                sharp: Mapping[str, SharpnessSet] | None = None, *, third: str = "LBFGS-train",
                refs: tuple[str, str] = ("BFGS-train", "SGD-train"), n_boot: int = 2000,
                seed: int = 0) -> pd.DataFrame:
    """Does set ``third`` look more like ``refs[0]`` or like ``refs[1]``?

    For each measurement available (barrier height on the training landscape,
    distance from the mean of the three sets' centroids, per-vector spread,
    top Hessian eigenvalue) it compares ``third`` with each reference set by the
    common-language effect size ``P(third > ref)``: 0.5 means indistinguishable.
    ``closer_to`` names the reference whose effect size lies nearer 0.5, and
    ``distinct_from`` lists the references from which ``third`` differs
    significantly (two-sided Mann–Whitney p < 0.05). Columns: ``metric``,
    ``cl_<ref>``, ``lo_<ref>``, ``hi_<ref>``, ``p_<ref>`` for both references,
    ``closer_to``, ``distinct_from``.
    """
    s = topo.sets
    for n in (third, *refs):
        if n not in s:
            raise KeyError(f"no weight set {n!r}; available: {', '.join(s)}")
    metrics: dict[str, dict[str, np.ndarray]] = {}
    if bars and all((n, "train") in bars for n in (third, *refs)):
        metrics["barrier height (train landscape)"] = {n: bars[(n, "train")].height for n in (third, *refs)}
    # Origin: the mean of the three centroids. Every vector then pulls the origin towards
    # itself by the same 1/(3K), so no set gets shorter distances just by having defined it.
    trio = {n: s[n] for n in (third, *refs)}
    origin = sum(landscape.centroid(v) for v in trio.values()) / 3
    dist = landscape.distances(trio, between=refs, origin=origin)
    metrics["distance from the common origin"] = {n: dist.distance[n] for n in trio}
    spread = vector_spread({n: s[n] for n in (third, *refs)})
    metrics["per-vector s.d. of the weights"] = spread
    if sharp and all(n in sharp for n in (third, *refs)):
        metrics["top Hessian eigenvalue"] = {n: sharp[n].top_eigenvalue for n in (third, *refs)}
        metrics["Hessian trace"] = {n: sharp[n].trace for n in (third, *refs)}
    rows = []
    for name, vals in metrics.items():
        row: dict[str, Any] = {"metric": name}
        dev = {}
        sig = []
        for r in refs:
            if min(vals[third].size, vals[r].size) < 2:
                break
            c = stats.compare(vals[third], vals[r], n_boot=n_boot, seed=seed)
            row.update({f"cl_{r}": c.cl, f"lo_{r}": c.cl_ci[0], f"hi_{r}": c.cl_ci[1], f"p_{r}": c.p})
            dev[r] = abs(c.cl - 0.5)
            if c.p < 0.05:
                sig.append(r)
        else:
            row["closer_to"] = min(dev, key=dev.get) if dev[refs[0]] != dev[refs[1]] else "tie"
            row["distinct_from"] = ", ".join(sig) if sig else "neither"
            rows.append(row)
    return pd.DataFrame(rows)


def published_table_s1(path: str | os.PathLike | None = None) -> pd.DataFrame:
    """Yu & Morozov's Table S1 (published values) as a DataFrame: ``arch``, ``set``, ``mean``, ``std``.

    Read from the shipped ``published/yu_morozov_table_s1.csv`` (or ``path``; ``#`` lines name the source; its
    ``weight_set`` column is returned as ``set``).
    """
    p = path if path is not None else resources.files("published", "yu_morozov_table_s1.csv")
    df = resources.read_csv(p)
    if "weight_set" in df.columns and "set" not in df.columns:  # the training chapter's column name
        df = df.rename(columns={"weight_set": "set"})
    missing = {"arch", "set", "mean", "std"} - set(df.columns)
    if missing:
        raise ValueError(f"{p} lacks columns {sorted(missing)}; has {list(df.columns)}")
    return df
