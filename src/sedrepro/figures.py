"""Rebuild a paper's figures from data: dataset histograms from the index, training curves from history.csv files.

The figures a paper has are its ``Paper.figures`` (``papers.FigureSpec``). Every figure is
drawn from the given files only; its title says which figure of the paper it reproduces and which data it shows.

CLI: python -m sedrepro.figures --paper P --figure figureN [--index DIR] [--history H ...] --data-note TEXT --out F.png
History files are read from the run-folder layout results/runs/<dataset>/<model>/seed<N>/history.csv, which names
their model and seed.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from . import cli, papers, provenance
from .io import atomic_path, fail, read_tsv

log = logging.getLogger("sedrepro.figures")

KINDS = papers.FIGURE_KINDS
HISTORY_COLUMNS = ("epoch", "train_loss", "val_loss")
SPLIT_STYLE = {"train": "--", "val": "-"}
SPLIT_NAME = {"train": "train", "val": "validation"}
DURATION_BIN_S = 0.1  # Figure 1: clips are at most 4 s long


def figure_spec(paper: str, name: str) -> papers.FigureSpec:
    return papers.get(paper).figure(name)


def clip_durations(index_dir: str | Path) -> np.ndarray:
    """Duration of every audio file of the index (files.tsv duration_s); where the index was built without audio
    (duration_s empty), the span of the clip's events instead (UrbanSound8K: one whole-clip event per clip)."""
    index_dir = Path(index_dir)
    files = read_tsv(index_dir / "files.tsv", dtype={"file_id": str})
    if "duration_s" not in files.columns:
        raise fail(index_dir / "files.tsv", "a duration_s column", f"columns {list(files.columns)}")
    durations = files.set_index("file_id")["duration_s"].astype(float)
    if durations.isna().any():
        events = read_tsv(index_dir / "events.tsv", dtype={"file_id": str})
        span = events.groupby("file_id")["offset"].max() - events.groupby("file_id")["onset"].min()
        durations = durations.fillna(span)
    if durations.isna().any():
        raise fail(
            index_dir,
            "a duration for every file (audio or events)",
            f"none for {durations[durations.isna()].index[0]!r}",
        )
    return durations.to_numpy()


def event_durations(index_dir: str | Path) -> pd.DataFrame:
    """label and duration (offset - onset) of every event of the index."""
    events = read_tsv(Path(index_dir) / "events.tsv", dtype={"file_id": str, "label": str})
    return pd.DataFrame({"label": events["label"], "duration": events["offset"] - events["onset"]})


def run_of(path: str | Path) -> tuple[str, int]:
    """(model, seed) of a history.csv from its run folder .../<model>/seed<N>/history.csv."""
    p = Path(path)
    m = re.fullmatch(r"seed(\d+)", p.parent.name)
    if m is None or not p.parent.parent.name:
        raise fail(path, "a run file .../<model>/seed<N>/history.csv", repr(str(path)))
    return p.parent.parent.name, int(m.group(1))


def read_histories(paths: Sequence[str | Path], metrics: Sequence[str]) -> dict[tuple[str, int], pd.DataFrame]:
    """history.csv files keyed by (model, seed), checked to hold epoch and train_/val_ columns of each metric."""
    out = {}
    for p in paths:
        df = pd.read_csv(p)
        need = list(HISTORY_COLUMNS) + [f"{s}_{m}" for m in metrics for s in SPLIT_STYLE]
        missing = [c for c in need if c not in df.columns]
        if missing:
            raise fail(f"{p}:1", f"history columns {', '.join(need)}", f"a header without {', '.join(missing)}")
        if df.empty:
            raise fail(p, "at least one epoch", "none")
        key = run_of(p)
        if key in out:
            raise fail(p, "one history per (model, seed)", f"a second one for {key}")
        out[key] = df
    return out


def _title(spec, data_note: str, detail: str, width: int = 95) -> str:
    """Wrapped so that no line runs past a single-panel figure's edge."""
    import textwrap

    number = spec.name.replace("figure", "Figure ")
    lines = [f"Reproduction of {number}: {spec.caption}", f"{detail}; data: {data_note}"]
    return "\n".join(textwrap.fill(line, width) for line in lines)


def _best_epoch(df: pd.DataFrame) -> int:
    """The checkpoint the paper keeps: lowest validation loss."""
    return int(df.loc[df["val_loss"].idxmin(), "epoch"])


def draw(
    spec,
    data_note: str,
    out: str | Path,
    index_dir: str | Path | None = None,
    histories: dict[tuple[str, int], pd.DataFrame] | None = None,
) -> None:
    """Draw one figure of `spec.kind` from the index (histograms) or the training histories (curves)."""
    fig = build(spec, data_note, index_dir, histories)
    import matplotlib.pyplot as plt  # after build() chose the Agg backend

    with atomic_path(out, suffix=".png") as tmp:
        fig.savefig(tmp, format="png", dpi=110, metadata={"Software": None})
    plt.close(fig)


