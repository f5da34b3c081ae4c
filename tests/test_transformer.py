"""The cnn_transformer architecture (sparse self-attention paper, Guan et al.): sparsemax against the paper's
Algorithm 1, lambda scaling, softmax attention against torch.nn, shapes, named outputs, gradients, config errors."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from torch import nn

from sedrepro import config as sconfig
from sedrepro.io import InputError
from sedrepro.models import ARCHITECTURES, OUTPUTS, build, check_model_config, count_parameters, probabilities
from sedrepro.models.transformer import (
    CNNTransformer,
    CNNTransformerConfig,
    EncoderConfig,
    EncoderLayer,
    SelfAttention,
    normalise_scores,
)

# The paper's widths (models.md 3.1 / 3.3), as config/schema.yaml's defaults fill them (test_schema_defaults).
PAPER = {
    "cnn": {
        "channels": [16, 32, 64, 128, 128, 128, 128],
        "kernel_size": 3,
        "pool_time": [2, 2, 1, 1, 1, 1, 1],
        "pool_freq": [2, 2, 2, 2, 2, 2, 2],
        "activation": "glu",
        "dropout": 0.5,
        "bn_eps": 0.001,
        "bn_momentum": 0.99,
    },
    "transformer": {
        "layers": 1,
        "heads": 16,
        "feedforward": 512,
        "dropout": 0.2,
        "attention_dropout": 0.0,
        "attention": "softmax",
        "sparsity": 1.0,
    },
    "pooling": "attention",
}


def paper_cfg(**transformer) -> dict:
    cfg = copy.deepcopy(PAPER)
    cfg["transformer"].update(transformer)
    return cfg


def tiny_cfg(**transformer) -> dict:
    """4 blocks of 4 channels, 16 features -> 1 bin, d_model 4, 2 heads: cheap on 2 shared cores."""
    cfg = paper_cfg(**{"heads": 2, "feedforward": 8, **transformer})
    cfg["cnn"].update(channels=[4, 4, 4, 4], pool_time=[2, 2, 1, 1], pool_freq=[2, 2, 2, 2])
    return cfg


def algorithm1(scores: np.ndarray) -> np.ndarray:
    """The paper's Algorithm 1 (lines 3-7) in float64, one row at a time, written from the pseudo-code."""
    out = np.zeros_like(scores, dtype=np.float64)
    for t, row in enumerate(np.asarray(scores, dtype=np.float64)):
        z = np.sort(row)[::-1]  # line 3: descending
        cumsum = np.cumsum(z)
        k_t = max(k for k in range(1, len(z) + 1) if 1 + k * z[k - 1] > cumsum[k - 1])  # line 4
        tau = (cumsum[k_t - 1] - 1) / k_t  # line 5
        out[t] = np.maximum(row - tau, 0.0)  # lines 6-8
    return out


# ----------------------------------------------------------------------------------------------- sparsemax


def test_sparsemax_paper_example():
    """Sec. 2.3: "[0.5, 4, 5] becomes [0, 0, 1] after the Sparsemax normalization" (k = 1, tau = 4)."""
    x = torch.tensor([[0.5, 4.0, 5.0]], dtype=torch.float64)
    assert algorithm1(x.numpy()).tolist() == [[0.0, 0.0, 1.0]]
    assert normalise_scores(x, "sparsemax", 1.0).tolist() == [[0.0, 0.0, 1.0]]


@pytest.mark.parametrize("sparsity", [1.0, 1.3])
def test_sparsemax_matches_algorithm1(sparsity):
    """entmax.sparsemax of scores / lambda equals Algorithm 1 on scores / lambda in float64 (tolerance 1e-12: the
    two differ only in summation order), on rows of several spreads, each row a point of the simplex."""
    gen = torch.Generator().manual_seed(0)
    for scale in (0.1, 1.0, 5.0):
        x = torch.randn(64, 37, generator=gen, dtype=torch.float64) * scale
        got = normalise_scores(x, "sparsemax", sparsity)
        want = algorithm1((x / sparsity).numpy())
        np.testing.assert_allclose(got.numpy(), want, rtol=0, atol=1e-12)
        np.testing.assert_allclose(got.sum(-1).numpy(), 1.0, atol=1e-12)
        assert (got >= 0).all()
    assert (normalise_scores(torch.randn(64, 37, generator=gen) * 5, "sparsemax", 1.0) == 0).any()  # sparse


