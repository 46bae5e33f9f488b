"""Training one network from one initialisation, with pluggable optimizers (Yu & Morozov 2026).

One *run* trains architecture ``arch`` from the initialisation drawn from ``seed``
with one optimizer configuration, and records the loss on the **whole** training
set and on the whole test set at the start and after every epoch (mini-batch
optimizers) or every iteration (full-batch optimizers). It keeps three weight
vectors of shape ``(d,)``: the final weights, the weights at the minimum of the
training-loss curve (the run's contribution to a "training" weight set) and the
weights at the minimum of the test-loss curve (the early-stopping checkpoint,
the run's contribution to a "test" weight set).

Optimizers are frozen dataclass configurations registered in :data:`NETWORK_OPTIMIZERS`
(not the 2-D surface rules of :data:`lls_core.optimizers.SURFACE_RULES`):

=============  ==========================  ==========  ==============================================
name           class                       set prefix  what it is
=============  ==========================  ==========  ==============================================
``sgd``        :class:`SGDConfig`          SGD         torch SGD, 64-image mini-batches, epochs
``lbfgs_gss``  :class:`LBFGSGSSConfig`     BFGS        the authors' L-BFGS-GSS, full batch, iterations
``lbfgs``      :class:`TorchLBFGSConfig`   LBFGS       torch L-BFGS with strong-Wolfe line search
=============  ==========================  ==========  ==============================================

A new optimizer is a frozen dataclass subclass of :class:`NetworkOptimizerConfig`
with class attributes ``name``, ``label`` (display name, a key of
:func:`lls_core.plotting.color`), ``set_prefix``, ``mode`` (``"minibatch"`` or
``"fullbatch"``), ``positive`` (the fields that must be > 0; others in ``non_negative``),
a field ``epochs`` (mini-batch) or ``iterations`` (full batch), and a method
``make(params) -> torch.optim.Optimizer``; pass it to :func:`register_optimizer`. Full-batch optimizers are stepped with a closure
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
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Iterable, Literal, Sequence

import torch
from torch import Tensor

from . import checks, models, params
from .data import Dataset
from .engine import Anchors, Engine, chunks

__all__ = [
    "NUMERICS",
    "SGDConfig",
    "LBFGSGSSConfig",
    "TorchLBFGSConfig",
    "NetworkOptimizerConfig",
    "NETWORK_OPTIMIZERS",
    "register_optimizer",
    "optimizer_config",
    "check_optimizer",
    "RunResult",
    "train",
    "train_ensemble",
    "FullBatchEnsemble",
    "evaluate",
    "default_device",
]


def _positive(obj: Any, name: str, kind: type[int] | type[float] = int, allow_zero: bool = False) -> None:
    v = getattr(obj, name)
    if kind is float:
        ok = isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
    else:
        ok = isinstance(v, int) and not isinstance(v, bool)
    ok = ok and (v >= 0 if allow_zero else v > 0)
    if not ok:
        need = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{type(obj).__name__}.{name}={v!r}: must be a {kind.__name__} {need}")


@dataclass(frozen=True)
class NetworkOptimizerConfig:
    """What every network optimizer config shares: its checks and its ``steps``.

    Subclasses are frozen dataclasses declaring ``name``, ``label``, ``set_prefix``,
    ``mode`` and the fields to check: ``positive`` (> 0) and ``non_negative`` (>= 0);
    an ``int`` field must hold an int, a ``float`` field a finite real. ``steps`` is
    ``epochs`` for a mini-batch optimizer and ``iterations`` for a full-batch one.

    >>> SGDConfig(epochs=2).steps
    2
    """

    name: ClassVar[str]
    label: ClassVar[str]
    set_prefix: ClassVar[str]
    mode: ClassVar[Literal["minibatch", "fullbatch"]]
    positive: ClassVar[tuple[str, ...]] = ()
    non_negative: ClassVar[tuple[str, ...]] = ()

    def __post_init__(self) -> None:
        kinds: dict[str, type[int] | type[float]] = {
            f.name: (float if f.type in ("float", float) else int) for f in dataclasses.fields(self)}
        for f in self.positive:
            _positive(self, f, kinds[f])
        for f in self.non_negative:
            _positive(self, f, kinds[f], allow_zero=True)

    @property
    def steps(self) -> int:
        """Epochs (mini-batch) or iterations (full batch): the points after the initial one on each curve."""
        return int(getattr(self, "epochs" if self.mode == "minibatch" else "iterations"))

    def make(self, ps: Iterable[Tensor]) -> torch.optim.Optimizer:  # pragma: no cover - every config overrides it
        raise NotImplementedError


@dataclass(frozen=True)
class SGDConfig(NetworkOptimizerConfig):
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
    mode: ClassVar[Literal["minibatch", "fullbatch"]] = "minibatch"
    positive: ClassVar[tuple[str, ...]] = ("lr", "epochs", "batch_size")
    non_negative: ClassVar[tuple[str, ...]] = ("momentum",)

    def make(self, ps: Iterable[Tensor]) -> torch.optim.Optimizer:
        return torch.optim.SGD(ps, lr=self.lr, momentum=self.momentum)


@dataclass(frozen=True)
class LBFGSGSSConfig(NetworkOptimizerConfig):
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
    mode: ClassVar[Literal["minibatch", "fullbatch"]] = "fullbatch"
    positive: ClassVar[tuple[str, ...]] = ("iterations", "history_size", "line_search_budget", "tol")

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.variant not in ("authors", "safe"):
            raise ValueError(f"LBFGSGSSConfig.variant={self.variant!r}: valid: authors, safe")

    def make(self, ps: Iterable[Tensor]) -> torch.optim.Optimizer:
        from .lbfgs_gss import LBFGSGSS

        return LBFGSGSS(ps, history_size=self.history_size, line_search_budget=self.line_search_budget, tol=self.tol,
                        mode=self.variant)


@dataclass(frozen=True)
class TorchLBFGSConfig(NetworkOptimizerConfig):
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
    mode: ClassVar[Literal["minibatch", "fullbatch"]] = "fullbatch"
    positive: ClassVar[tuple[str, ...]] = ("iterations", "history_size", "lr", "max_eval")

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


NETWORK_OPTIMIZERS: dict[str, type[NetworkOptimizerConfig]] = {}
"""Network optimizer configs by run-store name (``"sgd"``, ``"lbfgs_gss"``, ``"lbfgs"``: the
``RunKey.optimizer`` values; their display labels are ``cls.label``)."""


def register_optimizer(cls: type[NetworkOptimizerConfig]) -> type[NetworkOptimizerConfig]:
    """Add an optimizer configuration class to :data:`NETWORK_OPTIMIZERS` (usable as a decorator)."""
    for attr in ("name", "label", "set_prefix", "mode", "make"):
        if not hasattr(cls, attr):
            raise TypeError(f"{cls.__name__} lacks {attr!r}; an optimizer config needs name, label, set_prefix, mode, make")
    if cls.mode not in ("minibatch", "fullbatch"):
        raise ValueError(f"{cls.__name__}.mode={cls.mode!r}: valid: minibatch, fullbatch")
    dc_params = getattr(cls, "__dataclass_params__", None)  # what @dataclass sets (is_dataclass looks for it too)
    if dc_params is None or not dc_params.frozen:
        raise TypeError(f"{cls.__name__} must be a frozen dataclass")
    NETWORK_OPTIMIZERS[cls.name] = cls
    return cls


for _cls in (SGDConfig, LBFGSGSSConfig, TorchLBFGSConfig):
    register_optimizer(_cls)


def check_optimizer(name: object, argname: str = "optimizer") -> str:
    """``name`` if it is a key of :data:`NETWORK_OPTIMIZERS`; the one check of a network optimizer's name.

    Raises :class:`~lls_core.checks.UnknownNameError` (a ``KeyError`` and a
    ``ValueError``) listing the registered names otherwise.

    >>> check_optimizer("lbfgs_gss")
    'lbfgs_gss'
    """
    return checks.name(argname, name, NETWORK_OPTIMIZERS, what="optimizer")


def optimizer_config(name: str, **hyper: Any) -> Any:
    """Build the registered configuration ``name`` with hyperparameters ``hyper`` (validated)."""
    cls = NETWORK_OPTIMIZERS[check_optimizer(name, "name")]
    fields = {f.name for f in dataclasses.fields(cls)}
    bad = sorted(set(hyper) - fields)
    if bad:
        raise checks.UnknownNameError(f"{name}: unknown hyperparameter(s) {', '.join(bad)}; "
                                      f"valid: {', '.join(sorted(fields))}")
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
    trajectory: Tensor | None = None
    """Weights after every step ``(steps + 1, d)`` when recorded (``train(..., record_trajectory=True)``), else None."""

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


def _check_run_args(arch: str, config: Any, seeds: Sequence[int]) -> list[int]:
    if type(config).__name__ not in {c.__name__ for c in NETWORK_OPTIMIZERS.values()}:
        raise TypeError(f"config {config!r} is not a registered optimizer config; valid: {', '.join(NETWORK_OPTIMIZERS)}")
    models.check_arch(arch)
    seeds = list(seeds)
    if not seeds:
        raise ValueError("seeds is empty: give at least one initialisation seed")
    for s in seeds:
        if isinstance(s, bool) or not isinstance(s, int) or s < 0:
            raise ValueError(f"seed {s!r}: seeds must be integers >= 0")
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds {seeds} repeat a value; each run needs its own seed")
    return seeds


def train(
    arch: str,
    config: Any,
    dataset: Dataset,
    *,
    seed: int,
    activation: str | None = None,
    perm_seed: int = models.AUTHORS_PERM_SEED,
    device: str | None = None,
    record_trajectory: bool = False,
) -> RunResult:
    """Train ``arch`` from the initialisation of ``seed`` with optimizer ``config`` on ``dataset``.

    One run: :func:`train_ensemble` with a single seed (the same code, so a run
    alone and the same run inside an ensemble agree to float rounding).
    Mini-batch optimizers shuffle with a generator seeded from ``seed`` (so a run
    is a deterministic function of its arguments on a given device); full-batch
    optimizers see the whole training set at every step. ``activation``: ``None`` for
    the architecture's default (:data:`lls_core.models.DEFAULT_ACTIVATION`). ``perm_seed`` is the
    LSTM's pixel-permutation seed (ignored by the other networks; default the authors' 1234). Training stops
    early if the loss becomes non-finite (the rest of the curves is NaN).
    """
    return train_ensemble(arch, config, dataset, [seed], activation=activation, perm_seed=perm_seed,
                          device=device, record_trajectory=record_trajectory)[0]


class _Runs:
    """Book-keeping of ``R`` runs: curves, early-stopping checkpoints, alive flags, trajectories."""

    def __init__(self, W: Tensor, n_steps: int, trajectory: bool) -> None:
        R = W.shape[0]
        self.train = torch.full((R, n_steps + 1), math.nan, dtype=torch.float64)
        self.test = torch.full((R, n_steps + 1), math.nan, dtype=torch.float64)
        w = W.detach().cpu()
        self.best = [{"train": (math.inf, 0, w[r].clone()), "test": (math.inf, 0, w[r].clone())} for r in range(R)]
        self.alive = [True] * R
        self.final: list[Tensor | None] = [None] * R
        self.traj = torch.full((R, n_steps + 1, W.shape[1]), math.nan, dtype=W.dtype) if trajectory else None

    def record(self, step: int, W: Tensor, ltr: Tensor, lte: Tensor, rows: list[int]) -> None:
        """Losses of runs ``rows`` (``W`` their weights ``(k, d)``) after ``step``; a non-finite one ends the run."""
        w = W.detach().cpu()
        for i, r in enumerate(rows):
            a, b = float(ltr[i]), float(lte[i])
            self.train[r, step], self.test[r, step] = a, b
            if self.traj is not None:
                self.traj[r, step] = w[i]
            if not (math.isfinite(a) and math.isfinite(b)):
                self.alive[r] = False
                self.final[r] = w[i].clone()
                continue
            for key, value in (("train", a), ("test", b)):
                if value < self.best[r][key][0]:
                    self.best[r][key] = (value, step, w[i].clone())

    def rows(self) -> list[int]:
        return [r for r, a in enumerate(self.alive) if a]

    def state_dict(self) -> dict[str, Any]:
        return {"train": self.train, "test": self.test, "alive": list(self.alive), "final": list(self.final),
                "traj": self.traj,
                "best": [[(b[k][0], b[k][1], b[k][2]) for k in ("train", "test")] for b in self.best]}

    def load_state_dict(self, st: dict[str, Any]) -> None:
        if tuple(st["train"].shape) != tuple(self.train.shape) or (st["traj"] is None) != (self.traj is None):
            raise ValueError(f"checkpointed curves of shape {tuple(st['train'].shape)}; this ensemble has "
                             f"{tuple(self.train.shape)}")
        self.train, self.test, self.traj = st["train"], st["test"], st["traj"]
        self.alive, self.final = list(st["alive"]), list(st["final"])
        self.best = [{"train": tuple(b[0]), "test": tuple(b[1])} for b in st["best"]]


NUMERICS: dict[str, int] = {"fcp": 1, "lenet": 1, "lstm": 1, "autoencoder": 0}
"""Revision of the numerics behind each architecture's trained runs (part of their store key,
:class:`lls_core.store.RunKey`): raised when a change of the code changes trained results, so that
stores do not serve runs made before it. 1: the cross-entropy kernels keep losses below the float
spacing of the largest logit (they rounded them to it, and to 0 below it, which changed L-BFGS-GSS
runs once their training loss fell under about 1e-6); the autoencoder's loss is not a cross-entropy."""


