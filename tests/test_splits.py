"""Frame labels, chunking and training-only normalisation."""

import numpy as np
import pandas as pd

from sedrepro.splits import chunk_starts, frame_labels, normalisation


def test_frame_labels_use_frame_centres():
    frames = pd.DataFrame({"file_id": ["a", "b"], "start": [0, 10], "n_frames": [10, 5]})
    events = pd.DataFrame(
        {"file_id": ["a", "b", "b"], "onset": [0.25, 0.0, 0.4], "offset": [0.5, 0.1, 9.0], "label": ["x", "y", "x"]}
    )
    labels = frame_labels(events, frames, ("x", "y"), hop_s=0.1)
    # file a: centres 0.0..0.9; 0.25 <= t < 0.5 -> frames 3, 4
    assert labels[:10, 0].nonzero()[0].tolist() == [3, 4]
    # file b: y on frame 0 only; x from 0.4 to past the end -> frames 4 (last)
    assert labels[10:, 1].nonzero()[0].tolist() == [0]
    assert labels[10:, 0].nonzero()[0].tolist() == [4]


def test_chunks_cover_the_tail_and_short_clips():
    c = chunk_starts(100, 10, 4, 3)
    assert c[:, 0].tolist() == [100, 103, 106] and (c[:, 1] == 4).all()
    c = chunk_starts(100, 11, 4, 3)
    assert c[:, 0].tolist() == [100, 103, 106, 107]
    assert chunk_starts(5, 3, 4, 2).tolist() == [[5, 3]]


def test_normalisation_uses_training_frames_only():
    rng = np.random.default_rng(0)
    feats = rng.standard_normal((30, 4)).astype(np.float32)
    feats[20:] += 100  # test frames far away: must not move the statistics
    frames = pd.DataFrame(
        {
            "file_id": ["a", "b", "c"],
            "split": ["train", "train", "test"],
            "start": [0, 10, 20],
            "n_frames": [10, 10, 10],
        }
    )
    g = normalisation(feats, frames, "global")
    assert np.isclose(g["mean"][0], feats[:20].astype(np.float64).mean())
    assert np.isclose(g["std"][0], feats[:20].astype(np.float64).std())
    b = normalisation(feats, frames, "per_band")
    assert np.allclose(b["mean"], feats[:20].mean(axis=0), atol=1e-6)
