"""Training recipes: what one optimisation step computes and which network is checkpointed and scored.

The train stage (:mod:`sedrepro.train`) owns the loop around a recipe: data order, Adam, the NaN guard, early
stopping, atomic per-epoch checkpoints and exact resume. A recipe, looked up by the config's ``training.recipe`` in
:data:`RECIPES`, is built as ``recipe(model, loss, training)`` and provides:

- ``objective(batch)``: the loss of one batch (B rows, a dict as :func:`sedrepro.data.make_batch` makes it: per
  label kind its targets and row mask, rows of several sources mixed) to backpropagate, and the student's named
  outputs;
- ``after_step()``: called after each optimiser step;
- ``scored``: the network whose weights are checkpointed, validated and later scored;
- ``state_dict()`` / ``load_state_dict()``: the recipe's own state for an exact resume.

``supervised`` is the plain loop of the papers: the configured loss on the batch. ``mean_teacher`` (Tarvainen &
Valpola 2017) adds an EMA teacher and a consistency term; see :class:`MeanTeacher`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor, nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from .io import InputError
from .losses import Loss, consistency_mse
from .models import PREDICTIONS, probabilities
from .registry import Registry

__all__ = ["RECIPES", "Supervised", "MeanTeacher", "sigmoid_rampup"]

RECIPES: Registry[Any] = Registry("recipe")


@RECIPES.register("supervised")
class Supervised:
    """The configured loss of the model's outputs on the batch; the model itself is checkpointed."""

    def __init__(self, model: nn.Module, loss: Loss, training: Mapping[str, Any]) -> None:
        self.model, self.loss = model, loss

    @property
    def scored(self) -> nn.Module:
        return self.model

    def objective(self, batch: Mapping[str, Tensor]) -> tuple[Tensor, dict[str, Tensor]]:
        outputs = self.model(batch["features"])
        return self.loss(outputs, batch), outputs

    def after_step(self) -> None:
        pass

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        pass


def predictions(outputs: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """The outputs that predict labels (models.PREDICTIONS), in their order."""
    return {name: value for name, value in outputs.items() if name in PREDICTIONS}


def sigmoid_rampup(step: int, length: int) -> float:
    """exp(-5 (1 - t)^2) with t = step / length clipped to [0, 1] (Laine & Aila 2017); 1 from the start if length
    is 0."""
    if length <= 0:
        return 1.0
    t = min(max(step / length, 0.0), 1.0)
    return math.exp(-5.0 * (1.0 - t) ** 2)


@RECIPES.register("mean_teacher")
class MeanTeacher(Supervised):
    """Student trained on the configured loss plus w(step) * MSE between student and teacher probabilities; the
    teacher is the EMA of the student (``torch.optim.swa_utils.AveragedModel`` with ``get_ema_multi_avg_fn``:
    teacher = decay * teacher + (1 - decay) * student after each step, parameters and batch-norm statistics; the
    first update copies the student).

    The consistency term covers every row of the batch, labelled or not, and every prediction output student and
    teacher both have (e.g. strong frames and clip tags; not a VAE's reconstruction or latents: models.PREDICTIONS);
    rows enter each supervised term only where they have its labels (weak rows no frame term, unlabelled rows none),
    so unlabelled rows contribute only consistency. w(step) = consistency_weight * sigmoid_rampup(step,
    rampup_steps), step counting optimiser steps from 0. The teacher predicts in eval mode (no dropout, its
    averaged batch-norm statistics). ``scored`` is the teacher or the student (config ``mean_teacher.scored``).

    Config (``training.mean_teacher``): ema_decay, consistency_weight, rampup_steps, scored.
    """

    def __init__(self, model: nn.Module, loss: Loss, training: Mapping[str, Any]) -> None:
        super().__init__(model, loss, training)
        cfg = training.get("mean_teacher")
        if not isinstance(cfg, Mapping):
            raise InputError(
                f"config key 'training/mean_teacher': expected the mean_teacher recipe's settings, found {cfg!r}"
            )
        self.decay, self.weight = float(cfg["ema_decay"]), float(cfg["consistency_weight"])
        self.rampup_steps, self.score = int(cfg["rampup_steps"]), cfg["scored"]
        # no device given: the module keeps the student's device; the update counter (n_averaged) stays a host
        # scalar, so deciding "first update?" never syncs with the accelerator
        self.teacher = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(self.decay), use_buffers=True)
        self.teacher.eval()
        for p in self.teacher.parameters():
            p.requires_grad_(False)
        self.steps = 0

    @property
    def scored(self) -> nn.Module:
        return self.teacher.module if self.score == "teacher" else self.model

    def consistency_weight(self) -> float:
        return self.weight * sigmoid_rampup(self.steps, self.rampup_steps)

    def objective(self, batch: Mapping[str, Tensor]) -> tuple[Tensor, dict[str, Tensor]]:
        outputs = self.model(batch["features"])
        with torch.no_grad():
            teacher = self.teacher(batch["features"])
        consistency = consistency_mse(predictions(outputs), predictions(teacher), probabilities)
        return self.loss(outputs, batch) + self.consistency_weight() * consistency, outputs

    def after_step(self) -> None:
        self.teacher.update_parameters(self.model)
        self.steps += 1

    def state_dict(self) -> dict[str, Any]:
        return {"teacher": self.teacher.state_dict(), "steps": self.steps}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.teacher.load_state_dict(state["teacher"])
        self.steps = int(state["steps"])
