"""A hard time limit on one HTTP exchange, enforced on its sockets.

Socket timeouts bound each receive, not a whole response: a server that
sends one byte just inside the read timeout keeps `urlopen` or a read busy
for as long as it likes, in the headers as well as in the body. A Deadline
shuts every socket the exchange opened down when the time is up, which
wakes any receive blocked on them.
"""

from __future__ import annotations

import contextlib
import functools
import http.client
import socket
import threading
import time
import urllib.request
from typing import Any


class Deadline:
    """Shuts down the registered sockets `seconds` after `start()`."""

    def __init__(self, seconds: float, read_timeout: float) -> None:
        self.seconds = seconds
        self.read_timeout = read_timeout
        self.expired = False
        self._end = time.monotonic() + seconds
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def start(self) -> None:
        self._timer.start()

    def cancel(self) -> None:
        self._timer.cancel()

    def remaining(self) -> float:
        return self._end - time.monotonic()

    def add(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.append(sock)
            expired = self.expired
        if expired:
            _shut(sock)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            sockets = list(self._sockets)
        for sock in sockets:
            _shut(sock)


def _shut(sock: socket.socket) -> None:
    # A socket already closed by its owner raises OSError; nothing to wake.
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


class _Connection(http.client.HTTPConnection):
    def __init__(self, *args: Any, deadline: Deadline, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline = deadline

    def connect(self) -> None:
        super().connect()
        # urllib waits for the headers with the connect timeout; waiting
        # for them is reading, so it gets the read timeout.
        self.sock.settimeout(self._deadline.read_timeout)
        self._deadline.add(self.sock)


class _TLSConnection(http.client.HTTPSConnection):
    def __init__(self, *args: Any, deadline: Deadline, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline = deadline

    def connect(self) -> None:
        super().connect()
        self.sock.settimeout(self._deadline.read_timeout)
        self._deadline.add(self.sock)


class _HTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, deadline: Deadline) -> None:
        super().__init__()
        self._deadline = deadline

    def http_open(self, req: urllib.request.Request) -> Any:
        return self.do_open(
            functools.partial(_Connection, deadline=self._deadline), req
        )


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, deadline: Deadline) -> None:
        super().__init__()
        self._deadline = deadline

    def https_open(self, req: urllib.request.Request) -> Any:
        return self.do_open(
            functools.partial(_TLSConnection, deadline=self._deadline), req
        )


def deadline_handlers(deadline: Deadline) -> list[urllib.request.BaseHandler]:
    """Handlers for `build_opener` whose connections obey `deadline`."""
    return [_HTTPHandler(deadline), _HTTPSHandler(deadline)]
