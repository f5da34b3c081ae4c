"""End to end: a sweep of two values and an ensemble of its two runs, declared in a small config over config/tiny.yaml,
planned (no training for the ensemble) and built (the ensemble's predictions are its members' mean)."""

import json
import re
import subprocess
import sys

import numpy as np
import pytest
import yaml
from test_workflow import RESULTS, fresh_copy

from sedrepro import results

pytestmark = pytest.mark.workflow

OVERRIDE = {
    "models": {
        "lr": {"sweep": {"base": "crnn_uni", "key": "training.learning_rate", "values": [0.001, 0.01]}},
        "ens": {"ensemble": {"members": ["lr_learning_rate-0p001", "lr_learning_rate-0p01"]}},
    }
}
MEMBERS = OVERRIDE["models"]["ens"]["ensemble"]["members"]
RUNS = f"{RESULTS}/runs/urban_sed"
TARGETS = [f"{RUNS}/{model}/seed0/metrics.json" for model in ("ens", *MEMBERS)]


def run(workdir, *args):
    """snakemake on the targets with config/tiny.yaml and the override (--configfile last: it takes a list)."""
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "--cores",
        "2",
        *TARGETS,
        *args,
        "--configfile",
        "config/tiny.yaml",
        "override.yaml",
    ]
    proc = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, timeout=1500)
    assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-6000:]}"
    return proc


def job_counts(text):
    return {
        m.group(1): int(m.group(2)) for m in re.finditer(r"^\s*(\w+)\s+(\d+)\s*$", text, re.M) if m.group(1) != "total"
    }


def test_a_sweep_and_an_ensemble_are_planned_and_built(tmp_path):
    workdir = fresh_copy(tmp_path / "repo")
    (workdir / "override.yaml").write_text(yaml.safe_dump(OVERRIDE))
    plan = run(workdir, "-n", "--quiet=rules")
    jobs = job_counts(plan.stdout)
    # two trained runs (one per swept value), one average and three scores; nothing trained or predicted for "ens"
    assert (
        jobs["train_model"],
        jobs["predict_checkpoints"],
        jobs["average_predictions"],
        jobs["score_predictions"],
    ) == (2, 2, 1, 3), plan.stdout[-3000:]

    run(workdir)
    runs = workdir / RUNS
    assert (
        not (runs / "ens" / "seed0" / "checkpoints").exists() and not (runs / "ens" / "seed0" / "train.json").exists()
    )
    for member, lr in zip(MEMBERS, (0.001, 0.01), strict=True):
        provenance = json.loads((runs / member / "seed0" / "train.provenance.json").read_text())
        assert provenance["config"]["training"]["learning_rate"] == lr  # each run trained with its own value
        assert provenance["config"]["model"]["name"] == member
    sets = json.loads((runs / "ens" / "seed0" / "predictions" / "selection.json").read_text())["sets"]
    for member in MEMBERS:  # the ensemble carries its members' evaluation sets, as score_predictions needs
        assert json.loads((runs / member / "seed0" / "predictions" / "selection.json").read_text())["sets"] == sets
    metrics = {m: results.load(runs / m / "seed0" / "metrics.json") for m in ("ens", *MEMBERS)}
    assert metrics["ens"]["model"] == "ens" and metrics["ens"]["classes"] == metrics[MEMBERS[0]]["classes"]
    assert list(metrics["ens"]["sets"]) == sets
    for name in sets:
        preds = {m: sorted((runs / m / "seed0" / "predictions" / name).glob("epoch*.npz")) for m in ("ens", *MEMBERS)}
        assert len(preds["ens"]) == len(preds[MEMBERS[0]]) == len(preds[MEMBERS[1]]) >= 1
        for k, ens_file in enumerate(preds["ens"]):
            a, b = (np.load(preds[m][k])["probs"].astype(np.float64) for m in MEMBERS)
            np.testing.assert_allclose(np.load(ens_file)["probs"], (a + b) / 2, rtol=1e-6)
        losses = {m: results.per_checkpoint(metrics[m], "loss", name) for m in ("ens", *MEMBERS)}
        assert len(losses["ens"]) == len(preds["ens"])
        for k, loss in enumerate(losses["ens"]):
            member_losses = [losses[m][k] for m in MEMBERS]
            # cross-entropy is convex in the probabilities: the mean's loss is at most the members' mean loss, and
            # equal to neither member's (their predictions differ)
            assert loss <= np.mean(member_losses) + 1e-6  # float32 rounding
            assert all(loss != m_loss for m_loss in member_losses)
