"""The `gestured` command line: one subcommand per module, errors without tracebacks."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from gestured import __version__
from gestured.errors import GesturedError

logger = logging.getLogger(__name__)

# Each module defines register(subparsers), which adds its subcommand and sets
# the `handler` default to a function taking the parsed arguments and
# returning an exit code.
COMMAND_MODULES = (
    "gestured.commands.landmarks_cmd",
    "gestured.commands.run_cmd",
    "gestured.commands.record_cmd",
    "gestured.commands.user_cmd",
    "gestured.commands.ota_cmd",
    "gestured.commands.data_cmd",
    "gestured.commands.train_cmd",
    "gestured.commands.classify_cmd",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gestured", description="Hand-gesture recognition daemon and tools"
    )
    parser.add_argument("--version", action="version", version=__version__)
    parser.add_argument(
        "--log-level",
        default="INFO",
        choices=("DEBUG", "INFO", "WARNING", "ERROR"),
        help="minimum level of log lines written to standard error",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        return int(args.handler(args) or 0)
    except GesturedError as exc:
        print(f"gestured: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
