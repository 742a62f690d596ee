"""The run plan: every run of the pipeline's DAG, its output paths, the parameters it reads and its resources.

Computed once from the typed configuration (:class:`igae.config.Params`), torch-free, so that ``snakemake -n``
plans the tiny and the paper presets in about a second. The workflow's rules only expand what is here:
which scenes are rendered, which NeRF runs exist (latent space x method x scene), the loss-ablation variants and
where each reads its IG-AE from, what each report aggregates, how many threads and GPUs a job asks for (GPUs
from the configured devices, never from the preset's name), and the ``--params`` payload each command gets
(:data:`COMMAND_PARAMS`: the dotted keys of ``params.yaml`` a command reads; a job reruns when one of them
changes, and no key outside them reaches it).

DVC's stages (``dvc.yaml``) are written from :data:`STAGES` by ``igae sync-dvc``; a test keeps them in step.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from igae.config import Params, deep_merge, params_payload
from igae.config.tree import LOCAL_AUTOENCODERS, StageConfig, build, to_plain
from igae.data.plan import SceneSpec, plan_scenes
from igae.errors import ConfigError
from igae.nerf.catalog import runnable_methods
from igae.reporting import outputs
from igae.reporting.outputs import STUDY_PREFIX
from igae.training.ablation import FULL, variant_names

#: The dotted keys of ``params.yaml`` each command reads (its ``--params``), by command name.
COMMAND_PARAMS: dict[str, tuple[str, ...]] = {
    "generate-object": ("scenes.procedural", "render.object_radius"),
    "render-scene": ("render",),
    "import-scene": ("render.test_fraction",),
    "prepare-real-images": ("real_images", "render.image_size"),
    "train-autoencoder": (
        "autoencoder.latent_channels",
        "autoencoder.embedded",
        "autoencoder.device",
        "render.image_size",
    ),
    "fetch-autoencoder": ("autoencoder.pretrained", "autoencoder.latent_channels", "autoencoder.allow_download"),
    "evaluate-autoencoder": (
        "autoencoder.latent_channels",
        "autoencoder.normalizer",
        "autoencoder.evaluation",
        "autoencoder.device",
        "autoencoder.embedded.rendered_views",  # the reference codec is fitted on the embedded AE's training set
        "render.image_size",
    ),
    "train-igae-stage": ("igae", "autoencoder.latent_channels", "autoencoder.normalizer", "autoencoder.device"),
    "train-nerf": ("nerf", "autoencoder.latent_channels", "autoencoder.normalizer"),
    "render-turntable": (
        "videos",
        "render.focal",
        "render.image_size",
        "igae.rendering",
        "igae.monitor.scenes",
        "autoencoder.latent_channels",
        "autoencoder.normalizer",
        "autoencoder.device",
    ),
    "render-nerf-turntable": ("videos", "render.focal", "render.image_size"),
}

STANDARD_AUTOENCODER = "results/autoencoders/standard"
IGAE_WARMUP = "results/igae/warmup"
IGAE_FINAL = "results/igae/final"
#: Latent space -> (the rule output that holds its autoencoder, the diffusers folder inside it).
LATENT_SPACES: dict[str, tuple[str, str]] = {
    "standard": (STANDARD_AUTOENCODER, "."),
    "igae": (IGAE_FINAL, "autoencoder"),
}
RGB = "rgb"
#: IG-AE runs filmed as turntables: output folder (its triplanes.pt) and the latent space whose autoencoder decodes
#: its latents (a key of :data:`LATENT_SPACES`).
TURNTABLE_STAGES: dict[str, tuple[str, str]] = {
    "warmup": (IGAE_WARMUP, "standard"),
    "final": (IGAE_FINAL, "igae"),
    "control": ("results/igae/control", "standard"),
}

#: Scheduling priorities: Snakemake starts the highest ready job first. The chain render -> standard AE ->
#: IG-AE warm-up -> stage 2 (-> ablation variants) gates most of the DAG; NeRFs, evaluations and the control
#: fill the cores beside it (unlisted rules: 0).
PRIORITY = {"render": 50, "standard_autoencoder": 40, "igae_warmup": 30, "igae_train": 20, "ablation": 10}


def cuda_visible() -> bool:
    """Whether this machine shows an NVIDIA GPU, without importing torch (the driver's device node or
    ``nvidia-smi``), unless ``CUDA_VISIBLE_DEVICES`` hides every device."""
    if os.environ.get("CUDA_VISIBLE_DEVICES", None) in ("", "-1"):
        return False
    return Path("/dev/nvidiactl").exists() or shutil.which("nvidia-smi") is not None


def uses_cuda(device: str) -> bool:
    """Whether jobs configured for ``device`` (auto, cpu, cuda, cuda:N) run on a GPU."""
    return device.startswith("cuda") or (device == "auto" and cuda_visible())


#: How a distributed IG-AE run's processes are started: on one machine, or as the tasks of a SLURM job step.
LAUNCHERS = ("torchrun", "srun")


@dataclass(frozen=True)
class Resources:
    """What one job of a phase asks the scheduler for: ``processes`` (over ``nodes``), each with ``threads``
    CPU threads and ``gpus`` GPUs."""

    threads: int
    gpus: int
    processes: int = 1
    nodes: int = 1

    @property
    def total_threads(self) -> int:
        """The job's CPU threads, all its processes together (what Snakemake reserves on one machine)."""
        return self.threads * self.processes

    @property
    def total_gpus(self) -> int:
        return self.gpus * self.processes

    def distributed_resources(self) -> dict[str, int | str]:
        """The SLURM executor plugin's resources of a multi-process job (none for one process): ``tasks`` and
        ``nodes`` for sbatch, ``mpi`` so that the job runs the rule's command once, whose launcher starts the
        tasks, and one task per GPU."""
        if self.processes == 1:
            return {}
        resources: dict[str, int | str] = {"tasks": self.processes, "nodes": self.nodes, "mpi": "srun"}
        return resources | ({"tasks_per_gpu": 1} if self.gpus else {})

    def launch_prefix(self, launcher: str) -> str:
        """What goes before the command of a job of ``processes`` processes ("" for one): ``torchrun`` starts
        them on this machine, ``srun`` as the tasks of a job step (the SLURM profile sets ``launcher: srun``)."""
        if launcher not in LAUNCHERS:
            raise ConfigError(f"resource 'launcher' is '{launcher}': expected one of {', '.join(LAUNCHERS)}")
        if self.processes == 1:
            return ""
        if launcher == "torchrun":
            if self.nodes > 1:
                raise ConfigError(
                    f"igae.nodes is {self.nodes}: torchrun here starts processes on one machine; run several nodes "
                    "under SLURM (--profile workflow/profiles/slurm) or set igae.nodes: 1"
                )
            return f"torchrun --standalone --nnodes 1 --nproc-per-node {self.processes} --no-python"
        per_node = self.processes // self.nodes
        prefix = f"srun --ntasks {self.processes} --nodes {self.nodes} --ntasks-per-node {per_node}"
        prefix += f" --cpus-per-task {self.threads} --kill-on-bad-exit=1"
        return prefix + (f" --gpus-per-task {self.gpus}" if self.gpus else "")


