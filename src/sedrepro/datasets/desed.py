"""DESED (Turpault et al., DCASE 2019 Task 4; the DCASE 2020-2022 Task 4 data): the DESED_task tree, its TSV formats
and their quirks, a manifest of listed / present / missing clips, and the DCASE baseline's split.

Layout (guide section 4, the DCASE baseline's confs/default.yaml), relative to the dataset root:
    audio/train/synthetic21_train/soundscapes/*.wav            metadata/train/synthetic21_train/soundscapes.tsv
    audio/validation/synthetic21_validation/soundscapes/*.wav
                                   metadata/validation/synthetic21_validation/soundscapes.tsv (+ durations.tsv beside it)
    audio/train/weak/*.wav                                     metadata/train/weak.tsv
    audio/train/unlabel_in_domain/*.wav                        metadata/train/unlabel_in_domain.tsv
    audio/validation/validation/*.wav                          metadata/validation/validation.tsv
                                                               (+ metadata/validation/validation_durations.tsv)
    audio/eval/public/*.wav                                    metadata/eval/public.tsv
    audio/train/strong_label_real/*.wav                        metadata/train/audioset_strong.tsv (DCASE 2022)
The synthetic sets may be 2020's (synthetic20_train / synthetic20_validation, what the paper's DCASE 2020 baseline
trained on) instead of 2021's (the one downloadable today); 2020's is used when present, and the index notes say which
and the deviation when it is 2021's.

Formats (tab-separated, one header line): strong `filename onset offset event_label`, where a row with empty onset,
offset and label is a clip without events (validation.tsv has 15); weak `filename event_labels` (comma-separated);
unlabelled `filename`; durations `filename duration`. Quirks handled and counted in the index notes (index.json):
clips shorter than 10 s, events that end past their clip (clipped to it), same-class overlapping events (merged:
psds_eval refuses them; the older 4,251-row validation.tsv has them, the newer 4,239-row one not), the validation.tsv
version by its row count. Unknown labels and malformed rows stop with one line.

The YouTube-derived parts (weak, unlabel_in_domain, validation, strong_real) always lose clips: a listed clip without audio is left
out of files.tsv and listed as missing in manifest.tsv; audio no metadata lists is counted as unlisted. file_id is the
wav stem, prefixed with the subset for the synthetic sets (their stems, 0..n, repeat between train and validation).
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..io import fail, read_text
from . import desed_standin
from .base import (
    DURATION_TOLERANCE_S,
    EVENT_COLUMNS,
    FILE_COLUMNS,
    DatasetIndex,
    DatasetSpec,
    audio_seconds,
    manifest_frame,
    require_dir,
)

log = logging.getLogger(__name__)

ROOT_NAME = "DESED"
SYNTH_FOLDER = desed_standin.SYNTH_ROOT  # the top folder of dcase_synth.zip (dcase_synth/)
# DCASE Task 4 baseline local/classes_dict.py order
CLASSES: tuple[str, ...] = (
    "Alarm_bell_ringing",
    "Blender",
    "Cat",
    "Dishes",
    "Dog",
    "Electric_shaver_toothbrush",
    "Frying",
    "Running_water",
    "Speech",
    "Vacuum_cleaner",
)
SUBSETS: tuple[tuple[str, str], ...] = (
    ("synthetic_train", "strong"),
    ("synthetic_validate", "strong"),
    ("weak", "weak"),
    ("unlabel_in_domain", "none"),
    ("validation", "strong"),
    ("public_eval", "strong"),
    ("strong_real", "strong"),  # DCASE 2022's AudioSet strong labels (a training source); last: the others keep order
)
# Set names of the official protocol: three training sources (one label kind each), validate (strong), the held-out
# weak clips, two evaluation sets, and the strong real clips (a fourth training source, DCASE 2022).
SET_NAMES: tuple[str, ...] = (
    "synthetic_train",
    "weak_train",
    "unlabel_in_domain",
    "validate",
    "weak_validate",
    "validation",
    "public_eval",
    "strong_real",
)
STRONG_HEADER = ("filename", "onset", "offset", "event_label")
WEAK_HEADER = ("filename", "event_labels")
UNLABELLED_HEADER = ("filename",)
DURATIONS_HEADER = ("filename", "duration")
CLIP_S = 10.0  # DESED clips are 10 s segments; shorter ones are counted
# durations.tsv files are written with "%.1f" (DCASE baseline generate_tsv_wav_durations): within half a step is noise
DURATIONS_TSV_TOLERANCE_S = 0.05
# Data rows of the two validation.tsv versions (both with the 15 clips without events).
VALIDATION_VERSIONS = {
    4239: "4,239 rows (DESED 2021 and later)",
    4251: "4,251 rows (older release; has same-class overlapping events)",
}
# Which synthetic set, newest last: 2020's first since the paper's baseline trained on it.
SYNTHETIC_YEARS = ("20", "21")
SPAN = re.compile(r"_(\d+(?:\.\d+)?)_(\d+(?:\.\d+)?)\.wav$")  # Y<id>_<start>_<end>.wav: the YouTube segment


@dataclass(frozen=True)
class Part:
    """One subset on disk: its audio folder, metadata TSV, format (strong | weak | none) and durations TSV."""

    subset: str
    audio: str
    metadata: str
    fmt: str
    durations: str | None = None
    id_prefix: str = ""


@dataclass
class StrongTable:
    """A strong TSV: clips in order of first appearance (with those without events), events with their line."""

    clips: list[str]
    events: list[tuple[str, float, float, str, int]]
    rows: int
    empty_rows: int


def _rows(path: Path, header: Sequence[str], what: str) -> list[tuple[int, list[str]]]:
    """(line number, tab-separated fields) of each non-blank data line after the checked header."""
    try:
        text = read_text(path)
    except FileNotFoundError:
        raise fail(path, what, "no such file") from None
    lines = text.splitlines()
    found = lines[0].split("\t") if lines else []
    if [f.strip() for f in found] != list(header):
        raise fail(
            f"{path}:1", f"the header {' '.join(header)} (tab-separated)", repr(lines[0]) if lines else "an empty file"
        )
    out = []
    for lineno, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        fields = [f.strip() for f in line.split("\t")]
        if len(fields) != len(header):
            raise fail(f"{path}:{lineno}", f"{len(header)} tab-separated fields", f"{len(fields)} {line!r}")
        out.append((lineno, fields))
    return out


def _filename(where: str, name: str) -> str:
    if not name.endswith(".wav") or "/" in name or "\\" in name or name.startswith("."):
        raise fail(where, "a .wav file name", repr(name))
    return name


def _label(where: str, label: str, classes: Sequence[str]) -> str:
    if label not in classes:
        raise fail(where, f"a label of the {len(classes)} classes ({', '.join(classes)})", repr(label))
    return label


def _seconds(where: str, name: str, value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise fail(where, f"a number for the {name}", repr(value)) from None
    if not math.isfinite(number) or number < 0:
        raise fail(where, f"a finite number >= 0 for the {name}", repr(value))
    return number


def read_strong(path: Path, classes: Sequence[str] = CLASSES) -> StrongTable:
    """Parse a strong TSV (`filename onset offset event_label`). A row whose onset, offset and label are all empty is
    a clip without events; a row with only some of them empty, offset <= onset or an unknown label stops."""
    clips: dict[str, None] = {}
    events, empty = [], 0
    rows = _rows(path, STRONG_HEADER, "a strong-label metadata file")
    for lineno, (name, onset, offset, label) in rows:
        where = f"{path}:{lineno}"
        clips.setdefault(_filename(where, name), None)
        if not onset and not offset and not label:
            empty += 1
            continue
        if not (onset and offset and label):
            raise fail(where, "onset, offset and label all given or all empty", repr("\t".join((onset, offset, label))))
        start, end = _seconds(where, "onset", onset), _seconds(where, "offset", offset)
        if end <= start:
            raise fail(where, "offset > onset", f"onset {onset} and offset {offset}")
        events.append((name, start, end, _label(where, label, classes), lineno))
    return StrongTable(clips=list(clips), events=events, rows=len(rows), empty_rows=empty)


def read_weak(path: Path, classes: Sequence[str] = CLASSES) -> tuple[dict[str, tuple[str, ...]], int]:
    """Parse a weak TSV (`filename event_labels`, labels comma-separated): filename -> its tags, in file order, and
    how many repeated tags of one clip were dropped (the real weak.tsv has `Running_water,Running_water`)."""
    tags: dict[str, tuple[str, ...]] = {}
    first: dict[str, int] = {}
    repeated = 0
    for lineno, (name, labels) in _rows(path, WEAK_HEADER, "a weak-label metadata file"):
        where = f"{path}:{lineno}"
        _filename(where, name)
        if name in first:
            raise fail(where, "each filename once", f"{name!r} again (first on line {first[name]})")
        first[name] = lineno
        parts = [p.strip() for p in labels.split(",")]
        if not labels or any(not p for p in parts):
            raise fail(where, "comma-separated labels", repr(labels))
        tags[name] = tuple(dict.fromkeys(_label(where, p, classes) for p in parts))
        repeated += len(parts) - len(tags[name])
    return tags, repeated


def read_unlabelled(path: Path) -> list[str]:
    """Parse an unlabelled TSV (`filename`): the filenames in file order."""
    names: dict[str, int] = {}
    for lineno, (name,) in _rows(path, UNLABELLED_HEADER, "an unlabelled metadata file"):
        where = f"{path}:{lineno}"
        _filename(where, name)
        if name in names:
            raise fail(where, "each filename once", f"{name!r} again (first on line {names[name]})")
        names[name] = lineno
    return list(names)


def read_durations(path: Path) -> dict[str, float]:
    """Parse a durations TSV (`filename duration`): filename -> seconds (> 0)."""
    out: dict[str, float] = {}
    for lineno, (name, value) in _rows(path, DURATIONS_HEADER, "a durations file"):
        where = f"{path}:{lineno}"
        _filename(where, name)
        if name in out:
            raise fail(where, "each filename once", f"{name!r} again")
        seconds = _seconds(where, "duration", value)
        if seconds <= 0:
            raise fail(where, "a duration > 0", repr(value))
        out[name] = seconds
    return out


def validation_version(rows: int) -> str:
    """Which validation.tsv release a row count is (VALIDATION_VERSIONS), or that it is none of them."""
    return VALIDATION_VERSIONS.get(rows, f"{rows:,} rows (not a known release: 4,239 or 4,251)")


def merge_overlaps(events: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Merge same-class events of one clip that overlap (next onset < current offset) into one spanning both;
    returns the events (EVENT_COLUMNS, sorted) and how many events were absorbed into another."""
    if events.empty:
        return events.loc[:, list(EVENT_COLUMNS)], 0
    ev = events.sort_values(["file_id", "label", "onset", "offset"], kind="stable")
    rows, merged = [], 0
    for (fid, label), group in ev.groupby(["file_id", "label"], sort=False):
        cur_on, cur_off = None, None
        for onset, offset in zip(group["onset"], group["offset"], strict=True):
            if cur_on is not None and onset < cur_off:
                cur_off, merged = max(cur_off, offset), merged + 1
                continue
            if cur_on is not None:
                rows.append((fid, cur_on, cur_off, label))
            cur_on, cur_off = onset, offset
        rows.append((fid, cur_on, cur_off, label))
    out = pd.DataFrame(rows, columns=list(EVENT_COLUMNS))
    return out.sort_values(["file_id", "onset", "offset", "label"], kind="stable").reset_index(drop=True), merged


