"""Permutation symmetry of the study networks: align hidden units by weight matching.

Permuting the hidden units of a layer (the rows of the weight matrix that feeds
it, its bias entries, and the columns of the next layer's weight matrix) leaves
the network's function unchanged. Two solutions can therefore compute the same
function and still lie far apart in weight space. :func:`align` removes that
arbitrariness by choosing, for each permutable group of units ``l``, the
permutation ``P_l`` that maximises the inner product with a reference,

.. math::

    \\max_{P_1, \\dots, P_L} \\; \\sum_\\ell \\langle W^{ref}_\\ell,\\; P_\\ell W_\\ell P_{\\ell-1}^\\top \\rangle
    \\quad\\Longleftrightarrow\\quad \\min \\; \\| w^{ref} - \\pi(w) \\|_2 ,

(the norm of ``w`` is permutation invariant), one group at a time: with the
other groups fixed, the objective is linear in ``P_l`` and is a linear
assignment problem solved exactly by ``scipy.optimize.linear_sum_assignment``.
The groups are visited in random order until a full pass changes nothing
("weight matching", Ainsworth et al. 2023, Git Re-Basin; Entezari et al. 2022 for
the conjecture that solutions are linearly connected modulo permutations). A
candidate permutation is kept only when it lowers the true distance, so the
distance never increases; where a group appears on both axes of one matrix (the
LSTM's recurrent weights ``P W_hh P^T``) the assignment is a linearisation and
that check keeps the descent monotone.

Permutable groups (sizes), in the flat layout of :mod:`lls_core.models`
(``model.named_parameters()`` order):

* ``fcp``: ``h1`` (50), ``h2`` (50).
* ``lenet``: conv channels ``c1`` (6), ``c2`` (16; each feeds a 5x5 block of
  the 400-vector flatten), fully connected ``f1`` (120), ``f2`` (84).
* ``autoencoder``: ``e1`` (32), ``code`` (32, the bottleneck), ``d1`` (32).
* ``lstm``: ``h`` (48): the four gates' rows of ``weight_ih``/``weight_hh``
  together, the columns of ``weight_hh``, both bias vectors, and the columns of
  the output layer.

Example::

    res = symmetry.align("fcp", reference, w)      # w: (d,) or (R, d)
    res.w, res.distance_before, res.distance_after, res.perms["h1"]
    cons = symmetry.consensus("fcp", W)            # W: (K, d) -> W aligned to a common mean
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Mapping

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment
from threadpoolctl import threadpool_limits
from torch import Tensor

from lls_core import models, params

if TYPE_CHECKING:
    import pandas as pd

    from lls_core.topography import Topography

__all__ = ["GROUPS", "Alignment", "Consensus", "group_sizes", "permute", "random_perms", "align", "consensus",
           "interpolation_losses", "AUTHORS_LSTM_FILE", "AUTHORS_LSTM_MD5", "AUTHORS_PERM_SEED",
           "authors_lstm_path", "authors_lstm_weights", "SetAlignment", "SetMode", "align_sets", "PairedShift",
           "paired_shift", "claims_before_after", "unit_activations", "align_activations"]

# Per architecture: (parameter name, view shape, group per axis of the view (None: not permuted)).
_SPECS: dict[str, tuple[tuple[str, tuple[int, ...], tuple[str | None, ...]], ...]] = {
    "fcp": (
        ("fc1.weight", (50, 784), ("h1", None)),
        ("fc2.weight", (50, 50), ("h2", "h1")),
        ("fc3.weight", (10, 50), (None, "h2")),
    ),
    "lenet": (
        ("conv1.weight", (6, 25), ("c1", None)),
        ("conv1.bias", (6,), ("c1",)),
        ("conv2.weight", (16, 6, 25), ("c2", "c1", None)),
        ("conv2.bias", (16,), ("c2",)),
        ("fc1.weight", (120, 16, 25), ("f1", "c2", None)),  # flatten of (16, 5, 5): channel-major blocks
        ("fc1.bias", (120,), ("f1",)),
        ("fc2.weight", (84, 120), ("f2", "f1")),
        ("fc2.bias", (84,), ("f2",)),
        ("fc3.weight", (10, 84), (None, "f2")),
        ("fc3.bias", (10,), (None,)),
    ),
    "autoencoder": (
        ("enc1.weight", (32, 784), ("e1", None)),
        ("enc2.weight", (32, 32), ("code", "e1")),
        ("dec1.weight", (32, 32), ("d1", "code")),
        ("dec2.weight", (784, 32), (None, "d1")),
    ),
    "lstm": (
        ("lstm.weight_ih_l0", (4, 48, 28), (None, "h", None)),  # gates i, f, g, o stacked by rows
        ("lstm.weight_hh_l0", (4, 48, 48), (None, "h", "h")),
        ("lstm.bias_ih_l0", (4, 48), (None, "h")),
        ("lstm.bias_hh_l0", (4, 48), (None, "h")),
        ("fc.weight", (10, 48), (None, "h")),
    ),
}

GROUPS: dict[str, dict[str, int]] = {
    a: {g: n for _, shape, axes in spec for g, n in zip(axes, shape) if g is not None} for a, spec in _SPECS.items()
}
"""Permutable groups of units and their sizes, per architecture."""


@functools.lru_cache(maxsize=None)
def _layout(arch: str) -> tuple[tuple[str, int, int, tuple[int, ...], tuple[str | None, ...]], ...]:
    """(name, start, stop, view shape, axes) per parameter, checked against the model's real layout."""
    if arch not in _SPECS:
        raise ValueError(f"unknown architecture {arch!r}; valid: {', '.join(models.ARCHITECTURES)}")
    real = params.shapes(models.build(arch))
    spec = _SPECS[arch]
    names = [n for n, _ in real]
    if names != [n for n, _, _ in spec]:
        raise RuntimeError(f"{arch}: the permutation spec {[n for n, _, _ in spec]} does not match the model {names}")
    out, i = [], 0
    for (name, shape), (_, view, axes) in zip(real, spec):
        n = shape.numel()
        if int(np.prod(view)) != n:
            raise RuntimeError(f"{arch}.{name}: view {view} does not hold {tuple(shape)}")
        out.append((name, i, i + n, view, axes))
        i += n
    return tuple(out)


