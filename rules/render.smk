# Rendering: tables (Markdown, tidy CSV, LaTeX) and figures from metrics files only; the paper audit.


rule render_table:
    input:
        metrics=table_metrics,
        train=table_train,
        index=table_index,
        assignments=lambda wc: [a.split("=", 1)[1] for a in table_assignments(wc)],
        paper_values=paper_values,  # the paper's values_path
    output:
        md=results_path("{paper}/{table}.md"),
        html=report(
            results_path("{paper}/{table}.html"),
            caption="../report/table.rst",
            category="Tables",
            labels=report_labels("table", "table"),
        ),
        csv=results_path("{paper}/{table}.csv"),
        tex=results_path("{paper}/{table}.tex"),
        provenance=results_path("{paper}/{table}.provenance.json"),
        png=report(
            results_path("{paper}/{table}.png"),
            caption="../report/figure.rst",
            category="Figures",
            labels=report_labels("figure", "table"),
        ),
    log:
        log_path("render_table/{paper}/{table}.log"),
    wildcard_constraints:
        paper=ANY_NAME,  # checked by the input functions, listing the papers
    conda:
        "../envs/eval.yaml"
    params:
        index=input_folder("index"),
        assignments=table_assignments,  # <pipeline>=<assignment.tsv>: the clips of the evaluation set, per pipeline
        note=data_note,
    message:
        JOB_MESSAGE
    shell:
        "python -m sedrepro.render --paper {wildcards.paper} --table {wildcards.table} --metrics {input.metrics:q}"
        " --train {input.train:q} --assignment {params.assignments:q}"
        " --index {params.index:q} --paper-values {input.paper_values:q} --data-note {params.note:q}"
        " --out-md {output.md:q} --out-html {output.html:q} --out-csv {output.csv:q} --out-tex {output.tex:q}"
        " --out-png {output.png:q}"
        " --log {log:q}"


rule audit_paper:
    input:
        unpack(audit_inputs),
    output:
        md=results_path("{paper}/audit.md"),
        html=report(
            results_path("{paper}/audit.html"),
            caption="../report/audit.rst",
            category="Audit",
            labels={"paper": "{paper}"},
        ),
        provenance=results_path("{paper}/audit.provenance.json"),
    log:
        log_path("audit_paper/{paper}.log"),
    wildcard_constraints:
        paper=ANY_NAME,  # checked by the input functions, listing the papers
    conda:
        "../envs/eval.yaml"
    params:
        claims=lambda wc, input: audit_params(wc, input)["claims"],
        cross=lambda wc, input: audit_params(wc, input)["cross"],
        index=lambda wc, input: audit_params(wc, input)["index"],
        note=lambda wc, input: audit_params(wc, input)["note"],
        dataset_index=lambda wc, input: audit_params(wc, input)["dataset_index"],
        dataset_note=lambda wc, input: audit_params(wc, input)["dataset_note"],
    message:
        JOB_MESSAGE
    shell:
        "python -m sedrepro.audit --paper {wildcards.paper} --paper-values {input.paper_values:q}"
        " --claims={params.claims:q} --cross-paper-values={params.cross:q} --index={params.index:q}"
        " --data-note={params.note:q} --dataset-index {params.dataset_index:q}"
        " --dataset-note {params.dataset_note:q} --out {output.md:q} --out-html {output.html:q} --log {log:q}"
