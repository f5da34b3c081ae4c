"""Stage 'train': one model, one dataset, one seed. Adam, early stopping on validation loss.

The loss follows the pipeline's target: binary cross-entropy per frame and class ("frames", sigmoid outputs) or
categorical cross-entropy per clip ("clip", softmax outputs). Accuracy is logged alongside, as the dessed paper's
Keras metrics define it: binary accuracy over (frame, class) cells at 0.5, or categorical accuracy.

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

from . import cli, provenance
from .config import EXECUTION_KEYS
from .data import SplitData
from .faults import fault_point
from .io import InputError, atomic_path, read_json, write_csv, write_json
from .models import build_from_config, count_parameters, set_compiled
from .progress import progress

log = logging.getLogger(__name__)

# What a finished run publishes in its --run-dir (the rules name their outputs from these).
HISTORY_FILE, SUMMARY_FILE, CHECKPOINTS_DIR = "history.csv", "train.json", "checkpoints"


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
    return {f"{role}/{p.name}": p for role, folder in folders.items()
            for p in sorted(folder.iterdir()) if p.is_file() and not p.name.startswith(".")}


def resume_key(inputs: dict[str, str], settings: dict) -> dict[str, str]:
    """One digest per part a resume must match: each input file, then each settings section."""
    return {**{f"input {name}": digest for name, digest in inputs.items()},
            **{part: config_hash({part: value}) for part, value in settings.items()}}


def changed_parts(old: dict[str, str] | None, new: dict[str, str]) -> list[str]:
    if not isinstance(old, dict):
        return ["everything (the state has no key of this version)"]
    return [part for part in sorted(set(old) | set(new)) if old.get(part) != new.get(part)]


def epoch_order(seed: int, epoch: int, n: int) -> np.ndarray:
    """Shuffle order of an epoch depends only on (seed, epoch), so a resumed run sees the same data order."""
    return np.random.default_rng([seed, epoch]).permutation(n)


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
            log.warning("%s: made from other inputs or settings (changed: %s); training starts from scratch", path,
                        ", ".join(changed))
            return None
        return state
    published = work / "published.json"
    if published.exists():
        record = read_json(published)
        changed = changed_parts(record.get("resume_key"), key)
        log.info("this run's last training finished and was published (%s); training again from scratch%s",
                 record.get("published_utc", "time unknown"),
                 f" (changed since: {', '.join(changed)})" if changed else " (same inputs and settings)")
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
    """Loss and accuracy counts for the pipeline's target. Frame targets: logits and y (B, L, C); clip: (B, C), (B,)."""

    def __init__(self, target: str):
        if target not in ("frames", "clip"):
            raise ValueError(f"target must be 'frames' or 'clip', got {target!r}")
        self.target = target
        self.loss = torch.nn.BCEWithLogitsLoss() if target == "frames" else torch.nn.CrossEntropyLoss()
        self._sum = (torch.nn.BCEWithLogitsLoss(reduction="sum") if target == "frames"
                     else torch.nn.CrossEntropyLoss(reduction="sum"))

    def loss_sum(self, logits: torch.Tensor, y: torch.Tensor) -> float:
        return float(self._sum(logits, y))

    def counts(self, logits: torch.Tensor, y: torch.Tensor) -> tuple[int, int, int, int, int]:
        """(correct, total, tp, fp, fn): cells for frames (decision at 0.5), examples for clips (argmax)."""
        if self.target == "clip":
            pred = logits.argmax(dim=-1)
            correct = int((pred == y).sum())
            return correct, int(y.numel()), correct, int(y.numel()) - correct, int(y.numel()) - correct
        pred, truth = logits > 0, y > 0.5
        return (int((pred == truth).sum()), int(y.numel()), int((pred & truth).sum()), int((pred & ~truth).sum()),
                int((~pred & truth).sum()))