def group_sizes(arch: str) -> dict[str, int]:
    """``{group: number of units}`` for ``arch`` (see the module docstring)."""
    _layout(arch)
    return dict(GROUPS[arch])


def _check_arch(arch: object) -> str:
    from lls_core import checks

    return checks.name("arch", arch, models.ARCHITECTURES, what="architecture")


def _as_array(w: object, name: str, arch: str, ndims: tuple[int, ...]) -> np.ndarray:
    d = models.PARAM_COUNTS[arch]
    if isinstance(w, Tensor):
        a = w.detach().cpu().double().numpy()
    elif isinstance(w, np.ndarray):
        a = w.astype(np.float64, copy=False)
    else:
        raise TypeError(f"{name} must be a torch.Tensor or numpy array; got {type(w).__name__}")
    if a.ndim not in ndims or a.shape[-1] != d:
        want = " or ".join({1: f"({d},)", 2: f"(R, {d})"}[k] for k in ndims)
        raise ValueError(f"{name} has shape {tuple(a.shape)}; {arch} needs {want} (d = {d})")
    if a.size == 0:
        raise ValueError(f"{name} is empty")
    if not np.isfinite(a).all():
        bad = int((~np.isfinite(a)).sum())
        raise ValueError(f"{name} contains {bad} non-finite values (NaN or inf); alignment needs finite weights")
    return a


def _check_perms(arch: str, perms: Mapping[str, object]) -> dict[str, np.ndarray]:
    sizes = GROUPS[arch]
    unknown = set(perms) - set(sizes)
    if unknown:
        raise ValueError(f"unknown groups {sorted(unknown)} for {arch}; valid: {', '.join(sizes)}")
    out = {}
    for g, n in sizes.items():
        p = np.arange(n) if g not in perms else np.asarray(perms[g])
        if p.shape != (n,) or not np.array_equal(np.sort(p), np.arange(n)):
            raise ValueError(f"perms[{g!r}] must be a permutation of 0..{n - 1}; got shape {p.shape}")
        out[g] = p.astype(np.int64)
    return out


def _permute(arch: str, w: np.ndarray, perms: Mapping[str, np.ndarray], skip: str | None = None) -> np.ndarray:
    """``w`` (d,) with unit ``perms[g][i]`` moved to position ``i`` for every group (except ``skip``)."""
    out = np.empty_like(w)
    for _, a, b, view, axes in _layout(arch):
        t = w[a:b].reshape(view)
        for ax, g in enumerate(axes):
            if g is not None and g != skip:
                t = np.take(t, perms[g], axis=ax)
        out[a:b] = t.reshape(-1)
    return out


