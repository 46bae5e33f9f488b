"""Chapter execution and the book build.

A chapter is a jupytext MyST-markdown notebook ``notebooks/<slug>.md`` listed in
``_toc.yml``. Its front matter holds an ``lls:`` block::

    lls:
      profiles: {smoke: {n: 10}, paper: {n: 1000}}   # overrides of the parameters cell
      checks: {n: {min: 1, max: 100000}}             # ranges / choices beyond the type
      figures: [fig8_paths]                          # figure stems the chapter must write

and exactly one code cell tagged ``parameters`` whose top-level assignments
(``name = literal  # help``) are the knobs and their ``quick`` defaults.

Checks (every parameter is bounded; a test enforces it)::

    n:       {min: 1, max: 100}                       # numbers
    name:    {choices: [a, b]}                        # strings (or numbers) from a list
    gamma:   {choices: [median], number: {min: 1e-12, max: 1e12}}  # a choice or a number as text
    archs:   {min_items: 1, max_items: 4, unique: true, items: {choices: [fcp, lenet]}}  # lists
    workers: {min: 1, max: 256, cpus: true}           # at most the CPUs of this machine

and relations between parameters as ``rules: ["k_best <= n_inits", "n_eval <= n_train"]``
(names, numbers, ``+ - * / //``, comparisons, ``and``/``or``, ``x[i]``, ``len``, ``min``, ``max``).

:func:`run_chapter` validates a profile plus overrides against all of this
*before* any work (papermill itself would silently accept unknown names), takes
a lock per chapter and profile, converts the chapter with jupytext, executes it
with papermill into a private temporary folder and, on success only, swaps the
executed notebook and its figures into the build folder. :func:`build_book`
runs every chapter and then Jupyter Book 1.x with execution off over the
executed notebooks, with warnings as errors.

The cell after each chapter's parameters cell calls :func:`check_parameters`,
so a chapter run by papermill or Jupyter directly gets the same checks. Note
that papermill writes parameter *names* into the notebook as code: a name
passed to ``papermill -p`` is executed, so only trusted input belongs there
(``lls-book run`` refuses any name the chapter does not declare before papermill
sees it).
"""

from __future__ import annotations

import ast
import contextlib
import dataclasses
import json
import math
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

import yaml

from . import resources
from . import checks
from .checks import UnknownNameError
from .io import FileLock, LockBusy, atomic_write, clean_temp, quarantine

__all__ = [
    "PROFILE_NAMES",
    "Parameter",
    "Chapter",
    "ChapterRun",
    "ParameterError",
    "UnknownParameterName",
    "check_profile",
    "ChapterBusy",
    "project_root",
    "cpu_count",
    "chapters",
    "get_chapter",
    "resolve_parameters",
    "parse_value",
    "parse_override",
    "check_parameters",
    "run_chapter",
    "present_notebook",
    "stage_book",
    "build_html",
    "build_book",
    "build_pdf",
]

PROFILE_NAMES: tuple[str, ...] = ("smoke", "quick", "full", "paper")
"""The names of :data:`lls_core.study.PROFILES` (in its order), which a chapter's
``profiles`` block and ``--profile`` accept: ``smoke``: smallest, used by the tests;
``quick``: the default book build (the parameters cell's defaults); ``full``: the
paper's protocol on the embedded digits; ``paper``: the papers' full scale. Written out
rather than read from :mod:`lls_core.study` so that the book tooling imports no torch;
``tests/test_book.py`` checks that the two agree."""

KERNEL = "python3"
KERNEL_ARGS: tuple[str, ...] = ("--IPKernelApp.log_level=CRITICAL",)
"""Arguments for the chapter kernel: nothing on the console but critical failures. ipykernel 7 otherwise
warns that a local kernel's sockets are plain TCP on every start (an alarm to a reader rerunning a chapter),
and logs the interrupted cell's traceback when a run is stopped by Ctrl-C or SIGTERM; cell errors are
reported from the executed notebook instead."""


class ParameterError(ValueError):
    """A parameter name, type or value that the chapter does not accept."""


class UnknownParameterName(ParameterError, UnknownNameError):
    """An unknown profile or parameter name: a :class:`ParameterError`, a ``KeyError`` and a ``ValueError``."""


class ChapterBusy(RuntimeError):
    """Another process is running the same chapter under the same profile."""


