"""The NeRF methods: one table, importable without torch or nerfstudio (the workflow reads it while it builds the
job graph). Adding a method is one entry here plus its two ``pyproject.toml`` entry points (``<target>-<name>`` =
``igae.nerf.methods:<entry_point_attribute(name, target)>`` for each of :data:`TARGETS`, checked by a test); the
CLI's choices, the run plan's CUDA check, the nerfstudio plugin's ``MethodSpecification`` objects and the tests
derive from it. The schema's ``nerf_method`` enum is checked against it by a test (a schema is data, it cannot
import this)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MethodEntry:
    """One NeRF method."""

    description: str
    parts: str
    """``module:function`` returning its :class:`igae.nerf.methods.MethodParts` (model, optimizers, batches)."""
    needs_cuda: str | None = None
    """Why the method cannot train on CPU; None where it can (nerfstudio falls back to pure torch)."""


METHODS: dict[str, MethodEntry] = {
    "vanilla-nerf": MethodEntry(
        "NeRF (Mildenhall et al.): MLP field, coarse + fine sampling", "igae.nerf.methods:vanilla_nerf_parts"
    ),
    "nerfacto": MethodEntry("nerfacto: hash-grid field with proposal sampling", "igae.nerf.methods:nerfacto_parts"),
    "tensorf": MethodEntry("TensoRF: vector-matrix factorised radiance field", "igae.nerf.methods:tensorf_parts"),
    "kplanes": MethodEntry(
        "K-Planes: multiscale factorised planes, built from nerfstudio components (pure torch)",
        "igae.nerf.methods:kplanes_parts",
    ),
    "instant-ngp": MethodEntry(
        "Instant-NGP: hash grid with an occupancy grid (nerfacc)",
        "igae.nerf.methods:instant_ngp_parts",
        needs_cuda="nerfacc's occupancy-grid sampling has CUDA kernels only",
    ),
    "splatfacto": MethodEntry(
        "Gaussian splatting (gsplat) with C-channel Gaussians; not in the paper",
        "igae.nerf.methods:splatfacto_parts",
        needs_cuda="gsplat's rasteriser has CUDA kernels only",
    ),
}
METHOD_NAMES = tuple(METHODS)


#: The spaces a method is registered in with nerfstudio: ``latent-<name>`` (the plugin's latent NeRF) and
#: ``rgb-<name>`` (its RGB baseline, trained by the same pipeline), so every run the workflow writes opens in
#: ns-eval, ns-viewer and ns-render, which look the run's method name up in this registry.
TARGETS = ("latent", "rgb")


def entry_point_attribute(name: str, target: str = "latent") -> str:
    """The attribute of ``igae.nerf.methods`` holding the nerfstudio ``MethodSpecification`` of method ``name``
    in ``target`` space (the entry point ``<target>-<name>``)."""
    return f"{target}_" + name.replace("-", "_")


def runnable_methods(methods: list[str], on_cuda: bool) -> tuple[list[str], dict[str, str]]:
    """``methods`` split into those this machine can train and the skipped ones with their reason."""
    skipped = {name: reason for name in methods if (reason := METHODS[name].needs_cuda) and not on_cuda}
    return [name for name in methods if name not in skipped], skipped


def device_has_cuda(device: str) -> bool:
    """Whether NeRFs configured for ``device`` (auto, cpu, cuda, cuda:N) train on CUDA."""
    if device != "auto":
        return device.startswith("cuda")
    import torch  # only here: the rest of this module must not need torch

    return torch.cuda.is_available()
