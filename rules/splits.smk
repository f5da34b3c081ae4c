# Splits: frame labels, chunk index per official split, normalisation statistics from the training split only.


rule make_splits:
    input:
        feats=data_path("features/{dataset}/features.npy"),
        frames=data_path("features/{dataset}/frames.tsv"),
        info=data_path("features/{dataset}/features.json"),
        events=data_path("index/{dataset}/events.tsv"),
    output:
        labels=data_path("splits/{dataset}/labels.npy"),
        chunks=data_path("splits/{dataset}/chunks.npz"),
        norm=data_path("splits/{dataset}/norm.json"),
        summary=data_path("splits/{dataset}/splits.json"),
    log:
        "logs/make_splits/{dataset}.log",
    conda:
        "../envs/data.yaml"
    params:
        chunk_s=config["chunks"]["length_s"],
        hop_s=config["chunks"]["hop_s"],
        normalisation=config["features"]["normalisation"],
        features=lambda wc, input: os.path.dirname(input.feats),
        index=lambda wc, input: os.path.dirname(input.events),
        out=lambda wc, output: os.path.dirname(output.labels),
    shell:
        "python -m sedrepro.splits --features {params.features:q} --index {params.index:q}"
        " --dataset {wildcards.dataset} --out {params.out:q} --chunk-s {params.chunk_s} --hop-s {params.hop_s}"
        " --normalisation {params.normalisation} --log {log:q}"
