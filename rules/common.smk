# Config validation, wildcard constraints, path helpers and target lists. All Python of the workflow lives here.
import json
import os
import shlex
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.utils import update_config, validate
from snakemake.settings.types import DeploymentMethod

SRC = os.path.join(workflow.basedir, "src")
sys.path.insert(0, SRC)
# Rules run `python -m sedrepro.<stage>`: the package is importable from src/ without installing it (conda envs too).
# Without --use-conda, `python` is the interpreter running Snakemake (e.g. .venv/bin/python), not whatever is on PATH.
# (Doubled braces: Snakemake formats the prefix like a shell command.)
_prefix = f"export PYTHONPATH={shlex.quote(SRC)}${{{{PYTHONPATH:+:$PYTHONPATH}}}}; "
if DeploymentMethod.CONDA not in workflow.deployment_settings.deployment_method:
    _prefix += f"export PATH={shlex.quote(os.path.dirname(sys.executable))}:$PATH; "

from sedrepro import datasets as sed_datasets  # noqa: E402
from sedrepro import papers as sed_papers  # noqa: E402
from sedrepro import claims as sed_claims  # noqa: E402
from sedrepro import config as sed_config  # noqa: E402
from sedrepro import page as sed_page  # noqa: E402
from sedrepro import provenance as sed_provenance  # noqa: E402
from sedrepro.config import validate as validate_one_line  # noqa: E402
from sedrepro.io import InputError, fail  # noqa: E402

SCHEMA = Path(workflow.basedir) / "config" / "schema.yaml"

# A bad config stops with one line naming the key; snakemake's validate then fills the schema's defaults.
# --config values come in as strings below the top level: they get the schema's types first.
try:
    update_config(
        config, sed_config.coerce_overrides(workflow.config_settings.config, SCHEMA)
    )
    validate_one_line(config, SCHEMA)
    # sweeps become one model entry per value; ensembles are checked (sedrepro.expand)
    config["models"] = sed_config.expanded_models(config, SCHEMA)
except InputError as err:
    raise WorkflowError(str(err)) from None
validate(config, schema="../config/schema.yaml")
try:  # dataset names are the registry's, which the schema cannot list
    for _dataset in config["datasets"]:
        sed_datasets.get(_dataset, f"config key 'datasets/{_dataset}'")
except InputError as err:
    raise WorkflowError(str(err)) from None

# Which configuration this is (config files with digests, --config overrides, results root): every job records it in
# its outputs' provenance. Like training.compile (speed, not results), both reach the jobs as environment variables
# rather than params entries, so that neither reruns anything.
CONFIGURATION = sed_config.configuration_record(
    config, workflow.configfiles, dict(workflow.config_settings.config)
)
_configuration_json = json.dumps(CONFIGURATION, sort_keys=True, default=str)
_prefix += (
    f"export {sed_provenance.CONFIGURATION_ENV}="
    + shlex.quote(_configuration_json).replace("{", "{{").replace("}", "}}")
    + "; "
)
if config["training"]["compile"]:
    _prefix += "export SEDREPRO_COMPILE=1; "
# download.retries and backoff_s change how an archive is fetched, not what: environment variables too, so that changing
# them never downloads an archive again.
_prefix += (
    f"export SEDREPRO_DOWNLOAD_RETRIES={int(config['download']['retries'])}"
    f" SEDREPRO_DOWNLOAD_BACKOFF_S={float(config['download']['backoff_s'])}; "
)
shell.prefix(_prefix)

# Every rule's `message:`: Snakemake then prints one "Job <id>: <rule> <wildcards>" line per job instead of its
# input/output/log/resources block (profiles/README.md; -p prints the commands).
JOB_MESSAGE = "{rule} {wildcards}"

DATA = config["data_root"]
RESULTS = config["results_root"]


def data_path(path):
    """A path under the configurable data root (archives, datasets, features: shareable between runs)."""
    return os.path.join(DATA, path)


def results_path(path):
    """A path under this configuration's results root (runs, tables, figures, audits, dataset pages, benchmarks)."""
    return os.path.join(RESULTS, path)


