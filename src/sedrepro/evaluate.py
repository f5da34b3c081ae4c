"""The scoring chain: saved frame scores -> post-processing -> decisions -> events -> registered metrics, per
evaluation set.

Conventions
-----------
* Evaluation sets: a pipeline names its sets (``pipelines.<p>.evaluation_sets``, ["test"] by default); the predict
  stage writes ``predictions/<set>/epochNNN.npz`` and each set is scored on its own against the clips the split stage
  assigned to it (or, without an assignment, the index's files of that split). metrics.json is keyed by set.
* Post-processing (``evaluation.postprocess``): an optional per-class median filter (scipy.ndimage.median_filter,
  within each file, edges reflected: scipy's default, as the DCASE baselines call it) whose window is given in
  seconds (one for all classes, one per class, or groups ``[{seconds, classes}]`` naming every class once, as the
  DCASE peer code's short/medium/long windows) and becomes the odd number of frames nearest to ``seconds / hop_s``;
  it is applied to the scores (before the threshold) or to the decisions (after it: a majority vote over the window,
  the DCASE 2020 baseline's order and the schema's default). None = the raw scores.
  Per-class windows are checked against the dataset's classes at workflow start (sedrepro.config.check).
* Frame i of a file is centred at ``i * hop_s``. A contiguous run of active frames i..j (score >= threshold)
  becomes the event ``[i * hop_s, (j + 1) * hop_s)``: every frame owns the hop-long interval that starts at its
  centre. The run therefore covers exactly ``(j - i + 1) * hop_s`` seconds.
* Segment F1 is sed_eval's ``SegmentBasedMetrics`` with ``time_resolution = segment_s``, evaluated file by file with
  ``evaluated_length_seconds = duration of the file`` (from ``files.tsv``), so the trailing segments in which neither
  the reference nor the system has an event still count as true negatives and are not silently dropped (sed_eval
  would otherwise stop at the last offset in either list).
* All F1 values are in percent. "Average" is sed_eval's class-wise average (the nan-mean of the per-class F1,
  a class with no reference and no system segment has F1 = nan and is skipped, and so is a class with system
  segments but no reference segment: its recall is 0/0); "Overall" is sed_eval's overall (micro-averaged) F1
  over all (segment, class) pairs, where such a class's false positives do count.
* A class that has reference segments but no system output scores F1 = 0 (sed_eval's
  ``empty_system_output_handling = "zero_score"``). sed_eval's default would make its precision, hence its
  F1, nan, and the class-wise Average would then silently skip exactly the classes a model never detects.
  A class with neither reference nor system segments stays undefined (None) and is skipped by Average.
* Which metrics a set gets is config (``evaluation.metrics.<target>``: registered names with their params, see
  sedrepro.metrics; a parameter an entry leaves out comes from ``evaluation.metric_params.<metric>``, the DCASE
  evaluation's values for event_f1 and psds); each metric's params and chain settings are written beside its
  values, and a metric's notes (psds: files, reference events joined because they overlap) beside them.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import cli, datasets, provenance
from .io import fail, read_tsv, write_json
from .metrics import (  # noqa: F401 (re-exported)
    CLIP,
    EMPTY_SYSTEM_OUTPUT,
    FRAMES,
    METRICS,
    TAGS,
    Metric,
    clip_f1,
    segment_f1,
)

log = logging.getLogger("sedrepro.evaluate")

Event = dict  # {"onset": float, "offset": float, "event_label": str}

TEST_SPLIT = "test"
# The run's file the rules give `score` as --out.
METRICS_FILE = "metrics.json"
APPLY_TO = ("scores", "decisions")
SETTING_KEYS = ("threshold", "segment_s", "postprocess", "metrics", "sets")


# --------------------------------------------------------------------------------------------- events


def decisions_to_events(active: np.ndarray, hop_s: float, classes: Sequence[str]) -> list[Event]:
    """Turn frame decisions (N, C) of one file into events, one per contiguous run of active frames.

    A run of frames i..j spans ``[i * hop_s, (j + 1) * hop_s)`` (frame i is centred at i * hop_s and owns the
    hop that starts there). Events are sorted by class index, then onset.
    """
    active = np.asarray(active)
    if active.ndim != 2 or active.shape[1] != len(classes):
        raise fail("probs", f"an (N, {len(classes)}) array", f"shape {active.shape}")
    if not hop_s > 0:
        raise fail("hop_s", "a positive frame hop in seconds", repr(hop_s))
    events: list[Event] = []
    for c, label in enumerate(classes):
        col = active[:, c].astype(np.int8)
        if not col.any():
            continue
        edges = np.diff(np.concatenate(([0], col, [0])))
        starts = np.flatnonzero(edges == 1)
        ends = np.flatnonzero(edges == -1)  # exclusive: run is starts..ends-1
        for s, e in zip(starts, ends, strict=False):
            events.append({"onset": float(s * hop_s), "offset": float(e * hop_s), "event_label": str(label)})
    return events


def frames_to_events(probs: np.ndarray, hop_s: float, threshold: float, classes: Sequence[str]) -> list[Event]:
    """Events of one file's frame probabilities (N, C): runs of frames with probability >= threshold."""
    return decisions_to_events(np.asarray(probs) >= threshold, hop_s, classes)


