"""Registry of reproduced papers: each module describes its tables as data (a tuple of TableSpec).

Adding a paper = adding one module here with a module-level ``TABLES`` tuple (and optionally ``NOTES``),
listing it in NAMES, and transcribing its numbers into config/paper_values/<name>.tsv.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING

from ..io import fail, read_text
from ..metrics import METRICS

if TYPE_CHECKING:
    import pandas as pd

NAMES = ("hypernetworks", "dessed")

AVERAGE = "Average"
OVERALL = "Overall"
TEXT = "text"  # paper-values table name of numbers stated in the paper's text
CLASSES_LAYOUT = "classes"  # rows are dataset classes (+ Average/Overall), columns are statistics and models
MODELS_LAYOUT = "models"  # rows are models, columns are run metrics (the dessed paper's Table 4)
# Run metrics a "models" table (or a text row) can show: a scalar metric of the registry (sedrepro.metrics; its
# values in metrics.json), or one of these facts of train.json.
TRAIN_METRICS = ("train_time_min", "parameters", "size_kb", "epochs")


@dataclass(frozen=True)
class TableSpec:
    """One published results table.

    name: id used in the paper-values TSV `table` column and on the command line ("table1").
    caption: the paper's caption.
    dataset: the config dataset name whose test split the table reports.
    model_columns: (header as printed, config model name) in the paper's column order.
    stat_columns: (header as printed, statistic name) for dataset-statistic columns, in order.
    rows: (row label as printed, key of the per-class `metric`: a dataset label, "Average" or "Overall").
    metric: the registered per-class metric the rows read (its key per row); evaluation_set: the evaluation set
        every metric cell of the table reads.

    Optional, for papers that print more than per-class F1 (defaults keep the hypernetworks tables as they were):
    layout: CLASSES_LAYOUT, or MODELS_LAYOUT where model_columns are the table's rows and metric_columns its
        columns (header as printed, a registered scalar metric or one of TRAIN_METRICS); `rows` is then empty.
    metric_columns: see layout.
    f1_scale: factor from the metrics' F1 (%) to the paper's unit (0.01 for F1 printed on a 0-1 scale).
    text_metrics: (label, run metric) of numbers the paper states in its text rather than in the table, shown
        as extra rows (classes layout) or columns (models layout); their published values are transcribed under
        table "text" with row = label and column = model.
    unprinted: (row label, column) cells of the grid the paper leaves empty (shown as "–" on the paper side).
    ratio_columns: (header, key, metric) derived columns of a models table: metric / metric of ratio_reference,
        for the paper's values and the reproduced ones alike.
    ratio_reference: the model the ratio columns divide by.
    units: the sentence under the title saying what the numbers are.
    """

    name: str
    caption: str
    dataset: str
    model_columns: tuple[tuple[str, str], ...]
    stat_columns: tuple[tuple[str, str], ...]
    rows: tuple[tuple[str, str], ...]
    layout: str = CLASSES_LAYOUT
    metric_columns: tuple[tuple[str, str], ...] = ()
    f1_scale: float = 1.0
    text_metrics: tuple[tuple[str, str], ...] = ()
    unprinted: tuple[tuple[str, str], ...] = ()
    ratio_columns: tuple[tuple[str, str, str], ...] = ()
    ratio_reference: str | None = None
    units: str = "F1 in %, durations in s."
    metric: str = "segment_f1"
    evaluation_set: str = "test"

    def __post_init__(self) -> None:
        where = f"TableSpec {self.name}"
        if self.layout not in (CLASSES_LAYOUT, MODELS_LAYOUT):
            raise fail(where, f"layout {CLASSES_LAYOUT!r} or {MODELS_LAYOUT!r}", repr(self.layout))
        if not METRICS.get(self.metric, f"{where} metric").per_class:
            raise fail(f"{where} metric", "a per-class metric (its keys are the rows)", repr(self.metric))
        scalar = tuple(n for n, m in METRICS.items() if not m.per_class)
        for _, metric in self.metric_columns + self.text_metrics + tuple((h, m) for h, _, m in self.ratio_columns):
            if metric not in TRAIN_METRICS and metric not in scalar:
                raise fail(where, f"run metrics among {', '.join(scalar + TRAIN_METRICS)}", repr(metric))
        if self.ratio_columns and self.ratio_reference not in self.models:
            raise fail(where, "a ratio_reference among the model columns", repr(self.ratio_reference))

    @property
    def models(self) -> tuple[str, ...]:
        return tuple(m for _, m in self.model_columns)

    @property
    def stats(self) -> tuple[str, ...]:
        return tuple(s for _, s in self.stat_columns)

    @property
    def class_rows(self) -> tuple[tuple[str, str], ...]:
        """Rows that are dataset classes (not Average/Overall)."""
        return tuple(r for r in self.rows if r[1] not in (AVERAGE, OVERALL))

    @property
    def is_models_layout(self) -> bool:
        return self.layout == MODELS_LAYOUT

    @property
    def grid_rows(self) -> tuple[tuple[str, str], ...]:
        """(label, key) of the rendered rows: models (models layout) or rows then text rows (classes layout)."""
        if self.is_models_layout:
            return self.model_columns
        return self.rows + tuple((label, label) for label, _ in self.text_metrics)

    @property
    def grid_columns(self) -> tuple[str, ...]:
        """Column keys of the rendered grid in order."""
        if self.is_models_layout:
            return tuple(m for _, m in self.metric_columns) + tuple(lab for lab, _ in self.text_metrics) \
                + tuple(k for _, k, _ in self.ratio_columns)
        return self.stats + self.models

    def column_header(self, column: str) -> str:
        for header, key in self.stat_columns + self.model_columns + self.metric_columns:
            if key == column:
                return header
        for header, key, _ in self.ratio_columns:
            if key == column:
                return header
        for label, _ in self.text_metrics:
            if label == column:
                return label
        raise KeyError(column)

    def printed_cells(self) -> set[tuple[str, str]]:
        """(row label, column) of every number the paper prints in this table (not its text numbers)."""
        want = set()
        if self.is_models_layout:
            want = {(label, metric) for label, _ in self.model_columns for _, metric in self.metric_columns}
        else:
            for label, key in self.rows:
                want |= {(label, col) for col in self.models}
                if key not in (AVERAGE, OVERALL):
                    want |= {(label, col) for col in self.stats}
        return want - set(self.unprinted)

    def text_cells(self) -> set[tuple[str, str]]:
        """(text label, model) of the numbers stated in the text that this table shows, less unprinted ones."""
        unprinted, out = set(self.unprinted), set()
        for row_label, model in self.model_columns:
            for label, _ in self.text_metrics:
                grid = (row_label, label) if self.is_models_layout else (label, model)
                if grid not in unprinted:
                    out.add((label, model))
        return out


def get(name: str) -> ModuleType:
    """The paper module (with TABLES) for a registered name."""
    if name not in NAMES:
        raise fail("--paper", f"one of {', '.join(NAMES)}", repr(name))
    return importlib.import_module(f"{__name__}.{name}")


def table(paper: str, name: str) -> TableSpec:
    """One TableSpec of a paper by its name."""
    mod = get(paper)
    for spec in mod.TABLES:
        if spec.name == name:
            return spec
    raise fail(f"--table of paper {paper!r}", f"one of {', '.join(s.name for s in mod.TABLES)}", repr(name))


PAPER_VALUE_COLUMNS = ("table", "row", "column", "value", "note")


def load_paper_values(path) -> pd.DataFrame:
    """Read a transcribed paper-values TSV (table, row, column, value, note) and validate every line.

    `value` must be a plain number as printed without thousands separators (1,614 -> 1614); `note` may be
    empty. A (table, row, column) cell may appear once. Bad lines raise InputError naming file:line.
    Returns a DataFrame with those columns, value as float, in file order.
    """
    import math
    from pathlib import Path

    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise fail(path, "a paper-values TSV", "no such file")
    lines = read_text(path).splitlines()
    if not lines or lines[0].split("\t") != list(PAPER_VALUE_COLUMNS):
        raise fail(f"{path}:1", "header " + "\\t".join(PAPER_VALUE_COLUMNS), repr(lines[0] if lines else ""))
    records, seen = [], {}
    for lineno, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        parts = line.split("\t")
        if len(parts) != len(PAPER_VALUE_COLUMNS):
            raise fail(f"{path}:{lineno}", f"{len(PAPER_VALUE_COLUMNS)} tab-separated fields", f"{len(parts)}")
        table_, row, column, value, note = (p.strip() for p in parts)
        for field, text in (("table", table_), ("row", row), ("column", column)):
            if not text:
                raise fail(f"{path}:{lineno}", f"a non-empty {field}", "an empty field")
        try:
            number = float(value)
        except ValueError:
            number = math.nan
        if not math.isfinite(number) or "," in value:
            raise fail(f"{path}:{lineno}", "a plain finite number in 'value' (1,614 -> 1614)", repr(value))
        key = (table_, row, column)
        if key in seen:
            raise fail(f"{path}:{lineno}", "each (table, row, column) once", f"a repeat of line {seen[key]}")
        seen[key] = lineno
        records.append({"table": table_, "row": row, "column": column, "value": number, "note": note})
    if not records:
        raise fail(path, "at least one value line", "none")
    return pd.DataFrame.from_records(records, columns=list(PAPER_VALUE_COLUMNS))


def check_paper_values(spec: TableSpec, paper_values, where: str = "paper values") -> None:
    """Every cell the spec says the paper prints is transcribed, nothing else is transcribed under the spec's
    table name, and every text number the table shows is transcribed under table "text"."""
    pv = paper_values[paper_values["table"] == spec.name]
    have = set(zip(pv["row"], pv["column"], strict=True))
    want = spec.printed_cells()
    missing, extra = sorted(want - have), sorted(have - want)
    if missing:
        raise fail(where, f"a value for every cell of {spec.name}", f"none for row {missing[0][0]!r}, column {missing[0][1]!r} ({len(missing)} missing)")
    if extra:
        raise fail(where, f"only cells of {spec.name}'s rows and columns", f"row {extra[0][0]!r}, column {extra[0][1]!r}")
    text = paper_values[paper_values["table"] == TEXT]
    have_text = set(zip(text["row"], text["column"], strict=True))
    missing = sorted(spec.text_cells() - have_text)
    if missing:
        raise fail(where, f"the text value {missing[0][0]!r} of {missing[0][1]!r} shown in {spec.name} under table {TEXT!r}",
                   f"no such line ({len(missing)} missing)")


def paper_value(paper_values, table: str, row: str, column: str, where: str = "paper values") -> float:
    """One transcribed value; a missing line stops with one line naming it."""
    hit = paper_values[(paper_values["table"] == table) & (paper_values["row"] == row) & (paper_values["column"] == column)]
    if hit.empty:
        raise fail(where, f"a transcribed value ({table}, {row}, {column})", "no such line")
    return float(hit["value"].iloc[0])
