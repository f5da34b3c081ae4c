"""Stage 'predict': probabilities of every evaluation set for each of the checkpoints chosen for evaluation.

Each set the pipeline declares (``evaluation_sets``, "test" by default) is predicted on its own into
``<out>/<set>/epochNNN.npz``; its clips are those the split stage assigned to it.
Target "frames": the clips are cut into the same chunks as in training (length, hop and tail from the split stage);
overlapping chunk predictions are averaged per frame; `probs` is (total frames of the set, C) with per-clip `offsets`.
Target "clip": one softmax row per clip (its example as in training); `probs` is (n clips, C).
One `epochNNN.npz` per checkpoint; scoring reads these and never the model.
The network is rebuilt from the run's own record (train.json "model": architecture and constructor config, written
by the train stage with the checkpoints), never from the current config; probabilities come from its named outputs
("strong" or "weak", models.OUTPUTS).
"""

from __future__ import annotations

import argparse
import logging
import queue
from collections.abc import Sequence
from copy import deepcopy
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from . import cli, layout
from .audio import ordered_map
from .data import SplitData
from .io import InputError, atomic_path, fail, read_json, read_tsv, write_json
from .models import build, constructor_config, probabilities
from .splits import CLIP_TARGETS, chunk_starts
from .train import MONITORS, pick_device

log = logging.getLogger(__name__)

# The run's folder the rules give this stage as --out (sedrepro.layout).
PREDICTIONS_DIR = layout.PREDICTIONS_DIR
TEST_SET = "test"


SELECTIONS = ("last", *(f"best_{monitor}" for monitor in MONITORS))


def select_epochs(history: pd.DataFrame, n: int, selection: str) -> list[int]:
    """The n epochs best by a validation metric of history.csv ("best_val_loss": lowest loss; "best_val_frame_f1",
    "best_val_accuracy": highest; ties: earlier first), or the last n; all if fewer ran."""
    if selection == "last":
        chosen = history.epoch.tail(n)
    elif selection in SELECTIONS:
        column = selection.removeprefix("best_")
        if column not in history.columns:
            raise fail(
                "history.csv",
                f"a {column} column for evaluation selection {selection}",
                f"columns {', '.join(history.columns)}",
            )
        chosen = history.sort_values([column, "epoch"], ascending=[MONITORS[column] < 0, True]).epoch.head(n)
    else:
        raise fail("config key 'evaluation/selection'", f"one of {', '.join(SELECTIONS)}", selection)
    return sorted(int(e) for e in chosen)


def load_checkpoint(path: Path, device: torch.device) -> dict:
    """A per-epoch checkpoint (weights only: never unpickles code); a missing or damaged one is one line naming it."""
    if not path.is_file():
        raise fail(path, "a checkpoint written by the train stage", "no such file")
    try:
        return torch.load(path, map_location=device, weights_only=True)
    except Exception as err:  # truncated zip, foreign pickle, not a checkpoint at all
        reason = (str(err).strip().splitlines() or [type(err).__name__])[0].split(". ")[0]
        raise fail(
            path,
            "a readable PyTorch checkpoint (weights only)",
            f"{reason} (damaged or truncated: remove {path.parent.parent} to train this run again)",
        ) from None


def model_of_run(run_dir: Path) -> dict:
    """The record of the network a run's checkpoints belong to (train.json "model"); one line if there is none."""
    path = run_dir / "train.json"
    record = read_json(path).get("model") if path.is_file() else None
    if not isinstance(record, dict):
        raise fail(
            path,
            "the train stage's summary with the trained model's record (\"model\")",
            f"{'no such file' if not path.is_file() else 'none'} (remove {run_dir} to train this run again)",
        )
    return record


def load_model(run_dir: Path, n_features: int, n_classes: int, device: torch.device) -> torch.nn.Module:
    """The network the run's checkpoints were trained as, rebuilt from its record; a foreign record, or one for other
    feature or class counts than the data's, is one line naming it."""
    path, record = run_dir / "train.json", model_of_run(run_dir)
    try:
        model = build(record["architecture"], record["config"], int(record["n_features"]), int(record["n_classes"]))
    except (KeyError, TypeError, ValueError, InputError) as err:
        raise fail(path, "an architecture and its constructor config", str(err).splitlines()[0]) from None
    if (record["n_features"], record["n_classes"]) != (n_features, n_classes):
        raise fail(
            path,
            f"a model for {n_features} features and {n_classes} classes (the split's data)",
            f"{record['n_features']} features and {record['n_classes']} classes",
        )
    return model.to(device)


