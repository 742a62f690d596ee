# Phase 5: the paper's tables, from the metrics files of the earlier phases (no training here). File names come
# from igae.reporting.outputs (report_tables / report_figures in common.smk), which the report commands write.
# The IG-AE's reconstruction quality, measured exactly as the standard AE's.
use rule evaluate_standard_autoencoder as evaluate_igae_autoencoder with:
    input:
        model=IGAE_FINAL,
        real_images="results/real_images",
        scene_index="results/renders/index.json",
    output:
        metrics="results/metrics/autoencoder/igae.json",
        per_image="results/metrics/autoencoder/igae.csv",
        figure="results/figures/report/igae_reconstructions.png",
    params:
        config=PLAN.payload("evaluate-autoencoder"),
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
        report_tables(outputs.TABLES),
        f"results/tables/{outputs.TIDY_METRICS}.csv",
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
        warmup=IGAE_WARMUP,
        final=IGAE_FINAL,
    output:
        report(
            [f"{stem}.png" for stem in PLAN.qualitative_figures()],
            caption=f"../report/{outputs.QUALITATIVE}.rst",
            category="Figures",
        ),
        [f"{stem}.pdf" for stem in PLAN.qualitative_figures()],
        report_figures(outputs.FIGURES),
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
# the runs' checkpoints: the first evaluation scene, with TensoRF when it ran (PLAN.latent_figure_runs).
LATENT_FIGURE_RUNS = PLAN.latent_figure_runs


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


rule report_ablation:
    input:
        nerf=ABLATION.nerf_metrics,
        reference=ABLATION.reference_metrics,
        autoencoders=list(ABLATION.autoencoder_metrics.values()),
        standard=rules.evaluate_standard_autoencoder.output.metrics,
    output:
        report_tables([outputs.ABLATION_TABLE]),
    params:
        stem=outputs.ABLATION_TABLE,
        autoencoders=lambda wildcards, input: " ".join(
            [f"standard={input.standard}"]
            + [f"{variant}={path}" for variant, path in zip(ABLATION.variants, input.autoencoders)]
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
        " {params.autoencoders} --out results/tables/{params.stem} > {log} 2>&1"


rule report_all:
    input:
        rules.report_tables.output,
        rules.report_figures.output,
        rules.report_ablation.output if ABLATION.variants else [],
        rules.report_latents.output if LATENT_FIGURE_RUNS else [],
