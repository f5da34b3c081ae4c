"""The config schema: every shipped config validates, and bad values stop with the key named."""

import copy
import json
import re

import pytest
import yaml

from sedrepro.config import (
    REPO,
    coerce_overrides,
    deep_merge,
    load,
    model_config,
    model_pipeline,
    model_training,
    validate,
)
from sedrepro.io import InputError
from sedrepro.models import build_from_config, count_parameters

DEFAULT = REPO / "config.yaml"


@pytest.mark.parametrize("extra", [None, "config/tiny.yaml", "config/paper.yaml", "config/realdata.yaml"])
def test_shipped_configs_validate(extra):
    paths = [DEFAULT] + ([REPO / extra] if extra else [])
    cfg = load(paths)
    assert set(cfg["models"]) == {"crnn_uni", "crnn_bi", "hcrnn64", "hcrnn128", "mono_baseline", "mono_proposed",
                                  "dnd_baseline", "dnd_dilated", "dnd_dessed", "dnd_proposed_conv1x1",
                                  "dnd_proposed_maxpool"}
    for name in cfg["models"]:  # every model builds from the shipped settings
        arch = model_config(cfg, name)
        pipeline = cfg["pipelines"][model_pipeline(cfg, name)]
        n_features = pipeline["features"]["n_mfcc"] or pipeline["features"]["n_mels"]
        assert count_parameters(build_from_config(arch, n_features, 10)) > 0


def test_paper_config_has_the_papers_settings():
    cfg = load([DEFAULT, REPO / "config/paper.yaml"])
    for name in ("mono_baseline", "dnd_dilated", "dnd_proposed_maxpool"):  # dessed paper: 256 wide, batch 16, patience 30
        m = cfg["models"][name]
        assert m["cnn"]["channels"] == 256 and (m["gru"] or m["dilated"])["channels" if m["dilated"] else "hidden_size"] == 256
        assert model_training(cfg, name)["batch_size"] == 16 and model_training(cfg, name)["patience"] == 30
    assert cfg["training"]["learning_rate"] == 4e-5 and cfg["training"]["batch_size"] == 64
    assert cfg["training"]["max_epochs"] == 250 and cfg["training"]["patience"] == 10
    assert cfg["models"]["hcrnn128"]["rnn"]["hyper"]["hidden_size"] == 128
    assert cfg["models"]["crnn_uni"]["cnn"]["channels"] == [64, 128, 256, 512]
    assert all(d["source"] == "download" for d in cfg["datasets"].values())


def base():
    # through JSON so that YAML anchors become separate dicts: mutating one model must not change the others
    return json.loads(json.dumps(yaml.safe_load(DEFAULT.read_text())))


@pytest.mark.parametrize(
    "mutate, key",
    [
        (lambda c: c["models"].update({"crnn uni": c["models"]["crnn_uni"]}), "models"),  # names become shell words
        (lambda c: c["training"].update({"learning_rate": -1.0}), "training/learning_rate"),
        (lambda c: c["training"].update({"lr": 0.1}), "training"),
        (lambda c: c["datasets"]["urban_sed"]["archives"][0].pop("urls"), "datasets/urban_sed/archives/0"),
        (lambda c: c["datasets"]["urban_sed"]["archives"][0].pop("md5"), "datasets/urban_sed/archives/0"),
        (lambda c: c["models"]["hcrnn64"]["rnn"]["hyper"].update({"z_from": "next"}), "models/hcrnn64/rnn/hyper"),
        (lambda c: c["datasets"]["tut_sed_synthetic_2016"].update({"source": "ftp"}), "datasets/tut_sed_synthetic_2016/source"),
        (lambda c: c["models"]["dnd_dilated"]["dilated"].update({"reduction": "avg"}), "models/dnd_dilated/dilated/reduction"),
        (lambda c: c["models"]["mono_baseline"].update({"kind": "transformer"}), "models/mono_baseline/kind"),
        (lambda c: c["models"]["mono_baseline"]["cnn"].update({"pool_time": [1]}), "models/mono_baseline/cnn"),
        (lambda c: c["models"]["crnn_uni"].update({"architecture": "rnn"}), "models/crnn_uni/architecture"),
        (lambda c: c["pipelines"]["mfcc40_poly"]["features"].update({"kind": "cqt"}), "pipelines/mfcc40_poly/features/kind"),
        (lambda c: c["pipelines"]["mfcc40_mono"].update({"target": "segments"}), "pipelines/mfcc40_mono/target"),
        (lambda c: c["pipelines"]["logmel96"]["chunks"].pop("hop_s"), "pipelines/logmel96/chunks"),
        (lambda c: c["models"]["dnd_dessed"]["training"].update({"threads": 4}), "models/dnd_dessed/training"),
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


def test_command_line_strings_get_the_schemas_types():
    # what Snakemake makes of --config seeds='[0, 1]' training='{compile: true, learning_rate: 4e-5}' ...
    overrides = {"seeds": ["0", "1"], "training": {"compile": "true", "learning_rate": "4e-5"},
                 "audio": {"sample_rate": "22050"}, "data_root": "123",
                 "models": {"hcrnn64": {"rnn": {"hidden_size": "16", "hyper": {"layer_norm": "false"}}},
                            "dnd_dilated": {"cnn": {"channels": "8"}, "dilated": {"dropout": "0.5"}}},
                 "datasets": {"urbansound8k": {"embedded": {"channels": ["1", "2"]}}},
                 "pipelines": {"logmel96": {"features": {"n_mfcc": "null", "top_db": "80"}}}}
    assert coerce_overrides(overrides) == {
        "seeds": [0, 1], "training": {"compile": True, "learning_rate": 4e-5}, "audio": {"sample_rate": 22050},
        "data_root": "123",  # a string where the schema wants one
        "models": {"hcrnn64": {"rnn": {"hidden_size": 16, "hyper": {"layer_norm": False}}},
                   "dnd_dilated": {"cnn": {"channels": 8}, "dilated": {"dropout": 0.5}}},
        "datasets": {"urbansound8k": {"embedded": {"channels": [1, 2]}}},
        "pipelines": {"logmel96": {"features": {"n_mfcc": None, "top_db": 80}}}}


@pytest.mark.parametrize("overrides, message", [
    ({"seeds": ["x"]}, "config key 'seeds/0': 'x' is not of type 'integer'"),
    ({"training": {"compile": "1"}}, "config key 'training/compile': '1' is not of type 'boolean'"),
    ({"audio": {"sample_rate": "22050.5"}}, "config key 'audio/sample_rate': '22050.5' is not of type 'integer'"),
])
def test_command_line_values_of_the_wrong_type_still_name_the_key(overrides, message):
    cfg = deep_merge(base(), coerce_overrides(overrides))
    with pytest.raises(InputError, match="^" + re.escape(message) + "$"):
        validate(cfg)
