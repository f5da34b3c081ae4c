"""Per-split, per-class statistics of a dataset index (files, events, durations, polyphony) as CSV and Markdown.

CLI: python -m sedrepro.datasets.stats --dataset NAME --index DIR --data-note TEXT --md OUT.md --html OUT.html
     --csv OUT.csv [--log FILE]
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from .. import cli, page, provenance
from ..io import write_csv, write_text
from . import get
from .base import NOTES_FILE, DatasetIndex, DatasetSpec, read_notes

log = logging.getLogger(__name__)
STATS_COLUMNS: tuple[str, ...] = ("split", "class", "files", "events", "mean_event_s", "total_event_s", "max_polyphony")


def max_polyphony_per_file(events: pd.DataFrame, by_class: bool = False) -> pd.Series:
    """Maximum number of simultaneously active events per file (per (file, label) with by_class).

    Sweep over onsets (+1) and offsets (-1) sorted by time, offsets first on ties, so an event ending exactly when
    another starts does not overlap it (intervals are half-open). Each group's +1s and -1s cancel, so one global
    cumulative sum restarts at 0 at every group boundary and no per-group loop is needed.
    """
    keys = ["file_id", "label"] if by_class else ["file_id"]
    if events.empty:
        return pd.Series(
            dtype=int, index=pd.MultiIndex.from_tuples([], names=keys) if by_class else pd.Index([], name="file_id")
        )
    group = events.groupby(keys, sort=True).ngroup().to_numpy()
    onsets = events["onset"].to_numpy(dtype=float)
    offsets = events["offset"].to_numpy(dtype=float)
    g = np.concatenate([group, group])
    t = np.concatenate([onsets, offsets])
    d = np.concatenate([np.ones(len(onsets), dtype=np.int64), -np.ones(len(offsets), dtype=np.int64)])
    order = np.lexsort((d, t, g))  # last key is primary: group, then time, then -1 before +1
    level = np.cumsum(d[order])
    g_sorted = g[order]
    starts = np.flatnonzero(np.r_[True, g_sorted[1:] != g_sorted[:-1]])
    peaks = np.maximum.reduceat(level, starts)
    labels = events.groupby(keys, sort=True).size().index
    return pd.Series(peaks.astype(int), index=labels, name="max_polyphony")


def describe(spec: DatasetSpec, index: DatasetIndex) -> pd.DataFrame:
    """Tidy table, one row per (split, class) plus split "all" and class "all" rows; columns STATS_COLUMNS."""
    files = index.files
    events = index.events.merge(files[["file_id", "split"]], on="file_id", how="left", validate="many_to_one")
    events = events.assign(length=events["offset"] - events["onset"])
    poly_file = max_polyphony_per_file(index.events)
    poly_class = max_polyphony_per_file(index.events, by_class=True)
    splits = [s for s in spec.splits if (files["split"] == s).any()]
    rows = []
    for split in [*splits, "all"]:
        in_split = files if split == "all" else files[files["split"] == split]
        ev_split = events if split == "all" else events[events["split"] == split]
        ids = set(in_split["file_id"])
        for cls in [*spec.classes, "all"]:
            ev = ev_split if cls == "all" else ev_split[ev_split["label"] == cls]
            if cls == "all":
                n_files = len(in_split)
                poly = poly_file[poly_file.index.isin(ids)]
            else:
                n_files = ev["file_id"].nunique()
                sel = (
                    poly_class.xs(cls, level="label")
                    if cls in poly_class.index.get_level_values("label")
                    else pd.Series(dtype=int)
                )
                poly = sel[sel.index.isin(ids)]
            rows.append(
                {
                    "split": split,
                    "class": cls,
                    "files": int(n_files),
                    "events": int(len(ev)),
                    "mean_event_s": float(ev["length"].mean()) if len(ev) else float("nan"),
                    "total_event_s": float(ev["length"].sum()),
                    "max_polyphony": int(poly.max()) if len(poly) else 0,
                }
            )
    return pd.DataFrame(rows, columns=list(STATS_COLUMNS))


def _num(x: float, digits: int = 2) -> str:
    return "–" if pd.isna(x) else f"{x:,.{digits}f}"


def stats_page(
    spec: DatasetSpec, df: pd.DataFrame, data_note: str, index_notes: dict | None = None
) -> list[page.Block]:
    """Which data it describes, a per-split summary table, then a per-class table (events and mean length per split),
    then with `index_notes` (the index's index.json) the clips listed / present / missing per subset and what the
    dataset's parser recorded (versions, quirks handled with their counts).

    data_note (the workflow's, as on the tables) says whether the data is the embedded stand-in or real, and names the
    archives or the local folder it comes from: the version is the data's, not this module's.
    """
    splits = [s for s in df["split"].unique() if s != "all"] + ["all"]
    summary = df[df["class"] == "all"].set_index("split")
    split_rows = [
        [
            s,
            f"{summary.at[s, 'files']:,}",
            f"{summary.at[s, 'events']:,}",
            _num(summary.at[s, "events"] / summary.at[s, "files"] if summary.at[s, "files"] else float("nan")),
            _num(summary.at[s, "mean_event_s"]),
            _num(summary.at[s, "total_event_s"] / 3600, 3),
            str(summary.at[s, "max_polyphony"]),
        ]
        for s in splits
    ]
    per = df.set_index(["split", "class"])
    class_rows = []
    for cls in [*spec.classes, "all"]:
        row = [cls] + [f"{per.at[(s, cls), 'events']:,} ({per.at[(s, cls), 'files']:,})" for s in splits]
        row += [_num(per.at[("all", cls), "mean_event_s"]), str(per.at[("all", cls), "max_polyphony"])]
        class_rows.append(row)
    return [*_main_blocks(spec, data_note, split_rows, class_rows, splits), *_index_blocks(index_notes)]


def _main_blocks(spec: DatasetSpec, data_note: str, split_rows: list, class_rows: list, splits: list) -> list:
    return [
        page.Heading(1, f"Dataset statistics: {spec.name}"),
        page.Paragraph(f"Data: {data_note}."),
        page.Paragraph(
            f"{len(spec.classes)} classes. Event lengths in seconds; polyphony = maximum number of "
            "simultaneously active events in one file."
        ),
        page.Heading(2, "Per split"),
        page.Table(
            ["split", "files", "events", "events/file", "mean event s", "total event h", "max polyphony"],
            split_rows,
            "-rrrrrr",
        ),
        page.Heading(2, "Per class"),
        page.Paragraph("Cells: events (files with the class); the last columns cover all splits."),
        page.Table(
            ["class", *splits, "mean event s (all)", "max same-class overlap (all)"],
            class_rows,
            "-" + "r" * (len(splits) + 2),
        ),
    ]


def _index_blocks(index_notes: dict | None) -> list[page.Block]:
    """The manifest's counts per subset and the parser's notes (nested values written as key: value lists)."""
    if index_notes is None:
        return []
    counts = index_notes["subsets"]
    rows = [
        [s, f"{c['listed']:,}", f"{c['present']:,}", f"{c['missing']:,}", f"{c['unlisted']:,}"]
        for s, c in counts.items()
    ]
    blocks: list[page.Block] = [
        page.Heading(2, "Clips on disk"),
        page.Paragraph(
            "Listed: in the subset's metadata; present: listed and its audio found (counted as present, unchecked, "
            "when only annotations were indexed); missing: listed without audio (left out of the index); unlisted: "
            "audio in the subset's folder that no metadata lists. manifest.tsv in the index lists each file with its "
            "sha256."
        ),
        page.Table(["subset", "listed", "present", "missing", "unlisted"], rows, "-rrrr"),
    ]
    notes = index_notes["notes"]
    if notes:
        blocks.append(page.Heading(2, "What the index recorded"))
    for key, value in notes.items():
        if isinstance(value, dict) and value and all(isinstance(v, dict) for v in value.values()):
            # one row per entry (e.g. per subset), one column per fact
            columns = list(dict.fromkeys(k for v in value.values() for k in v))
            rows = [[name, *(str(v.get(c, "")) for c in columns)] for name, v in value.items()]
            blocks += [page.Paragraph(f"{key}:"), page.Table([key, *columns], rows, "-" * (len(columns) + 1))]
        else:
            blocks.append(page.Paragraph(f"{key}: {_flat(value)}."))
    return blocks


def _flat(value: object) -> str:
    if isinstance(value, dict):
        return "; ".join(f"{k} ({_flat(v)})" if isinstance(v, dict) else f"{k} {v}" for k, v in value.items())
    return str(value)


def render_markdown(spec: DatasetSpec, df: pd.DataFrame, data_note: str, index_notes: dict | None = None) -> str:
    return page.markdown(stats_page(spec, df, data_note, index_notes))


def render_html(spec: DatasetSpec, df: pd.DataFrame, data_note: str, index_notes: dict | None = None) -> str:
    return page.html(stats_page(spec, df, data_note, index_notes), f"Dataset statistics: {spec.name}")


def main(args: argparse.Namespace) -> None:
    spec = get(args.dataset)
    index = DatasetIndex.read(Path(args.index))
    notes = read_notes(Path(args.index))
    df = describe(spec, index)
    write_csv(args.csv, df, float_format="%.6f")
    write_text(args.md, render_markdown(spec, df, args.data_note, notes))
    write_text(args.html, render_html(spec, df, args.data_note, notes))
    provenance.write_sidecar(
        args.md,
        {"dataset": args.dataset, "data_note": args.data_note},
        inputs=[Path(args.index) / name for name in ("files.tsv", "events.tsv", NOTES_FILE)],
    )
    log.info("wrote %s, %s and %s", args.csv, args.md, args.html)


def build_parser() -> argparse.ArgumentParser:
    p = cli.parser("Per-split, per-class statistics of a dataset index.")
    p.add_argument("--dataset", required=True)
    p.add_argument("--index", required=True, help="folder with files.tsv and events.tsv")
    p.add_argument("--data-note", required=True, help="which data the index comes from (embedded stand-in or real)")
    p.add_argument("--md", required=True)
    p.add_argument("--html", required=True, help="the same page as HTML (what the Snakemake report shows)")
    p.add_argument("--csv", required=True)
    return p


if __name__ == "__main__":
    cli.run(main, build_parser())
