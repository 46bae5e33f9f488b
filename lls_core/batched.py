"""The four study networks evaluated at many weight vectors in one call.

Shared by :mod:`lls_core.pathfinder` (points along a path, with gradients) and
:mod:`lls_core.visualize` (grid points of a slice, without). Shapes: ``B``
weight vectors (rows of ``W`` ``(B, d)``), ``N`` data items, ``J`` basis vectors.

Each network is split into a *first stage* that is linear in the parameters of
its first layer (weights and bias together) and the *rest*::

    | network     | first stage (per weight set)               | output of the first stage |
    |-------------|--------------------------------------------|---------------------------|
    | FCP         | ``x @ fc1.weight.T``                       | ``(B, N, 50)``            |
    | Autoencoder | ``x @ enc1.weight.T``                      | ``(B, N, 32)``            |
    | LeNet       | ``conv1(x) + conv1.bias``                  | ``(B, N, 6, 28, 28)``     |
    | LSTM        | input projections of all 28 steps + biases | ``(B, N, 28, 192)``       |

The rest is written out batched over weight sets: stacked and batched matrix
products, LeNet's second convolution once per weight set (or grouped, see
``LENET_GROUPED_CONV2``), the LSTM recurrence step by step (``vmap`` has no rule
for ``aten::lstm``). :func:`outputs` equals ``functional_call`` of the module at
each row of ``W`` up to rounding.

Affine families. When the points are ``W = C @ V`` (coefficients ``C`` ``(B, J)``,
basis rows ``V`` ``(J, d)``) -- a path ``(1 - t) w1 + t w2 + sum_k c_k(t) b_k``,
or a slice ``w + a u + b v`` -- the first stage, being linear, is
``sum_j C_ij first(V_j)``: :func:`affine_outputs` runs it on the ``J`` basis rows
only and mixes the results, ``J`` instead of ``B`` first-layer passes. The
result is the same up to rounding; it pays when ``B > J`` and the first layer is
costly next to the mix (``J`` multiply-adds per first-stage output).
"""

from __future__ import annotations

from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from . import models as _models
from . import params as _params

__all__ = [
    "BATCHED_FORWARD",
    "FIRST_STAGE",
    "LENET_GROUPED_CONV2",
    "supports",
    "stacked_linear",
    "mix",
    "outputs",
    "first_stage",
    "affine_outputs",
    "mean_losses",
    "forward_losses",
    "sigmoid_mse",
    "cross_entropy_rows",
    "fcp_losses_from_first",
    "fcp_grads_from_first",
    "fcp_backward_to_first",
    "losses",
    "affine_losses",
]

Params = dict[str, Tensor]


# --------------------------------------------------------------------------- building blocks
def stacked_linear(w: Tensor, x: Tensor) -> Tensor:
    """``x @ w[j].T`` for every ``j`` of ``w`` ``(J, out, in)``, as one matmul: ``(J, N, out)``."""
    J, out = w.shape[0], w.shape[1]
    N = x.shape[0]
    z = x.reshape(N, -1) @ w.reshape(J * out, -1).T  # (N, J*out)
    return z.reshape(N, J, out).transpose(0, 1)


def mix(C: Tensor, Z: Tensor) -> Tensor:
    """``sum_j C[i, j] Z[j]`` for ``C`` ``(B, J)`` and ``Z`` ``(J, ...)``: ``(B, ...)``, one matmul."""
    J = Z.shape[0]
    return (C @ Z.reshape(J, -1)).reshape(C.shape[0], *Z.shape[1:])


