"""Training runs: curves, early-stopping checkpoints, determinism, pluggable optimizers, the study protocol."""

import dataclasses
import math

import pytest
import torch

from lls_core import data, models, params, study, train
from lls_core.store import Store


@pytest.fixture(scope="module")
def tiny():
    return data.load("mnist-5k", n_train=200, n_test=100, seed=0)


CONFIGS = [
    train.SGDConfig(epochs=3, lr=0.5),
    train.TorchLBFGSConfig(iterations=4),
    train.LBFGSGSSConfig(iterations=4),
]


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: c.name)
def test_run_records_curves_and_checkpoints(tiny, config):
    r = train.train("fcp", config, tiny, seed=1, device="cpu")
    n = config.steps + 1
    assert r.train_loss.shape == (n,) and r.test_loss.shape == (n,)
    assert r.w_train.shape == r.w_test.shape == r.w_final.shape == (models.PARAM_COUNTS["fcp"],)
    # Index 0 is the initialisation: ln(10)-ish for a fresh classifier.
    assert abs(float(r.train_loss[0]) - math.log(10)) < 0.2
    assert r.min_train_loss < float(r.train_loss[0])  # it learned something
    assert r.best_test_step == int(torch.argmin(r.test_loss)) and r.best_train_step == int(torch.argmin(r.train_loss))
    # The checkpoints really are the weights at those minima: re-evaluate them.
    m = models.build("fcp")
    params.assign(m, r.w_test)
    assert train.evaluate(m, tiny.x_test, tiny.y_test) == pytest.approx(r.min_test_loss, rel=1e-5)
    params.assign(m, r.w_train)
    assert train.evaluate(m, tiny.x_train, tiny.y_train) == pytest.approx(r.min_train_loss, rel=1e-5)
    params.assign(m, r.w_final)
    assert train.evaluate(m, tiny.x_train, tiny.y_train) == pytest.approx(float(r.train_loss[-1]), rel=1e-5)


@pytest.mark.parametrize("arch", models.ARCHITECTURES)
def test_every_architecture_trains_deterministically(tiny, arch):
    cfg = train.SGDConfig(epochs=1, lr=0.5)
    a = train.train(arch, cfg, tiny, seed=3, device="cpu")
    b = train.train(arch, cfg, tiny, seed=3, device="cpu")
    c = train.train(arch, cfg, tiny, seed=4, device="cpu")
    assert torch.equal(a.w_final, b.w_final) and torch.equal(a.train_loss, b.train_loss)
    assert not torch.equal(a.w_final, c.w_final)
    assert torch.isfinite(a.train_loss).all()


