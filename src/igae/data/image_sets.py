"""Read the image sets the autoencoders train and are evaluated on.

* real images: ``results/real_images/{train,heldout}/`` listed in its ``index.json``;
* rendered views: the scenes of one split in ``results/renders/index.json`` (``igae_train`` or ``eval``), and
  of each scene its training views, its test views or all of them (``transforms.json`` file lists).

Images load as uint8 tensors ``[N, 3, H, W]``; :func:`to_signed` maps them to the autoencoders' [-1, 1].
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from igae.errors import ImageSetError

VIEW_SETS = ("train", "test", "all")


def _read_json(path: Path, what: str) -> dict:
    if not path.is_file():
        raise ImageSetError(f"'{path}' does not exist: expected {what}")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ImageSetError(f"'{path}' is not valid JSON ({what}): {error}") from error


def real_image_paths(root: Path, split: str) -> list[Path]:
    """The ``train`` or ``heldout`` images of a real-image set built by ``igae prepare-real-images``."""
    root = Path(root)
    index = _read_json(root / "index.json", "the index of a real-image set (igae prepare-real-images)")
    if split not in index or not isinstance(index[split], list):
        raise ImageSetError(f"'{root / 'index.json'}' has no '{split}' image list")
    return [root / name for name in index[split]]


def scene_folders(index_path: Path, split: str) -> list[Path]:
    """The scene folders of ``split`` (``igae_train`` or ``eval``) listed in the scene index."""
    index_path = Path(index_path)
    index = _read_json(index_path, "the scene index (igae index-scenes)")
    scenes = index.get("splits", {}).get(split)
    if scenes is None:
        raise ImageSetError(f"'{index_path}' has no split '{split}' (has: {', '.join(index.get('splits', {}))})")
    folders = []
    for record in scenes:
        folder = Path(record["path"])
        if not folder.is_absolute() and not folder.is_dir():
            folder = index_path.parent / folder.name  # the index sits beside its scene folders
        folders.append(folder)
    return folders


def scene_view_paths(scene: Path, views: str) -> list[Path]:
    """Image paths of a scene's ``train``, ``test`` or ``all`` views, from its nerfstudio ``transforms.json``."""
    if views not in VIEW_SETS:
        raise ImageSetError(f"unknown view set '{views}' (expected one of: {', '.join(VIEW_SETS)})")
    transforms = _read_json(Path(scene) / "transforms.json", "a nerfstudio scene")
    if views == "all":
        names = [frame["file_path"] for frame in transforms["frames"]]
    else:
        names = transforms[f"{views}_filenames"]
    return [Path(scene) / name for name in names]


def rendered_view_paths(index_path: Path, split: str, views: str) -> list[Path]:
    """The ``views`` of every scene of ``split`` in the scene index."""
    return [path for scene in scene_folders(index_path, split) for path in scene_view_paths(scene, views)]


def load_images(paths: list[Path], image_size: int | None = None) -> torch.Tensor:
    """RGB images -> uint8 ``[N, 3, H, W]``; every image must be ``image_size`` square if given, else all alike."""
    if not paths:
        raise ImageSetError("no images to load")
    arrays = []
    for path in paths:
        if not Path(path).is_file():
            raise ImageSetError(f"image '{path}' does not exist")
        try:
            with Image.open(path) as image:
                array = np.asarray(image.convert("RGB"))
        except OSError as error:
            raise ImageSetError(f"'{path}' is not a readable image: {error}") from error
        expected = (image_size, image_size) if image_size else arrays[0].shape[:2] if arrays else array.shape[:2]
        if array.shape[:2] != expected:
            raise ImageSetError(
                f"'{path}' is {array.shape[1]}x{array.shape[0]} pixels, expected {expected[1]}x{expected[0]}"
            )
        arrays.append(array)
    return torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()


def to_signed(images: torch.Tensor) -> torch.Tensor:
    """uint8 [N, 3, H, W] in 0..255 -> float [N, 3, H, W] in [-1, 1]."""
    return images.float() / 127.5 - 1.0


def to_unit(images: torch.Tensor) -> torch.Tensor:
    """[-1, 1] -> [0, 1] (the range metrics and image files use)."""
    return (images.clamp(-1.0, 1.0) + 1.0) / 2.0
