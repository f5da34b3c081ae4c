"""Model layer: CRNN and HCRNN (Singh, Phan & Benetos, "Hypernetworks for SED", sec. 2) and the DnD-SED models
(Drossos et al. 2020 / Prinzivalle's replication, :mod:`.dnd`) and the CNN + Transformer of the sparse self-attention
paper (Guan et al., :mod:`.transformer`) and the multi-task recurrent VAE (Giannakopoulos & Pikrakis,
:mod:`.mtl_vae`) and the classifiers of AudioSet's embeddings (Xu, :mod:`.embedding`: fully connected, residual,
convolutional).

Every architecture is registered in :data:`ARCHITECTURES` with its declared config interface: a config dataclass
(``from_dict`` parses the model's config entry without ``name`` and ``architecture``, ValueError on a bad key) and
the constructor ``(config, n_features, n_classes) -> nn.Module``. A model maps normalised features (B, T, F) to
NAMED logits, a dict with one entry per output it has (see :data:`OUTPUTS`): ``strong`` (B, T, C) per frame for the
frame models, ``weak`` (B, C) per clip for the clip models, ``tags`` (B, C) multi-label per clip for a frame
model's clip head; a model may add outputs that are no predictions (:data:`PREDICTIONS`), e.g. the VAE's
``reconstruction`` and latent statistics, which only loss terms read. Training, prediction and benchmarks use the
names.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from ..io import InputError
from ..registry import Registry
from .cnn import CNN, CNNConfig
from .crnn import CRNN, CRNNConfig, RNNConfig
from .dnd import DnDConfig, DnDModel, build_dnd_model, dnd_preset
from .embedding import EmbeddingClassifier, EmbeddingConvConfig, EmbeddingFCConfig, EmbeddingResidualConfig
from .hyperlstm import HyperConfig, HyperLSTM, set_compiled
from .mtl_vae import MTLVAE, MTLVAEConfig
from .transformer import CNNTransformer, CNNTransformerConfig

__all__ = [
    "ARCHITECTURES",
    "OUTPUTS",
    "PREDICTIONS",
    "Architecture",
    "build",
    "build_model",
    "build_from_config",
    "check_model_config",
    "constructor_config",
    "probabilities",
    "build_dnd_model",
    "dnd_preset",
    "DnDConfig",
    "DnDModel",
    "count_parameters",
    "CNNConfig",
    "CRNNConfig",
    "RNNConfig",
    "HyperConfig",
    "CNN",
    "CRNN",
    "CNNTransformer",
    "CNNTransformerConfig",
    "HyperLSTM",
    "EmbeddingClassifier",
    "MTLVAE",
    "MTLVAEConfig",
    "set_compiled",
]


@dataclass(frozen=True)
class Architecture:
    """One architecture's config interface: `config` parses its keys (ValueError naming a bad one), `build` makes
    the module from the parsed config, the number of input features and of classes."""

    config: Callable[[Mapping[str, Any]], Any]
    build: Callable[[Any, int, int], nn.Module]


ARCHITECTURES: Registry[Architecture] = Registry("architecture")
ARCHITECTURES.register("crnn", Architecture(CRNNConfig.from_dict, lambda c, f, k: CRNN(c.cnn, c.rnn, f, k)))
ARCHITECTURES.register("dnd", Architecture(DnDConfig.from_dict, DnDModel))
ARCHITECTURES.register("cnn_transformer", Architecture(CNNTransformerConfig.from_dict, CNNTransformer))
ARCHITECTURES.register("mtl_vae", Architecture(MTLVAEConfig.from_dict, MTLVAE))
ARCHITECTURES.register("embedding_fc", Architecture(EmbeddingFCConfig.from_dict, EmbeddingClassifier))
ARCHITECTURES.register("embedding_residual", Architecture(EmbeddingResidualConfig.from_dict, EmbeddingClassifier))
ARCHITECTURES.register("embedding_conv", Architecture(EmbeddingConvConfig.from_dict, EmbeddingClassifier))

# The named outputs a model may return, each with how its logits become probabilities: "strong" frames are
# multi-label (sigmoid per class); "weak" clips carry one class each, as the clip target has it (softmax); "tags"
# are multi-label clip logits (B, C) of a frame model's clip head (sigmoid per class). The VAE's "reconstruction"
# (B, T, F) of the normalised features and its posterior's "latent_mean" and "latent_logvar" (B, T, Z) are values,
# not logits (identity).
OUTPUTS: dict[str, Callable[[Tensor], Tensor]] = {
    "strong": torch.sigmoid,
    "weak": lambda logits: torch.softmax(logits, dim=-1),
    "tags": torch.sigmoid,
    "reconstruction": lambda values: values,
    "latent_mean": lambda values: values,
    "latent_logvar": lambda values: values,
}
# The outputs that are predictions of the labels (class probabilities): what a mean teacher's consistency compares
# and what can be predicted and scored; the others feed loss terms only.
PREDICTIONS = frozenset({"strong", "weak", "tags"})


def probabilities(name: str, logits: Tensor) -> Tensor:
    """Probabilities of the model output `name` (see :data:`OUTPUTS`)."""
    if name not in OUTPUTS:
        raise ValueError(f"model output must be one of {sorted(OUTPUTS)}, got {name!r}")
    return OUTPUTS[name](logits)


def build_model(cnn: Mapping[str, Any], rnn: Mapping[str, Any], n_mels: int, n_classes: int) -> nn.Module:
    """Build a CRNN (``rnn.cell`` "lstm") or HCRNN (``rnn.cell`` "hyperlstm") from config dicts.

    Raises ValueError for unknown/missing keys or invalid values (see the config dataclasses).
    """
    return CRNN(CNNConfig.from_dict(cnn), RNNConfig.from_dict(rnn), n_mels, n_classes)


def build(architecture: str, cfg: Mapping[str, Any], n_features: int, n_classes: int) -> nn.Module:
    """Build the registered `architecture` from its constructor config `cfg` (InputError naming the known ones if
    it is not registered; ValueError for a bad config key)."""
    spec = ARCHITECTURES.get(architecture, "model key 'architecture'")
    return spec.build(spec.config(cfg), n_features, n_classes)


def constructor_config(model_cfg: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """(architecture, constructor config) of a model's config entry as the workflow passes it: ``architecture`` plus
    that architecture's keys (``name`` is the entry's name, not part of the network)."""
    if "architecture" not in model_cfg:
        raise ValueError(
            f"a model config names its architecture (one of {list(ARCHITECTURES.names())}); "
            f"got the keys {sorted(model_cfg)}"
        )
    return model_cfg["architecture"], {k: v for k, v in model_cfg.items() if k not in ("name", "architecture")}


def check_model_config(model_cfg: Mapping[str, Any], key: str) -> Any:
    """Parse a model's config entry with its registered architecture's config class, building nothing: for checks
    at workflow start. An unregistered architecture or a bad key is one InputError naming the config `key`
    ("models/<name>")."""
    try:
        architecture, cfg = constructor_config(model_cfg)
        return ARCHITECTURES.get(architecture, f"config key '{key}/architecture'").config(cfg)
    except ValueError as err:
        raise InputError(f"config key '{key}': {err}") from None


def build_from_config(model_cfg: Mapping[str, Any], n_features: int, n_classes: int) -> nn.Module:
    """Build from a model's config entry as the workflow passes it (see :func:`constructor_config`)."""
    return build(*constructor_config(model_cfg), n_features, n_classes)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters (BatchNorm running statistics are buffers, not counted)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
