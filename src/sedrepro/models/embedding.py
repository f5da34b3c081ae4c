"""Classifiers of AudioSet's released 128-d embeddings (Xu, "Audio Event Recognition", sec. 3.1-3.3): a fully connected
network, a residual network and a convolutional network over the 10 one-second frames, each with sigmoid outputs.

The report gives no layer sizes, orders or initialiser: the choices below are ours (docs/papers/audioset.md).
- ``embedding_fc``: the frames flattened (10 x 128 = 1280, the report's X in R^{N x 1280}), ``hidden_layers`` x
  [Linear(width) -> ReLU -> Dropout], Linear(n_classes). One hidden layer is the report's "two-layer vanilla
  fully-connected network".
- ``embedding_residual``: flattened frames, Linear(width) -> ReLU, then ``blocks`` residual blocks
  h <- ReLU(h + Linear(Dropout(ReLU(Linear(h))))), Linear(n_classes).
- ``embedding_conv``: Conv1d over the frames (embedding dimensions as channels), each layer
  Conv1d(channels, kernel_size, pad k // 2) -> ReLU -> Dropout, max over frames, Linear(width) -> ReLU -> Dropout,
  Linear(n_classes).
``weight_scale``: the standard deviation of the normal initial weights of every linear and convolution layer (biases
zero), the report's "weight scale of initialization"; null keeps PyTorch's default initialisation.

Output (:data:`sedrepro.models.OUTPUTS`): ``tags`` (B, C), multi-label clip logits (sigmoid).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from .checks import check_keys, int_tuple, positive_int, positive_number, rate

__all__ = ["EmbeddingConvConfig", "EmbeddingFCConfig", "EmbeddingResidualConfig", "EmbeddingClassifier"]


def _scale(name: str, v: Any) -> float | None:
    return None if v is None else positive_number(name, v)


def _check_head(kind: str, width: int, dropout: float, weight_scale: float | None) -> None:
    """The keys every embedding classifier has: hidden width, dropout rate, initial weight scale."""
    positive_int(f"{kind}.width", width)
    rate(f"{kind}.dropout", dropout)
    _scale(f"{kind}.weight_scale", weight_scale)


class _FromDict:
    """from_dict of a config dataclass: exactly its FIELDS (one-line error otherwise), `convert` per field."""

    FIELDS: tuple[str, ...] = ()
    KIND = ""

    @classmethod
    def convert(cls, d: Mapping[str, Any]) -> dict[str, Any]:
        return {k: d[k] for k in cls.FIELDS}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]):
        check_keys(cls.KIND, d, cls.FIELDS)
        return cls(**cls.convert(d))


@dataclass(frozen=True)
class EmbeddingFCConfig(_FromDict):
    """embedding_fc: frames flattened, hidden_layers x (width units, ReLU, dropout), then the output layer."""

    frames: int
    width: int
    hidden_layers: int
    dropout: float
    weight_scale: float | None

    FIELDS = ("frames", "width", "hidden_layers", "dropout", "weight_scale")
    KIND = "embedding_fc"

    def __post_init__(self) -> None:
        positive_int(f"{self.KIND}.frames", self.frames)
        positive_int(f"{self.KIND}.hidden_layers", self.hidden_layers)
        _check_head(self.KIND, self.width, self.dropout, self.weight_scale)


@dataclass(frozen=True)
class EmbeddingResidualConfig(_FromDict):
    """embedding_residual: frames flattened, a width-unit input layer, residual blocks, the output layer."""

    frames: int
    width: int
    blocks: int
    dropout: float
    weight_scale: float | None

    FIELDS = ("frames", "width", "blocks", "dropout", "weight_scale")
    KIND = "embedding_residual"

    def __post_init__(self) -> None:
        positive_int(f"{self.KIND}.frames", self.frames)
        positive_int(f"{self.KIND}.blocks", self.blocks)
        _check_head(self.KIND, self.width, self.dropout, self.weight_scale)


@dataclass(frozen=True)
class EmbeddingConvConfig(_FromDict):
    """embedding_conv: Conv1d layers over the frames (channels per layer, odd kernel), max over frames, a width-unit
    hidden layer, the output layer."""

    channels: tuple[int, ...]
    kernel_size: int
    width: int
    dropout: float
    weight_scale: float | None

    FIELDS = ("channels", "kernel_size", "width", "dropout", "weight_scale")
    KIND = "embedding_conv"

    def __post_init__(self) -> None:
        k = positive_int(f"{self.KIND}.kernel_size", self.kernel_size)
        if k % 2 == 0:
            raise ValueError(f"{self.KIND}.kernel_size must be odd (padding k//2 keeps the frames), got {k}")
        _check_head(self.KIND, self.width, self.dropout, self.weight_scale)

    @classmethod
    def convert(cls, d: Mapping[str, Any]) -> dict[str, Any]:
        return {**super().convert(d), "channels": int_tuple(f"{cls.KIND}.channels", d["channels"])}


class _Residual(nn.Module):
    def __init__(self, width: int, dropout: float) -> None:
        super().__init__()
        self.inner = nn.Sequential(nn.Linear(width, width), nn.ReLU(), nn.Dropout(dropout), nn.Linear(width, width))

    def forward(self, h: Tensor) -> Tensor:
        return torch.relu(h + self.inner(h))


class EmbeddingClassifier(nn.Module):
    """One of the three networks (by its config's type); forward: x (B, T, F) -> {"tags": (B, C) logits}."""

    def __init__(
        self, cfg: EmbeddingFCConfig | EmbeddingResidualConfig | EmbeddingConvConfig, n_features: int, n_classes: int
    ) -> None:
        super().__init__()
        self.cfg = cfg
        if isinstance(cfg, EmbeddingConvConfig):
            layers: list[nn.Module] = []
            c_in = n_features
            for c_out in cfg.channels:
                layers += [nn.Conv1d(c_in, c_out, cfg.kernel_size, padding=cfg.kernel_size // 2), nn.ReLU()]
                layers.append(nn.Dropout(cfg.dropout))
                c_in = c_out
            self.body = nn.Sequential(*layers)
            self.head = nn.Sequential(
                nn.Linear(c_in, cfg.width), nn.ReLU(), nn.Dropout(cfg.dropout), nn.Linear(cfg.width, n_classes)
            )
        else:
            n_in = cfg.frames * n_features
            if isinstance(cfg, EmbeddingFCConfig):
                layers = []
                for _ in range(cfg.hidden_layers):
                    layers += [nn.Linear(n_in, cfg.width), nn.ReLU(), nn.Dropout(cfg.dropout)]
                    n_in = cfg.width
            else:
                layers = [nn.Linear(n_in, cfg.width), nn.ReLU()]
                layers += [_Residual(cfg.width, cfg.dropout) for _ in range(cfg.blocks)]
            self.body = nn.Sequential(*layers)
            self.head = nn.Linear(cfg.width, n_classes)
        if cfg.weight_scale is not None:
            for module in self.modules():
                if isinstance(module, nn.Linear | nn.Conv1d):
                    nn.init.normal_(module.weight, 0.0, cfg.weight_scale)
                    nn.init.zeros_(module.bias)

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        if isinstance(self.cfg, EmbeddingConvConfig):
            h = self.body(x.transpose(1, 2)).amax(dim=2)  # (B, F, T) -> (B, channels)
            return {"tags": self.head(h)}
        if x.shape[1] != self.cfg.frames:
            raise ValueError(f"{self.cfg.KIND} expects {self.cfg.frames} frames per example, got {x.shape[1]}")
        return {"tags": self.head(self.body(x.flatten(1)))}
