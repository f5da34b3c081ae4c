# Audio: decode, mix to mono and resample every clip of a dataset to a rate some pipeline reads (its sample_rate, or
# config audio/sample_rate): one folder per rate, so pipelines at several rates share one run.


rule resample_audio:
    input:
        unpack(dataset_root_inputs),
        files=index_files()["files"],
    output:
        directory(data_path("audio/{dataset}/{rate}")),
    log:
        log_path("resample_audio/{dataset}/{rate}.log"),
    benchmark:
        results_path("benchmarks/resample_audio/{dataset}/{rate}.tsv")
    wildcard_constraints:
        rate=r"\d+",
    conda:
        "../envs/data.yaml"
    threads: config["audio"]["threads"]  # clips at once, same bytes as one (tests/test_features_threads.py)
    params:
        root=dataset_root,
        sample_rate=lambda wc: int(wc.rate),
        index=input_folder("files"),
    message:
        JOB_MESSAGE
    shell:
        "python -m sedrepro.audio --index {params.index:q} --root {params.root:q} --out {output:q}"
        " --sample-rate {params.sample_rate} --threads {threads} --log {log:q}"
