"""Volume rendering of latent tri-plane scenes at latent resolution (IG-AE §2.2, EG3D's importance renderer).

A camera is a cam-to-world matrix in the OpenCV convention (+x right, +y down, +z forward) and intrinsics
normalised by the image size (``fx/w, fy/h, cx/w, cy/h``), so the same pose renders a 128x128 image's 16x16
latent or any other resolution. Along each ray: ``coarse_samples`` stratified depths in [near, far], then
``importance_samples`` more drawn from the coarse weights (max-pooled, averaged and floored at 0.01, as EG3D),
all evaluated by the shared MLP and ray-marched together. The result is composited over the autoencoder's latent
background colour and mapped from [0, 1] to the normalised-latent range (-1, 1).

Everything is batched tensor code: no Python loop over rays or samples. The random draws of a render (the
stratified jitter of the coarse depths, the uniforms of the importance sampling) are a :class:`RenderNoise`,
drawn from a generator for a whole batch; a caller rendering some rows of a larger batch (a process of a
distributed run) draws the batch's noise and keeps its rows, so each view gets the same noise however the batch
is split.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from igae.config.tree import VolumeConfig
from igae.triplanes.triplane import TinyMLP, TriPlanes


@dataclass(frozen=True)
class RenderNoise:
    """The uniforms one render draws: ``jitter`` [B, N, S, 1] (stratified coarse depths; None when not
    stratified) and ``importance`` [B, N, K] (importance-sampling uniforms; None without importance samples or
    stratification)."""

    jitter: torch.Tensor | None
    importance: torch.Tensor | None

    def rows(self, rows: torch.Tensor) -> RenderNoise:
        """The noise of the views at positions ``rows`` [b] of the batch."""
        pick = lambda values: None if values is None else values[rows]  # noqa: E731
        return RenderNoise(pick(self.jitter), pick(self.importance))


def draw_render_noise(
    count: int, resolution: int, settings: VolumeConfig, generator: torch.Generator | None, device
) -> RenderNoise:
    """The noise of rendering ``count`` views at ``resolution``^2, in the order :func:`render_latents` used to draw
    it (jitter, then importance uniforms), so the values are the same as drawing it during the render."""
    if not settings.stratified:
        return RenderNoise(None, None)
    rays = resolution * resolution
    jitter = torch.rand((count, rays, settings.coarse_samples, 1), generator=generator, device=device)
    importance = None
    if settings.importance_samples > 0:
        importance = torch.rand(count, rays, settings.importance_samples, generator=generator, device=device)
    return RenderNoise(jitter, importance)


def camera_rays(
    cam_to_world: torch.Tensor, intrinsics: torch.Tensor, resolution: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Rays through pixel centres: cam_to_world [B, 4, 4] (OpenCV), normalised intrinsics [B, 3, 3] ->
    (origins [B, R*R, 3], unit directions [B, R*R, 3]), pixels in row-major order."""
    centres = (torch.arange(resolution, device=cam_to_world.device, dtype=cam_to_world.dtype) + 0.5) / resolution
    v, u = torch.meshgrid(centres, centres, indexing="ij")  # rows (y), columns (x)
    fx, fy = intrinsics[:, 0, 0, None], intrinsics[:, 1, 1, None]
    cx, cy = intrinsics[:, 0, 2, None], intrinsics[:, 1, 2, None]
    x = (u.flatten()[None] - cx) / fx  # [B, R*R]
    y = (v.flatten()[None] - cy) / fy
    camera_directions = torch.stack([x, y, torch.ones_like(x)], dim=-1)  # [B, R*R, 3]
    directions = F.normalize(camera_directions @ cam_to_world[:, :3, :3].transpose(1, 2), dim=-1)
    origins = cam_to_world[:, None, :3, 3].expand_as(directions)
    return origins, directions


