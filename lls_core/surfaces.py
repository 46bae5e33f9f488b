"""Two-dimensional test surfaces: the survey's loss-landscape proxies and three classics.

Every surface is a :class:`Surface`: a small frozen object with a name, a LaTeX
formula, a plotting domain, its known critical points, and batched torch
evaluation with autograd gradients. Points are tensors of shape ``(..., 2)``
holding ``(x, y)`` in the last dimension; a surface maps them to heights of
shape ``(...)`` (so ``(N, 2) -> (N,)``). All quantities are dimensionless.

The registry (:func:`get`, :func:`names`) holds, under fixed names:

=================  ==============================================================
``fig2a``          LLS survey Figure 2(a): ``x^2 + y^2``
``fig2b``          Figure 2(b): ``x^2 + y^2 + sin 5x + sin 5y``
``fig2c``          Figure 2(c): ``sin(5x^2) cos(5y^2)``
``case1..case3``   Figure 7, Use Cases I-III: ``x^2 + y^2``, ``4x^2 + y^2``, ``x^2 - y^2``
``case4``          Use Case IV, MATLAB ``peaks`` (middle coefficient 10; see :func:`peaks`)
``fig10``          Figure 10(c) with a bounded saddle layer (see :func:`fig10_layer`)
``fig10_printed``  Figure 10(c) exactly as printed (its saddle layer is unbounded)
``fig10_noisy``    Figure 10(d): ``fig10`` plus the time-varying noise at t=0, seed 0
``toy``            Yu & Morozov (2026) Figure 3 toy landscape (``TOY_ENDPOINTS``)
``rosenbrock``     Rosenbrock's banana valley
``rastrigin``      Rastrigin's egg-crate (every local minimum in the domain listed)
``himmelblau``     Himmelblau's four-minimum function
=================  ==============================================================

Known critical points were located once with :func:`find_critical_points`
(batched Newton iterations on the gradient, polished by ``scipy.optimize.root``)
and are listed to 10 decimals; the tests check that the gradient vanishes there
and that the search finds exactly the listed set.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import partial
from typing import Callable, Iterable, Literal, Sequence, TypedDict

import numpy as np
import torch
from torch import Tensor

from . import checks
from .checks import UnknownNameError

__all__ = [
    "Surface",
    "CriticalPoint",
    "CriticalPoints",
    "UnknownSurfaceError",
    "FourierNoise",
    "get",
    "names",
    "peaks",
    "fig10_layer",
    "fig10_panels",
    "fig10_surface",
    "NoiseDrift",
    "noise_drift",
    "find_critical_points",
    "FIG10_LAYERS",
    "FIG10_WIDTH",
    "FIG10_SADDLE_ENVELOPE",
    "PEAKS_COEFFICIENT",
    "TOY_CONSTANT",
    "TOY_ENDPOINTS",
]

Point = tuple[float, float]
Domain = tuple[tuple[float, float], tuple[float, float]]
HeightFn = Callable[[Tensor, Tensor], Tensor]


class _CriticalSets(TypedDict):
    """Known critical points of a surface, as :class:`Surface` takes them (``Surface(..., **sets)``)."""

    minima: tuple[Point, ...]
    saddles: tuple[Point, ...]
    maxima: tuple[Point, ...]


# ---------------------------------------------------------------------------
# The Surface object
# ---------------------------------------------------------------------------


def _as_points(p: Tensor | np.ndarray | Sequence[float]) -> Tensor:
    """Return ``p`` as a floating tensor of shape ``(..., 2)`` or raise a clear error."""
    if not isinstance(p, Tensor):
        p = torch.as_tensor(np.asarray(p, dtype=np.float64))
    if p.is_complex():
        raise TypeError(f"surface points must be real, got dtype {p.dtype}")
    if not p.is_floating_point():
        p = p.to(torch.get_default_dtype())
    if p.ndim == 0 or p.shape[-1] != 2:
        raise ValueError(
            f"surface points must have shape (..., 2) holding (x, y); got shape {tuple(p.shape)}"
        )
    return p


def _points_tuple(points: Iterable[Sequence[float]], what: str) -> tuple[Point, ...]:
    out = []
    for q in points:
        if len(q) != 2:
            raise ValueError(f"{what} must be (x, y) pairs; got {q!r}")
        out.append((float(q[0]), float(q[1])))
    return tuple(out)


@dataclass(frozen=True)
class Surface:
    """A height function ``z = f(x, y)`` with metadata for plots, tables and tests.

    Attributes:
        name: registry name (``"case4"``) or a descriptive one for derived surfaces.
        title: short human-readable title (``"Use Case IV: peaks"``).
        latex: the formula in LaTeX (no surrounding ``$``).
        fn: ``fn(x, y) -> z`` on tensors of equal shape; elementwise torch ops only,
            so it is differentiable and works under ``torch.func`` transforms.
        domain: plotting domain ``((xmin, xmax), (ymin, ymax))``.
        minima, saddles, maxima: known critical points ``(x, y)`` inside the domain
            (empty where there are none or none are known).
        bounded_below, bounded_above: whether ``f`` is bounded on all of R^2.
        source: where the surface comes from (paper and figure).
        notes: anything a user must know (degenerate critical sets, variants).
    """

    name: str
    title: str
    latex: str
    fn: HeightFn = field(repr=False, compare=False)
    domain: Domain
    minima: tuple[Point, ...] = ()
    saddles: tuple[Point, ...] = ()
    maxima: tuple[Point, ...] = ()
    bounded_below: bool = True
    bounded_above: bool = False
    source: str = ""
    notes: str = ""

    def __post_init__(self) -> None:
        try:
            (x0, x1), (y0, y1) = self.domain
        except (TypeError, ValueError):
            raise ValueError(
                f"domain must be ((xmin, xmax), (ymin, ymax)); got {self.domain!r}"
            ) from None
        if not (float(x0) < float(x1) and float(y0) < float(y1)):
            raise ValueError(f"domain bounds must increase; got {self.domain!r}")
        object.__setattr__(self, "domain", ((float(x0), float(x1)), (float(y0), float(y1))))
        for kind in ("minima", "saddles", "maxima"):
            object.__setattr__(self, kind, _points_tuple(getattr(self, kind), kind))

    # -- evaluation --------------------------------------------------------
    def __call__(self, p: Tensor) -> Tensor:
        """Heights at points ``p`` of shape ``(..., 2)``; returns shape ``(...)``.

        Differentiable: gradients flow back to ``p``. Non-tensor input (lists,
        numpy arrays) is converted to a float64 tensor; integer tensors to the
        default float dtype.
        """
        p = _as_points(p)
        z = self.fn(p[..., 0], p[..., 1])
        return z.expand(p.shape[:-1]) if z.shape != p.shape[:-1] else z

    def grad(self, p: Tensor) -> Tensor:
        """Gradient ``(df/dx, df/dy)`` at ``p`` of shape ``(..., 2)``; same shape as ``p``.

        Computed by autograd on a detached copy of ``p`` (the result carries no graph).
        """
        q = _as_points(p).detach().requires_grad_(True)
        with torch.enable_grad():
            (g,) = torch.autograd.grad(self(q).sum(), q)
        return g

    def hessian(self, p: Tensor) -> Tensor:
        """Hessian at ``p`` of shape ``(..., 2)``; returns shape ``(..., 2, 2)``.

        Points are independent, so one double-backward pass per coordinate gives
        the Hessians of a whole batch.
        """
        q = _as_points(p).detach().requires_grad_(True)
        with torch.enable_grad():
            (g,) = torch.autograd.grad(self(q).sum(), q, create_graph=True)
            rows = [torch.autograd.grad(g[..., i].sum(), q, retain_graph=True)[0] for i in range(2)]
        return torch.stack(rows, dim=-2).detach()

    def value(self, x: float, y: float) -> float:
        """Height at one point, evaluated in float64, as a Python float."""
        with torch.no_grad():
            return float(self(torch.tensor([x, y], dtype=torch.float64)))

    def grid(
        self, n: int = 201, domain: Domain | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Heights on an ``n x n`` grid for plotting, evaluated in float64.

        Returns numpy arrays ``X, Y, Z`` of shape ``(n, n)`` in matplotlib's
        ``meshgrid`` (``"xy"``) layout: ``X[i, j] = xs[j]``, ``Y[i, j] = ys[i]``.
        ``domain`` defaults to the surface's own.
        """
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 2:
            raise ValueError(f"grid size n must be an integer >= 2; got {n!r}")
        (x0, x1), (y0, y1) = self.domain if domain is None else Surface._check_domain(domain)
        xs = torch.linspace(x0, x1, int(n), dtype=torch.float64)
        ys = torch.linspace(y0, y1, int(n), dtype=torch.float64)
        gy, gx = torch.meshgrid(ys, xs, indexing="ij")
        with torch.no_grad():
            z = self(torch.stack([gx, gy], dim=-1))
        return gx.numpy(), gy.numpy(), z.numpy()

    @staticmethod
    def _check_domain(domain: Domain) -> Domain:
        try:
            (x0, x1), (y0, y1) = domain
        except (TypeError, ValueError):
            raise ValueError(f"domain must be ((xmin, xmax), (ymin, ymax)); got {domain!r}") from None
        if not (x0 < x1 and y0 < y1):
            raise ValueError(f"domain bounds must increase; got {domain!r}")
        return ((float(x0), float(x1)), (float(y0), float(y1)))

    # -- critical points ---------------------------------------------------
    @property
    def global_minima(self) -> tuple[Point, ...]:
        """The listed minima whose height equals the lowest listed height (to 1e-9)."""
        if not self.minima:
            return ()
        vals = [self.value(*m) for m in self.minima]
        low = min(vals)
        return tuple(m for m, v in zip(self.minima, vals) if v <= low + 1e-9)

    @property
    def highest_maximum(self) -> Point | None:
        """The listed maximum with the greatest height (``None`` when none is listed)."""
        return max(self.maxima, key=lambda q: self.value(*q)) if self.maxima else None

    def critical_points(self) -> tuple["CriticalPoint", ...]:
        """The listed minima, saddles and maxima with height, gradient norm and Hessian eigenvalues."""
        pts = [("minimum", m) for m in self.minima]
        pts += [("saddle", s) for s in self.saddles]
        pts += [("maximum", m) for m in self.maxima]
        if not pts:
            return ()
        p = torch.tensor([q for _, q in pts], dtype=torch.float64)
        with torch.no_grad():
            z = self(p)
        g = self.grad(p).norm(dim=-1)
        ev = torch.linalg.eigvalsh(self.hessian(p))
        return tuple(
            CriticalPoint(kind, q[0], q[1], float(z[i]), float(g[i]), (float(ev[i, 0]), float(ev[i, 1])))
            for i, (kind, q) in enumerate(pts)
        )

    def with_(self, **changes) -> "Surface":
        """A copy with some fields replaced (``dataclasses.replace``)."""
        from dataclasses import replace

        return replace(self, **changes)


