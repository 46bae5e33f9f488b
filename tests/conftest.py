"""Shared test fixtures and session hooks.

* ``make_mlp`` / ``make_data``: the tiny classifiers and data several modules test on (Hessians, paths,
  landscapes, optimizers), built from seeded generators, never from torch's global random state.
* ``trained_set``: k trained solutions of a tiny classifier (landscape and topography tests), trained once.
* ``mnist_tiny``: the embedded MNIST set cut to 100 training and 50 test images (seed 0), loaded once;
  ``mnist_5k``: the whole embedded set (4,000 training and 1,000 test images), loaded once.
* ``make_closure``: the optimizer closure every L-BFGS test writes (gradients only when enabled, counted).
* ``demo_book``: a throw-away book project (one chapter ``demo``, its ``_toc.yml``, ``LLS_ROOT`` and
  ``LLS_ARTIFACTS`` pointing into ``tmp_path``) for the chapter-runner tests.
* ``dask_cluster`` / ``dask_client``: one in-process Dask cluster for the whole session, instead of each test
  starting its own (the real multi-process cluster of ``test_cluster.py`` stays separate: it tests processes).
* A loud last line when the browser tests could not run.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Callable, Literal

import pytest
import torch
from torch import nn

_ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "tanh": torch.tanh,
    "softplus": nn.functional.softplus,
}


class TinyMLP(nn.Module):
    """``sizes[0] -> sizes[1] -> ... -> sizes[-1]`` classifier, ``activation`` between layers.

    Inputs of any shape ``(N, ...)`` are flattened to ``(N, sizes[0])``. Parameters are drawn like
    ``nn.Linear``'s default (uniform in +-1/sqrt(fan_in)) but from ``torch.Generator().manual_seed(seed)``.
    """

    task = "classify"

    def __init__(self, sizes: tuple[int, ...] = (6, 5, 3), activation: Literal["tanh", "softplus"] = "softplus",
                 seed: int = 0, dtype: torch.dtype = torch.float32) -> None:
        super().__init__()
        if activation not in _ACTIVATIONS:
            raise ValueError(f"activation={activation!r}; expected one of {sorted(_ACTIVATIONS)}")
        self.layers = nn.ModuleList(nn.Linear(a, b, dtype=dtype) for a, b in zip(sizes[:-1], sizes[1:]))
        self.act = _ACTIVATIONS[activation]
        g = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for layer in self.layers:
                bound = 1.0 / math.sqrt(layer.in_features)
                layer.weight.uniform_(-bound, bound, generator=g)
                layer.bias.uniform_(-bound, bound, generator=g)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.reshape(x.shape[0], -1)
        for layer in self.layers[:-1]:
            x = self.act(layer(x))
        return self.layers[-1](x)


def _make_data(n: int = 40, features: int = 6, classes: int = 3, seed: int = 0,
               dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    """Standard-normal inputs ``(n, features)`` and uniform labels ``(n,)`` in ``0..classes-1``."""
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, features, generator=g, dtype=dtype), torch.randint(0, classes, (n,), generator=g)


@pytest.fixture(scope="session")
def make_mlp() -> type[TinyMLP]:
    """The tiny classifier class: ``make_mlp((6, 5, 3), "tanh", seed=0, dtype=torch.float64)``."""
    return TinyMLP


@pytest.fixture(scope="session")
def make_data() -> Callable[..., tuple[torch.Tensor, torch.Tensor]]:
    """Seeded classification data: ``make_data(n=40, features=6, classes=3, seed=0)`` -> ``(x, y)``."""
    return _make_data


@pytest.fixture(scope="session")
def trained_set():
    """``trained_set(k=4, steps=150)`` -> ``(model, x, y, W)``: ``W`` ``(k, 43)`` holds k solutions of a 4-5-3
    softplus classifier from seeds 0..k-1 (a short full-batch Adam run each) on 60 points with 3 classes set by
    the first two coordinates; trained once per ``(k, steps)`` in the session (each call gets a copy)."""
    from lls_core import params

    cache: dict[tuple[int, int], torch.Tensor] = {}
    g = torch.Generator().manual_seed(0)
    x = torch.randn(60, 4, generator=g)
    y = (x[:, 0] > 0).long() + (x[:, 1] > 0.5).long()

    def build(k: int = 4, steps: int = 150):
        if (k, steps) not in cache:
            out = []
            for s in range(k):
                m = TinyMLP((4, 5, 3), "softplus", seed=s)
                opt = torch.optim.Adam(m.parameters(), lr=0.05)
                for _ in range(steps):
                    opt.zero_grad()
                    nn.functional.cross_entropy(m(x), y).backward()
                    opt.step()
                out.append(params.flatten(m).detach())
            cache[(k, steps)] = torch.stack(out)
        return TinyMLP((4, 5, 3), "softplus", seed=0), x.clone(), y.clone(), cache[(k, steps)].clone()

    return build


@pytest.fixture(scope="session")
def mnist_tiny():
    """``data.load("mnist-5k", n_train=100, n_test=50, seed=0)``, loaded once per session (read-only)."""
    from lls_core import data

    return data.load("mnist-5k", n_train=100, n_test=50, seed=0)


@pytest.fixture(scope="session")
def mnist_5k():
    """``data.load("mnist-5k")``: the whole embedded set (4,000 training, 1,000 test images), loaded once (read-only)."""
    from lls_core import data

    return data.load("mnist-5k")


def _closure(opt: torch.optim.Optimizer, loss_fn: Callable[[], torch.Tensor],
             counter: dict[str, int] | None = None) -> Callable[[], torch.Tensor]:
    """The closure of ``opt.step``: zero the gradients, ``loss = loss_fn()``, and back-propagate only when
    gradients are enabled (line-search trials of L-BFGS-GSS run under ``no_grad``); ``counter["backward"]`` and
    ``counter["forward"]`` count the two kinds of call."""

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = loss_fn()
        kind = "backward" if torch.is_grad_enabled() else "forward"
        if kind == "backward":
            loss.backward()
        if counter is not None:
            counter[kind] = counter.get(kind, 0) + 1
        return loss

    return closure


@pytest.fixture(scope="session")
def make_closure() -> Callable[..., Callable[[], torch.Tensor]]:
    """``make_closure(opt, lambda: loss, counter=None)`` -> the closure for ``opt.step``."""
    return _closure


@pytest.fixture
def demo_book(tmp_path, monkeypatch) -> Callable[[str], Path]:
    """``demo_book(markdown)`` -> the root of a book project in ``tmp_path`` whose one chapter, ``demo``, is
    ``markdown``; ``LLS_ROOT`` points at it and ``LLS_ARTIFACTS`` at ``tmp_path / "artifacts"`` (undone after
    the test)."""

    def build(markdown: str) -> Path:
        root = tmp_path / "proj"
        (root / "notebooks").mkdir(parents=True, exist_ok=True)
        (root / "notebooks" / "demo.md").write_text(markdown)
        (root / "_toc.yml").write_text("format: jb-book\nroot: intro\nchapters:\n  - file: notebooks/demo\n")
        monkeypatch.setenv("LLS_ROOT", str(root))
        monkeypatch.setenv("LLS_ARTIFACTS", str(tmp_path / "artifacts"))
        return root

    return build


@pytest.fixture(scope="session")
def dask_cluster():
    """One in-process Dask cluster (2 workers, 1 thread each, dashboard on a free port) for the whole session."""
    from distributed import LocalCluster

    threads = torch.get_num_threads()
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0") as cluster:
        yield cluster
    torch.set_num_threads(threads)


@pytest.fixture
def dask_client(dask_cluster):
    """A client of the session cluster; torch's (process-wide) thread count is restored afterwards, since
    in-process workers set it."""
    from distributed import Client

    threads = torch.get_num_threads()
    try:
        with Client(dask_cluster) as client:
            yield client
    finally:
        torch.set_num_threads(threads)


# The slow lane: tests that took 5 s or more in a full `pytest -m "not book"` run on the 2-core development
# machine (under load). `module::function` (every parametrization). Re-measure with `--durations=40`.
SLOW = {
    "test_authors.py::test_stored_landscape_rows_recompute",
    "test_authors.py::test_stored_derived_numbers_recompute_exactly",
    "test_cluster.py::test_study_on_real_dask_processes_equals_serial",
    "test_cluster.py::test_barriers_on_real_dask_processes_equal_serial",
    "test_cluster.py::test_store_not_visible_to_the_caller_is_named",
    "test_errors.py::test_embedded_digits_are_pinned",
    "test_fuzz.py::test_every_bad_value_is_refused_fast_with_one_line",
    "test_fuzz.py::test_the_installed_command_refuses_without_a_traceback",
    "test_hessian.py::test_slq_density_integrates_to_one_and_matches_moments",
    "test_lbfgs_authors.py::test_authors_mode_follows_the_transcription_for_20_steps",
    "test_lbfgs_authors.py::test_safe_mode_differs_from_the_authors",
    "test_lbfgs_gss.py::test_matches_scipy_lbfgsb_on_registry_surfaces",
    "test_lbfgs_gss.py::test_matches_scipy_lbfgsb_on_smooth_surfaces",
    "test_optimizers.py::test_svrg_and_sarah_reduce_minibatch_noise",
    "test_packaging.py::test_built_wheel_works_outside_the_checkout",
    "test_path_calibration.py::test_recompute_archived_calibration_pair",
    "test_packaging.py::test_science_modules_import_no_book_tooling",
    "test_presentation.py::test_bibliography_is_sorted_by_label",
    "test_presentation.py::test_bibliography_labels_are_author_year",
    "test_results.py::test_recompute_archived_full_run_prefix",
    "test_runner.py::test_failed_run_keeps_the_previous_results",
    "test_runner.py::test_second_run_refuses_and_sigterm_leaves_nothing_behind",
    "test_runner.py::test_papermill_directly_gets_the_same_checks",
    "test_runner.py::test_leftovers_of_killed_runs_are_cleaned",
    "test_store.py::test_killed_study_resumes_without_loss_or_repeat",
    "test_store.py::test_per_run_lock_blocks_a_second_trainer",
    "test_surfaces.py::test_search_finds_exactly_the_listed_critical_points",
    "test_survey_table4.py::*",
    "test_symmetry.py::test_align_sets_keeps_rows_and_shrinks_spread",
    "test_symmetry.py::test_claims_before_after_lines_up_both_tables",
    "test_train.py::test_ensemble_equals_the_same_runs_one_at_a_time",
    "test_train.py::test_ensemble_lbfgs_gss_runs_keep_their_own_history_and_resets",
}


def pytest_collection_modifyitems(config, items):
    """Mark the tests listed in SLOW ``slow``; every ``slow`` test is also in the ``book`` (slow) lane, so that
    ``pytest -m "not book"`` is the fast lane."""
    for item in items:
        module = item.path.name
        name = getattr(item, "originalname", item.name)
        if f"{module}::{name}" in SLOW or f"{module}::*" in SLOW:
            item.add_marker(pytest.mark.slow)
        if item.get_closest_marker("slow") is not None:
            item.add_marker(pytest.mark.book)


def pytest_unconfigure(config):
    """After pytest's own summary line, so that it is the last thing a user sees."""
    terminalreporter = config.pluginmanager.get_plugin("terminalreporter")
    if terminalreporter is None:
        return
    skipped = [r for r in terminalreporter.stats.get("skipped", []) if "browser" in getattr(r, "keywords", {})]
    if not skipped:
        return
    bar = "!" * 78
    terminalreporter.write_line("")
    terminalreporter.write_line(bar, red=True, bold=True)
    terminalreporter.write_line(
        f"!! {len(skipped)} BROWSER TESTS WERE SKIPPED: headless Chromium or chromedriver is missing,", red=True, bold=True
    )
    terminalreporter.write_line(
        "!! so no page of the built book was opened. To run them: sudo apt-get install chromium", red=True, bold=True
    )
    terminalreporter.write_line(
        "!! chromium-driver (Debian/Ubuntu), or run `bash .ci/run`, which installs them first.", red=True, bold=True
    )
    terminalreporter.write_line(bar, red=True, bold=True)
