"""Pipeline-dependent stages: split protocols, padded chunks, clip targets (train, predict, score) without Snakemake."""

import json

import numpy as np
import pandas as pd
import pytest
from metrics_doc import default_scoring

from sedrepro import config as sconfig
from sedrepro import results
from sedrepro.data import SplitData
from sedrepro.evaluate import SetInputs, Settings, score_predictions
from sedrepro.io import InputError, save_npy, write_json, write_tsv
from sedrepro.predict import predict_run
from sedrepro.splits import assign_splits, chunk_frames, chunk_starts
from sedrepro.train import train

SETTINGS = Settings.from_config(default_scoring())


def test_padded_tail_chunks_cover_each_frame_once():
    c = chunk_starts(100, 2500, 1024, 1024, "pad")
    assert c.tolist() == [[100, 1024], [1124, 1024], [2148, 452]]  # 452 valid frames, 572 padded
    assert chunk_starts(0, 1024, 1024, 1024, "pad").tolist() == [[0, 1024]]
    with pytest.raises(InputError, match="flush or pad"):
        chunk_starts(0, 2000, 1024, 1024, "wrap")


def test_chunk_size_in_seconds_or_frames():
    assert chunk_frames({"length_s": 2.0, "hop_s": 0.5}, 256 / 22050) == (172, 43)
    assert chunk_frames({"length_frames": 1024, "hop_frames": 1024}, 220 / 22050) == (1024, 1024)


def test_split_protocols():
    us8k = pd.DataFrame(
        {"file_id": [f"c{i:02d}" for i in range(50)], "split": [f"fold{i % 10 + 1}" for i in range(50)]}
    )
    paper = assign_splits("urbansound8k", us8k, {"protocol": "paper", "seed": 0, "test_fold": 10})
    assert paper.value_counts().to_dict() == {"train": 30, "validate": 10, "test": 10}
    official = assign_splits("urbansound8k", us8k, {"protocol": "official", "seed": 0, "test_fold": 3})
    assert set(official[us8k.file_id[us8k.split == "fold3"]]) == {"test"}
    assert set(official[us8k.file_id[us8k.split == "fold4"]]) == {"validate"}
    # the paper protocol on a dataset with its own split: the same seeded draw, ignoring that split
    ten = pd.DataFrame({"file_id": [f"f{i}" for i in range(10)], "split": "train"})
    drawn = assign_splits("tut_sed_synthetic_2016", ten, {"protocol": "paper", "seed": 3, "test_fold": 10})
    assert drawn.value_counts().to_dict() == {"train": 6, "validate": 2, "test": 2}
    ten_us8k = ten.assign(split="fold1")
    assert drawn.equals(assign_splits("urbansound8k", ten_us8k, {"protocol": "paper", "seed": 3, "test_fold": 10}))
    shuffled = ten.sample(frac=1.0, random_state=0)
    assert (
        shuffled.file_id.map(drawn).tolist()
        == assign_splits("tut_sed_synthetic_2016", shuffled, {"protocol": "paper", "seed": 3, "test_fold": 10}).tolist()
    )  # order-free
    tut = pd.DataFrame({"file_id": ["a", "b", "c"], "split": ["train", "validate", "test"]})
    assert assign_splits(
        "tut_sed_synthetic_2016", tut, {"protocol": "official", "seed": 0, "test_fold": 10}
    ).tolist() == ["train", "validate", "test"]


def test_every_model_names_a_defined_pipeline_and_overrides_merge():
    cfg = sconfig.load([sconfig.REPO / "config.yaml"])
    for model in cfg["models"]:
        assert sconfig.model_pipeline(cfg, model) in cfg["pipelines"]
        if "ensemble" in cfg["models"][model]:
            continue  # an ensemble's pipeline is its members'; it has no network
        arch = sconfig.model_config(cfg, model)
        assert not set(arch) & set(sconfig.MODEL_CONTEXT_KEYS)
    assert sconfig.model_training(cfg, "dnd_baseline")["batch_size"] == 16  # the dessed paper's batch
    assert sconfig.model_training(cfg, "crnn_uni")["batch_size"] == cfg["training"]["batch_size"]
    assert sconfig.model_evaluation(cfg, "mono_baseline")["n_checkpoints"] == 1
    with pytest.raises(InputError, match="models/nope"):
        sconfig.model_training(cfg, "nope")


def test_clip_scores_hand_computed():
    probs = np.array([[0.9, 0.1, 0.0], [0.2, 0.7, 0.1], [0.6, 0.3, 0.1], [0.1, 0.1, 0.8]])
    ref = {f"c{i}": [{"onset": 0.0, "offset": 1.0, "event_label": label}] for i, label in enumerate("abbc")}
    x = SetInputs("clip", ["a", "b", "c"], 0.1, list(ref), np.arange(5), probs, ref, dict.fromkeys(ref, 1.0), SETTINGS)
    scores = {m.name: m.compute(x, {}) for m, _ in SETTINGS.metrics_for("clip")}
    f1 = scores["clip_f1"]
    assert scores["accuracy"] == pytest.approx(0.75) and scores["micro_f1"] == pytest.approx(0.75)
    assert f1["a"] == pytest.approx(100 * 2 / 3)  # TP 1, FP 1
    assert f1["b"] == pytest.approx(100 * 2 / 3)  # TP 1, FN 1
    assert f1["c"] == pytest.approx(100.0)
    assert f1["Average"] == pytest.approx(100 * (2 / 3 + 2 / 3 + 1) / 3) and f1["Overall"] == pytest.approx(75.0)
    assert scores["loss"] == pytest.approx(-np.mean(np.log([0.9, 0.7, 0.3, 0.8])))


