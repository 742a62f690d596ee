"""Multi-view scene datasets: render an asset into nerfstudio's ``transforms.json`` layout, and index scenes.

One scene folder holds::

    images/view_000.png ...     RGB, white background
    transforms.json             nerfstudio format, OpenGL cam2world, pixel intrinsics, train/val/test file lists
    transforms_opencv.json      the same cameras in the OpenCV convention, with normalised intrinsics (IG-AE)
    scene.json                  provenance: asset, seed, settings, split sizes, render speed

The folder appears only once complete (:func:`igae.io_utils.atomic_directory`).
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
from PIL import Image

from igae.config.tree import RenderConfig
from igae.data.cameras import Intrinsics, opencv_to_opengl, orbit_cameras, split_views
from igae.data.meshes import MeshPart, load_asset, normalize_parts, side_files
from igae.data.render import Lighting, MeshRenderer
from igae.io_utils import atomic_directory, write_json_atomic

log = logging.getLogger(__name__)


def _rounded(matrix: np.ndarray) -> list[list[float]]:
    return [[round(float(x), 9) for x in row] for row in matrix]


def transforms_documents(
    cam2worlds_opencv: np.ndarray, file_paths: list[str], intrinsics: Intrinsics, test_views: list[int]
) -> tuple[dict, dict]:
    """The nerfstudio (OpenGL) and the OpenCV camera files for the given views [N, 4, 4]."""
    held_out = set(test_views)
    train_files = [path for i, path in enumerate(file_paths) if i not in held_out]
    test_files = [file_paths[i] for i in sorted(held_out)]
    pixel = {"fl_x": intrinsics.fx, "fl_y": intrinsics.fy, "cx": intrinsics.cx, "cy": intrinsics.cy}
    size = {"w": intrinsics.width, "h": intrinsics.height}
    split_lists = {"train_filenames": train_files, "val_filenames": test_files, "test_filenames": test_files}
    nerfstudio = {
        "camera_model": "OPENCV",
        **pixel,
        **size,
        "k1": 0.0,
        "k2": 0.0,
        "p1": 0.0,
        "p2": 0.0,
        "frames": [
            {"file_path": path, "transform_matrix": _rounded(opencv_to_opengl(c2w))}
            for path, c2w in zip(file_paths, cam2worlds_opencv)
        ],
        **split_lists,
    }
    fx_n, fy_n, cx_n, cy_n = intrinsics.normalized
    opencv = {
        "camera_convention": "opencv",
        "normalized_intrinsics": {"fx": fx_n, "fy": fy_n, "cx": cx_n, "cy": cy_n},
        "frames": [
            {
                "file_path": path,
                "transform_matrix": _rounded(c2w),
                **pixel,
                **size,
                "split": "test" if i in held_out else "train",
            }
            for i, (path, c2w) in enumerate(zip(file_paths, cam2worlds_opencv))
        ],
        **split_lists,
    }
    return nerfstudio, opencv


def render_views(
    parts: list[MeshPart], out_dir: Path, views: int, seed: int, settings: RenderConfig, lighting: Lighting
) -> dict:
    """Render ``views`` views of normalised ``parts`` into ``out_dir`` (which must exist); return statistics."""
    intrinsics = Intrinsics.from_normalized(settings.focal, settings.image_size, settings.image_size)
    cam2worlds = orbit_cameras(views, settings.camera_distance, np.random.default_rng(seed))
    _, test_views = split_views(views, settings.test_fraction)
    renderer = MeshRenderer(parts, intrinsics, settings.samples_per_pixel, lighting, seed)
    (out_dir / "images").mkdir()
    file_paths = []
    start = last_report = time.perf_counter()
    for index, cam2world in enumerate(cam2worlds):
        image = renderer.render(cam2world, index)
        file_path = f"images/view_{index:03d}.png"
        Image.fromarray(image).save(out_dir / file_path)
        file_paths.append(file_path)
        now = time.perf_counter()
        if now - last_report > 5.0 or index + 1 == views:
            rate = (index + 1) / (now - start)
            log.info(
                "%s: view %d/%d, %.1f views/s, ETA %.0fs",
                out_dir.name,
                index + 1,
                views,
                rate,
                (views - index - 1) / rate,
            )
            last_report = now
    elapsed = time.perf_counter() - start
    nerfstudio, opencv = transforms_documents(cam2worlds, file_paths, intrinsics, test_views)
    write_json_atomic(out_dir / "transforms.json", nerfstudio)
    write_json_atomic(out_dir / "transforms_opencv.json", opencv)
    return {
        "views": views,
        "train_views": views - len(test_views),
        "test_views": len(test_views),
        "samples_per_pixel_used": renderer.samples_per_pixel,
        "render_seconds": round(elapsed, 3),
    }


def render_scene(
    asset: Path,
    out_dir: Path,
    *,
    views: int,
    seed: int,
    settings: RenderConfig,
    lighting: Lighting = Lighting(),  # noqa: B008 - frozen, immutable default
    up_axis: str = "z",
    metadata: dict | None = None,
) -> dict:
    """Load ``asset``, normalise it and render a complete scene folder at ``out_dir`` atomically.

    Returns the scene's ``scene.json`` record. Raises :class:`igae.errors.AssetError` (naming the file) for an
    asset that cannot be used; ``out_dir`` is then left untouched.
    """
    parts = normalize_parts(load_asset(asset), settings.object_radius, up_axis)
    with atomic_directory(Path(out_dir)) as tmp:
        stats = render_views(parts, tmp, views, seed, settings, lighting)
        record = {
            "scene": Path(out_dir).name,
            "asset": str(asset),
            "asset_files": [str(file) for file in side_files(asset)],  # its materials, textures and buffers
            "seed": seed,
            "up_axis": up_axis,
            **stats,
            "render": asdict(settings),
            "lighting": asdict(lighting),
            **(metadata or {}),
        }
        write_json_atomic(tmp / "scene.json", record)
    return record
