"""Bad inputs named where they enter (issue "nothing silent"): camera files for NeRFs and IG-AE, configuration
relations, non-finite training losses. Each case: the error, its words, and no output written."""

import json
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from igae.config import load_params, resolve_params
from igae.data.camera_files import CameraFileError, read_camera_file
from igae.errors import ConfigError


def scene(tmp_path, frames: int = 3, size: int = 16):
    """A scene folder with a nerfstudio-style transforms.json and its images."""
    (tmp_path / "images").mkdir()
    document = {"fl_x": 17.5, "fl_y": 17.5, "cx": 8.0, "cy": 8.0, "w": size, "h": size, "frames": []}
    for index in range(frames):
        Image.fromarray(np.full((size, size, 3), 30 * index, np.uint8)).save(tmp_path / f"images/view_{index}.png")
        pose = np.eye(4)
        pose[:3, 3] = [0.0, 0.0, 1.3 + index]
        document["frames"].append({"file_path": f"images/view_{index}.png", "transform_matrix": pose.tolist()})
    (tmp_path / "transforms.json").write_text(json.dumps(document))
    return tmp_path / "transforms.json", document


def test_a_good_camera_file_passes(tmp_path):
    path, document = scene(tmp_path)
    assert read_camera_file(path) == document


def edit_pose(value):
    def edit(document, _):
        document["frames"][1]["transform_matrix"][0][3] = value if not callable(value) else value()

    return edit


