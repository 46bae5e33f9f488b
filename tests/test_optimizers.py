"""lls_core.optimizers, .stats and .benchmark: update rules by hand, runner semantics, Table 4 statistics."""

import math

import numpy as np
import pytest
import torch
from scipy import stats as sps

from lls_core import benchmark, optimizers as opt, stats, surfaces


def quad(x):
    """1-D quadratic f(x) = x^2 on (N, 1); gradient 2x."""
    return (x**2).sum(-1)


# ---------------------------------------------------------------- hand-computed first three steps
def _hand(name, hp, x0=1.0, steps=3):
    """Ruder's (or the original paper's) equations in plain floats, on f(x) = x^2."""
    g = lambda x: 2.0 * x  # noqa: E731
    f = lambda x: x * x  # noqa: E731
    xs = [x0]
    x = x0
    if name in ("BGD", "SGD", "SVRG", "SARAH"):  # SVRG/SARAH reduce to GD when components share the Hessian
        for _ in range(steps):
            x = x - hp["lr"] * g(x)
            xs.append(x)
    elif name == "Momentum":
        v = 0.0
        for _ in range(steps):
            v = hp["momentum"] * v + hp["lr"] * g(x)
            x = x - v
            xs.append(x)
    elif name == "Nesterov":
        v = 0.0
        for _ in range(steps):
            v = hp["momentum"] * v + hp["lr"] * g(x - hp["momentum"] * v)
            x = x - v
            xs.append(x)
    elif name == "AdaGrad":
        G = 0.0
        for _ in range(steps):
            G += g(x) ** 2
            x = x - hp["lr"] / math.sqrt(G + hp["eps"]) * g(x)
            xs.append(x)
    elif name == "RMSProp":
        E = 0.0
        for _ in range(steps):
            E = hp["gamma"] * E + (1 - hp["gamma"]) * g(x) ** 2
            x = x - hp["lr"] / math.sqrt(E + hp["eps"]) * g(x)
            xs.append(x)
    elif name in ("Adam", "Nadam", "AMSGrad", "Adamax", "Adamax-survey", "Nadam-survey"):
        b1, b2, eps, lr = hp["beta1"], hp["beta2"], hp["eps"], hp["lr"]
        m = v = vmax = u = 0.0
        for t in range(1, steps + 1):
            gt = g(x)
            m = b1 * m + (1 - b1) * gt
            v = b2 * v + (1 - b2) * gt**2
            mh, vh = m / (1 - b1**t), v / (1 - b2**t)
            if name == "Adam":
                x = x - lr * mh / (math.sqrt(vh) + eps)
            elif name == "Nadam":
                x = x - lr / (math.sqrt(vh) + eps) * (b1 * mh + (1 - b1) * gt / (1 - b1**t))
            elif name == "AMSGrad":
                vmax = max(vmax, v)
                x = x - lr * m / (math.sqrt(vmax) + eps)
            elif name == "Nadam-survey":  # no 1/(1 - beta1^t) on the gradient term
                x = x - lr / (math.sqrt(vh) + eps) * (b1 * mh + (1 - b1) * gt)
            elif name == "Adamax-survey":  # m not bias-corrected
                u = max(b2 * u, abs(gt) + eps)
                x = x - lr * m / u
            else:
                u = max(b2 * u, abs(gt))
                x = x - lr / u * mh
            xs.append(x)
    elif name == "AdaDelta":
        Eg = Ed = 0.0
        for _ in range(steps):
            gt = g(x)
            Eg = hp["gamma"] * Eg + (1 - hp["gamma"]) * gt**2
            dx = -math.sqrt(Ed + hp["eps"]) / math.sqrt(Eg + hp["eps"]) * gt
            Ed = hp["gamma"] * Ed + (1 - hp["gamma"]) * dx**2
            x = x + dx
            xs.append(x)
    elif name == "AdaDelta-survey":  # eps outside the root of E[g^2]
        Eg = Ed = 0.0
        for _ in range(steps):
            gt = g(x)
            Eg = hp["gamma"] * Eg + (1 - hp["gamma"]) * gt**2
            dx = -math.sqrt(Ed + hp["eps"]) / (math.sqrt(Eg) + hp["eps"]) * gt
            Ed = hp["gamma"] * Ed + (1 - hp["gamma"]) * dx**2
            x = x + dx
            xs.append(x)
    elif name == "NAG":
        a, y, xprev = 1.0, x0, x0
        for _ in range(steps):
            xn = y - hp["lr"] * g(y)
            an = (1 + math.sqrt(4 * a * a + 1)) / 2
            y = xn + (a - 1) / an * (xn - xprev)
            a, xprev = an, xn
            xs.append(xn)
    elif name == "SPSA":  # central differences are exact on a quadratic, for either sign of Delta
        for k in range(steps):
            ak = hp["a"] / (k + 1 + hp["A"]) ** hp["alpha"]
            ck = hp["c"] / (k + 1) ** hp["gamma_c"]
            ghat = (f(x + ck) - f(x - ck)) / (2 * ck)
            x = x - ak * ghat
            xs.append(x)
    else:
        raise AssertionError(name)
    return xs


