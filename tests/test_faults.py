"""The fault-injection points the kill -9 tests stop stages at (sedrepro.faults); the kill tests themselves live in
test_train.py, test_reliability_features.py and test_reliability_archive.py."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from sedrepro.faults import parse
from sedrepro.io import InputError

SHAPE = "<point>:<n>:<marker file> with"


def test_fault_spec_names_point_count_and_marker() -> None:
    assert parse("train.epoch:2:/tmp/a:b") == ("train.epoch", 2, Path("/tmp/a:b"))


@pytest.mark.parametrize(
    "spec, expected",
    [
        ("train.epochs:2:/m", f"{SHAPE} <point> one of archive.member, features.clip, train.epoch"),
        ("train.epoch:0:/m", f"{SHAPE} <n> a positive integer"),
        ("train.epoch:two:/m", f"{SHAPE} <n> a positive integer"),
        ("train.epoch:2", f"{SHAPE} <n> a positive integer"),
    ],
)
def test_malformed_fault_spec_is_one_line(spec: str, expected: str) -> None:
    with pytest.raises(InputError) as err:
        parse(spec)
    assert str(err.value) == f"environment variable SEDREPRO_FAULT: expected {expected}, found {spec!r}"


def test_malformed_fault_spec_stops_the_stage_with_exit_2(tmp_path: Path) -> None:
    with zipfile.ZipFile(tmp_path / "a.zip", "w") as zf:
        zf.writestr("root/f.txt", "x")
    env = {**os.environ, "SEDREPRO_FAULT": "archive.member:two:m"}
    cmd = [
        sys.executable,
        "-m",
        "sedrepro.datasets.archive",
        "extract",
        "--out",
        str(tmp_path / "out"),
        str(tmp_path / "a.zip"),
    ]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1800)  # a hang guard only
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.splitlines()[-1] == (
        "error: environment variable SEDREPRO_FAULT: expected <point>:<n>:<marker "
        "file> with <n> a positive integer, found 'archive.member:two:m'"
    )
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob(".out.*"))
