"""The latent NeRF pipeline: latent supervision, then RGB alignment through a fine-tuned decoder.

Stage 1 (steps < ``alignment_start``): the method's own losses on the cached target images, i.e. on
normalised latents (or on RGB for the baselines). Stage 2 (``alignment_start`` onwards, latent space only):
one whole training view is rendered at latent resolution, decoded, and ``rgb_loss_weight * MSE`` against the
full-resolution RGB image trains the NeRF and the autoencoder's decoder together; the method's latent loss is
off unless ``latent_loss_in_alignment`` is set. At the switch every optimizer and scheduler is reset to its
initial state (latent-nerfstudio resets the NeRF's; the decoder's has never stepped), so the NeRF's learning
rate schedule restarts, as in the paper's code.

The pipeline also owns the evaluation every run shares, latent and RGB alike (:meth:`LatentPipeline.render_view`,
:meth:`LatentPipeline.evaluate_view`), and counts pure training time (the iterations only, no evaluation,
logging or checkpoints) in a buffer saved with every checkpoint, so a resumed run reports the total.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Literal, Optional, Tuple, Type

import numpy as np
import torch
import torch.nn.functional as F
from jaxtyping import Float
from nerfstudio.cameras.cameras import Cameras
from nerfstudio.engine.callbacks import TrainingCallback, TrainingCallbackAttributes, TrainingCallbackLocation
from nerfstudio.engine.optimizers import Optimizers
from nerfstudio.engine.schedulers import Scheduler, SchedulerConfig
from nerfstudio.models.base_model import ModelConfig
from nerfstudio.pipelines.base_pipeline import Pipeline, VanillaPipelineConfig
from torch import Tensor
from torch.cuda.amp.grad_scaler import GradScaler
from torch.nn import Parameter
from torch.optim import Optimizer, lr_scheduler

from igae.evaluation.image_metrics import ImageMetrics, psnr
from igae.io_utils import write_json_atomic, write_png_atomic
from igae.monitor import format_duration
from igae.nerf.datamanager import LatentDataManagerConfig
from igae.nerf.latent_space import LatentSpace, LatentSpaceConfig
from igae.nerf.models import RENDER_KEYS, ChannelOutputConfig

# nerfstudio's learning-rate schedules return numpy floats, which end up in every checkpoint; torch >= 2.6 loads
# checkpoints with weights_only=True by default, so resuming, ns-eval, ns-viewer and --load-dir would refuse them.
# These are plain numeric types, safe to allow. (Here, where every path that loads a pipeline passes, rather than
# in the package's __init__, so that igae.nerf.catalog stays importable without torch.)
torch.serialization.add_safe_globals([np._core.multiarray.scalar, np.dtype, np.dtypes.Float64DType])

log = logging.getLogger(__name__)

DECODER_GROUP = "autoencoder_decoder"


@dataclass
class ExponentialSchedulerConfig(SchedulerConfig):
    """lr = lr_init * gamma^k after k steps (torch ExponentialLR): latent-nerfstudio's decoder schedule."""

    _target: Type = field(default_factory=lambda: ExponentialScheduler)
    gamma: float = 0.99969


class ExponentialScheduler(Scheduler):
    config: ExponentialSchedulerConfig

    def get_scheduler(self, optimizer: Optimizer, lr_init: float) -> lr_scheduler.LRScheduler:
        return lr_scheduler.ExponentialLR(optimizer, gamma=self.config.gamma)


