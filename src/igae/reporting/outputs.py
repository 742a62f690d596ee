"""The report's file names, in one place: the tables and figures ``igae.reporting.build`` writes are the
outputs the workflow's report rules declare (torch- and pandas-free, so the run plan can read them)."""

from __future__ import annotations

#: Tables of ``igae report-tables`` (each ``<stem>.csv``, ``.md`` and ``.tex``; caption ``workflow/report/<stem>.rst``).
TABLES = (
    "nerf_quality", "nerf_paired", "nerf_stages", "nerf_quality_by_dataset", "nerf_speed", "autoencoder_quality",
)  # fmt: skip
TABLE_FORMATS = ("csv", "md", "tex")
#: Every NeRF run's metrics, one row per run, view-averaged (CSV).
TIDY_METRICS = "nerf_metrics_tidy"
#: The loss-ablation table (``igae report-ablation``).
ABLATION_TABLE = "loss_ablation"
#: Figures of ``igae report-figures`` (each PNG and PDF), besides one ``qualitative_<scene>`` per evaluation scene.
FIGURES = ("nerf_psnr", "nerf_paired_differences", "nerf_speed_quality", "igae_training_curves")
QUALITATIVE = "qualitative"
FIGURE_FORMATS = ("png", "pdf")
#: Latent spaces of the scale study's IG-AEs: ``study-s<scenes>-e<epochs>`` (``igae report-study``).
STUDY_PREFIX = "study-"
