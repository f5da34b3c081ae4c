"""Put reproduced numbers beside the published ones: tidy table, Markdown, CSV, LaTeX and a bar chart.

Nothing here is specific to one paper: the table layout comes from a ``papers.<name>.TABLES`` TableSpec,
the published numbers from the transcribed paper-values TSV, and paper-specific notes from the paper
module's ``NOTES``.

Tidy table columns: ``row`` (the paper's row label as printed), ``column`` (config model name or statistic
name), ``paper``, ``reproduced``, ``std``, ``delta`` (= reproduced - paper). For a model column,
``reproduced`` is the mean of that row's F1 over every (seed, checkpoint) of that model's metrics files and
``std`` the population standard deviation of those same values. Statistic columns (avg_dur_s = mean event
duration of the class, total_dur_s = summed event duration of the class, over all splits of the dataset
index) have no std.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import cli, papers, provenance
from .io import atomic_path, fail, read_json, write_json, write_text
from .papers import AVERAGE, OVERALL, TableSpec, check_paper_values, load_paper_values

log = logging.getLogger("sedrepro.render")

TIDY_COLUMNS = ("row", "column", "paper", "reproduced", "std", "delta")
STAT_FUNCS = ("avg_dur_s", "total_dur_s", "n_events")
MINUS = "\u2212"

__all__ = [
    "TIDY_COLUMNS", "build_table", "dataset_stats", "summarize_runs", "load_metrics", "load_paper_values",
    "markdown", "csv_text", "latex", "plot", "main",
]


# --------------------------------------------------------------------------------------------- inputs

def dataset_stats(dataset: str, index_dir: str | Path) -> pd.DataFrame:
    """Per-label event statistics over all splits (n_events, avg_dur_s, total_dur_s), from the dataset statistics
    module so that the table and results/datasets/<dataset>.md can never disagree."""
    from .datasets import get as get_dataset  # imported late: the dataset layer is not needed for other tables
    from .datasets.base import DatasetIndex
    from .datasets.stats import describe

    table = describe(get_dataset(dataset), DatasetIndex.read(Path(index_dir)))
    per_class = table[(table["split"] == "all") & (table["class"] != "all")].set_index("class")
    return pd.DataFrame({"n_events": per_class["events"], "avg_dur_s": per_class["mean_event_s"],
                         "total_dur_s": per_class["total_event_s"]}).rename_axis("label")


def load_metrics(paths: Sequence[str | Path]) -> list[dict]:
    """Read metrics.json files (from sedrepro.evaluate), remembering where each came from."""
    out = []
    for p in paths:
        doc = read_json(p)
        for key in ("dataset", "model", "seed", "threshold", "segment_s", "per_checkpoint", "trivial"):
            if key not in doc:
                raise fail(p, f"a metrics file with key {key!r}", f"keys {sorted(doc)}")
        doc["_path"] = str(p)
        out.append(doc)
    return out


def _where(m: dict, i: int) -> str:
    return m.get("_path", f"metrics[{i}]")


def _check_metrics(spec: TableSpec, metrics: Sequence[dict]) -> None:
    seen: dict[tuple[str, int], str] = {}
    settings = None
    for i, m in enumerate(metrics):
        where = _where(m, i)
        if m["dataset"] != spec.dataset:
            raise fail(where, f"dataset {spec.dataset!r} for {spec.name}", repr(m["dataset"]))
        if m["model"] not in spec.models:
            raise fail(where, f"a model among {', '.join(spec.models)}", repr(m["model"]))
        key = (m["model"], int(m["seed"]))
        if key in seen:
            raise fail(where, "one metrics file per (model, seed)", f"a second one for {key} (first: {seen[key]})")
        seen[key] = where
        these = (float(m["threshold"]), float(m["segment_s"]))
        if settings is None:
            settings = these
        elif these != settings:
            raise fail(where, f"threshold, segment_s = {settings} like the other metrics files", f"{these}")
        if not m["per_checkpoint"]:
            raise fail(where, "at least one scored checkpoint", "none")


def _values(metrics: Sequence[dict], model: str, key: str) -> list[float]:
    vals = []
    for m in metrics:
        if m["model"] != model:
            continue
        for c in m["per_checkpoint"]:
            v = c["f1"].get(key)
            if v is not None and not (isinstance(v, float) and math.isnan(v)):
                vals.append(float(v))
    return vals


# --------------------------------------------------------------------------------------------- table

def build_table(spec: TableSpec, metrics: Sequence[dict], paper_values: pd.DataFrame, stats: pd.DataFrame | None) -> pd.DataFrame:
    """Tidy comparison table (row, column, paper, reproduced, std, delta) in the paper's row/column order.

    Cells the paper leaves empty (statistics on Average/Overall) are not rows of the result. A model with no
    metrics, or a statistic without `stats`, has reproduced/std/delta NaN.
    """
    check_paper_values(spec, paper_values)
    _check_metrics(spec, metrics)
    pv = paper_values[paper_values["table"] == spec.name].set_index(["row", "column"])["value"]
    records = []
    for label, key in spec.rows:
        is_class = key not in (AVERAGE, OVERALL)
        for col in spec.stats if is_class else ():
            paper = float(pv[(label, col)])
            rep = math.nan
            if stats is not None:
                if key in stats.index:
                    rep = float(stats.loc[key, col])
                elif col == "total_dur_s":
                    rep = 0.0  # no event of this class in the index
            records.append((label, col, paper, rep, math.nan, rep - paper))
        for col in spec.models:
            paper = float(pv[(label, col)])
            vals = _values(metrics, col, key)
            if vals:
                arr = np.asarray(vals)
                rep, std = float(arr.mean()), float(arr.std(ddof=0))
            else:
                rep = std = math.nan
            records.append((label, col, paper, rep, std, rep - paper))
    return pd.DataFrame.from_records(records, columns=list(TIDY_COLUMNS))


def summarize_runs(spec: TableSpec, metrics: Sequence[dict]) -> dict[str, Any]:
    """Seeds and checkpoints per model, scoring settings and the trivial predictor's scores."""
    per_model = {}
    for model in spec.models:
        runs = sorted((int(m["seed"]), len(m["per_checkpoint"])) for m in metrics if m["model"] == model)
        per_model[model] = {"seeds": [s for s, _ in runs], "checkpoints": [n for _, n in runs]}
    trivial = {}
    for k in (OVERALL, AVERAGE):
        vals = sorted({round(float(m["trivial"][k]), 6) for m in metrics if m["trivial"].get(k) is not None})
        trivial[k] = vals
    return {
        "per_model": per_model,
        "threshold": float(metrics[0]["threshold"]) if metrics else None,
        "segment_s": float(metrics[0]["segment_s"]) if metrics else None,
        "trivial": trivial,
    }