def forward_probs(model: torch.nn.Module, x: torch.Tensor, output: str) -> np.ndarray:
    """Probabilities of the model's named `output` for a batch x (B, L, F): (B, L, C) "strong", (B, C) "weak"."""
    return probabilities(output, model(x)[output]).cpu().numpy()


def predict_frames(
    model: torch.nn.Module,
    data: SplitData,
    starts: np.ndarray,
    n_frames: np.ndarray,
    hop: int,
    batch_size: int,
    device: torch.device,
    tail: str = "flush",
) -> np.ndarray:
    """(sum n_frames, C) probabilities of the clips (first rows, frames), in order: mean of the chunks covering a frame.

    The chunks of all clips go through the model in batches of `batch_size` regardless of which clip they come from
    (one clip's chunks alone made many small forward passes). Every chunk has the same length and is computed on its
    own (no padding is added across chunks; eval-mode layers see one example at a time), so batching changes nothing
    but float rounding; each frame still averages its chunks in chunk order, in float64.
    """
    offsets = np.concatenate([[0], np.cumsum(n_frames)]).astype(np.int64)
    per_clip = [
        chunk_starts(int(s), int(n), data.chunk_frames, hop, tail) for s, n in zip(starts, n_frames, strict=True)
    ]
    chunks = np.concatenate(per_clip)
    # where each chunk's first frame goes in the output: its clip's offset plus the chunk's offset inside the clip
    clip = np.repeat(np.arange(len(per_clip)), [len(c) for c in per_clip])
    out_first = offsets[clip] + chunks[:, 0] - np.asarray(starts, dtype=np.int64)[clip]
    total = np.zeros((int(offsets[-1]), data.n_classes), dtype=np.float64)
    count = np.zeros((int(offsets[-1]), 1), dtype=np.float64)
    with torch.inference_mode():
        for i in range(0, len(chunks), batch_size):
            sel = chunks[i : i + batch_size]
            x, _ = data.gather(sel[:, 0], sel[:, 1])
            probs = forward_probs(model, x.to(device), "strong")  # (B, L, C)
            for a, valid, p in zip(out_first[i : i + batch_size], sel[:, 1], probs, strict=True):
                total[a : a + valid] += p[:valid]
                count[a : a + valid] += 1
    return (total / count).astype(np.float32)


def fast_layout(model: torch.nn.Module) -> torch.nn.Module:
    """The model with its 4-d weights in channels_last: convolutions then produce NHWC activations, on which CPU
    max-pooling, ReLU and batch norm run several times faster than on NCHW (same arithmetic; rounding may differ)."""
    return model.to(memory_format=torch.channels_last)


def predict_clips(model: torch.nn.Module, data: SplitData, batch_size: int, device: torch.device) -> np.ndarray:
    """(n test clips, C) probabilities of the target's output (softmax of "weak" for one class per clip, sigmoid of
    "tags" for clip tags), one example per clip (the split stage lists them in clip order)."""
    out = []
    with torch.inference_mode():
        for x, _ in data.batches("test", batch_size):
            out.append(forward_probs(model, x.to(device), data.target_key))  # (B, C)
    return np.concatenate(out).astype(np.float32)


