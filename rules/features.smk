# Features: log-mel spectrograms, all clips of a dataset in one memory-mappable array.


rule extract_features:
    input:
        data_path("audio/{dataset}"),
    output:
        feats=data_path("features/{dataset}/features.npy"),
        frames=data_path("features/{dataset}/frames.tsv"),
        info=data_path("features/{dataset}/features.json"),
    log:
        "logs/extract_features/{dataset}.log",
    benchmark:
        "results/benchmarks/extract_features/{dataset}.tsv"
    conda:
        "../envs/data.yaml"
    threads: 1
    params:
        features=json.dumps(config["features"], sort_keys=True),
        out=lambda wc, output: os.path.dirname(output.feats),
    shell:
        "python -m sedrepro.features --audio {input:q} --out {params.out:q} --features {params.features:q}"
        " --threads {threads} --log {log:q}"
