"""The paper's figures (PNG and PDF) from the pipeline's outputs; nothing is retrained.

* :func:`qualitative_grid`: per evaluation scene, one held-out view: ground truth | standard-AE latent NeRF |
  IG-AE latent NeRF | RGB NeRF, one row per method (cut from each run's held-out-view strip);
* :func:`psnr_bars`: decoded PSNR per method and space, error bars = std over scenes;
* :func:`paired_differences`: per method, the paired difference of each metric per scene (dots) and its mean
  with its 95% interval, for each comparison of spaces;
* :func:`speed_quality_scatter`: render time per image (log scale) against PSNR, every run;
* :func:`igae_curves`: IG-AE training curves (losses and held-out PSNRs per step) of both stages;
* :func:`study_gain`: the scale study, the IG-AE's paired gain per method against IG-AE scenes and stage-2 steps;
* :func:`latent_channels`: the channels of an encoded held-out view and of the latent NeRF's render of it, per
  autoencoder (re-rendered from the runs' checkpoints by ``igae report-latents``).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from PIL import Image  # noqa: E402

from igae.io_utils import write_bytes_atomic  # noqa: E402
from igae.reporting.aggregate import SPACE_LABELS, SPACES, ReportError  # noqa: E402

GRID_COLUMNS = ("ground truth", *SPACES)


def save_figure(figure: plt.Figure, stem: Path) -> list[Path]:
    """``stem``.png (150 dpi) and ``stem``.pdf, written atomically."""
    paths = []
    for suffix, options in ((".png", {"dpi": 150}), (".pdf", {})):
        buffer = io.BytesIO()
        figure.savefig(buffer, format=suffix[1:], bbox_inches="tight", **options)
        path = stem.with_suffix(suffix)
        write_bytes_atomic(path, buffer.getvalue())
        paths.append(path)
    plt.close(figure)
    return paths


def held_out_view(strip: Path, view: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(render, ground truth) of held-out view ``view`` from a run's strip (renders above ground truth)."""
    try:
        image = np.asarray(Image.open(strip).convert("RGB"))
    except OSError as error:
        raise ReportError(f"{strip}: not a readable held-out-view strip ({error})") from None
    size = image.shape[0] // 2
    if image.shape[1] < (view + 1) * size:
        raise ReportError(f"{strip}: has no held-out view {view}")
    columns = slice(view * size, (view + 1) * size)
    return image[:size, columns], image[size:, columns]


def qualitative_grid(strips: Mapping[tuple[str, str], Path], scene: str, view: int = 0) -> plt.Figure:
    """``strips[(method, space)]`` of one scene -> rows of methods, columns GT | standard | IG-AE | RGB."""
    methods = sorted({method for method, _ in strips})
    figure, axes = plt.subplots(len(methods), len(GRID_COLUMNS), figsize=(2 * len(GRID_COLUMNS), 2 * len(methods)))
    axes = np.atleast_2d(axes)
    for row, method in enumerate(methods):
        ground_truth = None
        for column, space in enumerate(SPACES, start=1):
            axis = axes[row, column]
            if (method, space) in strips:
                render, ground_truth = held_out_view(strips[(method, space)], view)
                axis.imshow(render)
            axis.set_axis_off()
            if row == 0:
                axis.set_title(SPACE_LABELS[space])
        axes[row, 0].imshow(ground_truth if ground_truth is not None else np.ones((8, 8, 3)))
        axes[row, 0].set_xticks([])
        axes[row, 0].set_yticks([])
        axes[row, 0].set_ylabel(method)
        if row == 0:
            axes[row, 0].set_title("ground truth")
    figure.suptitle(f"{scene}, held-out view {view}")
    return figure


def psnr_bars(quality: pd.DataFrame) -> plt.Figure:
    """Bars of mean decoded PSNR per method (groups) and space (colours), std over scenes as error bars."""
    methods = list(dict.fromkeys(quality.index.get_level_values("method")))
    spaces = [space for space in SPACES if space in set(quality.index.get_level_values("space"))]
    width = 0.8 / len(spaces)
    figure, axis = plt.subplots(figsize=(1.6 * len(methods) + 2, 3.5))
    for index, space in enumerate(spaces):
        rows = [quality.loc[(method, space)] if (method, space) in quality.index else None for method in methods]
        means = [row["psnr"] if row is not None else np.nan for row in rows]
        spreads = [row.get("psnr_std", 0.0) if row is not None else 0.0 for row in rows]
        positions = np.arange(len(methods)) + (index - (len(spaces) - 1) / 2) * width
        axis.bar(positions, means, width, yerr=spreads, capsize=3, label=SPACE_LABELS[space])
    axis.set_xticks(np.arange(len(methods)), methods)
    axis.set_ylabel("PSNR (dB), held-out views")
    axis.legend()
    axis.grid(axis="y", alpha=0.3)
    return figure


