"""systemd notifications sent to a real datagram socket that the test reads."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from gestured.runtime.notify import Notifier, watchdog_interval

MODES = [True, False]  # systemd-python, then the plain datagram sender


def _has_systemd_python() -> bool:
    try:
        from systemd import daemon  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.fixture
def listener(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[socket.socket]:
    path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(5)
    monkeypatch.setenv("NOTIFY_SOCKET", str(path))
    yield sock
    sock.close()


def _receive(sock: socket.socket) -> str:
    return sock.recv(4096).decode("utf-8")


@pytest.mark.parametrize("use_systemd_python", MODES)
def test_notifier_sends_states(
    listener: socket.socket, use_systemd_python: bool
) -> None:
    if use_systemd_python and not _has_systemd_python():
        pytest.skip("systemd-python is not installed")
    notifier = Notifier(use_systemd_python=use_systemd_python)
    assert notifier.enabled
    assert notifier.ready("loading\nmodels")
    assert _receive(listener) == "READY=1\nSTATUS=loading models"
    assert notifier.watchdog()
    assert _receive(listener) == "WATCHDOG=1"
    assert notifier.status("3 gestures")
    assert _receive(listener) == "STATUS=3 gestures"
    assert notifier.reloading()
    reloading = _receive(listener)
    assert reloading.startswith("RELOADING=1\nMONOTONIC_USEC=")
    assert int(reloading.rsplit("=", 1)[1]) > 0
    assert notifier.stopping()
    assert _receive(listener) == "STOPPING=1"
    notifier.close()


def test_notifier_abstract_socket(monkeypatch: pytest.MonkeyPatch) -> None:
    name = f"gestured-test-{os.getpid()}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        sock.bind("\0" + name)
        sock.settimeout(5)
        monkeypatch.setenv("NOTIFY_SOCKET", "@" + name)
        notifier = Notifier(use_systemd_python=False)
        assert notifier.watchdog()
        assert _receive(sock) == "WATCHDOG=1"
        notifier.close()
    finally:
        sock.close()


def test_notifier_without_socket(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    caplog.set_level("DEBUG", logger="gestured.runtime.notify")
    notifier = Notifier()
    assert not notifier.enabled
    assert notifier.ready() is False
    assert "NOTIFY_SOCKET is not set" in caplog.text


def test_notifier_logs_sender(
    listener: socket.socket, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG", logger="gestured.runtime.notify")
    Notifier(use_systemd_python=False).close()
    assert "datagram socket" in caplog.text


def test_notifier_missing_socket_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "absent.sock"))
    notifier = Notifier(use_systemd_python=False)
    assert notifier.watchdog() is False
    assert "failed" in caplog.text
    notifier.close()


def test_watchdog_interval(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    monkeypatch.delenv("WATCHDOG_USEC", raising=False)
    assert watchdog_interval() is None
    monkeypatch.setenv("WATCHDOG_USEC", "30000000")
    assert watchdog_interval() == 15.0
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    assert watchdog_interval() == 15.0
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid() + 1))
    assert watchdog_interval() is None
    monkeypatch.delenv("WATCHDOG_PID")
    monkeypatch.setenv("WATCHDOG_USEC", "soon")
    assert watchdog_interval() is None
    monkeypatch.setenv("WATCHDOG_USEC", "0")
    assert watchdog_interval() is None
