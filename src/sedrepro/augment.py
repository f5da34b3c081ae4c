"""Batch augmentations of training batches, declared in config as an ordered list (``training.augment``).

The train stage applies them, in config order, to every training batch after it reaches the device and before the
recipe sees it (:class:`Augmenter`); validation and prediction batches are never augmented. A recipe that runs a
second network on the batch (mean_teacher) gives it the same augmented batch, as the DCASE baseline's teacher sees
the student's mixed input. An empty list is no call at all: training is bit for bit what it is without the key.

Each draw comes from its own ``numpy.random.Generator`` seeded from (seed, epoch, batch index, position in the
list), never from the global RNGs: a resumed run draws the same augmentations for the same batches, and the torch
RNG that dropout and initialisation use is untouched. (numpy rather than a torch.Generator: the Beta draw of mixup
has no torch form that takes a generator; the data order is drawn the same way, :func:`sedrepro.data.epoch_order`.)

A part registered in :data:`AUGMENTATIONS` is a class built as ``cls(params, path, target)`` (``params``: its
config entry without ``name``; ``path``: its config key, for errors; ``target``: the pipeline's, "frames" or "clip"), with a call
``(batch, rng) -> batch`` that returns a new dict (the input is never modified) and leaves the masks as they are.

Shipped:

- ``mixup`` (Zhang et al. 2018, as the DCASE 2022 task 4 baseline applies it): with `probability` per batch, rows
  are mixed with a random permutation of the rows that carry the same labels (the same row masks: strong rows with
  strong rows, weak with weak; unlabelled rows only with `unlabelled: true`), one lambda ~ Beta(alpha, alpha) per
  group, features and every target of the group (frame labels and clip tags) with the same lambda. Labels "soft":
  lam * a + (1 - lam) * b; "hard": a + b; both clamped to [0, 1] (the baseline's mixup_label_type). Mixing across
  label kinds would give rows half a label and a mask that is neither. Float targets only (target "frames").
- ``time_shift`` (the DCASE 2020 baseline's TimeShift): each row, with `probability`, is rolled along time by a
  whole number of frames drawn from N(0, scale_frames) truncated toward zero (the baseline: std 90) or uniformly
  from [-scale_frames, scale_frames]; its features and frame labels by the same shift, so they stay aligned. Clip
  tags are kept, as the baseline keeps weak labels (a roll keeps every frame, padded tails aside).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

from .io import fail
from .registry import Registry

__all__ = ["AUGMENTATIONS", "Augmenter", "Mixup", "TimeShift", "label_groups"]

AUGMENTATIONS: Registry[Any] = Registry("augmentation")
# First word of every augmentation seed: keeps these streams apart from the data order's (seed, epoch, ...).
STREAM = 0x61756731
# Batch entries with a time axis (B, L, ...): rolled together by time_shift.
TIME_KEYS = ("features", "strong")


def at(path: str) -> str:
    return f"config key '{path}'"


def check_params(params: Mapping[str, Any], names: Sequence[str], path: str) -> None:
    """Exactly the augmentation's own keys (the schema says the same; this also holds for callers without it)."""
    if set(params) != set(names):
        raise fail(at(path), f"keys name, {', '.join(names)}", f"keys {', '.join(sorted(['name', *params]))}")


def label_groups(batch: Mapping[str, Tensor]) -> list[tuple[np.ndarray, list[str]]]:
    """The rows that carry the same labels: (row indices, the target keys their masks allow), in order of first
    row. Rows of no label kind come with an empty key list."""
    keys = sorted(k.removeprefix("mask_") for k in batch if k.startswith("mask_"))
    masks = np.stack([batch[f"mask_{k}"].cpu().numpy() for k in keys], axis=1) if keys else None
    n = len(batch["features"])
    if masks is None:
        return [(np.arange(n), [])]
    signatures, first, inverse = np.unique(masks, axis=0, return_index=True, return_inverse=True)
    inverse = inverse.reshape(-1)
    return [
        (np.flatnonzero(inverse == g), [k for k, on in zip(keys, signatures[g], strict=True) if on])
        for g in np.argsort(first)
    ]


