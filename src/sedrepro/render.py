"""Put reproduced numbers beside the published ones: tidy table, Markdown, CSV, LaTeX and a bar chart.

Nothing here is specific to one paper: the table layout (and the decimals a column shows at least) comes from a
TableSpec of the registered ``papers.Paper``, the published numbers from the transcribed paper-values TSV, and
paper-specific notes from the paper's ``notes``.

Tidy table columns: ``row`` (the paper's row label as printed), ``column`` (config model name or statistic
name), ``paper``, ``reproduced``, ``std``, ``delta`` (= reproduced - paper). For a model column,
``reproduced`` is the mean of that row's key of the table's per-class metric (``TableSpec.metric`` on
``TableSpec.evaluation_set``, read through sedrepro.results) over every (seed, checkpoint) of that model's metrics files and
``std`` the population standard deviation of those same values. Statistic columns (avg_dur_s = mean event
duration of the class, total_dur_s = summed event duration of the class, over all splits of the dataset
index) have no std.

Other layouts (``papers.TableSpec``): a "models" table has one row per model and run metrics as columns (registered
metrics such as accuracy, loss and micro F1 from the metrics files; training minutes, parameters, checkpoint size and
epochs from the runs' train.json, matched to the metrics file in the same run folder); text rows/columns show numbers
the paper states in its text; ratio columns divide a metric by the reference model's, for the paper's values and the
reproduced ones alike. Cells the paper leaves empty have paper (and delta) NaN.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import cli, page, papers, provenance, results
from .io import atomic_path, fail, read_json, read_tsv, write_text
from .metrics import METRICS
from .papers import AVERAGE, OVERALL, TEXT, TableSpec, check_paper_values, load_paper_values

log = logging.getLogger("sedrepro.render")

TIDY_COLUMNS = ("row", "column", "paper", "reproduced", "std", "delta")
STAT_TEXT = {"avg_dur_s": "mean event duration", "total_dur_s": "summed event duration", "n_events": "event count"}
MINUS = "\u2212"
NOT_PRINTED = "\u2013"
CITED = "cited"  # a cited row's reproduced side: the paper's value of another work, not reproduced
MAX_DECIMALS = 5
# How a classes table's notes and bar-chart axis name its per-class metric where the registry's description is not
# what the table says (the hypernetworks tables' wording); any other metric is named by its registry description.
METRIC_NOTES = {
    "segment_f1": "segment-based F1 with {segment_s:g} s segments (sed_eval SegmentBasedMetrics, file by file over each "
    "file's full duration).",
}
METRIC_AXES = {"segment_f1": "segment-based F1"}
KB = 1024  # bytes; the paper's "KB" (Keras file sizes in a file manager) is taken as KiB

__all__ = [
    "TIDY_COLUMNS",
    "build_table",
    "dataset_stats",
    "summarize_runs",
    "load_metrics",
    "load_train",
    "load_paper_values",
    "markdown",
    "html",
    "csv_text",
    "latex",
    "plot",
    "main",
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
    return pd.DataFrame(
        {
            "n_events": per_class["events"],
            "avg_dur_s": per_class["mean_event_s"],
            "total_dur_s": per_class["total_event_s"],
        }
    ).rename_axis("label")


def load_metrics(paths: Sequence[str | Path]) -> list[dict]:
    """Read metrics.json files (sedrepro.results), remembering where each came from."""
    return [results.load(p) for p in paths]


def load_train(paths: Sequence[str | Path], metrics: Sequence[dict]) -> dict[tuple[str, int], dict]:
    """train.json files keyed by the (model, seed) of the metrics file in the same run folder."""
    by_dir = {Path(m["_path"]).parent.resolve(): (m["model"], int(m["seed"])) for m in metrics if "_path" in m}
    out = {}
    for p in paths:
        key = by_dir.get(Path(p).parent.resolve())
        if key is None:
            raise fail(p, "a train.json beside one of the given metrics.json files (same run folder)", "none there")
        doc = read_json(p)
        doc["_path"] = str(p)
        out[key] = doc
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
        these = tuple(float(results.setting(m, spec.evaluation_set, k)) for k in ("threshold", "segment_s"))
        if settings is None:
            settings = these
        elif these != settings:
            raise fail(where, f"threshold, segment_s = {settings} like the other metrics files", f"{these}")
        if not results.n_checkpoints(m, spec.evaluation_set):
            raise fail(where, "at least one scored checkpoint", "none")


def _train_value(doc: dict, metric: str) -> float | None:
    """One run's training fact in the paper's unit; None where an older train.json lacks it."""
    raw = {
        "train_time_min": doc.get("train_time_s"),
        "parameters": doc.get("parameters"),
        "size_kb": doc.get("checkpoint_bytes"),
        "epochs": doc.get("epochs"),
    }[metric]
    if raw is None:
        return None
    scale = {"train_time_min": 1 / 60, "size_kb": 1 / KB}.get(metric, 1.0)
    return float(raw) * scale


def _metric_values(
    spec: TableSpec, metrics: Sequence[dict], train: Mapping[tuple[str, int], dict], model: str, metric: str
) -> list[float]:
    """Every value of a run metric for one model: per (seed, checkpoint) for a registered metric on the table's
    evaluation set, per seed for train facts."""
    vals = []
    name, key = papers.split_run_metric(metric)  # "event_f1@Average": one key of a per-class metric
    for m in metrics:
        if m["model"] != model:
            continue
        if name in METRICS:
            vals += results.values(m, name, papers.column_set(metric, spec.evaluation_set), key)
        else:
            doc = train.get((m["model"], int(m["seed"])))
            v = None if doc is None else _train_value(doc, metric)
            if v is not None:
                vals.append(v)
    return vals


def _mean_std(vals: Sequence[float], scale: float = 1.0) -> tuple[float, float]:
    if not vals:
        return math.nan, math.nan
    arr = np.asarray(vals) * scale
    return float(arr.mean()), float(arr.std(ddof=0))


# --------------------------------------------------------------------------------------------- table


def build_table(
    spec: TableSpec,
    metrics: Sequence[dict],
    paper_values: pd.DataFrame,
    stats: pd.DataFrame | None,
    train: Mapping[tuple[str, int], dict] | None = None,
) -> pd.DataFrame:
    """Tidy comparison table (row, column, paper, reproduced, std, delta) in the paper's row/column order.

    Cells the paper leaves empty (statistics on Average/Overall) are not rows of the result; cells of the grid it
    leaves empty (spec.unprinted) have paper NaN. A model with no metrics, a statistic without `stats`, or a
    training fact without `train` has reproduced/std/delta NaN.
    """
    check_paper_values(spec, paper_values)
    _check_metrics(spec, metrics)
    train = train or {}
    pv = paper_values[paper_values["table"] == spec.name].set_index(["row", "column"])["value"]
    text = paper_values[paper_values["table"] == TEXT].set_index(["row", "column"])["value"]
    unprinted = set(spec.unprinted)

    def paper(row: str, col: str, source: pd.Series, key: tuple[str, str]) -> float:
        return math.nan if (row, col) in unprinted else float(source[key])

    records = []
    if spec.is_models_layout:
        for label, _ in spec.cited_rows:  # other works' results: the paper's values only
            for _, metric in spec.metric_columns:
                records.append((label, metric, paper(label, metric, pv, (label, metric)), math.nan, math.nan))
        for label, model in spec.model_columns:
            for _, metric in spec.metric_columns:
                rep, std = _mean_std(_metric_values(spec, metrics, train, model, metric), spec.scale(metric))
                records.append((label, metric, paper(label, metric, pv, (label, metric)), rep, std))
            for text_label, metric in spec.text_metrics:
                rep, std = _mean_std(_metric_values(spec, metrics, train, model, metric))
                records.append((label, text_label, paper(label, text_label, text, (text_label, model)), rep, std))
        records += _ratio_records(spec, records)
    else:
        for label, key in spec.rows:
            is_class = key not in (AVERAGE, OVERALL)
            for col in spec.stats if is_class else ():
                rep = math.nan
                if stats is not None:
                    if key in stats.index:
                        rep = float(stats.loc[key, col])
                    elif col in ("total_dur_s", "n_events"):
                        rep = 0.0  # no event of this class in the index
                records.append((label, col, paper(label, col, pv, (label, col)), rep, math.nan))
            for col in spec.models:
                runs = [m for m in metrics if m["model"] == col]
                rep, std = results.cell(runs, spec.metric, spec.evaluation_set, key, spec.f1_scale)
                records.append((label, col, paper(label, col, pv, (label, col)), rep, std))
        for text_label, metric in spec.text_metrics:
            for col in spec.models:
                rep, std = _mean_std(_metric_values(spec, metrics, train, col, metric))
                records.append((text_label, col, paper(text_label, col, text, (text_label, col)), rep, std))
    out = pd.DataFrame.from_records(records, columns=list(TIDY_COLUMNS[:-1]))
    out["delta"] = out["reproduced"] - out["paper"]
    return out


def _ratio_records(spec: TableSpec, records: list[tuple]) -> list[tuple]:
    """Derived ratio columns of a models table: each model's metric over the reference model's."""
    if not spec.ratio_columns:  # no reference model either
        return []
    ref_label = next(label for label, model in spec.model_columns if model == spec.ratio_reference)
    cells = {(r[0], r[1]): r for r in records}
    out = []
    for label, _ in spec.model_columns:
        for _, key, metric in spec.ratio_columns:
            num, den = cells[(label, metric)], cells[(ref_label, metric)]
            paper = num[2] / den[2] if den[2] else math.nan
            rep = num[3] / den[3] if den[3] else math.nan
            out.append((label, key, paper, rep, math.nan))
    return out


def summarize_runs(spec: TableSpec, metrics: Sequence[dict]) -> dict[str, Any]:
    """Seeds and checkpoints per model, scoring settings and the trivial predictor's scores."""
    per_model = {}
    for model in spec.models:
        runs = sorted(
            (int(m["seed"]), results.n_checkpoints(m, spec.evaluation_set)) for m in metrics if m["model"] == model
        )
        per_model[model] = {"seeds": [s for s, _ in runs], "checkpoints": [n for _, n in runs]}
    trivial = {}
    for k in (OVERALL, AVERAGE):
        found = (results.trivial(m, spec.metric, spec.evaluation_set, k) for m in metrics)
        vals = sorted({round(v, 6) for v in found if v is not None})
        trivial[k] = vals
    return {
        "per_model": per_model,
        "target": metrics[0]["target"] if metrics else None,
        "threshold": float(results.setting(metrics[0], spec.evaluation_set, "threshold")) if metrics else None,
        "segment_s": float(results.setting(metrics[0], spec.evaluation_set, "segment_s")) if metrics else None,
        "trivial": trivial,
    }


