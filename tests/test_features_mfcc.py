"""MFCCs (dessed paper sections 2.2 and 3.2) against librosa.feature.mfcc, the strict features dict, and the store."""

import json

import librosa
import numpy as np
import pandas as pd
import pytest
import torch

from sedrepro.features import FeatureConfig, FeatureTransform, extract_dataset
from sedrepro.io import InputError, write_tsv

SR = 22050
# librosa.feature.mfcc(y, sr=22050, n_mfcc=40) with its defaults: n_fft 2048, hop 512, 128 Slaney mel bands 0-11,025 Hz
MONO = {
    "kind": "mfcc",
    "sample_rate": SR,
    "n_mels": 128,
    "n_fft": 2048,
    "hop_length": 512,
    "f_min": 0.0,
    "f_max": 11025.0,
    "n_mfcc": 40,
    "top_db": 80.0,
}
# 40 MFCCs from 40 mel bands, 20 ms window (440 samples) with 50 % overlap (hop 220)
POLY = {**MONO, "n_mels": 40, "n_fft": 440, "hop_length": 220}
LIBROSA_ARGS = {"mono": {"n_mfcc": 40}, "poly": {"n_mfcc": 40, "n_mels": 40, "n_fft": 440, "hop_length": 220}}
# Stated tolerance, absolute, in the MFCCs' own units (dB through an orthonormal DCT): measured at most 1.1e-3 on these
# clips, whose largest coefficient (c0) is about 420-560, i.e. about 2e-6 of the coefficient scale (float32 FFT
# rounding). The bound leaves ~5x headroom for other FFT backends.
TOL = 5e-3


def realish(seconds: float, seed: int) -> np.ndarray:
    """A chirp, a gated harmonic tone, decaying noise, a near-silent stretch and digital silence (the top_db floor)."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    t = np.arange(n) / SR
    wave = 0.3 * np.sin(2 * np.pi * (200 * t + 400 * t**2))
    wave += sum(0.1 / k * np.sin(2 * np.pi * (220 + 30 * seed) * k * t) for k in range(1, 8)) * (
        np.sin(2 * np.pi * 0.7 * t) > 0
    )
    wave += 0.02 * rng.standard_normal(n) * np.exp(-3 * t)
    wave[int(0.7 * n) : int(0.8 * n)] *= 1e-4
    wave[int(0.8 * n) :] = 0.0
    return wave.astype(np.float32)


def ours(settings: dict, wave: np.ndarray) -> np.ndarray:
    with torch.inference_mode():
        return FeatureTransform(FeatureConfig.from_dict(settings))(torch.from_numpy(wave)).numpy()


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize(("name", "settings"), [("mono", MONO), ("poly", POLY)])
def test_mfcc_matches_librosa(name, settings, seed):
    wave = realish(4.0, seed)
    got = ours(settings, wave)  # (frames, n_mfcc)
    ref = librosa.feature.mfcc(y=wave, sr=SR, **LIBROSA_ARGS[name]).T
    assert got.shape == ref.shape == (1 + len(wave) // settings["hop_length"], 40)
    assert np.abs(got - ref).max() < TOL
    assert np.abs(ref).max() > 100  # the bound is tight against the coefficients' scale


def test_logmel_top_db_matches_power_to_db():
    wave = realish(2.0, 2)
    got = ours({**POLY, "kind": "logmel", "n_mfcc": None}, wave)  # (frames, n_mels)
    mel = librosa.feature.melspectrogram(y=wave, sr=SR, n_fft=440, hop_length=220, n_mels=40)
    ref = librosa.power_to_db(mel, ref=1.0, amin=1e-10, top_db=80.0).T
    assert (ref == ref.max() - 80.0).any()  # the clip reaches the floor: clipping is exercised
    assert np.abs(got - ref).max() < 0.01  # dB, as the unclipped log-mel test


def test_batch_of_equal_length_clips_is_per_clip():
    """top_db clips at each clip's own maximum when clips go through the transform together."""
    waves = np.stack([realish(1.0, 0), 0.01 * realish(1.0, 1)])
    batch = ours(MONO, waves)  # (2, frames, n_mfcc)
    assert np.allclose(batch[0], ours(MONO, waves[0]), atol=1e-4) and np.allclose(
        batch[1], ours(MONO, waves[1]), atol=1e-4
    )


