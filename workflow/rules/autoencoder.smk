# Phase 2: the standard autoencoder (trained here, or a pretrained one copied in) and its evaluation.
AE_CFG = CFG["autoencoder"]
STANDARD_AE = "results/autoencoders/standard"
AE_RUNTIME = format_flags({"device": AE_CFG["device"]})


if AE_CFG["source"] == "embedded":

    rule train_standard_autoencoder:
        input:
            real_images="results/real_images",
            scene_index="results/renders/index.json",
        output:
            directory(STANDARD_AE),
        params:
            work_dir="results/autoencoders/standard_training",
            flags=format_flags(
                {
                    "latent_channels": AE_CFG["latent_channels"],
                    "image_size": CFG["render"]["image_size"],
                    "rendered_views": AE_CFG["embedded"]["rendered_views"],
                    **AE_CFG["embedded"]["architecture"],
                    **AE_CFG["embedded"]["training"],
                }
            ),
            runtime=AE_RUNTIME,
        log:
            "logs/autoencoder/train_standard_autoencoder.log",
        benchmark:
            "benchmarks/autoencoder/train_standard_autoencoder.tsv"
        priority: PRIORITY["standard_autoencoder"]
        threads: AE_CFG["threads"]
        resources:
            mem_mb=8000,
            runtime=60,
        conda:
            "../envs/igae.yaml"
        shell:
            "igae train-autoencoder --real-images {input.real_images} --scene-index {input.scene_index}"
            " --out {output} --work-dir {params.work_dir} --threads {threads} {params.flags} {params.runtime}"
            " > {log} 2>&1"

else:

    rule fetch_standard_autoencoder:
        output:
            directory(STANDARD_AE),
        params:
            source=AE_CFG["pretrained"],
            flags=format_flags(
                {"latent_channels": AE_CFG["latent_channels"], "allow_download": AE_CFG["allow_download"]}
            ),
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
            "igae fetch-autoencoder --source {params.source:q} --out {output} {params.flags} > {log} 2>&1"


rule evaluate_standard_autoencoder:
    input:
        model=STANDARD_AE,
        real_images="results/real_images",
        scene_index="results/renders/index.json",
    output:
        metrics="results/metrics/autoencoder/standard.json",
        per_image="results/metrics/autoencoder/standard.csv",
        figure="results/figures/autoencoder/standard_reconstructions.png",
    params:
        flags=format_flags(
            {
                "latent_channels": AE_CFG["latent_channels"],
                "normalizer_scale": AE_CFG["normalizer"]["scale"],
                "normalizer_eps": AE_CFG["normalizer"]["eps"],
                **AE_CFG["evaluation"],
            }
        ),
        runtime=AE_RUNTIME,
        model=lambda wildcards, input: input.model,
        label="standard",
    log:
        "logs/autoencoder/evaluate_standard_autoencoder.log",
    benchmark:
        "benchmarks/autoencoder/evaluate_standard_autoencoder.tsv"
    threads: AE_CFG["threads"]
    resources:
        mem_mb=8000,
        runtime=30,
    conda:
        "../envs/igae.yaml"
    shell:
        "igae evaluate-autoencoder --model {params.model} --real-images {input.real_images}"
        " --scene-index {input.scene_index} --out {output.metrics} --figure {output.figure} --label {params.label}"
        " --threads {threads} {params.flags} {params.runtime} > {log} 2>&1"


rule autoencoder_all:
    input:
        rules.evaluate_standard_autoencoder.output,
