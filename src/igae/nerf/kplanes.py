"""K-Planes (Fridovich-Keil et al., CVPR 2023) for static scenes, with C output channels, in pure torch.

latent-nerfstudio trains K-Planes through the ``kplanes-nerfstudio`` plugin, which needs tinycudann and does not work
with nerfstudio 1.1.5. This module rebuilds that plugin's static-scene model from nerfstudio's own components, so it
runs on CPU as well as on CUDA:

* :class:`KPlanesField`: multiscale planes (nerfstudio's :class:`KPlanesEncoding`: the xy, xz and yz planes of a
  scale multiplied together, the scales concatenated), a small sigma MLP giving the density and 15 geometry features,
  and a colour MLP on the SH-encoded view direction and those features with ``output_channels`` sigmoid outputs.
* :class:`KPlanesProposalField`: the single-scale, 8-feature planes and density decoder of K-Planes' proposal nets.
* :class:`LatentKPlanesModel`: nerfacto's model (proposal sampling, renderers, interlevel and distortion losses) with
  those fields in place of nerfacto's hash grids, the C-channel renderer of :mod:`igae.nerf.models`, and K-Planes'
  plane total-variation losses.

Sizes, initialisations and activations follow the plugin: planes ~ U(0.1, 0.5) (proposal planes U(0.1, 0.15)),
density ``exp(x - 1)`` (nerfacto's ``trunc_exp``, shifted as in K-Planes), sigma MLP with one hidden layer of 64,
colour MLP with two, SH degree 4, and TV = mean squared difference between neighbouring texels along each plane axis.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Literal, Optional, Sequence, Tuple, Type

import torch
from nerfstudio.cameras.rays import RaySamples
from nerfstudio.data.scene_box import SceneBox
from nerfstudio.field_components.activations import trunc_exp
from nerfstudio.field_components.encodings import KPlanesEncoding, SHEncoding
from nerfstudio.field_components.field_heads import FieldHeadNames
from nerfstudio.field_components.mlp import MLP
from nerfstudio.field_components.spatial_distortions import SceneContraction, SpatialDistortion
from nerfstudio.fields.base_field import Field
from nerfstudio.models.nerfacto import NerfactoModel, NerfactoModelConfig
from torch import Tensor, nn

from igae.nerf.models import ChannelOutputConfig, DecodedViews, channel_renderer

FIELD_PLANE_INIT = (0.1, 0.5)
"""Uniform range of the field's initial plane values (K-Planes): products of three planes start in [1e-3, 0.125]."""
PROPOSAL_PLANE_INIT = (0.1, 0.15)
"""Uniform range of the proposal nets' initial plane values (K-Planes)."""


def plane_coordinates(
    positions: Tensor, aabb: Tensor, spatial_distortion: Optional[SpatialDistortion]
) -> Tuple[Tensor, Tensor]:
    """World positions as plane coordinates in [-1, 1] (``grid_sample``'s range), and which of them lie inside it.

    Without a distortion the scene box maps linearly onto [-1, 1]^3. With nerfacto's scene contraction the whole space
    maps into [-2, 2]^3 (the box into [-1, 1]^3), halved here to fill the planes.

    Args:
        positions: sample positions in world space, [*bs, 3].
        aabb: scene box corners, [2, 3].
        spatial_distortion: scene contraction, or None for a bounded scene.

    Returns:
        coordinates [*bs, 3], and inside [*bs, 1] (1.0 inside the planes' range, 0.0 outside).
    """
    if spatial_distortion is not None:
        coordinates = spatial_distortion(positions) / 2.0
    else:
        coordinates = SceneBox.get_normalized_positions(positions, aabb) * 2.0 - 1.0
    inside = (coordinates.abs() <= 1.0).all(dim=-1, keepdim=True)
    return coordinates, inside.to(coordinates)


def plane_total_variation(planes: Sequence[Tensor]) -> Tensor:
    """K-Planes' spatial TV: per plane, the mean squared difference between neighbouring texels along each of its two
    axes, summed over the axes and averaged over the planes.

    Args:
        planes: feature planes, each [features, height, width].
    """
    total = sum(
        (plane[:, 1:, :] - plane[:, :-1, :]).square().mean() + (plane[:, :, 1:] - plane[:, :, :-1]).square().mean()
        for plane in planes
    )
    return total / len(planes)


