"""CRNN / HCRNN construction, config parsing, output shapes and parameter counts."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import torch

from sedrepro.models import CNNConfig, RNNConfig, build_model, count_parameters

torch.set_num_threads(1)

N_MELS = 96
N_CLASSES = 10  # URBAN-SED


def cnn_cfg(channels: list[int] | None = None, pool_time: list[int] | None = None, **over: Any) -> dict[str, Any]:
    d: dict[str, Any] = {
        "channels": channels or [64, 128, 256, 512],
        "kernel_size": 3,
        "pool_time": pool_time or [2, 2, 2, 2],
        "pool_freq": [2, 2, 2, 2],
        "freq_reduce": "mean",
        "dropout": 0.0,
    }
    d.update(over)
    return d


def hyper_cfg(
    hidden: int = 64, cell: str = "lstm", z_from: str = "current", layer_norm: bool = False
) -> dict[str, Any]:
    return {
        "hidden_size": hidden,
        "embedding_size": 8,
        "cell": cell,
        "z_from": z_from,
        "layer_norm": layer_norm,
        "scale_init": 1.0,
    }


def rnn_cfg(
    cell: str = "lstm", hidden: int = 256, bi: bool = False, hyper: dict[str, Any] | None = None
) -> dict[str, Any]:
    return {"cell": cell, "hidden_size": hidden, "bidirectional": bi, "hyper": hyper}


# ---------------------------------------------------------------- config parsing


def test_cnn_config_errors() -> None:
    assert CNNConfig.from_dict(cnn_cfg()).channels == (64, 128, 256, 512)
    with pytest.raises(ValueError, match="unknown key.*'stride'"):
        CNNConfig.from_dict({**cnn_cfg(), "stride": 1})
    d = cnn_cfg()
    del d["freq_reduce"]
    with pytest.raises(ValueError, match="missing key.*'freq_reduce'"):
        CNNConfig.from_dict(d)
    with pytest.raises(ValueError, match="pool_time"):
        CNNConfig.from_dict(cnn_cfg(pool_time=[2, 2]))
    with pytest.raises(ValueError, match="freq_reduce"):
        CNNConfig.from_dict(cnn_cfg(freq_reduce="sum"))
    with pytest.raises(ValueError, match="kernel_size"):
        CNNConfig.from_dict(cnn_cfg(kernel_size=4))


def test_rnn_config_errors() -> None:
    with pytest.raises(ValueError, match="unknown key.*'layers'"):
        RNNConfig.from_dict({**rnn_cfg(), "layers": 1})
    d = rnn_cfg()
    del d["hyper"]
    with pytest.raises(ValueError, match="missing key.*'hyper'"):
        RNNConfig.from_dict(d)
    with pytest.raises(ValueError, match="must be null"):
        RNNConfig.from_dict(rnn_cfg("lstm", hyper=hyper_cfg()))
    with pytest.raises(ValueError, match="must be given"):
        RNNConfig.from_dict(rnn_cfg("hyperlstm"))
    with pytest.raises(ValueError, match="unidirectional"):
        RNNConfig.from_dict(rnn_cfg("hyperlstm", bi=True, hyper=hyper_cfg()))
    with pytest.raises(ValueError, match="unknown key.*'bogus'"):
        RNNConfig.from_dict(rnn_cfg("hyperlstm", hyper={**hyper_cfg(), "bogus": 0}))


# ---------------------------------------------------------------- shapes

SMALL = [8, 16, 16, 32]  # narrow channels: shapes do not depend on width, and this is fast


@pytest.mark.parametrize("pool_time", [[2, 2, 2, 2], [1, 1, 1, 1]])
@pytest.mark.parametrize("T", [172, 37])
@pytest.mark.parametrize(
    "rnn",
    [
        rnn_cfg("lstm", 16),
        rnn_cfg("lstm", 16, bi=True),
        rnn_cfg("hyperlstm", 16, hyper=hyper_cfg(8, "rnn", "previous")),
    ],
    ids=["uni", "bi", "hyper"],
)
def test_output_shape(pool_time: list[int], T: int, rnn: dict[str, Any]) -> None:
    m = build_model(cnn_cfg(SMALL, pool_time), rnn, N_MELS, N_CLASSES)
    y = m(torch.randn(2, T, N_MELS))["strong"]
    assert y.shape == (2, T, N_CLASSES)


def test_full_width_forward_smoke() -> None:
    m = build_model(
        cnn_cfg(), rnn_cfg("hyperlstm", 256, hyper=hyper_cfg(128, "lstm", "current", True)), N_MELS, N_CLASSES
    )
    assert m(torch.randn(1, 37, N_MELS))["strong"].shape == (1, 37, N_CLASSES)


def test_upsampling_repeats_and_sees_every_frame() -> None:
    """P = 16: logits are constant within blocks of 16 frames; the trailing partial block is seen."""
    torch.manual_seed(0)
    m = build_model(cnn_cfg(SMALL, freq_reduce="max"), rnn_cfg("lstm", 16), N_MELS, N_CLASSES).eval()
    T = 37  # 37 -> 19 -> 10 -> 5 -> 3 pooled steps (ceil), 48 frames upsampled, trimmed to 37
    x = torch.randn(1, T, N_MELS)
    y = m(x)["strong"]
    for start in range(0, T, 16):
        blk = y[0, start : start + 16]
        torch.testing.assert_close(blk, blk[:1].expand_as(blk))
    assert not torch.allclose(y[0, 15], y[0, 16])
    x2 = x.clone()
    x2[0, -1] += 5.0  # last frame lies in the partial block 32..36
    y2 = m(x2)["strong"]
    assert not torch.allclose(y[0, -1], y2[0, -1])
    # Causal LSTM, and the CNN's receptive field (about ±15 frames) stays out of block 0.
    torch.testing.assert_close(y[0, :16], y2[0, :16])


def test_empty_input_raises() -> None:
    m = build_model(cnn_cfg(SMALL), rnn_cfg("lstm", 16), N_MELS, N_CLASSES)
    with pytest.raises(ValueError, match="T == 0"):
        m(torch.zeros(2, 0, N_MELS))
    with pytest.raises(ValueError, match="expects input"):
        m(torch.zeros(2, 10, 40))


# ---------------------------------------------------------------- parameter counts
# Independent formulas (not read from the code's output).


def n_cnn(channels: list[int], k: int = 3, conv_bias: bool = True) -> int:
    n, c_in = 0, 1
    for c in channels:
        n += c_in * c * k * k + (c if conv_bias else 0) + 2 * c  # conv weight, conv bias, BN gamma+beta
        c_in = c
    return n


def n_lstm(nx: int, nh: int, bi: bool) -> int:
    # torch.nn.LSTM: W_ih (4h x nx), W_hh (4h x h), b_ih and b_hh (4h each), per direction.
    return (2 if bi else 1) * (4 * nh * (nx + nh) + 8 * nh)


def n_hyperlstm(nx: int, nh: int, nhh: int, nz: int, cell: str, ln: bool) -> int:
    g = 4 if cell == "lstm" else 1
    main = 4 * nh * (nx + nh) + 4 * nh  # W_x, W_h, one bias (eqs 1-4)
    hyper = g * nhh * (nh + nx) + g * nhh * nhh + g * nhh  # W_x̂, W_ĥ, b̂ (eq 11)
    z = 3 * 4 * nz * nhh + 2 * 4 * nz  # z_x, z_h with bias, z_b without (eqs 12-14), per gate
    d = 3 * 4 * nh * nz  # d_x, d_h, d_b per gate (eq 15)
    lnp = (2 * 4 * nh + 2 * nh + (2 * 4 * nhh + 2 * nhh if cell == "lstm" else 0)) if ln else 0
    return main + hyper + z + d + lnp


def n_head(nin: int, c: int) -> int:
    return nin * c + c


FULL = [64, 128, 256, 512]
CASES = {
    # name: (rnn config, expected count by formula)
    "crnn_uni (h256)": (rnn_cfg("lstm", 256), n_cnn(FULL) + n_lstm(512, 256, False) + n_head(256, N_CLASSES)),
    "crnn_bi (h256/dir, 512 out)": (
        rnn_cfg("lstm", 256, True),
        n_cnn(FULL) + n_lstm(512, 256, True) + n_head(512, N_CLASSES),
    ),
    "crnn_bi (h512/dir, 1024 out)": (
        rnn_cfg("lstm", 512, True),
        n_cnn(FULL) + n_lstm(512, 512, True) + n_head(1024, N_CLASSES),
    ),
}
for _nhh in (64, 128):
    for _cell in ("rnn", "lstm"):
        for _ln in (False, True):
            CASES[f"hcrnn{_nhh} ({_cell} hyper cell, ln={_ln})"] = (
                rnn_cfg("hyperlstm", 256, hyper=hyper_cfg(_nhh, _cell, "current", _ln)),
                n_cnn(FULL) + n_hyperlstm(512, 256, _nhh, 8, _cell, _ln) + n_head(256, N_CLASSES),
            )


@pytest.mark.parametrize("name", list(CASES))
def test_parameter_counts(name: str) -> None:
    rnn, expected = CASES[name]
    m = build_model(cnn_cfg(), copy.deepcopy(rnn), N_MELS, N_CLASSES)
    n = count_parameters(m)
    print(f"\n{name}: {n:,} = {n / 1e6:.3f} M (C={N_CLASSES}; peer CNN without conv bias: {(n - 960) / 1e6:.3f} M)")
    assert n == expected


def test_peer_counts_reproduced_by_formula() -> None:
    """The peer's counts (models.md 1.4) follow from the formulas with no conv bias, 10 classes,
    a 512-per-direction bidirectional LSTM and an LSTM hyper cell with LN (hcrnn64 is 2.58 M
    without LN, so the peer's 2.59 M needs the LN gains and biases)."""
    cnn_peer = n_cnn(FULL, conv_bias=False)
    assert round((cnn_peer + n_lstm(512, 256, False) + n_head(256, 10)) / 1e4) == 234
    assert round((cnn_peer + n_lstm(512, 512, True) + n_head(1024, 10)) / 1e4) == 576
    assert round((cnn_peer + n_hyperlstm(512, 256, 64, 8, "lstm", True) + n_head(256, 10)) / 1e4) == 259
    assert round((cnn_peer + n_hyperlstm(512, 256, 128, 8, "lstm", True) + n_head(256, 10)) / 1e4) == 284


@pytest.mark.parametrize("ceil_mode", [True, False])
@pytest.mark.parametrize("kernel", [(2, 2), (3, 2), (1, 4), (2, 1)])
@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last])
def test_eval_max_pool_equals_max_pool2d(kernel: tuple[int, int], ceil_mode: bool, layout: torch.memory_format) -> None:
    """The reshaped-maxima pooling of the eval path gives max_pool2d's values exactly (ties, NaN and partial windows
    included) and keeps channels_last; an NCHW input takes max_pool2d itself."""
    from sedrepro.models.cnn import max_pool

    g = torch.Generator().manual_seed(3)
    y = torch.randint(-3, 4, (2, 5, 13, 11), generator=g).float()  # small integers: many ties
    y[0, 1, 4, 7] = float("nan")
    y[1, 3, 12, 10] = float("-inf")  # in a partial window at the ends
    y = y.contiguous(memory_format=layout)
    pool = torch.nn.MaxPool2d(kernel, ceil_mode=ceil_mode)
    got, want = max_pool(y, pool), pool(y)
    assert got.shape == want.shape
    assert torch.equal(got.nan_to_num(99.0), want.nan_to_num(99.0))
    assert got.isnan().sum() == want.isnan().sum() == 1
    if layout == torch.channels_last:
        assert got.is_contiguous(memory_format=torch.channels_last)
