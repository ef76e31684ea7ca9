"""Frame sources: cameras, video files and network streams, read on their own thread.

For live sources and for files played with `realtime`, the capture thread
keeps only the newest frame, so a slow recognizer always works on the latest
picture. A plain file is read as fast as the consumer takes frames and loses
none. A live source that fails is reopened with exponential backoff; a file
source ends at its last frame.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gestured.errors import GesturedError

logger = logging.getLogger(__name__)

_URL = re.compile(r"^(rtsp|rtsps|rtmp|http|https|udp|tcp)://", re.IGNORECASE)
# Bounds for OpenCV's FFmpeg backend, so a dead stream raises instead of hanging.
OPEN_TIMEOUT_MS = 5000
READ_TIMEOUT_MS = 5000


@dataclass(frozen=True)
class Frame:
    """One decoded picture.

    image: BGR uint8 (H, W, 3) as OpenCV decodes it.
    index: the frame's number in a file, or a running count for live sources.
    timestamp: seconds on the source's clock: the file position for files,
        Unix time for live sources. Smoothing measures durations with it.
    decode_seconds: time spent reading and decoding this frame.
    """

    image: np.ndarray
    index: int
    timestamp: float
    decode_seconds: float


def source_kind(uri: str) -> str:
    """Return "camera", "stream" or "file" for a source URI."""
    if uri.isdigit() or uri.startswith("/dev/video"):
        return "camera"
    if _URL.match(uri):
        return "stream"
    return "file"


def _open_capture(uri: str, kind: str, settings: dict[str, float]) -> Any:
    import cv2

    if kind == "camera":
        target: Any = int(uri) if uri.isdigit() else uri
        capture = cv2.VideoCapture(target, cv2.CAP_V4L2)
        capture.set(cv2.CAP_PROP_BUFFERSIZE, 1)
        for prop, value in (
            (cv2.CAP_PROP_FRAME_WIDTH, settings.get("width", 0)),
            (cv2.CAP_PROP_FRAME_HEIGHT, settings.get("height", 0)),
            (cv2.CAP_PROP_FPS, settings.get("fps", 0)),
        ):
            if value:
                capture.set(prop, value)
    elif kind == "stream":
        params = [
            cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
            OPEN_TIMEOUT_MS,
            cv2.CAP_PROP_READ_TIMEOUT_MSEC,
            READ_TIMEOUT_MS,
        ]
        capture = cv2.VideoCapture(uri, cv2.CAP_FFMPEG, params)
    else:
        capture = cv2.VideoCapture(uri, cv2.CAP_FFMPEG)
    return capture


class FrameSource:
    """Reads frames from `uri` on a background thread."""

    def __init__(
        self,
        uri: str,
        *,
        realtime: bool = False,
        width: int = 0,
        height: int = 0,
        fps: float = 0.0,
        reopen_initial_delay: float = 0.5,
        reopen_max_delay: float = 30.0,
        max_side: int = 1920,
    ) -> None:
        self.uri = uri
        self.kind = source_kind(uri)
        if self.kind == "file" and not Path(uri).is_file():
            raise GesturedError(f"video file {uri} not found")
        self._lossless = self.kind == "file" and not realtime
        self._realtime = realtime
        self._settings = {"width": width, "height": height, "fps": fps}
        self._initial_delay = reopen_initial_delay
        self._max_delay = reopen_max_delay
        if max_side < 1:
            raise ValueError(f"max_side must be positive, got {max_side}")
        self._max_side = max_side
        self._downscaled = 0
        self._condition = threading.Condition()
        self._latest: Frame | None = None
        self._finished = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.frames_read = 0
        self.frames_dropped = 0
        self.reopen_count = 0
        self.fps = 0.0

    def open(self) -> None:
        """Open the source and start the capture thread.

        A file that cannot be opened raises GesturedError. A live source that
        cannot be opened is retried in the background, so the daemon starts
        while a camera or stream is still down.
        """
        capture = _open_capture(self.uri, self.kind, self._settings)
        if not capture.isOpened():
            capture.release()
            if self.kind == "file":
                raise GesturedError(f"cannot open video file {self.uri}")
            logger.warning("Cannot open %s source %s, retrying", self.kind, self.uri)
            capture = None
        else:
            self._note_opened(capture)
        self._thread = threading.Thread(
            target=self._run, args=(capture,), name="capture", daemon=True
        )
        self._thread.start()

    def _note_opened(self, capture: Any) -> None:
        import cv2

        self.fps = float(capture.get(cv2.CAP_PROP_FPS) or 0.0)
        logger.info("Opened %s source %s (%.1f fps)", self.kind, self.uri, self.fps)

    def read(self, timeout: float = 1.0) -> Frame | None:
        """Return the next frame, or None after `timeout` or at the end of a file."""
        deadline = time.monotonic() + timeout
        with self._condition:
            while self._latest is None and not self._finished:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._condition.wait(remaining)
            frame, self._latest = self._latest, None
            self._condition.notify_all()
            return frame

    @property
    def finished(self) -> bool:
        """True once a file source has delivered its last frame."""
        with self._condition:
            return self._finished and self._latest is None

    def close(self) -> None:
        self._stop.set()
        with self._condition:
            self._condition.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=READ_TIMEOUT_MS / 1000 + 2)

    def _publish(self, frame: Frame) -> None:
        with self._condition:
            if self._lossless:
                while self._latest is not None and not self._stop.is_set():
                    self._condition.wait(0.5)
            elif self._latest is not None:
                self.frames_dropped += 1
            self._latest = frame
            self.frames_read += 1
            self._condition.notify_all()

    def _fit(self, image: np.ndarray) -> np.ndarray:
        """Downscale `image` so its long side is at most max_side.

        A stream or file chooses its own frame size, and hand tracking gains
        nothing from more than about 1080p, while each queued 12000x12000
        frame takes 430 MB.
        NOTE: this runs after OpenCV's FFmpeg decoder has built the full-size
        frame, so one oversized frame is still allocated (plus the decoder's
        own buffers) before it is shrunk; only rejecting such a stream would
        avoid that, and OpenCV offers no size limit on its decoder.
        """
        import cv2

        height, width = image.shape[:2]
        side = max(height, width)
        if side <= self._max_side:
            return image
        scale = self._max_side / side
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        self._downscaled += 1
        if self._downscaled == 1:
            logger.warning(
                "Frames of %s are %dx%d, downscaling to %dx%d (source.max_side %d)",
                self.uri,
                width,
                height,
                size[0],
                size[1],
                self._max_side,
            )
        return cv2.resize(image, size, interpolation=cv2.INTER_AREA)

    def _finish(self) -> None:
        with self._condition:
            self._finished = True
            self._condition.notify_all()

    def _run(self, capture: Any) -> None:
        try:
            if self.kind == "file":
                self._read_file(capture)
            else:
                self._read_live(capture)
        except Exception:
            logger.exception("Capture thread for %s failed", self.uri)
        finally:
            self._finish()

    def _read_file(self, capture: Any) -> None:
        fps = self.fps if self.fps > 0 else 30.0
        index = 0
        started = time.monotonic()
        try:
            while not self._stop.is_set():
                begin = time.perf_counter()
                ok, image = capture.read()
                if ok:
                    image = self._fit(image)
                decode = time.perf_counter() - begin
                if not ok:
                    logger.info("End of video file %s after %d frames", self.uri, index)
                    return
                position = index / fps
                if self._realtime:
                    delay = started + position - time.monotonic()
                    if delay > 0 and self._stop.wait(delay):
                        return
                self._publish(Frame(image, index, position, decode))
                index += 1
        finally:
            capture.release()

    def _read_live(self, capture: Any) -> None:
        delay = self._initial_delay
        index = 0
        while not self._stop.is_set():
            if capture is None:
                if self._stop.wait(delay):
                    return
                self.reopen_count += 1
                logger.warning(
                    "Reopening %s source %s (attempt %d, next wait %.1f s)",
                    self.kind,
                    self.uri,
                    self.reopen_count,
                    min(delay * 2, self._max_delay),
                )
                capture = _open_capture(self.uri, self.kind, self._settings)
                if not capture.isOpened():
                    capture.release()
                    capture = None
                    delay = min(delay * 2, self._max_delay)
                    continue
                self._note_opened(capture)
            begin = time.perf_counter()
            ok, image = capture.read()
            if ok:
                image = self._fit(image)
            decode = time.perf_counter() - begin
            if not ok:
                logger.warning("Lost %s source %s, reopening", self.kind, self.uri)
                capture.release()
                capture = None
                continue
            delay = self._initial_delay
            self._publish(Frame(image, index, time.time(), decode))
            index += 1
        if capture is not None:
            capture.release()
