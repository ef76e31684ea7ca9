"""Updates and sample sharing in a real `gestured run` process.

Real parts only: the daemon process on the held-out video played in real
time (about 18 s), Mosquitto on a loopback port, bundles written by the
`gestured publish` command and served over HTTP on 127.0.0.1.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from daemon_process import models_dir, start_daemon
from gestured.ota import keys
from gestured.ota.collect import Collector
from gestured.ota.updater import STATE_FILE
from mqtt_helpers import Observer
from ota_fixtures import serve_folder
from real_data import REPO, data_root

RUN_TIMEOUT = 120
TOPIC = "gestured/e2e"


def video() -> Path:
    return data_root() / "handsdataset" / "videos" / "counting-b.mp4"


def publish(models: Path, key: Path, out: Path, version: int) -> Path:
    """Write a bundle with the real `gestured publish` command."""
    command = [sys.executable, "-m", "gestured", "publish", "--models", str(models)]
    command += ["--key", str(key), "--out", str(out), "--version", str(version)]
    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": str(REPO / "daemon"), "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return out


def checked_recently(state: Path) -> None:
    # The first scheduled check runs at start; a recent last check moves it a
    # month ahead, so only the test's cmd/update installs anything.
    folder = state / "models"
    folder.mkdir(parents=True)
    (folder / STATE_FILE).write_text(json.dumps({"last_check": time.time()}))


def command(observer: Observer, name: str, fields: dict) -> dict:
    """Send cmd/<name> and return the data of its final reply."""
    request_id = f"{name}-{uuid.uuid4().hex[:8]}"
    start = observer.mark()
    observer.publish(
        f"{TOPIC}/cmd/{name}", json.dumps(fields | {"request_id": request_id})
    )

    def final(message) -> bool:
        if message.topic != f"{TOPIC}/reply":
            return False
        reply = json.loads(message.payload)
        if reply["request_id"] != request_id:
            return False
        # A recording sends progress replies, whose data has a state, first.
        return not reply["ok"] or "state" not in (reply["data"] or {})

    return json.loads(observer.wait_for(final, 60, start).payload)


def model_status(observer: Observer, start: int = 0) -> dict:
    messages = observer.on_topic(f"{TOPIC}/model", start)
    assert messages, "no model status published"
    return json.loads(messages[-1].payload)


def gesture_after(observer: Observer, start: int) -> None:
    observer.wait_for(lambda m: m.topic == f"{TOPIC}/gesture", 20, start)


@pytest.mark.slow
def test_update_command_installs_good_bundle_and_rejects_bad(mosquitto, tmp_path):
    private, public = keys.generate_keypair(tmp_path / "keys")
    stranger, _ = keys.generate_keypair(tmp_path / "other-keys")
    good = publish(models_dir(), private, tmp_path / "good", 1)
    bad = publish(models_dir(), stranger, tmp_path / "bad", 1)
    state = tmp_path / "state"
    checked_recently(state)
    observer = Observer(mosquitto.host, mosquitto.port)
    observer.subscribe(f"{TOPIC}/#")
    with serve_folder(bad) as http:
        daemon = start_daemon(
            video(),
            state,
            "--realtime",
            "--set",
            f"update.url={http.url}",
            "--set",
            f"update.public_key={public}",
            "--set",
            "update.health_seconds=15",
            port=mosquitto.port,
        )
        try:
            observer.wait_for(lambda m: m.topic == f"{TOPIC}/gesture", 60)
            assert model_status(observer)["version"] == 0

            reply = command(observer, "update", {"force": True})
            assert not reply["ok"]
            assert "unknown field(s) force" in reply["message"]

            reply = command(observer, "update", {})
            assert not reply["ok"]
            assert reply["data"]["status"] == "failed"
            assert "signature is invalid" in reply["message"]
            mark = observer.mark()
            gesture_after(observer, mark)
            assert model_status(observer)["version"] == 0

            http.folder = good
            reply = command(observer, "update", {})
            assert reply["ok"], reply
            assert reply["data"] == {"status": "installed", "version": 1, "reason": ""}
            status = model_status(observer)
            assert status["version"] == 1
            assert status["previous"] == 0
            assert status["families"]["static_single"] == "20261204.1"
            gesture_after(observer, observer.mark())
            out, err = daemon.communicate(timeout=RUN_TIMEOUT)
        finally:
            daemon.kill()
            observer.close()
    assert daemon.returncode == 0, err[-2000:]
    assert "Traceback" not in err
    current = state / "models" / "current"
    assert current.resolve().name == "1"
    assert (current / "static_single" / "model.tflite").read_bytes() == (
        models_dir() / "static_single" / "model.tflite"
    ).read_bytes()


@pytest.mark.slow
def test_recording_is_shared_once_with_the_collector(mosquitto, tmp_path):
    collected = tmp_path / "collected"
    collector = Collector(
        mosquitto.host, mosquitto.port, collected, client_id="test-collector"
    )
    collector.start()
    observer = Observer(mosquitto.host, mosquitto.port)
    observer.subscribe(f"{TOPIC}/#")
    daemon = start_daemon(
        video(),
        tmp_path / "state",
        "--realtime",
        "--set",
        "user.share_samples=true",
        port=mosquitto.port,
    )
    try:
        assert collector.connected.wait(10)
        observer.wait_for(
            lambda m: m.topic == f"{TOPIC}/status" and m.payload == b"online", 60
        )
        reply = command(
            observer, "record", {"label": "palm", "samples": 2, "countdown": 0}
        )
        assert reply["ok"], reply
        deadline = time.monotonic() + 30
        while collector.stored < 1 and time.monotonic() < deadline:
            time.sleep(0.1)
        out, err = daemon.communicate(timeout=RUN_TIMEOUT)
    finally:
        daemon.kill()
        observer.close()
        collector.stop()
    assert daemon.returncode == 0, err[-2000:]
    stored = sorted((collected / "e2e").glob("*.npz"))
    assert [path.name.split("-")[0] for path in stored] == ["static_single"]
    assert collector.stored == 1
    assert len(observer.on_topic(f"{TOPIC}/samples")) == 1
    assert collector.rejected == 0
    local = sorted((tmp_path / "state" / "samples").glob("*.npz"))
    assert len(local) == 1
    assert stored[0].read_bytes() == local[0].read_bytes()


def kinivi_base(folder: Path) -> Path:
    """Import the keypoint CSV as the server's base data."""
    from gestured.dataset.shards import write_shard
    from gestured.importers import kinivi
    from gestured.importers.common import STATIC_VOCABULARY, parse_mapping

    keypoints = data_root() / "kinivi" / "keypoint.csv"
    mapping = parse_mapping([], kinivi.KEYPOINT_DEFAULT_MAP, STATIC_VOCABULARY)
    labels = keypoints.with_name("keypoint_classifier_label.csv")
    write_shard(folder, kinivi.import_keypoints(keypoints, labels, mapping))
    return folder