def synthetic_note(root: Path, year: str | None) -> dict:
    """Which synthetic set the index used, and the deviation from the paper's when it is not 2020's."""
    if year is None:
        return {"note": "not indexed (config datasets/desed/subsets)"}
    other = [y for y in SYNTHETIC_YEARS if y != year and (root / f"metadata/train/synthetic{y}_train").is_dir()]
    note = (
        "the 2020 synthetic set, as the DCASE 2020 baseline the paper builds on"
        if year == "20"
        else "the 2021 synthetic set (the downloadable one): a deviation from the DCASE 2020 baseline, which trained "
        "on the 2020 synthetic set"
    )
    if other:
        note += f" (synthetic{other[0]} is on disk too, unused)"
    return {"folders": f"synthetic{year}_train, synthetic{year}_validation", "year": 2000 + int(year), "note": note}


def clip_span(name: str) -> float | None:
    """end - start of a `Y<id>_<start>_<end>.wav` name (the YouTube segment), or None for other names."""
    m = SPAN.search(name)
    return float(m.group(2)) - float(m.group(1)) if m else None


@dataclass(frozen=True)
class DesedSpec(DatasetSpec):
    splits: tuple[str, ...] = field(default=tuple(s for s, _ in SUBSETS))
    subset_label_kinds: tuple[tuple[str, str], ...] = SUBSETS
    set_names: tuple[str, ...] = SET_NAMES

    @property
    def protocols(self) -> dict:
        return {"official": self._dcase_sets}

    def _dcase_sets(self, files: pd.DataFrame, split: dict) -> pd.Series:
        """The DCASE baseline's split: a seeded share of the weak clips (split/weak_validate_share, 0.1 in the
        baseline) is held out as weak_validate, the rest is the source weak_train; validate is synthetic_validate;
        the other subsets are sets of their own name. The DCASE 2022 baseline validates on synthetic_validate and
        the held-out weak clips together; a set here has one label kind (the split store's mask is per set), so
        validate holds the strong clips and weak_validate the weak ones. The draw is over the weak clips
        present, sorted, so it does not depend on their order."""
        subset = files["split"].astype(str)
        bad = subset[~subset.isin(self.splits)]
        if not bad.empty:
            raise fail("files.tsv", f"DESED subsets {', '.join(self.splits)}", repr(bad.iloc[0]))
        if "weak_validate_share" not in split:
            raise fail("split/weak_validate_share", "a share of the weak clips (the schema's default: 0.1)", "nothing")
        weak = np.sort(files.loc[subset == "weak", "file_id"].astype(str).to_numpy())
        order = weak[np.random.default_rng(int(split["seed"])).permutation(len(weak))]
        n_validate = round(float(split["weak_validate_share"]) * len(weak))
        weak_set = {fid: ("weak_validate" if i < n_validate else "weak_train") for i, fid in enumerate(order)}
        by_subset = {"synthetic_validate": "validate"}
        sets = [
            weak_set[fid] if s == "weak" else by_subset.get(s, s)
            for fid, s in zip(files["file_id"].astype(str), subset, strict=True)
        ]
        return pd.Series(sets, index=pd.Index(files["file_id"].astype(str).to_numpy(), name="file_id"), name="split")

    def _looks_like_root(self, root: Path) -> bool:
        return (root / "metadata").is_dir() or (root / "audio").is_dir()

    def layout(self, root: Path, synthetic: bool = True) -> tuple[list[Part], str | None]:
        """The parts under root and the synthetic year ("20" or "21"; None when `synthetic` is False and no
        synthetic set is needed); a missing metadata folder is one line naming it."""
        require_dir(root / "metadata", f"the metadata folder metadata/ of a DESED_task tree ({self.name})")
        # The synthetic set is in the tree (the baseline symlinks it there) or, as dcase_synth.zip unpacks, in a
        # dcase_synth/ folder beside it with the same audio/ and metadata/ layout.
        base = next(
            (
                b
                for b in ("", f"../{SYNTH_FOLDER}/")
                if any((root / f"{b}metadata/train/synthetic{y}_train").is_dir() for y in SYNTHETIC_YEARS)
            ),
            "",
        )
        years = [y for y in SYNTHETIC_YEARS if (root / f"{base}metadata/train/synthetic{y}_train").is_dir()]
        if not years and not synthetic:
            years = [None]
        elif not years:
            raise fail(
                root / "metadata/train/synthetic21_train",
                "the synthetic training metadata folder (synthetic21_train, or 2020's synthetic20_train)",
                "no such folder",
            )
        y = years[0]
        parts = (
            []
            if y is None
            else [
                Part(
                    "synthetic_train",
                    f"{base}audio/train/synthetic{y}_train/soundscapes",
                    f"{base}metadata/train/synthetic{y}_train/soundscapes.tsv",
                    "strong",
                    None,
                    "synthetic_train-",
                ),
                Part(
                    "synthetic_validate",
                    f"{base}audio/validation/synthetic{y}_validation/soundscapes",
                    f"{base}metadata/validation/synthetic{y}_validation/soundscapes.tsv",
                    "strong",
                    f"{base}metadata/validation/synthetic{y}_validation/durations.tsv",
                    "synthetic_validate-",
                ),
            ]
        )
        parts += [
            Part("weak", "audio/train/weak", "metadata/train/weak.tsv", "weak"),
            Part("unlabel_in_domain", "audio/train/unlabel_in_domain", "metadata/train/unlabel_in_domain.tsv", "none"),
            Part("validation", "audio/validation/validation", "metadata/validation/validation.tsv", "strong",
                 "metadata/validation/validation_durations.tsv"),
            Part("public_eval", "audio/eval/public", "metadata/eval/public.tsv", "strong"),
            Part("strong_real", "audio/train/strong_label_real", "metadata/train/audioset_strong.tsv", "strong"),
        ]  # fmt: skip
        return parts, y

    def index(self, root: Path, annotations_only: bool = False, subsets: Sequence[str] | None = None) -> DatasetIndex:
        """Parse the metadata of every part (or of `subsets`), keep the listed clips whose audio is there (all of
        them with annotations_only), and record the manifest and the quirks handled (DatasetIndex.notes)."""
        root = self.resolve_root(Path(root))
        keep = self.check_subsets(subsets)
        parts, year = self.layout(root, synthetic=bool({"synthetic_train", "synthetic_validate"} & set(keep)))
        parts = [part for part in parts if part.subset in keep]
        for part in parts:
            if not (root / part.metadata).is_file():
                raise fail(root / part.metadata, f"the {part.subset} metadata file {part.metadata}", "no such file")
            if not annotations_only:
                require_dir(root / part.audio, f"the {part.subset} audio folder {part.audio}/")
        files, events, manifests = [], [], []
        notes: dict = {"synthetic_set": synthetic_note(root, year), "subsets": {}}
        for part in parts:
            f, e, m, facts = self._index_part(root, part, annotations_only)
            files.append(f)
            events.append(e)
            manifests.append(m)
            notes["subsets"][part.subset] = facts
        files_df = pd.concat(files, ignore_index=True)
        dup = files_df["file_id"][files_df["file_id"].duplicated()]
        if len(dup):
            both = files_df.loc[files_df["file_id"] == dup.iloc[0], "split"]
            raise fail(root / "metadata", "each clip in one subset only", f"{dup.iloc[0]} in {', '.join(both)}")
        events_df = pd.concat([e for e in events if len(e)] or events[:1], ignore_index=True)
        log.info(
            "%s: %d files, %d events; %s",
            self.name,
            len(files_df),
            len(events_df),
            "; ".join(f"{s}: {f['present']} of {f['listed']} present" for s, f in notes["subsets"].items()),
        )
        return DatasetIndex(
            files=files_df, events=events_df, manifest=pd.concat(manifests, ignore_index=True), notes=notes
        )

    def _index_part(self, root: Path, part: Part, annotations_only: bool):
        meta = root / part.metadata
        facts: dict = {"metadata": part.metadata}
        strong: StrongTable | None = None
        tags: dict[str, tuple[str, ...]] = {}
        if part.fmt == "strong":
            strong = read_strong(meta, self.classes)
            listed = strong.clips
            facts |= {"rows": strong.rows, "clips_without_events": strong.empty_rows}
            if part.subset == "validation":
                facts["version"] = validation_version(strong.rows)
        elif part.fmt == "weak":
            tags, repeated = read_weak(meta, self.classes)
            listed = list(tags)
            facts["repeated_tags_dropped"] = repeated
        else:
            listed = read_unlabelled(meta)
        durations_tsv = {}
        if part.durations and (root / part.durations).is_file():
            durations_tsv = read_durations(root / part.durations)
            facts["durations"] = part.durations
        manifest = manifest_frame(part.subset, part.audio, root, listed, annotations_only)
        present = set(manifest.loc[manifest["status"].isin(["present", "unchecked"]), "filename"])
        durations: dict[str, float] = {}
        tolerance = {}
        for name in listed:
            if name not in present:
                continue
            if not annotations_only:
                durations[name] = audio_seconds(root / part.audio / name)
                tolerance[name] = DURATION_TOLERANCE_S
            elif name in durations_tsv:
                durations[name], tolerance[name] = durations_tsv[name], DURATIONS_TSV_TOLERANCE_S
        kept = [n for n in listed if n in present]
        ids = {n: part.id_prefix + Path(n).stem for n in kept}
        files = pd.DataFrame(
            {
                "file_id": [ids[n] for n in kept],
                "split": part.subset,
                "audio": [f"{part.audio}/{n}" for n in kept],
                "annotation": part.metadata,
                "duration_s": [durations.get(n, math.nan) for n in kept],
            },
            columns=list(FILE_COLUMNS),
        )
        rows: list[tuple[str, float, float, str]] = []
        clipped = 0
        if strong is not None:
            for name, onset, offset, label, lineno in strong.events:
                if name not in ids:
                    continue
                end = durations.get(name)
                if end is not None:
                    if onset >= end:
                        raise fail(f"{meta}:{lineno}", f"onset before the end of {name} ({end:.6f} s)", f"{onset}")
                    if offset > end + tolerance[name]:
                        clipped += 1
                    offset = min(offset, end)
                rows.append((ids[name], onset, offset, label))
        else:
            for name, labels in tags.items():
                if name not in ids:
                    continue
                span = durations.get(name, clip_span(name))
                if span is None:
                    raise fail(meta, f"the duration of {name} (its audio, or a Y<id>_<start>_<end>.wav name)", "none")
                rows.extend((ids[name], 0.0, span, label) for label in labels)
        events = pd.DataFrame(rows, columns=list(EVENT_COLUMNS))
        events, merged = merge_overlaps(events)
        counts = manifest["status"].value_counts()
        facts |= {
            "listed": len(listed),
            "present": int(counts.get("present", 0) + counts.get("unchecked", 0)),
            "missing": int(counts.get("missing", 0)),
            "unlisted": int(counts.get("unlisted", 0)),
            "audio_checked": not annotations_only,
            "short_clips": sum(d < CLIP_S - tolerance[n] for n, d in durations.items()),
            "clips_with_duration": len(durations),
            "events_past_clip_end_clipped": clipped,
            "same_class_overlaps_merged": merged,
        }
        return files, events, manifest, facts


SPEC = DesedSpec(
    name="desed",
    classes=CLASSES,
    root_name=ROOT_NAME,
    embedded_archives=desed_standin.ARCHIVES,
    embedded=desed_standin.STAND_IN,
)
