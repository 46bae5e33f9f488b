"""Files written whole or not at all, damaged files set aside, and locks that survive a crash.

Every artifact of the package (stored runs, cached path pairs, figures, executed
notebooks, the run log) goes through :func:`atomic_write`: the bytes go to a
temporary file ``.tmp-<pid>-<random>-<name>`` in the target's folder, which is
flushed, fsynced, given the user's umask permissions and renamed over the
target with ``os.replace``. A reader therefore sees the old file or the new one,
never a part. A process killed while writing leaves only its temporary file;
:func:`clean_temp` removes those whose process is gone.

:func:`quarantine` moves a file that failed verification into a ``quarantine``
folder (keeping it for inspection) and warns, naming both paths, with
:class:`ArtifactWarning`. :class:`FileLock` is an ``fcntl.flock`` lock on a
file: the kernel releases it when the holder dies, so a crash never leaves a
stale lock behind.

Example::

    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = atomic_write(d / "a.txt", "hello")
    >>> with FileLock(d / "a.lock", what="the demo"):
    ...     (d / "a.txt").read_text()
    'hello'
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import os
import secrets
import threading
import time
import warnings
from pathlib import Path
from typing import IO, Any, Callable, Iterator

__all__ = [
    "ArtifactWarning",
    "LockBusy",
    "FileLock",
    "atomic_write",
    "file_mode",
    "temp_name",
    "is_orphan_temp",
    "clean_temp",
    "quarantine",
    "sha256_bytes",
]

TEMP_PREFIX = ".tmp-"


class ArtifactWarning(UserWarning):
    """A damaged or stale artifact was set aside and will be recomputed."""


class LockBusy(RuntimeError):
    """Another process holds the lock (the message names it and what it is doing)."""


_UMASK_LOCK = threading.Lock()


def file_mode() -> int:
    """Permission bits for a new file under the current umask (``0o666 & ~umask``)."""
    with _UMASK_LOCK:
        mask = os.umask(0o022)
        os.umask(mask)
    return 0o666 & ~mask


def temp_name(target: Path) -> Path:
    """A fresh temporary path beside ``target``: ``.tmp-<pid>-<random>-<name>``."""
    return target.with_name(f"{TEMP_PREFIX}{os.getpid()}-{secrets.token_hex(4)}-{target.name}")


def atomic_write(path: str | os.PathLike[str], content: bytes | str | Callable[[IO[bytes]], Any]) -> Path:
    """Write ``content`` to ``path`` atomically and return the path.

    ``content``: bytes, text (UTF-8) or a function that writes into the open binary
    file (e.g. ``lambda f: torch.save(obj, f)``). The file gets the user's umask
    permissions (not the 0600 of :func:`tempfile.mkstemp`). On any error, including
    ``KeyboardInterrupt``, the temporary file is removed and the target left as it was.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_name(target)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            if isinstance(content, str):
                f.write(content.encode())
            elif isinstance(content, (bytes, bytearray, memoryview)):
                f.write(content)
            else:
                content(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, file_mode())
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return target


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def is_orphan_temp(path: Path, older_than_s: float = 3600.0) -> bool:
    """True for a temporary file whose writer is gone (its pid is dead) or that is older than ``older_than_s``."""
    name = path.name
    if not name.startswith(TEMP_PREFIX):
        return False
    try:
        age = time.time() - path.stat().st_mtime
    except FileNotFoundError:
        return False
    pid_text = name[len(TEMP_PREFIX) :].split("-", 1)[0]
    if pid_text.isdigit() and int(pid_text) != os.getpid() and not _pid_alive(int(pid_text)):
        return True
    return age > older_than_s


def clean_temp(folder: str | os.PathLike[str], older_than_s: float = 3600.0) -> list[Path]:
    """Delete orphan temporary files (:func:`is_orphan_temp`) anywhere under ``folder``; return them."""
    base = Path(folder)
    removed: list[Path] = []
    if not base.is_dir():
        return removed
    for p in base.rglob(f"{TEMP_PREFIX}*"):
        if p.is_file() and is_orphan_temp(p, older_than_s):
            try:
                p.unlink()
                removed.append(p)
            except FileNotFoundError:
                pass
    return removed


def quarantine(path: str | os.PathLike[str], reason: str, folder: str | os.PathLike[str] | None = None) -> Path | None:
    """Move a damaged file into ``folder`` (default: ``quarantine`` beside it) and warn, naming both.

    Returns the new path (``None`` when the file had already gone). The warning is an
    :class:`ArtifactWarning` saying the file will be recomputed.
    """
    src = Path(path)
    dest_dir = Path(folder) if folder is not None else src.parent / "quarantine"
    dest_dir.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    dest = dest_dir / f"{src.name}.{stamp}-{secrets.token_hex(3)}"
    try:
        os.replace(src, dest)
    except FileNotFoundError:
        return None
    warnings.warn(f"{src} is damaged ({reason}); moved to {dest}; it will be recomputed", ArtifactWarning, stacklevel=3)
    return dest


def sha256_bytes(chunks: Iterator[bytes] | list[bytes]) -> str:
    """SHA-256 (hex) of the concatenation of length-prefixed ``chunks`` (unambiguous framing)."""
    h = hashlib.sha256()
    for c in chunks:
        h.update(len(c).to_bytes(8, "little"))
        h.update(c)
    return h.hexdigest()


class FileLock:
    """An exclusive ``fcntl.flock`` lock on ``path`` (released by the kernel if the holder dies).

    ``wait=False`` raises :class:`LockBusy` at once when another process holds it,
    naming ``what`` and the holder's pid; ``wait=True`` blocks until it is free
    (``timeout`` seconds at most, then :class:`LockBusy`). Re-entrant within one
    object only; use one :class:`FileLock` per critical section.
    """

    def __init__(self, path: str | os.PathLike[str], *, wait: bool = True, timeout: float | None = None, what: str = "") -> None:
        self.path = Path(path)
        self.wait = wait
        self.timeout = timeout
        self.what = what or str(self.path)
        self._fd: int | None = None

    def _holder(self) -> str:
        try:
            text = self.path.read_text().strip()
        except OSError:
            return "another process"
        return f"process {text}" if text else "another process"

    def acquire(self) -> "FileLock":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, file_mode())
        start = time.monotonic()
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as err:
                if err.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                    os.close(fd)
                    raise
                late = self.timeout is not None and time.monotonic() - start > self.timeout
                if not self.wait or late:
                    holder = self._holder()
                    os.close(fd)
                    raise LockBusy(f"{self.what} is busy: {holder} holds the lock {self.path}") from None
                time.sleep(0.05)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()} since {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}".encode())
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            try:
                os.ftruncate(self._fd, 0)
            except OSError:
                pass
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> "FileLock":
        return self.acquire()

    def __exit__(self, *exc: Any) -> None:
        self.release()