def log_path(path):
    """Job logs live under the results root too, so two configurations never write one log."""
    return os.path.join(RESULTS, "logs", path)


SEEDS = [str(s) for s in config["seeds"]]
PAPERS = config["papers"]


def paper_tables(paper):
    return sed_papers.get(paper).tables


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
    dataset="|".join(sed_datasets.DATASETS.names()),
    model="|".join(config["models"]),
    pipeline="|".join(config["pipelines"]),
    seed=r"\d+",
    paper="|".join(sed_papers.names()),
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


def pipeline_rate(pipeline):
    """The audio rate of a pipeline: its own sample_rate, else audio/sample_rate; None for shipped features."""
    cfg = config["pipelines"][pipeline]
    if cfg["features"]["kind"] == "precomputed":
        return None
    return cfg["sample_rate"] or config["audio"]["sample_rate"]


def pipeline_features(pipeline):
    """The pipeline's feature settings with the audio rate they are computed at (none for shipped features)."""
    features, rate = config["pipelines"][pipeline]["features"], pipeline_rate(pipeline)
    return features if rate is None else {**features, "sample_rate": rate}


def features_json(wildcards):
    return json.dumps(pipeline_features(wildcards.pipeline), sort_keys=True)


def features_inputs(wildcards):
    """The audio at the pipeline's rate; for shipped features the dataset folder and its index instead."""
    rate = pipeline_rate(wildcards.pipeline)
    if rate is None:
        return {
            **dataset_root_inputs(wildcards),
            "files": data_path(f"index/{wildcards.dataset}/files.tsv"),
        }
    return {"audio": data_path(f"audio/{wildcards.dataset}/{rate}")}


def pipeline_json(wildcards):
    """The model's whole pipeline (features with their audio rate, chunks, target, split): part of its resume key."""
    name = model_pipeline(wildcards)
    return json.dumps(
        {**config["pipelines"][name], "features": pipeline_features(name)}, sort_keys=True
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
    return results_path(
        f"runs/{wildcards.dataset}/{wildcards.model}/seed{wildcards.seed}"
    )


def table_spec(wildcards):
    checked_names(wildcards)
    return sed_papers.table(wildcards.paper, wildcards.table)


def table_metrics(wildcards):
    table = table_spec(wildcards)
    return [
        results_path(f"runs/{table.dataset}/{model}/seed{seed}/metrics.json")
        for model in table.models
        for seed in SEEDS
    ]


def table_train(wildcards):
    """train.json of every run of a table that shows training facts (time, parameters, size, epochs)."""
    table = table_spec(wildcards)
    if not table_needs_train(table):
        return []
    return [
        results_path(f"runs/{table.dataset}/{model}/seed{seed}/train.json")
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
            results_path(f"{paper}/{table.name}.{{ext}}"),
            ext=["md", "html", "csv", "tex", "png"],
        )
    out += [
        results_path(f"{paper}/{figure.name}.png") for figure in paper_figures(paper)
    ]
    out += [results_path(f"{paper}/audit.md"), results_path(f"{paper}/audit.html")]
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
        results_path("datasets/{dataset}.{ext}"),
        dataset=datasets_used(),
        ext=["md", "html", "csv"],
    )
    return out


def paper_figures(paper):
    return sed_papers.get(paper).figures


def table_needs_train(table):
    """Whether a table shows facts of train.json (time, parameters, size, epochs) rather than only scores."""
    shown = {m for _, m in table.metric_columns + table.text_metrics}
    return bool(shown & set(sed_papers.TRAIN_METRICS))


def figure_spec(wildcards):
    checked_names(wildcards)
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
            ],
            "history": [],
        }
    return {
        "index": [],
        "history": [
            results_path(f"runs/{figure.dataset}/{model}/seed{seed}/history.csv")
            for _, model in figure.models
            for seed in SEEDS
        ],
    }


def index_folder(wildcards, input):
    """The folder of the index files among the inputs (plain, as the report shows params); empty without them."""
    return os.path.dirname(input.index[0]) if input.get("index") else ""