# --------------------------------------------------------------------------------------------- post-processing


def window_frames(seconds: float, hop_s: float) -> int:
    """A median-filter window of `seconds` as the nearest odd number of frames (at least 1) of hop `hop_s`."""
    n = seconds / hop_s
    odd = 2 * math.floor((n - 1) / 2 + 0.5) + 1  # nearest odd integer (ties upward)
    return max(1, int(odd))


def window_seconds(
    postprocess: Mapping[str, Any], classes: Sequence[str], where: str = "evaluation/postprocess"
) -> list[float] | None:
    """Median-filter window (seconds) per class, or None without a filter. Per-class windows (a mapping, or groups
    [{seconds, classes}]) must name every class, and each once."""
    spec = postprocess.get("median_filter_s")
    if spec is None:
        return None
    key = f"{where}/median_filter_s"
    if isinstance(spec, list):  # groups: the peer code's short/medium/long windows
        per_class: dict[str, Any] = {}
        for i, group in enumerate(spec):
            for c in group["classes"]:
                if c in per_class:
                    raise fail(f"{key}/{i}/classes", "each class in one group", f"{c!r} again")
                per_class[c] = group["seconds"]
        spec = per_class
    if isinstance(spec, Mapping):
        missing, extra = sorted(set(classes) - set(spec)), sorted(set(spec) - set(classes))
        if missing or extra:
            found = f"none for {missing[0]!r}" if missing else f"an unknown class {extra[0]!r}"
            raise fail(key, f"a window for each of the {len(classes)} classes", found)
        seconds = [float(spec[c]) for c in classes]
    else:
        seconds = [float(spec)] * len(classes)
    for c, s in zip(classes, seconds, strict=True):
        if not (s > 0 and math.isfinite(s)):
            raise fail(key, f"a positive window in seconds for {c!r}", repr(s))
    return seconds


def class_windows(
    postprocess: Mapping[str, Any], classes: Sequence[str], hop_s: float, where: str = "evaluation/postprocess"
) -> list[int] | None:
    """Median-filter window (frames) per class, or None without a filter (see window_seconds)."""
    seconds = window_seconds(postprocess, classes, where)
    return None if seconds is None else [window_frames(s, hop_s) for s in seconds]


def median_filter(values: np.ndarray, offsets: np.ndarray, windows: Sequence[int]) -> np.ndarray:
    """Per-class median filter of frame values (N, C) within each file (rows offsets[k]..offsets[k + 1]); class c
    uses a window of windows[c] frames. Booleans stay booleans (the median of 0/1 values is their majority)."""
    from scipy.ndimage import median_filter as scipy_median

    values = np.asarray(values)
    out = values.copy()
    for k in range(len(offsets) - 1):
        a, b = int(offsets[k]), int(offsets[k + 1])
        if b == a:
            continue
        for c, w in enumerate(windows):
            if w > 1:
                # scipy's default edge mode, as the DCASE baselines call it: median_filter(x, (w, 1))
                out[a:b, c] = scipy_median(values[a:b, c], size=int(w), mode="reflect")
    return out