def permute(arch: str, w: Tensor, perms: Mapping[str, object]) -> Tensor:
    """Apply unit permutations to ``w`` (``(d,)`` or ``(R, d)``): unit ``perms[g][i]`` moves to position ``i``.

    ``perms``: ``{group: (n,) integer permutation}`` (groups left out are not
    permuted; see :data:`GROUPS`). The network's function is unchanged. Returns a
    tensor of ``w``'s dtype.

    >>> w2 = permute("fcp", w, {"h1": np.random.permutation(50)})
    """
    arch = _check_arch(arch)
    a = _as_array(w, "w", arch, (1, 2))
    p = _check_perms(arch, perms)
    out = _permute(arch, a, p) if a.ndim == 1 else np.stack([_permute(arch, r, p) for r in a])
    dtype = w.dtype if isinstance(w, Tensor) else torch.float64
    return torch.from_numpy(out).to(dtype)


def random_perms(arch: str, seed: int = 0) -> dict[str, np.ndarray]:
    """One random permutation per group of ``arch``, drawn from ``seed``."""
    rng = np.random.default_rng(seed)
    return {g: rng.permutation(n) for g, n in group_sizes(_check_arch(arch)).items()}


def _cost(arch: str, ref: np.ndarray, w_other: np.ndarray, group: str, n: int) -> np.ndarray:
    """``C[i, j]`` = inner product of reference unit ``i`` with unit ``j`` of ``w`` (other groups permuted)."""
    c = np.zeros((n, n))
    for _, a, b, view, axes in _layout(arch):
        for ax, g in enumerate(axes):
            if g != group:
                continue
            r = np.moveaxis(ref[a:b].reshape(view), ax, 0).reshape(n, -1)
            t = np.moveaxis(w_other[a:b].reshape(view), ax, 0).reshape(n, -1)
            c += r @ t.T
    return c


def _match(arch: str, ref: np.ndarray, w: np.ndarray, max_iter: int, rng: np.random.Generator,
           init: Mapping[str, np.ndarray] | None = None) -> tuple[dict[str, np.ndarray], int]:
    sizes = GROUPS[arch]
    perms = {g: np.arange(n) for g, n in sizes.items()} if init is None else {g: p.copy() for g, p in init.items()}
    best = float(ref @ _permute(arch, w, perms))
    tol = 1e-12 * (float(ref @ ref) + float(w @ w))
    it = 0
    for it in range(1, max_iter + 1):  # noqa: B007 (the count is returned)
        changed = False
        for g in rng.permutation(list(sizes)):
            n = sizes[g]
            partial = _permute(arch, w, perms, skip=g)  # every group but g in place, g still in w's order
            c = _cost(arch, ref, partial, g, n)
            _, col = linear_sum_assignment(c, maximize=True)
            if np.array_equal(col, perms[g]):
                continue
            trial = dict(perms, **{g: col})
            val = float(ref @ _permute(arch, w, trial))
            if val > best + tol:  # keep only real improvements: the distance never increases
                perms, best, changed = trial, val, True
        if not changed:
            break
    return perms, it


def _one_blas_thread() -> threadpool_limits:
    """Single-threaded BLAS for the small products of weight matching: on a busy 2-core machine
    OpenBLAS's threads measured 20x slower than one."""
    return threadpool_limits(limits=1, user_api="blas")


@dataclass(frozen=True, eq=False)
class Alignment:
    """Result of :func:`align`.

    ``w``: the aligned vectors, ``(d,)`` or ``(R, d)`` like the input (its dtype);
    ``perms[group]``: ``(n,)`` or ``(R, n)`` integer permutations (unit ``perms[g][i]``
    of the input sits at position ``i`` of the output); ``distance_before`` /
    ``distance_after``: Euclidean distance to the reference (float or ``(R,)``);
    ``iterations``: passes over the groups until no permutation changed (int or ``(R,)``).
    """

    arch: str
    w: Tensor
    perms: dict[str, np.ndarray] = field(repr=False)
    distance_before: float | np.ndarray
    distance_after: float | np.ndarray
    iterations: int | np.ndarray


def _check_iter(max_iter: object) -> int:
    if isinstance(max_iter, bool) or not isinstance(max_iter, int) or max_iter < 1:
        raise ValueError(f"max_iter={max_iter!r}: must be an integer >= 1")
    return max_iter


