"""Rebuild a paper's figures from data: dataset histograms from the index, training curves from history.csv files,
class-wise scores from metrics.json.

The figures a paper has are its ``Paper.figures`` (``papers.FigureSpec``); what a figure of each kind draws, and from
which inputs, is a `FigureKind` of the ``KINDS`` registry (a paper or plugin module registers its own kinds with
`register_kind`). The workflow's plot_figure rule gives a figure the inputs its kind declares (FIGURE_INPUTS) and
nothing else. Every figure is drawn from the given files only; its title says which figure of the paper it reproduces
and which data it shows.

CLI: python -m sedrepro.figures --paper P --figure figureN [--index DIR] [--history H ...] [--metrics M ...]
[--checkpoints DIR ...] [--features F ...] --data-note TEXT --out F.png
History and metrics files are read from the run-folder layout results/runs/<dataset>/<model>/seed<N>/, which names
their model and seed.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import pandas as pd

from . import cli, provenance, results
from .io import atomic_path, fail, read_tsv
from .metrics import METRICS
from .registry import Registry

if TYPE_CHECKING:  # papers imports this module when it defines a figure: no import of papers at the top
    from .papers import FigureSpec

log = logging.getLogger("sedrepro.figures")

HISTORY_COLUMNS = ("epoch", "train_loss", "val_loss")
SPLIT_STYLE = {"train": "--", "val": "-"}
SPLIT_NAME = {"train": "train", "val": "validation"}
DURATION_BIN_S = 0.1  # Figure 1: clips are at most 4 s long
# What a figure kind may read (the plot_figure rule's inputs, sedrepro.workflow.figure_inputs): the dataset index,
# every run's history.csv or metrics.json, its checkpoints folder, the features of its pipeline.
FIGURE_INPUTS = ("index", "history", "metrics", "checkpoints", "features")
# Inputs of the figure's runs (one per model and seed); the index is the dataset's.
RUN_INPUTS = ("history", "metrics", "checkpoints", "features")


class FigureData(NamedTuple):
    """What a figure is drawn from: only the inputs its kind declares are given."""

    index_dir: Path | None = None
    histories: dict[tuple[str, int], pd.DataFrame] | None = None
    metrics: Sequence[dict] = ()  # metrics.json documents (sedrepro.results)
    checkpoints: Sequence[Path] = ()  # run checkpoints folders
    features: Sequence[Path] = ()  # feature files of the runs' pipelines
    params: dict[str, Any] = {}  # the figure's config settings, checked and filled by its kind (FigureKind.params)


@dataclass(frozen=True)
class FigureKind:
    """One kind of figure.

    name: the FigureSpec kind.
    inputs: what it reads, from FIGURE_INPUTS (the workflow gives a figure these and no other).
    check(spec, where): stops a FigureSpec whose fields do not fit the kind with one line (called when it is defined).
    draw(plt, spec, data, data_note): the matplotlib figure, its title included.
    params(settings, where): the figure's config settings (config `figures/<paper>/<figure>`, {} when unset) checked
        with one line naming `where` and filled with the kind's defaults; None: a kind without settings.
    """

    name: str
    inputs: tuple[str, ...]
    check: Callable[[Any, str], None]
    draw: Callable[[Any, Any, FigureData, str], Any]
    params: Callable[[dict, str], dict] | None = None

    def settings(self, given: dict | None, where: str) -> dict:
        """The figure's settings: `given` checked and filled by `params`; a kind without settings accepts none."""
        if self.params is None:
            if given:
                raise fail(where, f"no settings (figure kind {self.name!r} has none)", ", ".join(sorted(given)))
            return {}
        return self.params(dict(given or {}), where)

    def __post_init__(self) -> None:
        unknown = [i for i in self.inputs if i not in FIGURE_INPUTS]
        if not self.inputs or unknown:
            raise ValueError(f"figure kind {self.name!r}: inputs among {', '.join(FIGURE_INPUTS)}, got {self.inputs}")


KINDS: Registry[FigureKind] = Registry("figure kind")


def register_kind(kind: FigureKind) -> FigureKind:
    """Add a figure kind to KINDS under its own name (a paper or plugin module calls this on import)."""
    if not isinstance(kind, FigureKind):
        raise TypeError(f"figures.register_kind takes a FigureKind, got {type(kind).__name__}")
    return KINDS.register(kind.name, kind)


