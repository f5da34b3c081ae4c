# Splits: split assignment, frame labels, example index per split, normalisation statistics from training only.

SPLIT_FILES = ["assignment.tsv", "labels.npy", "chunks.npz", "norm.json", "splits.json"]


rule make_splits:
    input:
        feats=data_path("features/{dataset}/{pipeline}/features.npy"),
        frames=data_path("features/{dataset}/{pipeline}/frames.tsv"),
        info=data_path("features/{dataset}/{pipeline}/features.json"),
        files=data_path("index/{dataset}/files.tsv"),
        events=data_path("index/{dataset}/events.tsv"),
    output:
        expand(data_path("splits/{{dataset}}/{{pipeline}}/{f}"), f=SPLIT_FILES),
    log:
        log_path("make_splits/{dataset}/{pipeline}.log"),
    conda:
        "../envs/data.yaml"
    params:
        pipeline=split_json,
        features=lambda wc, input: os.path.dirname(input.feats),
        index=lambda wc, input: os.path.dirname(input.events),
        out=lambda wc, output: os.path.dirname(output[0]),
    message:
        JOB_MESSAGE
    shell:
        "python -m sedrepro.splits --features {params.features:q} --index {params.index:q}"
        " --dataset {wildcards.dataset} --out {params.out:q} --pipeline {params.pipeline:q} --log {log:q}"
