"""Phase 4 commands: one NeRF (latent, in an autoencoder's latent space, or RGB) trained and evaluated."""

from __future__ import annotations

import argparse
from pathlib import Path

from igae.commands._common import add_params, add_threads, command_params, resolve_device, set_threads
from igae.errors import IgaeError

TITLE = "latent NeRFs (phase 4)"


def _train_nerf(args: argparse.Namespace) -> None:
    from igae.config.tree import NerfConfig, NormalizerConfig
    from igae.nerf.run import run_nerf

    if args.target == "latent" and args.autoencoder is None:
        raise IgaeError("--target latent needs --autoencoder (a diffusers autoencoder folder)")
    set_threads(args.threads)
    params = command_params(args)
    nerf = params.get("nerf", NerfConfig)
    run_nerf(
        args.method,
        args.target,
        args.scene,
        args.run_dir,
        args.metrics,
        args.figure,
        nerf,
        normalizer=params.get("autoencoder.normalizer", NormalizerConfig),
        autoencoder=args.autoencoder if args.target == "latent" else None,
        latent_channels=params.get("autoencoder.latent_channels", int),
        device=resolve_device(nerf.device),
        threads=args.threads,
    )


def register(commands: argparse._SubParsersAction) -> None:
    from igae.nerf.catalog import METHOD_NAMES

    command = commands.add_parser("train-nerf", help="train and evaluate one NeRF (latent or RGB) on one scene")
    command.add_argument("--method", required=True, help="one of: " + ", ".join(METHOD_NAMES))
    command.add_argument("--target", choices=["latent", "rgb"], required=True)
    command.add_argument("--scene", type=Path, required=True, help="scene folder with transforms.json")
    command.add_argument(
        "--autoencoder", type=Path, default=None, help="diffusers autoencoder folder (--target latent)"
    )
    command.add_argument("--run-dir", type=Path, required=True, help="nerfstudio outputs: config, checkpoints, logs")
    command.add_argument("--metrics", type=Path, required=True, help="JSON of metrics and timings")
    command.add_argument("--figure", type=Path, required=True, help="PNG of the held-out views")
    add_params(command)
    add_threads(command)
    command.set_defaults(handler=_train_nerf)