@dataclass(frozen=True)
class AblationPlan:
    """The loss ablation's runs: variants, where each one's IG-AE and metrics are, and the NeRFs they train."""

    variants: tuple[str, ...]
    methods: tuple[str, ...]
    scenes: tuple[str, ...]
    retrains_full: bool  # the reference `full` is retrained (ablation.train set) rather than the IG-AE itself
    igae: dict[str, str]  # variant -> its stage-2 output folder
    autoencoder_metrics: dict[str, str]  # variant -> its reconstruction metrics
    nerf_metrics: tuple[str, ...]  # every variant's latent NeRF metrics (the IG-AE's own runs for a reused `full`)
    reference_metrics: tuple[str, ...]  # the standard AE's runs of the same methods and scenes

    @property
    def targets(self) -> tuple[str, ...]:
        """What the ablation phase makes: every variant's NeRF metrics, and the reconstruction metrics of the
        variants it trains (a reused `full` is evaluated by the report phase)."""
        owned = [path for path in self.autoencoder_metrics.values() if path.startswith("results/ablation/")]
        return (*self.nerf_metrics, *owned)


@dataclass(frozen=True)
class StudyPoint:
    """One point of the scale study: an IG-AE trained on the first ``scenes`` IG-AE scenes, ``train_epochs``
    stage-2 epochs."""

    scenes: int
    train_epochs: int

    @property
    def name(self) -> str:
        return f"s{self.scenes}-e{self.train_epochs}"


