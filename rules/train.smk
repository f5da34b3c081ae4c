# Training: one job per (dataset, model, seed), on the features and splits of the model's pipeline. Uses CUDA when
# the job gets a GPU, the CPU otherwise.


rule train_model:
    input:
        unpack(run_inputs),
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
        # threads and compile change speed, not results: they stay out of the params that trigger reruns (compile
        # comes as SEDREPRO_COMPILE, see common.smk)
        training=training_json,
        run_dir=run_dir,
        features=lambda wc, input: os.path.dirname(input.feats),
        splits=lambda wc, input: os.path.dirname(input.splits[0]),
    message:
        JOB_MESSAGE
    shell:
        "python -m sedrepro.train --run-dir {params.run_dir:q} --features {params.features:q}"
        " --splits {params.splits:q} --model {params.model:q} --training {params.training:q}"
        " --seed {wildcards.seed} --threads {threads} --log {log:q}"
