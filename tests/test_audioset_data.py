"""AudioSet data: the TFRecord reader against an independent writer, the CSVs' quirks, the manifest and the label
check, the uint8 store and its dequantisation, padding of short segments, and the embedded stand-in."""

from __future__ import annotations

import json
import shutil
import struct
import tarfile
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sedrepro.data import SplitData
from sedrepro.datasets import get
from sedrepro.datasets.archive import extract
from sedrepro.datasets.audioset import CLASS_INDEX, CSV_FILES, ROOT_NAME, read_class_index, read_segments_csv
from sedrepro.datasets.audioset_records import frame_record, read_records, read_segments
from sedrepro.datasets.audioset_standin import DEFAULT_PARAMS, N_CLASSES, PlannedSegment, embeddings, plan, quantise
from sedrepro.features import DEQUANTISE, FeatureConfig, dequantise, extract_precomputed
from sedrepro.frame_store import FrameStore
from sedrepro.io import InputError

REPO = Path(__file__).resolve().parents[1]
SMALL = {**DEFAULT_PARAMS, "n_bal_train": 40, "n_eval": 30, "n_unbal_train": 50, "missing_fraction": 0.1}

# --- an independent writer: CRC32C from its polynomial, protobuf wire format by hand ---------------------------------

_TABLE = []
for _n in range(256):
    _c = _n
    for _ in range(8):
        _c = (_c >> 1) ^ 0x82F63B78 if _c & 1 else _c >> 1
    _TABLE.append(_c)


def crc32c_reference(data: bytes) -> int:
    crc = 0xFFFFFFFF
    for b in data:
        crc = _TABLE[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def masked(data: bytes) -> int:
    crc = crc32c_reference(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def varint(n: int) -> bytes:
    n &= (1 << 64) - 1  # negative int64 as protobuf writes it
    out = bytearray()
    while True:
        out.append((n & 0x7F) | (0x80 if n > 0x7F else 0))
        n >>= 7
        if not n:
            return bytes(out)


def field(number: int, payload: bytes) -> bytes:  # length-delimited
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def feature_bytes(values: list[bytes]) -> bytes:
    return field(1, b"".join(field(1, v) for v in values))


def feature_floats(values: list[float]) -> bytes:
    return field(2, field(1, b"".join(struct.pack("<f", v) for v in values)))


def feature_ints(values: list[int]) -> bytes:
    return field(3, field(1, b"".join(varint(v) for v in values)))


def sequence_example(vid: str, start: float, end: float, labels: list[int], frames: np.ndarray) -> bytes:
    context = {
        "video_id": feature_bytes([vid.encode()]),
        "start_time_seconds": feature_floats([start]),
        "end_time_seconds": feature_floats([end]),
        "labels": feature_ints(labels),
    }
    ctx = b"".join(field(1, field(1, k.encode()) + field(2, v)) for k, v in context.items())
    flist = b"".join(field(1, feature_bytes([row.tobytes()])) for row in frames)
    lists = field(1, field(1, b"audio_embedding") + field(2, flist))
    return field(1, ctx) + field(2, lists)


def tf_record(data: bytes) -> bytes:
    length = struct.pack("<Q", len(data))
    return length + struct.pack("<I", masked(length)) + data + struct.pack("<I", masked(data))


SEGMENTS = [
    ("-0RWZT-miFs", 420.0, 430.0, [0, 137], 10),
    ("--PJHxphWEs", 30.0, 33.0, [526], 3),  # a short segment
    ("_abc-DEF_12", 0.0, 10.0, [5, 6, 7], 10),
]


def _write_shard(path: Path) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 256, (n, 128), dtype=np.uint8) for *_, n in SEGMENTS]
    records = [sequence_example(v, s, e, lab, f) for (v, s, e, lab, _), f in zip(SEGMENTS, frames, strict=True)]
    path.write_bytes(b"".join(tf_record(r) for r in records))
    return frames


def test_reference_crc_is_crc32c():
    assert crc32c_reference(b"123456789") == 0xE3069283  # the CRC-32C check value (RFC 3720)


