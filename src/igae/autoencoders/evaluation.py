"""Autoencoder evaluation: how well ``D(E(x))`` reconstructs held-out real images and rendered views.

Writes a JSON summary (mean PSNR / SSIM / LPIPS-alex and colour error per image set, the autoencoder's
properties, its latent statistics and latent background colour), a per-image CSV, and a PNG grid of originals
above reconstructions. Sets named in ``recolour`` are also scored with each image's RGB channels rotated (set
``<name>_recoloured``): the same pictures in hues a small training set lacks, so whether colours survive is
measured, not only seen.
This is the paper's ``metrics_ae`` (and its ImageNet "injection" metrics), for the standard AE and the IG-AE alike.
Given the autoencoder's training images, the same sets are also coded by the linear reference codec of the same
rate (:class:`igae.autoencoders.reference.PatchPCACodec`) and scored the same way.
"""

from __future__ import annotations

import csv
import io
import logging
from pathlib import Path

import torch

from igae.autoencoders.model import LatentAutoencoder
from igae.autoencoders.normalizer import TanhNormalizer, latent_background
from igae.autoencoders.reference import PatchPCACodec
from igae.data.image_sets import load_images, to_signed, to_unit
from igae.evaluation.image_metrics import AUTOENCODER_METRICS, ImageMetrics, colour_error
from igae.imaging import comparison_grid
from igae.io_utils import write_bytes_atomic, write_json_atomic, write_png_atomic

log = logging.getLogger(__name__)

POSTERIOR_MODES = ("sample", "mean")
#: Suffix of a set scored again with its images' colour channels rotated.
RECOLOURED_SUFFIX = "_recoloured"


def rotate_channels(images: torch.Tensor) -> torch.Tensor:
    """uint8 [N, 3, H, W] -> the same images with RGB rotated, alternately to GBR and BRG (image i by i % 2 + 1
    channels): orange becomes green or blue, so hues missing from the training photographs are tested."""
    return torch.stack([image.roll(-(index % 2 + 1), dims=0) for index, image in enumerate(images)])


@torch.no_grad()
def reconstruct(
    autoencoder: LatentAutoencoder,
    images: torch.Tensor,
    *,
    posterior: str,
    generator: torch.Generator | None,
    batch_size: int = 16,
) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 images [N, 3, H, W] -> (reconstructions [N, 3, H, W] in [0, 1], raw latents [N, C, H/f, W/f])."""
    reconstructions, latents = [], []
    for start in range(0, len(images), batch_size):
        batch = to_signed(images[start : start + batch_size]).to(autoencoder.device)
        latent = autoencoder.encode(batch, sample=posterior == "sample", generator=generator)
        reconstructions.append(to_unit(autoencoder.decode(latent)).cpu())
        latents.append(latent.cpu())
    return torch.cat(reconstructions), torch.cat(latents)


@torch.no_grad()
def score_images(
    metrics: ImageMetrics, reconstructions: torch.Tensor, originals: torch.Tensor, batch_size: int = 32
) -> dict[str, torch.Tensor]:
    """PSNR / SSIM / LPIPS and colour error per image of ``reconstructions`` against ``originals`` (both
    [N, 3, H, W] in [0, 1]), computed in batches on the metrics' device; returns metric -> [N] values."""
    device = next(metrics.parameters()).device
    scores: dict[str, list[torch.Tensor]] = {key: [] for key in AUTOENCODER_METRICS}
    for start in range(0, len(originals), batch_size):
        prediction = reconstructions[start : start + batch_size].to(device)
        target = originals[start : start + batch_size].to(device)
        batch = {**metrics(prediction, target), "colour_error": colour_error(prediction.clamp(0.0, 1.0), target)}
        for key in AUTOENCODER_METRICS:
            scores[key].append(batch[key].cpu())
    return {key: torch.cat(values) for key, values in scores.items()}