def test_proposition1_and_lambda_sparsity():
    """Prop. 1: a gap >= 1 between adjacent sorted scores zeroes the smaller one; dividing by lambda moves that
    threshold to a gap of lambda. So [5, 4] -> [1, 0], while lambda 1.3 keeps 4 (gap 1 < 1.3)."""
    x = torch.tensor([5.0, 4.0], dtype=torch.float64)
    assert normalise_scores(x, "sparsemax", 1.0).tolist() == [1.0, 0.0]
    assert normalise_scores(x, "sparsemax", 1.3)[1] > 0
    assert normalise_scores(torch.tensor([5.0, 3.6], dtype=torch.float64), "sparsemax", 1.3)[1] == 0  # gap 1.4


def test_larger_lambda_gives_denser_weights():
    """The paper's claim (sec. 2.3): lambda > 1 reduces sparsity; the count of non-zero weights never falls as lambda
    grows (the support of sparsemax(z / lambda) grows with lambda) and rises overall."""
    x = torch.randn(200, 50, generator=torch.Generator().manual_seed(1), dtype=torch.float64) * 3
    lambdas = [1.0, 1.1, 1.2, 1.3, 1.4, 1.5, 3.0]
    nonzero = [(normalise_scores(x, "sparsemax", lam) > 0).sum(-1) for lam in lambdas]
    for a, b in zip(nonzero, nonzero[1:], strict=False):
        assert (b >= a).all()
    assert nonzero[-1].sum() > nonzero[0].sum()


# ------------------------------------------------------------------------------------------------ attention


def test_softmax_attention_equals_torch_multihead_attention():
    """Loaded with nn.MultiheadAttention's state, the softmax attention gives its output and its per-head weights:
    float64, tolerance 1e-12 (the same operations up to their order)."""
    torch.manual_seed(0)
    ref = nn.MultiheadAttention(32, 4, batch_first=True, dtype=torch.float64).eval()
    ours = SelfAttention(32, 4, "softmax", 1.0, 0.0).double().eval()
    ours.load_state_dict(ref.state_dict())
    x = torch.randn(3, 11, 32, dtype=torch.float64)
    want, want_w = ref(x, x, x, need_weights=True, average_attn_weights=False)
    torch.testing.assert_close(ours(x), want, rtol=0, atol=1e-12)
    torch.testing.assert_close(ours.weights(x), want_w, rtol=0, atol=1e-12)
    ref.load_state_dict(ours.state_dict())  # and back: the same parameter layout


def test_softmax_encoder_layer_equals_torch_encoder_layer():
    """The whole post-LN layer with softmax equals nn.TransformerEncoderLayer (eval mode, float64, 1e-12)."""
    torch.manual_seed(0)
    cfg = EncoderConfig(1, 4, 64, 0.2, 0.0, "softmax", 1.0)
    ref = nn.TransformerEncoderLayer(32, 4, 64, 0.2, batch_first=True, dtype=torch.float64).eval()
    ours = EncoderLayer(32, cfg).double().eval()
    ours.load_state_dict(ref.state_dict())
    x = torch.randn(2, 9, 32, dtype=torch.float64)
    torch.testing.assert_close(ours(x), ref(x), rtol=0, atol=1e-12)


def test_sparsemax_attention_is_algorithm1_on_the_scaled_scores():
    """Eq. 1 then eq. 7: each head's weights are Algorithm 1 of (QK^T / sqrt(d_head)) / lambda, and the output is
    the weighted sum of the values through the output projection (eq. 3)."""
    torch.manual_seed(0)
    att = SelfAttention(8, 2, "sparsemax", 1.3, 0.0).double()
    x = torch.randn(1, 6, 8, dtype=torch.float64) * 3
    q, k, v = torch.nn.functional.linear(x, att.in_proj_weight, att.in_proj_bias).chunk(3, dim=-1)
    for h in range(2):
        sl = slice(4 * h, 4 * h + 4)
        scores = q[0, :, sl] @ k[0, :, sl].T / 2.0  # sqrt(d_head = 4)
        np.testing.assert_allclose(att.weights(x)[0, h].detach().numpy(), algorithm1(scores.detach() / 1.3), atol=1e-12)
    w = att.weights(x)  # (1, 2, 6, 6)
    heads = torch.cat([w[0, h] @ v[0, :, 4 * h : 4 * h + 4] for h in range(2)], dim=-1)
    torch.testing.assert_close(att(x)[0], att.out_proj(heads), rtol=0, atol=1e-12)


# -------------------------------------------------------------------------------------------- whole network


