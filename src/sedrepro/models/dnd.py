"""DnD-SED models: Drossos et al. 2020 ("SED with depthwise separable and dilated convolutions",
arXiv 2002.00476) as replicated by Prinzivalle 2021 (``shared/papers/dessed-dilated-replication.md``).

Rule for every choice: follow the replication paper where it is explicit, the official code
(``dr-costas/dnd-sed``, summarised in ``shared/guides/models.md`` sec. 2) where the paper is silent.
Each choice is a config field; :data:`PRESETS` holds the literal-paper settings (and the official
code's, for comparison). Every model returns logits (sigmoid / softmax belong in the loss).

Kinds (``DnDConfig.kind``):

* ``baseline`` (poly, sec. 3.4 / fig. 5): CNN -> GRU(256) -> Linear per frame. (B, T, F) -> (B, T, C).
* ``baseline_dilated`` (fig. 6): CNN -> dilated-conv block -> frequency reduction -> Linear per frame.
* ``dessed`` (fig. 7): depthwise-separable CNN -> GRU -> Linear per frame.
* ``dessed_dilated`` (fig. 8, "proposed model"): separable CNN -> dilated block -> reduction -> Linear.
  The replication's two variants differ only in ``dilated.reduction``: "conv1x1" (1x1 conv, stride
  (1,3); F1 0.12) and "maxpool" (max pool (1,3); F1 0.63). The official code's "stride" (the dilated
  conv itself has stride (1,3); Keras could not do that) is the third option.
* ``mono_baseline`` (sec. 2.3 / fig. 2): CNN -> GRU(256), last state -> Linear. (B, T, F) -> (B, C).
* ``mono_proposed`` (fig. 3): separable CNN -> dilated block -> global average pooling -> Linear.

Front end (models.md 2.1, paper sec. 2.3): 3 blocks of Conv2d 5x5 (256 ch, stride 1, "same"
padding) -> ReLU -> BatchNorm2d -> MaxPool (1,5), (1,4), (1,2) on frequency only -> dropout 0.25,
so 40 features -> 8 -> 2 -> 1 and the time axis is untouched. The dilated models then treat the 256
CNN channels as a "frequency" axis with one input channel (official ``p_1`` permute), which is the
layout under which the replication's Table 4 count (3.7 M for the dilated baseline) holds; a
3x3 256->256 conv on a (T, 1) map would add 0.59 M more.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from .checks import boolean, check_keys, int_tuple, one_of, positive_int, rate

__all__ = [
    "KINDS",
    "POLY_KINDS",
    "MONO_KINDS",
    "REDUCTIONS",
    "SEPARABLE_STYLES",
    "PRESETS",
    "DnDCNNConfig",
    "DnDGRUConfig",
    "DilatedConfig",
    "DnDConfig",
    "DnDFrontEnd",
    "DilatedBlock",
    "DnDModel",
    "build_dnd_model",
    "dnd_preset",
]

POLY_KINDS = ("baseline", "baseline_dilated", "dessed", "dessed_dilated")
MONO_KINDS = ("mono_baseline", "mono_proposed")
KINDS = POLY_KINDS + MONO_KINDS
_SEPARABLE = {"dessed", "dessed_dilated", "mono_proposed"}
_DILATED = {"baseline_dilated", "dessed_dilated", "mono_proposed"}
REDUCTIONS = ("stride", "conv1x1", "maxpool", "none")
SEPARABLE_STYLES = ("official", "keras")


def _odd(name: str, v: Any) -> int:
    k = positive_int(name, v)
    if k % 2 == 0:
        raise ValueError(f"{name} must be odd (symmetric 'same' padding), got {k}")
    return k


def _dropout(p: float, spatial: bool) -> nn.Module:
    return nn.Dropout2d(p) if spatial else nn.Dropout(p)


# ------------------------------------------------------------------------------- configs


@dataclass(frozen=True)
class DnDCNNConfig:
    """The ``cnn`` block: the 3-block convolutional front end.

    channels: 256 (paper and code). kernel_size: 5 ("5x5 kernel", padding k//2 = "same").
    pool_freq: frequency-only max pools per block, (5, 4, 2) (paper; floor mode as in the
    official code; identical to Keras "same" pooling for 40 features). dropout: 0.25.
    spatial_dropout: True = Dropout2d (official code, drops whole feature maps); False = element
    dropout (Keras ``Dropout``, which the replication presumably used; the paper only says "dropout").
    separable_style (only for the separable kinds): "official" = ``DepthWiseSeparableConvBlock``:
    depthwise Conv2d(c_in -> C, k x k, groups=c_in, bias) -> LeakyReLU -> BatchNorm2d -> pointwise
    Conv2d(C -> C, bias); for block 1 (c_in = 1) the depthwise conv is an ordinary 1 -> 256 conv.
    "keras" = ``SeparableConv2D`` (depth multiplier 1): depthwise Conv2d(c_in -> c_in, no bias)
    -> pointwise Conv2d(c_in -> C, bias), nothing in between. The paper says only "depth-wise
    separable convolutions" (it used Keras; models.md: the official default is followed).
    pointwise_kernel_size: official ``inner_kernel_size``, 1 (3 in ``k_77_d_10_1_b``), "official"
    style only; padded k//2. (Quirk not mirrored: ``DESSEDDilated`` defaults ``inner_padding=1``
    with kernel 1, which grows both axes by 2 per block and, for 40 features, leaves F' = 2 so the
    1-input-channel dilated conv would fail; we keep the size, i.e. padding k//2.)
    """

    channels: int
    kernel_size: int
    pool_freq: tuple[int, ...]
    dropout: float
    spatial_dropout: bool
    separable_style: str
    pointwise_kernel_size: int

    FIELDS = (
        "channels",
        "kernel_size",
        "pool_freq",
        "dropout",
        "spatial_dropout",
        "separable_style",
        "pointwise_kernel_size",
    )

    def __post_init__(self) -> None:
        positive_int("cnn.channels", self.channels)
        _odd("cnn.kernel_size", self.kernel_size)
        int_tuple("cnn.pool_freq", self.pool_freq)
        rate("cnn.dropout", self.dropout)
        boolean("cnn.spatial_dropout", self.spatial_dropout)
        one_of("cnn.separable_style", self.separable_style, SEPARABLE_STYLES)
        _odd("cnn.pointwise_kernel_size", self.pointwise_kernel_size)
        if self.separable_style == "keras" and self.pointwise_kernel_size != 1:
            raise ValueError("cnn.pointwise_kernel_size must be 1 with separable_style 'keras'")

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> DnDCNNConfig:
        """Parse a config dict; ValueError names unknown or missing keys."""
        check_keys("cnn", d, cls.FIELDS)
        return cls(
            channels=d["channels"],
            kernel_size=d["kernel_size"],
            pool_freq=int_tuple("cnn.pool_freq", d["pool_freq"]),
            dropout=d["dropout"],
            spatial_dropout=d["spatial_dropout"],
            separable_style=d["separable_style"],
            pointwise_kernel_size=d["pointwise_kernel_size"],
        )


@dataclass(frozen=True)
class DnDGRUConfig:
    """The ``gru`` block: one unidirectional GRU ("Gated Recurrent Unit of 256 unit").

    hidden_size: 256. Implemented with ``nn.GRU`` (same maths and parameter count as the official
    ``GRUCell`` time loop, which is only slower). Poly kinds use every step's output (Keras
    ``return_sequences=True``); mono kinds use the last state (Keras default), paper sec. 2.3/3.4.
    """

    hidden_size: int

    FIELDS = ("hidden_size",)

    def __post_init__(self) -> None:
        positive_int("gru.hidden_size", self.hidden_size)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> DnDGRUConfig:
        """Parse a config dict; ValueError names unknown or missing keys."""
        check_keys("gru", d, cls.FIELDS)
        return cls(hidden_size=d["hidden_size"])


@dataclass(frozen=True)
class DilatedConfig:
    """The ``dilated`` block that replaces the GRU (models.md 2.1; paper sec. 3.4).

    Input is the front end's (B, C, T, 1) permuted to (B, 1, T, C): the C CNN channels become a
    feature axis with one input channel (official code). Then Conv2d(1 -> channels, k x k,
    dilation (dilation_time, 1), padding (dilation_time*(k-1)/2, 0)) -> ReLU -> BatchNorm2d
    -> MaxPool (1, pool_freq) -> dropout -> reduction.

    channels: 256 ("unchanged and equal to baseline"). kernel_size: 3 (paper: "a 3x3 kernel";
    code grid 3, 5, 7). dilation_time: 10 (paper and code). The time padding "equal to the
    dilation rate" (paper, k = 3) is the code's d*(k-1)/2, so T is kept; frequency is not padded.
    pool_freq, dropout, spatial_dropout: the paper's block has "max pooling and dropout" (the code
    has neither); the pool size is not given, so the default 1 (identity) is a guess, and the
    dropout is the baseline's 0.25. Official-code setting: pool_freq 1, dropout 0.
    reduction of the feature axis by ``reduction_factor`` (3): "conv1x1" = Conv2d(channels ->
    channels, 1x1, stride (1,3), linear, bias) (paper, dilated baseline and proposed variant 1);
    "maxpool" = MaxPool2d((1,3)) (paper, proposed variant 2); "stride" = the dilated conv itself
    has stride (1,3) (official code; reduction_factor is its stride); "none" = no reduction
    (used by mono_proposed, whose global average pooling follows).
    """

    channels: int
    kernel_size: int
    dilation_time: int
    pool_freq: int
    dropout: float
    spatial_dropout: bool
    reduction: str
    reduction_factor: int

    FIELDS = (
        "channels",
        "kernel_size",
        "dilation_time",
        "pool_freq",
        "dropout",
        "spatial_dropout",
        "reduction",
        "reduction_factor",
    )

    def __post_init__(self) -> None:
        positive_int("dilated.channels", self.channels)
        _odd("dilated.kernel_size", self.kernel_size)
        positive_int("dilated.dilation_time", self.dilation_time)
        positive_int("dilated.pool_freq", self.pool_freq)
        rate("dilated.dropout", self.dropout)
        boolean("dilated.spatial_dropout", self.spatial_dropout)
        one_of("dilated.reduction", self.reduction, REDUCTIONS)
        positive_int("dilated.reduction_factor", self.reduction_factor)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> DilatedConfig:
        """Parse a config dict; ValueError names unknown or missing keys."""
        check_keys("dilated", d, cls.FIELDS)
        return cls(**{f: d[f] for f in cls.FIELDS})


@dataclass(frozen=True)
class DnDConfig:
    """A whole DnD model config: ``kind`` plus ``cnn``, and exactly one of ``gru`` / ``dilated``
    (the other null), as the kind requires (see the module docstring for the kinds)."""

    kind: str
    cnn: DnDCNNConfig
    gru: DnDGRUConfig | None
    dilated: DilatedConfig | None

    FIELDS = ("kind", "cnn", "gru", "dilated")

    def __post_init__(self) -> None:
        one_of("kind", self.kind, KINDS)
        if self.kind in _DILATED:
            if not isinstance(self.dilated, DilatedConfig) or self.gru is not None:
                raise ValueError(f"kind {self.kind!r} needs a 'dilated' block and 'gru' null")
        elif not isinstance(self.gru, DnDGRUConfig) or self.dilated is not None:
            raise ValueError(f"kind {self.kind!r} needs a 'gru' block and 'dilated' null")

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> DnDConfig:
        """Parse a config dict; ValueError names unknown or missing keys (at every level)."""
        check_keys("dnd", d, cls.FIELDS)
        return cls(
            kind=d["kind"],
            cnn=DnDCNNConfig.from_dict(d["cnn"]),
            gru=None if d["gru"] is None else DnDGRUConfig.from_dict(d["gru"]),
            dilated=None if d["dilated"] is None else DilatedConfig.from_dict(d["dilated"]),
        )

    @property
    def separable(self) -> bool:
        return self.kind in _SEPARABLE

    @property
    def monophonic(self) -> bool:
        return self.kind in MONO_KINDS


# ------------------------------------------------------------------------------- presets


def _cnn(**over: Any) -> dict[str, Any]:
    d: dict[str, Any] = {
        "channels": 256,
        "kernel_size": 5,
        "pool_freq": [5, 4, 2],
        "dropout": 0.25,
        "spatial_dropout": True,
        "separable_style": "official",
        "pointwise_kernel_size": 1,
    }
    d.update(over)
    return d


def _dil(reduction: str, **over: Any) -> dict[str, Any]:
    d: dict[str, Any] = {
        "channels": 256,
        "kernel_size": 3,
        "dilation_time": 10,
        "pool_freq": 1,
        "dropout": 0.25,
        "spatial_dropout": True,
        "reduction": reduction,
        "reduction_factor": 3,
    }
    d.update(over)
    return d


_GRU = {"hidden_size": 256}
_OFFICIAL_DIL = {"pool_freq": 1, "dropout": 0.0}

PRESETS: dict[str, dict[str, Any]] = {
    # The replication paper's models (Table 4 rows, sec. 2.3 models).
    "baseline": {"kind": "baseline", "cnn": _cnn(), "gru": _GRU, "dilated": None},
    "baseline_dilated": {"kind": "baseline_dilated", "cnn": _cnn(), "gru": None, "dilated": _dil("conv1x1")},
    "dessed": {"kind": "dessed", "cnn": _cnn(), "gru": _GRU, "dilated": None},
    "dessed_dilated_conv1x1": {"kind": "dessed_dilated", "cnn": _cnn(), "gru": None, "dilated": _dil("conv1x1")},
    "dessed_dilated_maxpool": {"kind": "dessed_dilated", "cnn": _cnn(), "gru": None, "dilated": _dil("maxpool")},
    "mono_baseline": {"kind": "mono_baseline", "cnn": _cnn(), "gru": _GRU, "dilated": None},
    "mono_proposed": {"kind": "mono_proposed", "cnn": _cnn(), "gru": None, "dilated": _dil("none")},
    # The official code's dilated models (k=3, d=10 settings file): stride (1,3), no pool/dropout.
    "official_baseline_dilated": {
        "kind": "baseline_dilated",
        "cnn": _cnn(),
        "gru": None,
        "dilated": _dil("stride", **_OFFICIAL_DIL),
    },
    "official_dessed_dilated": {
        "kind": "dessed_dilated",
        "cnn": _cnn(),
        "gru": None,
        "dilated": _dil("stride", **_OFFICIAL_DIL),
    },
}


def dnd_preset(name: str) -> dict[str, Any]:
    """A fresh (deep-copied) config dict for a preset in :data:`PRESETS`."""
    one_of("preset", name, tuple(PRESETS))
    return copy.deepcopy(PRESETS[name])


# ------------------------------------------------------------------------------- modules


def _separable(c_in: int, c_out: int, cfg: DnDCNNConfig) -> nn.Module:
    k = cfg.kernel_size
    if cfg.separable_style == "official":
        pk = cfg.pointwise_kernel_size
        return nn.Sequential(
            nn.Conv2d(c_in, c_out, k, padding=k // 2, groups=c_in),  # depthwise (multiplier c_out/c_in)
            nn.LeakyReLU(),
            nn.BatchNorm2d(c_out),
            nn.Conv2d(c_out, c_out, pk, padding=pk // 2),  # pointwise
        )
    return nn.Sequential(  # Keras SeparableConv2D, depth_multiplier 1
        nn.Conv2d(c_in, c_in, k, padding=k // 2, groups=c_in, bias=False),
        nn.Conv2d(c_in, c_out, 1),
    )


class DnDFrontEnd(nn.Module):
    """Three blocks conv (plain or separable) -> ReLU -> BatchNorm2d -> MaxPool(1, p) -> dropout.

    forward: x (B, T, F) -> (B, C, T, F') with F' = F floor-divided by each pool_freq.
    """

    def __init__(self, cfg: DnDCNNConfig, separable: bool, n_features: int) -> None:
        super().__init__()
        blocks: list[nn.Module] = []
        c_in, f = 1, n_features
        k = cfg.kernel_size
        for p in cfg.pool_freq:
            conv = (
                _separable(c_in, cfg.channels, cfg) if separable else nn.Conv2d(c_in, cfg.channels, k, padding=k // 2)
            )
            blocks.append(
                nn.Sequential(
                    conv,
                    nn.ReLU(),
                    nn.BatchNorm2d(cfg.channels),
                    nn.MaxPool2d((1, p)),
                    _dropout(cfg.dropout, cfg.spatial_dropout),
                )
            )
            c_in, f = cfg.channels, f // p
            if f < 1:
                raise ValueError(f"n_features={n_features} is too small for cnn.pool_freq {list(cfg.pool_freq)}")
        self.blocks = nn.Sequential(*blocks)
        self.out_channels = cfg.channels
        self.out_freq = f

    def forward(self, x: Tensor) -> Tensor:
        return self.blocks(x.unsqueeze(1))  # (B, 1, T, F) -> (B, C, T, F')


class DilatedBlock(nn.Module):
    """Dilated-conv block plus feature reduction (see :class:`DilatedConfig`).

    forward: (B, C_in, T, F_in) -> (B, channels, T, F_out); ``out_freq`` is F_out.
    """

    def __init__(self, cfg: DilatedConfig, in_channels: int, in_freq: int) -> None:
        super().__init__()
        k, d, r = cfg.kernel_size, cfg.dilation_time, cfg.reduction_factor
        stride = (1, r) if cfg.reduction == "stride" else (1, 1)
        self.conv = nn.Conv2d(
            in_channels, cfg.channels, k, stride=stride, padding=(d * (k - 1) // 2, 0), dilation=(d, 1)
        )
        self.act = nn.ReLU()
        self.bn = nn.BatchNorm2d(cfg.channels)
        self.pool = nn.MaxPool2d((1, cfg.pool_freq)) if cfg.pool_freq > 1 else nn.Identity()
        self.drop = _dropout(cfg.dropout, cfg.spatial_dropout)
        f = (in_freq - k) // stride[1] + 1
        f //= cfg.pool_freq
        self.reduce: nn.Module
        if cfg.reduction == "conv1x1":
            self.reduce = nn.Conv2d(cfg.channels, cfg.channels, 1, stride=(1, r))
            f = (f - 1) // r + 1
        elif cfg.reduction == "maxpool":
            self.reduce = nn.MaxPool2d((1, r))
            f //= r
        else:
            self.reduce = nn.Identity()
        if f < 1:
            raise ValueError(f"dilated block leaves no features (input feature axis {in_freq})")
        self.out_channels = cfg.channels
        self.out_freq = f

    def forward(self, x: Tensor) -> Tensor:
        y = self.bn(self.act(self.conv(x)))  # (B, C, T, F1): official order conv -> ReLU -> BN
        y = self.drop(self.pool(y))  # (B, C, T, F2)
        return self.reduce(y)  # (B, C, T, F_out)


class DnDModel(nn.Module):
    """One of the DnD kinds (module docstring). Input (B, T, n_features) of MFCCs / log-mels.

    forward returns named logits: {"strong": (B, T, n_classes)} for the poly kinds (sigmoid + BCE in the loss),
    {"weak": (B, n_classes)} for the mono kinds (softmax + cross-entropy in the loss).
    """

    def __init__(self, cfg: DnDConfig, n_features: int, n_classes: int) -> None:
        super().__init__()
        positive_int("n_features", n_features)
        positive_int("n_classes", n_classes)
        self.cfg = cfg
        self.n_features = n_features
        self.n_classes = n_classes
        self.front = DnDFrontEnd(cfg.cnn, cfg.separable, n_features)
        c, f = self.front.out_channels, self.front.out_freq
        self.gru: nn.GRU | None = None
        self.dilated: DilatedBlock | None = None
        if cfg.gru is not None:
            self.gru = nn.GRU(c * f, cfg.gru.hidden_size, batch_first=True)
            n_head = cfg.gru.hidden_size
        else:
            assert cfg.dilated is not None
            # Official permute: the C CNN channels become the feature axis, the F' frequency bins
            # (1 for 40 features) the input channels.
            self.dilated = DilatedBlock(cfg.dilated, f, c)
            d = self.dilated
            n_head = d.out_channels if cfg.monophonic else d.out_channels * d.out_freq
        self.head = nn.Linear(n_head, n_classes)

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        if x.dim() != 3 or x.shape[2] != self.n_features:
            raise ValueError(f"DnDModel expects input (B, T, {self.n_features}), got {tuple(x.shape)}")
        B, T, _ = x.shape
        if T == 0:
            raise ValueError("DnDModel got an empty sequence (T == 0)")
        y = self.front(x)  # (B, C, T, F')
        if self.gru is not None:
            y = y.permute(0, 2, 1, 3).reshape(B, T, -1)  # (B, T, C F')
            y, h = self.gru(y)  # (B, T, H), h: (1, B, H)
            if self.cfg.monophonic:
                return {"weak": self.head(h[0])}  # (B, n_classes): last state, Keras return_sequences=False
            return {"strong": self.head(y)}  # (B, T, n_classes)
        assert self.dilated is not None
        y = self.dilated(y.permute(0, 3, 2, 1))  # (B, F', T, C) -> (B, C_d, T, F_d)
        if self.cfg.monophonic:
            return {"weak": self.head(torch.mean(y, dim=(2, 3)))}  # global average pooling -> (B, n_classes)
        y = y.permute(0, 2, 1, 3).reshape(B, T, -1)  # (B, T, C_d F_d), official p_2 order
        return {"strong": self.head(y)}  # (B, T, n_classes)


def build_dnd_model(cfg: Mapping[str, Any], n_features: int, n_classes: int) -> DnDModel:
    """Build a DnD model from a config dict (:meth:`DnDConfig.from_dict`; see :data:`PRESETS`).

    Raises ValueError for unknown/missing keys or invalid values.
    """
    return DnDModel(DnDConfig.from_dict(cfg), n_features, n_classes)