CASES = {
    "NaN pose": (edit_pose(math.nan), "frame 1 (images/view_1.png): transform_matrix holds NaN or infinity"),
    "scaled pose": (
        lambda d, _: d["frames"][1]["transform_matrix"][0].__setitem__(0, 2.0),
        "frame 1 (images/view_1.png): transform_matrix is not a rigid camera-to-world transform",
    ),
    "3x4 pose": (
        lambda d, _: d["frames"][0]["transform_matrix"].pop(),
        "transform_matrix has shape [3, 4], expected 4x4",
    ),
    "no frames": (lambda d, _: d.update(frames=[]), "lists no frames"),
    "negative focal": (lambda d, _: d.update(fl_x=-1.0), "fl_x must be finite positive numbers, got -1.0"),
    "wrong size": (lambda d, _: d.update(w=32, h=32), "frame 0 (images/view_0.png): the image"),
    "missing image": (lambda d, root: (root / "images/view_2.png").unlink(), "view_2.png' does not exist"),
    "truncated image": (
        lambda d, root: (root / "images/view_1.png").write_bytes((root / "images/view_1.png").read_bytes()[:40]),
        "view_1.png' cannot be read",
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_a_bad_camera_file_is_named_with_the_frame(tmp_path, case):
    path, document = scene(tmp_path)
    edit, words = CASES[case]
    edit(document, tmp_path)
    path.write_text(json.dumps(document))
    with pytest.raises(CameraFileError, match="transforms.json") as error:
        read_camera_file(path)
    assert words in str(error.value)


def test_a_camera_file_that_is_not_json_is_named(tmp_path):
    (tmp_path / "transforms.json").write_text("{not json")
    with pytest.raises(CameraFileError, match="transforms.json' is not valid JSON"):
        read_camera_file(tmp_path / "transforms.json")


def test_near_beyond_far_is_a_configuration_error(repo):
    params = load_params(repo / "params.yaml")
    params["igae"]["rendering"].update(near=2.5, far=2.1)
    with pytest.raises(ConfigError, match=r"'igae.rendering.near' \(2.5\) must be below 'igae.rendering.far' \(2.1\)"):
        resolve_params(params)


def test_a_zero_test_fraction_is_refused_naming_the_key(repo):
    params = load_params(repo / "params.yaml")
    params["render"]["test_fraction"] = 0
    with pytest.raises(ConfigError, match=r"'render.test_fraction': 0 is less than or equal to the minimum of 0"):
        resolve_params(params)


def test_only_cuda_methods_on_a_cpu_plan_is_one_clear_error(repo):
    import dataclasses

    from igae.config import load_config
    from igae.plan import RunPlan

    tiny = load_config(repo / "params.yaml", "tiny")
    nerf = dataclasses.replace(tiny.nerf, methods=("instant-ngp",), device="cpu")
    with pytest.raises(ConfigError, match=r"nerf.methods \['instant-ngp'\]: every one needs CUDA .* nerf.device 'cpu'"):
        RunPlan(dataclasses.replace(tiny, nerf=nerf))


def test_a_real_image_folder_too_small_to_hold_any_image_out_is_refused(tmp_path, repo):
    import dataclasses

    from igae.config import load_config
    from igae.data.real_images import prepare_real_images
    from igae.errors import ImageSetError

    folder = tmp_path / "imagenet"
    folder.mkdir()
    for index in range(3):
        Image.fromarray(np.full((140, 140, 3), 40 * index, np.uint8)).save(folder / f"img_{index}.png")
    settings = dataclasses.replace(load_config(repo / "params.yaml", "tiny").real_images, source="folder",
                                   folder=str(folder))  # fmt: skip
    with pytest.raises(ImageSetError, match=r"3 images with real_images.heldout_fraction 0.1 hold out 0"):
        prepare_real_images(settings, 128, tmp_path / "out")
    assert not (tmp_path / "out").exists()


# -- assets: side files and shading -------------------------------------------------------------------------------
BOX_OBJ = """mtllib box.mtl
v 0 0 0\nv 1 0 0\nv 1 1 0\nv 0 1 0\nv 0 0 1\nv 1 0 1\nv 1 1 1\nv 0 1 1
vt 0 0\nvt 1 0\nvt 1 1\nvt 0 1
usemtl box
f 1/1 3/3 2/2\nf 1/1 4/4 3/3\nf 5/1 6/2 7/3\nf 5/1 7/3 8/4\nf 1/1 2/2 6/3\nf 1/1 6/3 5/4
f 2/1 3/2 7/3\nf 2/1 7/3 6/4\nf 3/1 4/2 8/3\nf 3/1 8/3 7/4\nf 4/1 1/2 5/3\nf 4/1 5/3 8/4
"""


def box_asset(tmp_path, material: str | None = "newmtl box\nKd 0.8 0.3 0.2\n", obj: str = BOX_OBJ):
    (tmp_path / "box.obj").write_text(obj)
    if material is not None:
        (tmp_path / "box.mtl").write_text(material)
    return tmp_path / "box.obj"


ASSET_CASES = {
    "missing .mtl": (dict(material=None), "names the material file 'box.mtl', which does not exist"),
    "missing texture": (
        dict(material="newmtl box\nmap_Kd colors16.png\n"),
        "box.mtl' names the texture (map_Kd) 'colors16.png', which does not exist",
    ),
    "texture outside the folder": (
        dict(material="newmtl box\nmap_Kd ../cube.png\n"),
        "names the texture (map_Kd) '../cube.png', which does not exist",
    ),
}


@pytest.mark.parametrize("case", ASSET_CASES)
def test_an_asset_naming_a_missing_file_is_refused_before_rendering(tmp_path, case, repo):
    from igae.config import load_config
    from igae.data.scenes import render_scene
    from igae.errors import AssetError

    options, words = ASSET_CASES[case]
    asset = box_asset(tmp_path, **options)
    settings = load_config(repo / "params.yaml", "micro").render
    with pytest.raises(AssetError, match="box") as error:
        render_scene(asset, tmp_path / "scene", views=3, seed=0, settings=settings)
    assert words in str(error.value) and not (tmp_path / "scene").exists()


def test_a_gltf_naming_a_missing_buffer_is_refused(tmp_path):
    from igae.data.meshes import load_asset
    from igae.errors import AssetError

    (tmp_path / "m.gltf").write_text(json.dumps({"asset": {"version": "2.0"}, "buffers": [{"uri": "m.bin"}]}))
    with pytest.raises(AssetError, match=r"m.gltf' names the buffer 'm.bin', which does not exist"):
        load_asset(tmp_path / "m.gltf")


def test_an_obj_without_normals_or_smoothing_groups_is_shaded_flat(tmp_path):
    from igae.data.meshes import load_asset

    flat = load_asset(box_asset(tmp_path))
    assert all(part.normals is None for part in flat)  # facet normals: the box keeps its edges
    smooth = load_asset(box_asset(tmp_path, obj=BOX_OBJ.replace("usemtl box", "usemtl box\ns 1")))
    assert all(part.normals is not None for part in smooth)


def test_a_scene_records_the_files_its_asset_reads(tmp_path, repo):
    from igae.config import load_config
    from igae.data.scenes import render_scene

    (tmp_path / "box.png").write_bytes(b"")
    Image.fromarray(np.full((4, 4, 3), 200, np.uint8)).save(tmp_path / "box.png")
    asset = box_asset(tmp_path, material="newmtl box\nmap_Kd box.png\n")
    settings = load_config(repo / "params.yaml", "micro").render
    record = render_scene(asset, tmp_path / "scene", views=3, seed=0, settings=settings)
    assert [Path(name).name for name in record["asset_files"]] == ["box.mtl", "box.png"]


# -- autoencoders -------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def small_autoencoder(tmp_path_factory):
    from diffusers import AutoencoderKL

    folder = tmp_path_factory.mktemp("ae") / "ae"
    AutoencoderKL(block_out_channels=(8, 16), down_block_types=("DownEncoderBlock2D",) * 2,
                  up_block_types=("UpDecoderBlock2D",) * 2, latent_channels=4, layers_per_block=1,
                  norm_num_groups=4).save_pretrained(folder)  # fmt: skip
    return folder


@pytest.mark.parametrize(("key", "value", "words"), [
    ("layers_per_block", 2, "missing keys: decoder.up_blocks.0.resnets.2."),  # diffusers alone: random weights
    ("block_out_channels", [8, 32], "size mismatch for encoder.down_blocks.1"),
])  # fmt: skip
def test_a_config_that_does_not_fit_its_weights_is_refused(small_autoencoder, tmp_path, key, value, words):
    import shutil

    from igae.autoencoders.model import AutoencoderError, load_autoencoder

    folder = tmp_path / "ae"
    shutil.copytree(small_autoencoder, folder)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, key: value}))
    with pytest.raises(AutoencoderError, match=r"'.*ae': its weights do not fit its config.json") as error:
        load_autoencoder(folder)
    assert words in str(error.value)