def test_reader_reads_an_independent_writers_records(tmp_path):
    shard = tmp_path / "-0.tfrecord"
    frames = _write_shard(shard)
    got = list(read_segments(shard))
    assert [(s.video_id, s.start_s, s.end_s, s.labels) for s in got] == [
        (v, s, e, tuple(lab)) for v, s, e, lab, _ in SEGMENTS
    ]
    for seg, want in zip(got, frames, strict=True):
        assert seg.embedding.dtype == np.uint8 and np.array_equal(seg.embedding, want)
    assert got[1].embedding.shape == (3, 128)
    assert frame_record(b"payload") == tf_record(b"payload")  # our framing is TensorFlow's


def test_reader_runs_on_the_pinned_protobuf_and_tfrecord():
    pins = dict(line.split("==") for line in (REPO / "envs/requirements.txt").read_text().splitlines() if "==" in line)
    for name in ("protobuf", "tfrecord", "crc32c"):
        assert version(name) == pins[name], name


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda b: b[:-2], "expected 29 bytes (25 of data, 4 of CRC), found 27 bytes (truncated file)"),
        (lambda b: b[:12] + b"X" + b[13:], "expected the masked CRC32C of the record data"),
        (lambda b: b[:3] + b"\x01" + b[4:], "expected the masked CRC32C of the record length"),
        (lambda b: b + b"\x00" * 5, "expected a 12-byte record header, found 5 bytes at the end of the file"),
    ],
    ids=["truncated", "data-crc", "length-crc", "short-header"],
)
def test_corrupt_records_are_one_line(tmp_path, damage, message):
    path = tmp_path / "--.tfrecord"
    path.write_bytes(damage(tf_record(b"0123456789012345678901234")))
    with pytest.raises(InputError) as err:
        list(read_records(path))
    assert message in str(err.value) and "\n" not in str(err.value) and f"{path}@" in str(err.value)


# --- CSVs -------------------------------------------------------------------------------------------------------------


def _class_index(tmp_path: Path, rows: list[str] | None = None) -> Path:
    path = tmp_path / CLASS_INDEX
    body = rows or [f'{i},/m/0x{i},"Class {i}"' for i in range(N_CLASSES)]
    body[1] = '1,/m/05zppz,"Male speech, man speaking"'
    path.write_text("index,mid,display_name\n" + "\n".join(body) + "\n")
    return path


def test_class_index_reads_quoted_names_with_commas(tmp_path):
    classes = read_class_index(_class_index(tmp_path))
    assert len(classes) == N_CLASSES and classes[1] == ("/m/05zppz", "Male speech, man speaking")


def test_class_index_refuses_a_short_list(tmp_path):
    path = _class_index(tmp_path, [f"{i},/m/0x{i},C{i}" for i in range(5)])
    with pytest.raises(InputError, match=r"class_labels_indices.csv: expected 527 classes, found 5$"):
        read_class_index(path)


HEAD = (
    "# Segments csv created Sun Mar  5 10:54:31 2017\n"
    "# num_ytids=2, num_segs=2, num_unique_labels=3, num_positive_labels=3\n"
    "# YTID, start_seconds, end_seconds, positive_labels\n"
)


def test_segment_csv_quirks(tmp_path):
    path = tmp_path / "eval_segments.csv"
    path.write_text(
        HEAD + '-0RWZT-miFs, 420.000, 430.000, "/m/03v3yw,/m/0k4j"\n--aE2O5G5WE, 0.000, 6.000, "/m/03v3yw"\n'
    )
    rows = read_segments_csv(path, {"/m/03v3yw", "/m/0k4j"})
    assert [(r.ytid, r.start_s, r.end_s, r.mids, r.line) for r in rows] == [
        ("-0RWZT-miFs", 420.0, 430.0, ("/m/03v3yw", "/m/0k4j"), 4),
        ("--aE2O5G5WE", 0.0, 6.0, ("/m/03v3yw",), 5),
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (HEAD.split("\n", 1)[1], ":3: expected 3 header lines starting with '#', found '-0RWZT-miFs, 0.000, 10.000"),
        (HEAD + "-0RWZT-miFs, 0.000, 10.000, /m/03v3yw,/m/0k4j\n", ':4: expected 4 fields YTID, start, end, "labels"'),
        (HEAD + '-0RWZT-miFs, 0.000, 10.000, "/m/zzz"\n', ":4: expected positive labels among the 2 MIDs"),
        (HEAD + '-0RWZT-miFs, ten, 10.000, "/m/0k4j"\n', ":4: expected a number for start_seconds, found 'ten'"),
    ],
    ids=["two-header-lines", "unquoted-labels", "unknown-mid", "bad-start"],
)
def test_segment_csv_errors_are_one_line(tmp_path, text, message):
    path = tmp_path / "eval_segments.csv"
    path.write_text(text + ('-0RWZT-miFs, 0.000, 10.000, "/m/0k4j"\n' if text.count("\n") < 3 else ""))
    with pytest.raises(InputError) as err:
        read_segments_csv(path, {"/m/03v3yw", "/m/0k4j"})
    assert message in str(err.value) and "\n" not in str(err.value)


