"""Feature settings (STFT window, power or magnitude, mel norm) against librosa, and features a dataset ships."""

import json
import subprocess
import sys

import librosa
import numpy as np
import pandas as pd
import pytest
import torch

from sedrepro.features import FeatureConfig, FeatureTransform, PrecomputedConfig, extract_precomputed
from sedrepro.io import InputError, write_tsv

SR = 16000
BASE = {
    "kind": "logmel",
    "sample_rate": SR,
    "n_mels": 64,
    "n_fft": 512,
    "hop_length": 160,
    "f_min": 20.0,
    "f_max": 8000.0,
    "n_mfcc": None,
    "top_db": None,
}
TOL_DB = 0.01  # as tests/test_features.py: float32 FFT rounding only


def _wave() -> np.ndarray:
    rng = np.random.default_rng(1)
    t = np.arange(SR) / SR
    return (0.3 * np.sin(2 * np.pi * 660 * t) + 0.05 * rng.standard_normal(t.size)).astype(np.float32)


@pytest.mark.parametrize(
    ("window", "spectrum", "mel_norm"),
    [
        ("hamming", "power", "slaney"),
        ("hann", "magnitude", "slaney"),
        ("blackman", "power", None),
        ("hann", "magnitude", None),
    ],
)
def test_settings_match_librosa(window, spectrum, mel_norm):
    cfg = FeatureConfig.from_dict({**BASE, "window": window, "spectrum": spectrum, "mel_norm": mel_norm})
    wave = _wave()
    ours = FeatureTransform(cfg)(torch.from_numpy(wave)).numpy()
    mel = librosa.feature.melspectrogram(
        y=wave,
        sr=SR,
        n_fft=512,
        hop_length=160,
        n_mels=64,
        fmin=20.0,
        fmax=8000.0,
        window=window,
        power=2.0 if spectrum == "power" else 1.0,
        center=True,
        pad_mode="constant",
        norm=mel_norm,
    )
    if spectrum == "power":
        ref = librosa.power_to_db(mel, ref=1.0, amin=1e-10, top_db=None).T
    else:
        ref = librosa.amplitude_to_db(mel, ref=1.0, amin=1e-5, top_db=None).T
    assert ours.shape == ref.shape and np.abs(ours - ref).max() < TOL_DB


def test_defaults_are_the_transform_of_before():
    """Leaving the settings out, or giving their defaults, is the same transform, bit for bit."""
    wave = torch.from_numpy(_wave())
    plain = FeatureTransform(FeatureConfig.from_dict(BASE))(wave)
    explicit = FeatureTransform(
        FeatureConfig.from_dict({**BASE, "window": "hann", "spectrum": "power", "mel_norm": "slaney"})
    )(wave)
    other = FeatureTransform(FeatureConfig.from_dict({**BASE, "window": "hamming"}))(wave)
    assert torch.equal(plain, explicit) and not torch.equal(plain, other)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"window": "kaiser"}, "config key 'features/window': expected hann or hamming or blackman, found 'kaiser'"),
        ({"spectrum": "energy"}, "config key 'features/spectrum': expected power or magnitude, found 'energy'"),
        ({"mel_norm": 1}, "config key 'features/mel_norm': expected a string or null, found 1"),
        ({"mel_norm": "l2"}, "config key 'features/mel_norm': expected slaney or null, found 'l2'"),
    ],
    ids=["window", "spectrum", "mel_norm-type", "mel_norm"],
)
def test_bad_settings_are_one_line(change, message):
    with pytest.raises(InputError) as err:
        FeatureConfig.from_dict({**BASE, **change})
    assert str(err.value) == message


PRE = {"kind": "precomputed", "path": "feats/emb", "hop_s": 0.96, "n_features": 4}


def _shipped(tmp_path, arrays: dict) -> tuple:
    root, idx = tmp_path / "root", tmp_path / "index"
    (root / PRE["path"]).mkdir(parents=True)
    for fid, arr in arrays.items():
        np.save(root / PRE["path"] / f"{fid}.npy", arr)
    write_tsv(
        idx / "files.tsv",
        pd.DataFrame(
            {
                "file_id": list(arrays),
                "split": ["train", "test"][: len(arrays)],
                "audio": "",
                "annotation": "",
                "duration_s": 10.0,
            }
        ),
    )
    return root, idx


def test_precomputed_features_are_gathered_into_one_store(tmp_path):
    a = np.arange(40, dtype=np.float64).reshape(10, 4)
    b = np.ones((3, 4), dtype=np.float32)
    root, idx = _shipped(tmp_path, {"a": a, "b": b})
    cfg = FeatureConfig.from_dict(PRE)
    assert cfg == PrecomputedConfig("precomputed", "feats/emb", 0.96, 4)
    frames = extract_precomputed(idx, root, tmp_path / "out", cfg)
    store = np.load(tmp_path / "out" / "features.npy")
    assert store.dtype == np.float32 and np.array_equal(store, np.concatenate([a, b]).astype(np.float32))
    assert frames.start.tolist() == [0, 10] and frames.n_frames.tolist() == [10, 3]
    assert frames.split.tolist() == ["train", "test"]
    info = json.loads((tmp_path / "out" / "features.json").read_text())
    assert info == {**PRE, "total_frames": 13}  # hop_s is what the split stage reads


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        ({"a": np.zeros((5, 3), np.float32)}, "a.npy: expected an array (frames >= 1, 4), found shape (5, 3)"),
        ({"a": np.zeros((0, 4), np.float32)}, "a.npy: expected an array (frames >= 1, 4), found shape (0, 4)"),
        ({"a": np.full((2, 4), np.nan, np.float32)}, "a.npy: expected finite feature values, found NaN or infinity"),
    ],
    ids=["width", "no-frames", "nan"],
)
def test_bad_shipped_features_stop_before_the_store_is_complete(tmp_path, arrays, message):
    root, idx = _shipped(tmp_path, arrays)
    with pytest.raises(InputError) as err:
        extract_precomputed(idx, root, tmp_path / "out", FeatureConfig.from_dict(PRE))
    assert str(err.value).endswith(message) and not (tmp_path / "out" / "features.npy").exists()


def test_missing_clip_and_cli(tmp_path):
    root, idx = _shipped(tmp_path, {"a": np.zeros((2, 4), np.float32)})
    write_tsv(
        idx / "files.tsv",
        pd.DataFrame({"file_id": ["a", "gone"], "split": "train", "audio": "", "annotation": "", "duration_s": 1.0}),
    )
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "sedrepro.features",
            "--root",
            str(root),
            "--index",
            str(idx),
            "--out",
            str(tmp_path / "out"),
            "--features",
            json.dumps(PRE),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert errors == [
        f"error: {root / 'feats/emb/gone.npy'}: expected the clip's features (feats/emb/<file_id>.npy), "
        "found no such file"
    ]
    with pytest.raises(
        InputError,
        match=r"^config key 'features/path': expected a folder relative to the dataset "
        r"root, found '\.\./x'$",
    ):
        FeatureConfig.from_dict({**PRE, "path": "../x"})
