"""Seeded procedural 3D objects: the embedded stand-in for Objaverse in the tiny preset.

An object is built from several primitive parts (ellipsoids, boxes, cylinders, cones, tori), each stretched,
rotated and attached to the parts before it, and each covered with its own procedural texture (checkers,
stripes, dots, smooth noise, gradients) in random colours. The result is centred and scaled like a real asset
(:func:`igae.data.meshes.normalize_parts`) and saved as a textured GLB, so procedural and real scenes take the
same path through the renderer. The same seed always gives the same object.
"""

from __future__ import annotations

import colorsys
import math
from collections.abc import Callable

import numpy as np

from igae.config.tree import ProceduralConfig
from igae.data.meshes import MeshPart

PRIMITIVES = ("ellipsoid", "box", "cylinder", "cone", "torus")
TEXTURES = ("checker", "stripes", "dots", "noise", "gradient")

Surface = Callable[[np.ndarray, np.ndarray], np.ndarray]  # (u [N], v [N]) in [0, 1] -> points [N, 3]


def _grid(surface: Surface, nu: int, nv: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Tessellate a parametric surface on an (nu+1) x (nv+1) grid: vertices [V, 3], uv [V, 2], faces [F, 3]."""
    u, v = np.meshgrid(np.linspace(0.0, 1.0, nu + 1), np.linspace(0.0, 1.0, nv + 1), indexing="ij")
    vertices = surface(u.ravel(), v.ravel())
    index = np.arange((nu + 1) * (nv + 1)).reshape(nu + 1, nv + 1)
    a, b, c, d = index[:-1, :-1], index[1:, :-1], index[1:, 1:], index[:-1, 1:]
    faces = np.concatenate([np.stack([a, b, c], -1).reshape(-1, 3), np.stack([a, c, d], -1).reshape(-1, 3)])
    return vertices, np.stack([u.ravel(), v.ravel()], -1), faces


def _merge(pieces: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    vertices, uvs, faces, offset = [], [], [], 0
    for piece_vertices, piece_uv, piece_faces in pieces:
        vertices.append(piece_vertices)
        uvs.append(piece_uv)
        faces.append(piece_faces + offset)
        offset += len(piece_vertices)
    return np.concatenate(vertices), np.concatenate(uvs), np.concatenate(faces)


def _ring(radius: np.ndarray, angle: np.ndarray, z: np.ndarray) -> np.ndarray:
    return np.stack([radius * np.cos(angle), radius * np.sin(angle), z], -1)


def _disk(z: float, radius: float, n: int, facing_up: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    vertices, uv, faces = _grid(lambda u, v: _ring(radius * v, 2 * math.pi * u, np.full_like(u, z)), n, 2)
    return vertices, uv, faces[:, ::-1] if facing_up else faces


def primitive(kind: str, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A unit-sized primitive (inside [-1, 1]^3) with UVs: vertices [V, 3], uv [V, 2], faces [F, 3] (outward)."""
    tau = 2 * math.pi
    if kind == "ellipsoid":
        return _grid(lambda u, v: _ring(np.sin(math.pi * v), tau * u, -np.cos(math.pi * v)), n, n // 2)
    if kind == "cylinder":
        side = _grid(lambda u, v: _ring(np.ones_like(u), tau * u, 2 * v - 1), n, 4)
        return _merge([side, _disk(1.0, 1.0, n, True), _disk(-1.0, 1.0, n, False)])
    if kind == "cone":
        side = _grid(lambda u, v: _ring(1 - v, tau * u, 2 * v - 1), n, 4)
        return _merge([side, _disk(-1.0, 1.0, n, False)])
    if kind == "torus":
        minor = 0.35
        return _grid(
            lambda u, v: _ring(1 - minor + minor * np.cos(tau * v), tau * u, minor * np.sin(tau * v)), n, n // 2
        )
    if kind == "box":
        faces = []
        for axis in range(3):
            for sign in (-1.0, 1.0):
                a, b = (axis + 1) % 3, (axis + 2) % 3

                def square(u, v, axis=axis, sign=sign, a=a, b=b):
                    points = np.empty((len(u), 3))
                    points[:, axis], points[:, a], points[:, b] = sign, 2 * u - 1, 2 * v - 1
                    return points

                vertices, uv, tris = _grid(square, 2, 2)
                faces.append((vertices, uv, tris if sign > 0 else tris[:, ::-1]))
        return _merge(faces)
    raise ValueError(f"unknown primitive '{kind}' (expected one of {PRIMITIVES})")


def _palette(rng: np.random.Generator, count: int) -> np.ndarray:  # [count, 3] sRGB
    hue = rng.random()
    colours = []
    for i in range(count):
        h = (hue + i * rng.uniform(0.15, 0.5)) % 1.0
        colours.append(colorsys.hsv_to_rgb(h, rng.uniform(0.3, 0.9), rng.uniform(0.55, 1.0)))
    return np.asarray(colours)


def procedural_texture(kind: str, size: int, rng: np.random.Generator) -> np.ndarray:  # [size, size, 3]
    """A tileable sRGB texture in [0, 1] of the given pattern, in colours drawn from ``rng``."""
    a, b = _palette(rng, 2)
    y, x = np.meshgrid(np.arange(size) / size, np.arange(size) / size, indexing="ij")
    if kind == "checker":
        cells = rng.integers(2, 9)
        mask = (np.floor(x * cells) + np.floor(y * cells)) % 2
    elif kind == "stripes":
        count, angle = rng.integers(2, 10), rng.choice([0, 1, 2])
        coordinate = (x, y, (x + y) / 2)[angle]
        mask = (np.floor(coordinate * count * (2 if angle == 2 else 1)) % 2).astype(float)
    elif kind == "dots":
        cells = rng.integers(2, 7)
        fx, fy = (x * cells) % 1 - 0.5, (y * cells) % 1 - 0.5
        mask = (fx**2 + fy**2 < rng.uniform(0.06, 0.16)).astype(float)
    elif kind == "noise":
        coarse = rng.random((4, 4))
        index_y, index_x = (y * 4).astype(int) % 4, (x * 4).astype(int) % 4
        ty, tx = (y * 4) % 1, (x * 4) % 1
        smooth = lambda t: t * t * (3 - 2 * t)  # noqa: E731 - smoothstep weight
        top = coarse[index_y, index_x] * (1 - smooth(tx)) + coarse[index_y, (index_x + 1) % 4] * smooth(tx)
        bottom = coarse[(index_y + 1) % 4, index_x] * (1 - smooth(tx)) + coarse[
            (index_y + 1) % 4, (index_x + 1) % 4
        ] * smooth(tx)
        mask = top * (1 - smooth(ty)) + bottom * smooth(ty)
    elif kind == "gradient":
        mask = 0.5 - 0.5 * np.cos(2 * math.pi * y)
    else:
        raise ValueError(f"unknown texture '{kind}' (expected one of {TEXTURES})")
    return (a * (1 - mask[..., None]) + b * mask[..., None]).astype(np.float32)


def _part(rng: np.random.Generator, settings: ProceduralConfig, anchor: np.ndarray) -> MeshPart:
    from igae.data.cameras import random_rotation

    kind = str(rng.choice(PRIMITIVES))
    vertices, uv, faces = primitive(kind, settings.resolution)
    scale = rng.uniform(0.2, 0.6, size=3)
    vertices = (vertices * scale) @ random_rotation(rng).T + anchor
    texture = procedural_texture(str(rng.choice(TEXTURES)), settings.texture_size, rng)
    return MeshPart(vertices=vertices, faces=faces, uv=uv, texture=texture)


def generate_object(seed: int, settings: ProceduralConfig) -> list[MeshPart]:
    """A random multi-part textured object for ``seed`` (not yet normalised; see ``normalize_parts``).

    The first part sits at the origin; every next part is anchored at a point of an earlier part, so the
    object stays connected.
    """
    rng = np.random.default_rng(seed)
    count = int(rng.integers(settings.min_parts, settings.max_parts + 1))
    parts = [_part(rng, settings, np.zeros(3))]
    for _ in range(count - 1):
        host = parts[int(rng.integers(len(parts)))]
        anchor = host.vertices[int(rng.integers(len(host.vertices)))]
        parts.append(_part(rng, settings, anchor))
    return parts


def parts_to_glb(parts: list[MeshPart]) -> bytes:
    """Serialise textured parts to a binary glTF (one mesh and one PNG texture per part)."""
    import trimesh
    from PIL import Image

    scene = trimesh.Scene()
    for index, part in enumerate(parts):
        if part.texture is None:
            raise ValueError("parts_to_glb needs textured parts")
        image = Image.fromarray(np.round(part.texture * 255).astype(np.uint8))
        material = trimesh.visual.material.PBRMaterial(baseColorTexture=image, baseColorFactor=[255, 255, 255, 255])
        visual = trimesh.visual.TextureVisuals(uv=part.uv, material=material)
        mesh = trimesh.Trimesh(part.vertices, part.faces, visual=visual, process=False)
        scene.add_geometry(mesh, geom_name=f"part_{index:02d}")
    return scene.export(file_type="glb")
