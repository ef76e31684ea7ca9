"""Real components for the update tests: TFLite models, an HTTP server, Mosquitto."""

from __future__ import annotations

import contextlib
import hashlib
import http.server
import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from gestured.features import FEATURE_SPECS
from gestured.ota.tiny_trainer import write_model_folder

LABELS = ["fist", "five", "ok"]
MOSQUITTO = "/usr/sbin/mosquitto"


def tiny_tflite(seed: int, inputs: int = 42, classes: int = 3) -> bytes:
    """Convert a Dense softmax layer with seeded random weights to TFLite."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    model = tf.keras.Sequential(
        [
            tf.keras.Input(shape=(inputs,)),
            tf.keras.layers.Dense(classes, activation="softmax"),
        ]
    )
    weights = rng.normal(0.0, 3.0, (inputs, classes)).astype(np.float32)
    model.layers[0].set_weights([weights, np.zeros(classes, np.float32)])
    return bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())


def make_model_set(root: Path, tflite: bytes, version: str) -> Path:
    """Write a model set: static_single trained, the other families empty."""
    rng = np.random.default_rng(len(version))
    background = rng.uniform(-1, 1, (64, 42)).astype(np.float32)
    write_model_folder(
        root / "static_single", "static_single", version, LABELS, tflite, background
    )
    spec = FEATURE_SPECS["static_double"]
    empty = root / "static_double"
    empty.mkdir(parents=True, exist_ok=True)
    empty_manifest = {
        "format": 1,
        "family": "static_double",
        "version": "none",
        "labels": [],
        "feature": {"name": spec.name, "size": spec.size},
        "files": {},
    }
    (empty / "manifest.json").write_text(json.dumps(empty_manifest))
    return root


# HTTP ------------------------------------------------------------------------


class BundleServer(http.server.ThreadingHTTPServer):
    """Serves a folder; `faults` maps a file name to a misbehaviour.

    Faults: "404", "500", "hang" (no response until the test ends),
    "truncate" (half the body, then close), "oversize" (a Content-Length and
    body 1 MiB longer than the file), "nolength" (no Content-Length and the
    file followed by 256 MiB of zeros).
    """

    daemon_threads = True

    def __init__(self, folder: Path) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.folder = folder
        self.faults: dict[str, str] = {}
        self.requests: Counter[str] = Counter()
        self.not_modified = 0
        self.release = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/"


class _Handler(http.server.BaseHTTPRequestHandler):
    server: BundleServer

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass

    def do_GET(self) -> None:  # noqa: N802
        name = self.path.lstrip("/")
        self.server.requests[name] += 1
        fault = self.server.faults.get(name)
        path = self.server.folder / name
        if fault == "hang":
            self.server.release.wait(30)
            return
        if fault in ("404", "500") or "/" in name or not path.is_file():
            self.send_error(500 if fault == "500" else 404)
            return
        body = path.read_bytes()
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        if self.headers.get("If-None-Match") == etag:
            self.server.not_modified += 1
            self.send_response(304)
            self.send_header("ETag", etag)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("ETag", etag)
        extra = 1024 * 1024 if fault == "oversize" else 0
        if fault != "nolength":
            self.send_header("Content-Length", str(len(body) + extra))
        self.end_headers()
        if fault == "truncate":
            self.wfile.write(body[: len(body) // 2])
            self.close_connection = True
            return
        self.wfile.write(body)
        with contextlib.suppress(OSError):
            if extra:
                self.wfile.write(b"\0" * extra)
            if fault == "nolength":
                for _ in range(4096):
                    self.wfile.write(b"\0" * 65536)
        self.close_connection = True


@contextlib.contextmanager
def serve_folder(folder: Path) -> Iterator[BundleServer]:
    server = BundleServer(folder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.release.set()
        server.shutdown()
        server.server_close()
        thread.join(10)


# Mosquitto -------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Broker:
    """A Mosquitto broker on a loopback port, with persistence on disk."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        folder.mkdir(parents=True, exist_ok=True)
        self.config = folder / "mosquitto.conf"
        self.config.write_text(
            f"listener {self.port} 127.0.0.1\n"
            "allow_anonymous true\n"
            "persistence true\n"
            f"persistence_location {folder}/\n"
            "autosave_interval 1\n"
            "max_queued_messages 100000\n"
            "log_dest stderr\n"
            # Started as root, mosquitto switches to the `mosquitto` user, which
            # cannot write the persistence file into a test's folder. The option
            # has no effect for other users.
            "user root\n"
        )

    def start(self) -> None:
        if shutil.which(MOSQUITTO) is None:
            raise RuntimeError(f"{MOSQUITTO} not installed")
        self.process = subprocess.Popen(
            [MOSQUITTO, "-c", str(self.config)],
            stdout=subprocess.DEVNULL,
            stderr=(self.folder / "broker.log").open("ab"),
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5),
            ):
                return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"mosquitto did not listen on port {self.port}")

    def stop(self) -> None:
        if self.process is None:
            return
        # SIGTERM makes mosquitto write its persistence file before exiting.
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
        self.process = None


@contextlib.contextmanager
def running_broker(folder: Path) -> Iterator[Broker]:
    broker = Broker(folder)
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


# Samples ---------------------------------------------------------------------


def random_samples(labels: list[str], n: int, source: str, seed: int):
    """Static single-hand samples; each label gets its own hand shape plus noise."""
    from gestured.dataset.schema import Samples

    rng = np.random.default_rng(seed)
    names = [labels[i % len(labels)] for i in range(n)]
    shapes = {
        label: np.random.default_rng(abs(hash(label)) % 2**32).uniform(
            0.3, 0.7, (21, 3)
        )
        for label in set(labels)
    }
    points = np.stack([shapes[name] for name in names])
    points = points + rng.normal(0, 0.01, points.shape)
    return Samples.build(
        "static_single",
        points.astype(np.float32),
        names,
        source,
        image_size=(640, 480),
    )


class PahoLink:
    """A device's link for tests: a paho client that prefixes the device topic."""

    def __init__(self, device_id: str, port: int) -> None:
        import paho.mqtt.client as mqtt

        self.device_id = device_id
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=f"dev-{device_id}"
        )
        self.client.reconnect_delay_set(0.1, 1)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def publish(self, subtopic: str, payload: bytes, qos: int):
        return self.client.publish(
            f"gestured/{self.device_id}/{subtopic}", payload, qos
        )

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
