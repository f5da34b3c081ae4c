"""describe(): counts, lengths and max polyphony on a hand-made index; report and CLI output."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from sedrepro import datasets
from sedrepro.datasets import DatasetIndex
from sedrepro.datasets.stats import STATS_COLUMNS, describe, max_polyphony_per_file, render_markdown

SPEC = datasets.get("urban_sed")


def _index() -> DatasetIndex:
    files = pd.DataFrame(
        {
            "file_id": ["a", "b", "c"],
            "split": ["train", "train", "test"],
            "audio": ["audio/train/a.wav", "audio/train/b.wav", "audio/test/c.wav"],
            "annotation": ["annotations/train/a.txt", "annotations/train/b.txt", "annotations/test/c.txt"],
            "duration_s": [10.0, 10.0, 10.0],
        }
    )
    events = pd.DataFrame(
        [
            # a: siren [0,2) and [2,4) only touch (half-open), dog_bark [1,3) overlaps both -> all-class polyphony 2
            ("a", 0.0, 2.0, "siren"),
            ("a", 1.0, 3.0, "dog_bark"),
            ("a", 2.0, 4.0, "siren"),
            # b: three nested same-class events -> 3, same class
            ("b", 0.0, 5.0, "drilling"),
            ("b", 1.0, 5.0, "drilling"),
            ("b", 2.0, 3.0, "drilling"),
            # c: one event
            ("c", 0.5, 1.0, "siren"),
        ],
        columns=["file_id", "onset", "offset", "label"],
    )
    return DatasetIndex(files=files, events=events)


def test_max_polyphony_sweep() -> None:
    index = _index()
    assert max_polyphony_per_file(index.events).to_dict() == {"a": 2, "b": 3, "c": 1}
    by_class = max_polyphony_per_file(index.events, by_class=True).to_dict()
    assert by_class == {("a", "dog_bark"): 1, ("a", "siren"): 1, ("b", "drilling"): 3, ("c", "siren"): 1}


def test_describe_rows() -> None:
    df = describe(SPEC, _index())
    assert list(df.columns) == list(STATS_COLUMNS)
    assert set(df["split"]) == {"train", "test", "all"}  # validate has no files here
    assert len(df) == 3 * (len(SPEC.classes) + 1)
    row = df.set_index(["split", "class"])
    assert row.loc[("train", "all")].to_dict() == pytest.approx(
        {"files": 2, "events": 6, "mean_event_s": 16.0 / 6, "total_event_s": 16.0, "max_polyphony": 3}
    )
    assert row.loc[("train", "siren")].to_dict() == pytest.approx(
        {"files": 1, "events": 2, "mean_event_s": 2.0, "total_event_s": 4.0, "max_polyphony": 1}
    )
    assert row.loc[("all", "siren")].to_dict() == pytest.approx(
        {"files": 2, "events": 3, "mean_event_s": 4.5 / 3, "total_event_s": 4.5, "max_polyphony": 1}
    )
    assert row.loc[("test", "all"), "max_polyphony"] == 1
    empty = row.loc[("train", "car_horn")]
    assert (
        empty["files"] == 0 and empty["events"] == 0 and pd.isna(empty["mean_event_s"]) and empty["max_polyphony"] == 0
    )


def test_render_markdown_has_both_tables() -> None:
    md = render_markdown(SPEC, describe(SPEC, _index()), "the real dataset from shared/URBAN-SED_v1.0")
    assert "## Per split" in md and "## Per class" in md
    # which data the page describes, as the workflow says; the code's embedded archive name is not claimed
    assert "Data: the real dataset from shared/URBAN-SED_v1.0." in md.splitlines()[2]
    assert "v2.0.0" not in md
    assert "| train | 2 | 6 |" in md
    assert "| drilling | 3 (1) | 0 (0) | 3 (1) |" in md


def test_stats_cli(tmp_path: Path) -> None:
    _index().write(tmp_path / "ix")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "sedrepro.datasets.stats",
            "--dataset",
            "urban_sed",
            "--index",
            str(tmp_path / "ix"),
            "--data-note",
            "the real dataset",
            "--md",
            str(tmp_path / "s.md"),
            "--html",
            str(tmp_path / "s.html"),
            "--csv",
            str(tmp_path / "s.csv"),
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    back = pd.read_csv(tmp_path / "s.csv")
    assert back.loc[(back["split"] == "all") & (back["class"] == "all"), "events"].item() == 7
    assert (tmp_path / "s.md").read_text().startswith("# Dataset statistics: urban_sed")
    html = (tmp_path / "s.html").read_text()
    assert "<h1>Dataset statistics: urban_sed</h1>" in html and "<p>Data: the real dataset.</p>" in html
    assert "<td>drilling</td>\n      <td>3 (1)</td>\n      <td>0 (0)</td>\n      <td>3 (1)</td>" in html


@pytest.mark.parametrize(
    ("config", "note"),
    [
        ({}, "'embedded synthetic stand-in data packed like URBAN-SED_v2.0.0.tar.gz (not the real dataset"),
        (
            {"source": "local", "local_path": "/data/URBAN-SED_v1.0", "annotations_only": True},
            "'the real dataset from /data/URBAN-SED_v1.0'",
        ),
        ({"source": "download"}, "'the real dataset, downloaded and checksum-verified (URBAN-SED_v2.0.0.tar.gz)'"),
    ],
)
def test_describe_dataset_rule_passes_the_data_note(tmp_path: Path, config: dict, note: str) -> None:
    """The page names the data's own version: the local folder's or the config's archive entry, not one in code."""
    import yaml

    from sedrepro.config import REPO

    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({"data_root": str(tmp_path / "data"), "datasets": {"urban_sed": config}}))
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "-p", "results/datasets/urban_sed.md", "--configfile", str(cfg)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    command = next(line for line in proc.stdout.splitlines() if "sedrepro.datasets.stats" in line)
    assert f"--data-note {note}" in command
