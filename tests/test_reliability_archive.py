"""Reliability of archive extraction: kill -9 half-way then rerun, truncated zip and tar.gz archives.
(Checksum mismatch, path escapes and links: test_datasets_archive.py.)"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest

from sedrepro.datasets.archive import extract
from sedrepro.io import InputError


def _tree_digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _many_files_zip(path: Path, n: int = 400) -> Path:
    rng = np.random.default_rng(0)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for k in range(n):
            zf.writestr(f"root/d{k % 50:02d}/f{k:05d}.bin", rng.bytes(256))
    return path


def _files_among_first(archive: Path, n: int) -> int:
    """Regular files among the first n members (a tar also lists its folders)."""
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            return sum(not info.is_dir() for info in zf.infolist()[:n])
    with tarfile.open(archive) as tf:
        return sum(m.isfile() for m in tf.getmembers()[:n])


@pytest.mark.parametrize("kind", ["zip", "tar.gz"])
def test_kill_9_during_extraction_then_rerun_equals_a_clean_run(tmp_path: Path, kind: str, kill_at_fault) -> None:
    archive = _many_files_zip(tmp_path / "a.zip")
    if kind == "tar.gz":
        with zipfile.ZipFile(archive) as zf:
            zf.extractall(tmp_path / "src")
        archive = tmp_path / "a.tar.gz"
        with tarfile.open(archive, "w:gz", compresslevel=1) as tf:
            tf.add(tmp_path / "src" / "root", arcname="root")
    out = tmp_path / "extracted"
    cmd = [sys.executable, "-m", "sedrepro.datasets.archive", "extract", "--out", str(out), str(archive)]
    kill_at_fault(cmd, "archive.member", 200, dict(os.environ))  # killed after 200 members
    partial = list(tmp_path.glob(".extracted.*.part"))
    assert len(partial) == 1  # killed half-way, inside the temp folder:
    assert sum(p.is_file() for p in partial[0].rglob("*")) == _files_among_first(archive, 200) > 0
    assert not out.exists()  # atomic: the final folder appears only complete

    done = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)  # a hang guard only
    assert done.returncode == 0, done.stderr[-2000:]
    extract([archive], tmp_path / "clean")
    got, want = _tree_digest(out), _tree_digest(tmp_path / "clean")
    assert len(want) == 400 and got == want


def test_truncated_zip_is_one_line(tmp_path: Path) -> None:
    archive = _many_files_zip(tmp_path / "a.zip", n=20)
    archive.write_bytes(archive.read_bytes()[:-200])  # the central directory is lost
    with pytest.raises(InputError) as err:
        extract([archive], tmp_path / "out")
    assert str(err.value) == f"{archive}: expected a readable zip archive, found File is not a zip file"
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob(".out.*"))


def test_truncated_tar_gz_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.bin").write_bytes(np.random.default_rng(1).bytes(200_000))
    archive = tmp_path / "a.tar.gz"
    with tarfile.open(archive, "w:gz") as tf:
        tf.add(tmp_path / "src", arcname="root")
    archive.write_bytes(archive.read_bytes()[:100_000])
    with pytest.raises(InputError) as err:
        extract([archive], tmp_path / "out")
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith(f"{archive}: expected a readable tar archive, found ")
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob(".out.*"))
