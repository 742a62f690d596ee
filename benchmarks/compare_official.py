"""Time one IG-AE training step of the official code (github k-kassab/igae, ``igae_training``) against this project's.

Both sides run the paper's stage-2 step ("train_args" of ``configs/igae.yaml`` over ``train_default.yaml``) at the
same size: ``--scenes`` tri-planes of [3, 32, 64, 64], a tiny MLP of 64 hidden units, 128x128 images (16x16
latent renders), 12 posed views + 3 real images per step, 48 stratified + 48 importance samples per ray between
0.5 and 2.1, an autoencoder of the ostris KL-f8-d16 architecture with random weights (no weights can be
downloaded; the time and memory of a step do not depend on their values), the same device and thread count.

Usage::

    .venv/bin/python benchmarks/compare_official.py --official /tmp/igae_official
    .venv/bin/python benchmarks/compare_official.py --official /tmp/igae_official --device cuda --scenes 500 \
        --out results/compare_official.json
    .venv/bin/python benchmarks/compare_official.py --official /tmp/igae_official --stage warmup   # stage 1

Smoke test (seconds, not a measurement): ``--tiny-autoencoder`` swaps in a small AutoencoderKL (block channels
(8, 8, 16, 16), 4 norm groups, 1 layer per block, still 16 latent channels) and 64x64 images, e.g.
``--tiny-autoencoder --scenes 2 --batch 2 --real-batch 1 --steps 1 --warmup 0 --rounds 1 --threads 1``.

Protocol: every measurement is a fresh child process (this file with ``--child``) that builds the models, runs
``--warmup`` untimed steps, then ``--steps`` timed steps, and prints one JSON line (``RESULT {...}``). The parent
runs ``--rounds`` rounds, alternating the order (official first, then ours first, ...) so that machine noise
hits both, and prints a Markdown table of the per-round mean seconds per step: median, min-max, the maximum peak
RSS (and peak CUDA memory) over rounds, and the official/ours ratio of the medians. ``--out`` writes it all as
JSON. The parent never imports torch, so the children's peak RSS (``ru_maxrss``) is theirs alone.

The official side
-----------------
Its modules are imported from ``--official PATH/igae_training`` (nothing of it is copied here) and the step is
its own code end to end: the configuration is loaded by its ``ae.utils.load_config`` as ``train.py`` does; the
models come from its ``init_models`` (``TriPlaneRenderer`` with the config's rendering options and the ostris
background colour, ``TriplaneManager`` with ``--scenes``) and ``NerfVAE`` with its ``TanhNormalizer`` of
``vae.normalization``; a real ``Trainer`` builds the optimizers (``get_optimizers_schedulers``) and applies the
freezes; each timed step is ``Trainer.consistency_and_injection_iter(..., strategy='joint')`` (stage 1:
``consistency_iter``), i.e. ``get_total_loss`` (``NerfVAE.forward`` summed with the config weights, the meters
updated with ``.item()``), backward, ``step_relevant_optimizers``. The batch is synthetic: uniform random images
in [-1, 1] and 25-value poses (flattened 4x4 OpenCV cam2world + flattened 3x3 normalised intrinsics) from the
official ``LazyPoseSampler('train/objaverse')``: uniform on the sphere of radius 1.3, looking at the origin,
focal 1.09375.

What the child changes in the official code's environment (in the child process only) and why:

* ``wandb`` is replaced by an empty module in ``sys.modules`` (it is used for logging only, and only when
  ``config.wandb.apply``, which is set to false). The stub carries a ``ModuleSpec`` because
  ``importlib.util.find_spec`` raises ``ValueError`` on a module without ``__spec__`` (diffusers' import-time
  package checks call it); diffusers and torchmetrics are imported before the stub so that their checks still see
  that wandb is absent.
* ``ae.trainers.BaselineVaeManager.get_vae`` returns ``diffusers.AutoencoderKL(**OSTRIS_ARCHITECTURE)`` (from
  :mod:`igae.training.bench`) in eval mode, as ``from_pretrained`` would, instead of downloading
  ``ostris/vae-kl-f8-d16``; everything else in ``init_models`` runs unchanged.
* ``accelerate`` is not installed: the ``Trainer`` gets a single-process stand-in whose ``prepare`` returns its
  arguments and whose ``backward`` is ``loss.backward()``. That is what ``Accelerator`` amounts to on one process
  without mixed precision (device placement aside, done here beforehand; its optimizer wrapper only forwards
  ``step``/``zero_grad``).
* The ``Trainer`` receives one-element placeholder datasets (its data loaders are built but never iterated) and
  no evaluator; ``dataset.img_size`` and the batch sizes are set from the options.
* Stage 1 only: ``cache_latents.apply`` is set to false, which skips ``CachedDataset``'s one-off encoding pass to
  disk and does not change the step: ``CachedDataset`` stores the latents under ``'cached_latent'`` while
  ``NerfVAE.forward`` reads ``'cached_latents'``, so the official warm-up step always re-encodes the views (a
  posterior sample through the frozen encoder) and never uses the cache.

Nothing else needed a work-around with diffusers 0.42 / torch 2.15. Besides torch, diffusers and torchmetrics
the official modules import ``prodict`` (``pip install prodict==0.8.18``), yaml, numpy, PIL, matplotlib, imageio,
tqdm and torchvision; their LPIPS (torchmetrics, AlexNet) needs the torchvision AlexNet weights in the torch hub
cache, as this project's does (``igae install-lpips-weights``).

This project's side
-------------------
:func:`igae.training.bench.benchmark_igae_step` in its own child, with :class:`TriplaneConfig` (32, 64, 64),
:class:`VolumeConfig` (0.5, 2.1, 48, 48) and the paper preset's loss weights of the stage. It builds its own batch
(random uint8 images; one fixed camera at radius 1.3 looking at the origin, same intrinsics), always runs one
untimed warm-up step (``--warmup`` applies to the official side only) and returns the mean over its ``--steps``
timed steps (timed as one interval), so each round yields one figure. To report what it steps, the child replaces
``torch.optim.Adam`` by a subclass that only records its instances; with ``--tiny-autoencoder`` it also swaps
``igae.training.bench.OSTRIS_ARCHITECTURE``. With ``--stage warmup`` it times stage 1 as ``train_stage`` runs it:
frozen AE, latents cached once (posterior means), L_latent + tri-plane TV, tri-planes and MLP stepped.

Differences in the work of one stage-2 step (read from both codes; the children report the stepped parameters)
------------------------------------------------------------------------------------------------------------
The official code as in the checkout read (k-kassab/igae da69aec); ours as in the working tree on 2026-12-01,
while ``igae/training/igae.py``, ``bench.py`` and ``igae/triplanes/`` were being edited (re-read them if they have
changed since; what each side stepped is measured by the children, not taken from here).

Common to both: encoder on the 12 views (posterior sample) and the 3 real images; decoder on the 12 decoded
renders (L_RGB / loss_d), the 12 view latents (L_ae / loss_ae) and the 3 real latents; LPIPS-AlexNet on the 3
real reconstructions; rendering of the 12 views (256 rays each, 96 samples per ray, tri-plane grid_sample +
MLP); tri-plane TV (2, 2) and real-latent TV (2, 1); one backward through all of it; Adam on encoder and decoder.

1. Optimizer steps. The official joint step steps only its ``encoder`` Adam (``vae.encoder``) and ``decoder``
   Adam (``vae.decoder``): ``step_relevant_optimizers`` steps the ``latent_nerfs`` Adam (MLP + tri-planes) only
   in a consistency-only step, and ``vae.quant_conv`` / ``vae.post_quant_conv`` are in no optimizer at all.
   Ours steps one Adam over every parameter each step: the whole autoencoder (quant convs included), the MLP and
   all ``--scenes`` tri-planes (scenes x 393,216 values: 78.6 M at 200 scenes, 196.6 M at 500), a dense update
   whose cost grows with the scene count.
2. Gradients. The official step still computes the gradients of the tri-planes, the MLP and the quant convs
   (they require grad), and since nothing zeroes them in a joint step they accumulate in place into dense
   buffers (the tri-plane one [scenes, 3, 32, 64, 64]). Ours sets every gradient to None before its backward.
3. Autoencoder calls. Ours concatenates the step's encoder inputs (12 views + 3 real images) into one encoder
   call and its decoder inputs (12 renders + 12 view latents + 3 real latents) into one decoder call; the
   official makes two encoder calls (12, 3) and three decoder calls (12, 12, 3). The images and the work per
   image are the same (GroupNorm normalises each image alone); ours runs fewer, larger convolutions.
   Tri-plane gathers: both index the batch's planes once per step (shared by both render passes and the TV),
   so each backward scatters into one full-size [scenes, 3, 32, 64, 64] buffer; the official then adds it into
   its accumulated gradient (item 2).
4. The official coarse ray march (only used to place the importance samples) is recorded by autograd (only
   ``sample_importance`` is under ``no_grad``); ours runs it under ``no_grad``. Neither backpropagates through it.
5. The official step calls ``.item()`` on each loss term and sum for its meters (device syncs on CUDA) and
   torchmetrics' LPIPS checks the input range (``min``/``max``) and updates its running state; ours does neither
   (its LPIPS is the ``lpips`` package's; both are the AlexNet LPIPS v0.1 network, frozen).
6. Poses: random over the sphere (official) against one fixed camera (ours); the same ray and sample counts.
   Plane projection: EG3D's (x, y), (x, z), (z, x) via a batched matrix product (official) against the
   orthogonal planes by indexing (ours); the same grid_sample work. The official VAE is in eval mode, ours in
   train mode; AutoencoderKL has no dropout or batch norm, so the work is the same.

Stage 1: the official step re-encodes the 32 views every step (its latent cache is never read, see above), ours
reads the cached latents. Official: encoder forward on 32 views (frozen, so no graph, except through
``quant_conv``, which ``freeze_encoder`` misses: it gets gradients that nothing steps or zeroes), rendering,
loss_e + TV, backward into the tri-planes and MLP, and a step of the ``latent_nerfs`` Adam (the MLP and all
tri-planes). Ours: rendering, L_latent + TV, backward into the tri-planes and MLP, one Adam step over them.
"""