def figure_spec(paper: str, name: str) -> FigureSpec:
    from . import papers

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
    """history.csv files keyed by (model, seed), checked to hold epoch and val_ columns of each metric (train_ ones
    are drawn where training records them: not the validation-only ranking scores auc and ap)."""
    out = {}
    for p in paths:
        df = pd.read_csv(p)
        need = list(HISTORY_COLUMNS) + [f"val_{m}" for m in metrics]
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
    data: FigureData | None = None,
) -> None:
    """Draw one figure of `spec.kind` from its inputs (`data`, or the index / histories alone) as a PNG."""
    fig = build(spec, data_note, index_dir, histories, data)
    import matplotlib.pyplot as plt  # after build() chose the Agg backend

    with atomic_path(out, suffix=".png") as tmp:
        fig.savefig(tmp, format="png", dpi=110, metadata={"Software": None})
    plt.close(fig)


def build(
    spec,
    data_note: str,
    index_dir: str | Path | None = None,
    histories: dict[tuple[str, int], pd.DataFrame] | None = None,
    data: FigureData | None = None,
):
    """The matplotlib figure that draw() writes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    kind = KINDS.get(spec.kind, f"figure {spec.name} kind")
    data = data or FigureData(index_dir=None if index_dir is None else Path(index_dir), histories=histories)
    if "index" in kind.inputs and data.index_dir is None:
        raise fail(f"figure {spec.name}", "--index (a dataset index folder)", "none")
    fig = kind.draw(plt, spec, data, data_note)
    fig.tight_layout()
    return fig


def _histogram(plt, spec, data: FigureData, data_note: str, what: str):
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    if what == "clip":
        d = clip_durations(data.index_dir)
        bins = np.arange(0.0, math.ceil(d.max() / DURATION_BIN_S) * DURATION_BIN_S + DURATION_BIN_S, DURATION_BIN_S)
        ax.hist(d, bins=bins, color="#4c72b0")
        ax.set_xlabel("clip duration (s)")
        ax.set_ylabel("number of clips")
        detail = f"{len(d)} clips, median {np.median(d):.2f} s, shortest {d.min():.2f} s, longest {d.max():.2f} s"
    else:
        ev = event_durations(data.index_dir)
        ax.hist(ev["duration"], bins=50, color="#4c72b0")
        ax.set_yscale("log")
        ax.set_xlabel("event duration (s)")
        ax.set_ylabel("number of events (log)")
        detail = f"{len(ev)} events in {ev['label'].nunique()} classes, median {ev['duration'].median():.2f} s"
    ax.grid(alpha=0.3)
    ax.set_title(_title(spec, data_note, detail), fontsize=9, loc="left")
    return fig


def _check_models(spec, where: str) -> None:
    """The figure's runs, (label, config model name) each."""
    if not spec.models or not all(
        isinstance(m, tuple) and len(m) == 2 and all(isinstance(s, str) and s for s in m) for m in spec.models
    ):
        raise fail(where, f"models as (label, config model name) for {spec.kind!r}", repr(spec.models))


def _check_histogram(spec, where: str) -> None:
    if spec.models or spec.metrics:
        raise fail(
            where,
            f"no models or metrics for a {spec.kind} histogram (it reads the index)",
            f"models {spec.models}, metrics {spec.metrics}",
        )


def _check_history(spec, where: str) -> None:
    from .papers import HISTORY_METRICS

    if not (spec.models or spec.sweep) or not spec.metrics:
        raise fail(
            where, f"models (or a sweep) and metrics for {spec.kind!r}", f"models {spec.models}, metrics {spec.metrics}"
        )
    if spec.models:
        _check_models(spec, where)
    for metric in spec.metrics:
        if metric not in HISTORY_METRICS:
            raise fail(where, f"history metrics among {', '.join(HISTORY_METRICS)}", repr(metric))


