"""The artifact store: finished training runs on disk, saved atomically and loaded only when they match.

Layout: ``<root>/runs/<arch>/<optimizer>/<key-hash>.pt``, one file per run, where
``root`` is the ``root`` argument, else ``$LLS_ARTIFACTS``, else ``artifacts/``
under the project root. A run's *key* (:class:`RunKey`) is everything that
determines its result: architecture, activation, optimizer name and every
hyperparameter, initialisation seed, data set name, split size and seed, the
data's SHA-256 checksum, and the LSTM permutation seed. Its SHA-256 names the file.

Each file is written to a temporary file in the same folder, flushed, fsynced and
renamed with ``os.replace``: a reader sees either no file or a complete one, so a
study killed at any moment leaves only whole runs (plus perhaps an orphan
``.tmp-*`` file, ignored and removable with :meth:`Store.clean_temp`).

Besides the key the file records provenance (``lls_core``, torch, numpy and Python
versions, device, wall time, date) and the loss curves. :meth:`Store.load` reads
with ``torch.load(weights_only=True)`` (no pickled code) and refuses a file whose
stored key differs from the requested one, naming the differing fields.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import platform
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch

from . import __version__
from .train import RunResult

__all__ = ["RunKey", "Store", "MetadataMismatch", "default_root", "FORMAT"]

FORMAT = 1
_PROJECT_ROOT = Path(__file__).resolve().parent.parent


def default_root() -> Path:
    """``$LLS_ARTIFACTS`` when set, else ``<project root>/artifacts``."""
    env = os.environ.get("LLS_ARTIFACTS")
    return Path(env) if env else _PROJECT_ROOT / "artifacts"


class MetadataMismatch(ValueError):
    """A stored run whose metadata differs from the requested key."""


@dataclass(frozen=True)
class RunKey:
    """Everything that determines a run's result. ``hyper`` is a sorted tuple of (name, value) pairs."""

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

    def as_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["hyper"] = {k: v for k, v in self.hyper}
        return d

    @property
    def digest(self) -> str:
        """SHA-256 of the canonical JSON of the key (names the file)."""
        return hashlib.sha256(json.dumps(self.as_dict(), sort_keys=True).encode()).hexdigest()


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


class Store:
    """Finished runs under ``root`` (see the module docstring). Creating a Store touches no file."""

    def __init__(self, root: str | os.PathLike[str] | None = None) -> None:
        self.root = Path(root) if root is not None else default_root()

    def __repr__(self) -> str:
        return f"Store({str(self.root)!r})"

    def path(self, key: RunKey) -> Path:
        return self.root / "runs" / key.arch / key.optimizer / f"{key.digest[:32]}.pt"

    def has(self, key: RunKey) -> bool:
        return self.path(key).is_file()

    def save(self, key: RunKey, result: RunResult) -> Path:
        """Write ``result`` under ``key`` atomically (temp file, fsync, ``os.replace``); return the path."""
        if (result.arch, result.optimizer, result.seed) != (key.arch, key.optimizer, key.seed):
            raise MetadataMismatch(
                f"result ({result.arch}, {result.optimizer}, seed {result.seed}) does not belong to key "
                f"({key.arch}, {key.optimizer}, seed {key.seed})"
            )
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        payload = {
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
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".pt", dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                torch.save(payload, f)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, target)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        return target

    def load(self, key: RunKey) -> RunResult:
        """The stored run for ``key``; ``FileNotFoundError`` if absent, :class:`MetadataMismatch` if it differs."""
        path = self.path(key)
        if not path.is_file():
            raise FileNotFoundError(f"no finished run for {key.arch}/{key.optimizer} seed {key.seed} at {path}")
        blob = torch.load(path, map_location="cpu", weights_only=True)
        if blob.get("format") != FORMAT:
            raise MetadataMismatch(f"{path}: artifact format {blob.get('format')!r}, this lls_core reads {FORMAT}")
        stored, wanted = json.loads(blob["key"]), key.as_dict()
        if stored != wanted:
            diff = [f"{k}: stored {stored.get(k)!r}, requested {wanted.get(k)!r}" for k in sorted(set(stored) | set(wanted)) if stored.get(k) != wanted.get(k)]
            raise MetadataMismatch(f"{path} holds a different run:\n  " + "\n  ".join(diff))
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
        blob = torch.load(self.path(key), map_location="cpu", weights_only=True)
        return json.loads(blob["provenance"])

    def runs(self) -> Iterator[Path]:
        """Paths of all finished runs under this store."""
        base = self.root / "runs"
        if base.is_dir():
            yield from sorted(p for p in base.glob("*/*/*.pt") if not p.name.startswith("."))

    def temp_files(self) -> list[Path]:
        """Orphan temporary files (left by a process killed while writing)."""
        base = self.root / "runs"
        return sorted(base.glob("*/*/.tmp-*")) if base.is_dir() else []

    def clean_temp(self, older_than_s: float = 3600.0) -> int:
        """Delete orphan temporary files older than ``older_than_s`` seconds; return how many."""
        now, n = time.time(), 0
        for p in self.temp_files():
            try:
                if now - p.stat().st_mtime > older_than_s:
                    p.unlink()
                    n += 1
            except FileNotFoundError:
                pass
        return n
