"""Frames per second of the hand tracker: one hand, two hands, adaptive probing.

Prints one JSON object. Runs MediaPipe over the whole video three times.
"""

from __future__ import annotations

import argparse
import json
import time

import cv2
from gestured.landmarks import BackendOptions, create_backend
from gestured.runtime.hand_tracker import HandTracker


def measure(video: str, max_hands: int, probe_interval: int) -> dict[str, float]:
    tracker = HandTracker(
        lambda options: create_backend("solutions", options),
        BackendOptions(),
        max_hands=max_hands,
        probe_interval=probe_interval,
    )
    capture = cv2.VideoCapture(video)
    frames = two_hand_frames = 0
    started = time.perf_counter()
    while True:
        ok, image = capture.read()
        if not ok:
            break
        hands = tracker.process(cv2.cvtColor(image, cv2.COLOR_BGR2RGB), frames * 100)
        frames += 1
        two_hand_frames += len(hands) == 2
    elapsed = time.perf_counter() - started
    tracker.close()
    return {
        "max_hands": max_hands,
        "probe_interval": probe_interval,
        "frames": frames,
        "fps": round(frames / elapsed, 1),
        "two_hand_frames": two_hand_frames,
        "probes": tracker.probes,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("video")
    parser.add_argument("--probe-interval", type=int, default=15)
    args = parser.parse_args()
    runs = [
        measure(args.video, 1, 0),
        measure(args.video, 2, 0),
        measure(args.video, 2, args.probe_interval),
    ]
    print(json.dumps(runs))


if __name__ == "__main__":
    main()
