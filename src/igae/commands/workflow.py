"""Workflow commands: the resolved configuration, the run plan, and DVC's stages kept in step with the plan."""

from __future__ import annotations

import argparse
import json
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
