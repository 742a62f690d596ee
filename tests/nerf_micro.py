"""The micro NeRF setting shared by the plugin and tool tests: a real rendered object at 32x32 (latent 4x4), a
4-channel embedded AE trained for seconds on it (fixtures ``micro_scene`` and ``micro_autoencoder`` in
``conftest.py``, built once per session), and the tiny preset's ``nerf`` section at a few steps."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from igae.autoencoders.embedded import train_embedded_autoencoder
from igae.config import load_config
from igae.config.tree import ArchitectureConfig, NerfConfig, NormalizerConfig
from igae.data.procedural import generate_object, parts_to_glb
from igae.data.scenes import normalize_parts, render_scene
from igae.nerf.catalog import METHOD_NAMES

TINY = load_config(Path(__file__).parents[1] / "params.yaml", "tiny")
NORMALIZER = NormalizerConfig(scale=0.5, eps=1e-6)
MICRO_OVERRIDES = {
    "vanilla-nerf": {"num_coarse_samples": 8, "num_importance_samples": 8},
    "nerfacto": {
        "num_levels": 4, "log2_hashmap_size": 12, "max_res": 64, "num_proposal_samples_per_ray": [16, 8],
        "num_nerf_samples_per_ray": 8, "proposal_net_args_list": [
            {"hidden_dim": 16, "log2_hashmap_size": 12, "num_levels": 4, "max_res": 32, "use_linear": False},
            {"hidden_dim": 16, "log2_hashmap_size": 12, "num_levels": 4, "max_res": 64, "use_linear": False},
        ],
    },
    "tensorf": {"init_resolution": 16, "final_resolution": 24, "upsampling_iters": [], "num_uniform_samples": 16,
                "num_samples": 8},
    "kplanes": {"grid_base_resolution": 16, "num_proposal_samples_per_ray": [16, 8], "num_nerf_samples_per_ray": 8,
                "proposal_net_resolutions": [16, 32]},
    "instant-ngp": {},
    "splatfacto": {},
}  # fmt: skip


def micro_settings(**changes) -> NerfConfig:
    """The tiny preset's ``nerf`` section at a few steps, the paper's learning-rate factors, method chunks."""
    values = dict(
        latent_lr_factor=None,
        eval_rays_per_chunk=None,
        latent_supervision_steps=2,
        rgb_alignment_steps=1,
        model_overrides=MICRO_OVERRIDES,
        rgb_rays_per_batch={name: 64 for name in METHOD_NAMES},
        checkpoint_every=1000,
        log_every=1,
    )
    return dataclasses.replace(TINY.nerf, **{**values, **changes})


def make_micro_scene(root: Path) -> Path:
    """A real rendered object: 10 views at 32x32 (latent 4x4), one held out."""
    asset = root / "object.glb"
    asset.write_bytes(parts_to_glb(normalize_parts(generate_object(1, TINY.scenes.procedural), 0.5, "z")))
    render_scene(
        asset,
        root / "scene",
        views=10,
        seed=0,
        settings=dataclasses.replace(TINY.render, image_size=32, samples_per_pixel=4),
    )
    return root / "scene"


def make_micro_autoencoder(root: Path, micro_scene: Path) -> Path:
    """A 4-channel embedded AE trained for a few seconds on the scene's views (so decodes resemble them)."""
    images = np.stack([np.asarray(Image.open(p).convert("RGB")) for p in sorted((micro_scene / "images").iterdir())])
    train_embedded_autoencoder(
        torch.from_numpy(images).permute(0, 3, 1, 2).contiguous(),
        root / "ae",
        architecture=ArchitectureConfig(
            block_out_channels=(16, 16, 32, 32), layers_per_block=1, norm_num_groups=8, mid_block_attention=False
        ),
        latent_channels=4,
        training=dataclasses.replace(
            TINY.autoencoder.embedded.training,
            steps=250,
            batch_size=8,
            crop_size=32,
            learning_rate=2e-3,
            warmup_steps=10,
            log_every=50,
            validate_every=1000,
            checkpoint_every=1000,
            lpips_weight=0.0,
        ),  # fmt: skip
        work_dir=root / "work",
    )
    return root / "ae"
