"""The book: chapter discovery and parameter validation, every chapter executed at its
``smoke`` profile, the HTML build with warnings as errors, and every page opened in
headless Chromium.

The chapter tests are generated from ``_toc.yml``, so a new chapter is tested as soon as
it is listed there.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import shutil
import threading
from pathlib import Path

import nbformat
import pytest

from lls_core import book, cli, glue

ROOT = book.project_root()
CHAPTERS = [c.slug for c in book.chapters(ROOT)]
_results: dict[str, object] = {}


# ----------------------------------------------------------------------------- unit tests


def _chapter(tmp_path: Path, params: str, front: str = "") -> book.Chapter:
    src = tmp_path / "demo.md"
    src.write_text(
        "---\njupytext:\n  text_representation: {extension: .md, format_name: myst}\n"
        "kernelspec: {display_name: Python 3, language: python, name: python3}\n"
        f"lls:\n{front or '  profiles: {smoke: {n: 2}}'}\n---\n# Demo\n\n"
        f"```{{code-cell}} ipython3\n:tags: [parameters]\n{params}\n```\n"
    )
    return book._read_chapter(src)


def test_parameters_cell_is_parsed_with_help_and_checks(tmp_path):
    ch = _chapter(
        tmp_path,
        "n = 10  # number of starts\nlr = 0.1\nname = 'adam'  # optimizer",
        "  profiles: {smoke: {n: 2}, paper: {n: 1000}}\n  checks: {n: {min: 1, max: 5000}, name: {choices: [adam, sgd]}}",
    )
    assert [p.name for p in ch.parameters] == ["n", "lr", "name"]
    assert ch.parameter("n").help == "number of starts"
    assert book.resolve_parameters(ch, "smoke") == {"n": 2, "lr": 0.1, "name": "adam"}
    assert book.resolve_parameters(ch, "paper", {"lr": 1}) == {"n": 1000, "lr": 1.0, "name": "adam"}


@pytest.mark.parametrize(
    "profile, overrides, match",
    [
        ("quick", {"m": 3}, "unknown parameter 'm'; valid: n, lr, name"),
        ("quick", {"n": 2.5}, "'n' = 2.5 has type float; expected an int in \\[1, 5000\\]"),
        ("quick", {"n": 0}, "'n' = 0 is out of range"),
        ("quick", {"n": True}, "has type bool"),
        ("quick", {"lr": "fast"}, "'lr' = 'fast' has type str"),
        ("quick", {"lr": float("nan")}, "is NaN"),
        ("quick", {"name": "rmsprop"}, "one of 'adam', 'sgd'"),
        ("huge", {}, "unknown profile 'huge'; valid: smoke, quick, full, paper"),
    ],
)
def test_bad_parameters_are_refused_with_a_clear_message(tmp_path, profile, overrides, match):
    ch = _chapter(
        tmp_path,
        "n = 10\nlr = 0.1\nname = 'adam'",
        "  profiles: {}\n  checks: {n: {min: 1, max: 5000}, name: {choices: [adam, sgd]}}",
    )
    with pytest.raises(book.ParameterError, match=match):
        book.resolve_parameters(ch, profile, overrides)


@pytest.mark.parametrize(
    "params, front, match",
    [
        ("n = 10\nprint(n)", "", "only hold 'name = literal'"),
        ("n = 10", "  profiles: {smoke: {m: 1}}", "unknown parameter 'm'"),
        ("n = 10", "  profiles: {huge: {n: 1}}", "unknown profile 'huge'"),
        ("n = 10", "  checks: {k: {min: 0}}", "unknown parameters \\['k'\\]"),
    ],
)
def test_malformed_chapters_are_refused(tmp_path, params, front, match):
    with pytest.raises(ValueError, match=match):
        _chapter(tmp_path, params, front)


@pytest.mark.parametrize("text, value", [("3", 3), ("1e-3", 1e-3), ("0.5", 0.5), ("true", True), ("adam", "adam"), ("[1, 2]", [1, 2])])
def test_command_line_values_are_parsed(text, value):
    assert book.parse_value(text) == value


def test_book_profile_names_are_the_study_profiles():
    # book.PROFILE_NAMES is written out (the book tooling imports no torch); it must name
    # exactly the study's profiles, in their order.
    from lls_core import study

    assert book.PROFILE_NAMES == tuple(study.PROFILES)
    assert not hasattr(book, "PROFILES")


def test_cli_refuses_unknown_parameter_before_running(capsys):
    slug = CHAPTERS[0]
    assert cli.main(["run", slug, "-p", "no_such_parameter", "1"]) == 2
    err = capsys.readouterr().err
    assert "unknown parameter 'no_such_parameter'; valid: " in err


def test_cli_refuses_unknown_chapter(capsys):
    assert cli.main(["run", "no-such-chapter"]) == 2
    assert "unknown chapter 'no-such-chapter'; valid: " in capsys.readouterr().err


def test_cli_list_names_every_chapter(capsys):
    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out
    for slug in CHAPTERS:
        assert f"{slug}:" in out


def test_every_toc_entry_exists():
    for entry in book.toc_files(ROOT):
        assert (ROOT / f"{entry}.md").exists(), f"_toc.yml names {entry} but {entry}.md does not exist"


def test_chapters_have_a_title_and_a_smoke_profile():
    for ch in book.chapters(ROOT):
        assert ch.title != ch.slug, f"chapter {ch.slug} has no '# title'"
        assert "smoke" in ch.profiles, f"chapter {ch.slug} has no smoke profile"


# ----------------------------------------------------------------------------- chapters


@pytest.fixture(scope="session")
def build_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("book")


@pytest.mark.book
@pytest.mark.parametrize("slug", CHAPTERS)
def test_chapter_runs_at_smoke_profile(slug, build_dir):
    """Execute the chapter with papermill; no cell may error; every promised figure must exist."""
    try:
        res = book.run_chapter(slug, "smoke", build_dir=build_dir, root=ROOT)
    except Exception as err:  # keep the cause for the HTML test's message
        _results[slug] = err
        raise
    _results[slug] = res
    nb = nbformat.read(res.notebook, as_version=4)
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, f"{slug}: error outputs {[e.get('ename') for e in errors]}"
    glued = glue.glued_values(nb)
    assert "profile" in glued and all(p.name in glued for p in book.get_chapter(slug, ROOT).parameters), (
        f"{slug}: the runner did not glue the profile and every parameter"
    )
    names = [o["metadata"]["scrapbook"]["name"] for c in nb.cells for o in c.get("outputs", [])
             if "scrapbook" in o.get("metadata", {})]
    assert len(names) == len(set(names)), f"{slug}: glued twice: {sorted({n for n in names if names.count(n) > 1})}"
    bad = glue.nonfinite_glued(glued)
    assert not bad, f"{slug}: glued numbers that are not finite: {[(n, glued[n]) for n in bad]}"
    for fig in res.figures:
        assert fig.exists() and fig.stat().st_size > 1000, f"{slug}: figure {fig.name} missing or empty"
    for cell in nb.cells:
        figure = cell.get("metadata", {}).get("mystnb", {}).get("figure")
        if figure:  # a captioned cell must show exactly one thing: its figure
            shown = [
                o
                for o in cell.get("outputs", [])
                if o.get("output_type") in ("display_data", "execute_result")
                and "scrapbook" not in o.get("metadata", {})  # glue(..., display=False) records are invisible
            ]
            assert len(shown) == 1 and "image/png" in shown[0].get("data", {}), (
                f"{slug}: figure cell {figure.get('name')!r} displays {len(shown)} outputs; it must display one image"
            )


@pytest.fixture(scope="session")
def html(build_dir) -> Path:
    failed = [s for s in CHAPTERS if not isinstance(_results.get(s), book.ChapterRun)]
    if failed:
        pytest.fail(f"chapters did not run (see their tests): {failed}")
    return book.build_html("smoke", build_dir, ROOT)


@pytest.mark.book
def test_html_book_builds_with_every_toc_page(html):
    for entry in book.toc_files(ROOT):
        page = html / f"{entry}.html"
        assert page.exists(), f"{page} missing from the built book"
    assert (html / "index.html").exists()


# ----------------------------------------------------------------------------- browser

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")


@pytest.fixture(scope="session")
def browser():
    if not (CHROMIUM and CHROMEDRIVER):
        msg = "headless Chromium and chromedriver are needed (Debian: apt-get install chromium chromium-driver)"
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in (
        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync", "--window-size=1280,900",
    ):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


@pytest.fixture(scope="session")
def server(html):
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):  # silence the access log
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(html)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


PAGE_CHECK = """
const bad = Array.from(document.images).filter(i => !i.complete || i.naturalWidth === 0).map(i => i.src);
const errs = Array.from(document.querySelectorAll('.output.traceback, .output.error, .cell_output .traceback'))
  .map(e => e.textContent.slice(0, 200));
