"""Model layer: CRNN and HCRNN (Singh, Phan & Benetos, "Hypernetworks for SED", sec. 2).

``build_model(cnn, rnn, n_mels, n_classes)`` turns the validated config's ``cnn`` and ``rnn``
dicts into a module mapping normalised log-mel (B, T, F) to per-frame logits (B, T, C).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch import nn

from .cnn import CNN, CNNConfig
from .crnn import CRNN, RNNConfig
from .hyperlstm import HyperConfig, HyperLSTM

__all__ = [
    "MODEL_CLASSES",
    "build_model",
    "count_parameters",
    "CNNConfig",
    "RNNConfig",
    "HyperConfig",
    "CNN",
    "CRNN",
    "HyperLSTM",
]

MODEL_CLASSES = ("crnn",)


def build_model(cnn: Mapping[str, Any], rnn: Mapping[str, Any], n_mels: int, n_classes: int) -> nn.Module:
    """Build a CRNN (``rnn.cell`` "lstm") or HCRNN (``rnn.cell`` "hyperlstm") from config dicts.

    Raises ValueError for unknown/missing keys or invalid values (see the config dataclasses).
    """
    return CRNN(CNNConfig.from_dict(cnn), RNNConfig.from_dict(rnn), n_mels, n_classes)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters (BatchNorm running statistics are buffers, not counted)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
