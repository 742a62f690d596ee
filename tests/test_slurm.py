"""The SLURM profile on a real SLURM: a single-node cluster from Debian's packages runs part of the DAG.

The module fixture starts munged, a private mariadbd, slurmdbd (the executor plugin polls job states with
`sacct`), slurmctld and slurmd in the foreground, every file of theirs (keys, sockets, databases, state, logs)
in one temp dir and the configuration from the templates in tests/slurm/; the SLURM client tools find it through
SLURM_CONF. Nothing under /etc is touched and no systemd is needed. The Debian packages are installed
before pytest runs (tests/install-packages.sh, from `make test`). Where the cluster cannot be had the test
is skipped with the precise cause.
The jobs run on PATH a small srun shim (tests/slurm/srun.in) that hands SLURM_CONF back to the srun which the
jobstep plugin calls inside each job after removing it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import string
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent

TEMPLATES = Path(__file__).parent / "slurm"
PACKAGES = ("slurmctld", "slurmd", "slurmdbd", "slurm-client", "munge", "mariadb-server")
# Every command the fixture and the executor plugin call; a missing one means the packages are missing.
COMMANDS = (
    "munged", "munge", "mungekey", "mariadb-install-db", "mariadbd", "mariadb-admin",
    "slurmdbd", "slurmctld", "slurmd", "sacctmgr", "sacct", "sbatch", "srun", "sinfo", "squeue", "scancel",
)  # fmt: skip
# The venv first (its snakemake and igae), and /usr/sbin for the daemons, which a non-login shell's PATH may lack.
PATH = os.pathsep.join([str(BIN), os.environ.get("PATH", ""), "/usr/sbin", "/usr/bin", "/sbin", "/bin"])
CLUSTER = "igaetest"
ACCOUNT = "igae"
START_TIMEOUT = 90.0


def run(command: list[str], env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    """Runs a command to completion, never raising on a non-zero exit (callers report or poll on it)."""
    try:
        return subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(command, 124, "", f"timed out after {timeout} s")


def tail(text: str, lines: int = 15) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def failure(result: subprocess.CompletedProcess) -> str:
    """`command` (rc N): the end of its output, as a skip or failure reason."""
    return f"`{' '.join(result.args)}` (rc {result.returncode}): {tail(result.stdout + result.stderr)}"


def missing_commands() -> list[str]:
    return [name for name in COMMANDS if shutil.which(name, path=PATH) is None]


def ensure_packages() -> None:
    """Skips, naming what is missing, where the Debian packages are absent: tests/install-packages.sh
    (which ``make test`` runs first) installs them where it can."""
    if missing := missing_commands():
        pytest.skip(
            f"SLURM test cluster needs {', '.join(missing)} (Debian packages {' '.join(PACKAGES)}); "
            "tests/install-packages.sh installs them (root and apt-get)"
        )


def free_ports(count: int) -> list[int]:
    """Distinct TCP ports free on 127.0.0.1 now, so that the test cluster never collides with a real one."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


@dataclass
class Daemons:
    """The daemons this module started, each in the foreground so that it is our child and can be stopped by pid."""

    logs: Path
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    def start(self, name: str, command: list[str], env: dict[str, str]) -> None:
        with (self.logs / f"{name}.out").open("w") as out:
            # A session of their own: a Ctrl-C in the terminal reaches pytest, whose teardown then stops them.
            self.processes[name] = subprocess.Popen(
                command, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )

    def report(self, name: str) -> str:
        """The end of a daemon's own log file or, where it wrote none, of its console output."""
        for path in (self.logs / f"{name}.log", self.logs / f"{name}.out"):
            if path.is_file() and path.stat().st_size:
                return tail(path.read_text(errors="replace"))
        return "(no output)"

    def wait_until(self, what: str, ready: Callable[[], bool], timeout: float = START_TIMEOUT) -> None:
        """Polls `ready` every half second; skips the module if a daemon dies or `timeout` passes first."""
        deadline = time.monotonic() + timeout
        while not ready():
            for name, process in self.processes.items():
                if process.poll() is not None:
                    pytest.skip(f"{name} exited (rc {process.returncode}) before {what}: {self.report(name)}")
            if time.monotonic() > deadline:
                last = next(reversed(self.processes))
                pytest.skip(f"no {what} after {timeout:.0f} s; {last}: {self.report(last)}")
            time.sleep(0.5)

    def stop(self) -> None:
        """Stops the daemons in reverse start order: SIGTERM, then SIGKILL for any still running after 30 s."""
        for process in reversed(self.processes.values()):
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=30)
        self.processes.clear()


