"""Short latent and RGB runs of each NeRF method on one scene: iterations per second and decoded PSNR.

``igae benchmark`` runs it; it is the plugin's GPU check (every method, instant-ngp and splatfacto included, on a CUDA
machine) and its speed benchmark on CPU. Each run is a real :func:`igae.nerf.run.run_nerf` in a temporary folder.
"""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from igae.nerf.run import NerfSettings, run_nerf


def benchmark_nerf_methods(
    methods: Sequence[str],
    scene: Path,
    autoencoder: Path,
    settings: NerfSettings,
    *,
    steps: int,
    alignment_steps: int,
    normalizer_scale: float,
    latent_channels: Optional[int],
    device: str,
    threads: Optional[int] = None,
) -> List[Dict[str, Any]]:
    """One latent and one RGB run per method (``steps`` + ``alignment_steps`` each); a row of figures per run."""
    settings = dataclasses.replace(
        settings, latent_supervision_steps=steps, rgb_alignment_steps=alignment_steps, checkpoint_every=10**9
    )
    rows = []
    with tempfile.TemporaryDirectory(prefix="igae-bench-nerf-") as tmp:
        for method in methods:
            for space in ("latent", "rgb"):
                work = Path(tmp) / f"{space}-{method}"
                record = run_nerf(
                    method, space, scene, work / "run", work / "metrics.json", work / "views.png", settings,
                    autoencoder=autoencoder if space == "latent" else None, latent_channels=latent_channels,
                    normalizer_scale=normalizer_scale, device=device, threads=threads,
                )  # fmt: skip
                rows.append(
                    {
                        "method": method,
                        "space": space,
                        "iterations_per_second": record["train_iterations_per_second"],
                        "rays_per_step": record["rays_per_step"],
                        "psnr": record["metrics"]["psnr"],
                        "render_seconds_per_image": record["render_seconds_per_image"],
                    }
                )
    return rows


def format_rows(rows: List[Dict[str, Any]]) -> str:
    """A Markdown table of :func:`benchmark_nerf_methods` rows."""
    lines = [
        "| method | space | iterations/s | rays/step | decoded PSNR (dB) | s per rendered image |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row['method']} | {row['space']} | {row['iterations_per_second']:.2f} | {row['rays_per_step']} "
            f"| {row['psnr']:.2f} | {row['render_seconds_per_image']:.4f} |"
        )
    return "\n".join(lines)