class _Checkpoint:
    """One ensemble's resumable state in one file, written atomically every ``every_s`` seconds.

    The file holds tensors and plain values only (read with ``weights_only=True``) and an
    ``ident`` string naming the ensemble (architecture, configuration, seeds, data); a file of
    another ensemble is refused, never used.
    """

    VERSION = 1

    def __init__(self, path: str | os.PathLike[str], ident: str, every_s: float) -> None:
        self.path, self.ident, self.every_s = Path(path), ident, float(every_s)
        self._last = time.monotonic()

    def load(self) -> dict[str, Any] | None:
        if not self.path.is_file():
            return None
        try:
            st = torch.load(self.path, map_location="cpu", weights_only=True)
        except Exception as err:  # noqa: BLE001 - any unreadable file: name it
            raise ValueError(f"checkpoint {self.path} cannot be read ({type(err).__name__}: {err}); delete it to "
                             "start the ensemble afresh") from err
        if not isinstance(st, dict) or st.get("version") != self.VERSION or st.get("ident") != self.ident:
            raise ValueError(f"checkpoint {self.path} belongs to another ensemble or version "
                             f"({st.get('ident') if isinstance(st, dict) else type(st).__name__!r}); this one is "
                             f"{self.ident!r}: delete it or pass another path")
        return st

    def due(self, step: int, n_steps: int) -> bool:
        return step < n_steps and time.monotonic() - self._last >= self.every_s

    def save(self, step: int, runs: "_Runs", loop: dict[str, Any]) -> None:
        from .io import atomic_write

        state = {"version": self.VERSION, "ident": self.ident, "step": step, "runs": runs.state_dict(), "loop": loop}
        atomic_write(self.path, lambda f: torch.save(state, f))
        self._last = time.monotonic()


