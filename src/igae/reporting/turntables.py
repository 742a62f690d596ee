"""Turntable videos: the camera orbiting each object at the paper's video pose, as the IG-AE README's animation.

Two kinds, both a list of uint8 frames written by :func:`igae.imaging.write_animation` (GIF and MP4):

* **latent scenes** (:func:`latent_scene_frames`): the tri-planes of an IG-AE stage (or of the control), one column a
  scene: every latent channel in grey, the image the stage's autoencoder decodes from the rendered latent, and the
  depth (a perceptual colour map). A 3D-consistent latent space shows channels that move rigidly with the object.
* **latent NeRFs** (:func:`nerf_frames`): the same orbit rendered from the runs of one evaluation scene and method
  (standard AE, IG-AE, RGB) side by side: the decoded (or RGB) image, the latent in 3 PCA colours, the depth. The
  cameras come from a nerfstudio camera-path file (:func:`nerfstudio_camera_path`, the format the viewer's render
  panel exports), loaded with nerfstudio's ``get_path_from_json``, so ``ns-render camera-path`` renders the same
  orbit from any run.

Everything is deterministic: no stratified jitter in the tri-plane renderer, fixed colour ranges per video (a
channel or a depth has the same shade in every frame), fixed PCA bases per run.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from igae.autoencoders.model import LatentAutoencoder, load_autoencoder
from igae.autoencoders.normalizer import TanhNormalizer, latent_background
from igae.config.tree import NormalizerConfig, VideosConfig, VolumeConfig
from igae.data.cameras import opencv_to_opengl, turntable_cameras
from igae.data.image_sets import to_unit
from igae.errors import IgaeError
from igae.imaging import colour_mapped, grey_channels, labelled, to_uint8_frame, write_animation
from igae.io_utils import write_json_atomic, write_png_atomic
from igae.training.igae import TriplaneModel, load_triplane_model
from igae.triplanes.renderer import render_latents

GAP = 4  # white pixels between columns
CHANNEL_COLUMNS = 4  # latent channels a row in the grey grid (16 channels: 4 x 4, the image's size)


@dataclass(frozen=True)
class Orbit:
    """The turntable: ``frames`` cameras around the z axis at ``elevation_degrees``, ``radius`` from the origin,
    with the scenes' normalised focal length (``fx / w``) and a centred principal point."""

    frames: int
    radius: float
    elevation_degrees: float
    focal: float

    def cam_to_world(self) -> np.ndarray:  # [frames, 4, 4], OpenCV
        return turntable_cameras(self.frames, self.radius, self.elevation_degrees)

    def intrinsics(self) -> torch.Tensor:  # [3, 3], normalised
        return torch.tensor([[self.focal, 0.0, 0.5], [0.0, self.focal, 0.5], [0.0, 0.0, 1.0]])

    @property
    def vertical_fov_degrees(self) -> float:
        return math.degrees(2.0 * math.atan(0.5 / self.focal))


def _row_of_columns(columns: list[torch.Tensor]) -> torch.Tensor:
    """Columns [3, H_i, W_i] side by side, top-aligned, ``GAP`` white pixels apart: [3, max H, sum W + gaps]."""
    height = max(column.shape[1] for column in columns)
    padded = []
    for index, column in enumerate(columns):
        column = F.pad(column, (0, GAP if index < len(columns) - 1 else 0, 0, height - column.shape[1]), value=1.0)
        padded.append(column)
    return torch.cat(padded, dim=2)


def _stack(rows: list[torch.Tensor]) -> torch.Tensor:
    """Images [3, H_i, W] one under another, ``GAP`` white pixels apart."""
    pieces = []
    for index, row in enumerate(rows):
        pieces.append(row)
        if index < len(rows) - 1:
            pieces.append(torch.ones(3, GAP, row.shape[2]))
    return torch.cat(pieces, dim=1)


