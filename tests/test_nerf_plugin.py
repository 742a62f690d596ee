"""The latent NeRF nerfstudio plugin: registration, latent data, intrinsics, the two stages, runs, bad input."""

import dataclasses
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from nerfstudio.data.dataparsers.nerfstudio_dataparser import NerfstudioDataParserConfig
from PIL import Image

from igae.autoencoders.model import AutoencoderError, load_autoencoder
from igae.config import params_payload
from igae.errors import ConfigError, IgaeError
from igae.evaluation.image_metrics import psnr
from igae.nerf import catalog
from igae.nerf.catalog import METHOD_NAMES, METHODS, TARGETS, MethodEntry, entry_point_attribute
from igae.nerf.methods import get_method
from igae.nerf.run import build_run_config, run_nerf
from nerf_micro import NORMALIZER, TINY, micro_settings

CPU_METHODS = [name for name in METHOD_NAMES if METHODS[name].needs_cuda is None]
GPU = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (nerfacc / gsplat kernels)")


def pipeline_for(method: str, scene: Path, autoencoder: Path | None, tmp_path: Path, **changes):
    space = "rgb" if autoencoder is None else "latent"
    config = build_run_config(
        get_method(method), space, scene, tmp_path / "run", micro_settings(**changes),
        autoencoder=None if autoencoder is None else str(autoencoder), latent_channels=None, normalizer=NORMALIZER,
        device="cpu",
    )  # fmt: skip
    return config


# -- registration -----------------------------------------------------------------------------------------------
def test_entry_points_register_all_six_latent_methods():
    from nerfstudio.plugins.registry import discover_methods

    methods, descriptions = discover_methods()
    expected = {f"latent-{name}" for name in METHOD_NAMES}
    assert expected == {"latent-vanilla-nerf", "latent-nerfacto", "latent-tensorf", "latent-kplanes",
                        "latent-instant-ngp", "latent-splatfacto"}  # fmt: skip
    assert expected <= set(methods)
    for name in expected:
        assert methods[name].method_name == name
        assert methods[name].pipeline.latent_space.autoencoder == "ostris-kl-f8-d16"  # the paper's AE by default


def test_the_method_table_is_the_one_source_of_names(repo):
    """pyproject's entry points and the schema's method enum are the catalog's names, in its order."""
    import tomllib

    import yaml

    entry_points = tomllib.loads((repo / "pyproject.toml").read_text())["project"]["entry-points"]
    expected = {
        f"{target}-{name}": f"igae.nerf.methods:{entry_point_attribute(name, target)}"
        for name in METHOD_NAMES
        for target in TARGETS
    }
    assert entry_points["nerfstudio.method_configs"] == expected
    schema = yaml.safe_load((repo / "workflow/schemas/params.schema.yaml").read_text())
    assert tuple(schema["$defs"]["nerf_method"]["enum"]) == METHOD_NAMES


def test_a_method_registered_in_the_table_is_planned_and_trains(micro_scene, tmp_path, monkeypatch):
    """What README's "Extending" says: one entry in igae.nerf.catalog.METHODS (here TensoRF's parts under a new
    name) is planned by the workflow, refused on CPU when it needs CUDA, and trained by `igae train-nerf`."""
    from igae.plan import RunPlan

    monkeypatch.setitem(catalog.METHODS, "tensorf-copy", MethodEntry("a copy", "igae.nerf.methods:tensorf_parts"))
    monkeypatch.setitem(catalog.METHODS, "cuda-copy", MethodEntry("", "igae.nerf.methods:tensorf_parts", "a reason"))
    nerf = dataclasses.replace(TINY.nerf, methods=("tensorf-copy", "cuda-copy"), device="cpu")
    videos = dataclasses.replace(TINY.videos, nerf_methods=None)  # film whatever trains
    plan = RunPlan(dataclasses.replace(TINY, nerf=nerf, videos=videos))
    assert plan.nerf_methods == ("tensorf-copy",) and plan.skipped_methods == {"cuda-copy": "a reason"}
    assert "results/metrics/nerf/igae/tensorf-copy/proc-eval-000.json" in plan.nerf_metrics
    record = run_nerf(
        "tensorf-copy", "rgb", micro_scene, tmp_path / "run", tmp_path / "m.json", tmp_path / "v.png",
        micro_settings(rgb_rays_per_batch={"tensorf-copy": 64}), normalizer=NORMALIZER, device="cpu",
    )  # fmt: skip
    assert record["method"] == "tensorf-copy" and np.isfinite(record["metrics"]["psnr"])
    with pytest.raises(IgaeError, match="a reason"):
        run_nerf("cuda-copy", "rgb", micro_scene, tmp_path / "r2", tmp_path / "m2.json", tmp_path / "v2.png",
                 micro_settings(), normalizer=NORMALIZER, device="cpu")  # fmt: skip


