# Phase 4: NeRFs on the held-out evaluation scenes, in the latent space of the standard AE and of the IG-AE
# (nerfstudio plugin methods latent-*), and in RGB as the baselines. One run = {space} x {method} x {scene}.
from igae.nerf.catalog import METHOD_NAMES

NERF_JOB = PLAN.resources("nerf")
for method, reason in PLAN.skipped_methods.items():
    print(f"skipping NeRF method {method} (no CUDA device): {reason}", file=sys.stderr)


wildcard_constraints:
    space="|".join(LATENT_SPACES),
    method="|".join(METHOD_NAMES),


rule nerf_latent:
    input:
        scene="results/renders/{scene}",
        autoencoder=lambda wildcards: LATENT_SPACES[wildcards.space][0],
    output:
        metrics="results/metrics/nerf/{space}/{method}/{scene}.json",
        figure="results/figures/nerf/{space}/{method}/{scene}.png",
    params:
        autoencoder=latent_space_autoencoder,
        run_dir="results/nerf/{space}/{method}/{scene}",
        config=PLAN.payload("train-nerf"),
    log:
        "logs/nerf/{space}/{method}/{scene}.log",
    benchmark:
        "benchmarks/nerf/{space}/{method}/{scene}.tsv"
    threads: NERF_JOB.threads
    resources:
        mem_mb=8000,
        runtime=240,
        gpu=NERF_JOB.gpus,
    conda:
        "../envs/igae.yaml"
    shell:
        "igae train-nerf --target latent --method {wildcards.method} --scene {input.scene}"
        " --autoencoder {params.autoencoder} --run-dir {params.run_dir} --metrics {output.metrics}"
        " --figure {output.figure} --threads {threads} --params {params.config:q} > {log} 2>&1"


rule nerf_rgb:
    input:
        scene="results/renders/{scene}",
    output:
        metrics="results/metrics/nerf/rgb/{method}/{scene}.json",
        figure="results/figures/nerf/rgb/{method}/{scene}.png",
    params:
        run_dir="results/nerf/rgb/{method}/{scene}",
        config=PLAN.payload("train-nerf"),
    log:
        "logs/nerf/rgb/{method}/{scene}.log",
    benchmark:
        "benchmarks/nerf/rgb/{method}/{scene}.tsv"
    threads: NERF_JOB.threads
    resources:
        mem_mb=8000,
        runtime=240,
        gpu=NERF_JOB.gpus,
    conda:
        "../envs/igae.yaml"
    shell:
        "igae train-nerf --target rgb --method {wildcards.method} --scene {input.scene} --run-dir {params.run_dir}"
        " --metrics {output.metrics} --figure {output.figure} --threads {threads} --params {params.config:q}"
        " > {log} 2>&1"


rule nerf_all:
    input:
        PLAN.nerf_metrics,
