"""CRNN / HCRNN of Singh, Phan & Benetos (sec. 2.2): CNN -> (Hyper)LSTM -> Linear, per frame.

Bidirectional reading: ``rnn.hidden_size`` is always the size *per direction*. The paper says
"The output is a tensor of size 256 in case of unidirectional LSTM and 512 in case of
bidirectional LSTM", which reads naturally as 256 per direction, concatenated to 512 outputs
(config: hidden_size 256, bidirectional true). The same paper also says "bidirectional
(hidden-state size of 512)", and the peer reproduction's 5.76 M parameters for crnn_bi imply
512 per direction (1024 outputs); that reading is config hidden_size 512, bidirectional true.
The model does not choose between them; the paper config does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from .checks import boolean, check_keys, one_of, positive_int
from .cnn import CNN, CNNConfig
from .hyperlstm import HyperConfig, HyperLSTM

__all__ = ["RNNConfig", "CRNNConfig", "CRNN", "RNN_CELLS"]

RNN_CELLS = ("lstm", "hyperlstm")


@dataclass(frozen=True)
class RNNConfig:
    """The ``rnn`` block: cell "lstm" (torch.nn.LSTM) or "hyperlstm" (HyperLSTM, unidirectional).

    hidden_size: N_h per direction. hyper: None for "lstm", a HyperConfig for "hyperlstm".
    """

    cell: str
    hidden_size: int
    bidirectional: bool
    hyper: HyperConfig | None

    FIELDS = ("cell", "hidden_size", "bidirectional", "hyper")

    def __post_init__(self) -> None:
        one_of("rnn.cell", self.cell, RNN_CELLS)
        positive_int("rnn.hidden_size", self.hidden_size)
        boolean("rnn.bidirectional", self.bidirectional)
        if self.cell == "lstm" and self.hyper is not None:
            raise ValueError("rnn.hyper must be null when rnn.cell is 'lstm'")
        if self.cell == "hyperlstm":
            if not isinstance(self.hyper, HyperConfig):
                raise ValueError("rnn.hyper must be given when rnn.cell is 'hyperlstm'")
            if self.bidirectional:
                raise ValueError(
                    "rnn.bidirectional must be false for 'hyperlstm' (the paper's HCRNN is unidirectional)"
                )

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> RNNConfig:
        """Parse the validated-config dict; ValueError names unknown or missing keys."""
        check_keys("rnn", d, cls.FIELDS)
        hyper = d["hyper"]
        return cls(
            cell=d["cell"],
            hidden_size=d["hidden_size"],
            bidirectional=d["bidirectional"],
            hyper=None if hyper is None else HyperConfig.from_dict(hyper),
        )

    @property
    def out_features(self) -> int:
        return self.hidden_size * (2 if self.bidirectional else 1)


@dataclass(frozen=True)
class CRNNConfig:
    """A whole CRNN / HCRNN config: exactly the ``cnn`` and ``rnn`` blocks."""

    cnn: CNNConfig
    rnn: RNNConfig

    FIELDS = ("cnn", "rnn")

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> CRNNConfig:
        """Parse a config dict; ValueError names unknown or missing keys (at every level)."""
        check_keys("crnn", d, cls.FIELDS)
        return cls(CNNConfig.from_dict(d["cnn"]), RNNConfig.from_dict(d["rnn"]))


class CRNN(nn.Module):
    """CNN front end, recurrent layer, and a per-frame linear head returning logits.

    forward: x (B, T, F) normalised log-mel -> {"strong": logits (B, T, C)} at the input frame rate.

    Upsampling choice: the CNN pools time by P = prod(pool_time) with ceil-mode pooling, so
    T' = ceil(...ceil(T / p_1).../ p_K) >= T / P and recurrent step j summarises input frames
    [j P, (j + 1) P). Each step is repeated P times (nearest-neighbour upsampling) and the
    result, of length T' P >= T, is trimmed to T; if it were ever shorter it is padded by
    repeating the last step.
    """

    def __init__(self, cnn: CNNConfig, rnn: RNNConfig, n_mels: int, n_classes: int) -> None:
        super().__init__()
        positive_int("n_mels", n_mels)
        positive_int("n_classes", n_classes)
        self.cnn_cfg = cnn
        self.rnn_cfg = rnn
        self.n_mels = n_mels
        self.n_classes = n_classes
        self.time_factor = cnn.time_factor
        self.cnn = CNN(cnn)
        n_in = self.cnn.out_features
        self.rnn: nn.Module
        if rnn.cell == "lstm":
            self.rnn = nn.LSTM(n_in, rnn.hidden_size, batch_first=True, bidirectional=rnn.bidirectional)
        else:
            h = rnn.hyper
            assert h is not None
            self.rnn = HyperLSTM(
                n_in, rnn.hidden_size, h.hidden_size, h.embedding_size, h.cell, h.z_from, h.layer_norm, h.scale_init
            )
        self.head = nn.Linear(rnn.out_features, n_classes)

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 3 or x.shape[2] != self.n_mels:
            raise ValueError(f"CRNN expects input (B, T, {self.n_mels}), got {tuple(x.shape)}")
        B, T, _ = x.shape
        if T == 0:
            raise ValueError("CRNN got an empty sequence (T == 0)")
        y = self.cnn(x)  # (B, T', C_cnn)
        if isinstance(self.rnn, nn.LSTM):
            y, _ = self.rnn(y)  # (B, T', H * directions)
        else:
            y = self.rnn(y)  # (B, T', H)
        p = self.time_factor
        if p > 1:
            y = y.repeat_interleave(p, dim=1)  # (B, T' P, H')
        if y.shape[1] < T:  # cannot happen with ceil pooling; kept so the contract holds
            y = torch.cat([y, y[:, -1:].expand(B, T - y.shape[1], y.shape[2])], 1)
        y = y[:, :T]  # (B, T, H')
        return {"strong": self.head(y)}  # (B, T, C)
