"""The workflow's glue (sedrepro.workflow) without Snakemake: paths, targets, rule params and checks."""

import copy
import json
import os
import re
import shlex
import subprocess
import sys

import pytest

from sedrepro import config as sconfig
from sedrepro import datasets, evaluate, features, splits, train
from sedrepro import workflow as glue
from sedrepro.io import InputError

TINY = sconfig.load([sconfig.REPO / "config.yaml", sconfig.REPO / "config" / "tiny.yaml"])


def tiny():
    return copy.deepcopy(TINY)


def test_paths_sit_under_the_configured_roots():
    cfg = tiny()
    assert glue.data_path(cfg, "x/y") == "data/tiny/x/y"
    assert glue.results_path(cfg, "x") == "results/tiny/x"
    assert glue.log_path(cfg, "rule/a.log") == "results/tiny/logs/rule/a.log"
    assert glue.run_dir(cfg, "urban_sed", "hcrnn64", 0) == "results/tiny/runs/urban_sed/hcrnn64/seed0"


def test_stage_file_names_come_from_the_stage_modules():
    cfg = tiny()
    files = glue.features_files(cfg, "{dataset}", "{pipeline}")
    assert files == {
        "feats": f"data/tiny/features/{{dataset}}/{{pipeline}}/{features.FEATURES_FILE}",
        "frames": f"data/tiny/features/{{dataset}}/{{pipeline}}/{features.FRAMES_FILE}",
        "info": f"data/tiny/features/{{dataset}}/{{pipeline}}/{features.INFO_FILE}",
    }
    assert [os.path.basename(p) for p in glue.split_files(cfg, "d", "p")] == list(splits.SPLIT_FILES)
    assert glue.split_files(cfg, "d", "p")[0].endswith(splits.ASSIGNMENT_FILE)  # the scoring rule reads the first
    assert glue.index_files(cfg, "d") == {
        "files": "data/tiny/index/d/files.tsv",
        "events": "data/tiny/index/d/events.tsv",
        "manifest": "data/tiny/index/d/manifest.tsv",
        "notes": "data/tiny/index/d/index.json",
    }
    assert glue.run_file(cfg, "d", "m", 1, evaluate.METRICS_FILE) == "results/tiny/runs/d/m/seed1/metrics.json"
    assert glue.sidecar(glue.run_file(cfg, "d", "m", 1, train.SUMMARY_FILE)).endswith("seed1/train.provenance.json")


def test_folder_is_the_one_folder_of_a_stages_files():
    assert glue.folder("a/b/features.npy") == "a/b"
    assert glue.folder(["a/b/x.tsv", "a/b/y.npy"]) == "a/b"
    with pytest.raises(ValueError, match="expected the files of one folder, found a/b, a/c"):
        glue.folder(["a/b/x.tsv", "a/c/y.npy"])
    with pytest.raises(ValueError, match="found no file"):
        glue.folder([])


def test_runs_and_targets_of_the_selected_papers():
    cfg = tiny()
    runs = glue.paper_runs(cfg)
    # 4 models x 2 datasets (hypernetworks), 2 mono + 5 poly (dessed), the baseline + 1 of 6 lambdas (ssa: the tiny
    # config skips the other five runs of Table 1, shown n/a), 3 networks + ensemble + 2 big-data networks + one run per
    # curve figure's sweep in tiny (audioset), 6 (mtl_vae)
    assert len(runs) == len(set(runs)) == 17 + 10 + 6 and ("desed", "ssa_sparsity-1p0") not in runs
    assert ("urban_sed", "hcrnn64") in runs and ("urbansound8k", "mono_baseline") in runs
    assert glue.datasets_used(cfg) == ["audioset", "desed", "tut_sed_synthetic_2016", "urban_sed", "urbansound8k"]
    assert ("desed", "ssa_sparsity-1p3") in runs and "results/tiny/ssa/figure2.png" in glue.all_targets(cfg)
    targets = glue.all_targets(cfg)
    assert "results/tiny/hypernetworks/table1.csv" in targets and "results/tiny/dessed/figure4.png" in targets
    assert "results/tiny/datasets/urbansound8k.html" in targets and "results/tiny/dessed/audit.md" in targets
    cfg["papers"] = ["hypernetworks"]
    assert glue.datasets_used(cfg) == ["tut_sed_synthetic_2016", "urban_sed"]
    assert not any("/dessed/" in t for t in glue.all_targets(cfg))


