"""Facts for the reproducibility appendix: environment versions, profiles, wall times."""

from __future__ import annotations

import json
import platform
from importlib import metadata
from pathlib import Path
from typing import Iterable

import pandas as pd

from .book import PROFILES, Chapter

__all__ = ["environment", "profile_table", "wall_times"]

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
        for prof in PROFILES:
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
    """Wall time (seconds) of each executed chapter, read from ``<build_dir>/runs.json``."""
    log = Path(build_dir) / "runs.json"
    runs = json.loads(log.read_text()) if log.exists() else {}
    rows = [
        {"profile": prof, "chapter": slug, "wall time (s)": info["wall_seconds"], "finished": info["finished"]}
        for prof, chapters in runs.items()
        if profile is None or prof == profile
        for slug, info in chapters.items()
    ]
    if not rows:
        return pd.DataFrame(columns=["wall time (s)", "finished"])
    return pd.DataFrame(rows).set_index(["profile", "chapter"]).sort_index()
