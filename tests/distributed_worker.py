"""One process of a distributed IG-AE run on the small test problem (tests/test_distributed.py starts it with
torchrun): 4 scenes of 3 views, the test autoencoder, stage 1 then stage 2 of the paper's settings (every loss)
for a few epochs each, as the pipeline runs them.

``python -m torch.distributed.run --nproc-per-node W tests/distributed_worker.py WORK_DIR OUT EPOCHS [DEVICE]``
(DEVICE: cpu, the default, over gloo; cuda over NCCL, one GPU per process). Each stage works in
``WORK_DIR/<stage>`` (checkpoints; rank 0's ``metrics.csv``). Each rank writes ``OUT/rank<r>.pt`` (its final
autoencoder and MLP weights); rank 0 adds ``OUT/planes.pt`` (every scene's final planes, gathered).
"""

from __future__ import annotations

import dataclasses
import logging
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))

import test_igae_training as problem  # noqa: E402
from igae.autoencoders.normalizer import TanhNormalizer  # noqa: E402
from igae.config.tree import MonitorConfig  # noqa: E402
from igae.training import distributed  # noqa: E402
from igae.training import igae as training  # noqa: E402

SCENES, VIEWS = 4, 12


def stage_settings(stage: str, epochs: int):
    if stage == "warmup":
        return dataclasses.replace(
            problem.PAPER.warmup, epochs=epochs, batch_size=5, planes_lr=1e-2, mlp_lr=1e-2, log_every=1
        )
    return dataclasses.replace(
        problem.PAPER.train, epochs=epochs, batch_size=5, real_batch_size=3, checkpoint_every=1, log_every=1
    )


def main(work_dir: Path, out: Path, epochs: int, device: str) -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    torch.set_num_threads(1)
    processes = distributed.start(int(distributed.launch_environment()[0].world_size), device)
    device = distributed.process_device(device, processes)
    views = problem.posed_views(VIEWS, SCENES)
    autoencoder = problem.tiny_autoencoder().to(device)
    model = training.build_triplane_model(SCENES, autoencoder.latent_channels, problem.MODEL, seed=0)
    shard = distributed.SceneShard.of(SCENES, processes)
    planes = model.planes.holding(shard.take(model.planes.planes.detach())).to(device)
    model = training.TriplaneModel(planes, model.mlp.to(device))
    for stage in ("warmup", "train"):
        training.train_stage(
            stage,
            autoencoder,
            model,
            views,
            {"test": views.first_views_per_scene(1, 2)},
            views.images,
            views.images[:2],
            stage=stage_settings(stage, epochs),
            monitor=MonitorConfig(scenes=2, views=1, every=1),
            normalizer=TanhNormalizer(0.5),
            volume=problem.VOLUME,
            work_dir=work_dir / stage,
            precision="fp32",
            processes=processes,
            shard=shard,
        )
    out.mkdir(parents=True, exist_ok=True)
    replicated = {"autoencoder": autoencoder.model.state_dict(), "mlp": model.mlp.state_dict()}
    torch.save(
        {part: {k: v.cpu() for k, v in state.items()} for part, state in replicated.items()},
        out / f"rank{processes.rank}.pt",
    )
    everything = training.gather_triplanes(model, shard, processes)
    if processes.is_main:
        torch.save(everything.planes.planes.detach().cpu(), out / "planes.pt")
    distributed.finish(processes)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]), (sys.argv[4:] or ["cpu"])[0])
