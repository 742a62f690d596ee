"""The autoencoder interface, loading (folders, presets, hub ids), the latent normaliser and background colour."""

import json

import pytest
import torch
from diffusers import AutoencoderKL, AutoencoderTiny
from hypothesis import given, settings
from hypothesis import strategies as st

from igae.autoencoders.embedded import build_embedded_autoencoder
from igae.autoencoders.model import AutoencoderError, LatentAutoencoder, load_autoencoder
from igae.autoencoders.normalizer import TanhNormalizer, latent_background
from igae.config.tree import ArchitectureConfig
from igae.errors import ConfigError


def small_kl(latent_channels: int, blocks: int = 4, seed: int = 0) -> LatentAutoencoder:
    torch.manual_seed(seed)
    architecture = ArchitectureConfig(
        block_out_channels=(8, 8, 16, 16)[:blocks], layers_per_block=1, norm_num_groups=4, mid_block_attention=True
    )
    return build_embedded_autoencoder(architecture, latent_channels, image_size=32).eval()


def small_tiny(latent_channels: int = 4) -> LatentAutoencoder:
    torch.manual_seed(0)
    model = AutoencoderTiny(
        encoder_block_out_channels=(8, 8, 8, 8),
        decoder_block_out_channels=(8, 8, 8, 8),
        num_encoder_blocks=(1, 1, 1, 1),
        num_decoder_blocks=(1, 1, 1, 1),
        latent_channels=latent_channels,
    )
    return LatentAutoencoder(model).eval()


@pytest.mark.parametrize("channels", [4, 16])
def test_kl_encode_decode_shapes(channels):
    autoencoder = small_kl(channels)
    assert autoencoder.latent_channels == channels and autoencoder.downsampling_factor == 8
    assert autoencoder.is_variational
    images = torch.rand(2, 3, 32, 48) * 2 - 1
    with torch.no_grad():
        sample = autoencoder.encode(images, generator=torch.Generator().manual_seed(0))
        mean = autoencoder.encode(images, sample=False)
        decoded = autoencoder.decode(sample)
    assert sample.shape == mean.shape == (2, channels, 4, 6)
    assert not torch.equal(sample, mean)  # a posterior sample is not its mean
    assert decoded.shape == images.shape and decoded.min() >= -1 and decoded.max() <= 1


def test_downsampling_factor_is_read_from_the_model():
    assert small_kl(4, blocks=3).downsampling_factor == 4
    tiny = small_tiny(4)
    assert tiny.downsampling_factor == 8 and not tiny.is_variational
    with torch.no_grad():
        latents = tiny.encode(torch.zeros(1, 3, 32, 32))
        assert latents.shape == (1, 4, 4, 4)
        assert tiny.decode(latents).shape == (1, 3, 32, 32)
    with pytest.raises(AutoencoderError, match="no posterior"):
        tiny.posterior(torch.zeros(1, 3, 32, 32))


def test_bad_image_sizes_and_latent_channels_are_clear_errors():
    autoencoder = small_kl(4)
    with pytest.raises(AutoencoderError, match="36x32.*multiples of 8"):
        autoencoder.encode(torch.zeros(1, 3, 36, 32))
    with pytest.raises(AutoencoderError, match=r"expected RGB images \[B, 3, H, W\]"):
        autoencoder.encode(torch.zeros(1, 4, 32, 32))
    with pytest.raises(AutoencoderError, match="4 latent channels"):
        autoencoder.decode(torch.zeros(1, 16, 4, 4))


