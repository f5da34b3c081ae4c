# Audio: decode, mix to mono and resample every clip to the one rate every pipeline reads (config audio/sample_rate).


rule resample_audio:
    input:
        unpack(dataset_root_inputs),
        files=index_files()["files"],
    output:
        directory(data_path("audio/{dataset}")),
    log:
        log_path("resample_audio/{dataset}.log"),
    benchmark:
        results_path("benchmarks/resample_audio/{dataset}.tsv")
    conda:
        "../envs/data.yaml"
    threads: config["audio"]["threads"]  # clips at once, same bytes as one (tests/test_features_threads.py)
    params:
        root=dataset_root,
        sample_rate=config["audio"]["sample_rate"],
        index=input_folder("files"),
    message:
        JOB_MESSAGE
    shell:
        "python -m sedrepro.audio --index {params.index:q} --root {params.root:q} --out {output:q}"
        " --sample-rate {params.sample_rate} --threads {threads} --log {log:q}"
