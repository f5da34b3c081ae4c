"""Training and prediction on a tiny learnable problem built in a temporary folder (no Snakemake)."""

import json

import numpy as np
import pandas as pd
import pytest

from sedrepro.io import InputError, save_npy, write_json, write_tsv
from sedrepro.predict import predict_run, select_epochs
from sedrepro.train import TrainingDiverged, train

CNN = {
    "channels": [4, 8],
    "kernel_size": 3,
    "pool_time": [1, 2],
    "pool_freq": [2, 2],
    "freq_reduce": "mean",
    "dropout": 0.0,
}
MODEL = {
    "name": "crnn_uni",
    "architecture": "crnn",
    "cnn": CNN,
    "rnn": {"cell": "lstm", "hidden_size": 8, "bidirectional": False, "hyper": None},
}
TRAINING = {"max_epochs": 3, "batch_size": 8, "learning_rate": 0.01, "patience": 5, "device": "cpu"}


@pytest.fixture
def prepared(tmp_path):
    """Features where class 0 lights up band 0-3 and class 1 band 8-11; 3 clips per split of 40 frames."""
    rng = np.random.default_rng(0)
    n_clips, n_frames, n_mels = 9, 40, 16
    feats = rng.standard_normal((n_clips * n_frames, n_mels)).astype(np.float32)
    labels = (rng.random((n_clips * n_frames, 2)) < 0.3).astype(np.uint8)
    feats[:, :4] += 3 * labels[:, :1]
    feats[:, 8:12] += 3 * labels[:, 1:]
    splits = np.repeat(["train", "validate", "test"], 3)
    fdir, sdir = tmp_path / "features", tmp_path / "splits"
    save_npy(fdir / "features.npy", feats)
    frames = pd.DataFrame(
        {
            "file_id": [f"c{i}" for i in range(n_clips)],
            "split": splits,
            "start": np.arange(n_clips) * n_frames,
            "n_frames": n_frames,
        }
    )
    write_tsv(fdir / "frames.tsv", frames)
    save_npy(sdir / "labels.npy", labels)
    write_tsv(sdir / "assignment.tsv", frames[["file_id", "split"]])
    chunks = {
        s: np.array([[int(st) + o, 16] for st in frames[frames.split == s].start for o in (0, 12, 24)])
        for s in ["train", "validate", "test"]
    }
    with open(sdir / "chunks.npz", "wb") as fh:
        np.savez(fh, **chunks)
    write_json(sdir / "norm.json", {"mode": "global", "mean": [0.0], "std": [1.0], "frames": 120})
    write_json(sdir / "splits.json", {"classes": ["a", "b"], "chunk_frames": 16, "hop_frames": 12, "frame_hop_s": 0.1})
    return tmp_path, fdir, sdir


def test_training_is_deterministic_and_learns(prepared):
    tmp, fdir, sdir = prepared
    a = train(tmp / "run_a", fdir, sdir, MODEL, TRAINING, seed=3)
    train(tmp / "run_b", fdir, sdir, MODEL, TRAINING, seed=3)
    train(tmp / "run_c", fdir, sdir, MODEL, TRAINING, seed=4)
    ha, hb, hc = (pd.read_csv(tmp / r / "history.csv") for r in ["run_a", "run_b", "run_c"])
    cols = ["train_loss", "val_loss", "val_frame_f1"]
    assert ha[cols].equals(hb[cols])
    assert not ha[cols].equals(hc[cols])
    assert ha.val_loss.iloc[-1] < ha.val_loss.iloc[0]
    assert a["epochs"] == 3 and sorted(p.name for p in (tmp / "run_a" / "checkpoints").iterdir()) == [
        "epoch001.pt",
        "epoch002.pt",
        "epoch003.pt",
    ]
    assert json.loads((tmp / "run_a" / "train.json").read_text())["parameters"] == a["parameters"]


def test_interrupted_training_resumes_to_the_same_result(prepared, monkeypatch):
    tmp, fdir, sdir = prepared
    train(tmp / "clean", fdir, sdir, MODEL, TRAINING, seed=1)

    import sedrepro.train as tr

    real_save = tr.save_atomic
    calls = {"n": 0}

    def crash_after_epoch_two(obj, path):
        real_save(obj, path)
        if path.name == "state.pt":
            calls["n"] += 1
            if calls["n"] == 2:
                raise KeyboardInterrupt("simulated kill after epoch 2")

    monkeypatch.setattr(tr, "save_atomic", crash_after_epoch_two)
    with pytest.raises(KeyboardInterrupt):
        train(tmp / "resumed", fdir, sdir, MODEL, TRAINING, seed=1)
    monkeypatch.setattr(tr, "save_atomic", real_save)
    assert not (tmp / "resumed" / "history.csv").exists()  # nothing published half-way
    train(tmp / "resumed", fdir, sdir, MODEL, TRAINING, seed=1)
    clean = pd.read_csv(tmp / "clean" / "history.csv").drop(columns="epoch_time_s")
    resumed = pd.read_csv(tmp / "resumed" / "history.csv").drop(columns="epoch_time_s")
    assert clean.equals(resumed)


