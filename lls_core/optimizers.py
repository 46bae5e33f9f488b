"""The survey's gradient-descent family, run from many starting points at once.

This module holds three things:

1. A **registry** of 2-D surface update rules (:data:`SURFACE_RULES`, :func:`get`, :func:`names`;
   the network optimizers are :data:`lls_core.train.NETWORK_OPTIMIZERS`): the ten
   algorithms of the LLS survey's benchmark (BGD, SGD, Momentum, Nesterov, AdaGrad,
   RMSProp, Adam, AdaDelta, Adamax, Nadam) plus AMSGrad, each with the update rule and
   default hyperparameters of Ruder (2016), and four algorithms of the survey's Table 3
   that the book also runs: NAG as published by Nesterov (1983), SPSA (Spall 1992),
   SVRG (Johnson & Zhang 2013) and SARAH (Nguyen et al. 2017). Each entry is one
   :class:`OptimizerSpec` holding the update rule that runs (``rule``, an :class:`UpdateRule`:
   written out here, or built from the entry's :class:`TorchMapping`) beside its equation,
   reference, defaults (with the source of each value in ``provenance``) and its
   ``torch.optim`` mapping; in the source each rule and its spec are declared together.
   SVRG and SARAH share their finite-sum machinery (restarts with a full gradient every
   ``inner`` updates, a mini-batch correction against an anchor) and differ only in how the
   anchor moves. Three further
   entries, ``Adamax-survey``, ``Nadam-survey`` and ``AdaDelta-survey``
   (:data:`SURVEY_VARIANTS`), are the LLS survey's own versions of those rules, which
   reproduce its Table 4 (``lls_core.benchmark.survey_table4``).
2. **Gradient oracles** (:class:`ExactOracle`, :class:`GaussianNoiseOracle`,
   :class:`FiniteSumOracle`): what the optimizer sees instead of the exact gradient, so
   that SGD and BGD are different algorithms.
3. A **vectorized multi-start runner** (:func:`run`, :func:`run_many`): ``N`` starting
   points on ``S`` surfaces for ``A`` optimizers advance together as one ``(S, A, N, d)``
   tensor with one forward/backward pass per iteration; every run is independent (all
   rules act element-wise), and each run gets a status (converged / max_iter / diverged),
   its iterations to converge, and optionally a thinned trajectory.

Use of ``torch.optim``
----------------------
All rules act element-wise, so one ``torch.optim`` optimizer over a single parameter
tensor of shape ``(R, d)`` runs ``R`` independent problems. Where ``torch.optim`` implements
Ruder's rule the registry uses it (``OptimizerSpec.torch`` names the class and keyword
mapping); the differences are listed per entry and are all of the "where does eps sit"
kind. Written by hand, because ``torch.optim`` has no identical rule:

* **Nesterov** (Ruder's form, gradient at the look-ahead point ``theta - gamma v``).
  ``torch.optim.SGD(nesterov=True)`` is the same algorithm re-parametrised: its iterate is
  Ruder's look-ahead point ``phi = theta - gamma v`` (the test suite checks the identity).
* **Nadam** (Ruder's eq. without a momentum schedule). ``torch.optim.NAdam`` implements
  Dozat's momentum schedule ``mu_t = beta1 (1 - 0.5 * 0.96**(t psi))``.
* **AMSGrad** (Ruder's form: max of ``v``, no bias correction). ``torch.optim.Adam(amsgrad=True)``
  bias-corrects ``m`` and the running maximum of ``v``.
* NAG (Nesterov 1983), SPSA, SVRG, SARAH: absent from ``torch.optim``.

Shapes: a *run* is one start on one surface. ``starts`` is ``(N, d)`` (the same starts on
every surface) or ``(S, N, d)``; results are ``(S, N, ...)``. Losses are in the surface's
units, coordinates in its units. All work is in ``float64``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal, Protocol

import torch
from torch import Tensor

from . import checks

__all__ = [
    "OptimizerSpec",
    "UpdateRule",
    "TorchMapping",
    "Kind",
    "SURFACE_RULES",
    "REGISTRY",
    "SURVEY_TEN",
    "BENCHMARK_ELEVEN",
    "SURVEY_VARIANTS",
    "names",
    "get",
    "validate_hyperparameters",
    "GradientOracle",
    "ExactOracle",
    "GaussianNoiseOracle",
    "FiniteSumOracle",
    "SurfaceRun",
    "run",
    "run_many",
    "STATUS_NAMES",
    "CONVERGED",
    "MAX_ITER",
    "DIVERGED",
]

CONVERGED, MAX_ITER, DIVERGED = 0, 1, 2
STATUS_NAMES: tuple[str, ...] = ("converged", "max_iter", "diverged")

DTYPE = torch.float64

Kind = Literal["first-order", "zeroth-order", "finite-sum"]
"""What a rule needs: gradients, loss values only, or a finite-sum oracle's mini-batches."""


# ----------------------------------------------------------------------------- hyperparameter checks
def _positive(name: str, v: float) -> str | None:
    return None if v > 0 else f"{name} must be > 0"


def _nonnegative(name: str, v: float) -> str | None:
    return None if v >= 0 else f"{name} must be >= 0"


def _unit_interval(name: str, v: float) -> str | None:
    return None if 0 <= v < 1 else f"{name} must lie in [0, 1)"


def _open_unit(name: str, v: float) -> str | None:
    return None if 0 < v < 1 else f"{name} must lie in (0, 1)"


def _int_ge1(name: str, v: float) -> str | None:
    return None if float(v).is_integer() and v >= 1 else f"{name} must be an integer >= 1"


_CHECKS: dict[str, Callable[[str, float], str | None]] = {
    "lr": _positive,
    "momentum": _unit_interval,
    "beta1": _unit_interval,
    "beta2": _unit_interval,
    "gamma": _unit_interval,  # RMSProp / AdaDelta decay
    "eps": _positive,
    "a": _positive,
    "c": _positive,
    "A": _nonnegative,
    "alpha": _open_unit,  # SPSA step exponent
    "gamma_c": _open_unit,  # SPSA perturbation exponent
    "inner": _int_ge1,  # SVRG/SARAH inner-loop length
}


# ----------------------------------------------------------------------------- oracles
class GradientOracle(Protocol):
    """What an optimizer sees: a gradient estimate built from the exact gradient.

    ``__call__(x, g, generator)`` gets points ``x`` ``(..., d)``, their exact gradients ``g``
    (same shape) and a ``torch.Generator``; it returns the estimate (same shape).
    """

    @property
    def stochastic(self) -> bool:
        """Whether the estimate is random (then BGD refuses it)."""
        ...

    def __call__(self, x: Tensor, g: Tensor, generator: torch.Generator) -> Tensor: ...


@dataclass(frozen=True)
class ExactOracle:
    """The exact gradient (full-batch / deterministic): ``g_t = grad f(x_t)``."""

    stochastic: bool = field(default=False, init=False)

    def __call__(self, x: Tensor, g: Tensor, generator: torch.Generator) -> Tensor:
        return g