def align(arch: str, reference: Tensor, w: Tensor, *, max_iter: int = 100, seed: int = 0) -> Alignment:
    """Permute the hidden units of ``w`` to best match ``reference`` by weight matching.

    ``reference``: ``(d,)``; ``w``: ``(d,)`` or ``(R, d)`` (each row aligned on its
    own). The permutation of each group is found by a linear assignment with the
    other groups fixed, visiting the groups in a random order (``seed``) until a
    pass changes nothing or ``max_iter`` passes. The result computes exactly the
    same function as ``w`` and is never farther from ``reference``. Raises
    ``ValueError`` for an unknown ``arch``, a wrong ``d`` or non-finite values.

    >>> res = align("lstm", W[0], W)       # W: (48, 15456)
    >>> res.distance_after <= res.distance_before
    """
    arch = _check_arch(arch)
    max_iter = _check_iter(max_iter)
    ref = _as_array(reference, "reference", arch, (1,))
    a = _as_array(w, "w", arch, (1, 2))
    _layout(arch)
    rows = a[None] if a.ndim == 1 else a
    outs: list[np.ndarray] = []
    perms: dict[str, list[np.ndarray]] = {g: [] for g in GROUPS[arch]}
    its: list[int] = []
    for r in rows:  # each row its own generator: a row's result does not depend on the others
        with _one_blas_thread():
            p, it = _match(arch, ref, r, max_iter, np.random.default_rng(seed))
        outs.append(_permute(arch, r, p))
        its.append(it)
        for g in perms:
            perms[g].append(p[g])
    out = np.stack(outs)
    before = np.linalg.norm(rows - ref, axis=1)
    after = np.linalg.norm(out - ref, axis=1)
    dtype = w.dtype if isinstance(w, Tensor) else torch.float64
    wt = torch.from_numpy(out).to(dtype)
    if a.ndim == 1:
        return Alignment(arch, wt[0], {g: v[0] for g, v in perms.items()}, float(before[0]), float(after[0]),
                         int(its[0]))
    return Alignment(arch, wt, {g: np.stack(v) for g, v in perms.items()}, before, after, np.array(its))


@dataclass(frozen=True, eq=False)
class Consensus:
    """Result of :func:`consensus`.

    ``w``: ``(K, d)`` aligned vectors (the input's dtype); ``reference``: ``(d,)``
    float64, their mean (the consensus); ``perms[group]``: ``(K, n)``;
    ``spread_before`` / ``spread_after``: root-mean-square distance of the vectors
    from their mean before and after alignment; ``passes``: passes over the set;
    ``converged``: whether the last pass changed no permutation.
    """

    arch: str
    w: Tensor
    reference: np.ndarray = field(repr=False)
    perms: dict[str, np.ndarray] = field(repr=False)
    spread_before: float
    spread_after: float
    passes: int
    converged: bool


def _rms_spread(x: np.ndarray) -> float:
    return float(np.sqrt(((x - x.mean(0)) ** 2).sum(1).mean()))


def consensus(arch: str, w: Tensor | np.ndarray, *, max_passes: int = 20, max_iter: int = 100, seed: int = 0) -> Consensus:
    """Align a set ``w`` ``(K, d)`` to a common reference: their own mean, found by iteration.

    Ainsworth et al.'s merging of many models: each vector in turn (random order)
    is aligned by :func:`align` to the mean of the *other* (already aligned)
    vectors — leaving it out keeps a vector from matching itself — and the mean is
    updated; passes repeat until no permutation changes (``converged``) or
    ``max_passes``. Every step lowers the sum of squared distances to the mean, so
    the spread about the mean never grows. Functions are unchanged: each output row
    is a permutation of the input row.

    >>> cons = consensus("fcp", W)          # W: (48, 42200)
    >>> cons.spread_after <= cons.spread_before
    """
    arch = _check_arch(arch)
    max_iter = _check_iter(max_iter)
    if isinstance(max_passes, bool) or not isinstance(max_passes, int) or max_passes < 1:
        raise ValueError(f"max_passes={max_passes!r}: must be an integer >= 1")
    x = _as_array(w, "w", arch, (2,))
    k = x.shape[0]
    if k < 2:
        raise ValueError(f"consensus needs at least 2 vectors; got {k}")
    _layout(arch)
    rng = np.random.default_rng(seed)
    sizes = GROUPS[arch]
    perms = [{g: np.arange(n) for g, n in sizes.items()} for _ in range(k)]
    cur = x.copy()
    total = cur.sum(0)
    converged, passes = False, 0
    for passes in range(1, max_passes + 1):  # noqa: B007 (the count is returned)
        changed = False
        for i in rng.permutation(k):
            ref = (total - cur[i]) / (k - 1)
            with _one_blas_thread():
                p, _ = _match(arch, ref, x[i], max_iter, rng, init=perms[i])
            if any(not np.array_equal(p[g], perms[i][g]) for g in sizes):
                new = _permute(arch, x[i], p)
                total += new - cur[i]
                cur[i], perms[i], changed = new, p, True
        if not changed:
            converged = True
            break
    dtype = w.dtype if isinstance(w, Tensor) else torch.float64
    return Consensus(arch, torch.from_numpy(cur).to(dtype), cur.mean(0),
                     {g: np.stack([p[g] for p in perms]) for g in sizes}, _rms_spread(x), _rms_spread(cur),
                     passes, converged)


