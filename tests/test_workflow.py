"""The Snakemake workflow: lint, a micro render run through Snakemake, preset switching, DVC wiring."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

BIN = Path(sys.executable).parent


def venv_env() -> dict[str, str]:
    """The environment with this venv's commands (snakemake, dvc, igae) first on PATH, as after activating it."""
    return {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}


def snakemake(repo: Path, workdir: Path, *args: str) -> subprocess.CompletedProcess:
    command = [str(BIN / "snakemake"), "--snakefile", str(repo / "Snakefile"), "--directory", str(workdir), *args]
    return subprocess.run(command, capture_output=True, text=True, env=venv_env(), timeout=900)


def write_params(repo: Path, workdir: Path, edit) -> None:
    params = yaml.safe_load((repo / "params.yaml").read_text())
    edit(params)
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def micro(params: dict) -> None:
    params["render"].update(image_size=32, samples_per_pixel=2)
    params["scenes"]["igae_train"].update(count=2, views=4)
    params["scenes"]["eval"].update(count=1, views=5)
    params["real_images"].update(crops_per_photo=1)
    embedded = params["autoencoder"]["embedded"]
    embedded["architecture"].update(block_out_channels=[8, 8, 16, 16], norm_num_groups=4)
    embedded["training"].update(
        steps=4, batch_size=2, crop_size=16, log_every=1, validate_every=2, checkpoint_every=2, precision="fp32"
    )
    igae = params["igae"]
    igae["scenes"].update(features=4, resolution=8, hidden=8)
    igae["rendering"].update(coarse_samples=4, importance_samples=4)
    igae["monitor"].update(scenes=1, views=1, every=1)
    igae["warmup"].update(epochs=1, batch_size=4)
    igae["train"].update(epochs=1, batch_size=4, real_batch_size=1)
    params["nerf"].update(
        methods=["tensorf", "instant-ngp"],
        latent_supervision_steps=2,
        rgb_alignment_steps=1,
        rgb_rays_per_batch={"tensorf": 64},
        model_overrides={
            "tensorf": {"init_resolution": 16, "final_resolution": 24, "upsampling_iters": [], "num_samples": 8}
        },
    )
    # Two variants; the reference `full` is the IG-AE itself (train: null), its NeRF runs reused.
    params["ablation"].update(terms=["rgb", "tv"], methods=None, eval_scenes=1, train=None)


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=test", "-c", "user.email=test@example.org", *args], cwd=root, check=True,
                   capture_output=True)  # fmt: skip


def tool(root: Path, *command: str) -> subprocess.CompletedProcess:
    """``dvc`` / ``snakemake`` of this environment, run in ``root`` as a user would."""
    return subprocess.run([str(BIN / command[0]), *command[1:]], cwd=root, capture_output=True, text=True,
                          env=venv_env(), timeout=1200)  # fmt: skip


def project_copy(repo: Path, root: Path) -> Path:
    """The project's files (tracked, and untracked but not ignored) as a fresh git repository at ``root``."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=repo, capture_output=True)
    for name in filter(None, listed.stdout.decode().split("\0")):
        if (repo / name).is_file():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(repo / name, root / name)
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "project")
    return root


@pytest.fixture(scope="module")
def micro_project(repo, tmp_path_factory) -> tuple[Path, str]:
    """A copy of the project on the micro configuration, run end to end by ``dvc repro`` (whose stages run the
    Snakemake targets); returns the folder and the run's output."""
    root = project_copy(repo, tmp_path_factory.mktemp("project"))
    write_params(repo, root, micro)
    git(root, "commit", "-qam", "micro configuration")
    result = tool(root, "dvc", "repro")
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    return root, result.stdout + result.stderr


def test_lint_is_clean(repo):
    result = tool(repo, "snakemake", "--lint")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
