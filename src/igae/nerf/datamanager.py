"""A data manager serving NeRF batches in a :class:`~igae.nerf.latent_space.LatentSpace`.

At setup it parses the scene with nerfstudio's own ``transforms.json`` parser, loads every image once,
composites any alpha over white, checks the size against the autoencoder's downsampling factor, and caches
the targets (normalised latents, or RGB) on the training device. Cameras at target resolution are the
dataparser's cameras rescaled by exactly 1/f (``Cameras.rescale_output_resolution``: fx, fy, cx, cy scaled,
no floor), so latent pixel i sees the centre of RGB block i.

Batches:
* ``next_train``: one whole training view per step (``rays_per_batch: 0``, the paper's latent protocol), or
  ``rays_per_batch`` random pixels over all training views (nerfstudio's usual RGB batching);
* ``next_train_view``: always one whole view, with its full-resolution RGB image (the RGB-alignment stage);
* ``next_eval`` / ``next_eval_image`` / :meth:`eval_views`: held-out views.
Ray batches are nerfstudio ``RayBundle`` objects; ``batch_kind: camera`` serves ``Cameras`` instead, for
rasterising models (splatfacto).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterator, List, Literal, Tuple, Type, Union

import torch
from jaxtyping import Float
from nerfstudio.cameras.cameras import Cameras
from nerfstudio.cameras.rays import RayBundle
from nerfstudio.data.datamanagers.base_datamanager import DataManager, DataManagerConfig
from nerfstudio.data.dataparsers.nerfstudio_dataparser import NerfstudioDataParserConfig
from nerfstudio.data.datasets.base_dataset import InputDataset
from nerfstudio.model_components.ray_generators import RayGenerator
from torch import Tensor
from torch.nn import Parameter

from igae.data.camera_files import read_camera_file
from igae.errors import IgaeError
from igae.nerf.latent_space import LatentSpace

Batch = Dict[str, Union[Tensor, int]]


class SceneDataError(IgaeError):
    """A scene folder that cannot be trained on (missing transforms.json, bad image sizes)."""


@dataclass
class LatentDataManagerConfig(DataManagerConfig):
    _target: Type = field(default_factory=lambda: LatentDataManager)
    dataparser: NerfstudioDataParserConfig = field(default_factory=NerfstudioDataParserConfig)
    """nerfstudio's transforms.json parser (scene box [-1, 1]^3 with scene_scale 1, poses auto-scaled)."""
    rays_per_batch: int = 0
    """0: one whole training view per step; N > 0: N random pixels drawn over all training views."""
    batch_kind: Literal["rays", "camera"] = "rays"
    """rays: RayBundle batches (NeRFs); camera: one Cameras view per step (Gaussian splatting)."""
    seed: int = 0
    """Batch k is drawn with seed + k, so a resumed run draws the same batches."""


@dataclass
class SplitData:
    """One split of a scene, cached on the device."""

    dataset: InputDataset  # full-resolution cameras and image paths, as nerfstudio's viewer expects
    cameras: Cameras  # [N] at target resolution
    targets: Float[Tensor, "N h w C"]
    rgb: Float[Tensor, "N H W 3"]

    def __len__(self) -> int:
        return self.targets.shape[0]


