"""Dataset spec, the parsed index of a dataset, and the annotation parser both datasets share.

A `DatasetSpec` knows one dataset's layout; `spec.index(root)` checks that layout and returns a `DatasetIndex`
(one row per audio file, one row per annotated event). Paths inside the index are relative to the dataset root so
that an index stays valid when the data folder moves.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile

from ..io import InputError, fail, read_json, read_text, read_tsv, wav_declared_frames, write_json, write_tsv
from ..provenance import sha256_file

log = logging.getLogger(__name__)

SPLITS: tuple[str, ...] = ("train", "validate", "test")
VALIDATE = "validate"  # the validation set every pipeline scores each epoch on (sedrepro.splits.VALIDATION_SET)
# What a subset's annotation says, strongest first: events with times, clip tags only, nothing.
LABEL_KINDS: tuple[str, ...] = ("strong", "weak", "none")
PAPER_FRACTIONS = (0.6, 0.2, 0.2)  # the dessed paper's "60% training, 20% validation, 20% test" over clips
FILE_COLUMNS: tuple[str, ...] = ("file_id", "split", "audio", "annotation", "duration_s")
EVENT_COLUMNS: tuple[str, ...] = ("file_id", "onset", "offset", "label")
# The index a dataset's index stage writes into its --out folder (the rules name its outputs from these).
FILES_FILE, EVENTS_FILE, MANIFEST_FILE, NOTES_FILE = "files.tsv", "events.tsv", "manifest.tsv", "index.json"
# One row per audio file a subset's metadata lists (status present, missing, or unchecked without audio) and per
# audio file in a subset's folder that no metadata lists (unlisted); sha256 and bytes of the files that are there.
MANIFEST_COLUMNS: tuple[str, ...] = ("subset", "filename", "audio", "status", "bytes", "sha256")
MANIFEST_STATUSES: tuple[str, ...] = ("present", "missing", "unlisted", "unchecked")
# Real URBAN-SED has offsets of 10.000000000000002 s in 10 s files: float noise, clipped to the duration.
DURATION_TOLERANCE_S = 1e-6


@dataclass
class DatasetIndex:
    """Parsed dataset: `files` (file_id, split, audio, annotation, duration_s), `events` (file_id, onset, offset,
    label), the `manifest` (MANIFEST_COLUMNS: what the metadata lists, what is there, what is missing) and `notes`
    (what the dataset's parser found and did: versions, quirks handled with their counts; JSON-able)."""

    files: pd.DataFrame
    events: pd.DataFrame
    manifest: pd.DataFrame | None = None
    notes: dict = field(default_factory=dict)

    def write(self, out_dir: Path) -> None:
        """manifest.tsv and index.json first, files.tsv and events.tsv last, each atomically."""
        out_dir = Path(out_dir)
        self.check(out_dir)
        manifest = self.manifest if self.manifest is not None else manifest_from_files(self.files, None)
        write_tsv(out_dir / MANIFEST_FILE, manifest.loc[:, list(MANIFEST_COLUMNS)])
        write_json(out_dir / NOTES_FILE, {"subsets": subset_counts(manifest), "notes": self.notes})
        write_tsv(out_dir / FILES_FILE, self.files.loc[:, list(FILE_COLUMNS)])
        write_tsv(out_dir / EVENTS_FILE, self.events.loc[:, list(EVENT_COLUMNS)])

    @classmethod
    def read(cls, out_dir: Path) -> DatasetIndex:
        out_dir = Path(out_dir)
        tables = {}
        for name, columns in (("files", FILE_COLUMNS), ("events", EVENT_COLUMNS)):
            path = out_dir / f"{name}.tsv"
            if not path.is_file():
                raise fail(path, f"the index table {name}.tsv (written by sedrepro.datasets.index)", "no such file")
            df = read_tsv(path, dtype={"file_id": str, "split": str, "audio": str, "annotation": str, "label": str})
            missing = [c for c in columns if c not in df.columns]
            if missing:
                raise fail(f"{path}:1", f"columns {', '.join(columns)}", f"header without {', '.join(missing)}")
            tables[name] = df.loc[:, list(columns)]
        index = cls(files=tables["files"], events=tables["events"])
        index.check(out_dir)
        return index

    def check(self, out_dir: Path) -> None:
        """Each file once in files.tsv, and every event on a file of it: an event on no listed file would count in
        the statistics' "all" rows but in no split. Line numbers are those of the tables as written to out_dir."""
        files_path, events_path = Path(out_dir) / "files.tsv", Path(out_dir) / "events.tsv"
        ids = self.files["file_id"].to_numpy()
        dup = self.files["file_id"].duplicated().to_numpy()
        if dup.any():
            row = int(dup.argmax())
            first = int((ids == ids[row]).argmax())
            raise fail(
                f"{files_path}:{row + 2}", "each file_id once", f"{ids[row]!r} again (first on line {first + 2})"
            )
        unknown = ~self.events["file_id"].isin(set(ids)).to_numpy()
        if unknown.any():
            row = int(unknown.argmax())
            raise fail(
                f"{events_path}:{row + 2}",
                "a file_id listed in files.tsv",
                f"{self.events['file_id'].iloc[row]!r} (in no split)",
            )


@dataclass(frozen=True)
class DatasetSpec:
    """One dataset: canonical class order, archive root folder, the archive names the embedded generator writes.

    `splits` are the dataset's own subsets in their canonical order (files.split takes these values):
    train/validate/test for the SED datasets, fold1..fold10 for UrbanSound8K. Each subset has a label kind
    (LABEL_KINDS): `label_kind`, or its entry in `subset_label_kinds`. `embedded` is the stand-in generator
    (a `sedrepro.datasets.embedded` stand-in) or None. `protocols` are the split protocols (config
    pipelines/<p>/split/protocol): each maps the index's files to the set names in `set_names`.
    Subclasses implement `_list_files` (and `_events` when events do not come from one annotation file per audio
    file); `index` does the checks and parsing that all datasets share.
    """

    name: str
    classes: tuple[str, ...]
    root_name: str
    embedded_archives: tuple[str, ...]
    splits: tuple[str, ...] = SPLITS
    label_kind: str = "strong"
    subset_label_kinds: tuple[tuple[str, str], ...] = ()
    set_names: tuple[str, ...] = SPLITS
    embedded: object | None = field(default=None, compare=False)
    embedded_files: tuple[str, ...] = ()  # of embedded_archives, the plain files: placed at the top of root_name/

    def __post_init__(self) -> None:
        kinds = [self.label_kind, *(k for _, k in self.subset_label_kinds)]
        if any(k not in LABEL_KINDS for k in kinds) or any(s not in self.splits for s, _ in self.subset_label_kinds):
            raise ValueError(f"dataset {self.name}: label kinds of {LABEL_KINDS} for subsets of {self.splits}")
        if not set(self.embedded_files) <= set(self.embedded_archives):
            raise ValueError(f"dataset {self.name}: embedded_files among embedded_archives {self.embedded_archives}")

    @property
    def subsets(self) -> dict[str, str]:
        """The dataset's own subsets (files.split values) with their label kinds."""
        kinds = dict(self.subset_label_kinds)
        return {s: kinds.get(s, self.label_kind) for s in self.splits}

    @property
    def protocols(self) -> dict[str, Callable[[pd.DataFrame, dict], pd.Series]]:
        return {"official": self._official_sets, "paper": self._paper_sets}

    def assign_splits(self, files: pd.DataFrame, split: dict) -> pd.Series:
        """A set name (of `set_names`) per file_id of files.tsv under the split protocol `split` (config
        pipelines/<p>/split: protocol, seed, test_fold); a Series indexed by file_id in the order of `files`."""
        protocols = self.protocols
        if split["protocol"] not in protocols:
            raise fail("split/protocol", " or ".join(protocols), repr(split["protocol"]))
        sets = protocols[split["protocol"]](files, split)
        return sets if split.get("validate_from") is None else hold_out_validate(sets, split)

    def _official_sets(self, files: pd.DataFrame, split: dict) -> pd.Series:
        """The dataset's own train / validate / test."""
        bad = files[~files["split"].isin(self.set_names)]
        if not bad.empty:
            raise fail("files.tsv", f"splits {', '.join(self.set_names)}", repr(bad["split"].iloc[0]))
        return _by_id(files, files["split"])

    def _paper_sets(self, files: pd.DataFrame, split: dict) -> pd.Series:
        """A seeded 60/20/20 draw over all files (seeded_split); the dataset's own split is ignored."""
        ids = files["file_id"].astype(str)
        return _by_id(files, ids.map(seeded_split(ids.to_numpy(), PAPER_FRACTIONS, int(split["seed"]))))

    def index(self, root: Path, annotations_only: bool = False, subsets: Sequence[str] | None = None) -> DatasetIndex:
        """Check the layout under `root` and parse annotations and official splits.

        `root` is the dataset folder itself (the one holding audio/, meta/ or annotations/); a folder that only
        contains `root_name` (what `archive.extract` produces) is accepted too. With `annotations_only`, audio
        is neither required nor read and duration_s is NaN. `subsets` keeps only those subsets (None: all).
        """
        root = self.resolve_root(Path(root))
        keep = self.check_subsets(subsets)
        listing = [item for item in self._list_files(root, annotations_only) if item["split"] in keep]
        rows_files: list[dict] = []
        rows_events: list[tuple[str, float, float, str]] = []
        for item in listing:
            duration = math.nan
            if not annotations_only:
                audio_path = root / item["audio"]
                if not audio_path.is_file():
                    raise fail(
                        audio_path, f"the audio file of {item['file_id']} ({item['split']} split)", "no such file"
                    )
                duration = audio_seconds(audio_path)
            if item["split"] not in self.splits:
                raise fail(root / item["audio"], f"a split of {', '.join(self.splits)}", repr(item["split"]))
            events = self._events(root, item, None if annotations_only else duration)
            rows_files.append({**item, "duration_s": duration})
            rows_events.extend((item["file_id"], onset, offset, label) for onset, offset, label in events)
        files = pd.DataFrame(rows_files, columns=list(FILE_COLUMNS))
        dup = files["file_id"][files["file_id"].duplicated()]
        if len(dup):
            first = files[files["file_id"] == dup.iloc[0]]
            raise fail(
                root / first["audio"].iloc[0],
                "each file in one split only",
                f"{dup.iloc[0]} in {', '.join(first['split'])}",
            )
        split_order = {s: i for i, s in enumerate(self.splits)}
        files = files.sort_values(["split", "file_id"], key=lambda c: c.map(split_order) if c.name == "split" else c)
        files = files.reset_index(drop=True)
        events = pd.DataFrame(rows_events, columns=list(EVENT_COLUMNS))
        events = events.sort_values(["file_id", "onset", "offset", "label"], kind="stable").reset_index(drop=True)
        log.info(
            "%s: %d files (%s), %d events",
            self.name,
            len(files),
            ", ".join(f"{s} {int((files['split'] == s).sum())}" for s in self.splits),
            len(events),
        )
        return DatasetIndex(
            files=files, events=events, manifest=manifest_from_files(files, None if annotations_only else root)
        )

    def check_subsets(self, subsets: Sequence[str] | None) -> tuple[str, ...]:
        """The subsets to index: all of `splits`, or `subsets` when each is one of them."""
        if subsets is None:
            return self.splits
        unknown = [s for s in subsets if s not in self.splits]
        if unknown or not subsets:
            raise fail("--subsets", f"subsets of {self.name} ({', '.join(self.splits)})", repr(",".join(subsets)))
        return tuple(s for s in self.splits if s in subsets)

    def resolve_root(self, root: Path) -> Path:
        """root itself, or root/root_name when root is the folder an archive was extracted into."""
        if not root.is_dir():
            raise fail(root, f"the {self.name} dataset folder", "no such folder")
        if not self._looks_like_root(root) and (root / self.root_name).is_dir():
            return root / self.root_name
        return root

    def _looks_like_root(self, root: Path) -> bool:
        raise NotImplementedError

    def _list_files(self, root: Path, annotations_only: bool) -> list[dict]:
        """Return dicts with file_id, split, audio, annotation (paths relative to root), after layout checks.

        Extra keys are allowed: they reach `_events` and are dropped from the index.
        """
        raise NotImplementedError

    def _events(self, root: Path, item: dict, duration_s: float | None) -> list[tuple[float, float, str]]:
        """(onset, offset, label) events of one listed file; by default parsed from its own annotation file."""
        return parse_annotation(root / item["annotation"], self.classes, duration_s)


def audio_seconds(audio_path: Path) -> float:
    """Duration of a readable, complete, non-empty audio file; anything else is one line naming it."""
    try:
        info = soundfile.info(str(audio_path))
    except (RuntimeError, soundfile.LibsndfileError) as err:
        raise fail(audio_path, "a readable audio file", str(err).replace("\n", " ")) from None
    declared = wav_declared_frames(audio_path)
    if declared is not None and declared > info.frames:
        raise fail(audio_path, f"{declared} frames as its WAV header declares", f"{info.frames} (truncated file)")
    if info.frames == 0:  # else the annotation's first onset would be blamed for being past the end
        raise fail(audio_path, "at least one audio sample", "an empty audio file (0 frames)")
    return info.frames / info.samplerate


def manifest_frame(
    subset: str, audio_dir: str, root: Path, listed: Sequence[str], annotations_only: bool
) -> pd.DataFrame:
    """The manifest rows of one subset whose metadata lists the file names `listed` in the folder root/audio_dir:
    each listed file present (with bytes and sha256) or missing, then the .wav files there that are not listed
    (unlisted, hashed too). With annotations_only the folder is not looked at and listed files are unchecked."""
    rows = []
    if annotations_only:
        rows = [(subset, n, f"{audio_dir}/{n}", "unchecked", None, "") for n in listed]
        return pd.DataFrame(rows, columns=list(MANIFEST_COLUMNS))
    folder = Path(root) / audio_dir
    on_disk = {p.name for p in folder.glob("*.wav") if p.is_file()}
    names = set(listed)
    for name in [*listed, *sorted(on_disk - names)]:
        status = "unlisted" if name not in names else "present" if name in on_disk else "missing"
        path = folder / name
        known = status != "missing"
        rows.append(
            (subset, name, f"{audio_dir}/{name}", status, path.stat().st_size if known else None,
             sha256_file(path) if known else "")
        )  # fmt: skip
    return pd.DataFrame(rows, columns=list(MANIFEST_COLUMNS))


def manifest_from_files(files: pd.DataFrame, root: Path | None) -> pd.DataFrame:
    """The manifest of a dataset whose index lists exactly what is there (every file present; unchecked without
    root, i.e. when only annotations were indexed)."""
    rows = []
    for split, audio in zip(files["split"], files["audio"], strict=True):
        path = None if root is None else Path(root) / audio
        rows.append(
            (split, Path(audio).name, audio, "unchecked" if path is None else "present",
             None if path is None else path.stat().st_size, "" if path is None else sha256_file(path))
        )  # fmt: skip
    return pd.DataFrame(rows, columns=list(MANIFEST_COLUMNS))


def subset_counts(manifest: pd.DataFrame) -> dict[str, dict[str, int]]:
    """Per subset: listed (what the metadata lists), present (listed and there, or unchecked without audio),
    missing, unlisted (there but listed nowhere)."""
    out = {}
    for subset, group in manifest.groupby("subset", sort=False):
        status = group["status"].value_counts()
        present = int(status.get("present", 0) + status.get("unchecked", 0))
        missing = int(status.get("missing", 0))
        out[str(subset)] = {
            "listed": present + missing,
            "present": present,
            "missing": missing,
            "unlisted": int(status.get("unlisted", 0)),
        }
    return out


def read_manifest(index_dir: Path) -> pd.DataFrame:
    """manifest.tsv of an index folder (written by the index stage), checked for its columns and statuses."""
    path = Path(index_dir) / MANIFEST_FILE
    if not path.is_file():
        raise fail(path, f"the manifest {MANIFEST_FILE} (written by sedrepro.datasets.index)", "no such file")
    df = read_tsv(path, dtype={"subset": str, "filename": str, "audio": str, "status": str, "sha256": str})
    missing = [c for c in MANIFEST_COLUMNS if c not in df.columns]
    if missing:
        raise fail(f"{path}:1", f"columns {', '.join(MANIFEST_COLUMNS)}", f"header without {', '.join(missing)}")
    bad = ~df["status"].isin(MANIFEST_STATUSES)
    if bad.any():
        row = int(bad.to_numpy().argmax())
        raise fail(f"{path}:{row + 2}", f"a status of {', '.join(MANIFEST_STATUSES)}", repr(df["status"].iloc[row]))
    return df


def read_notes(index_dir: Path) -> dict:
    """index.json of an index folder: {"subsets": subset_counts, "notes": what the dataset's parser recorded}."""
    path = Path(index_dir) / NOTES_FILE
    if not path.is_file():
        raise fail(path, f"the index notes {NOTES_FILE} (written by sedrepro.datasets.index)", "no such file")
    return read_json(path)


def set_coverage(index_dir: Path, assignment: pd.Series) -> dict[str, dict]:
    """On how many of how many clips each set stands: {set: {"clips": n, "listed": N or None, "text": ...}}.

    `assignment` maps file_id -> set name (splits.ASSIGNMENT_FILE, or DatasetSpec.assign_splits). n is the clips
    of the set; N adds the missing clips of each subset whose clips all went to this set. When a subset with missing
    clips is shared between sets (DESED's weak clips, drawn into weak_train and validate), its missing clips belong
    to no one set: N is None and the text names the subset. Use it as: f"computed on {c['text']}".
    """
    files = read_tsv(Path(index_dir) / FILES_FILE, dtype={"file_id": str, "split": str})
    counts = subset_counts(read_manifest(index_dir))
    subset_of = pd.Series(files["split"].to_numpy(), index=files["file_id"].to_numpy())
    sets_of_subset: dict[str, set] = {}
    for fid, name in assignment.items():
        sets_of_subset.setdefault(str(subset_of.get(fid)), set()).add(name)
    out = {}
    for name in dict.fromkeys(assignment.to_numpy()):
        ids = assignment.index[assignment.to_numpy() == name]
        subsets = sorted(set(subset_of.reindex(ids).astype(str)))
        n, listed, shared = len(ids), len(ids), []
        for s in subsets:
            missing = counts.get(s, {}).get("missing", 0)
            if missing and len(sets_of_subset.get(s, ())) > 1:
                shared.append(f"{s}: {missing} missing, shared with {', '.join(sorted(sets_of_subset[s] - {name}))}")
            else:
                listed += missing
        text = f"{n:,} of {listed:,} listed clips"
        if shared:
            text = f"{n:,} clips ({'; '.join(shared)})"
        out[str(name)] = {"clips": n, "listed": None if shared else listed, "subsets": subsets, "text": text}
    return out


def require_dir(path: Path, what: str) -> None:
    """Layout check: a missing folder is named with what it should hold."""
    if not path.is_dir():
        raise fail(path, what, "no such folder")


def parse_annotation(path: Path, classes: Sequence[str], duration_s: float | None) -> list[tuple[float, float, str]]:
    """Parse `onset offset label` lines (whitespace separated, no header); each bad line is a one-line InputError.

    Events must have offset > onset. With a known `duration_s`, onsets at or past the end are errors and offsets past
    the end by at most DURATION_TOLERANCE_S are clipped to it (float noise in the real data), so a clipped event keeps
    a positive length. Overlapping events are kept as they are. A leading UTF-8 byte-order mark is read.
    """
    known = set(classes)
    events: list[tuple[float, float, str]] = []
    try:
        text = read_text(path)
    except FileNotFoundError:
        raise fail(path, "an annotation file", "no such file") from None
    for lineno, line in enumerate(text.splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        where = f"{path}:{lineno}"
        if len(fields) < 3:
            raise fail(where, "3 fields 'onset offset label'", f"{len(fields)} field(s) {line.strip()!r}")
        # Labels never contain whitespace in these datasets, so a 4th field means a malformed line.
        if len(fields) > 3:
            raise fail(where, "3 fields 'onset offset label'", f"{len(fields)} fields {line.strip()!r}")
        times = []
        for name, value in (("onset", fields[0]), ("offset", fields[1])):
            try:
                number = float(value)
            except ValueError:
                raise fail(where, f"a number for the {name}", repr(value)) from None
            if not math.isfinite(number):
                raise fail(where, f"a finite number for the {name}", repr(value))
            times.append(number)
        onset, offset = times
        label = fields[2]
        if onset < 0:
            raise fail(where, "onset >= 0", repr(fields[0]))
        # A zero-length event marks no frame or segment; scoring refuses it (evaluate.py), so refuse it before training.
        if offset <= onset:
            raise fail(where, "offset > onset", f"onset {fields[0]} and offset {fields[1]}")
        if label not in known:
            raise fail(where, f"a label of the {len(classes)} classes ({', '.join(classes)})", repr(label))
        if duration_s is not None and not math.isnan(duration_s):
            if onset >= duration_s:
                raise fail(where, f"onset before the end of the audio ({duration_s:.6f} s)", f"onset {fields[0]}")
            if offset > duration_s + DURATION_TOLERANCE_S:
                raise fail(where, f"offset within the audio ({duration_s:.6f} s)", f"offset {fields[1]}")
            offset = min(offset, duration_s)
        events.append((onset, offset, label))
    return events


__all__ = [
    "DatasetIndex",
    "DatasetSpec",
    "InputError",
    "MANIFEST_COLUMNS",
    "read_manifest",
    "read_notes",
    "set_coverage",
    "subset_counts",
    "parse_annotation",
    "SPLITS",
    "LABEL_KINDS",
    "FILE_COLUMNS",
    "EVENT_COLUMNS",
]


def _by_id(files: pd.DataFrame, sets: pd.Series) -> pd.Series:
    ids = files["file_id"].astype(str)
    return pd.Series(sets.to_numpy(), index=pd.Index(ids.to_numpy(), name="file_id"), name="split")


def hold_out_validate(sets: pd.Series, split: dict) -> pd.Series:
    """The protocol's sets with a seeded share (split/validate_share) of set split/validate_from's clips moved to
    validate: for a dataset whose protocol has no validation set (AudioSet: a share of bal_train, as the report's
    validation set "splitted from the origin dataset"). The draw is over those clips sorted: order-independent."""
    source = str(split["validate_from"])
    if (sets == VALIDATE).any():
        raise fail(
            "split/validate_from",
            "a protocol without a validate set of its own",
            f"{int((sets == VALIDATE).sum())} validate clips",
        )
    ids = np.sort(sets.index[sets == source].astype(str).to_numpy())
    if len(ids) == 0:
        raise fail("split/validate_from", f"a set with clips (sets: {', '.join(sorted(sets.unique()))})", repr(source))
    order = ids[np.random.default_rng(int(split["seed"])).permutation(len(ids))]
    n_validate = round(float(split["validate_share"]) * len(ids))
    out = sets.copy()
    out[order[:n_validate]] = VALIDATE
    return out


def seeded_split(ids: Sequence[str], fractions: tuple[float, float, float], seed: int) -> dict[str, str]:
    """file_id -> train / validate / test: a seeded shuffle of the ids sorted, the first round(f0 n) train, the next
    round(f1 n) validate, the rest test. The same ids and seed always give the same split, whatever their order."""
    order = np.sort(np.asarray(ids, dtype=str))
    shuffled = order[np.random.default_rng(seed).permutation(len(order))]
    n_train, n_validate = round(fractions[0] * len(order)), round(fractions[1] * len(order))
    return {
        fid: ("train" if i < n_train else "validate" if i < n_train + n_validate else "test")
        for i, fid in enumerate(shuffled)
    }
