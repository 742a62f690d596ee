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


def runnable_methods(methods: list[str], on_cuda: bool) -> tuple[list[str], dict[str, str]]:
    """``methods`` split into those this machine can train and the skipped ones with their reason."""
    skipped = {name: CUDA_ONLY[name] for name in methods if CUDA_ONLY[name] and not on_cuda}
    return [name for name in methods if name not in skipped], skipped


def device_has_cuda(device: str) -> bool:
    """Whether NeRFs configured for ``device`` (auto, cpu, cuda, cuda:N) train on CUDA."""
    if device != "auto":
        return device.startswith("cuda")
    import torch  # only here: the rest of this module must not need torch

    return torch.cuda.is_available()
