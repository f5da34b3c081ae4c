"""Loss terms: bit for bit the train stage's former losses when every row is labelled; masked rows never count."""

from __future__ import annotations

import pytest
import torch

from sedrepro.io import InputError
from sedrepro.losses import LOSS_TERMS, Loss


def strong_case(b: int = 6, t: int = 37, c: int = 3, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    logits = torch.randn(b, t, c, generator=gen, requires_grad=True)
    y = (torch.rand(b, t, c, generator=gen) < 0.3).float()
    return logits, y


def weak_case(b: int = 7, c: int = 5, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(b, c, generator=gen, requires_grad=True), torch.randint(0, c, (b,), generator=gen)


@pytest.mark.parametrize("shape", [(16, 64, 10), (5, 37, 3), (7, 1, 11)])
def test_default_terms_equal_the_former_losses_bit_for_bit(shape):
    """Values and gradients exactly as BCEWithLogitsLoss / CrossEntropyLoss with mean reduction (the tiny tables
    depend on it)."""
    logits, y = strong_case(*shape)
    want = torch.nn.BCEWithLogitsLoss()(logits, y)
    (g_want,) = torch.autograd.grad(want, logits)
    got = Loss.from_config(None, "strong")(
        {"strong": logits}, {"strong": y, "mask_strong": torch.ones(shape[0], dtype=torch.bool)}
    )
    (g_got,) = torch.autograd.grad(got, logits)
    assert torch.equal(got, want) and torch.equal(g_got, g_want)

    z, k = weak_case(shape[0], shape[2])
    want = torch.nn.CrossEntropyLoss()(z, k)
    (g_want,) = torch.autograd.grad(want, z)
    got = Loss.from_config(None, "weak")({"weak": z}, {"weak": k, "mask_weak": torch.ones(shape[0], dtype=torch.bool)})
    (g_got,) = torch.autograd.grad(got, z)
    assert torch.equal(got, want) and torch.equal(g_got, g_want)


def test_unlabelled_rows_never_count():
    """A masked row changes neither the value (the mean of the labelled rows alone) nor gets a gradient, whatever its
    targets hold; a batch without labelled rows gives 0, not NaN and not an all-negative loss."""
    logits, y = strong_case()
    mask = torch.tensor([True, False, True, True, False, True])
    got = LOSS_TERMS.get("bce_strong")({"strong": logits}, {"strong": y, "mask_strong": mask})
    want = torch.nn.BCEWithLogitsLoss()(logits[mask], y[mask])
    torch.testing.assert_close(got, want, rtol=1e-6, atol=0)
    (grad,) = torch.autograd.grad(got, logits)
    assert grad[~mask].abs().sum() == 0 and grad[mask].abs().sum() > 0
    none = torch.zeros(6, dtype=torch.bool)
    assert LOSS_TERMS.get("bce_strong")({"strong": logits}, {"strong": y, "mask_strong": none}).item() == 0.0

    z, k = weak_case(b=6)
    got = LOSS_TERMS.get("ce_weak")({"weak": z}, {"weak": k, "mask_weak": mask})
    torch.testing.assert_close(got, torch.nn.CrossEntropyLoss()(z[mask], k[mask]), rtol=1e-6, atol=0)
    (grad,) = torch.autograd.grad(got, z)
    assert grad[~mask].abs().sum() == 0
    assert LOSS_TERMS.get("ce_weak")({"weak": z}, {"weak": k, "mask_weak": none}).item() == 0.0


def test_weighted_sum_of_terms():
    logits, y = strong_case()
    batch = {"strong": y, "mask_strong": torch.ones(6, dtype=torch.bool)}
    one = Loss([{"term": "bce_strong", "weight": 1.0}])({"strong": logits}, batch)
    two = Loss([{"term": "bce_strong", "weight": 0.5}, {"term": "bce_strong", "weight": 2.0}])(
        {"strong": logits}, batch
    )
    torch.testing.assert_close(two, 2.5 * one)


def test_config_errors_are_one_line():
    with pytest.raises(
        InputError,
        match=r"^config key 'training/loss/1/term': expected a registered loss term "
        r"\(bce_strong, bce_tags, ce_weak.*\), found 'focal'$",
    ):
        Loss([{"term": "bce_strong", "weight": 1.0}, {"term": "focal", "weight": 1.0}])
    loss = Loss([{"term": "bce_strong", "weight": 1.0}])
    z, k = weak_case()
    with pytest.raises(
        InputError, match=r"term 'bce_strong' expected a model output 'strong', found the outputs \['weak'\]"
    ):
        loss({"weak": z}, {"weak": k, "mask_weak": torch.ones(7, dtype=torch.bool)})
    with pytest.raises(
        InputError,
        match=r"term 'bce_strong' expected a training source with strong labels, found "
        r"sources with no labels",
    ):
        loss.check_labels([])
    with pytest.raises(InputError, match=r"found sources with \['weak'\]"):
        loss.check_labels(["weak"])
    loss.check_labels(["strong"])


def test_a_term_restricted_to_sources_reads_only_their_rows():
    """`sources` narrows a term to the rows of those training sources (batch key "source"): rows of other sources get
    exactly zero gradient from it, and its value is the term on its own rows alone; without `sources` every
    labelled row counts, as before."""
    logits, y = strong_case()
    batch = {"strong": y, "mask_strong": torch.ones(6, dtype=torch.bool), "source": torch.tensor([0, 0, 1, 1, 0, 1])}
    names = ["synthetic_train", "strong_real"]
    synth = Loss([{"term": "bce_strong", "weight": 1.0, "sources": ["synthetic_train"]}], sources=names)
    got = synth({"strong": logits}, batch)
    rows = batch["source"] == 0
    torch.testing.assert_close(got, torch.nn.BCEWithLogitsLoss()(logits[rows], y[rows]), rtol=1e-6, atol=0)
    (grad,) = torch.autograd.grad(got, logits)
    assert grad[~rows].abs().sum() == 0 and grad[rows].abs().sum() > 0
    # two strong tasks, each a mean over its own rows (the paper's "2 x BCE_strong")
    both = Loss(
        [
            {"term": "bce_strong", "weight": 1.0, "sources": ["synthetic_train"]},
            {"term": "bce_strong", "weight": 1.0, "sources": ["strong_real"]},
        ],
        sources=names,
    )({"strong": logits}, batch)
    want = torch.nn.BCEWithLogitsLoss()(logits[rows], y[rows]) + torch.nn.BCEWithLogitsLoss()(logits[~rows], y[~rows])
    torch.testing.assert_close(both, want, rtol=1e-6, atol=0)
    # unrestricted: every labelled row, bit for bit the former loss (no "source" key needed)
    plain = {k: v for k, v in batch.items() if k != "source"}
    assert torch.equal(
        Loss([{"term": "bce_strong", "weight": 1.0}])({"strong": logits}, plain),
        torch.nn.BCEWithLogitsLoss()(logits, y),
    )


def test_rows_terms_restricted_to_sources():
    """mse_reconstruction and kl_gaussian over the rows of their sources only (mean over those rows)."""
    x = torch.randn(4, 5, 3, generator=torch.Generator().manual_seed(0))
    rec = (x + torch.arange(4.0)[:, None, None]).requires_grad_(True)  # row r off by r everywhere
    mu = torch.randn(4, 5, 2, requires_grad=True)
    batch = {"features": x, "source": torch.tensor([0, 1, 1, 0])}
    loss = Loss(
        [{"term": "mse_reconstruction", "weight": 1.0, "sources": ["unlabel_in_domain"]}],
        sources=["weak_train", "unlabel_in_domain"],
    )
    got = loss({"reconstruction": rec}, batch)
    assert got.item() == pytest.approx((1 + 4) / 2)
    (grad,) = torch.autograd.grad(got, rec)
    assert [bool(grad[r].abs().sum() > 0) for r in range(4)] == [False, True, True, False]
    logvar = torch.zeros(4, 5, 2, requires_grad=True)
    kl = Loss([{"term": "kl_gaussian", "weight": 1.0, "sources": ["weak_train"]}], sources=["weak_train", "u"])
    value = kl({"latent_mean": mu, "latent_logvar": logvar}, batch)
    rows = batch["source"] == 0
    torch.testing.assert_close(value, 0.5 * mu[rows].square().sum(-1).mean())
    (g,) = torch.autograd.grad(value, mu)
    assert g[~rows].abs().sum() == 0


def test_source_errors_are_one_line():
    with pytest.raises(
        InputError,
        match=r"^config key 'training/loss/0/sources': expected distinct training sources among synthetic_train, "
        r"weak_train, found \['strong_real'\]$",
    ):
        Loss(
            [{"term": "bce_strong", "weight": 1.0, "sources": ["strong_real"]}],
            sources=["synthetic_train", "weak_train"],
        )
    loss = Loss(
        [{"term": "bce_strong", "weight": 1.0, "sources": ["weak_train"]}], sources=["synthetic_train", "weak_train"]
    )
    with pytest.raises(
        InputError,
        match=r"^config key 'training/loss/0/sources': term 'bce_strong' expected sources with strong labels, found "
        r"'weak_train' with weak labels$",
    ):
        loss.check_labels(["strong", "weak"], ["strong", "weak"])
    # strong rows carry clip tags: a tags term may read a strong source
    Loss(
        [{"term": "bce_tags", "weight": 1.0, "sources": ["synthetic_train"]}], sources=["synthetic_train"]
    ).check_labels(["strong", "weak"], ["strong"])
    logits, y = strong_case()
    with pytest.raises(InputError, match=r"term 'bce_strong' is restricted to sources, but the batch has no 'source'"):
        Loss([{"term": "bce_strong", "weight": 1.0, "sources": ["synthetic_train"]}], sources=["synthetic_train"])(
            {"strong": logits}, {"strong": y, "mask_strong": torch.ones(6, dtype=torch.bool)}
        )
