"""Convolutional front end of the (H)CRNN (Singh, Phan & Benetos, sec. 2.2).

"Each CNN block comprises typical convolution operations with filter size 3×3, rectified linear
activation operations, batch normalization and pooling operation with kernel size of 2×2. The
number of channels increases across the CNN blocks in the sequence (64, 128, 256, 512) and the
input to the LSTM unit is a 512-dimensional tensor."
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .checks import check_keys, conv_fields, conv_stack, one_of, rate

__all__ = ["CNNConfig", "CNN", "FREQ_REDUCE"]

FREQ_REDUCE = ("mean", "max")


@dataclass(frozen=True)
class CNNConfig:
    """The ``cnn`` block of a model config.

    channels: output channels per block (paper: 64, 128, 256, 512). kernel_size: k of the k×k
    convs (padding k//2, odd k only so time/frequency sizes are kept). pool_time / pool_freq:
    max-pool sizes per block along time and frequency (paper: "2×2"). freq_reduce: how the
    frequency axis left after the blocks is reduced to 1 ("mean" or "max"). dropout: after each
    block's pooling.
    """

    channels: tuple[int, ...]
    kernel_size: int
    pool_time: tuple[int, ...]
    pool_freq: tuple[int, ...]
    freq_reduce: str
    dropout: float

    FIELDS = ("channels", "kernel_size", "pool_time", "pool_freq", "freq_reduce", "dropout")

    def __post_init__(self) -> None:
        conv_stack("cnn", self, ("pool_time", "pool_freq"), self.kernel_size)
        one_of("cnn.freq_reduce", self.freq_reduce, FREQ_REDUCE)
        rate("cnn.dropout", self.dropout)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> CNNConfig:
        """Parse the validated-config dict; ValueError names unknown or missing keys."""
        check_keys("cnn", d, cls.FIELDS)
        return cls(**conv_fields("cnn", d), freq_reduce=d["freq_reduce"], dropout=d["dropout"])

    @property
    def time_factor(self) -> int:
        """Total time pooling factor P = prod(pool_time)."""
        return math.prod(self.pool_time)


class CNN(nn.Module):
    """Stack of blocks Conv2d(k×k, pad k//2) -> ReLU -> BatchNorm2d -> MaxPool2d -> Dropout.

    The paper's order (conv, ReLU, BN, pool). Pooling uses ``ceil_mode=True`` so that trailing
    frames that do not fill a whole pooling window are still seen (and, in the CRNN, the repeated
    recurrent outputs cover all T input frames); with the paper's 96 mel bands and 2× frequency
    pooling this changes nothing on the frequency axis.

    forward: x (B, T, F) -> (B, T', channels[-1]) with T' = T pooled by ceil-division per block. In eval mode each
    block pools first and applies ReLU and batch norm to the pooled values (``_pool_first``: the same numbers, a
    quarter of the work for those two).
    """

    def __init__(self, cfg: CNNConfig) -> None:
        super().__init__()
        self.cfg = cfg
        blocks: list[nn.Module] = []
        c_in = 1
        k = cfg.kernel_size
        for c_out, pt, pf in zip(cfg.channels, cfg.pool_time, cfg.pool_freq, strict=True):
            blocks.append(
                nn.Sequential(
                    nn.Conv2d(c_in, c_out, k, padding=k // 2),
                    nn.ReLU(),
                    nn.BatchNorm2d(c_out),
                    nn.MaxPool2d((pt, pf), ceil_mode=True),
                    nn.Dropout(cfg.dropout),
                )
            )
            c_in = c_out
        self.blocks = nn.Sequential(*blocks)
        self.out_features = cfg.channels[-1]

    def out_frames(self, t: int) -> int:
        """Number of frames T' left after the blocks for T = t input frames."""
        for p in self.cfg.pool_time:
            t = -(-t // p)
        return t

    def forward(self, x: Tensor) -> Tensor:
        y = x.unsqueeze(1)  # (B, 1, T, F)
        if self.training:
            y = self.blocks(y)  # (B, C, T', F')
        else:
            for block in self.blocks:
                y = _pool_first(block, y)
        # Reduce the remaining frequency axis to one value per channel.
        y = y.mean(dim=3) if self.cfg.freq_reduce == "mean" else y.amax(dim=3)  # (B, C, T')
        return y.transpose(1, 2)  # (B, T', C)


def _pool_first(block: nn.Sequential, x: Tensor) -> Tensor:
    """One block in eval mode, pooling before ReLU and batch norm: the same values, on a quarter of the elements.

    With fixed statistics, batch norm is a per-channel map x * a + b (a = gamma / sqrt(var + eps)), non-decreasing
    where gamma >= 0 and non-increasing where gamma < 0, and ReLU is non-decreasing; rounding keeps both monotone. So
    the max over a window after them is them applied to the window's max (gamma >= 0) or min (gamma < 0). The min is
    taken as -max(-y), with y negated exactly by negating that channel's conv weights and bias.
    """
    conv, relu, bn, pool, dropout = block
    if bn.running_mean is None or bn.weight is None:  # batch statistics or no gamma: the plain order
        return block(x)
    # the usual case, no channel needs its minimum: tested on the CPU only (elsewhere the test would wait for the
    # device, and meta tensors have no values), where the general path below gives the same numbers
    if bn.weight.device.type == "cpu" and not bool((bn.weight < 0).any()):
        return dropout(bn(relu(max_pool(conv(x), pool))))
    sign = torch.where(bn.weight < 0, -1.0, 1.0).to(conv.weight.dtype)  # (C,)
    weight = (conv.weight * sign.view(-1, 1, 1, 1)).contiguous(memory_format=_layout(conv.weight))
    bias = None if conv.bias is None else conv.bias * sign
    y = F.conv2d(x, weight, bias, conv.stride, conv.padding, conv.dilation, conv.groups)
    y = max_pool(y, pool) * sign.view(1, -1, 1, 1)
    return dropout(bn(relu(y)))


def max_pool(y: Tensor, pool: nn.MaxPool2d) -> Tensor:
    """pool(y), the same values, computed as maxima of reshaped views where y is channels_last and the windows tile it
    (stride = kernel, no padding or dilation): ATen's CPU max-pooling also finds the indices, and costs 2-5x more on
    these tensors. Partial windows at the ends (ceil mode) are filled with -inf, which no maximum picks."""
    kt, kf = _pair(pool.kernel_size)
    if (
        _pair(pool.stride) != (kt, kf)
        or _pair(pool.padding) != (0, 0)
        or _pair(pool.dilation) != (1, 1)
        or not y.is_contiguous(memory_format=torch.channels_last)
        or y.requires_grad
    ):
        return pool(y)
    B, C, T, Fq = y.shape
    tt, ff = (-(-T // kt), -(-Fq // kf)) if pool.ceil_mode else (T // kt, Fq // kf)
    if (tt * kt, ff * kf) != (T, Fq):
        pad_t, pad_f = max(tt * kt - T, 0), max(ff * kf - Fq, 0)
        y = F.pad(y, (0, pad_f, 0, pad_t), value=-math.inf)[:, :, : tt * kt, : ff * kf]
    z = y.permute(0, 2, 3, 1).reshape(B, tt, kt, ff, kf * C)  # (B, T', kt, F', kf C): a view of NHWC memory
    z = _max_over(z, 2).reshape(B, tt, ff, kf, C)  # (B, T', F', kf, C)
    return _max_over(z, 3).permute(0, 3, 1, 2)  # (B, C, T', F'), channels_last


def _max_over(z: Tensor, dim: int) -> Tensor:
    """Maximum over `dim` as elementwise maxima of its slices (faster than amax over a strided axis)."""
    parts = z.unbind(dim)
    out = parts[0]
    for p in parts[1:]:
        out = torch.maximum(out, p)
    return out


def _pair(v: int | tuple[int, ...]) -> tuple[int, ...]:
    return (v, v) if isinstance(v, int) else tuple(v)


def _layout(t: Tensor) -> torch.memory_format:
    return torch.channels_last if t.is_contiguous(memory_format=torch.channels_last) else torch.contiguous_format
