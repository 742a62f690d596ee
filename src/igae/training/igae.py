"""IG-AE training: latent tri-plane scenes fitted jointly with the autoencoder (IG-AE §1.2, §3).

Two stages share this code, each configured by a :class:`igae.config.tree.StageConfig` (``igae.warmup``,
``igae.train``):

* **warm-up** (stage 1): the standard AE is frozen; tri-planes and the shared MLP learn to render the
  (normalised) encodings of every training view: ``L_latent`` + tri-plane TV.
* **training** (stage 2): encoder, decoder, tri-planes and MLP train jointly on
  ``L_latent`` (render vs n(E(x)), gradients to E and the scenes), ``L_RGB`` (D(n^-1(render)) vs x, to D and the
  scenes), ``L_ae`` on the synthetic views, ``L_ae`` on real images (MSE + LPIPS) and TV on the tri-planes and on
  the real images' latents. ``update_scenes: false`` reproduces the released code, whose tri-planes and MLP never
  step in this stage.

Each epoch visits every training view once (shuffled, seeded); real images cycle in a seeded order. Every
``igae.monitor.every`` epochs (and at the end) the monitor computes the paper's metrics and writes a dashboard PNG.
A checkpoint (atomic) after every ``checkpoint_every`` steps and every epoch lets a killed run resume.
"""

from __future__ import annotations

import dataclasses
import io
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.distributed as dist
import torch.nn.functional as F
from PIL import Image
from torch.nn.parallel import DistributedDataParallel

from igae.autoencoders.model import LatentAutoencoder
from igae.autoencoders.normalizer import TanhNormalizer, latent_background
from igae.checkpoint import check_finite_loss, fingerprint, load_checkpoint, save_checkpoint
from igae.config.tree import LossWeightsConfig, MonitorConfig, StageConfig, TriplaneConfig, VolumeConfig
from igae.data.image_sets import to_signed, to_unit
from igae.data.multiview import PosedViews
from igae.errors import IgaeError
from igae.evaluation.image_metrics import ImageMetrics, build_lpips, psnr
from igae.hardware import autocast_context, autocast_dtype
from igae.imaging import comparison_grid
from igae.io_utils import atomic_directory, write_bytes_atomic, write_json_atomic, write_png_atomic
from igae.monitor import TrainingMonitor
from igae.training.distributed import (
    SINGLE,
    BatchShare,
    Processes,
    SceneShard,
    all_reduce_sum,
    broadcast_random_state,
    gather_scenes,
    global_total_variation,
    is_peer_failure,
    lost_peer_error,
)
from igae.triplanes.renderer import RenderNoise, draw_render_noise, render_latents
from igae.triplanes.triplane import TinyMLP, TriPlanes, total_variation

log = logging.getLogger(__name__)