def _history_figure(plt, spec, data: FigureData, data_note: str, panels: Callable):
    histories = data.histories or {}
    got = sorted({m for m, _ in histories})
    runs = spec.runs(got)  # a sweep's runs: those whose histories the workflow gave (the config's values)
    if spec.sweep and len(runs) == len(spec.models):
        raise fail(f"figure {spec.name}", f"histories of the runs of sweep {spec.sweep[0]!r}", "none")
    spec = replace(spec, models=runs, sweep=None)
    wanted = [m for _, m in spec.models]
    missing = [m for m in wanted if m not in got]
    if missing or set(got) - set(wanted):
        raise fail(
            f"figure {spec.name}", f"histories of exactly {', '.join(wanted)}", f"models {', '.join(got) or 'none'}"
        )
    fig = panels(plt, spec, histories)
    seeds = sorted({s for _, s in histories})
    word = "seed" if len(seeds) == 1 else "seeds"
    fig.suptitle(
        _title(spec, data_note, f"{word} {', '.join(map(str, seeds))}; dotted line = lowest validation loss"),
        fontsize=9,
        x=0.01,
        ha="left",
    )
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
                    if f"{split}_{metric}" in df.columns:
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
                    if f"{split}_{metric}" not in df.columns:
                        continue
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


def _check_classwise(spec, where: str) -> None:
    _check_models(spec, where)
    if len(spec.models) < 2:
        raise fail(where, "two or more models to compare class by class", f"{len(spec.models)}")
    if len(spec.metrics) != 1 or not METRICS.get(spec.metrics[0], f"{where} metrics").per_class:
        raise fail(where, "one registered per-class metric for a classwise figure", repr(spec.metrics))


def classwise_values(spec, docs: Sequence[dict]) -> pd.DataFrame:
    """Per class (the runs' classes, in their order) and model: mean and population std of the spec's per-class
    metric on its evaluation set over every (seed, checkpoint), as a table cell is (sedrepro.results.cell)."""
    metric, wanted = spec.metrics[0], [m for _, m in spec.models]
    got = sorted({d["model"] for d in docs})
    if sorted(wanted) != got:
        raise fail(
            f"figure {spec.name}", f"metrics files of exactly {', '.join(wanted)}", f"models {', '.join(got) or 'none'}"
        )
    classes = list(docs[0]["classes"])
    for d in docs:
        where = d.get("_path", f"metrics of {d['model']!r}")
        if d["dataset"] != spec.dataset:
            raise fail(where, f"dataset {spec.dataset!r} for {spec.name}", repr(d["dataset"]))
        if list(d["classes"]) != classes:
            raise fail(where, f"the classes of the other metrics files ({', '.join(classes)})", repr(d["classes"]))
    records = []
    for label, model in spec.models:
        runs = [d for d in docs if d["model"] == model]
        for key in classes:
            mean, std = results.cell(runs, metric, spec.evaluation_set, key)
            records.append({"class": key, "model": label, "mean": mean, "std": std, "runs": len(runs)})
    return pd.DataFrame.from_records(records)


