"""Keypoint and fingertip-history CSVs as logged by MediaPipe hobby classifiers.

The keypoint format has a class id and 42 values per row: the 21 landmarks'
(x, y) in pixels relative to the wrist, divided by the largest absolute value.
Those are already the `hand-shape-v1` features, so rows are stored with
image_size (1, 1). The point-history format has a class id and 16 (x, y)
positions of the index fingertip relative to the first one, divided by the
image width and height.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from gestured.dataset.schema import FAMILIES, NUM_LANDMARKS, Samples
from gestured.errors import DatasetError
from gestured.features import FINGERTIP
from gestured.importers.common import (
    parse_float,
    parse_int,
    read_class_names,
    read_csv_rows,
)

logger = logging.getLogger(__name__)

KEYPOINT_DEFAULT_MAP = {"Open": "five", "Close": "fist", "Pointer": "one", "OK": "ok"}
HISTORY_DEFAULT_MAP = {
    "Stop": "stop",
    "Clockwise": "clockwise",
    "Counter Clockwise": "counter_clockwise",
    "Move": "move",
}
# Rows are consecutive webcam frames, so neighbours are near-duplicates. A new
# source id starts at each class change and every BLOCK_ROWS rows, which makes
# a split by source keep neighbouring frames on one side.
BLOCK_ROWS = 100
# The logger's default capture size; history offsets are fractions of it.
HISTORY_IMAGE_SIZE = (960, 540)


def _read_rows(
    path: Path, values: int, class_names: list[str]
) -> tuple[np.ndarray, list[str]]:
    rows: list[list[float]] = []
    names: list[str] = []
    for line, fields in read_csv_rows(path, values + 1):
        class_id = parse_int(fields[0], path, line)
        if not 0 <= class_id < len(class_names):
            raise DatasetError(
                f"{path}:{line}: class id {class_id} has no name in the label file"
            )
        rows.append([parse_float(value, path, line) for value in fields[1:]])
        names.append(class_names[class_id])
    if not rows:
        raise DatasetError(f"{path}: no rows")
    return np.asarray(rows, dtype=np.float32), names


def _block_sources(names: list[str], prefix: str) -> list[str]:
    sources = []
    block = -1
    run = 0
    for index, name in enumerate(names):
        if index == 0 or name != names[index - 1] or run >= BLOCK_ROWS:
            block += 1
            run = 0
        run += 1
        sources.append(f"{prefix}:block{block:04d}")
    return sources


def _map_labels(
    names: list[str], mapping: Mapping[str, str], path: Path
) -> tuple[np.ndarray, list[str]]:
    keep = np.array([name in mapping for name in names], dtype=bool)
    skipped = sorted({name for name in names if name not in mapping})
    if skipped:
        logger.warning(
            "%s: skipping %d rows of unmapped classes %s",
            path,
            int((~keep).sum()),
            ", ".join(skipped),
        )
    return keep, [mapping[name] for name in names if name in mapping]


def import_keypoints(
    csv_path: Path, label_path: Path, mapping: Mapping[str, str]
) -> Samples:
    """Read a 42-value keypoint CSV as static_single samples."""
    values, names = _read_rows(
        Path(csv_path), 2 * NUM_LANDMARKS, read_class_names(label_path)
    )
    sources = _block_sources(names, "kinivi:keypoint")
    keep, labels = _map_labels(names, mapping, Path(csv_path))
    points = values.reshape(-1, NUM_LANDMARKS, 2)[keep]
    return Samples.build(
        "static_single",
        points,
        labels,
        np.asarray(sources)[keep],
        image_size=(1, 1),
    )


def import_point_history(
    csv_path: Path, label_path: Path, mapping: Mapping[str, str]
) -> Samples:
    """Read a 32-value fingertip-history CSV as dynamic_single samples."""
    frames = FAMILIES["dynamic_single"][0]
    values, names = _read_rows(Path(csv_path), 2 * frames, read_class_names(label_path))
    sources = _block_sources(names, "kinivi:history")
    keep, labels = _map_labels(names, mapping, Path(csv_path))
    path = values.reshape(-1, frames, 2)[keep]
    points = np.zeros((len(path), frames, 1, NUM_LANDMARKS, 2), dtype=np.float32)
    points[:, :, 0, FINGERTIP] = path
    point_mask = np.zeros(NUM_LANDMARKS, dtype=bool)
    point_mask[FINGERTIP] = True
    return Samples.build(
        "dynamic_single",
        points,
        labels,
        np.asarray(sources)[keep],
        image_size=HISTORY_IMAGE_SIZE,
        point_mask=point_mask,
    )
