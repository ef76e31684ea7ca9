"""Starting `gestured run` as a real process for end-to-end tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from real_data import REPO


def models_dir() -> Path:
    """Return the committed base models, or those named by $GESTURED_MODELS."""
    return Path(os.environ.get("GESTURED_MODELS", REPO / "models"))


def start_daemon(
    source: Path | str,
    state_dir: Path,
    *args: str,
    port: int | None = None,
    env: dict[str, str] | None = None,
    models: Path | None = None,
) -> subprocess.Popen[str]:
    command = [
        sys.executable,
        "-m",
        "gestured",
        "run",
        "--source",
        str(source),
        "--state-dir",
        str(state_dir),
        "--models-dir",
        str(models or models_dir()),
        "--device-id",
        "e2e",
        *args,
    ]
    if port is None:
        command.append("--no-mqtt")
    else:
        command += ["--set", "mqtt.host=127.0.0.1", "--set", f"mqtt.port={port}"]
    environment = {**os.environ, "PYTHONPATH": str(REPO / "daemon"), **(env or {})}
    return subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment,
        cwd=REPO,
    )
