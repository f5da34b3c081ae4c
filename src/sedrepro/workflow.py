"""The workflow's glue: paths, targets, rule params and checks as plain functions of the config.

rules/common.smk binds `config` (and what Snakemake knows: the base directory, --cores) in one-line wrappers; the
functions here read no Snakemake global, so tests call them directly. File names come from the stage modules that
write them, or from sedrepro.layout for the stages that import torch: this module must not (seconds per Snakemake
start and cluster job step). A bad name or setting raises InputError (the wrappers turn it into Snakemake's one-line
WorkflowError).
"""

from __future__ import annotations

import json
import os
import re
import shlex
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from . import claims as sed_claims
from . import cli as sed_cli
from . import config as sed_config
from . import datasets as sed_datasets
from . import evaluate as sed_evaluate
from . import layout as sed_layout
from . import page as sed_page
from . import papers as sed_papers
from . import provenance as sed_provenance
from . import splits as sed_splits
from .datasets import base as sed_dataset_base
from .datasets import embedded as sed_embedded
from .io import InputError, fail

# Every rule's `message:`: Snakemake then prints one "Job <id>: <rule> <wildcards>" line per job instead of its
# input/output/log/resources block (profiles/README.md; -p prints the commands).
JOB_MESSAGE = "{rule} {wildcards}"
# Rules that make a target from a paper's or dataset's name accept any name there, and checked_names stops a misspelt
# one with the valid names (Snakemake would only say that no rule produces the file).
ANY_NAME = r"[^/]+"
# The index of a dataset, as the index stage writes it.
INDEX_FILES = (
    sed_dataset_base.FILES_FILE,
    sed_dataset_base.EVENTS_FILE,
    sed_dataset_base.MANIFEST_FILE,
    sed_dataset_base.NOTES_FILE,
)
SPLIT_FILES = sed_splits.SPLIT_FILES
TABLE_FORMATS = ("md", "html", "csv", "tex", "png")
DATASET_PAGE_FORMATS = ("md", "html", "csv")


# --- the jobs' shell ---------------------------------------------------------------------------------------------


def shell_prefix(config: Mapping, src: str, configuration: Mapping, python_dir: str | None) -> str:
    """What every job's shell runs first. The package is importable from src/ without installing it (conda envs too);
    python_dir (the folder of the interpreter running Snakemake, None with --use-conda) goes first on PATH so that
    `python` is that interpreter. Which configuration this is (every job records it in its outputs' provenance),
    training.compile, the download retries and the plugins change what a job records, how fast it runs or how it
    fetches, not what it computes: environment variables rather than params, so that none of them reruns anything.
    Doubled braces: Snakemake formats the prefix like a shell command."""
    prefix = f"export PYTHONPATH={shlex.quote(src)}${{{{PYTHONPATH:+:$PYTHONPATH}}}}; "
    if python_dir is not None:
        prefix += f"export PATH={shlex.quote(python_dir)}:$PATH; "
    configuration_json = json.dumps(configuration, sort_keys=True, default=str)
    prefix += (
        f"export {sed_provenance.CONFIGURATION_ENV}="
        + shlex.quote(configuration_json).replace("{", "{{").replace("}", "}}")
        + "; "
    )
    if config["training"]["compile"]:
        prefix += "export SEDREPRO_COMPILE=1; "
    prefix += (
        f"export SEDREPRO_DOWNLOAD_RETRIES={int(config['download']['retries'])}"
        f" SEDREPRO_DOWNLOAD_BACKOFF_S={float(config['download']['backoff_s'])}; "
    )
    prefix += f"export {sed_cli.PLUGINS_ENV}={shlex.quote(','.join(config['plugins']))}; "
    return prefix


def report_labels(column: str, wildcard: str):
    """Report labels of a table or figure, its name as 'Figure  4': the report sorts labels as strings."""
    return lambda wildcards: {"paper": wildcards.paper, column: sed_page.number_label(wildcards[wildcard])}


