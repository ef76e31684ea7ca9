"""The landmark backend interface: RGB frames in, detected hands out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np


@dataclass(frozen=True)
class Hand:
    """One detected hand.

    landmarks: float32 (21, 3), x and y normalized by the image width and
        height, z relative to the wrist, as MediaPipe returns them.
    handedness: "left" or "right", the person's own hand.
    score: the detector's handedness confidence, 0 to 1.
    """

    landmarks: np.ndarray
    handedness: str
    score: float


@dataclass(frozen=True)
class BackendOptions:
    """Settings shared by every landmark backend."""

    max_hands: int = 1
    # Video mode tracks hands from frame to frame; photos need it off.
    video_mode: bool = True
    # True when frames are mirror images, as from most selfie webcams.
    mirrored: bool = False
    min_detection_confidence: float = 0.5
    min_tracking_confidence: float = 0.5
    model_complexity: int = 1
    # A `hand_landmarker.task` file; only the Tasks backend reads it.
    task_path: str | None = None


class LandmarkBackend(Protocol):
    """Finds hands in RGB frames."""

    def process(self, rgb: np.ndarray, timestamp_ms: int) -> list[Hand]:
        """Return the hands in `rgb` (H, W, 3 uint8); timestamps must increase."""
        ...

    def close(self) -> None: ...


def person_handedness(label: str, mirrored: bool, labels_assume_mirror: bool) -> str:
    """Turn a MediaPipe handedness label into the person's own hand.

    `solutions.hands` labels hands as if the frame were a mirror image (its
    docstring says so), which fits a selfie camera that flips its output. The
    Tasks HandLandmarker in mediapipe 0.10.18 labels the other way, as if the
    frame were not mirrored: on the same photo the two return opposite labels.
    Whenever the backend's assumption and the camera differ, the label flips.
    """
    label = label.strip().lower()
    if label not in ("left", "right"):
        raise ValueError(f"unexpected handedness label {label!r}")
    if mirrored == labels_assume_mirror:
        return label
    return "right" if label == "left" else "left"
