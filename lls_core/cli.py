"""The ``lls-book`` command.

    lls-book list                                   # chapters, their parameters and profiles
    lls-book run CHAPTER [--profile NAME] [-p NAME VALUE]...
    lls-book build [--profile NAME] [--only CHAPTER]...
    lls-book fetch authors-weights|mnist [--dest FOLDER]
    lls-book plan CHAPTER [--profile NAME] [-p NAME VALUE]...   # work, time and memory, before running

``run`` executes one chapter with papermill into ``_build/executed/<profile>/``
(figures into ``_build/figures/<profile>/<chapter>/``); ``build`` runs every
chapter and then Jupyter Book, writing the static site to ``_build/html``.
Parameters are checked before anything runs: an unknown name, a wrong type, an
out-of-range value or a broken rule stops with exit status 2 and one line naming
the parameter and what is allowed; nothing is written. Values use a small strict
grammar (numbers, ``true``/``false``/``null``, words, quoted strings, ``[lists]``;
see :func:`lls_core.book.parse_value`), and a value may start with ``-``
(``-p noise_t -1e3``). A second run of the same chapter and profile refuses to
start (exit 3) unless ``--wait`` is given. A failing chapter exits 1 with one line
naming the cell and the kept partial notebook; Ctrl-C or SIGTERM exit 130 after
removing the run's temporary folder.
``fetch`` downloads data the book can use but does not ship (checksummed, atomic; the
only sub-command that uses the network): ``authors-weights``, the authors' published
LSTM solutions (URL pinned to commit 5765fce of their repository), or ``mnist``, the
four official MNIST files (into ``$LLS_MNIST_DIR`` or ``<root>/.lls-data/mnist``).

This command is the book tooling: it needs the ``book`` extra (``pip install "lls-core[book]"``:
PyYAML, papermill, jupytext, nbformat, ipykernel, Jupyter Book), which ``import lls_core``
and the science modules never need. ``run`` and ``build`` name any missing piece before work.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

try:
    from . import book
except ModuleNotFoundError as _err:  # pragma: no cover - the book extra is not installed
    raise SystemExit(f"lls-book needs the book extra: pip install \"lls-core[book]\" ({_err})") from _err

__all__ = ["main"]

BOOK_EXTRA: dict[str, tuple[str, ...]] = {
    "run": ("papermill", "jupytext", "nbformat", "ipykernel"),
    "build": ("papermill", "jupytext", "nbformat", "ipykernel", "jupyter_book"),
}
"""The modules of the ``book`` extra each command needs (checked before any work)."""


def _require_book_extra(command: str) -> None:
    import importlib.util

    missing = [m for m in BOOK_EXTRA.get(command, ()) if importlib.util.find_spec(m) is None]
    if missing:
        raise book.ParameterError(f"lls-book {command} needs the book extra ({', '.join(missing)} not installed): "
                                  'pip install "lls-core[book]"')


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="lls-book", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="list chapters, their parameters and profiles")
    run = sub.add_parser("run", help="execute one chapter with papermill")
    run.add_argument("chapter")
    run.add_argument("--profile", default="quick", help=f"one of {', '.join(book.PROFILE_NAMES)} (default quick)")
    run.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"))
    run.add_argument("--build-dir", type=Path, default=None, help="default: _build in the project root")
    run.add_argument("--wait", action="store_true", help="wait for a running copy of this chapter and profile to finish")
    pl = sub.add_parser("plan", help="runs, pairs, passes, time and memory a chapter's parameters imply")
    pl.add_argument("chapter")
    pl.add_argument("--profile", default="quick", help=f"one of {', '.join(book.PROFILE_NAMES)} (default quick)")
    build = sub.add_parser("build", help="execute every chapter and build the HTML book")
    build.add_argument("--profile", default="quick", help=f"one of {', '.join(book.PROFILE_NAMES)} (default quick)")
    build.add_argument("--build-dir", type=Path, default=None)
    build.add_argument("--only", action="append", default=None, metavar="CHAPTER", help="execute only these chapters")
    build.add_argument("--html-only", action="store_true", help="rebuild the HTML from already executed chapters")
    build.add_argument("--pdf", action="store_true", help="also write the whole book as one PDF (needs LaTeX; see the README)")
    fetch = sub.add_parser("fetch", help="download checksummed data: the authors' weights or full MNIST")
    fetch.add_argument("what", choices=FETCHABLE)
    fetch.add_argument("--dest", type=Path, default=None, help="target folder (default: .lls-data/<what>)")
    return ap


FETCHABLE: tuple[str, ...] = ("authors-weights", "mnist")


def _fetch(what: str, dest: Path | None) -> None:
    from . import authors, data

    try:
        if what == "authors-weights":
            print(f"authors' LSTM weights: {authors.fetch('lstm', dest)}")
        else:
            folder = dest if dest is not None else data.default_data_dir()
            data.mnist_arrays(folder, download=True)
            print(f"MNIST files verified in {folder}")
    except (OSError, ValueError) as err:  # ChecksumError is a ValueError
        raise book.ParameterError(str(err)) from err


def _list() -> None:
    for ch in book.chapters():
        print(f"{ch.slug}: {ch.title}")
        print(f"  source: {ch.path.relative_to(book.project_root())}")
        print(f"  profiles: quick (defaults){''.join(', ' + p for p in ch.profiles if p != 'quick')}")
        for p in ch.parameters:
            prof = "; ".join(f"{k}={v[p.name]!r}" for k, v in ch.profiles.items() if p.name in v)
            print(f"  -p {p.name} <{p.describe()}>  default {p.default!r}{'  [' + prof + ']' if prof else ''}")
            if p.help:
                print(f"      {p.help}")
        if ch.figures:
            print(f"  figures: {', '.join(ch.figures)}")


def _split_parameters(argv: list[str]) -> tuple[list[str], list[tuple[str, str]]]:
    """Take ``-p NAME VALUE`` triples out of ``argv`` verbatim (argparse would read ``-1e3`` as an option)."""
    rest: list[str] = []
    pairs: list[tuple[str, str]] = []
    i = 0
    while i < len(argv):
        tok = argv[i]
        if tok in ("-p", "--parameter"):
            if i + 2 >= len(argv):
                raise book.ParameterError(f"{tok} needs a NAME and a VALUE")
            pairs.append((argv[i + 1], argv[i + 2]))
            i += 3
            continue
        rest.append(tok)
        i += 1
    return rest, pairs


def _one_line(err: BaseException) -> str:
    msg = err.args[0] if err.args else str(err)
    return " ".join(str(msg).split())


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        rest, pairs = _split_parameters(argv)
    except book.ParameterError as err:
        print(f"lls-book: error: {_one_line(err)}", file=sys.stderr)
        return 2
    try:
        args = _parser().parse_args(rest)
    except SystemExit as exit_:  # argparse printed its usage line and message
        return int(exit_.code or 0)
    if pairs and args.command not in ("run", "plan"):
        print(f"lls-book: error: -p is only for 'lls-book run' and 'lls-book plan', not {args.command!r}", file=sys.stderr)
        return 2
    try:
        if args.command == "list":
            _list()
        elif args.command == "run":
            import logging

            # The kernel's and the notebook libraries' own error logs (an interrupted cell, a kernel
            # stopped by SIGTERM) would put their tracebacks on the console; the runner reports every
            # failure itself, in one line, and keeps the executed notebook.
            logging.disable(logging.ERROR)
            _require_book_extra("run")
            chapter = book.get_chapter(args.chapter)
            overrides = {name: book.parse_override(chapter, name, text) for name, text in pairs}
            book.resolve_parameters(chapter, args.profile, overrides)  # refuse before echoing anything
            for name, value in overrides.items():
                print(f"parameter {name} = {value!r}", file=sys.stderr)
            # run_chapter validates the profile, every override and the rules before any work
            res = book.run_chapter(args.chapter, args.profile, overrides, args.build_dir, progress=True, wait=args.wait)
            print(f"{res.slug} ({res.profile}) ran in {res.wall_seconds:.1f} s -> {res.notebook}")
            for f in res.figures:
                print(f"  figure {f}")
        elif args.command == "plan":
            from . import plan

            chapter = book.get_chapter(args.chapter)
            overrides = {name: book.parse_override(chapter, name, text) for name, text in pairs}
            print(plan.plan(args.chapter, args.profile, overrides).text())
        elif args.command == "build":
            _require_book_extra("build")
            book.check_profile(args.profile)
            if args.pdf and book.pdf_tools_missing():  # before hours of chapters, not after
                raise book.ParameterError(book.pdf_tools_missing())
            if args.html_only:
                html = book.build_html(args.profile, args.build_dir)
            else:
                html = book.build_book(args.profile, args.build_dir, only=args.only)
            print(f"book written to {html / 'index.html'}")
            if args.pdf:
                print(f"PDF written to {book.build_pdf(args.profile, args.build_dir)}")
        elif args.command == "fetch":
            _fetch(args.what, args.dest)
    except (book.ParameterError, KeyError, FileNotFoundError) as err:  # the user's input: one line, exit 2
        print(f"lls-book: error: {_one_line(err)}", file=sys.stderr)
        return 2
    except book.ChapterBusy as err:
        print(f"lls-book: busy: {_one_line(err)}", file=sys.stderr)
        return 3
    except KeyboardInterrupt as err:
        _ignore_further_interrupts()  # the first one is being handled: a second must not cut the exit short
        print(f"lls-book: interrupted ({_one_line(err) or 'Ctrl-C'}); the previous results are kept", file=sys.stderr)
        return 130
    except Exception as err:
        if type(err).__name__ == "PapermillExecutionError":
            evalue = " ".join(str(getattr(err, "evalue", "")).split())[:500]
            print(f"lls-book: error: a chapter cell failed (cell {getattr(err, 'exec_count', '?')}): "
                  f"{getattr(err, 'ename', '')}: {evalue}; the previous results are kept and the partial notebook "
                  "is <build-dir>/executed/<profile>/<chapter>.failed.ipynb", file=sys.stderr)
            return 1
        if isinstance(err, RuntimeError):
            print(f"lls-book: error: {_one_line(err)[:1000]}", file=sys.stderr)
            return 1
        raise
    return 0


def _ignore_further_interrupts() -> None:
    import signal

    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            signal.signal(sig, signal.SIG_IGN)
        except ValueError:  # not the main thread
            pass


def entry() -> None:
    """The ``lls-book`` command: :func:`main`'s exit status, 130 after an interrupt however late it lands."""
    try:
        code = main()
    except KeyboardInterrupt:
        _ignore_further_interrupts()
        print("lls-book: interrupted; the previous results are kept", file=sys.stderr)
        code = 130
    sys.exit(code)


if __name__ == "__main__":
    entry()
