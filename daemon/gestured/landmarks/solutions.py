"""MediaPipe `solutions.hands`: its models ship inside the wheel, so it runs offline."""

from __future__ import annotations

import numpy as np

from gestured.errors import GesturedError
from gestured.landmarks.base import BackendOptions, Hand, person_handedness


class SolutionsBackend:
    """Hands from `mediapipe.solutions.hands` (mediapipe releases up to 0.10.2x)."""

    def __init__(self, options: BackendOptions) -> None:
        try:
            from mediapipe.python.solutions import hands as mp_hands
        except ImportError as exc:
            raise GesturedError(
                "this mediapipe has no solutions.hands; set landmarks.task_path to "
                "a hand_landmarker.task file to use the Tasks backend"
            ) from exc
        self._options = options
        self._hands = mp_hands.Hands(
            static_image_mode=not options.video_mode,
            max_num_hands=options.max_hands,
            model_complexity=options.model_complexity,
            min_detection_confidence=options.min_detection_confidence,
            min_tracking_confidence=options.min_tracking_confidence,
        )

    def process(self, rgb: np.ndarray, timestamp_ms: int) -> list[Hand]:
        results = self._hands.process(rgb)
        if not results.multi_hand_landmarks:
            return []
        hands = []
        for points, classes in zip(
            results.multi_hand_landmarks, results.multi_handedness, strict=False
        ):
            landmarks = np.array(
                [(p.x, p.y, p.z) for p in points.landmark], dtype=np.float32
            )
            best = classes.classification[0]
            hands.append(
                Hand(
                    landmarks=landmarks,
                    handedness=person_handedness(
                        best.label, self._options.mirrored, labels_assume_mirror=True
                    ),
                    score=float(best.score),
                )
            )
        return hands

    def close(self) -> None:
        self._hands.close()