@dataclass(frozen=True)
class GaussianNoiseOracle:
    """Additive Gaussian gradient noise: ``g_t = grad f(x_t) + sigma * xi_t``, ``xi_t ~ N(0, I)``.

    Noise is drawn independently for every run, coordinate and step. ``sigma`` is in
    loss units per coordinate unit (the units of a gradient).
    """

    sigma: float = 1.0
    stochastic: bool = field(default=True, init=False)

    def __post_init__(self) -> None:
        if not (isinstance(self.sigma, (int, float)) and math.isfinite(self.sigma) and self.sigma >= 0):
            raise ValueError(f"GaussianNoiseOracle: sigma={self.sigma!r} must be a finite number >= 0")

    def __call__(self, x: Tensor, g: Tensor, generator: torch.Generator) -> Tensor:
        if self.sigma == 0:
            return g
        return g + self.sigma * torch.randn(g.shape, dtype=g.dtype, generator=generator)


@dataclass(frozen=True, eq=False)
class FiniteSumOracle:
    """A finite-sum surface ``f = (1/n) sum_i f_i`` whose mini-batches give the noise.

    The components are ``f_i(x) = f(x) + a_i . x + 1/2 sum_j b_ij x_j^2`` with the
    columns of ``a`` and ``b`` (shape ``(n, d)``) centred, so that the average of the
    ``f_i`` is exactly ``f`` while ``grad f_i(x) = grad f(x) + a_i + b_i * x`` varies
    with ``i``. A mini-batch ``B`` of ``batch_size`` indices, drawn uniformly with
    replacement, independently for every run and step, gives
    ``g = grad f(x) + mean_B(a) + mean_B(b) * x``. Because the component Hessians differ
    (``b``), variance-reduced methods (SVRG, SARAH) have something to reduce.

    Build one with :meth:`make`.
    """

    a: Tensor
    b: Tensor
    batch_size: int
    stochastic: bool = field(default=True, init=False)

    @staticmethod
    def make(n: int = 100, batch_size: int = 10, scale_a: float = 1.0, scale_b: float = 0.5,
             d: int = 2, seed: int = 0) -> "FiniteSumOracle":
        """``n`` components with ``a ~ N(0, scale_a^2)``, ``b ~ N(0, scale_b^2)``, centred."""
        if not (isinstance(n, int) and n >= 2):
            raise ValueError(f"FiniteSumOracle: n={n!r} must be an integer >= 2")
        if not (isinstance(batch_size, int) and 1 <= batch_size <= n):
            raise ValueError(f"FiniteSumOracle: batch_size={batch_size!r} must be an integer in [1, n={n}]")
        for label, s in (("scale_a", scale_a), ("scale_b", scale_b)):
            if not (math.isfinite(s) and s >= 0):
                raise ValueError(f"FiniteSumOracle: {label}={s!r} must be a finite number >= 0")
        gen = torch.Generator().manual_seed(seed)
        a = torch.randn(n, d, dtype=DTYPE, generator=gen) * scale_a
        b = torch.randn(n, d, dtype=DTYPE, generator=gen) * scale_b
        return FiniteSumOracle(a - a.mean(0), b - b.mean(0), batch_size)

    @property
    def n(self) -> int:
        """Number of components."""
        return self.a.shape[0]

    def sample(self, batch_shape: tuple[int, ...], generator: torch.Generator) -> Tensor:
        """Mini-batch indices ``(*batch_shape, batch_size)``, uniform with replacement."""
        return torch.randint(0, self.n, (*batch_shape, self.batch_size), generator=generator)

    def batch_grad(self, x: Tensor, g: Tensor, idx: Tensor) -> Tensor:
        """``grad f_B(x)`` for per-run batches ``idx`` ``(..., batch)``, exact ``g`` ``(..., d)``."""
        return g + self.a[idx].mean(-2) + self.b[idx].mean(-2) * x

    def __call__(self, x: Tensor, g: Tensor, generator: torch.Generator) -> Tensor:
        return self.batch_grad(x, g, self.sample(tuple(x.shape[:-1]), generator))


# ----------------------------------------------------------------------------- registry entries
class UpdateRule:
    """A vectorized update rule on points of shape ``(S, N, d)``, element-wise in the runs.

    :func:`run_many` builds one instance per optimizer with the starting points ``x0``, the
    checked hyperparameters ``hp``, the gradient oracle and a seeded ``torch.Generator``.
    Each iteration, ``query(x, active, t)`` may name extra points ``(S, M, d)`` where the
    runner evaluates the loss and exact gradient (look-ahead points, SPSA's perturbed pairs);
    then ``step(x, g, t, extra_loss, extra_grad)`` gets the exact gradient ``g`` at ``x``
    (same shape; the rule passes it through its oracle) and returns the next points.
    ``t = 1, 2, ...`` counts updates.
    """

    def __init__(self, x0: Tensor, hp: Mapping[str, float], oracle: Any, gen: torch.Generator):
        self.hp, self.oracle, self.gen = hp, oracle, gen

    def query(self, x: Tensor, active: Tensor, t: int) -> Tensor | None:
        return None

    def step(self, x: Tensor, g: Tensor, t: int, extra_loss: Tensor | None,
             extra_grad: Tensor | None) -> Tensor:
        raise NotImplementedError


@dataclass(frozen=True)
class TorchMapping:
    """How a rule runs as a ``torch.optim`` optimizer: the class and its keyword arguments.

    Each keyword maps to a hyperparameter name (``"lr"``), a tuple of names
    (``("beta1", "beta2")`` for ``betas``) or a fixed number. The same mapping builds the
    optimizer (:meth:`TorchMapping.build`) and writes the spec's ``torch`` text (``str(mapping)``), so
    the two cannot disagree.

    Example:
        >>> m = TorchMapping("Adam", {"lr": "lr", "betas": ("beta1", "beta2")})
        >>> str(m)
        'torch.optim.Adam(lr=lr, betas=(beta1, beta2))'
        >>> p = torch.zeros(3, 2, dtype=torch.float64)
        >>> m.build([p], {"lr": 0.1, "beta1": 0.8, "beta2": 0.9}).param_groups[0]["betas"]
        (0.8, 0.9)
    """

    cls: str
    kwargs: Mapping[str, str | tuple[str, ...] | float]

    def __post_init__(self) -> None:
        if not isinstance(getattr(torch.optim, str(self.cls), None), type):
            raise ValueError(f"TorchMapping: cls={self.cls!r} is not a torch.optim optimizer class")
        object.__setattr__(self, "kwargs", MappingProxyType(dict(self.kwargs)))

    def arguments(self, hp: Mapping[str, float]) -> dict[str, Any]:
        """The keyword arguments for hyperparameters ``hp``."""
        return {k: hp[v] if isinstance(v, str) else tuple(hp[n] for n in v) if isinstance(v, tuple) else v
                for k, v in self.kwargs.items()}

    def build(self, params: list[Tensor], hp: Mapping[str, float]) -> torch.optim.Optimizer:
        """The ``torch.optim`` optimizer over ``params`` (``foreach=False``: one small tensor)."""
        return getattr(torch.optim, self.cls)(params, foreach=False, **self.arguments(hp))

    def __str__(self) -> str:
        def text(v: str | tuple[str, ...] | float) -> str:
            return f"({', '.join(v)})" if isinstance(v, tuple) else v if isinstance(v, str) else repr(v)

        return f"torch.optim.{self.cls}({', '.join(f'{k}={text(v)}' for k, v in self.kwargs.items())})"


class _TorchRule(UpdateRule):
    """A ``torch.optim`` optimizer over one parameter tensor holding all runs."""

    mapping: TorchMapping

    def __init__(self, x0, hp, oracle, gen):
        super().__init__(x0, hp, oracle, gen)
        self.p = x0.clone().contiguous()
        self.opt = self.mapping.build([self.p], hp)

    def step(self, x, g, t, extra_loss, extra_grad):
        self.p.copy_(x)
        self.p.grad = self.oracle(x, g, self.gen)
        self.opt.step()
        return self.p


