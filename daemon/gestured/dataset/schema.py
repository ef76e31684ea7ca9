"""Schema version 1 of a dataset shard, and its validation.

A shard holds N samples of one model family. Each sample is T frames of H hands
of 21 MediaPipe landmarks with (x, y, z). Every array has a fixed dtype, so
`np.load(..., allow_pickle=False)` reads any valid shard. docs/dataset.md
describes each field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from gestured.errors import DatasetError

SCHEMA_VERSION = 1
NUM_LANDMARKS = 21
LABEL_MAX_LENGTH = 32
SOURCE_MAX_LENGTH = 64
LABEL_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,32}$")

# Frames and hands per sample for each family.
FAMILIES: dict[str, tuple[int, int]] = {
    "static_single": (1, 1),
    "static_double": (1, 2),
    "dynamic_single": (16, 1),
    "dynamic_double": (16, 2),
}

HANDEDNESS_UNKNOWN = -1
HANDEDNESS_LEFT = 0
HANDEDNESS_RIGHT = 1

# Bounds that keep a hostile file from exhausting memory once loaded.
MAX_SAMPLES_PER_SHARD = 200_000
MAX_IMAGE_SIDE = 16_384


def check_label(label: str) -> str:
    """Return `label` if it is a short plain name, else raise DatasetError."""
    if not isinstance(label, str) or not LABEL_PATTERN.fullmatch(label):
        raise DatasetError(
            f"invalid label {label!r}: use 1 to {LABEL_MAX_LENGTH} letters, "
            "digits, '_' or '-'"
        )
    return label


def check_family(family: str) -> str:
    if family not in FAMILIES:
        raise DatasetError(
            f"unknown model family {family!r}: expected one of {', '.join(FAMILIES)}"
        )
    return family


@dataclass(frozen=True)
class Samples:
    """A batch of samples of one family, as stored in a shard.

    landmarks: float32 (N, T, H, 21, 3), MediaPipe coordinates: x and y
        normalized by the image width and height, z relative to the wrist.
    present: bool (N, T, H), whether the hand slot holds a detected hand.
    handedness: int8 (N, T, H), -1 unknown, 0 left, 1 right (the person's hand).
    image_size: int32 (N, 2), width and height in pixels that x and y refer to.
        (1, 1) marks coordinates that are already isotropic, such as
        pixel offsets from the wrist.
    labels: unicode (N,), gesture names that pass `check_label`.
    timestamps: float64 (N,), Unix seconds of the sample's last frame.
    sources: unicode (N,), recording session or sequence, the unit of splits.
    point_mask: bool (21,), landmarks that carry data; importers of partial
        recordings (one fingertip's track) clear the others.
    has_z: whether z carries data; 2D imports store z = 0.
    """

    family: str
    landmarks: np.ndarray
    present: np.ndarray
    handedness: np.ndarray
    image_size: np.ndarray
    labels: np.ndarray
    timestamps: np.ndarray
    sources: np.ndarray
    point_mask: np.ndarray
    has_z: bool

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    @classmethod
    def build(
        cls,
        family: str,
        landmarks: Any,
        labels: Any,
        sources: Any,
        *,
        present: Any = None,
        handedness: Any = None,
        image_size: Any = None,
        timestamps: Any = None,
        point_mask: Any = None,
        has_z: bool = True,
    ) -> Samples:
        """Make validated Samples from array-likes, filling optional fields."""
        check_family(family)
        frames, hands = FAMILIES[family]
        points = np.asarray(landmarks, dtype=np.float32)
        n = points.shape[0] if points.ndim else 0
        if points.ndim == 3 and frames == 1 and hands == 1:
            points = points.reshape(n, 1, 1, NUM_LANDMARKS, points.shape[-1])
        if points.ndim == 5 and points.shape[-1] == 2:
            points = np.concatenate([points, np.zeros_like(points[..., :1])], -1)
            has_z = False
        if present is None:
            present = np.ones((n, frames, hands), dtype=bool)
        if handedness is None:
            handedness = np.full((n, frames, hands), HANDEDNESS_UNKNOWN, np.int8)
        if image_size is None:
            image_size = np.ones((n, 2), dtype=np.int32)
        image_size = np.asarray(image_size, dtype=np.int32)
        if image_size.ndim == 1:
            image_size = np.broadcast_to(image_size, (n, 2)).copy()
        if timestamps is None:
            timestamps = np.zeros(n, dtype=np.float64)
        if point_mask is None:
            point_mask = np.ones(NUM_LANDMARKS, dtype=bool)
        # Fixed-width unicode dtypes cut longer strings silently, so check the
        # lengths before the cast.
        labels_array = _fixed_width(labels, LABEL_MAX_LENGTH, "label")
        sources_array = _fixed_width(sources, SOURCE_MAX_LENGTH, "source id")
        if sources_array.ndim == 0:
            sources_array = np.full(n, sources_array.item(), sources_array.dtype)
        samples = cls(
            family=family,
            landmarks=points,
            present=np.asarray(present, dtype=bool),
            handedness=np.asarray(handedness, dtype=np.int8),
            image_size=image_size,
            labels=labels_array,
            timestamps=np.asarray(timestamps, dtype=np.float64),
            sources=sources_array,
            point_mask=np.asarray(point_mask, dtype=bool),
            has_z=bool(has_z),
        )
        samples.validate("<memory>")
        return samples

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Return the arrays that a shard file stores, keyed by field name."""
        return {
            "schema_version": np.int32(SCHEMA_VERSION),
            "family": np.array(self.family, dtype="<U16"),
            "landmarks": self.landmarks,
            "present": self.present,
            "handedness": self.handedness,
            "image_size": self.image_size,
            "labels": self.labels,
            "timestamps": self.timestamps,
            "sources": self.sources,
            "point_mask": self.point_mask,
            "has_z": np.bool_(self.has_z),
        }

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], where: str) -> Samples:
        """Build Samples from a loaded shard, raising DatasetError naming `where`."""
        version = _scalar(arrays, "schema_version", where, np.integer)
        if int(version) != SCHEMA_VERSION:
            raise DatasetError(
                f"{where}: unknown schema version {int(version)}, "
                f"this gestured reads version {SCHEMA_VERSION}"
            )
        family = str(_scalar(arrays, "family", where, np.str_))
        fields = {name: arrays[name] for name in _ARRAY_FIELDS if name in arrays}
        missing = [name for name in _ARRAY_FIELDS if name not in arrays]
        if missing:
            raise DatasetError(f"{where}: missing field(s) {', '.join(missing)}")
        samples = cls(
            family=family,
            has_z=bool(_scalar(arrays, "has_z", where, np.bool_)),
            **fields,
        )
        samples.validate(where)
        return samples

    def validate(self, where: str) -> None:
        """Raise DatasetError naming `where` and the problem if anything is off."""
        if self.family not in FAMILIES:
            raise DatasetError(
                f"{where}: unknown model family {self.family!r}, "
                f"expected one of {', '.join(FAMILIES)}"
            )
        frames, hands = FAMILIES[self.family]
        n = self.labels.shape[0] if self.labels.ndim == 1 else -1
        if not 0 <= n <= MAX_SAMPLES_PER_SHARD:
            raise DatasetError(
                f"{where}: labels must be a 1-D array of at most "
                f"{MAX_SAMPLES_PER_SHARD} entries, got shape {self.labels.shape}"
            )
        expected = {
            "landmarks": ((n, frames, hands, NUM_LANDMARKS, 3), np.float32),
            "present": ((n, frames, hands), np.bool_),
            "handedness": ((n, frames, hands), np.int8),
            "image_size": ((n, 2), np.int32),
            "labels": ((n,), np.str_),
            "timestamps": ((n,), np.float64),
            "sources": ((n,), np.str_),
            "point_mask": ((NUM_LANDMARKS,), np.bool_),
        }
        for name, (shape, dtype) in expected.items():
            array = getattr(self, name)
            if array.shape != shape:
                raise DatasetError(
                    f"{where}: field {name} has shape {array.shape}, "
                    f"expected {shape} for family {self.family}"
                )
            if not np.issubdtype(array.dtype, dtype):
                raise DatasetError(
                    f"{where}: field {name} has dtype {array.dtype}, "
                    f"expected {np.dtype(dtype).name}"
                )
        if not np.isfinite(self.landmarks).all():
            raise DatasetError(f"{where}: landmarks contain NaN or infinity")
        if not np.isfinite(self.timestamps).all():
            raise DatasetError(f"{where}: timestamps contain NaN or infinity")
        bad_hand = ~np.isin(self.handedness, (-1, 0, 1))
        if bad_hand.any():
            raise DatasetError(
                f"{where}: handedness must be -1, 0 or 1, "
                f"found {self.handedness[bad_hand][0]}"
            )
        if n and ((self.image_size < 1) | (self.image_size > MAX_IMAGE_SIDE)).any():
            raise DatasetError(
                f"{where}: image_size must be between 1 and {MAX_IMAGE_SIDE} pixels"
            )
        for index, label in enumerate(self.labels.tolist()):
            if not LABEL_PATTERN.fullmatch(label):
                raise DatasetError(
                    f"{where}: sample {index} has invalid label {label!r}: use 1 to "
                    f"{LABEL_MAX_LENGTH} letters, digits, '_' or '-'"
                )
        if n and (np.char.str_len(self.sources) == 0).any():
            raise DatasetError(f"{where}: every sample needs a non-empty source id")
        if n and (np.char.str_len(self.sources) > SOURCE_MAX_LENGTH).any():
            raise DatasetError(
                f"{where}: source ids must have at most {SOURCE_MAX_LENGTH} characters"
            )

    def select(self, mask: np.ndarray) -> Samples:
        """Return the samples where the boolean or index array `mask` selects."""
        return Samples(
            family=self.family,
            landmarks=self.landmarks[mask],
            present=self.present[mask],
            handedness=self.handedness[mask],
            image_size=self.image_size[mask],
            labels=self.labels[mask],
            timestamps=self.timestamps[mask],
            sources=self.sources[mask],
            point_mask=self.point_mask,
            has_z=self.has_z,
        )


_ARRAY_FIELDS = (
    "landmarks",
    "present",
    "handedness",
    "image_size",
    "labels",
    "timestamps",
    "sources",
    "point_mask",
)


def _fixed_width(values: Any, width: int, what: str) -> np.ndarray:
    text = np.asarray(values, dtype=str)
    if text.size and int(np.char.str_len(text).max()) > width:
        longest = max(text.reshape(-1).tolist(), key=len)
        raise DatasetError(
            f"invalid {what} {longest[:40]!r}...: at most {width} characters"
        )
    return text.astype(f"<U{width}")


def _scalar(arrays: dict[str, np.ndarray], name: str, where: str, kind: Any) -> Any:
    if name not in arrays:
        raise DatasetError(f"{where}: missing field {name}")
    value = arrays[name]
    if value.shape != () or not np.issubdtype(value.dtype, kind):
        raise DatasetError(
            f"{where}: field {name} must be a scalar of kind {np.dtype(kind).kind}, "
            f"got dtype {value.dtype} shape {value.shape}"
        )
    return value.item()


# Every array name a shard file stores; readers reject any other member.
SHARD_FIELDS = frozenset(("schema_version", "family", "has_z", *_ARRAY_FIELDS))
