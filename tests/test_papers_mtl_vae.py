"""The multi-task VAE paper ("mtl_vae"): Figures 2-3 as tables over two evaluation sets, the transcribed values, the
text's claims against the paper's own tables, Figure 2's rows as configuration only (sources and per-source loss
terms), the Figure 3 variant, and the evaluation-set columns read from each set of metrics.json."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pandas as pd
import pytest

from sedrepro import claims, config, papers, workflow
from sedrepro.losses import Loss
from sedrepro.papers import TableSpec, check_paper_values, load_paper_values
from sedrepro.papers import mtl_vae as MTL
from sedrepro.render import build_table

REPO = Path(__file__).resolve().parents[1]
TSV = REPO / "config" / "paper_values" / "mtl_vae.tsv"
CLAIMS = REPO / "config" / "paper_values" / "mtl_vae_claims.tsv"
MOD = papers.get("mtl_vae")
ROWS = ("mtl_vae_synth", "mtl_vae_synth_weak", "mtl_vae_synth_weak_rec", "mtl_vae_all", "mtl_vae_real")
# each Figure 2 row's tasks: (term, its source) pairs, KL aside
TASKS = {
    "mtl_vae_synth": [("bce_strong", "synthetic_train")],
    "mtl_vae_synth_weak": [("bce_strong", "synthetic_train"), ("bce_tags", "weak_train")],
    "mtl_vae_synth_weak_rec": [
        ("bce_strong", "synthetic_train"),
        ("bce_tags", "weak_train"),
        ("mse_reconstruction", "unlabel_in_domain"),
    ],
    "mtl_vae_all": [
        ("bce_strong", "synthetic_train"),
        ("bce_strong", "strong_real"),
        ("bce_tags", "weak_train"),
        ("mse_reconstruction", "unlabel_in_domain"),
    ],
    "mtl_vae_real": [("bce_strong", "strong_real")],
}


def test_registered_and_every_cell_transcribed():
    assert "mtl_vae" in papers.names() and MOD is MTL.PAPER
    assert [t.name for t in MOD.tables] == ["figure2", "figure3"] and not MOD.figures
    values = load_paper_values(TSV)
    for spec in MOD.tables:
        check_paper_values(spec, values)  # raises on a missing or stray cell
    v = values.set_index(["table", "row", "column"])["value"]
    best = "+ strong tagging (real): all four tasks"
    assert [v[("figure2", best, c)] for _, c in MTL.COLUMNS] == [32.5, 60.6, 31.8, 60.6]
    assert [v[("figure3", "Deterministic", c)] for _, c in MTL.COLUMNS] == [28.6, 59.1, 27.2, 59.7]
    assert values.groupby("table").size().to_dict() == {"figure2": 20, "figure3": 8}
    # the columns read both evaluation sets, each set's event and segment macro F1
    assert [papers.column_set(c, "x") for _, c in MTL.COLUMNS] == ["validation"] * 2 + ["public_eval"] * 2
    assert {papers.split_run_metric(c) for _, c in MTL.COLUMNS} == {("event_f1", "Average"), ("segment_f1", "Average")}


def test_text_claims_hold_on_the_papers_own_tables_but_the_one_it_contradicts():
    ctx = claims.Context({t.name: t for t in MOD.tables}, load_paper_values(TSV))
    results = [claims.evaluate(c, ctx) for c in claims.load_claims(CLAIMS) if c.checkable]
    assert len(results) == 15
    # Section 3.1 says 31.9 where Figure 2 and the abstract say 31.8
    assert [r.claim.label for r in results if r.flagged] == ["adding strong real data, public eval event F1 (text)"]
    for claim in (c for c in claims.load_claims(CLAIMS) if c.checkable):  # no check ignores its number
        value = claims.evaluate(claim, ctx).computed
        moved = {"=": value + 2, ">": value + 1, ">=": value + 1, "<": value - 1, "<=": value - 1}[claim.relation]
        assert claims.evaluate(dataclasses.replace(claim, claimed=f"{moved:.6f}"), ctx).flagged, claim


@pytest.mark.parametrize("extra", [[], ["config/tiny.yaml"], ["config/paper.yaml"]])
def test_figure2_rows_differ_only_in_sources_and_loss_terms(extra, monkeypatch):
    """Each row is a model entry: the same architecture and settings, its tasks as training sources with one loss
    term each restricted to its source, the KL over every row; Figure 3's deterministic row is the four-task entry
    with variational false. Every term's source is one of the entry's sources and has its labels."""
    monkeypatch.chdir(REPO)
    cfg = config.load(["config.yaml", *extra])
    cfg["papers"] = ["mtl_vae"]
    config.check(cfg)
    assert {m for t in MOD.tables for m in t.models} == {*ROWS, "mtl_vae_deterministic"}
    arch = {k: v for k, v in config.model_config(cfg, "mtl_vae_all").items() if k not in ("variational", "name")}
    for model in (*ROWS, "mtl_vae_deterministic"):
        training = config.model_training(cfg, model)
        sources = [s["split"] for s in training["sources"]]
        tasks = [(t["term"], *t["sources"]) for t in training["loss"] if t["term"] != "kl_gaussian"]
        assert tasks == TASKS.get(model, TASKS["mtl_vae_all"]) and sorted({s for _, s in tasks}) == sorted(sources)
        assert [t for t in training["loss"] if t["term"] == "kl_gaussian"] == [{"term": "kl_gaussian", "weight": 1.0}]
        assert training["learning_rate"] == 0.0005 and training["recipe"] == "supervised"
        assert {s["share"] for s in training["sources"]} == {1}  # the batch shared equally among the tasks
        assert {k: v for k, v in config.model_config(cfg, model).items() if k not in ("variational", "name")} == arch
        assert config.model_config(cfg, model)["variational"] is (model != "mtl_vae_deterministic")
        assert config.model_pipeline(cfg, model) == config.model_pipeline(cfg, "ssa_baseline")  # shared DESED stages
        Loss(training["loss"], sources=sources)  # every named source is a training source
    pipeline = cfg["pipelines"][config.model_pipeline(cfg, "mtl_vae_all")]
    assert pipeline["evaluation_sets"] == ["validation", "public_eval"]
    real = [s for s in pipeline["sources"] if s["name"] == "strong_real"]
    assert real == [{"name": "strong_real", "label_kind": "strong", "statistics": False}]  # norm.json as before


def test_paper_config_has_the_papers_settings(monkeypatch):
    monkeypatch.chdir(REPO)
    cfg = config.load(["config.yaml", "config/paper.yaml"])
    for model in (*ROWS, "mtl_vae_deterministic"):
        m = config.model_config(cfg, model)
        assert (m["state_size"], m["latents"], m["gru_layers"]) == (256, 256, 2)  # the peer code's widths
        training = config.model_training(cfg, model)
        assert (training["batch_size"], training["learning_rate"]) == (32, 0.0005)  # the paper's


def _metrics(model: str, values: dict[str, float]) -> dict:
    """A metrics.json of one run: per set, event_f1 and segment_f1 Average = values[set] (+ 10 for segment)."""

    def metric(v: float) -> dict:
        return {"params": {}, "per_checkpoint": [{"Average": v}], "mean": {"Average": v}, "std": {"Average": 0.0}}

    sets = {
        name: {
            "metrics": {"event_f1": metric(v), "segment_f1": metric(v + 10)},
            "epochs": [1],
            "threshold": 0.5,
            "segment_s": 1.0,
            "trivial": {},
        }
        for name, v in values.items()
    }
    return {"dataset": "desed", "model": model, "seed": 0, "target": "frames", "sets": sets}


def test_each_column_reads_its_own_evaluation_set():
    """Both evaluation sets scored and shown: the validation columns read metrics.json's validation set, the public
    evaluation columns its public_eval set."""
    spec: TableSpec = MOD.table("figure3")
    runs = [
        _metrics("mtl_vae_deterministic", {"validation": 20.0, "public_eval": 30.0}),
        _metrics("mtl_vae_all", {"validation": 21.0, "public_eval": 31.0}),
    ]
    try:
        table = build_table(spec, runs, load_paper_values(TSV), None)
    except KeyError as err:  # the fixture's metrics.json shape is the results module's
        pytest.fail(f"metrics.json shape: {err}")
    got = table.set_index(["row", "column"])["reproduced"]
    assert [got[("Deterministic", c)] for _, c in MTL.COLUMNS] == [20.0, 30.0, 30.0, 40.0]
    assert [got[("Variational", c)] for _, c in MTL.COLUMNS] == [21.0, 31.0, 31.0, 41.0]
    assert isinstance(table, pd.DataFrame)


def test_tables_named_like_figures_are_rendered_not_plotted():
    """figure2/figure3 of mtl_vae are tables (render_table); ssa's figure2 stays a figure (plot_figure)."""
    import re

    cfg = config.load([str(REPO / "config.yaml")])
    constraints = workflow.wildcard_constraints(cfg)
    table, figure = re.compile(constraints["table"]), re.compile(constraints["figure"])

    def claims_(pattern: re.Pattern, path: str) -> bool:
        return bool(re.fullmatch(rf"results/(?P<paper>\w+)/(?P<name>{pattern.pattern})\.png", path))

    assert claims_(table, "results/mtl_vae/figure2.png") and not claims_(figure, "results/mtl_vae/figure2.png")
    assert claims_(figure, "results/ssa/figure2.png") and not claims_(table, "results/ssa/figure2.png")
    assert claims_(table, "results/ssa/table1.png") and not claims_(figure, "results/ssa/table1.png")
    targets = workflow.paper_targets(cfg, "mtl_vae")
    assert "results/mtl_vae/figure2.csv" in targets and "results/mtl_vae/figure3.png" in targets
