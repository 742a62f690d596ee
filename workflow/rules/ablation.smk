# Phase 5 (training part): the loss ablation, under results/ablation/. One IG-AE per {variant}: stage 2 retrained
# from the shared warm-up without one loss term (`no-<term>`), plus the reference `full`; each is evaluated like
# the IG-AE: reconstruction, and latent NeRFs on the first evaluation scenes (the table is in report.smk).
# Which variants run, and where each reads its IG-AE and metrics from, is PLAN.ablation.


wildcard_constraints:
    variant="|".join(ABLATION.variants) or "none",


use rule igae_train as igae_ablation with:
    output:
        directory("results/ablation/igae/{variant}"),
    params:
        stage="train",
        config=PLAN.ablation_payload(),
        work_dir="results/ablation/igae/{variant}_training",
        options=ablate_flag,
        launch=igae_launch,
    priority: PRIORITY["ablation"]
    log:
        "logs/ablation/igae/{variant}.log",
    benchmark:
        "benchmarks/ablation/igae/{variant}.tsv"


# Each variant's reconstruction quality, measured exactly as the standard AE's.
use rule evaluate_standard_autoencoder as evaluate_ablation_autoencoder with:
    input:
        model=lambda wildcards: ABLATION.igae[wildcards.variant],
        real_images="results/real_images",
        scene_index="results/renders/index.json",
    output:
        metrics="results/ablation/metrics/autoencoder/{variant}.json",
        per_image="results/ablation/metrics/autoencoder/{variant}.csv",
        figure="results/ablation/figures/autoencoder/{variant}_reconstructions.png",
    params:
        config=PLAN.payload("evaluate-autoencoder"),
        model=lambda wildcards, input: os.path.join(input.model, "autoencoder"),
        label="ablation-{variant}",
    log:
        "logs/ablation/evaluate_autoencoder/{variant}.log",
    benchmark:
        "benchmarks/ablation/evaluate_autoencoder/{variant}.tsv"


# Each variant's latent NeRFs, trained and evaluated exactly as the IG-AE's.
use rule nerf_latent as nerf_ablation with:
    input:
        scene="results/renders/{scene}",
        autoencoder=lambda wildcards: ABLATION.igae[wildcards.variant],
    output:
        metrics="results/ablation/metrics/ablation-{variant}/{method}/{scene}.json",
        figure="results/ablation/figures/nerf/{variant}/{method}/{scene}.png",
    params:
        autoencoder=lambda wildcards, input: os.path.join(input.autoencoder, "autoencoder"),
        run_dir="results/ablation/nerf/{variant}/{method}/{scene}",
        config=PLAN.payload("train-nerf"),
    log:
        "logs/ablation/nerf/{variant}/{method}/{scene}.log",
    benchmark:
        "benchmarks/ablation/nerf/{variant}/{method}/{scene}.tsv"


rule ablation_all:
    input:
        ABLATION.targets,