def test_outputs_shapes_and_names():
    """Named outputs "strong" (B, T, C) at the input frame rate and "tags" (B, C), both registered in OUTPUTS; the
    strong logits repeat each of the T // 4 encoder frames 4 times, the last one filling the floor-pooled tail."""
    torch.manual_seed(0)
    model = build("cnn_transformer", tiny_cfg(), 16, 3).eval()
    x = torch.randn(2, 23, 16)
    out = model(x)
    assert set(out) == {"strong", "tags"} and set(out) <= set(OUTPUTS)
    assert out["strong"].shape == (2, 23, 3) and out["tags"].shape == (2, 3)
    frames = model.head(model.encode(x))  # (2, 5, 3)
    assert frames.shape == (2, 5, 3)
    torch.testing.assert_close(out["strong"][:, :20], frames.repeat_interleave(4, dim=1))
    torch.testing.assert_close(out["strong"][:, 20:], frames[:, -1:].expand(-1, 3, -1))
    assert torch.equal(probabilities("tags", out["tags"]), torch.sigmoid(out["tags"]))


@pytest.mark.parametrize("pooling", ["attention", "mean"])
def test_tags_are_the_logit_of_the_pooled_probability(pooling):
    """sigmoid(tags) is the baseline's weak output: sum_t p_t w_t / sum_t w_t, w = clamp(softmax over classes of
    the pooling head, 1e-7, 1) (mean: w = 1); float64, 1e-12. Also finite where frame logits saturate."""
    torch.manual_seed(0)
    model = build("cnn_transformer", {**tiny_cfg(), "pooling": pooling}, 16, 3).double().eval()
    x = torch.randn(2, 40, 16, dtype=torch.float64)
    h = model.encode(x)
    p = torch.sigmoid(model.head(h))
    w = torch.softmax(model.pool_head(h), -1).clamp(1e-7, 1) if pooling == "attention" else torch.ones_like(p)
    torch.testing.assert_close(torch.sigmoid(model(x)["tags"]), (p * w).sum(1) / w.sum(1), rtol=0, atol=1e-12)
    with torch.no_grad():
        model.head.bias.fill_(80.0)  # sigmoid is 1.0 in float32 and float64: the pooled logit stays finite
    assert torch.isfinite(model(x)["tags"]).all()


@pytest.mark.parametrize("attention, sparsity", [("softmax", 1.0), ("sparsemax", 1.3)])
def test_gradients_flow(attention, sparsity):
    """A loss on both outputs reaches every parameter, through the sparsemax too."""
    torch.manual_seed(0)
    model = build("cnn_transformer", tiny_cfg(attention=attention, sparsity=sparsity), 16, 3).train()
    out = model(torch.randn(4, 32, 16))
    (out["strong"].sum() + out["tags"].sum()).backward()
    for name, param in model.named_parameters():
        assert param.grad is not None and torch.isfinite(param.grad).all(), name
        assert param.grad.abs().sum() > 0, name


def test_attention_weights_of_a_layer():
    """attention_weights(x, layer): (B, heads, T', T'), rows on the simplex; the layer's own weights on what the
    layers before it give, so layer 1 differs from layer 0."""
    torch.manual_seed(0)
    model = build("cnn_transformer", tiny_cfg(layers=2, attention="sparsemax", sparsity=1.0), 16, 3).eval()
    x = torch.randn(2, 48, 16)
    w0, w1 = model.attention_weights(x, 0), model.attention_weights(x, 1)
    assert w0.shape == w1.shape == (2, 2, 12, 12)
    torch.testing.assert_close(w0.sum(-1), torch.ones(2, 2, 12))
    torch.testing.assert_close(w1, model.layers[1].self_attn.weights(model.layers[0](model.cnn(x))))
    assert not torch.allclose(w0, w1)
    with pytest.raises(ValueError, match=r"layer must be in \[0, 2\), got 2"):
        model.attention_weights(x, 2)


def test_paper_width_forward_backward_and_parameter_count():
    """The paper's widths on 128 mel bins: 626 frames -> 156 encoder frames (models.md 3.1), outputs at 626 frames.
    Parameters: CNN 612,688 (convs, batch norms, GLU linears), one encoder layer 198,272 (attention 66,048, feed-
    forward 131,712, norms 512), heads 2 x 1,290; 813,540 in all."""
    torch.manual_seed(0)
    model = build("cnn_transformer", paper_cfg(attention="sparsemax", sparsity=1.3), 128, 10).train()
    out = model(torch.randn(2, 626, 128))
    assert out["strong"].shape == (2, 626, 10) and out["tags"].shape == (2, 10)
    assert model.cnn.out_frames(626) == 156 and model.cnn.out_features == 128
    (out["strong"].mean() + out["tags"].mean()).backward()
    assert count_parameters(model.cnn) == 612_688
    assert count_parameters(model.layers) == 198_272
    assert count_parameters(model) == 813_540