# --------------------------------------------------------------------------------------------- formats


def _printed_decimals(x: float) -> int:
    """Fewest decimals that write x exactly (0.9532 -> 4, 64.0 -> 0)."""
    for d in range(MAX_DECIMALS):
        if abs(round(x, d) - x) < 1e-9:
            return d
    return MAX_DECIMALS


def _decimals(spec: TableSpec, table: pd.DataFrame) -> dict[tuple[str, str], int]:
    """Display decimals per cell: as many as the paper prints in the cell's group (a column; a text row of a classes
    table), never fewer than the spec's min_decimals of the column. Derived columns (ratios) use those only."""
    text_rows = {label for label, _ in spec.text_metrics} if not spec.is_models_layout else set()
    derived = {key for _, key, _ in spec.ratio_columns}
    group = table["row"].where(table["row"].isin(text_rows), table["column"])
    # a column the paper leaves empty is shown like the table's printed class cells
    fallback = [
        _printed_decimals(float(v)) for v in table.loc[~table["row"].isin(text_rows), "paper"] if not math.isnan(v)
    ]
    out = {}
    for _, g in table.groupby(group, sort=False):
        printed = [_printed_decimals(float(v)) for v in g["paper"] if not math.isnan(v)] or fallback
        for _, r in g.iterrows():
            base = 0 if (r["column"] in derived or not printed) else max(printed)
            out[(r["row"], r["column"])] = max(base, spec.least_decimals(r["column"]))
    return out


