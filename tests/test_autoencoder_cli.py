"""The autoencoder commands of the ``igae`` command line: clear errors, exit status 2, nothing written."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from igae.cli import format_flags, main

IGAE = Path(sys.executable).parent / "igae"


def test_boolean_and_list_flags_round_trip_through_the_parser():
    assert format_flags({"mid_block_attention": False, "bfloat16": True, "block_out_channels": [8, 16]}) == (
        "--no-mid-block-attention --bfloat16 --block-out-channels 8 16"
    )


def test_evaluating_a_folder_that_is_not_an_autoencoder_fails_clearly(tmp_path, capsys):
    (tmp_path / "model").mkdir()
    status = main(
        [
            "evaluate-autoencoder",
            "--model",
            str(tmp_path / "model"),
            "--real-images",
            str(tmp_path),
            "--scene-index",
            str(tmp_path / "index.json"),
            "--out",
            str(tmp_path / "m.json"),
        ]
    )
    assert status == 2
    assert "not a diffusers autoencoder folder: no config.json" in capsys.readouterr().err
    assert not (tmp_path / "m.json").exists()


def test_training_without_a_real_image_set_fails_clearly(tmp_path, capsys):
    status = main(
        [
            "train-autoencoder",
            "--real-images",
            str(tmp_path / "nothing"),
            "--scene-index",
            str(tmp_path / "index.json"),
            "--out",
            str(tmp_path / "ae"),
            "--work-dir",
            str(tmp_path / "w"),
        ]
    )
    assert status == 2
    assert f"'{tmp_path / 'nothing' / 'index.json'}' does not exist" in capsys.readouterr().err
    assert not (tmp_path / "ae").exists()


def test_fetching_a_missing_preset_offline_fails_with_instructions(tmp_path, monkeypatch):
    env = {"HF_HOME": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "1", "PATH": str(IGAE.parent)}
    result = subprocess.run(
        [str(IGAE), "fetch-autoencoder", "--source", "ostris-kl-f8-d16", "--out", "ae"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
    )
    assert result.returncode == 2
    assert "resources/autoencoders/ostris-kl-f8-d16/" in result.stderr and "config.json" in result.stderr
    assert not (tmp_path / "ae").exists()


@pytest.mark.parametrize("channels", [4, 16])
def test_benchmark_prints_figures(channels, tmp_path, capsys, repo):
    import yaml

    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["render"]["image_size"] = 32
    params["autoencoder"]["latent_channels"] = channels
    params["autoencoder"]["embedded"]["architecture"].update(block_out_channels=[8, 8, 16, 16], norm_num_groups=4)
    params["autoencoder"]["embedded"]["training"].update(batch_size=2, crop_size=16)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    assert (
        main(["bench-autoencoder", "--params", str(tmp_path / "params.yaml"), "--repeats", "1", "--device", "cpu"]) == 0
    )
    figures = json.loads(capsys.readouterr().out)
    assert figures["train_steps_per_second"] > 0 and figures["decode_images_per_second"] > 0
