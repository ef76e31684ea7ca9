"""cmd/update in the daemon's MQTT link: repeated commands share one check.

Real parts: Mosquitto on a loopback port, the daemon's MqttLink and job
worker, and an HTTP server on 127.0.0.1 that never answers.
"""

from __future__ import annotations

import json
from pathlib import Path

from conftest import Broker
from gestured.ota import keys
from gestured.ota.fetch import Timeouts
from gestured.runtime.config import load_config
from gestured.runtime.mqtt import MqttLink
from gestured.runtime.updates import ModelUpdates
from gestured.runtime.user_gestures import JobWorker
from mqtt_helpers import Observer, Received
from ota_fixtures import serve_folder

COMMANDS = 6


def reply_to(observer: Observer, topic: str, request_id: str) -> dict:
    def match(message: Received) -> bool:
        return (
            message.topic == topic
            and json.loads(message.payload)["request_id"] == request_id
        )

    return json.loads(observer.wait_for(match, 20).payload)


def test_update_commands_coalesce(mosquitto: Broker, tmp_path: Path) -> None:
    ids = [f"u{n}" for n in range(COMMANDS)]
    _, public = keys.generate_keypair(tmp_path / "keys")
    www = tmp_path / "www"
    www.mkdir()
    with serve_folder(www) as server:
        server.faults["manifest.json"] = "hang"
        config = load_config(
            None,
            {
                "state_dir": str(tmp_path / "state"),
                "update.url": server.url,
                "update.public_key": str(public),
                "mqtt.host": mosquitto.host,
                "mqtt.port": str(mosquitto.port),
                "device_id": "dev1",
            },
        )
        link = MqttLink(config.mqtt, "dev1")
        worker = JobWorker()
        observer = None
        try:
            updates = ModelUpdates(config, link)
            updates.updater.timeouts = Timeouts(connect=1, read=1.5, total=3)
            updates._submit = worker.submit  # attach() without a running daemon
            link.on_command(
                lambda name, payload, props: updates.handle_command(payload, props)
            )
            link.start()
            assert link.wait_connected(10)
            observer = Observer(mosquitto.host, mosquitto.port)
            observer.subscribe(link.reply_topic)
            for n in ids:
                observer.publish(
                    f"{link.base_topic}/cmd/update", json.dumps({"request_id": n})
                )
            replies = {n: reply_to(observer, link.reply_topic, n) for n in ids}
            manifest_requests = server.requests["manifest.json"]
        finally:
            if observer is not None:
                observer.close()
            link.stop(timeout=2)
            worker.stop(timeout=10)
    # The first command runs its check; the rest arrive while it is queued
    # or running and are answered at once instead of queueing more checks.
    assert manifest_requests == 1
    assert replies["u0"]["data"]["status"] == "failed"
    for n in ids[1:]:
        reply = replies[n]
        assert reply["ok"] is False
        assert reply["data"]["status"] == "busy"
        assert "already queued or running" in reply["message"]