def interpolation_losses(model: torch.nn.Module, x: Tensor, y: Tensor, w1: Tensor, w2: Tensor, *,
                         n_points: int = 11) -> tuple[np.ndarray, np.ndarray]:
    """Loss along the straight line ``(1 - t) w1 + t w2`` at ``n_points`` evenly spaced ``t`` in [0, 1].

    ``w1``, ``w2``: ``(d,)``; ``x``: images ``(N, 1, 28, 28)``, ``y``: labels. Returns
    ``(t, loss)``, both ``(n_points,)``; its maximum is the linear-interpolation
    barrier height used by Entezari et al. (2022) and Ainsworth et al. (2023).
    Evaluated with the hand-batched forwards of :mod:`lls_core.batched`.
    """
    from lls_core import batched

    if isinstance(n_points, bool) or not isinstance(n_points, int) or n_points < 2:
        raise ValueError(f"n_points={n_points!r}: must be an integer >= 2")
    d = params.num_params(model)
    for name, v in (("w1", w1), ("w2", w2)):
        if not isinstance(v, Tensor) or v.shape != (d,):
            raise ValueError(f"{name} must be a tensor of shape ({d},); got {getattr(v, 'shape', type(v).__name__)}")
        if not torch.isfinite(v).all():
            raise ValueError(f"{name} contains non-finite values")
    t = torch.linspace(0, 1, n_points, dtype=torch.float32)
    a, b = w1.detach().float(), w2.detach().float()
    W = (1 - t)[:, None] * a + t[:, None] * b
    with torch.no_grad():
        loss = batched.losses(model, W, x, y)
    return t.numpy(), loss.double().numpy()


# ------------------------------------------------------------------ activation matching
def unit_activations(arch: str, w: Tensor, x: Tensor, *, activation: str | None = None,
                     perm_seed: int | None = None) -> dict[str, Tensor]:
    """Post-activation outputs of every permutable group of ``arch`` at weights ``w`` ``(d,)`` on images ``x``.

    Returns ``{group: (n_units, M)}``: each unit's activations over all ``M``
    observations (images; times spatial positions for LeNet's channels, times the 28
    steps for the LSTM's hidden state). ``activation`` and ``perm_seed`` as in
    :func:`lls_core.models.build` (``None``: its defaults).
    """
    import torch.nn.functional as F
    from torch.func import functional_call

    arch = _check_arch(arch)
    m = models.build(arch, activation=activation,
                     perm_seed=models.AUTHORS_PERM_SEED if perm_seed is None else perm_seed)
    a = torch.from_numpy(_as_array(w, "w", arch, (1,))).float()
    p = params.unflatten(m, a)
    act = models.ACTIVATIONS[models.DEFAULT_ACTIVATION[arch] if activation is None else activation]
    n = x.shape[0]
    with torch.no_grad():
        if arch == "lstm":
            seq = x.reshape(n, 784)[:, m.get_buffer("perm")].reshape(n, 28, 28)
            out, _ = functional_call(m.get_submodule("lstm"), {k.split(".", 1)[1]: v for k, v in p.items() if k.startswith("lstm.")},
                                     (seq,))
            return {"h": out.reshape(-1, 48).T}
        if arch == "lenet":
            c1 = act(F.conv2d(x, p["conv1.weight"], p["conv1.bias"], padding=2))
            c2 = act(F.conv2d(F.avg_pool2d(c1, 2), p["conv2.weight"], p["conv2.bias"]))
            f1 = act(F.linear(F.avg_pool2d(c2, 2).reshape(n, 400), p["fc1.weight"], p["fc1.bias"]))
            f2 = act(F.linear(f1, p["fc2.weight"], p["fc2.bias"]))
            return {"c1": c1.transpose(0, 1).reshape(6, -1), "c2": c2.transpose(0, 1).reshape(16, -1),
                    "f1": f1.T, "f2": f2.T}
        h = x.reshape(n, 784)
        out = {}
        layers = {"fcp": (("h1", "fc1"), ("h2", "fc2")),
                  "autoencoder": (("e1", "enc1"), ("code", "enc2"), ("d1", "dec1"))}[arch]
        for g, layer in layers:
            h = act(F.linear(h, p[f"{layer}.weight"]))
            out[g] = h.T
        return out


