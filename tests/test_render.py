"""Rendering on synthetic metrics: delta arithmetic, md/csv/tex/png, byte-stable CSV, the CLI, the real TSV."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from metrics_doc import metrics_doc as make_doc

from sedrepro import papers, render
from sedrepro.io import InputError
from sedrepro.papers import TableSpec, load_paper_values

REPO = Path(__file__).resolve().parents[1]
TSV = REPO / "config" / "paper_values" / "hypernetworks.tsv"

SPEC = TableSpec(
    name="tableX",
    caption="A fake table.",
    dataset="toyset",
    model_columns=(("Model A", "ma"), ("Model_B", "mb")),
    stat_columns=(("Avg. dur.", "avg_dur_s"), ("Total dur.", "total_dur_s")),
    rows=(("Cat&dog", "cat"), ("Bird", "bird"), ("Average", "Average"), ("Overall", "Overall")),
)

PAPER = {  # (row, column) -> value
    ("Cat&dog", "avg_dur_s"): 2.0,
    ("Cat&dog", "total_dur_s"): 10.0,
    ("Bird", "avg_dur_s"): 1.5,
    ("Bird", "total_dur_s"): 3.0,
    ("Cat&dog", "ma"): 64.9,
    ("Bird", "ma"): 50.0,
    ("Average", "ma"): 57.5,
    ("Overall", "ma"): 60.0,
    ("Cat&dog", "mb"): 40.0,
    ("Bird", "mb"): 30.0,
    ("Average", "mb"): 35.0,
    ("Overall", "mb"): 33.3,
}


def paper_values():
    return pd.DataFrame(
        [{"table": "tableX", "row": r, "column": c, "value": v, "note": ""} for (r, c), v in PAPER.items()]
    )


def metrics_doc(model, seed, cat_values, bird=70.0):
    """Two checkpoints; 'cat' F1 per checkpoint given, the rest derived."""
    per = [
        {"cat": v, "bird": bird, "Average": v if bird is None else (v + bird) / 2, "Overall": v - 1} for v in cat_values
    ]
    return make_doc(
        "toyset",
        model,
        seed,
        per,
        epochs=(5, 9)[: len(per)],
        trivial={"cat": 40.0, "bird": 20.0, "Average": 30.0, "Overall": 33.25},
    )


def metrics():
    # ma: cat values 60, 62 (seed 1), 61, 61.8 (seed 2) -> mean 61.2, delta -3.7
    return [
        metrics_doc("ma", 1, (60.0, 62.0)),
        metrics_doc("ma", 2, (61.0, 61.8)),
        metrics_doc("mb", 1, (40.0, 44.0)),
        metrics_doc("mb", 3, (41.0, 43.0), bird=None),
    ]


def stats():
    return pd.DataFrame(
        {"n_events": [4, 3], "avg_dur_s": [2.25, 1.0], "total_dur_s": [9.0, 3.0]}, index=["cat", "bird"]
    )


def test_build_table_delta_arithmetic():
    t = render.build_table(SPEC, metrics(), paper_values(), stats())
    assert list(t.columns) == ["row", "column", "paper", "reproduced", "std", "delta"]
    assert len(t) == 2 * 4 + 2 * 2  # stats only on class rows
    cell = t[(t.row == "Cat&dog") & (t.column == "ma")].iloc[0]
    vals = np.array([60.0, 62.0, 61.0, 61.8])
    assert cell.reproduced == pytest.approx(vals.mean())
    assert cell["std"] == pytest.approx(vals.std(ddof=0))
    assert cell.delta == pytest.approx(vals.mean() - 64.9)
    bird_b = t[(t.row == "Bird") & (t.column == "mb")].iloc[0]  # None values of seed 3 are skipped
    assert bird_b.reproduced == pytest.approx(70.0) and bird_b["std"] == pytest.approx(0.0)
    stat = t[(t.row == "Cat&dog") & (t.column == "avg_dur_s")].iloc[0]
    assert stat.reproduced == pytest.approx(2.25) and np.isnan(stat["std"]) and stat.delta == pytest.approx(0.25)
    assert list(t.row.unique()) == ["Cat&dog", "Bird", "Average", "Overall"]


def test_a_models_table_without_ratio_columns_builds():
    spec = TableSpec(
        name="tableM",
        caption="Scores per model.",
        dataset="toyset",
        model_columns=(("Model A", "ma"),),
        stat_columns=(),
        rows=(),
        layout=papers.MODELS_LAYOUT,
        metric_columns=(("Acc.", "accuracy"),),
    )
    pv = pd.DataFrame([{"table": "tableM", "row": "Model A", "column": "accuracy", "value": 0.9, "note": ""}])
    doc = make_doc("toyset", "ma", 0, [{"cat": 50.0}, {"cat": 60.0}], scalars={"accuracy": [0.8, 0.9]})
    t = render.build_table(spec, [doc], pv, None)
    assert list(zip(t.row, t.column, strict=True)) == [("Model A", "accuracy")]
    assert t.reproduced.iloc[0] == pytest.approx(0.85) and t.delta.iloc[0] == pytest.approx(-0.05)


def test_build_table_rejects_mixed_inputs():
    bad = metrics() + [metrics_doc("ma", 1, (1.0, 2.0))]
    with pytest.raises(InputError, match="one metrics file per"):
        render.build_table(SPEC, bad, paper_values(), None)
    other = metrics()
    other[0]["sets"]["test"]["segment_s"] = 0.5
    with pytest.raises(InputError, match="segment_s"):
        render.build_table(SPEC, other, paper_values(), None)
    with pytest.raises(InputError, match="every cell"):
        render.build_table(SPEC, metrics(), paper_values().iloc[1:], None)


def test_outputs(tmp_path):
    t = render.build_table(SPEC, metrics(), paper_values(), stats())
    summary = render.summarize_runs(SPEC, metrics())
    lines = render.notes(SPEC, summary, "embedded synthetic stand-in", ["Paper note."])
    md = render.markdown(SPEC, t, lines)
    assert "| Cat&dog | 2.0 / 2.2 (+0.2) | 10 / 9 (\u22121) | 64.9 / 61.2 (\u22123.7) |" in md
    assert "Model A (ma): 2 seeds (1, 2) x 2 checkpoints each" in md
    assert "Frame threshold 0.5; segment-based F1 with 1 s segments" in md
    assert "Overall F1 33.2, Average F1 30.0" in md  # from the metrics' trivial scores
    assert "Data: embedded synthetic stand-in" in md and "Paper note." in md
    html = render.html(SPEC, t, lines)  # the report's page: the same cells and notes, escaped
    row = "<tr>\n      <td>Cat&amp;dog</td>\n      <td>2.0 / 2.2 (+0.2)</td>\n      <td>10 / 9 (\u22121)</td>\n"
    assert row + "      <td>64.9 / 61.2 (\u22123.7)</td>" in html
    assert "<li>Model A (ma): 2 seeds (1, 2) x 2 checkpoints each" in html and "<li>Paper note.</li>" in html

    csv1 = render.csv_text(t)
    assert csv1.splitlines()[0] == "row,column,paper,reproduced,std,delta"
    assert "Cat&dog,ma,64.90,61.20,0.79,-3.70" in csv1
    assert "Cat&dog,avg_dur_s,2.00,2.25,,0.25" in csv1
    assert csv1 == render.csv_text(render.build_table(SPEC, list(reversed(metrics())), paper_values(), stats()))

    tex = render.latex(SPEC, t, "embedded synthetic stand-in_data")
    assert r"\begin{tabular}{lrrrr}" in tex and r"Cat\&dog" in tex and r"Model\_B" in tex
    assert "64.9 / 61.2 ($-$3.7)" in tex
    assert tex.rstrip().endswith("\\end{tabular}\n\\par{\\footnotesize Data: embedded synthetic stand-in\\_data.}")

    png = tmp_path / "t.png"
    render.plot(SPEC, t, png, "embedded synthetic stand-in")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _real_metrics(tmp_path, spec, dataset_classes):
    paths = []
    rng = np.random.default_rng(0)
    for model in spec.models:
        for seed in (1, 2):
            per = []
            for _ in (10, 11):
                f1 = {c: float(rng.uniform(30, 90)) for c in dataset_classes}
                f1["Average"] = float(np.mean(list(f1.values())))
                f1["Overall"] = f1["Average"] + 1
                per.append(f1)
            doc = make_doc(spec.dataset, model, seed, per, epochs=(10, 11), trivial={"Average": 20.0, "Overall": 25.0})
            p = tmp_path / f"{model}_{seed}.json"
            p.write_text(json.dumps(doc))
            paths.append(str(p))
    return paths


def test_cli_on_real_table1_is_byte_stable(tmp_path):
    spec = papers.table("hypernetworks", "table1")
    classes = [key for _, key in spec.class_rows]
    idx = tmp_path / "index"
    idx.mkdir()
    (idx / "events.tsv").write_text(
        "file_id\tonset\toffset\tlabel\n" + "".join(f"f{i}\t{i}.0\t{i + 2}.5\t{c}\n" for i, c in enumerate(classes))
    )
    (idx / "files.tsv").write_text(
        "file_id\tsplit\taudio\tannotation\tduration_s\n"
        + "".join(f"f{i}\ttest\tf{i}.wav\tf{i}.txt\t30\n" for i in range(len(classes)))
    )
    # two listed clips without audio (left out of files.tsv), counted in the notes from the manifest
    (idx / "manifest.tsv").write_text(
        "subset\tfilename\taudio\tstatus\tbytes\tsha256\n"
        + "".join(f"test\tf{i}.wav\tf{i}.wav\tpresent\t10\t{i:064x}\n" for i in range(len(classes)))
        + "test\tg0.wav\t\tmissing\t\t\ntest\tg1.wav\t\tmissing\t\t\n"
    )
    assignment = tmp_path / "assignment.tsv"
    assignment.write_text("file_id\tsplit\n" + "".join(f"f{i}\t{'train' if i < 4 else 'test'}\n" for i in range(16)))
    paths = _real_metrics(tmp_path, spec, classes)
    outs = []
    for run in ("a", "b"):
        d = tmp_path / run
        argv = [
            "--paper",
            "hypernetworks",
            "--table",
            "table1",
            "--metrics",
            *paths,
            "--index",
            str(idx),
            "--assignment",
            f"logmel={assignment}",
            "--paper-values",
            str(TSV),
            "--data-note",
            "embedded synthetic",
            "--out-md",
            str(d / "t1.md"),
            "--out-html",
            str(d / "t1.html"),
            "--out-csv",
            str(d / "t1.csv"),
            "--out-tex",
            str(d / "t1.tex"),
            "--out-png",
            str(d / "t1.png"),
        ]
        render.main(render.build_parser().parse_args(argv))
        outs.append(d)
    assert (outs[0] / "t1.csv").read_bytes() == (outs[1] / "t1.csv").read_bytes()
    csv = pd.read_csv(outs[0] / "t1.csv")
    assert len(csv) == 16 * 6 + 2 * 4
    assert csv[(csv.row == "Horsewalk") & (csv.column == "total_dur_s")].reproduced.item() == 2.5
    md = (outs[0] / "t1.md").read_text()
    assert "22,050 Hz" in md and "22.5 kHz" in md and "Overall F1 25.0, Average F1 20.0" in md
    assert "| Horsewalk | 6.4 / 2.5 (\u22123.9) | 1614 / 2 (\u22121612) |" in md  # 2.5 shown with 0 decimals
    html = (outs[0] / "t1.html").read_text()
    assert "<td>Horsewalk</td>\n      <td>6.4 / 2.5 (\u22123.9)</td>\n      <td>1614 / 2 (\u22121612)</td>" in html
    assert (outs[0] / "t1.html").read_bytes() == (outs[1] / "t1.html").read_bytes()
    prov = json.loads((outs[0] / "t1.provenance.json").read_text())
    # the subset's clips went to two sets: its missing clips belong to neither, and the note says so
    assert "Clips: the test set, every model's numbers computed on 12 clips (test: 2 missing, shared with train)." in md
    assert "Clips: the statistic columns count the events of 16 of 18 listed clips (2 missing) of the index." in md
    assert len(prov["inputs"]) == len(paths) + 2 + 3 and prov["config"]["table"] == "table1"
    assert (outs[0] / "t1.png").stat().st_size > 10_000


def test_dataset_stats(tmp_path):
    (tmp_path / "files.tsv").write_text(
        "file_id\tsplit\taudio\tannotation\tduration_s\na\ttrain\ta.wav\ta.txt\t10\nb\ttest\tb.wav\tb.txt\t10\n"
    )
    (tmp_path / "events.tsv").write_text(
        "file_id\tonset\toffset\tlabel\na\t0\t1.5\tsiren\nb\t1\t2\tsiren\nb\t0\t4\tdog_bark\n"
    )
    s = render.dataset_stats("urban_sed", tmp_path)
    assert s.loc["siren", "avg_dur_s"] == pytest.approx(1.25) and s.loc["siren", "total_dur_s"] == pytest.approx(2.5)
    assert s.loc["dog_bark", "n_events"] == 1 and s.loc["car_horn", "n_events"] == 0


def test_real_paper_values_load_and_cover_the_specs():
    pv = load_paper_values(TSV)
    assert list(pv.columns) == ["table", "row", "column", "value", "note"]
    assert (pv.table == "table1").sum() == 16 * 6 + 2 * 4
    assert (pv.table == "table2").sum() == 12 * 4
    for spec in papers.get("hypernetworks").tables:
        papers.check_paper_values(spec, pv)
    v = pv.set_index(["table", "row", "column"])["value"]
    assert v[("table1", "Horsewalk", "total_dur_s")] == 1614
    assert v[("table1", "Mixer", "hcrnn128")] == 97.7
    assert v[("table2", "Overall", "hcrnn64")] == 61.2
    assert v[("text", "TUT-SED Synthetic 2016 total duration", "duration_min")] == 566


def test_spec_labels_match_dataset_classes():
    datasets = pytest.importorskip("sedrepro.datasets")
    for spec in papers.get("hypernetworks").tables:
        assert sorted(key for _, key in spec.class_rows) == sorted(datasets.get(spec.dataset).classes)


@pytest.mark.parametrize(
    "line, match",
    [
        ("table1\tRain\tcrnn_bi\t1,614\t", r"bad\.tsv:3: expected a plain finite number"),
        ("table1\tRain\tcrnn_bi\t64.3", r"bad\.tsv:3: expected 5 tab-separated fields"),
        (
            "table1\tHorsewalk\tcrnn_bi\t57.1\t",
            r"bad\.tsv:3: expected each \(table, row, column\) once, found a repeat of line 2",
        ),
        ("table1\t\tcrnn_bi\t1\t", r"bad\.tsv:3: expected a non-empty row"),
    ],
)
def test_paper_values_errors_name_file_and_line(tmp_path, line, match):
    p = tmp_path / "bad.tsv"
    p.write_text("table\trow\tcolumn\tvalue\tnote\ntable1\tHorsewalk\tcrnn_bi\t57.1\t\n" + line + "\n")
    with pytest.raises(InputError, match=match):
        load_paper_values(p)


def _coverage_index(tmp_path: Path) -> Path:
    """Subset "eval" lists 4 clips (1 without audio), subset "dev" 3 (all there)."""
    idx = tmp_path / "index"
    idx.mkdir()
    ids = [("e0", "eval"), ("e1", "eval"), ("e2", "eval"), ("d0", "dev"), ("d1", "dev"), ("d2", "dev")]
    (idx / "files.tsv").write_text(
        "file_id\tsplit\taudio\tannotation\tduration_s\n" + "".join(f"{f}\t{s}\t{f}.wav\t\t10\n" for f, s in ids)
    )
    rows = [f"{s}\t{f}.wav\t{f}.wav\tpresent\t1\t{'0' * 64}\n" for f, s in ids] + ["eval\te9.wav\t\tmissing\t\t\n"]
    (idx / "manifest.tsv").write_text("subset\tfilename\taudio\tstatus\tbytes\tsha256\n" + "".join(rows))
    return idx


def test_coverage_notes_count_each_pipelines_evaluation_clips(tmp_path):
    idx = _coverage_index(tmp_path)
    official, drawn = tmp_path / "official.tsv", tmp_path / "drawn.tsv"
    official.write_text("file_id\tsplit\ne0\ttest\ne1\ttest\ne2\ttest\nd0\ttrain\nd1\ttrain\nd2\ttrain\n")
    drawn.write_text("file_id\tsplit\ne0\ttest\ne1\ttrain\ne2\ttrain\nd0\ttest\nd1\ttrain\nd2\ttrain\n")
    one = render.coverage_notes(SPEC, idx, render.parse_assignments([f"p1={official}"]))
    assert one == [
        "Clips: the test set, every model's numbers computed on 3 of 4 listed clips (1 missing).",
        "Clips: the statistic columns count the events of 6 of 7 listed clips (1 missing) of the index.",
    ]
    two = render.coverage_notes(SPEC, idx, {"p1": official, "p2": drawn})
    assert two[0] == (
        "Clips: the test set, every model's numbers computed on 3 of 4 listed clips (1 missing) (pipeline p1); "
        "2 clips (eval: 1 missing, shared with train) (pipeline p2)."
    )
    models_only = dataclasses.replace(SPEC, stat_columns=())
    assert render.coverage_notes(models_only, idx, {}) == [
        "Clips of the test set: not recorded (no index and assignment given)."
    ]
    lines = render.notes(models_only, render.summarize_runs(models_only, metrics()), "toy data", coverage=one[:1])
    assert lines[lines.index("Data: toy data") + 1] == one[0]  # right after the data note
    other_set = dataclasses.replace(SPEC, evaluation_set="public_eval")
    with pytest.raises(InputError, match=r"official\.tsv: expected clips of evaluation set 'public_eval', found sets"):
        render.coverage_notes(other_set, idx, {"p1": official})
    with pytest.raises(InputError, match=r"--assignment: expected <pipeline>=<assignment.tsv>, found 'p1'"):
        render.parse_assignments(["p1"])


def _one_run(model="ma"):
    return metrics_doc(model, 0, (60.0,))


def test_notes_singular_and_n_a():
    summary = render.summarize_runs(SPEC, [_one_run("ma"), _one_run("mb")])
    lines = render.notes(SPEC, summary, "toy data", missing=True)
    assert "Model A (ma): 1 seed (0) x 1 checkpoint each" in lines[0]
    assert any(line.startswith("n/a: no reproduced value") for line in lines)
    assert not any(line.startswith("n/a:") for line in render.notes(SPEC, summary, "toy data"))


def _boxes(fig):
    fig.canvas.draw()
    r = fig.canvas.get_renderer()
    axes = [ax for ax in fig.axes if ax.get_visible()]
    return r, axes


def _overlap(a, b) -> bool:
    return a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1


def test_bar_chart_missing_values_legend_and_note():
    """A missing reproduced value is labelled n/a (a 0 is a bar of length 0); the legend covers no panel or title;
    the data note and n/a are explained under the panels."""
    import matplotlib.pyplot as plt

    t = render.build_table(SPEC, [metrics_doc("ma", 1, (0.0, 0.0))], paper_values(), stats())
    assert t.set_index(["row", "column"]).loc[("Cat&dog", "ma"), "reproduced"] == 0.0
    assert t[t["column"] == "mb"]["reproduced"].isna().all()  # no runs of mb
    fig = render.figure(SPEC, t, "toy data")
    try:
        r, axes = _boxes(fig)
        texts = [x.get_text() for ax in axes for x in ax.texts]
        assert texts.count("n/a") == 4  # the four mb rows; ma's zero is a bar, not a label
        legend = fig.legends[0].get_window_extent(r)
        for ax in axes:
            assert not _overlap(legend, ax.get_tightbbox(r)), ax.get_title()
        assert not _overlap(legend, fig._suptitle.get_window_extent(r))
        (note,) = [x for x in fig.texts if x is not fig._suptitle]
        assert "Data: toy data." in note.get_text() and "n/a: no reproduced value" in note.get_text()
        assert all(not _overlap(note.get_window_extent(r), ax.get_tightbbox(r)) for ax in axes)
    finally:
        plt.close(fig)


def test_log_axis_ticks_are_plain_numbers():
    import matplotlib.pyplot as plt

    spec = papers.table("dessed", "table4")
    rows = [label for label, _ in spec.grid_rows]
    table = pd.DataFrame(
        [
            {
                "row": row,
                "column": c,
                "paper": 500_000.0 if c == "parameters" else 6.0,
                "reproduced": 2_000.0 * (i + 1) if c == "parameters" else 1.5,
                "std": 0.0,
                "delta": 0.0,
            }
            for i, row in enumerate(rows)
            for c in spec.grid_columns
        ]
    )
    fig = render.figure(spec, table, "toy data")
    try:
        r, axes = _boxes(fig)
        (ax,) = [ax for ax in axes if ax.get_xscale() == "log" and "arameter" in ax.get_title()]
        labels = [x.get_text() for x in ax.get_xticklabels() if x.get_text()]
        assert labels and not any("10^" in s or "$" in s for s in labels), labels
        assert "1M" in labels or "100k" in labels, labels
    finally:
        plt.close(fig)


def test_csv_labels_with_quotes_commas_and_line_breaks_round_trip():
    import csv
    import io

    labels = {"Cat&dog": 'Cat "big", dog', "Bird": "Bird\nsong"}
    spec = TableSpec(
        name="tableX",
        caption="c",
        dataset="toyset",
        model_columns=SPEC.model_columns,
        stat_columns=SPEC.stat_columns,
        rows=tuple((labels.get(lab, lab), key) for lab, key in SPEC.rows),
    )
    pv = paper_values()
    pv["row"] = pv["row"].map(lambda r: labels.get(r, r))
    t = render.build_table(spec, metrics(), pv, stats())
    text = render.csv_text(t, spec)
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == list(render.TIDY_COLUMNS) and len(rows) == len(t) + 1
    assert [r[0] for r in rows[1:]] == list(t["row"]) and 'Cat "big", dog' in {r[0] for r in rows}
    back = pd.read_csv(io.StringIO(text), keep_default_na=False)
    assert list(back["row"]) == list(t["row"]) and "Bird\nsong" in set(back["row"])
    assert rows[1] == ['Cat "big", dog', "avg_dur_s", "2.00", "2.25", "", "0.25"]
    assert text.splitlines()[1] == '"Cat ""big"", dog",avg_dur_s,2.00,2.25,,0.25'


@pytest.mark.parametrize(
    "char, escaped",
    [
        ("&", r"\&"),
        ("%", r"\%"),
        ("$", r"\$"),
        ("#", r"\#"),
        ("_", r"\_"),
        ("{", r"\{"),
        ("}", r"\}"),
        ("~", r"\textasciitilde{}"),
        ("^", r"\textasciicircum{}"),
        ("\\", r"\textbackslash{}"),
    ],
)
def test_latex_escapes_each_special_character(char, escaped):
    label = f"a{char}b"
    spec = TableSpec(
        name="tableX",
        caption="c",
        dataset="toyset",
        model_columns=(("Model A", "ma"),),
        stat_columns=(),
        rows=((label, "cat"),),
    )
    pv = pd.DataFrame([{"table": "tableX", "row": label, "column": "ma", "value": 64.9, "note": ""}])
    t = render.build_table(spec, [metrics_doc("ma", 1, (60.0, 62.0))], pv, None)
    tex = render.latex(spec, t, f"note{char}")
    assert f"a{escaped}b & 64.9 / 61.0 ($-$3.9)" in tex
    assert tex.endswith(f"Data: note{escaped}.}}\n")


def test_decimals_a_table_declares_are_shown_at_least():
    plain = render.build_table(SPEC, metrics(), paper_values(), stats())
    spec = dataclasses.replace(SPEC, min_decimals=(("ma", 3),))
    t = render.build_table(spec, metrics(), paper_values(), stats())
    assert "| Cat&dog | 2.0 / 2.2 (+0.2) | 10 / 9 (\u22121) | 64.900 / 61.200 (\u22123.700) |" in render.markdown(
        spec, t, []
    )
    assert "| Cat&dog | 2.0 / 2.2 (+0.2) | 10 / 9 (\u22121) | 64.9 / 61.2 (\u22123.7) |" in render.markdown(
        SPEC, plain, []
    )
    assert "Cat&dog,ma,64.900,61.200,0.787,-3.700" in render.csv_text(t, spec)


# A models table as the sparse self-attention paper's Table 2 prints it: a per-class metric's macro average and a
# scalar score in %, under rows the paper cites from other works.
CITED_SPEC = TableSpec(
    name="table2",
    caption="Scores with cited works.",
    dataset="toyset",
    model_columns=(("baseline", "mb"), ("Ours", "ma")),
    stat_columns=(),
    rows=(),
    layout=papers.MODELS_LAYOUT,
    metric_columns=(("Event-F1(%)", "event_f1@Average"), ("PSDS(%)", "psds")),
    metric_scales=(("psds", 100.0),),
    cited_rows=(("CRNN [23]", "[23] a cited system"), ("CRNN ensemble [23]", "[23] a cited ensemble")),
    unprinted=(("CRNN ensemble [23]", "psds"),),
    metric="event_f1",
)
CITED_VALUES = {
    ("CRNN [23]", "event_f1@Average"): 45.1,
    ("CRNN [23]", "psds"): 65.8,
    ("CRNN ensemble [23]", "event_f1@Average"): 46.4,
    ("baseline", "event_f1@Average"): 43.1,
    ("baseline", "psds"): 64.1,
    ("Ours", "event_f1@Average"): 47.6,
    ("Ours", "psds"): 66.7,
}


def cited_docs():
    def doc(model, seed, averages, psds):
        per = [{"cat": a - 1, "Average": a, "Overall": a + 1} for a in averages]
        return make_doc("toyset", model, seed, per, metric="event_f1", scalars={"psds": psds}, trivial={"Average": 5.0})

    return [doc("ma", 0, (46.0, 48.0), (0.6, 0.7)), doc("mb", 0, (40.0,), (0.5,))]


def cited_values():
    rows = [{"table": "table2", "row": r, "column": c, "value": v, "note": ""} for (r, c), v in CITED_VALUES.items()]
    return pd.DataFrame(rows)


def test_a_per_class_metric_column_and_cited_rows():
    t = render.build_table(CITED_SPEC, cited_docs(), cited_values(), None)
    assert list(t.row.unique()) == ["CRNN [23]", "CRNN ensemble [23]", "baseline", "Ours"]  # cited works first
    cited = t[t.row.isin(CITED_SPEC.cited_labels)]
    assert len(cited) == 4 and cited[["reproduced", "std", "delta"]].isna().all().all()
    ours = t[t.row == "Ours"].set_index("column")
    # the macro average of every (seed, checkpoint): 46 and 48; PSDS on the paper's % scale
    assert ours.loc["event_f1@Average", "reproduced"] == pytest.approx(47.0)
    assert ours.loc["event_f1@Average", "std"] == pytest.approx(1.0)
    assert ours.loc["event_f1@Average", "delta"] == pytest.approx(-0.6)
    assert ours.loc["psds", "reproduced"] == pytest.approx(65.0) and ours.loc["psds", "std"] == pytest.approx(5.0)
    text = render.csv_text(t, CITED_SPEC)
    assert "CRNN [23],event_f1@Average,45.10,,,\n" in text and "CRNN ensemble [23],psds,,,,\n" in text
    assert "Ours,psds,66.70,65.00,5.00,-1.70\n" in text
    lines = render.notes(CITED_SPEC, render.summarize_runs(CITED_SPEC, cited_docs()), "toy data")
    md = render.markdown(CITED_SPEC, t, lines)
    assert "| Model | Event-F1(%) | PSDS(%) |" in md
    assert "| CRNN [23] | 45.1 / cited | 65.8 / cited |" in md
    assert "| CRNN ensemble [23] | 46.4 / cited | \u2013 / cited |" in md
    assert "| Ours | 47.6 / 47.0 (\u22120.6) | 66.7 / 65.0 (\u22121.7) |" in md
    assert "cited: a result the paper cites from another work (CRNN [23]: [23] a cited system; " in md
    assert "event_f1@Average = sed_eval EventBasedMetrics F1" in md and "its Average value" in md
    tex = render.latex(CITED_SPEC, t, "toy")
    body = tex.split(r"\hline")
    assert "CRNN ensemble [23]" in body[2] and "baseline" in body[3]  # a rule between cited works and models
    fig = render.figure(CITED_SPEC, t, "toy")
    labels = [x.get_text() for ax in fig.axes for x in ax.texts]
    assert labels.count("cited") == 4 and "n/a" not in labels  # a cited row's missing reproduction is no n/a
    assert "n/a" not in " ".join(x.get_text() for x in fig.texts)


def test_cited_rows_are_never_compared_in_the_main_output(tmp_path, monkeypatch):
    from sedrepro.registry import Registry

    monkeypatch.setattr(papers, "PAPERS", Registry("paper"))
    papers.register(papers.Paper("toy", (CITED_SPEC,)))
    paths = []
    for doc in cited_docs():
        run = tmp_path / doc["model"] / f"seed{doc['seed']}"
        run.mkdir(parents=True)
        (run / "metrics.json").write_text(json.dumps(doc))
        paths.append(str(run / "metrics.json"))
    pv = tmp_path / "pv.tsv"
    pv.write_text(
        "table\trow\tcolumn\tvalue\tnote\n"
        + "".join(f"table2\t{r}\t{c}\t{v}\t\n" for (r, c), v in CITED_VALUES.items())
    )
    out = {ext: str(tmp_path / f"table2.{ext}") for ext in ("md", "html", "csv", "tex", "png")}
    argv = ["--paper", "toy", "--table", "table2", "--metrics", *paths, "--paper-values", str(pv)]
    argv += ["--data-note", "toy data"] + [a for ext, p in out.items() for a in (f"--out-{ext}", p)]
    render.main(render.build_parser().parse_args(argv))
    md = Path(out["md"]).read_text()
    assert "n/a: no reproduced value" not in md  # every reproduced row has its value; cited rows are not n/a
    tidy = pd.read_csv(out["csv"])
    assert tidy[tidy.row.str.contains(r"\[23\]")][["reproduced", "std", "delta"]].isna().all().all()


@pytest.mark.parametrize(
    "fields, message",
    [
        (
            dict(layout=papers.CLASSES_LAYOUT, metric_columns=(), metric_scales=(), unprinted=()),
            "TableSpec table2: expected cited rows only in a models table",
        ),
        (dict(metric_scales=(("loss", 100.0),)), "TableSpec table2: expected metric_scales of the metric columns"),
        (dict(metric_scales=(("psds", 0),)), "TableSpec table2: expected a positive scale factor for 'psds', found 0"),
        (dict(metric_columns=(("P", "psds@Average"),), metric_scales=(), unprinted=()), "found 'psds@Average'"),
        (dict(cited_rows=(("Ours", "[1]"),)), "TableSpec table2: expected distinct row labels"),
    ],
)
def test_cited_rows_and_metric_columns_are_checked(fields, message):
    with pytest.raises(InputError, match=re.escape(message)):
        dataclasses.replace(CITED_SPEC, **fields)


def test_a_table_of_averages_over_a_sweep(tmp_path, monkeypatch):
    """A classes table with one F1 row (a per-class metric's Average) whose columns are a config sweep's runs, named
    as sedrepro.expand names them (the sparse self-attention paper's Table 1: baseline and one run per lambda)."""
    from sedrepro import audit, expand
    from sedrepro import config as sconfig
    from sedrepro import workflow as glue
    from sedrepro.registry import Registry

    key, values = "training.learning_rate", (0.001, 0.002)
    runs = tuple((f"{v}", expand.sweep_name("lr", key, v)) for v in values)
    spec = TableSpec(
        name="table1",
        caption="F1 per learning rate.",
        dataset="tut_sed_synthetic_2016",
        model_columns=(("baseline", "crnn_bi"), *runs),
        stat_columns=(),
        rows=(("F1(%)", "Average"),),
        metric="event_f1",
    )
    assert spec.models[1:] == ("lr_learning_rate-0p001", "lr_learning_rate-0p002")
    monkeypatch.setattr(papers, "PAPERS", Registry("paper"))
    papers.register(papers.Paper("toy", (spec,)))
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(
        # skipped_runs: tiny.yaml's skip the ssa paper's runs, a paper this registry does not hold
        f"papers: [toy]\nskipped_runs: []\nmodels:\n  lr:\n    sweep: {{base: crnn_uni, key: {key}, values: [0.001, 0.002]}}\n"
    )
    files = [sconfig.REPO / "config.yaml", sconfig.REPO / "config" / "tiny.yaml"]
    cfg = sconfig.load([*files, sweep])  # the config check finds every model the table shows
    assert [p.split("/")[-3] for p in glue.table_metrics(cfg, "toy", "table1")] == list(spec.models)
    short = tmp_path / "short.yaml"
    short.write_text(sweep.read_text().replace("0.001, 0.002", "0.001"))
    with pytest.raises(InputError, match="config key 'models/lr_learning_rate-0p002': expected the model's settings"):
        sconfig.load([*files, short])

    pv = pd.DataFrame(
        [
            {"table": "table1", "row": "F1(%)", "column": m, "value": v, "note": ""}
            for m, v in zip(spec.models, (43.1, 46.8, 45.1), strict=True)
        ]
    )
    docs = [
        make_doc(spec.dataset, m, 0, [{"cat": 1.0, "Average": a, "Overall": 2.0}], metric="event_f1")
        for m, a in zip(spec.models, (40.0, 45.0, 47.5), strict=True)
    ]
    t = render.build_table(spec, docs, pv, None)
    assert list(zip(t.column, t.reproduced, strict=True)) == list(zip(spec.models, (40.0, 45.0, 47.5), strict=True))
    lines = render.notes(spec, render.summarize_runs(spec, docs), "toy data")
    md = render.markdown(spec, t, lines)
    assert "| Category | baseline | 0.001 | 0.002 |" in md
    assert "| F1(%) | 43.1 / 40.0 (\u22123.1) | 46.8 / 45.0 (\u22121.8) | 45.1 / 47.5 (+2.4) |" in md
    assert "Frame threshold 0.5; event_f1 = sed_eval EventBasedMetrics F1" in md and "segment-based" not in md
    assert "F1(%),lr_learning_rate-0p002,45.10,47.50,0.00,2.40" in render.csv_text(t, spec)
    assert audit.audit([spec], pv) == []  # no class rows: no Average check, and no division by zero
    render.plot(spec, t, tmp_path / "t.png", "toy data")