from __future__ import annotations

import argparse
import importlib.machinery
import json
import os
import resource
import statistics
import subprocess
import sys
import time
import types
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # torch is imported in the children only: the parent's RSS must not leak into theirs
    import torch

IMPLEMENTATIONS = {"official": "official (k-kassab/igae)", "ours": "this project"}
#: consistency views and real images per step of each stage (configs/igae.yaml, train_default.yaml)
STAGE_BATCHES = {"train": (12, 3), "warmup": (32, 0)}
IMAGE_SIZE, TINY_IMAGE_SIZE = 128, 64
#: tri-plane features / resolution, MLP hidden units (config ``latent_nerf``; OSGDecoder's fixed hidden_dim)
TRIPLANE = {"features": 32, "resolution": 64, "hidden": 64}
#: ray sampling (config ``latent_nerf.rendering_options``)
VOLUME = {"near": 0.5, "far": 2.1, "coarse_samples": 48, "importance_samples": 48}
#: the paper's cameras (``DatasetIntrinsicsManager['train/objaverse']``)
CAMERA_RADIUS, FOCAL = 1.3, 1.09375
#: smoke tests only: a small AutoencoderKL with the ostris latent shape (16 channels, downsampling 8)
TINY_AUTOENCODER = {"block_out_channels": (8, 8, 16, 16), "norm_num_groups": 4, "layers_per_block": 1}
RESULT_PREFIX = "RESULT "