@dataclass
class LatentPipelineConfig(VanillaPipelineConfig):
    _target: Type = field(default_factory=lambda: LatentPipeline)
    datamanager: LatentDataManagerConfig = field(default_factory=LatentDataManagerConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    latent_space: LatentSpaceConfig = field(default_factory=LatentSpaceConfig)
    alignment_start: int = 10000
    """First step of stage 2 (RGB alignment). A value >= the step count trains stage 1 only."""
    rgb_loss_weight: float = 0.01
    """Weight of the decoded-render RGB MSE in stage 2 (latent-nerfstudio's loss_d_factor)."""
    latent_loss_in_alignment: bool = False
    """Keep the method's latent loss on in stage 2 (the paper's code turns it off)."""


class LatentPipeline(Pipeline):
    """See the module docstring."""

    config: LatentPipelineConfig

    def __init__(
        self,
        config: LatentPipelineConfig,
        device: str,
        test_mode: Literal["test", "val", "inference"] = "val",
        world_size: int = 1,
        local_rank: int = 0,
        grad_scaler: Optional[GradScaler] = None,
    ):
        super().__init__()
        if world_size > 1:
            raise NotImplementedError("the latent pipeline trains on one device (world_size 1)")
        if not isinstance(config.model, ChannelOutputConfig):
            raise TypeError(f"{type(config.model).__name__} is not a channel model config of igae.nerf")
        self.config = config
        self.test_mode = test_mode
        self.world_size = world_size
        self.latent_space = LatentSpace(config.latent_space, device)
        self.datamanager = config.datamanager.setup(
            device=device, test_mode=test_mode, world_size=world_size, local_rank=local_rank,
            latent_space=self.latent_space,
        )  # fmt: skip
        image_height = int(self.datamanager.train_dataset.cameras.height[0])
        config.model.output_channels = self.latent_space.channels
        config.model.background = self.latent_space.background(image_height)
        self._model = config.model.setup(
            scene_box=self.datamanager.train_dataset.scene_box,
            num_train_data=len(self.datamanager.train_dataset),
            metadata=self.datamanager.train_dataset.metadata,
            device=device,
            grad_scaler=grad_scaler,
            seed_points=None,
        )
        self.model.to(device)
        self.latent_space.to(device)
        if self.latent_space.is_latent:  # nerfstudio's viewer and ns-render then show the decoded image
            self.model.attach_decoder(self.latent_space.decode, self.latent_space.downsampling_factor)
        self.register_buffer("train_seconds", torch.zeros((), dtype=torch.float64))
        self.register_buffer("alignment_seconds", torch.zeros((), dtype=torch.float64))  # stage 2's share
        self.last_losses: Dict[str, Tensor] = {}  # of the latest training step, for the progress log
        self._image_metrics: List[ImageMetrics] = []  # built on first use; a list keeps it out of checkpoints

    @property
    def device(self) -> torch.device:
        return self.model.device

    # -- training ---------------------------------------------------------------------------------------------
    def aligning(self, step: int) -> bool:
        """Whether ``step`` belongs to stage 2 (RGB alignment)."""
        return self.latent_space.is_latent and step >= self.config.alignment_start

    def get_train_loss_dict(self, step: int):
        aligning = self.aligning(step)
        self.latent_space.set_decoder_trainable(aligning)
        if not aligning:
            inputs, batch = self.datamanager.next_train(step)
            outputs = self._model(inputs)
            metrics = self.model.get_metrics_dict(outputs, batch)
            losses = self.model.get_loss_dict(outputs, batch, metrics)
            metrics["stage"] = 1
            self.last_losses = losses
            return outputs, losses, metrics

        inputs, batch = self.datamanager.next_train_view(step)
        outputs = self._model(inputs)
        rendered = self.rendered_view(outputs, batch["rgb"].shape)  # [h, w, C]
        decoded = self.latent_space.decode(rendered[None])[0]  # [H, W, 3]
        losses = {"rgb_alignment": self.config.rgb_loss_weight * F.mse_loss(decoded, batch["rgb"])}
        metrics = {"stage": 2, "rgb_psnr": psnr(_chw(decoded.detach().clamp(0, 1)), _chw(batch["rgb"]))[0]}
        if self.config.latent_loss_in_alignment:
            metrics.update(self.model.get_metrics_dict(outputs, batch))
            losses.update(self.model.get_loss_dict(outputs, batch, metrics))
        self.last_losses = losses
        return outputs, losses, metrics

    def rendered_view(self, outputs: Dict[str, Tensor], rgb_shape: torch.Size) -> Float[Tensor, "h w C"]:
        """The model's rendered target image, reshaped to the latent grid of an RGB image of ``rgb_shape``."""
        key = next(key for key in RENDER_KEYS if key in outputs)
        factor = self.latent_space.downsampling_factor
        return outputs[key].reshape(rgb_shape[0] // factor, rgb_shape[1] // factor, -1)

    def get_param_groups(self) -> Dict[str, List[Parameter]]:
        groups = {**self.datamanager.get_param_groups(), **self.model.get_param_groups()}
        if self.latent_space.is_latent:
            groups[DECODER_GROUP] = self.latent_space.decoder_parameters()
        return groups

    def get_training_callbacks(self, attributes: TrainingCallbackAttributes) -> List[TrainingCallback]:
        callbacks = self.datamanager.get_training_callbacks(attributes) + self.model.get_training_callbacks(attributes)
        timer = IterationTimer(self.train_seconds, self.device, self.alignment_seconds, self.aligning)
        callbacks += [
            TrainingCallback([TrainingCallbackLocation.BEFORE_TRAIN_ITERATION], timer.start),
            TrainingCallback([TrainingCallbackLocation.AFTER_TRAIN_ITERATION], timer.stop),
        ]
        if attributes.trainer is not None:
            trainer = attributes.trainer
            config = trainer.config
            progress = ProgressLog(self, total_steps=lambda: trainer._start_step + trainer.config.max_num_iterations)
            callbacks.append(
                TrainingCallback(
                    [TrainingCallbackLocation.AFTER_TRAIN_ITERATION],
                    progress.log,
                    update_every_num_iters=config.logging.steps_per_log,
                )
            )
        if self.latent_space.is_latent and attributes.optimizers is not None:
            optimizers = attributes.optimizers
            callbacks.append(
                TrainingCallback(
                    [TrainingCallbackLocation.BEFORE_TRAIN_ITERATION],
                    lambda step: reset_optimizers(optimizers),
                    iters=(self.config.alignment_start,),
                )
            )
        if self.latent_space.is_latent and attributes.trainer is not None:
            record = attributes.trainer.base_dir / LATENT_SUPERVISION_METRICS
            callbacks.append(
                TrainingCallback(
                    [TrainingCallbackLocation.AFTER_TRAIN_ITERATION],  # after the timer stops: not training time
                    lambda step: self.record_latent_supervision_end(record, step),
                    iters=(self.config.alignment_start - 1,),
                )
            )
        return callbacks

    def record_latent_supervision_end(self, path: Path, step: int) -> None:
        """Write the decoded quality of every held-out view at the end of stage 1, before the RGB alignment
        fine-tunes the decoder (JSON at ``path``: step, mean and std over views, per view). The random-number
        generators are left as they were, so the run goes on exactly as without this evaluation."""
        devices = [self.device] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            per_view, _ = self.evaluate_views()
        mean, std = mean_and_std(per_view)
        mean.pop("render_seconds", None)
        std.pop("render_seconds", None)
        write_json_atomic(path, {"steps": step + 1, "metrics": mean, "metrics_std": std, "per_view": per_view})

    # -- evaluation -------------------------------------------------------------------------------------------
    @torch.no_grad()
    def render_view(
        self, camera: Cameras, rgb_shape: torch.Size
    ) -> Tuple[Float[Tensor, "h w C"], Float[Tensor, "H W 3"]]:
        """Render one camera at target resolution and decode it: (target image, RGB in [0, 1])."""
        outputs = self.model.get_target_outputs_for_camera(camera)
        rendered = self.rendered_view(outputs, rgb_shape)
        return rendered, self.latent_space.decode(rendered[None])[0].clamp(0.0, 1.0)

    @torch.no_grad()
    def evaluate_view(self, camera: Cameras, batch: Dict[str, Any]) -> Tuple[Dict[str, float], Dict[str, Tensor]]:
        """Metrics of one held-out view: decoded render vs RGB (psnr, ssim, lpips), target-space PSNR, the
        autoencoder ceiling (RGB vs decode(encode(RGB)) with the current decoder), and the seconds taken to
        render and decode the view."""
        if not self._image_metrics:
            self._image_metrics.append(ImageMetrics().to(self.device))
        timer = IterationTimer(torch.zeros((), dtype=torch.float64), self.device)
        timer.start(0)
        rendered, decoded = self.render_view(camera, batch["rgb"].shape)
        timer.stop(0)
        ground_truth = batch["rgb"]
        values = self._image_metrics[0](_chw(decoded), _chw(ground_truth))
        metrics = {name: float(value[0]) for name, value in values.items()}
        metrics["render_seconds"] = float(timer.total)
        images = {"render": decoded, "ground_truth": ground_truth}
        if self.latent_space.is_latent:
            metrics["latent_psnr"] = float(psnr(_chw(rendered.clamp(0, 1)), _chw(batch["image"]))[0])
            ceiling = self.latent_space.decode(batch["image"][None])[0].clamp(0.0, 1.0)
            metrics["autoencoder_psnr"] = float(psnr(_chw(ceiling), _chw(ground_truth))[0])
            images["autoencoder"] = ceiling
        return metrics, images

    def get_eval_loss_dict(self, step: int):
        self.eval()
        inputs, batch = self.datamanager.next_eval(step)
        outputs = self.model(inputs)
        metrics = self.model.get_metrics_dict(outputs, batch)
        losses = self.model.get_loss_dict(outputs, batch, metrics)
        self.train()
        return outputs, losses, metrics

    def get_eval_image_metrics_and_images(self, step: int):
        self.eval()
        camera, batch = self.datamanager.next_eval_image(step)
        metrics, images = self.evaluate_view(camera, batch)
        metrics["num_rays"] = int(camera.height * camera.width)  # the trainer's rendering-speed log reads it
        self.train()
        return metrics, images

    def evaluate_views(self) -> Tuple[List[Dict[str, float]], List[Dict[str, Tensor]]]:
        """:meth:`evaluate_view` of every held-out view: (metrics, images) per view, in view order."""
        self.eval()
        results = [self.evaluate_view(camera, batch) for camera, batch in self.datamanager.eval_views()]
        self.train()
        return [metrics for metrics, _ in results], [images for _, images in results]

    def get_average_eval_image_metrics(
        self, step: Optional[int] = None, output_path: Optional[Path] = None, get_std: bool = False
    ) -> Dict[str, float]:
        per_view, images = self.evaluate_views()
        if output_path is not None:
            for index, view_images in enumerate(images):
                for name, image in view_images.items():
                    write_png_atomic(output_path / f"eval_{index:04d}_{name}.png", to_uint8(image))
        mean, std = mean_and_std(per_view)
        return {**mean, **({f"{name}_std": value for name, value in std.items()} if get_std else {})}

    def load_pipeline(self, loaded_state: Dict[str, Any], step: int) -> None:
        self.model.update_to_step(step)
        self.load_state_dict(loaded_state)


#: The run folder's record of decoded quality at the end of latent supervision (stage 1).
LATENT_SUPERVISION_METRICS = "latent_supervision_end.json"


class IterationTimer:
    """Adds the wall time of each training iteration to a tensor (synchronising CUDA so the time is real), and
    that of the iterations ``in_part(step)`` says are in a part (stage 2) to a second one, when given."""

    def __init__(
        self,
        total: Tensor,
        device: torch.device,
        part: Optional[Tensor] = None,
        in_part: Optional[Callable[[int], bool]] = None,
    ):
        self.total, self.part, self.in_part = total, part, in_part
        self.cuda = torch.device(device).type == "cuda"
        self.started = 0.0

    def _now(self) -> float:
        if self.cuda:
            torch.cuda.synchronize()
        return time.perf_counter()

    def start(self, step: int) -> None:
        self.started = self._now()

    def stop(self, step: int) -> None:
        seconds = self._now() - self.started
        self.total += seconds
        if self.part is not None and self.in_part is not None and self.in_part(step):
            self.part += seconds


class ProgressLog:
    """A log line every few steps: step, stage, losses, iterations/s (training time only) and ETA."""

    def __init__(self, pipeline: LatentPipeline, total_steps: Callable[[], int]):
        self.pipeline = pipeline
        self.total_steps = total_steps  # read at each line: a resumed run sets its remaining steps after setup
        self.first: Optional[Tuple[int, float]] = None  # (step, training seconds) when logging started

    def log(self, step: int) -> None:
        seconds = float(self.pipeline.train_seconds)
        if self.first is None:
            self.first = (step, seconds)
        done, spent = step - self.first[0], seconds - self.first[1]
        rate = done / spent if done > 0 and spent > 0 else 0.0
        total = self.total_steps()
        eta = format_duration((total - step - 1) / rate) if rate > 0 else "?"
        losses = ", ".join(f"{name} {float(value.detach()):.4g}" for name, value in self.pipeline.last_losses.items())
        stage = 2 if self.pipeline.aligning(step) else 1
        log.info("step %d/%d stage %d | %s | %.2f it/s | ETA %s", step + 1, total, stage, losses, rate, eta)


def reset_optimizers(optimizers: Optimizers) -> None:
    """Every optimizer and scheduler back to its initial state (moments cleared, schedules restarted)."""
    for name, optimizer in optimizers.optimizers.items():
        optimizer.state = defaultdict(dict)
        for group in optimizer.param_groups:
            group["lr"] = group.get("initial_lr", group["lr"])
        scheduler_config = optimizers.config[name].get("scheduler")
        if scheduler_config is not None:
            lr_init = optimizers.config[name]["optimizer"].lr
            optimizers.schedulers[name] = scheduler_config.setup().get_scheduler(optimizer=optimizer, lr_init=lr_init)


def mean_and_std(per_view: List[Dict[str, float]]) -> Tuple[Dict[str, float], Dict[str, float]]:
    """Mean and (population) standard deviation of each metric over views."""
    mean, std = {}, {}
    for name in per_view[0]:
        spread, centre = torch.std_mean(
            torch.tensor([view[name] for view in per_view], dtype=torch.float64), correction=0
        )
        mean[name], std[name] = float(centre), float(spread)
    return mean, std


def to_uint8(image: Float[Tensor, "H W C"]) -> np.ndarray:
    """An image in [0, 1] as uint8 [H, W, C] on the CPU (for PNG files)."""
    return (image.clamp(0, 1) * 255).round().byte().cpu().numpy()


def _chw(image: Float[Tensor, "H W C"]) -> Float[Tensor, "1 C H W"]:
    return image.permute(2, 0, 1)[None].float()
