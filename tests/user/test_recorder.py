"""Recorder rules: countdown, stillness, hand count, timeout, dynamic windows."""

from __future__ import annotations

import numpy as np
from gestured.dataset.shards import load_shard
from gestured.landmarks.base import Hand
from gestured.user.recorder import Recorder, RecordRequest
from gestured.user.store import UserStore


def real_hand(counting_a, fingers="3"):
    return counting_a.hands[counting_a.frames(fingers)[0]][0]


def moved(hand, dx):
    points = hand.landmarks.copy()
    points[:, 0] += dx
    return Hand(points, hand.handedness, hand.score)


def make(tmp_path, **kwargs):
    results, progress = [], []
    store = UserStore(tmp_path)
    request = RecordRequest("wave", **kwargs)
    recorder = Recorder(request, store.add_shard, results.append, progress.append)
    return recorder, results, progress


def test_still_frames_after_countdown(tmp_path, counting_a):
    hand = real_hand(counting_a)
    recorder, results, progress = make(tmp_path, samples=5, countdown=1.0)
    for step in range(10):
        recorder.feed([hand], (640, 480), step * 0.1)
    assert recorder.collected == 0
    assert recorder.state == "countdown"
    for step in range(10, 20):
        recorder.feed([hand], (640, 480), step * 0.1)
    assert results[0].ok
    samples = load_shard(results[0].shard)
    assert len(samples) == 5
    assert samples.labels.tolist() == ["wave"] * 5
    assert progress[0]["state"] == "countdown"
    assert progress[-1] == {
        "request_id": "",
        "state": "done",
        "collected": 5,
        "target": 5,
    }


def test_moving_and_wrong_hand_count_skipped(tmp_path, counting_a):
    hand = real_hand(counting_a)
    recorder, results, _ = make(tmp_path, samples=5, countdown=0, timeout=5)
    for step in range(20):
        # Each frame moves the hand by a fifth of the image width.
        recorder.feed([moved(hand, 0.2 * (step % 2))], (640, 480), step * 0.1)
        recorder.feed([], (640, 480), step * 0.1 + 0.05)
        recorder.feed([hand, hand], (640, 480), step * 0.1 + 0.06)
    assert recorder.collected == 0
    recorder.poll(100.0)
    assert results[0].ok is False
    assert "timed out" in results[0].message
    assert list((tmp_path / "samples").glob("*.npz")) == []


def test_timeout_keeps_enough_samples(tmp_path, counting_a):
    hand = real_hand(counting_a)
    recorder, results, _ = make(tmp_path, samples=50, countdown=0, timeout=2)
    for step in range(13):
        recorder.feed([hand], (640, 480), step * 0.1)
    recorder.feed([hand], (640, 480), 5.0)
    assert results[0].ok
    assert results[0].collected == 12
    assert "kept 12 of 50" in results[0].message


def test_dynamic_windows(tmp_path, counting_a):
    hand = real_hand(counting_a)
    recorder, results, _ = make(
        tmp_path, family="dynamic_single", samples=2, countdown=0
    )
    for step in range(40):
        recorder.feed([moved(hand, 0.01 * step)], (640, 480), step / 30)
    assert results[0].ok
    samples = load_shard(results[0].shard)
    assert samples.landmarks.shape == (2, 16, 1, 21, 3)
    assert np.isclose(samples.landmarks[0, 15, 0, 0, 0] - hand.landmarks[0, 0], 0.15)