def test_nan_loss_stops_with_epoch_and_batch(prepared):
    tmp, fdir, sdir = prepared
    feats = np.load(fdir / "features.npy")
    feats[:] = np.nan
    save_npy(fdir / "features.npy", feats)
    with pytest.raises(TrainingDiverged, match=r"epoch 1, batch 1"):
        train(tmp / "nan", fdir, sdir, MODEL, TRAINING, seed=0)


def test_select_epochs():
    h = pd.DataFrame({"epoch": [1, 2, 3, 4, 5], "val_loss": [0.5, 0.3, 0.4, 0.3, 0.6]})
    assert select_epochs(h, 3, "best_val_loss") == [2, 3, 4]
    assert select_epochs(h, 2, "last") == [4, 5]
    assert select_epochs(h, 10, "best_val_loss") == [1, 2, 3, 4, 5]


def test_select_epochs_by_a_validation_metric():
    """Checkpoints chosen by a metric where higher is better (frame F1, accuracy): the direction is the monitor's."""
    h = pd.DataFrame(
        {"epoch": [1, 2, 3, 4], "val_loss": [0.5, 0.3, 0.4, 0.2], "val_frame_f1": [10.0, 40.0, 40.0, 30.0]}
    )
    assert select_epochs(h, 2, "best_val_frame_f1") == [2, 3]  # ties: earlier first
    assert select_epochs(h, 1, "best_val_frame_f1") == [2]
    assert select_epochs(h, 2, "best_val_loss") == [2, 4]
    with pytest.raises(
        InputError,
        match=r"^history.csv: expected a val_accuracy column for evaluation selection "
        r"best_val_accuracy, found columns epoch, val_loss, val_frame_f1$",
    ):
        select_epochs(h, 2, "best_val_accuracy")
    with pytest.raises(InputError, match="^config key 'evaluation/selection': expected one of last, best_val_loss, "):
        select_epochs(h, 2, "best")


def test_predictions_cover_every_frame_of_each_evaluation_set(prepared):
    tmp, fdir, sdir = prepared
    train(tmp / "run", fdir, sdir, MODEL, TRAINING, seed=0)
    epochs = predict_run(
        tmp / "run", fdir, sdir, tmp / "pred", MODEL, 2, "best_val_loss", 4, "cpu", ["test", "validate"]
    )
    assert len(epochs) == 2
    for name, ids in (("test", ["c6", "c7", "c8"]), ("validate", ["c3", "c4", "c5"])):  # each set its own clips
        z = np.load(tmp / "pred" / name / f"epoch{epochs[0]:03d}.npz")
        assert z["probs"].shape == (3 * 40, 2) and list(z["offsets"]) == [0, 40, 80, 120]
        assert list(z["file_ids"]) == ids and float(z["hop_s"]) == 0.1
        assert ((z["probs"] >= 0) & (z["probs"] <= 1)).all()
    assert json.loads((tmp / "pred" / "selection.json").read_text())["sets"] == ["test", "validate"]
    with pytest.raises(
        InputError, match="^.*assignment.tsv: expected clips in evaluation set 'public_eval', found none$"
    ):
        predict_run(tmp / "run", fdir, sdir, tmp / "pred2", MODEL, 2, "best_val_loss", 4, "cpu", ["public_eval"])


def test_damaged_state_falls_back_to_the_previous_epoch(prepared, caplog, monkeypatch):
    tmp, fdir, sdir = prepared
    train(tmp / "clean", fdir, sdir, MODEL, TRAINING, seed=2)
    run = tmp / "damaged"
    import sedrepro.train as tr

    real_save = tr.save_atomic

    def stop_after_last_state(obj, path):  # killed after epoch 3's state, before publishing
        real_save(obj, path)
        if path.name == "state.pt" and obj["epoch"] == TRAINING["max_epochs"]:
            raise KeyboardInterrupt("simulated kill")

    monkeypatch.setattr(tr, "save_atomic", stop_after_last_state)
    with pytest.raises(KeyboardInterrupt):
        train(run, fdir, sdir, MODEL, TRAINING, seed=2)
    monkeypatch.setattr(tr, "save_atomic", real_save)
    state = run / "work" / "state.pt"
    state.write_bytes(state.read_bytes()[:100])  # truncated: as if the disk lost its tail
    with caplog.at_level("INFO"):
        train(run, fdir, sdir, MODEL, TRAINING, seed=2)
    assert "cannot be read" in caplog.text and "resuming after epoch 2" in caplog.text
    clean = pd.read_csv(tmp / "clean" / "history.csv").drop(columns="epoch_time_s")
    again = pd.read_csv(run / "history.csv").drop(columns="epoch_time_s")
    assert clean.equals(again)


