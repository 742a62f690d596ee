"""Bad inputs named where they enter (issue "nothing silent"): camera files for NeRFs and IG-AE, configuration
relations, non-finite training losses. Each case: the error, its words, and no output written."""

import json
import math

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