# larger steps than the defaults so that three steps move visibly; AdaDelta keeps its defaults
HAND_HP = {"lr": 0.1}


@pytest.mark.parametrize("name", opt.names())
def test_first_three_steps_match_hand_computation(name):
    spec = opt.get(name)
    hyper = {k: v for k, v in HAND_HP.items() if k in spec.defaults}
    hp = opt.validate_hyperparameters(name, hyper)
    oracle = None
    if spec.kind == "finite-sum":
        oracle = opt.FiniteSumOracle.make(n=20, batch_size=4, scale_b=0.0, d=1)
    elif spec.stochastic_default:
        oracle = opt.ExactOracle()
    r = opt.run(name, quad, torch.tensor([[1.0]]), hyper=hyper, oracle=oracle, max_iter=3,
                grad_tol=0.0, record_every=1)
    got = r.trajectory[0, 0, :, 0].tolist()
    want = _hand(name, hp)
    assert r.record_iters.tolist() == [0, 1, 2, 3]
    assert got[0] == 1.0 and got[1] != 1.0
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-12)


def test_every_default_names_its_source():
    for spec in opt.SURFACE_RULES.values():
        assert set(spec.provenance) == set(spec.defaults), spec.name
        assert all(isinstance(v, str) and v for v in spec.provenance.values())
    # Ruder gives a learning rate for AdaGrad, RMSprop and Adamax only
    for name in ("BGD", "SGD", "Momentum", "Nesterov", "Adam", "Nadam", "AMSGrad"):
        assert "Ruder (2016), Sec" not in opt.get(name).provenance["lr"], name
    for name in ("AdaGrad", "RMSProp", "Adamax"):
        assert opt.get(name).provenance["lr"].startswith("Ruder (2016), Sec."), name
    assert dict(opt.SURVEY_VARIANTS) == {"Adamax": "Adamax-survey", "Nadam": "Nadam-survey",
                                         "AdaDelta": "AdaDelta-survey"}
    assert opt.get("AdaDelta-survey").defaults["gamma"] == 0.95


def test_literal_values_bgd_and_momentum():
    r = opt.run("BGD", quad, torch.tensor([[1.0]]), hyper={"lr": 0.1}, max_iter=3, grad_tol=0, record_every=1)
    np.testing.assert_allclose(r.trajectory[0, 0, :, 0], [1.0, 0.8, 0.64, 0.512], rtol=1e-12)
    r = opt.run("Momentum", quad, torch.tensor([[1.0]]), hyper={"lr": 0.1, "momentum": 0.9}, max_iter=3,
                grad_tol=0, record_every=1)
    # v1 = 0.2, x1 = 0.8; v2 = 0.18 + 0.16 = 0.34, x2 = 0.46; v3 = 0.306 + 0.092 = 0.398, x3 = 0.062
    np.testing.assert_allclose(r.trajectory[0, 0, :, 0], [1.0, 0.8, 0.46, 0.062], rtol=1e-12)


