"""Workflow commands: the resolved configuration, the run plan, and DVC's stages kept in step with the plan."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from igae.commands._common import add_params, command_params

TITLE = "workflow"


def _config(args: argparse.Namespace) -> None:
    from igae.config.tree import to_plain

    print(json.dumps(to_plain(command_params(args).tree()), indent=2))


def _plan(args: argparse.Namespace) -> None:
    from igae.plan import RunPlan

    plan = RunPlan(command_params(args).tree())
    print(json.dumps(plan.summary(), indent=2))


def _sync_dvc(args: argparse.Namespace) -> None:
    from igae.dvc_stages import render_dvc_yaml

    text = render_dvc_yaml(args.repo)
    path = args.repo / "dvc.yaml"
    if args.check:
        if not path.is_file() or path.read_text() != text:
            print(f"{path} is not what the run plan says: run `igae sync-dvc`", file=sys.stderr)
            raise SystemExit(1)
        return
    path.write_text(text)
    print(f"wrote {path}")


def _dvc_stage(args: argparse.Namespace) -> None:
    from igae.dvc_outputs import prepare_stage, record_stage
    from igae.dvc_stages import STAGES

    repo = Path.cwd()
    stage = STAGES[args.stage]
    outs = [*stage.outs, *stage.metrics]
    for line in prepare_stage(repo, args.stage, outs).lines():
        print(f"dvc-stage {args.stage}: {line}", file=sys.stderr)
    # Snakemake's jobs call `igae`: the environment this command runs in, whether or not its shell activated it.
    env = {**os.environ, "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])}
    command = [sys.executable, "-m", "snakemake", f"{args.stage}_all", "--cores", "all", *args.snakemake_options]
    returncode = subprocess.call(command, env=env)
    if returncode:
        raise SystemExit(returncode)
    record_stage(repo, args.stage, outs)


def register(commands: argparse._SubParsersAction) -> None:
    command = commands.add_parser("config", help="validate params.yaml and print the resolved configuration")
    add_params(command, required=False)
    command.set_defaults(handler=_config)

    command = commands.add_parser("plan", help="print the run plan: scenes, NeRF runs, ablation, resources")
    add_params(command, required=False)
    command.set_defaults(handler=_plan)

    command = commands.add_parser("sync-dvc", help="write dvc.yaml's stages (deps, params, outs) from the run plan")
    command.add_argument("--repo", type=Path, default=Path("."), help="the project's root")
    command.add_argument("--check", action="store_true", help="only check that dvc.yaml is in step (exit 1 if not)")
    command.set_defaults(handler=_sync_dvc)

    command = commands.add_parser(
        "dvc-stage",
        help="run one DVC stage: repair its damaged outputs (from DVC's cache, or by deleting them for Snakemake to "
        "remake), run its Snakemake target, record its outputs",
    )
    command.add_argument("stage", choices=sorted(_stage_names()), help="the DVC stage (dvc.yaml)")
    command.add_argument("snakemake_options", nargs=argparse.REMAINDER, help="passed on to Snakemake")
    command.set_defaults(handler=_dvc_stage)


def _stage_names() -> list[str]:
    from igae.dvc_stages import STAGES

    return list(STAGES)
