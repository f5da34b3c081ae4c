"""Annotation parsing errors (one line, file:line), layout errors naming what is missing, index round trip, CLI."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile

from sedrepro import datasets
from sedrepro.datasets import DatasetIndex, parse_annotation
from sedrepro.io import InputError

URBAN = datasets.get("urban_sed")
TUT = datasets.get("tut_sed_synthetic_2016")
SR = 8000


def _wav(path: Path, seconds: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(path, np.zeros(int(seconds * SR), dtype=np.float32), SR, subtype="PCM_16")


def _urban_tree(root: Path, with_audio: bool = True) -> Path:
    """Two files per split, 2 s long; the first train file has overlapping same-class events and float noise."""
    for split in ("train", "validate", "test"):
        for k in range(2):
            stem = f"soundscape_{split}_uniform{k}"
            ann = root / "annotations" / split / f"{stem}.txt"
            ann.parent.mkdir(parents=True, exist_ok=True)
            if split == "train" and k == 0:
                ann.write_text("0.5\t1.5\tdog_bark\n0.2\t1.0\tdog_bark\n1.0\t2.0000000000000002\tsiren\n")
            else:
                ann.write_text("0.1\t0.9\tgun_shot\n")
            if with_audio:
                _wav(root / "audio" / split / f"{stem}.wav", 2.0)
    return root


def _tut_tree(root: Path) -> Path:
    lists = {"train+validate.txt": [0, 1, 2, 3], "validate.txt": [3], "test.txt": [4], "evaluate.txt": [4]}
    for n in range(5):
        _wav(root / "audio" / f"TUT-SED-synthetic-2016-mix-{n}.wav", 3.0)
        meta = root / "meta" / f"TUT-SED-synthetic-2016-annot-{n}.txt"
        meta.parent.mkdir(parents=True, exist_ok=True)
        meta.write_text("0.000000\t1.000000\tbus\n0.500000\t2.000000\train\n")
    (root / "evaluation_setup").mkdir()
    for name, numbers in lists.items():
        lines = [f"audio/TUT-SED-synthetic-2016-mix-{n}.wav\t0.0\t1.0\tbus\n" for n in numbers for _ in range(2)]
        (root / "evaluation_setup" / name).write_text("".join(lines))
    return root


# ---- annotation parsing --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "expected", "found"),
    [
        ("1.0 2.0", "3 fields", "2 field(s)"),
        ("abc\t2.0\tsiren", "a number for the onset", "'abc'"),
        ("1.0\tx2\tsiren", "a number for the offset", "'x2'"),
        ("2.0\t1.0\tsiren", "offset > onset", "onset 2.0 and offset 1.0"),
        ("1.5\t1.5\tsiren", "offset > onset", "onset 1.5 and offset 1.5"),
        ("0.0\t1.0\tlawn_mower", "a label of the 10 classes", "'lawn_mower'"),
        ("3.0\t3.5\tsiren", "onset before the end of the audio (2.000000 s)", "onset 3.0"),
        ("1.0\t2.5\tsiren", "offset within the audio (2.000000 s)", "offset 2.5"),
        ("-1.0\t1.0\tsiren", "onset >= 0", "'-1.0'"),
        ("nan\t1.0\tsiren", "a finite number for the onset", "'nan'"),
    ],
    ids=[
        "few-fields",
        "onset-text",
        "offset-text",
        "offset-before-onset",
        "zero-length",
        "label",
        "onset-past-end",
        "offset-past-end",
        "negative",
        "nan",
    ],
)
def test_annotation_errors_are_one_line_with_file_and_line(
    tmp_path: Path, line: str, expected: str, found: str
) -> None:
    path = tmp_path / "a.txt"
    path.write_text(f"0.1\t0.2\tsiren\n\n{line}\n")
    with pytest.raises(InputError) as err:
        parse_annotation(path, URBAN.classes, duration_s=2.0)
    msg = str(err.value)
    assert "\n" not in msg
    assert msg.startswith(f"{path}:3: expected {expected}")
    assert f"found {found}" in msg


def test_annotation_float_noise_is_clipped_and_overlaps_kept(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_text("0.5\t1.5\tdog_bark\n0.2\t1.0\tdog_bark\n1.0 10.000000000000002 siren\n")
    events = parse_annotation(path, URBAN.classes, duration_s=10.0)
    assert events == [(0.5, 1.5, "dog_bark"), (0.2, 1.0, "dog_bark"), (1.0, 10.0, "siren")]
    # Without a known duration nothing is clipped.
    assert parse_annotation(path, URBAN.classes, duration_s=None)[2][1] > 10.0


# ---- URBAN-SED layout --------------------------------------------------------------------------------------------


def test_urban_index_reads_splits_durations_and_sorted_events(tmp_path: Path) -> None:
    index = URBAN.index(_urban_tree(tmp_path / "URBAN-SED_v2.0.0"))
    assert index.files["split"].value_counts().to_dict() == {"train": 2, "validate": 2, "test": 2}
    assert list(index.files.columns) == ["file_id", "split", "audio", "annotation", "duration_s"]
    assert list(index.events.columns) == ["file_id", "onset", "offset", "label"]
    assert (index.files["duration_s"] == 2.0).all()
    first = index.events[index.events["file_id"] == "soundscape_train_uniform0"]
    assert first["onset"].tolist() == [0.2, 0.5, 1.0]  # sorted by onset, both overlapping dog_barks kept
    assert first["offset"].max() == 2.0  # float noise clipped to the duration
    row = index.files.set_index("file_id").loc["soundscape_test_uniform1"]
    assert row["audio"] == "audio/test/soundscape_test_uniform1.wav"
    assert row["annotation"] == "annotations/test/soundscape_test_uniform1.txt"


def test_urban_index_accepts_parent_folder_and_roundtrips(tmp_path: Path) -> None:
    _urban_tree(tmp_path / "URBAN-SED_v2.0.0")
    index = URBAN.index(tmp_path)
    index.write(tmp_path / "ix")
    back = DatasetIndex.read(tmp_path / "ix")
    assert back.files["file_id"].tolist() == index.files["file_id"].tolist()
    assert np.allclose(back.events["onset"], index.events["onset"])
    assert back.events["label"].tolist() == index.events["label"].tolist()


def test_urban_annotations_only_needs_no_audio(tmp_path: Path) -> None:
    index = URBAN.index(_urban_tree(tmp_path / "u", with_audio=False), annotations_only=True)
    assert len(index.files) == 6 and index.files["duration_s"].isna().all()
    with pytest.raises(
        InputError, match=r"audio/train: expected the train audio folder audio/train/, found no such folder"
    ):
        URBAN.index(tmp_path / "u")


def test_urban_layout_errors_name_what_is_missing(tmp_path: Path) -> None:
    root = _urban_tree(tmp_path / "u")
    (root / "audio" / "validate" / "soundscape_validate_uniform1.wav").unlink()
    with pytest.raises(InputError) as err:
        URBAN.index(root)
    msg = str(err.value)
    assert (
        "soundscape_validate_uniform1.wav: expected the audio file of annotations/validate/soundscape_validate_uniform1.txt"
        in msg
    )
    _wav(root / "audio" / "validate" / "soundscape_validate_uniform1.wav", 2.0)
    _wav(root / "audio" / "test" / "soundscape_test_extra.wav", 2.0)
    with pytest.raises(
        InputError,
        match=r"soundscape_test_extra.txt: expected the annotation file of audio/test/soundscape_test_extra.wav",
    ):
        URBAN.index(root)
    for path in (root / "annotations" / "test").iterdir():
        path.unlink()
    (root / "annotations" / "test").rmdir()
    with pytest.raises(
        InputError,
        match=r"annotations/test: expected the test annotation folder annotations/test/, found no such folder",
    ):
        URBAN.index(root)
    with pytest.raises(InputError, match=r"nowhere: expected the urban_sed dataset folder, found no such folder"):
        URBAN.index(tmp_path / "nowhere")


# ---- TUT-SED Synthetic 2016 layout -------------------------------------------------------------------------------


def test_tut_index_uses_split_lists(tmp_path: Path) -> None:
    index = TUT.index(_tut_tree(tmp_path / "TUT-SED-synthetic-2016"))
    by_split = index.files.groupby("split")["file_id"].apply(sorted).to_dict()
    assert by_split == {
        "train": [f"TUT-SED-synthetic-2016-mix-{n}" for n in (0, 1, 2)],
        "validate": ["TUT-SED-synthetic-2016-mix-3"],
        "test": ["TUT-SED-synthetic-2016-mix-4"],
    }
    assert len(index.events) == 10
    assert (
        index.files.set_index("file_id").loc["TUT-SED-synthetic-2016-mix-4", "annotation"]
        == "meta/TUT-SED-synthetic-2016-annot-4.txt"
    )


def test_tut_layout_errors(tmp_path: Path) -> None:
    root = _tut_tree(tmp_path / "t")
    (root / "evaluation_setup" / "test.txt").unlink()
    with pytest.raises(
        InputError,
        match=r"evaluation_setup/test.txt: expected the split list evaluation_setup/test.txt, found no such file",
    ):
        TUT.index(root)
    (root / "evaluation_setup" / "test.txt").write_text("audio/TUT-SED-synthetic-2016-mix-4.wav\n")
    (root / "audio" / "TUT-SED-synthetic-2016-mix-4.wav").unlink()
    with pytest.raises(
        InputError, match=r"mix-4.wav: expected the audio file named in evaluation_setup/test.txt, found no such file"
    ):
        TUT.index(root)
    assert len(TUT.index(root, annotations_only=True).files) == 5  # no audio needed then
    (root / "meta" / "TUT-SED-synthetic-2016-annot-2.txt").unlink()
    with pytest.raises(
        InputError, match=r"annot-2.txt: expected the annotation file of audio/TUT-SED-synthetic-2016-mix-2.wav"
    ):
        TUT.index(root, annotations_only=True)


def test_tut_test_split_must_not_leak(tmp_path: Path) -> None:
    root = _tut_tree(tmp_path / "t")
    (root / "evaluation_setup" / "test.txt").write_text("audio/TUT-SED-synthetic-2016-mix-1.wav\n")
    with pytest.raises(InputError, match="disjoint"):
        TUT.index(root)


def test_get_unknown_dataset() -> None:
    assert datasets.DATASETS.names() == ("audioset", "desed", "tut_sed_synthetic_2016", "urban_sed", "urbansound8k")
    with pytest.raises(
        InputError,
        match=r"^dataset: expected a registered dataset \(audioset, desed, tut_sed_synthetic_2016, urban_sed, "
        r"urbansound8k\), found 'dcase'$",
    ):
        datasets.get("dcase")


def test_index_cli(tmp_path: Path) -> None:
    root = _urban_tree(tmp_path / "u")
    ok = subprocess.run(
        [
            sys.executable,
            "-m",
            "sedrepro.datasets.index",
            "--dataset",
            "urban_sed",
            "--root",
            str(root),
            "--out",
            str(tmp_path / "ix"),
        ],
        capture_output=True,
        text=True,
    )
    assert ok.returncode == 0, ok.stderr
    assert math.isclose(DatasetIndex.read(tmp_path / "ix").files["duration_s"].iloc[0], 2.0)
    bad = subprocess.run(
        [
            sys.executable,
            "-m",
            "sedrepro.datasets.index",
            "--dataset",
            "urban_sed",
            "--root",
            str(tmp_path / "missing"),
            "--out",
            str(tmp_path / "ix2"),
        ],
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2
    assert [line for line in bad.stderr.splitlines() if line.startswith("error:")] == [
        f"error: {tmp_path / 'missing'}: expected the urban_sed dataset folder, found no such folder"
    ]
    assert not (tmp_path / "ix2").exists()
