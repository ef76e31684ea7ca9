"""MqttLink against a real Mosquitto: status, will, events, fallback, commands."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import Broker, free_port
from gestured.errors import ConfigError
from gestured.runtime.config import MqttConfig
from gestured.runtime.events import GestureEvent
from gestured.runtime.mqtt import MAX_INBOUND_BYTES, MqttLink
from mqtt_helpers import Observer, wait_until
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

REPO = Path(__file__).resolve().parents[1]
DEVICE = "dev1"


def make_config(broker: Broker, **changes: object) -> MqttConfig:
    values: dict[str, object] = {
        "host": broker.host,
        "port": broker.port,
        "keepalive": 5,
        "reconnect_min_delay": 1,
        "reconnect_max_delay": 2,
    }
    values.update(changes)
    return MqttConfig(**values)  # type: ignore[arg-type]


def sample_event(gesture: str = "fist", frame: int | None = 12) -> GestureEvent:
    return GestureEvent(
        gesture=gesture,
        confidence=0.93,
        source="base",
        family="static_single",
        hands=1,
        handedness=("right",),
        timestamp=1_764_800_000.5,
        frame=frame,
    )


@pytest.fixture
def links() -> Iterator[Callable[..., MqttLink]]:
    made: list[MqttLink] = []

    def make(config: MqttConfig, **kwargs: object) -> MqttLink:
        link = MqttLink(config, DEVICE, **kwargs)  # type: ignore[arg-type]
        made.append(link)
        return link

    yield make
    for link in made:
        link.stop(timeout=2)


@pytest.fixture
def observers() -> Iterator[Callable[..., Observer]]:
    made: list[Observer] = []

    def make(broker: Broker, **kwargs: object) -> Observer:
        observer = Observer(broker.host, broker.port, **kwargs)  # type: ignore[arg-type]
        made.append(observer)
        return observer

    yield make
    for observer in made:
        observer.close()


def test_status_online_retained_and_offline_on_stop(
    mosquitto: Broker,
    links: Callable[..., MqttLink],
    observers: Callable[..., Observer],
) -> None:
    link = links(make_config(mosquitto))
    link.start()
    assert link.wait_connected(10)
    # A client that subscribes later still gets "online": it is retained.
    observer = observers(mosquitto)
    observer.subscribe(f"gestured/{DEVICE}/status")
    first = observer.wait_for(lambda m: m.topic == link.status_topic)
    assert first.payload == b"online"
    assert first.retain
    link.stop()
    offline = observer.wait_for(lambda m: m.payload == b"offline")
    assert offline.topic == f"gestured/{DEVICE}/status"
    late = observers(mosquitto)
    late.subscribe(link.status_topic)
    assert late.wait_for(lambda m: True).payload == b"offline"


WILL_SCRIPT = """
import sys, time
from gestured.runtime.config import MqttConfig
from gestured.runtime.mqtt import MqttLink
link = MqttLink(MqttConfig(host="127.0.0.1", port=int(sys.argv[1])), "willdev")
link.start()
if not link.wait_connected(10):
    sys.exit(3)
