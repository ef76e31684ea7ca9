"""Where the local commands find the daemon's state and base models.

`gestured user` and `gestured record` act on the same files as the daemon,
so they read the same configuration: `--config`, else
/etc/gestured/gestured.toml when it exists, else the defaults.
`--state-dir` and `--models-dir` override it. With model updates on, the
base models are the store's current model set, as in the daemon.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from gestured.runtime.config import Config, load_config

SYSTEM_CONFIG = Path("/etc/gestured/gestured.toml")


def add_location_options(parser: argparse.ArgumentParser, *, nested: bool) -> None:
    """Add --config, --state-dir and --models-dir.

    With `nested`, the options may also follow a subcommand's action, so
    their defaults are suppressed there and do not overwrite earlier values.
    """
    default = argparse.SUPPRESS if nested else None
    parser.add_argument(
        "--config",
        type=Path,
        default=default,
        help=f"daemon configuration (default: {SYSTEM_CONFIG} if it exists)",
    )
    parser.add_argument(
        "--state-dir",
        default=default,
        help="daemon state folder with samples/ and user_models/ (overrides state_dir)",
    )
    parser.add_argument(
        "--models-dir",
        default=default,
        help="base model folders, one per family (overrides models_dir)",
    )


def location_config(args: argparse.Namespace) -> Config:
    """Load the configuration that the options name, with their overrides."""
    path = args.config
    if path is None and SYSTEM_CONFIG.is_file():
        path = SYSTEM_CONFIG
    overrides = {}
    if args.state_dir:
        overrides["state_dir"] = args.state_dir
    if args.models_dir:
        overrides["models_dir"] = args.models_dir
    return load_config(path, overrides)


def base_models_folder(config: Config) -> Path:
    """Return the folder of family folders that the daemon would load."""
    if config.update.url and (config.state_dir / "models" / "versions").is_dir():
        from gestured.ota.store import ModelStore

        current = ModelStore(config.state_dir).current_folder()
        if current is not None:
            return current
    return config.models_dir
