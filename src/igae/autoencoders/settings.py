"""Settings of the autoencoder phase, as plain dataclasses (no torch import: the command line reads them).

Field names match the keys of ``autoencoder.embedded`` in ``params.yaml`` and the ``igae train-autoencoder``
options.
"""

from __future__ import annotations

from dataclasses import dataclass

from igae.errors import ConfigError
from igae.hardware import check_precision

#: The paper's tanh normaliser: ``tanh(0.02 * z)`` (IG-AE ``vae.normalization.scale``, latent-nerfstudio
#: ``tanh_scale``); eps keeps the inverse finite (latent-nerfstudio's value).
PAPER_NORMALIZER_SCALE = 0.02
DEFAULT_NORMALIZER_EPS = 1e-6


@dataclass(frozen=True)
class EmbeddedArchitecture:
    """The diffusers ``AutoencoderKL`` configuration of the embedded autoencoder."""

    latent_channels: int = 16
    block_out_channels: tuple[int, ...] = (32, 64, 128, 128)  # 4 blocks: downsampling 2^3 = 8
    layers_per_block: int = 1
    norm_num_groups: int = 16
    mid_block_attention: bool = True

    def __post_init__(self) -> None:
        bad = [c for c in self.block_out_channels if c % self.norm_num_groups]
        if bad:
            raise ConfigError(
                f"autoencoder.embedded.block_out_channels {list(self.block_out_channels)}: every entry must be a "
                f"multiple of norm_num_groups ({self.norm_num_groups})"
            )


@dataclass(frozen=True)
class EmbeddedTraining:
    """How the embedded autoencoder is trained."""

    steps: int = 1500
    batch_size: int = 16
    crop_size: int = 64
    learning_rate: float = 1e-3
    warmup_steps: int = 50
    final_lr_fraction: float = 0.05
    l1_weight: float = 1.0
    kl_weight: float = 1e-6
    lpips_weight: float = 0.0
    precision: str = "auto"  # auto | fp32 | bf16 (igae.hardware: bf16 autocast only where native, by default)
    seed: int = 0
    log_every: int = 25
    validate_every: int = 250
    checkpoint_every: int = 100

    def __post_init__(self) -> None:
        check_precision(self.precision, "autoencoder.embedded.training.precision")
