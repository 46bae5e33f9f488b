"""Flat-vector <-> module-parameter helpers shared by the whole package.

A network's weights are handled as one flat vector ``w`` of shape ``(d,)`` (d =
number of trainable parameters, in ``model.named_parameters()`` order). Path
finding, barriers, kernel PCA and slices all work on such vectors and evaluate
the network through :func:`torch.func.functional_call`.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["num_params", "flatten", "unflatten", "assign", "shapes"]


def shapes(model: nn.Module) -> list[tuple[str, torch.Size]]:
    """Names and shapes of the trainable parameters, in flattening order."""
    return [(n, p.shape) for n, p in model.named_parameters() if p.requires_grad]


def num_params(model: nn.Module) -> int:
    """Number of trainable scalars ``d``."""
    return sum(s.numel() for _, s in shapes(model))


def flatten(model: nn.Module) -> Tensor:
    """The trainable parameters as one detached vector of shape ``(d,)``."""
    return torch.cat([p.detach().reshape(-1) for n, p in model.named_parameters() if p.requires_grad])


def unflatten(model: nn.Module, w: Tensor) -> dict[str, Tensor]:
    """Split ``w`` of shape ``(d,)`` or ``(B, d)`` into a parameter dict for ``functional_call``.

    The returned tensors are views of ``w`` (gradients flow back to ``w``); a
    batched ``w`` gives tensors with a leading batch dimension, for ``torch.func.vmap``.
    Raises ``ValueError`` when the last dimension of ``w`` is not ``d``.
    """
    spec = shapes(model)
    d = sum(s.numel() for _, s in spec)
    if w.shape[-1] != d:
        raise ValueError(f"weight vector has {w.shape[-1]} entries; this model has d={d} parameters")
    out: dict[str, Tensor] = {}
    i = 0
    lead = w.shape[:-1]
    for name, shape in spec:
        n = shape.numel()
        out[name] = w[..., i : i + n].reshape(*lead, *shape)
        i += n
    return out


@torch.no_grad()
def assign(model: nn.Module, w: Tensor) -> nn.Module:
    """Copy the flat vector ``w`` of shape ``(d,)`` into ``model``'s parameters in place."""
    for (_name, p), v in zip(
        [(n, p) for n, p in model.named_parameters() if p.requires_grad], unflatten(model, w).values()
    ):
        p.copy_(v)
    return model