@dataclass(frozen=True)
class StudyPlan:
    """The scale study's runs: its points, their IG-AEs (one warm-up per scene count, shared by the points with
    that count), and the latent NeRFs each is evaluated with, paired with the standard AE's on the same scenes."""

    points: tuple[StudyPoint, ...]
    methods: tuple[str, ...]
    scenes: tuple[str, ...]  # the study's evaluation scenes
    nerf_metrics: tuple[str, ...]  # every point's latent NeRF metrics
    reference_metrics: tuple[str, ...]  # the standard AE's runs of the same methods and scenes

    @property
    def warmup_scene_counts(self) -> tuple[int, ...]:
        return tuple(sorted({point.scenes for point in self.points}))

    def point(self, name: str) -> StudyPoint:
        return next(point for point in self.points if point.name == name)

    @property
    def targets(self) -> tuple[str, ...]:
        """The study's table and figure (each in every format), which need every run above."""
        return (
            (
                *(f"{STUDY_TABLE}.{fmt}" for fmt in outputs.TABLE_FORMATS),
                *(f"{STUDY_FIGURE}.{fmt}" for fmt in outputs.FIGURE_FORMATS),
            )
            if self.points
            else ()
        )


class RunPlan:
    """Every run of the DAG for one resolved configuration."""

    def __init__(self, params: Params):
        self.params = params
        self.scenes: dict[str, SceneSpec] = {spec.scene_id: spec for spec in plan_scenes(params.scenes, params.seed)}
        self.eval_scenes: tuple[str, ...] = tuple(sorted(s for s, spec in self.scenes.items() if spec.split == "eval"))
        nerf = params.nerf
        self.nerf_on_cuda = uses_cuda(nerf.device)
        methods, self.skipped_methods = runnable_methods(list(nerf.methods), self.nerf_on_cuda)
        self.nerf_methods: tuple[str, ...] = tuple(methods)
        if nerf.methods and not methods:
            raise ConfigError(
                f"nerf.methods {list(nerf.methods)}: every one needs CUDA ({'; '.join(self.skipped_methods.values())})"
                f" and nerf.device '{nerf.device}' has none here: add a CPU method or run where a GPU is"
            )
        self.nerf_spaces: tuple[str, ...] = (*nerf.autoencoders, *([RGB] if nerf.rgb_baselines else []))
        self.nerf_metrics: tuple[str, ...] = tuple(
            nerf_metrics_path(space, method, scene)
            for space in self.nerf_spaces
            for method in self.nerf_methods
            for scene in self.eval_scenes
        )
        self.ablation = self._ablation()
        self.study = self._study()
        self.pretrained_folder = local_pretrained_folder(params.autoencoder.source, params.autoencoder.pretrained)
        self.latent_figure_method = "tensorf" if "tensorf" in self.nerf_methods else next(iter(self.nerf_methods), None)
        self.latent_figure_runs: dict[str, str] = (
            {
                space: nerf_metrics_path(space, self.latent_figure_method, self.eval_scenes[0])
                for space in nerf.autoencoders
            }
            if self.latent_figure_method and self.eval_scenes
            else {}
        )

        videos = params.videos
        unplanned = sorted(set(videos.nerf_methods or ()) - set(nerf.methods))
        if unplanned:
            raise ConfigError(
                f"videos.nerf_methods {unplanned}: not in nerf.methods {list(nerf.methods)}, so never trained"
            )
        filmed = [
            method for method in self.nerf_methods if videos.nerf_methods is None or method in videos.nerf_methods
        ]
        #: (method, scene) -> {space: metrics JSON of its run}: one NeRF turntable each.
        self.nerf_turntables: dict[tuple[str, str], dict[str, str]] = {
            (method, scene): {space: nerf_metrics_path(space, method, scene) for space in self.nerf_spaces}
            for method in filmed
            for scene in self.eval_scenes[: videos.nerf_scenes]
        }

    # ----------------------------------------------------------------------------------------------- runs

    def _ablation(self) -> AblationPlan:
        config = self.params.ablation
        variants = tuple(variant_names(config.terms)) if config.terms else ()
        retrains_full = bool(config.train)
        methods = tuple(runnable_methods(list(config.methods or self.params.nerf.methods), self.nerf_on_cuda)[0])
        scenes = self.eval_scenes[: config.eval_scenes]
        reuses_igae = lambda variant: variant == FULL and not retrains_full  # noqa: E731 - the one condition
        reuses_runs = not retrains_full and "igae" in self.params.nerf.autoencoders
        return AblationPlan(
            variants=variants,
            methods=methods,
            scenes=scenes,
            retrains_full=retrains_full,
            igae={v: IGAE_FINAL if reuses_igae(v) else f"results/ablation/igae/{v}" for v in variants},
            autoencoder_metrics={
                v: autoencoder_metrics_path("igae")
                if reuses_igae(v)
                else f"results/ablation/metrics/autoencoder/{v}.json"
                for v in variants
            },
            nerf_metrics=tuple(
                nerf_metrics_path("igae", method, scene)
                if variant == FULL and reuses_runs
                else f"results/ablation/metrics/ablation-{variant}/{method}/{scene}.json"
                for variant in variants
                for method in methods
                for scene in scenes
            ),
            reference_metrics=tuple(
                nerf_metrics_path("standard", method, scene)
                for method in methods
                for scene in scenes
                if "standard" in self.params.nerf.autoencoders
            ),
        )

    def _study(self) -> StudyPlan:
        config = self.params.study
        points = tuple(
            dict.fromkeys(
                [StudyPoint(scenes, config.base.train_epochs) for scenes in config.scenes]
                + [StudyPoint(config.base.scenes, epochs) for epochs in config.train_epochs]
            )
        )
        if not points:
            return StudyPlan((), (), (), (), ())
        igae_scenes = sum(spec.split == "igae_train" for spec in self.scenes.values())
        too_many = sorted({point.scenes for point in points if point.scenes > igae_scenes})
        if too_many:
            raise ConfigError(
                f"study: points with {too_many} IG-AE scenes, but scenes.igae_train has {igae_scenes}: raise "
                f"scenes.igae_train.count or lower study.scenes / study.base.scenes"
            )
        last = config.first_eval_scene + config.eval_scenes
        if last > len(self.eval_scenes):
            raise ConfigError(
                f"study: evaluation scenes {config.first_eval_scene} to {last - 1}, but scenes.eval has "
                f"{len(self.eval_scenes)}: raise scenes.eval.count to at least {last}"
            )
        if "standard" not in self.params.nerf.autoencoders:
            raise ConfigError("study: pairs each point with the standard AE's runs; add standard to nerf.autoencoders")
        methods = tuple(runnable_methods(list(config.methods or self.params.nerf.methods), self.nerf_on_cuda)[0])
        if not methods:
            raise ConfigError(f"study.methods {list(config.methods or [])}: none runs here (every one needs CUDA)")
        scenes = self.eval_scenes[config.first_eval_scene : last]
        return StudyPlan(
            points=points,
            methods=methods,
            scenes=scenes,
            nerf_metrics=tuple(
                study_nerf_metrics_path(point.name, method, scene)
                for point in points
                for method in methods
                for scene in scenes
            ),
            reference_metrics=tuple(
                nerf_metrics_path("standard", method, scene) for method in methods for scene in scenes
            ),
        )

    def scene_ids(self, imported: bool) -> list[str]:
        """The planned scenes that are (or are not) imported official scenes."""
        return [scene for scene, spec in self.scenes.items() if spec.imported == imported]

    # ------------------------------------------------------------------------------------ params, resources

    def payload(self, command: str, params: Params | None = None) -> str:
        """The ``--params`` JSON of ``command``: the keys it reads, from ``params`` (default: the plan's)."""
        return params_payload(params or self.params, COMMAND_PARAMS[command])

    def ablation_payload(self) -> str:
        """``train-igae-stage``'s payload for the ablation variants: ``igae.train`` with ``ablation.train`` in."""
        igae = self.params.igae
        train = build(StageConfig, deep_merge(to_plain(igae.train), self.params.ablation.train or {}), "igae.train")
        return self.payload(
            "train-igae-stage", dataclasses.replace(self.params, igae=dataclasses.replace(igae, train=train))
        )

    def study_payload(self, train_epochs: int) -> str:
        """``train-igae-stage``'s payload for a study point's stage 2: ``igae.train.epochs`` set to ``train_epochs``
        (the warm-ups take the plain payload: they read only ``igae.warmup``)."""
        igae = self.params.igae
        igae = dataclasses.replace(igae, train=dataclasses.replace(igae.train, epochs=train_epochs))
        return self.payload("train-igae-stage", dataclasses.replace(self.params, igae=igae))

    def resources(self, phase: str) -> Resources:
        """Threads and GPUs of one job of ``phase`` (render, autoencoder, igae, nerf, report)."""
        autoencoder_gpus = int(uses_cuda(self.params.autoencoder.device))
        return {
            "render": Resources(1, 0),
            "autoencoder": Resources(self.params.autoencoder.threads, autoencoder_gpus),
            "igae": Resources(
                self.params.igae.threads, autoencoder_gpus, self.params.igae.world_size, self.params.igae.nodes
            ),
            "nerf": Resources(self.params.nerf.threads, int(self.nerf_on_cuda)),
            "report": Resources(1, 0),
        }[phase]

    def summary(self) -> dict:
        """The plan as plain data (``igae plan``; the tests compare plans through it)."""
        return {
            "preset": self.params.preset,
            "scenes": {
                scene: dataclasses.asdict(spec) | {"asset": str(spec.asset)} for scene, spec in self.scenes.items()
            },
            "nerf_methods": list(self.nerf_methods),
            "skipped_methods": self.skipped_methods,
            "nerf_metrics": list(self.nerf_metrics),
            "ablation": to_plain(dataclasses.asdict(self.ablation)),
            "study": to_plain(dataclasses.asdict(self.study)),
            "latent_figure_runs": self.latent_figure_runs,
            "nerf_turntables": [turntable_path(method, scene) for method, scene in self.nerf_turntables],
            "resources": {
                phase: dataclasses.asdict(self.resources(phase))
                for phase in ("render", "autoencoder", "igae", "nerf", "report")
            },
            "payloads": {command: json.loads(self.payload(command)) for command in COMMAND_PARAMS}
            | {"train-igae-stage (ablation)": json.loads(self.ablation_payload())},
            "autoencoder_source": self.params.autoencoder.source,
        }

    # ---------------------------------------------------------------------------------------- report files

    def qualitative_figures(self) -> list[str]:
        """Stems of the qualitative grids: one per evaluation scene."""
        return [f"results/figures/report/{outputs.QUALITATIVE}_{scene}" for scene in self.eval_scenes]


