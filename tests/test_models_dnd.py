"""DnD-SED models (Drossos et al. 2020 / Prinzivalle 2021): configs, shapes, parameter counts."""

from __future__ import annotations

import copy
import io
from typing import Any

import pytest
import torch

from sedrepro.io import InputError
from sedrepro.models import ARCHITECTURES, build, build_model, check_model_config, count_parameters
from sedrepro.models.dnd import PRESETS, DnDConfig, build_dnd_model, dnd_preset

torch.set_num_threads(1)

N_FEAT = 40
POLY_C = 16  # TUT-SED Synthetic 2016
MONO_C = 10  # UrbanSound8K
MONO_T = 174
POLY = [n for n in PRESETS if not n.startswith("mono")]
MONO = [n for n in PRESETS if n.startswith("mono")]


def narrow(name: str, width: int = 8, **dil: Any) -> dict[str, Any]:
    """A preset with narrow layers: shapes do not depend on the widths, and this is fast."""
    d = dnd_preset(name)
    d["cnn"]["channels"] = width
    if d["gru"] is not None:
        d["gru"]["hidden_size"] = width
    if d["dilated"] is not None:
        d["dilated"]["channels"] = width
        d["dilated"].update(dil)
    return d


def n_classes(name: str) -> int:
    return MONO_C if name.startswith("mono") else POLY_C


# ---------------------------------------------------------------- config parsing


def test_registry_keeps_crnn_and_adds_dnd() -> None:
    assert {"crnn", "dnd"} <= set(ARCHITECTURES.names())
    cnn = {
        "channels": [8, 8],
        "kernel_size": 3,
        "pool_time": [1, 1],
        "pool_freq": [2, 2],
        "freq_reduce": "mean",
        "dropout": 0.0,
    }
    rnn = {"cell": "lstm", "hidden_size": 8, "bidirectional": False, "hyper": None}
    torch.manual_seed(0)
    a = build("crnn", {"cnn": cnn, "rnn": rnn}, 96, 10)
    torch.manual_seed(0)
    b = build_model(cnn, rnn, 96, 10)
    assert type(a) is type(b) and count_parameters(a) == count_parameters(b)
    out = build("dnd", narrow("dessed"), N_FEAT, POLY_C)(torch.randn(1, 5, N_FEAT))
    assert list(out) == ["strong"] and out["strong"].shape == (1, 5, POLY_C)
    with pytest.raises(InputError, match=r"architecture'.*crnn, dnd.*'hcrnn'"):
        build("hcrnn", {}, N_FEAT, POLY_C)
    with pytest.raises(ValueError, match=r"missing key\(s\) \['rnn'\]"):
        build("crnn", {"cnn": cnn}, 96, 10)


def test_model_config_checked_without_building() -> None:
    """The registry's config class parses an entry (for checks at workflow start); errors are one line."""
    parsed = check_model_config({"name": "x", "architecture": "dnd", **narrow("dessed")}, "models/x")
    assert parsed.kind == "dessed"
    with pytest.raises(
        InputError,
        match=r"^config key 'models/x/architecture': expected a registered architecture "
        r"\(.*crnn, dnd.*\), found 'cnn'$",
    ):
        check_model_config({"name": "x", "architecture": "cnn"}, "models/x")
    with pytest.raises(InputError, match=r"^config key 'models/x': dnd config: unknown key\(s\) \['stride'\]"):
        check_model_config({"architecture": "dnd", **narrow("dessed"), "stride": 2}, "models/x")
    with pytest.raises(InputError, match=r"^config key 'models/x': a model config names its architecture"):
        check_model_config({"name": "x", **narrow("dessed")}, "models/x")


