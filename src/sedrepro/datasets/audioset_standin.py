"""Embedded stand-in of AudioSet's released embeddings: the real files' formats and layout, synthetic content.

Files written into the out folder (the `DatasetSpec.embedded_archives` of AudioSet, in this order):

  features.tar.gz                    <root>/{bal_train,eval,unbal_train}/<first two chars of the YTID>.tfrecord
                                     (the real shards are named so: many begin with '-'), each a run of framed
                                     SequenceExamples (audioset_records.encode_segment, frame_record)
  balanced_train_segments.csv, eval_segments.csv, unbalanced_train_segments.csv   three '#' lines, then
                                     `YTID, start, end, "mid,mid"` as the real ones
  class_labels_indices.csv           index,mid,display_name: all 527 rows with stand-in MIDs and names, the names
                                     quoted, every 7th with a comma inside

Content: each segment has 1..3 classes dealt round-robin over all 527 (so every class has positives in every subset
of at least 527 x labels segments), and frames = the mean of its classes' prototypes (seeded N(0, 1) per class,
128-d) + N(0, noise) per value, clipped to [-2, 2] and quantised to uint8 as VGGish's postprocessor does
((x + 2) * 255 / 4, truncated). Every `short_every`-th segment has 1..9 frames (a shorter segment, end = start +
frames), `missing_fraction` of each subset's CSV rows have no record (listed, absent: the real data lose some), and
video ids draw from YouTube's 64 characters with every 4th beginning with '-'. Same params, same bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..io import atomic_path, fail
from .audioset_records import EMBEDDING_BYTES, encode_segment, frame_record
from .base import DatasetSpec
from .embedded import _pack_tar_gz, _write_manifest

N_CLASSES = 527
COUNT_KEYS = {"bal_train": "n_bal_train", "eval": "n_eval", "unbal_train": "n_unbal_train"}
PARAM_KEYS = (*COUNT_KEYS.values(), "labels_per_segment", "noise", "short_every", "missing_fraction", "seed")
ID_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
FULL_FRAMES = 10
COMMA_EVERY = 7


@dataclass(frozen=True)
class PlannedSegment:
    subset: str
    ytid: str
    start_s: float
    labels: tuple[int, ...]
    n_frames: int
    missing: bool


def check_params(params: dict) -> None:
    """One-line error for the first bad value."""
    for key in COUNT_KEYS.values():
        value = params[key]
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise fail(f"params.{key}", "an integer >= 1", repr(value))
    lo, hi = params["labels_per_segment"]
    if not (isinstance(lo, int) and isinstance(hi, int) and 1 <= lo <= hi):
        raise fail("params.labels_per_segment", "[min, max] with 1 <= min <= max", repr(params["labels_per_segment"]))
    noise = params["noise"]
    if not isinstance(noise, int | float) or isinstance(noise, bool) or not noise >= 0:
        raise fail("params.noise", "a standard deviation >= 0", repr(noise))
    if not isinstance(params["short_every"], int) or params["short_every"] < 1:
        raise fail("params.short_every", "an integer >= 1", repr(params["short_every"]))
    fraction = params["missing_fraction"]
    if not isinstance(fraction, int | float) or isinstance(fraction, bool) or not 0 <= fraction < 1:
        raise fail("params.missing_fraction", "a fraction in [0, 1)", repr(fraction))
    if not isinstance(params["seed"], int) or params["seed"] < 0:
        raise fail("params.seed", "an integer >= 0", repr(params["seed"]))


def class_index_rows() -> list[tuple[int, str, str]]:
    """(index, mid, display_name) of the stand-in's 527 classes."""
    return [
        (i, f"/m/0s{i:03d}", f"Stand-in class {i}, variant {i % 3}" if i % COMMA_EVERY == 0 else f"Stand-in class {i}")
        for i in range(N_CLASSES)
    ]


def plan(subsets: tuple[str, ...], params: dict) -> list[PlannedSegment]:
    rng = np.random.default_rng([params["seed"], 0])
    deck: list[int] = []

    def deal() -> int:
        if not deck:
            deck.extend(int(i) for i in rng.permutation(N_CLASSES))
        return deck.pop()

    taken: set[str] = set()
    out = []
    lo, hi = params["labels_per_segment"]
    for subset in subsets:
        n = params[COUNT_KEYS[subset]]
        k_missing = min(n - 1, round(params["missing_fraction"] * n))
        missing = {int(i) for i in rng.choice(n, size=k_missing, replace=False)}
        for k in range(n):
            while True:
                chars = [ID_CHARS[i] for i in rng.integers(0, len(ID_CHARS), 11)]
                if k % 4 == 0:
                    chars[0] = "-"
                ytid = "".join(chars)
                if ytid not in taken:
                    taken.add(ytid)
                    break
            labels: set[int] = set()
            for _ in range(int(rng.integers(lo, hi + 1))):
                labels.add(deal())
            short = k % params["short_every"] == params["short_every"] - 1
            n_frames = int(rng.integers(1, FULL_FRAMES)) if short else FULL_FRAMES
            start = float(rng.integers(0, 60)) * 10.0
            out.append(PlannedSegment(subset, ytid, start, tuple(sorted(labels)), n_frames, k in missing))
    return out