def align_activations(arch: str, reference: Tensor, w: Tensor, x: Tensor, *, activation: str | None = None,
                      perm_seed: int | None = None) -> Alignment:
    """Permute the hidden units of ``w`` ``(d,)`` so that their activations on ``x`` best match ``reference``'s.

    Activation matching (Ainsworth et al. 2023, Sec. 3.1): for each group, the
    permutation maximising the summed products of standardised activations of
    reference unit ``i`` and unit ``j`` of ``w`` over the images ``x`` (one linear
    assignment per group; a unit's activations do not depend on how other layers
    are ordered, so no iteration is needed). Unlike weight matching it does not
    guarantee a smaller weight distance; ``distance_after`` reports what it gives.
    """
    arch = _check_arch(arch)
    ref = _as_array(reference, "reference", arch, (1,))
    a = _as_array(w, "w", arch, (1,))
    if not isinstance(x, Tensor) or x.ndim != 4 or x.shape[1:] != (1, 28, 28) or x.shape[0] < 2:
        raise ValueError(f"x must be images of shape (N >= 2, 1, 28, 28); got {getattr(x, 'shape', type(x).__name__)}")
    za = unit_activations(arch, torch.from_numpy(ref), x, activation=activation, perm_seed=perm_seed)
    zb = unit_activations(arch, torch.from_numpy(a), x, activation=activation, perm_seed=perm_seed)
    perms = {}
    with _one_blas_thread():
        for g in GROUPS[arch]:
            u, v = za[g].double().numpy(), zb[g].double().numpy()
            u = (u - u.mean(1, keepdims=True)) / (u.std(1, keepdims=True) + 1e-12)
            v = (v - v.mean(1, keepdims=True)) / (v.std(1, keepdims=True) + 1e-12)
            _, col = linear_sum_assignment(u @ v.T, maximize=True)
            perms[g] = col
    out = _permute(arch, a, perms)
    dtype = w.dtype if isinstance(w, Tensor) else torch.float64
    return Alignment(arch, torch.from_numpy(out).to(dtype), perms, float(np.linalg.norm(a - ref)),
                     float(np.linalg.norm(out - ref)), 1)


# ------------------------------------------------------------------ weight sets of the study
@dataclass(frozen=True, eq=False)
class SetAlignment:
    """Result of :func:`align_sets`.

    ``sets[name]``: ``(K, d)`` aligned (same rows, same order); ``mode``: how;
    ``spread_before`` / ``spread_after``: per set, the root-mean-square distance of its
    vectors from the set's own mean; ``pooled_before`` / ``pooled_after``: the same
    for all vectors of all sets about their common mean; ``passes``: consensus passes
    per set (``"*"``: the pooled or the between-sets consensus); ``converged``: every
    consensus stopped because a pass changed nothing.
    """

    arch: str
    mode: str
    sets: dict[str, Tensor] = field(repr=False)
    spread_before: dict[str, float]
    spread_after: dict[str, float]
    pooled_before: float
    pooled_after: float
    passes: dict[str, int]
    converged: bool


SetMode = Literal["per_set", "pooled"]


