"""Benchmarks: speed figures of each phase on this machine (they print; no test depends on their numbers)."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from igae.commands._common import add_device, add_params, add_threads, command_params, resolve_device, set_threads

TITLE = "benchmarks"
log = logging.getLogger("igae")


def _bench_render(args: argparse.Namespace) -> None:
    import dataclasses

    from igae.data.bench import benchmark_render

    params = command_params(args).tree()
    sizes = {"image_size": args.image_size, "samples_per_pixel": args.samples_per_pixel}
    render = dataclasses.replace(params.render, **{name: value for name, value in sizes.items() if value is not None})
    print(json.dumps(benchmark_render(render, params.scenes.procedural, args.scenes, args.views), indent=2))


def _bench_autoencoder(args: argparse.Namespace) -> None:
    from igae.autoencoders.bench import benchmark_autoencoder

    set_threads(args.threads)
    params = command_params(args).tree()
    embedded = params.autoencoder.embedded
    result = benchmark_autoencoder(
        embedded.architecture,
        params.autoencoder.latent_channels,
        embedded.training,
        params.render.image_size,
        args.repeats,
        resolve_device(args.device),
    )
    print(json.dumps(result, indent=2))


def _bench_igae(args: argparse.Namespace) -> None:
    from igae.training.bench import benchmark_igae

    set_threads(args.threads)
    params = command_params(args).tree()
    print(
        json.dumps(benchmark_igae(params, args.scenes, args.steps, resolve_device(args.device), args.stage), indent=2)
    )


def _bench_igae_distributed(args: argparse.Namespace) -> None:
    from igae.io_utils import write_bytes_atomic, write_json_atomic
    from igae.training.bench_distributed import BenchmarkProblem, benchmark_distributed

    params = command_params(args).tree()
    stage = params.igae.train
    problem = BenchmarkProblem(
        scenes=args.scenes,
        batch_size=args.batch_size or stage.batch_size,
        real_batch_size=stage.real_batch_size,
        image_size=params.render.image_size,
        steps=args.steps,
        threads=args.threads or 1,
        device=resolve_device(args.device),
    )
    result = benchmark_distributed(params, args.world_sizes, problem)
    print(result["markdown"])
    if args.out is not None:
        write_json_atomic(args.out, result)
        write_bytes_atomic(args.out.with_suffix(".md"), result["markdown"].encode())


def _benchmark(args: argparse.Namespace) -> None:
    from igae.benchmark import format_report, nerf_speed_ratios
    from igae.hardware import machine_description
    from igae.io_utils import write_json_atomic
    from igae.nerf.bench import benchmark_nerf_methods
    from igae.nerf.catalog import device_has_cuda, runnable_methods
    from igae.training.bench import benchmark_igae

    set_threads(args.threads)
    params = command_params(args).tree()
    device = resolve_device(args.device)
    methods, skipped = runnable_methods(args.methods or list(params.nerf.methods), device_has_cuda(device))
    for method, reason in skipped.items():
        log.warning("skipping %s: %s", method, reason)
    rows = benchmark_nerf_methods(
        methods,
        args.scene,
        args.autoencoder,
        params.nerf,
        steps=args.steps,
        alignment_steps=args.alignment_steps,
        normalizer=params.autoencoder.normalizer,
        latent_channels=params.autoencoder.latent_channels,
        device=device,
        threads=args.threads,
    )
    igae = benchmark_igae(params, args.igae_scenes, args.igae_steps, device) if args.igae_steps > 0 else None
    machine, ratios = machine_description(device), nerf_speed_ratios(rows)
    print(format_report(machine, rows, ratios, igae))
    if args.out is not None:
        write_json_atomic(args.out, {"machine": machine, "nerf": ratios, "nerf_runs": rows, "igae": igae})


def register(commands: argparse._SubParsersAction) -> None:
    command = commands.add_parser("bench-render", help="print rendering speed (views per second)")
    add_params(command, required=False)
    command.add_argument("--scenes", type=int, default=2)
    command.add_argument("--views", type=int, default=20)
    command.add_argument("--samples-per-pixel", type=int, default=None, help="default: render.samples_per_pixel")
    command.add_argument("--image-size", type=int, default=None, help="default: render.image_size")
    command.set_defaults(handler=_bench_render)

    command = commands.add_parser("bench-autoencoder", help="print the embedded autoencoder's speed")
    add_params(command, required=False)
    command.add_argument("--repeats", type=int, default=10)
    add_device(command)
    add_threads(command)
    command.set_defaults(handler=_bench_autoencoder)

    command = commands.add_parser("bench-igae", help="print IG-AE step speed and memory (ostris-size AE)")
    add_params(command, required=False)
    command.add_argument("--stage", choices=("train", "warmup"), default="train", help="stage 2 (default) or 1")
    command.add_argument("--scenes", type=int, default=500, help="tri-planes held (paper: 500)")
    command.add_argument("--steps", type=int, default=20)
    add_device(command)
    add_threads(command)
    command.set_defaults(handler=_bench_igae)

    command = commands.add_parser(
        "bench-igae-distributed",
        help="print distributed IG-AE step speed, bytes all-reduced and memory per process (sharded vs replicated)",
    )
    add_params(command, required=False)
    command.add_argument("--world-sizes", type=int, nargs="+", default=[1, 2], help="process counts to measure")
    command.add_argument("--scenes", type=int, default=64, help="tri-planes of the run (all ranks together)")
    command.add_argument("--batch-size", type=int, default=None, help="global views per step (default: stage 2's)")
    command.add_argument("--steps", type=int, default=5, help="timed steps (after one warm-up step)")
    command.add_argument("--out", type=Path, default=None, help="also write the figures (JSON, and .md beside it)")
    add_device(command)
    add_threads(command)
    command.set_defaults(handler=_bench_igae_distributed)

    command = commands.add_parser(
        "benchmark", help="print latent/RGB step and render time ratios per method and IG-AE steps/s (one run)"
    )
    add_params(command, required=False)
    command.add_argument("--scene", type=Path, default=Path("results/renders/proc-eval-000"))
    command.add_argument("--autoencoder", type=Path, default=Path("results/igae/final/autoencoder"))
    command.add_argument("--methods", nargs="*", default=None, help="default: nerf.methods (CUDA-only skipped on CPU)")
    command.add_argument("--steps", type=int, default=100, help="latent-supervision steps (RGB: steps + alignment)")
    command.add_argument("--alignment-steps", type=int, default=20)
    command.add_argument("--igae-scenes", type=int, default=500, help="tri-planes held by the IG-AE (paper: 500)")
    command.add_argument("--igae-steps", type=int, default=3, help="timed IG-AE stage-2 steps (0: skip)")
    command.add_argument("--out", type=Path, default=None, help="also write the figures as JSON")
    add_device(command)
    add_threads(command)
    command.set_defaults(handler=_benchmark)
