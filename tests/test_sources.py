"""Frame sources on real video files and a real MJPEG stream served by ffmpeg."""

from __future__ import annotations

import csv
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from gestured.errors import GesturedError
from gestured.runtime.sources import FrameSource, source_kind
from helpers import free_port, wait_until
from real_data import data_root


def video(name: str) -> Path:
    return data_root() / "handsdataset" / "videos" / name


def frame_count(name: str) -> int:
    with video(name.replace(".mp4", ".csv")).open() as handle:
        return sum(1 for _ in csv.DictReader(handle))


def drain(source: FrameSource, timeout: float = 60.0) -> list[int]:
    indices = []
    deadline = time.monotonic() + timeout
    while not source.finished and time.monotonic() < deadline:
        frame = source.read(timeout=1.0)
        if frame is not None:
            indices.append(frame.index)
    return indices


def test_source_kind_detection():
    assert source_kind("0") == "camera"
    assert source_kind("/dev/video2") == "camera"
    assert source_kind("rtsp://127.0.0.1:8554/x") == "stream"
    assert source_kind("http://127.0.0.1:8080/x.mjpg") == "stream"
    assert source_kind("clip.mp4") == "file"


def test_file_source_delivers_every_frame():
    source = FrameSource(str(video("counting-c.mp4")))
    source.open()
    try:
        indices = drain(source)
    finally:
        source.close()
    assert indices == list(range(frame_count("counting-c.mp4")))
    assert source.frames_dropped == 0


def test_file_timestamps_follow_frame_rate():
    source = FrameSource(str(video("counting-c.mp4")))
    source.open()
    try:
        first = source.read(timeout=5)
        second = source.read(timeout=5)
    finally:
        source.close()
    assert first is not None and second is not None
    assert second.timestamp - first.timestamp == pytest.approx(0.1, abs=1e-6)


def test_realtime_file_drops_frames_for_slow_consumer():
    source = FrameSource(str(video("counting-c.mp4")), realtime=True)
    source.open()
    received = 0
    try:
        while not source.finished:
            if source.read(timeout=1.0) is not None:
                received += 1
                time.sleep(0.35)  # a consumer slower than the file's 10 fps
    finally:
        source.close()
    assert source.frames_dropped > 0
    assert received < frame_count("counting-c.mp4")


def test_missing_file_is_clear_error(tmp_path):
    with pytest.raises(GesturedError, match="not found"):
        FrameSource(str(tmp_path / "nope.mp4"))


def test_unreadable_file_is_clear_error(tmp_path):
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video at all" * 100)
    source = FrameSource(str(broken))
    with pytest.raises(GesturedError, match="cannot open"):
        source.open()


def _ffmpeg_loop(path: Path, *output: str) -> subprocess.Popen[bytes]:
    """Play `path` in a loop at its own rate into the ffmpeg `output` arguments."""
    command = ["ffmpeg", "-nostdin", "-loglevel", "error", "-re"]
    command += ["-stream_loop", "-1", "-i", str(path), *output]
    return subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def _serve_mjpeg(path: Path, port: int) -> subprocess.Popen[bytes]:
    url = f"http://127.0.0.1:{port}/cam.mjpg"
    return _ffmpeg_loop(path, "-f", "mpjpeg", "-listen", "1", url)


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg not installed")
def test_stream_reopens_after_server_restart(caplog):
    port = free_port()
    clip = video("counting-c.mp4")
    server = _serve_mjpeg(clip, port)
    source = FrameSource(
        f"http://127.0.0.1:{port}/cam.mjpg",
        reopen_initial_delay=0.2,
        reopen_max_delay=1.0,
    )
    frames: list[int] = []
    try:
        time.sleep(0.5)  # ffmpeg needs a moment before it listens
        source.open()
        wait_until(lambda: source.read(0.5) is not None, 20, "first stream frame")
        server.kill()
        server.wait(timeout=10)
        wait_until(lambda: source.reopen_count >= 1, 20, "a reopen attempt")
        server = _serve_mjpeg(clip, port)

        def got_frame() -> bool:
            frame = source.read(0.5)
            if frame is not None:
                frames.append(frame.index)
            return bool(frame)

        wait_until(got_frame, 30, "frames after the server came back")
    finally:
        source.close()
        server.kill()
        server.wait(timeout=10)
    assert frames
    assert source.reopen_count >= 1
    assert any("Reopening stream source" in r.getMessage() for r in caplog.records)


