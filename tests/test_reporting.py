"""Aggregation of per-run NeRF metrics into tables: averages, best marks, missing runs, output formats."""

import json
import re

import pytest

from igae.reporting.aggregate import ReportError, quality_table, tidy_nerf_metrics
from igae.reporting.build import NERF_QUALITY
from igae.reporting.tables import latex_table, markdown_table, write_table

METRICS = ("psnr", "ssim", "lpips")


def write_run(root, space, method, scene, psnr, ssim=0.8, lpips=0.2):
    path = root / space / method / f"{scene}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {
        "method": method, "scene": scene, "metrics": {"psnr": psnr, "ssim": ssim, "lpips": lpips},
        "train_seconds": 10.0, "train_iterations_per_second": 5.0, "render_seconds_per_image": 0.1,
    }  # fmt: skip
    path.write_text(json.dumps(record))


@pytest.fixture
def runs(tmp_path):
    for scene, offset in (("s0", 0.0), ("s1", 2.0)):
        write_run(tmp_path, "standard", "nerfacto", scene, 20.0 + offset, lpips=0.30)
        write_run(tmp_path, "igae", "nerfacto", scene, 21.0 + offset, lpips=0.25)
        write_run(tmp_path, "rgb", "nerfacto", scene, 19.0 + offset, lpips=0.20)
    return tmp_path


def test_averages_over_scenes_and_marks_the_best_space_per_method(runs):
    table = quality_table(tidy_nerf_metrics(sorted(runs.glob("*/*/*.json"))), METRICS)
    assert list(table.index) == [("nerfacto", "standard"), ("nerfacto", "igae"), ("nerfacto", "rgb")]
    assert table.loc[("nerfacto", "igae"), "psnr"] == pytest.approx(22.0)
    assert table.loc[("nerfacto", "igae"), "psnr_std"] == pytest.approx(1.0)
    markdown = markdown_table(table, NERF_QUALITY)
    assert "| nerfacto | IG-AE | **22.00 ± 1.00** |" in markdown  # highest PSNR
    assert "| nerfacto | RGB | 20.00 ± 1.00 | **0.800 ± 0.000** | **0.200 ± 0.000** |" in markdown  # ties all marked


def test_missing_runs_are_named_instead_of_averaging_fewer_scenes(runs):
    (runs / "rgb/nerfacto/s1.json").unlink()
    with pytest.raises(ReportError, match="rgb/nerfacto/s1"):
        quality_table(tidy_nerf_metrics(sorted(runs.glob("*/*/*.json"))), METRICS)


def test_a_malformed_metrics_file_is_reported_by_path(runs):
    (runs / "igae/nerfacto/s0.json").write_text("{not json")
    with pytest.raises(ReportError, match="igae/nerfacto/s0.json"):
        tidy_nerf_metrics(sorted(runs.glob("*/*/*.json")))
    (runs / "igae/nerfacto/s0.json").write_text(json.dumps({"method": "nerfacto"}))
    with pytest.raises(ReportError, match="missing scene, metrics"):
        tidy_nerf_metrics(sorted(runs.glob("*/*/*.json")))


def test_latex_tabular_is_balanced_and_files_are_written(runs, tmp_path):
    table = quality_table(tidy_nerf_metrics(sorted(runs.glob("*/*/*.json"))), METRICS)
    latex = latex_table(table, NERF_QUALITY, "tab:quality")
    assert latex.count(r"\begin{tabular}") == latex.count(r"\end{tabular}") == 1
    assert latex.count("{") == latex.count("}")
    rows = [line for line in latex.splitlines() if line.endswith(r"\\")]
    assert len(rows) == 4 and all(row.count("&") == 4 for row in rows)  # header + 3 rows, 5 columns
    assert not re.search(r"(?<!\\)[_%#]", latex)
    paths = write_table(table, NERF_QUALITY, tmp_path / "tables" / "nerf_quality")
    assert [path.name for path in paths] == ["nerf_quality.csv", "nerf_quality.md", "nerf_quality.tex"]
    assert all(path.is_file() for path in paths)


