"""The surface-plotting helpers of lls_core.plotting (contours with paths, 3-D, plotly)."""

from __future__ import annotations

import matplotlib

matplotlib.use("agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from lls_core import plotting, surfaces  # noqa: E402


def test_plot_contour_draws_paths_with_book_colours_and_critical_points():
    s = surfaces.get("case4")
    path = np.array([[-2.0, -2.0], [0.0, -1.0], [0.23, -1.63]])
    ax = plotting.plot_contour(s, n=41, paths={"Adam": path, "my run": torch.tensor(path) * 0.5})
    lines = [ln for ln in ax.get_lines() if ln.get_label() == "Adam"]
    assert len(lines) == 1 and matplotlib.colors.same_color(lines[0].get_color(), plotting.color("Adam"))
    np.testing.assert_allclose(lines[0].get_xydata(), path)
    labels = ax.get_legend_handles_labels()[1]
    assert {"minimum", "saddle", "maximum", "Adam", "my run"} <= set(labels)
    assert ax.get_xlim() == s.domain[0] and ax.get_ylim() == s.domain[1]
    plt.close(ax.figure)


def test_plot_contour_rejects_bad_paths_and_levels():
    s = surfaces.get("case1")
    with pytest.raises(ValueError, match=r"shape \(T, 2\)"):
        plotting.plot_contour(s, n=21, paths=[np.zeros((5, 3))])
    with pytest.raises(ValueError, match="levels"):
        plotting.plot_contour(s, n=21, levels=1)
    with pytest.raises(ValueError, match="mark_critical"):
        plotting.plot_contour(s, n=21, mark_critical=("valleys",))
    plt.close("all")


def test_plot_surface_needs_3d_axes_and_grid_has_both_rows():
    s = surfaces.get("toy")
    _, ax = plt.subplots()
    with pytest.raises(ValueError, match="3-D"):
        plotting.plot_surface(s, ax)
    fig = plotting.plot_surface_grid([s, surfaces.get("case3")], n=21, clip=[None, (-1.0, 1.0)])
    assert sum(getattr(a, "name", "") == "3d" for a in fig.axes) == 2
    with pytest.raises(ValueError, match="2 entries"):
        plotting.plot_surface_grid([s, s], n=21, titles=["only one"])
    plt.close("all")


def test_plotly_html_embeds_plotly_js_inline():
    fig = plotting.plotly_surfaces([surfaces.get("case1"), surfaces.get("toy")], n=11)
    assert len(fig.layout.updatemenus[0].buttons) == 2
    html = plotting.plotly_html(fig, div_id="x")
    assert "<script src=" not in html and "plotly.js v" in html and 'id="x"' in html
    assert "plotly.js v" not in plotting.plotly_html(fig, include_plotlyjs=False)


def test_show_figure_writes_closes_and_displays(tmp_path, monkeypatch):
    monkeypatch.setenv("LLS_FIGURE_DIR", str(tmp_path))
    fig, ax = plt.subplots()
    ax.plot([0, 1])
    path = plotting.show_figure(fig, "demo")
    assert path == tmp_path / "demo.png" and path.stat().st_size > 1000
    assert not plt.fignum_exists(fig.number)