def _depth_range(depth: torch.Tensor, alpha: torch.Tensor) -> tuple[float, float]:
    """The depth range (2% and 98% quantiles: near and far) of the pixels a video sees something in (alpha above
    0.05), over all its frames, for one colour scale the whole video."""
    values = depth[alpha > 0.05]
    if values.numel() < 2:
        return 0.0, 1.0
    quantiles = torch.quantile(values.float()[:: max(1, values.numel() // 100_000)], torch.tensor([0.02, 0.98]))
    return float(quantiles[0]), float(quantiles[1])


def _depth_image(depth: torch.Tensor, alpha: torch.Tensor, near_far: tuple[float, float], size: int) -> torch.Tensor:
    """Depth [h, w] -> [3, size, size]: near bright, far dark (magma), composited over white by the opacity
    ``alpha`` [h, w] (a semi-transparent latent scene shows as such)."""
    near, far = near_far
    image = colour_mapped(far - depth, 0.0, far - near)  # near -> 1 (bright)
    alpha = alpha.clamp(0, 1)[None]
    image = alpha * image + (1 - alpha)
    return F.interpolate(image[None], size=(size, size), mode="bilinear", align_corners=False)[0].clamp(0, 1)


@torch.no_grad()
def latent_scene_frames(
    triplanes: TriplaneModel,
    scene_ids: list[int],
    scene_names: list[str],
    autoencoder: LatentAutoencoder,
    normalizer: TanhNormalizer,
    background: torch.Tensor,
    volume: VolumeConfig,
    orbit: Orbit,
    image_size: int,
    depth_resolution: int,
    title: str,
) -> list[np.ndarray]:
    """The turntable of latent scenes ``scene_ids`` (indices into ``triplanes``), decoded by ``autoencoder``.

    Latents are rendered at the autoencoder's latent resolution (``image_size / downsampling``) and decoded to
    ``image_size``; depth is rendered at ``depth_resolution`` (more rays, a sharper map). ``background`` [C] in
    [0, 1] is the latent background (of a white image). Returns the frames, each [H, W, 3] uint8.
    """
    volume = dataclasses.replace(volume, stratified=False)  # deterministic and flicker-free
    device = autoencoder.device
    latent_size = image_size // autoencoder.downsampling_factor
    cam_to_world = torch.from_numpy(orbit.cam_to_world()).float().to(device)  # [F, 4, 4]
    intrinsics = orbit.intrinsics().to(device).expand(orbit.frames, 3, 3)
    columns_per_scene: list[list[torch.Tensor]] = []
    for scene_id, name in zip(scene_ids, scene_names, strict=True):
        ids = torch.full((orbit.frames,), scene_id, dtype=torch.long, device=device)

        def render(resolution: int, ids: torch.Tensor = ids) -> dict[str, torch.Tensor]:  # [F, K, r, r] each
            chunks = [
                render_latents(
                    triplanes.planes, triplanes.mlp, ids[chunk], cam_to_world[chunk], intrinsics[chunk], resolution,
                    background.to(device), volume,
                )
                for chunk in torch.arange(orbit.frames).split(4)  # 4 frames at a time: memory
            ]  # fmt: skip
            return {key: torch.cat([chunk[key].cpu() for chunk in chunks]) for key in chunks[0]}

        latent = render(latent_size)["latent"].clamp(-1.0, 1.0)  # [F, C, h, w] normalised
        decoded = torch.cat(
            [to_unit(autoencoder.decode(normalizer.denormalize(chunk.to(device)))).cpu() for chunk in latent.split(8)]
        )  # [F, 3, H, W]
        geometry = render(depth_resolution)
        depth, opacity = geometry["depth"][:, 0], geometry["opacity"][:, 0]  # [F, r, r]
        near_far = _depth_range(depth, opacity)
        unit = to_unit(latent).cpu()  # [F, C, h, w] in [0, 1]
        per_channel = unit.transpose(0, 1).flatten(1)  # [C, F*h*w]: every frame and pixel
        low, high = torch.quantile(per_channel, torch.tensor([0.01, 0.99]), dim=1)  # [C] each
        scale = max(1, image_size // (CHANNEL_COLUMNS * latent_size))
        frames = []
        for index in range(orbit.frames):
            channels = grey_channels(unit[index], low, high, CHANNEL_COLUMNS, scale)
            rows = [channels, decoded[index], _depth_image(depth[index], opacity[index], near_far, image_size)]
            frames.append(labelled(_stack(rows), name))
        columns_per_scene.append(frames)
    return [
        to_uint8_frame(labelled(_row_of_columns([scene[index] for scene in columns_per_scene]), title))
        for index in range(orbit.frames)
    ]


# ------------------------------------------------------------------------------------------- latent NeRFs


def nerfstudio_camera_path(orbit: Orbit, image_size: int, transform: np.ndarray, scale: float, fps: int) -> dict:
    """The orbit as a nerfstudio camera-path file (the viewer's render-panel export, read by ``get_path_from_json``
    and ``ns-render camera-path``), in the run's dataparser frame: world poses (OpenGL camera convention) mapped by
    the dataparser's ``transform`` [3, 4] and ``scale`` (``dataparser_transforms.json``)."""
    frames = []
    for cam_to_world in orbit.cam_to_world():
        pose = np.asarray(transform, float) @ opencv_to_opengl(cam_to_world)  # [3, 4]
        pose[:3, 3] *= scale
        matrix = np.vstack([pose, [0.0, 0.0, 0.0, 1.0]])
        frames.append({"camera_to_world": matrix.flatten().tolist(), "fov": orbit.vertical_fov_degrees, "aspect": 1.0})
    return {
        "camera_type": "perspective",
        "render_height": image_size,
        "render_width": image_size,
        "fps": fps,
        "seconds": orbit.frames / fps,
        "camera_path": frames,
    }


def _pca_basis(latents: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """A fixed 3-component PCA of latent pixels [N, C]: (mean [C], basis [C, 3], low [3], high [3]) with the
    1%/99% quantiles of the projections, so every frame of a video shares one colour mapping."""
    mean = latents.mean(0)
    _, _, basis = torch.pca_lowrank(latents - mean, q=3, center=False, niter=4)
    projected = (latents - mean) @ basis
    return mean, basis, torch.quantile(projected, 0.01, dim=0), torch.quantile(projected, 0.99, dim=0)


@torch.no_grad()
def nerf_frames(runs: dict[str, Any], path: dict, title: str) -> list[np.ndarray]:
    """The turntable of one scene from several runs: ``runs`` maps a column label to a loaded nerfstudio pipeline
    (:class:`igae.nerf.pipeline.LatentPipeline`), ``path`` is the camera path (:func:`nerfstudio_camera_path`).

    Each camera is rendered through the model's ``get_outputs_for_camera``, the call nerfstudio's viewer and
    ``ns-render`` make: the decoded image for a latent run (rendered at latent resolution, decoded once), the RGB
    render for a baseline. Rows: that image; the latent in 3 PCA colours (latent runs; white for RGB); depth."""
    from nerfstudio.cameras.camera_paths import get_path_from_json

    cameras = get_path_from_json(path)
    size = int(path["render_height"])
    columns: dict[str, list[torch.Tensor]] = {}
    for label, pipeline in runs.items():
        pipeline.eval()
        outputs = [
            pipeline.model.get_outputs_for_camera(cameras[index : index + 1].to(pipeline.device))
            for index in range(len(cameras))
        ]
        images = [output["rgb"].permute(2, 0, 1).cpu().clamp(0, 1) for output in outputs]  # [3, H, W]
        depth = torch.stack([output["depth"][..., 0].cpu() for output in outputs])  # [F, H, W]
        opacity = torch.stack([output["accumulation"][..., 0].cpu() for output in outputs])
        near_far = _depth_range(depth, opacity)
        if "latent" in outputs[0]:
            latents = torch.stack([output["latent"].cpu() for output in outputs])  # [F, H, W, C]
            mean, basis, low, high = _pca_basis(latents[:, ::8, ::8].reshape(-1, latents.shape[-1]))
            pca = [(((latent - mean) @ basis - low) / (high - low).clamp_min(1e-8)).clamp(0, 1) for latent in latents]
            pca = [image.permute(2, 0, 1) for image in pca]
        else:
            pca = [torch.ones(3, size, size)] * len(outputs)
        columns[label] = [
            labelled(_stack([image, latent, _depth_image(d, o, near_far, size)]), label)
            for image, latent, d, o in zip(images, pca, depth, opacity, strict=True)
        ]
    return [
        to_uint8_frame(labelled(_row_of_columns([frames[index] for frames in columns.values()]), title))
        for index in range(len(cameras))
    ]


def write_turntable(frames: list[np.ndarray], out: Path, fps: int) -> list[Path]:
    """``out``.gif, ``out``.mp4 and ``out``.png (the first frame: for READMEs and reports); returns the paths."""
    out = Path(out)
    paths = [out.with_suffix(".gif"), out.with_suffix(".mp4"), out.with_suffix(".png")]
    write_animation(frames, paths[0], fps)
    write_animation(frames, paths[1], fps)
    write_png_atomic(paths[2], frames[0])
    return paths


# ------------------------------------------------------------------------------------------- whole videos


def film_latent_scenes(
    stage_dir: Path,
    autoencoder_dir: Path,
    out: Path,
    *,
    videos: VideosConfig,
    image_size: int,
    focal: float,
    volume: VolumeConfig,
    scenes: int,
    latent_channels: int,
    normalizer: NormalizerConfig,
    title: str,
    device: str = "cpu",
) -> list[Path]:
    """The turntable of the first ``scenes`` latent scenes of an IG-AE run (``stage_dir``: its output folder, with
    ``triplanes.pt``), decoded by the autoencoder at ``autoencoder_dir``; written to ``out``.gif/.mp4/.png."""
    path = Path(stage_dir) / "triplanes.pt"
    if not path.is_file():
        raise IgaeError(f"'{path}' does not exist (expected the output folder of an IG-AE stage)")
    autoencoder = load_autoencoder(autoencoder_dir, expected_channels=latent_channels, device=device)
    autoencoder.eval()
    triplanes, _, names = load_triplane_model(path, autoencoder.latent_channels)
    triplanes.planes.to(device).eval()
    triplanes.mlp.to(device).eval()
    tanh = TanhNormalizer.from_config(normalizer)
    background = latent_background(autoencoder, tanh, image_size)
    count = min(scenes, len(names))
    orbit = Orbit(videos.frames, videos.radius, videos.elevation_degrees, focal)
    frames = latent_scene_frames(
        triplanes, list(range(count)), names[:count], autoencoder, tanh, background, volume, orbit,
        image_size, videos.depth_resolution, title,
    )  # fmt: skip
    return write_turntable(frames, out, videos.fps)


def film_nerf_runs(
    run_dirs: dict[str, Path], out: Path, *, videos: VideosConfig, image_size: int, focal: float, title: str
) -> list[Path]:
    """The turntable of one scene from the NeRF runs ``run_dirs`` (column label -> the folder holding a run's
    ``config.yml``), written to ``out``.gif/.mp4/.png, with the orbit as a nerfstudio camera path in
    ``out``.camera_path.json (for ``ns-render camera-path``). The runs must share their data (one dataparser
    transform), as the runs of one evaluation scene do."""
    from igae.nerf.run import load_finished_run

    orbit = Orbit(videos.frames, videos.radius, videos.elevation_degrees, focal)
    pipelines, path = {}, None
    for label, run_dir in run_dirs.items():
        pipeline = load_finished_run(run_dir)
        outputs = pipeline.datamanager.train_dataparser_outputs
        run_path = nerfstudio_camera_path(
            orbit, image_size, outputs.dataparser_transform.numpy(), float(outputs.dataparser_scale), videos.fps
        )
        if path is not None and not np.allclose(
            [frame["camera_to_world"] for frame in run_path["camera_path"]],
            [frame["camera_to_world"] for frame in path["camera_path"]],
            atol=1e-5,
        ):
            raise IgaeError(f"'{run_dir}' was trained on data placed differently from {list(pipelines)}' runs")
        path = run_path
        pipelines[label] = pipeline
    if path is None:
        raise IgaeError("no NeRF run to film")
    out = Path(out)
    videos_written = write_turntable(nerf_frames(pipelines, path, title), out, videos.fps)
    write_json_atomic(out.with_suffix(".camera_path.json"), path)  # last: a killed job leaves no complete-looking set
    return [out.with_suffix(".camera_path.json"), *videos_written]