def test_pipeline_runs_end_to_end_and_a_second_run_does_nothing(micro_project):
    tmp_path, output = micro_project
    index = json.loads((tmp_path / "results/renders/index.json").read_text())
    assert index["counts"] == {"igae_train": 2, "eval": 1}
    eval_scene = Path(tmp_path / index["splits"]["eval"][0]["path"])
    assert index["splits"]["eval"][0] == {
        "scene": "proc-eval-000",
        "dataset": "procedural",
        "path": "results/renders/proc-eval-000",
        "train_views": 4,
        "test_views": 1,
    }
    assert len(list((eval_scene / "images").glob("*.png"))) == 5
    assert (eval_scene / "transforms.json").is_file() and (eval_scene / "transforms_opencv.json").is_file()
    real = json.loads((tmp_path / "results/real_images/index.json").read_text())
    assert len(real["heldout"]) == 3 and len(real["train"]) > 3
    for rule in ("render_scene", "generate_procedural_object"):
        assert any((tmp_path / "logs/render" / rule).iterdir()) and any(
            (tmp_path / "benchmarks/render" / rule).iterdir()
        )
    # Phase 2: the embedded autoencoder, loadable by diffusers, and its evaluation.
    from diffusers import AutoencoderKL

    model = AutoencoderKL.from_pretrained(tmp_path / "results/autoencoders/standard")
    assert model.config.latent_channels == 16 and len(model.config.block_out_channels) == 4
    metrics = json.loads((tmp_path / "results/metrics/autoencoder/standard.json").read_text())
    assert set(metrics["sets"]) == {"real_heldout", "rendered_heldout"}
    assert metrics["sets"]["rendered_heldout"]["images"] == 5 and metrics["sets"]["real_heldout"]["images"] == 3
    assert len(metrics["latent_background"]) == 16
    assert (tmp_path / "results/autoencoders/standard_training/metrics.csv").is_file()
    assert (tmp_path / "results/figures/autoencoder/standard_reconstructions.png").is_file()
    assert (tmp_path / "logs/autoencoder/train_standard_autoencoder.log").is_file()
    # Phase 3: IG-AE stages; the IG-AE loads exactly like the standard AE.
    igae_model = AutoencoderKL.from_pretrained(tmp_path / "results/igae/final/autoencoder")
    assert igae_model.config.latent_channels == 16
    assert not (tmp_path / "results/igae/control/autoencoder").exists()  # the control keeps the standard AE
    for stage in ("warmup", "final", "control"):
        record = json.loads((tmp_path / f"results/igae/{stage}/metrics.json").read_text())
        assert record["steps"] == 2 and "test/render_psnr" in record  # 2 scenes x 3 training views / batch 4
        assert (tmp_path / f"results/igae/{stage}/scenes.pt").is_file()
        assert (tmp_path / f"results/igae/{stage}/dashboard.png").is_file()
    # Phase 4: a latent NeRF per autoencoder and the RGB baseline; the CUDA-only method is skipped with its reason.
    assert "skipping NeRF method instant-ngp (no CUDA device)" in output
    for space in ("standard", "igae", "rgb"):
        record = json.loads((tmp_path / f"results/metrics/nerf/{space}/tensorf/proc-eval-000.json").read_text())
        assert record["space"] == ("rgb" if space == "rgb" else "latent") and record["steps"]["total"] == 3
        assert record["metrics"]["psnr"] > 0 and record["render_seconds_per_image"] > 0
        assert (tmp_path / f"results/figures/nerf/{space}/tensorf/proc-eval-000.png").is_file()
        assert (tmp_path / f"logs/nerf/{space}/tensorf/proc-eval-000.log").is_file()
    igae_run = json.loads((tmp_path / "results/metrics/nerf/igae/tensorf/proc-eval-000.json").read_text())
    assert igae_run["autoencoder"] == "results/igae/final/autoencoder"
    # Phase 5: the tables, from the metrics files alone.
    quality = (tmp_path / "results/tables/nerf_quality.md").read_text()
    assert all(f"| tensorf | {label} |" in quality for label in ("standard AE", "IG-AE", "RGB"))
    for stem in ("nerf_quality", "nerf_speed", "autoencoder_quality"):
        assert all((tmp_path / f"results/tables/{stem}{suffix}").is_file() for suffix in (".csv", ".md", ".tex"))
    assert "| rendered (held out) | IG-AE |" in (tmp_path / "results/tables/autoencoder_quality.md").read_text()
    summary = json.loads((tmp_path / "results/metrics/nerf_summary.json").read_text())
    assert set(summary["tensorf"]) == {"standard", "igae", "rgb"} and "psnr" in summary["tensorf"]["igae"]
    by_dataset = (tmp_path / "results/tables/nerf_quality_by_dataset.md").read_text()
    assert "| procedural | tensorf | IG-AE |" in by_dataset
    names = ("qualitative_proc-eval-000", "nerf_psnr", "nerf_speed_quality", "igae_training_curves", "latent_channels")
    for name in names:
        assert all((tmp_path / f"results/figures/report/{name}.{ext}").stat().st_size > 0 for ext in ("png", "pdf"))
    # The loss ablation: each variant retrained without its term, evaluated like the IG-AE, one table.
    for variant, term in (("no-rgb", "rgb"), ("no-tv", "tv")):
        record = json.loads((tmp_path / f"results/ablation/igae/{variant}/metrics.json").read_text())
        assert record["ablated_term"] == term
        assert (tmp_path / f"results/ablation/metrics/ablation-{variant}/tensorf/proc-eval-000.json").is_file()
        assert (tmp_path / f"results/ablation/metrics/autoencoder/{variant}.json").is_file()
    assert not (tmp_path / "results/ablation/igae/full").exists()  # the IG-AE itself is the reference
    ablation = (tmp_path / "results/tables/loss_ablation.md").read_text()
    labels = ("standard AE", "IG-AE (all terms)", "w/o L_RGB", "w/o TV")
    assert [line.split(" | ")[1] for line in ablation.splitlines()[2:]] == list(labels)
    assert (tmp_path / "results/tables/loss_ablation.tex").read_text().count(r"\\") == 5
    # A second run has nothing to do, for Snakemake and for DVC.
    again = tool(tmp_path, "snakemake", "--cores", "2", "-n")
    assert again.returncode == 0 and "Nothing to be done" in again.stdout + again.stderr
    status = tool(tmp_path, "dvc", "status")
    assert status.returncode == 0 and "up to date" in status.stdout, status.stdout