def test_figures_are_written_as_png_and_pdf(runs, tmp_path):
    import numpy as np
    from PIL import Image

    from igae.reporting.build import build_figures

    strips = []
    for metrics in sorted(runs.glob("*/*/*.json")):
        strip = metrics.with_suffix(".png")
        Image.fromarray(np.full((64, 64, 3), 200, dtype=np.uint8)).save(strip)  # 2 views of 32x32: render over GT
        strips.append(strip)
    log = tmp_path / "metrics.csv"
    log.write_text("step,loss,test/latent_psnr\n1,0.5,\n2,0.4,30.0\n")
    paths = build_figures(sorted(runs.glob("*/*/*.json")), strips, {"warm-up": log, "joint": log}, tmp_path / "f")
    names = sorted(path.name for path in paths)
    assert "qualitative_s0.pdf" in names and "qualitative_s1.png" in names and "nerf_psnr.pdf" in names
    assert all(path.stat().st_size > 0 for path in paths)


def test_the_qualitative_grid_shows_each_run_in_its_cell(tmp_path):
    """Rows are methods, columns ground truth | standard AE | IG-AE | RGB: each panel shows exactly the held-out
    view of its run's strip (render above ground truth), a missing run leaves its cell empty."""
    import matplotlib

    matplotlib.use("Agg")
    import numpy as np
    from PIL import Image

    from igae.reporting.figures import qualitative_grid

    def strip(path, render_value, truth_value):
        image = np.concatenate([np.full((8, 8, 3), render_value, np.uint8), np.full((8, 8, 3), truth_value, np.uint8)])
        Image.fromarray(image).save(path)
        return path

    runs = {
        ("nerfacto", "standard"): strip(tmp_path / "a.png", 10, 250),
        ("nerfacto", "igae"): strip(tmp_path / "b.png", 60, 250),
        ("nerfacto", "rgb"): strip(tmp_path / "c.png", 110, 250),
        ("tensorf", "standard"): strip(tmp_path / "d.png", 160, 240),  # no IG-AE or RGB run of TensoRF
    }
    figure = qualitative_grid(runs, "s0")
    axes = np.array(figure.axes).reshape(2, 4)
    shown = [[axis.images[0].get_array()[0, 0, 0] if axis.images else None for axis in row] for row in axes]
    assert shown == [[250, 10, 60, 110], [240, 160, None, None]]
    assert [axis.get_title() for axis in axes[0]] == ["ground truth", "standard AE", "IG-AE", "RGB"]
    assert [row[0].get_ylabel() for row in axes] == ["nerfacto", "tensorf"]


def test_an_unreadable_strip_is_reported_by_path(tmp_path):
    from igae.reporting.figures import held_out_view

    (tmp_path / "broken.png").write_text("not an image")
    with pytest.raises(ReportError, match="broken.png"):
        held_out_view(tmp_path / "broken.png")


def write_autoencoder_record(path, real_psnr, rendered_psnr):
    sets = {
        "real_heldout": {"images": 4, "psnr": real_psnr, "ssim": 0.5, "lpips": 0.4, "colour_error": 3.0},
        "rendered_heldout": {"images": 4, "psnr": rendered_psnr, "ssim": 0.8, "lpips": 0.2, "colour_error": 1.0},
    }
    path.write_text(json.dumps({"sets": sets}))
    return path


def test_per_dataset_table_averages_within_each_dataset(runs, tmp_path):
    from igae.reporting.build import build_tables

    index = tmp_path / "index.json"
    splits = {"eval": [{"scene": "s0", "dataset": "cake"}, {"scene": "s1", "dataset": "house"}]}
    index.write_text(json.dumps({"splits": splits}))
    autoencoders = {"standard": write_autoencoder_record(tmp_path / "ae.json", 22.0, 23.0)}
    metrics = sorted(runs.glob("*/*/*.json"))
    build_tables(metrics, autoencoders, tmp_path / "tables", tmp_path / "summary.json", index)
    markdown = (tmp_path / "tables" / "nerf_quality_by_dataset.md").read_text()
    assert "| cake | nerfacto | IG-AE | **21.00** |" in markdown  # s0 only
    assert "| house | nerfacto | IG-AE | **23.00** |" in markdown  # s1 only, best marked per dataset
    index.write_text(json.dumps({"splits": {"eval": [{"scene": "s0", "dataset": "cake"}]}}))
    with pytest.raises(ReportError, match="scene 's1' is not in the scene index"):
        build_tables(metrics, autoencoders, tmp_path / "tables", tmp_path / "summary.json", index)


