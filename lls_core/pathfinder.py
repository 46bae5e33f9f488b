"""FourierPathFinder: low-loss paths between two points of any landscape (Yu & Morozov 2026).

A path from ``w1`` to ``w2`` (flat vectors of shape ``(d,)``) is the straight
line plus a learned correction that vanishes at both ends,

    w(t) = (1 - t) w1 + t w2 + sum_k c_k(t) b_k,       t in [0, 1],

with the basis ``c_k(t) = sin(k pi t)``, k = 1..K (``curve="fourier"``, the
authors' FourierPathFinder, their Eq. 3) or the single function
``c(t) = 2 t (1 - t)`` (``curve="bezier"``: a quadratic Bezier curve whose
control point is ``(w1 + w2) / 2 + b``, Garipov et al. 2018). With ``b = 0``
both are linear interpolation. On ``P`` equally spaced values of ``t`` the
coefficients ``b`` (shape ``(K, d)``) minimise (Eq. 4)::

    F(b) = sum_i L(w(t_i)) + lam * sum_i |w(t_{i+1}) - w(t_i)|^2

with Adam; the path height is ``max_i L(w(t_i))`` (Eq. 5) and the length
``sum_i |w(t_{i+1}) - w(t_i)|``.

Penalty weights (sources in ``lls_core/datafiles/settings/yu_morozov_settings.csv``): networks
:data:`NETWORK_LAMBDA` = 1e-3, the ``0.001 * smoothness_loss`` of the authors' network
code in commits d1697ac, 5a68028 and e11b717 of github.com/jy856-jpg/path-finding (their
head, 4e2128f, turned it into a ``Lambda`` argument that its one call leaves out); toy
:data:`TOY_LAMBDA` = 35 (their toy notebook). On the toy the authors minimise the sum
of ``MSE(f(w(t_i)), 0) = f(w(t_i))^2``, not of ``f``: :func:`toy_objective` gives both.

``L`` is either a surface, a callable mapping points ``(B, d)`` to values
``(B,)`` (every :mod:`lls_core.surfaces` entry is one), or a network given as an
``nn.Module`` with data ``(x, y)``: then ``L(w)`` is the mean loss of
:func:`lls_core.models.loss` over all of the data at weights ``w`` (the full-batch
training or test loss).

Evaluation goes through the package's one engine (:class:`lls_core.engine.Engine`),
batched: all path points of a chunk go through the network in one call. The four study networks have hand-batched forward passes
(:mod:`lls_core.batched`: stacked matmuls, per-set convolutions, a written-out
LSTM, since ``vmap`` has no rule for ``aten::lstm``); any other module goes
through ``torch.func.vmap`` over ``functional_call``. Where a network's first
layer is a dense linear map of the input (FCP, autoencoder), it is evaluated in
the path's own coordinates: ``W = C @ [w1; w2; b]``, so the first layer needs
``K + 2`` products with the data instead of one per point
(``FACTORED_FIRST_LAYER``). For these two the chain rule through ``W(b)`` is written
out (``_factored_group``): pair by pair, the first stage and the upper layers'
weights are mixed per point, the layers above the first give ``dL/dz`` and ``dL/dW``
(FCP with ReLU: its whole backward written out, :func:`lls_core.batched.fcp_backward_to_first`;
the autoencoder: autograd from the mixed first stage only), and the gradient of ``b_k``
is the same mix transposed, ``(sum_i C_ik dL/dz_i)^T x`` for the first layer, on kept
buffers. Other networks use autograd through ``W(b)``, with calls chunked over path
points and over data so that the autograd graph alive at once stays below a caller-set
bound (``memory_mb``), accumulated chunk by chunk. End points are never differentiated
(their basis values are exactly zero), are evaluated once, and are copied verbatim into
every path.

Many pairs at once: :func:`find_paths` advances the paths between ``M`` pairs of one
landscape together (one objective summed over the pairs, per-pair coefficients,
one Adam, fused, with each pair's rows a parameter of its own; each pair moves exactly as
alone), through ``_factored_group`` or :meth:`lls_core.engine.Engine.values_affine_groups`. :func:`find_path` is its
one-pair case. :func:`fine_grid` re-evaluates found paths on a fine grid of ``t``
(default :data:`FINE_POINTS` = 401) and reports how far the discrete maximum
understates the true one.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from . import checks
from . import batched as _batched
from . import engine as _engine
from . import models as _models
from . import params as _params

__all__ = [
    "CURVES",
    "NETWORK_LAMBDA",
    "TOY_LAMBDA",
    "TOY_OBJECTIVES",
    "toy_objective",
    "remeasure",
    "PathSettings",
    "path_settings",
    "PathResult",
    "find_path",
    "PathsResult",
    "find_paths",
    "FINE_POINTS",
    "FineGrid",
    "fine_grid",
    "basis",
    "path_points",
    "path_losses",
    "objective_and_grad",
    "group_step",
    "graph_bytes_per_item",
    "BATCHED_FORWARD",
    "FACTORED_FIRST_LAYER",
    "LAMBDA_TOLERANCE",
    "LAMBDA_SPAN",
    "LambdaRange",
    "lambda_range",
]

CURVES: tuple[str, ...] = ("fourier", "bezier")

NETWORK_LAMBDA: float = 1e-3
"""Length-penalty weight of the authors' network paths (``0.001 * smoothness_loss``, commits d1697ac, 5a68028, e11b717)."""

TOY_LAMBDA: float = 35.0
"""Length-penalty weight of the authors' toy path (``Path_finding_toy_model.ipynb``, commits a95b9bd, 4e2128f)."""

TOY_OBJECTIVES: tuple[str, ...] = ("squared", "plain")

KEEPS: tuple[str, ...] = ("best", "last")

Surface = Callable[[Tensor], Tensor]
LossFn = _engine.LossFn  # one alias: (model, x, y, params or None) -> scalar loss


# --------------------------------------------------------------------------- settings
@dataclass(frozen=True)
class PathSettings:
    """How one FourierPathFinder search runs: the basis, the objective, Adam and the chunking.

    Validated once, on creation (``ValueError`` naming the field, its value and what is
    valid). :func:`find_path` and :func:`find_paths` take one (``settings=``), or build
    one from their keyword arguments. :class:`lls_core.landscape.PathConfig` extends it
    with the barrier study's data subset and fine grid; its instances are the profiles of
    :data:`lls_core.topography.PATH_PROFILES`.

    Example::

        >>> s = PathSettings(n_terms=5, n_points=31, lam=TOY_LAMBDA, lr=1e-2, steps=30)
        >>> dataclasses.replace(s, steps=60).steps
        60
        >>> try:
        ...     PathSettings(n_points=2)
        ... except ValueError as err:
        ...     print(err)
        PathSettings.n_points=2 is out of range; expected an integer >= 3
    """

    n_terms: int = 10
    """Fourier terms ``K`` (ignored for ``curve='bezier'``, where ``K = 1``)."""
    n_points: int = 51
    """Equally spaced values ``P >= 3`` of ``t`` on [0, 1]."""
    lam: float = NETWORK_LAMBDA
    """Weight ``lambda >= 0`` of the squared-length penalty (Eq. 4); default the authors' network
    value :data:`NETWORK_LAMBDA` (their toy run: :data:`TOY_LAMBDA`)."""
    lr: float = 1e-3
    """Adam's learning rate (> 0; authors, networks: 1e-3)."""
    steps: int = 100
    """Adam steps (>= 0; authors, networks: 100)."""
    grad_noise: float = 0.0
    """Standard deviation of Gaussian noise added to the gradient before each step (authors' toy run: 1.0)."""
    seed: int = 0
    """Seed of the gradient noise's generator (one per pair, each seeded with it)."""
    curve: Literal["fourier", "bezier"] = "fourier"
    """The correction's basis (module docstring)."""
    keep: Literal["best", "last"] = "best"
    """``'best'``: the coefficients with the lowest objective seen (as the authors' code); ``'last'``: the final ones."""
    batched: bool | Literal["vmap"] = True
    """``True``: all points of a chunk in one call (hand-batched forward for the study networks, else
    ``vmap`` over ``functional_call``); ``"vmap"``: always vmap; ``False``: one point at a time."""
    chunk_points: int | None = None
    """Upper limit on path points (pairs x points for :func:`find_paths`) per batched call."""
    chunk_data: int | None = None
    """Upper limit on data items per batched call."""
    memory_mb: float | None = 1024.0
    """Bound (MiB) on one call's autograd graph, from which the chunks are chosen (modules
    only; measured by :func:`graph_bytes_per_item`); ``None``: no bound."""

    def __post_init__(self) -> None:
        c = type(self).__name__
        checks.integer(f"{c}.n_terms", self.n_terms, min=1)
        checks.integer(f"{c}.n_points", self.n_points, min=3)
        checks.real(f"{c}.lam", self.lam, min=0)
        checks.real(f"{c}.lr", self.lr, min=0, min_open=True)
        checks.integer(f"{c}.steps", self.steps, min=0)
        checks.real(f"{c}.grad_noise", self.grad_noise, min=0)
        checks.integer(f"{c}.seed", self.seed, min=-(2**63), max=2**63 - 1)
        checks.choice(f"{c}.curve", self.curve, CURVES)
        checks.choice(f"{c}.keep", self.keep, KEEPS)
        if not (isinstance(self.batched, bool) or self.batched == "vmap"):
            raise ValueError(f"{c}.batched={self.batched!r} is not allowed; expected one of True, False, 'vmap'")
        checks.optional_integer(f"{c}.chunk_points", self.chunk_points, min=1)
        checks.optional_integer(f"{c}.chunk_data", self.chunk_data, min=1)
        checks.optional_real(f"{c}.memory_mb", self.memory_mb, min=0, min_open=True)

    @property
    def n_basis(self) -> int:
        """Rows ``K`` of the coefficients: ``n_terms`` for ``fourier``, 1 for ``bezier``."""
        return self.n_terms if self.curve == "fourier" else 1


