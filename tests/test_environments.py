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


def rule_environments(repo: Path) -> set[str]:
    """Every `conda:` file named in the workflow's rule files."""
    names = set()
    for path in (repo / "workflow" / "rules").glob("*.smk"):
        names |= set(re.findall(r'conda:\s*\n\s*"\.\./envs/([^"]+)"', path.read_text()))
    return names


def test_every_named_environment_exists_and_pins_python_and_pip(repo):
    names = rule_environments(repo)
    assert names == {"igae.yaml"}
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


def test_every_rule_declares_log_benchmark_threads_resources_and_environment(repo):
    """Rules that run a command (``use rule`` inherits them from its parent); target rules only gather inputs."""
    for path in (repo / "workflow" / "rules").glob("*.smk"):
        for block in re.split(r"\n(?=rule \w+:)", path.read_text()):
            name = re.match(r"rule (\w+):", block)
            if name and "shell:" in block:
                for directive in ("log:", "benchmark:", "threads:", "resources:", "conda:"):
                    assert f"\n    {directive}" in block, f"rule {name.group(1)} ({path.name}) lacks {directive}"
