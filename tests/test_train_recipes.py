"""The train stage with other recipes, losses, sources and monitors (the tiny learnable problem of test_train), and
prediction from the trained model's own record."""

from __future__ import annotations

import json
import logging

import numpy as np
import pandas as pd
import pytest
import torch
from test_train import MODEL, TRAINING, prepared  # noqa: F401  (the tiny learnable problem, a fixture)

from sedrepro.io import InputError
from sedrepro.predict import predict_run
from sedrepro.train import RECIPE_DEFAULTS, improves, train

MT = {"ema_decay": 0.9, "consistency_weight": 1.0, "rampup_steps": 2, "scored": "teacher"}
SEMI = {
    **TRAINING,
    "max_epochs": 2,
    "recipe": "mean_teacher",
    "mean_teacher": MT,
    "sources": [{"split": "train", "labels": "target", "share": 1}, {"split": "train", "labels": "none", "share": 1}],
}


def weights(run, epoch):
    return torch.load(run / "checkpoints" / f"epoch{epoch:03d}.pt", weights_only=True)


def test_defaults_match_config_yaml():
    from sedrepro import config as sconfig

    cfg = sconfig.load([sconfig.REPO / "config.yaml"])
    assert {k: cfg["training"][k] for k in RECIPE_DEFAULTS} == RECIPE_DEFAULTS


def test_mean_teacher_trains_and_checkpoints_the_configured_network(prepared):  # noqa: F811
    """Decay 0: the teacher is the student after every step, so scoring either gives the same weights; decay 0.9:
    the teacher lags, and the scored key decides which weights are checkpointed."""
    tmp, fdir, sdir = prepared
    runs = {}
    for name, decay, scored in [
        ("t0", 0.0, "teacher"),
        ("s0", 0.0, "student"),
        ("t9", 0.9, "teacher"),
        ("s9", 0.9, "student"),
    ]:
        training = {**SEMI, "mean_teacher": {**MT, "ema_decay": decay, "scored": scored}}
        runs[name] = train(tmp / name, fdir, sdir, MODEL, training, seed=0)
        assert runs[name]["epochs"] == 2
    for k, v in weights(tmp / "t0", 2).items():
        assert torch.equal(v, weights(tmp / "s0", 2)[k]), k
    assert any(not torch.equal(v, weights(tmp / "s9", 2)[k]) for k, v in weights(tmp / "t9", 2).items())
    hist = pd.read_csv(tmp / "t9" / "history.csv")
    assert np.isfinite(hist[["train_loss", "val_loss"]].to_numpy()).all()


def test_recipe_and_loss_are_part_of_the_resume_key(prepared, caplog):  # noqa: F811
    tmp, fdir, sdir = prepared
    import sedrepro.train as tr

    real_save = tr.save_atomic

    def stop_after_first_state(obj, path):
        real_save(obj, path)
        if path.name == "state.pt":
            raise KeyboardInterrupt("simulated kill after epoch 1")

    run = tmp / "run"
    for training in [TRAINING, {**TRAINING, "loss": [{"term": "bce_strong", "weight": 2.0}]}, SEMI]:
        tr.save_atomic = stop_after_first_state
        caplog.clear()
        try:
            with caplog.at_level(logging.WARNING), pytest.raises(KeyboardInterrupt):
                train(run, fdir, sdir, MODEL, training, seed=0)
        finally:
            tr.save_atomic = real_save
        if training is not TRAINING:
            assert "made from other inputs or settings (changed: training)" in caplog.text


def test_monitor_picks_the_best_epoch_by_a_validation_metric(prepared):  # noqa: F811
    tmp, fdir, sdir = prepared
    summary = train(tmp / "f1", fdir, sdir, MODEL, {**TRAINING, "max_epochs": 4, "monitor": "val_frame_f1"}, seed=2)
    hist = pd.read_csv(tmp / "f1" / "history.csv")
    assert summary["best_epoch"] == int(hist.epoch[hist.val_frame_f1.to_numpy().argmax()])
    assert improves(0.5, 0.4, "val_frame_f1") and not improves(0.5, 0.4, "val_loss") and improves(0.3, 0.4, "val_loss")
    with pytest.raises(
        InputError,
        match="config key 'training/monitor': expected one of val_loss, val_frame_f1, val_accuracy, found 'f1'",
    ):
        train(tmp / "bad", fdir, sdir, MODEL, {**TRAINING, "monitor": "f1"}, seed=2)


