"""glue_all: names and values checked before gluing; glued records read back; non-finite numbers found."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from lls_core import book, glue


def test_facts_are_normalised_to_python_scalars_with_prefix():
    out = glue.normalise_facts({"n": np.int64(3), "x": np.float32(0.5), "t": torch.tensor(2.0), "w": "word",
                                "xs": [np.float64(1.0), 2]}, prefix="p_")
    assert out == {"p_n": 3, "p_x": 0.5, "p_t": 2.0, "p_w": "word", "p_xs": [1.0, 2]}
    assert type(out["p_n"]) is int and type(out["p_x"]) is float


@pytest.mark.parametrize("facts, err, match", [
    ({"a:b": 1}, ValueError, "not valid"),
    ({"1a": 1}, ValueError, "not valid"),
    ({"a": np.zeros(3)}, TypeError, "'a' is a ndarray"),
    ({"a": None}, TypeError, "'a' is a NoneType"),
    ({"a": {"b": 1}}, TypeError, "'a' is a dict"),
])
def test_bad_facts_are_refused_by_name(facts, err, match):
    with pytest.raises(err, match=match):
        glue.normalise_facts(facts)


def _record(name: str, text: str) -> dict:
    return {"output_type": "display_data", "data": {"application/papermill.record/text/plain": text},
            "metadata": {"scrapbook": {"name": name, "mime_prefix": "application/papermill.record/"}}}


def test_glued_values_are_read_back_and_nonfinite_ones_named():
    nb = {"cells": [{"cell_type": "code", "outputs": [_record("a", "0.5"), _record("b", "nan"),
                                                       {"output_type": "stream", "text": "x"}]},
                    {"cell_type": "code", "outputs": [_record("c", "'words'"), _record("d", "np.float64(inf)"),
                                                       _record("e", "-inf"), _record("f", "3")]},
                    {"cell_type": "markdown", "source": "text"}]}
    values = glue.glued_values(nb)
    assert values == {"a": "0.5", "b": "nan", "c": "'words'", "d": "np.float64(inf)", "e": "-inf", "f": "3"}
    assert glue.nonfinite_glued(values) == ["b", "d", "e"]
    assert glue.nonfinite_glued({"ok": repr(math.pi)}) == []


def test_check_parameters_glues_nothing_outside_a_kernel(capsys):
    ns = {"title_width": 40}
    assert book.check_parameters("survey_data", ns) == {"title_width": 40}
    assert capsys.readouterr().out == ""  # no display records printed by a plain interpreter


def test_cells_that_only_glue_are_hidden_as_plumbing():
    assert book._glue_only('glue_all({"a": 1}, prefix="p_")\nglue_all(r.facts())')
    assert not book._glue_only('x = run()\nglue_all({"a": x})')


def test_glue_display_checks_before_gluing():
    from lls_core.glue import glue_display

    with pytest.raises(ValueError, match="not valid"):
        glue_display("3d", object())
    with pytest.raises(TypeError, match="display object"):
        glue_display("fig_3d", 1.0)
