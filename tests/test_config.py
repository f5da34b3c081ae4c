"""The config schema: every shipped config validates, and bad values stop with the key named."""

import copy
import json
import re

import pytest
import yaml

from sedrepro.config import (
    REPO,
    SCHEMA,
    check,
    coerce_overrides,
    deep_merge,
    load,
    model_config,
    model_pipeline,
    model_training,
    validate,
    validate_and_default,
)
from sedrepro.io import InputError
from sedrepro.models import build_from_config, count_parameters

DEFAULT = REPO / "config.yaml"


@pytest.mark.parametrize("extra", [None, "config/tiny.yaml", "config/paper.yaml", "config/realdata.yaml"])
def test_shipped_configs_validate(extra):
    paths = [DEFAULT] + ([REPO / extra] if extra else [])
    cfg = load(paths)
    audioset = {m for m in cfg["models"] if m.startswith("as_")}  # the audioset paper's (its sweeps' values vary)
    assert {"as_fc", "as_residual", "as_conv", "as_ensemble", "as_fc_big", "as_residual_big"} <= audioset
    for sweep in ("as_dropout_dropout-", "as_l2_weight_decay-", "as_scale_weight_scale-", "as_width_width-"):
        assert any(m.startswith(sweep) for m in audioset), sweep
    assert set(cfg["models"]) - audioset == {
        "crnn_uni",
        "crnn_bi",
        "hcrnn64",
        "hcrnn128",
        "mono_baseline",
        "mono_proposed",
        "dnd_baseline",
        "dnd_dilated",
        "dnd_dessed",
        "dnd_proposed_conv1x1",
        "dnd_proposed_maxpool",
        "ssa_baseline",
        "ssa_sparsemax",
        # the sparse self-attention paper's lambda sweep; the tiny config trains lambda 1.3 only (skipped_runs)
        *(f"ssa_sparsity-1p{k}" for k in ((3,) if extra == "config/tiny.yaml" else range(6))),
        # the multi-task VAE paper's Figure 2 rows and Figure 3's deterministic variant
        *("mtl_vae_synth", "mtl_vae_synth_weak", "mtl_vae_synth_weak_rec", "mtl_vae_all", "mtl_vae_real"),
        "mtl_vae_deterministic",
    }
    assert set(cfg["skipped_runs"]) == (
        {f"ssa_sparsity-1p{k}" for k in (0, 1, 2, 4, 5)} if extra == "config/tiny.yaml" else set()
    )
    for name in cfg["models"]:  # every model builds from the shipped settings (an ensemble has no network)
        if "ensemble" in cfg["models"][name]:
            continue
        arch = model_config(cfg, name)
        features = cfg["pipelines"][model_pipeline(cfg, name)]["features"]
        n_features = features.get("n_features") or features["n_mfcc"] or features["n_mels"]
        assert count_parameters(build_from_config(arch, n_features, 10)) > 0


