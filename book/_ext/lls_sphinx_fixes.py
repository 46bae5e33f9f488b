"""Small Sphinx fixes for the book's HTML.

- sphinx-thebe 0.3.1 adds its inline configuration script once per
  ``env-before-read-docs`` event; under Jupyter Book 1.x that event fires twice, so
  every page declared ``const THEBE_JS_URL`` twice and the browser reported a
  SyntaxError. Here each page's script list is de-duplicated before rendering.
- The footer (``html.extra_footer`` in ``_config.yml``) may hold ``{version}``,
  ``{commit}`` and ``{build_date}``; they are filled in when the build starts
  (``SOURCE_DATE_EPOCH`` fixes the date for reproducible builds).
- The chapters are built from executed ``.ipynb`` copies, but the repository holds
  them as jupytext ``.md`` files: the edit, repository and Binder links of a chapter
  are pointed at ``notebooks/<chapter>.md`` (Binder opens it with jupytext). Colab
  can open only ``.ipynb`` files, so its link keeps the ``.ipynb`` name (the
  repository must carry paired ``.ipynb`` copies for it to work; see the README).
- A figure's image gets its caption as alt text (myst-nb leaves the hashed file name).
- One search box: pydata-sphinx-theme (0.16+) puts a search field into a top navbar
  whenever ``navbar_persistent`` is not set by the user, and sphinx-book-theme already has
  one in its sidebar, so the book showed a second box in an otherwise empty header band.
  Unless the configuration sets it, ``navbar_persistent`` is emptied (the header is then
  not drawn at all; the sidebar field and Ctrl+K stay).
"""

from __future__ import annotations

import datetime as _dt
import os
import subprocess


def _dedupe_scripts(app, pagename, templatename, context, doctree):
    scripts = context.get("script_files")
    if not scripts:
        return
    seen = set()
    unique = []
    for js in scripts:
        attrs = getattr(js, "attributes", {}) or {}
        # the same inline script is registered once with filename None and once with ""
        key = (getattr(js, "filename", str(js)) or None, tuple(sorted((k, str(v)) for k, v in attrs.items())))
        if key in seen:
            continue
        seen.add(key)
        unique.append(js)
    # in place: later handlers (MathJax on pages with equations) add to this same list
    scripts[:] = unique


def build_facts() -> dict[str, str]:
    """``version`` (of lls-core), ``commit`` (short git hash or ``unknown``) and ``build_date`` (UTC)."""
    from importlib import metadata

    try:
        version = metadata.version("lls-core")
    except metadata.PackageNotFoundError:
        version = "unknown"
    root = os.environ.get("LLS_ROOT") or os.getcwd()
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10
        ).stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        commit = "unknown"
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    when = _dt.datetime.fromtimestamp(int(epoch), _dt.timezone.utc) if epoch else _dt.datetime.now(_dt.timezone.utc)
    return {"version": version, "commit": commit, "build_date": when.strftime("%Y-%m-%d %H:%M UTC")}


def _fill_footer(app, config):
    opts = config.html_theme_options
    footer = opts.get("extra_footer") if isinstance(opts, dict) else None
    if footer:
        facts = build_facts()
        for key, value in facts.items():
            footer = footer.replace("{" + key + "}", value)
        opts["extra_footer"] = footer


def _one_search_box(app, config):
    opts = config.html_theme_options
    if isinstance(opts, dict):
        opts.setdefault("navbar_persistent", [])


def _rewrite(node, old, new, skip):
    if isinstance(node, dict):
        url = node.get("url")
        if isinstance(url, str) and old in url and not any(s in url for s in skip):
            node["url"] = url.replace(old, new)
        for value in node.values():
            _rewrite(value, old, new, skip)
    elif isinstance(node, list):
        for value in node:
            _rewrite(value, old, new, skip)


def _source_links_to_markdown(app, pagename, templatename, context, doctree):
    if not pagename.startswith("notebooks/"):
        return
    _rewrite(context.get("header_buttons"), f"{pagename}.ipynb", f"{pagename}.md", skip=("colab", "_sources"))


def _alt_from_captions(app, doctree, docname):
    from docutils import nodes

    for figure in doctree.findall(nodes.figure):
        captions = list(figure.findall(nodes.caption))
        if not captions:
            continue
        text = " ".join(captions[0].astext().split())
        for image in figure.findall(nodes.image):
            alt = image.get("alt", "")
            if not alt or alt.endswith((".png", ".svg", ".jpg")) or "/" in alt:
                image["alt"] = text


def setup(app):
    # early: a later handler may return a template name, which ends the event chain
    app.connect("html-page-context", _dedupe_scripts, priority=100)
    app.connect("html-page-context", _source_links_to_markdown, priority=900)  # after the theme's buttons (501)
    app.connect("config-inited", _fill_footer)
    app.connect("config-inited", _one_search_box)  # before the theme's builder-inited defaults
    app.connect("doctree-resolved", _alt_from_captions)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
