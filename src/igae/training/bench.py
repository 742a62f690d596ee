"""IG-AE step benchmark: steps per second and peak memory of a stage-2 (or stage-1) step at a given size.

At paper size (128x128, 16 channels, 500 tri-planes of [3, 32, 64, 64], 12 views + 3 real images per step,
48 + 48 samples per ray) with an autoencoder of the ostris KL-f8-d16 architecture. The weights are random (the
timing and memory of a step do not depend on them), so the benchmark runs where the pretrained weights are absent.
"""

from __future__ import annotations

import resource
import time

import torch
from diffusers import AutoencoderKL

from igae.autoencoders.model import LatentAutoencoder
from igae.autoencoders.normalizer import PAPER_NORMALIZER_SCALE, TanhNormalizer
from igae.config.tree import LossWeightsConfig, Params, TriplaneConfig, VolumeConfig
from igae.data.image_sets import to_signed
from igae.data.multiview import PosedViews
from igae.hardware import autocast_context, autocast_dtype, machine_description
from igae.training.igae import IgaeObjective, build_triplane_model

#: diffusers configuration of the ostris/vae-kl-f8-d16 architecture (igae_spec.md §1.1).
OSTRIS_ARCHITECTURE = dict(
    in_channels=3,
    out_channels=3,
    latent_channels=16,
    block_out_channels=(128, 128, 256, 512),
    layers_per_block=2,
    norm_num_groups=32,
    down_block_types=("DownEncoderBlock2D",) * 4,
    up_block_types=("UpDecoderBlock2D",) * 4,
    sample_size=512,
)


def benchmark_igae_step(
    scenes: int,
    batch_size: int,
    real_batch_size: int,
    image_size: int,
    steps: int,
    model: TriplaneConfig,
    volume: VolumeConfig,
    weights: LossWeightsConfig,
    device: str,
    precision: str = "fp32",
    stage: str = "train",
) -> dict:
    """Time ``steps`` steps of IG-AE ``stage`` after one warm-up step, the objective (``weights``: the stage's)
    autocast as ``precision`` (auto | fp32 | bf16) resolves on ``device``.

    ``train`` (stage 2): every loss, every parameter group trained. ``warmup`` (stage 1, as :func:`train_stage`
    runs it): the autoencoder frozen and its latents of the views cached (posterior means, encoded once), L_latent
    + tri-plane TV, only the tri-planes and MLP trained; ``real_batch_size`` is ignored."""
    if stage not in ("train", "warmup"):
        raise ValueError(f"stage must be 'train' or 'warmup', got {stage!r}")
    warmup = stage == "warmup"
    torch.manual_seed(0)
    autocast = autocast_dtype(precision, torch.device(device), what="IG-AE step benchmark")
    autoencoder = LatentAutoencoder(AutoencoderKL(**OSTRIS_ARCHITECTURE)).to(device).train(not warmup)
    autoencoder.requires_grad_(not warmup)
    triplane_model = build_triplane_model(scenes, autoencoder.latent_channels, model, seed=0)
    triplane_model.planes.to(device)
    triplane_model.mlp.to(device)
    normalizer = TanhNormalizer(PAPER_NORMALIZER_SCALE)
    background = torch.full((autoencoder.latent_channels,), 0.5, device=device)
    objective = IgaeObjective(
        autoencoder,
        triplane_model,
        normalizer,
        volume,
        background,
        weights,
        torch.Generator(device=device).manual_seed(0),
    )
    trained = triplane_model.parameters() if warmup else [*autoencoder.parameters(), *triplane_model.parameters()]
    optimizer = torch.optim.Adam(trained, lr=1e-5)
    intrinsics = torch.tensor([[1.09375, 0, 0.5], [0, 1.09375, 0.5], [0, 0, 1.0]])
    camera = torch.eye(4)
    camera[2, 3] = -1.3
    views = PosedViews(
        torch.randint(0, 256, (batch_size, 3, image_size, image_size), dtype=torch.uint8),
        camera.expand(batch_size, 4, 4).clone(),
        intrinsics.expand(batch_size, 3, 3).clone(),
        torch.randint(0, scenes, (batch_size,)),
        [str(i) for i in range(scenes)],
    )
    real = None if warmup else torch.randint(0, 256, (real_batch_size, 3, image_size, image_size), dtype=torch.uint8)
    targets = None
    if warmup:  # the frozen encoder's posterior means, once (train_stage's latent cache)
        with torch.no_grad():
            targets = normalizer.normalize(autoencoder.encode(to_signed(views.images).to(device), sample=False))

    def step() -> None:
        with autocast_context(autocast, device):
            total, _ = objective(views, real, targets)
        optimizer.zero_grad(set_to_none=True)
        total.backward()
        optimizer.step()

    step()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    seconds = (time.perf_counter() - start) / steps
    return {
        "benchmark": f"igae_{stage}_step",
        "stage": stage,
        "machine": machine_description(device),
        "precision": precision,
        "autocast": str(autocast or torch.float32),
        "scenes": scenes,
        "batch_size": batch_size,
        "real_batch_size": 0 if warmup else real_batch_size,
        "image_size": image_size,
        "triplane": [3, model.features, model.resolution, model.resolution],
        "samples_per_ray": volume.coarse_samples + volume.importance_samples,
        "autoencoder_parameters": sum(p.numel() for p in autoencoder.parameters()),
        "seconds_per_step": round(seconds, 4),
        "steps_per_second": round(1 / seconds, 3),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        **({"peak_cuda_mb": round(torch.cuda.max_memory_allocated() / 2**20)} if device.startswith("cuda") else {}),
    }


def benchmark_igae(params: Params, scenes: int, steps: int, device: str, stage: str = "train") -> dict:
    """:func:`benchmark_igae_step` at the size of a configuration: its images, tri-planes, ray samples, the batch
    and loss weights of ``stage`` (train: stage 2, warmup: stage 1) and its precision, with ``scenes`` tri-planes."""
    settings = getattr(params.igae, stage)
    return benchmark_igae_step(
        scenes=scenes,
        batch_size=settings.batch_size,
        real_batch_size=settings.real_batch_size,
        image_size=params.render.image_size,
        steps=steps,
        model=params.igae.triplanes,
        volume=params.igae.rendering,
        weights=settings.weights,
        device=device,
        precision=params.igae.precision,
        stage=stage,
    )
