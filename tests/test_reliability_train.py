"""Reliability of training and prediction: damaged per-epoch checkpoints, divergence keeps the last good epoch,
determinism of the train -> predict -> score chain on CPU. (Resume after kill -9 and damaged resume state: test_train.py.)"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch
from metrics_doc import default_scoring
from test_train import MODEL, TRAINING, prepared  # noqa: F401  (the tiny learnable problem, a fixture)

from sedrepro.evaluate import Settings, score_checkpoint
from sedrepro.io import InputError, save_npy
from sedrepro.predict import predict_run
from sedrepro.train import TrainingDiverged, train

SETTINGS = Settings.from_config(default_scoring())


def test_truncated_epoch_checkpoint_is_one_line_naming_the_file(prepared):  # noqa: F811
    tmp, fdir, sdir = prepared
    train(tmp / "run", fdir, sdir, MODEL, TRAINING, seed=0)
    ckpt = tmp / "run" / "checkpoints" / "epoch003.pt"
    ckpt.unlink()  # a hard link to work/: replace it, do not write through it
    ckpt.write_bytes((tmp / "run" / "work" / "checkpoints" / "epoch003.pt").read_bytes()[:200])
    with pytest.raises(InputError) as err:
        predict_run(tmp / "run", fdir, sdir, tmp / "pred", MODEL, 3, "last", 4, "cpu")
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith(f"{ckpt}: expected a readable PyTorch checkpoint (weights only), found ")
    assert not (tmp / "pred" / "selection.json").exists()
    with pytest.raises(InputError) as err:  # the same line when checkpoints are predicted in parallel
        predict_run(tmp / "run", fdir, sdir, tmp / "pred", MODEL, 3, "last", 4, "cpu", ("test",), 2)
    assert str(err.value) == msg
    assert not (tmp / "pred" / "selection.json").exists()
    # the same through the CLI: exit 2 and one `error:` line, no traceback
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "sedrepro.predict",
            "--run-dir",
            str(tmp / "run"),
            "--features",
            str(fdir),
            "--splits",
            str(sdir),
            "--out",
            str(tmp / "pred2"),
            "--model",
            json.dumps(MODEL),
            "--n-checkpoints",
            "3",
            "--selection",
            "last",
            "--device",
            "cpu",
            "--sets",
            "test",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and str(ckpt) in errors[0]


def test_nan_loss_keeps_the_last_good_checkpoint(prepared, monkeypatch):  # noqa: F811
    """Epoch 1 trains normally (then a simulated kill); the loaded features turn NaN (the files stay as they are, so
    the rerun resumes) and the rerun diverges in epoch 2. Then the same through the CLI with NaN written into the
    feature file: the changed input starts training from scratch, which diverges at once."""
    tmp, fdir, sdir = prepared
    run = tmp / "nan"
    import sedrepro.train as tr

    real_save, real_load = tr.save_atomic, tr.SplitData.load

    def stop_after_first_state(obj, path):
        real_save(obj, path)
        if path.name == "state.pt":
            raise KeyboardInterrupt("simulated kill after epoch 1")

    def load_nan(feature_dir, split_dir, in_memory=True):
        data = real_load(feature_dir, split_dir, in_memory)
        data.features = np.full_like(data.features, np.nan)
        return data

    monkeypatch.setattr(tr, "save_atomic", stop_after_first_state)
    with pytest.raises(KeyboardInterrupt):
        train(run, fdir, sdir, MODEL, TRAINING, seed=0)
    monkeypatch.setattr(tr, "save_atomic", real_save)
    good = torch.load(run / "work" / "checkpoints" / "epoch001.pt", weights_only=True)
    monkeypatch.setattr(tr.SplitData, "load", load_nan)
    with pytest.raises(TrainingDiverged) as err:
        train(run, fdir, sdir, MODEL, TRAINING, seed=0)
    monkeypatch.setattr(tr.SplitData, "load", real_load)
    assert "at epoch 2, batch 1; the last good checkpoint is epoch 1" in str(err.value)
    assert "\n" not in str(err.value)
    ckpts = sorted(p.name for p in (run / "work" / "checkpoints").iterdir())
    assert ckpts == ["epoch001.pt"]  # nothing written for the diverged epoch
    kept = torch.load(run / "work" / "checkpoints" / "epoch001.pt", weights_only=True)
    assert all(torch.equal(kept[k], good[k]) for k in good)  # byte-for-byte the same weights
    state = torch.load(run / "work" / "state.pt", weights_only=True)
    assert state["epoch"] == 1 and all(np.isfinite(v) for v in (state["best_val_loss"],))
    assert not (run / "history.csv").exists()  # a diverged run is never published as finished
    # through the CLI, with the NaN in the file: one `error:` line, exit 2, no traceback
    feats = np.load(fdir / "features.npy")
    feats[:] = np.nan
    save_npy(fdir / "features.npy", feats)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "sedrepro.train",
            "--run-dir",
            str(run),
            "--features",
            str(fdir),
            "--splits",
            str(sdir),
            "--model",
            json.dumps(MODEL),
            "--training",
            json.dumps(TRAINING),
            "--pipeline",
            "{}",
            "--seed",
            "0",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "made from other inputs or settings (changed: input features/features.npy, pipeline)" in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert errors == [
        f"error: {run}: loss is nan at epoch 1, batch 1; no checkpoint was written "
        "(lower training/learning_rate or check the features for NaN)"
    ]


def _index(tmp, sdir):
    """A dataset index for the fixture's test clips c6-c8 (40 frames of 0.1 s) with events from its frame labels."""
    labels = np.load(sdir / "labels.npy")
    files, events = [], []
    for k in range(9):
        split = ["train", "validate", "test"][k // 3]
        files.append({"file_id": f"c{k}", "split": split, "duration_s": 4.0})
        for c, name in enumerate(["a", "b"]):
            on = labels[k * 40 : (k + 1) * 40, c].astype(int)
            edges = np.flatnonzero(np.diff(np.concatenate([[0], on, [0]])))
            events += [
                {"file_id": f"c{k}", "onset": s * 0.1, "offset": e * 0.1, "label": name}
                for s, e in zip(edges[::2], edges[1::2], strict=True)
            ]
    ix = tmp / "index"
    ix.mkdir()
    pd.DataFrame(files).to_csv(ix / "files.tsv", sep="\t", index=False)
    pd.DataFrame(events).to_csv(ix / "events.tsv", sep="\t", index=False)
    return ix


def test_train_predict_score_is_deterministic_per_seed(prepared):  # noqa: F811
    """Stage level on CPU: same seed -> identical segment F1 of every checkpoint; another seed -> different."""
    tmp, fdir, sdir = prepared
    ix = _index(tmp, sdir)

    def scores(name, seed):
        train(tmp / name, fdir, sdir, MODEL, TRAINING, seed=seed)
        epochs = predict_run(tmp / name, fdir, sdir, tmp / name / "pred", MODEL, 3, "last", 4, "cpu")
        return [score_checkpoint(tmp / name / "pred" / "test" / f"epoch{e:03d}.npz", ix, SETTINGS) for e in epochs]

    a, b, c = scores("a", 7), scores("b", 7), scores("c", 8)
    assert a == b
    assert a != c
    for e in (1, 2, 3):
        za, zb = (np.load(tmp / r / "pred" / "test" / f"epoch{e:03d}.npz") for r in ("a", "b"))
        assert np.array_equal(za["probs"], zb["probs"])  # bit-identical probabilities, not just equal scores
