"""Batches of normalised chunks gathered straight from the memory-mapped feature and label arrays.

Reading API of the split store (sedrepro.splits writes it): `SplitData.load(feature_dir, split_dir)`; `chunks[name]`
for every set (each training source, "validate", each evaluation set); `sources` (training source -> label kind),
`sets` (every set -> label kind), `evaluation_sets` (names, in config order); `has_targets(name, kind)` says whether
a set's chunks may be used as targets of that kind. Label kinds: "strong" (frame labels), "weak" (clip tags only: a
clip's tags are the classes of its frame labels), "none" (no targets at all: its labels rows are zeros, not negatives).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .datasets.base import LABEL_KINDS
from .io import read_json


@dataclass
class SplitData:
    features: np.ndarray  # (total_frames, n_mels) float32, memory-mapped
    labels: np.ndarray  # (total_frames, n_classes) uint8
    chunks: dict[str, np.ndarray]  # split -> (n, 2): first row, valid frames
    mean: np.ndarray  # broadcastable to (n_mels,)
    std: np.ndarray
    chunk_frames: int
    classes: list[str]
    frame_hop_s: float
    target: str = "frames"  # "frames": multi-label per frame; "clip": one class per example
    pad: str = "repeat"  # frames past a clip's end: "repeat" its last frame, or "zeros" (after normalisation)
    sources: dict[str, str] = field(default_factory=lambda: {"train": "strong"})  # training source -> label kind
    sets: dict[str, str] = field(default_factory=dict)  # every set of `chunks` -> label kind
    evaluation_sets: list[str] = field(default_factory=lambda: ["test"])

    @classmethod
    def load(cls, feature_dir: Path, split_dir: Path, in_memory: bool = True) -> SplitData:
        features = np.load(feature_dir / "features.npy", mmap_mode=None if in_memory else "r")
        labels = np.load(split_dir / "labels.npy", mmap_mode=None if in_memory else "r")
        with np.load(split_dir / "chunks.npz") as z:
            chunks = {k: z[k] for k in z.files}
        norm = read_json(split_dir / "norm.json")
        info = read_json(split_dir / "splits.json")
        # Stores from before named sets: train / validate / test, all strong.
        sources = {s["name"]: s["label_kind"] for s in info.get("sources", [{"name": "train", "label_kind": "strong"}])}
        sets = dict(info.get("label_kinds", {name: "strong" for name in chunks}))
        return cls(features, labels, chunks, np.asarray(norm["mean"], dtype=np.float32),
                   np.asarray(norm["std"], dtype=np.float32), int(info["chunk_frames"]), list(info["classes"]),
                   float(info["frame_hop_s"]), info.get("target", "frames"), info.get("pad", "repeat"), sources, sets,
                   list(info.get("evaluation_sets", ["test"])))

    def has_targets(self, name: str, kind: str) -> bool:
        """Whether set `name` holds targets of label kind `kind` ("strong" frames or "weak" clip tags): strong labels
        serve as weak ones too; a set of kind "none" has no targets."""
        rank = {k: i for i, k in enumerate(LABEL_KINDS)}
        return rank[self.sets[name]] <= rank[kind] < rank["none"]

    @property
    def n_mels(self) -> int:
        return int(self.features.shape[1])

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    def gather(self, starts: np.ndarray, valid: np.ndarray, length: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Chunks (B, L, F) normalised and their targets.

        Targets: frame labels (B, L, C) float for target "frames" (padded frames repeat the last frame's labels);
        for target "clip", the class index (B,) int64 of the class active in most valid frames.
        Frames past a short clip's end repeat its last frame, or are zeros with pad "zeros".
        """
        length = length or self.chunk_frames
        steps = np.arange(length)[None, :]  # (1, L)
        rows = starts[:, None] + np.minimum(steps, valid[:, None] - 1)  # (B, L)
        x = (self.features[rows] - self.mean) / self.std  # (B, L, F)
        y = self.labels[rows].astype(np.float32)  # (B, L, C)
        if self.pad == "zeros":
            past = steps >= valid[:, None]  # (B, L)
            x[past] = 0.0
            y[past] = 0.0
        x_t = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
        if self.target == "clip":
            return x_t, torch.from_numpy(y.sum(axis=1).argmax(axis=1).astype(np.int64))  # (B,)
        return x_t, torch.from_numpy(y)

    def batches(self, split: str, batch_size: int, order: np.ndarray | None = None):
        chunks = self.chunks[split]
        idx = np.arange(len(chunks)) if order is None else order
        for i in range(0, len(idx), batch_size):
            sel = chunks[idx[i:i + batch_size]]
            yield self.gather(sel[:, 0], sel[:, 1])
