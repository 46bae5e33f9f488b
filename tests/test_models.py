"""The four study networks: exact parameter counts (Yu & Morozov 2026, Table 1), shapes, determinism."""

import pytest
import torch

from lls_core import models, params


@pytest.mark.parametrize("name", models.ARCHITECTURES)
def test_parameter_count_matches_paper(name):
    assert params.num_params(models.build(name)) == models.PARAM_COUNTS[name]


@pytest.mark.parametrize("name", models.ARCHITECTURES)
def test_output_shape_and_loss(name):
    m = models.build(name)
    g = torch.Generator().manual_seed(0)
    x = torch.rand(5, 1, 28, 28, generator=g)
    y = torch.randint(0, 10, (5,), generator=g)
    out = m(x)
    expected = (5, 10) if models.is_classifier(m) else (5, 1, 28, 28)
    assert tuple(out.shape) == expected
    value = models.loss(m, x, y)
    assert value.ndim == 0 and torch.isfinite(value)


@pytest.mark.parametrize("name", models.ARCHITECTURES)
def test_build_is_deterministic_and_seed_dependent(name):
    a, b, c = (params.flatten(models.build(name, seed=s)) for s in (3, 3, 4))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


@pytest.mark.parametrize("name", models.ARCHITECTURES)
def test_flat_roundtrip_and_functional_loss(name):
    m = models.build(name, seed=1)
    w = params.flatten(m)
    g = torch.Generator().manual_seed(0)
    x, y = torch.rand(4, 1, 28, 28, generator=g), torch.randint(0, 10, (4,), generator=g)
    assert torch.allclose(models.loss(m, x, y), models.loss(m, x, y, params.unflatten(m, w)))
    other = params.flatten(models.build(name, seed=2))
    params.assign(m, other)
    assert torch.equal(params.flatten(m), other)


def test_unflatten_rejects_wrong_size():
    m = models.build("fcp")
    with pytest.raises(ValueError, match="d=42200"):
        params.unflatten(m, torch.zeros(10))


@pytest.mark.parametrize("bad", [("resnet", {}), ("fcp", {"activation": "gelu"})])
def test_bad_names_raise(bad):
    name, kw = bad
    with pytest.raises(ValueError, match="valid"):
        models.build(name, **kw)


def test_activation_is_used():
    x = torch.rand(2, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    a = models.build("fcp", activation="softplus", seed=0)(x)
    b = models.build("fcp", activation="relu", seed=0)(x)
    assert not torch.allclose(a, b)