# --------------------------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class Settings:
    """How a run's predictions are scored: threshold, segment length, post-processing, the metrics of each target
    (config entries {name, params}) and the evaluation sets."""

    threshold: float
    segment_s: float
    postprocess: Mapping[str, Any]
    metrics: Mapping[str, Sequence[Mapping[str, Any]]]
    sets: tuple[str, ...]

    @classmethod
    def from_config(cls, doc: Mapping[str, Any], where: str = "--evaluation") -> Settings:
        """From the rule's JSON (the model's evaluation section and its pipeline's evaluation sets); every key is
        required and checked here, so a CLI run without the workflow's defaults stops at the first missing one."""
        missing = [k for k in SETTING_KEYS if k not in doc]
        if missing:
            raise fail(where, f"keys {', '.join(SETTING_KEYS)}", f"no {missing[0]!r}")
        threshold, segment_s = doc["threshold"], doc["segment_s"]
        if not isinstance(threshold, (int, float)) or not 0 < threshold < 1:
            raise fail(f"{where}/threshold", "a value in (0, 1)", repr(threshold))
        if not isinstance(segment_s, (int, float)) or not segment_s > 0:
            raise fail(f"{where}/segment_s", "a positive segment length in seconds", repr(segment_s))
        post = dict(doc["postprocess"])
        if post.get("apply_to") not in APPLY_TO or set(post) != {"median_filter_s", "apply_to"}:
            raise fail(
                f"{where}/postprocess",
                f"keys median_filter_s and apply_to ({' or '.join(APPLY_TO)})",
                json.dumps(post, sort_keys=True),
            )
        sets = doc["sets"]
        if (
            not isinstance(sets, list)
            or not sets
            or len(set(sets)) != len(sets)
            or not all(isinstance(s, str) and s for s in sets)
        ):
            raise fail(f"{where}/sets", "a non-empty list of distinct evaluation set names", repr(sets))
        metrics = doc["metrics"]
        if not isinstance(metrics, Mapping) or not metrics:
            raise fail(f"{where}/metrics", "metric lists keyed by target", repr(metrics))
        for target, entries in metrics.items():
            names = [e.get("name") for e in entries]
            if len(set(names)) != len(names):
                raise fail(f"{where}/metrics/{target}", "each metric once", f"{names}")
            for i, entry in enumerate(entries):
                METRICS.get(entry.get("name"), f"{where}/metrics/{target}/{i}/name").resolve(
                    entry, target, f"{where}/metrics/{target}/{i}"
                )
        return cls(float(threshold), float(segment_s), post, {t: list(e) for t, e in metrics.items()}, tuple(sets))

    def metrics_for(self, target: str, where: str = "--evaluation") -> list[tuple[Metric, dict[str, Any]]]:
        """(metric, params) of every metric configured for `target`, in config order."""
        if target not in self.metrics:
            raise fail(
                f"{where}/metrics", f"a metric list for target {target!r}", f"lists for {', '.join(self.metrics)}"
            )
        out = []
        for i, entry in enumerate(self.metrics[target]):
            metric = METRICS.get(entry["name"], f"{where}/metrics/{target}/{i}/name")
            out.append((metric, metric.resolve(entry, target, f"{where}/metrics/{target}/{i}")))
        return out

    def params_of(self, metric: Metric, params: Mapping[str, Any]) -> dict[str, Any]:
        """What a metric's values depend on: its config params and the chain settings it uses."""
        chain = {"threshold": self.threshold, "segment_s": self.segment_s}
        return {**{k: chain[k] for k in metric.uses}, **params}


def scoring_config(config: Mapping[str, Any], model: str) -> dict[str, Any]:
    """The --evaluation JSON of one model of a workflow config (defaults filled): its evaluation settings with its own
    overrides, and its pipeline's evaluation sets."""
    from . import config as sconfig

    evaluation = sconfig.model_evaluation(config, model)
    sets = config["pipelines"][sconfig.model_pipeline(config, model)]["evaluation_sets"]
    out = {**{k: evaluation[k] for k in SETTING_KEYS if k != "sets"}, "sets": list(sets)}
    out["metrics"] = with_metric_params(evaluation["metrics"], evaluation.get("metric_params") or {})
    return out


def with_metric_params(
    metrics: Mapping[str, Sequence[Mapping[str, Any]]], defaults: Mapping[str, Mapping[str, Any]]
) -> dict[str, list[dict[str, Any]]]:
    """Metric lists with each entry's params completed from ``evaluation.metric_params`` (the entry's own win)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for target, entries in metrics.items():
        out[target] = []
        for entry in entries:
            params = {**(defaults.get(entry.get("name")) or {}), **(entry.get("params") or {})}
            out[target].append({**entry, "params": params} if params else dict(entry))
    return out


def check_config(config: Mapping[str, Any]) -> None:
    """Every model's scoring settings (metric names, their params, post-processing) checked at workflow start."""
    for model in config["models"]:
        Settings.from_config(scoring_config(config, model), f"evaluation of model {model}")