def align_sets(arch: str, sets: Mapping[str, Tensor], *, mode: SetMode = "per_set", max_passes: int = 20,
               seed: int = 0) -> SetAlignment:
    """Bring every set into one coordinate system of hidden units.

    ``sets``: ``{name: (K_name, d)}`` (e.g. the ``sets`` of a :class:`lls_core.topography.Topography`).

    * ``"per_set"`` (default): each set is aligned to its own consensus
      (:func:`consensus`); then the sets' consensus means are aligned to each other
      (a consensus of the means) and each set's permutation of its mean is applied to
      all its members, which keeps distances within a set and puts all sets in one
      coordinate system. In the study the sets share their initialisations (run ``s``
      of every optimizer starts from the same weights), so a pooled consensus would
      anchor each vector to its siblings of the other sets; per set, each set holds
      one vector per initialisation.
    * ``"pooled"``: one consensus of all vectors of all sets.

    Rows keep their order, so pair ``(i, j)`` of a set is the same two networks
    before and after.

    >>> al = align_sets("fcp", topo.sets)
    >>> aligned = dataclasses.replace(topo, sets=al.sets)
    """
    arch = _check_arch(arch)
    if mode not in ("per_set", "pooled"):
        raise ValueError(f"mode={mode!r}; valid: 'per_set', 'pooled'")
    if not sets:
        raise ValueError("sets is empty: need at least one (K, d) weight set")
    names = list(sets)
    mats = [sets[n] for n in names]
    for n, m in zip(names, mats):
        _as_array(m, f"set {n!r}", arch, (2,))
    out: dict[str, Tensor] = {}
    passes: dict[str, int] = {}
    ok = True
    if mode == "pooled":
        cons = consensus(arch, torch.cat([m.detach() for m in mats]), max_passes=max_passes, seed=seed)
        i = 0
        for n, m in zip(names, mats):
            out[n] = cons.w[i:i + m.shape[0]].to(m.dtype)
            i += m.shape[0]
        passes["*"], ok = cons.passes, cons.converged
    else:
        per = {}
        for n, m in zip(names, mats):
            if m.shape[0] < 2:
                raise ValueError(f"set {n!r} has {m.shape[0]} vector; per-set alignment needs at least 2")
            per[n] = consensus(arch, m.detach(), max_passes=max_passes, seed=seed)
            passes[n], ok = per[n].passes, ok and per[n].converged
        if len(names) > 1:
            top = consensus(arch, np.stack([per[n].reference for n in names]), max_passes=max_passes, seed=seed)
            passes["*"], ok = top.passes, ok and top.converged
            for k, n in enumerate(names):
                out[n] = permute(arch, per[n].w, {g: p[k] for g, p in top.perms.items()}).to(mats[k].dtype)
        else:
            out[names[0]] = per[names[0]].w.to(mats[0].dtype)
    before = {n: _rms_spread(m.detach().double().numpy()) for n, m in zip(names, mats)}
    after = {n: _rms_spread(out[n].double().numpy()) for n in names}
    pooled_b = _rms_spread(torch.cat([m.detach() for m in mats]).double().numpy())
    pooled_a = _rms_spread(torch.cat([out[n] for n in names]).double().numpy())
    return SetAlignment(arch, mode, out, before, after, pooled_b, pooled_a, passes, ok)


@dataclass(frozen=True)
class PairedShift:
    """Paired change of one measurement (e.g. the barrier of the same pair) from ``before`` to ``after``.

    ``median_ratio``: median of ``after / before``; ``share_lower``: fraction of pairs
    with ``after < before``; ``p_lower`` / ``p_higher``: one-sided Wilcoxon
    signed-rank p-values (1.0 where every difference is zero); ``n``: pairs.
    """

    n: int
    median_before: float
    median_after: float
    median_ratio: float
    share_lower: float
    p_lower: float
    p_higher: float

    def verdict(self, alpha: float = 0.05) -> str:
        """``lower after alignment`` / ``higher after alignment`` (one-sided p < ``alpha``) or ``not resolved``."""
        if self.p_lower < alpha:
            return "lower after alignment"
        if self.p_higher < alpha:
            return "higher after alignment"
        return "not resolved"


def paired_shift(before: object, after: object) -> PairedShift:
    """Wilcoxon signed-rank test of ``after`` against ``before`` (same items, ``(n,)`` each, n >= 2).

    >>> paired_shift(heights_raw, heights_aligned).verdict()
    """
    from scipy.stats import wilcoxon

    b = np.asarray(before, dtype=float).ravel()
    a = np.asarray(after, dtype=float).ravel()
    if b.shape != a.shape or b.size < 2:
        raise ValueError(f"before and after must be paired samples of equal size >= 2; got {b.size} and {a.size}")
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise ValueError("before/after contain non-finite values")
    diff = a - b
    if np.all(diff == 0):
        p_lo = p_hi = 1.0
    else:
        p_lo = float(wilcoxon(a, b, alternative="less").pvalue)
        p_hi = float(wilcoxon(a, b, alternative="greater").pvalue)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = float(np.median(a / b)) if np.all(b != 0) else float("nan")
    return PairedShift(int(b.size), float(np.median(b)), float(np.median(a)), ratio, float((diff < 0).mean()),
                       p_lo, p_hi)


