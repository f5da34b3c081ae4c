"""Stage 'splits': which clip is in which split, frame labels, fixed-size examples, z-score statistics (training only).

A pipeline names the sets it uses: the training sources (config pipelines/<p>/sources, each with a label kind),
the validation set "validate", and the evaluation sets (pipelines/<p>/evaluation_sets). Each is a set name the
dataset's split protocol assigns to clips (train / validate / test for every dataset here).

Outputs (one folder per dataset and pipeline):
- assignment.tsv  file_id, split (the set name) under the pipeline's split protocol
- labels.npy      uint8 (total_frames, n_classes), row-aligned with the features' features.npy; the rows of a set of
                  label kind "none" are all zero and are no targets: splits.json's label_kinds is the mask
- chunks.npz      for each source, "validate" and each evaluation set, int64 (n_chunks, 2): first global frame row
                  and number of valid frames
- norm.json       mean and std of the training sources' features (a scalar each, or one per band; 0 and 1 for none;
                  sources with statistics false left out)
- splits.json     what the training and prediction stages need to read the above (chunk size, target, padding,
                  sources with their label kinds, evaluation sets, label_kinds of every set)
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from . import cli
from .datasets import LABEL_KINDS, DatasetSpec
from .datasets import get as get_dataset
from .io import atomic_path, fail, read_json, read_tsv, save_npy, write_json, write_tsv
from .quantise import open_store

log = logging.getLogger(__name__)

VALIDATION_SET = "validate"
# Pipeline targets with one example per clip: one class ("clip") or multi-label tags ("tags"); "frames" chunks time.
CLIP_TARGETS = ("clip", "tags")
# What the stage writes into its --out folder (the rules name its outputs from these).
ASSIGNMENT_FILE, LABELS_FILE, CHUNKS_FILE, NORM_FILE, SUMMARY_FILE = (
    "assignment.tsv",
    "labels.npy",
    "chunks.npz",
    "norm.json",
    "splits.json",
)
SPLIT_FILES = (ASSIGNMENT_FILE, LABELS_FILE, CHUNKS_FILE, NORM_FILE, SUMMARY_FILE)


def frame_labels(events: pd.DataFrame, frames: pd.DataFrame, classes: tuple[str, ...], hop_s: float) -> np.ndarray:
    """Frame i of a clip (centred at i * hop_s) is active for an event when onset <= i * hop_s < offset."""
    labels = np.zeros((int(frames.n_frames.sum()), len(classes)), dtype=np.uint8)
    class_idx = {c: i for i, c in enumerate(classes)}
    where = {fid: (int(s), int(n)) for fid, s, n in zip(frames.file_id, frames.start, frames.n_frames, strict=True)}
    for ev in events.itertuples(index=False):
        if ev.file_id not in where:
            continue  # file not in this feature set (e.g. a split left out)
        start, n = where[ev.file_id]
        first = int(np.ceil(ev.onset / hop_s - 1e-9))
        last = int(np.ceil(ev.offset / hop_s - 1e-9))  # exclusive
        first, last = max(first, 0), min(last, n)
        if last > first:
            labels[start + first : start + last, class_idx[ev.label]] = 1
    return labels


def chunk_starts(start: int, n_frames: int, length: int, hop: int, tail: str = "flush") -> np.ndarray:
    """Chunks of `length` frames every `hop` frames; (n, 2) rows of (first global row, valid frames).

    tail "flush": one more chunk ends flush with the clip so the tail is covered by full frames (it overlaps the one
    before). tail "pad": chunks start every hop up to the clip's end and the last one has fewer valid frames (padded
    when read; the dessed paper's "at most 1023 frames" of padding). A clip shorter than one chunk gives one chunk
    with fewer valid frames either way.
    """
    if n_frames <= length:
        return np.array([[start, n_frames]], dtype=np.int64)
    if tail == "pad":
        return np.array([[start + o, min(length, n_frames - o)] for o in range(0, n_frames, hop)], dtype=np.int64)
    if tail != "flush":
        raise fail("chunks/tail", "flush or pad", repr(tail))
    offsets = list(range(0, n_frames - length + 1, hop))
    if offsets[-1] != n_frames - length:
        offsets.append(n_frames - length)
    return np.array([[start + o, length] for o in offsets], dtype=np.int64)


def chunk_frames(chunks: dict, frame_hop_s: float) -> tuple[int, int]:
    """(length, hop) in frames from a pipeline's chunks section (seconds or frames; seconds round to frames)."""
    if "length_frames" in chunks:
        return int(chunks["length_frames"]), int(chunks["hop_frames"])
    return int(round(chunks["length_s"] / frame_hop_s)), max(1, int(round(chunks["hop_s"] / frame_hop_s)))


