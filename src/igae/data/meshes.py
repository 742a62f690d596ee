"""Textured triangle meshes: loading 3D assets (GLB/GLTF/OBJ/PLY) and normalising them for rendering.

An asset becomes a list of :class:`MeshPart`, each with its own appearance: an image texture with UVs,
per-vertex colours, or one flat colour. Colours are stored as sRGB in [0, 1], as in the files; the renderer
converts them to linear light.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from igae.errors import AssetError

#: Mesh file types accepted in an asset folder (textures and .mtl/.bin side files sit beside them).
MESH_SUFFIXES = (".glb", ".gltf", ".obj", ".ply")

#: Rotations taking an asset's up axis to the world's z-up frame (glTF and most OBJ exports are y-up).
UP_AXIS_TO_Z = {
    "z": np.eye(3),
    "y": np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]]),
}


@dataclass
class MeshPart:
    """One triangle mesh with a single appearance.

    Exactly one of ``texture`` (with ``uv``), ``vertex_colors`` or ``color`` describes its surface colour.
    """

    vertices: np.ndarray  # [V, 3] float
    faces: np.ndarray  # [F, 3] int
    normals: np.ndarray | None = None  # [V, 3] unit vertex normals (smooth shading), or None for flat shading
    uv: np.ndarray | None = None  # [V, 2] texture coordinates, v pointing up (OpenGL / glTF / trimesh)
    texture: np.ndarray | None = None  # [H, W, 3] sRGB in [0, 1]
    vertex_colors: np.ndarray | None = None  # [V, 3] sRGB in [0, 1]
    color: tuple[float, float, float] = (0.8, 0.8, 0.8)  # sRGB in [0, 1], used when neither of the above


def scene_id_from_path(relative: Path) -> str:
    """A scene identifier from an asset path relative to its folder: folders joined by '-', other
    characters outside ``[A-Za-z0-9_-]`` replaced by '_' (``02958343/1a2b/model.obj`` -> ``02958343-1a2b-model``)."""
    parts = list(relative.parent.parts) + [relative.stem]
    return "-".join(re.sub(r"[^A-Za-z0-9_-]+", "_", part) for part in parts if part not in ("", "."))


def discover_assets(folder: Path) -> dict[str, Path]:
    """Every mesh file below ``folder`` (recursively), keyed by :func:`scene_id_from_path`, sorted.

    Raises :class:`AssetError` for a missing folder, a folder without mesh files, or two files that map to
    the same scene id.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise AssetError(
            f"asset folder '{folder}' does not exist (expected a folder of {'/'.join(MESH_SUFFIXES)} files)"
        )
    found: dict[str, Path] = {}
    for path in sorted(p for p in folder.rglob("*") if p.suffix.lower() in MESH_SUFFIXES and p.is_file()):
        scene_id = scene_id_from_path(path.relative_to(folder))
        if scene_id in found:
            raise AssetError(f"assets '{found[scene_id]}' and '{path}' map to the same scene id '{scene_id}'")
        found[scene_id] = path
    if not found:
        raise AssetError(f"asset folder '{folder}' contains no mesh file (expected {', '.join(MESH_SUFFIXES)})")
    return found


def _srgb_image(image) -> np.ndarray:  # [H, W, 3] in [0, 1]
    return np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0


def _part_from_trimesh(mesh) -> MeshPart:
    """Convert one ``trimesh.Trimesh`` (already in scene coordinates) and its visual to a :class:`MeshPart`."""
    import trimesh.visual

    visual = mesh.visual
    vertices = np.asarray(mesh.vertices, dtype=np.float64)
    faces = np.asarray(mesh.faces, dtype=np.int64)
    normals = np.asarray(mesh.vertex_normals, dtype=np.float64)
    if isinstance(visual, trimesh.visual.TextureVisuals):
        material = visual.material
        image = getattr(material, "image", None) or getattr(material, "baseColorTexture", None)
        factor = getattr(material, "baseColorFactor", None)
        tint = np.ones(3) if factor is None else np.asarray(factor[:3], float) / 255.0
        if image is not None and visual.uv is not None and len(visual.uv) == len(vertices):
            texture = np.clip(_srgb_image(image) * tint, 0.0, 1.0)
            return MeshPart(vertices, faces, normals, uv=np.asarray(visual.uv, float), texture=texture)
        main = getattr(material, "main_color", None)
        color = tint if main is None else np.asarray(main[:3], float) / 255.0
        return MeshPart(vertices, faces, normals, color=tuple(float(c) for c in color))
    if visual.kind == "face":
        mesh = mesh.copy()
        mesh.unmerge_vertices()
        face_colors = np.asarray(mesh.visual.face_colors[:, :3], float) / 255.0
        vertex_colors = np.repeat(face_colors, 3, axis=0)
        return MeshPart(
            np.asarray(mesh.vertices, float),
            np.arange(len(faces) * 3).reshape(-1, 3),
            None,
            vertex_colors=vertex_colors,
        )
    if visual.kind == "vertex":
        return MeshPart(vertices, faces, normals, vertex_colors=np.asarray(visual.vertex_colors[:, :3], float) / 255.0)
    return MeshPart(vertices, faces, normals)