# --- the stand-in, the index, the manifest ----------------------------------------------------------------------------


def _dataset(tmp_path: Path, params: dict = SMALL) -> tuple[Path, dict]:
    spec = get("audioset")
    manifest = spec.embedded.run(spec, tmp_path / "gen", params)
    extract([tmp_path / "gen" / "features.tar.gz"], tmp_path / "root")
    for name in spec.embedded_archives[1:]:  # where the extract stage places the plain files
        shutil.copy(tmp_path / "gen" / name, tmp_path / "root" / spec.root_name / name)
    return tmp_path / "root", manifest


def test_standin_is_deterministic_and_in_the_real_layout(tmp_path):
    spec = get("audioset")
    a = spec.embedded.run(spec, tmp_path / "a", SMALL)
    b = spec.embedded.run(spec, tmp_path / "b", SMALL)
    assert a["archives"] == b["archives"]
    assert [x["name"] for x in a["archives"]] == ["features.tar.gz", *CSV_FILES.values(), CLASS_INDEX]
    with tarfile.open(tmp_path / "a" / "features.tar.gz") as tf:
        names = [m.name for m in tf.getmembers() if m.isfile()]
    assert all(n.startswith("audioset_v1_embeddings/") and n.endswith(".tfrecord") for n in names)
    assert {n.split("/")[1] for n in names} == set(CSV_FILES)
    assert any(n.split("/")[2].startswith("-") for n in names)  # shard names beginning with '-', as the real ones
    assert read_class_index(tmp_path / "a" / CLASS_INDEX)[7][1] == "Stand-in class 7, variant 1"


def test_standin_params_fit_the_schema():
    import jsonschema
    import yaml

    schema = yaml.safe_load((REPO / "config/schema.yaml").read_text())
    embedded = {**schema["$defs"]["dataset"]["properties"]["embedded"], "$defs": schema["$defs"]}
    jsonschema.validate(DEFAULT_PARAMS, embedded)
    with pytest.raises(jsonschema.ValidationError, match="'n_test' was unexpected"):
        jsonschema.validate({**DEFAULT_PARAMS, "n_test": 3}, embedded)


def test_standin_default_gives_every_class_positives_in_train_and_eval():
    segments = plan(("bal_train", "eval", "unbal_train"), DEFAULT_PARAMS)
    for subset in ("bal_train", "eval"):
        counts = np.bincount([c for s in segments if s.subset == subset for c in s.labels], minlength=N_CLASSES)
        assert counts.min() >= 3, subset


def test_standin_embeddings_carry_class_structure():
    """Two segments of each of 20 classes: each one's nearest neighbour (mean over frames) is its twin."""
    twins = [PlannedSegment("eval", f"v{c}{k}", 0.0, (c,), 10, False) for c in range(0, 400, 20) for k in range(2)]
    emb = np.stack([dequantise(e, "vggish").mean(axis=0) for e in embeddings(twins, DEFAULT_PARAMS)])
    dist = np.linalg.norm(emb[:, None] - emb[None], axis=-1) + np.diag(np.full(len(emb), np.inf))
    assert (dist.argmin(axis=1) == np.arange(len(emb)) ^ 1).all()


