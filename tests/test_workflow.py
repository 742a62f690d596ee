"""The Snakemake workflow and its DVC stages: the micro preset run end to end (one shared run, checked phase by
phase), lint, preset switching, bad configuration, the official-data import, the DVC remote round trip."""

import json
import subprocess
from pathlib import Path

import pytest
import yaml
from diffusers import AutoencoderKL

SCENE = "proc-eval-000"


def test_lint_is_clean(repo, project):
    result = project.tool(repo, "snakemake", "--lint")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
def test_render_phase_writes_the_planned_scenes_and_real_images(micro_project):
    root, _ = micro_project
    index = json.loads((root / "results/renders/index.json").read_text())
    assert index["counts"] == {"igae_train": 2, "eval": 1}
    assert index["splits"]["eval"][0] == {
        "scene": SCENE,
        "dataset": "procedural",
        "path": f"results/renders/{SCENE}",
        "train_views": 4,
        "test_views": 1,
    }
    scene = root / index["splits"]["eval"][0]["path"]
    assert len(list((scene / "images").glob("*.png"))) == 5
    assert (scene / "transforms.json").is_file() and (scene / "transforms_opencv.json").is_file()
    real = json.loads((root / "results/real_images/index.json").read_text())
    assert len(real["heldout"]) == 3 and len(real["train"]) > 3
    for rule in ("render_scene", "generate_procedural_object"):
        assert any((root / "logs/render" / rule).iterdir()) and any((root / "benchmarks/render" / rule).iterdir())


@pytest.mark.slow
def test_autoencoder_phase_trains_a_diffusers_autoencoder_and_evaluates_it(micro_project):
    root, _ = micro_project
    model = AutoencoderKL.from_pretrained(root / "results/autoencoders/standard")
    assert model.config.latent_channels == 16 and list(model.config.block_out_channels) == [8, 8, 16, 16]
    metrics = json.loads((root / "results/metrics/autoencoder/standard.json").read_text())
    assert set(metrics["sets"]) == {"real_heldout", "rendered_heldout", "real_heldout_recoloured"}
    assert metrics["sets"]["rendered_heldout"]["images"] == 5 and metrics["sets"]["real_heldout"]["images"] == 3
    recoloured = metrics["sets"]["real_heldout_recoloured"]
    assert recoloured["images"] == 3 and "colour_error" in recoloured
    assert "colour_error" in metrics["sets"]["real_heldout"]
    assert len(metrics["latent_background"]) == 16
    assert (root / "results/autoencoders/standard_training/metrics.csv").is_file()
    assert (root / "results/figures/autoencoder/standard_reconstructions.png").is_file()
    assert (root / "logs/autoencoder/train_standard_autoencoder.log").is_file()


@pytest.mark.slow
def test_igae_phase_runs_both_stages_and_the_control(micro_project):
    root, _ = micro_project
    igae = AutoencoderKL.from_pretrained(root / "results/igae/final/autoencoder")  # loads exactly like the standard AE
    assert igae.config.latent_channels == 16
    assert not (root / "results/igae/control/autoencoder").exists()  # the control keeps the standard AE
    for stage in ("warmup", "final", "control"):
        record = json.loads((root / f"results/igae/{stage}/metrics.json").read_text())
        assert record["steps"] == 2 and "test/render_psnr" in record  # 2 scenes x 3 training views / batch 4
        assert (root / f"results/igae/{stage}/triplanes.pt").is_file()
        assert (root / f"results/igae/{stage}/dashboard.png").is_file()
    assert "versus_init" in json.loads((root / "results/igae/final/metrics.json").read_text())


@pytest.mark.slow
def test_nerf_phase_trains_each_space_and_skips_cuda_only_methods_with_the_reason(micro_project):
    root, output = micro_project
    assert "skipping NeRF method instant-ngp (no CUDA device)" in output
    for space in ("standard", "igae", "rgb"):
        record = json.loads((root / f"results/metrics/nerf/{space}/tensorf/{SCENE}.json").read_text())
        assert record["target"] == ("rgb" if space == "rgb" else "latent") and record["steps"]["total"] == 3
        assert record["metrics"]["psnr"] > 0 and record["render_seconds_per_image"] > 0
        assert (root / f"results/figures/nerf/{space}/tensorf/{SCENE}.png").is_file()
        assert (root / f"logs/nerf/{space}/tensorf/{SCENE}.log").is_file()
    igae_run = json.loads((root / f"results/metrics/nerf/igae/tensorf/{SCENE}.json").read_text())
    assert igae_run["autoencoder"] == "results/igae/final/autoencoder"