def _num(x: float, d: int, sign: bool = False, minus: str = MINUS) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    text = f"{x:+.{d}f}" if sign else f"{x:.{d}f}"
    if float(text) == 0:  # no "-0.0"
        text = ("+" if sign else "") + f"{0:.{d}f}"
    return text.replace("-", minus)


def _cell(r: pd.Series, d: int, minus: str = MINUS, cited: bool = False) -> str:
    paper = NOT_PRINTED if math.isnan(r["paper"]) else _num(r["paper"], d, minus=minus)
    if cited:
        return f"{paper} / {CITED}"
    text = f"{paper} / {_num(r['reproduced'], d, minus=minus)}"
    if not math.isnan(r["delta"]):
        text += f" ({_num(r['delta'], d, sign=True, minus=minus)})"
    return text


def _grid(spec: TableSpec, table: pd.DataFrame, minus: str = MINUS) -> tuple[list[str], list[list[str]]]:
    dec = _decimals(spec, table)
    cited = set(spec.cited_labels)
    cells = {
        (r["row"], r["column"]): _cell(r, dec[(r["row"], r["column"])], minus, r["row"] in cited)
        for _, r in table.iterrows()
    }
    columns = spec.grid_columns
    header = ["Model" if spec.is_models_layout else "Category"] + [spec.column_header(c) for c in columns]
    body = [[label] + [cells.get((label, c), "") for c in columns] for label, _ in spec.grid_rows]
    return header, body


def _fmt_list(vals: Sequence[float], d: int = 1) -> str:
    if not vals:
        return "n/a"
    if len(vals) == 1:
        return f"{vals[0]:.{d}f}"
    return f"{min(vals):.{d}f}-{max(vals):.{d}f} (differs between metrics files)"


def _scoring_note(spec: TableSpec, summary: dict[str, Any]) -> str | None:
    if summary["threshold"] is None:
        return None
    if summary["target"] == "clip":
        return (
            "Clip targets: each test clip is classified by the argmax of the model's output; per-class clip F1, "
            "accuracy = categorical accuracy, loss = mean categorical cross-entropy."
        )
    if spec.is_models_layout:  # each registered metric the table shows, as the registry describes it
        # each metric once, whichever evaluation set its columns read
        shown = dict.fromkeys(m.rpartition(papers.SET_PREFIX)[2] for _, m in spec.metric_columns + spec.text_metrics)
        described = "; ".join(_described(m) for m in shown if papers.split_run_metric(m)[0] in METRICS)
        # clip tags are ranked, not thresholded: the threshold only enters accuracy and micro F1, which no table shows
        lead = "Clip tags (one score per clip and class)" if summary["target"] == "tags" else "Frame threshold"
        lead += "" if summary["target"] == "tags" else f" {summary['threshold']:g}"
        return lead + (f": {described}." if described else ".")
    if spec.metric in METRIC_NOTES:
        return f"Frame threshold {summary['threshold']:g}; " + METRIC_NOTES[spec.metric].format(**summary)
    return f"Frame threshold {summary['threshold']:g}; {spec.metric} = {METRICS.get(spec.metric).description}."


