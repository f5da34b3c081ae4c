"""Fast HyperLSTM vs the naive reference (paper eqs 1-15) and vs torch.nn.LSTM."""

from __future__ import annotations

import itertools
import shutil
import sys
import warnings
from pathlib import Path

import pytest
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).parent))
from reference_hyperlstm import reference_forward  # noqa: E402

from sedrepro.models import HyperConfig, HyperLSTM, hyperlstm, set_compiled  # noqa: E402

torch.set_num_threads(1)

COMBOS = list(itertools.product(("rnn", "lstm"), ("previous", "current"), (False, True)))
SHAPES = [(1, 1), (1, 6), (3, 1), (3, 7)]  # (B, T), including batch 1 and sequence length 1


def _randomise(m: nn.Module, gen: torch.Generator) -> None:
    """Overwrite every parameter with random values: init has zeros/constants that hide bugs."""
    with torch.no_grad():
        for p in m.parameters():
            p.copy_(0.5 * torch.randn(p.shape, generator=gen, dtype=p.dtype))


@pytest.mark.parametrize("hyper_cell,z_from,layer_norm", COMBOS)
@pytest.mark.parametrize("B,T", SHAPES)
def test_fast_matches_reference(hyper_cell: str, z_from: str, layer_norm: bool, B: int, T: int) -> None:
    gen = torch.Generator().manual_seed(hash((hyper_cell, z_from, layer_norm, B, T)) % 2**31)
    m = HyperLSTM(5, 6, 4, 3, hyper_cell, z_from, layer_norm, 1.0).double()
    _randomise(m, gen)
    x = torch.randn(B, T, 5, generator=gen, dtype=torch.float64, requires_grad=True)
    gy = torch.randn(B, T, 6, generator=gen, dtype=torch.float64)
    params = [x] + list(m.parameters())

    y_fast = m(x)
    y_ref = reference_forward(m, x)
    assert y_fast.shape == (B, T, 6)
    torch.testing.assert_close(y_fast, y_ref, rtol=1e-10, atol=1e-10)

    # allow_unused: with T == 1 and z_from "previous" the hyper cell's output is never used.
    g_fast = torch.autograd.grad(y_fast, params, gy, allow_unused=True, materialize_grads=True)
    g_ref = torch.autograd.grad(y_ref, params, gy, allow_unused=True, materialize_grads=True)
    names = ["x"] + [n for n, _ in m.named_parameters()]
    for name, a, b in zip(names, g_fast, g_ref, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10, msg=lambda s, n=name: f"grad {n}: {s}")


def test_empty_sequence_raises() -> None:
    m = HyperLSTM(5, 6, 4, 3, "lstm", "current", True, 0.1)
    with pytest.raises(ValueError, match="T == 0"):
        m(torch.zeros(2, 0, 5))


def test_init_scaling() -> None:
    """At init z_x = z_h = 1, so d_x = d_h = scale_init; dynamic bias d_b = 0."""
    m = HyperLSTM(5, 6, 4, 3, "lstm", "current", False, 0.1)
    torch.testing.assert_close(m.z_x_weight, torch.zeros_like(m.z_x_weight))
    torch.testing.assert_close(m.z_h_bias, torch.ones_like(m.z_h_bias))
    d = torch.einsum("ghz,z->gh", m.d_x_weight, torch.ones(3))
    torch.testing.assert_close(d, torch.full_like(d, 0.1))
    assert torch.count_nonzero(m.d_b_weight) == 0
    assert 0.005 < m.z_b_weight.std().item() < 0.02
    assert torch.count_nonzero(m.bias) == 0
    # W_h orthogonal per gate.
    for k in range(4):
        w = m.weight_h[k * 6 : (k + 1) * 6]
        torch.testing.assert_close(w @ w.T, torch.eye(6), atol=1e-5, rtol=0)


@pytest.mark.parametrize("hyper_cell,z_from", list(itertools.product(("rnn", "lstm"), ("previous", "current"))))
def test_equals_torch_lstm_when_scaling_is_one(hyper_cell: str, z_from: str) -> None:
    """scale_init 1, z/d at init (z = 1, d = 1, dynamic bias 0), no LN: HyperLSTM == nn.LSTM."""
    gen = torch.Generator().manual_seed(7)
    nx, nh = 5, 6
    m = HyperLSTM(nx, nh, 4, 3, hyper_cell, z_from, False, 1.0).double()
    m.reset_parameters()  # re-init in float64 so d = 3 * (1/3) is exactly 1
    with torch.no_grad():  # random main weights and hyper cell; z/d stay at init
        for p in (m.weight_x, m.weight_h, m.bias, m.hyper_weight_x, m.hyper_weight_h, m.hyper_weight_hh, m.z_b_weight):
            p.copy_(torch.randn(p.shape, generator=gen, dtype=p.dtype))
    lstm = nn.LSTM(nx, nh, batch_first=True).double()
    order = [0, 2, 1, 3]  # PyTorch rows (i, f, g, o) from ours (i, g, f, o)

    def reorder(w: torch.Tensor) -> torch.Tensor:
        return torch.cat([w[k * nh : (k + 1) * nh] for k in order], 0)

    with torch.no_grad():
        lstm.weight_ih_l0.copy_(reorder(m.weight_x))
        lstm.weight_hh_l0.copy_(reorder(m.weight_h))
        lstm.bias_ih_l0.copy_(reorder(m.bias))
        lstm.bias_hh_l0.zero_()
    x = torch.randn(3, 9, nx, generator=gen, dtype=torch.float64)
    torch.testing.assert_close(m(x), lstm(x)[0], rtol=1e-12, atol=1e-12)


