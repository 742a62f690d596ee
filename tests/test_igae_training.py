"""IG-AE training: which parameters each stage trains, losses on perfect predictions, resume."""

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import skimage.data
import torch

import igae.training.igae as igae
from igae.autoencoders.embedded import build_embedded_autoencoder
from igae.autoencoders.normalizer import TanhNormalizer, latent_background
from igae.config import load_config
from igae.config.tree import LossWeightsConfig, MonitorConfig, TriplaneConfig
from igae.data.cameras import look_at_opencv
from igae.data.image_sets import to_signed
from igae.data.multiview import PosedViews

PARAMS = Path(__file__).parents[1] / "params.yaml"
PAPER = load_config(PARAMS, "paper").igae  # the paper's stage settings and loss weights
MICRO = load_config(PARAMS, "micro")
VOLUME = dataclasses.replace(MICRO.igae.rendering, coarse_samples=8, importance_samples=8)
MODEL = TriplaneConfig(features=8, resolution=16, hidden=16, plane_axes="orthogonal")
PAPER_WEIGHTS = PAPER.train.weights  # 1, 1, 0.1, 0.1, 0.01, 1e-4, 1e-5


def tiny_autoencoder():
    torch.manual_seed(0)
    return build_embedded_autoencoder(MICRO.autoencoder.embedded.architecture, 4, 32)


def posed_views(count: int = 6, scenes: int = 2) -> PosedViews:
    photo = skimage.data.astronaut()
    images = torch.from_numpy(np.stack([photo[i * 40 : i * 40 + 32, 100:132] for i in range(count)]))
    angles = np.linspace(0, 2 * np.pi, count, endpoint=False)
    poses = [look_at_opencv(np.array([1.3 * np.cos(a), 1.3 * np.sin(a), 0.3]), np.zeros(3)) for a in angles]
    intrinsics = torch.tensor([[1.09375, 0, 0.5], [0, 1.09375, 0.5], [0, 0, 1.0]]).expand(count, 3, 3)
    return PosedViews(
        images.permute(0, 3, 1, 2).contiguous(),
        torch.tensor(np.stack(poses), dtype=torch.float32),
        intrinsics.clone(),
        torch.arange(count) % scenes,
        [f"s{i}" for i in range(scenes)],
    )


def objective_for(weights: LossWeightsConfig, autoencoder=None):
    autoencoder = autoencoder or tiny_autoencoder()
    scenes = igae.build_triplane_model(2, autoencoder.latent_channels, MODEL, seed=0)
    normalizer = TanhNormalizer(0.5)
    background = latent_background(autoencoder, normalizer, 32)
    return igae.IgaeObjective(
        autoencoder, scenes, normalizer, VOLUME, background, weights, torch.Generator().manual_seed(0)
    )


def gradients(objective, views, real) -> dict[str, bool]:
    total, _ = objective(views, real)
    total.backward()
    model = objective.autoencoder.model
    has = lambda module: any(p.grad is not None and p.grad.abs().sum() > 0 for p in module.parameters())  # noqa: E731
    return {
        "planes": has(objective.triplanes.planes),
        "mlp": has(objective.triplanes.mlp),
        "encoder": has(model.encoder),
        "decoder": has(model.decoder),
    }


def test_stage_two_gradients_reach_scenes_encoder_and_decoder():
    views = posed_views()
    found = gradients(objective_for(PAPER_WEIGHTS), views.subset(torch.arange(3)), views.images[:2])
    assert found == {"planes": True, "mlp": True, "encoder": True, "decoder": True}


def run_stage(name, stage, work_dir, views=None, autoencoder=None):
    """``train_stage`` on the test views with ``stage`` settings; returns (record, autoencoder, scenes)."""
    views = views or posed_views()
    autoencoder = autoencoder or tiny_autoencoder()
    scenes = igae.build_triplane_model(2, 4, MODEL, seed=0)
    record = igae.train_stage(
        name,
        autoencoder,
        scenes,
        views,
        {"test": views.subset(torch.arange(2))},
        views.images,
        views.images[:2],
        stage=stage,
        monitor=MonitorConfig(scenes=1, views=1, every=2),
        normalizer=TanhNormalizer(0.5),
        volume=VOLUME,
        work_dir=work_dir,
        precision="fp32",
    )
    return record, autoencoder, scenes


