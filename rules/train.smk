# Training: one job per (dataset, model, seed). Uses CUDA when the job gets a GPU, the CPU otherwise.

SPLIT_FILES = ["labels.npy", "chunks.npz", "norm.json", "splits.json"]


rule train_model:
    input:
        feats=data_path("features/{dataset}/features.npy"),
        frames=data_path("features/{dataset}/frames.tsv"),
        splits=expand(data_path("splits/{{dataset}}/{f}"), f=SPLIT_FILES),
    output:
        history="results/runs/{dataset}/{model}/seed{seed}/history.csv",
        summary="results/runs/{dataset}/{model}/seed{seed}/train.json",
        checkpoints=directory("results/runs/{dataset}/{model}/seed{seed}/checkpoints"),
    log:
        "logs/train_model/{dataset}/{model}/seed{seed}.log",
    benchmark:
        "results/benchmarks/train_model/{dataset}/{model}/seed{seed}.tsv"
    conda:
        "../envs/torch.yaml"
    threads: config["training"]["threads"]
    resources:
        gpu=1,
    params:
        model=model_json,
        # threads change speed, not results: keep them out of the params that trigger reruns
        training=json.dumps(
            {k: v for k, v in config["training"].items() if k != "threads"},
            sort_keys=True,
        ),
        run_dir=run_dir,
        features=lambda wc, input: os.path.dirname(input.feats),
        splits=lambda wc, input: os.path.dirname(input.splits[0]),
    shell:
        "python -m sedrepro.train --run-dir {params.run_dir:q} --features {params.features:q}"
        " --splits {params.splits:q} --model {params.model:q} --training {params.training:q}"
        " --seed {wildcards.seed} --threads {threads} --log {log:q}"
