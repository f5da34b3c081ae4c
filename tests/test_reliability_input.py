"""Hostile metadata and audio fed through the stages before training: each stops there with one line (exit 2), or, for
a byte-order mark, is read like the same file without one."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile
from test_datasets_index import _tut_tree, _urban_tree
from test_datasets_urbansound8k import GOOD_ROW, _write_csv

from sedrepro import datasets
from sedrepro.datasets import DatasetIndex, parse_annotation
from sedrepro.datasets.urbansound8k import HEADER, read_metadata
from sedrepro.io import InputError

URBAN = datasets.get("urban_sed")
TUT = datasets.get("tut_sed_synthetic_2016")
BOM = b"\xef\xbb\xbf"


def _stage(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, timeout=300)


def _error_lines(proc: subprocess.CompletedProcess) -> list[str]:
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    return [line for line in proc.stderr.splitlines() if line.startswith("error:")]


def _index_cli(dataset: str, root: Path, out: Path) -> subprocess.CompletedProcess:
    return _stage("sedrepro.datasets.index", "--dataset", dataset, "--root", str(root), "--out", str(out))


# ---- zero-length events: refused where the annotation is read ------------------------------------------------------


@pytest.mark.parametrize("dataset", ["urban_sed", "tut_sed_synthetic_2016"])
def test_zero_length_event_stops_the_index_stage(tmp_path: Path, dataset: str) -> None:
    if dataset == "urban_sed":
        root = _urban_tree(tmp_path / "URBAN-SED_v2.0.0")
        ann = root / "annotations" / "test" / "soundscape_test_uniform1.txt"
    else:
        root = _tut_tree(tmp_path / "TUT-SED-synthetic-2016")
        ann = root / "meta" / "TUT-SED-synthetic-2016-annot-4.txt"
    ann.write_text(ann.read_text() + f"1.000000\t1.000000\t{datasets.get(dataset).classes[0]}\n")
    proc = _index_cli(dataset, root, tmp_path / "ix")
    assert _error_lines(proc) == [
        f"error: {ann}:{len(ann.read_text().splitlines())}: expected offset > onset, "
        "found onset 1.000000 and offset 1.000000"
    ]
    assert not (tmp_path / "ix").exists()


def test_clipping_to_the_duration_never_makes_an_event_zero_length(tmp_path: Path) -> None:
    # the offset is clipped to the duration only when the onset is before it, so the event keeps a positive length
    path = tmp_path / "a.txt"
    path.write_text("1.9999995\t2.0000005\tsiren\n")
    assert parse_annotation(path, URBAN.classes, duration_s=2.0) == [(1.9999995, 2.0, "siren")]
    path.write_text("2.0\t2.0000005\tsiren\n")
    with pytest.raises(InputError, match=r"a.txt:1: expected onset before the end of the audio \(2.000000 s\)"):
        parse_annotation(path, URBAN.classes, duration_s=2.0)


# ---- byte-order marks are read; undecodable bytes are one line naming file, line and byte --------------------------


def test_bom_annotation_indexes_like_the_same_file_without(tmp_path: Path) -> None:
    plain = _urban_tree(tmp_path / "plain" / "URBAN-SED_v2.0.0")
    bom = _urban_tree(tmp_path / "bom" / "URBAN-SED_v2.0.0")
    for ann in (bom / "annotations").rglob("*.txt"):
        ann.write_bytes(BOM + ann.read_bytes())
    want = URBAN.index(plain)
    proc = _index_cli("urban_sed", bom, tmp_path / "ix")
    assert proc.returncode == 0, proc.stderr
    got = DatasetIndex.read(tmp_path / "ix")
    pd.testing.assert_frame_equal(got.events, want.events)
    assert len(got.events) == 8


def test_bom_split_lists_index_like_the_same_lists_without(tmp_path: Path) -> None:
    plain = _tut_tree(tmp_path / "plain")
    bom = _tut_tree(tmp_path / "bom")
    for path in [*(bom / "evaluation_setup").glob("*.txt"), *(bom / "meta").glob("*.txt")]:
        path.write_bytes(BOM + path.read_bytes())
    want, got = TUT.index(plain), TUT.index(bom)
    pd.testing.assert_frame_equal(got.files, want.files)
    pd.testing.assert_frame_equal(got.events, want.events)
    assert got.files["split"].value_counts().to_dict() == {"train": 3, "validate": 1, "test": 1}


def test_bom_metadata_csv_is_read(tmp_path: Path) -> None:
    path = _write_csv(tmp_path, [",".join(HEADER), GOOD_ROW])
    want = read_metadata(path)
    path.write_bytes(BOM + path.read_bytes())
    assert read_metadata(path) == want and len(want) == 1


def test_non_utf8_split_list_stops_the_index_stage_with_one_line(tmp_path: Path) -> None:
    root = _tut_tree(tmp_path / "TUT-SED-synthetic-2016")
    path = root / "evaluation_setup" / "validate.txt"
    path.write_bytes(path.read_bytes() + b"audio/TUT-SED-synthetic-2016-mix-3\xff.wav\n")
    proc = _index_cli("tut_sed_synthetic_2016", root, tmp_path / "ix")
    assert _error_lines(proc) == [f"error: {path}:3: expected UTF-8 text, found the byte 0xff (invalid start byte)"]
    assert not (tmp_path / "ix").exists()


@pytest.mark.parametrize("bom", [b"", BOM], ids=["plain", "bom"])
def test_non_utf8_annotation_and_metadata_name_file_line_and_byte(tmp_path: Path, bom: bytes) -> None:
    ann = tmp_path / "a.txt"
    ann.write_bytes(bom + b"0.1\t0.2\tsiren\r\n\r\n0.5\t0.9\tdog_b\xe4rk\r\n")
    with pytest.raises(InputError) as err:
        parse_annotation(ann, URBAN.classes, duration_s=None)
    assert str(err.value) == f"{ann}:3: expected UTF-8 text, found the byte 0xe4 (invalid continuation byte)"
    csv = _write_csv(tmp_path, [",".join(HEADER), GOOD_ROW])
    csv.write_bytes(bom + csv.read_bytes().replace(b"dog_bark", b"dog_bark\x80"))
    with pytest.raises(InputError) as err:
        read_metadata(csv)
    assert str(err.value) == f"{csv}:2: expected UTF-8 text, found the byte 0x80 (invalid start byte)"


# ---- an empty audio file is named as empty, not blamed on the annotation -------------------------------------------


def test_zero_frame_audio_is_named_as_empty(tmp_path: Path) -> None:
    root = _urban_tree(tmp_path / "URBAN-SED_v2.0.0")
    wav = root / "audio" / "test" / "soundscape_test_uniform0.wav"
    soundfile.write(wav, np.zeros(0, dtype=np.float32), 8000, subtype="PCM_16")  # a valid header, no frames
    assert soundfile.info(str(wav)).frames == 0
    proc = _index_cli("urban_sed", root, tmp_path / "ix")
    assert _error_lines(proc) == [
        f"error: {wav}: expected at least one audio sample, found an empty audio file (0 frames)"
    ]
    assert not (tmp_path / "ix").exists()


# ---- an event on a file the index does not list ---------------------------------------------------------------------


def test_event_on_an_unlisted_file_stops_the_stats_stage(tmp_path: Path) -> None:
    ix = tmp_path / "ix"
    URBAN.index(_urban_tree(tmp_path / "URBAN-SED_v2.0.0")).write(ix)
    events = (ix / "events.tsv").read_text().splitlines()
    (ix / "events.tsv").write_text("\n".join([*events[:3], "ghost\t0.100000\t0.900000\tsiren", *events[3:]]) + "\n")
    proc = _stage(
        "sedrepro.datasets.stats",
        "--dataset",
        "urban_sed",
        "--index",
        str(ix),
        "--data-note",
        "a test",
        "--md",
        str(tmp_path / "s.md"),
        "--html",
        str(tmp_path / "s.html"),
        "--csv",
        str(tmp_path / "s.csv"),
    )
    assert _error_lines(proc) == [
        f"error: {ix / 'events.tsv'}:4: expected a file_id listed in files.tsv, found 'ghost' (in no split)"
    ]
    assert not (tmp_path / "s.md").exists() and not (tmp_path / "s.csv").exists()


def test_index_tables_are_checked_when_written_and_read(tmp_path: Path) -> None:
    index = URBAN.index(_urban_tree(tmp_path / "URBAN-SED_v2.0.0"))
    orphan = DatasetIndex(files=index.files.iloc[1:], events=index.events)
    with pytest.raises(InputError, match=r"events.tsv:\d+: expected a file_id listed in files.tsv, found '.*' \(in no"):
        orphan.write(tmp_path / "ix")
    assert not (tmp_path / "ix").exists()
    index.write(tmp_path / "ix")
    files = (tmp_path / "ix" / "files.tsv").read_text().splitlines()
    (tmp_path / "ix" / "files.tsv").write_text("\n".join([*files, files[2]]) + "\n")
    first = files[2].split("\t")[0]
    with pytest.raises(InputError) as err:
        DatasetIndex.read(tmp_path / "ix")
    assert str(err.value) == (
        f"{tmp_path / 'ix' / 'files.tsv'}:{len(files) + 1}: expected each file_id once, "
        f"found {first!r} again (first on line 3)"
    )


def test_paper_values_and_config_files_read_boms_and_name_bad_bytes(tmp_path: Path) -> None:
    from sedrepro.config import load
    from sedrepro.papers import load_paper_values

    repo = Path(__file__).resolve().parents[1]
    tsv = tmp_path / "values.tsv"
    real = repo / "config" / "paper_values" / "hypernetworks.tsv"
    tsv.write_bytes(BOM + real.read_bytes())
    pd.testing.assert_frame_equal(load_paper_values(tsv), load_paper_values(real))
    tsv.write_bytes(b"table\trow\tcolumn\tvalue\tnote\ntable1\tr\tc\t1.0\tcaf\xe9\n")
    with pytest.raises(InputError) as err:
        load_paper_values(tsv)
    assert str(err.value) == f"{tsv}:2: expected UTF-8 text, found the byte 0xe9 (invalid continuation byte)"
    yml = tmp_path / "bad.yaml"
    yml.write_bytes(b"# \xff\n")
    with pytest.raises(InputError) as err:
        load([repo / "config.yaml", yml])
    assert str(err.value) == f"{yml}:1: expected UTF-8 text, found the byte 0xff (invalid start byte)"
