"""lls_core.landscape on synthetic weight sets and tiny networks (independent references where possible)."""

from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.decomposition import PCA
from torch import nn

from lls_core import landscape as ls
from lls_core import hessian, models, params, stats
from lls_core.io import ArtifactWarning
from lls_core.store import PairStore, Store, pair_checksum


class LinearAutoencoder(nn.Module):
    """x -> W x (no bias): MSE reconstruction loss with a Hessian known in closed form."""

    task = "reconstruct"

    def __init__(self, p: int = 3) -> None:
        super().__init__()
        self.lin = nn.Linear(p, p, bias=False)

    def forward(self, x):
        return self.lin(x)


def _shells(k=24, d=200, r_in=1.0, r_out=1.6, seed=0):
    g = torch.Generator().manual_seed(seed)
    u = torch.randn(2 * k, d, generator=g, dtype=torch.float64)
    u = u / u.norm(dim=1, keepdim=True)
    return {"inner": r_in * u[:k], "outer": r_out * u[k:]}


# ----------------------------------------------------------------------------- sets
def test_check_sets_rejects_bad_sets():
    good = torch.zeros(3, 5)
    with pytest.raises(ValueError, match="disagree on d"):
        ls.check_sets({"a": good, "b": torch.zeros(3, 6)})
    with pytest.raises(ValueError, match="shape"):
        ls.check_sets({"a": torch.zeros(5)})
    with pytest.raises(ValueError, match="non-finite"):
        ls.check_sets({"a": torch.full((2, 2), float("nan"))})
    with pytest.raises(ValueError, match="weight set .a. is a ndarray; expected a torch.Tensor"):
        ls.check_sets({"a": np.zeros((2, 2))})


def test_weight_stats_match_numpy():
    g = torch.Generator().manual_seed(0)
    sets = {"A": torch.randn(5, 7, generator=g) * 0.1 + 0.02, "B": torch.randn(3, 7, generator=g)}
    ws = ls.weight_stats(sets)
    for k, name in enumerate(ws.names):
        v = sets[name].numpy().ravel().astype(np.float64)
        assert ws.mean[k] == pytest.approx(v.mean())
        assert ws.std[k] == pytest.approx(v.std())
        assert ws.n_values[k] == v.size
    frame = ws.to_frame()
    assert list(frame.index) == ["A", "B"]


def test_distances_recover_shell_radii_and_origin():
    sets = _shells(k=40, d=400)
    dist = ls.distances(sets, between=("outer", "inner"))
    # Centroids of many random unit directions lie near 0, so distances ~ the radii.
    assert np.median(dist.distance["inner"]) == pytest.approx(1.0, abs=0.1)
    assert np.median(dist.distance["outer"]) == pytest.approx(1.6, abs=0.1)
    ca, cb = sets["outer"].mean(0), sets["inner"].mean(0)
    np.testing.assert_allclose(dist.origin, ((ca + cb) / 2).numpy())
    assert dist.centroid_gap == pytest.approx(float((ca - cb).norm()))
    at_a = ls.distances(sets, between=("outer", "inner"), alpha=0.0)
    np.testing.assert_allclose(at_a.origin, ca.numpy())
    with pytest.raises(ValueError, match="alpha"):
        ls.distances(sets, between=("outer", "inner"), alpha=1.5)
    with pytest.raises(KeyError, match="BFGS-train"):
        ls.distances(sets)


# ----------------------------------------------------------------------------- kPCA
def test_linear_kernel_pca_equals_sklearn_pca():
    sets = _shells(k=10, d=30)
    res = ls.kernel_pca(sets["inner"], sets["outer"], kernel="linear")
    ref = PCA(2).fit_transform(torch.cat([sets["inner"], sets["outer"]]).numpy())
    for c in range(2):  # equal up to the sign of each component
        s = np.sign(res.scores[:, c] @ ref[:, c])
        np.testing.assert_allclose(s * res.scores[:, c], ref[:, c], atol=1e-8)
    assert res.gamma is None and res.labels.tolist() == [0] * 10 + [1] * 10


