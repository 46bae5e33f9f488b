"""Topography of sets of trained networks: paths between pairs, weight statistics, distances, kernel PCA, sharpness.

Yu & Morozov (2026) compare four *weight sets* per architecture — BFGS-train,
BFGS-test, SGD-train, SGD-test, each ``K`` flat weight vectors — through

* the heights of paths between random pairs within a set (the paper's "barrier
  heights"), found by FourierPathFinder on the training and on the test landscape
  (Figures 4, S2): :func:`pair_paths`;
* the mean and standard deviation of all components of a set (Table S1):
  :func:`weight_stats`;
* each vector's distance from a common origin, by default the midpoint of two
  centroids (Figures 5, S3): :func:`distances`;
* kernel PCA of two sets pooled (Figures 6, S4): :func:`kernel_pca`.

The book adds what the paper infers but does not measure: the sharpness of each
solution, as the largest Hessian eigenvalue and the Hessian trace of the training
loss (:func:`sharpness`, :func:`sharpness_set`).

Words for paths, one meaning each, in every name of the package:

* *path*: a curve from one solution to another, found by FourierPathFinder
  (:func:`lls_core.pathfinder.find_paths`), or the *straight line* between them.
  :class:`PairPath` is one pair's path, :class:`PairPaths` all pairs of one set on one
  landscape, :func:`pair_path` / :func:`pair_paths` find them.
* *height* (``height``): the largest loss on a path's points (Yu & Morozov Eq. 5; what
  the paper calls the barrier height, and what its claims compare).
  ``linear_height``: the same on the straight line; ``fine_height``: on a fine grid of
  ``t`` (:func:`lls_core.pathfinder.fine_grid`).
* *endpoint loss* (``endpoint_loss``): the larger of the two end points' losses.
* *barrier* (``barrier``): how far a path rises above its higher end point,
  ``height - endpoint_loss`` (0 when the path's highest point is an end point).
* *chord barrier* (``chord_barrier``, :func:`lls_core.visualize.linear_path`,
  :func:`lls_core.vizstudy.chord_barriers`): how far the straight line's loss rises
  above the chord ``(1 - t) L(0) + t L(1)`` (Frankle et al. 2020), another reference
  line, so another name.
* *barriers* (plural, in :mod:`lls_core.topography`: ``all_barriers``,
  ``barrier_frame``, ``third_barriers``, ``BARRIER_CLAIMS``): the barrier study of the
  chapter of that name, the paths between pairs of every set and what is measured on
  them; those functions take and return :class:`PairPaths`.

Everything here takes plain tensors: a weight set is a ``(K, d)`` float tensor, a
set collection a ``Mapping[str, Tensor]`` with a common ``d``; networks are
evaluated at a flat vector through :func:`lls_core.params.unflatten` and
:func:`lls_core.models.loss`. Results are frozen dataclasses of numpy arrays.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import time
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Mapping, Sequence

import numpy as np
import torch
from torch import Tensor, nn

from lls_core import checks, models, params, pathfinder, runtime
from lls_core.store import PAIR_FORMAT, PairStore

__all__ = [
    "SET_NAMES",
    "LANDSCAPES",
    "KERNELS",
    "check_sets",
    "need_sets",
    "WeightStats",
    "weight_stats",
    "centroid",
    "common_origin",
    "Distances",
    "distances",
    "isometric_embedding",
    "KPCA",
    "kernel_pca",
    "median_gamma",
    "PathConfig",
    "PairPath",
    "PairPaths",
    "sample_pairs",
    "disjoint_pairs",
    "pair_path",
    "pair_paths",
    "Sharpness",
    "SharpnessSet",
    "sharpness",
    "sharpness_set",
]

SET_NAMES: tuple[str, ...] = ("BFGS-train", "BFGS-test", "SGD-train", "SGD-test")
"""The paper's four sets, in the order of its tables."""
LANDSCAPES: tuple[str, ...] = ("train", "test")
KERNELS: tuple[str, ...] = ("rbf", "linear", "poly", "sigmoid", "cosine")


# --------------------------------------------------------------------------- sets
def _check_matrix(w: object, name: str, min_rows: int = 1) -> Tensor:
    """A weight set: a finite floating ``(K, d)`` tensor with ``K >= min_rows`` (:func:`lls_core.checks.matrix`)."""
    return checks.matrix(f"weight set {name!r}", w, min_rows=min_rows)


def check_sets(sets: Mapping[str, Tensor], min_rows: int = 1) -> dict[str, Tensor]:
    """Validate a collection of weight sets: each ``(K_i, d)``, finite, one common ``d``.

    Returns a plain dict (same order). Raises ``TypeError``/``ValueError`` naming the
    offending set.
    """
    if not isinstance(sets, Mapping) or not sets:
        raise ValueError("sets must be a non-empty mapping name -> (K, d) tensor")
    out = {str(k): _check_matrix(v, str(k), min_rows) for k, v in sets.items()}
    dims = {k: v.shape[1] for k, v in out.items()}
    if len(set(dims.values())) > 1:
        raise ValueError(f"weight sets disagree on d (number of parameters): {dims}")
    return out