# --- paths -------------------------------------------------------------------------------------------------------


def data_path(config: Mapping, path: str) -> str:
    """A path under the configurable data root (archives, datasets, features: shareable between runs)."""
    return os.path.join(config["data_root"], path)


def results_path(config: Mapping, path: str) -> str:
    """A path under this configuration's results root (runs, tables, figures, audits, dataset pages, benchmarks)."""
    return os.path.join(config["results_root"], path)


def log_path(config: Mapping, path: str) -> str:
    """Job logs live under the results root too, so two configurations never write one log."""
    return os.path.join(config["results_root"], "logs", path)


# Folders of the stages, by their wildcards (pass "{dataset}" etc. for a rule's pattern).
def embedded_dir(config: Mapping, dataset: str) -> str:
    return data_path(config, f"embedded/{dataset}")


def index_dir(config: Mapping, dataset: str) -> str:
    return data_path(config, f"index/{dataset}")


def features_dir(config: Mapping, dataset: str, pipeline: str) -> str:
    return data_path(config, f"features/{dataset}/{pipeline}")


def splits_dir(config: Mapping, dataset: str, pipeline: str) -> str:
    return data_path(config, f"splits/{dataset}/{pipeline}")


def run_dir(config: Mapping, dataset: str, model: str, seed: str | int) -> str:
    return results_path(config, f"runs/{dataset}/{model}/seed{seed}")


def index_files(config: Mapping, dataset: str) -> dict[str, str]:
    """A dataset's index by role: files.tsv, events.tsv, manifest (manifest.tsv), notes (index.json)."""
    folder = index_dir(config, dataset)
    roles = ("files", "events", "manifest", "notes")
    return {role: os.path.join(folder, name) for role, name in zip(roles, INDEX_FILES, strict=True)}


def index_list(config: Mapping, dataset: str) -> list[str]:
    return list(index_files(config, dataset).values())


def embedded_manifest(config: Mapping, dataset: str) -> str:
    return os.path.join(embedded_dir(config, dataset), sed_embedded.MANIFEST_FILE)


def features_files(config: Mapping, dataset: str, pipeline: str) -> dict[str, str]:
    """The feature stage's outputs by role: feats, frames, info."""
    folder = features_dir(config, dataset, pipeline)
    names = {"feats": sed_layout.FEATURES_FILE, "frames": sed_layout.FRAMES_FILE, "info": sed_layout.INFO_FILE}
    return {role: os.path.join(folder, name) for role, name in names.items()}


def split_files(config: Mapping, dataset: str, pipeline: str) -> list[str]:
    """The split stage's outputs, the assignment first."""
    return [os.path.join(splits_dir(config, dataset, pipeline), name) for name in SPLIT_FILES]


def run_file(config: Mapping, dataset: str, model: str, seed: str | int, name: str) -> str:
    """A file of one run: e.g. layout.HISTORY_FILE, evaluate.METRICS_FILE, layout.PREDICTIONS_DIR."""
    return os.path.join(run_dir(config, dataset, model, seed), name)


def sidecar(path: str) -> str:
    """The provenance sidecar a stage writes beside `path`."""
    return str(sed_provenance.sidecar_path(path))


def folder(paths: str | Sequence[str]) -> str:
    """The one folder that holds a stage's files (its --out, --index, --features ... argument)."""
    items = [paths] if isinstance(paths, str) else list(paths)
    folders = {os.path.dirname(p) for p in items}
    if len(folders) != 1:
        raise ValueError(f"expected the files of one folder, found {', '.join(sorted(folders)) or 'no file'}")
    return folders.pop()


# --- papers, runs and targets ------------------------------------------------------------------------------------


def seeds(config: Mapping) -> list[str]:
    return [str(s) for s in config["seeds"]]


def paper_tables(paper: str) -> tuple:
    return sed_papers.get(paper).tables


def paper_figures(paper: str) -> tuple:
    return sed_papers.get(paper).figures