def test_hyper_config_from_dict() -> None:
    good = {
        "hidden_size": 64,
        "embedding_size": 8,
        "cell": "rnn",
        "z_from": "previous",
        "layer_norm": False,
        "scale_init": 1.0,
    }
    assert HyperConfig.from_dict(good) == HyperConfig(64, 8, "rnn", "previous", False, 1.0)
    with pytest.raises(ValueError, match="unknown key.*'extra'"):
        HyperConfig.from_dict({**good, "extra": 1})
    bad = dict(good)
    del bad["z_from"]
    with pytest.raises(ValueError, match="missing key.*'z_from'"):
        HyperConfig.from_dict(bad)
    with pytest.raises(ValueError, match="hyper.cell"):
        HyperConfig.from_dict({**good, "cell": "gru"})
    with pytest.raises(ValueError, match="layer_norm"):
        HyperConfig.from_dict({**good, "layer_norm": 1})


@pytest.mark.parametrize("hyper_cell", ["rnn", "lstm"])
def test_z_from_modes_differ(hyper_cell: str) -> None:
    """Guard against a vacuous comparison: "previous" and "current" really compute different things."""
    gen = torch.Generator().manual_seed(3)
    a = HyperLSTM(5, 6, 4, 3, hyper_cell, "previous", False, 1.0).double()
    _randomise(a, gen)
    b = HyperLSTM(5, 6, 4, 3, hyper_cell, "current", False, 1.0).double()
    b.load_state_dict(a.state_dict())
    x = torch.randn(2, 4, 5, generator=gen, dtype=torch.float64)
    assert (a(x) - b(x)).abs().max() > 1e-3


def _outputs_and_grads(m: nn.Module, x: torch.Tensor, gy: torch.Tensor) -> list[torch.Tensor]:
    y = m(x)
    return [y, *torch.autograd.grad(y, [x, *m.parameters()], gy, allow_unused=True, materialize_grads=True)]


# The paper's configuration and the one with every optional part (lstm hyper cell, z from ĥ_t, LN); one compile each.
@pytest.mark.skipif(shutil.which("g++") is None, reason="no C++ compiler: torch.compile's CPU backend needs g++")
@pytest.mark.parametrize("hyper_cell,z_from,layer_norm", [("rnn", "previous", False), ("lstm", "current", True)])
def test_compiled_step_matches_eager(hyper_cell: str, z_from: str, layer_norm: bool) -> None:
    gen = torch.Generator().manual_seed(11)
    m = HyperLSTM(5, 6, 4, 3, hyper_cell, z_from, layer_norm, 1.0).double()
    _randomise(m, gen)
    x = torch.randn(3, 7, 5, generator=gen, dtype=torch.float64, requires_grad=True)
    gy = torch.randn(3, 7, 6, generator=gen, dtype=torch.float64)
    eager = _outputs_and_grads(m, x, gy)
    assert set_compiled(m, True) == 1 and m.compiled
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # a silent fallback to eager would make this test vacuous
        compiled = _outputs_and_grads(m, x, gy)
    assert hyperlstm._COMPILED.get("step") is not None and "failed" not in hyperlstm._COMPILED
    for a, b in zip(compiled, eager, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)


def test_compiled_layer_stays_eager_without_grad(monkeypatch: pytest.MonkeyPatch) -> None:
    """Evaluation (no_grad) never compiles: scoring checkpoints must not wait for a compiler."""
    m = HyperLSTM(5, 6, 4, 3, "rnn", "previous", False, 1.0)
    set_compiled(m, True)
    monkeypatch.setattr(hyperlstm, "_compiled_step", lambda: pytest.fail("compiled under no_grad"))
    x = torch.randn(2, 4, 5)
    with torch.no_grad():
        assert m(x).shape == (2, 4, 6)
    with pytest.raises(pytest.fail.Exception, match="compiled under no_grad"):  # the trap is armed: with grad it fires
        m(x)


def test_compile_failure_falls_back_to_eager_with_one_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object) -> None:
        raise RuntimeError("no C++ compiler found\nsecond line")

    monkeypatch.setattr(hyperlstm, "_COMPILED", {"step": broken})
    gen = torch.Generator().manual_seed(5)
    m = HyperLSTM(5, 6, 4, 3, "lstm", "previous", False, 1.0).double()
    _randomise(m, gen)
    x = torch.randn(2, 5, 5, generator=gen, dtype=torch.float64, requires_grad=True)
    gy = torch.randn(2, 5, 6, generator=gen, dtype=torch.float64)
    eager = _outputs_and_grads(m, x, gy)
    set_compiled(m, True)
    with pytest.warns(RuntimeWarning, match="running eagerly: RuntimeError: no C\\+\\+ compiler found$"):
        fallback = _outputs_and_grads(m, x, gy)
    for a, b in zip(fallback, eager, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # once failed, later calls go straight to eager, silently
        _outputs_and_grads(m, x, gy)
    assert set_compiled(m, False) == 1 and not m.compiled