def need_sets(sets: Mapping[str, Any], *names: str) -> None:
    """Refuse a name in ``names`` that is not a key of ``sets``.

    Raises :class:`~lls_core.checks.UnknownNameError` (a ``KeyError`` and a
    ``ValueError``): ``unknown weight set '<name>'; valid: <the keys of sets>``.
    """
    for n in names:
        checks.name("sets", n, sets, what="weight set")


# --------------------------------------------------------------------------- Table S1
@dataclass(frozen=True)
class WeightStats:
    """Mean and standard deviation of all components of each set (Yu & Morozov Table S1).

    ``mean[i]``, ``std[i]`` belong to ``names[i]``; ``n_values[i]`` = K_i * d.
    The standard deviation is the population one (ddof = 0) over all K*d numbers.
    """

    names: tuple[str, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    n_values: tuple[int, ...]

    def to_frame(self) -> "Any":
        """A pandas DataFrame indexed by set name with columns ``mean``, ``std``, ``n_values``."""
        import pandas as pd

        return pd.DataFrame({"mean": self.mean, "std": self.std, "n_values": self.n_values},
                            index=pd.Index(self.names, name="set"))


def weight_stats(sets: Mapping[str, Tensor]) -> WeightStats:
    """Table S1 for ``sets``: each set's ``(K, d)`` entries pooled into one sample (float64 sums)."""
    s = check_sets(sets)
    means, stds, ns = [], [], []
    for w in s.values():
        v = w.detach().reshape(-1).double()
        means.append(float(v.mean()))
        stds.append(float(v.std(unbiased=False)))
        ns.append(int(v.numel()))
    return WeightStats(tuple(s), tuple(means), tuple(stds), tuple(ns))


# --------------------------------------------------------------------------- Figures 5, S3
def centroid(w: Tensor) -> Tensor:
    """Mean of the ``K`` vectors of a ``(K, d)`` set: shape ``(d,)``."""
    return _check_matrix(w, "w").detach().double().mean(dim=0)


def common_origin(sets: Mapping[str, Tensor], between: tuple[str, str] = ("BFGS-train", "SGD-test"),
                  alpha: float = 0.5) -> Tensor:
    """``(1 - alpha) c_a + alpha c_b`` for the centroids of the two named sets; ``(d,)`` float64.

    ``alpha = 0.5`` (default) is the midpoint the paper uses; 0 or 1 puts the origin
    at one centroid.
    """
    s = check_sets(sets)
    need_sets(s, *between)
    if not 0.0 <= float(alpha) <= 1.0:
        raise ValueError(f"alpha={alpha!r}: must lie in [0, 1] (0 = centroid of {between[0]}, 1 = of {between[1]})")
    return (1 - alpha) * centroid(s[between[0]]) + alpha * centroid(s[between[1]])


@dataclass(frozen=True)
class Distances:
    """Distances of every vector from a common origin (Figures 5, S3).

    ``distance[name]``: shape ``(K,)``, Euclidean, in weight units. ``centroid_gap``:
    ``|c_a - c_b|`` for the two sets ``between`` (the paper's dotted lines);
    ``centroid_offset[name]``: ``|c_name - origin|``.
    """

    between: tuple[str, str]
    alpha: float
    origin: np.ndarray
    distance: dict[str, np.ndarray] = field(repr=False)
    centroid_offset: dict[str, float]
    centroid_gap: float


def isometric_embedding(sets: Mapping[str, Tensor]) -> dict[str, np.ndarray]:
    """The sets' vectors in ``n`` dimensions (``n`` = all vectors of all sets) with the same inner products.

    ``sets``: ``{name: (K_i, d)}``. The Gram matrix ``G = W W^T`` of all ``n`` vectors (float64)
    is factored as ``X X^T`` with ``X = V diag(sqrt(max(lambda, 0)))`` (``eigh``), and ``X`` is
    cut back into the sets: ``{name: (K_i, n)}`` float64. Every quantity that depends on the
    vectors only through inner products -- norms, distances, centroids' distances, PCA and kernel
    PCA with the linear, RBF, polynomial and sigmoid kernels -- is the same on the embedding, to
    float64 rounding, while the ``n x n`` numbers are small enough to archive (48 solutions of
    four sets: 192 x 192) where the ``(n, d)`` weights are not. Per-component statistics (the
    mean or standard deviation of a vector's components) are not preserved.

    >>> import torch
    >>> w = {"a": torch.randn(3, 50, dtype=torch.float64), "b": torch.randn(2, 50, dtype=torch.float64)}
    >>> x = isometric_embedding(w)
    >>> x["a"].shape, bool(np.allclose(x["a"] @ x["b"].T, (w["a"] @ w["b"].T).numpy()))
    ((3, 5), True)
    """
    s = check_sets(sets)
    w = torch.cat([v.detach().double() for v in s.values()]).numpy()
    lam, vec = np.linalg.eigh(w @ w.T)
    x = vec * np.sqrt(np.clip(lam, 0.0, None))
    out, start = {}, 0
    for name, v in s.items():
        out[name] = x[start : start + v.shape[0]].copy()
        start += v.shape[0]
    return out


def distances(sets: Mapping[str, Tensor], *, between: tuple[str, str] = ("BFGS-train", "SGD-test"),
              alpha: float = 0.5, origin: Tensor | None = None) -> Distances:
    """Distance of each vector of every set from the common origin.

    ``origin`` overrides the default midpoint (shape ``(d,)``); ``between`` and
    ``alpha`` define the default (see :func:`common_origin`).
    """
    s = check_sets(sets)
    need_sets(s, *between)
    d = next(iter(s.values())).shape[1]
    if origin is None:
        o = common_origin(s, between, alpha)
    else:
        if not isinstance(origin, Tensor) or origin.shape != (d,):
            raise ValueError(f"origin must be a tensor of shape ({d},); got {getattr(origin, 'shape', type(origin))}")
        checks.tensor("origin", origin, finite=True)
        o = origin.detach().double()
    dist = {k: torch.linalg.vector_norm(w.detach().double() - o, dim=1).numpy() for k, w in s.items()}
    offs = {k: float(torch.linalg.vector_norm(centroid(w) - o)) for k, w in s.items()}
    gap = float(torch.linalg.vector_norm(centroid(s[between[0]]) - centroid(s[between[1]])))
    return Distances((between[0], between[1]), float(alpha), o.numpy(), dist, offs, gap)


# --------------------------------------------------------------------------- Figures 6, S4
@dataclass(frozen=True)
class KPCA:
    """Kernel PCA of two pooled sets. ``scores``: ``(K_a + K_b, n_components)``; ``labels``: 0 = a, 1 = b.

    ``gamma`` is the value actually used (``None`` for kernels without one);
    ``eigenvalues``: the centred kernel matrix's top eigenvalues, ``(n_components,)``;
    ``explained``: their share of the trace of the centred kernel matrix.
    """

    names: tuple[str, str]
    kernel: str
    gamma: float | None
    degree: int
    coef0: float
    scores: np.ndarray
    labels: np.ndarray
    eigenvalues: np.ndarray
    explained: np.ndarray

    @property
    def pc1(self) -> np.ndarray:
        return self.scores[:, 0]


def median_gamma(x: np.ndarray) -> float:
    """The median heuristic for the RBF width: ``1 / median_{i<j} |x_i - x_j|^2``.

    ``x``: ``(n, d)``. It puts the typical kernel value at exp(-1); scikit-learn's
    default ``1 / d`` would make ``gamma |x_i - x_j|^2`` tiny for weight vectors
    (``|x_i - x_j|^2`` grows like d times the squared weight scale), leaving RBF-kPCA
    almost linear.
    """
    from scipy.spatial.distance import pdist

    d2 = pdist(np.asarray(x, dtype=np.float64), "sqeuclidean")
    med = float(np.median(d2))
    if med <= 0:
        raise ValueError("all vectors coincide: the median squared distance is 0, the RBF width is undefined")
    return 1.0 / med


def kernel_pca(a: Tensor, b: Tensor, *, kernel: str = "rbf", gamma: float | str | None = "median",
               n_components: int = 2, degree: int = 3, coef0: float = 1.0, center: bool = True,
               names: tuple[str, str] = ("a", "b")) -> KPCA:
    """scikit-learn KernelPCA of the pooled ``(K_a, d)`` and ``(K_b, d)`` sets.

    ``kernel``: one of :data:`KERNELS` (``linear`` is ordinary PCA). ``gamma``:
    ``"median"`` (default), a positive float, or ``None`` (scikit-learn's ``1 / d``);
    used by rbf, poly and sigmoid. ``"median"`` is :func:`median_gamma` of the pooled,
    centred vectors for rbf, and ``1 / median |x_i|^2`` for poly and sigmoid, so that
    ``gamma <x, x'>`` is of order 1 and those kernels are really non-linear (with
    ``1 / d`` they reduce to an affine function of the linear kernel for weight vectors).
    ``center``: subtract the pooled mean first (no effect on rbf, linear and the
    eigenvectors' separation; it keeps poly/sigmoid kernels from being dominated by
    the mean vector).
    """
    from sklearn.decomposition import KernelPCA

    checks.name("kernel", kernel, KERNELS)
    wa, wb = _check_matrix(a, names[0], 2), _check_matrix(b, names[1], 2)
    if wa.shape[1] != wb.shape[1]:
        raise ValueError(f"sets {names[0]!r} and {names[1]!r} disagree on d: {wa.shape[1]} vs {wb.shape[1]}")
    n = wa.shape[0] + wb.shape[0]
    if not isinstance(n_components, int) or not 1 <= n_components < n:
        raise ValueError(f"n_components={n_components!r}: must be an integer in [1, {n - 1}]")
    x = torch.cat([wa, wb]).detach().double().numpy()
    if center:
        x = x - x.mean(axis=0)
    g: float | None
    if kernel in ("linear", "cosine"):
        g = None
    elif gamma == "median" and kernel == "rbf":
        g = median_gamma(x)
    elif gamma == "median":  # poly, sigmoid: put the typical gamma <x, x'> scale at 1
        med = float(np.median(np.einsum("ij,ij->i", x, x)))
        if med <= 0:
            raise ValueError("all vectors are zero after centring: gamma='median' is undefined")
        g = 1.0 / med
    elif gamma is None:
        g = 1.0 / x.shape[1]
    elif isinstance(gamma, (int, float)) and not isinstance(gamma, bool) and 0 < gamma < math.inf:
        g = float(gamma)
    else:
        raise ValueError(f"gamma={gamma!r}: must be 'median', None (1/d) or a positive number")
    kp = KernelPCA(n_components=n_components, kernel=kernel, gamma=g, degree=degree, coef0=coef0,
                   eigen_solver="dense")
    scores = kp.fit_transform(x)
    lam = np.asarray(kp.eigenvalues_, dtype=float)
    # Trace of the centred kernel matrix, for the share of "variance" each component carries.
    from sklearn.metrics.pairwise import pairwise_kernels

    kw = {"gamma": g} if g is not None else {}
    if kernel == "poly":
        kw.update(degree=degree, coef0=coef0)
    elif kernel == "sigmoid":
        kw.update(coef0=coef0)
    k = pairwise_kernels(x, metric=kernel, **kw)
    h = np.eye(n) - 1.0 / n
    total = float(np.trace(h @ k @ h))
    scale = float(np.abs(k).max()) if k.size else 0.0
    if not (total > 1e-12 * n * scale and np.isfinite(scores).all() and lam.size and lam.max() > 0):
        try:
            hint = f"; the median rule gives gamma={median_gamma(x):.3g}" if kernel == "rbf" else ""
        except ValueError:
            hint = ""
        raise ValueError(f"kernel={kernel!r} with gamma={g!r} makes every centred kernel value zero (all points "
                         f"look alike): no component carries variance{hint}")
    labels = np.r_[np.zeros(wa.shape[0], int), np.ones(wb.shape[0], int)]
    return KPCA((names[0], names[1]), kernel, g, degree, coef0, scores, labels, lam,
                lam / total if total > 0 else np.full_like(lam, np.nan))


# --------------------------------------------------------------------------- Figures 4, S2
@dataclass(frozen=True)
class PathConfig(pathfinder.PathSettings):
    """FourierPathFinder settings for the barrier study: a :class:`lls_core.pathfinder.PathSettings`
    (``n_terms``, ``n_points``, ``lam``, ``lr``, ``steps``, ... with the authors' network values
    as defaults: 10, 51, 1e-3, 1e-3, 100; lambda = ``0.001 * smoothness_loss`` in commits
    d1697ac, 5a68028, e11b717) plus what the barrier study adds around the search:

    ``n_data``: evaluate the loss on the first ``n_data`` images of the landscape's data
    (``None`` = all); ``fine_points``: each found path is re-evaluated on that many
    equally spaced ``t`` (plus its own points; 0: not) for its true height
    (:func:`lls_core.pathfinder.fine_grid`). ``memory_mb`` bounds one call's autograd
    graph (default :data:`PAIR_MEMORY_MB`; with ``batched=False`` the points go one at a
    time, unbounded). Validated on creation like every :class:`~lls_core.pathfinder.PathSettings`.
    """

    n_data: int | None = None
    fine_points: int = pathfinder.FINE_POINTS

    def __post_init__(self) -> None:
        super().__post_init__()
        checks.optional_integer("PathConfig.n_data", self.n_data, min=1)
        fp = self.fine_points
        if not isinstance(fp, int) or isinstance(fp, bool) or (fp != 0 and fp < 2):
            raise ValueError(f"PathConfig.fine_points={fp!r} is out of range; expected 0 (no fine grid) or an integer >= 2")

    def key(self) -> dict[str, Any]:
        """The settings that determine a stored pair's result (chunking and memory bound left out).

        Written as the format-2 pair cache wrote them, so that pairs stored then are found
        again: ``batched`` ``None`` is the default hand-batched evaluation (``True``), and
        ``grad_noise``, ``curve``, which that format did not know, appear only when they
        differ from their defaults (0, ``"fourier"``).
        """
        out: dict[str, Any] = {k: getattr(self, k) for k in ("n_terms", "n_points", "lam", "lr", "steps", "n_data",
                                                               "seed", "keep", "fine_points")}
        out["batched"] = None if self.batched is True else self.batched
        out.update({k: getattr(self, k) for k, v in (("grad_noise", 0.0), ("curve", "fourier")) if getattr(self, k) != v})
        return out


@dataclass(frozen=True)
class PairPath:
    """One path between vectors ``i`` and ``j`` of a set (the words: module docstring).

    ``height``: max loss along the optimized path (Eq. 5); ``linear_height``: the
    same along the straight line; ``length``: sum of ``|w(t_{k+1}) - w(t_k)|`` (weight
    units); ``endpoint_loss``: the larger of the two end points' losses; ``seconds``:
    wall time of the path search (pairs found together share it equally);
    ``fine_height``: the largest loss of the same path on the fine grid of
    ``PathConfig.fine_points`` (NaN without one); ``max_t``: where on the path (``t``) its
    own points reach ``height``.
    """

    i: int
    j: int
    height: float
    length: float
    linear_height: float
    endpoint_loss: float
    seconds: float
    fine_height: float = math.nan
    max_t: float = math.nan


@dataclass(frozen=True)
class PairPaths:
    """The paths between pairs of one set on one landscape (:func:`pair_paths`): the fields of
    :class:`PairPath` as arrays of shape ``(P,)`` (``pairs``: ``(P, 2)``)."""

    set_name: str
    landscape: str
    config: PathConfig
    pairs: np.ndarray
    height: np.ndarray
    length: np.ndarray
    linear_height: np.ndarray
    endpoint_loss: np.ndarray
    seconds: np.ndarray
    n_cached: int = 0
    fine_height: np.ndarray | None = None
    max_t: np.ndarray | None = None

    @property
    def barrier(self) -> np.ndarray:
        """How far each path rises above its higher end point: ``height - endpoint_loss``, ``(P,)``."""
        return self.height - self.endpoint_loss

    @property
    def understatement(self) -> np.ndarray:
        """``fine_height - height`` ``(P,)``: how far the height on the path's own points
        understates its maximum on the fine grid (NaN where there was no fine grid)."""
        if self.fine_height is None:
            return np.full(self.height.shape, np.nan)
        return self.fine_height - self.height


def sample_pairs(k: int, n_pairs: int, seed: int = 0) -> np.ndarray:
    """``n_pairs`` distinct unordered pairs ``(i, j)``, ``i < j < k``, drawn without replacement.

    Returns an int64 array of shape ``(n_pairs, 2)``. Deterministic in ``seed``.
    """
    checks.integer("k", k, min=2)  # two vectors make a pair
    total = k * (k - 1) // 2
    checks.integer("n_pairs", n_pairs, min=1, max=total)
    iu, ju = np.triu_indices(k, 1)
    pick = np.random.default_rng(seed).choice(total, size=n_pairs, replace=False)
    return np.stack([iu[pick], ju[pick]], axis=1).astype(np.int64)


def disjoint_pairs(k: int, n_pairs: int | None = None, seed: int = 0) -> np.ndarray:
    """Pairs ``(i, j)``, ``i < j < k``, that use every vector at most once: ``(min(n_pairs, k // 2), 2)``.

    A random permutation of ``range(k)`` cut into consecutive pairs (deterministic in ``seed``;
    with odd ``k`` one vector is left out). Disjoint pairs make per-pair quantities
    (path heights) independent samples, as a two-sample test needs; random pairs that
    share end points are not. Two sets of the same size get the same pairs for the same
    ``seed``, so sets drawn from the same runs (training and early-stopping weights) are
    paired run for run. Example: ``disjoint_pairs(6, seed=0)`` has 3 rows and uses 0..5 once each.
    """
    if not isinstance(k, int) or isinstance(k, bool) or k < 2:
        raise ValueError(f"k={k!r}: need at least 2 vectors to form a pair")
    most = k // 2
    if n_pairs is None:
        n_pairs = most
    if isinstance(n_pairs, bool) or not isinstance(n_pairs, int) or not 1 <= n_pairs <= most:
        raise ValueError(f"n_pairs={n_pairs!r}: must be an integer in [1, {most}] for k={k} vectors "
                         "(each vector used at most once)")
    perm = np.random.default_rng(seed).permutation(k)[: 2 * n_pairs].reshape(n_pairs, 2)
    return np.sort(perm, axis=1).astype(np.int64)


def _run_paths(model: nn.Module, x: Tensor, y: Tensor, S: Tensor, E: Tensor, cfg: PathConfig,
               ij: Sequence[tuple[int, int]]) -> list[PairPath]:
    """Paths between the pairs ``S[m] -> E[m]`` (``(M, d)`` each), found together by
    :func:`lls_core.pathfinder.find_paths` and re-evaluated on the fine grid; one
    :class:`PairPath` per pair (labelled ``ij[m]``)."""
    mem = cfg.memory_mb if cfg.batched else None
    if cfg.n_data is not None:
        x, y = x[: cfg.n_data], y[: cfg.n_data]
    torch.manual_seed(cfg.seed)
    start = time.perf_counter()
    res = pathfinder.find_paths(model, S.detach(), E.detach(), cfg, data=(x, y), memory_mb=mem)
    fine = (pathfinder.fine_grid(model, res, data=(x, y), n_points=cfg.fine_points, batched=cfg.batched, memory_mb=mem)
            if cfg.fine_points else None)
    secs = (time.perf_counter() - start) / len(res)
    ends = res.linear_losses[:, [0, -1]].max(1).values
    max_t = res.max_t
    return [PairPath(int(i), int(j), float(res.height[m]), float(res.length[m]), float(res.linear_height[m]),
                        float(ends[m]), secs, math.nan if fine is None else float(fine.height[m]), float(max_t[m]))
            for m, (i, j) in enumerate(ij)]


def pair_path(model: nn.Module, x: Tensor, y: Tensor, w1: Tensor, w2: Tensor,
                 config: PathConfig = PathConfig(), i: int = 0, j: int = 1) -> PairPath:
    """FourierPathFinder between ``w1`` and ``w2`` (each ``(d,)``) on the loss over ``(x, y)``."""
    d = params.num_params(model)
    checks.vector("w1", w1, size=d)
    checks.vector("w2", w2, size=d)
    checks.images(x, y, n_classes=10 if models.is_classifier(model) else None, what="landscape data")
    checks.same_device(w1=w1, w2=w2, x=x)
    if w1.dtype != w2.dtype or next(model.parameters()).dtype != w1.dtype:
        raise ValueError(f"w1 ({w1.dtype}), w2 ({w2.dtype}) and the model ({next(model.parameters()).dtype}) "
                         "must share one dtype")
    return _run_paths(model, x, y, w1[None], w2[None], config, [(i, j)])[0]


# ------------------------------------------------------------------ pair cache (resume)
def _digest(*parts: bytes | str) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(p if isinstance(p, bytes) else p.encode())
        h.update(b"\x00")
    return h.hexdigest()[:32]


def _tensor_bytes(t: Tensor) -> bytes:
    return t.detach().contiguous().cpu().numpy().tobytes()


def _model_key(model: nn.Module) -> str:
    return json.dumps({"class": type(model).__name__, "activation": getattr(model, "activation", None),
                       "perm_seed": getattr(model, "perm_seed", None), "d": params.num_params(model)})


_PAIR_FIELDS = ("height", "length", "linear_height", "endpoint_loss")
"""Values of a stored pair that must be finite (a pair with a NaN height is recomputed, never stored)."""
_STORED = ("i", "j", "height", "length", "linear_height", "endpoint_loss", "seconds", "fine_height", "max_t")


def _save_pair(store: PairStore, key: str, r: PairPath, meta: str) -> None:
    """Store one pair's result under ``key`` (atomically, with ``meta`` and a checksum; not when non-finite)."""
    store.save(key, asdict(r), meta, finite=_PAIR_FIELDS)


def _load_pair(store: PairStore, key: str, meta: str) -> PairPath | None:
    """The stored, verified pair, or ``None`` when it must be (re)computed (see :meth:`PairStore.load`)."""
    v = store.load(key, meta, _STORED, finite=_PAIR_FIELDS)
    if v is None:
        return None
    return PairPath(int(v["i"]), int(v["j"]), *(float(v[k]) for k in _STORED[2:]))


def _pairs_task(model: nn.Module, x: Tensor, y: Tensor, S: Tensor, E: Tensor, cfg: PathConfig,
                ij: list[tuple[int, int]], threads: int) -> list[PairPath]:
    import copy

    runtime.configure(threads or None)
    # functional_call swaps tensors into the module while it runs: give each task its own copy,
    # so that tasks sharing one worker process (threads) never see each other's weights.
    return _run_paths(copy.deepcopy(model), x, y, S, E, cfg, ij)


def _n_workers(client: Any) -> int:
    try:
        return max(1, len(client.scheduler_info()["workers"]))
    except Exception:  # a client without scheduler information: assume two
        return 2


PAIR_MEMORY_MB: float | None = pathfinder.PathSettings.memory_mb
"""Default bound (MiB) on one call's autograd graph of a :class:`PathConfig` (1 GiB, the path finder's)."""

PAIR_BATCH: int = 16
"""Pairs whose paths :func:`pair_paths` finds together (one :func:`lls_core.pathfinder.find_paths` call)."""


def pair_paths(model: nn.Module, x: Tensor, y: Tensor, w: Tensor, *, n_pairs: int, seed: int = 0,
             config: PathConfig = PathConfig(), set_name: str = "", landscape: str = "train",
             client: Any = None, store: PairStore | None = None,
             threads_per_task: int = 1, progress: bool = False, pair_batch: int = PAIR_BATCH,
             pairs: np.ndarray | None = None) -> PairPaths:
    """Paths (their heights, lengths, ...) between ``n_pairs`` random pairs of the ``(K, d)`` set ``w``.

    The loss is ``models.loss(model, x, y)`` at each path point (``x``: images
    ``(N, 1, 28, 28)``, ``y``: labels ``(N,)``): pass the training data for the
    training landscape and the test data for the test landscape (``landscape`` is
    only a label). Pairs come from :func:`sample_pairs` with ``seed``, unless ``pairs``
    (``(P, 2)`` indices into ``w``, e.g. :func:`disjoint_pairs`) is given; ``n_pairs`` must
    then equal ``P``.

    ``client``: a ``dask.distributed.Client``; pairs are then submitted as
    independent tasks (data scattered once) and gathered as they finish. Without
    it they run here, one after another. ``store``: a :class:`lls_core.store.PairStore`
    (the artifact store's pairs of one namespace, ``Store(root).pairs(arch)``); every
    finished pair is written there atomically, keyed by a hash of the two vectors, the
    data, the model and ``config.key()``, with that metadata and a content checksum
    inside; a rerun loads finished pairs and computes only the missing ones. A file that
    is truncated, altered, holds a NaN height or other settings is quarantined (with a
    warning naming it) and recomputed. Pairs being computed are locked (per pair, in key
    order), so two processes sharing a store never compute the same pair twice: the
    second waits and loads it.

    The missing pairs are found ``pair_batch`` at a time by one
    :func:`lls_core.pathfinder.find_paths` call (each pair's path is what it would be
    alone; a batch is stored as soon as it is done, so a stopped run resumes from the
    last finished batch); on Dask each task is such a batch, at most
    ``len(missing) / workers`` pairs so that every worker gets one.
    """
    checks.integer("pair_batch", pair_batch, min=1)
    w = _check_matrix(w, set_name or "w", 2)
    d = params.num_params(model)
    if w.shape[1] != d:
        raise ValueError(f"set {set_name!r} has d={w.shape[1]}; the model has {d} parameters")
    checks.name("landscape", landscape, LANDSCAPES)
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"x has {x.shape[0]} images but y has {y.shape[0]} labels")
    checks.images(x, y, n_classes=10 if models.is_classifier(model) else None, what="landscape data")
    if pairs is None:
        pairs = sample_pairs(int(w.shape[0]), n_pairs, seed)
    else:
        pairs = np.asarray(pairs, dtype=np.int64)
        if pairs.ndim != 2 or pairs.shape[1] != 2 or pairs.shape[0] != n_pairs:
            raise ValueError(f"pairs has shape {pairs.shape}; expected ({n_pairs}, 2)")
        if pairs.size and (pairs.min() < 0 or pairs.max() >= w.shape[0] or np.any(pairs[:, 0] == pairs[:, 1])):
            raise ValueError(f"pairs must index two different vectors of the {w.shape[0]} in set {set_name!r}")
    if store is not None and not isinstance(store, PairStore):
        raise ValueError(f"store is a {type(store).__name__}; expected a lls_core.store.PairStore "
                         "(Store(root).pairs(namespace)) or None")
    results: dict[int, PairPath] = {}
    keys: list[str] = []
    meta = ""

    def _cached(p: int) -> bool:
        if store is None or p in results:
            return p in results
        got = _load_pair(store, keys[p], meta)
        if got is not None:
            results[p] = replace(got, i=int(pairs[p][0]), j=int(pairs[p][1]))
        return got is not None

    if store is not None:
        xs = x[: config.n_data] if config.n_data is not None else x
        ys = y[: config.n_data] if config.n_data is not None else y
        data_hash = _digest(_tensor_bytes(xs), _tensor_bytes(ys))
        meta = json.dumps({"model": json.loads(_model_key(model)), "config": config.key(), "data": data_hash,
                           "format": PAIR_FORMAT}, sort_keys=True)
        base = _digest(meta)
        keys = [_digest(base, _tensor_bytes(w[i]), _tensor_bytes(w[j])) for i, j in pairs]
        for p in range(len(pairs)):
            _cached(p)
    n_cached = len(results)
    todo = [p for p in range(len(pairs)) if p not in results]

    def _done(p: int, r: PairPath) -> None:
        results[p] = r
        if store is not None:
            _save_pair(store, keys[p], r, meta)

    def _locked(ps: list[int]) -> tuple[contextlib.ExitStack, list[int]]:
        """Lock the pairs ``ps`` (in key order: no two processes wait on each other) and return
        the lock and those still missing (another process may have stored some meanwhile)."""
        stack = contextlib.ExitStack()
        if store is None:
            return stack, ps
        for k in sorted({keys[p] for p in ps}):
            stack.enter_context(store.lock(k))
        return stack, [p for p in ps if not _cached(p)]

    bar = None
    from . import progress as _progress

    if _progress.enabled(progress) and todo:
        bar = _progress.bar(total=len(todo), desc=f"paths {set_name} ({landscape})", unit="pairs")
    if client is None:
        for q in range(0, len(todo), pair_batch):
            lock, ps = _locked(todo[q: q + pair_batch])
            with lock:
                ij = [(int(pairs[p][0]), int(pairs[p][1])) for p in ps]
                found = _run_paths(model, x, y, w[[i for i, _ in ij]], w[[j for _, j in ij]], config, ij) if ps else []
                for p, r in zip(ps, found):
                    _done(p, r)
            if bar is not None:
                bar.update(len(todo[q: q + pair_batch]))
    elif todo:
        from dask.distributed import as_completed

        lock, locked = _locked(todo)
        with lock:
            todo = locked

            # hash=False: fresh keys on every call. With content-hashed keys a second call that
            # scatters the same model while the first call's futures are being released can
            # leave its tasks waiting forever for data the scheduler has just forgotten.
            fx, fy, fm = client.scatter([x, y, model], broadcast=True, hash=False) if todo else (None, None, None)
            futs = {}
            size = max(1, min(pair_batch, math.ceil(len(todo) / _n_workers(client))))
            for q in range(0, len(todo), size):
                ps = todo[q: q + size]
                ij = [(int(pairs[p][0]), int(pairs[p][1])) for p in ps]
                f = client.submit(_pairs_task, fm, fx, fy, w[[i for i, _ in ij]].clone(), w[[j for _, j in ij]].clone(),
                                  config, ij, threads_per_task, pure=False)
                futs[f] = ps
            for f in as_completed(futs):
                for p, r in zip(futs[f], f.result()):
                    _done(p, r)
                if bar is not None:
                    bar.update(len(futs[f]))
    if bar is not None:
        bar.close()
    rs = [results[p] for p in range(len(pairs))]
    return PairPaths(
        set_name=set_name,
        landscape=landscape,
        config=config,
        pairs=pairs,
        height=np.array([r.height for r in rs]),
        length=np.array([r.length for r in rs]),
        linear_height=np.array([r.linear_height for r in rs]),
        endpoint_loss=np.array([r.endpoint_loss for r in rs]),
        seconds=np.array([r.seconds for r in rs]),
        n_cached=n_cached,
        fine_height=np.array([r.fine_height for r in rs]),
        max_t=np.array([r.max_t for r in rs]),
    )


