"""The gesture event that the daemon publishes, and its JSON form."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from typing import Any

from gestured.dataset.schema import FAMILIES, LABEL_PATTERN

EVENT_SOURCES = ("base", "user")
HANDEDNESS_VALUES = ("left", "right", "unknown")


@dataclass(frozen=True)
class GestureEvent:
    """One recognized gesture, as published on <prefix>/<device_id>/gesture."""

    #: Gesture name, 1 to 32 letters, digits, '_' or '-'.
    gesture: str
    #: Classifier probability of the gesture, 0 to 1.
    confidence: float
    #: "base" for the shipped models, "user" for gestures recorded on the device.
    source: str
    #: Model family that recognized it, such as "static_single".
    family: str
    #: Number of hands the gesture uses.
    hands: int
    #: The person's hand for each hand slot: "left", "right" or "unknown".
    handedness: tuple[str, ...] = field(default=())
    #: Unix time in seconds of the frame that completed the gesture.
    timestamp: float = 0.0
    #: Frame index for file sources; None for cameras and streams.
    frame: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.gesture, str) or not LABEL_PATTERN.fullmatch(
            self.gesture
        ):
            raise ValueError(f"invalid gesture name {self.gesture!r}")
        if not 0.0 <= float(self.confidence) <= 1.0:
            raise ValueError(f"confidence {self.confidence!r} is not within 0 to 1")
        if self.source not in EVENT_SOURCES:
            raise ValueError(f"source {self.source!r} is not one of {EVENT_SOURCES}")
        if self.family not in FAMILIES:
            raise ValueError(f"unknown model family {self.family!r}")
        if isinstance(self.hands, bool) or not isinstance(self.hands, int):
            raise TypeError(f"hands must be an int, not {self.hands!r}")
        if not 1 <= self.hands <= 2:
            raise ValueError(f"hands {self.hands} is not 1 or 2")
        handedness = tuple(self.handedness)
        if any(side not in HANDEDNESS_VALUES for side in handedness):
            raise ValueError(f"handedness {handedness!r} must use {HANDEDNESS_VALUES}")
        if not math.isfinite(float(self.timestamp)):
            raise ValueError(f"timestamp {self.timestamp!r} is not finite")
        if self.frame is not None and (
            isinstance(self.frame, bool) or not isinstance(self.frame, int)
        ):
            raise TypeError(f"frame must be an int or None, not {self.frame!r}")
        object.__setattr__(self, "handedness", handedness)
        object.__setattr__(self, "confidence", float(self.confidence))
        object.__setattr__(self, "timestamp", float(self.timestamp))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GestureEvent:
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["handedness"] = list(self.handedness)
        return data

    def to_json(self) -> str:
        """Return the event as one line of JSON, the MQTT and stdout payload."""
        return json.dumps(self.to_dict(), separators=(",", ":"), allow_nan=False)