@dataclass(frozen=True)
class OptimizerSpec:
    """One registry entry: the update rule, what it computes, where it comes from, how it is run.

    Attributes:
        name: display name (also the key of :data:`SURFACE_RULES` and of ``plotting.color``).
        equation: the update in LaTeX, with ``g_t`` the gradient (estimate) at step ``t``.
        reference: bibliography key(s) (``book/references.bib``) for the rule and its defaults.
        defaults: default hyperparameters (read-only mapping).
        torch: ``torch.optim`` class and keyword mapping used to run it (the text of
            ``rule``'s :class:`TorchMapping`), or ``None`` when the rule is written by hand here.
        differences: how ``torch.optim`` (or the original paper) differs from the rule as
            implemented, in words.
        rule: the :class:`UpdateRule` subclass that :func:`run` executes for this entry.
        kind: ``"first-order"``, ``"zeroth-order"`` (uses loss values only) or
            ``"finite-sum"`` (needs a :class:`FiniteSumOracle`).
        stochastic_default: whether :func:`run` gives it a noisy oracle by default.
        provenance: where each default value comes from, per hyperparameter (read-only
            mapping): the paper and place that gives it, or a statement that no source gives
            it and why the book chose the value.
    """

    name: str
    equation: str
    reference: str
    defaults: Mapping[str, float]
    torch: str | None
    differences: str
    rule: type[UpdateRule]
    kind: Kind = "first-order"
    stochastic_default: bool = False
    provenance: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))


_ENTRIES: list[OptimizerSpec] = []


def _register(*, torch: TorchMapping | None = None, rule: type[UpdateRule] | None = None, **kw: Any) -> None:
    """Add one entry: its spec with the rule that runs it (a hand-written class or a TorchMapping)."""
    name = kw["name"]
    if torch is not None and rule is not None:
        raise AssertionError(f"{name}: give a TorchMapping or a hand-written rule, not both")
    defaults = dict(kw.pop("defaults"))
    prov = dict(kw.pop("provenance", {}))
    if set(defaults) - set(prov):  # every default says where it comes from
        raise AssertionError(f"{name}: no provenance for {sorted(set(defaults) - set(prov))}")
    if set(defaults) - set(_CHECKS):  # and every hyperparameter has a check
        raise AssertionError(f"{name}: no check for {sorted(set(defaults) - set(_CHECKS))}")
    if torch is not None:
        rule = type(f"_Torch{torch.cls}", (_TorchRule,), {"mapping": torch})
    elif rule is None:
        raise AssertionError(f"{name}: give a TorchMapping or a hand-written rule")
    _ENTRIES.append(OptimizerSpec(defaults=MappingProxyType(defaults), provenance=MappingProxyType(prov),
                                  torch=None if torch is None else str(torch), rule=rule, **kw))


# where the default values come from (Ruder 2016 gives eta only for AdaGrad, RMSprop and Adamax)
_NO_ETA = "not given by Ruder (2016) or the survey; the book's choice"
_MOM = "Ruder (2016), Sec. 4.1: gamma 'usually set to 0.9'"
_ADAM_B = "Kingma & Ba (2015), Algorithm 1, as quoted by Ruder (2016), Sec. 4.6"
_ADAM_ETA = "Kingma & Ba (2015), Algorithm 1 (alpha = 0.001); Ruder (2016) gives no eta for Adam"
_SURVEY = ("the value that reproduces the survey's Table 4 (lls_core.benchmark.survey_table4); "
           "the survey states no settings")

_register(
    name="BGD",
    equation=r"\theta_{t+1} = \theta_t - \eta\, \nabla f(\theta_t)",
    reference="Ruder2016",
    defaults={"lr": 0.01},
    provenance={"lr": _NO_ETA},
    torch=TorchMapping("SGD", {"lr": "lr"}),
    differences="identical; always run with the exact gradient",
)
_register(
    name="SGD",
    equation=r"\theta_{t+1} = \theta_t - \eta\, g_t,\quad \mathbb{E}[g_t] = \nabla f(\theta_t)",
    reference="RobbinsMonro1951,Ruder2016",
    defaults={"lr": 0.01},
    provenance={"lr": _NO_ETA},
    torch=TorchMapping("SGD", {"lr": "lr"}),
    differences="identical; by default run with a GaussianNoiseOracle (with the exact "
    "gradient it is BGD, which is what the survey's identical rows show)",
    stochastic_default=True,
)
_register(
    name="Momentum",
    equation=r"v_t = \gamma v_{t-1} + \eta g_t,\quad \theta_{t+1} = \theta_t - v_t",
    reference="Ruder2016",
    defaults={"lr": 0.01, "momentum": 0.9},
    provenance={"lr": _NO_ETA, "momentum": _MOM},
    torch=TorchMapping("SGD", {"lr": "lr", "momentum": "momentum", "dampening": 0}),
    differences="same iterates: torch keeps b_t = gamma b_{t-1} + g_t and steps lr*b_t, "
    "so v_t = lr*b_t while lr is constant",
)


class _Nesterov(UpdateRule):
    """Ruder's Nesterov momentum: the gradient at the look-ahead point ``x - gamma v``."""

    def __init__(self, x0, hp, oracle, gen):
        super().__init__(x0, hp, oracle, gen)
        self.v = torch.zeros_like(x0)

    def query(self, x, active, t):
        return torch.where(active[..., None], x - self.hp["momentum"] * self.v, x)

    def step(self, x, g, t, extra_loss, extra_grad):
        lr, mu = self.hp["lr"], self.hp["momentum"]
        look = x - mu * self.v
        self.v = mu * self.v + lr * self.oracle(look, extra_grad, self.gen)
        return x - self.v


