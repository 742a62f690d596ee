"""Phase 5 commands: the paper's tables and figures from the metrics files of the earlier phases."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from igae.commands._common import add_threads, labelled_paths, set_threads

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


def _report_study(args: argparse.Namespace) -> None:
    from igae.reporting.build import build_study

    records = labelled_paths(args.igae_metrics, "--igae-metrics")
    for path in build_study(args.nerf_metrics, records, (args.base_scenes, args.base_epochs), args.table, args.figure):
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

    command = commands.add_parser("report-study", help="the scale study's table and figure")
    command.add_argument(
        "--nerf-metrics",
        type=Path,
        nargs="+",
        required=True,
        help="<space>/<method>/<scene>.json, <space> = study-<point> or standard (the reference, same scenes)",
    )
    command.add_argument(
        "--igae-metrics", nargs="+", required=True, help="point=its stage-2 metrics.json, e.g. s10-e3=..."
    )
    command.add_argument("--base-scenes", type=int, required=True, help="IG-AE scenes of the stage-2-epochs sweep")
    command.add_argument("--base-epochs", type=int, required=True, help="stage-2 epochs of the IG-AE scenes sweep")
    command.add_argument("--table", type=Path, required=True, help="path of the table without suffix")
    command.add_argument("--figure", type=Path, required=True, help="path of the figure without suffix")
    command.set_defaults(handler=_report_study)

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