def audit_inputs(wildcards):
    """Paper values and what the paper's declared audit checks read."""
    checked_names(wildcards)
    # another paper's values, an index, the claims of the text and the indexes of the datasets those claims read
    # (inputs `index_<dataset>`)
    paper = sed_papers.get(wildcards.paper)
    out = {"paper_values": f"config/paper_values/{wildcards.paper}.tsv"}
    claims = paper.text_claims
    if claims:
        out["claims"] = claims
        for dataset in claim_datasets(claims):
            out[f"index_{dataset}"] = [
                data_path(f"index/{dataset}/files.tsv"),
                data_path(f"index/{dataset}/events.tsv"),
            ]
    cross = paper.cross_paper_events
    if cross:
        out["cross"] = f"config/paper_values/{cross.paper}.tsv"
    counts = paper.annotation_counts
    if counts:
        dataset = sed_papers.table(wildcards.paper, counts).dataset
        out["index"] = [
            data_path(f"index/{dataset}/files.tsv"),
            data_path(f"index/{dataset}/events.tsv"),
        ]
    return out


def claim_datasets(path):
    """Datasets whose index the claims TSV reads; a bad claims file stops the DAG with its one-line message."""
    try:
        return sed_claims.datasets_needed(
            sed_claims.load_claims(Path(workflow.basedir) / path)
        )
    except InputError as err:
        raise WorkflowError(str(err)) from None


def audit_params(wildcards, input):
    """Plain values (the report shows params as they are) for `python -m sedrepro.audit`: empty where the paper
    declares no such check; one DATASET=VALUE pair per dataset whose index the claims of the text read.
    """
    pairs = {
        name.removeprefix("index_"): os.path.dirname(files[0])
        for name, files in input.items()
        if name.startswith(
            "index_"
        )  # audit_inputs names one input per dataset the claims read
    }
    annotation = sed_papers.get(wildcards.paper).annotation_counts
    return {
        "claims": input.get("claims", ""),
        "cross": input.get("cross", ""),
        "index": index_folder(wildcards, input),
        "note": (
            dataset_note(sed_papers.table(wildcards.paper, annotation).dataset)
            if input.get("index")
            else ""
        ),
        "dataset_index": [f"{d}={path}" for d, path in pairs.items()],
        "dataset_note": [f"{d}={dataset_note(d)}" for d in pairs],
    }


# Rules that make a target from a paper's or dataset's name accept any name there, and checked_names stops a misspelt
# one with the valid names (Snakemake would only say that no rule produces the file). Shell commands see only names
# that passed.
ANY_NAME = r"[^/]+"


def checked_names(wildcards):
    """No input files: stops a paper or dataset name not in the registry (called first by the input functions of those
    rules; table and figure numbers: table_spec, figure_spec)."""
    for key, names in (("paper", sed_papers.names()), ("dataset", sed_datasets.DATASETS.names())):
        if key in wildcards.keys() and wildcards[key] not in names:
            raise fail(
                f"the target's {key}",
                f"one of {', '.join(names)}",
                repr(wildcards[key]),
            )
    return []


def report_labels(column, wildcard):
    """Report labels of a table or figure, its name as 'Figure  4': the report sorts labels as strings."""
    return lambda wildcards: {
        "paper": wildcards.paper,
        column: sed_page.number_label(wildcards[wildcard]),
    }


def output_sidecars():
    """Provenance sidecars of everything the default target shows: tables, figures, audits, dataset pages, runs."""
    outputs = all_targets()
    outputs += [
        results_path(f"runs/{dataset}/{model}/seed{seed}/{name}.json")
        for dataset, model in paper_runs()
        for seed in SEEDS
        for name in ("metrics", "train")
    ]
    return sorted({str(sed_provenance.sidecar_path(p)) for p in outputs})


def check_report_tree():
    """A report shows one configuration's outputs: refuse a tree whose provenance names another (or several)."""
    existing = [p for p in output_sidecars() if os.path.exists(p)]
    try:
        warnings = sed_provenance.check_one_configuration(existing, CONFIGURATION)
    except InputError as err:
        raise WorkflowError(f"report refused: {err}") from None
    for line in warnings:
        print(f"warning: {line}", file=sys.stderr)


if any(arg == "--report" or arg.startswith("--report=") for arg in sys.argv):
    check_report_tree()
