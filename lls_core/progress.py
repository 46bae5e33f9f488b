"""Progress of long loops (runs, paths, sweeps) with an estimate of the time left.

A chapter executed by ``lls-book run`` runs in a Jupyter kernel whose output becomes the
page, so a progress bar written there would either be lost or clutter the page. The
runner therefore hands the kernel a file (``$LLS_PROGRESS_FILE``) and shows, on its own
console, the newest line a bar writes into it (:class:`ConsoleRelay`). Outside the runner
(a script, an interactive notebook) bars write to standard error as usual.

Example::

    from lls_core import progress
    for lam in progress.bar([1e-3, 1e-2, 1e-1], desc="λ sweep", unit="path"):
        ...  # console: "λ sweep: 67%|██████▋   | 2/3 [00:04<00:02, 2.1s/path]"
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterable, Sized
from pathlib import Path
from typing import IO, Any, Self

__all__ = ["ENV", "ConsoleRelay", "bar", "enabled", "note"]

ENV = "LLS_PROGRESS_FILE"
"""The environment variable naming the file a runner relays to its console."""

_NOTE = "[lls-note] "  # starts a note line in the relay file (a bar line never does)

_BAR_FORMAT = "{desc}: {n_fmt}/{total_fmt} {unit} [{elapsed} elapsed, {remaining} left]"


def enabled(progress: bool | None = None) -> bool:
    """Whether to show a bar: when asked (``progress``), and always under a runner's relay.

    Under ``lls-book run`` bars reach only its console, never the page, so they are on
    whatever the chapter passes; elsewhere ``progress`` decides.
    """
    return bool(progress) or bool(os.environ.get(ENV))


def _target() -> IO[str]:
    path = os.environ.get(ENV)
    if path:
        return open(path, "a", buffering=1, encoding="utf-8")  # line-buffered: the relay sees each update
    return sys.stderr


def bar(iterable: Iterable[Any] | None = None, *, total: int | None = None, desc: str = "", unit: str = "it",
        initial: int = 0, disable: bool | None = None, mininterval: float = 2.0):
    """A text progress bar (``tqdm``) counting ``unit`` s done of ``total``, with the time left.

    Writes to the runner's relay file when ``$LLS_PROGRESS_FILE`` is set, else to
    standard error. ``disable=None`` (the default) shows the bar only under a runner's
    relay, so a chapter's loops never print into the page. ``total`` defaults to
    ``len(iterable)``. Use it as an iterator or call ``.update(k)``; close it (or leave
    the ``with`` block) when done.
    """
    from tqdm import tqdm

    if disable is None:
        disable = not enabled()

    if total is None and isinstance(iterable, Sized):
        total = len(iterable)
    file = None if disable else _target()
    t = tqdm(iterable, total=total, desc=desc, unit=unit, initial=initial, disable=disable, file=file,
             mininterval=mininterval, bar_format=_BAR_FORMAT if total else None, ascii=True, dynamic_ncols=False)
    if file is not None and file is not sys.stderr:
        close = t.close

        def _close() -> None:
            close()
            if not file.closed:
                file.close()

        t.close = _close
    return t


def note(message: str) -> None:
    """A one-line message for the console (e.g. where the Dask dashboard is), never for the page.

    Under ``lls-book run`` the relay prints it above the progress lines; elsewhere it goes
    to standard error.
    """
    path = os.environ.get(ENV)
    line = " ".join(str(message).split())
    if path:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(f"\n{_NOTE}{line}\n")
    else:
        print(line, file=sys.stderr)


class ConsoleRelay:
    """Show the newest progress line written to ``path`` on this process's console.

    Used by the runner around a chapter's execution: a thread polls the file and keeps
    one status line (a ``tqdm`` line below the runner's own bar) equal to the last line
    a kernel bar wrote, and prints the kernel's notes (:func:`note`) above it. ``with ConsoleRelay(path): ...``; nothing is shown when
    ``enabled`` is false (:meth:`poll` still reads the file).
    """

    def __init__(self, path: str | os.PathLike, *, interval: float = 1.0, enabled: bool = True) -> None:
        self.path = Path(path)
        self.interval = float(interval)
        self.enabled = enabled
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._status: Any = None
        self._pos = 0
        self._shown = 0
        self.last = ""
        self.notes: list[str] = []

    def _latest(self) -> str:
        try:
            with open(self.path, "rb") as fh:
                fh.seek(self._pos)
                chunk = fh.read()
                self._pos = fh.tell()
        except FileNotFoundError:
            return self.last
        parts = [p.strip() for p in chunk.decode("utf-8", "replace").replace("\r", "\n").split("\n")]
        self.notes.extend(p[len(_NOTE):] for p in parts if p.startswith(_NOTE))
        parts = [p for p in parts if p and not p.startswith(_NOTE)]
        return parts[-1] if parts else self.last

    def poll(self) -> str:
        """Read what was written since the last poll; return (and show) the newest bar line.

        Notes (:func:`note`) are collected in ``notes`` and printed once, above the bars.
        """
        line = self._latest()
        if self._status is not None:
            from tqdm import tqdm

            for text in self.notes[self._shown:]:
                tqdm.write(text, file=sys.stderr)
        self._shown = len(self.notes)
        if line != self.last:
            self.last = line
            if self._status is not None:
                self._status.set_description_str(line)
        return line

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.poll()

    def __enter__(self) -> Self:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.touch()
        if self.enabled:
            from tqdm import tqdm

            # no fixed position: tqdm places the line below the bars already shown (a build's chapter bar)
            self._status = tqdm(total=0, bar_format="  {desc}", leave=False, file=sys.stderr)
            self._thread = threading.Thread(target=self._loop, name="lls-progress-relay", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._status is not None:
            self.poll()
            self._status.close()
