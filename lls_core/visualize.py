"""Pictures of a network's loss landscape (Li et al. 2018; Liang et al. 2021, section 5).

All functions work on flat weight vectors ``w`` of shape ``(d,)`` (see
:mod:`lls_core.params`) and a loss closure ``loss_fn(w) -> scalar`` such as
:func:`lls_core.hessian.flat_loss`.

* :func:`random_direction` -- a Gaussian direction with filter normalization:
  every filter of a convolution (slice along the output-channel axis) and every
  neuron row of a linear layer is rescaled to the norm of the same filter/row of
  the weights, so a step of 1 moves each filter by its own size. One-dimensional
  parameters (biases, batch-norm scales and shifts) are either zeroed
  (``bias_bn="zero"``, Li et al.'s default) or normalized as one group each
  (``bias_bn="filter"``).
* :func:`losses_at` -- the loss at many weight vectors ``(B, d) -> (B,)``, through
  one :class:`lls_core.engine.Engine` (the hand-batched forward passes of
  :mod:`lls_core.batched` for the study networks, ``torch.func.vmap`` for any other
  loss, or point by point), in chunks of points and data.
* :func:`slice_1d`, :func:`slice_2d` -- the loss along ``w + a u`` and on the
  plane ``w + a u + b v`` (an affine family of points: for FCP and the autoencoder
  the engine computes the first layer only at the basis vectors and mixes it per point).
* :func:`trajectory_pca` -- the two leading principal directions of a training
  trajectory (Li et al.: differences from the final weights), and the path's
  coordinates in them.
* :func:`mds` -- metric multidimensional scaling of a set of solutions
  (scikit-learn).
* :func:`linear_path` -- linear mode connectivity: the loss along the segment
  between two solutions, and its chord barrier (the rise above the chord of the end losses).
* :func:`curvature_map` -- Li et al.'s map of ``|lambda_min / lambda_max|`` of the
  full Hessian at every point of a 2-D slice (Lanczos on Hessian-vector products).
* :func:`embed_trajectories` -- whole training trajectories in one 2-D picture:
  metric MDS of all their snapshots together, or PHATE (the ``phate`` package).
* :func:`train_demo` -- the demonstration nets' mini-batch SGD trainer: records a
  thinned trajectory, can stop at a target training loss (:func:`full_loss`) and
  keeps batch-norm statistics (not :func:`lls_core.train.train`: see its docstring).
* :func:`plot_slice`, :func:`plot_map` -- the chapter's plots (batch-size colours: :func:`lls_core.plotting.batch_colors`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, Sequence

import numpy as np
import torch
from torch import Tensor, nn

from lls_core import batched as _batched
from lls_core import checks, models, params
from lls_core import hessian as _hessian
from lls_core.engine import TRIAL_CALL_MB, Engine
from lls_core.hessian import FlatLoss, FlatLossFn

__all__ = [
    "NORMS",
    "BIAS_BN",
    "random_direction",
    "group_norms",
    "losses_at",
    "Slice1D",
    "Slice2D",
    "slice_1d",
    "slice_2d",
    "nonconvex_fraction",
    "TrajectoryPCA",
    "trajectory_pca",
    "Embedding",
    "mds",
    "LinearPath",
    "linear_path",
    "CurvatureMap",
    "curvature_map",
    "TrajectoryEmbedding",
    "EMBEDDINGS",
    "embed_trajectories",
    "TrainResult",
    "full_loss",
    "train_demo",
    "recalibrate_batch_norm",
    "random_plane",
    "plane_directions",
    "plot_slice",
    "plot_map",
]

NORMS: tuple[str, ...] = ("filter", "layer", "none")
BIAS_BN: tuple[str, ...] = ("zero", "filter")


def _groups(model: nn.Module, w: Tensor) -> list[tuple[str, Tensor]]:
    """``(name, view)`` per parameter of the flat vector ``w``; views share ``w``'s storage."""
    return list(params.unflatten(model, w).items())


def group_norms(model: nn.Module, v: Tensor) -> list[Tensor]:
    """Norm of every filter / neuron row (dim >= 2: one per output index) and of every 1-D parameter.

    Returns one tensor per parameter tensor: shape ``(out,)`` for weights with
    dim >= 2, shape ``(1,)`` for 1-D parameters.
    """
    out = []
    for _, t in _groups(model, v):
        out.append(t.reshape(t.shape[0], -1).norm(dim=1) if t.ndim >= 2 else t.norm().reshape(1))
    return out