def test_rbf_separates_concentric_shells_but_linear_pca_does_not():
    """The paper's reading of Figure 6: a radial difference shows up with RBF only."""
    sets = _shells(k=24, d=200)
    rbf = ls.kernel_pca(sets["inner"], sets["outer"], kernel="rbf")
    lin = ls.kernel_pca(sets["inner"], sets["outer"], kernel="linear")
    s_rbf = stats.separation(rbf.pc1, rbf.labels, n_perm=499, n_boot=200)
    s_lin = stats.separation(lin.pc1, lin.labels, n_perm=499, n_boot=200)
    assert s_rbf.auc > 0.95 and s_rbf.p < 0.01
    assert s_lin.auc < 0.8
    for k in ("poly", "sigmoid"):  # the paper's other controls: no radial separation either
        kp = ls.kernel_pca(sets["inner"], sets["outer"], kernel=k)
        x = torch.cat([sets["inner"], sets["outer"]]).numpy()
        x = x - x.mean(0)
        assert kp.gamma == pytest.approx(1 / np.median((x * x).sum(1)))
        assert stats.separation(kp.pc1, kp.labels, n_perm=199, n_boot=100).auc < 0.8
    assert rbf.gamma == pytest.approx(ls.median_gamma(torch.cat([sets["inner"], sets["outer"]]).numpy()))
    assert rbf.explained[0] > rbf.explained[1] > 0


def test_kernel_pca_bad_input():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(5, 8, generator=g)
    with pytest.raises(ValueError, match="kernel"):
        ls.kernel_pca(a, a, kernel="laplace")
    with pytest.raises(ValueError, match="gamma"):
        ls.kernel_pca(a, a, gamma=-1.0)
    with pytest.raises(ValueError, match="disagree on d"):
        ls.kernel_pca(a, torch.randn(5, 9, generator=g))


# ----------------------------------------------------------------------------- barriers
def test_sample_pairs_distinct_and_deterministic():
    p = ls.sample_pairs(6, 15, seed=3)
    assert p.shape == (15, 2) and (p[:, 0] < p[:, 1]).all()
    assert len({tuple(r) for r in p.tolist()}) == 15
    np.testing.assert_array_equal(p, ls.sample_pairs(6, 15, seed=3))
    with pytest.raises(ValueError, match=r"\[1, 15\]"):
        ls.sample_pairs(6, 16)


def test_path_config_validation():
    with pytest.raises(ValueError, match="n_points"):
        ls.PathConfig(n_points=2)
    with pytest.raises(ValueError, match="lam"):
        ls.PathConfig(lam=-1.0)


def test_barrier_zero_steps_is_the_straight_line_and_search_lowers_it(trained_set):
    model, x, y, w = trained_set()
    line = ls.pair_path(model, x, y, w[0], w[1], ls.PathConfig(n_points=11, steps=0))
    assert line.height == pytest.approx(line.linear_height)
    assert line.height >= line.endpoint_loss - 1e-6
    found = ls.pair_path(model, x, y, w[0], w[1], ls.PathConfig(n_points=11, steps=60, lr=0.05, lam=0.01))
    assert found.linear_height == pytest.approx(line.linear_height)
    assert found.height < line.height
    assert found.length >= float((w[0] - w[1]).norm()) - 1e-4  # no path is shorter than the chord


def _pairs(tmp_path: Path) -> PairStore:
    return Store(tmp_path).pairs("tiny")


def _files(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "pairs" / "tiny").glob("*.npz"))


