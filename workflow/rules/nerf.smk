# Phase 4: NeRFs on the held-out evaluation scenes, in the latent space of the standard AE and of the IG-AE
# (nerfstudio plugin methods latent-*), and in RGB as the baselines. One run = {space} x {method} x {scene}.
import json

from igae.nerf.catalog import CUDA_ONLY, device_has_cuda, runnable_methods

NERF_CFG = CFG["nerf"]
EVAL_SCENES = sorted(scene for scene, spec in SCENES.items() if spec.split == "eval")
# The autoencoder folder each latent space trains through: (rule output, folder inside it holding the AE).
NERF_AUTOENCODERS = {
    "standard": (STANDARD_AE, "."),
    "igae": ("results/igae/final", "autoencoder"),
}
NERF_GPUS = 1 if CFG["preset"] == "paper" else 0
NERF_METHODS, NERF_SKIPPED = runnable_methods(NERF_CFG["methods"], device_has_cuda(NERF_CFG["device"]))
for method, reason in NERF_SKIPPED.items():
    print(f"skipping NeRF method {method} (no CUDA device): {reason}", file=sys.stderr)
NERF_FLAGS = format_flags(
    {
        "latent_channels": AE_CFG["latent_channels"],
        "normalizer_scale": AE_CFG["normalizer"]["scale"],
        "device": NERF_CFG["device"],
    }
)


wildcard_constraints:
    autoencoder="|".join(NERF_AUTOENCODERS),
    method="|".join(CUDA_ONLY),


rule nerf_latent:
    input:
        scene="results/renders/{scene}",
        autoencoder=lambda wildcards: NERF_AUTOENCODERS[wildcards.autoencoder][0],
    output:
        metrics="results/metrics/nerf/{autoencoder}/{method}/{scene}.json",
        figure="results/figures/nerf/{autoencoder}/{method}/{scene}.png",
    params:
        autoencoder=lambda wildcards, input: os.path.normpath(
            os.path.join(input.autoencoder, NERF_AUTOENCODERS[wildcards.autoencoder][1])
        ),
        run_dir="results/nerf/{autoencoder}/{method}/{scene}",
        settings=json.dumps(NERF_CFG),
        flags=NERF_FLAGS,
    log:
        "logs/nerf/{autoencoder}/{method}/{scene}.log",
    benchmark:
        "benchmarks/nerf/{autoencoder}/{method}/{scene}.tsv"
    threads: NERF_CFG["threads"]
    resources:
        mem_mb=8000,
        runtime=240,
        gpu=NERF_GPUS,
    conda:
        "../envs/igae.yaml"
    shell:
        "igae train-nerf --space latent --method {wildcards.method} --scene {input.scene}"
        " --autoencoder {params.autoencoder} --run-dir {params.run_dir} --metrics {output.metrics}"
        " --figure {output.figure} --threads {threads} --settings {params.settings:q} {params.flags} > {log} 2>&1"


rule nerf_rgb:
    input:
        scene="results/renders/{scene}",
    output:
        metrics="results/metrics/nerf/rgb/{method}/{scene}.json",
        figure="results/figures/nerf/rgb/{method}/{scene}.png",
    params:
        run_dir="results/nerf/rgb/{method}/{scene}",
        settings=json.dumps(NERF_CFG),
        flags=NERF_FLAGS,
    log:
        "logs/nerf/rgb/{method}/{scene}.log",
    benchmark:
        "benchmarks/nerf/rgb/{method}/{scene}.tsv"
    threads: NERF_CFG["threads"]
    resources:
        mem_mb=8000,
        runtime=240,
        gpu=NERF_GPUS,
    conda:
        "../envs/igae.yaml"
    shell:
        "igae train-nerf --space rgb --method {wildcards.method} --scene {input.scene} --run-dir {params.run_dir}"
        " --metrics {output.metrics} --figure {output.figure} --threads {threads} --settings {params.settings:q}"
        " {params.flags} > {log} 2>&1"


rule nerf_all:
    input:
        expand(
            "results/metrics/nerf/{autoencoder}/{method}/{scene}.json",
            autoencoder=NERF_CFG["autoencoders"],
            method=NERF_METHODS,
            scene=EVAL_SCENES,
        ),
        expand(
            "results/metrics/nerf/rgb/{method}/{scene}.json",
            method=NERF_METHODS if NERF_CFG["rgb_baselines"] else [],
            scene=EVAL_SCENES,
        ),
