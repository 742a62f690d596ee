"""Rendering real and procedural assets into nerfstudio scenes (Mitsuba on CPU)."""

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import trimesh
from PIL import Image

from igae.config import load_config, typed_params
from igae.data.cameras import Intrinsics, look_at_opencv, project_points
from igae.data.meshes import MeshPart, discover_assets, load_asset, normalize_parts
from igae.data.procedural import generate_object, parts_to_glb, primitive
from igae.data.render import MeshRenderer
from igae.data.scenes import render_scene
from igae.errors import AssetError

TINY = load_config(Path(__file__).parents[1] / "params.yaml", "tiny")
SMALL = dataclasses.replace(TINY.render, image_size=32, samples_per_pixel=4)
K = Intrinsics.from_normalized(1.09375, 64, 64)


def test_renderer_matches_the_camera_model():
    """A small dark sphere lands on the pixel where the OpenCV camera model projects its centre."""
    vertices, _, faces = primitive("ellipsoid", 16)
    centre = np.array([0.3, -0.2, 0.1])
    sphere = MeshPart(vertices * 0.04 + centre, faces, color=(0.0, 0.0, 0.0))
    cam2world = look_at_opencv(np.array([1.3 * np.cos(0.7), 1.3 * np.sin(0.7), 0.4]), np.zeros(3))
    image = MeshRenderer([sphere], K, 16).render(cam2world).astype(float).mean(axis=-1)
    rows, cols = np.nonzero(image < 128)
    expected = project_points(centre[None], cam2world, K)[0]
    np.testing.assert_allclose([cols.mean() + 0.5, rows.mean() + 0.5], expected, atol=0.5)


def test_background_is_white_and_textures_keep_their_orientation():
    texture = np.zeros((8, 8, 3), np.float32)
    texture[:4] = (1.0, 0.0, 0.0)  # image top (v = 1): red
    texture[4:] = (0.0, 0.0, 1.0)
    quad = MeshPart(
        np.array([[-0.4, 0, -0.4], [0.4, 0, -0.4], [0.4, 0, 0.4], [-0.4, 0, 0.4]]),
        np.array([[0, 1, 2], [0, 2, 3]]),
        uv=np.array([[0, 0], [1, 0], [1, 1], [0, 1]], float),
        texture=texture,
    )
    image = MeshRenderer([quad], K, 4).render(look_at_opencv(np.array([0, -1.3, 0.0]), np.zeros(3)))
    assert (image[0, 0] == 255).all() and (image[-1, -1] == 255).all()
    top, bottom = image[20, 32], image[44, 32]
    assert top[0] > 150 > top[2] and bottom[2] > 150 > bottom[0]


def test_real_textured_mesh_renders_with_its_texture(pybullet_data, tmp_path):
    """pybullet's duck (OBJ + MTL + PNG texture), also converted to GLB and PLY, renders as a yellow duck."""
    duck = pybullet_data / "duck.obj"
    mesh = trimesh.load(duck, force="mesh")
    glb, ply = tmp_path / "duck.glb", tmp_path / "duck.ply"
    mesh.export(glb)
    colored = mesh.copy()
    colored.visual = mesh.visual.to_color()
    colored.export(ply)
    cam = look_at_opencv(np.array([0.0, -1.3, 0.3]), np.zeros(3))
    for path in (duck, glb, ply):
        parts = normalize_parts(load_asset(path), 0.5, "y")
        image = MeshRenderer(parts, K, 8).render(cam).astype(float)
        foreground = image[image.mean(axis=-1) < 250]
        assert len(foreground) > 200, path
        red, green, blue = foreground.mean(axis=0)
        assert red > 1.5 * blue and green > 1.5 * blue, (path, foreground.mean(axis=0))  # yellow, not grey