_register(
    name="Nesterov",
    equation=r"v_t = \gamma v_{t-1} + \eta \nabla f(\theta_t - \gamma v_{t-1}),\quad "
    r"\theta_{t+1} = \theta_t - v_t",
    reference="Ruder2016",
    defaults={"lr": 0.01, "momentum": 0.9},
    provenance={"lr": _NO_ETA, "momentum": "Ruder (2016), Sec. 4.2: gamma 'around 0.9'"},
    rule=_Nesterov,
    differences="hand-written; torch.optim.SGD(nesterov=True) is the same algorithm in the "
    "look-ahead variable phi_t = theta_t - gamma v_{t-1}: its iterates are Ruder's look-ahead "
    "points, so the two trajectories differ by gamma v",
)
_register(
    name="AdaGrad",
    equation=r"G_t = G_{t-1} + g_t^2,\quad \theta_{t+1} = \theta_t - \frac{\eta}{\sqrt{G_t + \epsilon}} g_t",
    reference="Duchi2011,Ruder2016",
    defaults={"lr": 0.01, "eps": 1e-8},
    provenance={"lr": "Ruder (2016), Sec. 4.3: 'most implementations use a default value of 0.01'",
                "eps": "Ruder (2016), Sec. 4.3: 'usually on the order of 1e-8'"},
    torch=TorchMapping("Adagrad", {"lr": "lr", "eps": "eps"}),
    differences="torch puts eps outside the root: eta g / (sqrt(G) + eps); torch's default "
    "eps is 1e-10, the registry passes Ruder's 1e-8",
)
_register(
    name="RMSProp",
    equation=r"E[g^2]_t = \gamma E[g^2]_{t-1} + (1-\gamma) g_t^2,\quad "
    r"\theta_{t+1} = \theta_t - \frac{\eta}{\sqrt{E[g^2]_t + \epsilon}} g_t",
    reference="TielemanHinton2012,Ruder2016",
    defaults={"lr": 0.001, "gamma": 0.9, "eps": 1e-8},
    provenance={"lr": "Ruder (2016), Sec. 4.5: 'a good default value for the learning rate is 0.001'",
                "gamma": "Ruder (2016), Sec. 4.5: 'Hinton suggests gamma to be set to 0.9'",
                "eps": "not given for RMSprop; the order Ruder (2016), Sec. 4.3, gives for AdaGrad"},
    torch=TorchMapping("RMSprop", {"lr": "lr", "alpha": "gamma", "eps": "eps"}),
    differences="torch puts eps outside the root; torch's default alpha is 0.99, the registry "
    "passes Hinton's 0.9",
)
_register(
    name="Adam",
    equation=r"m_t = \beta_1 m_{t-1} + (1-\beta_1) g_t,\ v_t = \beta_2 v_{t-1} + (1-\beta_2) g_t^2,\ "
    r"\theta_{t+1} = \theta_t - \frac{\eta\, \hat m_t}{\sqrt{\hat v_t} + \epsilon},\ "
    r"\hat m_t = \frac{m_t}{1-\beta_1^t},\ \hat v_t = \frac{v_t}{1-\beta_2^t}",
    reference="KingmaBa2015,Ruder2016",
    defaults={"lr": 0.001, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8},
    provenance={"lr": _ADAM_ETA, "beta1": _ADAM_B, "beta2": _ADAM_B, "eps": _ADAM_B},
    torch=TorchMapping("Adam", {"lr": "lr", "betas": ("beta1", "beta2"), "eps": "eps"}),
    differences="identical (eps outside the root of the bias-corrected v in both)",
)
_register(
    name="AdaDelta",
    equation=r"E[g^2]_t = \gamma E[g^2]_{t-1} + (1-\gamma) g_t^2,\ "
    r"\Delta\theta_t = -\frac{\sqrt{E[\Delta\theta^2]_{t-1}+\epsilon}}{\sqrt{E[g^2]_t+\epsilon}} g_t,\ "
    r"E[\Delta\theta^2]_t = \gamma E[\Delta\theta^2]_{t-1} + (1-\gamma)\Delta\theta_t^2",
    reference="Zeiler2012,Ruder2016",
    defaults={"gamma": 0.9, "eps": 1e-6},
    provenance={"gamma": "Ruder (2016), Sec. 4.4: 'around 0.9', like the momentum term",
                "eps": "Zeiler (2012), MNIST experiments; Ruder (2016) gives no value"},
    torch=TorchMapping("Adadelta", {"lr": 1.0, "rho": "gamma", "eps": "eps"}),
    differences="identical with torch's lr=1 (AdaDelta has no learning rate; torch's lr "
    "scales the update)",
)
_register(
    name="Adamax",
    equation=r"m_t = \beta_1 m_{t-1} + (1-\beta_1) g_t,\ u_t = \max(\beta_2 u_{t-1}, |g_t|),\ "
    r"\theta_{t+1} = \theta_t - \frac{\eta}{u_t} \frac{m_t}{1-\beta_1^t}",
    reference="KingmaBa2015,Ruder2016",
    defaults={"lr": 0.002, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8},
    provenance={"lr": "Ruder (2016), Sec. 4.7: 'good default values are again eta = 0.002'",
                "beta1": "Ruder (2016), Sec. 4.7", "beta2": "Ruder (2016), Sec. 4.7",
                "eps": "not in Ruder's rule; torch.optim.Adamax's guard against u = 0, set to Adam's 1e-8"},
    torch=TorchMapping("Adamax", {"lr": "lr", "betas": ("beta1", "beta2"), "eps": "eps"}),
    differences="torch adds eps to |g_t| inside the max (Ruder's rule has no eps; u_t > 0 "
    "needs it when g = 0)",
)


class _Nadam(UpdateRule):
    """Ruder's Nadam (no momentum schedule)."""

    correct_gradient_term = True  # Ruder's 1/(1 - beta1^t) on the current gradient's term

    def __init__(self, x0, hp, oracle, gen):
        super().__init__(x0, hp, oracle, gen)
        self.m, self.v = torch.zeros_like(x0), torch.zeros_like(x0)

    def step(self, x, g, t, extra_loss, extra_grad):
        lr, b1, b2, eps = (self.hp[k] for k in ("lr", "beta1", "beta2", "eps"))
        g = self.oracle(x, g, self.gen)
        self.m = b1 * self.m + (1 - b1) * g
        self.v = b2 * self.v + (1 - b2) * g * g
        m_hat = self.m / (1 - b1**t)
        v_hat = self.v / (1 - b2**t)
        g_term = g / (1 - b1**t) if self.correct_gradient_term else g
        return x - lr / (v_hat.sqrt() + eps) * (b1 * m_hat + (1 - b1) * g_term)

_register(
    name="Nadam",
    equation=r"\theta_{t+1} = \theta_t - \frac{\eta}{\sqrt{\hat v_t} + \epsilon}"
    r"\Big(\beta_1 \hat m_t + \frac{(1-\beta_1) g_t}{1-\beta_1^t}\Big)",
    reference="Dozat2016,Ruder2016",
    defaults={"lr": 0.001, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8},
    provenance={"lr": "not given by Ruder (2016); Adam's alpha (Kingma & Ba 2015) carried over",
                "beta1": _ADAM_B, "beta2": _ADAM_B, "eps": _ADAM_B},
    rule=_Nadam,
    differences="hand-written; torch.optim.NAdam follows Dozat's momentum schedule "
    "mu_t = beta1 (1 - 0.5 * 0.96**(0.004 t)) and bias-corrects with the product of the mu's",
)


class _AMSGrad(UpdateRule):
    """Ruder's AMSGrad: the running maximum of ``v``, no bias correction."""

    def __init__(self, x0, hp, oracle, gen):
        super().__init__(x0, hp, oracle, gen)
        self.m, self.v, self.vmax = (torch.zeros_like(x0) for _ in range(3))

    def step(self, x, g, t, extra_loss, extra_grad):
        lr, b1, b2, eps = (self.hp[k] for k in ("lr", "beta1", "beta2", "eps"))
        g = self.oracle(x, g, self.gen)
        self.m = b1 * self.m + (1 - b1) * g
        self.v = b2 * self.v + (1 - b2) * g * g
        self.vmax = torch.maximum(self.vmax, self.v)
        return x - lr * self.m / (self.vmax.sqrt() + eps)


_register(
    name="AMSGrad",
    equation=r"\hat v_t = \max(\hat v_{t-1}, v_t),\quad \theta_{t+1} = \theta_t - "
    r"\frac{\eta}{\sqrt{\hat v_t} + \epsilon} m_t",
    reference="Reddi2018,Ruder2016",
    defaults={"lr": 0.001, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8},
    provenance={"lr": "not given by Ruder (2016); Adam's alpha (Kingma & Ba 2015) carried over",
                "beta1": _ADAM_B, "beta2": _ADAM_B, "eps": _ADAM_B},
    rule=_AMSGrad,
    differences="hand-written (Ruder's form, no bias correction); torch.optim.Adam(amsgrad=True) "
    "divides the bias-corrected m by the root of the running max of v, bias-corrected",
)


