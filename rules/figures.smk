# Figures of a paper (for example the dessed paper's Figures 1, 4, 9-15): histograms from the dataset index, training
# curves from the runs' history.csv, class-wise scores from their metrics.json. Which figures a paper has comes from its
# Paper's figures; which inputs a figure gets, from its kind (sedrepro.figures.KINDS, workflow.figure_inputs).


# the figure wildcard's constraint is workflow.wildcard_constraints' (a table may be named like a figure)


rule plot_figure:
    input:
        unpack(figure_inputs),
    output:
        png=report(
            results_path("{paper}/{figure}.png"),
            caption="../report/paper_figure.rst",
            category="Figures",
            labels=report_labels("figure", "figure"),
        ),
        provenance=results_path("{paper}/{figure}.provenance.json"),
    log:
        log_path("plot_figure/{paper}/{figure}.log"),
    wildcard_constraints:
        paper=ANY_NAME,  # checked by figure_inputs, listing the papers
    conda:
        "../envs/eval.yaml"
    params:
        index=index_folder,
        settings=figure_settings,  # config figures/<paper>/<figure>: checked by the figure's kind
        note=data_note,
    message:
        JOB_MESSAGE
    shell:
        "python -m sedrepro.figures --paper {wildcards.paper} --figure {wildcards.figure} --index={params.index:q}"
        " --history {input.history:q} --metrics {input.metrics:q} --checkpoints {input.checkpoints:q}"
        " --features {input.features:q} --data-note {params.note:q} --params {params.settings:q}"
        " --out {output.png:q} --log {log:q}"
