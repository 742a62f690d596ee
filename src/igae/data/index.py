"""The dataset index: every rendered scene, grouped by split, as later phases look them up."""

from __future__ import annotations

import json
from pathlib import Path

from igae.data.plan import SPLITS
from igae.errors import IgaeError
from igae.io_utils import write_json_atomic


def write_scene_index(scene_dirs: list[Path], out: Path) -> dict:
    """Read each scene's ``scene.json`` and write ``out``: scenes by split (``igae_train`` for IG-AE,
    ``eval`` for latent NeRFs, never seen by IG-AE) with their dataset, folder and view counts."""
    splits: dict[str, list[dict]] = {split: [] for split in SPLITS}
    for scene_dir in sorted(Path(d) for d in scene_dirs):
        record_path = scene_dir / "scene.json"
        if not record_path.is_file():
            raise IgaeError(f"'{scene_dir}' is not a rendered scene (no scene.json)")
        record = json.loads(record_path.read_text())
        splits[record["split"]].append(
            {
                "scene": record["scene"],
                "dataset": record["dataset"],
                "path": str(scene_dir),
                "train_views": record["train_views"],
                "test_views": record["test_views"],
            }
        )
    index = {"splits": splits, "counts": {split: len(scenes) for split, scenes in splits.items()}}
    write_json_atomic(Path(out), index)
    return index
