"""Reproduced papers: each is one `Paper` (its tables, figures, notes and audit checks, as data) in ``PAPERS``.

Adding a paper = one module that builds a `Paper` and registers it with `register` (built-in ones are imported at
the end of this file; a plugin module registers on import), and its numbers transcribed into its `values_path`
(config/paper_values/<name>.tsv unless it names another). Every part of a paper is checked when it is defined: a misspelt field, a check or
figure naming a table or metric that does not exist, stops the import with one line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import TYPE_CHECKING, NamedTuple

from .. import figures  # the figure kinds (it imports this package only inside its functions)
from ..io import fail, read_text
from ..metrics import METRICS
from ..registry import Registry

if TYPE_CHECKING:
    import pandas as pd

AVERAGE = "Average"
OVERALL = "Overall"
TEXT = "text"  # paper-values table name of numbers stated in the paper's text
CLASSES_LAYOUT = "classes"  # rows are dataset classes (+ Average/Overall), columns are statistics and models
MODELS_LAYOUT = "models"  # rows are models, columns are run metrics (the dessed paper's Table 4)
# Run metrics a "models" table (or a text row) can show: a scalar metric of the registry (sedrepro.metrics; its
# values in metrics.json), one key of a per-class metric spelt "<metric>@<key>" ("event_f1@Average": the macro
# average), or one of these facts of train.json.
TRAIN_METRICS = ("train_time_min", "parameters", "size_kb", "epochs")
METRIC_KEY = "@"
VALUES_DIR = "config/paper_values"  # a paper's transcribed values by default (Paper.values_path), repository-relative
# Dataset statistics a table column can show (sedrepro.render.dataset_stats computes them from the index).
STATISTICS = ("n_events", "avg_dur_s", "total_dur_s")
# History metrics a curves/compare figure draws (history.csv's val_<m> and, where training records it, train_<m>
# columns; auc and ap: the validation mean ROC AUC and average precision of a clip-tags target).
HISTORY_METRICS = ("accuracy", "loss", "auc", "ap")
# Target names the workflow builds (workflow.wildcard_constraints). A table may be named like a figure when the paper
# prints a table as a "Figure" (the MTL-VAE paper's Figures 2-3); a paper's tables and figures never share a name.
TABLE_NAME = re.compile(r"(?:table|figure)\d+")
FIGURE_NAME = re.compile(r"figure\d+")


# A models table's column may read another evaluation set than the table's: "<set>:<run metric>"
# ("public_eval:event_f1@Average"), for papers that print several sets side by side.
SET_PREFIX = ":"


def split_run_metric(metric: str) -> tuple[str, str | None]:
    """(registered metric or train fact, key of a per-class metric or None), without a set prefix:
    "event_f1@Average" -> ("event_f1", "Average"), "psds" -> ("psds", None), "public_eval:psds" -> ("psds", None)."""
    name, sep, key = metric.rpartition(SET_PREFIX)[2].partition(METRIC_KEY)
    return name, (key if sep else None)


def column_set(metric: str, default: str) -> str:
    """The evaluation set a run-metric column reads: its "<set>:" prefix, else `default` (the table's)."""
    found, sep, _ = metric.rpartition(SET_PREFIX)
    return found if sep else default


def check_run_metric(metric: str, where: str) -> None:
    """The one check of a table's run metric: a registered single-value metric (sedrepro.metrics), one key of a
    registered per-class metric ("<metric>@<key>": a class, Average or Overall) or a fact of train.json
    (TRAIN_METRICS); a registered metric may name its evaluation set ("<set>:<metric>")."""
    scalar = tuple(n for n, m in METRICS.items() if not m.per_class)
    per_class = tuple(n for n, m in METRICS.items() if m.per_class)
    name, key = split_run_metric(metric) if isinstance(metric, str) else (metric, None)
    prefixed = isinstance(metric, str) and SET_PREFIX in metric
    if prefixed and not metric.partition(SET_PREFIX)[0]:
        pass  # an empty set name: not a run metric
    elif (key is None and ((name in TRAIN_METRICS and not prefixed) or name in scalar)) or (key and name in per_class):
        return
    raise fail(
        where,
        f"run metrics among {', '.join(scalar + TRAIN_METRICS)} or <metric>{METRIC_KEY}<key> of a per-class metric "
        f"({', '.join(per_class)})",
        repr(metric),
    )


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
        columns (header as printed, a run metric: a registered scalar metric, "<per-class metric>@<key>" such as
        "event_f1@Average" for its macro average, or one of TRAIN_METRICS); `rows` is then empty.
    metric_columns: see layout.
    metric_scales: (metric column key, factor) from the metric's unit to the paper's (100 for a score in [0, 1]
        printed in %); 1 where not declared.
    cited_rows: (row label as printed, where the paper cites it from) of a models table: other works' results the
        paper prints beside its own. Shown above the models with the paper's values only (transcribed like other
        cells; "-" cells are `unprinted`), never reproduced, compared or audited.
    f1_scale: factor from the metrics' F1 (%) to the paper's unit (0.01 for F1 printed on a 0-1 scale).
    text_metrics: (label, run metric) of numbers the paper states in its text rather than in the table, shown
        as extra rows (classes layout) or columns (models layout); their published values are transcribed under
        table "text" with row = label and column = model.
    unprinted: (row label, column) cells of the grid the paper leaves empty (shown as "–" on the paper side).
    ratio_columns: (header, key, metric) derived columns of a models table: metric / metric of ratio_reference,
        for the paper's values and the reproduced ones alike.
    ratio_reference: the model the ratio columns divide by.
    units: the sentence under the title saying what the numbers are.
    min_decimals: (column key, decimals) shown at least, whatever the paper prints (a reproduced run of seconds is
        0.3 min, not 0); the only decimals a ratio column has.
    """

    name: str
    caption: str
    dataset: str
    model_columns: tuple[tuple[str, str], ...]
    stat_columns: tuple[tuple[str, str], ...]
    rows: tuple[tuple[str, str], ...]
    layout: str = CLASSES_LAYOUT
    metric_columns: tuple[tuple[str, str], ...] = ()
    metric_scales: tuple[tuple[str, float], ...] = ()
    cited_rows: tuple[tuple[str, str], ...] = ()
    f1_scale: float = 1.0
    text_metrics: tuple[tuple[str, str], ...] = ()
    unprinted: tuple[tuple[str, str], ...] = ()
    ratio_columns: tuple[tuple[str, str, str], ...] = ()
    ratio_reference: str | None = None
    units: str = "F1 in %, durations in s."
    min_decimals: tuple[tuple[str, int], ...] = ()
    metric: str = "segment_f1"
    evaluation_set: str = "test"

    def __post_init__(self) -> None:
        where = f"TableSpec {self.name}"
        if self.layout not in (CLASSES_LAYOUT, MODELS_LAYOUT):
            raise fail(where, f"layout {CLASSES_LAYOUT!r} or {MODELS_LAYOUT!r}", repr(self.layout))
        if not METRICS.get(self.metric, f"{where} metric").per_class:
            raise fail(f"{where} metric", "a per-class metric (its keys are the rows)", repr(self.metric))
        for _, metric in self.metric_columns + self.text_metrics + tuple((h, m) for h, _, m in self.ratio_columns):
            check_run_metric(metric, where)
        for _, stat in self.stat_columns:
            if stat not in STATISTICS:
                raise fail(where, f"statistic columns among {', '.join(STATISTICS)}", repr(stat))
        if self.is_models_layout and (self.rows or self.stat_columns):
            raise fail(
                where,
                "no rows or statistic columns in a models table (its rows are the models)",
                f"{len(self.rows)} rows, {len(self.stat_columns)} statistic columns",
            )
        if not self.is_models_layout and (self.metric_columns or self.ratio_columns):
            raise fail(where, "metric and ratio columns only in a models table", f"layout {self.layout!r}")
        if not self.is_models_layout and self.cited_rows:
            raise fail(where, "cited rows only in a models table (rows of cited works)", f"layout {self.layout!r}")
        metric_keys = tuple(k for _, k in self.metric_columns)
        for column, factor in self.metric_scales:
            if column not in metric_keys:
                raise fail(
                    where, f"metric_scales of the metric columns ({', '.join(metric_keys) or 'none'})", repr(column)
                )
            if isinstance(factor, bool) or not isinstance(factor, int | float) or not factor > 0:
                raise fail(where, f"a positive scale factor for {column!r}", repr(factor))
        labels = [label for label, _ in self.grid_rows]
        if len(set(labels)) != len(labels):
            raise fail(where, "distinct row labels (cited rows and models)", ", ".join(labels))
        for label, source in self.cited_rows:
            if not (isinstance(label, str) and label and isinstance(source, str) and source):
                raise fail(where, "cited rows as (row label, where it is cited from)", repr((label, source)))
        if self.ratio_columns and self.ratio_reference not in self.models:
            raise fail(where, "a ratio_reference among the model columns", repr(self.ratio_reference))
        labels, columns = {label for label, _ in self.grid_rows}, set(self.grid_columns)
        for row, column in self.unprinted:
            if row not in labels or column not in columns:
                raise fail(where, "unprinted cells of the table's rows and columns", repr((row, column)))
        for column, decimals in self.min_decimals:
            if column not in columns:
                raise fail(where, f"min_decimals of the table's columns ({', '.join(self.grid_columns)})", repr(column))
            if not isinstance(decimals, int) or decimals < 0:
                raise fail(where, f"a whole number of decimals >= 0 for {column!r}", repr(decimals))

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
        """(label, key) of the rendered rows: cited rows then models (models layout), or rows then text rows (classes
        layout)."""
        if self.is_models_layout:
            return self.cited_rows + self.model_columns
        return self.rows + tuple((label, label) for label, _ in self.text_metrics)

    @property
    def grid_columns(self) -> tuple[str, ...]:
        """Column keys of the rendered grid in order."""
        if self.is_models_layout:
            return (
                tuple(m for _, m in self.metric_columns)
                + tuple(lab for lab, _ in self.text_metrics)
                + tuple(k for _, k, _ in self.ratio_columns)
            )
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

    @property
    def cited_labels(self) -> tuple[str, ...]:
        return tuple(label for label, _ in self.cited_rows)

    def scale(self, column: str) -> float:
        """Factor from a metric column's unit to the paper's (metric_scales; 1 where not declared)."""
        return float(dict(self.metric_scales).get(column, 1.0))

    def least_decimals(self, column: str) -> int:
        """Decimals a column shows at least (min_decimals; 0 where not declared)."""
        return dict(self.min_decimals).get(column, 0)

    def printed_cells(self) -> set[tuple[str, str]]:
        """(row label, column) of every number the paper prints in this table (not its text numbers)."""
        want = set()
        if self.is_models_layout:
            want = {(label, metric) for label, _ in self.grid_rows for _, metric in self.metric_columns}
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


@dataclass(frozen=True)
class FigureSpec:
    """One figure of a paper, rebuilt from data (sedrepro.figures).

    kind: a registered figure kind (sedrepro.figures.KINDS: it declares the inputs the workflow gives it and checks
        the fields below), e.g. "clip_durations" / "event_durations" (histograms of the index), "curves" (training
        history of each model, one panel per metric), "compare" (one history metric of several models in one panel),
        "classwise" (per-class values of one per-class metric of two or more models as grouped bars).
    models: (label as printed, config model name) whose runs the figure draws; none for a histogram.
    metrics: what is drawn: history metrics (HISTORY_METRICS) for curves/compare, one registered per-class metric
        for classwise.
    evaluation_set: the evaluation set a figure of scores (classwise) reads.
    sweep: (config sweep entry, swept key) whose runs are drawn after `models`, one curve per value the config lists
        (labels "<leaf of key> = <value>"; sedrepro.expand.sweep_runs), or None.
    """

    name: str
    caption: str
    kind: str
    dataset: str
    models: tuple[tuple[str, str], ...] = ()
    metrics: tuple[str, ...] = ()
    evaluation_set: str = "test"
    sweep: tuple[str, str] | None = None

    def __post_init__(self) -> None:
        where = f"FigureSpec {self.name}"
        if self.sweep is not None and not (
            isinstance(self.sweep, tuple) and len(self.sweep) == 2 and all(isinstance(s, str) and s for s in self.sweep)
        ):
            raise fail(where, "sweep as (config sweep entry, swept key)", repr(self.sweep))
        figures.KINDS.get(self.kind, f"{where} kind").check(self, where)

    def runs(self, model_names) -> tuple[tuple[str, str], ...]:
        """(label, model) of every run the figure draws: its models, then its sweep's runs among `model_names` (an
        expanded models section, or the runs whose histories the figure was given)."""
        from ..expand import sweep_runs

        return self.models + (tuple(sweep_runs(model_names, *self.sweep)) if self.sweep else ())


class TextCell(NamedTuple):
    """A transcribed value, by its (table, row, column) in the paper-values TSV."""

    table: str
    row: str
    column: str


class CrossPaperEvents(NamedTuple):
    """Count table of this paper against another paper's per-class total / mean event durations of the same data."""

    paper: str  # the other paper
    table: str  # its table with avg_dur_s and total_dur_s columns
    counts: str  # this paper's count table


