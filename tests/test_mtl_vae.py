"""The mtl_vae architecture (Giannakopoulos & Pikrakis, multi-task VAE; peer code models.md 3.2) and its loss terms:
shapes and parameters at the paper's widths, one shared encoder and decoder, the seeded reparameterisation, the
deterministic variant, the KL and reconstruction terms, per-task row masks, the consistency's outputs, config
errors, the meta device."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch.distributions import Normal, kl_divergence

from sedrepro import config as sconfig
from sedrepro.data import make_batch
from sedrepro.io import InputError
from sedrepro.losses import LOSS_TERMS, Loss
from sedrepro.models import ARCHITECTURES, OUTPUTS, PREDICTIONS, build, check_model_config, count_parameters
from sedrepro.models.mtl_vae import MTLVAE, MTLVAEConfig, RecurrentBlock
from sedrepro.recipes import RECIPES

# The peer code's widths (event_detector/hparams.py, model_lib.py), as config/schema.yaml's defaults fill them.
PAPER = {"state_size": 256, "latents": 256, "gru_layers": 2, "variational": True}
TINY = {"state_size": 4, "latents": 3, "gru_layers": 2, "variational": True}
F_IN, C, B, T = 5, 3, 4, 7
# The paper's loss, eq. 1: 2 BCE_strong + BCE_weak + MSE + KLD
PAPER_LOSS = [
    {"term": "bce_strong", "weight": 2.0},
    {"term": "bce_tags", "weight": 1.0},
    {"term": "mse_reconstruction", "weight": 1.0},
    {"term": "kl_gaussian", "weight": 1.0},
]


def tiny(**over) -> MTLVAE:
    torch.manual_seed(0)
    return build("mtl_vae", {**TINY, **over}, F_IN, C)


def features(b: int = B, t: int = T, f: int = F_IN, seed: int = 1) -> torch.Tensor:
    return torch.randn(b, t, f, generator=torch.Generator().manual_seed(seed))


def mixed_batch() -> dict[str, torch.Tensor]:
    """Rows: strong, weak, unlabelled (as data.make_batch makes them for target frames with tags)."""
    x = features(3)
    y = (torch.rand(3, T, C, generator=torch.Generator().manual_seed(2)) > 0.5).float()
    return make_batch(x, y, np.array(["strong", "weak", "none"]), "frames", np.full(3, T), tags=True)


def gru_params(n_in: int, h: int) -> int:
    return 2 * 3 * (n_in * h + h * h + 2 * h)  # two directions; Keras' reset_after GRU has the same two biases


def test_shapes_and_parameters_at_the_paper_widths():
    """128 mel bands, 10 classes, the peer's widths: every output's shape, and the parameter count of the peer's
    layers (encoder: BiGRU(256) x 2 on [attention, x], Dense(512) of x, Dense(2 x 256) posterior; decoder: the same
    on the 256 latents; shared Dense(10) head; Dense(128) reconstruction)."""
    torch.manual_seed(0)
    model = build("mtl_vae", PAPER, 128, 10).train()
    out = model(torch.randn(2, 11, 128))
    assert {k: tuple(v.shape) for k, v in out.items()} == {
        "strong": (2, 11, 10),
        "tags": (2, 10),
        "reconstruction": (2, 11, 128),
        "latent_mean": (2, 11, 256),
        "latent_logvar": (2, 11, 256),
    }
    assert set(out) <= set(OUTPUTS) and PREDICTIONS & set(out) == {"strong", "tags"}
    h, z, f, c = 256, 256, 128, 10
    encoder = gru_params(2 * f, h) + gru_params(2 * h, h) + (f * 2 * h + 2 * h)
    decoder = gru_params(2 * z, h) + gru_params(2 * h, h) + (z * 2 * h + 2 * h)
    heads = (2 * h * c + c) + (2 * h * f + f)
    assert count_parameters(model) == encoder + (2 * h * 2 * z + 2 * z) + decoder + heads
    det = build("mtl_vae", {**PAPER, "variational": False}, 128, 10)
    assert count_parameters(det) == encoder + (2 * h * z + z) + decoder + heads


def test_one_encoder_and_one_decoder_serve_every_task():
    """Every output's gradient reaches the same encoder and decoder parameter objects (identity, not names); the
    strong and the clip outputs share one head object."""
    model = tiny()
    blocks = [m for m in model.modules() if isinstance(m, RecurrentBlock)]
    assert len(blocks) == 2 and blocks == [model.encoder, model.decoder]
    shared = [*model.encoder.parameters(), *model.decoder.parameters(), *model.latent.parameters()]
    out = model(features())
    for name in ("strong", "tags", "reconstruction"):
        grads = torch.autograd.grad(out[name].square().sum(), shared, retain_graph=True, allow_unused=True)
        assert all(g is not None and g.abs().sum() > 0 for g in grads), name
    head = {id(p) for p in model.head.parameters()}
    for name in ("strong", "tags"):
        grads = torch.autograd.grad(out[name].sum(), list(model.parameters()), retain_graph=True, allow_unused=True)
        touched = {id(p) for p, g in zip(model.parameters(), grads, strict=True) if g is not None and g.abs().sum() > 0}
        assert head <= touched and not {id(p) for p in model.reconstruct.parameters()} & touched, name


def test_reparameterisation_is_seeded_and_the_mean_in_eval():
    """Training mode: z = mu + sigma * eps with eps from torch's generator (the train stage seeds it): the same seed
    gives the same outputs, another seed others; eval mode: z = mu whatever the seed."""
    model, x = tiny().train(), features()
    torch.manual_seed(5)
    z, mu, logvar = model.encode(x)
    torch.manual_seed(5)
    eps = torch.randn_like(mu)
    torch.testing.assert_close(z, mu + (0.5 * logvar).exp() * eps)
    assert not torch.equal(z, mu)
    runs = {}
    for seed in (5, 5, 6):
        torch.manual_seed(seed)
        runs.setdefault(seed, []).append(model(x))
    for name in runs[5][0]:
        assert torch.equal(runs[5][0][name], runs[5][1][name]), name
    assert not torch.equal(runs[5][0]["strong"], runs[6][0]["strong"])
    model.eval()
    torch.manual_seed(1)
    first = model(x)
    torch.manual_seed(2)
    second = model(x)
    z_eval, mu_eval, _ = model.encode(x)
    assert all(torch.equal(first[k], second[k]) for k in first) and torch.equal(z_eval, mu_eval)
    torch.testing.assert_close(first["latent_mean"], mu)


def test_deterministic_variant_has_no_kl_and_no_noise():
    """variational false: the dense bottleneck; no latent_logvar, the KL term exactly 0, the outputs the same in
    training mode for any seed."""
    model, x = tiny(variational=False).train(), features()
    torch.manual_seed(1)
    first = model(x)
    torch.manual_seed(2)
    second = model(x)
    assert "latent_logvar" not in first and set(first) <= set(OUTPUTS)
    assert all(torch.equal(first[k], second[k]) for k in first)
    z, mu, logvar = model.encode(x)
    assert mu is None and logvar is None and torch.equal(first["latent_mean"], z)
    kl = LOSS_TERMS.get("kl_gaussian")(first, {"features": x})
    assert kl.item() == 0.0
    # the paper's loss runs unchanged on the deterministic variant: its KL adds exactly nothing
    batch = mixed_batch()
    out = model(batch["features"])
    full, without = Loss(PAPER_LOSS)(out, batch), Loss(PAPER_LOSS[:3])(out, batch)
    assert torch.equal(full, without)


def test_kl_term_is_the_gaussian_kl_per_latent_vector():
    """kl_gaussian = KL(N(mu, sigma^2) || N(0, 1)) summed over the Z dimensions, mean over rows and frames
    (torch.distributions as the reference)."""
    g = torch.Generator().manual_seed(3)
    mu, logvar = torch.randn(B, T, 6, generator=g), torch.randn(B, T, 6, generator=g)
    expected = kl_divergence(Normal(mu, (0.5 * logvar).exp()), Normal(0.0, 1.0)).sum(-1).mean()
    got = LOSS_TERMS.get("kl_gaussian")({"latent_mean": mu, "latent_logvar": logvar}, {})
    torch.testing.assert_close(got, expected)
    zero = LOSS_TERMS.get("kl_gaussian")(
        {"latent_mean": torch.zeros(2, 3, 4), "latent_logvar": torch.zeros(2, 3, 4)}, {}
    )
    assert zero.item() == 0.0


def test_log_scale_stays_finite_where_softplus_underflows():
    """sigma = softplus(s) (the peer's IndependentNormal): at s = -200 softplus is 0 in float32; log sigma^2 stays
    finite (2 s), and so do the KL and its gradients."""
    model, x = tiny(), features()
    with torch.no_grad():
        model.latent.bias[TINY["latents"] :] = -200.0
        model.latent.weight[TINY["latents"] :] = 0.0
    out = model.train()(x)
    torch.testing.assert_close(out["latent_logvar"], torch.full_like(out["latent_logvar"], -400.0))
    kl = LOSS_TERMS.get("kl_gaussian")(out, {})
    kl.backward()
    assert torch.isfinite(kl) and all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


def test_reconstruction_term_counts_every_row():
    """mse_reconstruction: mean of (reconstruction - features)^2 over every cell of every row, unlabelled too; it
    needs no labelled source."""
    batch = mixed_batch()
    rec = batch["features"] + torch.arange(3.0)[:, None, None]  # row r off by r everywhere
    got = LOSS_TERMS.get("mse_reconstruction")({"reconstruction": rec}, batch)
    assert got.item() == pytest.approx((0 + 1 + 4) / 3)
    Loss([{"term": "mse_reconstruction", "weight": 1.0}, {"term": "kl_gaussian", "weight": 1.0}]).check_labels([])


def test_per_task_rows_of_the_paper_loss():
    """The paper's loss on a batch of a strong, a weak and an unlabelled row: the strong output gets gradient from
    the strong row only, the clip output from the strong and weak rows (their tags), the reconstruction and the
    latents from every row; so the unlabelled row contributes only reconstruction and KL."""
    model, batch = tiny().train(), mixed_batch()
    torch.manual_seed(0)
    out = model(batch["features"])
    loss = Loss(PAPER_LOSS)
    loss.check_labels(["strong", "weak"])
    names = ["strong", "tags", "reconstruction", "latent_mean", "latent_logvar"]
    grads = torch.autograd.grad(loss(out, batch), [out[n] for n in names])
    rows = {n: [bool(g[r].abs().sum() > 0) for r in range(3)] for n, g in zip(names, grads, strict=True)}
    assert rows == {
        "strong": [True, False, False],
        "tags": [True, True, False],
        "reconstruction": [True, True, True],
        "latent_mean": [True, True, True],
        "latent_logvar": [True, True, True],
    }


# The paper's loss with each task on its own source (config.yaml's mtl_vae_all): sources in training.sources order.
SOURCES = ["synthetic_train", "weak_train", "unlabel_in_domain", "strong_real"]
TASK_LOSS = [
    {"term": "bce_strong", "weight": 1.0, "sources": ["synthetic_train"]},
    {"term": "bce_strong", "weight": 1.0, "sources": ["strong_real"]},
    {"term": "bce_tags", "weight": 1.0, "sources": ["weak_train"]},
    {"term": "mse_reconstruction", "weight": 1.0, "sources": ["unlabel_in_domain"]},
    {"term": "kl_gaussian", "weight": 1.0},
]


def test_per_task_loss_masks_by_source():
    """Rows: synthetic strong, weak, unlabelled, real strong (one per source). Each task's term reads its own rows:
    frame logits get gradient from the two strong rows only, clip logits from the weak row only (strong rows' tags
    do not count), the reconstruction from the unlabelled row only, the latent (KL) from every row."""
    x = features(4)
    y = (torch.rand(4, T, C, generator=torch.Generator().manual_seed(2)) > 0.5).float()
    batch = make_batch(x, y, np.array(["strong", "weak", "none", "strong"]), "frames", np.full(4, T), tags=True)
    batch["source"] = torch.arange(4)
    model = tiny().train()
    torch.manual_seed(0)
    out = model(batch["features"])
    loss = Loss(TASK_LOSS, sources=SOURCES)
    loss.check_labels(["strong", "weak"], ["strong", "weak", "none", "strong"])
    names = ["strong", "tags", "reconstruction", "latent_mean", "latent_logvar"]
    grads = torch.autograd.grad(loss(out, batch), [out[n] for n in names])
    rows = {n: [bool(g[r].abs().sum() > 0) for r in range(4)] for n, g in zip(names, grads, strict=True)}
    assert rows == {
        "strong": [True, False, False, True],
        "tags": [False, True, False, False],
        "reconstruction": [False, False, True, False],
        "latent_mean": [True, True, True, True],
        "latent_logvar": [True, True, True, True],
    }


def test_gradients_reach_every_parameter():
    model, batch = tiny().train(), mixed_batch()
    Loss(PAPER_LOSS)(model(batch["features"]), batch).backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())


def test_mean_teacher_consistency_compares_predictions_only():
    """With a VAE student the consistency covers strong and tags, not the reconstruction or the latents: the
    objective equals the loss plus w x (MSE of sigmoid strong + MSE of sigmoid tags), computed by hand."""
    model, batch = tiny().train(), mixed_batch()
    training = {"mean_teacher": {"ema_decay": 0.9, "consistency_weight": 3.0, "rampup_steps": 0, "scored": "teacher"}}
    loss = Loss(PAPER_LOSS)
    recipe = RECIPES.get("mean_teacher")(model, loss, training)
    recipe.teacher.update_parameters(model)  # the teacher a copy of the student
    torch.manual_seed(4)
    got, _ = recipe.objective(batch)
    torch.manual_seed(4)
    student = model(batch["features"])
    with torch.no_grad():
        teacher = recipe.teacher(batch["features"])
    assert set(teacher) == set(student)
    consistency = sum(F.mse_loss(student[n].sigmoid(), teacher[n].sigmoid()) for n in ("tags", "strong"))
    expected = loss(student, batch) + 3.0 * consistency
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-6)
    assert not torch.equal(student["reconstruction"], teacher["reconstruction"])  # they would have added a term


def test_bad_config_is_one_value_error_naming_it():
    with pytest.raises(ValueError, match=r"^mtl_vae config: unknown key\(s\) \['state'\]"):
        MTLVAEConfig.from_dict({**TINY, "state": 3})
    with pytest.raises(ValueError, match=r"^mtl_vae config: missing key\(s\) \['variational'\]"):
        MTLVAEConfig.from_dict({k: v for k, v in TINY.items() if k != "variational"})
    with pytest.raises(ValueError, match=r"^latents must be a positive integer, got 0$"):
        MTLVAEConfig.from_dict({**TINY, "latents": 0})
    with pytest.raises(ValueError, match=r"^variational must be a boolean, got 'yes'$"):
        MTLVAEConfig.from_dict({**TINY, "variational": "yes"})
    with pytest.raises(ValueError, match=r"^MTLVAE expects input \(B, T, 5\), got \(2, 7, 4\)$"):
        tiny()(torch.zeros(2, 7, 4))


def test_schema_defaults_are_the_peer_widths():
    """config/schema.yaml fills a bare mtl_vae entry with PAPER; a bad key is one InputError naming the model."""
    cfg = sconfig.load([sconfig.REPO / "config.yaml"])
    pipeline = sorted(cfg["pipelines"])[0]
    raw = {"models": {"vae": {"architecture": "mtl_vae", "pipeline": pipeline}}}
    filled = sconfig.validate_and_default(raw | {k: v for k, v in cfg.items() if k != "models"})
    entry = sconfig.model_config(filled, "vae")
    assert entry == {"name": "vae", "architecture": "mtl_vae", **PAPER}
    assert isinstance(check_model_config(entry, "models/vae"), MTLVAEConfig)
    with pytest.raises(InputError, match=r"^config key 'models/vae': mtl_vae config: unknown key\(s\) \['layers'\]"):
        check_model_config({**entry, "layers": 3}, "models/vae")
    assert "mtl_vae" in ARCHITECTURES.names()


@pytest.mark.parametrize("variational", [True, False])
def test_forward_and_paper_loss_on_meta(variational: bool):
    """Every tensor the model and its terms create takes the input's device (issue 15 item 9)."""
    meta = torch.device("meta")
    with meta:
        model = build("mtl_vae", copy.deepcopy({**TINY, "variational": variational}), F_IN, C).train()
    x = torch.empty(B, T, F_IN, device=meta)
    out = model(x)
    assert all(v.device == meta for v in out.values())
    batch = {
        "features": x,
        "strong": torch.empty(B, T, C, device=meta),
        "mask_strong": torch.empty(B, dtype=torch.bool, device=meta),
        "tags": torch.empty(B, C, device=meta),
        "mask_tags": torch.empty(B, dtype=torch.bool, device=meta),
    }
    loss = Loss(PAPER_LOSS)(out, batch)
    assert loss.device == meta
    loss.backward()
    assert all(p.grad is not None and p.grad.device == meta for p in model.parameters())


def test_vae_terms_on_a_model_without_them_are_one_line():
    """kl_gaussian or mse_reconstruction on a model without a latent or a reconstruction stops at the first batch."""
    out = {"strong": torch.zeros(2, T, C)}
    with pytest.raises(
        InputError,
        match=r"^config key 'training/loss': term 'kl_gaussian' expected a model output 'latent_mean', found the "
        r"outputs \['strong'\]$",
    ):
        Loss([{"term": "kl_gaussian", "weight": 1.0}])(out, {"features": features(2)})
    with pytest.raises(InputError, match=r"term 'mse_reconstruction' expected a model output 'reconstruction'"):
        Loss([{"term": "mse_reconstruction", "weight": 1.0}])(out, {"features": features(2)})
