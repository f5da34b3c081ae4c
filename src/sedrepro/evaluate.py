"""Segment-based F1 of saved frame probabilities, the way the papers score their CRNNs.

Conventions
-----------
* Frame i of a file is centred at ``i * hop_s``. A contiguous run of active frames i..j (probability
  >= threshold) becomes the event ``[i * hop_s, (j + 1) * hop_s)``: every frame owns the hop-long interval
  that starts at its centre. The run therefore covers exactly ``(j - i + 1) * hop_s`` seconds.
* Segment F1 is sed_eval's ``SegmentBasedMetrics`` with ``time_resolution = segment_s``, evaluated file by
  file with ``evaluated_length_seconds = duration of the file`` (from ``files.tsv``), so the trailing segments
  in which neither the reference nor the system has an event still count as true negatives and are not
  silently dropped (sed_eval would otherwise stop at the last offset in either list).
* All F1 values are in percent. "Average" is sed_eval's class-wise average (the nan-mean of the per-class F1,
  a class with no reference and no system segment has F1 = nan and is skipped, and so is a class with system
  segments but no reference segment: its recall is 0/0); "Overall" is sed_eval's overall (micro-averaged) F1
  over all (segment, class) pairs, where such a class's false positives do count.
* A class that has reference segments but no system output scores F1 = 0 (sed_eval's
  ``empty_system_output_handling = "zero_score"``). sed_eval's default would make its precision, hence its
  F1, nan, and the class-wise Average would then silently skip exactly the classes a model never detects.
  A class with neither reference nor system segments stays undefined (None) and is skipped by Average.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from . import cli, datasets, provenance
from .io import fail, read_tsv, write_json

log = logging.getLogger("sedrepro.evaluate")

Event = dict  # {"onset": float, "offset": float, "event_label": str}

TEST_SPLIT = "test"
EMPTY_SYSTEM_OUTPUT = "zero_score"
# The run's file the rules give `score` as --out.
METRICS_FILE = "metrics.json"


# --------------------------------------------------------------------------------------------- events

def frames_to_events(probs: np.ndarray, hop_s: float, threshold: float, classes: Sequence[str]) -> list[Event]:
    """Turn frame probabilities (N, C) of one file into events, one per contiguous run of frames >= threshold.

    A run of frames i..j spans ``[i * hop_s, (j + 1) * hop_s)`` (frame i is centred at i * hop_s and owns the
    hop that starts there). Events are sorted by class index, then onset.
    """
    probs = np.asarray(probs)
    if probs.ndim != 2 or probs.shape[1] != len(classes):
        raise fail("probs", f"an (N, {len(classes)}) array", f"shape {probs.shape}")
    if not hop_s > 0:
        raise fail("hop_s", "a positive frame hop in seconds", repr(hop_s))
    active = probs >= threshold
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


# --------------------------------------------------------------------------------------------- metric

def _pct(x: Any) -> float | None:
    x = float(x)
    return None if math.isnan(x) else 100.0 * x


def segment_f1(
    reference: Mapping[str, list[Event]],
    estimated: Mapping[str, list[Event]],
    durations: Mapping[str, float],
    classes: Sequence[str],
    segment_s: float = 1.0,
    empty_system_output: str | None = EMPTY_SYSTEM_OUTPUT,
) -> dict[str, float | None]:
    """Segment-based F1 (%) per class plus "Average" (class-wise mean) and "Overall" (micro).

    `empty_system_output` is sed_eval's empty_system_output_handling: "zero_score" (default here) scores a
    class with reference segments but no system output as F1 = 0; None is sed_eval's default (nan, skipped).

    Every file in `durations` is evaluated, file by file, over its full duration; a file missing from
    `reference` or `estimated` has no events there. Files in `reference`/`estimated` but not in `durations`
    are an error. A class with no reference and no system segment gets None (sed_eval's nan).
    """
    import sed_eval  # heavy import, only when scoring

    unknown = (set(reference) | set(estimated)) - set(durations)
    if unknown:
        raise fail("segment_f1", "events only for files with a known duration", f"{len(unknown)} others, e.g. {sorted(unknown)[0]!r}")
    labels = [str(c) for c in classes]
    label_set = set(labels)
    metrics = sed_eval.sound_event.SegmentBasedMetrics(event_label_list=labels, time_resolution=float(segment_s))
    # SegmentBasedMetrics.__init__ does not forward this option of its base class; set it as the base does.
    metrics.empty_system_output_handling = empty_system_output
    for file_id in sorted(durations):
        ref = [dict(e) for e in reference.get(file_id, [])]
        est = [dict(e) for e in estimated.get(file_id, [])]
        for kind, evs in (("reference", ref), ("estimated", est)):
            for e in evs:
                if e["event_label"] not in label_set:
                    raise fail(f"{kind} events of {file_id}", f"labels among {len(labels)} classes", repr(e["event_label"]))
        metrics.evaluate(ref, est, evaluated_length_seconds=float(durations[file_id]))
    res = metrics.results()
    out: dict[str, float | None] = {c: _pct(res["class_wise"][c]["f_measure"]["f_measure"]) for c in labels}
    out["Average"] = _pct(res["class_wise_average"]["f_measure"]["f_measure"])
    out["Overall"] = _pct(res["overall"]["f_measure"]["f_measure"])
    return out


# --------------------------------------------------------------------------------------------- index

def _load_test_index(index_dir: str | Path, classes: Sequence[str] | None = None,
                     test_ids: Sequence[str] | None = None) -> tuple[dict[str, list[Event]], dict[str, float]]:
    """Reference events and durations of the test split: the index's own, or the clips `test_ids` (the split
    stage's assignment under the pipeline's protocol)."""
    index_dir = Path(index_dir)
    files_path, events_path = index_dir / "files.tsv", index_dir / "events.tsv"
    for p in (files_path, events_path):
        if not p.is_file():
            raise fail(p, "a dataset index file", "no such file")
    files = read_tsv(files_path, dtype={"file_id": str, "split": str})
    events = read_tsv(events_path, dtype={"file_id": str, "label": str})
    for path, df, cols in ((files_path, files, ("file_id", "split", "duration_s")), (events_path, events, ("file_id", "onset", "offset", "label"))):
        missing = [c for c in cols if c not in df.columns]
        if missing:
            raise fail(path, f"columns {', '.join(cols)}", f"no column {missing[0]!r} (header: {', '.join(map(str, df.columns))})")
    if test_ids is None:
        test = files[files["split"] == TEST_SPLIT]
    else:
        unknown = sorted(set(test_ids) - set(files["file_id"]))
        if unknown:
            raise fail(files_path, "a line for every clip of the test split", f"none for {unknown[0]!r}")
        test = files[files["file_id"].isin(set(test_ids))]
    if test.empty:
        raise fail(files_path, f"files with split {TEST_SPLIT!r}", "none")
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
    clip_target = "target" in data and str(data["target"]) == "clip"
    if clip_target and probs.shape[0] != n_files:
        raise fail(npz_path, f"one row of probs per clip ({n_files})", f"{probs.shape[0]} rows")
    if not clip_target and (offsets.shape != (n_files + 1,) or offsets[0] != 0 or offsets[-1] != probs.shape[0]
                            or np.any(np.diff(offsets) < 0)):
        raise fail(npz_path, f"{n_files + 1} non-decreasing offsets from 0 to {probs.shape[0]}", f"{offsets.tolist()[:5]}...")
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


def score_checkpoint(npz_path: str | Path, index_dir: str | Path, threshold: float = 0.5, segment_s: float = 1.0,
                     test_ids: Sequence[str] | None = None) -> tuple[dict[str, float | None], dict[str, float]]:
    """(f1, scores) of one predictions file against the test split (see score_predictions for both)."""
    pred = _load_predictions(npz_path)
    reference, durations = _load_test_index(index_dir, pred["classes"], test_ids)
    got, want = set(pred["file_ids"]), set(durations)
    if got != want:
        extra, missing = sorted(got - want), sorted(want - got)
        found = f"{len(extra)} not in the test split (e.g. {extra[0]!r})" if extra else f"{len(missing)} test files missing (e.g. {missing[0]!r})"
        raise fail(npz_path, f"predictions for exactly the {len(want)} test files of {index_dir}", found)
    if pred["target"] == "clip":
        return clip_scores(pred["probs"], [clip_label(reference[f], npz_path, f) for f in pred["file_ids"]], pred["classes"])
    estimated = {}
    offs = pred["offsets"]
    for k, file_id in enumerate(pred["file_ids"]):
        estimated[file_id] = frames_to_events(pred["probs"][offs[k]:offs[k + 1]], pred["hop_s"], threshold, pred["classes"])
    f1 = segment_f1(reference, estimated, durations, pred["classes"], segment_s)
    return f1, frame_scores(pred, reference, threshold)


EPS = 1e-7  # Keras' clipping of probabilities in its cross-entropies


def frame_scores(pred: dict[str, Any], reference: Mapping[str, list[Event]], threshold: float) -> dict[str, float]:
    """Frame-level scores of the dessed paper's Table 4: binary accuracy over (frame, class) cells at the threshold
    (Keras binary_accuracy), mean binary cross-entropy over cells, and micro F1 over cells. Frame labels follow the
    split stage's rule (frame i at i * hop_s is active when onset <= i * hop_s < offset)."""
    import pandas as pd

    from .splits import frame_labels

    offs = pred["offsets"]
    frames = pd.DataFrame({"file_id": pred["file_ids"], "start": offs[:-1], "n_frames": np.diff(offs)})
    events = pd.DataFrame([{"file_id": f, "onset": e["onset"], "offset": e["offset"], "label": e["event_label"]}
                           for f, evs in reference.items() for e in evs], columns=["file_id", "onset", "offset", "label"])
    truth = frame_labels(events, frames, tuple(pred["classes"]), pred["hop_s"]).astype(bool)  # (N, C)
    p = np.clip(pred["probs"].astype(np.float64), EPS, 1 - EPS)
    active = pred["probs"] >= threshold
    tp, fp, fn = int((active & truth).sum()), int((active & ~truth).sum()), int((~active & truth).sum())
    loss = -np.where(truth, np.log(p), np.log1p(-p)).mean()
    return {"accuracy": float((active == truth).mean()), "loss": float(loss),
            "micro_f1": 2 * tp / max(2 * tp + fp + fn, 1)}


