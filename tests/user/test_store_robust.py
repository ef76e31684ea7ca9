"""Stray files, corrupt shards, bad journals and racing jobs in a user store."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from gestured.dataset.shards import write_shard
from gestured.ota.collect import share_pending
from gestured.runtime.user_gestures import JobWorker, _request_id
from gestured.user.background import Background
from gestured.user.bundle import export_bundle, import_bundle
from gestured.user.handler import CommandHandler
from gestured.user.store import JOURNAL_NAME, UserStore
from test_store import keypoint_samples

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def store_and_background(tmp_path, kinivi_background):
    background = Background.build(
        "static_single", kinivi_background.features, kinivi_background.labels
    )
    store = UserStore(tmp_path / "state")
    store.add_shard(keypoint_samples(background, "OK", "okay"))
    store.add_shard(keypoint_samples(background, "Pointer", "point"))
    return store, background


def run_cli(state: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gestured", "user", "--state-dir", str(state), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO / "daemon")},
    )


def test_stray_npz_ignored_by_delete(store_and_background, tmp_path):
    store, background = store_and_background
    write_shard(
        store.samples_dir,
        keypoint_samples(background, "OK", "okay", 5),
        "backup.npz",
    )
    assert store.delete_label("okay") == {"static_single": 40}
    assert not (store.samples_dir / JOURNAL_NAME).exists()
    assert (store.samples_dir / "backup.npz").exists()
    result = run_cli(tmp_path / "state", "list")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"static_single": {"point": 40}}


def test_bad_journal_never_blocks_start(store_and_background, tmp_path):
    store, _ = store_and_background
    journal = store.samples_dir / JOURNAL_NAME
    for content in ("{not json", json.dumps({"label": "okay", "shards": ["x.npz"]})):
        journal.write_text(content)
        reopened = UserStore(tmp_path / "state")
        assert not journal.exists()
        assert reopened.labels()["static_single"]["point"] == 40
    journal.write_text(json.dumps({"label": "okay", "shards": 3}))
    result = run_cli(tmp_path / "state", "list")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert (store.samples_dir / f"{JOURNAL_NAME}.invalid").exists()


def test_corrupt_shard_named_in_list(store_and_background, kinivi_background):
    store, background = store_and_background
    (store.samples_dir / "static_single-20250101T000000-bad.npz").write_bytes(b"PK")
    replies = []
    handler = CommandHandler(
        store,
        lambda *reply: replies.append(reply),
        background_for=lambda family: background,
        on_model=lambda family, model: None,
    )
    handler.handle("list", b'{"request_id": "l1"}')
    assert len(replies) == 1
    assert replies[0][:2] == ("l1", True)
    assert "static_single-20250101T000000-bad.npz" in replies[0][2]
    assert replies[0][3]["labels"] == {"static_single": {"okay": 40, "point": 40}}
    handler.handle("delete", b'{"label": "okay", "request_id": "d1"}')
    assert len(replies) == 2
    assert replies[1][:2] == ("d1", True)
    assert store.labels() == {"static_single": {"point": 40}}


def test_store_error_gets_one_reply(store_and_background, caplog):
    store, background = store_and_background
    (store.samples_dir / JOURNAL_NAME).write_text("{not json")
    replies = []
    handler = CommandHandler(
        store,
        lambda *reply: replies.append(reply),
        background_for=lambda family: background,
        on_model=lambda family, model: None,
    )
    handler.handle("list", b'{"request_id": "l2"}')
    assert len(replies) == 1
    assert replies[0][:2] == ("l2", False)
    assert "invalid delete journal" in replies[0][2]
    assert "list command (request l2) failed" in caplog.text


def test_deep_json_rejected_once(store_and_background):
    store, background = store_and_background
    payload = b"[" * 4000
    assert _request_id(payload) is None
    replies = []
    handler = CommandHandler(
        store,
        lambda *reply: replies.append(reply),
        background_for=lambda family: background,
        on_model=lambda family, model: None,
    )
    handler.handle("list", payload)
    assert len(replies) == 1
    assert replies[0][1] is False
    assert "nested too deeply" in replies[0][2]


def test_delete_waits_for_running_job(store_and_background):
    store, background = store_and_background
    worker = JobWorker()
    replies = []
    handler = CommandHandler(
        store,
        lambda *reply: replies.append(reply),
        background_for=lambda family: background,
        on_model=lambda family, model: None,
        run_exclusive=worker.submit,
    )
    started, release = threading.Event(), threading.Event()

    def training() -> None:
        started.set()
        release.wait(10)

    try:
        worker.submit(training)
        assert started.wait(10)
        handler.handle("delete", b'{"label": "okay", "request_id": "d2"}')
        assert replies == []
        assert "okay" in store.labels()["static_single"]
        release.set()
        worker.submit(lambda: None)
    finally:
        release.set()
        worker.stop(10)
    assert replies[0][:2] == ("d2", True)
    assert store.labels() == {"static_single": {"point": 40}}


def test_imported_shards_not_shared(store_and_background, tmp_path):
    store, _ = store_and_background
    bundle = tmp_path / "bundle.npz"
    export_bundle(store, bundle)
    other = UserStore(tmp_path / "other")
    imported = import_bundle(other, bundle)
    assert len(imported) == 1

    class Link:
        sent: list[bytes] = []

        def publish(self, subtopic, payload, qos):
            raise AssertionError("an imported shard was published")

    assert share_pending(Link(), other.samples_dir, timeout=1) == 0
    assert other.delete_label("okay") == {"static_single": 40}
    assert share_pending(Link(), other.samples_dir, timeout=1) == 0
