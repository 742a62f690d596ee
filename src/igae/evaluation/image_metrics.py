"""Image-quality metrics of the paper: PSNR, SSIM and LPIPS (AlexNet), per image.

Images are ``[B, 3, H, W]`` tensors in [0, 1]. PSNR uses a data range of 1, SSIM torchmetrics' default 11x11
Gaussian window (sigma 1.5), LPIPS the ``lpips`` package's v0.1 AlexNet model on inputs mapped to [-1, 1]
(the same network and weights as torchmetrics' ``LearnedPerceptualImagePatchSimilarity(normalize=True)``).
The LPIPS backbone must be installed beforehand (:mod:`igae.evaluation.lpips_weights`): nothing downloads.
"""

from __future__ import annotations

import contextlib
import io
import warnings

import torch
import torch.nn.functional as F
from torchmetrics.functional.image import structural_similarity_index_measure

from igae.evaluation.lpips_weights import require_lpips_weights

METRIC_NAMES = ("psnr", "ssim", "lpips")
#: What an autoencoder's reconstructions are scored on: the image metrics and :func:`colour_error` (8-bit levels).
AUTOENCODER_METRICS = (*METRIC_NAMES, "colour_error")


def psnr(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-image PSNR in dB of [0, 1] images: [B, 3, H, W] x 2 -> [B]."""
    mse = (prediction - target).pow(2).flatten(1).mean(dim=1)
    return -10.0 * torch.log10(mse.clamp_min(1e-12))


def colour_error(prediction: torch.Tensor, target: torch.Tensor, block: int = 8) -> torch.Tensor:
    """Per-image colour error of [0, 1] images, in 8-bit levels: [B, 3, H, W] x 2 -> [B].

    The mean absolute difference of the two images' colours averaged over ``block`` x ``block`` squares (an
    autoencoder's patch at downsampling 8). Averaging cancels texture and edges, so lost detail barely counts and
    what remains is tone and hue: a beige table decoded blue-grey or green eyes decoded brown score tens of levels,
    however sharp the reconstruction.
    """
    return (F.avg_pool2d(prediction, block) - F.avg_pool2d(target, block)).abs().flatten(1).mean(dim=1) * 255.0


def ssim(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-image SSIM of [0, 1] images: [B, 3, H, W] x 2 -> [B]."""
    return structural_similarity_index_measure(prediction, target, data_range=1.0, reduction="none")


def build_lpips(net: str = "alex") -> torch.nn.Module:
    """The LPIPS network (frozen, eval mode), from the offline-installed weights only."""
    require_lpips_weights(net)
    import lpips

    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore", UserWarning)  # torchvision's 'pretrained' deprecation notice
        model = lpips.LPIPS(net=net, verbose=False)
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    return model.eval()


class ImageMetrics(torch.nn.Module):
    """PSNR, SSIM and LPIPS of each image pair."""

    def __init__(self, lpips_net: str = "alex"):
        super().__init__()
        self.lpips = build_lpips(lpips_net)

    @torch.no_grad()
    def forward(self, prediction: torch.Tensor, target: torch.Tensor) -> dict[str, torch.Tensor]:
        """[B, 3, H, W] x 2 in [0, 1] -> {"psnr": [B], "ssim": [B], "lpips": [B]}."""
        if prediction.shape != target.shape:
            raise ValueError(f"shape mismatch: {tuple(prediction.shape)} vs {tuple(target.shape)}")
        prediction = prediction.clamp(0.0, 1.0).float()
        target = target.float()
        return {
            "psnr": psnr(prediction, target),
            "ssim": ssim(prediction, target),
            "lpips": self.lpips(prediction * 2 - 1, target * 2 - 1).flatten(),
        }