_SETTING_NAMES: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(PathSettings))


def path_settings(settings: PathSettings | None = None, /, **changes: Any) -> PathSettings:
    """``settings`` (default ``PathSettings()``) with the fields in ``changes`` replaced, validated.

    An unknown name raises :class:`lls_core.checks.UnknownNameError` listing the valid ones.

    >>> path_settings(steps=3).steps
    3
    """
    base = PathSettings() if settings is None else settings
    if not isinstance(base, PathSettings):
        raise ValueError(f"settings is a {type(base).__name__}; expected a PathSettings (or None)")
    for k in changes:
        checks.name("setting", k, _SETTING_NAMES, what="path setting")
    return dataclasses.replace(base, **changes) if changes else base


# --------------------------------------------------------------------------- results
@dataclass(frozen=True, eq=False)
class PathResult:
    """A path found by :func:`find_path` (all tensors detached, on the input's device).

    Shapes: ``K`` basis functions, ``P`` points on the path, ``d`` dimensions,
    ``S`` optimizer steps.
    """

    curve: str
    """``"fourier"`` or ``"bezier"``."""
    w1: Tensor
    """Start point ``(d,)``."""
    w2: Tensor
    """End point ``(d,)``."""
    b: Tensor
    """Coefficients ``(K, d)``; for ``bezier`` ``K = 1`` and the control point is ``(w1 + w2)/2 + b[0]``."""
    t: Tensor
    """Curve parameter ``(P,)``, equally spaced on [0, 1]."""
    losses: Tensor
    """Loss at every point of the returned path ``(P,)``."""
    height: float
    """Path height: ``max(losses)`` (Yu & Morozov Eq. 5, their "barrier height"; the words: :mod:`lls_core.landscape`)."""
    length: float
    """Polygonal length ``sum_i |w(t_{i+1}) - w(t_i)|`` (units of ``w``)."""
    linear_losses: Tensor
    """Loss at the same ``t`` on the straight line (``b = 0``) ``(P,)``."""
    linear_height: float
    """Height of the straight line: ``max(linear_losses)``."""
    linear_length: float
    """``|w2 - w1|``."""
    objective: Tensor
    """Objective ``F(b)`` before each step and after the last one ``(S + 1,)``."""
    heights: Tensor
    """Path height before each step and after the last one ``(S + 1,)``."""
    best_step: int
    """Index into ``objective`` of the returned coefficients (``keep='best'``) or ``S`` (``keep='last'``)."""
    lam: float
    """Weight ``lambda`` of the length penalty."""
    seconds: float
    """Wall-clock time of the optimisation (s)."""
    chunk_points: int
    """Path points evaluated per batched call."""
    chunk_data: int
    """Data items per batched call (1 for a surface)."""
    settings: PathSettings = field(default_factory=PathSettings)
    """The settings the search ran with."""

    @property
    def points(self) -> Tensor:
        """The path's points ``(P, d)``; first and last rows are exactly ``w1`` and ``w2``."""
        return path_points(self.w1, self.w2, self.b, self.t, curve=self.curve)

    @property
    def max_t(self) -> float:
        """Where on the path the height is reached (value of ``t``)."""
        return float(self.t[int(torch.argmax(self.losses))])


# --------------------------------------------------------------------------- the curve
def basis(t: Tensor, n_terms: int, curve: str = "fourier") -> Tensor:
    """Basis values ``(P, K)`` at ``t`` ``(P,)``; rows at ``t = 0`` and ``t = 1`` are exactly 0.

    ``fourier``: ``sin(k pi t)``, k = 1..n_terms. ``bezier``: ``2 t (1 - t)`` (K = 1).
    ``sin(k pi)`` is not exactly zero in floating point, so the end rows are set to
    zero explicitly: the end points stay bit-for-bit fixed.
    """
    if curve == "fourier":
        k = torch.arange(1, n_terms + 1, dtype=t.dtype, device=t.device)
        s = torch.sin(math.pi * t[:, None] * k[None, :])
    elif curve == "bezier":
        s = (2.0 * t * (1.0 - t))[:, None]
    else:
        checks.choice("curve", curve, CURVES)  # raises: not one of CURVES
    s = s.clone()
    s[(t == 0) | (t == 1)] = 0.0
    return s


def path_points(w1: Tensor, w2: Tensor, b: Tensor, t: Tensor, *, curve: str = "fourier") -> Tensor:
    """Points ``(P, d)`` of the path with coefficients ``b`` ``(K, d)`` at ``t`` ``(P,)``.

    Differentiable in ``b``. Rows where ``t`` is 0 or 1 are exactly ``w1`` / ``w2``.
    """
    s = basis(t, b.shape[0], curve)
    lin = (1.0 - t)[:, None] * w1[None, :] + t[:, None] * w2[None, :]
    w = lin + s @ b
    ends0, ends1 = t == 0, t == 1
    if bool(ends0.any()) or bool(ends1.any()):
        w = torch.where(ends0[:, None], w1[None, :], w)
        w = torch.where(ends1[:, None], w2[None, :], w)
    return w


# --------------------------------------------------------------------------- evaluation
# The hand-batched forward passes of the study networks live in
# :mod:`lls_core.batched` (shared with the slices of :mod:`lls_core.visualize`).
BATCHED_FORWARD = _batched.BATCHED_FORWARD

# Evaluation lives in :mod:`lls_core.engine` (one engine for every caller):
# chunking under a memory bound, the factored first stage of affine families
# (``W = C @ [w1; w2; b]``), the vmap / loop fallbacks.
FACTORED_FIRST_LAYER = _engine.FACTORED_FIRST_LAYER
graph_bytes_per_item = _engine.graph_bytes_per_item
CALL_MB = _engine.CALL_MB
CALL_POINTS = _engine.CALL_POINTS


def _engine_for(f: Surface | nn.Module, data: tuple[Tensor, Tensor] | None, loss: LossFn | None, batched: bool | str) -> _engine.Engine:
    return _engine.Engine(f, data, loss=loss, batched=batched, memory_mb=None)


