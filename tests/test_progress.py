"""Progress of long loops: bars reach the runner's console through a relay file, never the page."""

from __future__ import annotations

from lls_core import progress


def test_enabled_follows_the_runner(monkeypatch, tmp_path):
    monkeypatch.delenv(progress.ENV, raising=False)
    assert not progress.enabled() and progress.enabled(True) and not progress.enabled(False)
    monkeypatch.setenv(progress.ENV, str(tmp_path / "p.txt"))
    assert progress.enabled() and progress.enabled(False)  # under the runner bars go to its console: always on


def test_bar_is_silent_outside_a_runner(monkeypatch, capsys):
    monkeypatch.delenv(progress.ENV, raising=False)
    assert list(progress.bar(range(3), desc="sweep")) == [0, 1, 2]
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out == ""


def test_relay_shows_done_total_and_time_left(monkeypatch, tmp_path):
    path = tmp_path / "progress.txt"
    monkeypatch.setenv(progress.ENV, str(path))
    with progress.ConsoleRelay(path, interval=0.05, enabled=False) as relay:
        b = progress.bar(total=4, desc="training fcp (smoke)", unit="runs", mininterval=0)
        b.update(1)
        line = relay.poll()
        assert "training fcp (smoke): 1/4 runs" in line and "left" in line, line
        b.update(3)
        b.close()
        line = relay.poll()
        assert "4/4 runs" in line and "00:00 left" in line, line
    assert relay.poll() == line  # nothing new: the last line stays


def test_relay_without_a_file_keeps_quiet(tmp_path):
    relay = progress.ConsoleRelay(tmp_path / "missing.txt", enabled=False)
    assert relay.poll() == ""


DEMO = """---
jupytext:
  text_representation: {extension: .md, format_name: myst}
kernelspec: {display_name: Python 3, language: python, name: python3}
lls:
  profiles: {smoke: {n: 3}}
  checks:
    n: {min: 1, max: 50}
  figures: []
---
# Demo

```{code-cell} ipython3
:tags: [parameters]
n = 5  # loop length
```

```{code-cell} ipython3
import time
from lls_core import progress
for _ in progress.bar(range(n), desc="demo loop", unit="steps", mininterval=0):
    time.sleep(0.3)
print("done")
```
"""


def test_runner_relays_kernel_progress_to_the_console_not_the_page(demo_book, tmp_path, monkeypatch, capsys):
    import nbformat

    from lls_core import book

    root = demo_book(DEMO)
    monkeypatch.delenv(progress.ENV, raising=False)
    res = book.run_chapter("demo", "smoke", build_dir=tmp_path / "build", root=root, progress=True)
    err = capsys.readouterr().err
    assert "demo loop: 3/3 steps" in err and "left" in err
    page = nbformat.read(str(res.notebook), as_version=4)
    outputs = str([c.get("outputs") for c in page.cells if c.cell_type == "code"])
    assert "done" in outputs and "demo loop" not in outputs
    assert progress.ENV not in __import__("os").environ  # the runner leaves the environment as it found it


def test_notes_reach_the_console_once_and_never_the_bar_line(monkeypatch, tmp_path, capsys):
    path = tmp_path / "progress.txt"
    monkeypatch.setenv(progress.ENV, str(path))
    relay = progress.ConsoleRelay(path, interval=0.05, enabled=False)
    b = progress.bar(total=2, desc="paths fcp", unit="pairs", mininterval=0)
    b.update(1)
    progress.note("Dask dashboard: http://127.0.0.1:8787/status")
    line = relay.poll()
    assert line.startswith("paths fcp: 1/2") and relay.notes == ["Dask dashboard: http://127.0.0.1:8787/status"]
    b.close()
    relay.poll()
    assert relay.notes == ["Dask dashboard: http://127.0.0.1:8787/status"]  # read once
    monkeypatch.delenv(progress.ENV)
    progress.note("outside a runner")
    assert "outside a runner" in capsys.readouterr().err
