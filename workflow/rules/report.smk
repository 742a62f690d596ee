# Phase 5: the paper's tables, from the metrics files of the earlier phases (no training here).


# The IG-AE's reconstruction quality, measured exactly as the standard AE's.
use rule evaluate_standard_autoencoder as evaluate_igae_autoencoder with:
    input:
        model="results/igae/final",
        real_images="results/real_images",
        scene_index="results/renders/index.json",
    output:
        metrics="results/metrics/autoencoder/igae.json",
        per_image="results/metrics/autoencoder/igae.csv",
        figure="results/figures/report/igae_reconstructions.png",
    params:
        flags=rules.evaluate_standard_autoencoder.params.flags,
        runtime=AE_RUNTIME,
        model=lambda wildcards, input: os.path.join(input.model, "autoencoder"),
        label="igae",
    log:
        "logs/report/evaluate_igae_autoencoder.log",
    benchmark:
        "benchmarks/report/evaluate_igae_autoencoder.tsv"


rule report_tables:
    input:
        nerf=rules.nerf_all.input,
        standard=rules.evaluate_standard_autoencoder.output.metrics,
        igae=rules.evaluate_igae_autoencoder.output.metrics,
        scene_index="results/renders/index.json",
    output:
        report("results/tables/nerf_quality.csv", caption="../report/nerf_quality.rst", category="Tables"),
        "results/tables/nerf_quality.md",
        "results/tables/nerf_quality.tex",
        report(
            "results/tables/nerf_quality_by_dataset.csv",
            caption="../report/nerf_quality_by_dataset.rst",
            category="Tables",
        ),
        "results/tables/nerf_quality_by_dataset.md",
        "results/tables/nerf_quality_by_dataset.tex",
        report("results/tables/nerf_speed.csv", caption="../report/nerf_speed.rst", category="Tables"),
        "results/tables/nerf_speed.md",
        "results/tables/nerf_speed.tex",
        report("results/tables/autoencoder_quality.csv", caption="../report/autoencoder_quality.rst", category="Tables"),
        "results/tables/autoencoder_quality.md",
        "results/tables/autoencoder_quality.tex",
        "results/tables/nerf_metrics_tidy.csv",
        summary="results/metrics/nerf_summary.json",
    log:
        "logs/report/report_tables.log",
    benchmark:
        "benchmarks/report/report_tables.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../envs/igae.yaml"
    shell:
        "igae report-tables --nerf-metrics {input.nerf} --autoencoder-metrics standard={input.standard}"
        " igae={input.igae} --scene-index {input.scene_index} --out results/tables --summary {output.summary}"
        " > {log} 2>&1"


rule report_figures:
    input:
        nerf=rules.nerf_all.input,
        strips=[
            path.replace("results/metrics/", "results/figures/").replace(".json", ".png")
            for path in rules.nerf_all.input
        ],
        warmup="results/igae/warmup",
        final="results/igae/final",
    output:
        report(
            expand("results/figures/report/qualitative_{scene}.png", scene=EVAL_SCENES),
            caption="../report/qualitative.rst",
            category="Figures",
        ),
        expand("results/figures/report/qualitative_{scene}.pdf", scene=EVAL_SCENES),
        report("results/figures/report/nerf_psnr.png", caption="../report/nerf_psnr.rst", category="Figures"),
        report(
            "results/figures/report/nerf_speed_quality.png",
            caption="../report/nerf_speed_quality.rst",
            category="Figures",
        ),
        report(
            "results/figures/report/igae_training_curves.png",
            caption="../report/igae_training_curves.rst",
            category="Figures",
        ),
        expand(
            "results/figures/report/{name}.pdf", name=("nerf_psnr", "nerf_speed_quality", "igae_training_curves")
        ),
    params:
        # Each IG-AE stage logs its curves beside its output folder (<stage>_training/metrics.csv).
        logs=lambda wildcards, input: (
            f"warm-up={input.warmup}_training/metrics.csv joint={input.final}_training/metrics.csv"
        ),
    log:
        "logs/report/report_figures.log",
    benchmark:
        "benchmarks/report/report_figures.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../envs/igae.yaml"
    shell:
        "igae report-figures --nerf-metrics {input.nerf} --nerf-strips {input.strips} --igae-logs {params.logs}"
        " --out results/figures/report > {log} 2>&1"


# Latent channels of one held-out view (E(x) and the latent NeRF's render) for each autoencoder, re-rendered from
# the runs' checkpoints: the first evaluation scene, with TensoRF when it ran.
LATENT_FIGURE_METHOD = "tensorf" if "tensorf" in NERF_METHODS else (NERF_METHODS or [None])[0]
LATENT_FIGURE_RUNS = {
    autoencoder: f"results/metrics/nerf/{autoencoder}/{LATENT_FIGURE_METHOD}/{EVAL_SCENES[0]}.json"
    for autoencoder in (NERF_CFG["autoencoders"] if LATENT_FIGURE_METHOD else [])
}


rule report_latents:
    input:
        list(LATENT_FIGURE_RUNS.values()),
    output:
        report(
            "results/figures/report/latent_channels.png",
            caption="../report/latent_channels.rst",
            category="Figures",
        ),
        "results/figures/report/latent_channels.pdf",
    params:
        runs=" ".join(f"{autoencoder}={path}" for autoencoder, path in LATENT_FIGURE_RUNS.items()),
    log:
        "logs/report/report_latents.log",
    benchmark:
        "benchmarks/report/report_latents.tsv"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=20,
    conda:
        "../envs/igae.yaml"
    shell:
        "igae report-latents --nerf-metrics {params.runs} --out results/figures/report/latent_channels"
        " --threads {threads} > {log} 2>&1"


# The loss-ablation table: every variant's latent NeRFs and reconstruction, the standard AE's as the reference row.
ABLATION_REFERENCE_METRICS = [
    f"results/metrics/nerf/standard/{method}/{scene}.json"
    for method in ABLATION_METHODS
    for scene in ABLATION_SCENES
    if "standard" in NERF_CFG["autoencoders"]
]


rule report_ablation:
    input:
        nerf=ABLATION_NERF_METRICS,
        reference=ABLATION_REFERENCE_METRICS,
        autoencoders=list(ABLATION_AUTOENCODER_METRICS.values()),
        standard=rules.evaluate_standard_autoencoder.output.metrics,
    output:
        report("results/tables/loss_ablation.csv", caption="../report/loss_ablation.rst", category="Tables"),
        "results/tables/loss_ablation.md",
        "results/tables/loss_ablation.tex",
    params:
        autoencoders=lambda wildcards, input: " ".join(
            [f"standard={input.standard}"]
            + [f"{variant}={path}" for variant, path in zip(ABLATION_VARIANTS, input.autoencoders)]
        ),
    log:
        "logs/report/report_ablation.log",
    benchmark:
        "benchmarks/report/report_ablation.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../envs/igae.yaml"
    shell:
        "igae report-ablation --nerf-metrics {input.nerf} {input.reference} --autoencoder-metrics"
        " {params.autoencoders} --out results/tables/loss_ablation > {log} 2>&1"


rule report_all:
    input:
        rules.report_tables.output,
        rules.report_figures.output,
        rules.report_ablation.output if ABLATION_VARIANTS else [],
        rules.report_latents.output if LATENT_FIGURE_RUNS else [],
