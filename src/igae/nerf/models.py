"""nerfstudio models whose fields output C channels: autoencoder latents, or RGB for the baselines.

Each class is a thin subclass of a nerfstudio 1.1.5 model (no nerfstudio file is edited): after the parent
builds its modules, the colour head is replaced by one with ``output_channels`` sigmoid outputs, and the RGB
renderer by :class:`ChannelRenderer`, which composites over a C-vector background and never reads channels
3+ as alpha. The pipeline fills ``output_channels`` and ``background`` from its space before the model is set
up: the autoencoder's C channels and its latent white (:func:`igae.autoencoders.normalizer.latent_background`),
or 3 channels over white for the RGB baselines, which then match the stock nerfstudio models.

Every model also mixes in :class:`DecodedViews`: nerfstudio's own tools (the viewer, ``ns-render``) ask a model
for ``get_outputs_for_camera`` and show its ``rgb``; for a latent run that is now the decoded image, with the
latent, each latent channel, depth and accumulation as further outputs to pick.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Callable, Dict, Optional, Tuple, Type, Union

import torch
import torch.nn.functional as F
from jaxtyping import Float
from nerfstudio.cameras.cameras import Cameras
from nerfstudio.cameras.rays import RayBundle
from nerfstudio.field_components.field_heads import FieldHead, FieldHeadNames
from nerfstudio.field_components.mlp import MLP
from nerfstudio.fields.vanilla_nerf_field import NeRFField
from nerfstudio.model_components.renderers import BackgroundColor, RGBRenderer
from nerfstudio.models.instant_ngp import InstantNGPModelConfig, NGPModel
from nerfstudio.models.nerfacto import NerfactoModel, NerfactoModelConfig
from nerfstudio.models.tensorf import TensoRFModel, TensoRFModelConfig
from nerfstudio.models.vanilla_nerf import NeRFModel, VanillaModelConfig
from torch import Tensor, nn

WHITE = (1.0, 1.0, 1.0)


@dataclass
class ChannelOutputConfig:
    """Fields shared by every model config of the plugin (set by :class:`igae.nerf.pipeline.LatentPipeline`)."""

    output_channels: int = 3
    """Channels rendered by the field: the autoencoder's latent channels, or 3 for RGB."""
    background: Tuple[float, ...] = WHITE
    """Colour composited behind the object, one value per output channel, in [0, 1]."""

    def check_background(self) -> None:
        if len(self.background) != self.output_channels:
            raise ValueError(
                f"background has {len(self.background)} values but the model outputs {self.output_channels} channels"
            )


class ChannelRenderer(RGBRenderer):
    """Alpha compositing of C-channel samples over a fixed C-vector background.

    nerfstudio's renderer assumes 3 channels: it asserts a 3-value background and reads a 4th ground-truth
    channel as alpha. Here the background is any C-vector, and ground truth is used as given (the data manager
    already composites RGBA images over white).
    """

    def __init__(self, background: Float[Tensor, "C"]) -> None:  # noqa: F821
        super().__init__(background_color=background)

    @classmethod
    def get_background_color(
        cls, background_color: BackgroundColor, shape: Tuple[int, ...], device: torch.device
    ) -> Float[Tensor, "*bs C"]:
        if not isinstance(background_color, Tensor):
            raise TypeError(f"{cls.__name__} needs a tensor background, got {background_color!r}")
        return background_color.expand(shape).to(device)

    def blend_background(self, image: Tensor, background_color: Union[BackgroundColor, None] = None) -> Tensor:
        return image


def channel_renderer(config: ChannelOutputConfig) -> ChannelRenderer:
    config.check_background()
    return ChannelRenderer(torch.tensor(config.background, dtype=torch.float32))


def channel_field_head(channels: int, in_dim: Optional[int] = None) -> FieldHead:
    """A sigmoid head with ``channels`` outputs registered as the field's RGB output (its input size set now,
    or by the field that owns it)."""
    head = FieldHead(out_dim=channels, field_head_name=FieldHeadNames.RGB, activation=nn.Sigmoid())
    if in_dim is not None:
        head.set_in_dim(in_dim)
    return head


def channel_mlp_head(old_head: MLP, channels: int) -> MLP:
    """``old_head`` (a nerfacto-field colour MLP) rebuilt with ``channels`` sigmoid outputs."""
    return MLP(
        in_dim=old_head.in_dim,
        num_layers=old_head.num_layers,
        layer_width=old_head.layer_width,
        out_dim=channels,
        activation=nn.ReLU(),
        out_activation=nn.Sigmoid(),
        implementation="tcnn" if old_head.tcnn_encoding is not None else "torch",
    )


