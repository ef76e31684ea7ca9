"""`gestured record`: teach a gesture from a video file or camera on this machine."""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

from gestured.commands.locations import (
    add_location_options,
    base_models_folder,
    location_config,
)
from gestured.dataset.schema import FAMILIES
from gestured.errors import GesturedError
from gestured.landmarks import BackendOptions, create_backend
from gestured.user.background import load_background
from gestured.user.commands import parse_command
from gestured.user.recorder import DEFAULT_MOTION_THRESHOLD, Recorder, RecordResult
from gestured.user.store import UserStore

logger = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("record", help="record a user gesture locally")
    parser.add_argument("label", help="gesture name: letters, digits, _ or -")
    parser.add_argument(
        "--source", required=True, help="video file, camera index (0) or stream URI"
    )
    parser.add_argument("--family", default="static_single", choices=FAMILIES)
    parser.add_argument("--samples", type=int, default=50, help="samples to collect")
    parser.add_argument(
        "--countdown", type=float, default=0.0, help="seconds before collecting starts"
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=60.0,
        help="seconds of collecting before giving up",
    )
    add_location_options(parser, nested=False)
    parser.add_argument(
        "--motion-threshold",
        type=float,
        default=DEFAULT_MOTION_THRESHOLD,
        help="largest mean landmark movement between frames, in hand sizes, "
        "for a frame to count as held still",
    )
    parser.add_argument(
        "--mirrored",
        action="store_true",
        help="frames are mirror images, as from a selfie webcam",
    )
    parser.set_defaults(handler=_record)


def _record(args: argparse.Namespace) -> int:
    import cv2

    payload = {
        "label": args.label,
        "family": args.family,
        "samples": args.samples,
        "countdown": args.countdown,
        "timeout": args.timeout,
    }
    request = parse_command("record", _json(payload)).record_request()
    config = location_config(args)
    store = UserStore(config.state_dir)
    results: list[RecordResult] = []
    recorder = Recorder(
        request,
        store.add_shard,
        results.append,
        lambda progress: logger.info("Recording: %s", progress),
        motion_threshold=args.motion_threshold,
    )
    source: int | str = int(args.source) if args.source.isdigit() else args.source
    capture = cv2.VideoCapture(source)
    if not capture.isOpened():
        raise GesturedError(f"cannot open video source {args.source}")
    is_file = isinstance(source, str) and Path(source).is_file()
    backend = create_backend(
        "solutions",
        BackendOptions(max_hands=FAMILIES[args.family][1], mirrored=args.mirrored),
    )
    start = time.monotonic()
    try:
        while recorder.active:
            ok, frame = capture.read()
            if not ok:
                break
            # Video files play as fast as they decode, so their own clock counts.
            if is_file:
                now = capture.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
            else:
                now = time.monotonic() - start
            rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
            hands = backend.process(rgb, int(now * 1000))
            recorder.feed(hands, (frame.shape[1], frame.shape[0]), now)
        recorder.cancel("the video ended before enough samples were collected")
    finally:
        backend.close()
        capture.release()
    result = results[0]
    if not result.ok or result.shard is None:
        raise GesturedError(result.message)
    print(f"{result.message}: {result.shard}")
    folder = base_models_folder(config) / args.family
    if (folder / "manifest.json").is_file():
        model = store.learn_shard(result.shard, load_background(folder))
        print(f"{args.family} user model labels: {', '.join(model.labels)}")
    else:
        print(f"no base model in {folder}; run 'gestured user refit' later")
    return 0


def _json(payload: dict[str, object]) -> bytes:
    import json

    return json.dumps(payload).encode()
