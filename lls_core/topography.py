"""The topography study's part 2, end to end: weight sets -> barriers, geometry, sharpness -> claims.

This module joins :mod:`lls_core.study` (the trained weight sets, reused from the
artifact store) with :mod:`lls_core.landscape` (the analyses on plain tensors) and
:mod:`lls_core.stats` (tests with effect sizes) so that a chapter is a few short
calls::

    topo = topography.load("fcp", "quick", n_inits=16, k_best=12)
    bars = topography.all_barriers(topo, n_pairs=6, config=topography.PATH_PROFILES["quick"])  # disjoint pairs
    table = topography.claims({"fcp": topo}, {"fcp": bars}, {"fcp": topography.all_sharpness(topo)})
    table.frame                                   # one row per claim, architecture and pair of sets

Barrier paths are kept in the artifact store (``<root>/pairs/<arch>``, :func:`pair_store`): a chapter rerun, or a
second chapter asking for the same pairs with the same settings, loads them
instead of recomputing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from typing import Any, Literal, Mapping, Sequence

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn

from lls_core import checks, data, landscape, models, pathfinder, resources, stats
from lls_core.landscape import PairPaths, PathConfig, SharpnessSet
from lls_core.store import PairStore

__all__ = [
    "PATH_PROFILES",
    "SET_ORDER",
    "Topography",
    "load",
    "pair_store",
    "all_barriers",
    "barrier_frame",
    "AUTHORS_PATHS",
    "Understatement",
    "PathSummary",
    "path_summary",
    "LOSS_TOL",
    "LOSS_RTOL",
    "max_at_end",
    "UNDERSTATED_REL",
    "height_understatement",
    "PathCalibration",
    "spread_ratio_text",
    "distance_text",
    "same_sets",
    "same_sets_text",
    "sharpness_text",
    "resemblance_text",
    "calibrate_paths",
    "all_sharpness",
    "sharpness_frame",
    "vector_spread",
    "claims",
    "Claims",
    "CLAIM_COLUMNS",
    "claims_changes",
    "claims_beside",
    "ClaimsBeside",
    "BARRIER_CLAIMS",
    "disjoint_subset",
    "verdict",
    "MARGIN_AUC",
    "MARGIN_CL",
    "MARGIN_RATIO",
    "SMALL_GAP",
    "MIN_UNITS",
    "sensitivity",
    "Sensitivity",
    "SENSITIVITY_LAMS",
    "GSS_MODES",
    "Pairing",
    "resemblance",
    "resembles",
    "trio_distances",
    "Resemblance",
    "resemblance_answer",
    "third_barriers",
    "KPCA_KERNELS",
    "KPCA_PAIRS",
    "KPCASeparation",
    "kpca_separation",
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
as the authors' 100 steps at 1e-3; about 0.7 CPU seconds per FCP path and 1.8 per
autoencoder path, fine grid included, in a process set up by :func:`lls_core.runtime.configure`). Fewer points leave the 10 Fourier terms underdetermined: at 11 points and 15
steps the FCP heights on the training landscape were 17 times the authors' and the
fine-grid maximum 18 times the discrete one. How far ``quick`` is from the authors'
settings is measured on a sample of pairs (``python -m lls_core.results calibrate-paths``). ``lam`` = 1e-3 everywhere (the PathConfig default:
the authors' network code, commits d1697ac, 5a68028, e11b717; the path-finder chapter
sweeps it from 1e-4 to 1 on an FCP pair). The
small profiles evaluate all path points and images in one batched call; ``paper``
bounds each call's autograd graph to 8 GiB."""

SET_ORDER: tuple[str, ...] = ("BFGS-train", "BFGS-test", "SGD-train", "SGD-test", "LBFGS-train", "LBFGS-test")


@dataclass(frozen=True, eq=False)
class Topography:
    """One architecture's weight sets with the network and data they were trained on.

    ``sets[name]``: ``(K, d)`` float tensors in :data:`SET_ORDER`; ``train_losses`` /
    ``test_losses``: per-set mean loss of the K vectors on each landscape; ``seeds[name]``:
    the training seed of each row of ``sets[name]`` (``K`` ints; empty when not known).
    """

    arch: str
    profile: str
    n_inits: int
    k_best: int
    model: nn.Module
    dataset: data.Dataset
    sets: dict[str, Tensor]
    store_root: str = field(default="")
    seeds: dict[str, tuple[int, ...]] = field(default_factory=dict)

    def same_sets(self) -> list[tuple[str, str]]:
        """Pairs ``(a, b)`` of sets (``a`` first in the order of ``sets``) that hold exactly the same vectors.

        A set of early-stopping weights equals its optimizer's set of training weights when every
        run's test loss was lowest where its training loss was (the autoencoder's runs: the test
        loss falls as long as the training loss does); a comparison between the two is then zero
        by construction, not a finding. Example: ``[("BFGS-train", "BFGS-test")]``.
        """
        return same_sets(self.sets)

    def xy(self, which: str) -> tuple[Tensor, Tensor]:
        """Images and labels of the ``"train"`` or ``"test"`` landscape."""
        if which == "train":
            return self.dataset.x_train, self.dataset.y_train
        checks.name("which", which, landscape.LANDSCAPES, what="landscape")
        return self.dataset.x_test, self.dataset.y_test


def load(arch: str, profile: str = "quick", *, n_inits: int | None = None, k_best: int | None = None,
         optimizers: Sequence[str] = ("sgd", "lbfgs_gss", "lbfgs"), store: Any = None,
         workers: int | None = None, progress: bool = False, scheduler: Any = None,
         gss_variant: Literal["authors", "safe"] | None = None,
         counts: Mapping[str, tuple[int, int]] | None = None) -> Topography:
    """Weight sets of ``arch`` under study profile ``profile`` (optionally with more or fewer
    initialisations ``n_inits`` and kept runs ``k_best``), trained or reused from the store.
    ``scheduler``: a Dask scheduler address for the missing runs (see :mod:`lls_core.cluster`).
    ``gss_variant``: train L-BFGS-GSS in that mode (``"authors"``, the profile's, or ``"safe"``,
    :class:`lls_core.lbfgs_gss.LBFGSGSS`) instead of the profile's. ``counts``:
    ``{optimizer: (n_inits, k_best)}`` for optimizers whose sets are smaller than the
    others' (e.g. ``{"lbfgs": (8, 6)}``: the third optimizer, trained one run at a time);
    the topography's ``n_inits`` / ``k_best`` are those of the other optimizers.

    >>> topo = load("fcp", "smoke", n_inits=3, k_best=2, counts={"lbfgs": (2, 1)}, workers=1)  # doctest: +SKIP
    >>> {k: tuple(v.shape) for k, v in topo.sets.items()}["LBFGS-train"]  # doctest: +SKIP
    (1, 42200)
    """
    import dataclasses

    from lls_core import study, train

    models.check_arch(arch)
    for o in optimizers:
        train.check_optimizer(o, "optimizers")
    if gss_variant is not None and gss_variant not in GSS_MODES:
        raise ValueError(f"gss_variant={gss_variant!r}; valid: None, {', '.join(GSS_MODES)}")
    counts = dict(counts or {})
    for o, c in counts.items():
        if o not in optimizers:
            raise ValueError(f"counts names optimizer {o!r}, which is not loaded; valid: {', '.join(optimizers)}")
        if (not isinstance(c, (tuple, list)) or len(c) != 2 or any(isinstance(v, bool) or not isinstance(v, int) for v in c)
                or not 1 <= c[1] <= c[0]):
            raise ValueError(f"counts[{o!r}]={c!r}: expected (n_inits, k_best) with 1 <= k_best <= n_inits")
    prof = study.get_profile(profile)
    changes = {k: v for k, v in (("n_inits", n_inits), ("k_best", k_best)) if v is not None}
    if changes:
        prof = prof.replace(**changes)
    if gss_variant is not None:
        cfg = dataclasses.replace(prof.config("lbfgs_gss", arch), variant=gss_variant)
        over = tuple((a, o, cfg if (a, o) == (arch, "lbfgs_gss") else c) for a, o, c in prof.arch_overrides)
        prof = dataclasses.replace(prof.replace(lbfgs_gss=cfg), arch_overrides=over)
    main = [o for o in optimizers if o not in counts]
    kw = dict(store=store, workers=workers, progress=progress, scheduler=scheduler)
    raw: dict[str, Tensor] = {}
    seeds: dict[str, tuple[int, ...]] = {}
    root = ""
    for opts, p in [(main, prof)] + [([o], prof.replace(n_inits=c[0], k_best=c[1])) for o, c in counts.items()]:
        if opts:
            res = study.run_study(arch, p, opts, **kw)
            raw.update(res.weight_sets())
            for o in opts:  # the rows of weight_sets() are the best runs, in this order
                s = tuple(r.seed for r in res.best(o))
                cls: Any = study.NETWORK_OPTIMIZERS[o]
                seeds.update({f"{cls.set_prefix}-{w}": s for w in ("train", "test")})
            root = res.store_root
    sets = {k: raw[k] for k in SET_ORDER if k in raw}
    sets.update({k: v for k, v in raw.items() if k not in sets})
    ds = data.load(prof.dataset, n_train=prof.n_train, n_test=prof.n_test, seed=prof.split_seed)
    model = models.build(arch, activation=prof.activation)
    n, k = prof.counts(arch)
    return Topography(arch, prof.name, n, k, model, ds, sets, root, {k: seeds[k] for k in sets if k in seeds})


def pair_store(topo: Topography) -> PairStore:
    """Where finished paths are kept: the pairs of ``topo.arch`` in the artifact store the weight
    sets came from (``<root>/pairs/<arch>/``, :class:`lls_core.store.PairStore`)."""
    from lls_core.store import Store

    return Store(topo.store_root or None).pairs(topo.arch)


Pairing = Literal["disjoint", "random"]


