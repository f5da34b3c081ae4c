"""The dessed paper: TableSpecs and their transcribed values, and rendering each table from synthetic run files."""

from __future__ import annotations

import ast
import json
import os
import re
from pathlib import Path

import pandas as pd
import pytest
import yaml
from metrics_doc import metrics_doc

from sedrepro import claims, papers, render
from sedrepro.io import InputError
from sedrepro.papers import TableSpec, check_paper_values, load_paper_values
from sedrepro.papers import dessed as DESSED

REPO = Path(__file__).resolve().parents[1]
TSV = REPO / "config" / "paper_values" / "dessed.tsv"
MOD = papers.get("dessed")


def pv():
    return load_paper_values(TSV)


def test_registered_and_every_table_transcribed():
    assert "dessed" in papers.names() and papers.PAPERS.get("dessed") is MOD
    values = pv()
    for spec in MOD.tables:
        check_paper_values(spec, values)  # raises on a missing or stray cell
    counts = values.groupby("table").size()
    assert counts["table1"] == 10 and counts["table2"] == 16 and counts["table3"] == 10 and counts["table4"] == 5 * 6
    v = values.set_index(["table", "row", "column"])["value"]
    assert v[("table2", "footsteps", "n_events")] == 8302 and v[("table2", "bus", "n_events")] == 456
    assert v[("table3", "siren", "mono_baseline")] == 0.880
    assert v[("table4", "Baseline", "parameters")] == 3_700_000 and v[("table4", "Dessed", "size_kb")] == 6.5
    assert v[("table4", "Dilated", "train_time_min")] == 7 * 60 + 30
    assert v[("table4", "Proposed Model max pooling", "train_time_min")] == 3 * 60 + 26
    assert v[("text", "test accuracy (Section 4.1)", "mono_proposed")] == 0.263
    assert v[("text", "epochs (Section 4.2)", "dnd_dilated")] == 136
    notes = values.set_index(["table", "row", "column"])["note"]
    assert "3.20" in notes[("table4", "Proposed Model max pooling", "train_time_min")]  # the OCR duplicate is noted
    assert notes[("table4", "Baseline", "parameters")] == "printed 3.7M"


def test_missing_text_value_is_one_line():
    values = pv()
    values = values[~((values.table == "text") & (values.column == "mono_proposed"))]
    with pytest.raises(InputError, match="text value .* of 'mono_proposed' shown in table3"):
        check_paper_values(papers.table("dessed", "table3"), values)


def test_specs_match_datasets_and_config_models():
    datasets = pytest.importorskip("sedrepro.datasets")
    models = yaml.safe_load((REPO / "config.yaml").read_text())["models"]
    for spec in MOD.tables:
        if spec.rows:
            assert sorted(k for _, k in spec.class_rows) == sorted(datasets.get(spec.dataset).classes)
        assert set(spec.models) <= set(models)
    for fig in MOD.figures:
        assert {m for _, m in fig.models} <= set(models)
    assert [f.name for f in MOD.figures] == [f"figure{n}" for n in (1, 4, 9, 10, 11, 12, 13, 14, 15)]


def test_tablespec_rejects_bad_layout_and_metric():
    with pytest.raises(InputError, match="layout"):
        TableSpec("t", "c", "d", (), (), (), layout="sideways")
    with pytest.raises(InputError, match="run metrics"):
        TableSpec("t", "c", "d", (("A", "a"),), (), (), layout="models", metric_columns=(("X", "speed"),))
    with pytest.raises(InputError, match="ratio_reference"):
        TableSpec(
            "t",
            "c",
            "d",
            (("A", "a"),),
            (),
            (),
            layout="models",
            metric_columns=(("T", "train_time_min"),),
            ratio_columns=(("r", "time_ratio", "train_time_min"),),
            ratio_reference="b",
        )


def test_hypernetworks_specs_keep_their_cells():
    spec = papers.table("hypernetworks", "table1")
    assert spec.grid_columns == spec.stats + spec.models and spec.grid_rows == spec.rows
    assert len(spec.printed_cells()) == 16 * 6 + 2 * 4 and spec.text_cells() == set()


# ----------------------------------------------------------------------------------------- synthetic runs


