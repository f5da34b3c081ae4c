"""Batches of normalised chunks gathered straight from the memory-mapped feature and label arrays.

Reading API of the split store (sedrepro.splits writes it): `SplitData.load(feature_dir, split_dir)`; `chunks[name]`
for every set (each training source, "validate", each evaluation set); `sources` (training source -> label kind),
`sets` (every set -> label kind), `evaluation_sets` (names, in config order); `has_targets(name, kind)` says whether
a set's chunks may be used as targets of that kind. Label kinds: "strong" (frame labels), "weak" (clip tags only: a
clip's tags are the classes of its frame labels), "none" (no targets at all: its labels rows are zeros, not negatives).

Training batches are dicts (:func:`make_batch`): ``features`` (B, L, F) and, per label kind the rows may carry, the
targets and a row mask (B,) bool. Target "frames": ``strong`` (B, L, C) float frame labels with ``mask_strong`` (rows
of strong sources), and, when any source has weak labels or the loss reads clip tags, ``tags`` (B, C) float (a class
is tagged when any valid frame of the row has it) with ``mask_tags`` (rows of strong or weak sources). Target "clip":
``weak`` (B,) int64 clip classes with ``mask_weak`` (rows of labelled sources). Target "tags": ``tags`` (B, C) float
multi-label clip tags with ``mask_tags`` (rows of labelled sources). A row without a kind's labels has
that mask false and zeroed targets (never read as negatives): weak rows add no frame loss, unlabelled rows no
supervised loss. A :class:`Sampler` draws each batch from the configured sources (a split, and whether its labels
are used: then the row's kind is its set's label kind) in fixed proportions.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .datasets.base import LABEL_KINDS
from .io import InputError, read_json
from .quantise import open_store
from .splits import CLIP_TARGETS

# The label kind of each pipeline target: frame labels are "strong", one class per clip and multi-label clip tags
# are "weak".
LABEL_KIND = {"frames": "strong", "clip": "weak", "tags": "weak"}
# The batch key (and model output) of each target's labels: frame labels, one class per clip, clip tags.
TARGET_KEY = {"frames": "strong", "clip": "weak", "tags": "tags"}


@dataclass
class SplitData:
    features: np.ndarray  # (total_frames, n_mels) float32 (or an 8-bit store's Dequantised view), memory-mapped
    labels: np.ndarray  # (total_frames, n_classes) uint8
    chunks: dict[str, np.ndarray]  # split -> (n, 2): first row, valid frames
    mean: np.ndarray  # broadcastable to (n_mels,)
    std: np.ndarray
    chunk_frames: int
    classes: list[str]
    frame_hop_s: float
    target: str = "frames"  # "frames": multi-label per frame; "clip": one class per example; "tags": multi-label
    pad: str = "repeat"  # frames past a clip's end: "repeat" its last frame, or "zeros" (after normalisation)
    sources: dict[str, str] = field(default_factory=lambda: {"train": "strong"})  # training source -> label kind
    sets: dict[str, str] = field(default_factory=dict)  # every set of `chunks` -> label kind
    evaluation_sets: list[str] = field(default_factory=lambda: ["test"])

    @classmethod
    def load(cls, feature_dir: Path, split_dir: Path, in_memory: bool = True) -> SplitData:
        features = open_store(feature_dir, mmap_mode=None if in_memory else "r")  # an 8-bit store dequantised on read
        labels = np.load(split_dir / "labels.npy", mmap_mode=None if in_memory else "r")
        with np.load(split_dir / "chunks.npz") as z:
            chunks = {k: z[k] for k in z.files}
        norm = read_json(split_dir / "norm.json")
        info = read_json(split_dir / "splits.json")
        # Stores from before named sets: train / validate / test, all strong.
        sources = {s["name"]: s["label_kind"] for s in info.get("sources", [{"name": "train", "label_kind": "strong"}])}
        sets = dict(info.get("label_kinds", {name: "strong" for name in chunks}))
        return cls(
            features,
            labels,
            chunks,
            np.asarray(norm["mean"], dtype=np.float32),
            np.asarray(norm["std"], dtype=np.float32),
            int(info["chunk_frames"]),
            list(info["classes"]),
            float(info["frame_hop_s"]),
            info.get("target", "frames"),
            info.get("pad", "repeat"),
            sources,
            sets,
            list(info.get("evaluation_sets", ["test"])),
        )

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

    @property
    def label_kind(self) -> str:
        return LABEL_KIND[self.target]

    @property
    def target_key(self) -> str:
        """The batch key and model output of the target's labels ("strong", "weak" or "tags")."""
        return TARGET_KEY[self.target]

    def gather(
        self, starts: np.ndarray, valid: np.ndarray, length: int | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Chunks (B, L, F) normalised and their targets.

        Targets: frame labels (B, L, C) float for target "frames" (padded frames repeat the last frame's labels);
        for target "clip", the class index (B,) int64 of the class active in most valid frames; for target "tags",
        (B, C) float, 1 for a class active in any valid frame.
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
        if self.target == "tags":  # padding frames repeat a valid frame's labels or are zeros: they add no class
            return x_t, torch.from_numpy(np.ascontiguousarray(y.max(axis=1)))  # (B, C)
        return x_t, torch.from_numpy(y)

    def batches(self, split: str, batch_size: int, order: np.ndarray | None = None):
        chunks = self.chunks[split]
        idx = np.arange(len(chunks)) if order is None else order
        for i in range(0, len(idx), batch_size):
            sel = chunks[idx[i : i + batch_size]]
            yield self.gather(sel[:, 0], sel[:, 1])


def epoch_order(seed: int, epoch: int, n: int) -> np.ndarray:
    """Shuffle order of an epoch depends only on (seed, epoch), so a resumed run sees the same data order."""
    return np.random.default_rng([seed, epoch]).permutation(n)


def make_batch(
    x: torch.Tensor,
    y: torch.Tensor,
    kinds: np.ndarray,
    target: str = "frames",
    valid: np.ndarray | None = None,
    tags: bool = False,
) -> dict[str, torch.Tensor]:
    """A training batch from features (B, L, F), the gathered targets `y` and each row's label kind `kinds` (B,).

    Target "clip": ``weak`` (B,) class indices and ``mask_weak`` (rows of kind other than "none"); target "tags":
    ``tags`` (B, C) multi-label clip tags and ``mask_tags`` (rows of kind other than "none"). Target "frames":
    ``strong`` (B, L, C) and ``mask_strong`` (rows of kind "strong"); with `tags`, also ``tags`` (B, C), a class
    being tagged when any of the row's `valid` first frames has it, and ``mask_tags`` (rows of kind "strong" or
    "weak"). Targets of rows outside a mask are zeroed."""
    kinds = np.asarray(kinds)
    if target in CLIP_TARGETS:
        return {"features": x, **_masked(TARGET_KEY[target], y, kinds != "none")}
    batch = {"features": x, **_masked("strong", y, kinds == "strong")}
    if tags:
        if valid is None:
            raise ValueError("clip tags need the valid frames of each row")
        steps = torch.arange(y.shape[1])[None, :, None]  # (1, L, 1)
        frames = (y > 0) & (steps < torch.from_numpy(np.asarray(valid))[:, None, None])
        batch.update(_masked("tags", frames.any(dim=1).to(y.dtype), kinds != "none"))
    return batch


def _masked(key: str, y: torch.Tensor, labelled: np.ndarray) -> dict[str, torch.Tensor]:
    """Targets `key` with the rows outside `labelled` zeroed (no copy when every row is labelled), and the mask."""
    mask = torch.from_numpy(np.asarray(labelled, dtype=bool))
    if not mask.all():
        y = y.clone()
        y[~mask] = 0
    return {key: y, f"mask_{key}": mask}


def batch_to(batch: Mapping[str, torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
    return {k: v.to(device) for k, v in batch.items()}


@dataclass(frozen=True)
class Source:
    """Training rows: the chunks of one split, with their labels ("target": of its set's label kind) or without
    ("none"), taking `share` of every batch."""

    split: str
    labels: str
    share: float

    @classmethod
    def from_config(cls, d: Mapping, where: str) -> Source:
        if d["labels"] not in ("target", "none"):
            raise InputError(f"{where}: expected labels 'target' or 'none', found {d['labels']!r}")
        return cls(str(d["split"]), str(d["labels"]), float(d["share"]))


class Sampler:
    """Batches of `batch_size` rows drawn from several sources in proportion to their shares.

    The first source sets the epoch: its chunks in the (seed, epoch) order, each once, in batches (the last one
    smaller when they do not divide evenly). Every other source adds its fixed number of rows to each batch,
    cycling through its own shuffled orders. With one source this is exactly the plain shuffled pass over it.

    A source's rows have its set's label kind (labels "target") or none. For target "frames" the batches carry clip
    tags (see :func:`make_batch`) when any source has weak labels or `tags` asks for them (the loss reads them).
    With `row_sources` (a loss term restricted to some sources) each batch also carries ``source`` (B,) int64, the
    index of each row's source in `sources`."""

    def __init__(
        self,
        data: SplitData,
        sources: Sequence[Source],
        batch_size: int,
        seed: int,
        key: str = "training/sources",
        tags: bool = False,
        row_sources: bool = False,
    ) -> None:
        where = f"config key '{key}'"
        if not sources:
            raise InputError(f"{where}: expected at least one source, found none")
        for i, src in enumerate(sources):
            if src.split not in data.chunks or len(data.chunks[src.split]) == 0:
                raise InputError(
                    f"config key '{key}/{i}': expected a split with training chunks, found {src.split!r} "
                    f"(splits: {', '.join(sorted(data.chunks))})"
                )
        total = sum(s.share for s in sources)
        rows = [round(batch_size * s.share / total) for s in sources[1:]]
        first = batch_size - sum(rows)
        if first < 1 or any(r < 1 for r in rows):
            raise InputError(
                f"{where}: expected shares that give every source at least one of the {batch_size} rows "
                f"of a batch, found rows {[first, *rows]}"
            )
        self.data, self.sources, self.seed = data, list(sources), seed
        self.rows = [first, *rows]
        self.kind = data.label_kind
        # each source's label kind: its set's (splits.json label_kinds), or none when its labels are not used
        self.kinds = [data.sets[s.split] if s.labels == "target" else "none" for s in self.sources]
        self.tags = data.target == "frames" and (tags or "weak" in self.kinds)
        self.row_sources = row_sources  # batches carry "source" (B,) int64: each row's index into `sources`

    @property
    def label_kinds(self) -> list[str]:
        """The label kinds the batches carry targets of (what loss terms may read): for target "clip" the clip
        class ("weak"); for "frames", "strong" frame labels and, with tags, "weak" clip tags (strong rows have them
        too)."""
        if self.kind == "weak":
            return ["weak"] if any(k != "none" for k in self.kinds) else []
        kinds = ["strong"] if "strong" in self.kinds else []
        return kinds + ["weak"] if self.tags and any(k != "none" for k in self.kinds) else kinds

    def __len__(self) -> int:
        n = len(self.data.chunks[self.sources[0].split])
        return (n + self.rows[0] - 1) // self.rows[0]

    def _cycle(self, index: int, epoch: int) -> Iterator[int]:
        n, turn = len(self.data.chunks[self.sources[index].split]), 0
        while True:
            yield from np.random.default_rng([self.seed, epoch, index, turn]).permutation(n)
            turn += 1

    def epoch(self, epoch: int) -> Iterator[dict[str, torch.Tensor]]:
        first = self.data.chunks[self.sources[0].split]
        order = epoch_order(self.seed, epoch, len(first))
        others = [self._cycle(i, epoch) for i in range(1, len(self.sources))]
        for i in range(0, len(order), self.rows[0]):
            parts = [first[order[i : i + self.rows[0]]]]
            parts += [
                self.data.chunks[src.split][[next(it) for _ in range(r)]]
                for src, it, r in zip(self.sources[1:], others, self.rows[1:], strict=True)
            ]
            kinds = np.concatenate([np.full(len(p), k) for p, k in zip(parts, self.kinds, strict=True)])
            sel = parts[0] if len(parts) == 1 else np.concatenate(parts)
            x, y = self.data.gather(sel[:, 0], sel[:, 1])
            batch = make_batch(x, y, kinds, self.data.target, sel[:, 1], self.tags)
            if self.row_sources:
                batch["source"] = torch.from_numpy(np.repeat(np.arange(len(parts)), [len(p) for p in parts]))
            yield batch
