"""The IG-AE runs of the pipeline: stage 1 (warm-up), stage 2 (joint), the control and the loss ablation.

``igae train-igae-stage`` calls :func:`run_stage`; what distinguishes the runs is here, beside its tests:

* ``warmup`` and ``train`` use ``igae.warmup`` / ``igae.train`` as they are;
* ``control`` (the baseline of the paper's claim) runs stage 2's schedule with the standard AE frozen and stage
  1's objective: L_latent and the tri-plane TV only, latents cached, no real images;
* an ablation variant is stage 2 with the weights of one loss term set to 0.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path

from igae.config.tree import IgaeConfig, LossWeightsConfig, NormalizerConfig, StageConfig
from igae.errors import IgaeError
from igae.training.ablation import ablated_weights

log = logging.getLogger(__name__)

STAGES = ("warmup", "train", "control")


def stage_config(igae: IgaeConfig, stage: str, ablate: str | None = None) -> StageConfig:
    """The settings of one IG-AE run: ``stage`` (warmup, train, control), without the term ``ablate``."""
    if stage not in STAGES:
        raise IgaeError(f"unknown IG-AE stage '{stage}' (expected one of {', '.join(STAGES)})")
    if ablate is not None and stage != "train":
        raise IgaeError(f"--ablate removes a term of the joint stage (--stage train), not of '{stage}'")
    if stage == "warmup":
        return igae.warmup
    config = igae.train
    if stage == "control":  # stage 2's schedule, the standard AE frozen, L_latent (+ TV) only
        weights = dataclasses.replace(igae.warmup.weights, planes_tv=config.weights.planes_tv)
        return dataclasses.replace(
            config,
            train_autoencoder=False,
            real_batch_size=0,
            cache_latents=True,
            encoder_lr=0.0,
            decoder_lr=0.0,
            weights=weights,
        )
    if ablate is not None:  # the loss ablation: stage 2 without one term
        weights = LossWeightsConfig(**ablated_weights(dataclasses.asdict(config.weights), ablate))
        log.info("ablation: stage 2 without %s (weights %s)", ablate, dataclasses.asdict(weights))
        return dataclasses.replace(config, weights=weights)
    return config


def run_stage(
    stage: str,
    igae: IgaeConfig,
    *,
    autoencoder_dir: Path,
    real_images: Path,
    scene_index: Path,
    out: Path,
    work_dir: Path,
    latent_channels: int,
    normalizer: NormalizerConfig,
    device: str,
    init: Path | None = None,
    ablate: str | None = None,
    max_scenes: int | None = None,
) -> dict:
    """Train one IG-AE run from the standard AE at ``autoencoder_dir`` (the tri-planes from ``init``'s, a stage
    output, or new) on the first ``max_scenes`` IG-AE scenes (None: all), write its output folder ``out`` and
    return its record. With ``igae.world_size`` > 1 this is one of the run's processes (started by torchrun or
    srun): it trains its shard of the scenes, and rank 0 writes the output."""
    from igae.autoencoders.model import load_autoencoder
    from igae.autoencoders.normalizer import TanhNormalizer
    from igae.data.image_sets import load_images, real_image_paths
    from igae.data.multiview import load_posed_views
    from igae.training import distributed
    from igae.training import igae as training

    settings = stage_config(igae, stage, ablate)
    processes = distributed.start(igae.world_size, device)
    device = distributed.process_device(device, processes)
    autoencoder = load_autoencoder(autoencoder_dir, expected_channels=latent_channels, device=device)
    if max_scenes is not None and max_scenes < 1:
        raise IgaeError(f"max_scenes is {max_scenes}: train on at least one scene")
    train_views = load_posed_views(scene_index, "igae_train", "train", max_scenes)
    if max_scenes is not None and len(train_views.scenes) < max_scenes:
        raise IgaeError(
            f"asked for {max_scenes} IG-AE scenes, but '{scene_index}' lists only {len(train_views.scenes)} igae_train"
            " scenes"
        )
    monitored, per_scene = igae.monitor.scenes, igae.monitor.views
    monitor_sets = {
        "train": train_views.first_views_per_scene(per_scene, monitored),
        "test": load_posed_views(scene_index, "igae_train", "test", monitored).first_views_per_scene(per_scene),
    }
    real_train = load_images(real_image_paths(real_images, "train"))
    real_heldout = load_images(real_image_paths(real_images, "heldout"))
    if init is not None:
        model, triplanes, names = training.load_triplane_model(init / "triplanes.pt", autoencoder.latent_channels)
        if names != train_views.scenes:
            raise IgaeError(f"'{init / 'triplanes.pt'}' holds scenes {names[:3]}..., not the training scenes")
    else:
        triplanes = igae.triplanes
        model = training.build_triplane_model(
            len(train_views.scenes), autoencoder.latent_channels, triplanes, settings.seed
        )
    shard = distributed.SceneShard.of(len(train_views.scenes), processes)
    if processes.distributed:  # this process keeps its scenes' planes only
        model = training.TriplaneModel(model.planes.holding(shard.take(model.planes.planes.detach())), model.mlp)
    model.planes.to(device)
    model.mlp.to(device)
    record = training.train_stage(
        stage,
        autoencoder,
        model,
        train_views,
        monitor_sets,
        real_train,
        real_heldout,
        stage=settings,
        monitor=igae.monitor,
        normalizer=TanhNormalizer.from_config(normalizer),
        volume=igae.rendering,
        work_dir=work_dir,
        precision=igae.precision,
        processes=processes,
        shard=shard,
    )
    everything = training.gather_triplanes(model, shard, processes)
    if not processes.is_main:  # rank 0 writes the outputs
        distributed.finish(processes)
        return record
    record["ablated_term"] = ablate
    record["scenes"] = len(train_views.scenes)
    if init is not None and (init / "metrics.json").is_file():
        record["versus_init"] = training.compare_records(json.loads((init / "metrics.json").read_text()), record)
        log.info("versus %s: %s", init, record["versus_init"])
    training.write_stage_outputs(
        out,
        autoencoder if settings.train_autoencoder else None,
        everything,
        triplanes,
        train_views.scenes,
        record,
        work_dir,
    )
    distributed.finish(processes)
    return record
