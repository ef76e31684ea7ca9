"""Bounded HTTP downloads with urllib: timeouts, byte caps and http(s) only."""

from __future__ import annotations

import hashlib
import http.client
import io
import logging
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from gestured.ota.deadline import Deadline, deadline_handlers

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
        try:
            check_url(newurl)
        except ValueError:
            fp.close()
            raise FetchError(
                f"{req.full_url}: rejected redirect to {newurl!r}, not http(s)"
            ) from None
        return super().redirect_request(req, fp, code, msg, headers, newurl)


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


def _open(url: str, timeouts: Timeouts, headers: dict[str, str]) -> Opened:
    check_url(url)
    request = urllib.request.Request(url, headers=headers)
    deadline = Deadline(timeouts.total, timeouts.read)
    opener = urllib.request.build_opener(_RedirectHandler, *deadline_handlers(deadline))
    deadline.start()
    try:
        # The connect timeout bounds connecting; the connections switch to
        # the read timeout for the headers, and the deadline bounds it all.
        response = opener.open(request, timeout=timeouts.connect)
    except urllib.error.HTTPError as exc:
        deadline.cancel()
        exc.close()
        if exc.code == 304:
            raise NotModified(url) from None
        raise FetchError(f"{url}: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        deadline.cancel()
        if deadline.expired:
            raise FetchError(f"{url}: no answer within {timeouts.total:g} s") from None
        reason = getattr(exc, "reason", None) or exc or type(exc).__name__
        raise FetchError(f"{url}: {reason}") from None
    except BaseException:
        deadline.cancel()
        raise
    return Opened(response, deadline)


@dataclass
class Opened:
    response: Any
    deadline: Deadline


def _set_read_timeout(response: Any, seconds: float) -> None:
    raw = getattr(getattr(response, "fp", None), "raw", None)
    sock = getattr(raw, "_sock", None)
    if sock is not None:
        sock.settimeout(max(seconds, 0.001))


class _Sink(Protocol):
    def write(self, data: bytes, /) -> int: ...


def _stream(
    url: str, opened: Opened, sink: _Sink, limit: int, timeouts: Timeouts
) -> int:
    """Copy the body to `sink`, cutting it past `limit` bytes or the total timeout."""
    response, deadline = opened.response, opened.deadline
    received = 0
    try:
        declared = response.headers.get("Content-Length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise FetchError(f"{url}: Content-Length {declared} exceeds {limit} bytes")
        while True:
            remaining = deadline.remaining()
            if remaining <= 0:
                raise FetchError(f"{url}: download took over {timeouts.total:g} s")
            # read1 returns whatever one receive brings, so a slow server
            # cannot hold a read past the deadline while a chunk fills up.
            _set_read_timeout(response, min(timeouts.read, remaining))
            chunk = response.read1(min(CHUNK_BYTES, limit + 1 - received))
            if not chunk:
                break
            received += len(chunk)
            if received > limit:
                raise FetchError(f"{url}: body exceeds {limit} bytes, cut off")
            sink.write(chunk)
    except FetchError:
        raise
    except Exception as exc:  # timeouts, http.client.IncompleteRead and kin
        if deadline.expired or deadline.remaining() <= 0:
            raise FetchError(
                f"{url}: download took over {timeouts.total:g} s"
            ) from None
        detail = str(exc) or type(exc).__name__
        raise FetchError(f"{url}: read failed ({detail})") from None
    finally:
        deadline.cancel()
        response.close()
    if deadline.expired:
        # The deadline shut the socket, which reads as a clean end of body.
        raise FetchError(f"{url}: download took over {timeouts.total:g} s")
    return received


def get_bytes(
    url: str, limit: int, timeouts: Timeouts, etag: str | None = None
) -> Response:
    """GET a small resource into memory; with `etag`, raise NotModified on 304."""
    headers = {"If-None-Match": etag} if etag else {}
    opened = _open(url, timeouts, headers)
    etag_out = opened.response.headers.get("ETag")

    buffer = io.BytesIO()
    _stream(url, opened, buffer, limit, timeouts)
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
    opened = _open(url, timeouts, {})
    try:
        sink = _HashingFile(Path(path))
    except BaseException:
        opened.deadline.cancel()
        opened.response.close()
        raise
    try:
        received = _stream(url, opened, sink, size, timeouts)
    finally:
        sink.close()
    digest = sink.digest
    if received != size:
        raise FetchError(f"{url}: got {received} of {size} bytes (truncated)")
    if digest.hexdigest() != sha256:
        raise FetchError(f"{url}: sha256 {digest.hexdigest()} differs from manifest")