def check_windows(config: Mapping[str, Any], model: str, dataset: str) -> None:
    """A model's per-class median-filter windows name exactly the classes of a dataset it is scored on (at workflow
    start: sedrepro.config.check calls it for every dataset a selected paper shows the model on)."""
    from . import config as sconfig

    post = sconfig.model_evaluation(config, model)["postprocess"]
    window_seconds(post, _dataset_classes(dataset), f"config key 'models/{model}' evaluation/postprocess ({dataset})")


# --------------------------------------------------------------------------------------------- chain inputs


class SetInputs:
    """One checkpoint's predictions on one evaluation set, as the metrics read them (see sedrepro.metrics)."""

    def __init__(
        self,
        target: str,
        classes: Sequence[str],
        hop_s: float,
        file_ids: Sequence[str],
        offsets: np.ndarray,
        scores: np.ndarray,
        reference: Mapping[str, list[Event]],
        durations: Mapping[str, float],
        settings: Settings,
        where: str = "predictions",
    ) -> None:
        self.target, self.classes, self.hop_s = target, [str(c) for c in classes], float(hop_s)
        self.file_ids, self.offsets = list(file_ids), offsets
        self.reference, self.durations = reference, durations
        self.threshold, self.segment_s = settings.threshold, settings.segment_s
        self.where = where
        self._windows = class_windows(settings.postprocess, self.classes, self.hop_s) if target == FRAMES else None
        if target in (CLIP, TAGS) and settings.postprocess.get("median_filter_s") is not None:
            raise fail(
                "evaluation/postprocess/median_filter_s",
                "null for a clip target (no frames to filter)",
                repr(settings.postprocess["median_filter_s"]),
            )
        self._on_decisions = settings.postprocess["apply_to"] == "decisions"
        if self._windows is not None and not self._on_decisions:
            scores = median_filter(scores, offsets, self._windows)
        self.scores = scores
        self._events: dict[float, dict[str, list[Event]]] = {}
        self._truth: np.ndarray | None = None

    def decisions(self, threshold: float | None = None) -> np.ndarray:
        """Boolean (N, C) frame decisions at `threshold` (default: the set's), post-processed where configured."""
        active = self.scores >= (self.threshold if threshold is None else threshold)
        if self._windows is not None and self._on_decisions:
            active = median_filter(active, self.offsets, self._windows)
        return active

    def events(self, threshold: float | None = None) -> dict[str, list[Event]]:
        """Estimated events per file at `threshold` (default: the set's)."""
        t = self.threshold if threshold is None else float(threshold)
        if t not in self._events:
            active, offs = self.decisions(t), self.offsets
            self._events[t] = {
                f: decisions_to_events(active[offs[k] : offs[k + 1]], self.hop_s, self.classes)
                for k, f in enumerate(self.file_ids)
            }
        return self._events[t]

    def frame_truth(self) -> np.ndarray:
        """Boolean (N, C) frame labels by the split stage's rule (frame i at i * hop_s is active when
        onset <= i * hop_s < offset)."""
        if self._truth is None:
            import pandas as pd

            from .splits import frame_labels

            offs = self.offsets
            frames = pd.DataFrame({"file_id": self.file_ids, "start": offs[:-1], "n_frames": np.diff(offs)})
            events = pd.DataFrame(
                [
                    {"file_id": f, "onset": e["onset"], "offset": e["offset"], "label": e["event_label"]}
                    for f, evs in self.reference.items()
                    for e in evs
                ],
                columns=["file_id", "onset", "offset", "label"],
            )
            self._truth = frame_labels(events, frames, tuple(self.classes), self.hop_s).astype(bool)
        return self._truth

    def tag_truth(self) -> np.ndarray:
        """Boolean (N, C) clip tags: the classes of each clip's events (a weak set spells its tags as events)."""
        index = {c: i for i, c in enumerate(self.classes)}
        truth = np.zeros((len(self.file_ids), len(self.classes)), dtype=bool)
        for k, f in enumerate(self.file_ids):
            truth[k, [index[e["event_label"]] for e in self.reference.get(f, [])]] = True
        return truth

    def clip_truth(self) -> np.ndarray:
        """The class index of each clip (its event's label)."""
        index = {c: i for i, c in enumerate(self.classes)}
        return np.array([index[clip_label(self.reference[f], self.where, f)] for f in self.file_ids])


