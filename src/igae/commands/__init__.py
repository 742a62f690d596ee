"""The ``igae`` command line: one module per pipeline phase, each registering its sub-commands.

Handlers parse their arguments and call the package; no experiment logic lives here. Every command that reads
configuration takes it through ``--params`` (:class:`igae.config.CommandParams`), logs progress to stderr,
writes its outputs atomically, and turns bad input into one ``error:`` line and exit status 2.
``igae --help`` lists the commands grouped by phase.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Sequence

from igae.commands import autoencoder, bench, data, igae, nerf, report, videos, workflow
from igae.errors import IgaeError

#: The command modules, in pipeline order: each has a ``TITLE`` and ``register(subparsers)``.
PHASES = (data, autoencoder, igae, nerf, report, videos, bench, workflow)
log = logging.getLogger("igae")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="igae",
        description="IG-AE pipeline steps (the Snakemake rules call these; each can be run by hand).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    groups = []
    for phase in PHASES:
        before = set(commands.choices)
        phase.register(commands)
        names = [name for name in commands.choices if name not in before]
        helps = {action.dest: action.help for action in commands._choices_actions}
        groups.append(f"{phase.TITLE}:\n" + "\n".join(f"  {name:<22} {helps.get(name, '')}" for name in names))
    parser.epilog = "commands by phase:\n\n" + "\n\n".join(groups)
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
