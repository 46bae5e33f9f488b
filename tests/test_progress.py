"""Progress of long loops: bars reach the runner's console through a relay file, never the page."""

from __future__ import annotations

from lls_core import progress


def test_enabled_follows_the_runner(monkeypatch, tmp_path):
    monkeypatch.delenv(progress.ENV, raising=False)
    assert not progress.enabled() and progress.enabled(True) and not progress.enabled(False)
    monkeypatch.setenv(progress.ENV, str(tmp_path / "p.txt"))
    assert progress.enabled() and not progress.enabled(False)


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
