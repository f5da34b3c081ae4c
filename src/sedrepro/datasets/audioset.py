"""AudioSet's released VGGish embeddings (Gemmeke et al. 2017; guide section 5): segment CSVs, the class index and
the TFRecord shards of features.tar.gz, read without TensorFlow (audioset_records).

Layout of the dataset folder `audioset_v1_embeddings/` (features.tar.gz extracts it; the CSVs are downloaded as plain
files, which the extract stage places into it: their archive entries say so):

  {bal_train,eval,unbal_train}/*.tfrecord                          SequenceExamples (audioset_records.Segment)
  balanced_train_segments.csv, eval_segments.csv, unbalanced_train_segments.csv
  class_labels_indices.csv                                          index,mid,display_name (527 rows, 0..526)

A copy on disk (source local) needs the four CSVs in that folder too, beside the subset folders.

Segment CSVs: three `#` header lines (the third names the columns), then `YTID, start_seconds, end_seconds,
positive_labels` with the labels quoted and comma-separated MIDs (read with the csv module, skipinitialspace).
The class index has names with commas, quoted.

The index: file_id is `<YTID>_<start in ms>` (ids may begin with '-'); a segment is a clip with its tags spelt as
events over the whole clip (the index convention for weak labels); the label of an event is the class index as the
TFRecords give it (classes "0".."526", in index order; class_labels_indices.csv gives the names, recorded in
index.json). Every segment's labels in the TFRecords must equal its CSV labels mapped through the class index: a
disagreement stops the index with one line (shard#record, the CSV's indices, the record's). The manifest lists per
subset each segment the CSV lists as present (in the TFRecords) or missing, and segments of the TFRecords no CSV
lists as unlisted (left out of files.tsv: nothing checks their labels); audio is the shard, bytes and sha256 those of
the record. The index also writes the present segments' embeddings as a frame store `embeddings/` in the dataset
folder (sedrepro.frame_store: one uint8 array (frames, 128) per subset in shard order, store.tsv with each segment's
rows, sha256 of each array), swapped into place when complete: what the `precomputed` feature kind reads (features
path `embeddings`). A few files instead of one per segment: two million small files took 29 min to write.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..frame_store import StoreWriter
from ..io import fail, read_text
from .audioset_records import EMBEDDING_BYTES, frame_record, parse_segment, read_records
from .audioset_standin import STAND_IN
from .base import EVENT_COLUMNS, FILE_COLUMNS, MANIFEST_COLUMNS, DatasetIndex, DatasetSpec, require_dir

log = logging.getLogger(__name__)

N_CLASSES = 527
CLASSES: tuple[str, ...] = tuple(str(i) for i in range(N_CLASSES))
ROOT_NAME = "audioset_v1_embeddings"
SUBSETS: tuple[str, ...] = ("bal_train", "eval", "unbal_train")
CSV_FILES = {
    "bal_train": "balanced_train_segments.csv",
    "eval": "eval_segments.csv",
    "unbal_train": "unbalanced_train_segments.csv",
}
CLASS_INDEX = "class_labels_indices.csv"
CLASS_HEADER = ("index", "mid", "display_name")
SEGMENT_HEADER = ("YTID", "start_seconds", "end_seconds", "positive_labels")
HEADER_LINES = 3
EMBEDDINGS = "embeddings"  # <dataset folder>/embeddings/: the frame store the precomputed kind reads
FULL_FRAMES = 10  # a full 10 s segment; shorter ones have fewer


@dataclass(frozen=True)
class SegmentRow:
    """One line of a segment CSV."""

    ytid: str
    start_s: float
    end_s: float
    mids: tuple[str, ...]
    line: int


def segment_id(ytid: str, start_s: float) -> str:
    """file_id of a segment: video id and start in whole milliseconds (a video may give more than one segment)."""
    return f"{ytid}_{round(start_s * 1000)}"


def read_class_index(path: Path) -> list[tuple[str, str]]:
    """(mid, display_name) per class index 0..526 of class_labels_indices.csv; bad rows are one line each."""
    try:
        text = read_text(path)
    except FileNotFoundError:
        raise fail(path, f"the class index {CLASS_INDEX}", "no such file") from None
    rows = list(csv.reader(text.splitlines()))
    if not rows or tuple(h.strip() for h in rows[0]) != CLASS_HEADER:
        raise fail(f"{path}:1", f"the header {','.join(CLASS_HEADER)}", repr(",".join(rows[0])) if rows else "nothing")
    out: list[tuple[str, str]] = []
    seen: dict[str, int] = {}
    for lineno, fields in enumerate(rows[1:], start=2):
        where = f"{path}:{lineno}"
        if len(fields) != len(CLASS_HEADER):
            raise fail(where, "3 fields index,mid,display_name (names with commas quoted)", f"{len(fields)} fields")
        index, mid, name = (f.strip() for f in fields)
        if index != str(len(out)):
            raise fail(where, f"class index {len(out)} (rows in index order)", repr(index))
        if not mid or mid in seen:
            raise fail(where, "a MID listed once", f"{mid!r}" + (f" again (first on line {seen[mid]})" if mid else ""))
        seen[mid] = lineno
        out.append((mid, name))
    if len(out) != N_CLASSES:
        raise fail(path, f"{N_CLASSES} classes", f"{len(out)}")
    return out


def read_segments_csv(path: Path, mids: set[str]) -> list[SegmentRow]:
    """The segments of one segment CSV: three `#` header lines, then YTID, start, end, "mid,mid,...". Each bad line
    is one InputError (file:line, what was expected, what was found)."""
    try:
        text = read_text(path)
    except FileNotFoundError:
        raise fail(path, "a segment CSV", "no such file") from None
    lines = text.splitlines()
    for i in range(HEADER_LINES):
        if i >= len(lines) or not lines[i].startswith("#"):
            got = repr(lines[i][:60]) if i < len(lines) else "the end of the file"
            raise fail(f"{path}:{i + 1}", f"{HEADER_LINES} header lines starting with '#'", got)
    columns = tuple(c.strip() for c in lines[HEADER_LINES - 1].lstrip("#").split(","))
    if columns != SEGMENT_HEADER:
        raise fail(f"{path}:{HEADER_LINES}", f"the columns # {', '.join(SEGMENT_HEADER)}", repr(lines[2]))
    out: list[SegmentRow] = []
    seen: dict[str, int] = {}
    reader = csv.reader(lines[HEADER_LINES:], skipinitialspace=True, quotechar='"')
    for lineno, fields in enumerate(reader, start=HEADER_LINES + 1):
        if not fields:
            continue
        where = f"{path}:{lineno}"
        if len(fields) != len(SEGMENT_HEADER):
            got = f"{len(fields)} fields {','.join(fields)[:80]!r}"
            raise fail(where, '4 fields YTID, start, end, "labels" (labels quoted)', got)
        ytid, start, end, labels = (f.strip() for f in fields)
        times = []
        for name, value in (("start_seconds", start), ("end_seconds", end)):
            try:
                number = float(value)
            except ValueError:
                raise fail(where, f"a number for {name}", repr(value)) from None
            if not math.isfinite(number) or number < 0:
                raise fail(where, f"a finite number >= 0 for {name}", repr(value))
            times.append(number)
        if not ytid or times[1] <= times[0]:
            raise fail(where, "a YTID and end_seconds > start_seconds", f"{ytid!r}, {start} to {end}")
        labelled = tuple(m.strip() for m in labels.split(",") if m.strip())
        unknown = [m for m in labelled if m not in mids]
        if not labelled or unknown:
            raise fail(where, f"positive labels among the {len(mids)} MIDs of {CLASS_INDEX}", repr(labels))
        fid = segment_id(ytid, times[0])
        if fid in seen:
            raise fail(where, "each segment once", f"{ytid} at {start} again (first on line {seen[fid]})")
        seen[fid] = lineno
        out.append(SegmentRow(ytid, times[0], times[1], labelled, lineno))
    return out


def _shards(root: Path, subset: str) -> list[Path]:
    folder = root / subset
    require_dir(folder, f"the {subset} TFRecord shards of features.tar.gz")
    return sorted(folder.glob("*.tfrecord"))


@dataclass(frozen=True)
class AudioSetSpec(DatasetSpec):
    """AudioSet: weak (clip tags) subsets bal_train, eval, unbal_train; its own index (module docstring)."""

    def _looks_like_root(self, root: Path) -> bool:
        return (root / CLASS_INDEX).is_file() or any((root / s).is_dir() for s in SUBSETS)

    def index(self, root: Path, annotations_only: bool = False, subsets: Sequence[str] | None = None) -> DatasetIndex:
        root = self.resolve_root(Path(root))
        keep = self.check_subsets(subsets)
        class_index = read_class_index(root / CLASS_INDEX)
        index_of = {mid: i for i, (mid, _) in enumerate(class_index)}
        files, events, manifests = [], [], []
        notes: dict = {"classes": [{"index": i, "mid": m, "name": n} for i, (m, n) in enumerate(class_index)]}
        notes["class_index_sha256"] = hashlib.sha256((root / CLASS_INDEX).read_bytes()).hexdigest()  # no published one
        notes["subsets"] = {}
        listed = {subset: read_segments_csv(root / CSV_FILES[subset], set(index_of)) for subset in keep}
        with contextlib.ExitStack() as stack:
            store = (
                None
                if annotations_only
                else stack.enter_context(StoreWriter(root / EMBEDDINGS, EMBEDDING_BYTES, np.uint8))
            )
            for subset in keep:
                rows, facts = self._subset(root, subset, listed[subset], index_of, store)
                manifests.append(pd.DataFrame(rows["manifest"], columns=list(MANIFEST_COLUMNS)))
                files.extend(rows["files"])
                events.extend(rows["events"])
                notes["subsets"][subset] = facts
        files_df = pd.DataFrame(files, columns=list(FILE_COLUMNS))
        events_df = pd.DataFrame(events, columns=list(EVENT_COLUMNS))
        log.info("%s: %s", self.name, "; ".join(f"{s}: {f}" for s, f in notes["subsets"].items()))
        return DatasetIndex(files=files_df, events=events_df, manifest=pd.concat(manifests), notes=notes)

    def _subset(
        self, root: Path, subset: str, listed: list[SegmentRow], index_of: dict[str, int], store: StoreWriter | None
    ) -> tuple[dict, dict]:
        """files, events and manifest rows of one subset, and its counts; each present segment's frames go into
        `store` (array `subset`); without a store (annotations only) no TFRecord is read."""
        by_id = {segment_id(r.ytid, r.start_s): r for r in listed}
        files, events, manifest = [], [], []
        array = f"{EMBEDDINGS}/{subset}.npy"
        if store is None:
            for fid, r in by_id.items():
                files.append((fid, subset, array, CSV_FILES[subset], r.end_s - r.start_s))
                events.extend((fid, 0.0, r.end_s - r.start_s, str(index_of[m])) for m in r.mids)
                manifest.append((subset, fid, CSV_FILES[subset], "unchecked", None, ""))
            return {"files": files, "events": events, "manifest": manifest}, {"listed": len(by_id)}
        found: dict[str, tuple] = {}
        unlisted = short = 0
        for shard in _shards(root, subset):
            rel = shard.relative_to(root).as_posix()
            for i, data in enumerate(read_records(shard)):
                seg = parse_segment(data, f"{shard}#{i}")
                fid = segment_id(seg.video_id, seg.start_s)
                digest = hashlib.sha256(frame_record(data)).hexdigest()
                if fid in found:
                    raise fail(f"{shard}#{i}", "each segment in one record", f"{fid} again (first in {found[fid][0]})")
                row = by_id.get(fid)
                if row is None:
                    unlisted += 1
                    manifest.append((subset, fid, rel, "unlisted", len(data), digest))
                    found[fid] = (f"{rel}#{i}",)
                    continue
                expected = sorted({index_of[m] for m in row.mids})
                if sorted(set(seg.labels)) != expected:
                    raise fail(
                        f"{shard}#{i}",
                        f"the labels of {CSV_FILES[subset]}:{row.line} ({fid}) through {CLASS_INDEX}: {expected}",
                        f"{sorted(set(seg.labels))}",
                    )
                short += seg.embedding.shape[0] < FULL_FRAMES
                store.add(subset, fid, seg.embedding)
                # what the files and events need, not the frames (in the store): 2 million segments stay small
                found[fid] = (f"{rel}#{i}", len(data), digest, len(seg.embedding), expected)
        for fid in by_id:
            if fid not in found:
                manifest.append((subset, fid, CSV_FILES[subset], "missing", None, ""))
                continue
            where, n_bytes, digest, n_frames, labels = found[fid]
            manifest.append((subset, fid, where.split("#")[0], "present", n_bytes, digest))
            duration = float(n_frames)  # one frame per second
            files.append((fid, subset, array, where, duration))
            events.extend((fid, 0.0, duration, str(i)) for i in labels)
        present = len(files)
        facts = {
            "listed": len(by_id),
            "present": present,
            "missing": len(by_id) - present,
            "unlisted": unlisted,
            "shorter_than_10_frames": int(short),
            "labels_checked": present,
        }
        return {"files": files, "events": events, "manifest": manifest}, facts


SPEC = AudioSetSpec(
    name="audioset",
    classes=CLASSES,
    root_name=ROOT_NAME,
    embedded_archives=("features.tar.gz", *CSV_FILES.values(), CLASS_INDEX),
    embedded_files=(*CSV_FILES.values(), CLASS_INDEX),
    splits=SUBSETS,
    label_kind="weak",
    set_names=SUBSETS,
    embedded=STAND_IN,
)
