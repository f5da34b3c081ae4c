"""Download with checksum verification and safe archive extraction; nothing is ever half-written.

CLI:
  python -m sedrepro.datasets.archive fetch --url URL [--url MIRROR ...] [--md5 X | --sha256 X] --out FILE
  python -m sedrepro.datasets.archive extract --out DIR [--file NAME=PATH ...] ARCHIVE [ARCHIVE ...]

A dataset may publish plain files beside its archives (AudioSet's segment CSVs): an input named by `--file` is not
unpacked but copied to PATH inside the extracted folder (what its config entry says: `kind: file`, `place`), after the
archives, and never over one of their members. It was checksummed when downloaded, like every archive.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import itertools
import logging
import os
import shutil
import stat
import tarfile
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Iterator, Mapping
from pathlib import Path, PurePosixPath
from typing import Any, TypeVar

from .. import cli
from ..faults import fault_point
from ..io import InputError, atomic_path, fail

log = logging.getLogger(__name__)
CHUNK = 1 << 20
SCHEMES = ("https", "http", "file")
TIMEOUT_S = 60
T = TypeVar("T")


def file_digests(path: Path) -> tuple[str, str]:
    """(md5, sha256) hex digests of a file, read in chunks."""
    md5, sha = hashlib.md5(), hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            md5.update(chunk)
            sha.update(chunk)
    return md5.hexdigest(), sha.hexdigest()


def _mismatch(name: str, md5: str | None, sha256: str | None, got_md5: str, got_sha: str) -> str | None:
    """The mismatch message, or None when the digest that was given matches."""
    if md5 is not None and got_md5 != md5.lower():
        return f"{name}: expected md5 {md5.lower()}, found md5 {got_md5}"
    if sha256 is not None and got_sha != sha256.lower():
        return f"{name}: expected sha256 {sha256.lower()}, found sha256 {got_sha}"
    return None


def fetch(
    urls: list[str], dest: Path, md5: str | None, sha256: str | None, retries: int = 0, backoff_s: float = 0.0
) -> Path:
    """Download the first mirror in `urls` that answers and matches the digest to `dest`; return dest.

    Streams into a temp file beside dest and renames only after the digest matched, so dest is either complete and
    verified or absent. An existing dest that already matches is kept (no download). A mirror that serves the wrong
    bytes is skipped for the next one; if none matches, the InputError names file, expected and actual digest.
    When every mirror failed to answer, the round is repeated up to `retries` times, after backoff_s, 2 backoff_s,
    4 backoff_s ... seconds. Each failed try and each wait is logged once; the final error counts them.
    A local error (writing dest) stops at once.
    """
    dest = Path(dest)
    if not urls:
        raise fail(dest, "at least one URL", "none")
    if md5 is not None and sha256 is not None:
        raise fail(dest, "one checksum (md5 or sha256)", "both")
    if md5 is None and sha256 is None:
        log.warning("%s: no checksum given; the download is not verified", dest.name)
    for url in urls:
        scheme = urllib.parse.urlsplit(url).scheme
        if scheme not in SCHEMES:
            raise fail(url, f"a URL with scheme {', '.join(SCHEMES)}", repr(scheme or "none"))
    if dest.is_file():
        if _mismatch(dest.name, md5, sha256, *file_digests(dest)) is None and (md5 or sha256):
            log.info("%s: already present and verified", dest)
            return dest
        # An unverified leftover must not survive a failed download looking like a good file.
        log.warning("%s: present but not verified; downloading again", dest)
        dest.unlink()
    rounds = retries + 1
    for round_no in range(1, rounds + 1):
        if round_no > 1:
            wait = backoff_s * 2 ** (round_no - 2)
            log.info("%s: every mirror failed; round %d of %d in %g s", dest.name, round_no, rounds, wait)
            time.sleep(wait)
        mismatch: str | None = None
        for i, url in enumerate(urls, 1):
            where = f"{dest.name}: round {round_no} of {rounds}, mirror {i} of {len(urls)}"
            try:
                size, got_md5 = _download(url, dest, md5, sha256)
            except _LocalError:
                raise
            except InputError as err:  # wrong bytes: another mirror may serve the right ones, a retry will not
                mismatch = str(err)
                log.warning("%s: %s", where, err)
                continue
            except _MirrorFailed as err:
                log.warning("%s: %s", where, err)
                continue
            log.info("%s: %d bytes from %s, md5 %s", dest.name, size, url, got_md5)
            return dest
        if mismatch is not None:
            raise InputError(mismatch)
    raise fail(
        dest,
        f"a download from one of {len(urls)} URL(s)",
        f"{rounds * len(urls)} failed tries ({rounds} round(s) over the mirrors, each try logged above)",
    )


def _download(url: str, dest: Path, md5: str | None, sha256: str | None) -> tuple[int, str]:
    """Stream one mirror into a temp file beside dest, rename it onto dest once the digest matched; (bytes, md5).

    _MirrorFailed: the mirror did not answer or broke off. InputError: wrong digest, or a local error while writing
    (disk full, permission: no other mirror can help). Either way nothing is left at dest.
    """
    try:
        with atomic_path(dest) as tmp:
            hash_md5, hash_sha = hashlib.md5(), hashlib.sha256()
            size = 0
            with _open_mirror(url) as response, open(tmp, "wb") as out:
                while chunk := _read_mirror(response, url):
                    out.write(chunk)
                    hash_md5.update(chunk)
                    hash_sha.update(chunk)
                    size += len(chunk)
            problem = _mismatch(dest.name, md5, sha256, hash_md5.hexdigest(), hash_sha.hexdigest())
            if problem is not None:
                # Raising inside atomic_path deletes the temp file: nothing is left at dest.
                raise InputError(f"{problem} (from {url})")
    except OSError as err:
        # Everything but the mirror's reads is local (folder, temp file, write, rename): another mirror cannot help.
        found = f"{err.strerror or err} ({_local_step(err, dest)}; no other mirror tried)"
        raise _LocalError(str(fail(dest, "to write the download to disk", found))) from None
    return size, hash_md5.hexdigest()


class _MirrorFailed(Exception):
    """A mirror did not answer or broke off mid-way; the next mirror is tried."""


class _LocalError(InputError):
    """Writing the download failed here (disk full, permission): stops at once, whatever the mirrors."""


_REMOTE_ERRORS = (urllib.error.URLError, http.client.HTTPException, OSError, ValueError)


def _open_mirror(url: str) -> Any:  # urllib's response type differs by scheme
    try:
        return urllib.request.urlopen(url, timeout=TIMEOUT_S)
    except _REMOTE_ERRORS as err:
        raise _MirrorFailed(f"{url} ({getattr(err, 'reason', err)})") from None


def _read_mirror(response: Any, url: str) -> bytes:
    try:
        return response.read(CHUNK)
    except _REMOTE_ERRORS as err:
        raise _MirrorFailed(f"{url} ({getattr(err, 'reason', err)})") from None


def _local_step(err: OSError, dest: Path) -> str:
    """Which local step failed, for the message: the path the OS named, or the write into the temp file beside dest."""
    if err.filename:
        return f"at {err.filename}"
    return f"writing a temp file in {dest.parent}"


def _is_outside(parts_base: PurePosixPath, target: str) -> bool:
    """True when `target` (relative to folder `parts_base` inside the archive) leaves the archive root."""
    if target.startswith("/") or (len(target) > 1 and target[1] == ":"):
        return True
    depth = len(parts_base.parts)
    for part in PurePosixPath(target).parts:
        if part == "..":
            depth -= 1
            if depth < 0:
                return True
        elif part not in (".", ""):
            depth += 1
    return False


def _check_name(archive: Path, name: str) -> None:
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        raise fail(archive, "member paths relative to the archive root", f"member {name!r} (absolute path)")
    if ".." in name.replace("\\", "/").split("/"):
        raise fail(archive, "member paths inside the archive root", f"member {name!r} ('..' escape)")


def _check_tar(archive: Path, tf: tarfile.TarFile) -> None:
    for m in tf.getmembers():
        _check_name(archive, m.name)
        parent = PurePosixPath(m.name).parent
        if m.issym() and _is_outside(parent, m.linkname):
            raise fail(archive, "links inside the archive root", f"member {m.name!r} (symlink to {m.linkname!r})")
        if m.islnk() and _is_outside(PurePosixPath("."), m.linkname):
            raise fail(archive, "links inside the archive root", f"member {m.name!r} (hardlink to {m.linkname!r})")
        if m.ischr() or m.isblk() or m.isfifo() or m.isdev():
            raise fail(archive, "regular files, folders and links", f"member {m.name!r} (device or fifo)")


def _check_zip(archive: Path, zf: zipfile.ZipFile) -> None:
    for info in zf.infolist():
        _check_name(archive, info.filename)
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            target = zf.read(info).decode("utf-8", "replace")
            where = (
                "pointing outside the archive root"
                if _is_outside(PurePosixPath(info.filename).parent, target)
                else "not supported in zip archives"
            )
            raise fail(
                archive, "regular files and folders", f"member {info.filename!r} (symlink to {target!r}, {where})"
            )
        if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) or stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode):
            raise fail(archive, "regular files and folders", f"member {info.filename!r} (device, fifo or socket)")


def _kind(archive: Path) -> str:
    name = archive.name.lower()
    if name.endswith(".zip"):
        return "zip"
    if name.endswith((".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz")):
        return "tar"
    if zipfile.is_zipfile(archive):
        return "zip"
    if tarfile.is_tarfile(archive):
        return "tar"
    raise fail(archive, "a zip or tar(.gz) archive (a plain file's archive entry says kind: file)", "neither")


def _counted(members: list[T], done: Iterator[int]) -> Iterator[T]:
    """The members in order; the fault point "archive.member" sees each one's count once it has been extracted."""
    for member in members:
        yield member  # extractall writes it before asking for the next one
        fault_point("archive.member", next(done))


