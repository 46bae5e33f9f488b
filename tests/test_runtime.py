"""lls_core.runtime: torch threads and the allocator setting for compute processes."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

from lls_core import runtime


def _child(code: str, **env: str) -> str:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True,
                         env={**os.environ, **env})
    return out.stdout.strip()


def test_configure_sets_threads_and_checks_them():
    before = torch.get_num_threads()
    try:
        applied = runtime.configure(threads=1)
        assert torch.get_num_threads() == 1
        assert applied is runtime.reuse_freed_memory()  # idempotent
    finally:
        torch.set_num_threads(before)
    with pytest.raises(ValueError, match="threads=0"):
        runtime.configure(threads=0)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_reuse_freed_memory_applies_on_glibc_and_can_be_switched_off():
    code = "from lls_core import runtime; print(runtime.reuse_freed_memory())"
    assert _child(code) == "True"
    assert _child(code, LLS_DEFAULT_MALLOC="1") == "False"


def test_allocator_env_names_glibc_tunables():
    assert runtime.ALLOCATOR_ENV["MALLOC_MMAP_MAX_"] == "0"
    assert int(runtime.ALLOCATOR_ENV["MALLOC_TRIM_THRESHOLD_"]) > 2**30