def build(
    spec,
    data_note: str,
    index_dir: str | Path | None = None,
    histories: dict[tuple[str, int], pd.DataFrame] | None = None,
):
    """The matplotlib figure that draw() writes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if spec.kind not in KINDS:
        raise fail(f"figure {spec.name}", f"a kind among {', '.join(KINDS)}", repr(spec.kind))
    if spec.kind in ("clip_durations", "event_durations"):
        if index_dir is None:
            raise fail(f"figure {spec.name}", "--index (a dataset index folder)", "none")
        fig, ax = plt.subplots(figsize=(7.5, 4.5))
        if spec.kind == "clip_durations":
            d = clip_durations(index_dir)
            bins = np.arange(0.0, math.ceil(d.max() / DURATION_BIN_S) * DURATION_BIN_S + DURATION_BIN_S, DURATION_BIN_S)
            ax.hist(d, bins=bins, color="#4c72b0")
            ax.set_xlabel("clip duration (s)")
            ax.set_ylabel("number of clips")
            detail = f"{len(d)} clips, median {np.median(d):.2f} s, shortest {d.min():.2f} s, longest {d.max():.2f} s"
        else:
            ev = event_durations(index_dir)
            ax.hist(ev["duration"], bins=50, color="#4c72b0")
            ax.set_yscale("log")
            ax.set_xlabel("event duration (s)")
            ax.set_ylabel("number of events (log)")
            detail = f"{len(ev)} events in {ev['label'].nunique()} classes, median {ev['duration'].median():.2f} s"
        ax.grid(alpha=0.3)
        ax.set_title(_title(spec, data_note, detail), fontsize=9, loc="left")
    else:
        histories = histories or {}
        wanted = [m for _, m in spec.models]
        got = sorted({m for m, _ in histories})
        missing = [m for m in wanted if m not in got]
        if missing or set(got) - set(wanted):
            raise fail(
                f"figure {spec.name}", f"histories of exactly {', '.join(wanted)}", f"models {', '.join(got) or 'none'}"
            )
        fig = _curves(plt, spec, histories) if spec.kind == "curves" else _compare(plt, spec, histories)
        seeds = sorted({s for _, s in histories})
        word = "seed" if len(seeds) == 1 else "seeds"
        fig.suptitle(
            _title(spec, data_note, f"{word} {', '.join(map(str, seeds))}; dotted line = lowest validation loss"),
            fontsize=9,
            x=0.01,
            ha="left",
        )
    fig.tight_layout()
    return fig


def _epoch_axis(ax) -> None:
    """Integer epoch ticks; the legend beside the panel, where it covers no curve."""
    from matplotlib.ticker import MaxNLocator

    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)


def _curves(plt, spec, histories):
    """One row per model, one panel per metric: train and validation curves of every seed."""
    fig, axes = plt.subplots(
        len(spec.models),
        len(spec.metrics),
        figsize=(8.2 * len(spec.metrics), 3.8 * len(spec.models) + 0.8),
        squeeze=False,
    )
    for row, (header, model) in enumerate(spec.models):
        for col, metric in enumerate(spec.metrics):
            ax = axes[row][col]
            for (m, seed), df in sorted(histories.items()):
                if m != model:
                    continue
                for split, style in SPLIT_STYLE.items():
                    ax.plot(df["epoch"], df[f"{split}_{metric}"], style, label=f"{SPLIT_NAME[split]} (seed {seed})")
                ax.axvline(_best_epoch(df), color="grey", linestyle=":", linewidth=1)
            ax.set_title(f"{header} ({model}): {metric}", fontsize=10)
            ax.set_ylabel(metric)
            ax.grid(alpha=0.3)
            _epoch_axis(ax)
    return fig


def _compare(plt, spec, histories):
    """One panel per metric: every model's train (dashed) and validation (solid) curves."""
    fig, axes = plt.subplots(1, len(spec.metrics), figsize=(10.5 * len(spec.metrics), 4.8), squeeze=False)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for col, metric in enumerate(spec.metrics):
        ax = axes[0][col]
        for i, (header, model) in enumerate(spec.models):
            for (m, seed), df in sorted(histories.items()):
                if m != model:
                    continue
                for split, style in SPLIT_STYLE.items():
                    ax.plot(
                        df["epoch"],
                        df[f"{split}_{metric}"],
                        style,
                        color=colours[i % len(colours)],
                        label=f"{header}: {SPLIT_NAME[split]} (seed {seed})",
                    )
                ax.axvline(_best_epoch(df), color=colours[i % len(colours)], linestyle=":", linewidth=1)
        ax.set_ylabel(metric)
        ax.grid(alpha=0.3)
        _epoch_axis(ax)
    return fig


def build_parser():
    p = cli.parser("Rebuild one figure of a paper from the dataset index or training histories.")
    p.add_argument("--paper", required=True, help=f"one of {', '.join(papers.names())}")
    p.add_argument("--figure", required=True, help="figure name of the paper, e.g. figure9")
    p.add_argument("--index", help="dataset index folder (files.tsv, events.tsv) for histogram figures; empty: none")
    p.add_argument("--history", nargs="*", default=[], help="history.csv files of the runs, for training-curve figures")
    p.add_argument("--data-note", required=True, help="which data the figure comes from (embedded synthetic or real)")
    p.add_argument("--out", required=True, help="PNG to write")
    return p


def main(args) -> None:
    spec = figure_spec(args.paper, args.figure)
    histories = read_histories(args.history, spec.metrics) if args.history else None
    draw(spec, args.data_note, args.out, args.index or None, histories)  # "" from the rule: no index
    inputs = list(args.history) or [str(Path(args.index) / name) for name in ("files.tsv", "events.tsv")]
    provenance.write_sidecar(
        args.out, {"paper": args.paper, "figure": args.figure, "data_note": args.data_note}, inputs=inputs
    )
    log.info("wrote %s", args.out)


__all__ = [
    "KINDS",
    "figure_spec",
    "clip_durations",
    "event_durations",
    "run_of",
    "read_histories",
    "draw",
    "build",
    "main",
]

if __name__ == "__main__":
    cli.run(main, build_parser())
