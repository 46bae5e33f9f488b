"""The four networks of the Yu & Morozov (2026) MNIST study.

| name          | layers                                                        | params |
|---------------|---------------------------------------------------------------|--------|
| ``fcp``       | 784-50-50-10 fully connected, no biases                       | 42,200 |
| ``lenet``     | conv 1->6 5x5 pad 2, avg-pool 2, conv 6->16 5x5, avg-pool 2,   | 61,706 |
|               | FC 400-120-84-10, all with biases                             |        |
| ``autoencoder`` | 784-32-32 encoder, 32-32-784 decoder, no biases, sigmoid out | 52,224 |
| ``lstm``      | fixed seeded pixel permutation, 28 steps x 28 features, LSTM  | 15,456 |
|               | hidden 48 (both bias vectors), last hidden -> linear 48->10   |        |

Every model takes images of shape ``(N, 1, 28, 28)``, float32 in [0, 1], and
reshapes them itself. The paper's text says ReLU for FCP and LeNet; the authors'
code uses softplus everywhere, which is smooth (suits a quasi-Newton method):
``activation`` is a parameter, default ``"softplus"``. The LSTM uses the standard
sigmoid/tanh gates, so ``activation`` does not apply to it.
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import functional_call

__all__ = ["ARCHITECTURES", "PARAM_COUNTS", "ACTIVATIONS", "build", "loss", "is_classifier"]

ARCHITECTURES: tuple[str, ...] = ("fcp", "lenet", "autoencoder", "lstm")
PARAM_COUNTS: dict[str, int] = {"fcp": 42_200, "lenet": 61_706, "autoencoder": 52_224, "lstm": 15_456}
ACTIVATIONS: dict[str, Callable[[Tensor], Tensor]] = {
    "softplus": F.softplus,
    "relu": F.relu,
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
}


def _act(name: str) -> Callable[[Tensor], Tensor]:
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; valid: {', '.join(ACTIVATIONS)}")
    return ACTIVATIONS[name]


class FCP(nn.Module):
    """784-50-50-10 perceptron without biases; logits of shape ``(N, 10)``."""

    task = "classify"

    def __init__(self, activation: str = "softplus") -> None:
        super().__init__()
        self.activation = activation
        self.act = _act(activation)
        self.fc1 = nn.Linear(784, 50, bias=False)
        self.fc2 = nn.Linear(50, 50, bias=False)
        self.fc3 = nn.Linear(50, 10, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        h = x.reshape(x.shape[0], 784)
        h = self.act(self.fc1(h))
        h = self.act(self.fc2(h))
        return self.fc3(h)


class LeNet(nn.Module):
    """LeNet-5 with average pooling (LeCun et al. 1998); logits of shape ``(N, 10)``."""

    task = "classify"

    def __init__(self, activation: str = "softplus") -> None:
        super().__init__()
        self.activation = activation
        self.act = _act(activation)
        self.conv1 = nn.Conv2d(1, 6, 5, padding=2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(400, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x: Tensor) -> Tensor:
        h = F.avg_pool2d(self.act(self.conv1(x)), 2)
        h = F.avg_pool2d(self.act(self.conv2(h)), 2)
        h = h.reshape(h.shape[0], 400)
        h = self.act(self.fc1(h))
        h = self.act(self.fc2(h))
        return self.fc3(h)


class Autoencoder(nn.Module):
    """784-32-32 | 32-32-784 autoencoder without biases; reconstruction ``(N, 1, 28, 28)`` in (0, 1)."""

    task = "reconstruct"

    def __init__(self, activation: str = "softplus") -> None:
        super().__init__()
        self.activation = activation
        self.act = _act(activation)
        self.enc1 = nn.Linear(784, 32, bias=False)
        self.enc2 = nn.Linear(32, 32, bias=False)
        self.dec1 = nn.Linear(32, 32, bias=False)
        self.dec2 = nn.Linear(32, 784, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        h = x.reshape(x.shape[0], 784)
        h = self.act(self.enc1(h))
        h = self.act(self.enc2(h))
        h = self.act(self.dec1(h))
        return torch.sigmoid(self.dec2(h)).reshape(x.shape[0], 1, 28, 28)


class LSTMNet(nn.Module):
    """Pixel-permuted sequence classifier: 28 steps of 28 features, LSTM(48), linear 48->10.

    The 784 pixels are permuted by a fixed permutation drawn from ``perm_seed``
    (kept as a non-trainable buffer and recorded in ``perm_seed``), then read as
    28 time steps of 28 features.
    """

    task = "classify"

    def __init__(self, activation: str = "softplus", perm_seed: int = 0) -> None:
        super().__init__()
        self.activation = activation  # not used: LSTM gates are sigmoid/tanh
        self.perm_seed = perm_seed
        g = torch.Generator().manual_seed(perm_seed)
        self.register_buffer("perm", torch.randperm(784, generator=g), persistent=False)
        self.lstm = nn.LSTM(input_size=28, hidden_size=48, batch_first=True)
        self.fc = nn.Linear(48, 10, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        seq = x.reshape(x.shape[0], 784)[:, self.perm].reshape(x.shape[0], 28, 28)
        out, _ = self.lstm(seq)
        return self.fc(out[:, -1, :])


_BUILDERS = {"fcp": FCP, "lenet": LeNet, "autoencoder": Autoencoder, "lstm": LSTMNet}


def build(name: str, *, activation: str = "softplus", seed: int = 0, perm_seed: int = 0) -> nn.Module:
    """Build architecture ``name`` with PyTorch's default initialisation drawn from ``seed``.

    Deterministic: the same ``(name, activation, seed)`` always gives the same weights.
    ``perm_seed`` is the LSTM's fixed pixel-permutation seed (independent of
    ``seed``; ignored by the other networks).
    Raises ``ValueError`` naming the valid architectures or activations.
    """
    if name not in _BUILDERS:
        raise ValueError(f"unknown architecture {name!r}; valid: {', '.join(ARCHITECTURES)}")
    _act(activation)
    kwargs = {"perm_seed": perm_seed} if name == "lstm" else {}
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return _BUILDERS[name](activation=activation, **kwargs)


def is_classifier(model: nn.Module) -> bool:
    """True for the cross-entropy classifiers, False for the autoencoder."""
    return getattr(model, "task", "classify") == "classify"


def loss(model: nn.Module, x: Tensor, y: Tensor, params: dict[str, Tensor] | None = None) -> Tensor:
    """Mean loss over the batch: cross-entropy for classifiers, MSE(reconstruction, x) for the autoencoder.

    ``x``: images ``(N, 1, 28, 28)``; ``y``: labels ``(N,)`` (ignored by the autoencoder).
    With ``params`` (a dict from :func:`lls_core.params.unflatten`) the model is
    evaluated through ``torch.func.functional_call`` at those weights.
    """
    out = model(x) if params is None else functional_call(model, params, (x,))
    if is_classifier(model):
        return F.cross_entropy(out, y)
    return F.mse_loss(out, x)
