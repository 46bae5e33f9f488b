"""The figures of the visualization chapter, drawn from small hand-made results: what each panel shows
(colours per batch size, one colour scale, medians, labels with units) and refusals of inconsistent input."""

from __future__ import annotations

import matplotlib

matplotlib.use("agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from lls_core import hessian, plotting, visualize as vz, vizstudy as vs  # noqa: E402

RNG = np.random.default_rng(0)


def _slice(scale: float) -> vz.Slice2D:
    a = np.linspace(-1, 1, 7)
    return vz.Slice2D(a, a, scale * (1 + a[None, :] ** 2 + a[:, None] ** 2))


def _map() -> vz.CurvatureMap:
    a = np.linspace(-1, 1, 3)
    return vz.CurvatureMap(a, a, -0.1 * np.ones((3, 3)), np.ones((3, 3)), 5)


def test_slice_map_grid_shares_one_colour_scale():
    slices = {"1 hidden layer": _slice(0.01), "10 hidden layers": _slice(10.0)}
    fig = plotting.slice_map_grid(slices, {k: _map() for k in slices})
    top = [ax for ax in fig.axes if ax.get_title() in slices]
    assert [ax.get_title() for ax in top] == list(slices)
    limits = {tuple(np.round(ax.collections[0].get_clim(), 6)) for ax in top}
    assert len(limits) == 1  # one scale: log10 of 0.01 (-2) up to log10 of 30
    (lo, hi), = limits
    assert lo == pytest.approx(-2.0) and hi == pytest.approx(np.log10(30.0))
    labels = [ax.get_ylabel() for ax in fig.axes]
    assert "log₁₀ training loss" in labels and r"$|\lambda_{min}/\lambda_{max}|$" in labels
    plt.close(fig)
    with pytest.raises(ValueError, match="same, non-empty labels"):
        plotting.slice_map_grid(slices, {"1 hidden layer": _map()})


def test_run_strips_marks_each_median():
    table = pd.DataFrame({"label": ["with skip connections"] * 3 + ["without skip connections"] * 3,
                          "nonconvex": [0.1, 0.2, 0.6, 0.3, 0.4, 0.5]})
    fig = plotting.run_strips([(table, "nonconvex", "non-convex fraction")])
    ax = fig.axes[0]
    medians = [seg[0][1] for coll in ax.collections if isinstance(coll, matplotlib.collections.LineCollection)
               for seg in coll.get_segments()]
    assert medians == pytest.approx([0.2, 0.4])
    assert [t.get_text() for t in ax.get_xticklabels()] == ["with skip\nconnections", "without skip\nconnections"]
    plt.close(fig)
    with pytest.raises(ValueError, match="'sharpness'"):
        plotting.run_strips([(table, "sharpness", "λ")])


def test_batch_panels_colour_per_batch_and_full_batch_in_the_legend():
    batches = [16, 64, 1000]
    colors = plotting.batch_colors(batches)
    table = pd.DataFrame([{"batch": b, "seed": s, "test_error": 0.1 + 0.01 * i + 0.001 * s}
                          for i, b in enumerate(batches) for s in range(3)])
    fig = plotting.batch_panels(table, colors, [("test_error", "test error (fraction misclassified)")], full_batch=1000)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["batch 16", "batch 64", "batch 1000 (full)"]
    for coll, b in zip(ax.collections, batches):
        assert np.allclose(coll.get_facecolor()[0][:3], matplotlib.colors.to_rgb(colors[b]))
    (line,) = ax.get_lines()
    assert list(line.get_xdata()) == batches and np.allclose(line.get_ydata(), [0.101, 0.111, 0.121])
    assert ax.get_xscale() == "log" and [t.get_text() for t in ax.get_xticklabels()] == ["16", "64", "1000"]
    plt.close(fig)


def test_normalization_slices_median_over_runs_per_batch():
    alphas = np.linspace(-1, 1, 5)
    curves = {(nm, (b, s)): (1 + s + (b == 64)) * (1 + alphas**2) for nm in ("filter", "none") for b in (16, 64)
              for s in range(3)}
    norm = vs.NormalizationStudy(alphas, curves, pd.DataFrame(), {"filter": None, "none": None}, 0.5, 0.1)
    colors = plotting.batch_colors([16, 64])
    fig = plotting.normalization_slices(norm, colors)
    assert [ax.get_title() for ax in fig.axes] == ["filter normalization", "no normalization"]
    assert "weight units" in fig.axes[1].get_xlabel() and "filter-normalized" in fig.axes[0].get_xlabel()
    lines = fig.axes[0].get_lines()
    assert np.allclose(lines[0].get_ydata(), 2 * (1 + alphas**2)) and np.allclose(lines[1].get_ydata(), 3 * (1 + alphas**2))
    plt.close(fig)
    with pytest.raises(ValueError, match="batch size 256"):
        plotting.normalization_slices(norm, plotting.batch_colors([16, 256]))


def test_trajectory_figures():
    pca = vz.TrajectoryPCA(torch.eye(2), np.array([[0.8, 0.5], [0.3, 0.1], [0.0, 0.0]]), np.array([0.7, 0.2]))
    fig = plotting.trajectory_plane(_slice(1.0), pca)
    assert fig.axes[0].get_xlabel() == "PC1 (weight units; 70% of variance)"
    plt.close(fig)
    runs = [(16, 0), (16, 1), (1000, 0)]
    emb = {m: vz.TrajectoryEmbedding(tuple(RNG.normal(size=(4, 2)) for _ in runs), m, 0.1) for m in ("mds", "phate")}
    colors = plotting.batch_colors([16, 1000])
    fig = plotting.trajectory_embeddings(emb, runs, colors)
    assert "weight units" in fig.axes[0].get_xlabel() and "weight units" not in fig.axes[1].get_xlabel()
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["batch 16", "batch 1000"]
    plt.close(fig)
    with pytest.raises(ValueError, match="2 runs"):
        plotting.trajectory_embeddings(emb, runs[:2], colors)


def test_segment_losses_and_hessian_spectrum():
    ts = np.linspace(0, 1, 5)
    lmc = vs.ChordBarriers(((0, 1), (0, 2)), np.array([0.3, 0.5]), np.array([0.1, 0.1]), ts, np.stack([0.1 + ts * (1 - ts)] * 2))
    fig = plotting.segment_losses(lmc, "#123456")
    assert len(fig.axes[0].get_lines()) == 2 and fig.axes[0].get_yscale() == "log"
    plt.close(fig)
    sd = hessian.SpectralDensity(np.array([[-0.5, 0.0, 3.0, 0.0]]), np.array([[0.1, 0.7, 0.2, 0.0]]), 10)
    fig = plotting.hessian_spectrum(sd, np.array([3.0, 2.5]))
    ax = fig.axes[0]
    curve, *marks = ax.get_lines()
    assert [m.get_xdata()[0] for m in marks] == [3.0, 2.5]
    x = curve.get_xdata()
    assert x.min() == pytest.approx(-0.5 - 5 * 0.035) and x.max() == pytest.approx(3.0 + 5 * 0.035)  # 0 is a padding node
    assert "weight unit" in ax.get_xlabel()
    plt.close(fig)
    with pytest.raises(ValueError, match="smoothing"):
        plotting.hessian_spectrum(sd, [], smoothing=0.0)


# ----------------------------------------------------------------------------- the symmetry chapter

def test_raw_aligned_bars_hatched_raw_solid_aligned():
    frame = pd.DataFrame({"arch": ["fcp"] * 2, "set": ["BFGS-train", "SGD-test"], "raw": [2.0, 1.0],
                          "aligned": [1.5, 0.8]})
    fig = plotting.raw_aligned_bars(frame, "raw", "aligned", ylabel="RMS distance (weight units)")
    bars = fig.axes[0].patches
    assert [b.get_height() for b in bars] == [2.0, 1.0, 1.5, 0.8]
    assert [bool(b.get_hatch()) for b in bars] == [True, True, False, False]
    assert np.allclose(bars[1].get_facecolor()[:3], matplotlib.colors.to_rgb(plotting.color("SGD-test")))
    plt.close(fig)
    with pytest.raises(ValueError, match="'aligned'"):
        plotting.raw_aligned_bars(frame.drop(columns="aligned"), "raw", "aligned", ylabel="")


def test_distance_histograms_grid_of_variants():
    from lls_core import landscape

    g = torch.Generator().manual_seed(0)
    sets = {"BFGS-train": torch.randn(6, 20, generator=g) * 2, "SGD-test": torch.randn(6, 20, generator=g)}
    dist = {(a, v): landscape.distances(sets) for a in ("fcp", "lstm") for v in ("raw", "aligned")}
    fig = plotting.distance_histograms(dist, columns=2)
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in visible] == ["fcp, raw", "fcp, aligned", "lstm, raw", "lstm, aligned"]
    assert fig.get_size_inches()[0] == pytest.approx(2 * 5.2)
    plt.close(fig)


