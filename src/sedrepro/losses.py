"""Loss terms and the training loss: a weighted sum of registered terms, declared in the training config.

A term maps the model's named outputs (see :data:`sedrepro.models.OUTPUTS`) and a batch (see
:func:`sedrepro.data.make_batch`: ``features``, and per label kind its targets and a row mask) to a scalar. Rows a
term has no labels for (mask false) never count, so unlabelled data is never read as all-negative targets; a batch
without any such row gives 0 for that term. ``bce_strong`` reads the frame labels of strong rows only (weak clips add
no frame loss); ``bce_tags`` reads the clip tags of strong and weak rows; ``ce_weak`` the one class of clip rows.
With every row labelled, each term is bit for bit torch's BCEWithLogitsLoss / CrossEntropyLoss of the papers' loops
(tests/test_losses.py). Terms of label kind "any" read no labels and count every row, unlabelled ones too:
``mse_reconstruction`` (a VAE's reconstruction of the features) and ``kl_gaussian`` (its latent posterior's KL to
N(0, I)).

The multi-task VAE's loss (Giannakopoulos & Pikrakis, eq. 1: L = 2 BCE_strong + BCE_weak + MSE + KLD) is config:
``bce_strong`` with weight = the number of strong tasks (the "2 x" read as the synthetic and the real strong task, as
the peer code has two BCE terms of weight 1, each a mean over its task's rows: with two strong sources in equal shares
of the batch, 2 x the mean over their rows is that sum), ``bce_tags`` (BCE_weak; its mask also counts the strong rows'
tags, the peer code's weak term only weak clips), ``mse_reconstruction`` (MSE; the peer code reconstructs the
unlabelled clips only, this term every row) and ``kl_gaussian`` (KLD; the peer code has none: leave the term out for
that reading), weights 1.

Config (``training.loss``): a list of ``{term: <name>, weight: <w>}``; null means the supervised term of the
pipeline's label kind with weight 1 (:data:`SUPERVISED_TERM`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch.nn.functional as F
from torch import Tensor

from .io import InputError
from .registry import Registry

__all__ = ["ANY_ROWS", "LOSS_TERMS", "SUPERVISED_TERM", "Loss", "LossTerm", "TERM_NEEDS"]

LossTerm = Callable[[Mapping[str, Tensor], Mapping[str, Tensor]], Tensor]
LOSS_TERMS: Registry[LossTerm] = Registry("loss term")
# What each term reads: (model output, label kind); checked once before training starts. Label kind "any": the
# term reads no labels and counts every row (a training source of any kind will do).
TERM_NEEDS: dict[str, tuple[str, str]] = {}
ANY_ROWS = "any"
# The default term of a label kind: today's loss for frame labels (BCE) and clip labels (one class: cross-entropy).
SUPERVISED_TERM = {"strong": "bce_strong", "weak": "ce_weak"}
# The default term of a pipeline target where it differs from its label kind's: multi-label clip tags (BCE).
TARGET_TERM = {"tags": "bce_tags"}


def register_term(name: str, output: str, labels: str) -> Callable[[LossTerm], LossTerm]:
    def add(fn: LossTerm) -> LossTerm:
        TERM_NEEDS[name] = (output, labels)
        return LOSS_TERMS.register(name, fn)

    return add


@register_term("bce_strong", "strong", "strong")
def bce_strong(outputs: Mapping[str, Tensor], batch: Mapping[str, Tensor]) -> Tensor:
    """Binary cross-entropy per (frame, class) of the rows with strong labels, mean over their cells.

    Logits and targets (B, T, C); mask (B,). The mask is a 0/1 weight and the mean over all rows is rescaled by
    B / labelled rows (exactly 1.0 when all are labelled), so values and gradients equal BCEWithLogitsLoss's."""
    logits, mask = outputs["strong"], batch["mask_strong"]
    weight = mask.to(logits.dtype)[:, None, None]
    loss = F.binary_cross_entropy_with_logits(logits, batch["strong"], weight=weight)
    return loss * (mask.numel() / mask.sum().clamp(min=1))


@register_term("bce_tags", "tags", "weak")
def bce_tags(outputs: Mapping[str, Tensor], batch: Mapping[str, Tensor]) -> Tensor:
    """Binary cross-entropy per (clip, class) of the rows with clip tags (strong or weak rows), mean over their
    cells; logits and targets (B, C), mask (B,). Masked and rescaled as :func:`bce_strong`."""
    logits, mask = outputs["tags"], batch["mask_tags"]
    weight = mask.to(logits.dtype)[:, None]
    loss = F.binary_cross_entropy_with_logits(logits, batch["tags"], weight=weight)
    return loss * (mask.numel() / mask.sum().clamp(min=1))


