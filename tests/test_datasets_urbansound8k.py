"""UrbanSound8K: metadata CSV checks, one whole-clip event per clip, fold splits, the embedded stand-in, real metadata."""

from __future__ import annotations

import csv
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile
from conftest import REALDATA

from sedrepro import datasets
from sedrepro.datasets import DatasetIndex
from sedrepro.datasets.archive import extract
from sedrepro.datasets.base import SPLITS
from sedrepro.datasets.embedded import generate_clips
from sedrepro.datasets.stats import describe, render_markdown
from sedrepro.datasets.urbansound8k import FOLDS, HEADER, METADATA, assign_splits, read_metadata
from sedrepro.io import InputError
from sedrepro.papers import load_paper_values

SPEC = datasets.get("urbansound8k")
REPO = Path(__file__).resolve().parents[1]
US8K_REAL = REALDATA / "UrbanSound8K"
RATES, SUBTYPES, CHANNELS = [44100, 22050, 11025], ["PCM_16", "PCM_24", "FLOAT"], [1, 2]
GOOD_ROW = "100032-3-0-0.wav,100032,0.0,0.317551,1,5,3,dog_bark"


def _generate(out: Path) -> dict:
    return generate_clips(
        "urbansound8k",
        out,
        clips_per_fold=2,
        duration_s=(0.5, 4.0),
        sample_rates=RATES,
        subtypes=SUBTYPES,
        channels=CHANNELS,
        seed=7,
    )


@pytest.fixture(scope="module")
def embedded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, DatasetIndex]:
    base = tmp_path_factory.mktemp("us8k")
    _generate(base / "emb")
    extract([base / "emb" / SPEC.embedded_archives[0]], base / "data")
    return base, SPEC.index(base / "data")


def _write_csv(root: Path, lines: list[str]) -> Path:
    path = root / METADATA
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


# ---- the embedded stand-in -----------------------------------------------------------------------------------------


def test_embedded_index_has_one_whole_clip_event_per_clip_in_its_fold(embedded) -> None:
    base, index = embedded
    files, events = index.files, index.events
    assert list(files["split"].unique()) == list(FOLDS) and (files["split"].value_counts() == 2).all()
    assert len(events) == len(files) == 20 and set(events["file_id"]) == set(files["file_id"])
    merged = events.merge(files, on="file_id")
    assert (merged["onset"] == 0).all() and np.allclose(merged["offset"], merged["duration_s"])
    assert (merged["duration_s"] <= 4.0).all() and merged["duration_s"].nunique() > 2
    assert set(events["label"]) == set(SPEC.classes)  # classes dealt round-robin: all 10 in 20 clips
    # The CSV agrees with the files: fold folder, classID in the name, class label, span = audio length.
    root = base / "data" / "UrbanSound8K"
    meta = pd.read_csv(root / METADATA)
    assert tuple(meta.columns) == HEADER
    for row in meta.itertuples(index=False):
        stem = row.slice_file_name.removesuffix(".wav")
        rec = merged.set_index("file_id").loc[stem]
        assert rec["split"] == f"fold{row.fold}" and rec["label"] == row._7 == SPEC.classes[row.classID]
        assert int(stem.split("-")[1]) == row.classID and abs((row.end - row.start) - rec["duration_s"]) < 1e-5


def test_embedded_audio_varies_like_the_real_data(embedded) -> None:
    base, index = embedded
    infos = [soundfile.info(str(base / "data" / "UrbanSound8K" / a)) for a in index.files["audio"]]
    assert {i.samplerate for i in infos} == set(RATES)
    assert {i.subtype for i in infos} == set(SUBTYPES)
    assert {i.channels for i in infos} == set(CHANNELS)


def test_embedded_archive_is_reproducible(embedded, tmp_path: Path) -> None:
    base, _ = embedded
    again = _generate(tmp_path)
    assert (tmp_path / SPEC.embedded_archives[0]).read_bytes() == (
        base / "emb" / SPEC.embedded_archives[0]
    ).read_bytes()
    assert again["params"]["clips_per_fold"] == 2 and again["archives"][0]["name"] == "UrbanSound8K.tar.gz"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"duration_s": (1.0, 5.0)}, "params.duration_s: expected [min, max] with 0.01 <= min <= max <= 4"),
        ({"duration_s": (0.001, 1.0)}, "params.duration_s: expected [min, max] with 0.01 <= min <= max <= 4"),
        ({"subtypes": ["PCM_12"]}, "params.subtypes: expected a non-empty list of sample formats"),
        ({"channels": [3]}, "params.channels: expected a non-empty list of channel counts 1 or 2"),
        ({"sample_rates": []}, "params.sample_rates: expected a non-empty list of sample rates"),
    ],
)
def test_embedded_bad_params_are_one_line(tmp_path: Path, kwargs: dict, message: str) -> None:
    params = {
        "clips_per_fold": 1,
        "duration_s": (0.5, 4.0),
        "sample_rates": RATES,
        "subtypes": SUBTYPES,
        "channels": CHANNELS,
        "seed": 0,
        **kwargs,
    }
    with pytest.raises(InputError, match=message.replace("[", r"\[").replace("]", r"\]")):
        generate_clips("urbansound8k", tmp_path, **params)


