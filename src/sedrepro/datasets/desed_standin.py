"""Embedded stand-in of DESED (DCASE 2022 Task 4): procedural soundscapes in the DCASE baseline's tree, packed like
the real parts.

Archives (the `DatasetSpec.embedded_archives` of DESED must be `ARCHIVES`, in this order) and the tree they extract to;
<root> is the spec's `root_name` (the real public-eval archive's top folder is dataset/, like the baseline's root):

  dcase_synth.zip           dcase_synth/audio/train/synthetic21_train/soundscapes/<n>.wav (+ <n>.txt, Scaper's list)
                            dcase_synth/audio/validation/synthetic21_validation/soundscapes/<n>.wav (+ <n>.txt)
                            dcase_synth/metadata/train/synthetic21_train/soundscapes.tsv
                            dcase_synth/metadata/validation/synthetic21_validation/{soundscapes,durations}.tsv
  audioset_metadata.tar.gz  <root>/metadata/train/{weak,unlabel_in_domain}.tsv
                            <root>/metadata/validation/{validation,validation_durations}.tsv, <root>/README
  DESED_public_eval.tar.gz  <root>/audio/eval/public/*.wav, <root>/metadata/eval/public.tsv
  audioset_audio.tar.gz     <root>/audio/train/weak/*.wav, <root>/audio/train/unlabel_in_domain/*.wav,
                            <root>/audio/validation/validation/*.wav: what the real users fetch from YouTube with
                            DESED's download script, less the clips that are "missing" (listed, never shipped)
  audioset_strong.tar.gz    <root>/metadata/train/audioset_strong.tsv (DCASE 2022's strong real labels, on Zenodo),
                            <root>/audio/train/strong_label_real/*.wav (from YouTube, less the missing clips)

The strong real subset (`STRONG_REAL`) is drawn after the others from a generator of its own ([seed, 1]) and packed
in its own archive, so the other four archives are byte-identical whatever `n_strong_real` is.

dcase_synth.zip keeps its real top folder: the DCASE tree is dcase_synth/{audio,metadata}/ merged into
<root>/{audio,metadata}/ (the baseline symlinks them); the folders do not overlap. `TREE` gives each subset's audio
folder and metadata file in that merged tree.

Content: 44.1 kHz mono 16-bit WAVs (by default) of the 10 DESED classes as procedural sounds (the shapes of the other
stand-ins' similar classes, with class-typical lengths: Dishes, Dog, Cat short; Speech, Alarm medium; Blender,
Electric shaver, Frying, Running water, Vacuum cleaner long) over Brownian background. Weak and unlabelled clips are
rendered like the strong ones: weak tags are the classes rendered, unlabelled clips list names only. No two events of
a class overlap (psds_eval refuses that; the current validation.tsv has none). The real quirks: every 6th validation
clip has no event (one row with empty onset, offset and label), every 4th YouTube clip lasts less than the maximum
(its name spans the whole seconds around it and durations.tsv says its length, as in the real data), every 4th
public-eval clip has an event annotated past the clip end, and `missing_fraction` of each YouTube subset is listed in
the metadata but absent from the audio archive. Names: synthetic `<n>.wav`; YouTube clips
`Y<11-char id>_<start>_<end>.wav` with %.3f times; public eval `<11-char id>_<start>_<end>.wav` with whole seconds
(as the real public.tsv). TSVs as the real ones: headers, strong %.3f (synthetic: 9 decimals, trailing zeros
dropped, as the real synthetic soundscapes.tsv), weak labels sorted and comma-separated, durations %.1f.
"""

from __future__ import annotations

import functools
import math
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..io import atomic_path, fail
from .base import DatasetSpec
from .embedded import SNR_DB, PlannedFile, Sound, _fits, _pack_tar_gz, _render_file, _write_manifest, _zip_write

