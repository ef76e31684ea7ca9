"""The updater against a real HTTP server on 127.0.0.1 and real TFLite models."""

from __future__ import annotations

import json
import logging
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from gestured.base_model import BaseModel, sha256_file
from gestured.errors import GesturedError
from gestured.ota import keys
from gestured.ota.bundle import publish_bundle
from gestured.ota.fetch import Timeouts
from gestured.ota.store import ModelStore
from gestured.ota.updater import (
    FAILED,
    INSTALLED,
    NOT_MODIFIED,
    ROLLED_BACK,
    UP_TO_DATE,
    Updater,
)
from ota_fixtures import (
    make_model_set,
    running_broker,
    serve_folder,
    tiny_tflite,
)


@pytest.fixture(scope="session")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("models")
    return {
        name: make_model_set(root / name, tiny_tflite(seed), name)
        for name, seed in (("v0", 1), ("v1", 2), ("other", 3))
    }


@pytest.fixture(scope="session")
def keypair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    private, public = keys.generate_keypair(tmp_path_factory.mktemp("keys"))
    return private, public.read_text().strip()


class Device:
    """A device's update side: a store, the served model and its reports."""

    def __init__(self, state: Path, url: str, public_key: str, seed: Path, **kw):
        self.store = ModelStore(state)
        self.store.adopt(seed, kw.pop("start_version", 0))
        self.model = BaseModel.load(self.store.current_folder() / "static_single")
        self.reports: list[dict] = []
        self.swaps: list[Path] = []
        kw.setdefault("timeouts", Timeouts(connect=1, read=1, total=5))
        self.updater = Updater(
            self.store,
            url,
            public_key,
            report=kw.pop("report", lambda p: self.reports.append(json.loads(p))),
            on_swapped=self._swapped,
            **kw,
        )

    def _swapped(self, folder: Path) -> None:
        self.swaps.append(folder)
        self.model = BaseModel.load(folder / "static_single")


@pytest.fixture
def www(tmp_path: Path) -> Path:
    return tmp_path / "www"


def _device(tmp_path, server, keypair, models, **kw) -> Device:
    return Device(tmp_path / "state", server.url, keypair[1], models["v0"], **kw)


def _assert_refused(device: Device, result, caplog, reason: str) -> None:
    assert result.status == FAILED
    assert reason in result.reason
    assert device.store.current_version() == 0
    assert device.model.version == "v0"
    assert device.swaps == []
    lines = [r.getMessage() for r in caplog.records if "failed:" in r.getMessage()]
    assert any(reason in line for line in lines), lines


def test_good_update_installed_and_reported(tmp_path, www, keypair, models):
    publish_bundle(models["v1"], keypair[0], www, 1)
    with running_broker(tmp_path / "broker") as broker, serve_folder(www) as server:
        link = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="dev1")
        link.connect("127.0.0.1", broker.port)
        link.loop_start()

        def report(payload: bytes) -> None:
            link.publish("gestured/dev1/model", payload, qos=1, retain=True)

        device = _device(tmp_path, server, keypair, models, report=report)
        result = device.updater.check_now()
        assert result.status == INSTALLED
        assert result.version == 1
        assert device.model.version == "v1"
        assert device.store.previous_version() == 0
        got: list[bytes] = []
        done = threading.Event()
        reader = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="reader")

        def on_message(client, userdata, message) -> None:
            got.append(message.payload)
            done.set()

        reader.on_message = on_message
        reader.on_connect = lambda c, *a: c.subscribe("gestured/dev1/model", qos=1)
        reader.connect("127.0.0.1", broker.port)
        reader.loop_start()
        try:
            assert done.wait(10), "no retained model status"
        finally:
            reader.loop_stop()
            reader.disconnect()
            link.loop_stop()
            link.disconnect()
    status = json.loads(got[0])
    assert status["version"] == 1
    assert status["families"]["static_single"] == "v1"


def test_not_modified_is_cheap(tmp_path, www, keypair, models):
    publish_bundle(models["v1"], keypair[0], www, 1)
    with serve_folder(www) as server:
        device = _device(tmp_path, server, keypair, models)
        assert device.updater.check_now().status == INSTALLED
        before = dict(server.requests)
        result = device.updater.check_now()
        assert result.status == NOT_MODIFIED
        assert server.not_modified == 1
        after = dict(server.requests)
    assert after["manifest.json"] == before["manifest.json"] + 1
    assert after["manifest.sig"] == before["manifest.sig"]


def test_wrong_key_refused(tmp_path, www, keypair, models, caplog):
    publish_bundle(models["v1"], keypair[0], www, 1)
    _, other_public = keys.generate_keypair(tmp_path / "other")
    with serve_folder(www) as server:
        device = Device(
            tmp_path / "state", server.url, other_public.read_text(), models["v0"]
        )
        result = device.updater.check_now()
    _assert_refused(device, result, caplog, "signature is invalid")


