"""An 8-bit feature store is read as numbers by the splits stage (statistics) and by the batch reader alike."""

from __future__ import annotations

import numpy as np
import pandas as pd

from sedrepro import splits
from sedrepro.data import SplitData
from sedrepro.io import save_npy, write_json
from sedrepro.quantise import DEQUANTISE, Dequantised, dequantise, open_store


def _store(tmp_path, rule):
    rng = np.random.default_rng(0)
    q = rng.integers(0, 256, size=(20, 4), dtype=np.uint8)
    save_npy(tmp_path / "features.npy", q)
    info = {"kind": "precomputed", "hop_s": 0.96, "n_features": 4, "store": "uint8", "total_frames": 20}
    write_json(tmp_path / "features.json", info if rule is None else {**info, "dequantise": rule})
    return q


def test_the_formulas_are_the_stated_ones():
    q = np.array([0, 128, 255], dtype=np.uint8)
    np.testing.assert_allclose(dequantise(q, "vggish"), [-2.0, 128 * 4 / 255 - 2, 2.0], rtol=0, atol=1e-6)
    np.testing.assert_allclose(dequantise(q, "centred"), [-1.0, 0.0, 127 / 128], rtol=0, atol=1e-7)
    assert set(DEQUANTISE) == {"vggish", "centred"}


def test_a_uint8_store_is_dequantised_for_statistics_and_batches(tmp_path):
    q = _store(tmp_path, "vggish")
    store = open_store(tmp_path)
    assert isinstance(store, Dequantised) and store.shape == (20, 4)
    x = dequantise(q, "vggish")
    np.testing.assert_array_equal(store[3:7], x[3:7])
    rows = np.array([[1, 2], [5, 5]])
    np.testing.assert_array_equal(store[rows], x[rows])  # (B, L, F) as the batch reader selects them
    frames = pd.DataFrame({"split": ["train", "train"], "start": [0, 10], "n_frames": [10, 10]})
    norm = splits.normalisation(store, frames, "global", ("train",))
    assert np.isclose(norm["mean"][0], x.astype(np.float64).mean())  # not the mean of the raw bytes
    assert norm["mean"][0] < 2.5  # raw 8-bit values would average about 127


def test_a_store_without_a_rule_reads_as_it_is(tmp_path):
    q = _store(tmp_path, None)
    assert open_store(tmp_path).dtype == np.uint8 and np.array_equal(open_store(tmp_path), q)


def test_split_data_batches_carry_dequantised_values(tmp_path):
    q = _store(tmp_path, "centred")
    sdir = tmp_path / "splits"
    sdir.mkdir()
    save_npy(sdir / "labels.npy", np.zeros((20, 2), dtype=np.uint8))
    np.savez(sdir / "chunks.npz", train=np.array([[0, 10], [10, 10]]), validate=np.array([[0, 10]]))
    write_json(sdir / "norm.json", {"mode": "none", "mean": [0.0], "std": [1.0], "frames": 20})
    write_json(sdir / "splits.json", {"chunk_frames": 10, "classes": ["a", "b"], "frame_hop_s": 0.96})
    data = SplitData.load(tmp_path, sdir)
    x, _ = data.gather(np.array([10]), np.array([10]))
    np.testing.assert_allclose(x[0].numpy(), dequantise(q[10:20], "centred"))
