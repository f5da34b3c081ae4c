"""Embedded stand-in datasets: small procedural copies of TUT-SED Synthetic 2016, URBAN-SED and UrbanSound8K, packed like the real ones.

The archives have the real names and the real layout inside, so the download/extract/index rules run unchanged on
them. Sounds are procedural (harmonic tones, sweeps, band noise, pulse trains) with a distinct kind and frequency
per class, spread over 50-11,025 Hz so that a 96-band log-mel separates them; each class has its own typical
event length. Everything is seeded and packed without timestamps, so two runs give byte-identical archives.

UrbanSound8K is a clip dataset: one class sound over Brownian background per clip, 10 fold folders, a metadata CSV
with the real columns, and the real dataset's variety of sample rates, sample formats and channel counts.

What differs between datasets is declared by each dataset's stand-in (`SedStandIn`, `ClipStandIn`: sounds, file
names, background, annotation format, archive writer), which its `DatasetSpec.embedded` names; nothing here looks at a
dataset's name.

CLI: python -m sedrepro.datasets.embedded --dataset NAME --out DIR --params JSON [--log FILE]
"""

from __future__ import annotations

import argparse
import functools
import gzip
import io
import logging
import tarfile
import zipfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile
from scipy.fft import irfft, next_fast_len

from .. import cli
from ..io import atomic_path, fail, write_json
from .archive import file_digests
from .base import SPLITS, DatasetSpec

log = logging.getLogger(__name__)

# What the stage writes beside the archives (the rules name its output from it).
MANIFEST_FILE = "manifest.json"

ZIP_DATE = (2017, 1, 1, 0, 0, 0)  # fixed entry time: zip has no "no timestamp" option
URBAN_DURATION_S = 10.0
URBAN_DISTRIBUTIONS = ("uniform", "unimodal", "bimodal")  # the three name stems of the real files
SNR_DB = (6.0, 24.0)
# Valid gzip made of stored deflate blocks: noisy audio deflates by ~15 % only, at most of the generation time.
GZIP_LEVEL = 0
BACKGROUND_RMS = 0.01
PARAM_KEYS = (
    "n_train",
    "n_validate",
    "n_test",
    "duration_s",
    "events_per_file",
    "max_polyphony",
    "sample_rate",
    "seed",
)
CLIP_PARAM_KEYS = ("clips_per_fold", "duration_s", "sample_rates", "subtypes", "channels", "seed")  # urbansound8k
CLIP_MAX_DURATION_S = 4.0  # every real UrbanSound8K clip is at most 4 s
CLIP_MIN_DURATION_S = 0.01
MIN_DURATION_S = 0.1  # SED files: with it every event (drawn, or the fallback) has offset > onset after rounding
CLIP_SUBTYPES = ("PCM_U8", "PCM_16", "PCM_24", "PCM_32", "FLOAT", "IMA_ADPCM")  # 4 to 32 bit, as in the real data
SALIENCE_SNR_DB = {1: (12.0, 24.0), 2: (0.0, 6.0)}  # UrbanSound8K salience: 1 foreground, 2 background


@dataclass(frozen=True)
class Sound:
    """Recipe of one class: kind, main frequency (Hz), a kind-specific parameter, event length range (s), decay (s)."""

    kind: str  # "harmonic": f0 + harmonics (param = count); "sweep": lo->param Hz; "noise": band (param = octaves); "pulses": bursts at param Hz
    freq_hz: float
    param: float
    length_s: tuple[float, float]
    decay_s: float = 0.0  # > 0: exponential decay over the event (impulsive sounds)


