"""Pinhole camera math shared by the renderer, the dataset writers and (later) the latent-scene renderer.

Conventions, fixed for the whole project:

* **World**: right-handed, z up, objects centred at the origin.
* **OpenCV camera** (``transforms_opencv.json``, IG-AE training): +x right, +y down, +z forward.
* **OpenGL camera** (``transforms.json``, nerfstudio): +x right, +y up, +z backward.
  ``cam2world_gl = cam2world_cv @ diag(1, -1, -1, 1)``; the same product converts back.
* **Pixels**: continuous coordinates; pixel ``(i, j)`` (column, row) covers ``[i, i+1) x [j, j+1)`` and its
  centre is ``(i + 0.5, j + 0.5)``. A centred principal point is ``cx = w / 2``. This is nerfstudio's
  convention and the IG-AE code's (``u = (i + 0.5) / R`` with normalised ``cx = 0.5``).
* **Normalised intrinsics**: ``fx / w, fy / h, cx / w, cy / h``, so one pose renders at any resolution
  (a 128x128 view and its 16x16 latent share them).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

#: Flips the y and z camera axes: OpenCV <-> OpenGL camera frames (an involution).
OPENCV_TO_OPENGL = np.diag([1.0, -1.0, -1.0, 1.0])


@dataclass(frozen=True)
class Intrinsics:
    """Pinhole intrinsics in pixels for an image of ``width`` x ``height``."""

    fx: float
    fy: float
    cx: float
    cy: float
    width: int
    height: int

    @classmethod
    def from_normalized(cls, focal: float, width: int, height: int) -> Intrinsics:
        """Square pixels, centred principal point, focal ``focal`` in units of the image width.

        The paper's Objaverse data uses ``focal = 1.09375`` (140 px at 128 px, horizontal FOV ~49.1 deg).
        """
        return cls(fx=focal * width, fy=focal * width, cx=width / 2.0, cy=height / 2.0, width=width, height=height)

    @property
    def matrix(self) -> np.ndarray:  # [3, 3]
        return np.array([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]])

    @property
    def normalized(self) -> tuple[float, float, float, float]:
        """``(fx / w, fy / h, cx / w, cy / h)``: the resolution-free form IG-AE's renderer uses."""
        return (self.fx / self.width, self.fy / self.height, self.cx / self.width, self.cy / self.height)

    @property
    def horizontal_fov_degrees(self) -> float:
        return math.degrees(2.0 * math.atan(self.width / (2.0 * self.fx)))


def look_at_opencv(eye: np.ndarray, target: np.ndarray, up: tuple[float, float, float] = (0.0, 0.0, 1.0)) -> np.ndarray:
    """OpenCV cam2world [4, 4] for a camera at ``eye`` [3] looking at ``target`` [3], with no roll.

    The image's upward direction (-y) is the projection of ``up`` on the image plane. When the view
    direction is (nearly) parallel to ``up`` the world y axis is used as the up hint instead.
    """
    forward = np.asarray(target, float) - np.asarray(eye, float)
    forward /= np.linalg.norm(forward)
    up = np.asarray(up, float)
    if np.linalg.norm(np.cross(forward, up)) < 1e-6:
        up = np.array([0.0, 1.0, 0.0]) if abs(forward[1]) < 0.9 else np.array([1.0, 0.0, 0.0])
    down = -(up - np.dot(up, forward) * forward)
    down /= np.linalg.norm(down)
    right = np.cross(down, forward)
    cam2world = np.eye(4)
    cam2world[:3, 0], cam2world[:3, 1], cam2world[:3, 2], cam2world[:3, 3] = right, down, forward, eye
    return cam2world


def opencv_to_opengl(cam2world: np.ndarray) -> np.ndarray:
    """Convert a cam2world [4, 4] between the OpenCV and OpenGL camera conventions (either way)."""
    return np.asarray(cam2world, float) @ OPENCV_TO_OPENGL


def fibonacci_sphere(count: int) -> np.ndarray:  # [count, 3]
    """``count`` unit vectors spread evenly over the sphere (golden-angle spiral), from +z to -z."""
    index = np.arange(count) + 0.5
    z = 1.0 - 2.0 * index / count
    radius = np.sqrt(1.0 - z * z)
    azimuth = math.pi * (3.0 - math.sqrt(5.0)) * index
    return np.stack([radius * np.cos(azimuth), radius * np.sin(azimuth), z], axis=-1)


