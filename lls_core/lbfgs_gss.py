"""L-BFGS-GSS: limited-memory BFGS with a derivative-free golden-section line search.

This is the quasi-Newton optimizer of Yu & Morozov (2026, Algorithm 1), written as a
:class:`torch.optim.Optimizer`. One call of :meth:`LBFGSGSS.step` is one iteration:

1. one forward+backward pass (the closure, with gradients enabled) gives the loss
   ``f(w)`` and the gradient ``g`` of shape ``(d,)``;
2. the newest pair ``s = w_k - w_{k-1}``, ``y = g_k - g_{k-1}`` enters the history of
   at most ``history_size`` pairs, unless it is unusable (see *resets*);
3. the two-loop recursion (Nocedal 1980) gives ``r = H g`` with the initial matrix
   ``H_0 = gamma I``, ``gamma = s.y / y.y`` of the newest pair (1 with no history);
4. a golden-section line search along the unit direction ``u = -r / |r|`` (first trial
   ``initial_step * |r|``, doubled while the loss falls, then golden sections of ratio
   0.382) uses at most ``line_search_budget`` *forward-only* loss evaluations;
5. the best point found is accepted only if its loss is strictly lower than ``f(w)``.

Resets (history cleared, steepest descent ``r = g`` for this iteration), each counted in
the optimizer's state and reported by :meth:`LBFGSGSS.diagnostics`, never printed:

* ``nonfinite``: the direction ``r`` or the gradient has a NaN/Inf entry;
* ``curvature``: the new pair has ``cos(s, y) = s.y / (|s| |y|) < curvature_eps`` (1e-4);
* ``zero_pair``: ``|s| |y| = 0``;
* ``no_decrease``: the line search found no point lower than the current loss; no step
  is taken (the parameters are left exactly as they were) and the history is cleared.

Forward-only evaluations
------------------------
The closure is written in the usual torch style, except that it must call
``loss.backward()`` only when gradients are enabled::

    def closure():
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        if torch.is_grad_enabled():
            loss.backward()
        return loss

:meth:`LBFGSGSS.step` calls it once under :func:`torch.enable_grad` (for ``g``) and then,
for every line-search trial, under :func:`torch.no_grad`: no graph is built and no backward
pass runs. A closure that calls ``backward()`` unconditionally fails on the first trial
with a ``RuntimeError`` that says so (instead of silently paying for a backward pass per
trial, as the authors' code does).

Two modes
---------
``mode="safe"`` (the default of the class) is the description above. ``mode="authors"``
follows the authors' optimizer class (``LBFGS_Brent`` in ``L-BFGS_GSS_NN.ipynb`` of
github.com/jy856-jpg/path-finding, commits 5a68028 and e11b717) step for step:

* the point the line search returns is **always** taken, even when its loss is higher than
  ``f(w)`` (an *uphill* step), and the history is not cleared for it;
* trial steps ``0.2, 0.8, 1.6, 3.2, ... x |r|`` (their step counter is raised twice after
  the first success, so ``0.4 |r|`` is never tried); a first trial above ``f(w)`` is
  shrunk to ``a + 0.382 (b - a)`` until a lower point appears;
* golden trials at ``0.382 (b - a)`` from one end of the bracket ``[a, b]`` (``a + 0.382 (b - a)``
  when the right part is larger, else ``b - 0.382 (b - a)``; the literal 0.382), stopping when
  ``|b - a| < tol`` or ``|f(a) - f(b)| < tol`` or the budget is spent;
* a tie (a trial whose loss equals the reference exactly) ends the search at the midpoint
  ``(a + t) / 2``, which is evaluated once more (outside the budget);
* ``rho = 1 / (s.y + 1e-6)`` in the two-loop recursion; the newest pair always enters the
  history, and the history is cleared when ``r`` has a NaN, when any pair held has
  ``cos(s, y) < 1e-4`` or ``|s| |y| = 0``; there is no check that ``-r`` descends.

Its line-search evaluations are forward-only as in the safe mode (their code runs a backward
pass at each); that changes the cost, not the trajectory. Two guards remain in both modes
because the authors' code would write NaN into the weights instead: a non-finite loss or
gradient at the start of a step (no step, history cleared) and an exactly zero gradient.
:class:`Diagnostics` counts, per iteration, the accepted uphill steps, the resets and the
iterations whose line search found nothing lower (``no_decrease``).

All state (history, counters, per-step diagnostics) lives in ``optimizer.state`` as
tensors, lists and numbers only, so ``state_dict()`` survives
``torch.save`` / ``torch.load(..., weights_only=True)`` and ``load_state_dict`` resumes a run
bit for bit.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import math
import time
from dataclasses import dataclass
from typing import Any, Callable, Generator, Iterable, Literal, Sequence, get_args

import numpy as np
import torch
from torch import Tensor

from . import checks
from .engine import Engine

__all__ = [
    "GOLDEN",
    "AUTHORS_GOLDEN",
    "AUTHORS_RHO_EPS",
    "Mode",
    "MODES",
    "authors_line_search",
    "RESET_REASONS",
    "LineSearchResult",
    "StepInfo",
    "Diagnostics",
    "golden_section_search",
    "two_loop_direction",
    "LBFGSGSS",
    "EvalRequest",
    "COMPARED_OPTIMIZERS",
    "ComparedOptimizer",
    "RunTrace",
    "run_optimizer",
]

GOLDEN: float = (3.0 - math.sqrt(5.0)) / 2.0
"""The golden-section fraction 0.381966...: the new trial sits this far into the larger segment."""

AUTHORS_GOLDEN: float = 0.382
"""The golden fraction as the authors' code writes it (``d_golden = (b - a) * 0.382``)."""

AUTHORS_RHO_EPS: float = 1e-6
"""The authors' two-loop recursion uses ``rho = 1 / (s.y + 1e-6)``."""

Mode = Literal["authors", "safe"]
"""``"authors"``: the authors' optimizer step for step; ``"safe"``: never accepts an uphill step."""

MODES: tuple[str, ...] = get_args(Mode)

RESET_REASONS: tuple[str, ...] = ("nonfinite", "curvature", "zero_pair", "no_decrease")
"""Names of the resets, in the order of their bits in ``StepInfo.reset_flags``."""


# --------------------------------------------------------------------------- line search


@dataclass(frozen=True)
class LineSearchResult:
    """Outcome of :func:`golden_section_search` on ``phi(t)``, ``t >= 0``.

    ``step``: accepted ``t`` (0.0 when no decrease was found); ``value``: ``phi(step)``
    (``phi(0)`` when no decrease); ``evaluations``: calls of ``phi`` made (including
    ``phi(0)`` when it was not supplied); ``decreased``: whether ``value < phi(0)``;
    ``bracket``: the final interval ``(lo, hi)`` known to hold the best point;
    ``trials``: every ``(t, phi(t))`` evaluated, in order (non-finite values as ``inf``).
    """

    step: float
    value: float
    evaluations: int
    decreased: bool
    bracket: tuple[float, float]
    trials: tuple[tuple[float, float], ...]


def _check_positive_int(name: str, value: Any, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name}={value!r}: must be an integer >= {minimum}")
    return value


def _check_positive_float(name: str, value: Any, *, allow_zero: bool = False) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name}={value!r}: must be a finite number {bound}")
    return float(value)


def _check_search_args(f: Any, budget: Any, initial_step: Any, tol: Any, expansion: Any) -> None:
    """The arguments both line searches share: a callable, a budget >= 1, positive step and tol, expansion > 1."""
    if not callable(f):
        raise TypeError(f"f must be callable (a 1-D function of the step), got {type(f).__name__}")
    _check_positive_int("budget", budget, minimum=1)
    _check_positive_float("initial_step", initial_step)
    _check_positive_float("tol", tol)
    if not isinstance(expansion, (int, float)) or not math.isfinite(expansion) or expansion <= 1.0:
        raise ValueError(f"expansion={expansion!r}: must be a finite number > 1")


