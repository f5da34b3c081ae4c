"""fetch: file:// downloads, mirrors, checksum mismatches; extract: traversal, absolute paths, links, devices."""

from __future__ import annotations

import errno
import hashlib
import io
import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from sedrepro.datasets.archive import extract, fetch
from sedrepro.io import InputError

PAYLOAD = b"hello sedrepro\n" * 1000


@pytest.fixture()
def source(tmp_path: Path) -> Path:
    path = tmp_path / "src" / "data.bin"
    path.parent.mkdir()
    path.write_bytes(PAYLOAD)
    return path


def test_fetch_file_url_md5_and_sha256(tmp_path: Path, source: Path) -> None:
    dest = tmp_path / "out" / "data.bin"
    got = fetch([source.as_uri()], dest, md5=hashlib.md5(PAYLOAD).hexdigest(), sha256=None)
    assert got == dest and dest.read_bytes() == PAYLOAD
    dest.unlink()
    fetch([source.as_uri()], dest, md5=None, sha256=hashlib.sha256(PAYLOAD).hexdigest())
    assert dest.read_bytes() == PAYLOAD


def test_fetch_tries_mirrors_in_order(tmp_path: Path, source: Path) -> None:
    dest = tmp_path / "data.bin"
    missing = (tmp_path / "nowhere.bin").as_uri()
    fetch([missing, source.as_uri()], dest, md5=hashlib.md5(PAYLOAD).hexdigest(), sha256=None)
    assert dest.read_bytes() == PAYLOAD


