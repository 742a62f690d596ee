"""The conda environment of the rules (`snakemake --use-conda`): conda cannot run here, so its files are checked.

The post-deploy script is also the recipe of `make setup`, which CI runs on every fresh clone, so the install
itself is exercised; these tests pin down what conda adds around it.
"""

import re
import subprocess
import tomllib
from pathlib import Path

import yaml
from packaging.specifiers import SpecifierSet

ENVS = Path(__file__).resolve().parents[1] / "workflow" / "envs"


def test_every_named_environment_exists_and_pins_python_and_pip(repo, workflow_rules):
    names = {rule.conda_env for rule in workflow_rules if rule.shellcmd}
    assert names == {"../envs/igae.yaml"}
    environment = yaml.safe_load((ENVS / "igae.yaml").read_text())
    assert environment["channels"] == ["conda-forge", "nodefaults"]
    pins = dict(re.fullmatch(r"(\S+) =(\S+)", spec).groups() for spec in environment["dependencies"])
    assert set(pins) == {"python", "pip"} and all(re.fullmatch(r"\d+(\.\d+)+", version) for version in pins.values())
    requires = tomllib.loads((repo / "pyproject.toml").read_text())["project"]["requires-python"]
    assert pins["python"] in SpecifierSet(requires)
    assert f'"pip=={pins["pip"]}"' in (ENVS / "igae.post-deploy.sh").read_text()


def test_post_deploy_script_installs_only_pinned_packages(repo):
    script = ENVS / "igae.post-deploy.sh"
    assert script.stat().st_mode & 0o111, "Snakemake runs the post-deploy script: it must be executable"
    assert subprocess.run(["bash", "-n", str(script)]).returncode == 0
    installs = [line for line in script.read_text().splitlines() if "pip install" in line and "pip==" not in line]
    assert installs and all("-c constraints.txt" in line for line in installs)
    constraints = {
        line.split("==")[0].lower() for line in (repo / "constraints.txt").read_text().splitlines() if "==" in line
    }
    assert {"nerfstudio", "torch", "torchvision", "snakemake", "dvc", "diffusers", "lpips"} <= constraints


def test_post_deploy_script_refuses_to_run_outside_the_repository(tmp_path):
    result = subprocess.run(["bash", str(ENVS / "igae.post-deploy.sh")], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 1 and "run it from the repository root" in result.stderr


def test_every_rule_declares_log_benchmark_threads_resources_and_environment(workflow_rules):
    """Every rule that runs a command, as Snakemake parsed it (``use rule`` inherits from its parent); target
    rules only gather inputs."""
    commands = [rule for rule in workflow_rules if rule.shellcmd]
    assert len(commands) >= 20  # one per pipeline step (the tiny preset trains its own AE)
    for rule in commands:
        assert rule.log and rule.benchmark and rule.conda_env, rule.name
        assert {"mem_mb", "runtime", "_cores"} <= set(rule.resources), rule.name