def test_stage_one_trains_the_scenes_and_freezes_the_autoencoder(tmp_path):
    """train_stage itself freezes the AE in the warm-up (train_autoencoder: false): its weights do not move and
    carry no gradient, while the tri-planes and the MLP do train."""
    stage = dataclasses.replace(PAPER.warmup, epochs=1, batch_size=3, planes_lr=1e-2, mlp_lr=1e-2, cache_latents=False)
    autoencoder = tiny_autoencoder()
    before = {name: value.clone() for name, value in autoencoder.model.state_dict().items()}
    planes_before = igae.build_triplane_model(2, 4, MODEL, seed=0).planes.planes.detach().clone()
    _, autoencoder, scenes = run_stage("warmup", stage, tmp_path / "work", autoencoder=autoencoder)
    for name, value in autoencoder.model.state_dict().items():
        torch.testing.assert_close(value, before[name], rtol=0, atol=0, msg=name)
    assert all(p.grad is None and not p.requires_grad for p in autoencoder.parameters())
    assert not torch.equal(scenes.planes.planes.detach(), planes_before)


def test_each_loss_is_zero_on_a_perfect_prediction(monkeypatch):
    """Perfect parts: renders equal the normalised encodings, the decoder returns the true images, tri-planes and
    real latents are constant. Every one of the seven terms must then be zero."""
    objective = objective_for(PAPER_WEIGHTS)
    views = posed_views().subset(torch.arange(3))
    real = posed_views().images[3:5]
    # One decoder call per step, on [decoded renders; synthetic reconstructions; real reconstructions].
    truth = torch.cat([to_signed(views.images), to_signed(views.images), to_signed(real)])
    encoded_batches, decoded_batches = [], []

    def encode(images, **_):
        encoded_batches.append(len(images))
        return torch.zeros(len(images), 4, 4, 4)

    def decode(latents, **_):
        decoded_batches.append(len(latents))
        return truth[: len(latents)]

    monkeypatch.setattr(objective.autoencoder, "encode", encode)
    monkeypatch.setattr(objective.autoencoder, "decode", decode)
    monkeypatch.setattr(
        objective, "render", lambda v, r, _planes, **_: objective.normalizer.normalize(torch.zeros(len(v), 4, r, r))
    )
    with torch.no_grad():
        objective.triplanes.planes.planes.fill_(0.3)
    total, terms = objective(views, real)
    assert set(terms) == {f.name for f in dataclasses.fields(LossWeightsConfig)}
    for name, value in terms.items():
        assert value.item() == pytest.approx(0.0, abs=1e-6), name
    assert total.item() == pytest.approx(0.0, abs=1e-6)
    assert encoded_batches == [3 + 2] and decoded_batches == [3 + 3 + 2]  # one pass each, views and real together


def test_joint_autoencoder_passes_match_separate_calls():
    """Encoding (decoding) the step's batches in one call gives each image what a call of its own gives."""
    autoencoder = objective_for(PAPER_WEIGHTS).autoencoder.eval()
    first, second = to_signed(posed_views().images[:3]), to_signed(posed_views().images[3:5])
    with torch.no_grad():
        encode_mean = lambda images: autoencoder.encode(images, sample=False)  # noqa: E731
        together = igae._split_like([first, None, second], encode_mean)
        decoded = igae._split_like([together[2], together[0]], autoencoder.decode)
        separate = [encode_mean(first), encode_mean(second)]
        separate_decoded = [autoencoder.decode(separate[1]), autoencoder.decode(separate[0])]
    assert together[1] is None and igae._split_like([None, None], encode_mean) == [None, None]
    for joint, alone in zip([together[0], together[2], *decoded], [*separate, *separate_decoded]):
        torch.testing.assert_close(joint, alone, rtol=1e-4, atol=1e-5)


