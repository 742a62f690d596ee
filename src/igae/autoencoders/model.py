"""One interface over diffusers image autoencoders, and loading them by preset, hub id or local folder.

:class:`LatentAutoencoder` wraps a diffusers ``AutoencoderKL`` (variational: a posterior to sample or take the
mean of) or ``AutoencoderTiny`` (deterministic). Every property a later phase needs (latent channel count,
downsampling factor, whether the encoder is variational) is read from the wrapped model, never assumed.

Images are ``[B, 3, H, W]`` tensors in [-1, 1] (the diffusers convention; ``ToTensor`` then ``Normalize(0.5,
0.5)``), with ``H`` and ``W`` multiples of the downsampling factor. Latents are the raw ``[B, C, H/f, W/f]``
values the decoder takes; the diffusers ``scaling_factor`` is not used (IG-AE normalises latents with a tanh,
:mod:`igae.autoencoders.normalizer`).
"""

from __future__ import annotations

import copy
import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import torch
from diffusers import AutoencoderKL, AutoencoderTiny

from igae.config.tree import LOCAL_AUTOENCODERS
from igae.errors import IgaeError

log = logging.getLogger(__name__)

#: A Hugging Face model id: ``owner/name``, one slash, no path segments beyond.
HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")

SUPPORTED_CLASSES = {"AutoencoderKL": AutoencoderKL, "AutoencoderTiny": AutoencoderTiny}
WEIGHT_FILES = ("diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.bin")


class AutoencoderError(IgaeError):
    """An autoencoder folder, hub id or configuration cannot be used."""


@dataclass(frozen=True)
class AutoencoderPreset:
    """A named autoencoder: published on the Hugging Face hub (``repo_id``), or shipped in this repository under
    ``resources/autoencoders/<name>/`` (``repo_id`` None) with the recipe that reproduces it."""

    repo_id: str | None
    subfolder: str | None
    latent_channels: int
    description: str
    recipe: str | None = None  # how to retrain a shipped one


#: The embedded autoencoder trained once by this pipeline and shipped (the tiny preset's standard AE).
SHIPPED_EMBEDDED = "igae-embedded-f8c16"

#: The paper's autoencoders and the shipped one. ``ostris-kl-f8-d16`` is the IG-AE backbone; ``sd15-vae`` is the
#: Stable Diffusion v1.5 VAE the official code also supports (published first as runwayml/stable-diffusion-v1-5,
#: now mirrored).
PRESETS: dict[str, AutoencoderPreset] = {
    "ostris-kl-f8-d16": AutoencoderPreset("ostris/vae-kl-f8-d16", None, 16, "Ostris KL-f8-d16, 16 channels"),
    "sd15-vae": AutoencoderPreset(
        "stable-diffusion-v1-5/stable-diffusion-v1-5", "vae", 4, "Stable Diffusion v1.5 VAE, 4 channels"
    ),
    SHIPPED_EMBEDDED: AutoencoderPreset(
        None,
        None,
        16,
        "the embedded AutoencoderKL trained by this pipeline on the tiny preset's images, 16 channels",
        recipe="`snakemake --cores all --config preset=autoencoder-recipe autoencoder_all`, then `igae "
        "export-autoencoder --model results/autoencoders/standard --out resources/autoencoders/igae-embedded-f8c16 "
        "--training-log results/autoencoders/standard_training/metrics.csv`",
    ),
}