#: Keys under which a model returns its rendered target image (vanilla NeRF renders its fine field as rgb_fine).
RENDER_KEYS = ("rgb_fine", "rgb")
#: decode(latent [1, h, w, C] in [0, 1]) -> RGB [1, H, W, 3]: the run's decoder, as the pipeline decodes.
LatentDecoder = Callable[[Tensor], Tensor]


class DecodedViews:
    """Mixed into every model of the plugin, before its nerfstudio parent: what nerfstudio's tools see.

    ``get_target_outputs_for_camera`` is the parent's ``get_outputs_for_camera`` (the target-space image and the
    rest at the camera's resolution): the pipeline's evaluation uses it. ``get_outputs_for_camera``, which the
    viewer and ``ns-render`` call, is the same for RGB runs; on a latent run (after :meth:`attach_decoder`) it
    renders the camera at latent resolution, decodes the image once, as in training, and returns at the camera's
    full resolution: ``rgb`` (decoded, first, so the viewer shows it by default), ``latent`` (all C channels: the
    viewer shows them through its PCA colour map), ``latent_00`` ... (one channel each, grey), then the parent's
    other outputs (depth, accumulation, ...), upsampled (nearest: a latent pixel stays visible as one).
    """

    def attach_decoder(self, decoder: LatentDecoder, downsampling_factor: int) -> None:
        """Decode this latent model's renders with ``decoder`` (stored outside the module tree: not a submodule,
        not in the model's state dict, which the pipeline saves with the autoencoder already)."""
        self.__dict__["_decoded_views"] = (decoder, downsampling_factor)

    def get_target_outputs_for_camera(self, camera: Cameras, obb_box=None) -> Dict[str, Tensor]:
        return super().get_outputs_for_camera(camera, obb_box=obb_box)  # type: ignore[misc]

    @torch.no_grad()
    def get_outputs_for_camera(self, camera: Cameras, obb_box=None) -> Dict[str, Tensor]:
        attached = self.__dict__.get("_decoded_views")
        if attached is None:
            return self.get_target_outputs_for_camera(camera, obb_box=obb_box)
        decoder, factor = attached
        height, width = int(camera.height.flatten()[0]), int(camera.width.flatten()[0])
        latent_camera = copy.deepcopy(camera)
        latent_camera.rescale_output_resolution(1.0 / factor)  # fx, fy, cx, cy and the size, as training's views
        outputs = self.get_target_outputs_for_camera(latent_camera, obb_box=obb_box)
        latent = next(outputs[key] for key in RENDER_KEYS if key in outputs)  # [h, w, C]
        decoded = decoder(latent[None])[0].clamp(0.0, 1.0)  # [8h, 8w, 3], as the evaluation decodes

        def full_size(image: Tensor, mode: str = "nearest") -> Tensor:  # [h', w', K] -> [H, W, K]
            if image.shape[:2] == (height, width):
                return image
            resized = F.interpolate(image.permute(2, 0, 1)[None].float(), size=(height, width), mode=mode)
            return resized[0].permute(1, 2, 0).to(image.dtype)

        views = {"rgb": full_size(decoded, "bilinear"), "latent": full_size(latent)}
        views.update(
            {f"latent_{index:02d}": full_size(latent[..., index : index + 1]) for index in range(latent.shape[-1])}
        )
        for key, value in outputs.items():
            if key not in RENDER_KEYS and key not in views and value.dim() == 3 and value.shape[:2] == latent.shape[:2]:
                views[key] = full_size(value)
        return views


# -- nerfacto ---------------------------------------------------------------------------------------------------
@dataclass
class LatentNerfactoModelConfig(NerfactoModelConfig, ChannelOutputConfig):
    _target: Type = field(default_factory=lambda: LatentNerfactoModel)


class LatentNerfactoModel(DecodedViews, NerfactoModel):
    config: LatentNerfactoModelConfig

    def populate_modules(self) -> None:
        super().populate_modules()
        self.field.mlp_head = channel_mlp_head(self.field.mlp_head, self.config.output_channels)
        self.renderer_rgb = channel_renderer(self.config)


# -- vanilla NeRF -----------------------------------------------------------------------------------------------
@dataclass
class LatentVanillaModelConfig(VanillaModelConfig, ChannelOutputConfig):
    _target: Type = field(default_factory=lambda: LatentNeRFModel)
    base_mlp_num_layers: int = 8
    """Depth of the density MLP (the paper's NeRF: 8)."""
    base_mlp_layer_width: int = 256
    """Width of the density MLP (the paper's NeRF: 256)."""


