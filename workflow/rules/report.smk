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
    output:
        report("results/tables/nerf_quality.csv", caption="../report/nerf_quality.rst", category="Tables"),
        "results/tables/nerf_quality.md",
        "results/tables/nerf_quality.tex",
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
    conda:
        "../envs/igae.yaml"
    shell:
        "igae report-tables --nerf-metrics {input.nerf} --autoencoder-metrics standard={input.standard}"
        " igae={input.igae} --out results/tables --summary {output.summary} > {log} 2>&1"


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
    conda:
        "../envs/igae.yaml"
    shell:
        "igae report-figures --nerf-metrics {input.nerf} --nerf-strips {input.strips} --igae-logs {params.logs}"
        " --out results/figures/report > {log} 2>&1"


rule report_all:
    input:
        rules.report_tables.output,
        rules.report_figures.output,
