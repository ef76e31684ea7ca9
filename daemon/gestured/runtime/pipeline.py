"""One frame through the recognizer: landmarks, features, classifiers, decision."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from gestured.base_model import BaseModel
from gestured.dataset.schema import FAMILIES
from gestured.features import (
    fingertip_path,
    hand_shape,
    landmark_extent,
    two_hand_shape,
)
from gestured.landmarks import Hand
from gestured.runtime.hand_tracker import HandTracker

STAGES = ("decode", "landmarks", "features", "classify", "publish")


@dataclass(frozen=True)
class Decision:
    """The gesture a family's models chose for one frame."""

    family: str
    label: str | None
    confidence: float
    source: str  # "base" or "user"


@dataclass
class FrameResult:
    hands: list[Hand]
    decisions: dict[str, Decision]
    timings: dict[str, float] = field(default_factory=dict)


def hands_needed(family: str) -> int:
    return FAMILIES[family][1]


class Recognizer:
    """Runs the landmark tracker and every loaded family on each frame.

    `decide(family, base_probs, features)` returns a Decision. The daemon
    passes the hybrid base/user decision, which reads the current user model
    on every call, so a new user model takes effect on the next frame.
    """

    def __init__(
        self,
        tracker: HandTracker,
        models: dict[str, BaseModel],
        decide: Any,
    ) -> None:
        self.tracker = tracker
        self.models = models
        self.decide = decide
        self._history: dict[str, deque[list[Hand]]] = {
            family: deque(maxlen=FAMILIES[family][0])
            for family in models
            if FAMILIES[family][0] > 1
        }

    def process(self, bgr: np.ndarray, timestamp: float) -> FrameResult:
        timings: dict[str, float] = {}
        begin = time.perf_counter()
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        hands = self.tracker.process(rgb, int(timestamp * 1000))
        timings["landmarks"] = time.perf_counter() - begin
        image_size = np.array([bgr.shape[1], bgr.shape[0]], dtype=np.float32)

        begin = time.perf_counter()
        features = {
            family: self._features(family, hands, image_size) for family in self.models
        }
        timings["features"] = time.perf_counter() - begin

        begin = time.perf_counter()
        decisions = {}
        for family, values in features.items():
            if values is None:
                decisions[family] = Decision(family, None, 0.0, "base")
                continue
            probs = self.models[family].predict_proba(values[None, :])[0]
            decisions[family] = self.decide(family, probs, values)
        timings["classify"] = time.perf_counter() - begin
        return FrameResult(hands, decisions, timings)

    def _features(
        self, family: str, hands: list[Hand], image_size: np.ndarray
    ) -> np.ndarray | None:
        wanted = hands_needed(family)
        if family in self._history:
            history = self._history[family]
            history.append(hands if len(hands) == wanted else [])
            if len(history) < history.maxlen or any(not h for h in history):
                return None
            return dynamic_features(list(history), image_size)
        if family == "static_single":
            if len(hands) != 1 and not (
                len(hands) == 2 and "static_double" not in self.models
            ):
                return None
            hand = max(hands, key=_hand_area) if len(hands) > 1 else hands[0]
            return hand_shape(hand.landmarks, image_size)
        if len(hands) != 2:
            return None
        stacked = np.stack([hand.landmarks for hand in hands])[None]
        return two_hand_shape(stacked, image_size[None])[0]

    def close(self) -> None:
        self.tracker.close()


def _hand_area(hand: Hand) -> float:
    span = hand.landmarks[:, :2].max(axis=0) - hand.landmarks[:, :2].min(axis=0)
    return float(span[0] * span[1])


def dynamic_features(frames: list[list[Hand]], image_size: np.ndarray) -> np.ndarray:
    """Return the fingertip-path features of 16 frames of one or two hands."""
    hands_per_frame = len(frames[0])
    landmarks = np.stack(
        [
            np.stack(
                [hand.landmarks for hand in sorted(f, key=lambda h: h.landmarks[0, 0])]
            )
            for f in frames
        ]
    )  # (T, H, 21, 3)
    size = image_size[None, :]
    extent = landmark_extent(landmarks[None], size)
    paths = [
        fingertip_path(landmarks[None, :, hand], size, extent)
        for hand in range(hands_per_frame)
    ]
    return np.concatenate(paths, axis=1)[0]
