"""Embedded stand-ins: byte-identical archives across runs, real layout, index split counts and classes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from sedrepro import datasets
from sedrepro.datasets.archive import extract
from sedrepro.datasets.embedded import SOUNDS, _render_event, generate
from sedrepro.io import InputError

SR = 16000  # small rate keeps the tests fast; the real-like default is 44100


def _tut(out: Path, seed: int = 3) -> dict:
    return generate(
        "tut_sed_synthetic_2016",
        out,
        n_train=4,
        n_validate=2,
        n_test=2,
        duration_s=(4.0, 6.0),
        events_per_file=(2, 4),
        max_polyphony=2,
        sample_rate=SR,
        seed=seed,
    )


def _urban(out: Path, seed: int = 3) -> dict:
    return generate(
        "urban_sed",
        out,
        n_train=4,
        n_validate=3,
        n_test=3,
        duration_s=(10.0, 10.0),
        events_per_file=(3, 6),
        max_polyphony=3,
        sample_rate=SR,
        seed=seed,
    )


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("embedded")
    _tut(base / "tut")
    _urban(base / "urban")
    return {"tut": base / "tut", "urban": base / "urban"}


@pytest.mark.parametrize("which", ["tut", "urban"])
def test_archives_are_byte_identical_across_runs(built: dict[str, Path], tmp_path: Path, which: str) -> None:
    again = (_tut if which == "tut" else _urban)(tmp_path / "again")
    first = json.loads((built[which] / "manifest.json").read_text())
    assert first == json.loads(json.dumps(again))
    for entry in first["archives"]:
        assert (built[which] / entry["name"]).read_bytes() == (tmp_path / "again" / entry["name"]).read_bytes()
    other = (_tut if which == "tut" else _urban)(tmp_path / "other", seed=4)
    assert [a["md5"] for a in other["archives"]] != [a["md5"] for a in first["archives"]]


def test_manifest_names_and_params(built: dict[str, Path]) -> None:
    for which, name in (("tut", "tut_sed_synthetic_2016"), ("urban", "urban_sed")):
        manifest = json.loads((built[which] / "manifest.json").read_text())
        spec = datasets.get(name)
        assert manifest["dataset"] == name
        assert [a["name"] for a in manifest["archives"]] == list(spec.embedded_archives)
        for a in manifest["archives"]:
            assert (built[which] / a["name"]).stat().st_size == a["bytes"] and len(a["sha256"]) == 64
        assert manifest["params"]["sample_rate"] == SR


def test_tut_extracts_to_real_layout_and_indexes(built: dict[str, Path], tmp_path: Path) -> None:
    spec = datasets.get("tut_sed_synthetic_2016")
    extract([built["tut"] / a for a in spec.embedded_archives], tmp_path / "data")
    root = tmp_path / "data" / spec.root_name
    assert sorted(p.name for p in (root / "evaluation_setup").iterdir()) == [
        "evaluate.txt",
        "test.txt",
        "train+validate.txt",
        "validate.txt",
    ]
    assert len(list((root / "meta").glob("TUT-SED-synthetic-2016-annot-*.txt"))) == 8
    index = spec.index(tmp_path / "data")
    assert index.files["split"].value_counts().to_dict() == {"train": 4, "validate": 2, "test": 2}
    assert set(index.events["label"]) <= set(spec.classes)
    assert index.files["duration_s"].between(4.0, 6.0).all()
    assert (index.events.groupby("file_id").size() >= 1).all() and index.events["file_id"].nunique() == 8


def test_urban_extracts_to_real_layout_and_indexes(built: dict[str, Path], tmp_path: Path) -> None:
    spec = datasets.get("urban_sed")
    extract([built["urban"] / spec.embedded_archives[0]], tmp_path / "data")
    index = spec.index(tmp_path / "data" / spec.root_name)
    assert index.files["split"].value_counts().to_dict() == {"train": 4, "validate": 3, "test": 3}
    assert index.files["file_id"].str.fullmatch(r"soundscape_(train|validate|test)_(uniform|unimodal|bimodal)\d+").all()
    assert (index.files["duration_s"] == 10.0).all()
    # Classes are drawn as a shuffled round-robin, so ~30 events cover all 10 (a draw that finds no slot under
    # max_polyphony is dropped, so a single 3-file split may miss one).
    assert set(index.events["label"]) == set(spec.classes)
    assert index.events.groupby("file_id").size().between(1, 6).all()
    from sedrepro.datasets.stats import max_polyphony_per_file

    assert max_polyphony_per_file(index.events).max() <= 3


def test_classes_sound_different() -> None:
    """Each class's long-term log spectrum peaks in its own place: no two classes share a 1/3-octave peak band."""
    rng = np.random.default_rng(0)
    sr = 44100
    edges = 50.0 * 2 ** (np.arange(0, 28) / 3)  # 1/3-octave bands from 50 Hz to ~11 kHz
    for name, sounds in SOUNDS.items():
        assert tuple(sounds) == datasets.get(name).classes
        signatures = {}
        for label, sound in sounds.items():
            x = _render_event(sound, sr, sr, rng)
            power = np.abs(np.fft.rfft(x)) ** 2
            freqs = np.fft.rfftfreq(len(x), 1 / sr)
            bands = np.array(
                [power[(freqs >= lo) & (freqs < hi)].sum() for lo, hi in zip(edges[:-1], edges[1:], strict=True)]
            )
            signatures[label] = np.log10(bands + 1e-9)
        labels = list(signatures)
        for i, a in enumerate(labels):
            for b in labels[i + 1 :]:
                # Spectral shapes differ by at least 3 dB RMS across bands, so a log-mel front end sees them apart.
                assert np.sqrt(np.mean((signatures[a] - signatures[b]) ** 2)) * 10 > 3.0, (name, a, b)