# --------------------------------------------------------------------------------------------- formats

def _decimals(table: pd.DataFrame) -> dict[str, int]:
    """Display decimals per column: 0 where every published value of the column is an integer, else 1."""
    return {c: 0 if np.all(np.mod(g["paper"], 1) == 0) else 1 for c, g in table.groupby("column", sort=False)}


def _num(x: float, d: int, sign: bool = False, minus: str = MINUS) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    text = f"{x:+.{d}f}" if sign else f"{x:.{d}f}"
    if float(text) == 0:  # no "-0.0"
        text = ("+" if sign else "") + f"{0:.{d}f}"
    return text.replace("-", minus)


def _cell(r: pd.Series, d: int, minus: str = MINUS) -> str:
    text = f"{_num(r['paper'], d, minus=minus)} / {_num(r['reproduced'], d, minus=minus)}"
    if not math.isnan(r["reproduced"]):
        text += f" ({_num(r['delta'], d, sign=True, minus=minus)})"
    return text


def _grid(spec: TableSpec, table: pd.DataFrame, minus: str = MINUS) -> tuple[list[str], list[list[str]]]:
    dec = _decimals(table)
    cells = {(r["row"], r["column"]): _cell(r, dec[r["column"]], minus) for _, r in table.iterrows()}
    columns = spec.stats + spec.models
    header = ["Category"] + [spec.column_header(c) for c in columns]
    body = [[label] + [cells.get((label, c), "") for c in columns] for label, _ in spec.rows]
    return header, body


