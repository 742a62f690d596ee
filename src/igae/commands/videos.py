"""Phase 6 commands: turntable videos of the IG-AE's latent scenes and of the latent NeRFs beside RGB."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from igae.commands._common import add_params, add_threads, command_params, labelled_paths, resolve_device, set_threads

TITLE = "videos (phase 6)"
log = logging.getLogger("igae")


def _render_turntable(args: argparse.Namespace) -> None:
    from igae.config.tree import NormalizerConfig, VideosConfig, VolumeConfig
    from igae.reporting.turntables import film_latent_scenes

    set_threads(args.threads)
    params = command_params(args)
    paths = film_latent_scenes(
        args.stage_dir,
        args.autoencoder,
        args.out,
        videos=params.get("videos", VideosConfig),
        image_size=params.get("render.image_size", int),
        focal=params.get("render.focal", float),
        volume=params.get("igae.rendering", VolumeConfig),
        scenes=params.get("igae.monitor.scenes", int),
        latent_channels=params.get("autoencoder.latent_channels", int),
        normalizer=params.get("autoencoder.normalizer", NormalizerConfig),
        title=args.title,
        device=resolve_device(params.get("autoencoder.device", str)),
    )
    for path in paths:
        log.info("wrote %s", path)


def _render_nerf_turntable(args: argparse.Namespace) -> None:
    from igae.config.tree import VideosConfig
    from igae.reporting.aggregate import read_nerf_record
    from igae.reporting.turntables import film_nerf_runs

    set_threads(args.threads)
    params = command_params(args)
    runs = {
        label: Path(read_nerf_record(path)["run_dir"])
        for label, path in labelled_paths(args.nerf_metrics, "--nerf-metrics").items()
    }
    paths = film_nerf_runs(
        runs, args.out, videos=params.get("videos", VideosConfig), image_size=params.get("render.image_size", int),
        focal=params.get("render.focal", float), title=args.title,
    )  # fmt: skip
    for path in paths:
        log.info("wrote %s", path)


def register(commands: argparse._SubParsersAction) -> None:
    command = commands.add_parser(
        "render-turntable",
        help="turntable video (GIF, MP4, PNG) of an IG-AE run's latent scenes: latent channels, decoded RGB, depth",
    )
    command.add_argument("--stage-dir", type=Path, required=True, help="an IG-AE output folder (its triplanes.pt)")
    command.add_argument("--autoencoder", type=Path, required=True, help="the diffusers autoencoder that decodes it")
    command.add_argument("--title", default="", help="caption above the frames")
    command.add_argument("--out", type=Path, required=True, help="path of the videos without suffix")
    add_params(command)
    add_threads(command)
    command.set_defaults(handler=_render_turntable)

    command = commands.add_parser(
        "render-nerf-turntable",
        help="turntable video (GIF, MP4, PNG, nerfstudio camera path) of NeRF runs of one scene, side by side",
    )
    command.add_argument(
        "--nerf-metrics", nargs="+", required=True, help="label=metrics JSON of a run, e.g. igae=... rgb=..."
    )
    command.add_argument("--title", default="", help="caption above the frames")
    command.add_argument("--out", type=Path, required=True, help="path of the videos without suffix")
    add_params(command)
    add_threads(command)
    command.set_defaults(handler=_render_nerf_turntable)