def test_four_second_clip_gives_173_frames():
    # The paper pads to 174 frames; librosa's centred framing of a 4.0 s clip at 22,050 Hz gives 1 + 88200 // 512 = 173
    # (174 needs at least 88,576 samples, about 4.017 s). We report what librosa gives and do not pad it here.
    cfg = FeatureConfig.from_dict(MONO)
    assert cfg.n_frames(88200) == 173 == ours(MONO, realish(4.0, 0)).shape[0]
    assert cfg.n_frames(88576) == 174 and cfg.n_frames(88575) == 173
    assert (
        cfg.n_features == 40 and FeatureConfig.from_dict({**MONO, "kind": "logmel", "n_mfcc": None}).n_features == 128
    )


@pytest.mark.parametrize("n", [1, 219, 220, 441, 22050])
def test_frame_count_is_centred(n):
    cfg = FeatureConfig.from_dict(POLY)
    assert cfg.n_frames(n) == 1 + n // 220 == ours(POLY, np.zeros(n, np.float32)).shape[0]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"n_mfcc": 41},
            "config key 'features/n_mfcc': expected an integer from 1 to n_mels (40) for kind mfcc, found 41",
        ),
        ({"n_mfcc": None}, "config key 'features/n_mfcc': expected an integer from 1 to n_mels (40) for kind mfcc"),
        ({"kind": "logmel"}, "config key 'features/n_mfcc': expected null for kind logmel, found 40"),
        ({"kind": "cqt"}, "config key 'features/kind': expected logmel or mfcc, found 'cqt'"),
        ({"normalisation": "global"}, "config key 'features/normalisation': expected one of kind, sample_rate"),
        ({"n_mels": 40.0}, "config key 'features/n_mels': expected an integer, found 40.0"),
        ({"top_db": -1}, "config key 'features/top_db': expected null or a positive number of dB, found -1.0"),
        (
            {"f_max": 12000.0},
            "config key 'features/f_max': expected at most the Nyquist frequency 11025.0, found 12000.0",
        ),
    ],
)
def test_bad_settings_stop_with_one_line_naming_the_key(change, message):
    with pytest.raises(InputError) as err:
        FeatureConfig.from_dict({**POLY, **change})
    assert str(err.value).startswith(message) and "\n" not in str(err.value)


@pytest.mark.parametrize("key", list(MONO))
def test_missing_key_is_named(key):
    with pytest.raises(InputError, match=f"config key 'features/{key}': expected a value, found nothing"):
        FeatureConfig.from_dict({k: v for k, v in MONO.items() if k != key})


def test_store_holds_mfccs_and_all_settings(tmp_path):
    rows = []
    for i, seconds in enumerate([4.0, 1.0]):
        np.save(tmp_path / f"c{i}.npy", realish(seconds, i))
        rows.append(
            {
                "file_id": f"c{i}",
                "split": "train",
                "path": f"c{i}.npy",
                "n_samples": int(seconds * SR),
                "sample_rate": SR,
            }
        )
    write_tsv(tmp_path / "audio.tsv", pd.DataFrame(rows))
    frames = extract_dataset(tmp_path, tmp_path / "out", FeatureConfig.from_dict(MONO))
    store = np.load(tmp_path / "out" / "features.npy")
    assert store.dtype == np.float32 and store.shape == (173 + 44, 40) and list(frames.n_frames) == [173, 44]
    assert np.array_equal(store[173:], ours(MONO, realish(1.0, 1)))
    info = json.loads((tmp_path / "out" / "features.json").read_text())
    defaults = {"window": "hann", "spectrum": "power", "mel_norm": "slaney"}  # left out of MONO: today's transform
    assert info == {**MONO, **defaults, "hop_s": 512 / SR, "n_features": 40, "total_frames": 217}


def test_cli_rejects_the_old_dict_with_normalisation(tmp_path):
    import subprocess
    import sys

    old = {k: v for k, v in MONO.items() if k not in ("kind", "n_mfcc", "top_db")} | {"normalisation": "global"}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "sedrepro.features",
            "--audio",
            str(tmp_path),
            "--out",
            str(tmp_path / "out"),
            "--features",
            json.dumps(old),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert errors == [
        "error: config key 'features/normalisation': expected one of kind, sample_rate, n_mels, n_fft, "
        "hop_length, f_min, f_max, n_mfcc, top_db, window, spectrum, mel_norm, found an unknown key"
    ]
