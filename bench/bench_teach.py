"""Accuracy of a taught gesture and of the base gestures, before and after teaching.

Trains a base model without "three" (or takes one with --models) and teaches
"three" from counting-a's "three" frames through the record command path.
Every one-hand frame of counting-b then goes through the hybrid decision,
once with the base model alone and once with the new user model. The script
also times the step from the last recorded frame to the user model swap.

Run: PYTHONPATH=daemon python bench/bench_teach.py DATA_ROOT [--models DIR]
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
from gestured.base_model import BaseModel
from gestured.features import hand_shape
from gestured.landmarks import BackendOptions, Hand, create_backend
from gestured.user.background import load_background
from gestured.user.handler import CommandHandler
from gestured.user.hybrid import decide
from gestured.user.store import UserStore

FINGERS = {"0": "fist", "1": "one", "2": "two", "3": "three", "4": "four", "5": "five"}
# The counting videos join separate photos that move between frames.
MOTION_THRESHOLD = 0.5


def video_hands(video: Path) -> tuple[list[list[Hand]], list[str], tuple[int, int]]:
    """Return the hands per frame, the ground-truth label per frame, and the size."""
    with video.with_suffix(".csv").open() as handle:
        labels = [FINGERS.get(row["fingers"], "") for row in csv.DictReader(handle)]
    backend = create_backend("solutions", BackendOptions(max_hands=1))
    capture = cv2.VideoCapture(str(video))
    hands = []
    size = (0, 0)
    while True:
        ok, image = capture.read()
        if not ok:
            break
        size = (image.shape[1], image.shape[0])
        rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
        hands.append(backend.process(rgb, len(hands) * 100))
    backend.close()
    return hands, labels[: len(hands)], size


def accuracy(model, user, hands, labels, size) -> dict[str, float]:
    """Return per-frame top-1 of base-gesture frames and of "three" frames."""
    right = {"base": 0, "three": 0}
    total = {"base": 0, "three": 0}
    for frame_hands, label in zip(hands, labels, strict=True):
        if len(frame_hands) != 1 or not label:
            continue
        features = hand_shape(frame_hands[0].landmarks, np.array(size, np.float32))
        base_probs = model.predict_proba(features[None])[0]
        user_labels, user_probs = (), None
        if user is not None:
            user_labels = user.classes
            user_probs = user.predict_proba(features[None])[0]
        decision = decide(model.labels, base_probs, user_labels, user_probs)
        kind = "three" if label == "three" else "base"
        total[kind] += 1
        right[kind] += decision is not None and decision.label == label
    return {kind: right[kind] / max(total[kind], 1) for kind in total}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("data", type=Path)
    parser.add_argument("--models", type=Path, help="base models without three")
    args = parser.parse_args()
    videos = args.data / "handsdataset" / "videos"
    with tempfile.TemporaryDirectory() as folder:
        models = args.models
        if models is None:
            models = Path(folder) / "models"
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "gestured",
                    "train",
                    "--data-root",
                    str(args.data),
                    "--out",
                    str(models),
                    "--exclude-label",
                    "three",
                    "--quiet",
                ],
                check=True,
                capture_output=True,
            )
        base = BaseModel.load(models / "static_single")
        background = load_background(models / "static_single")
        taught, taught_labels, taught_size = video_hands(videos / "counting-a.mp4")
        test, test_labels, test_size = video_hands(videos / "counting-b.mp4")
        before = accuracy(base, None, test, test_labels, test_size)

        swapped = {}
        handler = CommandHandler(
            UserStore(Path(folder) / "state"),
            lambda *reply: None,
            background_for=lambda family: background,
            on_model=lambda family, model: swapped.update(
                model=model, at=time.perf_counter()
            ),
            motion_threshold=MOTION_THRESHOLD,
        )
        request = {"label": "three", "samples": 50, "countdown": 0, "timeout": 60}
        handler.handle("record", json.dumps(request).encode())
        frames = [i for i, label in enumerate(taught_labels) if label == "three"]
        last_fed = 0.0
        for step, index in enumerate(frames):
            if not handler.recording:
                break
            last_fed = time.perf_counter()
            handler.feed(taught[index], taught_size, step * 0.1)
        handler.poll(1e9)
        user = swapped["model"]
        after = accuracy(base, user, test, test_labels, test_size)
    print(
        f"last recorded frame to user model swapped in: "
        f"{(swapped['at'] - last_fed) * 1000:.0f} ms ({user.sample_count('three')} "
        "samples of three)"
    )
    print("per-frame top-1 on counting-b one-hand frames, hybrid decision:")
    print(
        f"  base gestures: before {before['base']:.1%}, after {after['base']:.1%} "
        f"({(after['base'] - before['base']) * 100:+.1f} points)"
    )
    print(f"  three:         before {before['three']:.1%}, after {after['three']:.1%}")


if __name__ == "__main__":
    main()
