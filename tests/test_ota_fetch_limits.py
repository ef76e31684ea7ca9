"""Download limits against real misbehaving HTTP servers on 127.0.0.1."""

from __future__ import annotations

import contextlib
import http.server
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from gestured.ota.fetch import FetchError, Timeouts, get_bytes

HEADERS = b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n"


class SlowServer:
    """Accepts connections and sends `prefix`, then one byte each `interval` s."""

    def __init__(self, prefix: bytes, interval: float) -> None:
        self.prefix = prefix
        self.interval = interval
        self.stop = threading.Event()
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.threads: list[threading.Thread] = []
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/manifest.json"

    def serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            thread = threading.Thread(target=self._trickle, args=(conn,))
            thread.start()
            self.threads.append(thread)

    def _trickle(self, conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError):
            conn.recv(4096)
            conn.sendall(self.prefix)
            while not self.stop.wait(self.interval):
                conn.sendall(b"x")


@contextlib.contextmanager
def slow_server(prefix: bytes, interval: float) -> Iterator[SlowServer]:
    server = SlowServer(prefix, interval)
    thread = threading.Thread(target=server.serve)
    thread.start()
    try:
        yield server
    finally:
        server.stop.set()
        thread.join(5)
        for worker in server.threads:
            worker.join(5)
        server.sock.close()


TIMEOUTS = Timeouts(connect=2, read=3, total=5)


def timed_fetch(
    url: str, limit: int, timeouts: Timeouts
) -> tuple[float, BaseException]:
    """Run get_bytes on a thread; fail instead of hanging when it overruns."""
    outcome: list[BaseException] = []

    def fetch() -> None:
        try:
            get_bytes(url, limit, timeouts)
        except BaseException as exc:
            outcome.append(exc)

    started = time.monotonic()
    thread = threading.Thread(target=fetch, daemon=True)
    thread.start()
    thread.join(timeouts.total + 10)
    elapsed = time.monotonic() - started
    # Returning closes the server's connections, which ends the thread.
    assert not thread.is_alive(), f"download still running after {elapsed:.1f} s"
    assert len(outcome) == 1
    return elapsed, outcome[0]


@pytest.mark.parametrize(
    ("prefix", "where"),
    [(HEADERS, "body"), (b"HTTP/1.1 200 OK\r\nX-Slow: ", "headers")],
)
def test_slow_server_held_to_total_time(prefix: bytes, where: str) -> None:
    # One byte per second never trips the 3 s read timeout; only the total
    # time of 5 s can end the download, in the body or in the headers.
    with slow_server(prefix, 1.0) as server:
        elapsed, error = timed_fetch(server.url, 1 << 20, TIMEOUTS)
    assert isinstance(error, FetchError) and "5 s" in str(error), error
    assert 4.5 < elapsed < 6.5, (where, elapsed)


def test_headers_wait_uses_read_timeout() -> None:
    # No headers at all: the read timeout (3 s) ends the wait, not the
    # connect timeout (1 s).
    with slow_server(b"", 60.0) as server:
        elapsed, error = timed_fetch(server.url, 1024, Timeouts(1, 3, 20))
    assert isinstance(error, FetchError) and "timed out" in str(error), error
    assert 2.5 < elapsed < 4.5, elapsed


class _Redirect(http.server.BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass

    def do_GET(self) -> None:  # noqa: N802
        self.send_response(302)
        self.send_header("Location", "ftp://127.0.0.1/manifest.json")
        self.send_header("Content-Length", "0")
        self.end_headers()


def test_redirect_to_ftp_is_a_clean_fetch_error() -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Redirect)
    thread = threading.Thread(target=server.serve_forever)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/manifest.json"
        with pytest.raises(FetchError, match="rejected redirect to 'ftp://127"):
            get_bytes(url, 1024, TIMEOUTS)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_normal_download_still_works(tmp_path: Path) -> None:
    body = bytes(range(256)) * 1000

    class Handler(_Redirect):
        def do_GET(self) -> None:  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/x"
        assert get_bytes(url, len(body), TIMEOUTS).body == body
        with pytest.raises(FetchError, match="exceeds"):
            get_bytes(url, len(body) - 1, TIMEOUTS)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
