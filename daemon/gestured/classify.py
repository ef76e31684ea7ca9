"""Classify the hands in photos and videos with the base models of a models folder."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gestured.base_model import MANIFEST_NAME, BaseModel, read_manifest
from gestured.errors import GesturedError, ModelError
from gestured.features import hand_shape, two_hand_shape
from gestured.landmarks import BackendOptions, Hand, create_backend

logger = logging.getLogger(__name__)

PHOTO_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp"})
# Families whose features come from a single frame; the dynamic families need
# a 16-frame window, which this tool does not assemble.
STATIC_FAMILIES = ("static_single", "static_double")


def load_models(models: Path, variant: str = "float32") -> dict[str, BaseModel]:
    """Load each family folder whose manifest lists model files."""
    models = Path(models)
    if not models.is_dir():
        raise ModelError(
            f"{models}: models folder not found; name one with --models DIR"
        )
    loaded = {}
    for folder in sorted(path for path in models.iterdir() if path.is_dir()):
        if not (folder / MANIFEST_NAME).is_file():
            continue
        manifest = read_manifest(folder)
        if not manifest["files"]:
            continue
        if manifest["family"] not in STATIC_FAMILIES:
            logger.warning(
                "Skipping %s: classify runs only the static families", folder
            )
            continue
        loaded[manifest["family"]] = BaseModel.load(folder, variant=variant)
    if not loaded:
        raise ModelError(f"{models}: no trained static model found")
    return loaded


def hand_record(hand: Hand, width: int, height: int) -> dict[str, Any]:
    x = hand.landmarks[:, 0] * width
    y = hand.landmarks[:, 1] * height
    bbox = [float(x.min()), float(y.min()), float(x.max()), float(y.max())]
    return {
        "handedness": hand.handedness,
        "score": round(hand.score, 4),
        "bbox": [round(value, 1) for value in bbox],
    }


def _best(model: BaseModel, features: np.ndarray) -> list[dict[str, Any]]:
    probabilities = model.predict_proba(features)
    return [
        {
            "gesture": model.labels[int(row.argmax())],
            "confidence": round(float(row.max()), 4),
        }
        for row in probabilities
    ]


def classify_hands(
    models: dict[str, BaseModel], hands: list[Hand], width: int, height: int
) -> dict[str, Any]:
    """Return each family's gesture for the hands of one frame."""
    size = np.array([width, height], dtype=np.float32)
    gestures: dict[str, Any] = {}
    if "static_single" in models:
        if hands:
            points = np.stack([hand.landmarks for hand in hands])
            gestures["static_single"] = _best(
                models["static_single"], hand_shape(points, size)
            )
        else:
            gestures["static_single"] = []
    if "static_double" in models:
        gestures["static_double"] = None
        if len(hands) == 2:
            points = np.stack([hand.landmarks for hand in hands])[None]
            features = two_hand_shape(points, size[None])
            gestures["static_double"] = _best(models["static_double"], features)[0]
    return gestures


@dataclass
class Frame:
    index: int
    time_s: float
    rgb: np.ndarray


def _frames(path: Path) -> Iterator[Frame]:
    import cv2

    if path.suffix.lower() in PHOTO_SUFFIXES:
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise GesturedError(f"{path}: not a readable image")
        yield Frame(0, 0.0, cv2.cvtColor(image, cv2.COLOR_BGR2RGB))
        return
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise GesturedError(f"{path}: not a readable image or video")
    fps = capture.get(cv2.CAP_PROP_FPS) or 30.0
    index = 0
    try:
        while True:
            ok, image = capture.read()
            if not ok:
                break
            yield Frame(index, index / fps, cv2.cvtColor(image, cv2.COLOR_BGR2RGB))
            index += 1
    finally:
        capture.release()
    if index == 0:
        raise GesturedError(f"{path}: no frames could be decoded")


def classify_file(
    path: Path, models: dict[str, BaseModel], *, mirrored: bool = False
) -> Iterator[dict[str, Any]]:
    """Yield one result per frame of a photo or video."""
    path = Path(path)
    if not path.is_file():
        raise GesturedError(f"{path}: file not found")
    photo = path.suffix.lower() in PHOTO_SUFFIXES
    options = BackendOptions(max_hands=2, video_mode=not photo, mirrored=mirrored)
    backend = create_backend("solutions", options)
    try:
        for frame in _frames(path):
            height, width = frame.rgb.shape[:2]
            hands = backend.process(frame.rgb, int(frame.time_s * 1000))
            yield {
                "file": str(path),
                "frame": frame.index,
                "time_s": round(frame.time_s, 3),
                "hands": [hand_record(hand, width, height) for hand in hands],
                "gestures": classify_hands(models, hands, width, height),
            }
    finally:
        backend.close()