@dataclass(frozen=True)
class SlurmCluster:
    """A running test cluster: its node and the environment that points SLURM's client tools at it."""

    node: str
    env: dict[str, str]

    def run(self, *command: str, timeout: float = 60) -> subprocess.CompletedProcess:
        return run(list(command), self.env, timeout)

    def check(self, *command: str) -> None:
        """Runs a setup command; skips the module with its output when it fails."""
        result = self.run(*command)
        if result.returncode != 0:
            pytest.skip(f"SLURM test cluster: {failure(result)}")

    def node_state(self) -> str:
        return self.run("sinfo", "--noheader", "--nodes", self.node, "--format", "%t", timeout=20).stdout.strip()

    def cancel_jobs(self, timeout: float = 30) -> None:
        """Cancels what a failed run left queued or running, waiting for the queue to drain (best effort)."""
        self.run("scancel", "--user", "root", timeout=20)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            queue = self.run("squeue", "--noheader", "--format", "%i", timeout=20)
            if queue.returncode != 0 or not queue.stdout.strip():
                return
            time.sleep(0.5)


def node_definition() -> str:
    """This machine as `slurmd -C` sees it (NodeName=<short hostname> CPUs=... RealMemory=...)."""
    result = run([shutil.which("slurmd", path=PATH), "-C"])
    line = next((line for line in result.stdout.splitlines() if line.startswith("NodeName=")), None)
    if result.returncode != 0 or line is None:
        pytest.skip(f"SLURM test cluster: {failure(result)}")
    return line


def write_config(template: str, target: Path, values: dict[str, str | int]) -> None:
    target.write_text(string.Template((TEMPLATES / template).read_text()).substitute(values))


def start_cluster(root: Path, daemons: Daemons) -> SlurmCluster:
    """Starts munged, mariadbd, slurmdbd, slurmctld and slurmd under `root`, registers the cluster, account and
    user with slurmdbd, and returns once the node is idle and `sacct` answers."""
    for folder in ("state", "spool", "log", "run", "munge", "bin"):
        (root / folder).mkdir(mode=0o700)
    node_line = node_definition()
    node = node_line.split()[0].removeprefix("NodeName=")
    munge_socket = root / "munge/munge.socket"
    database_socket = root / "mariadb.sock"
    slurmctld_port, slurmd_port, slurmdbd_port = free_ports(3)
    conf = root / "slurm.conf"
    # The jobs inherit this PATH (sbatch --export=ALL): the srun shim puts back the SLURM_CONF that the
    # jobstep plugin takes away (see tests/slurm/srun.in).
    write_config("srun.in", root / "bin/srun", {"conf": conf, "srun": shutil.which("srun", path=PATH)})
    (root / "bin/srun").chmod(0o755)
    path = os.pathsep.join([str(root / "bin"), PATH])
    env = {**os.environ, "PATH": path, "SLURM_CONF": str(conf), "MYSQL_UNIX_PORT": str(database_socket)}
    cluster = SlurmCluster(node, env)

    # MUNGE with a key of its own, on a private socket (AuthInfo / AccountingStoragePass in slurm.conf).
    cluster.check("mungekey", "--create", "--keyfile", str(root / "munge/munge.key"))
    munged = ["munged", "--foreground", "--force", f"--socket={munge_socket}", f"--key-file={root}/munge/munge.key"]
    munged += [f"--pid-file={root}/run/munged.pid", f"--log-file={root}/log/munged.log"]
    munged += [f"--seed-file={root}/munge/seed"]
    daemons.start("munged", munged, env)
    daemons.wait_until("MUNGE credentials", lambda: cluster.run("munge", "-n", "-S", str(munge_socket)).returncode == 0)

    # The accounting database, reachable only through its socket; root logs in by unix_socket authentication.
    cluster.check("mariadb-install-db", "--no-defaults", "--user=root", f"--datadir={root}/mariadb", "--skip-test-db")
    mariadbd = ["mariadbd", "--no-defaults", "--user=root", f"--datadir={root}/mariadb", f"--socket={database_socket}"]
    mariadbd += ["--skip-networking", f"--pid-file={root}/run/mariadbd.pid", f"--log-error={root}/log/mariadbd.log"]
    daemons.start("mariadbd", mariadbd, env)
    ping = ["mariadb-admin", "--no-defaults", f"--socket={database_socket}", "ping"]
    daemons.wait_until("a MariaDB server", lambda: cluster.run(*ping).returncode == 0)

    values = {
        "cluster": CLUSTER,
        "node": node,
        "node_line": node_line,
        "root": root,
        "munge_socket": munge_socket,
        "slurmctld_port": slurmctld_port,
        "slurmd_port": slurmd_port,
        "slurmdbd_port": slurmdbd_port,
    }
    write_config("slurm.conf.in", conf, values)
    write_config("slurmdbd.conf.in", root / "slurmdbd.conf", values)  # read from SLURM_CONF's folder
    (root / "slurmdbd.conf").chmod(0o600)  # slurmdbd refuses a readable one; it is owned by SlurmUser=root

    daemons.start("slurmdbd", ["slurmdbd", "-D"], env)
    daemons.wait_until("slurmdbd on its port", lambda: listening(slurmdbd_port))
    cluster.check("sacctmgr", "-i", "add", "cluster", CLUSTER)
    cluster.check("sacctmgr", "-i", "add", "account", ACCOUNT, "Description=igae tests", "Organization=igae")
    cluster.check("sacctmgr", "-i", "add", "user", "root", f"Account={ACCOUNT}", f"DefaultAccount={ACCOUNT}")

    daemons.start("slurmctld", ["slurmctld", "-D"], env)
    daemons.wait_until("slurmctld on its port", lambda: listening(slurmctld_port))
    daemons.start("slurmd", ["slurmd", "-D", "-N", node], env)
    daemons.wait_until(f"node {node} idle in partition cpu", lambda: cluster.node_state() == "idle")
    daemons.wait_until("sacct answers", lambda: cluster.run("sacct", "--noheader", "-X").returncode == 0)
    return cluster