def paper_runs(config: Mapping) -> list[tuple[str, str]]:
    """(dataset, model) pairs that the enabled papers' tables and figures need, in a stable order."""
    runs: list[tuple[str, str]] = []
    for paper in config["papers"]:
        needed = [(t.dataset, m) for t in paper_tables(paper) for m in shown_runs(config, t)]
        needed += [(f.dataset, m) for f in paper_figures(paper) for _, m in f.runs(config["models"])]
        for run in needed:
            if run not in runs:
                runs.append(run)
    return runs


def datasets_used(config: Mapping) -> list[str]:
    return sorted({dataset for dataset, _ in paper_runs(config)})


def wildcard_constraints(config: Mapping) -> dict[str, str]:
    return {
        "dataset": "|".join(sed_datasets.DATASETS.names()),
        "model": "|".join(config["models"]),
        "pipeline": "|".join(config["pipelines"]),
        "seed": r"\d+",
        "paper": "|".join(sed_papers.names()),
        # a table may be named like a figure (papers.TABLE_NAME): each target belongs to one rule, by its paper
        "table": _except(r"(?:table|figure)\d+", [(p, f.name) for p in sed_papers.names() for f in paper_figures(p)]),
        "figure": _except(r"figure\d+", [(p, t.name) for p in sed_papers.names() for t in paper_tables(p)]),
    }


def _except(pattern: str, taken: Iterable[tuple[str, str]]) -> str:
    """`pattern` for a name in a results path .../<paper>/<name>..., except the (paper, name) pairs `taken` (one
    fixed-width look-behind each, after the name)."""
    return pattern + "".join(f"(?<!/{re.escape(paper)}/{re.escape(name)})" for paper, name in taken)


def paper_targets(config: Mapping, paper: str) -> list[str]:
    out = [
        results_path(config, f"{paper}/{table.name}.{ext}") for table in paper_tables(paper) for ext in TABLE_FORMATS
    ]
    out += [results_path(config, f"{paper}/{figure.name}.png") for figure in paper_figures(paper)]
    out += [results_path(config, f"{paper}/audit.md"), results_path(config, f"{paper}/audit.html")]
    return out


def all_targets(config: Mapping) -> list[str]:
    out = [target for paper in config["papers"] for target in paper_targets(config, paper)]
    out += [
        results_path(config, f"datasets/{dataset}.{ext}")
        for dataset in datasets_used(config)
        for ext in DATASET_PAGE_FORMATS
    ]
    return out


def checked_names(wildcards: Mapping[str, str]) -> list:
    """No input files: stops a paper or dataset name not in the registry (called first by the input functions of the
    rules that accept any name there; table and figure numbers: table_spec, figure_spec)."""
    for key, names in (("paper", sed_papers.names()), ("dataset", sed_datasets.DATASETS.names())):
        if key in wildcards.keys() and wildcards[key] not in names:  # keys(): `in` on Snakemake's Wildcards sees values
            raise fail(f"the target's {key}", f"one of {', '.join(names)}", repr(wildcards[key]))
    return []


def checked_index(config: Mapping, dataset: str) -> dict[str, str]:
    """A dataset's index files for a target that takes any dataset name: the name is checked first."""
    checked_names({"dataset": dataset})
    return index_files(config, dataset)


def paper_values(paper: str) -> str:
    """The TSV of a paper's transcribed values (Paper.values_path: a plugin paper may keep it beside its module)."""
    checked_names({"paper": paper})
    return sed_papers.get(paper).values_path


def table_spec(paper: str, table: str):
    checked_names({"paper": paper})
    return sed_papers.table(paper, table)


def figure_spec(paper: str, figure: str):
    checked_names({"paper": paper})
    for spec in paper_figures(paper):
        if spec.name == figure:
            return spec
    raise InputError(
        f"figure {figure!r} of paper {paper!r}: expected one of " + ", ".join(f.name for f in paper_figures(paper))
    )


