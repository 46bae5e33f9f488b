"""The book's number notation and table style (lls_core.tables)."""

from __future__ import annotations

import base64
import math
import re

import numpy as np
import pandas as pd
import pytest

from lls_core import tables
from lls_core.tables import MISSING, fmt_number, format_cell, show_table, table_html


@pytest.mark.parametrize(
    "value, text",
    [
        (0.000012345, "1.23×10⁻⁵"),
        (-8.9e-06, "−8.90×10⁻⁶"),
        (6.99e19, "6.99×10¹⁹"),
        (12345.678, "12,300"),
        (99999.9, "1.00×10⁵"),  # rounds up past the plain range
        (9.996, "10.0"),
        (0.5, "0.500"),
        (123.456, "123"),
        (0.00099996, "0.00100"),
        (2.26e-09, "2.26×10⁻⁹"),
        (-0.0, "0"),
        (60000, "60,000"),
        (2024, "2024"),
        (-12345, "−12,345"),
        (np.int64(5000), "5000"),
        (np.float32(3.14159), "3.14"),
        (float("inf"), "∞"),
        (float("-inf"), "−∞"),
        (None, MISSING),
        (float("nan"), MISSING),
        (np.nan, MISSING),
        (pd.NA, MISSING),
        (True, "True"),
    ],
)
def test_fmt_number(value, text):
    assert fmt_number(value) == text


def test_fmt_number_round_trips_to_three_significant_figures():
    rng = np.random.default_rng(0)
    for v in 10.0 ** rng.uniform(-12, 12, 200) * rng.choice([-1, 1], 200):
        text = fmt_number(v).replace("−", "-").replace(",", "")
        if "×10" in text:
            mant, exp = text.split("×10")
            back = float(mant) * 10 ** int(exp.translate(str.maketrans("⁻⁰¹²³⁴⁵⁶⁷⁸⁹", "-0123456789")))
        else:
            back = float(text)
        assert math.isclose(back, v, rel_tol=5e-3), (v, text)


def test_fmt_number_refuses_text_and_bad_sig():
    with pytest.raises(TypeError, match="'abc'"):
        fmt_number("abc")
    with pytest.raises(ValueError, match="sig"):
        fmt_number(1.0, sig=0)


def test_cells_missing_values_and_lists():
    assert format_cell(None) == MISSING
    assert format_cell("nan") == MISSING
    assert format_cell([0.1234, 2]) == "0.123, 2"
    assert format_cell("text") == "text"


def test_dataframe_html_rounds_marks_missing_and_never_cuts():
    long_text = "a very long description " * 10
    df = pd.DataFrame({"loss": [1.23456, np.nan, 3e-7], "note": ["x", None, long_text], "n": [1, 2, 3]})
    out = table_html(df)
    assert 'class="lls-table dataframe"' in out and "lls-table-wrap" in out
    assert "1.23<" in out and "3.00×10⁻⁷" in out
    assert ">nan<" not in out and ">None<" not in out and out.count(MISSING) == 2
    assert long_text.strip() in out and "…" not in out and "..." not in out
    assert "lls-num" in out  # numeric columns right-aligned


def test_html_is_escaped():
    out = table_html(pd.DataFrame({"a": ["<script>x</script>"]}))
    assert "<script>x" not in out and "&lt;script&gt;" in out


def test_long_tables_collapse_with_the_full_csv():
    df = pd.DataFrame({"x": np.arange(40) / 7, "y": np.arange(40)})
    out = table_html(df, name="my table")
    assert out.startswith("<details") or "<details" in out
    assert "40 rows" in out
    m = re.search(r'download="([^"]+)" href="data:text/csv;charset=utf-8;base64,([^"]+)"', out)
    assert m and m.group(1) == "my_table.csv"
    csv = base64.b64decode(m.group(2)).decode()
    back = pd.read_csv(__import__("io").StringIO(csv), index_col=0)
    pd.testing.assert_frame_equal(back, df)  # full precision, every row
    assert "<details" not in table_html(df.head(15))


def test_styler_keeps_its_formats_and_replaces_missing():
    df = pd.DataFrame({"a": [1.0, np.nan], "b": ["x", None]})
    out = table_html(df.style.format({"a": "{:.1f}"}))
    assert "1.0" in out and ">nan<" not in out and ">None<" not in out and MISSING in out
    assert 'class="lls-table dataframe"' in out


def test_multiindex_and_series():
    df = pd.DataFrame({"v": [0.11111, 2.0]}, index=pd.MultiIndex.from_tuples([("a", 1), ("b", 2)], names=["k", "i"]))
    out = table_html(df)
    assert "0.111" in out and "k" in out
    assert "0.111" in table_html(df["v"])


def test_show_table_has_html_and_plain_text():
    shown = show_table(pd.DataFrame({"a": [1.5]}))
    assert "lls-table" in shown._repr_html_() and "1.5" in repr(shown)
    with pytest.raises(TypeError, match="DataFrame"):
        table_html([1, 2])


def test_use_table_style_outside_ipython_is_a_no_op():
    assert tables.use_table_style() is False
