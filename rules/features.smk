# Features: one pipeline's features (log-mel or MFCC) of every clip of a dataset, in one memory-mappable array.


rule extract_features:
    input:
        data_path("audio/{dataset}"),
    output:
        **features_files(),
    log:
        log_path("extract_features/{dataset}/{pipeline}.log"),
    benchmark:
        results_path("benchmarks/extract_features/{dataset}/{pipeline}.tsv")
    conda:
        "../envs/data.yaml"
    threads: config["audio"]["threads"]  # clips at once, same bytes as one (tests/test_features_threads.py)
    params:
        features=features_json,
        out=output_folder("feats"),
    message:
        JOB_MESSAGE
    shell:
        "python -m sedrepro.features --audio {input:q} --out {params.out:q} --features {params.features:q}"
        " --threads {threads} --log {log:q}"