def table_needs_train(table) -> bool:
    """Whether a table shows facts of train.json (time, parameters, size, epochs) rather than only scores."""
    shown = {m for _, m in table.metric_columns + table.text_metrics}
    return bool(shown & set(sed_papers.TRAIN_METRICS))


def shown_runs(config: Mapping, spec: sed_papers.TableSpec) -> list[str]:
    """The table's models this config trains: all but its skipped_runs (shown as "no runs", n/a)."""
    skipped = set(config.get("skipped_runs", []))
    return [model for model in spec.models if model not in skipped]


def table_metrics(config: Mapping, paper: str, table: str) -> list[str]:
    spec = table_spec(paper, table)
    return [
        run_file(config, spec.dataset, model, seed, sed_evaluate.METRICS_FILE)
        for model in shown_runs(config, spec)
        for seed in seeds(config)
    ]


def table_train(config: Mapping, paper: str, table: str) -> list[str]:
    """train.json of every run of a table that shows training facts (time, parameters, size, epochs)."""
    spec = table_spec(paper, table)
    if not table_needs_train(spec):
        return []
    return [
        run_file(config, spec.dataset, model, seed, sed_layout.SUMMARY_FILE)
        for model in shown_runs(config, spec)
        for seed in seeds(config)
    ]


def table_index(config: Mapping, paper: str, table: str) -> list[str]:
    """The index of the table's dataset (statistic columns such as Table 1's durations come from it)."""
    return index_list(config, table_spec(paper, table).dataset)


def table_assignments(config: Mapping, paper: str, table: str) -> list[str]:
    """`<pipeline>=<assignment.tsv>` for each pipeline of the table's models (which clips its evaluation set has, for
    the notes' clip counts: sedrepro.datasets.set_coverage); none for a statistics-only table."""
    spec = table_spec(paper, table)
    pipelines = dict.fromkeys(sed_config.model_pipeline(config, model) for model in shown_runs(config, spec))
    return [f"{p}={split_files(config, spec.dataset, p)[0]}" for p in pipelines]


def figure_inputs(config: Mapping, paper: str, figure: str) -> dict[str, list[str]]:
    """What the figure's kind declares it reads (sedrepro.figures.FigureKind.inputs), one list per input of
    sedrepro.figures.FIGURE_INPUTS (empty where not declared, so the rule can name each): the dataset index, or per
    run (model, seed) its history.csv, metrics.json or checkpoints folder, and the features of its pipeline."""
    from . import figures as sed_figures  # matplotlib only when a figure is drawn, not here

    spec = figure_spec(paper, figure)
    declared = sed_figures.KINDS.get(spec.kind, f"figure {figure} of paper {paper!r} kind").inputs
    runs = [(model, seed) for _, model in spec.runs(config["models"]) for seed in seeds(config)]

    def features() -> list[str]:
        out: list[str] = []
        for model in dict.fromkeys(m for m, _ in runs):
            pipeline = sed_config.model_pipeline(config, model)
            out += [f for f in features_files(config, spec.dataset, pipeline).values() if f not in out]
        return out

    files = {
        "index": lambda: index_list(config, spec.dataset),
        "history": lambda: [run_file(config, spec.dataset, m, s, sed_layout.HISTORY_FILE) for m, s in runs],
        "metrics": lambda: [run_file(config, spec.dataset, m, s, sed_evaluate.METRICS_FILE) for m, s in runs],
        "checkpoints": lambda: [run_file(config, spec.dataset, m, s, sed_layout.CHECKPOINTS_DIR) for m, s in runs],
        "features": features,
    }
    return {role: (files[role]() if role in declared else []) for role in sed_figures.FIGURE_INPUTS}


def index_folder(inputs: Mapping[str, Any]) -> str:
    """The folder of the index files among the inputs (plain, as the report shows params); empty without them."""
    return folder(inputs["index"][0]) if inputs.get("index") else ""


# --- datasets ----------------------------------------------------------------------------------------------------


