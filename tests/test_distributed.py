"""IG-AE stages on torch.distributed, on CPU with gloo: two processes started by torchrun train the same model as
one, a killed process stops the run with a clear error, and the run resumes from its checkpoint on any world size.

The runs are tests/distributed_worker.py on a small problem: 4 scenes of 3 views, the test autoencoder, stage 1
(frozen autoencoder, cached latents: only the MLP is data-parallel) then stage 2 with the paper's loss weights
(every term; real images split 2 + 1 between the ranks). In the third epoch of each stage the last batch holds
only rank 0's scenes, so rank 1 joins a step with no views of its own.
"""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from igae.training.distributed import (
    SINGLE,
    DistributedError,
    Processes,
    SceneShard,
    launch_environment,
    start,
)

WORKER = Path(__file__).parent / "distributed_worker.py"
STAGES = ("warmup", "train")
EPOCHS = 3  # per stage: 9 steps each


def torchrun(processes: int, work: Path, out: Path, epochs: int = EPOCHS, device: str = "cpu") -> subprocess.Popen:
    """The worker on ``processes`` processes (CPU: one thread each, gloo; cuda: one GPU each, NCCL), by torchrun."""
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={processes}"]
    command += [str(WORKER), str(work), str(out), str(epochs), device]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)


def finished(run: subprocess.Popen, timeout: float = 300) -> str:
    output, _ = run.communicate(timeout=timeout)
    assert run.returncode == 0, output[-4000:]
    return output


def losses(work: Path) -> dict[int, dict[str, float]]:
    """A stage's metrics.csv (rank 0): step -> every logged value."""
    with (work / "metrics.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    return {
        int(row["step"]): {k: float(v) for k, v in row.items() if v and k not in ("step", "elapsed_s")} for row in rows
    }


def assert_same_training(
    reference: tuple[Path, Path], other: tuple[Path, Path], world_size: int, rtol: float = 1e-4
) -> None:
    """Both stages: the same losses and monitor metrics at every step, the same final weights and planes, within
    float tolerance; the autoencoder and MLP identical on every rank, bit for bit."""
    for stage in STAGES:
        expected, got = losses(reference[0] / stage), losses(other[0] / stage)
        assert sorted(expected) == sorted(got) and len(expected) >= 3 * EPOCHS, stage
        for step, values in expected.items():
            assert values.keys() == got[step].keys(), (stage, step)
            for key, value in values.items():
                assert got[step][key] == pytest.approx(value, rel=rtol, abs=1e-6), (stage, step, key)
    one = torch.load(reference[1] / "rank0.pt")
    ranks = [torch.load(other[1] / f"rank{rank}.pt") for rank in range(world_size)]
    for part in ("autoencoder", "mlp"):
        for name, value in one[part].items():
            assert all(torch.equal(rank[part][name], ranks[0][part][name]) for rank in ranks), f"{part}.{name}"
            torch.testing.assert_close(ranks[0][part][name], value, rtol=rtol, atol=1e-5, msg=f"{part}.{name}")
    torch.testing.assert_close(
        torch.load(other[1] / "planes.pt"), torch.load(reference[1] / "planes.pt"), rtol=rtol, atol=1e-5
    )


@pytest.fixture(scope="module")
def one_process_run(tmp_path_factory) -> tuple[Path, Path]:
    """Both stages on one process: the reference of the distributed runs (work dir, outputs)."""
    root = tmp_path_factory.mktemp("one_process")
    run = (root / "work", root / "out")
    finished(torchrun(1, *run))
    return run


@pytest.mark.slow
def test_two_processes_train_what_one_trains(one_process_run, tmp_path):
    """Stage 1 then stage 2: (a) the autoencoder and MLP stay identical on both ranks, bit for bit; (b) the loss
    and every term at each step, the monitor's metrics and the final weights and planes of 2 processes match 1."""
    two = (tmp_path / "work", tmp_path / "out")
    finished(torchrun(2, *two))
    assert_same_training(one_process_run, two, world_size=2)