def _fmt_list(vals: Sequence[float]) -> str:
    if not vals:
        return "n/a"
    if len(vals) == 1:
        return f"{vals[0]:.1f}"
    return f"{min(vals):.1f}-{max(vals):.1f} (differs between metrics files)"


def notes(spec: TableSpec, summary: dict[str, Any], data_note: str, paper_notes: Sequence[str] = (), have_stats: bool = True) -> list[str]:
    out = []
    for header, model in spec.model_columns:
        pm = summary["per_model"][model]
        if not pm["seeds"]:
            out.append(f"{header} ({model}): no runs, reproduced cells are n/a.")
            continue
        n = pm["checkpoints"]
        ck = f"{n[0]} checkpoints each" if len(set(n)) == 1 else "checkpoints per seed " + ", ".join(map(str, n))
        out.append(f"{header} ({model}): {len(pm['seeds'])} seed(s) ({', '.join(map(str, pm['seeds']))}) x {ck}; "
                   f"reproduced = mean over all {sum(n)} (seed, checkpoint) values, std = population std over them.")
    if summary["threshold"] is not None:
        out.append(f"Frame threshold {summary['threshold']:g}; segment-based F1 with {summary['segment_s']:g} s segments "
                   "(sed_eval SegmentBasedMetrics, file by file over each file's full duration).")
    out.extend(paper_notes)
    out.append(f"Data: {data_note}")
    t = summary["trivial"]
    out.append(f"Trivial all-active predictor (every class on over every test file) on the same test set: "
               f"Overall F1 {_fmt_list(t[OVERALL])}, Average F1 {_fmt_list(t[AVERAGE])}.")
    if spec.stats:
        out.append("Statistic columns are computed from the dataset index events over all splits "
                   + ("(mean and summed event duration per class)." if have_stats else "(no index given: n/a)."))
    return out


def markdown(spec: TableSpec, table: pd.DataFrame, note_lines: Sequence[str]) -> str:
    header, body = _grid(spec, table)
    lines = [f"# {spec.name}: {spec.caption}", "",
             "Each cell: paper / reproduced (reproduced \u2212 paper). F1 in %, durations in s. "
             "Standard deviations are in the CSV.", ""]
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "|".join([":---"] + ["---:"] * (len(header) - 1)) + "|")
    lines += ["| " + " | ".join(row) + " |" for row in body]
    lines += ["", "Notes:", ""] + [f"- {n}" for n in note_lines]
    return "\n".join(lines) + "\n"


def _csv_num(x: float) -> str:
    if x is None or math.isnan(x):
        return ""
    text = f"{x:.2f}"
    return "0.00" if float(text) == 0 else text


def csv_text(table: pd.DataFrame) -> str:
    """The tidy table as CSV: fixed columns, numbers with 2 decimals, empty for missing, '\\n' line ends."""
    lines = [",".join(TIDY_COLUMNS)]
    for _, r in table.iterrows():
        fields = [str(r["row"]), str(r["column"])] + [_csv_num(r[c]) for c in TIDY_COLUMNS[2:]]
        lines.append(",".join(f'"{f}"' if ("," in f or '"' in f) else f for f in fields))
    return "\n".join(lines) + "\n"


def _tex_escape(text: str) -> str:
    for a, b in (("\\", r"\textbackslash{}"), ("&", r"\&"), ("_", r"\_"), ("%", r"\%"), ("#", r"\#"), ("$", r"\$")):
        text = text.replace(a, b)
    return text


def latex(spec: TableSpec, table: pd.DataFrame) -> str:
    header, body = _grid(spec, table, minus="$-$")
    esc = lambda s: _tex_escape(s).replace(r"\$-\$", "$-$")  # noqa: E731 - keep the math minus
    lines = [f"% {spec.name}: paper / reproduced (reproduced - paper)", r"\begin{tabular}{l" + "r" * (len(header) - 1) + "}", r"\hline"]
    lines.append(" & ".join(esc(h) for h in header) + r" \\")
    lines.append(r"\hline")
    for i, row in enumerate(body):
        if spec.rows[i][1] in (AVERAGE, OVERALL) and (i == 0 or spec.rows[i - 1][1] not in (AVERAGE, OVERALL)):
            lines.append(r"\hline")
        lines.append(" & ".join(esc(c) for c in row) + r" \\")
    lines += [r"\hline", r"\end{tabular}"]
    return "\n".join(lines) + "\n"