#: OBJ material statements that name an image file (the last token of the line is the file).
_MTL_MAPS = ("map_Ka", "map_Kd", "map_Ks", "map_Ns", "map_d", "map_bump", "bump", "disp", "norm")


def _referenced_file(owner: Path, name: str, what: str) -> Path:
    path = (owner.parent / name.strip().replace("\\", "/")).resolve()
    if not path.is_file():
        raise AssetError(
            f"asset '{owner}' names {what} '{name.strip()}', which does not exist (expected at '{path}'): add the "
            "file, or remove the reference so that the asset does not render with a default colour"
        )
    return path


def side_files(path: Path) -> list[Path]:
    """The files an OBJ (its ``mtllib`` files and their texture maps) or a glTF (its buffers and images) reads
    beside itself. Raises :class:`AssetError` naming a referenced file that is missing: trimesh would silently
    render the surface flat white or grey instead."""
    path = Path(path)
    suffix = path.suffix.lower()
    found: list[Path] = []
    if suffix == ".obj":
        text = path.read_text(errors="replace")
        for line in text.splitlines():
            if line.startswith("mtllib "):
                material = _referenced_file(path, line[len("mtllib ") :], "the material file")
                found.append(material)
                for entry in material.read_text(errors="replace").splitlines():
                    tokens = entry.split()
                    if tokens and tokens[0] in _MTL_MAPS and len(tokens) > 1:
                        texture = _referenced_file(material, tokens[-1], f"the texture ({tokens[0]})")
                        found += [] if texture in found else [texture]
    elif suffix == ".gltf":
        import json

        try:
            document = json.loads(path.read_text())
        except ValueError as error:
            raise AssetError(f"asset '{path}' is not a glTF JSON file: {error}") from error
        for kind in ("buffers", "images"):
            for entry in document.get(kind, []):
                uri = entry.get("uri", "")
                if uri and not uri.startswith("data:"):
                    found.append(_referenced_file(path, uri, f"the {kind[:-1]}"))
    return found


def _obj_is_smooth(path: Path) -> bool:
    """Whether an OBJ asks for smooth shading: it carries ``vn`` normals, or a smoothing group (``s 1``...) is on.

    Without either, the OBJ specification shades each face flat (its facet normal)."""
    with path.open(errors="replace") as handle:
        for line in handle:
            if line.startswith("vn "):
                return True
            if line.startswith("s ") and line.split()[1:2] not in (["off"], ["0"]):
                return True
    return False


def load_asset(path: Path) -> list[MeshPart]:
    """Load a GLB/GLTF/OBJ/PLY file (with its textures) as mesh parts in the file's own coordinates.

    Scene-graph transforms are applied. An OBJ with neither ``vn`` normals nor a smoothing group is shaded flat
    (face normals), as the OBJ specification says, not with trimesh's averaged vertex normals, which would round a
    box's edges. Raises
    :class:`AssetError` naming the file when it cannot be read, holds no triangles, or names a material, texture
    or buffer file that is missing (:func:`side_files`).
    """
    import trimesh

    path = Path(path)
    if not path.is_file():
        raise AssetError(f"asset '{path}' does not exist")
    if path.suffix.lower() not in MESH_SUFFIXES:
        raise AssetError(f"asset '{path}' has an unsupported type (expected one of {', '.join(MESH_SUFFIXES)})")
    side_files(path)  # before trimesh, which replaces a missing file by a default colour
    try:
        scene = trimesh.load(str(path), force="scene")
        meshes = [g for g in scene.dump(concatenate=False) if isinstance(g, trimesh.Trimesh) and len(g.faces)]
    except Exception as error:  # trimesh raises many types for corrupt files
        raise AssetError(f"asset '{path}' could not be loaded: {type(error).__name__}: {error}") from error
    if not meshes:
        raise AssetError(f"asset '{path}' contains no triangle mesh")
    parts = [_part_from_trimesh(mesh) for mesh in meshes]
    if path.suffix.lower() == ".obj" and not _obj_is_smooth(path):
        parts = [replace(part, normals=None) for part in parts]
    return parts


def normalize_parts(parts: list[MeshPart], radius: float, up_axis: str = "z") -> list[MeshPart]:
    """Rotate the asset to z-up, centre its bounding box at the origin and scale it so that every vertex
    lies within ``radius`` of the origin (hence inside [-radius, radius]^3 and [-1, 1]^3 for radius <= 1)."""
    rotation = UP_AXIS_TO_Z[up_axis]
    rotated = [part.vertices @ rotation.T for part in parts]
    stacked = np.concatenate(rotated)
    centre = (stacked.min(axis=0) + stacked.max(axis=0)) / 2.0
    extent = np.linalg.norm(stacked - centre, axis=1).max()
    if not np.isfinite(extent) or extent <= 0:
        raise AssetError("asset is degenerate: all its vertices coincide")
    scale = radius / extent
    return [
        replace(
            part,
            vertices=(vertices - centre) * scale,
            normals=None if part.normals is None else part.normals @ rotation.T,
        )
        for part, vertices in zip(parts, rotated)
    ]
