"""Shared fixtures and helpers: the repository, the project's tools (snakemake, dvc, igae of this venv), params
files on a preset, the micro preset run end to end once per session, the parsed workflow, real meshes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from igae.config import deep_merge

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


class Project:
    """The commands a user runs in a project folder, with this venv's tools first on PATH."""

    bin = BIN
    repo = REPO

    @staticmethod
    def env() -> dict[str, str]:
        return {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}

    @classmethod
    def snakemake(cls, workdir: Path, *args: str) -> subprocess.CompletedProcess:
        """The repository's workflow run in ``workdir`` (which holds the params.yaml)."""
        command = [str(BIN / "snakemake"), "--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir), *args]
        return subprocess.run(command, capture_output=True, text=True, env=cls.env(), timeout=900)

    @classmethod
    def tool(cls, root: Path, *command: str) -> subprocess.CompletedProcess:
        """``dvc`` / ``snakemake`` / ``igae`` of this environment, run in ``root`` as a user would."""
        return subprocess.run([str(BIN / command[0]), *command[1:]], cwd=root, capture_output=True, text=True,
                              env=cls.env(), timeout=1200)  # fmt: skip

    @staticmethod
    def write_params(workdir: Path, preset: str = "tiny", edit: Callable[[dict], None] | None = None,
                     **overrides: dict) -> None:  # fmt: skip
        """The repository's params.yaml in ``workdir`` on ``preset``, with ``overrides`` merged into that preset
        (section name -> changes) and then ``edit`` applied to the whole file."""
        params = yaml.safe_load((REPO / "params.yaml").read_text())
        params["preset"] = preset
        params["presets"][preset] = deep_merge(params["presets"][preset], overrides)
        if edit is not None:
            edit(params)
        workdir.mkdir(parents=True, exist_ok=True)
        (workdir / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))

    @staticmethod
    def git(root: Path, *args: str) -> None:
        subprocess.run(["git", "-c", "user.name=test", "-c", "user.email=test@example.org", *args], cwd=root,
                       check=True, capture_output=True)  # fmt: skip

    @classmethod
    def copy(cls, root: Path) -> Path:
        """The project's files (tracked, and untracked but not ignored) as a fresh git repository at ``root``."""
        listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO, capture_output=True)
        for name in filter(None, listed.stdout.decode().split("\0")):
            if (REPO / name).is_file():
                (root / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(REPO / name, root / name)
        cls.git(root, "init", "-q")
        cls.git(root, "add", "-A")
        cls.git(root, "commit", "-qm", "project")
        return root


@pytest.fixture(scope="session")
def write_pngs() -> Callable:
    """``write_pngs(images, folder)``: uint8 images [N, 3, H, W] saved as ``folder/img_<i>.png``; their paths."""

    def write(images, folder: Path) -> list[Path]:
        paths = [Path(folder) / f"img_{index}.png" for index in range(len(images))]
        for image, path in zip(images, paths, strict=True):
            Image.fromarray(image.permute(1, 2, 0).numpy()).save(path)
        return paths

    return write


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def project() -> type[Project]:
    return Project


@pytest.fixture(scope="session")
def micro_project(tmp_path_factory) -> tuple[Path, str]:
    """A copy of the project on the micro preset, run end to end by ``dvc repro`` (whose stages run the
    Snakemake targets); returns the folder and the run's output. Shared by the per-phase workflow tests."""
    root = Project.copy(tmp_path_factory.mktemp("project"))
    Project.write_params(root, "micro")
    Project.git(root, "commit", "-qam", "micro preset")
    result = Project.tool(root, "dvc", "repro")
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    return root, result.stdout + result.stderr


@pytest.fixture()
def finished_project(micro_project, tmp_path):
    """A copy of the micro project after ``dvc repro`` (its dvc.lock up to date), free to be edited."""
    root, _ = micro_project
    copy = tmp_path / "project"
    shutil.copytree(root, copy, symlinks=True)
    return copy


@pytest.fixture(scope="session")
def workflow_rules():
    """The workflow's rules as Snakemake parses them (tiny preset), for checks of what each rule declares."""
    from snakemake.api import SnakemakeApi
    from snakemake.settings.types import ResourceSettings

    with SnakemakeApi() as api:
        workflow = api.workflow(resource_settings=ResourceSettings(cores=1), snakefile=REPO / "Snakefile", workdir=REPO)
        return list(workflow._workflow.rules)


@pytest.fixture(scope="session")
def pybullet_data() -> Path:
    """The folder of real textured meshes shipped in the pybullet wheel (duck.obj + duckCM.png, ...)."""
    import pybullet_data as data

    return Path(data.getDataPath())


@pytest.fixture()
def paper_assets(tmp_path, monkeypatch, pybullet_data) -> Path:
    """The paper preset's input folders with a few real meshes (2 training, 1 evaluation in category `cake`) and
    an empty ImageNet folder, in ``tmp_path``, which becomes the working directory."""
    for split, names in (("igae_train", ["duck.obj", "cube.obj"]), ("eval/cake", ["bunny.obj"])):
        (tmp_path / "resources/assets" / split).mkdir(parents=True)
        for name in names:
            shutil.copy(pybullet_data / name, tmp_path / "resources/assets" / split / name)
    # pybullet's cube.obj names a cube.mtl that the wheel lacks: give it one (an asset missing it is refused)
    (tmp_path / "resources/assets/igae_train/cube.mtl").write_text("newmtl cube\nKd 0.8 0.3 0.2\n")
    (tmp_path / "resources/imagenet").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _official_scene_set(root: Path, scenes: dict[str, list[str]], views: int = 6) -> Path:
    """A scene set in the official IG-AE data layout: dataset_map.json and square128/<id>/ with OpenCV cameras."""
    from igae.data.cameras import orbit_cameras

    (root / "square128").mkdir(parents=True)
    (root / "dataset_map.json").write_text(json.dumps(scenes))
    for scene_id in (scene for ids in scenes.values() for scene in ids):
        folder = root / "square128" / scene_id
        (folder / "rgb").mkdir(parents=True)
        frames = []
        for index, cam2world in enumerate(orbit_cameras(views, 1.3, np.random.default_rng(0))):
            Image.fromarray(np.full((32, 32, 3), 40 * index, np.uint8)).save(folder / "rgb" / f"{index:05d}.png")
            frames.append({"file_path": f"rgb/{index:05d}.png", "transform_matrix": cam2world.tolist(),
                           "fl_x": 35.0, "fl_y": 35.0, "cx": 16.0, "cy": 16.0, "w": 32, "h": 32})  # fmt: skip
        (folder / "transforms_opencv.json").write_text(json.dumps({"frames": frames}))
    return root


@pytest.fixture(scope="session")
def official_scene_set() -> Callable[..., Path]:
    """Writes a scene set in the official IG-AE data layout (``root``, {category: [scene ids]}) and returns it."""
    return _official_scene_set


@pytest.fixture(scope="session")
def micro_scene(tmp_path_factory) -> Path:
    from nerf_micro import make_micro_scene

    return make_micro_scene(tmp_path_factory.mktemp("scene"))


@pytest.fixture(scope="session")
def micro_autoencoder(tmp_path_factory, micro_scene) -> Path:
    from nerf_micro import make_micro_autoencoder

    return make_micro_autoencoder(tmp_path_factory.mktemp("ae"), micro_scene)
