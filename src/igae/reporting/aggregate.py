"""Collect the per-run NeRF metrics into one tidy table, and summarise it into the paper's quality table.

The tidy table has one row per (scene, method, space, metric): ``space`` is ``standard`` or ``igae`` (latent
NeRFs through that autoencoder) or ``rgb`` (the baseline). Summaries average over scenes, and refuse to do so
silently over fewer scenes than others have: a (method, space) that lacks a scene is reported by name.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import pandas as pd

from igae.errors import ConfigError, IgaeError
from igae.evaluation.image_metrics import AUTOENCODER_METRICS
from igae.reporting.outputs import STUDY_PREFIX
from igae.training.ablation import ABLATION_TERMS, FULL, variant_names, variant_term

SPACES = ("standard", "igae", "rgb")
#: Latent spaces of the loss ablation's IG-AE variants: ``ablation-full``, ``ablation-no-<term>``.
ABLATION_PREFIX = "ablation-"
#: Rows of the ablation table: the standard AE (reference), then the variants in ABLATION_TERMS order.
ABLATION_ROWS = ("standard", *variant_names(ABLATION_TERMS))
#: Latent spaces of the scale study's IG-AEs, one per point.
STUDY_SPACE = re.compile(rf"{STUDY_PREFIX}s[0-9]+-e[0-9]+")
SPACE_LABELS = {"standard": "standard AE", "igae": "IG-AE", "rgb": "RGB"}
QUALITY_METRICS = ("psnr", "ssim", "lpips")
#: Decoded quality at the end of latent supervision (stage 1, before RGB alignment fine-tunes the decoder).
STAGE1_PREFIX = "stage1_"
#: Where a latent run's gain appears (stage 1, latent PSNR) and where it ends (stage 2), against the AE's ceiling.
STAGE_METRICS = ("stage1_psnr", "psnr", "stage1_lpips", "lpips", "latent_psnr", "autoencoder_psnr")
HIGHER_IS_BETTER = {
    "stage1_psnr": True, "stage1_ssim": True, "stage1_lpips": False,
    "psnr": True, "ssim": True, "lpips": False, "latent_psnr": True, "autoencoder_psnr": True,
    "train_seconds": False, "train_iterations_per_second": True, "render_seconds_per_image": False,
    "train_speedup": True, "render_speedup": True,
    "autoencoder_real_heldout_psnr": True, "autoencoder_rendered_heldout_psnr": True, "colour_error": False,
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
    space = path.parent.parent.name
    if space not in SPACES and _ablation_variant(space) is None and not STUDY_SPACE.fullmatch(space):
        raise ReportError(
            f"{path}: unknown space '{space}' (expected one of {', '.join(SPACES)}, {ABLATION_PREFIX}<variant> or "
            f"{STUDY_PREFIX}s<scenes>-e<epochs>)"
        )
    return space, path.parent.name, path.stem


def _ablation_variant(space: str) -> str | None:
    """The variant of an ablation space name (``ablation-no-rgb`` -> ``no-rgb``), None for any other name."""
    if not space.startswith(ABLATION_PREFIX):
        return None
    try:
        variant_term(space[len(ABLATION_PREFIX) :])
    except ConfigError:
        return None
    return space[len(ABLATION_PREFIX) :]


def tidy_nerf_metrics(paths: Sequence[Path], datasets: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Runs' metrics JSONs (``.../<space>/<method>/<scene>.json``) as rows (dataset, scene, method, space,
    metric, value); ``datasets`` maps each scene to its dataset (see :func:`scene_datasets`), else all ``all``."""
    if not paths:
        raise ReportError("no NeRF metrics given (expected files <space>/<method>/<scene>.json)")
    rows = []
    for path in map(Path, paths):
        space, method, scene = run_key(path)
        record = read_nerf_record(path)
        if datasets is not None and scene not in datasets:
            raise ReportError(f"{path}: scene '{scene}' is not in the scene index")
        dataset = "all" if datasets is None else datasets[scene]
        values = {**record["metrics"], **{field: record[field] for field in TIMING_FIELDS}}
        stage1 = record.get("latent_supervision_end")  # None for RGB runs and runs without an alignment stage
        if stage1:
            values.update({f"{STAGE1_PREFIX}{name}": stage1["metrics"][name] for name in QUALITY_METRICS})
        key = {"dataset": dataset, "scene": scene, "method": method, "space": space}
        rows += [{**key, "metric": metric, "value": float(value)} for metric, value in values.items()]
    return pd.DataFrame(rows, columns=["dataset", "scene", "method", "space", "metric", "value"])


def scene_datasets(scene_index: Path) -> dict[str, str]:
    """Scene -> dataset (the asset folder's category, or ``procedural``) from ``results/renders/index.json``."""
    try:
        splits = json.loads(Path(scene_index).read_text())["splits"]
        return {entry["scene"]: entry["dataset"] for entries in splits.values() for entry in entries}
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as error:
        raise ReportError(f"{scene_index}: not a scene index of igae index-scenes ({error})") from None


def check_complete(tidy: pd.DataFrame) -> None:
    """Every (method, space) must have every scene that any run has: name the missing runs otherwise."""
    scenes = set(tidy["scene"])
    missing = []
    for (method, space), group in tidy.groupby(["method", "space"]):
        missing += [f"{space}/{method}/{scene}" for scene in sorted(scenes - set(group["scene"]))]
    if missing:
        raise ReportError(f"runs missing from the tables (the average would cover fewer scenes): {', '.join(missing)}")


