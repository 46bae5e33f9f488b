"""The four networks of the Yu & Morozov (2026) MNIST study.

::

    | name          | layers                                                        | params |
    |---------------|---------------------------------------------------------------|--------|
    | ``fcp``       | 784-50-50-10 fully connected, no biases                       | 42,200 |
    | ``lenet``     | conv 1->6 5x5 pad 2, avg-pool 2, conv 6->16 5x5, avg-pool 2,   | 61,706 |
    |               | FC 400-120-84-10, all with biases                             |        |
    | ``autoencoder`` | 784-32-32 encoder, 32-32-784 decoder, no biases, sigmoid out | 52,224 |
    | ``lstm``      | fixed seeded pixel permutation, 28 steps x 28 features, LSTM  | 15,456 |
    |               | hidden 48 (both bias vectors), last hidden -> linear 48->10   |        |

Every model takes images of shape ``(N, 1, 28, 28)``, float32 in [0, 1], and
reshapes them itself. Default activations (:data:`DEFAULT_ACTIVATION`, sources in
``lls_core/datafiles/settings/yu_morozov_settings.csv``): ReLU for FCP and LeNet, as the paper's text
states and as the authors' code had it until commit b76bd85 (2026-01-07) switched LeNet
to softplus (FCP: ReLU in d1697ac, softplus from 5a68028) after their weight files
(5765fce, 2025-11-06) were published; softplus for the autoencoder (paper and code).
``activation`` stays a parameter (``"softplus"`` is the smooth alternative). The LSTM
uses the standard sigmoid/tanh gates (recorded as ``"tanh"``; ``activation`` does not
apply to it); its pixel permutation is
``torch.randperm(784, generator=torch.Generator().manual_seed(1234))``, the authors' (their
``NN_arch.LSTM_sMNIST``, ``seed=1234``): :data:`AUTHORS_PERM_SEED`.
"""

from __future__ import annotations

import contextlib
import threading

from collections.abc import Sequence
from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import functional_call

from . import checks
from .params import flatten as params_flatten

__all__ = [
    "ARCHITECTURES",
    "check_arch",
    "check_archs",
    "DEFAULT_ACTIVATION",
    "AUTHORS_PERM_SEED",
    "PARAM_COUNTS",
    "ACTIVATIONS",
    "build",
    "loss",
    "is_classifier",
    "train_full_batch",
    "DEMO_ARCHITECTURES",
    "build_demo",
    "FCP",
    "LeNet",
    "Autoencoder",
    "LSTMNet",
]


_RNG_LOCK = threading.Lock()


@contextlib.contextmanager
def _seeded(seed: int):
    """Seed torch's global RNG for a model's initialisation, restoring it afterwards.

    PyTorch's layer initialisers draw from the process-wide generator, so two
    models built at once in two threads (Dask's in-process workers) would
    interleave their draws; the lock makes every build see only its own seed.
    """
    with _RNG_LOCK, torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield

ARCHITECTURES: tuple[str, ...] = ("fcp", "lenet", "autoencoder", "lstm")


def check_arch(name: object, argname: str = "arch", *, error: type[checks.UnknownNameError] | None = None) -> str:
    """``name`` if it is one of :data:`ARCHITECTURES`; the one check every module uses.

    Raises :class:`~lls_core.checks.UnknownNameError` (a ``KeyError`` and a
    ``ValueError``) listing the valid names otherwise (``error``: a subclass to raise instead).

    >>> check_arch("lenet")
    'lenet'
    >>> try:
    ...     check_arch("vgg")
    ... except ValueError as err:
    ...     print(err)
    unknown architecture 'vgg'; valid: fcp, lenet, autoencoder, lstm
    """
    return checks.name(argname, name, ARCHITECTURES, what="architecture", error=error)


def check_archs(names: object, argname: str = "archs") -> list[str]:
    """``names`` as a list if it is a non-empty sequence of distinct names from :data:`ARCHITECTURES`.

    The one check of an ``archs`` argument (studies, archives, calibrations); each name is
    checked by :func:`check_arch`. Raises ``ValueError`` naming the value otherwise.

    >>> check_archs(("fcp", "autoencoder"))
    ['fcp', 'autoencoder']
    >>> try:
    ...     check_archs(["fcp", "fcp"])
    ... except ValueError as err:
    ...     print(err)
    archs=['fcp', 'fcp']: expected a non-empty list of distinct names from fcp, lenet, autoencoder, lstm
    """
    if isinstance(names, (str, bytes)) or not isinstance(names, Sequence) or not names or len(set(names)) != len(names):
        shown = list(names) if isinstance(names, Sequence) and not isinstance(names, (str, bytes)) else names
        raise ValueError(f"{argname}={shown!r}: expected a non-empty list of distinct names from {', '.join(ARCHITECTURES)}")
    return [check_arch(a, argname) for a in names]


