"""Load and validate the workflow config outside Snakemake (tests, CLIs) exactly as the Snakefile does."""

from __future__ import annotations

import copy
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from .io import InputError

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


def validate(config: dict, schema_path: Path = SCHEMA) -> dict:
    """Raise one line naming the offending key; return the config unchanged."""
    schema = yaml.safe_load(schema_path.read_text())
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: list(e.absolute_path))
    if errors:
        err = errors[0]
        message = err.message
        if err.validator in ("oneOf", "anyOf"):
            if isinstance(err.schema, dict) and err.schema.get("description"):
                # e.g. an archive with neither or both checksums: say what the schema asks for, and what is there
                found = f"keys {', '.join(sorted(err.instance))}" if isinstance(err.instance, dict) else repr(err.instance)
                message = f"expected: {err.schema['description']} Found {found}"
            elif err.context:  # the deepest of the alternatives' errors (the key really at fault), at its own key
                err = max(err.context, key=lambda e: len(e.absolute_path))
                message = err.message
        key = "/".join(str(p) for p in err.absolute_path) or "<top level>"
        raise InputError(f"config key '{key}': {message}")
    return config


def load(paths: Iterable[str | Path]) -> dict:
    config: dict[str, Any] = {}
    for path in paths:
        with open(path, encoding="utf-8") as fh:
            config = deep_merge(config, yaml.safe_load(fh) or {})
    return validate(config)


def model_config(config: dict, model: str) -> dict:
    """The merged settings of one model: what its training job depends on, and nothing else."""
    return {"name": model, **config["models"][model]}
