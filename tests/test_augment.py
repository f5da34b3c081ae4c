"""Batch augmentations (sedrepro.augment): what each does to a batch, their determinism, the config that declares
them, and that training without them is unchanged."""

from __future__ import annotations

import copy
import re

import numpy as np
import pandas as pd
import pytest
import torch
from test_train import MODEL, TRAINING, prepared  # noqa: F401  (the tiny learnable problem, a fixture)

from sedrepro.augment import Augmenter, Mixup, TimeShift, label_groups
from sedrepro.config import REPO, load, validate_and_default
from sedrepro.data import make_batch
from sedrepro.io import InputError
from sedrepro.train import changed_parts, resume_key, train

MIXUP = {"name": "mixup", "probability": 1.0, "alpha": 0.2, "labels": "soft", "unlabelled": False}
SHIFT = {"name": "time_shift", "probability": 1.0, "distribution": "uniform", "scale_frames": 5}
KINDS = np.array(["strong"] * 4 + ["weak"] * 3 + ["none"] * 3)
B, L, C = len(KINDS), 12, 3


def batch(seed: int = 0) -> dict[str, torch.Tensor]:
    """Rows of the three label kinds; row i's features are 1 in column i only, so a mixed row shows its partner."""
    g = torch.Generator().manual_seed(seed)
    x = torch.zeros(B, L, B + 2)
    x[torch.arange(B), :, torch.arange(B)] = 1.0
    y = (torch.rand(B, L, C, generator=g) < 0.4).float()
    return make_batch(x, y, KINDS, "frames", np.full(B, L), tags=True)


def params(entry: dict) -> dict:
    return {k: v for k, v in entry.items() if k != "name"}


def same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_label_groups_are_the_rows_with_the_same_masks():
    groups = label_groups(batch())
    assert [(list(rows), keys) for rows, keys in groups] == [
        ([0, 1, 2, 3], ["strong", "tags"]),
        ([4, 5, 6], ["tags"]),
        ([7, 8, 9], []),
    ]


@pytest.mark.parametrize("seed", range(5))
def test_mixup_mixes_within_a_label_kind_with_the_features_lambda(seed):
    before = batch(seed)
    after = Mixup(params(MIXUP), "training/augment/0", "frames")(before, np.random.default_rng(seed))
    for k in ("mask_strong", "mask_tags"):
        assert torch.equal(after[k], before[k])
    groups = {int(r): set(rows.tolist()) for rows, _ in label_groups(before) for r in rows}
    mixed = 0
    for i in range(B):
        weights = after["features"][i, 0, :B]
        partners = set(torch.nonzero(weights).flatten().tolist())
        assert partners <= groups[i], (i, partners)
        if KINDS[i] == "none":  # not mixed: unlabelled false
            assert torch.equal(after["features"][i], before["features"][i])
            continue
        assert torch.allclose(after["features"][i], sum(w * before["features"][j] for j, w in enumerate(weights)))
        for key in ("strong", "tags") if KINDS[i] == "strong" else ("tags",):
            expected = sum(w * before[key][j] for j, w in enumerate(weights)).clamp(0, 1)
            assert torch.allclose(after[key][i], expected), (i, key)
        mixed += len(partners) > 1
    assert mixed > 0
    # weak rows keep zero frame labels; the batch given is never modified
    assert not after["strong"][4:].any()
    assert same(before, batch(seed))


def test_mixup_can_mix_unlabelled_rows_among_themselves_and_hard_labels_add():
    before = batch(1)
    entry = {**params(MIXUP), "unlabelled": True, "labels": "hard"}
    after = Mixup(entry, "training/augment/0", "frames")(before, np.random.default_rng(1))
    partners = [set(torch.nonzero(after["features"][i, 0, :B]).flatten().tolist()) for i in range(B)]
    assert all(p <= {7, 8, 9} for p in partners[7:]) and any(len(p) > 1 for p in partners[7:])
    for i in range(4):
        expected = sum(before["strong"][j] for j in partners[i]).clamp(0, 1)
        assert torch.equal(after["strong"][i], expected)


def test_probability_zero_is_the_identity_bit_for_bit():
    before = batch(2)
    for part in (
        Mixup({**params(MIXUP), "probability": 0.0}, "training/augment/0", "frames"),
        TimeShift({**params(SHIFT), "probability": 0.0}, "training/augment/0", "frames"),
    ):
        assert same(part(before, np.random.default_rng(0)), before)


