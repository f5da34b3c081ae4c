"""Atomic file writes, table I/O and the one error type that stops a run with one clear line."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

_UMASK = os.umask(0)
os.umask(_UMASK)


class InputError(Exception):
    """Bad input: the message is one line naming the file, the line or key, what was expected and what was found."""


def fail(where: str | os.PathLike, expected: str, found: str) -> InputError:
    """Build the standard one-line error: `<where>: expected <expected>, found <found>`."""
    return InputError(f"{where}: expected {expected}, found {found}")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it onto `path` only if the block succeeds.

    The temp file lives in the same directory so the final rename is atomic on POSIX.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix or path.suffix or ".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        if tmp_path.exists():
            os.chmod(tmp_path, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the file normal permissions
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def read_text(path: str | os.PathLike) -> str:
    """A text input file decoded as UTF-8; a leading byte-order mark is dropped (real metadata files carry them).

    An undecodable byte is a one-line InputError naming the file, the line (counted as str.splitlines counts, like
    the parsers' line numbers) and the byte. A missing file raises FileNotFoundError for the caller to name.
    """
    data = Path(path).read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        # err.object is what was decoded (after a BOM, if any); the valid text before the byte gives its line
        lineno = len((err.object[: err.start].decode("utf-8") + "x").splitlines())
        raise fail(f"{path}:{lineno}", "UTF-8 text", f"the byte 0x{err.object[err.start]:02x} ({err.reason})") from None


def write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(path: str | os.PathLike, obj: Any) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n")


def read_json(path: str | os.PathLike) -> Any:
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise fail(f"{path}:{err.lineno}", "valid JSON", err.msg) from None


def write_tsv(path: str | os.PathLike, df: pd.DataFrame) -> None:
    with atomic_path(path) as tmp:
        df.to_csv(tmp, sep="\t", index=False, float_format="%.6f")


def write_csv(path: str | os.PathLike, df: pd.DataFrame, float_format: str | None = None) -> None:
    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False, float_format=float_format, lineterminator="\n")


def read_tsv(path: str | os.PathLike, **kwargs: Any) -> pd.DataFrame:
    return pd.read_csv(path, sep="\t", keep_default_na=False, na_values=[""], **kwargs)


def save_npy(path: str | os.PathLike, array: np.ndarray) -> None:
    with atomic_path(path, suffix=".npy") as tmp:
        np.save(tmp, array)


def wav_declared_frames(path: str | os.PathLike) -> int | None:
    """Frames the header of a RIFF/WAVE file declares (data chunk size / block align); None for other formats.

    libsndfile silently shortens a WAV whose data chunk runs past the end of the file (a truncated download or copy),
    so a reader compares this with the frames it got to notice the truncation.
    """
    import struct

    with open(path, "rb") as fh:
        head = fh.read(12)
        if len(head) < 12 or head[:4] not in (b"RIFF", b"RIFX") or head[8:12] != b"WAVE":
            return None
        endian = "<" if head[:4] == b"RIFF" else ">"
        block_align = None
        while len(chunk := fh.read(8)) == 8:
            cid, size = chunk[:4], struct.unpack(f"{endian}I", chunk[4:])[0]
            if cid == b"fmt ":
                fmt = fh.read(size + (size & 1))
                if len(fmt) >= 14:
                    block_align = struct.unpack(f"{endian}H", fmt[12:14])[0]
            elif cid == b"data":
                # 0xFFFFFFFF (or 0) marks an unknown length from a streaming writer: nothing declared
                if not block_align or size in (0, 0xFFFFFFFF):
                    return None
                return size // block_align
            else:
                fh.seek(size + (size & 1), os.SEEK_CUR)
    return None


def _json_default(obj: Any) -> Any:
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating,)):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")