def golden_section_search(
    f: Callable[[float], float],
    *,
    f0: float | None = None,
    initial_step: float = 1.0,
    budget: int = 6,
    tol: float = 1e-4,
    expansion: float = 2.0,
) -> LineSearchResult:
    """Minimise a 1-D function ``phi = f`` over ``t >= 0`` with at most ``budget`` calls.

    Bracketing: try ``t = initial_step``. If ``phi(t) < phi(0)``, multiply ``t`` by
    ``expansion`` while the value keeps falling; the last three points bracket a minimum.
    Otherwise shrink towards 0 by golden sections (``t <- 0.382 t``) until a value below
    ``phi(0)`` appears. Then golden-section search (Kiefer 1953) on the bracket
    ``a < b < c`` (``phi(b)`` lowest): each new trial sits a fraction 0.382 into the larger
    of ``[a, b]``, ``[b, c]``, so one evaluation per iteration shrinks the bracket.

    Stops when the budget is spent, or, once a decrease is in hand, when the bracket
    width ``c - a`` falls below ``tol`` or the bracket is flat to within ``tol``
    (``max(phi(a), phi(c)) - phi(b) < tol``); both tolerances are absolute.
    The search never returns a point whose value is not strictly below ``phi(0)``: when
    none is found it returns ``step=0.0``, ``value=phi(0)``, ``decreased=False``.
    Non-finite values of ``phi`` count as ``+inf`` (worse than any finite value).

    Raises ``ValueError`` for a non-positive budget (or 1 without ``f0``), non-positive
    ``initial_step`` or ``tol``, ``expansion <= 1``, or a non-finite ``phi(0)``.
    """
    _check_search_args(f, budget, initial_step, tol, expansion)
    if f0 is None and budget < 2:
        raise ValueError(f"budget={budget}: must be >= 2 when f0 is not given (phi(0) costs one call)")
    return _drive(_golden_section_steps(f0, float(initial_step), budget, tol, expansion), f)


def _drive(search: Generator[float, float, LineSearchResult], f: Callable[[float], Any]) -> LineSearchResult:
    """Run a line search written as a generator (it yields ``t``, receives ``phi(t)``) on the function ``f``."""
    try:
        t = next(search)
        while True:
            t = search.send(f(t))
    except StopIteration as stop:
        return stop.value


def _golden_section_steps(f0: float | None, initial_step: float, budget: int, tol: float,
                          expansion: float) -> Generator[float, Any, LineSearchResult]:
    """:func:`golden_section_search` as a generator: yields each trial ``t``, is sent ``phi(t)``.

    The one implementation of the search: the function drives it with ``f``, and an ensemble
    of runs (:class:`LBFGSGSS` steps driven by :meth:`LBFGSGSS.step_requests`) drives many at once.
    """
    trials: list[tuple[float, float]] = []

    def ev(t: float) -> Generator[float, Any, float]:
        v = float((yield t))
        if not math.isfinite(v):
            v = math.inf
        trials.append((t, v))
        return v

    if f0 is None:
        f0 = yield from ev(0.0)
    f0 = float(f0)
    if not math.isfinite(f0):
        raise ValueError(f"phi(0)={f0!r} is not finite; the line search needs a finite starting value")

    def done(step: float, value: float, lo: float, hi: float) -> LineSearchResult:
        return LineSearchResult(step, value, len(trials), value < f0, (lo, hi), tuple(trials))

    # Phase 1: find a point below phi(0) and a bracket a < b < c around it.
    a, b, c = 0.0, float(initial_step), math.inf
    fb = yield from ev(float(initial_step))
    fa, fc = f0, math.inf
    if fb < f0:
        while True:
            if len(trials) >= budget:  # still falling when the budget ran out: keep the best
                return done(b, fb, a, b)
            t = b * expansion
            ft = yield from ev(t)
            if ft < fb:
                a, fa, b, fb = b, fb, t, ft
            else:
                c, fc = t, ft
                break
    else:
        c, fc = b, fb
        while True:
            if len(trials) >= budget:
                return LineSearchResult(0.0, f0, len(trials), False, (0.0, c), tuple(trials))
            t = GOLDEN * c
            ft = yield from ev(t)
            if ft < f0:
                b, fb = t, ft
                break
            c, fc = t, ft

    # Phase 2: golden sections on a < b < c with phi(b) < phi(a), phi(b) <= phi(c); stop when
    # the bracket is narrower than tol or flat to within tol (both ends less than tol above b).
    while len(trials) < budget and (c - a) > tol and max(fa, fc) - fb >= tol:
        if (c - b) > (b - a):
            x = b + GOLDEN * (c - b)
        else:
            x = b - GOLDEN * (b - a)
        fx = yield from ev(x)
        if fx < fb:
            if x > b:
                a, fa, b, fb = b, fb, x, fx
            else:
                c, fc, b, fb = b, fb, x, fx
        elif x > b:
            c, fc = x, fx
        else:
            a, fa = x, fx
    return done(b, fb, a, c)


def authors_line_search(
    f: Callable[[float], float],
    *,
    f0: float,
    initial_step: float,
    budget: int = 6,
    tol: float = 1e-4,
    expansion: float = 2.0,
) -> LineSearchResult:
    """The authors' bracketing + golden-section search on ``phi = f`` over ``t > 0``.

    Transcribed from the description of ``LBFGS_Brent._brent_line_search`` (authors' notebook
    ``L-BFGS_GSS_NN.ipynb``, commits 5a68028 / e11b717). ``a = 0`` with ``phi(a) = f0``:

    * first trial ``t = initial_step`` (their ``0.2 |r|``);
    * if lower than ``f0``: trials ``initial_step * expansion**k`` for ``k = 2, 3, ...`` (their
      counter is raised twice after the first success) while each is lower than the best,
      shifting ``a`` to the previous best; the first higher one closes the bracket ``[a, b]``;
    * if higher than ``f0``: ``b = t``; trials ``a + 0.382 (b - a)`` until one is lower than
      ``f0``, each higher one becoming the new ``b``; before each such trial the search stops
      and returns ``b`` itself (a point *above* ``f0``) when ``|b - a| < tol`` or
      ``|f0 - phi(b)| < tol``;
    * golden phase on ``a < x < b`` (``x`` the best): trial ``a + 0.382 (b - a)`` when
      ``b - x > x - a``, else ``b - 0.382 (b - a)``; stop when ``|b - a| < tol`` or
      ``|phi(a) - phi(b)| < tol``;
    * a trial equal to the reference value (``f0`` or the best so far) ends the search: in the
      bracketing phases the midpoint ``(a + t) / 2`` is evaluated once more and returned, in
      the golden phase the best point is returned;
    * the budget counts trials (not ``phi(0)``, which is ``f0``); when it is spent the current
      best is returned, or, in the shrinking phase, the last (higher) trial.

    Unlike :func:`golden_section_search` the returned point may be higher than ``f0``
    (``decreased=False``, ``step > 0``), values are compared as given (a NaN compares as a
    tie), and ``evaluations`` includes the midpoint evaluation after a tie (so it can reach
    ``budget + 1``). ``bracket`` is the final ``(a, b)``.
    """
    _check_search_args(f, budget, initial_step, tol, expansion)
    f0 = float(f0)
    if not math.isfinite(f0):
        raise ValueError(f"phi(0)={f0!r} is not finite; the line search needs a finite starting value")
    return _drive(_authors_steps(f0, float(initial_step), budget, tol, expansion), f)