def quantise(x: np.ndarray) -> np.ndarray:
    """VGGish's postprocessor: clip to [-2, 2], scale to 0..255, truncate to uint8."""
    return ((np.clip(x, -2.0, 2.0) + 2.0) * (255.0 / 4.0)).astype(np.uint8)


def embeddings(segments: list[PlannedSegment], params: dict) -> list[np.ndarray]:
    prototypes = np.random.default_rng([params["seed"], 1]).standard_normal((N_CLASSES, EMBEDDING_BYTES))
    noise = np.random.default_rng([params["seed"], 2])
    out = []
    for s in segments:
        mean = prototypes[list(s.labels)].mean(axis=0)
        out.append(quantise(mean + float(params["noise"]) * noise.standard_normal((s.n_frames, EMBEDDING_BYTES))))
    return out


def segments_csv(segments: list[PlannedSegment], mids: list[str]) -> str:
    n_labels = sum(len(s.labels) for s in segments)
    unique = len({c for s in segments for c in s.labels})
    lines = [
        "# Segments csv created by sedrepro.datasets.audioset_standin (not the real AudioSet)",
        f"# num_ytids={len(segments)}, num_segs={len(segments)}, num_unique_labels={unique}, "
        f"num_positive_labels={n_labels}",
        "# YTID, start_seconds, end_seconds, positive_labels",
    ]
    for s in segments:
        labels = ",".join(mids[c] for c in s.labels)
        lines.append(f'{s.ytid}, {s.start_s:.3f}, {s.start_s + s.n_frames:.3f}, "{labels}"')
    return "\n".join(lines) + "\n"


def generate(spec: DatasetSpec, out_dir: Path, params: dict) -> dict:
    """Check params, write features.tar.gz, the CSVs and manifest.json into out_dir; return the manifest."""
    check_params(params)
    subsets = tuple(spec.splits)
    if tuple(COUNT_KEYS) != subsets or len(spec.embedded_archives) != 2 + len(subsets):
        raise ValueError(f"dataset {spec.name}: subsets {tuple(COUNT_KEYS)} and features + 3 CSVs + class index")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    segments = plan(subsets, params)
    frames = embeddings(segments, params)
    shards: dict[str, bytearray] = {}
    for s, emb in zip(segments, frames, strict=True):
        if not s.missing:
            data = encode_segment(s.ytid, s.start_s, s.start_s + s.n_frames, s.labels, emb)
            shards.setdefault(f"{s.subset}/{s.ytid[:2]}.tfrecord", bytearray()).extend(frame_record(data))
    entries: dict[str, bytes | None] = {"": None, **{s: None for s in subsets}}
    entries.update({name: bytes(data) for name, data in shards.items()})
    features_name, *csv_names, index_name = spec.embedded_archives
    paths = [_pack_tar_gz(spec, out_dir, entries, {}, features_name)]
    rows = class_index_rows()
    mids = [mid for _, mid, _ in rows]
    texts = [segments_csv([s for s in segments if s.subset == sub], mids) for sub in subsets]
    texts.append("index,mid,display_name\n" + "".join(f'{i},{mid},"{name}"\n' for i, mid, name in rows))
    for name, text in zip([*csv_names, index_name], texts, strict=True):
        with atomic_path(out_dir / name) as tmp:
            Path(tmp).write_bytes(text.encode())
        paths.append(out_dir / name)
    logged = [_Logged(s.labels) for s in segments]  # _write_manifest logs files and their events (tags here)
    return _write_manifest(spec.name, out_dir, paths, {k: params[k] for k in PARAM_KEYS}, logged)


@dataclass(frozen=True)
class _Logged:
    events: tuple[int, ...]


@dataclass(frozen=True, eq=False)
class AudioSetStandIn:
    param_keys: tuple[str, ...] = PARAM_KEYS

    def run(self, spec: DatasetSpec, out_dir: Path, params: dict) -> dict:
        return generate(spec, Path(out_dir), params)


STAND_IN = AudioSetStandIn()
DEFAULT_PARAMS = {
    "n_bal_train": 1000,
    "n_eval": 1000,
    "n_unbal_train": 2000,
    "labels_per_segment": [1, 3],
    "noise": 0.5,
    "short_every": 10,
    "missing_fraction": 0.02,
    "seed": 0,
}