ARCHIVES = (
    "dcase_synth.zip",
    "audioset_metadata.tar.gz",
    "DESED_public_eval.tar.gz",
    "audioset_audio.tar.gz",
    "audioset_strong.tar.gz",
)
SYNTH_ROOT = "dcase_synth"  # the real dcase_synth.zip's top folder
# subset -> (audio folder, metadata file) in the merged tree; the synthetic validation set has durations.tsv beside it
TREE = {
    "synthetic_train": (
        "audio/train/synthetic21_train/soundscapes",
        "metadata/train/synthetic21_train/soundscapes.tsv",
    ),
    "synthetic_validate": (
        "audio/validation/synthetic21_validation/soundscapes",
        "metadata/validation/synthetic21_validation/soundscapes.tsv",
    ),
    "weak": ("audio/train/weak", "metadata/train/weak.tsv"),
    "unlabel_in_domain": ("audio/train/unlabel_in_domain", "metadata/train/unlabel_in_domain.tsv"),
    "validation": ("audio/validation/validation", "metadata/validation/validation.tsv"),
    "public_eval": ("audio/eval/public", "metadata/eval/public.tsv"),
}
DURATIONS = {
    "synthetic_validate": "metadata/validation/synthetic21_validation/durations.tsv",
    "validation": "metadata/validation/validation_durations.tsv",
}
# DCASE 2022's strong real subset (AudioSet strong labels; guide section 4), YouTube names and missing clips
STRONG_REAL = "strong_real"
STRONG_REAL_TREE = ("audio/train/strong_label_real", "metadata/train/audioset_strong.tsv")
ALL_TREE = {**TREE, STRONG_REAL: STRONG_REAL_TREE}  # every subset's audio folder and metadata file
SYNTHETIC = ("synthetic_train", "synthetic_validate")
YOUTUBE = ("weak", "unlabel_in_domain", "validation")  # the parts real users download from YouTube, losing some
COUNT_KEYS = {s: f"n_{s}" for s in ALL_TREE}
PARAM_KEYS = (
    *COUNT_KEYS.values(),
    "duration_s",
    "events_per_file",
    "max_polyphony",
    "sample_rate",
    "seed",
    "missing_fraction",
)
MIN_DURATION_S = 1.0
SHORT_EVERY = 4  # clip k of a YouTube subset is short when k % 4 == 3 (and duration_s has room)
EMPTY_EVERY = 6  # validation clip k has no event when k % 6 == 5
PAST_END_EVERY = 4  # public-eval clip k has an event annotated past its end when k % 4 == 1
PAST_END_S = (0.2, 1.0)
ID_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"  # YouTube ids

SOUNDS: dict[str, Sound] = {
    "Alarm_bell_ringing": Sound("sweep", 900.0, 1800.0, (0.5, 3.0)),
    "Blender": Sound("harmonic", 180.0, 10, (3.0, 10.0)),
    "Cat": Sound("harmonic", 650.0, 4, (0.5, 2.0)),
    "Dishes": Sound("noise", 5000.0, 0.4, (0.2, 1.0), decay_s=0.3),
    "Dog": Sound("pulses", 500.0, 3.0, (0.3, 1.5)),
    "Electric_shaver_toothbrush": Sound("harmonic", 2200.0, 3, (3.0, 10.0)),
    "Frying": Sound("noise", 9500.0, 0.5, (4.0, 10.0)),
    "Running_water": Sound("noise", 1300.0, 0.5, (3.0, 10.0)),
    "Speech": Sound("harmonic", 220.0, 8, (1.0, 4.0)),
    "Vacuum_cleaner": Sound("noise", 150.0, 0.5, (4.0, 10.0)),
}


@dataclass(frozen=True)
class Clip:
    """One planned clip: `file` holds the rendered events, `annotated` the (onset, offset, label) rows written."""

    file: PlannedFile  # split = the subset
    annotated: tuple[tuple[float, float, str], ...]
    missing: bool  # listed in the metadata, absent from the audio archive


@dataclass(frozen=True, eq=False)
class DesedStandIn:
    """The DESED stand-in: its class sounds and background (what `embedded._render_file` reads) and its params."""

    sounds: Mapping[str, Sound]
    background: str = "brownian"
    param_keys: tuple[str, ...] = PARAM_KEYS

    def run(self, spec: DatasetSpec, out_dir: Path, params: dict) -> dict:
        return generate(spec, self, Path(out_dir), params)