# --------------------------------------------------------------------------- validation
def _validate(f: object, w1: object, w2: object, data: object) -> tuple[Tensor, Tensor]:
    """End points ``(d,)`` checked against each other, the landscape and its data (settings check themselves)."""
    a = checks.vector("w1", w1)
    b = checks.vector("w2", w2)
    if a.shape != b.shape:
        raise ValueError(f"end points differ in size: w1 has {a.numel()} entries, w2 has {b.numel()}; expected one d")
    if isinstance(f, nn.Module):
        d = _params.num_params(f)
        if a.numel() != d:
            raise ValueError(
                f"end points have {a.numel()} entries but the module {type(f).__name__} has d={d} trainable parameters"
            )
        if data is None:
            raise ValueError("a module needs data=(x, y): the inputs and targets its loss is averaged over")
        if not (isinstance(data, (tuple, list)) and len(data) == 2):
            raise ValueError(f"data is a {type(data).__name__}; expected a pair (x, y) of tensors")
        x = checks.tensor("data x", data[0], min_rows=1)
        y = checks.tensor("data y", data[1], ndim=1)
        if x.ndim == 0 or x.shape[0] != y.shape[0]:
            raise ValueError(f"data: x has shape {tuple(x.shape)} and y {tuple(y.shape)}; expected one target per item")
        checks.same_device(w1=a, w2=b, x=x, y=y)
        p0 = next(iter(f.parameters()), None)
        dtypes = {"w1": a.dtype, "w2": b.dtype, **({"the module": p0.dtype} if p0 is not None else {}),
                  **({"x": x.dtype} if x.is_floating_point() else {})}
        if len(set(dtypes.values())) > 1:
            raise ValueError("dtypes differ (" + ", ".join(f"{k} {v}" for k, v in dtypes.items()) + "); expected one dtype")
    elif callable(f):
        if data is not None:
            raise ValueError("data is only used with an nn.Module; a surface callable takes points (B, d) only")
        with torch.no_grad():
            probe = f(a[None])
        if not isinstance(probe, Tensor) or tuple(probe.shape) != (1,):
            shape = tuple(probe.shape) if isinstance(probe, Tensor) else type(probe).__name__
            raise ValueError(
                f"the surface must map points of shape (B, {a.numel()}) to values of shape (B,); got {shape} for B=1"
            )
    else:
        raise ValueError(f"f is a {type(f).__name__}; expected a surface callable or an nn.Module")
    return a, b.to(dtype=a.dtype, device=a.device)


# --------------------------------------------------------------------------- objective
def objective_and_grad(
    f: Surface | nn.Module,
    w1: Tensor,
    w2: Tensor,
    b: Tensor,
    settings: PathSettings | None = None,
    *,
    data: tuple[Tensor, Tensor] | None = None,
    loss: LossFn | None = None,
    end_losses: tuple[float, float] | None = None,
    **changes: Any,
) -> tuple[float, Tensor, Tensor]:
    """Objective ``F(b)`` (Eq. 4), its gradient ``(K, d)`` and the losses ``(P,)`` at ``t_i``, for coefficients ``b`` ``(K, d)``.

    Of ``settings`` (and the keyword form ``**changes``, as in :func:`find_path`) the
    objective uses ``n_points``, ``lam``, ``curve``, ``batched`` and the chunking;
    ``batched=False`` evaluates the points one at a time (the reference the batched
    evaluation is tested against). ``end_losses`` may pass the two end points' losses
    when already known (they do not depend on ``b``).
    """
    cfg = path_settings(settings, **changes)
    a, z = _validate(f, w1, w2, data)
    if not isinstance(b, Tensor) or b.ndim != 2 or b.shape[1] != a.numel() or (cfg.curve == "bezier" and b.shape[0] != 1):
        raise ValueError(f"b has shape {tuple(b.shape) if isinstance(b, Tensor) else type(b).__name__}; expected "
                         f"({'1' if cfg.curve == 'bezier' else 'K'}, {a.numel()})")
    t = torch.linspace(0.0, 1.0, cfg.n_points, dtype=a.dtype, device=a.device)
    land = _engine_for(f, data, loss, cfg.batched)
    cp, cd = land.chunk_sizes(cfg.n_points - 2, cfg.chunk_points, cfg.chunk_data, cfg.memory_mb)
    return _objective_and_grad(land, a, z, b, t, cfg.lam, cfg.curve, cp, cd, end_losses)


def _coefficients(t: Tensor, K: int, curve: str) -> Tensor:
    """``C`` ``(P, K + 2)`` with ``W = C @ [w1; w2; b_1; ...; b_K]``: ``[1 - t, t, basis(t)]``."""
    return torch.cat([(1.0 - t)[:, None], t[:, None], basis(t, K, curve)], dim=1)


