"""Phase 1 commands: procedural objects, rendered and imported scenes, the scene index, the real-image set."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from igae.commands._common import add_params, command_params

TITLE = "data (phase 1)"
log = logging.getLogger("igae")


def _generate_object(args: argparse.Namespace) -> None:
    from igae.config.tree import ProceduralConfig
    from igae.data.meshes import normalize_parts
    from igae.data.procedural import generate_object, parts_to_glb
    from igae.io_utils import write_bytes_atomic

    params = command_params(args)
    parts = generate_object(args.seed, params.get("scenes.procedural", ProceduralConfig))
    parts = normalize_parts(parts, params.get("render.object_radius", float), "z")
    write_bytes_atomic(args.out, parts_to_glb(parts))
    log.info("procedural object seed %d: %d parts -> %s", args.seed, len(parts), args.out)


def _render_scene(args: argparse.Namespace) -> None:
    from igae.config.tree import RenderConfig
    from igae.data.scenes import render_scene

    record = render_scene(
        args.asset,
        args.out,
        views=args.views,
        seed=args.seed,
        settings=command_params(args).get("render", RenderConfig),
        up_axis=args.up_axis,
        metadata={"split": args.split, "dataset": args.dataset},
    )
    log.info("%s: %d views in %.1fs", record["scene"], record["views"], record["render_seconds"])


def _import_scene(args: argparse.Namespace) -> None:
    from igae.data.official import import_official_scene

    metadata = {"split": args.split, "dataset": args.dataset}
    test_fraction = command_params(args).get("render.test_fraction", float)
    record = import_official_scene(args.source, args.out, test_fraction=test_fraction, metadata=metadata)
    log.info("%s: %d views imported from %s", record["scene"], record["views"], args.source)


def _prepare_real_images(args: argparse.Namespace) -> None:
    from igae.config.tree import RealImagesConfig
    from igae.data.real_images import prepare_real_images

    params = command_params(args)
    prepare_real_images(params.get("real_images", RealImagesConfig), params.get("render.image_size", int), args.out)


def _index_scenes(args: argparse.Namespace) -> None:
    from igae.data.index import write_scene_index

    index = write_scene_index(args.scene_dirs, args.out)
    log.info("index: %s", {split: len(scenes) for split, scenes in index["splits"].items()})


def register(commands: argparse._SubParsersAction) -> None:
    command = commands.add_parser("generate-object", help="write a seeded procedural object as a textured GLB")
    command.add_argument("--seed", type=int, required=True)
    command.add_argument("--out", type=Path, required=True)
    add_params(command)
    command.set_defaults(handler=_generate_object)

    command = commands.add_parser("render-scene", help="render one asset into a nerfstudio scene folder")
    command.add_argument("--asset", type=Path, required=True)
    command.add_argument("--out", type=Path, required=True)
    command.add_argument("--views", type=int, required=True)
    command.add_argument("--seed", type=int, required=True)
    command.add_argument("--split", choices=["igae_train", "eval"], required=True)
    command.add_argument("--dataset", default="procedural")
    command.add_argument("--up-axis", choices=["y", "z"], default="z")
    add_params(command)
    command.set_defaults(handler=_render_scene)

    command = commands.add_parser("import-scene", help="import a scene of the official IG-AE data (square128/<id>)")
    command.add_argument("--source", type=Path, required=True, help="folder holding transforms_opencv.json")
    command.add_argument("--out", type=Path, required=True)
    command.add_argument("--split", choices=["igae_train", "eval"], required=True)
    command.add_argument("--dataset", default="objaverse")
    add_params(command)
    command.set_defaults(handler=_import_scene)

    command = commands.add_parser("index-scenes", help="list rendered scenes by split (IG-AE training / evaluation)")
    command.add_argument("scene_dirs", type=Path, nargs="+")
    command.add_argument("--out", type=Path, required=True)
    command.set_defaults(handler=_index_scenes)

    command = commands.add_parser("prepare-real-images", help="build the train/held-out real-image set")
    command.add_argument("--out", type=Path, required=True)
    add_params(command)
    command.set_defaults(handler=_prepare_real_images)
