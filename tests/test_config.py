"""The config schema: every shipped config validates, and bad values stop with the key named."""

import copy

import pytest
import yaml

from sedrepro.config import REPO, deep_merge, load, validate
from sedrepro.io import InputError

DEFAULT = REPO / "config.yaml"


@pytest.mark.parametrize("extra", [None, "config/tiny.yaml", "config/paper.yaml", "config/realdata.yaml"])
def test_shipped_configs_validate(extra):
    paths = [DEFAULT] + ([REPO / extra] if extra else [])
    cfg = load(paths)
    assert set(cfg["models"]) == {"crnn_uni", "crnn_bi", "hcrnn64", "hcrnn128"}


def test_paper_config_has_the_papers_settings():
    cfg = load([DEFAULT, REPO / "config/paper.yaml"])
    assert cfg["training"]["learning_rate"] == 4e-5 and cfg["training"]["batch_size"] == 64
    assert cfg["training"]["max_epochs"] == 250 and cfg["training"]["patience"] == 10
    assert cfg["models"]["hcrnn128"]["rnn"]["hyper"]["hidden_size"] == 128
    assert cfg["models"]["crnn_uni"]["cnn"]["channels"] == [64, 128, 256, 512]
    assert all(d["source"] == "download" for d in cfg["datasets"].values())


def base():
    return yaml.safe_load(DEFAULT.read_text())


@pytest.mark.parametrize(
    "mutate, key",
    [
        (lambda c: c["models"].update({"transformer": c["models"]["crnn_uni"]}), "models"),
        (lambda c: c["training"].update({"learning_rate": -1.0}), "training/learning_rate"),
        (lambda c: c["training"].update({"lr": 0.1}), "training"),
        (lambda c: c["datasets"]["urban_sed"]["archives"][0].pop("urls"), "datasets/urban_sed/archives/0"),
        (lambda c: c["datasets"]["urban_sed"]["archives"][0].pop("md5"), "datasets/urban_sed/archives/0"),
        (lambda c: c["models"]["hcrnn64"]["rnn"]["hyper"].update({"z_from": "next"}), "models/hcrnn64/rnn/hyper"),
        (lambda c: c["datasets"]["tut_sed_synthetic_2016"].update({"source": "ftp"}), "datasets/tut_sed_synthetic_2016/source"),
    ],
)
def test_bad_config_names_the_key(mutate, key):
    cfg = base()
    mutate(cfg)
    with pytest.raises(InputError) as err:
        validate(cfg)
    message = str(err.value)
    assert "\n" not in message
    assert f"config key '{key}" in message


def test_deep_merge_replaces_lists_and_merges_dicts():
    a = {"x": {"y": 1, "z": [1, 2]}, "w": 1}
    b = {"x": {"z": [3]}}
    out = deep_merge(a, b)
    assert out == {"x": {"y": 1, "z": [3]}, "w": 1} and a["x"]["z"] == [1, 2]
    assert copy.deepcopy(out) == out
