"""Posed views of the rendered scenes, as tensors for IG-AE training and monitoring.

Reads each scene's ``transforms_opencv.json`` (OpenCV cam-to-world, intrinsics in pixels and normalised, a
split per frame) for the scenes of one split of the scene index.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from igae.data.camera_files import read_camera_file
from igae.data.image_sets import load_images, scene_folders
from igae.errors import ImageSetError


@dataclass
class PosedViews:
    """``images`` uint8 [M, 3, H, W], ``cam_to_world`` [M, 4, 4] (OpenCV), ``intrinsics`` [M, 3, 3] normalised by
    the image size, ``scene_ids`` [M] indices into ``scenes``."""

    images: torch.Tensor
    cam_to_world: torch.Tensor
    intrinsics: torch.Tensor
    scene_ids: torch.Tensor
    scenes: list[str]

    def __len__(self) -> int:
        return len(self.images)

    def first_views_per_scene(self, count: int, scenes: int | None = None) -> PosedViews:
        """The first ``count`` views of each scene (of the first ``scenes`` scenes, if given), in order."""
        keep = []
        seen: dict[int, int] = {}
        for index, scene in enumerate(self.scene_ids.tolist()):
            if (scenes is None or scene < scenes) and seen.get(scene, 0) < count:
                seen[scene] = seen.get(scene, 0) + 1
                keep.append(index)
        return self.subset(torch.tensor(keep, dtype=torch.long))

    def subset(self, indices: torch.Tensor) -> PosedViews:
        return PosedViews(
            self.images[indices],
            self.cam_to_world[indices],
            self.intrinsics[indices],
            self.scene_ids[indices],
            self.scenes,
        )


def load_posed_views(index_path: Path, split: str, views: str, max_scenes: int | None = None) -> PosedViews:
    """The ``train`` or ``test`` views (by each frame's ``split``) of the first ``max_scenes`` scenes of ``split``."""
    folders = scene_folders(index_path, split)[:max_scenes]
    paths, poses, intrinsics, ids = [], [], [], []
    for scene_id, folder in enumerate(folders):
        # Image sizes from their headers here; load_images below reads the pixels (and names a damaged file).
        for frame in read_camera_file(folder / "transforms_opencv.json", verify_pixels=False)["frames"]:
            if frame.get("split", "train") != views:
                continue
            paths.append(folder / frame["file_path"])
            poses.append(frame["transform_matrix"])
            intrinsics.append(
                [
                    [frame["fl_x"] / frame["w"], 0.0, frame["cx"] / frame["w"]],
                    [0.0, frame["fl_y"] / frame["h"], frame["cy"] / frame["h"]],
                    [0.0, 0.0, 1.0],
                ]
            )
            ids.append(scene_id)
    if not paths:
        raise ImageSetError(f"no '{views}' views in the '{split}' scenes of '{index_path}'")
    return PosedViews(
        images=load_images(paths),
        cam_to_world=torch.tensor(poses, dtype=torch.float32),
        intrinsics=torch.tensor(intrinsics, dtype=torch.float32),
        scene_ids=torch.tensor(ids),
        scenes=[folder.name for folder in folders],
    )
