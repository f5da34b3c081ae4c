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
from sedrepro.train import RECIPE_DEFAULTS, improves, train, warmup_scheduler

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


def _ramp(step: int, steps: int, lr: float) -> float:
    """The DCASE 2020 baseline's warm-up written out: lr * exp(-5 (1 - t)^2), t = step / steps clipped to 1."""
    t = min(step, steps) / steps
    return lr * float(np.exp(-5.0 * (1.0 - t) ** 2))


def test_lr_warmup_sets_each_steps_learning_rate_by_the_formula():
    param = torch.nn.Parameter(torch.zeros(3))
    opt = torch.optim.Adam([param], lr=1e-3)
    assert warmup_scheduler(opt, None) is None  # absent: the constant learning rate
    sched = warmup_scheduler(opt, {"shape": "sigmoid", "steps": 5})
    seen = []
    for step in range(8):  # the loop's order: the step runs at the current lr, then the scheduler moves on
        seen.append(opt.param_groups[0]["lr"])
        param.sum().backward()
        opt.step()
        sched.step()
        if step == 2:
            saved = (opt.state_dict(), sched.state_dict())
    assert seen == pytest.approx([_ramp(n, 5, 1e-3) for n in range(8)], rel=1e-12)
    assert seen[0] == pytest.approx(1e-3 * np.exp(-5)) and seen[5:] == [1e-3] * 3
    # a resumed run continues the ramp where the state left it (step 3)
    opt2 = torch.optim.Adam([torch.nn.Parameter(torch.zeros(3))], lr=1e-3)
    sched2 = warmup_scheduler(opt2, {"shape": "sigmoid", "steps": 5})
    opt2.load_state_dict(saved[0])
    sched2.load_state_dict(saved[1])
    assert opt2.param_groups[0]["lr"] == pytest.approx(_ramp(3, 5, 1e-3), rel=1e-12)


def test_lr_warmup_in_training_is_keyed_and_resumes_exactly(prepared, caplog):  # noqa: F811
    tmp, fdir, sdir = prepared
    import sedrepro.train as tr

    warm = {**SEMI, "lr_warmup": {"shape": "sigmoid", "steps": 1000}}
    real_save = tr.save_atomic

    def stop_after_first_state(obj, path):
        real_save(obj, path)
        if path.name == "state.pt":
            raise KeyboardInterrupt("simulated kill after epoch 1")

    train(tmp / "plain", fdir, sdir, MODEL, SEMI, seed=0)
    train(tmp / "whole", fdir, sdir, MODEL, warm, seed=0)
    tr.save_atomic = stop_after_first_state
    try:
        with pytest.raises(KeyboardInterrupt):
            train(tmp / "killed", fdir, sdir, MODEL, warm, seed=0)
    finally:
        tr.save_atomic = real_save
    state = torch.load(tmp / "killed" / "work" / "state.pt", weights_only=False)
    steps = state["scheduler"]["last_epoch"]  # optimiser steps of epoch 1
    assert steps > 0 and state["optimiser"]["param_groups"][0]["lr"] == pytest.approx(
        _ramp(steps, 1000, warm["learning_rate"])
    )
    caplog.clear()
    with caplog.at_level(logging.INFO):
        train(tmp / "killed", fdir, sdir, MODEL, warm, seed=0)
    assert "resuming after epoch 1" in caplog.text
    for k, v in weights(tmp / "whole", 2).items():
        assert torch.equal(v, weights(tmp / "killed", 2)[k]), k  # the resumed ramp is the uninterrupted one
    assert any(not torch.equal(v, weights(tmp / "plain", 2)[k]) for k, v in weights(tmp / "whole", 2).items())


def test_lr_warmup_is_absent_from_the_settings_of_runs_without_it():
    """No schema default: the other papers' training settings (their rerun trigger and resume key) are unchanged."""
    from sedrepro import config as sconfig
    from sedrepro import workflow as glue

    cfg = sconfig.load([sconfig.REPO / "config.yaml"])
    for model in ("crnn_uni", "hcrnn64", "dnd_baseline", "mono_proposed"):
        assert "lr_warmup" not in sconfig.model_training(cfg, model) and "lr_warmup" not in glue.training_json(
            cfg, model
        )
    for model in ("ssa_baseline", "ssa_sparsity-1p3"):  # the ssa runs ramp it with the consistency weight
        training = sconfig.model_training(cfg, model)
        assert training["lr_warmup"] == {"shape": "sigmoid", "steps": training["mean_teacher"]["rampup_steps"]}
