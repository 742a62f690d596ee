"""One benchmark for comparing machines: latent-vs-RGB NeRF speed ratios per method and IG-AE steps per second.

``igae benchmark`` runs, in one process on one device, a short latent and RGB run of each method on the same
scene (:func:`igae.nerf.bench.benchmark_nerf_methods`) and timed IG-AE stage-2 steps at the configured size
(:func:`igae.training.bench.benchmark_igae_step`). The ratios (latent over RGB, same machine, same moment) are
dimensionless, so they compare across machines; the absolute figures come with a description of the machine.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence

from igae.hardware import describe_machine
from igae.nerf.bench import format_rows


def nerf_speed_ratios(rows: Sequence[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """Per method and RGB budget (:data:`igae.nerf.bench.RGB_BUDGETS`) with both a latent and an RGB row of
    ``benchmark_nerf_methods``: seconds per training step (the latent run's whole run, and each of its stages:
    stage 1 renders the latent only, stage 2 also decodes it) and per rendered image (decoding included), and the
    latent/RGB ratios (< 1: latent is faster)."""
    latent_rows = {row["method"]: row for row in rows if row["target"] == "latent"}
    ratios = []
    for rgb in rows:
        latent = latent_rows.get(rgb["method"])
        if rgb["target"] != "rgb" or latent is None:
            continue
        latent_step, rgb_step = 1.0 / latent["iterations_per_second"], 1.0 / rgb["iterations_per_second"]
        stage1, stage2 = latent["seconds_per_step"]["latent_supervision"], latent["seconds_per_step"]["rgb_alignment"]
        ratios.append(
            {
                "method": rgb["method"],
                "rgb_budget": rgb["rgb_budget"],
                "latent_seconds_per_step": latent_step,
                "latent_stage1_seconds_per_step": stage1,
                "latent_stage2_seconds_per_step": stage2,
                "rgb_seconds_per_step": rgb_step,
                "step_time_ratio": latent_step / rgb_step,
                "stage1_step_time_ratio": stage1 / rgb_step,
                "latent_seconds_per_image": latent["render_seconds_per_image"],
                "rgb_seconds_per_image": rgb["render_seconds_per_image"],
                "render_time_ratio": latent["render_seconds_per_image"] / rgb["render_seconds_per_image"],
                "latent_rays_per_step": latent["rays_per_step"],
                "rgb_rays_per_step": rgb["rays_per_step"],
            }
        )
    return ratios


def format_report(
    machine: Dict[str, Any],
    runs: Sequence[Dict[str, Any]],
    ratios: Sequence[Dict[str, Any]],
    igae: Optional[Dict[str, Any]],
) -> str:
    """Markdown: the machine, every run's figures, the latent/RGB ratios per method, and the IG-AE step rate."""
    lines = [
        f"machine: {describe_machine(machine)}",
        "",
        format_rows(list(runs)),
        "",
        "| method | RGB budget | rays/step latent, RGB | latent s/step (stage 1, stage 2) | RGB s/step "
        "| step time latent/RGB (stage 1 alone) | latent s/image | RGB s/image | render time latent/RGB |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in ratios:
        stage2 = row["latent_stage2_seconds_per_step"]
        lines.append(
            f"| {row['method']} | {row['rgb_budget']} | {row['latent_rays_per_step']}, {row['rgb_rays_per_step']} "
            f"| {row['latent_seconds_per_step']:.4f} ({row['latent_stage1_seconds_per_step']:.4f}, "
            f"{'-' if stage2 is None else f'{stage2:.4f}'}) | {row['rgb_seconds_per_step']:.4f} "
            f"| {row['step_time_ratio']:.3f} ({row['stage1_step_time_ratio']:.3f}) "
            f"| {row['latent_seconds_per_image']:.4f} | {row['rgb_seconds_per_image']:.4f} "
            f"| {row['render_time_ratio']:.4f} |"
        )
    if igae is None:
        return "\n".join(lines)
    lines += [
        "",
        f"IG-AE stage 2: {igae['steps_per_second']:.3f} steps/s ({igae['seconds_per_step']:.3f} s/step; "
        f"{igae['scenes']} tri-planes {igae['triplane']}, {igae['batch_size']} views + {igae['real_batch_size']} real "
        f"images of {igae['image_size']}², {igae['samples_per_ray']} samples/ray, "
        f"{igae['autoencoder_parameters'] / 1e6:.1f} M autoencoder parameters)",
    ]
    return "\n".join(lines)
