"""The sparse self-attention paper ("ssa"): its TableSpecs and transcribed values, its text's claims against its own
tables, its models in every config after sweep expansion, and Figure 2's kind drawn from a tiny trained network."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from sedrepro import attention_figure as ATT
from sedrepro import claims, config, datasets, figures, papers
from sedrepro.io import InputError
from sedrepro.models import build
from sedrepro.papers import FigureSpec, check_paper_values, load_paper_values
from sedrepro.papers import ssa as SSA
from sedrepro.train import model_record

REPO = Path(__file__).resolve().parents[1]
TSV = REPO / "config" / "paper_values" / "ssa.tsv"
CLAIMS = REPO / "config" / "paper_values" / "ssa_claims.tsv"
MOD = papers.get("ssa")
SWEEP_RUNS = tuple(f"ssa_sparsity-{v}" for v in ("1p0", "1p1", "1p2", "1p3", "1p4", "1p5"))


def test_registered_and_every_table_transcribed():
    assert "ssa" in papers.names() and papers.PAPERS.get("ssa") is MOD is SSA.PAPER
    values = load_paper_values(TSV)
    for spec in MOD.tables:
        check_paper_values(spec, values)  # raises on a missing or stray cell
    v = values.set_index(["table", "row", "column"])["value"]
    table1 = [v[("table1", "F1(%)", m)] for m in ("ssa_baseline", *SWEEP_RUNS)]
    assert table1 == [43.1, 46.8, 45.1, 46.1, 47.6, 46.6, 45.8]
    assert v[("table2", "Our method (SSA)", "event_f1@Average")] == 47.6 and v[("table2", "baseline", "psds")] == 64.1
    assert v[("table2", "CRNN ensemble [23]", "event_f1@Average")] == 46.4
    assert ("table2", "CRNN ensemble [23]", "psds") not in v.index  # printed "-"
    assert values.groupby("table").size().to_dict() == {"table1": 7, "table2": 11}


def test_tables_name_the_sweep_and_the_cited_rows():
    t1, t2 = MOD.table("table1"), MOD.table("table2")
    assert t1.models == ("ssa_baseline", *SWEEP_RUNS) and t1.metric == "event_f1" and t1.rows == (("F1(%)", "Average"),)
    assert t2.models == ("ssa_baseline", "ssa_sparsity-1p3") and t2.scale("psds") == 100.0
    assert t2.cited_labels == ("CRNN [23]", "CRNN ensemble [23]", "FP-CRNN [23]", "CNN+Transformer [13]")
    assert {t.evaluation_set for t in MOD.tables} == {f.evaluation_set for f in MOD.figures} == {"validation"}
    assert [f.kind for f in MOD.figures] == ["classwise", "attention"]


@pytest.mark.parametrize("extra", [[], ["config/tiny.yaml"], ["config/paper.yaml"]])
def test_every_model_named_exists_after_sweep_expansion(extra, monkeypatch):
    monkeypatch.chdir(REPO)
    cfg = config.load(["config.yaml", *extra])
    cfg["papers"] = ["ssa"]
    config.check(cfg)  # tables and figures naming undefined runs stop here
    models = config.expanded_models(cfg)
    named = {m for spec in MOD.tables for m in spec.models} | {m for f in MOD.figures for _, m in f.models}
    # the tiny config trains one lambda of six; the other columns of Table 1 are its skipped runs (n/a)
    skipped = set(cfg["skipped_runs"])
    assert skipped == (set(SWEEP_RUNS) - {"ssa_sparsity-1p3"} if extra == ["config/tiny.yaml"] else set())
    assert named - skipped <= set(models)
    trained = [m for m in SWEEP_RUNS if m not in skipped]
    lambdas = [config.model_config(cfg, m)["transformer"]["sparsity"] for m in trained]
    assert lambdas == ([1.3] if skipped else [1.0, 1.1, 1.2, 1.3, 1.4, 1.5])
    assert {config.model_config(cfg, m)["transformer"]["attention"] for m in trained} == {"sparsemax"}
    assert config.model_config(cfg, "ssa_baseline")["transformer"]["attention"] == "softmax"
    pipeline = cfg["pipelines"][config.model_pipeline(cfg, "ssa_baseline")]
    assert pipeline["sample_rate"] == 16000 and pipeline["evaluation_sets"] == ["validation", "public_eval"]
    assert (pipeline["features"]["n_mels"], pipeline["features"]["n_fft"], pipeline["features"]["hop_length"]) == (
        128,
        2048,
        255,
    )


def test_paper_config_has_the_papers_settings(monkeypatch):
    monkeypatch.chdir(REPO)
    cfg = config.load(["config.yaml", "config/paper.yaml"])
    model = config.model_config(cfg, "ssa_sparsity-1p3")
    training = config.model_training(cfg, "ssa_sparsity-1p3")
    assert model["cnn"]["channels"] == [16, 32, 64, 128, 128, 128, 128]
    assert (model["transformer"]["heads"], model["transformer"]["feedforward"]) == (16, 512)
    assert training["max_epochs"] == 500 and training["learning_rate"] == 0.001
    assert cfg["datasets"]["desed"]["source"] == "local"


def test_text_claims_hold_on_the_papers_own_tables():
    values = load_paper_values(TSV)
    ctx = claims.Context({t.name: t for t in MOD.tables}, values)
    results = [claims.evaluate(c, ctx) for c in claims.load_claims(CLAIMS) if c.checkable]
    assert len(results) == 13
    assert [r.claim.label for r in results if r.flagged] == []


def test_every_claim_is_flagged_when_its_number_moves():
    """No check ignores the number it judges: each claimed number moved past its relation is flagged."""
    ctx = claims.Context({t.name: t for t in MOD.tables}, load_paper_values(TSV))
    for claim in (c for c in claims.load_claims(CLAIMS) if c.checkable):
        value = claims.evaluate(claim, ctx).computed
        moved = {"=": value + 1, ">": value + 1, "<": value - 1}[claim.relation]
        assert claims.evaluate(dataclasses.replace(claim, claimed=f"{moved:.6f}"), ctx).flagged, claim


def test_attention_figure_spec_is_checked():
    with pytest.raises(InputError, match="two models"):
        FigureSpec("figure2", "c", "attention", "desed", (("SSA", "a"),))
    with pytest.raises(InputError, match="no metrics"):
        FigureSpec("figure2", "c", "attention", "desed", (("SSA", "a"), ("b", "b")), ("event_f1",))


def _tiny_run(run_dir: Path, attention: str, n_features: int, n_classes: int, x: torch.Tensor, y: torch.Tensor):
    """A cnn_transformer trained for a few steps, saved as the train stage does (train.json record, checkpoint)."""
    cfg = {
        "architecture": "cnn_transformer",
        "cnn": {
            "channels": [4, 4, 4],
            "kernel_size": 3,
            "pool_time": [2, 2, 1],
            "pool_freq": [2, 2, 2],  # 8 features -> 1 bin
            "activation": "glu",
            "dropout": 0.0,
            "bn_eps": 0.001,
            "bn_momentum": 0.99,
        },
        "transformer": {
            "layers": 1,
            "heads": 2,
            "feedforward": 8,
            "dropout": 0.0,
            "attention_dropout": 0.0,
            "attention": attention,
            "sparsity": 1.3 if attention == "sparsemax" else 1.0,
        },
        "pooling": "attention",
    }
    record = model_record(cfg, n_features, n_classes)
    torch.manual_seed(0)
    model = build(record["architecture"], record["config"], n_features, n_classes)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(3):
        loss = torch.nn.functional.binary_cross_entropy_with_logits(model(x)["strong"], y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    (run_dir / "checkpoints").mkdir(parents=True)
    torch.save(model.state_dict(), run_dir / "checkpoints" / "epoch003.pt")
    (run_dir / "train.json").write_text(json.dumps({"model": record}))
    return run_dir / "checkpoints"


def test_attention_figure_draws_from_tiny_trained_checkpoints(tmp_path):
    classes = list(datasets.get("desed").classes)
    n_features, hop_s, n_frames = 8, 0.1, 40
    ids = ["a", "b", "c", "d"]
    index = tmp_path / "index"
    index.mkdir()
    pd.DataFrame({"file_id": ids, "split": ["validation", "validation", "weak", "validation"]}).to_csv(
        index / "files.tsv", sep="\t", index=False
    )
    events = pd.DataFrame(
        [  # a: one class only (skipped); b and d: two classes; c: not in the set
            ("a", 0.5, 1.5, classes[0]),
            ("b", 0.2, 1.0, classes[4]),
            ("b", 2.0, 3.5, classes[8]),
            ("c", 0.0, 1.0, classes[1]),
            ("d", 1.0, 2.0, classes[2]),
            ("d", 1.5, 3.0, classes[3]),
        ],
        columns=["file_id", "onset", "offset", "label"],
    )
    events.to_csv(index / "events.tsv", sep="\t", index=False)
    feats = tmp_path / "feats"
    feats.mkdir()
    rng = np.random.default_rng(0)
    np.save(feats / "features.npy", rng.normal(size=(n_frames * len(ids), n_features)).astype(np.float32))
    pd.DataFrame({"file_id": ids, "split": "x", "start": np.arange(4) * n_frames, "n_frames": n_frames}).to_csv(
        feats / "frames.tsv", sep="\t", index=False
    )
    (feats / "features.json").write_text(json.dumps({"hop_s": hop_s, "n_features": n_features}))
    assert [fid for fid, _ in ATT.choose_clips(index, "validation")] == ["b", "d"]

    x = torch.randn(2, n_frames, n_features)
    y = (torch.rand(2, n_frames, len(classes)) > 0.8).float()
    ckpts = [
        _tiny_run(tmp_path / "runs" / name / "seed0", att, n_features, len(classes), x, y)
        for name, att in (("ssa_run", "sparsemax"), ("base_run", "softmax"))
    ]
    weights, probs, factor, name = ATT.attention_and_probs(ckpts[0], np.zeros((n_frames, n_features), np.float32))
    assert name == "epoch003.pt" and factor == 4 and weights.shape == (2, 10, 10) and probs.shape == (40, 10)
    assert np.allclose(weights.sum(-1), 1.0, atol=1e-5)

    spec = FigureSpec(
        "figure2", "attention", "attention", "desed", (("SSA", "ssa_run"), ("baseline", "base_run")), (), "validation"
    )
    data = figures.FigureData(index_dir=index, checkpoints=ckpts, features=[feats / "features.npy"])
    out = tmp_path / "figure2.png"
    figures.draw(spec, "test data", out, data=data)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    fig = figures.build(spec, "test data", data=data)
    titles = sorted(ax.get_title() for ax in fig.axes if ax.get_title())  # (a1) (a2) (b1) (b2): clip b, then d
    assert [t[:4] for t in titles] == ["(a1)", "(a2)", "(b1)", "(b2)"] and all("weights > 0" in t for t in titles)
    assert titles[0].startswith("(a1) SSA (ssa_run), head 0:") and titles[1].startswith("(a2) baseline (base_run)")
    assert [ax.get_xlabel() for ax in fig.axes if ax.get_xlabel()] == ["time (s) of clip b", "time (s) of clip d"]

    # the clips and head set in config (figures/ssa/figure2): a one-class clip is allowed when named
    params = ATT.KIND.settings({"clips": ["d", "a"], "head": 1}, "config key 'figures/ssa/figure2'")
    fig = figures.build(spec, "test data", data=data._replace(params=params))
    titles = sorted(ax.get_title() for ax in fig.axes if ax.get_title())
    assert titles[0].startswith("(a1) SSA (ssa_run), head 1:")
    assert [ax.get_xlabel() for ax in fig.axes if ax.get_xlabel()] == ["time (s) of clip d", "time (s) of clip a"]
    assert "clips set in config" in fig._suptitle.get_text()
    for clips, found in ((["c"], "'c' (not in that set)"), (["zz"], "'zz' (not in that set)")):
        expected = f"clips of set 'validation' with events ({index}/files.tsv), found {found}"
        with pytest.raises(InputError, match=re.escape(expected)):
            figures.build(spec, "test data", data=data._replace(params={**params, "clips": clips}))
    with pytest.raises(InputError, match=r"^figure setting head: expected a head of ssa_run \(0 to 1\), found 2$"):
        figures.build(spec, "test data", data=data._replace(params={**params, "head": 2}))


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"head": -1}, "config key 'figures/ssa/figure2/head': expected an integer >= 0"),
        ({"head": True}, "config key 'figures/ssa/figure2/head': expected an integer >= 0"),
        ({"clips": []}, "config key 'figures/ssa/figure2/clips': expected null or a non-empty list of distinct"),
        ({"clips": ["a", "a"]}, "config key 'figures/ssa/figure2/clips': expected null or a non-empty list"),
        ({"clip": ["a"]}, "config key 'figures/ssa/figure2': expected settings among clips, head, found clip"),
    ],
)
def test_figure_settings_are_checked_at_workflow_start(given, message, tmp_path):
    extra = tmp_path / "figures.yaml"
    extra.write_text(yaml.safe_dump({"figures": {"ssa": {"figure2": given}}}))
    with pytest.raises(InputError, match=re.escape(message)):
        config.load([REPO / "config.yaml", extra])


def test_figure_settings_name_a_figure_whose_kind_takes_them(tmp_path):
    extra = tmp_path / "figures.yaml"
    for entry, message in (
        ({"ssa": {"figure9": {}}}, "config key 'figures/ssa': expected one of figure1, figure2, found 'figure9'"),
        (
            {"ssa": {"figure1": {"head": 1}}},
            "config key 'figures/ssa/figure1': expected no settings (figure kind 'classwise' has none), found head",
        ),
    ):
        extra.write_text(yaml.safe_dump({"figures": entry}))
        with pytest.raises(InputError, match=re.escape(message)):
            config.load([REPO / "config.yaml", extra])
    assert ATT.KIND.settings({}, "x") == {"clips": None, "head": 0}  # unset: the first two clips, head 0


def test_the_figures_cli_finds_a_kind_registered_outside_its_module(tmp_path):
    """`python -m sedrepro.figures` runs as __main__: the kinds a paper module registers (attention) must be found."""
    out = tmp_path / "figure2.png"
    cmd = [sys.executable, "-m", "sedrepro.figures", "--paper", "ssa", "--figure", "figure2", "--index", str(tmp_path)]
    cmd += ["--checkpoints", str(tmp_path / "none1"), str(tmp_path / "none2"), "--features", str(tmp_path / "f.npy")]
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    proc = subprocess.run([*cmd, "--data-note", "x", "--out", str(out)], capture_output=True, text=True, env=env)
    assert proc.returncode == 2 and "registered figure kind" not in proc.stderr
    # it got past the kind, to reading the index
    assert f"error: {tmp_path / 'files.tsv'}: expected the dataset index's file, found no such file" in proc.stderr