def claims_before_after(topo: Topography, aligned: Topography, bars: Mapping | None = None,
                        bars_aligned: Mapping | None = None, *, kpca_gamma: float | str | None = "median",
                        alpha: float = 0.05, n_boot: int = 2000, seed: int = 0) -> "pd.DataFrame":
    """The paper's claims (:func:`lls_core.topography.claims`) on raw and on aligned weight sets, side by side.

    ``topo`` / ``aligned``: :class:`lls_core.topography.Topography` before and after
    :func:`align_sets` (``dataclasses.replace(topo, sets=al.sets)``); ``bars`` /
    ``bars_aligned``: their :func:`lls_core.topography.all_barriers`. The barrier
    claims appear twice: by FourierPathFinder height (the paper's) and by
    straight-line height (``path`` = ``"straight line"``, the measure of Entezari et
    al. and Ainsworth et al.). Sharpness claims are left out: the Hessian of a
    permuted network is ``P H P^T``, with the same spectrum. Columns: ``claim``,
    ``evidence``, ``a``, ``b``, ``path``, ``effect_before``, ``p_before``,
    ``verdict_before``, ``effect_after``, ``p_after``, ``verdict_after``, ``changed``.
    """
    import dataclasses

    import pandas as pd

    from lls_core import topography

    if getattr(topo, "arch", None) != getattr(aligned, "arch", None):
        raise ValueError(f"topo is {getattr(topo, 'arch', None)!r} but aligned is {getattr(aligned, 'arch', None)!r}")
    barrier_fig = ("Fig. 4", "Fig. S2")

    def claims(t: Topography, b: Mapping | None) -> pd.DataFrame:
        return topography.claims(t, b, None, kpca_gamma=kpca_gamma, alpha=alpha, n_boot=n_boot, seed=seed).computed()

    def both(t: Topography, b: Mapping | None) -> pd.DataFrame:
        main = claims(t, b).assign(path="")
        if b:
            main.loc[main["evidence"].isin(barrier_fig), "path"] = "FourierPathFinder"
            line = {k: dataclasses.replace(v, height=np.asarray(v.linear_height)) for k, v in b.items()}
            # no sets: only the barrier rows are computed (the others are the same as above)
            lin = claims(dataclasses.replace(t, sets={}), line)
            lin = lin[lin["evidence"].isin(barrier_fig)].assign(path="straight line")
            main = pd.concat([main, lin], ignore_index=True)
        return main

    key = ["claim", "evidence", "a", "b", "path"]
    keep = ["effect", "p", "verdict"]
    before = both(topo, bars)[key + keep]
    after = both(aligned, bars_aligned)[key + keep]
    out = before.merge(after, on=key, how="left", suffixes=("_before", "_after"), sort=False)
    out["changed"] = out["verdict_before"] != out["verdict_after"]
    return out


# ------------------------------------------------------------------ the authors' published LSTM solutions
AUTHORS_LSTM_FILE = "LSTM_BFGS_Training_best48_weights.npy"
AUTHORS_LSTM_MD5 = "087bb1f40bafe9e0086f22f8e18f2d69"
AUTHORS_PERM_SEED = 1234
"""The authors' pixel-permutation seed (build the LSTM with ``perm_seed=AUTHORS_PERM_SEED`` to evaluate them)."""

def authors_lstm_path() -> Path | None:
    """Where the authors' 48 LSTM solutions are, or ``None`` (:func:`lls_core.authors.locate`).

    Looked for in ``$LLS_AUTHORS_DIR`` and ``<root>/.lls-data/authors``. The file has no
    licence, so the project never ships it.
    """
    from lls_core import authors

    return authors.locate("lstm")


def authors_lstm_weights(path: str | os.PathLike[str] | None = None) -> Tensor:
    """The authors' best 48 L-BFGS-GSS LSTM training solutions: float32 ``(48, 15456)`` (:func:`lls_core.authors.load_weights`).

    Their flat layout is ``nn.LSTM(28, 48)`` (``weight_ih_l0``, ``weight_hh_l0``,
    ``bias_ih_l0``, ``bias_hh_l0``) then ``Linear(48, 10, bias=False)``: the same order
    as :class:`lls_core.models.LSTMNet`, so no remapping is needed; their pixel
    permutation is drawn from seed :data:`AUTHORS_PERM_SEED`. Loaded with
    ``allow_pickle=False`` and checked (MD5, shape, finiteness). Raises
    ``FileNotFoundError`` when the file is absent (see :func:`authors_lstm_path`).
    """
    from lls_core import authors

    return authors.load_weights("lstm", path)