def test_scene_folder_is_a_complete_nerfstudio_dataset(tmp_path):
    asset = tmp_path / "object.glb"
    asset.write_bytes(parts_to_glb(normalize_parts(generate_object(1, TINY.scenes.procedural), 0.5, "z")))
    out = tmp_path / "scene"
    record = render_scene(asset, out, views=10, seed=3, settings=SMALL, metadata={"split": "eval", "dataset": "t"})
    assert record["train_views"] == 9 and record["test_views"] == 1
    images = sorted((out / "images").glob("*.png"))
    assert len(images) == 10
    pixels = np.asarray(Image.open(images[0]))
    assert pixels.shape == (32, 32, 3) and (pixels[0, 0] == 255).all() and pixels.min() < 200
    nerfstudio = json.loads((out / "transforms.json").read_text())
    opencv = json.loads((out / "transforms_opencv.json").read_text())
    assert nerfstudio["fl_x"] == 35.0 and nerfstudio["cx"] == 16.0 and nerfstudio["w"] == 32
    assert opencv["normalized_intrinsics"] == {"fx": 1.09375, "fy": 1.09375, "cx": 0.5, "cy": 0.5}
    for gl_frame, cv_frame in zip(nerfstudio["frames"], opencv["frames"]):
        gl, cv = np.array(gl_frame["transform_matrix"]), np.array(cv_frame["transform_matrix"])
        np.testing.assert_allclose(gl, cv @ np.diag([1, -1, -1, 1]), atol=1e-8)
        np.testing.assert_allclose(np.linalg.norm(cv[:3, 3]), 1.3, atol=1e-6)
    assert nerfstudio["test_filenames"] == [f["file_path"] for f in opencv["frames"] if f["split"] == "test"]
    # Same seed, same scene.
    again = tmp_path / "again"
    render_scene(asset, again, views=10, seed=3, settings=SMALL, metadata={"split": "eval", "dataset": "t"})
    assert (again / "transforms.json").read_text() == (out / "transforms.json").read_text()


def test_nerfstudio_dataparser_loads_the_scene_with_our_poses(tmp_path):
    from nerfstudio.data.dataparsers.nerfstudio_dataparser import NerfstudioDataParserConfig

    asset = tmp_path / "object.glb"
    asset.write_bytes(parts_to_glb(normalize_parts(generate_object(2, TINY.scenes.procedural), 0.5, "z")))
    out = tmp_path / "scene"
    render_scene(asset, out, views=10, seed=0, settings=SMALL, metadata={"split": "eval", "dataset": "t"})
    frames = json.loads((out / "transforms.json").read_text())["frames"]
    expected = {f["file_path"]: np.array(f["transform_matrix"])[:3, :4] for f in frames}
    raw = NerfstudioDataParserConfig(
        data=out, orientation_method="none", center_method="none", auto_scale_poses=False
    ).setup()
    for split, count in (("train", 9), ("test", 1)):
        outputs = raw.get_dataparser_outputs(split)
        assert len(outputs.image_filenames) == count
        for name, pose in zip(outputs.image_filenames, outputs.cameras.camera_to_worlds.numpy()):
            np.testing.assert_allclose(pose, expected[f"images/{name.name}"], atol=1e-5)
        assert float(outputs.cameras.fx[0]) == pytest.approx(35.0) and int(outputs.cameras.width[0]) == 32
    # With nerfstudio's defaults the poses are re-oriented and re-scaled; its transform maps ours onto them.
    default = NerfstudioDataParserConfig(data=out).setup().get_dataparser_outputs("train")
    transform = default.dataparser_transform.numpy()
    for name, pose in zip(default.image_filenames, default.cameras.camera_to_worlds.numpy()):
        ours = np.vstack([expected[f"images/{name.name}"], [0, 0, 0, 1]])
        mapped = transform @ ours
        mapped[:3, 3] *= default.dataparser_scale
        np.testing.assert_allclose(pose, mapped[:3], atol=1e-5)