class TrivialInputs(SetInputs):
    """The audio-blind baseline of a set: every class active over every whole file (frames; the best audio-blind
    predictor for F1, see trivial_scores), or always the set's most frequent class (clip)."""

    def __init__(
        self,
        target: str,
        classes: Sequence[str],
        reference: Mapping[str, list[Event]],
        durations: Mapping[str, float],
        settings: Settings,
        where: str,
    ) -> None:
        file_ids = list(durations)
        scores = np.zeros((len(file_ids), len(classes)))
        if target == CLIP:
            labels = [clip_label(reference[f], where, f) for f in file_ids]
            scores[:, list(classes).index(max(classes, key=labels.count))] = 1.0
        offsets = np.arange(len(file_ids) + 1)
        plain = Settings(
            settings.threshold,
            settings.segment_s,
            {"median_filter_s": None, "apply_to": "scores"},
            settings.metrics,
            settings.sets,
        )
        super().__init__(target, classes, 1.0, file_ids, offsets, scores, reference, durations, plain, where)

    def events(self, threshold: float | None = None) -> dict[str, list[Event]]:
        return {
            f: [{"onset": 0.0, "offset": float(d), "event_label": c} for c in self.classes]
            for f, d in self.durations.items()
        }


# --------------------------------------------------------------------------------------------- index


def _load_test_index(
    index_dir: str | Path,
    classes: Sequence[str] | None = None,
    test_ids: Sequence[str] | None = None,
    set_name: str = TEST_SPLIT,
) -> tuple[dict[str, list[Event]], dict[str, float]]:
    """Reference events and durations of an evaluation set: the index's split of that name, or the clips `test_ids`
    (the split stage's assignment under the pipeline's protocol)."""
    index_dir = Path(index_dir)
    files_path, events_path = index_dir / "files.tsv", index_dir / "events.tsv"
    for p in (files_path, events_path):
        if not p.is_file():
            raise fail(p, "a dataset index file", "no such file")
    files = read_tsv(files_path, dtype={"file_id": str, "split": str})
    events = read_tsv(events_path, dtype={"file_id": str, "label": str})
    for path, df, cols in (
        (files_path, files, ("file_id", "split", "duration_s")),
        (events_path, events, ("file_id", "onset", "offset", "label")),
    ):
        missing = [c for c in cols if c not in df.columns]
        if missing:
            raise fail(
                path,
                f"columns {', '.join(cols)}",
                f"no column {missing[0]!r} (header: {', '.join(map(str, df.columns))})",
            )
    if test_ids is None:
        test = files[files["split"] == set_name]
    else:
        unknown = sorted(set(test_ids) - set(files["file_id"]))
        if unknown:
            raise fail(files_path, f"a line for every clip of the {set_name} split", f"none for {unknown[0]!r}")
        test = files[files["file_id"].isin(set(test_ids))]
    if test.empty:
        raise fail(files_path, f"files with split {set_name!r}", "none")
    durations: dict[str, float] = {}
    for i, row in test.iterrows():
        d = float(row["duration_s"])
        if not (d > 0 and math.isfinite(d)):
            raise fail(f"{files_path}:{i + 2}", "a positive duration_s", repr(row["duration_s"]))
        durations[str(row["file_id"])] = d
    label_set = set(map(str, classes)) if classes is not None else None
    reference: dict[str, list[Event]] = {f: [] for f in durations}
    for i, row in events[events["file_id"].isin(durations)].iterrows():
        onset, offset, label = float(row["onset"]), float(row["offset"]), str(row["label"])
        if not (0 <= onset < offset):
            raise fail(f"{events_path}:{i + 2}", "0 <= onset < offset", f"onset {onset}, offset {offset}")
        if label_set is not None and label not in label_set:
            raise fail(f"{events_path}:{i + 2}", "a label of the dataset's classes", repr(label))
        reference[str(row["file_id"])].append({"onset": onset, "offset": offset, "event_label": label})
    return reference, durations


class SetIndex:
    """An evaluation set's reference events and durations, read from the index once per class list and handed to
    each checkpoint as a fresh copy: a metric that alters its inputs cannot change what the next one is scored
    against, and ten checkpoints no longer parse the index ten times."""

    def __init__(self, index_dir: str | Path, set_name: str = TEST_SPLIT, set_ids: Sequence[str] | None = None):
        self.index_dir, self.set_name, self.set_ids = index_dir, set_name, set_ids
        self._read: dict[tuple[str, ...], tuple[dict[str, list[Event]], dict[str, float]]] = {}

    def __call__(self, classes: Sequence[str]) -> tuple[dict[str, list[Event]], dict[str, float]]:
        key = tuple(map(str, classes))
        if key not in self._read:
            self._read[key] = _load_test_index(self.index_dir, classes, self.set_ids, self.set_name)
        reference, durations = self._read[key]
        return {f: [dict(e) for e in events] for f, events in reference.items()}, dict(durations)