def test_kpca_grid_titles_carry_the_auc():
    kp = type("KP", (), {"scores": RNG.normal(size=(6, 2)), "labels": np.array([0, 0, 0, 1, 1, 1])})()
    fig = plotting.kpca_grid({("fcp", "rbf", "raw"): kp, ("fcp", "rbf", "aligned"): kp},
                             {("fcp", "rbf", "raw"): 0.91, ("fcp", "rbf", "aligned"): 0.5}, ("BFGS-train", "SGD-test"))
    assert [ax.get_title() for ax in fig.axes] == ["fcp, rbf, raw: AUC = 0.91", "fcp, rbf, aligned: AUC = 0.50"]
    assert len(fig.axes[0].collections[0].get_offsets()) == 3
    plt.close(fig)
    with pytest.raises(ValueError, match="same, non-empty keys"):
        plotting.kpca_grid({"a": kp}, {}, ("BFGS-train", "SGD-test"))


def _bars(scale):
    from types import SimpleNamespace

    return {(s, w): SimpleNamespace(height=scale * np.array([1.0, 2.0]), linear_height=scale * np.array([3.0, 4.0]))
            for s in ("BFGS-train", "SGD-train") for w in ("train", "test")}


def test_barrier_shift_figures():
    bars, bars_al = {"fcp": _bars(1.0)}, {"fcp": _bars(0.5)}
    sets = ["BFGS-train", "SGD-train"]
    fig = plotting.barrier_shift_scatter(bars, bars_al, sets)
    line_ax, path_ax = fig.axes
    assert line_ax.get_title() == "fcp: straight line" and path_ax.get_title() == "fcp: FourierPathFinder"
    assert np.allclose(line_ax.collections[0].get_offsets(), [[3.0, 1.5], [4.0, 2.0]])
    assert line_ax.get_xlabel() == "raw barrier height, training loss (straight line)"
    (diag,) = path_ax.get_lines()
    assert list(diag.get_xdata()) == [0.5, 2.0]
    plt.close(fig)
    fig = plotting.barrier_shift_histograms(bars, bars_al, sets)
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels == ["BFGS-train, aligned", "BFGS-train, raw", "SGD-train, aligned", "SGD-train, raw"]
    assert fig.axes[1].get_xscale() == "linear"  # 0.5 .. 2: less than a factor of 10
    plt.close(fig)
    with pytest.raises(ValueError, match="'LBFGS-train'"):
        plotting.barrier_shift_scatter(bars, bars_al, ["LBFGS-train"])
    with pytest.raises(ValueError, match="same, non-empty architectures"):
        plotting.barrier_shift_histograms(bars, {"lstm": _bars(1.0)}, sets)


