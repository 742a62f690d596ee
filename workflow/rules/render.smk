# Phase 1: multi-view datasets (nerfstudio transforms.json) and the real-image set.


rule generate_procedural_object:
    output:
        "results/assets/procedural/{scene}.glb",
    params:
        seed=procedural_seed,
        flags=format_flags(
            {**CFG["scenes"]["procedural"], "object_radius": CFG["render"]["object_radius"]}
        ),
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
        "igae generate-object --seed {params.seed} --out {output} {params.flags} > {log} 2>&1"


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
        flags=format_flags(CFG["render"]),
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
        " --split {params.split} --dataset {params.dataset:q} --up-axis {params.up_axis} {params.flags}"
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
        test_fraction=CFG["render"]["test_fraction"],
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
        " --test-fraction {params.test_fraction} > {log} 2>&1"


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
        flags=format_flags(
            {**CFG["real_images"], "image_size": CFG["render"]["image_size"]}
        ),
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
        "igae prepare-real-images --out {output} {params.flags} > {log} 2>&1"


rule render_all:
    input:
        "results/renders/index.json",
        "results/real_images",
