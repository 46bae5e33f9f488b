"""Numbers for the prose: glue a mapping of named facts into a chapter in one call.

A chapter's prose reads numbers with ``{glue:text}`name:.3g``. Results that feed
prose carry a ``facts()`` method returning a flat mapping ``name -> scalar or
string``; a chapter glues it with one call::

    glue_all(result.facts(), prefix="toy_")

which replaces a run of hand-written ``glue("toy_height", ..., display=False)`` calls.
The runner glues every chapter parameter and the run profile itself (see
:func:`lls_core.book.check_parameters`), so chapters never glue those.

``myst_nb`` (a book dependency) is imported only when something is glued, so the
science modules that define ``facts()`` never import the book tooling.

Example (outside a kernel nothing is displayed; the checks still run):

>>> normalise_facts({"n": np.int64(3), "x": np.float32(0.5), "ok": True}, prefix="a_")
{'a_n': 3, 'a_x': 0.5, 'a_ok': True}
"""

from __future__ import annotations

import ast
import math
import re
from typing import Any, Mapping, Protocol

import numpy as np

__all__ = ["HasFacts", "glue_all", "glue_display", "normalise_facts", "glued_values", "nonfinite_glued"]

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SCALARS = (bool, int, float, str)


class HasFacts(Protocol):
    """A result whose ``facts()`` are the named numbers and words the prose quotes."""

    def facts(self) -> Mapping[str, Any]: ...


def _plain(name: str, value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    elif isinstance(value, np.ndarray) and value.ndim == 0:
        value = value.item()
    elif hasattr(value, "item") and getattr(value, "shape", None) == ():  # a 0-d torch tensor
        value = value.item()
    if isinstance(value, (list, tuple)):
        return [_plain(name, v) for v in value]
    if value is None or not isinstance(value, _SCALARS):
        raise TypeError(f"fact {name!r} is a {type(value).__name__}; glue takes a number, a bool, a string "
                        "or a list of those")
    return value


def normalise_facts(facts: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Check names and turn numpy / torch scalars into Python ones: ``{prefix + name: value}``.

    Raises ``ValueError`` for a name that is not an identifier (a ``:`` would break the
    ``{glue:text}`name:fmt``` role) and ``TypeError`` for a value that is not a scalar,
    a string or a list of those.
    """
    out: dict[str, Any] = {}
    for key, value in facts.items():
        name = f"{prefix}{key}"
        if not isinstance(key, str) or not _NAME.match(name):
            raise ValueError(f"glue name {name!r} is not valid; use letters, digits and '_' (not starting with a digit)")
        out[name] = _plain(name, value)
    return out


def glue_all(facts: Mapping[str, Any], prefix: str = "") -> None:
    """Glue every ``(name, value)`` of ``facts`` as ``prefix + name`` for the prose (not displayed).

    ``facts``: a flat mapping of names to numbers, bools, strings (or lists of them),
    usually ``result.facts()``. All names and values are checked before anything is glued.
    """
    from myst_nb import glue  # book tooling: imported only when a chapter glues

    for name, value in normalise_facts(facts, prefix).items():
        glue(name, value, display=False)


def glue_display(name: str, obj: Any) -> None:
    """Glue a display object (e.g. ``IPython.display.HTML`` of an interactive figure) as ``name``.

    The page shows it where a ``{glue:figure}`` directive names it, which numbers and
    captions it like any other figure (``:name:`` makes it a ``{numref}`` target).
    """
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(f"glue name {name!r} is not valid; use letters, digits and '_' (not starting with a digit)")
    if not hasattr(obj, "_repr_html_") and not hasattr(obj, "_repr_mimebundle_"):
        raise TypeError(f"glue_display({name!r}, ...) needs a display object (with _repr_html_); got {type(obj).__name__}")
    from myst_nb import glue  # book tooling: imported only when a chapter glues

    glue(name, obj, display=False)


def glued_values(notebook: Mapping[str, Any]) -> dict[str, str]:
    """The ``text/plain`` of every glued value of an executed notebook (dict form, nbformat v4).

    Reads the records ``myst_nb.glue(..., display=False)`` leaves in cell outputs
    (``metadata.scrapbook.name``, data under ``application/papermill.record/``).
    """
    found: dict[str, str] = {}
    for cell in notebook.get("cells", []):
        for out in cell.get("outputs", []) or []:
            meta = (out.get("metadata") or {}).get("scrapbook")
            if not meta:
                continue
            data = out.get("data") or {}
            prefix = meta.get("mime_prefix", "")
            text = data.get(prefix + "text/plain")
            if text is not None:
                found[meta["name"]] = text if isinstance(text, str) else "".join(text)
    return found


def nonfinite_glued(values: Mapping[str, str]) -> list[str]:
    """Names of glued values that are numbers but not finite (NaN or infinite)."""
    bad = []
    for name, text in values.items():
        t = text.strip()
        if t.startswith("np.float") and t.endswith(")"):  # numpy 2 repr: np.float64(nan)
            t = t[t.index("(") + 1 : -1]
        if t.lower() in ("nan", "inf", "-inf", "+inf"):
            bad.append(name)
            continue
        try:
            value = ast.literal_eval(t)
        except (SyntaxError, ValueError):
            continue  # a word, not a number
        if isinstance(value, float) and not math.isfinite(value):
            bad.append(name)
    return bad
