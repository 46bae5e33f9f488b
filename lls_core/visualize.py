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
* :func:`evaluate` -- the loss at many weight vectors ``(B, d) -> (B,)``, batched
  over chunks of points (the hand-batched forward passes of :mod:`lls_core.batched`
  for the study networks, ``torch.func.vmap`` for any other loss), or point by point.
* :func:`slice_1d`, :func:`slice_2d` -- the loss along ``w + a u`` and on the
  plane ``w + a u + b v``; for the study networks the first layer is computed
  only at the basis vectors and mixed per point (the points are an affine family).
* :func:`trajectory_pca` -- the two leading principal directions of a training
  trajectory (Li et al.: differences from the final weights), and the path's
  coordinates in them.
* :func:`mds` -- metric multidimensional scaling of a set of solutions
  (scikit-learn).
* :func:`linear_path` -- linear mode connectivity: the loss along the segment
  between two solutions, and its barrier.
* :func:`train` -- a small mini-batch SGD trainer that records the trajectory.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from lls_core import batched as _batched
from lls_core import models, params
from lls_core.hessian import FlatLoss, LossFn

__all__ = [
    "NORMS",
    "BIAS_BN",
    "random_direction",
    "group_norms",
    "evaluate",
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
    "TrainResult",
    "train",
    "recalibrate_batch_norm",
    "random_plane",
    "plot_slice",
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
    if norm not in NORMS:
        raise ValueError(f"unknown norm {norm!r}; valid: {', '.join(NORMS)}")
    if bias_bn not in BIAS_BN:
        raise ValueError(f"unknown bias_bn {bias_bn!r}; valid: {', '.join(BIAS_BN)}")
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

#: Size (MiB) of the largest activation tensor of one hand-batched call: the point
#: and data chunks of :mod:`lls_core.batched` evaluations are chosen to fit it. The
#: evaluation is memory-bound on a CPU (softplus, pooling), so a call whose
#: tensors stay near the core's cache runs faster than one big call: for LeNet on a
#: 4 MiB-L2 CPU, 8 points x 64 images per call measured 1.6x faster than 8 x 256.
CALL_MB: float = 8.0


def _check_eval_args(chunk_size: object, batched: object) -> None:
    if chunk_size is not None and (not isinstance(chunk_size, int) or isinstance(chunk_size, bool) or chunk_size < 1):
        raise ValueError(f"chunk_size={chunk_size!r}: must be a positive integer or None")
    if not any(batched is m or (isinstance(m, str) and batched == m) for m in BATCHED):
        raise ValueError(f"batched={batched!r}; valid: True, 'vmap', False")


def _hand_batched(loss_fn: LossFn, batched: object) -> FlatLoss | None:
    """``loss_fn`` when it is a :class:`FlatLoss` of a study network and ``batched is True``."""
    if batched is True and isinstance(loss_fn, FlatLoss) and _batched.supports(loss_fn.model):
        return loss_fn
    return None


def _chunks_for(fl: FlatLoss, V: Tensor, chunk_size: int | None) -> tuple[int, int]:
    """Points and data items per hand-batched call so that one call's largest tensor
    (points x items x the larger of the first-stage output and the network output per
    item, float32) stays near :data:`CALL_MB`, with all data in one call if 8 points
    fit; ``chunk_size`` (points) and ``fl.data_chunk`` (items) are upper limits."""
    n = int(fl.x.shape[0])
    one, x1 = V[:1], fl.x[:1]
    per_item = max(_batched.first_stage(fl.model, one, x1)[0, 0].numel(), _batched.outputs(fl.model, one, x1)[0, 0].numel())
    budget = CALL_MB * 2**20 / (4 * per_item)  # point x item pairs per call
    cd = min(n, fl.data_chunk or n, max(1, int(budget // 8)))  # all data if 8 points fit
    cd = -(-n // -(-n // cd))  # equal data chunks: 256 items in 5 x 52 rather than 4 x 55 + 36
    cp = max(1, int(budget // cd)) if chunk_size is None else chunk_size
    return cp, cd


def _hand_values(fl: FlatLoss, C: Tensor | None, V: Tensor, chunk_size: int | None) -> Tensor:
    """Loss (float64 ``(B,)``) through :mod:`lls_core.batched`, chunked over points and data.

    ``C is None``: the points are the rows of ``V`` ``(B, d)``. Otherwise they are
    ``W = C @ V`` (``C`` ``(B, J)``, ``V`` ``(J, d)``): the first stage is computed
    once per data chunk on the ``J`` rows of ``V`` and mixed per point.
    """
    B = V.shape[0] if C is None else C.shape[0]
    out = torch.zeros(B, dtype=torch.float64)
    cp, cd = _chunks_for(fl, V, chunk_size)
    n = int(fl.x.shape[0])
    for d0 in range(0, n, cd):
        x, y = fl.x[d0 : d0 + cd], fl.y[d0 : d0 + cd]
        Z = None if C is None else _batched.first_stage(fl.model, V, x)  # shared by every point
        for p0 in range(0, B, cp):
            if C is None:
                v = _batched.losses(fl.model, V[p0 : p0 + cp], x, y)
            else:
                v = _batched.affine_losses(fl.model, C[p0 : p0 + cp], V, x, y, Z=Z)
            out[p0 : p0 + cp] += v.double() * (x.shape[0] / n)
    return out


def _values(loss_fn: LossFn, C: Tensor, V: Tensor, chunk_size: int | None, batched: object) -> Tensor:
    """Loss at the points ``W = C @ V`` (``C`` ``(B, J)``, ``V`` ``(J, d)``): float64 ``(B,)``, no gradients.

    A study network's :class:`FlatLoss` with ``batched=True`` goes through
    :func:`_hand_values` (factored first stage); anything else builds ``W`` chunk
    by chunk and calls :func:`evaluate`.
    """
    fl = _hand_batched(loss_fn, batched)
    with torch.no_grad():
        if fl is not None:
            return _hand_values(fl, C, V, chunk_size)
        out = torch.empty(C.shape[0], dtype=torch.float64)
        step = 8 * (chunk_size or 32)
        for i in range(0, C.shape[0], step):
            out[i : i + step] = evaluate(loss_fn, C[i : i + step] @ V, chunk_size=chunk_size, batched=batched)
    return out


def evaluate(loss_fn: LossFn, W: Tensor, *, chunk_size: int | None = None, batched: bool | str = True) -> Tensor:
    """Loss at every row of ``W`` ``(B, d)``, as a float64 tensor ``(B,)``, without gradients.

    ``batched=True``: a study network's loss from :func:`lls_core.hessian.flat_loss`
    runs through the hand-batched forward of :mod:`lls_core.batched` (chunks sized
    to :data:`CALL_MB` unless ``chunk_size`` is given); any other ``loss_fn`` as
    with ``"vmap"``: ``torch.func.vmap(loss_fn)`` on chunks of ``chunk_size``
    (default 32) rows. ``batched=False`` calls ``loss_fn`` once per row (the baseline).
    """
    if W.ndim != 2:
        raise ValueError(f"W must have shape (B, d); got {tuple(W.shape)}")
    _check_eval_args(chunk_size, batched)
    out = torch.empty(W.shape[0], dtype=torch.float64)
    fl = _hand_batched(loss_fn, batched)
    with torch.no_grad():
        if fl is not None:
            out = _hand_values(fl, None, W, chunk_size)
        elif batched:
            step = chunk_size or 32
            f = torch.func.vmap(loss_fn)
            for i in range(0, W.shape[0], step):
                out[i : i + step] = f(W[i : i + step]).double()
        else:
            for i in range(W.shape[0]):
                out[i] = float(loss_fn(W[i]))
    return out


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
    loss_fn: LossFn,
    w: Tensor,
    direction: Tensor,
    alphas,
    *,
    chunk_size: int | None = None,
    batched: bool | str = True,
) -> Slice1D:
    """Loss along the line ``w + a * direction`` for each ``a`` in ``alphas`` (batching as in :func:`evaluate`)."""
    a = _grid(alphas, "alphas")
    if direction.shape != w.shape:
        raise ValueError(f"direction has shape {tuple(direction.shape)}; w has {tuple(w.shape)}")
    _check_eval_args(chunk_size, batched)
    at = torch.from_numpy(a).to(w.dtype)
    C = torch.stack([torch.ones_like(at), at], dim=1)  # w = [1, a] @ [w; direction]
    V = torch.stack([w.detach(), direction.detach().to(w.dtype)])
    return Slice1D(a, _values(loss_fn, C, V, chunk_size, batched).numpy())


def slice_2d(
    loss_fn: LossFn,
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

    The points are the affine family ``[1, a, b] @ [w; u; v]``. For a study
    network's :func:`lls_core.hessian.flat_loss` (and ``batched=True``) its first
    layer is computed three times in all, at ``w``, ``u`` and ``v``, and mixed per
    point (:func:`lls_core.batched.affine_losses`); other losses build the grid's
    weights chunk by chunk (``8 x chunk_size x d`` at a time) and use ``vmap``.
    ``chunk_size``: grid points per batched call (default: sized to :data:`CALL_MB`
    for the hand-batched path, 32 for ``vmap``).
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
    """Loss ``(n,)`` at ``(1 - t) w_a + t w_b`` for ``ts`` ``(n,)``, and the barrier (see :func:`linear_path`)."""

    ts: np.ndarray
    loss: np.ndarray
    barrier: float


def linear_path(loss_fn: LossFn, w_a: Tensor, w_b: Tensor, n: int = 21, *, extend: float = 0.0) -> LinearPath:
    """Linear mode connectivity between ``w_a`` and ``w_b`` (both ``(d,)``).

    ``ts`` runs from ``-extend`` to ``1 + extend`` in ``n`` steps. The barrier is
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
    barrier = float(np.max(s.loss[inside] - ((1 - ts[inside]) * l0 + ts[inside] * l1)))
    return LinearPath(ts, s.loss, barrier)


@dataclass(frozen=True)
class TrainResult:
    """Final weights ``w`` ``(d,)``, ``trajectory`` ``(T, d)`` (initial weights first, then every
    ``record_every`` steps, final last), mean mini-batch ``epoch_loss`` ``(epochs,)``, ``steps`` taken."""

    w: Tensor
    trajectory: Tensor
    epoch_loss: np.ndarray
    steps: int


def train(
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
) -> TrainResult:
    """Mini-batch SGD (``torch.optim.SGD``) on ``models.loss``, shuffling with ``seed``; trains ``model`` in place.

    ``record_every`` > 0 stores the weights every that many steps (for PCA);
    batch-norm statistics are recalibrated on ``x`` at the end and the model is
    left in ``eval()`` mode.
    """
    for label, value in (("epochs", epochs), ("batch_size", batch_size)):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{label}={value!r}: must be a positive integer")
    if not lr > 0:
        raise ValueError(f"lr={lr!r}: must be positive")
    n = int(x.shape[0])
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)
    traj = [params.flatten(model).clone()]
    losses, step = [], 0
    model.train()
    for _ in range(epochs):
        perm = torch.randperm(n, generator=g)
        total = 0.0
        for i in range(0, n, batch_size):
            idx = perm[i : i + batch_size]
            if idx.numel() < 2 and any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules()):
                continue
            opt.zero_grad()
            value = models.loss(model, x[idx], y[idx])
            value.backward()
            opt.step()
            total += float(value.detach()) * idx.numel()
            step += 1
            if record_every and step % record_every == 0:
                traj.append(params.flatten(model).clone())
        losses.append(total / n)
        if not math.isfinite(losses[-1]):
            raise FloatingPointError(f"training diverged (loss {losses[-1]}); lower lr={lr}")
    recalibrate_batch_norm(model, x)
    final = params.flatten(model).clone()
    if not torch.equal(traj[-1], final):
        traj.append(final)
    return TrainResult(final, torch.stack(traj), np.array(losses), step)


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


def random_plane(
    model: nn.Module,
    loss_fn: LossFn,
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
    u = random_direction(model, w, seed=seed, norm=norm, bias_bn=bias_bn)
    v = random_direction(model, w, seed=seed + 1, norm=norm, bias_bn=bias_bn)
    return slice_2d(loss_fn, w, u, v, np.linspace(-span, span, n), chunk_size=chunk_size)


def plot_slice(ax, s: Slice2D, *, levels: int = 20, log: bool = True, path: np.ndarray | None = None, title: str = ""):
    """Contour plot of a :class:`Slice2D` on ``ax`` (log10 of the loss by default); optional ``path`` ``(T, 2)``."""
    z = np.log10(np.maximum(s.loss, 1e-12)) if log else s.loss
    cs = ax.contour(s.alphas, s.betas, z, levels=levels, cmap="viridis", linewidths=0.8)
    ax.plot([0], [0], marker="*", color="black", markersize=8)
    if path is not None:
        ax.plot(path[:, 0], path[:, 1], marker=".", color="#D55E00", linewidth=1, markersize=3)
    ax.set_aspect("equal")
    ax.set_title(title)
    return cs