def write_index(d: Path, counts: dict[str, int]) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    events, files = [], []
    for c, n in counts.items():
        for i in range(n):
            files.append(f"{c}{i}\tfold1\t{c}{i}.wav\tmeta.csv\t3.5")
            events.append(f"{c}{i}\t0.0\t3.5\t{c}")
    (d / "files.tsv").write_text("file_id\tsplit\taudio\tannotation\tduration_s\n" + "\n".join(files) + "\n")
    (d / "events.tsv").write_text("file_id\tonset\toffset\tlabel\n" + "\n".join(events) + "\n")
    # what the index stage writes beside them: every listed clip present (the notes count clips from it)
    rows = [f"fold1\t{c}{i}.wav\t{c}{i}.wav\tpresent\t1\t{'0' * 64}" for c, n in counts.items() for i in range(n)]
    (d / "manifest.tsv").write_text("subset\tfilename\taudio\tstatus\tbytes\tsha256\n" + "\n".join(rows) + "\n")
    return d


def write_run(
    root: Path, dataset: str, model: str, seed: int, target: str, f1: dict, scores: dict, train: dict
) -> Path:
    run = root / "runs" / dataset / model / f"seed{seed}"
    run.mkdir(parents=True)
    metric = "clip_f1" if target == "clip" else "segment_f1"
    doc = metrics_doc(
        dataset,
        model,
        seed,
        [f1],
        target=target,
        metric=metric,
        epochs=[3],
        scalars={k: [v] for k, v in scores.items()},
        trivial={"Average": 5.0, "Overall": 20.0},
    )
    (run / "metrics.json").write_text(json.dumps(doc))
    (run / "train.json").write_text(json.dumps(train))
    return run


