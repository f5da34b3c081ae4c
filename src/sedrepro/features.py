"""Stage 'features': log-mel spectrograms or MFCCs of every resampled clip, or features shipped with the dataset,
stored as one memory-mappable array.

All clips' frames are concatenated in `features.npy` (float32, (total_frames, n_features)); `frames.tsv` gives each
clip's first row and frame count. Loading an epoch is then one memory map, not one file open per chunk.

Kind "precomputed" reads features a dataset ships instead of computing them (no audio stage) from
`<dataset root>/<path>/`, for every clip of the index (files.tsv): a frame store (sedrepro.frame_store: per-subset
arrays and store.tsv, as AudioSet's index writes; its digests are checked first) when that folder is one, else one
`.npy` per clip, `<file_id>.npy`. Either way a clip is a 2-D array (frames, n_features) of frames `hop_s` apart
(frame i centred at i * hop_s, as the computed kinds). With `store: uint8` the store keeps the
shipped 8-bit values as they are (integers 0..255, checked; a quarter of float32's bytes) and `dequantise` names the
formula that turns them into numbers at batch time (DEQUANTISE, `dequantise()`; recorded in features.json). Short
clips keep their own frame count here; chunks are padded at batch time by the pipeline's chunks.pad (data.SplitData).
"""

from __future__ import annotations

import argparse
import functools
import logging
import numbers
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf
import torch
import torchaudio

from . import cli, layout
from .audio import ordered_map
from .faults import fault_point
from .frame_store import FrameStore, is_store
from .io import atomic_path, fail, read_tsv, write_json, write_tsv
from .progress import progress
from .quantise import DEQUANTISE, dequantise  # noqa: F401  (re-exported: the store's formulas)

log = logging.getLogger(__name__)

AMIN = 1e-10  # floor of the power before the log, as librosa.power_to_db
AMIN_MAGNITUDE = 1e-5  # floor of the magnitude before the log, as librosa.amplitude_to_db
KINDS = ("logmel", "mfcc")
PRECOMPUTED = "precomputed"
WINDOWS = {"hann": torch.hann_window, "hamming": torch.hamming_window, "blackman": torch.blackman_window}  # periodic
SPECTRA = ("power", "magnitude")
MEL_NORMS = ("slaney", None)


def _key(name: str) -> str:
    return f"config key 'features/{name}'"