def test_alignment_summary_with_and_without_data():
    fig = plotting.alignment_summary(np.array([3.0, 4.0]), np.array([2.0, 2.5]), np.array([1.0, 0.8]),
                                     np.array([0.5, 0.6]))
    left, right = fig.axes
    assert len(left.patches) > 0 and np.allclose(right.collections[0].get_offsets(), [[1.0, 0.5], [0.8, 0.6]])
    assert "nats" in right.get_xlabel() and "weight units" in left.get_xlabel()
    plt.close(fig)
    fig = plotting.alignment_summary()
    assert all(ax.texts[0].get_text() == "authors' LSTM file not present" for ax in fig.axes)
    assert "weight units" in fig.axes[0].get_xlabel()  # the labels stay
    plt.close(fig)
    with pytest.raises(ValueError, match="all four"):
        plotting.alignment_summary(np.array([1.0]))


# ----------------------------------------------------------------------------- the L-BFGS-GSS chapter

def _rosenbrock_runs(n_evals: int = 40):
    from lls_core import comparison, surfaces

    f = surfaces.get("rosenbrock")
    runs = {n: comparison.run_from_point(n, f, (-1.2, 1.0), n_evals, lr=1e-3 if n == "BGD" else None)
            for n in ("L-BFGS-GSS", "L-BFGS", "BGD")}
    return runs


