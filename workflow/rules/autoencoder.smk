# Phase 2: the standard autoencoder (trained here, or a pretrained one copied in) and its evaluation.
AUTOENCODER_JOB = PLAN.resources("autoencoder")


if PLAN.params.autoencoder.source == "embedded":

    rule train_standard_autoencoder:
        input:
            real_images="results/real_images",
            scene_index="results/renders/index.json",
        output:
            directory(STANDARD_AUTOENCODER),
        params:
            work_dir="results/autoencoders/standard_training",
            config=PLAN.payload("train-autoencoder"),
        log:
            "logs/autoencoder/train_standard_autoencoder.log",
        benchmark:
            "benchmarks/autoencoder/train_standard_autoencoder.tsv"
        priority: PRIORITY["standard_autoencoder"]
        threads: AUTOENCODER_JOB.threads
        resources:
            mem_mb=8000,
            runtime=60,
            gpu=AUTOENCODER_JOB.gpus,
        conda:
            "../envs/igae.yaml"
        shell:
            "igae train-autoencoder --real-images {input.real_images} --scene-index {input.scene_index}"
            " --out {output} --work-dir {params.work_dir} --threads {threads} --params {params.config:q}"
            " > {log} 2>&1"

else:

    rule fetch_standard_autoencoder:
        input:
            [PLAN.pretrained_folder] if PLAN.pretrained_folder else [],
        output:
            directory(STANDARD_AUTOENCODER),
        params:
            config=PLAN.payload("fetch-autoencoder"),
        log:
            "logs/autoencoder/fetch_standard_autoencoder.log",
        benchmark:
            "benchmarks/autoencoder/fetch_standard_autoencoder.tsv"
        priority: PRIORITY["standard_autoencoder"]
        threads: 1
        resources:
            mem_mb=4000,
            runtime=30,
        conda:
            "../envs/igae.yaml"
        shell:
            "igae fetch-autoencoder --out {output} --params {params.config:q} > {log} 2>&1"


rule evaluate_standard_autoencoder:
    input:
        model=STANDARD_AUTOENCODER,
        real_images="results/real_images",
        scene_index="results/renders/index.json",
    output:
        metrics="results/metrics/autoencoder/standard.json",
        per_image="results/metrics/autoencoder/standard.csv",
        figure="results/figures/autoencoder/standard_reconstructions.png",
    params:
        config=PLAN.payload("evaluate-autoencoder"),
        model=lambda wildcards, input: input.model,
        label="standard",
    log:
        "logs/autoencoder/evaluate_standard_autoencoder.log",
    benchmark:
        "benchmarks/autoencoder/evaluate_standard_autoencoder.tsv"
    threads: AUTOENCODER_JOB.threads
    resources:
        mem_mb=8000,
        runtime=30,
        gpu=AUTOENCODER_JOB.gpus,
    conda:
        "../envs/igae.yaml"
    shell:
        "igae evaluate-autoencoder --model {params.model} --real-images {input.real_images}"
        " --scene-index {input.scene_index} --out {output.metrics} --figure {output.figure} --label {params.label}"
        " --reference-codec --threads {threads} --params {params.config:q} > {log} 2>&1"


rule autoencoder_all:
    input:
        rules.evaluate_standard_autoencoder.output,
