"""Reliability of the audio stages: kill -9 during feature extraction, truncated WAVs, resampling of other rates."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from sedrepro import datasets
from sedrepro.features import FeatureConfig, extract_dataset
from sedrepro.io import InputError, wav_declared_frames, write_tsv

FEATURES = {
    "kind": "logmel",
    "sample_rate": 22050,
    "n_mels": 32,
    "n_fft": 1024,
    "hop_length": 256,
    "f_min": 50.0,
    "f_max": 11025.0,
    "n_mfcc": None,
    "top_db": None,
}
OUTPUTS = ("features.npy", "frames.tsv", "features.json")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _audio_dir(root: Path, n_clips: int = 12, seconds: float = 5.0) -> Path:
    rng = np.random.default_rng(0)
    rows = []
    for k in range(n_clips):
        n = int(seconds * 22050) + k
        sf.write(root / f"c{k}.wav", (0.1 * rng.standard_normal(n)).astype(np.float32), 22050, subtype="PCM_16")
        rows.append({"file_id": f"c{k}", "split": "train", "path": f"c{k}.wav", "n_samples": n})
    write_tsv(root / "audio.tsv", pd.DataFrame(rows))
    return root


def _features_cmd(audio: Path, out: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "sedrepro.features",
        "--audio",
        str(audio),
        "--out",
        str(out),
        "--features",
        json.dumps(FEATURES),
    ]


def test_kill_9_during_feature_extraction_then_rerun_equals_a_clean_run(tmp_path: Path, kill_at_fault) -> None:
    audio = tmp_path / "audio"
    audio.mkdir()
    _audio_dir(audio)
    clean = tmp_path / "clean"
    frames = extract_dataset(audio, clean, FeatureConfig.from_dict(FEATURES))  # the same stage in-process, never killed
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    killed = tmp_path / "killed"
    kill_at_fault(_features_cmd(audio, killed), "features.clip", 5, env)  # killed after 5 of the 12 clips
    temp = list(killed.glob(".features.npy.*"))
    assert len(temp) == 1, "the kill came before the stage started writing"
    assert [name for name in OUTPUTS if (killed / name).exists()] == []  # atomic: no final output after the kill
    half, cut = np.load(temp[0], mmap_mode="r"), int(frames.start[5])
    assert np.array_equal(half[:cut], np.load(clean / "features.npy")[:cut]) and not half[cut:].any()  # half-way

    # timeout: a hang guard only
    done = subprocess.run(_features_cmd(audio, killed), env=env, capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, done.stderr[-2000:]
    assert {n: _sha256(killed / n) for n in OUTPUTS} == {n: _sha256(clean / n) for n in OUTPUTS}


def _truncated_wav(path: Path, seconds: float = 2.0, sr: int = 8000) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, np.zeros(int(seconds * sr), dtype=np.float32), sr, subtype="PCM_16")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])  # the header still declares 2 s
    return path


def test_wav_header_declares_more_frames_than_libsndfile_reads(tmp_path: Path) -> None:
    path = _truncated_wav(tmp_path / "t.wav")
    assert wav_declared_frames(path) == 16000 and sf.info(str(path)).frames < 16000  # libsndfile shortens silently
    sf.write(tmp_path / "f.flac", np.zeros(100, dtype=np.float32), 8000)
    assert wav_declared_frames(tmp_path / "f.flac") is None  # other formats: libsndfile's own checks


def test_truncated_wav_stops_the_index_stage(tmp_path: Path) -> None:
    root = tmp_path / "URBAN-SED_v2.0.0"
    for split in ("train", "validate", "test"):
        ann = root / "annotations" / split / f"s_{split}.txt"
        ann.parent.mkdir(parents=True)
        ann.write_text("0.1\t0.5\tsiren\n")
        sf.write(_mkdir(root / "audio" / split) / f"s_{split}.wav", np.zeros(16000, np.float32), 8000, subtype="PCM_16")
    bad = _truncated_wav(root / "audio" / "validate" / "s_validate.wav")
    with pytest.raises(InputError) as err:
        datasets.get("urban_sed").index(root)
    found = sf.info(str(bad)).frames
    assert str(err.value) == f"{bad}: expected 16000 frames as its WAV header declares, found {found} (truncated file)"


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path