def test_ns_train_help_lists_the_latent_methods():
    ns_train = Path(sys.executable).parent / "ns-train"
    result = subprocess.run([str(ns_train), "--help"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    for name in METHOD_NAMES:
        assert f"latent-{name}" in result.stdout


# -- latent data --------------------------------------------------------------------------------------------------
def test_intrinsics_are_scaled_by_exactly_one_over_the_downsampling_factor(micro_scene, micro_autoencoder, tmp_path):
    config = pipeline_for("nerfacto", micro_scene, micro_autoencoder, tmp_path)
    pipeline = config.pipeline.setup(device="cpu", test_mode="val")
    cameras = pipeline.datamanager.train_split.cameras
    full = NerfstudioDataParserConfig(data=micro_scene, downscale_factor=1).setup().get_dataparser_outputs("train")
    transforms = json.loads((micro_scene / "transforms.json").read_text())
    assert transforms["fl_x"] % 8 != 0  # a focal length that flooring would change
    for name in ("fx", "fy", "cx", "cy"):
        torch.testing.assert_close(getattr(cameras, name), getattr(full.cameras, name) / 8, rtol=0, atol=1e-6)
    assert int(cameras.width[0]) == int(cameras.height[0]) == 4
    assert pipeline.datamanager.train_split.targets.shape[1:] == (4, 4, 4)


def test_cached_latents_decode_back_close_to_the_ground_truth(micro_scene, micro_autoencoder, tmp_path):
    config = pipeline_for("nerfacto", micro_scene, micro_autoencoder, tmp_path)
    pipeline = config.pipeline.setup(device="cpu", test_mode="val")
    split = pipeline.datamanager.train_split
    assert 0 < split.targets.min() and split.targets.max() < 1  # normalised latents in (0, 1)
    decoded = pipeline.latent_space.decode(split.targets).clamp(0, 1)  # [N, 32, 32, 3]
    autoencoder = load_autoencoder(micro_autoencoder)
    with torch.no_grad():
        reconstruction = (
            autoencoder.decode(autoencoder.encode(split.rgb.permute(0, 3, 1, 2) * 2 - 1, sample=False)) + 1
        ) / 2
    cached_psnr = psnr(decoded.permute(0, 3, 1, 2), split.rgb.permute(0, 3, 1, 2)).mean()
    direct_psnr = psnr(reconstruction, split.rgb.permute(0, 3, 1, 2)).mean()
    assert cached_psnr > 20.0
    assert cached_psnr > direct_psnr - 1.0  # the cache (a posterior sample, normalised) loses ~nothing


# -- the two stages -----------------------------------------------------------------------------------------------
def test_stage_switch_resets_the_nerf_optimizer_and_starts_training_the_decoder(
    micro_scene, micro_autoencoder, tmp_path
):
    from nerfstudio.engine.callbacks import TrainingCallbackLocation

    config = pipeline_for("nerfacto", micro_scene, micro_autoencoder, tmp_path)
    config.save_config()
    trainer = config.setup(local_rank=0, world_size=1)
    trainer.setup()
    pipeline, optimizers = trainer.pipeline, trainer.optimizers
    decoder_before = [p.detach().clone() for p in pipeline.latent_space.decoder_parameters()]
    fields = optimizers.optimizers["fields"]

    def run_step(step: int) -> None:
        for callback in trainer.callbacks:
            callback.run_callback_at_location(step, TrainingCallbackLocation.BEFORE_TRAIN_ITERATION)
        if step == 2:  # the alignment stage starts here: the reset has just run
            assert len(fields.state) == 0
            assert fields.param_groups[0]["lr"] == pytest.approx(config.optimizers["fields"]["optimizer"].lr)
        trainer.train_iteration(step)
        for callback in trainer.callbacks:
            callback.run_callback_at_location(step, TrainingCallbackLocation.AFTER_TRAIN_ITERATION)

    for step in (0, 1):
        run_step(step)
        assert len(fields.state) > 0  # stage 1 steps the NeRF ...
        assert all(torch.equal(a, b) for a, b in zip(decoder_before, pipeline.latent_space.decoder_parameters()))
    assert fields.param_groups[0]["lr"] < config.optimizers["fields"]["optimizer"].lr  # ... and its schedule
    run_step(2)
    changed = [not torch.equal(a, b) for a, b in zip(decoder_before, pipeline.latent_space.decoder_parameters())]
    assert all(changed)  # stage 2 fine-tunes the decoder
    assert float(pipeline.train_seconds) > 0


@pytest.mark.parametrize("method", CPU_METHODS)
def test_each_cpu_method_trains_both_stages_and_writes_metrics(method, micro_scene, micro_autoencoder, tmp_path):
    record = run_nerf(
        method, "latent", micro_scene, tmp_path / "run", tmp_path / "metrics.json", tmp_path / "views.png",
        micro_settings(), autoencoder=micro_autoencoder, normalizer=NORMALIZER, device="cpu", threads=2,
    )  # fmt: skip
    written = json.loads((tmp_path / "metrics.json").read_text())
    assert written["steps"] == {"total": 3, "latent_supervision": 2, "rgb_alignment": 1}
    for name in ("psnr", "ssim", "lpips", "latent_psnr", "autoencoder_psnr"):
        assert np.isfinite(written["metrics"][name]), name
    assert written["train_seconds"] > 0 and written["render_seconds_per_image"] > 0
    stage1 = written["latent_supervision_end"]  # decoded before the RGB alignment fine-tunes the decoder
    assert stage1["steps"] == 2 and all(np.isfinite(stage1["metrics"][name]) for name in ("psnr", "latent_psnr"))
    assert written["rays_per_step"] == 16  # one whole 4x4 latent view per step
    assert Image.open(tmp_path / "views.png").size == (32, 64)  # one held-out view: render above ground truth
    checkpoints = list(Path(record["run_dir"]).glob("nerfstudio_models/step-*.ckpt"))
    assert [c.name for c in checkpoints] == ["step-000000002.ckpt"]


def test_rgb_baseline_runs_the_same_method_in_rgb_space(micro_scene, tmp_path):
    record = run_nerf(
        "tensorf", "rgb", micro_scene, tmp_path / "run", tmp_path / "metrics.json", tmp_path / "views.png",
        micro_settings(), normalizer=NORMALIZER, device="cpu", threads=2,
    )  # fmt: skip
    assert record["target"] == "rgb" and record["autoencoder"] is None and record["latent_supervision_end"] is None
    assert record["steps"] == {"total": 3, "latent_supervision": 3, "rgb_alignment": 0}
    assert record["rays_per_step"] == 64 and "latent_psnr" not in record["metrics"]


def test_a_finished_run_is_not_retrained_and_a_killed_one_resumes(micro_scene, micro_autoencoder, tmp_path):
    settings = micro_settings(checkpoint_every=1, eval_image_every=1)  # nerfstudio's in-training evaluation too
    arguments = ("nerfacto", "latent", micro_scene, tmp_path / "run", tmp_path / "m.json", tmp_path / "v.png")
    first = run_nerf(*arguments, settings, autoencoder=micro_autoencoder, normalizer=NORMALIZER, device="cpu")
    checkpoint_dir = Path(first["run_dir"]) / "nerfstudio_models"
    kept = ["step-000000001.ckpt", "step-000000002.ckpt"]  # the newest two
    assert sorted(c.name for c in checkpoint_dir.glob("*.ckpt")) == kept
    (checkpoint_dir / "step-000000002.ckpt").write_bytes(b"damaged")  # the newest cannot be read
    second = run_nerf(*arguments, settings, autoencoder=micro_autoencoder, normalizer=NORMALIZER, device="cpu")
    assert sorted(c.name for c in checkpoint_dir.glob("*.ckpt")) == kept  # resumed from step 1, saved step 2 again
    assert (checkpoint_dir / "step-000000002.ckpt.corrupt").read_bytes() == b"damaged"  # kept aside, not resumed
    assert second["train_seconds"] > 0
    # Other settings: the old checkpoints are discarded, not resumed past the new step count.
    shorter = micro_settings(checkpoint_every=1, latent_supervision_steps=1)
    third = run_nerf(*arguments, shorter, autoencoder=micro_autoencoder, normalizer=NORMALIZER, device="cpu")
    assert [c.name for c in checkpoint_dir.glob("*.ckpt")] == ["step-000000001.ckpt"]
    assert third["steps"]["total"] == 2
    # nerfstudio's own tools (ns-eval, ns-viewer) load the run from its config.yml.
    from nerfstudio.utils.eval_utils import eval_setup

    _, pipeline, _, step = eval_setup(Path(third["run_dir"]) / "config.yml")
    assert step == 1 and np.isfinite(pipeline.get_average_eval_image_metrics()["psnr"])


def without_timings(record: dict) -> dict:
    views = [{key: value for key, value in view.items() if key != "render_seconds"} for view in record["per_view"]]
    return {"metrics": record["metrics"], "metrics_std": record["metrics_std"], "per_view": views}


@pytest.mark.parametrize(("method", "target"), [("nerfacto", "latent"), ("tensorf", "rgb")])
def test_a_resumed_run_reproduces_the_uninterrupted_one_bit_for_bit(method, target, micro_scene, micro_autoencoder,
                                                                    tmp_path):  # fmt: skip
    """Killed after its step-3 checkpoint and resumed, a run ends with the same metrics, to the last bit, as one
    never interrupted: the checkpoint holds the random-number generators the samplers draw from."""
    settings = micro_settings(latent_supervision_steps=6, rgb_alignment_steps=1, checkpoint_every=3)
    arguments = (method, target, micro_scene, tmp_path / "run", tmp_path / "m.json", tmp_path / "v.png")
    options = dict(autoencoder=micro_autoencoder if target == "latent" else None, normalizer=NORMALIZER, device="cpu")
    whole = run_nerf(*arguments, settings, **options)
    checkpoint_dir = Path(whole["run_dir"]) / "nerfstudio_models"
    newest = max(checkpoint_dir.glob("step-*.ckpt"))
    assert [path.name for path in sorted(checkpoint_dir.glob("step-*.ckpt"))] == ["step-000000003.ckpt", newest.name]
    newest.unlink()  # what a kill after the step-3 checkpoint leaves
    resumed = run_nerf(*arguments, settings, **options)
    assert without_timings(resumed) == without_timings(whole)


# -- bad input ----------------------------------------------------------------------------------------------------
def igae_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "igae", *args], capture_output=True, text=True, timeout=300)


