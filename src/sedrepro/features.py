"""Stage 'features': log-mel spectrograms of every resampled clip, stored as one memory-mappable array.

All clips' frames are concatenated in `features.npy` (float32, (total_frames, n_mels)); `frames.tsv` gives each clip's
first row and frame count. Loading an epoch is then one memory map, not one file open per chunk.
"""

from __future__ import annotations

import argparse
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf
import torch
import torchaudio

from . import cli
from .io import atomic_path, fail, read_tsv, write_json, write_tsv
from .progress import progress

log = logging.getLogger(__name__)

AMIN = 1e-10  # floor of the power before the log, as librosa.power_to_db


@dataclass(frozen=True)
class LogMelConfig:
    sample_rate: int
    n_mels: int
    n_fft: int
    hop_length: int
    f_min: float
    f_max: float

    @classmethod
    def from_dict(cls, d: dict) -> LogMelConfig:
        # The config's `normalisation` belongs to the split stage, not to the transform.
        return cls(int(d["sample_rate"]), int(d["n_mels"]), int(d["n_fft"]), int(d["hop_length"]),
                   float(d["f_min"]), float(d["f_max"]))

    @property
    def hop_s(self) -> float:
        return self.hop_length / self.sample_rate

    def n_frames(self, n_samples: int) -> int:
        return 1 + n_samples // self.hop_length  # centred frames


class LogMel(torch.nn.Module):
    """Power mel spectrogram in dB, matching librosa.feature.melspectrogram + power_to_db (Slaney mel scale and norm,
    centred frames, zero padding, Hann window)."""

    def __init__(self, cfg: LogMelConfig):
        super().__init__()
        if cfg.f_max > cfg.sample_rate / 2:
            raise fail("config key 'features/f_max'", f"at most the Nyquist frequency {cfg.sample_rate / 2}", str(cfg.f_max))
        self.mel = torchaudio.transforms.MelSpectrogram(
            sample_rate=cfg.sample_rate, n_fft=cfg.n_fft, hop_length=cfg.hop_length, f_min=cfg.f_min, f_max=cfg.f_max,
            n_mels=cfg.n_mels, power=2.0, center=True, pad_mode="constant", norm="slaney", mel_scale="slaney",
        )

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        # (n_samples,) -> (n_mels, frames) -> (frames, n_mels)
        # torchaudio's MelSpectrogram, with the power spectrum taken as re² + im² of the STFT rather than |X|² (one
        # pass instead of a sqrt then a square: equal up to float rounding, and faster).
        spec = self.mel.spectrogram
        stft = torch.stft(wave, spec.n_fft, spec.hop_length, spec.win_length, spec.window, center=True,
                          pad_mode=spec.pad_mode, normalized=False, onesided=True, return_complex=True)
        power = self.mel.mel_scale(stft.real.square() + stft.imag.square())
        return (10.0 * torch.log10(torch.clamp(power, min=AMIN))).transpose(-1, -2)


def read_resampled(path: Path, sample_rate: int | None) -> tuple[np.ndarray, int | None]:
    """A clip written by the resample stage: float32 `.npy` (rate from audio.tsv) or, from older runs, a WAV."""
    if path.suffix == ".npy":
        wave = np.load(path)
        if wave.ndim != 1 or wave.dtype != np.float32:
            raise fail(path, "a 1-D float32 array", f"{wave.ndim}-D {wave.dtype}")
        return wave, None if sample_rate is None else int(sample_rate)
    return sf.read(str(path), dtype="float32")


def extract_dataset(audio_dir: Path, out_dir: Path, cfg: LogMelConfig) -> pd.DataFrame:
    audio = read_tsv(audio_dir / "audio.tsv", dtype={"file_id": str})
    n_frames = np.array([cfg.n_frames(n) for n in audio.n_samples], dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(n_frames)[:-1]])
    transform = LogMel(cfg)
    with atomic_path(out_dir / "features.npy", suffix=".npy") as tmp:
        store = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32, shape=(int(n_frames.sum()), cfg.n_mels))
        for rec, start, n in progress(zip(audio.itertuples(index=False), starts, n_frames, strict=False), total=len(audio), desc="log-mel"):
            wave, sr = read_resampled(audio_dir / rec.path, getattr(rec, "sample_rate", None))
            if sr != cfg.sample_rate:
                raise fail(audio_dir / rec.path, f"sample rate {cfg.sample_rate}", str(sr))
            with torch.inference_mode():
                feats = transform(torch.from_numpy(wave)).numpy()
            if feats.shape[0] != n:
                raise fail(audio_dir / rec.path, f"{n} frames", f"{feats.shape[0]}")
            store[start:start + n] = feats
        store.flush()
        del store
    frames = pd.DataFrame({"file_id": audio.file_id, "split": audio.split, "start": starts, "n_frames": n_frames})
    write_tsv(out_dir / "frames.tsv", frames)
    write_json(out_dir / "features.json", {**cfg.__dict__, "hop_s": cfg.hop_s, "total_frames": int(n_frames.sum())})
    return frames


def main(args: argparse.Namespace) -> None:
    torch.set_num_threads(args.threads)
    cfg = LogMelConfig.from_dict(args.features)
    frames = extract_dataset(Path(args.audio), Path(args.out), cfg)
    log.info("%d clips, %d frames of %d mel bands", len(frames), frames.n_frames.sum(), cfg.n_mels)


def build_parser() -> argparse.ArgumentParser:
    p = cli.parser("Compute log-mel features of a resampled dataset.")
    p.add_argument("--audio", required=True, help="output folder of the resample stage")
    p.add_argument("--out", required=True)
    p.add_argument("--features", type=cli.json_arg, required=True, help="the config's features section as JSON")
    p.add_argument("--threads", type=int, default=1)
    return p


if __name__ == "__main__":
    cli.run(main, build_parser())