def test_torch_nesterov_iterates_are_ruders_lookahead_points():
    lr, mu = 0.1, 0.9
    theta, v, look = 1.0, 0.0, []
    for _ in range(5):
        v = mu * v + lr * 2 * (theta - mu * v)
        theta -= v
        look.append(theta - mu * v)
    p = torch.tensor([1.0], dtype=torch.float64)
    o = torch.optim.SGD([p], lr=lr, momentum=mu, nesterov=True)
    got = []
    for _ in range(5):
        p.grad = 2 * p.detach().clone()
        o.step()
        got.append(float(p))
    np.testing.assert_allclose(got, look, rtol=1e-12)


# ---------------------------------------------------------------- runner semantics
ADAPTIVE = ("AdaGrad", "RMSProp", "Adam", "AdaDelta", "Adamax", "Nadam", "AMSGrad")


@pytest.mark.parametrize("name", ADAPTIVE)
def test_adaptive_trajectories_identical_on_use_cases_I_and_II(name):
    """Per-coordinate scale invariance: 4x^2 rescales the x-gradient by 4, which these rules cancel."""
    c1, c2 = surfaces.get("case1"), surfaces.get("case2")
    x0 = benchmark.starts(16, seed=3)
    hyper = {"eps": 1e-14}
    r = opt.run(name, [c1, c2], x0, hyper=hyper, max_iter=200, grad_tol=0, record_every=1)
    np.testing.assert_allclose(r.trajectory[0], r.trajectory[1], rtol=1e-6, atol=1e-9)
    # default eps: equal up to eps effects while the gradients are large
    r = opt.run(name, [c1, c2], x0, max_iter=50, grad_tol=0, record_every=1)
    np.testing.assert_allclose(r.trajectory[0], r.trajectory[1], rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("name", ("BGD", "Momentum"))
def test_non_adaptive_trajectories_differ_on_I_and_II(name):
    r = opt.run(name, [surfaces.get("case1"), surfaces.get("case2")], torch.tensor([[1.0, 1.0]]),
                max_iter=20, grad_tol=0, record_every=1)
    assert not torch.allclose(r.trajectory[0], r.trajectory[1])


@pytest.mark.parametrize("name", ("BGD", "Momentum", "Nesterov", "NAG"))
def test_divergence_detected_and_labelled_on_use_case_III(name):
    starts = torch.tensor([[0.5, 0.3], [-1.0, -0.2], [0.7, 0.0]])
    r = opt.run(name, surfaces.get("case3"), starts, hyper={"lr": 0.05}, max_iter=2000, bound=100.0)
    names = r.status_names()[0]
    assert names[:2] == ["diverged", "diverged"]
    # a start on the x axis has no y-component to amplify: it converges to the saddle
    assert names[2] == "converged"
    assert (r.final_x[0, :2].abs().amax(-1) > 100).all()  # recorded where it left, not zeroed
    assert (r.final_loss[0, :2] < -1e4).all()
    assert (r.iterations[0, :2] < 2000).all()


def test_status_max_iter_and_iterations():
    r = opt.run("BGD", quad, torch.tensor([[1.0], [1e-8]]), hyper={"lr": 0.001}, max_iter=10)
    assert r.status_names()[0] == ["max_iter", "converged"]
    assert r.iterations[0].tolist() == [10, 0]


def test_run_many_equals_run_and_runs_are_independent():
    surfs = [surfaces.get("case1"), surfaces.get("case4")]
    x0 = benchmark.starts(8, seed=1)
    many = opt.run_many(["Adam", "Nesterov", "SGD"], surfs, x0, max_iter=100)
    for name in ("Adam", "Nesterov", "SGD"):
        one = opt.run(name, surfs, x0, max_iter=100)
        assert torch.equal(one.final_x, many[name].final_x)
    # a deterministic run does not depend on which other starts share the tensor
    sub = opt.run("Adam", surfs, x0[:3], max_iter=100)
    assert torch.allclose(sub.final_x, many["Adam"].final_x[:, :3], rtol=0, atol=1e-14)


def test_sgd_is_bgd_without_noise_and_differs_with_noise():
    x0 = benchmark.starts(10)
    c4 = surfaces.get("case4")
    bgd = opt.run("BGD", c4, x0, max_iter=200)
    sgd0 = opt.run("SGD", c4, x0, max_iter=200, oracle=opt.GaussianNoiseOracle(0.0))
    sgd = opt.run("SGD", c4, x0, max_iter=200, oracle=opt.GaussianNoiseOracle(0.5))
    assert torch.equal(bgd.final_x, sgd0.final_x)
    assert not torch.allclose(bgd.final_x, sgd.final_x)


def test_svrg_and_sarah_reduce_minibatch_noise():
    x0 = benchmark.starts(200, seed=2)
    c1 = surfaces.get("case1")
    o = opt.FiniteSumOracle.make(n=50, batch_size=5, scale_a=1.0, scale_b=0.5)
    err = {}
    for name in ("SGD", "SVRG", "SARAH"):
        r = opt.run(name, c1, x0, oracle=o, hyper={"lr": 0.05}, max_iter=500, grad_tol=0)
        err[name] = float(r.final_x.norm(dim=-1).median())
    assert err["SVRG"] < 1e-3 * err["SGD"]
    assert err["SARAH"] < 1e-3 * err["SGD"]


def test_spsa_descends_without_gradients():
    r = opt.run("SPSA", surfaces.get("case1"), benchmark.starts(50), max_iter=500)
    assert (r.final_loss < r.initial_loss).all()


def test_result_is_frozen_and_registry_read_only():
    r = opt.run("BGD", quad, torch.tensor([[1.0]]), max_iter=1)
    with pytest.raises(AttributeError):
        r.optimizer = "Adam"
    with pytest.raises(TypeError):
        opt.SURFACE_RULES["X"] = opt.get("BGD")
    with pytest.raises(TypeError):
        opt.get("Adam").defaults["lr"] = 1.0


# ---------------------------------------------------------------- specs beside rules
def test_every_entry_holds_its_rule_and_torch_text_comes_from_the_mapping():
    for spec in opt.SURFACE_RULES.values():
        assert issubclass(spec.rule, opt.UpdateRule) and spec.rule is not opt.UpdateRule, spec.name
        mapping = getattr(spec.rule, "mapping", None)
        assert (spec.torch is None) == (mapping is None), spec.name
        if mapping is None:
            continue
        assert spec.torch == str(mapping) and spec.torch.startswith(f"torch.optim.{mapping.cls}("), spec.name
        # the optimizer the rule runs is the class the spec names, with the spec's hyperparameters
        hp = opt.validate_hyperparameters(spec.name)
        r = spec.rule(torch.zeros(1, 2, 2, dtype=torch.float64), hp, opt.ExactOracle(), torch.Generator())
        assert type(r.opt) is getattr(torch.optim, mapping.cls), spec.name
        group = r.opt.param_groups[0]
        for key, value in mapping.arguments(hp).items():
            assert group[key] == value, (spec.name, key)
    adam = opt.get("Adam")
    assert adam.torch == "torch.optim.Adam(lr=lr, betas=(beta1, beta2), eps=eps)"
    assert opt.get("AdaDelta").torch == "torch.optim.Adadelta(lr=1.0, rho=gamma, eps=eps)"
    assert opt.get("Nesterov").torch is None
    with pytest.raises(ValueError, match="'Adamm' is not a torch.optim optimizer class"):
        opt.TorchMapping("Adamm", {"lr": "lr"})
    with pytest.raises(TypeError):
        opt.get("Adam").rule.mapping.kwargs["lr"] = "eps"


def test_unknown_optimizer_is_a_key_and_value_error():
    for exc in (KeyError, ValueError):
        with pytest.raises(exc, match="valid names: BGD"):
            opt.get("Adamm")


def _components(o, idx):
    """f_B - f on (d,) points as a plain function of the batch: mean over B of a_i.x + 1/2 sum_j b_ij x_j^2."""
    a, b = o.a[idx], o.b[idx]
    return lambda x: (a @ x).mean() + 0.5 * (b @ (x * x)).mean()


def _grad(fn, x):
    x = x.detach().clone().requires_grad_(True)
    (g,) = torch.autograd.grad(fn(x), x)
    return g


def _variance_reduced_by_hand(name, f, o, x0, lr, m, steps, seed):
    """SVRG (Johnson & Zhang, option I) and SARAH (Nguyen et al.) as plain loops over one run,
    component gradients by autograd of the explicit f_i; batches drawn as the runner draws them."""
    gen = torch.Generator().manual_seed(seed)
    x, xs = x0.clone(), [x0.clone()]
    for t in range(1, steps + 1):
        full = _grad(f, x)
        if (t - 1) % m == 0:
            v = full
            snap, snap_full, prev, prev_v = x.clone(), full, x.clone(), full
        else:
            idx = torch.randint(0, o.n, (1, 1, o.batch_size), generator=gen)[0, 0]
            fb = _components(o, idx)
            gb = lambda p: _grad(f, p) + _grad(fb, p)  # noqa: E731  grad f_B = grad f + grad (f_B - f)
            if name == "SVRG":
                v = gb(x) - gb(snap) + snap_full
            else:
                v = gb(x) - gb(prev) + prev_v
                prev, prev_v = x.clone(), v
        x = x - lr * v
        xs.append(x.clone())
    return torch.stack(xs)


@pytest.mark.parametrize("name", ("SVRG", "SARAH"))
def test_variance_reduced_rules_equal_an_independent_implementation(name):
    """Components with different Hessians (b != 0), so the estimate is not the exact gradient."""
    f = lambda p: 2.0 * p[..., 0] ** 2 + 0.5 * p[..., 1] ** 2 + 0.3 * p[..., 0] * p[..., 1]  # noqa: E731
    o = opt.FiniteSumOracle.make(n=12, batch_size=3, scale_a=1.0, scale_b=0.7, d=2, seed=4)
    x0 = torch.tensor([1.5, -0.8], dtype=torch.float64)
    lr, m, steps = 0.05, 4, 11
    r = opt.run(name, f, x0[None], hyper={"lr": lr, "inner": m}, oracle=o, max_iter=steps, grad_tol=0.0,
                record_every=1, seed=7)
    want = _variance_reduced_by_hand(name, f, o, x0, lr, m, steps, seed=7)
    torch.testing.assert_close(r.trajectory[0, 0], want, rtol=1e-12, atol=1e-13)


def test_svrg_and_sarah_share_restarts_and_differ_only_between_them():
    """The shared finite-sum machinery: at t = 1, 1 + m, ... both take the exact full-gradient step;
    the step after a restart is the same for both (anchor = last restart); later steps differ."""
    f = lambda p: (p**2).sum(-1) + 0.5 * p[..., 0] * p[..., 1]  # noqa: E731
    o = opt.FiniteSumOracle.make(n=20, batch_size=2, scale_b=0.8, d=2, seed=1)
    x0 = benchmark.starts(5, seed=2)
    lr, m = 0.1, 3
    res = opt.run_many(["SVRG", "SARAH"], f, x0, hypers={n: {"lr": lr, "inner": m} for n in ("SVRG", "SARAH")},
                       oracles={"SVRG": o, "SARAH": o}, max_iter=9, grad_tol=0.0, record_every=1)
    for name, r in res.items():
        traj = r.trajectory[0]  # (N, K, d)
        v = (traj[:, :-1] - traj[:, 1:]) / lr  # the estimate each update used, (N, 9, d)
        exact = torch.stack([_grad(lambda p: f(p).sum(), traj[:, k]) for k in range(9)], 1)
        restart = torch.tensor([(t - 1) % m == 0 for t in range(1, 10)])
        torch.testing.assert_close(v[:, restart], exact[:, restart], rtol=1e-9, atol=1e-12)
        assert (v[:, ~restart] - exact[:, ~restart]).norm(dim=-1).min() > 1e-6, name
    a, b = res["SVRG"].trajectory[0], res["SARAH"].trajectory[0]
    assert torch.equal(a[:, :3], b[:, :3])  # x0, after the restart step, after the first corrected step
    assert not torch.allclose(a[:, 3:], b[:, 3:])


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "name, hyper, exc, match",
    [
        ("Adamm", None, KeyError, "valid names"),
        ("Adam", {"lr": -0.1}, ValueError, "lr=-0.1"),
        ("Adam", {"lr": 0.0}, ValueError, "must be > 0"),
        ("Adam", {"beta1": 1.0}, ValueError, r"\[0, 1\)"),
        ("Adam", {"beta2": -0.5}, ValueError, "beta2"),
        ("Momentum", {"momentum": 1.5}, ValueError, "momentum"),
        ("Adam", {"momentum": 0.9}, ValueError, "no hyperparameter 'momentum'"),
        ("AdaDelta", {"lr": 0.1}, ValueError, "no hyperparameter 'lr'"),
        ("RMSProp", {"eps": float("nan")}, ValueError, "finite"),
        ("SGD", {"lr": "0.1"}, ValueError, "real number"),
        ("SVRG", {"inner": 2.5}, ValueError, "integer"),
    ],
)
def test_bad_names_and_hyperparameters_raise(name, hyper, exc, match):
    with pytest.raises(exc, match=match):
        opt.run(name, quad, torch.tensor([[1.0]]), hyper=hyper, max_iter=1)