class LatentNeRFModel(DecodedViews, NeRFModel):
    """Vanilla NeRF whose coarse and fine fields are rebuilt with C-channel heads and a configurable MLP size."""

    config: LatentVanillaModelConfig

    def populate_modules(self) -> None:
        super().populate_modules()
        self.field_coarse, self.field_fine = (
            self._channel_field(nerf_field) for nerf_field in (self.field_coarse, self.field_fine)
        )
        self.renderer_rgb = channel_renderer(self.config)

    def _channel_field(self, parent: NeRFField) -> NeRFField:
        channels = self.config.output_channels
        return NeRFField(
            position_encoding=parent.position_encoding,
            direction_encoding=parent.direction_encoding,
            base_mlp_num_layers=self.config.base_mlp_num_layers,
            base_mlp_layer_width=self.config.base_mlp_layer_width,
            field_heads=(lambda: channel_field_head(channels),),
        )


# -- TensoRF ----------------------------------------------------------------------------------------------------
@dataclass
class LatentTensoRFModelConfig(TensoRFModelConfig, ChannelOutputConfig):
    _target: Type = field(default_factory=lambda: LatentTensoRFModel)


class LatentTensoRFModel(DecodedViews, TensoRFModel):
    """TensoRF whose empty-space fill and negative-accumulation fallback use the background, not white."""

    config: LatentTensoRFModelConfig

    def populate_modules(self) -> None:
        super().populate_modules()
        if self.config.tensorf_encoding == "cp" or self.field.use_sh:
            raise ValueError("the channel TensoRF needs the MLP colour head (tensorf_encoding vm or triplane)")
        in_dim = self.field.mlp_head.get_out_dim()
        self.field.field_output_rgb = channel_field_head(self.config.output_channels, in_dim)
        self.renderer_rgb = channel_renderer(self.config)

    def update_to_step(self, step: int) -> None:
        """Grid resolution at ``step`` when a checkpoint is loaded; with no upsampling schedule (``upsampling_iters``
        empty) the grid never changes, where nerfstudio's version would index the empty schedule."""
        if self.upsampling_iters:
            super().update_to_step(step)

    def get_outputs(self, ray_bundle: RayBundle) -> Dict[str, Tensor]:
        if self.training:
            self.camera_optimizer.apply_to_raybundle(ray_bundle)
        background = self.renderer_rgb.background_color.to(ray_bundle.origins.device)  # [C]
        ray_samples_uniform = self.sampler_uniform(ray_bundle)
        density = self.field.get_density(ray_samples_uniform)
        weights = ray_samples_uniform.get_weights(density)
        occupied = (self.renderer_accumulation(weights) >= 1e-4).reshape(-1)  # rays that hit something

        ray_samples_pdf = self.sampler_pdf(ray_bundle, ray_samples_uniform, weights)
        field_outputs = self.field.forward(ray_samples_pdf, mask=occupied, bg_color=background)
        weights_fine = ray_samples_pdf.get_weights(field_outputs[FieldHeadNames.DENSITY])

        accumulation = self.renderer_accumulation(weights_fine)
        depth = self.renderer_depth(weights_fine, ray_samples_pdf)
        rgb = self.renderer_rgb(rgb=field_outputs[FieldHeadNames.RGB], weights=weights_fine)
        rgb = torch.where(accumulation < 0, background, rgb)
        return {"rgb": rgb, "accumulation": torch.clamp(accumulation, min=0), "depth": depth}


# -- Instant-NGP (CUDA only: nerfacc's occupancy grid) ----------------------------------------------------------
@dataclass
class LatentInstantNGPModelConfig(InstantNGPModelConfig, ChannelOutputConfig):
    _target: Type = field(default_factory=lambda: LatentNGPModel)


class LatentNGPModel(DecodedViews, NGPModel):
    """Instant-NGP with C output channels.

    nerfstudio 1.1.5 builds its field with the appearance-embedding size inverted (32 when
    ``use_appearance_embedding`` is False); the field is rebuilt here with the intended size, as the paper's
    code does.
    """

    config: LatentInstantNGPModelConfig

    def populate_modules(self) -> None:
        super().populate_modules()
        intended_dim = 32 if self.config.use_appearance_embedding else 0
        if self.field.appearance_embedding_dim != intended_dim:
            self.field = type(self.field)(
                aabb=self.scene_box.aabb,
                appearance_embedding_dim=intended_dim,
                num_images=self.num_train_data,
                log2_hashmap_size=self.config.log2_hashmap_size,
                max_res=self.config.max_res,
                spatial_distortion=self.field.spatial_distortion,
            )
            self.sampler.density_fn = self.field.density_fn
        self.field.mlp_head = channel_mlp_head(self.field.mlp_head, self.config.output_channels)
        self.renderer_rgb = channel_renderer(self.config)
