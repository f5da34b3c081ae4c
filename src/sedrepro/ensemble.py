"""Stage 'ensemble': an ensemble's predictions, the mean of its members' (no training, no model).

Each member's predictions directory holds one folder per evaluation set (<set>/epochNNN.npz, the checkpoints its own
evaluation settings selected) and selection.json, whose "sets" names those folders; members with other sets are
refused. Each set is averaged on its own, pairing checkpoints by position: the ensemble's k-th checkpoint is the mean
of every member's k-th selected checkpoint (in epoch order), so it has as many checkpoints as each member (a member with
a different count, or whose sets hold different epochs, is refused) and its scores are averaged over checkpoints like
a trained run's. Its files are named by that position (<set>/epoch001.npz is the first pair) and its selection.json
lists the sets and which member epochs each checkpoint averages. Probabilities are averaged in float64 and stored as
float32, like the predict stage's.

The predictions layout (which files a directory holds, what each one holds) is read by `read_predictions` and written
by `write_predictions` only: a change of the predict stage's layout is followed here in those two functions.
"""

from __future__ import annotations

import argparse
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import cli
from .evaluate import epoch_files
from .io import InputError, atomic_path, fail, read_json, write_json

log = logging.getLogger(__name__)

# The arrays of one checkpoint's predictions (sedrepro.predict): probs is (frames or clips, classes); the others say
# which clips, frames and classes the rows and columns are and must agree between members.
PROBS = "probs"
DESCRIPTION = ("offsets", "file_ids", "hop_s", "classes", "target")


@dataclass(frozen=True)
class Checkpoint:
    """One checkpoint's predictions: its epoch, file and arrays (probs and the DESCRIPTION arrays)."""

    epoch: int
    path: Path
    arrays: dict[str, np.ndarray]


def read_sets(pred_dir: str | Path) -> list[str]:
    """The evaluation sets of a predictions directory: the "sets" of its selection.json."""
    path = Path(pred_dir) / "selection.json"
    if not path.is_file():
        raise fail(path, "the selection.json of a predictions directory", "no such file")
    sets = read_json(path).get("sets")
    if not isinstance(sets, list) or not sets or not all(isinstance(s, str) and s for s in sets):
        raise fail(path, "a non-empty list of evaluation set names under 'sets'", repr(sets))
    return sets


def read_predictions(pred_dir: str | Path) -> dict[str, list[Checkpoint]]:
    """The checkpoints of a predictions directory as predict_checkpoints writes it (<set>/epochNNN.npz per evaluation
    set of selection.json, one file per selected checkpoint), per set in epoch order; a file without the expected
    arrays is one line naming it."""
    out = {}
    for name in read_sets(pred_dir):
        out[name] = []
        for epoch, path in epoch_files(Path(pred_dir) / name):
            try:
                with np.load(path, allow_pickle=False) as z:
                    arrays = {k: z[k] for k in z.files}
            except (OSError, ValueError) as err:
                raise fail(path, "a predictions .npz", (str(err).splitlines() or [type(err).__name__])[0]) from None
            missing = [k for k in (PROBS, *DESCRIPTION) if k not in arrays]
            if missing:
                raise fail(path, f"arrays {', '.join((PROBS, *DESCRIPTION))}", f"no {', '.join(missing)}")
            out[name].append(Checkpoint(epoch, path, arrays))
    return out


def write_predictions(out_dir: str | Path, arrays: dict[str, list[dict[str, np.ndarray]]], selection: dict) -> None:
    """Each set's checkpoints numbered from 1 (<set>/epoch001.npz, ...), then selection.json (with the sets), each file
    written atomically."""
    out_dir = Path(out_dir)
    for name, checkpoints in arrays.items():
        for k, checkpoint in enumerate(checkpoints, start=1):
            with atomic_path(out_dir / name / f"epoch{k:03d}.npz", suffix=".npz") as tmp:
                with open(tmp, "wb") as fh:
                    np.savez_compressed(fh, **checkpoint)
    write_json(out_dir / "selection.json", {**selection, "sets": list(arrays)})


def _brief(a: np.ndarray) -> str:
    values = a.ravel().tolist()
    return repr(values if len(values) <= 4 else values[:3] + ["..."]) + f" ({a.size} values)"


