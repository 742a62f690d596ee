"""The latent NeRF methods: one table, from which nerfstudio method configs are built.

Each :class:`NerfMethod` holds a method's model settings for latent scenes (latent-nerfstudio's, see
``latent_nerfstudio_spec.md`` §2), nerfstudio's stock RGB optimizers, the learning-rate factor the paper applies
in latent space, and what it needs to run. :func:`trainer_config` turns one into a nerfstudio ``TrainerConfig``
for a target (``latent``: the paper's protocol, 10k latent-supervision + 15k RGB-alignment steps, one whole
latent view per step; ``rgb``: the same model in RGB with nerfstudio's ray batches, as the baseline).
The entry points in ``pyproject.toml`` (group ``nerfstudio.method_configs``) point at the
``MethodSpecification`` objects at the bottom of this module, so ``ns-train latent-nerfacto`` works, and
``ns-eval`` / ``ns-viewer`` / ``ns-render`` find the method of every run (latent-* and rgb-*).
"""

from __future__ import annotations

import copy
import dataclasses
import importlib
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, Literal, Optional

from nerfstudio.cameras.camera_optimizers import CameraOptimizerConfig
from nerfstudio.configs.base_config import LoggingConfig, ViewerConfig
from nerfstudio.data.dataparsers.nerfstudio_dataparser import NerfstudioDataParserConfig
from nerfstudio.engine.optimizers import AdamOptimizerConfig, RAdamOptimizerConfig
from nerfstudio.engine.schedulers import CosineDecaySchedulerConfig, ExponentialDecaySchedulerConfig
from nerfstudio.plugins.types import MethodSpecification

from igae.nerf.catalog import METHODS, TARGETS, entry_point_attribute
from igae.nerf.datamanager import LatentDataManagerConfig
from igae.nerf.kplanes import LatentKPlanesModelConfig
from igae.nerf.latent_space import LatentSpaceConfig
from igae.nerf.models import (
    ChannelOutputConfig,
    LatentInstantNGPModelConfig,
    LatentNerfactoModelConfig,
    LatentTensoRFModelConfig,
    LatentVanillaModelConfig,
)
from igae.nerf.pipeline import DECODER_GROUP, ExponentialSchedulerConfig, LatentPipelineConfig
from igae.nerf.splatfacto import LatentSplatfactoModelConfig
from igae.nerf.trainer import ResumableTrainerConfig

Target = Literal["latent", "rgb"]
OptimizerTable = Dict[str, Dict[str, object]]
PAPER_LATENT_SUPERVISION_STEPS = 10000
PAPER_RGB_ALIGNMENT_STEPS = 15000
PAPER_DECODER_LR = 1e-4
PAPER_DECODER_GAMMA = 0.99969


def _adam(lr: float, lr_final: Optional[float] = None, max_steps: int = 30000, eps: float = 1e-15) -> dict:
    scheduler = None if lr_final is None else ExponentialDecaySchedulerConfig(lr_final=lr_final, max_steps=max_steps)
    return {"optimizer": AdamOptimizerConfig(lr=lr, eps=eps), "scheduler": scheduler}


@dataclass(frozen=True)
class MethodParts:
    """What a method of :data:`igae.nerf.catalog.METHODS` trains with: its nerfstudio model and optimizers."""

    model: Callable[[], ChannelOutputConfig]
    """Model settings for object scenes (near/far, no camera optimisation, no appearance embedding)."""
    optimizers: Callable[[], OptimizerTable]
    """nerfstudio's stock optimizers (the RGB baseline's); latent space multiplies them by latent_lr_factor."""
    latent_lr_factor: float
    mixed_precision: bool
    rgb_rays_per_batch: int
    """Rays per step of the RGB baseline (nerfstudio's default); latent runs render one whole view per step."""
    batch_kind: Literal["rays", "camera"] = "rays"


@dataclass(frozen=True)
class NerfMethod(MethodParts):
    """One method of the catalog, with its parts: ``name``, ``description`` and ``needs_cuda`` are the catalog's."""

    name: str = ""
    description: str = ""
    needs_cuda: Optional[str] = None
    """Why the method cannot run on CPU (None: it can)."""


def _nerfacto_model() -> LatentNerfactoModelConfig:
    return LatentNerfactoModelConfig(
        near_plane=0.2,
        far_plane=2.4,
        use_appearance_embedding=False,
        use_average_appearance_embedding=True,
        average_init_density=0.01,
        eval_num_rays_per_chunk=1 << 15,
        camera_optimizer=CameraOptimizerConfig(mode="off"),
    )


