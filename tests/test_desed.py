"""DESED: the TSV parsers and their quirks, the layout checks, the manifest, the DCASE split, the dataset page; on
hand-written trees and, when present, on the real metadata in shared/realdata/DESED (never copied into the repo)."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile

from sedrepro import datasets
from sedrepro.datasets import DatasetIndex, desed, desed_standin, read_manifest, read_notes, set_coverage
from sedrepro.datasets.base import manifest_from_files
from sedrepro.datasets.stats import describe, render_markdown
from sedrepro.io import InputError
from sedrepro.splits import pipeline_sets

SPEC = datasets.get("desed")
REALDATA = Path(os.environ.get("SEDREPRO_REALDATA") or Path(__file__).resolve().parents[2] / "shared" / "realdata")
REAL = REALDATA / "DESED"
REAL_META = REAL / "data" / "real" / "metadata"
needs_real = pytest.mark.skipif(
    not (REAL_META / "validation" / "validation.tsv").is_file(), reason=f"real DESED metadata not found at {REAL_META}"
)
SR = 1000  # audio content is never read: a low rate keeps the files small
STRONG = "filename\tonset\toffset\tevent_label\n"


def _tsv(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _wav(path: Path, seconds: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(path, np.zeros(int(round(seconds * SR)), dtype=np.int16), SR)


def _tree(root: Path, year: str = "21", audio: bool = True) -> Path:
    """A small DESED_task tree with every quirk: a clip without events, a short clip, an event past its clip's end,
    same-class overlapping events, listed clips without audio, audio no metadata lists."""
    syn_t, syn_v = f"synthetic{year}_train", f"synthetic{year}_validation"
    _tsv(
        root / f"metadata/train/{syn_t}/soundscapes.tsv",
        STRONG + "0.wav\t0.5\t2.0\tDog\n0.wav\t1.0\t3.0\tDog\n1.wav\t0.0\t4.0\tSpeech\n",
    )
    _tsv(root / f"metadata/validation/{syn_v}/soundscapes.tsv", STRONG + "0.wav\t1.0\t2.0\tCat\n")
    _tsv(root / f"metadata/validation/{syn_v}/durations.tsv", "filename\tduration\n0.wav\t10.0\n")
    weak = [f"Yw{i:02d}-a_b_{i}.000_{i + 10}.000.wav" for i in range(10)]
    _tsv(
        root / "metadata/train/weak.tsv",
        "filename\tevent_labels\n"
        + "".join(f"{n}\t{'Dog,Speech' if i == 0 else 'Frying'}\n" for i, n in enumerate(weak)),
    )
    unlabelled = ["Yu0_0.000_10.000.wav", "Yu1_30.000_40.000.wav"]
    _tsv(root / "metadata/train/unlabel_in_domain.tsv", "filename\n" + "".join(f"{n}\n" for n in unlabelled))
    _tsv(
        root / "metadata/validation/validation.tsv",
        STRONG + "Yv0_0.000_10.000.wav\t0.000\t9.971\tVacuum_cleaner\n"
        "Yv1_20.000_30.000.wav\t\t\t\n"  # a clip without events
        "Yv2_5.000_12.000.wav\t1.000\t7.500\tBlender\n"  # the clip lasts 7 s: ends past it
        "Yv3_0.000_10.000.wav\t2.000\t3.000\tDishes\n",  # listed, audio missing
    )
    _tsv(
        root / "metadata/validation/validation_durations.tsv",
        "filename\tduration\nYv0_0.000_10.000.wav\t10.0\nYv1_20.000_30.000.wav\t10.0\nYv2_5.000_12.000.wav\t7.0\n"
        "Yv3_0.000_10.000.wav\t10.0\n",
    )
    _tsv(root / "metadata/eval/public.tsv", STRONG + "Yp0_120_130.wav\t0.000\t2.081\tSpeech\n")
    strong_real = ["Ys0_0.000_10.000.wav", "Ys1_10.000_20.000.wav"]
    _tsv(
        root / "metadata/train/audioset_strong.tsv",
        STRONG + f"{strong_real[0]}\t0.500\t3.000\tDog\n{strong_real[1]}\t1.000\t2.000\tCat\n",
    )
    if audio:
        _wav(root / f"audio/train/strong_label_real/{strong_real[0]}", 10.0)  # the second is missing
        for n in ("0.wav", "1.wav"):
            _wav(root / f"audio/train/{syn_t}/soundscapes/{n}", 10.0)
        _wav(root / f"audio/validation/{syn_v}/soundscapes/0.wav", 10.0)
        for n in weak[:9]:  # the last weak clip is missing
            _wav(root / f"audio/train/weak/{n}", 10.0)
        for n in unlabelled:
            _wav(root / f"audio/train/unlabel_in_domain/{n}", 10.0)
        _wav(root / "audio/train/unlabel_in_domain/Yextra_0.000_10.000.wav", 10.0)  # listed nowhere
        for n, s in (("Yv0_0.000_10.000.wav", 10.0), ("Yv1_20.000_30.000.wav", 10.0), ("Yv2_5.000_12.000.wav", 7.0)):
            _wav(root / f"audio/validation/validation/{n}", s)
        _wav(root / "audio/eval/public/Yp0_120_130.wav", 10.0)
    return root


def test_spec_declares_classes_subsets_and_sets() -> None:
    assert SPEC.classes == (
        "Alarm_bell_ringing",
        "Blender",
        "Cat",
        "Dishes",
        "Dog",
        "Electric_shaver_toothbrush",
        "Frying",
        "Running_water",
        "Speech",
        "Vacuum_cleaner",
    )
    assert SPEC.subsets == {
        "synthetic_train": "strong",
        "synthetic_validate": "strong",
        "weak": "weak",
        "unlabel_in_domain": "none",
        "validation": "strong",
        "public_eval": "strong",
        "strong_real": "strong",
    }
    assert SPEC.embedded is desed_standin.STAND_IN and SPEC.embedded_archives == desed_standin.ARCHIVES


def test_read_strong_keeps_clips_without_events(tmp_path: Path) -> None:
    t = desed.read_strong(_tsv(tmp_path / "s.tsv", STRONG + "a.wav\t0.5\t1\tDog\nb.wav\t\t\t\n\na.wav\t2\t3\tCat\n"))
    assert t.clips == ["a.wav", "b.wav"]
    assert [e[:4] for e in t.events] == [("a.wav", 0.5, 1.0, "Dog"), ("a.wav", 2.0, 3.0, "Cat")]
    assert (t.rows, t.empty_rows) == (3, 1)
    assert [e[4] for e in t.events] == [2, 5]  # line numbers, blank line counted


def test_read_strong_reads_crlf_lines(tmp_path: Path) -> None:
    # the 2019 synthetic soundscapes.tsv has Windows line ends
    t = desed.read_strong(_tsv(tmp_path / "s.tsv", STRONG.replace("\n", "\r\n") + "10.wav\t0.28\t1.05\tDog\r\n"))
    assert [e[:4] for e in t.events] == [("10.wav", 0.28, 1.05, "Dog")]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("a.wav\t0\t1\tdog\n", "s.tsv:2: expected a label of the 10 classes (Alarm_bell_ringing, "),
        ("a.wav\t0\t1\tDog\nb.wav\t1\t\tDog\n", "s.tsv:3: expected onset, offset and label all given or all empty"),
        ("a.wav\t2\t1\tDog\n", "s.tsv:2: expected offset > onset, found onset 2 and offset 1"),
        ("a.wav\tx\t1\tDog\n", "s.tsv:2: expected a number for the onset, found 'x'"),
        ("a.wav\t-1\t1\tDog\n", "s.tsv:2: expected a finite number >= 0 for the onset, found '-1'"),
        ("a.wav\t0\t1\n", "s.tsv:2: expected 4 tab-separated fields, found 3 'a.wav\\t0\\t1'"),
        ("a.mp3\t0\t1\tDog\n", "s.tsv:2: expected a .wav file name, found 'a.mp3'"),
    ],
)
def test_read_strong_stops_on_a_bad_row(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(InputError) as err:
        desed.read_strong(_tsv(tmp_path / "s.tsv", STRONG + body))
    assert message in str(err.value) and "\n" not in str(err.value)


def test_read_strong_checks_the_header(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"s.tsv:1: expected the header filename onset offset event_label"):
        desed.read_strong(_tsv(tmp_path / "s.tsv", "filename\tonset\toffset\tlabel\n"))


def test_read_weak_unlabelled_durations(tmp_path: Path) -> None:
    weak = "filename\tevent_labels\na.wav\tDog,Speech\nb.wav\tCat,Cat\n"
    assert desed.read_weak(_tsv(tmp_path / "w.tsv", weak)) == ({"a.wav": ("Dog", "Speech"), "b.wav": ("Cat",)}, 1)
    assert desed.read_unlabelled(_tsv(tmp_path / "u.tsv", "filename\na.wav\nb.wav\n")) == ["a.wav", "b.wav"]
    assert desed.read_durations(_tsv(tmp_path / "d.tsv", "filename\tduration\na.wav\t9.3\n")) == {"a.wav": 9.3}


@pytest.mark.parametrize(
    ("reader", "text", "message"),
    [
        (desed.read_weak, "filename\tevent_labels\na.wav\tDog,Sheep\n", "w.tsv:2: expected a label of the 10"),
        (desed.read_weak, "filename\tevent_labels\na.wav\tDog,\n", "w.tsv:2: expected comma-separated labels"),
        (desed.read_weak, "filename\tevent_labels\na.wav\tDog\na.wav\tCat\n", "w.tsv:3: expected each filename once"),
        (desed.read_unlabelled, "filename\na.wav\na.wav\n", "w.tsv:3: expected each filename once"),
        (desed.read_unlabelled, "file\na.wav\n", "w.tsv:1: expected the header filename"),
        (desed.read_durations, "filename\tduration\na.wav\t0\n", "w.tsv:2: expected a duration > 0, found '0'"),
    ],
)
def test_other_readers_stop_on_a_bad_row(tmp_path: Path, reader, text: str, message: str) -> None:
    with pytest.raises(InputError) as err:
        reader(_tsv(tmp_path / "w.tsv", text))
    assert message in str(err.value)


def test_merge_overlaps_merges_same_class_only() -> None:
    ev = pd.DataFrame(
        [("a", 0.0, 2.0, "Dog"), ("a", 1.0, 3.0, "Dog"), ("a", 2.5, 4.0, "Dog"), ("a", 1.0, 2.0, "Cat"),
         ("a", 4.0, 5.0, "Dog"), ("b", 1.5, 2.0, "Dog")],
        columns=["file_id", "onset", "offset", "label"],
    )  # fmt: skip
    merged, n = desed.merge_overlaps(ev)
    assert n == 2  # (1, 3) and (2.5, 4) into (0, 4); (4, 5) only touches it and stays
    assert merged.values.tolist() == [
        ["a", 0.0, 4.0, "Dog"],
        ["a", 1.0, 2.0, "Cat"],
        ["a", 4.0, 5.0, "Dog"],
        ["b", 1.5, 2.0, "Dog"],
    ]


def test_validation_version_by_row_count() -> None:
    assert desed.validation_version(4239).startswith("4,239 rows (DESED 2021")
    assert desed.validation_version(4251).startswith("4,251 rows (older release")
    assert desed.validation_version(4) == "4 rows (not a known release: 4,239 or 4,251)"


def test_index_handles_every_quirk_and_counts_it(tmp_path: Path) -> None:
    index = SPEC.index(_tree(tmp_path / "DESED"))
    files, events, notes = index.files, index.events, index.notes
    assert files["split"].value_counts().to_dict() == {
        "weak": 9,
        "validation": 3,
        "synthetic_train": 2,
        "unlabel_in_domain": 2,
        "synthetic_validate": 1,
        "public_eval": 1,
        "strong_real": 1,
    }
    # synthetic stems repeat between train and validation: the subset prefixes them
    assert {"synthetic_train-0", "synthetic_validate-0"} <= set(files["file_id"])
    ev = events.set_index("file_id")
    assert ev.loc[["synthetic_train-0"]].values.tolist() == [[0.5, 3.0, "Dog"]]  # two overlapping Dog events merged
    assert "Yv1_20.000_30.000" in set(files["file_id"]) and "Yv1_20.000_30.000" not in ev.index
    assert ev.loc[["Yv2_5.000_12.000"]].values.tolist() == [[1.0, 7.0, "Blender"]]  # clipped to the 7 s clip
    assert sorted(ev.loc[["Yw00-a_b_0.000_10.000"]]["label"]) == ["Dog", "Speech"]  # weak tags over the whole clip
    assert ev.loc[["Yw00-a_b_0.000_10.000"]][["onset", "offset"]].values.tolist() == [[0.0, 10.0]] * 2
    assert not ev.index.str.startswith("Yu").any()  # unlabelled clips have no events
    sub = notes["subsets"]
    assert sub["synthetic_train"]["same_class_overlaps_merged"] == 1
    assert sub["validation"]["version"].startswith("4 rows")
    assert (sub["validation"]["clips_without_events"], sub["validation"]["events_past_clip_end_clipped"]) == (1, 1)
    assert (sub["validation"]["short_clips"], sub["validation"]["missing"], sub["validation"]["listed"]) == (1, 1, 4)
    assert (sub["weak"]["present"], sub["weak"]["missing"]) == (9, 1)
    assert (sub["unlabel_in_domain"]["present"], sub["unlabel_in_domain"]["unlisted"]) == (2, 1)
    assert (sub["strong_real"]["present"], sub["strong_real"]["missing"]) == (1, 1)  # the strong real subset
    assert ev.loc[["Ys0_0.000_10.000"]].values.tolist() == [[0.5, 3.0, "Dog"]]
    assert notes["synthetic_set"]["year"] == 2021 and "deviation" in notes["synthetic_set"]["note"]


def test_manifest_lists_missing_and_unlisted_with_checksums(tmp_path: Path) -> None:
    root = _tree(tmp_path / "DESED")
    SPEC.index(root).write(tmp_path / "ix")
    m = read_manifest(tmp_path / "ix")
    assert len(m) == 2 + 1 + 10 + 3 + 4 + 1 + 2  # every listed clip plus the unlisted one
    assert m.groupby("status").size().to_dict() == {"missing": 3, "present": 19, "unlisted": 1}
    assert m.loc[m["status"] == "missing", "filename"].tolist() == [
        "Yw09-a_b_9.000_19.000.wav",
        "Yv3_0.000_10.000.wav",
        "Ys1_10.000_20.000.wav",
    ]
    row = m[m["filename"] == "Yextra_0.000_10.000.wav"].iloc[0]
    assert (row["subset"], row["status"]) == ("unlabel_in_domain", "unlisted")
    path = root / row["audio"]
    assert row["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest() and row["bytes"] == path.stat().st_size
    assert m.loc[m["status"] == "missing", "sha256"].isna().all()
    counts = read_notes(tmp_path / "ix")["subsets"]
    assert counts["weak"] == {"listed": 10, "present": 9, "missing": 1, "unlisted": 0}
    assert counts["unlabel_in_domain"] == {"listed": 2, "present": 2, "missing": 0, "unlisted": 1}


def test_annotations_only_checks_no_audio_and_takes_durations_from_the_tsv(tmp_path: Path) -> None:
    index = SPEC.index(_tree(tmp_path / "DESED", audio=False), annotations_only=True)
    assert len(index.files) == 2 + 1 + 10 + 2 + 4 + 1 + 2
    assert set(index.manifest["status"]) == {"unchecked"}
    v = index.files.set_index("file_id")["duration_s"]
    assert v["Yv2_5.000_12.000"] == 7.0 and np.isnan(v["Yp0_120_130"])  # public.tsv has no durations file
    sub = index.notes["subsets"]["validation"]
    assert (sub["events_past_clip_end_clipped"], sub["short_clips"], sub["audio_checked"]) == (1, 1, False)


def test_the_2020_synthetic_set_is_used_when_present(tmp_path: Path) -> None:
    index = SPEC.index(_tree(tmp_path / "DESED", year="20"))
    assert index.notes["synthetic_set"]["year"] == 2020 and "deviation" not in index.notes["synthetic_set"]["note"]
    assert index.files.loc[index.files["split"] == "synthetic_train", "audio"].str.contains("synthetic20_train").all()


@pytest.mark.parametrize(
    ("remove", "message"),
    [
        ("metadata", "metadata: expected the metadata folder metadata/ of a DESED_task tree"),
        ("metadata/train/synthetic21_train", "synthetic21_train: expected the synthetic training metadata folder"),
        ("metadata/train/weak.tsv", "weak.tsv: expected the weak metadata file metadata/train/weak.tsv, found no such"),
        ("audio/eval/public", "audio/eval/public: expected the public_eval audio folder audio/eval/public/, found no"),
    ],
)
def test_layout_errors_name_the_missing_folder_or_file(tmp_path: Path, remove: str, message: str) -> None:
    import shutil

    root = _tree(tmp_path / "DESED")
    target = root / remove
    shutil.rmtree(target) if target.is_dir() else target.unlink()
    with pytest.raises(InputError) as err:
        SPEC.index(root)
    assert message in str(err.value)


def test_index_cli_stops_with_one_line(tmp_path: Path) -> None:
    root = _tree(tmp_path / "DESED")
    (root / "metadata/eval/public.tsv").write_text(STRONG + "Yp0_120_130.wav\t0\t1\tSheep\n")
    proc = subprocess.run(
        [sys.executable, "-m", "sedrepro.datasets.index", "--dataset", "desed", "--root", str(root), "--out",
         str(tmp_path / "ix")],
        capture_output=True,
        text=True,
    )  # fmt: skip
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert [line for line in proc.stderr.splitlines() if line.startswith("error:")] == [
        f"error: {root}/metadata/eval/public.tsv:2: expected a label of the 10 classes ({', '.join(SPEC.classes)}), "
        "found 'Sheep'"
    ]
    assert not (tmp_path / "ix" / "files.tsv").exists()


def test_official_protocol_is_the_dcase_baseline_split(tmp_path: Path) -> None:
    files = SPEC.index(_tree(tmp_path / "DESED")).files
    split = {"protocol": "official", "seed": 42, "test_fold": 10, "weak_validate_share": 0.1}
    sets = SPEC.assign_splits(files, split)
    subset = files.set_index("file_id")["split"]
    assert sets.groupby(subset.reindex(sets.index).to_numpy()).value_counts().to_dict() == {
        ("public_eval", "public_eval"): 1,
        ("synthetic_train", "synthetic_train"): 2,
        ("synthetic_validate", "validate"): 1,
        ("unlabel_in_domain", "unlabel_in_domain"): 2,
        ("validation", "validation"): 3,
        ("weak", "weak_validate"): 1,  # round(0.1 * 9)
        ("weak", "weak_train"): 8,
        ("strong_real", "strong_real"): 1,
    }
    again = SPEC.assign_splits(files.sample(frac=1.0, random_state=0), split)
    assert again.sort_index().equals(sets.sort_index())  # the draw does not depend on the order of the files
    with pytest.raises(InputError, match=r"^split/weak_validate_share: expected a share of the weak clips"):
        SPEC.assign_splits(files, {"protocol": "official", "seed": 0, "test_fold": 10})
    pipeline = {
        "sources": [{"name": "synthetic_train"}, {"name": "weak_train"}, {"name": "unlabel_in_domain"}],
        "evaluation_sets": ["validation", "public_eval"],
    }
    sources, names = pipeline_sets(SPEC, pipeline)
    assert names == ["synthetic_train", "weak_train", "unlabel_in_domain", "validate", "validation", "public_eval"]


def test_set_coverage_says_on_how_many_of_how_many_clips(tmp_path: Path) -> None:
    index = SPEC.index(_tree(tmp_path / "DESED"))
    index.write(tmp_path / "ix")
    sets = SPEC.assign_splits(
        index.files, {"protocol": "official", "seed": 42, "test_fold": 10, "weak_validate_share": 0.1}
    )
    cov = set_coverage(tmp_path / "ix", sets)
    assert cov["validation"]["text"] == "3 of 4 listed clips" and cov["validation"]["listed"] == 4
    assert cov["public_eval"]["text"] == "1 of 1 listed clips"
    assert cov["unlabel_in_domain"]["listed"] == 2  # unlisted audio is not in the index
    assert cov["weak_train"]["listed"] is None
    assert cov["weak_train"]["text"] == "8 clips (weak: 1 missing, shared with weak_validate)"


def test_dataset_page_has_subsets_classes_and_manifest_counts(tmp_path: Path) -> None:
    index = SPEC.index(_tree(tmp_path / "DESED"))
    index.write(tmp_path / "ix")
    md = render_markdown(SPEC, describe(SPEC, index), "a test tree", read_notes(tmp_path / "ix"))
    assert "| weak | 9 | 10 |" in md  # weak: 9 files, 10 tags (the first clip has two)
    assert "| weak | 10 | 9 | 1 | 0 |" in md
    assert "| unlabel_in_domain | 2 | 2 | 0 | 1 |" in md
    assert "synthetic_set: folders synthetic21_train, synthetic21_validation; note the 2021 synthetic set" in md
    row = next(line for line in md.splitlines() if line.startswith("| validation |") and "validation.tsv" in line)
    assert "| 4 rows (not a known release: 4,239 or 4,251) |" in row


def test_subsets_index_only_those_and_the_synthetic_sets_may_then_be_absent(tmp_path: Path) -> None:
    import shutil

    root = _tree(tmp_path / "DESED")
    shutil.rmtree(root / "metadata/train/synthetic21_train")
    index = SPEC.index(root, subsets=["weak", "validation"])
    assert set(index.files["split"]) == {"weak", "validation"} and set(index.manifest["subset"]) == {
        "weak",
        "validation",
    }
    assert index.notes["synthetic_set"] == {"note": "not indexed (config datasets/desed/subsets)"}
    with pytest.raises(
        InputError, match=r"^--subsets: expected subsets of desed \(synthetic_train, .*found 'weak,Weak'$"
    ):
        SPEC.index(root, subsets=["weak", "Weak"])


def test_the_2020_set_is_preferred_when_both_are_on_disk(tmp_path: Path) -> None:
    root = _tree(tmp_path / "DESED", year="20")
    _tree(tmp_path / "DESED", year="21")
    note = SPEC.index(root).notes["synthetic_set"]
    assert note["year"] == 2020 and note["note"].endswith("(synthetic21 is on disk too, unused)")


def test_other_datasets_get_a_manifest_of_what_they_index(tmp_path: Path) -> None:
    files = pd.DataFrame({"file_id": ["a"], "split": ["train"], "audio": ["audio/train/a.wav"]})
    _wav(tmp_path / "audio/train/a.wav", 1.0)
    m = manifest_from_files(files, tmp_path)
    data = (tmp_path / "audio/train/a.wav").read_bytes()
    assert m.values.tolist() == [
        ["train", "a.wav", "audio/train/a.wav", "present", len(data), hashlib.sha256(data).hexdigest()]
    ]
    assert manifest_from_files(files, None)["status"].tolist() == ["unchecked"]


# ---- the real metadata (shared/realdata/DESED), indexed without audio


@pytest.fixture(scope="module")
def real_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real metadata in the DESED_task layout; the synthetic sets (not in realdata) as one hand-written clip each,
    which the real-data assertions leave out."""
    root = tmp_path_factory.mktemp("real") / "DESED"
    for rel in ("train/weak.tsv", "train/unlabel_in_domain.tsv", "validation/validation.tsv", "eval/public.tsv"):
        _tsv(root / "metadata" / rel, (REAL_META / rel).read_text())
    durations = REAL / "DESED_task/PSDS_Eval/meta/validation_durations.tsv"
    _tsv(root / "metadata/validation/validation_durations.tsv", durations.read_text())
    for rel in ("train/synthetic21_train", "validation/synthetic21_validation"):
        _tsv(root / "metadata" / rel / "soundscapes.tsv", STRONG + "0.wav\t0.5\t1.5\tDog\n")
    # not in realdata either: DCASE 2022's strong real metadata, one hand-written clip
    _tsv(root / "metadata/train/audioset_strong.tsv", STRONG + "Y00000000000_0.000_10.000.wav\t0.5\t1.5\tDog\n")
    return root


