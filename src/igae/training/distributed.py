"""IG-AE training on several processes (torch.distributed): the autoencoder and the shared MLP data-parallel,
the tri-planes sharded by scene.

A run on ``W`` processes is the run on one, split (``igae_spec.md`` §3, the training loop):

* **Scenes are sharded**: process ``r`` owns a contiguous block of scenes (:class:`SceneShard`) and holds only
  their tri-planes and the planes' optimiser state, so plane memory per process falls as 1 / W and plane
  gradients never cross the network. The autoencoder and the MLP are replicated and wrapped in
  ``DistributedDataParallel`` (the objective module, :class:`igae.training.igae.IgaeObjective`): their gradients
  are all-reduced in buckets, overlapped with the backward pass. DDP rather than FSDP: the models that
  are replicated are small (the paper's ostris KL-f8-d16 is 57 M parameters, 0.23 GB in fp32; the MLP is tiny) next to
  the planes, which are what outgrows a GPU and which sharding by scene already removes from every other process;
  FSDP would add an all-gather of the weights to every forward and backward for memory IG-AE does not need.
* **Every process draws the same global batch**: the permutation of the training views and the order of the real
  images come from generators seeded alike on every process; each keeps the views of its scenes and every W-th
  real image (none repeated), a :class:`BatchShare` of the global batch. Random draws (posterior samples, render
  jitter) are made for the global batch and sliced, so a view gets the same noise whichever process renders it.
* **The loss is the global one**: each term is the process's share of the global term (means over the global
  counts, :meth:`BatchShare.views_share`; sums of squares of the total-variation terms all-reduced before their
  root), so the shares of all processes add up to the one-process loss. DDP averages gradients over W, so each
  process back-propagates W x its share; the tri-planes, outside DDP, divide their gradient by W again. A process
  whose share of a step is empty still joins every collective and touches every replicated parameter with a zero
  weight, so DDP needs no ``find_unused_parameters`` search (the official Accelerate setup enables it).

Processes are started the standard way, by ``torchrun`` (its environment: ``RANK``, ``WORLD_SIZE``,
``LOCAL_RANK``, ``MASTER_ADDR``/``MASTER_PORT``) or by ``srun`` (``SLURM_PROCID``, ``SLURM_NTASKS``,
``SLURM_LOCALID``, the first node of ``SLURM_STEP_NODELIST`` as the rendezvous host); :func:`start` joins the
process group (NCCL on CUDA, gloo on CPU). Rank 0 alone logs, monitors and writes checkpoints and outputs; a
checkpoint holds every process's planes gathered to rank 0, in the one-process layout, so a run resumes on any
world size.
"""

from __future__ import annotations

import datetime
import logging
import os
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.distributed as dist

from igae.errors import IgaeError
from igae.triplanes.triplane import finite_differences

log = logging.getLogger(__name__)

#: How long a collective waits for the other processes before the run stops with an error (a hung or lost peer).
DEFAULT_TIMEOUT = datetime.timedelta(minutes=30)


class DistributedError(IgaeError):
    """A distributed run cannot start or has lost one of its processes."""