def test_index_manifest_and_label_agreement(tmp_path):
    root, _ = _dataset(tmp_path)
    # a segment the TFRecords hold but no CSV lists: drop the last data row of eval_segments.csv
    csv_path = root / ROOT_NAME / CSV_FILES["eval"]
    lines = csv_path.read_text().splitlines(keepends=True)
    dropped = lines[-1].split(",")[0]
    csv_path.write_text("".join(lines[:-1]))
    index = get("audioset").index(root)
    subsets = index.notes["subsets"]
    segments = plan(("bal_train", "eval", "unbal_train"), SMALL)
    for subset, n in (("bal_train", 40), ("eval", 30), ("unbal_train", 50)):
        missing = sum(s.missing for s in segments if s.subset == subset)
        listed = n - (subset == "eval")
        gone = missing - (subset == "eval" and any(s.ytid == dropped and s.missing for s in segments))
        assert subsets[subset]["listed"] == listed and subsets[subset]["missing"] == gone
        assert subsets[subset]["present"] == listed - gone == int((index.files.split == subset).sum())
        assert subsets[subset]["labels_checked"] == subsets[subset]["present"]
    assert subsets["eval"]["unlisted"] == (0 if any(s.ytid == dropped and s.missing for s in segments) else 1)
    short = sum(s.n_frames < 10 and not s.missing for s in segments if s.subset == "bal_train")
    assert subsets["bal_train"]["shorter_than_10_frames"] == short > 0  # every 10th segment, less missing ones
    counts = index.manifest.groupby(["subset", "status"]).size().to_dict()
    assert counts[("bal_train", "present")] == subsets["bal_train"]["present"]
    # tags are whole-clip events labelled by class index; every present segment has an embedding file
    by_id = {s.ytid: s for s in segments}
    for fid, group in index.events.groupby("file_id"):
        seg = by_id[fid.rsplit("_", 1)[0]]
        assert sorted(group.label.astype(int)) == list(seg.labels)
        assert (group.onset == 0).all() and (group.offset == seg.n_frames).all()
    assert all((root / ROOT_NAME / a).is_file() for a in index.files.audio)
    # the frame store holds each present segment's frames as the stand-in made them, one array per subset
    store = FrameStore.open(root / ROOT_NAME / "embeddings", 128)
    store.verify()
    assert sorted(store.arrays) == sorted(CSV_FILES) and set(store.where) == set(index.files.file_id)
    planned = {(s.subset, s.ytid): e for s, e in zip(segments, embeddings(segments, SMALL), strict=True)}
    for fid, subset in zip(index.files.file_id, index.files.split, strict=True):
        assert np.array_equal(store.frames(fid), planned[subset, fid.rsplit("_", 1)[0]])
    index.write(tmp_path / "index")
    assert json.loads((tmp_path / "index" / "index.json").read_text())["subsets"]["eval"]["listed"] == 29


def test_labels_disagreeing_with_the_csv_stop_the_index(tmp_path):
    root, _ = _dataset(tmp_path)
    csv_path = root / ROOT_NAME / CSV_FILES["bal_train"]
    lines = csv_path.read_text().splitlines(keepends=True)
    vid = lines[3].split(",")[0]
    lines[3] = lines[3].rsplit('"', 2)[0] + '"/m/0s000,/m/0s001"\n'
    csv_path.write_text("".join(lines))
    segment = next(s for s in plan(("bal_train", "eval", "unbal_train"), SMALL) if s.ytid == vid)
    if segment.missing:
        pytest.skip("the first bal_train row is a missing segment with this seed")
    with pytest.raises(InputError) as err:
        get("audioset").index(root)
    message = str(err.value)
    assert f"expected the labels of balanced_train_segments.csv:4 ({vid}_" in message
    assert f"through class_labels_indices.csv: [0, 1], found {list(segment.labels)}" in message


# --- the uint8 store, dequantisation, padding -------------------------------------------------------------------------


def test_dequantisation_formulas_both_ways():
    q = np.array([0, 1, 127, 128, 254, 255], dtype=np.uint8)
    assert np.allclose(dequantise(q, "vggish"), q / 255.0 * 4.0 - 2.0, atol=1e-6)
    assert np.allclose(dequantise(q, "centred"), (q.astype(np.float64) - 128.0) / 128.0, atol=1e-7)
    assert dequantise(q, "vggish")[[0, -1]].tolist() == [-2.0, 2.0]
    x = np.linspace(-2.5, 2.5, 1001)
    back = dequantise(quantise(x), "vggish")  # VGGish truncates: the inverse is below x by less than one step
    assert np.all(back <= np.clip(x, -2, 2) + 1e-6) and np.all(np.clip(x, -2, 2) - back < 4 / 255 + 1e-6)
    assert set(DEQUANTISE) == {"vggish", "centred"}