SOUNDS: dict[str, dict[str, Sound]] = {
    "tut_sed_synthetic_2016": {
        "alarms_and_sirens": Sound("sweep", 900.0, 1800.0, (2.0, 6.0)),
        "baby_crying": Sound("harmonic", 420.0, 6, (2.0, 6.0)),
        "bird_singing": Sound("sweep", 3500.0, 6000.0, (2.0, 8.0)),
        "bus": Sound("noise", 120.0, 0.7, (4.0, 10.0)),
        "cat_meowing": Sound("harmonic", 650.0, 4, (0.5, 2.0)),
        "crowd_applause": Sound("pulses", 2500.0, 12.0, (3.0, 8.0)),
        "crowd_cheering": Sound("noise", 1300.0, 0.5, (3.0, 8.0)),
        "dog_barking": Sound("pulses", 500.0, 3.0, (0.5, 2.0)),
        "footsteps": Sound("pulses", 250.0, 2.0, (2.0, 6.0)),
        "glass_smash": Sound("noise", 7000.0, 0.4, (0.5, 1.5), decay_s=0.3),
        "gun_shot": Sound("noise", 3200.0, 0.6, (0.3, 1.5), decay_s=0.15),
        "horsewalk": Sound("pulses", 800.0, 4.0, (3.0, 8.0)),
        "mixer": Sound("harmonic", 180.0, 10, (4.0, 10.0)),
        "motorcycle": Sound("harmonic", 90.0, 12, (4.0, 10.0)),
        "rain": Sound("noise", 9500.0, 0.5, (4.0, 10.0)),
        "thunder": Sound("noise", 60.0, 0.8, (1.0, 4.0), decay_s=1.0),
    },
    "urban_sed": {
        "air_conditioner": Sound("noise", 150.0, 0.5, (4.0, 10.0)),
        "car_horn": Sound("harmonic", 440.0, 5, (0.5, 2.0)),
        "children_playing": Sound("sweep", 1000.0, 1600.0, (2.0, 6.0)),
        "dog_bark": Sound("pulses", 700.0, 3.0, (0.5, 2.0)),
        "drilling": Sound("harmonic", 2200.0, 3, (2.0, 6.0)),
        "engine_idling": Sound("harmonic", 60.0, 10, (4.0, 10.0)),
        "gun_shot": Sound("noise", 3500.0, 0.6, (0.3, 1.5), decay_s=0.15),
        "jackhammer": Sound("pulses", 1200.0, 15.0, (2.0, 6.0)),
        "siren": Sound("sweep", 600.0, 1400.0, (3.0, 8.0)),
        "street_music": Sound("noise", 7500.0, 0.3, (4.0, 10.0)),
    },
}
SOUNDS["urbansound8k"] = SOUNDS["urban_sed"]  # URBAN-SED was mixed from UrbanSound8K's clips: the same 10 classes


@dataclass(frozen=True)
class PlannedFile:
    stem: str
    split: str
    number: int  # seeds this file's audio, so rendering order does not matter
    duration_s: float
    events: tuple[tuple[float, float, str, float], ...]  # onset, offset, label, snr_db


@dataclass(frozen=True, eq=False)
class SedStandIn:
    """The stand-in of one SED dataset: its class sounds, how files are named and split (`name_files`: spec, counts
    per split, rng -> split -> [(number, stem)]), the background ("brownian" 1/f^2 noise or a "hiss"), annotation
    times as Python float reprs or %.6f, the archive writer, and the duration every file has where the real one fixes it."""

    sounds: Mapping[str, Sound]
    name_files: Callable[[DatasetSpec, dict[str, int], np.random.Generator], dict[str, list[tuple[int, str]]]]
    write: Callable[[DatasetSpec, SedStandIn, list[PlannedFile], Path, int, int], list[Path]]
    background: str
    float_repr_times: bool = False
    fixed_duration_s: float | None = None
    param_keys: tuple[str, ...] = PARAM_KEYS

    def run(self, spec: DatasetSpec, out_dir: Path, params: dict) -> dict:
        return generate(
            spec.name,
            out_dir,
            n_train=params["n_train"],
            n_validate=params["n_validate"],
            n_test=params["n_test"],
            duration_s=tuple(params["duration_s"]),
            events_per_file=tuple(params["events_per_file"]),
            max_polyphony=params["max_polyphony"],
            sample_rate=params["sample_rate"],
            seed=params["seed"],
        )


@dataclass(frozen=True, eq=False)
class ClipStandIn:
    """The stand-in of a clip dataset (one class sound per clip over a background, one folder per fold)."""

    sounds: Mapping[str, Sound]
    write: Callable[[DatasetSpec, ClipStandIn, list[PlannedClip], Path, int], list[Path]]
    background: str
    param_keys: tuple[str, ...] = CLIP_PARAM_KEYS

    def run(self, spec: DatasetSpec, out_dir: Path, params: dict) -> dict:
        return generate_clips(
            spec.name,
            out_dir,
            clips_per_fold=params["clips_per_fold"],
            duration_s=tuple(params["duration_s"]),
            sample_rates=params["sample_rates"],
            subtypes=params["subtypes"],
            channels=params["channels"],
            seed=params["seed"],
        )


def _stand_in(name: str, kind: type) -> tuple[DatasetSpec, SedStandIn | ClipStandIn]:
    """The registered dataset `name` and its stand-in, which must be of `kind`."""
    from . import get  # late: the dataset modules import this one for their stand-ins

    spec = get(name)
    if not isinstance(spec.embedded, kind):
        raise fail(
            "dataset", f"a dataset with a {kind.__name__} stand-in", f"{name!r} ({type(spec.embedded).__name__})"
        )
    return spec, spec.embedded


