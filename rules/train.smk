# Training: one job per (dataset, model, seed), on the features and splits of the model's pipeline. Uses CUDA when
# the job gets a GPU, the CPU otherwise.


rule train_model:
    input:
        unpack(run_inputs),
    output:
        history=run_file(sed_layout.HISTORY_FILE),
        summary=run_file(sed_layout.SUMMARY_FILE),
        provenance=glue.sidecar(run_file(sed_layout.SUMMARY_FILE)),
        checkpoints=directory(run_file(sed_layout.CHECKPOINTS_DIR)),
    log:
        log_path("train_model/{dataset}/{model}/seed{seed}.log"),
    benchmark:
        results_path("benchmarks/train_model/{dataset}/{model}/seed{seed}.tsv")
    conda:
        "../envs/torch.yaml"
    threads: config["training"]["threads"]
    resources:
        # config training.resources (a model may override): profiles/slurm places the job by them
        gpu=lambda wc: train_resources(wc.model)["gpu"],
        mem_mb=lambda wc: train_resources(wc.model)["mem_mb"],
        runtime=lambda wc: train_resources(wc.model)["runtime"],
    params:
        model=model_json,
        # threads and compile change speed, not results: they stay out of the params that trigger reruns (compile
        # comes as SEDREPRO_COMPILE, see common.smk)
        training=training_json,
        pipeline=pipeline_json,
        run_dir=run_dir,
        features=input_folder("feats"),
        splits=input_folder("splits"),
    message:
        JOB_MESSAGE
    shell:
        "python -m sedrepro.train --run-dir {params.run_dir:q} --features {params.features:q}"
        " --splits {params.splits:q} --model {params.model:q} --training {params.training:q}"
        " --pipeline {params.pipeline:q}"
        " --seed {wildcards.seed} --threads {threads} --log {log:q}"