@AUGMENTATIONS.register("mixup")
class Mixup:
    PARAMS = ("probability", "alpha", "labels", "unlabelled")

    def __init__(self, params: Mapping[str, Any], path: str, target: str) -> None:
        check_params(params, self.PARAMS, path)
        if target != "frames":
            raise fail(at(path), "a pipeline with float targets (target frames) to mix", f"target {target!r}")
        if params["labels"] not in ("soft", "hard"):
            raise fail(at(f"{path}/labels"), "soft or hard", repr(params["labels"]))
        self.probability, self.alpha = float(params["probability"]), float(params["alpha"])
        self.labels, self.unlabelled = params["labels"], bool(params["unlabelled"])

    def __call__(self, batch: Mapping[str, Tensor], rng: np.random.Generator) -> dict[str, Tensor]:
        if not rng.random() < self.probability:  # the baseline's `0.5 > random.random()`, once per batch
            return dict(batch)
        out = dict(batch)
        x = out["features"] = batch["features"].clone()
        targets = {k: batch[k].clone() for k in batch if f"mask_{k}" in batch}
        for rows, keys in label_groups(batch):
            if len(rows) < 2 or not (keys or self.unlabelled):
                continue
            lam = float(rng.beta(self.alpha, self.alpha))
            idx = torch.as_tensor(rows, device=x.device)
            other = idx[torch.as_tensor(rng.permutation(len(rows)), device=x.device)]
            x[idx] = lam * batch["features"][idx] + (1 - lam) * batch["features"][other]
            for k in keys:
                a, b = batch[k][idx], batch[k][other]
                mixed = lam * a + (1 - lam) * b if self.labels == "soft" else a + b
                targets[k][idx] = mixed.clamp(0, 1)
        out.update(targets)
        return out


@AUGMENTATIONS.register("time_shift")
class TimeShift:
    PARAMS = ("probability", "distribution", "scale_frames")

    def __init__(self, params: Mapping[str, Any], path: str, target: str) -> None:
        check_params(params, self.PARAMS, path)
        if params["distribution"] not in ("normal", "uniform"):
            raise fail(at(f"{path}/distribution"), "normal or uniform", repr(params["distribution"]))
        self.probability, self.distribution = float(params["probability"]), params["distribution"]
        self.scale = float(params["scale_frames"])

    def shifts(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """One shift in frames per row (0 for the rows not drawn)."""
        apply = rng.random(n) < self.probability
        if self.distribution == "normal":
            shift = np.trunc(rng.normal(0.0, self.scale, n))  # the baseline's int(np.random.normal(0, std))
        else:
            top = int(self.scale)
            shift = rng.integers(-top, top, size=n, endpoint=True)
        return np.where(apply, shift, 0).astype(np.int64)

    def __call__(self, batch: Mapping[str, Tensor], rng: np.random.Generator) -> dict[str, Tensor]:
        x = batch["features"]
        shift = self.shifts(len(x), rng)
        if not shift.any():
            return dict(batch)
        length = x.shape[1]
        # torch.roll per row: out[t] = in[(t - shift) mod L]
        steps = torch.arange(length, device=x.device)[None, :] - torch.as_tensor(shift, device=x.device)[:, None]
        index = steps.remainder(length)  # (B, L)
        out = dict(batch)
        for k in TIME_KEYS:
            if k in batch:
                v = batch[k]
                out[k] = v.gather(1, index[:, :, None].expand(-1, -1, v.shape[2]))
        return out


class Augmenter:
    """The configured augmentations, applied in order to a training batch; draws keyed by (seed, epoch, batch)."""

    def __init__(self, spec: Sequence[Mapping[str, Any]], target: str, seed: int, key: str = "training/augment"):
        if not isinstance(spec, Sequence) or isinstance(spec, str):
            raise fail(at(key), "a list of augmentations", repr(spec))
        self.seed, self.parts = seed, []
        for i, entry in enumerate(spec):
            path = f"{key}/{i}"
            if not isinstance(entry, Mapping) or "name" not in entry:
                raise fail(at(path), "an augmentation {name: ..., its settings}", repr(entry))
            cls = AUGMENTATIONS.get(entry["name"], at(f"{path}/name"))
            self.parts.append(cls({k: v for k, v in entry.items() if k != "name"}, path, target))

    def __len__(self) -> int:
        return len(self.parts)

    def __call__(self, batch: Mapping[str, Tensor], epoch: int, step: int) -> dict[str, Tensor]:
        out = dict(batch)
        for position, part in enumerate(self.parts):
            out = part(out, np.random.default_rng([STREAM, self.seed, epoch, step, position]))
        return out