def test_line_search_trials_numbers_every_trial():
    from lls_core import comparison
    from lls_core.lbfgs_gss import LineSearchResult

    trials = ((0.2, 1.0), (0.8, 0.7), (1.6, 0.9))
    first = comparison.FirstLineSearch(1.2, 3.0, LineSearchResult(0.8, 0.7, 3, True, (0.2, 1.6), trials),
                                       np.linspace(0, 1.8, 20), 1.2 - 0.1 * np.linspace(0, 1.8, 20))
    fig = plotting.line_search_trials(first)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.texts] == ["1", "2", "3"]
    assert np.allclose(ax.collections[-1].get_offsets(), [[0.8, 0.7]])  # the star: the accepted step
    assert "nats" in ax.get_ylabel() and "parameter-space distance" in ax.get_xlabel()
    plt.close(fig)


def test_surface_paths_and_loss_curves():
    runs = _rosenbrock_runs()
    fig = plotting.surface_paths({"rosenbrock": runs, "himmelblau": runs})
    assert len([ax for ax in fig.axes if ax.get_visible() and ax.get_title()]) == 2
    plt.close(fig)
    variant = {"L-BFGS-GSS, short": "L-BFGS-GSS"}
    fig = plotting.loss_curves({**runs, "L-BFGS-GSS, short": runs["L-BFGS-GSS"]}, budget=40, variants=variant)
    its, evals, secs = fig.axes[:3]
    assert [ax.get_xlabel() for ax in (its, secs)] == ["iterations", "wall clock (s)"]
    dashed = [ln for ln in its.get_lines() if ln.get_linestyle() == "--"]
    assert len(dashed) == 1 and dashed[0].get_color() == plotting.color("L-BFGS-GSS")
    assert [t.get_text() for t in its.get_legend().get_texts()] == ["L-BFGS-GSS", "L-BFGS (torch)", "BGD",
                                                                    "L-BFGS-GSS, short"]
    assert evals.get_xlim()[1] == pytest.approx(40.8)
    plt.close(fig)
    with pytest.raises(ValueError, match="no recorded path"):
        from lls_core import comparison, surfaces

        bare = comparison.run_from_point("BGD", surfaces.get("rosenbrock"), (0.0, 0.0), 5, record_path=False)
        plotting.surface_paths({"rosenbrock": {"BGD": bare}})


def test_evaluation_gap_shares_sum_to_one():
    per_iter = {"L-BFGS-GSS": np.array([7, 7, 6, 7]), "L-BFGS": np.array([1, 1, 2, 1]), "variant": np.array([3, 3])}
    fig = plotting.evaluation_gap(per_iter, {"L-BFGS-GSS": np.array([0.5, 2.0]), "L-BFGS": np.array([1.0, 1.0])},
                                  variants={"variant": "L-BFGS-GSS"})
    bars_ax, hist_ax = fig.axes
    heights = np.array([p.get_height() for p in bars_ax.patches]).reshape(3, 8)
    assert np.allclose(heights.sum(axis=1), 1.0) and heights[1, 0] == pytest.approx(0.75)
    assert bars_ax.patches[16].get_alpha() == pytest.approx(0.45)  # the variant: a lighter shade
    assert hist_ax.get_xscale() == "log"
    plt.close(fig)


def test_mode_curves_marks_uphill_and_idle_iterations():
    from lls_core.lbfgs_gss import run_optimizer

    runs = {}
    for mode in ("authors", "safe"):  # Rosenbrock from (-1.84, -0.93): the authors' search moves uphill
        w = torch.tensor([-1.84, -0.93], dtype=torch.float64, requires_grad=True)
        runs[mode] = run_optimizer("L-BFGS-GSS", [w], lambda w=w: (1 - w[0]) ** 2 + 100 * (w[1] - w[0] ** 2) ** 2, 30,
                                   options={"mode": mode})
    fig = plotting.mode_curves(runs)
    ax = fig.axes[0]
    lines = ax.get_lines()
    uphill = np.asarray(runs["authors"].diagnostics.uphill, dtype=bool)
    assert len(lines[1].get_xdata()) == int(uphill.sum()) >= 1
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["authors mode", "uphill step", "safe mode",
                                                                   "no step taken"]
    plt.close(fig)
    with pytest.raises(ValueError, match="authors and safe"):
        plotting.mode_curves({"fast": runs["safe"]})