def test_wildcard_constraints_follow_the_config():
    cfg = tiny()
    cfg["models"]["my_model"] = cfg["models"]["crnn_uni"]
    constraints = glue.wildcard_constraints(cfg)
    assert "my_model" in constraints["model"].split("|") and "logmel96" in constraints["pipeline"].split("|")


def test_a_misspelt_name_lists_the_registered_ones():
    with pytest.raises(
        InputError,
        match=r"^the target's paper: expected one of audioset, dessed, hypernetworks, mtl_vae, ssa, found 'x'$",
    ):
        glue.checked_names({"paper": "x"})
    with pytest.raises(InputError, match=r"^the target's dataset: expected one of .*urbansound8k, found 'y'$"):
        glue.checked_names({"dataset": "y"})
    assert glue.checked_names({"paper": "dessed", "dataset": "urban_sed"}) == []
    from snakemake.iocontainers import Wildcards  # what the rules pass: a list of values with names

    with pytest.raises(InputError, match=r"^the target's dataset: expected one of .*, found 'urbansound'$"):
        glue.checked_names(Wildcards(fromdict={"dataset": "urbansound"}))
    with pytest.raises(InputError, match=r"^figure 'figure99' of paper 'dessed': expected one of figure1, "):
        glue.figure_spec("dessed", "figure99")


def test_table_inputs():
    cfg = tiny()
    metrics = glue.table_metrics(cfg, "hypernetworks", "table2")
    assert "results/tiny/runs/urban_sed/crnn_uni/seed0/metrics.json" in metrics and len(metrics) == 4
    assert glue.table_train(cfg, "hypernetworks", "table2") == []  # scores only
    assert {os.path.basename(p) for p in glue.table_train(cfg, "dessed", "table4")} == {train.SUMMARY_FILE}
    assert glue.table_index(cfg, "dessed", "table4") == list(glue.index_files(cfg, "tut_sed_synthetic_2016").values())
    # the clips of each table's evaluation set: one assignment per pipeline of its models, none for statistics only
    assert glue.table_assignments(cfg, "dessed", "table4") == [
        f"mfcc40_poly={glue.splits_dir(cfg, 'tut_sed_synthetic_2016', 'mfcc40_poly')}/{splits.ASSIGNMENT_FILE}"
    ]
    assert glue.table_assignments(cfg, "dessed", "table1") == []
    cfg["seeds"] = [0, 3]
    assert len(glue.table_metrics(cfg, "hypernetworks", "table2")) == 8
    # a skipped run has no inputs: the table shows it without a run (n/a)
    assert [p.split("/")[-3] for p in glue.table_metrics(cfg, "ssa", "table1")] == [
        m for m in ("ssa_baseline", "ssa_sparsity-1p3") for _ in (0, 3)
    ]


TINY_SKIPPED = [f"ssa_sparsity-{v}" for v in ("1p0", "1p1", "1p2", "1p4", "1p5")]


@pytest.mark.parametrize(
    ("skipped", "message"),
    [
        ([*TINY_SKIPPED, "ssa_sparsity-1p3"], "config key 'skipped_runs/5': expected a model this config does not"),
        ([*TINY_SKIPPED, "ssa_sparsity-1p9"], "config key 'skipped_runs/5': expected a model column of a registered"),
        (TINY_SKIPPED[1:], "config key 'models/ssa_sparsity-1p0': expected the model's settings (ssa table table1"),
    ],
)
def test_skipped_runs_are_table_columns_the_config_does_not_define(skipped, message, tmp_path):
    extra = tmp_path / "skip.yaml"
    extra.write_text(json.dumps({"skipped_runs": skipped}))
    with pytest.raises(InputError, match=re.escape(message)):
        sconfig.load([sconfig.REPO / "config.yaml", sconfig.REPO / "config" / "tiny.yaml", extra])