class SizeCheck(NamedTuple):
    """A models table whose parameter counts and on-disk sizes are checked against each other."""

    table: str
    parameters: str  # column key of the parameter counts
    size: str  # column key of the sizes in KB


@dataclass(frozen=True, eq=False)
class Paper:
    """One reproduced paper: what the workflow builds for it and what its audit checks (sedrepro.audit).

    name: the registry name (results/<name>/, the config's `papers` list).
    values_path: the TSV of its transcribed values (PAPER_VALUE_COLUMNS), relative to the repository or absolute (a
        plugin keeps its values beside its module); by default config/paper_values/<name>.tsv.
    tables, figures: what is rebuilt (names tableN / figureN, the workflow's targets).
    notes: every difference from the paper, under each of its tables.
    not_checkable: what the audit cannot check from the paper, and why.
    Audit checks (each optional):
    dataset_durations: table -> TextCell of the dataset duration (min) the text states, against the sum of the
        table's total_dur_s column.
    count_totals: count table -> TextCell of the total the text states for its count column.
    size_table: SizeCheck of a models table (bytes per parameter).
    annotation_counts: the count table compared with the events of its dataset's index.
    cross_paper_events: CrossPaperEvents (the other paper is looked up when this one is, see `get`).
    text_claims: claims TSV of the numeric statements of the text (sedrepro.claims), relative to the repository.
    """

    name: str
    tables: tuple[TableSpec, ...]
    figures: tuple[FigureSpec, ...] = ()
    notes: tuple[str, ...] = ()
    not_checkable: tuple[str, ...] = ()
    dataset_durations: dict[str, TextCell] = dataclass_field(default_factory=dict)
    count_totals: dict[str, TextCell] = dataclass_field(default_factory=dict)
    size_table: SizeCheck | None = None
    annotation_counts: str | None = None
    cross_paper_events: CrossPaperEvents | None = None
    text_claims: str | None = None
    values_path: str | None = None

    def __post_init__(self) -> None:
        where = f"paper {self.name!r}"
        if not isinstance(self.name, str) or not re.fullmatch(r"\w+", self.name):
            raise fail("paper", "a name of letters, digits and _", repr(self.name))
        if self.values_path is None:
            object.__setattr__(self, "values_path", f"{VALUES_DIR}/{self.name}.tsv")  # frozen: set once, here
        elif not (isinstance(self.values_path, str) and self.values_path.endswith(".tsv")):
            raise fail(f"{where} values_path", "the path of a paper-values TSV", repr(self.values_path))
        self._check_parts(f"{where} tables", self.tables, TableSpec, TABLE_NAME, required=True)
        self._check_parts(f"{where} figures", self.figures, FigureSpec, FIGURE_NAME)
        shared = sorted({t.name for t in self.tables} & {f.name for f in self.figures})
        if shared:
            raise fail(f"{where} figures", "names no table of the paper has (one target each)", repr(shared[0]))
        for key in ("notes", "not_checkable"):
            lines = getattr(self, key)
            if not isinstance(lines, tuple) or not all(isinstance(s, str) and s for s in lines):
                raise fail(f"{where} {key}", "a tuple of non-empty strings", repr(lines)[:80])
        for key, column in (("dataset_durations", "total_dur_s"), ("count_totals", None)):
            for table, cell in getattr(self, key).items():
                spec = self.table(table, f"{where} {key}")
                if column is None:
                    self._count_column(spec, f"{where} {key}")
                elif column not in spec.stats:
                    raise fail(f"{where} {key}", f"a table with a {column} column", repr(table))
                self._check_cell(cell, f"{where} {key}[{table!r}]")
        if self.size_table is not None:
            at = f"{where} size_table"
            if not isinstance(self.size_table, tuple) or len(self.size_table) != 3:
                raise fail(at, "SizeCheck(table, parameters, size)", repr(self.size_table))
            spec = self.table(self.size_table[0], at)
            keys = tuple(k for _, k in spec.metric_columns)
            for key in self.size_table[1:]:
                if key not in keys:
                    raise fail(at, f"metric columns of {spec.name} ({', '.join(keys) or 'none'})", repr(key))
        if self.annotation_counts is not None:
            self._count_column(
                self.table(self.annotation_counts, f"{where} annotation_counts"), f"{where} annotation_counts"
            )
        if self.cross_paper_events is not None:
            at = f"{where} cross_paper_events"
            if not isinstance(self.cross_paper_events, tuple) or len(self.cross_paper_events) != 3:
                raise fail(at, "CrossPaperEvents(paper, table, counts)", repr(self.cross_paper_events))
            self._count_column(self.table(self.cross_paper_events[2], at), at)
        if self.text_claims is not None and not (
            isinstance(self.text_claims, str) and self.text_claims.endswith(".tsv")
        ):
            raise fail(f"{where} text_claims", "the path of a claims TSV", repr(self.text_claims))

    @staticmethod
    def _check_parts(where: str, parts, kind: type, pattern: re.Pattern, required: bool = False) -> None:
        if not isinstance(parts, tuple) or not all(isinstance(p, kind) for p in parts) or (required and not parts):
            raise fail(where, f"a {'non-empty ' if required else ''}tuple of {kind.__name__}", repr(parts)[:80])
        seen = set()
        for part in parts:
            if not pattern.fullmatch(part.name):
                raise fail(where, f"names like {pattern.pattern} (the workflow's targets)", repr(part.name))
            if part.name in seen:
                raise fail(where, "each name once", f"{part.name!r} twice")
            seen.add(part.name)

    @staticmethod
    def _check_cell(cell, where: str) -> None:
        if not (isinstance(cell, tuple) and len(cell) == 3 and all(isinstance(s, str) and s for s in cell)):
            raise fail(where, "TextCell(table, row, column)", repr(cell))

    @staticmethod
    def _count_column(spec: TableSpec, where: str) -> str:
        if len(spec.stats) != 1:
            raise fail(where, f"a table with one count column ({spec.name} has {len(spec.stats)})", repr(spec.name))
        return spec.stats[0]

    def table(self, name: str, where: str | None = None) -> TableSpec:
        """One TableSpec by name; an unknown name is one line listing the paper's tables."""
        for spec in self.tables:
            if spec.name == name:
                return spec
        raise fail(
            where or f"--table of paper {self.name!r}", f"one of {', '.join(s.name for s in self.tables)}", repr(name)
        )

    def figure(self, name: str, where: str | None = None) -> FigureSpec:
        """One FigureSpec by name; an unknown name is one line listing the paper's figures."""
        for spec in self.figures:
            if spec.name == name:
                return spec
        raise fail(
            where or f"--figure of paper {self.name!r}",
            f"one of {', '.join(f.name for f in self.figures) or '(none)'}",
            repr(name),
        )


