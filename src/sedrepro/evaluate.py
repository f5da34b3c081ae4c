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
  a class with no reference and no system segment has F1 = nan and is skipped); "Overall" is sed_eval's
  overall (micro-averaged) F1 over all (segment, class) pairs.
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

from . import cli, provenance
from .io import fail, read_tsv, write_json

log = logging.getLogger("sedrepro.evaluate")

Event = dict  # {"onset": float, "offset": float, "event_label": str}

TEST_SPLIT = "test"
EMPTY_SYSTEM_OUTPUT = "zero_score"


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

def _load_test_index(index_dir: str | Path, classes: Sequence[str] | None = None) -> tuple[dict[str, list[Event]], dict[str, float]]:
    """Reference events and durations of the test split of a dataset index directory."""
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
    test = files[files["split"] == TEST_SPLIT]
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
    if offsets.shape != (n_files + 1,) or offsets[0] != 0 or offsets[-1] != probs.shape[0] or np.any(np.diff(offsets) < 0):
        raise fail(npz_path, f"{n_files + 1} non-decreasing offsets from 0 to {probs.shape[0]}", f"{offsets.tolist()[:5]}...")
    return {
        "probs": probs,
        "offsets": offsets,
        "file_ids": [str(f) for f in data["file_ids"]],
        "hop_s": float(data["hop_s"]),
        "classes": [str(c) for c in data["classes"]],
    }


def _dataset_classes(name: str) -> list[str] | None:
    """Classes from sedrepro.datasets once that module provides get(name).classes; None before that."""
    try:
        from . import datasets  # imported lazily: written by another stage
        getter = datasets.get
    except (ImportError, AttributeError):
        return None
    return [str(c) for c in getter(name).classes]


def score_checkpoint(npz_path: str | Path, index_dir: str | Path, threshold: float = 0.5, segment_s: float = 1.0) -> dict[str, float | None]:
    """Segment F1 (%) of one predictions file against the test split of the index."""
    pred = _load_predictions(npz_path)
    reference, durations = _load_test_index(index_dir, pred["classes"])
    got, want = set(pred["file_ids"]), set(durations)
    if got != want:
        extra, missing = sorted(got - want), sorted(want - got)
        found = f"{len(extra)} not in the test split (e.g. {extra[0]!r})" if extra else f"{len(missing)} test files missing (e.g. {missing[0]!r})"
        raise fail(npz_path, f"predictions for exactly the {len(want)} test files of {index_dir}", found)
    estimated = {}
    offs = pred["offsets"]
    for k, file_id in enumerate(pred["file_ids"]):
        estimated[file_id] = frames_to_events(pred["probs"][offs[k]:offs[k + 1]], pred["hop_s"], threshold, pred["classes"])
    return segment_f1(reference, estimated, durations, pred["classes"], segment_s)


def trivial_scores(index_dir: str | Path, classes: Sequence[str], segment_s: float = 1.0) -> dict[str, float | None]:
    """Segment F1 (%) of the trivial predictor that marks every class active over every whole test file.

    Why this is the natural trivial baseline for segment F1: a predictor that ignores the audio can only
    choose, per class, how often to switch the class on. Switching a class on in a random fraction q of its
    segments gives, in expectation, precision p (the fraction of segments where the class is really active,
    independent of q) and recall q, so F1 = 2pq / (p + q), which grows with q and peaks at q = 1: all active.
    All-off scores F1 = 0. So "everything active everywhere" is the best audio-blind predictor, and its
    per-class F1 = 2p / (1 + p) depends only on the label density of the test set. A model has learnt
    something only where it beats this number; on dense classes (long events) it is surprisingly high.
    """
    reference, durations = _load_test_index(index_dir, classes)
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
) -> dict[str, Any]:
    """Score every checkpoint of a run; the metrics.json document (see module docstring for conventions)."""
    files = epoch_files(pred_dir)
    per_checkpoint = []
    classes: list[str] | None = None
    expected = _dataset_classes(dataset)
    for epoch, path in files:
        f1 = score_checkpoint(path, index_dir, threshold, segment_s)
        these = [k for k in f1 if k not in ("Average", "Overall")]
        if classes is None:
            if expected is not None and sorted(expected) != sorted(these):
                raise fail(path, f"the {len(expected)} classes of dataset {dataset!r}", f"{len(these)} classes {these[:3]}...")
            classes = these
        elif these != classes:
            raise fail(path, f"the classes of the other checkpoints ({len(classes)})", f"{len(these)} different ones")
        log.info("epoch %d: Overall %s, Average %s", epoch, _show(f1["Overall"]), _show(f1["Average"]))
        per_checkpoint.append({"epoch": epoch, "f1": f1})
    assert classes is not None
    keys = classes + ["Average", "Overall"]
    mean, std = {}, {}
    for k in keys:
        mean[k], std[k] = _mean_std(c["f1"][k] for c in per_checkpoint)
    return {
        "dataset": dataset,
        "model": model,
        "seed": int(seed),
        "threshold": float(threshold),
        "segment_s": float(segment_s),
        "classes": classes,
        "epochs": [e for e, _ in files],
        "per_checkpoint": per_checkpoint,
        "mean": mean,
        "std": std,
        "trivial": trivial_scores(index_dir, classes, segment_s),
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
    s.add_argument("--out", required=True, help="metrics.json to write; <stem>.provenance.json goes beside it")
    s.add_argument("--log", help="also write the log to this file")
    return p


def main(args) -> None:
    if not (0.0 < args.threshold < 1.0):
        raise fail("--threshold", "a value in (0, 1)", repr(args.threshold))
    if not args.segment_s > 0:
        raise fail("--segment-s", "a positive segment length in seconds", repr(args.segment_s))
    doc = score_predictions(args.predictions, args.index, args.threshold, args.segment_s, args.dataset, args.model, args.seed)
    out = Path(args.out)
    inputs = [str(p) for _, p in epoch_files(args.predictions)] + [str(Path(args.index) / "files.tsv"), str(Path(args.index) / "events.tsv")]
    config = {"threshold": args.threshold, "segment_s": args.segment_s, "dataset": args.dataset, "model": args.model,
              "frame_to_event": "run of frames i..j -> [i*hop_s, (j+1)*hop_s)", "metric": "sed_eval SegmentBasedMetrics",
              "empty_system_output_handling": EMPTY_SYSTEM_OUTPUT}
    write_json(out, doc)
    write_json(out.with_name(out.stem + ".provenance.json"), provenance.collect(config, seed=args.seed, inputs=inputs))
    log.info("wrote %s (mean Overall %s over %d checkpoints)", out, _show(doc["mean"]["Overall"]), len(doc["epochs"]))


if __name__ == "__main__":
    cli.run(main, build_parser())
