"""Small Sphinx fixes for the book's HTML.

sphinx-thebe 0.3.1 adds its inline configuration script once per
``env-before-read-docs`` event; under Jupyter Book 1.x that event fires twice, so
every page declared ``const THEBE_JS_URL`` twice and the browser reported a
SyntaxError. Here each page's script list is de-duplicated before rendering.
"""

from __future__ import annotations


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


def setup(app):
    # early: a later handler may return a template name, which ends the event chain
    app.connect("html-page-context", _dedupe_scripts, priority=100)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