def _authors_steps(f0: float, initial_step: float, budget: int, tol: float,
                   expansion: float) -> Generator[float, Any, LineSearchResult]:
    """:func:`authors_line_search` as a generator (yields each trial ``t``, is sent ``phi(t)``): its one implementation."""
    trials: list[tuple[float, float]] = []

    def ev(t: float) -> Generator[float, Any, float]:
        v = float((yield t))
        trials.append((t, v))
        return v

    def done(step: float, value: float, lo: float, hi: float) -> LineSearchResult:
        return LineSearchResult(step, value, len(trials), value < f0, (lo, hi), tuple(trials))

    def midpoint(lo: float, t: float) -> Generator[float, Any, LineSearchResult]:
        m = (lo + t) / 2.0
        return done(m, (yield from ev(m)), lo, t)

    a, fa = 0.0, f0
    k = 0
    t = initial_step * expansion**k
    ft = yield from ev(t)
    n = 1
    if ft < fa:  # expand while the loss keeps falling
        k += 1
        x, fx = t, ft
        while True:
            k += 1
            t = initial_step * expansion**k
            ft = yield from ev(t)
            n += 1
            if ft < fx:
                a, fa, x, fx = x, fx, t, ft
                if n >= budget:
                    return done(x, fx, a, t)
            elif ft > fx:
                b, fb = t, ft
                if n >= budget:
                    return done(x, fx, a, b)
                break
            else:
                return (yield from midpoint(a, t))
    elif ft > fa:  # shrink towards a = 0 until a point below f0 appears
        b, fb = t, ft
        while True:
            if abs(b - a) < tol or abs(fa - fb) < tol:
                return done(b, fb, a, b)
            t = a + AUTHORS_GOLDEN * (b - a)
            ft = yield from ev(t)
            n += 1
            if ft < fa:
                x, fx = t, ft
                if n >= budget:
                    return done(x, fx, a, b)
                break
            elif ft > fa:
                b, fb = t, ft
                if n >= budget:
                    return done(b, fb, a, b)
            else:
                return (yield from midpoint(a, t))
    else:
        return (yield from midpoint(a, t))

    while n < budget:  # golden sections on a < x < b
        if abs(b - a) < tol or abs(fa - fb) < tol:
            break
        d = AUTHORS_GOLDEN * (b - a)
        t = a + d if (b - x) > (x - a) else b - d
        ft = yield from ev(t)
        n += 1
        if ft < fx:
            if t >= x:
                a, fa = x, fx
            else:
                b, fb = x, fx
            x, fx = t, ft
        elif ft > fx:
            if t < x:
                a, fa = t, ft
            elif t > x:
                b, fb = t, ft
        else:
            break
    return done(x, fx, a, b)


# --------------------------------------------------------------------------- two-loop recursion


def _ieee_div(a: float, b: float) -> float:
    """``a / b`` as a tensor division gives it (IEEE 754): ``±inf`` or NaN for ``b = 0``, never an exception.

    The authors' recursion divides tensors, so a vanished ``y`` (``y.y = 0``, e.g. once the
    gradient underflows near a perfect fit) makes ``r`` non-finite, and their NaN check then
    resets the history; Python's float division would raise ``ZeroDivisionError`` instead.
    """
    if b != 0.0:
        return a / b
    if a == 0.0 or math.isnan(a):
        return math.nan
    return math.copysign(math.inf, a) * math.copysign(1.0, b)


def two_loop_direction(
    g: Tensor, s_list: Sequence[Tensor], y_list: Sequence[Tensor], *, rho_eps: float = 0.0,
    ys: Sequence[float] | None = None,
) -> Tensor:
    """Return ``r = H g`` (shape ``(d,)``) by the L-BFGS two-loop recursion.

    ``H`` is the BFGS inverse-Hessian approximation built from the pairs
    ``(s_i, y_i)`` (oldest first), starting from ``H_0 = gamma I`` with
    ``gamma = s_m.y_m / y_m.y_m`` of the newest pair (``gamma = 1`` with no pairs).
    ``rho_i = 1 / (s_i.y_i + rho_eps)``: 0 is exact BFGS, the authors' code adds
    :data:`AUTHORS_RHO_EPS` (1e-6). ``ys`` may pass the ``float(torch.dot(y_i, s_i))`` already
    known (a held pair's never changes).
    """
    if len(s_list) != len(y_list):
        raise ValueError(f"s_list has {len(s_list)} vectors but y_list has {len(y_list)}")
    q = g.clone()
    m = len(s_list)
    if m == 0:
        return q
    # Scalars as Python floats (double precision) and in-place axpy updates: no temporaries
    # of size d beyond q itself.
    if ys is None:
        ys = [float(torch.dot(y, s)) for s, y in zip(s_list, y_list)]
    elif len(ys) != m:
        raise ValueError(f"ys has {len(ys)} values for {m} pairs")
    rho = [_ieee_div(1.0, v + rho_eps) for v in ys]
    alpha = [0.0] * m
    for i in range(m - 1, -1, -1):
        alpha[i] = rho[i] * float(torch.dot(s_list[i], q))
        q.add_(y_list[i], alpha=-alpha[i])
    gamma = _ieee_div(float(torch.dot(s_list[-1], y_list[-1])), float(torch.dot(y_list[-1], y_list[-1])))
    r = q.mul_(gamma)
    for i in range(m):
        beta = rho[i] * float(torch.dot(y_list[i], r))
        r.add_(s_list[i], alpha=alpha[i] - beta)
    return r


# --------------------------------------------------------------------------- diagnostics


@dataclass(frozen=True)
class StepInfo:
    """What one :meth:`LBFGSGSS.step` did.

    ``loss``: loss at the start (the closure's value); ``new_loss``: loss after the step
    (equal to ``loss`` when no step was taken); ``step_length``: Euclidean length of the
    update ``|w_new - w|`` (parameter units); ``step_ratio``: the accepted step as a
    multiple of the quasi-Newton step ``|r|`` (1.0 = full step ``w - H g``);
    ``evaluations``: forward-only line-search evaluations (one forward+backward comes on
    top); ``resets``: names from :data:`RESET_REASONS` that fired; ``history``: pairs
    ``(s, y)`` held at the end of the step (the ones that shaped its direction; 0 after a
    reset); ``uphill``: the step was taken although ``new_loss > loss`` (authors' mode only);
    ``no_decrease``: the line search found no point below ``loss`` (safe mode: no step
    taken; authors' mode: the step was taken anyway).
    """

    iteration: int
    loss: float
    new_loss: float
    step_length: float
    step_ratio: float
    evaluations: int
    resets: tuple[str, ...]
    history: int
    uphill: bool = False
    no_decrease: bool = False


@dataclass(frozen=True)
class Diagnostics:
    """The per-step record of a run (one entry per :meth:`LBFGSGSS.step`) and totals.

    Sequences have one entry per iteration (fields as in :class:`StepInfo`;
    ``reset_flags`` has bit ``k`` set when ``RESET_REASONS[k]`` fired; ``uphill`` and
    ``no_decrease`` are 0/1 flags); ``reset_counts`` maps each of
    :data:`RESET_REASONS` to how often it fired; ``gradient_evaluations`` counts
    forward+backward closure calls, ``forward_evaluations`` forward-only ones; ``mode`` is
    the optimizer's mode. The per-run counts are :attr:`uphill_steps`, :attr:`reset_steps`
    and :attr:`no_decrease_steps`.
    """

    loss: tuple[float, ...]
    new_loss: tuple[float, ...]
    step_length: tuple[float, ...]
    step_ratio: tuple[float, ...]
    evaluations: tuple[int, ...]
    reset_flags: tuple[int, ...]
    history: tuple[int, ...]
    reset_counts: dict[str, int]
    gradient_evaluations: int
    forward_evaluations: int
    uphill: tuple[int, ...] = ()
    no_decrease: tuple[int, ...] = ()
    mode: str = "safe"

    @property
    def iterations(self) -> int:
        return len(self.loss)

    @property
    def uphill_steps(self) -> int:
        """Iterations that accepted a point with a higher loss than where they started."""
        return int(sum(self.uphill))

    @property
    def no_decrease_steps(self) -> int:
        """Iterations whose line search found no point below the starting loss."""
        return int(sum(self.no_decrease))

    @property
    def reset_steps(self) -> int:
        """Iterations in which the history was cleared (any of :data:`RESET_REASONS`)."""
        return int(sum(1 for f in self.reset_flags if f))

    def counts(self) -> dict[str, int]:
        """``{"iterations", "uphill_steps", "reset_steps", "no_decrease_steps"}`` of this run."""
        return {"iterations": self.iterations, "uphill_steps": self.uphill_steps,
                "reset_steps": self.reset_steps, "no_decrease_steps": self.no_decrease_steps}

    def step(self, i: int) -> StepInfo:
        """Step ``i`` (0-based; negative counts from the end) as a :class:`StepInfo`."""
        if not -self.iterations <= i < self.iterations:
            raise IndexError(f"step {i} out of range: {self.iterations} steps recorded")
        i = i % self.iterations
        flags = self.reset_flags[i]
        names = tuple(n for k, n in enumerate(RESET_REASONS) if flags >> k & 1)
        return StepInfo(i + 1, self.loss[i], self.new_loss[i], self.step_length[i], self.step_ratio[i],
                        self.evaluations[i], names, self.history[i],
                        bool(self.uphill[i]) if self.uphill else False,
                        bool(self.no_decrease[i]) if self.no_decrease else False)