def ray_march(
    colours: torch.Tensor, raw_density: torch.Tensor, depths: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Alpha compositing over sorted samples (EG3D's MipRayMarcher2).

    colours [B, N, S, C], raw_density [B, N, S, 1], depths [B, N, S, 1] -> (colour [B, N, C], depth [B, N, 1],
    weights [B, N, S-1, 1]). Each of the S-1 segments takes the mean colour and raw density of its two ends;
    ``sigma = softplus(raw - 1)``, ``alpha = 1 - exp(-sigma * delta)``, ``T_i = prod_{j<i}(1 - alpha_j + 1e-10)``.
    """
    deltas = depths[:, :, 1:] - depths[:, :, :-1]
    colour_mid = (colours[:, :, :-1] + colours[:, :, 1:]) / 2
    density_mid = F.softplus((raw_density[:, :, :-1] + raw_density[:, :, 1:]) / 2 - 1)
    depth_mid = (depths[:, :, :-1] + depths[:, :, 1:]) / 2
    alpha = 1 - torch.exp(-density_mid * deltas)
    shifted = torch.cat([torch.ones_like(alpha[:, :, :1]), 1 - alpha + 1e-10], dim=2)
    transmittance = torch.cumprod(shifted, dim=2)[:, :, :-1]
    weights = alpha * transmittance
    colour = (weights * colour_mid).sum(dim=2)
    total = weights.sum(dim=2)
    depth = (weights * depth_mid).sum(dim=2) / total
    depth = torch.nan_to_num(depth, nan=float("inf")).clamp(depths.amin(), depths.amax())
    return colour, depth, weights


def importance_depths(
    depths: torch.Tensor, weights: torch.Tensor, count: int, uniforms: torch.Tensor | None
) -> torch.Tensor:
    """``count`` depths per ray from the piecewise-constant PDF of the coarse segment weights.

    depths [B, N, S, 1] (sorted), weights [B, N, S-1, 1] -> [B, N, count, 1]. The weights are smoothed as in EG3D
    (max-pool k=2 then average-pool k=2) and floored at 0.01 so empty rays still sample their whole length.
    ``uniforms`` [B, N, count] in [0, 1) place the samples (stratified); None: evenly spaced quantiles.
    """
    batch, rays, samples, _ = depths.shape
    flat = weights.reshape(batch * rays, 1, samples - 1)
    smoothed = F.avg_pool1d(F.max_pool1d(flat, 2, 1, padding=1), 2, 1).reshape(batch, rays, samples - 1) + 0.01
    pdf = smoothed / smoothed.sum(dim=-1, keepdim=True)
    cdf = torch.cat([torch.zeros_like(pdf[..., :1]), torch.cumsum(pdf, dim=-1)], dim=-1)  # [B, N, S]
    if uniforms is not None:
        u = uniforms.to(depths.dtype)
    else:
        u = ((torch.arange(count, device=depths.device, dtype=depths.dtype) + 0.5) / count).expand(batch, rays, count)
    index = (torch.searchsorted(cdf.contiguous(), u.contiguous(), right=True) - 1).clamp(0, samples - 2)
    lower_cdf, segment_pdf = cdf.gather(-1, index), pdf.gather(-1, index)
    edges = depths.squeeze(-1)
    start, end = edges.gather(-1, index), edges.gather(-1, index + 1)
    fraction = ((u - lower_cdf) / segment_pdf.clamp_min(1e-8)).clamp(0, 1)
    return (start + fraction * (end - start)).unsqueeze(-1)


def _query(planes: TriPlanes, mlp: TinyMLP, scene_planes, origins, directions, depths):
    """MLP outputs at ``origins + depths * directions`` in the gathered ``scene_planes`` [B, 3, F, R, R]:
    depths [B, N, S, 1] -> raw density, colours."""
    batch, rays, samples, _ = depths.shape
    points = origins[:, :, None] + directions[:, :, None] * depths  # [B, N, S, 3]
    features = planes.sample(scene_planes, points.reshape(batch, rays * samples, 3))
    raw_density, colours = mlp(features)
    return raw_density.view(batch, rays, samples, 1), colours.view(batch, rays, samples, -1)


def render_latents(
    planes: TriPlanes,
    mlp: TinyMLP,
    scene_ids: torch.Tensor,
    cam_to_world: torch.Tensor,
    intrinsics: torch.Tensor,
    resolution: int,
    background: torch.Tensor,
    settings: VolumeConfig,
    generator: torch.Generator | None = None,
    *,
    scene_planes: torch.Tensor | None = None,
    noise: RenderNoise | None = None,
) -> dict[str, torch.Tensor]:
    """Render scenes ``scene_ids`` [B] from cameras [B, 4, 4] / [B, 3, 3] at ``resolution``^2.

    ``background`` [C] is the latent background colour in [0, 1]. ``scene_planes``: ``planes.planes[scene_ids]``
    [B, 3, F, R, R] if the caller has gathered it (else gathered here), read by both passes, so its backward
    scatters into the full plane tensor once per step, not once per pass. ``noise``: the render's random draws
    (:func:`draw_render_noise`), else drawn here from ``generator``. Returns ``latent`` [B, C, R, R] in
    (-1, 1) (the normalised-latent range, before any clamp), ``depth`` [B, 1, R, R] and ``opacity`` [B, 1, R, R].
    """
    if scene_planes is None:
        scene_planes = planes.planes[scene_ids]
    origins, directions = camera_rays(cam_to_world, intrinsics, resolution)
    batch, rays, _ = origins.shape
    if noise is None:
        noise = draw_render_noise(batch, resolution, settings, generator, origins.device)
    coarse = torch.linspace(settings.near, settings.far, settings.coarse_samples, device=origins.device)
    coarse = coarse.view(1, 1, -1, 1).expand(batch, rays, -1, 1)
    if noise.jitter is not None:
        spacing = (settings.far - settings.near) / (settings.coarse_samples - 1)
        coarse = coarse + noise.jitter * spacing
    raw_coarse, colours_coarse = _query(planes, mlp, scene_planes, origins, directions, coarse)
    if settings.importance_samples > 0:
        with torch.no_grad():
            _, _, weights = ray_march(colours_coarse, raw_coarse, coarse)
            fine = importance_depths(coarse, weights, settings.importance_samples, noise.importance)
        raw_fine, colours_fine = _query(planes, mlp, scene_planes, origins, directions, fine)
        depths = torch.cat([coarse, fine], dim=2)
        order = depths.argsort(dim=2)
        depths = depths.gather(2, order)
        raw = torch.cat([raw_coarse, raw_fine], dim=2).gather(2, order)
        colours = torch.cat([colours_coarse, colours_fine], dim=2)
        colours = colours.gather(2, order.expand(-1, -1, -1, colours.shape[-1]))
    else:
        depths, raw, colours = coarse, raw_coarse, colours_coarse
    colour, depth, weights = ray_march(colours, raw, depths)
    opacity = weights.sum(dim=2)  # [B, N, 1]
    colour = colour + (1 - opacity) * background.view(1, 1, -1)

    def image(values: torch.Tensor) -> torch.Tensor:  # [B, R*R, K] -> [B, K, R, R]
        return values.transpose(1, 2).reshape(batch, -1, resolution, resolution)

    return {"latent": image(colour) * 2 - 1, "depth": image(depth), "opacity": image(opacity)}