# ----------------------------------------------------------------------------- the surfaces chapter

def test_contour_panels_pass_options_per_panel():
    from lls_core import surfaces

    fig = plotting.contour_panels([(surfaces.get("rosenbrock"), {"levels": 10, "title": "Rosenbrock", "legend": False}),
                                   (surfaces.get("himmelblau"), {"title": "Himmelblau", "n": 31})], n=21)
    titled = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in titled] == ["Rosenbrock", "Himmelblau"]
    assert titled[0].get_legend() is None
    plt.close(fig)
    with pytest.raises(ValueError, match="at least one"):
        plotting.contour_panels([])


def test_printed_saddle_and_noise_snapshots():
    from lls_core import surfaces

    printed, bounded = surfaces.get("fig10_printed"), surfaces.get("fig10")
    top = bounded.value(*bounded.maxima[0])
    fig = plotting.printed_saddle(surfaces.fig10_layer("saddle", saddle="printed"), surfaces.fig10_layer("saddle"),
                                  printed, top, wells=[(-0.5, -0.5), (2.0, 2.0)], n=31)
    left = fig.axes[0]
    p_line, b_line, top_line = left.get_lines()
    assert p_line.get_ydata()[-1] > 1e6 > top > b_line.get_ydata().max()  # the printed layer runs away
    assert list(top_line.get_ydata()) == [top, top] and left.get_yscale() == "log"
    assert p_line.get_color() != b_line.get_color()
    plt.close(fig)
    snaps = [surfaces.fig10_surface(noise=True, t=t, seed=0, noise_amplitude=0.3) for t in (0.0, 1.0)]
    fig = plotting.noise_snapshots(snaps, [0.0, 1.0], [(0.1, 0.2), (0.3, 0.4)], levels=np.linspace(-4, 8, 13), n=21)
    titled = [ax for ax in fig.axes if ax.get_title().startswith("t = ")]
    assert [ax.get_title() for ax in titled] == ["t = 0", "t = 1"]
    assert [tuple(ax.get_lines()[-1].get_xydata()[0]) for ax in titled] == [(0.1, 0.2), (0.3, 0.4)]
    plt.close(fig)
    with pytest.raises(ValueError, match="one time and one mark"):
        plotting.noise_snapshots(snaps, [0.0], [(0, 0)], levels=[0, 1])


def test_toy_path_heights_along_the_segment():
    from lls_core import surfaces

    toy = surfaces.get("toy")
    a, b = surfaces.TOY_ENDPOINTS
    saddles = sorted(toy.value(*q) for q in toy.saddles)
    fig = plotting.toy_straight_path(toy, a, b, saddles=saddles, n=31)
    right = fig.axes[1]  # (the last axes is the contour's colour bar)
    curve, low, second = right.get_lines()
    assert curve.get_ydata()[0] == pytest.approx(toy.value(*a)) and curve.get_ydata()[-1] == pytest.approx(toy.value(*b))
    assert low.get_ydata()[0] == saddles[0] and second.get_ydata()[0] == saddles[1]
    assert "(−0.62, −0.54)" in right.get_xlabel()
    plt.close(fig)


# ----------------------------------------------------------------------------- the path-finder chapter

@pytest.fixture(scope="module")
def toy_results():
    from lls_core import pathfinder, surfaces

    toy = surfaces.get("toy")
    a, b = (torch.tensor(p, dtype=torch.float64) for p in surfaces.TOY_ENDPOINTS)
    kw = dict(n_terms=3, n_points=11, lr=0.01, steps=5, seed=0)
    return toy, {lam: pathfinder.find_path(pathfinder.toy_objective(toy), a, b, lam=lam, **kw) for lam in (0.35, 35.0)}