_DIAG_KEYS = ("loss", "new_loss", "step_length", "step_ratio", "evaluations", "reset_flags", "history",
              "uphill", "no_decrease")


@dataclass(frozen=True, eq=False)
class EvalRequest:
    """What one step of :meth:`LBFGSGSS.step_requests` asks for: the loss at the current parameters.

    ``grad``: also the gradient (a forward+backward pass; the driver sets ``.grad``), else the
    loss only (a forward pass, no graph: a line-search trial, on the line from this step's
    gradient point).
    """

    grad: bool


# --------------------------------------------------------------------------- the optimizer


class LBFGSGSS(torch.optim.Optimizer):
    """L-BFGS with a golden-section line search (Yu & Morozov 2026, Algorithm 1), full batch.

    Parameters
    ----------
    params: the tensors to optimise (one parameter group; all of one dtype and device,
        all with ``requires_grad=True``).
    history_size: pairs ``(s, y)`` kept (``m``; 10 in the paper).
    line_search_budget: forward-only loss evaluations per line search (6 in the paper).
    tol: line-search tolerance on the bracket width (parameter units, the search runs
        along a unit vector) and on the change of the best loss (1e-4 in the paper).
    initial_step: first trial step as a multiple of ``|r|`` (0.2 in the authors' code;
        1.0 would try the full quasi-Newton step first).
    expansion: factor by which the trial step grows while the loss falls (2).
    curvature_eps: a pair with ``cos(s, y)`` below this resets the history (1e-4).
    tolerance_grad: when ``max |g| <= tolerance_grad`` the step is skipped (converged).
    shrink_after_failure: after a line search without decrease, start the next one where
        it stopped (first trial ``0.382**budget`` times smaller, again after each failure;
        back to ``initial_step`` after a success). Without it the next iteration repeats
        the identical steepest-descent trials and the run stalls for good, e.g. on
        Rosenbrock from (-1.84, -0.93), where ``0.2 |g|`` overshoots by a factor of 1000.
        (The authors' search does not stall there: it moves to a *higher* point instead.)
        Safe mode only.
    mode: ``"safe"`` (default: never accepts a higher point, checks that ``-r`` descends,
        exact ``rho``) or ``"authors"`` (the authors' class step for step: see the module
        docstring). ``initial_step``, ``expansion``, ``curvature_eps`` and ``tol`` keep their
        meaning in both modes; the authors' values are the defaults.

    Use it like :class:`torch.optim.LBFGS`: ``loss = opt.step(closure)`` (one iteration;
    it returns the closure's loss at the starting point). See the module docstring for
    how the closure must treat ``backward()``.

    Examples
    --------
    Minimise the Rosenbrock function from (-1.5, 2):

    >>> import torch
    >>> w = torch.tensor([-1.5, 2.0], requires_grad=True)
    >>> opt = LBFGSGSS([w])
    >>> def closure():
    ...     opt.zero_grad()
    ...     loss = (1 - w[0]) ** 2 + 100 * (w[1] - w[0] ** 2) ** 2
    ...     if torch.is_grad_enabled():   # line-search trials run without gradients
    ...         loss.backward()
    ...     return loss
    >>> for _ in range(100):
    ...     _ = opt.step(closure)
    >>> [round(v, 3) for v in w.tolist()]
    [1.0, 1.0]
    """

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict[str, Any]],
        history_size: int = 10,
        line_search_budget: int = 6,
        tol: float = 1e-4,
        *,
        initial_step: float = 0.2,
        expansion: float = 2.0,
        curvature_eps: float = 1e-4,
        tolerance_grad: float = 0.0,
        shrink_after_failure: bool = True,
        mode: Mode = "safe",
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"mode={mode!r}: valid: {', '.join(MODES)}")
        _check_positive_int("history_size", history_size)
        _check_positive_int("line_search_budget", line_search_budget)
        _check_positive_float("tol", tol)
        _check_positive_float("initial_step", initial_step)
        _check_positive_float("curvature_eps", curvature_eps, allow_zero=True)
        _check_positive_float("tolerance_grad", tolerance_grad, allow_zero=True)
        if not isinstance(expansion, (int, float)) or not math.isfinite(expansion) or expansion <= 1.0:
            raise ValueError(f"expansion={expansion!r}: must be a finite number > 1")
        defaults = dict(
            history_size=history_size,
            line_search_budget=line_search_budget,
            tol=float(tol),
            initial_step=float(initial_step),
            expansion=float(expansion),
            curvature_eps=float(curvature_eps),
            tolerance_grad=float(tolerance_grad),
            shrink_after_failure=bool(shrink_after_failure),
            mode=mode,
        )
        super().__init__(params, defaults)
        # Per held pair (s, y): y.s and |s||y|, which never change (see _pair_stats).
        self._pairs: dict[tuple[int, int], tuple[Tensor, Tensor, float, float | None]] = {}
        if len(self.param_groups) != 1:
            raise ValueError(
                f"LBFGSGSS supports exactly one parameter group, got {len(self.param_groups)}; "
                "pass model.parameters() (or one list of tensors)"
            )
        self._params: list[Tensor] = self.param_groups[0]["params"]
        first = self._params[0]
        for i, p in enumerate(self._params):
            if not p.requires_grad:
                raise ValueError(f"parameter {i} (shape {tuple(p.shape)}) has requires_grad=False; "
                                 "pass only trainable tensors")
            if not p.is_floating_point():
                raise TypeError(f"parameter {i} has dtype {p.dtype}; L-BFGS-GSS needs floating-point parameters")
            if p.dtype != first.dtype or p.device != first.device:
                raise ValueError(f"parameter {i} is {p.dtype} on {p.device} but parameter 0 is "
                                 f"{first.dtype} on {first.device}; all must match")

    # ---------------------------------------------------------------- helpers
    def _state(self) -> dict[str, Any]:
        # Global state registered on the first parameter (as torch.optim.LBFGS does), so that
        # load_state_dict casts the tensors onto the parameters' device and dtype.
        state = self.state[self._params[0]]
        if "n_iter" not in state:
            state["n_iter"] = 0
            state["gradient_evaluations"] = 0
            state["forward_evaluations"] = 0
            state["old_s"] = []
            state["old_y"] = []
            state["prev_grad"] = None
            state["prev_step"] = None
            state["resets"] = {name: 0 for name in RESET_REASONS}
            state["shrink"] = 1.0
            state["diag"] = {key: [] for key in _DIAG_KEYS}
        return state

    def _pair_stats(self, st: dict[str, Any], *, magnitudes: bool) -> list[tuple[float, float | None]]:
        """``(y.s, |s||y|)`` of each held pair (``|s||y|`` only with ``magnitudes``), each computed once per pair.

        The same floats as computing them afresh (same operations on the same tensors);
        the cache holds its pairs, so a pair's ``id`` cannot be reused while it is cached.
        """
        cache: dict[tuple[int, int], tuple[Tensor, Tensor, float, float | None]] = {}
        out = []
        for s_i, y_i in zip(st["old_s"], st["old_y"]):
            key = (id(s_i), id(y_i))
            old = self._pairs.get(key)
            ys = old[2] if old is not None else float(torch.dot(y_i, s_i))
            mag = old[3] if old is not None else None
            if magnitudes and mag is None:
                mag = float(s_i.norm()) * float(y_i.norm())
            cache[key] = (s_i, y_i, ys, mag)
            out.append((ys, mag))
        self._pairs = cache
        return out

    def _flat_params(self) -> Tensor:
        return torch.cat([p.detach().reshape(-1) for p in self._params])

    def _set_flat(self, w: Tensor) -> None:
        i = 0
        for p in self._params:
            n = p.numel()
            p.copy_(w[i : i + n].view_as(p))
            i += n

    def _flat_grad(self) -> Tensor:
        if all(p.grad is None for p in self._params):
            raise ValueError(
                "the closure left every parameter without a gradient: call loss.backward() inside "
                "the closure when torch.is_grad_enabled()"
            )
        parts = []
        for p in self._params:
            if p.grad is None:
                parts.append(torch.zeros(p.numel(), dtype=p.dtype, device=p.device))
            elif p.grad.is_sparse:
                raise ValueError("LBFGSGSS does not support sparse gradients")
            else:
                parts.append(p.grad.detach().reshape(-1))
        return torch.cat(parts)  # a new tensor, never a view of .grad

    @staticmethod
    def _forward(closure: Callable[[], Any]) -> float:
        try:
            with torch.no_grad():
                value = closure()
        except RuntimeError as err:
            if "does not require grad" in str(err) or "does not have a grad_fn" in str(err):
                raise RuntimeError(
                    "the closure called backward() during a forward-only line-search evaluation. "
                    "L-BFGS-GSS evaluates trial points under torch.no_grad(); write the closure as "
                    "'loss = ...; if torch.is_grad_enabled(): loss.backward(); return loss'"
                ) from err
            raise
        return float(value)

    def diagnostics(self) -> Diagnostics:
        """The per-step record of this optimizer so far (a frozen snapshot)."""
        st = self._state()
        d = st["diag"]
        return Diagnostics(
            loss=tuple(d["loss"]),
            new_loss=tuple(d["new_loss"]),
            step_length=tuple(d["step_length"]),
            step_ratio=tuple(d["step_ratio"]),
            evaluations=tuple(int(e) for e in d["evaluations"]),
            reset_flags=tuple(int(f) for f in d["reset_flags"]),
            history=tuple(int(h) for h in d["history"]),
            reset_counts=dict(st["resets"]),
            gradient_evaluations=int(st["gradient_evaluations"]),
            forward_evaluations=int(st["forward_evaluations"]),
            uphill=tuple(int(u) for u in d.get("uphill", ())),
            no_decrease=tuple(int(u) for u in d.get("no_decrease", ())),
            mode=str(self.param_groups[0].get("mode", "safe")),
        )

    @property
    def last_step(self) -> StepInfo | None:
        """The most recent step's :class:`StepInfo`, or ``None`` before the first step."""
        diag = self.diagnostics()
        return diag.step(-1) if diag.iterations else None

    def state_dict(self) -> dict[str, Any]:
        """A deep copy of the optimizer state (independent of later steps)."""
        return copy.deepcopy(super().state_dict())

    # ---------------------------------------------------------------- the iteration
    @torch.no_grad()
    # the closure is required here (the line search re-evaluates the loss); torch's base makes it optional
    def step(self, closure: Callable[[], Any]) -> Any:  # type: ignore[override]
        """Run one L-BFGS-GSS iteration and return the closure's loss at the starting point."""
        if closure is None or not callable(closure):
            raise TypeError("LBFGSGSS.step needs a closure that re-evaluates the loss (see the class docstring)")
        requests = self.step_requests()
        try:
            request = next(requests)
            while True:
                if request.grad:
                    with torch.enable_grad():
                        value = closure()
                else:
                    value = self._forward(closure)
                request = requests.send(value)
        except StopIteration as stop:
            return stop.value
        except BaseException:
            requests.close()  # a failed trial: the search puts the parameters back where it started
            raise

    def step_requests(self) -> Generator[EvalRequest, Any, Any]:
        """One iteration as a generator of the evaluations it needs (what :meth:`step` runs with a closure).

        Each yielded :class:`EvalRequest` asks for the loss at the current parameters (they
        are set before the yield); the driver sends back that loss (a float or a 0-d tensor),
        after setting each parameter's ``.grad`` when ``request.grad``. The generator returns
        what :meth:`step` returns. Drive it under :func:`torch.no_grad`. This lets one
        coordinator step many runs together, batching their requests, with no threads:
        each run's history, line search and counters stay its own.
        """
        group = self.param_groups[0]
        st = self._state()
        flags = 0

        orig = yield EvalRequest(True)
        st["gradient_evaluations"] += 1
        loss = float(orig.detach()) if isinstance(orig, Tensor) else float(orig)
        if st["n_iter"] == 0 and not math.isfinite(loss):
            raise ValueError(f"the closure returned a non-finite loss ({loss}) at the starting point")
        g = self._flat_grad()

        def record(new_loss: float, length: float, ratio: float, evals: int, fl: int,
                   uphill: bool = False, no_decrease: bool | None = None) -> Any:
            st["n_iter"] += 1
            d = st["diag"]
            if no_decrease is None:
                no_decrease = bool(fl >> RESET_REASONS.index("no_decrease") & 1)
            values = (loss, new_loss, length, ratio, evals, fl, len(st["old_s"]), int(uphill), int(no_decrease))
            for key, val in zip(_DIAG_KEYS, values):
                d.setdefault(key, []).append(val)
            for k, name in enumerate(RESET_REASONS):
                if fl >> k & 1:
                    st["resets"][name] += 1
            return orig

        g_max = float(g.abs().max())  # NaN or inf exactly when g has a non-finite entry (max propagates NaN)
        if not math.isfinite(loss) or not math.isfinite(g_max):
            # A NaN/Inf at the start of a later step (e.g. a data-dependent closure): no step,
            # forget the curvature information, try again next time.
            st["old_s"], st["old_y"] = [], []
            st["prev_grad"], st["prev_step"] = None, None
            return record(loss, 0.0, 0.0, 0, 1 << RESET_REASONS.index("nonfinite"))

        if group.get("mode", "safe") == "authors":
            return (yield from self._step_authors(st, group, loss, g, g_max, record))

        # Update the history with the newest pair, unless it is unusable.
        if st["prev_grad"] is not None and st["prev_step"] is not None:
            s = st["prev_step"]
            y = g - st["prev_grad"]
            sy = float(torch.dot(s, y))
            norm_prod = float(s.norm() * y.norm())
            if not math.isfinite(sy) or not math.isfinite(norm_prod):
                flags |= 1 << RESET_REASONS.index("nonfinite")
            elif norm_prod == 0.0:
                flags |= 1 << RESET_REASONS.index("zero_pair")
            elif sy / norm_prod < group["curvature_eps"]:
                flags |= 1 << RESET_REASONS.index("curvature")
            else:
                st["old_s"].append(s)
                st["old_y"].append(y)
                while len(st["old_s"]) > group["history_size"]:
                    st["old_s"].pop(0)
                    st["old_y"].pop(0)
            if flags:
                st["old_s"], st["old_y"] = [], []

        if g_max <= group["tolerance_grad"]:
            st["prev_grad"], st["prev_step"] = None, None
            return record(loss, 0.0, 0.0, 0, flags)

        r = two_loop_direction(g, st["old_s"], st["old_y"], ys=[v for v, _ in self._pair_stats(st, magnitudes=False)])
        r_norm = float(r.norm())
        if not math.isfinite(r_norm) or r_norm == 0.0 or float(torch.dot(g, r)) <= 0.0:
            # Not a descent direction: non-finite entries, or (rarely, by round-off) g.r <= 0.
            reason = "nonfinite" if not math.isfinite(r_norm) else "curvature"
            flags |= 1 << RESET_REASONS.index(reason)
            st["old_s"], st["old_y"] = [], []
            r = g.clone()
            r_norm = float(r.norm())
        u = r / (-r_norm)  # unit descent direction

        first_trial = group["initial_step"] * r_norm * st["shrink"]
        if not first_trial > 0.0 or not math.isfinite(first_trial):
            # The trial step underflowed after repeated failures: nothing left to try.
            st["prev_grad"], st["prev_step"] = None, None
            return record(loss, 0.0, 0.0, 0, flags | 1 << RESET_REASONS.index("no_decrease"))

        res, move, w0 = yield from self._search_line(
            st, u, _golden_section_steps,
            f0=loss,
            initial_step=first_trial,
            budget=group["line_search_budget"],
            tol=group["tol"],
            expansion=group["expansion"],
        )

        if not res.decreased:
            self._set_flat(w0)
            if group["shrink_after_failure"]:
                st["shrink"] *= GOLDEN ** res.evaluations
            st["old_s"], st["old_y"] = [], []
            st["prev_grad"], st["prev_step"] = None, None
            return record(loss, 0.0, 0.0, res.evaluations, flags | 1 << RESET_REASONS.index("no_decrease"))

        move(res.step)
        step_vec = self._flat_params() - w0  # the step actually taken, after rounding
        st["shrink"] = 1.0
        st["prev_grad"] = g
        st["prev_step"] = step_vec
        return record(res.value, float(step_vec.norm()), res.step / r_norm, res.evaluations, flags)


    def _search_line(self, st: dict[str, Any], u: Tensor, search: Callable[..., Generator[float, Any, Any]],
                     **kwargs: Any) -> Generator[EvalRequest, Any, tuple[Any, Callable[[float], None], Tensor]]:
        """Run the line search ``search(**kwargs)`` on ``phi(t) = loss(w0 + t u)`` (forward-only evaluations).

        Returns the search's result, ``move(t)`` (sets the parameters to ``w0 + t u`` with the
        same arithmetic for the trials and for the accepted point, so the accepted weights are
        exactly the ones whose loss was measured) and ``w0``. The parameters are restored to
        ``w0`` if the search fails; the evaluations are added to ``st["forward_evaluations"]``
        either way.
        """
        _check_search_args(self._search_line, kwargs["budget"], kwargs["initial_step"], kwargs["tol"],
                           kwargs["expansion"])
        w0 = self._flat_params()
        evals = 0
        p0 = self._params[0]
        if len(self._params) == 1 and p0.is_contiguous():
            direct = p0.detach().view(-1)  # one flat parameter: trial points are written into it

            def move(t: float) -> None:
                torch.add(w0, u, alpha=t, out=direct)
        else:
            trial = torch.empty_like(w0)

            def move(t: float) -> None:
                self._set_flat(torch.add(w0, u, alpha=t, out=trial))

        steps = search(kwargs["f0"], float(kwargs["initial_step"]), kwargs["budget"], kwargs["tol"],
                       kwargs["expansion"])
        try:
            t = next(steps)
            while True:
                evals += 1
                move(t)
                value = yield EvalRequest(False)
                t = steps.send(float(value))
        except StopIteration as stop:
            res = stop.value
        except BaseException:
            self._set_flat(w0)
            raise
        finally:
            st["forward_evaluations"] += evals
        return res, move, w0

    def _step_authors(self, st: dict[str, Any], group: dict[str, Any], loss: float, g: Tensor, g_max: float,
                      record: Callable[..., Any]) -> Generator[EvalRequest, Any, Any]:
        """One iteration of the authors' class (``mode="authors"``), after the gradient is in hand."""
        flags = 0
        if st["prev_grad"] is not None and st["prev_step"] is not None:
            # The newest pair always enters the history (oldest dropped beyond history_size).
            st["old_s"].append(st["prev_step"])
            st["old_y"].append(g - st["prev_grad"])
            while len(st["old_s"]) > group["history_size"]:
                st["old_s"].pop(0)
                st["old_y"].pop(0)

        if g_max <= group["tolerance_grad"]:
            st["prev_grad"], st["prev_step"] = None, None
            return record(loss, 0.0, 0.0, 0, flags)

        stats = self._pair_stats(st, magnitudes=True)
        r = two_loop_direction(g, st["old_s"], st["old_y"], rho_eps=AUTHORS_RHO_EPS, ys=[v for v, _ in stats])
        # Their check, after the recursion: any held pair with |s||y| = 0 or cos(s, y) < eps,
        # or a NaN in r (an Inf, which their code would carry into NaN weights, counts too).
        for ys_i, mag in stats:
            assert mag is not None
            if mag == 0.0:
                flags |= 1 << RESET_REASONS.index("zero_pair")
            elif ys_i / mag < group["curvature_eps"]:
                flags |= 1 << RESET_REASONS.index("curvature")
        if not math.isfinite(float(r.abs().max())):  # a NaN or Inf entry (max propagates NaN)
            flags |= 1 << RESET_REASONS.index("nonfinite")
        if flags:
            st["old_s"], st["old_y"] = [], []
            r = g.clone()
        r_norm = float(r.norm())
        u = r / (-r_norm)  # unit direction along -r
        res, move, w0 = yield from self._search_line(
            st, u, _authors_steps,
            f0=loss,
            initial_step=group["initial_step"] * r_norm,
            budget=group["line_search_budget"],
            tol=group["tol"],
            expansion=group["expansion"],
        )

        # Always take the returned point, even when it is higher than the start.
        move(res.step)
        step_vec = self._flat_params() - w0
        st["prev_grad"] = g
        st["prev_step"] = step_vec
        return record(res.value, float(step_vec.norm()), res.step / r_norm, res.evaluations, flags,
                      uphill=res.value > loss, no_decrease=not res.value < loss)


