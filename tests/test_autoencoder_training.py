"""The embedded autoencoder's training (loss goes down, resume after a kill) and the AE evaluation outputs."""

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import skimage.data
import torch
from diffusers import AutoencoderKL
from PIL import Image

import igae.autoencoders.embedded as embedded
from igae.autoencoders.evaluation import evaluate_autoencoder
from igae.autoencoders.model import load_autoencoder
from igae.autoencoders.normalizer import TanhNormalizer
from igae.checkpoint import NonFiniteStateError, save_checkpoint
from igae.config import load_config
from igae.config.tree import EmbeddedTrainingConfig

MICRO = load_config(Path(__file__).parents[1] / "params.yaml", "micro").autoencoder.embedded
ARCHITECTURE = MICRO.architecture  # (8, 8, 16, 16), 4 groups, no attention
CHANNELS = 4


def photo_crops(count: int = 12, size: int = 32) -> torch.Tensor:
    """uint8 [count, 3, size, size] crops of a packaged photograph."""
    photo = skimage.data.chelsea()
    crops = [photo[40 + 17 * i : 40 + 17 * i + size, 60 + 23 * i : 60 + 23 * i + size] for i in range(count)]
    return torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).contiguous()


def training(**overrides) -> EmbeddedTrainingConfig:
    values = dict(
        steps=30,
        batch_size=4,
        crop_size=16,
        learning_rate=3e-3,
        warmup_steps=2,
        log_every=5,
        validate_every=15,
        checkpoint_every=10,
    )
    return dataclasses.replace(MICRO.training, **{**values, **overrides})


def train(images, out, settings, work_dir, **extra) -> dict:
    """The micro architecture (4 latent channels) trained on ``images`` with ``settings``."""
    return embedded.train_embedded_autoencoder(
        images, out, architecture=ARCHITECTURE, latent_channels=CHANNELS, training=settings, work_dir=work_dir, **extra
    )


def test_micro_training_lowers_the_loss_and_saves_a_diffusers_folder(tmp_path):
    images = photo_crops()
    torch.manual_seed(0)
    before = embedded.reconstruction_psnr(
        embedded.build_embedded_autoencoder(ARCHITECTURE, CHANNELS, 32).eval(), images
    )
    record = train(images, tmp_path / "ae", training(), tmp_path / "work", validation_images={"heldout": images[:4]})
    after = embedded.reconstruction_psnr(load_autoencoder(tmp_path / "ae"), images)
    assert after > before + 3.0, (before, after)  # the training loss (mostly MSE) went down
    header = (tmp_path / "work/metrics.csv").read_text().splitlines()[0].split(",")
    assert {"step", "loss", "mse", "kl", "lr", "psnr_heldout"} <= set(header)
    assert list((tmp_path / "work/tensorboard").iterdir())
    assert not (tmp_path / "work/checkpoint.pt").exists()  # removed once the model is saved
    model = AutoencoderKL.from_pretrained(tmp_path / "ae")
    assert model.config.latent_channels == 4
    assert json.loads((tmp_path / "ae/training.json").read_text())["steps"] == record["steps"] == 30


def test_training_resumes_after_a_kill_and_ends_where_an_uninterrupted_run_ends(tmp_path, monkeypatch):
    images = photo_crops()
    settings = training(steps=12, checkpoint_every=4, validate_every=100)
    train(images, tmp_path / "straight", settings, tmp_path / "work-straight")

    class Killed(Exception):
        pass

    saves = []
    real_save = embedded.save_checkpoint

    def save_then_die(path, state, **options):
        real_save(path, state, **options)
        saves.append(state["step"])
        if state["step"] == 8:
            raise Killed  # the process dies right after its second checkpoint

    monkeypatch.setattr(embedded, "save_checkpoint", save_then_die)
    with pytest.raises(Killed):
        train(images, tmp_path / "resumed", settings, tmp_path / "work")
    assert saves == [4, 8] and not (tmp_path / "resumed").exists()  # nothing half-written
    monkeypatch.setattr(embedded, "save_checkpoint", real_save)
    newest = tmp_path / "work/checkpoint.pt"
    newest.write_bytes(newest.read_bytes()[:4096])  # the step-8 checkpoint damaged (a disk fault, a cut copy)
    record = train(images, tmp_path / "resumed", settings, tmp_path / "work")
    assert record["resumed_from_step"] == 4  # the previous checkpoint, not a stop until deleted by hand
    assert (tmp_path / "work/checkpoint.pt.corrupt").is_file()
    steps = [int(row.split(",")[0]) for row in (tmp_path / "work/metrics.csv").read_text().splitlines()[1:]]
    assert steps == sorted(set(steps)) and steps[-1] == 12  # no duplicated rows after the resume
    straight = load_autoencoder(tmp_path / "straight").model.state_dict()
    resumed = load_autoencoder(tmp_path / "resumed").model.state_dict()
    for key, value in straight.items():
        torch.testing.assert_close(resumed[key], value, rtol=0, atol=0, msg=key)


def test_checkpoint_of_other_settings_is_not_resumed(tmp_path):
    images = photo_crops()
    work = tmp_path / "work"
    work.mkdir()
    embedded.save_checkpoint(work / "checkpoint.pt", {"fingerprint": "other", "step": 5})
    record = train(images, tmp_path / "ae", training(steps=3), work)
    assert record["resumed_from_step"] == 0


def test_autoencoder_evaluation_writes_json_csv_and_figure(tmp_path, write_pngs):
    images = photo_crops(6)
    paths = write_pngs(images, tmp_path)
    torch.manual_seed(0)
    autoencoder = embedded.build_embedded_autoencoder(ARCHITECTURE, CHANNELS, 32)
    result = evaluate_autoencoder(
        autoencoder,
        {"real": paths[:4], "rendered": paths[4:]},
        tmp_path / "metrics.json",
        normalizer=TanhNormalizer(0.02),
        figure=tmp_path / "grid.png",
    )
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved == json.loads(json.dumps(result))
    assert saved["sets"]["real"]["images"] == 4 and saved["sets"]["rendered"]["images"] == 2
    for name in ("real", "rendered"):
        assert 0 < saved["sets"][name]["psnr"] < 60 and 0 <= saved["sets"][name]["lpips"] <= 1.5
    assert len(saved["latent_background"]) == 4 and saved["posterior"] == "sample"
    assert len((tmp_path / "metrics.csv").read_text().splitlines()) == 7
    assert Image.open(tmp_path / "grid.png").size == (4 * 32, 4 * 32)  # 4 rows: originals, reconstructions x 2


def test_a_diverging_training_stops_at_the_first_non_finite_loss_keeping_its_checkpoint(tmp_path):
    from igae.checkpoint import NonFiniteLossError

    settings = training(steps=6, learning_rate=1e30, warmup_steps=1, checkpoint_every=1, validate_every=100)
    with pytest.raises(NonFiniteLossError, match=r"embedded autoencoder training: the loss is (nan|inf) at step \d"):
        train(photo_crops(), tmp_path / "ae", settings, tmp_path / "work")
    assert (tmp_path / "work/checkpoint.pt").is_file() and not (tmp_path / "ae").exists()


def test_a_state_with_a_nan_is_never_saved(tmp_path):
    state = {"step": 3, "model": {"conv.weight": torch.tensor([1.0, float("nan")])}, "optimizer": {}}
    with pytest.raises(NonFiniteStateError, match=r"checkpoint.pt. at step 3: non-finite values in model.conv.weight"):
        save_checkpoint(tmp_path / "checkpoint.pt", state)
    assert list(tmp_path.iterdir()) == []