def test_toy_paths_family_and_book_colours(toy_results):
    toy, res = toy_results
    fig = plotting.toy_paths(toy, {f"λ = {lam:g}": r for lam, r in res.items()})
    ax, bx = fig.axes[:2]
    assert [t.get_text() for t in bx.get_legend().get_texts()] == ["straight line", "λ = 0.35", "λ = 35"]
    from lls_core import surfaces

    straight = ax.get_lines()[0].get_xydata()
    assert np.allclose(straight[[0, -1]], np.array(surfaces.TOY_ENDPOINTS))
    shades = [matplotlib.colors.to_hex(ln.get_color()) for ln in bx.get_lines()[1:]]
    assert shades[0] != shades[1]  # a family: one shade each
    plt.close(fig)
    fig = plotting.toy_paths(toy, {"FourierPathFinder": res[35.0], "Bezier": res[0.35]}, colors="book", titles=False)
    bx = fig.axes[1]
    assert bx.get_title() == "" and bx.get_lines()[2].get_color() == plotting.color("Bezier")
    plt.close(fig)
    with pytest.raises(ValueError, match="colors='red'"):
        plotting.toy_paths(toy, res, colors="red")  # type: ignore[arg-type]


def test_lambda_sweeps_and_network_path(toy_results):
    _, res = toy_results
    line = res[0.35]
    sweep = pd.DataFrame({"lambda": [0.1, 1.0, 10.0], "height": [0.5, 0.4, 0.6], "length": [2.0, 1.5, 1.2]})
    fig = plotting.lambda_sweep(sweep, line)
    ax, ax2 = fig.axes
    assert ax.get_xscale() == "log" and ax.get_lines()[1].get_ydata()[0] == pytest.approx(line.linear_height)
    assert ax2.get_lines()[1].get_ydata()[0] == pytest.approx(line.linear_length)
    plt.close(fig)
    with pytest.raises(ValueError, match="length"):
        plotting.lambda_sweep(sweep.drop(columns="length"), line)
    fig = plotting.network_lambda_sweep(sweep, line, marked=1e-3)
    assert [ln.get_xdata()[0] for ln in fig.axes[0].get_lines()[2:]] == [1e-3]
    plt.close(fig)
    fig = plotting.network_path(line)
    dashed, found = fig.axes[0].get_lines()
    assert dashed.get_linestyle() == "--" and np.allclose(found.get_ydata(), line.losses)
    plt.close(fig)


# ----------------------------------------------------------------------------- the optimizer benchmark chapter

def test_benchmark_figures():
    from lls_core import benchmark, optimizers, surfaces

    names = ["case1", "case2"]
    x0 = torch.tensor([[0.5, 0.5], [-0.5, 0.3]], dtype=torch.float64)
    res = benchmark.run_benchmark(["SGD", "BGD"], names, x0, max_iter=20, record_every=5)
    fig = plotting.sgd_paths(names, res["SGD"], res["BGD"], n_paths=2)
    titled = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in titled] == [surfaces.get(n).title for n in names]
    assert sum(ln.get_linestyle() == "--" for ln in titled[0].get_lines()) == 2  # BGD, one per start
    plt.close(fig)
    fig = plotting.loss_profiles(res, names)
    top = fig.axes[0]
    assert top.get_yscale() == "symlog" and fig.axes[len(names)].get_yscale() == "log"
    assert [ln.get_color() for ln in top.get_lines()] == [plotting.color("SGD"), plotting.color("BGD")]
    plt.close(fig)
    sweep = pd.DataFrame([{"surface": s, "algorithm": a, "lr": lr, "success_pct": 10.0 * i}
                          for s in ("I", "II") for i, (a, lr) in enumerate((a, lr) for a in ("SGD", "Adam")
                                                                            for lr in (0.01, 0.1))])
    fig = plotting.success_heatmaps(sweep, ["Adam", "SGD"], ("I", "II"))
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["Adam", "SGD"]
    assert [t.get_text() for t in ax.texts] == ["20", "30", "0", "10"]
    plt.close(fig)
    with pytest.raises(ValueError, match="'IV'"):
        plotting.success_heatmaps(sweep, ["SGD"], ("IV",))
    assert optimizers.SURVEY_TEN  # the chapter's rows come from here
