# Rebuilds the tables and figures of SED papers from raw audio. Wiring only: the logic lives in src/sedrepro.
from snakemake.utils import min_version

min_version("9.0")


configfile: "config.yaml"


report: "report/workflow.rst"


include: "rules/common.smk"
include: "rules/datasets.smk"
include: "rules/audio.smk"
include: "rules/features.smk"
include: "rules/splits.smk"
include: "rules/train.smk"
include: "rules/evaluate.smk"
include: "rules/ensemble.smk"
include: "rules/render.smk"
include: "rules/figures.smk"
include: "rules/benchmarks.smk"


rule all:
    default_target: True
    input:
        all_targets(),
    localrule: True
    message:
        JOB_MESSAGE
