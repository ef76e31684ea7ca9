"""Shared test helpers: data location, free ports, waiting."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def data_root() -> Path:
    """Return the real-data folder, or skip the test with the reason."""
    root = Path(
        os.environ.get("GESTURED_DATA", REPO.parent / "shared" / "data")
    ).resolve()
    if not (root / "handsdataset").is_dir():
        pytest.skip(f"real recordings not found at {root} (set GESTURED_DATA)")
    return root


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(
    condition: Callable[[], object], timeout: float, what: str, step: float = 0.05
) -> None:
    """Poll `condition` until it is true; fail the test naming `what` on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(step)
    pytest.fail(f"timed out after {timeout} s waiting for {what}")