# ---------------------------------------------------------------------------------------------------- children


def autoencoder_architecture(tiny: bool) -> dict[str, Any]:
    """The diffusers AutoencoderKL configuration both sides build: the ostris KL-f8-d16 one, or the tiny one."""
    from igae.training.bench import OSTRIS_ARCHITECTURE

    return {**OSTRIS_ARCHITECTURE, **TINY_AUTOENCODER} if tiny else dict(OSTRIS_ARCHITECTURE)


def time_steps(step: Callable[[], None], warmup: int, steps: int, device: str) -> list[float]:
    """Run ``warmup`` untimed steps, reset the CUDA memory peak, then time each of ``steps`` steps (synchronised
    on CUDA so that a step's time includes its kernels)."""
    import torch

    cuda = device.startswith("cuda")
    for _ in range(warmup):
        step()
    if cuda:
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
    seconds = []
    for _ in range(steps):
        start = time.perf_counter()
        step()
        if cuda:
            torch.cuda.synchronize(device)
        seconds.append(time.perf_counter() - start)
    return seconds


def process_report(device: str) -> dict[str, Any]:
    """Peak memory of this process, the machine and the library versions."""
    import diffusers
    import torch
    import torchmetrics

    from igae.hardware import machine_description

    report: dict[str, Any] = {"peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}
    if device.startswith("cuda"):
        report["peak_cuda_mb"] = round(torch.cuda.max_memory_allocated(device) / 2**20)
    report["machine"] = machine_description(device)
    report["versions"] = {
        "torch": torch.__version__,
        "diffusers": diffusers.__version__,
        "torchmetrics": torchmetrics.__version__,
    }
    return report


class SingleProcessAccelerator:
    """What the official ``Trainer`` uses of ``accelerate.Accelerator``, as it behaves on one process without mixed
    precision: ``prepare`` hands its arguments back (the models are already on the device), ``backward`` is
    ``loss.backward()``."""

    num_processes = 1
    is_main_process = True
    is_local_main_process = True

    def __init__(self, device: str):
        import torch

        self.device = torch.device(device)

    def prepare(self, *objects: Any) -> tuple[Any, ...]:
        return objects

    def backward(self, loss: torch.Tensor) -> None:
        loss.backward()

    def wait_for_everyone(self) -> None:
        pass

    def unwrap_model(self, model: torch.nn.Module) -> torch.nn.Module:
        return model


def import_official(checkout: str) -> dict[str, Any]:
    """Import the official modules from ``checkout/igae_training`` with ``wandb`` stubbed (see the module
    docstring); returns the objects the benchmark uses."""
    import diffusers  # noqa: F401  (before the stub: its import-time package checks must see wandb absent)
    import torchmetrics.image.lpip  # noqa: F401  (same)

    stub = types.ModuleType("wandb")
    stub.__spec__ = importlib.machinery.ModuleSpec("wandb", None)  # find_spec raises on a module without one
    sys.modules["wandb"] = stub
    root = os.path.join(os.path.abspath(checkout), "igae_training")
    sys.path.insert(0, root)

    import ae
    import ae.trainers as trainers
    from ae.camera_utils import LazyPoseSampler
    from ae.normalizer import TanhNormalizer
    from ae.utils import load_config, remove_empty_categories
    from prodict import Prodict

    if not os.path.abspath(ae.__file__).startswith(root):
        raise SystemExit(f"the module 'ae' was imported from {ae.__file__}, not from {root}")
    return {
        "configs": os.path.join(root, "configs"),
        "trainers": trainers,
        "LazyPoseSampler": LazyPoseSampler,
        "TanhNormalizer": TanhNormalizer,
        "load_config": load_config,
        "remove_empty_categories": remove_empty_categories,
        "Prodict": Prodict,
    }


def official_parameter_groups(nerf_vae: torch.nn.Module, optimizers: dict[str, Any]) -> dict[str, dict[str, int]]:
    """Per part of the official NerfVAE: parameter count, how many have a gradient, how many an optimizer stepped
    (Adam creates a parameter's state on its first step)."""
    stepped = {
        id(p) for opt in optimizers.values() for group in opt.param_groups for p in group["params"] if p in opt.state
    }
    vae = nerf_vae.vae
    parts = {
        "encoder": vae.encoder,
        "quant_conv": vae.quant_conv,
        "decoder": vae.decoder,
        "post_quant_conv": vae.post_quant_conv,
        "mlp": nerf_vae.latent_renderer,
        "triplanes": nerf_vae.latent_nerfs,
        "lpips": nerf_vae.perceptual_loss,
    }
    groups = {}
    for name, module in parts.items():
        if module is None:  # use_quant_conv / use_post_quant_conv false
            continue
        params = list(module.parameters())
        groups[name] = {
            "parameters": sum(p.numel() for p in params),
            "with_gradient": sum(p.numel() for p in params if p.grad is not None),
            "stepped": sum(p.numel() for p in params if id(p) in stepped),
        }
    return groups


def run_official(args: argparse.Namespace) -> dict[str, Any]:
    """Build the official NerfVAE and Trainer as ``train.py`` would and time its step (see the module docstring)."""
    import torch
    from diffusers import AutoencoderKL

    official = import_official(args.official)
    trainers, prodict = official["trainers"], official["Prodict"]
    config = prodict.from_dict(
        official["load_config"](
            "igae.yaml", official["configs"], from_default=True, default_cfg_name="train_default.yaml"
        )
    )
    config = official["remove_empty_categories"](config)
    t_args = config.train_args if args.stage == "train" else config.pretrain_args
    config.wandb.apply = False
    config.dataset.img_size = args.image_size
    t_args.consistency.batch_size = args.batch
    if args.stage == "warmup":
        t_args.cache_latents.apply = False  # the step never reads the cache (module docstring)
    else:
        t_args.injection.batch_size = args.real_batch
    nerf, rendering = config.latent_nerf, config.latent_nerf.rendering_options
    official_volume = [getattr(rendering, key) for key in ("ray_start", "ray_end", "depth_resolution")]
    official_volume.append(rendering.depth_resolution_importance)
    if official_volume != list(VOLUME.values()):  # the comparison is only fair at the same size
        raise SystemExit(f"the official rendering options {official_volume} differ from {VOLUME}")
    if [nerf.n_local_features, nerf.triplane_resolution] != [TRIPLANE["features"], TRIPLANE["resolution"]]:
        raise SystemExit(f"the official tri-plane size differs from {TRIPLANE}")

    architecture = autoencoder_architecture(args.tiny_autoencoder)

    def random_vae(_manager: Any) -> AutoencoderKL:  # replaces BaselineVaeManager.get_vae (no download)
        return AutoencoderKL(**architecture).eval()  # from_pretrained returns the model in eval mode

    trainers.BaselineVaeManager.get_vae = random_vae
    torch.manual_seed(0)
    vae, renderer, nerfs = trainers.init_models(config, args.scenes)
    normalizer = official["TanhNormalizer"](scale=config.vae.normalization.scale, eps=config.vae.normalization.eps)
    nerf_vae = trainers.NerfVAE(vae, renderer, nerfs, normalizer).to(args.device)
    placeholder = [{}]  # the Trainer builds data loaders over these; they are never iterated
    trainer = trainers.Trainer(
        config=config,
        t_args=t_args,
        expname=config.exp_name,
        accelerator=SingleProcessAccelerator(args.device),
        multi_scene_set=placeholder,
        injection_set=placeholder if t_args.injection.apply else None,
        nerf_vae=nerf_vae,
        normalizer=normalizer,
        evaluator=None,
        repo_path=os.path.join(os.path.abspath(args.official), "igae_training"),
    )

    sampler = official["LazyPoseSampler"]("train/objaverse")
    if (sampler.camera_distance, sampler.focal) != (CAMERA_RADIUS, FOCAL):
        raise SystemExit(f"the official cameras differ from radius {CAMERA_RADIUS}, focal {FOCAL}")
    size = args.image_size

    def images(count: int) -> torch.Tensor:  # [count, 3, size, size] in [-1, 1], as the official datasets give
        return torch.randint(0, 256, (count, 3, size, size), device=args.device).float() / 127.5 - 1

    consistency = {
        "img": images(args.batch),  # [B, 3, H, W]
        "pose": sampler.sample_pose(args.batch, device=args.device),  # [B, 25]
        "scene_idx": torch.randint(0, args.scenes, (args.batch,), device=args.device),  # [B]
    }
    injection = {"img": images(args.real_batch)}  # [b, 3, H, W]

    def step() -> None:
        if t_args.injection.apply:  # the train loop injects every `every`=1 iteration
            trainer.consistency_and_injection_iter(consistency, injection, strategy=t_args.injection.strategy)
        else:
            trainer.consistency_iter(consistency)

    seconds = time_steps(step, args.warmup, args.steps, args.device)
    return {
        "implementation": "official",
        "step_seconds": seconds,
        "mean_step_seconds": statistics.fmean(seconds),
        "timing": f"{args.warmup} untimed + {args.steps} timed steps, each timed",
        "optimizers": sorted(trainer.optimizers),
        "stepped_optimizers": sorted(name for name, opt in trainer.optimizers.items() if opt.state),
        "parameter_groups": official_parameter_groups(nerf_vae, trainer.optimizers),
        **process_report(args.device),
    }


def run_ours(args: argparse.Namespace) -> dict[str, Any]:
    """Time :func:`igae.training.bench.benchmark_igae_step` at the same size, recording the Adam it builds."""
    import torch

    import igae.training.bench as bench
    from igae.config import load_config
    from igae.config.tree import TriplaneConfig, VolumeConfig

    optimizers: list[torch.optim.Adam] = []

    class RecordingAdam(torch.optim.Adam):
        """torch's Adam, remembering its instances so that the child can report what was stepped."""

        def __init__(self, *a: Any, **kw: Any):
            super().__init__(*a, **kw)
            optimizers.append(self)

    torch.optim.Adam = RecordingAdam
    if args.tiny_autoencoder:
        bench.OSTRIS_ARCHITECTURE = autoencoder_architecture(True)
    result = bench.benchmark_igae_step(
        scenes=args.scenes,
        batch_size=args.batch,
        real_batch_size=args.real_batch,
        image_size=args.image_size,
        steps=args.steps,
        model=TriplaneConfig(**TRIPLANE, plane_axes="orthogonal"),
        volume=VolumeConfig(**VOLUME, stratified=True),
        weights=getattr(load_config(preset="paper").igae, args.stage).weights,
        device=args.device,
        stage=args.stage,
    )
    params = [p for opt in optimizers for group in opt.param_groups for p in group["params"]]
    autoencoder = result["autoencoder_parameters"]
    total = sum(p.numel() for p in params)
    return {
        "implementation": "ours",
        "step_seconds": None,
        "mean_step_seconds": result["seconds_per_step"],
        "timing": f"1 untimed + {args.steps} timed steps, timed together (benchmark_igae_step)",
        "optimizers": [type(opt).__base__.__name__ for opt in optimizers],
        "parameter_groups": {
            "all (one Adam)": {
                "parameters": total,
                "with_gradient": sum(p.numel() for p in params if p.grad is not None),
                "stepped": sum(p.numel() for opt in optimizers for p in opt.state),
            },
            "of which autoencoder": {"parameters": autoencoder},
            "of which tri-planes + MLP": {"parameters": total - autoencoder},
        },
        "benchmark_igae_step": result,
        **process_report(args.device),
    }


def run_child(args: argparse.Namespace) -> None:
    """Child process: set the threads, time one implementation, print its JSON line."""
    import torch

    torch.set_num_threads(args.threads)
    run = run_official if args.child == "official" else run_ours
    if args.profile is None:
        result = run(args)
    else:  # every step of the child (warm-up included), per operator, sorted by self CPU time
        with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as profiler:
            result = run(args)
        table = profiler.key_averages().table(sort_by="self_cpu_time_total", row_limit=40, max_name_column_width=60)
        os.makedirs(args.profile, exist_ok=True)
        with open(os.path.join(args.profile, f"{args.child}.txt"), "w") as out:
            out.write(table)
    print(RESULT_PREFIX + json.dumps(result), flush=True)


# ------------------------------------------------------------------------------------------------------ parent


def measure(args: argparse.Namespace, implementation: str) -> dict[str, Any]:
    """One fresh child process timing ``implementation``; its JSON result (exit on failure)."""
    command = [sys.executable, os.path.abspath(__file__), "--child", implementation]
    for option in ("official", "stage", "scenes", "image_size", "batch", "real_batch", "threads", "device"):
        command += [f"--{option.replace('_', '-')}", str(getattr(args, option))]
    command += ["--steps", str(args.steps), "--warmup", str(args.warmup)]
    command += ["--tiny-autoencoder"] if args.tiny_autoencoder else []
    command += ["--profile", args.profile] if args.profile else []
    threads = str(args.threads)  # also for OpenMP / BLAS pools outside torch's intra-op one
    env = {**os.environ, "OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads, "OPENBLAS_NUM_THREADS": threads}
    completed = subprocess.run(command, stdout=subprocess.PIPE, text=True, env=env)  # stderr passes through
    lines = [line for line in completed.stdout.splitlines() if line.startswith(RESULT_PREFIX)]
    if completed.returncode != 0 or not lines:
        sys.stdout.write(completed.stdout[-4000:])
        raise SystemExit(f"the {implementation} child failed (exit status {completed.returncode})")
    return json.loads(lines[-1][len(RESULT_PREFIX) :])


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Median and range of the per-round mean s/step, peak memory over rounds."""
    seconds = [run["mean_step_seconds"] for run in runs]
    summary = {
        "median_s": statistics.median(seconds),
        "min_s": min(seconds),
        "max_s": max(seconds),
        "peak_rss_mb": max(run["peak_rss_mb"] for run in runs),
    }
    if "peak_cuda_mb" in runs[0]:
        summary["peak_cuda_mb"] = max(run["peak_cuda_mb"] for run in runs)
    return summary


def stepped_line(run: dict[str, Any]) -> str:
    """What one step of ``run`` trained, and what got gradients without being stepped."""
    groups = run["parameter_groups"]
    stepped = [f"{name} ({g['stepped']:,})" for name, g in groups.items() if g.get("stepped")]
    idle = [
        f"{name} ({g['with_gradient']:,})"
        for name, g in groups.items()
        if g.get("with_gradient", 0) > g.get("stepped", 0)
    ]
    return (
        f"stepped: {', '.join(stepped) or 'nothing'}; gradients computed but not stepped: {', '.join(idle) or 'none'}"
    )


def report(args: argparse.Namespace, results: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Print the Markdown comparison; return everything for ``--out``."""
    from igae.hardware import describe_machine

    summaries = {name: summarise(runs) for name, runs in results.items()}
    first = next(iter(results.values()))[0]
    cuda = args.device.startswith("cuda")
    architecture = "tiny smoke-test AutoencoderKL" if args.tiny_autoencoder else "ostris KL-f8-d16 architecture"
    stage = "stage 2 (train)" if args.stage == "train" else "stage 1 (warm-up)"
    real = f" + {args.real_batch} real" if args.stage == "train" else ""
    configuration = (
        f"{stage}; {args.scenes} scenes, tri-planes [3, {TRIPLANE['features']}, {TRIPLANE['resolution']}, "
        f"{TRIPLANE['resolution']}], MLP hidden {TRIPLANE['hidden']}; {args.image_size}x{args.image_size} images, "
        f"images per step: {args.batch} views{real}; {VOLUME['coarse_samples']} + {VOLUME['importance_samples']} "
        f"samples per ray in [{VOLUME['near']}, {VOLUME['far']}]; autoencoder: {architecture}, random weights; "
        f"device {args.device}, threads {args.threads}; warm-up steps {args.warmup}, timed steps {args.steps}, "
        f"rounds {args.rounds}"
    )
    versions = ", ".join(f"{name} {version}" for name, version in first["versions"].items())
    print(f"## IG-AE step: official code vs this project\n\nMachine: {describe_machine(first['machine'])}")
    print(f"Versions: {versions}")
    print(f"Configuration: {configuration}\n")
    print("| implementation | median s/step | min-max s/step | peak RSS MB |" + (" peak CUDA MB |" if cuda else ""))
    print("|---|---|---|---|" + ("---|" if cuda else ""))
    for name, s in summaries.items():
        row = f"| {IMPLEMENTATIONS[name]} | {s['median_s']:.3f} | {s['min_s']:.3f}-{s['max_s']:.3f} "
        row += f"| {s['peak_rss_mb']} |"
        print(row + (f" {s['peak_cuda_mb']} |" if cuda else ""))
    ratio = summaries["official"]["median_s"] / summaries["ours"]["median_s"]
    print(f"\nRatio official/ours of the median s/step: {ratio:.2f} (> 1: this project's step is faster)")
    if args.warmup != 1:
        print(f"Note: benchmark_igae_step always runs 1 warm-up step (--warmup {args.warmup} is the official side's).")
    print()
    for name, runs in results.items():
        print(f"- {IMPLEMENTATIONS[name]}: {stepped_line(runs[-1])}")
    return {"configuration": configuration, "summaries": summaries, "ratio_official_over_ours": ratio, "runs": results}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--official", help="checkout of github.com/k-kassab/igae (holding igae_training/)")
    parser.add_argument("--stage", choices=("train", "warmup"), default="train", help="stage 2 (default) or 1")
    parser.add_argument("--scenes", type=int, default=200)
    parser.add_argument("--image-size", type=int, default=None, help=f"default {IMAGE_SIZE} ({TINY_IMAGE_SIZE} tiny)")
    parser.add_argument("--batch", type=int, default=None, help="posed views per step (default 12; stage 1: 32)")
    parser.add_argument("--real-batch", type=int, default=None, help="real images per step (default 3; stage 1: 0)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu", help="cpu or cuda[:N]")
    parser.add_argument("--steps", type=int, default=2, help="timed steps per measurement")
    parser.add_argument("--warmup", type=int, default=1, help="untimed steps before them (official side)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", help="also write the results as JSON to this file")
    parser.add_argument("--tiny-autoencoder", action="store_true", help="smoke tests: small AE, 64x64 images")
    parser.add_argument("--profile", metavar="DIR", help="write each child's torch.profiler table to DIR/<side>.txt")
    parser.add_argument("--child", choices=tuple(IMPLEMENTATIONS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    views, real = STAGE_BATCHES[args.stage]
    args.batch = views if args.batch is None else args.batch
    args.real_batch = real if args.real_batch is None or args.stage == "warmup" else args.real_batch
    if args.image_size is None:
        args.image_size = TINY_IMAGE_SIZE if args.tiny_autoencoder else IMAGE_SIZE
    if args.official is None and args.child != "ours":
        parser.error("--official PATH (a checkout of k-kassab/igae) is required")
    return args


def main() -> None:
    args = parse_args()
    if args.child:
        run_child(args)
        return
    implementations = ["official", "ours"]
    results: dict[str, list[dict[str, Any]]] = {name: [] for name in implementations}
    for round_index in range(args.rounds):
        order = implementations if round_index % 2 == 0 else implementations[::-1]
        for name in order:
            results[name].append(measure(args, name))
            print(
                f"round {round_index + 1}/{args.rounds}: {name} {results[name][-1]['mean_step_seconds']:.3f} s/step",
                file=sys.stderr,
            )
    everything = report(args, results)
    if args.out:
        with open(args.out, "w") as out:
            json.dump(everything, out, indent=2)


if __name__ == "__main__":
    main()
