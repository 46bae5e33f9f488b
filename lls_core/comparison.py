"""L-BFGS-GSS beside other optimizers on one problem: runs, the first line search, levels reached.

The L-BFGS-GSS chapter compares the optimizers of
:data:`lls_core.lbfgs_gss.COMPARED_OPTIMIZERS` on 2-D surfaces and on a network with one
budget of loss evaluations. This module holds what it computes beyond
:func:`lls_core.lbfgs_gss.run_optimizer`:

* :func:`run_from_point` and :func:`run_network`: one run from a start point (a plain
  closure on a surface) or from a network's seeded initialisation (the loss and gradient
  from one :class:`~lls_core.engine.Engine`, L-BFGS-GSS stepped as the study trainer steps it);
* :func:`first_line_search`: the golden-section search of a network's first iteration,
  with the loss along the search direction on a grid (:class:`FirstLineSearch`), on the
  engine's :meth:`~lls_core.engine.Engine.lines`;
* :func:`first_reach`: when a run's loss first reaches a level (:class:`Reach`).

Example:

>>> tr = run_from_point("BGD", lambda w: (w ** 2).sum(), (1.0, -1.0), 20, lr=0.25)  # f halves w: f_k = 2 / 4**k
>>> first_reach(tr, 1e-3).iteration
6
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
import torch
from torch import Tensor, nn

from . import models, params
from .engine import Engine
from .lbfgs_gss import ComparedOptimizer, LineSearchResult, RunTrace, golden_section_search, run_optimizer, two_loop_direction

__all__ = ["run_from_point", "run_network", "FirstLineSearch", "first_line_search", "Reach", "first_reach"]


def run_from_point(name: ComparedOptimizer, f: Callable[[Tensor], Tensor], start: Sequence[float], evaluations: int,
                   *, lr: float | None = None, record_path: bool = True) -> RunTrace:
    """Run ``name`` on ``f`` from ``start`` (float64, ``(d,)``) until ``evaluations`` loss evaluations are spent.

    ``f``: maps a ``(d,)`` tensor to a scalar loss; ``lr``: for BGD and Adam (``None``: their
    defaults; the quasi-Newton methods ignore it). The path is recorded by default.
    """
    w = torch.tensor(list(start), dtype=torch.float64, requires_grad=True)
    return run_optimizer(name, [w], lambda: f(w), evaluations, lr=lr, max_evaluations=evaluations,
                         record_path=record_path)


def run_network(name: ComparedOptimizer, arch: str, seed: int, x: Tensor, y: Tensor, iterations: int, *,
                lr: float | None = None, max_evaluations: int | None = None,
                options: dict[str, Any] | None = None) -> RunTrace:
    """Run ``name`` on the full-batch loss of ``arch`` on ``(x, y)`` from the initialisation of ``seed``.

    The loss and gradient at the flat weights ``(d,)`` come from one
    :class:`~lls_core.engine.Engine` (``R = 1``), as in the study trainer; L-BFGS-GSS is
    stepped as :func:`lls_core.train.train` steps it (see
    :func:`~lls_core.lbfgs_gss.run_optimizer`). ``iterations``: at most this many optimizer
    steps; ``max_evaluations``: stop once this many loss evaluations are spent; ``options``
    go to the optimizer's constructor. Every call starts from the same weights for the same
    ``(arch, seed)``.
    """
    net = models.build(arch, seed=seed).to(x.device)
    w = params.flatten(net).requires_grad_(True)
    return run_optimizer(name, [w], Engine(net, (x, y)), iterations, lr=lr, max_evaluations=max_evaluations,
                         options=options)


@dataclass(frozen=True, eq=False)
class FirstLineSearch:
    """The golden-section search of the first iteration (no history: the direction is ``-g``).

    ``loss0``: loss at the start (nats); ``gradient_norm``: ``|g|``; ``search``: the
    :class:`~lls_core.lbfgs_gss.LineSearchResult` along the unit vector ``-g/|g|`` (step in
    parameter-space distance); ``t_grid``, ``loss_grid``: ``(n,)`` the loss along that line on a
    grid from 0 to 1.15 times the farthest trial.
    """

    loss0: float
    gradient_norm: float
    search: LineSearchResult
    t_grid: np.ndarray
    loss_grid: np.ndarray

    def facts(self) -> dict[str, Any]:
        """``gnorm``, ``step``, ``ratio`` (step / quasi-Newton step ``|r| = |g|``), ``drop`` (loss decrease), ``evals``."""
        return {"gnorm": self.gradient_norm, "step": self.search.step, "ratio": self.search.step / self.gradient_norm,
                "drop": self.loss0 - self.search.value, "evals": self.search.evaluations}


def first_line_search(model: nn.Module, x: Tensor, y: Tensor, *, first_trial: float = 0.2, budget: int = 6,
                      tol: float = 1e-4, grid: int = 60) -> FirstLineSearch:
    """The first L-BFGS-GSS line search of ``model`` on the full batch ``(x, y)``, with the loss along its line.

    ``first_trial``: the first trial step as a multiple of ``|r|``; ``budget``, ``tol``: as
    :func:`~lls_core.lbfgs_gss.golden_section_search`; ``grid``: points of the reference line.
    The loss, the gradient and every point on the line (trials and grid) come from one
    :class:`~lls_core.engine.Engine`; the line is its :meth:`~lls_core.engine.Engine.lines`
    (first stage at the start and along the direction computed once). The model is not changed.
    """
    if isinstance(grid, bool) or not isinstance(grid, int) or grid < 2:
        raise ValueError(f"grid={grid!r}: must be an int >= 2 (points of the reference line)")
    eng = Engine(model, (x, y))
    W0 = params.flatten(model).to(x.device)[None]  # (1, d)
    L0, G0, Z0 = eng.losses_and_grads(W0, keep_first=True)
    loss0, g0 = float(L0[0]), G0[0]
    r0 = two_loop_direction(g0, [], [])
    line = eng.lines(W0, (-r0 / r0.norm())[None], Z0=Z0)

    def phi(t: float) -> float:
        return float(line.losses(torch.tensor([t]))[0])

    search = golden_section_search(phi, f0=loss0, initial_step=first_trial * float(r0.norm()),
                                   budget=budget, tol=tol)
    t_grid = np.linspace(0.0, 1.15 * max(t for t, _ in search.trials), grid)
    loss_grid = line.losses(torch.as_tensor(t_grid), rows=torch.zeros(grid, dtype=torch.long, device=x.device))
    return FirstLineSearch(loss0, float(g0.norm()), search, t_grid, loss_grid.cpu().numpy().astype(np.float64))


@dataclass(frozen=True)
class Reach:
    """When a run's loss first reached ``level`` (``loss <= level``); all three ``None`` if it never did.

    ``iteration``: index of the iterate (0 = the start); ``evaluations``: cumulative loss
    evaluations there; ``seconds``: cumulative optimizer wall clock there.
    """

    level: float
    iteration: int | None
    evaluations: int | None
    seconds: float | None

    @property
    def reached(self) -> bool:
        return self.iteration is not None

    def facts(self, missing: str = "not within the run") -> dict[str, Any]:
        """``iters``, ``evals``, ``seconds`` (a string, one decimal); ``iters`` is ``missing`` and the
        others ``"-"`` when the level was not reached."""
        if not self.reached:
            return {"iters": missing, "evals": "-", "seconds": "-"}
        return {"iters": self.iteration, "evals": self.evaluations, "seconds": f"{self.seconds:.1f}"}

    def evaluations_or(self, missing: str = "more than the budget") -> int | str:
        """The evaluations it took, or ``missing`` when the level was not reached."""
        return self.evaluations if self.evaluations is not None else missing


def first_reach(trace: RunTrace, level: float) -> Reach:
    """The first iterate of ``trace`` whose loss is at most ``level``."""
    level = float(level)
    if not np.isfinite(level):
        raise ValueError(f"level={level!r}: must be a finite loss")
    hit = np.nonzero(trace.loss <= level)[0]
    if not hit.size:
        return Reach(level, None, None, None)
    i = int(hit[0])
    return Reach(level, i, int(trace.evaluations[i]), float(trace.seconds[i]))
