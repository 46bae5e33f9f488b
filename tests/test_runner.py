"""The chapter runner under stress: strict values, bounds and rules, a chapter checking its own
parameters, two runs of one chapter, failed and killed runs, and the run log."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lls_core import book, cli
from lls_core.io import ArtifactWarning

ROOT = book.project_root()

DEMO = """---
jupytext:
  text_representation: {extension: .md, format_name: myst}
kernelspec: {display_name: Python 3, language: python, name: python3}
lls:
  profiles: {smoke: {n: 3}}
  checks:
    n: {min: 1, max: 50}
    mode: {choices: [ok, fail, sleep, nofig]}
    sizes: {min_items: 1, max_items: 4, unique: true, items: {min: 1, max: 100}}
    level: {min: -1000.0, max: 1000.0}
  rules: ["max(sizes) <= n * 10"]
  figures: [demo_fig]
---
# Demo

```{code-cell} ipython3
:tags: [parameters]
n = 5  # a count
mode = "ok"  # what the chapter does
sizes = [1, 2]  # a list
level = 0.0  # a real number
```

```{code-cell} ipython3
:tags: [remove-cell]
import lls_core.book
lls_core.book.check_parameters("demo", globals())
```

```{code-cell} ipython3
import time
import matplotlib.pyplot as plt
from lls_core import plotting
if mode == "fail":
    raise RuntimeError("the demo chapter failed on purpose")
if mode == "sleep":
    time.sleep(60)
fig, ax = plt.subplots()
ax.plot(range(n))
if mode != "nofig":
    _ = plotting.show_figure(fig, "demo_fig")
```
"""


@pytest.fixture()
def demo(demo_book) -> Path:
    return demo_book(DEMO)


def _tree(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")) if folder.exists() else []


# ----------------------------------------------------------------------------- values


@pytest.mark.parametrize("text, value", [
    ("0100", 100), ("010", 10), ("1:30", "1:30"), ("0x3D", "0x3D"), ("-1e3", -1000.0), ("+2", 2), (".5", 0.5),
    ('"1e-3"', "1e-3"), ("'adam'", "adam"), ("[1, 2.5, fcp]", [1, 2.5, "fcp"]), ("[]", []), ("null", None),
    ("false", False), ("[[1], [2, 3]]", [[1], [2, 3]]), ('"a, b"', "a, b"),
])
def test_strict_value_grammar(text, value):
    got = book.parse_value(text)
    assert got == value and type(got) is type(value)


@pytest.mark.parametrize("text, match", [
    ("[1, 2", "a value is missing|expected ',' or ']'"), ('"open', "not closed"), ("[[[1]]]", "two deep"),
    ("[1] x", "unexpected text"), ("x" * 3000, "at most 2000"), ("a\x00b", "control characters"),
    ("[" + ",".join(["1"] * 501) + "]", "more than 500"),
])
def test_unparseable_values_are_refused(text, match):
    with pytest.raises(book.ParameterError, match=match):
        book.parse_value(text)


def test_string_parameters_take_the_text_as_written():
    ch = book.get_chapter("geometry", ROOT)
    assert book.parse_override(ch, "kpca_gamma", "1e-3") == "1e-3"
    assert book.parse_override(ch, "kpca_gamma", '"1e-3"') == "1e-3"
    assert book.resolve_parameters(ch, "quick", {"kpca_gamma": "1e-3"})["kpca_gamma"] == "1e-3"
    with pytest.raises(book.ParameterError, match="'kpca_gamma' = 'abc' is not allowed"):
        book.resolve_parameters(ch, "quick", {"kpca_gamma": "abc"})


def test_every_chapter_parameter_is_bounded_and_checked_in_its_kernel():
    for ch in book.chapters(ROOT):
        loose = [p.name for p in ch.parameters if not p.bounded]
        assert not loose, f"{ch.slug}: parameters without bounds {loose}"
        text = ch.path.read_text()
        params_at = text.index(":tags: [parameters]")
        after = text[params_at:].split("```{code-cell} ipython3", 1)[1].split("```", 1)[0]
        assert ":tags: [remove-cell]" in after and f'check_parameters("{ch.slug}", globals())' in after, (
            f"{ch.slug}: the cell after the parameters cell must call lls_core.book.check_parameters"
        )


@pytest.mark.parametrize("slug, overrides, match", [
    ("visualization", {"depths": [1, 10**8]}, "depths\\[1\\]' = 100000000 is out of range"),
    ("visualization", {"batch_sizes": [16, 10**8]}, "out of range"),
    ("visualization", {"batch_sizes": [0, 16]}, "batch_sizes\\[0\\]' = 0 is out of range"),
    ("visualization", {"n_eval": 4000, "n_train": 50}, "n_eval=4000, n_train=50 break the rule 'n_eval <= n_train'"),
    ("visualization", {"map_images": 300, "n_eval": 256}, "break the rule 'map_images <= n_eval'"),
    ("optimizer_benchmark", {"sweep_lrs": [-1]}, "has 1 items|out of range"),
    ("optimizer_benchmark", {"sweep_lrs": [0.1, -1]}, "sweep_lrs\\[1\\]' = -1.0 is out of range"),
    ("barriers", {"archs": ["../../x"]}, "archs\\[0\\]' = '../../x' is not allowed"),
    ("barriers", {"archs": []}, "has 0 items"),
    ("barriers", {"archs": [1, 2]}, "has type int"),
    ("barriers", {"archs": ["fcp", "fcp"]}, "repeats an item"),
    ("barriers", {"k_best": 9, "n_inits": 8}, "k_best <= n_inits"),
    ("barriers", {"n_pairs": 16, "k_best": 6}, "n_pairs <= k_best"),
    ("training", {"workers": 4096}, "out of range"),
    ("training", {"workers": book.cpu_count() + 1}, "more than the \\d+ CPUs"),
    ("survey_data", {"title_width": -5}, "out of range"),
])
def test_bounds_and_rules_of_the_chapters(slug, overrides, match):
    with pytest.raises(book.ParameterError, match=match):
        book.resolve_parameters(book.get_chapter(slug, ROOT), "quick", overrides)


def test_profile_workers_are_lowered_to_the_cpus():
    ch = book.get_chapter("barriers", ROOT)
    assert book.resolve_parameters(ch, "paper")["workers"] == min(16, book.cpu_count())


def test_check_parameters_in_the_kernel_namespace(demo):
    ns = {"n": 5, "mode": "ok", "sizes": [1, 2], "level": 3, "In": [], "_": None, "os": os}
    assert book.check_parameters("demo", ns)["level"] == 3.0 and isinstance(ns["level"], float)
    with pytest.raises(book.ParameterError, match="no parameter 'nn'; valid parameters: n, mode, sizes, level"):
        book.check_parameters("demo", {**ns, "nn": 1})
    with pytest.raises(book.ParameterError, match="sizes=\\[100\\], n=5 break the rule|n=5, sizes=\\[100\\] break"):
        book.check_parameters("demo", {**ns, "sizes": [100]})
    with pytest.raises(book.ParameterError, match="not set"):
        book.check_parameters("demo", {"n": 5})


# ----------------------------------------------------------------------------- runs


def test_failed_run_keeps_the_previous_results(demo, tmp_path):
    build = tmp_path / "build"
    good = book.run_chapter("demo", "smoke", build_dir=build, root=demo)
    fig = build / "figures" / "smoke" / "demo" / "demo_fig.png"
    before = (good.notebook.read_bytes(), fig.read_bytes())
    with pytest.raises(Exception, match="failed on purpose"):
        book.run_chapter("demo", "smoke", {"mode": "fail"}, build_dir=build, root=demo)
    with pytest.raises(RuntimeError, match="did not write its promised figures"):
        book.run_chapter("demo", "smoke", {"mode": "nofig"}, build_dir=build, root=demo)
    assert (good.notebook.read_bytes(), fig.read_bytes()) == before
    assert (build / "executed" / "smoke" / "demo.failed.ipynb").exists()
    assert not list(build.glob(".run-*")) and not list(build.rglob(".tmp-*"))
    assert oct(fig.stat().st_mode & 0o777) == oct(0o666 & ~_umask())
    record = json.loads((build / "runs.json").read_text())["smoke"]["demo"]
    assert record["parameters"]["n"] == 3 and record["overrides"] == {}


def _umask() -> int:
    m = os.umask(0)
    os.umask(m)
    return m


def test_second_run_refuses_and_sigterm_leaves_nothing_behind(demo, tmp_path, capsys):
    build = tmp_path / "build"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "lls_core.cli", "run", "demo", "--profile", "smoke", "--build-dir",
                             str(build), "-p", "mode", "sleep"], env=env, cwd=demo, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 90
        while time.time() < deadline and not list(build.glob(".run-smoke-demo-*/demo.ipynb")):
            time.sleep(0.2)  # papermill writes the notebook as soon as the kernel runs
        assert list(build.glob(".run-smoke-demo-*")), "the first run did not start"
        assert cli.main(["run", "demo", "--profile", "smoke", "--build-dir", str(build)]) == 3
        err = capsys.readouterr().err
        assert "busy" in err and f"process {proc.pid}" in err and len(err.strip().splitlines()) == 1
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert not list(build.glob(".run-*")) and not list(build.rglob(".tmp-*"))
    assert not (build / "executed" / "smoke" / "demo.ipynb").exists()


def test_leftovers_of_killed_runs_are_cleaned(demo, tmp_path):
    build = tmp_path / "build"
    (build / "executed" / "smoke").mkdir(parents=True)
    (build / "executed" / "smoke" / ".demo.running.ipynb").write_text("{}")
    (build / ".run-smoke-demo-999999-abcdef" / "figures").mkdir(parents=True)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    orphan = tmp_path / "artifacts" / "runs" / "fcp" / "sgd" / f".tmp-{dead.stdout.strip()}-00-x.pt"
    orphan.parent.mkdir(parents=True)
    orphan.write_bytes(b"\0" * 100)
    book.run_chapter("demo", "smoke", build_dir=build, root=demo)
    assert not (build / "executed" / "smoke" / ".demo.running.ipynb").exists()
    assert not list(build.glob(".run-*")) and not orphan.exists()


def _record_many(build: str, worker: int, n: int) -> None:
    for i in range(n):
        res = book.ChapterRun(f"ch{worker}-{i}", "smoke", {"i": i}, Path("x"), Path("y"), 1.0)
        book._record_run(Path(build), res)


def test_run_log_keeps_every_concurrent_record_and_recovers(tmp_path):
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_record_many, args=(str(tmp_path), w, 15)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    runs = json.loads((tmp_path / "runs.json").read_text())
    assert len(runs["smoke"]) == 60
    (tmp_path / "runs.json").write_text('{"smoke": {"ch0-0": ')  # truncated, as after a crash
    with pytest.warns(ArtifactWarning, match="runs.json"):
        _record_many(str(tmp_path), 9, 1)
    runs = json.loads((tmp_path / "runs.json").read_text())
    assert len(runs["smoke"]) == 61  # rebuilt from the per-run records
    assert len(list((tmp_path / "quarantine").iterdir())) == 1


def test_papermill_directly_gets_the_same_checks(tmp_path):
    """A chapter executed by papermill itself refuses an unknown name and a bad value in its check cell."""
    import jupytext
    import papermill

    nb = jupytext.read(ROOT / "notebooks" / "survey_data.md")
    src = tmp_path / "survey_data.ipynb"
    jupytext.write(nb, src)
    for params, match in (({"title_width": -5}, "title_width' = -5 is out of range"),
                          ({"title_wdth": 60}, "no parameter 'title_wdth'")):
        with pytest.raises(papermill.PapermillExecutionError, match=match) as info:
            papermill.execute_notebook(str(src), str(tmp_path / "out.ipynb"), parameters=params, kernel_name="python3",
                                       cwd=str(ROOT), progress_bar=False)
        assert info.value.exec_count <= 3  # stopped in the check cell, before any work


def test_kernel_check_lowers_workers_to_the_cpus():
    ns = dict(study_profile="smoke", workers=book.cpu_count() + 1, scheduler="", activation_inits=1)
    with pytest.warns(UserWarning, match="more than the"):
        assert book.check_parameters("training", ns, ROOT)["workers"] == book.cpu_count()
    assert ns["workers"] == book.cpu_count()


def test_reproducibility_page_reads_a_damaged_run_log_as_the_runner_does(tmp_path):
    from lls_core import reproducibility

    _record_many(str(tmp_path), 0, 3)
    (tmp_path / "runs.json").write_text('{"smoke": {"ch0-0": ')  # truncated, as after a crash
    with pytest.warns(ArtifactWarning, match="runs.json"):
        walls = reproducibility.wall_times(tmp_path, "smoke")
    assert len(walls) == 3 and (walls["wall time (s)"] == 1.0).all()