@dataclass
class TriplaneModel:
    planes: TriPlanes
    mlp: TinyMLP

    def parameters(self):
        return [*self.planes.parameters(), *self.mlp.parameters()]

    def state_dict(self) -> dict:
        return {"planes": self.planes.state_dict(), "mlp": self.mlp.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.planes.load_state_dict(state["planes"])
        self.mlp.load_state_dict(state["mlp"])


def build_triplane_model(count: int, channels: int, settings: TriplaneConfig, seed: int) -> TriplaneModel:
    torch.manual_seed(seed)
    planes = TriPlanes(count, settings.features, settings.resolution, plane_axes=settings.plane_axes)
    return TriplaneModel(planes, TinyMLP(settings.features, settings.hidden, channels))


class IgaeObjective(torch.nn.Module):
    """The IG-AE losses on one batch; returns the weighted total and each term (only the active ones).

    A module holding what is replicated across the processes of a distributed run, the autoencoder and the
    shared MLP (and the frozen LPIPS network), so that ``DistributedDataParallel`` can wrap it; the tri-planes
    are not its parameters (they are sharded by scene): the views' planes are gathered from ``triplanes``."""

    def __init__(
        self,
        autoencoder: LatentAutoencoder,
        triplanes: TriplaneModel,
        normalizer: TanhNormalizer,
        volume: VolumeConfig,
        background: torch.Tensor,
        weights: LossWeightsConfig,
        generator: torch.Generator,
    ):
        super().__init__()
        self.autoencoder, self.mlp = autoencoder, triplanes.mlp
        self.lpips = build_lpips("alex").to(autoencoder.device) if weights.ae_real_lpips > 0 else None
        self.__dict__["triplanes"] = triplanes  # not a submodule: its planes stay outside DDP
        self.normalizer, self.volume, self.background = normalizer, volume, background
        self.weights, self.generator = weights, generator

    def render(
        self,
        views: PosedViews,
        resolution: int,
        scene_planes: torch.Tensor | None = None,
        *,
        noise: RenderNoise | None = None,
        triplanes: TriplaneModel | None = None,
    ) -> torch.Tensor:
        """Normalised latent renders [B, C, r, r] in [-1, 1] of the views' scenes and poses (``scene_planes``: the
        views' tri-planes [B, 3, F, R, R] when the caller has gathered them already; ``triplanes``: the scenes to
        render, default the objective's)."""
        device = self.autoencoder.device
        triplanes = triplanes or self.triplanes
        out = render_latents(
            triplanes.planes,
            triplanes.mlp,
            views.scene_ids.to(device),
            views.cam_to_world.to(device),
            views.intrinsics.to(device),
            resolution,
            self.background,
            self.volume,
            self.generator,
            scene_planes=scene_planes,
            noise=noise,
        )
        return out["latent"].clamp(-1.0, 1.0)

    def forward(
        self,
        views: PosedViews,
        real: torch.Tensor | None,
        targets: torch.Tensor | None = None,
        share: BatchShare | None = None,
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """``views``: a batch of posed synthetic views; ``real``: uint8 real images or None; ``targets``: cached
        normalised latents of the views (frozen encoder) or None to encode now (posterior sample); ``share``:
        where these are in the global batch of a distributed run (None: they are the whole batch).

        Returns the loss to back-propagate and the terms, each this process's share of the global term
        (:mod:`igae.training.distributed`: the shares of all processes sum to the one-process values; with W
        processes the loss is W x the weighted sum of the shares, as DDP averages gradients).

        The step's autoencoder work runs as one encoder pass (synthetic views and real images together) and one
        decoder pass (decoded renders, synthetic and real reconstructions together): the same per-image results
        as separate calls (GroupNorm normalises each image on its own). On CPU this measured no faster than
        separate calls (tiny scale, 6 alternated steps: 9.93 vs 9.64 s median). The views' tri-planes are
        gathered once, for the renderer's two passes and the TV term."""
        w, device = self.weights, self.autoencoder.device
        share = share or BatchShare.whole(len(views), 0 if real is None else len(real))
        images = to_signed(views.images).to(device)  # [B, 3, H, W]
        use_real = share.real > 0 and (w.ae_real_mse > 0 or w.ae_real_lpips > 0 or w.real_latent_tv > 0)
        real_images = to_signed(real).to(device) if use_real else None  # [b, 3, H, W]
        encode_views = targets is None or w.ae_synthetic > 0
        # posterior samples [B, C, h, w], [b, C, h, w] (or None)
        latents, real_latents = self._encode(images if encode_views else None, real_images, share)
        if targets is None and latents is not None:
            targets = self.normalizer.normalize(latents)
        resolution = images.shape[-1] // self.autoencoder.downsampling_factor
        noise = draw_render_noise(share.views, resolution, self.volume, self.generator, device)
        rendered = scene_planes = None
        if len(views):
            scene_planes = self.triplanes.planes.planes[views.scene_ids.to(device)]  # [B, 3, F, R, R]
            rendered = self.render(views, resolution, scene_planes, noise=noise.rows(share.view_rows.to(device)))
        decoded_render, reconstruction, real_reconstruction = _split_like(
            [
                self.normalizer.denormalize(rendered) if w.rgb > 0 and rendered is not None else None,
                latents if w.ae_synthetic > 0 and latents is not None else None,
                real_latents,
            ],
            self.autoencoder.decode,
        )
        zero = images.new_zeros(())
        views_mean = lambda value: zero if value is None else share.views_share(value)  # noqa: E731
        real_mean = lambda value: zero if value is None else share.real_share(value)  # noqa: E731
        terms: dict[str, torch.Tensor] = {}
        if w.latent > 0:
            terms["latent"] = views_mean(None if rendered is None else F.mse_loss(rendered, targets))
        if w.rgb > 0:
            terms["rgb"] = views_mean(None if decoded_render is None else F.mse_loss(decoded_render, images))
        if w.ae_synthetic > 0:
            terms["ae_synthetic"] = views_mean(None if reconstruction is None else F.mse_loss(reconstruction, images))
        if w.planes_tv > 0:
            terms["planes_tv"] = self._total_variation(scene_planes, 2, 2, share, like=self.triplanes.planes.planes)
        if use_real:
            local_real = real_reconstruction is not None
            if w.ae_real_mse > 0:
                terms["ae_real_mse"] = real_mean(F.mse_loss(real_reconstruction, real_images) if local_real else None)
            if self.lpips is not None:
                lpips = self.lpips(real_reconstruction, real_images).mean() if local_real else None
                terms["ae_real_lpips"] = real_mean(lpips)
            if w.real_latent_tv > 0:
                like = torch.empty(0, self.autoencoder.latent_channels, resolution, resolution, device=device)
                terms["real_latent_tv"] = self._total_variation(real_latents, 2, 1, share, like=like)
        total = sum(getattr(w, name) * value for name, value in terms.items())
        if share.distributed:  # DDP averages the gradients: back-propagate W x the share; touch every parameter
            replicated = [p.reshape(-1)[0] for p in self.parameters() if p.requires_grad]
            total = total * share.world_size + 0.0 * torch.stack(replicated).sum()
        return total, terms

    def _encode(
        self, images: torch.Tensor | None, real_images: torch.Tensor | None, share: BatchShare
    ) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """One encoder pass over this process's views and real images (posterior samples; None for a part that
        is absent or empty here). The posterior noise is drawn for the global batch [views; real images], on every
        process, and each image takes its row; it comes from torch's default generator (as the training has
        always drawn it), which every process seeds alike and checkpoints restore."""
        parts = [images, real_images]
        noise = None
        if self.autoencoder.is_variational and any(part is not None for part in parts):
            height, width = next(part for part in parts if part is not None).shape[-2:]
            offset = share.views if images is not None else 0
            noise = self.autoencoder.posterior_noise(
                offset + (share.real if real_images is not None else 0), height, width
            )
            rows = [share.view_rows] if images is not None else []
            rows += [offset + share.real_rows] if real_images is not None else []
            noise = noise[torch.cat(rows).to(noise.device)]
        present = [part for part in parts if part is not None and len(part)]
        if not present:
            return None, None
        latents = iter(self.autoencoder.encode(torch.cat(present), noise=noise).split([len(part) for part in present]))
        return tuple(next(latents) if part is not None and len(part) else None for part in parts)

    @staticmethod
    def _total_variation(
        tensor: torch.Tensor | None, p: float, q: float, share: BatchShare, like: torch.Tensor
    ) -> torch.Tensor:
        """TV_{p,q} of the batch's ``tensor`` (its share of the global one in a distributed run)."""
        if share.distributed:
            return global_total_variation(tensor, p, q, like)
        return total_variation(tensor, p, q)


def _split_like(batches: list[torch.Tensor | None], function) -> list[torch.Tensor | None]:
    """``function`` applied once to the given batches concatenated, its output split back per batch (``None``
    entries stay ``None``; nothing given: no call)."""
    present = [batch for batch in batches if batch is not None]
    if not present:
        return [None] * len(batches)
    outputs = iter(function(torch.cat(present)).split([len(batch) for batch in present]))
    return [None if batch is None else next(outputs) for batch in batches]


@torch.no_grad()
def monitor_metrics(
    objective: IgaeObjective,
    metrics: ImageMetrics,
    sets: dict[str, PosedViews],
    real_heldout: torch.Tensor,
    triplanes: TriplaneModel | None = None,
) -> tuple[dict[str, float], Image.Image]:
    """The paper's monitoring: latent PSNR (render vs n(E(x))), decoded-render PSNR/SSIM/LPIPS and AE
    reconstruction per view set, AE reconstruction of held-out real images; plus a dashboard picture.
    ``triplanes``: the sets' scenes (default: the objective's)."""
    autoencoder, normalizer = objective.autoencoder, objective.normalizer
    results: dict[str, float] = {}
    dashboard_rows: list[torch.Tensor] = []
    for name, views in sets.items():
        images = to_signed(views.images).to(autoencoder.device)
        latents = autoencoder.encode(images, generator=objective.generator)
        targets = normalizer.normalize(latents)
        rendered = objective.render(views, targets.shape[-1], triplanes=triplanes)
        decoded = to_unit(autoencoder.decode(normalizer.denormalize(rendered)))
        reconstruction = to_unit(autoencoder.decode(latents))
        truth = to_unit(images)
        latent_mse = (rendered - targets).pow(2).flatten(1).mean(1)
        results[f"{name}/latent_psnr"] = float((10 * torch.log10(4.0 / latent_mse.clamp_min(1e-12))).mean())
        for key, values in metrics(decoded, truth).items():
            results[f"{name}/render_{key}"] = float(values.mean())
        results[f"{name}/ae_psnr"] = float(psnr(reconstruction, truth).mean())
        if not dashboard_rows:
            size = truth.shape[-2:]
            latent_rows = [  # the first latent channel, grey, upsampled to the image size
                F.interpolate(to_unit(latent[:, :1]).expand(-1, 3, -1, -1), size=size, mode="nearest")
                for latent in (rendered, targets)
            ]
            dashboard_rows = [truth, reconstruction, decoded, *latent_rows]
    real = to_signed(real_heldout).to(autoencoder.device)
    real_reconstruction = to_unit(autoencoder.decode(autoencoder.encode(real, generator=objective.generator)))
    for key, values in metrics(real_reconstruction, to_unit(real)).items():
        results[f"real_heldout/ae_{key}"] = float(values.mean())
    return results, comparison_grid([row.cpu() for row in dashboard_rows], columns=6)


def _optimizers(autoencoder: LatentAutoencoder, triplanes: TriplaneModel, stage: StageConfig):
    groups = []
    if stage.train_autoencoder:
        model = autoencoder.model
        encoder = [*model.encoder.parameters(), *(model.quant_conv.parameters() if model.quant_conv else [])]
        decoder = [*model.decoder.parameters(), *(model.post_quant_conv.parameters() if model.post_quant_conv else [])]
        groups.append(torch.optim.Adam(encoder, lr=stage.encoder_lr))
        groups.append(torch.optim.Adam(decoder, lr=stage.decoder_lr))
    scene_optimizer = torch.optim.Adam(
        [
            {"params": list(triplanes.planes.parameters()), "lr": stage.planes_lr, "name": "planes"},
            {"params": list(triplanes.mlp.parameters()), "lr": stage.mlp_lr, "name": "mlp"},
        ]
    )
    return groups, scene_optimizer


#: The tri-planes' index in the scene optimiser's state (its first parameter group holds them alone).
PLANES_PARAMETER = 0


def gather_triplanes(triplanes: TriplaneModel, shard: SceneShard, processes: Processes) -> TriplaneModel | None:
    """Every scene's tri-planes, gathered to rank 0's CPU (with the shared MLP); None on the other ranks. For one
    process: the model itself."""
    if not processes.distributed:
        return triplanes
    planes = gather_scenes(triplanes.planes.planes, SceneShard.sizes(shard.count, processes.world_size), processes)
    return None if planes is None else TriplaneModel(triplanes.planes.holding(planes), triplanes.mlp)


def _gather_scene_optimizer(optimizer: torch.optim.Optimizer, shard: SceneShard, processes: Processes) -> dict | None:
    """The scene optimiser's state in the one-process layout (every scene's Adam moments) on rank 0."""
    state = optimizer.state_dict()
    if not processes.distributed:
        return state
    sizes = SceneShard.sizes(shard.count, processes.world_size)
    planes = {  # state_dict() holds the live tensors: new entries, never assignments into it
        key: gather_scenes(value, sizes, processes) if isinstance(value, torch.Tensor) and value.ndim > 0 else value
        for key, value in sorted(state["state"].get(PLANES_PARAMETER, {}).items())
    }
    return {**state, "state": {**state["state"], PLANES_PARAMETER: planes}} if processes.is_main else None


def _shard_scene_optimizer(state: dict, shard: SceneShard) -> dict:
    """A one-process scene-optimiser state cut to this process's scenes."""
    planes = {
        key: shard.take(value) if isinstance(value, torch.Tensor) and value.ndim > 0 else value
        for key, value in state["state"].get(PLANES_PARAMETER, {}).items()
    }
    return {**state, "state": {**state["state"], PLANES_PARAMETER: planes}} if planes else state


class _Silent:
    """The progress of a rank other than 0: nothing logged, nothing written."""

    def scalars(self, *args, **kwargs) -> None:
        pass

    def close(self) -> None:
        pass


def train_stage(
    name: str,
    autoencoder: LatentAutoencoder,
    triplanes: TriplaneModel,
    train_views: PosedViews,
    monitor_sets: dict[str, PosedViews],
    real_train: torch.Tensor,
    real_heldout: torch.Tensor,
    *,
    stage: StageConfig,
    monitor: MonitorConfig,
    normalizer: TanhNormalizer,
    volume: VolumeConfig,
    work_dir: Path,
    precision: str,
    processes: Processes = SINGLE,
    shard: SceneShard | None = None,
) -> dict:
    """Run one stage in place on ``autoencoder`` and ``triplanes``; returns the final monitoring record (on rank
    0; ``{}`` on the other ranks of a distributed run).

    ``monitor`` says how often the monitor sets are measured; ``precision`` (auto | fp32 | bf16) autocasts the
    objective as :func:`igae.hardware.autocast_dtype` decides. In a distributed run (``processes``) ``triplanes``
    holds the planes of this process's ``shard`` of the scenes and ``train_views`` every training view (global
    scene ids); :mod:`igae.training.distributed` says how the work is split."""
    device = autoencoder.device
    work_dir = Path(work_dir)
    shard = shard or SceneShard(0, len(train_views.scenes), len(train_views.scenes))
    world = processes.world_size
    autocast = autocast_dtype(precision, device, what=f"IG-AE {name}")
    run_id = fingerprint(
        {
            "stage": name,
            "settings": dataclasses.asdict(stage),
            "monitor": dataclasses.asdict(monitor),
            "volume": dataclasses.asdict(volume),
            "views": len(train_views),
            "scenes": len(train_views.scenes),
            "cache": stage.cache_latents,
            "autocast": str(autocast),
        }
    )
    for parameter in autoencoder.parameters():
        parameter.requires_grad_(stage.train_autoencoder)
    autoencoder.train(stage.train_autoencoder)
    generator = torch.Generator(device=device).manual_seed(stage.seed)
    data_generator = torch.Generator().manual_seed(stage.seed)
    background = latent_background(autoencoder, normalizer, train_views.images.shape[-1]).detach()
    objective = IgaeObjective(autoencoder, triplanes, normalizer, volume, background, stage.weights, generator)
    # DDP over the replicated modules; every rank's loss touches all of them (IgaeObjective.forward)
    step_objective = objective
    if processes.distributed:  # no buffer to synchronise (GroupNorm; LPIPS is frozen)
        step_objective = DistributedDataParallel(objective, forward_sync_buffers=False, gradient_as_bucket_view=True)
    ae_optimizers, scene_optimizer = _optimizers(autoencoder, triplanes, stage)
    optimizers = [*ae_optimizers, scene_optimizer]
    schedulers = [torch.optim.lr_scheduler.ExponentialLR(opt, stage.lr_decay) for opt in optimizers]
    steps_per_epoch = -(-len(train_views) // stage.batch_size)
    total_steps = stage.epochs * steps_per_epoch
    owned_views = shard.owns(train_views.scene_ids).nonzero().squeeze(1)  # [M_r] global view indices
    cache_row = torch.full((len(train_views),), -1, dtype=torch.long)
    cache_row[owned_views] = torch.arange(len(owned_views))

    cached = None
    if stage.cache_latents and not stage.train_autoencoder:
        with torch.no_grad():  # posterior means of the frozen encoder, once, for this process's views
            cached = torch.cat(
                [
                    normalizer.normalize(autoencoder.encode(to_signed(chunk).to(device), sample=False))
                    for chunk in train_views.images[owned_views].split(32)
                ]
            )

    metrics = ImageMetrics("alex").to(device)  # built before the RNG states are restored: it draws from them
    checkpoint_path = work_dir / "checkpoint.pt"
    state = load_checkpoint(checkpoint_path, run_id)
    epoch, step_in_epoch, real_cursor = 0, 0, 0
    permutation = real_order = None
    if state is not None:
        autoencoder.model.load_state_dict(state["autoencoder"])
        scenes = state["scenes"]
        if processes.distributed:
            scenes = {**scenes, "planes": {"planes": shard.take(scenes["planes"]["planes"])}}
            state["optimizers"][-1] = _shard_scene_optimizer(state["optimizers"][-1], shard)
        triplanes.load_state_dict(scenes)
        for optimizer, saved in zip(optimizers, state["optimizers"], strict=True):
            optimizer.load_state_dict(saved)
        for scheduler, saved in zip(schedulers, state["schedulers"], strict=True):
            scheduler.load_state_dict(saved)
        generator.set_state(state["generator"])
        data_generator.set_state(state["data_generator"])
        epoch, step_in_epoch, real_cursor = state["epoch"], state["step_in_epoch"], state["real_cursor"]
        permutation, real_order = state["permutation"], state["real_order"]
    start_step = epoch * steps_per_epoch + step_in_epoch
    if processes.is_main:
        progress = TrainingMonitor(work_dir, total_steps, start_step, stage.log_every, name=name)
    else:
        progress = _Silent()
    if real_order is None:
        real_order = torch.randperm(len(real_train), generator=data_generator)
    monitored = 1 + max(int(views.scene_ids.max()) for views in monitor_sets.values())

    def checkpoint() -> None:
        """Every rank's planes and their optimiser state gathered; rank 0 writes (atomically)."""
        everything = gather_triplanes(triplanes, shard, processes)
        scene_state = _gather_scene_optimizer(scene_optimizer, shard, processes)
        if not processes.is_main:
            return
        save_checkpoint(
            checkpoint_path,
            {
                "fingerprint": run_id,
                "epoch": epoch,
                "step_in_epoch": step_in_epoch,
                "real_cursor": real_cursor,
                "permutation": permutation,
                "real_order": real_order,
                "step": epoch * steps_per_epoch + step_in_epoch,
                "autoencoder": autoencoder.model.state_dict(),
                "scenes": everything.state_dict(),
                "optimizers": [opt.state_dict() for opt in ae_optimizers] + [scene_state],
                "schedulers": [sch.state_dict() for sch in schedulers],
                "generator": generator.get_state(),
                "data_generator": data_generator.get_state(),
            },
        )

    def step_batch(indices: torch.Tensor, picks: list[torch.Tensor]):
        """This process's share of the global batch of views ``indices`` [B] and real images ``picks`` [b]."""
        view_rows = shard.owns(train_views.scene_ids[indices]).nonzero().squeeze(1)
        mine = indices[view_rows]
        views = train_views.subset(mine)
        if shard.start:
            views = dataclasses.replace(views, scene_ids=views.scene_ids - shard.start)
        real_rows = torch.arange(len(picks))[processes.rank :: world]  # every W-th: none repeated, maybe none
        real = real_train[torch.stack(picks)[real_rows]] if picks else None
        share = BatchShare(view_rows, len(indices), real_rows, len(picks), world)
        return views, real, cached[cache_row[mine]] if cached is not None else None, share

    record: dict = {}
    started = time.perf_counter()
    steps_run = 0
    try:
        while epoch < stage.epochs:
            if permutation is None:
                permutation = torch.randperm(len(train_views), generator=data_generator)
            if 0 <= stage.freeze_mlp_after_epoch <= epoch:
                scene_optimizer.param_groups[1]["lr"] = 0.0
            while step_in_epoch < steps_per_epoch:
                indices = permutation[step_in_epoch * stage.batch_size : (step_in_epoch + 1) * stage.batch_size]
                picks = [real_order[(real_cursor + i) % len(real_order)] for i in range(stage.real_batch_size)]
                real_cursor += stage.real_batch_size
                with autocast_context(autocast, device):
                    total, terms = step_objective(*step_batch(indices, picks))
                done = epoch * steps_per_epoch + step_in_epoch + 1
                if processes.distributed:  # the global loss and terms: the sums of every rank's shares
                    summed = all_reduce_sum(torch.stack([total.detach() / world, *terms.values()]).detach(), processes)
                    total_value, terms = summed[0], dict(zip(terms, summed[1:], strict=True))
                else:
                    total_value = total
                check_finite_loss(f"IG-AE {name}", done, total_value, terms)
                for optimizer in optimizers:
                    optimizer.zero_grad(set_to_none=True)
                total.backward()
                if processes.distributed:  # planes are outside DDP: undo the W of the loss; no views, zero grad
                    planes = triplanes.planes.planes
                    planes.grad = torch.zeros_like(planes) if planes.grad is None else planes.grad.div_(world)
                for optimizer in ae_optimizers:
                    optimizer.step()
                if stage.update_scenes:
                    scene_optimizer.step()
                step_in_epoch += 1
                steps_run += 1
                progress.scalars(
                    done, {"loss": total_value.item(), **{key: value.item() for key, value in terms.items()}}
                )
                if done % stage.checkpoint_every == 0 and step_in_epoch < steps_per_epoch:
                    checkpoint()
            for scheduler in schedulers:
                scheduler.step()
            epoch, step_in_epoch, permutation = epoch + 1, 0, None
            if epoch % monitor.every == 0 or epoch == stage.epochs:
                record, dashboard = _monitor(
                    objective, metrics, monitor_sets, real_heldout, triplanes, shard, processes, monitored
                )
                autoencoder.train(stage.train_autoencoder)
                if processes.is_main:
                    progress.scalars(epoch * steps_per_epoch, {**record, "epoch": epoch}, force=True)
                    write_png_atomic(work_dir / "dashboard.png", dashboard)
            if epoch < stage.epochs:
                checkpoint()
    except (RuntimeError, dist.DistError) as error:
        if not processes.distributed or isinstance(error, IgaeError) or not is_peer_failure(error):
            raise
        raise lost_peer_error(
            error, processes, epoch * steps_per_epoch + step_in_epoch + 1, str(checkpoint_path)
        ) from error
    progress.close()
    seconds = time.perf_counter() - started
    if not processes.is_main:
        return {}
    record.update(
        {
            "stage": name,
            "epochs": stage.epochs,
            "steps": total_steps,
            "steps_run": steps_run,
            "seconds": round(seconds, 1),
            "steps_per_second": round(steps_run / seconds, 3) if seconds else 0,
            "world_size": world,
        }
    )
    checkpoint_path.unlink(missing_ok=True)
    log.info("%s done: %s", name, {k: round(v, 3) if isinstance(v, float) else v for k, v in record.items()})
    return record


def _monitor(objective, metrics, monitor_sets, real_heldout, triplanes, shard, processes, monitored):
    """The monitor on rank 0, over the first ``monitored`` scenes' planes (gathered from the ranks that own
    them: usually none but rank 0); every rank then continues from rank 0's generator state, as the one-process
    run continues from the monitor's draws."""
    scenes = triplanes
    if processes.distributed:
        sizes = SceneShard.sizes(shard.count, processes.world_size, below=monitored)
        planes = gather_scenes(triplanes.planes.planes[: sizes[processes.rank]], sizes, processes)
        if planes is not None:
            scenes = TriplaneModel(triplanes.planes.holding(planes.to(objective.autoencoder.device)), triplanes.mlp)
    result: tuple[dict, Image.Image | None] = ({}, None)
    if processes.is_main:
        objective.autoencoder.eval()
        result = monitor_metrics(objective, metrics, monitor_sets, real_heldout, scenes)
    broadcast_random_state(objective.generator, processes)
    return result


def compare_records(before: dict, after: dict) -> dict[str, float]:
    """The paper's claim in numbers: change of every shared metric from ``before`` (stage 1, standard AE) to
    ``after`` (stage 2, IG-AE), e.g. ``test/render_psnr`` (decoded renders, held-out views) and
    ``real_heldout/ae_psnr`` (real-image reconstruction)."""
    return {
        key: round(after[key] - before[key], 4)
        for key in sorted(before)
        if "/" in key and isinstance(before[key], float) and isinstance(after.get(key), float)
    }


def save_triplane_model(triplanes: TriplaneModel, settings: TriplaneConfig, scene_names: list[str], path: Path) -> None:
    buffer = io.BytesIO()
    torch.save({"settings": dataclasses.asdict(settings), "scenes": scene_names, **triplanes.state_dict()}, buffer)
    write_bytes_atomic(Path(path), buffer.getvalue())


def load_triplane_model(path: Path, channels: int) -> tuple[TriplaneModel, TriplaneConfig, list[str]]:
    state = torch.load(Path(path), map_location="cpu", weights_only=False)
    settings = TriplaneConfig(**state["settings"])
    triplanes = build_triplane_model(len(state["scenes"]), channels, settings, seed=0)
    triplanes.load_state_dict(state)
    return triplanes, settings, state["scenes"]


def write_stage_outputs(
    out_dir: Path,
    autoencoder: LatentAutoencoder | None,
    triplanes: TriplaneModel,
    settings: TriplaneConfig,
    scene_names: list[str],
    record: dict,
    work_dir: Path,
) -> None:
    """``out_dir``: ``triplanes.pt``, ``metrics.json``, ``dashboard.png`` and (stage 2) ``autoencoder/`` (diffusers)."""
    with atomic_directory(Path(out_dir)) as tmp:
        save_triplane_model(triplanes, settings, scene_names, tmp / "triplanes.pt")
        write_json_atomic(tmp / "metrics.json", record)
        dashboard = Path(work_dir) / "dashboard.png"
        if dashboard.is_file():
            write_bytes_atomic(tmp / "dashboard.png", dashboard.read_bytes())
        if autoencoder is not None:
            autoencoder.eval()
            autoencoder.save_pretrained(tmp / "autoencoder")
