"""What a study chapter will cost before it runs: runs, pairs, passes, wall time and peak memory.

``lls-book plan CHAPTER --profile P [-p NAME VALUE]...`` resolves the chapter's
parameters exactly as ``lls-book run`` does, counts the work they imply, and
prices it with a short calibration on this machine (:func:`calibrate`: for each
network, one forward+backward pass, one SGD mini-batch step, one L-BFGS-GSS and one
torch L-BFGS iteration, one Hessian-vector product and the bytes autograd keeps per
image, on a few hundred synthetic images, a few seconds in all). Costs are per
image and scale linearly with the number of images. On the CPU they are CPU seconds
of one torch thread, so a loaded machine does not inflate them: the estimate is the
time when every worker has a core to itself, with the runs (or pairs) spread evenly
over ``workers`` processes (the best case). On CUDA they are wall seconds.

Example::

    from lls_core import plan
    cal = plan.calibrate(["fcp"])                      # a few seconds
    p = plan.plan("training", "full", calibration=cal, archs=["fcp"])
    p.runs, p.est_wall_s, p.peak_memory_bytes           # 150, ..., ...
    print(p.text())

Only the chapters that train networks or compute paths are planned
(:data:`CHAPTERS`). Runs already in the artifact store are counted as ``runs_stored``
where the data are at hand; the estimate prices every run and every path, also
those already in the store or the path cache (geometry reuses the barriers chapter's
paths), so it is an upper bound for a rerun.
"""

from __future__ import annotations

import dataclasses
import math
import statistics
import time
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import torch

from . import book, checks, models, params, study
from .train import LBFGSGSSConfig, SGDConfig, TorchLBFGSConfig

__all__ = ["CHAPTERS", "ArchCost", "Calibration", "Plan", "calibrate", "plan", "check_chapter", "PlanError", "UnknownPlanName"]

CHAPTERS: tuple[str, ...] = ("training", "barriers", "geometry")
_TOPO_OPTIMIZERS = ("sgd", "lbfgs_gss", "lbfgs")  # topography.load's default: six weight sets
_LANDSCAPES = 2
_IMAGE_BYTES = 28 * 28 * 4 + 8  # float32 image + int64 label
_FULL_MNIST = (60_000, 10_000)
_EVAL_CHUNK = 10_000


class PlanError(book.ParameterError):
    """A chapter, profile or parameter that cannot be planned (a ``ValueError``)."""


class UnknownPlanName(PlanError, book.UnknownParameterName):
    """An unknown chapter or network name: a :class:`PlanError`, a ``KeyError`` and a ``ValueError``."""


@dataclass(frozen=True)
class ArchCost:
    """Measured costs of one network on this machine. Seconds are per image unless named per batch/step.

    ``fwd_s``: forward pass without gradients; ``fwd_bwd_s``: forward + backward;
    ``sgd_batch_s``: one SGD step on a 64-image mini-batch (seconds per step);
    ``gss_iter_s`` / ``lbfgs_iter_s``: one L-BFGS-GSS / torch L-BFGS iteration, per
    training image, measured over the first iterations from an initialisation (the
    line search may take more trials later in a run); ``hvp_s``: one Hessian-vector
    product; ``act_bytes``: bytes autograd saves for the backward pass, per image;
    ``n_params``: parameter count d.
    """

    arch: str
    fwd_s: float
    fwd_bwd_s: float
    sgd_batch_s: float
    gss_iter_s: float
    lbfgs_iter_s: float
    hvp_s: float
    act_bytes: float
    n_params: int

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if f.name != "arch" and not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
                raise PlanError(f"ArchCost.{f.name}={v!r} for {self.arch!r}: must be a finite number > 0")


@dataclass(frozen=True)
class Calibration:
    """Per-network costs (:class:`ArchCost`) measured on ``device`` with ``n_images`` images in ``seconds``."""

    costs: Mapping[str, ArchCost]
    device: str
    n_images: int
    seconds: float

    def cost(self, arch: str) -> ArchCost:
        checks.name("arch", arch, self.costs, what="calibrated network", error=UnknownPlanName)
        return self.costs[arch]