def render_cli(tmp_path, table, runs=(), index=None, train=True):
    out = tmp_path / "out"
    argv = [
        "--paper",
        "dessed",
        "--table",
        table,
        "--metrics",
        *[str(r / "metrics.json") for r in runs],
        "--train",
        *([str(r / "train.json") for r in runs] if train else []),
        "--paper-values",
        str(TSV),
        "--data-note",
        "synthetic test files",
        "--out-md",
        str(out / f"{table}.md"),
        "--out-html",
        str(out / f"{table}.html"),
        "--out-csv",
        str(out / f"{table}.csv"),
        "--out-tex",
        str(out / f"{table}.tex"),
        "--out-png",
        str(out / f"{table}.png"),
    ]
    if index is not None:
        argv += ["--index", str(index)]
    render.main(render.build_parser().parse_args(argv))
    assert (out / f"{table}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    tex = (out / f"{table}.tex").read_text()
    assert r"\end{tabular}" in tex and "Data: " in tex.split(r"\end{tabular}")[1]  # the data note follows the table
    return pd.read_csv(out / f"{table}.csv"), (out / f"{table}.md").read_text()


def test_render_table1_and_table2_from_index(tmp_path):
    counts = {c: 2 for c in DESSED.MONO_CLASSES}
    counts["car_horn"] = 1
    csv, md = render_cli(tmp_path, "table1", index=write_index(tmp_path / "us8k", counts))
    cell = csv[(csv.row == "car_horn") & (csv.column == "n_events")].iloc[0]
    assert cell.paper == 429 and cell.reproduced == 1 and cell.delta == -428
    assert "| car_horn | 429 / 1 (\u2212428) |" in md and "event count per class" in md
    assert "Trivial" not in md  # no model columns, no predictor to compare with

    poly = write_index(tmp_path / "tut", {"footsteps": 3})
    csv, md = render_cli(tmp_path, "table2", index=poly)
    assert csv.set_index("row").loc["footsteps", "reproduced"] == 3
    assert csv.set_index("row").loc["bus", "reproduced"] == 0  # no event of the class in the index
    assert list(csv.row) == list(DESSED.POLY_CLASSES)


def test_render_table3_scales_f1_and_shows_text_rows(tmp_path):
    f1 = {c: 50.0 for c in DESSED.MONO_CLASSES} | {"siren": 80.0, "Average": 53.0, "Overall": 60.0}
    runs = [
        write_run(
            tmp_path,
            "urbansound8k",
            "mono_baseline",
            0,
            "clip",
            f1,
            {"accuracy": 0.6, "loss": 1.25, "micro_f1": 0.6},
            {"epochs": 12, "train_time_s": 30.0, "parameters": 1000, "checkpoint_bytes": 4096},
        ),
        write_run(
            tmp_path,
            "urbansound8k",
            "mono_proposed",
            0,
            "clip",
            f1,
            {"accuracy": 0.2, "loss": 2.5, "micro_f1": 0.2},
            {"epochs": 7, "train_time_s": 10.0, "parameters": 500, "checkpoint_bytes": 2048},
        ),
    ]
    csv, md = render_cli(tmp_path, "table3", runs)
    t = csv.set_index(["row", "column"])
    assert t.loc[("siren", "mono_baseline"), "reproduced"] == pytest.approx(0.8)  # 80 % -> 0-1 scale
    assert t.loc[("siren", "mono_baseline"), "delta"] == pytest.approx(0.8 - 0.880)
    assert pd.isna(t.loc[("siren", "mono_proposed"), "paper"])  # the paper prints the baseline only
    assert t.loc[("test accuracy (Section 4.1)", "mono_proposed"), "delta"] == pytest.approx(0.2 - 0.263)
    assert t.loc[("epochs (Section 4.1)", "mono_baseline"), "reproduced"] == 12
    assert "| siren | 0.880 / 0.800 (\u22120.080) | \u2013 / 0.800 |" in md
    assert "| test loss (Section 4.1) | 0.524 / 1.250 (+0.726) | 2.040 / 2.500 (+0.460) |" in md
    assert "| epochs (Section 4.1) | 159 / 12 (\u2212147) | 39 / 7 (\u221232) |" in md
    assert "Clip targets" in md and "majority-class" in md


def test_render_table4_minutes_ratios_and_hardware(tmp_path):
    runs = []
    for i, (_, model) in enumerate(DESSED.POLY_MODELS):
        f1 = {"Average": 40.0, "Overall": 45.0}
        scores = {"accuracy": 0.9, "loss": 0.2 + i / 10, "micro_f1": 0.5}
        train = {
            "epochs": 10 + i,
            "train_time_s": 60.0 * (i + 1),
            "parameters": 10_000 * (i + 1),
            "checkpoint_bytes": 1024 * (i + 1),
            "device_name": "cpu: Test CPU (2 threads)",
        }
        if model == "dnd_proposed_maxpool":
            del train["train_time_s"]  # an older train.json: the cell is n/a, not an error
        runs.append(write_run(tmp_path, "tut_sed_synthetic_2016", model, 0, "frames", f1, scores, train))
    csv, md = render_cli(tmp_path, "table4", runs)
    t = csv.set_index(["row", "column"])
    assert (
        t.loc[("Baseline", "train_time_min"), "reproduced"] == 1.0
        and t.loc[("Dilated", "train_time_min"), "reproduced"] == 2.0
    )
    assert t.loc[("Dilated", "time_ratio"), "paper"] == pytest.approx(450 / 32, abs=0.005)
    assert (
        t.loc[("Dilated", "time_ratio"), "reproduced"] == 2.0 and t.loc[("Dessed", "time_ratio"), "reproduced"] == 3.0
    )
    assert pd.isna(t.loc[("Proposed Model max pooling", "train_time_min"), "reproduced"])
    assert t.loc[("Dessed", "size_kb"), "reproduced"] == 3.0 and t.loc[("Dessed", "parameters"), "reproduced"] == 30_000
    assert t.loc[("Dilated", "loss"), "delta"] == pytest.approx(0.3 - 0.115)
    assert t.loc[("Dessed", "epochs (Section 4.2)"), "reproduced"] == 12
    assert pd.isna(t.loc[("Proposed Model max pooling", "epochs (Section 4.2)"), "paper"])
    assert "| Baseline | 0.9620 / 0.9000 (\u22120.0620) |" in md  # as many decimals as the column prints (0.9532)
    assert "| \u2013 / 14 | 6.44 / n/a |" in md
    assert "cpu: Test CPU (2 threads)" in md and "Ryzen 7 3700X" in md
    assert "32.0 / 1.0 (\u221231.0)" in md and "14.06 / 2.00 (\u221212.06)" in md
    assert "Frame threshold 0.5: accuracy = frames: binary accuracy over (frame, class) cells" in md


def test_train_json_must_sit_beside_a_metrics_file(tmp_path):
    run = write_run(tmp_path, "tut_sed_synthetic_2016", "dnd_baseline", 0, "frames", {}, {}, {})
    stray = tmp_path / "elsewhere" / "train.json"
    stray.parent.mkdir()
    stray.write_text("{}")
    metrics = render.load_metrics([run / "metrics.json"])
    with pytest.raises(InputError, match="beside one of the given metrics.json"):
        render.load_train([stray], metrics)


# ---- claims of the text (config/paper_values/<paper>_claims.tsv) ----------------------------------------------------

PAPER_TEXTS = Path(os.environ.get("SEDREPRO_PAPERS") or REPO.parent / "shared" / "papers")
TEXT_FILES = {
    "hypernetworks": "hypernetworks-sed.md",
    "dessed": "dessed-dilated-replication.md",
    "ssa": "sparse-self-attention-sed.md",
    "mtl_vae": "mtl-vae-sed.md",
    "audioset": "audioset-event-recognition.md",
}


@pytest.mark.parametrize("paper", papers.names())
def test_claims_read_only_the_papers_own_tables_and_datasets(paper):
    mod = papers.get(paper)
    found = claims.load_claims(REPO / mod.text_claims)
    assert set(claims.datasets_needed(found)) <= {t.dataset for t in mod.tables}  # indexes the workflow builds anyway
    names = {t.name for t in mod.tables}
    for claim in found:
        if claim.checkable:
            tree = ast.parse(claim.check, mode="eval")
            functions = {"n", *claims.TABLE_FUNCTIONS, *claims.DATASET_FUNCTIONS, *claims.ARITHMETIC_FUNCTIONS}
            used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and n.id not in functions}
            assert used <= names | {papers.TEXT}, claim
    if paper == "dessed":  # the first audit's claims, now lines of the claims file
        legacy = [c for c in found if c.kind in claims.LEGACY_KINDS]
        assert len(legacy) == 13 and all(c.check.count('table4["') == (1 if c.kind == "value" else 2) for c in legacy)
        assert not hasattr(mod, "CLAIMS")


