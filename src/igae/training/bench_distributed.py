"""Distributed IG-AE step benchmark: steps/s, bytes communicated per step and peak memory per process, for this
project's scheme (tri-planes sharded by scene) and the official code's (every tri-plane replicated on every
process and all-reduced), measured side by side on ``world_size`` processes, and both computed at paper scale.

Each world size runs in its own processes (``torch.multiprocessing``; gloo on CPU, NCCL on CUDA), the real
:class:`igae.training.igae.IgaeObjective` in ``DistributedDataParallel`` with a communication hook that counts
the bytes of every gradient bucket it all-reduces. ``replicated`` puts the tri-planes inside DDP, as Accelerate
does in the official code: every process holds all of them and all-reduces their gradients (dense: the
gather's backward writes the full tensor), and each process takes B / W of the global batch's views.
Weights are random (a step's cost does not depend on them).
"""

from __future__ import annotations

import json
import os
import resource
import socket
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.distributed as dist
from torch.distributed.algorithms.ddp_comm_hooks.default_hooks import allreduce_hook

SCHEMES = ("sharded", "replicated")
#: Bytes per fp32 tri-plane value held by a process that trains it: the value, its gradient and Adam's 2 moments.
BYTES_PER_TRAINED_VALUE = 4 * 4


@dataclass(frozen=True)
class BenchmarkProblem:
    """The size of the benchmarked step."""

    scenes: int
    batch_size: int  # global views per step
    real_batch_size: int  # global real images per step
    image_size: int
    steps: int
    threads: int  # per process
    device: str


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class _ReplicatedPlanes(torch.nn.Module):
    """The official layout: the objective and every tri-plane in one DDP module."""

    def __init__(self, objective, planes):
        super().__init__()
        self.objective, self.planes = objective, planes

    def forward(self, *args):
        return self.objective(*args)


def _counting_hook(counter: list[int]):
    def hook(state, bucket):
        counter[0] += bucket.buffer().numel() * bucket.buffer().element_size()
        return allreduce_hook(state, bucket)

    return hook


