"""Stage 'splits': frame labels, fixed-size chunks per official split, and z-score statistics from training only.

Outputs (one folder per dataset):
- labels.npy   uint8 (total_frames, n_classes), row-aligned with the features' features.npy
- chunks.npz   for each split, int64 (n_chunks, 2): first global frame row and number of valid frames
- norm.json    mean and std of the training split's features (a scalar each, or one per mel band)
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from . import cli
from .datasets import get as get_dataset
from .io import atomic_path, fail, read_json, read_tsv, save_npy, write_json

log = logging.getLogger(__name__)

SPLITS = ("train", "validate", "test")


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
            labels[start + first:start + last, class_idx[ev.label]] = 1
    return labels


def chunk_starts(start: int, n_frames: int, length: int, hop: int) -> np.ndarray:
    """Chunks of `length` frames every `hop` frames, plus one flush with the end so the tail is covered.

    A clip shorter than one chunk gives one chunk with fewer valid frames (padded when read). Returns (n, 2).
    """
    if n_frames <= length:
        return np.array([[start, n_frames]], dtype=np.int64)
    offsets = list(range(0, n_frames - length + 1, hop))
    if offsets[-1] != n_frames - length:
        offsets.append(n_frames - length)
    return np.array([[start + o, length] for o in offsets], dtype=np.int64)


def normalisation(features: np.ndarray, frames: pd.DataFrame, mode: str) -> dict:
    """Mean and std over all training frames (float64 accumulation, one pass per clip)."""
    train = frames[frames.split == "train"]
    if train.empty:
        raise fail("split 'train'", "at least one training clip", "none")
    n_mels = features.shape[1]
    total = np.zeros(n_mels)
    total_sq = np.zeros(n_mels)
    count = 0
    for s, n in zip(train.start, train.n_frames, strict=True):
        block = np.asarray(features[s:s + n], dtype=np.float64)
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


def make_splits(feature_dir: Path, index_dir: Path, dataset: str, out_dir: Path, length_s: float, hop_s: float,
                norm_mode: str) -> dict:
    spec = get_dataset(dataset)
    frames = read_tsv(feature_dir / "frames.tsv", dtype={"file_id": str})
    feat_info = read_json(feature_dir / "features.json")
    events = read_tsv(index_dir / "events.tsv", dtype={"file_id": str, "label": str})
    features = np.load(feature_dir / "features.npy", mmap_mode="r")
    frame_hop = feat_info["hop_s"]
    length = int(round(length_s / frame_hop))
    hop = max(1, int(round(hop_s / frame_hop)))

    save_npy(out_dir / "labels.npy", frame_labels(events, frames, spec.classes, frame_hop))
    chunks = {}
    for split in SPLITS:
        sel = frames[frames.split == split]
        parts = [chunk_starts(int(s), int(n), length, hop) for s, n in zip(sel.start, sel.n_frames, strict=True)]
        chunks[split] = np.concatenate(parts) if parts else np.zeros((0, 2), dtype=np.int64)
    with atomic_path(out_dir / "chunks.npz", suffix=".npz") as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **chunks)
    norm = normalisation(features, frames, norm_mode)
    summary = {
        "dataset": dataset, "classes": list(spec.classes), "chunk_frames": length, "hop_frames": hop,
        "frame_hop_s": frame_hop, "chunks": {k: int(len(v)) for k, v in chunks.items()},
        "files": {s: int((frames.split == s).sum()) for s in SPLITS},
    }
    write_json(out_dir / "norm.json", norm)
    write_json(out_dir / "splits.json", summary)
    return summary


def main(args: argparse.Namespace) -> None:
    summary = make_splits(Path(args.features), Path(args.index), args.dataset, Path(args.out), args.chunk_s,
                          args.hop_s, args.normalisation)
    log.info("chunks per split: %s (%d frames each)", summary["chunks"], summary["chunk_frames"])


def build_parser() -> argparse.ArgumentParser:
    p = cli.parser("Frame labels, chunk index per split and training-set normalisation statistics.")
    p.add_argument("--features", required=True)
    p.add_argument("--index", required=True)
    p.add_argument("--dataset", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--chunk-s", type=float, required=True)
    p.add_argument("--hop-s", type=float, required=True)
    p.add_argument("--normalisation", choices=["global", "per_band"], required=True)
    return p


if __name__ == "__main__":
    cli.run(main, build_parser())
