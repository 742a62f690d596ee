"""Phase 5 commands: the paper's tables and figures from the metrics files of the earlier phases, and the
turntable videos of the latent scenes and latent NeRFs."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from igae.commands._common import add_params, add_threads, command_params, labelled_paths, resolve_device, set_threads

TITLE = "report (phase 5)"
log = logging.getLogger("igae")


def _report_tables(args: argparse.Namespace) -> None:
    from igae.reporting.build import build_tables

    autoencoders = labelled_paths(args.autoencoder_metrics, "--autoencoder-metrics")
    for path in build_tables(args.nerf_metrics, autoencoders, args.out, args.summary, args.scene_index):
        log.info("wrote %s", path)


def _report_ablation(args: argparse.Namespace) -> None:
    from igae.reporting.build import build_ablation_table

    autoencoders = labelled_paths(args.autoencoder_metrics, "--autoencoder-metrics")
    for path in build_ablation_table(args.nerf_metrics, autoencoders, args.out):
        log.info("wrote %s", path)


def _report_figures(args: argparse.Namespace) -> None:
    from igae.reporting.build import build_figures

    logs = labelled_paths(args.igae_logs, "--igae-logs")
    for path in build_figures(args.nerf_metrics, args.nerf_strips, logs, args.out):
        log.info("wrote %s", path)


def _report_latents(args: argparse.Namespace) -> None:
    from igae.nerf.run import held_out_latents
    from igae.reporting.aggregate import read_nerf_record
    from igae.reporting.figures import latent_channels, save_figure

    set_threads(args.threads)
    views = {}
    for label, path in labelled_paths(args.nerf_metrics, "--nerf-metrics").items():
        views[label] = held_out_latents(Path(read_nerf_record(path)["run_dir"]), args.view)
    for path in save_figure(latent_channels(views), args.out):
        log.info("wrote %s", path)


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
    command = commands.add_parser("report-tables", help="aggregate metrics into CSV/Markdown/LaTeX tables")
    command.add_argument("--nerf-metrics", type=Path, nargs="+", required=True, help="<space>/<method>/<scene>.json")
    command.add_argument(
        "--autoencoder-metrics", nargs="+", required=True, help="label=evaluate-autoencoder JSON, e.g. igae=..."
    )
    command.add_argument("--out", type=Path, required=True, help="folder of the tables")
    command.add_argument("--summary", type=Path, required=True, help="JSON of mean quality per method and space")
    command.add_argument(
        "--scene-index", type=Path, default=None, help="index.json of the renders: adds the per-dataset table"
    )
    command.set_defaults(handler=_report_tables)

    command = commands.add_parser("report-ablation", help="the loss-ablation table (CSV/Markdown/LaTeX)")
    command.add_argument(
        "--nerf-metrics",
        type=Path,
        nargs="+",
        required=True,
        help="<space>/<method>/<scene>.json, <space> = "
        "ablation-<variant>, igae (the reference when it is the IG-AE itself) or standard",
    )
    command.add_argument(
        "--autoencoder-metrics", nargs="+", required=True, help="variant=evaluate-autoencoder JSON, e.g. no-rgb=..."
    )
    command.add_argument("--out", type=Path, required=True, help="path of the tables without suffix")
    command.set_defaults(handler=_report_ablation)

    command = commands.add_parser("report-figures", help="the paper's figures (PNG and PDF) from the results")
    command.add_argument("--nerf-metrics", type=Path, nargs="+", required=True, help="<space>/<method>/<scene>.json")
    command.add_argument("--nerf-strips", type=Path, nargs="+", required=True, help="<space>/<method>/<scene>.png")
    command.add_argument("--igae-logs", nargs="+", required=True, help="stage=metrics.csv, e.g. warmup=...")
    command.add_argument("--out", type=Path, required=True, help="folder of the figures")
    command.set_defaults(handler=_report_figures)

    command = commands.add_parser(
        "report-latents", help="figure of the latent channels of a held-out view: E(x) and the latent NeRF's render"
    )
    command.add_argument(
        "--nerf-metrics", nargs="+", required=True, help="label=metrics JSON of a latent run, e.g. igae=..."
    )
    command.add_argument("--view", type=int, default=0, help="held-out view index")
    command.add_argument("--out", type=Path, required=True, help="path of the figure without suffix (PNG + PDF)")
    add_threads(command)
    command.set_defaults(handler=_report_latents)

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