return JSON.stringify({title: document.title, ready: document.readyState, images: document.images.length,
  broken: bad, errors: errs, article: !!document.querySelector('article, main')});
"""


@pytest.mark.book
@pytest.mark.browser
@pytest.mark.parametrize("entry", book.toc_files(ROOT))
def test_page_loads_in_browser(entry, browser, server):
    """Each page loads, every image resolves, no cell shows an error, no severe console error."""
    browser.get(f"{server}/{entry}.html")
    state = json.loads(browser.execute_script(PAGE_CHECK))
    assert state["ready"] == "complete" and state["article"], f"{entry}: page did not load: {state}"
    assert "404" not in state["title"], f"{entry}: {state['title']}"
    assert not state["broken"], f"{entry}: images that do not resolve: {state['broken']}"
    assert not state["errors"], f"{entry}: error outputs: {state['errors']}"
    # every equation is typeset by the (offline) MathJax shipped with the book
    n_math = browser.execute_script("return document.querySelectorAll('span.math, div.math').length")
    if n_math:
        from selenium.webdriver.support.ui import WebDriverWait

        typeset = "return document.querySelectorAll('mjx-container').length"
        try:
            WebDriverWait(browser, 20).until(lambda d: d.execute_script(typeset) > 0)
        except Exception:
            pytest.fail(f"{entry}: {n_math} equations but MathJax typeset none")
    severe = [e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE" and "favicon" not in e["message"]]
    assert not severe, f"{entry}: console errors: {severe}"


def test_every_cited_key_is_in_the_bibliography_once():
    import re

    bib = (ROOT / "book" / "references.bib").read_text()
    keys = re.findall(r"^@\w+\{([^,]+),", bib, flags=re.M)
    dupes = {k for k in keys if keys.count(k) > 1}
    assert not dupes, f"duplicate bibliography keys: {sorted(dupes)}"
    sources = list((ROOT / "notebooks").glob("*.md")) + list((ROOT / "book").glob("*.md"))
    cited = {k.strip() for src in sources for group in re.findall(r"\{cite[pt]?\}`([^`]+)`", src.read_text()) for k in group.split(",")}
    missing = sorted(cited - set(keys))
    assert not missing, f"cited but not in book/references.bib: {missing}"


def test_documented_example_commands_are_valid():
    """Every `lls-book run ...` line in the README and the book's pages names a real chapter and parameters."""
    import re
    import shlex

    docs = [ROOT / "README.md", *(ROOT / "book").glob("*.md")]
    lines = [m for doc in docs for m in re.findall(r"^lls-book run [^#\n]*", doc.read_text(), flags=re.M)]
    assert lines, "no example commands found"
    for line in lines:
        words = shlex.split(line)[2:]
        chapter = book.get_chapter(words[0], ROOT)
        profile = words[words.index("--profile") + 1] if "--profile" in words else "quick"
        overrides = {words[i + 1]: book.parse_value(words[i + 2]) for i, w in enumerate(words) if w == "-p"}
        book.resolve_parameters(chapter, profile, overrides)