def test_resume_key_names_the_changed_part_and_a_finished_run_retrains(prepared, caplog, monkeypatch):
    """A state made from other inputs or settings is never resumed (the log names what changed); a finished,
    published run trains again from scratch when its job runs again; an interrupted one resumes."""
    tmp, fdir, sdir = prepared
    run = tmp / "run"
    import sedrepro.train as tr

    real_save = tr.save_atomic

    def stop_after_epoch_two(obj, path):
        real_save(obj, path)
        if path.name == "state.pt" and obj["epoch"] == 2:
            raise KeyboardInterrupt("simulated kill")

    def interrupted(settings=TRAINING, pipeline=None):
        monkeypatch.setattr(tr, "save_atomic", stop_after_epoch_two)
        with pytest.raises(KeyboardInterrupt):
            train(run, fdir, sdir, MODEL, settings, seed=0, pipeline=pipeline)
        monkeypatch.setattr(tr, "save_atomic", real_save)

    def log_of(**kwargs):
        caplog.clear()
        with caplog.at_level("INFO"):
            train(run, fdir, sdir, MODEL, kwargs.pop("settings", TRAINING), seed=0, **kwargs)
        return caplog.text

    interrupted(pipeline={"normalisation": "global"})
    assert "resuming after epoch 2" in log_of(pipeline={"normalisation": "global"})
    first = pd.read_csv(run / "history.csv")
    assert not (run / "work" / "state.pt").exists()  # publishing retires the resume state
    text = log_of(pipeline={"normalisation": "global"})
    assert "finished and was published" in text and "(same inputs and settings)" in text
    assert "resuming" not in text
    interrupted(pipeline={"normalisation": "global"})
    text = log_of(pipeline={"normalisation": "per_band"})
    assert "(changed: pipeline)" in text and "resuming" not in text
    interrupted(pipeline={"normalisation": "per_band"})
    assert "(changed: training)" in log_of(
        pipeline={"normalisation": "per_band"}, settings={**TRAINING, "learning_rate": 0.02}
    )
    interrupted(pipeline={"normalisation": "per_band"})
    labels = np.load(sdir / "labels.npy")
    save_npy(sdir / "labels.npy", 1 - labels)
    text = log_of(pipeline={"normalisation": "per_band"})
    assert "(changed: input splits/labels.npy)" in text and "resuming" not in text
    assert not pd.read_csv(run / "history.csv").drop(columns="epoch_time_s").equals(first.drop(columns="epoch_time_s"))


def test_kill_9_during_training_resumes_exactly(prepared, kill_at_fault):
    """A real SIGKILL of the training process once its second epoch is saved, then the same command again."""
    import os
    import subprocess
    import sys

    tmp, fdir, sdir = prepared
    cfg = {**TRAINING, "max_epochs": 6}
    train(tmp / "clean", fdir, sdir, MODEL, cfg, seed=5)
    cmd = [
        sys.executable,
        "-m",
        "sedrepro.train",
        "--run-dir",
        str(tmp / "killed"),
        "--features",
        str(fdir),
        "--splits",
        str(sdir),
        "--model",
        json.dumps(MODEL),
        "--training",
        json.dumps(cfg),
        "--pipeline",
        "{}",
        "--seed",
        "5",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    kill_at_fault(cmd, "train.epoch", 2, env)
    ckpts = tmp / "killed" / "work" / "checkpoints"
    assert sorted(p.name for p in ckpts.glob("epoch*.pt")) == ["epoch001.pt", "epoch002.pt"]
    assert not (tmp / "killed" / "history.csv").exists(), "killed too late: training had already finished"
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1800)  # a hang guard only
    assert done.returncode == 0, done.stderr[-2000:]
    assert "resuming after epoch 2" in done.stderr
    clean = pd.read_csv(tmp / "clean" / "history.csv").drop(columns="epoch_time_s")
    resumed = pd.read_csv(tmp / "killed" / "history.csv").drop(columns="epoch_time_s")
    assert clean.equals(resumed)
