"""The one reader of metrics.json (written by sedrepro.evaluate): a value is named by (metric, evaluation set, key).

Layout: ``{"dataset", "model", "seed", "classes", "target", "sets": {<set>: {"epochs", "threshold", "segment_s",
"postprocess", "metrics": {<metric>: {"params", "unit", "per_class", "per_checkpoint": [v, ...], "mean", "std"}},
"trivial": {<metric>: v}}}}`` where v is a number (or None) for a scalar metric and a {key: number | None} dict
(classes, "Average", "Overall") for a per-class one. Tables, figures, audits and benchmarks read through here, so a
new metric or set needs no edit of a reader.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .io import fail, read_json

TOP_KEYS = ("dataset", "model", "seed", "classes", "target", "sets")
SET_KEYS = ("epochs", "threshold", "segment_s", "postprocess", "metrics", "trivial")


def _where(doc: dict) -> str:
    return doc.get("_path", f"metrics of {doc.get('model')!r} seed {doc.get('seed')!r}")


def load(path: str | Path) -> dict:
    """A metrics.json with its layout checked; remembers where it came from (``_path``)."""
    doc = read_json(path)
    for key in TOP_KEYS:
        if key not in doc:
            raise fail(path, f"a metrics file with key {key!r}", f"keys {sorted(doc)}")
    for name, entry in doc["sets"].items():
        for key in SET_KEYS:
            if key not in entry:
                raise fail(path, f"evaluation set {name!r} with key {key!r}", f"keys {sorted(entry)}")
    doc["_path"] = str(path)
    return doc


def evaluation_set(doc: dict, set_name: str) -> dict:
    """One set's entry; a set the run was not scored on is one line naming the file and the sets it has."""
    try:
        return doc["sets"][set_name]
    except KeyError:
        raise fail(
            _where(doc), f"evaluation set {set_name!r}", f"sets {', '.join(sorted(doc['sets'])) or 'none'}"
        ) from None


def metric_entry(doc: dict, metric: str, set_name: str) -> dict:
    """{"params", "per_checkpoint", "mean", "std", ...} of one metric on one set."""
    metrics = evaluation_set(doc, set_name)["metrics"]
    if metric not in metrics:
        raise fail(
            _where(doc), f"metric {metric!r} in evaluation set {set_name!r}", f"metrics {', '.join(sorted(metrics))}"
        )
    return metrics[metric]


def _pick(value: Any, key: str | None, doc: dict, metric: str) -> float | None:
    if isinstance(value, dict):
        if key is None:
            raise fail(_where(doc), f"a key (class, Average or Overall) for per-class metric {metric!r}", "none")
        value = value.get(key)
    elif key is not None:
        raise fail(_where(doc), f"no key for scalar metric {metric!r}", repr(key))
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return float(value)


def per_checkpoint(doc: dict, metric: str, set_name: str, key: str | None = None) -> list[float | None]:
    """The value of every scored checkpoint (None where undefined); `key` names a class, Average or Overall of a
    per-class metric and is None for a scalar one."""
    return [_pick(v, key, doc, metric) for v in metric_entry(doc, metric, set_name)["per_checkpoint"]]


def values(doc: dict, metric: str, set_name: str, key: str | None = None) -> list[float]:
    """The defined per-checkpoint values of (metric, set, key)."""
    return [v for v in per_checkpoint(doc, metric, set_name, key) if v is not None]


def mean(doc: dict, metric: str, set_name: str, key: str | None = None) -> float | None:
    return _pick(metric_entry(doc, metric, set_name)["mean"], key, doc, metric)


def std(doc: dict, metric: str, set_name: str, key: str | None = None) -> float | None:
    return _pick(metric_entry(doc, metric, set_name)["std"], key, doc, metric)


def params(doc: dict, metric: str, set_name: str) -> dict:
    return dict(metric_entry(doc, metric, set_name)["params"])


def trivial(doc: dict, metric: str, set_name: str, key: str | None = None) -> float | None:
    """The audio-blind baseline's value of (metric, set, key); None where the metric has none."""
    entry = evaluation_set(doc, set_name)["trivial"]
    return None if metric not in entry else _pick(entry[metric], key, doc, metric)


def setting(doc: dict, set_name: str, name: str) -> Any:
    """A scoring setting of a set: "threshold", "segment_s", "postprocess" or "epochs"."""
    return evaluation_set(doc, set_name)[name]


def n_checkpoints(doc: dict, set_name: str) -> int:
    return len(evaluation_set(doc, set_name)["epochs"])


def cell(
    docs: Sequence[dict], metric: str, set_name: str, key: str | None = None, scale: float = 1.0
) -> tuple[float, float]:
    """(mean, population std) of (metric, set, key) over every (run, checkpoint) value of `docs` times `scale`;
    NaN for both where no value is defined."""
    vals = [v for d in docs for v in values(d, metric, set_name, key)]
    if not vals:
        return math.nan, math.nan
    arr = np.asarray(vals) * scale
    return float(arr.mean()), float(arr.std(ddof=0))