def check_params(params: dict) -> None:
    """One-line error for the first bad value."""
    for key in COUNT_KEYS.values():
        value = params[key]
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise fail(f"params.{key}", "an integer >= 1", repr(value))
    lo, hi = params["duration_s"]
    if not (isinstance(lo, int | float) and isinstance(hi, int | float) and MIN_DURATION_S <= lo <= hi):
        raise fail(
            "params.duration_s",
            f"[min, max] with {MIN_DURATION_S:g} <= min <= max (short clips are drawn in [min, max) to 0.1 s)",
            repr(params["duration_s"]),
        )
    e_lo, e_hi = params["events_per_file"]
    if not (isinstance(e_lo, int) and isinstance(e_hi, int) and 1 <= e_lo <= e_hi):
        raise fail("params.events_per_file", "[min, max] with 1 <= min <= max", repr(params["events_per_file"]))
    if not isinstance(params["max_polyphony"], int) or params["max_polyphony"] < 1:
        raise fail("params.max_polyphony", "an integer >= 1", repr(params["max_polyphony"]))
    if not isinstance(params["sample_rate"], int) or params["sample_rate"] < 8000:
        raise fail("params.sample_rate", "a sample rate >= 8000 Hz", repr(params["sample_rate"]))
    if not isinstance(params["seed"], int) or params["seed"] < 0:
        raise fail("params.seed", "an integer >= 0", repr(params["seed"]))
    fraction = params["missing_fraction"]
    if not isinstance(fraction, int | float) or isinstance(fraction, bool) or not 0 <= fraction < 1:
        raise fail("params.missing_fraction", "a fraction in [0, 1)", repr(fraction))


def _youtube_id(rng: np.random.Generator, k: int, taken: set[str]) -> str:
    """An unused 11-char YouTube id; every 4th has a '-' and the next a '_' somewhere, so both kinds occur."""
    while True:
        chars = [ID_CHARS[i] for i in rng.integers(0, len(ID_CHARS), 11)]
        if k % 4 in (0, 1):
            chars[int(rng.integers(0, 11))] = "-_"[k % 4]
        vid = "".join(chars)
        if vid not in taken:
            taken.add(vid)
            return vid


def _events(
    sounds: Mapping[str, Sound],
    dur: float,
    wanted: int,
    max_polyphony: int,
    decimals: int,
    deal: Callable[[], str],
    rng: np.random.Generator,
    at_end: bool = False,
) -> list[tuple[float, float, str, float]]:
    """Up to `wanted` events (onset, offset, label, snr) inside [0, dur]; with at_end the first one ends at dur."""
    events: list[tuple[float, float, str, float]] = []
    for i in range(wanted):
        label = deal()
        lo, hi = sounds[label].length_s
        length = min(float(rng.uniform(lo, hi)), dur)
        snr = round(float(rng.uniform(*SNR_DB)), 2)
        for _attempt in range(20):
            if at_end and i == 0:
                onset = round(dur - length, decimals)
            else:
                onset = round(float(rng.uniform(0.0, dur - length)), decimals)
            offset = round(min(onset + length, dur), decimals)
            # no same-class overlap: psds_eval refuses it, and the current validation.tsv has none
            clash = any(e[2] == label and e[0] < offset and e[1] > onset for e in events)
            if offset > onset and not clash and _fits(events, onset, offset, max_polyphony):
                events.append((onset, offset, label, snr))
                break
    return sorted(events)