def test_barriers_resume_from_cache(tmp_path: Path, trained_set):
    model, x, y, w = trained_set()
    cfg = ls.PathConfig(n_points=7, steps=3, lr=0.01)
    first = ls.pair_paths(model, x, y, w, n_pairs=4, config=cfg, store=_pairs(tmp_path), set_name="S")
    assert first.n_cached == 0 and len(_files(tmp_path)) == 4
    victim = _files(tmp_path)[0]
    victim.unlink()
    again = ls.pair_paths(model, x, y, w, n_pairs=4, config=cfg, store=_pairs(tmp_path), set_name="S")
    assert again.n_cached == 3
    np.testing.assert_allclose(again.height, first.height, rtol=1e-6)
    np.testing.assert_array_equal(again.pairs, first.pairs)
    other = ls.pair_paths(model, x, y, w, n_pairs=4, config=ls.PathConfig(n_points=7, steps=4, lr=0.01),
                        store=_pairs(tmp_path))
    assert other.n_cached == 0  # a different configuration never reuses results
    files = _files(tmp_path)
    files[0].write_bytes(files[0].read_bytes()[:40])  # a truncated file is recomputed
    assert ls.pair_paths(model, x, y, w, n_pairs=4, config=cfg, store=_pairs(tmp_path), set_name="S").n_cached >= 3
    # a file whose stored metadata disagree with its name is quarantined and recomputed, never used
    files = _files(tmp_path)
    with np.load(files[1], allow_pickle=False) as z:
        fields = {k: z[k] for k in z.files}
    fields["meta"] = np.asarray("{}")
    np.savez(files[1], **fields)
    with pytest.warns(ArtifactWarning, match=files[1].name):
        res = ls.pair_paths(model, x, y, w, n_pairs=4, config=cfg, store=_pairs(tmp_path), set_name="S")
        ls.pair_paths(model, x, y, w, n_pairs=4, config=ls.PathConfig(n_points=7, steps=4, lr=0.01),
                    store=_pairs(tmp_path))
    np.testing.assert_allclose(res.height, first.height, rtol=1e-6)
    assert any((tmp_path / "quarantine").iterdir())  # the store's one quarantine
    with pytest.raises(ValueError, match="store is a PosixPath; expected a lls_core.store.PairStore"):
        ls.pair_paths(model, x, y, w, n_pairs=4, config=cfg, store=tmp_path)  # type: ignore[arg-type]


def test_pair_keys_are_those_of_the_format_2_cache():
    """The key settings of a profile are written as the format-2 cache wrote them (asdict without
    memory_mb, batched None for the default), so pairs stored then are found again."""
    from lls_core import topography

    quick = ls.PathConfig(n_terms=10, n_points=15, steps=30, lr=3e-3, n_data=500)  # the quick settings of format 2
    assert quick.key() == {"n_terms": 10, "n_points": 15, "lam": 1e-3, "lr": 3e-3, "steps": 30, "n_data": 500,
                           "seed": 0, "keep": "best", "batched": None, "fine_points": 401}
    now = topography.PATH_PROFILES["quick"].key()
    assert now == quick.key()
    assert topography.PATH_PROFILES["paper"].key() == topography.AUTHORS_PATHS.key()  # memory only: same paths
    assert ls.PathConfig(grad_noise=0.5, curve="bezier").key()["curve"] == "bezier"
    assert ls.PathConfig(batched=False).key()["batched"] is False


def test_legacy_pair_cache_is_moved_into_the_store_once(tmp_path: Path, trained_set):
    """Pairs in <root>/barriers/<arch>/pair-<key>.npz (the old cache) move to <root>/pairs/<arch>/,
    verified; a damaged one goes to the store's quarantine; one warning says so."""
    import warnings

    model, x, y, w = trained_set()
    cfg = ls.PathConfig(n_points=7, steps=3, lr=0.01)
    first = ls.pair_paths(model, x, y, w, n_pairs=3, config=cfg, store=_pairs(tmp_path))
    legacy = tmp_path / "barriers" / "tiny"
    legacy.mkdir(parents=True)
    for f in _files(tmp_path):
        f.rename(legacy / f"pair-{f.name}")
    sorted(legacy.iterdir())[0].write_bytes(b"junk")
    with pytest.warns(ArtifactWarning, match=r"moved into the artifact store: 2 stored pair\(s\) moved .* 1 damaged"):
        again = ls.pair_paths(model, x, y, w, n_pairs=3, config=cfg, store=_pairs(tmp_path))
    assert again.n_cached == 2 and not legacy.exists()
    np.testing.assert_allclose(again.height, first.height, rtol=1e-6)
    assert len(_files(tmp_path)) == 3 and len(list((tmp_path / "quarantine").iterdir())) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing left to move: no warning
        assert ls.pair_paths(model, x, y, w, n_pairs=3, config=cfg, store=_pairs(tmp_path)).n_cached == 3


