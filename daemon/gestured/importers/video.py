"""A video with one ground-truth CSV row per frame.

Rows are `frame,time_s,source_image,hands,fingers`. Frames with one hand give
one static_single sample labelled by `fingers`. Two-hand rows (`0+5`) are
skipped, because the CSV does not record which hand had which count.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gestured.dataset.schema import Samples
from gestured.errors import DatasetError
from gestured.importers.common import parse_float, parse_int, read_csv_rows
from gestured.importers.photos import handedness_code
from gestured.landmarks import BackendOptions, create_backend

logger = logging.getLogger(__name__)

VIDEO_HEADER = ["frame", "time_s", "source_image", "hands", "fingers"]


@dataclass
class VideoStats:
    frames: int = 0
    samples: int = 0
    frames_without_hand: int = 0
    skipped_rows: int = 0


def read_frame_labels(
    csv_path: Path, mapping: Mapping[str, str], stats: VideoStats
) -> dict[int, tuple[str, float]]:
    """Return {frame: (label, time_s)} for the one-hand rows that the mapping names."""
    labels: dict[int, tuple[str, float]] = {}
    for line, row in read_csv_rows(csv_path, len(VIDEO_HEADER), header=VIDEO_HEADER):
        frame = parse_int(row[0], csv_path, line)
        time_s = parse_float(row[1], csv_path, line)
        hands = parse_int(row[3], csv_path, line)
        fingers = row[4].strip()
        if frame < 0 or frame in labels:
            raise DatasetError(f"{csv_path}:{line}: invalid or repeated frame {frame}")
        if hands != 1 or fingers not in mapping:
            stats.skipped_rows += 1
            continue
        labels[frame] = (mapping[fingers], time_s)
    return labels


def import_video(
    video_path: Path, csv_path: Path, mapping: Mapping[str, str]
) -> tuple[Samples | None, VideoStats]:
    """Track hands through a video; return static_single samples and counts."""
    import cv2

    video_path = Path(video_path)
    if not video_path.is_file():
        raise DatasetError(f"{video_path}: video not found")
    stats = VideoStats()
    labels = read_frame_labels(Path(csv_path), mapping, stats)
    capture = cv2.VideoCapture(str(video_path))
    if not capture.isOpened():
        raise DatasetError(f"{video_path}: cannot open video")
    fps = capture.get(cv2.CAP_PROP_FPS) or 10.0
    # With max_hands=1 the video-mode tracker of mediapipe 0.10.18 lost the hand
    # in a third of the frames of a test video, with 2 in an eighth of them.
    backend = create_backend("solutions", BackendOptions(max_hands=2, video_mode=True))
    points, handedness, sizes, names = [], [], [], []
    try:
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            index = stats.frames
            stats.frames += 1
            rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
            # Every frame goes through the tracker, labelled or not, so that
            # tracking state matches what a live camera would give.
            hands = backend.process(rgb, int(index * 1000 / fps))
            if index not in labels:
                continue
            if not hands:
                stats.frames_without_hand += 1
                continue
            # A one-hand row with two detections is usually one hand tracked
            # twice, so the surer detection stands for it.
            hand = max(hands, key=lambda found: found.score)
            points.append(hand.landmarks)
            handedness.append(handedness_code(hand))
            sizes.append((rgb.shape[1], rgb.shape[0]))
            names.append(labels[index][0])
    finally:
        backend.close()
        capture.release()
    if stats.frames == 0:
        raise DatasetError(f"{video_path}: no frames could be decoded")
    beyond = [frame for frame in labels if frame >= stats.frames]
    if beyond:
        raise DatasetError(
            f"{csv_path}: frame {min(beyond)} is beyond the video's "
            f"{stats.frames} frames"
        )
    stats.samples = len(names)
    if not names:
        return None, stats
    samples = Samples.build(
        "static_single",
        np.stack(points),
        names,
        video_path.stem,
        handedness=np.asarray(handedness, np.int8).reshape(-1, 1, 1),
        image_size=np.asarray(sizes, np.int32),
    )
    return samples, stats