def plot(spec: TableSpec, table: pd.DataFrame, path: str | Path) -> None:
    """One horizontal bar chart per model column: per row, the paper's F1 beside the reproduced mean (± std)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [label for label, _ in spec.rows]
    n_models = len(spec.models)
    ncols = 2 if n_models > 1 else 1
    nrows = math.ceil(n_models / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(6.5 * ncols, 0.32 * len(labels) * nrows + 1.5), squeeze=False, sharex=True)
    y = np.arange(len(labels))
    h = 0.4
    for ax, (header, model) in zip(axes.flat, spec.model_columns, strict=False):
        sub = table[table["column"] == model].set_index("row").reindex(labels)
        ax.barh(y - h / 2, sub["paper"], height=h, color="#4c72b0", label="paper")
        rep = sub["reproduced"].fillna(0.0)
        ax.barh(y + h / 2, rep, height=h, color="#dd8452", label="reproduced (mean ± std)",
                xerr=sub["std"].fillna(0.0), error_kw={"elinewidth": 0.8, "capsize": 2})
        ax.set_yticks(y, labels, fontsize=8)
        ax.invert_yaxis()
        ax.set_xlim(0, 100)
        ax.set_title(f"{header} ({model})", fontsize=10)
        ax.grid(axis="x", alpha=0.3)
    for ax in list(axes.flat)[n_models:]:
        ax.set_visible(False)
    for ax in axes[-1]:
        ax.set_xlabel("segment-based F1 (%)")
    handles, names = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, names, loc="upper right", fontsize=8, ncols=2)
    fig.suptitle(f"{spec.name} ({spec.dataset}): paper vs reproduced", fontsize=11, x=0.02, ha="left")
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png", dpi=110, metadata={"Software": None})
    plt.close(fig)


# --------------------------------------------------------------------------------------------- CLI

def build_parser():
    p = cli.parser("Render a paper table with the reproduced numbers beside the published ones.")
    p.add_argument("--paper", required=True, help=f"one of {', '.join(papers.NAMES)}")
    p.add_argument("--table", required=True, help="table name in the paper module, e.g. table1")
    p.add_argument("--metrics", nargs="+", required=True, help="metrics.json files (model and seed are read from them)")
    p.add_argument("--index", help="dataset index directory; needed only for statistic columns")
    p.add_argument("--paper-values", required=True, help="transcribed paper-values TSV")
    p.add_argument("--data-note", required=True, help="which data the numbers come from (embedded synthetic or real)")
    p.add_argument("--out-md", required=True)
    p.add_argument("--out-csv", required=True)
    p.add_argument("--out-tex", required=True)
    p.add_argument("--out-png", required=True)
    return p


def main(args) -> None:
    mod = papers.get(args.paper)
    spec = papers.table(args.paper, args.table)
    pv = load_paper_values(args.paper_values)
    metrics = load_metrics(args.metrics)
    stats = dataset_stats(spec.dataset, args.index) if (args.index and spec.stats) else None
    table = build_table(spec, metrics, pv, stats)
    summary = summarize_runs(spec, metrics)
    note_lines = notes(spec, summary, args.data_note, getattr(mod, "NOTES", ()), have_stats=stats is not None)
    out_md = Path(args.out_md)
    write_text(out_md, markdown(spec, table, note_lines))
    write_text(args.out_csv, csv_text(table))
    write_text(args.out_tex, latex(spec, table))
    plot(spec, table, args.out_png)
    inputs = list(args.metrics) + [args.paper_values]
    if stats is not None:
        inputs.append(str(Path(args.index) / "events.tsv"))
    config = {"paper": args.paper, "table": args.table, "data_note": args.data_note,
              "threshold": summary["threshold"], "segment_s": summary["segment_s"]}
    write_json(out_md.with_name(out_md.stem + ".provenance.json"), provenance.collect(config, inputs=inputs))
    log.info("wrote %s, %s, %s, %s", args.out_md, args.out_csv, args.out_tex, args.out_png)


if __name__ == "__main__":
    cli.run(main, build_parser())