def test_bad_inputs_fail_with_a_clear_error_before_training(micro_scene, micro_autoencoder, tmp_path):
    nerf = dataclasses.replace(micro_settings(latent_supervision_steps=1), device="cpu")
    params = params_payload(dataclasses.replace(TINY, nerf=nerf), ["nerf", "autoencoder.normalizer"])
    params = json.dumps({**json.loads(params), "autoencoder.latent_channels": 4})
    common = ["--run-dir", str(tmp_path / "run"), "--metrics", str(tmp_path / "m.json"),
              "--figure", str(tmp_path / "f.png"), "--params", params]  # fmt: skip
    cases = {
        "unknown NeRF method 'nerfactoo'": ["--method", "nerfactoo", "--target", "rgb", "--scene", str(micro_scene)],
        "transforms.json does not exist": ["--method", "nerfacto", "--target", "rgb", "--scene", str(tmp_path)],
        "no config.json": ["--method", "nerfacto", "--target", "latent", "--scene", str(micro_scene),
                           "--autoencoder", str(tmp_path)],
    }  # fmt: skip
    odd = tmp_path / "odd"
    shutil.copytree(micro_scene, odd)
    for path in (odd / "images").iterdir():
        Image.open(path).resize((36, 36)).save(path)
    transforms = json.loads((odd / "transforms.json").read_text())
    (odd / "transforms.json").write_text(json.dumps({**transforms, "w": 36, "h": 36}))
    cases["multiples of 8"] = ["--method", "nerfacto", "--target", "latent", "--scene", str(odd),
                               "--autoencoder", str(micro_autoencoder)]  # fmt: skip
    for needle, args in cases.items():
        result = igae_cli("train-nerf", *args, *common)
        assert result.returncode == 2, (needle, result.stderr[-3000:])
        assert needle in result.stderr, (needle, result.stderr[-3000:])
    assert not (tmp_path / "m.json").exists() and not (tmp_path / "run").exists()