def test_config_errors() -> None:
    for name in PRESETS:
        assert DnDConfig.from_dict(dnd_preset(name)).kind == PRESETS[name]["kind"]
    with pytest.raises(ValueError, match="unknown key.*'stride'"):
        build_dnd_model({**dnd_preset("baseline"), "stride": 1}, N_FEAT, POLY_C)
    d = dnd_preset("baseline_dilated")
    del d["dilated"]["reduction"]
    with pytest.raises(ValueError, match="missing key.*'reduction'"):
        build_dnd_model(d, N_FEAT, POLY_C)
    d = dnd_preset("baseline")
    d["cnn"]["bias"] = True
    with pytest.raises(ValueError, match="unknown key.*'bias'"):
        build_dnd_model(d, N_FEAT, POLY_C)
    with pytest.raises(ValueError, match="kind"):
        build_dnd_model({**dnd_preset("baseline"), "kind": "crnn"}, N_FEAT, POLY_C)
    with pytest.raises(ValueError, match="needs a 'dilated' block"):
        build_dnd_model({**dnd_preset("baseline"), "kind": "dessed_dilated"}, N_FEAT, POLY_C)
    with pytest.raises(ValueError, match="needs a 'gru' block"):
        build_dnd_model({**dnd_preset("baseline_dilated"), "kind": "dessed"}, N_FEAT, POLY_C)
    d = dnd_preset("dessed")
    d["cnn"]["kernel_size"] = 4
    with pytest.raises(ValueError, match="kernel_size must be odd"):
        build_dnd_model(d, N_FEAT, POLY_C)
    d = dnd_preset("dessed")
    d["cnn"].update(separable_style="keras", pointwise_kernel_size=3)
    with pytest.raises(ValueError, match="pointwise_kernel_size"):
        build_dnd_model(d, N_FEAT, POLY_C)
    d = dnd_preset("baseline_dilated")
    d["dilated"]["reduction"] = "avgpool"
    with pytest.raises(ValueError, match="reduction"):
        build_dnd_model(d, N_FEAT, POLY_C)
    with pytest.raises(ValueError, match="too small"):
        build_dnd_model(dnd_preset("baseline"), 20, POLY_C)  # 20 -> 4 -> 1 -> 0
    with pytest.raises(ValueError, match="preset"):
        dnd_preset("proposed")


# ---------------------------------------------------------------- shapes


@pytest.mark.parametrize("name", POLY)
def test_poly_output_shape_full_length(name: str) -> None:
    m = build_dnd_model(narrow(name), N_FEAT, POLY_C)
    assert m(torch.randn(2, 1024, N_FEAT))["strong"].shape == (2, 1024, POLY_C)


@pytest.mark.parametrize("name", POLY)
@pytest.mark.parametrize("T", [1, 37])
def test_poly_output_shape_any_length(name: str, T: int) -> None:
    m = build_dnd_model(narrow(name), N_FEAT, POLY_C)
    assert m(torch.randn(2, T, N_FEAT))["strong"].shape == (2, T, POLY_C)


@pytest.mark.parametrize("name", MONO)
def test_mono_output_shape(name: str) -> None:
    m = build_dnd_model(narrow(name), N_FEAT, MONO_C)
    assert m(torch.randn(2, MONO_T, N_FEAT))["weak"].shape == (2, MONO_C)


@pytest.mark.parametrize("k", [5, 7])
@pytest.mark.parametrize("reduction", ["stride", "conv1x1", "maxpool", "none"])
def test_dilated_grid_shapes(k: int, reduction: str) -> None:
    """The official grid's kernels with every reduction, poly and mono."""
    m = build_dnd_model(narrow("dessed_dilated_maxpool", 16, kernel_size=k, reduction=reduction), N_FEAT, POLY_C)
    assert m(torch.randn(2, 23, N_FEAT))["strong"].shape == (2, 23, POLY_C)
    m = build_dnd_model(narrow("mono_proposed", 16, kernel_size=k, reduction=reduction), N_FEAT, MONO_C)
    assert m(torch.randn(2, 23, N_FEAT))["weak"].shape == (2, MONO_C)


def test_full_width_forward_smoke() -> None:
    for name in ("baseline_dilated", "dessed_dilated_maxpool"):
        m = build_dnd_model(dnd_preset(name), N_FEAT, POLY_C)
        assert m(torch.randn(1, 12, N_FEAT))["strong"].shape == (1, 12, POLY_C)


