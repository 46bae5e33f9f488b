"""The package's defaults equal the sourced settings in the shipped ``settings/yu_morozov_settings.csv``."""

from __future__ import annotations

import inspect

import pytest
import torch

from lls_core import lbfgs_gss, models, pathfinder, resources, study, train
from lls_core.landscape import PathConfig

SETTINGS = resources.read_csv(resources.files("settings", "yu_morozov_settings.csv")).set_index("setting")


def value(name: str) -> str:
    return str(SETTINGS.loc[name, "value"])


def test_every_setting_names_its_source():
    assert set(SETTINGS["source_kind"]) <= {"paper", "code", "readme", "book"}
    assert SETTINGS["source"].str.len().min() > 10


@pytest.mark.parametrize("arch", ["fcp", "lenet", "autoencoder"])
def test_default_activations(arch):
    assert models.build(arch).activation == value(f"{arch}_activation")
    assert models.DEFAULT_ACTIVATION[arch] == value(f"{arch}_activation")


def test_lstm_permutation_is_the_authors():
    m = models.build("lstm")
    assert m.perm_seed == int(value("lstm_perm_seed")) == models.AUTHORS_PERM_SEED
    expected = torch.randperm(784, generator=torch.Generator().manual_seed(1234))
    assert torch.equal(m.perm, expected)
    assert study.Profile("x").perm_seed == 1234
    assert inspect.signature(train.train).parameters["perm_seed"].default == 1234


def test_path_settings():
    assert pathfinder.NETWORK_LAMBDA == float(value("network_path_lambda"))
    assert pathfinder.PathSettings().lam == float(value("network_path_lambda"))  # find_path's default settings
    assert PathConfig().lam == float(value("network_path_lambda"))
    assert pathfinder.TOY_LAMBDA == float(value("toy_path_lambda"))
    assert inspect.signature(pathfinder.toy_objective).parameters["kind"].default == value("toy_path_objective")
    cfg = PathConfig()
    assert (cfg.n_terms, cfg.n_points, cfg.lr, cfg.steps) == (
        int(value("network_path_terms")), int(value("network_path_points")),
        float(value("network_path_lr")), int(value("network_path_steps")))


def test_lbfgs_gss_settings():
    cfg = train.LBFGSGSSConfig()
    assert cfg.variant == value("lbfgs_gss_mode")
    assert cfg.history_size == int(value("lbfgs_gss_history_size"))
    assert cfg.line_search_budget == int(value("lbfgs_gss_line_search_budget"))
    assert cfg.tol == float(value("lbfgs_gss_tol"))
    assert cfg.iterations == int(value("lbfgs_gss_iterations"))
    assert lbfgs_gss.AUTHORS_RHO_EPS == float(value("lbfgs_gss_rho_eps"))
    assert lbfgs_gss.AUTHORS_GOLDEN == float(value("lbfgs_gss_golden"))
    sig = inspect.signature(lbfgs_gss.LBFGSGSS).parameters
    assert sig["initial_step"].default == float(value("lbfgs_gss_initial_step"))


def test_sgd_settings():
    cfg = train.SGDConfig()
    assert cfg.batch_size == int(value("sgd_batch_size"))
    assert cfg.lr == float(value("sgd_lr"))
    prof = study.get_profile("paper")
    assert (prof.n_inits, prof.k_best) == (int(value("n_inits")), int(value("k_best")))