def assign_splits(dataset: str, files: pd.DataFrame, split: dict) -> pd.Series:
    """The set name per file_id under the pipeline's split protocol (config pipelines/<p>/split), as the dataset
    declares it (DatasetSpec.assign_splits)."""
    return get_dataset(dataset).assign_splits(files, split)


def pipeline_sets(spec: DatasetSpec, pipeline: dict) -> tuple[list[dict], list[str]]:
    """(sources, set names) of a pipeline: sources [{name, label_kind or None}], then every set in chunks.npz order
    (sources, "validate", evaluation sets). Names must be set names of the dataset's protocols, sources disjoint from
    the sets that are scored."""
    for key in ("sources", "evaluation_sets"):
        if key not in pipeline:
            raise fail(f"pipeline key {key}", "a value (the schema's default: config/schema.yaml)", "nothing")
    sources = [dict(s) for s in pipeline["sources"]]
    scored = [VALIDATION_SET, *pipeline["evaluation_sets"]]
    names = [s["name"] for s in sources] + scored
    for key, name in [("sources", s["name"]) for s in sources] + [("evaluation_sets", n) for n in scored[1:]]:
        if name not in spec.set_names:
            raise fail(
                f"pipeline key {key}",
                f"set names of {spec.name}'s split protocols ({', '.join(spec.set_names)})",
                repr(name),
            )
    leak = [s["name"] for s in sources if s["name"] in scored]
    if leak or len(set(names) - set(scored)) != len(sources):
        raise fail(
            "pipeline key sources",
            "distinct names, none of them validate or an evaluation set",
            repr([s["name"] for s in sources]),
        )
    for source in sources:
        if source.get("label_kind") not in (None, *LABEL_KINDS):
            raise fail(
                f"pipeline key sources/{source['name']}/label_kind",
                f"null or one of {', '.join(LABEL_KINDS)}",
                repr(source.get("label_kind")),
            )
    return sources, list(dict.fromkeys(names))


def set_label_kind(spec: DatasetSpec, name: str, subsets: pd.Series, declared: str | None) -> str:
    """The label kind of set `name` whose clips come from `subsets` (their files.split values): the one kind those
    subsets have, or `declared` when it is no stronger than any of them (strong labels can be used as weak ones)."""
    rank = {k: i for i, k in enumerate(LABEL_KINDS)}
    present = sorted({spec.subsets[s] for s in subsets.unique()}, key=rank.__getitem__)
    if declared is not None:
        if present and rank[declared] < rank[present[-1]]:
            raise fail(
                f"pipeline key sources/{name}/label_kind",
                f"{present[-1]} or weaker (its clips' labels)",
                repr(declared),
            )
        return declared
    if len(present) > 1:
        raise fail(
            f"set {name!r} of {spec.name}",
            "clips of one label kind (or a source's declared label_kind)",
            f"{', '.join(present)} clips",
        )
    return present[0] if present else spec.label_kind


def normalisation(features: np.ndarray, frames: pd.DataFrame, mode: str, sources: tuple[str, ...] = ("train",)) -> dict:
    """Mean and std over all frames of the training sources (float64 accumulation, one pass per clip)."""
    train = frames[frames.split.isin(sources)]
    if mode == "none":
        return {"mode": mode, "mean": [0.0], "std": [1.0], "frames": int(train.n_frames.sum())}
    if train.empty:
        raise fail(f"split {', '.join(map(repr, sources))}", "at least one training clip", "none")
    n_mels = features.shape[1]
    total = np.zeros(n_mels)
    total_sq = np.zeros(n_mels)
    count = 0
    for s, n in zip(train.start, train.n_frames, strict=True):
        block = np.asarray(features[s : s + n], dtype=np.float64)
        total += block.sum(axis=0)
        total_sq += (block**2).sum(axis=0)
        count += n
    if mode == "global":
        mean = total.sum() / (count * n_mels)
        std = np.sqrt(max(total_sq.sum() / (count * n_mels) - mean**2, 1e-12))
        return {"mode": mode, "mean": [float(mean)], "std": [float(std)], "frames": count}
    mean = total / count
    std = np.sqrt(np.maximum(total_sq / count - mean**2, 1e-12))
    return {"mode": mode, "mean": mean.tolist(), "std": std.tolist(), "frames": count}