def test_edited_manifest_refused(tmp_path, www, keypair, models, caplog):
    publish_bundle(models["v1"], keypair[0], www, 1)
    manifest = www / "manifest.json"
    manifest.write_bytes(
        manifest.read_bytes().replace(b'"version": 1', b'"version": 9')
    )
    with serve_folder(www) as server:
        device = _device(tmp_path, server, keypair, models)
        result = device.updater.check_now()
    _assert_refused(device, result, caplog, "signature is invalid")


def test_bad_signature_bytes_refused(tmp_path, www, keypair, models, caplog):
    publish_bundle(models["v1"], keypair[0], www, 1)
    sig = bytearray((www / "manifest.sig").read_bytes())
    sig[5] ^= 0xFF
    (www / "manifest.sig").write_bytes(bytes(sig))
    with serve_folder(www) as server:
        device = _device(tmp_path, server, keypair, models)
        result = device.updater.check_now()
    _assert_refused(device, result, caplog, "signature is invalid")


def _model_file(www: Path) -> Path:
    return next(www.glob("static_single-*-model.tflite"))


def test_sha256_mismatch_refused(tmp_path, www, keypair, models, caplog):
    publish_bundle(models["v1"], keypair[0], www, 1)
    path = _model_file(www)
    data = bytearray(path.read_bytes())
    data[-10] ^= 0x01
    path.write_bytes(bytes(data))
    with serve_folder(www) as server:
        device = _device(tmp_path, server, keypair, models)
        result = device.updater.check_now()
    _assert_refused(device, result, caplog, "differs from manifest")


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        ("truncate", "download failed"),
        ("oversize", "exceeds"),
        ("nolength", "exceeds"),
        ("404", "HTTP 404"),
        ("500", "HTTP 500"),
    ],
)
def test_model_file_fault_refused(
    tmp_path, www, keypair, models, caplog, fault, reason
):
    publish_bundle(models["v1"], keypair[0], www, 1)
    with serve_folder(www) as server:
        server.faults[_model_file(www).name] = fault
        device = _device(tmp_path, server, keypair, models)
        result = device.updater.check_now()
    _assert_refused(device, result, caplog, reason)
    assert not list(device.store.root.glob(".staging-*"))


@pytest.mark.parametrize(
    ("fault", "reason"),
    [("404", "HTTP 404"), ("500", "HTTP 500"), ("nolength", "exceeds 1048576")],
)
def test_manifest_fault_refused(tmp_path, www, keypair, models, caplog, fault, reason):
    publish_bundle(models["v1"], keypair[0], www, 1)
    with serve_folder(www) as server:
        server.faults["manifest.json"] = fault
        device = _device(tmp_path, server, keypair, models)
        result = device.updater.check_now()
    _assert_refused(device, result, caplog, reason)


def test_server_not_answering_times_out(tmp_path, www, keypair, models, caplog):
    publish_bundle(models["v1"], keypair[0], www, 1)
    with serve_folder(www) as server:
        server.faults["manifest.json"] = "hang"
        device = _device(tmp_path, server, keypair, models)
        started = time.monotonic()
        result = device.updater.check_now()
        elapsed = time.monotonic() - started
    assert elapsed < 5
    _assert_refused(device, result, caplog, "timed out")


def test_file_over_size_limit_not_downloaded(tmp_path, www, keypair, models, caplog):
    publish_bundle(models["v1"], keypair[0], www, 1)
    size = _model_file(www).stat().st_size
    with serve_folder(www) as server:
        device = _device(tmp_path, server, keypair, models, max_bundle_bytes=size - 1)
        result = device.updater.check_now()
        requested = server.requests[_model_file(www).name]
    _assert_refused(device, result, caplog, "exceeds max_bundle_bytes")
    assert requested == 0


def test_bundle_over_size_limit_not_downloaded(tmp_path, www, keypair, models, caplog):
    # Every file fits the limit on its own; together with the manifest they
    # do not, and the limit is for the whole bundle.
    publish_bundle(models["v1"], keypair[0], www, 1)
    files = [
        p for p in www.iterdir() if p.name not in ("manifest.json", "manifest.sig")
    ]
    sizes = [p.stat().st_size for p in files]
    total = sum(sizes) + (www / "manifest.json").stat().st_size
    assert len(files) > 1 and max(sizes) < total - 1
    with serve_folder(www) as server:
        device = _device(tmp_path, server, keypair, models, max_bundle_bytes=total - 1)
        result = device.updater.check_now()
        requested = sum(server.requests[p.name] for p in files)
    _assert_refused(device, result, caplog, "exceeds max_bundle_bytes")
    assert requested == 0