def test_barriers_wait_for_a_pair_another_process_computes(tmp_path: Path, trained_set):
    """A pair whose lock is held is neither computed nor stored until the lock is released."""
    import threading

    model, x, y, w = trained_set()
    cfg = ls.PathConfig(n_points=7, steps=2, lr=0.01)
    ref = ls.pair_paths(model, x, y, w, n_pairs=2, config=cfg, store=_pairs(tmp_path / "a"))
    key = _files(tmp_path / "a")[0].stem
    out: dict = {}
    with _pairs(tmp_path).lock(key):  # a second FileLock on the same file: flock refuses it until released
        t = threading.Thread(target=lambda: out.update(r=ls.pair_paths(model, x, y, w, n_pairs=2, config=cfg,
                                                                      store=_pairs(tmp_path))))
        t.start()
        t.join(2.0)
        assert t.is_alive() and not _files(tmp_path)  # waiting on the lock, nothing written
    t.join(60)
    assert not t.is_alive() and len(_files(tmp_path)) == 2
    np.testing.assert_allclose(out["r"].height, ref.height, rtol=1e-6)


def _rewrite(path: Path, **changes) -> None:
    with np.load(path, allow_pickle=False) as z:
        fields = {k: z[k] for k in z.files}
    fields.update({k: np.asarray(v) for k, v in changes.items()})
    np.savez(path, **fields)


@pytest.mark.parametrize("damage", ["altered_height", "nan_height", "nan_height_resummed", "zero_bytes", "junk"])
def test_pair_cache_damage_is_quarantined_and_recomputed(tmp_path: Path, damage: str, trained_set):
    from lls_core import io as lio

    model, x, y, w = trained_set()
    cfg = ls.PathConfig(n_points=7, steps=3, lr=0.01)
    first = ls.pair_paths(model, x, y, w, n_pairs=3, config=cfg, store=_pairs(tmp_path))
    victim = _files(tmp_path)[0]
    if damage == "altered_height":
        with np.load(victim, allow_pickle=False) as z:
            h = float(z["height"])
        _rewrite(victim, height=h * 0.5)  # a plausible but wrong number: only the checksum catches it
    elif damage == "nan_height":
        _rewrite(victim, height=float("nan"))
    elif damage == "nan_height_resummed":  # NaN with a matching checksum: still refused
        with np.load(victim, allow_pickle=False) as z:
            vals = {k: z[k].item() for k in z.files if k not in ("meta", "checksum")}
            meta = str(z["meta"])
        vals["height"] = float("nan")
        _rewrite(victim, height=float("nan"), checksum=pair_checksum(meta, vals))
    elif damage == "zero_bytes":
        victim.write_bytes(b"")
    else:
        victim.write_bytes(b"PK\x03\x04 not a zip at all" * 10)
    reason = {"altered_height": "checksum mismatch", "nan_height_resummed": "non-finite value"}.get(damage, "")
    with pytest.warns(lio.ArtifactWarning, match=victim.name + ".*" + reason):
        again = ls.pair_paths(model, x, y, w, n_pairs=3, config=cfg, store=_pairs(tmp_path))
    assert again.n_cached == 2
    np.testing.assert_allclose(again.height, first.height, rtol=1e-6)
    assert len(list((tmp_path / "quarantine").iterdir())) == 1
    assert victim.is_file()  # recomputed and stored again
    assert ls.pair_paths(model, x, y, w, n_pairs=3, config=cfg, store=_pairs(tmp_path)).n_cached == 3


def test_barriers_on_dask_equal_serial(trained_set, dask_client):
    model, x, y, w = trained_set(k=3)
    cfg = ls.PathConfig(n_points=7, steps=3, lr=0.01)
    serial = ls.pair_paths(model, x, y, w, n_pairs=3, config=cfg)
    spread = ls.pair_paths(model, x, y, w, n_pairs=3, config=cfg, client=dask_client)
    # a second call on the same client with the same model and other data (the test landscape)
    other = ls.pair_paths(model, x[:30], y[:30], w, n_pairs=3, config=cfg, client=dask_client)
    np.testing.assert_allclose(spread.height, serial.height, rtol=1e-5)
    np.testing.assert_allclose(other.height, ls.pair_paths(model, x[:30], y[:30], w, n_pairs=3, config=cfg).height,
                               rtol=1e-5)
    np.testing.assert_allclose(spread.length, serial.length, rtol=1e-5)


