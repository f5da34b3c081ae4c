"""The extension surface is open (issue 15): a paper, dataset, architecture and metric defined only in test files
(tests/plugins/sedrepro_toy.py, named in the `plugins` list of tests/plugins/toy.yaml) build a table through the
workflow, with nothing under src/ or rules/ edited."""

import hashlib
import importlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from test_workflow import fresh_copy

from sedrepro import metrics, papers, results
from sedrepro.config import REPO
from sedrepro.datasets import DATASETS
from sedrepro.models import ARCHITECTURES

PLUGINS = REPO / "tests" / "plugins"
TOY = yaml.safe_load((PLUGINS / "toy.yaml").read_text())
TOY_NAMES = ("sedrepro_toy", "toy_sed", "frame_mlp", "frame_error_rate", "toy_mlp")
SHARED = ("src", "rules")


def shared_digests(root: Path) -> dict[str, str]:
    """sha256 of every file under src/ and rules/ (not bytecode caches) by path."""
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for top in SHARED
        for p in sorted((root / top).rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts and ".egg-info" not in p.as_posix()
    }


@pytest.fixture
def toy(monkeypatch):
    """The plugin imported into copies of the registries (the real ones stay as they were for other tests)."""
    for registry in (DATASETS, ARCHITECTURES, metrics.METRICS, papers.PAPERS):
        monkeypatch.setattr(registry, "_parts", dict(registry._parts))
    monkeypatch.syspath_prepend(str(PLUGINS))
    sys.modules.pop("sedrepro_toy", None)
    module = importlib.import_module("sedrepro_toy")
    monkeypatch.setitem(sys.modules, "sedrepro_toy", module)  # removed again afterwards: a later import registers anew
    return module


def test_the_toy_parts_register_from_the_plugin_and_the_error_rate_counts_s_d_i(toy):
    assert DATASETS.get("toy_sed").classes == ("car_horn", "dog_bark", "siren")
    assert "frame_mlp" in ARCHITECTURES and not metrics.get("frame_error_rate").per_class
    assert papers.table("toy", "table1").dataset == "toy_sed"
    truth = np.array([[1, 0], [1, 1], [0, 0], [1, 1]], dtype=bool)
    decisions = np.array([[0, 1], [1, 0], [1, 0], [1, 1]], dtype=bool)
    # one substitution (frame 0), one deletion (frame 1), one insertion (frame 2) over 5 active reference cells;
    # not 1 - accuracy (4 of 8 cells wrong)
    assert toy.frame_error_rate(decisions, truth) == pytest.approx(3 / 5)


def test_a_plugin_paper_keeps_its_values_beside_its_module_and_the_workflow_reads_them_there(toy):
    from sedrepro import workflow as glue
    from sedrepro.io import InputError

    where = str(PLUGINS / "toy.tsv")
    assert papers.get("toy").values_path == where and glue.paper_values("toy") == where
    assert glue.audit_inputs({}, REPO, "toy") == {"paper_values": where}
    papers.check_paper_values(papers.table("toy", "table1"), papers.load_paper_values(where))
    assert papers.get("hypernetworks").values_path == "config/paper_values/hypernetworks.tsv"  # the default
    with pytest.raises(InputError, match=r"^paper 'toy2' values_path: expected the path of a paper-values TSV, found"):
        papers.Paper(name="toy2", tables=(toy.TABLE1,), values_path="toy.csv")


def test_the_audit_reads_a_papers_values_path_without_paper_values(toy, tmp_path):
    from sedrepro import audit

    out = tmp_path / "audit.md"
    audit.main(
        audit.build_parser().parse_args(["--paper", "toy", "--out", str(out), "--out-html", str(tmp_path / "a")])
    )
    assert str(PLUGINS / "toy.tsv") in out.read_text()  # the sources it names


def test_no_shared_file_names_the_toy_parts():
    for path in shared_digests(REPO):
        text = (REPO / path).read_text(errors="replace")
        assert not [name for name in TOY_NAMES if name in text], path


@pytest.mark.workflow
def test_a_table_of_parts_defined_only_in_test_files_builds_through_the_workflow(tmp_path):
    workdir = fresh_copy(tmp_path / "repo")
    # render and audit read the toy paper's (made-up) values from its values_path, beside the plugin
    assert not (workdir / "config" / "paper_values" / "toy.tsv").exists()
    before = shared_digests(workdir)
    assert before == shared_digests(REPO)
    target = f"{TOY['results_root']}/toy/table1.csv"
    # the plugin reaches Snakemake and every job through PYTHONPATH (docs/adding-a-paper.md, "Plugins"), and nothing else
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(PLUGINS)] + [p for p in [os.environ.get("PYTHONPATH")] if p]),
    }
    cmd = [sys.executable, "-m", "snakemake", target, "--cores", "2", "--configfile", str(PLUGINS / "toy.yaml")]
    proc = subprocess.run(cmd, cwd=workdir, env=env, capture_output=True, text=True, timeout=1500)
    assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-6000:]}"

    run = results.load(workdir / TOY["results_root"] / "runs" / "toy_sed" / "toy_mlp" / "seed0" / "metrics.json")
    assert results.n_checkpoints(run, "test") == TOY["evaluation"]["n_checkpoints"]
    table = pd.read_csv(workdir / target, dtype=str).set_index(["row", "column"])  # as written: rounded numbers
    assert list(table.index) == [("Frame MLP", "frame_error_rate"), ("Frame MLP", "accuracy")]
    for metric, paper in (("frame_error_rate", 0.42), ("accuracy", 0.9)):
        values = results.values(run, metric, "test")
        assert len(values) == TOY["evaluation"]["n_checkpoints"] and all(np.isfinite(values))
        cell = table.loc[("Frame MLP", metric)]
        decimals = len(cell.reproduced.split(".")[1])  # as many as the paper prints, at least 2
        assert float(cell.paper) == paper and decimals >= 2
        assert cell.reproduced == f"{np.mean(values):.{decimals}f}" and cell["std"] == f"{np.std(values):.{decimals}f}"
    assert float(table.loc[("Frame MLP", "frame_error_rate"), "reproduced"]) >= 0
    assert shared_digests(workdir) == before  # the run edited nothing under src/ or rules/
