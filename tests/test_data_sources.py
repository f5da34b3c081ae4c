"""Batches that mix sources of several label kinds (strong, weak, none), as DESED training does: each row carries
only the targets its source has, so weak clips add no frame loss and unlabelled clips no supervised loss, while the
mean-teacher consistency still reaches them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch
from torch import Tensor, nn

from sedrepro.data import Sampler, Source, SplitData, make_batch
from sedrepro.io import InputError, save_npy, write_json
from sedrepro.losses import Loss, bce_strong, bce_tags
from sedrepro.models import ARCHITECTURES, Architecture, probabilities
from sedrepro.recipes import MeanTeacher
from sedrepro.train import train

CLASSES = ["a", "b", "c"]
N_FEATURES, CLIP, CHUNK, HOP = 4, 20, 8, 6
# set -> (label kind, clips); each set's clips are consecutive rows of the store
SETS = {
    "syn": ("strong", 4),
    "weak": ("weak", 3),
    "unlab": ("none", 3),
    "validate": ("strong", 2),
    "test": ("strong", 2),
}
SOURCES = [Source("syn", "target", 2), Source("weak", "target", 1), Source("unlab", "none", 1)]
MT = {"ema_decay": 0.9, "consistency_weight": 1.0, "rampup_steps": 0, "scored": "teacher"}


@pytest.fixture
def store(tmp_path):
    """Band 0 of every frame is its row in the store (identity normalisation), so a batch tells which rows it read.
    Strong clips: random frame events; weak clips: their tags over the whole clip (the index convention); unlabelled
    clips: zero label rows. The last strong clip also has a 3-frame tail chunk."""
    rng = np.random.default_rng(1)
    n = sum(c for _, c in SETS.values()) * CLIP
    feats = rng.standard_normal((n, N_FEATURES)).astype(np.float32)
    feats[:, 0] = np.arange(n)
    labels = np.zeros((n, len(CLASSES)), dtype=np.uint8)
    chunks, row = {}, 0
    for name, (kind, clips) in SETS.items():
        parts = []
        for _ in range(clips):
            if kind == "strong":
                labels[row : row + CLIP] = rng.random((CLIP, len(CLASSES))) < 0.3
            elif kind == "weak":
                labels[row : row + CLIP] = rng.random(len(CLASSES)) < 0.5
            parts += [[row + o, CHUNK] for o in range(0, CLIP - CHUNK + 1, HOP)]
            row += CLIP
        if name == "syn":
            parts.append([row - 3, 3])
        chunks[name] = np.array(parts, dtype=np.int64)
    fdir, sdir = tmp_path / "features", tmp_path / "splits"
    save_npy(fdir / "features.npy", feats)
    save_npy(sdir / "labels.npy", labels)
    with open(sdir / "chunks.npz", "wb") as fh:
        np.savez(fh, **chunks)
    write_json(sdir / "norm.json", {"mode": "global", "mean": [0.0], "std": [1.0], "frames": n})
    write_json(
        sdir / "splits.json",
        {
            "classes": CLASSES,
            "chunk_frames": CHUNK,
            "hop_frames": HOP,
            "frame_hop_s": 0.1,
            "target": "frames",
            "pad": "repeat",
            "sources": [{"name": s, "label_kind": SETS[s][0]} for s in ("syn", "weak", "unlab")],
            "label_kinds": {s: k for s, (k, _) in SETS.items()},
            "evaluation_sets": ["test"],
        },
    )
    return tmp_path, fdir, sdir


def set_of_row(row: int) -> str:
    """The set whose clips hold store row `row`."""
    end = 0
    for name, (_, clips) in SETS.items():
        end += clips * CLIP
        if row < end:
            return name
    raise AssertionError(row)


def test_batches_carry_each_source_s_labels_only(store):
    _, fdir, sdir = store
    data = SplitData.load(fdir, sdir)
    sampler = Sampler(data, SOURCES, 8, seed=0)
    assert sampler.rows == [4, 2, 2] and sampler.kinds == ["strong", "weak", "none"]
    assert sampler.label_kinds == ["strong", "weak"]
    batches = list(sampler.epoch(1))
    assert len(batches) == len(sampler) == 4  # 13 strong chunks: 4 + 4 + 4 + 1
    first = []
    for b in batches:
        assert set(b) == {"features", "strong", "mask_strong", "tags", "mask_tags"}
        rows = b["features"][:, :, 0].round().long().numpy()  # (B, L) store rows each frame was read from
        sets = [set_of_row(int(r[0])) for r in rows]
        k = len(rows) - 4
        assert sets == ["syn"] * k + ["weak"] * 2 + ["unlab"] * 2  # shares as configured, in source order
        first += [int(r[0]) for r in rows[:k]]
        assert b["mask_strong"].tolist() == [True] * k + [False] * 4
        assert b["mask_tags"].tolist() == [True] * (k + 2) + [False] * 2
        stored = torch.from_numpy(data.labels[rows].astype(np.float32))  # (B, L, C)
        assert torch.equal(b["strong"][:k], stored[:k]) and b["strong"][k:].abs().sum() == 0
        assert torch.equal(b["tags"][: k + 2], stored[: k + 2].amax(dim=1)) and b["tags"][k + 2 :].abs().sum() == 0
        assert b["tags"].dtype == torch.float32
    assert sorted(first) == sorted(int(s) for s in data.chunks["syn"][:, 0])  # the first source sets the epoch
    assert stored[k:].sum() > 0  # the weak rows' tags are real, and masked out of the frame targets


def test_clip_tags_only_count_valid_frames():
    """A class active only past a row's valid frames is no tag of that row; frame targets keep every frame."""
    y = torch.zeros(2, 5, 3)
    y[0, 1, 0] = 1.0
    y[0, 4, 2] = 1.0  # past row 0's 3 valid frames
    y[1, 0, 1] = 1.0
    b = make_batch(torch.zeros(2, 5, 4), y, np.array(["strong", "weak"]), "frames", np.array([3, 5]), tags=True)
    assert b["tags"].tolist() == [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]
    assert b["mask_tags"].tolist() == [True, True] and b["mask_strong"].tolist() == [True, False]
    assert torch.equal(b["strong"][0], y[0]) and b["strong"][1].abs().sum() == 0
    assert set(make_batch(torch.zeros(2, 5, 4), y, np.array(["strong", "strong"]), "frames", np.array([5, 5]))) == {
        "features",
        "strong",
        "mask_strong",
    }


