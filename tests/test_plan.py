"""lls_core.plan: counts follow the parameters, estimates scale with counts and costs, bad input is refused."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from lls_core import cli, models, plan, study
from lls_core.topography import PATH_PROFILES


def _cal(scale: float = 1.0) -> plan.Calibration:
    costs = {
        a: plan.ArchCost(a, fwd_s=1e-6 * scale * (i + 1), fwd_bwd_s=3e-6 * scale * (i + 1), sgd_batch_s=5e-4 * scale,
                         gss_iter_s=5e-5 * scale, lbfgs_iter_s=3e-5 * scale, hvp_s=8e-6 * scale, act_bytes=4000.0,
                         n_params=models.PARAM_COUNTS[a])
        for i, a in enumerate(models.ARCHITECTURES)
    }
    return plan.Calibration(costs, "cpu", 256, 0.0)


def test_training_full_counts_are_the_papers_protocol():
    p = plan.plan("training", "full", calibration=_cal(), count_stored=False)
    prof = study.get_profile("full")
    assert p.runs == 4 * 2 * prof.n_inits == 600
    assert p.sgd_epochs == 4 * prof.n_inits * prof.config("sgd").epochs
    assert p.qn_iterations == 4 * prof.n_inits * 1000
    assert (p.n_train, p.n_test) == (5000, 10000)  # all embedded digits, the whole official test set
    assert p.pairs == p.hvps == 0
    assert p.runs_stored is None
    f = p.facts()
    assert f["runs"] == 600 and f["est_wall_h"] == pytest.approx(p.est_serial_s / 2 / 3600)
    assert "600" in p.text()


def test_paper_profile_uses_full_mnist_sizes():
    p = plan.plan("training", "paper", calibration=_cal(), count_stored=False)
    assert (p.n_train, p.n_test) == (60000, 10000)


def test_one_run_cost_matches_hand_computation():
    cal = _cal()
    c = cal.cost("fcp")
    p = plan.plan("barriers", "quick", {"n_pairs": 1, "k_best": 2, "n_inits": 2, "archs": ["fcp"], "third_inits": 2,
                                        "third_best": 2}, calibration=cal, count_stored=False)
    prof = study.get_profile("quick")
    n_tr, n_te = 1000, 500
    expect = 0.0
    for o in ("sgd", "lbfgs_gss", "lbfgs"):
        cfg = prof.config(o, "fcp")
        evals = (cfg.steps + 1) * (n_tr + n_te) * c.fwd_s
        if o == "sgd":
            step = cfg.steps * math.ceil(n_tr / 64) * c.sgd_batch_s
        else:
            step = cfg.steps * n_tr * (c.gss_iter_s if o == "lbfgs_gss" else c.lbfgs_iter_s)
        expect += 2 * (step + evals)
    cfgp = PATH_PROFILES["quick"]
    nd = cfgp.n_data
    pair = cfgp.steps * cfgp.n_points * min(nd, n_tr) * c.fwd_bwd_s + cfgp.n_points * min(nd, n_tr) * c.fwd_s
    pair_te = cfgp.steps * cfgp.n_points * min(nd, n_te) * c.fwd_bwd_s + cfgp.n_points * min(nd, n_te) * c.fwd_s
    expect += 6 * (pair + pair_te)  # 6 sets x 1 pair on each landscape
    assert p.pairs == 12
    assert p.est_serial_s == pytest.approx(expect, rel=1e-12)


def test_estimates_scale_with_counts_and_costs():
    cal = _cal()
    a = plan.plan("barriers", "quick", {"n_inits": 8, "k_best": 6, "n_pairs": 0 + 1, "third_inits": 8}, calibration=cal,
                  count_stored=False)
    b = plan.plan("barriers", "quick", {"n_inits": 16, "k_best": 6, "n_pairs": 1, "third_inits": 16}, calibration=cal,
                  count_stored=False)
    # the third optimizer's runs follow third_inits, not n_inits
    b3 = plan.plan("barriers", "quick", {"n_inits": 16, "k_best": 6, "n_pairs": 1, "third_inits": 8}, calibration=cal,
                   count_stored=False)
    assert b3.runs == b.runs - 8 * len(b.archs)
    assert b.runs == 2 * a.runs and b.sgd_epochs == 2 * a.sgd_epochs and b.qn_iterations == 2 * a.qn_iterations
    assert b.pairs == a.pairs
    pair_s = plan.plan("barriers", "quick", {"n_inits": 8, "k_best": 6, "n_pairs": 2}, calibration=cal,
                       count_stored=False).est_serial_s - a.est_serial_s
    train_a = a.est_serial_s - pair_s  # one pair per set and landscape costs pair_s
    assert b.est_serial_s - pair_s == pytest.approx(2 * train_a, rel=1e-9)
    # at the cap (3 disjoint pairs of 6 kept runs; more is refused by the chapter's rule before planning)
    c = plan.plan("barriers", "quick", {"n_inits": 8, "k_best": 6, "n_pairs": 3, "archs": ["fcp"]}, calibration=cal,
                  count_stored=False)
    assert c.pairs == 6 * 2 * 3
    # twice the per-image cost: twice the time; workers divide the wall time, not the serial time
    d = plan.plan("barriers", "quick", {"n_inits": 8, "k_best": 6, "n_pairs": 1}, calibration=_cal(2.0), count_stored=False)
    assert d.est_serial_s == pytest.approx(2 * a.est_serial_s, rel=1e-9)
    w = plan.plan("barriers", "quick", {"n_inits": 8, "k_best": 6, "n_pairs": 1, "workers": 1}, calibration=cal,
                  count_stored=False)  # (more workers than this machine's CPUs are refused before planning)
    assert w.est_serial_s == pytest.approx(a.est_serial_s) and w.est_wall_s == pytest.approx(a.est_serial_s)
    assert w.peak_memory_bytes == pytest.approx(a.peak_memory_bytes / 2)


def test_geometry_counts_hessian_products():
    p = plan.plan("geometry", "quick", {"n_probes": 5, "lanczos_steps": 7, "k_best": 4, "n_pairs": 2, "archs": ["fcp"]},
                  calibration=_cal(), count_stored=False)
    assert p.hvps == 6 * 4 * (5 + 7)
    q = plan.plan("geometry", "quick", {"n_probes": 10, "lanczos_steps": 14, "k_best": 4, "n_pairs": 2,
                                        "archs": ["fcp"]}, calibration=_cal(), count_stored=False)
    assert q.hvps == 2 * p.hvps and q.est_serial_s > p.est_serial_s


def test_calibration_measures_positive_costs():
    before = torch.get_num_threads()
    cal = plan.calibrate(["fcp"], n_images=64, repeats=1)
    assert torch.get_num_threads() == before  # calibrates with one thread, then restores the setting
    c = cal.cost("fcp")
    assert c.n_params == models.PARAM_COUNTS["fcp"]
    for f in dataclasses.fields(c):
        if f.name != "arch":
            v = getattr(c, f.name)
            assert math.isfinite(v) and v > 0
    assert c.act_bytes == plan._act_bytes("fcp") >= 784 * 4  # at least the input image, kept for the weight gradient
    p = plan.plan("barriers", "quick", {"archs": ["fcp"]}, calibration=cal)
    assert p.est_wall_s > 0 and p.peak_memory_bytes > 0


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("surfaces", "quick", None), "lls-book plan: unknown chapter 'surfaces'; valid: "),
        (("training", "nope", None), "unknown profile 'nope'"),
        (("barriers", "quick", {"n_inits": 0}), "'n_inits' = 0"),
        (("barriers", "quick", {"n_pairz": 3}), "unknown parameter 'n_pairz'"),
    ],
)
def test_bad_input_is_refused_in_one_line(args, words):
    with pytest.raises(plan.PlanError.__mro__[1]) as err:  # book.ParameterError
        plan.plan(*args, calibration=_cal(), count_stored=False)
    msg = str(err.value.args[0])
    assert words in msg and "\n" not in msg


def test_bad_calibration_values_are_refused():
    with pytest.raises(plan.PlanError, match="fwd_s=-1"):
        plan.ArchCost("fcp", -1, 1, 1, 1, 1, 1, 1, 1)
    with pytest.raises(plan.PlanError, match="n_images=8"):
        plan.calibrate(["fcp"], n_images=8)
    with pytest.raises(plan.PlanError, match="'resnet'"):
        plan.calibrate(["resnet"])
    with pytest.raises(plan.PlanError, match="unknown calibrated network 'lstm'; valid: "):
        plan.Calibration({}, "cpu", 64, 0.0).cost("lstm")


def test_cli_plan_refuses_with_exit_2_and_one_line(capsys):
    assert cli.main(["plan", "surfaces"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("lls-book: error:") and "\n" not in err
    assert cli.main(["plan", "barriers", "--profile", "full", "-p", "k_best", "0"]) == 2
    assert "'k_best' = 0" in capsys.readouterr().err


def test_check_chapter_refuses_what_cannot_fit(monkeypatch):
    from lls_core import book

    ch = book.get_chapter("barriers")
    ok = book.resolve_parameters(ch, "smoke")
    plan.check_chapter("barriers", "smoke", ok)  # fits
    plan.check_chapter("surfaces", "quick", {})  # not a planned chapter: passes
    monkeypatch.setattr(plan, "_mem_available", lambda: 1e6)  # a machine with 1 MB free
    with pytest.raises(plan.PlanError, match=r"needs about .* GiB .* 0\.0 GiB available"):
        plan.check_chapter("barriers", "smoke", ok)


def test_full_profile_is_the_papers_protocol_on_the_embedded_digits():
    from lls_core import book

    full, paper = study.get_profile("full"), study.get_profile("paper")
    assert (full.dataset, full.n_train, full.n_test) == ("mnist-5k", None, None)  # data.load: all 5,000 digits, all 10,000 test images
    assert (full.n_inits, full.k_best) == (paper.n_inits, paper.k_best) == (75, 48)
    for a in models.ARCHITECTURES:
        assert full.config("lbfgs_gss", a).iterations == 1000 == paper.config("lbfgs_gss", a).iterations
        assert full.config("sgd", a) == paper.config("sgd", a)
    assert "full" in book.PROFILE_NAMES and "full" in PATH_PROFILES
    for slug in ("training", "barriers", "geometry"):
        ch = book.get_chapter(slug)
        values = book.resolve_parameters(ch, "full")
        assert values.get("profile", values.get("study_profile")) == "full"
        assert values["scheduler"] == ""
        if slug != "training":
            assert values["archs"] == list(models.ARCHITECTURES) and values["n_inits"] == 75 and values["k_best"] == 48


def test_saved_bytes_per_image_do_not_depend_on_the_batch():
    for a in models.ARCHITECTURES:
        small, large = plan._act_bytes(a, 4), plan._act_bytes(a, 16)
        assert small > 0 and small == pytest.approx(large, rel=0.05)  # the LSTM's workspace is not quite linear
