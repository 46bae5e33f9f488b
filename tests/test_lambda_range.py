"""lls_core.pathfinder.lambda_range: the verdict on "the path height hardly depends on lambda"."""

import math

import numpy as np
import pytest

from lls_core import pathfinder


def test_range_is_the_widest_run_within_the_tolerance_of_the_best_drop():
    lams = [0.01, 0.1, 1, 10, 100, 1000]
    heights = [0.52, 0.41, 0.40, 0.405, 0.42, 0.9]  # line 1.0: drop 0.6; as good as the best: h <= 0.46
    r = pathfinder.lambda_range(lams, heights, 1.0)
    assert (r.lo, r.hi, r.n_in_range) == (0.1, 100.0, 4)
    assert r.decades == pytest.approx(3.0) and r.verdict == "supported"
    assert r.best == 0.40 and r.drop == pytest.approx(0.6)
    assert (r.range_min, r.range_max) == (0.40, 0.42)
    assert r.top_kept == pytest.approx((1.0 - 0.9) / 0.6)
    f = r.facts()
    assert f["verdict"] == "supported" and f["tolerance_pct"] == 10.0 and f["span"] == 2.0 and f["top_lambda"] == 1000.0
    # the order of the sweep does not matter
    perm = [3, 0, 5, 1, 4, 2]
    r2 = pathfinder.lambda_range([lams[i] for i in perm], [heights[i] for i in perm], 1.0)
    assert (r2.lo, r2.hi, r2.heights) == (r.lo, r.hi, r.heights)


def test_the_boundary_counts_and_a_tighter_tolerance_narrows_the_range():
    lams, heights = [1.0, 10.0, 100.0, 1000.0], [0.46, 0.4, 0.4, 0.4]  # 0.46 keeps exactly 90 % of the drop 0.6
    assert pathfinder.lambda_range(lams, heights, 1.0).lo == 1.0
    r = pathfinder.lambda_range(lams, heights, 1.0, tolerance=0.05)
    assert (r.lo, r.hi) == (10.0, 1000.0) and r.verdict == "supported"


def test_widest_in_decades_not_in_count_and_not_resolved_below_the_span():
    # two good runs: three values over 0.2 decades, two values over 1.5 decades
    lams = [1.0, 1.2, 1.5, 100.0, 1e4, 10 ** 5.5]
    heights = [0.4, 0.4, 0.4, 0.9, 0.4, 0.4]
    r = pathfinder.lambda_range(lams, heights, 1.0)
    assert (r.lo, r.hi) == (1e4, 10 ** 5.5) and r.decades == pytest.approx(1.5)
    assert r.verdict == "not resolved"  # the paper's claim covers two decades
    assert pathfinder.lambda_range(lams, heights, 1.0, span=1.5).verdict == "supported"


def test_a_single_good_value_is_a_range_of_zero_decades():
    r = pathfinder.lambda_range([0.1, 1.0, 10.0], [0.9, 0.3, 0.8], 1.0)
    assert (r.lo, r.hi, r.n_in_range, r.decades) == (1.0, 1.0, 1, 0.0)
    assert r.verdict == "not resolved" and math.isfinite(r.facts()["decades"])


def test_top_kept_is_negative_when_the_largest_lambda_climbs_above_the_line():
    r = pathfinder.lambda_range([1.0, 10.0, 1e4], [0.5, 0.5, 1.2], 1.0)
    assert r.top_kept == pytest.approx(-0.4)


@pytest.mark.parametrize("lams, heights, line, kw, match", [
    ([1.0], [0.5], 1.0, {}, "length >= 2"),
    ([1.0, 2.0], [0.5], 1.0, {}, "same length"),
    ([1.0, 1.0], [0.5, 0.6], 1.0, {}, "distinct"),
    ([0.0, 1.0], [0.5, 0.6], 1.0, {}, "> 0"),
    ([1.0, 2.0], [0.5, float("nan")], 1.0, {}, "finite"),
    ([1.0, 2.0], [0.5, 0.6], 1.0, {"tolerance": 0.0}, "tolerance"),
    ([1.0, 2.0], [0.5, 0.6], 1.0, {"span": -1.0}, "span"),
])
def test_bad_input_is_refused(lams, heights, line, kw, match):
    with pytest.raises(ValueError, match=match):
        pathfinder.lambda_range(np.asarray(lams), heights, line, **kw)


def test_no_path_below_the_line_is_not_resolved():
    r = pathfinder.lambda_range([1.0, 10.0, 100.0], [1.5, 1.1, 1.2], 1.0)
    assert r.verdict == "not resolved" and (r.lo, r.hi, r.n_in_range, r.decades) == (10.0, 10.0, 1, 0.0)
    assert r.drop == pytest.approx(-0.1) and r.top_kept == 0.0
    assert all(math.isfinite(v) for v in r.facts().values() if not isinstance(v, str))
