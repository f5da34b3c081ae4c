"""Item 9 of issue 15: every tensor a model, loss or recipe creates takes its device from its inputs. Model and batch
live on the `meta` device, where a tensor made on the CPU (torch.zeros(...) without device=) fails the operation
that meets it. Parametrised over the registries, so a newly registered architecture or recipe is covered (an
architecture without an entry in the default or tiny config fails here until it has one)."""

from __future__ import annotations

import pytest
import torch

from sedrepro import config as sconfig
from sedrepro.data import LABEL_KIND, TARGET_KEY
from sedrepro.losses import Loss
from sedrepro.models import ARCHITECTURES, OUTPUTS, build_from_config
from sedrepro.recipes import RECIPES

META = torch.device("meta")
CONFIGS = {
    "default": [sconfig.REPO / "config.yaml"],
    "tiny": [sconfig.REPO / "config.yaml", sconfig.REPO / "config" / "tiny.yaml"],
}
N_CLASSES, B, T = 5, 3, 24
# Architectures registered before their paper's config entries exist (skipped only while they have none; their own
# tests build them on meta): the papers' steps of issues 16 and 17 add their models to the configs.
PENDING_ENTRIES = {
    "cnn_transformer": "issue 16: tests/test_transformer.py builds it on meta until ssa's entries exist",
}


def entries(architecture: str) -> list[tuple[str, dict, int, str]]:
    """(where, model config, feature count, pipeline target) of each config entry of `architecture`."""
    out = []
    for cname, paths in CONFIGS.items():
        cfg = sconfig.load(paths)
        for name in sorted(cfg["models"]):
            if "ensemble" in cfg["models"][name]:  # no network of its own
                continue
            model_cfg = sconfig.model_config(cfg, name)
            if model_cfg["architecture"] == architecture:
                pipeline = cfg["pipelines"][sconfig.model_pipeline(cfg, name)]
                features = pipeline["features"]
                n_features = features.get("n_features") or features["n_mfcc"] or features["n_mels"]
                frames = pipeline["chunks"].get("length_frames", T)  # a network over embeddings takes its pipeline's
                out.append((f"{cname}:{name}", model_cfg, n_features, pipeline["target"], frames))
    return out


def meta_batch(n_features: int, kind: str, frames: int = T) -> dict[str, torch.Tensor]:
    """A batch on meta with the targets of batch key `kind`: frame labels, clip classes or clip tags."""
    target = {
        "strong": lambda: torch.empty(B, frames, N_CLASSES, device=META),
        "weak": lambda: torch.empty(B, dtype=torch.long, device=META),
        "tags": lambda: torch.empty(B, N_CLASSES, device=META),
    }[kind]()
    return {
        "features": torch.empty(B, frames, n_features, device=META),
        kind: target,
        f"mask_{kind}": torch.empty(B, dtype=torch.bool, device=META),
    }


def test_a_cpu_tensor_fails_on_meta():
    """The premise: meta does not silently accept a CPU-made tensor."""
    with pytest.raises((RuntimeError, NotImplementedError)):
        torch.empty(2, 3, device=META) + torch.zeros(2, 3)


@pytest.mark.parametrize("architecture", ARCHITECTURES.names())
def test_forward_and_backward_on_meta(architecture: str) -> None:
    found = entries(architecture)
    if not found and architecture in PENDING_ENTRIES:
        pytest.skip(PENDING_ENTRIES[architecture])
    assert found, f"architecture {architecture!r} has no entry in the default or tiny config to build it with"
    for where, model_cfg, n_features, target, frames in found:
        with META:
            model = build_from_config(model_cfg, n_features, N_CLASSES).train()
        outputs = model(torch.empty(B, frames, n_features, device=META))
        kind = TARGET_KEY[target]
        assert kind in outputs and set(outputs) <= set(OUTPUTS), where
        assert all(v.device == META for v in outputs.values()), where
        loss = Loss.from_config(None, LABEL_KIND[target], target)(outputs, meta_batch(n_features, kind, frames))
        # outputs the default loss does not read (a frame model's clip tags) take part too, so every parameter has a grad
        (loss + sum(v.sum() for name, v in outputs.items() if name != kind)).backward()
        assert all(p.grad is not None and p.grad.device == META for p in model.parameters()), where


@pytest.mark.parametrize("cname", sorted(CONFIGS))
def test_configured_losses_restricted_to_sources_on_meta(cname: str) -> None:
    """Each entry whose loss terms name training sources (the multi-task VAE's Figure 2 rows): its configured loss on
    meta, with the batch's row sources, frame labels, clip tags and masks there too."""
    cfg = sconfig.load(CONFIGS[cname])
    checked = 0
    for name in sorted(cfg["models"]):
        if "ensemble" in cfg["models"][name]:
            continue  # no network, no training
        training = sconfig.model_training(cfg, name)
        if not any("sources" in term for term in training["loss"] or ()):
            continue
        pipeline = cfg["pipelines"][sconfig.model_pipeline(cfg, name)]
        n_features = pipeline["features"]["n_mfcc"] or pipeline["features"]["n_mels"]
        with META:
            model = build_from_config(sconfig.model_config(cfg, name), n_features, N_CLASSES).train()
        sources = [s["split"] for s in training["sources"]]
        batch = {
            **meta_batch(n_features, "strong"),
            "tags": torch.empty(B, N_CLASSES, device=META),
            "mask_tags": torch.empty(B, dtype=torch.bool, device=META),
            "source": torch.empty(B, dtype=torch.long, device=META),
        }
        loss = Loss.from_config(training["loss"], "strong", sources=sources)(model(batch["features"]), batch)
        assert loss.device == META, name
        loss.backward()
        checked += 1
    assert checked >= 6  # the six mtl_vae entries


@pytest.mark.parametrize("recipe", RECIPES.names())
@pytest.mark.parametrize("model_name", ["crnn_uni", "mono_baseline"])
def test_recipe_step_on_meta(recipe: str, model_name: str) -> None:
    """A recipe's step (objective, backward, after_step) with model and batch on meta: frame and clip models."""
    cfg = sconfig.load(CONFIGS["tiny"])
    training = sconfig.model_training(cfg, model_name)
    pipeline = cfg["pipelines"][sconfig.model_pipeline(cfg, model_name)]
    n_features = pipeline["features"]["n_mfcc"] or pipeline["features"]["n_mels"]
    kind = LABEL_KIND[pipeline["target"]]
    with META:
        model = build_from_config(sconfig.model_config(cfg, model_name), n_features, N_CLASSES).train()
    step = RECIPES.get(recipe)(model, Loss.from_config(training["loss"], kind), training)
    loss, outputs = step.objective(meta_batch(n_features, kind))
    assert loss.device == META and set(outputs) == {kind}
    loss.backward()
    step.after_step()
    assert all(p.device == META for p in step.scored.parameters())
