# Config validation, wildcard constraints and one-line wrappers that bind `config` (and what Snakemake knows) to the
# workflow's glue, src/sedrepro/workflow.py, where the logic lives with its unit tests (tests/test_workflow_glue.py).
import os
import sys

from snakemake.exceptions import WorkflowError
from snakemake.utils import update_config
from snakemake.settings.types import DeploymentMethod

SRC = os.path.join(workflow.basedir, "src")
sys.path.insert(0, SRC)

from sedrepro import config as sed_config  # noqa: E402
from sedrepro import evaluate as sed_evaluate  # noqa: E402
from sedrepro import layout as sed_layout  # noqa: E402
from sedrepro import workflow as glue  # noqa: E402
from sedrepro.io import InputError  # noqa: E402


def _stop(fn, *args):
    """A glue call that stops the workflow with its one line on bad input."""
    try:
        return fn(*args)
    except InputError as err:
        raise WorkflowError(str(err)) from None


# A bad config stops with one line naming the key, before any job (or download) runs; the schema's defaults are filled
# as sedrepro.config.load fills them. --config values come in as strings below the top level: they get the schema's
# types first. The plugins named in the config register their parts before any name is checked.
update_config(
    config, _stop(sed_config.coerce_overrides, workflow.config_settings.config)
)
_stop(sed_config.validate_and_default, config)
_stop(sed_config.load_plugins, config)
# A job step on a cluster parses the workflow again: the main process has checked this config already (2-3 s saved
# per job: the architectures are built on the meta device).
if workflow.is_main_process:
    _stop(sed_config.check, config)

# Which configuration this is (config files with digests, --config overrides, results root): every job records it in
# its outputs' provenance.
CONFIGURATION = sed_config.configuration_record(
    config, workflow.configfiles, dict(workflow.config_settings.config)
)
# Without --use-conda, `python` is the interpreter running Snakemake (e.g. .venv/bin/python), not whatever is on PATH.
_conda = DeploymentMethod.CONDA in workflow.deployment_settings.deployment_method
shell.prefix(
    glue.shell_prefix(
        config, SRC, CONFIGURATION, None if _conda else os.path.dirname(sys.executable)
    )
)

JOB_MESSAGE = glue.JOB_MESSAGE
ANY_NAME = glue.ANY_NAME
DATA = config["data_root"]
RESULTS = config["results_root"]
SEEDS = glue.seeds(config)
PAPERS = config["papers"]


wildcard_constraints:
    **glue.wildcard_constraints(config),


def data_path(path):
    return glue.data_path(config, path)


def results_path(path):
    return glue.results_path(config, path)


def log_path(path):
    return glue.log_path(config, path)


# A stage's files as rule patterns (names from the stage module that writes them).
def index_files(dataset="{dataset}"):
    return glue.index_files(config, dataset)


def features_files(dataset="{dataset}", pipeline="{pipeline}"):
    return glue.features_files(config, dataset, pipeline)


def split_files(dataset="{dataset}", pipeline="{pipeline}"):
    return glue.split_files(config, dataset, pipeline)


def input_folder(name):
    """A param: the folder of the input `name` (derived from the input, so it never triggers a rerun by itself)."""
    return lambda wildcards, input: glue.folder(input[name])


def output_folder(name):
    """A param: the folder of the output `name` (derived from the output)."""
    return lambda wildcards, output: glue.folder(output[name])


def datasets_used():
    return glue.datasets_used(config)


def paper_runs():
    return glue.paper_runs(config)


def all_targets():
    return glue.all_targets(config)


def checked_names(wildcards):
    return _stop(glue.checked_names, wildcards)


def checked_index(wildcards):
    return _stop(glue.checked_index, config, wildcards.dataset)


def archive_names(dataset):
    return glue.archive_names(config, dataset)


def extract_file_args(wildcards):
    return glue.extract_file_args(config, wildcards.dataset)


def download_inputs(wildcards):
    return glue.download_inputs(config, wildcards.dataset)


def source_args(wildcards, input):
    return glue.source_args(config, wildcards.dataset, wildcards.archive, input)


def dataset_root_inputs(wildcards):
    return glue.dataset_root_inputs(config, wildcards.dataset)


def dataset_root(wildcards):
    return _stop(glue.dataset_root, config, wildcards.dataset)


def annotations_only_flag(wildcards):
    return glue.annotations_only_flag(config, wildcards.dataset)


def subsets_flag(wildcards):
    return glue.subsets_flag(config, wildcards.dataset)


def embedded_json(wildcards):
    return glue.embedded_json(config, wildcards.dataset)


def dataset_note(dataset):
    return glue.dataset_note(config, dataset)


def model_json(wildcards):
    return _stop(glue.model_json, config, wildcards.model)


def model_evaluation(wildcards):
    return _stop(sed_config.model_evaluation, config, wildcards.model)


def training_json(wildcards):
    return _stop(glue.training_json, config, wildcards.model)


def train_resources(model):
    return _stop(glue.train_resources, config, model)


def scoring_json(wildcards):
    return _stop(glue.scoring_json, config, wildcards.model)


def evaluation_sets(wildcards):
    return _stop(glue.evaluation_sets, config, wildcards.model)


def features_json(wildcards):
    return glue.features_json(config, wildcards.pipeline)


def features_inputs(wildcards):
    return glue.features_inputs(config, wildcards.dataset, wildcards.pipeline)


def pipeline_json(wildcards):
    return _stop(glue.pipeline_json, config, wildcards.model)


def split_json(wildcards):
    return glue.split_json(config, wildcards.pipeline)


def run_inputs(wildcards):
    return _stop(glue.run_inputs, config, wildcards.dataset, wildcards.model)


def run_dir(wildcards):
    return glue.run_dir(config, wildcards.dataset, wildcards.model, wildcards.seed)


def run_file(name):
    """A file of one run, as a rule's pattern."""
    return glue.run_file(config, "{dataset}", "{model}", "{seed}", name)


def paper_values(wildcards):
    return _stop(glue.paper_values, wildcards.paper)


def table_metrics(wildcards):
    return _stop(glue.table_metrics, config, wildcards.paper, wildcards.table)


def table_train(wildcards):
    return _stop(glue.table_train, config, wildcards.paper, wildcards.table)


def table_index(wildcards):
    return _stop(glue.table_index, config, wildcards.paper, wildcards.table)


def table_assignments(wildcards):
    return _stop(glue.table_assignments, config, wildcards.paper, wildcards.table)


def figure_inputs(wildcards):
    return _stop(glue.figure_inputs, config, wildcards.paper, wildcards.figure)


def figure_settings(wildcards):
    return _stop(glue.figure_settings, config, wildcards.paper, wildcards.figure)


def data_note(wildcards):
    return _stop(
        glue.data_note,
        config,
        wildcards.paper,
        wildcards.get("table"),
        wildcards.get("figure"),
    )


def index_folder(wildcards, input):
    return glue.index_folder(input)


def audit_inputs(wildcards):
    return _stop(glue.audit_inputs, config, workflow.basedir, wildcards.paper)


def audit_params(wildcards, input):
    return glue.audit_params(config, wildcards.paper, input)


def report_labels(column, wildcard):
    return glue.report_labels(column, wildcard)


def available_cores():
    """--cores of a local run; 1 where none is defined (cluster runs, where threads become --cpus-per-task)."""
    try:
        return workflow.cores
    except WorkflowError:
        return 1


if glue.wants_report(sys.argv):
    for _line in _stop(glue.check_report_tree, config, CONFIGURATION):
        print(f"warning: {_line}", file=sys.stderr)