def random_rotation(rng: np.random.Generator) -> np.ndarray:  # [3, 3]
    """A rotation drawn uniformly from SO(3) (QR of a Gaussian matrix with sign fix)."""
    q, r = np.linalg.qr(rng.standard_normal((3, 3)))
    q *= np.sign(np.diag(r))
    if np.linalg.det(q) < 0:
        q[:, 0] *= -1
    return q


def orbit_cameras(count: int, distance: float, rng: np.random.Generator) -> np.ndarray:  # [count, 4, 4]
    """OpenCV cam2worlds of ``count`` cameras on a sphere of radius ``distance``, all looking at the origin.

    The positions are a Fibonacci lattice under a random rotation from ``rng``: evenly spread over the
    whole sphere (as the paper's data: azimuth in [-pi, pi], elevation in [-pi/2, pi/2]) and different for
    every scene seed.
    """
    positions = distance * fibonacci_sphere(count) @ random_rotation(rng).T
    return np.stack([look_at_opencv(eye, np.zeros(3)) for eye in positions])


def turntable_cameras(count: int, radius: float, elevation_degrees: float) -> np.ndarray:  # [count, 4, 4]
    """OpenCV cam2worlds of a turntable orbit: ``count`` cameras at azimuths ``2 pi k / count`` (from +x towards
    +y, the last one short of a full turn so a looping video does not repeat a frame) and a fixed elevation above
    the xy plane, on a circle of ``radius``, all looking at the origin (the paper's video pose: elevation ~27
    degrees, radius 1.3)."""
    azimuths = 2.0 * math.pi * np.arange(count) / count
    elevation = math.radians(elevation_degrees)
    eyes = radius * np.stack(
        [
            math.cos(elevation) * np.cos(azimuths),
            math.cos(elevation) * np.sin(azimuths),
            np.full(count, math.sin(elevation)),
        ],
        axis=-1,
    )
    return np.stack([look_at_opencv(eye, np.zeros(3)) for eye in eyes])


def project_points(points: np.ndarray, cam2world: np.ndarray, intrinsics: Intrinsics) -> np.ndarray:
    """Pixel coordinates [N, 2] (continuous convention) of world points [N, 3] seen by an OpenCV camera."""
    world2cam = np.linalg.inv(cam2world)
    cam = (np.c_[points, np.ones(len(points))] @ world2cam.T)[:, :3]
    return np.stack(
        [intrinsics.fx * cam[:, 0] / cam[:, 2] + intrinsics.cx, intrinsics.fy * cam[:, 1] / cam[:, 2] + intrinsics.cy],
        axis=-1,
    )


def pixel_rays(pixels: np.ndarray, cam2world: np.ndarray, intrinsics: Intrinsics) -> tuple[np.ndarray, np.ndarray]:
    """World-space rays through continuous pixel coordinates [N, 2]: origins [N, 3], unit directions [N, 3]."""
    directions_cam = np.stack(
        [
            (pixels[:, 0] - intrinsics.cx) / intrinsics.fx,
            (pixels[:, 1] - intrinsics.cy) / intrinsics.fy,
            np.ones(len(pixels)),
        ],
        axis=-1,
    )
    directions = directions_cam @ cam2world[:3, :3].T
    directions /= np.linalg.norm(directions, axis=-1, keepdims=True)
    return np.broadcast_to(cam2world[:3, 3], directions.shape).copy(), directions


def split_views(count: int, test_fraction: float) -> tuple[list[int], list[int]]:
    """Deterministic train/test split of ``count`` views: ``ceil(count * test_fraction)`` test views,
    evenly spaced in view order (so, with :func:`orbit_cameras`, spread over the sphere)."""
    n_test = math.ceil(count * test_fraction) if test_fraction > 0 else 0
    test = sorted({int(round(x)) for x in np.linspace(0, count - 1, n_test)}) if n_test else []
    held_out = set(test)
    return [i for i in range(count) if i not in held_out], test