@pytest.mark.parametrize("paper", papers.names())
def test_claim_quotes_are_the_papers_words(paper):
    """Every quoted piece (pieces joined by ' [...] ') occurs in the paper's text, up to its markup (LaTeX, italics,
    a word hyphenated across lines)."""
    path = PAPER_TEXTS / TEXT_FILES[paper]
    if not path.is_file():
        pytest.skip(f"paper text not found at {path} (set SEDREPRO_PAPERS)")

    def plain(text):
        for a, b in (
            ("\\_", "_"),
            ("$", ""),
            ("\\approx ", "≈"),
            ("\\%", "%"),
            ("\\times", "×"),
            ("e^{-5}", "e-5"),
            ("3 - 4", "3 − 4"),
            ("*", ""),
            ("\\{", "{"),
            ("\\}", "}"),
        ):
            text = text.replace(a, b)
        return re.sub(r"(\w)- (\w)", r"\1\2", re.sub(r"\s+", " ", text))

    text = plain(path.read_text(encoding="utf-8"))
    missing = [
        (c.line, piece)
        for c in claims.load_claims(REPO / papers.get(paper).text_claims)
        for piece in c.quote.split(" [...] ")
        if plain(piece) not in text
    ]
    assert not missing


def test_maxpool_model_reads_max_pooling():
    """Table 4 prints 'avg pooling' for the max-pooling variant; the tables and figures name what the model is."""
    labels = [h for h, m in DESSED.POLY_MODELS if m == "dnd_proposed_maxpool"]
    assert labels == ["Proposed Model max pooling"]
    shown = [h for f in MOD.figures for h, _ in f.models] + [h for t in MOD.tables for h, _ in t.model_columns]
    assert "Proposed Model max pooling" in shown and not any("avg" in h for h in shown)
