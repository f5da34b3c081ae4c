"""UrbanSound8K (Salamon, Jacoby, Bello, ACM-MM 2014): metadata CSV checks, one whole-clip event per clip, folds.

Layout (guide section 3): metadata/UrbanSound8K.csv with the header
`slice_file_name,fsID,start,end,salience,fold,classID,class`, and audio/fold<k>/<slice_file_name> for k = 1..10.
It is a clip-classification dataset: each clip becomes one event that spans the whole clip, labelled with its class,
and files.split is the clip's official fold ("fold1" .. "fold10"), never reshuffled. file_id is the wav stem
(`<fsID>-<classID>-<occurrenceID>-<sliceID>`), unique over the dataset.

The event's offset is `end - start` from the CSV (the slice's span in its Freesound recording) when only the
metadata is indexed, and the audio's own duration when the audio is read (the clip is the event); a clip whose
audio length and CSV span differ by more than SPAN_TOLERANCE_S is counted in a warning.

`assign_splits` turns the folds into train/validate/test, either as the replicated paper did (60/20/20 over clips)
or by the official fold protocol.
"""

from __future__ import annotations

import csv
import functools
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..io import fail, read_text
from .base import PAPER_FRACTIONS, DatasetSpec, require_dir, seeded_split
from .embedded import US8K_STAND_IN
from .urban_sed import CLASSES  # the same 10 classes, in classID order (URBAN-SED was built from UrbanSound8K)

log = logging.getLogger(__name__)

ROOT_NAME = "UrbanSound8K"
METADATA = "metadata/UrbanSound8K.csv"
HEADER: tuple[str, ...] = ("slice_file_name", "fsID", "start", "end", "salience", "fold", "classID", "class")
N_FOLDS = 10
FOLDS: tuple[str, ...] = tuple(f"fold{k}" for k in range(1, N_FOLDS + 1))
SALIENCE = {1: "foreground", 2: "background"}
SPAN_TOLERANCE_S = 0.01


def _number(where: str, name: str, value: str, kind: type) -> float | int:
    try:
        number = kind(value)
    except ValueError:
        raise fail(where, f"{'an integer' if kind is int else 'a number'} for {name}", repr(value)) from None
    if kind is float and not math.isfinite(number):
        raise fail(where, f"a finite number for {name}", repr(value))
    return number


def read_metadata(path: Path, classes: tuple[str, ...] = CLASSES) -> list[dict]:
    """Parse and check metadata/UrbanSound8K.csv; one dict per clip, with the CSV line number under "line".

    Each bad row is a one-line InputError naming file:line: the header, field count, types, start < end,
    salience 1/2, fold 1-10, classID in range and agreeing with class, a plain .wav file name seen once.
    """
    try:
        text = read_text(path)
    except FileNotFoundError:
        raise fail(path, f"the metadata file {METADATA}", "no such file") from None
    rows = list(csv.reader(text.splitlines()))
    if not rows or tuple(h.strip() for h in rows[0]) != HEADER:
        raise fail(f"{path}:1", f"the header {','.join(HEADER)}", repr(",".join(rows[0])) if rows else "an empty file")
    clips: list[dict] = []
    seen: dict[str, int] = {}
    for lineno, fields in enumerate(rows[1:], start=2):
        if not fields or all(not f.strip() for f in fields):
            continue
        where = f"{path}:{lineno}"
        if len(fields) != len(HEADER):
            raise fail(where, f"{len(HEADER)} comma-separated fields", f"{len(fields)} field(s) {','.join(fields)!r}")
        name, fs_id, start, end, salience, fold, class_id, label = (f.strip() for f in fields)
        if not name.endswith(".wav") or "/" in name or "\\" in name or name.startswith("."):
            raise fail(where, "a .wav file name for slice_file_name", repr(name))
        if name in seen:
            raise fail(where, "each slice_file_name once", f"{name!r} again (first on line {seen[name]})")
        seen[name] = lineno
        fs_id_n = _number(where, "fsID", fs_id, int)
        start_s = _number(where, "start", start, float)
        end_s = _number(where, "end", end, float)
        if start_s < 0 or end_s <= start_s:
            raise fail(where, "0 <= start < end", f"start {start} and end {end}")
        salience_n = _number(where, "salience", salience, int)
        if salience_n not in SALIENCE:
            raise fail(where, "salience 1 (foreground) or 2 (background)", repr(salience))
        fold_n = _number(where, "fold", fold, int)
        if not 1 <= fold_n <= N_FOLDS:
            raise fail(where, f"a fold 1-{N_FOLDS}", repr(fold))
        class_n = _number(where, "classID", class_id, int)
        if not 0 <= class_n < len(classes):
            raise fail(where, f"a classID 0-{len(classes) - 1}", repr(class_id))
        if label != classes[class_n]:
            raise fail(where, f"class {classes[class_n]!r} for classID {class_n}", repr(label))
        clips.append(
            {
                "slice_file_name": name,
                "fsID": fs_id_n,
                "start": start_s,
                "end": end_s,
                "salience": salience_n,
                "fold": fold_n,
                "classID": class_n,
                "class": label,
                "line": lineno,
            }
        )
    if not clips:
        raise fail(path, "at least one clip row", "none")
    return clips