def test_ablation_table_rows_columns_and_missing_evaluations(tmp_path):
    from igae.reporting.aggregate import ablation_table
    from igae.reporting.build import LOSS_ABLATION

    runs = {"standard": 20.0, "igae": 23.0, "ablation-no-rgb": 21.0, "ablation-no-tv": 22.5}
    for space, psnr in runs.items():
        for scene, offset in (("s0", 0.0), ("s1", 1.0)):
            write_run(tmp_path, space, "tensorf", scene, psnr + offset)
    records = {
        variant: write_autoencoder_record(tmp_path / f"{variant}.json", real, rendered)
        for variant, real, rendered in (("standard", 22.0, 23.0), ("full", 21.5, 24.0), ("no-rgb", 21.9, 22.0),
                                        ("no-tv", 21.0, 23.5))
    }  # fmt: skip
    tidy = tidy_nerf_metrics(sorted(tmp_path.glob("*/*/*.json")))
    table = ablation_table(tidy, records)
    assert list(table.index) == [("tensorf", v) for v in ("standard", "full", "no-rgb", "no-tv")]
    assert table.loc[("tensorf", "full"), "psnr"] == pytest.approx(23.5)  # the IG-AE's runs are the reference
    assert table.loc[("tensorf", "no-rgb"), "autoencoder_real_heldout_psnr"] == pytest.approx(21.9)
    markdown = markdown_table(table, LOSS_ABLATION)
    assert "| tensorf | w/o L_RGB | 21.50 ± 0.50 |" in markdown
    assert "| tensorf | IG-AE (all terms) | **23.50 ± 0.50** |" in markdown and "**24.00** |" in markdown
    del records["no-tv"]
    with pytest.raises(ReportError, match="no autoencoder evaluation given for ablation variants no-tv"):
        ablation_table(tidy, records)
    bad = tmp_path / "ablation-no-colour" / "tensorf" / "s0.json"
    bad.parent.mkdir(parents=True)
    bad.write_text("{}")
    with pytest.raises(ReportError, match="unknown space 'ablation-no-colour'"):
        tidy_nerf_metrics([bad])


def test_one_scene_gives_means_without_a_spread(runs):
    for path in runs.glob("*/*/s1.json"):
        path.unlink()
    table = quality_table(tidy_nerf_metrics(sorted(runs.glob("*/*/*.json"))), METRICS)
    assert "psnr_std" not in table.columns
    assert "| nerfacto | IG-AE | **21.00** |" in markdown_table(table, NERF_QUALITY)


