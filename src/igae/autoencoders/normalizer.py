"""The paper's latent normalisation: a tanh of a scaled latent, and the latent background colour.

IG-AE renders and compares *normalised* latents ``tanh(scale * z)`` in (-1, 1); latent NeRFs treat
``(tanh(scale * z) + 1) / 2`` in (0, 1) as a C-channel colour. The decoder always receives the raw latent, recovered
with the exact inverse ``atanh(x) / scale`` (the argument clamped ``eps`` away from +-1 so the inverse stays
finite). The paper uses ``scale = 0.02`` for its autoencoders, whose raw latents span tens of units.

The latent background colour is the normalised encoding of a uniformly white image (the renders' background),
averaged over latent pixels: computed from the autoencoder, never hard-coded per model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from igae.autoencoders.model import LatentAutoencoder
from igae.config.tree import NormalizerConfig
from igae.errors import ConfigError

#: The paper's tanh normaliser: ``tanh(0.02 * z)`` (IG-AE ``vae.normalization.scale``, latent-nerfstudio
#: ``tanh_scale``); eps keeps the inverse finite (latent-nerfstudio's value). The pipeline always passes
#: ``autoencoder.normalizer`` of params.yaml; these are the defaults of the nerfstudio plugin's own configs
#: (``ns-train latent-*`` run by hand).
PAPER_NORMALIZER_SCALE = 0.02
DEFAULT_NORMALIZER_EPS = 1e-6


@dataclass(frozen=True)
class TanhNormalizer:
    """``normalize(z) = tanh(scale * z)``; ``to_unit(z) = (normalize(z) + 1) / 2``; both with exact inverses."""

    scale: float = PAPER_NORMALIZER_SCALE
    eps: float = DEFAULT_NORMALIZER_EPS

    @classmethod
    def from_config(cls, config: NormalizerConfig) -> TanhNormalizer:
        """The normaliser of ``autoencoder.normalizer``."""
        return cls(config.scale, config.eps)

    def __post_init__(self) -> None:
        if not self.scale > 0:
            raise ConfigError(f"latent normaliser scale must be positive, got {self.scale}")
        if not 0 < self.eps < 1:
            raise ConfigError(f"latent normaliser eps must be in (0, 1), got {self.eps}")

    @property
    def max_invertible_magnitude(self) -> float:
        """``|z|`` beyond which the clamp makes :meth:`denormalize` saturate (the round trip is exact below)."""
        return math.atanh(1.0 - self.eps) / self.scale

    def normalize(self, latents: torch.Tensor) -> torch.Tensor:
        """raw latents -> (-1, 1)."""
        return torch.tanh(self.scale * latents)

    def denormalize(self, normalized: torch.Tensor) -> torch.Tensor:
        """(-1, 1) -> raw latents (the exact inverse of :meth:`normalize` below the saturation point)."""
        return torch.atanh(normalized.clamp(-1.0 + self.eps, 1.0 - self.eps)) / self.scale

    def to_unit(self, latents: torch.Tensor) -> torch.Tensor:
        """raw latents -> (0, 1): the 'colour' a latent NeRF fits."""
        return (self.normalize(latents) + 1.0) / 2.0

    def from_unit(self, unit: torch.Tensor) -> torch.Tensor:
        """(0, 1) -> raw latents (the exact inverse of :meth:`to_unit` below the saturation point)."""
        return self.denormalize(unit * 2.0 - 1.0)


@torch.no_grad()
def latent_background(
    autoencoder: LatentAutoencoder, normalizer: TanhNormalizer, image_size: int = 128
) -> torch.Tensor:
    """The per-channel latent colour of a white background, in [0, 1]: shape [C].

    The mean over latent pixels of ``to_unit(E(white))``, with the posterior mean (a deterministic value; the
    posterior of a flat image is narrow, so a sample differs by noise only). Latent NeRFs composite their
    renders over this colour, as RGB NeRFs composite over white.
    """
    autoencoder.check_image_size(image_size, image_size, "the background image")
    white = torch.ones(1, 3, image_size, image_size, device=autoencoder.device)
    latents = autoencoder.encode(white, sample=False)  # [1, C, s/f, s/f]
    return normalizer.to_unit(latents).mean(dim=(0, 2, 3))
