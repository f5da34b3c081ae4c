# Datasets: embedded generation (default), checksummed download, safe extraction, layout check and index, statistics.


rule generate_embedded:
    output:
        manifest=data_path("embedded/{dataset}/manifest.json"),
    log:
        "logs/generate_embedded/{dataset}.log",
    benchmark:
        "results/benchmarks/generate_embedded/{dataset}.tsv"
    conda:
        "../envs/data.yaml"
    params:
        spec=lambda wc: json.dumps(
            config["datasets"][wc.dataset]["embedded"], sort_keys=True
        ),
        out=lambda wc, output: os.path.dirname(output.manifest),
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
        "logs/download_archive/{dataset}/{archive}.log",
    retries: 3
    localrule: True
    conda:
        "../envs/data.yaml"
    params:
        source=source_args,
    message:
        JOB_MESSAGE
    shell:
        "python -m sedrepro.download {params.source} --out {output:q} --log {log:q}"


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
        "logs/extract_dataset/{dataset}.log",
    conda:
        "../envs/data.yaml"
    message:
        JOB_MESSAGE
    shell:
        "python -m sedrepro.datasets.archive --log {log:q} extract --out {output:q} {input:q}"


rule index_dataset:
    input:
        unpack(dataset_root_inputs),
    output:
        files=data_path("index/{dataset}/files.tsv"),
        events=data_path("index/{dataset}/events.tsv"),
    log:
        "logs/index_dataset/{dataset}.log",
    conda:
        "../envs/data.yaml"
    params:
        root=dataset_root,
        annotations_only=annotations_only_flag,
        out=lambda wc, output: os.path.dirname(output.files),
    message:
        JOB_MESSAGE
    shell:
        "python -m sedrepro.datasets.index --dataset {wildcards.dataset} --root {params.root:q}"
        " {params.annotations_only} --out {params.out:q} --log {log:q}"


rule describe_dataset:
    input:
        files=data_path("index/{dataset}/files.tsv"),
        events=data_path("index/{dataset}/events.tsv"),
    output:
        md=report(
            "results/datasets/{dataset}.md",
            caption="../report/dataset.rst",
            category="Datasets",
            labels={"dataset": "{dataset}"},
        ),
        csv="results/datasets/{dataset}.csv",
    log:
        "logs/describe_dataset/{dataset}.log",
    conda:
        "../envs/data.yaml"
    params:
        index=lambda wc, input: os.path.dirname(input.files),
        note=lambda wc: dataset_note(wc.dataset),
    message:
        JOB_MESSAGE
    shell:
        "python -m sedrepro.datasets.stats --dataset {wildcards.dataset} --index {params.index:q}"
        " --data-note {params.note:q} --md {output.md:q} --csv {output.csv:q} --log {log:q}"