def test_builds_and_steps_on_meta_device():
    """What config.check does at workflow start (build on the meta device), plus a forward and backward there."""
    with torch.device("meta"):
        model = build("cnn_transformer", paper_cfg(attention="sparsemax", sparsity=1.3), 128, 10)
    out = model(torch.empty(2, 24, 128, device="meta"))
    assert out["strong"].shape == (2, 24, 10) and out["strong"].device.type == "meta"
    (out["strong"].sum() + out["tags"].sum()).backward()
    assert all(p.grad is not None and p.grad.device.type == "meta" for p in model.parameters())


# ------------------------------------------------------------------------------------------------- config


def test_registered():
    assert "cnn_transformer" in ARCHITECTURES.names()
    assert isinstance(CNNTransformerConfig.from_dict(PAPER), CNNTransformerConfig)


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda c: c.update(depth=2), r"cnn_transformer config: unknown key\(s\) \['depth'\]"),
        (lambda c: c["transformer"].pop("heads"), r"transformer config: missing key\(s\) \['heads'\]"),
        (lambda c: c["cnn"].update(width=3), r"cnn config: unknown key\(s\) \['width'\]"),
        (lambda c: c["transformer"].update(attention="entmax15"), r"transformer.attention must be one of"),
        (lambda c: c["transformer"].update(sparsity=0), r"transformer.sparsity must be a positive number, got 0"),
        (lambda c: c["transformer"].update(sparsity=1.3), r"sparsity applies to sparsemax only"),
        (lambda c: c["cnn"].update(pool_time=[2, 2]), r"cnn.pool_time must have one entry per block \(7\)"),
        (lambda c: c["cnn"].update(activation="tanh"), r"cnn.activation must be one of"),
        (lambda c: c.update(pooling="max"), r"pooling must be one of"),
    ],
)
def test_bad_config_is_one_value_error_naming_it(change, message):
    cfg = copy.deepcopy(PAPER)
    change(cfg)
    with pytest.raises(ValueError, match=message):
        CNNTransformerConfig.from_dict(cfg)


@pytest.mark.parametrize(
    "n_features, heads, message",
    [
        (64, 16, r"cnn.pool_freq \[2, 2, 2, 2, 2, 2, 2\] pools the 64 input features to none \(needs at least 128\)"),
        (128, 12, r"transformer.heads \(12\) must divide the CNN output width d_model \(128\)"),
    ],
)
def test_widths_that_do_not_fit_are_stopped_at_build(n_features, heads, message):
    """Caught by the meta-device build of config.check before any job runs."""
    with torch.device("meta"), pytest.raises(ValueError, match=message):
        build("cnn_transformer", paper_cfg(heads=heads), n_features, 10)


def test_too_short_input_is_one_value_error():
    model = build("cnn_transformer", tiny_cfg(), 16, 3)
    with pytest.raises(ValueError, match="needs at least 4 frames"):
        model(torch.randn(1, 3, 16))


def test_schema_defaults_are_the_paper_widths():
    """config/schema.yaml fills a bare cnn_transformer entry with the baseline's and paper's values (PAPER), and
    the workflow's check parses it; a bad key there is one InputError naming the model."""
    cfg = sconfig.load([sconfig.REPO / "config.yaml"])
    pipeline = sorted(cfg["pipelines"])[0]
    raw = {"models": {"ssa": {"architecture": "cnn_transformer", "pipeline": pipeline}}}
    filled = sconfig.validate_and_default(raw | {k: v for k, v in cfg.items() if k != "models"})
    entry = sconfig.model_config(filled, "ssa")
    assert entry == {"name": "ssa", "architecture": "cnn_transformer", **PAPER}
    assert isinstance(check_model_config(entry, "models/ssa"), CNNTransformerConfig)
    with pytest.raises(InputError, match=r"config key 'models/ssa': transformer config: unknown key"):
        check_model_config({**entry, "transformer": {**entry["transformer"], "n_heads": 4}}, "models/ssa")


def test_a_built_model_is_a_cnn_transformer():
    assert isinstance(build("cnn_transformer", tiny_cfg(), 16, 3), CNNTransformer)
