"""Gaussian splatting whose Gaussians carry C channels: autoencoder latents, or RGB for the baseline.

A thin subclass of nerfstudio 1.1.5's splatfacto, rasterised by gsplat 1.4.0 (CUDA only: the model can be built
and inspected on CPU, not rendered). Each Gaussian holds ``output_channels`` raw features ``features_dc`` [N, C],
rendered view-independently as ``sigmoid(features_dc)`` through gsplat's N-D feature path (``sh_degree=None``,
``colors`` [N, C]), and composited over the fixed C-vector ``config.background`` (the latent of white, or white
for RGB) in training and evaluation alike. ``features_rest`` is kept, empty ([N, 0, C], as splatfacto's own
with ``sh_degree=0``), so the parameter groups, the optimizers of splatfacto's method config, gsplat's
densification (which copies and splits every parameter along the first dimension only) and checkpoint loading
work unchanged.

What splatfacto assumes about 3 channels, and how it is handled here:

* features ``[N, 3]`` (and SH ``[N, K, 3]``): rebuilt with C channels; ``sh_degree`` must be 0 (gsplat's SH
  path only takes 3 channels);
* ``render[..., :3]`` / ``render[..., 3:4]`` in ``get_outputs``: the colour is ``render[..., :C]``, the
  expected depth ``render[..., C:C + 1]``;
* random / RGB background (``background_color``, ``_get_background_color``, ``set_background``'s 3-vector
  assert, the viewer colour): a fixed C-vector buffer from ``config.background``;
* ``composite_with_background`` reads a 4th channel as alpha: for C = 4 latents that is a latent channel, so
  ground truth is used as given (the data manager already composites RGBA over white);
* ``SSIM(channel=3)``: rebuilt with C channels;
* LPIPS and the side-by-side image of ``get_image_metrics_and_images``: LPIPS only for C = 3 (the stock
  method), PSNR and SSIM otherwise, and no image (a C-channel latent is not one; the pipeline logs decoded
  renders);
* the bilateral grid is an RGB affine colour transform: refused for C != 3.

Two more changes concern the small latent images (16x16 for 128x128 views) rather than the channel count:
``num_downscales`` defaults to 0 (splatfacto's 2 would train on 4x4 latents at first), and splatfacto's
screen-size refinement is switched off when the training views are too small for it (see
:meth:`LatentSplatfactoModel._set_screen_size_refinement`). Random initialisation samples the means in the
scene box (see :class:`LatentSplatfactoModelConfig`), and the k-nearest-neighbour scale initialisation uses
scipy instead of scikit-learn, which the project does not install.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Literal, Tuple, Type, Union

import numpy as np
import torch
from gsplat.rendering import rasterization
from nerfstudio.cameras.cameras import Cameras
from nerfstudio.model_components.lib_bilagrid import color_correct
from nerfstudio.models.splatfacto import SplatfactoModel, SplatfactoModelConfig, get_viewmat
from nerfstudio.utils.rich_utils import CONSOLE
from pytorch_msssim import SSIM
from scipy.spatial import cKDTree
from torch import Tensor
from torch.nn import Parameter

from igae.nerf.models import ChannelOutputConfig, DecodedViews

MIN_SPLAT_RADIUS_PX = 2.0
"""Smallest radius gsplat gives a visible Gaussian: ceil(3 sqrt(lambda_max)) with the 0.3 px^2 blur (eps2d)."""


@dataclass
class LatentSplatfactoModelConfig(SplatfactoModelConfig, ChannelOutputConfig):
    """splatfacto with C-channel, view-independent Gaussians over a fixed C-vector background."""

    _target: Type = field(default_factory=lambda: LatentSplatfactoModel)
    sh_degree: int = 0
    """Must be 0: colours are sigmoid(features) with no spherical harmonics (gsplat's SH path is RGB only)."""
    background_color: Literal["random", "black", "white"] = "white"
    """Must be "white": the background is ``background``, the target-space colour of white."""
    num_downscales: int = 0
    """Training starts at 1/2^d resolution. 0: latent views are 16x16 already (splatfacto's 2 gives 4x4)."""
    random_init_in_scene_box: bool = True
    """With no SfM points (our scenes), draw the random means uniformly in the scene box, which holds the object
    and the camera rig, instead of splatfacto's cube of side ``random_scale`` (10: mostly space beyond the
    cameras)."""


class LatentSplatfactoModel(DecodedViews, SplatfactoModel):
    """See the module docstring."""

    config: LatentSplatfactoModelConfig
    background_color: Tensor  # [C], a non-persistent buffer

    # -- construction -----------------------------------------------------------------------------------------
    def populate_modules(self) -> None:
        config = self.config
        config.check_background()
        channels = config.output_channels
        if config.sh_degree != 0:
            raise ValueError(f"C-channel Gaussians are view-independent: sh_degree must be 0, got {config.sh_degree}")
        if config.background_color != "white":
            raise ValueError(f"the background is config.background (latent white), not {config.background_color!r}")
        if config.use_bilateral_grid and channels != 3:
            raise ValueError("the bilateral grid is an RGB colour transform: it needs output_channels 3")
        random_init = self.seed_points is None or config.random_init  # splatfacto's rule for its means
        super().populate_modules()

        params = self.gauss_params
        num_points = params["means"].shape[0]
        if random_init and config.random_init_in_scene_box:
            aabb = self.scene_box.aabb.float()  # [2, 3]
            means = aabb[0] + torch.rand(num_points, 3) * (aabb[1] - aabb[0])  # [N, 3]
            distances, _ = self.k_nearest_sklearn(means, 3)  # [N, 3]
            avg_dist = torch.from_numpy(distances).mean(dim=-1, keepdim=True)  # [N, 1]
            params["means"] = Parameter(means)
            params["scales"] = Parameter(torch.log(avg_dist.repeat(1, 3)))  # [N, 3], log of isotropic scales
        if params["features_dc"].shape[-1] != channels:
            # splatfacto's random-init recipe with C channels: raw features ~ U[0, 1), so colours start in
            # sigmoid([0, 1)) = [0.5, 0.73): mid-range in the [0, 1] target space, where the sigmoid's gradient is
            # large, and not tied to any one channel's background value. For C = 3 splatfacto's own features are
            # kept, so the RGB baseline is the stock model (SfM colours, which are RGB, only make sense there).
            params["features_dc"] = Parameter(torch.rand(num_points, channels))  # [N, C]
            params["features_rest"] = Parameter(torch.zeros(num_points, 0, channels))  # [N, 0, C]
        self.ssim = SSIM(data_range=1.0, size_average=True, channel=channels)
        del self.background_color  # splatfacto's plain RGB tensor
        self.register_buffer("background_color", torch.tensor(config.background, dtype=torch.float32), persistent=False)

    def k_nearest_sklearn(self, x: Tensor, k: int) -> Tuple[np.ndarray, np.ndarray]:
        """The k nearest neighbours of each point of ``x`` [N, 3], itself excluded: distances and indices [N, k].

        Same result as splatfacto's scikit-learn search (which the project does not install), with scipy.
        """
        points = x.detach().cpu().numpy()
        distances, indices = cKDTree(points).query(points, k=k + 1)  # [N, k + 1], column 0 is the point itself
        return distances[:, 1:].astype(np.float32), indices[:, 1:].astype(np.float32)

    # -- background -------------------------------------------------------------------------------------------
    def _get_background_color(self) -> Tensor:
        return self.background_color  # [C]

    def set_background(self, background_color: Tensor) -> None:
        """Ignored: the background is always ``config.background`` (the viewer passes an RGB colour here)."""

    def composite_with_background(self, image: Tensor, background: Tensor) -> Tensor:
        """Ground truth as given: it is composited over white already, and a 4th channel is a latent, not alpha."""
        return image

    # -- rendering --------------------------------------------------------------------------------------------
    def _set_screen_size_refinement(self, width: int, height: int) -> None:
        """Switch splatfacto's screen-size split and cull off for views too small for them.

        gsplat gives every visible Gaussian a radius of at least ``MIN_SPLAT_RADIUS_PX``; refinement compares
        radius / max(width, height) with ``split_screen_size`` (0.05) and ``cull_screen_size`` (0.15). On a 16x16
        latent view that ratio is at least 0.125, so every visible Gaussian would be split at each refinement
        until ``stop_screen_size_at`` (a doubling every ``refine_every`` steps). It stays on (splatfacto's
        behaviour) for views where the smallest splat is under the split threshold, e.g. 128x128 RGB.
        """
        large_enough = MIN_SPLAT_RADIUS_PX / max(width, height) <= self.config.split_screen_size
        stop_iter = self.config.stop_screen_size_at if large_enough else 0
        if self.strategy.refine_scale2d_stop_iter != stop_iter:
            if not large_enough:
                CONSOLE.log(f"splatfacto: {width}x{height} views are too small for screen-size refinement: off")
            self.strategy.refine_scale2d_stop_iter = stop_iter

    def get_outputs(self, camera: Cameras) -> Dict[str, Union[Tensor, List]]:
        """Render one camera: rgb [H, W, C], accumulation [H, W, 1], depth [H, W, 1] (evaluation, or
        ``output_depth_during_training``; else None) and background ([C] in training, [H, W, C] in evaluation).

        splatfacto's ``get_outputs`` with C channels: the colours are the N-D features sigmoid(features_dc)
        [N, C] (gsplat's ``sh_degree=None`` path), composited over the fixed background.
        """
        if not isinstance(camera, Cameras):
            raise TypeError(f"{type(self).__name__} renders Cameras, got {type(camera).__name__}")
        channels = self.config.output_channels
        background = self._get_background_color()  # [C]
        if self.training:
            assert camera.shape[0] == 1, "Only one camera at a time"
            optimized_camera_to_world = self.camera_optimizer.apply_to_camera(camera)  # [1, 3, 4]
            self._set_screen_size_refinement(int(camera.width.item()), int(camera.height.item()))
        else:
            optimized_camera_to_world = camera.camera_to_worlds  # [1, 3, 4]

        crop_ids = None
        if self.crop_box is not None and not self.training:
            crop_ids = self.crop_box.within(self.means).squeeze()  # [N] bool
            if crop_ids.sum() == 0:
                return self.get_empty_outputs(int(camera.width.item()), int(camera.height.item()), background)
        gaussians = (self.means, self.quats, self.scales, self.opacities, self.features_dc)
        if crop_ids is not None:
            gaussians = tuple(param[crop_ids] for param in gaussians)
        means, quats, scales, opacities, features = gaussians  # [N, 3], [N, 4], [N, 3], [N, 1], [N, C]

        camera_scale_fac = self._get_downscale_factor()
        camera.rescale_output_resolution(1 / camera_scale_fac)
        viewmat = get_viewmat(optimized_camera_to_world)  # [1, 4, 4]
        K = camera.get_intrinsics_matrices().to(self.device)  # [1, 3, 3]
        W, H = int(camera.width.item()), int(camera.height.item())
        self.last_size = (H, W)
        camera.rescale_output_resolution(camera_scale_fac)  # type: ignore

        if self.config.rasterize_mode not in ["antialiased", "classic"]:
            raise ValueError(f"Unknown rasterize_mode: {self.config.rasterize_mode}")
        render_mode = "RGB+ED" if self.config.output_depth_during_training or not self.training else "RGB"
        render, alpha, self.info = rasterization(
            means=means,
            quats=quats,  # rasterization normalises them
            scales=torch.exp(scales),
            opacities=torch.sigmoid(opacities).squeeze(-1),  # [N]
            colors=torch.sigmoid(features),  # [N, C]: N-D features, no SH
            viewmats=viewmat,
            Ks=K,
            width=W,
            height=H,
            packed=False,
            near_plane=0.01,
            far_plane=1e10,
            render_mode=render_mode,
            sh_degree=None,
            sparse_grad=False,
            absgrad=self.strategy.absgrad,
            rasterize_mode=self.config.rasterize_mode,
        )  # render [1, H, W, C] ("RGB") or [1, H, W, C + 1] ("RGB+ED": expected depth last); alpha [1, H, W, 1]
        if self.training:
            self.strategy.step_pre_backward(
                self.gauss_params, self.optimizers, self.strategy_state, self.step, self.info
            )

        rgb = torch.clamp(render[..., :channels] + (1 - alpha) * background, 0.0, 1.0)  # [1, H, W, C]
        if self.config.use_bilateral_grid and self.training:  # C = 3 only (checked at construction)
            if camera.metadata is not None and "cam_idx" in camera.metadata:
                rgb = self._apply_bilateral_grid(rgb, camera.metadata["cam_idx"], H, W)

        depth_im = None
        if render_mode == "RGB+ED":
            depth_im = render[..., channels : channels + 1]  # [1, H, W, 1]
            depth_im = torch.where(alpha > 0, depth_im, depth_im.detach().max()).squeeze(0)  # [H, W, 1]

        return {
            "rgb": rgb.squeeze(0),  # [H, W, C]
            "depth": depth_im,  # type: ignore
            "accumulation": alpha.squeeze(0),  # [H, W, 1]
            "background": background if self.training else background.expand(H, W, channels),
        }

    # -- evaluation -------------------------------------------------------------------------------------------
    def get_image_metrics_and_images(
        self, outputs: Dict[str, Tensor], batch: Dict[str, Tensor]
    ) -> Tuple[Dict[str, float], Dict[str, Tensor]]:
        """splatfacto's metrics for C = 3; otherwise PSNR and SSIM only (LPIPS needs RGB) and no images."""
        if self.config.output_channels == 3:
            return super().get_image_metrics_and_images(outputs, batch)
        gt = self.get_gt_img(batch["image"])  # [H, W, C]
        predicted = outputs["rgb"]  # [H, W, C]
        gt_chw, predicted_chw = gt.permute(2, 0, 1)[None], predicted.permute(2, 0, 1)[None]  # [1, C, H, W]
        metrics = {
            "psnr": float(self.psnr(gt_chw, predicted_chw).item()),
            "ssim": float(self.ssim(gt_chw, predicted_chw)),
        }
        if self.config.color_corrected_metrics:
            corrected = color_correct(predicted, gt).permute(2, 0, 1)[None]  # [1, C, H, W]
            metrics["cc_psnr"] = float(self.psnr(gt_chw, corrected).item())
            metrics["cc_ssim"] = float(self.ssim(gt_chw, corrected))
        return metrics, {}