def test_paper_config_has_the_papers_settings():
    cfg = load([DEFAULT, REPO / "config/paper.yaml"])
    for name in (
        "mono_baseline",
        "dnd_dilated",
        "dnd_proposed_maxpool",
    ):  # dessed paper: 256 wide, batch 16, patience 30
        m = cfg["models"][name]
        assert (
            m["cnn"]["channels"] == 256
            and (m["gru"] or m["dilated"])["channels" if m["dilated"] else "hidden_size"] == 256
        )
        assert model_training(cfg, name)["batch_size"] == 16 and model_training(cfg, name)["patience"] == 30
    assert cfg["training"]["learning_rate"] == 4e-5 and cfg["training"]["batch_size"] == 64
    assert cfg["training"]["max_epochs"] == 250 and cfg["training"]["patience"] == 10
    assert cfg["models"]["hcrnn128"]["rnn"]["hyper"]["hidden_size"] == 128
    assert cfg["models"]["crnn_uni"]["cnn"]["channels"] == [64, 128, 256, 512]
    # audioset: its real files' block (URLs, checksums) is the data side's, not yet in config/paper.yaml here
    assert all(d["source"] == "download" for name, d in cfg["datasets"].items() if name not in ("desed", "audioset"))
    assert cfg["datasets"]["desed"]["source"] == "local"  # DESED's YouTube parts cannot be downloaded reproducibly


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
        (
            lambda c: c["datasets"]["tut_sed_synthetic_2016"].update({"source": "ftp"}),
            "datasets/tut_sed_synthetic_2016/source",
        ),
        (
            lambda c: c["models"]["dnd_dilated"]["dilated"].update({"reduction": "avg"}),
            "models/dnd_dilated/dilated/reduction",
        ),
        (lambda c: c["models"]["mono_baseline"].update({"kind": "transformer"}), "models/mono_baseline/kind"),
        (lambda c: c["models"]["mono_baseline"]["cnn"].update({"pool_time": [1]}), "models/mono_baseline/cnn"),
        (lambda c: c["models"]["crnn_uni"].update({"architecture": "rnn"}), "models/crnn_uni/architecture"),
        (
            lambda c: c["pipelines"]["mfcc40_poly"]["features"].update({"kind": "cqt"}),
            "pipelines/mfcc40_poly/features/kind",
        ),
        (lambda c: c["pipelines"]["mfcc40_mono"].update({"target": "segments"}), "pipelines/mfcc40_mono/target"),
        (lambda c: c["pipelines"]["logmel96"]["chunks"].pop("hop_s"), "pipelines/logmel96/chunks"),
        (lambda c: c["models"]["dnd_dessed"]["training"].update({"threads": 4}), "models/dnd_dessed/training"),
        # names that refer to registered parts
        (lambda c: c.update({"papers": ["hypernetwork"]}), "papers/0"),
        (lambda c: c["datasets"].update({"urbansed": c["datasets"]["urban_sed"]}), "datasets/urbansed"),
        (lambda c: c.update({"plugins": ["no_such_plugin_module"]}), "plugins"),
        # rules across keys
        (lambda c: c["models"]["crnn_uni"].update({"pipeline": "logmel"}), "models/crnn_uni/pipeline"),
        (lambda c: c["models"]["mono_baseline"].update({"kind": "mono_proposed"}), "models/mono_baseline"),
        (lambda c: c["models"].pop("hcrnn64"), "models/hcrnn64"),
    ],
)
def test_bad_config_names_the_key(mutate, key):
    cfg = base()
    mutate(cfg)
    with pytest.raises(InputError) as err:
        checked(cfg)
    message = str(err.value)
    assert "\n" not in message
    assert f"config key '{key}" in message


def checked(cfg):
    """What the workflow does at start (rules/common.smk) and load() does after merging the files."""
    from sedrepro.config import load_plugins

    validate_and_default(cfg)
    load_plugins(cfg)
    return check(cfg)


@pytest.mark.parametrize(
    "mutate, message",
    [
        (
            lambda c: c.update({"papers": ["hypernetwork"]}),
            "config key 'papers/0': expected a registered paper (audioset, dessed, hypernetworks, mtl_vae, ssa), found 'hypernetwork'",
        ),
        (
            lambda c: c["models"]["crnn_uni"].update({"architecture": "rnn"}),
            "config key 'models/crnn_uni/architecture': expected a registered architecture (cnn_transformer, crnn, dnd, embedding_conv, embedding_fc, embedding_residual, mtl_vae), found 'rnn'",
        ),
        (
            lambda c: c["models"]["mono_baseline"].update({"kind": "mono_proposed"}),
            "config key 'models/mono_baseline': kind 'mono_proposed' needs a 'dilated' block and 'gru' null",
        ),
        (
            lambda c: c["models"].pop("hcrnn64"),
            "config key 'models/hcrnn64': expected the model's settings (hypernetworks table table1 shows it), found no such"
            " model (defined: as_conv, as_dropout_dropout-0p0, as_dropout_dropout-0p25, as_dropout_dropout-0p5,"
            " as_ensemble, as_fc, as_fc_big, as_l2_weight_decay-0p0, as_l2_weight_decay-0p0001, as_l2_weight_decay-0p001,"
            " as_residual, as_residual_big, as_scale_weight_scale-0p005, as_scale_weight_scale-0p02,"
            " as_scale_weight_scale-0p1, as_width_width-1024, as_width_width-256, as_width_width-64, crnn_bi, crnn_uni, dnd_baseline, dnd_dessed, dnd_dilated, dnd_proposed_conv1x1,"
            " dnd_proposed_maxpool, hcrnn128, mono_baseline, mono_proposed, mtl_vae_all, mtl_vae_deterministic, mtl_vae_real, mtl_vae_synth, mtl_vae_synth_weak, mtl_vae_synth_weak_rec, ssa_baseline, ssa_sparsemax, ssa_sparsity-1p0,"
            " ssa_sparsity-1p1, ssa_sparsity-1p2, ssa_sparsity-1p3, ssa_sparsity-1p4, ssa_sparsity-1p5)",
        ),
        (
            lambda c: c["models"]["crnn_uni"].update({"pipeline": "logmel"}),
            "config key 'models/crnn_uni/pipeline': expected one of audioset_vggish, desed_logmel128, logmel96, mfcc40_mono, mfcc40_poly, found"
            " 'logmel'",
        ),
        (
            lambda c: c["models"]["crnn_uni"].update({"training": {"recipe": "mean_teachr"}}),
            "config key 'models/crnn_uni/training/recipe': expected a registered recipe (mean_teacher, supervised), found"
            " 'mean_teachr'",
        ),
        (
            lambda c: c["training"].update({"loss": [{"term": "bce_strng", "weight": 1.0}]}),
            "config key 'models/crnn_uni/training/loss/0/term': expected a registered loss term "
            "(bce_strong, bce_tags, ce_weak, kl_gaussian, mse_reconstruction), found 'bce_strng'",
        ),
    ],
    ids=["paper", "architecture", "dnd-kind", "table-model", "pipeline", "recipe", "loss-term"],
)
def test_cross_field_rules_are_one_line(mutate, message):
    cfg = base()
    mutate(cfg)
    with pytest.raises(InputError, match="^" + re.escape(message) + "$"):
        checked(cfg)