def random_direction(
    model: nn.Module,
    w: Tensor | None = None,
    *,
    seed: int = 0,
    norm: str = "filter",
    bias_bn: str = "zero",
) -> Tensor:
    """A random direction ``(d,)`` for ``model`` around weights ``w`` (default: the model's own).

    Gaussian entries drawn from ``seed``; ``norm="filter"`` rescales every filter /
    neuron row to the matching norm in ``w`` (Li et al. 2018), ``"layer"`` every
    whole parameter tensor, ``"none"`` leaves the Gaussian as drawn. ``bias_bn``:
    ``"zero"`` sets the direction to 0 on 1-D parameters (biases, batch-norm),
    ``"filter"`` rescales each such vector to the norm of its weights.
    """
    checks.name("norm", norm, NORMS)
    checks.name("bias_bn", bias_bn, BIAS_BN)
    w = params.flatten(model) if w is None else w.detach()
    g = torch.Generator().manual_seed(seed)
    d = torch.randn(w.shape, generator=g, dtype=torch.float64).to(w.dtype)
    if norm == "none":
        return d
    for (_, dt), (_, wt) in zip(_groups(model, d), _groups(model, w)):
        if dt.ndim <= 1 and bias_bn == "zero":
            dt.zero_()
            continue
        if norm == "filter" and dt.ndim >= 2:
            rows_d = dt.reshape(dt.shape[0], -1)
            rows_w = wt.reshape(wt.shape[0], -1)
            rows_d.mul_((rows_w.norm(dim=1) / (rows_d.norm(dim=1) + 1e-10)).unsqueeze(1))
        else:
            dt.mul_(wt.norm() / (dt.norm() + 1e-10))
    return d


BATCHED: tuple[object, ...] = (True, "vmap", False)


def _check_eval_args(chunk_size: object, batched: object) -> None:
    checks.optional_integer("chunk_size", chunk_size, min=1)
    if not any(batched is m or (isinstance(m, str) and batched == m) for m in BATCHED):
        raise ValueError(f"batched={batched!r}; valid: True, 'vmap', False")


def _engine(loss_fn: FlatLossFn, batched: bool | str) -> Engine:
    """The :class:`~lls_core.engine.Engine` that evaluates ``loss_fn`` at many weight vectors.

    A :class:`FlatLoss` becomes the engine of its model on its data (hand-batched
    kernels for a study network with ``batched=True``, else ``vmap`` over
    ``functional_call``, or one point at a time for ``batched=False``); any other
    closure ``w (d,) -> ()`` becomes a surface: ``vmap(loss_fn)``, or a loop over the
    rows for ``batched=False``. The calls build no autograd graph, so no memory bound.
    """
    if isinstance(loss_fn, FlatLoss):
        return Engine(loss_fn.model, (loss_fn.x, loss_fn.y), batched=batched, memory_mb=None)
    if batched is False:
        return Engine(lambda W: torch.stack([loss_fn(w) for w in W]), memory_mb=None)
    return Engine(torch.func.vmap(loss_fn), memory_mb=None)


