# Splits: frame labels, chunk index per official split, normalisation statistics from the training split only.


rule make_splits:
    input:
        logmel=DATA + "/features/{dataset}/logmel.npy",
        frames=DATA + "/features/{dataset}/frames.tsv",
        info=DATA + "/features/{dataset}/features.json",
        events=DATA + "/index/{dataset}/events.tsv",
    output:
        labels=DATA + "/splits/{dataset}/labels.npy",
        chunks=DATA + "/splits/{dataset}/chunks.npz",
        norm=DATA + "/splits/{dataset}/norm.json",
        summary=DATA + "/splits/{dataset}/splits.json",
    log:
        "logs/make_splits/{dataset}.log",
    conda:
        "../envs/data.yaml"
    params:
        chunk_s=config["chunks"]["length_s"],
        hop_s=config["chunks"]["hop_s"],
        normalisation=config["features"]["normalisation"],
        features=lambda wc, input: os.path.dirname(input.logmel),
        index=lambda wc, input: os.path.dirname(input.events),
        out=lambda wc, output: os.path.dirname(output.labels),
    shell:
        "python -m sedrepro.splits --features {params.features:q} --index {params.index:q}"
        " --dataset {wildcards.dataset} --out {params.out:q} --chunk-s {params.chunk_s} --hop-s {params.hop_s}"
        " --normalisation {params.normalisation} --log {log:q}"