@pytest.mark.slow
def test_report_phase_writes_every_table_and_figure(micro_project):
    root, _ = micro_project
    quality = (root / "results/tables/nerf_quality.md").read_text()
    assert all(f"| tensorf | {label} |" in quality for label in ("standard AE", "IG-AE", "RGB"))
    for stem in ("nerf_quality", "nerf_speed", "autoencoder_quality"):
        assert all((root / f"results/tables/{stem}{suffix}").is_file() for suffix in (".csv", ".md", ".tex"))
    assert "| rendered (held out) | IG-AE |" in (root / "results/tables/autoencoder_quality.md").read_text()
    summary = json.loads((root / "results/metrics/nerf_summary.json").read_text())
    assert set(summary["tensorf"]) == {"standard", "igae", "rgb"} and "psnr" in summary["tensorf"]["igae"]
    assert "| procedural | tensorf | IG-AE |" in (root / "results/tables/nerf_quality_by_dataset.md").read_text()
    for name in (f"qualitative_{SCENE}", "nerf_psnr", "nerf_speed_quality", "igae_training_curves", "latent_channels"):
        assert all((root / f"results/figures/report/{name}.{ext}").stat().st_size > 0 for ext in ("png", "pdf"))


@pytest.mark.slow
def test_ablation_phase_retrains_each_variant_and_reuses_the_igae_as_reference(micro_project):
    root, _ = micro_project
    for variant, term in (("no-rgb", "rgb"), ("no-tv", "tv")):
        record = json.loads((root / f"results/ablation/igae/{variant}/metrics.json").read_text())
        assert record["ablated_term"] == term
        assert (root / f"results/ablation/metrics/ablation-{variant}/tensorf/{SCENE}.json").is_file()
        assert (root / f"results/ablation/metrics/autoencoder/{variant}.json").is_file()
    assert not (root / "results/ablation/igae/full").exists()  # the IG-AE itself is the reference
    ablation = (root / "results/tables/loss_ablation.md").read_text()
    labels = ("standard AE", "IG-AE (all terms)", "w/o L_RGB", "w/o TV")
    assert [line.split(" | ")[1] for line in ablation.splitlines()[2:]] == list(labels)
    assert (root / "results/tables/loss_ablation.tex").read_text().count(r"\\") == 5


@pytest.mark.slow
def test_the_scale_study_trains_one_igae_per_point_and_pairs_it_with_the_standard_ae(finished_project, project):
    """The micro preset's study (1 and 2 IG-AE scenes at 1 epoch, 2 scenes at 2 epochs) after the main run: one
    warm-up per scene count, one stage 2 per point on its first N scenes, and the standard AE's runs reused."""
    result = project.tool(finished_project, "snakemake", "study_all", "--cores", "2")
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    log = result.stdout + result.stderr
    assert "study_warmup" in log and "nerf_latent" not in log  # the reference runs are the main run's
    for point, scenes, epochs in (("s1-e1", 1, 1), ("s2-e1", 2, 1), ("s2-e2", 2, 2)):
        record = json.loads((finished_project / f"results/study/igae/{point}/metrics.json").read_text())
        assert (record["scenes"], record["epochs"]) == (scenes, epochs)
    assert sorted(path.name for path in (finished_project / "results/study/igae").glob("warmup-s?")) == [
        "warmup-s1",
        "warmup-s2",
    ]
    table = (finished_project / "results/study/scale_study.md").read_text().splitlines()
    assert [row.split(" | ")[1:3] for row in table[2:]] == [["1", "1"], ["2", "1"], ["2", "2"]]
    assert (finished_project / "results/study/scale_study_gain.png").stat().st_size > 10_000


@pytest.mark.slow
def test_a_second_run_has_nothing_to_do_for_snakemake_and_dvc(micro_project, project):
    root, _ = micro_project
    again = project.tool(root, "snakemake", "--cores", "2", "-n")
    assert again.returncode == 0 and "Nothing to be done" in again.stdout + again.stderr
    status = project.tool(root, "dvc", "status")
    assert status.returncode == 0 and "up to date" in status.stdout, status.stdout