def _median_time(fn: Any, repeats: int, device: str = "cpu") -> float:
    """Median seconds of ``fn()``: CPU seconds of this process on the CPU (what the work costs when it has
    a core to itself, however loaded the machine is now), wall seconds after a synchronise on CUDA."""
    cuda = str(device).startswith("cuda")
    clock = time.perf_counter if cuda else time.process_time
    times = []
    for _ in range(repeats):
        if cuda:
            torch.cuda.synchronize()
        t0 = clock()
        fn()
        if cuda:
            torch.cuda.synchronize()
        times.append(clock() - t0)
    return statistics.median(times)


def _calibrate_arch(arch: str, n: int, device: str, repeats: int) -> ArchCost:
    g = torch.Generator().manual_seed(0)
    x = torch.rand(n, 1, 28, 28, generator=g).to(device)
    y = torch.randint(0, 10, (n,), generator=g).to(device)
    model = models.build(arch, seed=0).to(device)

    def fwd() -> None:
        with torch.no_grad():
            models.loss(model, x, y)

    def fwd_bwd() -> None:
        model.zero_grad(set_to_none=True)
        models.loss(model, x, y).backward()

    fwd()
    fwd_bwd()  # warm up
    t_fwd = _median_time(fwd, repeats, device)
    t_fb = _median_time(fwd_bwd, repeats, device)

    xb, yb = x[:64], y[:64]
    sgd = SGDConfig().make(model.parameters())

    def sgd_step() -> None:
        sgd.zero_grad(set_to_none=True)
        models.loss(model, xb, yb).backward()
        sgd.step()

    sgd_step()
    t_sgd = _median_time(sgd_step, max(repeats, 5), device)

    def iteration_cost(cfg: Any) -> float:
        m = models.build(arch, seed=1).to(device)
        opt = cfg.make(m.parameters())

        def closure() -> torch.Tensor:
            value = models.loss(m, x, y)
            if torch.is_grad_enabled():
                opt.zero_grad(set_to_none=False)
                value.backward()
            return value

        opt.step(closure)  # the first iteration sets up the history
        return _median_time(lambda: opt.step(closure), repeats, device)

    t_gss = iteration_cost(LBFGSGSSConfig())
    t_lbfgs = iteration_cost(TorchLBFGSConfig())

    ps = [p for p in model.parameters()]
    v = [torch.randn_like(p) for p in ps]

    def hvp() -> None:
        gr = torch.autograd.grad(models.loss(model, x, y), ps, create_graph=True)
        torch.autograd.grad(gr, ps, v)

    hvp()
    t_hvp = _median_time(hvp, repeats, device)
    return ArchCost(
        arch=arch,
        fwd_s=t_fwd / n,
        fwd_bwd_s=t_fb / n,
        sgd_batch_s=t_sgd,
        gss_iter_s=t_gss / n,
        lbfgs_iter_s=t_lbfgs / n,
        hvp_s=t_hvp / n,
        act_bytes=_act_bytes(arch),
        n_params=params.num_params(model),
    )


def calibrate(archs: Sequence[str] = models.ARCHITECTURES, *, n_images: int = 256, repeats: int = 3,
              device: str | None = None) -> Calibration:
    """Time each network's passes on ``n_images`` synthetic images, with one torch thread.

    Returns a :class:`Calibration`; a few seconds on a laptop core for all four networks.
    """
    archs = list(archs)
    for a in archs:
        models.check_arch(a, "archs", error=UnknownPlanName)
    if isinstance(n_images, bool) or not isinstance(n_images, int) or not 64 <= n_images <= 10_000:
        raise PlanError(f"n_images={n_images!r}: must be an integer in [64, 10000]")
    if isinstance(repeats, bool) or not isinstance(repeats, int) or not 1 <= repeats <= 100:
        raise PlanError(f"repeats={repeats!r}: must be an integer in [1, 100]")
    from .train import default_device

    device = device or default_device()
    t0 = time.perf_counter()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as every study run: one torch thread per worker
    try:
        costs = {a: _calibrate_arch(a, n_images, device, repeats) for a in archs}
    finally:
        torch.set_num_threads(threads)
    return Calibration(costs, device, n_images, time.perf_counter() - t0)


