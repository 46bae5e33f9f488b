"""Process settings for compute work: torch threads and a C allocator that keeps freed memory.

The engine's batched calls create and free arrays of tens to hundreds of MiB many
times a second (an autoencoder path step at 15 points, 4 pairs and 500 images holds
``(52, 500, 784)`` reconstructions: 80 MiB). glibc's ``malloc`` serves every block
above its mmap threshold (at most 32 MiB) with a fresh ``mmap`` and returns it to the
kernel on ``free``, so each such array is page-faulted in again, page by page: on
this project's 2-core machine that cost more than the arithmetic on the array. One
autoencoder path took 4.9 CPU seconds with the default allocator and 2.6 with
:func:`reuse_freed_memory` (FCP paths, whose kernels already reuse buffers, are
unchanged).

:func:`reuse_freed_memory` tells glibc (``mallopt``) to serve large blocks from its
heap and to keep freed memory for reuse: the process's resident memory then stays
at its high-water mark instead of shrinking after each call. It is the same remedy
PyTorch's CPU tuning guide reaches with jemalloc or tcmalloc, without a preloaded
library. On other C libraries (macOS, musl, Windows) it does nothing and returns
``False``.

:data:`ALLOCATOR_ENV` holds the equivalent environment variables, read by glibc when a
process starts: the chapter runner sets them for its kernels, so a chapter's own
work and the Dask worker processes it starts get the setting without a call.

Example::

    from lls_core import runtime
    runtime.configure(threads=1)      # one torch thread, freed memory kept: True on Linux/glibc
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

from . import checks

__all__ = ["ALLOCATOR_ENV", "allocator_env", "configure", "reuse_freed_memory"]

# mallopt parameters (glibc's malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4

_TRIM_BYTES = 2**31 - 1
"""Free memory at the top of the heap that glibc keeps instead of returning (the largest ``int``)."""

ALLOCATOR_ENV: dict[str, str] = {"MALLOC_MMAP_MAX_": "0", "MALLOC_TRIM_THRESHOLD_": str(_TRIM_BYTES)}
"""Environment variables with the effect of :func:`reuse_freed_memory`, for a process about to start."""

_applied: bool | None = None


def _switched_off() -> bool:
    return bool(os.environ.get("LLS_DEFAULT_MALLOC"))


def allocator_env() -> dict[str, str]:
    """:data:`ALLOCATOR_ENV` for a process about to start, or ``{}`` when ``$LLS_DEFAULT_MALLOC`` is set."""
    return {} if _switched_off() else dict(ALLOCATOR_ENV)


def reuse_freed_memory() -> bool:
    """Make glibc serve large blocks from its heap and keep freed memory: ``True`` if applied.

    Idempotent; process-wide (every thread and library of the process). ``False`` where
    the C library is not glibc, or when ``$LLS_DEFAULT_MALLOC`` is set (to compare with
    the default allocator).
    """
    global _applied
    if _applied is not None:
        return _applied
    _applied = False
    if _switched_off():
        return False
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    _applied = bool(mallopt(_M_MMAP_MAX, 0)) and bool(mallopt(_M_TRIM_THRESHOLD, _TRIM_BYTES))
    return _applied


def configure(threads: int | None = 1) -> bool:
    """Settings for a process that does the package's compute work (a chapter kernel, a Dask worker).

    ``threads``: torch's intra-op threads (``None`` leaves them as they are; one per
    process is fastest for this project's small networks on a few cores). Then
    :func:`reuse_freed_memory`; returns its result.
    """
    if threads is not None:
        checks.integer("threads", threads, min=1)
        import torch

        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)
    return reuse_freed_memory()
