"""Image grids shared by the phases (autoencoder evaluation figures, IG-AE training dashboards)."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image


def comparison_grid(rows: list[torch.Tensor], columns: int = 8) -> Image.Image:
    """Stack image rows ([n, 3, H, W] in [0, 1], the first ``columns`` of each) into one picture, short rows
    padded with white."""
    strips = [torch.cat(list(row[:columns]), dim=-1) for row in rows]  # each [3, H, n*W]
    width = max(strip.shape[-1] for strip in strips)
    grid = torch.cat([torch.nn.functional.pad(s, (0, width - s.shape[-1]), value=1.0) for s in strips], dim=-2)
    array = (grid.clamp(0, 1) * 255).round().byte().permute(1, 2, 0).numpy()
    return Image.fromarray(np.ascontiguousarray(array))
