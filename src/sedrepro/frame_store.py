"""A frame store: the frames of many clips in a few arrays (one per subset), with an offsets table (torch-free).

A store is a folder holding
  <array>.npy   (rows, width): the frames of the clips of one array, one after the other
  store.tsv     one row per clip: file_id, array, start (its first row), n_frames
  store.json    per array: rows, width, dtype and the sha256 of its data bytes (after the .npy header)
so that a dataset of two million short clips is a few files, not two million (AudioSet's index writes one; the
`precomputed` feature kind reads it, memory-mapped). `StoreWriter` streams the arrays into a temp folder beside the
store and swaps it into place only when every array, the table and the digests are written: a crash leaves the old
store or none, never a mix. `FrameStore.open` checks the table against store.json and each array's header (one line:
the file, the line or key, expected, found); `verify` checks the digests, so a truncated or corrupted array stops.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import tempfile
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pandas as pd

from .io import fail, read_json, read_tsv, write_json, write_tsv

STORE_TABLE = "store.tsv"
STORE_INFO = "store.json"
TABLE_COLUMNS = ("file_id", "array", "start", "n_frames")
CHUNK_ROWS = 1 << 16  # rows hashed at a time


def is_store(folder: Path) -> bool:
    """Whether `folder` is a frame store (its table is written last, with the swap: a store folder is complete)."""
    return (Path(folder) / STORE_TABLE).is_file()


def _header(rows: int, width: int, dtype: np.dtype) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": dtype.str, "fortran_order": False, "shape": (rows, width)})
    return buf.getvalue()


class StoreWriter:
    """Writes a store into `folder`: `with StoreWriter(folder, 128, np.uint8) as w: w.add(array, file_id, frames)`.
    Clips of one array are added in the order their rows take; the store replaces `folder` when the block ends
    without an error (an error leaves `folder` as it was)."""

    def __init__(self, folder: Path, width: int, dtype: np.dtype | type) -> None:
        self.folder, self.width, self.dtype = Path(folder), int(width), np.dtype(dtype)
        self.rows: list[tuple[str, str, int, int]] = []
        self._files: dict[str, tuple[BinaryIO, hashlib._Hash, list[int]]] = {}

    def __enter__(self) -> StoreWriter:
        self.folder.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = Path(tempfile.mkdtemp(prefix=f".{self.folder.name}.", suffix=".part", dir=self.folder.parent))
        return self

    def add(self, array: str, file_id: str, frames: np.ndarray) -> None:
        if array not in self._files:
            f = open(self.tmp / f"{array}.npy", "wb")  # noqa: SIM115 (closed in _finish or __exit__)
            f.write(_header(0, self.width, self.dtype))  # rewritten with the row count at the end, same length
            self._files[array] = (f, hashlib.sha256(), [0])
        f, digest, count = self._files[array]
        data = np.ascontiguousarray(frames, dtype=self.dtype)
        if data.ndim != 2 or data.shape[1] != self.width:
            raise ValueError(f"{file_id}: frames of width {self.width}, got shape {data.shape}")
        f.write(data.data)
        digest.update(data.data)
        self.rows.append((file_id, array, count[0], len(data)))
        count[0] += len(data)

    def _finish(self) -> None:
        info = {}
        for array, (f, digest, count) in self._files.items():
            header = _header(count[0], self.width, self.dtype)
            if len(header) != len(_header(0, self.width, self.dtype)):
                raise RuntimeError(f"{array}: the .npy header of {count[0]} rows changed length")
            f.seek(0)
            f.write(header)
            f.close()
            info[array] = {"rows": count[0], "width": self.width, "dtype": self.dtype.str, "sha256": digest.hexdigest()}
        write_tsv(self.tmp / STORE_TABLE, pd.DataFrame(self.rows, columns=list(TABLE_COLUMNS)))
        write_json(self.tmp / STORE_INFO, {"arrays": info})
        self.tmp.chmod(0o755)
        old = None
        if self.folder.exists():  # a folder cannot be renamed onto a non-empty one: move the old one aside first
            old = Path(tempfile.mkdtemp(prefix=f".{self.folder.name}.", suffix=".old", dir=self.folder.parent))
            os.replace(self.folder, old / "store")
        os.replace(self.tmp, self.folder)
        if old is not None:
            shutil.rmtree(old)

    def __exit__(self, kind, value, traceback) -> None:
        try:
            if kind is None:
                self._finish()
        finally:
            for f, _, _ in self._files.values():
                f.close()
            if self.tmp.exists():
                shutil.rmtree(self.tmp)


class FrameStore:
    """A store opened for reading: each array memory-mapped, the table checked against store.json."""

    def __init__(self, folder: Path, arrays: dict[str, np.ndarray], info: dict, table: pd.DataFrame) -> None:
        self.folder, self.arrays, self.info = folder, arrays, info
        self.where = {fid: (a, int(s), int(n)) for fid, a, s, n in table.itertuples(index=False)}

    @classmethod
    def open(cls, folder: Path, width: int) -> FrameStore:
        folder = Path(folder)
        info_path, table_path = folder / STORE_INFO, folder / STORE_TABLE
        try:
            info = read_json(info_path)["arrays"]
        except FileNotFoundError:
            raise fail(info_path, "the store's array list (written with store.tsv)", "no such file") from None
        except (KeyError, TypeError, ValueError) as err:
            raise fail(info_path, "JSON with 'arrays'", str(err).splitlines()[0]) from None
        arrays = {}
        for name, meta in info.items():
            path = folder / f"{name}.npy"
            keys = ("rows", "width", "dtype", "sha256")
            if not isinstance(meta, dict) or any(k not in meta for k in keys):
                raise fail(f"{info_path}: arrays/{name}", f"the keys {', '.join(keys)}", repr(meta)[:80])
            if meta["width"] != width:
                raise fail(
                    f"{info_path}: arrays/{name}/width", f"{width} features a frame (config)", str(meta["width"])
                )
            try:
                values = np.load(path, mmap_mode="r", allow_pickle=False)
            except FileNotFoundError:
                raise fail(path, f"array {name} of the store", "no such file") from None
            except ValueError as err:  # a header cut or damaged, or fewer data bytes than the header says
                raise fail(path, "a complete .npy array", str(err).splitlines()[0]) from None
            shape = (meta["rows"], meta["width"])
            if values.shape != shape or values.dtype.str != meta["dtype"]:
                raise fail(
                    path,
                    f"shape {shape} of {meta['dtype']} (store.json)",
                    f"shape {values.shape} of {values.dtype.str}",
                )
            arrays[name] = values
        table = read_tsv(table_path, dtype={"file_id": str, "array": str})
        if tuple(table.columns) != TABLE_COLUMNS:
            raise fail(f"{table_path}:1", f"the columns {', '.join(TABLE_COLUMNS)}", ", ".join(map(str, table.columns)))
        for column in ("start", "n_frames"):
            if len(table) and not pd.api.types.is_integer_dtype(table[column]):  # (an empty table has no dtype)
                raise fail(table_path, f"integers in column {column}", f"dtype {table[column].dtype}")
        seen: set[str] = set()
        for line, (fid, array, start, n) in enumerate(table.itertuples(index=False), start=2):
            where = f"{table_path}:{line}"
            if fid in seen:
                raise fail(where, "each clip once", f"{fid} again")
            seen.add(fid)
            if array not in arrays:
                raise fail(where, f"an array of store.json ({', '.join(arrays)})", repr(array))
            rows = len(arrays[array])
            if not (0 <= start and n >= 1 and start + n <= rows):
                raise fail(where, f"rows within {array}.npy ({rows} rows)", f"start {start}, {n} frames")
        return cls(folder, arrays, info, table)

    def verify(self) -> None:
        """Each array's data bytes against the sha256 store.json recorded when it was written."""
        for name, values in self.arrays.items():
            digest = hashlib.sha256()
            for i in range(0, len(values), CHUNK_ROWS):
                digest.update(np.ascontiguousarray(values[i : i + CHUNK_ROWS]).data)
            if digest.hexdigest() != self.info[name]["sha256"]:
                raise fail(
                    self.folder / f"{name}.npy",
                    f"sha256 {self.info[name]['sha256']} of its data (store.json)",
                    f"sha256 {digest.hexdigest()} (corrupted since it was written)",
                )

    def frames(self, file_id: str) -> np.ndarray:
        """A clip's rows (a view of the memory map); a clip the store lacks is one line."""
        if file_id not in self.where:
            raise fail(self.folder / STORE_TABLE, f"a row for clip {file_id} (files.tsv lists it)", "none")
        array, start, n = self.where[file_id]
        return self.arrays[array][start : start + n]
