# Features: one pipeline's features (log-mel or MFCC of the audio at the pipeline's rate, or the features a dataset
# ships: kind precomputed, no audio stage) of every clip of a dataset, in one memory-mappable array.


rule extract_features:
    input:
        unpack(features_inputs),
    output:
        **features_files(),
    log:
        log_path("extract_features/{dataset}/{pipeline}.log"),
    benchmark:
        results_path("benchmarks/extract_features/{dataset}/{pipeline}.tsv")
    conda:
        "../envs/data.yaml"
    threads: config["audio"]["threads"]  # clips at once, same bytes as one (tests/test_features_threads.py)
    params:  # --key=VALUE: an unused source is an empty value (:q of "" is nothing)
        features=features_json,
        audio=lambda wc, input: input.get("audio", ""),
        root=lambda wc, input: "" if "audio" in input.keys() else dataset_root(wc),
        index=lambda wc, input: (
            glue.folder(input.files) if "files" in input.keys() else ""
        ),
        out=output_folder("feats"),
    message:
        JOB_MESSAGE
    shell:
        "python -m sedrepro.features --audio={params.audio:q} --root={params.root:q} --index={params.index:q}"
        " --out {params.out:q} --features {params.features:q} --threads {threads} --log {log:q}"
