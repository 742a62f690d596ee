"""DVC never certifies damage: a file deleted or edited inside a stage's outputs is restored from DVC's cache, or
remade by Snakemake when the cache lacks it; leftovers of interrupted writes are removed and never hashed; a job
rerun by hand is not taken for damage; ``dvc repro`` runs from a shell that has not activated the environment."""

import hashlib
import json
import os
import subprocess
import sys
import time
from base64 import urlsafe_b64encode
from pathlib import Path

import pytest

from igae.dvc_outputs import find_damage, prepare_stage, record_stage


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def snakemake_record(root: Path, output: str, endtime: float) -> None:
    """What Snakemake writes in .snakemake/metadata when a job making ``output`` ends."""
    folder = root / ".snakemake" / "metadata"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / urlsafe_b64encode(output.encode()).decode()).write_text(json.dumps({"endtime": endtime}))


def test_a_job_rerun_since_the_record_is_not_damage_but_an_edit_is(tmp_path):
    (tmp_path / "results/renders/a").mkdir(parents=True)
    (tmp_path / "results/renders/a/view.png").write_bytes(b"old")
    (tmp_path / "results/renders/b.json").write_text("{}")
    snakemake_record(tmp_path, "results/renders/a", time.time() - 10)
    snakemake_record(tmp_path, "results/renders/b.json", time.time() - 10)
    record_stage(tmp_path, "render", ["results/renders"])
    time.sleep(0.01)
    (tmp_path / "results/renders/a/view.png").write_bytes(b"new, by the job")
    (tmp_path / "results/renders/b.json").write_text('{"edited": "by hand"}')
    snakemake_record(tmp_path, "results/renders/a", time.time())  # the job making `a` ran again
    assert find_damage(tmp_path, "render") == ["results/renders/b.json"]
    (tmp_path / "results/renders/.b.json.tmp-x1").write_text("half")
    repair = prepare_stage(tmp_path, "render", ["results/renders"])
    assert repair.removed_leftovers == ("results/renders/.b.json.tmp-x1",)
    assert repair.recomputed == ("results/renders/b.json",) and not (tmp_path / "results/renders/b.json").exists()
    assert (tmp_path / "results/renders/a/view.png").read_bytes() == b"new, by the job"


@pytest.mark.slow
def test_dvc_repro_restores_or_remakes_damaged_outputs_without_the_venv_on_path(finished_project, project):
    root = finished_project
    (root / ".venv").symlink_to(Path(sys.prefix))  # what `make setup` leaves; the shell does not activate it
    view = root / "results/renders/proc-eval-000/images/view_002.png"
    metrics = root / "results/metrics/nerf/igae/tensorf/proc-eval-000.json"
    table = root / "results/metrics/autoencoder/standard.csv"
    before = {path: md5(path) for path in (view, metrics)}
    view.unlink()
    metrics.write_text('{"psnr": 99.0}\n')
    leftover = root / "results/nerf/.run.tmp-k1ll3d"
    leftover.mkdir()
    (leftover / "checkpoint.pt").write_bytes(b"partial")
    # The edited table's content is not in DVC's cache: Snakemake must make it again.
    cache_object = root / ".dvc/cache/files/md5" / md5(table)[:2] / md5(table)[2:]
    cache_object.chmod(0o644)
    cache_object.unlink()
    table.write_text("edited\n")
    assert project.tool(root, "dvc", "status", "--json").stdout.strip() != "{}"

    shell = {"HOME": os.environ["HOME"], "PATH": "/usr/bin:/bin"}
    result = subprocess.run([str(project.bin / "dvc"), "repro"], cwd=root, env=shell, capture_output=True,
                            text=True, timeout=1200)  # fmt: skip
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-4000:]
    assert "restored from DVC's cache: results/renders/proc-eval-000/images/view_002.png" in log
    assert "deleted so that Snakemake makes it again: results/metrics/autoencoder/standard.csv" in log
    assert {path: md5(path) for path in (view, metrics)} == before
    assert table.read_text() != "edited\n" and table.read_text().startswith("set,image,")
    assert not leftover.exists()
    assert project.tool(root, "dvc", "status", "--json").stdout.strip() in ("", "{}")
    assert "tmp-" not in (root / "dvc.lock").read_text()