def clip_label(events: list[Event], where: str | Path, file_id: str) -> str:
    """The class of a single-label clip: its event's label (the longest one if a clip ever has several)."""
    if not events:
        raise fail(where, f"a labelled event for clip {file_id!r}", "none in the index")
    return max(events, key=lambda e: e["offset"] - e["onset"])["event_label"]


def clip_scores(probs: np.ndarray, labels: Sequence[str], classes: Sequence[str]) -> tuple[dict[str, float | None], dict[str, float]]:
    """Clip classification: F1 (%) per class, "Average" (macro over classes that occur in truth or prediction) and
    "Overall" (micro = accuracy); scores = categorical accuracy, mean categorical cross-entropy, micro F1."""
    index = {c: i for i, c in enumerate(classes)}
    truth = np.array([index[label] for label in labels])
    pred = probs.argmax(axis=1)
    f1: dict[str, float | None] = {}
    for i, c in enumerate(classes):
        tp, fp, fn = int(((pred == i) & (truth == i)).sum()), int(((pred == i) & (truth != i)).sum()), int(((pred != i) & (truth == i)).sum())
        f1[str(c)] = None if tp + fp + fn == 0 else 100.0 * 2 * tp / (2 * tp + fp + fn)
    defined = [v for v in f1.values() if v is not None]
    accuracy = float((pred == truth).mean())
    f1["Average"] = float(np.mean(defined)) if defined else None
    f1["Overall"] = 100.0 * accuracy
    loss = float(-np.log(np.clip(probs[np.arange(len(truth)), truth].astype(np.float64), EPS, 1.0)).mean())
    return f1, {"accuracy": accuracy, "loss": loss, "micro_f1": accuracy}