class LatentAutoencoder(torch.nn.Module):
    """A diffusers autoencoder seen through the operations IG-AE and latent NeRFs need."""

    def __init__(self, model: AutoencoderKL | AutoencoderTiny):
        super().__init__()
        if not isinstance(model, tuple(SUPPORTED_CLASSES.values())):
            raise AutoencoderError(f"unsupported autoencoder class {type(model).__name__}")
        self.model = model

    # -- properties read from the model ---------------------------------------------------------------------
    @property
    def latent_channels(self) -> int:
        return int(self.model.config.latent_channels)

    @property
    def downsampling_factor(self) -> int:
        """Image pixels per latent pixel along each axis (8 for the paper's autoencoders).

        AutoencoderKL halves the resolution in every down block but the last; AutoencoderTiny's encoder
        halves it in every block but the first.
        """
        if isinstance(self.model, AutoencoderKL):
            return 2 ** (len(self.model.config.block_out_channels) - 1)
        return 2 ** (len(self.model.config.encoder_block_out_channels) - 1)

    @property
    def is_variational(self) -> bool:
        return isinstance(self.model, AutoencoderKL)

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def check_image_size(self, height: int, width: int, what: str = "images") -> None:
        factor = self.downsampling_factor
        if height % factor or width % factor:
            raise AutoencoderError(
                f"{what} are {height}x{width}, but the autoencoder downsamples by {factor}: "
                f"height and width must be multiples of {factor}"
            )

    # -- encoding and decoding --------------------------------------------------------------------------------
    def posterior(self, images: torch.Tensor):
        """The diagonal Gaussian posterior of an AutoencoderKL (``.mean``, ``.sample()``, ``.kl()``)."""
        if not self.is_variational:
            raise AutoencoderError(f"{type(self.model).__name__} has no posterior (it is deterministic)")
        self._check_images(images)
        return self.model.encode(images).latent_dist

    def encode(
        self,
        images: torch.Tensor,
        *,
        sample: bool = True,
        generator: torch.Generator | None = None,
        noise: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``images`` [B, 3, H, W] in [-1, 1] -> latents [B, C, H/f, W/f].

        ``sample=True`` draws from the posterior (what IG-AE and latent-nerfstudio use as pseudo ground truth):
        ``mean + std * noise``, ``noise`` [B, C, H/f, W/f] standard normal (:meth:`posterior_noise`) or drawn from
        ``generator``; ``sample=False`` takes its mean. Deterministic autoencoders ignore ``sample``.
        """
        if not self.is_variational:
            self._check_images(images)
            return self.model.encode(images).latents
        posterior = self.posterior(images)
        if not sample:
            return posterior.mode()
        if noise is None:
            noise = self.posterior_noise(len(images), images.shape[-2], images.shape[-1], generator)
        return posterior.mean + posterior.std * noise.to(posterior.mean.dtype)

    def posterior_noise(
        self, count: int, height: int, width: int, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Standard normal noise [count, C, height/f, width/f] for sampling the posteriors of ``count`` images
        (float32, drawn as diffusers' ``DiagonalGaussianDistribution.sample`` draws it)."""
        factor = self.downsampling_factor
        shape = (count, self.latent_channels, height // factor, width // factor)
        return torch.randn(shape, generator=generator, device=self.device, dtype=torch.float32)

    def decode(self, latents: torch.Tensor, *, clamp: bool = True) -> torch.Tensor:
        """latents [B, C, h, w] -> images [B, 3, h*f, w*f] in [-1, 1] (clamped unless ``clamp=False``)."""
        if latents.ndim != 4 or latents.shape[1] != self.latent_channels:
            raise AutoencoderError(
                f"latents of shape {tuple(latents.shape)} do not match the autoencoder's "
                f"{self.latent_channels} latent channels (expected [B, {self.latent_channels}, h, w])"
            )
        images = self.model.decode(latents).sample
        return images.clamp(-1.0, 1.0) if clamp else images

    def _check_images(self, images: torch.Tensor) -> None:
        if images.ndim != 4 or images.shape[1] != 3:
            raise AutoencoderError(f"expected RGB images [B, 3, H, W], got shape {tuple(images.shape)}")
        self.check_image_size(images.shape[-2], images.shape[-1])

    # -- persistence ------------------------------------------------------------------------------------------
    def save_pretrained(self, folder: Path, dtype: torch.dtype | None = None) -> None:
        """diffusers format: ``AutoencoderKL.from_pretrained(folder)`` loads it (safetensors weights), in ``dtype``
        when given (float16 halves a shipped model; diffusers loads it back into float32 parameters)."""
        model = self.model if dtype is None else copy.deepcopy(self.model).to(dtype)  # this model's weights untouched
        model.save_pretrained(str(folder), safe_serialization=True)


def describe_local_copy(preset_name: str) -> str:
    """How to provide a preset's files offline (used in error messages)."""
    preset = PRESETS[preset_name]
    folder = LOCAL_AUTOENCODERS / preset_name
    if preset.repo_id is None:
        return (
            f"it ships with this repository in '{folder}/' (config.json and {WEIGHT_FILES[0]}): restore it with "
            f"`git checkout -- {folder}`, or retrain it: {preset.recipe}"
        )
    source = f"{preset.repo_id}" + (f" (sub-folder '{preset.subfolder}')" if preset.subfolder else "")
    download = f"huggingface-cli download {preset.repo_id}" + (
        f" --include '{preset.subfolder}/*'" if preset.subfolder else ""
    )
    return (
        f"put config.json and {WEIGHT_FILES[0]} of {source} in '{folder}/' "
        f"(for example `{download} --local-dir <tmp>` on a machine with a network, then copy the files"
        f"{' of ' + preset.subfolder + '/' if preset.subfolder else ''} there), "
        f"or set autoencoder.pretrained to the folder holding them"
    )


def validate_autoencoder_folder(folder: Path) -> type:
    """Check that ``folder`` holds a diffusers autoencoder; return its diffusers class."""
    folder = Path(folder)
    config_path = folder / "config.json"
    if not config_path.is_file():
        raise AutoencoderError(f"'{folder}' is not a diffusers autoencoder folder: no config.json")
    try:
        config = json.loads(config_path.read_text())
    except json.JSONDecodeError as error:
        raise AutoencoderError(f"'{config_path}' is not valid JSON: {error}") from error
    class_name = config.get("_class_name") if isinstance(config, dict) else None
    if class_name not in SUPPORTED_CLASSES:
        raise AutoencoderError(
            f"'{config_path}' describes a '{class_name}', not a diffusers autoencoder "
            f"(expected _class_name {' or '.join(SUPPORTED_CLASSES)})"
        )
    if not any((folder / name).is_file() for name in WEIGHT_FILES):
        raise AutoencoderError(f"'{folder}' has a config.json but no weights ({' or '.join(WEIGHT_FILES)})")
    return SUPPORTED_CLASSES[class_name]


def load_autoencoder(
    source: str | Path,
    *,
    expected_channels: int | None = None,
    allow_download: bool = False,
    device: str | torch.device = "cpu",
) -> LatentAutoencoder:
    """Load an autoencoder from a local diffusers folder, a preset name (:data:`PRESETS`) or a hub id.

    A preset is looked up first in ``resources/autoencoders/<preset>/``, then in the Hugging Face cache, then
    (only with ``allow_download``) on the hub. ``expected_channels`` is checked against the loaded model.
    """
    source_text = str(source)
    if Path(source_text).exists():
        cls = validate_autoencoder_folder(Path(source_text))
        model = _load_folder(cls, Path(source_text))
    else:
        model = _load_from_hub(source_text, allow_download)
    autoencoder = LatentAutoencoder(model.eval()).to(device)
    if expected_channels is not None and autoencoder.latent_channels != expected_channels:
        raise AutoencoderError(
            f"autoencoder '{source_text}' has {autoencoder.latent_channels} latent channels, but the "
            f"configuration expects {expected_channels} (autoencoder.latent_channels in params.yaml)"
        )
    log.info(
        "autoencoder %s: %s, %d latent channels, downsampling %d",
        source_text,
        type(model).__name__,
        autoencoder.latent_channels,
        autoencoder.downsampling_factor,
    )
    return autoencoder


def _load_folder(cls: type, folder: Path):
    """``cls.from_pretrained(folder)``, refusing weights that do not fit ``config.json``: diffusers raises for
    mismatched shapes, but fills missing tensors (a config with more layers than the weights) with random
    values and only logs it."""
    advice = "save the model again with save_pretrained, or put back the config.json saved with its weights"
    try:
        model, loading = cls.from_pretrained(str(folder), low_cpu_mem_usage=False, output_loading_info=True)
    except (RuntimeError, ValueError, OSError, KeyError) as error:
        lines = [line.strip() for line in str(error).splitlines() if line.strip()] or [type(error).__name__]
        raise AutoencoderError(
            f"autoencoder folder '{folder}': its weights do not fit its config.json ({' '.join(lines[:2])}); {advice}"
        ) from error
    for kind in ("missing_keys", "unexpected_keys", "mismatched_keys"):
        keys = sorted(str(key) for key in loading.get(kind) or [])
        if keys:
            shown = ", ".join(keys[:3]) + (f" and {len(keys) - 3} more" if len(keys) > 3 else "")
            raise AutoencoderError(
                f"autoencoder folder '{folder}': its weights do not fit its config.json "
                f"({kind.replace('_', ' ')}: {shown}); {advice}"
            )
    return model


def _load_from_hub(name: str, allow_download: bool):
    preset = PRESETS.get(name)
    if preset is not None:
        local = LOCAL_AUTOENCODERS / name
        if local.exists():
            return _load_folder(validate_autoencoder_folder(local), local)
        if preset.repo_id is None:
            raise AutoencoderError(f"autoencoder '{name}' is not in '{local}/': {describe_local_copy(name)}")
        repo_id, subfolder = preset.repo_id, preset.subfolder
    elif HUB_ID.fullmatch(name):
        repo_id, subfolder = name, None
    else:
        raise AutoencoderError(
            f"autoencoder '{name}' is neither an existing folder (no '{Path(name).absolute()}'), nor a preset "
            f"({', '.join(PRESETS)}), nor a Hugging Face id (owner/name)"
        )
    try:
        return AutoencoderKL.from_pretrained(
            repo_id, subfolder=subfolder, local_files_only=not allow_download, low_cpu_mem_usage=False
        )
    except (OSError, ValueError) as error:
        how = describe_local_copy(name) if preset else f"download {repo_id} and set autoencoder.pretrained to it"
        reason = "is not in the local Hugging Face cache" if not allow_download else "could not be downloaded"
        folder = "" if preset else f"; nor is it a local folder (no '{Path(name).absolute()}')"
        raise AutoencoderError(f"autoencoder '{name}' ({repo_id}) {reason}{folder}: {how}") from error
