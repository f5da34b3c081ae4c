"""sedrepro.expand: sweep entries become one model entry per value; ensemble entries are checked."""

import copy
import json

import pytest
import yaml

from sedrepro import config as sconfig
from sedrepro import expand
from sedrepro.config import REPO
from sedrepro.io import InputError

DEFAULT = yaml.safe_load((REPO / "config.yaml").read_text())
# without the shipped sweeps and ensembles (the ssa paper's lambdas, the audioset paper's): each test adds its own
DEFAULT["models"] = {
    name: entry for name, entry in DEFAULT["models"].items() if "sweep" not in entry and "ensemble" not in entry
}


def base(**models):
    """The default config (as plain JSON data) with extra model entries."""
    cfg = json.loads(json.dumps(DEFAULT))
    cfg["models"].update(copy.deepcopy(models))
    return cfg


LR = {"sweep": {"base": "crnn_uni", "key": "training.learning_rate", "values": [0.001, 4e-05, 1]}}
DROPOUT = {"sweep": {"base": "crnn_bi", "key": "cnn.dropout", "values": [0.0, 0.5]}}


def one_line_error(cfg) -> str:
    with pytest.raises(InputError) as err:
        sconfig.expanded_models(cfg)
    message = str(err.value)
    assert "\n" not in message
    return message


def test_a_sweep_becomes_one_entry_per_value_with_stable_readable_names():
    cfg = base(lr=LR, drop=DROPOUT)
    models = sconfig.expanded_models(cfg)
    runs = [
        "lr_learning_rate-0p001",
        "lr_learning_rate-4e-05",
        "lr_learning_rate-1",
        "drop_dropout-0p0",
        "drop_dropout-0p5",
    ]
    assert list(models) == [*DEFAULT["models"], *runs]  # in the sweep's place, in the order of its values
    assert all(expand.NAME.match(n) for n in models) and len(set(models)) == len(models)
    assert expand.expand_models(cfg) == models  # a pure function: the same config gives the same names and entries
    assert "lr" not in models and "drop" not in models  # the sweep entry itself is not a model
    assert cfg["models"]["lr"] == LR  # and the config is left as it was


def test_a_swept_run_keeps_every_other_setting_of_its_base():
    cfg = base(lr=LR, drop=DROPOUT)
    models = sconfig.expanded_models(cfg)
    for run, value in (("lr_learning_rate-0p001", 0.001), ("lr_learning_rate-1", 1)):
        assert sconfig.model_training(cfg, run) == {**sconfig.model_training(cfg, "crnn_uni"), "learning_rate": value}
        assert sconfig.model_config(cfg, run) == {**sconfig.model_config(cfg, "crnn_uni"), "name": run}
        assert sconfig.model_pipeline(cfg, run) == sconfig.model_pipeline(cfg, "crnn_uni")
        assert sconfig.model_evaluation(cfg, run) == sconfig.model_evaluation(cfg, "crnn_uni")
    half = models["drop_dropout-0p5"]
    assert half["cnn"] == {**cfg["models"]["crnn_bi"]["cnn"], "dropout": 0.5}
    assert {k: v for k, v in half.items() if k != "cnn"} == {
        k: v for k, v in cfg["models"]["crnn_bi"].items() if k != "cnn"
    }
    # a base with its own training override keeps the rest of it
    cfg = base(ep={"sweep": {"base": "dnd_dessed", "key": "training.patience", "values": [3, 4]}})
    assert sconfig.model_training(cfg, "ep_patience-3") == {**sconfig.model_training(cfg, "dnd_dessed"), "patience": 3}


def test_lists_strings_and_booleans_name_runs_too():
    cfg = base(
        ch={"sweep": {"base": "crnn_uni", "key": "cnn.channels", "values": [[8, 16, 16, 16], [4, 8, 8, 8]]}},
        pool={"sweep": {"base": "crnn_uni", "key": "cnn.freq_reduce", "values": ["mean", "max"]}},
        bi={"sweep": {"base": "crnn_uni", "key": "rnn.bidirectional", "values": [True, False]}},
    )
    assert [n for n in sconfig.expanded_models(cfg) if n not in DEFAULT["models"]] == [
        "ch_channels-8x16x16x16",
        "ch_channels-4x8x8x8",
        "pool_freq_reduce-mean",
        "pool_freq_reduce-max",
        "bi_bidirectional-true",
        "bi_bidirectional-false",
    ]


@pytest.mark.parametrize(
    "key, values, message",
    [
        (
            "training.learning_rate",
            [0.001, "fast"],
            "config key 'models/sw/sweep/values/1': expected a number for training.learning_rate (as in base model "
            "'crnn_uni'), found 'fast' (a string)",
        ),
        (
            "rnn.hidden_size",
            [64, 12.5],
            "config key 'models/sw/sweep/values/1': expected an integer for rnn.hidden_size (as in base model 'crnn_uni'), "
            "found 12.5 (a number)",
        ),
        ("rnn.bidirectional", [1], "config key 'models/sw/sweep/values/0': expected a boolean for rnn.bidirectional"),
        (
            "cnn.dropuot",
            [0.1],
            "config key 'models/sw/sweep/key': expected a setting of base model 'crnn_uni', found "
            "'cnn.dropuot' (no 'dropuot' there)",
        ),
        ("cnn", [{"dropout": 0.1}], "config key 'models/sw/sweep/key': expected one setting"),
        (
            "cnn.dropout",
            [0.1, 1.5],
            "config key 'models/sw_dropout-1p5/cnn/dropout': 1.5 is greater than the maximum of 1",
        ),
        (
            "training.learning_rate",
            [0.5, 0.5],  # the schema's uniqueItems says so too; expand_models checks on its own
            "config key 'models/sw/sweep/values/1': expected values that give distinct run names (sw_learning_rate-0p5), "
            "found 0.5 -> sw_learning_rate-0p5 again",
        ),
    ],
    ids=[
        "string-for-number",
        "float-for-integer",
        "int-for-bool",
        "unknown-key",
        "section",
        "out-of-range",
        "same-name",
    ],
)
def test_a_bad_sweep_is_one_line_naming_the_key(key, values, message):
    cfg = base(sw={"sweep": {"base": "crnn_uni", "key": key, "values": values}})
    assert message in one_line_error(cfg)


