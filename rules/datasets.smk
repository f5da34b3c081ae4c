# Datasets: embedded generation (default), checksummed download, safe extraction, layout check and index, statistics.
from sedrepro import download as sed_download

# A real download costs hours and disk and may need a licence, and a copy on disk may not be where the config says:
# say so once per dataset when the workflow is parsed (dry runs too), before anything is fetched; not again in the
# jobs a cluster executor starts (they parse it again).
if workflow.is_main_process:
    for _line in sed_download.notices(config, datasets_used(), DATA):
        print(f"Download needed: {_line}", file=sys.stderr)
    for _line in sed_download.missing_copies(config, datasets_used()):
        print(f"Local copy missing: {_line}", file=sys.stderr)


rule generate_embedded:
    output:
        manifest=glue.embedded_manifest(config, "{dataset}"),
    log:
        log_path("generate_embedded/{dataset}.log"),
    benchmark:
        results_path("benchmarks/generate_embedded/{dataset}.tsv")
    conda:
        "../envs/data.yaml"
    params:
        spec=embedded_json,
        out=output_folder("manifest"),
    message:
        JOB_MESSAGE
    shell:
        "python -m sedrepro.datasets.embedded --dataset {wildcards.dataset} --out {params.out:q}"
        " --params {params.spec:q} --log {log:q}"


rule download_archive:
    input:
        unpack(download_inputs),
    output:
        data_path("archives/{dataset}/{archive}"),
    log:
        log_path("download_archive/{dataset}/{archive}.log"),
    # fetch retries failed rounds over the mirrors itself, with backoff (config download); a Snakemake retry would
    # repeat every try at once and print each failure again
    retries: 0
    localrule: True
    conda:
        "../envs/data.yaml"
    params:
        source=source_args,
    # The stage writes only to its log (stderr redirected, no --log), which Snakemake prints once if the job fails
    # (show-failed-logs): each try and the final error appear once, not also live on the terminal.
    message:
        JOB_MESSAGE
    shell:
        "python -m sedrepro.download {params.source} --out {output:q} 2> {log:q}"


rule extract_dataset:
    input:
        lambda wc: expand(
            data_path("archives/{dataset}/{archive}"),
            dataset=wc.dataset,
            archive=archive_names(wc.dataset),
        ),
    output:
        directory(data_path("datasets/{dataset}/extracted")),
    log:
        log_path("extract_dataset/{dataset}.log"),
    conda:
        "../envs/data.yaml"
    params:
        files=extract_file_args,  # plain files among the inputs (AudioSet's CSVs): copied where the layout expects
    message:
        JOB_MESSAGE
    shell:
        "python -m sedrepro.datasets.archive --log {log:q} extract --out {output:q}{params.files} {input:q}"


rule index_dataset:
    input:
        unpack(dataset_root_inputs),
    output:
        **index_files(),
    log:
        log_path("index_dataset/{dataset}.log"),
    conda:
        "../envs/data.yaml"
    params:
        root=dataset_root,
        annotations_only=annotations_only_flag,
        subsets=subsets_flag,
        out=output_folder("files"),
    message:
        JOB_MESSAGE
    shell:
        "python -m sedrepro.datasets.index --dataset {wildcards.dataset} --root {params.root:q}"
        " {params.annotations_only} {params.subsets} --out {params.out:q} --log {log:q}"


rule describe_dataset:
    input:
        unpack(checked_index),
    output:
        md=results_path("datasets/{dataset}.md"),
        html=report(
            results_path("datasets/{dataset}.html"),
            caption="../report/dataset.rst",
            category="Datasets",
            labels={"dataset": "{dataset}"},
        ),
        csv=results_path("datasets/{dataset}.csv"),
        provenance=results_path("datasets/{dataset}.provenance.json"),
    log:
        log_path("describe_dataset/{dataset}.log"),
    wildcard_constraints:
        dataset=ANY_NAME,  # checked first, listing the datasets
    conda:
        "../envs/data.yaml"
    params:
        index=input_folder("files"),
        note=lambda wc: dataset_note(wc.dataset),
    message:
        JOB_MESSAGE
    shell:
        "python -m sedrepro.datasets.stats --dataset {wildcards.dataset} --index {params.index:q}"
        " --data-note {params.note:q} --md {output.md:q} --html {output.html:q} --csv {output.csv:q} --log {log:q}"