def paired_differences(differences: pd.DataFrame, table: pd.DataFrame) -> plt.Figure:
    """One panel per metric (PSNR, SSIM, LPIPS): per method, each comparison's per-scene differences (dots) and
    their mean with its confidence interval (bar); the zero line is no difference."""
    from igae.reporting.aggregate import HIGHER_IS_BETTER, QUALITY_METRICS
    from igae.reporting.statistics import COMPARISONS, comparison_name

    methods = list(dict.fromkeys(table.index.get_level_values("method")))
    present = set(table.index.get_level_values("comparison"))
    comparisons = [(a, b) for a, b in COMPARISONS if comparison_name(a, b) in present]
    figure, axes = plt.subplots(1, len(QUALITY_METRICS), figsize=(4.2 * len(QUALITY_METRICS), 3.6))
    width = 0.8 / max(len(comparisons), 1)
    for axis, metric in zip(axes, QUALITY_METRICS):
        for index, (a, b) in enumerate(comparisons):
            name = comparison_name(a, b)
            offset = (index - (len(comparisons) - 1) / 2) * width
            for position, method in enumerate(methods):
                if (method, name) not in table.index:
                    continue
                row = table.loc[(method, name)]
                scenes = differences.loc[(method, name)][metric].to_numpy()
                jitter = np.linspace(-0.25, 0.25, len(scenes)) * width if len(scenes) > 1 else np.zeros(1)
                axis.scatter(position + offset + jitter, scenes, s=10, color=f"C{index}", alpha=0.45, linewidths=0)
                low, high = row[f"{metric}_low"], row[f"{metric}_high"]
                error = None if pd.isna(low) else [[row[metric] - low], [high - row[metric]]]
                axis.errorbar(position + offset, row[metric], yerr=error, fmt="o", color=f"C{index}", capsize=4,
                              label=f"{SPACE_LABELS[a]} − {SPACE_LABELS[b]}" if position == 0 else None)  # fmt: skip
        axis.axhline(0.0, color="black", linewidth=0.8)
        axis.set_xticks(np.arange(len(methods)), methods)
        better = "higher" if HIGHER_IS_BETTER[metric] else "lower"
        axis.set_title(f"{metric.upper()} difference ({better} is better for the first)", fontsize=9)
        axis.grid(axis="y", alpha=0.3)
    axes[0].set_ylabel("paired difference per scene; mean, 95% CI")
    axes[0].legend(fontsize=8)
    scenes = ", ".join(str(n) for n in sorted(set(table["scenes"])))
    intervals = ", ".join(sorted(set(table["interval"])))
    figure.suptitle(f"{scenes} evaluation scenes per comparison; interval: {intervals}", fontsize=9)
    return figure


def speed_quality_scatter(tidy: pd.DataFrame) -> plt.Figure:
    """Each run: seconds per rendered image (decoding included) against decoded PSNR."""
    per_run = tidy.pivot_table(index=["method", "space", "scene"], columns="metric", values="value").reset_index()
    figure, axis = plt.subplots(figsize=(5.5, 4))
    markers = dict(zip(sorted(per_run["method"].unique()), "osD^vP*X"))
    for space in SPACES:
        for method, rows in per_run[per_run["space"] == space].groupby("method"):
            axis.scatter(
                rows["render_seconds_per_image"], rows["psnr"], marker=markers[method], color=f"C{SPACES.index(space)}",
                label=f"{method}, {SPACE_LABELS[space]}",
            )  # fmt: skip
    axis.set_xscale("log")
    axis.set_xlabel("seconds per rendered image (log)")
    axis.set_ylabel("PSNR (dB)")
    axis.legend(fontsize=6, ncol=2)
    axis.grid(alpha=0.3)
    return figure


def igae_curves(stage_logs: Mapping[str, Path], columns: Sequence[str]) -> plt.Figure:
    """One panel per column of the IG-AE ``metrics.csv`` files, one line per stage (steps continue across)."""
    figure, axes = plt.subplots(1, len(columns), figsize=(3.2 * len(columns), 3))
    axes = np.atleast_1d(axes)
    offset = 0
    for stage, path in stage_logs.items():
        try:
            log = pd.read_csv(path)
        except (OSError, pd.errors.ParserError) as error:
            raise ReportError(f"{path}: not a readable training log ({error})") from None
        for axis, column in zip(axes, columns):
            if column in log:
                rows = log[["step", column]].dropna()
                axis.plot(rows["step"] + offset, rows[column], marker="." if len(rows) < 30 else None, label=stage)
        offset += int(log["step"].max())
    for axis, column in zip(axes, columns):
        axis.set_title(column)
        axis.set_xlabel("step")
        axis.grid(alpha=0.3)
    axes[0].legend()
    return figure