def _plan(M: int, B: int, cp: int) -> list[tuple[int, int, int, int]]:
    """Calls ``(g0, g1, p0, p1)``: pairs ``[g0, g1)`` x points ``[p0, p1)``, about ``cp`` points per call."""
    if cp >= B:
        step = max(1, cp // B)
        return [(g0, g1, 0, B) for g0, g1 in _engine.chunks(M, step)]
    return [(g, g + 1, p0, p1) for g in range(M) for p0, p1 in _engine.chunks(B, cp)]


def _group_losses(land: _engine.Engine, C: Tensor, ends: Tensor, b: Tensor, cp: int, cd: int,
                  grad: bool, ends_cache: dict | None = None) -> tuple[Tensor, Tensor | None]:
    """Losses ``(M, B)`` at ``W[m] = C @ [ends[m]; b[m]]`` and (``grad``) their gradient w.r.t. ``b`` ``(M, K, d)``.

    ``ends`` ``(M, 2, d)``, ``b`` ``(M, K, d)``, ``C`` ``(B, K + 2)``. Each call (pairs x
    points x data chunk) builds its own graph from ``b`` and is differentiated at once.
    The gradient of the sum over pairs has pair ``m``'s own gradient in row ``m``.
    ``ends_cache``: see ``_factored_group`` (a dict kept by the caller for one ``ends``).
    """
    M, B = b.shape[0], C.shape[0]
    if _written_out(land):
        return _factored_group(land, C, ends, b, cp, cd, grad, ends_cache)
    L = torch.zeros(M, B, dtype=b.dtype, device=b.device)
    G = torch.zeros_like(b) if grad else None
    data_chunks = _engine.chunks(land.n_data, cd)
    for g0, g1, p0, p1 in _plan(M, B, cp):
        for d0, d1 in data_chunks:
            scale = (d1 - d0) / land.n_data
            if grad:
                assert G is not None
                leaf = b[g0:g1].detach().requires_grad_(True)
                with torch.enable_grad():
                    v = land.values_affine_groups(C[p0:p1], torch.cat([ends[g0:g1], leaf], 1), d0, d1) * scale
                    (g,) = torch.autograd.grad(v.sum(), leaf)
                G[g0:g1] += g
            else:
                with torch.no_grad():
                    v = land.values_affine_groups(C[p0:p1], torch.cat([ends[g0:g1], b[g0:g1]], 1), d0, d1) * scale
            L[g0:g1, p0:p1] += v.detach()
    return L, G


def _written_out(land: _engine.Engine) -> bool:
    """Whether path points on ``land`` go through ``_factored_group``: a network of
    :data:`lls_core.engine.FACTORED_FIRST_LAYER` (FCP, autoencoder) on the hand-batched kernels."""
    m = land.module
    if not land.factor or m is None:
        return False
    (first,) = _engine.FIRST_LAYER_PARAMS[type(m)]
    return _params.shapes(m)[0][0] == first  # the first layer's weights lead the flat vector


ENDS_CACHE_MB: float = 64.0
"""Largest first stages of the end points (MiB, all pairs and items) that a path search keeps from step to step."""


def _factored_group(land: _engine.Engine, C: Tensor, ends: Tensor, b: Tensor, cp: int, cd: int,
                    grad: bool, ends_cache: dict | None = None) -> tuple[Tensor, Tensor | None]:
    """Losses ``(M, B)`` at ``W[m] = C @ [ends[m]; b[m]]`` and (``grad``) their gradient w.r.t. ``b`` ``(M, K, d)``.

    :func:`_group_losses` for FCP and the autoencoder, whose first layer (weights ``(H, n_in)``,
    no bias) is a linear map of the input. Pair by pair (one pair's buffers at a time, as a
    pair alone) and data chunk by chunk: the first layer of the pair's ``K`` rows of ``b`` and
    of its two end points, one batched product each (``K + 2`` first-layer passes, not one per
    point); then its points in blocks: the first stage mixed, ``z_i = C_i @ Z``, the upper
    layers' weights mixed, ``W_i = C_i @ V``, and the layers above the first with their
    gradients ``dL/dz_i`` and ``dL/dW_i``: written out for FCP with ReLU
    (:func:`lls_core.batched.fcp_backward_to_first`), else autograd from ``z_i`` and ``W_i``
    only. The chain rule through ``W(b)`` is the same mix transposed: ``dL/db_k = sum_i C_ik
    dL/dW_i`` for the upper layers and ``(sum_i C_ik dL/dz_i)^T x`` for the first, one batched
    product per pair after its blocks (the end points' rows, fixed, get none). No graph of the
    first layer, no ``[ends; b]`` formed. Activations live in the engine's kept buffers
    (:meth:`lls_core.engine.Engine.scratch`); a block holds at most ``cp`` points (the caller's
    bound on one call's graph, with data chunks of ``cd`` items) and about
    :data:`lls_core.engine.GRAD_CALL_MB` (without ``grad``: ``TRIAL_CALL_MB``) of first stages.
    ``ends_cache``: a dict the caller keeps while ``ends`` stays the same (a search's steps);
    the end points' first stages are kept there when all of them fit in :data:`ENDS_CACHE_MB`,
    so that a step computes ``K`` first-layer rows per pair instead of ``K + 2``.
    """
    m = land.module
    assert m is not None
    M, K, d = b.shape
    B = C.shape[0]
    spec = _params.shapes(m)
    H, n_in = spec[0][1]
    s1 = H * n_in
    upper = [(k, sh, sh.numel()) for k, sh in spec[1:]]
    fcp = m if type(m) is _models.FCP and m.act is F.relu and [k for k, _, _ in upper] == ["fc2.weight", "fc3.weight"] else None
    Ce, Cb = C[:, :2].contiguous(), C[:, 2:].contiguous()
    CbT = Cb.T.contiguous()
    L = torch.zeros(M, B, dtype=b.dtype, device=b.device)
    G = torch.empty_like(b) if grad else None  # every entry written below

    def work(name: str, shape: tuple[int, ...]) -> Tensor:
        return land.scratch("path." + name, shape, b)

    def split(flat: Tensor) -> dict[str, Tensor]:  # (c, d - s1) -> the upper layers' weights (c, ...)
        return {k: v.view(flat.shape[0], *sh) for (k, sh, _), v in zip(upper, flat.split([w for _, _, w in upper], 1))}

    call_mb = _engine.GRAD_CALL_MB if grad else _engine.TRIAL_CALL_MB
    if ends_cache is not None and M * 2 * land.n_data * H * b.element_size() > ENDS_CACHE_MB * 2**20:
        ends_cache = None
    for j in range(M):
        V1b = b[j, :, :s1].view(K, H, n_in)  # views: the pair's first-layer blocks
        V1e = ends[j, :, :s1].view(2, H, n_in)
        if G is not None:
            G[j, :, s1:] = 0.0
        for d0, d1 in _engine.chunks(land.n_data, cd):
            n = d1 - d0
            x, y = land.x[d0:d1], land.y[d0:d1]
            xe = x.reshape(n, n_in).expand(K, n, n_in)
            zb = torch.bmm(xe, V1b.transpose(1, 2), out=work("Zb", (K, n, H))).view(K, n * H)
            ze = None if ends_cache is None else ends_cache.get((j, d0, d1))
            if ze is None:
                ze = torch.bmm(xe[:2], V1e.transpose(1, 2),
                               out=work("Ze", (2, n, H)) if ends_cache is None else None).view(2, n * H)
                if ends_cache is not None:
                    ends_cache[(j, d0, d1)] = ze
            dZ = work("dZb", (K, n * H)) if grad else None
            pb = max(1, min(B, cp, int(call_mb * 2**20 // (n * H * b.element_size()))))
            scale = n / land.n_data
            for p0, p1 in _engine.chunks(B, pb):
                c = p1 - p0
                z = torch.mm(Ce[p0:p1], ze, out=work("z", (c, n * H))).addmm_(Cb[p0:p1], zb).view(c, n, H)
                up = torch.mm(Ce[p0:p1], ends[j, :, s1:]).addmm_(Cb[p0:p1], b[j, :, s1:])  # (c, d - s1)
                if G is None:
                    if fcp is not None:
                        v = _batched.fcp_losses_from_first(fcp, split(up), z, y, work)
                    else:
                        with torch.no_grad():
                            v = _batched.forward_losses(m, split(up), x, y, z)
                    L[j, p0:p1] += v * scale
                    continue
                assert dZ is not None
                if fcp is not None:
                    gup = work("gup", (c, d - s1))
                    w, g = split(up), split(gup)
                    v, dz = _batched.fcp_backward_to_first(fcp, w["fc2.weight"], w["fc3.weight"], z, y, scale, work,
                                                           g["fc2.weight"], g["fc3.weight"])
                else:
                    zl, ul = z.detach().requires_grad_(True), up.requires_grad_(True)
                    with torch.enable_grad():
                        v = _batched.forward_losses(m, split(ul), x, y, zl) * scale
                        dz, gup = torch.autograd.grad(v.sum(), [zl, ul])
                    v = v.detach()
                L[j, p0:p1] += v
                G[j, :, s1:].addmm_(CbT[:, p0:p1], gup)
                if p0 == 0:
                    torch.mm(CbT[:, p0:p1], dz.reshape(c, n * H), out=dZ)
                else:
                    dZ.addmm_(CbT[:, p0:p1], dz.reshape(c, n * H))
            if G is not None:
                assert dZ is not None
                G[j, :, :s1].view(K, H, n_in).baddbmm_(dZ.view(K, n, H).transpose(1, 2), xe, beta=0.0 if d0 == 0 else 1.0)
    return L, G


def _penalty(t: Tensor, K: int, curve: str, ends: Tensor, b: Tensor, lam: float, G: Tensor | None = None) -> Tensor:
    """``lam * sum_i |w(t_{i+1}) - w(t_i)|^2`` per pair ``(M,)``; its gradient w.r.t. ``b`` is added into ``G`` ``(M, K, d)``.

    The differences are ``D U`` with ``U = [w2 - w1; b_1..b_K]`` and ``D = [dt, diff(basis)]``
    ``(P - 1, K + 1)``, so the penalty is ``lam * sum_jl H_jl <U_j, U_l>`` with ``H = D^T D``:
    the ``(K + 1)^2`` inner products of ``U`` per pair (products with ``b``, no ``U`` formed) instead of ``P`` points of ``d`` entries, and the gradient is ``2 lam (H U)``
    restricted to the ``b`` rows, added into ``G`` in place (two passes over ``G``) when given.
    """
    C = _coefficients(t, K, curve)
    D = (C[1:] - C[:-1])[:, 1:]  # (P - 1, K + 1): the w1 column is -dt, the w2 column dt
    H = D.T @ D
    M = b.shape[0]
    pen = b.new_empty(M)
    for m in range(M):  # pair by pair: one pair's rows at a time (memory-bound; all pairs at once cost more per pair)
        e = ends[m, 1] - ends[m, 0]  # (d,)
        eb = b[m] @ e  # (K,): <b_k, w2 - w1>
        bb = b[m] @ b[m].T  # (K, K): <b_k, b_l>
        pen[m] = lam * (H[0, 0] * e.dot(e) + 2.0 * eb.dot(H[1:, 0]) + (bb * H[1:, 1:]).sum())
        if G is not None:
            G[m].addmm_(H[1:, 1:], b[m], alpha=2.0 * lam).addr_(H[1:, 0], e, alpha=2.0 * lam)
    return pen


def group_step(land: _engine.Engine, t: Tensor, ends: Tensor, b: Tensor, *, lam: float, curve: str = "fourier",
               chunk_points: int | None = None, chunk_data: int | None = None,
               ends_cache: dict | None = None) -> tuple[Tensor, Tensor]:
    """One optimisation step's work for ``M`` paths of one network at once, as :func:`find_paths` does it.

    ``land``: the :class:`lls_core.engine.Engine` of the landscape; ``t`` ``(P,)`` the path's points;
    ``ends`` ``(M, 2, d)`` the end points; ``b`` ``(M, K, d)`` the coefficients. Returns the objective
    (Eq. 4) without the two end points' losses, which do not depend on ``b``, ``(M,)``, and its gradient
    with respect to ``b`` ``(M, K, d)``: the losses at the ``P - 2`` interior points plus the length
    penalty. Calls are chunked as ``land.chunk_sizes`` says under the engine's own memory bound
    (``chunk_points`` / ``chunk_data`` override it). ``ends_cache``: an empty dict to pass to every
    step with the same ``ends`` (as :func:`find_paths` does): for FCP and the autoencoder the end
    points' first stages are then computed once and kept there (up to :data:`ENDS_CACHE_MB`).
    """
    M, K = b.shape[0], b.shape[1]
    cp, cd = land.chunk_sizes(M * (t.numel() - 2), chunk_points, chunk_data)
    L_in, G = _group_losses(land, _coefficients(t, K, curve)[1:-1], ends, b.detach(), cp, cd, True, ends_cache)
    assert G is not None
    pen = _penalty(t, K, curve, ends, b.detach(), lam, G)
    return L_in.sum(1) + pen, G


def _objective_and_grad(land, w1, w2, b, t, lam, curve, cp, cd, end_losses):
    """One pair through the many-pair code: objective, gradient w.r.t. ``b`` ``(K, d)``, losses ``(P,)``."""
    K = b.shape[0]
    ends = torch.stack([w1, w2])[None]
    L_in, G = _group_losses(land, _coefficients(t, K, curve)[1:-1], ends, b.detach()[None], cp, cd, True)
    if end_losses is None:
        L_end = land.losses(ends[0], chunk_points=2, chunk_data=cd)
        end_losses = (float(L_end[0]), float(L_end[1]))
    assert G is not None
    pen = _penalty(t, K, curve, ends, b.detach()[None], lam, G)
    losses = torch.cat([L_in.new_tensor([end_losses[0]]), L_in[0], L_in.new_tensor([end_losses[1]])])
    return float(losses.sum()) + float(pen[0]), G[0], losses


def path_losses(
    f: Surface | nn.Module,
    points: Tensor,
    *,
    data: tuple[Tensor, Tensor] | None = None,
    loss: LossFn | None = None,
    chunk_points: int | None = None,
    chunk_data: int | None = None,
) -> Tensor:
    """Loss at each row of ``points`` ``(P, d)``: ``(P,)``, batched and chunked, no gradient."""
    land = _engine_for(f, data, loss, True)
    cp = points.shape[0] if chunk_points is None else chunk_points
    cd = land.n_data if chunk_data is None else chunk_data
    return land.losses(points, chunk_points=cp, chunk_data=cd)


def _length(W: Tensor) -> float:
    return float(torch.linalg.vector_norm(W[1:] - W[:-1], dim=1).sum())


def toy_objective(f: Surface, kind: Literal["squared", "plain"] = "squared") -> Surface:
    """The per-point term ``L`` of the path objective on a surface ``f`` (points ``(B, d)`` -> ``(B,)``).

    ``"squared"``: ``L = f^2``, the authors' toy code (``nn.MSELoss()(f(w), 0)`` summed over the
    path points); ``"plain"``: ``L = f``, Eq. 4 as printed. Heights of the landscape itself
    are then ``path_losses(f, result.points)``.

    >>> sq = toy_objective(lambda w: w.sum(-1))
    >>> float(sq(torch.tensor([[1.0, 2.0]]))[0])
    9.0
    """
    if not callable(f):
        raise ValueError(f"f is a {type(f).__name__}; expected a callable surface (points (B, d) -> values (B,))")
    if checks.choice("kind", kind, TOY_OBJECTIVES) == "plain":
        return f

    def squared(w: Tensor) -> Tensor:
        return f(w) ** 2

    return squared


def remeasure(result: "PathResult", f: Surface) -> "PathResult":
    """``result`` with its losses, height and straight-line losses measured on the surface ``f`` instead.

    For a path found on ``toy_objective(f, "squared")``: the heights of the landscape ``f``
    itself along the same points (``objective`` and ``heights``, the optimisation record,
    are kept as they were).
    """
    import dataclasses

    if not callable(f):
        raise ValueError(f"f is a {type(f).__name__}; expected a callable surface (points (B, d) -> values (B,))")
    with torch.no_grad():
        losses = f(result.points).reshape(-1)
        lin = path_points(result.w1, result.w2, torch.zeros_like(result.b), result.t, curve=result.curve)
        lin_losses = f(lin).reshape(-1)
    return dataclasses.replace(result, losses=losses, height=float(losses.max()), linear_losses=lin_losses,
                               linear_height=float(lin_losses.max()))


# --------------------------------------------------------------------------- entry point
def find_path(
    f: Surface | nn.Module,
    w1: Tensor,
    w2: Tensor,
    settings: PathSettings | None = None,
    *,
    data: tuple[Tensor, Tensor] | None = None,
    loss: LossFn | None = None,
    b0: Tensor | None = None,
    callback: Callable[[int, float], None] | None = None,
    **changes: Any,
) -> PathResult:
    """Find a low-loss path from ``w1`` to ``w2`` (FourierPathFinder, Yu & Morozov Algorithm 2).

    Parameters
    ----------
    f:
        A surface (callable mapping points ``(B, d)`` to values ``(B,)``) or an
        ``nn.Module`` whose ``d`` trainable parameters ``w1``/``w2`` hold, evaluated
        on ``data``.
    w1, w2:
        End points, flat floating-point vectors ``(d,)``; they stay fixed exactly.
    settings:
        A :class:`PathSettings` (basis, penalty ``lam``, Adam's ``lr`` and ``steps``,
        gradient noise, ``keep``, batching and chunking); default ``PathSettings()``:
        the authors' network settings (10 terms, 51 points, lambda 1e-3, 100 steps at
        lr 1e-3). A :class:`lls_core.landscape.PathConfig` is one too; its ``n_data``
        and ``fine_points`` are :func:`lls_core.landscape.pair_paths`' business and
        are not used here.
    data:
        ``(x, y)`` for a module; ``L(w)`` is the loss averaged over all items.
    loss:
        ``loss(model, x, y, params)`` returning the mean loss; default
        :func:`lls_core.models.loss` (cross-entropy, or MSE for the autoencoder).
    b0:
        Initial coefficients ``(K, d)``; default zeros (the straight line).
    callback:
        Called as ``callback(step, objective)`` after each evaluation.
    **changes:
        Fields of :class:`PathSettings` to replace in ``settings`` (``lam=35.0,
        steps=30``): the keyword form, the same as ``settings=path_settings(settings,
        **changes)``.

    Raises ``ValueError`` naming the bad value before any work (an unknown keyword:
    :class:`lls_core.checks.UnknownNameError`, listing the settings).

    Examples
    --------
    >>> import torch
    >>> from lls_core import surfaces
    >>> a, z = torch.tensor([-0.62, -0.54], dtype=torch.float64), torch.tensor([0.49, -0.02], dtype=torch.float64)
    >>> toy = PathSettings(n_terms=5, n_points=31, lam=35.0, lr=1e-2, steps=30)
    >>> r = find_path(surfaces.get("toy"), a, z, toy)
    >>> tuple(r.points.shape), r.height < r.linear_height   # the path passes lower than the straight line
    ((31, 2), True)
    >>> find_path(surfaces.get("toy"), a, z, toy, steps=0).height == r.linear_height   # keyword form
    True
    """
    cfg = path_settings(settings, **changes)
    a, z = _validate(f, w1, w2, data)
    K = cfg.n_basis
    if b0 is not None and (not isinstance(b0, Tensor) or tuple(b0.shape) != (K, a.numel())):
        raise ValueError(f"b0 has shape {tuple(b0.shape) if isinstance(b0, Tensor) else type(b0).__name__}; "
                         f"expected ({K}, {a.numel()})")
    cb = None if callback is None else (lambda step, obj: callback(step, float(obj[0])))
    many = find_paths(f, a[None], z[None], cfg, data=data, loss=loss, b0=None if b0 is None else b0[None], callback=cb)
    return many.path(0)


@dataclass(frozen=True, eq=False)
class PathsResult:
    """Paths between ``M`` pairs found together by :func:`find_paths` (tensors detached).

    Shapes: ``M`` pairs, ``K`` basis functions, ``P`` points, ``d`` dimensions, ``S``
    steps. Row ``m`` of every array is pair ``m``; :meth:`path` gives it as a
    :class:`PathResult`, the same as :func:`find_path` would return alone.
    """

    curve: str
    starts: Tensor
    """Start points ``(M, d)``."""
    ends: Tensor
    """End points ``(M, d)``."""
    b: Tensor
    """Coefficients ``(M, K, d)`` (the best or the last, see ``keep``)."""
    t: Tensor
    """Curve parameter ``(P,)``."""
    losses: Tensor
    """Loss at every point of each returned path ``(M, P)``."""
    height: Tensor
    """Path heights ``(M,)``: the largest of each row of ``losses`` (Eq. 5)."""
    length: Tensor
    """Polygonal lengths ``(M,)`` (units of ``w``)."""
    linear_losses: Tensor
    """Losses along the straight lines ``(M, P)``."""
    linear_height: Tensor
    """Straight-line heights ``(M,)``."""
    objective: Tensor
    """Objective of each pair before each step and after the last ``(M, S + 1)``."""
    heights: Tensor
    """Height of each pair before each step and after the last ``(M, S + 1)``."""
    best_step: Tensor
    """Step of each pair's returned coefficients ``(M,)`` (int64)."""
    lam: float
    seconds: float
    """Wall-clock time of the whole search (s), all pairs together."""
    chunk_points: int
    """Weight vectors (pairs x points) per batched call."""
    chunk_data: int
    settings: PathSettings = field(default_factory=PathSettings)
    """The settings the search ran with."""

    def __len__(self) -> int:
        return int(self.starts.shape[0])

    @property
    def max_t(self) -> Tensor:
        """Where each path reaches its height (value of ``t``) ``(M,)``."""
        return self.t[torch.argmax(self.losses, dim=1)]

    def points(self, m: int) -> Tensor:
        """Points ``(P, d)`` of pair ``m``'s path."""
        return path_points(self.starts[m], self.ends[m], self.b[m], self.t, curve=self.curve)

    def path(self, m: int) -> PathResult:
        """Pair ``m`` as a :class:`PathResult` (``seconds``: this pair's share of the total)."""
        M = len(self)
        if not (isinstance(m, int) and -M <= m < M):
            raise IndexError(f"pair {m!r} out of range for {M} pairs")
        return PathResult(
            curve=self.curve, w1=self.starts[m], w2=self.ends[m], b=self.b[m], t=self.t, losses=self.losses[m],
            height=float(self.height[m]), length=float(self.length[m]), linear_losses=self.linear_losses[m],
            linear_height=float(self.linear_height[m]),
            linear_length=float(torch.linalg.vector_norm(self.ends[m] - self.starts[m])),
            objective=self.objective[m], heights=self.heights[m], best_step=int(self.best_step[m]), lam=self.lam,
            seconds=self.seconds / M, chunk_points=self.chunk_points, chunk_data=self.chunk_data,
            settings=self.settings,
        )

    def facts(self) -> dict[str, float]:
        """Pairs, median height and straight-line height, median share of the line's excess removed, seconds."""
        return {"pairs": len(self), "median_height": float(self.height.median()),
                "median_linear_height": float(self.linear_height.median()), "seconds": self.seconds,
                "seconds_per_pair": self.seconds / len(self)}


def find_paths(
    f: Surface | nn.Module,
    starts: Tensor,
    ends: Tensor,
    settings: PathSettings | None = None,
    *,
    data: tuple[Tensor, Tensor] | None = None,
    loss: LossFn | None = None,
    b0: Tensor | None = None,
    callback: Callable[[int, Tensor], None] | None = None,
    **changes: Any,
) -> PathsResult:
    """Paths between ``M`` pairs ``starts[m] -> ends[m]`` (each ``(M, d)``) of one landscape, found together.

    One objective, the sum of the pairs' objectives (Eq. 4), with per-pair
    coefficients ``b`` ``(M, K, d)`` and one Adam over all of them. The pairs share
    nothing, so the gradient of the sum has each pair's own gradient in its rows,
    and Adam, being elementwise, moves every pair exactly as it would move alone:
    row ``m`` of the result equals ``find_path(f, starts[m], ends[m], ...)`` up to
    rounding (``keep='best'`` is decided per pair; the gradient noise of pair ``m`` is
    drawn from its own generator seeded with ``seed``, as alone).

    Evaluation goes through :meth:`lls_core.engine.Engine.values_affine_groups`: the
    points of all pairs share one grid ``t`` and so one coefficient matrix ``C``
    ``(P, K + 2)``; each call takes several pairs' interior points at once, and for
    FCP and the autoencoder the first layer runs on the ``K + 2`` rows
    ``[w1; w2; b]`` of each pair (``X w(t) = (1 - t) X w1 + t X w2 + sum_k
    sin(k pi t) X b_k``) instead of on every point, forward and backward. Chunk
    sizes count weight vectors (pairs x points) per call, under ``memory_mb`` as in
    :func:`find_path`. The length penalty is computed in closed form from the
    ``(K + 1)^2`` inner products of ``[w2 - w1; b]``.

    ``settings`` and the keyword form (``**changes``) as in :func:`find_path`; ``b0``:
    ``(M, K, d)``; ``callback(step, objectives)`` gets the ``(M,)`` objectives.

    Example::

        res = find_paths(models.build("fcp"), W[:8], W[8:16], PathSettings(n_points=15, steps=30), data=(x, y))
        res.height                       # (8,) path heights
        res.path(3).losses               # (15,) losses along pair 3's path
    """
    cfg = path_settings(settings, **changes)
    S = checks.matrix("starts", starts, shape="(M, d)")
    E = checks.matrix("ends", ends, shape="(M, d)")
    if S.shape != E.shape:
        raise ValueError(f"starts {tuple(S.shape)} and ends {tuple(E.shape)} differ; expected the same shape (M, d)")
    _validate(f, S[0], E[0], data)
    E = E.to(dtype=S.dtype, device=S.device)
    M, d = S.shape
    K = cfg.n_basis
    n_points, lam, lr, steps, grad_noise, curve = cfg.n_points, cfg.lam, cfg.lr, cfg.steps, cfg.grad_noise, cfg.curve
    if b0 is not None:
        if not isinstance(b0, Tensor) or tuple(b0.shape) != (M, K, d):
            raise ValueError(f"b0 has shape {tuple(b0.shape) if isinstance(b0, Tensor) else type(b0).__name__}; "
                             f"expected ({M}, {K}, {d})")
        checks.tensor("b0", b0, finite=True)
    t = torch.linspace(0.0, 1.0, n_points, dtype=S.dtype, device=S.device)
    land = _engine_for(f, data, loss, cfg.batched)
    cp, cd = land.chunk_sizes(M * (n_points - 2), cfg.chunk_points, cfg.chunk_data, cfg.memory_mb)
    C = _coefficients(t, K, curve)
    C_in = C[1:-1]
    ends2 = torch.stack([S.detach(), E.detach()], 1)  # (M, 2, d)

    start = time.perf_counter()
    zeros = torch.zeros(M, K, d, dtype=S.dtype, device=S.device)
    ends_cache: dict = {}  # the end points' first stages, computed once for all steps (FCP, autoencoder)
    linear_losses, _ = _group_losses(land, C, ends2, zeros, max(cp, n_points), cd, False)
    end_l = linear_losses[:, [0, -1]]

    b = (zeros.clone() if b0 is None else b0.detach().clone().to(S)).contiguous()  # (M, K, d), updated in place
    rows = [b[m].detach().requires_grad_(True) for m in range(M)]  # one leaf per pair, sharing b's memory
    # One Adam, elementwise, over each pair's rows as a parameter of its own (pair by pair, as alone:
    # the update is memory-bound and one tensor of all pairs, tens of MiB, cost more per pair), fused
    # (one pass over the rows, their gradient and both moments instead of about ten).
    opt = torch.optim.Adam(rows, lr=lr, fused=b.device.type in ("cpu", "cuda"))
    gens = [torch.Generator(device=S.device).manual_seed(cfg.seed) for _ in range(M)] if grad_noise > 0 else []
    objective = torch.empty(M, steps + 1, dtype=torch.float64)
    heights = torch.empty(M, steps + 1, dtype=torch.float64)
    best_obj = torch.full((M,), math.inf, dtype=torch.float64)
    best_step = torch.full((M,), -1, dtype=torch.int64)
    best_b = b.detach().clone()
    best_losses = torch.zeros(M, n_points, dtype=S.dtype, device=S.device)
    for step in range(steps + 1):
        need_grad = step < steps
        L_in, G = _group_losses(land, C_in, ends2, b.detach(), cp, cd, need_grad, ends_cache)
        pen = _penalty(t, K, curve, ends2, b.detach(), lam, G)  # its gradient added into G
        losses = torch.cat([end_l[:, :1], L_in, end_l[:, 1:]], 1)
        obj = losses.double().sum(1) + pen.double()
        objective[:, step] = obj.cpu()
        heights[:, step] = losses.max(1).values.double().cpu()
        if callback is not None:
            callback(step, obj.cpu())
        better = torch.ones(M, dtype=torch.bool) if cfg.keep == "last" else obj.cpu() < best_obj
        if bool(better.any()):
            idx = better.nonzero().flatten()
            best_obj[idx] = obj.cpu()[idx]
            best_step[idx] = step
            if idx.numel() == M:  # all pairs (the common case): one copy, no gather
                best_b.copy_(b.detach())
                best_losses.copy_(losses)
            else:
                dev_idx = idx.to(S.device)
                best_b[dev_idx] = b.detach()[dev_idx]
                best_losses[dev_idx] = losses[dev_idx]
        if not need_grad:
            break
        bad = (~torch.isfinite(obj)).nonzero().flatten()
        if bad.numel():
            m0 = int(bad[0])
            raise FloatingPointError(
                f"objective of pair {m0} became {float(obj[m0])} at step {step}; lower lr={lr} or check the landscape")
        assert G is not None
        grad = G
        for m, gen in enumerate(gens):
            grad[m] += grad_noise * torch.randn(grad.shape[1:], generator=gen, dtype=grad.dtype, device=grad.device)
        for m in range(M):
            rows[m].grad = grad[m]
        opt.step()
    seconds = time.perf_counter() - start

    lengths = torch.tensor([_length(path_points(S[m], E[m], best_b[m], t, curve=curve)) for m in range(M)],
                           dtype=torch.float64)
    return PathsResult(
        curve=curve,
        starts=S.detach().clone(),
        ends=E.detach().clone(),
        b=best_b,
        t=t,
        losses=best_losses,
        height=best_losses.max(1).values.double().cpu(),
        length=lengths,
        linear_losses=linear_losses,
        linear_height=linear_losses.max(1).values.double().cpu(),
        objective=objective,
        heights=heights,
        best_step=best_step,
        lam=float(lam),
        seconds=seconds,
        chunk_points=cp,
        chunk_data=cd,
        settings=cfg,
    )


# --------------------------------------------------------------------------- fine grid
FINE_POINTS: int = 401
"""Default number of equally spaced ``t`` of the fine grid a found path is re-evaluated on."""


@dataclass(frozen=True, eq=False)
class FineGrid:
    """Found paths re-evaluated on a fine grid of ``t`` (:func:`fine_grid`).

    ``t`` ``(Q,)``: the fine grid together with the paths' own points; ``losses``
    ``(M, Q)``; ``height`` ``(M,)``: the true maximum (to the grid's resolution);
    ``discrete_height`` ``(M,)``: the maximum on the paths' own points (Eq. 5);
    ``max_t`` ``(M,)``: where the true maximum lies.
    """

    t: Tensor
    losses: Tensor
    height: Tensor
    discrete_height: Tensor
    max_t: Tensor

    @property
    def understatement(self) -> Tensor:
        """``height - discrete_height`` ``(M,)``, >= 0: how far the discrete maximum understates the true one."""
        return self.height - self.discrete_height

    @property
    def relative(self) -> Tensor:
        """``understatement / |discrete_height|`` ``(M,)`` (0 where the discrete height is 0)."""
        den = self.discrete_height.abs()
        return torch.where(den > 0, self.understatement / den.clamp_min(1e-300), torch.zeros_like(den))

    def facts(self) -> dict[str, float]:
        """Pairs, grid size, median and largest understatement (absolute and relative)."""
        u, r = self.understatement, self.relative
        return {"pairs": int(u.numel()), "grid_points": int(self.t.numel()),
                "median_understatement": float(u.median()), "max_understatement": float(u.max()),
                "median_relative_understatement": float(r.median()),
                "max_relative_understatement": float(r.max())}


def fine_grid(
    f: Surface | nn.Module,
    paths: PathsResult | PathResult,
    *,
    data: tuple[Tensor, Tensor] | None = None,
    loss: LossFn | None = None,
    n_points: int = FINE_POINTS,
    batched: bool | str = True,
    memory_mb: float | None = 1024.0,
) -> FineGrid:
    """Re-evaluate found paths on ``n_points`` equally spaced ``t`` plus their own points.

    The path height of Eq. 5 is the largest loss on the ``P`` points the path was
    optimised on; the loss between them can rise higher. This evaluates each path
    (the same coefficients) on the union of a fine grid and its own ``t``, so the
    fine maximum is never below the discrete one, and reports both. Batched over
    pairs as :func:`find_paths` (no gradient). ``f``/``data``/``loss`` must be the
    landscape the paths were found on (or another one to measure them there).

    Example::

        res = find_paths(model, W1, W2, data=(x, y), n_points=15)
        fg = fine_grid(model, res, data=(x, y))       # 401 + 15 points per path
        fg.understatement                               # (M,) >= 0
    """
    if isinstance(paths, PathResult):
        paths = PathsResult(paths.curve, paths.w1[None], paths.w2[None], paths.b[None], paths.t, paths.losses[None],
                            torch.tensor([paths.height]), torch.tensor([paths.length]), paths.linear_losses[None],
                            torch.tensor([paths.linear_height]), paths.objective[None], paths.heights[None],
                            torch.tensor([paths.best_step]), paths.lam, paths.seconds, paths.chunk_points,
                            paths.chunk_data, paths.settings)
    if not isinstance(paths, PathsResult):
        raise ValueError(f"paths is a {type(paths).__name__}; expected a PathsResult or PathResult")
    checks.integer("n_points", n_points, min=2)
    checks.optional_real("memory_mb", memory_mb, min=0, min_open=True)
    if isinstance(f, nn.Module):
        if data is None:
            raise ValueError("a module needs data=(x, y): the inputs and targets its loss is averaged over")
        d = _params.num_params(f)
        if paths.starts.shape[1] != d:
            raise ValueError(f"the paths have d={paths.starts.shape[1]} entries per point but the module has d={d} "
                             "parameters; expected the landscape the paths were found on")
    elif data is not None:
        raise ValueError("data is only used with an nn.Module; a surface callable takes points (B, d) only")
    t = torch.unique(torch.cat([torch.linspace(0.0, 1.0, n_points, dtype=paths.t.dtype, device=paths.t.device),
                                paths.t]))  # sorted
    K = paths.b.shape[1]
    land = _engine_for(f, data, loss, batched)
    M = len(paths)
    cp, cd = land.chunk_sizes(M * t.numel(), None, None, memory_mb)
    ends2 = torch.stack([paths.starts, paths.ends], 1)
    L, _ = _group_losses(land, _coefficients(t, K, paths.curve), ends2, paths.b, cp, cd, False)
    top = L.max(1)
    return FineGrid(t=t, losses=L, height=top.values.double().cpu(),
                    discrete_height=paths.losses.max(1).values.double().cpu(), max_t=t[top.indices].cpu())


# --------------------------------------------------------------------------- how much the height depends on lambda
LAMBDA_TOLERANCE: float = 0.1
"""Share of the best drop below the straight line that a lambda may give up and still count as
"as good as the best" (:func:`lambda_range`)."""

LAMBDA_SPAN: float = 2.0
"""Decades of lambda the paper's Fig. 3 spans (0.35, 3.5, 35): the range over which its claim
"the height hardly depends on lambda" is made (:func:`lambda_range`)."""


@dataclass(frozen=True)
class LambdaRange:
    """How the height of the path found depends on the length penalty lambda, over a sweep.

    Attributes:
        lams, heights: the sweep, sorted by lambda (heights in loss units).
        linear_height: the straight line's height between the same end points.
        tolerance, span: the criterion (:data:`LAMBDA_TOLERANCE`, :data:`LAMBDA_SPAN`).
        best: the lowest height of the sweep; ``drop = linear_height - best``.
        lo, hi: ends of the widest run of consecutive sweep values whose paths are all *as good
            as the best*: each keeps at least ``1 - tolerance`` of the best drop below the line,
            ``linear_height - h >= (1 - tolerance) * drop`` (ties go to the run at smaller lambda).
        n_in_range: sweep values in ``[lo, hi]``; ``decades = log10(hi / lo)``.
        range_min, range_max: the lowest and highest height in ``[lo, hi]``.
        top_kept: the share of the best drop that the largest lambda keeps (1 = as low as the
            best, 0 = as high as the straight line, negative = higher; 0 when no path of the
            sweep lies below the line).
        verdict: ``"supported"`` when ``decades >= span`` (the height is insensitive over at
            least the span the paper's claim covers), ``"not resolved"`` otherwise (the sweep
            is too coarse or too short to show such a range, or the height does depend on lambda).
    """

    lams: tuple[float, ...]
    heights: tuple[float, ...]
    linear_height: float
    tolerance: float
    span: float
    best: float
    lo: float
    hi: float
    n_in_range: int
    decades: float
    range_min: float
    range_max: float
    top_kept: float
    verdict: str

    @property
    def drop(self) -> float:
        """How far the best path lies below the straight line (loss units)."""
        return self.linear_height - self.best

    def facts(self) -> dict[str, float | int | str]:
        """``lo``, ``hi``, ``n_in_range``, ``decades``, ``range_min``, ``range_max``, ``best``, ``drop``,
        ``tolerance_pct``, ``span``, ``top_lambda``, ``top_height``, ``top_kept_pct`` and ``verdict``."""
        return {"lo": self.lo, "hi": self.hi, "n_in_range": self.n_in_range, "decades": self.decades,
                "range_min": self.range_min, "range_max": self.range_max, "best": self.best, "drop": self.drop,
                "tolerance_pct": 100 * self.tolerance, "span": self.span, "top_lambda": self.lams[-1],
                "top_height": self.heights[-1], "top_kept_pct": 100 * self.top_kept, "verdict": self.verdict}


def lambda_range(lams: object, heights: object, linear_height: float, *, tolerance: float = LAMBDA_TOLERANCE,
                 span: float = LAMBDA_SPAN) -> LambdaRange:
    """The widest range of lambda over which the path height stays as low as the best, and the verdict.

    ``lams``: ``(K,)`` positive penalties (any order, distinct); ``heights``: ``(K,)`` heights of
    the paths found with them (e.g. ``find_path(...).height``); ``linear_height``: the straight
    line's height (``PathResult.linear_height``). The criterion is relative to the drop below
    the line that the search achieves, so it does not depend on the units of the loss; see
    :class:`LambdaRange` for the definitions. When no path lies below the line (too few steps,
    say) there is no drop to keep: the verdict is "not resolved" and the range is the single
    lowest value.

    Example:
        >>> r = lambda_range([0.01, 0.1, 1, 10, 100, 1000], [0.52, 0.41, 0.40, 0.405, 0.42, 0.9], 1.0)
        >>> r.lo, r.hi, r.decades, r.verdict
        (0.1, 100.0, 3.0, 'supported')
    """
    lam = torch.as_tensor(lams, dtype=torch.float64).flatten()
    h = torch.as_tensor(heights, dtype=torch.float64).flatten()
    if lam.numel() < 2 or lam.shape != h.shape:
        raise ValueError(f"lams and heights must be two sequences of the same length >= 2; got {lam.numel()} and {h.numel()}")
    if not (torch.isfinite(lam).all() and (lam > 0).all()) or torch.unique(lam).numel() != lam.numel():
        raise ValueError(f"lams={lam.tolist()} must be distinct finite numbers > 0")
    if not torch.isfinite(h).all():
        raise ValueError(f"heights={h.tolist()} must be finite")
    line = checks.real("linear_height", linear_height)
    tol = checks.real("tolerance", tolerance, min=0.0, max=1.0, min_open=True)
    sp = checks.real("span", span, min=0.0, min_open=True)
    order = torch.argsort(lam)
    lam, h = lam[order], h[order]
    best = float(h.min())
    drop = line - best
    if not drop > 0:  # no path below the line: nothing to be insensitive about
        k = int(torch.argmin(h))
        return LambdaRange(
            lams=tuple(lam.tolist()), heights=tuple(h.tolist()), linear_height=line, tolerance=tol, span=sp, best=best,
            lo=float(lam[k]), hi=float(lam[k]), n_in_range=1, decades=0.0, range_min=best, range_max=best,
            top_kept=0.0, verdict="not resolved")
    good = ((line - h) >= (1 - tol) * drop - 1e-12 * abs(drop)).tolist()
    runs, i = [], 0
    while i < len(good):
        if good[i]:
            j = i
            while j + 1 < len(good) and good[j + 1]:
                j += 1
            runs.append((i, j))
            i = j + 1
        else:
            i += 1
    i, j = max(runs, key=lambda r: (math.log10(float(lam[r[1]] / lam[r[0]])), r[1] - r[0], -r[0]))
    decades = math.log10(float(lam[j] / lam[i]))
    inside = h[i : j + 1]
    return LambdaRange(
        lams=tuple(lam.tolist()), heights=tuple(h.tolist()), linear_height=line, tolerance=tol, span=sp, best=best,
        lo=float(lam[i]), hi=float(lam[j]), n_in_range=j - i + 1, decades=decades,
        range_min=float(inside.min()), range_max=float(inside.max()), top_kept=float((line - h[-1]) / drop),
        verdict="supported" if decades >= sp - 1e-12 else "not resolved",
    )
