# Config validation, wildcard constraints, path helpers and target lists. All Python of the workflow lives here.
import json
import os
import shlex
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.utils import validate
from snakemake.settings.types import DeploymentMethod

SRC = os.path.join(workflow.basedir, "src")
sys.path.insert(0, SRC)
# Rules run `python -m sedrepro.<stage>`: the package is importable from src/ without installing it (conda envs too).
# Without --use-conda, `python` is the interpreter running Snakemake (e.g. .venv/bin/python), not whatever is on PATH.
# (Doubled braces: Snakemake formats the prefix like a shell command.)
_prefix = f"export PYTHONPATH={shlex.quote(SRC)}${{{{PYTHONPATH:+:$PYTHONPATH}}}}; "
if DeploymentMethod.CONDA not in workflow.deployment_settings.deployment_method:
    _prefix += f"export PATH={shlex.quote(os.path.dirname(sys.executable))}:$PATH; "
shell.prefix(_prefix)

from sedrepro import datasets as sed_datasets  # noqa: E402
from sedrepro import papers as sed_papers  # noqa: E402
from sedrepro import config as sed_config  # noqa: E402
from sedrepro.config import validate as validate_one_line  # noqa: E402
from sedrepro.io import InputError  # noqa: E402

# A bad config stops with one line naming the key; snakemake's validate then fills the schema's defaults.
try:
    validate_one_line(config, Path(workflow.basedir) / "config" / "schema.yaml")
except InputError as err:
    raise WorkflowError(str(err)) from None
validate(config, schema="../config/schema.yaml")

# training.compile changes speed, not results (like threads): it reaches the training jobs as an environment variable
# rather than a params entry, so that switching it reruns nothing.
if config["training"]["compile"]:
    shell.prefix(f"{_prefix}export SEDREPRO_COMPILE=1; ")

# Every rule's `message:`: Snakemake then prints one "Job <id>: <rule> <wildcards>" line per job instead of its
# input/output/log/resources block (profiles/README.md; -p prints the commands).
JOB_MESSAGE = "{rule} {wildcards}"

DATA = config["data_root"]


def data_path(path):
    """A path under the configurable data root (archives, datasets, features: shareable between runs)."""
    return os.path.join(DATA, path)


SEEDS = [str(s) for s in config["seeds"]]
PAPERS = config["papers"]


def paper_tables(paper):
    return sed_papers.get(paper).TABLES


def paper_runs():
    """(dataset, model) pairs that the enabled papers' tables and figures need, in a stable order."""
    runs = []
    for paper in PAPERS:
        needed = [(t.dataset, m) for t in paper_tables(paper) for m in t.models]
        needed += [(f.dataset, m) for f in paper_figures(paper) for _, m in f.models]
        for run in needed:
            if run not in runs:
                runs.append(run)
    return runs


def datasets_used():
    return sorted({dataset for dataset, _ in paper_runs()})


wildcard_constraints:
    dataset="|".join(sed_datasets.NAMES),
    model="|".join(config["models"]),
    pipeline="|".join(config["pipelines"]),
    seed=r"\d+",
    paper="|".join(sed_papers.NAMES),
    table=r"table\d+",


def dataset_cfg(wildcards):
    return config["datasets"][wildcards.dataset]


def archive_names(dataset):
    cfg = config["datasets"][dataset]
    if cfg["source"] == "embedded":
        return list(sed_datasets.get(dataset).embedded_archives)
    return [a["name"] for a in cfg["archives"]]


def download_inputs(wildcards):
    """The embedded generator's manifest for embedded data; nothing for real downloads."""
    if dataset_cfg(wildcards)["source"] == "embedded":
        return {"manifest": data_path(f"embedded/{wildcards.dataset}/manifest.json")}
    return {}


def source_args(wildcards, input):
    """Where the archive comes from, as shell-quoted arguments of `python -m sedrepro.download`."""
    if "manifest" in input.keys():
        return f"--manifest {shlex.quote(input.manifest)}"
    entry = next(
        a for a in dataset_cfg(wildcards)["archives"] if a["name"] == wildcards.archive
    )
    args = [f"--url {shlex.quote(url)}" for url in entry["urls"]]
    args += [f"--{algo} {entry[algo]}" for algo in ("md5", "sha256") if entry.get(algo)]
    return " ".join(args)


