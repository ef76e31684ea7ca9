"""Photos with one CSV row per labelled hand box.

Rows are `filename,width,height,fingers,xmin,ymin,xmax,ymax`, where fingers 0
to 5 is the count of raised fingers. MediaPipe finds the hands in each photo,
and each hand takes the label of the box it matches best.

A photo with two labelled hands also gives one static_double sample when both
boxes carry the same label, which is then the sample's label. Photos with two
different counts give no two-hand sample, because the vocabulary has no name
for such pairs.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from gestured.dataset.schema import HANDEDNESS_LEFT, HANDEDNESS_RIGHT, Samples
from gestured.errors import DatasetError
from gestured.importers.common import (
    FINGER_LABELS,
    parse_int,
    read_csv_rows,
    safe_child,
)
from gestured.landmarks import BackendOptions, Hand, LandmarkBackend, create_backend

logger = logging.getLogger(__name__)

PHOTO_HEADER = [
    "filename",
    "width",
    "height",
    "fingers",
    "xmin",
    "ymin",
    "xmax",
    "ymax",
]
PHOTOS_DEFAULT_MAP = {str(count): label for count, label in enumerate(FINGER_LABELS)}
# A hand matches a box when the boxes overlap this much or its centre lies inside.
MIN_IOU = 0.2


@dataclass
class PhotoBox:
    label: str
    box: tuple[float, float, float, float]
    # The width and height in pixels that the box coordinates refer to.
    size: tuple[int, int]

    def scaled_to(self, width: int, height: int) -> PhotoBox:
        sx = width / self.size[0]
        sy = height / self.size[1]
        x0, y0, x1, y1 = self.box
        return PhotoBox(
            self.label, (x0 * sx, y0 * sy, x1 * sx, y1 * sy), (width, height)
        )


@dataclass
class PhotoStats:
    photos: int = 0
    hands_found: int = 0
    hands_unmatched: int = 0
    boxes_without_hand: int = 0
    skipped_rows: int = 0
    double_samples: int = 0
    unreadable: list[str] = field(default_factory=list)


def sequence_of(filename: str) -> str:
    """Return the capture sequence of a photo: the name part before `_pic`."""
    stem = Path(filename).stem
    prefix, sep, _ = stem.rpartition("_pic")
    return prefix if sep and prefix else stem


def read_boxes(
    csv_path: Path, folder: Path, mapping: Mapping[str, str], stats: PhotoStats
) -> dict[str, list[PhotoBox]]:
    """Read the label CSV, grouping boxes by photo file name."""
    boxes: dict[str, list[PhotoBox]] = defaultdict(list)
    for line, row in read_csv_rows(csv_path, len(PHOTO_HEADER), header=PHOTO_HEADER):
        name = row[0].strip()
        safe_child(folder, name)
        fingers = row[3].strip()
        if fingers not in mapping:
            stats.skipped_rows += 1
            continue
        width, height = (parse_int(v, csv_path, line) for v in row[1:3])
        xmin, ymin, xmax, ymax = (parse_int(v, csv_path, line) for v in row[4:8])
        if width < 1 or height < 1:
            raise DatasetError(f"{csv_path}:{line}: invalid image size {row[1:3]}")
        if xmax <= xmin or ymax <= ymin:
            raise DatasetError(f"{csv_path}:{line}: empty box {row[4:8]}")
        box = PhotoBox(mapping[fingers], (xmin, ymin, xmax, ymax), (width, height))
        boxes[name].append(box)
    return dict(boxes)


def landmark_box(hand: Hand, width: int, height: int) -> tuple[float, ...]:
    x = hand.landmarks[:, 0] * width
    y = hand.landmarks[:, 1] * height
    return float(x.min()), float(y.min()), float(x.max()), float(y.max())


def _iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    width = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    height = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = width * height
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def match_hands(
    hands: list[Hand], boxes: list[PhotoBox], width: int, height: int
) -> list[tuple[Hand, PhotoBox]]:
    """Pair hands with boxes greedily by overlap; unmatched hands are left out."""
    candidates = []
    for hand_index, hand in enumerate(hands):
        found = landmark_box(hand, width, height)
        centre_x = (found[0] + found[2]) / 2
        centre_y = (found[1] + found[3]) / 2
        for box_index, box in enumerate(boxes):
            overlap = _iou(found, box.box)
            inside = (
                box.box[0] <= centre_x <= box.box[2]
                and box.box[1] <= centre_y <= box.box[3]
            )
            if overlap >= MIN_IOU or inside:
                candidates.append((overlap, hand_index, box_index))
    pairs = []
    used_hands: set[int] = set()
    used_boxes: set[int] = set()
    for _, hand_index, box_index in sorted(candidates, reverse=True):
        if hand_index in used_hands or box_index in used_boxes:
            continue
        used_hands.add(hand_index)
        used_boxes.add(box_index)
        pairs.append((hands[hand_index], boxes[box_index]))
    return pairs


def handedness_code(hand: Hand) -> int:
    return HANDEDNESS_LEFT if hand.handedness == "left" else HANDEDNESS_RIGHT


def photo_backend() -> LandmarkBackend:
    return create_backend("solutions", BackendOptions(max_hands=2, video_mode=False))


def read_rgb(path: Path) -> np.ndarray | None:
    """Return the photo as RGB uint8, or None when it cannot be decoded."""
    import cv2

    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        return None
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def import_photos(
    folder: Path,
    csv_path: Path,
    mapping: Mapping[str, str],
    *,
    sequences: set[str] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[dict[str, Samples], PhotoStats]:
    """Detect hands in labelled photos; return samples per family and counts."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DatasetError(f"{folder}: photo folder not found")
    stats = PhotoStats()
    boxes = read_boxes(Path(csv_path), folder, mapping, stats)
    names = sorted(
        name for name in boxes if sequences is None or sequence_of(name) in sequences
    )
    single: dict[str, list] = defaultdict(list)
    double: dict[str, list] = defaultdict(list)
    backend = photo_backend()
    try:
        for index, name in enumerate(names):
            if progress:
                progress(index, len(names))
            path = safe_child(folder, name)
            if not path.is_file():
                raise DatasetError(f"{path}: photo named in {csv_path} not found")
            rgb = read_rgb(path)
            if rgb is None:
                logger.warning("Skipping unreadable photo %s", path)
                stats.unreadable.append(name)
                continue
            stats.photos += 1
            _add_photo(
                backend.process(rgb, 0), boxes[name], name, rgb, stats, single, double
            )
    finally:
        backend.close()
    result = {}
    for family, parts in (("static_single", single), ("static_double", double)):
        if parts["labels"]:
            result[family] = Samples.build(
                family,
                np.stack(parts["landmarks"])[:, None],
                parts["labels"],
                parts["sources"],
                handedness=np.stack(parts["handedness"])[:, None],
                image_size=np.asarray(parts["image_size"], dtype=np.int32),
            )
    return result, stats