def test_bad_params(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"params.duration_s: expected \[10, 10\] for urban_sed"):
        generate("urban_sed", tmp_path, 1, 1, 1, (5.0, 10.0), (1, 2), 2, SR, 0)
    with pytest.raises(InputError, match=r"params.n_test: expected an integer >= 1, found 0"):
        generate("tut_sed_synthetic_2016", tmp_path, 1, 1, 0, (5.0, 10.0), (1, 2), 2, SR, 0)
    with pytest.raises(InputError, match=r"params.duration_s: expected \[min, max\] with 0.1 <= min <= max \(dur"):
        generate("tut_sed_synthetic_2016", tmp_path, 1, 1, 1, (0.01, 0.04), (1, 2), 2, SR, 0)  # drawn to 0.0 s
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "sedrepro.datasets.embedded",
            "--dataset",
            "urban_sed",
            "--out",
            str(tmp_path / "x"),
            "--params",
            '{"n_train": 1}',
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2 and "missing n_validate" in proc.stderr
    assert not (tmp_path / "x" / "manifest.json").exists()


def test_shortest_files_get_no_zero_length_event(tmp_path: Path) -> None:
    """At the shortest durations allowed every event is cut to its file's length and still has offset > onset as
    written (the index stage, which refuses onset == offset, reads them all)."""
    assert min(s.length_s[0] for sounds in SOUNDS.values() for s in sounds.values()) > 0
    generate(
        "tut_sed_synthetic_2016",
        tmp_path / "emb",
        n_train=6,
        n_validate=2,
        n_test=2,
        duration_s=(0.1, 0.2),
        events_per_file=(1, 4),
        max_polyphony=1,
        sample_rate=8000,
        seed=5,
    )
    spec = datasets.get("tut_sed_synthetic_2016")
    extract([tmp_path / "emb" / name for name in spec.embedded_archives], tmp_path / "data")
    index = spec.index(tmp_path / "data")
    assert len(index.files) == 10 and len(index.events) >= 10
    assert (index.events["offset"] > index.events["onset"]).all()
    assert (index.files["duration_s"] >= 0.1).all()
