"""`gestured run`: the daemon."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from gestured.runtime.config import load_config

logger = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "run", help="recognize gestures from a camera, file or stream"
    )
    parser.add_argument("--config", type=Path, help="TOML configuration file")
    parser.add_argument(
        "--source",
        help="camera index, /dev/videoN, video file, or rtsp:// or http:// URL "
        "(overrides source.uri)",
    )
    parser.add_argument(
        "--realtime",
        action="store_true",
        help="play a video file at its own frame rate (overrides source.realtime)",
    )
    parser.add_argument("--state-dir", help="overrides state_dir")
    parser.add_argument("--models-dir", help="overrides models_dir")
    parser.add_argument("--device-id", help="overrides device_id")
    parser.add_argument(
        "--no-mqtt", action="store_true", help="write events to standard output only"
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="override one configuration key; repeatable",
    )
    parser.add_argument(
        "--stats-json",
        type=Path,
        help="write frame rate and per-stage latency to this file at exit",
    )
    parser.set_defaults(handler=run)


def overrides_from(args: argparse.Namespace) -> dict[str, str]:
    """Collect configuration overrides from the flags; flags win over --set."""
    overrides: dict[str, str] = {}
    for item in args.set:
        key, separator, value = item.partition("=")
        if not separator or not key.strip():
            from gestured.errors import ConfigError

            raise ConfigError(f"--set expects SECTION.KEY=VALUE, got {item!r}")
        overrides[key.strip()] = value
    flags = {
        "source.uri": args.source,
        "state_dir": args.state_dir,
        "models_dir": args.models_dir,
        "device_id": args.device_id,
    }
    overrides.update({key: value for key, value in flags.items() if value})
    if args.realtime:
        overrides["source.realtime"] = "true"
    if args.no_mqtt:
        overrides["mqtt.enabled"] = "false"
    return overrides


def run(args: argparse.Namespace) -> int:
    from gestured.runtime.service import run_daemon

    overrides = overrides_from(args)
    config = load_config(args.config, overrides)
    logging.getLogger().setLevel(config.log_level)
    return run_daemon(config, args.config, overrides, stats_path=args.stats_json)