def trivial_scores(index_dir: str | Path, classes: Sequence[str], segment_s: float = 1.0,
                   test_ids: Sequence[str] | None = None, target: str = "frames") -> dict[str, float | None]:
    """Segment F1 (%) of the trivial predictor that marks every class active over every whole test file.

    Why this is the natural trivial baseline for segment F1: a predictor that ignores the audio can only
    choose, per class, how often to switch the class on. Switching a class on in a random fraction q of its
    segments gives, in expectation, precision p (the fraction of segments where the class is really active,
    independent of q) and recall q, so F1 = 2pq / (p + q), which grows with q and peaks at q = 1: all active.
    All-off scores F1 = 0. So "everything active everywhere" is the best audio-blind predictor, and its
    per-class F1 = 2p / (1 + p) depends only on the label density of the test set. A model has learnt
    something only where it beats this number; on dense classes (long events) it is surprisingly high.
    """
    reference, durations = _load_test_index(index_dir, classes, test_ids)
    if target == "clip":  # the best audio-blind clip classifier on this test set: always its most frequent class
        labels = [clip_label(reference[f], index_dir, f) for f in durations]
        majority = max(classes, key=labels.count)
        probs = np.array([[1.0 if c == majority else 0.0 for c in classes]] * len(labels))
        return clip_scores(probs, labels, classes)[0]
    estimated = {
        f: [{"onset": 0.0, "offset": float(d), "event_label": str(c)} for c in classes] for f, d in durations.items()
    }
    return segment_f1(reference, estimated, durations, classes, segment_s)


def _show(x: float | None) -> str:
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
        digits = p.stem[len("epoch"):]
        if not digits.isdigit():
            raise fail(p, "a name epochNNN.npz", p.name)
        out.append((int(digits), p))
    if not out:
        raise fail(pred_dir, "at least one epochNNN.npz", "none")
    return sorted(out)