@dataclass(frozen=True)
class FeatureConfig:
    """The feature transform. kind "logmel": mel power in dB (n_mfcc None); kind "mfcc": the same in dB, then a DCT-II
    (orthonormal) over the mel axis keeping n_mfcc coefficients, as librosa.feature.mfcc. top_db None: no clipping;
    a number: each clip's dB values are clipped at its maximum - top_db, as librosa.power_to_db (librosa's mfcc uses 80).
    window: the STFT window (periodic, as librosa's get_window); spectrum "power": mel of |X|^2 in dB as
    librosa.power_to_db, "magnitude": mel of |X| in dB as librosa.amplitude_to_db (20 log10, floor 1e-5); mel_norm:
    librosa's mel `norm` ("slaney" area normalisation, or None)."""

    kind: str
    sample_rate: int
    n_mels: int
    n_fft: int
    hop_length: int
    f_min: float
    f_max: float
    n_mfcc: int | None = None
    top_db: float | None = None
    window: str = "hann"
    spectrum: str = "power"
    mel_norm: str | None = "slaney"

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise fail(_key("kind"), " or ".join(KINDS), repr(self.kind))
        for name in ("sample_rate", "n_mels", "n_fft", "hop_length"):
            if getattr(self, name) < 1:
                raise fail(_key(name), "a positive integer", str(getattr(self, name)))
        if not 0 <= self.f_min < self.f_max:
            raise fail(_key("f_min"), f"0 <= f_min < f_max ({self.f_max})", str(self.f_min))
        if self.f_max > self.sample_rate / 2:
            raise fail(_key("f_max"), f"at most the Nyquist frequency {self.sample_rate / 2}", str(self.f_max))
        if self.kind == "logmel" and self.n_mfcc is not None:
            raise fail(_key("n_mfcc"), "null for kind logmel", str(self.n_mfcc))
        if self.kind == "mfcc" and (self.n_mfcc is None or not 1 <= self.n_mfcc <= self.n_mels):
            raise fail(_key("n_mfcc"), f"an integer from 1 to n_mels ({self.n_mels}) for kind mfcc", str(self.n_mfcc))
        if self.top_db is not None and not self.top_db > 0:
            raise fail(_key("top_db"), "null or a positive number of dB", str(self.top_db))
        for name, allowed in (("window", tuple(WINDOWS)), ("spectrum", SPECTRA), ("mel_norm", MEL_NORMS)):
            if getattr(self, name) not in allowed:
                raise fail(
                    _key(name), " or ".join(str(a).replace("None", "null") for a in allowed), repr(getattr(self, name))
                )

    @classmethod
    def from_dict(cls, d: dict) -> FeatureConfig | PrecomputedConfig:
        """Strict: the keys of this class (window, spectrum and mel_norm may be left out: hann, power and slaney,
        librosa's defaults), ints as JSON integers, null only for n_mfcc, top_db and mel_norm. Kind
        precomputed: the keys of PrecomputedConfig."""
        if not isinstance(d, dict):
            raise fail("config key 'features'", "a mapping", type(d).__name__)
        if d.get("kind") == PRECOMPUTED:
            return PrecomputedConfig.from_dict(d)
        keys = list(cls.__dataclass_fields__)
        optional = ("window", "spectrum", "mel_norm")
        for name in d:
            if name not in keys:
                raise fail(_key(name), f"one of {', '.join(keys)}", "an unknown key")
        for name in keys:
            if name not in d and name not in optional:
                raise fail(_key(name), "a value", "nothing (missing)")
        values = {}
        for name in (k for k in keys if k in d):
            v = d[name]
            if name in ("kind", "window", "spectrum"):
                ok = isinstance(v, str)
            elif name == "mel_norm":
                ok = v is None or isinstance(v, str)
            elif name in ("n_mfcc", "top_db") and v is None:
                ok = True
            elif name in ("sample_rate", "n_mels", "n_fft", "hop_length", "n_mfcc"):
                ok = isinstance(v, numbers.Integral) and not isinstance(v, bool)
            else:  # f_min, f_max, top_db
                ok = isinstance(v, numbers.Real) and not isinstance(v, bool)
                v = float(v) if ok else v
            if not ok:
                what = (
                    "a string"
                    if name in ("kind", "window", "spectrum", "mel_norm")
                    else "an integer"
                    if name in ("sample_rate", "n_mels", "n_fft", "hop_length", "n_mfcc")
                    else "a number"
                )
                raise fail(_key(name), what + (" or null" if name in ("n_mfcc", "top_db", "mel_norm") else ""), repr(v))
            values[name] = v
        return cls(**values)

    @property
    def n_features(self) -> int:
        return self.n_mels if self.kind == "logmel" else int(self.n_mfcc)

    @property
    def hop_s(self) -> float:
        return self.hop_length / self.sample_rate

    def n_frames(self, n_samples: int) -> int:
        return 1 + n_samples // self.hop_length  # centred frames


STORES = ("float32", "uint8")
# The formulas live in sedrepro.quantise (torch-free: the splits stage and the batch reader apply them).


@dataclass(frozen=True)
class PrecomputedConfig:
    """Features shipped with the dataset under `<dataset root>/<path>/` (a frame store or `<file_id>.npy` files), each
    clip (frames, n_features), hop_s apart.
    `store` (absent: float32) and `dequantise` (absent: none; needs store uint8) as the module docstring says."""

    kind: str
    path: str
    hop_s: float
    n_features: int
    store: str = "float32"
    dequantise: str | None = None

    @classmethod
    def from_dict(cls, d: dict) -> PrecomputedConfig:
        keys = list(cls.__dataclass_fields__)
        for name in d:
            if name not in keys:
                raise fail(_key(name), f"one of {', '.join(keys)} for kind {PRECOMPUTED}", "an unknown key")
        for name in keys[:4]:
            if name not in d:
                raise fail(_key(name), "a value", "nothing (missing)")
        path, hop_s, n_features = d["path"], d["hop_s"], d["n_features"]
        store, rule = d.get("store", "float32"), d.get("dequantise")
        if store not in STORES:
            raise fail(_key("store"), f"one of {', '.join(STORES)}", repr(store))
        if rule is not None and (rule not in DEQUANTISE or store != "uint8"):
            raise fail(
                _key("dequantise"), f"one of {', '.join(DEQUANTISE)} with store uint8", f"{rule!r} (store {store})"
            )
        if not isinstance(path, str) or not path or path.startswith("/") or ".." in Path(path).parts:
            raise fail(_key("path"), "a folder relative to the dataset root", repr(path))
        if not isinstance(hop_s, numbers.Real) or isinstance(hop_s, bool) or not hop_s > 0:
            raise fail(_key("hop_s"), "a positive number of seconds", repr(hop_s))
        if not isinstance(n_features, numbers.Integral) or isinstance(n_features, bool) or n_features < 1:
            raise fail(_key("n_features"), "a positive integer", repr(n_features))
        return cls(PRECOMPUTED, path, float(hop_s), int(n_features), store, rule)

    def info(self) -> dict:
        """features.json's settings: store and dequantise only when set, so float32 stores read as before."""
        out = asdict(self)
        if self.store == "float32":
            del out["store"]
        if self.dequantise is None:
            del out["dequantise"]
        return out


