"""AudioSet's TFRecord files without TensorFlow: record framing with both CRCs checked, and the segments'
`tf.train.SequenceExample`s parsed with the `tfrecord` package's protobuf messages (envs/requirements.txt pins it, the
protobuf runtime and crc32c; tests/test_audioset_data.py reads files written by an independent writer).

A TFRecord file is a sequence of records: uint64 length (little endian), uint32 masked CRC32C of those 8 bytes, the
data, uint32 masked CRC32C of the data. The `tfrecord` package's own iterator reads the CRC bytes but never checks
them, so the framing is read here (a truncated or corrupt shard is one line naming the file and the record's offset).

A segment (AudioSet's TF builder): context `video_id` (bytes), `start_time_seconds`, `end_time_seconds` (float),
`labels` (int64 list, class indices 0..526); feature list `audio_embedding`: one 128-byte string per second
(VGGish's 8-bit quantised embedding), fewer than 10 for segments shorter than 10 s.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import crc32c
import numpy as np
from google.protobuf.message import DecodeError

from ..io import fail

EMBEDDING_BYTES = 128
_MASK_DELTA = 0xA282EAD8
_HEADER = struct.Struct("<QI")
_FOOTER = struct.Struct("<I")


def masked_crc(data: bytes) -> int:
    """TFRecord's masked CRC32C: rotate right by 15 bits, add a constant (mod 2**32)."""
    crc = crc32c.crc32c(data)
    return (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & 0xFFFFFFFF


def frame_record(data: bytes) -> bytes:
    """One record's bytes as TensorFlow writes them."""
    length = struct.pack("<Q", len(data))
    return length + struct.pack("<I", masked_crc(length)) + data + struct.pack("<I", masked_crc(data))


def read_records(path: Path) -> Iterator[bytes]:
    """The records of one TFRecord file, each CRC checked; a short or corrupt record is one line (file@offset)."""
    buf = Path(path).read_bytes()
    view = memoryview(buf)
    pos, end = 0, len(buf)
    while pos < end:
        where = f"{path}@{pos}"
        if end - pos < _HEADER.size:
            raise fail(where, "a 12-byte record header", f"{end - pos} bytes at the end of the file")
        length, length_crc = _HEADER.unpack_from(buf, pos)
        if masked_crc(bytes(view[pos : pos + 8])) != length_crc:
            raise fail(where, "the masked CRC32C of the record length", f"{length_crc:#010x} (corrupt header)")
        start = pos + _HEADER.size
        stop = start + length
        if stop + _FOOTER.size > end:
            raise fail(
                where, f"{length + 4} bytes ({length} of data, 4 of CRC)", f"{end - start} bytes (truncated file)"
            )
        data = bytes(view[start:stop])
        (data_crc,) = _FOOTER.unpack_from(buf, stop)
        if masked_crc(data) != data_crc:
            raise fail(where, "the masked CRC32C of the record data", f"{data_crc:#010x} (corrupt record)")
        yield data
        pos = stop + _FOOTER.size


@dataclass(frozen=True)
class Segment:
    """One AudioSet segment: its video id, start and end (s), class indices and uint8 embedding (frames, 128)."""

    video_id: str
    start_s: float
    end_s: float
    labels: tuple[int, ...]
    embedding: np.ndarray


if TYPE_CHECKING:
    from tfrecord import example_pb2


def _sequence_example():
    """An empty SequenceExample message. tfrecord is imported here, not at module level: its package imports torch,
    and the workflow's parse (which imports the dataset registry) stays torch-free."""
    from tfrecord import example_pb2

    return example_pb2.SequenceExample()


def _context(seq: example_pb2.SequenceExample, key: str, kind: str, where: str) -> list:
    feature = seq.context.feature
    if key not in feature or feature[key].WhichOneof("kind") != kind:
        raise fail(where, f"context feature {key!r} ({kind})", "none" if key not in feature else "another type")
    return list(getattr(feature[key], kind).value)


def parse_segment(data: bytes, where: str) -> Segment:
    """One record's SequenceExample as a Segment; anything off the schema is one line naming `where`."""
    seq = _sequence_example()
    try:
        seq.ParseFromString(data)
    except DecodeError as err:
        raise fail(where, "a tf.train.SequenceExample", f"undecodable bytes ({err})") from None
    (video_id,) = _context(seq, "video_id", "bytes_list", where)[:1] or [b""]
    start = _context(seq, "start_time_seconds", "float_list", where)
    end = _context(seq, "end_time_seconds", "float_list", where)
    labels = _context(seq, "labels", "int64_list", where) if "labels" in seq.context.feature else []
    lists = seq.feature_lists.feature_list
    if "audio_embedding" not in lists:
        raise fail(where, "feature list 'audio_embedding'", "none")
    frames = []
    for i, feature in enumerate(lists["audio_embedding"].feature):
        values = feature.bytes_list.value
        if len(values) != 1 or len(values[0]) != EMBEDDING_BYTES:
            got = f"{len(values)} strings" if len(values) != 1 else f"{len(values[0])} bytes"
            raise fail(where, f"frame {i} of 'audio_embedding': one string of {EMBEDDING_BYTES} bytes", got)
        frames.append(values[0])
    if not frames or not video_id or len(start) != 1 or len(end) != 1:
        raise fail(where, "a video id, one start, one end and >= 1 embedding frame", f"{len(frames)} frames")
    embedding = np.frombuffer(b"".join(frames), dtype=np.uint8).reshape(len(frames), EMBEDDING_BYTES)
    return Segment(video_id.decode("utf-8"), float(start[0]), float(end[0]), tuple(int(x) for x in labels), embedding)


def read_segments(path: Path) -> Iterator[Segment]:
    """The segments of one TFRecord file, in file order."""
    for i, data in enumerate(read_records(path)):
        yield parse_segment(data, f"{path}#{i}")


def encode_segment(video_id: str, start_s: float, end_s: float, labels: Iterable[int], embedding: np.ndarray) -> bytes:
    """A segment's SequenceExample bytes (deterministic serialisation), as AudioSet's files hold them."""
    seq = _sequence_example()
    ctx = seq.context.feature
    ctx["video_id"].bytes_list.value.append(video_id.encode("utf-8"))
    ctx["start_time_seconds"].float_list.value.append(float(start_s))
    ctx["end_time_seconds"].float_list.value.append(float(end_s))
    ctx["labels"].int64_list.value.extend(int(x) for x in labels)
    frames = seq.feature_lists.feature_list["audio_embedding"].feature
    for row in np.asarray(embedding, dtype=np.uint8):
        frames.add().bytes_list.value.append(row.tobytes())
    return seq.SerializeToString(deterministic=True)
