"""Facts for the reproducibility appendix: environment versions, profiles, wall times,
the parameters each chapter actually ran with (from the run log ``runs.json``, not the
sources), the git commit and the build date."""

from __future__ import annotations

import platform
from importlib import metadata
from pathlib import Path
from typing import Iterable

import pandas as pd

from .book import PROFILE_NAMES, Chapter

__all__ = ["environment", "profile_table", "wall_times", "parameters_used", "git_commit", "build_summary"]

_PACKAGES = (
    "lls-core", "torch", "numpy", "scipy", "pandas", "matplotlib", "seaborn", "scikit-learn",
    "dask", "mlxtend", "papermill", "jupytext", "jupyter-book", "myst-nb", "sphinx",
)


def environment() -> dict[str, str]:
    """Versions of the interpreter, the platform and every package the book depends on."""
    import os

    env = {"python": platform.python_version(), "platform": platform.platform(), "cpu cores": str(os.cpu_count())}
    for name in _PACKAGES:
        try:
            env[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            env[name] = "not installed"
    return env


def profile_table(chapters: Iterable[Chapter]) -> pd.DataFrame:
    """One row per chapter and profile: the command that reruns it and what the profile changes."""
    rows = []
    for ch in chapters:
        for prof in PROFILE_NAMES:
            changes = ch.profiles.get(prof, {}) if prof != "quick" else {}
            rows.append(
                {
                    "chapter": ch.slug,
                    "profile": prof,
                    "command": f"lls-book run {ch.slug} --profile {prof}",
                    "changes from the defaults": ", ".join(f"{k}={v!r}" for k, v in changes.items()) or "(defaults)",
                }
            )
    return pd.DataFrame(rows).set_index(["chapter", "profile"])


def wall_times(build_dir: str | Path, profile: str | None = None) -> pd.DataFrame:
    """Wall time (seconds) of each executed chapter, read from ``<build_dir>/runs.json``.

    Read as the runner reads it: a damaged log is set aside and rebuilt from the per-run records.
    """
    runs = _runs(build_dir)
    rows = [
        {"profile": prof, "chapter": slug, "wall time (s)": info["wall_seconds"], "finished": info["finished"]}
        for prof, chapters in runs.items()
        if profile is None or prof == profile
        for slug, info in chapters.items()
    ]
    if not rows:
        return pd.DataFrame(columns=["wall time (s)", "finished"])
    return pd.DataFrame(rows).set_index(["profile", "chapter"]).sort_index()


def _runs(build_dir: str | Path) -> dict:
    """The run log, read as the runner reads it (a damaged ``runs.json`` is rebuilt from the per-run records)."""
    from . import book

    if not Path(build_dir).exists():
        return {}
    return book.read_runs(Path(build_dir))


def parameters_used(build_dir: str | Path, profile: str | None = None) -> pd.DataFrame:
    """Every parameter value each executed chapter ran with, read from ``<build_dir>/runs.json``.

    One row per (profile, chapter, parameter), with the value as the kernel received it
    (``repr``), so the table shows what ran rather than what the sources say. Empty
    (with the columns) when nothing was recorded.
    """
    rows = [
        {"profile": prof, "chapter": slug, "parameter": name, "value": repr(value)}
        for prof, chapters in _runs(build_dir).items()
        if profile is None or prof == profile
        for slug, info in chapters.items()
        for name, value in sorted((info.get("parameters") or {}).items())
    ]
    if not rows:
        return pd.DataFrame(columns=["profile", "chapter", "parameter", "value"]).set_index(["profile", "chapter", "parameter"])
    return pd.DataFrame(rows).set_index(["profile", "chapter", "parameter"]).sort_index()


def git_commit(root: str | Path) -> str:
    """The commit the sources were at (``git rev-parse HEAD``), ``+ local changes`` when the tree
    differs from it, or ``unknown`` outside a git checkout."""
    import subprocess

    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=20)
        if head.returncode != 0:
            return "unknown"
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=20).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return head.stdout.strip() + (" + local changes" if dirty else "")


def build_summary(build_dir: str | Path, profile: str) -> dict[str, str]:
    """Chapters executed under ``profile``, their total wall time, and when the first and last finished."""
    runs = _runs(build_dir).get(profile, {})
    total = sum(float(info.get("wall_seconds", 0.0)) for info in runs.values())
    finished = sorted(str(info.get("finished", "")) for info in runs.values() if info.get("finished"))
    return {
        "profile": profile,
        "chapters executed": str(len(runs)),
        "total wall time": f"{total / 60:.1f} min ({total:.0f} s)",
        "first chapter finished": finished[0] if finished else "—",
        "last chapter finished": finished[-1] if finished else "—",
    }