def test_unloadable_asset_fails_clearly_and_leaves_nothing(tmp_path):
    broken = tmp_path / "broken.glb"
    broken.write_bytes(b"this is not a glb file")
    out = tmp_path / "scenes" / "broken"
    with pytest.raises(AssetError, match="broken.glb"):
        render_scene(broken, out, views=4, seed=0, settings=SMALL)
    assert list(tmp_path.iterdir()) == [broken]  # no scene folder, no temporary folder


def test_failure_while_rendering_leaves_no_partial_scene(tmp_path, monkeypatch):
    asset = tmp_path / "object.glb"
    asset.write_bytes(parts_to_glb(normalize_parts(generate_object(1, TINY.scenes.procedural), 0.5, "z")))
    calls = {"n": 0}
    original = MeshRenderer.render

    def failing(self, cam2world, view_index=0):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt  # as if killed mid-scene
        return original(self, cam2world, view_index)

    monkeypatch.setattr(MeshRenderer, "render", failing)
    with pytest.raises(KeyboardInterrupt):
        render_scene(asset, tmp_path / "scene", views=6, seed=0, settings=SMALL)
    assert list(tmp_path.iterdir()) == [asset]


def test_asset_folder_errors(tmp_path):
    with pytest.raises(AssetError, match="does not exist"):
        discover_assets(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("no meshes here")
    with pytest.raises(AssetError, match="contains no mesh file"):
        discover_assets(tmp_path / "empty")


def test_asset_ids_are_unique_and_path_based(pybullet_data, tmp_path):
    for category in ("cars", "chairs"):
        (tmp_path / category / "model_1").mkdir(parents=True)
        (tmp_path / category / "model_1" / "model.obj").write_bytes((pybullet_data / "cube.obj").read_bytes())
    assert list(discover_assets(tmp_path)) == ["cars-model_1-model", "chairs-model_1-model"]


def test_official_scenes_are_planned_by_category_and_imported_like_rendered_ones(tmp_path, official_scene_set):
    from igae.config import load_params
    from igae.data.official import import_official_scene
    from igae.data.plan import plan_scenes

    data = official_scene_set(tmp_path / "objaverse", {"cake": ["a1", "a2"], "house": ["b1"]})
    params = load_params(Path(__file__).parents[1] / "params.yaml", {})
    params["scenes"]["igae_train"].update(source="official", asset_dir=str(data), count=2)
    tree = typed_params(params)
    train = [spec for spec in plan_scenes(tree.scenes, tree.seed) if spec.split == "igae_train"]
    assert [(spec.scene_id, spec.dataset, spec.imported) for spec in train] == [
        ("a1", "cake", True),
        ("a2", "cake", True),
    ]
    record = import_official_scene(train[0].asset, tmp_path / "a1", test_fraction=0.2, metadata={"split": "igae_train"})
    assert (record["views"], record["train_views"], record["test_views"]) == (6, 4, 2)
    ours = json.loads((tmp_path / "a1/transforms_opencv.json").read_text())["frames"]
    theirs = json.loads((data / "square128/a1/transforms_opencv.json").read_text())["frames"]
    np.testing.assert_allclose(
        [f["transform_matrix"] for f in ours], [f["transform_matrix"] for f in theirs], atol=1e-8
    )
    assert (tmp_path / "a1/images/view_005.png").read_bytes() == (data / "square128/a1/rgb/00005.png").read_bytes()
    assert len(json.loads((tmp_path / "a1/transforms.json").read_text())["test_filenames"]) == 2
    # A view the camera file lists but the folder lacks: a clear error, and no scene folder.
    (data / "square128/a2/rgb/00003.png").unlink()
    with pytest.raises(AssetError, match="missing: rgb/00003.png"):
        import_official_scene(train[1].asset, tmp_path / "a2", test_fraction=0.2, metadata={})
    assert not (tmp_path / "a2").exists()
    (data / "dataset_map.json").unlink()
    with pytest.raises(AssetError, match="dataset_map.json' does not exist"):
        plan_scenes(tree.scenes, tree.seed)
