# Phase 1: multi-view datasets (nerfstudio transforms.json) and the real-image set.


rule generate_procedural_object:
    output:
        "results/assets/procedural/{scene}.glb",
    params:
        seed=scene_param("seed"),
        config=PLAN.payload("generate-object"),
    log:
        "logs/render/generate_procedural_object/{scene}.log",
    benchmark:
        "benchmarks/render/generate_procedural_object/{scene}.tsv"
    priority: PRIORITY["render"]
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    conda:
        "../envs/igae.yaml"
    shell:
        "igae generate-object --seed {params.seed} --out {output} --params {params.config:q} > {log} 2>&1"


rule render_scene:
    input:
        scene_asset,
    output:
        directory("results/renders/{scene}"),
    wildcard_constraints:
        scene=scene_pattern(imported=False),
    params:
        views=scene_param("views"),
        seed=scene_param("seed"),
        split=scene_param("split"),
        dataset=scene_param("dataset"),
        up_axis=scene_param("up_axis"),
        config=PLAN.payload("render-scene"),
    log:
        "logs/render/render_scene/{scene}.log",
    benchmark:
        "benchmarks/render/render_scene/{scene}.tsv"
    priority: PRIORITY["render"]
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    conda:
        "../envs/igae.yaml"
    shell:
        "igae render-scene --asset {input:q} --out {output} --views {params.views} --seed {params.seed}"
        " --split {params.split} --dataset {params.dataset:q} --up-axis {params.up_axis} --params {params.config:q}"
        " > {log} 2>&1"


# Scenes of the official IG-AE data (scenes.<split>.source: official) are copied in, not rendered.
rule import_official_scene:
    input:
        scene_asset,
    output:
        directory("results/renders/{scene}"),
    wildcard_constraints:
        scene=scene_pattern(imported=True),
    params:
        split=scene_param("split"),
        dataset=scene_param("dataset"),
        config=PLAN.payload("import-scene"),
    log:
        "logs/render/import_official_scene/{scene}.log",
    benchmark:
        "benchmarks/render/import_official_scene/{scene}.tsv"
    priority: PRIORITY["render"]
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    conda:
        "../envs/igae.yaml"
    shell:
        "igae import-scene --source {input:q} --out {output} --split {params.split} --dataset {params.dataset:q}"
        " --params {params.config:q} > {log} 2>&1"


rule index_scenes:
    input:
        expand("results/renders/{scene}", scene=SCENES),
    output:
        "results/renders/index.json",
    log:
        "logs/render/index_scenes.log",
    benchmark:
        "benchmarks/render/index_scenes.tsv"
    priority: PRIORITY["render"]
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    conda:
        "../envs/igae.yaml"
    shell:
        "igae index-scenes {input} --out {output} > {log} 2>&1"


rule prepare_real_images:
    output:
        directory("results/real_images"),
    params:
        config=PLAN.payload("prepare-real-images"),
    log:
        "logs/render/prepare_real_images.log",
    benchmark:
        "benchmarks/render/prepare_real_images.tsv"
    priority: PRIORITY["render"]
    threads: 1
    resources:
        mem_mb=4000,
        runtime=120,
    conda:
        "../envs/igae.yaml"
    shell:
        "igae prepare-real-images --out {output} --params {params.config:q} > {log} 2>&1"


rule render_all:
    input:
        "results/renders/index.json",
        "results/real_images",