def test_embedded_cli_names_the_clip_keys(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "sedrepro.datasets.embedded",
            "--dataset",
            "urbansound8k",
            "--out",
            str(tmp_path),
            "--params",
            '{"n_train": 1}',
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2 and "missing clips_per_fold" in proc.stderr and "unknown n_train" in proc.stderr


# ---- stats ---------------------------------------------------------------------------------------------------------


def test_stats_per_fold_and_class(embedded) -> None:
    _, index = embedded
    df = describe(SPEC, index)
    assert list(df["split"].unique()) == [*FOLDS, "all"]
    per = df.set_index(["split", "class"])
    assert per.loc[("all", "all"), "files"] == per.loc[("all", "all"), "events"] == 20
    assert (df["max_polyphony"] <= 1).all() and per.loc[("all", "all"), "max_polyphony"] == 1
    assert np.isclose(per.loc[("all", "all"), "total_event_s"], index.files["duration_s"].sum())
    md = render_markdown(SPEC, df, "embedded synthetic stand-in data")
    assert "| fold10 | 2 | 2 |" in md and "| class | fold1 |" in md


# ---- metadata checks and layout ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("row", "expected", "found"),
    [
        ("a.wav,1,0.0,1.0,1,5,3", "8 comma-separated fields", "7 field(s)"),
        ("a.mp3,1,0.0,1.0,1,5,3,dog_bark", "a .wav file name for slice_file_name", "'a.mp3'"),
        ("../a.wav,1,0.0,1.0,1,5,3,dog_bark", "a .wav file name for slice_file_name", "'../a.wav'"),
        ("a.wav,x1,0.0,1.0,1,5,3,dog_bark", "an integer for fsID", "'x1'"),
        ("a.wav,1,zero,1.0,1,5,3,dog_bark", "a number for start", "'zero'"),
        ("a.wav,1,0.0,inf,1,5,3,dog_bark", "a finite number for end", "'inf'"),
        ("a.wav,1,2.0,1.0,1,5,3,dog_bark", "0 <= start < end", "start 2.0 and end 1.0"),
        ("a.wav,1,0.0,1.0,3,5,3,dog_bark", "salience 1 (foreground) or 2 (background)", "'3'"),
        ("a.wav,1,0.0,1.0,1,11,3,dog_bark", "a fold 1-10", "'11'"),
        ("a.wav,1,0.0,1.0,1,0,3,dog_bark", "a fold 1-10", "'0'"),
        ("a.wav,1,0.0,1.0,1,5,10,dog_bark", "a classID 0-9", "'10'"),
        ("a.wav,1,0.0,1.0,1,5,2,dog_bark", "class 'children_playing' for classID 2", "'dog_bark'"),
        (GOOD_ROW, "each slice_file_name once", "'100032-3-0-0.wav' again (first on line 2)"),
    ],
    ids=[
        "fields",
        "not-wav",
        "path",
        "fsid",
        "start",
        "end-inf",
        "end-before-start",
        "salience",
        "fold-11",
        "fold-0",
        "classid",
        "class-mismatch",
        "duplicate",
    ],
)
def test_metadata_errors_name_file_and_line(tmp_path: Path, row: str, expected: str, found: str) -> None:
    path = _write_csv(tmp_path, [",".join(HEADER), GOOD_ROW, "", row])
    with pytest.raises(InputError) as err:
        read_metadata(path)
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith(f"{path}:4: expected {expected}, found {found}")


