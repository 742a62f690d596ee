# Shared by all rule files; the configuration, resolved and typed once, and the run plan computed from it.
# Which runs exist, their paths, parameters and resources all come from igae.plan (torch-free); rules only
# expand it and call the `igae` command with the `--params` payload of the keys it reads.
import os
import re
import sys
from pathlib import Path

from snakemake.settings.types import DeploymentMethod

from igae.config import resolve_params, typed_params
from igae.plan import LATENT_SPACES, PRIORITY, STANDARD_AUTOENCODER, RunPlan
from igae.reporting import outputs
from igae.training.ablation import variant_term

SCHEMA = Path(workflow.current_basedir).parent / "schemas" / "params.schema.yaml"
PLAN = RunPlan(typed_params(resolve_params(config, SCHEMA)))
SCENES = PLAN.scenes
EVAL_SCENES = PLAN.eval_scenes
ABLATION = PLAN.ablation

# Rules call the `igae` command. With --use-conda the rule's environment provides it; otherwise it must be
# the one installed beside the interpreter running Snakemake, whatever else is on PATH.
envvars:
    "PATH",


if DeploymentMethod.CONDA not in workflow.deployment_settings.deployment_method:
    os.environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])


wildcard_constraints:
    scene="[A-Za-z0-9][A-Za-z0-9_-]*",


def scene_pattern(imported):
    """A regex matching exactly the planned scenes that are (or are not) imported official scenes."""
    names = [re.escape(scene) for scene in PLAN.scene_ids(imported)]
    return "|".join(names) or "(?!)"


def scene_asset(wildcards):
    return SCENES[wildcards.scene].asset


def scene_param(name):
    return lambda wildcards: getattr(SCENES[wildcards.scene], name)


def latent_space_autoencoder(wildcards, input):
    """The diffusers folder of a latent space, inside the rule output that holds it."""
    return os.path.normpath(os.path.join(input.autoencoder, LATENT_SPACES[wildcards.space][1]))


def igae_launch(wildcards, resources):
    """torchrun / srun and their options before an IG-AE command: igae.world_size processes (nothing for one);
    the rule's `launcher` resource (the SLURM profile sets srun) says which."""
    return PLAN.resources("igae").launch_prefix(resources.launcher)


def ablate_flag(wildcards):
    term = variant_term(wildcards.variant)
    return f"--ablate {term}" if term else ""


in_report = report  # Snakemake's report() marker (a line may not start with the word `report`)


def report_tables(stems):
    """Each table as CSV (in Snakemake's report, captioned by workflow/report/<stem>.rst), Markdown and LaTeX."""
    return [
        in_report(path, caption=f"../report/{stem}.rst", category="Tables") if fmt == "csv" else path
        for stem in stems
        for fmt, path in ((fmt, f"results/tables/{stem}.{fmt}") for fmt in outputs.TABLE_FORMATS)
    ]


def report_figures(stems):
    """Each figure as PNG (in Snakemake's report, with its caption) and PDF."""
    return [
        in_report(path, caption=f"../report/{stem}.rst", category="Figures") if fmt == "png" else path
        for stem in stems
        for fmt, path in ((fmt, f"results/figures/report/{stem}.{fmt}") for fmt in outputs.FIGURE_FORMATS)
    ]