def _check_params(
    stand_in: SedStandIn,
    name: str,
    n_train: int,
    n_validate: int,
    n_test: int,
    duration_s: tuple[float, float],
    events_per_file: tuple[int, int],
    max_polyphony: int,
    sample_rate: int,
) -> None:
    for key, value in (("n_train", n_train), ("n_validate", n_validate), ("n_test", n_test)):
        if int(value) != value or value < 1:
            raise fail(f"params.{key}", "an integer >= 1", repr(value))
    lo, hi = duration_s
    # Durations are drawn to 0.1 s, so a smaller min could give a 0 s file whose fallback event has onset == offset.
    if not MIN_DURATION_S <= lo <= hi:
        raise fail(
            "params.duration_s",
            f"[min, max] with {MIN_DURATION_S:g} <= min <= max (durations are drawn to 0.1 s)",
            repr(list(duration_s)),
        )
    fixed = stand_in.fixed_duration_s
    if fixed is not None and (lo, hi) != (fixed, fixed):
        raise fail(
            "params.duration_s",
            f"[{fixed:g}, {fixed:g}] for {name} (every file of the real dataset lasts {fixed:g} s)",
            repr(list(duration_s)),
        )
    e_lo, e_hi = events_per_file
    if not 1 <= e_lo <= e_hi:
        raise fail("params.events_per_file", "[min, max] with 1 <= min <= max", repr(list(events_per_file)))
    if max_polyphony < 1:
        raise fail("params.max_polyphony", "an integer >= 1", repr(max_polyphony))
    if sample_rate < 8000:
        raise fail("params.sample_rate", "a sample rate >= 8000 Hz", repr(sample_rate))


def _fits(events: list[tuple[float, float, str, float]], onset: float, offset: float, max_polyphony: int) -> bool:
    """True when adding [onset, offset) keeps the number of simultaneous events <= max_polyphony."""
    points = [(onset, 1), (offset, -1)]
    for a, b, _, _ in events:
        if a < offset and b > onset:
            points += [(a, 1), (b, -1)]
    level = 0
    for _, delta in sorted(points):  # -1 sorts before +1 at equal times: touching is not overlapping
        level += delta
        if level > max_polyphony:
            return False
    return True


def tut_names(spec: DatasetSpec, counts: dict[str, int], rng: np.random.Generator) -> dict[str, list[tuple[int, str]]]:
    """TUT-SED mixtures <root>-mix-<n>: numbers shuffled over the splits, so the split lists (not the numbers)
    decide the split."""
    numbers = rng.permutation(sum(counts.values()))
    assigned = {}
    start = 0
    for split in SPLITS:
        assigned[split] = sorted(int(n) for n in numbers[start : start + counts[split]])
        start += counts[split]
    return {split: [(n, f"{spec.root_name}-mix-{n}") for n in assigned[split]] for split in SPLITS}


def urban_names(
    spec: DatasetSpec, counts: dict[str, int], rng: np.random.Generator
) -> dict[str, list[tuple[int, str]]]:
    """URBAN-SED soundscapes soundscape_<split>_<distribution><k>, numbered in split order (no draw)."""
    names = {}
    number = 0
    for split in SPLITS:
        per_dist = {d: 0 for d in URBAN_DISTRIBUTIONS}
        names[split] = []
        for i in range(counts[split]):
            dist = URBAN_DISTRIBUTIONS[i % len(URBAN_DISTRIBUTIONS)]
            names[split].append((number, f"soundscape_{split}_{dist}{per_dist[dist]}"))
            per_dist[dist] += 1
            number += 1
    return names


def _plan(
    spec: DatasetSpec,
    stand_in: SedStandIn,
    counts: dict[str, int],
    duration_s: tuple[float, float],
    events_per_file: tuple[int, int],
    max_polyphony: int,
    sample_rate: int,
    rng: np.random.Generator,
) -> list[PlannedFile]:
    """Choose names, splits, durations and events for every file (cheap; audio is rendered later)."""
    sounds = stand_in.sounds
    names = stand_in.name_files(spec, counts, rng)
    plans = []
    for split in SPLITS:
        deck: list[str] = []  # shuffled round-robin over classes: every class shows up in every big-enough split
        for number, stem in names[split]:
            dur = round(float(rng.uniform(*duration_s)), 1) if duration_s[0] != duration_s[1] else float(duration_s[0])
            dur = round(dur * sample_rate) / sample_rate
            wanted = int(rng.integers(events_per_file[0], events_per_file[1] + 1))
            events: list[tuple[float, float, str, float]] = []
            for _ in range(wanted):
                if not deck:
                    deck = [spec.classes[i] for i in rng.permutation(len(spec.classes))]
                label = deck.pop()
                lo, hi = sounds[label].length_s
                length = min(float(rng.uniform(lo, hi)), dur)
                snr = round(float(rng.uniform(*SNR_DB)), 2)
                for _attempt in range(20):
                    onset = round(float(rng.uniform(0.0, dur - length)), 6)
                    offset = round(min(onset + length, dur), 6)
                    if offset > onset and _fits(events, onset, offset, max_polyphony):
                        events.append((onset, offset, label, snr))
                        break
            if not events:  # the split lists of TUT name files through their events: never leave a file empty
                # dur >= MIN_DURATION_S and every class's events last >= 0.3 s, so this event has offset > onset
                length = min(float(rng.uniform(*sounds[spec.classes[0]].length_s)), dur)
                events.append((0.0, round(length, 6), spec.classes[0], SNR_DB[1]))
            events.sort()
            plans.append(PlannedFile(stem, split, number, dur, tuple(events)))
    return plans