class LatentDataManager(DataManager):
    """See the module docstring."""

    config: LatentDataManagerConfig

    def __init__(
        self,
        config: LatentDataManagerConfig,
        device: Union[torch.device, str] = "cpu",
        test_mode: Literal["test", "val", "inference"] = "val",
        world_size: int = 1,
        local_rank: int = 0,
        latent_space: LatentSpace | None = None,
        **kwargs,
    ):
        super().__init__()
        if latent_space is None:
            raise TypeError("LatentDataManager needs the pipeline's latent_space")
        self.config = config
        self.device = device
        self.test_mode = test_mode
        self.latent_space = [latent_space]  # a list: not registered as a submodule (the pipeline owns it)
        if config.data is not None:
            config.dataparser.data = Path(config.data)
        self.dataparser = config.dataparser.setup()
        self.includes_time = False
        if test_mode == "inference":
            self.train_dataparser_outputs = self.dataparser.get_dataparser_outputs(split="train")
            self.train_dataset = InputDataset(self.train_dataparser_outputs)
            self.eval_dataset = None
            return
        check_scene_folder(config.dataparser.data)
        self.train_dataparser_outputs = self.dataparser.get_dataparser_outputs(split="train")
        self.train_split = self._load_split(self.train_dataparser_outputs, latent_space.config.encode_seed)
        eval_split = "test" if test_mode == "test" else "val"
        self.eval_split = self._load_split(
            self.dataparser.get_dataparser_outputs(split=eval_split), latent_space.config.encode_seed + 1
        )
        self.train_dataset = self.train_split.dataset
        self.eval_dataset = self.eval_split.dataset
        self.train_ray_generator = RayGenerator(self.train_split.cameras.to(device))
        self.eval_ray_generator = RayGenerator(self.eval_split.cameras.to(device))

    # -- loading ----------------------------------------------------------------------------------------------
    def _load_split(self, dataparser_outputs, seed: int) -> SplitData:
        dataset = InputDataset(dataparser_outputs)
        images = [_rgb_over_white(dataset.get_image_float32(i)) for i in range(len(dataset))]
        sizes = {tuple(image.shape[:2]) for image in images}
        if len(sizes) != 1:
            raise SceneDataError(f"{self.config.dataparser.data}: views have different sizes {sorted(sizes)}")
        height, width = sizes.pop()
        space = self.latent_space[0]
        space.check_image_size(height, width, f"the views of {self.config.dataparser.data}")
        rgb = torch.stack(images).to(self.device)  # [N, H, W, 3]
        cameras = copy.deepcopy(dataset.cameras)
        cameras.rescale_output_resolution(1.0 / space.downsampling_factor)
        return SplitData(
            dataset=dataset, cameras=cameras.to(self.device), targets=space.encode_views(rgb, seed), rgb=rgb
        )

    # -- nerfstudio DataManager interface --------------------------------------------------------------------
    def setup_train(self) -> None:
        """Everything is cached in ``__init__``."""

    def setup_eval(self) -> None:
        """Everything is cached in ``__init__``."""

    def get_train_rays_per_batch(self) -> int:
        return self.config.rays_per_batch or self.view_rays(self.train_split)

    def get_eval_rays_per_batch(self) -> int:
        return self.view_rays(self.eval_split)

    def get_datapath(self) -> Path:
        return Path(self.config.dataparser.data)

    def get_param_groups(self) -> Dict[str, List[Parameter]]:
        return {}

    def next_train(self, step: int) -> Tuple[Union[RayBundle, Cameras], Batch]:
        self.train_count += 1
        if self.config.rays_per_batch == 0:
            return self.next_train_view(step)
        generator = torch.Generator().manual_seed(self.config.seed + step)
        views, height, width = self.train_split.targets.shape[:3]
        flat = torch.randint(views * height * width, (self.config.rays_per_batch,), generator=generator)
        ray_indices = torch.stack([flat // (height * width), (flat // width) % height, flat % width], dim=-1)
        ray_indices = ray_indices.to(self.device)
        batch = {"image": self.train_split.targets[ray_indices[:, 0], ray_indices[:, 1], ray_indices[:, 2]]}
        return self.train_ray_generator(ray_indices), batch

    def next_train_view(self, step: int) -> Tuple[Union[RayBundle, Cameras], Batch]:
        """One whole training view (drawn with seed + step) and its full-resolution RGB image."""
        generator = torch.Generator().manual_seed(self.config.seed + step)
        index = int(torch.randint(len(self.train_split), (1,), generator=generator))
        return self._view(self.train_split, self.train_ray_generator, index)

    def next_eval(self, step: int) -> Tuple[Union[RayBundle, Cameras], Batch]:
        self.eval_count += 1
        generator = torch.Generator().manual_seed(self.config.seed + step + 1)
        index = int(torch.randint(len(self.eval_split), (1,), generator=generator))
        return self._view(self.eval_split, self.eval_ray_generator, index)

    def next_eval_image(self, step: int) -> Tuple[Cameras, Batch]:
        generator = torch.Generator().manual_seed(self.config.seed + step + 2)
        index = int(torch.randint(len(self.eval_split), (1,), generator=generator))
        return self.eval_camera(index)

    # -- whole views -----------------------------------------------------------------------------------------
    @staticmethod
    def view_rays(split: SplitData) -> int:
        return int(split.targets.shape[1] * split.targets.shape[2])

    def eval_camera(self, index: int) -> Tuple[Cameras, Batch]:
        """Held-out view ``index`` as a camera at target resolution, with its target and RGB images."""
        return self._camera_view(self.eval_split, index)

    def eval_views(self) -> Iterator[Tuple[Cameras, Batch]]:
        for index in range(len(self.eval_split)):
            yield self.eval_camera(index)

    @property
    def fixed_indices_eval_dataloader(self) -> List[Tuple[Cameras, Batch]]:
        return list(self.eval_views())

    @staticmethod
    def _camera_view(split: SplitData, index: int) -> Tuple[Cameras, Batch]:
        """View ``index`` of ``split``: its camera (tagged with its index) and its [h, w, C] / [H, W, 3] images."""
        camera = split.cameras[index : index + 1]
        camera.metadata = {"cam_idx": index}
        return camera, {"image": split.targets[index], "rgb": split.rgb[index], "image_idx": index}

    def _view(self, split: SplitData, rays: RayGenerator, index: int) -> Tuple[Union[RayBundle, Cameras], Batch]:
        camera, batch = self._camera_view(split, index)
        if self.config.batch_kind == "camera":
            return camera, batch
        height, width = split.targets.shape[1:3]
        rows, cols = torch.meshgrid(torch.arange(height), torch.arange(width), indexing="ij")
        ray_indices = torch.stack([torch.full_like(rows, index), rows, cols], dim=-1).reshape(-1, 3)
        batch["image"] = split.targets[index].reshape(height * width, -1)  # [h*w, C], row-major like the rays
        return rays(ray_indices.to(self.device)), batch


def check_scene_folder(data: Path | None) -> None:
    """A clear error for a missing scene folder or transforms.json, before anything is loaded."""
    if data is None:
        raise SceneDataError("no scene given: pass --data <folder with transforms.json>")
    data = Path(data)
    transforms = data / "transforms.json" if data.suffix != ".json" else data
    if not transforms.is_file():
        raise SceneDataError(f"{transforms} does not exist: a scene is a folder with a nerfstudio transforms.json")
    read_camera_file(transforms)  # finite rigid poses, positive intrinsics, every image readable at w x h


def _rgb_over_white(image: Float[Tensor, "H W C"]) -> Float[Tensor, "H W 3"]:
    """RGBA composited over white; RGB unchanged (the renders already bake a white background)."""
    if image.shape[-1] == 4:
        return image[..., :3] * image[..., 3:] + (1.0 - image[..., 3:])
    return image[..., :3]
