"""Phase 3 commands: IG-AE training (stage 1, stage 2, the control, the loss-ablation variants)."""

from __future__ import annotations

import argparse
from pathlib import Path

from igae.commands._common import add_image_sets, add_params, add_threads, command_params, resolve_device, set_threads

TITLE = "IG-AE (phase 3)"


def _train_igae_stage(args: argparse.Namespace) -> None:
    from igae.config.tree import IgaeConfig, NormalizerConfig
    from igae.training.stages import run_stage

    set_threads(args.threads)
    params = command_params(args)
    run_stage(
        args.stage,
        params.get("igae", IgaeConfig),
        autoencoder_dir=args.autoencoder,
        real_images=args.real_images,
        scene_index=args.scene_index,
        out=args.out,
        work_dir=args.work_dir,
        latent_channels=params.get("autoencoder.latent_channels", int),
        normalizer=params.get("autoencoder.normalizer", NormalizerConfig),
        device=resolve_device(params.get("autoencoder.device", str)),
        init=args.init,
        ablate=args.ablate,
        max_scenes=args.max_scenes,
    )


def register(commands: argparse._SubParsersAction) -> None:
    from igae.training.ablation import ABLATION_TERMS
    from igae.training.stages import STAGES

    command = commands.add_parser("train-igae-stage", help="IG-AE stage 1 (warmup) or 2 (train), or the control")
    command.add_argument(
        "--stage",
        choices=STAGES,
        required=True,
        help="control: stage 1 continued for stage 2's steps with the standard AE (the baseline of the claim)",
    )
    command.add_argument("--autoencoder", type=Path, required=True, help="diffusers autoencoder to start from")
    add_image_sets(command)
    command.add_argument("--init", type=Path, default=None, help="stage output to start the scenes from")
    command.add_argument("--out", type=Path, required=True)
    command.add_argument("--work-dir", type=Path, required=True, help="checkpoint, metrics.csv, TensorBoard")
    command.add_argument(
        "--ablate", choices=list(ABLATION_TERMS), default=None, help="loss ablation: train stage 2 without this term"
    )
    command.add_argument(
        "--max-scenes",
        type=int,
        default=None,
        help="train on the first N igae_train scenes of the index only (the scale study; default: all)",
    )
    add_params(command)
    add_threads(command)
    command.set_defaults(handler=_train_igae_stage)