# --------------------------------------------------------------------------- comparison runs

ComparedOptimizer = Literal["L-BFGS-GSS", "L-BFGS", "BGD", "Adam"]
COMPARED_OPTIMIZERS: tuple[ComparedOptimizer, ...] = ("L-BFGS-GSS", "L-BFGS", "BGD", "Adam")
"""Optimizers :func:`run_optimizer` compares on one closure: ours, torch's L-BFGS (strong Wolfe),
``"BGD"`` (batch gradient descent: ``torch.optim.SGD`` on the full batch, not stochastic; the same
algorithm as the survey's BGD rule) and full-batch Adam.
Not the survey's 2-D rules (:data:`lls_core.optimizers.SURFACE_RULES`, whose "SGD" has a noisy
gradient) nor the network trainers (:data:`lls_core.train.NETWORK_OPTIMIZERS`, whose ``"sgd"`` is
mini-batch SGD)."""


@dataclass(frozen=True, eq=False)
class RunTrace:
    """One optimizer run, iteration by iteration (index 0 = the starting point).

    ``loss``: ``(n + 1,)`` loss at each iterate; ``gradient_evaluations`` and
    ``forward_evaluations``: ``(n + 1,)`` cumulative counts of forward+backward and of
    forward-only loss evaluations; ``seconds``: ``(n + 1,)`` cumulative wall clock of the
    optimizer steps (s); ``step_length``: ``(n,)`` Euclidean length of each update;
    ``step_ratio``: ``(n,)`` accepted step over the quasi-Newton step ``|H g|`` (L-BFGS-GSS
    only, NaN otherwise); ``path``: ``(n + 1, d)`` iterates when recorded, else ``None``;
    ``diagnostics``: the L-BFGS-GSS optimizer's :class:`Diagnostics` of the whole run (its
    mode and per-iteration counts), ``None`` for the other optimizers and after :meth:`truncate`.
    """

    optimizer: str
    loss: np.ndarray
    gradient_evaluations: np.ndarray
    forward_evaluations: np.ndarray
    seconds: np.ndarray
    step_length: np.ndarray
    step_ratio: np.ndarray
    path: np.ndarray | None
    diagnostics: Diagnostics | None = None

    @property
    def evaluations(self) -> np.ndarray:
        """All loss evaluations (forward+backward and forward-only), cumulative, ``(n + 1,)``."""
        return self.gradient_evaluations + self.forward_evaluations

    @property
    def iterations(self) -> int:
        return len(self.loss) - 1

    def truncate(self, max_evaluations: int) -> "RunTrace":
        """The run up to its last iterate reached within ``max_evaluations`` evaluations."""
        _check_positive_int("max_evaluations", max_evaluations)
        k = int(np.searchsorted(self.evaluations, max_evaluations, side="right")) - 1
        return RunTrace(
            optimizer=self.optimizer,
            loss=self.loss[: k + 1],
            gradient_evaluations=self.gradient_evaluations[: k + 1],
            forward_evaluations=self.forward_evaluations[: k + 1],
            seconds=self.seconds[: k + 1],
            step_length=self.step_length[:k],
            step_ratio=self.step_ratio[:k],
            path=None if self.path is None else self.path[: k + 1],
        )


