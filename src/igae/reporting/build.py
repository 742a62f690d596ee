"""The paper's tables from the pipeline's metrics files (``igae report-tables``, rule ``report_tables``)."""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

from igae.evaluation.image_metrics import AUTOENCODER_METRICS
from igae.io_utils import write_bytes_atomic, write_json_atomic
from igae.reporting.aggregate import (
    QUALITY_METRICS,
    STAGE_METRICS,
    TIMING_FIELDS,
    ablation_table,
    autoencoder_table,
    quality_table,
    run_key,
    scene_datasets,
    speed_table,
    stages_table,
    tidy_nerf_metrics,
)
from igae.reporting.outputs import FIGURES, QUALITATIVE, TABLES, TIDY_METRICS
from igae.reporting.statistics import (
    PAIRED_METRICS,
    STUDY_POINT_FIELDS,
    paired_differences,
    paired_table,
    study_table,
)
from igae.reporting.tables import TableSpec, write_table

NERF_QUALITY = TableSpec(
    QUALITY_METRICS,
    best_within="method",
    caption="Latent NeRF quality on held-out views (decoded renders vs ground truth): mean $\\pm$ std over "
    "evaluation scenes; best of each method in bold.",
)
NERF_PAIRED = TableSpec(
    (*PAIRED_METRICS, "scenes"),
    best_within=None,
    caption="Paired differences of latent NeRF quality on held-out views: per evaluation scene, one space's run "
    "minus the other's for the same method, averaged over scenes, with its 95\\% confidence interval (bootstrap BCa "
    "from 6 scenes on, Student's t below); in bold where the interval excludes zero. One seed per run.",
)
NERF_STAGES = TableSpec(
    STAGE_METRICS,
    best_within="method",
    caption="Where a latent NeRF's quality appears and where it is absorbed: decoded quality at the end of latent "
    "supervision (stage 1, the decoder as trained) and at the end of RGB alignment (stage 2, the decoder fine-tuned "
    "per scene), latent PSNR (the render against E(x)) and the autoencoder's ceiling D(E(x)) on the same views; "
    "mean $\\pm$ std over scenes.",
)
NERF_QUALITY_BY_DATASET = TableSpec(
    QUALITY_METRICS,
    best_within=("dataset", "method"),
    caption="Latent NeRF quality per dataset of evaluation scenes: mean $\\pm$ std over the dataset's scenes; "
    "best of each method and dataset in bold.",
)
NERF_SPEED = TableSpec(
    (*TIMING_FIELDS, "train_speedup", "render_speedup"),
    best_within="method",
    caption="Training time (iterations only), iterations per second and rendering time per image (decoding "
    "included); speed-ups are RGB over latent for the same method and scene, averaged over scenes.",
)
LOSS_ABLATION = TableSpec(
    (*QUALITY_METRICS, "autoencoder_real_heldout_psnr", "autoencoder_rendered_heldout_psnr"),
    best_within="method",
    caption="Loss ablation: IG-AE stage 2 trained without one loss term, evaluated as the IG-AE. Latent NeRF "
    "quality (mean $\\pm$ std over scenes) and the autoencoder's reconstruction PSNR on held-out real images and "
    "rendered views; the standard AE is the reference.",
)
SCALE_STUDY = TableSpec(
    (*STUDY_POINT_FIELDS, *PAIRED_METRICS, "scenes"),
    best_within=None,
    caption="Scale study: per point (IG-AE scenes, stage-2 epochs), the IG-AE's paired gain over the standard AE, "
    "per evaluation scene of the study, averaged with its 95\\% confidence interval (bold: it excludes zero), at the "
    "end of RGB alignment (PSNR, SSIM, LPIPS), at the end of latent supervision and in latent space; with the "
    "point's stage-2 steps and its IG-AE's own monitoring (decoded held-out views of its training scenes, real "
    "held-out reconstruction). One seed per run.",
)
AUTOENCODER_QUALITY = TableSpec(
    AUTOENCODER_METRICS,
    best_within="image_set",
    caption="Autoencoder reconstruction D(E(x)) on held-out real images (also with their RGB channels rotated, "
    "hues the training photographs lack) and rendered views; colour error: mean absolute difference of 8x8-pixel "
    "mean colours, in 8-bit levels.",
)