def cpu_count() -> int:
    """CPUs this process may use (its affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


@dataclass(frozen=True)
class Parameter:
    """One knob of a chapter: its ``quick`` default, type and allowed values.

    ``items``: a :class:`Parameter` every list item must satisfy; ``min_items`` /
    ``max_items`` / ``unique``: the list's length and distinctness; ``number``:
    ``(min, max)`` of a number written as text, allowed besides ``choices`` for a
    string; ``cpus``: at most :func:`cpu_count` (an override above it is refused, a
    profile's value is lowered to it); ``address``: a Dask scheduler address
    (``SCHEME://HOST:PORT``, or ``""`` for a cluster on this machine), checked by
    :func:`lls_core.cluster.check_scheduler`.
    """

    name: str
    default: Any
    help: str = ""
    min: float | None = None
    max: float | None = None
    choices: tuple[Any, ...] | None = None
    items: "Parameter | None" = None
    min_items: int | None = None
    max_items: int | None = None
    unique: bool = False
    number: tuple[float, float] | None = None
    cpus: bool = False
    address: bool = False

    @property
    def type_name(self) -> str:
        return type(self.default).__name__

    @property
    def bounded(self) -> bool:
        """Whether every value this parameter accepts is bounded (numbers, lengths, items, strings)."""
        d = self.default
        if isinstance(d, bool):
            return True
        if isinstance(d, (int, float)):
            return self.choices is not None or (self.min is not None and self.max is not None)
        if isinstance(d, str):
            return self.choices is not None or self.number is not None or self.address
        if isinstance(d, (list, tuple)):
            return self.max_items is not None and self.items is not None and self.items.bounded
        return False

    def describe(self) -> str:
        """What values are allowed, in words (used in error messages and ``lls-book list``)."""
        if isinstance(self.default, (list, tuple)):
            lo, hi = self.min_items or 0, self.max_items
            size = f" of {lo} to {hi} items" if hi is not None else (f" of at least {lo} items" if lo else "")
            each = f", each {self.items.describe()}" if self.items is not None else ""
            return f"a list{size}{' (no repeats)' if self.unique else ''}{each}"
        if self.choices is not None:
            text = "one of " + ", ".join(repr(c) for c in self.choices)
            if self.number is not None:
                text += f", or a number as text in [{self.number[0]:g}, {self.number[1]:g}]"
            return text
        if self.number is not None:
            return f"a number as text in [{self.number[0]:g}, {self.number[1]:g}]"
        if self.address:
            return "a Dask scheduler address SCHEME://HOST:PORT (e.g. 'tcp://10.0.0.5:8786'), or '' for a cluster on this machine"
        rng = ""
        if self.min is not None and self.max is not None:
            rng = f" in [{self.min}, {self.max}]"
        elif self.min is not None:
            rng = f" >= {self.min}"
        elif self.max is not None:
            rng = f" <= {self.max}"
        article = "an" if self.type_name[0] in "aeiou" else "a"
        cpus = f" (and at most the {cpu_count()} CPUs here)" if self.cpus else ""
        return f"{article} {self.type_name}{rng}{cpus}"

    def _fail(self, value: Any, problem: str) -> ParameterError:
        return ParameterError(f"parameter {self.name!r} = {value!r} {problem}; expected {self.describe()}")

    def validate(self, value: Any) -> Any:
        """Return ``value`` (coerced int -> float where the default is a float) or raise :class:`ParameterError`."""
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
            raise self._fail(value, f"has type {type(value).__name__}")
        if isinstance(d, float):
            value = float(value)
        if isinstance(value, str):
            if len(value) > 200 or any(not ch.isprintable() for ch in value):
                raise self._fail(value, "is too long or holds control characters")
            if self.choices is not None and value in self.choices:
                return value
            if self.number is not None:
                try:
                    x = float(value)
                except ValueError:
                    raise self._fail(value, "is not allowed") from None
                if not (math.isfinite(x) and self.number[0] <= x <= self.number[1]):
                    raise self._fail(value, "is out of range")
                return value
            if self.address:
                from .cluster import check_scheduler

                try:
                    check_scheduler(value)
                except ValueError:
                    raise self._fail(value, "is not a scheduler address") from None
                return value
        if isinstance(value, (list, tuple)):
            n = len(value)
            if (self.min_items is not None and n < self.min_items) or (self.max_items is not None and n > self.max_items):
                raise self._fail(list(value), f"has {n} items")
            if self.unique and len({json.dumps(v, sort_keys=True) for v in value}) != n:
                raise self._fail(list(value), "repeats an item")
            item = self.items or (Parameter(f"{self.name}[]", d[0]) if d else None)
            if item is not None:
                return [dataclasses.replace(item, name=f"{self.name}[{i}]").validate(v) for i, v in enumerate(value)]
            return list(value)
        if self.choices is not None and value not in self.choices:
            raise self._fail(value, "is not allowed")
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if value != value:  # NaN
                raise self._fail(value, "is NaN")
            if (self.min is not None and value < self.min) or (self.max is not None and value > self.max):
                raise self._fail(value, "is out of range")
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
    rules: tuple[str, ...] = ()

    def parameter(self, name: str) -> Parameter:
        """The parameter called ``name``; :class:`UnknownParameterName` listing the valid ones otherwise."""
        by_name = {p.name: p for p in self.parameters}
        with checks.context(f"chapter {self.slug!r}"):
            return by_name[checks.name("name", name, by_name, what="parameter", error=UnknownParameterName)]


@dataclass(frozen=True)
class ChapterRun:
    """One executed chapter, what :func:`run_chapter` produced: its notebook, figures and wall time.

    (A network's training run is :class:`lls_core.train.RunResult`; a batch of 2-D optimizer
    runs on test surfaces is :class:`lls_core.optimizers.SurfaceRun`.)
    """

    slug: str
    profile: str
    parameters: Mapping[str, Any]
    notebook: Path
    figure_dir: Path
    wall_seconds: float
    figures: tuple[Path, ...] = field(default_factory=tuple)


# ----------------------------------------------------------------------------- discovery


def project_root() -> Path:
    """The project root: the one writable root, :func:`lls_core.resources.root` (``$LLS_ROOT``, else the checkout, else cwd)."""
    return resources.root()


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
        params.append(_make_parameter(name, default, help_text, checks.get(name, {}) or {}, slug))
    names = {p.name for p in params}
    stray = set(checks) - names
    if stray:
        raise ValueError(f"chapter {slug!r}: checks name unknown parameters {sorted(stray)}")
    return tuple(params)


_CHECK_KEYS = {"min", "max", "choices", "items", "min_items", "max_items", "unique", "number", "cpus", "address"}


def _make_parameter(name: str, default: Any, help_text: str, c: Mapping[str, Any], slug: str) -> Parameter:
    unknown = set(c) - _CHECK_KEYS
    if unknown:
        raise ValueError(f"chapter {slug!r}: checks for {name!r} have unknown keys {sorted(unknown)}")
    item = None
    if "items" in c:
        if not (isinstance(default, list) and default):
            raise ValueError(f"chapter {slug!r}: 'items' checks need a non-empty list default for {name!r}")
        item = _make_parameter(f"{name}[]", default[0], "", c["items"] or {}, slug)
    number = None
    if "number" in c:
        number = (float(c["number"]["min"]), float(c["number"]["max"]))
    return Parameter(
        name, default, help_text, c.get("min"), c.get("max"), tuple(c["choices"]) if "choices" in c else None,
        item, c.get("min_items"), c.get("max_items"), bool(c.get("unique", False)), number, bool(c.get("cpus", False)),
        bool(c.get("address", False)),
    )


# ----------------------------------------------------------------------------- rules between parameters

_RULE_FUNCS: dict[str, Callable[[Any], Any]] = {"len": len, "min": min, "max": max}
_RULE_BINOPS = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b, ast.Mult: lambda a, b: a * b,
                ast.Div: lambda a, b: a / b, ast.FloorDiv: lambda a, b: a // b}
_RULE_CMPS = {ast.Lt: lambda a, b: a < b, ast.LtE: lambda a, b: a <= b, ast.Gt: lambda a, b: a > b,
              ast.GtE: lambda a, b: a >= b, ast.Eq: lambda a, b: a == b, ast.NotEq: lambda a, b: a != b}


def _rule_eval(node: ast.AST, values: Mapping[str, Any]) -> Any:
    """Evaluate a rule's expression tree: names, numbers, arithmetic, comparisons, len/min/max only."""
    if isinstance(node, ast.Expression):
        return _rule_eval(node.body, values)
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        return node.value
    if isinstance(node, ast.Name):
        return values[checks.name("rule", node.id, values, what="name")]
    if isinstance(node, ast.Subscript) and not isinstance(node.slice, ast.Slice):
        seq, idx = _rule_eval(node.value, values), _rule_eval(node.slice, values)
        if not isinstance(seq, list) or not isinstance(idx, int) or not -len(seq) <= idx < len(seq):
            return float("nan")  # compares False: the rule fails and is reported
        return seq[idx]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -_rule_eval(node.operand, values)
    if isinstance(node, ast.BinOp) and type(node.op) in _RULE_BINOPS:
        return _RULE_BINOPS[type(node.op)](_rule_eval(node.left, values), _rule_eval(node.right, values))
    if isinstance(node, ast.BoolOp):
        parts = [_rule_eval(v, values) for v in node.values]
        return all(parts) if isinstance(node.op, ast.And) else any(parts)
    if isinstance(node, ast.Compare) and all(type(op) in _RULE_CMPS for op in node.ops):
        left = _rule_eval(node.left, values)
        for op, right_node in zip(node.ops, node.comparators):
            right = _rule_eval(right_node, values)
            if not _RULE_CMPS[type(op)](left, right):
                return False
            left = right
        return True
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _RULE_FUNCS
            and len(node.args) == 1 and not node.keywords):
        return _RULE_FUNCS[node.func.id](_rule_eval(node.args[0], values))
    raise ValueError(f"unsupported expression {ast.unparse(node)!r}")


def check_rules(chapter: Chapter, values: Mapping[str, Any]) -> None:
    """Refuse values that break one of the chapter's ``rules``, naming the rule and the values in it."""
    for rule in chapter.rules:
        tree = ast.parse(rule, mode="eval")
        if not _rule_eval(tree, values):
            names = sorted({n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and n.id in values})
            shown = ", ".join(f"{n}={values[n]!r}" for n in names)
            raise ParameterError(f"chapter {chapter.slug!r}: {shown} break the rule {rule!r}")


def _read_chapter(path: Path) -> Chapter:
    st = path.stat()
    stamp = (str(path.resolve()), st.st_mtime_ns, st.st_size)
    hit = _CHAPTER_CACHE.get(stamp[0])
    if hit is not None and hit[0] == stamp:
        return hit[1]
    chapter = _read_chapter_uncached(path)
    _CHAPTER_CACHE[stamp[0]] = (stamp, chapter)
    return chapter


_CHAPTER_CACHE: dict[str, tuple[tuple[str, int, int], Chapter]] = {}


def _read_chapter_uncached(path: Path) -> Chapter:
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
    with checks.context(f"chapter {slug!r}"):
        for name in profiles:
            checks.name("profiles", name, PROFILE_NAMES, what="profile")
    unknown_keys = set(meta) - {"profiles", "checks", "figures", "rules"}
    if unknown_keys:
        raise ValueError(f"chapter {slug!r}: unknown keys {sorted(unknown_keys)} in the lls: block")
    rules = tuple(str(r) for r in (meta.get("rules", []) or []))
    names = {p.name: p.default for p in params}
    for rule in rules:
        try:
            _rule_eval(ast.parse(rule, mode="eval"), names)
        except (SyntaxError, ValueError, TypeError) as err:
            raise ValueError(f"chapter {slug!r}: rule {rule!r} is not valid: {err}") from None
    chapter = Chapter(slug, path, title, params, profiles, tuple(meta.get("figures", []) or []), rules)
    check_rules(chapter, resolve_parameters(chapter, "quick"))
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
    """The chapter called ``slug``; an unknown slug raises :class:`~lls_core.checks.UnknownNameError`
    (a ``KeyError`` and a ``ValueError``) listing the valid ones."""
    found = {ch.slug: ch for ch in chapters(root)}
    return found[checks.name("slug", slug, found, what="chapter")]


# ----------------------------------------------------------------------------- parameters


def check_profile(profile: object) -> str:
    """``profile`` if it is one of :data:`PROFILE_NAMES`; :class:`UnknownParameterName` listing them otherwise.

    >>> check_profile("smoke")
    'smoke'
    """
    return checks.name("profile", profile, PROFILE_NAMES, error=UnknownParameterName)


MAX_VALUE_TEXT = 2000
"""Longest command-line value accepted (characters)."""
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_WORDS = {"true": True, "True": True, "false": False, "False": False, "null": None, "None": None}


class _ValueParser:
    """Recursive-descent parser of the value grammar of :func:`parse_value`."""

    def __init__(self, text: str) -> None:
        self.text, self.i, self.items = text, 0, 0

    def fail(self, why: str) -> ParameterError:
        return ParameterError(f"cannot parse the value {self.text!r}: {why} (at character {self.i + 1}); "
                              "expected a number, true/false, null, a word, a quoted string or a [list]")

    def ws(self) -> None:
        while self.i < len(self.text) and self.text[self.i] in " \t":
            self.i += 1

    def value(self, depth: int, top: bool) -> Any:
        self.ws()
        if self.i >= len(self.text):
            raise self.fail("a value is missing")
        ch = self.text[self.i]
        if ch == "[":
            if depth >= 2:
                raise self.fail("lists nest at most two deep")
            self.i += 1
            out: list[Any] = []
            self.ws()
            if self.text[self.i : self.i + 1] == "]":
                self.i += 1
                return out
            while True:
                out.append(self.value(depth + 1, False))
                self.items += 1
                if self.items > 500:
                    raise self.fail("more than 500 list items")
                self.ws()
                nxt = self.text[self.i : self.i + 1]
                self.i += 1
                if nxt == "]":
                    return out
                if nxt != ",":
                    self.i -= 1
                    raise self.fail("expected ',' or ']'")
        if ch in "\"'":
            quote, self.i, buf = ch, self.i + 1, []
            while self.i < len(self.text):
                c = self.text[self.i]
                if c == "\\" and self.i + 1 < len(self.text):
                    buf.append(self.text[self.i + 1])
                    self.i += 2
                    continue
                if c == quote:
                    self.i += 1
                    return "".join(buf)
                buf.append(c)
                self.i += 1
            raise self.fail("the quoted string is not closed")
        start = self.i
        stop = "" if top else ",]"
        while self.i < len(self.text) and self.text[self.i] not in stop and self.text[self.i] not in "[\"'":
            self.i += 1
        token = self.text[start : self.i].strip()
        if not token:
            raise self.fail("a value is missing")
        if _NUMBER.fullmatch(token):
            number: int | float = int(token) if re.fullmatch(r"[+-]?\d+", token) else float(token)
            return number
        if token in _WORDS:
            return _WORDS[token]
        return token


def parse_value(text: str) -> Any:
    """Parse a command-line value with a small, strict grammar (no YAML surprises).

    * numbers: ``3``, ``-2``, ``0100`` (decimal 100, never octal), ``1e-3``, ``-1e3``, ``.5``;
    * ``true`` / ``false`` / ``null`` (also ``True`` / ``False`` / ``None``);
    * a quoted string is always a string: ``"1e-3"`` stays text;
    * lists ``[1, 2.5, fcp]``, nested at most two deep, 500 items at most;
    * anything else is the word itself (``adam``, ``1:30``, ``0x3D`` stay text).

    Raises :class:`ParameterError` for unbalanced brackets or quotes and for text
    longer than :data:`MAX_VALUE_TEXT` characters.

    >>> parse_value("[1, 2]"), parse_value('"1e-3"'), parse_value("010"), parse_value("1:30")
    ([1, 2], '1e-3', 10, '1:30')
    """
    if not isinstance(text, str):
        raise ParameterError(f"cannot parse the value {text!r}: not text")
    if len(text) > MAX_VALUE_TEXT:
        raise ParameterError(f"the value {text[:40]!r}... has {len(text)} characters; at most {MAX_VALUE_TEXT} are accepted")
    if any(not ch.isprintable() for ch in text):
        raise ParameterError(f"the value {text!r} holds control characters")
    p = _ValueParser(text.strip())
    value = p.value(0, top=not text.strip().startswith(("[", '"', "'")))
    p.ws()
    if p.i != len(p.text):
        raise p.fail("unexpected text after the value")
    return value


def parse_override(chapter: Chapter, name: str, text: str) -> Any:
    """Parse ``-p NAME VALUE`` for ``chapter``: like :func:`parse_value`, except that an
    unquoted value of a *string* parameter is taken as written (``-p kpca_gamma 1e-3``
    gives the text ``"1e-3"``, as does ``-p kpca_gamma '"1e-3"'``)."""
    p = chapter.parameter(name)
    if isinstance(p.default, str) and not text.strip().startswith(("[", '"', "'")):
        if len(text) > MAX_VALUE_TEXT:
            raise ParameterError(f"the value {text[:40]!r}... has {len(text)} characters; at most {MAX_VALUE_TEXT} are accepted")
        return text.strip()
    return parse_value(text)


def resolve_parameters(chapter: Chapter, profile: str = "quick", overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Defaults, then the profile's values, then ``overrides``; every value and rule validated.

    Raises :class:`ParameterError` naming an unknown profile or parameter, a wrong
    type, an out-of-range value or a broken rule, and what would be valid. A
    ``cpus`` parameter (workers) given above :func:`cpu_count` is refused when it is
    an override and lowered to it when it comes from the defaults or the profile.
    """
    check_profile(profile)
    values = {p.name: p.default for p in chapter.parameters}
    given = set(overrides or {})
    for source in (chapter.profiles.get(profile, {}), overrides or {}):
        for name, value in source.items():
            values[name] = chapter.parameter(name).validate(value)
    for p in chapter.parameters:
        if p.cpus and isinstance(values[p.name], int) and values[p.name] > cpu_count():
            if p.name in given:
                raise ParameterError(f"parameter {p.name!r} = {values[p.name]!r} is more than the {cpu_count()} CPUs "
                                     f"this machine lets this process use; expected {p.describe()}")
            values[p.name] = max(1, cpu_count())
    check_rules(chapter, values)
    return values


_IPYTHON_NAMES = {"In", "Out", "get_ipython", "exit", "quit", "open"}


def check_parameters(slug: str, namespace: Mapping[str, Any], root: Path | None = None) -> dict[str, Any]:
    """Validate a chapter's parameters *inside* its kernel (the cell after the parameters cell).

    ``namespace``: the notebook's ``globals()``. Every declared parameter is checked
    as :func:`resolve_parameters` checks it (types, bounds, list items, rules; a
    ``cpus`` parameter above :func:`cpu_count` is lowered to it with a warning);
    any other public global (papermill injects unknown names too) is refused as an
    unknown parameter. Runs under ``lls-book``, papermill and Jupyter alike.
    Returns the checked values (and writes coerced ones back into ``namespace``). Inside a
    kernel it also glues every checked parameter under its own name and the run's profile as
    ``profile`` (:func:`lls_core.glue.glue_all`), so the prose can quote them and chapters never glue them.
    """
    chapter = get_chapter(slug, root)
    declared = {p.name for p in chapter.parameters}
    hidden = set(_IPYTHON_NAMES)
    try:
        from IPython import get_ipython

        ip = get_ipython()
        if ip is not None:
            hidden |= set(ip.user_ns_hidden)
    except ImportError:  # pragma: no cover - IPython is a book dependency
        pass
    stray = sorted(k for k, v in namespace.items() if not k.startswith("_") and k not in declared and k not in hidden
                   and not isinstance(v, types.ModuleType))
    if stray:
        chapter.parameter(stray[0])  # raises: names the first unknown one and the valid ones
    missing = sorted(declared - set(namespace))
    if missing:
        raise ParameterError(f"chapter {slug!r}: parameters {missing} are not set; run the parameters cell first")
    values: dict[str, Any] = {}
    for p in chapter.parameters:
        values[p.name] = p.validate(namespace[p.name])
        if p.cpus and values[p.name] > cpu_count():  # the default may exceed a small machine: lower it, say so
            import warnings

            warnings.warn(f"parameter {p.name!r} = {values[p.name]!r} is more than the {cpu_count()} CPUs here; "
                          f"using {cpu_count()}", stacklevel=2)
            values[p.name] = cpu_count()
    check_rules(chapter, values)
    if isinstance(namespace, dict):
        namespace.update(values)
    _glue_parameters(values)
    return values


def _glue_parameters(values: Mapping[str, Any]) -> None:
    """Inside a kernel, glue every checked parameter under its own name and the run's
    profile as ``profile`` (set by ``lls-book run --profile``), so chapters never glue them."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is a book dependency
        return
    ip = get_ipython()
    if ip is None or getattr(ip, "kernel", None) is None:  # a plain interpreter or a test: nothing to glue into
        return
    from .glue import glue_all

    glue_all({**values, "profile": os.environ.get("LLS_PROFILE", "custom (run outside lls-book)")})


# ----------------------------------------------------------------------------- execution


def _atomic_write_text(path: Path, text: str) -> None:
    atomic_write(path, text)


def read_runs(build_dir: Path) -> dict[str, Any]:
    """``runs.json``; a damaged one is set aside (with a warning) and rebuilt from the per-run records."""
    log = build_dir / "runs.json"
    if log.exists():
        try:
            logged = json.loads(log.read_text())
            if not (isinstance(logged, dict) and all(isinstance(v, dict) for v in logged.values())):
                raise ValueError("not a mapping of profiles to chapters")
            return logged
        except (ValueError, UnicodeDecodeError) as err:
            quarantine(log, f"unreadable run log: {type(err).__name__}: {err}", build_dir / "quarantine")
    runs: dict[str, Any] = {}
    for rec in sorted((build_dir / "runs").glob("*/*.json")):
        if rec.name.startswith("."):  # another writer's temporary file (pathlib's glob matches dot files)
            continue
        try:
            runs.setdefault(rec.parent.name, {})[rec.stem] = json.loads(rec.read_text())
        except (ValueError, UnicodeDecodeError):
            quarantine(rec, "unreadable run record", build_dir / "quarantine")
    return runs


def _record_run(build_dir: Path, result: ChapterRun, overrides: Mapping[str, Any] | None = None) -> None:
    """Add the run to ``<build_dir>/runs.json`` (one record per file too; a lock plus an atomic replace)."""
    record = {
        "wall_seconds": round(result.wall_seconds, 2),
        "parameters": result.parameters,
        "overrides": dict(overrides or {}),
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    text = json.dumps(record, indent=1, sort_keys=True, default=str)
    atomic_write(build_dir / "runs" / result.profile / f"{result.slug}.json", text)
    with FileLock(build_dir / ".locks" / "runs.json.lock", what="the run log"):
        runs = read_runs(build_dir)
        runs.setdefault(result.profile, {})[result.slug] = json.loads(text)
        atomic_write(build_dir / "runs.json", json.dumps(runs, indent=1, sort_keys=True, default=str))


def _build_folder(build_dir: Path | str | None, root: Path) -> Path:
    """The build folder (not created); refused when it or a parent is a file."""
    path = (Path(build_dir) if build_dir is not None else root / "_build").resolve()
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        raise ParameterError(f"build folder {str(path)!r} cannot be used: {str(probe)!r} is not a folder")
    return path


def _preflight(chapter: Chapter, profile: str, params: Mapping[str, Any]) -> None:
    """Refuse a run that cannot fit this machine, before any work.

    Hook for :mod:`lls_core.plan`: when it provides ``check_chapter(slug, profile,
    params)``, that function estimates memory and time and raises ``ValueError``
    (with the estimate in the message) for a run that cannot fit.
    """
    try:
        from . import plan
    except ImportError:
        return
    check = getattr(plan, "check_chapter", None)
    if check is None:
        return
    try:
        check(chapter.slug, profile, dict(params))
    except ParameterError:
        raise
    except ValueError as err:
        raise ParameterError(str(err)) from None


@contextlib.contextmanager
def _signals_as_interrupts() -> Iterator[None]:
    """Turn SIGTERM (and SIGHUP) into ``KeyboardInterrupt`` while a chapter runs, so clean-up code runs."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(f"stopped by signal {signal.Signals(signum).name}")

    old = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, h in old.items():
            signal.signal(sig, h)


def _clean_leftovers(build_dir: Path, out_dir: Path, slug: str, profile: str) -> None:
    """Remove what killed runs of this chapter left (called while holding its lock)."""
    legacy = out_dir / f".{slug}.running.ipynb"
    if legacy.exists():
        legacy.unlink()
    if build_dir.is_dir():
        for d in build_dir.glob(f".run-{profile}-{slug}-*"):
            shutil.rmtree(d, ignore_errors=True)
        clean_temp(build_dir)
    from .store import default_root

    clean_temp(default_root())


def run_chapter(
    slug: str,
    profile: str = "quick",
    overrides: Mapping[str, Any] | None = None,
    build_dir: Path | str | None = None,
    root: Path | None = None,
    progress: bool = False,
    wait: bool = False,
) -> ChapterRun:
    """Execute one chapter with papermill and write it to ``<build_dir>/executed/<profile>/<slug>.ipynb``.

    Parameters (and the build folder) are validated first; nothing is written for a
    bad value. A lock per chapter and profile (``<build_dir>/.locks``, released by
    the OS if this process dies) makes a second run of the same chapter and profile
    raise :class:`ChapterBusy` (``wait=True``: wait for it instead). Leftovers of
    killed runs are removed. The chapter runs in a private folder
    ``<build_dir>/.run-<profile>-<slug>-<pid>-*`` (figures: ``$LLS_FIGURE_DIR``
    inside the kernel); only when it succeeds and wrote every promised figure are
    the notebook and ``<build_dir>/figures/<profile>/<slug>/`` swapped in, so a
    failed or killed run leaves the previous results whole. A failing cell raises
    papermill's ``PapermillExecutionError`` with the partial notebook kept as
    ``<slug>.failed.ipynb``; a missing figure raises ``RuntimeError``. SIGTERM is
    handled like Ctrl-C: the private folder is removed.
    """
    root = root or project_root()
    chapter = get_chapter(slug, root)
    params = resolve_parameters(chapter, profile, overrides)
    _preflight(chapter, profile, params)
    build_dir = _build_folder(build_dir, root)
    lock = FileLock(build_dir / ".locks" / f"{profile}.{slug}.lock", wait=wait, what=f"chapter {slug!r} (profile {profile})")
    try:
        lock.acquire()
    except LockBusy as err:
        raise ChapterBusy(f"{err}; wait for it to finish (or pass --wait)") from None
    try:
        with _signals_as_interrupts():
            return _run_locked(chapter, profile, params, dict(overrides or {}), build_dir, root, progress)
    finally:
        lock.release()


def _run_locked(chapter: Chapter, profile: str, params: dict[str, Any], overrides: dict[str, Any],
                build_dir: Path, root: Path, progress: bool) -> ChapterRun:
    import jupytext
    import papermill

    slug = chapter.slug
    out_dir = build_dir / "executed" / profile
    fig_dir = build_dir / "figures" / profile / slug
    target = out_dir / f"{slug}.ipynb"
    failed = out_dir / f"{slug}.failed.ipynb"
    _clean_leftovers(build_dir, out_dir, slug, profile)
    work = build_dir / f".run-{profile}-{slug}-{os.getpid()}-{secrets.token_hex(3)}"
    (work / "figures").mkdir(parents=True)
    tmp = work / f"{slug}.ipynb"

    nb = jupytext.read(chapter.path)
    nb.metadata["kernelspec"] = {"name": KERNEL, "display_name": "Python 3", "language": "python"}
    from .progress import ENV as PROGRESS_ENV
    from .progress import ConsoleRelay

    from .runtime import allocator_env

    allocator = allocator_env()  # for the kernel and its Dask workers
    env_backup = {k: os.environ.get(k) for k in ("LLS_FIGURE_DIR", "LLS_PROFILE", "LLS_BUILD_DIR", "LLS_ROOT", "MPLBACKEND",
                                                 PROGRESS_ENV, *allocator)}
    os.environ.update(
        **allocator,
        LLS_FIGURE_DIR=str(work / "figures"),
        LLS_PROFILE=profile,
        LLS_BUILD_DIR=str(build_dir),
        LLS_ROOT=str(root),
        MPLBACKEND="module://matplotlib_inline.backend_inline",  # figures into the notebook (agg shows none)
    )
    # the kernel's own progress bars (runs, paths, sweeps: lls_core.progress) write to this
    # file, and the relay shows their newest line under papermill's cell bar on the console
    os.environ.pop(PROGRESS_ENV, None)
    if progress:
        os.environ[PROGRESS_ENV] = str(work / "progress.txt")
    try:
        start = time.perf_counter()
        try:
            with ConsoleRelay(work / "progress.txt", enabled=progress):
                papermill.execute_notebook(
                    nb,
                    str(tmp),
                    parameters=params,
                    kernel_name=KERNEL,
                    cwd=str(root),
                    progress_bar=progress,
                    log_output=False,
                    extra_arguments=list(KERNEL_ARGS),
                )
        except BaseException:
            if tmp.exists():
                out_dir.mkdir(parents=True, exist_ok=True)
                os.replace(tmp, failed)
            raise
        finally:
            for k, v in env_backup.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        wall = time.perf_counter() - start
        missing = [f for f in chapter.figures if not (work / "figures" / f"{f}.png").exists()]
        if missing:
            out_dir.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, failed)
            raise RuntimeError(f"chapter {slug!r} did not write its promised figures {missing}; "
                               f"the previous results are kept; partial notebook: {failed}")
        # success: swap the new figures and notebook in (the old ones go with the private folder)
        out_dir.mkdir(parents=True, exist_ok=True)
        fig_dir.parent.mkdir(parents=True, exist_ok=True)
        if fig_dir.exists():
            os.replace(fig_dir, work / "previous-figures")
        os.replace(work / "figures", fig_dir)
        os.replace(tmp, target)
        if failed.exists():
            failed.unlink()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result = ChapterRun(slug, profile, params, target, fig_dir, wall, tuple(fig_dir / f"{f}.png" for f in chapter.figures))
    _record_run(build_dir, result, overrides)
    return result


# ----------------------------------------------------------------------------- presentation


def _call_name(node: ast.AST) -> str | None:
    func = node.func if isinstance(node, ast.Call) else None
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def _glue_only(source: str) -> bool:
    """True for a plumbing cell: every statement is a ``glue(...)`` / ``glue_all(...)`` call (numbers for the prose),
    or the chapter's self-check (``check_parameters(...)`` and the import it needs)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return False

    def plumbing(st: ast.stmt) -> bool:
        if isinstance(st, ast.Expr) and _call_name(st.value) in ("glue", "glue_all", "check_parameters"):
            return True
        if isinstance(st, ast.Assign) and _call_name(st.value) == "check_parameters":
            return True
        return isinstance(st, (ast.Import, ast.ImportFrom)) and all(
            (a.name == "lls_core.book" or (getattr(st, "module", None) == "lls_core" and a.name == "book")) for a in st.names
        )

    return bool(tree.body) and all(plumbing(st) for st in tree.body) and any(not isinstance(st, (ast.Import, ast.ImportFrom)) for st in tree.body)


def _value_md(value: Any) -> str:
    text = repr(value).replace("|", "\\|")
    return f"`{text}`"


def parameters_block(chapter: Chapter, profile: str, used: Mapping[str, Any]) -> str:
    """The MyST block a chapter opens with: the profile and the effective parameter values.

    ``used`` are the values the kernel received (papermill's record). A value is marked
    *profile* where the profile sets it and *override* where neither the defaults nor the
    profile give it (a ``-p`` on the command line).
    """
    prof = chapter.profiles.get(profile, {}) if profile in PROFILE_NAMES else {}
    rows = []
    for p in chapter.parameters:
        value = used.get(p.name, p.default)
        if p.name in prof and value == prof[p.name]:
            origin = f"{profile} profile"
        elif value == p.default:
            origin = "default"
        else:
            origin = "override (-p)"
        rows.append(f"| `{p.name}` | {_value_md(value)} | {origin} | {p.help.replace('|', '/')} |")
    table = "\n".join(["| parameter | value | set by | meaning |", "|---|---|---|---|", *rows])
    rerun = f"lls-book run {chapter.slug} --profile {profile}"
    return (
        f":::{{admonition}} This page was computed under the `{profile}` profile\n"
        f":class: note lls-params{' dropdown' if len(rows) > 8 else ''}\n\n"
        f"{table}\n\n"
        f"Rerun it with `{rerun} -p NAME VALUE`; {{doc}}`the reproducibility appendix <reproducibility>` lists every chapter's parameters.\n"
        ":::\n"
    )


def present_notebook(executed: Path, target: Path, chapter: Chapter, profile: str) -> Path:
    """Copy an executed chapter into the book sources with its plumbing out of sight.

    - papermill's injected-parameters cell and the chapter's own parameters cell get
      ``remove-cell`` (their values appear in the table below instead);
    - code cells that only ``glue`` numbers for the prose, and the chapter's parameter
      self-check cell (``check_parameters``), get ``remove-cell`` (glued values stay
      available to the prose);
    - a block naming the profile and listing the effective parameters is inserted right
      after the chapter's title cell.

    The executed notebook itself is left untouched; ``target`` is written atomically.
    """
    import nbformat

    nb = nbformat.read(str(executed), as_version=4)
    used = dict((nb.metadata.get("papermill", {}) or {}).get("parameters", {}) or {})
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        tags = list(cell.metadata.get("tags", []))
        hide = "injected-parameters" in tags or "parameters" in tags or _glue_only(cell.source)
        if hide and "remove-cell" not in tags:
            cell.metadata["tags"] = tags + ["remove-cell"]
    title_at = next(
        (i for i, c in enumerate(nb.cells) if c.cell_type == "markdown" and any(line.startswith("# ") for line in c.source.splitlines())),
        None,
    )
    if title_at is not None and chapter.parameters:
        block = nbformat.v4.new_markdown_cell(parameters_block(chapter, profile, used))
        block.metadata["tags"] = ["lls-parameters"]
        nb.cells.insert(title_at + 1, block)
    _atomic_write_text(target, nbformat.writes(nb))
    return target


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
            present_notebook(nb, src / "notebooks" / nb.name, _read_chapter(root / f"{entry}.md"), profile)
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
        # Sphinx's warnings (errors under -W) first: they are what a user must fix, and the tail of
        # the log is mostly progress lines.
        found = [ln.strip() for ln in (proc.stderr + "\n" + proc.stdout).splitlines()
                 if "WARNING:" in ln or "ERROR:" in ln or "CRITICAL:" in ln]
        detail = "\n".join(found[:40]) if found else f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        raise RuntimeError(f"jupyter-book build failed (exit {proc.returncode}):\n{detail}")
    html = build_dir / "html"
    if html.exists():
        shutil.rmtree(html)
    shutil.copytree(build_dir / "jb" / "_build" / "html", html)
    return html


def build_book(profile: str = "quick", build_dir: Path | str | None = None, root: Path | None = None, only: list[str] | None = None) -> Path:
    """Execute every chapter under ``profile`` (the reproducibility appendix last) and build the HTML book."""
    from tqdm.auto import tqdm

    root = root or project_root()
    build_dir = _build_folder(build_dir, root)
    todo = [c.slug for c in chapters(root)]
    if only:
        for s in only:
            checks.name("only", s, todo, what="chapter")
        todo = [s for s in todo if s in only]
    # the appendix reports the others' wall times, so it runs last
    todo.sort(key=lambda s: s == "reproducibility")
    bar = tqdm(todo, desc=f"chapters ({profile})", unit="chapter")
    for slug in bar:
        bar.set_postfix_str(slug)
        run_chapter(slug, profile, build_dir=build_dir, root=root, progress=True)  # cells, and runs/paths with the time left
    return build_html(profile, build_dir, root)


LATEX_PACKAGES = "texlive-latex-recommended texlive-latex-extra texlive-fonts-recommended texlive-xetex latexmk fonts-freefont-otf tex-gyre"
"""The Debian packages the PDF build needs (``sudo apt-get install ...``)."""


def pdf_tools_missing() -> str | None:
    """None when ``latexmk`` and ``xelatex`` are installed, else a message saying how to get them."""
    missing = [tool for tool in ("latexmk", "xelatex") if shutil.which(tool) is None]
    if not missing:
        return None
    return f"the PDF build needs {', '.join(missing)}; on Debian/Ubuntu: sudo apt-get install {LATEX_PACKAGES}"


def build_pdf(profile: str = "quick", build_dir: Path | str | None = None, root: Path | None = None) -> Path:
    """The whole book as one PDF (xelatex via Jupyter Book's ``pdflatex`` builder) from the executed chapters.

    Needs ``latexmk`` and ``xelatex`` (Debian: ``apt-get install`` :data:`LATEX_PACKAGES`);
    without them it raises ``RuntimeError`` saying so before any work. Returns
    ``<build_dir>/lls-book.pdf``. Interactive outputs (the 3-D surface) appear as text.
    """
    root = root or project_root()
    build_dir = (Path(build_dir) if build_dir is not None else root / "_build").resolve()
    problem = pdf_tools_missing()
    if problem:
        raise RuntimeError(problem)
    src = stage_book(profile, build_dir, root)
    out = build_dir / "pdf"
    if out.exists():
        shutil.rmtree(out)
    jb = Path(sys.executable).with_name("jupyter-book")
    cmd = [str(jb) if jb.exists() else "jupyter-book", "build", str(src), "--builder", "pdflatex", "--path-output", str(out)]
    proc = subprocess.run(cmd, cwd=root, capture_output=True, text=True)
    pdfs = sorted((out / "_build" / "latex").glob("*.pdf"))
    if proc.returncode != 0 or not pdfs:
        raise RuntimeError(f"the PDF build failed (exit {proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    target = build_dir / "lls-book.pdf"
    shutil.copy2(pdfs[0], target)
    return target