class RtspRelay:
    """rtsp-server-perl on loopback, fed by ffmpeg publishing a looped video."""

    def __init__(self, clip: Path) -> None:
        self.clip = clip
        self.client_port = free_port()
        self.source_port = free_port()
        self.rtp_port = free_port()
        self.processes: list[subprocess.Popen[bytes]] = []

    @property
    def url(self) -> str:
        return f"rtsp://127.0.0.1:{self.client_port}/cam"

    def start(self) -> None:
        server = subprocess.Popen(
            [
                "rtsp-server-perl",
                "--clientport",
                str(self.client_port),
                "--serverport",
                str(self.source_port),
                "--client_listen_address",
                "127.0.0.1",
                "--source_listen_address",
                "127.0.0.1",
                "--rtp_start_port",
                str(self.rtp_port),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.processes.append(server)
        time.sleep(1.0)  # the relay needs a moment before it listens
        publisher = _ffmpeg_loop(
            self.clip,
            "-c:v",
            "copy",
            "-f",
            "rtsp",
            f"rtsp://127.0.0.1:{self.source_port}/cam",
        )
        self.processes.append(publisher)

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.kill()
            process.wait(timeout=10)
        self.processes.clear()


@pytest.mark.skipif(
    shutil.which("ffmpeg") is None or shutil.which("rtsp-server-perl") is None,
    reason="ffmpeg or rtsp-server-perl not installed",
)
def test_rtsp_source_reopens_after_relay_restart(caplog):
    relay = RtspRelay(video("counting-c.mp4"))
    relay.start()
    source = FrameSource(relay.url, reopen_initial_delay=0.2, reopen_max_delay=1.0)
    frames: list[int] = []

    def got_frame() -> bool:
        frame = source.read(0.5)
        if frame is not None:
            frames.append(frame.index)
        return bool(frame)

    try:
        time.sleep(1.0)
        source.open()
        wait_until(got_frame, 30, "first RTSP frame")
        relay.stop()
        wait_until(lambda: source.reopen_count >= 1, 30, "a reopen attempt")
        before = len(frames)
        relay.start()
        wait_until(got_frame, 60, "RTSP frames after the relay came back")
    finally:
        source.close()
        relay.stop()
    assert len(frames) > before
    assert any("Reopening stream source" in r.getMessage() for r in caplog.records)


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg not installed")
def test_huge_stream_frames_are_downscaled(tmp_path, caplog):
    # A stream picks its own frame size; a camera's width/height do not apply.
    picture = tmp_path / "huge.jpg"
    subprocess.run(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi"]
        + ["-i", "testsrc2=size=4000x3000", "-frames:v", "1", str(picture)],
        check=True,
        timeout=60,
    )
    port = free_port()
    server = subprocess.Popen(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-re", "-loop", "1"]
        + ["-framerate", "4", "-i", str(picture), "-c:v", "copy", "-f", "mpjpeg"]
        + ["-listen", "1", f"http://127.0.0.1:{port}/cam.mjpg"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    source = FrameSource(f"http://127.0.0.1:{port}/cam.mjpg", max_side=800)
    shapes: list[tuple[int, ...]] = []

    def got_frames() -> bool:
        frame = source.read(0.5)
        if frame is not None:
            shapes.append(frame.image.shape)
        return len(shapes) >= 3

    try:
        time.sleep(0.5)  # ffmpeg needs a moment before it listens
        source.open()
        wait_until(got_frames, 40, "three stream frames")
    finally:
        source.close()
        server.kill()
        server.wait(timeout=10)
    assert set(shapes) == {(600, 800, 3)}
    lines = [r.getMessage() for r in caplog.records if "downscaling" in r.getMessage()]
    assert lines == [
        f"Frames of http://127.0.0.1:{port}/cam.mjpg are 4000x3000, "
        "downscaling to 800x600 (source.max_side 800)"
    ]
