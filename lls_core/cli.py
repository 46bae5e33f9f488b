"""The ``lls-book`` command.

    lls-book list                                   # chapters, their parameters and profiles
    lls-book run CHAPTER [--profile NAME] [-p NAME VALUE]...
    lls-book build [--profile NAME] [--only CHAPTER]...
    lls-book plan CHAPTER [--profile NAME] [-p NAME VALUE]...   # work, time and memory, before running

``run`` executes one chapter with papermill into ``_build/executed/<profile>/``
(figures into ``_build/figures/<profile>/<chapter>/``); ``build`` runs every
chapter and then Jupyter Book, writing the static site to ``_build/html``.
Parameters are checked before anything runs: an unknown name, a wrong type or
an out-of-range value stops with a message naming the parameter and what is allowed.
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
    pl = sub.add_parser("plan", help="runs, pairs, passes, time and memory a chapter's parameters imply")
    pl.add_argument("chapter")
    pl.add_argument("--profile", default="quick", help=f"one of {', '.join(book.PROFILES)} (default quick)")
    pl.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"))
    build = sub.add_parser("build", help="execute every chapter and build the HTML book")
    build.add_argument("--profile", default="quick", help=f"one of {', '.join(book.PROFILES)} (default quick)")
    build.add_argument("--build-dir", type=Path, default=None)
    build.add_argument("--only", action="append", default=None, metavar="CHAPTER", help="execute only these chapters")
    build.add_argument("--html-only", action="store_true", help="rebuild the HTML from already executed chapters")
    return ap


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
        elif args.command == "plan":
            from . import plan

            overrides = {name: book.parse_value(text) for name, text in args.parameter}
            print(plan.plan(args.chapter, args.profile, overrides).text())
        elif args.command == "build":
            if args.profile not in book.PROFILES:
                raise book.ParameterError(f"unknown profile {args.profile!r}; valid profiles: {', '.join(book.PROFILES)}")
            if args.html_only:
                html = book.build_html(args.profile, args.build_dir)
            else:
                html = book.build_book(args.profile, args.build_dir, only=args.only)
            print(f"book written to {html / 'index.html'}")
    except (book.ParameterError, KeyError) as err:
        msg = err.args[0] if err.args else str(err)
        print(f"lls-book: error: {msg}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