@pytest.mark.parametrize("distribution", ["normal", "uniform"])
def test_time_shift_rolls_features_and_frame_labels_together_and_keeps_tags(distribution):
    before = batch(3)
    before["features"] = before["features"] + torch.arange(L, dtype=torch.float32)[None, :, None] * 10
    shift = TimeShift({**params(SHIFT), "distribution": distribution}, "training/augment/0", "frames")
    after = shift(before, np.random.default_rng(4))
    shifts = shift.shifts(B, np.random.default_rng(4))
    assert np.abs(shifts).max() > 0
    if distribution == "uniform":
        assert np.abs(shifts).max() <= 5
    for i, s in enumerate(shifts):
        for key in ("features", "strong"):
            assert torch.equal(after[key][i], torch.roll(before[key][i], int(s), dims=0)), (i, key)
    for key in ("tags", "mask_strong", "mask_tags"):
        assert torch.equal(after[key], before[key])


def test_draws_depend_on_seed_epoch_and_batch_only():
    """What a resumed run relies on: the same (seed, epoch, batch) gives the same augmented batch, whatever ran
    before; another batch index or epoch gives another."""
    spec = [MIXUP, SHIFT]
    first = Augmenter(spec, "frames", seed=7)(batch(), epoch=3, step=1)
    torch.manual_seed(123)  # the global RNGs play no part
    np.random.seed(123)
    fresh = Augmenter(copy.deepcopy(spec), "frames", seed=7)
    assert same(fresh(batch(), epoch=3, step=1), first)
    assert not same(fresh(batch(), epoch=3, step=2), first)
    assert not same(fresh(batch(), epoch=4, step=1), first)
    assert not same(Augmenter(spec, "frames", seed=8)(batch(), epoch=3, step=1), first)


@pytest.mark.parametrize(
    "spec, message",
    [
        (
            [{"name": "cutout"}],
            "config key 'training/augment/0/name': expected a registered augmentation (mixup, time_shift), "
            "found 'cutout'",
        ),
        (
            [SHIFT, {**MIXUP, "beta": 0.2}],
            "config key 'training/augment/1': expected keys name, probability, alpha, labels, unlabelled, found keys "
            "alpha, beta, labels, name, probability, unlabelled",
        ),
        (
            [{**SHIFT, "distribution": "poisson"}],
            "config key 'training/augment/0/distribution': expected normal or uniform, found 'poisson'",
        ),
    ],
)
def test_bad_augmentations_are_one_line(spec, message):
    with pytest.raises(InputError, match="^" + re.escape(message) + "$"):
        Augmenter(spec, "frames", seed=0)


def test_mixup_needs_float_targets():
    with pytest.raises(InputError, match="^config key 'training/augment/0': expected a pipeline with float targets"):
        Augmenter([MIXUP], "clip", seed=0)


@pytest.mark.parametrize(
    "entry, message",
    [
        (
            {**MIXUP, "beta": 0.2},
            "config key 'training/augment/0': Additional properties are not allowed ('beta' was unexpected)",
        ),
        (
            {k: v for k, v in SHIFT.items() if k != "scale_frames"},
            "config key 'training/augment/0': 'scale_frames' is a required property",
        ),
        (
            {**MIXUP, "labels": "smooth"},
            "config key 'training/augment/0/labels': 'smooth' is not one of ['soft', 'hard']",
        ),
    ],
)
def test_schema_rejects_bad_augmentations_in_one_line(entry, message):
    cfg = load([REPO / "config.yaml"])
    cfg["training"]["augment"] = [entry]
    with pytest.raises(InputError, match="^" + re.escape(message) + "$"):
        validate_and_default(cfg)


def test_schema_defaults_to_no_augmentation_and_accepts_the_baselines():
    cfg = load([REPO / "config.yaml"])
    assert cfg["training"]["augment"] == []
    cfg["training"]["augment"] = [
        {**MIXUP, "probability": 0.5},
        {"name": "time_shift", "probability": 1.0, "distribution": "normal", "scale_frames": 90},
    ]
    validate_and_default(cfg)


def test_a_changed_augmentation_changes_the_resume_key():
    settings = {"training": {**TRAINING, "augment": []}, "seed": 0}
    key = resume_key({}, settings)
    assert changed_parts(key, resume_key({}, {**settings, "training": {**TRAINING, "augment": [MIXUP]}})) == [
        "training"
    ]
    other = {**settings, "training": {**TRAINING, "augment": [{**MIXUP, "alpha": 0.3}]}}
    assert changed_parts(
        resume_key({}, {**settings, "training": {**TRAINING, "augment": [MIXUP]}}), resume_key({}, other)
    ) == ["training"]


def weights(run, epoch):
    return torch.load(run / "checkpoints" / f"epoch{epoch:03d}.pt", weights_only=True)