@dataclass(frozen=True)
class CriticalPoint:
    """A point where the gradient vanishes.

    ``kind`` is ``"minimum"``, ``"saddle"`` or ``"maximum"``; ``value`` the height;
    ``grad_norm`` the Euclidean norm of the gradient there (float64); ``eigenvalues``
    the Hessian's eigenvalues in increasing order.
    """

    kind: str
    x: float
    y: float
    value: float
    grad_norm: float
    eigenvalues: tuple[float, float]


@dataclass(frozen=True)
class CriticalPoints:
    """Result of :func:`find_critical_points`: each tuple sorted by height."""

    minima: tuple[CriticalPoint, ...]
    saddles: tuple[CriticalPoint, ...]
    maxima: tuple[CriticalPoint, ...]

    def all(self) -> tuple[CriticalPoint, ...]:
        return self.minima + self.saddles + self.maxima


# ---------------------------------------------------------------------------
# Height functions (module level so surfaces pickle)
# ---------------------------------------------------------------------------


def _bowl(x: Tensor, y: Tensor) -> Tensor:
    return x**2 + y**2


def _bowl_sines(x: Tensor, y: Tensor) -> Tensor:
    return x**2 + y**2 + torch.sin(5 * x) + torch.sin(5 * y)


def _sin_cos(x: Tensor, y: Tensor) -> Tensor:
    return torch.sin(5 * x**2) * torch.cos(5 * y**2)


