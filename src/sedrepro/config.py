"""Load and validate the workflow config outside Snakemake (tests, CLIs) exactly as the Snakefile does."""

from __future__ import annotations

import copy
import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from . import expand, registry
from .io import InputError, fail, read_text

REPO = Path(__file__).resolve().parents[2]
SCHEMA = REPO / "config" / "schema.yaml"


def deep_merge(base: dict, override: dict) -> dict:
    """Snakemake's --configfile semantics: nested dicts merge, everything else is replaced."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _filling_defaults(validator_class):
    """A validator class that also fills each absent property that has a schema default, as it validates (the
    jsonschema FAQ recipe, which Snakemake's own validate uses): defaults of defaults apply too, e.g. a section that
    defaults to {} gets its keys' defaults."""
    check_properties = validator_class.VALIDATORS["properties"]

    def properties(validator, props, instance, schema):
        if isinstance(instance, dict):
            for name, sub in props.items():
                if isinstance(sub, dict) and "default" in sub:
                    instance.setdefault(name, copy.deepcopy(sub["default"]))
        yield from check_properties(validator, props, instance, schema)

    return jsonschema.validators.extend(validator_class, {"properties": properties})


_DefaultingValidator = _filling_defaults(jsonschema.Draft202012Validator)


def validate(config: dict, schema_path: Path = SCHEMA) -> dict:
    """Raise one line naming the offending key; return the config unchanged (no defaults filled)."""
    return _validate(config, schema_path, jsonschema.Draft202012Validator)


def validate_and_default(config: dict, schema_path: Path = SCHEMA) -> dict:
    """Fill the schema's defaults into `config` (in place) and validate it, raising one line naming the offending key.
    The one way defaults are applied: the workflow (rules/common.smk) and load() (stage CLIs, tests) both call it.
    Sweeps are expanded into their runs here too (sedrepro.expand), so both see the same models section."""
    _validate(config, schema_path, _DefaultingValidator)
    config["models"] = expanded_models(config, schema_path)
    return config


def _validate(config: dict, schema_path: Path, validator_class) -> dict:
    schema = yaml.safe_load(schema_path.read_text())
    validator = validator_class(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: list(e.absolute_path))
    if errors:
        err = errors[0]
        message = err.message
        if err.validator in ("oneOf", "anyOf"):
            if isinstance(err.schema, dict) and err.schema.get("description"):
                # e.g. an archive with neither or both checksums: say what the schema asks for, and what is there
                found = (
                    f"keys {', '.join(sorted(err.instance))}" if isinstance(err.instance, dict) else repr(err.instance)
                )
                message = f"expected: {err.schema['description']} Found {found}"
            elif err.context:  # the deepest of the alternatives' errors (the key really at fault), at its own key
                err = max(err.context, key=lambda e: len(e.absolute_path))
                message = err.message
        key = "/".join(str(p) for p in err.absolute_path) or "<top level>"
        raise InputError(f"config key '{key}': {message}")
    return config


_JSON_TYPES = {bool: "boolean", int: "integer", float: "number", type(None): "null", list: "array", dict: "object"}


def _resolve(schema: Any, root: dict) -> dict:
    while isinstance(schema, dict) and "$ref" in schema:  # the schema's refs are all local: "#/$defs/<name>"
        target: Any = root
        for part in schema["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        schema = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
    return schema if isinstance(schema, dict) else {}


def _branches(schema: Any, root: dict) -> list[dict]:
    """The schema and every subschema a value may also have to match (allOf/anyOf/oneOf, if-then-else)."""
    schema = _resolve(schema, root)
    out = [schema]
    for key in ("allOf", "anyOf", "oneOf"):
        for sub in schema.get(key, ()):
            out += _branches(sub, root)
    for key in ("then", "else"):
        if key in schema:
            out += _branches(schema[key], root)
    return out


def _key_schemas(schemas: list[dict], key: str, root: dict) -> list[dict]:
    out = []
    for schema in schemas:
        subs = [schema.get("properties", {}).get(key)]
        subs += [sub for pattern, sub in schema.get("patternProperties", {}).items() if re.search(pattern, key)]
        if isinstance(schema.get("additionalProperties"), dict):
            subs.append(schema["additionalProperties"])
        for sub in subs:
            if sub is not None:
                out += _branches(sub, root)
    return out


def _allowed_types(schemas: list[dict]) -> set[str]:
    types: set[str] = set()
    for schema in schemas:
        declared = schema.get("type", ())
        types.update([declared] if isinstance(declared, str) else declared)
        values = list(schema.get("enum", ())) + ([schema["const"]] if "const" in schema else [])
        types.update(_JSON_TYPES.get(type(v), "string") for v in values)
    if "number" in types:
        types.add("integer")
    return types


def _coerce(value: Any, schemas: list[dict], root: dict) -> Any:
    if isinstance(value, Mapping):
        return {k: _coerce(v, _key_schemas(schemas, str(k), root), root) for k, v in value.items()}
    if isinstance(value, list):
        items = [sub for s in schemas if isinstance(s.get("items"), dict) for sub in _branches(s["items"], root)]
        return [_coerce(v, items, root) for v in value]
    if not isinstance(value, str):
        return value
    types = _allowed_types(schemas)
    if not types or "string" in types:
        return value
    try:
        parsed = yaml.safe_load(value)
    except yaml.YAMLError:
        return value
    if _JSON_TYPES.get(type(parsed)) in types:
        return parsed
    if "number" in types:
        try:
            return float(value)  # "4e-5": a YAML 1.1 float needs a dot, Python's does not
        except ValueError:
            pass
    return value  # left for validate to name the key: e.g. seeds='[x]'


def coerce_overrides(overrides: Mapping, schema_path: Path = SCHEMA) -> dict:
    """`--config` values with the types the schema asks for.

    Snakemake parses a nested `--config` value with YAML's base loader, so `seeds='[0, 1]'` arrives as ['0', '1'];
    each string where the schema allows no string is read as YAML (or as a float) and kept when the result has an
    allowed type. A string that does not parse stays a string, so validate still names its key. Only the overrides
    are coerced: a quoted number in a config file is an error there.
    """
    root = yaml.safe_load(schema_path.read_text())
    return _coerce(overrides, _branches(root, root), root)


def load(paths: Iterable[str | Path]) -> dict:
    """The config files merged as Snakemake merges --configfile, with the schema's defaults, its plugins imported and
    checked as the workflow checks it at start."""
    config: dict[str, Any] = {}
    for path in paths:
        config = deep_merge(config, yaml.safe_load(read_text(path)) or {})
    validate_and_default(config)
    load_plugins(config)
    return check(config)


def load_plugins(config: dict) -> None:
    """Import the config's plugin modules (they register their parts); one line for one that cannot be imported."""
    registry.load_plugins(config["plugins"], where="config key 'plugins'")


# --- names that refer to registered parts: each kind's Registry names the known ones -----------------------------


def check_paper(name: str, where: str) -> None:
    from . import papers

    papers.PAPERS.get(name, where)


def check_dataset(name: str, where: str) -> None:
    from . import datasets

    datasets.DATASETS.get(name, where)


def check_architecture(name: str, where: str) -> None:
    from . import models

    models.ARCHITECTURES.get(name, where)


def check_architecture_settings(config: dict, model: str) -> None:
    """The architecture's own rules on its keys (e.g. which DnD kinds take a GRU): the network is built on PyTorch's
    meta device, which allocates nothing, so what building it rejects is rejected here, before any job runs."""
    import torch

    from .models import build_from_config

    features = config["pipelines"][model_pipeline(config, model)]["features"]
    # the width the features stage gives (features.FeatureConfig.n_features / PrecomputedConfig.n_features)
    n_features = (
        features.get("n_features")
        if features["kind"] == "precomputed"
        else (features.get("n_mfcc") if features["kind"] == "mfcc" else features.get("n_mels"))
    )
    try:
        with torch.device("meta"):
            build_from_config(model_config(config, model), int(n_features), 2)
    except (ValueError, TypeError, KeyError) as err:
        raise InputError(f"config key 'models/{model}': {err}") from None


def check_training_parts(config: dict, model: str) -> None:
    """The model's recipe, loss terms and augmentations are registered (sedrepro.recipes, sedrepro.losses,
    sedrepro.augment), loss terms name training sources only, the augmentations with settings that suit the
    pipeline's target."""
    from .augment import Augmenter
    from .losses import LOSS_TERMS, Loss
    from .recipes import RECIPES

    where = f"config key 'models/{model}/training"
    training = model_training(config, model)
    RECIPES.get(training["recipe"], f"{where}/recipe'")
    for i, entry in enumerate(training["loss"] or ()):
        LOSS_TERMS.get(entry["term"], f"{where}/loss/{i}/term'")
    if training["loss"] is not None:  # a term's sources are training sources
        Loss(training["loss"], f"models/{model}/training/loss", [s["split"] for s in training["sources"]])
    target = config["pipelines"][model_pipeline(config, model)]["target"]
    Augmenter(training["augment"], target, seed=0, key=f"models/{model}/training/augment")


def check(config: dict) -> dict:
    """Rules across keys that the schema cannot state, checked at workflow start (before any download) and by load():
    names refer to registered papers, datasets, architectures, recipes and loss terms; every model names a defined
    pipeline and has settings its architecture accepts; every table and figure of a selected paper shows models and a dataset the
    config defines, and each such model's per-class median-filter windows name that dataset's classes. Returns the
    config; a violation is one line naming the key."""
    from . import evaluate as sed_evaluate
    from . import papers

    for i, paper in enumerate(config["papers"]):
        check_paper(paper, f"config key 'papers/{i}'")
    for dataset in config["datasets"]:
        check_dataset(dataset, f"config key 'datasets/{dataset}'")
    for model, entry in config["models"].items():
        if expand.is_ensemble(entry):  # no network: its members are checked as models (and by sedrepro.expand)
            continue
        check_architecture(entry["architecture"], f"config key 'models/{model}/architecture'")
        model_pipeline(config, model)
        check_architecture_settings(config, model)
        check_training_parts(config, model)
    skipped = set(config.get("skipped_runs", []))
    for paper in config["papers"]:
        spec = papers.get(paper)
        parts = [("table", t.name, t.dataset, tuple(t.models)) for t in spec.tables]
        parts += [("figure", f.name, f.dataset, tuple(m for _, m in f.runs(config["models"]))) for f in spec.figures]
        for figure in spec.figures:
            if figure.sweep and len(figure.runs(config["models"])) == len(figure.models):
                raise fail(
                    f"config key 'models/{figure.sweep[0]}'",
                    f"a sweep over {figure.sweep[1]} with at least one value ({paper} figure {figure.name} draws it)",
                    "no runs of it",
                )
        for kind, name, dataset, models in parts:
            if dataset not in config["datasets"]:
                raise fail(
                    f"config key 'datasets/{dataset}'",
                    f"the dataset's settings ({paper} {kind} {name} shows it)",
                    "no such dataset",
                )
            for model in models:
                if kind == "table" and model in skipped and model not in config["models"]:
                    continue  # shown as not run (n/a)
                if model not in config["models"]:
                    raise fail(
                        f"config key 'models/{model}'",
                        f"the model's settings ({paper} {kind} {name} shows it)",
                        f"no such model (defined: {', '.join(sorted(config['models']))})",
                    )
                # per-class median-filter windows name the classes of the dataset it is scored on, before any job
                sed_evaluate.check_windows(config, model, dataset)
    # any registered paper's: selecting fewer papers (--config papers=...) keeps a config's skipped runs valid
    tabled = {m for name in papers.names() for t in papers.get(name).tables for m in t.models}
    for i, model in enumerate(config.get("skipped_runs", [])):
        where = f"config key 'skipped_runs/{i}'"
        if model in config["models"]:
            raise fail(where, "a model this config does not define (a skipped run is not trained)", repr(model))
        if model not in tabled:
            raise fail(where, "a model column of a registered paper's table", repr(model))
    check_figure_settings(config)
    return config


def check_figure_settings(config: dict) -> None:
    """Each entry of config `figures` for a selected paper names one of its figures and has settings the figure's kind
    accepts (like the other rules on a paper's parts, for the selected papers; plot_figure checks any figure it
    draws)."""
    from . import figures, papers

    for paper, entries in config.get("figures", {}).items():
        if paper not in config["papers"]:
            continue
        for name, given in entries.items():
            where = f"config key 'figures/{paper}/{name}'"
            spec = papers.get(paper).figure(name, f"config key 'figures/{paper}'")
            figures.KINDS.get(spec.kind, f"{where} kind").settings(given, where)


# Keys of a model entry that are not its architecture: where its data comes from and how it is trained/evaluated.
MODEL_CONTEXT_KEYS = ("pipeline", "training", "evaluation")
# Training keys that change how fast a run goes, not what it computes: kept out of rerun triggers and resume keys.
EXECUTION_KEYS = ("threads", "compile", "resources")


def expanded_models(config: dict, schema_path: Path = SCHEMA) -> dict:
    """The models section with sweeps expanded into their runs and ensembles checked (sedrepro.expand), validated
    with the rest of the config against the schema (a swept value out of range names the generated entry's key)."""
    models = expand.expand_models(config)
    if models is not config["models"]:
        _validate({**config, "models": models}, schema_path, _DefaultingValidator)
    return models


def _model(config: dict, model: str) -> dict:
    models = expand.expand_models(config)  # the same section as the workflow's (it expands once, at the start)
    try:
        return models[model]
    except KeyError:
        raise InputError(
            f"config key 'models/{model}': expected the model's settings (a paper's table needs it), "
            f"found no such model (defined: {', '.join(sorted(models))})"
        ) from None


def _trained(config: dict, model: str) -> dict:
    """A model entry that has a network: an ensemble has none (it averages its members' predictions)."""
    entry = _model(config, model)
    if expand.is_ensemble(entry):
        raise InputError(
            f"config key 'models/{model}': expected a model that is trained (an architecture), found an "
            f"ensemble of {', '.join(entry[expand.ENSEMBLE]['members'])} (it has no network or training)"
        )
    return entry


def model_config(config: dict, model: str) -> dict:
    """The architecture of one model (name, architecture and its keys): what building the network depends on."""
    entry = _trained(config, model)
    return {"name": model, **{k: v for k, v in entry.items() if k not in MODEL_CONTEXT_KEYS}}


def model_pipeline(config: dict, model: str) -> str:
    """The name of the pipeline (features, chunks, target, split) a model trains on; an ensemble's members' one."""
    if expand.is_ensemble(_model(config, model)):
        name = expand.ensemble_pipeline(expand.expand_models(config), model)
    else:
        name = _model(config, model)["pipeline"]
    if name not in config["pipelines"]:
        raise InputError(
            f"config key 'models/{model}/pipeline': expected one of {', '.join(sorted(config['pipelines']))}, "
            f"found {name!r}"
        )
    return name


def model_training(config: dict, model: str) -> dict:
    """The training section with the model's own overrides applied."""
    return {**config["training"], **_trained(config, model).get("training", {})}


def model_evaluation(config: dict, model: str) -> dict:
    """The evaluation section with the model's own overrides applied."""
    return {**config["evaluation"], **_model(config, model).get("evaluation", {})}


def ensemble_names(config: dict) -> list[str]:
    """The ensemble entries of the models section, in config order."""
    return [name for name, entry in expand.expand_models(config).items() if expand.is_ensemble(entry)]


def ensemble_members(config: dict, model: str) -> list[str]:
    """The member models whose predictions an ensemble averages."""
    return expand.ensemble_members(expand.expand_models(config), model)


# Keys that choose what to build or how it is fetched, not what a result is: left out of a configuration's identity
# and digest. Plugins only make parts available (like src/, their code is not digested); the config names those used.
SELECTION_KEYS = ("papers", "download", "plugins")


def without_execution_keys(config: dict) -> dict:
    """The config without the keys that change speed only (threads, compile; per model too) or what is built."""
    out = {k: copy.deepcopy(v) for k, v in config.items() if k not in SELECTION_KEYS}
    for section in [out.get("training", {})] + [m.get("training", {}) for m in out.get("models", {}).values()]:
        for key in EXECUTION_KEYS:
            section.pop(key, None)
    out.get("audio", {}).pop("threads", None)
    return out


def _shown(path: str | Path) -> str:
    """A config file's path relative to the working directory when inside it (a moved checkout stays the same)."""
    p = Path(path).absolute()
    try:
        return p.relative_to(Path.cwd()).as_posix()
    except ValueError:
        return str(p)


def configuration_record(config: dict, configfiles: Iterable[str | Path], overrides: Mapping) -> dict:
    """Which configuration a workflow run is: its config files (paths as given, with sha256), the `--config`
    overrides, its results root, and a digest of the effective settings. `identity` is what two outputs must share
    to be shown together (files, overrides and root; contents may have been edited in between)."""
    files = [{"path": _shown(p), "sha256": hashlib.sha256(Path(p).read_bytes()).hexdigest()} for p in configfiles]
    kept = {k: v for k, v in overrides.items() if k not in SELECTION_KEYS}
    settings = json.dumps(without_execution_keys(config), sort_keys=True, default=str)
    identity = {"files": [f["path"] for f in files], "overrides": kept, "results_root": config["results_root"]}
    return {
        "identity": identity,
        "files": files,
        "overrides": dict(overrides),
        "settings_sha256": hashlib.sha256(settings.encode()).hexdigest(),
    }