@needs_real
def test_real_metadata_row_counts() -> None:
    v = desed.read_strong(REAL_META / "validation/validation.tsv")
    assert (v.rows, len(v.clips), v.empty_rows, len(v.events)) == (4239, 1168, 15, 4224)
    p = desed.read_strong(REAL_META / "eval/public.tsv")
    assert (p.rows, len(p.clips), p.empty_rows) == (2765, 692, 0)
    tags, repeated = desed.read_weak(REAL_META / "train/weak.tsv")
    assert (len(tags), repeated, sum(map(len, tags.values()))) == (1578, 3, 2244)  # 3 rows repeat a tag
    assert len(desed.read_unlabelled(REAL_META / "train/unlabel_in_domain.tsv")) == 14412
    d = desed.read_durations(REAL / "DESED_task/PSDS_Eval/meta/validation_durations.tsv")
    assert len(d) == 1168 and set(d) == set(v.clips)


@needs_real
def test_real_validation_versions_and_overlap_merge() -> None:
    newer = desed.read_strong(REAL_META / "validation/validation.tsv")
    older_path = REAL / "history_0c57c266/data/real/metadata/validation/validation.tsv"
    if not older_path.is_file():
        pytest.skip(f"the older validation.tsv not found at {older_path}")
    older = desed.read_strong(older_path)
    assert desed.validation_version(newer.rows).startswith("4,239")
    assert desed.validation_version(older.rows).startswith("4,251")

    def frame(t: desed.StrongTable) -> pd.DataFrame:
        return pd.DataFrame([e[:4] for e in t.events], columns=["file_id", "onset", "offset", "label"])

    assert desed.merge_overlaps(frame(newer))[1] == 0
    merged, n = desed.merge_overlaps(frame(older))
    assert n == 12 and len(merged) == len(newer.events)  # the 12 extra rows overlap same-class events


