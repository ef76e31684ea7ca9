"""Teach "three" from counting-a through the real command path, test on counting-b."""

from __future__ import annotations

import json

import numpy as np
import pytest
from gestured.user.handler import CommandHandler
from gestured.user.hybrid import decide
from gestured.user.model import BACKGROUND_LABEL
from gestured.user.store import UserStore

pytestmark = pytest.mark.slow


def test_three_learned_from_video(tmp_path, counting_a, counting_b, background):
    replies, progress, models = [], [], {}
    handler = CommandHandler(
        UserStore(tmp_path),
        lambda *reply: replies.append(reply),
        background_for=lambda family: background,
        on_model=models.__setitem__,
        progress=progress.append,
        # The counting videos join separate photos, which move a median 0.15
        # hand sizes from frame to frame; a live camera moves far less.
        motion_threshold=0.5,
    )
    payload = {"label": "three", "samples": 50, "countdown": 0, "request_id": "r1"}
    handler.handle("record", json.dumps(payload).encode())
    # Feed only the "three" part, 10 frames per second as in the video.
    three = [i for i, row in enumerate(counting_a.truth) if row["fingers"] == "3"]
    for i in three:
        handler.feed(counting_a.hands[i], counting_a.size, i * 0.1)
    handler.poll(1e9)
    assert not handler.recording
    assert len(replies) == 1
    request_id, ok, message, data = replies[0]
    assert (request_id, ok) == ("r1", True), message
    assert data["collected"] >= 30
    assert progress[-1]["state"] == "done"
    model = models["static_single"]
    assert model.labels == ["three"]

    proba = model.predict_proba(counting_b.features(counting_b.frames("3")))
    top = [model.classes[k] for k in proba.argmax(axis=1)]
    recall = np.mean([label == "three" for label in top])
    sure = np.mean(proba[:, model.classes.index("three")] >= 0.85)
    print(f"counting-b three frames: argmax {recall:.2f}, p>=0.85 {sure:.2f}")
    # counting-b shows "three" in a second hand pose that counting-a lacks,
    # so about 86 to 89 percent is this linear model's ceiling here.
    assert recall >= 0.75
    assert sure >= 0.7

    others = [i for f in "0124" for i in counting_b.frames(f)]
    other_proba = model.predict_proba(counting_b.features(others))
    to_base = np.mean(
        other_proba.argmax(axis=1) == model.classes.index(BACKGROUND_LABEL)
    )
    print(f"counting-b other frames sent to __base__: {to_base:.2f}")
    assert to_base >= 0.9

    # Through the hybrid decision, with no base model present.
    decisions = [decide([], None, model.classes, row) for row in other_proba]
    assert sum(d is not None for d in decisions) <= 0.1 * len(decisions)