def study_gain(table: pd.DataFrame, base_scenes: int, base_epochs: int) -> plt.Figure:
    """The scale study (:func:`igae.reporting.statistics.study_table`): per method, the IG-AE minus standard-AE
    paired difference with its 95% interval, decoded PSNR at the end of each NeRF stage (top) and latent PSNR
    (bottom), against the number of IG-AE scenes (at ``base_epochs`` stage-2 epochs, left) and against stage-2
    steps (at ``base_scenes`` scenes, right)."""
    points = table.reset_index()
    sweeps = (
        ("IG-AE scenes", "igae_scenes", points[points["train_epochs"] == base_epochs], f"{base_epochs} stage-2 epochs"),
        ("stage-2 steps", "steps", points[points["igae_scenes"] == base_scenes], f"{base_scenes} IG-AE scenes"),
    )
    rows = (
        (("psnr", "-", "after RGB alignment"), ("stage1_psnr", "--", "after latent supervision")),
        (("latent_psnr", "-", "latent"),),
    )
    figure, axes = plt.subplots(2, 2, figsize=(10, 7), sharey="row")
    methods = list(dict.fromkeys(points["method"]))
    for column, (label, x, sweep, fixed) in enumerate(sweeps):
        for row, curves in enumerate(rows):
            axis = axes[row, column]
            for index, method in enumerate(methods):
                runs = sweep[sweep["method"] == method].sort_values(x)
                for metric, style, stage in curves:
                    low, high = runs[f"{metric}_low"], runs[f"{metric}_high"]
                    error = None if low.isna().all() else [runs[metric] - low, high - runs[metric]]
                    axis.errorbar(runs[x] + (index - (len(methods) - 1) / 2) * 0.01 * runs[x], runs[metric],
                                  yerr=error, fmt=f"o{style}", color=f"C{index}", capsize=3,
                                  label=f"{method}, {stage}")  # fmt: skip
            axis.axhline(0.0, color="black", linewidth=0.8)
            axis.set_xscale("log")
            axis.set_xticks(sorted(set(sweep[x])), [str(int(v)) for v in sorted(set(sweep[x]))])
            axis.minorticks_off()
            axis.set_xlabel(f"{label} ({fixed})")
            axis.grid(alpha=0.3)
    axes[0, 0].set_ylabel("IG-AE − standard AE: decoded PSNR (dB)")
    axes[1, 0].set_ylabel("IG-AE − standard AE: latent PSNR (dB)")
    for row in range(2):
        axes[row, 1].legend(fontsize=7)
    scenes = ", ".join(str(int(n)) for n in sorted(set(points["scenes"])))
    intervals = ", ".join(sorted(set(points["interval"])))
    figure.suptitle(
        f"Scale study: paired gain per method, mean and 95% CI over {scenes} evaluation scenes (interval: {intervals})",
        fontsize=10,
    )
    figure.tight_layout()
    return figure


def latent_channels(views: Mapping[str, Mapping[str, np.ndarray]]) -> plt.Figure:
    """Per autoencoder (``views[label]`` from :func:`igae.nerf.run.held_out_latents`), two rows: the encoded
    held-out view E(x) and the latent NeRF's render of it, each as RGB then one panel per latent channel. A
    channel's grey scale spans its range over both rows, so the two rows compare directly."""
    channels = max(view["encoded"].shape[-1] for view in views.values())
    figure, axes = plt.subplots(2 * len(views), channels + 1, figsize=(0.9 * (channels + 1), 1.0 * 2 * len(views)))
    axes = np.atleast_2d(axes)
    for block, (label, view) in enumerate(views.items()):
        low = np.minimum(view["encoded"].min(axis=(0, 1)), view["rendered"].min(axis=(0, 1)))
        high = np.maximum(view["encoded"].max(axis=(0, 1)), view["rendered"].max(axis=(0, 1)))
        rows = (("E(x)", view["encoded"], view["ground_truth"]), ("NeRF render", view["rendered"], view["decoded"]))
        for offset, (name, latent, rgb) in enumerate(rows):
            row = axes[2 * block + offset]
            row[0].imshow(rgb)
            row[0].set_ylabel(f"{SPACE_LABELS.get(label, label)}\n{name}", fontsize=6)
            for channel in range(channels):
                if channel < latent.shape[-1]:
                    limits = {"vmin": low[channel], "vmax": max(high[channel], low[channel] + 1e-6)}
                    row[channel + 1].imshow(latent[..., channel], cmap="gray", interpolation="nearest", **limits)
                if block == 0 and offset == 0:
                    row[channel + 1].set_title(f"c{channel}", fontsize=6)
    for axis in axes.flat:
        axis.set_xticks([])
        axis.set_yticks([])
    return figure