def _elliptic(x: Tensor, y: Tensor) -> Tensor:
    return 4 * x**2 + y**2


def _hyperbolic(x: Tensor, y: Tensor) -> Tensor:
    return x**2 - y**2


def _peaks(x: Tensor, y: Tensor, coefficient: float = 10.0) -> Tensor:
    return (
        3 * (1 - x) ** 2 * torch.exp(-(x**2) - (y + 1) ** 2)
        - coefficient * (x / 5 - x**3 - y**5) * torch.exp(-(x**2) - y**2)
        - torch.exp(-((x + 1) ** 2) - y**2) / 3
    )


def _rosenbrock(x: Tensor, y: Tensor) -> Tensor:
    return (1 - x) ** 2 + 100 * (y - x**2) ** 2


def _rastrigin(x: Tensor, y: Tensor) -> Tensor:
    two_pi = 2 * math.pi
    return 20 + x**2 - 10 * torch.cos(two_pi * x) + y**2 - 10 * torch.cos(two_pi * y)


def _himmelblau(x: Tensor, y: Tensor) -> Tensor:
    return (x**2 + y - 11) ** 2 + (x + y**2 - 7) ** 2


#: The constant of the Yu & Morozov toy landscape (from the authors' public code);
#: it shifts the deeper well's floor to about zero.
TOY_CONSTANT = 1.0190055296306975
#: End points of the paths in Yu & Morozov Figure 3 (near the two minima, rounded).
TOY_ENDPOINTS: tuple[Point, Point] = ((-0.62, -0.54), (0.49, -0.02))


def _toy(x: Tensor, y: Tensor) -> Tensor:
    return (
        -torch.exp(-3 * ((x - 0.5) ** 2 + y**2))
        - torch.exp(-3 * ((x + 0.5) ** 2 + (y + 0.5) ** 2))
        + torch.exp(-15 * ((x + 0.2) ** 2 + (y + 0.4) ** 2))
        + torch.exp(-15 * (x**2 + (y - 0.3) ** 2))
        + TOY_CONSTANT
    )


# ---------------------------------------------------------------------------
# Figure 10 layers
# ---------------------------------------------------------------------------

#: The width parameter ``0.2`` that divides every exponent of Figure 10.
FIG10_WIDTH = 0.2
#: Width of the Gaussian envelope of the bounded saddle layer (``2 * FIG10_WIDTH``).
FIG10_SADDLE_ENVELOPE = 0.4
#: The layers of Figure 10 in the order the panels add them.
FIG10_LAYERS = ("plane", "saddle", "mound", "deep_well", "shallow_wells", "noise")


def _plane(x: Tensor, y: Tensor) -> Tensor:
    return torch.ones_like(x + y)


def _saddle_printed(x: Tensor, y: Tensor) -> Tensor:
    return 2 * torch.exp(-((x + 2) ** 2 - (y + 2) ** 2) / FIG10_WIDTH)


def _saddle_bounded(x: Tensor, y: Tensor) -> Tensor:
    u2, v2 = (x + 2) ** 2, (y + 2) ** 2
    return 2 * torch.exp(-u2 / FIG10_WIDTH) * (1 + v2 / FIG10_WIDTH) * torch.exp(-v2 / FIG10_SADDLE_ENVELOPE)


def _mound(x: Tensor, y: Tensor) -> Tensor:
    return 4 * torch.exp(-((x + 2) ** 2 + (y + 2) ** 2) / FIG10_WIDTH)


def _deep_well(x: Tensor, y: Tensor) -> Tensor:
    return -4 * torch.exp(-((x + 0.5) ** 2 + (y + 0.5) ** 2) / FIG10_WIDTH)


def _shallow_wells(x: Tensor, y: Tensor) -> Tensor:
    return -2.85 * torch.exp(-((x - 2) ** 2 + y**2) / FIG10_WIDTH) - 2.85 * torch.exp(
        -((x - 2) ** 2 + (y - 2) ** 2) / FIG10_WIDTH
    )