def test_bad_runner_arguments_raise():
    x = torch.tensor([[1.0]])
    with pytest.raises(ValueError, match="shape"):
        opt.run("BGD", quad, torch.ones(3))
    with pytest.raises(ValueError, match="max_iter"):
        opt.run("BGD", quad, x, max_iter=-1)
    with pytest.raises(ValueError, match="BGD uses the exact gradient"):
        opt.run("BGD", quad, x, oracle=opt.GaussianNoiseOracle(1.0))
    with pytest.raises(TypeError, match="FiniteSumOracle"):
        opt.run("SVRG", quad, x, oracle=opt.ExactOracle())
    with pytest.raises(ValueError, match="sigma"):
        opt.GaussianNoiseOracle(-1.0)
    with pytest.raises(ValueError, match="batch_size"):
        opt.FiniteSumOracle.make(n=10, batch_size=11)
    with pytest.raises(ValueError, match="non-finite"):
        opt.run("BGD", quad, torch.tensor([[float("nan")]]))
    with pytest.raises(ValueError, match="twice"):
        opt.run_many(["Adam", "adam"], quad, x)
    with pytest.raises(ValueError, match="kind"):
        benchmark.starts(5, kind="spiral")


# ---------------------------------------------------------------- statistics
def test_statistics_columns_match_scipy():
    a = np.random.default_rng(0).gamma(2.0, 3.0, size=1000)
    s = stats.describe(a)
    d = sps.describe(a, ddof=1, bias=False)
    assert s.n == d.nobs == 1000
    assert s.Min == d.minmax[0]
    assert s.Mean == pytest.approx(d.mean, rel=1e-12)
    assert s.Var == pytest.approx(d.variance, rel=1e-12)
    assert s.SD == pytest.approx(math.sqrt(d.variance), rel=1e-12)
    assert s.Skew == pytest.approx(d.skewness, rel=1e-10)
    assert s.Kurt == pytest.approx(d.kurtosis, rel=1e-10)
    assert s.Q1 == pytest.approx(sps.scoreatpercentile(a, 25), rel=1e-12)
    assert s.Q3 == pytest.approx(sps.scoreatpercentile(a, 75), rel=1e-12)
    assert s.Med == pytest.approx(np.median(a), rel=1e-12)
    # gamma(k=2, theta=3) has its mode at (k - 1) theta = 3
    assert s.Mode == pytest.approx(3.0, abs=1.0)
    assert list(s.as_dict())[1:] == list(stats.TABLE4_COLUMNS)