def ranking_notes(spec: TableSpec, metrics: Sequence[dict]) -> list[str]:
    """How many classes each ranking metric of the table averaged and skipped (its notes in metrics.json), per model:
    a class without positives in the evaluation set has no ROC or precision-recall curve."""
    out = []
    shown = dict.fromkeys(papers.split_run_metric(m)[0] for _, m in spec.metric_columns + spec.text_metrics)
    for header, model in spec.model_columns:
        docs = [m for m in metrics if m["model"] == model]
        for name in shown:
            found = {
                json.dumps(results.metric_entry(d, name, spec.evaluation_set).get("notes"), sort_keys=True)
                for d in docs
                if name in results.evaluation_set(d, spec.evaluation_set)["metrics"]
            }
            facts = [json.loads(f) for f in found if f != "null"]
            if len(facts) != 1 or "classes_without_positives" not in facts[0]:
                continue
            f = facts[0]
            out.append(
                f"{header} ({model}), {name} on {spec.evaluation_set}: {f['clips']} clips; "
                f"{f['classes_without_positives']} of {f['classes']} classes without positives and "
                f"{f['classes_without_negatives']} without negatives, skipped; averaged over "
                f"{f['classes_averaged']['roc']} classes (ROC) and {f['classes_averaged']['average_precision']} "
                "(average precision)."
            )
            break  # the counts are those of the set's labels: one metric says them
    return out


def _described(metric: str) -> str:
    """A run metric as the registry describes it; "<metric>@<key>" says which key it reads."""
    name, key = papers.split_run_metric(metric)
    text = f"{metric} = {METRICS.get(name).description}"
    return text if key is None else f"{text}, its {key} value"


def _trivial_note(spec: TableSpec, summary: dict[str, Any]) -> str | None:
    if not spec.models or spec.is_models_layout:
        return None  # no F1 columns (the trivial scores are F1 scores)
    t = summary["trivial"]
    if summary["target"] == "clip":
        scaled = {k: [v * spec.f1_scale for v in t[k]] for k in t}
        d = 1 + max(0, round(-math.log10(spec.f1_scale)))  # one decimal of a percentage, on the table's scale
        return (
            f"Trivial majority-class predictor (always the test set's most frequent class) on the same test set: "
            f"Overall (micro) F1 {_fmt_list(scaled[OVERALL], d)}, Average (macro) F1 {_fmt_list(scaled[AVERAGE], d)}."
        )
    return (
        f"Trivial all-active predictor (every class on over every test file) on the same test set: "
        f"Overall F1 {_fmt_list(t[OVERALL])}, Average F1 {_fmt_list(t[AVERAGE])}."
    )


def hardware_notes(spec: TableSpec, train: Mapping[tuple[str, int], dict], metrics: Sequence[dict]) -> list[str]:
    """Where each model trained and how long, and the training-time ratios, for tables that show training facts."""
    shown = {m for _, m in spec.metric_columns + spec.text_metrics}
    if "train_time_min" not in shown:
        return []
    out = []
    for header, model in spec.model_columns:
        runs = [train[k] for k in sorted(train) if k[0] == model]
        if not runs:
            if any(m["model"] == model for m in metrics):
                out.append(f"{header} ({model}): no train.json, training facts are n/a.")
            continue
        devices = sorted({str(d.get("device_name", d.get("device", "unknown device"))) for d in runs})
        times = [_train_value(d, "train_time_min") for d in runs]
        shown_times = ", ".join("n/a" if t is None else f"{t:.2f}" for t in times)
        out.append(
            f"{header} ({model}): trained on {'; '.join(devices)}; training minutes per seed {shown_times} "
            "(sum of epoch wall times)."
        )
    return out


def configuration_note(configuration: dict[str, Any] | None) -> str:
    """Which configuration made the table (the report and a reader see it without opening the provenance)."""
    if not configuration:
        return "Configuration: not recorded (rendered outside the workflow)."
    return (
        f"Configuration: {provenance.describe_configuration(configuration['identity'])}; effective settings "
        f"sha256 {configuration['settings_sha256'][:12]} (full record in the provenance file beside this table)."
    )


def _coverage_text(coverage: Mapping[str, Any]) -> str:
    """As "6 of 8 listed clips (2 missing)"; a subset whose missing clips no one set owns is named by set_coverage."""
    if coverage["listed"] is None:
        return coverage["text"]
    missing = coverage["listed"] - coverage["clips"]
    return f"{coverage['text']} ({f'{missing:,} missing' if missing else 'none missing'})"


