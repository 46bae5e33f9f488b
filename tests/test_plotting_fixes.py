"""Figure fixes shared by chapters: log axes without overprinted labels, visible
histogram outlines, one y range across panels, plural labels."""

from __future__ import annotations

import matplotlib

matplotlib.use("agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

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


def test_path_vs_line_one_colour_and_marker_per_set_and_the_diagonal():
    rng = np.random.default_rng(1)
    sets = ["BFGS-train", "SGD-test", "LBFGS-train"]
    frame = pd.DataFrame([{"set": s, "linear_height": lin, "height": lin * f}
                          for s in sets[:2] for lin, f in zip(rng.uniform(0.5, 2, 4), rng.uniform(0.3, 1, 4))])
    fig = plotting.path_vs_line(frame, sets)  # LBFGS-train has no pairs: skipped, not an empty entry
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == sets[:2]
    for coll, s in zip(ax.collections, sets[:2]):
        assert np.allclose(coll.get_facecolor()[0][:3], matplotlib.colors.to_rgb(plotting.color(s)))
        assert np.allclose(coll.get_offsets(), frame.loc[frame.set == s, ["linear_height", "height"]].to_numpy())
    (diag,) = ax.get_lines()
    both = frame[["height", "linear_height"]].to_numpy()
    assert list(diag.get_xdata()) == list(diag.get_ydata()) == [both.min(), both.max()]
    assert "(loss)" in ax.get_xlabel() and "(loss)" in ax.get_ylabel()
    plt.close(fig)
    with pytest.raises(ValueError, match="linear_height"):
        plotting.path_vs_line(frame.drop(columns="linear_height"), sets)


def test_spread_strips_one_panel_per_arch_rows_in_set_order():
    rng = np.random.default_rng(2)
    spread = {"fcp": {"SGD-train": rng.uniform(0.1, 0.2, 5), "BFGS-train": rng.uniform(0.3, 0.4, 5)},
              "lenet": {"BFGS-train": rng.uniform(0.3, 0.4, 3)}}
    fig = plotting.spread_strips(spread, ["BFGS-train", "SGD-train"])
    assert [ax.get_title() for ax in fig.axes] == ["FCP", "LeNet"]
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["BFGS-train", "SGD-train"]
    assert "weight units" in ax.get_xlabel()
    fig.canvas.draw()
    assert len([t for t in ax.get_xticklabels() if t.get_text()]) <= 5  # long labels of a narrow range: few
    points = {tuple(np.round(c.get_facecolor()[0][:3], 4)): len(c.get_offsets()) for c in ax.collections}
    assert points == {tuple(np.round(matplotlib.colors.to_rgb(plotting.color(s)), 4)): 5
                      for s in ("BFGS-train", "SGD-train")}
    plt.close(fig)
    with pytest.raises(ValueError, match="at least one"):
        plotting.spread_strips({}, ["BFGS-train"])


def test_sharpness_strips_log_axis_only_for_positive_values():
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"arch": ["fcp"] * 6 + ["lstm"] * 6, "set": ["BFGS-train", "SGD-train"] * 6,
                          "top_eigenvalue": rng.uniform(1, 100, 12), "trace": rng.uniform(-5, 50, 12)})
    frame.loc[frame.arch == "fcp", "trace"] = rng.uniform(1, 30, 6)
    fig = plotting.sharpness_strips(frame, ["SGD-train", "BFGS-train"])
    axes = np.reshape(fig.axes, (2, 2))
    assert [ax.get_title() for ax in axes[:, 0]] == ["FCP", "LSTM"]
    assert [ax.get_xscale() for ax in axes.ravel()] == ["log", "log", "log", "symlog"]
    assert "eigenvalue" in axes[0, 0].get_xlabel() and "trace" in axes[0, 1].get_xlabel()
    assert all("weight unit²" in ax.get_xlabel() for ax in axes.ravel())
    assert [t.get_text() for t in axes[0, 0].get_yticklabels()] == ["SGD-train", "BFGS-train"]
    plt.close(fig)
    with pytest.raises(ValueError, match="'lenet'"):
        plotting.sharpness_strips(frame, ["SGD-train"], ["lenet"])
