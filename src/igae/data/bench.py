"""Rendering benchmark: views per second of the CPU renderer on procedural objects."""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from igae.config.tree import ProceduralConfig, RenderConfig
from igae.data.meshes import normalize_parts
from igae.data.procedural import generate_object
from igae.data.render import Lighting
from igae.data.scenes import render_views
from igae.hardware import cpu_model


def benchmark_render(settings: RenderConfig, procedural: ProceduralConfig, scenes: int, views: int) -> dict:
    """Render ``scenes`` procedural objects x ``views`` views in one process and report the throughput."""
    elapsed = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(scenes):
            parts = normalize_parts(generate_object(seed, procedural), settings.object_radius, "z")
            out = Path(tmp) / f"scene_{seed}"
            out.mkdir()
            start = time.perf_counter()
            render_views(parts, out, views, seed, settings, Lighting())
            elapsed += time.perf_counter() - start
    return {
        "benchmark": "render",
        "views": scenes * views,
        "seconds": round(elapsed, 3),
        "views_per_second": round(scenes * views / elapsed, 2),
        "image_size": settings.image_size,
        "samples_per_pixel": settings.samples_per_pixel,
        "processes": 1,
        "cpu_count": os.cpu_count(),
        "cpu": cpu_model(),
    }
