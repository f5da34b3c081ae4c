"""The audioset paper (Xu's report): its transcribed values fit its tables, each training-curve figure draws one
curve per value of its config sweep (a value added in config adds exactly one run and one curve), a validation set
is held out of bal_train, and its figures are drawn from history.csv files as the train stage writes them."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest

from sedrepro import config as sconfig
from sedrepro import figures, papers, workflow
from sedrepro.datasets.base import hold_out_validate
from sedrepro.io import InputError

PAPER = papers.get("audioset")


@pytest.fixture(scope="module")
def default_config():
    return sconfig.load([sconfig.REPO / "config.yaml"])


def test_every_table_s_printed_cells_are_transcribed():
    values = papers.load_paper_values(sconfig.REPO / PAPER.values_path)
    for spec in PAPER.tables:
        papers.check_paper_values(spec, values, f"{PAPER.values_path} {spec.name}")


def with_values(config: dict, sweep: str, values: list) -> dict:
    raw = copy.deepcopy(config)
    raw["models"] = {k: v for k, v in raw["models"].items() if not k.startswith(f"{sweep}_")}
    raw["models"][sweep] = {"sweep": {**SWEEPS[sweep], "values": values}}
    raw["models"] = sconfig.expanded_models(raw)
    return raw


SWEEPS = {"as_dropout": {"base": "as_fc", "key": "dropout"}}


def write_history(root, model, seed=0, n=4):
    run = root / "runs" / "audioset" / model / f"seed{seed}"
    run.mkdir(parents=True)
    epochs = np.arange(1, n + 1)
    pd.DataFrame(
        {
            "epoch": epochs,
            "train_loss": 1.0 / epochs,
            "val_loss": 1.2 / epochs,
            "train_accuracy": 0.9,
            "val_accuracy": 0.9,
            "val_frame_f1": 10.0,
            "val_auc": 0.5 + epochs / 10,
            "val_ap": epochs / 10,
            "epoch_time_s": 1.0,
        }
    ).to_csv(run / "history.csv", index=False)
    return run / "history.csv"


def validation_curves(spec, paths) -> list[int]:
    """Per panel (metric), the number of validation curves drawn."""
    fig = figures.build(spec, "test", histories=figures.read_histories(paths, spec.metrics))
    return [sum("validation" in line.get_label() for line in ax.get_lines()) for ax in fig.axes]


def test_a_sweep_value_added_in_config_adds_exactly_one_run_and_one_curve(default_config, tmp_path):
    spec = PAPER.figure("figure2")
    small = with_values(default_config, "as_dropout", [0.0, 0.5])
    more = with_values(default_config, "as_dropout", [0.0, 0.25, 0.5])
    runs_small, runs_more = workflow.paper_runs(small), workflow.paper_runs(more)
    assert [r for r in runs_more if r not in runs_small] == [("audioset", "as_dropout_dropout-0p25")]
    assert len(runs_more) == len(runs_small) + 1
    history_small = workflow.figure_inputs(small, "audioset", "figure2")["history"]
    history_more = workflow.figure_inputs(more, "audioset", "figure2")["history"]
    assert [h for h in history_more if h not in history_small] == [
        workflow.run_file(more, "audioset", "as_dropout_dropout-0p25", 0, "history.csv")
    ]
    paths = {m: write_history(tmp_path, m) for _, m in spec.runs(more["models"])}
    drawn_small = validation_curves(spec, [paths[m] for _, m in spec.runs(small["models"])])
    drawn_more = validation_curves(spec, list(paths.values()))
    assert drawn_small == [2] * len(spec.metrics) and drawn_more == [3] * len(spec.metrics)


def test_the_sweep_figure_labels_its_runs_by_value(default_config):
    spec = PAPER.figure("figure3")
    labels = [label for label, _ in spec.runs(default_config["models"])]
    assert labels == ["weight_decay = 0.0", "weight_decay = 0.0001", "weight_decay = 0.001"]


def test_a_sweep_figure_without_runs_stops_the_config_check(default_config):
    raw = copy.deepcopy(default_config)
    raw["models"] = {k: v for k, v in raw["models"].items() if not k.startswith("as_width_")}
    with pytest.raises(InputError, match="'models/as_width'.*figure figure6"):
        sconfig.check(raw)


def test_validate_is_a_seeded_share_of_bal_train_and_nothing_else_moves():
    ids = [f"-id{i:03d}" for i in range(50)]
    sets = pd.Series(["bal_train"] * 30 + ["eval"] * 20, index=pd.Index(ids, name="file_id"))
    split = {"protocol": "official", "seed": 3, "validate_from": "bal_train", "validate_share": 0.1}
    out = hold_out_validate(sets, split)
    assert (out == "validate").sum() == 3 and (out == "eval").sum() == 20
    assert set(out.index[out == "validate"]) <= set(ids[:30])
    shuffled = hold_out_validate(sets.iloc[::-1], split)
    assert set(shuffled.index[shuffled == "validate"]) == set(out.index[out == "validate"])
    with pytest.raises(InputError, match="validate_from"):
        hold_out_validate(sets, {**split, "validate_from": "unbal_train"})


def test_the_big_data_training_declares_its_resources_in_the_paper_config():
    cfg = sconfig.load([sconfig.REPO / "config.yaml", sconfig.REPO / "config/paper.yaml"])
    assert workflow.train_resources(cfg, "as_fc_big") == {"mem_mb": 64000, "runtime": 2880, "gpu": 1}
    assert workflow.train_resources(cfg, "as_fc") == {"mem_mb": 16000, "runtime": 720, "gpu": 1}  # the default
    # what a job asks the scheduler for is no part of what it computes: no rerun, no other resume key
    assert "resources" not in workflow.training_json(cfg, "as_fc_big")


def test_the_ensemble_of_clip_tags_is_the_mean_of_its_members_scores(tmp_path):
    from sedrepro import ensemble

    classes, files = [str(i) for i in range(4)], ["-a_0", "-b_10000", "c_0"]
    members = {}
    for i, name in enumerate(("as_fc", "as_residual", "as_conv")):
        folder = tmp_path / name / "eval"
        folder.mkdir(parents=True)
        members[name] = np.random.default_rng(i).random((len(files), len(classes))).astype(np.float32)
        np.savez_compressed(
            folder / "epoch003.npz",
            probs=members[name],
            offsets=np.arange(len(files) + 1, dtype=np.int64) * 10,
            file_ids=np.array(files, dtype=str),
            hop_s=np.float64(1.0),
            classes=np.array(classes, dtype=str),
            target=np.asarray("tags"),
        )
        (tmp_path / name / "selection.json").write_text(
            '{"selection": "best_val_loss", "n_checkpoints": 1, "epochs": [3], "sets": ["eval"]}'
        )
    ensemble.average_predictions([tmp_path / m for m in members], tmp_path / "ens")
    (got,) = ensemble.read_predictions(tmp_path / "ens")["eval"]
    want = sum(p.astype(np.float64) for p in members.values()) / 3
    np.testing.assert_allclose(got.arrays["probs"], want, rtol=1e-6)
    assert str(got.arrays["target"]) == "tags" and got.arrays["probs"].shape == (3, 4)
