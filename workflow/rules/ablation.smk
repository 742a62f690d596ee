# Phase 5 (training part): the loss ablation. One IG-AE per {variant}: stage 2 retrained from the shared warm-up
# without one loss term (`no-<term>`), plus the reference `full`; each is then evaluated like the IG-AE
# (reconstruction here, latent NeRFs through nerf.smk, the table in report.smk).
from igae.config import deep_merge
from igae.training.ablation import FULL, variant_names, variant_term

ABLATION_CFG = CFG["ablation"]
ABLATION_VARIANTS = variant_names(ABLATION_CFG["terms"]) if ABLATION_CFG["terms"] else []
# With no schedule changes the reference is the IG-AE itself; otherwise it is retrained on the variants' schedule.
ABLATION_RETRAINS_FULL = bool(ABLATION_CFG["train"])
ABLATION_SETTINGS = json.dumps(deep_merge(IGAE_CFG, {"train": ABLATION_CFG["train"] or {}}))


def ablation_igae(variant):
    """The stage-2 output folder of an ablation variant."""
    if variant == FULL and not ABLATION_RETRAINS_FULL:
        return rules.igae_train.output[0]
    return f"results/igae/ablation/{variant}"


wildcard_constraints:
    variant="|".join(ABLATION_VARIANTS) or "none",


use rule igae_train as igae_ablation with:
    output:
        directory("results/igae/ablation/{variant}"),
    params:
        stage="train",
        settings=ABLATION_SETTINGS,
        flags=IGAE_FLAGS,
        work_dir="results/igae/ablation/{variant}_training",
        ablate=lambda wildcards: "" if variant_term(wildcards.variant) is None else f"--ablate {variant_term(wildcards.variant)}",
    log:
        "logs/igae/ablation/{variant}.log",
    benchmark:
        "benchmarks/igae/ablation/{variant}.tsv"


# Each variant's reconstruction quality, measured exactly as the standard AE's.
use rule evaluate_standard_autoencoder as evaluate_ablation_autoencoder with:
    input:
        model=lambda wildcards: ablation_igae(wildcards.variant),
        real_images="results/real_images",
        scene_index="results/renders/index.json",
    output:
        metrics="results/metrics/autoencoder/ablation-{variant}.json",
        per_image="results/metrics/autoencoder/ablation-{variant}.csv",
        figure="results/figures/autoencoder/ablation-{variant}_reconstructions.png",
    params:
        flags=rules.evaluate_standard_autoencoder.params.flags,
        runtime=AE_RUNTIME,
        model=lambda wildcards, input: os.path.join(input.model, "autoencoder"),
        label=lambda wildcards: f"ablation-{wildcards.variant}",
    log:
        "logs/autoencoder/evaluate_ablation-{variant}.log",
    benchmark:
        "benchmarks/autoencoder/evaluate_ablation-{variant}.tsv"
