"""`gestured user` on a real state folder, as an administrator runs it."""

from __future__ import annotations

import json
import signal
import socket
from pathlib import Path

import numpy as np
from daemon_process import start_daemon
from gestured.dataset.schema import Samples
from gestured.user.store import UserStore
from real_data import REPO, data_root, run_cli


def teach(state: Path, label: str, rows: slice) -> None:
    keypoints = np.loadtxt(
        data_root() / "kinivi" / "keypoint.csv", delimiter=",", dtype=np.float32
    )[rows, 1:]
    samples = Samples.build(
        "static_single", keypoints.reshape(-1, 21, 2), [label] * len(keypoints), "cli"
    )
    UserStore(state).add_shard(samples)


def test_list_missing_state_dir_changes_nothing(tmp_path):
    state = tmp_path / "absent"
    result = run_cli("user", "list", "--state-dir", str(state))
    assert result.returncode == 1
    assert "state folder" in result.stderr
    assert "Traceback" not in result.stderr
    assert not state.exists()


def test_list_accepts_options_on_either_side(tmp_path):
    teach(tmp_path, "palm", slice(0, 30))
    before = run_cli("user", "--state-dir", str(tmp_path), "list")
    after = run_cli("user", "list", "--state-dir", str(tmp_path))
    assert before.returncode == 0, before.stderr
    assert after.returncode == 0, after.stderr
    assert json.loads(before.stdout) == {"static_single": {"palm": 30}}
    assert json.loads(after.stdout) == json.loads(before.stdout)


def test_delete_without_base_model_keeps_samples(tmp_path):
    teach(tmp_path, "palm", slice(0, 30))
    result = run_cli(
        "user",
        "delete",
        "palm",
        "--state-dir",
        str(tmp_path),
        "--models-dir",
        str(tmp_path / "no-models"),
    )
    assert result.returncode == 1
    assert "manifest" in result.stderr
    assert UserStore(tmp_path).labels() == {"static_single": {"palm": 30}}


def test_delete_refits_without_label(tmp_path):
    teach(tmp_path, "palm", slice(0, 30))
    teach(tmp_path, "point", slice(3300, 3330))
    models = str(REPO / "models")
    refit = run_cli(
        "user", "refit", "--state-dir", str(tmp_path), "--models-dir", models
    )
    assert refit.returncode == 0, refit.stderr
    assert "static_single: palm, point" in refit.stdout
    result = run_cli(
        "user", "delete", "palm", "--state-dir", str(tmp_path), "--models-dir", models
    )
    assert result.returncode == 0, result.stderr
    assert "static_single: point" in result.stdout
    assert UserStore(tmp_path).labels() == {"static_single": {"point": 30}}
    assert UserStore(tmp_path).load_model("static_single").labels == ["point"]


def test_config_file_names_the_folders(tmp_path):
    state = tmp_path / "state"
    teach(state, "palm", slice(0, 30))
    config = tmp_path / "gestured.toml"
    config.write_text(f'state_dir = "{state}"\nmodels_dir = "{REPO / "models"}"\n')
    result = run_cli("user", "--config", str(config), "refit")
    assert result.returncode == 0, result.stderr
    assert "static_single: palm" in result.stdout


def test_running_daemon_loads_cli_changes_on_sighup(tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    notify = tmp_path / "notify.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(notify))
        sock.settimeout(60)
        daemon = start_daemon(
            data_root() / "handsdataset" / "videos" / "counting-b.mp4",
            state,
            "--realtime",
            env={"NOTIFY_SOCKET": str(notify)},
        )
        try:
            while b"READY=1" not in sock.recv(4096):
                pass
            teach(state, "palm", slice(0, 30))
            refit = run_cli(
                "user",
                "refit",
                "--state-dir",
                str(state),
                "--models-dir",
                str(REPO / "models"),
            )
            assert refit.returncode == 0, refit.stderr
            daemon.send_signal(signal.SIGHUP)
            while b"RELOADING=1" not in sock.recv(4096):
                pass
            while b"READY=1" not in sock.recv(4096):
                pass
            daemon.send_signal(signal.SIGTERM)
            out, err = daemon.communicate(timeout=60)
        finally:
            daemon.kill()
    assert daemon.returncode == 0, err[-2000:]
    assert "User model for static_single now recognizes ['palm']" in err
