"""Headless CPU rendering of a normalised asset from cameras on a sphere, with Mitsuba 3.

Mitsuba's ``scalar_rgb`` variant is a pip-only install, runs on any CPU and is a physically based path
tracer: the object is lit by a uniform sky and a fixed sun (the same world lighting in every view, as a NeRF
assumes), rendered with an alpha channel and composited over a white background.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from igae.data.cameras import Intrinsics
from igae.data.meshes import MeshPart

#: Mitsuba's camera frame is (+x left, +y up, +z forward); OpenCV's is (+x right, +y down, +z forward).
_OPENCV_TO_MITSUBA = np.diag([-1.0, -1.0, 1.0, 1.0])


@dataclass(frozen=True)
class Lighting:
    """Uniform sky radiance plus one directional sun, in linear units (white albedo <= ~1 when lit)."""

    sky: float = 0.8
    sun: float = 0.8
    sun_direction: tuple[float, float, float] = (-0.4, -0.3, -1.0)  # direction the light travels, world z-up


def srgb_to_linear(srgb: np.ndarray) -> np.ndarray:
    srgb = np.asarray(srgb, dtype=np.float32)
    return np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4).astype(np.float32)


def linear_to_srgb(linear: np.ndarray) -> np.ndarray:
    linear = np.clip(np.asarray(linear, dtype=np.float32), 0.0, 1.0)
    return np.where(linear <= 0.0031308, 12.92 * linear, 1.055 * linear ** (1 / 2.4) - 0.055).astype(np.float32)


def _mitsuba():
    import mitsuba as mi

    if mi.variant() is None:
        mi.set_variant("scalar_rgb")
    return mi


def _mitsuba_mesh(part: MeshPart, name: str):
    """Build a Mitsuba mesh (with its diffuse BSDF) straight from arrays; nothing is written to disk."""
    mi = _mitsuba()
    if part.texture is not None:
        # Mitsuba looks textures up with v pointing down; glTF/trimesh UVs point up, so flip the image rows.
        reflectance = {"type": "bitmap", "bitmap": mi.Bitmap(srgb_to_linear(part.texture[::-1].copy())), "raw": True}
    elif part.vertex_colors is not None:
        reflectance = {"type": "mesh_attribute", "name": "vertex_color"}
    else:
        reflectance = {"type": "rgb", "value": srgb_to_linear(np.asarray(part.color)).tolist()}
    props = mi.Properties()
    props["bsdf"] = mi.load_dict({"type": "twosided", "material": {"type": "diffuse", "reflectance": reflectance}})
    mesh = mi.Mesh(
        name,
        vertex_count=len(part.vertices),
        face_count=len(part.faces),
        has_vertex_normals=part.normals is not None,
        has_vertex_texcoords=part.uv is not None,
        props=props,
    )
    params = mi.traverse(mesh)
    params["vertex_positions"] = np.ascontiguousarray(part.vertices, dtype=np.float32).ravel()
    params["faces"] = np.ascontiguousarray(part.faces, dtype=np.uint32).ravel()
    if part.normals is not None:
        params["vertex_normals"] = np.ascontiguousarray(part.normals, dtype=np.float32).ravel()
    if part.uv is not None:
        params["vertex_texcoords"] = np.ascontiguousarray(part.uv, dtype=np.float32).ravel()
    params.update()
    if part.vertex_colors is not None:
        mesh.add_attribute("vertex_color", 3, srgb_to_linear(part.vertex_colors).ravel().tolist())
    return mesh


class MeshRenderer:
    """Renders one asset from any OpenCV camera; the scene is built once and reused for every view."""

    def __init__(
        self,
        parts: list[MeshPart],
        intrinsics: Intrinsics,
        samples_per_pixel: int = 36,
        lighting: Lighting = Lighting(),
        seed: int = 0,
    ) -> None:
        if intrinsics.width != intrinsics.height or intrinsics.cx * 2 != intrinsics.width:
            raise ValueError("the renderer supports square images with a centred principal point")
        self.intrinsics = intrinsics
        # Stratified (jittered-grid) sampling needs a square count: round up, as Mitsuba would.
        self.samples_per_pixel = math.ceil(math.sqrt(samples_per_pixel)) ** 2
        self.seed = seed
        mi = _mitsuba()
        self._scene_dict = {
            "type": "scene",
            "integrator": {"type": "path", "max_depth": 4, "hide_emitters": True},
            "sky": {"type": "constant", "radiance": lighting.sky},
            "sun": {"type": "directional", "direction": list(lighting.sun_direction), "irradiance": lighting.sun},
        }
        for index, part in enumerate(parts):
            self._scene_dict[f"part_{index:03d}"] = _mitsuba_mesh(part, f"part_{index:03d}")
        self._scene = mi.load_dict(self._scene_dict)

    def _sensor(self, cam2world_opencv: np.ndarray):
        mi = _mitsuba()
        return mi.load_dict(
            {
                "type": "perspective",
                "fov": self.intrinsics.horizontal_fov_degrees,
                "fov_axis": "x",
                "to_world": mi.ScalarTransform4f((cam2world_opencv @ _OPENCV_TO_MITSUBA).tolist()),
                "film": {
                    "type": "hdrfilm",
                    "width": self.intrinsics.width,
                    "height": self.intrinsics.height,
                    "pixel_format": "rgba",
                    "rfilter": {"type": "box"},
                },
                "sampler": {"type": "stratified", "sample_count": self.samples_per_pixel},
            }
        )

    def render(self, cam2world_opencv: np.ndarray, view_index: int = 0) -> np.ndarray:  # [H, W, 3] uint8 sRGB
        """Render one view on a white background (alpha-composited in linear light, then sRGB-encoded)."""
        mi = _mitsuba()
        rgba = np.array(
            mi.render(
                self._scene, sensor=self._sensor(cam2world_opencv), seed=(self.seed * 100003 + view_index) % 2**32
            )
        )
        linear = rgba[..., :3] + (1.0 - np.clip(rgba[..., 3:4], 0.0, 1.0))  # film RGB is zero where rays miss
        return np.round(linear_to_srgb(linear) * 255.0).astype(np.uint8)
