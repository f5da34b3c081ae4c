"""End to end: the workflow on config/tiny.yaml in a fresh copy of the repository (the same code paths as the default).

One session-scoped run (the `built` fixture in conftest.py, shared with test_report.py) feeds several checks: the
rendered tables, the nothing-to-do rerun, the single-table target and the rerun of only one model's jobs after its
hyperparameter changes.
"""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from sedrepro import results
from sedrepro.config import REPO

pytestmark = pytest.mark.workflow

TINY = yaml.safe_load((REPO / "config" / "tiny.yaml").read_text())
RESULTS, DATA = TINY["results_root"], TINY["data_root"]  # the tiny run's own roots
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
    jobs = planned_jobs(workdir, f"{RESULTS}/hypernetworks/table2.md")
    assert jobs["train_model"] == 4  # four models on URBAN-SED only
    assert jobs["generate_embedded"] == 1 and jobs["extract_dataset"] == 1
    assert "audit_paper" not in jobs and "describe_dataset" not in jobs


def test_single_dessed_table_needs_only_its_runs(tmp_path):
    workdir = fresh_copy(tmp_path / "repo")
    jobs = planned_jobs(workdir, f"{RESULTS}/dessed/table4.md")
    assert (
        jobs["train_model"] == 5
    )  # the five polyphonic models on TUT-SED, nothing on UrbanSound8K or for hypernetworks
    assert jobs["extract_features"] == 1 and jobs["make_splits"] == 1  # one dataset, one pipeline (mfcc40_poly)
    jobs = planned_jobs(workdir, f"{RESULTS}/dessed/table1.md")
    assert "train_model" not in jobs and "extract_features" not in jobs  # label counts need the index only


def test_dessed_outputs_come_from_both_pipelines(built):
    from sedrepro import papers

    dessed = papers.get("dessed")
    out = built / RESULTS / "dessed"
    for spec in dessed.tables:
        csv = pd.read_csv(out / f"{spec.name}.csv")
        assert list(csv.columns) == ["row", "column", "paper", "reproduced", "std", "delta"]
        assert csv.paper.notna().any() and csv.reproduced.notna().any()
        assert (out / f"{spec.name}.md").read_text().count("|") > 10
    for figure in dessed.figures:
        assert (out / f"{figure.name}.png").stat().st_size > 1000
    assert (out / "audit.md").exists()
    mono = json.loads(
        (built / RESULTS / "runs" / "urbansound8k" / "mono_baseline" / "seed0" / "metrics.json").read_text()
    )
    poly = json.loads(
        (built / RESULTS / "runs" / "tut_sed_synthetic_2016" / "dnd_dilated" / "seed0" / "metrics.json").read_text()
    )
    assert mono["target"] == "clip" and poly["target"] == "frames"
    assert results.n_checkpoints(mono, "test") == 1  # the dessed paper evaluates the best checkpoint only
    features = json.loads(
        (built / DATA / "features" / "tut_sed_synthetic_2016" / "mfcc40_poly" / "features.json").read_text()
    )
    assert (features["kind"], features["n_mfcc"], features["n_fft"], features["hop_length"]) == ("mfcc", 40, 440, 220)
    split = json.loads((built / DATA / "splits" / "urbansound8k" / "mfcc40_mono" / "splits.json").read_text())
    assert split["split"]["protocol"] == "paper" and split["chunk_frames"] == 174
    assert split["files"]["train"] == 12 and split["files"]["test"] == 4  # 60/20/20 of the 20 tiny clips


