"""The plugin's nerfstudio trainer: checkpoints that a killed run resumes from bit for bit, and that survive a
damaged file or a full disk.

nerfstudio's ``Trainer`` saves the pipeline, optimisers, schedulers and gradient scaler, but not the random-number
generators its models draw from (ray-sample jitter, proposal sampling), and reseeds at start: a resumed run then
draws other numbers than the uninterrupted one and ends elsewhere. It also writes each checkpoint in place
(a kill or a full disk leaves a partial file) and keeps only the newest. :class:`ResumableTrainer` saves through
:func:`igae.checkpoint.save_checkpoint` (atomic, with the RNG states, refusing non-finite values, an
:class:`~igae.io_utils.OutputWriteError` naming the file when the disk is full), keeps the newest
``keep_checkpoints`` and, resuming, takes the newest one that reads, moving a damaged one aside. A step whose loss
is not finite stops the run (:func:`igae.checkpoint.check_finite_loss`) before anything of it is saved.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Type

from nerfstudio.engine.trainer import Trainer, TrainerConfig
from nerfstudio.utils.decorators import check_main_thread

from igae.checkpoint import check_finite_loss, read_checkpoint, restore_rng_state, save_checkpoint

log = logging.getLogger(__name__)


def step_checkpoints(checkpoint_dir: Path) -> List[Path]:
    """nerfstudio's ``step-<step>.ckpt`` files of ``checkpoint_dir``, newest first."""
    return sorted(Path(checkpoint_dir).glob("step-*.ckpt"), reverse=True)


class ResumableTrainer(Trainer):
    config: "ResumableTrainerConfig"

    def train_iteration(self, step: int):
        """nerfstudio's step, stopped with the loss terms when the loss is not finite (no checkpoint follows)."""
        loss, loss_dict, metrics_dict = super().train_iteration(step)
        check_finite_loss(f"NeRF {self.config.method_name}", step + 1, loss, loss_dict)
        return loss, loss_dict, metrics_dict

    @check_main_thread
    def save_checkpoint(self, step: int) -> None:
        path = self.checkpoint_dir / f"step-{step:09d}.ckpt"
        pipeline = self.pipeline.module if hasattr(self.pipeline, "module") else self.pipeline
        state = {
            "step": step,
            "pipeline": pipeline.state_dict(),
            "optimizers": {name: optimizer.state_dict() for name, optimizer in self.optimizers.optimizers.items()},
            "schedulers": {name: scheduler.state_dict() for name, scheduler in self.optimizers.schedulers.items()},
            "scalers": self.grad_scaler.state_dict(),
        }
        save_checkpoint(path, state, keep_previous=False)
        for older in step_checkpoints(self.checkpoint_dir)[self.config.keep_checkpoints :]:
            older.unlink()

    def _load_checkpoint(self) -> None:
        """With ``load_dir``: the newest checkpoint there that reads, its RNG states included. With
        ``load_checkpoint`` (one file named by hand) or neither: nerfstudio's behaviour."""
        if self.config.load_dir is None or self.config.load_checkpoint is not None:
            super()._load_checkpoint()
            return
        for path in step_checkpoints(self.config.load_dir):
            state = read_checkpoint(path)
            if state is None:
                continue
            self._start_step = state["step"] + 1
            self.pipeline.load_pipeline(state["pipeline"], state["step"])
            self.optimizers.load_optimizers(state["optimizers"])
            if self.config.load_scheduler:
                self.optimizers.load_schedulers(state["schedulers"])
            self.grad_scaler.load_state_dict(state["scalers"])
            restore_rng_state(state["rng"])
            log.info("resuming from %s (%d steps done)", path, self._start_step)
            return
        log.info("no readable checkpoint in %s: training from the first step", self.config.load_dir)


@dataclass
class ResumableTrainerConfig(TrainerConfig):
    """nerfstudio's ``TrainerConfig`` with :class:`ResumableTrainer` and how many checkpoints it keeps."""

    _target: Type = field(default_factory=lambda: ResumableTrainer)
    keep_checkpoints: int = 2
    """The newest checkpoints kept: the one before the newest is resumed from when the newest is damaged."""
