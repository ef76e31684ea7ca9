"""systemd service notifications: READY, WATCHDOG, STATUS, RELOADING, STOPPING.

Uses `systemd.daemon.notify` from systemd-python when it is installed, else
sends the same datagram itself, which needs nothing but the standard library.
Without $NOTIFY_SOCKET (not started by systemd with Type=notify) every call
does nothing.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable

logger = logging.getLogger(__name__)

MAX_STATUS_LENGTH = 200


def _systemd_sender() -> Callable[[str], bool] | None:
    try:
        from systemd import daemon
    except ImportError:
        return None
    return daemon.notify


class Notifier:
    """Sends state changes of the service to the systemd service manager."""

    def __init__(self, *, use_systemd_python: bool = True) -> None:
        self._address = os.environ.get("NOTIFY_SOCKET", "")
        self._send: Callable[[str], bool] | None = None
        self._socket: socket.socket | None = None
        if not self._address:
            logger.debug("NOTIFY_SOCKET is not set, systemd notifications are off")
            return
        self._send = _systemd_sender() if use_systemd_python else None
        if self._send is not None:
            logger.debug("systemd notifications through systemd-python")
        else:
            logger.debug("systemd notifications through a datagram socket")

    @property
    def enabled(self) -> bool:
        return bool(self._address)

    def notify(self, message: str) -> bool:
        """Send one notification such as "READY=1"; return whether it was sent."""
        if not self._address:
            return False
        try:
            if self._send is not None:
                return bool(self._send(message))
            return self._send_datagram(message.encode("utf-8"))
        except OSError as exc:
            logger.warning("systemd notification %r failed: %s", message, exc)
            return False

    def _send_datagram(self, data: bytes) -> bool:
        address = self._address
        # A leading "@" names a socket in the abstract namespace (NUL byte).
        target = "\0" + address[1:] if address.startswith("@") else address
        if self._socket is None:
            self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._socket.sendto(data, target)
        return True

    def ready(self, status: str | None = None) -> bool:
        message = "READY=1"
        if status:
            message += "\nSTATUS=" + _clean(status)
        return self.notify(message)

    def status(self, text: str) -> bool:
        return self.notify("STATUS=" + _clean(text))

    def watchdog(self) -> bool:
        return self.notify("WATCHDOG=1")

    def reloading(self) -> bool:
        # MONOTONIC_USEC lets systemd 253+ match the reload to this message.
        usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        return self.notify(f"RELOADING=1\nMONOTONIC_USEC={usec}")

    def stopping(self) -> bool:
        return self.notify("STOPPING=1")

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None


def _clean(text: str) -> str:
    """Keep a status to one bounded line, as systemd shows it in one line."""
    return " ".join(text.split())[:MAX_STATUS_LENGTH]


def watchdog_interval() -> float | None:
    """Return seconds between watchdog pings (half of $WATCHDOG_USEC), or None.

    None when the watchdog is off, or when $WATCHDOG_PID names another process,
    as systemd sets it for the main process only.
    """
    raw = os.environ.get("WATCHDOG_USEC", "")
    if not raw:
        return None
    pid = os.environ.get("WATCHDOG_PID", "")
    if pid and pid != str(os.getpid()):
        return None
    try:
        usec = int(raw)
    except ValueError:
        logger.warning("ignoring invalid WATCHDOG_USEC %r", raw)
        return None
    if usec <= 0:
        return None
    return usec / 2_000_000
