"""Home Assistant device trigger discovery against a real Mosquitto."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from conftest import Broker
from gestured.runtime.config import MqttConfig
from gestured.runtime.discovery import Discovery
from gestured.runtime.mqtt import MqttLink
from mqtt_helpers import Observer

DEVICE = "hall"
ROOT = f"homeassistant/device_automation/{DEVICE}"
SENSOR = f"homeassistant/sensor/{DEVICE}/last_gesture/config"


@pytest.fixture
def link(mosquitto: Broker) -> Iterator[MqttLink]:
    config = MqttConfig(
        host=mosquitto.host,
        port=mosquitto.port,
        reconnect_min_delay=1,
        reconnect_max_delay=2,
    )
    link = MqttLink(config, DEVICE)
    yield link
    link.stop(timeout=2)


@pytest.fixture
def observer(mosquitto: Broker) -> Iterator[Observer]:
    observer = Observer(mosquitto.host, mosquitto.port)
    yield observer
    observer.close()


def retained_configs(mosquitto: Broker, expected: set[str]) -> dict[str, dict]:
    """Return the retained trigger configs that a new subscriber receives."""
    late = Observer(mosquitto.host, mosquitto.port)
    try:
        late.subscribe(f"{ROOT}/+/config")
        for gesture in expected:
            late.wait_for(lambda m, g=gesture: m.topic == f"{ROOT}/{g}/config")
        # Retained messages arrive right after SUBACK; a second subscription's
        # SUBACK ensures that every one of the first has been delivered.
        late.subscribe("sync/none")
        # The daemon may publish a config after this client subscribed, so a
        # live copy counts as well as a retained one; the last one wins.
        configs: dict[str, dict] = {}
        for message in late.messages:
            gesture = message.topic.split("/")[-2]
            if message.payload:
                configs[gesture] = json.loads(message.payload)
            else:
                configs.pop(gesture, None)
        return configs
    finally:
        late.close()


def test_trigger_configs(mosquitto: Broker, link: MqttLink, observer: Observer) -> None:
    discovery = Discovery(link, "homeassistant", sw_version="9.9")
    discovery.start()
    discovery.update_gestures({"fist", "five"})
    link.start()
    assert link.wait_connected(10)
    configs = retained_configs(mosquitto, {"fist", "five"})
    assert set(configs) == {"fist", "five"}
    fist = configs["fist"]
    assert fist["automation_type"] == "trigger"
    assert fist["type"] == "gesture"
    assert fist["subtype"] == "fist"
    assert fist["payload"] == "fist"
    assert fist["topic"] == f"gestured/{DEVICE}/trigger"
    assert fist["device"]["identifiers"] == [f"gestured_{DEVICE}"]
    assert fist["device"]["sw_version"] == "9.9"
    assert fist["device"]["model"] == "gestured"

    observer.subscribe(SENSOR)
    sensor = json.loads(observer.wait_for(lambda m: m.topic == SENSOR).payload)
    assert sensor["availability_topic"] == f"gestured/{DEVICE}/status"
    assert sensor["state_topic"] == f"gestured/{DEVICE}/trigger"
    assert sensor["device"]["identifiers"] == fist["device"]["identifiers"]


def test_resend_on_home_assistant_online(link: MqttLink, observer: Observer) -> None:
    discovery = Discovery(link, "homeassistant")
    discovery.start()
    discovery.update_gestures({"ok"})
    link.start()
    assert link.wait_connected(10)
    observer.subscribe(f"{ROOT}/+/config")
    observer.wait_for(lambda m: m.topic == f"{ROOT}/ok/config")
    mark = observer.mark()
    observer.publish("homeassistant/status", "offline")
    observer.publish("homeassistant/status", "online")
    resent = observer.wait_for(lambda m: m.topic == f"{ROOT}/ok/config", start=mark)
    # A live copy, not the broker's retained one: the daemon sent it again.
    assert not resent.retain
    assert json.loads(resent.payload)["subtype"] == "ok"
    # "offline" alone triggers nothing.
    assert len(observer.on_topic(f"{ROOT}/ok/config", start=mark)) == 1


def test_vanished_gesture_removed(
    mosquitto: Broker, link: MqttLink, observer: Observer
) -> None:
    discovery = Discovery(link, "homeassistant")
    discovery.start()
    link.start()
    assert link.wait_connected(10)
    discovery.update_gestures({"fist", "five", "wave"})
    assert set(retained_configs(mosquitto, {"fist", "five", "wave"})) == {
        "fist",
        "five",
        "wave",
    }
    observer.subscribe(f"{ROOT}/+/config")
    mark = observer.mark()
    discovery.update_gestures({"fist"})
    for gone in ("five", "wave"):
        removal = observer.wait_for(
            lambda m, g=gone: m.topic == f"{ROOT}/{g}/config" and m.payload == b"",
            start=mark,
        )
        assert removal.payload == b""
    assert set(retained_configs(mosquitto, {"fist"})) == {"fist"}


def test_stale_config_from_earlier_run_removed(
    mosquitto: Broker, link: MqttLink, observer: Observer
) -> None:
    old = {"automation_type": "trigger", "type": "gesture", "subtype": "old"}
    observer.publish(f"{ROOT}/old/config", json.dumps(old), retain=True)
    observer.subscribe(f"{ROOT}/old/config")
    observer.wait_for(lambda m: m.retain and m.payload != b"")
    discovery = Discovery(link, "homeassistant")
    discovery.start()
    link.start()
    assert link.wait_connected(10)
    discovery.update_gestures({"fist"})
    observer.wait_for(lambda m: m.payload == b"")
    assert set(retained_configs(mosquitto, {"fist"})) == {"fist"}


def test_invalid_gesture_rejected(link: MqttLink) -> None:
    discovery = Discovery(link, "homeassistant")
    with pytest.raises(ValueError, match="invalid gesture name"):
        discovery.update_gestures({"a/b"})
