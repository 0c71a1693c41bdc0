"""Config: presets resolve, overrides parse, bad values fail with one line before training."""

import pytest

from ganforget.config import Config, parse_override, parse_seeds, resolve, to_dict
from ganforget.errors import ConfigError
from ganforget.presets import PRESETS, preset


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_resolves(name):
    extra = [] if name.startswith("ring8") else ["data.root=/some/dir"]
    cfg = resolve(preset(name), extra)
    assert cfg.name == name


def test_paper_settings_in_presets():
    r1 = resolve(preset("ring8-r1"), [])
    assert (r1.objective.penalty, r1.objective.weight, r1.optim.lr_d) == ("r1", 10.0, 3e-3)
    wg = resolve(preset("mnist-mlp-wgangp"), ["data.root=/x"])
    assert (wg.objective.loss, wg.objective.penalty, wg.optim.n_critic) == ("wgan", "1gp", 5)
    imba = resolve(preset("cifar10-dcgan-0gp-imba"), ["data.root=/x"])
    assert (imba.objective.weight, imba.objective.real_weight) == (100.0, 10.0)
    assert imba.optim.betas == [0.5, 0.99]


def test_overrides_parse_numbers_lists_and_null():
    assert parse_override("optim.lr_d=1e-3") == {"optim": {"lr_d": 1e-3}}
    assert parse_override("train.seeds=[0, 2]") == {"train": {"seeds": [0, 2]}}
    assert parse_override("objective.penalty=null") == {"objective": {"penalty": None}}
    cfg = resolve(preset("ring8-ns-sgd"), ["optim.lr_d=1e-3", "train.seeds=[4,5]"])
    assert cfg.optim.lr_d == 1e-3 and cfg.train.seeds == [4, 5]


@pytest.mark.parametrize(
    "override,needle",
    [
        ("optim.lr_dd=1e-3", "Did you mean 'optim.lr_d'"),
        ("optim.lr_d=-1", "optim.lr_d"),
        ("objective.weight=-2", "objective.weight"),
        ("objective.real_weight=0", "objective.real_weight"),
        ("optim.n_critic=0", "optim.n_critic"),
        ("probes.k_min=5", "k_min"),
        ("train.iterations=abc", "train.iterations"),
        ("optim.name=adma", "Did you mean 'adam'"),
        ("train.seeds=[1,1]", "repeats"),
        ("nonsense", "key=value"),
    ],
)
def test_bad_values_fail_with_one_line(override, needle):
    with pytest.raises(ConfigError) as e:
        resolve(preset("ring8-ns-sgd"), [override])
    msg = str(e.value)
    assert needle in msg and "\n" not in msg


def test_seed_syntax():
    assert parse_seeds("0-3") == [0, 1, 2, 3]
    assert parse_seeds("2,5") == [2, 5]
    assert parse_seeds("3") == [0, 1, 2]
    with pytest.raises(ConfigError):
        parse_seeds("3-1")


def test_image_data_needs_a_root():
    with pytest.raises(ConfigError, match="data.root"):
        resolve(preset("mnist-mlp-ns-sgd"), [])


def test_config_round_trips_through_dict():
    cfg = resolve(preset("ring8-r1"), [])
    from ganforget.config import from_dict

    assert from_dict(to_dict(cfg)) == cfg
    assert isinstance(cfg, Config)