@pytest.mark.slow
@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs 2 CUDA GPUs: the stages over NCCL, one GPU each")
def test_two_gpus_train_what_one_gpu_trains(tmp_path):
    """Both stages on 1 and 2 GPUs (NCCL): the same checks as on CPU, within the looser tolerance of GPU kernels."""
    runs = [(tmp_path / f"work{world}", tmp_path / f"out{world}") for world in (1, 2)]
    for world, run in zip((1, 2), runs):
        finished(torchrun(world, *run, device="cuda"))
    assert_same_training(*runs, world_size=2, rtol=1e-3)


def saved_step(work: Path) -> int:
    return torch.load(work / "checkpoint.pt", weights_only=False)["step"]


def kill_rank_after_checkpoint(run: subprocess.Popen, rank: int, work: Path, step: int, timeout: float = 240) -> None:
    """SIGKILL the worker process of ``rank`` once ``work`` holds a checkpoint of ``step`` or later."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and run.poll() is None:
        if (work / "checkpoint.pt").is_file():
            try:
                if saved_step(work) >= step:
                    break
            except (EOFError, RuntimeError):  # being renamed into place
                pass
        time.sleep(0.05)
    assert run.poll() is None, "the run ended before it could be killed"
    workers = subprocess.run(["pgrep", "-P", str(run.pid)], capture_output=True, text=True).stdout.split()
    for pid in workers:
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        if f"RANK={rank}".encode() in environ:
            os.kill(int(pid), signal.SIGKILL)
            return
    raise AssertionError(f"no worker of rank {rank} among {workers}")


@pytest.mark.slow
def test_a_killed_rank_stops_the_run_which_resumes_on_any_world_size(one_process_run, tmp_path):
    """(c) a SIGKILL of rank 1 in stage 2 stops the 2-process run with an error naming the rank and the signal
    (torchrun) and, on rank 0, which step failed and how to resume; no output is written. (d) the checkpoint
    resumes on 1 process at its step; killed again, the run resumes on 2 processes; it ends where an uninterrupted
    run ends. (A rerun redoes the finished stage 1, which left no checkpoint: the same planes, deterministically.)"""
    work, out = tmp_path / "work", tmp_path / "out"
    stage_two = work / "train"

    run = torchrun(2, work, out)
    kill_rank_after_checkpoint(run, 1, stage_two, step=2)
    output, _ = run.communicate(timeout=120)
    assert run.returncode != 0
    assert "rank      : 1" in output and "SIGKILL" in output, output[-3000:]
    assert "DistributedError: rank 0 of 2: a collective failed at step" in output, output[-3000:]
    assert "resumes from its last checkpoint" in output
    assert not out.exists()
    killed_at = saved_step(stage_two)  # the last checkpoint (rank 0 may have finished one more after the kill)

    resumed = torchrun(1, work, out)
    kill_rank_after_checkpoint(resumed, 0, stage_two, step=killed_at + 1)
    output, _ = resumed.communicate(timeout=120)
    assert resumed.returncode != 0
    assert f"checkpoint.pt (step {killed_at})" in output and "resuming from" in output, output[-3000:]
    killed_again = saved_step(stage_two)

    output = finished(torchrun(2, work, out))
    assert f"checkpoint.pt (step {killed_again})" in output, output[-3000:]
    assert_same_training(one_process_run, (work, out), world_size=2)


def test_more_processes_than_scenes_is_a_clear_error():
    with pytest.raises(DistributedError, match=r"igae.world_size is 3, but the run trains 2 scene\(s\)"):
        SceneShard.of(2, Processes(rank=0, world_size=3))
    assert [SceneShard.of(5, Processes(rank, 2)) for rank in (0, 1)] == [SceneShard(0, 2, 5), SceneShard(2, 5, 5)]


def test_a_process_started_alone_for_a_distributed_run_says_how_to_launch(monkeypatch):
    for name in ("WORLD_SIZE", "RANK", "SLURM_PROCID", "SLURM_NTASKS", "SLURM_STEP_ID"):
        monkeypatch.delenv(name, raising=False)
    assert start(1, "cpu") == SINGLE
    with pytest.raises(DistributedError, match="torchrun --nproc-per-node 2 .*srun --ntasks 2"):
        start(2, "cpu")
    monkeypatch.setenv("WORLD_SIZE", "3")
    monkeypatch.setenv("RANK", "0")
    with pytest.raises(DistributedError, match="the launcher started 3 processes"):
        start(2, "cpu")


def test_srun_tasks_find_their_rank_and_rendezvous():
    environ = {"SLURM_PROCID": "1", "SLURM_NTASKS": "2", "SLURM_LOCALID": "1", "SLURM_STEP_ID": "0"}
    environ |= {"SLURM_STEP_NODELIST": "gpu07,gpu08", "SLURM_JOB_ID": "4242"}
    processes, host, port = launch_environment(environ)
    assert processes == Processes(rank=1, world_size=2, local_rank=1)
    assert host == "gpu07" and port == str(20000 + 4242 * 7 % 20000)
    # torchrun's variables win (srun launching torchrun), and a lone process is rank 0 of 1
    assert launch_environment({**environ, "RANK": "3", "WORLD_SIZE": "4"})[0] == Processes(3, 4, 0)
    assert launch_environment({}) == (SINGLE, None, None)


def test_the_workflow_launches_igae_runs_with_torchrun_or_srun(project, repo, tmp_path):
    """Dry runs with igae.world_size 2: locally the IG-AE rules run torchrun with 2 processes of igae.threads each
    (4 threads reserved); through the SLURM profile srun starts 2 tasks in a job of tasks=2 (mpi: the command runs
    once). igae.nodes 2 without SLURM is an error that says so; the tiny preset runs the command bare."""
    project.write_params(tmp_path, "micro", igae={"world_size": 2, "threads": 2})
    local = project.snakemake(tmp_path, "-n", "-p", "--cores", "8", "igae_all")
    assert local.returncode == 0, local.stderr[-3000:]
    commands = [line for line in local.stdout.splitlines() if "igae train-igae-stage" in line]
    assert len(commands) == 3  # warm-up, training, control
    launch = "torchrun --standalone --nnodes 1 --nproc-per-node 2 --no-python igae train-igae-stage"
    assert all(launch in line and "--threads 2 " in line for line in commands), commands
    assert "threads: 4" in local.stdout and "tasks=2, nodes=1, mpi=srun" in local.stdout

    slurm = project.snakemake(tmp_path, "-n", "-p", "--profile", str(repo / "workflow/profiles/slurm"), "igae_all")
    assert slurm.returncode == 0, slurm.stderr[-3000:]
    srun = "srun --ntasks 2 --nodes 1 --ntasks-per-node 2 --cpus-per-task 2 --kill-on-bad-exit=1 igae train-igae-stage"
    assert sum(srun in line for line in slurm.stdout.splitlines()) == 3, slurm.stdout[-3000:]

    project.write_params(tmp_path, "micro", igae={"world_size": 2, "nodes": 2})
    nodes = project.snakemake(tmp_path, "-n", "-p", "igae_all")
    assert nodes.returncode != 0
    assert "igae.nodes is 2: torchrun here starts processes on one machine" in nodes.stdout + nodes.stderr

    project.write_params(tmp_path, "tiny")
    tiny = project.snakemake(tmp_path, "-n", "-p", "igae_all")
    assert tiny.returncode == 0
    stages = [line for line in tiny.stdout.splitlines() if "igae train-igae-stage" in line]
    assert stages and not any("torchrun" in line or "srun" in line for line in stages)
