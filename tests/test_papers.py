"""The paper interface: a Paper is checked when it is defined, registered papers are found by name, and a paper
defined here (outside the package) plugs in like the built-in ones."""

from __future__ import annotations

from dataclasses import replace

import pytest

from sedrepro import papers
from sedrepro.io import InputError
from sedrepro.papers import CrossPaperEvents, FigureSpec, Paper, SizeCheck, TableSpec, TextCell
from sedrepro.registry import Registry

COUNTS = TableSpec("table1", "Counts.", "toyset", (), (("n", "n_events"),), (("Cat", "cat"), ("Dog", "dog")))
DURATIONS = TableSpec(
    "table2",
    "Durations.",
    "toyset",
    (("A", "ma"),),
    (("Avg", "avg_dur_s"), ("Total", "total_dur_s")),
    (("Cat", "cat"),),
)
MODELS = TableSpec(
    "table3",
    "Models.",
    "toyset",
    (("A", "ma"), ("B", "mb")),
    (),
    (),
    layout="models",
    metric_columns=(("Params", "parameters"), ("KB", "size_kb"), ("Time", "train_time_min")),
    ratio_columns=(("Time / A's", "time_ratio", "train_time_min"),),
    ratio_reference="ma",
    min_decimals=(("time_ratio", 2),),
)
CURVES = FigureSpec("figure2", "Curves.", "curves", "toyset", (("A", "ma"),), ("loss",))


def toy(**fields) -> Paper:
    return Paper(**({"name": "toy", "tables": (COUNTS, DURATIONS, MODELS), "figures": (CURVES,)} | fields))


def test_a_complete_paper_is_accepted():
    paper = toy(
        notes=("A note.",),
        not_checkable=("Nothing.",),
        dataset_durations={"table2": TextCell("text", "duration", "min")},
        count_totals={"table1": TextCell("text", "clips", "count")},
        size_table=SizeCheck("table3", "parameters", "size_kb"),
        annotation_counts="table1",
        cross_paper_events=CrossPaperEvents("hypernetworks", "table1", "table1"),
        text_claims="config/paper_values/toy_claims.tsv",
    )
    assert paper.table("table3") is MODELS and paper.figure("figure2") is CURVES
    assert MODELS.least_decimals("time_ratio") == 2 and MODELS.least_decimals("parameters") == 0


BAD_PAPERS = {
    "unknown table": (
        dict(annotation_counts="table9"),
        "paper 'toy' annotation_counts: expected one of table1, table2, table3, found 'table9'",
    ),
    "no count column": (
        dict(count_totals={"table2": TextCell("text", "clips", "count")}),
        "paper 'toy' count_totals: expected a table with one count column .table2 has 2., found 'table2'",
    ),
    "no duration column": (
        dict(dataset_durations={"table1": TextCell("text", "d", "min")}),
        "paper 'toy' dataset_durations: expected a table with a total_dur_s column, found 'table1'",
    ),
    "bad text cell": (
        dict(count_totals={"table1": ("text", "clips")}),
        r"paper 'toy' count_totals\['table1'\]: expected TextCell\(table, row, column\), found",
    ),
    "size column": (
        dict(size_table=SizeCheck("table3", "parameters", "size_mb")),
        "paper 'toy' size_table: expected metric columns of table3 .parameters, size_kb, "
        "train_time_min., found 'size_mb'",
    ),
    "cross-paper counts": (
        dict(cross_paper_events=CrossPaperEvents("hypernetworks", "table1", "table3")),
        "paper 'toy' cross_paper_events: expected a table with one count column",
    ),
    "table name": (
        dict(tables=(replace(COUNTS, name="counts"),)),
        r"paper 'toy' tables: expected names like \(\?:table\|figure\)\\d\+ .the workflow's targets., found 'counts'",
    ),
    "table named like one of its figures": (
        dict(tables=(replace(COUNTS, name="figure1"),), figures=(replace(CURVES, name="figure1"),)),
        r"^paper 'toy' figures: expected names no table of the paper has \(one target each\), found 'figure1'$",
    ),
    "table twice": (dict(tables=(COUNTS, COUNTS)), "paper 'toy' tables: expected each name once, found 'table1' twice"),
    "no tables": (dict(tables=()), "paper 'toy' tables: expected a non-empty tuple of TableSpec, found \\(\\)$"),
    "figure name": (
        dict(figures=(replace(CURVES, name="fig2"),)),
        r"paper 'toy' figures: expected names like figure\\d\+ .the workflow's targets., found 'fig2'",
    ),
    "notes as one string": (
        dict(notes="A note."),
        "paper 'toy' notes: expected a tuple of non-empty strings, found 'A note.'",
    ),
    "claims path": (
        dict(text_claims="claims.csv"),
        "paper 'toy' text_claims: expected the path of a claims TSV, found 'claims.csv'",
    ),
    "name": (dict(name="to y"), "paper: expected a name of letters, digits and _, found 'to y'"),
}