def test_a_sweep_of_something_that_is_not_a_network_is_refused():
    cfg = base(sw={"sweep": {"base": "crnn_unii", "key": "cnn.dropout", "values": [0.1]}})
    assert one_line_error(cfg).startswith("config key 'models/sw/sweep/base': expected a model entry of this config (")
    cfg = base(
        sw={"sweep": {"base": "ens", "key": "cnn.dropout", "values": [0.1]}},
        ens={"ensemble": {"members": ["crnn_uni", "crnn_bi"]}},
    )
    assert (
        "expected a model with an architecture (not a sweep or ensemble), found 'ens', an ensemble"
        in one_line_error(cfg)
    )


def test_generated_names_that_collide_with_existing_ones_are_refused():
    declared = {"crnn_hidden_size-16": DEFAULT["models"]["crnn_uni"]}  # a declared entry with a generated-looking name
    sweep = {"crnn": {"sweep": {"base": "crnn_uni", "key": "rnn.hidden_size", "values": [16, 32]}}}
    for first, second in ((declared, sweep), (sweep, declared)):  # before or after the sweep in the config
        cfg = base(**first, **second)
        assert one_line_error(cfg) == (
            "config key 'models/crnn/sweep': expected generated run names unused by other "
            "entries, found crnn_hidden_size-16 defined twice"
        )


def test_ensembles_are_kept_and_their_members_checked():
    cfg = base(lr=LR, ens={"ensemble": {"members": ["lr_learning_rate-0p001", "crnn_uni"]}})
    models = sconfig.expanded_models(cfg)
    assert models["ens"] == cfg["models"]["ens"]
    assert sconfig.ensemble_names(cfg) == ["ens"]
    assert sconfig.ensemble_members(cfg, "ens") == ["lr_learning_rate-0p001", "crnn_uni"]
    assert sconfig.model_pipeline(cfg, "ens") == sconfig.model_pipeline(cfg, "crnn_uni")
    assert sconfig.model_evaluation(cfg, "ens") == cfg["evaluation"]
    with pytest.raises(
        InputError,
        match=r"^config key 'models/ens': expected a model that is trained .*, found an "
        r"ensemble of lr_learning_rate-0p001, crnn_uni",
    ):
        sconfig.model_config(cfg, "ens")
    with pytest.raises(InputError, match="found an ensemble"):
        sconfig.model_training(cfg, "ens")
    with pytest.raises(InputError, match="^config key 'models/crnn_uni': expected an ensemble entry"):
        sconfig.ensemble_members(cfg, "crnn_uni")


@pytest.mark.parametrize(
    "members, message",
    [
        (
            ["crnn_uni", "mono_baseline"],
            "config key 'models/ens/ensemble/members/1': expected a model on the pipeline of 'crnn_uni' (logmel96), found "
            "'mono_baseline' on mfcc40_mono",
        ),
        (
            ["crnn_uni", "crnn_bii"],
            "config key 'models/ens/ensemble/members/1': expected a model entry of this config (",
        ),
        (["crnn_uni", "lr"], "config key 'models/ens/ensemble/members/1': expected a model entry of this config ("),
        (
            ["crnn_uni", "ens2"],
            "expected a model that is trained (not an ensemble or sweep; name a sweep's runs), found "
            "'ens2', an ensemble",
        ),
        (["crnn_uni"], "config key 'models/ens/ensemble/members': [] is too short"),
    ],
    ids=["pipelines", "unknown", "sweep-entry", "nested", "one-member"],
)
def test_a_bad_ensemble_is_one_line_naming_the_member(members, message):
    cfg = base(lr=LR, ens={"ensemble": {"members": members}}, ens2={"ensemble": {"members": ["crnn_uni", "crnn_bi"]}})
    if len(members) == 1:
        with pytest.raises(InputError) as err:
            sconfig.validate(cfg)
        assert str(err.value).startswith("config key 'models/ens/ensemble/members'")
        return
    assert message in one_line_error(cfg)


def test_the_schema_takes_the_new_entries_and_refuses_stray_keys():
    cfg = base(lr=LR, ens={"ensemble": {"members": ["crnn_uni", "crnn_bi"]}, "evaluation": {"threshold": 0.4}})
    sconfig.validate(cfg)
    assert sconfig.model_evaluation(cfg, "ens")["threshold"] == 0.4
    for entry, key in (
        ({**LR, "pipeline": "logmel96"}, "models/lr"),
        ({"sweep": {**LR["sweep"], "value": 1}}, "models/lr/sweep"),
        (
            {"ensemble": {"members": ["crnn_uni", "crnn_bi"]}, "evaluation": {"n_checkpoints": 2}},
            "models/lr/evaluation",
        ),
        ({"sweep": {**LR["sweep"], "key": "training..lr"}}, "models/lr/sweep/key"),
    ):
        with pytest.raises(InputError, match=f"^config key '{key}'"):
            sconfig.validate(base(lr=entry))


def test_configs_without_sweeps_or_ensembles_are_left_as_they_are():
    cfg = base()
    assert expand.expand_models(cfg) is cfg["models"]
    assert sconfig.expanded_models(cfg) is cfg["models"]