F32 = np.float32  # audio is rendered in float32: half the memory traffic, and the WAV is 16-bit anyway


@functools.lru_cache(maxsize=8)
def _brownian_gain(size: int, leak: float) -> np.ndarray:
    """|1 / (1 - leak e^-jw)| on the rfft bins: the leaky integrator behind Brownian (1/f^2) noise."""
    w = 2 * np.pi * np.arange(size // 2 + 1) / size
    return (1.0 / np.sqrt(1.0 - 2.0 * leak * np.cos(w) + leak * leak)).astype(F32)


def _shaped_noise(
    n: int, sample_rate: int, rng: np.random.Generator, centre_hz: float = 0.0, octaves: float = 1.0, leak: float = 0.0
) -> np.ndarray:
    """Gaussian noise drawn directly as rfft coefficients and shaped there (one inverse FFT, no forward one).

    leak > 0: Brownian noise. Otherwise a Gaussian band in log-frequency around centre_hz, `octaves` wide; only
    the bins within 4 widths of the centre are drawn, which is what makes short narrow events cheap.
    """
    size = next_fast_len(max(n, 2), real=True)  # event lengths are arbitrary; prime FFT sizes are 100x slower
    bins = size // 2 + 1
    spectrum = np.zeros(bins, dtype=np.complex64)
    if leak > 0:
        lo, hi = 1, bins
        gain = _brownian_gain(size, leak)[lo:hi]
    else:
        lo = max(1, int(np.ceil(centre_hz * 2 ** (-4 * octaves) * size / sample_rate)))
        hi = min(bins, int(centre_hz * 2 ** (4 * octaves) * size / sample_rate) + 1)
        if hi <= lo:  # a band narrower than one bin (very short event): keep the nearest bin
            lo = min(max(1, int(round(centre_hz * size / sample_rate))), bins - 1)
            hi = lo + 1
        freqs = np.arange(lo, hi, dtype=F32) * F32(sample_rate / size)
        gain = np.exp(-0.5 * (np.log2(freqs / F32(centre_hz)) / F32(octaves)) ** 2)
    coeff = rng.standard_normal((2, hi - lo), dtype=F32)
    spectrum[lo:hi] = (coeff[0] + 1j * coeff[1]) * gain
    return irfft(spectrum, size)[:n].astype(F32)


def _render_event(sound: Sound, n: int, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """One event of n samples (float32), unit RMS, with attack/release ramps; frequencies jitter by up to 5 %."""
    t = (np.arange(n) / sample_rate).astype(F32)
    nyquist = 0.45 * sample_rate
    jitter = float(rng.uniform(0.95, 1.05))
    freq = min(sound.freq_hz * jitter, nyquist)
    if sound.kind == "harmonic":
        f_inst = freq * (1.0 + 0.01 * np.sin(2 * np.pi * 5.0 * t, dtype=np.float64))  # slight vibrato
        # Phase accumulates in float64 and is wrapped before the float32 sines, so it never drifts.
        phase = np.mod(2 * np.pi * np.cumsum(f_inst) / sample_rate, 2 * np.pi).astype(F32)
        x = np.zeros(n, dtype=F32)
        for k in range(1, int(sound.param) + 1):
            if k * freq < nyquist:
                x += np.sin(F32(k) * phase) / F32(k)
    elif sound.kind == "sweep":
        hi = min(sound.param * jitter, nyquist)
        period = 1.0 if sound.freq_hz < 2000 else 0.15  # sirens sweep slowly, birds chirp fast
        frac = (t.astype(np.float64) / period) % 1.0
        f_inst = freq * (hi / freq) ** (1.0 - np.abs(2.0 * frac - 1.0))
        phase = np.mod(2 * np.pi * np.cumsum(f_inst) / sample_rate, 2 * np.pi).astype(F32)
        x = np.sin(phase) + F32(0.3) * np.sin(F32(2) * phase)
    elif sound.kind == "noise":
        x = _shaped_noise(n, sample_rate, rng, centre_hz=freq, octaves=sound.param)
    elif sound.kind == "pulses":
        rate = F32(sound.param * jitter)
        x = _shaped_noise(n, sample_rate, rng, centre_hz=freq, octaves=0.5) * np.exp(
            -((t % (F32(1) / rate)) * rate) / F32(0.2)
        )
    else:
        raise ValueError(sound.kind)
    ramp_in, ramp_out = min(n // 2, int(0.01 * sample_rate)), min(n // 2, int(0.05 * sample_rate))
    if sound.decay_s > 0:
        x *= np.exp(-t / F32(sound.decay_s))
    x[:ramp_in] *= np.linspace(0.0, 1.0, ramp_in, endpoint=False, dtype=F32)
    if ramp_out:
        x[n - ramp_out :] *= np.linspace(1.0, 0.0, ramp_out, dtype=F32)
    rms = float(np.sqrt(np.mean(x.astype(np.float64) ** 2))) if n else 0.0
    return x / F32(rms) if rms > 0 else x


def _render_file(
    stand_in: SedStandIn | ClipStandIn,
    plan: PlannedFile,
    sample_rate: int,
    seed: int,
    subtype: str = "PCM_16",
    channels: int = 1,
) -> bytes:
    """WAV bytes of one planned file (background noise + events at their SNR, peak-limited); 16-bit mono by default.

    With 2 channels the second is the first, delayed by 7 samples and 2 dB quieter (a cheap stereo image).
    """
    rng = np.random.default_rng([seed, plan.number, 1])
    n = int(round(plan.duration_s * sample_rate))
    if stand_in.background == "brownian":
        bg = _shaped_noise(n, sample_rate, rng, leak=0.998)  # Brownian noise, like the real background
    else:
        white = rng.standard_normal(n + 1, dtype=F32)
        bg = F32(0.5) * (white[1:] + white[:-1])  # gentle low-pass hiss; TUT mixtures have no stated background
    bg -= bg.mean()
    bg *= F32(BACKGROUND_RMS / max(float(np.sqrt(np.mean(bg.astype(np.float64) ** 2))), 1e-12))
    mix = bg
    sounds = stand_in.sounds
    for onset, offset, label, snr in plan.events:
        a, b = int(round(onset * sample_rate)), min(int(round(offset * sample_rate)), n)
        if b > a:
            mix[a:b] += _render_event(sounds[label], b - a, sample_rate, rng) * F32(BACKGROUND_RMS * 10 ** (snr / 20))
    peak = float(np.max(np.abs(mix)))
    if peak > 0.9:
        mix *= F32(0.9 / peak)
    if channels == 2:
        mix = np.stack([mix, F32(0.8) * np.concatenate([np.zeros(min(7, n), dtype=F32), mix[: max(n - 7, 0)]])], axis=1)
    buf = io.BytesIO()
    soundfile.write(buf, mix, sample_rate, subtype=subtype, format="WAV")
    return _zero_peak_timestamp(buf.getvalue())


def _zero_peak_timestamp(wav: bytes) -> bytes:
    """libsndfile adds a PEAK chunk to float WAVs with the current time in it: zero that time, for identical bytes."""
    data = bytearray(wav)
    pos = 12  # after RIFF <size> WAVE
    while pos + 8 <= len(data):
        size = int.from_bytes(data[pos + 4 : pos + 8], "little")
        if data[pos : pos + 4] == b"PEAK" and size >= 8:
            data[pos + 12 : pos + 16] = bytes(4)  # chunk body: version (4 bytes), timestamp (4 bytes), peaks
        pos += 8 + size + (size & 1)
    return bytes(data)


def _annotation_text(stand_in: SedStandIn, plan: PlannedFile) -> str:
    if stand_in.float_repr_times:
        return "".join(f"{float(on)!r}\t{float(off)!r}\t{label}\n" for on, off, label, _ in plan.events)
    return "".join(f"{on:.6f}\t{off:.6f}\t{label}\n" for on, off, label, _ in plan.events)


def _zip_write(zf: zipfile.ZipFile, name: str, data: bytes, level: int) -> None:
    """level 0 stores (audio: deflate gains ~15 % on noisy audio and costs most of the run time)."""
    info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
    info.compress_type = zipfile.ZIP_DEFLATED if level > 0 else zipfile.ZIP_STORED
    info.create_system = 3  # fixed, otherwise it depends on the platform that wrote it
    info.external_attr = 0o644 << 16
    zf.writestr(info, data, compresslevel=level if level > 0 else None)


def _tar_members(root: str, entries: list[tuple[str, bytes | None]]) -> Iterator[tuple[tarfile.TarInfo, bytes | None]]:
    for name, data in entries:
        info = tarfile.TarInfo(f"{root}/{name}" if name else root)
        info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
        if data is None:
            info.type, info.mode = tarfile.DIRTYPE, 0o755
        else:
            info.size, info.mode = len(data), 0o644
        yield info, data


def write_tut(
    spec: DatasetSpec, stand_in: SedStandIn, plans: list[PlannedFile], out_dir: Path, sample_rate: int, seed: int
) -> list[Path]:
    """TUT-SED layout: a meta zip (annotations and DCASE split lists) and the audio in two zips."""
    root = spec.root_name
    meta_name, audio1, audio2 = spec.embedded_archives
    by_split = {s: [p for p in plans if p.split == s] for s in SPLITS}

    # DCASE-style lists: one line per event for annotated lists, one line per file for test.txt.
    def event_lines(items: list[PlannedFile]) -> str:
        return "".join(
            f"audio/{p.stem}.wav\t{on:.6f}\t{off:.6f}\t{label}\n"
            for p in sorted(items, key=lambda q: q.number)
            for on, off, label, _ in p.events
        )

    lists = {
        "train+validate.txt": event_lines(by_split["train"] + by_split["validate"]),
        "validate.txt": event_lines(by_split["validate"]),
        "test.txt": "".join(f"audio/{p.stem}.wav\n" for p in sorted(by_split["test"], key=lambda q: q.number)),
        "evaluate.txt": event_lines(by_split["test"]),
    }
    with atomic_path(out_dir / meta_name) as tmp, zipfile.ZipFile(tmp, "w") as zf:
        for p in sorted(plans, key=lambda q: q.number):
            _zip_write(
                zf, f"{root}/meta/{p.stem.replace('-mix-', '-annot-')}.txt", _annotation_text(stand_in, p).encode(), 6
            )
        for name in sorted(lists):
            _zip_write(zf, f"{root}/evaluation_setup/{name}", lists[name].encode(), 6)
    ordered = sorted(plans, key=lambda q: q.number)
    half = (len(ordered) + 1) // 2
    for archive, part in ((audio1, ordered[:half]), (audio2, ordered[half:])):
        with atomic_path(out_dir / archive) as tmp, zipfile.ZipFile(tmp, "w") as zf:
            for p in part:
                _zip_write(zf, f"{root}/audio/{p.stem}.wav", _render_file(stand_in, p, sample_rate, seed), 0)
    return [out_dir / a for a in spec.embedded_archives]


def write_urban(
    spec: DatasetSpec, stand_in: SedStandIn, plans: list[PlannedFile], out_dir: Path, sample_rate: int, seed: int
) -> list[Path]:
    """URBAN-SED layout: one .tar.gz with annotations/<split>/ and audio/<split>/."""
    readme = (
        b"URBAN-SED embedded stand-in generated by sedrepro.datasets.embedded: procedural sounds, real layout.\n"
        b"Not the real URBAN-SED (CC BY 4.0, Salamon et al. 2017).\n"
    )
    entries: dict[str, bytes | None] = {"": None, "README": readme, "annotations": None, "audio": None}
    audio: dict[str, PlannedFile] = {}
    for split in SPLITS:
        entries[f"annotations/{split}"] = None
        entries[f"audio/{split}"] = None
    for p in plans:
        entries[f"annotations/{p.split}/{p.stem}.txt"] = _annotation_text(stand_in, p).encode()
        audio[f"audio/{p.split}/{p.stem}.wav"] = p
        entries[f"audio/{p.split}/{p.stem}.wav"] = b""  # placeholder: rendered while streaming, in sorted order
    render = {name: functools.partial(_render_file, stand_in, p, sample_rate, seed) for name, p in audio.items()}
    return [_pack_tar_gz(spec, out_dir, entries, render)]


def _pack_tar_gz(
    spec: DatasetSpec,
    out_dir: Path,
    entries: dict[str, bytes | None],
    render: dict[str, Callable[[], bytes]],
    archive_name: str | None = None,
) -> Path:
    """Write <root_name>/<entry> members in sorted order into the spec's .tar.gz, reproducibly (no timestamps, owners).

    Entries with None are folders; names in `render` are rendered while streaming, one at a time. The archive is
    `archive_name`, by default the spec's first embedded archive (a stand-in of several .tar.gz names each).
    """
    archive = out_dir / (archive_name or spec.embedded_archives[0])
    with (
        atomic_path(archive, suffix=".tmp") as tmp,
        open(tmp, "wb") as raw,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=GZIP_LEVEL) as gz,
        tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tf,
    ):
        for name in sorted(entries):
            data = render[name]() if name in render else entries[name]
            for info, payload in _tar_members(spec.root_name, [(name, data)]):
                tf.addfile(info, io.BytesIO(payload) if payload is not None else None)
    return archive


def _digests(path: Path) -> dict:
    md5, sha256 = file_digests(path)
    return {"name": path.name, "bytes": path.stat().st_size, "md5": md5, "sha256": sha256}


def generate(
    name: str,
    out_dir: Path,
    n_train: int,
    n_validate: int,
    n_test: int,
    duration_s: tuple[float, float],
    events_per_file: tuple[int, int],
    max_polyphony: int,
    sample_rate: int,
    seed: int,
) -> dict:
    """Write the embedded archives of dataset `name` and manifest.json into out_dir; return the manifest."""
    spec, stand_in = _stand_in(name, SedStandIn)
    duration_s = (float(duration_s[0]), float(duration_s[1]))
    events_per_file = (int(events_per_file[0]), int(events_per_file[1]))
    _check_params(stand_in, name, n_train, n_validate, n_test, duration_s, events_per_file, max_polyphony, sample_rate)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng([seed, 0])
    counts = {"train": int(n_train), "validate": int(n_validate), "test": int(n_test)}
    plans = _plan(spec, stand_in, counts, duration_s, events_per_file, int(max_polyphony), int(sample_rate), rng)
    paths = stand_in.write(spec, stand_in, plans, out_dir, int(sample_rate), int(seed))
    params = {
        "n_train": int(n_train),
        "n_validate": int(n_validate),
        "n_test": int(n_test),
        "duration_s": list(duration_s),
        "events_per_file": list(events_per_file),
        "max_polyphony": int(max_polyphony),
        "sample_rate": int(sample_rate),
        "seed": int(seed),
    }
    return _write_manifest(name, out_dir, paths, params, plans)


def _write_manifest(name: str, out_dir: Path, paths: list[Path], params: dict, plans: list[PlannedFile]) -> dict:
    """manifest.json: the archives with their size and digests (what the download step verifies), and the params."""
    manifest = {"dataset": name, "archives": [_digests(p) for p in paths], "params": params}
    write_json(out_dir / MANIFEST_FILE, manifest)
    log.info(
        "%s: %d files, %d events, archives %s",
        name,
        len(plans),
        sum(len(p.events) for p in plans),
        ", ".join(f"{a['name']} ({a['bytes']:,} B)" for a in manifest["archives"]),
    )
    return manifest


@dataclass(frozen=True)
class PlannedClip:
    """One UrbanSound8K clip: the file (split = fold<k>, one event over the whole clip) and its metadata and format."""

    file: PlannedFile
    fs_id: int
    class_id: int
    start_s: float
    salience: int
    sample_rate: int
    subtype: str
    channels: int


def _dealer(values: list, rng: np.random.Generator) -> Callable[[], object]:
    """Deal values in shuffled rounds, so every value shows up once per len(values) draws."""
    deck: list = []

    def draw() -> object:
        if not deck:
            deck.extend(values[i] for i in rng.permutation(len(values)))
        return deck.pop()

    return draw


def _check_clip_params(
    clips_per_fold: int,
    duration_s: tuple[float, float],
    sample_rates: list[int],
    subtypes: list[str],
    channels: list[int],
) -> None:
    if int(clips_per_fold) != clips_per_fold or clips_per_fold < 1:
        raise fail("params.clips_per_fold", "an integer >= 1", repr(clips_per_fold))
    lo, hi = duration_s
    # The metadata's start and end are written to 1 us: a 10 ms floor keeps end > start whatever the sample rate.
    if not CLIP_MIN_DURATION_S <= lo <= hi <= CLIP_MAX_DURATION_S:
        raise fail(
            "params.duration_s",
            f"[min, max] with {CLIP_MIN_DURATION_S:g} <= min <= max <= {CLIP_MAX_DURATION_S:g} (clips are <= 4 s)",
            repr(list(duration_s)),
        )
    for key, values, ok, what in (
        ("sample_rates", sample_rates, lambda v: isinstance(v, int) and v >= 8000, "sample rates >= 8000 Hz"),
        ("subtypes", subtypes, lambda v: v in CLIP_SUBTYPES, f"sample formats of {', '.join(CLIP_SUBTYPES)}"),
        ("channels", channels, lambda v: v in (1, 2), "channel counts 1 or 2"),
    ):
        if not values or not all(ok(v) for v in values):
            raise fail(f"params.{key}", f"a non-empty list of {what}", repr(values))


def _plan_clips(
    spec: DatasetSpec,
    clips_per_fold: int,
    duration_s: tuple[float, float],
    sample_rates: list[int],
    subtypes: list[str],
    channels: list[int],
    rng: np.random.Generator,
) -> list[PlannedClip]:
    """Per fold, clips_per_fold clips; classes, rates, formats and channel counts dealt round-robin over the dataset.

    Names follow the real <fsID>-<classID>-<occurrenceID>-<sliceID>.wav; as in the real CSV a slice starts at
    sliceID * 0.5 s of its Freesound recording. Half of the clips last the maximum (most real clips are 4 s).
    """
    label_of, rate_of = _dealer(list(spec.classes), rng), _dealer(list(sample_rates), rng)
    subtype_of, channels_of = _dealer(list(subtypes), rng), _dealer(list(channels), rng)
    clips = []
    number = 0
    for fold in spec.splits:
        for _ in range(clips_per_fold):
            label = label_of()
            class_id = spec.classes.index(label)
            sample_rate = int(rate_of())
            seconds = duration_s[1] if rng.random() < 0.5 else float(rng.uniform(*duration_s))
            dur = max(1, int(round(seconds * sample_rate))) / sample_rate
            fs_id = 100000 + 7919 * number  # unique per clip, so no recording spans two folds
            slice_id = int(rng.integers(0, 200))
            salience = int(rng.integers(1, 3))
            snr = round(float(rng.uniform(*SALIENCE_SNR_DB[salience])), 2)
            plan = PlannedFile(f"{fs_id}-{class_id}-0-{slice_id}", fold, number, dur, ((0.0, dur, label, snr),))
            clips.append(
                PlannedClip(
                    plan, fs_id, class_id, slice_id * 0.5, salience, sample_rate, str(subtype_of()), int(channels_of())
                )
            )
            number += 1
    return clips


def write_urbansound8k(
    spec: DatasetSpec, stand_in: ClipStandIn, clips: list[PlannedClip], out_dir: Path, seed: int
) -> list[Path]:
    """UrbanSound8K layout: one .tar.gz with metadata/UrbanSound8K.csv and audio/fold<k>/."""
    readme = (
        b"UrbanSound8K embedded stand-in generated by sedrepro.datasets.embedded: procedural sounds, real layout.\n"
        b"Not the real UrbanSound8K (CC BY-NC, Salamon, Jacoby and Bello 2014).\n"
    )
    lines = ["slice_file_name,fsID,start,end,salience,fold,classID,class"]
    entries: dict[str, bytes | None] = {"": None, "UrbanSound8K_README.txt": readme, "metadata": None, "audio": None}
    render: dict[str, Callable[[], bytes]] = {}
    for fold in spec.splits:
        entries[f"audio/{fold}"] = None
    for c in sorted(clips, key=lambda q: q.file.stem):
        p = c.file
        label = p.events[0][2]
        lines.append(
            f"{p.stem}.wav,{c.fs_id},{round(c.start_s, 6)!r},{round(c.start_s + p.duration_s, 6)!r},"
            f"{c.salience},{p.split.removeprefix('fold')},{c.class_id},{label}"
        )
        name = f"audio/{p.split}/{p.stem}.wav"
        entries[name] = b""  # placeholder: rendered while streaming
        render[name] = functools.partial(_render_file, stand_in, p, c.sample_rate, seed, c.subtype, c.channels)
    entries["metadata/UrbanSound8K.csv"] = ("\n".join(lines) + "\n").encode()
    return [_pack_tar_gz(spec, out_dir, entries, render)]


def generate_clips(
    name: str,
    out_dir: Path,
    clips_per_fold: int,
    duration_s: tuple[float, float],
    sample_rates: list[int],
    subtypes: list[str],
    channels: list[int],
    seed: int,
) -> dict:
    """Write the embedded archive of a clip dataset (urbansound8k) and manifest.json into out_dir; return the manifest."""
    spec, stand_in = _stand_in(name, ClipStandIn)
    duration_s = (float(duration_s[0]), float(duration_s[1]))
    _check_clip_params(clips_per_fold, duration_s, sample_rates, subtypes, channels)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    clips = _plan_clips(
        spec, int(clips_per_fold), duration_s, sample_rates, subtypes, channels, np.random.default_rng([seed, 0])
    )
    paths = stand_in.write(spec, stand_in, clips, out_dir, int(seed))
    params = {
        "clips_per_fold": int(clips_per_fold),
        "duration_s": list(duration_s),
        "sample_rates": list(sample_rates),
        "subtypes": list(subtypes),
        "channels": list(channels),
        "seed": int(seed),
    }
    return _write_manifest(name, out_dir, paths, params, [c.file for c in clips])


def main(args: argparse.Namespace) -> None:
    from . import get  # late: the dataset modules import this one for their stand-ins

    params = args.params
    spec = get(args.dataset)
    if spec.embedded is None:
        raise fail("--dataset", "a dataset with an embedded stand-in", repr(args.dataset))
    keys = spec.embedded.param_keys
    missing = [k for k in keys if k not in params]
    extra = sorted(set(params) - set(keys))
    if missing or extra:
        raise fail(
            "--params",
            f"keys {', '.join(keys)}",
            ", ".join(
                ([f"missing {', '.join(missing)}"] if missing else [])
                + ([f"unknown {', '.join(extra)}"] if extra else [])
            ),
        )
    for key in ("duration_s", "events_per_file"):
        if key in keys and not (isinstance(params[key], list) and len(params[key]) == 2):
            raise fail(f"--params.{key}", "a list [min, max]", repr(params[key]))
    spec.embedded.run(spec, Path(args.out), params)


def build_parser() -> argparse.ArgumentParser:
    p = cli.parser("Generate a small embedded stand-in of a dataset, packed like the real archives.")
    p.add_argument("--dataset", required=True)
    p.add_argument("--out", required=True)
    p.add_argument(
        "--params",
        required=True,
        type=cli.json_arg,
        help="JSON object with " + ", ".join(PARAM_KEYS) + " (urbansound8k: " + ", ".join(CLIP_PARAM_KEYS) + ")",
    )
    return p


if __name__ == "__main__":
    cli.run(main, build_parser())


TUT_STAND_IN = SedStandIn(SOUNDS["tut_sed_synthetic_2016"], tut_names, write_tut, background="hiss")
# Real URBAN-SED writes Python float reprs separated by tabs, and every file lasts 10 s.
URBAN_STAND_IN = SedStandIn(
    SOUNDS["urban_sed"],
    urban_names,
    write_urban,
    background="brownian",
    float_repr_times=True,
    fixed_duration_s=URBAN_DURATION_S,
)
US8K_STAND_IN = ClipStandIn(SOUNDS["urbansound8k"], write_urbansound8k, background="brownian")
