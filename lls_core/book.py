"""Chapter execution and the book build.

A chapter is a jupytext MyST-markdown notebook ``notebooks/<slug>.md`` listed in
``_toc.yml``. Its front matter holds an ``lls:`` block::

    lls:
      profiles: {smoke: {n: 10}, paper: {n: 1000}}   # overrides of the parameters cell
      checks: {n: {min: 1, max: 100000}}             # ranges / choices beyond the type
      figures: [fig8_paths]                          # figure stems the chapter must write

and exactly one code cell tagged ``parameters`` whose top-level assignments
(``name = literal  # help``) are the knobs and their ``quick`` defaults.

:func:`run_chapter` validates a profile plus overrides against that cell
*before* any work (papermill itself would silently accept unknown names),
converts the chapter with jupytext, executes it with papermill, and writes the
executed notebook (atomically) and its figures into the build folder.
:func:`build_book` runs every chapter and then Jupyter Book 1.x with execution
off over the executed notebooks, with warnings as errors.
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import yaml

__all__ = [
    "PROFILES",
    "Parameter",
    "Chapter",
    "RunResult",
    "ParameterError",
    "project_root",
    "chapters",
    "get_chapter",
    "resolve_parameters",
    "parse_value",
    "run_chapter",
    "stage_book",
    "build_html",
    "build_book",
]

PROFILES: tuple[str, ...] = ("smoke", "quick", "full", "paper")
"""``smoke``: smallest, used by the tests; ``quick``: the default book build (the
parameters cell's defaults); ``full``: the paper's protocol on the embedded digits;
``paper``: the papers' full scale."""

KERNEL = "python3"


class ParameterError(ValueError):
    """A parameter name, type or value that the chapter does not accept."""


@dataclass(frozen=True)
class Parameter:
    """One knob of a chapter: its ``quick`` default, type and allowed values."""

    name: str
    default: Any
    help: str = ""
    min: float | None = None
    max: float | None = None
    choices: tuple[Any, ...] | None = None

    @property
    def type_name(self) -> str:
        return type(self.default).__name__

    def describe(self) -> str:
        """What values are allowed, in words (used in error messages and ``lls-book list``)."""
        if self.choices is not None:
            return "one of " + ", ".join(repr(c) for c in self.choices)
        rng = ""
        if self.min is not None and self.max is not None:
            rng = f" in [{self.min}, {self.max}]"
        elif self.min is not None:
            rng = f" >= {self.min}"
        elif self.max is not None:
            rng = f" <= {self.max}"
        article = "an" if self.type_name[0] in "aeiou" else "a"
        return f"{article} {self.type_name}{rng}"

    def validate(self, value: Any) -> Any:
        """Return ``value`` (coerced int -> float where the default is a float) or raise."""
        d = self.default
        ok_type = (
            (isinstance(d, bool) and isinstance(value, bool))
            or (isinstance(d, int) and not isinstance(d, bool) and isinstance(value, int) and not isinstance(value, bool))
            or (isinstance(d, float) and isinstance(value, (int, float)) and not isinstance(value, bool))
            or (isinstance(d, str) and isinstance(value, str))
            or (isinstance(d, (list, tuple)) and isinstance(value, (list, tuple)))
            or d is None
        )
        if not ok_type:
            raise ParameterError(f"parameter {self.name!r} = {value!r} has type {type(value).__name__}; expected {self.describe()}")
        if isinstance(d, float):
            value = float(value)
        if self.choices is not None and value not in self.choices:
            raise ParameterError(f"parameter {self.name!r} = {value!r} is not allowed; expected {self.describe()}")
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if value != value:  # NaN
                raise ParameterError(f"parameter {self.name!r} = {value!r} is NaN; expected {self.describe()}")
            if (self.min is not None and value < self.min) or (self.max is not None and value > self.max):
                raise ParameterError(f"parameter {self.name!r} = {value!r} is out of range; expected {self.describe()}")
        return value


@dataclass(frozen=True)
class Chapter:
    """A chapter: its slug, source file, title, knobs, profiles and promised figures."""

    slug: str
    path: Path
    title: str
    parameters: tuple[Parameter, ...]
    profiles: Mapping[str, Mapping[str, Any]]
    figures: tuple[str, ...]

    def parameter(self, name: str) -> Parameter:
        for p in self.parameters:
            if p.name == name:
                return p
        valid = ", ".join(p.name for p in self.parameters) or "(none)"
        raise ParameterError(f"chapter {self.slug!r} has no parameter {name!r}; valid parameters: {valid}")


@dataclass(frozen=True)
class RunResult:
    """What :func:`run_chapter` produced."""

    slug: str
    profile: str
    parameters: Mapping[str, Any]
    notebook: Path
    figure_dir: Path
    wall_seconds: float
    figures: tuple[Path, ...] = field(default_factory=tuple)


# ----------------------------------------------------------------------------- discovery


def project_root() -> Path:
    """The project root: ``$LLS_ROOT``, else the folder above this package when it holds ``_toc.yml``, else cwd."""
    env = os.environ.get("LLS_ROOT")
    if env:
        return Path(env).resolve()
    here = Path(__file__).resolve().parent.parent
    if (here / "_toc.yml").exists():
        return here
    return Path.cwd().resolve()


def _toc_files(toc: Mapping[str, Any]) -> list[str]:
    out: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, Mapping):
            for key in ("root", "file"):
                if key in node:
                    out.append(str(node[key]))
            for key in ("parts", "chapters", "sections"):
                for child in node.get(key, []) or []:
                    walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    walk(toc)
    return out