def extract(archives: list[Path], out_dir: Path, files: Mapping[str, str] | None = None) -> None:
    """Extract all `archives` into a temp folder beside out_dir, then rename it onto out_dir.

    Every member is checked before anything is written: absolute paths, '..' escapes, links pointing outside,
    device files and (in zips) symlinks are refused with a one-line InputError naming archive and member. A crash
    leaves only a hidden temp folder, never a partial out_dir. An existing non-empty out_dir is refused.
    `files` maps the names of inputs that are plain files to their paths inside out_dir: copied there after the
    archives are unpacked (a path an archive member already took, or one outside out_dir, is refused).
    """
    out_dir = Path(out_dir)
    files = dict(files or {})
    names = {Path(a).name for a in archives}
    for name, place in files.items():
        if name not in names:
            raise fail(f"--file {name}={place}", "the name of one of the inputs", f"none of {', '.join(sorted(names))}")
        if _is_outside(PurePosixPath("."), place) or ".." in PurePosixPath(place).parts or place.endswith("/"):
            raise fail(f"--file {name}={place}", "a file path inside the extracted folder", repr(place))
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise fail(out_dir, "no folder or an empty one to extract into", "an existing non-empty path (remove it first)")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".part", dir=out_dir.parent))
    done = itertools.count(1)  # members extracted, over all archives
    try:
        for archive in map(Path, archives):
            if not archive.is_file():
                raise fail(archive, "an archive file", "no such file")
            if archive.name in files:
                continue  # placed below, after every archive's members
            kind = _kind(archive)
            try:
                if kind == "zip":
                    with zipfile.ZipFile(archive) as zf:
                        _check_zip(archive, zf)
                        zf.extractall(tmp, _counted(zf.namelist(), done))
                else:
                    with tarfile.open(archive, "r:*") as tf:
                        _check_tar(archive, tf)
                        # The data filter repeats the checks (and drops unsafe modes) as a second line of defence.
                        tf.extractall(tmp, _counted(tf.getmembers(), done), filter="data")
            except tarfile.FilterError as err:
                raise fail(archive, "safe members", f"{err}".replace("\n", " ")) from None
            except (zipfile.BadZipFile, tarfile.ReadError, EOFError) as err:
                raise fail(archive, f"a readable {kind} archive", str(err)) from None
            log.info("extracted %s", archive)
        for archive in (Path(a) for a in archives if Path(a).name in files):
            target = tmp / files[archive.name]
            if target.exists() or target.is_symlink():
                raise fail(
                    archive, f"nothing yet at {files[archive.name]} (where the plain file goes)", "an archive member"
                )
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(archive, target)
            fault_point("archive.member", next(done))
            log.info("placed %s at %s", archive, files[archive.name])
        if out_dir.exists():
            out_dir.rmdir()
        tmp.chmod(0o755)  # mkdtemp makes it private; the extracted dataset should read like any other folder
        os.replace(tmp, out_dir)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


