"""End to end: the workflow on config/tiny.yaml in a fresh copy of the repository (the same code paths as the default).

One session-scoped run (the `built` fixture in conftest.py, shared with test_report.py) feeds several checks: the
rendered tables, the nothing-to-do rerun, the single-table target and the rerun of only one model's jobs after its
hyperparameter changes.
"""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from sedrepro.config import REPO

pytestmark = pytest.mark.workflow

TRACKED = ["Snakefile", "config.yaml", "config", "rules", "src", "envs", "profiles", "report"]


def snakemake(workdir: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "snakemake", "--cores", "2", "--configfile", "config/tiny.yaml", *args]
    proc = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, timeout=1500)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-6000:]}")
    return proc


def planned_jobs(workdir: Path, *args: str) -> dict[str, int]:
    """Rule name -> job count of a dry run."""
    out = snakemake(workdir, "-n", "--quiet=rules", *args).stdout  # "=": a target after it is not a --quiet value
    counts = {}
    for line in out.splitlines():
        m = re.match(r"^\s*(\w+)\s+(\d+)\s*$", line)
        if m and m.group(1) != "total":
            counts[m.group(1)] = int(m.group(2))
    return counts


def fresh_copy(dest: Path) -> Path:
    dest.mkdir()
    for name in TRACKED:
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            shutil.copy2(src, dest / name)
    return dest


def test_single_table_needs_only_its_dataset(tmp_path):
    workdir = fresh_copy(tmp_path / "repo")
    jobs = planned_jobs(workdir, "results/hypernetworks/table2.md")
    assert jobs["train_model"] == 4  # four models on URBAN-SED only
    assert jobs["generate_embedded"] == 1 and jobs["extract_dataset"] == 1
    assert "audit_paper" not in jobs and "describe_dataset" not in jobs


def test_single_dessed_table_needs_only_its_runs(tmp_path):
    workdir = fresh_copy(tmp_path / "repo")
    jobs = planned_jobs(workdir, "results/dessed/table4.md")
    assert jobs["train_model"] == 5  # the five polyphonic models on TUT-SED, nothing on UrbanSound8K or for hypernetworks
    assert jobs["extract_features"] == 1 and jobs["make_splits"] == 1  # one dataset, one pipeline (mfcc40_poly)
    jobs = planned_jobs(workdir, "results/dessed/table1.md")
    assert "train_model" not in jobs and "extract_features" not in jobs  # label counts need the index only


def test_dessed_outputs_come_from_both_pipelines(built):
    from sedrepro.papers import dessed

    out = built / "results" / "dessed"
    for spec in dessed.TABLES:
        csv = pd.read_csv(out / f"{spec.name}.csv")
        assert list(csv.columns) == ["row", "column", "paper", "reproduced", "std", "delta"]
        assert csv.paper.notna().any() and csv.reproduced.notna().any()
        assert (out / f"{spec.name}.md").read_text().count("|") > 10
    for figure in dessed.FIGURES:
        assert (out / f"{figure.name}.png").stat().st_size > 1000
    assert (out / "audit.md").exists()
    mono = json.loads((built / "results" / "runs" / "urbansound8k" / "mono_baseline" / "seed0" / "metrics.json").read_text())
    poly = json.loads((built / "results" / "runs" / "tut_sed_synthetic_2016" / "dnd_dilated" / "seed0" / "metrics.json").read_text())
    assert mono["target"] == "clip" and poly["target"] == "frames"
    assert len(mono["per_checkpoint"]) == 1  # the dessed paper evaluates the best checkpoint only
    features = json.loads((built / "data" / "features" / "tut_sed_synthetic_2016" / "mfcc40_poly" / "features.json").read_text())
    assert (features["kind"], features["n_mfcc"], features["n_fft"], features["hop_length"]) == ("mfcc", 40, 440, 220)
    split = json.loads((built / "data" / "splits" / "urbansound8k" / "mfcc40_mono" / "splits.json").read_text())
    assert split["split"]["protocol"] == "paper" and split["chunk_frames"] == 174
    assert split["files"]["train"] == 12 and split["files"]["test"] == 4  # 60/20/20 of the 20 tiny clips


