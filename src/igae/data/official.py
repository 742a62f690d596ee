"""Scenes of the official IG-AE data (``k-kassab/igae``'s ``DATA_DIR``), imported instead of rendered.

The official layout of a scene set (e.g. ``$DATA_DIR/train/objaverse``)::

    dataset_map.json                              {category: [scene_id, ...], ...} (ordered)
    square128/<scene_id>/transforms_opencv.json   frames: file_path, transform_matrix (OpenCV cam2world),
                                                  fl_x, fl_y, cx, cy (pixels), w, h
    square128/<scene_id>/<file_path>              the views (RGB on white)

An imported scene becomes a folder exactly like a rendered one (``images/``, ``transforms.json``,
``transforms_opencv.json``, ``scene.json``; see :mod:`igae.data.scenes`), with this pipeline's own held-out split,
so every later phase treats both alike. The official ``transforms.json`` is not used: both camera files are
rewritten from the OpenCV one.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from igae.data.cameras import Intrinsics, split_views
from igae.data.scenes import transforms_documents
from igae.errors import AssetError
from igae.io_utils import atomic_directory, write_json_atomic

DATASET_MAP = "dataset_map.json"
SCENES_FOLDER = "square128"


def _read_json(path: Path, what: str):
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise AssetError(f"'{path}' does not exist (expected {what})") from None
    except (OSError, json.JSONDecodeError) as error:
        raise AssetError(f"'{path}' is not readable JSON ({error}; expected {what})") from None


def official_scene_ids(folder: Path) -> list[tuple[str, str]]:
    """``(scene_id, category)`` of every scene of an official scene set, in ``dataset_map.json`` order."""
    folder = Path(folder)
    mapping = _read_json(folder / DATASET_MAP, "the official data's {category: [scene ids]} map")
    if not isinstance(mapping, dict) or not all(isinstance(ids, list) for ids in mapping.values()):
        raise AssetError(f"'{folder / DATASET_MAP}' must map each category to a list of scene ids")
    return [(str(scene_id), category) for category, ids in mapping.items() for scene_id in ids]


def import_official_scene(source: Path, out_dir: Path, *, test_fraction: float, metadata: dict) -> dict:
    """Copy the official scene folder ``source`` into a scene folder at ``out_dir`` (atomically); returns its
    ``scene.json`` record. Raises :class:`AssetError` naming the file for a scene that cannot be used."""
    source = Path(source)
    cameras = source / "transforms_opencv.json"
    document = _read_json(cameras, "the official scene's OpenCV camera file")
    frames = document.get("frames") if isinstance(document, dict) else None
    if not frames:
        raise AssetError(f"'{cameras}' has no frames")
    try:
        cam2worlds = np.array([frame["transform_matrix"] for frame in frames], dtype=float)  # [N, 4, 4] OpenCV
        intrinsics = {
            Intrinsics(float(f["fl_x"]), float(f["fl_y"]), float(f["cx"]), float(f["cy"]), int(f["w"]), int(f["h"]))
            for f in frames
        }
    except (KeyError, TypeError, ValueError) as error:
        raise AssetError(f"'{cameras}': a frame without a valid {error} (expected fl_x, fl_y, cx, cy, w, h)") from None
    if cam2worlds.shape[1:] != (4, 4) or len(intrinsics) != 1:
        raise AssetError(f"'{cameras}': expected 4x4 cameras sharing one set of intrinsics")
    missing = [frame["file_path"] for frame in frames if not (source / frame["file_path"]).is_file()]
    if missing:
        raise AssetError(f"'{source}': views listed in transforms_opencv.json are missing: {', '.join(missing[:3])}")
    _, test_views = split_views(len(frames), test_fraction)
    with atomic_directory(Path(out_dir)) as tmp:
        (tmp / "images").mkdir()
        file_paths = []
        for index, frame in enumerate(frames):
            file_path = f"images/view_{index:03d}{Path(frame['file_path']).suffix.lower()}"
            shutil.copyfile(source / frame["file_path"], tmp / file_path)
            file_paths.append(file_path)
        nerfstudio, opencv = transforms_documents(cam2worlds, file_paths, intrinsics.pop(), test_views)
        write_json_atomic(tmp / "transforms.json", nerfstudio)
        write_json_atomic(tmp / "transforms_opencv.json", opencv)
        record = {
            "scene": Path(out_dir).name,
            "asset": str(source),
            "imported": "official IG-AE data",
            "views": len(frames),
            "train_views": len(frames) - len(test_views),
            "test_views": len(test_views),
            "test_fraction": test_fraction,
            **metadata,
        }
        write_json_atomic(tmp / "scene.json", record)
    return record
