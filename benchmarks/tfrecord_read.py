"""Reading AudioSet TFRecords into the feature store: segments/s, against the reader library's own loop alone.

    python benchmarks/tfrecord_read.py [--segments 100000] [--shards 64] [--reps 2] [--out results/benchmarks]

A generated set (in a temp folder, removed after) of `--segments` segments in the real format (framed SequenceExamples
of 10 frames x 128 bytes, every 10th shorter, 1-3 labels) is read by, interleaved (A B C, B C A, ...; medians):
  library  the `tfrecord` package's own loop alone: tfrecord.reader.sequence_loader over each shard (framing without
           CRC checks, protobuf parse, numpy conversion of every feature), results dropped;
  store    ours into an in-memory uint8 store: audioset_records.read_segments (both CRCs checked, parse, checks) and
           the frames copied into one (frames, 128) uint8 array;
  index    the index stage over the same shards (AudioSetSpec.index: CSV labels checked, a record digest, the
           frames streamed into the frame store: one uint8 array per subset + store.tsv + sha256; index files written);
  features the features stage's precomputed kind over that store, right after each index rep (digests checked,
           rows gathered in files.tsv's order into a uint8 features.npy).
Reports segments/s of each, store/library, index/library and features/library throughput ratios, and the time the
real unbalanced set (2,042,985 segments, ASP's count) would take at each rate. Writes tfrecord_read.csv (metric,value,unit,machine) and
tfrecord_read.md into --out, atomically. Nothing here is asserted.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from tfrecord.reader import sequence_loader

from sedrepro.datasets import get
from sedrepro.datasets.audioset import CLASS_INDEX, CSV_FILES, EMBEDDINGS, ROOT_NAME
from sedrepro.datasets.audioset_records import encode_segment, frame_record, read_segments
from sedrepro.datasets.audioset_standin import class_index_rows, segments_csv
from sedrepro.features import FeatureConfig, extract_precomputed
from sedrepro.io import write_csv, write_text

UNBALANCED_SEGMENTS = 2_042_985  # ASP's count of the unbalanced set (guide section 5)
CONTEXT = {"video_id": "byte", "start_time_seconds": "float", "end_time_seconds": "float", "labels": "int"}
SEQUENCE = {"audio_embedding": "byte"}


def generate(root: Path, n: int, n_shards: int) -> int:
    """n segments in n_shards shards of eval, with eval_segments.csv and the class index; returns total frames."""
    rng = np.random.default_rng(0)
    folder = root / ROOT_NAME / "eval"
    folder.mkdir(parents=True)
    frames = np.where(np.arange(n) % 10 == 9, rng.integers(1, 10, n), 10)
    data = rng.integers(0, 256, (int(frames.sum()), 128), dtype=np.uint8)
    starts = np.concatenate([[0], np.cumsum(frames)[:-1]])
    rows = class_index_rows()
    planned = []
    shards = [bytearray() for _ in range(n_shards)]
    for k in range(n):
        labels = tuple(sorted({int(c) for c in rng.integers(0, len(rows), int(rng.integers(1, 4)))}))
        ytid = f"-{k:010d}"
        emb = data[starts[k] : starts[k] + frames[k]]
        shards[k % n_shards].extend(frame_record(encode_segment(ytid, 0.0, float(frames[k]), labels, emb)))
        planned.append(_Row("eval", ytid, 0.0, labels, int(frames[k])))
    for i, blob in enumerate(shards):
        (folder / f"-{i:02d}.tfrecord").write_bytes(bytes(blob))
    mids = [mid for _, mid, _ in rows]
    (root / ROOT_NAME / CSV_FILES["eval"]).write_text(segments_csv(planned, mids))
    (root / ROOT_NAME / CLASS_INDEX).write_text(
        "index,mid,display_name\n" + "".join(f'{i},{m},"{d}"\n' for i, m, d in rows)
    )
    return int(frames.sum())


class _Row:
    """What segments_csv reads of a planned segment."""

    def __init__(self, subset: str, ytid: str, start_s: float, labels: tuple[int, ...], n_frames: int):
        self.subset, self.ytid, self.start_s, self.labels, self.n_frames = subset, ytid, start_s, labels, n_frames


def library_loop(shards: list[Path]) -> int:
    n = 0
    for path in shards:
        for _context, _features in sequence_loader(str(path), None, CONTEXT, SEQUENCE):
            n += 1
    return n


def store_loop(shards: list[Path], total_frames: int) -> int:
    store = np.empty((total_frames, 128), dtype=np.uint8)
    row = n = 0
    for path in shards:
        for seg in read_segments(path):
            store[row : row + len(seg.embedding)] = seg.embedding
            row += len(seg.embedding)
            n += 1
    return n


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--segments", type=int, default=100_000)
    p.add_argument("--shards", type=int, default=64)
    p.add_argument("--reps", type=int, default=2)
    p.add_argument("--out", default="results/benchmarks")
    args = p.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="tfrecord_bench."))
    try:
        t0 = time.perf_counter()
        total_frames = generate(tmp, args.segments, args.shards)
        print(f"generated {args.segments:,} segments in {time.perf_counter() - t0:.1f} s")
        shards = sorted((tmp / ROOT_NAME / "eval").glob("*.tfrecord"))
        size = sum(s.stat().st_size for s in shards)
        cfg = FeatureConfig.from_dict(
            {"kind": "precomputed", "path": EMBEDDINGS, "hop_s": 1.0, "n_features": 128, "store": "uint8"}
        )

        def index_stage() -> int:  # the index stage's work: read, check, store, write the index files
            index = get("audioset").index(tmp, subsets=["eval"])
            index.write(tmp / "index")
            return len(index.files)

        def features_stage() -> int:
            frames = extract_precomputed(tmp / "index", tmp / ROOT_NAME, tmp / "features", cfg)
            assert frames.n_frames.sum() == total_frames
            return len(frames)

        contestants = {
            "library": lambda: library_loop(shards),
            "store": lambda: store_loop(shards, total_frames),
            "index": index_stage,
        }
        times: dict[str, list[float]] = {k: [] for k in [*contestants, "features"]}
        for rep in range(args.reps):
            order = list(contestants)[rep % 3 :] + list(contestants)[: rep % 3]
            for name in order:
                t = time.perf_counter()
                assert contestants[name]() == args.segments
                times[name].append(time.perf_counter() - t)
                print(f"rep {rep}: {name} {times[name][-1]:.2f} s")
                if name == "index":  # reads the store the index just wrote
                    t = time.perf_counter()
                    assert features_stage() == args.segments
                    times["features"].append(time.perf_counter() - t)
                    print(f"rep {rep}: features {times['features'][-1]:.2f} s")
        machine = f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}"
        rate = {k: args.segments / statistics.median(v) for k, v in times.items()}
        rows = [("segments", args.segments, "segments"), ("shard_bytes", size, "bytes")]
        rows += [(f"{k}_segments_per_s", round(r), "segments/s") for k, r in rate.items()]
        rows += [
            (f"{k}_over_library_throughput", round(rate[k] / rate["library"], 3), "ratio")
            for k in ("store", "index", "features")
        ]
        rows += [
            (f"{k}_unbalanced_extrapolated_min", round(UNBALANCED_SEGMENTS / r / 60, 1), "min") for k, r in rate.items()
        ]
        df = pd.DataFrame(rows, columns=["metric", "value", "unit"]).assign(machine=machine)
        out = Path(args.out)
        write_csv(out / "tfrecord_read.csv", df)
        md = ["| metric | value | unit |", "|---|---|---|", *(f"| {m} | {v} | {u} |" for m, v, u in rows)]
        write_text(out / "tfrecord_read.md", f"Reading TFRecords into the store ({machine})\n\n" + "\n".join(md) + "\n")
        print("\n".join(md))

    finally:
        shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
