"""Faults: the pipeline killed outright (SIGKILL of Snakemake and its jobs) during IG-AE training and during a
NeRF training resumes from the last checkpoints when rerun, never takes a partial output as complete, and ends
with the same results, to the last bit, as the same trainings never interrupted."""

import json
import os
import re
import shutil
import signal
import subprocess
import time
import zipfile
from pathlib import Path

import pytest
import torch

NERF_RUN = "results/metrics/nerf/igae/tensorf/proc-eval-000.json"
NERF_RUN_DIR = "results/nerf/igae/tensorf/proc-eval-000"
NERF_CHECKPOINTS = f"{NERF_RUN_DIR}/nerfstudio/latent-tensorf/nerfstudio_models"


#: The micro preset with IG-AE stage 2 and the NeRF long enough to be killed between checkpoints.
LONGER_MICRO = {
    "scenes": {"igae_train": {"views": 8}},  # 2 scenes x 7 training views: 4 steps per epoch of 4 views
    "igae": {"train": {"epochs": 5, "checkpoint_every": 2, "log_every": 1}},
    # A progress line every 5 steps: the resumed part logs some wherever the kill landed (it can land past step 50).
    "nerf": {
        "methods": ["tensorf"],
        "latent_supervision_steps": 60,
        "rgb_alignment_steps": 10,
        "checkpoint_every": 10,
        "log_every": 5,
    },
    "ablation": {"terms": []},
}


def complete_checkpoint_steps(folder: Path) -> list[int]:
    """Steps of the nerfstudio checkpoints in ``folder`` that were written completely (a whole zip archive)."""
    return [int(path.stem.split("-")[1]) for path in folder.glob("step-*.ckpt") if zipfile.is_zipfile(path)]


def kill_when(project, workdir: Path, target: str, ready, timeout: float = 600.0) -> None:
    """Run Snakemake towards ``target`` (after a crash: unlocked, incomplete jobs rerun) and SIGKILL it with all
    its jobs as soon as ``ready()`` holds."""
    assert project.snakemake(workdir, "--unlock").returncode == 0
    command = [
        str(project.bin / "snakemake"),
        "--snakefile",
        str(project.repo / "Snakefile"),
        "--directory",
        str(workdir),
    ]
    process = subprocess.Popen(
        [*command, "--cores", "2", "--rerun-incomplete", target],
        env=project.env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + timeout
    try:
        while not ready():
            assert process.poll() is None, "the pipeline ended before it could be killed"
            assert time.monotonic() < deadline, "the pipeline did not reach the kill point in time"
            time.sleep(0.5)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def rerun(project, workdir: Path, target: str) -> None:
    """What a user does after a crash: release Snakemake's lock, then run the same target again."""
    assert project.snakemake(workdir, "--unlock").returncode == 0
    result = project.snakemake(workdir, "--cores", "2", "--rerun-incomplete", target)
    assert result.returncode == 0, result.stderr[-3000:]


@pytest.mark.slow
def test_a_killed_pipeline_resumes_from_its_checkpoints(project, tmp_path):
    project.write_params(tmp_path, "micro", **LONGER_MICRO)
    # Killed in IG-AE stage 2, once a checkpoint beyond the first is on disk.
    checkpoint = tmp_path / "results/igae/final_training/checkpoint.pt"

    def igae_checkpointed() -> bool:
        try:
            return torch.load(checkpoint, map_location="cpu", weights_only=False)["step"] >= 4
        except Exception:  # not there yet, or being replaced
            return False

    kill_when(project, tmp_path, "results/igae/final", igae_checkpointed)
    killed_at = torch.load(checkpoint, map_location="cpu", weights_only=False)["step"]
    assert not (tmp_path / "results/igae/final").exists()  # no partial stage output
    # Killed in the latent NeRF, after its second checkpoint.
    checkpoints = tmp_path / NERF_CHECKPOINTS
    kill_when(project, tmp_path, NERF_RUN, lambda: max(complete_checkpoint_steps(checkpoints), default=0) >= 20)
    igae_log = (tmp_path / "logs/igae/igae_train.log").read_text()
    assert f"(step {killed_at})" in igae_log and "resuming from" in igae_log  # lost < one checkpoint interval
    record = json.loads((tmp_path / "results/igae/final/metrics.json").read_text())
    assert record["steps"] == 20  # 5 epochs x 4 steps: the resumed run ends where an uninterrupted one ends
    assert not (tmp_path / NERF_RUN).exists()
    newest = max(complete_checkpoint_steps(checkpoints))  # a checkpoint the kill cut short does not count
    rerun(project, tmp_path, NERF_RUN)
    nerf_log = (tmp_path / "logs/nerf/igae/tensorf/proc-eval-000.log").read_text()
    assert f"training steps {newest + 2} to 70 of 70" in nerf_log
    totals = set(re.findall(r"step \d+/(\d+) stage", nerf_log))
    assert totals == {"70"}, totals  # the progress lines of the resumed part count to the run's end, too
    assert json.loads((tmp_path / NERF_RUN).read_text())["steps"]["total"] == 70

    # The same two trainings never interrupted, from scratch: the same results to the last bit (CPU).
    killed = results_without_timings(tmp_path)
    for path in ("results/igae/final", "results/igae/final_training", NERF_RUN, NERF_RUN_DIR):
        shutil.rmtree(tmp_path / path) if (tmp_path / path).is_dir() else (tmp_path / path).unlink()
    rerun(project, tmp_path, NERF_RUN)
    uninterrupted = results_without_timings(tmp_path)
    for part, value in killed.items():
        assert uninterrupted[part] == value, part


def plain(value):
    """Tensors (in nested dicts and lists) as lists, for an exact comparison."""
    if torch.is_tensor(value):
        return value.tolist()
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    return [plain(item) for item in value] if isinstance(value, (list, tuple)) else value


def results_without_timings(root: Path) -> dict:
    """The IG-AE's metrics and weights and the latent NeRF's metrics, less the measured times."""
    igae = json.loads((root / "results/igae/final/metrics.json").read_text())
    nerf = json.loads((root / NERF_RUN).read_text())
    planes = torch.load(root / "results/igae/final/triplanes.pt", weights_only=False)
    return {
        "igae": {key: value for key, value in igae.items() if "second" not in key and key != "steps_run"},
        "igae_weights": (root / "results/igae/final/autoencoder/diffusion_pytorch_model.safetensors").read_bytes(),
        "triplanes": plain(planes),
        "nerf": [nerf["metrics"], nerf["metrics_std"], [{k: v for k, v in view.items() if "second" not in k}
                                                        for view in nerf["per_view"]]],
    }  # fmt: skip
