"""Write summary tables as CSV (full precision), Markdown and LaTeX (best value of each group in bold).

A table is a pandas frame indexed by its row labels (e.g. method x space) whose columns are metrics, with an
optional ``<metric>_std`` column each (then cells read ``mean ± std``), or ``<metric>_low`` and ``<metric>_high``
(a confidence interval: cells read ``+mean [low, high]``, in bold where the interval excludes zero).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import pandas as pd

from igae.io_utils import write_bytes_atomic
from igae.reporting.aggregate import SPACE_LABELS, best_marks
from igae.reporting.outputs import TABLE_FORMATS
from igae.reporting.statistics import COMPARISONS, comparison_name
from igae.training.ablation import ABLATION_TERMS, variant_label, variant_names

DIGITS = {"psnr": 2, "latent_psnr": 2, "autoencoder_psnr": 2, "train_seconds": 1, "train_iterations_per_second": 2,
          "render_seconds_per_image": 4, "train_speedup": 2, "render_speedup": 1,
          "autoencoder_real_heldout_psnr": 2, "autoencoder_rendered_heldout_psnr": 2, "scenes": 0,
          "stage1_psnr": 2, "steps": 0, "monitor_render_psnr": 2, "real_ae_psnr": 2, "colour_error": 1}  # fmt: skip
HEADERS = {
    "psnr": ("PSNR ↑", r"PSNR $\uparrow$"),
    "ssim": ("SSIM ↑", r"SSIM $\uparrow$"),
    "lpips": ("LPIPS ↓", r"LPIPS $\downarrow$"),
    "train_seconds": ("train s ↓", r"train s $\downarrow$"),
    "train_iterations_per_second": ("it/s ↑", r"it/s $\uparrow$"),
    "render_seconds_per_image": ("s / image ↓", r"s / image $\downarrow$"),
    "train_speedup": ("train speed-up vs RGB ↑", r"train speed-up vs RGB $\uparrow$"),
    "render_speedup": ("render speed-up vs RGB ↑", r"render speed-up vs RGB $\uparrow$"),
    "autoencoder_real_heldout_psnr": ("AE PSNR real ↑", r"AE PSNR real $\uparrow$"),
    "autoencoder_rendered_heldout_psnr": ("AE PSNR rendered ↑", r"AE PSNR rendered $\uparrow$"),
    "scenes": ("scenes", "scenes"),
    "stage1_psnr": ("PSNR stage 1 ↑", r"PSNR stage 1 $\uparrow$"),
    "stage1_ssim": ("SSIM stage 1 ↑", r"SSIM stage 1 $\uparrow$"),
    "stage1_lpips": ("LPIPS stage 1 ↓", r"LPIPS stage 1 $\downarrow$"),
    "latent_psnr": ("latent PSNR ↑", r"latent PSNR $\uparrow$"),
    "autoencoder_psnr": ("AE ceiling PSNR ↑", r"AE ceiling PSNR $\uparrow$"),
    "steps": ("stage-2 steps", "stage-2 steps"),
    "monitor_render_psnr": ("IG-AE monitor PSNR ↑", r"IG-AE monitor PSNR $\uparrow$"),
    "real_ae_psnr": ("AE PSNR real ↑", r"AE PSNR real $\uparrow$"),
    "colour_error": ("colour error ↓", r"colour error $\downarrow$"),
}
INDEX_HEADERS = {
    "method": "Method", "space": "Space", "image_set": "Images", "autoencoder": "Autoencoder",
    "variant": "Autoencoder", "dataset": "Dataset", "comparison": "Paired difference",
    "igae_scenes": "IG-AE scenes", "train_epochs": "stage-2 epochs",
}  # fmt: skip
LABELS = {
    **SPACE_LABELS,
    **{variant: variant_label(variant) for variant in variant_names(ABLATION_TERMS)},
    "real_heldout": "real (held out)",
    "rendered_heldout": "rendered (held out)",
    "real_heldout_recoloured": "real, channels rotated (held out)",
    **{comparison_name(a, b): f"{SPACE_LABELS[a]} − {SPACE_LABELS[b]}" for a, b in COMPARISONS},
}


@dataclass(frozen=True)
class TableSpec:
    """What to show: the metric columns, and the index level within which the best value is marked."""

    metrics: Sequence[str]
    best_within: str | tuple[str, ...] | None  # index level(s) within which the best value is marked; None:
    caption: str  # mark instead the intervals that exclude zero


def _interval_marks(table: pd.DataFrame, metrics: Sequence[str]) -> pd.DataFrame:
    """True where ``<metric>_low`` > 0 or ``<metric>_high`` < 0 (the interval excludes zero)."""
    marks = pd.DataFrame(False, index=table.index, columns=list(metrics))
    for metric in metrics:
        if f"{metric}_low" in table.columns:
            marks[metric] = (table[f"{metric}_low"] > 0) | (table[f"{metric}_high"] < 0)
    return marks


def _cells(table: pd.DataFrame, spec: TableSpec, bold: str) -> list[list[str]]:
    if spec.best_within is None:
        marks = _interval_marks(table, spec.metrics)
    else:
        marks = best_marks(table, spec.metrics, spec.best_within)
    rows = []
    for labels, values in table.iterrows():
        labels = labels if isinstance(labels, tuple) else (labels,)
        cells = [LABELS.get(label, str(label)) for label in labels]
        for metric in spec.metrics:
            digits = DIGITS.get(metric, 3)
            if pd.isna(values[metric]):
                cells.append("-")
                continue
            text = f"{values[metric]:.{digits}f}"
            if f"{metric}_std" in table.columns:
                text += f" ± {values[f'{metric}_std']:.{digits}f}"
            if f"{metric}_low" in table.columns:
                low, high = values[f"{metric}_low"], values[f"{metric}_high"]
                text = f"{values[metric]:+.{digits}f}"
                text += "" if pd.isna(low) else f" [{low:+.{digits}f}, {high:+.{digits}f}]"
            cells.append(bold.format(text) if marks.loc[labels if len(labels) > 1 else labels[0], metric] else text)
        rows.append(cells)
    return rows


def _header(table: pd.DataFrame, spec: TableSpec, latex: bool) -> list[str]:
    names = [INDEX_HEADERS.get(name, name) for name in table.index.names]
    return names + [HEADERS.get(metric, (metric, metric))[int(latex)] for metric in spec.metrics]


def markdown_table(table: pd.DataFrame, spec: TableSpec) -> str:
    header = _header(table, spec, latex=False)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in _cells(table, spec, "**{}**")]
    return "\n".join(lines) + "\n"


def latex_table(table: pd.DataFrame, spec: TableSpec, label: str) -> str:
    """A ``table`` environment with one ``tabular`` (booktabs rules), ± as ``$\\pm$``."""
    levels = table.index.nlevels
    lines = [
        r"\begin{table}[t]",
        r"\centering",
        r"\begin{tabular}{" + "l" * levels + "c" * len(spec.metrics) + "}",
        r"\toprule",
        " & ".join(_header(table, spec, latex=True)) + r" \\",
        r"\midrule",
    ]
    for row in _cells(table, spec, r"\textbf{{{}}}"):
        lines.append(" & ".join(_latex_escape(cell) for cell in row).replace("±", r"$\pm$") + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", rf"\caption{{{spec.caption}}}", rf"\label{{{label}}}", r"\end{table}"]
    return "\n".join(lines) + "\n"


def write_table(table: pd.DataFrame, spec: TableSpec, stem: Path) -> list[Path]:
    """``stem``.csv, .md and .tex, each written atomically; returns the paths."""
    paths = [stem.with_suffix(f".{suffix}") for suffix in TABLE_FORMATS]
    write_bytes_atomic(paths[0], table.reset_index().to_csv(index=False).encode())
    write_bytes_atomic(paths[1], markdown_table(table, spec).encode())
    write_bytes_atomic(paths[2], latex_table(table, spec, f"tab:{stem.name}").encode())
    return paths


def _latex_escape(text: str) -> str:
    for plain, escaped in (("_", r"\_"), ("%", r"\%"), ("&", r"\&"), ("#", r"\#")):
        text = text.replace(plain, escaped)
    return text