def train_ensemble(
    arch: str,
    config: Any,
    dataset: Dataset,
    seeds: Sequence[int],
    *,
    activation: str | None = None,
    perm_seed: int = models.AUTHORS_PERM_SEED,
    device: str | None = None,
    record_trajectory: bool = False,
    memory_mb: float = 1024.0,
    init: Tensor | None = None,
    checkpoint: str | os.PathLike[str] | None = None,
    checkpoint_every_s: float = 600.0,
) -> tuple[RunResult, ...]:
    """Train ``R = len(seeds)`` runs of ``arch`` together, each exactly as it would run alone.

    Every run has its own initialisation (``models.build(arch, seed=s)``), its own
    mini-batch order (a generator seeded from its seed), its own optimizer state
    (L-BFGS history, line search, step counters), its own curves and its own
    early-stopping checkpoints; the ensemble only shares the evaluation, through
    :class:`lls_core.engine.Engine`:

    * mini-batch optimizers (``mode="minibatch"``) step the stacked weights
      ``W`` ``(R, d)`` as one parameter; the optimizer must act elementwise (SGD,
      with or without momentum, Adam, ...), so that row ``r`` moves exactly as run
      ``r`` alone. Each step evaluates every run on its own 64 images in one call.
    * full-batch optimizers (``mode="fullbatch"``: L-BFGS-GSS in any mode, torch's
      L-BFGS) run one optimizer per run (:class:`FullBatchEnsemble`): one coordinator
      evaluates the pending requests of all runs in one batched call (gradients with
      :meth:`~lls_core.engine.Engine.losses_and_grads`, line-search trials with
      :class:`~lls_core.engine.Anchors`: a trial along the run's line costs the
      layers above the first only). L-BFGS-GSS iterations are generators of their
      requests, stepped in the caller's thread; torch's L-BFGS runs in one thread per run.

    A run whose training or test loss becomes non-finite stops there (the rest of
    its curves stays NaN, its final weights are those at that step) while the
    others go on. ``record_trajectory`` keeps the weights after every step in
    ``RunResult.trajectory`` ``(steps + 1, d)``. ``memory_mb`` bounds one batched
    call's autograd graph. ``wall_s`` of each result is the ensemble's wall time
    divided by ``R``. ``init`` ``(R, d)`` replaces the initial weights drawn from
    the seeds (which still seed the mini-batch order). Returns the results in the
    order of ``seeds``.

    ``checkpoint``: a file that keeps the ensemble's whole state (weights, every
    optimizer's state, the mini-batch generators, the batched line-search anchors,
    curves and early-stopping checkpoints), written atomically after a step or epoch
    once ``checkpoint_every_s`` seconds have passed since the last write. A call that
    finds the file resumes after its step, and the results are bit-identical to an
    uninterrupted run's; a file of another ensemble is refused (``ValueError``). The
    caller deletes the file once the results are saved.

    Example::

        runs = train_ensemble("fcp", SGDConfig(epochs=5), data.load("mnist-5k"), range(75))
        [r.min_train_loss for r in runs]
    """
    seeds = _check_run_args(arch, config, seeds)
    for what, x, y in (("training", dataset.x_train, dataset.y_train), ("test", dataset.x_test, dataset.y_test)):
        checks.images(x, y, n_classes=10 if arch != "autoencoder" else None, what=f"{what} data")
    device = device or default_device()
    t0 = time.perf_counter()
    model = models.build(arch, activation=activation, seed=seeds[0], perm_seed=perm_seed).to(device)
    if init is None:
        W = torch.stack([params.flatten(models.build(arch, activation=activation, seed=s, perm_seed=perm_seed))
                         for s in seeds]).to(device)
    else:
        d = params.num_params(model)
        if not isinstance(init, Tensor) or tuple(init.shape) != (len(seeds), d) or not init.is_floating_point():
            shape = tuple(init.shape) if isinstance(init, Tensor) else type(init).__name__
            raise ValueError(f"init must be a float tensor of shape ({len(seeds)}, {d}) (one row per seed), got {shape}")
        W = init.detach().to(device=device, dtype=torch.float32).clone()
    xtr, ytr = dataset.x_train.to(device), dataset.y_train.to(device)
    xte, yte = dataset.x_test.to(device), dataset.y_test.to(device)
    eng_tr = Engine(model, (xtr, ytr), memory_mb=memory_mb)
    eng_te = Engine(model, (xte, yte), memory_mb=memory_mb)
    n_steps = config.steps
    runs = _Runs(W, n_steps, record_trajectory)
    ckpt = None
    if checkpoint is not None:
        checks.real("checkpoint_every_s", checkpoint_every_s, min=0.0)
        ident = (f"{arch}|{activation}|{perm_seed}|{dataclasses.asdict(config)}|{list(seeds)}|{dataset.checksum}|"
                 f"init={'given' if init is not None else 'seeds'}|trajectory={record_trajectory}")
        ckpt = _Checkpoint(checkpoint, ident, checkpoint_every_s)

    def record(step: int, Wr: Tensor, rows: list[int]) -> None:
        runs.record(step, Wr, eng_tr.losses(Wr), eng_te.losses(Wr), rows)

    record(0, W, list(range(len(seeds))))
    infos: list[dict[str, int]] = [{} for _ in seeds]
    if config.mode == "minibatch":
        W = _train_minibatch(config, eng_tr, W, seeds, n_steps, runs, record, ckpt)
    else:
        W = _train_fullbatch(config, eng_tr, W, n_steps, runs, record, infos, ckpt)
    wall = (time.perf_counter() - t0) / len(seeds)
    hyper = dataclasses.asdict(config)
    Wc = W.detach().cpu()
    out = []
    for r, s in enumerate(seeds):
        stopped = runs.final[r]  # weights where a non-finite loss ended the run
        final = stopped if stopped is not None else Wc[r].clone()
        out.append(RunResult(
            arch=arch,
            optimizer=config.name,
            seed=s,
            train_loss=runs.train[r].clone(),
            test_loss=runs.test[r].clone(),
            w_final=final,
            w_train=runs.best[r]["train"][2],
            w_test=runs.best[r]["test"][2],
            best_train_step=runs.best[r]["train"][1],
            best_test_step=runs.best[r]["test"][1],
            wall_s=wall,
            device=str(device),
            hyper=dict(hyper),
            counts=infos[r],
            trajectory=None if runs.traj is None else runs.traj[r].clone(),
        ))
    return tuple(out)