def test_prediction_rebuilds_the_trained_model_not_the_configured_one(prepared, caplog):  # noqa: F811
    """After training, the config's model changes (another hidden size, even another architecture): prediction still
    loads the network the checkpoints were trained as, with the same probabilities, and says so."""
    tmp, fdir, sdir = prepared
    train(tmp / "run", fdir, sdir, MODEL, TRAINING, seed=0)
    record = json.loads((tmp / "run" / "train.json").read_text())["model"]
    assert record == {
        "architecture": "crnn",
        "config": {k: MODEL[k] for k in ("cnn", "rnn")},
        "n_features": 16,
        "n_classes": 2,
    }
    predict_run(tmp / "run", fdir, sdir, tmp / "same", MODEL, 1, "last", 4, "cpu")
    changed = {"name": "crnn_uni", "architecture": "dnd", "kind": "baseline"}
    with caplog.at_level(logging.WARNING):
        predict_run(tmp / "run", fdir, sdir, tmp / "changed", changed, 1, "last", 4, "cpu")
    assert "differs from the one" in caplog.text
    with np.load(tmp / "same" / "test" / "epoch003.npz") as a, np.load(tmp / "changed" / "test" / "epoch003.npz") as b:
        assert np.array_equal(a["probs"], b["probs"])
    (tmp / "run" / "train.json").write_text(json.dumps({"epochs": 3}))
    with pytest.raises(
        InputError,
        match=r"train.json: expected the train stage's summary with the trained model's "
        r"record \(\"model\"\), found none",
    ):
        predict_run(tmp / "run", fdir, sdir, tmp / "gone", MODEL, 1, "last", 4, "cpu")


def test_an_architecture_registered_outside_the_package_trains_and_predicts(prepared, monkeypatch):  # noqa: F811
    """The seam is open: an architecture defined here (config class + constructor, named output "strong") trains,
    is recorded in train.json and predicts, with no edit under src/."""
    from dataclasses import dataclass

    from torch import nn

    from sedrepro.models import ARCHITECTURES, Architecture
    from sedrepro.models.checks import check_keys, positive_int

    @dataclass(frozen=True)
    class MLPConfig:
        hidden: int

        @classmethod
        def from_dict(cls, d):
            check_keys("mlp", d, ("hidden",))
            return cls(positive_int("hidden", d["hidden"]))

    class FrameMLP(nn.Module):
        def __init__(self, cfg: MLPConfig, n_features: int, n_classes: int) -> None:
            super().__init__()
            self.net = nn.Sequential(nn.Linear(n_features, cfg.hidden), nn.ReLU(), nn.Linear(cfg.hidden, n_classes))

        def forward(self, x):
            return {"strong": self.net(x)}  # (B, T, C)

    monkeypatch.setitem(ARCHITECTURES._parts, "frame_mlp", Architecture(MLPConfig.from_dict, FrameMLP))
    tmp, fdir, sdir = prepared
    model = {"name": "mlp", "architecture": "frame_mlp", "hidden": 6}
    summary = train(tmp / "mlp", fdir, sdir, model, TRAINING, seed=0)
    assert summary["model"]["architecture"] == "frame_mlp" and summary["parameters"] == 16 * 6 + 6 + 6 * 2 + 2
    hist = pd.read_csv(tmp / "mlp" / "history.csv")
    assert hist.val_loss.iloc[-1] < hist.val_loss.iloc[0]
    predict_run(tmp / "mlp", fdir, sdir, tmp / "pred", model, 1, "last", 4, "cpu")
    with np.load(tmp / "pred" / "test" / "epoch003.npz") as z:
        assert z["probs"].shape == (120, 2) and ((z["probs"] > 0) & (z["probs"] < 1)).all()