time.sleep(60)  # the test kills this process long before
"""


def test_last_will_offline_when_killed(
    mosquitto: Broker, observers: Callable[..., Observer]
) -> None:
    observer = observers(mosquitto)
    observer.subscribe("gestured/willdev/status")
    env = dict(os.environ, PYTHONPATH=str(REPO / "daemon"))
    process = subprocess.Popen(
        [sys.executable, "-c", WILL_SCRIPT, str(mosquitto.port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        observer.wait_for(lambda m: m.payload == b"online", timeout=30)
        mark = observer.mark()
        process.kill()
        process.wait(timeout=10)
        will = observer.wait_for(lambda m: m.payload == b"offline", start=mark)
        assert will.topic == "gestured/willdev/status"
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
    late = observers(mosquitto)
    late.subscribe("gestured/willdev/status")
    retained = late.wait_for(lambda m: True)
    assert retained.payload == b"offline"
    assert retained.retain


def test_gesture_event_payload(
    mosquitto: Broker,
    links: Callable[..., MqttLink],
    observers: Callable[..., Observer],
) -> None:
    observer = observers(mosquitto)
    observer.subscribe(f"gestured/{DEVICE}/#")
    out = io.StringIO()
    link = links(make_config(mosquitto), stdout=out)
    link.start()
    assert link.wait_connected(10)
    assert link.publish_gesture(sample_event()) is True
    message = observer.wait_for(lambda m: m.topic == f"gestured/{DEVICE}/gesture")
    payload = json.loads(message.payload)
    assert payload == {
        "gesture": "fist",
        "confidence": 0.93,
        "source": "base",
        "family": "static_single",
        "hands": 1,
        "handedness": ["right"],
        "timestamp": 1_764_800_000.5,
        "frame": 12,
    }
    assert message.properties.ContentType == "application/json"
    trigger = observer.wait_for(lambda m: m.topic == f"gestured/{DEVICE}/trigger")
    assert trigger.payload == b"fist"
    # A plain dict is accepted too, and a camera event has no frame number.
    as_dict = sample_event("five", frame=None).to_dict()
    assert link.publish_gesture(as_dict) is True
    second = observer.wait_for(lambda m: b'"five"' in m.payload)
    assert json.loads(second.payload)["frame"] is None
    assert out.getvalue() == ""


def test_event_validation() -> None:
    with pytest.raises(ValueError, match="gesture name"):
        GestureEvent("no spaces", 0.5, "base", "static_single", 1)
    with pytest.raises(ValueError, match="confidence"):
        GestureEvent("fist", 1.5, "base", "static_single", 1)
    with pytest.raises(ValueError, match="source"):
        GestureEvent("fist", 0.5, "cloud", "static_single", 1)
    with pytest.raises(ValueError, match="family"):
        GestureEvent("fist", 0.5, "base", "static_triple", 1)
    with pytest.raises(ValueError, match="handedness"):
        GestureEvent("fist", 0.5, "base", "static_single", 1, ("middle",))


def test_stdout_fallback_until_broker_starts(
    broker_factory: Callable[..., Broker],
    links: Callable[..., MqttLink],
    observers: Callable[..., Observer],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("INFO", logger="gestured.runtime.mqtt")
    broker = broker_factory()  # not started: nothing listens on its port
    out = io.StringIO()
    link = links(make_config(broker), stdout=out)
    link.start()  # must return at once although no broker is up
    wait_until(lambda: "cannot reach MQTT broker" in caplog.text)
    assert f"127.0.0.1:{broker.port}" in caplog.text
    assert link.publish_gesture(sample_event("one")) is False
    assert link.publish_gesture(sample_event("two")) is False
    lines = out.getvalue().splitlines()
    assert [json.loads(line)["gesture"] for line in lines] == ["one", "two"]

    broker.start()
    assert link.wait_connected(15)
    observer = observers(broker)
    observer.subscribe(link.gesture_topic)
    assert link.publish_gesture(sample_event("three")) is True
    message = observer.wait_for(lambda m: m.topic == link.gesture_topic)
    assert json.loads(message.payload)["gesture"] == "three"
    assert len(out.getvalue().splitlines()) == 2


def test_broker_restart_mid_run(
    broker_factory: Callable[..., Broker],
    links: Callable[..., MqttLink],
    observers: Callable[..., Observer],
) -> None:
    broker = broker_factory()
    broker.start()
    out = io.StringIO()
    link = links(make_config(broker), stdout=out)
    link.publish_retained("model", '{"version": "1"}')  # before connecting
    link.start()
    assert link.wait_connected(10)
    assert link.publish_gesture(sample_event("one")) is True

    broker.stop()
    wait_until(lambda: not link.connected)
    assert link.publish_gesture(sample_event("two")) is False
    assert json.loads(out.getvalue())["gesture"] == "two"

    # The broker keeps no retained messages across this restart
    # (persistence off), so status and model must come back from the link.
    broker.start()
    assert link.wait_connected(15)
    observer = observers(broker)
    observer.subscribe(f"gestured/{DEVICE}/#")
    status = observer.wait_for(lambda m: m.topic == link.status_topic)
    assert status.payload == b"online"
    model = observer.wait_for(lambda m: m.topic == f"gestured/{DEVICE}/model")
    assert json.loads(model.payload) == {"version": "1"}
    assert link.publish_gesture(sample_event("three")) is True
    event = observer.wait_for(lambda m: m.topic == link.gesture_topic)
    assert json.loads(event.payload)["gesture"] == "three"


def test_command_round_trip_mqtt5(
    mosquitto: Broker,
    links: Callable[..., MqttLink],
    observers: Callable[..., Observer],
) -> None:
    link = links(make_config(mosquitto))
    seen: list[tuple[str, bytes]] = []

    def handle(name: str, payload: bytes, properties: Properties | None) -> None:
        seen.append((name, payload))
        request = json.loads(payload)
        link.reply(request["request_id"], True, "pong", {"n": 1}, properties)

    link.on_command(handle)
    link.start()
    assert link.wait_connected(10)
    observer = observers(mosquitto)
    observer.subscribe("test/responses")
    observer.subscribe(link.reply_topic)
    wait_until(lambda: link.connected)
    request = Properties(PacketTypes.PUBLISH)
    request.ResponseTopic = "test/responses"
    request.CorrelationData = b"corr-42"
    observer.publish(
        f"gestured/{DEVICE}/cmd/ping", '{"request_id": "r1"}', properties=request
    )
    response = observer.wait_for(lambda m: m.topic == "test/responses")
    assert response.properties.CorrelationData == b"corr-42"
    body = json.loads(response.payload)
    assert body == {"request_id": "r1", "ok": True, "message": "pong", "data": {"n": 1}}
    on_reply = observer.wait_for(lambda m: m.topic == link.reply_topic)
    assert json.loads(on_reply.payload) == body
    assert seen == [("ping", b'{"request_id": "r1"}')]


def test_oversize_and_bad_commands_dropped(
    mosquitto: Broker,
    links: Callable[..., MqttLink],
    observers: Callable[..., Observer],
    caplog: pytest.LogCaptureFixture,
) -> None:
    link = links(make_config(mosquitto))
    seen: list[str] = []
    link.on_command(lambda name, payload, props: seen.append(name))
    link.start()
    assert link.wait_connected(10)
    observer = observers(mosquitto)
    base = f"gestured/{DEVICE}/cmd"
    observer.publish(f"{base}/big", b"x" * (MAX_INBOUND_BYTES + 1))
    observer.publish(f"{base}/bad$name", b"{}")
    observer.publish(f"{base}/small", b"x" * MAX_INBOUND_BYTES)
    # Mosquitto keeps the order of one client's messages, so once "small"
    # arrives the two before it have been handled.
    wait_until(lambda: "small" in seen)
    assert seen == ["small"]
    assert f"dropped {MAX_INBOUND_BYTES + 1}-byte message on {base}/big" in caplog.text
    assert "invalid name" in caplog.text


def test_mqtt311_commands_reply_on_reply_topic(
    mosquitto: Broker,
    links: Callable[..., MqttLink],
    observers: Callable[..., Observer],
) -> None:
    link = links(make_config(mosquitto, protocol="3.1.1"))
    props_seen: list[object] = []

    def handle(name: str, payload: bytes, properties: Properties | None) -> None:
        props_seen.append(properties)
        link.reply("r2", False, "unknown command", None, properties)

    link.on_command(handle)
    link.start()
    assert link.wait_connected(10)
    observer = observers(mosquitto)
    observer.subscribe(link.reply_topic)
    observer.subscribe(link.status_topic)
    assert (
        observer.wait_for(lambda m: m.topic == link.status_topic).payload == b"online"
    )
    observer.publish(f"gestured/{DEVICE}/cmd/nope", b"{}")
    reply = observer.wait_for(lambda m: m.topic == link.reply_topic)
    assert json.loads(reply.payload)["ok"] is False
    assert props_seen == [None]


def test_disabled_link_uses_stdout() -> None:
    out = io.StringIO()
    link = MqttLink(MqttConfig(enabled=False), DEVICE, stdout=out)
    link.start()
    assert link.publish_gesture(sample_event()) is False
    assert json.loads(out.getvalue())["gesture"] == "fist"
    link.stop()


def test_missing_password_file(tmp_path: Path) -> None:
    config = MqttConfig(username="u", password_file=tmp_path / "absent")
    link = MqttLink(config, DEVICE)
    with pytest.raises(ConfigError, match="mqtt.password_file"):
        link.start()


def test_retained_commands_are_ignored(
    mosquitto: Broker,
    links: Callable[..., MqttLink],
    observers: Callable[..., Observer],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A retained command would otherwise run again on every (re)connect.
    observer = observers(mosquitto)
    base = f"gestured/{DEVICE}/cmd"
    observer.publish(f"{base}/delete", b'{"label": "rock"}', retain=True)
    observer.publish(f"{base}/update", b"{}", retain=True)
    link = links(make_config(mosquitto))
    seen: list[str] = []
    link.on_command(lambda name, payload, props: seen.append(name))
    caplog.set_level("DEBUG", logger="gestured.runtime.mqtt")
    link.start()
    assert link.wait_connected(10)

    def retained_logged() -> int:
        return sum("retained command" in r.getMessage() for r in caplog.records)

    # Both retained commands arriving proves the subscription is active, so
    # the live command below cannot be published before it.
    wait_until(lambda: retained_logged() == 2)
    observer.publish(f"{base}/ping", b"{}")
    wait_until(lambda: "ping" in seen)
    # A live command published with the retain flag still runs once: the
    # broker clears the flag for subscribers that are already connected.
    observer.publish(f"{base}/live", b"{}", retain=True)
    wait_until(lambda: "live" in seen)
    assert seen == ["ping", "live"]
    warnings = [r for r in caplog.records if "retained command" in r.getMessage()]
    assert [r.levelname for r in warnings] == ["WARNING", "DEBUG"]
    assert "cmd/delete" in caplog.text and "cmd/update" in caplog.text
    for name in ("delete", "update", "live"):
        observer.publish(f"{base}/{name}", b"", retain=True)


def test_duplicate_client_id_is_named(
    mosquitto: Broker,
    links: Callable[..., MqttLink],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("WARNING", logger="gestured.runtime.mqtt")
    first = links(make_config(mosquitto))
    second = links(make_config(mosquitto))
    first.start()
    assert first.wait_connected(10)
    second.start()

    def hinted() -> bool:
        return "another client using this client id" in caplog.text

    wait_until(hinted, timeout=60)
    assert f"gestured-{DEVICE}" in caplog.text


def test_connect_failure_names_next_delay(
    links: Callable[..., MqttLink], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("WARNING", logger="gestured.runtime.mqtt")
    closed = MqttConfig(
        host="127.0.0.1",
        port=free_port(),
        reconnect_min_delay=1,
        reconnect_max_delay=4,
    )
    link = links(closed)
    link.start()
    wait_until(lambda: "attempt 2" in caplog.text, timeout=30)
    assert "(attempt 1), next attempt in about 1 s" in caplog.text
    assert "(attempt 2), next attempt in about 2 s" in caplog.text