def _train_minibatch(config: Any, eng: Engine, W: Tensor, seeds: list[int], n_steps: int, runs: _Runs, record: Any,
                     ckpt: "_Checkpoint | None" = None) -> Tensor:
    """Mini-batch epochs of all runs at once: ``W`` ``(R, d)`` is one parameter of an elementwise optimizer."""
    R = W.shape[0]
    Wp = W.clone().requires_grad_(True)
    opt = config.make([Wp])
    gens = [torch.Generator().manual_seed(10_007 * s + 1) for s in seeds]
    start = 1
    if ckpt is not None and (st := ckpt.load()) is not None:
        runs.load_state_dict(st["runs"])
        with torch.no_grad():
            Wp.copy_(st["loop"]["W"])
        opt.load_state_dict(st["loop"]["opt"])
        for g, state in zip(gens, st["loop"]["gens"]):
            g.set_state(state)
        start = st["step"] + 1
    x = eng.x
    n, bs = x.shape[0], config.batch_size
    # Runs per backward call: the graph of one call stays within the engine's bound.
    mb = eng.memory_mb
    per_run = eng.per_item_bytes() * min(bs, n) if mb is not None else 0.0
    rc = R if mb is None or not per_run else max(1, min(R, int(mb * 2**20 // max(per_run, 1.0))))
    for epoch in range(start, n_steps + 1):
        rows = runs.rows()
        if not rows:
            break
        order = torch.stack([torch.randperm(n, generator=g) for g in gens]).to(x.device)  # (R, n)
        for i in range(0, n, bs):
            idx = order[:, i : i + bs]
            if Wp.grad is None:
                Wp.grad = torch.zeros_like(Wp)
            for r0, r1 in chunks(R, rc):  # every row of the gradient written: no zeroing
                j = idx[r0:r1]
                eng.minibatch_losses_and_grads(Wp[r0:r1], *eng.minibatch_items(j), grad_out=Wp.grad[r0:r1])
            opt.step()
        with torch.no_grad():
            Wd = Wp.detach()
            record(epoch, Wd[rows], rows)
        if ckpt is not None and ckpt.due(epoch, n_steps):
            ckpt.save(epoch, runs, {"W": Wp.detach().clone(), "opt": opt.state_dict(),
                                    "gens": [g.get_state() for g in gens]})
    return Wp.detach()


class FullBatchEnsemble:
    """``R`` full-batch optimizer runs stepped together, their evaluations batched.

    One optimizer per run (``config.make([p_r])`` on its own leaf ``p_r`` ``(d,)``, a row of
    one ``(R, d)`` weight tensor). An optimizer with ``step_requests`` (L-BFGS-GSS, either
    mode: :meth:`lls_core.lbfgs_gss.LBFGSGSS.step_requests`) is a generator of the
    evaluations its iteration needs; :meth:`step` advances every stepping run to its next
    request, evaluates all of them in one batched call per kind (gradients through
    :meth:`~lls_core.engine.Anchors.grads`, line-search trials through
    :meth:`~lls_core.engine.Anchors.values`, which finds each run's line from its points), sends the answers and repeats, in the
    caller's thread. Other optimizers (torch's L-BFGS) are stepped each in its own thread
    with a closure that posts its request to the same coordinator. Either way every run
    sees exactly the answers it would get alone, so its history, line search and counters
    are its own. Use as a context manager (it may own a thread pool).
    """

    def __init__(self, config: Any, engine: Engine, W: Tensor) -> None:
        R, d = W.shape
        self.W = W.detach().clone()
        self.ps = [self.W[r].requires_grad_(True) for r in range(R)]  # leaves viewing rows of self.W
        self.opts = [config.make([p]) for p in self.ps]
        self.anchors = Anchors(engine, R, d)
        self._requests_api = all(callable(getattr(o, "step_requests", None)) for o in self.opts)
        self._cond = threading.Condition()
        self._requests: dict[int, tuple[bool, Tensor]] = {}
        self._results: dict[int, tuple[Tensor, Tensor | None]] = {}
        self._finished: dict[int, BaseException | None] = {}
        # One event per run: an answer wakes its own run only (a shared condition would wake
        # all R threads R times per round).
        self._answered = [threading.Event() for _ in range(R)]
        self._pool = None if self._requests_api else ThreadPoolExecutor(max_workers=R, thread_name_prefix="lls-run")

    def __enter__(self) -> "FullBatchEnsemble":
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)

    def _points(self, rows: list[int]) -> Tensor:
        """The current weights of runs ``rows`` ``(k, d)``: a view when they are all the runs."""
        return self.W if rows == list(range(len(self.ps))) else self.W[rows]

    @torch.no_grad()
    def _step_requests(self, rows: list[int]) -> None:
        """One step of each run in ``rows`` through the optimizers' request generators (no threads)."""
        gens = {r: self.opts[r].step_requests() for r in rows}
        pending: dict[int, Any] = {}
        try:
            for r, gen in gens.items():
                try:
                    pending[r] = next(gen)
                except StopIteration:
                    pass
            while pending:
                answers: dict[int, Any] = {}
                g_rows = [r for r, q in pending.items() if q.grad]
                v_rows = [r for r, q in pending.items() if not q.grad]
                if g_rows:
                    L, G = self.anchors.grads(g_rows, self._points(g_rows))
                    for i, r in enumerate(g_rows):
                        self.ps[r].grad = G[i]
                        answers[r] = L[i]
                if v_rows:
                    L = self.anchors.values(v_rows, self._points(v_rows))
                    for i, r in enumerate(v_rows):
                        answers[r] = L[i]
                for r, value in answers.items():
                    try:
                        pending[r] = gens[r].send(value)
                    except StopIteration:
                        del pending[r]
        finally:
            for gen in gens.values():  # after an error: each run puts its weights back, as alone
                gen.close()

    def _closure(self, r: int) -> Any:
        p, cond = self.ps[r], self._cond

        answered = self._answered[r]

        def closure() -> Tensor:
            grad = torch.is_grad_enabled()
            with cond:
                self._requests[r] = (grad, p.detach())
                cond.notify_all()
            answered.wait()
            answered.clear()
            with cond:
                loss, g = self._results.pop(r)
            if grad:
                p.grad = g
            return loss

        return closure

    def _work(self, r: int) -> None:
        err: BaseException | None = None
        try:
            self.opts[r].step(self._closure(r))
        except BaseException as e:  # handed to the coordinator, re-raised there
            err = e
        with self._cond:
            self._finished[r] = err
            self._cond.notify_all()

    def step(self, rows: list[int]) -> None:
        """One optimizer step of each run in ``rows``."""
        if self._requests_api:
            self._step_requests(rows)
            return
        assert self._pool is not None
        cond = self._cond
        self._finished.clear()
        for r in rows:
            self._pool.submit(self._work, r)
        while True:
            with cond:
                cond.wait_for(lambda: len(self._requests) + len(self._finished) == len(rows))
                if len(self._finished) == len(rows):
                    break
                batch = dict(self._requests)
                self._requests.clear()
            answers: dict[int, tuple[Tensor, Tensor | None]] = {}
            g_rows = [r for r, (g, _) in batch.items() if g]
            v_rows = [r for r, (g, _) in batch.items() if not g]
            try:
                if g_rows:
                    L, G = self.anchors.grads(g_rows, torch.stack([batch[r][1] for r in g_rows]))
                    for i, r in enumerate(g_rows):
                        answers[r] = (L[i].clone(), G[i].clone())
                if v_rows:
                    L = self.anchors.values(v_rows, torch.stack([batch[r][1] for r in v_rows]))
                    for i, r in enumerate(v_rows):
                        answers[r] = (L[i].clone(), None)
            except BaseException as e:  # answer every waiting run so that no thread hangs
                nan = torch.tensor(math.nan)
                answers = {r: (nan, torch.full_like(batch[r][1], math.nan) if g else None) for r, (g, _) in batch.items()}
                self._answer(answers)
                with cond:
                    cond.wait_for(lambda: len(self._finished) == len(rows))
                raise e
            self._answer(answers)
        errors = [e for e in self._finished.values() if e is not None]
        if errors:
            raise errors[0]

    def _answer(self, answers: dict[int, tuple[Tensor, Tensor | None]]) -> None:
        with self._cond:
            self._results.update(answers)
        for r in answers:
            self._answered[r].set()

    def weights(self, rows: list[int] | None = None) -> Tensor:
        """Current weights ``(k, d)`` of runs ``rows`` (default all): a copy."""
        return self.W.clone() if rows is None else self.W[rows]

    def state_dict(self) -> dict[str, Any]:
        """The weights, every run's optimizer state and the batched evaluator's anchors (between steps)."""
        return {"W": self.W.detach().clone(), "opts": [o.state_dict() for o in self.opts],
                "anchors": self.anchors.state_dict()}

    @torch.no_grad()
    def load_state_dict(self, st: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`: the next steps are those of an ensemble that never stopped."""
        if tuple(st["W"].shape) != tuple(self.W.shape) or len(st["opts"]) != len(self.opts):
            raise ValueError(f"checkpointed weights {tuple(st['W'].shape)}; this ensemble has {tuple(self.W.shape)}")
        self.W.copy_(st["W"])
        for o, state in zip(self.opts, st["opts"]):
            o.load_state_dict(state)
        self.anchors.load_state_dict(st["anchors"])


def _train_fullbatch(config: Any, eng: Engine, W: Tensor, n_steps: int, runs: _Runs, record: Any,
                     infos: list[dict[str, int]], ckpt: "_Checkpoint | None" = None) -> Tensor:
    """Full-batch optimizers, one per run, stepped together (:class:`FullBatchEnsemble`)."""
    with FullBatchEnsemble(config, eng, W) as ens:
        start = 1
        if ckpt is not None and (st := ckpt.load()) is not None:
            runs.load_state_dict(st["runs"])
            ens.load_state_dict(st["loop"])
            start = st["step"] + 1
        for it in range(start, n_steps + 1):
            rows = runs.rows()
            if not rows:
                break
            ens.step(rows)
            record(it, ens.weights(rows), rows)
            if ckpt is not None and ckpt.due(it, n_steps):
                ckpt.save(it, runs, ens.state_dict())
    for r, opt in enumerate(ens.opts):
        diagnostics = getattr(opt, "diagnostics", None)
        if callable(diagnostics):
            infos[r] = diagnostics().counts()
    return ens.weights()