class _NAG(UpdateRule):
    """Nesterov (1983): the run's iterate is x_k; the gradient is taken at y_k."""

    def __init__(self, x0, hp, oracle, gen):
        super().__init__(x0, hp, oracle, gen)
        self.y, self.a = x0.clone(), 1.0

    def query(self, x, active, t):
        return torch.where(active[..., None], self.y, x)

    def step(self, x, g, t, extra_loss, extra_grad):
        x_next = self.y - self.hp["lr"] * self.oracle(self.y, extra_grad, self.gen)
        a_next = (1 + math.sqrt(4 * self.a**2 + 1)) / 2
        self.y = x_next + (self.a - 1) / a_next * (x_next - x)
        self.a = a_next
        return x_next


_register(
    name="NAG",
    equation=r"x_{k+1} = y_k - \eta \nabla f(y_k),\ a_{k+1} = \tfrac{1 + \sqrt{4 a_k^2 + 1}}{2},\ "
    r"y_{k+1} = x_{k+1} + \tfrac{a_k - 1}{a_{k+1}} (x_{k+1} - x_k),\ a_0 = 1,\ y_0 = x_0",
    reference="Nesterov1983",
    defaults={"lr": 0.01},
    provenance={"lr": "the book's choice (Nesterov (1983) takes 1/L from a step-size search)"},
    rule=_NAG,
    differences="hand-written; Nesterov chooses eta = 1/L by a step-size search, here eta is fixed",
)


class _SPSA(UpdateRule):
    """Spall's simultaneous-perturbation estimate from two loss values per step."""

    def query(self, x, active, t):
        h = self.hp
        self.ck = h["c"] / t ** h["gamma_c"]
        self.delta = torch.randint(0, 2, x.shape, generator=self.gen).to(x.dtype) * 2 - 1
        return torch.cat([x + self.ck * self.delta, x - self.ck * self.delta], dim=-2)

    def step(self, x, g, t, extra_loss, extra_grad):
        h = self.hp
        ak = h["a"] / (t + h["A"]) ** h["alpha"]
        n = x.shape[-2]
        diff = extra_loss[..., :n] - extra_loss[..., n:]
        return x - ak * (diff / (2 * self.ck))[..., None] / self.delta


_register(
    name="SPSA",
    equation=r"\hat g_k = \frac{f(x_k + c_k \Delta_k) - f(x_k - c_k \Delta_k)}{2 c_k} \Delta_k^{-1},\ "
    r"x_{k+1} = x_k - a_k \hat g_k,\ a_k = \frac{a}{(k + 1 + A)^\alpha},\ c_k = \frac{c}{(k+1)^{\gamma}}",
    reference="Spall1992",
    defaults={"a": 0.5, "c": 0.01, "A": 100.0, "alpha": 0.602, "gamma_c": 0.101},
    provenance={"a": "the book's choice", "c": "the book's choice", "A": "the book's choice",
                "alpha": "Spall's recommended exponent 0.602", "gamma_c": "Spall's recommended exponent 0.101"},
    rule=_SPSA,
    differences="hand-written; zeroth order: two loss values per step, Rademacher "
    "perturbations Delta_k (Spall's recommended exponents 0.602 and 0.101)",
    kind="zeroth-order",
)


class _VarianceReduced(UpdateRule):
    """The finite-sum machinery SVRG and SARAH share: restarts, anchor, corrected mini-batch.

    Every ``inner`` = ``m`` updates (``t = 1, 1 + m, 1 + 2m, ...``) the rule *restarts*: it
    uses the full gradient, ``v_t = grad f(x_t)``, and sets its anchor to
    ``(a, grad f(a), base) = (x_t, grad f(x_t), v_t)``. In between, one mini-batch ``B_t``
    per run, used for both terms, gives

        ``v_t = grad f_B(x_t) - grad f_B(a) + base``,

    so the mini-batch noise the two terms share cancels. SVRG keeps the anchor (its snapshot
    ``x~`` and the full gradient there) until the next restart; SARAH (``recursive``) moves it
    to ``(x_t, grad f(x_t), v_t)`` after every update. Both step ``x_{t+1} = x_t - lr v_t``.
    """

    recursive: bool = False

    def __init__(self, x0, hp, oracle, gen):
        if not isinstance(oracle, FiniteSumOracle):
            raise TypeError(f"{type(self).__name__.strip('_')} needs a FiniteSumOracle, got {type(oracle).__name__}")
        super().__init__(x0, hp, oracle, gen)
        self.m = int(hp["inner"])

    def step(self, x, g, t, extra_loss, extra_grad):
        if (t - 1) % self.m == 0:  # restart: the full gradient at the current iterate
            v = g.clone()
            self.anchor, self.anchor_g, self.base = x.clone(), g.clone(), v
        else:
            idx = self.oracle.sample(tuple(x.shape[:-1]), self.gen)
            v = (self.oracle.batch_grad(x, g, idx)
                 - self.oracle.batch_grad(self.anchor, self.anchor_g, idx) + self.base)
            if self.recursive:
                self.anchor, self.anchor_g, self.base = x.clone(), g.clone(), v
        return x - self.hp["lr"] * v


class _SVRG(_VarianceReduced):
    recursive = False


class _SARAH(_VarianceReduced):
    recursive = True


_register(
    name="SVRG",
    equation=r"v_t = \nabla f_{B_t}(x_t) - \nabla f_{B_t}(\tilde x) + \nabla f(\tilde x),\ "
    r"x_{t+1} = x_t - \eta v_t,\ \tilde x \leftarrow x_t \text{ every } m \text{ steps}",
    reference="JohnsonZhang2013",
    defaults={"lr": 0.01, "inner": 50},
    provenance={"lr": "the book's choice", "inner": "the book's choice"},
    rule=_SVRG,
    differences="hand-written; option I of the paper (snapshot = last inner iterate)",
    kind="finite-sum",
)
_register(
    name="SARAH",
    equation=r"v_t = \nabla f_{B_t}(x_t) - \nabla f_{B_t}(x_{t-1}) + v_{t-1},\ "
    r"x_{t+1} = x_t - \eta v_t,\ v \leftarrow \nabla f(x_t) \text{ every } m \text{ steps}",
    reference="Nguyen2017",
    defaults={"lr": 0.01, "inner": 50},
    provenance={"lr": "the book's choice", "inner": "the book's choice"},
    rule=_SARAH,
    differences="hand-written; outer loop restarts with a full gradient every m steps",
    kind="finite-sum",
)


# ---- the LLS survey's own versions of three rules (they reproduce its Table 4; see
# lls_core.benchmark.survey_table4). Ruder's rules above stay the book's defaults.
class _AdamaxSurvey(UpdateRule):
    """Adamax as the LLS survey computed it: m is not bias-corrected."""

    def __init__(self, x0, hp, oracle, gen):
        super().__init__(x0, hp, oracle, gen)
        self.m, self.u = torch.zeros_like(x0), torch.zeros_like(x0)

    def step(self, x, g, t, extra_loss, extra_grad):
        lr, b1, b2, eps = (self.hp[k] for k in ("lr", "beta1", "beta2", "eps"))
        g = self.oracle(x, g, self.gen)
        self.m = b1 * self.m + (1 - b1) * g
        self.u = torch.maximum(b2 * self.u, g.abs() + eps)
        return x - lr * self.m / self.u