def evaluate_loss(model: torch.nn.Module, data: SplitData, split: str, batch_size: int, device: torch.device,
                  objective: Objective | None = None) -> tuple[float, float, float]:
    """Mean loss (per cell for frames, per clip for clips), micro F1 (%) and accuracy (fraction) of a split."""
    objective = objective or Objective(data.target)
    model.eval()
    loss_sum, correct, total, tp, fp, fn = 0.0, 0, 0, 0, 0, 0
    with torch.inference_mode():
        for x, y in data.batches(split, batch_size):
            x, y = x.to(device), y.to(device)
            logits = model(x)  # (B, L, C) or (B, C)
            loss_sum += objective.loss_sum(logits, y)
            c, n, a, b, d = objective.counts(logits, y)
            correct, total, tp, fp, fn = correct + c, total + n, tp + a, fp + b, fn + d
    f1 = 2 * tp / max(2 * tp + fp + fn, 1)
    return loss_sum / max(total, 1), 100.0 * f1, correct / max(total, 1)


def train(run_dir: Path, feature_dir: Path, split_dir: Path, model_cfg: dict, training: dict, seed: int,
          pipeline: dict | None = None, compile_recurrence: bool = False) -> dict:
    """Train (or resume) one run; `pipeline` is recorded in the resume key and provenance (None: called outside the
    workflow, where the feature and split files' digests still pin the data)."""
    # threads and compile change speed, not results: they stay out of the settings a resume must match
    settings = {"pipeline": pipeline, "model": model_cfg,
                "training": {k: v for k, v in training.items() if k not in EXECUTION_KEYS}, "seed": seed}
    inputs = input_files({"features": feature_dir, "splits": split_dir})
    # hashed once, for the resume key and the provenance record
    digests = {str(path): provenance.sha256_file(path) for path in inputs.values()}
    key = resume_key({name: digests[str(path)] for name, path in inputs.items()}, settings)
    digest = config_hash(key)
    work = run_dir / "work"
    work.mkdir(parents=True, exist_ok=True)
    device = pick_device(training["device"])
    data = SplitData.load(feature_dir, split_dir)

    torch.manual_seed(seed)
    model = build_from_config(model_cfg, data.n_mels, data.n_classes).to(device)
    if compile_recurrence and set_compiled(model, True):
        log.info("HyperLSTM cell compiled with torch.compile (training.compile: true)")
    optimiser = torch.optim.Adam(model.parameters(), lr=training["learning_rate"])
    objective = Objective(data.target)

    state = load_state(work, key)
    if state is None:
        shutil.rmtree(work / "checkpoints", ignore_errors=True)
        history: list[dict] = []
        best, bad, start_epoch = float("inf"), 0, 1
    else:
        model.load_state_dict(state["model"])
        optimiser.load_state_dict(state["optimiser"])
        torch.set_rng_state(state["torch_rng"])
        history, best, bad = state["history"], state["best_val_loss"], state["bad_epochs"]
        start_epoch = state["epoch"] + 1
        log.info("resuming after epoch %d", state["epoch"])

    n_train = len(data.chunks["train"])
    if n_train == 0:
        raise RuntimeError("no training chunks: check the dataset's train split")
    stopped = bad >= training["patience"]
    for epoch in range(start_epoch, training["max_epochs"] + 1):
        if stopped:
            break
        tic = time.perf_counter()
        model.train()
        order = epoch_order(seed, epoch, n_train)
        total, count, correct, cells = 0.0, 0, 0, 0
        n_batches = (n_train + training["batch_size"] - 1) // training["batch_size"]
        batches = data.batches("train", training["batch_size"], order)
        for b, (x, y) in enumerate(progress(batches, total=n_batches, desc=f"epoch {epoch}")):
            x, y = x.to(device), y.to(device)
            logits = model(x)  # (B, L, C) against y (B, L, C); clip target: (B, C) against class indices (B,)
            loss = objective.loss(logits, y)
            if not torch.isfinite(loss):
                last = f"the last good checkpoint is epoch {epoch - 1}" if epoch > 1 else "no checkpoint was written"
                raise TrainingDiverged(f"{run_dir}: loss is {float(loss.detach())} at epoch {epoch}, batch {b + 1}; "
                                       f"{last} (lower training/learning_rate or check the features for NaN)")
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            total += float(loss.detach()) * len(x)
            count += len(x)
            c, n, *_ = objective.counts(logits.detach(), y)
            correct, cells = correct + c, cells + n
        val_loss, val_f1, val_acc = evaluate_loss(model, data, "validate", training["batch_size"], device, objective)
        improved = val_loss < best
        best, bad = (val_loss, 0) if improved else (best, bad + 1)
        # train_accuracy is measured during the epoch (dropout on, weights moving), as Keras reports it
        history.append({"epoch": epoch, "train_loss": total / count, "val_loss": val_loss,
                        "train_accuracy": correct / max(cells, 1), "val_accuracy": val_acc, "val_frame_f1": val_f1,
                        "epoch_time_s": time.perf_counter() - tic})
        save_atomic(model.state_dict(), work / "checkpoints" / f"epoch{epoch:03d}.pt")
        if (work / "state.pt").exists():  # keep one older state in case the newest is ever damaged
            os.replace(work / "state.pt", work / "state.prev.pt")
        save_atomic({"config_hash": digest, "resume_key": key, "epoch": epoch, "model": model.state_dict(),
                     "optimiser": optimiser.state_dict(), "torch_rng": torch.get_rng_state(), "history": history,
                     "best_val_loss": best, "bad_epochs": bad}, work / "state.pt")
        log.info("epoch %d: train loss %.4f, val loss %.4f, val frame F1 %.1f%%, %.1f s%s", epoch, total / count,
                 val_loss, val_f1, history[-1]["epoch_time_s"], " *" if improved else "")
        fault_point("train.epoch", epoch)
        stopped = bad >= training["patience"]

    best_epoch = int(min(history, key=lambda r: r["val_loss"])["epoch"])
    summary = {
        "epochs": len(history), "best_epoch": best_epoch,
        "early_stopped": stopped, "parameters": count_parameters(model), "device": str(device),
        "device_name": device_name(device), "target": data.target,
        # wall time of the epochs (training + validation), summed over resumed sessions too
        "train_time_s": float(sum(r["epoch_time_s"] for r in history)),
        "checkpoint_bytes": (work / "checkpoints" / f"epoch{best_epoch:03d}.pt").stat().st_size,
        "train_chunks": n_train, "validate_chunks": len(data.chunks["validate"]), "config_hash": digest,
    }
    publish(run_dir, work, history, summary, settings, key, digests)
    return summary


