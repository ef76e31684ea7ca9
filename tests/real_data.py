"""Locate the real recordings that tests read; skip when they are absent."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def data_root() -> Path:
    """Return the recordings folder (env GESTURED_DATA overrides), or skip."""
    override = os.environ.get("GESTURED_DATA")
    root = Path(override) if override else REPO.parent / "shared" / "data"
    if not (root / "kinivi").is_dir() or not (root / "handsdataset").is_dir():
        pytest.skip(f"real recordings not found at {root}; set GESTURED_DATA")
    return root


def run_cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run `python -m gestured ARGS` in a child process with a bounded wait."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO / "daemon")
    return subprocess.run(
        [sys.executable, "-m", "gestured", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=REPO,
    )