def test_lstm_permutation_seed_changes_the_network(tiny):
    m0, m1 = models.build("lstm", seed=0, perm_seed=0), models.build("lstm", seed=0, perm_seed=1)
    assert torch.equal(params.flatten(m0), params.flatten(m1))  # same weights ...
    assert not torch.equal(m0.perm, m1.perm)  # ... different fixed permutation
    assert not torch.equal(m0(tiny.x_test[:4]), m1(tiny.x_test[:4]))


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: train.SGDConfig(lr=-1.0), "lr=-1.0"),
        (lambda: train.SGDConfig(epochs=0), "epochs=0"),
        (lambda: train.LBFGSGSSConfig(line_search_budget=0), "line_search_budget=0"),
        (lambda: train.optimizer_config("adam"), "valid: sgd, lbfgs_gss, lbfgs"),
        (lambda: train.optimizer_config("sgd", lrate=0.1), "lrate"),
        (lambda: study.get_profile("huge"), "valid: smoke, quick, full, paper"),
        (lambda: study.Profile("x", n_inits=3, k_best=5), "k_best=5"),
        (lambda: study.plan("resnet", "smoke"), "valid: fcp"),
        (lambda: study.Profile("x", n_inits=2, k_best=1, arch_overrides=(("vgg", "sgd", train.SGDConfig()),)), "'vgg'"),
    ],
)
def test_bad_input_is_refused_with_a_clear_message(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_a_new_optimizer_plugs_in(tiny, tmp_path, monkeypatch):
    @dataclasses.dataclass(frozen=True)
    class AdamConfig(train.NetworkOptimizerConfig):
        lr: float = 1e-2
        epochs: int = 2
        batch_size: int = 64
        name = "adam_test"
        label = "Adam"
        set_prefix = "ADAM"
        mode = "minibatch"
        positive = ("lr", "epochs", "batch_size")

        def make(self, ps):
            return torch.optim.Adam(ps, lr=self.lr)

    assert AdamConfig().steps == 2  # the shared protocol: steps and checks come from the base
    with pytest.raises(ValueError, match=r"AdamConfig.lr=-1.0: must be a float > 0"):
        AdamConfig(lr=-1.0)
    with pytest.raises(ValueError, match=r"AdamConfig.epochs=1.5: must be a int > 0"):
        AdamConfig(epochs=1.5)
    monkeypatch.setitem(train.NETWORK_OPTIMIZERS, "adam_test", AdamConfig)
    train.register_optimizer(AdamConfig)
    prof = study.Profile("t", n_train=100, n_test=50, n_inits=2, k_best=1)
    res = study.run_study("fcp", prof, ("adam_test",), store=tmp_path, workers=1, progress=False, device="cpu")
    sets = res.weight_sets()
    assert set(sets) == {"ADAM-train", "ADAM-test"} and sets["ADAM-train"].shape == (1, 42200)


PROFILE = study.Profile(
    "unit",
    n_train=120,
    n_test=60,
    n_inits=3,
    k_best=2,
    optimizers=(("sgd", train.SGDConfig(epochs=2, lr=0.5)), ("lbfgs", train.TorchLBFGSConfig(iterations=3))),
)


def test_study_selects_k_best_by_training_loss_and_reuses_runs(tmp_path):
    res = study.run_study("fcp", PROFILE, ("sgd", "lbfgs"), store=tmp_path, workers=1, progress=False, device="cpu")
    assert (res.n_computed, res.n_reused) == (6, 0)
    sgd = res.runs["sgd"]
    worst = max(sgd, key=lambda r: r.min_train_loss)
    best = res.best("sgd")
    assert len(best) == 2 and worst not in best
    assert all(b.min_train_loss <= worst.min_train_loss for b in best)
    sets = res.weight_sets()
    assert set(sets) == {"SGD-train", "SGD-test", "LBFGS-train", "LBFGS-test"}
    assert torch.equal(sets["SGD-test"][0], best[0].w_test)
    t1 = res.table1_row()
    assert t1["train_sgd"] == pytest.approx(sum(r.min_train_loss for r in best) / 2)
    again = study.run_study("fcp", PROFILE, ("sgd", "lbfgs"), store=tmp_path, workers=1, progress=False, device="cpu")
    assert (again.n_computed, again.n_reused) == (0, 6)
    for k, v in again.weight_sets().items():
        assert torch.equal(v, sets[k])
    # weight_sets() is the same thing in one call.
    assert torch.equal(study.weight_sets("fcp", PROFILE, ("sgd",), store=tmp_path, workers=1, progress=False)["SGD-train"], sets["SGD-train"])


def test_dask_cluster_gives_the_serial_results(tmp_path, dask_client):
    prof = PROFILE.replace(n_inits=2, k_best=1)
    serial = study.run_study("fcp", prof, ("sgd",), store=tmp_path / "a", workers=1, progress=False, device="cpu")
    # Any scheduler address is accepted (here the session's in-process cluster; the benchmark uses processes).
    # dask_client restores torch's (process-wide) thread count, which in-process workers set.
    par = study.run_study(
        "fcp", prof, ("sgd",), store=tmp_path / "b", scheduler=dask_client.scheduler.address, progress=False, device="cpu"
    )
    assert par.n_computed == 2
    for a, b in zip(serial.runs["sgd"], par.runs["sgd"]):
        assert torch.equal(a.w_final, b.w_final) and a.seed == b.seed  # one torch thread per run on both paths
    assert len(list(Store(tmp_path / "b").runs())) == 2


def test_profile_architecture_overrides_reach_the_run_keys():
    prof = study.get_profile("quick")
    assert prof.config("lbfgs_gss", "lenet").iterations < prof.config("lbfgs_gss", "fcp").iterations
    assert prof.config("lbfgs_gss") == prof.config("lbfgs_gss", "fcp")
    small = study.Profile("o", n_train=100, n_test=50, n_inits=1, k_best=1,
                          arch_overrides=(("lstm", "sgd", train.SGDConfig(epochs=1)),))
    hyper = {a: dict(study.plan(a, small, ("sgd",))[0].key.hyper) for a in ("fcp", "lstm")}
    assert hyper["lstm"]["epochs"] == 1 and hyper["fcp"]["epochs"] == train.SGDConfig().epochs


# ---------------------------------------------------------------- the ensemble trainer
ENSEMBLE_CONFIGS = [train.SGDConfig(epochs=2, lr=0.5), train.LBFGSGSSConfig(iterations=4), train.TorchLBFGSConfig(iterations=3)]


def _inits(arch, seeds):
    return torch.stack([params.flatten(models.build(arch, seed=s)) for s in seeds])


@pytest.fixture(autouse=True)
def one_thread():
    """One torch thread, as runs are made (several threads split reductions differently per batch shape)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _assert_same_run(a, b, rtol=1e-4, atol=1e-6):
    torch.testing.assert_close(a.train_loss, b.train_loss, rtol=rtol, atol=atol, equal_nan=True)
    torch.testing.assert_close(a.test_loss, b.test_loss, rtol=rtol, atol=atol, equal_nan=True)
    # A run that blew up carries weights of size ~1e11 amplified from rounding: relative 1e-3 there.
    wtol = rtol if torch.isfinite(a.train_loss).all() else 1e-3
    for name in ("w_final", "w_train", "w_test"):
        torch.testing.assert_close(getattr(a, name), getattr(b, name), rtol=wtol, atol=max(atol, 1e-5), equal_nan=True)
    assert (a.best_train_step, a.best_test_step, a.seed) == (b.best_train_step, b.best_test_step, b.seed)
    assert a.counts == b.counts


@pytest.mark.parametrize("config", ENSEMBLE_CONFIGS, ids=lambda c: c.name)
@pytest.mark.parametrize("arch", models.ARCHITECTURES)
def test_ensemble_equals_the_same_runs_one_at_a_time(arch, config, mnist_tiny):
    """R runs trained together equal the same runs trained alone, including one that diverges."""
    ds = mnist_tiny
    seeds = [0, 1, 2]
    W = _inits(arch, seeds)
    if arch == "lenet" and config.name == "sgd":
        W[1] *= 100.0  # finite at the start, NaN after the first epoch
    else:
        W[1, 7] = float("nan")  # non-finite from the start
    ens = train.train_ensemble(arch, config, ds, seeds, init=W, device="cpu")
    for r, s in enumerate(seeds):
        alone = train.train_ensemble(arch, config, ds, [s], init=W[r : r + 1], device="cpu")[0]
        _assert_same_run(ens[r], alone)
    assert not torch.isfinite(ens[1].train_loss[-1])  # the diverged run stopped ...
    assert torch.isfinite(ens[0].train_loss).all() and torch.isfinite(ens[2].train_loss).all()  # ... the others did not
    if arch == "lenet" and config.name == "sgd":
        assert math.isfinite(float(ens[1].train_loss[0])) and not math.isfinite(float(ens[1].train_loss[1]))


@pytest.mark.parametrize("variant", ["authors", "safe"])
def test_ensemble_lbfgs_gss_runs_keep_their_own_history_and_resets(tiny, variant):
    cfg = train.LBFGSGSSConfig(iterations=15, variant=variant)
    seeds = [0, 1, 2, 3]
    # Softplus FCP: within 15 iterations some runs reset their history (safe mode) or take
    # an uphill step (authors' mode) while the others do not.
    ens = train.train_ensemble("fcp", cfg, tiny, seeds, device="cpu", activation="softplus")
    events = [(r.counts["reset_steps"], r.counts["uphill_steps"]) for r in ens]
    assert len(set(events)) > 1
    for r, s in zip(ens, seeds):
        alone = train.train("fcp", cfg, tiny, seed=s, device="cpu", activation="softplus")
        if r.counts["uphill_steps"]:
            # An uphill step lands where the loss is ~7e3: there rounding (batched vs single matmuls)
            # moves the authors' chosen step by ~0.5 %. Same decisions; curves equal up to that step.
            assert r.counts == alone.counts
            k = int(torch.nonzero(r.train_loss[1:] > r.train_loss[:-1])[0]) + 1
            torch.testing.assert_close(r.train_loss[:k], alone.train_loss[:k], rtol=1e-4, atol=1e-6)
            continue
        # 15 quasi-Newton iterations amplify rounding (batched vs single matmuls) to ~1e-4 relative.
        _assert_same_run(r, alone, rtol=2e-3, atol=1e-4)
        assert r.counts["iterations"] == cfg.iterations


def test_trajectory_and_bad_seeds(tiny):
    r = train.train("fcp", train.SGDConfig(epochs=2), tiny, seed=0, device="cpu", record_trajectory=True)
    assert r.trajectory.shape == (3, models.PARAM_COUNTS["fcp"])
    assert torch.equal(r.trajectory[-1], r.w_final) and torch.equal(r.trajectory[0], _inits("fcp", [0])[0])
    for seeds, match in (([], "seeds is empty"), ([1, 1], "repeat"), ([-1], "seed -1")):
        with pytest.raises(ValueError, match=match):
            train.train_ensemble("fcp", train.SGDConfig(epochs=1), tiny, seeds)
    with pytest.raises(ValueError, match=r"init must be a float tensor of shape \(2, 42200\)"):
        train.train_ensemble("fcp", train.SGDConfig(epochs=1), tiny, [0, 1], init=torch.zeros(3, 5))


def test_lbfgs_gss_trains_in_the_authors_mode_and_records_its_counts(tiny):
    cfg = train.LBFGSGSSConfig(iterations=5)
    assert cfg.variant == "authors"
    r = train.train("fcp", cfg, tiny, seed=1, device="cpu")
    assert r.hyper["variant"] == "authors"
    assert r.counts["iterations"] == 5
    assert set(r.counts) == {"iterations", "uphill_steps", "reset_steps", "no_decrease_steps"}
    assert 0 <= r.counts["uphill_steps"] <= r.counts["no_decrease_steps"] <= 5
    # Stored and read back with the run.
    safe = train.train("fcp", dataclasses.replace(cfg, variant="safe"), tiny, seed=1, device="cpu")
    assert safe.counts["uphill_steps"] == 0
    assert train.SGDConfig(epochs=1).make([torch.zeros(1, requires_grad=True)]) is not None
    assert train.train("fcp", train.SGDConfig(epochs=1), tiny, seed=1, device="cpu").counts == {}


def test_lbfgs_gss_bad_mode_is_refused():
    with pytest.raises(ValueError, match="variant='fast'.*authors, safe"):
        train.LBFGSGSSConfig(variant="fast")  # type: ignore[arg-type]


@pytest.mark.parametrize("variant", ["authors", "safe"])
def test_ensemble_lbfgs_gss_steps_each_run_as_its_optimizer_with_a_closure(tiny, variant):
    """The request-driven ensemble (batched evaluations, no threads) against each run's own
    L-BFGS-GSS optimizer stepped with a plain autograd closure on its network: the same decisions
    (resets, uphill steps, evaluations per line search) and, to float tolerance, the same losses and
    weights -- including runs that reset or go uphill while the others do not."""
    from lls_core import engine

    cfg = train.LBFGSGSSConfig(iterations=12, variant=variant)
    seeds = [0, 1, 2, 3]
    x, y = tiny.x_train, tiny.y_train
    nets = [models.build("fcp", seed=s, activation="softplus") for s in seeds]
    W = torch.stack([params.flatten(n) for n in nets])
    eng = engine.Engine(models.build("fcp", seed=0, activation="softplus"), (x, y))
    with train.FullBatchEnsemble(cfg, eng, W) as ens:
        for _ in range(cfg.iterations):
            ens.step(list(range(len(seeds))))
    events = set()
    for r, net in enumerate(nets):
        opt = cfg.make(net.parameters())

        def closure():
            opt.zero_grad()
            loss = models.loss(net, x, y)
            if torch.is_grad_enabled():
                loss.backward()
            return loss

        for _ in range(cfg.iterations):
            opt.step(closure)
        got, want = ens.opts[r].diagnostics(), opt.diagnostics()
        assert (got.reset_flags, got.uphill, got.no_decrease, got.evaluations, got.history) == \
            (want.reset_flags, want.uphill, want.no_decrease, want.evaluations, want.history)
        assert (got.gradient_evaluations, got.forward_evaluations) == (want.gradient_evaluations, want.forward_evaluations)
        k = next((i for i, u in enumerate(want.uphill) if u), cfg.iterations)  # see the test above: an uphill
        torch.testing.assert_close(torch.tensor(got.loss[: k + 1]), torch.tensor(want.loss[: k + 1]), rtol=2e-3, atol=1e-5)
        if k == cfg.iterations:  # step lands where rounding moves the weights by ~0.5 %
            torch.testing.assert_close(ens.weights([r])[0], params.flatten(net), rtol=2e-3, atol=1e-4)
        events.add((got.reset_steps, got.uphill_steps))
    assert len(events) > 1  # some runs reset (or go uphill) while others do not


class _Killed(Exception):
    pass


@pytest.mark.parametrize("arch, config", [
    ("fcp", train.LBFGSGSSConfig(iterations=8)),
    ("autoencoder", train.LBFGSGSSConfig(iterations=8, variant="safe")),
    ("fcp", train.SGDConfig(epochs=5, lr=0.5, momentum=0.9)),
    ("fcp", train.TorchLBFGSConfig(iterations=5)),
], ids=["fcp-gss", "ae-gss-safe", "fcp-sgd-momentum", "fcp-torch-lbfgs"])
def test_a_killed_ensemble_resumes_from_its_checkpoint_bit_for_bit(arch, config, mnist_tiny, tmp_path, monkeypatch):
    seeds = [0, 1, 2]
    W = _inits(arch, seeds)
    W[1, 7] = float("nan")  # one run stopped from the start: its state must survive the resume too
    straight = train.train_ensemble(arch, config, mnist_tiny, seeds, init=W, device="cpu")
    path = tmp_path / "ens.ckpt"
    save = train._Checkpoint.save

    def save_then_die(self, step, runs, loop):
        save(self, step, runs, loop)
        if step == 3:
            raise _Killed  # the process dies right after writing its checkpoint at step 3

    monkeypatch.setattr(train._Checkpoint, "save", save_then_die)
    with pytest.raises(_Killed):
        train.train_ensemble(arch, config, mnist_tiny, seeds, init=W, device="cpu", checkpoint=path, checkpoint_every_s=0)
    assert path.is_file() and torch.load(path, weights_only=True)["step"] == 3
    monkeypatch.setattr(train._Checkpoint, "save", save)
    resumed = train.train_ensemble(arch, config, mnist_tiny, seeds, init=W, device="cpu", checkpoint=path,
                                   checkpoint_every_s=1e9)
    for a, b in zip(straight, resumed):
        for name in ("train_loss", "test_loss", "w_final", "w_train", "w_test"):
            assert torch.equal(torch.nan_to_num(getattr(a, name), nan=7.0), torch.nan_to_num(getattr(b, name), nan=7.0)), name
        assert (a.best_train_step, a.best_test_step, a.counts) == (b.best_train_step, b.best_test_step, b.counts)
    # another ensemble's checkpoint is refused, not used
    with pytest.raises(ValueError, match="belongs to another ensemble"):
        train.train_ensemble(arch, config, mnist_tiny, [0, 1], init=W[:2], device="cpu", checkpoint=path)
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="cannot be read"):
        train.train_ensemble(arch, config, mnist_tiny, seeds, init=W, device="cpu", checkpoint=path)
