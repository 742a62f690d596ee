"""Camera files of a scene folder, checked where they enter: ``transforms.json`` (nerfstudio, for NeRFs) and
``transforms_opencv.json`` (for IG-AE). A file that is not JSON, lists no frames, holds a pose that is not a finite
rigid transform, non-positive or non-finite intrinsics, or names an image that is missing or of another size than
the file says, is a :class:`CameraFileError` naming the file and the frame, before anything expensive starts."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
from PIL import Image

from igae.errors import IgaeError

#: How far a pose's rotation may be from orthonormal (|R^T R - I|, |det R - 1|): the renders write 9 decimals.
RIGID_TOLERANCE = 1e-4


class CameraFileError(IgaeError):
    """A scene's camera file cannot be used."""


def read_camera_file(path: Path, verify_pixels: bool = True) -> dict:
    """The camera file at ``path``, checked: every frame's pose a finite rigid 4x4 transform, its intrinsics (from
    the frame or the file) finite and positive, and its image present and of the stated ``w`` x ``h`` (read from
    the image's header). ``verify_pixels`` also reads each image through to its end, for callers that load the
    pixels later (nerfstudio); a caller that loads them right away (and names a damaged file) passes False."""
    path = Path(path)
    if not path.is_file():
        raise CameraFileError(f"'{path}' does not exist: a scene folder holds its cameras in this file")
    try:
        document = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise CameraFileError(f"'{path}' is not valid JSON: {error}") from None
    frames = document.get("frames") if isinstance(document, dict) else None
    if not isinstance(frames, list) or not frames:
        raise CameraFileError(f"'{path}' lists no frames: expected a 'frames' list of posed images")
    for index, frame in enumerate(frames):
        where = f"'{path}', frame {index} ({frame.get('file_path', '?') if isinstance(frame, dict) else '?'})"
        if not isinstance(frame, dict) or "file_path" not in frame or "transform_matrix" not in frame:
            raise CameraFileError(f"{where}: expected file_path and transform_matrix")
        _check_pose(frame["transform_matrix"], where)
        values = {key: frame.get(key, document.get(key)) for key in ("fl_x", "fl_y", "cx", "cy", "w", "h")}
        present = {key: value for key, value in values.items() if value is not None}
        bad = [key for key, value in present.items() if not _positive_number(value)]
        if bad:
            raise CameraFileError(f"{where}: {', '.join(bad)} must be finite positive numbers, got "
                                  f"{', '.join(repr(present[key]) for key in bad)}")  # fmt: skip
        _check_image(path.parent / frame["file_path"], present.get("w"), present.get("h"), where, verify_pixels)
    return document


def _positive_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value > 0


def _check_pose(matrix, where: str) -> None:
    try:
        pose = np.asarray(matrix, dtype=float)
    except (TypeError, ValueError):
        raise CameraFileError(f"{where}: transform_matrix is not a 4x4 matrix of numbers") from None
    if pose.shape != (4, 4):
        raise CameraFileError(f"{where}: transform_matrix has shape {list(pose.shape)}, expected 4x4")
    if not np.isfinite(pose).all():
        raise CameraFileError(f"{where}: transform_matrix holds NaN or infinity")
    rotation = pose[:3, :3]
    orthonormal = np.abs(rotation.T @ rotation - np.eye(3)).max() <= RIGID_TOLERANCE
    if (
        not orthonormal
        or abs(np.linalg.det(rotation) - 1.0) > RIGID_TOLERANCE
        or not np.allclose(pose[3], [0, 0, 0, 1])
    ):
        raise CameraFileError(f"{where}: transform_matrix is not a rigid camera-to-world transform (rotation + "
                              "translation, last row 0 0 0 1)")  # fmt: skip


def _check_image(image: Path, width, height, where: str, verify_pixels: bool) -> None:
    if not image.is_file():
        raise CameraFileError(f"{where}: the image '{image}' does not exist")
    try:
        with Image.open(image) as opened:  # lazy: the header only, unless verified
            size = opened.size
            if verify_pixels:
                opened.verify()
    except Exception as error:  # PIL raises many kinds for a damaged file
        raise CameraFileError(f"{where}: the image '{image}' cannot be read ({error})") from None
    if width is not None and height is not None and size != (int(width), int(height)):
        raise CameraFileError(f"{where}: the image '{image}' is {size[0]}x{size[1]}, the file says {width}x{height}")
