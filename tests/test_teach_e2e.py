"""Teaching a gesture over MQTT to a running daemon, then using it on new video.

The base model is trained here without "three". The daemon plays the "three"
frames of counting-a while a record command arrives over a real Mosquitto.
Then a second run on counting-b must report "three" from the user model and
still report the base gestures as well as the base model alone does.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import pytest
from daemon_process import start_daemon
from ground_truth import read_segments, score_events
from mqtt_helpers import Observer
from real_data import REPO, data_root, run_cli

pytestmark = pytest.mark.slow

RUN_TIMEOUT = 300
# The counting videos join separate photos, which move a median 0.15 hand
# sizes from frame to frame; a live camera held still moves far less.
VIDEO_MOTION_THRESHOLD = "0.5"


def videos() -> Path:
    return data_root() / "handsdataset" / "videos"


@pytest.fixture(scope="module")
def models_without_three(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("models")
    env = {**os.environ, "PYTHONPATH": str(REPO / "daemon")}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "gestured",
            "train",
            "--data-root",
            str(data_root()),
            "--out",
            str(out),
            "--exclude-label",
            "three",
            "--quiet",
        ],
        capture_output=True,
        text=True,
        timeout=900,
        env=env,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    manifest = json.loads((out / "static_single" / "manifest.json").read_text())
    assert "three" not in manifest["labels"]
    return out


def three_clip(folder: Path, repeats: int = 3) -> Path:
    """Write counting-a's "three" frames, repeated, as a 10 fps MJPEG video."""
    with (videos() / "counting-a.csv").open() as handle:
        three = {int(r["frame"]) for r in csv.DictReader(handle) if r["fingers"] == "3"}
    capture = cv2.VideoCapture(str(videos() / "counting-a.mp4"))
    frames = []
    index = 0
    while True:
        ok, image = capture.read()
        if not ok:
            break
        if index in three:
            frames.append(image)
        index += 1
    capture.release()
    assert len(frames) == len(three)
    path = folder / "three.avi"
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(
        str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (width, height)
    )
    for _ in range(repeats):
        for image in frames:
            writer.write(image)
    writer.release()
    return path


def run_to_end(source: Path, state: Path, models: Path, port: int) -> list[dict]:
    observer = Observer("127.0.0.1", port)
    observer.subscribe("gestured/e2e/gesture")
    try:
        daemon = start_daemon(source, state, port=port, models=models)
        out, err = daemon.communicate(timeout=RUN_TIMEOUT)
        assert daemon.returncode == 0, err[-2000:]
        return [
            json.loads(m.payload) for m in observer.on_topic("gestured/e2e/gesture")
        ]
    finally:
        observer.close()


def test_record_three_then_recognize(mosquitto, tmp_path, models_without_three):
    state = tmp_path / "state"
    observer = Observer(mosquitto.host, mosquitto.port)
    observer.subscribe("gestured/e2e/#")
    daemon = start_daemon(
        three_clip(tmp_path),
        state,
        "--realtime",
        "--set",
        f"user.motion_threshold={VIDEO_MOTION_THRESHOLD}",
        port=mosquitto.port,
        models=models_without_three,
    )
    try:
        observer.wait_for(
            lambda m: m.topic == "gestured/e2e/status" and m.payload == b"online", 60
        )
        command = {
            "label": "three",
            "samples": 40,
            "countdown": 0,
            "timeout": 15,
            "request_id": "teach-1",
        }
        observer.publish("gestured/e2e/cmd/record", json.dumps(command).encode())

        def final_reply(message) -> bool:
            if message.topic != "gestured/e2e/reply":
                return False
            reply = json.loads(message.payload)
            return reply["request_id"] == "teach-1" and "labels" in (
                reply.get("data") or {}
            )

        reply = json.loads(observer.wait_for(final_reply, 60).payload)
        out, err = daemon.communicate(timeout=RUN_TIMEOUT)
    finally:
        daemon.kill()
        observer.close()
    assert reply["ok"] is True, reply
    assert reply["data"]["labels"] == ["three"]
    assert reply["data"]["collected"] >= 30
    assert daemon.returncode == 0, err[-2000:]

    events = run_to_end(
        videos() / "counting-b.mp4", state, models_without_three, mosquitto.port
    )
    segments = read_segments(videos() / "counting-b.csv")
    score = score_events(
        [(event["frame"], event["gesture"]) for event in events], segments, fps=10
    )
    held_three = [s for s in score.held if s.label == "three"]
    assert held_three, "counting-b has no held three segment"
    three_hits = [s for s in held_three if len(s.events) == 1]
    assert len(three_hits) >= 0.9 * len(held_three), score.describe()
    three_events = [e for e in events if e["gesture"] == "three"]
    assert all(event["source"] == "user" for event in three_events)
    # The base gestures still meet the daemon's bar with the user model loaded.
    assert score.hit_rate >= 0.9, score.describe()
    assert score.bad_rate < 0.05, score.describe()


def test_record_command_line(tmp_path):
    state = tmp_path / "state"
    result = run_cli(
        "record",
        "three",
        "--source",
        str(three_clip(tmp_path, repeats=1)),
        "--samples",
        "20",
        "--state-dir",
        str(state),
        "--models-dir",
        str(REPO / "models"),
        "--motion-threshold",
        VIDEO_MOTION_THRESHOLD,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "static_single user model labels: three" in result.stdout
    assert len(list((state / "samples").glob("static_single-*.npz"))) == 1
    assert (state / "user_models" / "static_single.npz").is_file()


def test_record_command_line_too_few_samples(tmp_path):
    result = run_cli(
        "record",
        "three",
        "--source",
        str(three_clip(tmp_path, repeats=1)),
        "--samples",
        "500",
        "--state-dir",
        str(tmp_path / "state"),
        "--models-dir",
        str(REPO / "models"),
    )
    assert result.returncode == 1
    assert "gestured: error:" in result.stderr
    assert "Traceback" not in result.stderr