@dataclass(frozen=True)
class UrbanSound8KSpec(DatasetSpec):
    splits: tuple[str, ...] = field(default=FOLDS)
    label_kind: str = "weak"  # one class per clip: a clip tag (the index spells it as an event over the whole clip)

    @property
    def protocols(self) -> dict:
        return {name: functools.partial(self._fold_sets, name) for name in ("official", "paper")}

    def _fold_sets(self, protocol: str, files: pd.DataFrame, split: dict) -> pd.Series:
        return assign_splits(files, protocol, seed=int(split["seed"]), test_fold=int(split["test_fold"]))

    def _looks_like_root(self, root: Path) -> bool:
        return (root / "metadata").is_dir() or (root / "audio").is_dir()

    def _list_files(self, root: Path, annotations_only: bool) -> list[dict]:
        require_dir(root / "metadata", f"the metadata folder metadata/ of {self.root_name}")
        clips = read_metadata(root / METADATA, self.classes)
        if not annotations_only:
            require_dir(root / "audio", f"the audio folder audio/ of {self.root_name}")
            for fold in sorted({c["fold"] for c in clips}):
                require_dir(root / "audio" / f"fold{fold}", f"the audio folder audio/fold{fold}/ named in {METADATA}")
            listed = {f"audio/fold{c['fold']}/{c['slice_file_name']}" for c in clips}
            extra = sorted(
                str(p.relative_to(root))
                for p in (root / "audio").glob("fold*/*.wav")
                if str(p.relative_to(root)) not in listed
            )
            if extra:
                log.warning(
                    "%s: %d audio file(s) not in %s, ignored (e.g. %s)", root / "audio", len(extra), METADATA, extra[0]
                )
        return [
            {
                "file_id": Path(c["slice_file_name"]).stem,
                "split": f"fold{c['fold']}",
                "audio": f"audio/fold{c['fold']}/{c['slice_file_name']}",
                "annotation": METADATA,
                "label": c["class"],
                "span_s": c["end"] - c["start"],
                "line": c["line"],
            }
            for c in clips
        ]

    def _events(self, root: Path, item: dict, duration_s: float | None) -> list[tuple[float, float, str]]:
        """One event over the whole clip: [0, audio duration], or [0, end - start] without audio."""
        if duration_s is None or math.isnan(duration_s):
            return [(0.0, item["span_s"], item["label"])]
        if abs(duration_s - item["span_s"]) > SPAN_TOLERANCE_S:
            log.warning(
                "%s:%d: audio %s lasts %.6f s, the CSV span end - start is %.6f s; the event spans the audio",
                root / METADATA,
                item["line"],
                item["audio"],
                duration_s,
                item["span_s"],
            )
        return [(0.0, duration_s, item["label"])]


def assign_splits(files: pd.DataFrame, protocol: str = "paper", seed: int = 0, test_fold: int = 10) -> pd.Series:
    """Map each clip of an UrbanSound8K index (files with file_id, split = "fold<k>") to train/validate/test.

    protocol "paper" (the default, what the replicated paper did): "60% for training, 20% for validation and the
    remaining 20% as test" over clips, ignoring the folds. The paper does not say how it drew the split, so this is
    a seeded shuffle of the clips sorted by file_id: the first round(0.6 n) clips are train, the next round(0.2 n)
    validate, the rest test; the same files and seed always give the same split. **This is not the official
    UrbanSound8K protocol**: slices of one Freesound recording can land in train and test, which the dataset's
    authors warn inflates scores, so its numbers are not comparable with 10-fold cross-validation results.

    protocol "official": the official 10-fold protocol, one fold held out: test = fold `test_fold`; validate = the
    next fold (test_fold % 10 + 1), our choice since the official protocol defines no validation set; train = the
    other 8 folds. Run test_fold = 1..10 and average for the full cross-validation.

    Returns a Series of split names indexed by file_id, in the order of `files`.
    """
    fold = files["split"].astype(str)
    if not fold.isin(FOLDS).all():
        bad = fold[~fold.isin(FOLDS)].iloc[0]
        raise fail("files.split", f"UrbanSound8K folds {FOLDS[0]}..{FOLDS[-1]}", repr(bad))
    ids = files["file_id"].astype(str)
    if protocol == "paper":
        out = ids.map(seeded_split(ids.to_numpy(), PAPER_FRACTIONS, seed))
    elif protocol == "official":
        if not (isinstance(test_fold, (int, np.integer)) and 1 <= test_fold <= N_FOLDS):
            raise fail("test_fold", f"an integer 1-{N_FOLDS}", repr(test_fold))
        validate = f"fold{test_fold % N_FOLDS + 1}"
        out = fold.map(lambda f: "test" if f == f"fold{test_fold}" else "validate" if f == validate else "train")
    else:
        raise fail("protocol", "'paper' or 'official'", repr(protocol))
    return pd.Series(out.to_numpy(), index=pd.Index(ids.to_numpy(), name="file_id"), name="split")


SPEC = UrbanSound8KSpec(
    name="urbansound8k",
    classes=CLASSES,
    root_name=ROOT_NAME,
    embedded_archives=(f"{ROOT_NAME}.tar.gz",),
    embedded=US8K_STAND_IN,
)
