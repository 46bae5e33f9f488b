#!/usr/bin/env python3
"""The two commands of lls-book, with nothing but Python 3.11 required.

    python3 dev.py book   # build the whole book into _build/html
    python3 dev.py test   # run the test suite (what CI runs)

Both first make a local virtual environment in ``.venv`` and install the pinned
dependencies into it: ``torch==2.13.0`` first (so that the CPU wheel is used and
no CUDA packages are pulled in), then this package with its ``book`` and ``test``
extras at exactly the versions of ``constraints.txt`` (``pip install -c``;
``pyproject.toml`` itself holds compatible ranges). The install is skipped when
neither ``pyproject.toml`` nor ``constraints.txt`` has changed since the last one. Extra arguments are passed on: to ``lls-book build`` for ``book``
(e.g. ``--profile paper``), to ``pytest`` for ``test`` (e.g. ``-k surfaces``).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
TORCH = "torch==2.13.0"
CONSTRAINTS = ROOT / "constraints.txt"


def _venv_python() -> Path:
    return VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _run(cmd: list[str]) -> None:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    subprocess.run([str(c) for c in cmd], check=True, cwd=ROOT)


def install_digest(root: Path = ROOT) -> str:
    """SHA-256 over ``pyproject.toml`` and ``constraints.txt``: a change in either means a new install."""
    h = hashlib.sha256()
    for name in ("pyproject.toml", "constraints.txt"):
        h.update(name.encode() + b"\0" + hashlib.sha256((root / name).read_bytes()).digest())
    return h.hexdigest()


def ensure_env() -> Path:
    """Create ``.venv`` and install the pinned dependencies; return its python."""
    if sys.version_info < (3, 11):
        sys.exit(f"lls-book needs Python >= 3.11; this is {sys.version.split()[0]}")
    py = _venv_python()
    if not py.exists():
        print(f"creating virtual environment in {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
    digest = install_digest()
    stamp = VENV / ".lls-installed"
    if stamp.exists() and stamp.read_text().strip() == digest:
        return py
    pip = [py, "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    _run([*pip, TORCH])  # first: the CPU wheel, never the CUDA build
    _run([*pip, "-c", CONSTRAINTS, "-e", ".[book,test]"])
    stamp.write_text(digest)
    return py


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"book", "test"}:
        print(__doc__)
        return 2
    py = ensure_env()
    if argv[0] == "book":
        cmd = [py, "-m", "lls_core.cli", "build", *argv[1:]]
    else:
        for lint in ([py, "-m", "ruff", "check", "."], [py, "-m", "mypy", "lls_core"]):  # config: pyproject.toml
            if subprocess.run([str(c) for c in lint], cwd=ROOT).returncode:
                return 1
        cmd = [py, "-m", "pytest", *argv[1:]]
    return subprocess.run([str(c) for c in cmd], cwd=ROOT).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