@pytest.fixture(scope="module")
def slurm_cluster() -> Iterator[SlurmCluster]:
    """A single-node SLURM cluster on localhost for this module; every daemon is stopped and every file removed
    afterwards, whether the test passed, failed or was skipped half-way through the start."""
    if os.geteuid() != 0:
        pytest.skip("SLURM test cluster needs root: to install its packages, and slurmd runs jobs as SlurmUser=root")
    ensure_packages()
    root = Path(tempfile.mkdtemp(prefix="igae-slurm-"))  # short: socket paths are limited to 107 bytes
    daemons = Daemons(root / "log")
    cluster: SlurmCluster | None = None
    try:
        cluster = start_cluster(root, daemons)
        yield cluster
    finally:
        if cluster is not None:
            cluster.cancel_jobs()
        daemons.stop()
        shutil.rmtree(root, ignore_errors=True)


@dataclass
class SlurmRun:
    """One `snakemake --profile workflow/profiles/slurm` call: its output and the SLURM job ids it submitted."""

    log: str
    jobs: list[str]
    run_id: str


def run_profile(repo: Path, folder: Path, cluster: SlurmCluster, target: str) -> SlurmRun:
    command = [str(BIN / "snakemake"), "--snakefile", str(repo / "Snakefile"), "--directory", str(folder)]
    command += ["--profile", str(repo / "workflow/profiles/slurm"), target]
    # The profile's own job limit, so that SLURM queues what its CPUs cannot run yet; the one test-speed override:
    # the first status check 3 s after a submission or a finished job instead of 40 s (the plugin adds 10 s to
    # the interval after each check that finds nothing finished).
    command += ["--slurm-init-seconds-before-status-checks", "3"]
    result = subprocess.run(
        command, cwd=folder, env=cluster.env, capture_output=True, text=True, timeout=900, check=False
    )
    log = result.stdout + result.stderr
    assert result.returncode == 0, tail(log, 60)
    run_id = re.search(r"SLURM run ID: (\S+)", log)
    assert run_id, tail(log, 60)
    return SlurmRun(log, re.findall(r"has been submitted with SLURM jobid (\d+)", log), run_id.group(1))


def accounting(cluster: SlurmCluster, jobs: list[str], *fields: str, steps: bool = False) -> list[list[str]]:
    """`sacct` rows of ``jobs`` (with their steps when ``steps``), the given fields each."""
    command = ["sacct", "--noheader", "--parsable2", "--jobs", ",".join(jobs), "--format", ",".join(fields)]
    result = cluster.run(*command, *([] if steps else ["-X"]))
    assert result.returncode == 0, failure(result)
    return [line.split("|") for line in result.stdout.splitlines()]


@pytest.fixture(scope="module")
def slurm_project(project, tmp_path_factory, slurm_cluster) -> Path:
    """A folder on the micro preset with IG-AE runs of 2 processes of one thread (the test node has 2 CPUs)."""
    folder = tmp_path_factory.mktemp("slurm_project")
    project.write_params(folder, "micro", igae={"world_size": 2, "threads": 1})
    return folder