@dataclass(frozen=True)
class Plan:
    """The work a chapter's parameters imply and its estimated cost on the calibrated machine.

    Counts: ``runs`` training runs (``runs_stored`` of them already in the store, or
    ``None`` where that could not be checked), ``sgd_epochs`` and ``qn_iterations``
    summed over runs, ``pairs`` barrier paths, ``path_passes`` path-point evaluations
    (forward+backward over the path data), ``hvps`` Hessian-vector products.
    Estimates: ``est_serial_s`` (one process), ``est_wall_s`` (spread evenly over
    ``workers``), ``peak_memory_bytes`` (the largest task times the workers running at
    once, plus the data). ``per_arch``: ``{arch: {fact: value}}``.
    """

    chapter: str
    profile: str
    parameters: Mapping[str, Any]
    archs: tuple[str, ...]
    n_train: int
    n_test: int
    runs: int
    runs_stored: int | None
    sgd_epochs: int
    qn_iterations: int
    pairs: int
    path_passes: int
    hvps: int
    workers: int
    est_serial_s: float
    est_wall_s: float
    peak_memory_bytes: float
    device: str
    per_arch: Mapping[str, Mapping[str, float]]

    def facts(self) -> dict[str, Any]:
        """Flat ``{name: value}`` of the counts and estimates (for ``glue`` and tables)."""
        return {
            "chapter": self.chapter,
            "profile": self.profile,
            "archs": ", ".join(self.archs),
            "n_train": self.n_train,
            "n_test": self.n_test,
            "runs": self.runs,
            "runs_stored": self.runs_stored,
            "sgd_epochs": self.sgd_epochs,
            "qn_iterations": self.qn_iterations,
            "pairs": self.pairs,
            "path_passes": self.path_passes,
            "hvps": self.hvps,
            "workers": self.workers,
            "est_serial_h": self.est_serial_s / 3600,
            "est_wall_h": self.est_wall_s / 3600,
            "peak_memory_gib": self.peak_memory_bytes / 2**30,
            "device": self.device,
        }

    def text(self) -> str:
        """A few lines for the console."""
        f = self.facts()
        stored = "" if self.runs_stored is None else f" ({self.runs_stored} already stored)"
        lines = [
            f"{self.chapter} ({self.profile}): {f['archs']} on {self.n_train:,} + {self.n_test:,} images",
            f"  runs {self.runs:,}{stored}: {self.sgd_epochs:,} SGD epochs, {self.qn_iterations:,} quasi-Newton iterations",
        ]
        if self.pairs:
            lines.append(f"  barrier paths {self.pairs:,}: {self.path_passes:,} path-point passes")
        if self.hvps:
            lines.append(f"  Hessian-vector products {self.hvps:,}")
        for a, d in self.per_arch.items():
            lines.append(f"  {a}: {d['serial_s'] / 3600:.2f} h in one process, peak {d['peak_bytes'] / 2**20:.0f} MiB per task")
        lines.append(
            f"  estimate on {self.device}: {_hours(self.est_serial_s)} in one process, {_hours(self.est_wall_s)} "
            f"on {self.workers} worker(s) (even spread), peak memory {self.peak_memory_bytes / 2**30:.2f} GiB"
        )
        return "\n".join(lines)


def _hours(s: float) -> str:
    return f"{s / 3600:.2f} h" if s >= 3600 else f"{s / 60:.1f} min"


def _run_cost(c: ArchCost, cfg: Any, n_train: int, n_test: int) -> tuple[float, float]:
    """(seconds, peak bytes) of one training run."""
    evals = cfg.steps + 1  # the curve records the initialisation and every step, on both sets
    t_eval = evals * (n_train + n_test) * c.fwd_s
    data = (n_train + n_test) * _IMAGE_BYTES
    if cfg.mode == "minibatch":
        t = cfg.steps * math.ceil(n_train / cfg.batch_size) * c.sgd_batch_s
        act = cfg.batch_size * c.act_bytes
        copies = 5  # weights, gradient, three kept vectors
    else:
        per = c.gss_iter_s if isinstance(cfg, LBFGSGSSConfig) else c.lbfgs_iter_s
        t = cfg.steps * n_train * per
        act = n_train * c.act_bytes
        copies = 6 + 2 * cfg.history_size
    return t + t_eval, data + act + copies * 4 * c.n_params + min(n_train + n_test, _EVAL_CHUNK) * c.act_bytes / 4