def parse_assignments(entries: Sequence[str]) -> dict[str, Path]:
    """`<pipeline>=<assignment.tsv>` arguments as {pipeline: path}."""
    out = {}
    for entry in entries:
        pipeline, sep, path = entry.partition("=")
        if not sep or not pipeline or not path:
            raise fail("--assignment", "<pipeline>=<assignment.tsv>", repr(entry))
        out[pipeline] = Path(path)
    return out


def coverage_notes(spec: TableSpec, index_dir: str | Path | None, assignments: Mapping[str, Path]) -> list[str]:
    """On how many of how many listed clips the table's numbers stand (sedrepro.datasets.set_coverage, from the
    index's manifest): the evaluation set its model cells read, under each pipeline of its models (the split stage's
    assignment), and the index its statistic columns count."""
    from .datasets.base import FILES_FILE, set_coverage  # imported late, as in dataset_stats

    out = []
    if spec.models:
        if not assignments or index_dir is None:
            out.append(f"Clips of the {spec.evaluation_set} set: not recorded (no index and assignment given).")
        else:
            texts = {}
            for pipeline, path in assignments.items():
                frame = read_tsv(path, dtype={"file_id": str, "split": str})
                cov = set_coverage(Path(index_dir), pd.Series(frame["split"].to_numpy(), index=frame["file_id"]))
                if spec.evaluation_set not in cov:
                    raise fail(path, f"clips of evaluation set {spec.evaluation_set!r}", f"sets {', '.join(cov)}")
                texts[pipeline] = _coverage_text(cov[spec.evaluation_set])
            shown = (
                next(iter(texts.values()))
                if len(set(texts.values())) == 1
                else "; ".join(f"{text} (pipeline {p})" for p, text in texts.items())
            )
            out.append(f"Clips: the {spec.evaluation_set} set, every model's numbers computed on {shown}.")
    if spec.stats and index_dir is not None:
        files = read_tsv(Path(index_dir) / FILES_FILE, dtype={"file_id": str})
        cov = set_coverage(Path(index_dir), pd.Series("index", index=files["file_id"].to_numpy()))["index"]
        out.append(f"Clips: the statistic columns count the events of {_coverage_text(cov)} of the index.")
    return out


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def notes(
    spec: TableSpec,
    summary: dict[str, Any],
    data_note: str,
    paper_notes: Sequence[str] = (),
    have_stats: bool = True,
    hardware: Sequence[str] = (),
    missing: bool = False,
    ranking: Sequence[str] = (),
    coverage: Sequence[str] = (),
) -> list[str]:
    """The Markdown notes; `missing`: the table has a cell without a reproduced value (shown n/a); `coverage`: the
    clip counts (coverage_notes), after the data note."""
    out = []
    for header, model in spec.model_columns:
        pm = summary["per_model"][model]
        if not pm["seeds"]:
            out.append(f"{header} ({model}): no runs, reproduced cells are n/a.")
            continue
        n = pm["checkpoints"]
        ck = (
            f"{_count(n[0], 'checkpoint')} each"
            if len(set(n)) == 1
            else "checkpoints per seed " + ", ".join(map(str, n))
        )
        out.append(
            f"{header} ({model}): {_count(len(pm['seeds']), 'seed')} ({', '.join(map(str, pm['seeds']))}) x {ck}; "
            f"reproduced = mean over all {sum(n)} (seed, checkpoint) values, std = population std over them."
        )
    scoring = _scoring_note(spec, summary)
    if scoring:
        out.append(scoring)
    if spec.unprinted:
        out.append(f"{NOT_PRINTED}: not printed in the paper.")
    if spec.cited_rows:
        cited = "; ".join(f"{label}: {source}" for label, source in spec.cited_rows)
        out.append(
            f"{CITED}: a result the paper cites from another work ({cited}), shown with the paper's value only: "
            "not reproduced and not compared."
        )
    if missing:
        out.append(
            "n/a: no reproduced value (no run, or the run has no such value); the bar charts label it n/a, "
            "while a bar of length 0 is a value 0."
        )
    if spec.ratio_columns:
        ref = next(h for h, m in spec.model_columns if m == spec.ratio_reference)
        out.append(
            f"Ratio columns divide each model's value by the {ref} model's, the paper's by the paper's and the "
            "reproduced by the reproduced (so hardware speed cancels out)."
        )
    out.extend(hardware)
    out.extend(ranking)
    out.extend(paper_notes)
    out.append(f"Data: {data_note}")
    out.extend(coverage)
    trivial = _trivial_note(spec, summary)
    if trivial:
        out.append(trivial)
    if spec.stats:
        what = (
            "(mean and summed event duration per class)"
            if spec.stats == ("avg_dur_s", "total_dur_s")
            else "(" + ", ".join(STAT_TEXT[s] for s in spec.stats) + " per class)"
        )
        out.append(
            "Statistic columns are computed from the dataset index events over all splits "
            + (f"{what}." if have_stats else "(no index given: n/a).")
        )
    return out