@dataclass(frozen=True)
class Processes:
    """This process's place in the run: ``rank`` of ``world_size``, ``local_rank`` on its node."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def describe(self) -> str:
        return f"rank {self.rank} of {self.world_size}"


SINGLE = Processes()


def launch_environment(environ: dict[str, str] | None = None) -> tuple[Processes, str | None, str | None]:
    """The process's rank, world size and local rank, and the rendezvous host and port, from the launcher's
    variables: torchrun's first, then srun's; a process started alone is rank 0 of 1."""
    env = os.environ if environ is None else environ
    if "WORLD_SIZE" in env and "RANK" in env:  # torchrun (or any launcher that sets its variables)
        processes = Processes(int(env["RANK"]), int(env["WORLD_SIZE"]), int(env.get("LOCAL_RANK", "0")))
        return processes, env.get("MASTER_ADDR"), env.get("MASTER_PORT")
    if "SLURM_PROCID" in env and "SLURM_NTASKS" in env and "SLURM_STEP_ID" in env:  # a task of an srun step
        processes = Processes(int(env["SLURM_PROCID"]), int(env["SLURM_NTASKS"]), int(env.get("SLURM_LOCALID", "0")))
        host = env.get("MASTER_ADDR") or first_host(env.get("SLURM_STEP_NODELIST") or env.get("SLURM_NODELIST", ""))
        # One port per job step, the same on every task: derived from the job and step ids.
        step = int(env.get("SLURM_JOB_ID", "0")) * 7 + int(env["SLURM_STEP_ID"])
        port = env.get("MASTER_PORT") or str(20000 + step % 20000)
        return processes, host, port
    return SINGLE, None, None


def first_host(nodelist: str) -> str:
    """The first host of a SLURM node list (``node[03-05],gpu7`` -> ``node03``), expanded by ``scontrol``
    where the list is compressed."""
    if not nodelist:
        return "127.0.0.1"
    if "[" not in nodelist:
        return nodelist.split(",")[0]
    result = subprocess.run(["scontrol", "show", "hostnames", nodelist], capture_output=True, text=True, check=False)
    if result.returncode != 0 or not result.stdout.strip():
        raise DistributedError(f"cannot expand the SLURM node list '{nodelist}' (scontrol: {result.stderr.strip()})")
    return result.stdout.split()[0]


def start(expected_world_size: int, device: str, timeout: datetime.timedelta = DEFAULT_TIMEOUT) -> Processes:
    """Join the run's process group, or return :data:`SINGLE` for a one-process run.

    ``expected_world_size`` is ``igae.world_size``: a process started alone when it says more, or a launcher
    that started another count, is an error that says how to launch. Sets the CUDA device to the local rank."""
    processes, host, port = launch_environment()
    if processes.world_size != expected_world_size:
        if processes.world_size == 1:
            raise DistributedError(
                f"igae.world_size is {expected_world_size}, but this process was started alone: launch it with "
                f"`torchrun --nproc-per-node {expected_world_size} --no-python igae ...` or "
                f"`srun --ntasks {expected_world_size} igae ...` (or set igae.world_size: 1)"
            )
        raise DistributedError(
            f"igae.world_size is {expected_world_size}, but the launcher started {processes.world_size} processes: "
            "start as many processes as igae.world_size says"
        )
    if not processes.distributed:
        return processes
    if not processes.is_main:  # rank 0 alone logs progress; the others only warn
        logging.getLogger("igae").setLevel(logging.WARNING)
    if dist.is_initialized():
        return processes
    if host is None or port is None:
        raise DistributedError("a distributed launch without MASTER_ADDR / MASTER_PORT: use torchrun or srun")
    backend = "nccl" if device.startswith("cuda") else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(process_device(device, processes))
    dist.init_process_group(
        backend,
        init_method=f"tcp://{host}:{port}",
        rank=processes.rank,
        world_size=processes.world_size,
        timeout=timeout,
    )
    log.info("%s joined the %s process group at %s:%s", processes.describe(), backend, host, port)
    return processes


def finish(processes: Processes) -> None:
    """Wait for every process, then leave the process group (a no-op for one process)."""
    if processes.distributed and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def process_device(device: str, processes: Processes) -> str:
    """``cuda`` -> this process's GPU in a distributed run: ``cuda:<local rank>`` when the process sees every GPU
    of its node (torchrun), ``cuda:0`` when the launcher gave it one (``srun --gpus-per-task 1``); any other
    device unchanged."""
    if not processes.distributed or device != "cuda":
        return device
    return f"cuda:{processes.local_rank % max(1, torch.cuda.device_count())}"


@dataclass(frozen=True)
class SceneShard:
    """The scenes ``[start, stop)`` of ``count`` that one process owns: contiguous, balanced blocks, rank 0
    first (the monitored scenes are the first ones, so rank 0 usually owns them)."""

    start: int
    stop: int
    count: int

    @classmethod
    def of(cls, count: int, processes: Processes) -> SceneShard:
        if processes.world_size > count:
            raise DistributedError(
                f"igae.world_size is {processes.world_size}, but the run trains {count} scene(s): every process "
                "must own the tri-planes of at least one scene; lower igae.world_size or train more scenes "
                "(scenes.igae_train.count)"
            )
        start, stop = cls.bounds(count, processes.world_size, processes.rank)
        return cls(start, stop, count)

    @staticmethod
    def bounds(count: int, world_size: int, rank: int) -> tuple[int, int]:
        return rank * count // world_size, (rank + 1) * count // world_size

    @staticmethod
    def sizes(count: int, world_size: int, below: int | None = None) -> list[int]:
        """How many scenes each rank owns (of the first ``below`` scenes only, if given)."""
        limit = count if below is None else below
        blocks = (SceneShard.bounds(count, world_size, rank) for rank in range(world_size))
        return [max(0, min(stop, limit) - start) for start, stop in blocks]

    @property
    def size(self) -> int:
        return self.stop - self.start

    def owns(self, scene_ids: torch.Tensor) -> torch.Tensor:
        """Boolean mask [M]: which of the (global) ``scene_ids`` [M] this process owns."""
        return (scene_ids >= self.start) & (scene_ids < self.stop)

    def take(self, tensor: torch.Tensor) -> torch.Tensor:
        """This process's rows of a per-scene tensor [count, ...] (a copy)."""
        return tensor[self.start : self.stop].clone()


