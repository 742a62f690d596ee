"""Autoencoder benchmark: training steps per second of the embedded autoencoder, and encode / decode
throughput at the pipeline's resolution, on random images (no data needed)."""

from __future__ import annotations

import resource
import time

import torch

from igae.autoencoders.embedded import build_embedded_autoencoder, random_crops, reconstruction_loss
from igae.config.tree import ArchitectureConfig, EmbeddedTrainingConfig
from igae.hardware import autocast_dtype, machine_description


def _timed(step, repeats: int) -> float:
    step()  # warm-up
    start = time.perf_counter()
    for _ in range(repeats):
        step()
    return (time.perf_counter() - start) / repeats


def benchmark_autoencoder(
    architecture: ArchitectureConfig,
    latent_channels: int,
    training: EmbeddedTrainingConfig,
    image_size: int,
    repeats: int,
    device: str,
) -> dict:
    """Seconds per training step (``training``'s batch and crop) and images per second of encode and decode."""
    torch.manual_seed(0)
    autoencoder = build_embedded_autoencoder(architecture, latent_channels, image_size).to(device)
    optimizer = torch.optim.AdamW(autoencoder.parameters(), lr=training.learning_rate)
    pool = torch.randint(0, 256, (64, 3, image_size, image_size), dtype=torch.uint8)
    generator = torch.Generator().manual_seed(0)
    autocast = autocast_dtype(training.precision, torch.device(device), what="autoencoder benchmark")

    def train_step() -> None:
        batch = random_crops(pool, training.batch_size, training.crop_size, generator).to(device)
        loss, _ = reconstruction_loss(autoencoder, batch, training, autocast=autocast)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    step_seconds = _timed(train_step, repeats)
    images = torch.rand(training.batch_size, 3, image_size, image_size, device=device) * 2 - 1
    with torch.no_grad():
        latents = autoencoder.encode(images, sample=False)
        encode_seconds = _timed(lambda: autoencoder.encode(images, sample=False), repeats)
        decode_seconds = _timed(lambda: autoencoder.decode(latents), repeats)
    return {
        "benchmark": "autoencoder",
        "machine": machine_description(device),
        "precision": training.precision,
        "autocast": str(autocast or torch.float32),
        "parameters": sum(p.numel() for p in autoencoder.parameters()),
        "train_step_seconds": round(step_seconds, 4),
        "train_steps_per_second": round(1 / step_seconds, 2),
        "train_crops_per_second": round(training.batch_size / step_seconds, 1),
        "minutes_for_configured_steps": round(training.steps * step_seconds / 60, 2),
        "encode_images_per_second": round(training.batch_size / encode_seconds, 1),
        "decode_images_per_second": round(training.batch_size / decode_seconds, 1),
        "image_size": image_size,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        **({"peak_cuda_mb": round(torch.cuda.max_memory_allocated() / 2**20)} if device.startswith("cuda") else {}),
    }
