"""Figure fixes shared by chapters: log axes without overprinted labels, visible
histogram outlines, one y range across panels, plural labels."""

from __future__ import annotations

import matplotlib

matplotlib.use("agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from lls_core import plotting  # noqa: E402


def _labels(ax):
    ax.figure.canvas.draw()
    major = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
    minor = [t.get_text() for t in ax.get_xticklabels(minor=True) if t.get_text()]
    return major, minor


def test_tidy_log_axis_drops_minor_labels_on_a_short_span():
    fig, ax = plt.subplots()
    ax.plot([0.35, 0.9], [0, 1])
    ax.set_xscale("log")
    _, minor_before = _labels(ax)
    plotting.tidy_log_axis(ax, "x")
    major, minor = _labels(ax)
    assert minor_before and not minor  # matplotlib labels minor ticks here; the fix removes them
    assert 1 <= len(major) <= 6
    plt.close(fig)


def test_barrier_histograms_keep_every_set_visible():
    rng = np.random.default_rng(0)
    sets = ["BFGS-train", "BFGS-test", "SGD-train", "SGD-test"]
    rows = [{"arch": "fcp", "landscape": "train", "set": s, "height": h}
            for s in sets for h in (rng.uniform(0.5, 0.6, 6) if s.startswith("BFGS") else rng.uniform(2e-2, 3e3, 6))]
    fig = plotting.barrier_histograms(pd.DataFrame(rows), ["fcp"], "train", sets)
    ax = fig.axes[0]
    steps = [p for p in ax.patches]
    assert len(steps) == 4
    widths = [p.get_linewidth() for p in steps]
    assert len(set(widths)) == 4  # identical histograms still show as separate outlines
    styles = {p.get_facecolor()[:3] for p in steps}
    assert ax.get_xscale() == "log"
    assert "cross-entropy" in ax.get_xlabel() and "autoencoder" not in ax.get_xlabel()
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [f"{s} (6)" for s in sets]
    assert plotting.set_linestyle("SGD-test") == "--" and plotting.set_linestyle("BFGS-train") == "-"
    assert styles  # drawn
    plt.close(fig)


def test_share_y_limits_gives_one_scale():
    fig, axes = plt.subplots(1, 2)
    axes[0].plot([1, 2], [1e-4, 1e-3])
    axes[1].plot([1, 2], [0.5, 2.0])
    plotting.share_y_limits(axes)
    assert axes[0].get_yscale() == axes[1].get_yscale() == "log"
    assert axes[0].get_ylim() == axes[1].get_ylim()
    assert axes[0].get_ylim()[0] < 1e-4 and axes[0].get_ylim()[1] > 2.0
    plt.close(fig)


def test_plural():
    assert plotting.plural(1, "hidden layer") == "1 hidden layer"
    assert plotting.plural(3, "hidden layer") == "3 hidden layers"
    assert plotting.plural(2, "batch", "batches") == "2 batches"


def test_colorbar_ticks_stay_inside_the_bar():
    ticks = plotting.colorbar_ticks(-0.2, 8.0)
    assert ticks.min() >= -0.2 and ticks.max() <= 8.0 and 3 <= len(ticks) <= 6


def test_contour_colorbar_has_no_tick_beyond_its_ends():
    from lls_core import surfaces

    fig, ax = plt.subplots()
    plotting.plot_contour(surfaces.get("fig2a"), ax, n=41, mark_critical=False)
    cbar_ax = fig.axes[-1]
    lo, hi = cbar_ax.get_ylim()
    ticks = cbar_ax.get_yticks()
    assert len(ticks) and ticks.min() >= lo - 1e-9 and ticks.max() <= hi + 1e-9
    plt.close(fig)


def test_batch_colors_are_ordered_distinct_and_not_optimizer_colours():
    cols = plotting.batch_colors([64, 16, 256, 16])
    assert list(cols) == [16, 64, 256] and len(set(cols.values())) == 3
    taken = {c.lower() for c in (*plotting.OPTIMIZER_COLORS.values(), *plotting.SET_COLORS.values())}
    assert not taken & {c.lower() for c in cols.values()}
    assert plotting.batch_colors([16, 64]) == {16: cols[16], 64: plotting.batch_colors([16, 64])[64]}
    assert plotting.batch_colors([]) == {}


def test_torch_lbfgs_has_an_unmistakable_label():
    assert plotting.label("L-BFGS") == "L-BFGS (torch)"
    assert plotting.label("L-BFGS-GSS") == "L-BFGS-GSS" and plotting.label("SGD") == "SGD"
    assert plotting.color("L-BFGS (torch)") == plotting.color("L-BFGS") != plotting.color("L-BFGS-GSS")
