"""Registry of reproduced papers: each module describes its tables as data (a tuple of TableSpec).

Adding a paper = adding one module here with a module-level ``TABLES`` tuple (and optionally ``NOTES``),
listing it in NAMES, and transcribing its numbers into config/paper_values/<name>.tsv.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING

from ..io import fail

if TYPE_CHECKING:
    import pandas as pd

NAMES = ("hypernetworks",)

AVERAGE = "Average"
OVERALL = "Overall"


@dataclass(frozen=True)
class TableSpec:
    """One published results table.

    name: id used in the paper-values TSV `table` column and on the command line ("table1").
    caption: the paper's caption.
    dataset: the config dataset name whose test split the table reports.
    model_columns: (header as printed, config model name) in the paper's column order.
    stat_columns: (header as printed, statistic name) for dataset-statistic columns, in order.
    rows: (row label as printed, key in the metrics f1 dict: a dataset label, "Average" or "Overall").
    """

    name: str
    caption: str
    dataset: str
    model_columns: tuple[tuple[str, str], ...]
    stat_columns: tuple[tuple[str, str], ...]
    rows: tuple[tuple[str, str], ...]

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

    def column_header(self, column: str) -> str:
        for header, key in self.stat_columns + self.model_columns:
            if key == column:
                return header
        raise KeyError(column)


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
    lines = path.read_text(encoding="utf-8").splitlines()
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
    """Every cell of the spec is transcribed, and nothing else is transcribed under the spec's table name."""
    pv = paper_values[paper_values["table"] == spec.name]
    have = set(zip(pv["row"], pv["column"], strict=True))
    want = set()
    for label, key in spec.rows:
        for col in spec.models:
            want.add((label, col))
        if key not in (AVERAGE, OVERALL):
            for col in spec.stats:
                want.add((label, col))
    missing, extra = sorted(want - have), sorted(have - want)
    if missing:
        raise fail(where, f"a value for every cell of {spec.name}", f"none for row {missing[0][0]!r}, column {missing[0][1]!r} ({len(missing)} missing)")
    if extra:
        raise fail(where, f"only cells of {spec.name}'s rows and columns", f"row {extra[0][0]!r}, column {extra[0][1]!r}")