class KPlanesField(Field):
    """K-Planes radiance field with ``output_channels`` sigmoid colour channels.

    Args:
        aabb: scene box corners, [2, 3].
        output_channels: channels of the colour output (autoencoder latent channels, or 3 for RGB).
        grid_base_resolution: plane resolution per axis at the coarsest scale.
        grid_feature_dim: features per plane texel.
        multiscale_res: resolution multipliers of the scales.
        concat_across_scales: concatenate the scales' features (K-Planes), else sum them.
        geo_feat_dim: geometry features passed from the sigma MLP to the colour MLP.
        hidden_dim: width of the sigma MLP's hidden layer.
        hidden_dim_color: width of the colour MLP's two hidden layers.
        spatial_distortion: scene contraction, or None for a bounded scene.
    """

    aabb: Tensor

    def __init__(
        self,
        aabb: Tensor,
        output_channels: int,
        grid_base_resolution: int = 128,
        grid_feature_dim: int = 32,
        multiscale_res: Sequence[int] = (1, 2, 4),
        concat_across_scales: bool = True,
        geo_feat_dim: int = 15,
        hidden_dim: int = 64,
        hidden_dim_color: int = 64,
        spatial_distortion: Optional[SpatialDistortion] = None,
    ) -> None:
        super().__init__()
        self.register_buffer("aabb", aabb)
        self.spatial_distortion = spatial_distortion
        self.concat_across_scales = concat_across_scales
        self.geo_feat_dim = geo_feat_dim
        self.grids = nn.ModuleList(
            KPlanesEncoding(
                resolution=(grid_base_resolution * multiplier,) * 3,
                num_components=grid_feature_dim,
                init_a=FIELD_PLANE_INIT[0],
                init_b=FIELD_PLANE_INIT[1],
                reduce="product",
            )
            for multiplier in multiscale_res
        )
        feature_dim = grid_feature_dim * (len(multiscale_res) if concat_across_scales else 1)
        self.sigma_net = MLP(
            in_dim=feature_dim,
            num_layers=2,
            layer_width=hidden_dim,
            out_dim=geo_feat_dim + 1,
            activation=nn.ReLU(),
            out_activation=None,
            implementation="torch",
        )
        self.direction_encoding = SHEncoding(levels=4, implementation="torch")
        self.color_net = MLP(
            in_dim=self.direction_encoding.get_out_dim() + geo_feat_dim,
            num_layers=3,
            layer_width=hidden_dim_color,
            out_dim=output_channels,
            activation=nn.ReLU(),
            out_activation=nn.Sigmoid(),
            implementation="torch",
        )

    def planes(self) -> List[Tensor]:
        """Every scale's xy, xz and yz planes, each [grid_feature_dim, resolution, resolution]."""
        return [plane for grid in self.grids for plane in grid.plane_coefs]

    def get_density(self, ray_samples: RaySamples) -> Tuple[Tensor, Tensor]:
        """Density [*bs, 1] (0 outside the planes' range) and geometry features [*bs, geo_feat_dim]."""
        coordinates, inside = plane_coordinates(
            ray_samples.frustums.get_positions(), self.aabb, self.spatial_distortion
        )  # [*bs, 3], [*bs, 1]
        flat = coordinates.reshape(-1, 3)  # [N, 3]
        scale_features = [grid(flat) for grid in self.grids]  # each [N, grid_feature_dim]
        if self.concat_across_scales:
            features = torch.cat(scale_features, dim=-1)  # [N, grid_feature_dim * scales]
        else:
            features = torch.stack(scale_features, dim=0).sum(dim=0)  # [N, grid_feature_dim]
        hidden = self.sigma_net(features).view(*ray_samples.frustums.shape, -1)  # [*bs, geo_feat_dim + 1]
        geo_features, density_before_activation = torch.split(hidden, [self.geo_feat_dim, 1], dim=-1)
        density = trunc_exp(density_before_activation.to(coordinates) - 1.0) * inside  # [*bs, 1]
        return density, geo_features

    def get_outputs(
        self, ray_samples: RaySamples, density_embedding: Optional[Tensor] = None
    ) -> Dict[FieldHeadNames, Tensor]:
        """Colour [*bs, output_channels] from the view direction and the geometry features of :meth:`get_density`.

        nerfstudio's torch SH encoding takes unit directions as they are; the (d + 1) / 2 remap nerfacto applies is
        tinycudann's input convention, so it is not used here.
        """
        if density_embedding is None:
            raise ValueError("KPlanesField.get_outputs needs the geometry features returned by get_density")
        directions = ray_samples.frustums.directions.reshape(-1, 3)  # [N, 3], unit vectors
        color_input = torch.cat(
            [self.direction_encoding(directions), density_embedding.reshape(-1, self.geo_feat_dim)], dim=-1
        )  # [N, 16 + geo_feat_dim]
        color = self.color_net(color_input).view(*ray_samples.frustums.shape, -1)  # [*bs, output_channels]
        return {FieldHeadNames.RGB: color.to(directions)}


