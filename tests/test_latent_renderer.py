"""The latent tri-plane renderer against cases with known answers."""

import dataclasses
import math
from pathlib import Path

import pytest
import torch

from igae.config import load_config
from igae.data.cameras import Intrinsics, look_at_opencv
from igae.triplanes.renderer import camera_rays, importance_depths, ray_march, render_latents
from igae.triplanes.triplane import TinyMLP, TriPlanes, total_variation

PAPER_VOLUME = load_config(Path(__file__).parents[1] / "params.yaml", "paper").igae.rendering  # 48 + 48, [0.5, 2.1]


def march(raw: float, colour: list[float], depths: torch.Tensor):
    samples = depths.shape[0]
    colours = torch.tensor(colour).expand(1, 1, samples, len(colour))
    raw_density = torch.full((1, 1, samples, 1), raw)
    return ray_march(colours, raw_density, depths.view(1, 1, -1, 1))


def test_empty_space_gives_the_background():
    planes, mlp = TriPlanes(1, features=4, resolution=8), TinyMLP(4, 8, channels=3)
    with torch.no_grad():
        mlp.layers[-1].bias[0] = -1e4  # no density anywhere
    background = torch.tensor([0.2, 0.5, 0.9])
    camera = torch.eye(4)[None].clone()
    camera[0, 2, 3] = -1.3
    intrinsics = torch.tensor([[[1.09375, 0, 0.5], [0, 1.09375, 0.5], [0, 0, 1.0]]])
    out = render_latents(planes, mlp, torch.tensor([0]), camera, intrinsics, 4, background, PAPER_VOLUME)
    expected = (background * 2 - 1).view(1, 3, 1, 1).expand(1, 3, 4, 4)
    torch.testing.assert_close(out["latent"], expected)
    assert out["opacity"].max().item() == pytest.approx(0.0, abs=1e-6)


def test_an_opaque_slab_gives_its_colour():
    colour, depth, weights = march(1e4, [0.1, 0.7], torch.linspace(0.5, 2.1, 48))
    torch.testing.assert_close(colour, torch.tensor([[[0.1, 0.7]]]))
    assert float(weights.sum()) == pytest.approx(1.0, abs=1e-6)
    assert float(depth) == pytest.approx(0.5 + 1.6 / 47 / 2, abs=1e-4)  # the first segment's mid-point


@pytest.mark.parametrize("sigma", [0.1, 0.8, 2.5])
def test_transmittance_of_a_homogeneous_medium(sigma):
    raw = math.log(math.expm1(sigma)) + 1  # softplus(raw - 1) = sigma
    _, _, weights = march(raw, [1.0], torch.linspace(0.5, 2.1, 64))
    assert 1 - float(weights.sum()) == pytest.approx(math.exp(-sigma * 1.6), rel=1e-4)


def test_rays_follow_the_opencv_camera():
    eye = torch.tensor([0.0, -1.3, 0.4])
    cam_to_world = torch.as_tensor(look_at_opencv(eye.numpy(), (0.0, 0.0, 0.0)), dtype=torch.float32)[None]
    fx, fy, cx, cy = Intrinsics.from_normalized(1.09375, 2, 2).normalized
    intrinsics = torch.tensor([[[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]]])
    origins, directions = camera_rays(cam_to_world, intrinsics, 2)
    torch.testing.assert_close(origins[0, 0], eye)
    centre = directions[0].mean(dim=0)
    torch.testing.assert_close(centre / centre.norm(), -eye / eye.norm(), atol=1e-5, rtol=0)
    torch.testing.assert_close(directions.norm(dim=-1), torch.ones(1, 4))
    assert directions[0, 0, 2] > directions[0, 2, 2]  # image row 0 (top) looks up (+z world)


def test_importance_depths_follow_the_weights():
    depths = torch.linspace(0.5, 2.1, 17).view(1, 1, -1, 1)
    weights = torch.zeros(1, 1, 16, 1)
    weights[0, 0, 8] = 1.0  # all mass in the segment [1.3, 1.4]
    fine = importance_depths(depths, weights, 200, torch.rand(1, 1, 200, generator=torch.Generator().manual_seed(0)))
    inside = ((fine >= 1.2) & (fine <= 1.5)).float().mean()
    assert float(inside) > 0.7 and bool(((fine >= 0.5) & (fine <= 2.1)).all())


def test_renders_at_any_resolution_from_one_pose():
    torch.manual_seed(0)
    planes, mlp = TriPlanes(2, features=8, resolution=16), TinyMLP(8, 16, channels=4)
    camera = torch.eye(4)[None].clone()
    camera[0, 2, 3] = -1.3
    intrinsics = torch.tensor([[[1.09375, 0, 0.5], [0, 1.09375, 0.5], [0, 0, 1.0]]])
    settings = dataclasses.replace(PAPER_VOLUME, coarse_samples=16, importance_samples=16)
    for resolution in (4, 16):
        out = render_latents(planes, mlp, torch.tensor([1]), camera, intrinsics, resolution, torch.zeros(4), settings)
        assert out["latent"].shape == (1, 4, resolution, resolution)
        assert out["latent"].min() >= -1.01 and out["latent"].max() <= 1.01


def test_total_variation_matches_its_definition():
    tensor = torch.tensor([[0.0, 1.0], [2.0, 4.0]])
    # vertical diffs (2, 3), horizontal diffs (1, 2): TV_{2,2} = (13 + 5) / 4; TV_{2,1} = (sqrt 13 + sqrt 5) / 4
    assert float(total_variation(tensor, 2, 2)) == pytest.approx(18 / 4)
    assert float(total_variation(tensor, 2, 1)) == pytest.approx((math.sqrt(13) + math.sqrt(5)) / 4)
