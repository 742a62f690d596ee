"""Train one NeRF (a method, a target: latent or RGB, a scene) with nerfstudio's Trainer, then evaluate it.

This is what the workflow's ``nerf_*`` rules call (``igae train-nerf``). It builds the method's nerfstudio
config (:func:`igae.nerf.methods.trainer_config`), applies the ``nerf`` section of ``params.yaml`` (step
counts, learning-rate factors, ray batches, per-method model settings), resumes from the run's latest
nerfstudio checkpoint when one exists, trains, and writes one JSON of metrics and timings plus a PNG of every
held-out view (decoded render above ground truth).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import random
import shutil
import time
from pathlib import Path
from typing import Any, Dict, Optional

import numpy as np
import torch
from nerfstudio.engine.trainer import TrainerConfig

from igae.checkpoint import fingerprint
from igae.config.tree import NerfConfig, NormalizerConfig
from igae.errors import ConfigError, IgaeError
from igae.evaluation.lpips_weights import require_lpips_weights
from igae.io_utils import write_json_atomic, write_png_atomic
from igae.nerf.datamanager import check_scene_folder
from igae.nerf.methods import NerfMethod, Target, get_method, trainer_config
from igae.nerf.pipeline import LATENT_SUPERVISION_METRICS, LatentPipeline, mean_and_std, to_uint8
from igae.nerf.trainer import step_checkpoints

log = logging.getLogger(__name__)
RUN_SUBDIR = "nerfstudio"


def build_run_config(
    method: NerfMethod,
    target: Target,
    scene: Path,
    run_dir: Path,
    settings: NerfConfig,
    *,
    autoencoder: Optional[str],
    latent_channels: Optional[int],
    normalizer: NormalizerConfig,
    device: str,
) -> TrainerConfig:
    """The nerfstudio config of one run: the method's defaults with ``settings`` applied."""
    if target == "latent" and autoencoder is None:
        raise ConfigError("a latent run (--target latent) needs an autoencoder")
    config = trainer_config(
        method,
        target,
        latent_supervision_steps=settings.latent_supervision_steps,
        rgb_alignment_steps=settings.rgb_alignment_steps,
        autoencoder=autoencoder,
        decoder_lr=settings.decoder_lr,
        decoder_gamma=settings.decoder_gamma,
        latent_lr_factor=(settings.latent_lr_factor or {}).get(method.name),
    )
    pipeline = config.pipeline
    rgb_rays = settings.rgb_rays_per_batch or {}
    if target == "rgb" and method.name in rgb_rays:
        pipeline.datamanager.rays_per_batch = rgb_rays[method.name]
    pipeline.datamanager.data = scene
    pipeline.datamanager.seed = settings.seed
    pipeline.latent_space.latent_channels = latent_channels if target == "latent" else None
    pipeline.latent_space.normalizer_scale = normalizer.scale
    pipeline.latent_space.normalizer_eps = normalizer.eps
    pipeline.latent_space.posterior = settings.posterior
    pipeline.latent_space.encode_seed = settings.seed
    pipeline.rgb_loss_weight = settings.rgb_loss_weight
    pipeline.latent_loss_in_alignment = settings.latent_loss_in_alignment
    apply_model_overrides(pipeline.model, (settings.model_overrides or {}).get(method.name, {}), method.name)
    if settings.eval_rays_per_chunk and hasattr(pipeline.model, "eval_num_rays_per_chunk"):
        pipeline.model.eval_num_rays_per_chunk = settings.eval_rays_per_chunk
    if device == "cpu" and hasattr(pipeline.model, "implementation"):
        pipeline.model.implementation = "torch"  # nerfstudio's pure-torch hash grid and MLPs (no tiny-cuda-nn)
    config.machine.device_type = "cuda" if device.startswith("cuda") else device
    config.machine.seed = settings.seed
    config.data = scene
    config.output_dir = run_dir
    config.experiment_name = RUN_SUBDIR
    config.timestamp = ""
    config.steps_per_save = settings.checkpoint_every
    config.logging.steps_per_log = settings.log_every
    never = config.max_num_iterations + 1
    config.steps_per_eval_batch = config.steps_per_eval_image = settings.eval_image_every or never
    config.steps_per_eval_all_images = never  # the final evaluation below covers every held-out view
    return config


def apply_model_overrides(model_config: Any, overrides: Dict[str, Any], method: str) -> None:
    """Set model config fields by name, rejecting unknown ones (a typo must not pass silently)."""
    known = {f.name for f in dataclasses.fields(model_config)}
    for name, value in overrides.items():
        if name not in known:
            raise ConfigError(
                f"nerf.model_overrides.{method}.{name}: {type(model_config).__name__} has no field '{name}'"
            )
        current = getattr(model_config, name)
        setattr(model_config, name, tuple(value) if isinstance(current, tuple) else value)