def test_save_load_round_trip_gives_identical_outputs(tmp_path):
    autoencoder = small_kl(16)
    autoencoder.save_pretrained(tmp_path / "ae")
    assert (tmp_path / "ae/diffusion_pytorch_model.safetensors").is_file()
    reloaded_diffusers = AutoencoderKL.from_pretrained(tmp_path / "ae")
    reloaded = load_autoencoder(tmp_path / "ae", expected_channels=16)
    images = torch.rand(2, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        expected = autoencoder.decode(autoencoder.encode(images, sample=False))
        assert torch.equal(reloaded.decode(reloaded.encode(images, sample=False)), expected)
        assert torch.equal(
            reloaded_diffusers.decode(reloaded_diffusers.encode(images).latent_dist.mode()).sample.clamp(-1, 1),
            expected,
        )


def test_tiny_autoencoder_folder_loads(tmp_path):
    small_tiny(4).save_pretrained(tmp_path / "taesd")
    assert isinstance(load_autoencoder(tmp_path / "taesd").model, AutoencoderTiny)


def test_folder_that_is_not_an_autoencoder_is_a_clear_error(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(AutoencoderError, match="not a diffusers autoencoder folder: no config.json"):
        load_autoencoder(empty)
    unet = tmp_path / "unet"
    unet.mkdir()
    (unet / "config.json").write_text(json.dumps({"_class_name": "UNet2DConditionModel"}))
    with pytest.raises(AutoencoderError, match="describes a 'UNet2DConditionModel'"):
        load_autoencoder(unet)
    weightless = tmp_path / "weightless"
    small_kl(4).save_pretrained(weightless)
    (weightless / "diffusion_pytorch_model.safetensors").unlink()
    with pytest.raises(AutoencoderError, match="no weights"):
        load_autoencoder(weightless)


def test_latent_channel_mismatch_with_the_configuration(tmp_path):
    small_kl(4).save_pretrained(tmp_path / "ae")
    with pytest.raises(AutoencoderError, match="has 4 latent channels, but the configuration expects 16"):
        load_autoencoder(tmp_path / "ae", expected_channels=16)


@pytest.mark.parametrize(
    ("preset", "files"),
    [("ostris-kl-f8-d16", "ostris/vae-kl-f8-d16"), ("sd15-vae", "sub-folder 'vae'")],
)
def test_missing_pretrained_preset_says_which_files_go_where(preset, files, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))  # an empty Hugging Face cache
    with pytest.raises(AutoencoderError) as error:
        load_autoencoder(preset)
    message = str(error.value)
    assert "config.json" in message and "diffusion_pytorch_model.safetensors" in message
    assert f"resources/autoencoders/{preset}/" in message and files in message


def test_a_preset_is_found_in_the_local_resources_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    small_kl(16).save_pretrained(tmp_path / "resources/autoencoders/ostris-kl-f8-d16")
    assert load_autoencoder("ostris-kl-f8-d16", expected_channels=16).latent_channels == 16


def test_unknown_source_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(
        AutoencoderError, match=r"neither an existing folder \(no '.*no-such-autoencoder'\), nor a preset"
    ):
        load_autoencoder("no-such-autoencoder")


# -- normaliser -------------------------------------------------------------------------------------------------
@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(-140.0, 140.0), min_size=1, max_size=64), st.sampled_from([0.02, 0.1, 0.5]))
def test_normalizer_round_trip_is_exact(values, scale):
    normalizer = TanhNormalizer(scale=scale)
    latents = torch.tensor(values, dtype=torch.float64)
    latents = latents.clamp(-0.9 * normalizer.max_invertible_magnitude, 0.9 * normalizer.max_invertible_magnitude)
    unit = normalizer.to_unit(latents)
    assert bool(((unit >= 0) & (unit <= 1)).all())
    torch.testing.assert_close(normalizer.from_unit(unit), latents, rtol=1e-9, atol=1e-7)
    torch.testing.assert_close(normalizer.denormalize(normalizer.normalize(latents)), latents, rtol=1e-9, atol=1e-7)


def test_normalizer_float32_round_trip_within_the_paper_range():
    normalizer = TanhNormalizer(scale=0.02)
    latents = torch.linspace(-60, 60, 1001)  # raw latents of the paper's autoencoders stay within tens
    torch.testing.assert_close(normalizer.from_unit(normalizer.to_unit(latents)), latents, rtol=1e-3, atol=1e-3)


def test_normalizer_saturates_instead_of_overflowing():
    normalizer = TanhNormalizer(scale=0.02, eps=1e-6)
    restored = normalizer.from_unit(torch.tensor([0.0, 1.0], dtype=torch.float64))
    assert torch.isfinite(restored).all()
    torch.testing.assert_close(
        restored.abs(), torch.full((2,), normalizer.max_invertible_magnitude, dtype=torch.float64)
    )


def test_normalizer_rejects_bad_parameters():
    with pytest.raises(ConfigError, match="scale must be positive"):
        TanhNormalizer(scale=0.0)
    with pytest.raises(ConfigError, match="eps must be in"):
        TanhNormalizer(eps=1.0)


def test_background_colour_is_computed_from_the_autoencoder():
    normalizer = TanhNormalizer(scale=0.5)
    first, second = small_kl(4, seed=0), small_kl(4, seed=1)
    colour = latent_background(first, normalizer, image_size=32)
    with torch.no_grad():
        expected = normalizer.to_unit(first.encode(torch.ones(1, 3, 32, 32), sample=False)).mean(dim=(0, 2, 3))
    assert colour.shape == (4,)
    torch.testing.assert_close(colour, expected)
    assert bool(((colour > 0) & (colour < 1)).all())
    assert not torch.allclose(colour, latent_background(second, normalizer, image_size=32))  # not hard-coded