def _kplanes_model() -> LatentKPlanesModelConfig:
    return LatentKPlanesModelConfig(
        near_plane=0.2,
        far_plane=2.4,
        use_appearance_embedding=False,
        interlevel_loss_mult=1.0,
        distortion_loss_mult=0.01,
        eval_num_rays_per_chunk=1 << 15,
        camera_optimizer=CameraOptimizerConfig(mode="off"),
    )


def _fields_and_proposals(lr: float, lr_final: float) -> OptimizerTable:
    return {"proposal_networks": _adam(lr, lr_final, 200000), "fields": _adam(lr, lr_final, 200000)}


# The parts of each method of igae.nerf.catalog.METHODS (its `parts` entry names the function).


def vanilla_nerf_parts() -> MethodParts:
    return MethodParts(
        model=lambda: LatentVanillaModelConfig(collider_params={"near_plane": 0.2, "far_plane": 4.0}),
        optimizers=lambda: {
            "fields": {"optimizer": RAdamOptimizerConfig(lr=5e-4, eps=1e-8), "scheduler": None},
            "temporal_distortion": {"optimizer": RAdamOptimizerConfig(lr=5e-4, eps=1e-8), "scheduler": None},
        },
        latent_lr_factor=1.0,
        mixed_precision=False,
        rgb_rays_per_batch=1024,
    )


def nerfacto_parts() -> MethodParts:
    return MethodParts(
        model=_nerfacto_model,
        optimizers=lambda: _fields_and_proposals(1e-2, 1e-4),
        latent_lr_factor=0.1,
        mixed_precision=True,
        rgb_rays_per_batch=4096,
    )


def tensorf_parts() -> MethodParts:
    return MethodParts(
        model=lambda: LatentTensoRFModelConfig(regularization="tv", camera_optimizer=CameraOptimizerConfig(mode="off")),
        optimizers=lambda: {
            "fields": _adam(1e-3, 1e-4, 30000, eps=1e-8),
            "encodings": _adam(2e-2, 2e-3, 30000, eps=1e-8),
        },
        latent_lr_factor=0.1,
        mixed_precision=False,
        rgb_rays_per_batch=4096,
    )


def kplanes_parts() -> MethodParts:
    return MethodParts(
        model=_kplanes_model,
        optimizers=lambda: {
            group: {
                "optimizer": AdamOptimizerConfig(lr=1e-2, eps=1e-12),
                "scheduler": CosineDecaySchedulerConfig(warm_up_end=512, max_steps=30000),
            }
            for group in ("proposal_networks", "fields")
        },
        latent_lr_factor=0.1,
        mixed_precision=True,
        rgb_rays_per_batch=4096,
    )


def instant_ngp_parts() -> MethodParts:
    return MethodParts(
        model=lambda: LatentInstantNGPModelConfig(
            eval_num_rays_per_chunk=8192, use_appearance_embedding=False, far_plane=4.0
        ),
        optimizers=lambda: {"fields": _adam(1e-2, 1e-4, 200000)},
        latent_lr_factor=0.1,
        mixed_precision=True,
        rgb_rays_per_batch=4096,
    )


def splatfacto_parts() -> MethodParts:
    return MethodParts(
        model=lambda: LatentSplatfactoModelConfig(num_downscales=0, camera_optimizer=CameraOptimizerConfig(mode="off")),
        optimizers=lambda: {
            "means": _adam(1.6e-4, 1.6e-6, 30000),
            "features_dc": _adam(2.5e-3),
            "features_rest": _adam(2.5e-3 / 20),
            "opacities": _adam(5e-2),
            "scales": _adam(5e-3),
            "quats": _adam(1e-3),
        },
        latent_lr_factor=1.0,
        mixed_precision=False,
        rgb_rays_per_batch=0,
        batch_kind="camera",
    )


def get_method(name: str) -> NerfMethod:
    """The method called ``name`` (with or without the ``latent-`` prefix) with its parts, or a clear error."""
    key = name.removeprefix("latent-")
    entry = METHODS.get(key)
    if entry is None:
        raise KeyError(f"unknown NeRF method '{name}': choose from {', '.join(METHODS)}")
    module, function = entry.parts.split(":")
    parts: MethodParts = getattr(importlib.import_module(module), function)()
    values = {field.name: getattr(parts, field.name) for field in dataclasses.fields(MethodParts)}
    return NerfMethod(**values, name=key, description=entry.description, needs_cuda=entry.needs_cuda)


