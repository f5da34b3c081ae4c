"""The resample stage on bad and unusual audio: truncated WAVs stop with one line, other rates and channel counts are
resampled and mixed to mono (and the log says so). (Empty and non-audio files: test_features.py.)"""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from sedrepro.audio import load_mono, resample, resample_dataset
from sedrepro.io import InputError, write_tsv


def _truncated(path: Path) -> tuple[Path, int]:
    sf.write(path, np.zeros((16000, 2), dtype=np.float32), 8000, subtype="PCM_16")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])  # the header still declares 16000 frames
    return path, sf.info(str(path)).frames


def test_truncated_wav_is_one_line_naming_file_declared_and_found(tmp_path: Path) -> None:
    path, found = _truncated(tmp_path / "cut.wav")
    with pytest.raises(InputError) as err:
        load_mono(path)
    assert str(err.value) == f"{path}: expected 16000 frames as its WAV header declares, found {found} (truncated file)"


def _index(tmp_path: Path, rows: list[dict]) -> Path:
    ix = tmp_path / "index"
    write_tsv(ix / "files.tsv", pd.DataFrame(rows))
    return ix


def test_resample_stage_cli_stops_on_a_truncated_wav(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    sf.write(root / "ok.wav", np.zeros(8000, dtype=np.float32), 8000)
    path, found = _truncated(root / "cut.wav")
    ix = _index(
        tmp_path,
        [
            {"file_id": "ok", "split": "train", "audio": "ok.wav"},
            {"file_id": "cut", "split": "train", "audio": "cut.wav"},
        ],
    )
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "sedrepro.audio",
            "--index",
            str(ix),
            "--root",
            str(root),
            "--out",
            str(tmp_path / "out"),
            "--sample-rate",
            "22050",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert [line for line in proc.stderr.splitlines() if line.startswith("error:")] == [
        f"error: {path}: expected 16000 frames as its WAV header declares, found {found} (truncated file)"
    ]
    assert not (tmp_path / "out" / "audio.tsv").exists()


def test_48k_stereo_is_resampled_and_mixed_to_mono_and_logged(tmp_path: Path, caplog) -> None:
    root = tmp_path / "root"
    root.mkdir()
    t = np.arange(48000) / 48000
    left, right = 0.5 * np.sin(2 * np.pi * 440 * t), 0.25 * np.sin(2 * np.pi * 1000 * t)
    sf.write(root / "st.wav", np.stack([left, right], axis=1).astype(np.float32), 48000, subtype="FLOAT")
    sf.write(root / "mono.wav", (0.1 * np.sin(2 * np.pi * 300 * t[:22050])).astype(np.float32), 22050, subtype="FLOAT")
    ix = _index(
        tmp_path,
        [
            {"file_id": "st", "split": "train", "audio": "st.wav"},
            {"file_id": "mono", "split": "test", "audio": "mono.wav"},
        ],
    )
    with caplog.at_level(logging.INFO, logger="sedrepro"):
        table = resample_dataset(ix, root, tmp_path / "out", 22050)
    row = table.set_index("file_id").loc["st"]
    assert (row.orig_sample_rate, row.orig_channels, row.n_samples) == (48000, 2, 22050)
    got = np.load(tmp_path / "out" / row.path) if row.path.endswith(".npy") else sf.read(tmp_path / "out" / row.path)[0]
    expected = resample(((left + right) / 2).astype(np.float32), 48000, 22050)
    assert got.shape == (22050,) and np.abs(got - expected).max() < 1e-6  # mean of the channels, then resampled
    # and the tones are where they should be at the new rate
    spectrum = np.abs(np.fft.rfft(got))
    peaks = sorted(np.argsort(spectrum)[-2:])
    assert peaks == [440, 1000]
    assert "1 of 2 files resampled to 22050 Hz (from 48000 Hz); 1 mixed to mono (from 2 channels)" in caplog.text
