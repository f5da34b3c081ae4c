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
two ``bce_strong`` terms restricted to the synthetic and to the real strong source (the "2 x" read as the two strong
tasks, as the peer code has two BCE terms of weight 1, each a mean over its task's rows), ``bce_tags`` restricted to
the weak source (BCE_weak), ``mse_reconstruction`` restricted to the unlabelled source (MSE) and ``kl_gaussian``
(KLD; the peer code has none: leave the term out for that reading), weights 1.

Config (``training.loss``): a list of ``{term: <name>, weight: <w>[, sources: [<split>, ...]]}``; null means the
supervised term of the pipeline's label kind with weight 1 (:data:`SUPERVISED_TERM`). ``sources`` restricts a term to
the rows drawn from those training sources (``training.sources`` splits; the batch carries each row's source index,
``source`` (B,) int64, see :class:`sedrepro.data.Sampler`): a labelled term's mask is narrowed to them, a term of label
kind "any" counts them only (:data:`ROWS_MASK`). Without ``sources`` a term reads every row that has its labels, as
before. So the multi-task VAE's two strong tasks are two ``bce_strong`` terms (synthetic, real), its weak task
``bce_tags`` over the weak clips only and its reconstruction ``mse_reconstruction`` over the unlabelled clips only,
as the peer code computes them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from .datasets.base import LABEL_KINDS
from .io import InputError
from .registry import Registry

__all__ = ["ANY_ROWS", "LOSS_TERMS", "ROWS_MASK", "SOURCE_KEY", "SUPERVISED_TERM", "Loss", "LossTerm", "TERM_NEEDS"]

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
# The batch key of each row's training source (index into training.sources), present when a term names sources.
SOURCE_KEY = "source"
# The row mask a term of label kind "any" reads when its sources are restricted (only inside Loss: never a batch key,
# so augmentations that group rows by their mask_* keys never see it).
ROWS_MASK = "rows"


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
    every row, labelled or not (Keras' MeanSquaredError of the peer code); both (B, T, F). With a row mask
    (:data:`ROWS_MASK`, the term's sources) the mean is over the cells of those rows only."""
    rows = batch.get(ROWS_MASK)
    if rows is None:
        return F.mse_loss(outputs["reconstruction"], batch["features"])
    cells = (outputs["reconstruction"] - batch["features"]).square().mean(dim=(1, 2))  # (B,)
    return _row_mean(cells, rows)


def _row_mean(values: Tensor, rows: Tensor) -> Tensor:
    """Mean of per-row values (B,) over the rows of the mask (B,) bool; 0 (with a zero gradient) when none is set."""
    weight = rows.to(values.dtype)
    return (values * weight).sum() / weight.sum().clamp(min=1)


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
    kl = 0.5 * (mu.square() + logvar.exp() - 1.0 - logvar).sum(dim=-1)  # (B, T)
    rows = batch.get(ROWS_MASK)
    return kl.mean() if rows is None else _row_mean(kl.mean(dim=1), rows)


class Loss:
    """Weighted sum of registered terms. `spec`: the config's list of {term, weight}. An unknown term, or one whose
    labels no training source has, stops before training with one line; one whose output the model lacks, at the
    first batch."""

    def __init__(
        self, spec: Sequence[Mapping[str, Any]], key: str = "training/loss", sources: Sequence[str] = ()
    ) -> None:
        """`sources`: the training sources' splits in config order (what a term's ``sources`` may name; the batch's
        ``source`` key indexes them)."""
        self.where, self.key = f"config key '{key}'", key
        self.terms = [
            (item["term"], LOSS_TERMS.get(item["term"], f"config key '{key}/{i}/term'"), float(item["weight"]))
            for i, item in enumerate(spec)
        ]
        if not self.terms:
            raise InputError(f"{self.where}: expected at least one term, found none")
        self.source_names = list(sources)
        # per term: the indices of its sources, or None for every row with its labels
        self.rows: list[tuple[int, ...] | None] = []
        for i, item in enumerate(spec):
            names = item.get("sources")
            if names is None:
                self.rows.append(None)
                continue
            unknown = [n for n in names if n not in self.source_names]
            if not names or unknown or len(set(names)) != len(names):
                raise InputError(
                    f"config key '{key}/{i}/sources': expected distinct training sources among "
                    f"{', '.join(self.source_names) or 'none'}, found {list(names)!r}"
                )
            self.rows.append(tuple(self.source_names.index(n) for n in names))

    @classmethod
    def from_config(
        cls,
        spec: Sequence[Mapping[str, Any]] | None,
        label_kind: str,
        target: str | None = None,
        sources: Sequence[str] = (),
    ) -> Loss:
        """The configured terms, or the target's (else the label kind's) supervised term (weight 1) when the config
        says null."""
        term = TARGET_TERM.get(target or "", SUPERVISED_TERM[label_kind])
        return cls(spec if spec is not None else [{"term": term, "weight": 1.0}], sources=sources)

    @property
    def needs_sources(self) -> bool:
        """Whether a term is restricted to some sources (then batches must carry each row's source)."""
        return any(r is not None for r in self.rows)

    @property
    def outputs(self) -> set[str]:
        """The model outputs the terms read."""
        return {TERM_NEEDS[name][0] for name, _, _ in self.terms if name in TERM_NEEDS}

    def check_labels(self, label_kinds: Sequence[str], source_kinds: Sequence[str] | None = None) -> None:
        """One line if a term needs labels of a kind the training batches do not carry (checked before training
        starts; `label_kinds`: :attr:`sedrepro.data.Sampler.label_kinds`, where strong sources give clip tags too),
        or names a source whose rows lack its labels (`source_kinds`: each source's label kind, config order)."""
        rank = {k: i for i, k in enumerate(LABEL_KINDS)}
        for i, ((name, _, _), rows) in enumerate(zip(self.terms, self.rows, strict=True)):
            labels = TERM_NEEDS.get(name, (None, None))[1]
            if labels is not None and labels != ANY_ROWS and labels not in label_kinds:
                raise InputError(
                    f"{self.where}: term {name!r} expected a training source with {labels} labels, "
                    f"found sources with {sorted(label_kinds) or 'no labels'}"
                )
            if rows is None or source_kinds is None or labels in (None, ANY_ROWS):
                continue
            for j in rows:  # strong rows carry clip tags too: a kind at least as strong as the term's
                if rank[source_kinds[j]] > rank[labels]:
                    raise InputError(
                        f"config key '{self.key}/{i}/sources': term {name!r} expected sources with {labels} labels, "
                        f"found {self.source_names[j]!r} with {source_kinds[j]} labels"
                    )

    def restricted(self, rows: tuple[int, ...] | None, name: str, batch: Mapping[str, Tensor]) -> Mapping[str, Tensor]:
        """The batch as term `name` sees it: unchanged without sources, else its label masks narrowed to the rows of
        its sources and those rows as :data:`ROWS_MASK` (what the terms of label kind "any" read)."""
        if rows is None:
            return batch
        if SOURCE_KEY not in batch:
            raise InputError(
                f"{self.where}: term {name!r} is restricted to sources, but the batch has no {SOURCE_KEY!r} key"
            )
        source = batch[SOURCE_KEY]
        keep = torch.zeros_like(source, dtype=torch.bool)
        for j in rows:
            keep |= source == j
        # every label mask narrowed (a term reads its own), and the rows mask of the "any" terms
        out = {k: (v & keep if k.startswith("mask_") else v) for k, v in batch.items()}
        out[ROWS_MASK] = keep
        return out

    def __call__(self, outputs: Mapping[str, Tensor], batch: Mapping[str, Tensor]) -> Tensor:
        total: Tensor | None = None
        for (name, term, weight), rows in zip(self.terms, self.rows, strict=True):
            output = TERM_NEEDS.get(name, (None, None))[0]
            if output is not None and output not in outputs:
                raise InputError(
                    f"{self.where}: term {name!r} expected a model output {output!r}, found the outputs "
                    f"{sorted(outputs)}"
                )
            value = term(outputs, self.restricted(rows, name, batch))
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