@needs_real
def test_real_index_and_page(real_tree: Path, tmp_path: Path) -> None:
    index = SPEC.index(real_tree, annotations_only=True)
    counts = index.files["split"].value_counts()
    assert (counts["weak"], counts["unlabel_in_domain"], counts["validation"], counts["public_eval"]) == (
        1578,
        14412,
        1168,
        692,
    )
    ev = index.events.merge(index.files[["file_id", "split"]], on="file_id")
    assert (ev["split"] == "validation").sum() == 4224 and (ev["split"] == "public_eval").sum() == 2765
    sub = index.notes["subsets"]["validation"]
    assert sub["version"].startswith("4,239") and sub["clips_without_events"] == 15
    # measured on the real files: 102 clips under 10 s (by validation_durations.tsv) and 4 events ending more than
    # 0.05 s (half its %.1f step) past their clip
    assert (sub["short_clips"], sub["events_past_clip_end_clipped"]) == (102, 4)
    index.write(tmp_path / "ix")
    md = render_markdown(SPEC, describe(SPEC, DatasetIndex.read(tmp_path / "ix")), "real", read_notes(tmp_path / "ix"))
    assert "| validation | 1,168 | 4,224 |" in md and "| unlabel_in_domain | 14,412 | 0 |" in md


def test_the_workflow_passes_the_configured_subsets_to_the_index_stage() -> None:
    from sedrepro import workflow

    assert workflow.subsets_flag({"datasets": {"desed": {"subsets": ["weak", "validation"]}}}, "desed") == (
        "--subsets weak,validation"
    )
    assert workflow.subsets_flag({"datasets": {"desed": {"subsets": None}}}, "desed") == ""
