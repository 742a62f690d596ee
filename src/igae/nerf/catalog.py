"""The latent NeRF methods by name, and which need CUDA: importable without torch or nerfstudio (the workflow
reads it while it builds the job graph)."""

from __future__ import annotations

# Why a method cannot train on CPU; None where it can (nerfstudio falls back to pure torch).
CUDA_ONLY: dict[str, str | None] = {
    "vanilla-nerf": None,
    "nerfacto": None,
    "tensorf": None,
    "kplanes": None,
    "instant-ngp": "nerfacc's occupancy-grid sampling has CUDA kernels only",
    "splatfacto": "gsplat's rasteriser has CUDA kernels only",
}
METHOD_NAMES = tuple(CUDA_ONLY)