def test_naive_mode_of_continuous_data_is_the_minimum():
    a = np.random.default_rng(1).normal(size=500)
    assert stats.naive_mode(a) == a.min()
    assert stats.kde_mode(a) == pytest.approx(0.0, abs=0.3)


def test_statistics_edge_cases():
    assert stats.describe([]).n == 0 and math.isnan(stats.describe([]).Mean)
    s = stats.describe([2.0] * 5)
    assert s.Mode == 2.0 and s.Var == 0.0 and math.isnan(s.Skew)
    with pytest.raises(ValueError, match="non-finite"):
        stats.describe([1.0, float("inf")])


# ---------------------------------------------------------------- benchmark figures and data
def test_per_run_figures_on_known_runs():
    res = benchmark.run_benchmark(["BGD"], ["case1", "case3"], benchmark.starts(20), max_iter=2000)
    figs = benchmark.per_run_figures(res["BGD"])
    np.testing.assert_allclose(figs["loss_change_pct"][0], -100, atol=1e-6)
    np.testing.assert_allclose(figs["gap_closed_pct"][0], -100, atol=1e-6)
    assert (figs["distance"][0] < 1e-6).all() and figs["success"][0].all()
    assert np.isnan(figs["distance"][1]).all() and not figs["success"][1].any()
    t = benchmark.table4(res)
    row = t[t.surface == "III"].iloc[0]
    assert row["n"] == 0 and row["diverged_pct"] == 100.0