@pytest.fixture
def clips(tmp_path):
    """12 clips of 3 classes; class k lights up bands 2k..2k+1; clips of 5-9 frames, zero-padded to 8 (one truncated)."""
    rng = np.random.default_rng(1)
    lengths = [5, 6, 7, 8, 9, 6, 5, 7, 8, 6, 7, 5]
    label = [i % 3 for i in range(12)]
    split = ["train"] * 6 + ["validate"] * 3 + ["test"] * 3
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    feats = rng.standard_normal((sum(lengths), 6)).astype(np.float32)
    labels = np.zeros((sum(lengths), 3), dtype=np.uint8)
    for s, n, k in zip(starts, lengths, label, strict=True):
        feats[s : s + n, 2 * k : 2 * k + 2] += 4
        labels[s : s + n, k] = 1
    fdir, sdir, idx = tmp_path / "f", tmp_path / "s", tmp_path / "idx"
    ids = [f"clip{i}" for i in range(12)]
    save_npy(fdir / "features.npy", feats)
    frames = pd.DataFrame({"file_id": ids, "split": "fold1", "start": starts, "n_frames": lengths})
    write_tsv(fdir / "frames.tsv", frames)
    write_tsv(sdir / "assignment.tsv", pd.DataFrame({"file_id": ids, "split": split}))
    save_npy(sdir / "labels.npy", labels)
    chunks = {
        sp: np.array([[s, min(n, 8)] for s, n, x in zip(starts, lengths, split, strict=True) if x == sp])
        for sp in ("train", "validate", "test")
    }
    with open(sdir / "chunks.npz", "wb") as fh:
        np.savez(fh, **chunks)
    write_json(sdir / "norm.json", {"mode": "none", "mean": [0.0], "std": [1.0], "frames": 0})
    write_json(
        sdir / "splits.json",
        {
            "classes": ["a", "b", "c"],
            "chunk_frames": 8,
            "hop_frames": 8,
            "frame_hop_s": 0.1,
            "target": "clip",
            "pad": "zeros",
            "tail": "pad",
        },
    )
    write_tsv(idx / "files.tsv", pd.DataFrame({"file_id": ids, "split": "fold1", "duration_s": 1.0}))
    write_tsv(
        idx / "events.tsv",
        pd.DataFrame({"file_id": ids, "onset": 0.0, "offset": 1.0, "label": [["a", "b", "c"][k] for k in label]}),
    )
    return tmp_path, fdir, sdir, idx, feats, starts


def test_zero_padding_and_clip_labels(clips):
    _, fdir, sdir, _, feats, starts = clips
    data = SplitData.load(fdir, sdir)
    x, y = data.gather(np.array([starts[0], starts[4]]), np.array([5, 8]))  # 5-frame clip, 9-frame clip cut at 8
    assert x.shape == (2, 8, 6) and y.tolist() == [0, 1]
    assert np.array_equal(x[0, :5].numpy(), feats[:5]) and not x[0, 5:].any()
    assert np.array_equal(x[1].numpy(), feats[starts[4] : starts[4] + 8])


MONO = {
    "name": "mono_baseline",
    "architecture": "dnd",
    "kind": "mono_baseline",
    "cnn": {
        "channels": 4,
        "kernel_size": 3,
        "pool_freq": [2, 3],
        "dropout": 0.0,
        "spatial_dropout": False,
        "separable_style": "official",
        "pointwise_kernel_size": 1,
    },
    "gru": {"hidden_size": 8},
    "dilated": None,
}


def test_clip_target_trains_predicts_and_scores(clips, monkeypatch):
    monkeypatch.setattr("sedrepro.evaluate._dataset_classes", lambda name: ["a", "b", "c"])  # a toy dataset
    tmp, fdir, sdir, idx, _, _ = clips
    training = {"max_epochs": 25, "batch_size": 4, "learning_rate": 0.02, "patience": 25, "device": "cpu"}
    summary = train(tmp / "run", fdir, sdir, MONO, training, seed=0)
    history = pd.read_csv(tmp / "run" / "history.csv")
    assert {"train_accuracy", "val_accuracy"} <= set(history.columns)
    assert summary["target"] == "clip" and summary["checkpoint_bytes"] > 0 and summary["train_time_s"] > 0
    assert summary["device_name"].startswith("cpu: ")
    assert history.val_loss.min() < history.val_loss.iloc[0]
    epochs = predict_run(tmp / "run", fdir, sdir, tmp / "pred", MONO, 1, "best_val_loss", 4, "cpu", ["test"])
    with np.load(tmp / "pred" / "test" / f"epoch{epochs[0]:03d}.npz") as z:
        assert z["probs"].shape == (3, 3) and str(z["target"]) == "clip"
        assert np.allclose(z["probs"].sum(axis=1), 1.0, atol=1e-5)
    doc = score_predictions(
        tmp / "pred", idx, SETTINGS, "toy", "mono_baseline", 0, {"test": ["clip9", "clip10", "clip11"]}
    )
    test = doc["sets"]["test"]
    assert doc["target"] == "clip" and set(test["metrics"]) == {"clip_f1", "accuracy", "loss", "micro_f1"}
    assert results.values(doc, "clip_f1", "test", "Overall") == [
        pytest.approx(100 * results.values(doc, "accuracy", "test")[0])
    ]
    assert results.trivial(doc, "clip_f1", "test", "Overall") == pytest.approx(100 / 3)  # majority class: 1 of 3 clips
    json.dumps(doc)  # metrics.json must serialise
