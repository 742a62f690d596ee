"""DVC's stages, written from what each one runs: ``igae sync-dvc`` renders ``dvc.yaml`` from :data:`STAGES`.

Each DVC stage wraps one Snakemake target (one DAG, not two) and must be marked changed whenever anything it
executes or reads changes. So its dependencies are computed, not kept by hand:

* **code**: every module of the package that the stage's ``igae`` commands can execute (the import graph of their
  command modules, function-level imports included, read with grimp), the command-line entry modules, and the
  modules Snakemake itself imports to plan the DAG (:mod:`igae.plan` and what it imports);
* **workflow**: the Snakefiles, ``common.smk``, the rule files whose rules the stage runs, and the schema;
* **params**: the dotted keys of ``params.yaml`` its commands read (:data:`igae.plan.COMMAND_PARAMS`), the keys
  the plan reads to decide its runs, and ``preset`` / ``presets`` (which change every resolved value);
* **data**: the outputs of the stages before it.

``tests/test_dvc_stages.py`` checks that ``dvc.yaml`` is what this module renders, and that changing a file of each
kind makes ``dvc status`` report exactly the stages that run it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from igae.plan import COMMAND_PARAMS

#: Command name -> the module that holds its handler (``igae.commands.<phase>``).
COMMAND_MODULES = {
    "generate-object": "data",
    "render-scene": "data",
    "import-scene": "data",
    "index-scenes": "data",
    "prepare-real-images": "data",
    "train-autoencoder": "autoencoder",
    "fetch-autoencoder": "autoencoder",
    "evaluate-autoencoder": "autoencoder",
    "train-igae-stage": "igae",
    "train-nerf": "nerf",
    "report-tables": "report",
    "report-ablation": "report",
    "report-study": "report",
    "report-figures": "report",
    "report-latents": "report",
    "render-turntable": "videos",
    "render-nerf-turntable": "videos",
}
#: What every ``igae`` command executes besides its handler's imports: the package's ``__init__`` and the whole
#: command line (``igae.commands`` imports every command module to build its parser).
ENTRY_FILES = ("src/igae/__init__.py", "src/igae/commands")
#: What Snakemake imports to plan the DAG (``common.smk`` and the rule files).
PLANNING_MODULES = ("igae.plan", "igae.reporting.outputs", "igae.training.ablation", "igae.nerf.catalog")
WORKFLOW_FILES = ("Snakefile", "workflow/Snakefile", "workflow/rules/common.smk", "workflow/schemas/params.schema.yaml")


@dataclass(frozen=True)
class Stage:
    """One DVC stage: the Snakemake target it runs and what it reads and writes."""

    desc: str
    commands: tuple[str, ...]
    rule_files: tuple[str, ...]
    plan_params: tuple[str, ...]  # keys the run plan reads to decide this stage's runs
    data: tuple[str, ...]  # outputs of earlier stages
    outs: tuple[str, ...]
    metrics: tuple[str, ...] = field(default_factory=tuple)


STAGES: dict[str, Stage] = {
    "render": Stage(
        desc="Multi-view scene datasets (nerfstudio transforms.json) and the real-image set.",
        commands=("generate-object", "render-scene", "import-scene", "index-scenes", "prepare-real-images"),
        rule_files=("render",),
        plan_params=("seed", "scenes"),
        data=(),
        outs=("results/assets", "results/renders", "results/real_images"),
    ),
    "autoencoder": Stage(
        desc="The standard autoencoder (embedded one trained here, or a pretrained one copied in) and its evaluation.",
        commands=("train-autoencoder", "fetch-autoencoder", "evaluate-autoencoder"),
        rule_files=("autoencoder",),
        plan_params=("autoencoder.source", "autoencoder.threads"),
        data=("results/real_images", "results/renders", "resources/autoencoders"),
        outs=("results/autoencoders", "results/figures/autoencoder", "results/metrics/autoencoder/standard.csv"),
        metrics=("results/metrics/autoencoder/standard.json",),
    ),
    "igae": Stage(
        desc="IG-AE training, stage 1 (warm-up) and stage 2 (joint); the IG-AE in diffusers format.",
        commands=("train-igae-stage",),
        rule_files=("igae",),
        plan_params=(),
        data=("results/autoencoders/standard", "results/real_images", "results/renders"),
        outs=("results/igae",),
    ),
    "nerf": Stage(
        desc="Latent NeRFs (standard AE, IG-AE) and RGB baselines on the evaluation scenes; one JSON per run.",
        commands=("train-nerf",),
        rule_files=("nerf",),
        plan_params=(),
        data=("results/autoencoders/standard", "results/igae/final", "results/renders"),
        outs=("results/nerf", "results/figures/nerf", "results/metrics/nerf"),
    ),
    "ablation": Stage(
        desc="Loss ablation; IG-AE stage 2 without each loss term, each variant's reconstruction and latent NeRFs.",
        commands=("train-igae-stage", "evaluate-autoencoder", "train-nerf"),
        rule_files=("ablation", "igae", "autoencoder", "nerf"),
        plan_params=("ablation",),
        data=(
            "results/autoencoders/standard",
            "results/igae/warmup",
            "results/igae/final",
            "results/real_images",
            "results/renders",
        ),
        outs=("results/ablation",),
    ),
    "report": Stage(
        desc="The paper's tables (CSV, Markdown, LaTeX) and figures from the metrics of the earlier stages, the "
        "IG-AE's evaluation and the latent-channel figure.",
        commands=("evaluate-autoencoder", "report-tables", "report-ablation", "report-figures", "report-latents"),
        rule_files=("report", "autoencoder"),
        plan_params=("ablation", "nerf.methods", "nerf.autoencoders", "nerf.rgb_baselines", "nerf.device"),
        data=(
            "results/metrics/nerf",
            "results/ablation",
            "results/igae/final",
            "results/real_images",
            "results/renders",
        ),
        outs=("results/tables", "results/figures/report", "results/metrics/autoencoder/igae.csv"),
        metrics=("results/metrics/autoencoder/igae.json", "results/metrics/nerf_summary.json"),
    ),
    "videos": Stage(
        desc="Turntable videos (GIF, MP4, first frame) of the IG-AE's latent scenes after each stage and the control, "
        "and of each method's latent NeRFs beside the RGB baseline, with their nerfstudio camera paths.",
        commands=("render-turntable", "render-nerf-turntable"),
        rule_files=("videos",),
        plan_params=("nerf.methods", "nerf.autoencoders", "nerf.rgb_baselines", "nerf.device", "scenes"),
        data=("results/autoencoders/standard", "results/igae", "results/metrics/nerf", "results/nerf"),
        outs=("results/videos",),
    ),
}

PLOTS = [
    # dvc plots show: IG-AE training curves of both stages, and decoded PSNR of every latent/RGB NeRF run.
    {"results/igae/warmup_training/metrics.csv": {"x": "step", "y": "loss"}},
    {"results/igae/final_training/metrics.csv": {"x": "step", "y": "loss"}},
    {"results/tables/nerf_quality.csv": {"template": "bar_horizontal", "x": "psnr", "y": "method"}},
]


def _module_files(modules: set[str], src: Path) -> list[str]:
    """Source files of ``modules`` (relative to the repository), whole packages collapsed into their folder."""
    files = set()
    for module in modules:
        path = src.joinpath(*module.split("."))
        files.add(path / "__init__.py" if path.is_dir() else path.with_suffix(".py"))
    collapsed: set[Path] = set()
    for package in sorted({f.parent for f in files}, key=lambda p: len(p.parts)):
        if package == src / "igae" or any(package.is_relative_to(done) for done in collapsed):
            continue
        if set(package.rglob("*.py")) <= files:
            collapsed.add(package)
    kept = sorted(collapsed) + sorted(f for f in files if not any(f.is_relative_to(done) for done in collapsed))
    return sorted(str(path.relative_to(src.parent)) for path in kept)


def code_dependencies(stage: Stage, src: Path) -> list[str]:
    """Every package source file the stage can execute (see the module docstring)."""
    import grimp

    graph = grimp.build_graph("igae", cache_dir=None)
    roots = {f"igae.commands.{COMMAND_MODULES[command]}" for command in stage.commands} | set(PLANNING_MODULES)
    modules = set(roots)
    for root in roots:
        modules |= graph.find_upstream_modules(root)
    paths = {*ENTRY_FILES, *_module_files(modules, src)}
    return sorted(path for path in paths if not any(path.startswith(folder + "/") for folder in paths))


def stage_params(stage: Stage) -> list[str]:
    keys = {key for command in stage.commands for key in COMMAND_PARAMS.get(command, ())}
    keys |= set(stage.plan_params)
    # A key already covered by a whole section it lies in is not listed twice.
    kept = {key for key in keys if not any(key.startswith(other + ".") for other in keys)}
    return ["preset", "presets", *sorted(kept)]


def render_dvc_yaml(repo: Path) -> str:
    """The text of ``dvc.yaml`` for the repository at ``repo``."""
    src = Path(repo) / "src"
    stages = {}
    for name, stage in STAGES.items():
        rule_files = [f"workflow/rules/{rules}.smk" for rules in stage.rule_files]
        entry = {
            "desc": stage.desc,
            "cmd": f"workflow/scripts/dvc-stage {name} $SMK_ARGS",
            "deps": [*WORKFLOW_FILES, *rule_files, *code_dependencies(stage, src), *stage.data],
            "params": stage_params(stage),
            "outs": [{out: {"persist": True}} for out in stage.outs],
        }
        if stage.metrics:
            entry["metrics"] = [{path: {"persist": True}} for path in stage.metrics]
        stages[name] = entry
    header = (
        "# Written by `igae sync-dvc` from igae/dvc_stages.py: edit that, not this file.\n"
        "# DVC versions what Snakemake computes: each stage wraps one Snakemake target rule (one DAG, not two).\n"
        "# Outputs persist so Snakemake reruns only the jobs whose inputs or params changed; before it runs, damaged\n"
        "# outputs are restored from DVC's cache or deleted for Snakemake to remake (igae/dvc_outputs.py).\n"
        '# Cluster: SMK_ARGS="--profile workflow/profiles/slurm" dvc repro\n'
    )
    body = yaml.safe_dump({"stages": stages, "plots": PLOTS}, sort_keys=False, width=120)
    return header + body
