"""Stage 'features': log-mel spectrograms or MFCCs of every resampled clip, stored as one memory-mappable array.

All clips' frames are concatenated in `features.npy` (float32, (total_frames, n_features)); `frames.tsv` gives each
clip's first row and frame count. Loading an epoch is then one memory map, not one file open per chunk.
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

from . import cli
from .audio import ordered_map
from .faults import fault_point
from .io import atomic_path, fail, read_tsv, write_json, write_tsv
from .progress import progress

log = logging.getLogger(__name__)

AMIN = 1e-10  # floor of the power before the log, as librosa.power_to_db
KINDS = ("logmel", "mfcc")


def _key(name: str) -> str:
    return f"config key 'features/{name}'"


@dataclass(frozen=True)
class FeatureConfig:
    """The feature transform. kind "logmel": mel power in dB (n_mfcc None); kind "mfcc": the same in dB, then a DCT-II
    (orthonormal) over the mel axis keeping n_mfcc coefficients, as librosa.feature.mfcc. top_db None: no clipping;
    a number: each clip's dB values are clipped at its maximum - top_db, as librosa.power_to_db (librosa's mfcc uses 80)."""

    kind: str
    sample_rate: int
    n_mels: int
    n_fft: int
    hop_length: int
    f_min: float
    f_max: float
    n_mfcc: int | None = None
    top_db: float | None = None

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

    @classmethod
    def from_dict(cls, d: dict) -> FeatureConfig:
        """Strict: exactly the keys of this class, ints as JSON integers, null only for n_mfcc and top_db."""
        if not isinstance(d, dict):
            raise fail("config key 'features'", "a mapping", type(d).__name__)
        keys = list(cls.__dataclass_fields__)
        for name in d:
            if name not in keys:
                raise fail(_key(name), f"one of {', '.join(keys)}", "an unknown key")
        for name in keys:
            if name not in d:
                raise fail(_key(name), "a value", "nothing (missing)")
        values = {}
        for name in keys:
            v = d[name]
            if name == "kind":
                ok = isinstance(v, str)
            elif name in ("n_mfcc", "top_db") and v is None:
                ok = True
            elif name in ("sample_rate", "n_mels", "n_fft", "hop_length", "n_mfcc"):
                ok = isinstance(v, numbers.Integral) and not isinstance(v, bool)
            else:  # f_min, f_max, top_db
                ok = isinstance(v, numbers.Real) and not isinstance(v, bool)
                v = float(v) if ok else v
            if not ok:
                what = "a string" if name == "kind" else "an integer" if name in ("sample_rate", "n_mels", "n_fft",
                                                                                "hop_length", "n_mfcc") else "a number"
                raise fail(_key(name), what + (" or null" if name in ("n_mfcc", "top_db") else ""), repr(v))
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


class FeatureTransform(torch.nn.Module):
    """Mel power spectrogram in dB (and optionally its DCT), matching librosa.feature.melspectrogram + power_to_db and
    librosa.feature.mfcc: Slaney mel scale and norm, centred frames, zero padding, Hann window, ref 1.0, amin 1e-10."""

    def __init__(self, cfg: FeatureConfig):
        super().__init__()
        self.cfg = cfg
        self.mel = torchaudio.transforms.MelSpectrogram(
            sample_rate=cfg.sample_rate, n_fft=cfg.n_fft, hop_length=cfg.hop_length, f_min=cfg.f_min, f_max=cfg.f_max,
            n_mels=cfg.n_mels, power=2.0, center=True, pad_mode="constant", norm="slaney", mel_scale="slaney",
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
        stft = torch.stft(wave, spec.n_fft, spec.hop_length, spec.win_length, spec.window, center=True,
                          pad_mode=spec.pad_mode, normalized=False, onesided=True, return_complex=True).transpose(-1, -2)
        power = stft.real.square().addcmul_(stft.imag, stft.imag)  # re² + im², one temporary
        db = power @ self.mel.mel_scale.fb  # (..., frames, n_mels)
        db = db.clamp_(min=AMIN).log10_().mul_(10.0)
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
    store[start:start + n] = feats  # disjoint rows per clip: safe from several threads


# What the stage writes into its --out folder (the rules name its outputs from these).
FEATURES_FILE, FRAMES_FILE, INFO_FILE = "features.npy", "frames.tsv", "features.json"


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
    write_json(out_dir / INFO_FILE, {**asdict(cfg), "hop_s": cfg.hop_s, "n_features": cfg.n_features,
                                            "total_frames": int(n_frames.sum())})
    return frames


def main(args: argparse.Namespace) -> None:
    torch.set_num_threads(args.threads)
    cfg = FeatureConfig.from_dict(args.features)
    frames = extract_dataset(Path(args.audio), Path(args.out), cfg, args.threads)
    log.info("%d clips, %d frames of %d %s features", len(frames), frames.n_frames.sum(), cfg.n_features, cfg.kind)


def build_parser() -> argparse.ArgumentParser:
    p = cli.parser("Compute log-mel or MFCC features of a resampled dataset.")
    p.add_argument("--audio", required=True, help="output folder of the resample stage")
    p.add_argument("--out", required=True)
    p.add_argument("--features", type=cli.json_arg, required=True, help="the pipeline's features section as JSON: kind, sample_rate, n_mels, n_fft, hop_length, f_min, f_max, "
                   "n_mfcc, top_db")
    p.add_argument("--threads", type=int, default=1, help="clips computed at once (one torch thread each)")
    return p


if __name__ == "__main__":
    cli.run(main, build_parser())