# --------------------------------------------------------------------------- sharpness
@dataclass(frozen=True)
class Sharpness:
    """Curvature of the loss at one solution.

    ``top_eigenvalue``: largest Hessian eigenvalue (Lanczos on Hessian-vector
    products), loss units per squared weight unit; ``trace``:
    Hutchinson estimate of tr(H) with ``trace_se`` its standard error over
    ``n_probes`` Rademacher probes; ``n_hvp``: Hessian-vector products used.
    """

    top_eigenvalue: float
    trace: float
    trace_se: float
    n_probes: int
    n_hvp: int


@dataclass(frozen=True)
class SharpnessSet:
    """Sharpness of every vector of a set: arrays of shape ``(K,)``."""

    set_name: str
    top_eigenvalue: np.ndarray
    trace: np.ndarray
    trace_se: np.ndarray


def sharpness(model: nn.Module, x: Tensor, y: Tensor, w: Tensor, *, n_probes: int = 10,
              lanczos_steps: int = 30, seed: int = 0) -> Sharpness:
    """Top Hessian eigenvalue and Hutchinson trace of the loss over ``(x, y)`` at ``w`` (``(d,)``).

    Uses :mod:`lls_core.hessian`: the eigenvalue is the largest Ritz value of
    ``lanczos_steps`` Lanczos steps (extreme eigenvalues converge first), the trace
    the mean of ``z . H z`` over ``n_probes`` Rademacher vectors ``z``.
    """
    from lls_core import hessian

    d = params.num_params(model)
    if not isinstance(w, Tensor) or w.shape != (d,):
        raise ValueError(f"w must be a tensor of shape ({d},); got {getattr(w, 'shape', w)}")
    if not isinstance(n_probes, int) or n_probes < 2:
        raise ValueError(f"n_probes={n_probes!r}: need an integer >= 2 (for a standard error)")
    if not isinstance(lanczos_steps, int) or lanczos_steps < 2:
        raise ValueError(f"lanczos_steps={lanczos_steps!r}: need an integer >= 2")
    hvp = hessian.model_hvp(model, x, y, w.detach())
    top = hessian.top_eigenvalues(hvp, d, 1, method="lanczos", iters=min(d, lanczos_steps), seed=seed)
    tr = hessian.hutchinson_trace(hvp, d, n_probes, seed=seed + 1)
    return Sharpness(float(top.values[0]), tr.mean, tr.stderr, n_probes, top.matvecs + n_probes)


def sharpness_set(model: nn.Module, x: Tensor, y: Tensor, w: Tensor, *, set_name: str = "",
                  n_probes: int = 10, lanczos_steps: int = 30, seed: int = 0,
                  progress: bool = False) -> SharpnessSet:
    """:func:`sharpness` at each of the ``K`` vectors of ``w`` (``(K, d)``)."""
    from . import progress as _progress

    w = _check_matrix(w, set_name or "w")
    it: Sequence[int] | Any = range(w.shape[0])
    if _progress.enabled(progress):
        it = _progress.bar(it, desc=f"sharpness {set_name}", unit="solutions")
    res = [sharpness(model, x, y, w[k], n_probes=n_probes, lanczos_steps=lanczos_steps, seed=seed + k)
           for k in it]
    return SharpnessSet(set_name, np.array([r.top_eigenvalue for r in res]),
                        np.array([r.trace for r in res]), np.array([r.trace_se for r in res]))