@pytest.mark.parametrize("fields, message", BAD_PAPERS.values(), ids=BAD_PAPERS.keys())
def test_a_misspelt_part_of_a_paper_stops_its_definition(fields, message):
    with pytest.raises(InputError, match=message):
        toy(**fields)


def test_an_unknown_field_of_a_paper_stops_its_definition():
    with pytest.raises(TypeError, match="unexpected keyword argument 'figuers'"):
        toy(figuers=(CURVES,))


BAD_TABLES = {
    "statistic": (
        dict(stat_columns=(("n", "n_event"),)),
        "TableSpec table1: expected statistic columns among n_events, avg_dur_s, total_dur_s, found 'n_event'",
    ),
    "unprinted cell": (
        dict(unprinted=(("Cow", "n_events"),)),
        r"TableSpec table1: expected unprinted cells of the table's rows and columns, found \('Cow', ",
    ),
    "min_decimals column": (
        dict(min_decimals=(("time_ratio", 2),)),
        r"TableSpec table1: expected min_decimals of the table's columns \(n_events\), found "
        "'time_ratio'",
    ),
    "min_decimals value": (
        dict(min_decimals=(("n_events", -1),)),
        "TableSpec table1: expected a whole number of decimals >= 0 for 'n_events', found -1",
    ),
    "metric columns in a classes table": (
        dict(metric_columns=(("P", "parameters"),)),
        "TableSpec table1: expected metric and ratio columns only in a models table, found layout 'classes'",
    ),
    "rows in a models table": (
        dict(layout="models"),
        "TableSpec table1: expected no rows or statistic columns in a models table",
    ),
}


@pytest.mark.parametrize("fields, message", BAD_TABLES.values(), ids=BAD_TABLES.keys())
def test_a_misspelt_part_of_a_table_stops_its_definition(fields, message):
    with pytest.raises(InputError, match=message):
        replace(COUNTS, **fields)


def test_an_unknown_table_metric_stops_its_definition():
    with pytest.raises(
        InputError,
        match="TableSpec table3: expected run metrics among accuracy, d_prime, loss, micro_f1, psds, "
        "train_time_min, parameters, size_kb, epochs or <metric>@<key> of a per-class metric "
        r"\(average_precision, clip_f1, event_f1, roc_auc, roc_auc_hull, segment_f1\), found 'speed'",
    ):
        replace(MODELS, metric_columns=(("S", "speed"),), ratio_columns=(), min_decimals=())
    with pytest.raises(InputError, match="found 'f1'"):  # a text number names a run metric too
        replace(COUNTS, model_columns=(("A", "ma"),), text_metrics=(("f1 in the text", "f1"),))


BAD_FIGURES = {
    "kind": (
        dict(kind="curve"),
        r"FigureSpec figure2 kind: expected a registered figure kind \(attention, classwise, clip_durations, compare, curves, "
        "event_durations\\), found 'curve'",
    ),
    "metric": (
        dict(metrics=("f1",)),
        "FigureSpec figure2: expected history metrics among accuracy, loss, auc, ap, found 'f1'",
    ),
    "no models": (
        dict(models=()),
        "FigureSpec figure2: expected models \\(or a sweep\\) and metrics for 'curves', found models \\(\\)",
    ),
    "histogram with models": (
        dict(kind="clip_durations"),
        "FigureSpec figure2: expected no models or metrics for a clip_durations histogram",
    ),
}


@pytest.mark.parametrize("fields, message", BAD_FIGURES.values(), ids=BAD_FIGURES.keys())
def test_a_misspelt_part_of_a_figure_stops_its_definition(fields, message):
    with pytest.raises(InputError, match=message):
        replace(CURVES, **fields)


