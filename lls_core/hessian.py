"""Curvature of a loss at a point, from Hessian-vector products only.

Everything here works on a *loss closure* ``loss_fn(w) -> scalar`` of one flat
weight vector ``w`` of shape ``(d,)``; :func:`flat_loss` builds one from a network
and its data. The Hessian is never formed (except by :func:`hessian_matrix`, for
tests on tiny problems): every routine calls a Hessian-vector product ``hvp(v)``
of shape ``(d,) -> (d,)`` made by :func:`make_hvp` (double backward through the
cached gradient graph, so one HVP costs about one backward pass).

* :func:`lanczos` -- ``m`` steps of the Lanczos iteration with full
  re-orthogonalisation (float64 bookkeeping), giving the tridiagonal ``T``.
* :func:`top_eigenvalues` -- largest algebraic eigenvalues by Lanczos (default),
  deflated power iteration, or ARPACK (``scipy.sparse.linalg.eigsh``).
* :func:`extreme_eigenvalues` -- both ends of the spectrum (``lambda_min``,
  ``lambda_max``) from one Lanczos run; :func:`lambda_max` -- the sharpness of a
  loss at a point in one call (Keskar et al. 2017's measure at ``epsilon -> 0``).
* :func:`hutchinson_trace` -- ``tr(H) = E[v^T H v]`` with Rademacher probes.
* :func:`spectral_density` -- stochastic Lanczos quadrature (Lin, Saad & Yang
  2016; Ghorbani, Krishnan & Xiao 2019): each probe's Lanczos run gives Ritz
  values ``theta_j`` and weights ``tau_j`` (squared first components of T's
  eigenvectors, summing to 1); the density estimate is the probe average of
  ``sum_j tau_j N(t; theta_j, sigma^2)``.

Units: eigenvalues are in units of the loss per squared weight unit (loss is a
mean over the data, so they do not grow with the number of examples).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import scipy.linalg
import torch
from torch import Tensor, nn

from lls_core import checks, models, params

__all__ = [
    "FlatLossFn",
    "HVP",
    "FlatLoss",
    "flat_loss",
    "make_hvp",
    "model_hvp",
    "hessian_matrix",
    "Tridiagonal",
    "lanczos",
    "Eigen",
    "top_eigenvalues",
    "Extremes",
    "extreme_eigenvalues",
    "lambda_max",
    "TraceEstimate",
    "hutchinson_trace",
    "SpectralDensity",
    "spectral_density",
]

FlatLossFn = Callable[[Tensor], Tensor]
"""A loss of one flat weight vector: ``(d,) -> ()``."""
HVP = Callable[[Tensor], Tensor]
"""A Hessian-vector product: ``(d,) -> (d,)``."""

METHODS: tuple[str, ...] = ("lanczos", "power", "arpack")


@dataclass(frozen=True, eq=False)
class FlatLoss:
    """The loss closure made by :func:`flat_loss`: ``w (d,) -> ()``, mean loss of ``model`` over ``(x, y)``.

    A plain callable (differentiable, ``torch.func.vmap``-able over ``w``) that also
    carries its model and data, so the evaluators of many weight vectors
    (:func:`lls_core.visualize.losses_at`, the slices) hand them to one
    :class:`lls_core.engine.Engine` (hand-batched kernels, chunking). The one-vector
    call itself stays a plain ``functional_call``: Hessian-vector products
    differentiate it twice, which the engine's no-graph, chunked calls are not for.
    """

    model: nn.Module
    x: Tensor
    """Inputs ``(N, ...)``."""
    y: Tensor
    """Labels ``(N,)``."""
    data_chunk: int | None = None
    """Examples per forward pass (``None``: all at once)."""

    def __call__(self, w: Tensor) -> Tensor:
        n = int(self.x.shape[0])
        p = params.unflatten(self.model, w)
        step = n if self.data_chunk is None else self.data_chunk
        if step >= n:
            return models.loss(self.model, self.x, self.y, p)
        total = models.loss(self.model, self.x[:step], self.y[:step], p) * step
        for i in range(step, n, step):
            xb, yb = self.x[i : i + step], self.y[i : i + step]
            total = total + models.loss(self.model, xb, yb, p) * xb.shape[0]
        return total / n


def flat_loss(model: nn.Module, x: Tensor, y: Tensor, *, data_chunk: int | None = None) -> FlatLoss:
    """Loss closure ``w -> models.loss(model, x, y, unflatten(model, w))`` (mean over all ``N`` examples).

    ``x``: ``(N, ...)`` inputs; ``y``: ``(N,)`` labels. With ``data_chunk`` the mean is
    accumulated over chunks of that many examples (same value, less memory).
    The closure (a :class:`FlatLoss`) is differentiable and ``torch.func.vmap``-able
    over ``w``. Models with batch normalization should be in ``eval()`` mode
    (running statistics).
    """
    n = int(x.shape[0])
    if n == 0 or int(y.shape[0]) != n:
        raise ValueError(f"x has {n} examples and y has {int(y.shape[0])}; need the same positive number")
    if data_chunk is not None and (not isinstance(data_chunk, int) or data_chunk < 1):
        raise ValueError(f"data_chunk={data_chunk!r}: must be a positive integer or None")
    return FlatLoss(model, x, y, data_chunk)


def make_hvp(loss_fn: FlatLossFn, w: Tensor) -> HVP:
    """Hessian-vector product of ``loss_fn`` at ``w`` (shape ``(d,)``).

    The gradient graph is built once (``create_graph=True``); each call then costs
    one backward pass. ``v`` may be any floating dtype; the result has ``w``'s dtype.
    """
    if w.ndim != 1:
        raise ValueError(f"w must be a flat vector of shape (d,); got shape {tuple(w.shape)}")
    w_ = w.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        (g,) = torch.autograd.grad(loss_fn(w_), w_, create_graph=True)

    def hvp(v: Tensor) -> Tensor:
        if v.shape != w_.shape:
            raise ValueError(f"v has shape {tuple(v.shape)}; expected {tuple(w_.shape)}")
        with torch.enable_grad():
            (hv,) = torch.autograd.grad(g, w_, v.to(w_.dtype), retain_graph=True)
        return hv.detach()

    return hvp


def model_hvp(model: nn.Module, x: Tensor, y: Tensor, w: Tensor | None = None, **kw) -> HVP:
    """:func:`make_hvp` of :func:`flat_loss` at ``w`` (default: the model's own weights)."""
    w = params.flatten(model) if w is None else w
    return make_hvp(flat_loss(model, x, y, **kw), w)


def hessian_matrix(loss_fn: FlatLossFn, w: Tensor) -> Tensor:
    """The dense ``(d, d)`` Hessian via ``torch.func.hessian`` (tiny problems and tests only)."""
    if w.numel() > 5000:
        raise ValueError(f"d={w.numel()} is too large for a dense Hessian here (limit 5000); use top_eigenvalues")
    return torch.func.hessian(loss_fn)(w.detach())


def _rng_vector(d: int, seed: int, kind: str = "gaussian") -> np.ndarray:
    rng = np.random.default_rng(seed)
    if kind == "rademacher":
        return rng.choice(np.array([-1.0, 1.0]), size=d)
    return rng.standard_normal(d)


def _apply(hvp: HVP, v: np.ndarray) -> np.ndarray:
    return hvp(torch.from_numpy(v)).double().cpu().numpy()


@dataclass(frozen=True)
class Tridiagonal:
    """Lanczos result: ``T = tridiag(beta, alpha, beta)`` of size ``m``; ``basis`` ``(m, d)`` if kept."""

    alpha: np.ndarray
    beta: np.ndarray
    basis: np.ndarray | None

    def ritz(self) -> tuple[np.ndarray, np.ndarray]:
        """Eigenvalues ``(m,)`` (ascending) and eigenvectors ``(m, m)`` (columns) of ``T``."""
        if len(self.alpha) == 1:
            return self.alpha.copy(), np.ones((1, 1))
        return scipy.linalg.eigh_tridiagonal(self.alpha, self.beta)


def lanczos(hvp: HVP, v0: np.ndarray | Tensor, m: int, *, keep_basis: bool = False) -> Tridiagonal:
    """``m`` Lanczos steps from ``v0`` (shape ``(d,)``) with full re-orthogonalisation.

    Stops early (smaller ``T``) when the Krylov space becomes invariant.
    """
    v = np.asarray(v0.detach().cpu() if isinstance(v0, Tensor) else v0, dtype=np.float64)
    d = v.shape[0]
    if not isinstance(m, int) or m < 1:
        raise ValueError(f"m={m!r}: the number of Lanczos steps must be a positive integer")
    m = min(m, d)
    nrm = np.linalg.norm(v)
    if not np.isfinite(nrm) or nrm == 0:
        raise ValueError("v0 must be a finite, non-zero vector")
    q = v / nrm
    basis = np.zeros((m, d))
    alpha, beta = [], []
    for j in range(m):
        basis[j] = q
        z = _apply(hvp, q)
        a = float(q @ z)
        alpha.append(a)
        # full re-orthogonalisation (twice is enough, Kahan-Parlett)
        for _ in range(2):
            z -= basis[: j + 1].T @ (basis[: j + 1] @ z)
        b = float(np.linalg.norm(z))
        if j == m - 1 or b <= 1e-10 * max(1.0, abs(a)):
            break
        beta.append(b)
        q = z / b
    k = len(alpha)
    return Tridiagonal(np.array(alpha), np.array(beta[: k - 1]), basis[:k] if keep_basis else None)


@dataclass(frozen=True)
class Eigen:
    """Largest algebraic eigenvalues ``values`` ``(k,)`` (descending), unit ``vectors`` ``(k, d)``."""

    values: np.ndarray
    vectors: np.ndarray
    method: str
    matvecs: int


def top_eigenvalues(
    hvp: HVP,
    d: int,
    k: int = 1,
    *,
    method: str = "lanczos",
    iters: int | None = None,
    tol: float = 1e-6,
    seed: int = 0,
) -> Eigen:
    """The ``k`` largest eigenvalues of the ``d x d`` Hessian behind ``hvp``.

    ``method``: ``"lanczos"`` (``iters`` steps, default ``min(d, max(4k, 40))``),
    ``"power"`` (power iteration with deflation; it converges to the eigenvalue
    of largest *magnitude*, which at a minimum is the largest one; ``iters`` per
    eigenvalue, default 200, stopping at relative change ``tol``), or ``"arpack"``
    (``scipy.sparse.linalg.eigsh``, ``which="LA"``).
    """
    checks.name("method", method, METHODS)
    checks.integer("k", k, min=1, max=d)
    if method == "lanczos":
        m = min(d, iters or max(4 * k, 40))
        t = lanczos(hvp, _rng_vector(d, seed), m, keep_basis=True)
        assert t.basis is not None  # keep_basis=True
        vals, vecs = t.ritz()
        order = np.argsort(vals)[::-1][:k]
        return Eigen(vals[order], (t.basis.T @ vecs[:, order]).T, method, len(t.alpha))
    if method == "arpack":
        from scipy.sparse.linalg import LinearOperator, eigsh

        calls = [0]

        def mv(v: np.ndarray) -> np.ndarray:
            calls[0] += 1
            return _apply(hvp, np.ascontiguousarray(v.reshape(-1), dtype=np.float64))

        op = LinearOperator((d, d), matvec=mv, dtype=np.float64)
        vals, vecs = eigsh(op, k=k, which="LA", tol=tol, v0=_rng_vector(d, seed), maxiter=iters)
        order = np.argsort(vals)[::-1]
        return Eigen(vals[order], vecs[:, order].T, method, calls[0])
    values: list[float] = []
    vectors: list[np.ndarray] = []
    count = 0
    for i in range(k):
        v = _rng_vector(d, seed + i)
        v /= np.linalg.norm(v)
        lam = 0.0
        for _ in range(iters or 200):
            for u in vectors:  # deflate the eigenvectors already found
                v -= (u @ v) * u
            z = _apply(hvp, v)
            for u, lu in zip(vectors, values):
                z -= lu * (u @ v) * u
            count += 1
            new = float(v @ z)
            nz = np.linalg.norm(z)
            if nz == 0:
                break
            v = z / nz
            if abs(new - lam) <= tol * max(abs(new), 1e-30):
                lam = new
                break
            lam = new
        values.append(lam)
        vectors.append(v)
    order = np.argsort(values)[::-1]
    return Eigen(np.array(values)[order], np.array(vectors)[order], method, count)


@dataclass(frozen=True)
class Extremes:
    """Smallest and largest Ritz values of one Lanczos run (estimates of the Hessian's extreme eigenvalues).

    Ritz values lie inside the spectrum, so ``lam_min >= lambda_min(H)`` and
    ``lam_max <= lambda_max(H)``: with few steps both ends are underestimates in
    magnitude, the negative end (usually closer to the bulk) the more so.
    """

    lam_min: float
    lam_max: float
    matvecs: int

    @property
    def ratio(self) -> float:
        """``|lam_min / lam_max|`` (Li et al. 2018's convexity map); ``nan`` when ``lam_max <= 0``."""
        return abs(self.lam_min / self.lam_max) if self.lam_max > 0 else float("nan")

    def facts(self) -> dict[str, float]:
        """Scalars for glue: ``lam_min``, ``lam_max``, ``ratio``, ``matvecs``."""
        return {"lam_min": self.lam_min, "lam_max": self.lam_max, "ratio": self.ratio, "matvecs": self.matvecs}


def extreme_eigenvalues(hvp: HVP, d: int, *, iters: int = 20, seed: int = 0) -> Extremes:
    """``lambda_min`` and ``lambda_max`` of the ``d x d`` Hessian behind ``hvp`` from ``iters`` Lanczos steps.

    One Krylov run from a Gaussian start drawn from ``seed`` gives both ends of the
    spectrum (its extreme Ritz values), so the pair costs ``iters`` Hessian-vector
    products. Example::

        e = extreme_eigenvalues(make_hvp(f, w), w.numel(), iters=20)
        e.lam_min, e.lam_max, e.ratio
    """
    checks.integer("d", d, min=1)
    checks.integer("iters", iters, min=2)
    t = lanczos(hvp, _rng_vector(d, seed), iters)
    vals, _ = t.ritz()
    return Extremes(float(vals.min()), float(vals.max()), len(t.alpha))


def lambda_max(loss_fn: FlatLossFn, w: Tensor, *, iters: int = 30, seed: int = 0) -> float:
    """The largest Hessian eigenvalue of ``loss_fn`` at ``w`` ``(d,)`` (Lanczos, ``iters`` steps): the sharpness.

    Units: loss per squared weight unit. Example: ``lambda_max(flat_loss(net, x, y), params.flatten(net))``.
    """
    checks.integer("iters", iters, min=2)
    return float(top_eigenvalues(make_hvp(loss_fn, w), w.numel(), iters=iters, seed=seed).values[0])


@dataclass(frozen=True)
class TraceEstimate:
    """Hutchinson estimate of ``tr(H)``: ``mean`` with its standard error, from ``samples`` ``(n,)``."""

    mean: float
    stderr: float
    samples: np.ndarray

    def z(self, value: float) -> float:
        """How many standard errors ``value`` lies from the estimate: ``(value - mean) / stderr``."""
        diff = value - self.mean
        if self.stderr > 0:
            return diff / self.stderr
        return 0.0 if diff == 0 else float(np.copysign(np.inf, diff))


def hutchinson_trace(hvp: HVP, d: int, n_samples: int = 100, *, seed: int = 0) -> TraceEstimate:
    """``tr(H) ~ mean(v^T H v)`` over ``n_samples`` Rademacher vectors ``v`` of length ``d``."""
    if not isinstance(n_samples, int) or n_samples < 2:
        raise ValueError(f"n_samples={n_samples!r}: need an integer >= 2 (for a standard error)")
    s = np.array([float(v @ _apply(hvp, v)) for v in (_rng_vector(d, seed + i, "rademacher") for i in range(n_samples))])
    return TraceEstimate(float(s.mean()), float(s.std(ddof=1) / np.sqrt(n_samples)), s)


@dataclass(frozen=True)
class SpectralDensity:
    """Stochastic Lanczos quadrature: per probe, Ritz ``nodes`` and ``weights`` (each ``(n_probes, m)``).

    Each row of ``weights`` sums to 1 (zero-padded where a run stopped early), so
    the estimate is a probability density over eigenvalues; ``dim`` is ``d``.
    """

    nodes: np.ndarray
    weights: np.ndarray
    dim: int

    def density(self, grid: np.ndarray, sigma: float) -> np.ndarray:
        """Gaussian-smoothed density at ``grid`` ``(G,)`` points, bandwidth ``sigma`` (eigenvalue units)."""
        if not sigma > 0:
            raise ValueError(f"sigma={sigma!r}: the smoothing bandwidth must be positive")
        g = np.asarray(grid, dtype=np.float64)[:, None, None]
        k = np.exp(-0.5 * ((g - self.nodes[None]) / sigma) ** 2) / (sigma * np.sqrt(2 * np.pi))
        return (k * self.weights[None]).sum(axis=2).mean(axis=1)

    def moment(self, k: int) -> float:
        """Estimate of ``tr(H^k) / d`` (exact in expectation for ``k < 2m``)."""
        return float((self.weights * self.nodes**k).sum(axis=1).mean())

    def mass_below(self, t: float) -> float:
        """Estimated fraction of the ``d`` eigenvalues below ``t``."""
        return float((self.weights * (self.nodes < t)).sum(axis=1).mean())

    @property
    def extremes(self) -> tuple[float, float]:
        """Smallest and largest Ritz value over all probes (estimates of ``lambda_min``, ``lambda_max``)."""
        live = self.weights > 0
        return float(self.nodes[live].min()), float(self.nodes[live].max())


def spectral_density(hvp: HVP, d: int, *, n_probes: int = 4, m: int = 60, seed: int = 0) -> SpectralDensity:
    """Stochastic Lanczos quadrature with ``n_probes`` Rademacher probes of ``m`` Lanczos steps each."""
    if not isinstance(n_probes, int) or n_probes < 1:
        raise ValueError(f"n_probes={n_probes!r}: must be a positive integer")
    m = min(m, d)
    nodes = np.zeros((n_probes, m))
    weights = np.zeros((n_probes, m))
    for i in range(n_probes):
        t = lanczos(hvp, _rng_vector(d, seed + i, "rademacher"), m)
        vals, vecs = t.ritz()
        nodes[i, : len(vals)] = vals
        weights[i, : len(vals)] = vecs[0] ** 2
    return SpectralDensity(nodes, weights, d)
