"""Training one network from one initialisation, with pluggable optimizers (Yu & Morozov 2026).

One *run* trains architecture ``arch`` from the initialisation drawn from ``seed``
with one optimizer configuration, and records the loss on the **whole** training
set and on the whole test set at the start and after every epoch (mini-batch
optimizers) or every iteration (full-batch optimizers). It keeps three weight
vectors of shape ``(d,)``: the final weights, the weights at the minimum of the
training-loss curve (the run's contribution to a "training" weight set) and the
weights at the minimum of the test-loss curve (the early-stopping checkpoint,
the run's contribution to a "test" weight set).

Optimizers are frozen dataclass configurations registered in :data:`OPTIMIZERS`:

========== ======================= ========== ======================================
name       class                   set prefix what it is
========== ======================= ========== ======================================
``sgd``        :class:`SGDConfig`        SGD   torch SGD, 64-image mini-batches, epochs
``lbfgs_gss``  :class:`LBFGSGSSConfig`   BFGS  the authors' L-BFGS-GSS, full batch, iterations
``lbfgs``      :class:`TorchLBFGSConfig` LBFGS torch L-BFGS with strong-Wolfe line search
========== ======================= ========== ======================================

A new optimizer is a frozen dataclass with class attributes ``name``, ``label``
(display name, a key of :func:`lls_core.plotting.color`), ``set_prefix``,
``mode`` (``"minibatch"`` or ``"fullbatch"``), a field ``epochs`` or
``iterations``, and a method ``make(params) -> torch.optim.Optimizer``; pass it
to :func:`register_optimizer`. Full-batch optimizers are stepped with a closure
that computes the loss and calls ``backward()`` only when
``torch.is_grad_enabled()``, so line searches that evaluate it under
``torch.no_grad()`` cost forward passes only.

Unpublished SGD settings (the paper gives neither learning rate nor epochs)
default to ``lr=0.5``, ``momentum=0.0``, ``epochs=30``; every value is recorded
with the run.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass, field
from typing import Any, ClassVar, Iterable, Literal

import torch
from torch import Tensor

from . import models, params
from .data import Dataset

__all__ = [
    "SGDConfig",
    "LBFGSGSSConfig",
    "TorchLBFGSConfig",
    "OPTIMIZERS",
    "register_optimizer",
    "optimizer_config",
    "RunResult",
    "train",
    "evaluate",
    "default_device",
]


def _positive(obj: Any, name: str, kind: type = int, allow_zero: bool = False) -> None:
    v = getattr(obj, name)
    ok = isinstance(v, kind) and not isinstance(v, bool) and (v >= 0 if allow_zero else v > 0)
    if kind is float:
        ok = isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and (v >= 0 if allow_zero else v > 0)
    if not ok:
        need = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{type(obj).__name__}.{name}={v!r}: must be a {kind.__name__} {need}")


@dataclass(frozen=True)
class SGDConfig:
    """Mini-batch SGD (``torch.optim.SGD``): ``epochs`` passes over the training set in shuffled batches.

    ``lr`` learning rate (default 0.5), ``momentum`` (default 0, plain SGD as in
    the paper), ``batch_size`` 64 images (the paper's), ``epochs`` (default 30).
    The paper publishes neither learning rate nor epochs: these defaults are the
    book's (0.05 left the softplus networks near their initial loss for many epochs).
    """

    lr: float = 0.5
    epochs: int = 30
    momentum: float = 0.0
    batch_size: int = 64

    name: ClassVar[str] = "sgd"
    label: ClassVar[str] = "SGD"
    set_prefix: ClassVar[str] = "SGD"
    mode: ClassVar[str] = "minibatch"

    def __post_init__(self) -> None:
        _positive(self, "lr", float)
        _positive(self, "epochs")
        _positive(self, "momentum", float, allow_zero=True)
        _positive(self, "batch_size")

    @property
    def steps(self) -> int:
        return self.epochs

    def make(self, ps: Iterable[Tensor]) -> torch.optim.Optimizer:
        return torch.optim.SGD(ps, lr=self.lr, momentum=self.momentum)


@dataclass(frozen=True)
class LBFGSGSSConfig:
    """The authors' L-BFGS with golden-section line search (:mod:`lls_core.lbfgs_gss`), full batch.

    ``iterations``: 1000, the "Epochs: 1000" of the authors' repository README (their notebooks
    loop 100 or 10 times); ``history_size`` m = 10, ``line_search_budget`` 6 loss evaluations,
    ``tol`` 1e-4 (the paper's Algorithm 1 and the authors' code); ``variant`` (the optimizer's
    ``mode``): ``"authors"``
    follows the authors' optimizer step for step (accepts uphill steps), ``"safe"`` never
    accepts a higher point (see :class:`lls_core.lbfgs_gss.LBFGSGSS`).
    """

    iterations: int = 1000
    history_size: int = 10
    line_search_budget: int = 6
    tol: float = 1e-4
    variant: Literal["authors", "safe"] = "authors"

    name: ClassVar[str] = "lbfgs_gss"
    label: ClassVar[str] = "L-BFGS-GSS"
    set_prefix: ClassVar[str] = "BFGS"
    mode: ClassVar[str] = "fullbatch"

    def __post_init__(self) -> None:
        _positive(self, "iterations")
        _positive(self, "history_size")
        _positive(self, "line_search_budget")
        _positive(self, "tol", float)
        if self.variant not in ("authors", "safe"):
            raise ValueError(f"LBFGSGSSConfig.variant={self.variant!r}: valid: authors, safe")

    @property
    def steps(self) -> int:
        return self.iterations

    def make(self, ps: Iterable[Tensor]) -> torch.optim.Optimizer:
        from .lbfgs_gss import LBFGSGSS

        return LBFGSGSS(ps, history_size=self.history_size, line_search_budget=self.line_search_budget, tol=self.tol,
                        mode=self.variant)


@dataclass(frozen=True)
class TorchLBFGSConfig:
    """``torch.optim.LBFGS`` with the strong-Wolfe line search, full batch, one iteration per step.

    ``iterations`` outer steps (each one L-BFGS iteration: ``max_iter=1``), ``lr``
    1 (the initial trial step), ``history_size`` 10 (as L-BFGS-GSS), ``max_eval``
    the line search's evaluation cap per iteration (torch's strong-Wolfe search).
    """

    iterations: int = 1000
    history_size: int = 10
    lr: float = 1.0
    max_eval: int = 25

    name: ClassVar[str] = "lbfgs"
    label: ClassVar[str] = "L-BFGS"
    set_prefix: ClassVar[str] = "LBFGS"
    mode: ClassVar[str] = "fullbatch"

    def __post_init__(self) -> None:
        _positive(self, "iterations")
        _positive(self, "history_size")
        _positive(self, "lr", float)
        _positive(self, "max_eval")

    @property
    def steps(self) -> int:
        return self.iterations

    def make(self, ps: Iterable[Tensor]) -> torch.optim.Optimizer:
        return torch.optim.LBFGS(
            ps,
            lr=self.lr,
            max_iter=1,
            max_eval=self.max_eval,
            history_size=self.history_size,
            tolerance_grad=0.0,
            tolerance_change=0.0,
            line_search_fn="strong_wolfe",
        )


OPTIMIZERS: dict[str, type] = {}


def register_optimizer(cls: type) -> type:
    """Add an optimizer configuration class to :data:`OPTIMIZERS` (usable as a decorator)."""
    for attr in ("name", "label", "set_prefix", "mode", "make"):
        if not hasattr(cls, attr):
            raise TypeError(f"{cls.__name__} lacks {attr!r}; an optimizer config needs name, label, set_prefix, mode, make")
    if cls.mode not in ("minibatch", "fullbatch"):
        raise ValueError(f"{cls.__name__}.mode={cls.mode!r}: valid: minibatch, fullbatch")
    if not dataclasses.is_dataclass(cls) or not cls.__dataclass_params__.frozen:  # type: ignore[attr-defined]
        raise TypeError(f"{cls.__name__} must be a frozen dataclass")
    OPTIMIZERS[cls.name] = cls
    return cls


for _cls in (SGDConfig, LBFGSGSSConfig, TorchLBFGSConfig):
    register_optimizer(_cls)


def optimizer_config(name: str, **hyper: Any) -> Any:
    """Build the registered configuration ``name`` with hyperparameters ``hyper`` (validated)."""
    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; valid: {', '.join(OPTIMIZERS)}")
    cls = OPTIMIZERS[name]
    fields = {f.name for f in dataclasses.fields(cls)}
    bad = sorted(set(hyper) - fields)
    if bad:
        raise ValueError(f"{name}: unknown hyperparameter(s) {', '.join(bad)}; valid: {', '.join(sorted(fields))}")
    return cls(**hyper)


@dataclass(frozen=True, eq=False)
class RunResult:
    """One training run. Curves have shape ``(steps + 1,)`` (index 0 = the initialisation), losses are means
    over the whole set (cross-entropy in nats, or MSE per pixel for the autoencoder); weights have shape ``(d,)``.
    ``counts``: for L-BFGS-GSS, :meth:`lls_core.lbfgs_gss.Diagnostics.counts` of the run (iterations, accepted
    uphill steps, iterations with a history reset, iterations whose line search found nothing lower); empty for
    other optimizers.
    """

    arch: str
    optimizer: str
    seed: int
    train_loss: Tensor
    test_loss: Tensor
    w_final: Tensor
    w_train: Tensor
    w_test: Tensor
    best_train_step: int
    best_test_step: int
    wall_s: float
    device: str
    hyper: dict[str, Any] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def min_train_loss(self) -> float:
        return float(self.train_loss[self.best_train_step])

    @property
    def min_test_loss(self) -> float:
        return float(self.test_loss[self.best_test_step])


def default_device() -> str:
    """``"cuda"`` when a GPU is visible to torch, else ``"cpu"``."""
    return "cuda" if torch.cuda.is_available() else "cpu"


@torch.no_grad()
def evaluate(model: torch.nn.Module, x: Tensor, y: Tensor, chunk: int = 10_000) -> float:
    """Mean loss of ``model`` over all of ``x`` ``(N, 1, 28, 28)`` / ``y`` ``(N,)``, in chunks of ``chunk`` images."""
    total, n = 0.0, x.shape[0]
    for i in range(0, n, chunk):
        xb, yb = x[i : i + chunk], y[i : i + chunk]
        total += float(models.loss(model, xb, yb)) * xb.shape[0]
    return total / n


def _argmin(curve: Tensor) -> int:
    return int(torch.nan_to_num(curve, nan=math.inf).argmin())


def train(
    arch: str,
    config: Any,
    dataset: Dataset,
    *,
    seed: int,
    activation: str = "softplus",
    perm_seed: int = 0,
    device: str | None = None,
) -> RunResult:
    """Train ``arch`` from the initialisation of ``seed`` with optimizer ``config`` on ``dataset``.

    Mini-batch optimizers shuffle with a generator seeded from ``seed`` (so a run
    is a deterministic function of its arguments on a given device); full-batch
    optimizers see the whole training set at every step. ``perm_seed`` is the
    LSTM's pixel-permutation seed (ignored by the other networks). Training stops
    early if the loss becomes non-finite (the rest of the curves is NaN).
    """
    if type(config).__name__ not in {c.__name__ for c in OPTIMIZERS.values()}:
        raise TypeError(f"config {config!r} is not a registered optimizer config; valid: {', '.join(OPTIMIZERS)}")
    if arch not in models.ARCHITECTURES:
        raise ValueError(f"unknown architecture {arch!r}; valid: {', '.join(models.ARCHITECTURES)}")
    device = device or default_device()
    t0 = time.perf_counter()
    model = models.build(arch, activation=activation, seed=seed, perm_seed=perm_seed).to(device)
    xtr, ytr = dataset.x_train.to(device), dataset.y_train.to(device)
    xte, yte = dataset.x_test.to(device), dataset.y_test.to(device)
    n_steps = config.steps
    train_curve = torch.full((n_steps + 1,), math.nan, dtype=torch.float64)
    test_curve = torch.full((n_steps + 1,), math.nan, dtype=torch.float64)
    best = {"train": (math.inf, 0, params.flatten(model).cpu()), "test": (math.inf, 0, params.flatten(model).cpu())}

    def record(step: int) -> bool:
        ltr, lte = evaluate(model, xtr, ytr), evaluate(model, xte, yte)
        train_curve[step], test_curve[step] = ltr, lte
        if not (math.isfinite(ltr) and math.isfinite(lte)):
            return False
        w = None
        for key, value in (("train", ltr), ("test", lte)):
            if value < best[key][0]:
                w = params.flatten(model).cpu() if w is None else w
                best[key] = (value, step, w)
        return True

    opt = config.make(model.parameters())
    ok = record(0)
    if config.mode == "minibatch":
        gen = torch.Generator().manual_seed(10_007 * seed + 1)
        bs = config.batch_size
        for epoch in range(1, n_steps + 1):
            if not ok:
                break
            order = torch.randperm(xtr.shape[0], generator=gen).to(device)
            for i in range(0, xtr.shape[0], bs):
                idx = order[i : i + bs]
                opt.zero_grad(set_to_none=True)
                models.loss(model, xtr[idx], ytr[idx]).backward()
                opt.step()
            ok = record(epoch)
    else:

        def closure() -> Tensor:
            value = models.loss(model, xtr, ytr)
            if torch.is_grad_enabled():
                opt.zero_grad(set_to_none=False)
                value.backward()
            return value

        for it in range(1, n_steps + 1):
            if not ok:
                break
            opt.step(closure)
            ok = record(it)
    w_final = params.flatten(model).cpu()
    hyper = dataclasses.asdict(config)
    diagnostics = getattr(opt, "diagnostics", None)
    counts = diagnostics().counts() if callable(diagnostics) else {}
    return RunResult(
        arch=arch,
        optimizer=config.name,
        seed=seed,
        train_loss=train_curve,
        test_loss=test_curve,
        w_final=w_final,
        w_train=best["train"][2],
        w_test=best["test"][2],
        best_train_step=best["train"][1],
        best_test_step=best["test"][1],
        wall_s=time.perf_counter() - t0,
        device=str(device),
        hyper=hyper,
        counts=counts,
    )