def read_precomputed(path: Path, cfg: PrecomputedConfig) -> np.ndarray:
    """One clip's shipped features, checked: a 2-D array of finite numbers, (>= 1 frames, n_features)."""
    try:
        feats = np.load(path, mmap_mode="r", allow_pickle=False)
    except FileNotFoundError:
        raise fail(path, f"the clip's features ({cfg.path}/<file_id>.npy)", "no such file") from None
    except ValueError as err:
        raise fail(path, "a .npy array", str(err).splitlines()[0]) from None
    if feats.ndim != 2 or feats.shape[0] < 1 or feats.shape[1] != cfg.n_features:
        raise fail(path, f"an array (frames >= 1, {cfg.n_features})", f"shape {feats.shape}")
    if feats.dtype.kind not in "fiu":
        raise fail(path, "numbers", f"dtype {feats.dtype}")
    return feats


class _ClipFiles:
    """Shipped features as one .npy per clip: `<folder>/<file_id>.npy`."""

    def __init__(self, folder: Path, cfg: PrecomputedConfig) -> None:
        self.folder, self.cfg = folder, cfg

    def where(self, file_id: str) -> Path:
        return self.folder / f"{file_id}.npy"

    def frames(self, file_id: str) -> np.ndarray:
        return read_precomputed(self.where(file_id), self.cfg)


class _StoreClips:
    """Shipped features in a frame store: a clip's rows of its array, checked as read_precomputed checks a file."""

    def __init__(self, folder: Path, cfg: PrecomputedConfig) -> None:
        self.store = FrameStore.open(folder, cfg.n_features)
        self.store.verify()
        for name, values in self.store.arrays.items():
            if values.dtype.kind not in "fiu":
                raise fail(folder / f"{name}.npy", "numbers", f"dtype {values.dtype}")

    def where(self, file_id: str) -> str:
        array, start, n = self.store.where.get(file_id, ("", 0, 0))
        return f"{self.store.folder / array}.npy rows {start}..{start + n - 1} ({file_id})"

    def frames(self, file_id: str) -> np.ndarray:
        return self.store.frames(file_id)


def extract_precomputed(index_dir: Path, root: Path, out_dir: Path, cfg: PrecomputedConfig) -> pd.DataFrame:
    """The shipped features of every clip of files.tsv into `features.npy` (float32, atomically), frames.tsv and
    features.json, like extract_dataset."""
    files = read_tsv(index_dir / "files.tsv", dtype={"file_id": str, "split": str})
    folder = root / cfg.path
    shipped_by = _StoreClips(folder, cfg) if is_store(folder) else _ClipFiles(folder, cfg)
    n_frames = np.array([shipped_by.frames(fid).shape[0] for fid in files.file_id], dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(n_frames)[:-1]]).astype(np.int64)
    dtype = np.dtype(cfg.store)
    with atomic_path(out_dir / "features.npy", suffix=".npy") as tmp:
        store = np.lib.format.open_memmap(tmp, mode="w+", dtype=dtype, shape=(int(n_frames.sum()), cfg.n_features))
        jobs = zip(files.file_id, starts, n_frames, strict=True)
        for fid, start, n in progress(jobs, total=len(files), desc=PRECOMPUTED):
            shipped = shipped_by.frames(fid)
            if dtype == np.uint8 and shipped.dtype != np.uint8:
                raise fail(
                    shipped_by.where(fid), "8-bit values (dtype uint8) for store uint8", f"dtype {shipped.dtype}"
                )
            feats = np.asarray(shipped, dtype=dtype)
            if dtype != np.uint8 and not np.isfinite(feats).all():
                raise fail(shipped_by.where(fid), "finite feature values", "NaN or infinity")
            store[start : start + n] = feats
        del store
    frames = pd.DataFrame({"file_id": files.file_id, "split": files.split, "start": starts, "n_frames": n_frames})
    write_tsv(out_dir / "frames.tsv", frames)
    write_json(out_dir / "features.json", {**cfg.info(), "total_frames": int(n_frames.sum())})
    return frames