def _sizes(prof: study.Profile) -> tuple[int, int]:
    if prof.dataset == "mnist":
        return prof.n_train or _FULL_MNIST[0], prof.n_test or _FULL_MNIST[1]
    return prof.n_train or 5000, prof.n_test or 10000  # data.load: all embedded digits, the official test set


def _stored(arch: str, prof: study.Profile, optimizers: Sequence[str]) -> int | None:
    from .store import Store

    try:
        tasks = study.plan(arch, prof, optimizers)
    except (FileNotFoundError, OSError, ValueError):
        return None  # the data are not on this machine: cannot name the runs
    st = Store()
    return sum(st.has(t.key) for t in tasks)


def plan(chapter: str, profile: str = "quick", overrides: Mapping[str, Any] | None = None, *,
         calibration: Calibration | None = None, archs: Sequence[str] | None = None,
         count_stored: bool = True) -> Plan:
    """The runs, pairs and passes of ``chapter`` under ``profile`` (+ ``overrides``), priced by ``calibration``.

    Parameters are resolved and validated as ``lls-book run`` does (an unknown chapter,
    profile or parameter raises before any timing). ``calibration``: default
    :func:`calibrate` of the networks involved. ``archs``: restrict to these networks
    (default: the chapter's). ``count_stored``: look up finished runs in the store.
    """
    with checks.context("lls-book plan"):
        checks.name("chapter", chapter, CHAPTERS, error=UnknownPlanName)
    try:
        ch = book.get_chapter(chapter)
    except KeyError as err:
        raise UnknownPlanName(err.args[0]) from None
    values = book.resolve_parameters(ch, profile, overrides)
    return _plan_values(chapter, profile, values, calibration, archs, count_stored)


def _saved_bytes(model: torch.nn.Module, n: int) -> int:
    saved = [0]

    def pack(t: torch.Tensor) -> torch.Tensor:
        saved[0] += t.numel() * t.element_size()
        return t

    x, y = torch.rand(n, 1, 28, 28), torch.randint(0, 10, (n,))
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        models.loss(model, x, y)
    return saved[0]


def _act_bytes(arch: str, n: int = 8) -> float:
    """Bytes autograd saves per image: the slope between ``n`` and ``2 n`` images (weights saved once drop out)."""
    model = models.build(arch, seed=0)
    return max((_saved_bytes(model, 2 * n) - _saved_bytes(model, n)) / n, 1.0)


