import copy
import subprocess
import sys

import pytest
import yaml

from igae.config import load_params, resolve_params
from igae.errors import ConfigError


@pytest.fixture()
def params(repo):
    return yaml.safe_load((repo / "params.yaml").read_text())


def test_repository_params_are_valid_for_both_presets(params):
    tiny = resolve_params(copy.deepcopy(params))
    assert tiny["preset"] == "tiny" and tiny["scenes"]["igae_train"]["source"] == "procedural"
    paper = resolve_params({**params, "preset": "paper"})
    assert paper["scenes"]["igae_train"] == {
        "source": "assets",
        "asset_dir": "resources/assets/igae_train",
        "count": 500,
        "views": 100,
        "up_axis": "y",
    }
    assert paper["real_images"]["source"] == "folder" and paper["render"]["image_size"] == 128


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda p: p["render"].update(image_sise=128), "unknown key 'render.image_sise'"),
        (lambda p: p["render"].update(image_size="big"), "'render.image_size': 'big' is not of type 'integer'"),
        (lambda p: p["render"].update(image_size=100), "'render.image_size': 100 is not a multiple of 8"),
        (lambda p: p["scenes"]["eval"].update(views=0), "'scenes.eval.views': 0 is less than the minimum of 2"),
        (lambda p: p["render"].pop("focal"), "missing key 'render.focal'"),
        (lambda p: p.update(preset="huge"), "'preset' is 'huge'"),
        (lambda p: p["presets"]["paper"]["render"].update(fov=50), "preset 'paper'"),
        (lambda p: p["scenes"]["procedural"].update(min_parts=9), "min_parts' must not exceed"),
        (lambda p: p["real_images"].update(source="folder"), "'real_images.folder': None is not of type 'string'"),
    ],
)
def test_schema_errors_name_the_key(params, edit, message):
    edit(params)
    with pytest.raises(ConfigError) as error:
        resolve_params(params)
    assert message in str(error.value)


def test_cli_config_reports_errors_with_nonzero_exit(tmp_path, params):
    params["render"]["samples_per_pixel"] = -1
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    result = subprocess.run(
        [sys.executable, "-m", "igae", "config", "--params", str(path)], capture_output=True, text=True
    )
    assert result.returncode == 2
    assert "'render.samples_per_pixel': -1 is less than the minimum of 1" in result.stderr
    with pytest.raises(ConfigError, match="does not exist"):
        load_params(tmp_path / "missing.yaml")