class FeatureTransform(torch.nn.Module):
    """Mel power spectrogram in dB (and optionally its DCT), matching librosa.feature.melspectrogram + power_to_db and
    librosa.feature.mfcc: Slaney mel scale and norm, centred frames, zero padding, Hann window, ref 1.0, amin 1e-10."""

    def __init__(self, cfg: FeatureConfig):
        super().__init__()
        self.cfg = cfg
        self.mel = torchaudio.transforms.MelSpectrogram(
            sample_rate=cfg.sample_rate,
            n_fft=cfg.n_fft,
            hop_length=cfg.hop_length,
            f_min=cfg.f_min,
            f_max=cfg.f_max,
            n_mels=cfg.n_mels,
            window_fn=WINDOWS[cfg.window],
            power=2.0 if cfg.spectrum == "power" else 1.0,
            center=True,
            pad_mode="constant",
            norm=cfg.mel_norm,
            mel_scale="slaney",
        )
        if cfg.kind == "mfcc":
            # (n_mels, n_mfcc): the first n_mfcc rows of scipy's orthonormal DCT-II, transposed
            self.register_buffer("dct", torchaudio.functional.create_dct(cfg.n_mfcc, cfg.n_mels, norm="ortho"))
        else:
            self.dct = None

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        # (..., n_samples) -> STFT (..., n_fft // 2 + 1, frames) -> (..., frames, n_mels) -> (..., frames, n_features);
        # a leading batch axis holds equal-length clips.
        # torchaudio's MelSpectrogram, with the power spectrum taken as re² + im² of the STFT rather than |X|² (one
        # pass instead of a sqrt then a square: equal up to float rounding, and faster), and the mel matmul done frames
        # first (torchaudio's own order, without its transpose back and forth: the same bytes), log in place.
        spec = self.mel.spectrogram
        stft = torch.stft(
            wave,
            spec.n_fft,
            spec.hop_length,
            spec.win_length,
            spec.window,
            center=True,
            pad_mode=spec.pad_mode,
            normalized=False,
            onesided=True,
            return_complex=True,
        ).transpose(-1, -2)
        if self.cfg.spectrum == "power":
            power = stft.real.square().addcmul_(stft.imag, stft.imag)  # re² + im², one temporary
            db = power @ self.mel.mel_scale.fb  # (..., frames, n_mels)
            db = db.clamp_(min=AMIN).log10_().mul_(10.0)
        else:  # 20 log10 of the mel magnitude: its power_to_db of the square, as librosa.amplitude_to_db
            db = (stft.abs() @ self.mel.mel_scale.fb).clamp_(min=AMIN_MAGNITUDE).log10_().mul_(20.0)
        if self.cfg.top_db is not None:  # per clip, as power_to_db on one clip's spectrogram
            db = torch.maximum(db, db.amax(dim=(-2, -1), keepdim=True) - self.cfg.top_db)
        return db if self.dct is None else db @ self.dct  # (..., frames, n_mels) @ (n_mels, n_mfcc)


def read_resampled(path: Path, sample_rate: int | None) -> tuple[np.ndarray, int | None]:
    """A clip written by the resample stage: float32 `.npy` (rate from audio.tsv) or, from older runs, a WAV."""
    if path.suffix == ".npy":
        wave = np.load(path)
        if wave.ndim != 1 or wave.dtype != np.float32:
            raise fail(path, "a 1-D float32 array", f"{wave.ndim}-D {wave.dtype}")
        return wave, None if sample_rate is None else int(sample_rate)
    return sf.read(str(path), dtype="float32")


