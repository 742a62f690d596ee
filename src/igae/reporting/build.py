"""The paper's tables from the pipeline's metrics files (``igae report-tables``, rule ``report_tables``)."""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

from igae.io_utils import write_bytes_atomic
from igae.reporting.aggregate import (
    QUALITY_METRICS,
    TIMING_FIELDS,
    autoencoder_table,
    quality_table,
    speed_table,
    tidy_nerf_metrics,
)
from igae.reporting.tables import TableSpec, write_table

NERF_QUALITY = TableSpec(
    QUALITY_METRICS,
    best_within="method",
    caption="Latent NeRF quality on held-out views (decoded renders vs ground truth): mean $\\pm$ std over "
    "evaluation scenes; best of each method in bold.",
)
NERF_SPEED = TableSpec(
    (*TIMING_FIELDS, "train_speedup", "render_speedup"),
    best_within="method",
    caption="Training time (iterations only), iterations per second and rendering time per image (decoding "
    "included); speed-ups are RGB over latent for the same method and scene, averaged over scenes.",
)
AUTOENCODER_QUALITY = TableSpec(
    QUALITY_METRICS,
    best_within="image_set",
    caption="Autoencoder reconstruction D(E(x)) on held-out real images and rendered views.",
)


def build_tables(nerf_metrics: Sequence[Path], autoencoder_metrics: Mapping[str, Path], out_dir: Path) -> list[Path]:
    """Write the tidy NeRF metrics (CSV) and the quality, speed and autoencoder tables (CSV, Markdown, LaTeX)."""
    tidy = tidy_nerf_metrics(nerf_metrics)
    tidy_path = out_dir / "nerf_metrics_tidy.csv"
    write_bytes_atomic(tidy_path, tidy.to_csv(index=False).encode())
    paths = [tidy_path]
    paths += write_table(quality_table(tidy), NERF_QUALITY, out_dir / "nerf_quality")
    paths += write_table(speed_table(tidy), NERF_SPEED, out_dir / "nerf_speed")
    paths += write_table(
        autoencoder_table(dict(autoencoder_metrics)), AUTOENCODER_QUALITY, out_dir / "autoencoder_quality"
    )
    return paths
