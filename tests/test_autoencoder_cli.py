"""The autoencoder commands of the ``igae`` command line: clear errors, exit status 2, nothing written."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from igae.commands import main

IGAE = Path(sys.executable).parent / "igae"
PARAMS = str(Path(__file__).parents[1] / "params.yaml")


def test_params_given_as_json_must_hold_the_keys_the_command_reads(tmp_path, capsys):
    common = ["evaluate-autoencoder", "--model", str(tmp_path), "--real-images", str(tmp_path), "--scene-index",
              str(tmp_path / "index.json"), "--out", str(tmp_path / "m.json")]  # fmt: skip
    assert main([*common, "--params", json.dumps({"autoencoder.latent_channels": 16})]) == 2
    assert "this command needs 'autoencoder.evaluation' of params.yaml in --params" in capsys.readouterr().err
    assert main([*common, "--params", json.dumps({"autoencoder.latent_channel": 16})]) == 2
    assert "'autoencoder.latent_channel' is not a key of params.yaml" in capsys.readouterr().err
    assert main([*common, "--params", json.dumps({"autoencoder.normalizer": {"scale": 0.5}})]) == 2
    assert "missing key 'autoencoder.normalizer.eps'" in capsys.readouterr().err
    assert not (tmp_path / "m.json").exists()


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
            "--params",
            PARAMS,
            "--preset",
            "micro",
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
            "--params",
            PARAMS,
        ]
    )
    assert status == 2
    assert f"'{tmp_path / 'nothing' / 'index.json'}' does not exist" in capsys.readouterr().err
    assert not (tmp_path / "ae").exists()


def test_fetching_a_missing_preset_offline_fails_with_instructions(tmp_path, monkeypatch):
    env = {"HF_HOME": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "1", "PATH": str(IGAE.parent)}
    result = subprocess.run(
        [str(IGAE), "fetch-autoencoder", "--out", "ae", "--params", PARAMS, "--preset", "paper"],
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


def test_export_ships_an_autoencoder_in_half_precision_with_its_training_record(tmp_path):
    import torch

    from igae.autoencoders.embedded import build_embedded_autoencoder
    from igae.autoencoders.model import load_autoencoder
    from igae.config import load_config

    architecture = load_config(Path(PARAMS), "micro").autoencoder.embedded.architecture
    torch.manual_seed(0)
    trained = build_embedded_autoencoder(architecture, 4, 32, zero_init_residuals=False).eval()
    trained.save_pretrained(tmp_path / "trained")
    weights = {name: value.clone() for name, value in trained.model.state_dict().items()}
    (tmp_path / "trained/training.json").write_text('{"steps": 4}')
    (tmp_path / "metrics.csv").write_text("step,loss\n1,0.5\n")
    out = tmp_path / "resources/autoencoders/shipped"
    status = main(["export-autoencoder", "--model", str(tmp_path / "trained"), "--out", str(out),
                   "--training-log", str(tmp_path / "metrics.csv")])  # fmt: skip
    assert status == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "config.json", "diffusion_pytorch_model.safetensors", "training.json", "training_metrics.csv"
    ]  # fmt: skip
    full = (tmp_path / "trained/diffusion_pytorch_model.safetensors").stat().st_size
    assert (out / "diffusion_pytorch_model.safetensors").stat().st_size < 0.6 * full
    shipped = load_autoencoder(out, expected_channels=4)
    assert next(shipped.model.parameters()).dtype == torch.float32  # loaded back into float32 parameters
    images = torch.rand(2, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        difference = shipped.decode(shipped.encode(images, sample=False)) - trained.decode(
            trained.encode(images, sample=False)
        )
    assert 0 < difference.abs().max() < 0.05  # rounded to float16, nothing more
    assert next(trained.model.parameters()).dtype == torch.float32  # the exported model is left as it was
    trained.save_pretrained(tmp_path / "half", dtype=torch.float16)  # what export does, here in the same process
    assert all(torch.equal(value, weights[name]) for name, value in trained.model.state_dict().items())