def make_splits(feature_dir: Path, index_dir: Path, dataset: str, out_dir: Path, pipeline: dict) -> dict:
    """All outputs of the stage for one dataset under one pipeline (config pipelines/<name>)."""
    spec = get_dataset(dataset)
    frames = read_tsv(feature_dir / "frames.tsv", dtype={"file_id": str})
    feat_info = read_json(feature_dir / "features.json")
    index_files = read_tsv(index_dir / "files.tsv", dtype={"file_id": str, "split": str})
    events = read_tsv(index_dir / "events.tsv", dtype={"file_id": str, "label": str})
    features = open_store(feature_dir, mmap_mode="r")  # numbers, also for an 8-bit store (sedrepro.quantise)
    frame_hop = feat_info["hop_s"]
    chunks_cfg, target = pipeline["chunks"], pipeline["target"]
    length, hop = chunk_frames(chunks_cfg, frame_hop)

    sources, sets = pipeline_sets(spec, pipeline)
    assignment = spec.assign_splits(index_files, pipeline["split"])
    missing = sorted(set(frames.file_id) - set(assignment.index))
    if missing:
        raise fail(index_dir / "files.tsv", "every clip of the features", f"no line for {missing[0]!r}")
    frames = frames.assign(split=frames.file_id.map(assignment))
    write_tsv(out_dir / ASSIGNMENT_FILE, frames[["file_id", "split"]])

    subset = frames.file_id.map(pd.Series(index_files["split"].to_numpy(), index=index_files["file_id"].astype(str)))
    declared = {s["name"]: s.get("label_kind") for s in sources}
    kinds = {name: set_label_kind(spec, name, subset[frames.split == name], declared.get(name)) for name in sets}
    labels = frame_labels(events, frames, spec.classes, frame_hop)
    for name in (n for n in sets if kinds[n] == "none"):  # no annotation is no negative: nothing to learn from
        for s, n in zip(frames.start[frames.split == name], frames.n_frames[frames.split == name], strict=True):
            labels[s : s + n] = 0
    save_npy(out_dir / LABELS_FILE, labels)
    chunks, truncated = {}, 0
    for split in sets:
        sel = frames[frames.split == split]
        if target in CLIP_TARGETS:  # one example per clip, its first `length` frames
            truncated += int((sel.n_frames > length).sum())
            parts = [
                np.array([[int(s), min(int(n), length)]], dtype=np.int64)
                for s, n in zip(sel.start, sel.n_frames, strict=True)
            ]
        else:
            parts = [
                chunk_starts(int(s), int(n), length, hop, chunks_cfg["tail"])
                for s, n in zip(sel.start, sel.n_frames, strict=True)
            ]
        chunks[split] = np.concatenate(parts) if parts else np.zeros((0, 2), dtype=np.int64)
    if truncated:
        log.warning(
            "%d clip(s) longer than %d frames: their first %d frames are the example", truncated, length, length
        )
    with atomic_path(out_dir / CHUNKS_FILE, suffix=".npz") as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **chunks)
    # sources with statistics false (schema default true) are offered to models but leave norm.json as it was
    stats_sources = tuple(s["name"] for s in sources if s.get("statistics", True))
    norm = normalisation(features, frames, pipeline["normalisation"], stats_sources)
    summary = {
        "dataset": dataset,
        "classes": list(spec.classes),
        "chunk_frames": length,
        "hop_frames": hop,
        "frame_hop_s": frame_hop,
        "target": target,
        "tail": chunks_cfg["tail"],
        "pad": chunks_cfg["pad"],
        "split": pipeline["split"],
        "chunks": {k: int(len(v)) for k, v in chunks.items()},
        "files": {s: int((frames.split == s).sum()) for s in sets},
        "truncated_clips": truncated,
        "sources": [{"name": s["name"], "label_kind": kinds[s["name"]]} for s in sources],
        "validation_set": VALIDATION_SET,
        "evaluation_sets": list(pipeline["evaluation_sets"]),
        "label_kinds": kinds,
    }
    write_json(out_dir / NORM_FILE, norm)
    write_json(out_dir / SUMMARY_FILE, summary)
    return summary


def main(args: argparse.Namespace) -> None:
    summary = make_splits(Path(args.features), Path(args.index), args.dataset, Path(args.out), args.pipeline)
    log.info(
        "files per split %s, examples per split %s (%d frames each)",
        summary["files"],
        summary["chunks"],
        summary["chunk_frames"],
    )


def build_parser() -> argparse.ArgumentParser:
    p = cli.parser("Split assignment, frame labels, example index per split and training-set normalisation statistics.")
    p.add_argument("--features", required=True)
    p.add_argument("--index", required=True)
    p.add_argument("--dataset", required=True)
    p.add_argument("--out", required=True)
    p.add_argument(
        "--pipeline",
        type=cli.json_arg,
        required=True,
        help="the pipeline's config section as JSON (normalisation, target, chunks, split)",
    )
    return p


if __name__ == "__main__":
    cli.run(main, build_parser())
