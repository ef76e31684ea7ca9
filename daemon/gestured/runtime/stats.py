"""Per-stage latency and throughput counters for the daemon and benchmarks."""

from __future__ import annotations

import time
from collections import deque

import numpy as np

# Enough frames for a stable p99 while keeping memory flat on long runs.
MAX_SAMPLES = 20_000


class LoopStats:
    """Keeps the latest per-stage timings and counts frames."""

    def __init__(self) -> None:
        self.stages: dict[str, deque[float]] = {}
        self.frames = 0
        self.started = time.monotonic()
        self.last_frame = self.started
        self._window_start = self.started
        self._window_frames = 0

    def add(self, timings: dict[str, float]) -> None:
        self.frames += 1
        self._window_frames += 1
        self.last_frame = time.monotonic()
        for stage, seconds in timings.items():
            self.stages.setdefault(stage, deque(maxlen=MAX_SAMPLES)).append(seconds)

    def restart_clock(self) -> None:
        """Start the rate measurement now, so setup time does not count."""
        self.started = time.monotonic()
        self._window_start = self.started

    def recent_fps(self) -> float:
        """Return frames per second since the previous call."""
        now = time.monotonic()
        elapsed = now - self._window_start
        fps = self._window_frames / elapsed if elapsed > 0 else 0.0
        self._window_start = now
        self._window_frames = 0
        return fps

    def summary(self) -> dict[str, object]:
        """Return fps from the clock start to the last frame, and p50/p99 per
        stage in milliseconds."""
        elapsed = self.last_frame - self.started
        stages = {}
        for stage, values in self.stages.items():
            array = np.asarray(values) * 1000.0
            stages[stage] = {
                "p50_ms": round(float(np.percentile(array, 50)), 4),
                "p99_ms": round(float(np.percentile(array, 99)), 4),
            }
        return {
            "frames": self.frames,
            "seconds": round(elapsed, 3),
            "fps": round(self.frames / elapsed, 2) if elapsed > 0 else 0.0,
            "stages": stages,
        }