def test_unknown_model_override_names_the_parameter(micro_scene, tmp_path):
    with pytest.raises(ConfigError, match="nerf.model_overrides.nerfacto.num_levelz"):
        pipeline_for("nerfacto", micro_scene, None, tmp_path, model_overrides={"nerfacto": {"num_levelz": 4}})


def test_cuda_only_methods_are_refused_on_cpu_with_the_reason(micro_scene, tmp_path):
    for method in ("instant-ngp", "splatfacto"):
        with pytest.raises(IgaeError, match="CUDA kernels only"):
            run_nerf(method, "rgb", micro_scene, tmp_path / "r", tmp_path / "m.json", tmp_path / "f.png",
                     micro_settings(), normalizer=NORMALIZER, device="cpu")  # fmt: skip


def test_a_missing_autoencoder_folder_is_an_autoencoder_error(tmp_path):
    with pytest.raises(AutoencoderError):
        load_autoencoder(tmp_path / "missing")


# -- GPU ----------------------------------------------------------------------------------------------------------
@GPU
@pytest.mark.gpu
@pytest.mark.parametrize("method", METHOD_NAMES)
def test_every_method_trains_on_cuda(method, micro_scene, micro_autoencoder, tmp_path):
    record = run_nerf(
        method, "latent", micro_scene, tmp_path / "run", tmp_path / "m.json", tmp_path / "f.png",
        micro_settings(latent_supervision_steps=20, rgb_alignment_steps=5), autoencoder=micro_autoencoder,
        normalizer=NORMALIZER, device="cuda",
    )  # fmt: skip
    assert np.isfinite(record["metrics"]["psnr"])