def test_barriers_bad_input(trained_set):
    model, x, y, w = trained_set(k=2, steps=1)
    with pytest.raises(ValueError, match="model has"):
        ls.pair_paths(model, x, y, torch.zeros(3, 7), n_pairs=1)
    with pytest.raises(ValueError, match="landscape"):
        ls.pair_paths(model, x, y, w, n_pairs=1, landscape="validation")
    with pytest.raises(ValueError, match="n_pairs"):
        ls.pair_paths(model, x, y, w, n_pairs=2)


# ----------------------------------------------------------------------------- sharpness
def test_sharpness_of_linear_autoencoder_matches_closed_form():
    p, n = 3, 50
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, p, generator=g, dtype=torch.float64) * torch.tensor([1.0, 2.0, 0.5], dtype=torch.float64)
    model = LinearAutoencoder(p).double()
    w = torch.randn(p * p, generator=g, dtype=torch.float64)
    # loss = 1/(n p) sum_n |W x_n - x_n|^2  ->  H = I_p (x) (2/(n p)) X^T X
    block = 2.0 / (n * p) * (x.T @ x)
    res = ls.sharpness(model, x, torch.zeros(n), w, n_probes=200, seed=1)
    assert res.top_eigenvalue == pytest.approx(float(torch.linalg.eigvalsh(block)[-1]), rel=1e-6)
    exact_trace = p * float(torch.trace(block))
    assert abs(res.trace - exact_trace) < 4 * res.trace_se + 1e-9


def test_sharpness_of_tiny_classifier_matches_dense_hessian(trained_set):
    model, x, y, w = trained_set(k=1)
    w0 = w[0].double()
    model = model.double()
    xd = x.double()
    hess = torch.autograd.functional.hessian(hessian.flat_loss(model, xd, y), w0)
    ev = torch.linalg.eigvalsh(hess)
    res = ls.sharpness(model, xd, y, w0, n_probes=300, seed=2, lanczos_steps=43)
    assert res.top_eigenvalue == pytest.approx(float(ev[-1]), rel=1e-4)
    assert abs(res.trace - float(ev.sum())) < 4 * res.trace_se
    many = ls.sharpness_set(model, xd, y, torch.stack([w0, w0]), n_probes=4)
    assert many.top_eigenvalue.shape == (2,)
    np.testing.assert_allclose(many.top_eigenvalue, res.top_eigenvalue, rtol=1e-4)


def test_barriers_found_together_equal_one_at_a_time(trained_set):
    model, x, y, w = trained_set(k=4)
    cfg = ls.PathConfig(n_points=7, steps=4, lr=0.01, fine_points=31)
    together = ls.pair_paths(model, x, y, w, n_pairs=5, config=cfg, pair_batch=5)
    alone = ls.pair_paths(model, x, y, w, n_pairs=5, config=cfg, pair_batch=1)
    for f in ("height", "length", "linear_height", "endpoint_loss", "fine_height", "max_t"):
        np.testing.assert_allclose(getattr(together, f), getattr(alone, f), rtol=1e-5, atol=1e-7, err_msg=f)
    assert (together.understatement >= -1e-7).all() and np.isin(together.max_t, np.linspace(0, 1, 7)).all()
    # the straight line's end points are the vectors' own losses
    for k, (i, j) in enumerate(together.pairs):
        with torch.no_grad():
            ends = [float(models.loss(model, x, y, params.unflatten(model, w[v]))) for v in (i, j)]
        assert together.endpoint_loss[k] == pytest.approx(max(ends), rel=1e-5)
    with pytest.raises(ValueError, match="pair_batch"):
        ls.pair_paths(model, x, y, w, n_pairs=1, pair_batch=0)
    with pytest.raises(ValueError, match="fine_points"):
        ls.PathConfig(fine_points=1)

