"""`gestured user`: list, delete, refit, export and import user recordings."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from gestured.commands.locations import (
    add_location_options,
    base_models_folder,
    location_config,
)
from gestured.errors import GesturedError, ModelError
from gestured.user.background import load_background
from gestured.user.bundle import export_bundle, import_bundle
from gestured.user.store import UserStore


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("user", help="manage taught user gestures")
    add_location_options(parser, nested=False)
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    commands = {
        "list": actions.add_parser("list", help="print labels and sample counts"),
        "delete": actions.add_parser("delete", help="delete a label and retrain"),
        "refit": actions.add_parser("refit", help="retrain every user model"),
        "export": actions.add_parser("export", help="write all recordings to one .npz"),
        "import": actions.add_parser("import", help="add recordings from a bundle"),
    }
    commands["delete"].add_argument("label")
    commands["export"].add_argument("file", type=Path)
    commands["import"].add_argument("file", type=Path)
    for command in commands.values():
        add_location_options(command, nested=True)
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    config = location_config(args)
    if args.action != "import" and not config.state_dir.is_dir():
        raise GesturedError(
            f"state folder {config.state_dir} not found; pass --state-dir or "
            "--config to name the daemon's state_dir"
        )
    store = UserStore(config.state_dir)
    models = base_models_folder(config)
    if args.action == "list":
        print(json.dumps(store.labels(), indent=2, sort_keys=True))
        return 0
    if args.action == "export":
        print(json.dumps(export_bundle(store, args.file), sort_keys=True))
        return 0
    if args.action == "delete":
        families = sorted(
            family for family, counts in store.labels().items() if args.label in counts
        )
        if not families:
            raise ModelError(f"no samples of label {args.label}")
        # Load every background first, so that a missing base model stops
        # the delete before any sample is removed.
        backgrounds = {family: load_background(models / family) for family in families}
        print(json.dumps(store.delete_label(args.label), sort_keys=True))
    else:
        if args.action == "import":
            for path in import_bundle(store, args.file):
                print(path)
        families = sorted({*store.labels(), *_saved_model_families(store)})
        backgrounds = {family: load_background(models / family) for family in families}
    for family, background in backgrounds.items():
        model = store.refit(family, background)
        print(f"{family}: {', '.join(model.labels) if model else 'no user model'}")
    print("a running daemon loads them on SIGHUP (systemctl reload gestured)")
    return 0


def _saved_model_families(store: UserStore) -> list[str]:
    return [path.stem for path in store.models_dir.glob("*.npz")]