class _CachedClosure:
    """The closure of a compared run: counts evaluations and answers repeated requests for an evaluated point.

    ``evaluate(grad)`` returns the loss at the current parameters and, when ``grad``,
    leaves the gradient in their ``.grad`` (:func:`_loss_fn_evaluate`: a loss closure and
    its ``backward``; :func:`_engine_evaluate`: one :class:`~lls_core.engine.Engine` at one
    flat weight vector). A call with gradients enabled is one forward+backward
    evaluation, one without is a forward-only one.

    ``torch.optim.LBFGS`` re-evaluates the current point at the start of every ``step``;
    in a single long ``step(max_iter=n)`` it would reuse the line search's last value.
    The cache makes ``max_iter=1`` steps (needed to observe each iteration) cost the same
    as the single long call: a hit restores the stored loss and gradients.
    """

    def __init__(self, params: list[Tensor], evaluate: Callable[[bool], Tensor], cache: bool) -> None:
        self.params, self.evaluate, self.cache = params, evaluate, cache
        self.store: dict[bytes, tuple[Tensor, list[Tensor | None]]] = {}
        self.backward = 0
        self.forward = 0

    def __call__(self) -> Tensor:
        grad = torch.is_grad_enabled()
        key = b""
        if self.cache and grad:
            key = torch.cat([p.detach().reshape(-1) for p in self.params]).cpu().numpy().tobytes()
            hit = self.store.get(key)
            if hit is not None:
                for p, g in zip(self.params, hit[1]):
                    p.grad = None if g is None else g.clone()
                return hit[0]
        for p in self.params:
            p.grad = None
        loss = self.evaluate(grad)
        if grad:
            self.backward += 1
            if self.cache:
                if len(self.store) > 64:
                    self.store.clear()
                self.store[key] = (loss.detach(), [None if p.grad is None else p.grad.clone() for p in self.params])
        else:
            self.forward += 1
        return loss