def test_equal_or_older_version_ignored(tmp_path, www, keypair, models, caplog):
    publish_bundle(models["v1"], keypair[0], www, 3)
    caplog.set_level(logging.INFO)
    for start in (3, 5):
        with serve_folder(www) as server:
            device = Device(
                tmp_path / f"state{start}",
                server.url,
                keypair[1],
                models["v0"],
                start_version=start,
            )
            result = device.updater.check_now()
        assert result.status == UP_TO_DATE
        assert device.store.current_version() == start
        assert device.swaps == []


def test_publish_rejects_old_version(tmp_path, www, keypair, models):
    publish_bundle(models["v1"], keypair[0], www, 3)
    for version in (2, 3):
        with pytest.raises(GesturedError, match="not newer"):
            publish_bundle(models["v1"], keypair[0], www, version)


def test_expired_manifest_refused(tmp_path, www, keypair, models, caplog):
    old = time.time() - 90 * 86400
    publish_bundle(models["v1"], keypair[0], www, 1, expires_days=60, now=old)
    with serve_folder(www) as server:
        device = _device(tmp_path, server, keypair, models)
        result = device.updater.check_now()
    _assert_refused(device, result, caplog, "expired")


def test_failing_validation_vectors_refused(tmp_path, www, keypair, models, caplog):
    publish_bundle(models["v1"], keypair[0], www, 1)
    # A correctly signed manifest whose model file computes something else.
    other = models["other"] / "static_single" / "model.tflite"
    manifest = json.loads((www / "manifest.json").read_bytes())
    family = manifest["families"]["static_single"]
    folder_manifest = json.loads(
        (models["v1"] / "static_single" / "manifest.json").read_bytes()
    )
    folder_manifest["files"]["float32"].update(
        size=other.stat().st_size, sha256=sha256_file(other)
    )
    replacements = {
        "manifest.json": www / "evil-manifest.json",
        "model.tflite": www / "evil-model.tflite",
    }
    replacements["manifest.json"].write_bytes(json.dumps(folder_manifest).encode())
    replacements["model.tflite"].write_bytes(other.read_bytes())
    for item in family["files"]:
        path = replacements.get(item["install_as"])
        if path is not None:
            item.update(
                name=path.name, size=path.stat().st_size, sha256=sha256_file(path)
            )
    raw = json.dumps(manifest).encode()
    (www / "manifest.json").write_bytes(raw)
    (www / "manifest.sig").write_bytes(
        keys.sign(keys.load_private_key(keypair[0]), raw)
    )
    with serve_folder(www) as server:
        device = _device(tmp_path, server, keypair, models)
        result = device.updater.check_now()
    _assert_refused(device, result, caplog, "validation vectors give other labels")


def test_unhealthy_update_rolled_back(tmp_path, www, keypair, models, caplog):
    publish_bundle(models["v1"], keypair[0], www, 1)
    with serve_folder(www) as server:
        device = _device(
            tmp_path,
            server,
            keypair,
            models,
            is_healthy=lambda: False,
            health_seconds=1,
        )
        result = device.updater.check_now()
        assert result.status == ROLLED_BACK
        assert device.store.current_version() == 0
        assert device.model.version == "v0"
        assert [r["version"] for r in device.reports] == [1, 0]
        assert any("Rolled back" in r.getMessage() for r in caplog.records)
        device.updater._save_state(etag=None)
        again = device.updater.check_now()
    assert again.status == FAILED
    assert "failed before" in again.reason


def test_healthy_after_delay_kept(tmp_path, www, keypair, models):
    publish_bundle(models["v1"], keypair[0], www, 1)
    started = time.monotonic()
    with serve_folder(www) as server:
        device = _device(
            tmp_path,
            server,
            keypair,
            models,
            is_healthy=lambda: time.monotonic() - started > 0.7,
            health_seconds=10,
        )
        result = device.updater.check_now()
    assert result.status == INSTALLED
    assert device.store.trial_version() is None


def test_crash_during_trial_rolled_back_at_start(tmp_path, www, keypair, models):
    publish_bundle(models["v1"], keypair[0], www, 1)
    with serve_folder(www) as server:
        device = _device(tmp_path, server, keypair, models)
        assert device.updater.check_now().status == INSTALLED
        # As if the daemon died before its health check ended.
        device.store.begin_trial(1)
        restarted = _device(tmp_path, server, keypair, models)
    restarted.updater.recover()
    assert restarted.store.current_version() == 0
    assert restarted.store.trial_version() is None


def test_scheduled_checks_run_and_stop(tmp_path, www, keypair, models):
    publish_bundle(models["v1"], keypair[0], www, 1)
    with serve_folder(www) as server:
        device = _device(
            tmp_path, server, keypair, models, interval_days=0, jitter_hours=0.0002
        )
        device.updater.start()
        deadline = time.monotonic() + 20
        while device.store.current_version() != 1 and time.monotonic() < deadline:
            time.sleep(0.1)
        device.updater.stop()
    assert device.store.current_version() == 1
    assert device.updater._thread is None