@dataclass(frozen=True)
class FourierNoise:
    """A smooth random field that drifts in time: a sum of random travelling plane waves.

    ``noise(x, y; t) = sum_k a cos(kx_k x + ky_k y + w_k t + phi_k)`` with
    ``a = amplitude * sqrt(2 / n_modes)`` (so the field's root-mean-square over
    random positions is about ``amplitude``). Wave vectors have uniformly random
    directions and lengths in ``[1, 3]`` (wavelengths about 2 to 6 domain units,
    so the field is smooth on the scale of the Figure 10 wells); angular
    frequencies ``w_k`` lie in ``[0.5, 1.5]`` per unit of ``t``; phases are uniform.
    Deterministic given ``(seed, t)`` and differentiable in ``(x, y)``.
    """

    seed: int = 0
    t: float = 0.0
    amplitude: float = 0.25
    n_modes: int = 24
    kx: tuple[float, ...] = field(init=False, repr=False)
    ky: tuple[float, ...] = field(init=False, repr=False)
    omega: tuple[float, ...] = field(init=False, repr=False)
    phase: tuple[float, ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if isinstance(self.seed, bool) or not isinstance(self.seed, (int, np.integer)) or self.seed < 0:
            raise ValueError(f"noise seed must be a non-negative integer; got {self.seed!r}")
        if not math.isfinite(float(self.t)):
            raise ValueError(f"noise time t must be finite; got {self.t!r}")
        if not (math.isfinite(float(self.amplitude)) and self.amplitude >= 0):
            raise ValueError(f"noise amplitude must be finite and >= 0; got {self.amplitude!r}")
        if isinstance(self.n_modes, bool) or not isinstance(self.n_modes, (int, np.integer)) or self.n_modes < 1:
            raise ValueError(f"n_modes must be an integer >= 1; got {self.n_modes!r}")
        rng = np.random.default_rng(int(self.seed))
        angle = rng.uniform(0.0, 2 * math.pi, self.n_modes)
        length = rng.uniform(1.0, 3.0, self.n_modes)
        object.__setattr__(self, "kx", tuple(float(v) for v in length * np.cos(angle)))
        object.__setattr__(self, "ky", tuple(float(v) for v in length * np.sin(angle)))
        object.__setattr__(self, "omega", tuple(float(v) for v in rng.uniform(0.5, 1.5, self.n_modes)))
        object.__setattr__(self, "phase", tuple(float(v) for v in rng.uniform(0.0, 2 * math.pi, self.n_modes)))

    def at(self, t: float) -> "FourierNoise":
        """The same field (same seed and modes) at another time ``t``."""
        return FourierNoise(seed=self.seed, t=t, amplitude=self.amplitude, n_modes=self.n_modes)

    def __call__(self, x: Tensor, y: Tensor) -> Tensor:
        def vec(values: tuple[float, ...]) -> Tensor:
            return torch.tensor(values, dtype=x.dtype, device=x.device)

        kx, ky = vec(self.kx), vec(self.ky)
        shift = vec(self.omega) * float(self.t) + vec(self.phase)
        arg = x[..., None] * kx + y[..., None] * ky + shift
        a = float(self.amplitude) * math.sqrt(2.0 / self.n_modes)
        return a * torch.cos(arg).sum(dim=-1)


@dataclass(frozen=True)
class _Sum:
    """Sum of height functions (a picklable closure)."""

    parts: tuple[HeightFn, ...]

    def __call__(self, x: Tensor, y: Tensor) -> Tensor:
        total = self.parts[0](x, y)
        for f in self.parts[1:]:
            total = total + f(x, y)
        return total


_FIG10_DOMAIN: Domain = ((-3.5, 3.5), (-3.5, 3.5))
_W = r"/0.2"
_FIG10_LATEX = {
    "plane": r"1",
    "saddle_printed": r"2\,e^{-\left((x+2)^2-(y+2)^2\right)/0.2}",
    "saddle_bounded": r"2\,e^{-(x+2)^2/0.2}\left(1+\frac{(y+2)^2}{0.2}\right)e^{-(y+2)^2/0.4}",
    "mound": r"4\,e^{-\left((x+2)^2+(y+2)^2\right)/0.2}",
    "deep_well": r"-4\,e^{-\left((x+0.5)^2+(y+0.5)^2\right)/0.2}",
    "shallow_wells": r"-2.85\,e^{-\left((x-2)^2+y^2\right)/0.2}-2.85\,e^{-\left((x-2)^2+(y-2)^2\right)/0.2}",
    "noise": r"\eta_{\mathrm{seed}}(x, y; t)",
}

SaddleVariant = Literal["bounded", "printed"]


def _check_saddle(saddle: str) -> str:
    if saddle not in ("bounded", "printed"):
        raise ValueError(f"saddle must be 'bounded' or 'printed'; got {saddle!r}")
    return saddle


def fig10_layer(
    name: str,
    *,
    saddle: SaddleVariant = "bounded",
    t: float = 0.0,
    seed: int = 0,
    noise_amplitude: float = 0.25,
) -> Surface:
    """One layer of LLS survey Figure 10 as a :class:`Surface`.

    Layers (``FIG10_LAYERS``), all with exponents divided by ``0.2``:

    * ``plane``: ``F = 1`` (panel a);
    * ``saddle``: as printed (``saddle="printed"``),
      ``2 exp(-((x+2)^2 - (y+2)^2)/0.2) = 2 exp(-(x+2)^2/0.2) exp((y+2)^2/0.2)``,
      which grows without bound along ``y`` (about ``3e78`` at ``y = 4`` on ``x = -2``)
      and equals 2 on the diagonals ``|x+2| = |y+2|`` with an x-slope of ``-20 (x+2)``,
      right where the deep well (-0.5, -0.5) and a shallow well (2, 2) sit, so it
      cannot be what the survey's panels show. The ``"bounded"`` variant keeps the
      printed x-factor ``exp(-(x+2)^2/0.2)`` and replaces the runaway y-factor
      ``exp((y+2)^2/0.2)`` by its first-order expansion ``1 + (y+2)^2/0.2`` times a
      Gaussian envelope ``exp(-(y+2)^2/0.4)``. At (-2, -2) it has the printed
      value (2), zero gradient and the same Hessian sign pattern (curvatures -20
      along x as printed, +10 along y instead of +20); everywhere it stays within
      ``[0, 4 exp(-1/2)] ~ [0, 2.43]`` and it vanishes far from (-2, -2);
    * ``mound``: ``+4 exp(-((x+2)^2 + (y+2)^2)/0.2)`` (the global maximum);
    * ``deep_well``: ``-4 exp(-((x+0.5)^2 + (y+0.5)^2)/0.2)`` (the global minimum);
    * ``shallow_wells``: ``-2.85 exp(-((x-2)^2 + y^2)/0.2) - 2.85 exp(-((x-2)^2 + (y-2)^2)/0.2)``;
    * ``noise``: :class:`FourierNoise` with ``seed``, time ``t`` and RMS ``noise_amplitude``.
    """
    checks.name("name", name, FIG10_LAYERS, what="Figure 10 layer")
    _check_saddle(saddle)
    bounded_saddle = saddle == "bounded"
    table: dict[str, tuple[HeightFn, str, str, tuple, tuple, tuple, bool, bool]] = {
        "plane": (_plane, "flat plane", _FIG10_LATEX["plane"], (), (), (), True, True),
        "saddle": (
            (_saddle_bounded, "bounded saddle", _FIG10_LATEX["saddle_bounded"], (), ((-2.0, -2.0),), (), True, True)
            if bounded_saddle
            else (_saddle_printed, "saddle as printed", _FIG10_LATEX["saddle_printed"], (), ((-2.0, -2.0),), (), True, False)
        ),
        "mound": (_mound, "mound", _FIG10_LATEX["mound"], (), (), ((-2.0, -2.0),), True, True),
        "deep_well": (_deep_well, "deep well", _FIG10_LATEX["deep_well"], ((-0.5, -0.5),), (), (), True, True),
        "shallow_wells": (
            _shallow_wells,
            "two shallow wells",
            _FIG10_LATEX["shallow_wells"],
            # The two wells overlap a little: each minimum sits a hair off its centre.
            _SHALLOW_WELL_MINIMA,
            ((2.0, 1.0),),
            (),
            True,
            True,
        ),
    }
    if name == "noise":
        noise = FourierNoise(seed=seed, t=t, amplitude=noise_amplitude)
        return Surface(
            name=f"fig10_noise(seed={seed}, t={t})",
            title=f"time-varying noise (seed {seed}, t = {t})",
            latex=_FIG10_LATEX["noise"],
            fn=noise,
            domain=_FIG10_DOMAIN,
            bounded_above=True,
            source="LLS survey Figure 10(d)",
        )
    fn, title, latex, mins, sads, maxs, lower, upper = table[name]
    return Surface(
        name=f"fig10_{name}" + ("_printed" if name == "saddle" and not bounded_saddle else ""),
        title=title,
        latex=latex,
        fn=fn,
        domain=_FIG10_DOMAIN,
        minima=mins,
        saddles=sads,
        maxima=maxs,
        bounded_below=lower,
        bounded_above=upper,
        source="LLS survey Figure 10",
    )


def _combine(name: str, title: str, layers: Sequence[Surface], **meta) -> Surface:
    return Surface(
        name=name,
        title=title,
        latex=" + ".join(s.latex for s in layers).replace("+ -", "- "),
        fn=_Sum(tuple(s.fn for s in layers)),
        domain=_FIG10_DOMAIN,
        bounded_below=all(s.bounded_below for s in layers),
        bounded_above=all(s.bounded_above for s in layers),
        source="LLS survey Figure 10",
        **meta,
    )


def fig10_panels(
    *, saddle: SaddleVariant = "bounded", t: float = 0.0, seed: int = 0, noise_amplitude: float = 0.25
) -> tuple[Surface, Surface, Surface, Surface]:
    """The four cumulative panels (a)-(d) of LLS survey Figure 10.

    (a) the plane; (b) plane + saddle; (c) + mound + deep well + two shallow
    wells; (d) + noise at time ``t``. ``saddle`` picks the printed or the bounded
    saddle layer (see :func:`fig10_layer`). Panels (c) of both variants carry
    their known critical points; (d) none (they move with the noise).
    """
    layer = partial(fig10_layer, saddle=saddle, t=t, seed=seed, noise_amplitude=noise_amplitude)
    parts = [layer(n) for n in FIG10_LAYERS]
    tag = "" if saddle == "bounded" else ", printed saddle"
    a = _combine("fig10_a", f"Figure 10(a): plane{tag}", parts[:1])
    b = _combine("fig10_b", f"Figure 10(b): + saddle{tag}", parts[:2], saddles=((-2.0, -2.0),))
    crit = _FIG10_CRITICAL[saddle]
    c = _combine(
        "fig10" if saddle == "bounded" else "fig10_printed",
        f"Figure 10(c): + mound, wells{tag}",
        parts[:5],
        minima=crit["minima"],
        saddles=crit["saddles"],
        maxima=crit["maxima"],
        notes=crit["notes"],
    )
    d = _combine(
        "fig10_noisy" if saddle == "bounded" else "fig10_printed_noisy",
        f"Figure 10(d): + noise (seed {seed}, t = {t}){tag}",
        parts,
    )
    return a, b, c, d


def fig10_surface(
    *,
    saddle: SaddleVariant = "bounded",
    noise: bool = False,
    t: float = 0.0,
    seed: int = 0,
    noise_amplitude: float = 0.25,
) -> Surface:
    """The complete Figure 10 surface: panel (c), or panel (d) when ``noise`` is true."""
    panels = fig10_panels(saddle=saddle, t=t, seed=seed, noise_amplitude=noise_amplitude)
    return panels[3] if noise else panels[2]


@dataclass(frozen=True, eq=False)
class NoiseDrift:
    """Panel (d) of Figure 10 at several times: where its lowest point sits and how many minima it has.

    Attributes:
        times: the times of the snapshots.
        snapshots: the panel-(d) surfaces at those times.
        lowest: per time, ``(x, y, height)`` of the lowest point of an ``n x n`` grid.
        grid_h: the grid spacing in x (coordinate units); the lowest point is known to this resolution.
        n_minima: per time, the minima :func:`find_critical_points` finds (``starts_per_axis`` squared starts).
        n_minima_still: the minima listed for panel (c), the surface without noise.
    """

    times: tuple[float, ...]
    snapshots: tuple[Surface, ...]
    lowest: tuple[tuple[float, float, float], ...]
    grid_h: float
    n_minima: tuple[int, ...]
    n_minima_still: int

    @property
    def drift(self) -> float:
        """Distance the lowest grid point moves from the first time to the last (coordinate units)."""
        (x0, y0, _), (x1, y1, _) = self.lowest[0], self.lowest[-1]
        return float(math.hypot(x1 - x0, y1 - y0))

    def facts(self) -> dict[str, float | int | str]:
        """``noise_drift``, ``noise_span`` (last time minus first), ``grid_h``, ``noise_minima`` (the
        counts, comma-separated) and ``fig10c_minima`` (panel (c)'s)."""
        return {"noise_drift": self.drift, "noise_span": self.times[-1] - self.times[0], "grid_h": self.grid_h,
                "noise_minima": ", ".join(str(k) for k in self.n_minima), "fig10c_minima": self.n_minima_still}


def noise_drift(
    times: Sequence[float],
    *,
    seed: int = 0,
    noise_amplitude: float = 0.25,
    n: int = 201,
    starts_per_axis: int = 31,
    saddle: SaddleVariant = "bounded",
) -> NoiseDrift:
    """Follow Figure 10(d)'s moving noise: its lowest grid point and its minima at each of ``times``.

    ``n``: grid points per axis for the lowest point; ``starts_per_axis``: the minimum search of
    :func:`find_critical_points`. Example: ``noise_drift([0.0, 1.0], n=51, starts_per_axis=5).drift``.
    """
    ts = [float(t) for t in times]
    if len(ts) < 2 or not all(math.isfinite(t) for t in ts):
        raise ValueError(f"times={list(times)!r} must hold at least two finite times")
    snaps = tuple(fig10_surface(saddle=saddle, noise=True, t=t, seed=seed, noise_amplitude=noise_amplitude) for t in ts)
    lowest = []
    for snap in snaps:
        X, Y, Z = snap.grid(n=n)
        i = np.unravel_index(np.argmin(Z), Z.shape)
        lowest.append((float(X[i]), float(Y[i]), float(Z[i])))
    still = fig10_surface(saddle=saddle)
    return NoiseDrift(
        times=tuple(ts), snapshots=snaps, lowest=tuple(lowest), grid_h=float(X[0, 1] - X[0, 0]),
        n_minima=tuple(len(find_critical_points(sn, starts_per_axis=starts_per_axis).minima) for sn in snaps),
        n_minima_still=len(still.minima),
    )


# ---------------------------------------------------------------------------
# Critical-point search
# ---------------------------------------------------------------------------


def find_critical_points(
    surface: Surface,
    *,
    domain: Domain | None = None,
    starts_per_axis: int = 41,
    max_iter: int = 80,
    tol: float = 1e-9,
    min_curvature: float = 1e-6,
    merge: float = 1e-6,
) -> CriticalPoints:
    """Locate the non-degenerate critical points of ``surface`` inside ``domain``.

    Starts a damped Newton iteration on the gradient from every node of a
    ``starts_per_axis x starts_per_axis`` grid (all in one float64 batch; steps
    capped at 5% of the domain's span; at most ``max_iter`` iterations, fewer
    once every start has converged or left the domain), polishes each distinct candidate with
    ``scipy.optimize.root`` (analytic Jacobian = the Hessian), and keeps points
    inside the domain whose gradient norm is below ``tol`` and whose Hessian
    eigenvalues all exceed ``min_curvature`` in magnitude (degenerate points,
    e.g. the flat tails of Gaussians, are dropped). Points closer than ``merge``
    are merged. Deterministic; no random starts. A grid search can miss critical
    points whose basins fall between nodes: raise ``starts_per_axis`` to check.
    """
    from scipy.optimize import root

    if isinstance(starts_per_axis, bool) or not isinstance(starts_per_axis, int) or starts_per_axis < 2:
        raise ValueError(f"starts_per_axis must be an integer >= 2; got {starts_per_axis!r}")
    (x0, x1), (y0, y1) = surface.domain if domain is None else Surface._check_domain(domain)
    span = max(x1 - x0, y1 - y0)
    xs = torch.linspace(x0, x1, starts_per_axis, dtype=torch.float64)
    ys = torch.linspace(y0, y1, starts_per_axis, dtype=torch.float64)
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    p = torch.stack([gx.reshape(-1), gy.reshape(-1)], dim=-1)
    cap = 0.05 * span
    for _ in range(max_iter):
        g = surface.grad(p)
        h = surface.hessian(p)
        step = -(torch.linalg.pinv(h) @ g[..., None])[..., 0]
        norm = step.norm(dim=-1, keepdim=True)
        step = torch.where(norm > cap, step * cap / norm, step)
        step = torch.nan_to_num(step, nan=0.0, posinf=0.0, neginf=0.0)
        # points that left the domain (with a margin) are dropped later: freeze them
        left = (p[:, 0] < x0 - cap) | (p[:, 0] > x1 + cap) | (p[:, 1] < y0 - cap) | (p[:, 1] > y1 + cap)
        step[left] = 0.0
        p = p + step
        if float(step.abs().max()) < 1e-13:  # every start has converged or left
            break
    g = surface.grad(p).norm(dim=-1)
    curv = torch.linalg.eigvalsh(surface.hessian(p)).abs().min(dim=-1).values
    inside = (p[:, 0] >= x0) & (p[:, 0] <= x1) & (p[:, 1] >= y0) & (p[:, 1] <= y1)
    keep = inside & torch.isfinite(g) & (g < 1e-4) & torch.isfinite(curv) & (curv > min_curvature)
    cand = p[keep]
    # one candidate per cell of a 1e-5 lattice
    seen: dict[tuple[int, int], np.ndarray] = {}
    for q in cand.numpy():
        seen.setdefault((round(q[0] * 1e5), round(q[1] * 1e5)), q)

    def fun(q: np.ndarray) -> np.ndarray:
        return surface.grad(torch.as_tensor(q, dtype=torch.float64)).numpy()

    def jac(q: np.ndarray) -> np.ndarray:
        return surface.hessian(torch.as_tensor(q, dtype=torch.float64)).numpy()

    found: list[np.ndarray] = []
    for q in seen.values():
        res = root(fun, q, jac=jac, method="hybr", tol=1e-14)
        r = res.x
        if not (x0 <= r[0] <= x1 and y0 <= r[1] <= y1):
            continue
        if np.linalg.norm(fun(r)) >= tol:
            continue
        if any(np.linalg.norm(r - f) < merge for f in found):
            continue
        found.append(r)
    out: dict[str, list[CriticalPoint]] = {"minimum": [], "saddle": [], "maximum": []}
    if found:
        pts = torch.tensor(np.array(found), dtype=torch.float64)
        ev = torch.linalg.eigvalsh(surface.hessian(pts))
        gn = surface.grad(pts).norm(dim=-1)
        with torch.no_grad():
            z = surface(pts)
        for i, r in enumerate(found):
            lo, hi = float(ev[i, 0]), float(ev[i, 1])
            if min(abs(lo), abs(hi)) <= min_curvature:
                continue
            kind = "minimum" if lo > 0 else "maximum" if hi < 0 else "saddle"
            out[kind].append(CriticalPoint(kind, float(r[0]), float(r[1]), float(z[i]), float(gn[i]), (lo, hi)))
    key = lambda c: (c.value, c.x, c.y)  # noqa: E731
    return CriticalPoints(
        minima=tuple(sorted(out["minimum"], key=key)),
        saddles=tuple(sorted(out["saddle"], key=key)),
        maxima=tuple(sorted(out["maximum"], key=key)),
    )


# ---------------------------------------------------------------------------
# Known critical points (computed once with find_critical_points; 10 decimals)
# ---------------------------------------------------------------------------

# The two shallow wells overlap a little (exp(-20) ~ 2e-9), so each minimum sits a hair off its centre.
_SHALLOW_WELL_MINIMA: tuple[Point, ...] = ((2.0, 0.0000000041), (2.0, 1.9999999959))
_FIG10_CRITICAL: dict[str, dict] = {
    "bounded": {
        "minima": ((-0.4999995687, -0.4999998194), (2.0, 0.0000000041), (2.0, 1.9999999959)),
        "saddles": ((2.0, 1.0), (0.7638924706, -0.2472215059)),
        "maxima": ((-2.0000000002, -2.0000000003),),
        "notes": "bounded saddle layer (see fig10_layer); non-degenerate critical points in the domain; "
        "far from the features the plane is flat to within exp(-45)",
    },
    "printed": {
        "minima": ((-0.4184669863, -0.5735385835), (2.0, 0.0000000041), (2.0511678201, 1.9501085860)),
        "saddles": (
            (2.0, 1.0),
            (0.7638925059, -0.2472217784),
            (-2.0000000066, -1.7367231074),
            (-2.0, -2.2632768848),
        ),
        "maxima": ((-2.0000000002, -2.0000000005),),
        "notes": "saddle layer as printed: unbounded above along y; it shifts the deep well to "
        "(-0.418, -0.574) and the (2, 2) well to (2.051, 1.950)",
    },
}
_PEAKS10_CRITICAL: dict[str, tuple[Point, ...]] = {
    "minima": ((0.2282789206, -1.6255349575), (-1.3473962444, 0.2045188661), (0.2964455538, 0.3201962477)),
    "saddles": ((0.4163233217, -0.3941450984), (-0.2659375568, 0.4667399937), (1.0982728343, 0.8544609795)),
    "maxima": ((1.2856846972, -0.0048475591), (-0.4600245180, -0.6291965087), (-0.0093175820, 1.5813679629)),
}
_TOY_CRITICAL: _CriticalSets = {
    "minima": ((0.4881002180, -0.0222554606), (-0.6138016125, -0.5354155251)),
    "saddles": ((-0.1647265485, -0.0699171821), (0.0528895303, -0.6881582078), (-0.2927095999, 0.7436239302)),
    "maxima": ((-0.1752100699, -0.3978614474), (-0.0275904098, 0.3320718454)),
}
_HIMMELBLAU_CRITICAL: _CriticalSets = {
    "minima": ((3.0, 2.0), (3.5844283403, -1.8481265270), (-3.7793102534, -3.2831859913), (-2.8051180870, 3.1313125183)),
    "saddles": ((3.3851541836, 0.0738518798), (0.0866775046, 2.8842547012), (-3.0730257508, -0.0813530443), (-0.1279613467, -1.9537149802)),
    "maxima": ((-0.2708445907, -0.9230385565),),
}


# ---------------------------------------------------------------------------
# Factories and the registry
# ---------------------------------------------------------------------------

#: The standard (MATLAB) middle coefficient of ``peaks``.
PEAKS_COEFFICIENT = 10.0


def peaks(coefficient: float = PEAKS_COEFFICIENT, *, name: str | None = None) -> Surface:
    """Use Case IV: MATLAB's ``peaks`` with its middle coefficient as a parameter.

    ``3(1-x)^2 e^{-x^2-(y+1)^2} - c (x/5 - x^3 - y^5) e^{-x^2-y^2} - (1/3) e^{-(x+1)^2-y^2}``.
    The standard function (and the default here) has ``c = 10``. The LLS survey's
    extracted text prints the term so that it can read as ``c = 5``; the
    chapter on surfaces draws both. With ``c = 10`` the known critical points are
    listed (global minimum about -6.551 at (0.228, -1.626), global maximum about
    8.106 at (-0.009, 1.581)); for any other ``c`` call :func:`find_critical_points`.
    """
    c = float(coefficient)
    if not math.isfinite(c):
        raise ValueError(f"peaks coefficient must be finite; got {coefficient!r}")
    latex = (
        r"3(1-x)^2 e^{-x^2-(y+1)^2} - "
        + (f"{c:g}" if c != 1 else "")
        + r"\left(\frac{x}{5}-x^3-y^5\right)e^{-x^2-y^2} - \frac{1}{3}e^{-(x+1)^2-y^2}"
    )
    crit = _PEAKS10_CRITICAL if c == PEAKS_COEFFICIENT else {"minima": (), "saddles": (), "maxima": ()}
    return Surface(
        name=name or ("case4" if c == PEAKS_COEFFICIENT else f"peaks_c{c:g}"),
        title=f"Use Case IV: peaks (c = {c:g})",
        latex=latex,
        fn=partial(_peaks, coefficient=c),
        domain=((-3.0, 3.0), (-3.0, 3.0)),
        minima=crit["minima"],
        saddles=crit["saddles"],
        maxima=crit["maxima"],
        bounded_below=True,
        bounded_above=True,
        source="LLS survey Figure 7(d) (MATLAB peaks)",
        notes="" if c == PEAKS_COEFFICIENT else "critical points not listed; use find_critical_points",
    )


class UnknownSurfaceError(UnknownNameError):
    """Raised by :func:`get` for a name that is not registered (both a KeyError and a ValueError)."""


_REGISTRY: dict[str, Surface] = {}


def names() -> tuple[str, ...]:
    """The registered surface names, in registry order."""
    return tuple(_REGISTRY)


def get(name: str) -> Surface:
    """The registered surface called ``name``; an unknown name lists the valid ones."""
    return _REGISTRY[checks.name("name", name, _REGISTRY, what="surface", error=UnknownSurfaceError)]


def _register(s: Surface) -> None:
    if s.name in _REGISTRY:
        raise ValueError(f"surface {s.name!r} registered twice")
    _REGISTRY[s.name] = s


def _separable(mins: Sequence[float], maxs: Sequence[float]) -> _CriticalSets:
    """Critical points of ``f(x) + f(y)`` from the 1-D minima and maxima of ``f``."""
    return {
        "minima": tuple((a, b) for a in mins for b in mins),
        "saddles": tuple((a, b) for a in mins for b in maxs) + tuple((a, b) for a in maxs for b in mins),
        "maxima": tuple((a, b) for a in maxs for b in maxs),
    }


# x^2 + sin 5x on [-2, 2]: roots of 2x + 5 cos 5x (scipy.optimize.brentq, 1e-15).
_FIG2B_1D_MIN = (-1.447314223633, -0.290839314995, 0.871281083076)
_FIG2B_1D_MAX = (-1.027157922519, 0.341570655976, 1.722857464137)
# x^2 - 10 cos 2 pi x on [-5.12, 5.12]: roots of 2x + 20 pi sin 2 pi x.
_RASTRIGIN_1D_MIN = (
    -4.974691390895, -3.979783860301, -2.984855701039, -1.989912233709, -0.994958637652, 0.0,
    0.994958637652, 1.989912233709, 2.984855701039, 3.979783860301, 4.974691390895,
)
_RASTRIGIN_1D_MAX = (
    -4.522993659585, -3.517859138170, -2.512743318200, -1.507640731870, -0.502546036555,
    0.502546036555, 1.507640731870, 2.512743318200, 3.517859138170, 4.522993659585,
)


def _sin_cos_critical(half_width: float) -> _CriticalSets:
    """Isolated critical points of ``sin(5x^2) cos(5y^2)`` in ``[-h, h]^2``, in closed form.

    Extrema: ``5x^2 = pi/2 + k pi`` and ``5y^2 = m pi`` (height ``(-1)^(k+m)``);
    saddles: ``5x^2 = k pi`` (``k >= 1``) and ``5y^2 = pi/2 + m pi`` (height 0).
    The extrema on ``y = 0`` are degenerate (``cos 5y^2 = 1 - 12.5 y^4 + ...``)
    but genuine. The whole line ``x = 0`` is critical (height 0): not listed.
    """

    def roots(offset: float) -> list[tuple[float, int]]:
        out: list[tuple[float, int]] = []
        k = 0
        while True:
            r = math.sqrt((offset + k * math.pi) / 5)
            if r > half_width:
                return out
            if r > 0:
                out += [(-r, k), (r, k)]
            else:
                out.append((0.0, k))
            k += 1

    ex_x, ex_y = roots(math.pi / 2), roots(0.0)
    sad_x, sad_y = [r for r in roots(0.0) if r[0] != 0.0], roots(math.pi / 2)
    mins = tuple((x, y) for x, k in ex_x for y, m in ex_y if (k + m) % 2 == 1)
    maxs = tuple((x, y) for x, k in ex_x for y, m in ex_y if (k + m) % 2 == 0)
    sads = tuple((x, y) for x, _ in sad_x for y, _ in sad_y)
    return {"minima": mins, "saddles": sads, "maxima": maxs}


def _build_registry() -> None:
    d2: Domain = ((-2.0, 2.0), (-2.0, 2.0))
    fig2 = "LLS survey Figure 2"
    _register(Surface("fig2a", "Figure 2(a): convex bowl", r"x^2 + y^2", _bowl, d2,
                      minima=((0.0, 0.0),), source=fig2 + "(a)"))
    _register(Surface("fig2b", "Figure 2(b): bowl with ripples", r"x^2 + y^2 + \sin 5x + \sin 5y",
                      _bowl_sines, d2, **_separable(_FIG2B_1D_MIN, _FIG2B_1D_MAX), source=fig2 + "(b)",
                      notes="separable: minima are pairs of the 1-D minima of x^2 + sin 5x"))
    _register(Surface("fig2c", "Figure 2(c): egg crate", r"\sin(5x^2)\cos(5y^2)", _sin_cos,
                      ((-1.5, 1.5), (-1.5, 1.5)), **_sin_cos_critical(1.5), bounded_above=True,
                      source=fig2 + "(c)",
                      notes="the line x = 0 is a degenerate critical set (height 0); extrema on y = 0 "
                            "have a singular Hessian but are genuine"))
    fig7 = "LLS survey Figure 7"
    _register(Surface("case1", "Use Case I: full symmetry", r"x^2 + y^2", _bowl, d2,
                      minima=((0.0, 0.0),), source=fig7 + "(a)"))
    _register(Surface("case2", "Use Case II: partial symmetry", r"4x^2 + y^2", _elliptic, d2,
                      minima=((0.0, 0.0),), source=fig7 + "(b)"))
    _register(Surface("case3", "Use Case III: saddle point", r"x^2 - y^2", _hyperbolic, d2,
                      saddles=((0.0, 0.0),), bounded_below=False, source=fig7 + "(c)",
                      notes="no minimum: unbounded below along the y axis"))
    _register(peaks())
    _register(fig10_surface(saddle="bounded"))
    _register(fig10_surface(saddle="printed"))
    _register(fig10_surface(saddle="bounded", noise=True))
    _register(Surface("toy", "Yu & Morozov toy landscape",
                      r"-e^{-3((x-0.5)^2+y^2)} - e^{-3((x+0.5)^2+(y+0.5)^2)} + e^{-15((x+0.2)^2+(y+0.4)^2)}"
                      r" + e^{-15(x^2+(y-0.3)^2)} + 1.0190055296306975",
                      _toy, ((-1.0, 1.0), (-1.0, 1.0)), **_TOY_CRITICAL, bounded_above=True,
                      source="Yu & Morozov (2026) Figure 3 (authors' code)"))
    _register(Surface("rosenbrock", "Rosenbrock", r"(1-x)^2 + 100(y-x^2)^2", _rosenbrock,
                      ((-2.0, 2.0), (-1.0, 3.0)), minima=((1.0, 1.0),), source="Rosenbrock (1960)"))
    _register(Surface("rastrigin", "Rastrigin", r"20 + \sum_{u\in\{x,y\}} \left(u^2 - 10\cos 2\pi u\right)",
                      _rastrigin, ((-5.12, 5.12), (-5.12, 5.12)),
                      **_separable(_RASTRIGIN_1D_MIN, _RASTRIGIN_1D_MAX), source="Rastrigin (1974)",
                      notes="all 121 local minima of the domain are listed; global_minima gives (0, 0)"))
    _register(Surface("himmelblau", "Himmelblau", r"(x^2+y-11)^2 + (x+y^2-7)^2", _himmelblau,
                      ((-5.0, 5.0), (-5.0, 5.0)), **_HIMMELBLAU_CRITICAL, source="Himmelblau (1972)"))


_build_registry()