def evaluate_autoencoder(
    autoencoder: LatentAutoencoder,
    image_sets: dict[str, list[Path]],
    out_json: Path,
    *,
    normalizer: TanhNormalizer,
    posterior: str = "sample",
    seed: int = 0,
    figure: Path | None = None,
    metadata: dict | None = None,
    reference_training: torch.Tensor | None = None,
    recolour: tuple[str, ...] = (),
) -> dict:
    """Evaluate reconstructions of each named image set and write the JSON, CSV and figure outputs.

    ``posterior`` is ``sample`` (a seeded posterior sample, as the paper encodes) or ``mean``. With
    ``reference_training`` (uint8 [N, 3, H, W], the autoencoder's training images) the JSON also holds
    ``reference_codec``: the PCA patch codec of the autoencoder's rate, fitted on them, scored on the same sets.
    Each set named in ``recolour`` is scored a second time, as ``<name>_recoloured``, its images' channels rotated
    (:func:`rotate_channels`).
    """
    if posterior not in POSTERIOR_MODES:
        raise ValueError(f"posterior must be one of {POSTERIOR_MODES}, got '{posterior}'")
    autoencoder.eval()
    metrics = ImageMetrics("alex").to(autoencoder.device)
    generator = torch.Generator(device=autoencoder.device).manual_seed(seed)
    codec = None
    if reference_training is not None:
        codec = PatchPCACodec.fit(reference_training, autoencoder.downsampling_factor, autoencoder.latent_channels)
    summary: dict[str, dict] = {}
    reference_summary: dict[str, dict] = {}
    rows: list[dict] = []
    grid_rows: list[torch.Tensor] = []
    all_latents = []
    unknown = sorted(set(recolour) - set(image_sets))
    if unknown:
        raise ValueError(f"recolour names sets {unknown} that are not among the image sets {sorted(image_sets)}")
    scored_sets = []  # (set name, its images' paths, uint8 images [N, 3, H, W], recoloured); the recoloured last
    for name, paths in image_sets.items():
        images = load_images(paths)
        autoencoder.check_image_size(images.shape[-2], images.shape[-1], f"the '{name}' images")
        scored_sets.append((name, paths, images, False))
    scored_sets += [(name + RECOLOURED_SUFFIX, paths, rotate_channels(images), True)
                    for name, paths, images, _ in scored_sets if name in recolour]  # fmt: skip
    for name, paths, images, recoloured in scored_sets:
        reconstructions, latents = reconstruct(autoencoder, images, posterior=posterior, generator=generator)
        originals = images.float() / 255.0
        per_image = score_images(metrics, reconstructions, originals)
        summary[name] = {"images": len(images), **{key: float(values.mean()) for key, values in per_image.items()}}
        if codec is not None:
            coded = score_images(metrics, codec.reconstruct(images), originals)
            reference_summary[name] = {"images": len(images), **{k: float(v.mean()) for k, v in coded.items()}}
        for index, path in enumerate(paths):
            rows.append({"set": name, "image": str(path), **{k: float(v[index]) for k, v in per_image.items()}})
        grid_rows += [originals, reconstructions]
        if not recoloured:  # the latent statistics are those of the sets as given
            all_latents.append(latents)
        log.info("%s: %s", name, {key: round(value, 4) for key, value in summary[name].items()})

    latents = torch.cat([latent.flatten(1) for latent in all_latents])
    background = latent_background(autoencoder, normalizer, images.shape[-1])
    result = {
        **(metadata or {}),
        "class": type(autoencoder.model).__name__,
        "latent_channels": autoencoder.latent_channels,
        "downsampling_factor": autoencoder.downsampling_factor,
        "posterior": posterior,
        "seed": seed,
        "normalizer": {"kind": "tanh", "scale": normalizer.scale, "eps": normalizer.eps},
        "latent_background": [round(float(value), 6) for value in background],
        "latent_stats": {
            "mean": float(latents.mean()),
            "std": float(latents.std()),
            "abs_max": float(latents.abs().max()),
            "normalized_std": float(normalizer.normalize(latents).std()),
        },
        "sets": summary,
    }
    if codec is not None:
        result["reference_codec"] = {
            "codec": codec.describe(),
            "fitted_on_images": len(reference_training),
            "sets": reference_summary,
        }
    out_json = Path(out_json)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=["set", "image", *AUTOENCODER_METRICS])
    writer.writeheader()
    writer.writerows(rows)
    write_bytes_atomic(out_json.with_suffix(".csv"), buffer.getvalue().encode())
    if figure is not None:
        write_png_atomic(Path(figure), comparison_grid(grid_rows))
    write_json_atomic(out_json, result)
    return result