_register(
    name="Adamax-survey",
    equation=r"m_t = \beta_1 m_{t-1} + (1-\beta_1) g_t,\ u_t = \max(\beta_2 u_{t-1}, |g_t| + \epsilon),\ "
    r"\theta_{t+1} = \theta_t - \frac{\eta}{u_t} m_t",
    reference="LLSSurvey,Ruder2016",
    defaults={"lr": 0.002, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8},
    provenance={"lr": "Ruder (2016), Sec. 4.7", "beta1": "Ruder (2016), Sec. 4.7",
                "beta2": "Ruder (2016), Sec. 4.7", "eps": "as Adamax (torch.optim.Adamax's guard)"},
    rule=_AdamaxSurvey,
    differences="hand-written; Adamax without the bias correction 1/(1 - beta1^t) of m, as the "
    "LLS survey's Table 4 was computed",
)


class _NadamSurvey(_Nadam):
    """Nadam as the LLS survey computed it: no 1/(1 - beta1^t) on the gradient term."""

    correct_gradient_term = False


_register(
    name="Nadam-survey",
    equation=r"\theta_{t+1} = \theta_t - \frac{\eta}{\sqrt{\hat v_t} + \epsilon}"
    r"\big(\beta_1 \hat m_t + (1-\beta_1) g_t\big)",
    reference="LLSSurvey,Dozat2016,Ruder2016",
    defaults={"lr": 0.001, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8},
    provenance={"lr": "as Nadam", "beta1": _ADAM_B, "beta2": _ADAM_B, "eps": _ADAM_B},
    rule=_NadamSurvey,
    differences="hand-written; Ruder's Nadam without the factor 1/(1 - beta1^t) on the gradient "
    "term, as the LLS survey's Table 4 was computed",
)


class _AdaDeltaSurvey(UpdateRule):
    """AdaDelta as the LLS survey computed it: eps outside the root of E[g^2]."""

    def __init__(self, x0, hp, oracle, gen):
        super().__init__(x0, hp, oracle, gen)
        self.eg, self.ed = torch.zeros_like(x0), torch.zeros_like(x0)

    def step(self, x, g, t, extra_loss, extra_grad):
        rho, eps = self.hp["gamma"], self.hp["eps"]
        g = self.oracle(x, g, self.gen)
        self.eg = rho * self.eg + (1 - rho) * g * g
        dx = -(self.ed + eps).sqrt() / (self.eg.sqrt() + eps) * g
        self.ed = rho * self.ed + (1 - rho) * dx * dx
        return x + dx


_register(
    name="AdaDelta-survey",
    equation=r"E[g^2]_t = \rho E[g^2]_{t-1} + (1-\rho) g_t^2,\ "
    r"\Delta\theta_t = -\frac{\sqrt{E[\Delta\theta^2]_{t-1}+\epsilon}}{\sqrt{E[g^2]_t}+\epsilon} g_t,\ "
    r"E[\Delta\theta^2]_t = \rho E[\Delta\theta^2]_{t-1} + (1-\rho)\Delta\theta_t^2",
    reference="LLSSurvey,Zeiler2012,Ruder2016",
    defaults={"gamma": 0.95, "eps": 1e-6},
    provenance={"gamma": "Zeiler (2012), MNIST experiments (rho = 0.95); " + _SURVEY,
                "eps": "Zeiler (2012), MNIST experiments; " + _SURVEY},
    rule=_AdaDeltaSurvey,
    differences="hand-written; AdaDelta with rho = 0.95 and eps outside the root of E[g^2] "
    "(Ruder's rule, and torch.optim.Adadelta, put it inside), as the LLS survey's Table 4 was "
    "computed; with eps inside, the survey's Surface IV row is missed by up to 0.15",
)


# ----------------------------------------------------------------------------- registry
SURFACE_RULES: Mapping[str, OptimizerSpec] = MappingProxyType({s.name: s for s in _ENTRIES})
"""The 2-D surface optimizers by display name: each entry is an :class:`OptimizerSpec` holding the
update rule (``rule``) beside its equation, reference, defaults and ``torch.optim`` mapping ("SGD"
here is the survey's rule on a noisy gradient; network training uses
:data:`lls_core.train.NETWORK_OPTIMIZERS`)."""
REGISTRY = SURFACE_RULES  # former name, kept so that callers on other branches keep working
SURVEY_TEN: tuple[str, ...] = (
    "BGD", "SGD", "Momentum", "Nesterov", "AdaGrad", "RMSProp", "Adam", "AdaDelta", "Adamax", "Nadam",
)
BENCHMARK_ELEVEN: tuple[str, ...] = (*SURVEY_TEN, "AMSGrad")
#: The survey's own versions of three rules (they reproduce its Table 4), keyed by Ruder's name.
SURVEY_VARIANTS: Mapping[str, str] = MappingProxyType(
    {"Adamax": "Adamax-survey", "Nadam": "Nadam-survey", "AdaDelta": "AdaDelta-survey"})
_LOWER = {k.lower(): k for k in SURFACE_RULES}


def names() -> tuple[str, ...]:
    """All registered optimizer names, in registry order."""
    return tuple(SURFACE_RULES)


def get(name: str) -> OptimizerSpec:
    """The :class:`OptimizerSpec` for ``name`` (case-insensitive).

    An unknown name raises :class:`lls_core.checks.UnknownNameError` (a ``KeyError`` and a
    ``ValueError``) listing the valid names.
    """
    if not isinstance(name, str) or name.lower() not in _LOWER:
        raise checks.UnknownNameError(f"unknown optimizer {name!r}; valid: {', '.join(SURFACE_RULES)}")
    return SURFACE_RULES[_LOWER[name.lower()]]


def validate_hyperparameters(name: str, hyper: Mapping[str, float] | None = None) -> dict[str, float]:
    """Defaults of ``name`` overridden by ``hyper``, checked; returns the full mapping.

    Raises :class:`~lls_core.checks.UnknownNameError` (a ``KeyError`` and a ``ValueError``)
    for an unknown optimizer or hyperparameter name, ``ValueError`` for an invalid value (negative learning rate, a decay outside
    [0, 1), a non-finite number, ...), naming the bad value and what is valid.
    """
    spec = get(name)
    out = dict(spec.defaults)
    for key, value in (hyper or {}).items():
        checks.name("hyper", key, spec.defaults, what=f"{spec.name} hyperparameter")
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"{spec.name}: {key}={value!r} must be a real number")
        value = float(value)
        if not math.isfinite(value):
            raise ValueError(f"{spec.name}: {key}={value!r} must be finite")
        problem = _CHECKS[key](key, value)
        if problem:
            raise ValueError(f"{spec.name}: {key}={value!r} is invalid: {problem}")
        out[key] = value
    return out


