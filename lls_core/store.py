"""The artifact store: finished training runs on disk, saved atomically and loaded only when they match.

Layout: ``<root>/runs/<arch>/<optimizer>/<key-hash>.pt``, one file per run (and, as a
namespace of the same store, path pairs: :class:`PairStore`, ``<root>/pairs/<namespace>/``), where
``root`` is the ``root`` argument, else ``$LLS_ARTIFACTS``, else ``artifacts/``
under the one writable root (:func:`lls_core.resources.root`: ``$LLS_ROOT`` or the
checkout). A run's *key* (:class:`RunKey`) is everything that determines its result: architecture, activation, optimizer name and every
hyperparameter, initialisation seed, data set name, split size and seed, the
data's SHA-256 checksum, and the LSTM permutation seed. Its SHA-256 names the file.

Each file is written with :func:`lls_core.io.atomic_write` (temporary file in the
same folder, fsync, ``os.replace``, the user's umask): a reader sees either no file
or a complete one, so a study killed at any moment leaves only whole runs (plus
perhaps an orphan ``.tmp-<pid>-*`` file, removed by :meth:`Store.clean_temp` once
its writer is gone).

Besides the key the file records provenance (``lls_core``, torch, numpy and Python
versions, device, wall time, date), the loss curves and a SHA-256 checksum over all
of it. :meth:`Store.has` and :meth:`Store.load` read with
``torch.load(weights_only=True)`` (no pickled code) and verify the checksum and the
stored key: a file that is unreadable, altered, of another format or holding
another run is moved to ``<root>/quarantine/`` with a warning naming it, and counts
as absent, so the study recomputes it. :meth:`Store.lock` is a per-run file lock:
two processes never train the same run twice.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import platform
import time
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

import numpy as np
import torch

from . import __version__, resources
from .io import ArtifactWarning, FileLock, atomic_write, clean_temp, quarantine, sha256_bytes
from .train import RunResult

__all__ = ["RunKey", "Store", "PairStore", "MetadataMismatch", "CorruptArtifact", "default_root", "FORMAT",
           "PAIR_FORMAT", "pair_checksum"]

FORMAT = 2
"""2: a content checksum over every field (format 1 had none; such files are recomputed)."""


def default_root() -> Path:
    """``$LLS_ARTIFACTS`` when set, else ``<root>/artifacts`` (:func:`lls_core.resources.root`)."""
    env = os.environ.get("LLS_ARTIFACTS")
    return Path(env) if env else resources.root() / "artifacts"


class MetadataMismatch(ValueError):
    """A stored run whose metadata differs from the requested key."""


@dataclass(frozen=True)
class RunKey:
    """Everything that determines a run's result. ``hyper`` is a sorted tuple of (name, value) pairs.

    ``numerics``: the revision of the package's numerics for this architecture
    (:data:`lls_core.train.NUMERICS`), raised when a change of the code changes its trained
    results, so that runs stored before the change are not reused. Revision 0 is left out of
    ``as_dict`` and so of the digest: the keys written before revisions existed keep their
    names.
    """

    arch: str
    activation: str
    optimizer: str
    hyper: tuple[tuple[str, Any], ...]
    seed: int
    dataset: str
    n_train: int
    n_test: int
    split_seed: int
    data_checksum: str
    perm_seed: int
    numerics: int = 0

    def as_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["hyper"] = {k: v for k, v in self.hyper}
        if not self.numerics:
            del d["numerics"]
        return d

    @property
    def digest(self) -> str:
        """SHA-256 of the canonical JSON of the key (names the file)."""
        return hashlib.sha256(json.dumps(self.as_dict(), sort_keys=True).encode()).hexdigest()


def _key_from_dict(d: dict[str, Any]) -> RunKey:
    """The :class:`RunKey` whose :meth:`RunKey.as_dict` is ``d`` (a stored run's key record)."""
    fields = {f.name for f in dataclasses.fields(RunKey)}
    extra = set(d) - fields
    if extra:
        raise ValueError(f"unknown key fields {sorted(extra)}")
    hyper = d.get("hyper")
    if not isinstance(hyper, dict):
        raise ValueError(f"hyper is a {type(hyper).__name__}, not a mapping")
    key = RunKey(**{**d, "hyper": tuple(sorted(hyper.items()))})
    if key.as_dict() != d:
        raise ValueError("the key does not round-trip")
    return key


def _provenance(result: RunResult) -> dict[str, Any]:
    return {
        "lls_core": __version__,
        "torch": torch.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "device": result.device,
        "wall_s": result.wall_s,
        "counts": dict(result.counts),
        "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


_NAME_OK = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.+")


def _component(what: str, value: str) -> str:
    """A key field used as a folder name: plain characters only, never ``..`` or a separator."""
    if not isinstance(value, str) or not value or value in {".", ".."} or not set(value) <= _NAME_OK:
        raise ValueError(f"{what}={value!r} cannot name a store folder; expected letters, digits, '_', '-', '.', '+' "
                         "(no path separators, not '.' or '..')")
    return value


def _checksum(payload: dict[str, Any]) -> str:
    """SHA-256 over every field of a stored run except ``checksum`` (tensors by dtype, shape and bytes)."""
    chunks: list[bytes] = []
    for name in sorted(k for k in payload if k != "checksum"):
        v = payload[name]
        chunks.append(name.encode())
        if isinstance(v, torch.Tensor):
            t = v.detach().cpu().contiguous()
            chunks += [str(t.dtype).encode(), repr(tuple(t.shape)).encode(), t.view(torch.uint8).numpy().tobytes()
                       if t.numel() else b""]
        else:
            chunks.append(json.dumps(v, sort_keys=True).encode())
    return sha256_bytes(chunks)


class CorruptArtifact(MetadataMismatch):
    """A stored file that cannot be read or fails its checksum (it has been moved to quarantine)."""


class Store:
    """Finished runs under ``root`` (see the module docstring). Creating a Store touches no file."""

    def __init__(self, root: str | os.PathLike[str] | None = None) -> None:
        self.root = Path(root) if root is not None else default_root()
        self._verified: dict[Path, tuple[int, int]] = {}

    def __repr__(self) -> str:
        return f"Store({str(self.root)!r})"

    def path(self, key: RunKey) -> Path:
        """``<root>/runs/<arch>/<optimizer>/<digest>.pt``; a field that would leave the folder is refused."""
        return self.root / "runs" / _component("arch", key.arch) / _component("optimizer", key.optimizer) / f"{key.digest[:32]}.pt"

    @property
    def quarantine_dir(self) -> Path:
        """Where damaged files are moved (kept for inspection, never read again)."""
        return self.root / "quarantine"

    def has(self, key: RunKey) -> bool:
        """True when a verified run for ``key`` is stored.

        A file that cannot be read, fails its checksum, holds another key or another
        format is moved to :attr:`quarantine_dir` with an :class:`~lls_core.io.ArtifactWarning`
        and reported absent, so the caller recomputes it.
        """
        path = self.path(key)
        if not path.is_file():
            return False
        st = path.stat()
        if self._verified.get(path) == (st.st_size, st.st_mtime_ns):
            return True
        try:
            self._read(key, path)
        except CorruptArtifact:
            return False
        return True

    def lock(self, key: RunKey, wait: bool = True) -> FileLock:
        """A per-run lock (``with store.lock(key): ...``): two processes never train the same run at once."""
        return FileLock(self.root / "locks" / f"{key.digest[:32]}.lock", wait=wait,
                        what=f"run {key.arch}/{key.optimizer} seed {key.seed}")

    def save(self, key: RunKey, result: RunResult) -> Path:
        """Write ``result`` under ``key`` atomically with a content checksum; return the path."""
        if (result.arch, result.optimizer, result.seed) != (key.arch, key.optimizer, key.seed):
            raise MetadataMismatch(
                f"result ({result.arch}, {result.optimizer}, seed {result.seed}) does not belong to key "
                f"({key.arch}, {key.optimizer}, seed {key.seed})"
            )
        target = self.path(key)
        payload: dict[str, Any] = {
            "format": FORMAT,
            "key": json.dumps(key.as_dict(), sort_keys=True),
            "provenance": json.dumps(_provenance(result), sort_keys=True),
            "train_loss": result.train_loss,
            "test_loss": result.test_loss,
            "w_final": result.w_final,
            "w_train": result.w_train,
            "w_test": result.w_test,
            "best_train_step": result.best_train_step,
            "best_test_step": result.best_test_step,
        }
        payload["checksum"] = _checksum(payload)
        atomic_write(target, lambda f: torch.save(payload, f))
        st = target.stat()
        self._verified[target] = (st.st_size, st.st_mtime_ns)
        return target

    def _read(self, key: RunKey | None, path: Path) -> dict[str, Any]:
        """The verified payload at ``path`` (``key=None``: whichever run it holds, named by its own key);
        quarantine and raise :class:`CorruptArtifact` otherwise."""
        def bad(reason: str) -> CorruptArtifact:
            self._verified.pop(path, None)
            moved = quarantine(path, reason, self.quarantine_dir)
            return CorruptArtifact(f"{path}: {reason} (moved to {moved}; it will be recomputed)")

        try:
            blob = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as err:  # truncated, zeroed or foreign bytes: torch raises many types
            raise bad(f"unreadable: {type(err).__name__}: {str(err).splitlines()[0] if str(err) else 'no message'}") from None
        if not isinstance(blob, dict):
            raise bad(f"holds a {type(blob).__name__}, not a stored run")
        if blob.get("format") != FORMAT:
            raise bad(f"artifact format {blob.get('format')!r}, this lls_core reads {FORMAT}")
        try:
            stored_sum = blob["checksum"]
            actual = _checksum(blob)
            stored = json.loads(blob["key"])
        except Exception as err:
            raise bad(f"incomplete record: {type(err).__name__}: {err}") from None
        if stored_sum != actual:
            raise bad(f"checksum mismatch: stored {str(stored_sum)[:12]}..., content {actual[:12]}...")
        if key is None:  # reading a file whose key is not known yet (import_from): its own key must name it
            try:
                key = _key_from_dict(stored)
            except (TypeError, ValueError) as err:
                raise bad(f"key record not understood: {err}") from None
            if self.path(key).name != path.name:
                raise bad(f"file name does not match its key (expected {self.path(key).name})")
        wanted = key.as_dict()
        if stored != wanted:
            diff = [f"{k}: stored {stored.get(k)!r}, requested {wanted.get(k)!r}" for k in sorted(set(stored) | set(wanted)) if stored.get(k) != wanted.get(k)]
            raise bad("holds a different run: " + "; ".join(diff))
        st = path.stat()
        self._verified[path] = (st.st_size, st.st_mtime_ns)
        return blob

    def load(self, key: RunKey) -> RunResult:
        """The stored, verified run for ``key``.

        ``FileNotFoundError`` if absent; :class:`CorruptArtifact` (a :class:`MetadataMismatch`)
        if the file is damaged or holds another run (it is then quarantined, see :meth:`has`).
        """
        path = self.path(key)
        if not path.is_file():
            raise FileNotFoundError(f"no finished run for {key.arch}/{key.optimizer} seed {key.seed} at {path}")
        blob = self._read(key, path)
        stored = json.loads(blob["key"])
        prov = json.loads(blob["provenance"])
        return RunResult(
            arch=key.arch,
            optimizer=key.optimizer,
            seed=key.seed,
            train_loss=blob["train_loss"],
            test_loss=blob["test_loss"],
            w_final=blob["w_final"],
            w_train=blob["w_train"],
            w_test=blob["w_test"],
            best_train_step=int(blob["best_train_step"]),
            best_test_step=int(blob["best_test_step"]),
            wall_s=float(prov["wall_s"]),
            device=str(prov["device"]),
            hyper=dict(stored["hyper"]),
            counts={k: int(v) for k, v in prov.get("counts", {}).items()},
        )

    def provenance(self, key: RunKey) -> dict[str, Any]:
        """The stored provenance record (versions, device, wall time, date) of a finished run."""
        return json.loads(self._read(key, self.path(key))["provenance"])

    def runs(self) -> Iterator[Path]:
        """Paths of all finished runs under this store."""
        base = self.root / "runs"
        if base.is_dir():
            yield from sorted(p for p in base.glob("*/*/*.pt") if not p.name.startswith("."))

    def import_from(self, other: "Store") -> tuple[list[RunKey], list[RunKey]]:
        """Copy into this store the verified runs of ``other`` (a store filled on another machine, e.g. a
        lent GPU) that this one lacks; returns ``(copied, kept)``: the keys copied, and those this store
        already had (never replaced).

        Each file of ``other`` is read and checked as :meth:`load` reads it (format, content checksum, and
        a key that names the file; a damaged one is quarantined in ``other`` with a warning and not
        copied) and its bytes are written here atomically, so the copy keeps the source's checksum and
        provenance (the device it was trained on) unchanged.

        Example::

            copied, kept = Store("artifacts").import_from(Store("/tmp/gpu-store"))
        """
        if Path(other.root).resolve() == Path(self.root).resolve():
            raise ValueError(f"source and destination are the same store ({self.root})")
        copied: list[RunKey] = []
        kept: list[RunKey] = []
        for path in other.runs():
            try:
                blob = other._read(None, path)
            except CorruptArtifact:
                continue
            key = _key_from_dict(json.loads(blob["key"]))
            if self.has(key):
                kept.append(key)
                continue
            atomic_write(self.path(key), path.read_bytes())
            if not self.has(key):  # the copy is read back as any stored run is
                raise CorruptArtifact(f"{self.path(key)}: the copy of {path} did not verify")
            copied.append(key)
        return copied, kept

    def temp_files(self) -> list[Path]:
        """Temporary files under the store (a writer's, or orphans left by a process killed while writing)."""
        return sorted(self.root.rglob(".tmp-*")) if self.root.is_dir() else []

    def clean_temp(self, older_than_s: float = 3600.0) -> int:
        """Delete orphan temporary files (writer gone, or older than ``older_than_s`` s); return how many."""
        return len(clean_temp(self.root, older_than_s))

    def pairs(self, namespace: str) -> "PairStore":
        """The path pairs of ``namespace`` (an architecture) in this store: :class:`PairStore`."""
        return PairStore(self.root, namespace)


# ------------------------------------------------------------------ path pairs
PAIR_FORMAT = 2
"""Format of a stored pair (named in its metadata): 2, a content checksum over the metadata and every value."""

_HEX = frozenset("0123456789abcdef")


def pair_checksum(meta: str, values: Mapping[str, Any]) -> str:
    """SHA-256 over a pair's metadata (JSON string) and its values (by name, as ``repr(float)``)."""
    return sha256_bytes([meta.encode()] + [f"{k}={float(values[k])!r}".encode() for k in sorted(values)])


class PairStore:
    """Finished path pairs, a namespace of the artifact store: ``<root>/pairs/<namespace>/<key>.npz``.

    Same root as :class:`Store` (``root`` argument, else :func:`default_root`), same
    atomic writes (:func:`lls_core.io.atomic_write`), same locks (``<root>/locks/``) and
    the same quarantine (``<root>/quarantine/``). A pair's ``key`` (32 hex digits) is the
    caller's hash of everything that determines it; the file holds the metadata the key
    was made from (a JSON string), the values (floats) and :func:`pair_checksum` over
    both. Files are ``np.load``-ed with ``allow_pickle=False``.

    The pair cache before it lived in ``<root>/barriers/<namespace>/pair-<key>.npz`` (same
    format); :meth:`load` and :meth:`save` move such files here once, verified, with one
    :class:`~lls_core.io.ArtifactWarning` saying so (a damaged one is quarantined).

    Example::

        >>> import tempfile
        >>> ps = Store(tempfile.mkdtemp()).pairs("fcp")
        >>> key = "0" * 32
        >>> _ = ps.save(key, {"height": 1.5}, '{"config": 1}')
        >>> ps.load(key, '{"config": 1}', ("height",))
        {'height': 1.5}
        >>> ps.load(key, '{"config": 2}', ("height",)) is None   # other settings: quarantined, recompute
        True
    """

    def __init__(self, root: str | os.PathLike[str] | None, namespace: str) -> None:
        self.root = Path(root) if root is not None else default_root()
        self.namespace = _component("namespace", namespace)
        self.dir = self.root / "pairs" / self.namespace
        self._migrated = False

    def __repr__(self) -> str:
        return f"PairStore({str(self.root)!r}, {self.namespace!r})"

    @property
    def legacy_dir(self) -> Path:
        """Where the pair cache of format 2 kept this namespace: ``<root>/barriers/<namespace>``."""
        return self.root / "barriers" / self.namespace

    @property
    def quarantine_dir(self) -> Path:
        """The store's quarantine (shared with the runs)."""
        return self.root / "quarantine"

    def path(self, key: str) -> Path:
        """``<root>/pairs/<namespace>/<key>.npz``; ``key`` must be 32 lowercase hex digits."""
        if not isinstance(key, str) or len(key) != 32 or not set(key) <= _HEX:
            raise ValueError(f"key={key!r} cannot name a stored pair; expected 32 lowercase hex digits")
        return self.dir / f"{key}.npz"

    def lock(self, key: str, wait: bool = True) -> FileLock:
        """A per-pair lock: two processes never compute the same pair at once."""
        self.path(key)
        return FileLock(self.root / "locks" / "pairs" / f"{self.namespace}-{key}.lock", wait=wait,
                        what=f"pair {self.namespace}/{key}")

    def keys(self) -> list[str]:
        """Keys of the stored pair files (not verified)."""
        self._migrate()
        return sorted(p.stem for p in self.dir.glob("*.npz")) if self.dir.is_dir() else []

    def save(self, key: str, values: Mapping[str, float], meta: str, *,
             finite: Sequence[str] | None = None) -> Path | None:
        """Write ``values`` under ``key`` with ``meta`` and a checksum, atomically; return the path.

        Nothing is written (``None``) when a value named in ``finite`` (default: all) is not
        finite: such a pair is recomputed next time.
        """
        target = self.path(key)
        self._migrate()
        if not all(math.isfinite(float(values[k])) for k in (values if finite is None else finite)):
            return None
        arrays = {"meta": np.asarray(meta), "checksum": np.asarray(pair_checksum(meta, values)),
                  **{k: np.asarray(v) for k, v in values.items()}}
        # numpy's stubs cannot tell array keywords from savez's own allow_pickle: bool
        atomic_write(target, lambda f: np.savez(f, **arrays))  # type: ignore[arg-type]
        return target

    def load(self, key: str, meta: str, fields: Sequence[str], *,
             finite: Sequence[str] | None = None) -> dict[str, float] | None:
        """The stored, verified ``fields`` of ``key``, or ``None`` when the pair must be (re)computed.

        A file that is unreadable, lacks a field, fails its checksum, holds a non-finite value
        among ``finite`` (default: all ``fields``) or was computed for another ``meta`` is moved
        to :attr:`quarantine_dir` with an :class:`~lls_core.io.ArtifactWarning` naming it.
        """
        path = self.path(key)
        self._migrate()
        got = self._read(path, fields, finite)
        if got is None:
            return None
        stored, values = got
        if stored != meta:
            quarantine(path, f"computed for different settings (stored {stored}, requested {meta})", self.quarantine_dir)
            return None
        return values

    def import_from(self, other: "PairStore") -> tuple[int, int]:
        """Copy into this store the verified pairs of ``other`` (another machine's store, same namespace)
        that this one lacks; returns ``(copied, kept)``, kept: pairs this store already had (never replaced).

        Each pair is read and checked as :meth:`load` reads it (a damaged one is quarantined in
        ``other`` and not copied) and written here by :meth:`save` (atomically, with its checksum):
        paths found elsewhere (a GPU machine) join the cache under the same keys.
        """
        if other.namespace != self.namespace:
            raise ValueError(f"namespace {other.namespace!r} of the source is not this store's {self.namespace!r}")
        copied = kept = 0
        for path in sorted(other.dir.glob("*.npz")) if other.dir.is_dir() else []:
            got = other._read(path, None, None)
            if got is None:
                continue
            if self._read(self.path(path.stem), None, None) is not None:
                kept += 1
                continue
            meta, values = got
            self.save(path.stem, values, meta)
            copied += 1
        return copied, kept

    def _read(self, path: Path, fields: Sequence[str] | None,
              finite: Sequence[str] | None) -> tuple[str, dict[str, float]] | None:
        """(metadata, values) of a verified file; ``None`` (and quarantined) when damaged or absent."""
        if not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as z:
                stored, stored_sum = str(z["meta"]), str(z["checksum"])
                every = {k: z[k].item() for k in z.files if k not in ("meta", "checksum")}
            values = every if fields is None else {k: every[k] for k in fields}
        except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile) as err:
            quarantine(path, f"unreadable pair file: {type(err).__name__}: {err}", self.quarantine_dir)
            return None
        if stored_sum != pair_checksum(stored, every):
            quarantine(path, "checksum mismatch: the stored values or settings were altered", self.quarantine_dir)
            return None
        if not all(math.isfinite(float(values[k])) for k in (values if finite is None else finite)):
            quarantine(path, "non-finite value in the stored pair", self.quarantine_dir)
            return None
        return stored, values

    def _migrate(self) -> None:
        """Move the format-2 cache of this namespace (:attr:`legacy_dir`) here, once per object."""
        if self._migrated:
            return
        self._migrated = True
        old = sorted(self.legacy_dir.glob("pair-*.npz")) if self.legacy_dir.is_dir() else []
        moved = 0
        for src in old:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ArtifactWarning)  # one summary below instead of one per file
                ok = self._read(src, None, None) is not None
            if not ok:
                continue  # damaged: already in the quarantine
            key = src.stem[len("pair-"):]
            try:
                dest = self.path(key)
            except ValueError:
                quarantine(src, "not a pair file of this store (its name is no pair key)", self.quarantine_dir)
                continue
            dest.parent.mkdir(parents=True, exist_ok=True)
            if dest.exists():
                src.unlink()  # already moved by another process
            else:
                os.replace(src, dest)
            moved += 1
        if old:
            damaged = len(old) - moved
            warnings.warn(f"the pair cache moved into the artifact store: {moved} stored pair(s) moved from "
                          f"{self.legacy_dir} to {self.dir}"
                          + (f", {damaged} damaged one(s) quarantined in {self.quarantine_dir}" if damaged else ""),
                          ArtifactWarning, stacklevel=3)
            try:
                self.legacy_dir.rmdir()  # only when empty (an old quarantine folder stays for inspection)
            except OSError:
                pass