class KPlanesProposalField(Field):
    """K-Planes proposal density field: one scale of planes and a small density decoder, no colour.

    Args:
        aabb: scene box corners, [2, 3].
        resolution: plane resolution per axis.
        feature_dim: features per plane texel.
        linear_decoder: decode features -> density linearly (the K-Planes linear-decoder variant) instead of through a
            64-wide ReLU hidden layer (the plugin's hybrid model, latent-nerfstudio's setting).
        spatial_distortion: scene contraction, or None for a bounded scene.
    """

    aabb: Tensor

    def __init__(
        self,
        aabb: Tensor,
        resolution: int = 128,
        feature_dim: int = 8,
        linear_decoder: bool = False,
        spatial_distortion: Optional[SpatialDistortion] = None,
    ) -> None:
        super().__init__()
        self.register_buffer("aabb", aabb)
        self.spatial_distortion = spatial_distortion
        self.grid = KPlanesEncoding(
            resolution=(resolution,) * 3,
            num_components=feature_dim,
            init_a=PROPOSAL_PLANE_INIT[0],
            init_b=PROPOSAL_PLANE_INIT[1],
            reduce="product",
        )
        self.sigma_net = MLP(
            in_dim=feature_dim,
            num_layers=2,
            layer_width=64,
            out_dim=1,
            activation=None if linear_decoder else nn.ReLU(),
            out_activation=None,
            implementation="torch",
        )

    def planes(self) -> List[Tensor]:
        """The xy, xz and yz planes, each [feature_dim, resolution, resolution]."""
        return list(self.grid.plane_coefs)

    def get_density(self, ray_samples: RaySamples) -> Tuple[Tensor, None]:
        """Density [*bs, 1] (0 outside the planes' range); proposal fields have no features."""
        coordinates, inside = plane_coordinates(
            ray_samples.frustums.get_positions(), self.aabb, self.spatial_distortion
        )  # [*bs, 3], [*bs, 1]
        features = self.grid(coordinates.reshape(-1, 3))  # [N, feature_dim]
        density_before_activation = self.sigma_net(features).view(*ray_samples.frustums.shape, 1)
        return trunc_exp(density_before_activation.to(coordinates) - 1.0) * inside, None

    def get_outputs(self, ray_samples: RaySamples, density_embedding: Optional[Tensor] = None) -> dict:
        return {}


@dataclass
class LatentKPlanesModelConfig(NerfactoModelConfig, ChannelOutputConfig):
    """K-Planes on nerfacto's machinery.

    nerfacto's hash-grid settings (``num_levels``, ``max_res``, ``log2_hashmap_size``, ``proposal_net_args_list``, ...)
    and ``average_init_density`` have no effect. ``hidden_dim`` and ``hidden_dim_color`` set the sigma and colour MLP
    widths (64, as K-Planes). The defaults overridden below are the K-Planes plugin's, for bounded object scenes.
    """

    _target: Type = field(default_factory=lambda: LatentKPlanesModel)
    grid_base_resolution: int = 128
    """Plane resolution per axis at the coarsest scale."""
    grid_feature_dim: int = 32
    """Features per plane texel."""
    multiscale_res: Tuple[int, ...] = (1, 2, 4)
    """Resolution multipliers of the field's scales."""
    concat_features_across_scales: bool = True
    """Concatenate the scales' features (K-Planes); False sums them."""
    proposal_net_resolutions: Tuple[int, ...] = (128, 256)
    """Plane resolution of each proposal net (the last is reused if there are more proposal iterations)."""
    proposal_net_feature_dim: int = 8
    """Features per proposal-plane texel."""
    proposal_net_linear_decoder: bool = False
    """Linear proposal density decoder; False: a 64-wide ReLU hidden layer, as the plugin's default (hybrid) model."""
    plane_tv_loss_mult: float = 0.01
    """Multiplier of the total variation of the field's planes."""
    plane_tv_proposal_net_loss_mult: float = 1e-4
    """Multiplier of the total variation of the proposal nets' planes."""
    num_proposal_samples_per_ray: Tuple[int, ...] = (256, 128)
    """Samples per ray of each proposal net (K-Planes; nerfacto: (256, 96))."""
    proposal_initial_sampler: Literal["piecewise", "uniform"] = "uniform"
    """Initial proposal sampler: uniform for bounded scenes (K-Planes); piecewise for unbounded ones."""
    use_single_jitter: bool = False
    """One jitter for all samples of a ray (nerfacto) or one per sample (K-Planes)."""
    disable_scene_contraction: bool = True
    """Bounded scene: the scene box fills the planes and density is 0 outside it. False: nerfacto's contraction."""
    use_appearance_embedding: bool = False
    """Not supported by this model (static object scenes have no per-image appearance)."""
    implementation: Literal["tcnn", "torch"] = "torch"
    """Only for the nerfacto modules the parent builds and this model discards; K-Planes is pure torch."""


