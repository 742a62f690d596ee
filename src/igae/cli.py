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
    """``{"image_size": 128, "tags": ["a", "b"]}`` -> ``--image-size 128 --tags a b`` (for workflow rules)."""
    flags = []
    for key, value in values.items():
        if value is None:
            continue
        items = value if isinstance(value, (list, tuple)) else [value]
        flags.append(" ".join([f"--{key.replace('_', '-')}", *(str(item) for item in items)]))
    return " ".join(flags)


def _add_dataclass_arguments(parser: argparse.ArgumentParser, cls, skip: Sequence[str] = ()) -> None:
    """One ``--field-name`` option per dataclass field, typed and defaulted from the dataclass."""
    for field in dataclasses.fields(cls):
        if field.name in skip:
            continue
        default = field.default
        kind = type(default) if default is not None else str
        if isinstance(default, tuple):
            parser.add_argument(f"--{field.name.replace('_', '-')}", nargs="*", default=list(default))
        else:
            parser.add_argument(f"--{field.name.replace('_', '-')}", type=kind, default=default)


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


def _cmd_config(args: argparse.Namespace) -> None:
    from igae.config import load_params

    overrides = {"preset": args.preset} if args.preset else {}
    print(json.dumps(load_params(args.params, overrides), indent=2))


def build_parser() -> argparse.ArgumentParser:
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

    command = commands.add_parser("config", help="validate params.yaml and print the resolved configuration")
    command.add_argument("--params", type=Path, default=Path("params.yaml"))
    command.add_argument("--preset", default=None)
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