@pytest.mark.slow
def test_profile_runs_the_render_stage_on_slurm(repo, slurm_project, slurm_cluster):
    """`snakemake --profile workflow/profiles/slurm render_all` on the micro configuration: every job goes through
    sbatch (8 jobs: 3 objects, 3 renders, the scene index and the real-image set) and completes in SLURM."""
    run = run_profile(repo, slurm_project, slurm_cluster, "render_all")
    index = (slurm_project / "results/renders/index.json").read_text()
    assert '"igae_train": 2' in index and '"eval": 1' in index
    assert len(list((slurm_project / "results/renders/proc-eval-000/images").glob("*.png"))) == 5
    assert (slurm_project / "results/real_images/index.json").is_file()

    # Each job was submitted with sbatch and SLURM's accounting saw it complete, on the profile's partition.
    assert len(run.jobs) == 8, tail(run.log, 60)
    rows = accounting(slurm_cluster, run.jobs, "JobIDRaw", "JobName", "State", "Partition", "Account", "Comment")
    assert sorted(row[0] for row in rows) == sorted(run.jobs)
    assert {tuple(row[1:5]) for row in rows} == {(run.run_id, "COMPLETED", "cpu", ACCOUNT)}
    rules = sorted(re.sub(r"_wildcards_.*", "", row[5]) for row in rows)
    expected = ["generate_procedural_object"] * 3 + ["index_scenes", "prepare_real_images"] + ["render_scene"] * 3
    assert rules == [f"rule_{rule}" for rule in expected]
    assert "rule_render_scene_wildcards_proc-eval-000" in {row[5] for row in rows}
    # Inside each job the jobstep plugin ran the rule as job step 0 (srun).
    steps = {row[0] for row in accounting(slurm_cluster, run.jobs, "JobIDRaw", steps=True)}
    assert {f"{job}.0" for job in run.jobs} <= steps


@pytest.mark.slow
def test_igae_stages_run_as_two_slurm_tasks(repo, project, slurm_project, slurm_cluster):
    """With igae.world_size 2 the IG-AE warm-up and training are SLURM jobs of 2 tasks: sbatch allocates them,
    the rule's `srun` starts them as one job step of 2 tasks (sacct), they train over gloo, rank 0 writes."""
    # Their inputs first, without SLURM (the render test above sent those rules through it): one polled job less.
    local = project.snakemake(slurm_project, "--cores", "2", "results/autoencoders/standard")
    assert local.returncode == 0, tail(local.stderr, 40)
    run = run_profile(repo, slurm_project, slurm_cluster, "results/igae/final")
    rows = accounting(slurm_cluster, run.jobs, "JobIDRaw", "Comment", "State", "NTasks", steps=True)
    by_rule = {re.sub(r"_wildcards_.*", "", row[1]): row[0] for row in rows if row[1]}
    assert {"rule_igae_warmup", "rule_igae_train"} <= set(by_rule), rows
    for rule in ("rule_igae_warmup", "rule_igae_train"):
        job = by_rule[rule]
        step = [row for row in rows if row[0] == f"{job}.0"]
        assert step and step[0][2:] == ["COMPLETED", "2"], (rule, rows)
    record = json.loads((slurm_project / "results/igae/final/metrics.json").read_text())
    assert record["world_size"] == 2 and record["steps_run"] == record["steps"] > 0
    log = (slurm_project / "logs/igae/igae_train.log").read_text()
    assert "joined the gloo process group" in log and "rank 0 of 2" in log


def test_profile_sends_every_gpu_rule_to_the_gpu_partition(repo, project, paper_assets):
    """The paper preset planned through the profile (a dry run, no SLURM needed): a job asks for the `gpu`
    partition exactly when it asks for a GPU, which the test cluster above has none of to run."""
    project.write_params(paper_assets, "paper", scenes={"igae_train": {"count": 1}})
    result = project.snakemake(paper_assets, "-n", "--profile", str(repo / "workflow/profiles/slurm"))
    assert result.returncode == 0, tail(result.stderr, 40)
    resources: dict[str, set[str]] = {}
    for line in (result.stdout + result.stderr).splitlines():
        if match := re.match(r"(?:local)?rule (\w+):$", line):
            rule = match.group(1)
        elif line.strip().startswith("resources: "):
            resources.setdefault(rule, set()).update(line.split(": ", 1)[1].split(", "))
    gpu_rules = {rule for rule, values in resources.items() if "gpu=1" in values}
    assert {"igae_warmup", "igae_train", "nerf_latent", "nerf_rgb"} <= gpu_rules
    assert gpu_rules == {rule for rule, values in resources.items() if "slurm_partition=gpu" in values}