@pytest.mark.slow
def test_shared_label_reaches_devices_by_retrain(mosquitto, tmp_path):
    from gestured.base_model import BaseModel
    from gestured.ota.collect import share_shard
    from gestured.ota.store import ModelStore
    from gestured.ota.updater import INSTALLED, Updater
    from ota_fixtures import PahoLink

    collected = tmp_path / "collected"
    # A first connection makes the broker keep the collector's session, so
    # shards shared while it is stopped wait in the broker's queue.
    collector = Collector(mosquitto.host, mosquitto.port, collected, client_id="c1")
    collector.start()
    assert collector.connected.wait(10)
    collector.stop()

    observer = Observer(mosquitto.host, mosquitto.port)
    observer.subscribe(f"{TOPIC}/#")
    state = tmp_path / "state"
    daemon = start_daemon(
        video(),
        state,
        "--realtime",
        "--set",
        "user.share_samples=true",
        port=mosquitto.port,
    )
    try:
        observer.wait_for(
            lambda m: m.topic == f"{TOPIC}/status" and m.payload == b"online", 60
        )
        reply = command(
            observer, "record", {"label": "palm", "samples": 2, "countdown": 0}
        )
        assert reply["ok"], reply
        observer.wait_for(lambda m: m.topic == f"{TOPIC}/samples", 30)
        out, err = daemon.communicate(timeout=RUN_TIMEOUT)
    finally:
        daemon.kill()
        observer.close()
    assert daemon.returncode == 0, err[-2000:]
    # Two more homes share the same recording with the device-side code: three
    # daemons at once would not fit the two cores these tests run on.
    (shard,) = sorted((state / "samples").glob("*.npz"))
    for device in ("hall", "office"):
        link = PahoLink(device, mosquitto.port)
        try:
            assert share_shard(link, shard, timeout=10)
        finally:
            link.close()

    collector = Collector(mosquitto.host, mosquitto.port, collected, client_id="c1")
    collector.start()
    try:
        deadline = time.monotonic() + 30
        while collector.stored < 3 and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        collector.stop()
    assert sorted(path.name for path in collected.iterdir()) == [
        "e2e",
        "hall",
        "office",
    ]

    private, public = keys.generate_keypair(tmp_path / "keys")
    www = tmp_path / "www"
    command_line = [sys.executable, "-m", "gestured", "retrain"]
    command_line += ["--base", str(kinivi_base(tmp_path / "base"))]
    command_line += ["--collected", str(collected), "--state", str(tmp_path / "srv")]
    command_line += ["--key", str(private), "--out", str(www), "--min-devices", "3"]
    command_line += ["--epochs", "5", "--members", "1"]
    done = subprocess.run(
        command_line,
        capture_output=True,
        text=True,
        timeout=300,
        env={"PYTHONPATH": str(REPO / "daemon"), "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "joined ['palm']" in done.stdout
    assert "published bundle version 1" in done.stdout

    store = ModelStore(tmp_path / "device")
    store.adopt(models_dir())
    with serve_folder(www) as http:
        result = Updater(store, http.url, public.read_text()).check_now()
    assert result.status == INSTALLED, result.reason
    model = BaseModel.load(store.current_folder() / "static_single")
    assert "palm" in model.labels