def test_dilated_receptive_field() -> None:
    """Front end: 3 convs 5x5 -> ±6 frames; dilated 3x3, d=10 -> ±10 more: a change at frame 30
    reaches output frames 14..46 exactly (official settings: no time pooling anywhere)."""
    torch.manual_seed(0)
    m = build_dnd_model(narrow("official_dessed_dilated"), N_FEAT, POLY_C).eval()
    x = torch.randn(1, 64, N_FEAT)
    x2 = x.clone()
    x2[0, 30] += 3.0
    changed = (m(x)["strong"] - m(x2)["strong"]).abs().amax(dim=2)[0] > 1e-6
    assert changed.nonzero().flatten().tolist() == list(range(14, 47))


def test_mono_gru_uses_last_state() -> None:
    """Keras GRU default (return_sequences=False): the classifier sees the GRU's last state."""
    torch.manual_seed(0)
    m = build_dnd_model(narrow("mono_baseline"), N_FEAT, MONO_C).eval()
    x = torch.randn(2, MONO_T, N_FEAT)
    assert m.gru is not None
    seq, _ = m.gru(m.front(x).permute(0, 2, 1, 3).reshape(2, MONO_T, -1))  # (B, T, H)
    torch.testing.assert_close(m(x)["weak"], m.head(seq[:, -1]))
    x2 = x.clone()
    x2[:, -3] += 3.0
    assert not torch.allclose(m(x)["weak"], m(x2)["weak"])


@pytest.mark.parametrize("name", list(PRESETS))
def test_forward_backward_smoke(name: str) -> None:
    torch.manual_seed(0)
    m = build_dnd_model(narrow(name), N_FEAT, n_classes(name)).train()
    T = MONO_T if name.startswith("mono") else 48
    out = m(torch.randn(2, T, N_FEAT))
    y = out["weak"] if name.startswith("mono") else out["strong"]
    assert len(out) == 1
    if name.startswith("mono"):
        loss = torch.nn.functional.cross_entropy(y, torch.tensor([1, 7]))
    else:
        loss = torch.nn.functional.binary_cross_entropy_with_logits(y, torch.randint(0, 2, y.shape).float())
    loss.backward()
    for pname, p in m.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), pname
        assert p.grad.abs().sum() > 0, pname


def test_empty_and_wrong_input_raise() -> None:
    m = build_dnd_model(narrow("baseline"), N_FEAT, POLY_C)
    with pytest.raises(ValueError, match="T == 0"):
        m(torch.zeros(2, 0, N_FEAT))
    with pytest.raises(ValueError, match="expects input"):
        m(torch.zeros(2, 10, 64))


# ---------------------------------------------------------------- parameter counts
# Independent formulas (not read from the models' output). BatchNorm: gamma and beta only.


