"""What every command shares: the ``--params`` option, devices and threads, ``label=path`` lists."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from igae.config import CommandParams
from igae.errors import IgaeError


def add_params(parser: argparse.ArgumentParser, required: bool = True) -> None:
    """``--params`` (the configuration nodes the command reads) and ``--preset``."""
    parser.add_argument(
        "--params",
        required=required,
        default=None if required else "params.yaml",
        help="a params file (params.yaml; the whole configuration, resolved with --preset), or a JSON object of "
        "the dotted keys the command reads, as the workflow passes them",
    )
    parser.add_argument("--preset", default=None, help="with a params file: the preset to apply (default: its own)")


def command_params(args: argparse.Namespace) -> CommandParams:
    return CommandParams.from_option(args.params, args.preset)


def add_threads(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--threads", type=int, default=None, help="CPU threads for torch (default: torch's)")


def add_device(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default="auto", help="auto (CUDA if available), cpu, cuda, cuda:1 ...")


def add_image_sets(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--real-images", type=Path, required=True, help="real-image set (prepare-real-images)")
    parser.add_argument("--scene-index", type=Path, required=True, help="scene index (index-scenes)")


def resolve_device(name: str) -> str:
    """``auto`` -> ``cuda`` when torch sees a GPU, else ``cpu``; anything else unchanged."""
    if name != "auto":
        return name
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def set_threads(threads: int | None) -> None:
    if threads:
        import torch

        torch.set_num_threads(threads)


def labelled_paths(items: Sequence[str], option: str) -> dict[str, Path]:
    """``["a=x.json", "b=y.json"]`` -> ``{"a": Path("x.json"), "b": Path("y.json")}``."""
    if any("=" not in item for item in items):
        raise IgaeError(f"{option} takes label=path items, got {' '.join(items)}")
    return {label: Path(path) for label, path in (item.split("=", 1) for item in items)}
