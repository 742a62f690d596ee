from pathlib import Path

import numpy as np
import pytest

from igae.config import load_config
from igae.data.meshes import load_asset, normalize_parts
from igae.data.procedural import PRIMITIVES, TEXTURES, generate_object, parts_to_glb, primitive, procedural_texture

SETTINGS = load_config(Path(__file__).parents[1] / "params.yaml", "tiny").scenes.procedural


def _signed_volume(vertices, faces):
    tri = vertices[faces]
    return np.einsum("ij,ij->i", tri[:, 0], np.cross(tri[:, 1], tri[:, 2])).sum() / 6.0


@pytest.mark.parametrize("kind", PRIMITIVES)
def test_primitives_are_closed_outward_and_unit_sized(kind):
    vertices, uv, faces = primitive(kind, 16)
    assert _signed_volume(vertices, faces) > 0  # outward winding
    assert np.abs(vertices).max() <= 1 + 1e-9
    assert uv.shape == (len(vertices), 2) and uv.min() >= 0 and uv.max() <= 1


@pytest.mark.parametrize("kind", TEXTURES)
def test_textures_are_valid_images(kind):
    texture = procedural_texture(kind, 32, np.random.default_rng(0))
    assert texture.shape == (32, 32, 3) and 0 <= texture.min() and texture.max() <= 1
    assert texture.reshape(-1, 3).std(axis=0).max() > 0.01  # a pattern, not a flat colour


def test_generator_is_deterministic_for_a_seed():
    first, second = generate_object(7, SETTINGS), generate_object(7, SETTINGS)
    assert len(first) == len(second)
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a.vertices, b.vertices)
        np.testing.assert_array_equal(a.faces, b.faces)
        np.testing.assert_array_equal(a.texture, b.texture)
    assert parts_to_glb(first) == parts_to_glb(second)
    other = generate_object(8, SETTINGS)
    assert len(other) != len(first) or not np.array_equal(other[0].vertices, first[0].vertices)


def test_objects_are_varied_multi_part():
    counts = [len(generate_object(seed, SETTINGS)) for seed in range(20)]
    assert min(counts) >= 3 and max(counts) <= 6 and len(set(counts)) > 1


def test_normalised_object_is_centred_inside_the_unit_cube(tmp_path):
    parts = normalize_parts(generate_object(3, SETTINGS), 0.5, "z")
    vertices = np.concatenate([p.vertices for p in parts])
    np.testing.assert_allclose((vertices.min(0) + vertices.max(0)) / 2, 0, atol=1e-9)
    assert np.linalg.norm(vertices, axis=1).max() == pytest.approx(0.5)
    path = tmp_path / "object.glb"
    path.write_bytes(parts_to_glb(parts))
    loaded = load_asset(path)
    assert len(loaded) == len(parts)
    # Loading merges duplicated vertices, so compare the point sets (every loaded vertex is an original one).
    loaded_vertices = np.concatenate([p.vertices for p in loaded])
    nearest = np.min(np.linalg.norm(loaded_vertices[:, None] - vertices[None], axis=-1), axis=1)
    assert nearest.max() < 1e-6
    np.testing.assert_allclose(
        [loaded_vertices.min(0), loaded_vertices.max(0)], [vertices.min(0), vertices.max(0)], atol=1e-6
    )
    # Every texture survives the GLB round trip (8-bit PNG quantisation only); parts may come back reordered.
    for part in loaded:
        assert min(np.abs(part.texture - original.texture).max() for original in parts) <= 1 / 255 + 1e-6
