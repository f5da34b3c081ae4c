"""Classifiers of AudioSet's embeddings (the audioset paper): shapes, config keys, weight scale, the clip-tags target
(batches, loss, validation ranking history) they train on."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sedrepro.data import SplitData, make_batch
from sedrepro.losses import Loss
from sedrepro.models import ARCHITECTURES, build, check_model_config, count_parameters
from sedrepro.train import Objective, ranking_history

FC = {"frames": 10, "width": 32, "hidden_layers": 1, "dropout": 0.5, "weight_scale": 0.01}
RESIDUAL = {"frames": 10, "width": 32, "blocks": 2, "dropout": 0.0, "weight_scale": None}
CONV = {"channels": [16, 8], "kernel_size": 3, "width": 32, "dropout": 0.1, "weight_scale": 0.05}


@pytest.mark.parametrize(
    ("architecture", "cfg"), [("embedding_fc", FC), ("embedding_residual", RESIDUAL), ("embedding_conv", CONV)]
)
def test_every_network_maps_10_frames_of_128_to_tags_logits(architecture, cfg):
    model = build(architecture, cfg, 128, 527).eval()
    out = model(torch.randn(4, 10, 128))
    assert set(out) == {"tags"} and out["tags"].shape == (4, 527)
    assert count_parameters(model) > 0


def test_the_fully_connected_network_has_two_layers_and_its_weights_the_configured_scale():
    torch.manual_seed(0)
    model = build("embedding_fc", {**FC, "width": 1024, "weight_scale": 0.05}, 128, 527)
    linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    assert [tuple(m.weight.shape) for m in linears] == [(1024, 1280), (527, 1024)]  # the report's X in R^{N x 1280}
    assert linears[0].weight.std().item() == pytest.approx(0.05, rel=0.02)
    assert all(float(m.bias.detach().abs().max()) == 0.0 for m in linears)


def test_conv_works_over_the_frames_and_fc_stops_on_another_frame_count():
    conv = build("embedding_conv", CONV, 128, 5).eval()
    assert conv(torch.randn(2, 7, 128))["tags"].shape == (2, 5)
    with pytest.raises(ValueError, match="expects 10 frames"):
        build("embedding_fc", FC, 128, 5)(torch.randn(2, 7, 128))


def test_config_keys_are_checked_per_architecture():
    for name in ("embedding_fc", "embedding_residual", "embedding_conv"):
        assert name in ARCHITECTURES.names()
    with pytest.raises(Exception, match="unknown key.*kernel_size"):
        check_model_config({"architecture": "embedding_fc", **FC, "kernel_size": 3}, "models/x")
    with pytest.raises(Exception, match="dropout must be a number in"):
        check_model_config({"architecture": "embedding_residual", **RESIDUAL, "dropout": 1.0}, "models/x")
    with pytest.raises(Exception, match="kernel_size must be odd"):
        check_model_config({"architecture": "embedding_conv", **CONV, "kernel_size": 2}, "models/x")


def tags_data(n_clips: int = 12, classes: int = 3) -> SplitData:
    """Clips of 10 frames (one of 4 frames, padded) with clip tags as the split stage writes them for a weak set."""
    rng = np.random.default_rng(0)
    frames = [10] * (n_clips - 1) + [4]
    starts = np.concatenate([[0], np.cumsum(frames)[:-1]])
    labels = np.zeros((sum(frames), classes), dtype=np.uint8)
    for s, n in zip(starts, frames, strict=True):
        labels[s : s + n, rng.integers(classes)] = 1
    chunks = np.stack([starts, frames], axis=1).astype(np.int64)
    return SplitData(
        features=rng.normal(size=(sum(frames), 8)).astype(np.float32),
        labels=labels,
        chunks={"bal_train": chunks, "validate": chunks},
        mean=np.zeros(1, np.float32),
        std=np.ones(1, np.float32),
        chunk_frames=10,
        classes=[str(i) for i in range(classes)],
        frame_hop_s=1.0,
        target="tags",
        pad="zeros",
        sources={"bal_train": "weak"},
        sets={"bal_train": "weak", "validate": "weak"},
    )


def test_tags_target_batches_loss_and_ranking_history():
    data = tags_data()
    x, y = data.gather(data.chunks["bal_train"][:, 0], data.chunks["bal_train"][:, 1])
    assert x.shape == (12, 10, 8) and y.shape == (12, 3)
    assert float(x[-1, 4:].abs().max()) == 0.0  # the short clip padded with zeros
    expected = np.stack([data.labels[s : s + n].max(axis=0) for s, n in data.chunks["bal_train"]])
    np.testing.assert_array_equal(y.numpy(), expected)
    batch = make_batch(x, y, np.array(["weak"] * 11 + ["none"]), "tags")
    assert set(batch) == {"features", "tags", "mask_tags"} and not batch["mask_tags"][-1]
    loss = Loss.from_config(None, data.label_kind, data.target)
    logits = torch.randn(12, 3)
    keep = batch["mask_tags"]
    want = torch.nn.functional.binary_cross_entropy_with_logits(logits[keep], y[keep])
    assert float(loss({"tags": logits}, batch)) == pytest.approx(float(want), rel=1e-6)
    assert Objective("tags").output == "tags"
    model = build("embedding_conv", {**CONV, "channels": [4]}, 8, 3)
    history = ranking_history(model, data, "validate", 5, torch.device("cpu"))
    assert set(history) == {"val_auc", "val_ap"} and all(0.0 <= v <= 1.0 for v in history.values())