def toc_files(root: Path | None = None) -> list[str]:
    """Every file named in ``_toc.yml`` (without extension), in book order."""
    root = root or project_root()
    return _toc_files(yaml.safe_load((root / "_toc.yml").read_text()))


def _parse_parameters(source: str, checks: Mapping[str, Mapping[str, Any]], slug: str) -> tuple[Parameter, ...]:
    tree = ast.parse(source)
    lines = source.splitlines()
    params: list[Parameter] = []
    for node in tree.body:
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)):
            raise ValueError(f"chapter {slug!r}: the parameters cell may only hold 'name = literal' lines")
        name = node.targets[0].id
        try:
            default = ast.literal_eval(node.value)
        except ValueError as err:
            raise ValueError(f"chapter {slug!r}: parameter {name!r} must have a literal default") from err
        line = lines[node.lineno - 1]
        help_text = line.split("#", 1)[1].strip() if "#" in line[node.value.end_col_offset :] else ""
        c = dict(checks.get(name, {}))
        unknown = set(c) - {"min", "max", "choices"}
        if unknown:
            raise ValueError(f"chapter {slug!r}: checks for {name!r} have unknown keys {sorted(unknown)}")
        choices = tuple(c["choices"]) if "choices" in c else None
        params.append(Parameter(name, default, help_text, c.get("min"), c.get("max"), choices))
    names = {p.name for p in params}
    stray = set(checks) - names
    if stray:
        raise ValueError(f"chapter {slug!r}: checks name unknown parameters {sorted(stray)}")
    return tuple(params)


def _read_chapter(path: Path) -> Chapter:
    import jupytext

    nb = jupytext.read(path)
    slug = path.stem
    meta = dict(nb.metadata.get("lls", {}) or {})
    cells = [c for c in nb.cells if c.cell_type == "code" and "parameters" in c.metadata.get("tags", [])]
    if len(cells) != 1:
        raise ValueError(f"chapter {slug!r} ({path}) must have exactly one cell tagged 'parameters'; found {len(cells)}")
    params = _parse_parameters(cells[0].source, meta.get("checks", {}) or {}, slug)
    title = next(
        (line[2:].strip() for c in nb.cells if c.cell_type == "markdown" for line in c.source.splitlines() if line.startswith("# ")),
        slug,
    )
    profiles = {k: dict(v or {}) for k, v in (meta.get("profiles", {}) or {}).items()}
    for name in profiles:
        if name not in PROFILES:
            raise ValueError(f"chapter {slug!r}: unknown profile {name!r}; valid: {', '.join(PROFILES)}")
    chapter = Chapter(slug, path, title, params, profiles, tuple(meta.get("figures", []) or []))
    for prof in profiles:  # the profiles themselves must be valid
        resolve_parameters(chapter, prof)
    return chapter