def table_page(spec: TableSpec, table: pd.DataFrame, note_lines: Sequence[str]) -> list[page.Block]:
    """The table with its title, cell legend and notes, for the Markdown and the HTML file alike."""
    header, body = _grid(spec, table)
    return [
        page.Heading(1, f"{spec.name}: {spec.caption}"),
        page.Paragraph(
            f"Each cell: paper / reproduced (reproduced \u2212 paper). {spec.units} Standard deviations are in the CSV."
        ),
        page.Table(header, body, "l" + "r" * (len(header) - 1)),
        page.Paragraph("Notes:"),
        page.Bullets(note_lines),
    ]


def markdown(spec: TableSpec, table: pd.DataFrame, note_lines: Sequence[str]) -> str:
    return page.markdown(table_page(spec, table, note_lines))


def html(spec: TableSpec, table: pd.DataFrame, note_lines: Sequence[str]) -> str:
    return page.html(table_page(spec, table, note_lines), f"{spec.name}: {spec.caption}")


CSV_DECIMALS = 2  # at least; more where the paper prints more (0.9532 on a 0-1 scale)


def _csv_num(x: float, d: int = CSV_DECIMALS) -> str:
    if x is None or math.isnan(x):
        return ""
    text = f"{x:.{d}f}"
    return f"{0:.{d}f}" if float(text) == 0 else text


def csv_text(table: pd.DataFrame, spec: TableSpec | None = None) -> str:
    """The tidy table as CSV (the csv module's quoting: a label with a comma, quote or line break round-trips):
    fixed columns, numbers with 2 decimals (or as many as the paper prints in the cell's group, given the spec),
    empty for missing, '\\n' line ends."""
    dec = _decimals(spec, table) if spec is not None else {}
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(TIDY_COLUMNS)
    for _, r in table.iterrows():
        d = max(CSV_DECIMALS, dec.get((r["row"], r["column"]), 0))
        writer.writerow([str(r["row"]), str(r["column"])] + [_csv_num(r[c], d) for c in TIDY_COLUMNS[2:]])
    return buf.getvalue()


# LaTeX's special characters; one pass, so that the braces a replacement adds are not escaped again
TEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}
TEX_PATTERN = re.compile("|".join(re.escape(c) for c in TEX_SPECIAL))
TEX_MINUS = "$-$"  # the grid's minus sign (MINUS) in the tabular, set after escaping


def _tex_escape(text: str) -> str:
    return TEX_PATTERN.sub(lambda m: TEX_SPECIAL[m.group(0)], text)


def latex(spec: TableSpec, table: pd.DataFrame, data_note: str) -> str:
    """The grid as a tabular, followed by the data note (a table set from it says which data it shows)."""
    header, body = _grid(spec, table)
    esc = lambda s: _tex_escape(s).replace(MINUS, TEX_MINUS)  # noqa: E731
    lines = [
        f"% {spec.name}: paper / reproduced (reproduced - paper)",
        r"\begin{tabular}{l" + "r" * (len(header) - 1) + "}",
        r"\hline",
    ]
    lines.append(" & ".join(esc(h) for h in header) + r" \\")
    lines.append(r"\hline")
    rows = spec.grid_rows
    first_text = len(spec.rows) if (spec.text_metrics and not spec.is_models_layout) else None
    if spec.cited_rows and spec.is_models_layout:  # a rule between the cited works and the reproduced models
        first_text = len(spec.cited_rows)
    for i, row in enumerate(body):
        if (
            rows[i][1] in (AVERAGE, OVERALL) and (i == 0 or rows[i - 1][1] not in (AVERAGE, OVERALL))
        ) or i == first_text:
            lines.append(r"\hline")
        lines.append(" & ".join(esc(c) for c in row) + r" \\")
    lines += [r"\hline", r"\end{tabular}", r"\par{\footnotesize Data: " + _tex_escape(data_note) + ".}"]
    return "\n".join(lines) + "\n"


LOG_SCALE = ("parameters", "size_kb")  # the paper's and a narrow reproduction's sizes differ by orders of magnitude


def _panels(
    spec: TableSpec, table: pd.DataFrame
) -> list[tuple[str, pd.DataFrame, tuple[float, float] | None, str, bool]]:
    """(title, rows of one panel in display order, x limits or None, x label, log x) for each bar-chart panel."""

    def rows_of(column: str, labels: Sequence[str]) -> pd.DataFrame:
        return table[table["column"] == column].set_index("row").reindex(labels)

    if spec.is_models_layout:
        labels = [label for label, _ in spec.grid_rows]
        return [
            (spec.column_header(c), rows_of(c, labels), None, spec.column_header(c), c in LOG_SCALE)
            for c in spec.grid_columns
        ]
    labels = [label for label, _ in spec.rows]  # text rows mix units: they are in the table only
    if not spec.models:
        return [(spec.column_header(c), rows_of(c, labels), None, spec.column_header(c), False) for c in spec.stats]
    name = METRIC_AXES.get(spec.metric, spec.metric)
    xlabel = f"{name} ({METRICS.get(spec.metric).unit})" if spec.f1_scale == 1 else "F1"
    return [
        (f"{header} ({model})", rows_of(model, labels), (0, 100 * spec.f1_scale), xlabel, False)
        for header, model in spec.model_columns
    ]