def scaled_optimizers(table: OptimizerTable, factor: float) -> OptimizerTable:
    """``table`` with every initial and final learning rate multiplied by ``factor`` (schedule lengths kept)."""
    scaled = copy.deepcopy(table)
    for entry in scaled.values():
        entry["optimizer"].lr *= factor
        scheduler = entry["scheduler"]
        if isinstance(scheduler, ExponentialDecaySchedulerConfig):
            scheduler.lr_final = None if scheduler.lr_final is None else scheduler.lr_final * factor
    return scaled


def trainer_config(
    method: NerfMethod,
    target: Target = "latent",
    *,
    latent_supervision_steps: int = PAPER_LATENT_SUPERVISION_STEPS,
    rgb_alignment_steps: int = PAPER_RGB_ALIGNMENT_STEPS,
    autoencoder: Optional[str] = "ostris-kl-f8-d16",
    decoder_lr: float = PAPER_DECODER_LR,
    decoder_gamma: float = PAPER_DECODER_GAMMA,
    latent_lr_factor: Optional[float] = None,
) -> ResumableTrainerConfig:
    """A nerfstudio trainer config (:class:`~igae.nerf.trainer.ResumableTrainerConfig`) for ``method`` in
    ``target`` (see the module docstring).

    In RGB the run has as many steps as the latent run's two stages together, with no alignment stage.
    ``latent_lr_factor`` replaces the method's (the paper's) learning-rate factor in latent space.
    """
    total_steps = latent_supervision_steps + rgb_alignment_steps
    latent = target == "latent"
    factor = (method.latent_lr_factor if latent_lr_factor is None else latent_lr_factor) if latent else 1.0
    optimizers = scaled_optimizers(method.optimizers(), factor)
    optimizers[DECODER_GROUP] = {
        "optimizer": AdamOptimizerConfig(lr=decoder_lr, eps=1e-8),
        "scheduler": ExponentialSchedulerConfig(gamma=decoder_gamma),
    }
    return ResumableTrainerConfig(
        method_name=f"{'latent' if latent else 'rgb'}-{method.name}",
        max_num_iterations=total_steps,
        mixed_precision=method.mixed_precision,
        steps_per_save=1000,
        steps_per_eval_batch=500,
        steps_per_eval_image=500,
        steps_per_eval_all_images=1000,
        pipeline=LatentPipelineConfig(
            datamanager=LatentDataManagerConfig(
                dataparser=NerfstudioDataParserConfig(downscale_factor=1, train_split_fraction=0.9),
                rays_per_batch=0 if latent else method.rgb_rays_per_batch,
                batch_kind=method.batch_kind,
            ),
            model=method.model(),
            latent_space=LatentSpaceConfig(autoencoder=autoencoder if latent else None),
            alignment_start=latent_supervision_steps if latent else total_steps,
        ),
        optimizers=optimizers,
        viewer=ViewerConfig(num_rays_per_chunk=1 << 15, quit_on_train_completion=True),
        logging=LoggingConfig(steps_per_log=10),
        vis="tensorboard",
    )


def _specification(name: str, target: Target) -> MethodSpecification:
    method = get_method(name)
    if target == "latent":
        description = f"Latent {method.description} (IG-AE protocol; --pipeline.latent-space.autoencoder sets the AE)"
    else:
        description = f"RGB baseline of latent-{method.name}: {method.description}, same pipeline and evaluation"
    return MethodSpecification(config=trainer_config(method, target), description=description)


def put_ffmpeg_on_path() -> None:
    """``ns-render`` needs ``ffmpeg`` on PATH for videos. The setup links the binary of imageio-ffmpeg's wheel beside
    this Python (``.venv/bin/ffmpeg``); a tool started by its full path, without the environment activated, does
    not have that folder on PATH, so it is appended here (nerfstudio loads this module before it checks)."""
    beside_python = Path(sys.executable).parent / "ffmpeg"
    if shutil.which("ffmpeg") is None and beside_python.exists():
        os.environ["PATH"] = os.pathsep.join([os.environ.get("PATH", ""), str(beside_python.parent)])


put_ffmpeg_on_path()

# The plugin's entry points (pyproject.toml, group nerfstudio.method_configs): one MethodSpecification a method and
# target space, so that a run's stored method name (latent-tensorf, rgb-tensorf) is one nerfstudio knows.
for _name in METHODS:
    for _target in TARGETS:
        globals()[entry_point_attribute(_name, _target)] = _specification(_name, _target)