def run_identity(config: TrainerConfig) -> str:
    """What a checkpoint must match to be resumed: the whole run config, and the autoencoder's weights file."""
    settings = dataclasses.asdict(config)
    for name in ("load_dir", "load_step", "load_config", "load_checkpoint"):
        settings.pop(name, None)
    autoencoder = config.pipeline.latent_space.autoencoder
    if autoencoder is not None and Path(autoencoder).is_dir():
        settings["autoencoder_files"] = {
            path.name: [path.stat().st_size, path.stat().st_mtime_ns] for path in sorted(Path(autoencoder).iterdir())
        }
    return fingerprint(settings)


def train_nerf(config: TrainerConfig, threads: Optional[int] = None) -> LatentPipeline:
    """Train (or resume, or just load when complete) the run of ``config``; returns its pipeline.

    Checkpoints of another configuration or autoencoder (``run.json`` differs) are discarded, not resumed.
    """
    if threads:
        torch.set_num_threads(threads)
    seed = config.machine.seed
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    total = config.max_num_iterations
    identity = {"fingerprint": run_identity(config)}
    base_dir = config.get_base_dir()
    marker = base_dir / "run.json"
    if base_dir.exists() and (not marker.is_file() or json.loads(marker.read_text()) != identity):
        log.info("discarding %s: it was trained with other settings", base_dir)
        shutil.rmtree(base_dir)
    if step_checkpoints(config.get_checkpoint_dir()):
        config.load_dir = config.get_checkpoint_dir()  # ResumableTrainer takes the newest that reads
    from nerfstudio.utils import writer

    # nerfstudio's event writers are process-global and each trainer adds its own: a second run in one process
    # (the benchmark, the tests) would also write to the first run's event files, which may be gone by then.
    writer.EVENT_WRITERS.clear()
    trainer = config.setup(local_rank=0, world_size=1)
    # Loads the autoencoder, the scene and the checkpoint (its RNG states too): bad input fails here, before
    # anything is written.
    trainer.setup()
    config.load_dir = None
    config.save_config()
    write_json_atomic(marker, identity)
    config.max_num_iterations = max(total - trainer._start_step, 0)
    if config.max_num_iterations > 0:
        log.info("training steps %d to %d of %d", trainer._start_step + 1, total, total)
        trainer.train()
    config.max_num_iterations = total
    return trainer.pipeline


def evaluate_nerf(pipeline: LatentPipeline, figure_path: Path) -> Dict[str, Any]:
    """Metrics and render time of every held-out view, and a PNG of them (decoded render above ground truth).

    The render time is the mean over the views after the first, whose render also pays one-time allocations
    (a separate warm-up render would cost a whole extra view: 6 s for an RGB nerfacto view on one CPU thread)."""
    per_view, images = pipeline.evaluate_views()
    columns = [torch.cat([view["render"], view["ground_truth"]], dim=0) for view in images]  # [2H, W, 3] each
    write_png_atomic(figure_path, to_uint8(torch.cat(columns, dim=1)))
    mean, std = mean_and_std(per_view)
    timed = [view["render_seconds"] for view in per_view[1:]] or [per_view[0]["render_seconds"]]
    mean["render_seconds"] = sum(timed) / len(timed)
    return {"metrics": mean, "metrics_std": std, "per_view": per_view}


def load_finished_run(run_dir: Path) -> LatentPipeline:
    """The pipeline of a finished run (the folder holding its ``config.yml``) from its newest checkpoint, as
    nerfstudio's ``ns-eval`` / ``ns-render`` load it, in evaluation mode."""
    from nerfstudio.utils.eval_utils import eval_setup

    require_lpips_weights("alex")  # loading a run builds torchmetrics' LPIPS, which would otherwise try a download
    config_path = Path(run_dir) / "config.yml"
    if not config_path.is_file():
        raise IgaeError(f"'{config_path}' does not exist (expected a finished igae train-nerf run)")
    _, pipeline, _, _ = eval_setup(config_path, test_mode="test")
    pipeline.eval()
    return pipeline