PAPERS: Registry[Paper] = Registry("paper")


def register(paper: Paper) -> Paper:
    """Add a paper to PAPERS under its own name (a paper module calls this on import)."""
    if not isinstance(paper, Paper):
        raise TypeError(f"papers.register takes a Paper, got {type(paper).__name__}")
    return PAPERS.register(paper.name, paper)


def names() -> tuple[str, ...]:
    return PAPERS.names()


def get(name: str) -> Paper:
    """The registered Paper; its references to other papers are resolved here (they may register after it)."""
    paper = PAPERS.get(name, "--paper")
    cross = paper.cross_paper_events
    if cross is not None:
        at = f"paper {name!r} cross_paper_events"
        other = PAPERS.get(cross.paper, at).table(cross.table, at)
        missing = [c for c in ("avg_dur_s", "total_dur_s") if c not in other.stats]
        if missing:
            raise fail(
                at,
                f"a table of {cross.paper!r} with avg_dur_s and total_dur_s columns",
                f"{other.name} without {', '.join(missing)}",
            )
    return paper


def table(paper: str, name: str) -> TableSpec:
    """One TableSpec of a paper by its name."""
    return get(paper).table(name)


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
        raise fail(
            where,
            f"a value for every cell of {spec.name}",
            f"none for row {missing[0][0]!r}, column {missing[0][1]!r} ({len(missing)} missing)",
        )
    if extra:
        raise fail(
            where, f"only cells of {spec.name}'s rows and columns", f"row {extra[0][0]!r}, column {extra[0][1]!r}"
        )
    text = paper_values[paper_values["table"] == TEXT]
    have_text = set(zip(text["row"], text["column"], strict=True))
    missing = sorted(spec.text_cells() - have_text)
    if missing:
        raise fail(
            where,
            f"the text value {missing[0][0]!r} of {missing[0][1]!r} shown in {spec.name} under table {TEXT!r}",
            f"no such line ({len(missing)} missing)",
        )


def paper_value(paper_values, table: str, row: str, column: str, where: str = "paper values") -> float:
    """One transcribed value; a missing line stops with one line naming it."""
    hit = paper_values[
        (paper_values["table"] == table) & (paper_values["row"] == row) & (paper_values["column"] == column)
    ]
    if hit.empty:
        raise fail(where, f"a transcribed value ({table}, {row}, {column})", "no such line")
    return float(hit["value"].iloc[0])


# The built-in papers register themselves (after everything above is defined: they import it).
from . import audioset, dessed, hypernetworks, mtl_vae, ssa  # noqa: E402, F401