def test_registered_papers_by_name(monkeypatch):
    assert papers.names() == (
        "audioset",
        "dessed",
        "hypernetworks",
        "mtl_vae",
        "ssa",
    )  # the built-in modules register on import
    assert papers.get("dessed") is papers.dessed.PAPER and papers.table("dessed", "table4").layout == "models"
    with pytest.raises(
        InputError,
        match=r"--paper: expected a registered paper \(audioset, dessed, hypernetworks, mtl_vae, ssa\), found 'desed'",
    ):
        papers.get("desed")
    with pytest.raises(
        InputError,
        match=r"--table of paper 'dessed': expected one of table1, table2, table3, table4, "
        "found 'table5'",
    ):
        papers.table("dessed", "table5")
    with pytest.raises(
        InputError, match="--figure of paper 'hypernetworks': expected one of \\(none\\), found 'figure1'"
    ):
        papers.get("hypernetworks").figure("figure1")
    with pytest.raises(TypeError, match="takes a Paper"):
        papers.register(COUNTS)
    with pytest.raises(ValueError, match="paper 'dessed' is registered twice"):
        papers.register(replace(papers.get("dessed")))


def test_a_paper_defined_outside_the_package_plugs_in(monkeypatch, tmp_path):
    import json

    from sedrepro import render

    monkeypatch.setattr(papers, "PAPERS", Registry("paper"))  # the test's registry: the real one stays as it was
    papers.register(toy(notes=("A toy note.",)))
    assert papers.names() == ("toy",) and papers.table("toy", "table1") is COUNTS
    # rendered by the shared CLI from its name alone
    (tmp_path / "pv.tsv").write_text(
        "table\trow\tcolumn\tvalue\tnote\n"
        + "".join(f"table2\tCat\t{c}\t{v}\t\n" for c, v in (("avg_dur_s", 1.5), ("total_dur_s", 30), ("ma", 50.0)))
    )
    f1 = {
        "params": {},
        "unit": "%",
        "per_class": True,
        "per_checkpoint": [{"cat": 47.5}],
        "mean": {"cat": 47.5},
        "std": {"cat": 0.0},
    }
    doc = {
        "dataset": "toyset",
        "model": "ma",
        "seed": 0,
        "classes": ["cat"],
        "target": "frames",
        "sets": {
            "test": {
                "epochs": [1],
                "threshold": 0.5,
                "segment_s": 1.0,
                "postprocess": {},
                "metrics": {"segment_f1": f1},
                "trivial": {},
            }
        },
    }
    (tmp_path / "metrics.json").write_text(json.dumps(doc))
    out = {ext: str(tmp_path / f"table2.{ext}") for ext in ("md", "html", "csv", "tex", "png")}
    render.main(
        render.build_parser().parse_args(
            [
                "--paper",
                "toy",
                "--table",
                "table2",
                "--metrics",
                str(tmp_path / "metrics.json"),
                "--paper-values",
                str(tmp_path / "pv.tsv"),
                "--data-note",
                "toy data",
                *[a for ext, p in out.items() for a in (f"--out-{ext}", p)],
            ]
        )
    )
    assert "Cat,ma,50.00,47.50,0.00,-2.50" in (tmp_path / "table2.csv").read_text()
    assert "A toy note." in (tmp_path / "table2.md").read_text()


def test_a_cross_paper_reference_is_resolved_when_the_paper_is_looked_up(monkeypatch):
    monkeypatch.setattr(papers, "PAPERS", Registry("paper"))
    papers.register(toy(cross_paper_events=CrossPaperEvents("other", "table2", "table1")))
    with pytest.raises(
        InputError,
        match=r"paper 'toy' cross_paper_events: expected a registered paper \(toy\), "
        "found 'other'",
    ):
        papers.get("toy")
    papers.register(toy(name="other", tables=(COUNTS, DURATIONS)))
    assert papers.get("toy").cross_paper_events.paper == "other"
    papers.register(toy(name="third", cross_paper_events=CrossPaperEvents("other", "table1", "table1")))
    with pytest.raises(
        InputError,
        match="paper 'third' cross_paper_events: expected a table of 'other' with avg_dur_s "
        "and total_dur_s columns, found table1 without avg_dur_s, total_dur_s",
    ):
        papers.get("third")
