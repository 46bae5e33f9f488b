"""How the book presents itself: the page's parameters block, hidden plumbing, the
reproducibility facts, the author-year bibliography, the citation file and the config."""

from __future__ import annotations

import json
import sys

import nbformat
import pytest
import yaml

from lls_core import book, reproducibility

ROOT = book.project_root()


def _chapter(tmp_path):
    src = tmp_path / "demo.md"
    src.write_text(
        "---\njupytext:\n  text_representation: {extension: .md, format_name: myst}\n"
        "kernelspec: {display_name: Python 3, language: python, name: python3}\n"
        "lls:\n  profiles: {smoke: {n: 2}}\n---\n# Demo\n\n"
        "```{code-cell} ipython3\n:tags: [parameters]\nn = 10  # how many\nlr = 0.5  # step | size\n```\n"
    )
    return book._read_chapter(src)


def _executed(tmp_path, params):
    nb = nbformat.v4.new_notebook()
    nb.metadata["papermill"] = {"parameters": params}
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Demo\n\nIntro."),
        nbformat.v4.new_code_cell("n = 10\nlr = 0.5", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("n = 2\nlr = 0.1", metadata={"tags": ["injected-parameters"]}),
        nbformat.v4.new_code_cell('glue("a", 1, display=False)\nglue("b", 2, display=False)'),
        nbformat.v4.new_code_cell('x = 1\nglue("c", x, display=False)'),
        nbformat.v4.new_code_cell('import lls_core.book  # checks\nlls_core.book.check_parameters("demo", globals())'),
        nbformat.v4.new_markdown_cell("Text {glue:text}`a`."),
    ]
    path = tmp_path / "demo.ipynb"
    nbformat.write(nb, str(path))
    return path


def test_present_notebook_hides_plumbing_and_states_the_profile(tmp_path):
    ch = _chapter(tmp_path)
    src = _executed(tmp_path, {"n": 2, "lr": 0.1})
    before = src.read_text()
    out = book.present_notebook(src, tmp_path / "out" / "demo.ipynb", ch, "smoke")
    assert src.read_text() == before  # the executed notebook is untouched
    nb = nbformat.read(str(out), as_version=4)
    tags = [c.metadata.get("tags", []) for c in nb.cells]
    block = nb.cells[1]
    assert block.cell_type == "markdown" and "`smoke` profile" in block.source
    assert "| `n` | `2` | smoke profile |" in block.source
    assert "| `lr` | `0.1` | override (-p) |" in block.source
    assert "step / size" in block.source  # a pipe in the help text cannot break the table
    assert "remove-cell" in tags[2] and "remove-cell" in tags[3]  # parameters, injected
    assert "remove-cell" in tags[4]  # glue only
    assert "remove-cell" not in tags[5]  # computes something too: shown
    assert "remove-cell" in tags[6]  # the chapter's parameter self-check


def test_parameters_block_defaults_and_long_tables_collapse(tmp_path):
    ch = _chapter(tmp_path)
    text = book.parameters_block(ch, "quick", {"n": 10, "lr": 0.5})
    assert text.count("| default |") == 2 and "dropdown" not in text
    assert "lls-book run demo --profile quick" in text


def test_reproducibility_reads_the_run_records(tmp_path):
    runs = {"smoke": {"a": {"wall_seconds": 30.0, "parameters": {"n": 2, "xs": [1, 2]}, "finished": "2026-01-01T00:00:00"},
                      "b": {"wall_seconds": 90.0, "parameters": {}, "finished": "2026-01-01T00:02:00"}}}
    (tmp_path / "runs.json").write_text(json.dumps(runs))
    used = reproducibility.parameters_used(tmp_path, "smoke")
    assert used.loc[("smoke", "a", "xs"), "value"] == "[1, 2]"
    assert len(used) == 2
    s = reproducibility.build_summary(tmp_path, "smoke")
    assert s["chapters executed"] == "2" and s["total wall time"].startswith("2.0 min")
    assert s["last chapter finished"] == "2026-01-01T00:02:00"
    assert reproducibility.parameters_used(tmp_path / "none").empty
    assert reproducibility.git_commit(tmp_path) == "unknown"
    assert len(reproducibility.git_commit(ROOT).split()[0]) in (40, 7) or reproducibility.git_commit(ROOT) == "unknown"