# -- paired statistics --------------------------------------------------------------------------------------------
def test_paired_differences_are_per_scene_and_intervals_follow_the_scene_count(tmp_path):
    from scipy import stats

    from igae.reporting.build import NERF_PAIRED
    from igae.reporting.statistics import MIN_BOOTSTRAP_SCENES, paired_differences, paired_table

    gains = [0.9, 1.4, 0.2, 1.1, 0.7, 1.6, 0.4, 1.0]  # IG-AE minus standard AE, per scene
    for index, gain in enumerate(gains):
        base = 20.0 + 3 * index  # scenes differ far more than the gain: only a paired test sees it
        write_run(tmp_path, "standard", "tensorf", f"s{index}", base)
        write_run(tmp_path, "igae", "tensorf", f"s{index}", base + gain)
    tidy = tidy_nerf_metrics(sorted(tmp_path.glob("*/*/*.json")))
    differences = paired_differences(tidy)
    assert differences.loc[("tensorf", "igae-standard"), "psnr"].tolist() == pytest.approx(gains)
    row = paired_table(differences).loc[("tensorf", "igae-standard")]
    assert row["psnr"] == pytest.approx(sum(gains) / len(gains)) and row["scenes"] == len(gains)
    assert row["interval"] == "bootstrap-bca" and 0 < row["psnr_low"] < row["psnr"] < row["psnr_high"]
    assert row["ssim"] == 0.0 and row["interval"] != "none"  # equal SSIM everywhere: a zero-width interval
    assert "**+0.91 [+" in markdown_table(paired_table(differences), NERF_PAIRED)  # excludes zero: bold

    few = tidy[tidy["scene"].isin([f"s{i}" for i in range(MIN_BOOTSTRAP_SCENES - 1)])]
    row = paired_table(paired_differences(few)).loc[("tensorf", "igae-standard")]
    low, high = stats.t.interval(0.95, len(gains[:5]) - 1, loc=row["psnr"], scale=stats.sem(gains[:5]))
    assert row["interval"] == "t" and (row["psnr_low"], row["psnr_high"]) == pytest.approx((low, high))
    one = paired_table(paired_differences(tidy[tidy["scene"] == "s0"])).loc[("tensorf", "igae-standard")]
    assert one["interval"] == "none" and "| tensorf | IG-AE − standard AE | +0.90 | " in markdown_table(
        paired_table(paired_differences(tidy[tidy["scene"] == "s0"])), NERF_PAIRED
    )


def test_the_tables_and_figures_include_the_paired_comparison(runs, tmp_path):
    from igae.reporting.build import build_tables

    standard = tmp_path / "ae.json"
    write_autoencoder_record(standard, 25.0, 24.0)
    paths = build_tables(sorted(runs.glob("*/*/*.json")), {"standard": standard}, tmp_path / "t", tmp_path / "s.json")
    paired = (tmp_path / "t/nerf_paired.csv").read_text().splitlines()
    assert paired[0].startswith("method,comparison,psnr,psnr_low,psnr_high") and len(paired) == 4  # 3 comparisons
    assert tmp_path / "t/nerf_paired.tex" in paths


def test_the_scale_study_pairs_each_point_with_the_standard_ae_on_the_same_scenes(tmp_path):
    from igae.reporting.build import build_study

    gains = {"s2-e1": 0.1, "s4-e1": 0.5, "s4-e3": 1.0}  # IG-AE minus standard AE, the same on every scene
    records = {}
    for point, gain in gains.items():
        scenes, epochs = (int(part[1:]) for part in point.split("-"))
        records[point] = tmp_path / point / "metrics.json"
        records[point].parent.mkdir()
        record = {"scenes": scenes, "epochs": epochs, "steps": 4 * scenes * epochs, "test/render_psnr": 18.0 + gain}
        records[point].write_text(json.dumps({**record, "real_heldout/ae_psnr": 21.0}))
        for index in range(3):
            psnr = 20.0 + index + gain + 0.01 * index
            write_run(tmp_path / "runs", f"study-{point}", "tensorf", f"s{index}", psnr)
    for index in range(3):
        write_run(tmp_path / "runs", "standard", "tensorf", f"s{index}", 20.0 + index)
    paths = build_study(
        sorted((tmp_path / "runs").glob("*/*/*.json")), records, (4, 1), tmp_path / "table", tmp_path / "figure"
    )
    assert [path.name for path in paths] == ["table.csv", "table.md", "table.tex", "figure.png", "figure.pdf"]
    lines = (tmp_path / "table.md").read_text().splitlines()
    assert lines[0].startswith("| Method | IG-AE scenes | stage-2 epochs | stage-2 steps | IG-AE monitor PSNR ↑ |")
    assert lines[2].startswith("| tensorf | 2 | 1 | 8 | 18.10 | 21.00 | **+0.11 [+")  # t interval over 3 scenes
    assert lines[4].startswith("| tensorf | 4 | 3 | 48 | 19.00 | 21.00 | **+1.01 [+")
    (tmp_path / "s4-e3" / "metrics.json").write_text("{}")
    with pytest.raises(ReportError, match="s4-e3/metrics.json: not the metrics.json of an IG-AE stage-2 run"):
        build_study(sorted((tmp_path / "runs").glob("*/*/*.json")), records, (4, 1), tmp_path / "t", tmp_path / "f")
