"""The embedded mnist-5k data set: shapes, ranges, stratification, determinism, bad input."""

import pytest
import torch

from lls_core import data


def test_mnist5k_shapes_and_ranges():
    ds = data.load("mnist-5k")
    assert ds.x_train.shape == (4000, 1, 28, 28) and ds.x_test.shape == (1000, 1, 28, 28)
    assert ds.x_train.dtype == torch.float32 and ds.y_train.dtype == torch.int64
    assert 0.0 <= float(ds.x_train.min()) and float(ds.x_train.max()) <= 1.0
    assert float(ds.x_train.max()) == 1.0  # real digits reach full intensity


def test_split_is_stratified_disjoint_and_deterministic():
    a, b = data.load("mnist-5k", seed=1), data.load("mnist-5k", seed=1)
    assert a.checksum == b.checksum
    assert torch.bincount(a.y_train).tolist() == [400] * 10
    assert torch.bincount(a.y_test).tolist() == [100] * 10
    train = {bytes(x.numpy().tobytes()) for x in a.x_train}
    assert not any(bytes(x.numpy().tobytes()) in train for x in a.x_test[:200])
    assert data.load("mnist-5k", seed=2).checksum != a.checksum


@pytest.mark.parametrize(
    "kwargs, match",
    [({"name": "cifar"}, "valid: mnist-5k"), ({"n_train": 4500, "n_test": 1000}, "exceeds"), ({"n_train": 3}, "n_train=3")],
)
def test_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        data.load(**kwargs)