def test_tags_only_when_a_source_is_weak_or_the_loss_reads_them(store):
    _, fdir, sdir = store
    data = SplitData.load(fdir, sdir)
    strong = Sampler(data, [Source("syn", "target", 1), Source("unlab", "none", 1)], 8, seed=0)
    assert strong.label_kinds == ["strong"] and "tags" not in next(strong.epoch(1))
    asked = Sampler(data, [Source("syn", "target", 1)], 8, seed=0, tags=True)
    assert asked.label_kinds == ["strong", "weak"] and bool(next(asked.epoch(1))["mask_tags"].all())
    weak_only = Sampler(data, [Source("weak", "target", 1)], 8, seed=0)
    assert weak_only.label_kinds == ["weak"] and not bool(next(weak_only.epoch(1))["mask_strong"].any())
    loss = Loss([{"term": "bce_strong", "weight": 1.0}, {"term": "bce_tags", "weight": 1.0}])
    assert loss.outputs == {"strong", "tags"}
    loss.check_labels(asked.label_kinds)
    with pytest.raises(InputError, match=r"term 'bce_strong' expected a training source with strong labels"):
        loss.check_labels(weak_only.label_kinds)
    Loss([{"term": "bce_tags", "weight": 1.0}]).check_labels(weak_only.label_kinds)
    with pytest.raises(InputError, match=r"term 'bce_tags' expected a training source with weak labels, found "):
        Loss([{"term": "bce_tags", "weight": 1.0}]).check_labels(strong.label_kinds)  # built without tags


def test_bce_tags_is_torch_bce_over_the_labelled_rows():
    torch.manual_seed(0)
    logits, target = torch.randn(6, 3), (torch.rand(6, 3) < 0.5).float()
    mask = torch.tensor([True, True, True, True, False, False])
    got = bce_tags({"tags": logits}, {"tags": target, "mask_tags": mask})
    torch.testing.assert_close(got, nn.BCEWithLogitsLoss()(logits[mask], target[mask]))
    full = bce_tags({"tags": logits}, {"tags": target, "mask_tags": torch.ones(6, dtype=torch.bool)})
    assert torch.equal(full, nn.BCEWithLogitsLoss()(logits, target))  # bit for bit with every row labelled
    assert probabilities("tags", logits).equal(torch.sigmoid(logits))


