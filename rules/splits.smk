# Splits: split assignment, frame labels, example index per split, normalisation statistics from training only.


rule make_splits:
    input:
        **features_files(),
        **index_files(),
    output:
        split_files(),
    log:
        log_path("make_splits/{dataset}/{pipeline}.log"),
    conda:
        "../envs/data.yaml"
    params:
        pipeline=split_json,
        features=input_folder("feats"),
        index=input_folder("events"),
        out=output_folder(0),
    message:
        JOB_MESSAGE
    shell:
        "python -m sedrepro.splits --features {params.features:q} --index {params.index:q}"
        " --dataset {wildcards.dataset} --out {params.out:q} --pipeline {params.pipeline:q} --log {log:q}"