def test_tables_hold_paper_and_reproduced_values(built):
    from sedrepro.io import read_tsv
    from sedrepro.papers import table as table_spec

    for name, n_rows in [("table1", 18), ("table2", 12)]:
        spec = table_spec("hypernetworks", name)
        csv = pd.read_csv(built / RESULTS / "hypernetworks" / f"{name}.csv")
        assert list(csv.columns) == ["row", "column", "paper", "reproduced", "std", "delta"]
        models = csv[csv.column.isin(["crnn_bi", "crnn_uni", "hcrnn128", "hcrnn64"])]
        assert len(models) == n_rows * 4 and models.paper.notna().all()
        # A class with no event in the tiny test split has no F1; every other cell must hold a computed value.
        index = built / DATA / "index" / spec.dataset
        files, events = read_tsv(index / "files.tsv"), read_tsv(index / "events.tsv")
        in_test = set(events[events.file_id.isin(files[files.split == "test"].file_id)].label)
        expected = {row for row, key in spec.rows if key in in_test or key in ("Average", "Overall")}
        filled = models[models.reproduced.notna()]
        assert set(filled.row) == expected and (filled.groupby("row").size() == 4).all()
        assert ((filled.reproduced >= 0) & (filled.reproduced <= 100)).all()
        assert (filled.delta - (filled.reproduced - filled.paper)).abs().max() < 0.011
        md = (built / RESULTS / "hypernetworks" / f"{name}.md").read_text()
        assert "Overall" in md and "Average" in md and "22,050" in md
        assert (built / RESULTS / "hypernetworks" / f"{name}.png").stat().st_size > 1000
    t1 = pd.read_csv(built / RESULTS / "hypernetworks" / "table1.csv")
    durations = t1[t1.column.isin(["avg_dur_s", "total_dur_s"])]
    assert len(durations) == 32 and durations[durations.column == "total_dur_s"].reproduced.notna().all()
    assert (built / RESULTS / "hypernetworks" / "audit.md").exists()
    for dataset in ["tut_sed_synthetic_2016", "urban_sed"]:
        assert (built / RESULTS / "datasets" / f"{dataset}.md").exists()


def test_provenance_beside_results(built):
    run = built / RESULTS / "runs" / "urban_sed" / "hcrnn64" / "seed0"
    prov = yaml.safe_load((run / "metrics.provenance.json").read_text())
    assert prov["seed"] == 0 and "torch" in prov["packages"]
    assert len(list((run / "predictions" / "test").glob("epoch*.npz"))) == 2


def test_rerun_does_nothing(built):
    proc = snakemake(built, "-n")
    assert "Nothing to be done" in proc.stdout + proc.stderr