def test_metadata_header_and_missing_file(tmp_path: Path) -> None:
    path = _write_csv(tmp_path, ["slice_file_name,fsID,start,end,salience,fold,class", GOOD_ROW])
    with pytest.raises(InputError, match=rf"^{path}:1: expected the header slice_file_name,fsID"):
        read_metadata(path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(
        InputError, match="expected the metadata folder metadata/ of UrbanSound8K, found no such folder"
    ):
        SPEC.index(tmp_path / "empty")


def test_layout_errors_name_what_is_missing(tmp_path: Path) -> None:
    root = tmp_path / "UrbanSound8K"
    _write_csv(root, [",".join(HEADER), GOOD_ROW])
    assert len(SPEC.index(tmp_path, annotations_only=True).files) == 1  # the folder holding root_name is accepted
    with pytest.raises(InputError, match="expected the audio folder audio/ of UrbanSound8K"):
        SPEC.index(root)
    (root / "audio" / "fold1").mkdir(parents=True)
    with pytest.raises(InputError, match="audio/fold5: expected the audio folder audio/fold5/ named in"):
        SPEC.index(root)
    (root / "audio" / "fold5").mkdir()
    with pytest.raises(InputError, match="100032-3-0-0.wav: expected the audio file of 100032-3-0-0 \\(fold5 split\\)"):
        SPEC.index(root)
    soundfile.write(root / "audio" / "fold5" / "100032-3-0-0.wav", np.zeros(2000, dtype=np.float32), 8000)
    index = SPEC.index(root)
    assert index.events.to_dict("records") == [
        {"file_id": "100032-3-0-0", "onset": 0.0, "offset": 0.25, "label": "dog_bark"}
    ]


def test_index_cli_round_trip(tmp_path: Path) -> None:
    _write_csv(
        tmp_path / "UrbanSound8K",
        [",".join(HEADER), GOOD_ROW, "100263-2-0-117.wav,100263,58.5,62.5,2,1,2,children_playing"],
    )
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "sedrepro.datasets.index",
            "--dataset",
            "urbansound8k",
            "--root",
            str(tmp_path),
            "--annotations-only",
            "--out",
            str(tmp_path / "ix"),
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    index = DatasetIndex.read(tmp_path / "ix")
    assert list(index.files["split"]) == ["fold1", "fold5"]  # fold order, not text order
    assert index.events.set_index("file_id")["offset"].to_dict() == {"100032-3-0-0": 0.317551, "100263-2-0-117": 4.0}


def test_sed_datasets_keep_their_three_splits() -> None:
    assert datasets.get("urban_sed").splits == SPLITS == datasets.get("tut_sed_synthetic_2016").splits
    assert SPEC.splits == FOLDS == tuple(f"fold{k}" for k in range(1, 11))


# ---- fold -> train/validate/test -----------------------------------------------------------------------------------


def _files(n_per_fold: int = 10) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "file_id": [f"{1000 + f * 100 + i}-0-0-0" for f in range(1, 11) for i in range(n_per_fold)],
            "split": [f"fold{f}" for f in range(1, 11) for _ in range(n_per_fold)],
        }
    )


def test_paper_split_is_60_20_20_and_deterministic() -> None:
    files = _files()
    split = assign_splits(files)
    assert split.value_counts().to_dict() == {"train": 60, "validate": 20, "test": 20}
    shuffled = files.sample(frac=1.0, random_state=3)
    assert assign_splits(shuffled).sort_index().equals(split.sort_index())  # row order does not matter
    assert not assign_splits(files, seed=1).equals(split)
    assert split.index.tolist() == files["file_id"].tolist()


def test_official_protocol_holds_out_one_fold() -> None:
    files = _files(3)
    split = assign_splits(files, protocol="official", test_fold=10)
    by_fold = pd.Series(split.to_numpy(), index=files["split"]).groupby(level=0).agg(set).to_dict()
    assert by_fold["fold10"] == {"test"} and by_fold["fold1"] == {"validate"}
    assert all(by_fold[f] == {"train"} for f in FOLDS[1:9])
    assert assign_splits(files, protocol="official", test_fold=3).value_counts().to_dict() == {
        "train": 24,
        "test": 3,
        "validate": 3,
    }


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"protocol": "random"}, "protocol: expected 'paper' or 'official'"),
        ({"protocol": "official", "test_fold": 11}, "test_fold: expected an integer 1-10"),
    ],
)
def test_assign_splits_errors(kwargs: dict, message: str) -> None:
    with pytest.raises(InputError, match=message):
        assign_splits(_files(1), **kwargs)
    with pytest.raises(InputError, match="files.split: expected UrbanSound8K folds"):
        assign_splits(pd.DataFrame({"file_id": ["a"], "split": ["train"]}))


# ---- the real metadata (shared/realdata; never copied into the repo) -----------------------------------------------


@pytest.mark.realdata
@pytest.mark.skipif(
    not (US8K_REAL / METADATA).is_file(),
    reason=f"real UrbanSound8K metadata not found at {US8K_REAL / METADATA} (set SEDREPRO_REALDATA)",
)
def test_real_metadata_counts_and_paper_table1() -> None:
    index = SPEC.index(US8K_REAL, annotations_only=True)
    with open(US8K_REAL / METADATA, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert len(index.files) == len(index.events) == len(rows) == 8_732
    assert index.files["split"].value_counts().to_dict() == {
        f"fold{k}": n for k, n in Counter(r["fold"] for r in rows).items()
    }
    # Table 1 of the paper: clips per class. Computed from the index, compared with the transcribed values.
    ours = index.events["label"].value_counts()
    paper = load_paper_values(REPO / "config" / "paper_values" / "dessed.tsv")
    paper = paper[(paper["table"] == "table1") & (paper["column"] == "n_events")].set_index("row")["value"]
    assert set(paper.index) == set(SPEC.classes)
    diff = {c: (int(ours.get(c, 0)), int(paper[c])) for c in SPEC.classes if ours.get(c, 0) != paper[c]}
    assert not diff, f"Table 1 differs from the real metadata (ours, paper): {diff}"
    assert (index.events["onset"] == 0).all() and index.events["offset"].max() < 4.0 + 1e-6