def test_bibliography_labels_are_author_year():
    sys.path.insert(0, str(ROOT / "book" / "_ext"))
    import lls_bibstyle
    from pybtex.database import parse_file
    from pybtex.plugin import find_plugin

    lls_bibstyle.setup(None)
    style = find_plugin("pybtex.style.formatting", "lls_authoryear")()
    entries = {e.key: e for e in style.format_bibliography(parse_file(str(ROOT / "book" / "references.bib")))}
    assert entries["YuMorozov2026"].label == "Yu and Morozov, 2026"
    assert entries["Keskar2017"].label == "Keskar et al., 2017"
    assert entries["Explainer"].label.endswith(", n.d.")
    assert entries["LLSSurvey"].label.startswith("Survey of Loss Landscape Surfaces")
    text = entries["Nesterov1983"].text.render_as("text")
    assert "$" not in text and "O(1/k²)" in text
    labels = [e.label for e in entries.values()]
    assert len(labels) == len(set(labels))


def test_core_sources_are_named_with_identifiers():
    bib = (ROOT / "book" / "references.bib").read_text()
    assert "Survey of Loss Landscape Surfaces: Theory, Applications and Algorithms" in bib
    assert "10.31224/5069" in bib and "2025-08-13" in bib and "2602.21276" in bib
    for word in ("seed", "shared", "the project's"):
        assert word not in bib.lower(), word


def test_citation_file_parses_and_names_the_papers():
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert cff["preferred-citation"]["title"] == cff["title"]
    assert cff["abstract"] and cff["repository-code"].startswith("https://")
    titles = [r["title"] for r in cff["references"]]
    assert "Survey of Loss Landscape Surfaces: Theory, Applications and Algorithms" in titles
    assert any(r.get("doi") == "10.31224/5069" for r in cff["references"])
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert cff["repository-code"] == config["repository"]["url"]  # one URL, repeated where it must be
    assert config["repository"]["url"] in (ROOT / "book" / "citation.md").read_text()


def test_config_numbers_and_links():
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert config["sphinx"]["config"]["numfig"] and config["sphinx"]["config"]["numfig_secnum_depth"] == 1
    assert config["html"]["use_repository_button"] and config["html"]["use_edit_page_button"]
    assert config["launch_buttons"]["binderhub_url"] and config["launch_buttons"]["colab_url"]
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    assert all(part.get("numbered") for part in toc["parts"] if part["caption"] != "Appendix")


@pytest.mark.parametrize("key", ["{version}", "{build_date}"])
def test_footer_fields_are_filled(key, monkeypatch):
    sys.path.insert(0, str(ROOT / "book" / "_ext"))
    import lls_sphinx_fixes

    monkeypatch.setenv("SOURCE_DATE_EPOCH", "0")
    facts = lls_sphinx_fixes.build_facts()
    assert facts["build_date"] == "1970-01-01 00:00 UTC"

    class Config:
        html_theme_options = {"extra_footer": f"v {key}"}

    lls_sphinx_fixes._fill_footer(None, Config)
    assert key not in Config.html_theme_options["extra_footer"]


def test_papermill_reads_every_parameter_line():
    """papermill's own reader must see every knob (an '=' in a help comment hides it, with a console warning)."""
    import jupytext
    from papermill.translators import PythonTranslator

    for ch in book.chapters(ROOT):
        nb = jupytext.read(ch.path)
        cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
        seen = {p.name for p in PythonTranslator.inspect(cell)}
        missing = [p.name for p in ch.parameters if p.name not in seen]
        assert not missing, f"{ch.slug}: papermill cannot parse the lines of {missing} (no '=' in their # help)"


def test_bibliography_is_sorted_by_label():
    sys.path.insert(0, str(ROOT / "book" / "_ext"))
    import lls_bibstyle
    from pybtex.database import parse_file
    from pybtex.plugin import find_plugin

    lls_bibstyle.setup(None)
    style = find_plugin("pybtex.style.formatting", "lls_authoryear")()
    labels = [e.label for e in style.format_bibliography(parse_file(str(ROOT / "book" / "references.bib")))]
    assert labels == sorted(labels, key=str.lower)


def test_pdf_build_refuses_up_front_without_latex(monkeypatch, capsys):
    from lls_core import cli

    monkeypatch.setattr(book.shutil, "which", lambda tool: None)
    assert "apt-get install" in book.pdf_tools_missing()
    assert cli.main(["build", "--profile", "smoke", "--html-only", "--pdf", "--build-dir", "/nonexistent"]) == 2
    assert "xelatex" in capsys.readouterr().err


