"""The runnable examples in the docstrings: every module's doctests pass, and the entry points have one."""

from __future__ import annotations

import doctest
import importlib

import pytest

# Modules whose examples run as written (lls_core.symmetry's examples name shapes of real weight sets, not data).
MODULES = ["checks", "comparison", "engine", "glue", "io", "lbfgs_gss", "models", "optimizers", "pathfinder", "resources", "study",
           "survey", "tables", "topography", "train", "visualize"]
# The entry points named in CONTRIBUTING.md: each carries a short example.
ENTRY_POINTS = ["optimizers.run", "pathfinder.find_path", "lbfgs_gss.LBFGSGSS", "study.weight_sets",
                "topography.claims", "engine.Engine"]


@pytest.mark.parametrize("name", MODULES)
def test_module_doctests(name):
    module = importlib.import_module(f"lls_core.{name}")
    finder, runner = doctest.DocTestFinder(), doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    tests = [t for t in finder.find(module) if t.examples]
    for t in tests:
        runner.run(t)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples of lls_core.{name} failed (output above)"


@pytest.mark.parametrize("path", ENTRY_POINTS)
def test_entry_points_have_an_example(path):
    module, attr = path.split(".")
    obj = getattr(importlib.import_module(f"lls_core.{module}"), attr)
    assert ">>>" in (obj.__doc__ or ""), f"lls_core.{path} has no runnable example in its docstring"


def test_every_module_is_on_the_api_page():
    """A module missing from book/api.md breaks the nitpicky book build as soon as another docstring links to it."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    page = (root / "book" / "api.md").read_text()
    modules = sorted(p.stem for p in (root / "lls_core").glob("*.py") if p.stem not in {"__init__", "cli"})
    missing = [m for m in modules if f".. automodule:: lls_core.{m}\n" not in page]
    assert not missing, f"modules without a section in book/api.md: {', '.join(missing)}"
