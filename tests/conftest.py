"""Shared fixtures: a real Mosquitto broker on a free loopback port."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

MOSQUITTO_CANDIDATES = ("/usr/sbin/mosquitto", "/usr/bin/mosquitto")
BROKER_START_TIMEOUT = 10.0


def find_mosquitto() -> str | None:
    for candidate in MOSQUITTO_CANDIDATES:
        if os.access(candidate, os.X_OK):
            return candidate
    return shutil.which("mosquitto")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Broker:
    """A Mosquitto process on 127.0.0.1 with a generated config file.

    `extra` contains more listener settings (TLS files, password file); the
    broker keeps its port across stop() and start(), so clients can reconnect.
    """

    def __init__(self, folder: Path, *, extra: str = "", persistence: bool = False):
        binary = find_mosquitto()
        if binary is None:
            pytest.skip("mosquitto is not installed (apt-get install mosquitto)")
        self.binary = binary
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.host = "127.0.0.1"
        self.port = free_port()
        self.log_path = folder / "mosquitto.log"
        self.config_path = folder / "mosquitto.conf"
        lines = [
            f"listener {self.port} {self.host}",
            "allow_anonymous true" if "allow_anonymous" not in extra else "",
            extra,
            f"log_dest file {self.log_path}",
            "log_type all",
            f"persistence {'true' if persistence else 'false'}",
            f"persistence_location {folder}/",
        ]
        if os.geteuid() == 0:
            # As root, mosquitto switches to the user "mosquitto", which cannot
            # read the test's private tmp folder with its certificates.
            lines.append("user root")
        self.config_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        if self.process is not None:
            raise RuntimeError("broker already running")
        self.process = subprocess.Popen(
            [self.binary, "-c", str(self.config_path)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + BROKER_START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                error = (
                    self.process.stderr.read().decode() if self.process.stderr else ""
                )
                self.process = None
                raise RuntimeError(f"mosquitto exited at start: {error}{self.log()}")
            try:
                with socket.create_connection((self.host, self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"mosquitto did not listen within {BROKER_START_TIMEOUT} s")

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        if process.stderr is not None:
            process.stderr.close()

    def restart(self) -> None:
        self.stop()
        self.start()

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""


@pytest.fixture
def broker_factory(tmp_path: Path) -> Iterator[Callable[..., Broker]]:
    """Make brokers that are not started yet; all are stopped at teardown."""
    made: list[Broker] = []

    def make(*, extra: str = "", persistence: bool = False) -> Broker:
        broker = Broker(
            tmp_path / f"broker{len(made)}", extra=extra, persistence=persistence
        )
        made.append(broker)
        return broker

    yield make
    for broker in made:
        broker.stop()


@pytest.fixture
def mosquitto(broker_factory: Callable[..., Broker]) -> Broker:
    """A running anonymous broker on a free loopback port."""
    broker = broker_factory()
    broker.start()
    return broker
