"""Logic that used to live in chapters: tested package functions with frozen results and facts()."""

from __future__ import annotations

import dataclasses
import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch

from lls_core import comparison, data, glue, lbfgs_gss, models, optimizers, study, survey, train


def _quadratic(w):
    return (w**2).sum()


def test_first_reach_finds_the_first_iterate_at_or_below_the_level():
    tr = comparison.run_from_point("BGD", _quadratic, (1.0, -1.0), 20, lr=0.25)  # f_k = 2 / 4**k
    r = comparison.first_reach(tr, 1e-3)
    assert r.reached and r.iteration == 6 and tr.loss[6] <= 1e-3 < tr.loss[5]
    assert r.evaluations == int(tr.evaluations[6]) and r.seconds == pytest.approx(float(tr.seconds[6]))
    assert comparison.first_reach(tr, tr.loss[-1]).iteration == tr.iterations  # its own final loss: reached at the end
    never = comparison.first_reach(tr, -1.0)
    assert not never.reached and never.facts("never") == {"iters": "never", "evals": "-", "seconds": "-"}
    assert never.evaluations_or("more than the budget") == "more than the budget"
    assert glue.normalise_facts(r.facts())["iters"] == 6
    with pytest.raises(ValueError, match="finite"):
        comparison.first_reach(tr, float("nan"))


def test_run_network_starts_every_call_from_the_same_initialisation():
    x, y = torch.randn(16, 1, 28, 28, generator=torch.Generator().manual_seed(0)), torch.arange(16) % 10
    a = comparison.run_network("Adam", "fcp", 3, x, y, 3, lr=1e-3)
    b = comparison.run_network("Adam", "fcp", 3, x, y, 3, lr=1e-3)
    np.testing.assert_allclose(a.loss, b.loss)
    with torch.no_grad():
        assert a.loss[0] == pytest.approx(float(models.loss(models.build("fcp", seed=3), x, y)))
    c = comparison.run_network("Adam", "fcp", 4, x, y, 3, lr=1e-3)
    assert c.loss[0] != a.loss[0]


def test_first_line_search_facts_match_the_search():
    x, y = torch.randn(32, 1, 28, 28, generator=torch.Generator().manual_seed(1)), torch.arange(32) % 10
    net = models.build("fcp", seed=0)
    before = torch.cat([p.detach().reshape(-1) for p in net.parameters()]).clone()
    fl = comparison.first_line_search(net, x, y, budget=6)
    f = fl.facts()
    assert f["evals"] == fl.search.evaluations <= 7 and f["drop"] == pytest.approx(fl.loss0 - fl.search.value)
    assert f["drop"] >= 0 and f["ratio"] == pytest.approx(fl.search.step / fl.gradient_norm)
    assert fl.loss_grid.shape == fl.t_grid.shape == (60,) and fl.loss_grid[0] == pytest.approx(fl.loss0, rel=1e-5)
    assert torch.equal(before, torch.cat([p.detach().reshape(-1) for p in net.parameters()]))  # model untouched
    assert dataclasses.is_dataclass(fl) and fl.__dataclass_params__.frozen


def test_train_full_batch_is_deterministic_and_lowers_the_loss():
    x, y = torch.randn(32, 1, 28, 28, generator=torch.Generator().manual_seed(2)), torch.arange(32) % 10
    w1 = models.train_full_batch("fcp", x, y, seed=5, steps=5)
    assert torch.equal(w1, models.train_full_batch("fcp", x, y, seed=5, steps=5))
    net = models.build("fcp", seed=5)
    from lls_core import params

    w0 = params.flatten(net)
    assert float(models.loss(net, x, y, params.unflatten(net, w1))) < float(models.loss(net, x, y, params.unflatten(net, w0)))
    for bad, match in (({"steps": -1}, "steps=-1"), ({"steps": 2, "lr": 0.0}, "lr=0.0")):
        with pytest.raises(ValueError, match=match):
            models.train_full_batch("fcp", x, y, seed=0, **bad)