def conv(c_in: int, c_out: int, k: int, groups: int = 1, bias: bool = True) -> int:
    return c_out * (c_in // groups) * k * k + (c_out if bias else 0)


def bn(c: int) -> int:
    return 2 * c


def gru(nx: int, h: int) -> int:
    return 3 * h * (nx + h) + 6 * h  # W_ih, W_hh (3 gates), b_ih, b_hh: nn.GRU == nn.GRUCell


def lin(n_in: int, n_out: int) -> int:
    return n_in * n_out + n_out


C = 256


def front(separable: bool, style: str = "official", pk: int = 1) -> int:
    n, c_in = 0, 1
    for _ in range(3):
        if not separable:
            n += conv(c_in, C, 5)
        elif style == "official":  # depthwise (groups=c_in) -> LeakyReLU -> BN -> pointwise
            n += conv(c_in, C, 5, groups=c_in) + bn(C) + conv(C, C, pk)
        else:  # Keras SeparableConv2D: depthwise c_in -> c_in without bias, pointwise with bias
            n += conv(c_in, c_in, 5, groups=c_in, bias=False) + conv(c_in, C, 1)
        n += bn(C)
        c_in = C
    return n


def dilated(k: int, reduction: str, n_cls: int = POLY_C, mono: bool = False) -> int:
    n = conv(1, C, k) + bn(C)  # the 256 CNN channels are the feature axis, 1 input channel
    f = C - k + 1  # valid along features
    if reduction == "stride":
        f = (C - k) // 3 + 1
    elif reduction == "conv1x1":
        n += conv(C, C, 1)
        f = (f - 1) // 3 + 1
    elif reduction == "maxpool":
        f //= 3
    return n + (lin(C, n_cls) if mono else lin(C * f, n_cls))


EXPECTED = {
    "baseline": front(False) + gru(C, C) + lin(C, POLY_C),
    "baseline_dilated": front(False) + dilated(3, "conv1x1"),
    "dessed": front(True) + gru(C, C) + lin(C, POLY_C),
    "dessed_dilated_conv1x1": front(True) + dilated(3, "conv1x1"),
    "dessed_dilated_maxpool": front(True) + dilated(3, "maxpool"),
    "mono_baseline": front(False) + gru(C, C) + lin(C, MONO_C),
    "mono_proposed": front(True) + dilated(3, "none", MONO_C, mono=True),
    "official_baseline_dilated": front(False) + dilated(3, "stride"),
    "official_dessed_dilated": front(True) + dilated(3, "stride"),
}


@pytest.mark.parametrize("name", list(PRESETS))
def test_parameter_counts(name: str) -> None:
    m = build_dnd_model(dnd_preset(name), N_FEAT, n_classes(name))
    n = count_parameters(m)
    print(f"\n{name}: {n:,} = {n / 1e6:.3f} M, float32 {4 * n / 1e6:.2f} MB")
    assert n == EXPECTED[name]


def test_official_variants_counts() -> None:
    """The official grid's k = 5 / 7 and the ``k_77_d_10_1_b`` inner kernel 3; Keras-style
    separable convs (what the replication's Keras SeparableConv2D would have)."""
    d = dnd_preset("official_dessed_dilated")
    d["dilated"]["kernel_size"] = 7
    assert count_parameters(build_dnd_model(d, N_FEAT, POLY_C)) == front(True) + dilated(7, "stride")
    d["cnn"]["pointwise_kernel_size"] = 3
    assert count_parameters(build_dnd_model(d, N_FEAT, POLY_C)) == front(True, pk=3) + dilated(7, "stride")
    d = dnd_preset("dessed")
    d["cnn"]["separable_style"] = "keras"
    assert count_parameters(build_dnd_model(d, N_FEAT, POLY_C)) == front(True, "keras") + gru(C, C) + lin(C, POLY_C)


def test_models_md_derived_counts_and_paper_orders() -> None:
    """models.md 2.1's derived counts follow from the formulas; the paper's Table 4 rounds."""
    assert front(False) + gru(C, C) + lin(C, POLY_C) == 3_684_368
    assert round((front(False) + dilated(3, "stride")) / 1e4) == 364
    assert front(True) + gru(C, C) + lin(C, POLY_C) == 619_280
    assert front(True) + dilated(3, "stride") == front(True) + dilated(5, "stride") == 571_664
    assert front(True) + dilated(7, "stride") == 577_808
    # Table 4: 3.7 M for baseline and dilated (the 1x1 variant: 3.70 M; official stride: 3.64 M).
    assert round(EXPECTED["baseline"] / 1e5) == round(EXPECTED["baseline_dilated"] / 1e5) == 37
    # Abstract: -85 % parameters (official dessed_dilated vs CRNN).
    assert round(100 * (1 - EXPECTED["official_dessed_dilated"] / EXPECTED["baseline"])) == 84


def test_size_on_disk_contradicts_table4() -> None:
    """Table 4 says 3.7 M parameters in 43 KB: at float32 the weights alone are ~14.7 MB."""
    m = build_dnd_model(dnd_preset("baseline"), N_FEAT, POLY_C)
    buf = io.BytesIO()
    torch.save(m.state_dict(), buf)
    assert buf.tell() >= 4 * count_parameters(m) > 300 * 43_000


def test_presets_are_fresh_copies() -> None:
    d = dnd_preset("baseline")
    d["cnn"]["channels"] = 1
    assert PRESETS["baseline"]["cnn"]["channels"] == 256
    assert copy.deepcopy(PRESETS["baseline"]) == dnd_preset("baseline")
