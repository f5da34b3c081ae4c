# Evaluation: predictions of the selected checkpoints on each evaluation set of the model's pipeline, then the scores
# of each set with the configured metrics (sedrepro.metrics; by default sed_eval segment F1 for frame targets, clip F1
# for clip targets, plus accuracy, loss and micro F1).


from sedrepro import evaluate as sed_evaluate

# metric names and params, post-processing and sets of every model: checked before any job runs
_settings(sed_evaluate.check_config)


rule predict_checkpoints:
    input:
        unpack(run_inputs),
        history=results_path("runs/{dataset}/{model}/seed{seed}/history.csv"),
        checkpoints=results_path("runs/{dataset}/{model}/seed{seed}/checkpoints"),
    output:
        directory(results_path("runs/{dataset}/{model}/seed{seed}/predictions")),
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
        sets=lambda wc: config["pipelines"][model_pipeline(wc)]["evaluation_sets"],
        features=lambda wc, input: os.path.dirname(input.feats),
        splits=lambda wc, input: os.path.dirname(input.splits[0]),
    message:
        JOB_MESSAGE
    shell:
        "python -m sedrepro.predict --run-dir {params.run_dir:q} --features {params.features:q}"
        " --splits {params.splits:q} --out {output:q} --model {params.model:q} --n-checkpoints {params.n}"
        " --selection {params.selection} --batch-size {params.batch_size} --device {params.device}"
        " --threads {threads} --sets {params.sets:q} --log {log:q}"


rule score_predictions:
    input:
        predictions=results_path("runs/{dataset}/{model}/seed{seed}/predictions"),
        files=data_path("index/{dataset}/files.tsv"),
        events=data_path("index/{dataset}/events.tsv"),
        assignment=lambda wc: run_inputs(wc)["splits"][0],
    output:
        metrics=results_path("runs/{dataset}/{model}/seed{seed}/metrics.json"),
        provenance=results_path(
            "runs/{dataset}/{model}/seed{seed}/metrics.provenance.json"
        ),
    log:
        log_path("score_predictions/{dataset}/{model}/seed{seed}.log"),
    conda:
        "../envs/eval.yaml"
    params:
        evaluation=lambda wc: json.dumps(
            _settings(sed_evaluate.scoring_config, wc.model), sort_keys=True
        ),
        index=lambda wc, input: os.path.dirname(input.files),
    message:
        JOB_MESSAGE
    shell:
        "python -m sedrepro.evaluate score --predictions {input.predictions:q} --index {params.index:q}"
        " --assignment {input.assignment:q} --evaluation {params.evaluation:q}"
        " --dataset {wildcards.dataset} --model {wildcards.model} --seed {wildcards.seed} --out {output.metrics:q}"
        " --log {log:q}"