# ----------------------------------------------------------------------------- runner
@dataclass(frozen=True, eq=False)
class SurfaceRun:
    """Outcome of one optimizer: ``S`` surfaces x ``N`` starts, every run independent.

    Attributes:
        optimizer: registry name.
        hyperparameters: the values used (defaults overridden).
        oracle: description of the gradient oracle.
        surfaces: one label per surface (``S``).
        starts: ``(S, N, d)`` starting points.
        final_x: ``(S, N, d)`` point where the run stopped (converged / left the bound /
            cap); for a diverged run, the first offending point, possibly non-finite.
        initial_loss, final_loss: ``(S, N)``.
        final_grad_norm: ``(S, N)`` exact gradient norm at ``final_x``.
        status: ``(S, N)`` int8 codes into :data:`STATUS_NAMES`.
        iterations: ``(S, N)`` int64: updates performed before stopping (the iteration at
            which a run converged or diverged; ``max_iter`` at the cap).
        record_iters: ``(K,)`` iterations at which trajectories were recorded, or ``None``.
        trajectory: ``(S, N, K, d)`` points (held at the stop point once a run stops).
        loss_trace: ``(S, N, K)`` losses along the trajectory.
        step_ratio: ``(S, N, K)`` effective step size ``|x_{t+1} - x_t| / |grad f(x_t)|``
            (exact gradient; NaN once stopped).
        max_iter, grad_tol, bound: the stopping settings.
    """

    optimizer: str
    hyperparameters: Mapping[str, float]
    oracle: str
    surfaces: tuple[str, ...]
    starts: Tensor
    final_x: Tensor
    initial_loss: Tensor
    final_loss: Tensor
    final_grad_norm: Tensor
    status: Tensor
    iterations: Tensor
    record_iters: Tensor | None
    trajectory: Tensor | None
    loss_trace: Tensor | None
    step_ratio: Tensor | None
    max_iter: int
    grad_tol: float
    bound: float

    def fraction(self, status: str) -> Tensor:
        """``(S,)`` fraction of runs per surface with the given status name."""
        checks.name("status", status, STATUS_NAMES)
        return (self.status == STATUS_NAMES.index(status)).double().mean(1)

    def status_names(self) -> list[list[str]]:
        """The status codes as names, ``S`` lists of ``N``."""
        return [[STATUS_NAMES[c] for c in row] for row in self.status.tolist()]


def _label(fn: Any, k: int) -> str:
    return str(getattr(fn, "name", None) or getattr(fn, "__name__", None) or f"surface{k}")


def _oracle_label(oracle: Any) -> str:
    if isinstance(oracle, FiniteSumOracle):
        return f"FiniteSumOracle(n={oracle.n}, batch_size={oracle.batch_size})"
    return repr(oracle)


def _loss_grad(fns: Sequence[Callable[[Tensor], Tensor]], x: Tensor) -> tuple[Tensor, Tensor]:
    """Loss ``(S, M)`` and exact gradient ``(S, M, d)`` of surface ``k`` on ``x[k]``, one backward."""
    S, M, d = x.shape
    with torch.enable_grad():
        xr = x.detach().requires_grad_(True)
        vals = [f(xr[k]) for k, f in enumerate(fns)]
        for k, v in enumerate(vals):
            if v.shape != (M,):
                raise ValueError(f"surface {k} returned shape {tuple(v.shape)} for input (M={M}, d={d}); expected ({M},)")
        val = torch.stack(vals)
        (g,) = torch.autograd.grad(val.sum(), xr)
    return val.detach(), g


def run(
    optimizer: str,
    surfaces: Callable[[Tensor], Tensor] | Sequence[Callable[[Tensor], Tensor]],
    starts: Tensor,
    *,
    hyper: Mapping[str, float] | None = None,
    oracle: GradientOracle | None = None,
    max_iter: int = 1000,
    grad_tol: float = 1e-6,
    bound: float = 1e3,
    record_every: int | None = None,
    seed: int = 0,
) -> SurfaceRun:
    """Run one optimizer from every start on every surface, all as one tensor.

    Args:
        optimizer: a registry name (:func:`names`).
        surfaces: one callable or a sequence of ``S`` callables, each mapping ``(M, d)`` to
            ``(M,)`` (e.g. ``lls_core.surfaces.get("case1")``), differentiable by autograd;
            registered surface names (``"case1"``) are looked up.
        starts: ``(N, d)`` (used on every surface) or ``(S, N, d)``.
        hyper: hyperparameter overrides (see ``get(optimizer).defaults``).
        oracle: gradient oracle; ``None`` gives :class:`ExactOracle`, except SGD
            (``GaussianNoiseOracle(1.0)``) and SVRG/SARAH (``FiniteSumOracle.make()``).
        max_iter: cap on the number of updates per run.
        grad_tol: a run has *converged* at the first iterate with exact ``|grad f| <= grad_tol``.
        bound: a run has *diverged* at the first iterate with a non-finite loss or
            coordinate, or with ``max_j |x_j| > bound``.
        record_every: record trajectories every this many iterations (plus the last);
            ``None`` records nothing.
        seed: seed of the generator used by stochastic oracles and SPSA.

    A run stops (its point is frozen) when it converges or diverges; the loop ends when
    all runs have stopped or after ``max_iter`` updates. See :func:`run_many` to run
    several optimizers in the same tensor (same results, one gradient evaluation per
    iteration for all of them).

    Example:
        >>> import torch
        >>> res = run("Adam", lambda p: (p ** 2).sum(-1), torch.tensor([[1.0, -2.0], [0.5, 0.5]]),
        ...           hyper={"lr": 0.1}, max_iter=300, grad_tol=1e-3)
        >>> res.status_names()   # one surface, two starts
        [['converged', 'converged']]
        >>> bool((res.final_loss < 1e-6).all())
        True
    """
    return run_many(
        [optimizer], surfaces, starts,
        hypers=None if hyper is None else {optimizer: hyper},
        oracles=None if oracle is None else {optimizer: oracle},
        max_iter=max_iter, grad_tol=grad_tol, bound=bound, record_every=record_every, seed=seed,
    )[get(optimizer).name]


