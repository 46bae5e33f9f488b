"""One engine: a network (or a surface) evaluated at ``R`` weight vectors on shared data.

Every place of the package that needs the loss at many weight vectors of one
architecture -- the ensemble trainer (:mod:`lls_core.train`: per-run gradients,
line-search trials), paths (:mod:`lls_core.pathfinder`: points along a curve,
with gradients) -- goes through :class:`Engine`. Shapes: ``R`` (or ``B``) weight
vectors, rows of ``W`` ``(R, d)``; ``N`` data items; ``J`` basis rows.

What it computes

* :meth:`Engine.losses` -- mean loss over all the data at each row of ``W``: ``(R,)``;
* :meth:`Engine.losses_and_grads` -- the same and the per-run gradients ``(R, d)``
  (the gradient of the sum of the ``R`` losses with respect to ``W`` has the
  gradient of run ``r``'s own loss in row ``r``: the runs share no weights);
* :meth:`Engine.affine_losses` / :meth:`Engine.values_affine` -- at ``W = C @ V``
  (path points, slice grids), the first stage run on the ``J`` rows of ``V`` only;
* :meth:`Engine.values_affine_groups` -- ``G`` affine families on one shared ``C``
  (many paths at once, each with its own coefficients);
* :meth:`Engine.lines` -- :class:`Lines`: ``R`` lines ``W0_r + a D_r`` (line-search
  trials): the first stage at ``W0`` (kept from the gradient pass) and at ``D`` is
  computed once per line, so a trial costs the layers above the first only
  (``X (W + a D) = X W + a X D``);
* :meth:`Engine.minibatch_losses` -- each run on its own inputs ``(R, n, ...)``
  (mini-batch SGD, where every run draws its own batches);
  :meth:`Engine.minibatch_losses_and_grads` -- the same with each run's gradient,
  written into the optimizer's ``.grad`` rows;
* :meth:`Engine.losses_and_grads_at_first` -- losses and gradients at points whose
  first stage is already known (a line-search point that becomes the next anchor:
  :class:`Anchors`), without the first layer's forward.

Speed on a CPU (``benchmarks/bench_ensemble.py``): FCP with ReLU has its trial and
gradient kernels written out (:func:`lls_core.batched.fcp_losses_from_first`,
:func:`lls_core.batched.fcp_grads_from_first`) on buffers the engine keeps
(:meth:`Engine.scratch`): a fresh tensor of tens of MiB is mapped page by page on
every call, which cost more than the arithmetic on it. Calls on first-stage
activations stay near :data:`TRIAL_CALL_MB` / :data:`GRAD_CALL_MB`.

The first stage (FCP, autoencoder: the first dense layer; LeNet: ``conv1`` with
its bias; LSTM: the input projections of all steps with both biases) and the
hand-batched layers above it are the kernels of :mod:`lls_core.batched`. Modules
without a hand-batched forward go through ``torch.func.vmap`` over
``functional_call`` (or a loop where vmap has no rule); a surface callable maps
points ``(B, d)`` to values ``(B,)`` directly.

Calls are chunked over weight vectors and over data so that the autograd graph of
one call stays under ``memory_mb`` (measured by :func:`graph_bytes_per_item`).
The same code runs on CPU and CUDA: every tensor follows the data's device.

Example::

    eng = Engine(models.build("fcp"), (x, y))          # x (N, 1, 28, 28), y (N,)
    L, G = eng.losses_and_grads(W)                       # W (R, 42200) -> (R,), (R, 42200)
    lines = eng.lines(W, D)                              # R lines W + a D
    lines.losses(torch.tensor([0.1, 0.2, ...]))          # (R,)
"""

from __future__ import annotations

import math
from typing import Any, Callable, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import vmap

from . import batched as _batched
from . import models as _models
from . import params as _params

__all__ = [
    "Engine",
    "Lines",
    "graph_bytes_per_item",
    "choose_chunks",
    "chunks",
    "CALL_MB",
    "CALL_POINTS",
    "FACTORED_FIRST_LAYER",
    "PER_RUN_FIRST_STAGE",
    "Anchors",
    "first_stage_all",
    "gather_items",
    "line_points",
    "TRIAL_CALL_MB",
    "GRAD_CALL_MB",
    "ANCHOR_REFRESH",
]

Surface = Callable[[Tensor], Tensor]
LossFn = Callable[[nn.Module, Tensor, Tensor, "dict[str, Tensor] | None"], Tensor]
Batched = Literal[True, False, "vmap"]

CALL_MB = 384.0
"""Size (MiB of autograd graph) that automatic chunking aims one batched call at."""
CALL_POINTS = 8
"""Points per call that automatic data chunking leaves room for."""
TRIAL_CALL_MB = 8.0
"""Size (MiB of first-stage activations) of one no-graph line-search trial call on a CPU (FCP, autoencoder)."""
GRAD_CALL_MB = 16.0
"""Size (MiB of first-stage activations) of one gradient call on a CPU (FCP, autoencoder)."""
ANCHOR_REFRESH = 16
"""Anchors in a row whose first stage :class:`Anchors` mixes from the line before one is computed afresh."""

# Networks whose first stage is evaluated in the coordinates of an affine family
# ``W = C @ V`` (paths): it runs on the J rows of V and is mixed per point
# (``batched.affine_outputs``). This pays for the dense first layers; for LeNet's
# conv1 (25 multiply-adds per output) the mix of ~12 rows costs about as much as
# the convolution itself, so affine families do not factor it.
FACTORED_FIRST_LAYER: frozenset[type] = frozenset({_models.FCP, _models.Autoencoder})

#: The parameters of the factored first stage, which the layers above never read.
FIRST_LAYER_PARAMS: dict[type, frozenset[str]] = {
    _models.FCP: frozenset({"fc1.weight"}),
    _models.Autoencoder: frozenset({"enc1.weight"}),
}


#: Networks whose mini-batch steps loop over runs through the module's own forward:
#: on a CPU, torch's fused LSTM kernel on 64 sequences beats the written-out,
#: run-batched recurrence (bench_ensemble measured the batched one 0.27x as fast);
#: LeNet's per-run convolutions on 64 images gain nothing from batching either
#: (16 runs x 8 steps: batched 0.57x, looped 0.8-1.1x the one-at-a-time time).
#: Full-batch evaluations (thousands of images) stay batched.
LOOP_MINIBATCH: frozenset[type] = frozenset({_models.LSTMNet, _models.LeNet})