def chapters(root: Path | None = None) -> list[Chapter]:
    """Every chapter (notebook under ``notebooks/``) named in ``_toc.yml``, in book order."""
    root = root or project_root()
    out = []
    for entry in toc_files(root):
        if entry.startswith("notebooks/"):
            out.append(_read_chapter(root / f"{entry}.md"))
    return out


def get_chapter(slug: str, root: Path | None = None) -> Chapter:
    """The chapter called ``slug``; an unknown slug raises ``KeyError`` listing the valid ones."""
    found = chapters(root)
    for ch in found:
        if ch.slug == slug:
            return ch
    raise KeyError(f"unknown chapter {slug!r}; valid chapters: {', '.join(c.slug for c in found)}")


# ----------------------------------------------------------------------------- parameters


def parse_value(text: str) -> Any:
    """Parse a command-line value as YAML (``3`` -> int, ``1e-3`` -> float, ``[1, 2]`` -> list)."""
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    if isinstance(value, str):  # YAML reads 1e-3 as a string; accept Python float syntax too
        try:
            return float(value) if any(ch in value for ch in ".eE") else int(value)
        except ValueError:
            return value
    return value


def resolve_parameters(chapter: Chapter, profile: str = "quick", overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Defaults, then the profile's values, then ``overrides``; every value validated.

    Raises :class:`ParameterError` naming an unknown profile or parameter, a wrong
    type or an out-of-range value, and what would be valid.
    """
    if profile not in PROFILES:
        raise ParameterError(f"unknown profile {profile!r}; valid profiles: {', '.join(PROFILES)}")
    values = {p.name: p.default for p in chapter.parameters}
    for source in (chapter.profiles.get(profile, {}), overrides or {}):
        for name, value in source.items():
            values[name] = chapter.parameter(name).validate(value)
    return values


# ----------------------------------------------------------------------------- execution


def _atomic_write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _record_run(build_dir: Path, result: RunResult) -> None:
    log = build_dir / "runs.json"
    runs = json.loads(log.read_text()) if log.exists() else {}
    runs.setdefault(result.profile, {})[result.slug] = {
        "wall_seconds": round(result.wall_seconds, 2),
        "parameters": result.parameters,
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    _atomic_write_text(log, json.dumps(runs, indent=1, sort_keys=True, default=str))


def run_chapter(
    slug: str,
    profile: str = "quick",
    overrides: Mapping[str, Any] | None = None,
    build_dir: Path | str | None = None,
    root: Path | None = None,
    progress: bool = False,
) -> RunResult:
    """Execute one chapter with papermill and write it to ``<build_dir>/executed/<profile>/<slug>.ipynb``.

    Parameters are validated first. Figures land in
    ``<build_dir>/figures/<profile>/<slug>/`` (``$LLS_FIGURE_DIR`` inside the
    kernel). A failing cell raises papermill's ``PapermillExecutionError``; the
    partial notebook is left beside the target as ``<slug>.failed.ipynb`` for
    inspection, never in its place. A promised figure that was not written
    raises ``RuntimeError``.
    """
    import jupytext
    import papermill

    root = root or project_root()
    chapter = get_chapter(slug, root)
    params = resolve_parameters(chapter, profile, overrides)
    build_dir = Path(build_dir) if build_dir is not None else root / "_build"
    build_dir = build_dir.resolve()
    out_dir = build_dir / "executed" / profile
    fig_dir = build_dir / "figures" / profile / slug
    out_dir.mkdir(parents=True, exist_ok=True)
    if fig_dir.exists():
        shutil.rmtree(fig_dir)
    fig_dir.mkdir(parents=True)
    target = out_dir / f"{slug}.ipynb"
    tmp = out_dir / f".{slug}.running.ipynb"
    failed = out_dir / f"{slug}.failed.ipynb"

    nb = jupytext.read(chapter.path)
    nb.metadata["kernelspec"] = {"name": KERNEL, "display_name": "Python 3", "language": "python"}
    env_backup = {k: os.environ.get(k) for k in ("LLS_FIGURE_DIR", "LLS_PROFILE", "LLS_BUILD_DIR", "LLS_ROOT", "MPLBACKEND")}
    os.environ.update(
        LLS_FIGURE_DIR=str(fig_dir),
        LLS_PROFILE=profile,
        LLS_BUILD_DIR=str(build_dir),
        LLS_ROOT=str(root),
        MPLBACKEND="module://matplotlib_inline.backend_inline",  # figures into the notebook (agg shows none)
    )
    start = time.perf_counter()
    try:
        papermill.execute_notebook(
            nb,
            str(tmp),
            parameters=params,
            kernel_name=KERNEL,
            cwd=str(root),
            progress_bar=progress,
            log_output=False,
        )
    except BaseException:
        if tmp.exists():
            os.replace(tmp, failed)
        raise
    finally:
        for k, v in env_backup.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    wall = time.perf_counter() - start
    os.replace(tmp, target)
    if failed.exists():
        failed.unlink()
    missing = [f for f in chapter.figures if not (fig_dir / f"{f}.png").exists()]
    if missing:
        raise RuntimeError(f"chapter {slug!r} did not write its promised figures {missing} into {fig_dir}")
    result = RunResult(slug, profile, params, target, fig_dir, wall, tuple(fig_dir / f"{f}.png" for f in chapter.figures))
    _record_run(build_dir, result)
    return result


# ----------------------------------------------------------------------------- the book


def stage_book(profile: str, build_dir: Path, root: Path | None = None) -> Path:
    """Assemble the Jupyter Book source folder ``<build_dir>/src`` from the executed notebooks.

    The .md chapter sources are *not* copied (a same-named .md beside the .ipynb
    would clash); prose pages from ``book/`` (with ``book/references.bib``) are.
    """
    root = root or project_root()
    src = build_dir / "src"
    if src.exists():
        shutil.rmtree(src)
    shutil.copytree(root / "book", src / "book")
    executed = build_dir / "executed" / profile
    (src / "notebooks").mkdir(parents=True)
    for entry in toc_files(root):
        if entry.startswith("notebooks/"):
            nb = executed / f"{Path(entry).name}.ipynb"
            if not nb.exists():
                raise FileNotFoundError(f"{nb} is missing: run the chapter first (lls-book run {Path(entry).name} --profile {profile})")
            shutil.copy2(nb, src / "notebooks" / nb.name)
    shutil.copy2(root / "_config.yml", src / "_config.yml")
    shutil.copy2(root / "_toc.yml", src / "_toc.yml")
    return src


def build_html(profile: str = "quick", build_dir: Path | str | None = None, root: Path | None = None) -> Path:
    """Run Jupyter Book (``-W -n --keep-going``) over the staged executed notebooks; return ``_build/html``."""
    root = root or project_root()
    build_dir = (Path(build_dir) if build_dir is not None else root / "_build").resolve()
    src = stage_book(profile, build_dir, root)
    if (build_dir / "jb").exists():  # always a clean Sphinx build: a stale environment can keep old state
        shutil.rmtree(build_dir / "jb")
    jb = Path(sys.executable).with_name("jupyter-book")
    cmd = [str(jb) if jb.exists() else "jupyter-book", "build", str(src), "--path-output", str(build_dir / "jb"), "-W", "-n", "--keep-going"]
    proc = subprocess.run(cmd, cwd=root, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"jupyter-book build failed (exit {proc.returncode}):\n{proc.stdout[-6000:]}\n{proc.stderr[-6000:]}")
    html = build_dir / "html"
    if html.exists():
        shutil.rmtree(html)
    shutil.copytree(build_dir / "jb" / "_build" / "html", html)
    return html


def build_book(profile: str = "quick", build_dir: Path | str | None = None, root: Path | None = None, only: list[str] | None = None) -> Path:
    """Execute every chapter under ``profile`` (the reproducibility appendix last) and build the HTML book."""
    from tqdm.auto import tqdm

    root = root or project_root()
    build_dir = (Path(build_dir) if build_dir is not None else root / "_build").resolve()
    todo = [c.slug for c in chapters(root)]
    if only:
        todo = [s for s in todo if s in only]
    # the appendix reports the others' wall times, so it runs last
    todo.sort(key=lambda s: s == "reproducibility")
    bar = tqdm(todo, desc=f"chapters ({profile})", unit="chapter")
    for slug in bar:
        bar.set_postfix_str(slug)
        run_chapter(slug, profile, build_dir=build_dir, root=root)
    return build_html(profile, build_dir, root)