def main(args: argparse.Namespace) -> None:
    if args.command == "fetch":
        fetch(args.url, Path(args.out), md5=args.md5, sha256=args.sha256)
    else:
        files = {}
        for item in args.file:
            name, sep, place = item.partition("=")
            if not sep or not name or not place:
                raise fail(f"--file {item}", "NAME=PATH (an input's name and its path in the folder)", repr(item))
            files[name] = place
        extract([Path(a) for a in args.archives], Path(args.out), files)


def build_parser() -> argparse.ArgumentParser:
    p = cli.parser("Fetch archives with checksum verification, or extract them safely.")
    sub = p.add_subparsers(dest="command", required=True)
    f = sub.add_parser("fetch", help="download one file, trying mirrors in order")
    f.add_argument("--url", action="append", required=True, help="https://, http:// or file:// URL; repeat for mirrors")
    digest = f.add_mutually_exclusive_group()
    digest.add_argument("--md5")
    digest.add_argument("--sha256")
    f.add_argument("--out", required=True)
    e = sub.add_parser("extract", help="extract zip/tar(.gz) archives into a new folder")
    e.add_argument("--out", required=True)
    e.add_argument(
        "--file", action="append", default=[], help="NAME=PATH: input NAME is a plain file, copied to PATH (repeatable)"
    )
    e.add_argument("archives", nargs="+")
    return p


if __name__ == "__main__":
    cli.run(main, build_parser())
