# Figures of a paper (the dessed paper's Figures 1, 4, 9-15): histograms from the dataset index, training curves from
# the runs' history.csv. Which figures a paper has comes from its module's FIGURES.


wildcard_constraints:
    figure=r"figure\d+",


rule plot_figure:
    input:
        unpack(figure_inputs),
    output:
        report(
            "results/{paper}/{figure}.png",
            caption="../report/paper_figure.rst",
            category="Figures",
            labels={"paper": "{paper}", "figure": "{figure}"},
        ),
    log:
        "logs/plot_figure/{paper}/{figure}.log",
    conda:
        "../envs/eval.yaml"
    params:
        sources=figure_args,
        note=data_note,
    message:
        JOB_MESSAGE
    shell:
        "python -m sedrepro.figures --paper {wildcards.paper} --figure {wildcards.figure} {params.sources}"
        " --data-note {params.note:q} --out {output:q} --log {log:q}"
