"""DVC tracks what it runs: dvc.yaml is what igae.dvc_stages renders from the run plan and the import graph, and
changing a file of each kind (package code, command line, configuration code, rule file, a param) marks exactly
the stages that execute or read it as changed."""

import json

import pytest
import yaml

from igae.dvc_stages import COMMAND_MODULES, STAGES, render_dvc_yaml

ALL = set(STAGES)


def test_dvc_yaml_is_in_step_with_the_run_plan(repo):
    assert (repo / "dvc.yaml").read_text() == render_dvc_yaml(repo), "run `igae sync-dvc` and commit dvc.yaml"


def test_each_command_is_traced_from_the_module_that_handles_it():
    """dvc_stages cannot import the command line (it sits below it): this keeps its command -> module table true."""
    from igae.commands import build_parser

    choices = next(action for action in build_parser()._actions if action.dest == "command").choices
    for command, module in COMMAND_MODULES.items():
        assert choices[command].get_default("handler").__module__ == f"igae.commands.{module}", command


def test_each_stage_wraps_its_snakemake_target_and_persists_its_outputs(repo):
    stages = yaml.safe_load((repo / "dvc.yaml").read_text())["stages"]
    assert list(stages) == ["render", "autoencoder", "igae", "nerf", "ablation", "report", "videos"]
    for name, stage in stages.items():
        assert stage["cmd"] == f"workflow/scripts/dvc-stage {name} $SMK_ARGS"
        assert all(next(iter(out.values()))["persist"] for out in stage["outs"])
        assert {"preset", "presets"} <= set(stage["params"]) and "workflow/rules/common.smk" in stage["deps"]
    assert "src/igae/commands" in stages["render"]["deps"] and "src/igae/nerf/run.py" not in stages["render"]["deps"]
    assert {"results/igae/final", "results/autoencoders/standard"} <= set(stages["nerf"]["deps"])
    assert {"results/igae", "results/nerf", "src/igae/reporting/turntables.py"} <= set(stages["videos"]["deps"])


def changed_stages(project, root) -> set[str]:
    result = project.tool(root, "dvc", "status", "--json")
    assert result.returncode == 0, result.stderr[-2000:]
    return set(json.loads(result.stdout or "{}"))


@pytest.mark.slow
def test_dvc_status_marks_the_stages_that_run_a_changed_file(finished_project, project):
    root = finished_project
    assert changed_stages(project, root) == set()

    def touch(relative: str) -> set[str]:
        path = root / relative
        original = path.read_text()
        path.write_text(original + "\n# edited\n")
        try:
            return changed_stages(project, root)
        finally:
            path.write_text(original)

    assert touch("src/igae/nerf/run.py") == {"nerf", "ablation", "report", "videos"}  # re-rendered from runs
    assert touch("src/igae/training/igae.py") == {"igae", "ablation", "videos"}  # turntables load tri-planes
    assert touch("src/igae/reporting/figures.py") == {"report"}
    assert touch("src/igae/reporting/turntables.py") == {"videos"}
    assert touch("src/igae/commands/report.py") == ALL  # every command imports the whole command line
    assert touch("src/igae/config/tree.py") == ALL
    assert touch("workflow/rules/nerf.smk") == {"nerf", "ablation"}
    assert touch("workflow/rules/common.smk") == ALL
    params = yaml.safe_load((root / "params.yaml").read_text())
    original = (root / "params.yaml").read_text()
    params["nerf"]["rgb_loss_weight"] = 0.02
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    assert changed_stages(project, root) == {"nerf", "ablation"}
    (root / "params.yaml").write_text(original)
    assert changed_stages(project, root) == set()