def test_figure_inputs_are_an_index_or_histories():
    cfg = tiny()
    assert json.loads(glue.figure_settings(cfg, "ssa", "figure2")) == {"clips": None, "head": 0}  # config.yaml's
    assert glue.figure_settings(cfg, "dessed", "figure1") == "{}"  # no entry: the kind's defaults
    histogram = glue.figure_inputs(cfg, "dessed", "figure1")
    curves = glue.figure_inputs(cfg, "dessed", "figure9")
    assert histogram["history"] == [] and len(histogram["index"]) == len(glue.INDEX_FILES)
    assert curves["index"] == [] and curves["history"]
    assert all(p.endswith(train.HISTORY_FILE) for p in curves["history"])
    dataset = glue.figure_spec("dessed", "figure1").dataset
    assert glue.index_folder(histogram) == f"data/tiny/index/{dataset}" and glue.index_folder(curves) == ""


def test_download_sources():
    cfg = sconfig.load([sconfig.REPO / "config.yaml", sconfig.REPO / "config" / "paper.yaml"])
    archive = cfg["datasets"]["urban_sed"]["archives"][0]
    args = glue.source_args(cfg, "urban_sed", archive["name"], {})
    assert args.startswith(f"--url {shlex.quote(archive['urls'][0])}") and "--md5 " in args
    assert glue.download_inputs(cfg, "urban_sed") == {}
    assert glue.dataset_note(cfg, "urban_sed").startswith("the real dataset, downloaded and checksum-verified (")
    embedded = tiny()
    inputs = glue.download_inputs(embedded, "urban_sed")
    assert inputs == {"manifest": "data/tiny/embedded/urban_sed/manifest.json"}
    assert (
        glue.source_args(embedded, "urban_sed", "x", inputs) == "--manifest data/tiny/embedded/urban_sed/manifest.json"
    )
    assert "not the real dataset" in glue.dataset_note(embedded, "urban_sed")


def test_dataset_root_of_local_data(tmp_path):
    cfg = tiny()
    cfg["datasets"]["urban_sed"].update(source="local", local_path=None)
    with pytest.raises(
        InputError, match=r"^config key 'datasets/urban_sed/local_path': expected a folder, found nothing$"
    ):
        glue.dataset_root(cfg, "urban_sed")
    cfg["datasets"]["urban_sed"]["local_path"] = str(tmp_path)
    assert glue.dataset_root(cfg, "urban_sed") == str(tmp_path)  # the root itself
    root_name = datasets.get("urban_sed").root_name
    (tmp_path / root_name).mkdir()
    assert glue.dataset_root(cfg, "urban_sed") == str(tmp_path / root_name)  # the folder holding the root
    assert glue.dataset_root_inputs(cfg, "urban_sed") == {}
    assert glue.dataset_note(cfg, "urban_sed") == f"the real dataset from {tmp_path}"
    assert glue.dataset_root(tiny(), "urban_sed") == f"data/tiny/datasets/urban_sed/extracted/{root_name}"


def test_settings_a_job_depends_on():
    cfg = tiny()
    cfg["training"].update(threads=4, compile=True)
    training = json.loads(glue.training_json(cfg, "hcrnn64"))
    assert "threads" not in training and "compile" not in training and training["max_epochs"] == 2
    pipeline = json.loads(glue.pipeline_json(cfg, "hcrnn64"))
    assert pipeline["features"]["sample_rate"] == cfg["audio"]["sample_rate"] and "split" in pipeline
    assert "features" not in json.loads(glue.split_json(cfg, "logmel96"))
    assert json.loads(glue.model_json(cfg, "hcrnn64"))["name"] == "hcrnn64"
    inputs = glue.run_inputs(cfg, "urbansound8k", "mono_baseline")
    assert inputs["feats"] == "data/tiny/features/urbansound8k/mfcc40_mono/features.npy"
    assert glue.folder(inputs["splits"]) == "data/tiny/splits/urbansound8k/mfcc40_mono"


