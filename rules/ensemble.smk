# Ensembles: a model entry naming member models is not trained; each of its runs (dataset, seed) averages the members'
# predictions of that dataset and seed (sedrepro.ensemble), which score_predictions then scores like any run's.


ruleorder: average_predictions > predict_checkpoints


rule average_predictions:
    input:
        members=lambda wc: [
            results_path(f"runs/{wc.dataset}/{member}/seed{wc.seed}/predictions")
            for member in _stop(sed_config.ensemble_members, config, wc.model)
        ],
    output:
        directory(results_path("runs/{dataset}/{model}/seed{seed}/predictions")),
    log:
        log_path("average_predictions/{dataset}/{model}/seed{seed}.log"),
    wildcard_constraints:
        # only ensembles (a pattern that matches nothing when there are none); every other model is predicted
        model="|".join(sed_config.ensemble_names(config)) or "(?!)",
    conda:
        "../envs/eval.yaml"
    message:
        JOB_MESSAGE
    shell:
        "python -m sedrepro.ensemble --members {input.members:q} --out {output:q} --log {log:q}"
