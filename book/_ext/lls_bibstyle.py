"""An author-year bibliography for the book.

The book cites author-year (``bibtex_reference_style = "author_year"``), so its
bibliography is labelled the same way: ``[Yu and Morozov, 2026]`` rather than a
number. Entries without authors (the survey, the online explainer) are labelled by
their title, as sphinxcontrib-bibtex's author-year citations already show them, and
entries without a year by ``n.d.``. Two entries that would share a label get
``2018a`` / ``2018b``.

Use ``bibtex_default_style: lls_authoryear`` in ``_config.yml``.
"""

from __future__ import annotations

from collections import Counter

from pybtex.plugin import register_plugin
from pybtex.richtext import Text
from pybtex.style.formatting.plain import Style as PlainStyle
from pybtex.style.labels import BaseLabelStyle
from pybtex.style.sorting import BaseSortingStyle


def _plain(latex: str) -> str:
    return Text.from_latex(latex).render_as("text")


def author_year_label(entry) -> str:
    """``Last``, ``Last and Last`` or ``Last et al.``, then ``, year`` (title when there is no author)."""
    persons = entry.persons.get("author") or entry.persons.get("editor") or []
    lasts = [_plain(" ".join(p.prelast_names + p.last_names)) for p in persons]
    if not lasts:
        who = _plain(entry.fields.get("title", entry.key))
    elif len(lasts) == 1:
        who = lasts[0]
    elif len(lasts) == 2:
        who = f"{lasts[0]} and {lasts[1]}"
    else:
        who = f"{lasts[0]} et al."
    return f"{who}, {entry.fields.get('year', 'n.d.')}"


class AuthorYearLabelStyle(BaseLabelStyle):
    def format_labels(self, sorted_entries):
        entries = list(sorted_entries)
        labels = [author_year_label(e) for e in entries]
        counts = Counter(labels)
        seen: Counter = Counter()
        for label in labels:
            if counts[label] > 1:
                seen[label] += 1
                yield label + "abcdefghijklmnopqrstuvwxyz"[seen[label] - 1]
            else:
                yield label


class AuthorYearSortingStyle(BaseSortingStyle):
    """Alphabetical by the label a reader sees (so title-only entries file under their title)."""

    def sorting_key(self, entry):
        return author_year_label(entry).lower()


class AuthorYearStyle(PlainStyle):
    default_label_style = "lls_authoryear"
    default_sorting_style = "lls_authoryear"


def setup(app):
    register_plugin("pybtex.style.labels", "lls_authoryear", AuthorYearLabelStyle)
    register_plugin("pybtex.style.sorting", "lls_authoryear", AuthorYearSortingStyle)
    register_plugin("pybtex.style.formatting", "lls_authoryear", AuthorYearStyle)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
