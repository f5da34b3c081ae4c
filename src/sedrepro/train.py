"""Stage 'train': one model, one dataset, one seed. Adam, early stopping on a validation metric.

What a step computes is the recipe's (``training.recipe``, :mod:`sedrepro.recipes`; "supervised" by default): the
configured loss terms (``training.loss``, :mod:`sedrepro.losses`) on batches drawn from the configured sources
(``training.sources``, :class:`sedrepro.data.Sampler`). By default the loss follows the pipeline's target: binary
cross-entropy per frame and class ("frames", output "strong", sigmoid) or categorical cross-entropy per clip
("clip", output "weak", softmax) or binary cross-entropy per clip and class ("tags", output "tags", sigmoid). The
validation loss is always that target loss. Accuracy is logged alongside, as
the dessed paper's Keras metrics define it: binary accuracy over (frame, class) cells at 0.5, or categorical
accuracy. ``training.monitor`` picks the validation metric early stopping and the best epoch follow. Training batches
(never validation ones) pass through the configured augmentations first (``training.augment``,
:mod:`sedrepro.augment`; none by default), their draws keyed by (seed, epoch, batch) so that a resume is exact.

Checkpoints are the weights of the recipe's scored network (plain state dicts: their file size is a table's model
size); the run's ``train.json`` records under "model" the architecture, its constructor config and the feature and
class counts, from which prediction rebuilds the network.

Work happens in `<run>/work/` (not a Snakemake output, so it survives Snakemake's cleanup of an interrupted job):
per-epoch weights, and after every epoch `state.pt` with everything needed to resume exactly (model, optimizer,
early-stopping state, history, torch RNG). The declared outputs (`checkpoints/`, `history.csv`, `train.json`) are
published only when training has finished.

A resume state is used only when it was made from the same inputs and settings: its key holds the sha256 of every
feature and split file the training reads (content, not paths or mtimes), the pipeline, model and training settings
and the seed, one digest per part, so that a mismatch names the part that changed and training starts from scratch.
Publishing a finished run retires its resume state (`work/published.json` remembers the key): a job that Snakemake
runs again after that (`--forcerun train_model`, or a changed input or parameter) always trains from scratch, while an
interrupted job (kill -9, node failure, `--rerun-incomplete`) resumes after its last finished epoch.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import platform
import shutil
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch.optim.lr_scheduler import LambdaLR

from . import cli, layout, provenance
from .augment import Augmenter
from .config import EXECUTION_KEYS
from .data import TARGET_KEY, Sampler, Source, SplitData, batch_to, epoch_order
from .faults import fault_point
from .io import InputError, atomic_path, read_json, write_csv, write_json
from .losses import Loss
from .models import build, constructor_config, count_parameters, set_compiled
from .progress import progress
from .recipes import RECIPES, sigmoid_rampup

log = logging.getLogger(__name__)

__all__ = ["train", "epoch_order", "TrainingDiverged", "MONITORS", "RECIPE_DEFAULTS", "model_record"]
# What a finished run publishes in its --run-dir (sedrepro.layout: the rules name their outputs from these).
HISTORY_FILE, SUMMARY_FILE, CHECKPOINTS_DIR = layout.HISTORY_FILE, layout.SUMMARY_FILE, layout.CHECKPOINTS_DIR


class TrainingDiverged(RuntimeError):
    pass


def pick_device(requested: str) -> torch.device:
    if requested == "cuda" or (requested == "auto" and torch.cuda.is_available()):
        return torch.device("cuda")
    return torch.device("cpu")


def config_hash(settings: dict) -> str:
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]


def input_files(folders: dict[str, Path]) -> dict[str, Path]:
    """Every file a training reads, keyed "<role>/<name>" (features/..., splits/...); hidden temp files left by a
    killed stage are not inputs."""
    return {
        f"{role}/{p.name}": p
        for role, folder in folders.items()
        for p in sorted(folder.iterdir())
        if p.is_file() and not p.name.startswith(".")
    }


def resume_key(inputs: dict[str, str], settings: dict) -> dict[str, str]:
    """One digest per part a resume must match: each input file, then each settings section."""
    return {
        **{f"input {name}": digest for name, digest in inputs.items()},
        **{part: config_hash({part: value}) for part, value in settings.items()},
    }


def changed_parts(old: dict[str, str] | None, new: dict[str, str]) -> list[str]:
    if not isinstance(old, dict):
        return ["everything (the state has no key of this version)"]
    return [part for part in sorted(set(old) | set(new)) if old.get(part) != new.get(part)]


# The recipe keys at the values of the papers' plain supervised loop (config.yaml holds the same; a test checks): for callers
# that pass a training section without them (tests, notebooks).
RECIPE_DEFAULTS = {
    "recipe": "supervised",
    "loss": None,
    "sources": [{"split": "train", "labels": "target", "share": 1}],
    "monitor": "val_loss",
    "augment": [],
    "weight_decay": 0.0,
}
# Validation metrics early stopping and the best epoch may follow: history column -> +1 higher is better, -1 lower.
MONITORS = {"val_loss": -1, "val_frame_f1": 1, "val_accuracy": 1}


def save_atomic(obj: dict, path: Path) -> None:
    with atomic_path(path, suffix=".pt") as tmp:
        torch.save(obj, tmp)


def load_state(work: Path, key: dict[str, str]) -> dict | None:
    """The newest readable resume state made with this key: state.pt, else state.prev.pt; None (and the log says
    why) when there is none to resume."""
    for path in (work / "state.pt", work / "state.prev.pt"):
        if not path.exists():
            continue
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as err:  # truncated or foreign: never trust it
            log.warning("%s: cannot be read (%s); trying an older state", path, str(err).splitlines()[0])
            continue
        changed = changed_parts(state.get("resume_key"), key)
        if changed:
            log.warning(
                "%s: made from other inputs or settings (changed: %s); training starts from scratch",
                path,
                ", ".join(changed),
            )
            return None
        return state
    published = work / "published.json"
    if published.exists():
        record = read_json(published)
        changed = changed_parts(record.get("resume_key"), key)
        log.info(
            "this run's last training finished and was published (%s); training again from scratch%s",
            record.get("published_utc", "time unknown"),
            f" (changed since: {', '.join(changed)})" if changed else " (same inputs and settings)",
        )
    else:
        log.info("no resume state: training from scratch")
    return None


def device_name(device: torch.device) -> str:
    """The hardware a run used, for reports of training time: the card's name, or the CPU model and thread count."""
    if device.type == "cuda":
        return f"cuda: {torch.cuda.get_device_name(device)}"
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            cpu = next((line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")), cpu)
    except OSError:
        pass
    return f"cpu: {cpu} ({torch.get_num_threads()} threads)"


class Objective:
    """Validation loss and accuracy counts for the pipeline's target, on the model output it has (`output`).
    Frame targets: logits and y (B, L, C); clip: (B, C), (B,); tags: (B, C), (B, C)."""

    def __init__(self, target: str):
        if target not in TARGET_KEY:
            raise ValueError(f"target must be one of {sorted(TARGET_KEY)}, got {target!r}")
        self.target = target
        self.output = TARGET_KEY[target]
        self._sum = (
            torch.nn.CrossEntropyLoss(reduction="sum")
            if target == "clip"
            else torch.nn.BCEWithLogitsLoss(reduction="sum")
        )

    def loss_sum(self, logits: torch.Tensor, y: torch.Tensor) -> float:
        return float(self._sum(logits, y))

    def counts(self, logits: torch.Tensor, y: torch.Tensor) -> tuple[int, int, int, int, int]:
        """(correct, total, tp, fp, fn): cells for frames and tags (decision at 0.5), examples for clips (argmax)."""
        if self.target == "clip":
            pred = logits.argmax(dim=-1)
            correct = int((pred == y).sum())
            return correct, int(y.numel()), correct, int(y.numel()) - correct, int(y.numel()) - correct
        pred, truth = logits > 0, y > 0.5
        return (
            int((pred == truth).sum()),
            int(y.numel()),
            int((pred & truth).sum()),
            int((pred & ~truth).sum()),
            int((~pred & truth).sum()),
        )


def evaluate_loss(
    model: torch.nn.Module,
    data: SplitData,
    split: str,
    batch_size: int,
    device: torch.device,
    objective: Objective | None = None,
) -> tuple[float, float, float]:
    """Mean loss (per cell for frames, per clip for clips), micro F1 (%) and accuracy (fraction) of a split."""
    objective = objective or Objective(data.target)
    model.eval()
    loss_sum, correct, total, tp, fp, fn = 0.0, 0, 0, 0, 0, 0
    with torch.inference_mode():
        for x, y in data.batches(split, batch_size):
            x, y = x.to(device), y.to(device)
            logits = model(x)[objective.output]  # (B, L, C) or (B, C)
            loss_sum += objective.loss_sum(logits, y)
            c, n, a, b, d = objective.counts(logits, y)
            correct, total, tp, fp, fn = correct + c, total + n, tp + a, fp + b, fn + d
    f1 = 2 * tp / max(2 * tp + fp + fn, 1)
    return loss_sum / max(total, 1), 100.0 * f1, correct / max(total, 1)


def ranking_history(
    model: torch.nn.Module, data: SplitData, split: str, batch_size: int, device: torch.device
) -> dict[str, float | None]:
    """Validation history columns of a clip-tags target: val_auc and val_ap, the mean over classes of the per-class
    ROC AUC and average precision (sedrepro.metrics.tag_ranking: classes without positives skipped)."""
    from .metrics import AVERAGE, tag_ranking

    model.eval()
    scores, truth = [], []
    with torch.inference_mode():
        for x, y in data.batches(split, batch_size):
            scores.append(torch.sigmoid(model(x.to(device))[data.target_key]).cpu().numpy())
            truth.append(y.numpy() > 0.5)
    s, t = np.concatenate(scores), np.concatenate(truth)
    return {
        f"val_{column}": tag_ranking(s, t, data.classes, kind)[AVERAGE]
        for column, kind in (("auc", "roc_auc"), ("ap", "average_precision"))
    }


def improves(value: float, best: float, monitor: str) -> bool:
    return value * MONITORS[monitor] > best * MONITORS[monitor]


def recipe_settings(training: dict) -> dict:
    """The training section with the recipe keys an older-shaped section lacks at their defaults; one line for an
    unknown monitor."""
    training = {**RECIPE_DEFAULTS, **training}
    if training["monitor"] not in MONITORS:
        raise InputError(
            f"config key 'training/monitor': expected one of {', '.join(MONITORS)}, found {training['monitor']!r}"
        )
    return training


def warmup_scheduler(optimiser: torch.optim.Optimizer, warmup: dict | None) -> LambdaLR | None:
    """The learning-rate warm-up of config training.lr_warmup (None: none, the constant learning rate): stepped after
    every optimiser step, so that step n (from 0) runs at learning_rate * sigmoid_rampup(n, steps), as the DCASE 2020
    baseline's adjust_learning_rate (kept by guanyadong/ssa_sed) sets it before each step."""
    if warmup is None:
        return None
    steps = int(warmup["steps"])
    return LambdaLR(optimiser, lambda step: sigmoid_rampup(step, steps))


def model_record(model_cfg: dict, n_features: int, n_classes: int) -> dict:
    """What the checkpoints' network is (train.json "model"): :func:`sedrepro.predict.load_model` rebuilds it
    without the config."""
    architecture, ctor = constructor_config(model_cfg)
    return {"architecture": architecture, "config": ctor, "n_features": n_features, "n_classes": n_classes}


def train(
    run_dir: Path,
    feature_dir: Path,
    split_dir: Path,
    model_cfg: dict,
    training: dict,
    seed: int,
    pipeline: dict | None = None,
    compile_recurrence: bool = False,
) -> dict:
    """Train (or resume) one run; `pipeline` is recorded in the resume key and provenance (None: called outside the
    workflow, where the feature and split files' digests still pin the data)."""
    training = recipe_settings(training)
    # threads and compile change speed, not results: they stay out of the settings a resume must match
    settings = {
        "pipeline": pipeline,
        "model": model_cfg,
        "training": {k: v for k, v in training.items() if k not in EXECUTION_KEYS},
        "seed": seed,
    }
    inputs = input_files({"features": feature_dir, "splits": split_dir})
    # hashed once, for the resume key and the provenance record
    digests = {str(path): provenance.sha256_file(path) for path in inputs.values()}
    key = resume_key({name: digests[str(path)] for name, path in inputs.items()}, settings)
    digest = config_hash(key)
    work = run_dir / "work"
    work.mkdir(parents=True, exist_ok=True)
    device = pick_device(training["device"])
    data = SplitData.load(feature_dir, split_dir)
    recipe_cls = RECIPES.get(training["recipe"], "config key 'training/recipe'")
    sources = [Source.from_config(s, f"config key 'training/sources/{i}'") for i, s in enumerate(training["sources"])]
    loss = Loss.from_config(training["loss"], data.label_kind, data.target, [s.split for s in sources])
    sampler = Sampler(
        data, sources, training["batch_size"], seed, tags="tags" in loss.outputs, row_sources=loss.needs_sources
    )
    loss.check_labels(sampler.label_kinds, sampler.kinds)
    augment = Augmenter(training["augment"], data.target, seed)

    torch.manual_seed(seed)
    record = model_record(model_cfg, data.n_mels, data.n_classes)
    model = build(record["architecture"], record["config"], data.n_mels, data.n_classes).to(device)
    if compile_recurrence and set_compiled(model, True):
        log.info("HyperLSTM cell compiled with torch.compile (training.compile: true)")
    # weight_decay: L2 regularisation (lambda * w added to the gradient); 0 leaves Adam exactly as before
    optimiser = torch.optim.Adam(
        model.parameters(), lr=training["learning_rate"], weight_decay=training["weight_decay"]
    )
    scheduler = warmup_scheduler(optimiser, training.get("lr_warmup"))  # absent: no warm-up (config/schema.yaml)
    objective = Objective(data.target)
    recipe = recipe_cls(model, loss, training)
    monitor = training["monitor"]

    state = load_state(work, key)
    if state is None:
        shutil.rmtree(work / "checkpoints", ignore_errors=True)
        history: list[dict] = []
        best, bad, start_epoch = -MONITORS[monitor] * float("inf"), 0, 1
    else:
        model.load_state_dict(state["model"])
        optimiser.load_state_dict(state["optimiser"])
        if scheduler is not None:  # the key holds lr_warmup: a state made with it has its scheduler's
            scheduler.load_state_dict(state["scheduler"])
        recipe.load_state_dict(state["recipe"])
        torch.set_rng_state(state["torch_rng"])
        history, best, bad = state["history"], state["best"], state["bad_epochs"]
        start_epoch = state["epoch"] + 1
        log.info("resuming after epoch %d", state["epoch"])

    n_train = len(data.chunks[sources[0].split])  # the first source sets the epoch
    if n_train == 0:
        raise RuntimeError("no training chunks: check the dataset's train split")
    stopped = bad >= training["patience"]
    for epoch in range(start_epoch, training["max_epochs"] + 1):
        if stopped:
            break
        tic = time.perf_counter()
        model.train()
        total, count, correct, cells = 0.0, 0, 0, 0
        for b, batch in enumerate(progress(sampler.epoch(epoch), total=len(sampler), desc=f"epoch {epoch}")):
            batch = batch_to(batch, device)
            if augment:  # training batches only; the recipe's networks (student and teacher) see the same batch
                batch = augment(batch, epoch, b)
            loss_value, outputs = recipe.objective(batch)
            if not torch.isfinite(loss_value):
                last = f"the last good checkpoint is epoch {epoch - 1}" if epoch > 1 else "no checkpoint was written"
                raise TrainingDiverged(
                    f"{run_dir}: loss is {float(loss_value.detach())} at epoch {epoch}, batch "
                    f"{b + 1}; {last} (lower training/learning_rate or check the features for NaN)"
                )
            optimiser.zero_grad(set_to_none=True)
            loss_value.backward()
            optimiser.step()
            if scheduler is not None:
                scheduler.step()
            recipe.after_step()
            n = len(batch["features"])
            total += float(loss_value.detach()) * n
            count += n
            # accuracy of the labelled rows: frames (B, L, C) against y (B, L, C); clips (B, C) against indices (B,)
            mask = batch[f"mask_{data.target_key}"]
            c, k, *_ = objective.counts(outputs[objective.output].detach()[mask], batch[data.target_key][mask])
            correct, cells = correct + c, cells + k
        scored = recipe.scored
        val_loss, val_f1, val_acc = evaluate_loss(scored, data, "validate", training["batch_size"], device, objective)
        # clip tags: the per-epoch ranking scores a paper's training curves draw (history.csv val_auc, val_ap)
        ranking = (
            ranking_history(scored, data, "validate", training["batch_size"], device) if data.target == "tags" else {}
        )
        # train_accuracy is measured during the epoch (dropout on, weights moving), as Keras reports it
        history.append(
            {
                "epoch": epoch,
                "train_loss": total / count,
                "val_loss": val_loss,
                "train_accuracy": correct / max(cells, 1),
                "val_accuracy": val_acc,
                "val_frame_f1": val_f1,
                **ranking,
                "epoch_time_s": time.perf_counter() - tic,
            }
        )
        improved = improves(history[-1][monitor], best, monitor)
        best, bad = (history[-1][monitor], 0) if improved else (best, bad + 1)
        save_atomic(scored.state_dict(), work / "checkpoints" / f"epoch{epoch:03d}.pt")
        if (work / "state.pt").exists():  # keep one older state in case the newest is ever damaged
            os.replace(work / "state.pt", work / "state.prev.pt")
        save_atomic(
            {
                "config_hash": digest,
                "resume_key": key,
                "epoch": epoch,
                "model": model.state_dict(),
                "optimiser": optimiser.state_dict(),
                "scheduler": None if scheduler is None else scheduler.state_dict(),
                "recipe": recipe.state_dict(),
                "torch_rng": torch.get_rng_state(),
                "history": history,
                "best": best,
                "bad_epochs": bad,
                "best_val_loss": min(r["val_loss"] for r in history),
            },
            work / "state.pt",
        )
        log.info(
            "epoch %d: train loss %.4f, val loss %.4f, val frame F1 %.1f%%, %.1f s%s",
            epoch,
            total / count,
            val_loss,
            val_f1,
            history[-1]["epoch_time_s"],
            " *" if improved else "",
        )
        fault_point("train.epoch", epoch)
        stopped = bad >= training["patience"]

    # the first epoch with the best monitored value
    best_epoch = int(max(history, key=lambda r: (MONITORS[monitor] * r[monitor], -r["epoch"]))["epoch"])
    summary = {
        "epochs": len(history),
        "best_epoch": best_epoch,
        "early_stopped": stopped,
        "parameters": count_parameters(model),
        "device": str(device),
        "device_name": device_name(device),
        "target": data.target,
        # wall time of the epochs (training + validation), summed over resumed sessions too
        "train_time_s": float(sum(r["epoch_time_s"] for r in history)),
        "checkpoint_bytes": (work / "checkpoints" / f"epoch{best_epoch:03d}.pt").stat().st_size,
        "train_chunks": n_train,
        "validate_chunks": len(data.chunks["validate"]),
        "config_hash": digest,
        "model": record,  # what network the checkpoints' weights belong to
    }
    publish(run_dir, work, history, summary, settings, key, digests)
    return summary


def publish(
    run_dir: Path,
    work: Path,
    history: list[dict],
    summary: dict,
    settings: dict,
    key: dict[str, str],
    inputs: dict[str, str],
) -> None:
    """Expose the finished run as the rule's outputs (checkpoints are hard links, no copy, where possible), then
    retire the resume state so that a later job of this run never resumes a finished training."""
    out = run_dir / CHECKPOINTS_DIR
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    for src in sorted((work / "checkpoints").glob("epoch*.pt")):
        try:
            os.link(src, out / src.name)
        except OSError:
            shutil.copy2(src, out / src.name)
    write_csv(run_dir / HISTORY_FILE, pd.DataFrame(history), float_format="%.6f")
    provenance.write_sidecar(run_dir / SUMMARY_FILE, settings, inputs=inputs, seed=settings["seed"], known=inputs)
    write_json(run_dir / SUMMARY_FILE, summary)
    write_json(work / "published.json", {"resume_key": key, "published_utc": provenance.utc_now()})
    for name in ("state.pt", "state.prev.pt"):
        (work / name).unlink(missing_ok=True)


def main(args: argparse.Namespace) -> None:
    torch.set_num_threads(args.threads)
    try:
        summary = train(
            Path(args.run_dir),
            Path(args.features),
            Path(args.splits),
            args.model,
            args.training,
            args.seed,
            pipeline=args.pipeline,
            compile_recurrence=args.compile,
        )
    except TrainingDiverged as err:  # one line and exit 2, like bad input; the work folder keeps the good epochs
        raise InputError(str(err)) from None
    log.info(
        "trained %d epochs (best %d), %d parameters on %s",
        summary["epochs"],
        summary["best_epoch"],
        summary["parameters"],
        summary["device"],
    )


def build_parser() -> argparse.ArgumentParser:
    p = cli.parser("Train one model on one dataset with one seed.", outputs=["run_dir"])
    p.add_argument("--run-dir", required=True)
    p.add_argument("--features", required=True)
    p.add_argument("--splits", required=True)
    p.add_argument("--model", type=cli.json_arg, required=True, help="the model's config section as JSON")
    p.add_argument("--training", type=cli.json_arg, required=True, help="the training config section as JSON")
    p.add_argument(
        "--pipeline",
        type=cli.json_arg,
        required=True,
        help="the model's pipeline section (features with the audio rate, chunks, target, split) as JSON",
    )
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument(
        "--compile",
        action="store_true",
        default=os.environ.get("SEDREPRO_COMPILE") == "1",
        help="run the HyperLSTM cell through torch.compile (speed only; the workflow sets SEDREPRO_COMPILE=1 "
        "for config training.compile: true)",
    )
    return p


if __name__ == "__main__":
    cli.run(main, build_parser())