def test_audit_inputs_and_params():
    cfg = tiny()
    inputs = glue.audit_inputs(cfg, sconfig.REPO, "dessed")
    assert inputs["cross"] == "config/paper_values/hypernetworks.tsv" and "index" in inputs
    claim_indexes = {k for k in inputs if k.startswith("index_")}
    assert claim_indexes  # the claims of the text read some datasets' indexes
    params = glue.audit_params(cfg, "dessed", inputs)
    assert params["index"] == "data/tiny/index/tut_sed_synthetic_2016" and "stand-in" in params["note"]
    assert sorted(params["dataset_index"]) == sorted(f"{k[6:]}=data/tiny/index/{k[6:]}" for k in claim_indexes)
    assert len(params["dataset_note"]) == len(claim_indexes)
    bare = glue.audit_params(cfg, "hypernetworks", {"paper_values": "x.tsv"})
    assert bare == {"claims": "", "cross": "", "index": "", "note": "", "dataset_index": [], "dataset_note": []}


def test_report_tree_check(tmp_path):
    cfg = tiny()
    cfg["results_root"] = str(tmp_path)
    sidecars = glue.output_sidecars(cfg)
    assert all(p.endswith(".provenance.json") for p in sidecars)
    assert os.path.join(str(tmp_path), "runs/urban_sed/hcrnn64/seed0/metrics.provenance.json") in sidecars
    assert glue.check_report_tree(cfg, {"identity": {}}) == []  # nothing written yet: nothing to refuse
    assert glue.wants_report(["snakemake", "--report", "r.html"]) and glue.wants_report(["--report=r.zip"])
    assert not glue.wants_report(["snakemake", "-n"])


def test_the_jobs_shell_prefix_exports_what_the_stages_read(tmp_path):
    cfg = tiny()
    cfg["plugins"] = ["json", "os.path"]
    cfg["training"]["compile"] = True
    prefix = glue.shell_prefix(cfg, "/some src", {"identity": {"files": ["a {b}"]}}, os.path.dirname(sys.executable))
    script = prefix.format() + (
        'python -c "import os, json; print(json.dumps({k: os.environ.get(k) for k in '
        "('SEDREPRO_PLUGINS', 'SEDREPRO_COMPILE', 'SEDREPRO_CONFIGURATION', 'PYTHONPATH')}))\""
    )
    out = json.loads(subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True).stdout)
    assert out["SEDREPRO_PLUGINS"] == "json,os.path" and out["SEDREPRO_COMPILE"] == "1"
    assert json.loads(out["SEDREPRO_CONFIGURATION"]) == {"identity": {"files": ["a {b}"]}}
    assert out["PYTHONPATH"].split(":")[0] == "/some src"
    cfg["plugins"], cfg["training"]["compile"] = [], False
    prefix = glue.shell_prefix(cfg, "src", {}, None)
    assert "SEDREPRO_PLUGINS=''" in prefix and "SEDREPRO_COMPILE" not in prefix and "export PATH" not in prefix


