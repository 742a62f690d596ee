"""Paired comparisons of NeRF quality between spaces, with bootstrap confidence intervals.

Every space trains on the same evaluation scenes, so the comparison that answers "does the IG-AE beat the standard
AE?" is paired: per scene, the IG-AE run's metric minus the standard-AE run's, for the same method. Their mean is
reported with a 95% confidence interval and the number of scenes, so a reader sees whether a gain is more than
scene-to-scene noise. From :data:`MIN_BOOTSTRAP_SCENES` scenes on, the interval is a bootstrap one
(``scipy.stats.bootstrap``, bias-corrected and accelerated; percentile where BCa is undefined). Below that a
bootstrap interval is no interval at all (with 2 scenes it is just [min, max]), so Student's t interval is given
instead, which is honest about few scenes by being wide. With one scene there is no interval.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from igae.reporting.aggregate import QUALITY_METRICS, ReportError, check_complete
from igae.reporting.outputs import STUDY_PREFIX

#: The paired table's metrics: decoded quality at the end, then where the IG-AE's gain appears (decoded at the end
#: of latent supervision, and in latent space); the last two exist for latent spaces only.
PAIRED_METRICS = (*QUALITY_METRICS, "stage1_psnr", "latent_psnr")

#: (a, b) pairs reported as a - b, in table order: the paper's claim, then each latent space against RGB.
COMPARISONS = (("igae", "standard"), ("standard", "rgb"), ("igae", "rgb"))
CONFIDENCE = 0.95
RESAMPLES = 10_000
#: The fewest scenes for which the bootstrap interval is used (fewer: Student's t).
MIN_BOOTSTRAP_SCENES = 6


def comparison_name(a: str, b: str) -> str:
    return f"{a}-{b}"


def paired_differences(tidy: pd.DataFrame, metrics: Sequence[str] = PAIRED_METRICS) -> pd.DataFrame:
    """Rows (method, comparison, scene), columns ``metrics``: a's value minus b's on that scene. Comparisons whose
    two spaces were not both run for a method are left out."""
    check_complete(tidy)
    per_run = tidy[tidy["metric"].isin(metrics)].pivot_table(
        index=["method", "scene"], columns=["space", "metric"], values="value"
    )
    spaces = set(per_run.columns.get_level_values("space"))
    frames = []
    for a, b in COMPARISONS:
        if a not in spaces or b not in spaces:
            continue
        difference = per_run[a].reindex(columns=list(metrics)) - per_run[b].reindex(columns=list(metrics))
        difference = difference.dropna(how="all")
        difference["comparison"] = comparison_name(a, b)
        frames.append(difference.reset_index())
    columns = ["method", "comparison", "scene", *metrics]
    if not frames:
        return pd.DataFrame(columns=columns).set_index(["method", "comparison", "scene"])
    return pd.concat(frames)[columns].set_index(["method", "comparison", "scene"])


def mean_interval(values: np.ndarray, seed: int = 0) -> tuple[float, float, float, str]:
    """(mean, low, high, how): the mean of ``values``, its 95% confidence interval and which interval it is
    (``bootstrap-bca``, ``bootstrap-percentile``, ``t`` or ``none``; NaN bounds for ``none``)."""
    from scipy import stats

    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]  # a metric one of the two spaces lacks (latent PSNR of RGB runs)
    if len(values) == 0:
        return float("nan"), float("nan"), float("nan"), "none"
    mean = float(values.mean())
    if len(values) < 2:
        return mean, float("nan"), float("nan"), "none"
    kind = "t" if len(values) < MIN_BOOTSTRAP_SCENES else "bootstrap-bca"
    if np.all(values == values[0]):  # no spread: the interval is the point itself
        return mean, mean, mean, kind
    if kind == "t":
        low, high = stats.t.interval(CONFIDENCE, len(values) - 1, loc=mean, scale=stats.sem(values))
        return mean, float(low), float(high), kind
    for method in ("BCa", "percentile"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # BCa's "degenerate distribution" warning: the next method is tried
            result = stats.bootstrap(
                (values,), np.mean, confidence_level=CONFIDENCE, n_resamples=RESAMPLES, method=method,
                random_state=np.random.default_rng(seed),
            )  # fmt: skip
        low, high = float(result.confidence_interval.low), float(result.confidence_interval.high)
        if np.isfinite(low) and np.isfinite(high):
            return mean, low, high, f"bootstrap-{method.lower()}"
    return mean, float("nan"), float("nan"), "none"


def paired_table(differences: pd.DataFrame) -> pd.DataFrame:
    """Rows (method, comparison) of :func:`paired_differences`; columns ``<metric>`` (mean paired difference),
    ``<metric>_low`` and ``<metric>_high`` (its 95% interval) for each of its metrics, ``scenes`` and ``interval``
    (which interval)."""
    metrics = list(differences.columns)
    groups = dict(list(differences.groupby(level=["method", "comparison"])))
    rows = {}
    for method in sorted({method for method, _ in groups}):
        for a, b in COMPARISONS:
            group = groups.get((method, comparison_name(a, b)))
            if group is None:
                continue
            row: dict[str, float | str] = {}
            kinds = set()
            for metric in metrics:
                row[metric], row[f"{metric}_low"], row[f"{metric}_high"], kind = mean_interval(group[metric].to_numpy())
                kinds.add(kind)
            row["scenes"], row["interval"] = len(group), "/".join(sorted(kinds - {"none"}) or ["none"])
            rows[(method, comparison_name(a, b))] = row
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index = pd.MultiIndex.from_tuples(list(rows), names=["method", "comparison"])
    return table


#: The scale study's columns besides the paired differences: the point's stage-2 steps, and the IG-AE's own
#: monitoring (decoded renders of held-out views of its training scenes; real held-out reconstruction), which
#: are what settings may be chosen on (the study's evaluation scenes are reported, not tuned on).
STUDY_POINT_FIELDS = {
    "steps": "steps",
    "monitor_render_psnr": "test/render_psnr",
    "real_ae_psnr": "real_heldout/ae_psnr",
}


def study_table(tidy: pd.DataFrame, igae_records: Mapping[str, Path]) -> pd.DataFrame:
    """The scale study: rows (method, IG-AE scenes, stage-2 epochs), the paired IG-AE minus standard-AE differences
    of :func:`paired_table` on the study's scenes (columns ``<metric>``, ``_low``, ``_high``, ``scenes``,
    ``interval``) and :data:`STUDY_POINT_FIELDS` from the point's stage-2 record.

    ``tidy`` holds the runs of spaces ``study-<point>`` and ``standard``; ``igae_records`` maps each point to its
    stage-2 ``metrics.json`` (which holds its scene count and epochs)."""
    rows = []
    for point, path in igae_records.items():
        try:
            record = json.loads(Path(path).read_text())
            fields = {name: record[key] for name, key in STUDY_POINT_FIELDS.items()}
            scenes, epochs = int(record["scenes"]), int(record["epochs"])
        except (OSError, json.JSONDecodeError, KeyError, TypeError) as error:
            raise ReportError(f"{path}: not the metrics.json of an IG-AE stage-2 run ({error})") from None
        space = f"{STUDY_PREFIX}{point}"
        runs = tidy[tidy["space"].isin((space, "standard"))]
        if space not in set(runs["space"]):
            raise ReportError(f"no NeRF runs of study point {point} (space {space})")
        paired = paired_table(paired_differences(runs.replace({"space": {space: "igae"}})))
        for method, row in paired.xs("igae-standard", level="comparison").iterrows():
            rows.append({"method": method, "igae_scenes": scenes, "train_epochs": epochs, **fields, **row})
    if not rows:
        raise ReportError("no study points given")
    return pd.DataFrame(rows).set_index(["method", "igae_scenes", "train_epochs"]).sort_index()
