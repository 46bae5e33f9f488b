"""Package functions behind the barriers and geometry chapters: the third optimizer's
verdict from effect-size intervals, the kernel-PCA separation table, and their figures."""

from __future__ import annotations

from types import SimpleNamespace

import matplotlib

matplotlib.use("agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from lls_core import landscape, plotting, topography  # noqa: E402

PAIR = ("BFGS-train", "SGD-test")


def _shells(k=20, d=120, r_in=1.0, r_out=1.6, seed=0):
    """Two concentric shells of random directions: the paper's radial picture."""
    g = torch.Generator().manual_seed(seed)
    u = torch.randn(2 * k, d, generator=g, dtype=torch.float64)
    u = u / u.norm(dim=1, keepdim=True)
    return {"BFGS-train": r_out * u[:k], "SGD-test": r_in * u[k:]}


# ----------------------------------------------------------------------------- resembles
@pytest.mark.parametrize("ci_a, ci_b, expected", [
    ((0.3, 0.7), (0.8, 1.0), "like L-BFGS-GSS"),
    ((0.0, 0.2), (0.4, 0.6), "like SGD"),
    ((0.7, 0.9), (0.0, 0.3), "unlike both"),
    ((0.3, 0.7), (0.45, 0.95), "not resolved"),
])
def test_resembles_reads_which_interval_excludes_one_half(ci_a, ci_b, expected):
    assert topography.resembles(ci_a, ci_b) == expected


def test_resembles_does_not_decide_on_point_estimates_alone():
    # both intervals contain 0.5, even though the first is much tighter around it: no verdict
    assert topography.resembles((0.49, 0.51), (0.1, 0.9), ("A", "B")) == "not resolved"
    assert topography.resembles((0.49, 0.51), (0.6, 0.9), ("A", "B")) == "like A"


def test_resembles_leaves_tiny_samples_unresolved():
    assert topography.resembles((0.3, 0.7), (0.0, 0.0), n=2) == "not resolved"
    assert topography.resembles((0.3, 0.7), (0.0, 0.0), n=topography.MIN_UNITS) == "like L-BFGS-GSS"


def test_resembles_rejects_bad_intervals():
    with pytest.raises(ValueError, match="'SGD'"):
        topography.resembles((0.3, 0.7), (0.9, 0.2))
    with pytest.raises(ValueError, match="L-BFGS-GSS"):
        topography.resembles((float("nan"), 0.7), (0.1, 0.2))


def _res_frame(rows):
    return pd.DataFrame([{"metric": f"m{i}", "lo_BFGS-train": a[0], "hi_BFGS-train": a[1],
                          "lo_SGD-train": b[0], "hi_SGD-train": b[1]} for i, (a, b) in enumerate(rows)])


def test_resemblance_answer_combines_the_measurements():
    like_a, like_b, none = ((0.3, 0.7), (0.8, 1.0)), ((0.8, 1.0), (0.3, 0.7)), ((0.3, 0.7), (0.3, 0.7))
    r = topography.resemblance_answer(_res_frame([like_a, like_a, none]))
    assert r.answer == "like L-BFGS-GSS"
    assert r.facts() == {"n_metrics": 3, "n_like_a": 2, "n_like_b": 0, "n_unlike_both": 0, "n_not_resolved": 1,
                         "answer": "like L-BFGS-GSS"}
    assert list(r.frame["resembles"]) == ["like L-BFGS-GSS", "like L-BFGS-GSS", "not resolved"]
    assert topography.resemblance_answer(_res_frame([like_b, none])).answer == "like SGD"
    assert topography.resemblance_answer(_res_frame([like_a, like_b])).answer == "mixed"
    assert topography.resemblance_answer(_res_frame([none, none])).answer == "not resolved"
    both = ((0.8, 1.0), (0.0, 0.2))
    assert topography.resemblance_answer(_res_frame([both, none])).answer == "unlike both"
    small = _res_frame([like_a, like_a]).assign(n=[3, 30])
    assert list(topography.resemblance_answer(small).frame["resembles"]) == ["not resolved", "like L-BFGS-GSS"]
    with pytest.raises(KeyError, match="lo_SGD-train"):
        topography.resemblance_answer(_res_frame([none]).drop(columns="lo_SGD-train"))


def test_third_barriers_places_a_set_drawn_like_bfgs_with_bfgs():
    g = np.random.default_rng(0)
    hb = g.normal(2.0, 0.1, 30)
    bb = {("BFGS-train", w): SimpleNamespace(height=hb) for w in ("train", "test")}
    bb.update({("SGD-train", w): SimpleNamespace(height=g.normal(1.0, 0.1, 30)) for w in ("train", "test")})
    bb.update({("LBFGS-train", w): SimpleNamespace(height=g.normal(2.0, 0.1, 30)) for w in ("train", "test")})
    t = topography.third_barriers({"fcp": bb}, n_boot=300)
    assert list(t["landscape"]) == ["train", "test"]
    assert (t["resembles"] == "like L-BFGS-GSS").all(), t
    assert t["P(L-BFGS (torch) > SGD)"].min() > 0.9
    assert t["median L-BFGS-GSS"].iloc[0] == pytest.approx(np.median(hb))
    few = {k: SimpleNamespace(height=v.height[:2]) for k, v in bb.items()}
    assert (topography.third_barriers({"fcp": few}, n_boot=300)["resembles"] == "not resolved").all()
    del bb[("SGD-train", "test")]
    with pytest.raises(KeyError, match="'SGD-train'.*'test'"):
        topography.third_barriers({"fcp": bb}, n_boot=300)


# ----------------------------------------------------------------------------- kPCA table
def test_kpca_separation_finds_the_shells_with_rbf_not_linear():
    sep = topography.kpca_separation({"fcp": _shells()}, pairs=[PAIR], kernels=["rbf", "linear"], n_boot=300)
    assert len(sep.frame) == 2 and set(sep.frame["kernel"]) == {"rbf", "linear"}
    f = sep.facts("fcp", PAIR)
    assert set(f) == {f"{s}_{k}" for s in ("auc", "lo", "hi", "p") for k in ("rbf", "linear")}
    assert f["auc_rbf"] > 0.95 and f["p_rbf"] < 0.01
    assert f["auc_linear"] < 0.8
    assert f["lo_rbf"] <= f["auc_rbf"] <= f["hi_rbf"]
    kp = sep.projections[("fcp", PAIR, "rbf")]
    assert isinstance(kp, landscape.KPCA) and kp.scores.shape == (40, 2)
    assert sep.row("fcp", PAIR, "rbf")["AUC (PC1)"] == pytest.approx(f["auc_rbf"])
    with pytest.raises(KeyError, match="unknown kernel PCA .*; valid: "):
        sep.row("fcp", PAIR, "poly")
    with pytest.raises(KeyError, match="lenet"):
        sep.facts("lenet", PAIR)
    assert sep.by_network(PAIR) == (f"FCP: RBF AUC {f['auc_rbf']:.2f} (p {f['p_rbf']:.3g}), "
                                    f"linear AUC {f['auc_linear']:.2f} (p {f['p_linear']:.3g})")
    with pytest.raises(KeyError, match="unknown kernel PCA pair"):
        sep.by_network(("SGD-train", "SGD-test"))


def test_kpca_separation_checks_its_arguments_before_work():
    sets = _shells(k=4, d=10)
    with pytest.raises(ValueError, match="'cosine'"):
        topography.kpca_separation({"fcp": sets}, pairs=[PAIR], kernels=["cosine"])
    with pytest.raises(ValueError, match="gamma"):
        topography.kpca_separation({"fcp": sets}, pairs=[PAIR], gamma=-1.0)
    with pytest.raises(KeyError, match="fcp: unknown weight set 'BFGS-test'; valid: "):
        topography.kpca_separation({"fcp": sets})  # the default pairs need the early-stopped and third sets


def test_kpca_separation_accepts_topographies():
    topo = SimpleNamespace(sets=_shells(k=5, d=20))
    sep = topography.kpca_separation({"fcp": topo}, pairs=[PAIR], kernels=["linear"], n_boot=100)
    assert list(sep.frame["sets"]) == ["BFGS-train vs SGD-test"]


# ----------------------------------------------------------------------------- figures
def test_distance_histograms_one_panel_per_arch_with_the_gap_line():
    sets = _shells(k=10, d=50)
    dists = {a: landscape.distances(sets, between=PAIR) for a in ("fcp", "lenet")}
    fig = plotting.distance_histograms(dists)
    axes = fig.get_axes()
    assert [ax.get_title() for ax in axes] == ["fcp", "lenet"]
    labels = [t.get_text() for t in axes[0].get_legend().get_texts()]
    assert labels == [*PAIR, "centroid gap"]
    assert axes[0].lines[-1].get_xdata()[0] == pytest.approx(dists["fcp"].centroid_gap)
    plt.close(fig)
    with pytest.raises(ValueError, match="at least one"):
        plotting.distance_histograms({})


def test_kpca_panels_rows_are_kernels_and_titles_carry_the_auc():
    sep = topography.kpca_separation({"fcp": _shells(k=8, d=40)}, pairs=[PAIR], kernels=["rbf", "linear"],
                                     n_boot=100)
    fig = plotting.kpca_panels(sep, PAIR, ["rbf", "linear"])
    titles = [ax.get_title() for ax in fig.get_axes()]
    auc = sep.facts("fcp", PAIR)["auc_linear"]
    assert titles[0].startswith("fcp, rbf kernel") and titles[1] == f"fcp, linear kernel: AUC(PC1) = {auc:.2f}"
    plt.close(fig)
    with pytest.raises(KeyError, match="unknown kernel PCA .*; valid: "):
        plotting.kpca_panels(sep, PAIR, ["sigmoid"])


def test_trio_distances_use_the_mean_of_three_centroids():
    g = torch.Generator().manual_seed(1)
    sets = {n: torch.randn(6, 12, generator=g, dtype=torch.float64) + i
            for i, n in enumerate(("BFGS-train", "SGD-train", "LBFGS-train"))}
    d = topography.trio_distances(sets)
    origin = sum(v.mean(0) for v in sets.values()) / 3
    np.testing.assert_allclose(d.origin, origin.numpy())
    np.testing.assert_allclose(d.distance["LBFGS-train"], (sets["LBFGS-train"] - origin).norm(dim=1).numpy())
    assert d.between == ("BFGS-train", "SGD-train")
    with pytest.raises(KeyError, match="'LBFGS-train'"):
        topography.trio_distances({k: v for k, v in sets.items() if k != "LBFGS-train"})


def test_trio_histograms_two_panels_log_eigenvalues():
    g = np.random.default_rng(0)
    names = ("BFGS-train", "SGD-train", "LBFGS-train")
    fig = plotting.trio_histograms({s: g.normal(5, 1, 8) for s in names}, {s: g.uniform(1, 500, 8) for s in names},
                                   title="fcp")
    left, right = fig.get_axes()
    assert right.get_xscale() == "log" and left.get_xscale() == "linear"
    assert [t.get_text() for t in left.get_legend().get_texts()] == list(names)
    plt.close(fig)
    with pytest.raises(ValueError, match="same"):
        plotting.trio_histograms({"SGD-train": np.ones(3)}, {"BFGS-train": np.ones(3)})