def _mem_available() -> float | None:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return float(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def check_chapter(slug: str, profile: str, params: Mapping[str, Any]) -> None:
    """Refuse (``PlanError``, the estimate in the message) a run whose peak memory exceeds what this machine has free.

    The hook ``lls-book run`` calls before any work. Cheap: it measures only the
    bytes autograd keeps per image (one forward on 8 images per network), no timings;
    chapters outside :data:`CHAPTERS` pass.
    """
    if slug not in CHAPTERS:
        return
    archs = list(models.ARCHITECTURES) if slug == "training" else [a for a in params.get("archs", []) if a in models.ARCHITECTURES]
    costs = {a: ArchCost(a, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, _act_bytes(a), _n_params(a)) for a in archs}
    p = _plan_values(slug, profile, params, Calibration(costs, "cpu", 8, 0.0), None, False)
    avail = _mem_available()
    if avail is not None and p.peak_memory_bytes > avail:
        raise PlanError(
            f"{slug} ({profile}) needs about {p.peak_memory_bytes / 2**30:.1f} GiB at its peak "
            f"({p.workers} worker(s)), but this machine has {avail / 2**30:.1f} GiB available; "
            "use fewer workers, a smaller profile or a larger machine"
        )


def _n_params(arch: str) -> int:
    return int(models.PARAM_COUNTS[arch])


def _plan_values(chapter: str, profile: str, values: Mapping[str, Any], calibration: Calibration | None,
                 archs: Sequence[str] | None, count_stored: bool) -> Plan:
    if chapter == "training":
        prof = study.get_profile(values["study_profile"])
        chosen, optimizers = list(models.ARCHITECTURES), study.DEFAULT_OPTIMIZERS
        k_best, n_pairs, path = prof.k_best, 0, None
    else:
        prof = study.get_profile(values["study_profile"]).replace(n_inits=values["n_inits"], k_best=values["k_best"])
        chosen, optimizers = list(values["archs"]), _TOPO_OPTIMIZERS
        k_best, n_pairs = prof.k_best, values["n_pairs"]
        from .topography import PATH_PROFILES

        path = PATH_PROFILES[values["path_profile"]]
    for a in chosen:
        models.check_arch(a, "archs", error=UnknownPlanName)
    if archs is not None:
        bad = [a for a in archs if a not in chosen]
        if bad:
            raise PlanError(f"archs {bad} are not among the chapter's networks {chosen}")
        chosen = list(archs)
    workers = int(values.get("workers", 1))
    cal = calibration if calibration is not None else calibrate(chosen)
    n_train, n_test = _sizes(prof)
    runs = epochs = iters = pairs = passes = hvps = 0
    serial = 0.0
    peak_task = 0.0
    per_arch: dict[str, dict[str, float]] = {}
    stored: int | None = 0 if count_stored else None
    for a in chosen:
        c = cal.cost(a)
        a_s, a_peak = 0.0, 0.0
        n_inits, k_best = prof.counts(a)
        third = (values.get("third_inits"), values.get("third_best"))
        for o in optimizers:
            cfg = prof.config(o, a)
            n = int(third[0]) if o == "lbfgs" and third[0] is not None else n_inits  # the third optimizer's sets
            t, m = _run_cost(c, cfg, n_train, n_test)
            a_s += n * t
            a_peak = max(a_peak, m)
            runs += n
            if cfg.mode == "minibatch":
                epochs += n * cfg.steps
            else:
                iters += n * cfg.steps
        if path is not None:
            n_sets = 2 * len(optimizers)
            k_third = int(third[1]) if third[1] is not None else k_best
            # disjoint pairs, each solution once; the third optimizer's two sets may be smaller
            p = _LANDSCAPES * (4 * min(n_pairs, k_best // 2) + (n_sets - 4) * min(n_pairs, k_third // 2))
            n_data_tr = min(path.n_data or n_train, n_train)
            n_data_te = min(path.n_data or n_test, n_test)
            per_pair_pts = path.steps * path.n_points
            t_pairs = (p // 2) * (per_pair_pts * (n_data_tr * c.fwd_bwd_s) + path.n_points * n_data_tr * c.fwd_s)
            t_pairs += (p - p // 2) * (per_pair_pts * (n_data_te * c.fwd_bwd_s) + path.n_points * n_data_te * c.fwd_s)
            a_s += t_pairs
            bound = (path.memory_mb or 384.0) * 2**20
            a_peak = max(a_peak, min(path.n_points * n_data_tr * c.act_bytes, bound) + (n_train + n_test) * _IMAGE_BYTES)
            pairs += p
            passes += p * per_pair_pts
            if chapter == "geometry":
                sharp_n = min(values["sharp_data"], n_train)
                per_set = min(int(values.get("sharp_per_set") or k_best), k_best)
                h = n_sets * per_set * (values["n_probes"] + values["lanczos_steps"])
                a_s += h * sharp_n * c.hvp_s
                hvps += h
        if count_stored and stored is not None:
            got = _stored(a, prof, optimizers)
            stored = None if got is None else stored + got
        per_arch[a] = {"serial_s": a_s, "peak_bytes": a_peak}
        serial += a_s
        peak_task = max(peak_task, a_peak)
    tasks = max(1, runs + pairs)
    eff = max(1, min(workers, tasks))
    return Plan(
        chapter=chapter,
        profile=profile,
        parameters=dict(values),
        archs=tuple(chosen),
        n_train=n_train,
        n_test=n_test,
        runs=runs,
        runs_stored=stored,
        sgd_epochs=epochs,
        qn_iterations=iters,
        pairs=pairs,
        path_passes=passes,
        hvps=hvps,
        workers=workers,
        est_serial_s=serial,
        est_wall_s=serial / eff,
        peak_memory_bytes=eff * peak_task,
        device=cal.device,
        per_arch=per_arch,
    )
