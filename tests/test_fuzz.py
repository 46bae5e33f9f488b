"""Generated bad values for every parameter of every chapter: ``lls-book run`` must refuse each one
with exit status 2, one line naming it, before the runner starts, and without touching a file.
How fast the refusals are is measured by ``benchmarks/bench_cli.py``, not here."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from lls_core import book, cli

ROOT = book.project_root()
CHAPTERS = book.chapters(ROOT)


def _fmt(x: float) -> str:
    return repr(int(x)) if float(x).is_integer() and abs(x) < 1e15 else repr(float(x))


def _bad_values(p: book.Parameter) -> list[str]:
    """Texts that no check of ``p`` may accept."""
    common = ["[1,", '"unclosed', "[[[1]]]", "x" * 2500, "&a [*a, *a, *a]"]
    d = p.default
    if isinstance(d, bool):
        return common + ["3", "abc", "null", "[true]", "1.0"]
    if isinstance(d, (int, float)):
        out = common + ["abc", "nan", "inf", "-inf", "1e400", "[1]", "true", "null", '"5"', "1:30", "0x10", ""]
        if p.min is not None:
            out.append(_fmt(p.min - 1) if isinstance(d, int) else _fmt(p.min - abs(p.min) - 1))
        if p.max is not None:
            out.append(_fmt(p.max + 1) if isinstance(d, int) else _fmt(p.max + abs(p.max) + 1))
        if isinstance(d, int):
            out += ["1.5", "1e3" if (p.max or 0) < 1000 or (p.min or 0) > 1000 else "2.5", "99999999999999999999999"]
        return out
    if isinstance(d, str):
        out = common + ["[1]", "nosuch-choice", "../../etc/passwd", "'; import os; os.system(\"true\") #", "1e-300"]
        return [t for t in out if t not in (p.choices or ())]
    if isinstance(d, list):
        n = (p.max_items or 10) + 1
        empty = ["[]"] if (p.min_items or 0) >= 1 else []  # an empty list is valid where min_items is 0
        return common + empty + ["abc", "[-5]", "[[1]]", "[nosuch]", "[null]", "[true]",
                         "[" + ", ".join(str(i + 1) for i in range(n)) + "]", "[1e400]"]
    raise AssertionError(f"no generator for {p.name} ({type(d).__name__})")


CASES = [(ch.slug, p.name, text) for ch in CHAPTERS for p in ch.parameters for text in _bad_values(p)]
CASES += [(ch.slug, name, "1") for ch in CHAPTERS for name in ("no_such_parameter", "x; import os", "__class__")]


@pytest.fixture()
def guarded(tmp_path, monkeypatch):
    """No chapter may start: the runner's work function fails the test if reached."""
    def never(*a, **k):
        raise AssertionError("a bad value reached the runner")

    monkeypatch.setattr(book, "_run_locked", never)
    monkeypatch.setenv("LLS_ARTIFACTS", str(tmp_path / "artifacts"))
    return tmp_path


def _tree_state(root: Path) -> dict[str, int]:
    out = {}
    for base in ("notebooks", "_build", "artifacts", "data", "lls_core/datafiles"):
        folder = root / base
        if folder.is_dir():
            for p in folder.rglob("*"):
                out[str(p)] = p.stat().st_mtime_ns
    return out


def test_every_bad_value_is_refused_fast_with_one_line(guarded, capsys):
    build = guarded / "build"
    before = _tree_state(ROOT)
    for slug, name, text in CASES:
        rc = cli.main(["run", slug, "--profile", "smoke", "--build-dir", str(build), "-p", name, text])
        err = capsys.readouterr().err.strip().splitlines()
        assert rc == 2, f"{slug} -p {name} {text[:60]!r}: exit {rc}; {err}"
        assert len(err) == 1 and err[0].startswith("lls-book: error: ") and "Traceback" not in err[0], (slug, name, err)
        assert len(err[0]) < 600, f"{slug} -p {name}: message of {len(err[0])} characters"
    assert not build.exists() and not (guarded / "artifacts").exists()
    assert _tree_state(ROOT) == before
    assert len(CASES) > 300


@pytest.mark.parametrize("argv, match", [
    (["run", "no-such-chapter"], "unknown chapter"),
    (["run", "../../etc/passwd"], "unknown chapter"),
    (["run", "surfaces", "--profile", "huge"], "unknown profile 'huge'"),
    (["run", "surfaces", "-p", "grid_n"], "-p needs a NAME and a VALUE"),
    (["run", "surfaces", "-p", "grid_n", "61", "-p", "noise_t", "-1e7"], "noise_t' = -10000000.0 is out of range"),
    (["build", "--only", "nosuch", "--profile", "smoke"], "unknown chapter 'nosuch'"),
    (["build", "--profile", "huge"], "unknown profile"),
    (["build", "-p", "a", "1"], "only for 'lls-book run'"),
])
def test_bad_command_lines_are_refused(guarded, capsys, argv, match):
    argv = argv[:1] + ["--build-dir", str(guarded / "build")] + argv[1:]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and match in err[0], err
    assert not (guarded / "build").exists()


def test_build_dir_under_a_file_is_refused(guarded, capsys):
    blocker = guarded / "plain-file"
    blocker.write_text("x")
    assert cli.main(["run", "surfaces", "--profile", "smoke", "--build-dir", str(blocker / "sub")]) == 2
    assert "is not a folder" in capsys.readouterr().err
    assert blocker.read_text() == "x"


def test_negative_and_quoted_values_reach_the_run(guarded, monkeypatch, capsys):
    seen = {}

    def fake(chapter, profile, params, overrides, build_dir, root, progress):
        seen.update(params)
        raise KeyboardInterrupt("stop here")

    monkeypatch.setattr(book, "_run_locked", fake)
    rc = cli.main(["run", "surfaces", "--profile", "smoke", "--build-dir", str(guarded / "b"), "-p", "noise_t", "-1e3"])
    assert rc == 130 and seen["noise_t"] == -1000.0
    assert "parameter noise_t = -1000.0" in capsys.readouterr().err  # the parsed value is echoed
    rc = cli.main(["run", "geometry", "--profile", "smoke", "--build-dir", str(guarded / "b"), "-p", "kpca_gamma", '"1e-3"'])
    assert rc == 130 and seen["kpca_gamma"] == "1e-3"


def test_the_installed_command_refuses_without_a_traceback(tmp_path):
    """The real console entry point, as a user types it (one process start)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "LLS_ARTIFACTS": str(tmp_path / "a")}
    proc = subprocess.run([sys.executable, "-m", "lls_core.cli", "run", "barriers", "--build-dir", str(tmp_path / "b"),
                           "-p", "archs", "[fcp, lenet, fcp]"], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert proc.returncode == 2 and "repeats an item" in proc.stderr and "Traceback" not in proc.stderr
    assert not any(tmp_path.iterdir())