def _avg_pool2(h: Tensor) -> Tensor:
    """2 x 2 average pooling over the last two (even) dimensions of ``h`` ``(..., H, W)``.

    Without autograd: row pairs, then column pairs added, then scaled by 1/4 in
    place; about three times as fast on a CPU as ``F.avg_pool2d`` for LeNet's
    small maps, same values up to rounding. With autograd: ``F.avg_pool2d``,
    whose backward is faster than that of strided adds.
    """
    if torch.is_grad_enabled():
        return F.avg_pool2d(h.reshape(-1, *h.shape[-3:]), 2).reshape(*h.shape[:-2], h.shape[-2] // 2, h.shape[-1] // 2)
    r = h.unflatten(-2, (h.shape[-2] // 2, 2))
    r = r[..., 0, :] + r[..., 1, :]
    return (r[..., ::2] + r[..., 1::2]).mul_(0.25)


# --------------------------------------------------------------------------- the four networks
def _fcp_first(m: _models.FCP, p: Params, x: Tensor) -> Tensor:
    return stacked_linear(p["fc1.weight"], x)


def _fcp_outputs(m: _models.FCP, p: Params, x: Tensor, pre1: Tensor | None = None) -> Tensor:
    """FCP at ``B`` weight sets at once: logits ``(B, N, 10)``."""
    h = m.act(_fcp_first(m, p, x) if pre1 is None else pre1)  # (B, N, 50)
    h = m.act(torch.bmm(h, p["fc2.weight"].transpose(1, 2)))
    return torch.bmm(h, p["fc3.weight"].transpose(1, 2))


#: conv2 of LeNet as one grouped convolution (True) or one convolution per weight
#: set (False). On a CPU the per-set convolutions measured faster for small chunks.
LENET_GROUPED_CONV2 = False


def fcp_losses_from_first(m: _models.FCP, p: Params, z: Tensor, y: Tensor,
                          work: Callable[[str, tuple[int, ...]], Tensor] | None = None) -> Tensor:
    """FCP's mean cross-entropy per weight set from its first stage ``z`` ``(B, N, 50)``: ``(B,)``, no autograd.

    The line-search trial kernel: ``z`` is scratch and is overwritten (the activation is
    applied in place where it is ReLU); the hidden and output activations go into
    buffers from ``work(name, shape)`` (reused from call to call: a fresh tensor of
    several MiB costs page faults on every call) when given. Equal to
    ``mean_losses(m, _fcp_outputs(m, p, None, z), None, y)`` up to rounding.
    """
    B, N = z.shape[0], z.shape[1]
    new = (lambda name, shape: torch.empty(shape, dtype=z.dtype, device=z.device)) if work is None else work
    relu = m.act is F.relu
    h1 = z.clamp_min_(0.0) if relu else m.act(z)
    h2 = torch.bmm(h1, p["fc2.weight"].transpose(1, 2), out=new("fcp.h2", (B, N, p["fc2.weight"].shape[1])))
    h2 = h2.clamp_min_(0.0) if relu else m.act(h2)
    w3 = p["fc3.weight"]
    oT = torch.bmm(w3, h2.transpose(1, 2), out=new("fcp.oT", (B, w3.shape[1], N)))  # logits, classes first
    return _cross_entropy_classes_first(oT, y)[0].mean((1, 2))


def _cross_entropy_classes_first(oT: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
    """Cross-entropy ``(B, 1, N)`` of logits ``oT`` ``(B, C, N)`` against ``y`` ``(N,)`` or ``(B, N)``, and the sums.

    Classes first: the reductions over the C classes run along N, vectorised, instead
    of over rows of 10. ``oT`` is overwritten with ``exp(logit - max)``; the second
    result is its sum over classes ``(B, 1, N)``, so that ``softmax = oT / sums``.
    """
    B, _, N = oT.shape
    yi = y.reshape(-1, 1, N).expand(B, 1, N)
    mx = oT.amax(1, keepdim=True)
    picked = oT.gather(1, yi).sub_(mx)  # logit[y] - max: 0 exactly where the label's logit is the largest
    sums = oT.sub_(mx).exp_().sum(1, keepdim=True)
    # log(sums) - (logit[y] - max), not (log(sums) + max) - logit[y]: adding the max back rounds a
    # small loss to the spacing of floats near the max logit (about 2e-6 at 20), zero below it.
    return sums.log().sub_(picked), sums


def _relu_backward_(grad: Tensor, h: Tensor) -> Tensor:
    """``grad`` zeroed in place where the ReLU output ``h`` is 0 (autograd's own kernel, without a new tensor)."""
    return torch.ops.aten.threshold_backward.grad_input(grad, h, 0.0, grad_input=grad)


def fcp_grads_from_first(m: _models.FCP, p: Params, z: Tensor, x: Tensor, y: Tensor, scale: float = 1.0,
                         work: Callable[[str, tuple[int, ...]], Tensor] | None = None, *,
                         per_run: bool = False, grad_out: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """FCP (ReLU) losses and gradients from the first stage ``z`` ``(B, N, 50)``, backward written out.

    Returns ``scale`` x the mean cross-entropy per weight set ``(B,)`` and its gradient
    with respect to the flat weights ``(B, 42200)`` (``fc1``, ``fc2``, ``fc3``, as
    :func:`lls_core.params.flatten` orders them), written into ``grad_out`` when given
    (any ``(B, 42200)`` view whose rows are contiguous: e.g. rows of an optimizer's
    ``.grad``). ``x`` ``(N, ...)`` are the inputs whose first stage ``z`` is (the first
    layer's gradient is ``dz^T x``); with ``per_run``, ``x`` ``(B, N, ...)`` and ``y``
    ``(B, N)`` hold each weight set's own items (mini-batches). ``z`` is read, not
    written; activations go into buffers from ``work(name, shape)`` when given. No
    autograd: the same values as autograd through :func:`outputs` up to rounding,
    without its per-call allocations. ReLU only (``m.act is F.relu``).
    """
    if m.act is not F.relu:
        raise ValueError(f"fcp_grads_from_first is written for ReLU; this FCP uses {m.activation!r}")
    B, N, H = z.shape
    w1, w2, w3 = p["fc1.weight"], p["fc2.weight"], p["fc3.weight"]
    sizes = [w1[0].numel(), w2[0].numel(), w3[0].numel()]
    if grad_out is None:
        grad_out = torch.empty((B, sum(sizes)), dtype=z.dtype, device=z.device)
    g1, g2, g3 = grad_out.split(sizes, dim=1)
    loss, dh1 = fcp_backward_to_first(m, w2, w3, z, y, scale, work, g2.view(B, *w2.shape[1:]),
                                      g3.view(B, *w3.shape[1:]))
    xb = x.reshape(B, N, -1) if per_run else x.reshape(N, -1).expand(B, N, -1)
    torch.bmm(dh1.transpose(1, 2), xb, out=g1.view(B, *w1.shape[1:]))
    return loss, grad_out


def fcp_backward_to_first(m: _models.FCP, w2: Tensor, w3: Tensor, z: Tensor, y: Tensor, scale: float = 1.0,
                          work: Callable[[str, tuple[int, ...]], Tensor] | None = None,
                          g2_out: Tensor | None = None, g3_out: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """FCP (ReLU) above its first stage, forward and backward written out: losses ``(B,)`` and ``dL/dz``.

    ``w2`` ``(B, 50, 50)`` and ``w3`` ``(B, 10, 50)`` are the second and third layers' weights
    of ``B`` weight sets, ``z`` ``(B, N, 50)`` their first stages on the items with labels ``y``
    ``(N,)`` or ``(B, N)``. Returns ``scale`` x the mean cross-entropy per set ``(B,)`` and its
    gradient with respect to ``z`` ``(B, N, 50)`` (a buffer from ``work``: valid until the next
    call with the same ``work``); the gradients with respect to ``w2`` and ``w3`` are written
    into ``g2_out`` ``(B, 50, 50)`` and ``g3_out`` ``(B, 10, 50)`` (new tensors when not given).
    ``z`` is read, not written. The first layer's gradient, ``dL/dz^T x``, is the caller's:
    :func:`fcp_grads_from_first` forms it per set, a path step mixes ``dL/dz`` over the points
    first (:mod:`lls_core.pathfinder`). ReLU only.

    >>> import torch
    >>> m = _models.FCP()
    >>> z, y = torch.randn(2, 5, 50), torch.tensor([0, 1, 2, 3, 4])
    >>> w2, w3 = torch.randn(2, 50, 50), torch.randn(2, 10, 50)
    >>> loss, dz = fcp_backward_to_first(m, w2, w3, z, y)
    >>> tuple(loss.shape), tuple(dz.shape)
    ((2,), (2, 5, 50))
    """
    if m.act is not F.relu:
        raise ValueError(f"fcp_backward_to_first is written for ReLU; this FCP uses {m.activation!r}")
    B, N, H = z.shape
    new = (lambda name, shape: torch.empty(shape, dtype=z.dtype, device=z.device)) if work is None else work
    g2 = torch.empty(w2.shape, dtype=z.dtype, device=z.device) if g2_out is None else g2_out
    g3 = torch.empty(w3.shape, dtype=z.dtype, device=z.device) if g3_out is None else g3_out
    h1 = torch.clamp_min(z, 0.0, out=new("fcpg.h1", (B, N, H)))
    h2 = torch.bmm(h1, w2.transpose(1, 2), out=new("fcpg.h2", (B, N, w2.shape[1]))).clamp_min_(0.0)
    oT = torch.bmm(w3, h2.transpose(1, 2), out=new("fcpg.oT", (B, w3.shape[1], N)))  # logits, classes first
    ce, sums = _cross_entropy_classes_first(oT, y)
    loss = ce.mean((1, 2)) * scale
    do = oT.div_(sums)  # softmax (B, C, N), in place of the logits
    yi = y.reshape(-1, 1, N).expand(B, 1, N)
    do.scatter_add_(1, yi, torch.full((1, 1, 1), -1.0, dtype=z.dtype, device=z.device).expand(B, 1, N))
    do.mul_(scale / N)
    torch.bmm(do, h2, out=g3)
    dh2 = torch.bmm(do.transpose(1, 2), w3, out=new("fcpg.dh2", (B, N, w3.shape[2])))
    _relu_backward_(dh2, h2)  # ReLU'(z2): h2 > 0 exactly where z2 > 0
    torch.bmm(dh2.transpose(1, 2), h1, out=g2)
    dh1 = torch.bmm(dh2, w2, out=new("fcpg.dh1", (B, N, w2.shape[2])))
    _relu_backward_(dh1, h1)
    return loss, dh1


def _lenet_first(m: _models.LeNet, p: Params, x: Tensor) -> Tensor:
    """conv1 of ``B`` filter banks as ``B * 6`` output channels of one convolution: ``(B, N, 6, 28, 28)``."""
    c1 = p["conv1.weight"]
    B, N = c1.shape[0], x.shape[0]
    padding = m.conv1.padding  # LeNet pads conv1 by a number of pixels; conv2d's overloads take a str or sizes, not both
    if isinstance(padding, str):
        raise TypeError(f"LeNet.conv1 has padding={padding!r}; the batched forward needs it in pixels")
    h = F.conv2d(x, c1.reshape(B * c1.shape[1], *c1.shape[2:]), p["conv1.bias"].reshape(-1), padding=padding)
    return h.reshape(N, B, c1.shape[1], *h.shape[2:]).transpose(0, 1)


def _lenet_outputs(m: _models.LeNet, p: Params, x: Tensor, pre1: Tensor | None = None) -> Tensor:
    """LeNet at ``B`` weight sets at once: logits ``(B, N, 10)``.

    conv2 runs once per weight set (or as one grouped convolution); the dense
    layers are batched matmuls.
    """
    if pre1 is None:
        pre1 = _lenet_first(m, p, x)
    B, N = pre1.shape[0], pre1.shape[1]
    if pre1.transpose(0, 1).is_contiguous():  # conv1's own layout (N, B * 6, 28, 28): pool it without a copy
        h = _avg_pool2(m.act(pre1.transpose(0, 1).flatten(1, 2)))
        h = h.reshape(N, B, -1, *h.shape[-2:]).transpose(0, 1)  # (B, N, 6, 14, 14)
    else:  # mixed from a factored first stage: (B, N, 6, 28, 28)
        h = _avg_pool2(m.act(pre1))
    c2, b2 = p["conv2.weight"], p["conv2.bias"]
    if LENET_GROUPED_CONV2:
        h = h.transpose(0, 1).reshape(N, B * h.shape[2], *h.shape[3:])
        h = F.conv2d(h, c2.reshape(B * c2.shape[1], *c2.shape[2:]), b2.reshape(-1), groups=B)
        h = h.reshape(N, B, -1, *h.shape[2:]).transpose(0, 1)  # (B, N, 16, 10, 10)
    else:
        h = torch.stack([F.conv2d(h[g], c2[g], b2[g]) for g in range(B)])  # (B, N, 16, 10, 10)
    h = _avg_pool2(m.act(h)).reshape(B, N, -1)  # (B, N, 400)
    h = m.act(torch.baddbmm(p["fc1.bias"][:, None, :], h, p["fc1.weight"].transpose(1, 2)))
    h = m.act(torch.baddbmm(p["fc2.bias"][:, None, :], h, p["fc2.weight"].transpose(1, 2)))
    return torch.baddbmm(p["fc3.bias"][:, None, :], h, p["fc3.weight"].transpose(1, 2))


def _autoencoder_first(m: _models.Autoencoder, p: Params, x: Tensor) -> Tensor:
    return stacked_linear(p["enc1.weight"], x)


def _autoencoder_logits(m: _models.Autoencoder, p: Params, x: Tensor, pre1: Tensor | None = None) -> Tensor:
    """Autoencoder at ``B`` weight sets at once, before the output sigmoid: ``(B, N, 784)``."""
    h = m.act(_autoencoder_first(m, p, x) if pre1 is None else pre1)
    h = m.act(torch.bmm(h, p["enc2.weight"].transpose(1, 2)))
    h = m.act(torch.bmm(h, p["dec1.weight"].transpose(1, 2)))
    return torch.bmm(h, p["dec2.weight"].transpose(1, 2))


def _autoencoder_outputs(m: _models.Autoencoder, p: Params, x: Tensor, pre1: Tensor | None = None) -> Tensor:
    """Autoencoder at ``B`` weight sets at once: reconstructions ``(B, N, 784)``."""
    return torch.sigmoid(_autoencoder_logits(m, p, x, pre1))


class _SigmoidMSE(torch.autograd.Function):
    """``mean((sigmoid(logits[b]) - target)^2)`` per ``b``; the gradient is formed in the forward pass.

    Autograd through ``sigmoid``, ``sub``, ``pow`` and ``mean`` makes about ten passes
    over the ``(B, N, 784)`` reconstructions and allocates most of them; here there are
    five, in place: ``s = sigmoid(z)``, ``d = s - t``, the sum of squares as a norm
    per ``b``, and ``dL/dz = 2 d s (1 - s) / (N * 784)`` written over ``s``.
    Differentiable once (no double backward).
    """

    @staticmethod
    def forward(ctx: Any, logits: Tensor, target: Tensor) -> Tensor:
        B, N = logits.shape[0], logits.shape[1]
        s = torch.sigmoid(logits.reshape(B, N, -1))
        d = s - target.reshape(1, N, -1)
        n = d.shape[1] * d.shape[2]
        # one pass: the norm of each item's row (784 values), then torch's cascaded sum over the items (a
        # single norm over all N * 784 values drifts by ~1e-5 relative in float32 at N = 4,000)
        loss = torch.linalg.vector_norm(d, dim=2).square_().sum(1) / n
        if ctx.needs_input_grad[0]:
            s.addcmul_(s, s, value=-1.0).mul_(d).mul_(2.0 / n)  # s (1 - s) d 2 / n, over s
            ctx.save_for_backward(s)
            ctx.shape = logits.shape
        return loss

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None]:
        (g,) = ctx.saved_tensors
        return g.mul_(grad.reshape(-1, 1, 1)).reshape(ctx.shape), None


def sigmoid_mse(logits: Tensor, target: Tensor) -> Tensor:
    """Mean squared error of ``sigmoid(logits)`` ``(B, N, ...)`` against ``target`` ``(N, ...)`` per ``b``: ``(B,)``.

    Equal to ``((logits.sigmoid() - target) ** 2).mean`` over all but the first axis, up
    to rounding, with a fused gradient (formed in the forward pass, five passes over the
    reconstructions instead of about ten): the autoencoder's loss.
    """
    return _SigmoidMSE.apply(logits, target)


def _lstm_first(m: _models.LSTMNet, p: Params, x: Tensor) -> Tensor:
    """Input projections of all steps plus both biases, one matmul: ``(B, N, T, 4H)``."""
    N = x.shape[0]
    seq = x.reshape(N, -1)[:, m.perm].reshape(N, 28, 28)
    T, F_in = seq.shape[1], seq.shape[2]
    w_ih = p["lstm.weight_ih_l0"]
    B, H4 = w_ih.shape[0], w_ih.shape[1]
    xin = (seq.reshape(N * T, F_in) @ w_ih.reshape(B * H4, F_in).T).reshape(N, T, B, H4).permute(2, 0, 1, 3)
    return xin + (p["lstm.bias_ih_l0"] + p["lstm.bias_hh_l0"])[:, None, None, :]


def _lstm_outputs(m: _models.LSTMNet, p: Params, x: Tensor, pre1: Tensor | None = None) -> Tensor:
    """Pixel-permuted LSTM at ``B`` weight sets at once: logits ``(B, N, 10)``.

    The recurrence is written out (PyTorch's gate order i, f, g, o): the input
    projections come from the first stage, the recurrent ones are a batched
    matmul per step.
    """
    if pre1 is None:
        pre1 = _lstm_first(m, p, x)
    B, N, T, H4 = pre1.shape
    H = H4 // 4
    h = pre1.new_zeros(B, N, H)
    c = pre1.new_zeros(B, N, H)
    w_hh_t = p["lstm.weight_hh_l0"].transpose(1, 2)
    for s in range(T):
        g = torch.baddbmm(pre1[:, :, s], h, w_hh_t)
        i, f, gg, o = g.chunk(4, dim=-1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(gg)
        h = torch.sigmoid(o) * torch.tanh(c)
    return torch.bmm(h, p["fc.weight"].transpose(1, 2))


#: Hand-batched forward passes: ``forward(module, params, x, pre1=None)`` with
#: ``params`` from :func:`lls_core.params.unflatten` of ``W`` ``(B, d)`` returns the
#: outputs of all ``B`` weight sets ``(B, N, ...)``; ``pre1`` replaces the first stage.
BATCHED_FORWARD: dict[type, Callable[..., Tensor]] = {
    _models.FCP: _fcp_outputs,
    _models.LeNet: _lenet_outputs,
    _models.Autoencoder: _autoencoder_outputs,
    _models.LSTMNet: _lstm_outputs,
}

#: First stages ``first(module, params, x) -> (B, N, ...)``, linear in the first
#: layer's parameters (see the table in the module docstring).
FIRST_STAGE: dict[type, Callable[..., Tensor]] = {
    _models.FCP: _fcp_first,
    _models.LeNet: _lenet_first,
    _models.Autoencoder: _autoencoder_first,
    _models.LSTMNet: _lstm_first,
}


# --------------------------------------------------------------------------- entry points
def supports(model: nn.Module) -> bool:
    """Whether ``model`` (exactly one of the study network classes) has a hand-batched forward."""
    return type(model) in BATCHED_FORWARD


def _forward(model: nn.Module) -> Callable[..., Tensor]:
    fwd = BATCHED_FORWARD.get(type(model))
    if fwd is None:
        raise TypeError(
            f"no hand-batched forward for {type(model).__name__}; "
            f"valid: {', '.join(t.__name__ for t in BATCHED_FORWARD)} (use torch.func.vmap otherwise)"
        )
    return fwd


def outputs(model: nn.Module, W: Tensor, x: Tensor) -> Tensor:
    """Outputs ``(B, N, ...)`` of ``model`` at each row of ``W`` ``(B, d)`` on inputs ``x`` ``(N, ...)``."""
    return _forward(model)(model, _params.unflatten(model, W), x)


def first_stage(model: nn.Module, V: Tensor, x: Tensor) -> Tensor:
    """The first stage (see the module docstring) at each row of ``V`` ``(J, d)`` on ``x``: ``(J, N, ...)``."""
    _forward(model)
    return FIRST_STAGE[type(model)](model, _params.unflatten(model, V), x).contiguous()


def affine_outputs(
    model: nn.Module, C: Tensor, V: Tensor, x: Tensor, *, factor: bool = True, Z: Tensor | None = None
) -> Tensor:
    """Outputs ``(B, N, ...)`` at the points ``W = C @ V`` (``C`` ``(B, J)``, ``V`` ``(J, d)``).

    With ``factor`` (and ``B > J``) the first stage runs on the ``J`` rows of ``V``
    and is mixed with ``C`` (see the module docstring); otherwise it runs on ``W``.
    ``Z`` may pass :func:`first_stage` of ``V`` on ``x`` when already computed (it
    is then used whatever ``B``). Differentiable in ``C`` and ``V``.
    """
    return _forward(model)(model, *_affine_inputs(model, C, V, x, factor, Z))


def _affine_inputs(model: nn.Module, C: Tensor, V: Tensor, x: Tensor, factor: bool,
                   Z: Tensor | None) -> tuple[Params, Tensor, Tensor | None]:
    """``(params, x, pre1)`` of the points ``W = C @ V`` for a batched forward: the first stage mixed
    from the ``J`` rows of ``V`` when ``Z`` is given or ``factor`` and ``B > J``, else ``None``."""
    W = C @ V
    if Z is None:
        if not factor or C.shape[0] <= V.shape[0]:
            return _params.unflatten(model, W), x, None
        Z = first_stage(model, V, x)  # (J, N, ...)
    return _params.unflatten(model, W), x, mix(C, Z)


def mean_losses(model: nn.Module, out: Tensor, x: Tensor, y: Tensor) -> Tensor:
    """Loss of :func:`lls_core.models.loss` per weight set from batched outputs ``(B, N, ...)``: ``(B,)``.

    Cross-entropy against ``y`` ``(N,)`` for classifiers, MSE against ``x`` for the autoencoder.
    """
    B, N = out.shape[0], out.shape[1]
    if _models.is_classifier(model):
        return cross_entropy_rows(out.reshape(B, N, -1), y.expand(B, N)).mean(1)
    return (out.reshape(B, N, -1) - x.reshape(1, N, -1)).pow(2).mean((1, 2))


def cross_entropy_rows(logits: Tensor, y: Tensor) -> Tensor:
    """Cross-entropy of each row: ``logsumexp(logits) - logits[y]`` for ``logits`` ``(..., C)``, ``y`` ``(...)``.

    Equal to ``F.cross_entropy(..., reduction="none")`` up to rounding; about three
    times as fast on a CPU for C = 10 classes (``log_softmax`` materialises all C
    log-probabilities; only one is needed). Computed as ``logsumexp(logits - logits[y])``,
    so that a small loss keeps the precision ``F.cross_entropy`` gives it
    (``logsumexp(logits) - logits[y]`` rounds it to the spacing of floats near the largest
    logit: about 2e-6 for logits near 20, and to 0 below that).
    """
    return (logits - logits.gather(-1, y.unsqueeze(-1))).logsumexp(-1)


def forward_losses(model: nn.Module, p: Params, x: Tensor, y: Tensor, pre1: Tensor | None = None) -> Tensor:
    """Mean loss over ``(x, y)`` per weight set of ``p`` (batched parameters, ``B`` sets): ``(B,)``.

    ``mean_losses(model, BATCHED_FORWARD[type(model)](model, p, x, pre1), x, y)``, except
    that the autoencoder's output sigmoid and MSE are one fused step (:func:`sigmoid_mse`):
    a path step on its 784-wide reconstructions spent most of its time there.
    """
    if type(model) is _models.Autoencoder:
        return sigmoid_mse(_autoencoder_logits(model, p, x, pre1), x)
    return mean_losses(model, BATCHED_FORWARD[type(model)](model, p, x, pre1), x, y)


def losses(model: nn.Module, W: Tensor, x: Tensor, y: Tensor) -> Tensor:
    """Mean loss over ``(x, y)`` at each row of ``W`` ``(B, d)``: ``(B,)``."""
    _forward(model)
    return forward_losses(model, _params.unflatten(model, W), x, y)


def affine_losses(
    model: nn.Module, C: Tensor, V: Tensor, x: Tensor, y: Tensor, *, factor: bool = True, Z: Tensor | None = None
) -> Tensor:
    """Mean loss over ``(x, y)`` at the points ``W = C @ V``: ``(B,)`` (see :func:`affine_outputs`)."""
    _forward(model)
    p, x, pre1 = _affine_inputs(model, C, V, x, factor, Z)
    return forward_losses(model, p, x, y, pre1)