@pytest.mark.slow
def test_dvc_remote_round_trip_needs_no_retraining(micro_project, tmp_path):
    project, _ = micro_project
    assert tool(project, "dvc", "remote", "add", "-f", "-d", "store", str(tmp_path / "remote")).returncode == 0
    git(project, "add", "-A", ".dvc/config", "dvc.lock")
    git(project, "commit", "-qm", "pipeline results and their remote")
    pushed = tool(project, "dvc", "push")
    assert pushed.returncode == 0, pushed.stderr[-2000:]
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(project), str(clone))
    # What the README says to do on a new machine: pull, then let Snakemake adopt the pulled files.
    pulled = tool(clone, "dvc", "pull")
    assert pulled.returncode == 0, pulled.stderr[-2000:]
    assert (clone / "results/igae/final/autoencoder/diffusion_pytorch_model.safetensors").is_file()
    assert (clone / "results/tables/loss_ablation.md").read_text() == (
        project / "results/tables/loss_ablation.md"
    ).read_text()
    assert tool(clone, "snakemake", "--touch", "--cores", "1").returncode == 0
    dry = tool(clone, "snakemake", "-n", "--cores", "2")
    assert dry.returncode == 0 and "Nothing to be done" in dry.stdout + dry.stderr, dry.stdout[-3000:]
    assert "up to date" in tool(clone, "dvc", "status").stdout


def test_paper_preset_plans_asset_scenes(repo, tmp_path, pybullet_data):
    assets = tmp_path / "resources/assets"
    for split, names in (("igae_train", ["duck.obj", "soccerball.obj", "cube.obj"]), ("eval/cake", ["bunny.obj"])):
        (assets / split).mkdir(parents=True)
        for name in names:
            shutil.copy(pybullet_data / name, assets / split / name)
    (tmp_path / "resources/imagenet").mkdir(parents=True)

    def paper(params):
        params["preset"] = "paper"
        params["presets"]["paper"]["scenes"]["igae_train"]["count"] = 2

    write_params(repo, tmp_path, paper)
    result = snakemake(repo, tmp_path, "-n", "-p", "--cores", "1")
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout + result.stderr
    assert "generate_procedural_object" not in out
    # The first 2 training assets in sorted order, and every evaluation asset, tagged with its category.
    assert "results/renders/cube" in out and "results/renders/duck" in out and "results/renders/soccerball" not in out
    assert "results/renders/cake-bunny" in out and "--dataset cake" in out
    assert "--samples-per-pixel 64" in out and "--up-axis y" in out