@torch.no_grad()
def held_out_latents(run_dir: Path, view: int = 0) -> Dict[str, np.ndarray]:
    """Re-render held-out view ``view`` of a finished latent run (the folder holding its ``config.yml``):
    ``encoded`` [h, w, C] the normalised E(x) it was trained on, ``rendered`` [h, w, C] the NeRF's latent render,
    ``decoded`` [H, W, 3] its decoding and ``ground_truth`` [H, W, 3], all float arrays in [0, 1]."""
    pipeline = load_finished_run(run_dir)
    if not pipeline.latent_space.is_latent:
        raise IgaeError(f"'{run_dir}' is an RGB run: it has no latents")
    views = list(pipeline.datamanager.eval_views())
    if not 0 <= view < len(views):
        raise IgaeError(f"'{run_dir}' has {len(views)} held-out views, not view {view}")
    camera, batch = views[view]
    rendered, decoded = pipeline.render_view(camera, batch["rgb"].shape)
    arrays = {"encoded": batch["image"], "rendered": rendered, "decoded": decoded, "ground_truth": batch["rgb"]}
    return {name: array.float().clamp(0.0, 1.0).cpu().numpy() for name, array in arrays.items()}


def latent_supervision_end(config: TrainerConfig, target: Target, alignment_steps: int) -> Optional[Dict[str, Any]]:
    """Decoded quality at the end of stage 1 (before the decoder is fine-tuned), as recorded during training; None
    for RGB runs and runs without an alignment stage, whose end is stage 1's end."""
    if target != "latent" or alignment_steps == 0:
        return None
    path = config.get_base_dir() / LATENT_SUPERVISION_METRICS
    if not path.is_file():
        raise IgaeError(f"'{path}' is missing: the run's stage-1 evaluation was not recorded; delete the run folder")
    record = json.loads(path.read_text())
    return {"steps": record["steps"], "metrics": record["metrics"], "metrics_std": record["metrics_std"]}


def run_nerf(
    method_name: str,
    target: Target,
    scene: Path,
    run_dir: Path,
    metrics_path: Path,
    figure_path: Path,
    settings: NerfConfig,
    *,
    normalizer: NormalizerConfig,
    autoencoder: Optional[Path] = None,
    latent_channels: Optional[int] = None,
    device: str = "cpu",
    threads: Optional[int] = None,
) -> Dict[str, Any]:
    """Train and evaluate one run; write ``metrics_path`` (JSON) and ``figure_path`` (PNG). Checks every input
    before training starts."""
    try:
        method = get_method(method_name)
    except KeyError as error:
        raise ConfigError(error.args[0]) from None
    if method.needs_cuda and not device.startswith("cuda"):
        raise IgaeError(f"{method.name} cannot run on {device}: {method.needs_cuda}; use a CUDA device")
    require_lpips_weights("alex")  # nerfstudio's models build torchmetrics' LPIPS, which would try a download
    check_scene_folder(scene)
    config = build_run_config(
        method,
        target,
        scene,
        run_dir,
        settings,
        autoencoder=None if autoencoder is None else str(autoencoder),
        latent_channels=latent_channels,
        normalizer=normalizer,
        device=device,
    )
    pipeline = train_nerf(config, threads)
    started = time.perf_counter()
    evaluation = evaluate_nerf(pipeline, figure_path)
    train_seconds = float(pipeline.train_seconds)
    supervision_seconds = train_seconds - float(pipeline.alignment_seconds)
    supervision_steps = settings.latent_supervision_steps if target == "latent" else settings.total_steps
    alignment_steps = settings.rgb_alignment_steps if target == "latent" else 0
    record = {
        "method": method.name,
        "target": target,
        "autoencoder": None if autoencoder is None else str(autoencoder),
        "scene": scene.name,
        "device": str(pipeline.device),
        "threads": torch.get_num_threads(),
        "steps": {
            "total": settings.total_steps,
            "latent_supervision": supervision_steps,
            "rgb_alignment": alignment_steps,
        },
        "rays_per_step": pipeline.datamanager.get_train_rays_per_batch(),
        "train_seconds": train_seconds,
        "train_iterations_per_second": settings.total_steps / train_seconds if train_seconds else None,
        # Stage 1 (the method's own loss in the target space) and stage 2 (render a whole view, decode, RGB loss).
        "seconds_per_step": {
            "latent_supervision": supervision_seconds / supervision_steps if supervision_steps else None,
            "rgb_alignment": (train_seconds - supervision_seconds) / alignment_steps if alignment_steps else None,
        },
        "render_seconds_per_image": evaluation["metrics"].pop("render_seconds"),
        "evaluation_seconds": time.perf_counter() - started,
        **evaluation,
        "latent_supervision_end": latent_supervision_end(config, target, alignment_steps),
        "run_dir": str(config.get_base_dir()),
    }
    write_json_atomic(metrics_path, record)
    log.info(
        "%s %s %s: PSNR %.2f dB, SSIM %.3f, LPIPS %.3f; %.1f s training (%.2f it/s), %.4f s per rendered image",
        target, method.name, scene.name, record["metrics"]["psnr"], record["metrics"]["ssim"],
        record["metrics"]["lpips"], train_seconds, record["train_iterations_per_second"] or 0.0,
        record["render_seconds_per_image"],
    )  # fmt: skip
    return record