def logits_of(batch: Mapping[str, Tensor]) -> dict[str, Tensor]:
    torch.manual_seed(1)
    b, length, _ = batch["features"].shape
    return {
        "strong": torch.randn(b, length, len(CLASSES), requires_grad=True),
        "tags": torch.randn(b, len(CLASSES), requires_grad=True),
    }


def test_weak_rows_add_no_frame_loss_and_unlabelled_rows_no_supervised_loss(store):
    _, fdir, sdir = store
    batch = next(Sampler(SplitData.load(fdir, sdir), SOURCES, 8, seed=0).epoch(1))
    strong, weak, unlab = slice(0, 4), slice(4, 6), slice(6, 8)
    out = logits_of(batch)
    bce_strong(out, batch).backward()
    grad = out["strong"].grad
    assert grad[weak].abs().sum() == 0 and grad[unlab].abs().sum() == 0 and bool((grad[strong] != 0).all())
    out = logits_of(batch)
    Loss([{"term": "bce_strong", "weight": 1.0}, {"term": "bce_tags", "weight": 0.5}])(out, batch).backward()
    tags = out["tags"].grad
    assert out["strong"].grad[unlab].abs().sum() == 0 and tags[unlab].abs().sum() == 0
    assert bool((tags[strong] != 0).all()) and bool((tags[weak] != 0).all())


class FrameTags(nn.Module):
    """A frame layer and its clip head: outputs strong (B, T, C) and tags (B, C), the mean of the frame logits."""

    def __init__(self, cfg: Any, n_features: int, n_classes: int) -> None:
        super().__init__()
        self.frames = nn.Linear(n_features, n_classes)

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        strong = self.frames(x / 100.0)  # band 0 is the store row, up to a few hundred
        return {"strong": strong, "tags": strong.mean(dim=1)}


def test_mean_teacher_consistency_reaches_unlabelled_rows(store):
    _, fdir, sdir = store
    batch = next(Sampler(SplitData.load(fdir, sdir), SOURCES, 8, seed=0).epoch(1))
    torch.manual_seed(0)
    model = FrameTags(None, N_FEATURES, len(CLASSES))
    loss = Loss([{"term": "bce_strong", "weight": 1.0}, {"term": "bce_tags", "weight": 1.0}])
    recipe = MeanTeacher(model, loss, {"mean_teacher": MT})
    with torch.no_grad():  # the student moves away from its teacher, as after some steps
        model.frames.bias += 0.5
    value, out = recipe.objective(batch)
    for t in out.values():
        t.retain_grad()
    value.backward()
    unlab = slice(6, 8)
    assert bool((out["strong"].grad[unlab] != 0).any()) and bool((out["tags"].grad[unlab] != 0).all())


def test_a_resumed_epoch_draws_the_same_batches(store):
    _, fdir, sdir = store
    data = SplitData.load(fdir, sdir)
    first = Sampler(data, SOURCES, 8, seed=5)
    for epoch in (1, 2):
        list(first.epoch(epoch))
    again = list(Sampler(data, SOURCES, 8, seed=5).epoch(3))
    for a, b in zip(list(first.epoch(3)), again, strict=True):
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("recipe", ["supervised", "mean_teacher"])
def test_a_strong_and_tags_model_trains_on_the_mix(store, monkeypatch, recipe):
    tmp, fdir, sdir = store
    monkeypatch.setitem(ARCHITECTURES._parts, "frame_tags", Architecture(lambda d: None, FrameTags))
    training = {
        "max_epochs": 2,
        "batch_size": 8,
        "learning_rate": 0.01,
        "patience": 5,
        "device": "cpu",
        "recipe": recipe,
        "mean_teacher": MT,
        "loss": [{"term": "bce_strong", "weight": 1.0}, {"term": "bce_tags", "weight": 1.0}],
        "sources": [{"split": s.split, "labels": s.labels, "share": s.share} for s in SOURCES],
    }
    summary = train(tmp / recipe, fdir, sdir, {"name": "m", "architecture": "frame_tags"}, training, seed=0)
    assert summary["epochs"] == 2 and summary["train_chunks"] == len(SplitData.load(fdir, sdir).chunks["syn"])
    hist = pd.read_csv(tmp / recipe / "history.csv")
    assert np.isfinite(hist[["train_loss", "val_loss"]].to_numpy()).all()
    first, last = (torch.load(tmp / recipe / "checkpoints" / f"epoch{e:03d}.pt", weights_only=True) for e in (1, 2))
    assert any(not torch.equal(first[k], last[k]) for k in first)
