"""Both audio stages with clips in parallel (--threads N): the same bytes as one thread, and errors still stop them."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from sedrepro.audio import resample_dataset
from sedrepro.features import FeatureConfig, extract_dataset
from sedrepro.io import InputError, write_tsv

CFG = FeatureConfig("logmel", 22050, 96, 1024, 256, 50.0, 11025.0)


def _raw(root: Path, n: int = 7) -> Path:
    rng = np.random.default_rng(0)
    rows = []
    for i in range(n):
        sr = (44100, 48000, 22050)[i % 3]
        data = 0.1 * rng.standard_normal((int(sr * (0.5 + 0.1 * i)), 1 + i % 2)).astype(np.float32)
        sf.write(root / f"c{i}.wav", data, sr, subtype="PCM_16")
        rows.append({"file_id": f"c{i}", "split": ("train", "test")[i % 2], "audio": f"c{i}.wav"})
    write_tsv(root / "index" / "files.tsv", pd.DataFrame(rows))
    return root


def _bytes(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("threads", [2, 3])
def test_threads_give_the_same_bytes_as_one_thread(tmp_path, threads):
    raw = _raw(tmp_path)
    for n in (1, threads):
        resample_dataset(raw / "index", raw, tmp_path / f"audio{n}", 22050, n)
        extract_dataset(tmp_path / f"audio{n}", tmp_path / f"feat{n}", CFG, n)
    for stage in ("audio", "feat"):
        one, many = _bytes(tmp_path / f"{stage}1"), _bytes(tmp_path / f"{stage}{threads}")
        assert one == many and len(one) > 2


def test_a_bad_clip_stops_the_threaded_stage_with_its_line(tmp_path):
    raw = _raw(tmp_path)
    (raw / "c3.wav").write_bytes(b"not audio")
    with pytest.raises(InputError, match="c3.wav: expected an audio file"):
        resample_dataset(raw / "index", raw, tmp_path / "audio", 22050, 2)
    assert not (tmp_path / "audio" / "audio.tsv").exists()