def gather_items(t: Tensor, idx: Tensor, out: Tensor | None = None) -> Tensor:
    """``t[idx]`` for item indices ``idx`` ``(R, n)`` into ``t`` ``(N, ...)``: ``(R, n, ...)``, one ``index_select``.

    The runs' mini-batches; on a CPU about 2.5 x as fast as advanced indexing (75 x 64 MNIST images),
    and again 1.5-2.5 x with ``out`` (a kept buffer of ``R * n`` items, e.g. :meth:`Engine.minibatch_items`'s:
    a fresh 15 MB result is mapped page by page on every call).
    """
    flat = t.reshape(t.shape[0], -1)
    if out is not None:
        out = out.view(-1, flat.shape[1])
    return torch.index_select(flat, 0, idx.reshape(-1), out=out).view(*idx.shape, *t.shape[1:])


def chunks(n: int, size: int) -> list[tuple[int, int]]:
    """``[(0, size), (size, 2 size), ...]`` covering ``range(n)``."""
    return [(i, min(i + size, n)) for i in range(0, n, size)]


# --------------------------------------------------------------------------- per-run inputs
def _fcp_first_runs(m: _models.FCP, p: dict[str, Tensor], x: Tensor) -> Tensor:
    R, n = x.shape[0], x.shape[1]
    return torch.bmm(x.reshape(R, n, -1), p["fc1.weight"].transpose(1, 2))


def _ae_first_runs(m: _models.Autoencoder, p: dict[str, Tensor], x: Tensor) -> Tensor:
    R, n = x.shape[0], x.shape[1]
    return torch.bmm(x.reshape(R, n, -1), p["enc1.weight"].transpose(1, 2))


def _lenet_first_runs(m: _models.LeNet, p: dict[str, Tensor], x: Tensor) -> Tensor:
    """conv1 of run ``r`` on run ``r``'s images: one grouped convolution, ``(R, n, 6, 28, 28)``."""
    R, n = x.shape[0], x.shape[1]
    c1 = p["conv1.weight"]  # (R, 6, 1, 5, 5)
    xs = x.reshape(R, n, 28, 28).transpose(0, 1)  # (n, R, 28, 28): runs as input channels
    padding = m.conv1.padding  # in pixels (conv2d's overloads take a str or sizes, not both)
    if isinstance(padding, str):
        raise TypeError(f"LeNet.conv1 has padding={padding!r}; the batched forward needs it in pixels")
    h = F.conv2d(xs, c1.reshape(R * c1.shape[1], *c1.shape[2:]), p["conv1.bias"].reshape(-1),
                 padding=padding, groups=R)  # (n, R * 6, 28, 28)
    return h.reshape(n, R, c1.shape[1], *h.shape[2:]).transpose(0, 1)


def _lstm_first_runs(m: _models.LSTMNet, p: dict[str, Tensor], x: Tensor) -> Tensor:
    R, n = x.shape[0], x.shape[1]
    seq = x.reshape(R, n, -1)[:, :, m.perm].reshape(R, n * 28, 28)
    xin = torch.bmm(seq, p["lstm.weight_ih_l0"].transpose(1, 2)).reshape(R, n, 28, -1)
    return xin + (p["lstm.bias_ih_l0"] + p["lstm.bias_hh_l0"])[:, None, None, :]


#: First stages with per-run inputs ``x`` ``(R, n, ...)``: ``first(module, params, x) -> (R, n, ...)``.
PER_RUN_FIRST_STAGE: dict[type, Callable[..., Tensor]] = {
    _models.FCP: _fcp_first_runs,
    _models.Autoencoder: _ae_first_runs,
    _models.LeNet: _lenet_first_runs,
    _models.LSTMNet: _lstm_first_runs,
}


def _per_run_mean_losses(model: nn.Module, out: Tensor, x: Tensor, y: Tensor) -> Tensor:
    """Loss per run from outputs ``(R, n, ...)`` against per-run inputs ``x`` ``(R, n, ...)`` / labels ``(R, n)``."""
    R, n = out.shape[0], out.shape[1]
    if _models.is_classifier(model):
        return _batched.cross_entropy_rows(out.reshape(R, n, -1), y.reshape(R, n)).mean(1)
    return (out.reshape(R, n, -1) - x.reshape(R, n, -1)).pow(2).mean((1, 2))


