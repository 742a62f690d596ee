import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from igae.data.cameras import (
    Intrinsics,
    fibonacci_sphere,
    look_at_opencv,
    opencv_to_opengl,
    orbit_cameras,
    pixel_rays,
    project_points,
    split_views,
)

K = Intrinsics.from_normalized(1.09375, 128, 128)


def test_paper_intrinsics():
    assert (K.fx, K.cx, K.cy) == (140.0, 64.0, 64.0)
    assert K.normalized == (1.09375, 1.09375, 0.5, 0.5)
    assert K.horizontal_fov_degrees == pytest.approx(49.13, abs=0.01)


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 2**31 - 1))
def test_projected_point_lies_on_the_ray_through_its_pixel(seed):
    rng = np.random.default_rng(seed)
    cam2world = orbit_cameras(1, 1.3, rng)[0]
    points = rng.uniform(-0.5, 0.5, size=(20, 3))
    pixels = project_points(points, cam2world, K)
    origins, directions = pixel_rays(pixels, cam2world, K)
    to_point = points - origins
    along = np.sum(to_point * directions, axis=1)
    assert np.all(along > 0)
    distance_to_ray = np.linalg.norm(to_point - along[:, None] * directions, axis=1)
    assert np.max(distance_to_ray) < 1e-9


def test_pixel_centre_convention():
    cam2world = look_at_opencv(np.array([0.0, -1.3, 0.0]), np.zeros(3))
    # The origin projects on the principal point, the corner between the 4 central pixels.
    np.testing.assert_allclose(project_points(np.zeros((1, 3)), cam2world, K), [[64.0, 64.0]], atol=1e-9)
    # World up (+z) appears upward in the image (smaller row), world +x to the right when looking along +y.
    up, right = project_points(np.array([[0, 0, 0.2], [0.2, 0, 0]]), cam2world, K)
    assert up[1] < 64 and right[0] > 64


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 2**31 - 1))
def test_opencv_opengl_round_trip(seed):
    cam2world = orbit_cameras(1, 1.3, np.random.default_rng(seed))[0]
    gl = opencv_to_opengl(cam2world)
    np.testing.assert_allclose(opencv_to_opengl(gl), cam2world, atol=1e-12)
    # OpenGL cameras look down their -z axis, with +y up: same centre, same viewing direction.
    np.testing.assert_allclose(-gl[:3, 2], cam2world[:3, 2], atol=1e-12)
    np.testing.assert_allclose(gl[:3, 3], cam2world[:3, 3])
    assert np.linalg.det(gl[:3, :3]) == pytest.approx(1.0)


def test_orbit_cameras_look_at_origin_from_the_sphere():
    cams = orbit_cameras(50, 1.3, np.random.default_rng(0))
    np.testing.assert_allclose(np.linalg.norm(cams[:, :3, 3], axis=1), 1.3)
    forward = cams[:, :3, 2]
    np.testing.assert_allclose(np.sum(forward * -cams[:, :3, 3] / 1.3, axis=1), 1.0, atol=1e-12)
    for cam in cams:
        np.testing.assert_allclose(cam[:3, :3].T @ cam[:3, :3], np.eye(3), atol=1e-12)
        assert abs(cam[2, 0]) < 1e-9  # no roll: the image x axis stays horizontal (z-up world)
    assert (cams[:, 2, 3] > 0).any() and (cams[:, 2, 3] < 0).any()  # views above and below


def test_fibonacci_sphere_is_spread():
    points = fibonacci_sphere(200)
    np.testing.assert_allclose(np.linalg.norm(points, axis=1), 1.0)
    assert np.linalg.norm(points.mean(axis=0)) < 0.02
    nearest = np.sort(np.linalg.norm(points[:, None] - points[None], axis=-1), axis=1)[:, 1]
    assert nearest.min() > 0.5 * math.sqrt(4 * math.pi / 200)


def test_look_at_straight_down_is_well_defined():
    cam = look_at_opencv(np.array([0.0, 0.0, 1.3]), np.zeros(3))
    np.testing.assert_allclose(cam[:3, :3].T @ cam[:3, :3], np.eye(3), atol=1e-12)
    np.testing.assert_allclose(cam[:3, 2], [0, 0, -1])


def test_split_is_deterministic_and_spread():
    train, test = split_views(50, 0.1)
    assert test == [0, 12, 24, 37, 49] and len(train) == 45 and not set(train) & set(test)
    assert split_views(50, 0.1) == (train, test)
    assert split_views(10, 0.0) == (list(range(10)), [])