# --------------------------------------------------------------------------------------------- scoring


def _load_predictions(npz_path: str | Path) -> dict[str, Any]:
    npz_path = Path(npz_path)
    try:
        with np.load(npz_path, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
    except (OSError, ValueError) as err:
        raise fail(npz_path, "a predictions .npz", str(err).splitlines()[0]) from None
    for key in ("probs", "offsets", "file_ids", "hop_s", "classes"):
        if key not in data:
            raise fail(npz_path, f"array {key!r}", f"arrays {sorted(data)}")
    probs, offsets = data["probs"], data["offsets"].astype(np.int64)
    n_files = len(data["file_ids"])
    if probs.ndim != 2 or probs.shape[1] != len(data["classes"]):
        raise fail(npz_path, f"probs of shape (frames, {len(data['classes'])})", f"shape {probs.shape}")
    clip_target = "target" in data and str(data["target"]) in (CLIP, TAGS)  # one row per clip
    if clip_target and probs.shape[0] != n_files:
        raise fail(npz_path, f"one row of probs per clip ({n_files})", f"{probs.shape[0]} rows")
    if not clip_target and (
        offsets.shape != (n_files + 1,)
        or offsets[0] != 0
        or offsets[-1] != probs.shape[0]
        or np.any(np.diff(offsets) < 0)
    ):
        raise fail(
            npz_path, f"{n_files + 1} non-decreasing offsets from 0 to {probs.shape[0]}", f"{offsets.tolist()[:5]}..."
        )
    return {
        "target": str(data["target"]) if "target" in data else "frames",
        "probs": probs,
        "offsets": offsets,
        "file_ids": [str(f) for f in data["file_ids"]],
        "hop_s": float(data["hop_s"]),
        "classes": [str(c) for c in data["classes"]],
    }


def _dataset_classes(name: str) -> list[str]:
    """The classes of dataset `name`; an unknown name is an InputError (the check below never turns itself off)."""
    return [str(c) for c in datasets.get(name).classes]


def clip_label(events: list[Event], where: str | Path, file_id: str) -> str:
    """The class of a single-label clip: its event's label (the longest one if a clip ever has several)."""
    if not events:
        raise fail(where, f"a labelled event for clip {file_id!r}", "none in the index")
    return max(events, key=lambda e: e["offset"] - e["onset"])["event_label"]


def checkpoint_inputs(
    npz_path: str | Path,
    index_dir: str | Path,
    settings: Settings,
    set_name: str = TEST_SPLIT,
    set_ids: Sequence[str] | None = None,
    set_index: SetIndex | None = None,
) -> SetInputs:
    """The chain's view of one predictions file against its evaluation set (`set_index`: that set's index, read
    once for all checkpoints; without it, read here)."""
    pred = _load_predictions(npz_path)
    reference, durations = (set_index or SetIndex(index_dir, set_name, set_ids))(pred["classes"])
    got, want = set(pred["file_ids"]), set(durations)
    if got != want:
        extra, missing = sorted(got - want), sorted(want - got)
        found = (
            f"{len(extra)} not in the {set_name} split (e.g. {extra[0]!r})"
            if extra
            else f"{len(missing)} {set_name} files missing (e.g. {missing[0]!r})"
        )
        raise fail(npz_path, f"predictions for exactly the {len(want)} {set_name} files of {index_dir}", found)
    return SetInputs(
        pred["target"],
        pred["classes"],
        pred["hop_s"],
        pred["file_ids"],
        pred["offsets"],
        pred["probs"],
        reference,
        durations,
        settings,
        str(npz_path),
    )


def score_checkpoint(
    npz_path: str | Path,
    index_dir: str | Path,
    settings: Settings,
    set_name: str = TEST_SPLIT,
    set_ids: Sequence[str] | None = None,
) -> dict[str, Any]:
    """{metric: value} of one predictions file, for the metrics configured for its target."""
    inputs = checkpoint_inputs(npz_path, index_dir, settings, set_name, set_ids)
    return {m.name: m.compute(inputs, params) for m, params in settings.metrics_for(inputs.target)}


def trivial_scores(
    index_dir: str | Path,
    classes: Sequence[str],
    settings: Settings,
    target: str = FRAMES,
    set_name: str = TEST_SPLIT,
    set_ids: Sequence[str] | None = None,
) -> dict[str, Any]:
    """{metric: value} of the audio-blind baseline, for each configured metric that declares one (metric.trivial).

    Why "everything active everywhere" is the natural trivial baseline for F1: a predictor that ignores the audio
    can only choose, per class, how often to switch the class on. Switching a class on in a random fraction q of its
    segments gives, in expectation, precision p (the fraction of segments where the class is really active,
    independent of q) and recall q, so F1 = 2pq / (p + q), which grows with q and peaks at q = 1: all active.
    All-off scores F1 = 0. So "everything active everywhere" is the best audio-blind predictor, and its
    per-class F1 = 2p / (1 + p) depends only on the label density of the test set. A model has learnt
    something only where it beats this number; on dense classes (long events) it is surprisingly high.
    For a clip target the best audio-blind classifier always answers the set's most frequent class.
    """
    reference, durations = _load_test_index(index_dir, classes, set_ids, set_name)
    inputs = TrivialInputs(target, classes, reference, durations, settings, str(index_dir))
    return {m.name: m.compute(inputs, params) for m, params in settings.metrics_for(target) if m.trivial}


def _show(x: Any) -> str:
    if isinstance(x, Mapping):
        x = x.get("Overall")
    return "undefined" if x is None else f"{x:.2f}"


def _mean_std(values: Iterable[float | None]) -> tuple[float | None, float | None]:
    vals = [v for v in values if v is not None]
    if not vals:
        return None, None
    arr = np.asarray(vals, dtype=float)
    return float(arr.mean()), float(arr.std(ddof=0))


def epoch_files(pred_dir: str | Path) -> list[tuple[int, Path]]:
    """The epochNNN.npz files of a predictions directory, sorted by epoch."""
    pred_dir = Path(pred_dir)
    if not pred_dir.is_dir():
        raise fail(pred_dir, "a predictions directory", "no such directory")
    out = []
    for p in sorted(pred_dir.glob("epoch*.npz")):
        digits = p.stem[len("epoch") :]
        if not digits.isdigit():
            raise fail(p, "a name epochNNN.npz", p.name)
        out.append((int(digits), p))
    if not out:
        raise fail(pred_dir, "at least one epochNNN.npz", "none")
    return sorted(out)


def _summary(metric: Metric, values: list[Any], keys: Sequence[str]) -> tuple[Any, Any]:
    """Mean and population std over checkpoints: per key for a per-class metric (None where no value is defined)."""
    if not metric.per_class:
        return _mean_std(values)
    mean, std = {}, {}
    for k in keys:
        mean[k], std[k] = _mean_std(v[k] for v in values)
    return mean, std


def score_set(
    pred_dir: str | Path,
    index_dir: str | Path,
    settings: Settings,
    set_name: str,
    expected_classes: Sequence[str],
    dataset: str,
    set_ids: Sequence[str] | None = None,
) -> tuple[dict[str, Any], str, list[str]]:
    """Every checkpoint of one evaluation set: (the set's metrics.json entry, target, classes)."""
    files = epoch_files(pred_dir)
    target = _load_predictions(files[0][1])["target"]
    chosen = settings.metrics_for(target)
    per_checkpoint: dict[str, list[Any]] = {m.name: [] for m, _ in chosen}
    notes: dict[str, dict[str, Any]] = {}
    classes: list[str] | None = None
    set_index = SetIndex(index_dir, set_name, set_ids)
    for epoch, path in files:
        inputs = checkpoint_inputs(path, index_dir, settings, set_name, set_ids, set_index)
        these = inputs.classes
        if classes is None:
            if sorted(expected_classes) != sorted(these):
                raise fail(
                    path,
                    f"the {len(expected_classes)} classes of dataset {dataset!r}",
                    f"{len(these)} classes {these[:3]}...",
                )
            classes = these
        elif these != classes or inputs.target != target:
            raise fail(
                path,
                f"the classes and target of the other checkpoints ({len(classes)}, {target})",
                f"{len(these)} classes, target {inputs.target}",
            )
        values = {m.name: m.compute(inputs, params) for m, params in chosen}
        log.info("%s epoch %d: %s", set_name, epoch, ", ".join(f"{k} {_show(v)}" for k, v in values.items()))
        for k, v in values.items():
            per_checkpoint[k].append(v)
    assert classes is not None
    keys = classes + ["Average", "Overall"]
    metrics = {}
    for m, params in chosen:
        mean, std = _summary(m, per_checkpoint[m.name], keys)
        if m.notes is not None:  # facts of the set (the reference), the same for every checkpoint
            notes[m.name] = m.notes(inputs, params)
        metrics[m.name] = {
            "params": settings.params_of(m, params),
            "unit": m.unit,
            "per_class": m.per_class,
            "per_checkpoint": per_checkpoint[m.name],
            "mean": mean,
            "std": std,
            **({"notes": notes[m.name]} if m.name in notes else {}),
        }
    entry = {
        "epochs": [e for e, _ in files],
        "threshold": settings.threshold,
        "segment_s": settings.segment_s,
        "postprocess": dict(settings.postprocess),
        "metrics": metrics,
        "trivial": trivial_scores(index_dir, classes, settings, target, set_name, set_ids),
    }
    return entry, target, classes


def score_predictions(
    pred_dir: str | Path,
    index_dir: str | Path,
    settings: Settings,
    dataset: str,
    model: str,
    seed: int,
    set_ids: Mapping[str, Sequence[str]] | None = None,
) -> dict[str, Any]:
    """Score every checkpoint of a run on every evaluation set (pred_dir/<set>/epochNNN.npz); the metrics.json
    document. `set_ids` gives each set's clips (the split stage's assignment); without it, the index's split."""
    expected = _dataset_classes(dataset)
    sets, target, classes = {}, None, None
    for name in settings.sets:
        ids = None if set_ids is None else set_ids.get(name)
        if set_ids is not None and not ids:
            raise fail("--assignment", f"clips assigned to evaluation set {name!r}", "none")
        sets[name], these_target, these = score_set(
            Path(pred_dir) / name, index_dir, settings, name, expected, dataset, ids
        )
        if target is None:
            target, classes = these_target, these
        elif (these_target, these) != (target, classes):
            raise fail(Path(pred_dir) / name, f"the target and classes of set {settings.sets[0]!r}", f"{these_target}")
    return {"dataset": dataset, "model": model, "seed": int(seed), "classes": classes, "target": target, "sets": sets}


# --------------------------------------------------------------------------------------------- CLI


def build_parser():
    p = cli.parser(
        "Score saved predictions of every evaluation set (every epoch*.npz of a run) with the configured metrics."
    )
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("score", help="score every predictions/<set>/epochNNN.npz of a run")
    s.add_argument("--predictions", required=True, help="directory with one folder of epochNNN.npz files per set")
    s.add_argument("--index", required=True, help="dataset index directory (files.tsv, events.tsv)")
    s.add_argument(
        "--evaluation",
        type=cli.json_arg,
        required=True,
        help="JSON: threshold, segment_s, postprocess, metrics (per target) and sets",
    )
    s.add_argument("--dataset", required=True)
    s.add_argument("--model", required=True)
    s.add_argument("--seed", type=int, required=True)
    s.add_argument(
        "--assignment",
        help="the split stage's assignment.tsv (which clips are in which set); default: the index's split",
    )
    s.add_argument("--out", required=True, help="metrics.json to write; <stem>.provenance.json goes beside it")
    s.add_argument("--log", help="also write the log to this file")
    return p


def main(args) -> None:
    settings = Settings.from_config(args.evaluation)
    set_ids = None
    if args.assignment:
        assignment = read_tsv(args.assignment, dtype={"file_id": str, "split": str})
        set_ids = {name: assignment.file_id[assignment.split == name].tolist() for name in settings.sets}
    doc = score_predictions(args.predictions, args.index, settings, args.dataset, args.model, args.seed, set_ids)
    out = Path(args.out)
    inputs = [str(p) for name in settings.sets for _, p in epoch_files(Path(args.predictions) / name)]
    inputs += [str(Path(args.index) / "files.tsv"), str(Path(args.index) / "events.tsv")]
    inputs += [args.assignment] if args.assignment else []
    notes = {
        name: {m: e["notes"] for m, e in entry["metrics"].items() if "notes" in e}
        for name, entry in doc["sets"].items()
    }
    config = {
        "dataset": args.dataset,
        "model": args.model,
        **{k: getattr(settings, k) for k in SETTING_KEYS},
        "frame_to_event": "run of frames i..j -> [i*hop_s, (j+1)*hop_s)",
        "metric_params": {
            name: {m: e["params"] for m, e in entry["metrics"].items()} for name, entry in doc["sets"].items()
        },
        # what a metric's notes say (psds: reference events joined), only where one writes notes
        **({"metric_notes": notes} if any(notes.values()) else {}),
    }
    write_json(out, doc)
    provenance.write_sidecar(out, config, inputs=inputs, seed=args.seed)
    log.info("wrote %s (%d sets)", out, len(doc["sets"]))


if __name__ == "__main__":
    cli.run(main, build_parser())