@pytest.mark.slow
def test_dvc_remote_round_trip_needs_no_retraining(micro_project, project, tmp_path):
    root, _ = micro_project
    assert project.tool(root, "dvc", "remote", "add", "-f", "-d", "store", str(tmp_path / "remote")).returncode == 0
    project.git(root, "add", "-A", ".dvc/config", "dvc.lock")
    project.git(root, "commit", "-qm", "pipeline results and their remote")
    pushed = project.tool(root, "dvc", "push")
    assert pushed.returncode == 0, pushed.stderr[-2000:]
    clone = tmp_path / "clone"
    project.git(tmp_path, "clone", "-q", str(root), str(clone))
    # What the README says to do on a new machine: pull, then let Snakemake adopt the pulled files.
    pulled = project.tool(clone, "dvc", "pull")
    assert pulled.returncode == 0, pulled.stderr[-2000:]
    assert (clone / "results/igae/final/autoencoder/diffusion_pytorch_model.safetensors").is_file()
    assert (clone / "results/tables/loss_ablation.md").read_text() == (
        root / "results/tables/loss_ablation.md"
    ).read_text()
    assert project.tool(clone, "snakemake", "--touch", "--cores", "1").returncode == 0
    dry = project.tool(clone, "snakemake", "-n", "--cores", "2")
    assert dry.returncode == 0 and "Nothing to be done" in dry.stdout + dry.stderr, dry.stdout[-3000:]
    assert "up to date" in project.tool(clone, "dvc", "status").stdout


def test_paper_preset_plans_asset_scenes_on_gpus(project, paper_assets):
    project.write_params(paper_assets, "paper", scenes={"igae_train": {"count": 2}})
    result = project.snakemake(paper_assets, "-n", "-p", "--cores", "1")
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout + result.stderr
    assert "generate_procedural_object" not in out
    # The first 2 training assets in sorted order, and every evaluation asset, tagged with its category.
    assert "results/renders/cube" in out and "results/renders/duck" in out
    assert "results/renders/cake-bunny" in out and "--dataset cake" in out
    assert '"render": {"camera_distance": 1.3, "focal": 1.09375, "image_size": 128' in out
    assert '"samples_per_pixel": 64' in out and "--up-axis y" in out
    assert "skipping NeRF method" not in out  # the paper preset trains on CUDA: every method is planned


def test_the_tiny_and_paper_dry_runs_do_not_import_torch(project, repo, paper_assets, tmp_path):
    for preset, folder in (("tiny", tmp_path / "tiny"), ("paper", paper_assets)):
        project.write_params(folder, preset, scenes={"igae_train": {"count": 2}} if preset == "paper" else {})
        command = [str(project.bin / "python"), "-X", "importtime", str(project.bin / "snakemake"), "--snakefile",
                   str(repo / "Snakefile"), "--directory", str(folder), "-n", "--cores", "1"]  # fmt: skip
        result = subprocess.run(command, capture_output=True, text=True, env=project.env(), timeout=300)
        assert result.returncode == 0, result.stderr[-3000:]
        imported = {line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines() if "import time:" in line}
        assert "snakemake" in imported and not {"torch", "diffusers", "nerfstudio"} & imported, preset


def test_bad_configuration_stops_snakemake_naming_the_key(project, tmp_path):
    project.write_params(tmp_path, edit=lambda p: p["render"].update(camera_distanse=1.3))
    result = project.snakemake(tmp_path, "-n", "--cores", "1")
    assert result.returncode != 0
    assert "unknown key 'render.camera_distanse'" in result.stdout + result.stderr


def test_missing_asset_folder_stops_snakemake(project, tmp_path):
    project.write_params(tmp_path, "paper")
    result = project.snakemake(tmp_path, "-n", "--cores", "1")
    assert result.returncode != 0
    assert "asset folder 'resources/assets/igae_train' does not exist" in result.stdout + result.stderr


def test_paper_preset_fetches_the_pretrained_autoencoder(project, paper_assets):
    project.write_params(paper_assets, "paper", scenes={"igae_train": {"count": 1}})
    result = project.snakemake(paper_assets, "-n", "-p", "--cores", "1", "autoencoder_all")
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout + result.stderr
    assert "train_standard_autoencoder" not in out
    assert "igae fetch-autoencoder --out results/autoencoders/standard --params" in out
    assert '"autoencoder.allow_download": true' in out and '"autoencoder.pretrained": "ostris-kl-f8-d16"' in out


def test_official_data_scenes_are_imported_not_rendered(project, tmp_path, official_scene_set):
    data = official_scene_set(tmp_path / "data/train/objaverse", {"cake": ["c1", "c2"]})
    project.write_params(tmp_path, scenes={"igae_train": {"source": "official", "asset_dir": str(data), "count": None}})
    result = project.snakemake(tmp_path, "-n", "-p", "--cores", "1", "results/renders/index.json")
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout + result.stderr
    assert "igae import-scene --source" in out and "results/renders/c2 --split igae_train --dataset cake" in out
    params = yaml.safe_load((Path(__file__).parents[1] / "params.yaml").read_text())
    tiny_eval_scenes = params["scenes"]["eval"]["count"]
    assert out.count("igae render-scene") == tiny_eval_scenes  # the procedural evaluation scenes only
