"""CNN + Transformer encoder of the sparse self-attention paper (Guan et al., "Sparse self-attention for
semi-supervised sound event detection", sec. 2-3; peer code ``guanyadong/ssa_sed``, models.md sec. 3.1 and 3.3).

Front end: the DCASE 2020 Task 4 baseline CNN (models.md 3.1; the paper: "the same CNN as in [17]"): 7 blocks of
Conv2d 3x3 (pad 1) -> BatchNorm2d(eps 1e-3, momentum 0.99) -> gated activation -> Dropout(0.5) -> AvgPool2d, channels
16-32-64-128-128-128-128, pools (time, freq) (2,2), (2,2), then (1,2) five times: 128 mel bins -> 1, time / 4. The
momentum 0.99 is the baseline's Keras-port value (in PyTorch it weights the new batch at 0.99); it is kept as the
default because the baseline runs with it. Activation "glu" is the baseline's GLU (Linear over channels times
sigmoid(x)); the peer code's training script passes "cg" (context gating, x times sigmoid(Linear(x))); both have the
same parameters. AvgPool2d in floor mode as the baseline: up to (time factor - 1) trailing frames are not seen.

Encoder: ``transformer.layers`` post-LN layers as ``torch.nn.TransformerEncoderLayer`` (ReLU feed-forward, dropout on
both residual branches), no positional encoding (the peer code has none), d_model = CNN output width. The peer code
uses 1 layer (the paper does not say). Attention: A = QK^T / sqrt(d_head) (paper eq. 1; d = the key dimension of a
head, as the peer code scales), then weights = softmax(A) (paper eq. 2, the baseline) or sparsemax(A / lambda) (eq. 7,
``transformer.sparsity`` = lambda; entmax.sparsemax). The peer code hard-codes lambda 1.3 and has no attention
dropout (``attention_dropout`` 0.0).

Outputs (logits, :data:`sedrepro.models.OUTPUTS`): ``strong`` (B, T, C) per input frame and ``tags`` (B, C) per clip.
Frame rate: the project's strong outputs are at the input frame rate (predict.predict_frames averages chunk
predictions per input frame, the strong loss compares with (B, L, C) labels), so each of the T' = T // 4 output frames
is repeated 4 times and the last one fills the up to 3 frames floor pooling dropped; the clip head works on the T'
frames as the baseline does. Clip head: the baseline's attention pooling p = sum_t sigmoid(s_t) w_t / sum_t w_t with
w = clamp(softmax over classes of a second linear head, 1e-7, 1) ("mean": w = 1). The baseline pools probabilities;
the tags output is the logit of that pooled probability, computed in log space (sum_t w_t = 1 after normalising, so
1 - p = sum_t sigmoid(-s_t) w_t): tags = logsumexp(logsigmoid(s) + log w) - logsumexp(logsigmoid(-s) + log w). Its
sigmoid is the pooled probability, without clamping or overflow at saturated frames.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from entmax import sparsemax
from torch import Tensor, nn

from .checks import check_keys, conv_fields, conv_stack, one_of, positive_int, positive_number, rate

__all__ = [
    "ACTIVATIONS",
    "ATTENTIONS",
    "POOLINGS",
    "DCASECNNConfig",
    "EncoderConfig",
    "CNNTransformerConfig",
    "DCASECNN",
    "SelfAttention",
    "EncoderLayer",
    "CNNTransformer",
    "normalise_scores",
]

ACTIVATIONS = ("glu", "cg", "relu")
ATTENTIONS = ("softmax", "sparsemax")
POOLINGS = ("attention", "mean")
_MIN_POOL_WEIGHT = 1e-7  # the baseline's clamp of the pooling weights


@dataclass(frozen=True)
class DCASECNNConfig:
    """The ``cnn`` block: the DCASE 2020 baseline front end (module docstring; defaults in config/schema.yaml).

    channels, pool_time, pool_freq: one entry per block. kernel_size: odd k of the k x k convs (padding k // 2).
    activation: "glu" (baseline), "cg" (peer code) or "relu". dropout: after the activation. bn_eps, bn_momentum:
    BatchNorm2d's, as PyTorch reads them.
    """

    channels: tuple[int, ...]
    kernel_size: int
    pool_time: tuple[int, ...]
    pool_freq: tuple[int, ...]
    activation: str
    dropout: float
    bn_eps: float
    bn_momentum: float

    FIELDS = ("channels", "kernel_size", "pool_time", "pool_freq", "activation", "dropout", "bn_eps", "bn_momentum")

    def __post_init__(self) -> None:
        conv_stack("cnn", self, ("pool_time", "pool_freq"), self.kernel_size)
        one_of("cnn.activation", self.activation, ACTIVATIONS)
        rate("cnn.dropout", self.dropout)
        positive_number("cnn.bn_eps", self.bn_eps)
        if isinstance(self.bn_momentum, bool) or not isinstance(self.bn_momentum, (int, float)):
            raise ValueError(f"cnn.bn_momentum must be a number in (0, 1], got {self.bn_momentum!r}")
        if not 0.0 < self.bn_momentum <= 1.0:
            raise ValueError(f"cnn.bn_momentum must be a number in (0, 1], got {self.bn_momentum!r}")

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> DCASECNNConfig:
        """Parse a config dict; ValueError names unknown or missing keys."""
        check_keys("cnn", d, cls.FIELDS)
        return cls(
            **conv_fields("cnn", d),
            activation=d["activation"],
            dropout=d["dropout"],
            bn_eps=d["bn_eps"],
            bn_momentum=d["bn_momentum"],
        )

    @property
    def time_factor(self) -> int:
        return math.prod(self.pool_time)


@dataclass(frozen=True)
class EncoderConfig:
    """The ``transformer`` block. layers: encoder layers (peer code 1). heads: 16 (paper). feedforward: 512 (paper).
    dropout: 0.2 (paper), on the residual branches and inside the feed-forward. attention_dropout: on the attention
    weights (peer code: none). attention: "softmax" (baseline) or "sparsemax" (SSA). sparsity: lambda of eq. 7, the
    scores are divided by it before sparsemax; softmax takes none (1.0), as the paper's baseline."""

    layers: int
    heads: int
    feedforward: int
    dropout: float
    attention_dropout: float
    attention: str
    sparsity: float

    FIELDS = ("layers", "heads", "feedforward", "dropout", "attention_dropout", "attention", "sparsity")

    def __post_init__(self) -> None:
        for name in ("layers", "heads", "feedforward"):
            positive_int(f"transformer.{name}", getattr(self, name))
        rate("transformer.dropout", self.dropout)
        rate("transformer.attention_dropout", self.attention_dropout)
        one_of("transformer.attention", self.attention, ATTENTIONS)
        positive_number("transformer.sparsity", self.sparsity)
        if self.attention == "softmax" and self.sparsity != 1.0:
            raise ValueError(
                f"transformer.sparsity applies to sparsemax only; with attention 'softmax' it must be 1.0, "
                f"got {self.sparsity!r}"
            )

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> EncoderConfig:
        """Parse a config dict; ValueError names unknown or missing keys."""
        check_keys("transformer", d, cls.FIELDS)
        return cls(**{k: d[k] for k in cls.FIELDS})


@dataclass(frozen=True)
class CNNTransformerConfig:
    """A whole cnn_transformer config: the ``cnn`` and ``transformer`` blocks and the clip head's ``pooling``
    ("attention": the baseline's attention pooling; "mean": mean of the frame probabilities)."""

    cnn: DCASECNNConfig
    transformer: EncoderConfig
    pooling: str

    FIELDS = ("cnn", "transformer", "pooling")

    def __post_init__(self) -> None:
        one_of("pooling", self.pooling, POOLINGS)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> CNNTransformerConfig:
        """Parse a config dict; ValueError names unknown or missing keys (at every level)."""
        check_keys("cnn_transformer", d, cls.FIELDS)
        return cls(DCASECNNConfig.from_dict(d["cnn"]), EncoderConfig.from_dict(d["transformer"]), d["pooling"])


class _Gate(nn.Module):
    """The baseline's gated activations, a linear map over channels (as a 1x1 conv, the same parameters):
    "glu" lin(x) * sigmoid(x), "cg" x * sigmoid(lin(x))."""

    def __init__(self, channels: int, kind: str) -> None:
        super().__init__()
        self.kind = kind
        self.linear = nn.Conv2d(channels, channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        if self.kind == "glu":
            return self.linear(x) * torch.sigmoid(x)
        return x * torch.sigmoid(self.linear(x))


class DCASECNN(nn.Module):
    """The baseline's blocks Conv -> BN -> activation -> Dropout -> AvgPool (floor mode).

    forward: x (B, T, F) -> (B, T', channels[-1] * F') with T', F' the floor-pooled sizes (F' = 1 for 128 mel bins).
    """

    def __init__(self, cfg: DCASECNNConfig, n_features: int) -> None:
        super().__init__()
        self.cfg = cfg
        self.n_bins = n_features
        for p in cfg.pool_freq:
            self.n_bins //= p
        if self.n_bins < 1:
            raise ValueError(
                f"cnn.pool_freq {list(cfg.pool_freq)} pools the {n_features} input features to none (needs at least "
                f"{math.prod(cfg.pool_freq)})"
            )
        blocks: list[nn.Module] = []
        c_in, k = 1, cfg.kernel_size
        for c_out, pt, pf in zip(cfg.channels, cfg.pool_time, cfg.pool_freq, strict=True):
            act: nn.Module = nn.ReLU() if cfg.activation == "relu" else _Gate(c_out, cfg.activation)
            blocks.append(
                nn.Sequential(
                    nn.Conv2d(c_in, c_out, k, padding=k // 2),
                    nn.BatchNorm2d(c_out, eps=cfg.bn_eps, momentum=cfg.bn_momentum),
                    act,
                    nn.Dropout(cfg.dropout),
                    nn.AvgPool2d((pt, pf)),
                )
            )
            c_in = c_out
        self.blocks = nn.Sequential(*blocks)
        self.out_features = cfg.channels[-1] * self.n_bins

    def out_frames(self, t: int) -> int:
        """Frames T' left after the blocks for t input frames (floor pooling)."""
        for p in self.cfg.pool_time:
            t //= p
        return t

    def forward(self, x: Tensor) -> Tensor:
        y = self.blocks(x.unsqueeze(1))  # (B, C, T', F')
        b, c, t, f = y.shape
        return y.permute(0, 2, 1, 3).reshape(b, t, c * f)  # (B, T', C * F'), channel-major as the baseline


def normalise_scores(scores: Tensor, attention: str, sparsity: float) -> Tensor:
    """Attention weights from scaled scores QK^T / sqrt(d) along the last axis: softmax (eq. 2) or
    sparsemax(scores / lambda) (eqs. 5-7, lambda = `sparsity`)."""
    if attention == "softmax":
        return torch.softmax(scores, dim=-1)
    return sparsemax(scores / sparsity, dim=-1)


class SelfAttention(nn.Module):
    """Multi-head self-attention with the parameter layout and initialisation of ``torch.nn.MultiheadAttention``
    (``in_proj_weight`` (3D, D), ``in_proj_bias``, ``out_proj``), so its state loads into one and back; with softmax
    it computes what that module computes."""

    def __init__(self, d_model: int, heads: int, attention: str, sparsity: float, dropout: float) -> None:
        super().__init__()
        if d_model % heads:
            raise ValueError(f"transformer.heads ({heads}) must divide the CNN output width d_model ({d_model})")
        self.heads, self.head_dim = heads, d_model // heads
        self.attention, self.sparsity = attention, sparsity
        self.in_proj_weight = nn.Parameter(torch.empty(3 * d_model, d_model))
        self.in_proj_bias = nn.Parameter(torch.empty(3 * d_model))
        self.out_proj = nn.Linear(d_model, d_model)
        self.dropout = nn.Dropout(dropout)
        nn.init.xavier_uniform_(self.in_proj_weight)
        nn.init.zeros_(self.in_proj_bias)
        nn.init.zeros_(self.out_proj.bias)

    def _qkv(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        b, t, _ = x.shape
        qkv = F.linear(x, self.in_proj_weight, self.in_proj_bias)  # (B, T, 3D)
        q, k, v = qkv.view(b, t, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4)  # each (B, H, T, d)
        return q, k, v

    def weights(self, x: Tensor) -> Tensor:
        """Normalised attention weights (B, H, T, T) of x (B, T, D): row t is query frame t over all key frames."""
        q, k, _ = self._qkv(x)
        return self._weights(q, k)

    def _weights(self, q: Tensor, k: Tensor) -> Tensor:
        scores = q @ k.transpose(-2, -1) / math.sqrt(self.head_dim)  # (B, H, T, T), eq. 1
        return normalise_scores(scores, self.attention, self.sparsity)

    def forward(self, x: Tensor) -> Tensor:
        q, k, v = self._qkv(x)
        y = self.dropout(self._weights(q, k)) @ v  # (B, H, T, d), eq. 3
        b, _, t, _ = y.shape
        return self.out_proj(y.transpose(1, 2).reshape(b, t, -1))  # (B, T, D)


class EncoderLayer(nn.Module):
    """Post-LN encoder layer, the computation of ``nn.TransformerEncoderLayer(norm_first=False, activation=relu)``
    with :class:`SelfAttention` in place of its attention."""

    def __init__(self, d_model: int, cfg: EncoderConfig) -> None:
        super().__init__()
        self.self_attn = SelfAttention(d_model, cfg.heads, cfg.attention, cfg.sparsity, cfg.attention_dropout)
        self.linear1 = nn.Linear(d_model, cfg.feedforward)
        self.linear2 = nn.Linear(cfg.feedforward, d_model)
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.dropout = nn.Dropout(cfg.dropout)
        self.dropout1 = nn.Dropout(cfg.dropout)
        self.dropout2 = nn.Dropout(cfg.dropout)

    def forward(self, x: Tensor) -> Tensor:
        x = self.norm1(x + self.dropout1(self.self_attn(x)))
        return self.norm2(x + self.dropout2(self.linear2(self.dropout(F.relu(self.linear1(x))))))


class CNNTransformer(nn.Module):
    """The paper's student: DCASE CNN -> Transformer encoder -> per-frame linear head and clip head (module
    docstring). forward: x (B, T, F) -> {"strong": (B, T, C), "tags": (B, C)} logits."""

    def __init__(self, cfg: CNNTransformerConfig, n_features: int, n_classes: int) -> None:
        super().__init__()
        positive_int("n_features", n_features)
        positive_int("n_classes", n_classes)
        self.cfg, self.n_features, self.n_classes = cfg, n_features, n_classes
        self.time_factor = cfg.cnn.time_factor
        self.cnn = DCASECNN(cfg.cnn, n_features)
        d_model = self.cnn.out_features
        self.layers = nn.ModuleList(EncoderLayer(d_model, cfg.transformer) for _ in range(cfg.transformer.layers))
        self.head = nn.Linear(d_model, n_classes)
        self.pool_head = nn.Linear(d_model, n_classes) if cfg.pooling == "attention" else None

    def _check(self, x: Tensor) -> None:
        if x.dim() != 3 or x.shape[2] != self.n_features:
            raise ValueError(f"CNNTransformer expects input (B, T, {self.n_features}), got {tuple(x.shape)}")
        if x.shape[1] < self.time_factor:
            raise ValueError(
                f"CNNTransformer needs at least {self.time_factor} frames (its time pooling), got {x.shape[1]}"
            )

    def encode(self, x: Tensor, layers: int | None = None) -> Tensor:
        """(B, T', D) after the CNN and the first `layers` encoder layers (all by default)."""
        self._check(x)
        h = self.cnn(x)  # (B, T', D)
        for layer in self.layers[:layers]:
            h = layer(h)
        return h

    def attention_weights(self, x: Tensor, layer: int) -> Tensor:
        """Attention weights (B, heads, T', T') of encoder layer `layer` (0-based) for input x (B, T, F): row t is
        query output frame t (input frames [t P, (t + 1) P), P the time factor) over all T' frames (paper fig. 2)."""
        if not 0 <= layer < len(self.layers):
            raise ValueError(f"layer must be in [0, {len(self.layers)}), got {layer}")
        return self.layers[layer].self_attn.weights(self.encode(x, layer))

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        h = self.encode(x)  # (B, T', D)
        frames = self.head(h)  # (B, T', C)
        log_p, log_q = F.logsigmoid(frames), F.logsigmoid(-frames)  # log sigmoid(s), log (1 - sigmoid(s))
        if self.pool_head is None:
            log_w = torch.full_like(frames, -math.log(frames.shape[1]))
        else:
            w = torch.softmax(self.pool_head(h), dim=-1).clamp(_MIN_POOL_WEIGHT, 1.0)  # (B, T', C), over classes
            log_w = w.log() - w.sum(dim=1, keepdim=True).log()  # normalised over frames
        tags = torch.logsumexp(log_p + log_w, dim=1) - torch.logsumexp(log_q + log_w, dim=1)  # (B, C)
        t = x.shape[1]
        strong = frames.repeat_interleave(self.time_factor, dim=1)  # (B, T' P, C), T' P <= T
        if strong.shape[1] < t:  # the frames floor pooling dropped take the last output frame
            strong = torch.cat([strong, strong[:, -1:].expand(-1, t - strong.shape[1], -1)], dim=1)
        return {"strong": strong, "tags": tags}  # (B, T, C), (B, C)