class LatentKPlanesModel(DecodedViews, NerfactoModel):
    """nerfacto with K-Planes fields and proposal nets, a C-channel renderer and K-Planes' plane TV losses."""

    config: LatentKPlanesModelConfig
    field: KPlanesField

    def populate_modules(self) -> None:
        """Build nerfacto's modules, then replace its field, proposal nets and RGB renderer with K-Planes' ones."""
        if self.config.predict_normals:
            raise ValueError("LatentKPlanesModel does not predict normals: set predict_normals=False")
        if self.config.use_appearance_embedding:
            raise ValueError("LatentKPlanesModel has no appearance embedding: set use_appearance_embedding=False")
        if self.config.use_same_proposal_network:
            raise ValueError(
                "LatentKPlanesModel builds one proposal net per iteration: set use_same_proposal_network=False"
            )
        if not self.config.proposal_net_resolutions:
            raise ValueError("proposal_net_resolutions needs at least one resolution")
        super().populate_modules()

        contraction = None if self.config.disable_scene_contraction else SceneContraction(order=float("inf"))
        aabb = self.scene_box.aabb
        self.field = KPlanesField(
            aabb,
            output_channels=self.config.output_channels,
            grid_base_resolution=self.config.grid_base_resolution,
            grid_feature_dim=self.config.grid_feature_dim,
            multiscale_res=self.config.multiscale_res,
            concat_across_scales=self.config.concat_features_across_scales,
            hidden_dim=self.config.hidden_dim,
            hidden_dim_color=self.config.hidden_dim_color,
            spatial_distortion=contraction,
        )

        resolutions = self.config.proposal_net_resolutions
        self.proposal_networks = nn.ModuleList(
            KPlanesProposalField(
                aabb,
                resolution=resolutions[min(i, len(resolutions) - 1)],
                feature_dim=self.config.proposal_net_feature_dim,
                linear_decoder=self.config.proposal_net_linear_decoder,
                spatial_distortion=contraction,
            )
            for i in range(self.config.num_proposal_iterations)
        )
        # ProposalNetworkSampler calls density_fns[i] at proposal iteration i.
        self.density_fns = [network.density_fn for network in self.proposal_networks]
        self.renderer_rgb = channel_renderer(self.config)

    def get_loss_dict(
        self, outputs: Dict[str, Tensor], batch: Dict[str, Tensor], metrics_dict: Optional[Dict[str, Tensor]] = None
    ) -> Dict[str, Tensor]:
        """nerfacto's losses (channel MSE; in training interlevel and distortion) plus, in training, the plane TVs.

        A zero multiplier skips its TV, which reads every plane texel (33M for the default field).
        """
        loss_dict = super().get_loss_dict(outputs, batch, metrics_dict)
        if self.training:
            if self.config.plane_tv_loss_mult > 0:
                loss_dict["plane_tv_loss"] = self.config.plane_tv_loss_mult * plane_total_variation(self.field.planes())
            if self.config.plane_tv_proposal_net_loss_mult > 0:
                proposal_planes = [plane for network in self.proposal_networks for plane in network.planes()]
                loss_dict["plane_tv_proposal_net_loss"] = (
                    self.config.plane_tv_proposal_net_loss_mult * plane_total_variation(proposal_planes)
                )
        return loss_dict