def test_changing_one_model_reruns_only_its_jobs(built):
    tiny = yaml.safe_load((built / "config" / "tiny.yaml").read_text())
    tiny["models"]["hcrnn64"]["rnn"]["hyper"]["scale_init"] = 0.5
    (built / "config" / "tiny_changed.yaml").write_text(yaml.safe_dump(tiny))
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "snakemake",
            "--cores",
            "2",
            "--configfile",
            "config/tiny_changed.yaml",
            "-n",
            "--quiet",
            "rules",
        ],
        cwd=built,
        capture_output=True,
        text=True,
        timeout=300,
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
    proc = subprocess.run(
        [*base, "-n", "--configfile", "config/tiny_compile.yaml"], cwd=work, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0 and "Nothing to be done" in proc.stdout + proc.stderr, proc.stdout[-3000:]
    target = f"{RESULTS}/runs/urban_sed/hcrnn64/seed0/train.json"
    proc = subprocess.run(
        [*base, target, "--forcerun", target, "--configfile", "config/tiny_compile.yaml"],
        cwd=work,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    log = (work / RESULTS / "logs" / "train_model" / "urban_sed" / "hcrnn64" / "seed0.log").read_text()
    assert "HyperLSTM cell compiled with torch.compile" in log
    assert "running eagerly" not in log + proc.stderr  # the compile itself worked


def _edges_from_mermaid(text: str) -> set[tuple[str, str]]:
    edges = set()
    for line in text.splitlines():
        names = [part.strip() for part in line.strip().split("-->")]
        edges |= {(a, b) for a, b in zip(names, names[1:], strict=False) if a and b}
    return edges


def test_documented_dag_matches_the_rulegraph():
    doc = (REPO / "docs" / "architecture.md").read_text()
    block = doc.split("```mermaid", 1)[1].split("```", 1)[0]
    graph = subprocess.run(
        [sys.executable, "-m", "snakemake", "--rulegraph", "mermaid-js"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    ).stdout
    ids = dict(re.findall(r"^\s*(id\d+)\[(\w+)\]", graph, flags=re.M))
    generated = {(ids[a], ids[b]) for a, b in re.findall(r"^\s*(id\d+) --> (id\d+)", graph, flags=re.M)}
    assert _edges_from_mermaid(block) == generated


def test_bad_config_stops_the_workflow_with_the_key_named(tmp_path):
    workdir = fresh_copy(tmp_path / "repo")
    cfg = workdir / "config.yaml"
    cfg.write_text(cfg.read_text().replace("learning_rate: 0.002", "learning_rate: -1"))
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n"], cwd=workdir, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode != 0
    assert (
        "config key 'training/learning_rate': -1 is less than or equal to the minimum of 0" in proc.stdout + proc.stderr
    )


def _config_copy(workdir: Path, name: str, edit) -> str:
    """config/tiny.yaml with `edit` applied, saved as config/<name>.yaml; returns its path for --configfile."""
    cfg = yaml.safe_load((workdir / "config" / "tiny.yaml").read_text())
    edit(cfg)
    (workdir / "config" / f"{name}.yaml").write_text(yaml.safe_dump(cfg))
    return f"config/{name}.yaml"


def _train_log(workdir: Path, dataset: str, model: str) -> str:
    return (workdir / RESULTS / "logs" / "train_model" / dataset / model / "seed0.log").read_text()


def test_changed_inputs_and_forcerun_train_from_scratch(built, tmp_path):
    """Issue 13.1 through the workflow: more clips, another normalisation, and `--forcerun train_model` each train
    again from scratch (never `resuming`), the log says why, and where the inputs changed the history differs."""
    work = tmp_path / "repo"
    shutil.copytree(built, work, symlinks=True)  # copy2 keeps the mtimes Snakemake compares
    base = [sys.executable, "-m", "snakemake", "--cores", "2"]

    def run(target, *args):
        proc = subprocess.run([*base, target, *args], cwd=work, capture_output=True, text=True, timeout=1200)
        assert proc.returncode == 0, proc.stderr[-4000:]

    # 1. more UrbanSound8K clips per fold: new split, so the old model must not be resumed
    mono = f"{RESULTS}/runs/urbansound8k/mono_baseline/seed0"
    old = pd.read_csv(work / mono / "history.csv")
    more = _config_copy(
        work, "tiny_more_clips", lambda c: c["datasets"]["urbansound8k"]["embedded"].update(clips_per_fold=4)
    )
    run(f"{mono}/train.json", "--configfile", more)
    log = _train_log(work, "urbansound8k", "mono_baseline")
    assert "resuming" not in log and "training again from scratch (changed since: input " in log
    new = pd.read_csv(work / mono / "history.csv")
    assert not new.drop(columns="epoch_time_s").equals(old.drop(columns="epoch_time_s"))
    assert json.loads((work / mono / "train.json").read_text())["train_chunks"] > 0
    # 2. per-band normalisation of the log-mel pipeline: the pipeline and the split files changed
    hyper = f"{RESULTS}/runs/urban_sed/hcrnn64/seed0"
    old = pd.read_csv(work / hyper / "history.csv")
    band = _config_copy(
        work,
        "tiny_per_band",
        lambda c: c.setdefault("pipelines", {}).setdefault("logmel96", {}).update(normalisation="per_band"),
    )
    run(f"{hyper}/train.json", "--configfile", band)
    log = _train_log(work, "urban_sed", "hcrnn64")
    assert "resuming" not in log and "input splits/norm.json" in log and "pipeline" in log
    assert (
        not pd.read_csv(work / hyper / "history.csv")
        .drop(columns="epoch_time_s")
        .equals(old.drop(columns="epoch_time_s"))
    )
    # 3. the documented retrain command: same inputs and settings, a fresh training with the same result
    before = pd.read_csv(work / hyper / "history.csv")
    run(f"{hyper}/train.json", "--configfile", band, "--forcerun", "train_model")
    log = _train_log(work, "urban_sed", "hcrnn64")
    assert "resuming" not in log and "training again from scratch (same inputs and settings)" in log
    after = pd.read_csv(work / hyper / "history.csv")
    assert after.drop(columns="epoch_time_s").equals(before.drop(columns="epoch_time_s"))  # CPU: deterministic


def _tree_digests(root: Path) -> dict[str, str]:
    import hashlib

    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_each_configuration_writes_its_own_tree(built, tmp_path):
    """Issue 13.2: a realdata run and the tiny run in one checkout leave each other's files byte-identical, and a
    report over a root that two configurations wrote into is refused, naming both."""
    from conftest import REALDATA

    if not (REALDATA / "URBAN-SED_v1.0").is_dir():
        pytest.skip(f"no real metadata at {REALDATA}")
    work = tmp_path / "repo"
    shutil.copytree(built, work, symlinks=True)
    real = yaml.safe_load((work / "config" / "realdata.yaml").read_text())
    real["datasets"]["urban_sed"]["local_path"] = str(REALDATA / "URBAN-SED_v1.0")
    real["datasets"]["urbansound8k"]["local_path"] = str(REALDATA / "UrbanSound8K")
    (work / "config" / "realdata_here.yaml").write_text(yaml.safe_dump(real))
    tiny_before = {**_tree_digests(work / RESULTS), **_tree_digests(work / DATA)}
    base = [sys.executable, "-m", "snakemake", "--cores", "2"]
    targets = [f"{real['results_root']}/datasets/urban_sed.md", f"{real['results_root']}/dessed/table1.md"]
    proc = subprocess.run(
        [*base, *targets, "--configfile", "config/realdata_here.yaml"],
        cwd=work,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert {**_tree_digests(work / RESULTS), **_tree_digests(work / DATA)} == tiny_before
    real_before = {**_tree_digests(work / real["results_root"]), **_tree_digests(work / real["data_root"])}
    proc = subprocess.run(
        [*base, "--configfile", "config/tiny.yaml", "--forcerun", "describe_dataset", "render_table"],
        cwd=work,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert {**_tree_digests(work / real["results_root"]), **_tree_digests(work / real["data_root"])} == real_before
    # the same two configurations pointed at one root: the report refuses the mixed tree
    proc = subprocess.run(
        [
            *base,
            targets[1].replace(real["results_root"], RESULTS),
            "--configfile",
            "config/realdata_here.yaml",
            "--config",
            f"results_root={RESULTS}",
        ],
        cwd=work,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    proc = snakemake(work, "--report", "mixed.html", check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and not (work / "mixed.html").exists()
    assert "report refused: expected the outputs of one configuration in this results tree, found 2" in out
    assert "config/realdata_here.yaml" in out and "config/tiny.yaml" in out


def test_every_output_has_a_provenance_sidecar(built):
    """Issue 13.5: one sidecar of each kind names the config files (with digests), inputs with their sha256, the
    commit and whether the tree was dirty, package versions and the machine."""
    import hashlib

    sidecars = {
        "table": RESULTS + "/hypernetworks/table1.provenance.json",
        "figure": RESULTS + "/dessed/figure1.provenance.json",
        "audit": RESULTS + "/dessed/audit.provenance.json",
        "dataset page": RESULTS + "/datasets/urban_sed.provenance.json",
        "metrics": RESULTS + "/runs/urban_sed/hcrnn64/seed0/metrics.provenance.json",
        "training": RESULTS + "/runs/urban_sed/hcrnn64/seed0/train.provenance.json",
    }
    tiny_sha = hashlib.sha256((built / "config" / "tiny.yaml").read_bytes()).hexdigest()
    for kind, rel in sidecars.items():
        prov = json.loads((built / rel).read_text())
        files = {f["path"]: f["sha256"] for f in prov["configuration"]["files"]}
        assert files.get("config/tiny.yaml") == tiny_sha and "config.yaml" in files, kind
        assert prov["configuration"]["identity"]["results_root"] == RESULTS, kind
        assert prov["inputs"], f"{kind}: no inputs listed"
        for record in prov["inputs"]:
            path = built / record["path"]
            if path.is_file():
                assert hashlib.sha256(path.read_bytes()).hexdigest() == record["sha256"], (kind, record["path"])
            else:
                assert path.is_dir() and record["files"] > 0, (kind, record["path"])
        assert set(prov["git"]) == {"commit", "dirty"} and "torch" in prov["packages"], kind
        assert prov["machine"]["cpus"] and prov["machine"]["cpu"], kind
    train_inputs = json.loads((built / sidecars["training"]).read_text())["inputs"]
    assert {Path(r["path"]).name for r in train_inputs} >= {"features.npy", "labels.npy", "assignment.tsv"}
    md = (built / RESULTS / "hypernetworks" / "table1.md").read_text()
    assert "Configuration: config" in md and "config/tiny.yaml" in md


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


@pytest.mark.parametrize(
    "target, message",
    [
        (
            f"{RESULTS}/hypernetwork/table1.md",
            "the target's paper: expected one of audioset, dessed, hypernetworks, mtl_vae, ssa, found 'hypernetwork'",
        ),
        (
            f"{RESULTS}/dessd/figure4.png",
            "the target's paper: expected one of audioset, dessed, hypernetworks, mtl_vae, ssa, found 'dessd'",
        ),
        (
            f"{RESULTS}/datasets/urbansound.md",
            "the target's dataset: expected one of audioset, desed, tut_sed_synthetic_2016, urban_sed, urbansound8k, found 'urbansound'",
        ),
    ],
    ids=["table-paper", "figure-paper", "dataset"],
)
def test_a_misspelt_name_in_a_target_lists_the_valid_names(tmp_path, target, message):
    workdir = fresh_copy(tmp_path / "repo")
    proc = snakemake(workdir, "-n", target, check=False)
    assert proc.returncode != 0 and message in proc.stdout + proc.stderr, proc.stderr[-3000:]


@pytest.mark.parametrize(
    "edit, message",
    [
        (
            lambda c: c["models"].setdefault("mono_baseline", {}).update(kind="mono_proposed"),
            "config key 'models/mono_baseline': kind 'mono_proposed' needs a 'dilated' block and 'gru' null",
        ),
        (
            lambda c: c["models"].setdefault("crnn_uni", {}).update(pipeline="logmel"),
            "config key 'models/crnn_uni/pipeline': expected one of audioset_vggish, desed_logmel128, logmel96, mfcc40_mono, mfcc40_poly, found 'logmel'",
        ),
        (
            lambda c: c.update(papers=["hypernetwork"]),
            "config key 'papers/0': expected a registered paper (audioset, dessed, hypernetworks, mtl_vae, ssa), found 'hypernetwork'",
        ),
        (
            lambda c: c.update(plugins=["no_such_glue_plugin"]),
            "config key 'plugins': expected an importable module, found 'no_such_glue_plugin' (No module named "
            "'no_such_glue_plugin')",
        ),
    ],
    ids=["dnd-kind", "pipeline", "paper", "plugin"],
)
def test_cross_field_rules_stop_the_workflow_before_any_job(tmp_path, edit, message):
    """Checked when the workflow starts (sedrepro.config.check), before the DAG: no job is planned, nothing fetched."""
    workdir = fresh_copy(tmp_path / "repo")
    bad = _config_copy(workdir, "bad", edit)
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "--configfile", bad],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=300,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and message in out, out[-3000:]
    assert "Job stats" not in out and "Building DAG" not in out


def test_plugins_are_imported_by_the_workflow_and_by_its_jobs(tmp_path):
    """A module named in `plugins` is imported when the workflow starts and by the stage of every job (the jobs get
    the list as SEDREPRO_PLUGINS and find the module on the PYTHONPATH they inherit)."""
    workdir = fresh_copy(tmp_path / "repo")
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    marker = tmp_path / "imported.txt"
    (plugins / "glue_test_plugin.py").write_text(
        f"import sys\nwith open({str(marker)!r}, 'a') as fh:\n    fh.write(sys.argv[0] + '\\n')\n"
    )
    cfg = _config_copy(workdir, "plugin", lambda c: c.update(plugins=["glue_test_plugin"]))
    env = {**os.environ, "PYTHONPATH": str(plugins)}
    manifest = f"{DATA}/embedded/urban_sed/manifest.json"
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", manifest, "--cores", "1", "--configfile", cfg],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    importers = marker.read_text().splitlines()
    assert any("snakemake" in line for line in importers), importers  # the workflow, at start
    assert any(line.endswith("datasets/embedded.py") for line in importers), importers  # the job's stage
