# Benchmarks: where the time goes (training step, recurrent layer, features, data loading, evaluation), as ratios
# measured in one run on this machine. Not part of `all`: `snakemake --cores all benchmarks` (see benchmarks/README.md).


rule run_benchmarks:
    input:
        script="benchmarks/run.py",
    output:
        csv=results_path("benchmarks/summary.csv"),
        md=results_path("benchmarks/summary.md"),
        provenance=results_path("benchmarks/summary.provenance.json"),
    log:
        log_path("run_benchmarks/run.log"),
    conda:
        "../envs/bench.yaml"
    threads: available_cores()
    params:
        out=output_folder("csv"),
    message:
        JOB_MESSAGE
    shell:
        "python {input.script:q} --out {params.out:q} --threads {threads} > {log:q} 2>&1"


rule benchmarks:
    input:
        rules.run_benchmarks.output,
    localrule: True
    conda:
        "../envs/bench.yaml"
    message:
        JOB_MESSAGE