def archive_names(config: Mapping, dataset: str) -> list[str]:
    cfg = config["datasets"][dataset]
    if cfg["source"] == "embedded":
        return list(sed_datasets.get(dataset).embedded_archives)
    return [a["name"] for a in cfg["archives"]]


def plain_files(config: Mapping, dataset: str) -> dict[str, str]:
    """The archives that are plain files (config `kind: file`; the embedded stand-in's from its spec), each with its
    path inside the extracted folder: `<root_name>/<place or name>`."""
    cfg, spec = config["datasets"][dataset], sed_datasets.get(dataset)
    if cfg["source"] == "embedded":
        places = {name: name for name in spec.embedded_files}
    else:
        places = {a["name"]: a.get("place") or a["name"] for a in cfg["archives"] if a.get("kind") == "file"}
    return {name: f"{spec.root_name}/{place}" for name, place in places.items()}


def extract_file_args(config: Mapping, dataset: str) -> str:
    """` --file NAME=PATH` of the extract stage for each plain file of the dataset (shell-quoted; each with its leading
    space, so a dataset without plain files adds nothing to the command)."""
    return "".join(f" --file {shlex.quote(f'{n}={p}')}" for n, p in plain_files(config, dataset).items())


def download_inputs(config: Mapping, dataset: str) -> dict[str, str]:
    """The embedded generator's manifest for embedded data; nothing for real downloads."""
    if config["datasets"][dataset]["source"] == "embedded":
        return {"manifest": embedded_manifest(config, dataset)}
    return {}


def source_args(config: Mapping, dataset: str, archive: str, inputs: Mapping[str, Any]) -> str:
    """Where the archive comes from, as shell-quoted arguments of `python -m sedrepro.download`."""
    if "manifest" in inputs.keys():
        return f"--manifest {shlex.quote(inputs['manifest'])}"
    entry = next(a for a in config["datasets"][dataset]["archives"] if a["name"] == archive)
    args = [f"--url {shlex.quote(url)}" for url in entry["urls"]]
    args += [f"--{algo} {entry[algo]}" for algo in ("md5", "sha256") if entry.get(algo)]
    return " ".join(args)


def dataset_root_inputs(config: Mapping, dataset: str) -> dict[str, str]:
    """Extracted archives, or nothing when the dataset already sits on a local disk."""
    if config["datasets"][dataset]["source"] == "local":
        return {}
    return {"extracted": data_path(config, f"datasets/{dataset}/extracted")}


def dataset_root(config: Mapping, dataset: str) -> str:
    """The folder the index paths are relative to."""
    cfg = config["datasets"][dataset]
    root_name = sed_datasets.get(dataset).root_name
    if cfg["source"] == "local":
        if not cfg.get("local_path"):
            raise InputError(f"config key 'datasets/{dataset}/local_path': expected a folder, found nothing")
        nested = os.path.join(cfg["local_path"], root_name)
        return nested if os.path.isdir(nested) else cfg["local_path"]
    return data_path(config, f"datasets/{dataset}/extracted/{root_name}")


def annotations_only_flag(config: Mapping, dataset: str) -> str:
    return "--annotations-only" if config["datasets"][dataset].get("annotations_only") else ""


def subsets_flag(config: Mapping, dataset: str) -> str:
    """--subsets of the index stage: the dataset's subsets to index (config datasets/<d>/subsets), or nothing (all)."""
    subsets = config["datasets"][dataset].get("subsets")
    return f"--subsets {shlex.quote(','.join(subsets))}" if subsets else ""


def embedded_json(config: Mapping, dataset: str) -> str:
    """The embedded generator's settings of a dataset."""
    return json.dumps(config["datasets"][dataset]["embedded"], sort_keys=True)