def plan(spec: DatasetSpec, stand_in: DesedStandIn, params: dict) -> list[Clip]:
    """Names, durations, events, quirks and missing clips of every subset (cheap; audio is rendered later)."""
    rng = np.random.default_rng([params["seed"], 0])
    classes = list(spec.classes)
    if set(classes) != set(stand_in.sounds):
        raise ValueError(f"the DESED stand-in has sounds for {sorted(stand_in.sounds)}, the dataset {classes}")
    lo, hi = (float(v) for v in params["duration_s"])
    sample_rate = params["sample_rate"]
    deck: list[str] = []

    def deal() -> str:  # shuffled round-robin over the classes: each one shows up in every big-enough subset
        if not deck:
            deck.extend(classes[i] for i in rng.permutation(len(classes)))
        return deck.pop()

    clips: list[Clip] = []
    taken: set[str] = set()
    number = 0
    for subset in ALL_TREE:
        if subset == STRONG_REAL:  # its own draws: the subsets above do not depend on it
            rng = np.random.default_rng([params["seed"], 1])
            deck.clear()
        n = params[COUNT_KEYS[subset]]
        missing: set[int] = set()
        if subset in (*YOUTUBE, STRONG_REAL):
            k = min(n - 1, round(params["missing_fraction"] * n))
            missing = {int(i) for i in rng.choice(n, size=k, replace=False)}
        for k in range(n):
            short = subset in YOUTUBE and k % SHORT_EVERY == SHORT_EVERY - 1 and hi - lo >= 0.1
            # drawn to 0.1 s, as durations.tsv writes them; short ones strictly below the maximum
            dur = math.floor(float(rng.uniform(lo, hi)) * 10) / 10 if short else hi
            dur = max(round(dur, 1), lo)
            if subset in SYNTHETIC:
                stem = str(k)
            else:
                vid = _youtube_id(rng, k, taken)
                start = int(rng.integers(0, 600))
                end = start + math.ceil(dur)
                stem = f"{vid}_{start}_{end}" if subset == "public_eval" else f"Y{vid}_{start:.3f}_{end:.3f}"
            past_end = subset == "public_eval" and k % PAST_END_EVERY == 1
            empty = subset == "validation" and k % EMPTY_EVERY == EMPTY_EVERY - 1
            wanted = 0 if empty else int(rng.integers(params["events_per_file"][0], params["events_per_file"][1] + 1))
            decimals = 9 if subset in SYNTHETIC else 3
            events = _events(stand_in.sounds, dur, wanted, params["max_polyphony"], decimals, deal, rng, past_end)
            annotated = [(on, off, label) for on, off, label, _ in events]
            if past_end:  # the first event ends at the clip's end: its annotation runs on past it
                i = next(i for i, e in enumerate(events) if e[1] == dur)
                on, off, label = annotated[i]
                annotated[i] = (on, round(off + float(rng.uniform(*PAST_END_S)), 3), label)
            dur_samples = round(dur * sample_rate) / sample_rate
            clips.append(
                Clip(PlannedFile(stem, subset, number, dur_samples, tuple(events)), tuple(annotated), k in missing)
            )
            number += 1
    return clips


def _synth_time(x: float) -> str:
    """As the real synthetic soundscapes.tsv: 9 decimals, trailing zeros dropped (0 -> "0", 10 -> "10")."""
    return f"{x:.9f}".rstrip("0").rstrip(".")


def _ms(x: float) -> str:
    return f"{x:.3f}"


def _strong_tsv(clips: list[Clip], fmt: Callable[[float], str]) -> str:
    """filename onset offset event_label; a clip without events is one row with the three fields empty."""
    rows = ["filename\tonset\toffset\tevent_label"]
    for c in clips:
        name = f"{c.file.stem}.wav"
        rows += [f"{name}\t{fmt(on)}\t{fmt(off)}\t{label}" for on, off, label in c.annotated] or [f"{name}\t\t\t"]
    return "\n".join(rows) + "\n"


def _durations_tsv(clips: list[Clip]) -> str:
    return "filename\tduration\n" + "".join(f"{c.file.stem}.wav\t{c.file.duration_s:.1f}\n" for c in clips)


def metadata_files(clips: list[Clip]) -> dict[str, str]:
    """Metadata path (merged tree) -> text."""
    by = {s: [c for c in clips if c.file.split == s] for s in ALL_TREE}
    weak_rows = "".join(
        f"{c.file.stem}.wav\t{','.join(sorted({label for _, _, label in c.annotated}))}\n" for c in by["weak"]
    )
    return {
        TREE["synthetic_train"][1]: _strong_tsv(by["synthetic_train"], _synth_time),
        TREE["synthetic_validate"][1]: _strong_tsv(by["synthetic_validate"], _synth_time),
        DURATIONS["synthetic_validate"]: _durations_tsv(by["synthetic_validate"]),
        TREE["weak"][1]: "filename\tevent_labels\n" + weak_rows,
        TREE["unlabel_in_domain"][1]: "filename\n" + "".join(f"{c.file.stem}.wav\n" for c in by["unlabel_in_domain"]),
        TREE["validation"][1]: _strong_tsv(by["validation"], _ms),
        DURATIONS["validation"]: _durations_tsv(by["validation"]),
        TREE["public_eval"][1]: _strong_tsv(by["public_eval"], _ms),
        STRONG_REAL_TREE[1]: _strong_tsv(by[STRONG_REAL], _ms),
    }


def _with_folders(files: dict[str, bytes], folders: tuple[str, ...] = ()) -> dict[str, bytes | None]:
    """The entries of `files` plus `folders` and every parent folder (None), for a tar that lists its folders."""
    entries: dict[str, bytes | None] = {"": None}
    for name in [*files, *(f"{folder}/" for folder in folders)]:
        parts = name.split("/")
        for i in range(1, len(parts)):
            entries["/".join(parts[:i])] = None
    entries.update(files)
    return entries