# --------------------------------------------------------------------------- the engine
class Engine:
    """Loss of ``f`` at many weight vectors, batched and chunked (see the module docstring).

    ``f``: a surface (callable ``(B, d) -> (B,)``) or an ``nn.Module`` evaluated on
    ``data = (x, y)`` (mean loss over all items). ``loss``: ``loss(model, x, y,
    params)`` (default :func:`lls_core.models.loss`; a custom loss turns off the
    hand-batched kernels). ``batched``: ``True`` (hand-batched kernels where the
    module has them, else vmap), ``"vmap"`` (always vmap over ``functional_call``)
    or ``False`` (one point at a time: the reference). ``memory_mb``: bound on the
    autograd graph of one call (``None``: no bound, one call for everything).

    Example:
        >>> import torch
        >>> from lls_core import models, params
        >>> bowl = Engine(lambda P: (P ** 2).sum(-1))   # a surface: points (B, d) -> values (B,)
        >>> L, G, _ = bowl.losses_and_grads(torch.tensor([[1.0, 2.0], [0.0, -1.0]]))
        >>> L.tolist(), G.tolist()
        ([5.0, 1.0], [[2.0, 4.0], [0.0, -2.0]])
        >>> g = torch.Generator().manual_seed(0)
        >>> x, y = torch.rand(8, 1, 28, 28, generator=g), torch.randint(0, 10, (8,), generator=g)
        >>> net = Engine(models.build("fcp"), (x, y))
        >>> W = torch.stack([params.flatten(models.build("fcp", seed=s)) for s in range(3)])  # (3, 42200)
        >>> tuple(net.losses(W).shape)
        (3,)
    """

    def __init__(
        self,
        f: Surface | nn.Module,
        data: tuple[Tensor, Tensor] | None = None,
        *,
        loss: LossFn | None = None,
        batched: bool | str = True,
        memory_mb: float | None = 1024.0,
    ) -> None:
        if batched not in (True, False, "vmap"):
            raise ValueError(f"batched={batched!r}; valid: True, False, 'vmap'")
        if memory_mb is not None and not (isinstance(memory_mb, (int, float)) and memory_mb > 0 and math.isfinite(memory_mb)):
            raise ValueError(f"memory_mb={memory_mb!r}: must be a finite number > 0, or None")
        self.module = f if isinstance(f, nn.Module) else None
        self.surface = None if self.module is not None else f
        self.batched = batched
        self.memory_mb = memory_mb
        self.fast = False
        self.factor = False
        self._vmap_ok = True
        self._per_item: float | None = None
        self._scratch: dict[str, Tensor] = {}
        if self.module is not None:
            if data is None:
                raise ValueError("a module needs data=(x, y): the inputs and targets its loss is averaged over")
            self.x, self.y = data
            self.loss = loss or _models.loss
            self.n_data = int(self.x.shape[0])
            model, lossfn = self.module, self.loss
            if batched is True and loss is None:
                self.fast = _batched.supports(model)
                self.factor = self.fast and type(model) in FACTORED_FIRST_LAYER

            def one(w: Tensor, x: Tensor, y: Tensor) -> Tensor:
                return lossfn(model, x, y, _params.unflatten(model, w))

            self._one = one
            self._many = vmap(one, in_dims=(0, None, None))
        else:
            if not callable(f):
                raise TypeError(f"f must be a surface callable or an nn.Module, got {type(f).__name__}")
            self.n_data = 1

    def _network(self) -> nn.Module:
        """The module of an engine built on a network; ``TypeError`` for a surface engine."""
        if self.module is None:
            raise TypeError("this engine evaluates a surface; the call needs a network (an nn.Module with data)")
        return self.module

    def scratch(self, name: str, shape: tuple[int, ...], like: Tensor) -> Tensor:
        """A buffer of ``shape`` (dtype and device of ``like``) kept under ``name`` and reused from call to call.

        For no-graph kernels that overwrite it (line-search trials): a fresh tensor of
        several MiB is mapped page by page on every call, a kept one is not. Contents are
        undefined; one buffer per name, so a caller must be done with it before the next call.
        """
        n = math.prod(shape)
        buf = self._scratch.get(name)
        if buf is None or buf.numel() < n or buf.dtype != like.dtype or buf.device != like.device:
            buf = torch.empty(n, dtype=like.dtype, device=like.device)
            self._scratch[name] = buf
        return buf[:n].view(shape)

    def minibatch_items(self, idx: Tensor) -> tuple[Tensor, Tensor]:
        """The engine's items at indices ``idx`` ``(R, n)``: inputs ``(R, n, ...)`` and targets ``(R, n, ...)``.

        :func:`gather_items` into kept buffers (:meth:`scratch`): valid until the next call, so
        a training loop consumes them (:meth:`minibatch_losses_and_grads`) before gathering again.
        """
        shape = tuple(idx.shape)
        xb = gather_items(self.x, idx, out=self.scratch("items.x", (*shape, *self.x.shape[1:]), self.x))
        yb = gather_items(self.y, idx, out=self.scratch("items.y", (*shape, *self.y.shape[1:]), self.y))
        return xb, yb

    # ---------------------------------------------------------------- one call (differentiable)
    def values(self, W: Tensor, lo: int = 0, hi: int | None = None) -> Tensor:
        """``L`` restricted to data ``[lo, hi)`` (mean over that slice) at each row of ``W``: ``(B,)``."""
        if self.surface is not None:
            if self.batched:
                return self.surface(W)
            return torch.stack([self.surface(w[None])[0] for w in W])
        x, y = self.x[lo:hi], self.y[lo:hi]
        if self.fast:
            return _batched.losses(self._network(), W, x, y)
        if self.batched and self._vmap_ok:
            try:
                return self._many(W, x, y)
            except RuntimeError as err:  # e.g. no batching rule for an op (aten::lstm)
                if "atching rule" not in str(err):
                    raise
                self._vmap_ok = False
        return torch.stack([self._one(w, x, y) for w in W])

    def values_affine(self, C: Tensor, V: Tensor, lo: int = 0, hi: int | None = None) -> Tensor:
        """``L`` on data ``[lo, hi)`` at the points ``W = C @ V`` (``C`` (B, J), ``V`` (J, d)): ``(B,)``.

        Same as ``values(C @ V)``; for a network in :data:`FACTORED_FIRST_LAYER` the
        first stage is computed from the rows of ``V``. Differentiable in ``C`` and ``V``.
        """
        if not self.fast:
            return self.values(C @ V, lo, hi)
        x, y = self.x[lo:hi], self.y[lo:hi]
        return _batched.affine_losses(self._network(), C, V, x, y, factor=self.factor)

    def values_affine_groups(self, C: Tensor, V: Tensor, lo: int = 0, hi: int | None = None) -> Tensor:
        """``L`` on data ``[lo, hi)`` at the points ``W[g] = C @ V[g]`` of ``G`` affine families: ``(G, B)``.

        ``C`` ``(B, J)`` is shared, ``V`` ``(G, J, d)`` holds each family's rows (many paths
        with per-path coefficients on one grid of ``t``). Same as
        ``values((C @ V).reshape(G * B, d)).reshape(G, B)``; for a network in
        :data:`FACTORED_FIRST_LAYER` (and ``B > J``) the first stage runs on the ``G * J``
        rows of ``V`` and is mixed per family, ``J`` instead of ``B`` first-layer passes per
        family. Differentiable in ``C`` and ``V``.
        """
        G, J, d = V.shape
        B = C.shape[0]
        if not self.fast:
            return self.values(torch.matmul(C, V).reshape(G * B, d), lo, hi).reshape(G, B)
        m = self.module
        assert m is not None
        x, y = self.x[lo:hi], self.y[lo:hi]
        if self.factor and B > J:
            # The layers above the first get their weights point by point; the first layer's
            # own weights (most of d for FCP and the autoencoder) are never formed per point.
            # One split (its backward is one concatenation; slices would each fill a zero V).
            first = FIRST_LAYER_PARAMS[type(m)]
            spec = _params.shapes(m)
            parts = dict(zip((k for k, _ in spec), V.split([sh.numel() for _, sh in spec], dim=-1)))
            p = {k: torch.matmul(C, parts[k]).reshape(G * B, *sh) for k, sh in spec if k not in first}
            pJ = {k: parts[k].reshape(G * J, *sh) for k, sh in spec if k in first}
            Z = _batched.FIRST_STAGE[type(m)](m, pJ, x)  # (G * J, n, ...)
            z = torch.matmul(C, Z.reshape(G, J, -1)).reshape(G * B, *Z.shape[1:])
            v = _batched.forward_losses(m, p, x, y, z)
        else:
            v = _batched.forward_losses(m, _params.unflatten(m, torch.matmul(C, V).reshape(G * B, d)), x, y)
        return v.reshape(G, B)

    # ---------------------------------------------------------------- chunking
    def per_item_bytes(self) -> float:
        """Autograd bytes per (weight vector x data item), measured once (see :func:`graph_bytes_per_item`)."""
        if self._per_item is None:
            self._per_item = graph_bytes_per_item(self._network(), (self.x, self.y), None if self.loss is _models.loss else self.loss)
        return self._per_item

    def chunk_sizes(
        self, n_points: int, chunk_points: int | None = None, chunk_data: int | None = None, memory_mb: float | None | Literal["engine"] = "engine"
    ) -> tuple[int, int]:
        """(weight vectors, data items) per call for ``n_points`` vectors (see :func:`choose_chunks`)."""
        mb = self.memory_mb if isinstance(memory_mb, str) else memory_mb
        return choose_chunks(self, n_points, chunk_points, chunk_data, mb)

    # ---------------------------------------------------------------- chunked entry points
    def losses(self, W: Tensor, *, chunk_points: int | None = None, chunk_data: int | None = None) -> Tensor:
        """Mean loss over all the data at each row of ``W`` ``(B, d)``: ``(B,)``, no graph.

        Chunk sizes default to the engine's memory bound (or all at once without one); on a
        CPU, FCP with ReLU runs in calls of about :data:`GRAD_CALL_MB` through its trial kernel.
        """
        m = self.module
        if (chunk_points is None and self.factor and type(m) is _models.FCP and m.act is F.relu
                and self.x.device.type == "cpu"):
            chunk_points, cd = self._grad_chunks(W.shape[0])
            chunk_data = chunk_data or cd

            def kernel(p0: int, p1: int, d0: int, d1: int) -> Tensor:
                p = _params.unflatten(m, W[p0:p1].detach())
                z = _batched.FIRST_STAGE[type(m)](m, p, self.x[d0:d1])
                return _batched.fcp_losses_from_first(m, p, z, self.y[d0:d1], lambda k, sh: self.scratch(k, sh, W))

            return self._chunked_mean(W.shape[0], kernel, W, chunk_points, chunk_data)
        return self._chunked_mean(W.shape[0], lambda p0, p1, d0, d1: self.values(W[p0:p1], d0, d1),
                                  W, chunk_points, chunk_data)

    def losses_and_grads(self, W: Tensor, *, keep_first: bool = False) -> tuple[Tensor, Tensor, Tensor | None]:
        """Losses ``(R,)``, per-run gradients ``(R, d)`` and (with ``keep_first``) the first stage ``(R, N, ...)``.

        Row ``r`` of the gradient is the gradient of run ``r``'s mean loss (the runs
        share nothing). Chunked over runs and data under the memory bound; only one
        chunk's graph is alive at a time. The first stage (detached) is returned only
        for a hand-batched network (else ``None``); it feeds :meth:`lines`.
        """
        R = W.shape[0]
        m = self.module
        if self.factor and type(m) is _models.FCP and m.act is F.relu and self.x.device.type == "cpu":
            # The first stage without a graph, then the backward written out above it.
            Zall = first_stage_all(self, W.detach())
            Lh, Gh = self.losses_and_grads_at_first(W, Zall)
            return Lh, Gh, Zall if keep_first else None
        cp, cd = self._grad_chunks(R) if self.module is not None else (R, 1)
        L = torch.zeros(R, dtype=W.dtype, device=W.device)
        G = torch.zeros_like(W)
        keep = keep_first and self.fast
        Z: Tensor | None = None
        for p0, p1 in chunks(R, cp):
            for d0, d1 in chunks(self.n_data, cd):
                leaf = W[p0:p1].detach().requires_grad_(True)
                scale = (d1 - d0) / self.n_data
                with torch.enable_grad():
                    if keep:
                        assert self.module is not None
                        x, y = self.x[d0:d1], self.y[d0:d1]
                        p = _params.unflatten(self.module, leaf)
                        z = _batched.FIRST_STAGE[type(self.module)](self.module, p, x)
                        v = _batched.forward_losses(self.module, p, x, y, z) * scale
                        if Z is None:
                            Z = torch.empty((R, self.n_data, *z.shape[2:]), dtype=z.dtype, device=z.device)
                        Z[p0:p1, d0:d1] = z.detach()
                    else:
                        v = self.values(leaf, d0, d1) * scale
                    (g,) = torch.autograd.grad(v.sum(), leaf)
                G[p0:p1] += g
                L[p0:p1] += v.detach()
        return L, G, Z

    def losses_and_grads_at_first(self, W: Tensor, Z: Tensor, rows: list[int] | None = None) -> tuple[Tensor, Tensor]:
        """Losses ``(R,)`` and per-run gradients ``(R, d)`` at ``W`` whose first stages are known.

        For the networks of :data:`FACTORED_FIRST_LAYER` only. ``Z`` ``(R', N, ...)`` holds
        first stages on all the data; row ``rows[i]`` (default ``i``) of ``Z`` must be the
        first stage of ``W[i]`` (e.g. a line-search point's, mixed from cached stages: see
        :class:`Anchors`). The first layer's forward is skipped: the layers above run on
        ``Z`` with autograd, and the first layer's gradient is ``dL/dZ^T X``, one matmul
        per call. Equal to :meth:`losses_and_grads` up to rounding when ``Z`` is exact.
        """
        m = self.module
        if m is None or not self.factor:
            raise TypeError("losses_and_grads_at_first needs a network with a factored first layer "
                            f"({', '.join(t.__name__ for t in FACTORED_FIRST_LAYER)}) and the hand-batched kernels")
        R = W.shape[0]
        rows = list(range(R)) if rows is None else list(rows)
        if len(rows) != R or Z.ndim < 2 or Z.shape[1] != self.n_data:
            raise ValueError(f"W {tuple(W.shape)}, Z {tuple(Z.shape)} and {len(rows)} rows: Z must be (R', N={self.n_data}, ...) "
                             "with one row index per row of W")
        (name,) = FIRST_LAYER_PARAMS[type(m)]
        o0 = 0
        for k, sh in _params.shapes(m):
            if k == name:
                break
            o0 += sh.numel()
        cp, cd = self._grad_chunks(R)
        L = torch.zeros(R, dtype=W.dtype, device=W.device)
        G = torch.zeros_like(W)
        fcp = m if type(m) is _models.FCP and m.act is F.relu and Z.device.type == "cpu" else None
        for p0, p1 in chunks(R, cp):
            sel = _rows_index(rows[p0:p1])
            for d0, d1 in chunks(self.n_data, cd):
                if fcp is not None:  # the backward written out, on reused buffers
                    x, y = self.x[d0:d1], self.y[d0:d1]
                    v, g = _batched.fcp_grads_from_first(fcp, _params.unflatten(m, W[p0:p1].detach()), Z[sel, d0:d1], x, y,
                                                         (d1 - d0) / self.n_data, lambda k, sh: self.scratch(k, sh, Z))
                    G[p0:p1] += g
                    L[p0:p1] += v
                    continue
                leaf = W[p0:p1].detach().requires_grad_(True)
                z = Z[sel, d0:d1].detach().requires_grad_(True)
                x, y = self.x[d0:d1], self.y[d0:d1]
                with torch.enable_grad():
                    p = _params.unflatten(m, leaf)
                    v = _batched.forward_losses(m, p, x, y, z) * ((d1 - d0) / self.n_data)
                    g, gz = torch.autograd.grad(v.sum(), [leaf, z])
                c, n, width = gz.shape
                g1 = gz.transpose(1, 2).reshape(c * width, n) @ x.reshape(n, -1)  # (c * out, in)
                g[:, o0 : o0 + g1.numel() // c] += g1.reshape(c, -1)
                G[p0:p1] += g
                L[p0:p1] += v.detach()
        return L, G

    def _grad_chunks(self, R: int) -> tuple[int, int]:
        """(runs, data items) per gradient call: the engine's bound, and on a CPU for a factored
        network at most :data:`GRAD_CALL_MB` of first-stage activations (tensors that size are
        recycled by the allocator instead of mapped afresh, page by page, at every call)."""
        cp, cd = self.chunk_sizes(R)
        if self.factor and self.x.device.type == "cpu":
            m = self._network()
            w = _params.flatten(m).to(self.x.device)[None]
            with torch.no_grad():
                width = _batched.first_stage(m, w, self.x[:1])[0, 0].numel()
            cp = max(1, min(cp, int(GRAD_CALL_MB * 2**20 // max(1, width * cd * self.x.element_size()))))
        return cp, cd

    def affine_losses(self, C: Tensor, V: Tensor, *, chunk_points: int | None = None, chunk_data: int | None = None) -> Tensor:
        """Mean loss at the points ``W = C @ V``: ``(B,)``, no graph, chunked (first stage on ``V``'s rows)."""
        return self._chunked_mean(C.shape[0], lambda p0, p1, d0, d1: self.values_affine(C[p0:p1], V, d0, d1),
                                  V, chunk_points, chunk_data)

    def _chunked_mean(self, B: int, values: Callable[[int, int, int, int], Tensor], like: Tensor,
                      chunk_points: int | None, chunk_data: int | None) -> Tensor:
        """Mean over all the data of ``values(p0, p1, d0, d1)`` (points ``p0:p1`` on items ``d0:d1``): ``(B,)``.

        Chunk sizes not given default to the engine's memory bound (all at once without a module).
        """
        cp, cd = self._default_chunks(B, chunk_points, chunk_data)
        out = torch.zeros(B, dtype=like.dtype, device=like.device)
        with torch.no_grad():
            for p0, p1 in chunks(B, cp):
                for d0, d1 in chunks(self.n_data, cd):
                    out[p0:p1] += values(p0, p1, d0, d1) * ((d1 - d0) / self.n_data)
        return out

    def _default_chunks(self, B: int, chunk_points: int | None, chunk_data: int | None) -> tuple[int, int]:
        """(weight vectors, data items) per call for ``B`` vectors, the one place chunk sizes default:
        given sizes are kept as they are, the others come from the engine's memory bound
        (:meth:`chunk_sizes`; a surface takes all ``B`` at once)."""
        if chunk_points is not None and chunk_data is not None:
            return chunk_points, chunk_data
        cp, cd = self.chunk_sizes(B, chunk_points, chunk_data)
        return chunk_points or cp, chunk_data or cd

    def lines(self, W0: Tensor, D: Tensor, *, Z0: Tensor | None = None, cache_mb: float = 2048.0) -> "Lines":
        """``R`` lines ``W0_r + a D_r`` (``W0``, ``D`` ``(R, d)``) whose losses :meth:`Lines.losses` gives.

        For a hand-batched network whose two first stages (at ``W0`` and at ``D``, all
        data) fit in ``cache_mb`` MiB, they are computed here (``Z0`` may pass the one
        at ``W0`` from :meth:`losses_and_grads`) and a trial costs the layers above
        the first only; otherwise each trial is a full forward at ``W0 + a D``.
        """
        return Lines(self, W0, D, Z0, cache_mb)

    def first_stage_bytes(self, R: int) -> int:
        """Bytes of the first stage of ``R`` weight vectors on all the data (0 without hand-batched kernels)."""
        if not self.fast:
            return 0
        assert self.module is not None
        w = _params.flatten(self.module).to(self.x.device)[None]
        with torch.no_grad():
            z = _batched.first_stage(self.module, w, self.x[:1])
        return int(z[0, 0].numel()) * z.element_size() * R * self.n_data

    # ---------------------------------------------------------------- per-run inputs
    def minibatch_losses(self, W: Tensor, x: Tensor, y: Tensor) -> Tensor:
        """Mean loss of run ``r`` (row ``W[r]``) on its own items ``x[r]`` ``(n, ...)`` / ``y[r]``: ``(R,)``.

        Differentiable in ``W``. ``x`` ``(R, n, 1, 28, 28)``, ``y`` ``(R, n)``. The
        study networks use :data:`PER_RUN_FIRST_STAGE` and the batched layers above;
        other modules vmap over runs.
        """
        m = self.module
        if m is None:
            raise TypeError("minibatch_losses needs a network (an nn.Module), not a surface")
        if self.fast and type(m) in LOOP_MINIBATCH:
            return torch.stack([self._one(W[r], x[r], y[r]) for r in range(W.shape[0])])
        if self.fast:
            p = _params.unflatten(m, W)
            z = PER_RUN_FIRST_STAGE[type(m)](m, p, x)
            out = _batched.BATCHED_FORWARD[type(m)](m, p, None, z)
            return _per_run_mean_losses(m, out, x, y)
        if self.batched and self._vmap_ok:
            try:
                return vmap(self._one, in_dims=(0, 0, 0))(W, x, y)
            except RuntimeError as err:
                if "atching rule" not in str(err):
                    raise
                self._vmap_ok = False
        return torch.stack([self._one(W[r], x[r], y[r]) for r in range(W.shape[0])])


    def minibatch_losses_and_grads(self, W: Tensor, x: Tensor, y: Tensor, *,
                                   grad_out: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """:meth:`minibatch_losses` ``(R,)`` and each run's gradient of its own loss ``(R, d)``, no graph kept.

        The gradient is written into ``grad_out`` ``(R, d)`` when given (e.g. rows of the
        ``.grad`` of the stacked weights an optimizer steps). FCP with ReLU has its
        backward written out (:func:`lls_core.batched.fcp_grads_from_first`, buffers
        reused from step to step); other networks go through autograd.
        """
        m = self.module
        if m is None:
            raise TypeError("minibatch_losses_and_grads needs a network (an nn.Module), not a surface")
        W = W.detach()
        if self.fast and type(m) is _models.FCP and m.act is F.relu:
            p = _params.unflatten(m, W)
            R, n = x.shape[0], x.shape[1]
            z = torch.bmm(x.reshape(R, n, -1), p["fc1.weight"].transpose(1, 2), out=self.scratch("sgd.z", (R, n, p["fc1.weight"].shape[1]), W))
            return _batched.fcp_grads_from_first(m, p, z, x, y, 1.0, lambda k, sh: self.scratch(k, sh, W),
                                                 per_run=True, grad_out=grad_out)
        if self.fast and type(m) in LOOP_MINIBATCH:  # run by run, each its own small graph
            R = W.shape[0]
            G = torch.empty_like(W) if grad_out is None else grad_out
            L = torch.empty(R, dtype=W.dtype, device=W.device)
            with torch.enable_grad():
                for r in range(R):
                    leaf = W[r].clone().requires_grad_(True)
                    v = self._one(leaf, x[r], y[r])
                    (G[r],) = torch.autograd.grad(v, leaf)
                    L[r] = v.detach()
            return L, G
        leaf = W.requires_grad_(True)
        with torch.enable_grad():
            L = self.minibatch_losses(leaf, x, y)
            (g,) = torch.autograd.grad(L.sum(), leaf)
        if grad_out is None:
            return L.detach(), g
        grad_out.copy_(g)
        return L.detach(), grad_out


class Lines:
    """``R`` lines ``w_r(a) = W0_r + a D_r`` of one :class:`Engine` (built by :meth:`Engine.lines`).

    With cached first stages ``Z0 = first(W0)`` and ``ZD = first(D)`` (all data), the
    first stage of a trial is ``Z0 + a ZD`` (exact in real arithmetic: the first
    stage is linear in the first layer's parameters, bias included), fused into one
    ``addcmul``; the layers above run at ``W0 + a D``. ``cached`` says which route.
    """

    def __init__(self, engine: Engine, W0: Tensor, D: Tensor, Z0: Tensor | None, cache_mb: float) -> None:
        if W0.shape != D.shape or W0.ndim != 2:
            raise ValueError(f"W0 {tuple(W0.shape)} and D {tuple(D.shape)} must both be (R, d)")
        self.engine, self.W0, self.D = engine, W0, D
        R = W0.shape[0]
        need = engine.first_stage_bytes(R) * (1 if Z0 is not None else 2)
        self.cached = engine.fast and 0 < need <= cache_mb * 2**20
        self.Z0: Tensor | None = None
        self.ZD: Tensor | None = None
        if self.cached:
            m = engine.module
            assert m is not None
            with torch.no_grad():
                self.Z0 = Z0 if Z0 is not None else first_stage_all(engine, W0)
                self.ZD = first_stage_all(engine, D)

    def losses(self, a: Tensor, rows: Tensor | None = None) -> Tensor:
        """Losses at ``W0_r + a_r D_r`` for the runs ``rows`` (default all; ``a`` one step per row): ``(len(rows),)``."""
        eng = self.engine
        idx = torch.arange(self.W0.shape[0], device=self.W0.device) if rows is None else rows
        a = a.to(self.W0)
        W = torch.addcmul(self.W0[idx], a[:, None], self.D[idx])
        if not self.cached:
            return eng.losses(W)
        assert self.Z0 is not None and self.ZD is not None
        return _factored_losses(eng, self.Z0, self.ZD, idx, W, a)


def _factored_losses(eng: Engine, Z0: Tensor, ZD: Tensor, sel: Tensor, W: Tensor, a: Tensor) -> Tensor:
    """Losses at ``W`` ``(B, d)`` whose first stages are ``Z0[sel] + a ZD[sel]`` (cached rows ``sel``): ``(B,)``.

    Only the layers above the first run; calls are chunked as :meth:`Engine.chunk_sizes` says.
    """
    m = eng.module
    assert m is not None
    B = W.shape[0]
    out = torch.zeros(B, dtype=W.dtype, device=W.device)
    cp, cd = eng.chunk_sizes(B)
    if Z0.device.type == "cpu" and type(m) in FACTORED_FIRST_LAYER:
        # No graph is kept here: smaller calls keep the elementwise work on the hidden
        # activations in the CPU's cache (75 FCP trials on 5,000 images: 0.46 x the time in
        # calls of 8 runs than in one call).
        cp = max(1, min(cp, int(TRIAL_CALL_MB * 2**20 // max(1, Z0[0].numel() * Z0.element_size()))))
    rows, alphas = sel.tolist(), a.tolist()
    fused = m if type(m) is _models.FCP and Z0.device.type == "cpu" else None
    with torch.no_grad():
        p_all = _params.unflatten(m, W)
        for p0, p1 in chunks(B, cp):
            p = {k: v[p0:p1] for k, v in p_all.items()}
            for d0, d1 in chunks(eng.n_data, cd):
                x, y = eng.x[d0:d1], eng.y[d0:d1]
                if fused is not None:  # one kernel on reused buffers, the activations in place
                    z = line_points(Z0, ZD, rows[p0:p1], alphas[p0:p1], d0, d1,
                                    out=eng.scratch("trial.z", (p1 - p0, d1 - d0, *Z0.shape[2:]), Z0))
                    v = _batched.fcp_losses_from_first(fused, p, z, y, lambda k, sh: eng.scratch(k, sh, Z0))
                else:
                    z = line_points(Z0, ZD, rows[p0:p1], alphas[p0:p1], d0, d1)
                    v = _batched.forward_losses(m, p, x, y, z)
                out[p0:p1] += v * ((d1 - d0) / eng.n_data)
    return out


def line_points(Z0: Tensor, ZD: Tensor, rows: list[int], alphas: list[float], d0: int = 0, d1: int | None = None,
                out: Tensor | None = None) -> Tensor:
    """First stages ``Z0[r, d0:d1] + a ZD[r, d0:d1]`` of points on cached lines: ``(len(rows), d1 - d0, ...)``.

    ``Z0``, ``ZD`` ``(R, N, ...)``; ``rows`` and ``alphas`` one run and one step per point.
    On a CPU one fused ``add`` per point writes straight into the result (no gathered
    copies of ``Z0`` / ``ZD`` rows); on other devices one gathered ``addcmul``. The
    same points give the same values bitwise whichever data chunk they are computed
    in, so a trial's first stage and the next anchor's (:class:`Anchors`) agree.
    """
    d1 = Z0.shape[1] if d1 is None else d1
    if Z0.device.type != "cpu":
        idx = torch.tensor(rows, device=Z0.device)
        a = torch.tensor(alphas, dtype=Z0.dtype, device=Z0.device).view((-1,) + (1,) * (Z0.ndim - 1))
        return torch.addcmul(Z0[idx, d0:d1], a, ZD[idx, d0:d1], out=out)
    if out is None:
        out = torch.empty((len(rows), d1 - d0, *Z0.shape[2:]), dtype=Z0.dtype, device=Z0.device)
    for j, (r, al) in enumerate(zip(rows, alphas)):
        torch.add(Z0[r, d0:d1], ZD[r, d0:d1], alpha=al, out=out[j])
    return out


def _rows_index(rows: list[int]) -> slice | list[int]:
    """``rows`` as a slice when they are consecutive (views, no gathered copies), else as they are."""
    if rows and rows == list(range(rows[0], rows[0] + len(rows))):
        return slice(rows[0], rows[0] + len(rows))
    return rows


def first_stage_all(engine: Engine, V: Tensor, *, out: Tensor | None = None, rows: list[int] | None = None) -> Tensor:
    """The first stage of each row of ``V`` ``(J, d)`` on all of the engine's data: ``(J, N, ...)``, no graph.

    Linear in ``V`` (bias included), so ``first(W0 + a D) = first(W0) + a first(D)``.
    With ``out`` ``(R, N, ...)`` the stage of ``V[j]`` is written into ``out[rows[j]]``
    (default ``rows = range(J)``) and ``out`` is returned. Computed in calls of about
    :data:`CALL_MB` (on a CPU for a factored network, :data:`GRAD_CALL_MB`: small
    results are recycled by the allocator and copied into place while in cache).
    """
    m = engine.module
    if m is None or not engine.fast:
        raise TypeError("first stages exist for the hand-batched study networks only")
    J = V.shape[0]
    rows = list(range(J)) if rows is None else list(rows)
    if len(rows) != J:
        raise ValueError(f"{len(rows)} rows for {J} weight vectors: give one output row per row of V")
    per_run = max(1, engine.first_stage_bytes(1))
    mb = GRAD_CALL_MB if engine.factor and engine.x.device.type == "cpu" else CALL_MB
    if per_run <= mb * 2**20:  # whole runs per call
        cj, cd = max(1, int(mb * 2**20 // per_run)), engine.n_data
    else:
        cj, cd = 1, max(1, int(mb * 2**20 // (per_run // max(1, engine.n_data))))
    with torch.no_grad():
        for j0, j1 in chunks(J, cj):
            p = _params.unflatten(m, V[j0:j1])
            dest = _rows_index(rows[j0:j1])
            for d0, d1 in chunks(engine.n_data, cd):
                z = _batched.FIRST_STAGE[type(m)](m, p, engine.x[d0:d1])
                if out is None:
                    out = torch.empty((J, engine.n_data, *z.shape[2:]), dtype=z.dtype, device=z.device)
                out[dest, d0:d1] = z
    assert out is not None
    return out


# --------------------------------------------------------------------------- memory
def graph_bytes_per_item(f: nn.Module, data: tuple[Tensor, Tensor], loss: LossFn | None = None, probe: int = 32) -> float:
    """Bytes autograd keeps for backward per (weight vector x data item), measured on a probe.

    Runs one forward of ``f`` at its current weights on ``probe`` items under
    :func:`torch.autograd.graph.saved_tensors_hooks` and sums the sizes of the
    tensors saved for the backward pass (plus the output). That is the memory a
    chunk holds at its peak, so chunk sizes follow from a memory bound.
    """
    eng = Engine(f, data, loss=loss, batched=True, memory_mb=None)
    x, _ = data
    w = _params.flatten(f).to(x.device)

    def saved_bytes(n: int) -> int:
        W = torch.stack([w, w]).requires_grad_(True)
        total = 0
        seen: set[tuple[int, int]] = set()

        def pack(t: Tensor) -> Tensor:
            nonlocal total
            key = (t.data_ptr(), t.numel())
            if key not in seen:
                seen.add(key)
                total += t.numel() * t.element_size()
            return t

        with torch.enable_grad(), torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            eng.values(W, 0, n)
        return total

    # The marginal cost of more items: fixed costs (weights, copies of them) cancel.
    n2 = min(probe, int(x.shape[0]))
    n1 = max(1, n2 // 2)
    if n2 == n1:
        return saved_bytes(n2) / 2.0
    return max(saved_bytes(n2) - saved_bytes(n1), 0) / (2.0 * (n2 - n1))


def choose_chunks(
    eng: Engine,
    n_points: int,
    chunk_points: int | None,
    chunk_data: int | None,
    memory_mb: float | None,
) -> tuple[int, int]:
    """(points, data items) per call for ``n_points`` weight vectors under ``memory_mb`` MiB.

    Explicit chunk sizes are upper limits. Calls are aimed at :data:`CALL_MB`
    (below the caller's bound): on 2 CPU cores a LeNet path step over 5,000 images
    took 0.84 x the floor in calls of 4 points x 1,250 images against 1.05 x in calls
    of 3 x 5,000 that filled a 1 GiB bound. Where the bound is looser than that and
    the data were not chunked by the caller, they are split so that about
    :data:`CALL_POINTS` points fit in one such call; then as many points as fit are
    taken. A tighter bound is filled as before: all the data that fit, then points.
    """
    cd = eng.n_data if chunk_data is None else min(chunk_data, eng.n_data)
    cp = n_points if chunk_points is None else min(chunk_points, n_points)
    if memory_mb is None or eng.module is None:
        return max(cp, 1), max(cd, 1)
    per_item = eng.per_item_bytes()
    budget = memory_mb * 2**20
    d = _params.num_params(eng.module)
    per_point_fixed = 2 * d * eng.x.element_size()  # a point's weights and gradient
    target = min(budget, CALL_MB * 2**20)
    if chunk_data is None and budget > target:
        want = min(cp, CALL_POINTS)
        cd = min(cd, max(1, int((target / want - per_point_fixed) // max(per_item, 1e-9))))
    cd = min(cd, max(1, int((budget - per_point_fixed) // max(per_item, 1e-9))))
    cp = min(cp, max(1, int(max(target, per_item * cd + per_point_fixed) // (per_item * cd + per_point_fixed))))
    return max(cp, 1), max(cd, 1)


# --------------------------------------------------------------------------- anchored lines
class Anchors:
    """Line-search trials of ``R`` independent runs, each along a line from its last gradient point.

    An optimizer run asks for the loss and gradient at its current point (the
    *anchor* ``w0``), then for losses at trial points ``w0 + a D`` along one
    direction. :meth:`grads` evaluates the anchors of some runs (and keeps their
    first stages, when ``cacheable``); :meth:`values` evaluates trial points: a
    run's first trial after an anchor fixes its direction ``D = w - w0`` (one
    first-stage pass on ``D``), later trials on that line (``w - w0 = a D`` to
    within rounding) reuse both first stages -- ``Z0 + a ZD`` in one ``addcmul``
    -- so the trial costs the layers above the first only. The layers above run at
    the trial point ``w`` itself. A trial off the line starts a new direction;
    without cached first stages a trial is a full forward.

    The runs need not tell their step ``a`` or direction: both are read from the
    points, so any optimizer that evaluates along lines from its gradient point
    (L-BFGS-GSS in either mode, steepest descent) gets the saving unchanged.
    """

    def __init__(self, engine: Engine, R: int, d: int, *, cache_mb: float = 2048.0) -> None:
        self.engine, self.R = engine, R
        self.cacheable = engine.fast and 0 < 2 * engine.first_stage_bytes(R) <= cache_mb * 2**20
        self.w0: list[Tensor | None] = [None] * R
        self.D: list[Tensor | None] = [None] * R
        self.DD: list[float] = [0.0] * R  # D.D of each run's direction
        self.Z0: Tensor | None = None  # (R, N, ...)
        self.ZD: Tensor | None = None
        self.trials = 0
        self.factored_trials = 0
        self.reused = [0] * R  # anchors in a row whose first stage came from the line

    def grads(self, rows: list[int], W: Tensor) -> tuple[Tensor, Tensor]:
        """Losses ``(k,)`` and gradients ``(k, d)`` at the points ``W`` ``(k, d)`` of runs ``rows`` (new anchors).

        A new anchor on its run's current line (an accepted line-search point, or the old
        anchor itself) of a network in :data:`FACTORED_FIRST_LAYER` gets its first stage from
        the line, ``Z0 + a ZD`` -- the values its trial used -- and skips the first layer's
        forward (:meth:`Engine.losses_and_grads_at_first`); after :data:`ANCHOR_REFRESH`
        such anchors in a row, a run's first stage is computed afresh from its weights.
        """
        k = len(rows)
        on_line: list[tuple[int, int, float]] = []
        if self.cacheable and self.engine.factor and self.Z0 is not None:
            for i, r in enumerate(rows):
                a = self._alpha(r, W[i]) if self.reused[r] < ANCHOR_REFRESH else None
                if a is not None:  # rounded as the trial's step was (a float32 alpha)
                    on_line.append((i, r, float(torch.tensor(a, dtype=W.dtype))))
        moved = {i for i, _, _ in on_line}
        fresh = [i for i in range(k) if i not in moved]
        if len(on_line) < k:
            L = torch.empty(k, dtype=W.dtype, device=W.device)
            G = torch.empty_like(W)
        if on_line:
            assert self.Z0 is not None and self.ZD is not None
            ii, rr = [i for i, _, _ in on_line], [r for _, r, _ in on_line]
            for _, r, a in on_line:  # the new anchor's first stage, in place: the trial's own values
                line_points(self.Z0, self.ZD, [r], [a], out=self.Z0[r : r + 1])
            if len(ii) == k:  # every anchor on its line: no gathered copy of W
                L, G = self.engine.losses_and_grads_at_first(W, self.Z0, rr)
            else:
                L[ii], G[ii] = self.engine.losses_and_grads_at_first(W[ii], self.Z0, rr)
            for r in rr:
                self.reused[r] += 1
        if fresh:
            fr = [rows[i] for i in fresh]
            Lf, Gf, Z = self.engine.losses_and_grads(W[fresh], keep_first=self.cacheable)
            L[fresh], G[fresh] = Lf, Gf
            if Z is not None:
                if self.Z0 is None:
                    self.Z0 = torch.zeros((self.R, *Z.shape[1:]), dtype=Z.dtype, device=Z.device)
                    self.ZD = torch.zeros_like(self.Z0)
                self.Z0[fr] = Z
            for r in fr:
                self.reused[r] = 0
        for i, r in enumerate(rows):
            self.w0[r] = W[i].detach().clone()
            self.D[r] = None
        return L, G

    def state_dict(self) -> dict[str, Any]:
        """Everything the next answers depend on (anchors, directions, cached first stages,
        counters), as tensors and plain values: restoring it with :meth:`load_state_dict`
        makes later answers bit-identical to those of an ensemble that never stopped."""
        return {"w0": list(self.w0), "D": list(self.D), "DD": list(self.DD), "Z0": self.Z0, "ZD": self.ZD,
                "trials": self.trials, "factored_trials": self.factored_trials, "reused": list(self.reused)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict` (of the same ``R`` runs on the same engine)."""
        if len(state["w0"]) != self.R or len(state["reused"]) != self.R:
            raise ValueError(f"anchor state of {len(state['w0'])} runs; this ensemble has {self.R}")
        dev = self.engine.x.device
        move = lambda t: None if t is None else t.to(dev)  # noqa: E731
        self.w0 = [move(t) for t in state["w0"]]
        self.D = [move(t) for t in state["D"]]
        self.DD = [float(v) for v in state["DD"]]
        self.Z0, self.ZD = move(state["Z0"]), move(state["ZD"])
        self.trials, self.factored_trials = int(state["trials"]), int(state["factored_trials"])
        self.reused = [int(v) for v in state["reused"]]

    def _alpha(self, r: int, w: Tensor) -> float | None:
        """The step ``a`` with ``w = w0 + a D`` on run ``r``'s current line (to rounding), or None when off it."""
        w0, D = self.w0[r], self.D[r]
        if w0 is None or D is None:
            return None
        diff = w - w0
        dd = self.DD[r]  # float(torch.dot(D, D)), kept with D
        a = float(torch.dot(diff, D)) / dd if dd > 0 else math.nan
        # Largest distance from the line against the largest step entry (abs().max(): about 8 x as fast
        # as vector_norm(ord=inf) on a CPU).
        off = float(torch.sub(diff, D, alpha=a).abs_().max()) if math.isfinite(a) else math.inf
        return a if off <= 1e-5 * float(diff.abs().max()) else None

    def values(self, rows: list[int], W: Tensor) -> Tensor:
        """Losses ``(k,)`` at the trial points ``W`` ``(k, d)`` of runs ``rows`` (no graph)."""
        self.trials += len(rows)
        if not self.cacheable or self.Z0 is None:
            return self.engine.losses(W)
        alpha = torch.ones(len(rows), dtype=W.dtype, device=W.device)
        lined: list[int] = []
        fresh: list[int] = []
        new_dir: list[tuple[int, Tensor]] = []  # (run, its new direction)
        for i, r in enumerate(rows):
            w0 = self.w0[r]
            if w0 is None:
                fresh.append(i)
                continue
            a = self._alpha(r, W[i])
            if a is not None:
                alpha[i] = a
                lined.append(i)
                continue
            diff = W[i] - w0
            if not bool(torch.isfinite(diff).all()):
                fresh.append(i)
                continue
            self.D[r] = diff
            self.DD[r] = float(torch.dot(diff, diff))
            new_dir.append((r, diff))
            lined.append(i)
        out = torch.empty(len(rows), dtype=W.dtype, device=W.device)
        if new_dir:
            m = self.engine.module
            assert m is not None and self.ZD is not None
            Dn = torch.stack([u for _, u in new_dir])
            first_stage_all(self.engine, Dn, out=self.ZD, rows=[r for r, _ in new_dir])
        if lined:
            self.factored_trials += len(lined)
            sel = torch.tensor([rows[i] for i in lined], device=W.device)
            if len(lined) == len(rows):  # all on their lines (the usual case): no gathered copy of W
                out = self._trial(sel, W, alpha)
            else:
                out[lined] = self._trial(sel, W[lined], alpha[lined])
        if fresh:
            out[fresh] = self.engine.losses(W[fresh])
        return out

    def _trial(self, sel: Tensor, W: Tensor, a: Tensor) -> Tensor:
        assert self.Z0 is not None and self.ZD is not None
        return _factored_losses(self.engine, self.Z0, self.ZD, sel, W, a)
