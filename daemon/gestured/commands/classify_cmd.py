"""`gestured classify FILE...`: print gestures in photos and videos as JSON lines."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "classify",
        help="print one JSON line per frame with the hands and gestures found",
    )
    parser.add_argument(
        "files", nargs="+", type=Path, metavar="FILE", help="photo or video"
    )
    parser.add_argument(
        "--models", type=Path, default=Path("models"), help="models folder"
    )
    parser.add_argument(
        "--variant",
        choices=("float32", "int8"),
        default="float32",
        help="which TFLite model of each family to run",
    )
    parser.add_argument(
        "--mirrored",
        action="store_true",
        help="the frames are mirror images (selfie camera); affects handedness",
    )
    parser.set_defaults(handler=_classify)


def _classify(args: argparse.Namespace) -> int:
    from gestured.classify import classify_file, load_models
    from gestured.errors import GesturedError

    for path in args.files:
        if not path.is_file():
            raise GesturedError(f"{path}: file not found")
    models = load_models(args.models, args.variant)
    for path in args.files:
        for result in classify_file(path, models, mirrored=args.mirrored):
            sys.stdout.write(json.dumps(result) + "\n")
        sys.stdout.flush()
    return 0
