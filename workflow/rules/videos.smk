# Phase 6: turntable videos (igae.reporting.turntables): the IG-AE's latent scenes after each stage and the control
# (the paper's latent-scene animation), and each method's latent NeRFs beside the RGB baseline on the first
# `videos.nerf_scenes` evaluation scenes (PLAN.nerf_turntables). GIF (in the report), MP4 and the first frame (PNG).
import shlex

from igae.plan import TURNTABLE_STAGES, turntable_path

VIDEO_JOB = PLAN.resources("report")
TURNTABLE_TITLES = {
    "warmup": "stage 1 (warm-up): tri-planes fitted to the standard AE's latents, decoded by it",
    "final": "stage 2: IG-AE latent scenes, decoded by the IG-AE",
    "control": "control: stage 1 continued as long as stage 2, decoded by the standard AE",
}
NERF_COLUMNS = {"standard": "standard AE", "igae": "IG-AE", "rgb": "RGB"}


rule turntable_igae:
    input:
        stage=lambda wildcards: TURNTABLE_STAGES[wildcards.stage][0],
        autoencoder=lambda wildcards: LATENT_SPACES[TURNTABLE_STAGES[wildcards.stage][1]][0],
    output:
        gif=in_report(
            "results/videos/igae/{stage}.gif",
            caption="../report/turntable_igae.rst",
            category="Videos",
            labels={"IG-AE run": "{stage}"},
        ),
        mp4="results/videos/igae/{stage}.mp4",
        png="results/videos/igae/{stage}.png",
    wildcard_constraints:
        stage="|".join(TURNTABLE_STAGES),
    params:
        config=PLAN.payload("render-turntable"),
        autoencoder=lambda wildcards, input: os.path.normpath(
            os.path.join(input.autoencoder, LATENT_SPACES[TURNTABLE_STAGES[wildcards.stage][1]][1])
        ),
        title=lambda wildcards: TURNTABLE_TITLES[wildcards.stage],
    log:
        "logs/videos/turntable_igae_{stage}.log",
    benchmark:
        "benchmarks/videos/turntable_igae_{stage}.tsv"
    threads: VIDEO_JOB.threads
    resources:
        mem_mb=4000,
        runtime=30,
    conda:
        "../envs/igae.yaml"
    shell:
        "igae render-turntable --stage-dir {input.stage} --autoencoder {params.autoencoder} --title {params.title:q}"
        " --out results/videos/igae/{wildcards.stage} --params {params.config:q} --threads {threads} > {log} 2>&1"


rule turntable_nerf:
    input:
        lambda wildcards: list(PLAN.nerf_turntables[(wildcards.method, wildcards.scene)].values()),
    output:
        gif=in_report(
            turntable_path("{method}", "{scene}") + ".gif",
            caption="../report/turntable_nerf.rst",
            category="Videos",
            labels={"method": "{method}", "scene": "{scene}"},
        ),
        mp4=turntable_path("{method}", "{scene}") + ".mp4",
        png=turntable_path("{method}", "{scene}") + ".png",
        camera_path=turntable_path("{method}", "{scene}") + ".camera_path.json",
    params:
        config=PLAN.payload("render-nerf-turntable"),
        runs=lambda wildcards: " ".join(
            shlex.quote(f"{NERF_COLUMNS.get(space, space)}={path}")
            for space, path in PLAN.nerf_turntables[(wildcards.method, wildcards.scene)].items()
        ),
        out=lambda wildcards: turntable_path(wildcards.method, wildcards.scene),
    log:
        "logs/videos/turntable_nerf_{method}_{scene}.log",
    benchmark:
        "benchmarks/videos/turntable_nerf_{method}_{scene}.tsv"
    threads: PLAN.resources("nerf").threads
    resources:
        mem_mb=8000,
        runtime=60,
        gpu=PLAN.resources("nerf").gpus,
    conda:
        "../envs/igae.yaml"
    shell:
        "igae render-nerf-turntable --nerf-metrics {params.runs} --title '{wildcards.method}, {wildcards.scene}'"
        " --out {params.out} --params {params.config:q} --threads {threads} > {log} 2>&1"


rule videos_all:
    input:
        expand(rules.turntable_igae.output, stage=TURNTABLE_STAGES),
        [
            f"{turntable_path(method, scene)}.{suffix}"
            for method, scene in PLAN.nerf_turntables
            for suffix in ("gif", "mp4", "png", "camera_path.json")
        ],