def _add_photo(
    hands: list[Hand],
    boxes: list[PhotoBox],
    name: str,
    rgb: np.ndarray,
    stats: PhotoStats,
    single: dict[str, list],
    double: dict[str, list],
) -> None:
    """Add the matched hands of one photo to the one- and two-hand samples."""
    height, width = rgb.shape[:2]
    stats.hands_found += len(hands)
    photo_boxes = [box.scaled_to(width, height) for box in boxes]
    pairs = match_hands(hands, photo_boxes, width, height)
    stats.hands_unmatched += len(hands) - len(pairs)
    stats.boxes_without_hand += len(boxes) - len(pairs)
    for hand, box in pairs:
        _append(single, hand.landmarks[None], [hand], box.label, name, (width, height))

    same_label = len(pairs) == 2 and pairs[0][1].label == pairs[1][1].label
    if len(boxes) == 2 and same_label:
        stacked = np.stack([hand.landmarks for hand, _ in pairs])
        pair_hands = [hand for hand, _ in pairs]
        label = pairs[0][1].label
        _append(double, stacked, pair_hands, label, name, (width, height))
        stats.double_samples += 1


def _append(
    parts: dict[str, list],
    landmarks: np.ndarray,
    hands: list[Hand],
    label: str,
    name: str,
    size: tuple[int, int],
) -> None:
    parts["landmarks"].append(landmarks)
    parts["handedness"].append(np.array([handedness_code(h) for h in hands], np.int8))
    parts["labels"].append(label)
    parts["sources"].append(sequence_of(name))
    parts["image_size"].append(size)
