# Rendering: tables (Markdown, tidy CSV, LaTeX) and figures from metrics files only; the paper audit.

PAPER_VALUES = "config/paper_values/{paper}.tsv"


rule render_table:
    input:
        metrics=table_metrics,
        train=table_train,
        index=table_index,
        paper_values=PAPER_VALUES,
    output:
        md=report(
            "results/{paper}/{table}.md",
            caption="../report/table.rst",
            category="Tables",
            labels={"paper": "{paper}", "table": "{table}"},
        ),
        csv="results/{paper}/{table}.csv",
        tex="results/{paper}/{table}.tex",
        png=report(
            "results/{paper}/{table}.png",
            caption="../report/figure.rst",
            category="Figures",
            labels={"paper": "{paper}", "figure": "{table}"},
        ),
    log:
        "logs/render_table/{paper}/{table}.log",
    conda:
        "../envs/eval.yaml"
    params:
        index=lambda wc, input: os.path.dirname(input.index[0]),
        note=data_note,
    message:
        JOB_MESSAGE
    shell:
        "python -m sedrepro.render --paper {wildcards.paper} --table {wildcards.table} --metrics {input.metrics:q}"
        " --train {input.train:q}"
        " --index {params.index:q} --paper-values {input.paper_values:q} --data-note {params.note:q}"
        " --out-md {output.md:q} --out-csv {output.csv:q} --out-tex {output.tex:q} --out-png {output.png:q}"
        " --log {log:q}"


rule audit_paper:
    input:
        unpack(audit_inputs),
    output:
        report(
            "results/{paper}/audit.md",
            caption="../report/audit.rst",
            category="Audit",
            labels={"paper": "{paper}"},
        ),
    log:
        "logs/audit_paper/{paper}.log",
    conda:
        "../envs/eval.yaml"
    params:
        checks=audit_args,
    message:
        JOB_MESSAGE
    shell:
        "python -m sedrepro.audit --paper {wildcards.paper} --paper-values {input.paper_values:q} {params.checks}"
        " --out {output:q} --log {log:q}"