def dataset_root_inputs(wildcards):
    """Extracted archives, or nothing when the dataset already sits on a local disk."""
    if dataset_cfg(wildcards)["source"] == "local":
        return {}
    return {"extracted": data_path(f"datasets/{wildcards.dataset}/extracted")}


def dataset_root(wildcards):
    """The folder the index paths are relative to."""
    cfg = dataset_cfg(wildcards)
    root_name = sed_datasets.get(wildcards.dataset).root_name
    if cfg["source"] == "local":
        if not cfg.get("local_path"):
            raise ValueError(
                f"config key 'datasets/{wildcards.dataset}/local_path': expected a folder, found nothing"
            )
        base = cfg["local_path"]
        nested = os.path.join(base, root_name)
        return nested if os.path.isdir(nested) else base
    return data_path(f"datasets/{wildcards.dataset}/extracted/{root_name}")


def annotations_only_flag(wildcards):
    return (
        "--annotations-only" if dataset_cfg(wildcards).get("annotations_only") else ""
    )


def _settings(fn, *args):
    """A sedrepro.config lookup that stops the workflow with its one line on a bad key."""
    try:
        return fn(config, *args)
    except InputError as err:
        raise WorkflowError(str(err)) from None


def model_json(wildcards):
    """The model's architecture settings: what its network (and so its training) depends on."""
    return json.dumps(
        _settings(sed_config.model_config, wildcards.model), sort_keys=True
    )


def model_training(wildcards):
    return _settings(sed_config.model_training, wildcards.model)


def model_evaluation(wildcards):
    return _settings(sed_config.model_evaluation, wildcards.model)


def training_json(wildcards):
    """The model's training settings without threads and compile (they change speed, not results)."""
    settings = model_training(wildcards)
    training = {k: settings[k] for k in settings if k not in sed_config.EXECUTION_KEYS}
    return json.dumps(training, sort_keys=True)


def model_pipeline(wildcards):
    return _settings(sed_config.model_pipeline, wildcards.model)


def features_json(wildcards):
    """The pipeline's feature settings with the audio rate they are computed at."""
    features = config["pipelines"][wildcards.pipeline]["features"]
    return json.dumps(
        {**features, "sample_rate": config["audio"]["sample_rate"]}, sort_keys=True
    )


def split_json(wildcards):
    """What the split stage depends on: the pipeline without its features (those come in as files)."""
    pipeline = config["pipelines"][wildcards.pipeline]
    return json.dumps(
        {k: v for k, v in pipeline.items() if k != "features"}, sort_keys=True
    )


def run_inputs(wildcards):
    """Features and splits of the model's pipeline on the run's dataset (feats, frames, splits)."""
    base = f"{wildcards.dataset}/{model_pipeline(wildcards)}"
    return {
        "feats": data_path(f"features/{base}/features.npy"),
        "frames": data_path(f"features/{base}/frames.tsv"),
        "splits": [data_path(f"splits/{base}/{f}") for f in SPLIT_FILES],
    }


def run_dir(wildcards):
    return f"results/runs/{wildcards.dataset}/{wildcards.model}/seed{wildcards.seed}"


def table_spec(wildcards):
    return sed_papers.table(wildcards.paper, wildcards.table)


def table_metrics(wildcards):
    table = table_spec(wildcards)
    return [
        f"results/runs/{table.dataset}/{model}/seed{seed}/metrics.json"
        for model in table.models
        for seed in SEEDS
    ]


def table_train(wildcards):
    """train.json of every run of a table that shows training facts (time, parameters, size, epochs)."""
    table = table_spec(wildcards)
    if not table_needs_train(table):
        return []
    return [
        f"results/runs/{table.dataset}/{model}/seed{seed}/train.json"
        for model in table.models
        for seed in SEEDS
    ]


def table_index(wildcards):
    """The index of the table's dataset (statistic columns such as Table 1's durations come from it)."""
    dataset = table_spec(wildcards).dataset
    return [
        data_path(f"index/{dataset}/files.tsv"),
        data_path(f"index/{dataset}/events.tsv"),
    ]


def data_note(wildcards):
    """Which data a table or figure comes from (its dataset's source)."""
    if "figure" in wildcards.keys():
        dataset = figure_spec(wildcards).dataset
    else:
        dataset = table_spec(wildcards).dataset
    return dataset_note(dataset)


