"""The daemon's MQTT link: status, gesture events, retained state and commands.

Topics, all below <prefix>/<device_id>/:

- `status`: "online" / "offline", retained; the broker publishes "offline"
  as the last will when the daemon dies without a clean stop.
- `gesture`: one JSON `GestureEvent` per recognized gesture.
- `trigger`: the bare gesture name of the same event, for Home Assistant
  device triggers that match on the payload.
- `cmd/<name>`: commands in; `reply`: the JSON replies, also sent to an MQTT 5
  response topic with its correlation data when the request names one.

paho-mqtt's network thread (`loop_start`) connects, reconnects with backoff and
runs every callback. While the broker is unreachable, gesture events go to
standard output as JSON lines, so a dead broker does not stop recognition.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, TextIO

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from gestured.dataset.schema import LABEL_PATTERN
from gestured.runtime.config import TOPIC_PREFIX_PATTERN, MqttConfig
from gestured.runtime.events import GestureEvent
from gestured.runtime.mqtt_setup import configure_client

logger = logging.getLogger(__name__)

MAX_INBOUND_BYTES = 16 * 1024
MAX_RESPONSE_TOPIC_LENGTH = 1024
# Brokers drop queued gesture events older than this, so a subscriber that
# comes back late does not act on a stale gesture.
EVENT_EXPIRY_SECONDS = 60
STOP_TIMEOUT_SECONDS = 5.0
SHORT_SESSION_SECONDS = 5
SHORT_SESSIONS_BEFORE_HINT = 3

CommandCallback = Callable[[str, bytes, Properties | None], None]
MessageHandler = Callable[[mqtt.MQTTMessage], None]


class MqttLink:
    """One broker connection for the daemon; methods may be called from any thread."""

    def __init__(
        self,
        config: MqttConfig,
        device_id: str,
        *,
        client_id: str | None = None,
        stdout: TextIO | None = None,
    ) -> None:
        self.config = config
        self.device_id = device_id
        self.client_id = client_id or config.client_id or f"gestured-{device_id}"
        self.base_topic = f"{config.prefix}/{device_id}"
        self.status_topic = f"{self.base_topic}/status"
        self.gesture_topic = f"{self.base_topic}/gesture"
        self.trigger_topic = f"{self.base_topic}/trigger"
        self.reply_topic = f"{self.base_topic}/reply"
        self.command_filter = f"{self.base_topic}/cmd/+"
        self.broker = f"{config.host}:{config.port}"
        self._stdout = stdout if stdout is not None else sys.stdout
        self._lock = threading.Lock()
        self._connected = threading.Event()
        # Set once status, subscriptions and retained state went out after a
        # connect, so waiters see a link that is fully set up.
        self._ready = threading.Event()
        self._stopping = False
        self._started = False
        self._failures = 0
        self._connected_at = 0.0
        self._short_sessions = 0
        self._fallback_events = 0
        self._dropped_inbound = 0
        self._retained_commands = 0
        self._command_callback: CommandCallback | None = None
        self._handlers: dict[str, MessageHandler] = {}
        self._connect_handlers: list[Callable[[], None]] = []
        self._retained: dict[str, bytes] = {}
        self._v5 = config.protocol == "5"
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            protocol=mqtt.MQTTv5 if self._v5 else mqtt.MQTTv311,
        )
        self._client.on_connect = self._on_connect
        self._client.on_connect_fail = self._on_connect_fail
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message

    # Lifecycle -------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def wait_connected(self, timeout: float) -> bool:
        """Wait until connected and the connect-time messages are sent."""
        return self._ready.wait(timeout)

    def start(self) -> None:
        """Start connecting in the background; never blocks on the broker.

        Raises ConfigError for unreadable password, certificate or key files.
        """
        if self._started:
            raise RuntimeError("MqttLink already started")
        self._started = True
        if not self.config.enabled:
            logger.info("MQTT disabled, gesture events go to standard output")
            return
        configure_client(self._client, self.config)
        self._client.will_set(self.status_topic, "offline", self.config.qos, True)
        self._client.connect_async(
            self.config.host, self.config.port, keepalive=self.config.keepalive
        )
        self._client.loop_start()
        logger.info(
            "connecting to MQTT broker %s as client %s (MQTT %s)",
            self.broker,
            self.client_id,
            self.config.protocol,
        )

    def stop(self, timeout: float = STOP_TIMEOUT_SECONDS) -> None:
        """Publish "offline" if connected, then disconnect and end the thread."""
        if not self._started or not self.config.enabled or self._stopping:
            return
        self._stopping = True
        if self.connected:
            info = self._client.publish(self.status_topic, "offline", 1, retain=True)
            try:
                info.wait_for_publish(timeout)
            except (RuntimeError, ValueError) as exc:
                logger.warning("could not publish offline status: %s", exc)
        self._client.disconnect()
        self._client.loop_stop()
        self._connected.clear()
        self._ready.clear()
        logger.info("MQTT link to %s stopped", self.broker)

    # Publishing ------------------------------------------------------------

    def publish_gesture(self, event: GestureEvent | dict[str, Any]) -> bool:
        """Publish an event; return False when it went to standard output instead."""
        if isinstance(event, dict):
            event = GestureEvent.from_dict(event)
        payload = event.to_json()
        if self.config.enabled and self.connected:
            properties = None
            if self._v5:
                properties = Properties(PacketTypes.PUBLISH)
                properties.MessageExpiryInterval = EVENT_EXPIRY_SECONDS
                properties.PayloadFormatIndicator = 1
                properties.ContentType = "application/json"
            info = self._client.publish(
                self.gesture_topic, payload, self.config.qos, properties=properties
            )
            self._client.publish(self.trigger_topic, event.gesture, self.config.qos)
            if info.rc == mqtt.MQTT_ERR_SUCCESS:
                return True
            logger.warning(
                "publishing gesture to %s failed (%s)",
                self.broker,
                mqtt.error_string(info.rc),
            )
        self._write_stdout(payload)
        return False

    def _write_stdout(self, line: str) -> None:
        with self._lock:
            self._fallback_events += 1
            count = self._fallback_events
            self._stdout.write(line + "\n")
            self._stdout.flush()
        if count == 1 and self.config.enabled:
            logger.warning(
                "MQTT broker %s not connected, writing gesture events to stdout",
                self.broker,
            )

    def retain(self, topic: str, payload: bytes | str) -> bool:
        """Keep `payload` retained on `topic`, republished on every connect.

        An empty payload deletes the retained message on the broker. Returns
        whether it was published now; otherwise it goes out on the next connect.
        """
        data = payload.encode("utf-8") if isinstance(payload, str) else bytes(payload)
        with self._lock:
            self._retained[topic] = data
        if not (self.config.enabled and self.connected):
            return False
        return self._publish_retained_now(topic, data)

    def publish_retained(self, subtopic: str, payload: bytes | str) -> bool:
        """Retain `payload` on <prefix>/<device_id>/<subtopic>, such as "model"."""
        if not TOPIC_PREFIX_PATTERN.fullmatch(subtopic):
            raise ValueError(f"invalid subtopic {subtopic!r}")
        return self.retain(f"{self.base_topic}/{subtopic}", payload)

    def publish(self, subtopic: str, payload: bytes, qos: int) -> mqtt.MQTTMessageInfo:
        """Publish `payload` on <prefix>/<device_id>/<subtopic>; return paho's info.

        The caller waits on the info for the broker's acknowledgement. While
        disconnected paho queues the message and the info is not published yet.
        """
        if not TOPIC_PREFIX_PATTERN.fullmatch(subtopic):
            raise ValueError(f"invalid subtopic {subtopic!r}")
        if not self.config.enabled:
            raise RuntimeError("MQTT is disabled, nothing can be published")
        return self._client.publish(f"{self.base_topic}/{subtopic}", payload, qos)

    def _publish_retained_now(self, topic: str, data: bytes) -> bool:
        info = self._client.publish(topic, data, self.config.qos, retain=True)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            logger.warning("publishing retained %s failed: %s", topic, info.rc)
            return False
        if not data:
            with self._lock:
                # Deleted on the broker, so nothing to republish, unless a new
                # payload arrived in between.
                if self._retained.get(topic) == b"":
                    del self._retained[topic]
        return True

    # Commands and subscriptions ---------------------------------------------

    def on_command(self, callback: CommandCallback) -> None:
        """Call `callback(name, payload, properties)` for each <base>/cmd/<name>.

        The callback runs on paho's network thread and must return quickly;
        long work belongs on a worker thread. Payloads over 16 KiB and retained
        commands, which the broker replays on every connect, are dropped.
        """
        self._command_callback = callback
        self.subscribe(self.command_filter, self._handle_command)

    def subscribe(self, topic_filter: str, handler: MessageHandler) -> None:
        """Subscribe now if connected and again after every reconnect."""
        with self._lock:
            self._handlers[topic_filter] = handler
        if self.config.enabled and self.connected:
            self._client.subscribe(topic_filter, self.config.qos)

    def add_connect_handler(self, handler: Callable[[], None]) -> None:
        """Call `handler()` on paho's thread after every successful connect."""
        self._connect_handlers.append(handler)

    def reply(
        self,
        request_id: str | None,
        ok: bool,
        message: str,
        data: Any = None,
        properties: Properties | None = None,
    ) -> None:
        """Publish a command reply on <base>/reply and the request's ResponseTopic."""
        payload = json.dumps(
            {"request_id": request_id, "ok": ok, "message": message, "data": data},
            separators=(",", ":"),
            allow_nan=False,
        )
        if not (self.config.enabled and self.connected):
            logger.warning("reply to %s dropped: broker not connected", request_id)
            return
        self._client.publish(self.reply_topic, payload, self.config.qos)
        response_topic = getattr(properties, "ResponseTopic", None)
        if not response_topic or not self._v5:
            return
        if not _valid_response_topic(response_topic):
            logger.warning("ignoring invalid response topic %r", response_topic)
            return
        out = Properties(PacketTypes.PUBLISH)
        correlation = getattr(properties, "CorrelationData", None)
        if correlation is not None:
            out.CorrelationData = correlation
        self._client.publish(response_topic, payload, self.config.qos, properties=out)

    def _handle_command(self, msg: mqtt.MQTTMessage) -> None:
        if msg.retain:
            self._ignore_retained(msg.topic)
            return
        name = msg.topic.rsplit("/", 1)[-1]
        if not LABEL_PATTERN.fullmatch(name):
            logger.warning("ignoring command with invalid name on %s", msg.topic)
            return
        callback = self._command_callback
        if callback is None:
            return
        properties = getattr(msg, "properties", None) if self._v5 else None
        try:
            callback(name, bytes(msg.payload), properties)
        except Exception:
            logger.exception("command %s failed in its callback", name)

    def _ignore_retained(self, topic: str) -> None:
        # The broker replays a retained command on every subscribe, so running
        # it would repeat a delete or an update on each reconnect. A command
        # published live with the retain flag arrives without it and runs once.
        self._retained_commands += 1
        level = logging.WARNING if self._retained_commands == 1 else logging.DEBUG
        logger.log(
            level,
            "ignoring retained command on %s (%d so far); clear it with an empty "
            "retained message",
            topic,
            self._retained_commands,
        )

    # paho callbacks, run on the network thread -------------------------------

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:  # type: ignore[no-untyped-def]
        if reason_code.is_failure:
            logger.error(
                "MQTT broker %s rejected client %s: %s",
                self.broker,
                self.client_id,
                reason_code,
            )
            return
        self._failures = 0
        self._connected_at = time.monotonic()
        self._connected.set()
        with self._lock:
            if self._fallback_events:
                logger.info(
                    "%d gesture events went to stdout while disconnected",
                    self._fallback_events,
                )
            self._fallback_events = 0
            filters = list(self._handlers)
            retained = dict(self._retained)
        logger.info("connected to MQTT broker %s as %s", self.broker, self.client_id)
        client.publish(self.status_topic, "online", self.config.qos, retain=True)
        for topic_filter in filters:
            client.subscribe(topic_filter, self.config.qos)
        for topic, data in retained.items():
            self._publish_retained_now(topic, data)
        for handler in list(self._connect_handlers):
            try:
                handler()
            except Exception:
                logger.exception("MQTT connect handler %r failed", handler)
        self._ready.set()

    def _on_connect_fail(self, client, userdata) -> None:  # type: ignore[no-untyped-def]
        self._failures += 1
        # paho doubles its wait after each failure, from the minimum delay up
        # to the maximum.
        delay = min(
            self.config.reconnect_min_delay * 2 ** (self._failures - 1),
            self.config.reconnect_max_delay,
        )
        logger.warning(
            "cannot reach MQTT broker %s as %s (attempt %d), next attempt in "
            "about %d s",
            self.broker,
            self.client_id,
            self._failures,
            delay,
        )

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:  # type: ignore[no-untyped-def]
        was_connected = self.connected
        self._connected.clear()
        self._ready.clear()
        if self._stopping:
            return
        if was_connected:
            logger.warning(
                "disconnected from MQTT broker %s (%s), reconnecting",
                self.broker,
                reason_code,
            )
            self._note_session_length()
        else:
            self._failures += 1
            logger.warning(
                "connection to MQTT broker %s closed before it was ready (%s), "
                "retrying (attempt %d)",
                self.broker,
                reason_code,
                self._failures,
            )

    def _note_session_length(self) -> None:
        # A broker drops the older of two connections with one client id, so
        # two daemons with the same device_id knock each other off in turns.
        if time.monotonic() - self._connected_at < SHORT_SESSION_SECONDS:
            self._short_sessions += 1
        else:
            self._short_sessions = 0
        if self._short_sessions == SHORT_SESSIONS_BEFORE_HINT:
            logger.warning(
                "connection to %s as %s dropped %d times within %d s of connecting; "
                "is another client using this client id (same device_id)?",
                self.broker,
                self.client_id,
                self._short_sessions,
                SHORT_SESSION_SECONDS,
            )

    def _on_message(self, client, userdata, msg: mqtt.MQTTMessage) -> None:  # type: ignore[no-untyped-def]
        size = len(msg.payload)
        if size > MAX_INBOUND_BYTES:
            self._dropped_inbound += 1
            logger.warning(
                "dropped %d-byte message on %s: larger than %d bytes (%d dropped)",
                size,
                msg.topic,
                MAX_INBOUND_BYTES,
                self._dropped_inbound,
            )
            return
        with self._lock:
            handlers = list(self._handlers.items())
        for topic_filter, handler in handlers:
            if mqtt.topic_matches_sub(topic_filter, msg.topic):
                try:
                    handler(msg)
                except Exception:
                    logger.exception("handler for %s failed", msg.topic)


def _valid_response_topic(topic: Any) -> bool:
    return (
        isinstance(topic, str)
        and 0 < len(topic) <= MAX_RESPONSE_TOPIC_LENGTH
        and not re.search(r"[+#\0]", topic)
    )