def test_uint8_store_from_the_index_and_short_segments_padded(tmp_path):
    root, _ = _dataset(tmp_path)
    get("audioset").index(root).write(tmp_path / "index")
    cfg = FeatureConfig.from_dict(
        {"kind": "precomputed", "path": "embeddings", "hop_s": 1.0, "n_features": 128, "store": "uint8",
         "dequantise": "vggish"}
    )  # fmt: skip
    frames = extract_precomputed(tmp_path / "index", root / ROOT_NAME, tmp_path / "features", cfg)
    store = np.load(tmp_path / "features" / "features.npy")
    info = json.loads((tmp_path / "features" / "features.json").read_text())
    assert store.dtype == np.uint8 and info["store"] == "uint8" and info["dequantise"] == "vggish"
    assert store.nbytes == frames.n_frames.sum() * 128  # one byte per value
    short = frames[frames.n_frames < 10].iloc[0]
    seg = store[short.start : short.start + short.n_frames]
    for pad, tail in (("repeat", seg[-1]), ("zeros", None)):
        data = SplitData(store, np.zeros((len(store), 1), np.uint8), {}, np.float32(0), np.float32(1), 10, ["c"], 1.0)
        data.pad = pad
        x, _ = data.gather(np.array([short.start]), np.array([short.n_frames]))
        assert np.array_equal(x[0, : short.n_frames].numpy(), seg.astype(np.float32))
        past = x[0, short.n_frames :].numpy()
        assert np.array_equal(
            past, np.broadcast_to(tail.astype(np.float32), past.shape) if tail is not None else 0 * past
        )


def test_store_uint8_refuses_float_features(tmp_path):
    root = tmp_path / "root"
    (root / "emb").mkdir(parents=True)
    np.save(root / "emb" / "a.npy", np.zeros((2, 4), np.float32))
    (tmp_path / "index").mkdir()
    pd.DataFrame({"file_id": ["a"], "split": ["eval"], "audio": [""], "annotation": [""], "duration_s": [2.0]}).to_csv(
        tmp_path / "index" / "files.tsv", sep="\t", index=False
    )
    cfg = FeatureConfig.from_dict(
        {"kind": "precomputed", "path": "emb", "hop_s": 1.0, "n_features": 4, "store": "uint8"}
    )
    with pytest.raises(
        InputError, match=r"a.npy: expected 8-bit values \(dtype uint8\) for store uint8, found dtype float32$"
    ):
        extract_precomputed(tmp_path / "index", root, tmp_path / "out", cfg)
    assert not (tmp_path / "out" / "features.npy").exists()


def test_dequantise_needs_a_uint8_store():
    with pytest.raises(
        InputError, match=r"expected one of vggish, centred with store uint8, found 'vggish' \(store float32\)"
    ):
        FeatureConfig.from_dict(
            {"kind": "precomputed", "path": "e", "hop_s": 1.0, "n_features": 4, "dequantise": "vggish"}
        )


def test_standin_through_the_generic_dispatch_and_the_checksummed_download(tmp_path):
    """The embedded CLI reaches the stand-in through the spec; each of its files passes the download's sha256 check,
    and a changed byte fails it."""
    import argparse

    from sedrepro import download
    from sedrepro.datasets import embedded

    embedded.main(argparse.Namespace(dataset="audioset", out=str(tmp_path / "gen"), params=SMALL))
    manifest = tmp_path / "gen" / "manifest.json"
    names = [a["name"] for a in json.loads(manifest.read_text())["archives"]]
    assert names == list(get("audioset").embedded_archives)
    for name in names:
        args = argparse.Namespace(manifest=str(manifest), out=str(tmp_path / "dl" / name), retries=None, backoff_s=None)
        download.main(args)
        assert (tmp_path / "dl" / name).read_bytes() == (tmp_path / "gen" / name).read_bytes()
    csv_path = tmp_path / "gen" / CSV_FILES["eval"]
    csv_path.write_bytes(csv_path.read_bytes().replace(b"0.000", b"1.000", 1))
    name = CSV_FILES["eval"]
    with pytest.raises(InputError, match="sha256"):
        download.main(
            argparse.Namespace(manifest=str(manifest), out=str(tmp_path / "dl2" / name), retries=None, backoff_s=None)
        )
