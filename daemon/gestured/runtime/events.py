"""Gesture events and the sinks that deliver them."""

from __future__ import annotations

import json
import sys
import threading
from dataclasses import asdict, dataclass
from typing import IO, Protocol


@dataclass(frozen=True)
class GestureEvent:
    """One recognized gesture, as published on `<prefix>/<device_id>/gesture`.

    timestamp: Unix seconds when the gesture became stable.
    frame: the frame number for file sources, else None.
    """

    gesture: str
    confidence: float
    source: str
    family: str
    hands: int
    handedness: list[str]
    timestamp: float
    frame: int | None = None
    device_id: str = ""

    def to_json(self) -> str:
        payload = asdict(self)
        payload["confidence"] = round(self.confidence, 4)
        payload["timestamp"] = round(self.timestamp, 3)
        return json.dumps(payload, separators=(",", ":"))


class EventSink(Protocol):
    def publish_gesture(self, event: GestureEvent) -> None: ...


class StdoutSink:
    """Writes each event as one JSON line, for runs without a broker."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self._stream = stream or sys.stdout
        self._lock = threading.Lock()

    def publish_gesture(self, event: GestureEvent) -> None:
        with self._lock:
            self._stream.write(event.to_json() + "\n")
            self._stream.flush()
