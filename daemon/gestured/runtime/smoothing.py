"""Temporal smoothing and debounce: one event per held gesture.

Per-frame decisions flicker while a hand moves, so an event is sent only when
one label has held the majority of a window of `stable_seconds`. The same
label is not sent again until the hand has been gone for `rearm_seconds` or a
different gesture has become stable in between.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True)
class SmoothingSettings:
    """Debounce timing; durations are in seconds of the source's clock."""

    stable_seconds: float = 0.5
    min_votes_fraction: float = 0.8
    rearm_seconds: float = 1.0


@dataclass(frozen=True)
class StableGesture:
    """A gesture that has just become stable."""

    label: str
    confidence: float
    timestamp: float


class Debouncer:
    """Turns per-frame labels into at most one event per held gesture."""

    def __init__(self, settings: SmoothingSettings) -> None:
        self.settings = settings
        self._window: deque[tuple[float, str | None, float]] = deque()
        self._sent: str | None = None
        self._last_seen: float | None = None

    def reset(self) -> None:
        self._window.clear()
        self._sent = None
        self._last_seen = None

    def update(
        self, timestamp: float, label: str | None, confidence: float = 0.0
    ) -> StableGesture | None:
        """Add one frame's decision; return a gesture when one becomes stable.

        `label` is None for a frame without a confident gesture, and for a
        frame without a hand.
        """
        settings = self.settings
        if label is not None:
            self._last_seen = timestamp
        elif (
            self._last_seen is not None
            and timestamp - self._last_seen >= settings.rearm_seconds
        ):
            self._sent = None
        self._window.append((timestamp, label, confidence))
        while self._window and timestamp - self._window[0][0] > settings.stable_seconds:
            self._window.popleft()
        # Cover at least stable_seconds: the window's oldest frame must reach
        # back that far, with half a frame of slack for timestamp jitter.
        span = timestamp - self._window[0][0]
        frame_gap = span / max(len(self._window) - 1, 1)
        if span + frame_gap * 0.5 < settings.stable_seconds or label is None:
            return None
        votes = [entry for entry in self._window if entry[1] == label]
        if len(votes) < settings.min_votes_fraction * len(self._window):
            return None
        if label == self._sent:
            return None
        self._sent = label
        confidence = sum(entry[2] for entry in votes) / len(votes)
        return StableGesture(label, confidence, timestamp)