def test_fetch_checksum_mismatch_names_file_expected_actual_and_leaves_nothing(tmp_path: Path, source: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    dest = out / "archive.zip"
    wrong = "0" * 32
    with pytest.raises(InputError) as err:
        fetch([source.as_uri()], dest, md5=wrong, sha256=None)
    msg = str(err.value)
    assert "\n" not in msg
    assert "archive.zip" in msg and wrong in msg and hashlib.md5(PAYLOAD).hexdigest() in msg
    assert list(out.iterdir()) == []  # neither dest nor a temp file


def test_fetch_all_mirrors_down_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(InputError) as err:
        fetch([(tmp_path / "a").as_uri(), (tmp_path / "b").as_uri()], tmp_path / "x.bin", md5="0" * 32, sha256=None)
    assert "\n" not in str(err.value) and "2 URL" in str(err.value)


def test_fetch_rejects_unknown_scheme(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="scheme"):
        fetch(["ftp://example.org/x"], tmp_path / "x", md5="0" * 32, sha256=None)


def test_fetch_cli_mismatch_exits_2_with_one_line(tmp_path: Path, source: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "sedrepro.datasets.archive",
            "fetch",
            "--url",
            source.as_uri(),
            "--md5",
            "1" * 32,
            "--out",
            str(tmp_path / "x.bin"),
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "x.bin" in errors[0] and "1" * 32 in errors[0]
    assert not (tmp_path / "x.bin").exists()


class _FullDisk(io.BufferedWriter):
    """A file whose writes fail as on a full disk (ENOSPC), after the temp file was created like a real one."""

    def write(self, data: bytes) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def _full_disk_open(path: Path, mode: str = "r") -> io.BufferedWriter:
    assert mode == "wb"
    return _FullDisk(io.FileIO(path, mode))


def test_fetch_local_write_error_stops_at_once_naming_the_file_and_cause(
    tmp_path: Path, source: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Disk full while writing: one line with dest and the OS's words; the second mirror is never tried."""
    import sedrepro.datasets.archive as archive

    out = tmp_path / "out"
    out.mkdir()
    opened: list[str] = []
    real_urlopen = archive.urllib.request.urlopen

    def urlopen(url: str, timeout: float) -> object:
        opened.append(url)
        return real_urlopen(url, timeout=timeout)

    monkeypatch.setattr(archive.urllib.request, "urlopen", urlopen)
    monkeypatch.setattr(archive, "open", _full_disk_open, raising=False)
    with pytest.raises(InputError) as err:
        fetch(
            [source.as_uri(), source.as_uri()], out / "archive.zip", md5=hashlib.md5(PAYLOAD).hexdigest(), sha256=None
        )
    msg = str(err.value)
    assert "\n" not in msg and str(out / "archive.zip") in msg and "No space left on device" in msg
    assert opened == [source.as_uri()]  # a local failure is not a mirror failure
    assert list(out.iterdir()) == []  # neither dest nor the temp file


def test_fetch_cli_permission_denied_exits_2_with_one_line(
    tmp_path: Path, source: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The target folder refuses the temp file (EACCES; simulated: tests may run as root, which chmod cannot stop)."""
    import sedrepro.io
    from sedrepro import cli
    from sedrepro.datasets.archive import build_parser, main

    tries: list[str] = []

    def refuse(prefix: str, suffix: str, dir: Path) -> tuple[int, str]:
        tries.append(prefix)
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(Path(dir) / f"{prefix}XXXX{suffix}"))

    monkeypatch.setattr(sedrepro.io.tempfile, "mkstemp", refuse)
    out = tmp_path / "locked"
    out.mkdir()
    argv = [
        "fetch",
        "--url",
        source.as_uri(),
        "--url",
        source.as_uri(),
        "--md5",
        hashlib.md5(PAYLOAD).hexdigest(),
        "--out",
        str(out / "x.bin"),
    ]
    with pytest.raises(SystemExit) as stop:
        cli.run(main, build_parser(), argv)
    assert stop.value.code == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and str(out / "x.bin") in errors[0] and "Permission denied" in errors[0]
    assert "to write the download to disk" in errors[0] and len(tries) == 1  # not blamed on the mirror, not retried
    assert list(out.iterdir()) == []


# ---- extract -----------------------------------------------------------------------------------------------------


def _tar(path: Path, members: list[tarfile.TarInfo], data: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as tf:
        for m in members:
            payload = data.get(m.name)
            if payload is not None:
                m.size = len(payload)
            tf.addfile(m, io.BytesIO(payload) if payload is not None else None)
    return path


def _member(name: str, kind: bytes = tarfile.REGTYPE, linkname: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    return info


def _zip(path: Path, names: list[str]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name in names:
            zf.writestr(zipfile.ZipInfo(name), b"x")
    return path


def _assert_refused(archive: Path, out: Path, member: str, reason: str) -> None:
    with pytest.raises(InputError) as err:
        extract([archive], out)
    msg = str(err.value)
    assert "\n" not in msg and archive.name in msg and member in msg and reason in msg
    assert not out.exists()
    assert [p.name for p in out.parent.iterdir() if p.name.startswith(f".{out.name}.")] == []  # temp dir removed


def test_extract_tar_and_zip_together(tmp_path: Path) -> None:
    t = _tar(
        tmp_path / "a.tar.gz",
        [_member("root/a.txt"), _member("root/link", tarfile.SYMTYPE, "a.txt")],
        {"root/a.txt": b"A"},
    )
    z = _zip(tmp_path / "b.zip", ["root/sub/b.txt"])
    out = tmp_path / "out"
    extract([t, z], out)
    assert (out / "root" / "a.txt").read_bytes() == b"A"
    assert (out / "root" / "sub" / "b.txt").read_bytes() == b"x"
    assert (out / "root" / "link").is_symlink()  # links that stay inside are fine


def test_extract_refuses_non_empty_out_dir(tmp_path: Path) -> None:
    z = _zip(tmp_path / "b.zip", ["root/b.txt"])
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(InputError, match="non-empty"):
        extract([z], out)
    assert (out / "keep.txt").read_text() == "mine"


@pytest.mark.parametrize(
    ("member", "reason"),
    [
        (_member("root/../../evil.txt"), "'..' escape"),
        (_member("/tmp/abs_evil.txt"), "absolute path"),
        (_member("root/link", tarfile.SYMTYPE, "../../outside"), "symlink"),
        (_member("root/link", tarfile.SYMTYPE, "/etc/passwd"), "symlink"),
        (_member("root/hard", tarfile.LNKTYPE, "../outside"), "hardlink"),
        (_member("root/dev", tarfile.CHRTYPE), "device"),
    ],
    ids=["traversal", "absolute", "symlink-up", "symlink-abs", "hardlink", "device"],
)
def test_extract_tar_refuses_unsafe_members(tmp_path: Path, member: tarfile.TarInfo, reason: str) -> None:
    archive = _tar(
        tmp_path / "bad.tar.gz",
        [_member("root/ok.txt"), member],
        {"root/ok.txt": b"ok", member.name: b"x"} if member.isreg() else {"root/ok.txt": b"ok"},
    )
    _assert_refused(archive, tmp_path / "out", member.name, reason)


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("root/../../evil.txt", "'..' escape"),
        ("/abs_evil.txt", "absolute path"),
    ],
    ids=["traversal", "absolute"],
)
def test_extract_zip_refuses_unsafe_names(tmp_path: Path, name: str, reason: str) -> None:
    archive = _zip(tmp_path / "bad.zip", ["root/ok.txt", name])
    _assert_refused(archive, tmp_path / "out", name, reason)


def test_extract_zip_refuses_symlink_pointing_outside(tmp_path: Path) -> None:
    archive = tmp_path / "link.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        info = zipfile.ZipInfo("root/link")
        info.create_system = 3
        info.external_attr = (0o120777) << 16  # S_IFLNK: the data is the link target
        zf.writestr(info, "../../outside")
    _assert_refused(archive, tmp_path / "out", "root/link", "pointing outside")


def test_extract_cli(tmp_path: Path) -> None:
    good = _zip(tmp_path / "good.zip", ["root/a.txt"])
    bad = _zip(tmp_path / "bad.zip", ["../evil.txt"])
    ok = subprocess.run(
        [sys.executable, "-m", "sedrepro.datasets.archive", "extract", "--out", str(tmp_path / "ok"), str(good)],
        capture_output=True,
        text=True,
    )
    assert ok.returncode == 0, ok.stderr
    assert (tmp_path / "ok" / "root" / "a.txt").is_file()
    refused = subprocess.run(
        [
            sys.executable,
            "-m",
            "sedrepro.datasets.archive",
            "extract",
            "--out",
            str(tmp_path / "no"),
            str(good),
            str(bad),
        ],
        capture_output=True,
        text=True,
    )
    assert refused.returncode == 2
    assert [line for line in refused.stderr.splitlines() if line.startswith("error:")] == [
        f"error: {bad}: expected member paths inside the archive root, found member '../evil.txt' ('..' escape)"
    ]
    assert not (tmp_path / "no").exists()


# ---- plain files beside the archives (config `kind: file`) -------------------------------------------------------


def _csv(tmp_path: Path, name: str = "eval_segments.csv", text: str = "# a\n# b\n# YTID\n") -> Path:
    path = tmp_path / "dl" / name
    path.parent.mkdir(exist_ok=True)
    path.write_text(text)
    return path


def test_plain_files_are_placed_where_the_layout_expects_them(tmp_path: Path) -> None:
    archive = _tar(tmp_path / "features.tar.gz", [_member("root/eval/-a.tfrecord")], {"root/eval/-a.tfrecord": b"R"})
    csv, index = _csv(tmp_path), _csv(tmp_path, "classes.csv", "index,mid,display_name\n")
    out = tmp_path / "out"
    extract([archive, csv, index], out, {csv.name: "root/eval_segments.csv", index.name: "root/meta/classes.csv"})
    assert (out / "root/eval/-a.tfrecord").read_bytes() == b"R"
    assert (out / "root/eval_segments.csv").read_text() == csv.read_text()
    assert (out / "root/meta/classes.csv").read_text() == "index,mid,display_name\n"


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({}, "eval_segments.csv: expected a zip or tar(.gz) archive (a plain file's archive entry says kind: file), "
         "found neither"),
        ({"eval_segments.csv": "root/eval/-a.tfrecord"},
         "eval_segments.csv: expected nothing yet at root/eval/-a.tfrecord (where the plain file goes), found an archive "
         "member"),
        ({"eval_segments.csv": "../up.csv"},
         "--file eval_segments.csv=../up.csv: expected a file path inside the extracted folder, found '../up.csv'"),
        ({"other.csv": "root/other.csv"},
         "--file other.csv=root/other.csv: expected the name of one of the inputs, found none of eval_segments.csv, "
         "features.tar.gz"),
    ],
    ids=["undeclared", "over-a-member", "outside", "not-an-input"],
)  # fmt: skip
def test_plain_file_errors_are_one_line_and_leave_nothing(tmp_path: Path, files: dict, message: str) -> None:
    archive = _tar(tmp_path / "features.tar.gz", [_member("root/eval/-a.tfrecord")], {"root/eval/-a.tfrecord": b"R"})
    csv = _csv(tmp_path)
    with pytest.raises(InputError) as err:
        extract([archive, csv], tmp_path / "out", files)
    assert str(err.value).endswith(message) and "\n" not in str(err.value)
    assert not (tmp_path / "out").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out.")] == []


def test_plain_file_entry_is_checksummed_like_an_archive(tmp_path: Path) -> None:
    """A config entry of kind file goes through the same download with its sha256: the wrong bytes stop it in one
    line and leave nothing; the right ones pass, then the extract CLI places it (--file from the workflow glue)."""
    from sedrepro import download, workflow

    csv = _csv(tmp_path, text="# header\n")
    good = hashlib.sha256(csv.read_bytes()).hexdigest()
    entry = {"name": csv.name, "urls": [csv.as_uri()], "sha256": "0" * 64, "kind": "file", "place": None}
    config = {"datasets": {"audioset": {"source": "download", "archives": [entry]}}}
    args = workflow.source_args(config, "audioset", csv.name, {})
    assert args == f"--url {csv.as_uri()} --sha256 {'0' * 64}"
    dest = tmp_path / "archives" / csv.name
    with pytest.raises(InputError) as err:
        download.fetch([csv.as_uri()], dest, md5=None, sha256=entry["sha256"], retries=0)
    assert str(err.value).startswith(f"{csv.name}: expected sha256 {'0' * 64}, found sha256 {good}")
    assert not dest.exists() and list(dest.parent.iterdir()) == []
    download.fetch([csv.as_uri()], dest, md5=None, sha256=good, retries=0)
    assert workflow.plain_files(config, "audioset") == {csv.name: f"audioset_v1_embeddings/{csv.name}"}
    flag = workflow.extract_file_args(config, "audioset")
    assert flag == f" --file {csv.name}=audioset_v1_embeddings/{csv.name}"
    run = subprocess.run(
        [sys.executable, "-m", "sedrepro.datasets.archive", "extract", "--out", str(tmp_path / "x"), *flag.split(),
         str(dest)],
        capture_output=True,
        text=True,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "x/audioset_v1_embeddings" / csv.name).read_text() == "# header\n"


def test_embedded_plain_files_come_from_the_spec() -> None:
    from sedrepro import workflow
    from sedrepro.datasets import get

    spec = get("audioset")
    config = {"datasets": {"audioset": {"source": "embedded"}, "urban_sed": {"source": "embedded"}}}
    assert list(workflow.plain_files(config, "audioset")) == list(spec.embedded_archives[1:])
    assert workflow.plain_files(config, "urban_sed") == {}
    assert "--file class_labels_indices.csv=audioset_v1_embeddings/class_labels_indices.csv" in (
        workflow.extract_file_args(config, "audioset")
    )