def _classwise(plt, spec, data: FigureData, data_note: str):
    """Grouped bars: one group per class, one bar per model (mean ± std over seeds and checkpoints)."""
    values = classwise_values(spec, data.metrics)
    classes = list(dict.fromkeys(values["class"]))
    labels = [label for label, _ in spec.models]
    width = 0.8 / len(labels)
    fig, ax = plt.subplots(figsize=(max(7.5, 0.9 * len(classes) * max(1, len(labels) / 2) + 2), 4.8))
    x = np.arange(len(classes))
    for i, label in enumerate(labels):
        sub = values[values["model"] == label].set_index("class").reindex(classes)
        mean, std = sub["mean"].to_numpy(dtype=float), sub["std"].to_numpy(dtype=float)
        pos = x - 0.4 + width * (i + 0.5)
        defined = ~np.isnan(mean)
        ax.bar(
            pos[defined],
            mean[defined],
            width=width,
            label=label,
            yerr=std[defined],
            error_kw={"elinewidth": 0.8, "capsize": 2},
        )
        for p in pos[~defined]:  # a class without a value is labelled, not drawn as 0
            ax.text(p, 0, "n/a", ha="center", va="bottom", fontsize=6, rotation=90)
    metric = METRICS.get(spec.metrics[0])
    ax.set_xticks(x, classes, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel(f"{spec.metrics[0]} ({metric.unit})")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
    runs = sorted({int(d["seed"]) for d in data.metrics})
    detail = (
        f"{spec.metrics[0]} on evaluation set {spec.evaluation_set!r}, mean \u00b1 std over seeds "
        f"{', '.join(map(str, runs))} and their scored checkpoints"
    )
    ax.set_title(_title(spec, data_note, detail), fontsize=9, loc="left")
    return fig


for _kind in (
    FigureKind("clip_durations", ("index",), _check_histogram, lambda plt, s, d, n: _histogram(plt, s, d, n, "clip")),
    FigureKind("event_durations", ("index",), _check_histogram, lambda plt, s, d, n: _histogram(plt, s, d, n, "event")),
    FigureKind("curves", ("history",), _check_history, lambda plt, s, d, n: _history_figure(plt, s, d, n, _curves)),
    FigureKind("compare", ("history",), _check_history, lambda plt, s, d, n: _history_figure(plt, s, d, n, _compare)),
    FigureKind("classwise", ("metrics",), _check_classwise, _classwise),
):
    register_kind(_kind)


def build_parser():
    from . import papers

    p = cli.parser("Rebuild one figure of a paper from the inputs its kind declares.")
    p.add_argument("--paper", required=True, help=f"one of {', '.join(papers.names())}")
    p.add_argument("--figure", required=True, help="figure name of the paper, e.g. figure9")
    p.add_argument("--index", help="dataset index folder (files.tsv, events.tsv) for histogram figures; empty: none")
    p.add_argument("--history", nargs="*", default=[], help="history.csv files of the runs, for training-curve figures")
    p.add_argument("--metrics", nargs="*", default=[], help="metrics.json files of the runs, for figures of scores")
    p.add_argument("--checkpoints", nargs="*", default=[], help="checkpoints folders of the runs")
    p.add_argument("--features", nargs="*", default=[], help="feature files of the runs' pipelines")
    p.add_argument("--data-note", required=True, help="which data the figure comes from (embedded synthetic or real)")
    p.add_argument(
        "--params",
        type=cli.json_arg,
        default={},
        help="JSON: the figure's config settings (figures/<paper>/<figure>), checked by its kind; default none",
    )
    p.add_argument("--out", required=True, help="PNG to write")
    return p


def main(args) -> None:
    spec = figure_spec(args.paper, args.figure)
    kind = KINDS.get(spec.kind, f"figure {spec.name} kind")
    given = {
        "index": [args.index] if args.index else [],  # "" from the rule: no index
        "history": list(args.history),
        "metrics": list(args.metrics),
        "checkpoints": list(args.checkpoints),
        "features": list(args.features),
    }
    for role, paths in given.items():
        if paths and role not in kind.inputs:
            raise fail(f"figure {spec.name}", f"only the inputs of kind {spec.kind!r} ({', '.join(kind.inputs)})", role)
    data = FigureData(
        index_dir=Path(args.index) if args.index else None,
        histories=read_histories(args.history, spec.metrics) if args.history else None,
        metrics=[results.load(p) for p in args.metrics],
        checkpoints=[Path(p) for p in args.checkpoints],
        features=[Path(p) for p in args.features],
        params=kind.settings(args.params, f"config key 'figures/{args.paper}/{args.figure}'"),
    )
    draw(spec, args.data_note, args.out, data=data)
    inputs = [str(Path(args.index) / name) for name in ("files.tsv", "events.tsv")] if args.index else []
    inputs += list(args.history) + list(args.metrics) + list(args.features)
    provenance.write_sidecar(
        args.out,
        {"paper": args.paper, "figure": args.figure, "data_note": args.data_note, "params": data.params},
        inputs=inputs,
    )
    log.info("wrote %s", args.out)


__all__ = [
    "KINDS",
    "FIGURE_INPUTS",
    "FigureKind",
    "FigureData",
    "register_kind",
    "figure_spec",
    "clip_durations",
    "event_durations",
    "run_of",
    "read_histories",
    "classwise_values",
    "draw",
    "build",
    "main",
]

if __name__ == "__main__":
    # `python -m` runs this file as __main__, a second copy with its own KINDS; the kinds papers and plugins register
    # (and the built-in ones) are in the package's sedrepro.figures, so run that module's main
    from sedrepro import figures as _package

    cli.run(_package.main, _package.build_parser())
