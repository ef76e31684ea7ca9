"""Recording a user gesture from live frames into one new shard.

The daemon feeds every frame's hands to `Recorder.feed`. After the countdown a
static family keeps a frame as a sample when it shows the family's number of
hands and every hand is held still: the mean landmark movement since the
previous frame, in units of the hand's size, is at most `motion_threshold`. A
dynamic family keeps windows of 16 consecutive frames with the right number of
hands, one sample per window, without overlap. Samples stay in memory until the
target count or the timeout, then go to disk as one atomic shard, so a crash
loses at most the recording in progress.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gestured.dataset.schema import (
    FAMILIES,
    HANDEDNESS_LEFT,
    HANDEDNESS_RIGHT,
    HANDEDNESS_UNKNOWN,
    SOURCE_MAX_LENGTH,
    Samples,
)
from gestured.dataset.shards import concatenate
from gestured.errors import GesturedError
from gestured.features import to_pixels
from gestured.landmarks.base import Hand

logger = logging.getLogger(__name__)

DEFAULT_MOTION_THRESHOLD = 0.05
# A timed-out recording keeps its samples when it has at least this many, or
# all it asked for when the target is smaller.
MIN_KEPT_SAMPLES = 10
_HANDEDNESS = {"left": HANDEDNESS_LEFT, "right": HANDEDNESS_RIGHT}


@dataclass(frozen=True)
class RecordRequest:
    """A validated request to record `samples` samples of `label`."""

    label: str
    family: str = "static_single"
    samples: int = 50
    countdown: float = 3.0
    timeout: float = 60.0
    request_id: str = ""


@dataclass(frozen=True)
class RecordResult:
    """The outcome of a recording: the new shard, or why there is none."""

    request: RecordRequest
    ok: bool
    message: str
    collected: int
    shard: Path | None = None


class Recorder:
    """Collects the samples of one recording from fed frames.

    write_shard: stores the finished Samples and returns the shard's path.
    on_progress: receives dicts with request_id, state, collected and target.
    on_finish: receives the RecordResult once, from the thread that feeds.
    """

    def __init__(
        self,
        request: RecordRequest,
        write_shard: Callable[[Samples], Path],
        on_finish: Callable[[RecordResult], None],
        on_progress: Callable[[dict[str, Any]], None] | None = None,
        *,
        motion_threshold: float = DEFAULT_MOTION_THRESHOLD,
        progress_every: int = 10,
    ) -> None:
        self.request = request
        self.frames, self.hands = FAMILIES[request.family]
        self._write_shard = write_shard
        self._on_finish = on_finish
        self._on_progress = on_progress
        self.motion_threshold = motion_threshold
        self.progress_every = max(1, progress_every)
        self.state = "countdown"
        self._started: float | None = None
        self._previous: np.ndarray | None = None
        self._window: list[tuple[np.ndarray, np.ndarray, tuple[int, int], float]] = []
        self._samples: list[Samples] = []

    @property
    def collected(self) -> int:
        return len(self._samples)

    @property
    def active(self) -> bool:
        return self.state in ("countdown", "recording")

    def feed(
        self, hands: list[Hand], image_size: tuple[int, int], timestamp: float
    ) -> None:
        """Use one frame's hands; `timestamp` in seconds on a steady clock."""
        if not self.active:
            return
        if self._started is None:
            self._started = timestamp
            self._progress()
        if self.state == "countdown":
            if timestamp < self._started + self.request.countdown:
                return
            self.state = "recording"
            self._progress()
        if self.poll(timestamp):
            return
        if len(hands) != self.hands:
            self._previous = None
            self._window.clear()
            return
        points, handedness = _arrange(hands)
        if self.frames == 1:
            self._take_static(points, handedness, image_size, timestamp)
        else:
            self._take_window(points, handedness, image_size, timestamp)
        if self.collected >= self.request.samples:
            self._finish(f"recorded {self.collected} samples of {self.request.label}")

    def poll(self, now: float) -> bool:
        """End the recording if its timeout passed; return True if it ended."""
        if not self.active or self._started is None:
            return not self.active
        deadline = self._started + self.request.countdown + self.request.timeout
        if now < deadline:
            return False
        wanted = min(MIN_KEPT_SAMPLES, self.request.samples)
        if self.collected >= wanted:
            self._finish(
                f"timed out: kept {self.collected} of {self.request.samples} "
                f"samples of {self.request.label}"
            )
        else:
            self._fail(
                f"timed out with {self.collected} of {self.request.samples} samples "
                f"(at least {wanted} needed); nothing saved. Hold the gesture still "
                "in view of the camera"
            )
        return True

    def cancel(self, reason: str) -> None:
        if self.active:
            self._fail(reason)

    def _take_static(
        self,
        points: np.ndarray,
        handedness: np.ndarray,
        image_size: tuple[int, int],
        timestamp: float,
    ) -> None:
        pixels = to_pixels(points, np.asarray(image_size))
        previous, self._previous = self._previous, pixels
        if previous is None:
            return
        extent = np.ptp(pixels, axis=1).max(axis=1)
        extent = np.where(extent > 0, extent, 1.0)
        motion = np.linalg.norm(pixels - previous, axis=2).mean(axis=1) / extent
        if motion.max() > self.motion_threshold:
            return
        self._add(points[None], handedness[None], image_size, timestamp)

    def _take_window(
        self,
        points: np.ndarray,
        handedness: np.ndarray,
        image_size: tuple[int, int],
        timestamp: float,
    ) -> None:
        self._window.append((points, handedness, image_size, timestamp))
        if len(self._window) < self.frames:
            return
        window, self._window = self._window, []
        if len({frame[2] for frame in window}) != 1:
            return
        self._add(
            np.stack([frame[0] for frame in window]),
            np.stack([frame[1] for frame in window]),
            image_size,
            timestamp,
        )

    def _add(
        self,
        points: np.ndarray,
        handedness: np.ndarray,
        image_size: tuple[int, int],
        timestamp: float,
    ) -> None:
        source = f"user-{self.request.request_id or 'local'}"[:SOURCE_MAX_LENGTH]
        self._samples.append(
            Samples.build(
                self.request.family,
                points[None],
                [self.request.label],
                source,
                handedness=handedness[None],
                image_size=np.asarray(image_size, dtype=np.int32)[None],
                timestamps=[timestamp],
            )
        )
        if self.collected % self.progress_every == 0:
            self._progress()

    def _finish(self, message: str) -> None:
        try:
            shard = self._write_shard(concatenate(self._samples))
        except (GesturedError, OSError) as exc:
            logger.error("Saving recording %s failed: %s", self.request.request_id, exc)
            self._fail(f"saving the recording failed: {exc}")
            return
        self.state = "done"
        self._progress()
        self._on_finish(
            RecordResult(self.request, True, message, self.collected, shard)
        )

    def _fail(self, message: str) -> None:
        collected = self.collected
        self.state = "failed"
        self._samples.clear()
        self._progress()
        self._on_finish(RecordResult(self.request, False, message, collected))

    def _progress(self) -> None:
        if self._on_progress is None:
            return
        self._on_progress(
            {
                "request_id": self.request.request_id,
                "state": self.state,
                "collected": self.collected,
                "target": self.request.samples,
            }
        )


def _arrange(hands: list[Hand]) -> tuple[np.ndarray, np.ndarray]:
    """Return landmarks (H, 21, 3) and handedness (H,), left-most wrist first."""
    ordered = sorted(hands, key=lambda hand: float(hand.landmarks[0, 0]))
    points = np.stack([np.asarray(hand.landmarks, np.float32) for hand in ordered])
    handedness = np.array(
        [_HANDEDNESS.get(hand.handedness, HANDEDNESS_UNKNOWN) for hand in ordered],
        dtype=np.int8,
    )
    return points, handedness