def test_source_links_point_at_the_markdown_chapters():
    sys.path.insert(0, str(ROOT / "book" / "_ext"))
    import lls_sphinx_fixes

    buttons = [{"buttons": [
        {"url": "https://github.com/o/r/edit/main/notebooks/surfaces.ipynb"},
        {"url": "https://mybinder.org/v2/gh/o/r/main?urlpath=lab/tree/notebooks/surfaces.ipynb"},
        {"url": "https://colab.research.google.com/github/o/r/blob/main/notebooks/surfaces.ipynb"},
        {"url": "../_sources/notebooks/surfaces.ipynb"},
    ]}]
    context = {"header_buttons": buttons}
    lls_sphinx_fixes._source_links_to_markdown(None, "notebooks/surfaces", "page.html", context, None)
    urls = [b["url"] for b in buttons[0]["buttons"]]
    assert urls[0].endswith("notebooks/surfaces.md") and urls[1].endswith("notebooks/surfaces.md")
    assert urls[2].endswith(".ipynb") and urls[3].endswith(".ipynb")  # Colab and the download keep the notebook


def test_one_search_box():
    """pydata-sphinx-theme adds a header search field unless navbar_persistent is set; the sidebar has one."""
    sys.path.insert(0, str(ROOT / "book" / "_ext"))
    from types import SimpleNamespace

    import lls_sphinx_fixes

    Config = SimpleNamespace(html_theme_options={"search_bar_text": "Search this book..."})
    lls_sphinx_fixes._one_search_box(None, Config)
    assert Config.html_theme_options["navbar_persistent"] == []

    Chosen = SimpleNamespace(html_theme_options={"navbar_persistent": ["search-button"]})
    lls_sphinx_fixes._one_search_box(None, Chosen)
    assert Chosen.html_theme_options["navbar_persistent"] == ["search-button"]  # a deliberate choice stays


def _figure_cells():
    """(chapter slug, figure metadata) of every captioned figure of the book: figure cells and
    ``{glue:figure}`` directives (interactive outputs), whose ``:name:`` and caption are read alike."""
    import re

    import jupytext

    for ch in book.chapters(ROOT):
        for cell in jupytext.read(ch.path).cells:
            fig = cell.metadata.get("mystnb", {}).get("figure")
            if fig:
                yield ch.slug, fig
        for body in re.findall(r"^```\{glue:figure\}[^\n]*\n(.*?)^```", ch.path.read_text(), re.MULTILINE | re.DOTALL):
            name = re.search(r"^:name: *(\S+)", body, re.MULTILINE)
            caption = " ".join(ln for ln in body.splitlines() if not ln.startswith(":"))
            yield ch.slug, {"name": name.group(1) if name else None, "caption": caption}


def test_figures_are_named_and_captioned_with_the_papers_numbers_apart():
    names = [fig.get("name") for _, fig in _figure_cells()]
    assert names and all(names), "every captioned figure needs a name: for {numref}"
    assert len(names) == len(set(names)), "figure names must be unique across the book"
    for slug, fig in _figure_cells():
        caption = " ".join(str(fig.get("caption", "")).split())
        # the papers' figures are "survey Fig. 8" / "Yu & Morozov Fig. 4", never a bare "Figure 8"
        # that a reader takes for the book's own number
        assert "Figure" not in caption, f"{slug}/{fig['name']}: {caption[:80]!r}"
        assert not any(w in caption for w in ("lambda", "t_i", "log10", "^2")), f"{slug}/{fig['name']}: plain-text maths"


def test_numref_and_eq_targets_exist_and_figures_are_cited():
    import re

    labels = set()
    texts = {}
    for ch in book.chapters(ROOT):
        text = ch.path.read_text()
        texts[ch.slug] = text
        labels |= set(re.findall(r"^\$\$ *\((eq-[\w-]+)\)", text, re.MULTILINE))
    names = {fig["name"]: slug for slug, fig in _figure_cells()}
    for slug, text in texts.items():
        for target in re.findall(r"\{numref\}`([^`]+)`", text):
            assert target in names, f"{slug}: {{numref}} to unknown figure {target!r}"
        for target in re.findall(r"\{eq\}`([^`]+)`", text):
            assert target in labels, f"{slug}: {{eq}} to unknown equation {target!r}"
    uncited = [n for n, slug in names.items() if f"{{numref}}`{n}`" not in texts[slug]]
    assert not uncited, f"figures never cited from their chapter's prose: {uncited}"