PARAM_COUNTS: dict[str, int] = {"fcp": 42_200, "lenet": 61_706, "autoencoder": 52_224, "lstm": 15_456}
ACTIVATIONS: dict[str, Callable[[Tensor], Tensor]] = {
    "softplus": F.softplus,
    "relu": F.relu,
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
}


DEFAULT_ACTIVATION: dict[str, str] = {"fcp": "relu", "lenet": "relu", "autoencoder": "softplus", "lstm": "tanh"}
"""The activation each architecture gets when none is given (the paper's text; see the module docstring)."""

AUTHORS_PERM_SEED: int = 1234
"""Seed of the LSTM's pixel permutation in the authors' code (``LSTM_sMNIST(seed=1234)``)."""


def _act(name: str) -> Callable[[Tensor], Tensor]:
    return ACTIVATIONS[checks.name("activation", name, ACTIVATIONS)]


class FCP(nn.Module):
    """784-50-50-10 perceptron without biases; logits of shape ``(N, 10)``."""

    task = "classify"

    def __init__(self, activation: str = "relu") -> None:
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

    def __init__(self, activation: str = "relu") -> None:
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
    perm: Tensor  # (784,) pixel order, a non-persistent buffer

    def __init__(self, activation: str = "tanh", perm_seed: int = AUTHORS_PERM_SEED) -> None:
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


def build(name: str, *, activation: str | None = None, seed: int = 0, perm_seed: int = AUTHORS_PERM_SEED) -> nn.Module:
    """Build architecture ``name`` with PyTorch's default initialisation drawn from ``seed``.

    Deterministic: the same ``(name, activation, seed)`` always gives the same weights.
    ``activation``: one of :data:`ACTIVATIONS`; ``None`` gives :data:`DEFAULT_ACTIVATION`
    of ``name``. ``perm_seed`` is the LSTM's fixed pixel-permutation seed (independent of
    ``seed``; ignored by the other networks; default the authors' 1234).
    An unknown architecture or activation raises :class:`~lls_core.checks.UnknownNameError`
    (a ``KeyError`` and a ``ValueError``) naming the valid ones.

    >>> build("fcp").activation, build("lstm").perm_seed
    ('relu', 1234)
    """
    check_arch(name, "name")
    if activation is None:
        activation = DEFAULT_ACTIVATION[name]
    _act(activation)
    kwargs = {"perm_seed": perm_seed} if name == "lstm" else {}
    with _seeded(seed):
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


def train_full_batch(arch: str, x: Tensor, y: Tensor, *, seed: int, steps: int, lr: float = 3e-3) -> Tensor:
    """A short, deterministic training run: ``steps`` full-batch Adam steps on ``(x, y)`` from the
    initialisation of ``seed``. Returns the final weights, flat ``(d,)`` (detached).

    For end points of a path between two trained networks (not the study's trainers, which
    live in :mod:`lls_core.train`).

    >>> x, y = torch.zeros(4, 1, 28, 28), torch.zeros(4, dtype=torch.long)
    >>> train_full_batch("fcp", x, y, seed=0, steps=2).shape
    torch.Size([42200])
    """
    checks.integer("steps", steps, min=0)
    checks.real("lr", lr, min=0, min_open=True)
    net = build(arch, seed=seed)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    for _ in range(steps):
        opt.zero_grad()
        loss(net, x, y).backward()
        opt.step()
    return params_flatten(net)


# ---------------------------------------------------------------------------
# Demonstration networks for the visualization chapters (not part of the study)
# ---------------------------------------------------------------------------
# Small nets whose architecture is the variable under test: depth, width, batch
# normalization and skip connections (Li et al. 2018; LLS survey Figures 3-4).
# They take the same (N, 1, 28, 28) images and return logits (N, 10), so
# :func:`loss` applies to them unchanged. Built with :func:`build_demo`.

DEMO_ARCHITECTURES: tuple[str, ...] = ("mlp", "resnet")
DEMO_INITS: tuple[str, ...] = ("torch", "he")


