"""Latent runs in nerfstudio's own tools (viewer, ns-render, ns-eval) and the turntable videos."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
import torch
from PIL import Image

from browser import HeadlessBrowser, find_browser, free_port, save
from igae.config.tree import TriplaneConfig, VideosConfig
from igae.data.cameras import turntable_cameras
from igae.nerf.run import load_finished_run, run_nerf
from igae.reporting.turntables import Orbit, film_latent_scenes, film_nerf_runs, nerfstudio_camera_path
from igae.training.igae import build_triplane_model, save_triplane_model
from nerf_micro import NORMALIZER, TINY, micro_settings

BIN = Path(sys.executable).parent
VIDEOS = VideosConfig(
    frames=4, fps=10, elevation_degrees=27.0, radius=1.3, depth_resolution=8, nerf_scenes=1, nerf_methods=None
)
FOCAL = TINY.render.focal


@pytest.fixture(scope="module")
def runs(micro_scene, micro_autoencoder, tmp_path_factory) -> dict[str, Path]:
    """A finished latent and a finished RGB TensoRF run of the micro scene: label -> metrics JSON."""
    root = tmp_path_factory.mktemp("runs")
    metrics = {}
    for target in ("latent", "rgb"):
        run_nerf(
            "tensorf", target, micro_scene, root / target, root / f"{target}.json", root / f"{target}.png",
            micro_settings(), normalizer=NORMALIZER, autoencoder=micro_autoencoder if target == "latent" else None,
            device="cpu", threads=2,
        )  # fmt: skip
        metrics[target] = root / f"{target}.json"
    return metrics


def run_dir(metrics: Path) -> Path:
    return Path(json.loads(metrics.read_text())["run_dir"])


def test_turntable_cameras_circle_the_object_at_the_video_pose():
    poses = turntable_cameras(40, 1.3, 27.0)  # OpenCV cam2world
    eyes = poses[:, :3, 3]
    assert np.allclose(np.linalg.norm(eyes, axis=1), 1.3)
    assert np.allclose(np.degrees(np.arcsin(eyes[:, 2] / 1.3)), 27.0)
    azimuths = np.unwrap(np.arctan2(eyes[:, 1], eyes[:, 0]))
    assert np.allclose(np.diff(azimuths), 2 * math.pi / 40) and azimuths[0] == 0.0  # a full turn, no frame twice
    forward = poses[:, :3, 2]  # +z looks at the origin
    assert np.allclose(forward, -eyes / 1.3, atol=1e-9)


def test_the_viewer_outputs_of_a_latent_run_are_its_decoded_views(runs):
    """What nerfstudio's viewer and ns-render ask a model for (get_outputs_for_camera, a full-resolution camera):
    the decoded image first (the default output), equal to the evaluation's decode of the same view, then the
    latent, each channel, depth and accumulation, all at the camera's resolution. RGB runs are unchanged."""
    pipeline = load_finished_run(run_dir(runs["latent"]))
    full_resolution = pipeline.datamanager.eval_dataset.cameras[0:1].to(pipeline.device)
    outputs = pipeline.model.get_outputs_for_camera(full_resolution)
    assert list(outputs)[:6] == ["rgb", "latent", "latent_00", "latent_01", "latent_02", "latent_03"]
    assert {"depth", "accumulation"} <= set(outputs)
    assert all(value.shape[:2] == (32, 32) for value in outputs.values())
    camera, batch = next(iter(pipeline.datamanager.eval_views()))  # the evaluation's latent-resolution camera
    _, decoded = pipeline.render_view(camera, batch["rgb"].shape)
    assert torch.equal(outputs["rgb"], decoded)
    assert torch.equal(outputs["latent_02"][..., 0], outputs["latent"][..., 2])

    rgb = load_finished_run(run_dir(runs["rgb"]))
    camera = rgb.datamanager.eval_dataset.cameras[0:1].to(rgb.device)
    viewer, target = rgb.model.get_outputs_for_camera(camera), rgb.model.get_target_outputs_for_camera(camera)
    assert viewer.keys() == target.keys() and torch.equal(viewer["rgb"], target["rgb"])


