"""The systemd unit passes `systemd-analyze verify` and keeps its key settings."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

UNIT = Path(__file__).resolve().parents[1] / "deploy" / "gestured.service"


def _verify(text: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """Run systemd-analyze verify on `text` with ExecStart pointed at Python.

    verify rejects a unit whose ExecStart binary is missing. The venv path
    /opt/gestured/.venv/bin/gestured exists only on an installed device, so
    the copy runs this test's Python instead. Every other line is unchanged.
    """
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed")
    copy = tmp_path / "gestured.service"
    rewritten, count = re.subn(
        r"^ExecStart=\S+", f"ExecStart={sys.executable}", text, flags=re.MULTILINE
    )
    assert count == 1
    copy.write_text(rewritten, encoding="utf-8")
    return subprocess.run(
        ["systemd-analyze", "verify", str(copy)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_unit_verifies_clean(tmp_path: Path) -> None:
    result = _verify(UNIT.read_text(encoding="utf-8"), tmp_path)
    assert result.returncode == 0, result.stderr
    # verify only warns, with exit code 0, about unknown keys and bad values.
    assert result.stderr.strip() == ""
    assert result.stdout.strip() == ""


def test_verify_catches_typo(tmp_path: Path) -> None:
    broken = UNIT.read_text(encoding="utf-8").replace("Type=notify", "Tpye=notify")
    result = _verify(broken, tmp_path)
    assert "Unknown key" in result.stderr


def test_unit_settings() -> None:
    lines = set(UNIT.read_text(encoding="utf-8").splitlines())
    for expected in (
        "Type=notify",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "Restart=on-failure",
        "DynamicUser=yes",
        "StateDirectory=gestured",
        "SupplementaryGroups=video",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "DeviceAllow=char-video4linux rw",
    ):
        assert expected in lines, expected
    assert any(line.startswith("WatchdogSec=") for line in lines)
    assert (
        "ExecStart=/opt/gestured/.venv/bin/gestured run "
        "--config /etc/gestured/gestured.toml"
    ) in lines
    # PrivateDevices=yes would hide the cameras.
    assert "PrivateDevices=yes" not in lines