def publish(run_dir: Path, work: Path, history: list[dict], summary: dict, settings: dict, key: dict[str, str],
            inputs: dict[str, str]) -> None:
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
        summary = train(Path(args.run_dir), Path(args.features), Path(args.splits), args.model, args.training, args.seed,
                        pipeline=args.pipeline, compile_recurrence=args.compile)
    except TrainingDiverged as err:  # one line and exit 2, like bad input; the work folder keeps the good epochs
        raise InputError(str(err)) from None
    log.info("trained %d epochs (best %d), %d parameters on %s", summary["epochs"], summary["best_epoch"],
             summary["parameters"], summary["device"])


def build_parser() -> argparse.ArgumentParser:
    p = cli.parser("Train one model on one dataset with one seed.", outputs=["run_dir"])
    p.add_argument("--run-dir", required=True)
    p.add_argument("--features", required=True)
    p.add_argument("--splits", required=True)
    p.add_argument("--model", type=cli.json_arg, required=True, help="the model's config section as JSON")
    p.add_argument("--training", type=cli.json_arg, required=True, help="the training config section as JSON")
    p.add_argument("--pipeline", type=cli.json_arg, required=True,
                   help="the model's pipeline section (features with the audio rate, chunks, target, split) as JSON")
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--compile", action="store_true", default=os.environ.get("SEDREPRO_COMPILE") == "1",
                   help="run the HyperLSTM cell through torch.compile (speed only; the workflow sets SEDREPRO_COMPILE=1 "
                   "for config training.compile: true)")
    return p


if __name__ == "__main__":
    cli.run(main, build_parser())