def _worker(rank: int, world_size: int, port: int, scheme: str, problem: BenchmarkProblem, params, out: str) -> None:
    """One process of the benchmark: build, warm up one step, time ``problem.steps`` steps, write its figures."""
    from torch.nn.parallel import DistributedDataParallel

    from igae.autoencoders.embedded import build_embedded_autoencoder
    from igae.autoencoders.normalizer import TanhNormalizer
    from igae.data.multiview import PosedViews
    from igae.training.distributed import BatchShare, Processes, SceneShard
    from igae.training.igae import IgaeObjective, TriplaneModel, build_triplane_model

    torch.set_num_threads(problem.threads)
    processes = Processes(rank, world_size, rank)
    device = f"cuda:{rank}" if problem.device == "cuda" else problem.device
    if problem.device == "cuda":
        torch.cuda.set_device(rank)
    dist.init_process_group(
        "nccl" if problem.device == "cuda" else "gloo",
        init_method=f"tcp://127.0.0.1:{port}",
        rank=rank,
        world_size=world_size,
    )
    torch.manual_seed(0)
    autoencoder = build_embedded_autoencoder(
        params.autoencoder.embedded.architecture, params.autoencoder.latent_channels, problem.image_size
    ).to(device)
    stage = params.igae.train
    model = build_triplane_model(problem.scenes, autoencoder.latent_channels, params.igae.triplanes, seed=0)
    shard = (
        SceneShard.of(problem.scenes, processes)
        if scheme == "sharded"
        else SceneShard(0, problem.scenes, problem.scenes)
    )
    model = TriplaneModel(
        model.planes.holding(shard.take(model.planes.planes.detach())).to(device), model.mlp.to(device)
    )
    background = torch.full((autoencoder.latent_channels,), 0.5, device=device)
    generator = torch.Generator(device=device).manual_seed(0)
    objective = IgaeObjective(
        autoencoder, model, TanhNormalizer(0.06), params.igae.rendering, background, stage.weights, generator
    )
    module = objective if scheme == "sharded" else _ReplicatedPlanes(objective, model.planes)
    ddp = DistributedDataParallel(module, forward_sync_buffers=False, gradient_as_bucket_view=True)
    communicated = [0]
    ddp.register_comm_hook(None, _counting_hook(communicated))
    optimizer = torch.optim.Adam([*autoencoder.parameters(), *model.parameters()], lr=1e-5)
    data = torch.Generator().manual_seed(1)
    size = problem.image_size
    intrinsics = torch.tensor([[1.09375, 0, 0.5], [0, 1.09375, 0.5], [0, 0, 1.0]])
    camera = torch.eye(4)
    camera[2, 3] = -1.3
    all_views = PosedViews(
        torch.randint(0, 256, (problem.batch_size, 3, size, size), dtype=torch.uint8, generator=data),
        camera.expand(problem.batch_size, 4, 4).clone(),
        intrinsics.expand(problem.batch_size, 3, 3).clone(),
        torch.randint(0, problem.scenes, (problem.batch_size,), generator=data),
        [str(i) for i in range(problem.scenes)],
    )
    real = torch.randint(0, 256, (problem.real_batch_size, 3, size, size), dtype=torch.uint8, generator=data)
    if scheme == "sharded":  # the views of this process's scenes
        view_rows = shard.owns(all_views.scene_ids).nonzero().squeeze(1)
    else:  # B / W views of any scene (Accelerate splits the batch)
        view_rows = torch.arange(problem.batch_size)[rank::world_size]
    views = all_views.subset(view_rows)
    views = type(views)(views.images, views.cam_to_world, views.intrinsics, views.scene_ids - shard.start, views.scenes)
    real_rows = torch.arange(problem.real_batch_size)[rank::world_size]
    share = BatchShare(view_rows, problem.batch_size, real_rows, problem.real_batch_size, world_size)

    def step() -> None:
        total, _ = ddp(views, real[real_rows], None, share)
        optimizer.zero_grad(set_to_none=True)
        total.backward()
        if scheme == "sharded" and model.planes.planes.grad is not None:
            model.planes.planes.grad.div_(world_size)
        optimizer.step()

    step()
    if problem.device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    dist.barrier()
    communicated[0] = 0
    start = time.perf_counter()
    for _ in range(problem.steps):
        step()
    if problem.device == "cuda":
        torch.cuda.synchronize()
    dist.barrier()
    seconds = (time.perf_counter() - start) / problem.steps
    planes = model.planes.planes
    figures = {
        "rank": rank,
        "seconds_per_step": seconds,
        "allreduce_bytes_per_step": communicated[0] / problem.steps,
        "planes_held": len(planes),
        "planes_state_mb": planes.numel() * BYTES_PER_TRAINED_VALUE / 2**20,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        **({"peak_cuda_mb": torch.cuda.max_memory_allocated() / 2**20} if problem.device == "cuda" else {}),
        "views_on_rank": len(view_rows),
    }
    Path(out, f"{scheme}-{world_size}-{rank}.json").write_text(json.dumps(figures))
    dist.destroy_process_group()


def measure(scheme: str, world_size: int, problem: BenchmarkProblem, params) -> dict:
    """One scheme on ``world_size`` processes: the mean step time, the bytes each all-reduced per step and the
    largest peak memory of any process."""
    import torch.multiprocessing as mp

    with tempfile.TemporaryDirectory() as out:
        env = {"OMP_NUM_THREADS": str(problem.threads)}
        os.environ.update(env)
        mp.spawn(_worker, args=(world_size, _free_port(), scheme, problem, params, out), nprocs=world_size)
        ranks = [json.loads(Path(out, f"{scheme}-{world_size}-{r}.json").read_text()) for r in range(world_size)]
    seconds = max(rank["seconds_per_step"] for rank in ranks)
    payload = ranks[0]["allreduce_bytes_per_step"]
    return {
        "scheme": scheme,
        "world_size": world_size,
        "steps_per_second": round(1 / seconds, 3),
        "allreduce_payload_mb_per_step": round(payload / 2**20, 3),
        # a ring all-reduce sends 2 (W - 1) / W of the payload from every process
        "sent_mb_per_step_per_rank": round(payload * 2 * (world_size - 1) / world_size / 2**20, 3),
        "planes_per_rank": max(rank["planes_held"] for rank in ranks),
        "planes_state_mb_per_rank": round(max(rank["planes_state_mb"] for rank in ranks), 1),
        "peak_rss_mb_per_rank": round(max(rank["peak_rss_mb"] for rank in ranks)),
        **(
            {"peak_cuda_mb_per_rank": round(max(rank["peak_cuda_mb"] for rank in ranks))}
            if problem.device == "cuda"
            else {}
        ),
    }