def local_pretrained_folder(source: str, pretrained: str) -> str | None:
    """The local folder a ``pretrained`` standard AE is copied from (the folder named, else
    ``resources/autoencoders/<preset>``: the loader's order), so that the job copying it reruns when its files
    change; None when it comes from the hub cache or when the AE is trained here (``source: embedded``)."""
    if source != "pretrained":
        return None
    for folder in (Path(pretrained), LOCAL_AUTOENCODERS / pretrained):
        if folder.is_dir():
            return str(folder)
    return None


def nerf_metrics_path(space: str, method: str, scene: str) -> str:
    """The metrics JSON of one NeRF run (``space``: standard, igae or rgb)."""
    return f"results/metrics/nerf/{space}/{method}/{scene}.json"


STUDY_TABLE = "results/study/scale_study"
STUDY_FIGURE = "results/study/scale_study_gain"


def study_igae_path(point: str) -> str:
    """The stage-2 output of one study point (``s<scenes>-e<epochs>``, or a wildcard)."""
    return f"results/study/igae/{point}"


def study_warmup_path(scenes: int | str) -> str:
    """The warm-up shared by the study points with ``scenes`` IG-AE scenes (or a wildcard, ``"{study_scenes}"``)."""
    return f"results/study/igae/warmup-s{scenes}"


def study_nerf_metrics_path(point: str, method: str, scene: str) -> str:
    """The metrics JSON of one latent NeRF run of a study point (arguments may be wildcards)."""
    return f"results/study/metrics/{STUDY_PREFIX}{point}/{method}/{scene}.json"


def turntable_path(method: str, scene: str) -> str:
    """The stem of a NeRF turntable (``.gif``, ``.mp4``, ``.png`` and ``.camera_path.json`` beside it)."""
    return f"results/videos/nerf/{method}/{scene}"


def autoencoder_metrics_path(label: str) -> str:
    return f"results/metrics/autoencoder/{label}.json"