def _tick(x: float, _pos=None) -> str:
    """A log axis tick as people write it: 500, 6k, 1.5M (not 10^5)."""
    for scale, suffix in ((1e6, "M"), (1e3, "k")):
        if abs(x) >= scale:
            return f"{x / scale:g}{suffix}"
    return f"{x:g}"


def _log_axis(ax, values: pd.Series) -> None:
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    ax.set_xscale("log")
    positive = values[values > 0]
    decades = math.log10(positive.max() / positive.min()) if len(positive) else 0.0
    ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0,) if decades > 3 else (1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(FuncFormatter(_tick))
    ax.xaxis.set_minor_formatter(NullFormatter())


# Vertical space of the bands around the panels (inches): title and legend above, notes below.
TITLE_IN, LEGEND_IN, NOTE_LINE_IN = 0.35, 0.3, 0.16
NOTE_FONT = 7


def figure(spec: TableSpec, table: pd.DataFrame, data_note: str):
    """The bar charts of plot() as a matplotlib figure: per row, the paper's value beside the reproduced mean (± std);
    a missing value is labelled (not drawn as a zero bar); the data note and the labels are explained below."""
    import textwrap

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.transforms import blended_transform_factory

    panels = _panels(spec, table)
    n_rows_max = max(len(sub) for _, sub, _, _, _ in panels)
    ncols = 2 if len(panels) > 1 else 1
    nrows = math.ceil(len(panels) / ncols)
    width = 6.5 * ncols
    missing_paper = any(sub["paper"].isna().any() for _, sub, _, _, _ in panels)
    cited = set(spec.cited_labels)
    missing_rep = any(sub.loc[~sub.index.isin(cited), "reproduced"].isna().any() for _, sub, _, _, _ in panels)
    note = [f"Data: {data_note}."]
    if cited:
        note.append(f"{CITED}: the paper's value of another work, not reproduced.")
    if missing_rep:
        note.append("n/a: no reproduced value (no run, or the run has no such value); a bar of length 0 is a value 0.")
    if missing_paper:
        note.append("not printed: the paper prints no value.")
    wrapped = [w for line in note for w in textwrap.wrap(line, int(width * 17))]
    bottom_in = NOTE_LINE_IN * len(wrapped) + 0.15
    top_in = TITLE_IN + LEGEND_IN
    height = 0.32 * n_rows_max * nrows + 1.5 + top_in + bottom_in
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(width, height), squeeze=False, sharex=not spec.is_models_layout and bool(spec.models)
    )
    h = 0.4
    for ax, (title, sub, xlim, xlabel, log_x) in zip(axes.flat, panels, strict=False):
        y = np.arange(len(sub))
        paper, rep = sub["paper"].to_numpy(dtype=float), sub["reproduced"].to_numpy(dtype=float)
        has_paper, has_rep = ~np.isnan(paper), ~np.isnan(rep)
        ax.barh(y[has_paper] - h / 2, paper[has_paper], height=h, color="#4c72b0", label="paper")
        ax.barh(
            y[has_rep] + h / 2,
            rep[has_rep],
            height=h,
            color="#dd8452",
            label="reproduced (mean ± std)",
            xerr=np.nan_to_num(sub["std"].to_numpy(dtype=float)[has_rep]),
            error_kw={"elinewidth": 0.8, "capsize": 2},
        )
        at_left = blended_transform_factory(ax.transAxes, ax.transData)
        for yy in y[~has_paper]:
            ax.text(0.005, yy - h / 2, "not printed", transform=at_left, va="center", fontsize=6, color="#4c72b0")
        for yy in y[~has_rep]:
            text = CITED if sub.index[yy] in cited else "n/a"
            ax.text(0.005, yy + h / 2, text, transform=at_left, va="center", fontsize=6, color="#b85a1a")
        ax.set_yticks(y, list(sub.index), fontsize=8)
        ax.set_ylim(len(sub) - 0.5, -0.5)  # first row on top
        if xlim is not None:
            ax.set_xlim(*xlim)
        if log_x:
            _log_axis(ax, pd.Series(np.concatenate([paper[has_paper], rep[has_rep]])))
        ax.set_title(title, fontsize=10)
        ax.grid(axis="x", alpha=0.3)
        if xlim is None:
            ax.set_xlabel(xlabel, fontsize=8)
    for ax in list(axes.flat)[len(panels) :]:
        ax.set_visible(False)
    if panels[0][2] is not None:  # shared F1 axis: label the bottom row only
        for ax in axes[-1]:
            ax.set_xlabel(panels[0][3])
    fig.suptitle(
        f"{spec.name} ({spec.dataset}): paper vs reproduced",
        fontsize=11,
        x=0.01,
        y=1 - 0.08 / height,
        ha="left",
        va="top",
    )
    # the legend has its own band between the title and the panels, so it covers neither
    handles, names = axes.flat[0].get_legend_handles_labels()
    fig.legend(
        handles,
        names,
        loc="upper left",
        bbox_to_anchor=(0.01, 1 - TITLE_IN / height),
        fontsize=8,
        ncols=2,
        frameon=False,
    )
    fig.text(0.01, 0.08 / height, "\n".join(wrapped), fontsize=NOTE_FONT, ha="left", va="bottom")
    fig.tight_layout(rect=(0, bottom_in / height, 1, 1 - top_in / height))
    return fig


