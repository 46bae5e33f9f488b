"""Numbers and tables as the reader sees them: one notation, one table style.

:func:`fmt_number` writes a number for prose (it is what chapters pass to ``glue``):
three significant figures in plain notation, ``a.bc×10ⁿ`` outside [10⁻³, 10⁵),
exact integers with thousands separators, and ``—`` for a missing value (None / NaN).

:func:`table_html` renders a ``pandas.DataFrame`` (or a ``Styler``) in the book's one
table style: numbers through :func:`fmt_number` (a ``Styler`` keeps the formats its
chapter gave it), ``—`` for missing cells, no cell or row ever cut with ``…``, a
scrolling wrapper so that a wide table fits the text column, and tables of more than
``max_rows`` rows collapsed under a "show" toggle together with a link that downloads
the full table as CSV (embedded in the page, so it works offline). The colours come
from the theme (``book/_static/lls.css``), so the tables read in light and dark mode.

:func:`use_table_style` makes this the notebook's HTML for every DataFrame and Styler
it displays; :func:`lls_core.plotting.use_style` calls it, so every chapter gets it.

Example::

    >>> fmt_number(0.000012345)
    '1.23×10⁻⁵'
    >>> fmt_number(12345.678)
    '12,300'
    >>> fmt_number(float("nan"))
    '—'
"""

from __future__ import annotations

import base64
import html
import math
import numbers
import re
from typing import Any

__all__ = ["MISSING", "MAX_ROWS", "fmt_number", "format_cell", "table_html", "show_table", "use_table_style"]

MISSING = "—"
"""What a missing value (None, NaN, NaT, pd.NA) reads as, in prose and in tables."""

MAX_ROWS = 15
"""Tables longer than this are collapsed (with the full CSV downloadable)."""

_SUP = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def _group(text: str) -> str:
    """Thousands separators from 10,000 up (so years and 4-digit counts read plainly)."""
    head, dot, tail = text.partition(".")
    digits = head.lstrip("-")
    if len(digits) <= 4:
        return text
    return head[: len(head) - len(digits)] + f"{int(digits):,}" + dot + tail


def _is_missing(x: Any) -> bool:
    if x is None:
        return True
    try:
        import pandas as pd

        if x is pd.NA or x is pd.NaT:
            return True
    except ImportError:  # pragma: no cover - pandas is a dependency
        pass
    return isinstance(x, numbers.Real) and not isinstance(x, numbers.Integral) and math.isnan(float(x))


def fmt_number(x: Any, sig: int = 3, *, lo: float = 1e-3, hi: float = 1e5) -> str:
    """A number written for a reader: ``sig`` significant figures, ``×10ⁿ`` only where needed.

    Args:
        x: an int, float, numpy scalar, 0-d tensor/array, or None.
        sig: significant figures for non-integers (>= 1).
        lo, hi: magnitudes in ``[lo, hi)`` are written plainly (``0.00123``,
            ``12,300``); others as ``1.23×10⁻⁵``.

    Integers (Python or numpy ints, and bools as ``True``/``False``) are exact, with
    thousands separators from 10,000 up: ``fmt_number(60000) == '60,000'``, ``fmt_number(2024) == '2024'``. Infinities read
    ``∞`` / ``−∞``; None and NaN read ``—``. Negative numbers use a true minus sign.
    A value that is not a number raises ``TypeError`` naming it.
    """
    if sig < 1:
        raise ValueError(f"sig must be >= 1; got {sig}")
    if hasattr(x, "item") and getattr(x, "ndim", 0) == 0 and not isinstance(x, (str, bytes)):
        x = x.item()  # numpy scalar, 0-d array or tensor
    if _is_missing(x):
        return MISSING
    if isinstance(x, bool):
        return str(x)
    if isinstance(x, numbers.Integral):
        return _group(f"{int(x)}").replace("-", "−")
    if not isinstance(x, numbers.Real):
        raise TypeError(f"fmt_number needs a number or None; got {x!r} ({type(x).__name__})")
    v = float(x)
    if math.isinf(v):
        return "∞" if v > 0 else "−∞"
    if v == 0:
        return "0"
    sign = "−" if v < 0 else ""
    a = abs(v)
    exp = math.floor(math.log10(a))
    mant = round(a / 10**exp, sig - 1)
    if mant >= 10:  # 9.996 -> 10.0 at 3 figures
        mant /= 10
        exp += 1
    rounded = mant * 10.0**exp
    if lo <= rounded < hi:
        return sign + _group(f"{rounded:.{max(sig - 1 - exp, 0)}f}")
    m = f"{mant:.{sig - 1}f}"
    return f"{sign}{m}×10{str(exp).translate(_SUP)}"


def format_cell(x: Any, sig: int = 3) -> str:
    """One table cell: numbers via :func:`fmt_number`, missing as ``—``, anything else as text."""
    if isinstance(x, (list, tuple)):
        return ", ".join(format_cell(v, sig) for v in x)
    if hasattr(x, "item") and getattr(x, "ndim", 0) == 0 and not isinstance(x, (str, bytes)):
        x = x.item()
    if _is_missing(x):
        return MISSING
    if isinstance(x, numbers.Number) and not isinstance(x, bool) and isinstance(x, numbers.Real):
        return fmt_number(x, sig)
    text = str(x)
    return MISSING if text in ("", "nan", "None", "NaN", "<NA>") else text


