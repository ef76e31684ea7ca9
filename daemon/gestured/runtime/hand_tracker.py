"""Hand tracking that pays for a second hand only when one is there.

MediaPipe Hands runs its palm detector on every frame while it tracks fewer
hands than `max_num_hands`. With two-hand families loaded that would mean a
palm detection on every one-hand frame (on counting-a.mp4 it halved the bare
loop's rate, 34 to 18 fps). This tracker follows the scene with a one-hand
tracker and, every `probe_interval` frames, lets a two-hand tracker look. When
that one finds two hands it takes over, and it tracks both without palm
detection until a hand leaves.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace

import numpy as np

from gestured.landmarks import BackendOptions, Hand, LandmarkBackend

logger = logging.getLogger(__name__)

BackendFactory = Callable[[BackendOptions], LandmarkBackend]


class HandTracker:
    """Finds up to `max_hands` hands per frame."""

    def __init__(
        self,
        factory: BackendFactory,
        options: BackendOptions,
        *,
        max_hands: int,
        probe_interval: int = 10,
        release_frames: int = 5,
    ) -> None:
        if max_hands not in (1, 2):
            raise ValueError(f"max_hands must be 1 or 2, got {max_hands}")
        self.max_hands = max_hands
        self.probe_interval = max(int(probe_interval), 0)
        self._release_frames = release_frames
        self._single = factory(replace(options, max_hands=1))
        self._double: LandmarkBackend | None = None
        if max_hands == 2:
            self._double = factory(replace(options, max_hands=2))
        # With probing off, a two-hand tracker simply runs on every frame.
        self._tracking_two = max_hands == 2 and self.probe_interval == 0
        self._frames = 0
        self._short_frames = 0
        self.probes = 0

    def process(self, rgb: np.ndarray, timestamp_ms: int) -> list[Hand]:
        self._frames += 1
        if self._double is None:
            return self._single.process(rgb, timestamp_ms)
        if self._tracking_two:
            hands = self._double.process(rgb, timestamp_ms)
            if len(hands) < 2 and self.probe_interval:
                self._short_frames += 1
                if self._short_frames >= self._release_frames:
                    logger.debug("Second hand gone, back to one-hand tracking")
                    self._tracking_two = False
            else:
                self._short_frames = 0
            return hands
        if self._frames % self.probe_interval == 0:
            self.probes += 1
            hands = self._double.process(rgb, timestamp_ms)
            if len(hands) == 2:
                logger.debug("Second hand found, tracking two hands")
                self._tracking_two = True
                self._short_frames = 0
                return hands
            if hands:
                return hands
        return self._single.process(rgb, timestamp_ms)

    def close(self) -> None:
        self._single.close()
        if self._double is not None:
            self._double.close()
