# Phase 3: IG-AE training, stage 1 (warm-up: latent scenes on the frozen standard AE) then stage 2 (joint).
from igae.plan import IGAE_FINAL, IGAE_WARMUP

IGAE_JOB = PLAN.resources("igae")


rule igae_warmup:
    input:
        autoencoder=STANDARD_AUTOENCODER,
        real_images="results/real_images",
        scene_index="results/renders/index.json",
    output:
        directory(IGAE_WARMUP),
    params:
        config=PLAN.payload("train-igae-stage"),
        work_dir=f"{IGAE_WARMUP}_training",
        options="",
        launch=igae_launch,
    log:
        "logs/igae/igae_warmup.log",
    benchmark:
        "benchmarks/igae/igae_warmup.tsv"
    priority: PRIORITY["igae_warmup"]
    threads: IGAE_JOB.total_threads
    resources:
        mem_mb=16000,
        runtime=600,
        gpu=IGAE_JOB.total_gpus,
        cpus_per_task=IGAE_JOB.threads,
        launcher="torchrun",  # the SLURM profile: srun
        **IGAE_JOB.distributed_resources(),
    conda:
        "../envs/igae.yaml"
    shell:
        "{params.launch} igae train-igae-stage --stage warmup --autoencoder {input.autoencoder}"
        " --real-images {input.real_images} --scene-index {input.scene_index} --out {output}"
        " --work-dir {params.work_dir} --threads {resources.cpus_per_task}"
        " --params {params.config:q} {params.options} > {log} 2>&1"


rule igae_train:
    input:
        autoencoder=STANDARD_AUTOENCODER,
        warmup=IGAE_WARMUP,
        real_images="results/real_images",
        scene_index="results/renders/index.json",
    output:
        directory(IGAE_FINAL),
    params:
        stage="train",
        config=PLAN.payload("train-igae-stage"),
        work_dir=f"{IGAE_FINAL}_training",
        options="",  # more train-igae-stage options (the ablation's --ablate, the study's --max-scenes)
        launch=igae_launch,
    log:
        "logs/igae/igae_train.log",
    benchmark:
        "benchmarks/igae/igae_train.tsv"
    priority: PRIORITY["igae_train"]
    threads: IGAE_JOB.total_threads
    resources:
        mem_mb=16000,
        runtime=1440,
        gpu=IGAE_JOB.total_gpus,
        cpus_per_task=IGAE_JOB.threads,
        launcher="torchrun",  # the SLURM profile: srun
        **IGAE_JOB.distributed_resources(),
    conda:
        "../envs/igae.yaml"
    shell:
        "{params.launch} igae train-igae-stage --stage {params.stage} --autoencoder {input.autoencoder}"
        " --init {input.warmup} --real-images {input.real_images} --scene-index {input.scene_index} --out {output}"
        " --work-dir {params.work_dir} --threads {resources.cpus_per_task} --params {params.config:q} {params.options} > {log} 2>&1"


# The baseline of the paper's claim: the latent scenes trained as long again, on the frozen standard AE.
use rule igae_train as igae_control with:
    output:
        directory("results/igae/control"),
    params:
        stage="control",
        config=PLAN.payload("train-igae-stage"),
        work_dir="results/igae/control_training",
        options="",
        launch=igae_launch,
    priority: 0
    log:
        "logs/igae/igae_control.log",
    benchmark:
        "benchmarks/igae/igae_control.tsv"


rule igae_all:
    input:
        rules.igae_train.output,
        rules.igae_control.output,