def predict_run(
    run_dir: Path,
    feature_dir: Path,
    split_dir: Path,
    out_dir: Path,
    model_cfg: dict,
    n_checkpoints: int,
    selection: str,
    batch_size: int,
    device_name: str,
    sets: Sequence[str] = (TEST_SET,),
    threads: int = 1,
) -> list[int]:
    """Predict every evaluation set with each selected checkpoint: out_dir/<set>/epochNNN.npz, and out_dir/selection.json.

    On the CPU, `threads` checkpoints are predicted at once, each by its own copy of the network on one torch thread:
    for these small networks that is faster than one checkpoint on several threads (benchmarks/README.md), and each
    checkpoint's numbers are those of a run on its own.
    """
    history = pd.read_csv(run_dir / "history.csv")
    epochs = select_epochs(history, n_checkpoints, selection)
    if len(epochs) < n_checkpoints:
        log.warning("only %d epochs were trained; evaluating all of them instead of %d", len(epochs), n_checkpoints)
    device = pick_device(device_name)
    data = SplitData.load(feature_dir, split_dir)
    info = read_json(split_dir / "splits.json")
    hop, tail = int(info["hop_frames"]), info.get("tail", "flush")
    frames = read_tsv(feature_dir / "frames.tsv", dtype={"file_id": str})
    assignment = read_tsv(split_dir / "assignment.tsv", dtype={"file_id": str})
    frames = frames.assign(split=frames.file_id.map(dict(zip(assignment.file_id, assignment.split, strict=True))))
    clips = {}
    for name in sets:
        clips[name] = frames[frames.split == name].reset_index(drop=True)
        if clips[name].empty:
            raise fail(split_dir / "assignment.tsv", f"clips in evaluation set {name!r}", "none")
        if name not in data.chunks:
            raise fail(
                split_dir / "chunks.npz", f"chunks of evaluation set {name!r}", f"sets {', '.join(sorted(data.chunks))}"
            )
    model = fast_layout(load_model(run_dir, data.n_mels, data.n_classes, device))
    trained = model_of_run(run_dir)
    if (trained["architecture"], trained["config"]) != constructor_config(model_cfg):
        log.warning(
            "the config's model differs from the one %s was trained as; predicting with the trained one", run_dir
        )
    workers = min(threads, len(epochs)) if device.type == "cpu" else 1
    idle: queue.SimpleQueue[torch.nn.Module] = queue.SimpleQueue()  # one network per worker, each used by one at a time
    for copy in [model] + [deepcopy(model) for _ in range(workers - 1)]:
        idle.put(copy)

    def predict_epoch(epoch: int) -> int:
        net = idle.get()
        try:
            net.load_state_dict(load_checkpoint(run_dir / "checkpoints" / f"epoch{epoch:03d}.pt", device))
            net.eval()
            for name, clip_frames in clips.items():
                probs = _predict_set(net, data, name, clip_frames, hop, tail, batch_size, device)
                _write_predictions(out_dir / name / f"epoch{epoch:03d}.npz", probs, clip_frames, data)
                log.info("predicted %d clips of set %s with epoch %d", len(clip_frames), name, epoch)
        finally:
            idle.put(net)
        return epoch

    for _ in ordered_map(predict_epoch, epochs, workers):
        pass
    write_json(
        out_dir / "selection.json",
        {"selection": selection, "n_checkpoints": n_checkpoints, "epochs": epochs, "sets": list(sets)},
    )
    return epochs


def _predict_set(
    model: torch.nn.Module,
    data: SplitData,
    name: str,
    clip_frames: pd.DataFrame,
    hop: int,
    tail: str,
    batch_size: int,
    device: torch.device,
) -> np.ndarray:
    if data.target in CLIP_TARGETS:
        # predict_clips reads the "test" chunks: hand it this set's (one example per clip, in clip order)
        return predict_clips(model, replace(data, chunks={"test": data.chunks[name]}), batch_size, device)
    return predict_frames(
        model, data, clip_frames.start.to_numpy(), clip_frames.n_frames.to_numpy(), hop, batch_size, device, tail
    )


def _write_predictions(path: Path, probs: np.ndarray, clip_frames: pd.DataFrame, data: SplitData) -> None:
    offsets = np.concatenate([[0], np.cumsum(clip_frames.n_frames.to_numpy())]).astype(np.int64)
    with atomic_path(path, suffix=".npz") as tmp:
        with open(tmp, "wb") as fh:
            np.savez_compressed(
                fh,
                probs=probs,
                offsets=offsets,
                file_ids=clip_frames.file_id.to_numpy(dtype=str),
                hop_s=np.float64(data.frame_hop_s),
                classes=np.asarray(data.classes, dtype=str),
                target=np.asarray(data.target),
            )


def main(args: argparse.Namespace) -> None:
    torch.set_num_threads(args.threads)
    predict_run(
        Path(args.run_dir),
        Path(args.features),
        Path(args.splits),
        Path(args.out),
        args.model,
        args.n_checkpoints,
        args.selection,
        args.batch_size,
        args.device,
        args.sets,
        args.threads,
    )


def build_parser() -> argparse.ArgumentParser:
    p = cli.parser("Predict probabilities of each evaluation set for the selected checkpoints.")
    p.add_argument("--run-dir", required=True)
    p.add_argument("--features", required=True)
    p.add_argument("--splits", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--model", type=cli.json_arg, required=True)
    p.add_argument("--n-checkpoints", type=int, required=True)
    p.add_argument("--selection", required=True)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--device", default="auto")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument(
        "--sets", nargs="+", required=True, help="evaluation sets to predict (the pipeline's evaluation_sets)"
    )
    return p


if __name__ == "__main__":
    cli.run(main, build_parser())