def test_published_table4_transcription():
    df = benchmark.published_table4()
    assert len(df) == 40 and df.id.tolist() == list(range(1, 41))
    assert list(df.algorithm.unique()) == list(opt.SURVEY_TEN)
    # the printed patterns the chapter explains
    assert (df.Mode == df.Min).all()
    assert (df[df.surface == "III"][list(stats.TABLE4_COLUMNS)] == 0).all().all()
    num = df.set_index(["algorithm", "surface"])[list(stats.TABLE4_COLUMNS)]
    assert num.loc["BGD"].equals(num.loc["SGD"])
    for name in ("AdaGrad", "RMSProp", "Adam", "AdaDelta", "Adamax", "Nadam"):
        assert num.loc[(name, "I")].equals(num.loc[(name, "II")])


def test_surfaces_by_name_and_table3_status():
    r = opt.run("Adam", ["case1", "case4"], benchmark.starts(4), max_iter=5)
    assert r.surfaces == ("case1", "case4")
    with pytest.raises(KeyError, match="valid names"):
        opt.run("Adam", "case9", benchmark.starts(4), max_iter=5)
    st = benchmark.table3_status()
    assert len(st) == 32 and st["index"].tolist() == list(range(1, 33))
    runs = set(st.loc[st.runs_in_book == "yes", "algorithm"])
    assert {"NAG", "SPSA", "SVRG", "SARAH", "BGD", "SGD"} <= runs
    assert st.loc[st.runs_in_book == "no", "reason_if_not"].notna().all()


def test_lr_sweep_rejects_bad_rates():
    with pytest.raises(ValueError, match="positive"):
        benchmark.lr_sweep(["Adam"], [0.1, -1.0])