def test_compared_optimizers_are_named_apart_from_the_surface_rules_and_network_configs():
    assert lbfgs_gss.COMPARED_OPTIMIZERS == ("L-BFGS-GSS", "L-BFGS", "BGD", "Adam")
    assert "SGD" not in lbfgs_gss.COMPARED_OPTIMIZERS  # full-batch torch SGD is batch gradient descent
    assert "BGD" in optimizers.SURFACE_RULES and optimizers.REGISTRY is optimizers.SURFACE_RULES
    assert set(train.NETWORK_OPTIMIZERS) == {"sgd", "lbfgs_gss", "lbfgs"}  # the run-store names
    assert not hasattr(train, "OPTIMIZERS")  # one name per registry: NETWORK_OPTIMIZERS
    with pytest.raises(ValueError, match="unknown optimizer 'SGD'"):
        lbfgs_gss.run_optimizer("SGD", [torch.zeros(2, requires_grad=True)], lambda: torch.tensor(0.0), 1)


@pytest.mark.parametrize("cls, field, bad, kind", [
    (train.SGDConfig, "lr", 0.0, "float > 0"), (train.SGDConfig, "momentum", -0.1, "float >= 0"),
    (train.SGDConfig, "epochs", 0, "int > 0"), (train.LBFGSGSSConfig, "tol", math.inf, "float > 0"),
    (train.TorchLBFGSConfig, "max_eval", 2.0, "int > 0"), (train.LBFGSGSSConfig, "iterations", True, "int > 0"),
])
def test_network_configs_share_one_protocol(cls, field, bad, kind):
    assert issubclass(cls, train.NetworkOptimizerConfig)
    with pytest.raises(ValueError, match=f"{cls.__name__}.{field}={bad!r}: must be a {kind}"):
        cls(**{field: bad})
    assert cls().steps == (cls().epochs if cls.mode == "minibatch" else cls().iterations)


def test_profile_facts_name_the_settings_the_prose_quotes():
    f = study.get_profile("paper").facts()
    assert f["profile_name"] == "paper" and f["n_inits"] == 75 and f["k_best"] == 48 and f["gss_iters"] == "1,000"
    assert set(study.DATASET_LABELS) == set(data.DATASETS)
    over = study.get_profile("smoke").replace(
        arch_overrides=(("lstm", "lbfgs_gss", train.LBFGSGSSConfig(iterations=7)),))
    assert over.facts()["gss_iters"] == f"{over.config('lbfgs_gss').iterations:,} (LSTM 7)"
    assert glue.normalise_facts(f) == f  # plain scalars and strings only


def _run(seed, train_min, test_curve):
    t = torch.tensor(test_curve, dtype=torch.float64)
    return SimpleNamespace(seed=seed, min_train_loss=train_min, test_loss=t, min_test_loss=float(t.min()))


def test_test_rise_averages_final_over_minimum_test_loss_of_the_selected_runs():
    prof = study.Profile("t", n_inits=3, k_best=2)
    runs = (_run(0, 0.1, [2.0, 1.0, 1.5]), _run(1, 0.2, [2.0, 1.0, 1.0]), _run(2, 0.9, [2.0, 1.0, 9.0]))
    res = study.StudyResult("fcp", prof, {"sgd": runs}, 0, 3)
    assert res.test_rise("sgd") == pytest.approx((1.5 + 1.0) / 2)  # the third run is not among the 2 best


def test_table1_facts_count_and_range():
    cols = pd.MultiIndex.from_tuples([(l, o, s) for l in ("train", "test") for o in ("L-BFGS-GSS", "SGD")
                                      for s in ("book", "published")])
    t1 = pd.DataFrame([[0.1, 0.2, 0.5, 0.4, 1.0, 1.5, 2.0, 1.0], [0.9, 0.2, 0.5, 0.4, 3.0, 1.0, 1.0, 1.0]],
                      index=["FCP", "LSTM"], columns=cols)
    f = study.table1_facts(t1)
    assert f["book_gss_lower"] == 1 and f["pub_gss_lower"] == 2
    assert f["test_ratio_min"] == pytest.approx(0.5) and f["test_ratio_max"] == pytest.approx(3.0)
    assert f["pub_ratio_min"] == pytest.approx(1.0) and f["pub_ratio_max"] == pytest.approx(1.5)
    assert f["pub_fcp_train"] == pytest.approx(0.2)


