"""Refusal speed: how fast ``lls-book run`` refuses a bad parameter value, before any work.

Every parameter of every chapter gets a few values no check may accept (a wrong type,
an unknown choice, a number past its bound, an unknown name); each is refused
in-process by :func:`lls_core.cli.main` (exit status 2), with the runner's work function
replaced by one that fails, so no chapter can start. ``refusal_spread`` is the slowest
refusal over the median one in the same run (a check that does expensive work, such as
loading data or importing torch, stands out however fast the machine is).

The installed command is timed as a user meets it: a fresh ``python -m lls_core.cli``
process refusing a repeated architecture, against a fresh process that only imports
:mod:`lls_core.cli` and reads every chapter's parameters (the least a refusal needs:
the interpreter's start-up, the package, the chapters' front matter), measured
alternately: ``cli_refusal_over_startup`` is the ratio of their medians.

Goals: ``refusal_spread`` <= 20 and ``cli_refusal_over_startup`` <= 1.5 (no check
imports torch or touches data: torch's import alone would double the start-up).

Run: ``PYTHONPATH=. python benchmarks/bench_cli.py``. The last line is
``refusals=<n> refusal_median_ms=<ms> refusal_max_ms=<ms> refusal_spread=<x>
cli_refusal_s=<s> cli_startup_s=<s> cli_refusal_over_startup=<x>``.
"""

from __future__ import annotations

import contextlib
import io
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from lls_core import book, cli


def _bad(p: book.Parameter) -> list[str]:
    """A few texts no check of ``p`` may accept."""
    d = p.default
    out = ["[1,", "x" * 2500]
    if isinstance(d, bool):
        return out + ["3", "abc"]
    if isinstance(d, (int, float)):
        out += ["abc", "nan"]
        if p.max is not None:
            out.append(repr(int(p.max) + 1) if isinstance(d, int) else repr(float(p.max) + abs(p.max) + 1))
        return out
    if isinstance(d, str):
        return out + [t for t in ("nosuch-choice", "[1]") if t not in (p.choices or ())]
    return out + ["abc", "[nosuch]", "[" + ", ".join(str(i + 1) for i in range((p.max_items or 10) + 1)) + "]"]


def _in_process(build: Path) -> list[float]:
    def never(*a: object, **k: object) -> None:
        raise AssertionError("a bad value reached the runner")

    book._run_locked = never  # type: ignore[assignment]
    times = []
    for ch in book.chapters(book.project_root()):
        cases = [(p.name, t) for p in ch.parameters for t in _bad(p)] + [("no_such_parameter", "1")]
        for name, text in cases:
            start = time.perf_counter()
            with contextlib.redirect_stderr(io.StringIO()):
                rc = cli.main(["run", ch.slug, "--profile", "smoke", "--build-dir", str(build), "-p", name, text])
            times.append(time.perf_counter() - start)
            if rc != 2:
                raise SystemExit(f"{ch.slug} -p {name} {text[:40]!r}: exit {rc}, expected 2")
    return times


def _process(argv: list[str], cwd: str, env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, *argv], capture_output=True, cwd=cwd, env=env, check=False)
    return time.perf_counter() - start


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "PYTHONPATH": str(book.project_root()), "LLS_ARTIFACTS": str(Path(tmp) / "a")}
        os.environ["LLS_ARTIFACTS"] = env["LLS_ARTIFACTS"]
        times = _in_process(Path(tmp) / "build")
        refuse = ["-m", "lls_core.cli", "run", "barriers", "--build-dir", str(Path(tmp) / "b"),
                  "-p", "archs", "[fcp, lenet, fcp]"]
        start_only = ["-c", "import lls_core.cli as c; from lls_core import book as b; "
                      "[ch.parameters for ch in b.chapters(b.project_root())]"]
        _process(start_only, tmp, env)  # warm the file cache
        r, s = [], []
        for _ in range(5):
            r.append(_process(refuse, tmp, env))
            s.append(_process(start_only, tmp, env))
    med, worst = statistics.median(times), max(times)
    print(f"{len(times)} refusals in-process: median {1e3 * med:.2f} ms, slowest {1e3 * worst:.1f} ms")
    print(f"fresh process: refusal {statistics.median(r):.2f} s, start-up alone {statistics.median(s):.2f} s")
    print(f"refusals={len(times)} refusal_median_ms={1e3 * med:.3g} refusal_max_ms={1e3 * worst:.3g} "
          f"refusal_spread={worst / med:.3g} cli_refusal_s={statistics.median(r):.3g} "
          f"cli_startup_s={statistics.median(s):.3g} cli_refusal_over_startup={statistics.median(r) / statistics.median(s):.3g}")


if __name__ == "__main__":
    main()