def test_benchmark_reports_latent_over_rgb_ratios_at_both_ray_budgets(micro_scene, micro_autoencoder):
    from igae.benchmark import format_report, nerf_speed_ratios
    from igae.hardware import machine_description
    from igae.nerf.bench import benchmark_nerf_methods

    rows = benchmark_nerf_methods(
        ["tensorf"], micro_scene, micro_autoencoder, micro_settings(), steps=2, alignment_steps=1,
        normalizer=NORMALIZER, latent_channels=4, device="cpu",
    )  # fmt: skip
    assert [(row["target"], row["rgb_budget"]) for row in rows] == [
        ("latent", "-"), ("rgb", "equal-rays"), ("rgb", "nerfstudio-default")
    ]  # fmt: skip
    latent, equal, default = rows
    assert equal["rays_per_step"] == latent["rays_per_step"] and default["rays_per_step"] == 4096  # TensoRF's batch
    assert all(row["iterations_per_second"] > 0 and np.isfinite(row["psnr"]) for row in rows)
    assert latent["seconds_per_step"]["rgb_alignment"] > 0 and equal["seconds_per_step"]["rgb_alignment"] is None
    ratios = nerf_speed_ratios(rows)
    assert [ratio["rgb_budget"] for ratio in ratios] == ["equal-rays", "nerfstudio-default"]
    for ratio, rgb in zip(ratios, [equal, default]):
        assert ratio["step_time_ratio"] == pytest.approx(rgb["iterations_per_second"] / latent["iterations_per_second"])
        assert ratio["render_time_ratio"] == pytest.approx(
            latent["render_seconds_per_image"] / rgb["render_seconds_per_image"]
        )
    report = format_report(machine_description("cpu"), rows, ratios, None)
    assert report.count("| tensorf |") == 5 and report.startswith("machine: cpu | CPU ")