def all_barriers(topo: Topography, *, n_pairs: int, config: PathConfig, seed: int = 0,
                 sets: Sequence[str] | None = None, landscapes: Sequence[str] = landscape.LANDSCAPES,
                 workers: int = 1, client: Any = None, progress: bool = False,
                 cache: bool = True, scheduler: Any = None,
                 pairing: Pairing = "random",
                 pair_batch: int = landscape.PAIR_BATCH) -> dict[tuple[str, str], PairPaths]:
    """PairPaths of ``n_pairs`` pairs of every set on every landscape.

    ``pairing="disjoint"``: at most ``K // 2`` pairs that use every solution at most once
    (:func:`lls_core.landscape.disjoint_pairs`), so that the heights are independent samples
    for :func:`claims`; sets of equal size get the same pairs, so a set's training and
    early-stopping weights are paired run for run. ``"random"`` (default): up to all
    ``K (K - 1) / 2`` distinct pairs, which share end points (for histograms; :func:`claims`
    then tests their largest disjoint subset only).

    ``workers > 1`` starts a Dask ``LocalCluster`` of that many single-threaded
    processes (bound to 127.0.0.1) for the duration of the call, once some path is
    missing from the cache; ``scheduler`` (``"tcp://HOST:PORT"``) connects to a running
    cluster instead, or pass a running ``client``. The same pairs (``seed``) are used
    on both landscapes. ``pair_batch``: pairs found together and stored together
    (:func:`lls_core.landscape.pair_paths`); on a CPU batching gains little, and 1 stores each
    pair as it finishes, so a long call that is stopped loses at most one pair's work.
    """
    names = list(sets) if sets is not None else list(topo.sets)
    landscape.need_sets(topo.sets, *names)
    if pairing not in ("disjoint", "random"):
        raise ValueError(f"pairing={pairing!r}; valid: 'disjoint', 'random'")
    checks.integer("n_pairs", n_pairs, min=1)
    checks.integer("workers", workers, min=1)
    checks.integer("pair_batch", pair_batch, min=1)
    from lls_core import cluster

    addr = cluster.check_scheduler(scheduler)  # a bad address fails here, before any work
    own = None
    if client is None and (workers > 1 or addr is not None):
        own = _LazyClient(workers, addr)  # connects or starts a cluster only if some path is not in the store
        client = own
    try:
        out: dict[tuple[str, str], PairPaths] = {}
        for name in names:
            k = topo.sets[name].shape[0]
            if pairing == "disjoint":
                p = min(n_pairs, k // 2)
                pairs = landscape.disjoint_pairs(k, p, seed) if p >= 1 else None
            else:
                p, pairs = min(n_pairs, k * (k - 1) // 2), None
            for which in landscapes:
                x, y = topo.xy(which)
                out[(name, which)] = landscape.pair_paths(
                    topo.model, x, y, topo.sets[name], n_pairs=p, seed=seed, config=config, set_name=name,
                    landscape=which, client=client, store=pair_store(topo) if cache else None,
                    progress=progress, pairs=pairs, pair_batch=pair_batch)
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


def barrier_frame(results: Mapping[tuple[str, str], PairPaths]) -> pd.DataFrame:
    """Long table, one row per path: set, landscape, i, j, height, linear_height, barrier, length, seconds."""
    rows = []
    for (name, which), b in results.items():
        for k in range(len(b.height)):
            rows.append({"set": name, "landscape": which, "i": int(b.pairs[k, 0]), "j": int(b.pairs[k, 1]),
                         "height": b.height[k], "linear_height": b.linear_height[k], "barrier": b.barrier[k],
                         "endpoint_loss": b.endpoint_loss[k], "length": b.length[k], "seconds": b.seconds[k],
                         "fine_height": np.nan if b.fine_height is None else b.fine_height[k],
                         "max_t": np.nan if b.max_t is None else b.max_t[k]})
    return pd.DataFrame(rows)


UNDERSTATED_REL: float = 0.01
"""A path's discrete height counts as understated when its fine-grid maximum is higher by more than this
fraction of it (1 %)."""


LOSS_TOL: float = 1e-9
"""Loss differences (nats or MSE) this small are float rounding: the search "lowered" a path when its height is
below the straight line's by more than this, and :func:`max_at_end` counts a barrier this small as none."""

LOSS_RTOL: float = 1e-6
"""Relative float32 rounding of a loss: an end point's loss evaluated twice, in differently sized chunks, agrees
to about this (:func:`max_at_end`)."""


def max_at_end(height: Any, endpoint_loss: Any) -> np.ndarray:
    """Whether each path's maximum sits at an end point: ``(P,)`` bool from ``height`` and ``endpoint_loss`` ``(P,)``.

    The one rule of the book: the barrier ``height - endpoint_loss`` (loss units) is at most
    :data:`LOSS_TOL`, or at most :data:`LOSS_RTOL` of the end point's loss (the same loss
    evaluated in other chunks). There the path is no barrier: its highest point is the
    higher end point, which no path search moves. NaN heights count as not at an end.

    >>> max_at_end([1.0, 2.0, 0.3], [0.5, 2.0, 0.3 * (1 + 1e-7)]).tolist()
    [False, True, True]
    """
    h = np.asarray(height, float)
    e = np.asarray(endpoint_loss, float)
    if h.shape != e.shape:
        raise ValueError(f"height {h.shape} and endpoint_loss {e.shape} must have the same shape")
    return (h - e) <= np.maximum(LOSS_TOL, LOSS_RTOL * np.abs(e))


@dataclass(frozen=True, eq=False)
class PathSummary:
    """What the path search did, over the paths of :func:`barrier_frame` (with an ``arch`` column).

    ``table``: per network, landscape and set, the median height, median higher end-point loss, median
    barrier (the excess over that end point) and the share of paths whose maximum sits at an end point
    (:func:`max_at_end`). ``facts()``: ``lowered_pct`` (paths whose found height is below the straight
    line's), ``height_ratio`` (median found height over the line's), ``test_at_end_pct`` (test-landscape
    paths with their maximum at an end point).
    """

    table: pd.DataFrame
    lowered_pct: float
    height_ratio: float
    test_at_end_pct: float

    def facts(self) -> dict[str, float]:
        return {"lowered_pct": self.lowered_pct, "height_ratio": self.height_ratio,
                "test_at_end_pct": self.test_at_end_pct}


def path_summary(frame: pd.DataFrame) -> PathSummary:
    """:class:`PathSummary` of a path frame (columns ``arch``, ``landscape``, ``set``, ``height``,
    ``linear_height``, ``barrier``, ``endpoint_loss``: :func:`barrier_frame` plus ``arch``)."""
    need = {"arch", "landscape", "set", "height", "linear_height", "barrier", "endpoint_loss"}
    missing = need - set(frame.columns)
    if missing:
        raise ValueError(f"path_summary needs columns {sorted(need)}; missing {sorted(missing)}")
    if frame.empty:
        raise ValueError("path_summary needs at least one path; the frame is empty")
    at_end = pd.Series(max_at_end(frame["height"], frame["endpoint_loss"]), index=frame.index)
    table = frame.assign(at_end=at_end).groupby(["arch", "landscape", "set"], sort=False).agg(
        median_height=("height", "median"), median_endpoint=("endpoint_loss", "median"),
        median_excess=("barrier", "median"), share_max_at_end=("at_end", "mean"))
    test = frame["landscape"] == "test"
    return PathSummary(
        table=table,
        lowered_pct=100 * float((frame["height"] < frame["linear_height"] - LOSS_TOL).mean()),
        height_ratio=float((frame["height"] / frame["linear_height"]).median()),
        test_at_end_pct=100 * float(at_end[test].mean()) if test.any() else float("nan"))


@dataclass(frozen=True, eq=False)
class Understatement:
    """How far the height on a path's own points (Eq. 5) understates its maximum on the fine grid.

    ``frame``: one row per set and landscape with ``n`` (pairs with a fine grid),
    ``median`` / ``max`` (absolute, loss units), ``median_relative`` / ``max_relative``
    (over the discrete height), ``share_understated`` (pairs understated by more than
    :data:`UNDERSTATED_REL` of their height)
    and ``share_at_end`` (pairs whose maximum sits at an end point, :func:`max_at_end`:
    there the path is no barrier, the end point is the highest point); ``all``: the same
    over every pair.
    """

    frame: pd.DataFrame
    all: dict[str, float]

    def facts(self) -> dict[str, float]:
        """The pooled figures: ``pairs``, ``median``, ``max``, ``median_relative``, ``max_relative``,
        ``share_understated``, ``share_at_end``, and the settings behind them: ``understated_rel``
        (:data:`UNDERSTATED_REL`) and ``fine_points`` (:data:`lls_core.pathfinder.FINE_POINTS`)."""
        return {**self.all, "understated_rel": UNDERSTATED_REL, "fine_points": pathfinder.FINE_POINTS}


def _under_row(h: np.ndarray, fine: np.ndarray, end: np.ndarray) -> dict[str, float]:
    ok = np.isfinite(fine) & np.isfinite(h)
    u = fine[ok] - h[ok]
    rel = u / np.where(np.abs(h[ok]) > 0, np.abs(h[ok]), np.inf)
    at_end = max_at_end(h[ok], end[ok])
    nan = float("nan")
    return {"pairs": int(ok.sum()), "median": float(np.median(u)) if u.size else nan,
            "max": float(u.max()) if u.size else nan,
            "median_relative": float(np.median(rel)) if rel.size else nan,
            "max_relative": float(rel.max()) if rel.size else nan,
            "share_understated": float((rel > UNDERSTATED_REL).mean()) if rel.size else nan,
            "share_at_end": float(at_end.mean()) if at_end.size else nan}


def height_understatement(results: Mapping[tuple[str, str], PairPaths]) -> Understatement:
    """Per set and landscape, how far the discrete path height understates the fine-grid one.

    Reads ``height``, ``endpoint_loss`` and ``fine_height`` of :func:`all_barriers`' results (paths found with
    ``PathConfig.fine_points`` > 0; pairs without a fine grid are left out, ``n`` counts
    the rest). Example: ``height_understatement(bars).facts()["median_relative"]``.
    """
    if not results:
        raise ValueError("no barrier results given")
    rows, hs, fs, es = [], [], [], []
    for (name, which), b in results.items():
        fine = np.full(b.height.shape, np.nan) if b.fine_height is None else np.asarray(b.fine_height, float)
        end = np.asarray(b.endpoint_loss, float)
        rows.append({"set": name, "landscape": which, **_under_row(np.asarray(b.height, float), fine, end)})
        hs.append(np.asarray(b.height, float))
        fs.append(fine)
        es.append(end)
    frame = pd.DataFrame(rows).rename(columns={"pairs": "n"})
    return Understatement(frame, _under_row(np.concatenate(hs), np.concatenate(fs), np.concatenate(es)))


@dataclass(frozen=True, eq=False)
class PathCalibration:
    """The build's path settings against the authors' on one sample of pairs (:func:`calibrate_paths`).

    ``frame``: one row per pair (``set``, ``landscape``, ``i``, ``j``, ``height_build``,
    ``height_reference``, ``fine_build``, ``fine_reference``, ``linear_build``,
    ``linear_reference``: the straight line's height on each setting's images, ``endpoint_build``,
    ``endpoint_reference``: the higher end point's loss on them); ``bias``: mean of
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
                    claims_fn: Any = None, pairing: Pairing = "random",
                    pair_batch: int = landscape.PAIR_BATCH) -> PathCalibration:
    """Run one sample of pairs under the build's path settings and the authors', and compare.

    ``n_pairs`` (>= 8) pairs of each set in ``sets`` (default: those of
    :data:`CALIBRATION_SETS` that ``topo`` has) on each landscape, the same pairs under
    both settings (:func:`all_barriers` with ``seed``; stored pairs are reused, so pairs
    the chapter already computed under the build's settings cost nothing). Returns the
    bias of the heights, their rank correlation and which claim verdicts change (the
    claims table of ``claims_fn(topo, bars)``, default :func:`claims`, computed from
    each setting's barriers; rows that do not depend on the barriers are left out).
    A set that holds the same vectors as an earlier one (:func:`same_sets`: the autoencoder's
    early-stopping weights) is left out: its paths are the earlier set's, and counting them twice
    would narrow every interval.
    ``pairing`` as in :func:`all_barriers`: ``"disjoint"`` takes the first ``n_pairs`` of the
    disjoint pairs a chapter draws with the same ``seed`` (independent heights; the build's
    paths are then those the chapter stored), ``"random"`` a sample that may share end points.
    ``pair_batch`` as in :func:`all_barriers`.

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
    copies = {b for a, b in same_sets({n: topo.sets[n] for n in names if n in topo.sets})}
    names = [n for n in names if n not in copies]  # the same vectors again: the same paths, counted twice
    if pairing not in ("disjoint", "random"):
        raise ValueError(f"pairing={pairing!r}; valid: 'disjoint', 'random'")
    for n in names:
        k = topo.sets[n].shape[0] if n in topo.sets else 0
        most = k // 2 if pairing == "disjoint" else k * (k - 1) // 2
        if n in topo.sets and most < n_pairs:
            raise ValueError(f"set {n!r} has {k} vectors: fewer than n_pairs={n_pairs} {pairing} pairs")
    kw = dict(n_pairs=n_pairs, seed=seed, sets=names, landscapes=landscapes, workers=workers,
              scheduler=scheduler, cache=cache, pairing=pairing, pair_batch=pair_batch)
    b_build = all_barriers(topo, config=build, **kw)
    b_ref = all_barriers(topo, config=reference, **kw)
    rows = []
    for key, bb in b_build.items():
        br = b_ref[key]
        for m in range(len(bb.height)):
            rows.append({"set": key[0], "landscape": key[1], "i": int(bb.pairs[m, 0]), "j": int(bb.pairs[m, 1]),
                         "height_build": float(bb.height[m]), "height_reference": float(br.height[m]),
                         "fine_build": np.nan if bb.fine_height is None else float(bb.fine_height[m]),
                         "fine_reference": np.nan if br.fine_height is None else float(br.fine_height[m]),
                         "linear_build": float(bb.linear_height[m]), "linear_reference": float(br.linear_height[m]),
                         "endpoint_build": float(bb.endpoint_loss[m]),
                         "endpoint_reference": float(br.endpoint_loss[m])})
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
    keys = ["claim", "a", "b", "landscape"]

    def barrier_claims(b: Mapping[tuple[str, str], PairPaths]) -> pd.DataFrame:
        # the verdicts are tested on disjoint pairs (independent heights): the largest disjoint
        # subset of the sampled pairs, the same pairs under both settings
        res = fn(topo, {k: disjoint_subset(v) for k, v in b.items()}, None, n_boot=n_boot, seed=seed,
                 keys=BARRIER_CLAIMS)
        return res.computed() if isinstance(res, Claims) else res

    ca, cb = barrier_claims(b_build), barrier_claims(b_ref)
    dep = ca.merge(cb, on=keys, suffixes=("_build", "_reference"))
    verdicts = pd.DataFrame({"claim": dep["claim"], "a": dep["a"], "b": dep["b"],
                             "verdict_build": dep["verdict_build"], "verdict_reference": dep["verdict_reference"],
                             "changed": dep["verdict_build"] != dep["verdict_reference"]}).reset_index(drop=True)
    return PathCalibration(build, reference, frame, float(diff.mean()),
                           (float(boot.confidence_interval.low), float(boot.confidence_interval.high)),
                           float(np.median(ratio)), float(rho.statistic), float(rho.pvalue),
                           pd.DataFrame(groups), verdicts, level)


def all_sharpness(topo: Topography, *, sets: Sequence[str] | None = None, n_probes: int = 10,
                  n_data: int | None = None, lanczos_steps: int = 30, per_set: int | None = None, seed: int = 0,
                  progress: bool = False) -> dict[str, SharpnessSet]:
    """Top Hessian eigenvalue and Hutchinson trace of the training loss at every vector of every set.

    ``n_data``: use the first ``n_data`` training images (``None``: all). ``per_set``: measure
    only that many vectors of each set, a uniform random subset without replacement
    (deterministic in ``seed``; ``None``: every vector), for when a Hessian-vector product
    per probe and vector is too costly; the subset is drawn from the set's own K vectors,
    so sets of equal size share it run for run.
    """
    if per_set is not None and (isinstance(per_set, bool) or not isinstance(per_set, int) or per_set < 2):
        raise ValueError(f"per_set={per_set!r}: must be None or an integer >= 2")
    x, y = topo.xy("train")
    if n_data is not None:
        x, y = x[:n_data], y[:n_data]
    names = list(sets) if sets is not None else list(topo.sets)
    out = {}
    for n in names:
        W = topo.sets[n]
        if per_set is not None and per_set < W.shape[0]:
            W = W[np.sort(np.random.default_rng(seed).choice(W.shape[0], per_set, replace=False))]
        out[n] = landscape.sharpness_set(topo.model, x, y, W, set_name=n, n_probes=n_probes,
                                         lanczos_steps=lanczos_steps, progress=progress)
    return out


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
    """The verdict of one unadjusted test, through :func:`lls_core.stats.decide`.

    ``expect``: ``"greater"`` or ``"less"`` (a Comparison of a vs b), ``"not greater"``
    (P(a > b) below :data:`MARGIN_CL`'s upper end: ``no excess (supported)``),
    ``"separates"`` or ``"no separation"`` (a Separation; the latter an equivalence claim,
    AUC interval inside :data:`MARGIN_AUC`). :func:`claims` adjusts the p-values of all claims
    together (Holm) before deciding; this is the single-test version.
    """
    if isinstance(c, stats.Separation):
        if expect not in ("separates", "no separation"):
            raise ValueError(f"expect={expect!r} for a Separation; valid: 'separates', 'no separation'")
        tost = _tost(c.boot, MARGIN_AUC)
        if expect == "separates":
            return stats.decide("separates", c.auc_ci, 0.5, c.p, tost, margin=MARGIN_AUC, alpha=alpha)
        return stats.decide("equivalent", c.auc_ci, 0.5, tost, c.p, margin=MARGIN_AUC, alpha=alpha)
    if expect == "not greater":
        return stats.decide("not greater", c.cl_ci, 0.5, stats.boot_p(c.cl_boot, MARGIN_CL[1], "below"),
                            c.p_greater, margin=MARGIN_CL, alpha=alpha)
    if expect not in ("greater", "less"):
        raise ValueError(f"expect={expect!r} for a Comparison; valid: 'greater', 'less', 'not greater'")
    direction: Literal["greater", "less"] = "greater" if expect == "greater" else "less"
    p_for, p_other = (c.p_greater, c.p_less) if direction == "greater" else (c.p_less, c.p_greater)
    return stats.decide(direction, c.cl_ci, 0.5, p_for, p_other, alpha=alpha)


# ------------------------------------------------------------------ the claims table
MARGIN_AUC: tuple[float, float] = (0.35, 0.65)
"""Equivalence margin for "does not separate": the AUC interval must lie inside it."""
MARGIN_CL: tuple[float, float] = (0.35, 0.65)
"""Margin for "no higher" / "no difference" in P(A > B) (barriers, lengths)."""
MARGIN_RATIO: tuple[float, float] = (0.8, 1.25)
"""Margin for "nearly the same" ratio (the test-weight length gap over the training-weight gap)."""
SMALL_GAP: float = 0.5
""""Small" centroid gap: below half the spread (RMS distance of a solution from its own set's centroid)."""
MIN_UNITS: int = 5
"""Bootstrap rows over fewer solutions (or pairs) per group than this are not decided, nor are
margin (equivalence, no-excess) tests: the percentile bootstrap is then far too optimistic."""

_GROUP = {"BFGS-train": "BFGS", "BFGS-test": "BFGS", "SGD-train": "SGD", "SGD-test": "SGD",
          "LBFGS-train": "LBFGS", "LBFGS-test": "LBFGS"}
"""Sets taken from the same runs (training and early-stopping weights) share one bootstrap group."""


@dataclass(frozen=True)
class _Spec:
    key: str
    arch: str
    claim: str
    evidence: str
    kind: str
    sets: tuple[str, ...]
    landscape: str
    statistic: str
    expect: stats.Expectation
    null: float
    margin: tuple[float, float] | None = None
    kernel: str = ""

    @property
    def bounds(self) -> tuple[float, float]:
        """The equivalence margin of a claim that has one (``not greater``, ``equivalent``)."""
        if self.margin is None:
            raise ValueError(f"claim {self.key!r} ({self.expect}) has no margin")
        return self.margin


def _claim_specs(arch: str) -> list[_Spec]:
    """Every claim of Yu & Morozov (2026) that concerns ``arch``, in the order of the paper."""
    ae = arch == "autoencoder"
    out: list[_Spec] = []
    for w, fig in (("train", "Fig. 4"), ("test", "Fig. S2")):
        for a, b in (("BFGS-train", "SGD-train"), ("BFGS-test", "SGD-test")):
            if ae:
                out.append(_Spec("barriers_sgd_lower", arch, f"autoencoder exception: SGD barriers not lower ({w} landscape)",
                                 fig, "barrier", (a, b), w, "P(A > B), disjoint pairs", "not greater", 0.5, MARGIN_CL))
            else:
                out.append(_Spec("barriers_sgd_lower", arch, f"SGD barriers lower than BFGS ({w} landscape)", fig,
                                 "barrier", (a, b), w, "P(A > B), disjoint pairs", "greater", 0.5))
    higher = arch in ("fcp", "lstm")
    for a, b in (("BFGS-train", "BFGS-test"), ("SGD-train", "SGD-test")):
        opt = a.split("-")[0]
        text = (f"{opt} training-weight barriers higher than test-weight ones (train landscape)" if higher else
                f"{opt} training-weight barriers not higher than test-weight ones (train landscape)")
        out.append(_Spec("barriers_train_vs_test", arch, text, "Fig. 4 (text)", "barrier_paired", (a, b), "train",
                         "P(A > B), same pairs of runs", "greater" if higher else "not greater", 0.5,
                         None if higher else MARGIN_CL))
    for a, b in (("BFGS-train", "SGD-train"), ("BFGS-test", "SGD-test")):
        out.append(_Spec("spread", arch, "BFGS weights more spread (per-solution s.d.)", "Table S1", "spread", (a, b),
                         "—", "P(A > B), solutions", "greater", 0.5))
    out.append(_Spec("far_apart", arch, "BFGS solutions farther from one another", "Introduction", "pairwise",
                     ("BFGS-train", "SGD-train"), "—", "RMS distance between solutions, A / B", "greater", 1.0))
    out.append(_Spec("longer", arch, "BFGS vectors longer (distance from the common origin)", "Fig. 5", "distance",
                     ("BFGS-train", "SGD-test"), "—", "P(A > B), solutions", "greater", 0.5))
    out.append(_Spec("centroid_gap", arch, "centroid gap small against the spread", "Fig. 5 (text)", "centroid_gap",
                     ("BFGS-train", "SGD-test"), "—", "centroid gap / spread (debiased)", "less", SMALL_GAP))
    shrink = arch in ("fcp", "lenet")
    out.append(_Spec("test_gap", arch, "test-weight length gap shrinks" if shrink else
                     "test-weight length gap persists", "Fig. S3 (text)", "gap_ratio",
                     ("BFGS-test", "SGD-test", "BFGS-train"), "—", "length gap (test weights) / (training weights)",
                     "less" if shrink else "equivalent", 1.0, None if shrink else MARGIN_RATIO))
    out.append(_Spec("kpca_rbf", arch, "RBF kernel PCA separates the sets along PC1", "Fig. 6", "kpca",
                     ("BFGS-train", "SGD-test"), "—", "AUC of PC1", "separates", 0.5, MARGIN_AUC, "rbf"))
    for k, name in (("linear", "linear PCA"), ("poly", "polynomial kernel PCA"), ("sigmoid", "sigmoid kernel PCA")):
        out.append(_Spec(f"kpca_{k}", arch, f"{name} does not separate them", "Fig. 6 (text)", "kpca",
                         ("BFGS-train", "SGD-test"), "—", "AUC of PC1", "equivalent", 0.5, MARGIN_AUC, k))
    out.append(_Spec("kpca_rbf_test", arch, "RBF separation of test weights nearly disappears" if shrink else
                     "RBF separation of test weights persists", "Fig. S4", "kpca", ("BFGS-test", "SGD-test"), "—",
                     "AUC of PC1", "equivalent" if shrink else "separates", 0.5, MARGIN_AUC, "rbf"))
    for a, b in (("BFGS-train", "SGD-train"), ("BFGS-test", "SGD-test")):
        out.append(_Spec("sharper", arch, "SGD minima flatter (largest Hessian eigenvalue)", "Discussion (inferred)",
                         "sharpness", (a, b), "train", "P(A > B), solutions", "greater", 0.5))
    return out


def _tost(boot: np.ndarray, margin: tuple[float, float]) -> float:
    """Two one-sided bootstrap tests: p for "inside ``margin``"."""
    return max(stats.boot_p(boot, margin[0], "above"), stats.boot_p(boot, margin[1], "below"))


BARRIER_CLAIMS: tuple[str, ...] = ("barriers_sgd_lower", "barriers_train_vs_test")
"""The keys of the claims (:func:`claims`) that rest on path heights (the paper's "barrier heights")."""


def disjoint_subset(b: PairPaths) -> PairPaths:
    """The pairs of ``b`` that share no solution with an earlier pair (greedy, in order).

    Pairs from :func:`lls_core.landscape.disjoint_pairs` come back unchanged; a sample of
    overlapping pairs gives its first maximal disjoint subset, for the tests of :func:`claims`.
    """
    import dataclasses

    used: set[int] = set()
    keep = []
    for m, (i, j) in enumerate(np.asarray(b.pairs)):
        if int(i) not in used and int(j) not in used:
            keep.append(m)
            used.update((int(i), int(j)))
    idx = np.asarray(keep, dtype=int)
    arrays = {f.name: np.asarray(getattr(b, f.name))[idx] for f in dataclasses.fields(b)
              if isinstance(getattr(b, f.name), np.ndarray) and np.asarray(getattr(b, f.name)).shape[:1] == b.height.shape}
    return dataclasses.replace(b, **arrays)


def _disjoint(b: PairPaths) -> bool:
    flat = np.asarray(b.pairs).ravel()
    return flat.size == np.unique(flat).size


def _gram(*ws: Tensor) -> np.ndarray:
    x = np.concatenate([w.detach().double().cpu().numpy() for w in ws])
    return x @ x.T


def _mean_coef(m: np.ndarray, offset: int, n: int) -> np.ndarray:
    u = np.zeros(n)
    u[offset:offset + m.size] = m / m.sum()
    return u


def _centroid_ratio(ka: int, kb: int, g: np.ndarray, debias: bool = True):  # noqa: ANN202 - for bootstrap_units
    """(centroid gap / spread)² from the Gram matrix ``g`` of the pooled ``(ka + kb)`` vectors.

    spread² = mean of the two sets' mean squared distances from their own centroid; with
    ``debias`` the squared gap loses its expected sampling noise ``V_a/(K_a-1) + V_b/(K_b-1)``
    (unbiased for the true squared gap; it can be negative)."""
    n = ka + kb
    diag = np.diag(g)

    def stat(ma: np.ndarray, mb: np.ndarray) -> float:
        ua, ub = _mean_coef(ma, 0, n), _mean_coef(mb, ka, n)
        va = ua @ diag - ua @ g @ ua  # mean squared distance from the own centroid
        vb = ub @ diag - ub @ g @ ub
        gap2 = (ua - ub) @ g @ (ua - ub)
        if debias:
            gap2 -= va / (ka - 1) + vb / (kb - 1)
        spread2 = (va + vb) / 2
        return float(gap2 / spread2) if spread2 > 0 else float("nan")

    return stat


def _pairwise_ratio(ka: int, kb: int, g: np.ndarray):  # noqa: ANN202
    n = ka + kb
    diag = np.diag(g)
    d2 = np.maximum(diag[:, None] + diag[None, :] - 2 * g, 0.0)

    def rms(m: np.ndarray, sl: slice) -> float:
        w = np.outer(m, m)
        np.fill_diagonal(w, 0.0)  # pairs of two different solutions only
        return float(np.sqrt((w * d2[sl, sl]).sum() / w.sum())) if w.sum() > 0 else float("nan")

    def stat(ma: np.ndarray, mb: np.ndarray) -> float:
        return rms(ma, slice(0, ka)) / rms(mb, slice(ka, n))

    return stat


def _gap_ratio(k: int, ks: int, g: np.ndarray):  # noqa: ANN202
    """Rows of ``g``: BFGS-test (k), BFGS-train (k), SGD-test (ks); BFGS groups share counts."""
    n = 2 * k + ks
    diag = np.diag(g)

    def gap(m: np.ndarray, ms: np.ndarray, offset: int) -> float:
        ux, us = _mean_coef(m, offset, n), _mean_coef(ms, 2 * k, n)
        o = (ux + us) / 2
        d = np.sqrt(np.maximum(diag - 2 * (g @ o) + o @ g @ o, 0.0))
        return float(m @ d[offset:offset + k] / m.sum() - ms @ d[2 * k:] / ms.sum())

    def stat(m: np.ndarray, ms: np.ndarray) -> float:
        train = gap(m, ms, k)
        return gap(m, ms, 0) / train if train > 0 else float("nan")

    return stat


def _same_vectors(spec: _Spec, sets: Mapping[str, Tensor]) -> str:
    """``"A = B"`` when the claim's statistic would compare a set with one that holds the same vectors
    (:meth:`Topography.same_sets`: its value is fixed by construction, so there is nothing to test), else ``""``.
    The length-gap ratio compares the test-weight gap with the training-weight gap of the same SGD set:
    it is 1 by construction when the BFGS test set is the BFGS training set."""
    x, y = (spec.sets[0], spec.sets[2]) if spec.kind == "gap_ratio" else (spec.sets[0], spec.sets[1])
    if x in sets and y in sets and same_sets({x: sets[x], y: sets[y]}):
        return f"{x} = {y}"
    return ""


def _evaluate(spec: _Spec, topo: Topography, bars: Mapping[tuple[str, str], PairPaths] | None,
              sharp: Mapping[str, SharpnessSet] | None, *, kpca_gamma: float | str | None, n_boot: int,
              seed: int) -> dict[str, Any]:
    """Estimate, interval, p for and against the claim, n, and a note; or ``{"reason": ...}``."""
    s = topo.sets
    need = [n for n in spec.sets if n not in s] if spec.kind not in ("barrier", "barrier_paired", "sharpness") else []
    if need:
        return {"reason": f"needs set {need[0]}"}
    a, b = spec.sets[0], spec.sets[1]
    if spec.kind in ("barrier", "barrier_paired"):
        if not bars or (a, spec.landscape) not in bars or (b, spec.landscape) not in bars:
            return {"reason": "needs barriers"}
        ba, bb = bars[(a, spec.landscape)], bars[(b, spec.landscape)]
        given = (ba.height.size, bb.height.size)
        ba, bb = disjoint_subset(ba), disjoint_subset(bb)  # shared end points: only independent heights are tested
        if min(ba.height.size, bb.height.size) < 2:
            return {"reason": "fewer than 2 disjoint pairs"}
        paired = spec.kind == "barrier_paired" and np.array_equal(ba.pairs, bb.pairs)
        c: stats.Paired | stats.Comparison
        if paired:
            c = stats.paired_compare(ba.height, bb.height, n_boot=n_boot, seed=seed)
            n, note = f"{c.n} pairs (paired)", "Wilcoxon signed-rank"
        else:
            c = stats.compare(ba.height, bb.height, alternative="greater", n_boot=n_boot, seed=seed)
            n, note = f"{c.n_a}/{c.n_b} pairs", "Mann–Whitney"
        if (ba.height.size, bb.height.size) != given:
            n += f" (disjoint, of {given[0]}/{given[1]})"
        out = {"estimate": c.cl, "ci": c.cl_ci, "n": n, "test": note}
        if spec.expect == "greater":
            return out | {"p": c.p_greater, "p_against": c.p_less}
        # a margin needs the bootstrap, which is far too optimistic for a few values per group
        p_margin = (stats.boot_p(c.cl_boot, spec.bounds[1], "below")
                    if min(ba.height.size, bb.height.size) >= MIN_UNITS else float("nan"))
        return out | {"p": p_margin, "p_against": c.p_greater}
    if spec.kind in ("spread", "distance", "sharpness"):
        if spec.kind == "spread":
            va, vb = (vector_spread({n: s[n]})[n] for n in (a, b))
        elif spec.kind == "distance":
            dist = landscape.distances(s, between=(a, b))
            va, vb = dist.distance[a], dist.distance[b]
        else:
            if not sharp or a not in sharp or b not in sharp:
                return {"reason": "needs curvature"}
            va, vb = sharp[a].top_eigenvalue, sharp[b].top_eigenvalue
        if min(np.size(va), np.size(vb)) < 2:
            return {"reason": "fewer than 2 solutions"}
        cs = stats.compare(va, vb, alternative="greater", n_boot=n_boot, seed=seed)
        return {"estimate": cs.cl, "ci": cs.cl_ci, "n": f"{cs.n_a}/{cs.n_b} solutions", "test": "Mann–Whitney",
                "p": cs.p_greater, "p_against": cs.p_less}
    if spec.kind == "kpca":
        kp = landscape.kernel_pca(s[a], s[b], kernel=spec.kernel, names=(a, b),
                                  gamma=kpca_gamma if spec.kernel == "rbf" else "median")
        sep = stats.separation(kp.pc1, kp.labels, n_boot=n_boot, n_perm=max(n_boot, 99), seed=seed)
        tost = _tost(sep.boot, MARGIN_AUC) if min(sep.n_a, sep.n_b) >= MIN_UNITS else float("nan")
        out = {"estimate": sep.auc, "ci": sep.auc_ci, "n": f"{sep.n_a}/{sep.n_b} solutions",
               "test": "permutation; bootstrap TOST"}
        return out | ({"p": sep.p, "p_against": tost} if spec.expect == "separates" else {"p": tost, "p_against": sep.p})
    # bootstrap over solutions (Gram matrices: every resample is a weighting of the same vectors)
    if spec.kind == "gap_ratio":
        k, ks = s[a].shape[0], s[b].shape[0]
        if s[spec.sets[2]].shape[0] != k:
            return {"reason": f"{a} and {spec.sets[2]} differ in size"}
        fn, sizes = _gap_ratio(k, ks, _gram(s[a], s[spec.sets[2]], s[b])), (k, ks)
    else:
        ka, kb = s[a].shape[0], s[b].shape[0]
        g = _gram(s[a], s[b])
        fn, sizes = (_centroid_ratio if spec.kind == "centroid_gap" else _pairwise_ratio)(ka, kb, g), (ka, kb)
    if min(sizes) < MIN_UNITS:
        return {"reason": f"fewer than {MIN_UNITS} solutions per set"}
    squared = spec.kind == "centroid_gap"  # bootstrapped as a debiased square, reported as a ratio
    try:
        est = stats.bootstrap_units(fn, sizes, name=spec.statistic, null=spec.null ** 2 if squared else spec.null,
                                    n_boot=n_boot, seed=seed,
                                    plugin=_centroid_ratio(*sizes, g, debias=False) if squared else None)
    except ValueError as err:  # e.g. no training-weight length gap to take a ratio of
        return {"reason": f"undefined ({err})"}
    root = (lambda v: float(np.sqrt(max(v, 0.0)))) if squared else float  # noqa: E731
    out = {"estimate": root(est.value), "ci": (root(est.ci[0]), root(est.ci[1])),
           "n": "/".join(map(str, sizes)) + " solutions", "test": "bootstrap over solutions"}
    if spec.expect == "greater":
        return out | {"p": est.p_greater, "p_against": est.p_less}
    if spec.expect == "less":
        return out | {"p": est.p_less, "p_against": est.p_greater}
    return out | {"p": _tost(est.boot, spec.bounds), "p_against": min(1.0, 2 * min(est.p_greater, est.p_less))}


def _expect_text(spec: _Spec) -> str:
    if spec.expect in ("greater", "separates"):
        return f"above {spec.null:g}"
    if spec.expect == "less":
        return f"below {spec.null:g}"
    if spec.expect == "not greater":
        return f"below {spec.bounds[1]:g} (margin)"
    return f"inside [{spec.bounds[0]:g}, {spec.bounds[1]:g}]"


CLAIM_COLUMNS: tuple[str, ...] = ("arch", "key", "claim", "evidence", "sets", "landscape", "n", "statistic", "expect",
                                  "estimate", "lo", "hi", "test", "p", "p_holm", "verdict", "a", "b", "effect", "result")


@dataclass(frozen=True, eq=False)
class Claims:
    """The paper's claims checked: ``frame`` has one row per claim, architecture and set pair.

    Columns (:data:`CLAIM_COLUMNS`): ``arch``, ``key`` (a short id), ``claim``, ``evidence``
    (the paper's figure or table), ``sets`` ("A vs B"), ``landscape``, ``n`` (pairs or
    solutions), ``statistic``, ``expect`` (what the claim says about it), ``estimate``, ``lo``,
    ``hi`` (interval at 95 %), ``test``, ``p`` (for the claim, unadjusted), ``p_holm``
    (Holm over all computed rows), ``verdict`` (:data:`lls_core.stats.VERDICTS`, or
    ``"needs <what>"`` where the row cannot be computed here, e.g. ``"needs lenet"``), and
    ``a``, ``b``, ``effect``, ``result`` (the sets, estimate and a one-line summary).
    """

    frame: pd.DataFrame
    alpha: float

    def facts(self) -> dict[str, Any]:
        """Counts for the prose: rows, computed, supported (any kind), equivalent, contradicted,
        not resolved, rows not tested because they compare a set with the same vectors (``n_same``,
        and ``same_text``: a sentence saying so, empty when there are none), and the other rows that
        cannot be computed here (``n_needs``)."""
        v = self.frame["verdict"]
        computed = v.isin(stats.VERDICTS)
        same = v.astype(str).str.startswith("same vectors")
        n_same = int(same.sum())
        same_text = "" if n_same == 0 else (
            f"{n_same} row would compare a set with one that holds the same vectors and is not tested." if n_same == 1
            else f"{n_same} rows would compare a set with one that holds the same vectors and are not tested.")
        return {"n_rows": int(len(v)), "n_computed": int(computed.sum()),
                "n_supported": int(v.str.endswith("(supported)").sum() + (v == "supported").sum()),
                "n_equivalent": int((v == "equivalent (supported)").sum()),
                "n_contradicted": int((v == "contradicted").sum()), "n_not_resolved": int((v == "not resolved").sum()),
                "n_same": n_same, "n_needs": int((~computed & ~same).sum()), "alpha": self.alpha,
                "same_text": same_text}

    def computed(self) -> pd.DataFrame:
        """The rows that could be computed with this page's data."""
        return self.frame[self.frame["verdict"].isin(stats.VERDICTS)]

    def by_network(self, key: str, *, sets: str | None = None, landscape: str | None = None,
                   with_claim: bool = False) -> str:
        """One clause per network for the prose: the computed rows of claim ``key`` (optionally of
        ``sets``, e.g. ``"BFGS-train vs SGD-train"``, and ``landscape``), the first per network,
        as ``"FCP: 0.65 [0.47, 0.81], p (Holm) 0.156, not resolved; the autoencoder: ..."``
        (estimate, 95 % interval, Holm-adjusted p, verdict), networks in the table's order;
        ``with_claim``: the claim's wording after the network (``"FCP (gap shrinks): ..."``),
        for claims worded per network. A network whose row could not be computed here gets its
        reason (``"the autoencoder: fewer than 8 solutions per set"``); networks the page did not
        run (``"needs <arch>"``) are left out. Raises ``ValueError`` when no row of a run
        network matches.
        """
        from lls_core import study

        keys = sorted(set(self.frame["key"]))
        if key not in keys:
            raise ValueError(f"key={key!r}; valid: {', '.join(keys)}")
        f = self.frame
        rows = f[(f["key"] == key) & (f["verdict"] != "needs " + f["arch"].astype(str))]
        if sets is not None:
            rows = rows[rows["sets"] == sets]
        if landscape is not None:
            rows = rows[rows["landscape"] == landscape]
        if rows.empty:
            raise ValueError(f"no row of claim {key!r} with sets={sets!r}, landscape={landscape!r} "
                             "for a network this page ran")
        out = []
        for arch, g in rows.groupby("arch", sort=False):
            r = g.iloc[0]
            claim = f" ({r['claim']})" if with_claim else ""
            if r["verdict"] not in stats.VERDICTS:
                out.append(f"{study.network_phrase(str(arch))}{claim}: {r['verdict']}")
                continue
            out.append(f"{study.network_phrase(str(arch))}{claim}: {r['estimate']:.3g} [{r['lo']:.3g}, {r['hi']:.3g}], "
                       f"p (Holm) {r['p_holm']:.3g}, {r['verdict']}")
        return "; ".join(out)


def claims(topos: Topography | Mapping[str, Topography],
           bars: Mapping[tuple[str, str], PairPaths] | Mapping[str, Mapping[tuple[str, str], PairPaths]] | None = None,
           sharp: Mapping[str, SharpnessSet] | Mapping[str, Mapping[str, SharpnessSet]] | None = None, *,
           kpca_gamma: float | str | None = "median", alpha: float = 0.05, n_boot: int = 2000, seed: int = 0,
           keys: Sequence[str] | None = None) -> Claims:
    """Every claim of Yu & Morozov (2026) on barriers, spread, distances and kernel PCA, tested.

    ``topos``: one :class:`Topography` (rows for its architecture only) or ``{arch: Topography}``
    (rows for all four architectures; those not given say ``"needs <arch>"``). ``bars`` /
    ``sharp``: :func:`all_barriers` / :func:`all_sharpness` results, per architecture when
    ``topos`` is a mapping. Only disjoint pairs are tested (each solution in at most one
    pair), so that the heights are independent: pairs that share solutions are reduced to
    their largest disjoint subset in order (:func:`disjoint_subset`; the ``n`` column says
    so), and ``all_barriers(..., pairing="disjoint")`` wastes no paths. Training- against test-weight barriers of the same runs are
    compared pair by pair (same pairs: Wilcoxon signed-rank). Statistics over solutions
    (centroid gap, length-gap ratio, distances between solutions) are bootstrapped over
    solutions (:func:`lls_core.stats.bootstrap_units`), with a set's training and test
    weights resampled together. The p-values for the claims are Holm-adjusted across all
    computed rows, and separately those against them; :func:`lls_core.stats.decide` gives the
    verdict. Claims of no difference (linear, polynomial, sigmoid PCA; the autoencoder
    exception; the length gap that persists) need their interval inside the margins
    (:data:`MARGIN_AUC`, :data:`MARGIN_CL`, :data:`MARGIN_RATIO`). A row whose statistic would
    compare a set with one holding the same vectors (the autoencoder's early-stopping weights
    are its training weights, :meth:`Topography.same_sets`) is not tested: its verdict says
    ``"same vectors (A = B): no test"``. ``keys``: only those claims
    (see the ``key`` column), e.g. ``["barriers_sgd_lower"]``.

    Example: synthetic sets of 12 vectors, BFGS on a sphere of radius 2, SGD on radius 1.

    >>> import torch
    >>> from lls_core import models
    >>> g = torch.Generator().manual_seed(0)
    >>> u = torch.randn(3, 12, 300, generator=g, dtype=torch.float64)
    >>> u = u / u.norm(dim=2, keepdim=True)
    >>> sets = {"BFGS-train": 2 * u[0], "SGD-train": u[1], "SGD-test": u[2]}
    >>> topo = Topography("fcp", "demo", 12, 12, models.build("fcp"), None, sets)
    >>> table = claims(topo, n_boot=200, keys=["spread"])
    >>> table.frame.loc[0, "claim"], table.frame.loc[0, "verdict"]
    ('BFGS weights more spread (per-solution s.d.)', 'supported')
    >>> table.frame.loc[1, "verdict"]  # no BFGS-test set here
    'needs set BFGS-test'
    """
    # {arch: that architecture's pair paths / sharpness}; the form of ``bars`` and ``sharp`` follows ``topos``
    bmap: dict[str, Any]
    smap: dict[str, Any]
    if isinstance(topos, Topography):
        tmap: dict[str, Topography] = {topos.arch: topos}
        bmap = {topos.arch: bars} if bars is not None else {}
        smap = {topos.arch: sharp} if sharp is not None else {}
        archs: Sequence[str] = [topos.arch]
    else:
        tmap = dict(topos)
        bmap = dict(bars or {})
        smap = dict(sharp or {})
        archs = list(models.ARCHITECTURES) + [a for a in tmap if a not in models.ARCHITECTURES]
    if not 0 < alpha < 0.5:
        raise ValueError(f"alpha={alpha!r}: must lie in (0, 0.5)")
    rows: list[dict[str, Any]] = []
    specs: list[_Spec] = []
    for arch in archs:
        for spec in _claim_specs(arch):
            if keys is not None and spec.key not in keys:
                continue
            row: dict[str, Any] = {"arch": arch, "key": spec.key, "claim": spec.claim, "evidence": spec.evidence,
                                   "sets": f"{spec.sets[0]} vs {spec.sets[1]}", "landscape": spec.landscape,
                                   "n": "", "statistic": spec.statistic, "expect": _expect_text(spec),
                                   "estimate": np.nan, "lo": np.nan, "hi": np.nan, "test": "", "p": np.nan,
                                   "p_against": np.nan, "a": spec.sets[0], "b": spec.sets[1]}
            if arch not in tmap:
                row["verdict"] = f"needs {arch}"
            elif same := _same_vectors(spec, tmap[arch].sets):
                row["verdict"] = f"same vectors ({same}): no test"
            else:
                got = _evaluate(spec, tmap[arch], bmap.get(arch), smap.get(arch), kpca_gamma=kpca_gamma,
                                n_boot=n_boot, seed=seed)
                if "reason" in got:
                    row["verdict"] = got["reason"]
                else:
                    row.update(estimate=got["estimate"], lo=got["ci"][0], hi=got["ci"][1], n=got["n"],
                               test=got["test"], p=got["p"], p_against=got["p_against"], verdict="")
            rows.append(row)
            specs.append(spec)
    frame = pd.DataFrame(rows)
    frame["p_holm"] = np.nan
    if len(frame):
        done = frame["verdict"] == ""
        if done.any():
            frame.loc[done, "p_holm"] = stats.holm(frame.loc[done, "p"].fillna(1.0).to_numpy())
            against = stats.holm(frame.loc[done, "p_against"].fillna(1.0).to_numpy())
            for (i, row), pa in zip(frame[done].iterrows(), against):
                spec = specs[i]
                frame.at[i, "verdict"] = stats.decide(spec.expect, (row["lo"], row["hi"]), spec.null, row["p_holm"], pa,
                                                      margin=spec.margin, alpha=alpha)
        frame["effect"] = frame["estimate"]
        frame["result"] = [
            (f"{r.statistic} = {r.estimate:.3g} [{r.lo:.3g}, {r.hi:.3g}], p = {r.p:.3g}, n = {r.n}"
             if np.isfinite(r.estimate) else "") for r in frame.itertuples()]
    else:
        frame = pd.DataFrame(columns=list(CLAIM_COLUMNS))
    return Claims(frame[list(CLAIM_COLUMNS)].reset_index(drop=True), alpha)


def claims_changes(before: Claims, after: Claims) -> pd.DataFrame:
    """Rows whose verdict differs between two claims tables (e.g. the default build and ``full``).

    Columns: ``arch``, ``claim``, ``sets``, ``landscape``, ``verdict_before``, ``verdict_after``.
    """
    key = ["arch", "key", "claim", "sets", "landscape"]
    m = before.frame[key + ["verdict"]].merge(after.frame[key + ["verdict"]], on=key, how="outer",
                                              suffixes=("_before", "_after"))
    return m[m["verdict_before"] != m["verdict_after"]].drop(columns="key").reset_index(drop=True)


@dataclass(frozen=True, eq=False)
class ClaimsBeside:
    """Two claims tables side by side (:func:`claims_beside`): ``frame`` has ``arch``, ``claim``, ``sets``,
    ``landscape``, then ``estimate`` and ``verdict`` under each label, and ``changed``."""

    frame: pd.DataFrame
    labels: tuple[str, str]

    def facts(self) -> dict[str, Any]:
        """``n_compared`` (rows computed in both), ``n_changed`` (of them, a different verdict) and
        ``changed_claims`` ("network, claim (sets)" of each, or "none")."""
        from lls_core import study

        ch = self.frame[self.frame["changed"]]
        names = [f"{study.network_phrase(str(r.arch))}, {r.claim} ({r.sets})" for r in ch.itertuples()]
        return {"n_compared": int(len(self.frame)), "n_changed": int(len(ch)),
                "changed_claims": "; ".join(names) if names else "none"}


def claims_beside(before: Claims, after: Claims, labels: tuple[str, str] = ("this build", "full")) -> ClaimsBeside:
    """The rows computed in both tables, with each table's estimate and verdict and whether the verdict changed.

    ``before`` / ``after``: e.g. a chapter's claims at its profile and the archived ``full``
    claims (:meth:`lls_core.results.LandscapeArchive.claims_table`). Rows are matched on
    architecture, claim, sets and landscape; rows that either table could not compute are left out.
    """
    if len(labels) != 2 or labels[0] == labels[1]:
        raise ValueError(f"labels={labels!r}: expected two different names")
    key = ["arch", "key", "claim", "sets", "landscape"]
    a = before.computed()[key + ["estimate", "verdict"]]
    b = after.computed()[key + ["estimate", "verdict"]]
    m = a.merge(b, on=key, how="inner", suffixes=(f" ({labels[0]})", f" ({labels[1]})"))
    m["changed"] = m[f"verdict ({labels[0]})"] != m[f"verdict ({labels[1]})"]
    return ClaimsBeside(m.drop(columns="key").reset_index(drop=True), (labels[0], labels[1]))


# ------------------------------------------------------------------ sensitivity of the barrier verdicts
SENSITIVITY_LAMS: tuple[float, ...] = (1e-4, 1e-3, 1e-2, 1.0)
GSS_MODES: tuple[str, ...] = ("authors", "safe")


@dataclass(frozen=True, eq=False)
class Sensitivity:
    """Barrier verdicts under each path penalty λ and L-BFGS-GSS mode.

    ``frame``: one row per architecture, claim and set pair (``arch``, ``claim``, ``sets``,
    ``landscape``), one verdict column per setting (``"λ = 0.001"``, ..., ``"mode = safe"``)
    and ``stable`` (the same verdict under every setting). ``estimates``: the same layout with
    the effect size P(A > B) instead of the verdict. ``settings``: the column names in order;
    ``reference``: the setting of the main analysis.
    """

    frame: pd.DataFrame
    estimates: pd.DataFrame
    settings: tuple[str, ...]
    reference: str

    def facts(self) -> dict[str, Any]:
        """``n_rows``, ``n_stable``, ``n_changed`` and ``n_settings`` for the prose."""
        stable = self.frame["stable"]
        return {"n_rows": int(len(stable)), "n_stable": int(stable.sum()), "n_changed": int((~stable).sum()),
                "n_settings": len(self.settings)}


def _variant_topography(topo: Topography, mode: str, **load_kw: Any) -> Topography:
    if mode not in GSS_MODES:
        raise ValueError(f"mode={mode!r}; valid: {', '.join(GSS_MODES)}")
    variant: Literal["authors", "safe"] = "authors" if mode == "authors" else "safe"
    return load(topo.arch, topo.profile, n_inits=topo.n_inits, k_best=topo.k_best, gss_variant=variant,
                optimizers=("sgd", "lbfgs_gss"), store=topo.store_root or None, **load_kw)


def sensitivity(topos: Mapping[str, Topography], *, config: PathConfig, n_pairs: int,
                archs: Sequence[str] | None = None,
                lams: Sequence[float] = SENSITIVITY_LAMS, modes: Sequence[str] = GSS_MODES,
                seed: int = 0, n_boot: int = 2000, alpha: float = 0.05, workers: int = 1, scheduler: Any = None,
                load_kw: Mapping[str, Any] | None = None, progress: bool = False) -> Sensitivity:
    """The barrier claims (SGD vs BFGS, both landscapes) re-decided under each λ and each
    L-BFGS-GSS mode.

    Every λ in ``lams`` reruns the paths of the four BFGS/SGD sets with ``config`` and that λ
    (same disjoint pairs); every mode in ``modes`` other than the one the sets were trained in
    (the study's is ``"authors"``) retrains the BFGS sets in that mode
    (:class:`lls_core.lbfgs_gss.LBFGSGSS`, reused from the store when present) and reruns their
    paths at ``config.lam``. The claims are Holm-adjusted within each setting, as in
    :func:`claims`. ``archs``: the architectures of ``topos`` to use (default: all; an empty
    list gives an empty table). ``load_kw``: passed to :func:`load` for the retrained sets
    (``workers``, ``scheduler``). Raises ``ValueError`` for a λ < 0, an unknown mode or an
    architecture not in ``topos`` before any work.
    """
    lams = [float(x) for x in lams]
    for lam in lams:
        if not (np.isfinite(lam) and lam >= 0):
            raise ValueError(f"lam={lam!r}: must be a finite number >= 0")
    for m in modes:
        if m not in GSS_MODES:
            raise ValueError(f"mode={m!r}; valid: {', '.join(GSS_MODES)}")
    names = list(topos) if archs is None else list(archs)
    for a in names:
        if a not in topos:
            raise ValueError(f"architecture {a!r} has no weight sets here; available: {', '.join(topos) or 'none'}")
    topos = {a: topos[a] for a in names}
    import dataclasses

    key = ["arch", "claim", "sets", "landscape"]
    if not topos:
        empty = pd.DataFrame(columns=key + ["stable"])
        return Sensitivity(empty, empty.drop(columns="stable"), (), f"λ = {config.lam:g}")

    four = ("BFGS-train", "BFGS-test", "SGD-train", "SGD-test")
    verdicts: dict[str, pd.DataFrame] = {}
    reference = f"λ = {config.lam:g}"

    def run(name: str, tmap: Mapping[str, Topography], cfg: PathConfig) -> None:
        bars = {a: all_barriers(t, n_pairs=n_pairs, config=cfg, seed=seed, sets=four, workers=workers,
                                scheduler=scheduler, progress=progress, pairing="disjoint") for a, t in tmap.items()}
        table = claims(tmap, bars, None, n_boot=n_boot, seed=seed, alpha=alpha, keys=["barriers_sgd_lower"])
        verdicts[name] = table.computed()[key + ["verdict", "estimate"]]

    for lam in lams:
        run(f"λ = {lam:g}", topos, dataclasses.replace(config, lam=lam))
    for m in modes:
        if m == "authors":  # the study's mode: the λ = config.lam column above
            if f"λ = {config.lam:g}" not in verdicts:
                run(f"λ = {config.lam:g}", topos, config)
            verdicts["mode = authors"] = verdicts[f"λ = {config.lam:g}"]
            continue
        run(f"mode = {m}", {a: _variant_topography(t, m, **dict(load_kw or {})) for a, t in topos.items()}, config)
    settings = tuple(verdicts)
    base = next(iter(verdicts.values()))[key]
    frame, est = base.copy(), base.copy()
    for name, v in verdicts.items():
        merged = base.merge(v, on=key, how="left")
        frame[name] = merged["verdict"].fillna("not computed").to_numpy()
        est[name] = merged["estimate"].to_numpy()
    frame["stable"] = frame[list(settings)].nunique(axis=1) == 1
    return Sensitivity(frame.reset_index(drop=True), est.reset_index(drop=True), settings, reference)


def trio_distances(sets: Mapping[str, Tensor], *, third: str = "LBFGS-train",
                   refs: tuple[str, str] = ("BFGS-train", "SGD-train")) -> landscape.Distances:
    """Distances of the three sets ``third`` and ``refs`` from the mean of their three centroids.

    Every vector then pulls the origin towards itself by the same 1/(3K), so no set gets
    shorter distances just by having defined the origin (an origin built from two of the
    three sets would make the third look "longer" for no other reason). ``centroid_gap`` is
    the gap between the two ``refs``. Returns a :class:`~lls_core.landscape.Distances`.
    """
    landscape.need_sets(sets, third, *refs)
    trio = {n: sets[n] for n in (third, *refs)}
    c = [landscape.centroid(v) for v in trio.values()]
    origin = (c[0] + c[1] + c[2]) / 3
    return landscape.distances(trio, between=refs, origin=origin)


def resemblance(topo: Topography, bars: Mapping[tuple[str, str], PairPaths] | None = None,
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
    significantly (two-sided Mann–Whitney p < 0.05). Columns: ``metric``, ``n`` (smallest sample),
    ``cl_<ref>``, ``lo_<ref>``, ``hi_<ref>``, ``p_<ref>`` for both references,
    ``closer_to``, ``distinct_from``.
    """
    s = topo.sets
    landscape.need_sets(s, third, *refs)
    metrics: dict[str, dict[str, np.ndarray]] = {}
    if bars and all((n, "train") in bars for n in (third, *refs)):
        metrics["barrier height (train landscape)"] = {n: bars[(n, "train")].height for n in (third, *refs)}
    trio = {n: s[n] for n in (third, *refs)}
    dist = trio_distances(s, third=third, refs=refs)
    metrics["distance from the common origin"] = {n: dist.distance[n] for n in trio}
    spread = vector_spread({n: s[n] for n in (third, *refs)})
    metrics["per-vector s.d. of the weights"] = spread
    if sharp and all(n in sharp for n in (third, *refs)):
        metrics["top Hessian eigenvalue"] = {n: sharp[n].top_eigenvalue for n in (third, *refs)}
        metrics["Hessian trace"] = {n: sharp[n].trace for n in (third, *refs)}
    rows = []
    for name, vals in metrics.items():
        row: dict[str, Any] = {"metric": name, "n": min(v.size for v in vals.values())}
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
            row["closer_to"] = min(dev, key=lambda r: dev[r]) if dev[refs[0]] != dev[refs[1]] else "tie"
            row["distinct_from"] = ", ".join(sig) if sig else "neither"
            rows.append(row)
    return pd.DataFrame(rows)


def same_sets(sets: Mapping[str, Tensor]) -> list[tuple[str, str]]:
    """Pairs ``(a, b)`` of the ``(K, d)`` sets in ``sets`` (``a`` first in its order) that hold exactly the
    same vectors; see :meth:`Topography.same_sets`."""
    names = list(sets)
    return [(a, b) for i, a in enumerate(names) for b in names[i + 1:]
            if sets[a].shape == sets[b].shape and torch.equal(sets[a], sets[b])]


def same_sets_text(topos: Mapping[str, Topography | Mapping[str, Tensor]]) -> str:
    """A sentence per architecture on the sets that hold the same vectors (:func:`same_sets`); ``topos``:
    ``{arch: Topography}`` or ``{arch: {set name: (K, d)}}`` (e.g. a study's ``weight_sets()``).

    >>> same_sets_text({"autoencoder": ae, "fcp": fcp})  # doctest: +SKIP
    'In the autoencoder, BFGS-test holds the same vectors as BFGS-train and SGD-test as SGD-train: ... In FCP every set holds its own vectors.'
    """
    from lls_core.study import network_phrase
    from lls_core.study import phrase_list as names

    groups: dict[tuple[tuple[str, str], ...], list[str]] = {}  # networks with the same identical pairs, together
    apart = []
    for a, t in topos.items():
        pairs = tuple(t.same_sets() if isinstance(t, Topography) else same_sets(t))
        if pairs:
            groups.setdefault(pairs, []).append(network_phrase(a))
        else:
            apart.append(network_phrase(a))
    out = []
    for pairs, nets in groups.items():
        parts = [f"{b} holds the same vectors as {x}" if k == 0 else f"{b} as {x}" for k, (x, b) in enumerate(pairs)]
        out.append(f"In {names(nets)}, {names(parts)}: every kept run's test loss was lowest where its training "
                   "loss was, so its early-stopping checkpoint is its training minimum, and a comparison between "
                   "those sets is zero by construction, not a finding.")
    if apart:
        out.append(f"In {names(apart)} every set holds its own vectors.")
    return " ".join(out)


def distance_text(dists: Mapping[str, "landscape.Distances"]) -> str:
    """Median distances from the common origin and the centroid gap, per network, for the prose.

    ``dists``: ``{arch: landscape.distances(...)}``. Returns ``"FCP: medians 9.1 (BFGS-train)
    and 6.2 (SGD-test), centroids 0.84 apart; the autoencoder: ..."`` (weight units).
    """
    from lls_core import study

    if not dists:
        raise ValueError("distance_text needs at least one network's distances")
    out = []
    for arch, d in dists.items():
        a, b = d.between
        out.append(f"{study.network_phrase(arch)}: medians {np.median(d.distance[a]):.3g} ({a}) and "
                   f"{np.median(d.distance[b]):.3g} ({b}), centroids {d.centroid_gap:.3g} apart")
    return "; ".join(out)


def sharpness_text(sharp: Mapping[str, Mapping[str, SharpnessSet]], a: str = "BFGS-train", b: str = "SGD-train",
                   *, n_boot: int = 2000) -> str:
    """Median largest Hessian eigenvalue at the solutions of sets ``a`` and ``b`` and the effect size
    P(an ``a`` solution is sharper) with its one-sided Mann–Whitney p, per network, for the prose:
    ``"FCP: 3.1 against 0.9, P(sharper) 0.91 (p 2e-05); ..."``. The verdict, Holm-adjusted,
    is the claims table's (claim ``sharper``)."""
    from lls_core import study

    if not sharp:
        raise ValueError("sharpness_text needs at least one network's curvature")
    out = []
    for arch, s in sharp.items():
        for n in (a, b):
            if n not in s:
                raise checks.UnknownNameError(f"{arch}: no curvature of set {n!r}; valid: {', '.join(s)}")
        cs = stats.compare(s[a].top_eigenvalue, s[b].top_eigenvalue, alternative="greater", n_boot=n_boot)
        out.append(f"{study.network_phrase(arch)}: {np.median(s[a].top_eigenvalue):.3g} against "
                   f"{np.median(s[b].top_eigenvalue):.3g}, P(sharper) {cs.cl:.2f} (p {cs.p_greater:.3g})")
    return "; ".join(out)


def spread_ratio_text(table: pd.DataFrame, a: str = "BFGS-train", b: str = "SGD-train") -> str:
    """The pooled standard deviation of set ``a`` over that of set ``b``, per network, ours beside the paper's.

    ``table``: one row per network and set with columns ``arch``, ``set``, ``s.d. (book)`` and
    ``s.d. (paper)`` (Table S1 beside ours; a missing published value reads "not published").
    Returns ``"FCP 1.23 (paper 1.41); the autoencoder 1.05 (paper 0.98)"``, networks in the
    table's order.
    """
    from lls_core import study

    need = {"arch", "set", "s.d. (book)", "s.d. (paper)"}
    if not need <= set(table.columns):
        raise ValueError(f"spread_ratio_text needs columns {sorted(need)}; has {list(table.columns)}")
    out = []
    for arch, g in table.groupby("arch", sort=False):
        sd = g.set_index("set")
        if a not in sd.index or b not in sd.index:
            raise ValueError(f"{arch}: sets {a!r} and {b!r} are both needed; has {list(sd.index)}")
        book = float(sd.loc[a, "s.d. (book)"] / sd.loc[b, "s.d. (book)"])
        paper = float(sd.loc[a, "s.d. (paper)"] / sd.loc[b, "s.d. (paper)"])
        pub = "not published" if not np.isfinite(paper) else f"{paper:.2f}"
        out.append(f"{study.network_phrase(str(arch))} {book:.2f} (paper {pub})")
    return "; ".join(out)


def resemblance_text(third: pd.DataFrame, landscape: str = "train") -> str:
    """What the third optimizer's barriers resemble, per network on ``landscape``, from
    :func:`third_barriers`: ``"FCP: like SGD; the autoencoder: not resolved"``."""
    from lls_core import study

    rows = third[third["landscape"] == landscape]
    if rows.empty:
        raise ValueError(f"no row of landscape {landscape!r}; has {sorted(set(third['landscape']))}")
    return "; ".join(f"{study.network_phrase(str(r['arch']))}: {r['resembles']}" for _, r in rows.iterrows())


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


def resembles(ci_a: tuple[float, float], ci_b: tuple[float, float],
              names: tuple[str, str] = ("L-BFGS-GSS", "SGD"), *, n: int | None = None) -> str:
    """Which of two references does a third sample resemble, read from two effect-size intervals?

    ``ci_a`` and ``ci_b`` are the intervals of P(third > reference) (:func:`~lls_core.stats.compare`'s
    ``cl_ci``) against reference a and reference b; 0.5 means "no difference". A reference is
    told apart when its interval excludes 0.5. The answer is ``"like <a>"`` when the third
    sample is told apart from b but not from a, ``"like <b>"`` for the reverse,
    ``"unlike both"`` when both intervals exclude 0.5, and ``"not resolved"`` when neither
    does (a closer point estimate alone decides nothing). ``n``, the smallest sample behind
    the intervals, makes the answer ``"not resolved"`` below :data:`MIN_UNITS`: a percentile
    bootstrap of two or three values gives intervals that exclude 0.5 by construction.

    >>> resembles((0.3, 0.7), (0.8, 1.0))
    'like L-BFGS-GSS'
    >>> resembles((0.3, 0.7), (0.2, 0.9))
    'not resolved'
    """
    for ci, ref in ((ci_a, names[0]), (ci_b, names[1])):
        lo, hi = (float(v) for v in ci)
        if not (np.isfinite(lo) and np.isfinite(hi) and 0.0 <= lo <= hi <= 1.0):
            raise ValueError(f"interval against {ref!r} must be finite with 0 <= lo <= hi <= 1; got {ci!r}")
    if n is not None and n < MIN_UNITS:
        return "not resolved"
    apart_a = not (ci_a[0] <= 0.5 <= ci_a[1])
    apart_b = not (ci_b[0] <= 0.5 <= ci_b[1])
    if apart_a and apart_b:
        return "unlike both"
    if apart_b:
        return f"like {names[0]}"
    if apart_a:
        return f"like {names[1]}"
    return "not resolved"


@dataclass(frozen=True)
class Resemblance:
    """Overall answer to "does the third optimizer look like reference a or b?" over several measurements.

    ``frame``: the per-measurement rows with a ``resembles`` column (:func:`resembles`);
    ``answer``: ``"like <a>"`` when some measurements say so and none says ``"like <b>"``
    (and the reverse), ``"mixed"`` when both occur, ``"unlike both"`` when every resolved
    measurement tells the third sample apart from both, ``"not resolved"`` when none is resolved.
    """

    frame: pd.DataFrame = field(repr=False)
    names: tuple[str, str]
    n_like_a: int
    n_like_b: int
    n_unlike_both: int
    n_not_resolved: int
    answer: str

    def facts(self) -> dict[str, Any]:
        """``n_metrics``, ``n_like_a``, ``n_like_b``, ``n_unlike_both``, ``n_not_resolved``, ``answer``."""
        return {"n_metrics": int(len(self.frame)), "n_like_a": self.n_like_a, "n_like_b": self.n_like_b,
                "n_unlike_both": self.n_unlike_both, "n_not_resolved": self.n_not_resolved, "answer": self.answer}


def resemblance_answer(res: pd.DataFrame, *, refs: tuple[str, str] = ("BFGS-train", "SGD-train"),
                       names: tuple[str, str] = ("L-BFGS-GSS", "SGD")) -> Resemblance:
    """Decide each row of a :func:`resemblance` frame by its intervals and combine them.

    ``res`` needs the columns ``lo_<ref>`` and ``hi_<ref>`` for both ``refs``; an ``n``
    column (the smallest sample of the row) leaves rows under :data:`MIN_UNITS` unresolved.
    ``names`` are the words the answer uses for the references. Returns a :class:`Resemblance`.
    """
    need = [f"{e}_{r}" for r in refs for e in ("lo", "hi")]
    missing = [c for c in need if c not in res.columns]
    if missing:
        raise KeyError(f"resemblance frame lacks columns {missing}; has {list(res.columns)}")
    frame = res.copy()
    frame["resembles"] = [resembles((r[f"lo_{refs[0]}"], r[f"hi_{refs[0]}"]),
                                    (r[f"lo_{refs[1]}"], r[f"hi_{refs[1]}"]), names,
                                    n=int(r["n"]) if "n" in frame.columns else None)
                          for _, r in frame.iterrows()]
    counts = frame["resembles"].value_counts()
    na, nb = int(counts.get(f"like {names[0]}", 0)), int(counts.get(f"like {names[1]}", 0))
    nu, nn = int(counts.get("unlike both", 0)), int(counts.get("not resolved", 0))
    if na and nb:
        answer = "mixed"
    elif na or nb:
        answer = f"like {names[0]}" if na else f"like {names[1]}"
    elif nu:
        answer = "unlike both"
    else:
        answer = "not resolved"
    return Resemblance(frame, names, na, nb, nu, nn, answer)


def third_barriers(bars: Mapping[str, Mapping[tuple[str, str], PairPaths]], *, third: str = "LBFGS-train",
                   refs: tuple[str, str] = ("BFGS-train", "SGD-train"),
                   names: tuple[str, str, str] = ("L-BFGS (torch)", "L-BFGS-GSS", "SGD"),
                   landscapes: Sequence[str] = ("train", "test"), n_boot: int = 2000, seed: int = 0) -> pd.DataFrame:
    """PairPaths of a third optimizer's set against two reference sets, per architecture and landscape.

    ``bars[arch][(set, landscape)]`` are :func:`all_barriers` results. One row per
    (arch, landscape): the three median heights, P(third > ref) with its bootstrap interval
    for both references, and ``resembles`` (:func:`resembles`, worded with ``names[1:]``).
    Column names use ``names`` (the third optimizer's first).
    """
    for a, bb in bars.items():
        for n in (third, *refs):
            for land in landscapes:
                if (n, land) not in bb:
                    raise KeyError(f"{a}: no barriers for set {n!r} on the {land!r} landscape; "
                                   f"available: {sorted(bb)}")
    t, ra, rb = names
    rows = []
    for a, bb in bars.items():
        for land in landscapes:
            h3, ha, hb = (bb[(n, land)].height for n in (third, *refs))
            va = stats.compare(h3, ha, n_boot=n_boot, seed=seed)
            vb = stats.compare(h3, hb, n_boot=n_boot, seed=seed)
            rows.append({"arch": a, "landscape": land, f"median {t}": va.median_a, f"median {ra}": va.median_b,
                         f"median {rb}": vb.median_b, f"P({t} > {ra})": va.cl, f"low ({ra})": va.cl_ci[0],
                         f"high ({ra})": va.cl_ci[1], f"P({t} > {rb})": vb.cl, f"low ({rb})": vb.cl_ci[0],
                         f"high ({rb})": vb.cl_ci[1],
                         "resembles": resembles(va.cl_ci, vb.cl_ci, (ra, rb), n=min(h3.size, ha.size, hb.size))})
    return pd.DataFrame(rows)


KPCA_KERNELS: tuple[str, ...] = ("rbf", "linear", "poly", "sigmoid")
"""The kernels of the kernel-PCA comparison: the paper's RBF and the three controls it mentions."""

KPCA_PAIRS: tuple[tuple[str, str], ...] = (("BFGS-train", "SGD-test"), ("BFGS-test", "SGD-test"),
                                           ("LBFGS-train", "SGD-test"), ("LBFGS-train", "BFGS-train"))
"""The pairs of weight sets projected together: Yu & Morozov Figs. 6 and S4, and the third optimizer."""


@dataclass(frozen=True)
class KPCASeparation:
    """PC1 separation of pairs of weight sets under several kernels, per architecture.

    ``frame``: one row per (arch, pair, kernel) with ``arch``, ``sets`` ("A vs B"),
    ``kernel``, ``AUC (PC1)``, ``low``, ``high`` (bootstrap interval), ``p`` (label
    permutation) and ``gamma`` (NaN for kernels without one). ``projections[(arch, pair,
    kernel)]`` is the :class:`~lls_core.landscape.KPCA` behind each row.
    """

    frame: pd.DataFrame = field(repr=False)
    projections: dict[tuple[str, tuple[str, str], str], landscape.KPCA] = field(repr=False)

    def row(self, arch: str, pair: tuple[str, str], kernel: str) -> pd.Series:
        """The frame's row for one (arch, pair, kernel); :class:`~lls_core.checks.UnknownNameError`
        (a ``KeyError`` and a ``ValueError``) naming what exists."""
        key = (arch, tuple(pair), kernel)
        if key not in self.projections:
            raise checks.UnknownNameError(f"unknown kernel PCA {key!r}; valid: {', '.join(map(repr, sorted(self.projections)))}")
        f = self.frame
        return f[(f.arch == arch) & (f.sets == f"{pair[0]} vs {pair[1]}") & (f.kernel == kernel)].iloc[0]

    def by_network(self, pair: tuple[str, str], kernels: Sequence[str] = ("rbf", "linear")) -> str:
        """One clause per network for the prose: PC1 separation of ``pair`` under each of ``kernels``,
        ``"FCP: RBF AUC 1.00 (p 0.0005), linear AUC 0.62 (p 0.04); the autoencoder: ..."``."""
        from lls_core import study

        label = {"rbf": "RBF", "linear": "linear", "poly": "polynomial", "sigmoid": "sigmoid"}
        archs = list(dict.fromkeys(a for (a, p, _) in self.projections if p == tuple(pair)))
        if not archs:
            raise checks.UnknownNameError(f"unknown kernel PCA pair {pair!r}; valid: "
                                          f"{', '.join(map(repr, sorted({p for (_, p, _) in self.projections})))}")
        out = []
        for a in archs:
            parts = []
            for k in kernels:
                r = self.row(a, pair, k)
                parts.append(f"{label.get(k, k)} AUC {float(r['AUC (PC1)']):.2f} (p {float(r['p']):.3g})")
            out.append(f"{study.network_phrase(a)}: " + ", ".join(parts))
        return "; ".join(out)

    def facts(self, arch: str, pair: tuple[str, str]) -> dict[str, Any]:
        """``auc_<kernel>``, ``lo_<kernel>``, ``hi_<kernel>``, ``p_<kernel>`` for every kernel of ``pair``."""
        out: dict[str, Any] = {}
        for (a, p, k) in self.projections:
            if a == arch and p == tuple(pair):
                r = self.row(a, p, k)
                out.update({f"auc_{k}": float(r["AUC (PC1)"]), f"lo_{k}": float(r["low"]),
                            f"hi_{k}": float(r["high"]), f"p_{k}": float(r["p"])})
        if not out:
            raise checks.UnknownNameError(f"unknown kernel PCA for {arch!r} and {pair!r}; "
                                          f"valid: {', '.join(map(repr, sorted(self.projections)))}")
        return out


def kpca_separation(topos: Mapping[str, Any], *, pairs: Sequence[tuple[str, str]] = KPCA_PAIRS,
                    kernels: Sequence[str] = KPCA_KERNELS, gamma: float | str = "median", n_boot: int = 2000,
                    seed: int = 0) -> KPCASeparation:
    """Kernel PCA of every pair of sets under every kernel, and how well PC1 separates each pair.

    ``topos``: ``{arch: Topography}`` or ``{arch: {set name: (K, d) tensor}}``. ``gamma``
    applies to the RBF kernel (a number or ``"median"``: 1 / median squared distance); the
    other kernels use the median heuristic. Separation is :func:`~lls_core.stats.separation` of PC1
    (ROC AUC, bootstrap interval, label-permutation p with ``n_boot`` permutations).

    >>> import torch
    >>> g = torch.Generator().manual_seed(0)
    >>> sets = {"BFGS-train": torch.randn(6, 5, generator=g), "SGD-test": torch.randn(6, 5, generator=g)}
    >>> sep = kpca_separation({"fcp": sets}, pairs=[("BFGS-train", "SGD-test")], kernels=["linear"], n_boot=100)
    >>> sorted(sep.facts("fcp", ("BFGS-train", "SGD-test")))
    ['auc_linear', 'hi_linear', 'lo_linear', 'p_linear']
    """
    bad = [k for k in kernels if k not in KPCA_KERNELS]
    if bad or not kernels:
        raise ValueError(f"kernels must be a non-empty subset of {list(KPCA_KERNELS)}; got {list(kernels)}")
    if isinstance(gamma, str) and gamma != "median":
        raise ValueError(f"gamma must be a positive number or 'median'; got {gamma!r}")
    if not isinstance(gamma, str) and not (np.isfinite(gamma) and gamma > 0):
        raise ValueError(f"gamma must be a positive number or 'median'; got {gamma!r}")
    sets_by_arch = {a: (t.sets if hasattr(t, "sets") else t) for a, t in topos.items()}
    for a, sets in sets_by_arch.items():
        for pair in pairs:
            with checks.context(a):
                landscape.need_sets(sets, *pair)
    proj: dict[tuple[str, tuple[str, str], str], landscape.KPCA] = {}
    rows = []
    for a, sets in sets_by_arch.items():
        for pair in pairs:
            pair = (pair[0], pair[1])
            for k in kernels:
                kp = landscape.kernel_pca(sets[pair[0]], sets[pair[1]], kernel=k, names=pair,
                                          gamma=gamma if k == "rbf" else "median")
                proj[(a, pair, k)] = kp
                sp = stats.separation(kp.pc1, kp.labels, n_boot=n_boot, n_perm=n_boot, seed=seed)
                rows.append({"arch": a, "sets": f"{pair[0]} vs {pair[1]}", "kernel": k, "AUC (PC1)": sp.auc,
                             "low": sp.auc_ci[0], "high": sp.auc_ci[1], "p": sp.p,
                             "gamma": kp.gamma if kp.gamma is not None else np.nan})
    return KPCASeparation(pd.DataFrame(rows), proj)