def _loss_fn_evaluate(loss_fn: Callable[[], Tensor]) -> Callable[[bool], Tensor]:
    """``evaluate(grad)`` of a loss closure: its loss, back-propagated when ``grad``."""

    def evaluate(grad: bool) -> Tensor:
        loss = loss_fn()
        if grad:
            loss.backward()
        return loss

    return evaluate


def _engine_evaluate(engine: Engine, w: Tensor) -> Callable[[bool], Tensor]:
    """``evaluate(grad)`` of one network run on ``engine`` at the flat weights ``w`` ``(d,)`` (``R = 1``).

    With ``grad`` the loss and gradient come from :meth:`~lls_core.engine.Engine.losses_and_grads`
    (the gradient is written to ``w.grad``), else the loss from :meth:`~lls_core.engine.Engine.losses`.
    """

    def evaluate(grad: bool) -> Tensor:
        W = w.detach()[None]
        if grad:
            L, G, _ = engine.losses_and_grads(W)
            w.grad = G[0]
            return L[0]
        return engine.losses(W)[0]

    return evaluate


@dataclass(frozen=True, eq=False)
class _GSSFactory:
    """``make(ps)``: an :class:`LBFGSGSS` on ``ps`` with ``options`` (what :class:`~lls_core.train.FullBatchEnsemble` builds one run's optimizer with)."""

    options: dict[str, Any]

    def make(self, ps: Iterable[Tensor]) -> "LBFGSGSS":
        return LBFGSGSS(ps, **self.options)


@dataclass(eq=False)
class _Run:
    """One compared run as :func:`run_optimizer` steps it: the optimizer and how to read it.

    ``step()``: one iteration, returning the loss at its starting point; ``weights()``: the
    current flat weights (a copy); ``counts()``: cumulative (forward+backward, forward-only)
    evaluations; ``gss``: the L-BFGS-GSS optimizer, if that is the one run.
    """

    opt: torch.optim.Optimizer
    step: Callable[[], Tensor | float]
    weights: Callable[[], Tensor]
    counts: Callable[[], tuple[int, int]]
    gss: LBFGSGSS | None


def _make_optimizer(name: ComparedOptimizer, params: list[Tensor], lr: float | None, opts: dict[str, Any]) -> torch.optim.Optimizer:
    if name == "L-BFGS-GSS":
        return LBFGSGSS(params, **opts)
    if name == "L-BFGS":
        opts = {"lr": 1.0 if lr is None else lr, "history_size": 10, "max_eval": 25,
                "tolerance_grad": 0.0, "tolerance_change": 0.0, **opts}
        return torch.optim.LBFGS(params, max_iter=1, line_search_fn="strong_wolfe", **opts)
    if name == "BGD":
        return torch.optim.SGD(params, lr=0.1 if lr is None else lr, **opts)
    return torch.optim.Adam(params, lr=0.01 if lr is None else lr, **opts)


def _closure_run(name: ComparedOptimizer, params: list[Tensor], evaluate: Callable[[bool], Tensor],
                 lr: float | None, opts: dict[str, Any]) -> _Run:
    """A torch.optim loop on one closure (every optimizer on a 2-D surface; BGD, Adam and L-BFGS on a network)."""
    opt = _make_optimizer(name, params, lr, opts)
    closure = _CachedClosure(params, evaluate, cache=(name == "L-BFGS"))

    def step() -> Tensor | float:
        if name in ("BGD", "Adam"):
            loss = closure()  # forward+backward at the current point (clears .grad first)
            opt.step()
            return loss
        # torch's stubs type a closure as () -> float; torch.optim's closures return the loss tensor
        stepped = opt.step(closure)  # type: ignore[arg-type]
        if stepped is None:  # never: step(closure) returns the closure's loss
            raise RuntimeError(f"{name}.step(closure) returned no loss")
        return stepped

    return _Run(opt, step, lambda: torch.cat([p.detach().reshape(-1) for p in params]).clone(),
                lambda: (closure.backward, closure.forward), opt if isinstance(opt, LBFGSGSS) else None)