def run_many(
    optimizers: Sequence[str],
    surfaces: Callable[[Tensor], Tensor] | Sequence[Callable[[Tensor], Tensor]],
    starts: Tensor,
    *,
    hypers: Mapping[str, Mapping[str, float]] | None = None,
    oracles: Mapping[str, GradientOracle] | None = None,
    max_iter: int = 1000,
    grad_tol: float = 1e-6,
    bound: float = 1e3,
    record_every: int | None = None,
    seed: int = 0,
) -> dict[str, SurfaceRun]:
    """Run ``A`` optimizers x ``S`` surfaces x ``N`` starts as one ``(S, A, N, d)`` tensor.

    Arguments as in :func:`run`; ``hypers`` and ``oracles`` map optimizer names to their
    overrides. Each optimizer's stochastic draws come from its own generator seeded with
    ``seed``, so ``run_many([...])[name]`` equals ``run(name, ...)``. Returns one
    :class:`SurfaceRun` per optimizer, keyed by registry name.
    """
    if isinstance(optimizers, str) or not optimizers:
        raise TypeError("optimizers must be a non-empty sequence of names")
    specs = [get(n) for n in optimizers]
    if len({s.name for s in specs}) != len(specs):
        raise ValueError(f"optimizers contains a name twice: {list(optimizers)}")
    hypers = dict(hypers or {})
    oracles = dict(oracles or {})
    for key in (*hypers, *oracles):
        if get(key).name not in {s.name for s in specs}:
            raise ValueError(f"hypers/oracles name {key!r}, which is not among optimizers {list(optimizers)}")
    hyper_of = {get(k).name: v for k, v in hypers.items()}
    oracle_of = {get(k).name: v for k, v in oracles.items()}
    hps = [validate_hyperparameters(s.name, hyper_of.get(s.name)) for s in specs]

    fns = [surfaces] if (callable(surfaces) or isinstance(surfaces, str)) else list(surfaces)
    if any(isinstance(f, str) for f in fns):
        from lls_core import surfaces as _surfaces  # registered names, e.g. "case1"

        fns = [_surfaces.get(f) if isinstance(f, str) else f for f in fns]
    if not fns or not all(callable(f) for f in fns):
        raise TypeError("surfaces must be a callable, a registered surface name, or a non-empty sequence of them")
    if not isinstance(starts, Tensor):
        raise TypeError(f"starts must be a torch.Tensor of shape (N, d) or (S, N, d), got {type(starts).__name__}")
    checks.tensor("starts", starts)  # refuses meta tensors (no values) with a message naming them
    if starts.is_complex() or starts.dtype == torch.bool:
        raise ValueError(f"starts has dtype {starts.dtype}; expected real coordinates (a float or integer tensor)")
    x0 = starts.to(DTYPE)
    if x0.ndim == 2:
        x0 = x0.unsqueeze(0).expand(len(fns), -1, -1)
    if x0.ndim != 3 or x0.shape[0] != len(fns) or x0.shape[1] < 1 or x0.shape[2] < 1:
        raise ValueError(
            f"starts has shape {tuple(starts.shape)}; expected (N, d) or (S={len(fns)}, N, d) with N >= 1"
        )
    if not torch.isfinite(x0).all():
        raise ValueError("starts contain non-finite values")
    if isinstance(max_iter, bool) or not (isinstance(max_iter, int) and max_iter >= 0):
        raise ValueError(f"max_iter={max_iter!r} must be an integer >= 0")
    if not (math.isfinite(grad_tol) and grad_tol >= 0):
        raise ValueError(f"grad_tol={grad_tol!r} must be a finite number >= 0")
    if not bound > 0:
        raise ValueError(f"bound={bound!r} must be > 0")
    if record_every is not None and not (isinstance(record_every, int) and record_every >= 1):
        raise ValueError(f"record_every={record_every!r} must be None or an integer >= 1")

    S, N, d = x0.shape
    A = len(specs)
    ors = []
    for s in specs:
        o = oracle_of.get(s.name)
        if o is None:
            if s.kind == "finite-sum":
                o = FiniteSumOracle.make(d=d)
            elif s.stochastic_default:
                o = GaussianNoiseOracle(1.0)
            else:
                o = ExactOracle()
        if not callable(o):
            raise TypeError(f"oracle for {s.name} must be a gradient oracle, got {type(o).__name__}")
        if s.name == "BGD" and getattr(o, "stochastic", False):
            raise ValueError("BGD uses the exact gradient; give it no oracle or ExactOracle() (SGD takes noise)")
        ors.append(o)

    X = x0.unsqueeze(1).expand(S, A, N, d).clone()
    with torch.no_grad():
        rules = [s.rule(X[:, a].clone(), hp, o, torch.Generator().manual_seed(seed))
                 for a, (s, hp, o) in enumerate(zip(specs, hps, ors))]
        status = torch.full((S, A, N), MAX_ITER, dtype=torch.int8)
        iters = torch.full((S, A, N), max_iter, dtype=torch.int64)
        active = torch.ones(S, A, N, dtype=torch.bool)
        final_x = X.clone()
        final_loss = torch.full((S, A, N), float("nan"), dtype=DTYPE)
        final_gn = torch.full((S, A, N), float("nan"), dtype=DTYPE)
        init_loss = torch.full((S, A, N), float("nan"), dtype=DTYPE)
        rec_x: list[Tensor] = []
        rec_l: list[Tensor] = []
        rec_s: list[Tensor] = []
        rec_t: list[int] = []
        all_active = True
        for t in range(max_iter + 1):
            # extra evaluation points (look-ahead, SPSA pairs) depend only on the state, so they
            # join the main evaluation: one forward/backward per iteration for everything
            queries = ([r.query(X[:, a], active[:, a], t + 1) for a, r in enumerate(rules)]
                       if t < max_iter else [None] * A)
            extra = [q for q in queries if q is not None]
            flat = X.reshape(S, A * N, d)
            loss_all, g_all = _loss_grad(fns, torch.cat([flat, *extra], dim=1) if extra else flat)
            loss, G = loss_all[:, : A * N].view(S, A, N), g_all[:, : A * N].view(S, A, N, d)
            if t == 0:
                init_loss.copy_(loss)
            gnorm = G.norm(dim=-1)
            ok = (X.abs().amax(-1) <= bound) & torch.isfinite(loss)  # False for NaN too
            new_div = active & ~ok
            new_conv = active & ok & (gnorm <= grad_tol)
            stop = new_div | new_conv
            if t == max_iter:
                stop = stop | active
            if stop.any():
                status[new_div] = DIVERGED
                status[new_conv] = CONVERGED
                iters[new_div | new_conv] = t
                final_x[stop] = X[stop]
                final_loss[stop] = loss[stop]
                final_gn[stop] = gnorm[stop]
                active = active & ~stop
                X[new_div] = 0.0  # a stopped run is frozen; keep only finite numbers in play
                all_active = False
            any_active = bool(active.any()) if not all_active else True
            record = record_every is not None and (t % record_every == 0 or t == max_iter or not any_active)
            if record:
                rec_t.append(t)
                rec_x.append(torch.where(active[..., None], X, final_x))
                rec_l.append(torch.where(active, loss, final_loss))
            if not any_active or t == max_iter:
                if record:
                    rec_s.append(torch.full((S, A, N), float("nan"), dtype=DTYPE))
                break
            if extra:
                sizes = [q.shape[1] for q in extra]
                el_parts = iter(loss_all[:, A * N :].split(sizes, 1))
                eg_parts = iter(g_all[:, A * N :].split(sizes, 1))
            outs = []
            for a, (r, q) in enumerate(zip(rules, queries)):
                e_l, e_g = (next(el_parts), next(eg_parts)) if q is not None else (None, None)
                outs.append(r.step(X[:, a], G[:, a], t + 1, e_l, e_g))
            X_new = torch.stack(outs, dim=1)
            if record:
                ratio = (X_new - X).norm(dim=-1) / gnorm
                rec_s.append(torch.where(active, ratio, torch.full_like(ratio, float("nan"))))
            X = X_new if all_active else torch.where(active[..., None], X_new, X)

    results: dict[str, SurfaceRun] = {}
    for a, (s, hp, o) in enumerate(zip(specs, hps, ors)):
        traj = loss_tr = step_r = rec_iters = None
        if record_every is not None:
            rec_iters = torch.tensor(rec_t, dtype=torch.int64)
            traj = torch.stack([r[:, a] for r in rec_x], 2)
            loss_tr = torch.stack([r[:, a] for r in rec_l], 2)
            step_r = torch.stack([r[:, a] for r in rec_s], 2)
        results[s.name] = SurfaceRun(
            optimizer=s.name,
            hyperparameters=MappingProxyType(dict(hp)),
            oracle=_oracle_label(o),
            surfaces=tuple(_label(f, k) for k, f in enumerate(fns)),
            starts=x0.clone(),
            final_x=final_x[:, a].clone(),
            initial_loss=init_loss[:, a].clone(),
            final_loss=final_loss[:, a].clone(),
            final_grad_norm=final_gn[:, a].clone(),
            status=status[:, a].clone(),
            iterations=iters[:, a].clone(),
            record_iters=rec_iters,
            trajectory=traj,
            loss_trace=loss_tr,
            step_ratio=step_r,
            max_iter=max_iter,
            grad_tol=float(grad_tol),
            bound=float(bound),
        )
    return results