def ostris_parameters() -> int:
    """Parameters of the ostris KL-f8-d16 autoencoder (the paper's), counted on the diffusers model."""
    from diffusers import AutoencoderKL

    from igae.training.bench import OSTRIS_ARCHITECTURE

    return sum(p.numel() for p in AutoencoderKL(**OSTRIS_ARCHITECTURE).parameters())


def paper_scale_figures(world_size: int, autoencoder_parameters: int, scenes: int = 500) -> list[dict]:
    """Both schemes computed at the paper's scale (500 tri-planes of [3, 32, 64, 64], the ostris KL-f8-d16 AE of
    ``autoencoder_parameters``, the MLP 32 -> 64 -> 17), per process, for stage 2: what is all-reduced per step
    and what the planes, their gradients and Adam moments take."""
    plane_values = scenes * 3 * 32 * 64 * 64
    mlp = 32 * 64 + 64 + 64 * 17 + 17
    rows = []
    for scheme in SCHEMES:
        held = scenes if scheme == "replicated" else -(-scenes // world_size)
        payload = 4 * (autoencoder_parameters + mlp + (plane_values if scheme == "replicated" else 0))
        rows.append(
            {
                "scheme": scheme,
                "world_size": world_size,
                "scenes": scenes,
                "allreduce_payload_mb_per_step": round(payload / 2**20, 1),
                "sent_mb_per_step_per_rank": round(payload * 2 * (world_size - 1) / world_size / 2**20, 1),
                "planes_per_rank": held,
                "planes_state_mb_per_rank": round(held * 3 * 32 * 64 * 64 * BYTES_PER_TRAINED_VALUE / 2**20, 1),
            }
        )
    return rows


def markdown(measured: list[dict], computed: list[dict], problem: BenchmarkProblem, machine: dict) -> str:
    """The figures as two Markdown tables, with what they were measured on."""
    lines = [
        f"Measured: {problem.scenes} scenes, global batch {problem.batch_size} views + {problem.real_batch_size} real "
        f"images at {problem.image_size}^2, {problem.steps} timed steps, {problem.threads} thread(s) per process, "
        f"{problem.device} ({machine.get('cpu', '')}, torch {machine.get('torch', '')}).",
        "",
        "| scheme | processes | steps/s | all-reduced MB/step | sent MB/step/rank | planes/rank"
        " | planes+grad+Adam MB/rank | peak RSS MB/rank |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in measured:
        lines.append(
            f"| {row['scheme']} | {row['world_size']} | {row['steps_per_second']}"
            f" | {row['allreduce_payload_mb_per_step']} | {row['sent_mb_per_step_per_rank']} | {row['planes_per_rank']}"
            f" | {row['planes_state_mb_per_rank']} | {row['peak_rss_mb_per_rank']} |"
        )
    lines += [
        "",
        "Computed at paper scale (stage 2: 500 tri-planes [3, 32, 64, 64], ostris KL-f8-d16 autoencoder, fp32):",
        "",
        "| scheme | processes | all-reduced MB/step | sent MB/step/rank | planes/rank | planes+grad+Adam MB/rank |",
        "|---|---|---|---|---|---|",
    ]
    for row in computed:
        lines.append(
            f"| {row['scheme']} | {row['world_size']} | {row['allreduce_payload_mb_per_step']}"
            f" | {row['sent_mb_per_step_per_rank']} | {row['planes_per_rank']} | {row['planes_state_mb_per_rank']} |"
        )
    return "\n".join(lines) + "\n"


def benchmark_distributed(params, world_sizes: list[int], problem: BenchmarkProblem) -> dict:
    """Every scheme at every world size (world size 1: one scheme, nothing to all-reduce but the replicated
    modules' gradients), and the paper-scale figures."""
    from igae.hardware import machine_description

    measured = []
    for world_size in world_sizes:
        for scheme in SCHEMES if world_size > 1 else SCHEMES[:1]:
            measured.append(measure(scheme, world_size, problem, params))
    autoencoder_parameters = ostris_parameters()
    computed = [
        row
        for world_size in world_sizes
        if world_size > 1
        for row in paper_scale_figures(world_size, autoencoder_parameters)
    ]
    machine = machine_description(problem.device)
    return {
        "benchmark": "igae_distributed_step",
        "machine": machine,
        "problem": problem.__dict__,
        "measured": measured,
        "paper_scale": computed,
        "markdown": markdown(measured, computed, problem, machine),
    }
