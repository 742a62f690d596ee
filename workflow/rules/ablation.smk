# Phase 5 (training part): the loss ablation, under results/ablation/. One IG-AE per {variant}: stage 2 retrained
# from the shared warm-up without one loss term (`no-<term>`), plus the reference `full`; each is evaluated like
# the IG-AE: reconstruction, and latent NeRFs on the first evaluation scenes (the table is in report.smk).
from igae.config import deep_merge
from igae.training.ablation import FULL, variant_names, variant_term

ABLATION_CFG = CFG["ablation"]
ABLATION_VARIANTS = variant_names(ABLATION_CFG["terms"]) if ABLATION_CFG["terms"] else []
# With no schedule changes the reference is the IG-AE itself; otherwise it is retrained on the variants' schedule.
ABLATION_RETRAINS_FULL = bool(ABLATION_CFG["train"])
ABLATION_SETTINGS = json.dumps(deep_merge(IGAE_CFG, {"train": ABLATION_CFG["train"] or {}}))
ABLATION_METHODS = runnable_methods(ABLATION_CFG["methods"] or NERF_CFG["methods"], device_has_cuda(NERF_CFG["device"]))[0]
ABLATION_SCENES = EVAL_SCENES[: ABLATION_CFG["eval_scenes"]]


# The stage-2 output folder of each variant.
ABLATION_IGAE = {
    variant: (
        rules.igae_train.output[0]
        if variant == FULL and not ABLATION_RETRAINS_FULL
        else f"results/ablation/igae/{variant}"
    )
    for variant in ABLATION_VARIANTS
}
# Each variant's reconstruction metrics; the IG-AE's own evaluation (report.smk) when the reference is the IG-AE.
ABLATION_AUTOENCODER_METRICS = {
    variant: (
        "results/metrics/autoencoder/igae.json"
        if variant == FULL and not ABLATION_RETRAINS_FULL
        else f"results/ablation/metrics/autoencoder/{variant}.json"
    )
    for variant in ABLATION_VARIANTS
}
# Each variant's latent NeRF metrics; the IG-AE's own runs when the reference is the IG-AE and they ran.
ABLATION_REUSES_IGAE_RUNS = not ABLATION_RETRAINS_FULL and "igae" in NERF_CFG["autoencoders"]
ABLATION_NERF_METRICS = [
    (
        f"results/metrics/nerf/igae/{method}/{scene}.json"
        if variant == FULL and ABLATION_REUSES_IGAE_RUNS
        else f"results/ablation/metrics/ablation-{variant}/{method}/{scene}.json"
    )
    for variant in ABLATION_VARIANTS
    for method in ABLATION_METHODS
    for scene in ABLATION_SCENES
]


wildcard_constraints:
    variant="|".join(ABLATION_VARIANTS) or "none",


use rule igae_train as igae_ablation with:
    output:
        directory("results/ablation/igae/{variant}"),
    params:
        stage="train",
        settings=ABLATION_SETTINGS,
        flags=IGAE_FLAGS,
        work_dir="results/ablation/igae/{variant}_training",
        ablate=lambda wildcards: f"--ablate {variant_term(wildcards.variant)}" if variant_term(wildcards.variant) else "",
    priority: PRIORITY["ablation"]
    log:
        "logs/ablation/igae/{variant}.log",
    benchmark:
        "benchmarks/ablation/igae/{variant}.tsv"


# Each variant's reconstruction quality, measured exactly as the standard AE's.
use rule evaluate_standard_autoencoder as evaluate_ablation_autoencoder with:
    input:
        model=lambda wildcards: ABLATION_IGAE[wildcards.variant],
        real_images="results/real_images",
        scene_index="results/renders/index.json",
    output:
        metrics="results/ablation/metrics/autoencoder/{variant}.json",
        per_image="results/ablation/metrics/autoencoder/{variant}.csv",
        figure="results/ablation/figures/autoencoder/{variant}_reconstructions.png",
    params:
        flags=rules.evaluate_standard_autoencoder.params.flags,
        runtime=AE_RUNTIME,
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
        autoencoder=lambda wildcards: ABLATION_IGAE[wildcards.variant],
    output:
        metrics="results/ablation/metrics/ablation-{variant}/{method}/{scene}.json",
        figure="results/ablation/figures/nerf/{variant}/{method}/{scene}.png",
    params:
        autoencoder=lambda wildcards, input: os.path.join(input.autoencoder, "autoencoder"),
        run_dir="results/ablation/nerf/{variant}/{method}/{scene}",
        settings=json.dumps(NERF_CFG),
        flags=NERF_FLAGS,
    log:
        "logs/ablation/nerf/{variant}/{method}/{scene}.log",
    benchmark:
        "benchmarks/ablation/nerf/{variant}/{method}/{scene}.tsv"


rule ablation_all:
    input:
        ABLATION_NERF_METRICS,
        [path for path in ABLATION_AUTOENCODER_METRICS.values() if path.startswith("results/ablation/")],