def test_empty_scenes_render_the_latent_background():
    objective = objective_for(PAPER_WEIGHTS)
    with torch.no_grad():
        objective.triplanes.mlp.layers[-1].bias[0] = -1e4
    rendered = objective.render(posed_views().subset(torch.arange(2)), 4)
    background = objective.background.view(1, -1, 1, 1) * 2 - 1
    torch.testing.assert_close(rendered, background.expand_as(rendered))


@pytest.mark.slow
def test_a_stage_resumes_after_a_kill_and_continues_the_step_count(tmp_path, monkeypatch):
    views = posed_views()
    stage = dataclasses.replace(PAPER.train, epochs=2, batch_size=2, real_batch_size=1, checkpoint_every=2, log_every=1)

    def run(work):
        record, _, scenes = run_stage("train", stage, work, views=views)
        return record, scenes

    class Killed(Exception):
        pass

    real_save = igae.save_checkpoint

    def die_after_step_four(path, state, **options):
        real_save(path, state, **options)
        if state["step"] == 4:
            raise Killed

    monkeypatch.setattr(igae, "save_checkpoint", die_after_step_four)
    with pytest.raises(Killed):
        run(tmp_path / "work")
    monkeypatch.setattr(igae, "save_checkpoint", real_save)
    record, scenes = run(tmp_path / "work")
    assert record["steps"] == 6 and record["steps_run"] == 2  # 3 steps per epoch; resumed at step 4
    steps = [int(row.split(",")[0]) for row in (tmp_path / "work/metrics.csv").read_text().splitlines()[1:]]
    # the count continues from the checkpoint: each step logged once (plus the monitoring row at the end)
    assert steps == [1, 2, 3, 4, 5, 6, 6]
    _, straight = run(tmp_path / "straight")
    for key, value in straight.state_dict()["planes"].items():
        torch.testing.assert_close(scenes.state_dict()["planes"][key], value, rtol=0, atol=0)


@pytest.mark.parametrize("stage", ["train", "warmup"])
def test_paper_size_step_benchmark_runs_and_prints_figures(stage, tmp_path, capsys, repo):
    import json

    import yaml

    from igae.commands import main

    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["render"]["image_size"] = 32
    params["igae"]["rendering"].update(coarse_samples=4, importance_samples=4)
    params["igae"]["triplanes"].update(resolution=8)
    params["igae"]["train"].update(batch_size=2, real_batch_size=1)
    params["igae"]["warmup"].update(batch_size=2)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    args = ["bench-igae", "--params", str(tmp_path / "params.yaml"), "--scenes", "2", "--steps", "1", "--device", "cpu"]
    args += ["--stage", stage]
    assert main(args) == 0
    figures = json.loads(capsys.readouterr().out)
    assert figures["autoencoder_parameters"] > 50_000_000  # the ostris KL-f8-d16 architecture
    assert figures["steps_per_second"] > 0 and figures["triplane"] == [3, 32, 8, 8]
    assert figures["precision"] == params["igae"]["precision"] and figures["machine"]["cpu_capability"]
    assert figures["stage"] == stage and figures["real_batch_size"] == (1 if stage == "train" else 0)


def test_a_non_finite_loss_stops_the_stage_naming_the_step_and_terms(tmp_path):
    """NaN tri-planes (as NaN poses or a diverged learning rate would leave them): the stage stops at its first
    step, names the loss terms, and writes no checkpoint of the bad state."""
    from igae.checkpoint import NonFiniteLossError

    stage = dataclasses.replace(PAPER.train, epochs=1, batch_size=2, real_batch_size=1, checkpoint_every=1)
    model = igae.build_triplane_model(2, 4, MODEL, seed=0)
    with torch.no_grad():
        model.planes.planes.fill_(float("nan"))
    views = posed_views()
    with pytest.raises(NonFiniteLossError, match=r"IG-AE train: the loss is nan at step 1 \(latent nan, rgb"):
        igae.train_stage(
            "train", tiny_autoencoder(), model, views, {"test": views.subset(torch.arange(2))}, views.images,
            views.images[:2], stage=stage, monitor=MonitorConfig(scenes=1, views=1, every=1),
            normalizer=TanhNormalizer(0.5), volume=VOLUME, work_dir=tmp_path / "work", precision="fp32",
        )  # fmt: skip
    assert not (tmp_path / "work/checkpoint.pt").exists()