def test_figure_inputs_follow_the_kind_declaration(monkeypatch):
    """plot_figure gets what a figure's kind declares (sedrepro.figures.FigureKind.inputs), one list per input."""
    from sedrepro import figures, papers
    from sedrepro.registry import Registry

    cfg = tiny()
    for name in ("figure1", "figure9"):  # the built-in kinds: an index, or histories, and nothing else
        inputs = glue.figure_inputs(cfg, "dessed", name)
        assert list(inputs) == list(figures.FIGURE_INPUTS)
        assert [r for r, files in inputs.items() if files] == list(
            figures.KINDS.get(papers.get("dessed").figure(name).kind).inputs
        )
    kinds = Registry("figure kind")
    for name, kind in figures.KINDS.items():
        kinds.register(name, kind)
    monkeypatch.setattr(figures, "KINDS", kinds)
    figures.register_kind(
        figures.FigureKind("toy_attention", ("index", "checkpoints", "features"), lambda s, w: None, lambda *a: None)
    )
    poly = "tut_sed_synthetic_2016"
    monkeypatch.setattr(papers, "PAPERS", Registry("paper"))
    models = (("Baseline", "dnd_baseline"), ("Dilated", "dnd_dilated"))
    papers.register(
        papers.Paper(
            "toy",
            (papers.dessed.PAPER.tables[1],),
            figures=(
                papers.FigureSpec("figure1", "Class-wise", "classwise", poly, models, ("segment_f1",)),
                papers.FigureSpec("figure2", "Attention", "toy_attention", poly, models[:1]),
            ),
        )
    )
    cfg["seeds"] = [0, 3]
    classwise = glue.figure_inputs(cfg, "toy", "figure1")
    assert classwise["metrics"] == [
        glue.run_file(cfg, poly, m, s, evaluate.METRICS_FILE)
        for m in ("dnd_baseline", "dnd_dilated")
        for s in ("0", "3")
    ]
    assert not any(classwise[r] for r in ("index", "history", "checkpoints", "features"))
    attention = glue.figure_inputs(cfg, "toy", "figure2")
    assert attention["checkpoints"] == [
        glue.run_file(cfg, poly, "dnd_baseline", s, train.CHECKPOINTS_DIR) for s in "03"
    ]
    pipeline = sconfig.model_pipeline(cfg, "dnd_baseline")
    assert attention["features"] == list(glue.features_files(cfg, poly, pipeline).values())
    assert (
        attention["index"] == glue.index_list(cfg, poly) and glue.index_folder(attention) == f"data/tiny/index/{poly}"
    )
    assert attention["history"] == attention["metrics"] == []


def imports_torch(stderr: str) -> bool:
    """Whether `python -X importtime` imported torch (its report: one "import time: ... | <module>" line each)."""
    return any(line.rsplit("|", 1)[-1].strip() == "torch" for line in stderr.splitlines())


def test_importing_the_glue_imports_no_torch():
    # torch costs seconds at every Snakemake start and cluster job step; the file names come from sedrepro.layout
    code = "import sedrepro.workflow, sedrepro.layout, sedrepro.config"
    proc = subprocess.run([sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True, check=True)
    assert "sedrepro.workflow" in proc.stderr and not imports_torch(proc.stderr)
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import sedrepro.train"], capture_output=True, text=True, check=True
    )
    assert imports_torch(proc.stderr)  # the check sees torch where it is imported


def test_the_stages_publish_the_layouts_file_names():
    from sedrepro import layout, predict

    assert (features.FEATURES_FILE, features.FRAMES_FILE, features.INFO_FILE) == (
        layout.FEATURES_FILE,
        layout.FRAMES_FILE,
        layout.INFO_FILE,
    )
    assert (train.HISTORY_FILE, train.SUMMARY_FILE, train.CHECKPOINTS_DIR) == (
        layout.HISTORY_FILE,
        layout.SUMMARY_FILE,
        layout.CHECKPOINTS_DIR,
    )
    assert predict.PREDICTIONS_DIR == layout.PREDICTIONS_DIR


@pytest.mark.workflow
def test_a_job_steps_parse_of_the_workflow_imports_no_torch(tmp_path):
    from test_workflow import fresh_copy

    workdir = fresh_copy(tmp_path / "repo")
    # --mode remote: how a cluster job step parses the workflow (the main process alone builds the architectures on
    # the meta device, sedrepro.config.check)
    base = [sys.executable, "-X", "importtime", "-m", "snakemake", "-n", "--configfile", "config/tiny.yaml"]
    step = subprocess.run([*base, "--mode", "remote"], cwd=workdir, capture_output=True, text=True, timeout=600)
    assert step.returncode == 0, step.stderr[-3000:]
    assert "sedrepro.workflow" in step.stderr and not imports_torch(step.stderr)
    main = subprocess.run(base, cwd=workdir, capture_output=True, text=True, timeout=600)
    assert main.returncode == 0 and imports_torch(main.stderr)
