# Phase 7: the scale study, under results/study/ (`snakemake study_all`; the `study` preset runs it on CPU). One
# IG-AE per point s<scenes>-e<epochs>, trained from scratch on the first <scenes> IG-AE scenes (one warm-up per
# scene count, shared), evaluated with latent NeRFs on the study's evaluation scenes and paired with the standard
# AE's runs on the same scenes. Which points, methods and scenes: PLAN.study.
from igae.plan import STUDY_FIGURE, STUDY_TABLE, study_igae_path, study_nerf_metrics_path, study_warmup_path

STUDY = PLAN.study
STUDY_BASE = PLAN.params.study.base


wildcard_constraints:
    point="|".join(point.name for point in STUDY.points) or "(?!)",
    study_scenes="|".join(str(count) for count in STUDY.warmup_scene_counts) or "(?!)",


use rule igae_warmup as study_warmup with:
    output:
        directory(study_warmup_path("{study_scenes}")),
    params:
        config=PLAN.payload("train-igae-stage"),
        work_dir=study_warmup_path("{study_scenes}") + "_training",
        options="--max-scenes {study_scenes}",
        launch=igae_launch,
    priority: PRIORITY["igae_warmup"]
    log:
        "logs/study/igae/warmup-s{study_scenes}.log",
    benchmark:
        "benchmarks/study/igae/warmup-s{study_scenes}.tsv"


use rule igae_train as study_train with:
    input:
        autoencoder=STANDARD_AUTOENCODER,
        warmup=lambda wildcards: study_warmup_path(STUDY.point(wildcards.point).scenes),
        real_images="results/real_images",
        scene_index="results/renders/index.json",
    output:
        directory(study_igae_path("{point}")),
    params:
        stage="train",
        config=lambda wildcards: PLAN.study_payload(STUDY.point(wildcards.point).train_epochs),
        work_dir=study_igae_path("{point}") + "_training",
        options=lambda wildcards: f"--max-scenes {STUDY.point(wildcards.point).scenes}",
        launch=igae_launch,
    priority: PRIORITY["igae_train"]
    log:
        "logs/study/igae/{point}.log",
    benchmark:
        "benchmarks/study/igae/{point}.tsv"


# Each point's latent NeRFs, trained and evaluated exactly as the IG-AE's.
use rule nerf_latent as nerf_study with:
    input:
        scene="results/renders/{scene}",
        autoencoder=study_igae_path("{point}"),
    output:
        metrics=study_nerf_metrics_path("{point}", "{method}", "{scene}"),
        figure="results/study/figures/nerf/{point}/{method}/{scene}.png",
    params:
        autoencoder=lambda wildcards, input: os.path.join(input.autoencoder, "autoencoder"),
        run_dir="results/study/nerf/{point}/{method}/{scene}",
        config=PLAN.payload("train-nerf"),
    log:
        "logs/study/nerf/{point}/{method}/{scene}.log",
    benchmark:
        "benchmarks/study/nerf/{point}/{method}/{scene}.tsv"


rule study_report:
    input:
        nerf=[*STUDY.nerf_metrics, *STUDY.reference_metrics],
        igae=[study_igae_path(point.name) for point in STUDY.points],
    output:
        STUDY.targets,
    params:
        points=" ".join(f"{point.name}={study_igae_path(point.name)}/metrics.json" for point in STUDY.points),
    log:
        "logs/study/study_report.log",
    benchmark:
        "benchmarks/study/study_report.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../envs/igae.yaml"
    shell:
        "igae report-study --nerf-metrics {input.nerf} --igae-metrics {params.points}"
        f" --base-scenes {STUDY_BASE.scenes} --base-epochs {STUDY_BASE.train_epochs} --table {STUDY_TABLE} --figure {STUDY_FIGURE} > {{log}} 2>&1"


rule study_all:
    input:
        STUDY.targets,