def dataset_note(dataset):
    """Whether the data is the embedded stand-in or real, naming the archives or folder (their names carry the version)."""
    cfg = config["datasets"][dataset]
    if cfg["source"] == "local":
        return f"the real dataset from {cfg['local_path']}"
    archives = ", ".join(archive_names(dataset))
    if cfg["source"] == "download":
        return f"the real dataset, downloaded and checksum-verified ({archives})"
    return (
        f"embedded synthetic stand-in data packed like {archives} (not the real dataset: numbers are not comparable"
        " with the paper's)"
    )


def paper_targets(paper):
    out = []
    for table in paper_tables(paper):
        out += expand(
            f"results/{paper}/{table.name}.{{ext}}", ext=["md", "csv", "tex", "png"]
        )
    out += [f"results/{paper}/{figure.name}.png" for figure in paper_figures(paper)]
    out.append(f"results/{paper}/audit.md")
    return out


def available_cores():
    """--cores of a local run; 1 where none is defined (cluster runs, where threads become --cpus-per-task)."""
    try:
        return workflow.cores
    except WorkflowError:
        return 1


def all_targets():
    out = []
    for paper in PAPERS:
        out += paper_targets(paper)
    out += expand(
        "results/datasets/{dataset}.{ext}", dataset=datasets_used(), ext=["md", "csv"]
    )
    return out


def paper_figures(paper):
    return getattr(sed_papers.get(paper), "FIGURES", ())


def table_needs_train(table):
    """Whether a table shows facts of train.json (time, parameters, size, epochs) rather than only scores."""
    shown = {m for _, m in table.metric_columns + table.text_metrics}
    return bool(shown & set(sed_papers.TRAIN_METRICS))


def figure_spec(wildcards):
    for figure in paper_figures(wildcards.paper):
        if figure.name == wildcards.figure:
            return figure
    raise WorkflowError(
        f"figure {wildcards.figure!r} of paper {wildcards.paper!r}: expected one of "
        + ", ".join(f.name for f in paper_figures(wildcards.paper))
    )


def figure_inputs(wildcards):
    """The index (histograms) or the history.csv of every run (training curves) a figure is drawn from."""
    figure = figure_spec(wildcards)
    if not figure.models:
        return {
            "index": [
                data_path(f"index/{figure.dataset}/files.tsv"),
                data_path(f"index/{figure.dataset}/events.tsv"),
            ]
        }
    return {
        "history": [
            f"results/runs/{figure.dataset}/{model}/seed{seed}/history.csv"
            for _, model in figure.models
            for seed in SEEDS
        ]
    }


def figure_args(wildcards, input):
    if "index" in input.keys():
        return f"--index {shlex.quote(os.path.dirname(input.index[0]))}"
    return "--history " + " ".join(shlex.quote(p) for p in input.history)


def audit_inputs(wildcards):
    """The paper values, plus what a paper's declared audit checks read: another paper's values, an index."""
    mod = sed_papers.get(wildcards.paper)
    out = {"paper_values": f"config/paper_values/{wildcards.paper}.tsv"}
    cross = getattr(mod, "CROSS_PAPER_EVENTS", None)
    if cross:
        out["cross"] = f"config/paper_values/{cross[0]}.tsv"
    counts = getattr(mod, "ANNOTATION_COUNTS", None)
    if counts:
        dataset = sed_papers.table(wildcards.paper, counts).dataset
        out["index"] = [
            data_path(f"index/{dataset}/files.tsv"),
            data_path(f"index/{dataset}/events.tsv"),
        ]
    return out


def audit_args(wildcards, input):
    """Arguments of `python -m sedrepro.audit` for the declared checks' inputs (none for most papers)."""
    args = []
    if "cross" in input.keys():
        args.append(f"--cross-paper-values {shlex.quote(input.cross)}")
    if "index" in input.keys():
        dataset = sed_papers.table(
            wildcards.paper, sed_papers.get(wildcards.paper).ANNOTATION_COUNTS
        ).dataset
        args.append(f"--index {shlex.quote(os.path.dirname(input.index[0]))}")
        args.append(f"--data-note {shlex.quote(dataset_note(dataset))}")
    return " ".join(args)