def test_tables_hold_paper_and_reproduced_values(built):
    from sedrepro.io import read_tsv
    from sedrepro.papers import table as table_spec

    for name, n_rows in [("table1", 18), ("table2", 12)]:
        spec = table_spec("hypernetworks", name)
        csv = pd.read_csv(built / "results" / "hypernetworks" / f"{name}.csv")
        assert list(csv.columns) == ["row", "column", "paper", "reproduced", "std", "delta"]
        models = csv[csv.column.isin(["crnn_bi", "crnn_uni", "hcrnn128", "hcrnn64"])]
        assert len(models) == n_rows * 4 and models.paper.notna().all()
        # A class with no event in the tiny test split has no F1; every other cell must hold a computed value.
        index = built / "data" / "index" / spec.dataset
        files, events = read_tsv(index / "files.tsv"), read_tsv(index / "events.tsv")
        in_test = set(events[events.file_id.isin(files[files.split == "test"].file_id)].label)
        expected = {row for row, key in spec.rows if key in in_test or key in ("Average", "Overall")}
        filled = models[models.reproduced.notna()]
        assert set(filled.row) == expected and (filled.groupby("row").size() == 4).all()
        assert ((filled.reproduced >= 0) & (filled.reproduced <= 100)).all()
        assert (filled.delta - (filled.reproduced - filled.paper)).abs().max() < 0.011
        md = (built / "results" / "hypernetworks" / f"{name}.md").read_text()
        assert "Overall" in md and "Average" in md and "22,050" in md
        assert (built / "results" / "hypernetworks" / f"{name}.png").stat().st_size > 1000
    t1 = pd.read_csv(built / "results" / "hypernetworks" / "table1.csv")
    durations = t1[t1.column.isin(["avg_dur_s", "total_dur_s"])]
    assert len(durations) == 32 and durations[durations.column == "total_dur_s"].reproduced.notna().all()
    assert (built / "results" / "hypernetworks" / "audit.md").exists()
    for dataset in ["tut_sed_synthetic_2016", "urban_sed"]:
        assert (built / "results" / "datasets" / f"{dataset}.md").exists()


def test_provenance_beside_results(built):
    run = built / "results" / "runs" / "urban_sed" / "hcrnn64" / "seed0"
    prov = yaml.safe_load((run / "metrics.provenance.json").read_text())
    assert prov["seed"] == 0 and "torch" in prov["packages"]
    assert len(list((run / "predictions").glob("epoch*.npz"))) == 2


def test_rerun_does_nothing(built):
    proc = snakemake(built, "-n")
    assert "Nothing to be done" in proc.stdout + proc.stderr


def test_changing_one_model_reruns_only_its_jobs(built):
    tiny = yaml.safe_load((built / "config" / "tiny.yaml").read_text())
    tiny["models"]["hcrnn64"]["rnn"]["hyper"]["scale_init"] = 0.5
    (built / "config" / "tiny_changed.yaml").write_text(yaml.safe_dump(tiny))
    out = subprocess.run(
        [sys.executable, "-m", "snakemake", "--cores", "2", "--configfile", "config/tiny_changed.yaml", "-n",
         "--quiet", "rules"], cwd=built, capture_output=True, text=True, timeout=300,
    ).stdout
    counts = {m.group(1): int(m.group(2)) for m in re.finditer(r"^\s*(\w+)\s+(\d+)\s*$", out, flags=re.M)}
    counts.pop("total", None)
    assert counts == {"train_model": 2, "predict_checkpoints": 2, "score_predictions": 2, "render_table": 2, "all": 1}



