# Evaluation: predictions of the selected checkpoints on each evaluation set of the model's pipeline, then the scores
# of each set with the configured metrics (sedrepro.metrics; by default sed_eval segment F1 for frame targets, clip F1
# for clip targets, plus accuracy, loss and micro F1).


# metric names and params, post-processing and sets of every model: checked before any job runs
_stop(sed_evaluate.check_config, config)


rule predict_checkpoints:
    input:
        unpack(run_inputs),
        history=run_file(sed_layout.HISTORY_FILE),
        checkpoints=run_file(sed_layout.CHECKPOINTS_DIR),
    output:
        directory(run_file(sed_layout.PREDICTIONS_DIR)),
    log:
        log_path("predict_checkpoints/{dataset}/{model}/seed{seed}.log"),
    conda:
        "../envs/torch.yaml"
    threads: config["training"]["threads"]
    params:
        model=model_json,
        run_dir=run_dir,
        n=lambda wc: model_evaluation(wc)["n_checkpoints"],
        selection=lambda wc: model_evaluation(wc)["selection"],
        batch_size=lambda wc: model_evaluation(wc)["batch_size"],
        device=config["training"]["device"],
        sets=evaluation_sets,
        features=input_folder("feats"),
        splits=input_folder("splits"),
    message:
        JOB_MESSAGE
    shell:
        "python -m sedrepro.predict --run-dir {params.run_dir:q} --features {params.features:q}"
        " --splits {params.splits:q} --out {output:q} --model {params.model:q} --n-checkpoints {params.n}"
        " --selection {params.selection} --batch-size {params.batch_size} --device {params.device}"
        " --threads {threads} --sets {params.sets:q} --log {log:q}"


rule score_predictions:
    input:
        **index_files(),
        predictions=run_file(sed_layout.PREDICTIONS_DIR),
        assignment=lambda wc: run_inputs(wc)["splits"][0],
    output:
        metrics=run_file(sed_evaluate.METRICS_FILE),
        provenance=glue.sidecar(run_file(sed_evaluate.METRICS_FILE)),
    log:
        log_path("score_predictions/{dataset}/{model}/seed{seed}.log"),
    conda:
        "../envs/eval.yaml"
    params:
        evaluation=scoring_json,
        index=input_folder("files"),
    message:
        JOB_MESSAGE
    shell:
        "python -m sedrepro.evaluate score --predictions {input.predictions:q} --index {params.index:q}"
        " --assignment {input.assignment:q} --evaluation {params.evaluation:q}"
        " --dataset {wildcards.dataset} --model {wildcards.model} --seed {wildcards.seed} --out {output.metrics:q}"
        " --log {log:q}"