def _ensemble_run(engine: Engine, w: Tensor, opts: dict[str, Any], stack: contextlib.ExitStack) -> _Run:
    """L-BFGS-GSS on ``engine`` from ``w`` ``(d,)``: the study trainer's full-batch path with one run.

    :class:`lls_core.train.FullBatchEnsemble` (``R = 1``) steps the optimizer's request
    generator, its gradients and line-search trials answered by :class:`~lls_core.engine.Anchors`
    (a trial along the line costs the layers above the first only).
    """
    from .train import FullBatchEnsemble  # train imports this module's optimizer lazily, and this one train's

    ens = stack.enter_context(FullBatchEnsemble(_GSSFactory(opts), engine, w.detach()[None]))
    gss = ens.opts[0]
    assert isinstance(gss, LBFGSGSS)

    def step() -> float:
        ens.step([0])
        last = gss.last_step
        assert last is not None
        return last.loss

    def counts() -> tuple[int, int]:
        st = gss._state()
        return int(st["gradient_evaluations"]), int(st["forward_evaluations"])

    return _Run(gss, step, lambda: ens.W[0].clone(), counts, gss)


def _engine_weights(params: list[Tensor], engine: Engine) -> Tensor:
    """The one flat weight vector ``(d,)`` an engine run optimises; a clear error for anything else."""
    m = engine.module
    if m is None:
        raise TypeError("run_optimizer on an Engine needs a network engine (an nn.Module with data), not a surface; "
                        "for a surface pass a loss closure")
    d = sum(p.numel() for p in m.parameters() if p.requires_grad)
    w = params[0]
    if len(params) != 1 or w.shape != (d,) or not w.is_floating_point():
        shapes = [tuple(p.shape) for p in params]
        raise ValueError(f"params {shapes}: an Engine run takes one flat float weight vector of shape ({d},)")
    if w.device != engine.x.device:
        raise ValueError(f"params are on {w.device} but the engine's data on {engine.x.device}; put them on one device")
    return w


def run_optimizer(
    name: ComparedOptimizer,
    params: Sequence[Tensor],
    loss_fn: Callable[[], Tensor] | Engine,
    n_iter: int,
    *,
    lr: float | None = None,
    max_evaluations: int | None = None,
    record_path: bool = False,
    options: dict[str, Any] | None = None,
) -> RunTrace:
    """Run optimizer ``name`` (one of :data:`COMPARED_OPTIMIZERS`) for ``n_iter`` iterations, in place.

    ``params``: the tensors to optimise (changed in place). ``loss_fn``: either a closure
    returning the scalar loss at the current parameters, building a graph when gradients
    are enabled (no ``backward`` inside: the runner calls it), or an
    :class:`~lls_core.engine.Engine` of one network, with ``params`` its one flat weight
    vector ``(d,)``: then every loss and gradient comes from the engine (``R = 1``), and
    L-BFGS-GSS runs as the study trainer runs it (:class:`lls_core.train.FullBatchEnsemble`
    with one run: trials along the search line through :class:`~lls_core.engine.Anchors`).
    One iteration is one ``step``: for
    L-BFGS-GSS one forward+backward plus its line search, for ``"L-BFGS"``
    (``torch.optim.LBFGS``, strong-Wolfe line search, ``max_iter=1`` per step, evaluations
    cached so that the count equals one long ``step(max_iter=n)`` call) one quasi-Newton
    iteration with all its line-search evaluations (forward+backward each), for BGD and
    Adam one full-batch gradient step with learning rate ``lr`` (defaults 0.1 and 0.01).
    With ``max_evaluations`` the run also stops after the iteration in which the count of
    all loss evaluations reaches it; it always stops after an iteration that evaluated
    nothing new (torch's L-BFGS once its tolerances say it has converged), so the trace
    may be shorter than ``n_iter``. ``options`` go to the optimizer's constructor. The
    counts are the same on either kind of ``loss_fn``.

    The loss of each iterate is the one the optimizer itself computed there; only the
    final iterate of BGD, Adam and L-BFGS costs one extra, uncounted and untimed, forward.
    ``step_ratio`` is the accepted step as a multiple of the quasi-Newton step ``|H g|``
    for L-BFGS-GSS, torch's accepted ``t`` for L-BFGS (1 = the full quasi-Newton step from
    the second iteration on), NaN for BGD and Adam.
    """
    checks.name("name", name, COMPARED_OPTIMIZERS, what="optimizer")
    _check_positive_int("n_iter", n_iter)
    if max_evaluations is not None:
        _check_positive_int("max_evaluations", max_evaluations)
    params = list(params)
    if not params or not all(isinstance(p, Tensor) and p.requires_grad for p in params):
        raise ValueError("params must be a non-empty sequence of tensors with requires_grad=True")
    if lr is not None:
        _check_positive_float("lr", lr)
    opts = dict(options or {})
    final_loss: Callable[[], Tensor]
    with contextlib.ExitStack() as stack:
        if isinstance(loss_fn, Engine):
            w = _engine_weights(params, loss_fn)
            if name == "L-BFGS-GSS":
                run = _ensemble_run(loss_fn, w, opts, stack)
            else:
                run = _closure_run(name, params, _engine_evaluate(loss_fn, w), lr, opts)
            final_loss = functools.partial(_engine_evaluate(loss_fn, w), False)
        elif callable(loss_fn):
            run = _closure_run(name, params, _loss_fn_evaluate(loss_fn), lr, opts)
            final_loss = loss_fn
        else:
            raise TypeError(f"loss_fn must be a loss closure or an Engine, got {type(loss_fn).__name__}")
        trace = _trace(name, run, n_iter, max_evaluations, record_path, final_loss)
        if run.gss is not None and isinstance(loss_fn, Engine):  # the ensemble stepped its own copy
            with torch.no_grad():
                params[0].copy_(run.weights())
    return trace


def _trace(name: ComparedOptimizer, run: _Run, n_iter: int, max_evaluations: int | None, record_path: bool,
           final_loss: Callable[[], Tensor]) -> RunTrace:
    """Step ``run`` and record its :class:`RunTrace` (see :func:`run_optimizer`)."""
    losses: list[float] = []
    fb, fw, secs = [0], [0], [0.0]
    lengths: list[float] = []
    ratios: list[float] = []
    path = [run.weights().cpu().numpy()] if record_path else None
    w_prev = run.weights()
    elapsed = 0.0
    gss = run.gss
    for _ in range(n_iter):
        t0 = time.perf_counter()
        loss = run.step()
        elapsed += time.perf_counter() - t0
        losses.append(float(loss.detach()) if isinstance(loss, Tensor) else float(loss))
        w = run.weights()
        lengths.append(float((w - w_prev).norm()))
        w_prev = w
        if gss is not None:
            last = gss.last_step
            ratios.append(float("nan") if last is None else last.step_ratio)
        elif name == "L-BFGS":
            first = run.opt.param_groups[0]["params"][0]
            ratios.append(float(run.opt.state[first].get("t", float("nan"))))
        else:
            ratios.append(float("nan"))
        n_fb, n_fw = run.counts()
        fb.append(n_fb)
        fw.append(n_fw)
        secs.append(elapsed)
        if path is not None:
            path.append(w.cpu().numpy())
        if max_evaluations is not None and fb[-1] + fw[-1] >= max_evaluations:
            break
        if fb[-1] + fw[-1] == fb[-2] + fw[-2]:
            break  # converged: torch's L-BFGS returns without evaluating anything new
    last = gss.last_step if gss is not None else None
    if last is not None:
        losses.append(last.new_loss)
    else:
        with torch.no_grad():  # bookkeeping only: not counted, not timed
            losses.append(float(final_loss()))
    return RunTrace(
        optimizer=name,
        loss=np.asarray(losses),
        gradient_evaluations=np.asarray(fb),
        forward_evaluations=np.asarray(fw),
        seconds=np.asarray(secs),
        step_length=np.asarray(lengths),
        step_ratio=np.asarray(ratios),
        path=None if path is None else np.stack(path),
        diagnostics=gss.diagnostics() if gss is not None else None,
    )
