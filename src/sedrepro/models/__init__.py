"""Model layer: CRNN and HCRNN (Singh, Phan & Benetos, "Hypernetworks for SED", sec. 2).

``build_model(cnn, rnn, n_mels, n_classes)`` turns the validated config's ``cnn`` and ``rnn``
dicts into a module mapping normalised log-mel (B, T, F) to per-frame logits (B, T, C).

Second paper (DnD-SED, Drossos et al. 2020 / Prinzivalle's replication): ``build_dnd_model(cfg,
n_features, n_classes)`` in :mod:`.dnd`. ``build(architecture, cfg, n_features, n_classes)``
dispatches over :data:`ARCHITECTURES` ("crnn": cfg has keys ``cnn`` and ``rnn``, passed to
``build_model``; "dnd": cfg is a DnD config). ``MODEL_CLASSES`` and ``build_model`` are unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch import nn

from .cnn import CNN, CNNConfig
from .crnn import CRNN, RNNConfig
from .dnd import DnDConfig, DnDModel, build_dnd_model, dnd_preset
from .hyperlstm import HyperConfig, HyperLSTM, set_compiled

__all__ = [
    "MODEL_CLASSES",
    "ARCHITECTURES",
    "build",
    "build_model",
    "build_from_config",
    "build_dnd_model",
    "dnd_preset",
    "DnDConfig",
    "DnDModel",
    "count_parameters",
    "CNNConfig",
    "RNNConfig",
    "HyperConfig",
    "CNN",
    "CRNN",
    "HyperLSTM",
    "set_compiled",
]

MODEL_CLASSES = ("crnn",)
ARCHITECTURES = ("crnn", "dnd")


def build_model(cnn: Mapping[str, Any], rnn: Mapping[str, Any], n_mels: int, n_classes: int) -> nn.Module:
    """Build a CRNN (``rnn.cell`` "lstm") or HCRNN (``rnn.cell`` "hyperlstm") from config dicts.

    Raises ValueError for unknown/missing keys or invalid values (see the config dataclasses).
    """
    return CRNN(CNNConfig.from_dict(cnn), RNNConfig.from_dict(rnn), n_mels, n_classes)


def build(architecture: str, cfg: Mapping[str, Any], n_features: int, n_classes: int) -> nn.Module:
    """Build any registered architecture (see :data:`ARCHITECTURES`); ValueError if unknown.

    "crnn": ``cfg`` must hold exactly ``cnn`` and ``rnn`` (``n_features`` is ``n_mels``).
    "dnd": ``cfg`` is a DnD config (``dnd.DnDConfig.from_dict``).
    """
    if architecture == "crnn":
        if not isinstance(cfg, Mapping) or set(cfg) != {"cnn", "rnn"}:
            raise ValueError(f"crnn config must have exactly the keys ['cnn', 'rnn'], got {cfg!r}")
        return build_model(cfg["cnn"], cfg["rnn"], n_features, n_classes)
    if architecture == "dnd":
        return build_dnd_model(cfg, n_features, n_classes)
    raise ValueError(f"architecture must be one of {list(ARCHITECTURES)}, got {architecture!r}")


def build_from_config(model_cfg: Mapping[str, Any], n_features: int, n_classes: int) -> nn.Module:
    """Build from a model's config entry as the workflow passes it: ``architecture`` plus that architecture's keys
    (``name`` ignored)."""
    cfg = {k: v for k, v in model_cfg.items() if k not in ("name", "architecture")}
    return build(model_cfg.get("architecture", "crnn"), cfg, n_features, n_classes)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters (BatchNorm running statistics are buffers, not counted)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