def _check_same(first: Checkpoint, other: Checkpoint) -> None:
    """Members must predict the same clips, frames and classes: one line naming what differs."""
    for key in DESCRIPTION:
        a, b = first.arrays[key], other.arrays[key]
        if a.shape != b.shape or not np.array_equal(a, b):
            raise fail(other.path, f"the {key} of {first.path}, {_brief(a)}", _brief(b))
    if first.arrays[PROBS].shape != other.arrays[PROBS].shape:
        raise fail(
            other.path,
            f"probs of shape {first.arrays[PROBS].shape} as in {first.path}",
            f"shape {other.arrays[PROBS].shape}",
        )


def average(members: list[list[Checkpoint]]) -> list[dict[str, np.ndarray]]:
    """The k-th checkpoint of the ensemble: the mean of the members' k-th probs, with the first member's description."""
    counts = [len(m) for m in members]
    if len(set(counts)) != 1:
        where = members[counts.index(min(counts))][0].path.parent
        raise fail(
            where,
            f"as many selected checkpoints as the other members ({max(counts)})",
            f"{min(counts)} (their k-th checkpoints are averaged together)",
        )
    out = []
    for paired in zip(*members, strict=True):
        for other in paired[1:]:
            _check_same(paired[0], other)
        mean = np.mean([c.arrays[PROBS].astype(np.float64) for c in paired], axis=0)
        out.append({**{k: paired[0].arrays[k] for k in DESCRIPTION}, PROBS: mean.astype(np.float32)})
    return out


def _epochs(pred_dir: str | Path, checkpoints: dict[str, list[Checkpoint]]) -> list[int]:
    """The member's selected epochs, the same in every set (the ensemble's k-th checkpoint pairs the same ones)."""
    sets = list(checkpoints)
    epochs = [c.epoch for c in checkpoints[sets[0]]]
    for name in sets[1:]:
        these = [c.epoch for c in checkpoints[name]]
        if these != epochs:
            raise fail(Path(pred_dir) / name, f"the epochs of set {sets[0]!r} ({epochs})", f"epochs {these}")
    return epochs


def average_predictions(member_dirs: list[str | Path], out_dir: str | Path) -> dict:
    """Write the ensemble's predictions directory; returns its selection.json document."""
    if len(member_dirs) < 2:
        raise InputError(
            f"--members: expected the predictions directories of at least 2 members, found {len(member_dirs)}"
        )
    sets = read_sets(member_dirs[0])
    for d in member_dirs[1:]:
        these = read_sets(d)
        if set(these) != set(sets):
            raise fail(
                Path(d) / "selection.json",
                f"the evaluation sets of {member_dirs[0]} ({', '.join(sets)})",
                f"sets {', '.join(these)}",
            )
    members = [read_predictions(d) for d in member_dirs]
    epochs = [_epochs(d, m) for d, m in zip(member_dirs, members, strict=True)]
    arrays = {name: average([m[name] for m in members]) for name in sets}
    n = len(arrays[sets[0]])
    selection = {
        "selection": "ensemble",
        "pairing": "checkpoint k averages the k-th selected checkpoint (in epoch order) of every member, in each set",
        "n_checkpoints": n,
        "epochs": list(range(1, n + 1)),
        "sets": sets,
        "members": [
            {"predictions": str(d), "epochs": e, "selection": _selection(d)}
            for d, e in zip(member_dirs, epochs, strict=True)
        ],
    }
    write_predictions(out_dir, arrays, selection)
    for k, paired in enumerate(zip(*epochs, strict=True), start=1):
        log.info("checkpoint %d (sets %s): mean of epochs %s", k, ", ".join(sets), ", ".join(map(str, paired)))
    return selection


def _selection(pred_dir: str | Path) -> str | None:
    """How the member chose its checkpoints (its selection.json, which read_sets required), for the record."""
    return read_json(Path(pred_dir) / "selection.json").get("selection")


def main(args: argparse.Namespace) -> None:
    average_predictions(args.members, args.out)


def build_parser() -> argparse.ArgumentParser:
    p = cli.parser("Average the predictions of an ensemble's members (one predictions directory per member).")
    p.add_argument("--members", nargs="+", required=True, help="the members' predictions directories")
    p.add_argument("--out", required=True, help="the ensemble's predictions directory")
    return p


if __name__ == "__main__":
    cli.run(main, build_parser())
