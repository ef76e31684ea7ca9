"""`gestured user`: list, delete, refit, export and import user recordings."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from gestured.errors import ModelError
from gestured.user.background import load_background
from gestured.user.bundle import export_bundle, import_bundle
from gestured.user.store import UserStore

DEFAULT_STATE_DIR = Path("/var/lib/gestured")
DEFAULT_MODELS_DIR = Path("models")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("user", help="manage taught user gestures")
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=DEFAULT_STATE_DIR,
        help="daemon state folder with samples/ and user_models/",
    )
    parser.add_argument(
        "--models-dir",
        type=Path,
        default=DEFAULT_MODELS_DIR,
        help="base model folders, one per family, for retraining",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    actions.add_parser("list", help="print labels and sample counts as JSON")
    delete = actions.add_parser("delete", help="delete a label and retrain")
    delete.add_argument("label")
    actions.add_parser("refit", help="retrain every user model from its samples")
    export = actions.add_parser("export", help="write all recordings to one .npz")
    export.add_argument("file", type=Path)
    imported = actions.add_parser("import", help="add recordings from a bundle")
    imported.add_argument("file", type=Path)
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    store = UserStore(args.state_dir)
    if args.action == "list":
        print(json.dumps(store.labels(), indent=2, sort_keys=True))
        return 0
    if args.action == "export":
        print(json.dumps(export_bundle(store, args.file), sort_keys=True))
        return 0
    if args.action == "delete":
        removed = store.delete_label(args.label)
        if not removed:
            raise ModelError(f"no samples of label {args.label}")
        print(json.dumps(removed, sort_keys=True))
        families = sorted(removed)
    elif args.action == "import":
        written = import_bundle(store, args.file)
        for path in written:
            print(path)
        families = sorted(store.labels())
    else:
        families = sorted({*store.labels(), *_saved_model_families(store)})
    for family in families:
        background = load_background(args.models_dir / family)
        model = store.refit(family, background)
        print(f"{family}: {', '.join(model.labels) if model else 'no user model'}")
    return 0


def _saved_model_families(store: UserStore) -> list[str]:
    return [path.stem for path in store.models_dir.glob("*.npz")]