class DemoMLP(nn.Module):
    """784 -> ``depth`` hidden layers of ``width`` units -> 10, with biases.

    With ``batch_norm`` each hidden linear layer is followed by ``BatchNorm1d``
    before the activation. Logits of shape ``(N, 10)``.
    """

    task = "classify"

    def __init__(self, depth: int = 2, width: int = 32, batch_norm: bool = False, activation: str = "relu") -> None:
        super().__init__()
        self.activation = activation
        self.act = _act(activation)
        sizes = [784] + [width] * depth
        self.hidden = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.norms = nn.ModuleList(nn.BatchNorm1d(width) for _ in range(depth)) if batch_norm else None
        self.out = nn.Linear(sizes[-1], 10)

    def forward(self, x: Tensor) -> Tensor:
        h = x.reshape(x.shape[0], 784)
        for i, layer in enumerate(self.hidden):
            h = layer(h)
            if self.norms is not None:
                h = self.norms[i](h)
            h = self.act(h)
        return self.out(h)


class _Block(nn.Module):
    """Two 3x3 convolutions; ``h + F(h)`` with a skip connection, ``F(h)`` without."""

    def __init__(self, channels: int, skip: bool, batch_norm: bool, act: Callable[[Tensor], Tensor]) -> None:
        super().__init__()
        self.skip, self.act = skip, act
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=not batch_norm)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=not batch_norm)
        self.bn1 = nn.BatchNorm2d(channels) if batch_norm else nn.Identity()
        self.bn2 = nn.BatchNorm2d(channels) if batch_norm else nn.Identity()

    def forward(self, h: Tensor) -> Tensor:
        r = self.act(self.bn1(self.conv1(h)))
        r = self.bn2(self.conv2(r))
        return self.act(h + r if self.skip else r)


class DemoResNet(nn.Module):
    """Small residual net: 3x3 stem conv (stride 2) and 2x2 average pool (28->7), ``blocks`` residual
    blocks at 7x7, global average pool, linear.

    ``skip=False`` removes the identity shortcuts and leaves a plain net of the same
    depth and parameter count (Li et al. 2018's "ResNet-noshort"). Logits ``(N, 10)``.
    """

    task = "classify"

    def __init__(
        self, blocks: int = 3, channels: int = 8, skip: bool = True, batch_norm: bool = False, activation: str = "relu"
    ) -> None:
        super().__init__()
        self.activation = activation
        self.act = _act(activation)
        self.stem = nn.Conv2d(1, channels, 3, stride=2, padding=1)
        self.blocks = nn.Sequential(*(_Block(channels, skip, batch_norm, self.act) for _ in range(blocks)))
        self.out = nn.Linear(channels, 10)

    def forward(self, x: Tensor) -> Tensor:
        h = F.avg_pool2d(self.act(self.stem(x)), 2)
        h = self.blocks(h)
        return self.out(h.mean(dim=(2, 3)))


def build_demo(
    name: str,
    *,
    depth: int = 2,
    width: int = 32,
    blocks: int = 3,
    channels: int = 8,
    skip: bool = True,
    batch_norm: bool = False,
    activation: str = "relu",
    init: str = "torch",
    seed: int = 0,
) -> nn.Module:
    """Build a demonstration net with PyTorch's default initialisation drawn from ``seed``.

    ``"mlp"`` uses ``depth``, ``width``, ``batch_norm``; ``"resnet"`` uses ``blocks``,
    ``channels``, ``skip``, ``batch_norm``. Default activation ReLU (as in Li et al.
    2018). ``init="torch"`` keeps PyTorch's default initialisation; ``"he"`` draws
    every weight of dim >= 2 from He et al.'s normal (std sqrt(2 / fan_in)) and zeroes
    biases, which keeps the signal alive through deep ReLU stacks. Raises
    ``ValueError`` naming a bad size, and :class:`~lls_core.checks.UnknownNameError`
    (also a ``ValueError``) naming a bad name, activation or init.
    """
    checks.name("init", init, DEMO_INITS)
    checks.name("name", name, DEMO_ARCHITECTURES, what="demo architecture")
    for label, value, low in (("depth", depth, 1), ("width", width, 1), ("blocks", blocks, 0), ("channels", channels, 1)):
        checks.integer(label, value, min=low)
    _act(activation)
    with _seeded(seed):
        if name == "mlp":
            net: nn.Module = DemoMLP(depth=depth, width=width, batch_norm=batch_norm, activation=activation)
        else:
            net = DemoResNet(blocks=blocks, channels=channels, skip=skip, batch_norm=batch_norm, activation=activation)
        if init == "he":
            for mod in net.modules():
                if isinstance(mod, (nn.Linear, nn.Conv2d)):
                    nn.init.kaiming_normal_(mod.weight, nonlinearity="relu")
                    if mod.bias is not None:
                        nn.init.zeros_(mod.bias)
        return net