@pytest.mark.skipif(shutil.which("g++") is None, reason="no C++ compiler: torch.compile's CPU backend needs g++")
def test_compile_changes_speed_not_what_reruns(built, tmp_path):
    """training.compile is an execution choice like threads: switching it reruns nothing, and a training job run with
    it compiles the HyperLSTM cell (checked on a copy, so that the shared run stays up to date)."""
    work = tmp_path / "repo"
    shutil.copytree(built, work, symlinks=True)  # copy2 keeps the mtimes Snakemake compares
    tiny = yaml.safe_load((work / "config" / "tiny.yaml").read_text())
    tiny.setdefault("training", {})["compile"] = True
    (work / "config" / "tiny_compile.yaml").write_text(yaml.safe_dump(tiny))
    base = [sys.executable, "-m", "snakemake", "--cores", "2"]
    proc = subprocess.run([*base, "-n", "--configfile", "config/tiny_compile.yaml"], cwd=work, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0 and "Nothing to be done" in proc.stdout + proc.stderr, proc.stdout[-3000:]
    target = "results/runs/urban_sed/hcrnn64/seed0/train.json"
    proc = subprocess.run([*base, target, "--forcerun", target, "--configfile", "config/tiny_compile.yaml"], cwd=work,
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-4000:]
    log = (work / "logs" / "train_model" / "urban_sed" / "hcrnn64" / "seed0.log").read_text()
    assert "HyperLSTM cell compiled with torch.compile" in log
    assert "running eagerly" not in log + proc.stderr  # the compile itself worked


def _edges_from_mermaid(text: str) -> set[tuple[str, str]]:
    edges = set()
    for line in text.splitlines():
        names = [part.strip() for part in line.strip().split("-->")]
        edges |= {(a, b) for a, b in zip(names, names[1:], strict=False) if a and b}
    return edges


def test_readme_dag_matches_the_rulegraph():
    readme = (REPO / "README.md").read_text()
    block = readme.split("```mermaid", 1)[1].split("```", 1)[0]
    graph = subprocess.run([sys.executable, "-m", "snakemake", "--rulegraph", "mermaid-js"], cwd=REPO,
                           capture_output=True, text=True, timeout=300, check=True).stdout
    ids = dict(re.findall(r"^\s*(id\d+)\[(\w+)\]", graph, flags=re.M))
    generated = {(ids[a], ids[b]) for a, b in re.findall(r"^\s*(id\d+) --> (id\d+)", graph, flags=re.M)}
    assert _edges_from_mermaid(block) == generated


def test_bad_config_stops_the_workflow_with_the_key_named(tmp_path):
    workdir = fresh_copy(tmp_path / "repo")
    cfg = workdir / "config.yaml"
    cfg.write_text(cfg.read_text().replace("learning_rate: 0.002", "learning_rate: -1"))
    proc = subprocess.run([sys.executable, "-m", "snakemake", "-n"], cwd=workdir, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode != 0
    assert "config key 'training/learning_rate': -1 is less than or equal to the minimum of 0" in proc.stdout + proc.stderr


@pytest.mark.parametrize("setting", ["seeds=[0, 1]", "training={compile: true}", "audio={sample_rate: 22050}"])
def test_config_on_the_command_line_takes_numbers_lists_and_booleans(tmp_path, setting):
    """Snakemake hands nested --config values over as strings; the schema's types apply to them before validation."""
    workdir = fresh_copy(tmp_path / "repo")
    jobs = planned_jobs(workdir, "--config", setting)
    assert jobs["train_model"] == (2 if setting.startswith("seeds") else 1) * planned_jobs(workdir)["train_model"]


def test_a_wrong_value_on_the_command_line_is_one_line_naming_the_key(tmp_path):
    workdir = fresh_copy(tmp_path / "repo")
    proc = snakemake(workdir, "-n", "--config", "seeds=[x]", check=False)
    assert proc.returncode != 0
    assert "config key 'seeds/0': 'x' is not of type 'integer'" in proc.stdout + proc.stderr


@pytest.mark.parametrize("target, message", [
    ("results/hypernetwork/table1.md", "the target's paper: expected one of hypernetworks, dessed, found 'hypernetwork'"),
    ("results/dessd/figure4.png", "the target's paper: expected one of hypernetworks, dessed, found 'dessd'"),
    ("results/datasets/urbansound.md",
     "the target's dataset: expected one of tut_sed_synthetic_2016, urban_sed, urbansound8k, found 'urbansound'"),
], ids=["table-paper", "figure-paper", "dataset"])
def test_a_misspelt_name_in_a_target_lists_the_valid_names(tmp_path, target, message):
    workdir = fresh_copy(tmp_path / "repo")
    proc = snakemake(workdir, "-n", target, check=False)
    assert proc.returncode != 0 and message in proc.stdout + proc.stderr, proc.stderr[-3000:]
