"""index + stats on the real URBAN-SED annotations (v1.0 copy in shared/realdata; never copied into the repo)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from sedrepro import datasets
from sedrepro.datasets import DatasetIndex
from sedrepro.datasets.stats import describe, max_polyphony_per_file

REALDATA = Path(os.environ.get("SEDREPRO_REALDATA") or Path(__file__).resolve().parents[2] / "shared" / "realdata")
URBAN_V1 = REALDATA / "URBAN-SED_v1.0"

pytestmark = [
    pytest.mark.realdata,
    pytest.mark.skipif(
        not (URBAN_V1 / "annotations").is_dir(),
        reason=f"real URBAN-SED annotations not found at {URBAN_V1} (set SEDREPRO_REALDATA)",
    ),
]


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> DatasetIndex:
    # Through the CLI, as the pipeline runs it, then read back: also checks the TSV round trip on 49,831 rows.
    out = tmp_path_factory.mktemp("urban_v1")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "sedrepro.datasets.index",
            "--dataset",
            "urban_sed",
            "--root",
            str(URBAN_V1),
            "--annotations-only",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    return DatasetIndex.read(out)


def test_counts(index: DatasetIndex) -> None:
    assert index.files["split"].value_counts().to_dict() == {"train": 6000, "validate": 2000, "test": 2000}
    assert len(index.events) == 49_831
    assert set(index.events["label"]) == set(datasets.get("urban_sed").classes)
    assert index.files["duration_s"].isna().all()


def test_stats_totals(index: DatasetIndex) -> None:
    df = describe(datasets.get("urban_sed"), index).set_index(["split", "class"])
    assert df.loc[("all", "all"), "files"] == 10_000
    assert df.loc[("all", "all"), "events"] == 49_831
    assert (
        df.loc[("train", "all"), "events"] + df.loc[("validate", "all"), "events"] + df.loc[("test", "all"), "events"]
        == 49_831
    )
    # Real URBAN-SED keeps thousands of overlapping same-class events; the index must not merge them.
    assert (df.xs("all", level="split").drop(index="all")["max_polyphony"] > 1).all()


def test_polyphony_matches_scaper(index: DatasetIndex) -> None:
    """Compare per-file max polyphony with what Scaper stored in the .jams sandbox.

    jams_sandbox_summary.csv has, per soundscape, n_events (foreground events) and polyphony_max, which Scaper
    computes from the same foreground intervals the .txt files list (the Brownian background is a separate
    observation, n_bg_obs = 1, and is excluded from both). Scaper sweeps sorted onsets/offsets with a non-stable
    sort, so at exactly equal onset/offset times it could count touching events as overlapping where our half-open
    sweep does not; the .txt times are full-precision floats, so such ties do not occur and every file is
    comparable. Both columns must match for all 10,000 files.
    """
    summary_path = URBAN_V1 / "jams_sandbox_summary.csv"
    if not summary_path.is_file():
        pytest.skip(f"{summary_path} not found")
    summary = pd.read_csv(summary_path).set_index("soundscape")
    assert len(summary) == 10_000
    counts = index.events.groupby("file_id").size().reindex(summary.index, fill_value=0)
    assert (counts == summary["n_events"]).all()
    ours = max_polyphony_per_file(index.events).reindex(summary.index, fill_value=0)
    differ = summary.index[ours != summary["polyphony_max"]]
    assert len(differ) == 0, f"{len(differ)} files differ, e.g. {list(differ[:5])}"
    files = index.files.set_index("file_id")
    assert (files.loc[summary.index, "split"] == summary["split"]).all()
