"""Short latent and RGB runs of each NeRF method on one scene: seconds per step (per stage), per rendered image,
and decoded PSNR, with the RGB baseline at equal rays and at nerfstudio's default ray batch.

``igae benchmark`` runs it; it is the plugin's GPU check (every method, instant-ngp and splatfacto included, on a CUDA
machine) and its speed benchmark on CPU. Each run is a real :func:`igae.nerf.run.run_nerf` in a temporary folder.
"""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from igae.config.tree import NerfConfig, NormalizerConfig
from igae.nerf.methods import get_method, trainer_config
from igae.nerf.run import run_nerf

#: The RGB baselines' ray budgets: as many rays per step as the latent run renders (one whole latent view: 256 at
#: 128x128), and nerfstudio's default batch (4096 rays for most methods, what the paper's RGB baselines use).
RGB_BUDGETS = ("equal-rays", "nerfstudio-default")


def benchmark_nerf_methods(
    methods: Sequence[str],
    scene: Path,
    autoencoder: Path,
    settings: NerfConfig,
    *,
    steps: int,
    alignment_steps: int,
    normalizer: NormalizerConfig,
    latent_channels: Optional[int],
    device: str,
    threads: Optional[int] = None,
) -> List[Dict[str, Any]]:
    """Per method, one latent run and one RGB run per budget of :data:`RGB_BUDGETS` (``steps`` +
    ``alignment_steps`` each; the RGB default-budget run is left out where it equals the latent rays); a row of
    figures per run, with the latent run's seconds per step of each stage."""
    settings = dataclasses.replace(
        settings, latent_supervision_steps=steps, rgb_alignment_steps=alignment_steps, checkpoint_every=10**9
    )
    rows = []
    with tempfile.TemporaryDirectory(prefix="igae-bench-nerf-") as tmp:

        def run(method: str, target: str, budget: str, run_settings: NerfConfig) -> Dict[str, Any]:
            work = Path(tmp) / f"{target}-{budget}-{method}"
            record = run_nerf(
                method, target, scene, work / "run", work / "metrics.json", work / "views.png", run_settings,
                autoencoder=autoencoder if target == "latent" else None, latent_channels=latent_channels,
                normalizer=normalizer, device=device, threads=threads,
            )  # fmt: skip
            row = {
                "method": method,
                "target": target,
                "rgb_budget": budget,
                "iterations_per_second": record["train_iterations_per_second"],
                "rays_per_step": record["rays_per_step"],
                "seconds_per_step": record["seconds_per_step"],
                "psnr": record["metrics"]["psnr"],
                "render_seconds_per_image": record["render_seconds_per_image"],
            }
            rows.append(row)
            return row

        for method in methods:
            latent_rays = run(method, "latent", "-", settings)["rays_per_step"]
            others = {name: rays for name, rays in (settings.rgb_rays_per_batch or {}).items() if name != method}
            run(
                method,
                "rgb",
                "equal-rays",
                dataclasses.replace(settings, rgb_rays_per_batch={**others, method: latent_rays}),
            )
            default = dataclasses.replace(settings, rgb_rays_per_batch=others)
            if rgb_rays_per_step(method, default) != latent_rays:
                run(method, "rgb", "nerfstudio-default", default)
    return rows


def rgb_rays_per_step(method: str, settings: NerfConfig) -> int:
    """Rays per step of ``method``'s RGB run under ``settings`` (nerfstudio's default when it sets none)."""
    default = trainer_config(get_method(method), "rgb").pipeline.datamanager.rays_per_batch
    return (settings.rgb_rays_per_batch or {}).get(method, default)


def format_rows(rows: List[Dict[str, Any]]) -> str:
    """A Markdown table of :func:`benchmark_nerf_methods` rows."""
    lines = [
        "| method | target | RGB budget | iterations/s | rays/step | s/step stage 1 | s/step stage 2 "
        "| decoded PSNR (dB) | s per rendered image |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        stage1, stage2 = row["seconds_per_step"]["latent_supervision"], row["seconds_per_step"]["rgb_alignment"]
        lines.append(
            f"| {row['method']} | {row['target']} | {row['rgb_budget']} | {row['iterations_per_second']:.2f} "
            f"| {row['rays_per_step']} | {stage1:.4f} | {'-' if stage2 is None else f'{stage2:.4f}'} "
            f"| {row['psnr']:.2f} | {row['render_seconds_per_image']:.4f} |"
        )
    return "\n".join(lines)