def extract_clip(job: tuple, audio_dir: Path, transform: FeatureTransform, store: np.ndarray) -> None:
    """Features of one audio.tsv row, `job` = (row, first store row, frame count), written into its rows of `store`."""
    rec, start, n = job
    cfg = transform.cfg
    wave, sr = read_resampled(audio_dir / rec.path, getattr(rec, "sample_rate", None))
    if sr != cfg.sample_rate:
        raise fail(audio_dir / rec.path, f"sample rate {cfg.sample_rate}", str(sr))
    with torch.inference_mode():
        feats = transform(torch.from_numpy(wave)).numpy()  # (frames, n_features)
    if feats.shape[0] != n:
        raise fail(audio_dir / rec.path, f"{n} frames", f"{feats.shape[0]}")
    store[start : start + n] = feats  # disjoint rows per clip: safe from several threads


# What the stage writes into its --out folder (sedrepro.layout: the rules name its outputs from these).
FEATURES_FILE, FRAMES_FILE, INFO_FILE = layout.FEATURES_FILE, layout.FRAMES_FILE, layout.INFO_FILE


def extract_dataset(audio_dir: Path, out_dir: Path, cfg: FeatureConfig, threads: int = 1) -> pd.DataFrame:
    """Features of every clip of audio.tsv into `features.npy` (atomically: a temp file renamed when complete), then
    frames.tsv and features.json. threads > 1 computes that many clips at once into their own rows of the store (the
    same bytes as one thread, see sedrepro.audio.ordered_map)."""
    audio = read_tsv(audio_dir / "audio.tsv", dtype={"file_id": str})
    n_frames = np.array([cfg.n_frames(n) for n in audio.n_samples], dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(n_frames)[:-1]])
    transform = FeatureTransform(cfg)
    with atomic_path(out_dir / FEATURES_FILE, suffix=".npy") as tmp:
        store = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32, shape=(int(n_frames.sum()), cfg.n_features))
        one = functools.partial(extract_clip, audio_dir=audio_dir, transform=transform, store=store)
        jobs = zip(audio.itertuples(index=False), starts, n_frames, strict=True)
        for i, _ in enumerate(progress(ordered_map(one, jobs, threads), total=len(audio), desc=cfg.kind), start=1):
            fault_point("features.clip", i)
        del store, one  # unmap before the rename; no msync: readers see the page cache, as for every other write
    frames = pd.DataFrame({"file_id": audio.file_id, "split": audio.split, "start": starts, "n_frames": n_frames})
    write_tsv(out_dir / FRAMES_FILE, frames)
    write_json(
        out_dir / INFO_FILE,
        {**asdict(cfg), "hop_s": cfg.hop_s, "n_features": cfg.n_features, "total_frames": int(n_frames.sum())},
    )
    return frames


def main(args: argparse.Namespace) -> None:
    torch.set_num_threads(args.threads)
    cfg = FeatureConfig.from_dict(args.features)
    if isinstance(cfg, PrecomputedConfig):
        if not args.root or not args.index:
            raise fail("--root/--index", f"the dataset folder and its index for kind {PRECOMPUTED}", "nothing")
        frames = extract_precomputed(Path(args.index), Path(args.root), Path(args.out), cfg)
    else:
        if not args.audio:
            raise fail("--audio", f"the resample stage's folder for kind {cfg.kind}", "nothing")
        frames = extract_dataset(Path(args.audio), Path(args.out), cfg, args.threads)
    log.info("%d clips, %d frames of %d %s features", len(frames), frames.n_frames.sum(), cfg.n_features, cfg.kind)


def build_parser() -> argparse.ArgumentParser:
    p = cli.parser("Compute log-mel or MFCC features of a resampled dataset, or gather a dataset's shipped features.")
    p.add_argument("--audio", help="output folder of the resample stage (computed kinds)")
    p.add_argument("--root", help="the dataset folder (kind precomputed)")
    p.add_argument("--index", help="the dataset's index folder, files.tsv (kind precomputed)")
    p.add_argument("--out", required=True)
    p.add_argument(
        "--features",
        type=cli.json_arg,
        required=True,
        help="the pipeline's features section as JSON: kind, sample_rate, n_mels, n_fft, hop_length, f_min, f_max, "
        "n_mfcc, top_db[, window, spectrum, mel_norm]; or kind precomputed, path, hop_s, n_features",
    )
    p.add_argument("--threads", type=int, default=1, help="clips computed at once (one torch thread each)")
    return p


if __name__ == "__main__":
    cli.run(main, build_parser())
