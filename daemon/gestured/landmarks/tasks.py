"""MediaPipe Tasks `HandLandmarker`, for mediapipe releases without `solutions`."""

from __future__ import annotations

import logging
import zipfile
from pathlib import Path

import numpy as np

from gestured.atomic import atomic_open
from gestured.errors import GesturedError
from gestured.landmarks.base import BackendOptions, Hand, person_handedness

logger = logging.getLogger(__name__)

# Inside a mediapipe 0.10.x wheel, and the names a .task bundle gives them.
_TASK_MEMBERS = {
    "hand_detector.tflite": "modules/palm_detection/palm_detection_full.tflite",
    "hand_landmarks_detector.tflite": "modules/hand_landmark/hand_landmark_full.tflite",
}


class TasksBackend:
    """Hands from `mediapipe.tasks.vision.HandLandmarker` and a `.task` file."""

    def __init__(self, options: BackendOptions) -> None:
        if not options.task_path:
            raise GesturedError("the tasks landmark backend needs landmarks.task_path")
        path = Path(options.task_path)
        if not path.is_file():
            raise GesturedError(
                f"hand landmarker model {path} not found; build one with "
                "'gestured landmarks build-task PATH' or set landmarks.task_path"
            )
        try:
            import mediapipe as mp
            from mediapipe.tasks.python import BaseOptions, vision
        except ImportError as exc:
            raise GesturedError(f"mediapipe Tasks API unavailable: {exc}") from exc
        self._mp = mp
        self._options = options
        mode = (
            vision.RunningMode.VIDEO if options.video_mode else vision.RunningMode.IMAGE
        )
        task_options = vision.HandLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=str(path)),
            running_mode=mode,
            num_hands=options.max_hands,
            min_hand_detection_confidence=options.min_detection_confidence,
            min_hand_presence_confidence=options.min_detection_confidence,
            min_tracking_confidence=options.min_tracking_confidence,
        )
        try:
            self._landmarker = vision.HandLandmarker.create_from_options(task_options)
        except (RuntimeError, ValueError) as exc:
            raise GesturedError(f"cannot load hand landmarker {path}: {exc}") from exc
        self._last_timestamp = -1

    def process(self, rgb: np.ndarray, timestamp_ms: int) -> list[Hand]:
        image = self._mp.Image(
            image_format=self._mp.ImageFormat.SRGB, data=np.ascontiguousarray(rgb)
        )
        if self._options.video_mode:
            # VIDEO mode rejects a timestamp that does not increase.
            timestamp_ms = max(int(timestamp_ms), self._last_timestamp + 1)
            self._last_timestamp = timestamp_ms
            result = self._landmarker.detect_for_video(image, timestamp_ms)
        else:
            result = self._landmarker.detect(image)
        hands = []
        for points, categories in zip(
            result.hand_landmarks, result.handedness, strict=False
        ):
            landmarks = np.array([(p.x, p.y, p.z) for p in points], dtype=np.float32)
            best = categories[0]
            hands.append(
                Hand(
                    landmarks=landmarks,
                    handedness=person_handedness(
                        best.category_name,
                        self._options.mirrored,
                        labels_assume_mirror=False,
                    ),
                    score=float(best.score),
                )
            )
        return hands

    def close(self) -> None:
        self._landmarker.close()


def build_task_bundle(destination: Path) -> Path:
    """Build `hand_landmarker.task` from the models inside the installed mediapipe.

    A .task file is an uncompressed zip of the palm detector and the landmark
    model. mediapipe 0.10.x wheels carry both, so this works offline.
    """
    try:
        import mediapipe
    except ImportError as exc:
        raise GesturedError("mediapipe is not installed") from exc
    root = Path(mediapipe.__file__).parent
    sources = {name: root / member for name, member in _TASK_MEMBERS.items()}
    missing = [str(path) for path in sources.values() if not path.is_file()]
    if missing:
        raise GesturedError(
            "this mediapipe wheel lacks the hand models needed for a .task "
            f"bundle: {', '.join(missing)}"
        )
    destination = Path(destination)
    with (
        atomic_open(destination) as handle,
        zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_STORED) as bundle,
    ):
        for name, source in sources.items():
            bundle.write(source, arcname=name)
    logger.info("Built hand landmarker bundle %s", destination)
    return destination