def test_shorten_titles_and_survey_counts_facts():
    frame = pd.DataFrame({"title": ["a" * 10, "short"], "other": ["b" * 10, "x"]})
    out = survey.shorten_titles(frame, 6)
    assert out["title"].tolist() == ["aaaaa…", "short"] and out["other"].tolist() == frame["other"].tolist()
    assert frame["title"][0] == "a" * 10  # the input is not changed
    with pytest.raises(ValueError, match="width=1"):
        survey.shorten_titles(frame, 1)
    c = survey.counts()
    assert c.facts()["n_algorithms"] == c.n_algorithms and all(isinstance(v, int) for v in c.facts().values())


def test_network_names_are_public_and_cover_every_architecture():
    assert set(study.NETWORK_NAMES) == set(models.ARCHITECTURES)


def test_profile_counts_per_architecture_and_replace_applies_to_all():
    q = study.get_profile("quick")
    assert q.counts("fcp") == (75, 48) and q.counts("autoencoder") == (75, 48)
    assert q.counts("lenet") == (16, 16) and q.counts("lstm") == (16, 16)
    assert [t.key.seed for t in study.plan("lenet", q, ("sgd",))] == list(range(16))
    assert "16 with all 16 kept for LeNet and the LSTM" in q.facts()["counts"]
    r = q.replace(n_inits=8, k_best=6)  # a chapter's explicit counts win for every architecture
    assert r.arch_counts == () and r.counts("lenet") == (8, 6) and r.counts("fcp") == (8, 6)
    assert study.get_profile("full").counts_text() == "75 initialisations per optimizer with the best 48 kept"
    with pytest.raises(ValueError, match="arch_counts for lenet: n_inits=4, k_best=5"):
        study.Profile("bad", arch_counts=(("lenet", 4, 5),))
    with pytest.raises(ValueError, match="Profile 'bad': arch_counts: unknown architecture 'resnet'; valid: "):
        study.Profile("bad", arch_counts=(("resnet", 4, 2),))
    with pytest.raises(ValueError, match="appears twice"):
        study.Profile("bad", arch_counts=(("fcp", 4, 2), ("fcp", 5, 2)))


def _regime_run(seed, train_curve, test_curve):
    tr, te = torch.tensor(train_curve), torch.tensor(test_curve)
    z = torch.zeros(1)
    return train.RunResult("fcp", "sgd", seed, tr, te, z, z, z, int(tr.argmin()), int(te.argmin()), 0.0, "cpu")


def test_overfit_regime_counts_runs_past_their_test_minimum_with_an_exact_interval():
    from scipy.stats import binomtest

    falling = [1.0, 0.5, 0.25, 0.1]
    past = [_regime_run(s, falling, [1.0, 0.4, 0.5, 0.6]) for s in range(9)]  # test minimum at step 1, +50 % at the end
    still = [_regime_run(s, falling, [1.0, 0.6, 0.5, 0.49]) for s in range(9, 12)]  # still falling
    r = study.overfit_regime(past + still)
    ci = binomtest(9, 12).proportion_ci(method="exact")
    assert (r.n, r.n_past) == (12, 9) and r.share == 0.75
    assert r.interval == pytest.approx((ci.low, ci.high)) and r.interval[0] < 0.5  # 9 of 12 is not enough
    assert r.verdict == "not resolved" and r.median_test_min_at == pytest.approx(1 / 3)
    assert study.overfit_regime(past * 2).verdict == "reached"
    assert study.overfit_regime(still * 5).verdict == "not reached"
    # a rise under the margin is not overfitting: 0.5 -> 0.51 is 2 %
    assert study.overfit_regime([_regime_run(0, falling, [1.0, 0.5, 0.51, 0.51])]).n_past == 0
    assert study.overfit_regime([_regime_run(0, falling, [1.0, 0.5, 0.51, 0.51])], rise=0.01).n_past == 1
    assert glue.normalise_facts(r.facts())["verdict"] == "not resolved"
    with pytest.raises(ValueError, match="at least one run"):
        study.overfit_regime([])
    with pytest.raises(ValueError, match="rise=-0.1"):
        study.overfit_regime(past, rise=-0.1)
