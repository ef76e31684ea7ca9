"""The bare MediaPipe loop that gestured is measured against.

Reads a video with OpenCV, converts each frame to RGB and runs
`mediapipe.solutions.hands` in video mode, nothing else. Prints one JSON
object with the frame rate and per-stage latencies.
"""

from __future__ import annotations

import argparse
import json
import time

import cv2
import numpy as np
from mediapipe.python.solutions import hands as mp_hands


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("video")
    parser.add_argument("--max-hands", type=int, default=1)
    args = parser.parse_args()
    hands = mp_hands.Hands(
        static_image_mode=False, max_num_hands=args.max_hands, model_complexity=1
    )
    capture = cv2.VideoCapture(args.video)
    decode, landmarks = [], []
    started = time.monotonic()
    while True:
        begin = time.perf_counter()
        ok, image = capture.read()
        decode.append(time.perf_counter() - begin)
        if not ok:
            break
        begin = time.perf_counter()
        hands.process(cv2.cvtColor(image, cv2.COLOR_BGR2RGB))
        landmarks.append(time.perf_counter() - begin)
    elapsed = time.monotonic() - started
    frames = len(landmarks)

    def percentiles(values: list[float]) -> dict[str, float]:
        array = np.asarray(values) * 1000.0
        return {
            "p50_ms": round(float(np.percentile(array, 50)), 4),
            "p99_ms": round(float(np.percentile(array, 99)), 4),
        }

    print(
        json.dumps(
            {
                "frames": frames,
                "seconds": round(elapsed, 3),
                "fps": round(frames / elapsed, 2),
                "stages": {
                    "decode": percentiles(decode[:frames]),
                    "landmarks": percentiles(landmarks),
                },
            }
        )
    )


if __name__ == "__main__":
    main()
