"""Collect the per-run NeRF metrics into one tidy table, and summarise it into the paper's quality table.

The tidy table has one row per (scene, method, space, metric): ``space`` is ``standard`` or ``igae`` (latent
NeRFs through that autoencoder) or ``rgb`` (the baseline). Summaries average over scenes, and refuse to do so
silently over fewer scenes than others have: a (method, space) that lacks a scene is reported by name.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable, Sequence

import pandas as pd

from igae.errors import IgaeError

SPACES = ("standard", "igae", "rgb")
SPACE_LABELS = {"standard": "standard AE", "igae": "IG-AE", "rgb": "RGB"}
QUALITY_METRICS = ("psnr", "ssim", "lpips")
HIGHER_IS_BETTER = {"psnr": True, "ssim": True, "lpips": False, "latent_psnr": True, "autoencoder_psnr": True}
TIMING_FIELDS = ("train_seconds", "train_iterations_per_second", "render_seconds_per_image")


class ReportError(IgaeError):
    """A metrics file that cannot be read, or runs missing from a table."""


def read_nerf_record(path: Path) -> dict:
    """One run's metrics JSON (``igae train-nerf``), checked for the fields the tables use."""
    try:
        record = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise ReportError(f"{path}: not a readable metrics JSON ({error})") from None
    missing = [key for key in ("method", "scene", "metrics", *TIMING_FIELDS) if key not in record]
    if missing:
        raise ReportError(f"{path}: missing {', '.join(missing)} (expected the output of igae train-nerf)")
    return record


def tidy_nerf_metrics(root: Path) -> pd.DataFrame:
    """Every ``<root>/<space>/<method>/<scene>.json`` as rows (scene, method, space, metric, value)."""
    paths = sorted(root.glob("*/*/*.json"))
    if not paths:
        raise ReportError(f"no NeRF metrics under {root} (expected <space>/<method>/<scene>.json)")
    rows = []
    for path in paths:
        space, method, scene = path.parent.parent.name, path.parent.name, path.stem
        if space not in SPACES:
            raise ReportError(f"{path}: unknown space '{space}' (expected one of {', '.join(SPACES)})")
        record = read_nerf_record(path)
        values = {**record["metrics"], **{field: record[field] for field in TIMING_FIELDS}}
        rows += [
            {"scene": scene, "method": method, "space": space, "metric": metric, "value": float(value)}
            for metric, value in values.items()
        ]
    return pd.DataFrame(rows, columns=["scene", "method", "space", "metric", "value"])


def check_complete(tidy: pd.DataFrame) -> None:
    """Every (method, space) must have every scene that any run has: name the missing runs otherwise."""
    scenes = set(tidy["scene"])
    missing = []
    for (method, space), group in tidy.groupby(["method", "space"]):
        missing += [f"{space}/{method}/{scene}" for scene in sorted(scenes - set(group["scene"]))]
    if missing:
        raise ReportError(f"runs missing from the tables (the average would cover fewer scenes): {', '.join(missing)}")


def quality_table(tidy: pd.DataFrame, metrics: Sequence[str] = QUALITY_METRICS) -> pd.DataFrame:
    """Mean and std over scenes of each metric, one row per (method, space); columns ``<metric>``, ``<metric>_std``."""
    check_complete(tidy)
    selected = tidy[tidy["metric"].isin(metrics)]
    per_run = selected.pivot_table(index=["method", "space", "scene"], columns="metric", values="value")
    grouped = per_run.groupby(level=["method", "space"])
    table = grouped.mean()[list(metrics)].join(grouped.std(ddof=0)[list(metrics)].add_suffix("_std"))
    order = {space: index for index, space in enumerate(SPACES)}
    return table.sort_index(key=lambda level: level.map(order) if level.name == "space" else level)


def best_marks(table: pd.DataFrame, metrics: Iterable[str]) -> pd.DataFrame:
    """True where a value is the best of its method (over spaces) for that metric."""
    marks = pd.DataFrame(False, index=table.index, columns=list(metrics))
    for metric in marks.columns:
        column = table[metric]
        best = column.groupby(level="method").transform("max" if HIGHER_IS_BETTER[metric] else "min")
        marks[metric] = column == best
    return marks
