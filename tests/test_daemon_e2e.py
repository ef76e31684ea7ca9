"""`gestured run` end to end: real video, real Mosquitto, real model files."""

from __future__ import annotations

import io
import json
import shutil
import signal
import socket
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from daemon_process import models_dir, start_daemon
from gestured.user.background import load_background
from gestured.user.model import UserModel
from gestured.user.model_file import model_arrays
from ground_truth import read_segments, score_events
from mqtt_helpers import Observer
from numpy.lib import format as npy_format
from real_data import data_root

RUN_TIMEOUT = 300


def video(name: str) -> Path:
    return data_root() / "handsdataset" / "videos" / name


def gesture_events(observer: Observer) -> list[dict]:
    return [json.loads(m.payload) for m in observer.on_topic("gestured/e2e/gesture")]


@pytest.mark.slow
def test_counting_b_matches_ground_truth(mosquitto, tmp_path):
    # counting-b is capture sequence 1528664299.56: the model must not know it.
    card = (models_dir() / "static_single" / "MODEL_CARD.md").read_text()
    assert "Excluded from training: counting-b" in card
    assert "Held out: sequences 1528664299.56" in card
    observer = Observer(mosquitto.host, mosquitto.port)
    observer.subscribe("gestured/e2e/#")
    try:
        daemon = start_daemon(video("counting-b.mp4"), tmp_path, port=mosquitto.port)
        out, err = daemon.communicate(timeout=RUN_TIMEOUT)
        assert daemon.returncode == 0, err[-2000:]
        observer.wait_for(
            lambda m: m.topic == "gestured/e2e/status" and m.payload == b"offline"
        )
        events = gesture_events(observer)
        model_status = json.loads(observer.on_topic("gestured/e2e/model")[-1].payload)
    finally:
        observer.close()
    # Without updates the retained status has the fields it has with them.
    assert model_status["version"] is None
    assert model_status["previous"] is None
    assert list(model_status["families"]) == ["static_single"]
    score = score_events(
        [(event["frame"], event["gesture"]) for event in events],
        read_segments(video("counting-b.csv")),
        fps=10,
    )
    assert score.hit_rate >= 0.9, score.describe()
    assert score.bad_rate < 0.05, score.describe()
    for event in events:
        assert event["source"] == "base"
        assert event["family"] == "static_single"
        assert event["hands"] == 1
        assert 0.0 <= event["confidence"] <= 1.0
        assert abs(event["timestamp"] - time.time()) < RUN_TIMEOUT


@pytest.mark.slow
def test_broker_restart_during_run(mosquitto, tmp_path):
    observer = Observer(mosquitto.host, mosquitto.port)
    observer.subscribe("gestured/e2e/#")
    daemon = start_daemon(
        video("counting-b.mp4"), tmp_path, "--realtime", port=mosquitto.port
    )
    try:
        observer.wait_for(
            lambda m: m.topic == "gestured/e2e/status" and m.payload == b"online", 60
        )
        observer.wait_for(lambda m: m.topic == "gestured/e2e/gesture", 30)
        observer.close()
        mosquitto.stop()
        time.sleep(3)
        mosquitto.start()
        observer = Observer(mosquitto.host, mosquitto.port)
        observer.subscribe("gestured/e2e/#")
        observer.wait_for(
            lambda m: m.topic == "gestured/e2e/status" and m.payload == b"online", 30
        )
        observer.wait_for(lambda m: m.topic == "gestured/e2e/gesture", 30)
        out, err = daemon.communicate(timeout=RUN_TIMEOUT)
    finally:
        daemon.kill()
        observer.close()
    assert daemon.returncode == 0, err[-2000:]
    assert "Traceback" not in err


def test_corrupt_model_exits_with_one_message(tmp_path):
    models = tmp_path / "models"
    shutil.copytree(models_dir(), models)
    model = models / "static_single" / "model.tflite"
    model.write_bytes(model.read_bytes()[:-100] + b"\0" * 100)
    daemon = start_daemon(video("counting-c.mp4"), tmp_path, models=models)
    out, err = daemon.communicate(timeout=60)
    assert daemon.returncode == 1
    assert "Traceback" not in err
    assert "gestured: error:" in err
    assert "sha256" in err


def test_invalid_config_exits_with_one_message(tmp_path):
    config = tmp_path / "bad.toml"
    config.write_text("[smoothing]\nstable_secs = 2\n")
    daemon = start_daemon(video("counting-c.mp4"), tmp_path, "--config", str(config))
    out, err = daemon.communicate(timeout=60)
    assert daemon.returncode == 1
    assert "Traceback" not in err
    assert "smoothing.stable_secs" in err


def _read_datagrams(sock: socket.socket, until: str, timeout: float) -> list[str]:
    messages: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sock.settimeout(max(deadline - time.monotonic(), 0.01))
        try:
            messages.append(sock.recv(4096).decode())
        except TimeoutError:
            break
        if any(until in message for message in messages):
            break
    return messages


def test_systemd_notifications_and_sigterm(tmp_path):
    path = tmp_path / "notify.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(path))
        daemon = start_daemon(
            video("counting-b.mp4"),
            tmp_path,
            "--realtime",
            env={"NOTIFY_SOCKET": str(path), "WATCHDOG_USEC": "400000"},
        )
        try:
            early = _read_datagrams(sock, "WATCHDOG=1", 60)
            daemon.send_signal(signal.SIGHUP)
            middle = _read_datagrams(sock, "RELOADING=1", 20)
            daemon.send_signal(signal.SIGTERM)
            late = _read_datagrams(sock, "STOPPING=1", 30)
            out, err = daemon.communicate(timeout=30)
        finally:
            daemon.kill()
    messages = "\n".join(early + middle + late)
    assert "READY=1" in messages
    assert "WATCHDOG=1" in messages
    assert "RELOADING=1" in messages
    assert "STOPPING=1" in messages
    assert daemon.returncode == 0, err[-2000:]
    assert "Applied thresholds and smoothing" in err


def huge_shape_model() -> bytes:
    """A user model file whose coef header claims 2**45 floats (256 TiB)."""
    header = io.BytesIO()
    npy_format.write_array_header_1_0(
        header, {"descr": "<f8", "fortran_order": False, "shape": (2**45,)}
    )
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as files:
        files.writestr("coef.npy", header.getvalue())
    return archive.getvalue()


def tiny_scale_model() -> bytes:
    """A well-formed user model whose scale makes every input infinite."""
    background = load_background(models_dir() / "static_single")
    model = UserModel.train(
        "static_single", background.features[:40], ["mine"] * 40, background
    )
    arrays = model_arrays(model)
    arrays["scale"] = np.full_like(arrays["scale"], 1e-320)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


@pytest.mark.parametrize(
    "contents",
    [
        lambda: b"PK\x03\x04 not really a zip",
        huge_shape_model,
        tiny_scale_model,
    ],
    ids=["not-a-zip", "huge-shape", "tiny-scale"],
)
def test_corrupt_user_model_falls_back_to_base(tmp_path, contents):
    models = tmp_path / "user_models"
    models.mkdir()
    (models / "static_single.npz").write_bytes(contents())
    daemon = start_daemon(video("counting-c.mp4"), tmp_path)
    out, err = daemon.communicate(timeout=RUN_TIMEOUT)
    assert daemon.returncode == 0, err[-2000:]
    assert "Ignoring the static_single user model" in err
    assert "Traceback" not in err
    events = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert events
    assert all(event["source"] == "base" for event in events)
