"""The frame store (per-set arrays + offsets table): round trip, replacement, and one-line stops on a truncated or
corrupted store, through the precomputed feature kind (no features.npy written)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sedrepro.features import FeatureConfig, extract_precomputed
from sedrepro.frame_store import STORE_INFO, STORE_TABLE, FrameStore, StoreWriter, is_store
from sedrepro.io import InputError, read_json

CLIPS = {"-a": ("bal_train", 10), "b_0": ("bal_train", 3), "-c": ("eval", 10), "d": ("eval", 1)}


def _frames(fid: str, n: int) -> np.ndarray:
    return np.random.default_rng(len(fid) + n + ord(fid[-1])).integers(0, 256, (n, 4), dtype=np.uint8)


def _store(folder: Path) -> Path:
    with StoreWriter(folder, 4, np.uint8) as w:
        for fid, (array, n) in CLIPS.items():
            w.add(array, fid, _frames(fid, n))
    return folder


def _index(tmp_path: Path, ids=tuple(CLIPS)) -> Path:
    (tmp_path / "index").mkdir(exist_ok=True)
    files = pd.DataFrame({"file_id": list(ids), "split": [CLIPS[i][0] for i in ids]})
    files.assign(audio="", annotation="", duration_s=1.0).to_csv(tmp_path / "index/files.tsv", sep="\t", index=False)
    return tmp_path / "index"


CFG = {"kind": "precomputed", "path": "emb", "hop_s": 1.0, "n_features": 4, "store": "uint8"}


def test_round_trip_per_set_arrays(tmp_path):
    folder = _store(tmp_path / "root/emb")
    assert is_store(folder) and sorted(p.name for p in folder.iterdir()) == [
        "bal_train.npy", "eval.npy", STORE_INFO, STORE_TABLE
    ]  # fmt: skip
    store = FrameStore.open(folder, 4)
    store.verify()
    assert {k: v.shape for k, v in store.arrays.items()} == {"bal_train": (13, 4), "eval": (11, 4)}
    assert read_json(folder / STORE_INFO)["arrays"]["eval"]["rows"] == 11
    for fid, (_, n) in CLIPS.items():
        assert np.array_equal(store.frames(fid), _frames(fid, n))
    # the features stage reads it in files.tsv's order (not the store's)
    order = ["d", "-a", "-c", "b_0"]
    frames = extract_precomputed(
        _index(tmp_path, order), tmp_path / "root", tmp_path / "out", FeatureConfig.from_dict(CFG)
    )
    feats = np.load(tmp_path / "out/features.npy")
    assert frames.n_frames.tolist() == [1, 10, 10, 3] and feats.dtype == np.uint8
    for fid, start, n in zip(frames.file_id, frames.start, frames.n_frames, strict=True):
        assert np.array_equal(feats[start : start + n], _frames(fid, n))


def test_a_new_store_replaces_the_old_and_a_failed_write_leaves_it(tmp_path):
    folder = _store(tmp_path / "emb")
    (folder / "stale.npy").write_bytes(b"left by an older run")
    with StoreWriter(folder, 4, np.uint8) as w:
        w.add("eval", "x", np.zeros((2, 4), np.uint8))
    assert sorted(FrameStore.open(folder, 4).where) == ["x"] and not (folder / "stale.npy").exists()
    with pytest.raises(ValueError, match="width 4"), StoreWriter(folder, 4, np.uint8) as w:
        w.add("eval", "y", np.zeros((2, 4), np.uint8))
        w.add("eval", "z", np.zeros((2, 5), np.uint8))
    assert sorted(FrameStore.open(folder, 4).where) == ["x"]
    assert [p.name for p in tmp_path.iterdir()] == ["emb"]  # no temp folder left


def _damage_truncate(folder: Path) -> str:
    path = folder / "eval.npy"
    path.write_bytes(path.read_bytes()[:-5])
    return r"eval.npy: expected a complete .npy array, found mmap length is greater than file size"


def _damage_flip(folder: Path) -> str:
    path = folder / "bal_train.npy"
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    return (
        r"bal_train.npy: expected sha256 [0-9a-f]{64} of its data \(store.json\), found sha256 [0-9a-f]{64} \(corrupted"
    )


def _damage_rows(folder: Path) -> str:
    table = (folder / STORE_TABLE).read_text().replace("eval\t10\t1", "eval\t10\t2")
    (folder / STORE_TABLE).write_text(table)
    return r"store.tsv:5: expected rows within eval.npy \(11 rows\), found start 10, 2 frames"


def _damage_header(folder: Path) -> str:
    path = folder / "eval.npy"
    path.write_bytes(b"\x93NUMPY garbage" + path.read_bytes()[14:])
    return r"eval.npy: expected a complete .npy array, found"


def _damage_info(folder: Path) -> str:
    (folder / STORE_INFO).unlink()
    return r"store.json: expected the store's array list \(written with store.tsv\), found no such file"


@pytest.mark.parametrize(
    "damage", [_damage_truncate, _damage_flip, _damage_rows, _damage_header, _damage_info],
    ids=["truncated", "corrupted", "rows-past-the-end", "header", "no-store-json"],
)  # fmt: skip
def test_a_damaged_store_stops_the_features_stage_with_one_line(tmp_path, damage):
    pattern = damage(_store(tmp_path / "root/emb"))
    with pytest.raises(InputError, match=pattern) as err:
        extract_precomputed(_index(tmp_path), tmp_path / "root", tmp_path / "out", FeatureConfig.from_dict(CFG))
    assert "\n" not in str(err.value)
    assert not (tmp_path / "out/features.npy").exists()


def test_a_clip_the_store_lacks_and_a_store_of_another_width_stop(tmp_path):
    _store(tmp_path / "root/emb")
    (tmp_path / "index").mkdir()
    pd.DataFrame({"file_id": ["-a", "gone"], "split": ["eval", "eval"]}).to_csv(
        tmp_path / "index/files.tsv", sep="\t", index=False
    )
    with pytest.raises(
        InputError, match=r"emb/store.tsv: expected a row for clip gone \(files.tsv lists it\), found none$"
    ):
        extract_precomputed(tmp_path / "index", tmp_path / "root", tmp_path / "out", FeatureConfig.from_dict(CFG))
    wide = FeatureConfig.from_dict({**CFG, "n_features": 128})
    with pytest.raises(
        InputError, match=r"store.json: arrays/bal_train/width: expected 128 features a frame \(config\), found 4"
    ):
        extract_precomputed(tmp_path / "index", tmp_path / "root", tmp_path / "out", wide)
    assert not (tmp_path / "out/features.npy").exists()


def test_store_uint8_refuses_a_float_store(tmp_path):
    with StoreWriter(tmp_path / "root/emb", 4, np.float32) as w:
        w.add("eval", "-a", np.full((2, 4), 0.5, np.float32))
    _index(tmp_path, ["-a"])
    with pytest.raises(InputError, match=r"eval.npy rows 0..1 \(-a\): expected 8-bit values \(dtype uint8\)"):
        extract_precomputed(tmp_path / "index", tmp_path / "root", tmp_path / "out", FeatureConfig.from_dict(CFG))
    float_cfg = FeatureConfig.from_dict({k: v for k, v in CFG.items() if k != "store"})
    extract_precomputed(tmp_path / "index", tmp_path / "root", tmp_path / "out", float_cfg)
    assert np.load(tmp_path / "out/features.npy").tolist() == [[0.5] * 4] * 2


def test_an_empty_store_opens_and_a_non_integer_row_stops(tmp_path):
    with StoreWriter(tmp_path / "empty", 4, np.uint8):
        pass
    assert FrameStore.open(tmp_path / "empty", 4).where == {}
    folder = _store(tmp_path / "emb")
    (folder / STORE_TABLE).write_text((folder / STORE_TABLE).read_text().replace("eval\t10\t1", "eval\tten\t1"))
    with pytest.raises(InputError, match=r"emb/store.tsv: expected integers in column start, found dtype object$"):
        FrameStore.open(folder, 4)