def score_predictions(
    pred_dir: str | Path,
    index_dir: str | Path,
    threshold: float,
    segment_s: float,
    dataset: str,
    model: str,
    seed: int,
    test_ids: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Score every checkpoint of a run; the metrics.json document (see module docstring for conventions).

    Each checkpoint gets "f1" (%: sed_eval segment F1 per class, Average, Overall for frame targets; clip F1 per
    class, macro Average and micro Overall for clip targets) and "scores" (accuracy and micro_f1 as fractions, loss).
    """
    files = epoch_files(pred_dir)
    per_checkpoint = []
    target = _load_predictions(files[0][1])["target"]
    classes: list[str] | None = None
    expected = _dataset_classes(dataset)
    for epoch, path in files:
        f1, scores = score_checkpoint(path, index_dir, threshold, segment_s, test_ids)
        these = [k for k in f1 if k not in ("Average", "Overall")]
        if classes is None:
            if sorted(expected) != sorted(these):
                raise fail(path, f"the {len(expected)} classes of dataset {dataset!r}", f"{len(these)} classes {these[:3]}...")
            classes = these
        elif these != classes:
            raise fail(path, f"the classes of the other checkpoints ({len(classes)})", f"{len(these)} different ones")
        log.info("epoch %d: Overall %s, Average %s", epoch, _show(f1["Overall"]), _show(f1["Average"]))
        per_checkpoint.append({"epoch": epoch, "f1": f1, "scores": scores})
    assert classes is not None
    keys = classes + ["Average", "Overall"]
    mean, std = {}, {}
    for k in keys:
        mean[k], std[k] = _mean_std(c["f1"][k] for c in per_checkpoint)
    scores_mean = {k: _mean_std(c["scores"][k] for c in per_checkpoint)[0] for k in per_checkpoint[0]["scores"]}
    return {
        "dataset": dataset,
        "target": target,
        "model": model,
        "seed": int(seed),
        "threshold": float(threshold),
        "segment_s": float(segment_s),
        "classes": classes,
        "epochs": [e for e, _ in files],
        "per_checkpoint": per_checkpoint,
        "mean": mean,
        "std": std,
        "scores_mean": scores_mean,
        "trivial": trivial_scores(index_dir, classes, segment_s, test_ids, target),
    }


# --------------------------------------------------------------------------------------------- CLI

def build_parser():
    p = cli.parser("Segment-based F1 of saved test-set predictions (every epoch*.npz of a run).")
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("score", help="score every epochNNN.npz of a predictions directory")
    s.add_argument("--predictions", required=True, help="directory of epochNNN.npz files")
    s.add_argument("--index", required=True, help="dataset index directory (files.tsv, events.tsv)")
    s.add_argument("--threshold", type=float, default=0.5)
    s.add_argument("--segment-s", type=float, default=1.0)
    s.add_argument("--dataset", required=True)
    s.add_argument("--model", required=True)
    s.add_argument("--seed", type=int, required=True)
    s.add_argument("--assignment", help="the split stage's assignment.tsv (which clips are test); default: the index's split")
    s.add_argument("--out", required=True, help="metrics.json to write; <stem>.provenance.json goes beside it")
    s.add_argument("--log", help="also write the log to this file")
    return p


def main(args) -> None:
    if not (0.0 < args.threshold < 1.0):
        raise fail("--threshold", "a value in (0, 1)", repr(args.threshold))
    if not args.segment_s > 0:
        raise fail("--segment-s", "a positive segment length in seconds", repr(args.segment_s))
    test_ids = None
    if args.assignment:
        assignment = read_tsv(args.assignment, dtype={"file_id": str, "split": str})
        test_ids = assignment.file_id[assignment.split == TEST_SPLIT].tolist()
    doc = score_predictions(args.predictions, args.index, args.threshold, args.segment_s, args.dataset, args.model,
                            args.seed, test_ids)
    out = Path(args.out)
    inputs = [str(p) for _, p in epoch_files(args.predictions)] + [str(Path(args.index) / "files.tsv"), str(Path(args.index) / "events.tsv")]
    inputs += [args.assignment] if args.assignment else []
    config = {"threshold": args.threshold, "segment_s": args.segment_s, "dataset": args.dataset, "model": args.model,
              "frame_to_event": "run of frames i..j -> [i*hop_s, (j+1)*hop_s)", "metric": "sed_eval SegmentBasedMetrics",
              "empty_system_output_handling": EMPTY_SYSTEM_OUTPUT}
    write_json(out, doc)
    provenance.write_sidecar(out, config, inputs=inputs, seed=args.seed)
    log.info("wrote %s (mean Overall %s over %d checkpoints)", out, _show(doc["mean"]["Overall"]), len(doc["epochs"]))


if __name__ == "__main__":
    cli.run(main, build_parser())