@dataclass(frozen=True)
class BatchShare:
    """One process's part of a global batch of ``views`` synthetic views and ``real`` real images:
    ``view_rows`` [B_r] and ``real_rows`` [b_r] are the positions of its views and real images in the global
    batch, ``world_size`` the number of processes that split it."""

    view_rows: torch.Tensor
    views: int
    real_rows: torch.Tensor
    real: int
    world_size: int = 1

    @classmethod
    def whole(cls, views: int, real: int) -> BatchShare:
        """The whole batch, on one process."""
        return cls(torch.arange(views), views, torch.arange(real), real, 1)

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    def views_share(self, mean: torch.Tensor) -> torch.Tensor:
        """A mean over this process's views -> its share of the mean over the global batch."""
        return _share(mean, len(self.view_rows), self.views)

    def real_share(self, mean: torch.Tensor) -> torch.Tensor:
        """A mean over this process's real images -> its share of the mean over the global ones."""
        return _share(mean, len(self.real_rows), self.real)


def _share(mean: torch.Tensor, local: int, total: int) -> torch.Tensor:
    return mean if local == total else mean * (local / total)


def global_total_variation(tensor: torch.Tensor | None, p: float, q: float, like: torch.Tensor) -> torch.Tensor:
    """This process's share of :func:`igae.triplanes.triplane.total_variation` over the global batch whose local
    part is ``tensor`` [b_r, ..., H, W] (None: no local part; ``like`` gives the trailing shape, dtype, device).

    TV_{p,q} = (S_y^{q/p} + S_x^{q/p}) / (H + W) with S the global sums of ``|d|^p``: the local sums are
    all-reduced in the forward pass (no collective in the backward pass, where its order against DDP's bucket
    all-reduces could differ between processes). The share's value is TV / W and its gradient the exact one,
    ``dTV/dS * dS_r`` (a first-order surrogate around S), so the W x share each process back-propagates
    averages, over DDP's mean, to the gradient of TV."""
    height, width = like.shape[-2:]
    if tensor is None or len(tensor) == 0:
        sums = torch.zeros(2, dtype=like.dtype, device=like.device)
    else:  # S_r: [2]
        sums = torch.stack([difference.abs().pow(p).sum() for difference in finite_differences(tensor)])
    total = sums.detach().clone()
    dist.all_reduce(total)  # S: [2]
    world_size, exponent = dist.get_world_size(), q / p
    value = total.pow(exponent).sum() / (height + width)
    slope = exponent * total.pow(exponent - 1) / (height + width)  # dTV/dS
    return value / world_size + (slope * (sums - sums.detach())).sum()


def all_reduce_sum(values: torch.Tensor, processes: Processes) -> torch.Tensor:
    """``values`` summed over the processes (unchanged for one)."""
    if processes.distributed:
        values = values.clone()
        dist.all_reduce(values)
    return values


def broadcast_random_state(generator: torch.Generator, processes: Processes) -> None:
    """Give every process rank 0's state of ``generator`` and of torch's default generator (after rank 0 alone
    has run the monitor, which draws from the first)."""
    if processes.distributed:
        states = [generator.get_state(), torch.get_rng_state()]
        dist.broadcast_object_list(states, src=0)
        generator.set_state(states[0])
        torch.set_rng_state(states[1])


def gather_scenes(local: torch.Tensor, sizes: Sequence[int], processes: Processes) -> torch.Tensor | None:
    """The per-scene tensors of all processes, rank by rank (``sizes`` [W]: each rank's row count; a rank of 0
    rows sends nothing), concatenated on rank 0's CPU (None on the others); rank 0 receives one process's block
    at a time, so it never holds more than one extra block on the device."""
    if not processes.distributed:
        return local.detach().cpu()
    local = local.detach().contiguous()
    if not processes.is_main:
        if sizes[processes.rank]:
            dist.send(local, dst=0)
        return None
    blocks = [local.cpu()]
    for rank in range(1, processes.world_size):
        if not sizes[rank]:
            continue
        block = torch.empty((sizes[rank], *local.shape[1:]), dtype=local.dtype, device=local.device)
        dist.recv(block, src=rank)
        blocks.append(block.cpu())
    return torch.cat(blocks)


#: What the backends' errors say when a peer has gone (gloo raises plain RuntimeErrors).
PEER_FAILURE_MARKS = ("gloo", "NCCL", "Connection reset", "Connection closed", "Broken pipe", "timed out")


def is_peer_failure(error: BaseException) -> bool:
    """Whether ``error`` is a collective that failed (a process died, hung or lost the network), not a bug."""
    return isinstance(error, dist.DistError) or any(mark in str(error) for mark in PEER_FAILURE_MARKS)


def lost_peer_error(error: BaseException, processes: Processes, step: int, checkpoint: str) -> DistributedError:
    """The error to stop with when a collective fails: which process, at which step, and how to resume."""
    first_line = str(error).splitlines()[0] if str(error) else "no message"
    return DistributedError(
        f"{processes.describe()}: a collective failed at step {step} ({type(error).__name__}: {first_line}); "
        f"another process has probably died or been killed (see its log). Rerun the same command: the run resumes "
        f"from its last checkpoint '{checkpoint}', on any world size."
    )
