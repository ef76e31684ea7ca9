"""A test-side MQTT client that records what it receives, with bounded waits."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.properties import Properties

WAIT_TIMEOUT = 10.0


@dataclass
class Received:
    topic: str
    payload: bytes
    retain: bool
    properties: Any


class Observer:
    """Subscribes to topic filters and keeps every message it receives."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        username: str | None = None,
        password: str | None = None,
        tls: Callable[[mqtt.Client], None] | None = None,
    ) -> None:
        self.messages: list[Received] = []
        self._cond = threading.Condition()
        self._connected = threading.Event()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"observer-{uuid.uuid4().hex[:8]}",
            protocol=mqtt.MQTTv5,
        )
        if username:
            self.client.username_pw_set(username, password)
        if tls is not None:
            tls(self.client)
        self.client.on_message = self._on_message
        self.client.on_connect = lambda *args: self._connected.set()
        self.client.connect(host, port, keepalive=30)
        self.client.loop_start()
        if not self._connected.wait(WAIT_TIMEOUT):
            self.close()
            raise TimeoutError("observer could not connect to the broker")

    def _on_message(self, client: Any, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        with self._cond:
            self.messages.append(
                Received(
                    msg.topic,
                    bytes(msg.payload),
                    bool(msg.retain),
                    getattr(msg, "properties", None),
                )
            )
            self._cond.notify_all()

    def subscribe(self, topic_filter: str) -> None:
        done = threading.Event()
        self.client.on_subscribe = lambda *args: done.set()
        self.client.subscribe(topic_filter, qos=1)
        if not done.wait(WAIT_TIMEOUT):
            raise TimeoutError(f"no SUBACK for {topic_filter}")

    def publish(
        self,
        topic: str,
        payload: bytes | str,
        *,
        retain: bool = False,
        properties: Properties | None = None,
    ) -> None:
        info = self.client.publish(
            topic, payload, qos=1, retain=retain, properties=properties
        )
        info.wait_for_publish(WAIT_TIMEOUT)

    def wait_for(
        self,
        predicate: Callable[[Received], bool],
        timeout: float = WAIT_TIMEOUT,
        start: int = 0,
    ) -> Received:
        """Return the first message from index `start` on that matches."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for message in self.messages[start:]:
                    if predicate(message):
                        return message
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    seen = [(m.topic, m.payload[:60]) for m in self.messages[start:]]
                    raise TimeoutError(
                        f"no matching message within {timeout} s: {seen}"
                    )
                self._cond.wait(remaining)

    def on_topic(self, topic: str, start: int = 0) -> list[Received]:
        with self._cond:
            return [m for m in self.messages[start:] if m.topic == topic]

    def mark(self) -> int:
        with self._cond:
            return len(self.messages)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def wait_until(condition: Callable[[], bool], timeout: float = WAIT_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"condition not met within {timeout} s")
        time.sleep(0.02)