@register_term("ce_weak", "weak", "weak")
def ce_weak(outputs: Mapping[str, Tensor], batch: Mapping[str, Tensor]) -> Tensor:
    """Cross-entropy of the rows with a clip label (class index (B,) int64), mean over them; logits (B, C).

    Unlabelled rows get the ignored index; sum / labelled rows equals CrossEntropyLoss's mean bit for bit."""
    logits, mask = outputs["weak"], batch["mask_weak"]
    target = batch["weak"].masked_fill(~mask, -100)
    return F.cross_entropy(logits, target, ignore_index=-100, reduction="sum") / mask.sum().clamp(min=1)


@register_term("mse_reconstruction", "reconstruction", ANY_ROWS)
def mse_reconstruction(outputs: Mapping[str, Tensor], batch: Mapping[str, Tensor]) -> Tensor:
    """Mean squared error between the reconstruction and the batch's (normalised) features, mean over every cell of
    every row, labelled or not (Keras' MeanSquaredError of the peer code); both (B, T, F)."""
    return F.mse_loss(outputs["reconstruction"], batch["features"])


@register_term("kl_gaussian", "latent_mean", ANY_ROWS)
def kl_gaussian(outputs: Mapping[str, Tensor], batch: Mapping[str, Tensor]) -> Tensor:
    """KL(N(mu, diag sigma^2) || N(0, I)) of each latent vector, 0.5 sum_z (mu^2 + sigma^2 - 1 - log sigma^2) over
    its Z dimensions, mean over the latent vectors of every row (B rows x T frames); mu, log sigma^2 (B, T, Z) are
    outputs ``latent_mean`` and ``latent_logvar``. A deterministic encoder's code is a point without a
    ``latent_logvar``: its term is exactly 0 (the paper's deterministic variant has no KL)."""
    mu = outputs["latent_mean"]
    if "latent_logvar" not in outputs:
        return mu.new_zeros(())
    logvar = outputs["latent_logvar"]
    return 0.5 * (mu.square() + logvar.exp() - 1.0 - logvar).sum(dim=-1).mean()


class Loss:
    """Weighted sum of registered terms. `spec`: the config's list of {term, weight}. An unknown term, or one whose
    labels no training source has, stops before training with one line; one whose output the model lacks, at the
    first batch."""

    def __init__(self, spec: Sequence[Mapping[str, Any]], key: str = "training/loss") -> None:
        self.where = f"config key '{key}'"
        self.terms = [
            (item["term"], LOSS_TERMS.get(item["term"], f"config key '{key}/{i}/term'"), float(item["weight"]))
            for i, item in enumerate(spec)
        ]
        if not self.terms:
            raise InputError(f"{self.where}: expected at least one term, found none")

    @classmethod
    def from_config(cls, spec: Sequence[Mapping[str, Any]] | None, label_kind: str, target: str | None = None) -> Loss:
        """The configured terms, or the target's (else the label kind's) supervised term (weight 1) when the config
        says null."""
        term = TARGET_TERM.get(target or "", SUPERVISED_TERM[label_kind])
        return cls(spec if spec is not None else [{"term": term, "weight": 1.0}])

    @property
    def outputs(self) -> set[str]:
        """The model outputs the terms read."""
        return {TERM_NEEDS[name][0] for name, _, _ in self.terms if name in TERM_NEEDS}

    def check_labels(self, label_kinds: Sequence[str]) -> None:
        """One line if a term needs labels of a kind the training batches do not carry (checked before training
        starts; `label_kinds`: :attr:`sedrepro.data.Sampler.label_kinds`, where strong sources give clip tags too)."""
        for name, _, _ in self.terms:
            labels = TERM_NEEDS.get(name, (None, None))[1]
            if labels is not None and labels != ANY_ROWS and labels not in label_kinds:
                raise InputError(
                    f"{self.where}: term {name!r} expected a training source with {labels} labels, "
                    f"found sources with {sorted(label_kinds) or 'no labels'}"
                )

    def __call__(self, outputs: Mapping[str, Tensor], batch: Mapping[str, Tensor]) -> Tensor:
        total: Tensor | None = None
        for name, term, weight in self.terms:
            output = TERM_NEEDS.get(name, (None, None))[0]
            if output is not None and output not in outputs:
                raise InputError(
                    f"{self.where}: term {name!r} expected a model output {output!r}, found the outputs "
                    f"{sorted(outputs)}"
                )
            value = term(outputs, batch)
            # a weight of 1 multiplies nothing: the default loss stays bit for bit today's
            value = value if weight == 1.0 else value * weight
            total = value if total is None else total + value
        assert total is not None
        return total


def consistency_mse(
    student: Mapping[str, Tensor], teacher: Mapping[str, Tensor], probabilities: Callable[[str, Tensor], Tensor]
) -> Tensor:
    """Mean squared error between student and teacher probabilities, summed over the outputs both have; every row
    counts (labelled or not). The teacher's side carries no gradient."""
    total: Tensor | None = None
    for name in sorted(set(student) & set(teacher)):
        value = F.mse_loss(probabilities(name, student[name]), probabilities(name, teacher[name]).detach())
        total = value if total is None else total + value
    if total is None:
        raise ValueError(f"student and teacher share no output (student {sorted(student)}, teacher {sorted(teacher)})")
    return total
