"""`gestured landmarks build-task`: make the Tasks backend's model file offline."""

from __future__ import annotations

import argparse
from pathlib import Path

from gestured.landmarks.tasks import build_task_bundle


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("landmarks", help="landmark model tools")
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    build = actions.add_parser(
        "build-task",
        help="build hand_landmarker.task from the models inside the mediapipe wheel",
    )
    build.add_argument("path", type=Path, help="output .task file")
    build.set_defaults(handler=_build_task)


def _build_task(args: argparse.Namespace) -> int:
    path = build_task_bundle(args.path)
    print(path)
    return 0
