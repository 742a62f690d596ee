"""The space a NeRF is trained in: an autoencoder's normalised latent space, or RGB for the baselines.

:class:`LatentSpace` is the only place the plugin touches the autoencoder. It encodes each training image
once (a posterior sample, as latent-nerfstudio does, mapped to [0, 1] by the tanh normaliser), decodes
rendered latent images back to RGB with gradients (the RGB-alignment stage fine-tunes the decoder), and gives
the latent colour of a white background. In RGB space it is the identity with 3 channels over white, so the
data manager, pipeline and evaluation run the baselines through the same code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Optional, Tuple

import torch
from jaxtyping import Float
from torch import Tensor, nn

from igae.autoencoders.model import LatentAutoencoder, load_autoencoder
from igae.autoencoders.normalizer import (
    DEFAULT_NORMALIZER_EPS,
    PAPER_NORMALIZER_SCALE,
    TanhNormalizer,
    latent_background,
)

ENCODE_BATCH = 16  # images per encoder call when the views are cached


@dataclass
class LatentSpaceConfig:
    """Which space NeRFs are trained in, and how images map into it."""

    autoencoder: Optional[str] = "ostris-kl-f8-d16"
    """A diffusers autoencoder folder (e.g. results/igae/final/autoencoder), a preset name (ostris-kl-f8-d16,
    sd15-vae) or a Hugging Face id. None trains in RGB space (the baselines)."""
    latent_channels: Optional[int] = None
    """Checked against the loaded autoencoder when set."""
    allow_download: bool = False
    """Let diffusers fetch a preset or hub id that is not available locally."""
    normalizer_scale: float = PAPER_NORMALIZER_SCALE
    """s in (tanh(s z) + 1) / 2, the map from raw latents to the [0, 1] values fields output."""
    normalizer_eps: float = DEFAULT_NORMALIZER_EPS
    posterior: Literal["sample", "mean"] = "sample"
    """Encode each view with one posterior sample (the paper) or the posterior mean."""
    encode_seed: int = 1234
    """Seed of the posterior samples; the evaluation views use encode_seed + 1."""


class LatentSpace(nn.Module):
    """Encoder, decoder and background of a NeRF's target space (see module docstring)."""

    def __init__(self, config: LatentSpaceConfig, device: str | torch.device = "cpu"):
        super().__init__()
        self.config = config
        self.autoencoder: Optional[LatentAutoencoder] = None
        self.normalizer = TanhNormalizer(scale=config.normalizer_scale, eps=config.normalizer_eps)
        if config.autoencoder is not None:
            self.autoencoder = load_autoencoder(
                config.autoencoder,
                expected_channels=config.latent_channels,
                allow_download=config.allow_download,
                device=device,
            )
            self.autoencoder.requires_grad_(False)

    @property
    def is_latent(self) -> bool:
        return self.autoencoder is not None

    @property
    def channels(self) -> int:
        return self.autoencoder.latent_channels if self.autoencoder is not None else 3

    @property
    def downsampling_factor(self) -> int:
        return self.autoencoder.downsampling_factor if self.autoencoder is not None else 1

    def decoder_parameters(self) -> list[nn.Parameter]:
        """The weights the RGB-alignment stage fine-tunes (the decoder network, as in latent-nerfstudio)."""
        return list(self.autoencoder.model.decoder.parameters()) if self.autoencoder is not None else []

    def set_decoder_trainable(self, trainable: bool) -> None:
        for parameter in self.decoder_parameters():
            parameter.requires_grad_(trainable)

    def check_image_size(self, height: int, width: int, what: str) -> None:
        if self.autoencoder is not None:
            self.autoencoder.check_image_size(height, width, what)

    def background(self, image_size: int = 128) -> Tuple[float, ...]:
        """The target-space colour of a white background: C values in [0, 1]."""
        if self.autoencoder is None:
            return (1.0, 1.0, 1.0)
        values = latent_background(self.autoencoder, self.normalizer, image_size)
        return tuple(float(v) for v in values.cpu())

    @torch.no_grad()
    def encode_views(self, images: Float[Tensor, "N H W 3"], seed: int) -> Float[Tensor, "N h w C"]:
        """Images in [0, 1] -> their targets in [0, 1]: normalised latents, or the images themselves in RGB."""
        if self.autoencoder is None:
            return images.clone()
        device = self.autoencoder.device
        generator = torch.Generator(device=device).manual_seed(seed)
        encoded = []
        for start in range(0, images.shape[0], ENCODE_BATCH):
            chunk = images[start : start + ENCODE_BATCH].to(device).permute(0, 3, 1, 2) * 2.0 - 1.0
            latents = self.autoencoder.encode(chunk, sample=self.config.posterior == "sample", generator=generator)
            encoded.append(self.normalizer.to_unit(latents).permute(0, 2, 3, 1))
        return torch.cat(encoded).to(images.device)

    def decode(self, targets: Float[Tensor, "B h w C"]) -> Float[Tensor, "B H W 3"]:
        """Rendered targets -> RGB in [0, 1], unclamped and differentiable (clamp for metrics only)."""
        if self.autoencoder is None:
            return targets
        latents = self.normalizer.from_unit(targets.permute(0, 3, 1, 2).float())
        images = self.autoencoder.decode(latents, clamp=False)  # [B, 3, H, W] in ~[-1, 1]
        return ((images + 1.0) / 2.0).permute(0, 2, 3, 1)