def build_tables(
    nerf_metrics: Sequence[Path],
    autoencoder_metrics: Mapping[str, Path],
    out_dir: Path,
    summary_path: Path,
    scene_index: Path | None = None,
) -> list[Path]:
    """Write the tidy NeRF metrics (CSV), the quality (overall and per dataset of ``scene_index``), speed and
    autoencoder tables (CSV, Markdown, LaTeX) in ``out_dir``, and the mean quality per method and space as JSON
    at ``summary_path`` (for ``dvc metrics``)."""
    tidy = tidy_nerf_metrics(nerf_metrics, None if scene_index is None else scene_datasets(scene_index))
    tidy_path = out_dir / f"{TIDY_METRICS}.csv"
    write_bytes_atomic(tidy_path, tidy.to_csv(index=False).encode())
    paths = [tidy_path]
    quality = quality_table(tidy)
    quality_stem, paired_stem, stages_stem, by_dataset_stem, speed_stem, autoencoder_stem = (
        out_dir / stem for stem in TABLES
    )
    paths += write_table(quality, NERF_QUALITY, quality_stem)
    paths += write_table(paired_table(paired_differences(tidy)), NERF_PAIRED, paired_stem)
    paths += write_table(stages_table(tidy), NERF_STAGES, stages_stem)
    by_dataset = quality_table(tidy, by=("dataset", "method", "space"))
    paths += write_table(by_dataset, NERF_QUALITY_BY_DATASET, by_dataset_stem)
    write_json_atomic(summary_path, summary_metrics(quality))
    paths.append(summary_path)
    paths += write_table(speed_table(tidy), NERF_SPEED, speed_stem)
    paths += write_table(autoencoder_table(dict(autoencoder_metrics)), AUTOENCODER_QUALITY, autoencoder_stem)
    return paths


def build_ablation_table(
    nerf_metrics: Sequence[Path], autoencoder_metrics: Mapping[str, Path], stem: Path
) -> list[Path]:
    """The loss-ablation table (CSV, Markdown, LaTeX at ``stem``) from the variants' NeRF and AE metrics."""
    table = ablation_table(tidy_nerf_metrics(nerf_metrics), autoencoder_metrics)
    return write_table(table, LOSS_ABLATION, stem)


def build_study(
    nerf_metrics: Sequence[Path],
    igae_records: Mapping[str, Path],
    base: tuple[int, int],
    table_stem: Path,
    figure_stem: Path,
) -> list[Path]:
    """The scale study's table (CSV, Markdown, LaTeX at ``table_stem``) and figure (PNG, PDF at ``figure_stem``)
    from the points' and the standard AE's NeRF metrics and each point's stage-2 record; ``base`` = (IG-AE scenes
    of the epochs sweep, stage-2 epochs of the scenes sweep)."""
    from igae.reporting import figures

    table = study_table(tidy_nerf_metrics(nerf_metrics), igae_records)
    paths = write_table(table, SCALE_STUDY, table_stem)
    paths += figures.save_figure(figures.study_gain(table, *base), figure_stem)
    return paths


IGAE_CURVES = ("loss", "test/latent_psnr", "test/render_psnr", "real_heldout/ae_psnr")


def build_figures(
    nerf_metrics: Sequence[Path], nerf_strips: Sequence[Path], igae_logs: Mapping[str, Path], out_dir: Path
) -> list[Path]:
    """Qualitative grids (one per scene), PSNR bars, speed-quality scatter and IG-AE curves, as PNG and PDF."""
    from igae.reporting import figures

    tidy = tidy_nerf_metrics(nerf_metrics)
    by_scene: dict[str, dict[tuple[str, str], Path]] = {}
    for strip in map(Path, nerf_strips):
        space, method, scene = run_key(strip)
        by_scene.setdefault(scene, {})[(method, space)] = strip
    paths = []
    for scene, strips in sorted(by_scene.items()):
        paths += figures.save_figure(figures.qualitative_grid(strips, scene), out_dir / f"{QUALITATIVE}_{scene}")
    psnr_stem, paired_stem, speed_stem, curves_stem = (out_dir / stem for stem in FIGURES)
    paths += figures.save_figure(figures.psnr_bars(quality_table(tidy)), psnr_stem)
    differences = paired_differences(tidy)
    paths += figures.save_figure(figures.paired_differences(differences, paired_table(differences)), paired_stem)
    paths += figures.save_figure(figures.speed_quality_scatter(tidy), speed_stem)
    paths += figures.save_figure(figures.igae_curves(igae_logs, IGAE_CURVES), curves_stem)
    return paths


def summary_metrics(quality) -> dict:
    """``{method: {space: {psnr, ssim, lpips}}}``, the means over scenes (``dvc metrics show`` reads it)."""
    summary: dict = {}
    for (method, space), values in quality.iterrows():
        summary.setdefault(method, {})[space] = {metric: round(float(values[metric]), 4) for metric in QUALITY_METRICS}
    return summary
