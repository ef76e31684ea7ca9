"""`gestured run`: the recognition loop from frame source to gesture events."""

from __future__ import annotations

import json
import logging
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from gestured.atomic import atomic_write_bytes
from gestured.base_model import BaseModel
from gestured.dataset.schema import FAMILIES
from gestured.landmarks import BackendOptions, create_backend
from gestured.runtime.events import GestureEvent
from gestured.runtime.hand_tracker import HandTracker
from gestured.runtime.notify import watchdog_interval
from gestured.runtime.pipeline import Decision, FrameResult, Recognizer
from gestured.runtime.smoothing import Debouncer, SmoothingSettings
from gestured.runtime.sources import Frame, FrameSource
from gestured.runtime.stats import LoopStats

logger = logging.getLogger(__name__)

STATUS_INTERVAL = 5.0
# A frame that raises is logged and skipped. This many in a row end the run,
# so that systemd restarts the daemon. The restart rolls back a model set
# whose health check was under way.
MAX_CONSECUTIVE_ERRORS = 25
FrameHook = Callable[[Frame, FrameResult], None]


class EventSink(Protocol):
    """A destination for gesture events: the MQTT link, or standard output."""

    def publish_gesture(self, event: GestureEvent) -> bool: ...


@dataclass
class Daemon:
    """Owns the frame source, the recognizer and the debouncers of one run."""

    source: FrameSource
    recognizer: Recognizer
    sink: EventSink
    smoothing: SmoothingSettings
    device_id: str
    notifier: Any = None
    hooks: list[FrameHook] = field(default_factory=list)
    stats_path: Path | None = None
    on_reload: Callable[[], None] | None = None
    stats: LoopStats = field(default_factory=LoopStats)
    healthy_frames: int = 0
    frame_errors: int = 0
    _debouncers: dict[str, Debouncer] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _reload: threading.Event = field(default_factory=threading.Event)
    # Held while a frame goes through the recognizer, so a model swap lands
    # between frames, never inside one.
    frame_lock: threading.Lock = field(default_factory=threading.Lock)
    _consecutive_errors: int = 0

    def request_stop(self) -> None:
        self._stop.set()

    def request_reload(self) -> None:
        self._reload.set()

    def install_signal_handlers(self) -> None:
        signal.signal(signal.SIGTERM, lambda *_: self.request_stop())
        signal.signal(signal.SIGINT, lambda *_: self.request_stop())
        signal.signal(signal.SIGHUP, lambda *_: self.request_reload())

    def set_smoothing(self, settings: SmoothingSettings) -> None:
        self.smoothing = settings
        for debouncer in self._debouncers.values():
            debouncer.settings = settings

    def run(self) -> int:
        """Process frames until stopped or the file source ends; return 0."""
        self.source.open()
        self._notify("ready")
        self.stats.restart_clock()
        last_status = time.monotonic()
        watchdog_every = self._watchdog_interval()
        last_watchdog = 0.0
        try:
            while not self._stop.is_set():
                now = time.monotonic()
                if watchdog_every and now - last_watchdog >= watchdog_every:
                    self._notify("watchdog")
                    last_watchdog = now
                if self._reload.is_set():
                    self._reload.clear()
                    self._do_reload()
                frame = self.source.read(timeout=min(watchdog_every or 1.0, 1.0))
                if frame is None:
                    if self.source.finished:
                        logger.info("Source %s ended", self.source.uri)
                        break
                    continue
                self._process_guarded(frame)
                if now - last_status >= STATUS_INTERVAL:
                    self._notify("status", self._status_line())
                    last_status = now
        finally:
            self._notify("stopping")
            self.source.close()
            self.recognizer.close()
            self._write_stats()
        return 0

    def _process_guarded(self, frame: Frame) -> None:
        try:
            self.process(frame)
        except Exception:
            self.frame_errors += 1
            self._consecutive_errors += 1
            logger.exception("Frame %d failed", frame.index)
            if self._consecutive_errors >= MAX_CONSECUTIVE_ERRORS:
                raise
        else:
            self._consecutive_errors = 0

    def swap_recognizer(
        self,
        recognizer: Recognizer,
        swap: Callable[[], None] | None = None,
        *,
        reset_debouncers: bool = False,
    ) -> Recognizer:
        """Install `recognizer` between two frames; return the old one.

        `swap` runs under the same lock, for state that must change together
        with the recognizer, such as the decider's models. Debouncers hold
        votes for labels, so they start over when the labels change.
        """
        with self.frame_lock:
            old, self.recognizer = self.recognizer, recognizer
            if swap is not None:
                swap()
            if reset_debouncers:
                self._debouncers.clear()
        return old

    def process(self, frame: Frame) -> list[GestureEvent]:
        """Recognize one frame and publish the gestures that became stable."""
        with self.frame_lock:
            return self._process(frame)

    def _process(self, frame: Frame) -> list[GestureEvent]:
        result = self.recognizer.process(frame.image, frame.timestamp)
        result.timings["decode"] = frame.decode_seconds
        for hook in self.hooks:
            hook(frame, result)
        begin = time.perf_counter()
        events = []
        for family, decision in result.decisions.items():
            debouncer = self._debouncers.get(family)
            if debouncer is None:
                debouncer = self._debouncers[family] = Debouncer(self.smoothing)
            stable = debouncer.update(
                frame.timestamp, decision.label, decision.confidence
            )
            if stable is None or decision.label is None:
                continue
            event = GestureEvent(
                gesture=stable.label,
                confidence=stable.confidence,
                source=decision.source,
                family=family,
                hands=FAMILIES[family][1],
                handedness=tuple(hand.handedness for hand in result.hands),
                timestamp=time.time(),
                frame=frame.index if self.source.kind == "file" else None,
            )
            logger.info(
                "Gesture %s (%s, %s, %.2f) at frame %d",
                event.gesture,
                family,
                event.source,
                event.confidence,
                frame.index,
            )
            self.sink.publish_gesture(event)
            events.append(event)
        result.timings["publish"] = time.perf_counter() - begin
        self.stats.add(result.timings)
        self.healthy_frames += 1
        return events

    def _do_reload(self) -> None:
        logger.info("Reloading configuration")
        self._notify("reloading")
        try:
            if self.on_reload is not None:
                self.on_reload()
        except Exception as exc:  # a bad new config must not stop recognition
            logger.error("Reload failed, keeping the running configuration: %s", exc)
        self._notify("ready")

    def _status_line(self) -> str:
        return (
            f"{self.stats.recent_fps():.1f} fps, {self.stats.frames} frames, "
            f"source {self.source.kind}"
        )

    def _watchdog_interval(self) -> float:
        if self.notifier is None:
            return 0.0
        return float(watchdog_interval() or 0.0)

    def _notify(self, what: str, text: str = "") -> None:
        if self.notifier is None:
            return
        method = getattr(self.notifier, what, None)
        if method is None:
            return
        if text:
            method(text)
        else:
            method()

    def _write_stats(self) -> None:
        if self.stats_path is None:
            return
        summary = self.stats.summary()
        summary["frames_dropped"] = self.source.frames_dropped
        atomic_write_bytes(self.stats_path, json.dumps(summary, indent=2).encode())


def build_recognizer(
    models: dict[str, BaseModel],
    backend: str,
    options: BackendOptions,
    probe_interval: int,
    decide: Callable[[str, np.ndarray, np.ndarray], Decision],
) -> Recognizer:
    """Create the tracker for the hands the loaded families need, and the recognizer."""
    max_hands = max(2 if family.endswith("_double") else 1 for family in models)
    tracker = HandTracker(
        lambda opts: create_backend(backend, opts),
        options,
        max_hands=max_hands,
        probe_interval=probe_interval,
    )
    return Recognizer(tracker, models, decide)