def test_only_a_download_needs_the_real_archives():
    """A dataset that exists only as its embedded stand-in (a plugin's, a test's) declares no real archives; a real
    download without them stops at the dataset's key."""
    cfg = base()
    del cfg["datasets"]["urban_sed"]["archives"]
    assert "archives" not in checked(cfg)["datasets"]["urban_sed"]
    cfg = base()
    del cfg["datasets"]["urban_sed"]["archives"]
    cfg["datasets"]["urban_sed"]["source"] = "download"
    with pytest.raises(
        InputError, match="^" + re.escape("config key 'datasets/urban_sed': 'archives' is a required property") + "$"
    ):
        checked(cfg)


def test_model_and_pipeline_names_are_free_identifiers():
    cfg = base()
    cfg["pipelines"]["my_pipeline"] = cfg["pipelines"]["logmel96"]
    cfg["models"]["my_model"] = {**cfg["models"]["crnn_uni"], "pipeline": "my_pipeline"}
    assert set(checked(cfg)["models"]) >= {"my_model", "crnn_uni"}


def _schema_objects(node, path="#"):
    """Every (path, object schema) in the schema: each dict that has properties."""
    if isinstance(node, dict):
        if isinstance(node.get("properties"), dict):
            yield path, node
        for key, value in node.items():
            yield from _schema_objects(value, f"{path}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _schema_objects(value, f"{path}/{i}")


def _required_and_defaulted(schema) -> list[str]:
    return [
        f"{path}/{key}"
        for path, node in _schema_objects(schema)
        for key in node.get("required", ())
        if "default" in node["properties"].get(key, {})
    ]


def test_no_key_is_both_required_and_defaulted():
    schema = yaml.safe_load(SCHEMA.read_text())
    assert len(list(_schema_objects(schema))) > 20  # the walk reaches the $defs too
    assert _required_and_defaulted(schema) == []


def test_the_walk_finds_a_key_both_required_and_defaulted():
    schema = {"$defs": {"a": {"type": "object", "required": ["x", "y"], "properties": {"x": {"default": 1}, "y": {}}}}}
    assert _required_and_defaulted(schema) == ["#/$defs/a/x"]


def test_load_fills_the_defaults_as_snakemake_validate_did():
    """The workflow used to fill defaults with snakemake.utils.validate; validate_and_default fills the same ones, and
    load() (the stage CLIs', the tests') is that function too."""
    from snakemake.utils import validate as snakemake_validate

    cfg = base()
    del cfg["training"], cfg["evaluation"]["threshold"], cfg["models"]["hcrnn64"]["rnn"]["hyper"]["z_from"]
    del cfg["datasets"]["urban_sed"]["source"], cfg["data_root"]
    for sweep in [name for name, entry in cfg["models"].items() if "sweep" in entry]:
        del cfg["models"][sweep]  # a sweep: ours expands it into its runs, snakemake's validate cannot (test_expand.py)
    theirs = json.loads(json.dumps(cfg))
    snakemake_validate(theirs, schema=str(SCHEMA))
    ours = validate_and_default(cfg)
    assert ours == theirs
    assert ours["training"]["max_epochs"] == 250 and ours["evaluation"]["threshold"] == 0.5
    assert ours["models"]["hcrnn64"]["rnn"]["hyper"]["z_from"] == "previous" and ours["plugins"] == []
    assert ours["datasets"]["urban_sed"]["source"] == "embedded" and ours["data_root"] == "data"
    assert load([DEFAULT])["download"] == {"retries": 3, "backoff_s": 5.0}


def test_validate_alone_fills_nothing():
    cfg = base()
    del cfg["training"]
    assert "training" not in validate(cfg)


def test_deep_merge_replaces_lists_and_merges_dicts():
    a = {"x": {"y": 1, "z": [1, 2]}, "w": 1}
    b = {"x": {"z": [3]}}
    out = deep_merge(a, b)
    assert out == {"x": {"y": 1, "z": [3]}, "w": 1} and a["x"]["z"] == [1, 2]
    assert copy.deepcopy(out) == out


def test_command_line_strings_get_the_schemas_types():
    # what Snakemake makes of --config seeds='[0, 1]' training='{compile: true, learning_rate: 4e-5}' ...
    overrides = {
        "seeds": ["0", "1"],
        "training": {"compile": "true", "learning_rate": "4e-5"},
        "audio": {"sample_rate": "22050"},
        "data_root": "123",
        "models": {
            "hcrnn64": {"rnn": {"hidden_size": "16", "hyper": {"layer_norm": "false"}}},
            "dnd_dilated": {"cnn": {"channels": "8"}, "dilated": {"dropout": "0.5"}},
        },
        "datasets": {"urbansound8k": {"embedded": {"channels": ["1", "2"]}}},
        "pipelines": {"logmel96": {"features": {"n_mfcc": "null", "top_db": "80"}}},
    }
    assert coerce_overrides(overrides) == {
        "seeds": [0, 1],
        "training": {"compile": True, "learning_rate": 4e-5},
        "audio": {"sample_rate": 22050},
        "data_root": "123",  # a string where the schema wants one
        "models": {
            "hcrnn64": {"rnn": {"hidden_size": 16, "hyper": {"layer_norm": False}}},
            "dnd_dilated": {"cnn": {"channels": 8}, "dilated": {"dropout": 0.5}},
        },
        "datasets": {"urbansound8k": {"embedded": {"channels": [1, 2]}}},
        "pipelines": {"logmel96": {"features": {"n_mfcc": None, "top_db": 80}}},
    }


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"seeds": ["x"]}, "config key 'seeds/0': 'x' is not of type 'integer'"),
        ({"training": {"compile": "1"}}, "config key 'training/compile': '1' is not of type 'boolean'"),
        ({"audio": {"sample_rate": "22050.5"}}, "config key 'audio/sample_rate': '22050.5' is not of type 'integer'"),
    ],
)
def test_command_line_values_of_the_wrong_type_still_name_the_key(overrides, message):
    cfg = deep_merge(base(), coerce_overrides(overrides))
    with pytest.raises(InputError, match="^" + re.escape(message) + "$"):
        validate(cfg)


def test_the_default_plugins_leave_the_settings_digest_as_it_was():
    """Filling `plugins: []` in changes no configuration's digest (tables name it; the report compares it)."""
    from sedrepro.config import configuration_record

    cfg = validate_and_default(base())
    without = {k: v for k, v in cfg.items() if k != "plugins"}
    assert (
        configuration_record(cfg, [DEFAULT], {})["settings_sha256"]
        == configuration_record(without, [DEFAULT], {})["settings_sha256"]
    )


def test_no_mapping_in_the_schema_or_configs_repeats_a_key():
    """YAML keeps the last of two equal keys silently: a second declaration would hide the first."""
    import collections

    class Strict(yaml.SafeLoader):
        pass

    def mapping(loader, node, deep=False):
        keys = [loader.construct_object(k) for k, _ in node.value]
        repeated = [k for k, n in collections.Counter(keys).items() if n > 1]
        assert not repeated, f"{node.start_mark}: {repeated} declared twice"
        return yaml.SafeLoader.construct_mapping(loader, node, deep)

    Strict.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, mapping)
    for path in [REPO / "config" / "schema.yaml", REPO / "config.yaml", *sorted((REPO / "config").glob("*.yaml"))]:
        yaml.load(path.read_text(), Strict)
