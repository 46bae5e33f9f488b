"""Permutation alignment (lls_core.symmetry): function preserved, shuffles undone, distance never grows."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.func import functional_call

from lls_core import batched, models, params, symmetry

torch.set_num_threads(1)
ARCHS = list(models.ARCHITECTURES)


def _net(arch: str, seed: int) -> tuple[torch.nn.Module, torch.Tensor]:
    m = models.build(arch, seed=seed)
    w = params.flatten(m)
    # Break the initialisation's symmetry of scale between layers so that every group matters.
    return m, w + 0.05 * torch.randn(w.shape, generator=torch.Generator().manual_seed(seed))


def _out(m: torch.nn.Module, w: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return functional_call(m, params.unflatten(m, w), (x,))


def test_groups_cover_the_spec() -> None:
    assert symmetry.group_sizes("fcp") == {"h1": 50, "h2": 50}
    assert symmetry.group_sizes("lenet") == {"c1": 6, "c2": 16, "f1": 120, "f2": 84}
    assert symmetry.group_sizes("autoencoder") == {"e1": 32, "code": 32, "d1": 32}
    assert symmetry.group_sizes("lstm") == {"h": 48}


@pytest.mark.parametrize("arch", ARCHS)
def test_permutation_keeps_outputs_and_moves_weights(arch: str) -> None:
    m, w = _net(arch, 1)
    x = torch.rand(7, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    perms = symmetry.random_perms(arch, seed=5)
    w2 = symmetry.permute(arch, w, perms)
    assert w2.dtype == w.dtype and w2.shape == w.shape
    assert float((w2 - w).norm()) > 0.1 * float(w.norm())  # really moved
    torch.testing.assert_close(_out(m, w2, x), _out(m, w, x), rtol=1e-5, atol=1e-5)
    # every group on its own is a symmetry too (catches a group permuted on one side only)
    for g, p in perms.items():
        torch.testing.assert_close(_out(m, symmetry.permute(arch, w, {g: p}), x), _out(m, w, x), rtol=1e-5,
                                   atol=1e-5)


@pytest.mark.parametrize("arch", ARCHS)
def test_alignment_keeps_outputs_and_never_increases_distance(arch: str) -> None:
    m, ref = _net(arch, 1)
    _, w = _net(arch, 2)
    x = torch.rand(6, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    res = symmetry.align(arch, ref, w)
    torch.testing.assert_close(_out(m, res.w, x), _out(m, w, x), rtol=1e-5, atol=1e-5)
    assert res.distance_after <= res.distance_before
    assert res.distance_after < res.distance_before  # independent inits: some permutation helps
    assert res.distance_after == pytest.approx(float((res.w.double() - ref.double()).norm()), rel=1e-6)
    assert res.distance_before == pytest.approx(float((w.double() - ref.double()).norm()), rel=1e-6)
    # the reported permutations reproduce the output
    torch.testing.assert_close(symmetry.permute(arch, w, res.perms), res.w)


@pytest.mark.parametrize("arch", ARCHS)
def test_shuffled_copy_is_recovered_exactly(arch: str) -> None:
    _, ref = _net(arch, 3)
    perms = symmetry.random_perms(arch, seed=11)
    shuffled = symmetry.permute(arch, ref, perms)
    res = symmetry.align(arch, ref, shuffled)
    assert res.distance_before > 1.0
    assert res.distance_after == 0.0
    assert torch.equal(res.w, ref)
    for g, p in perms.items():  # the found permutation undoes the shuffle: p[perm[i]] = i
        assert np.array_equal(p[res.perms[g]], np.arange(p.size))


def test_shuffled_copy_with_noise_lands_near_the_reference() -> None:
    _, ref = _net("lenet", 4)
    noise = 0.01 * torch.randn(ref.shape, generator=torch.Generator().manual_seed(9))
    noisy = symmetry.permute("lenet", ref + noise, symmetry.random_perms("lenet", 2))
    res = symmetry.align("lenet", ref, noisy)
    assert res.distance_before > 5 * float(noise.norm())
    assert res.distance_after == pytest.approx(float(noise.norm()), rel=1e-4)  # only the noise is left


@pytest.mark.parametrize("arch", ["fcp", "lstm"])
def test_batched_rows_match_single_calls(arch: str) -> None:
    _, ref = _net(arch, 0)
    W = torch.stack([_net(arch, s)[1] for s in (5, 6, 7)])
    res = symmetry.align(arch, ref, W)
    assert res.w.shape == W.shape and res.perms[next(iter(res.perms))].shape[0] == 3
    assert res.distance_before.shape == (3,)
    assert np.all(res.distance_after <= res.distance_before)
    for r in range(3):
        one = symmetry.align(arch, ref, W[r])
        assert one.distance_after == pytest.approx(float(res.distance_after[r]), rel=1e-9)
        torch.testing.assert_close(one.w, res.w[r])


def test_numpy_input_gives_float64_tensor() -> None:
    _, ref = _net("fcp", 0)
    res = symmetry.align("fcp", ref.numpy(), ref.numpy()[None])
    assert res.w.dtype == torch.float64 and res.distance_after[0] == 0.0


@pytest.mark.parametrize("arch", ["fcp", "lstm"])
def test_consensus_of_shuffled_copies_collapses(arch: str) -> None:
    _, ref = _net(arch, 8)
    W = torch.stack([symmetry.permute(arch, ref + 1e-3 * torch.randn(ref.shape, generator=torch.Generator().manual_seed(s)), symmetry.random_perms(arch, s))
                     for s in range(5)])
    cons = symmetry.consensus(arch, W)
    assert cons.converged
    assert cons.spread_after < 0.05 * cons.spread_before
    assert cons.w.shape == W.shape and cons.w.dtype == W.dtype
    # every row is a permutation of its input row
    for r in range(5):
        torch.testing.assert_close(symmetry.permute(arch, W[r], {g: p[r] for g, p in cons.perms.items()}), cons.w[r])
    np.testing.assert_allclose(cons.reference, cons.w.double().mean(0).numpy(), atol=1e-6)


def test_consensus_of_independent_nets_never_spreads_more() -> None:
    W = torch.stack([_net("autoencoder", s)[1] for s in range(4)])
    cons = symmetry.consensus("autoencoder", W)
    assert cons.spread_after < cons.spread_before


def test_interpolation_losses_end_points() -> None:
    m, w1 = _net("fcp", 0)
    _, w2 = _net("fcp", 1)
    g = torch.Generator().manual_seed(0)
    x = torch.rand(20, 1, 28, 28, generator=g)
    y = torch.randint(0, 10, (20,), generator=g)
    t, loss = symmetry.interpolation_losses(m, x, y, w1, w2, n_points=5)
    assert t.shape == loss.shape == (5,)
    assert loss[0] == pytest.approx(float(models.loss(m, x, y, params.unflatten(m, w1))), rel=1e-5)
    assert loss[-1] == pytest.approx(float(batched.losses(m, w2[None], x, y)[0]), rel=1e-5)
    with pytest.raises(ValueError, match="n_points"):
        symmetry.interpolation_losses(m, x, y, w1, w2, n_points=1)


def test_bad_input_is_refused_clearly() -> None:
    _, ref = _net("fcp", 0)
    with pytest.raises(ValueError, match=r"unknown architecture 'resnet'; valid: fcp, lenet"):
        symmetry.align("resnet", ref, ref)
    with pytest.raises(ValueError, match=r"shape \(100,\); fcp needs \(42200,\)"):
        symmetry.align("fcp", torch.zeros(100), ref)
    with pytest.raises(ValueError, match=r"w has shape \(15456,\).*d = 42200"):
        symmetry.align("fcp", ref, torch.zeros(15456))
    bad = ref.clone()
    bad[3] = float("nan")
    with pytest.raises(ValueError, match="w contains 1 non-finite values"):
        symmetry.align("fcp", ref, bad)
    with pytest.raises(ValueError, match="reference contains 1 non-finite"):
        symmetry.align("fcp", bad, ref)
    with pytest.raises(ValueError, match="max_iter=0"):
        symmetry.align("fcp", ref, ref, max_iter=0)
    with pytest.raises(TypeError, match="torch.Tensor or numpy array"):
        symmetry.align("fcp", ref, [1.0, 2.0])
    with pytest.raises(ValueError, match="at least 2 vectors"):
        symmetry.consensus("fcp", ref[None])
    with pytest.raises(ValueError, match=r"\(R, 42200\)"):
        symmetry.consensus("fcp", ref)
    with pytest.raises(ValueError, match=r"perms\['h1'\] must be a permutation of 0..49"):
        symmetry.permute("fcp", ref, {"h1": np.zeros(50, int)})
    with pytest.raises(ValueError, match=r"unknown groups \['h9'\]"):
        symmetry.permute("fcp", ref, {"h9": np.arange(50)})


def test_missing_authors_file_is_a_clear_error(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="LSTM_BFGS_Training_best48_weights.npy not found"):
        symmetry.authors_lstm_weights(tmp_path / "nope.npy")


@pytest.mark.skipif(symmetry.authors_lstm_path() is None, reason="the authors' LSTM file is not present")
def test_authors_lstm_layout_is_ours(mnist_5k) -> None:
    w = symmetry.authors_lstm_weights()
    assert w.shape == (48, models.PARAM_COUNTS["lstm"]) and w.dtype == torch.float32
    m = models.build("lstm", perm_seed=symmetry.AUTHORS_PERM_SEED)
    ds = mnist_5k
    with torch.no_grad():  # training-loss minima: a wrong layout or permutation gives a loss of order 1
        loss = batched.losses(m, w[:2], ds.x_train[:300], ds.y_train[:300])
    assert float(loss.max()) < 1e-4


def _fake_sets(arch: str, k: int = 5) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    base = {s: torch.stack([_net(arch, 10 * i + j)[1] for j in range(k)]) for i, s in
            enumerate(("BFGS-train", "BFGS-test", "SGD-train", "SGD-test"))}
    base["BFGS-train"] = base["BFGS-train"] * 2.0  # a longer set, as the paper reports
    return {n: v + 0.01 * torch.randn(v.shape, generator=g) for n, v in base.items()}


@pytest.mark.parametrize("mode", ["per_set", "pooled"])
def test_align_sets_keeps_rows_and_shrinks_spread(mode: str) -> None:
    sets = _fake_sets("autoencoder", 4)
    al = symmetry.align_sets("autoencoder", sets, mode=mode)
    assert list(al.sets) == list(sets) and al.mode == mode
    assert al.pooled_after < al.pooled_before
    for n in sets:
        assert al.sets[n].shape == sets[n].shape
        # each row a permutation of its own input row: equal norms, equal sorted entries
        torch.testing.assert_close(al.sets[n].sort(dim=1).values, sets[n].sort(dim=1).values)
    assert sum(al.spread_after.values()) < sum(al.spread_before.values())
    with pytest.raises(ValueError, match="sets is empty"):
        symmetry.align_sets("fcp", {})
    with pytest.raises(ValueError, match="mode='mixed'; valid: 'per_set', 'pooled'"):
        symmetry.align_sets("fcp", sets, mode="mixed")
    with pytest.raises(ValueError, match=r"set 'x' has shape \(3, 7\)"):
        symmetry.align_sets("fcp", {"x": torch.zeros(3, 7)})


def test_paired_shift_detects_a_drop_and_not_noise() -> None:
    rng = np.random.default_rng(0)
    b = rng.uniform(1, 2, 30)
    drop = symmetry.paired_shift(b, 0.5 * b)
    assert drop.verdict() == "lower after alignment" and drop.share_lower == 1.0
    assert drop.median_ratio == pytest.approx(0.5)
    rise = symmetry.paired_shift(b, b + 0.3)
    assert rise.verdict() == "higher after alignment"
    same = symmetry.paired_shift(b, b)
    assert same.p_lower == same.p_higher == 1.0 and same.verdict() == "not resolved"
    noise = symmetry.paired_shift(b, b + 1e-3 * np.tile([1.0, -1.0], 15))  # no net shift
    assert noise.verdict() == "not resolved"
    with pytest.raises(ValueError, match="equal size >= 2"):
        symmetry.paired_shift([1.0], [0.5])
    with pytest.raises(ValueError, match="non-finite"):
        symmetry.paired_shift([1.0, np.nan], [0.5, 0.2])


def _fake_bars(sets: dict[str, torch.Tensor], scale: dict[str, float]) -> dict:
    from lls_core import landscape

    out = {}
    rng = np.random.default_rng(1)
    for n, v in sets.items():
        k = v.shape[0]
        pairs = landscape.disjoint_pairs(k, 6, 0)  # the claims test independent (disjoint) pairs
        for w in ("train", "test"):
            h = scale[n] * rng.uniform(1.0, 1.1, 6)
            out[(n, w)] = landscape.PairPaths(n, w, landscape.PathConfig(), pairs, h, np.ones(6), 1.5 * h,
                                             0.5 * h, np.ones(6))
    return out


def test_claims_before_after_lines_up_both_tables() -> None:
    import dataclasses

    from lls_core import topography

    sets = _fake_sets("fcp", 12)
    topo = topography.Topography("fcp", "smoke", 12, 12, models.build("fcp"), None, sets)
    al = symmetry.align_sets("fcp", sets)
    aligned = dataclasses.replace(topo, sets=al.sets)
    raw_scale = {"BFGS-train": 3.0, "BFGS-test": 3.0, "SGD-train": 1.0, "SGD-test": 1.0}
    bars = _fake_bars(sets, raw_scale)
    bars_al = _fake_bars(al.sets, {n: 1.0 for n in sets})  # alignment erases the BFGS excess
    t = symmetry.claims_before_after(topo, aligned, bars, bars_al, n_boot=200)
    barrier = t[t["evidence"].isin(["Fig. 4", "Fig. S2"])]
    assert set(barrier["path"]) == {"FourierPathFinder", "straight line"} and len(barrier) == 8
    assert (barrier["verdict_before"] == "supported").all()
    assert (barrier["verdict_after"] != "supported").all() and barrier["changed"].all()
    # the per-vector spread is invariant under permutations: identical before and after
    sd = t[t["evidence"] == "Table S1"].iloc[0]
    assert sd["effect_before"] == pytest.approx(sd["effect_after"]) and not sd["changed"]
    assert {"Fig. 5", "Fig. 6"} <= set(t["evidence"])
    # aligning nothing changes nothing
    same = symmetry.claims_before_after(topo, topo, bars, bars, n_boot=200)
    assert not same["changed"].any()
    with pytest.raises(ValueError, match="topo is 'fcp' but aligned is 'lstm'"):
        symmetry.claims_before_after(topo, dataclasses.replace(topo, arch="lstm"), bars, bars)


def test_per_set_alignment_undoes_shuffles_within_and_between_sets() -> None:
    # two sets of noisy shuffled copies of two base networks: within each set the copies
    # collapse onto one network, and the two sets end in one coordinate system (their
    # means as close as the base networks can be brought by one permutation).
    _, a = _net("fcp", 20)
    g = torch.Generator().manual_seed(3)
    sets = {n: torch.stack([symmetry.permute("fcp", a + 1e-3 * torch.randn(a.shape, generator=g),
                                             symmetry.random_perms("fcp", 100 * k + r)) for r in range(4)])
            for k, n in enumerate(("BFGS-train", "SGD-test"))}
    al = symmetry.align_sets("fcp", sets)
    assert al.converged
    for n in sets:
        assert al.spread_after[n] < 0.05 * al.spread_before[n]
    gap = float((al.sets["BFGS-train"].mean(0) - al.sets["SGD-test"].mean(0)).norm())
    assert gap < 0.05 * float((sets["BFGS-train"].mean(0) - sets["SGD-test"].mean(0)).norm())
    assert al.pooled_after < 0.05 * al.pooled_before


@pytest.mark.parametrize("arch", ARCHS)
def test_activation_matching_recovers_a_shuffle_and_keeps_outputs(arch: str) -> None:
    m, ref = _net(arch, 30)
    x = torch.randn(256, 1, 28, 28, generator=torch.Generator().manual_seed(2))
    shuffled = symmetry.permute(arch, ref, symmetry.random_perms(arch, 4))
    # Exact recovery needs every unit's activations to be distinct: ReLU units that are silent on
    # every input (common in LeNet's pooled random features) cannot be told apart, softplus ones can.
    res = symmetry.align_activations(arch, ref, shuffled, x, activation="softplus")
    assert res.distance_before > 1.0 and res.distance_after == pytest.approx(0.0, abs=1e-6)
    _, other = _net(arch, 31)
    res2 = symmetry.align_activations(arch, ref, other, x)
    torch.testing.assert_close(_out(m, res2.w, x), _out(m, other, x), rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match=r"x must be images of shape \(N >= 2, 1, 28, 28\)"):
        symmetry.align_activations(arch, ref, other, torch.rand(3, 784, generator=torch.Generator().manual_seed(0)))