def _chunks(eng: Engine, loss_fn: FlatLossFn, V: Tensor, chunk_size: int | None) -> tuple[int, int]:
    """(points, data items) per engine call for points built from the rows of ``V``.

    For the hand-batched study networks one call's largest tensor (points x items x
    the larger of the first-stage output and the network output per item, float32)
    is kept near :data:`lls_core.engine.TRIAL_CALL_MB`, with all data in one call if
    8 points fit: these no-graph evaluations are memory-bound on a CPU (softplus,
    pooling), so calls whose tensors stay near the core's cache run faster than one
    big call (LeNet on a 4 MiB-L2 CPU: 8 points x 64 images per call measured 1.6x
    faster than 8 x 256). Otherwise ``chunk_size`` points (default 32, for ``vmap``)
    and ``data_chunk`` items of a :class:`FlatLoss` (default all). ``chunk_size``
    (points) and ``data_chunk`` (items) are upper limits.
    """
    n = eng.n_data
    data_chunk = loss_fn.data_chunk if isinstance(loss_fn, FlatLoss) else None
    if not (isinstance(loss_fn, FlatLoss) and eng.fast):
        return chunk_size or 32, min(n, data_chunk or n)
    one, x1 = V[:1], loss_fn.x[:1]
    per_item = max(_batched.first_stage(loss_fn.model, one, x1)[0, 0].numel(),
                   _batched.outputs(loss_fn.model, one, x1)[0, 0].numel())
    budget = TRIAL_CALL_MB * 2**20 / (4 * per_item)  # point x item pairs per call
    cd = min(n, data_chunk or n, max(1, int(budget // 8)))  # all data if 8 points fit
    cd = -(-n // -(-n // cd))  # equal data chunks: 256 items in 5 x 52 rather than 4 x 55 + 36
    cp = max(1, int(budget // cd)) if chunk_size is None else chunk_size
    return cp, cd


def _values(loss_fn: FlatLossFn, C: Tensor, V: Tensor, chunk_size: int | None, batched: bool | str) -> Tensor:
    """Loss at the points ``W = C @ V`` (``C`` ``(B, J)``, ``V`` ``(J, d)``): float64 ``(B,)``, no gradients.

    :meth:`lls_core.engine.Engine.affine_losses`: for a network whose first layer the
    engine factors (FCP, autoencoder) that layer runs on the ``J`` rows of ``V`` only.
    """
    eng = _engine(loss_fn, batched)
    cp, cd = _chunks(eng, loss_fn, V, chunk_size)
    with torch.no_grad():
        if eng.module is None:  # a surface: build W chunk by chunk (8 x chunk_size x d at a time)
            out = torch.empty(C.shape[0], dtype=torch.float64)
            for i in range(0, C.shape[0], 8 * cp):
                out[i : i + 8 * cp] = eng.losses(C[i : i + 8 * cp] @ V, chunk_points=cp, chunk_data=1).double()
            return out
        return eng.affine_losses(C, V, chunk_points=cp, chunk_data=cd).double()


def losses_at(loss_fn: FlatLossFn, W: Tensor, *, chunk_size: int | None = None, batched: bool | str = True) -> Tensor:
    """Loss at every row of ``W`` ``(B, d)``, as a float64 tensor ``(B,)``, without gradients.

    One :class:`lls_core.engine.Engine` evaluates all rows. ``batched=True``: a study
    network's loss from :func:`lls_core.hessian.flat_loss` runs through the
    hand-batched kernels of :mod:`lls_core.batched` (chunks sized to
    :data:`lls_core.engine.TRIAL_CALL_MB` unless ``chunk_size`` is given); any other
    ``loss_fn`` as with ``"vmap"``: ``torch.func.vmap`` on chunks of ``chunk_size``
    (default 32) rows. ``batched=False`` evaluates one row at a time (the baseline).

    >>> import torch
    >>> losses_at(lambda w: (w ** 2).sum(), torch.tensor([[1.0, 2.0], [0.0, -1.0]])).tolist()
    [5.0, 1.0]
    """
    if W.ndim != 2:
        raise ValueError(f"W must have shape (B, d); got {tuple(W.shape)}")
    _check_eval_args(chunk_size, batched)
    eng = _engine(loss_fn, batched)
    cp, cd = _chunks(eng, loss_fn, W, chunk_size)
    with torch.no_grad():
        return eng.losses(W, chunk_points=cp, chunk_data=cd).double()


@dataclass(frozen=True)
class Slice1D:
    """Loss ``(n,)`` at ``w + alphas[i] * direction``; ``alphas`` ``(n,)`` in direction units."""

    alphas: np.ndarray
    loss: np.ndarray


@dataclass(frozen=True)
class Slice2D:
    """Loss ``(len(betas), len(alphas))`` at ``w + a u + b v`` (row = beta, column = alpha)."""

    alphas: np.ndarray
    betas: np.ndarray
    loss: np.ndarray

    @property
    def center_loss(self) -> float:
        """Loss at the grid point nearest to the origin."""
        i, j = int(np.abs(self.betas).argmin()), int(np.abs(self.alphas).argmin())
        return float(self.loss[i, j])


def _grid(values: np.ndarray | Tensor | int, name: str) -> np.ndarray:
    a = np.asarray(values, dtype=np.float64).reshape(-1)
    if a.size < 2 or not np.all(np.isfinite(a)):
        raise ValueError(f"{name} must hold at least 2 finite coordinates; got {a.size}")
    return a


def slice_1d(
    loss_fn: FlatLossFn,
    w: Tensor,
    direction: Tensor,
    alphas,
    *,
    chunk_size: int | None = None,
    batched: bool | str = True,
) -> Slice1D:
    """Loss along the line ``w + a * direction`` for each ``a`` in ``alphas`` (batching as in :func:`losses_at`)."""
    a = _grid(alphas, "alphas")
    if direction.shape != w.shape:
        raise ValueError(f"direction has shape {tuple(direction.shape)}; w has {tuple(w.shape)}")
    _check_eval_args(chunk_size, batched)
    at = torch.from_numpy(a).to(w.dtype)
    C = torch.stack([torch.ones_like(at), at], dim=1)  # w = [1, a] @ [w; direction]
    V = torch.stack([w.detach(), direction.detach().to(w.dtype)])
    return Slice1D(a, _values(loss_fn, C, V, chunk_size, batched).numpy())


def slice_2d(
    loss_fn: FlatLossFn,
    w: Tensor,
    u: Tensor,
    v: Tensor,
    alphas,
    betas=None,
    *,
    chunk_size: int | None = None,
    batched: bool | str = True,
) -> Slice2D:
    """Loss on the plane ``w + a u + b v`` over the grid ``alphas x betas`` (``betas`` default ``alphas``).

    The points are the affine family ``[1, a, b] @ [w; u; v]``, evaluated by
    :meth:`lls_core.engine.Engine.affine_losses`: for a study network's
    :func:`lls_core.hessian.flat_loss` (and ``batched=True``) through the
    hand-batched kernels, FCP's and the autoencoder's first layer computed at ``w``,
    ``u`` and ``v`` only and mixed per point (:func:`lls_core.batched.affine_losses`);
    for any other network or loss the grid's weights are built chunk by chunk and
    evaluated with ``vmap``.
    ``chunk_size``: grid points per batched call (default: sized to
    :data:`lls_core.engine.TRIAL_CALL_MB` for the hand-batched path, 32 for ``vmap``).
    """
    a = _grid(alphas, "alphas")
    b = a if betas is None else _grid(betas, "betas")
    for name, t in (("u", u), ("v", v)):
        if t.shape != w.shape:
            raise ValueError(f"{name} has shape {tuple(t.shape)}; w has {tuple(w.shape)}")
    _check_eval_args(chunk_size, batched)
    A, B = np.meshgrid(a, b)  # (len(b), len(a))
    ca = torch.from_numpy(A.reshape(-1)).to(w.dtype)
    cb = torch.from_numpy(B.reshape(-1)).to(w.dtype)
    C = torch.stack([torch.ones_like(ca), ca, cb], dim=1)
    V = torch.stack([w.detach(), u.detach().to(w.dtype), v.detach().to(w.dtype)])
    out = _values(loss_fn, C, V, chunk_size, batched)
    return Slice2D(a, b, out.reshape(len(b), len(a)).numpy())


def nonconvex_fraction(s: Slice2D, *, radius: float | None = None, rel_tol: float = 0.01, abs_tol: float = 1e-2) -> float:
    """Fraction of interior grid points where the slice's finite-difference 2x2 Hessian has a negative eigenvalue.

    A convex bowl scores 0; a chaotic surface scores high. Only points within
    ``radius`` of the origin count (default: the whole interior). Negative means
    below ``-max(abs_tol, rel_tol * median |curvature|)`` (loss units per squared
    direction unit), so round-off on a flat plateau does not count.
    """
    L = s.loss
    ha, hb = np.diff(s.alphas).mean(), np.diff(s.betas).mean()
    faa = (L[1:-1, 2:] - 2 * L[1:-1, 1:-1] + L[1:-1, :-2]) / ha**2
    fbb = (L[2:, 1:-1] - 2 * L[1:-1, 1:-1] + L[:-2, 1:-1]) / hb**2
    fab = (L[2:, 2:] - L[2:, :-2] - L[:-2, 2:] + L[:-2, :-2]) / (4 * ha * hb)
    lam_min = 0.5 * (faa + fbb) - np.sqrt(0.25 * (faa - fbb) ** 2 + fab**2)
    A, B = np.meshgrid(s.alphas[1:-1], s.betas[1:-1])
    mask = np.ones_like(A, dtype=bool) if radius is None else (A**2 + B**2 <= radius**2)
    if not mask.any():
        raise ValueError(f"radius={radius!r} leaves no interior grid point")
    scale = max(abs_tol, rel_tol * float(np.median(np.abs(np.concatenate([faa[mask], fbb[mask]])))))
    return float((lam_min[mask] < -scale).mean())


@dataclass(frozen=True)
class TrajectoryPCA:
    """``directions`` ``(2, d)`` (orthonormal), path ``coords`` ``(T, 2)`` (final point at 0), ``explained`` ``(2,)``."""

    directions: Tensor
    coords: np.ndarray
    explained: np.ndarray


def trajectory_pca(trajectory: Tensor) -> TrajectoryPCA:
    """PCA of a trajectory ``(T, d)`` (Li et al. 2018): the two leading components of ``w_t - w_T``.

    The directions come from ``sklearn.decomposition.PCA`` on the differences from
    the final weights; the path's coordinates are the projections of those
    differences (so the final weights sit at the origin of the plane).
    """
    from sklearn.decomposition import PCA

    if trajectory.ndim != 2 or trajectory.shape[0] < 3:
        raise ValueError(f"trajectory must have shape (T >= 3, d); got {tuple(trajectory.shape)}")
    diffs = (trajectory - trajectory[-1]).double().numpy()
    pca = PCA(n_components=2, svd_solver="full").fit(diffs[:-1])
    dirs = pca.components_
    return TrajectoryPCA(
        torch.from_numpy(dirs).to(trajectory.dtype), diffs @ dirs.T, pca.explained_variance_ratio_.copy()
    )


@dataclass(frozen=True)
class Embedding:
    """MDS ``coords`` ``(n, 2)`` of ``n`` points, their Euclidean ``distances`` ``(n, n)``, Kruskal ``stress``."""

    coords: np.ndarray
    distances: np.ndarray
    stress: float


def mds(W: Tensor, *, seed: int = 0) -> Embedding:
    """Metric MDS (``sklearn.manifold.MDS``, classical-MDS start) of the rows of ``W`` ``(n, d)``."""
    from sklearn.manifold import MDS

    if W.ndim != 2 or W.shape[0] < 3:
        raise ValueError(f"W must have shape (n >= 3, d); got {tuple(W.shape)}")
    D = torch.cdist(W.double(), W.double()).numpy()
    D = 0.5 * (D + D.T)
    np.fill_diagonal(D, 0.0)
    m = MDS(n_components=2, metric="precomputed", init="classical_mds", random_state=seed, normalized_stress=True)
    coords = m.fit_transform(D)
    return Embedding(coords, D, float(m.stress_))


@dataclass(frozen=True)
class LinearPath:
    """Loss ``(n,)`` at ``(1 - t) w_a + t w_b`` for ``ts`` ``(n,)``, and the chord barrier (see :func:`linear_path`)."""

    ts: np.ndarray
    loss: np.ndarray
    chord_barrier: float
    """The loss's largest rise above the chord ``(1 - t) L(0) + t L(1)`` on [0, 1] (Frankle et al. 2020)."""


def linear_path(loss_fn: FlatLossFn, w_a: Tensor, w_b: Tensor, n: int = 21, *, extend: float = 0.0) -> LinearPath:
    """Linear mode connectivity between ``w_a`` and ``w_b`` (both ``(d,)``).

    ``ts`` runs from ``-extend`` to ``1 + extend`` in ``n`` steps. The chord barrier is
    ``max_t [L(t) - ((1 - t) L(0) + t L(1))]`` over ``t`` in [0, 1] (Frankle et al.
    2020): 0 when the loss never rises above the chord.
    """
    if w_a.shape != w_b.shape:
        raise ValueError(f"w_a has shape {tuple(w_a.shape)} and w_b {tuple(w_b.shape)}")
    if not isinstance(n, int) or n < 3:
        raise ValueError(f"n={n!r}: need an integer >= 3 points")
    ts = np.linspace(-extend, 1 + extend, n)
    if not np.any(np.isclose(ts, 0)) or not np.any(np.isclose(ts, 1)):
        ts = np.unique(np.concatenate([ts, [0.0, 1.0]]))
    s = slice_1d(loss_fn, w_a, w_b - w_a, ts)
    l0, l1 = s.loss[np.isclose(ts, 0)][0], s.loss[np.isclose(ts, 1)][0]
    inside = (ts >= 0) & (ts <= 1)
    chord_barrier = float(np.max(s.loss[inside] - ((1 - ts[inside]) * l0 + ts[inside] * l1)))
    return LinearPath(ts, s.loss, chord_barrier)


@dataclass(frozen=True)
class CurvatureMap:
    """Extreme Hessian eigenvalues over a 2-D slice: ``lam_min``, ``lam_max`` ``(len(betas), len(alphas))``.

    Row = beta, column = alpha, as in :class:`Slice2D`. Ritz values from a short
    Lanczos run lie inside the spectrum, so ``|lam_min|`` is a lower bound.
    """

    alphas: np.ndarray
    betas: np.ndarray
    lam_min: np.ndarray
    lam_max: np.ndarray
    iters: int

    @property
    def ratio(self) -> np.ndarray:
        """``|lam_min / lam_max|`` per grid point (``nan`` where ``lam_max <= 0``)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.lam_max > 0, np.abs(self.lam_min / self.lam_max), np.nan)

    @property
    def center(self) -> tuple[float, float]:
        """``(lam_min, lam_max)`` at the grid point nearest to the origin."""
        i, j = int(np.abs(self.betas).argmin()), int(np.abs(self.alphas).argmin())
        return float(self.lam_min[i, j]), float(self.lam_max[i, j])

    def facts(self) -> dict[str, float]:
        """Scalars for glue: median and max ratio over the map, share of points with ratio > 0.1
        (a descriptive share, not a decision), and the eigenvalues at the centre."""
        r = self.ratio
        lo, hi = self.center
        return {"ratio_median": float(np.nanmedian(r)), "ratio_max": float(np.nanmax(r)),
                "center_lam_min": lo, "center_lam_max": hi, "points": int(r.size)}


def curvature_map(
    loss_fn: FlatLossFn,
    w: Tensor,
    u: Tensor,
    v: Tensor,
    alphas,
    betas=None,
    *,
    iters: int = 20,
    seed: int = 0,
) -> CurvatureMap:
    """Li et al. (2018)'s map: ``lambda_min`` and ``lambda_max`` of the Hessian of ``loss_fn`` at every
    point ``w + a u + b v`` of the grid ``alphas x betas`` (``betas`` default ``alphas``).

    Each point costs one gradient graph and ``iters`` Hessian-vector products
    (:func:`lls_core.hessian.extreme_eigenvalues`, same Lanczos start at every point),
    so keep grids small (5 x 5 to 11 x 11). ``w``, ``u``, ``v``: ``(d,)``. Example::

        u, v = plane_directions(net, w)
        m = curvature_map(hessian.flat_loss(net, x, y), w, u, v, np.linspace(-1, 1, 5))
        m.ratio  # (5, 5)
    """
    a = _grid(alphas, "alphas")
    b = a if betas is None else _grid(betas, "betas")
    for name, t in (("u", u), ("v", v)):
        if t.shape != w.shape:
            raise ValueError(f"{name} has shape {tuple(t.shape)}; w has {tuple(w.shape)}")
    checks.integer("iters", iters, min=2)
    lo = np.zeros((len(b), len(a)))
    hi = np.zeros((len(b), len(a)))
    w, u, v = w.detach(), u.detach().to(w.dtype), v.detach().to(w.dtype)
    for i, bb in enumerate(b):
        for j, aa in enumerate(a):
            p = w + float(aa) * u + float(bb) * v
            e = _hessian.extreme_eigenvalues(_hessian.make_hvp(loss_fn, p), p.numel(), iters=iters, seed=seed)
            lo[i, j], hi[i, j] = e.lam_min, e.lam_max
    return CurvatureMap(a, b, lo, hi, iters)


EMBEDDINGS: tuple[str, ...] = ("mds", "phate")


@dataclass(frozen=True)
class TrajectoryEmbedding:
    """All snapshots of several trajectories embedded together: ``coords[i]`` ``(T_i, 2)`` per trajectory.

    ``stress``: normalized Kruskal stress of the MDS fit (``nan`` for PHATE, whose
    distances are diffusion potentials, not weight-space distances).
    """

    coords: tuple[np.ndarray, ...]
    method: str
    stress: float

    def facts(self) -> dict[str, float]:
        """Scalars for glue: ``trajectories``, ``points``, ``stress``."""
        return {"trajectories": len(self.coords), "points": int(sum(len(c) for c in self.coords)),
                "stress": self.stress}


def embed_trajectories(
    trajectories: Sequence[Tensor],
    *,
    method: Literal["mds", "phate"] = "mds",
    seed: int = 0,
    knn: int = 5,
) -> TrajectoryEmbedding:
    """Embed every snapshot of several weight trajectories (each ``(T_i, d)``) in one plane.

    ``"mds"``: metric MDS of the Euclidean distances between all snapshots
    (:func:`mds`), so whole paths, not just end points, are compared (Liang et al.
    2021 on MDS of trajectories). ``"phate"``: PHATE (Moon et al. 2019, the
    ``phate`` package; ``knn`` neighbours, SMACOF solver, ``random_state=seed``),
    which keeps local neighbourhoods and the progression along each path rather
    than the raw distances. Example::

        e = embed_trajectories([res_sgd.trajectory, res_gd.trajectory], method="phate")
        e.coords[0]  # (T_0, 2)
    """
    checks.name("method", method, EMBEDDINGS)
    trajs = list(trajectories)
    if not trajs:
        raise ValueError("trajectories is empty; give at least one (T, d) tensor")
    d = trajs[0].shape[-1]
    for k, t in enumerate(trajs):
        if t.ndim != 2 or t.shape[1] != d or t.shape[0] < 2:
            raise ValueError(f"trajectory {k} has shape {tuple(t.shape)}; need (T >= 2, d={d})")
    if not isinstance(knn, int) or knn < 2:
        raise ValueError(f"knn={knn!r}: must be an integer >= 2")
    W = torch.cat([t.detach().double() for t in trajs])
    n = W.shape[0]
    if n < 4:
        raise ValueError(f"{n} snapshots in all; need at least 4 to embed")
    if method == "mds":
        emb = mds(W, seed=seed)
        coords, stress = emb.coords, emb.stress
    else:
        import warnings

        import phate

        # PHATE reads Euclidean distances only (k-nearest-neighbour kernel), so give it the exact
        # principal-component scores of all n snapshots (n x rank, same distances) instead of the
        # d-dimensional weights: phate's own randomized PCA of d ~ 1e5 columns costs seconds.
        D2 = torch.cdist(W, W).pow(2).numpy()
        J = np.eye(n) - 1.0 / n
        evals, evecs = np.linalg.eigh(-0.5 * J @ D2 @ J)
        keep = evals > 1e-10 * max(evals.max(), 1e-300)
        scores = evecs[:, keep] * np.sqrt(evals[keep])
        op = phate.PHATE(n_components=2, knn=min(knn, n - 2), mds_solver="smacof", random_state=seed,
                         n_pca=None, n_jobs=1, verbose=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            coords = np.asarray(op.fit_transform(scores), dtype=np.float64)
        stress = float("nan")
    splits = np.cumsum([t.shape[0] for t in trajs])[:-1]
    return TrajectoryEmbedding(tuple(np.split(coords, splits)), method, float(stress))


@dataclass(frozen=True)
class TrainResult:
    """Final weights ``w`` ``(d,)``, ``trajectory`` ``(T, d)`` (initial weights first, then every
    ``record_every`` steps, final last), mean mini-batch ``epoch_loss`` ``(epochs run,)``, ``steps`` taken,
    ``train_loss`` (mean loss over all training data at ``w``, eval mode), whether the target training
    loss was ``reached`` (always True without a target), and ``target_loss`` (``nan`` without one)."""

    w: Tensor
    trajectory: Tensor
    epoch_loss: np.ndarray
    steps: int
    train_loss: float = float("nan")
    reached: bool = True
    target_loss: float = float("nan")

    def facts(self) -> dict[str, float]:
        """Scalars for glue: ``steps``, ``epochs``, ``train_loss``, ``reached`` (0/1), ``target_loss``, ``points``."""
        return {"steps": self.steps, "epochs": len(self.epoch_loss), "train_loss": self.train_loss,
                "reached": float(self.reached), "target_loss": self.target_loss, "points": int(self.trajectory.shape[0])}


def _has_bn(model: nn.Module) -> bool:
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())


@torch.no_grad()
def full_loss(model: nn.Module, x: Tensor, y: Tensor, *, batch_size: int = 1000) -> float:
    """Mean loss of ``model`` over all of ``(x, y)`` in eval mode (batch-norm statistics recalibrated on ``x``).

    The model is left in ``eval()`` mode. This is the training loss a target in
    :func:`train_demo` refers to.
    """
    if _has_bn(model):
        recalibrate_batch_norm(model, x, batch_size)
    model.eval()
    n = int(x.shape[0])
    total = 0.0
    for i in range(0, n, batch_size):
        total += float(models.loss(model, x[i : i + batch_size], y[i : i + batch_size])) * min(batch_size, n - i)
    return total / n


def train_demo(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    *,
    epochs: int = 5,
    batch_size: int = 64,
    lr: float = 0.05,
    momentum: float = 0.0,
    seed: int = 0,
    record_every: int = 0,
    max_points: int | None = None,
    target_loss: float | None = None,
    check_every: int | None = None,
) -> TrainResult:
    """Mini-batch SGD (``torch.optim.SGD``) on ``models.loss``, shuffling with ``seed``; trains ``model`` in place.

    ``x``: images ``(N, 1, 28, 28)``, ``y``: labels ``(N,)``; ``batch_size >= N`` is
    full-batch gradient descent. ``record_every`` > 0 stores the weights every that
    many steps (for PCA, MDS, PHATE); with ``max_points`` the record is thinned
    (every other point dropped, interval doubled) whenever it exceeds
    ``2 * max_points``, so memory stays bounded however long the run.

    ``target_loss``: stop as soon as the training loss over all of ``(x, y)``
    (:func:`full_loss`, eval mode) is at or below it, checked every ``check_every``
    steps (default: four times per epoch) and at the end of every epoch; ``epochs``
    is then the budget, and ``reached`` says whether the target was met. Batch-norm
    statistics are recalibrated on ``x`` at the end and the model is left in
    ``eval()`` mode. Raises ``FloatingPointError`` when the loss diverges.

    This is the demonstration nets' trainer (its one caller in the book is
    :func:`lls_core.vizstudy.fit`), not the study trainer :func:`lls_core.train.train`,
    because what it trains and what it must do are outside that one's scope:
    :func:`lls_core.train.train` builds one of the four study architectures by name
    and evaluates stacked weight vectors through :class:`lls_core.engine.Engine`
    (functional calls, no module state), whereas the demonstration nets
    (:func:`lls_core.models.build_demo`) may hold batch normalization, whose
    running statistics live in the module and are updated by its own forward in
    training mode and recalibrated here on all of ``x``; it also stops at a target
    training loss checked within an epoch and keeps a trajectory thinned to
    ``max_points``, and has no test set to follow.

    Example::

        net = models.build_demo("mlp", depth=2, width=64, init="he", seed=0)
        res = train_demo(net, x, y, epochs=200, batch_size=64, lr=0.02, momentum=0.9, target_loss=0.05)
        res.steps, res.train_loss, res.reached
    """
    for label, given in (("epochs", epochs), ("batch_size", batch_size)):
        if not isinstance(given, int) or isinstance(given, bool) or given < 1:
            raise ValueError(f"{label}={given!r}: must be a positive integer")
    if not lr > 0:
        raise ValueError(f"lr={lr!r}: must be positive")
    if not isinstance(record_every, int) or record_every < 0:
        raise ValueError(f"record_every={record_every!r}: must be an integer >= 0 (0 records start and end only)")
    if max_points is not None and (not isinstance(max_points, int) or max_points < 2):
        raise ValueError(f"max_points={max_points!r}: must be an integer >= 2 or None")
    if target_loss is not None and not (isinstance(target_loss, (int, float)) and math.isfinite(target_loss) and target_loss > 0):
        raise ValueError(f"target_loss={target_loss!r}: must be a positive finite number or None")
    if check_every is not None and (not isinstance(check_every, int) or check_every < 1):
        raise ValueError(f"check_every={check_every!r}: must be a positive integer or None")
    n = int(x.shape[0])
    per_epoch = -(-n // batch_size)
    check = check_every or max(1, per_epoch // 4)
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)
    traj = [params.flatten(model).clone()]
    every = record_every
    losses, step, reached = [], 0, False
    bn = _has_bn(model)
    model.train()
    for _ in range(epochs):
        perm = torch.randperm(n, generator=g)
        total, seen = 0.0, 0
        for i in range(0, n, batch_size):
            idx = perm[i : i + batch_size]
            if idx.numel() < 2 and bn:
                continue
            opt.zero_grad()
            value = models.loss(model, x[idx], y[idx])
            value.backward()
            opt.step()
            total += float(value.detach()) * idx.numel()
            seen += idx.numel()
            step += 1
            if every and step % every == 0:
                traj.append(params.flatten(model).clone())
                if max_points is not None and len(traj) > 2 * max_points:
                    traj = traj[::2]  # keeps the start; the kept points sit every 2 * every steps
                    every *= 2
            last = i + batch_size >= n
            if target_loss is not None and (step % check == 0 or last):
                reached = full_loss(model, x, y) <= target_loss
                model.train()
                if reached:
                    break
        losses.append(total / max(seen, 1))
        if not math.isfinite(losses[-1]):
            raise FloatingPointError(f"training diverged (loss {losses[-1]}); lower lr={lr}")
        if reached:
            break
    final_loss = full_loss(model, x, y)  # recalibrates batch norm, leaves eval()
    if not math.isfinite(final_loss):
        raise FloatingPointError(f"training diverged (loss {final_loss}); lower lr={lr}")
    final = params.flatten(model).clone()
    if not torch.equal(traj[-1], final):
        traj.append(final)
    target = float("nan") if target_loss is None else float(target_loss)
    return TrainResult(final, torch.stack(traj), np.array(losses), step, final_loss,
                       True if target_loss is None else final_loss <= target_loss, target)


@torch.no_grad()
def recalibrate_batch_norm(model: nn.Module, x: Tensor, batch_size: int = 1000) -> nn.Module:
    """Recompute every batch-norm layer's running statistics as exact averages over ``x``; leave ``eval()``.

    No-op (apart from ``eval()``) for nets without batch normalization.
    """
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if bns:
        saved = [m.momentum for m in bns]
        for m in bns:
            m.reset_running_stats()
            m.momentum = None  # cumulative average
        model.train()
        for i in range(0, x.shape[0], batch_size):
            model(x[i : i + batch_size])
        for m, mom in zip(bns, saved):
            m.momentum = mom
    model.eval()
    return model


def plane_directions(
    model: nn.Module, w: Tensor, *, seed: int = 0, norm: str = "filter", bias_bn: str = "zero"
) -> tuple[Tensor, Tensor]:
    """The two random directions ``(d,)`` of :func:`random_plane` (seeds ``seed`` and ``seed + 1``)."""
    return (random_direction(model, w, seed=seed, norm=norm, bias_bn=bias_bn),
            random_direction(model, w, seed=seed + 1, norm=norm, bias_bn=bias_bn))


def random_plane(
    model: nn.Module,
    loss_fn: FlatLossFn,
    w: Tensor,
    *,
    n: int = 21,
    span: float = 1.0,
    seed: int = 0,
    norm: str = "filter",
    bias_bn: str = "zero",
    chunk_size: int | None = None,
) -> Slice2D:
    """The 2-D slice on ``n x n`` points of ``[-span, span]^2`` along two random directions
    (seeds ``seed`` and ``seed + 1``, normalized as in :func:`random_direction`) through ``w``."""
    if not isinstance(n, int) or n < 3:
        raise ValueError(f"n={n!r}: need an integer >= 3 grid points per axis")
    if not span > 0:
        raise ValueError(f"span={span!r}: must be positive")
    u, v = plane_directions(model, w, seed=seed, norm=norm, bias_bn=bias_bn)
    return slice_2d(loss_fn, w, u, v, np.linspace(-span, span, n), chunk_size=chunk_size)


def plot_slice(
    ax,
    s: Slice2D,
    *,
    levels: int = 20,
    log: bool = True,
    path: np.ndarray | None = None,
    title: str = "",
    colorbar: bool = False,
    vmin: float | None = None,
    vmax: float | None = None,
):
    """Filled contour plot of a :class:`Slice2D` on ``ax`` (log10 of the loss by default); optional ``path`` ``(T, 2)``.

    ``colorbar=True`` adds a labelled colour bar beside ``ax``; ``vmin``/``vmax`` (in the
    plotted units) give several panels one colour scale.
    """
    z = np.log10(np.maximum(s.loss, 1e-12)) if log else s.loss
    lo = float(np.nanmin(z)) if vmin is None else vmin
    hi = float(np.nanmax(z)) if vmax is None else vmax
    if not hi > lo:
        hi = lo + 1e-9
    cs = ax.contourf(s.alphas, s.betas, np.clip(z, lo, hi), levels=np.linspace(lo, hi, levels + 1), cmap="viridis")
    ax.contour(s.alphas, s.betas, np.clip(z, lo, hi), levels=np.linspace(lo, hi, levels + 1), colors="white",
               linewidths=0.3, alpha=0.5)
    ax.plot([0], [0], marker="*", color="white", markeredgecolor="black", markersize=10)
    if path is not None:
        ax.plot(path[:, 0], path[:, 1], marker=".", color="#D55E00", linewidth=1, markersize=3)
    ax.set_aspect("equal")
    ax.set_title(title)
    if colorbar:
        from .plotting import colorbar_ticks

        # round ticks, not the contour levels (which print as 0.235, 0.470, -0.000)
        ax.figure.colorbar(cs, ax=ax, shrink=0.85, label="log₁₀ training loss" if log else "training loss",
                           ticks=colorbar_ticks(lo, hi))
    return cs


def plot_map(ax, m: "CurvatureMap", *, title: str = "", colorbar: bool = False, vmax: float = 1.0):
    """Li et al.'s convexity map: ``|lambda_min / lambda_max|`` of a :class:`CurvatureMap` on ``ax``
    (0 = locally convex, large = strong negative curvature), colour scale ``[0, vmax]``."""
    im = ax.pcolormesh(m.alphas, m.betas, np.clip(m.ratio, 0, vmax), cmap="coolwarm", vmin=0, vmax=vmax,
                       shading="nearest")
    ax.plot([0], [0], marker="*", color="white", markeredgecolor="black", markersize=10)
    ax.set_aspect("equal")
    ax.set_title(title)
    if colorbar:
        ax.figure.colorbar(im, ax=ax, shrink=0.85, label=r"$|\lambda_{min} / \lambda_{max}|$")
    return im