def test_no_augmentation_leaves_training_bit_identical(prepared):  # noqa: F811
    """Without the key, with [], and with an augmentation that never fires: the same weights; one that fires
    changes them (so the comparison can fail)."""
    tmp, fdir, sdir = prepared
    one = {**TRAINING, "max_epochs": 1}
    runs = {
        "without": one,
        "empty": {**one, "augment": []},
        "never": {**one, "augment": [{**MIXUP, "probability": 0.0}, {**SHIFT, "probability": 0.0}]},
        "mixed": {**one, "augment": [MIXUP, SHIFT]},
    }
    for name, training in runs.items():
        train(tmp / name, fdir, sdir, MODEL, training, seed=0)
    base = weights(tmp / "without", 1)
    for name in ("empty", "never"):
        assert all(torch.equal(v, weights(tmp / name, 1)[k]) for k, v in base.items()), name
    assert any(not torch.equal(v, weights(tmp / "mixed", 1)[k]) for k, v in base.items())


def test_augmented_training_resumes_to_the_same_result(prepared, monkeypatch):  # noqa: F811
    tmp, fdir, sdir = prepared
    training = {**TRAINING, "augment": [MIXUP, SHIFT]}
    train(tmp / "clean", fdir, sdir, MODEL, training, seed=1)

    import sedrepro.train as tr

    real_save, calls = tr.save_atomic, {"n": 0}

    def crash_after_epoch_two(obj, path):
        real_save(obj, path)
        if path.name == "state.pt":
            calls["n"] += 1
            if calls["n"] == 2:
                raise KeyboardInterrupt("simulated kill after epoch 2")

    monkeypatch.setattr(tr, "save_atomic", crash_after_epoch_two)
    with pytest.raises(KeyboardInterrupt):
        train(tmp / "resumed", fdir, sdir, MODEL, training, seed=1)
    monkeypatch.setattr(tr, "save_atomic", real_save)
    train(tmp / "resumed", fdir, sdir, MODEL, training, seed=1)
    clean = pd.read_csv(tmp / "clean" / "history.csv").drop(columns="epoch_time_s")
    resumed = pd.read_csv(tmp / "resumed" / "history.csv").drop(columns="epoch_time_s")
    assert clean.equals(resumed)
    assert all(torch.equal(v, weights(tmp / "resumed", 3)[k]) for k, v in weights(tmp / "clean", 3).items())


@pytest.mark.parametrize(
    "model, augment, message",
    [
        (
            "crnn_uni",
            [SHIFT, {"name": "specaugment"}],
            "config key 'models/crnn_uni/training/augment/1/name': expected a registered augmentation (mixup, "
            "time_shift), found 'specaugment'",
        ),
        (
            "mono_baseline",
            [MIXUP],
            "config key 'models/mono_baseline/training/augment/0': expected a pipeline with float targets (target "
            "frames) to mix, found target 'clip'",
        ),
    ],
)
def test_config_check_catches_augmentations_before_any_job(model, augment, message):
    from sedrepro.config import check

    cfg = load([REPO / "config.yaml"])
    cfg["models"][model]["training"] = {**cfg["models"][model].get("training", {}), "augment": augment}
    with pytest.raises(InputError, match="^" + re.escape(message) + "$"):
        check(cfg)


def test_student_and_teacher_see_the_same_augmented_batch(prepared, monkeypatch):  # noqa: F811
    """The train loop hands the recipe the augmented batch (never the raw one), and mean_teacher runs both networks
    on it."""
    import sedrepro.recipes as recipes

    tmp, fdir, sdir = prepared
    seen: dict[str, list[torch.Tensor]] = {"student": [], "teacher": []}
    real = recipes.MeanTeacher.objective

    def recording(self, batch):
        hooks = [
            net.register_forward_pre_hook(lambda m, args, who=who: seen[who].append(args[0].clone()))
            for who, net in (("student", self.model), ("teacher", self.teacher))
        ]
        try:
            return real(self, batch)
        finally:
            for h in hooks:
                h.remove()

    monkeypatch.setattr(recipes.MeanTeacher, "objective", recording)
    mt = {"ema_decay": 0.9, "consistency_weight": 1.0, "rampup_steps": 2, "scored": "teacher"}
    training = {**TRAINING, "max_epochs": 1, "recipe": "mean_teacher", "mean_teacher": mt, "augment": [MIXUP, SHIFT]}
    train(tmp / "mt", fdir, sdir, MODEL, training, seed=0)

    from sedrepro.data import Sampler, Source, SplitData

    data = SplitData.load(fdir, sdir)
    sampler = Sampler(data, [Source("train", "target", 1.0)], TRAINING["batch_size"], seed=0)
    augment = Augmenter([MIXUP, SHIFT], "frames", seed=0)
    raw = list(sampler.epoch(1))
    assert len(seen["student"]) == len(seen["teacher"]) == len(raw) > 0
    for b, (student, teacher) in enumerate(zip(seen["student"], seen["teacher"], strict=True)):
        assert torch.equal(student, teacher)
        assert torch.equal(student, augment(raw[b], epoch=1, step=b)["features"])
        assert not torch.equal(student, raw[b]["features"])