def test_bad_configuration_stops_snakemake_naming_the_key(repo, tmp_path):
    write_params(repo, tmp_path, lambda p: p["render"].update(camera_distanse=1.3))
    result = snakemake(repo, tmp_path, "-n", "--cores", "1")
    assert result.returncode != 0
    assert "unknown key 'render.camera_distanse'" in result.stdout + result.stderr


def test_missing_asset_folder_stops_snakemake(repo, tmp_path):
    write_params(repo, tmp_path, lambda p: p.update(preset="paper"))
    result = snakemake(repo, tmp_path, "-n", "--cores", "1")
    assert result.returncode != 0
    assert "asset folder 'resources/assets/igae_train' does not exist" in result.stdout + result.stderr


def test_dvc_stage_wraps_the_snakemake_target(repo):
    stages = yaml.safe_load((repo / "dvc.yaml").read_text())["stages"]
    render = stages["render"]
    assert render["cmd"].startswith("snakemake render_all ")
    outs = [next(iter(out)) for out in render["outs"]]
    assert outs == ["results/assets", "results/renders", "results/real_images"]
    assert all(next(iter(out.values()))["persist"] for out in render["outs"])
    params = yaml.safe_load((repo / "params.yaml").read_text())
    # Each stage reruns when a key it reads changes, the preset switch included.
    assert set(render["params"]) == set(params) - {"autoencoder", "igae", "nerf", "ablation"}
    autoencoder = stages["autoencoder"]
    assert autoencoder["cmd"].startswith("snakemake autoencoder_all ")
    assert {"preset", "presets", "autoencoder", "render"} <= set(autoencoder["params"])
    assert {"results/real_images", "results/renders"} <= set(autoencoder["deps"])  # DVC orders the stages
    assert next(iter(autoencoder["metrics"][0])) == "results/metrics/autoencoder/standard.json"
    igae = stages["igae"]
    assert igae["cmd"].startswith("snakemake igae_all ") and "results/autoencoders/standard" in igae["deps"]
    assert {"preset", "presets", "autoencoder", "igae"} <= set(igae["params"])
    nerf = stages["nerf"]
    assert nerf["cmd"].startswith("snakemake nerf_all ") and "nerf" in nerf["params"]
    assert {"results/igae/final", "results/autoencoders/standard", "results/renders"} <= set(nerf["deps"])
    ablation = stages["ablation"]
    assert ablation["cmd"].startswith("snakemake ablation_all ")
    assert {"igae", "nerf", "ablation"} <= set(ablation["params"])
    report = stages["report"]
    assert report["cmd"].startswith("snakemake report_all ") and "results/metrics/nerf" in report["deps"]
    assert "results/ablation" in report["deps"]


def test_paper_preset_fetches_the_pretrained_autoencoder(repo, tmp_path, pybullet_data):
    (tmp_path / "resources/assets/igae_train").mkdir(parents=True)
    (tmp_path / "resources/assets/eval").mkdir(parents=True)
    shutil.copy(pybullet_data / "duck.obj", tmp_path / "resources/assets/igae_train/duck.obj")
    shutil.copy(pybullet_data / "cube.obj", tmp_path / "resources/assets/eval/cube.obj")
    (tmp_path / "resources/imagenet").mkdir(parents=True)

    def paper(params):
        params["preset"] = "paper"
        params["presets"]["paper"]["scenes"]["igae_train"]["count"] = 1

    write_params(repo, tmp_path, paper)
    result = snakemake(repo, tmp_path, "-n", "-p", "--cores", "1", "autoencoder_all")
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout + result.stderr
    assert "train_standard_autoencoder" not in out
    assert "igae fetch-autoencoder --source ostris-kl-f8-d16" in out and "--allow-download" in out


def test_official_data_scenes_are_imported_not_rendered(repo, tmp_path):
    from test_render import official_scene_set

    data = official_scene_set(tmp_path / "data/train/objaverse", {"cake": ["c1", "c2"]})
    write_params(
        repo, tmp_path, lambda p: p["scenes"]["igae_train"].update(source="official", asset_dir=str(data), count=None)
    )
    result = snakemake(repo, tmp_path, "-n", "-p", "--cores", "1", "results/renders/index.json")
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout + result.stderr
    assert "igae import-scene --source" in out and "results/renders/c2 --split igae_train --dataset cake" in out
    assert out.count("igae render-scene") == 2  # the two procedural evaluation scenes only