def _is_numeric_column(col) -> bool:
    import pandas as pd

    if pd.api.types.is_bool_dtype(col):
        return False
    if pd.api.types.is_numeric_dtype(col):
        return True
    vals = [v for v in col if not _is_missing(v)]
    return bool(vals) and all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in vals)


_MISSING_CELL = re.compile(r">(\s*)(nan|NaN|None|<NA>|&lt;NA&gt;|NaT)(\s*)<")


def _styler_html(styler) -> str:
    styler = styler.set_table_attributes('class="lls-table dataframe"')  # 'dataframe': the theme's dark mode then keeps the page background
    out = styler.to_html()
    return _MISSING_CELL.sub(lambda m: f">{m.group(1)}{MISSING}{m.group(3)}<", out)


def _frame_html(df, sig: int, index: bool) -> str:
    import pandas as pd

    shown = df.copy()
    numeric = [c for c in shown.columns if _is_numeric_column(shown[c])]
    shown = shown.astype(object)
    for c in shown.columns:
        shown[c] = [format_cell(v, sig) for v in shown[c]]
    if index:
        shown.index = shown.index.map(lambda v: format_cell(v, sig) if not isinstance(v, tuple) else tuple(format_cell(u, sig) for u in v))
    classes = pd.DataFrame("", index=shown.index, columns=shown.columns)
    for c in numeric:
        classes[c] = "lls-num"
    for c in shown.columns:
        classes.loc[shown[c] == MISSING, c] = "lls-missing"
    styler = shown.style.format(escape="html").set_td_classes(classes)
    if not index:
        styler = styler.hide(axis="index")
    return _styler_html(styler)


def table_html(data, *, sig: int = 3, max_rows: int = MAX_ROWS, name: str | None = None,
               caption: str | None = None, index: bool = True) -> str:
    """The book's HTML for a DataFrame or Styler (see the module docstring).

    Args:
        data: a ``pandas.DataFrame``, ``Series`` or ``Styler``.
        sig: significant figures for numbers (DataFrames only; a Styler keeps its formats).
        max_rows: above this many rows the table is collapsed and a CSV link added.
        name: file name (without ``.csv``) of the download; default ``table``.
        caption: optional caption above the table.
        index: show the index (DataFrames only).

    Returns an HTML fragment (a string). Nothing is truncated.
    """
    import pandas as pd
    from pandas.io.formats.style import Styler

    if isinstance(data, pd.Series):
        data = data.to_frame()
    if isinstance(data, Styler):
        frame = data.data
        body = _styler_html(data)
    elif isinstance(data, pd.DataFrame):
        frame = data
        body = _frame_html(data, sig, index)
    else:
        raise TypeError(f"table_html needs a DataFrame, Series or Styler; got {type(data).__name__}")
    if max_rows < 1:
        raise ValueError(f"max_rows must be >= 1; got {max_rows}")
    cap = f'<p class="lls-table-caption">{html.escape(caption)}</p>' if caption else ""
    body = f'<div class="lls-table-wrap">{body}</div>'
    n = len(frame)
    if n <= max_rows:
        return cap + body
    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", name or frame.attrs.get("name", "table")) or "table"
    csv = frame.to_csv().encode("utf-8")
    href = "data:text/csv;charset=utf-8;base64," + base64.b64encode(csv).decode("ascii")
    link = f'<a class="lls-csv" download="{stem}.csv" href="{href}">Download all {n:,} rows as CSV ({stem}.csv)</a>'
    return (
        f'{cap}<details class="lls-table-more"><summary>Show the table ({n:,} rows × {frame.shape[1]} columns)</summary>'
        f"{body}</details><p>{link}</p>"
    )


class _Shown:
    """A displayable table: HTML for the book, plain text for a console."""

    def __init__(self, html_text: str, plain: str):
        self._html = html_text
        self._plain = plain

    def _repr_html_(self) -> str:
        return self._html

    def __repr__(self) -> str:
        return self._plain


def show_table(data, **kwargs) -> _Shown:
    """A displayable object in the book's table style (``display(show_table(df, name="x"))``).

    Keyword arguments are those of :func:`table_html`.
    """
    import pandas as pd

    frame = getattr(data, "data", data)
    with pd.option_context("display.max_rows", 20, "display.max_columns", 20):
        plain = repr(frame)
    return _Shown(table_html(data, **kwargs), plain)


def use_table_style() -> bool:
    """Display every DataFrame and Styler of this IPython session in the book's table style.

    Returns False (and does nothing) outside IPython.
    """
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover
        return False
    ip = get_ipython()
    if ip is None:
        return False
    import pandas as pd
    from pandas.io.formats.style import Styler

    fmt = ip.display_formatter.formatters["text/html"]
    fmt.for_type(pd.DataFrame, lambda df: table_html(df))
    fmt.for_type(pd.Series, lambda s: table_html(s))
    fmt.for_type(Styler, lambda st: table_html(st))
    pd.set_option("styler.format.na_rep", MISSING)
    pd.set_option("styler.format.precision", 3)
    return True
