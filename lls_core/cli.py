"""The ``lls-book`` command.

    lls-book list                                   # chapters, their parameters and profiles
    lls-book run CHAPTER [--profile NAME] [-p NAME VALUE]...
    lls-book build [--profile NAME] [--only CHAPTER]...
    lls-book fetch authors-weights|mnist [--dest FOLDER]

``run`` executes one chapter with papermill into ``_build/executed/<profile>/``
(figures into ``_build/figures/<profile>/<chapter>/``); ``build`` runs every
chapter and then Jupyter Book, writing the static site to ``_build/html``.
Parameters are checked before anything runs: an unknown name, a wrong type or
an out-of-range value stops with a message naming the parameter and what is allowed.
``fetch`` downloads data the book can use but does not ship (checksummed, atomic; the
only sub-command that uses the network): ``authors-weights``, the authors' published
LSTM solutions (URL pinned to commit 5765fce of their repository), or ``mnist``, the
four official MNIST files (into ``$LLS_MNIST_DIR`` or ``.lls-data/mnist``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import book

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="lls-book", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="list chapters, their parameters and profiles")
    run = sub.add_parser("run", help="execute one chapter with papermill")
    run.add_argument("chapter")
    run.add_argument("--profile", default="quick", help=f"one of {', '.join(book.PROFILES)} (default quick)")
    run.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"))
    run.add_argument("--build-dir", type=Path, default=None, help="default: _build in the project root")
    build = sub.add_parser("build", help="execute every chapter and build the HTML book")
    build.add_argument("--profile", default="quick", help=f"one of {', '.join(book.PROFILES)} (default quick)")
    build.add_argument("--build-dir", type=Path, default=None)
    build.add_argument("--only", action="append", default=None, metavar="CHAPTER", help="execute only these chapters")
    build.add_argument("--html-only", action="store_true", help="rebuild the HTML from already executed chapters")
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


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "list":
            _list()
        elif args.command == "run":
            overrides = {name: book.parse_value(text) for name, text in args.parameter}
            # run_chapter validates the chapter, profile and every override before any work
            res = book.run_chapter(args.chapter, args.profile, overrides, args.build_dir, progress=True)
            print(f"{res.slug} ({res.profile}) ran in {res.wall_seconds:.1f} s -> {res.notebook}")
            for f in res.figures:
                print(f"  figure {f}")
        elif args.command == "build":
            if args.profile not in book.PROFILES:
                raise book.ParameterError(f"unknown profile {args.profile!r}; valid profiles: {', '.join(book.PROFILES)}")
            if args.html_only:
                html = book.build_html(args.profile, args.build_dir)
            else:
                html = book.build_book(args.profile, args.build_dir, only=args.only)
            print(f"book written to {html / 'index.html'}")
        elif args.command == "fetch":
            _fetch(args.what, args.dest)
    except (book.ParameterError, KeyError) as err:
        msg = err.args[0] if err.args else str(err)
        print(f"lls-book: error: {msg}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
