"""Bounded HTTP downloads with urllib: timeouts, byte caps and http(s) only."""

from __future__ import annotations

import hashlib
import io
import logging
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

logger = logging.getLogger(__name__)

CHUNK_BYTES = 64 * 1024
ALLOWED_SCHEMES = ("http", "https")


class FetchError(Exception):
    """A download that failed; the message names the URL and the reason."""


class NotModified(Exception):  # noqa: N818 (a signal, not a failure)
    """The server answered 304: the resource is unchanged since the given ETag."""


def check_url(url: str) -> str:
    """Return `url` if it is an http(s) URL with a host, else raise ValueError."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ALLOWED_SCHEMES or not parts.netloc:
        raise ValueError(f"update URL must be http(s)://host/..., got {url!r}")
    return url


class _RedirectHandler(urllib.request.HTTPRedirectHandler):
    # urllib would also follow a redirect to ftp://.
    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]
        check_url(newurl)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


_OPENER = urllib.request.build_opener(_RedirectHandler())


@dataclass
class Timeouts:
    """Seconds for connecting and for each read, and a cap on one whole download."""

    connect: float = 10.0
    read: float = 30.0
    total: float = 600.0


@dataclass
class Response:
    body: bytes
    etag: str | None


def _open(url: str, timeouts: Timeouts, headers: dict[str, str]) -> Any:
    check_url(url)
    request = urllib.request.Request(url, headers=headers)
    try:
        # urllib has one timeout for connect and each read: open with the
        # connect timeout, then set the read timeout on the socket.
        response = _OPENER.open(request, timeout=timeouts.connect)
    except urllib.error.HTTPError as exc:
        if exc.code == 304:
            exc.close()
            raise NotModified(url) from None
        exc.close()
        raise FetchError(f"{url}: HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        raise FetchError(f"{url}: {exc.reason}") from None
    except (TimeoutError, OSError) as exc:
        raise FetchError(f"{url}: {exc or type(exc).__name__}") from None
    _set_read_timeout(response, timeouts.read)
    return response


def _set_read_timeout(response: Any, seconds: float) -> None:
    raw = getattr(getattr(response, "fp", None), "raw", None)
    sock = getattr(raw, "_sock", None)
    if sock is not None:
        sock.settimeout(seconds)


class _Sink(Protocol):
    def write(self, data: bytes, /) -> int: ...


def _stream(
    url: str, response: Any, sink: _Sink, limit: int, timeouts: Timeouts
) -> int:
    """Copy the body to `sink`, cutting it past `limit` bytes or the total timeout."""
    declared = response.headers.get("Content-Length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise FetchError(f"{url}: Content-Length {declared} exceeds {limit} bytes")
    deadline = time.monotonic() + timeouts.total
    received = 0
    try:
        while True:
            chunk = response.read(min(CHUNK_BYTES, limit + 1 - received))
            if not chunk:
                break
            received += len(chunk)
            if received > limit:
                raise FetchError(f"{url}: body exceeds {limit} bytes, cut off")
            sink.write(chunk)
            if time.monotonic() > deadline:
                raise FetchError(f"{url}: download took over {timeouts.total:g} s")
    except (TimeoutError, OSError) as exc:
        raise FetchError(f"{url}: read failed ({exc or 'timed out'})") from None
    except Exception as exc:  # http.client.IncompleteRead and kin
        if isinstance(exc, FetchError):
            raise
        raise FetchError(f"{url}: read failed ({type(exc).__name__}: {exc})") from None
    finally:
        response.close()
    return received


def get_bytes(
    url: str, limit: int, timeouts: Timeouts, etag: str | None = None
) -> Response:
    """GET a small resource into memory; with `etag`, raise NotModified on 304."""
    headers = {"If-None-Match": etag} if etag else {}
    response = _open(url, timeouts, headers)
    etag_out = response.headers.get("ETag")

    buffer = io.BytesIO()
    _stream(url, response, buffer, limit, timeouts)
    return Response(buffer.getvalue(), etag_out)


class _HashingFile:
    """A file writer that hashes what passes through it."""

    def __init__(self, path: Path) -> None:
        self.handle = path.open("wb")
        self.digest = hashlib.sha256()

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        return self.handle.write(data)

    def close(self) -> None:
        self.handle.close()


def download(url: str, path: Path, size: int, sha256: str, timeouts: Timeouts) -> None:
    """Download exactly `size` bytes with the given sha256 into `path`."""
    response = _open(url, timeouts, {})
    sink = _HashingFile(Path(path))
    try:
        received = _stream(url, response, sink, size, timeouts)
    finally:
        sink.close()
    digest = sink.digest
    if received != size:
        raise FetchError(f"{url}: got {received} of {size} bytes (truncated)")
    if digest.hexdigest() != sha256:
        raise FetchError(f"{url}: sha256 {digest.hexdigest()} differs from manifest")