def dataset_note(config: Mapping, dataset: str) -> str:
    """Whether the data is the embedded stand-in or real, naming the archives or folder (their names carry the
    version)."""
    cfg = config["datasets"][dataset]
    if cfg["source"] == "local":
        return f"the real dataset from {cfg['local_path']}"
    archives = ", ".join(archive_names(config, dataset))
    if cfg["source"] == "download":
        return f"the real dataset, downloaded and checksum-verified ({archives})"
    return (
        f"embedded synthetic stand-in data packed like {archives} (not the real dataset: numbers are not comparable"
        " with the paper's)"
    )


def figure_settings(config: Mapping, paper: str, figure: str) -> str:
    """The figure's config settings (figures/<paper>/<figure>, {} when unset) as JSON; its kind checks them (at
    workflow start, sedrepro.config.check, and in the stage)."""
    figure_spec(paper, figure)  # a misspelt name lists the valid ones
    return json.dumps(config.get("figures", {}).get(paper, {}).get(figure, {}), sort_keys=True)


def data_note(config: Mapping, paper: str, table: str | None = None, figure: str | None = None) -> str:
    """Which data a table or figure comes from (its dataset's source)."""
    spec = figure_spec(paper, figure) if figure is not None else table_spec(paper, table)
    return dataset_note(config, spec.dataset)


# --- models and pipelines ----------------------------------------------------------------------------------------


def model_json(config: Mapping, model: str) -> str:
    """The model's architecture settings: what its network (and so its training) depends on."""
    return json.dumps(sed_config.model_config(config, model), sort_keys=True)


def training_json(config: Mapping, model: str) -> str:
    """The model's training settings without threads and compile (they change speed, not results)."""
    settings = sed_config.model_training(config, model)
    return json.dumps({k: settings[k] for k in settings if k not in sed_config.EXECUTION_KEYS}, sort_keys=True)


def train_resources(config: Mapping, model: str) -> dict[str, int]:
    """What the model's training job asks the scheduler for (config training.resources, or the model's own):
    Snakemake's resources mem_mb, runtime (minutes) and gpu."""
    res = sed_config.model_training(config, model)["resources"]
    return {"mem_mb": int(res["mem_mb"]), "runtime": int(res["runtime_min"]), "gpu": int(res["gpu"])}


def pipeline_rate(config: Mapping, pipeline: str) -> int | None:
    """The audio rate of a pipeline: its own sample_rate, else audio/sample_rate; None for shipped features."""
    cfg = config["pipelines"][pipeline]
    if cfg["features"]["kind"] == "precomputed":
        return None
    return cfg["sample_rate"] or config["audio"]["sample_rate"]


def pipeline_features(config: Mapping, pipeline: str) -> dict:
    """The pipeline's feature settings with the audio rate they are computed at (none for shipped features)."""
    features, rate = config["pipelines"][pipeline]["features"], pipeline_rate(config, pipeline)
    return features if rate is None else {**features, "sample_rate": rate}


def features_json(config: Mapping, pipeline: str) -> str:
    return json.dumps(pipeline_features(config, pipeline), sort_keys=True)


def features_inputs(config: Mapping, dataset: str, pipeline: str) -> dict[str, str]:
    """The audio at the pipeline's rate; for shipped features the dataset folder and its index instead."""
    rate = pipeline_rate(config, pipeline)
    if rate is None:
        return {**dataset_root_inputs(config, dataset), "files": index_files(config, dataset)["files"]}
    return {"audio": data_path(config, f"audio/{dataset}/{rate}")}


def pipeline_json(config: Mapping, model: str) -> str:
    """The model's whole pipeline (features with their audio rate, chunks, target, split): part of its resume key."""
    name = sed_config.model_pipeline(config, model)
    return json.dumps({**config["pipelines"][name], "features": pipeline_features(config, name)}, sort_keys=True)


def scoring_json(config: Mapping, model: str) -> str:
    """The model's scoring settings (metrics and their params, post-processing, threshold, evaluation sets)."""
    return json.dumps(sed_evaluate.scoring_config(config, model), sort_keys=True)


def evaluation_sets(config: Mapping, model: str) -> list[str]:
    """The evaluation sets of the model's pipeline, each predicted and scored on its own."""
    return list(config["pipelines"][sed_config.model_pipeline(config, model)]["evaluation_sets"])


