# Shared helpers: the resolved configuration, the scene plan and the command that runs the igae package.
import os
import re
import sys
from pathlib import Path

from snakemake.settings.types import DeploymentMethod

from igae.cli import format_flags
from igae.config import resolve_params
from igae.data.plan import plan_scenes

SCHEMA = Path(workflow.current_basedir).parent / "schemas" / "params.schema.yaml"
CFG = resolve_params(config, SCHEMA)
SCENES = {spec.scene_id: spec for spec in plan_scenes(CFG)}
# Scheduling priorities: Snakemake starts the highest ready job first. The chain render -> standard AE -> IG-AE
# warm-up -> IG-AE stage 2 (-> ablation variants) gates most of the DAG, so it goes first; NeRFs, evaluations and
# the control fill the cores beside it (unlisted rules: 0).
PRIORITY = {"render": 50, "standard_autoencoder": 40, "igae_warmup": 30, "igae_train": 20, "ablation": 10}

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
    names = [re.escape(scene) for scene, spec in SCENES.items() if spec.imported == imported]
    return "|".join(names) or "(?!)"


def scene_asset(wildcards):
    return SCENES[wildcards.scene].asset


def scene_param(name):
    return lambda wildcards: getattr(SCENES[wildcards.scene], name)


def procedural_seed(wildcards):
    return SCENES[wildcards.scene].seed
