"""Per-scene latent tri-planes and the tiny MLP shared by all scenes (IG-AE §2.1).

Every training scene owns one tri-plane, ``[3, F, R, R]`` feature maps on three axis-aligned planes of the
``[-box/2, box/2]^3`` scene box. A point's feature is the sum over the planes of the bilinearly sampled features
(zero outside the box). One MLP for all scenes maps a feature to a raw density and C latent "colour" channels in
[0, 1] (a widened sigmoid, as MipNeRF/EG3D).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

#: Which two coordinates each plane reads. ``orthogonal``: the xy, xz and yz planes (what tri-planes mean).
#: ``eg3d``: the released code's EG3D projection, which reads (x, y), (x, z) and (z, x) -- the last plane
#: repeats the second one transposed, so y is seen by one plane only (kept for reproducing that code).
PLANE_AXES: dict[str, tuple[tuple[int, int], ...]] = {
    "orthogonal": ((0, 1), (0, 2), (1, 2)),
    "eg3d": ((0, 1), (0, 2), (2, 0)),
}


class TriPlanes(torch.nn.Module):
    """``count`` tri-planes of ``features`` channels at ``resolution``^2, initialised N(0, 1) as in the paper."""

    def __init__(
        self,
        count: int,
        features: int = 32,
        resolution: int = 64,
        box_size: float = 2.0,
        plane_axes: str = "orthogonal",
        *,
        values: torch.Tensor | None = None,
    ):
        """``values`` [count, 3, F, R, R]: the planes to hold instead of a random initialisation (no draw from
        torch's generator)."""
        super().__init__()
        if plane_axes not in PLANE_AXES:
            raise ValueError(f"plane_axes must be one of {list(PLANE_AXES)}, got '{plane_axes}'")
        if values is None:
            values = torch.randn(count, 3, features, resolution, resolution)
        self.planes = torch.nn.Parameter(values)
        self.box_size, self.plane_axes = box_size, plane_axes
        self.axes = PLANE_AXES[plane_axes]

    def holding(self, values: torch.Tensor) -> TriPlanes:
        """Tri-planes of the same box and projection holding ``values`` [N, 3, F, R, R] (e.g. a shard, or the
        planes gathered from every process)."""
        count, _, features, resolution, _ = values.shape
        return TriPlanes(count, features, resolution, self.box_size, self.plane_axes, values=values)

    @property
    def features(self) -> int:
        return self.planes.shape[2]

    def sample(self, planes: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
        """Features at ``points`` [B, P, 3] (world units) of the batch's tri-planes ``planes`` [B, 3, F, R, R]
        (``self.planes[scene_ids]``, gathered once per step by the caller) -> [B, P, F]."""
        batch, count, _ = points.shape
        normalized = points * (2.0 / self.box_size)  # the box maps to [-1, 1]
        grids = torch.stack([normalized[..., list(axes)] for axes in self.axes], dim=1)  # [B, 3, P, 2]
        sampled = F.grid_sample(
            planes.flatten(0, 1),  # [B*3, F, R, R]
            grids.flatten(0, 1).unsqueeze(1),  # [B*3, 1, P, 2]
            mode="bilinear",
            padding_mode="zeros",
            align_corners=False,
        )  # [B*3, F, 1, P]
        return sampled.view(batch, 3, self.features, count).sum(dim=1).transpose(1, 2)


class TinyMLP(torch.nn.Module):
    """Linear(F -> hidden), Softplus, Linear(hidden -> 1 + C): raw density and colours in [-0.001, 1.001]."""

    def __init__(self, features: int = 32, hidden: int = 64, channels: int = 16):
        super().__init__()
        self.layers = torch.nn.Sequential(
            torch.nn.Linear(features, hidden), torch.nn.Softplus(), torch.nn.Linear(hidden, 1 + channels)
        )

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """[..., F] -> (raw density [..., 1], colour [..., C])."""
        output = self.layers(features)
        colour = torch.sigmoid(output[..., 1:]) * (1 + 2 * 0.001) - 0.001
        return output[..., :1], colour


def total_variation(tensor: torch.Tensor, p: float, q: float) -> torch.Tensor:
    """TV_{p,q} over the last two axes with norms over the whole tensor, divided by H + W (IG-AE's ``compute_tv``):
    ``(||dy||_p^q + ||dx||_p^q) / (H + W)``."""
    height, width = tensor.shape[-2:]
    vertical, horizontal = finite_differences(tensor)
    return (vertical.norm(p=p).pow(q) + horizontal.norm(p=p).pow(q)) / (height + width)


def finite_differences(tensor: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Neighbour differences along the last two axes: (vertical [..., H-1, W], horizontal [..., H, W-1])."""
    return tensor[..., 1:, :] - tensor[..., :-1, :], tensor[..., :, 1:] - tensor[..., :, :-1]