def test_ns_eval_and_ns_render_open_every_run_without_a_system_ffmpeg(runs, tmp_path):
    """ns-eval reproduces each run's metrics (RGB runs too: their method, rgb-tensorf, is registered), and
    ns-render renders a camera path to MP4 with no ffmpeg on PATH (the one imageio-ffmpeg's wheel carries); a
    latent run's frames are its decoded images."""
    env = {
        "HOME": os.environ.get("HOME", "/root"),
        "PATH": "/usr/bin:/bin",
        "TORCH_HOME": os.environ.get("TORCH_HOME", ""),
    }
    env = {key: value for key, value in env.items() if value}
    for label, metrics in runs.items():
        folder = run_dir(metrics)
        evaluation = tmp_path / f"{label}-eval.json"
        done = subprocess.run(
            [BIN / "ns-eval", "--load-config", folder / "config.yml", "--output-path", evaluation],
            capture_output=True, text=True, env=env, timeout=300,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr[-2000:]
        assert json.loads(evaluation.read_text())["results"]["psnr"] == pytest.approx(
            json.loads(metrics.read_text())["metrics"]["psnr"], abs=1e-4
        )
        pipeline = load_finished_run(folder)
        outputs = pipeline.datamanager.train_dataparser_outputs
        orbit = Orbit(VIDEOS.frames, VIDEOS.radius, VIDEOS.elevation_degrees, FOCAL)
        path = nerfstudio_camera_path(
            orbit, 32, outputs.dataparser_transform.numpy(), float(outputs.dataparser_scale), VIDEOS.fps
        )
        path_file = tmp_path / f"{label}-path.json"
        path_file.write_text(json.dumps(path))
        video = tmp_path / f"{label}.mp4"
        done = subprocess.run(
            [BIN / "ns-render", "camera-path", "--load-config", folder / "config.yml", "--camera-path-filename",
             path_file, "--output-path", video],
            capture_output=True, text=True, env=env, timeout=300,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        frames = iio.imread(video)
        assert frames.shape == (VIDEOS.frames, 32, 32, 3)
        if label == "latent":
            from nerfstudio.cameras.camera_paths import get_path_from_json

            first = pipeline.model.get_outputs_for_camera(get_path_from_json(path)[0:1].to(pipeline.device))["rgb"]
            assert np.abs(frames[0] / 255.0 - first.cpu().numpy()).mean() < 0.05  # MP4 is lossy


def test_a_latent_scene_turntable_is_deterministic(micro_autoencoder, tmp_path):
    """GIF and MP4 of 2 latent scenes (tri-planes saved as an IG-AE stage writes them), byte for byte the same
    when made twice; one column a scene: channels, decoded image, depth."""
    settings = TriplaneConfig(features=4, resolution=8, hidden=8, plane_axes="orthogonal")
    stage = tmp_path / "stage"
    save_triplane_model(build_triplane_model(2, 4, settings, seed=0), settings, ["a", "b"], stage / "triplanes.pt")
    made = []
    for attempt in range(2):
        paths = film_latent_scenes(
            stage, micro_autoencoder, tmp_path / f"turntable{attempt}", videos=VIDEOS, image_size=32, focal=FOCAL,
            volume=TINY.igae.rendering, scenes=4, latent_channels=4, normalizer=NORMALIZER, title="test",
        )  # fmt: skip
        assert [path.suffix for path in paths] == [".gif", ".mp4", ".png"]
        made.append([path.read_bytes() for path in paths])
    assert made[0] == made[1]
    frames = iio.imread(tmp_path / "turntable0.gif")
    rows = 3  # channels (4 channels of 4x4 latents, 4 a row, upsampled 2x: 8 x 32), decoded 32, depth 32
    assert frames.shape[0] == VIDEOS.frames
    assert frames.shape[1:3] == (14 + 14 + 8 + 32 + 32 + (rows - 1) * 4, 2 * 32 + 4)  # title, label, 2 columns
    assert not list(tmp_path.glob(".*tmp-*"))  # written atomically


def test_a_nerf_turntable_films_the_runs_side_by_side_on_the_orbit(runs, tmp_path):
    """The runs of one scene side by side, with the orbit as a nerfstudio camera path in the runs' dataparser
    frame: mapped back to the world, its cameras are at the video pose."""
    from nerfstudio.cameras.camera_paths import get_path_from_json

    folders = {label: run_dir(metrics) for label, metrics in runs.items()}
    paths = film_nerf_runs(folders, tmp_path / "scene", videos=VIDEOS, image_size=32, focal=FOCAL, title="tensorf")
    assert [path.name for path in paths] == ["scene.camera_path.json", "scene.gif", "scene.mp4", "scene.png"]
    path = json.loads(paths[0].read_text())
    cameras = get_path_from_json(path)
    assert len(cameras) == VIDEOS.frames and path["render_height"] == 32
    transforms = json.loads((folders["latent"] / "dataparser_transforms.json").read_text())
    transform, scale = np.array(transforms["transform"]), transforms["scale"]
    positions = cameras.camera_to_worlds[:, :3, 3].numpy() / scale
    world = (positions - transform[:, 3]) @ transform[:, :3]  # the dataparser's rotation is orthonormal
    assert np.allclose(np.linalg.norm(world, axis=1), 1.3, atol=1e-4)
    assert np.allclose(np.degrees(np.arcsin(world[:, 2] / 1.3)), 27.0, atol=1e-3)
    frames = iio.imread(paths[1])
    assert frames.shape[0] == VIDEOS.frames and frames.shape[2] == 2 * 32 + 4  # two columns


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(-10 * np.log10(np.mean((a.astype(float) - b.astype(float)) ** 2) + 1e-12))


@pytest.mark.skipif(find_browser() is None, reason="no Chromium (tests/install-packages.sh installs Debian's)")
def test_the_viewer_shows_the_decoded_image_in_a_real_browser(runs, tmp_path):
    """nerfstudio's viewer on a latent run (started as ns-viewer starts it), opened in headless Chromium and moved
    to a training camera: the picture it streams matches decode(render) of the viewer's own camera, not the PCA
    false colours of the latent that the viewer showed before."""
    from threading import Lock

    from nerfstudio.utils.colormaps import apply_colormap
    from nerfstudio.utils.eval_utils import eval_setup
    from nerfstudio.viewer.utils import get_camera
    from nerfstudio.viewer.viewer import Viewer

    config, pipeline, _, step = eval_setup(run_dir(runs["latent"]) / "config.yml", test_mode="test")
    config.viewer.websocket_port, config.viewer.websocket_host = free_port(), "127.0.0.1"
    viewer = Viewer(
        config.viewer, log_filename=tmp_path / "viewer.txt", datapath=pipeline.datamanager.get_datapath(),
        pipeline=pipeline, train_lock=Lock(),
    )  # fmt: skip
    viewer.init_scene(
        train_dataset=pipeline.datamanager.train_dataset, train_state="completed",
        eval_dataset=pipeline.datamanager.eval_dataset,
    )  # fmt: skip
    viewer.update_scene(step=step)
    try:
        with HeadlessBrowser(find_browser()) as browser:
            browser.open(f"http://127.0.0.1:{config.viewer.websocket_port}")
            deadline = time.monotonic() + 60
            while not viewer.viser_server.get_clients() and time.monotonic() < deadline:
                time.sleep(0.5)
            client = next(iter(viewer.viser_server.get_clients().values()))
            frustum = next(iter(viewer.camera_handles.values()))  # what a click on a training camera does
            for handle in viewer.camera_handles.values():
                handle.visible = False
            client.camera.position, client.camera.wxyz = frustum.position, frustum.wxyz
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:  # the browser moves its camera and sends it back
                time.sleep(0.5)
                if np.allclose(viewer.get_camera_state(client).c2w[:3, 3] * 10, frustum.position, atol=1e-3):
                    break
            canvas, deadline = None, time.monotonic() + 120
            while time.monotonic() < deadline:
                time.sleep(4)
                bounds = json.loads(
                    browser.call(
                        "Runtime.evaluate", returnByValue=True,
                        expression="JSON.stringify(document.querySelector('canvas').getBoundingClientRect())",
                    )["result"]["value"]
                )  # fmt: skip
                shot = browser.screenshot()
                left, top, height = int(bounds["x"]), int(bounds["y"]), int(bounds["height"])
                width = round(height * client.camera.aspect)  # the 3D view: the canvas left of the control panel
                candidate = shot[top : top + height, left : left + width]
                if (
                    canvas is not None
                    and candidate.shape == canvas.shape
                    and np.abs(candidate.astype(int) - canvas.astype(int)).mean() < 0.5
                ):
                    break  # the picture is still: the high-resolution render has arrived
                canvas = candidate
            save(shot, tmp_path / "viewer.png")
            state = viewer.get_camera_state(client)
            height, width = viewer.render_statemachines[client.client_id]._calculate_image_res(client.camera.aspect)
    finally:
        viewer.viser_server.stop()
    camera = get_camera(state, height, width).to(pipeline.device)
    outputs = pipeline.model.get_outputs_for_camera(camera)
    decoded = (outputs["rgb"].cpu().numpy() * 255).round()
    pca = (apply_colormap(outputs["latent"]).cpu().numpy() * 255).round()
    shown = np.asarray(Image.fromarray(canvas).resize((width, height), Image.BILINEAR))
    save(np.concatenate([shown, decoded, pca]).astype(np.uint8), tmp_path / "shown-decoded-pca.png")  # on failure
    versus_decoded, versus_pca = _psnr(shown / 255, decoded / 255), _psnr(shown / 255, pca / 255)
    assert versus_decoded > 20 and versus_decoded > versus_pca + 5, (versus_decoded, versus_pca, tmp_path)


def test_filming_a_method_that_is_never_trained_is_a_clear_error():
    from igae.errors import ConfigError
    from igae.plan import RunPlan

    params = dataclasses.replace(TINY, videos=dataclasses.replace(TINY.videos, nerf_methods=("kplanes",)))
    with pytest.raises(ConfigError, match=r"videos.nerf_methods \['kplanes'\]: not in nerf.methods"):
        RunPlan(params)