def test_a_missing_local_folder_with_a_slash_is_named_as_a_folder_too(tmp_path, monkeypatch):
    from igae.autoencoders.model import AutoencoderError, load_autoencoder

    monkeypatch.chdir(tmp_path)
    with pytest.raises(AutoencoderError, match=rf"nor is it a local folder \(no '{tmp_path}/models/my-ae'\)"):
        load_autoencoder("models/my-ae")
    with pytest.raises(AutoencoderError, match=rf"neither an existing folder \(no '{tmp_path}/results/ae/standard'\)"):
        load_autoencoder("results/ae/standard")


# -- NeRF runs: LPIPS weights -------------------------------------------------------------------------------------
def test_a_nerf_run_without_the_lpips_weights_says_so_instead_of_downloading(tmp_path, monkeypatch, repo):
    from igae.config import load_config
    from igae.errors import IgaeError
    from igae.nerf.run import run_nerf

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty-torch-home"))
    tiny = load_config(repo / "params.yaml", "tiny")
    (tmp_path / "scene").mkdir()
    path, _ = scene(tmp_path / "scene")
    with pytest.raises(IgaeError, match=r"LPIPS alex backbone weights are missing: expected '.*empty-torch-home"):
        run_nerf("tensorf", "rgb", path.parent, tmp_path / "run", tmp_path / "m.json", tmp_path / "v.png", tiny.nerf,
                 normalizer=tiny.autoencoder.normalizer)  # fmt: skip
    assert not (tmp_path / "run").exists() and not (tmp_path / "m.json").exists()


# -- full disks ---------------------------------------------------------------------------------------------------
def test_a_checkpoint_the_disk_cannot_hold_names_the_file_and_keeps_the_previous(tmp_path):
    """A real write failure (the file-size limit of the process, as a full disk fails a write), not a mock."""
    import subprocess
    import sys

    import torch

    path = tmp_path / "checkpoint.pt"
    script = f"""
import resource, signal, torch
from igae.checkpoint import save_checkpoint
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
save_checkpoint({str(path)!r}, {{"step": 1, "model": torch.zeros(8)}})
resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20))
save_checkpoint({str(path)!r}, {{"step": 2, "model": torch.zeros(1 << 20)}})
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert f"OutputWriteError: cannot write '{path}' (" in result.stderr
    assert "bytes): File too large; nothing was replaced" in result.stderr
    assert torch.load(path, weights_only=False)["step"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.pt"]  # no partial file, no leftover


def test_a_study_beyond_the_rendered_scenes_is_one_clear_error(repo):
    import dataclasses

    from igae.config import load_config
    from igae.plan import RunPlan

    study = load_config(repo / "params.yaml", "study")
    assert len(RunPlan(study).study.points) == 5
    too_many = dataclasses.replace(study.study, scenes=(4, 21))
    with pytest.raises(ConfigError, match=r"study: points with \[21\] IG-AE scenes, but scenes.igae_train has 20"):
        RunPlan(dataclasses.replace(study, study=too_many))
    past_the_end = dataclasses.replace(study.study, first_eval_scene=8)
    with pytest.raises(
        ConfigError, match=r"evaluation scenes 8 to 13, but scenes.eval has 12: raise scenes.eval.count"
    ):
        RunPlan(dataclasses.replace(study, study=past_the_end))
