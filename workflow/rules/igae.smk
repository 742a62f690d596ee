# Phase 3: IG-AE training, stage 1 (warm-up: latent scenes on the frozen standard AE) then stage 2 (joint).
import json

IGAE_CFG = CFG["igae"]
IGAE_FLAGS = format_flags(
    {
        "latent_channels": AE_CFG["latent_channels"],
        "normalizer_scale": AE_CFG["normalizer"]["scale"],
        "normalizer_eps": AE_CFG["normalizer"]["eps"],
        "device": AE_CFG["device"],
    }
)
# The paper preset runs on a GPU: declare it so cluster profiles schedule the jobs on GPU nodes.
IGAE_GPUS = 1 if CFG["preset"] == "paper" else 0


rule igae_warmup:
    input:
        autoencoder=STANDARD_AE,
        real_images="results/real_images",
        scene_index="results/renders/index.json",
    output:
        directory("results/igae/warmup"),
    params:
        settings=json.dumps(IGAE_CFG),
        flags=IGAE_FLAGS,
        work_dir="results/igae/warmup_training",
    log:
        "logs/igae/igae_warmup.log",
    benchmark:
        "benchmarks/igae/igae_warmup.tsv"
    priority: PRIORITY["igae_warmup"]
    threads: IGAE_CFG["threads"]
    resources:
        mem_mb=16000,
        runtime=600,
        gpu=IGAE_GPUS,
    conda:
        "../envs/igae.yaml"
    shell:
        "igae train-igae-stage --stage warmup --autoencoder {input.autoencoder} --real-images {input.real_images}"
        " --scene-index {input.scene_index} --out {output} --work-dir {params.work_dir} --threads {threads}"
        " --settings {params.settings:q} {params.flags} > {log} 2>&1"


rule igae_train:
    input:
        autoencoder=STANDARD_AE,
        warmup="results/igae/warmup",
        real_images="results/real_images",
        scene_index="results/renders/index.json",
    output:
        directory("results/igae/final"),
    params:
        stage="train",
        settings=json.dumps(IGAE_CFG),
        flags=IGAE_FLAGS,
        work_dir="results/igae/final_training",
        ablate="",
    log:
        "logs/igae/igae_train.log",
    benchmark:
        "benchmarks/igae/igae_train.tsv"
    priority: PRIORITY["igae_train"]
    threads: IGAE_CFG["threads"]
    resources:
        mem_mb=16000,
        runtime=1440,
        gpu=IGAE_GPUS,
    conda:
        "../envs/igae.yaml"
    shell:
        "igae train-igae-stage --stage {params.stage} --autoencoder {input.autoencoder} --init {input.warmup}"
        " --real-images {input.real_images} --scene-index {input.scene_index} --out {output}"
        " --work-dir {params.work_dir} --threads {threads} --settings {params.settings:q} {params.flags}"
        " {params.ablate} > {log} 2>&1"


# The baseline of the paper's claim: the latent scenes trained as long again, on the frozen standard AE.
use rule igae_train as igae_control with:
    output:
        directory("results/igae/control"),
    params:
        stage="control",
        settings=json.dumps(IGAE_CFG),
        flags=IGAE_FLAGS,
        work_dir="results/igae/control_training",
        ablate="",
    priority: 0
    log:
        "logs/igae/igae_control.log",
    benchmark:
        "benchmarks/igae/igae_control.tsv"


rule igae_all:
    input:
        rules.igae_train.output,
        rules.igae_control.output,
