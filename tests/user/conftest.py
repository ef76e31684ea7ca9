"""Real data for the user-model tests: kinivi keypoints and counting videos."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np
import pytest
from gestured.user.background import Background

KINIVI_NAMES = ["Open", "Close", "Pointer", "OK"]


def data_dir() -> Path:
    override = os.environ.get("GESTURED_DATA")
    if override:
        return Path(override)
    return Path(__file__).resolve().parents[3] / "shared" / "data"


def need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"real data not found at {path}; set GESTURED_DATA")
    return path


@pytest.fixture(scope="session")
def kinivi_background() -> Background:
    """Background of four base gestures straight from kinivi keypoint rows."""
    rows = np.loadtxt(
        need(data_dir() / "kinivi" / "keypoint.csv"), delimiter=",", dtype=np.float32
    )
    labels = np.array(KINIVI_NAMES)[rows[:, 0].astype(int)]
    return Background.build("static_single", rows[:, 1:], labels, "test")


def ground_truth(name: str) -> list[dict[str, str]]:
    path = need(data_dir() / "handsdataset" / "videos" / f"{name}.csv")
    with path.open() as handle:
        return list(csv.DictReader(handle))


class VideoLandmarks:
    """Per-frame hands of one counting video, from the solutions backend."""

    def __init__(self, name: str) -> None:
        import cv2
        from gestured.landmarks import BackendOptions, create_backend

        path = need(data_dir() / "handsdataset" / "videos" / f"{name}.mp4")
        self.truth = ground_truth(name)
        self.hands: list[list] = []
        backend = create_backend("solutions", BackendOptions(max_hands=1))
        capture = cv2.VideoCapture(str(path))
        try:
            while True:
                ok, frame = capture.read()
                if not ok:
                    break
                rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
                self.hands.append(backend.process(rgb, len(self.hands) * 100))
                self.size = (frame.shape[1], frame.shape[0])
        finally:
            capture.release()
            backend.close()
        assert len(self.hands) == len(self.truth)

    def frames(self, fingers: str) -> list[int]:
        return [
            i
            for i, row in enumerate(self.truth)
            if row["fingers"] == fingers and self.hands[i]
        ]

    def features(self, indices: list[int]) -> np.ndarray:
        from gestured.features import hand_shape

        points = np.stack([self.hands[i][0].landmarks for i in indices])
        return hand_shape(points, np.array(self.size))


@pytest.fixture(scope="session")
def counting_a() -> VideoLandmarks:
    return VideoLandmarks("counting-a")


@pytest.fixture(scope="session")
def counting_b() -> VideoLandmarks:
    return VideoLandmarks("counting-b")


@pytest.fixture(scope="session")
def background(kinivi_background: Background, counting_a: VideoLandmarks) -> Background:
    """Kinivi rows plus counting-a frames of every finger count except three.

    A shipped background holds every base gesture of the training videos, so
    four fingers (close to three) must be in it too.
    """
    others = [i for i in range(len(counting_a.truth)) if counting_a.hands[i]]
    others = [i for i in others if counting_a.truth[i]["fingers"] != "3"]
    labels = [f"fingers{counting_a.truth[i]['fingers']}" for i in others]
    return Background.build(
        "static_single",
        np.concatenate([kinivi_background.features, counting_a.features(others)]),
        np.concatenate([kinivi_background.labels, np.array(labels)]),
        "test",
    )