def quality_table(
    tidy: pd.DataFrame, metrics: Sequence[str] = QUALITY_METRICS, by: Sequence[str] = ("method", "space")
) -> pd.DataFrame:
    """Mean and std over scenes of each metric, one row per ``by`` (e.g. (dataset, method, space)); columns
    ``<metric>``, ``<metric>_std``."""
    check_complete(tidy)
    selected = tidy[tidy["metric"].isin(metrics)]
    per_run = selected.pivot_table(index=[*by, "scene"], columns="metric", values="value")
    grouped = per_run.groupby(level=list(by))
    table = grouped.mean().reindex(columns=list(metrics))  # a metric no run has (stage 1 of RGB runs): NaN, "-"
    if grouped.size().max() > 1:  # a spread over one scene would read as a misleading ± 0
        table = table.join(grouped.std(ddof=0).reindex(columns=list(metrics)).add_suffix("_std"))
    return _space_order(table)


def best_marks(table: pd.DataFrame, metrics: Iterable[str], group: str | Sequence[str]) -> pd.DataFrame:
    """True where a value is the best of its ``group`` (index levels, e.g. each method over spaces)."""
    marks = pd.DataFrame(False, index=table.index, columns=list(metrics))
    for metric in marks.columns:
        column = table[metric]
        levels = group if isinstance(group, str) else list(group)
        best = column.groupby(level=levels).transform("max" if HIGHER_IS_BETTER[metric] else "min")
        marks[metric] = column == best
    return marks


def stages_table(tidy: pd.DataFrame) -> pd.DataFrame:
    """Latent runs only: decoded quality at the end of stage 1 and of stage 2, latent PSNR and the autoencoder's
    ceiling D(E(x)) on the same views, mean ± std over scenes per (method, space)."""
    latent = tidy[tidy["space"].isin(("standard", "igae"))]
    if latent.empty:
        raise ReportError("no latent NeRF runs: the stages table covers the standard AE and the IG-AE")
    return quality_table(latent, STAGE_METRICS)


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


#: The row label of the linear reference codec in the autoencoder table (evaluate-autoencoder --reference-codec).
REFERENCE_CODEC_LABEL = "PCA codec (same rate)"


def autoencoder_table(records: dict[str, Path]) -> pd.DataFrame:
    """Reconstruction PSNR / SSIM / LPIPS and colour error per autoencoder (label -> evaluate-autoencoder JSON)
    and image set, plus the linear reference codec of the same rate where a record carries it (once, from the
    first)."""
    rows = []
    reference_shown = False
    for label, path in records.items():
        try:
            record = json.loads(Path(path).read_text())
            scored = {label: record["sets"]}
            if "reference_codec" in record and not reference_shown:
                scored[REFERENCE_CODEC_LABEL] = record["reference_codec"]["sets"]
                reference_shown = True
            for name, sets in scored.items():
                for image_set, values in sets.items():
                    rows.append(
                        {"autoencoder": name, "image_set": image_set, **{m: values[m] for m in AUTOENCODER_METRICS}}
                    )
        except (OSError, json.JSONDecodeError, KeyError, TypeError) as error:
            raise ReportError(f"{path}: not an autoencoder evaluation JSON ({error})") from None
    return (
        pd.DataFrame(rows).set_index(["image_set", "autoencoder"]).sort_index(level="image_set", sort_remaining=False)
    )


def ablation_table(tidy: pd.DataFrame, autoencoder_records: Mapping[str, Path]) -> pd.DataFrame:
    """The loss ablation, one row per (method, variant): latent NeRF PSNR / SSIM / LPIPS (mean and std over
    scenes, as :func:`quality_table`) and the variant's reconstruction PSNR on real and rendered held-out images.

    ``tidy`` holds runs of spaces ``ablation-<variant>``, ``igae`` (the reference ``full`` when it is the IG-AE
    itself) and ``standard`` (the reference row); ``autoencoder_records`` maps each variant (and ``standard``)
    to its ``evaluate-autoencoder`` JSON.
    """
    variants = tidy["space"].map(lambda space: {"igae": FULL}.get(space, _ablation_variant(space) or space))
    if not set(variants) <= set(ABLATION_ROWS):
        raise ReportError(f"not ablation runs: spaces {sorted(set(tidy['space'][~variants.isin(ABLATION_ROWS)]))}")
    missing = sorted(set(variants) - set(autoencoder_records))
    if missing:
        raise ReportError(f"no autoencoder evaluation given for ablation variants {', '.join(missing)}")
    table = quality_table(tidy.assign(space=variants)).rename_axis(index={"space": "variant"})
    reconstruction = autoencoder_table({variant: autoencoder_records[variant] for variant in set(variants)})["psnr"]
    for image_set in ("real_heldout", "rendered_heldout"):
        column = reconstruction.xs(image_set, level="image_set")
        table[f"autoencoder_{image_set}_psnr"] = table.index.get_level_values("variant").map(column).values
    return _space_order(table, level="variant", order=ABLATION_ROWS)


def _space_order(table: pd.DataFrame, level: str = "space", order: Sequence[str] = SPACES) -> pd.DataFrame:
    rank = {space: index for index, space in enumerate(order)}
    return table.sort_index(key=lambda values: values.map(rank) if values.name == level else values)
