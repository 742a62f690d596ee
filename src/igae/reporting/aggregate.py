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
HIGHER_IS_BETTER = {
    "psnr": True, "ssim": True, "lpips": False, "latent_psnr": True, "autoencoder_psnr": True,
    "train_seconds": False, "train_iterations_per_second": True, "render_seconds_per_image": False,
    "train_speedup": True, "render_speedup": True,
}  # fmt: skip
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


def run_key(path: Path) -> tuple[str, str, str]:
    """(space, method, scene) of a run's file ``.../<space>/<method>/<scene>.<ext>`` (metrics or views strip)."""
    path = Path(path)
    if path.parent.parent.name not in SPACES:
        raise ReportError(f"{path}: unknown space '{path.parent.parent.name}' (expected one of {', '.join(SPACES)})")
    return path.parent.parent.name, path.parent.name, path.stem


def tidy_nerf_metrics(paths: Sequence[Path]) -> pd.DataFrame:
    """Runs' metrics JSONs (``.../<space>/<method>/<scene>.json``) as rows (scene, method, space, metric, value)."""
    if not paths:
        raise ReportError("no NeRF metrics given (expected files <space>/<method>/<scene>.json)")
    rows = []
    for path in map(Path, paths):
        space, method, scene = run_key(path)
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
    return _space_order(table)


def best_marks(table: pd.DataFrame, metrics: Iterable[str], group: str) -> pd.DataFrame:
    """True where a value is the best of its ``group`` (an index level, e.g. each method over spaces)."""
    marks = pd.DataFrame(False, index=table.index, columns=list(metrics))
    for metric in marks.columns:
        column = table[metric]
        best = column.groupby(level=group).transform("max" if HIGHER_IS_BETTER[metric] else "min")
        marks[metric] = column == best
    return marks


def speed_table(tidy: pd.DataFrame) -> pd.DataFrame:
    """Training time, iterations/s and render time per image (decoding included), mean over scenes, per
    (method, space); for latent spaces also the speed-ups over the RGB run of the same method and scene
    (``train_speedup`` = RGB training seconds / latent, ``render_speedup`` likewise), averaged over scenes."""
    check_complete(tidy)
    per_run = tidy[tidy["metric"].isin(TIMING_FIELDS)].pivot_table(
        index=["method", "space", "scene"], columns="metric", values="value"
    )
    table = per_run.groupby(level=["method", "space"]).mean()[list(TIMING_FIELDS)]
    if "rgb" in per_run.index.get_level_values("space"):
        rgb = per_run.xs("rgb", level="space")
        ratios = pd.DataFrame(
            {
                "train_speedup": rgb["train_seconds"].reindex(per_run.index.droplevel("space")).values
                / per_run["train_seconds"].values,
                "render_speedup": rgb["render_seconds_per_image"].reindex(per_run.index.droplevel("space")).values
                / per_run["render_seconds_per_image"].values,
            },
            index=per_run.index,
        )
        table = table.join(ratios.groupby(level=["method", "space"]).mean())
        table.loc[table.index.get_level_values("space") == "rgb", ["train_speedup", "render_speedup"]] = float("nan")
    return _space_order(table)


def autoencoder_table(records: dict[str, Path]) -> pd.DataFrame:
    """Reconstruction PSNR / SSIM / LPIPS per autoencoder (label -> evaluate-autoencoder JSON) and image set."""
    rows = []
    for label, path in records.items():
        try:
            record = json.loads(Path(path).read_text())
            sets = record["sets"]
        except (OSError, json.JSONDecodeError, KeyError) as error:
            raise ReportError(f"{path}: not an autoencoder evaluation JSON ({error})") from None
        for image_set, values in sets.items():
            rows.append({"autoencoder": label, "image_set": image_set, **{m: values[m] for m in QUALITY_METRICS}})
    return (
        pd.DataFrame(rows).set_index(["image_set", "autoencoder"]).sort_index(level="image_set", sort_remaining=False)
    )


def _space_order(table: pd.DataFrame) -> pd.DataFrame:
    order = {space: index for index, space in enumerate(SPACES)}
    return table.sort_index(key=lambda level: level.map(order) if level.name == "space" else level)
