"""Docstrings of attributes, module data and properties as written, for the API page (book/api.md).

``lls_core`` writes attribute docstrings as plain sentences, often ``"Path height (barrier): max(losses)"``.
:mod:`sphinx.ext.napoleon` reads the text before such a colon as the attribute's *type* and turns it into a
cross-reference, which the nitpicky build reports as a missing class. This extension keeps those docstrings out
of napoleon: it saves their lines before napoleon runs and puts them back after it. Function, class and module
docstrings (``Args:``, ``Parameters``, ``Example:`` sections) still go through napoleon.
"""

from __future__ import annotations

_PLAIN = ("attribute", "data", "property")


def _save(app, what, name, obj, options, lines):
    if what in _PLAIN:
        app.env.temp_data.setdefault("lls_plain_docstrings", {})[name] = list(lines)


def _restore(app, what, name, obj, options, lines):
    saved = app.env.temp_data.get("lls_plain_docstrings", {}).pop(name, None)
    if what in _PLAIN and saved is not None:
        lines[:] = saved


def setup(app):
    # napoleon's handler runs at the default priority (500)
    app.connect("autodoc-process-docstring", _save, priority=100)
    app.connect("autodoc-process-docstring", _restore, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