def write(
    spec: DatasetSpec, stand_in: DesedStandIn, clips: list[Clip], out_dir: Path, sample_rate: int, seed: int
) -> list[Path]:
    """The five archives (module docstring); audio is rendered while packing, one clip at a time."""
    synth_name, meta_name, public_name, youtube_name, strong_name = spec.embedded_archives
    meta = metadata_files(clips)

    def audio_path(c: Clip) -> str:
        return f"{ALL_TREE[c.file.split][0]}/{c.file.stem}.wav"

    def render(c: Clip) -> Callable[[], bytes]:
        return functools.partial(_render_file, stand_in, c.file, sample_rate, seed)

    with atomic_path(out_dir / synth_name) as tmp, zipfile.ZipFile(tmp, "w") as zf:
        for subset in SYNTHETIC:
            for c in (c for c in clips if c.file.split == subset):
                _zip_write(zf, f"{SYNTH_ROOT}/{audio_path(c)}", render(c)(), 0)
                scaper = "".join(f"{on:.9f}\t{off:.9f}\t{label}\n" for on, off, label in c.annotated)
                _zip_write(zf, f"{SYNTH_ROOT}/{audio_path(c)[: -len('.wav')]}.txt", scaper.encode(), 6)
        for name in sorted(meta):
            if name.startswith("metadata/train/synthetic21_") or name.startswith("metadata/validation/synthetic21_"):
                _zip_write(zf, f"{SYNTH_ROOT}/{name}", meta[name].encode(), 6)

    readme = (
        b"DESED embedded stand-in generated by sedrepro.datasets.desed_standin: procedural sounds, real layout.\n"
        b"Not the real DESED (Turpault et al. 2019; DCASE 2022 Task 4).\n"
    )
    real_meta = {
        name: text.encode()
        for name, text in meta.items()
        if "/synthetic21_" not in name and name != STRONG_REAL_TREE[1]
    }
    _pack_tar_gz(spec, out_dir, _with_folders({"README": readme, **real_meta}), {}, meta_name)

    public = [c for c in clips if c.file.split == "public_eval"]
    files: dict[str, bytes] = {TREE["public_eval"][1]: meta[TREE["public_eval"][1]].encode()}
    files.update({audio_path(c): b"" for c in public})  # placeholders: rendered while streaming
    _pack_tar_gz(spec, out_dir, _with_folders(files), {audio_path(c): render(c) for c in public}, public_name)

    shipped = [c for c in clips if c.file.split in YOUTUBE and not c.missing]
    # each audio folder is listed, even one whose clips are all missing
    entries = _with_folders({audio_path(c): b"" for c in shipped}, tuple(TREE[s][0] for s in YOUTUBE))
    _pack_tar_gz(spec, out_dir, entries, {audio_path(c): render(c) for c in shipped}, youtube_name)

    strong = [c for c in clips if c.file.split == STRONG_REAL and not c.missing]
    files = {STRONG_REAL_TREE[1]: meta[STRONG_REAL_TREE[1]].encode(), **{audio_path(c): b"" for c in strong}}
    entries = _with_folders(files, (STRONG_REAL_TREE[0],))
    _pack_tar_gz(spec, out_dir, entries, {audio_path(c): render(c) for c in strong}, strong_name)
    return [out_dir / a for a in spec.embedded_archives]


def generate(spec: DatasetSpec, stand_in: DesedStandIn, out_dir: Path, params: dict) -> dict:
    """Check params, write the five archives and manifest.json into out_dir; return the manifest."""
    check_params(params)
    if tuple(spec.embedded_archives) != ARCHIVES:
        raise ValueError(f"dataset {spec.name}: embedded_archives must be {ARCHIVES}, not {spec.embedded_archives}")
    out_dir.mkdir(parents=True, exist_ok=True)
    clips = plan(spec, stand_in, params)
    paths = write(spec, stand_in, clips, out_dir, params["sample_rate"], params["seed"])
    return _write_manifest(spec.name, out_dir, paths, {k: params[k] for k in PARAM_KEYS}, [c.file for c in clips])


STAND_IN = DesedStandIn(SOUNDS)