def plot(spec: TableSpec, table: pd.DataFrame, path: str | Path, data_note: str) -> None:
    """figure() written as a PNG."""
    import matplotlib.pyplot as plt

    fig = figure(spec, table, data_note)
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png", dpi=110, metadata={"Software": None})
    plt.close(fig)


def build_parser():
    p = cli.parser("Render a paper table with the reproduced numbers beside the published ones.")
    p.add_argument("--paper", required=True, help=f"one of {', '.join(papers.names())}")
    p.add_argument("--table", required=True, help="table name of the paper, e.g. table1")
    p.add_argument(
        "--metrics",
        nargs="*",
        default=[],
        help="metrics.json files (model and seed are read from them); none for a dataset-statistics table",
    )
    p.add_argument(
        "--train",
        nargs="*",
        default=[],
        help="train.json files of the same runs (training time, parameters, checkpoint size, epochs)",
    )
    p.add_argument(
        "--index", help="dataset index directory: statistic columns and the clip counts of the notes (its manifest)"
    )
    p.add_argument(
        "--assignment",
        nargs="*",
        default=[],
        help="<pipeline>=<assignment.tsv> of each pipeline of the table's models (the split stage's): the clips of "
        "the evaluation set, counted in the notes against the index's manifest",
    )
    p.add_argument("--paper-values", help="transcribed paper-values TSV (default: the paper's values_path)")
    p.add_argument("--data-note", required=True, help="which data the numbers come from (embedded synthetic or real)")
    p.add_argument("--out-md", required=True)
    p.add_argument("--out-html", required=True, help="the same page as HTML (what the Snakemake report shows)")
    p.add_argument("--out-csv", required=True)
    p.add_argument("--out-tex", required=True)
    p.add_argument("--out-png", required=True)
    return p


def main(args) -> None:
    paper = papers.get(args.paper)
    spec = paper.table(args.table)
    args.paper_values = args.paper_values or paper.values_path
    pv = load_paper_values(args.paper_values)
    metrics = load_metrics(args.metrics)
    stats = dataset_stats(spec.dataset, args.index) if (args.index and spec.stats) else None
    train = load_train(args.train, metrics)
    assignments = parse_assignments(args.assignment)
    table = build_table(spec, metrics, pv, stats, train)
    summary = summarize_runs(spec, metrics)
    note_lines = notes(
        spec,
        summary,
        args.data_note,
        paper.notes,
        have_stats=stats is not None,
        hardware=hardware_notes(spec, train, metrics),
        ranking=ranking_notes(spec, metrics),
        missing=bool(table.loc[~table["row"].isin(spec.cited_labels), "reproduced"].isna().any()),
        coverage=coverage_notes(spec, args.index, assignments),
    )
    note_lines.append(configuration_note(provenance.configuration()))
    out_md = Path(args.out_md)
    write_text(out_md, markdown(spec, table, note_lines))
    write_text(args.out_html, html(spec, table, note_lines))
    write_text(args.out_csv, csv_text(table, spec))
    write_text(args.out_tex, latex(spec, table, args.data_note))
    plot(spec, table, args.out_png, args.data_note)
    inputs = list(args.metrics) + list(args.train) + [args.paper_values]
    if stats is not None:
        inputs.append(str(Path(args.index) / "events.tsv"))
    if args.index and (spec.stats or assignments):  # what coverage_notes read
        inputs += [str(Path(args.index) / name) for name in ("files.tsv", "manifest.tsv")]
        inputs += [str(p) for p in assignments.values()]
    config = {
        "paper": args.paper,
        "table": args.table,
        "data_note": args.data_note,
        "threshold": summary["threshold"],
        "segment_s": summary["segment_s"],
    }
    provenance.write_sidecar(out_md, config, inputs=inputs)
    log.info("wrote %s, %s, %s, %s, %s", args.out_md, args.out_html, args.out_csv, args.out_tex, args.out_png)


if __name__ == "__main__":
    cli.run(main, build_parser())