def split_json(config: Mapping, pipeline: str) -> str:
    """What the split stage depends on: the pipeline without its features (those come in as files)."""
    return json.dumps({k: v for k, v in config["pipelines"][pipeline].items() if k != "features"}, sort_keys=True)


def run_inputs(config: Mapping, dataset: str, model: str) -> dict[str, Any]:
    """Features and splits of the model's pipeline on the run's dataset (feats, frames, splits)."""
    pipeline = sed_config.model_pipeline(config, model)
    features = features_files(config, dataset, pipeline)
    return {"feats": features["feats"], "frames": features["frames"], "splits": split_files(config, dataset, pipeline)}


# --- audit -------------------------------------------------------------------------------------------------------


def claim_datasets(basedir: str | Path, path: str) -> list[str]:
    """Datasets whose index the claims TSV reads; a bad claims file stops the DAG with its one-line message."""
    return sed_claims.datasets_needed(sed_claims.load_claims(Path(basedir) / path))


def audit_inputs(config: Mapping, basedir: str | Path, paper: str) -> dict[str, Any]:
    """Paper values and what the paper's declared audit checks read: another paper's values, an index, the claims of
    the text and the indexes of the datasets those claims read (inputs `index_<dataset>`)."""
    checked_names({"paper": paper})
    spec = sed_papers.get(paper)
    out: dict[str, Any] = {"paper_values": spec.values_path}
    claims = spec.text_claims
    if claims:
        out["claims"] = claims
        for dataset in claim_datasets(basedir, claims):
            out[f"index_{dataset}"] = index_list(config, dataset)
    cross = spec.cross_paper_events
    if cross:
        out["cross"] = sed_papers.get(cross.paper).values_path
    counts = spec.annotation_counts
    if counts:
        out["index"] = index_list(config, sed_papers.table(paper, counts).dataset)
    return out


def audit_params(config: Mapping, paper: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    """Plain values (the report shows params as they are) for `python -m sedrepro.audit`: empty where the paper
    declares no such check; one DATASET=VALUE pair per dataset whose index the claims of the text read."""
    # audit_inputs names one input per dataset the claims read
    pairs = {
        name.removeprefix("index_"): folder(files[0]) for name, files in inputs.items() if name.startswith("index_")
    }
    annotation = sed_papers.get(paper).annotation_counts
    return {
        "claims": inputs.get("claims", ""),
        "cross": inputs.get("cross", ""),
        "index": index_folder(inputs),
        "note": dataset_note(config, sed_papers.table(paper, annotation).dataset) if inputs.get("index") else "",
        "dataset_index": [f"{d}={path}" for d, path in pairs.items()],
        "dataset_note": [f"{d}={dataset_note(config, d)}" for d in pairs],
    }


# --- report ------------------------------------------------------------------------------------------------------


def output_sidecars(config: Mapping) -> list[str]:
    """Provenance sidecars of everything the default target shows: tables, figures, audits, dataset pages, runs."""
    outputs = all_targets(config)
    outputs += [
        run_file(config, dataset, model, seed, name)
        for dataset, model in paper_runs(config)
        for seed in seeds(config)
        for name in (sed_evaluate.METRICS_FILE, sed_layout.SUMMARY_FILE)
    ]
    return sorted({sidecar(p) for p in outputs})


def check_report_tree(config: Mapping, configuration: Mapping) -> list[str]:
    """A report shows one configuration's outputs: refuse a tree whose provenance names another (or several).
    Returns the warnings to print."""
    existing = [p for p in output_sidecars(config) if os.path.exists(p)]
    try:
        return sed_provenance.check_one_configuration(existing, configuration)
    except InputError as err:
        raise InputError(f"report refused: {err}") from None


def wants_report(argv: Iterable[str]) -> bool:
    return any(arg == "--report" or arg.startswith("--report=") for arg in argv)
