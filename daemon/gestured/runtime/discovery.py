"""Home Assistant MQTT discovery: one device trigger per gesture.

Each gesture gets a retained config on
<discovery_prefix>/device_automation/<device_id>/<gesture>/config. Home
Assistant then fires the trigger when <prefix>/<device_id>/trigger carries
the gesture's name. Device triggers have no availability option (Home
Assistant drops unknown keys from their config), so a "Last gesture" sensor
on the same device carries the availability topic <prefix>/<device_id>/status.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterable

import paho.mqtt.client as mqtt

from gestured import __version__
from gestured.dataset.schema import LABEL_PATTERN
from gestured.runtime.mqtt import MqttLink

logger = logging.getLogger(__name__)

TRIGGER_TYPE = "gesture"


class Discovery:
    """Keeps Home Assistant's device triggers in step with the loaded gestures."""

    def __init__(
        self,
        link: MqttLink,
        discovery_prefix: str,
        *,
        device_name: str | None = None,
        model: str = "gestured",
        sw_version: str = __version__,
    ) -> None:
        self.link = link
        self.prefix = discovery_prefix
        self.device_id = link.device_id
        self.trigger_root = f"{discovery_prefix}/device_automation/{self.device_id}"
        self.sensor_topic = (
            f"{discovery_prefix}/sensor/{self.device_id}/last_gesture/config"
        )
        self.device = {
            "identifiers": [f"gestured_{self.device_id}"],
            "name": device_name or f"gestured {self.device_id}",
            "model": model,
            "manufacturer": "gestured",
            "sw_version": sw_version,
        }
        self._lock = threading.Lock()
        self._gestures: set[str] | None = None

    def start(self) -> None:
        """Resend every config when Home Assistant announces "online"."""
        self.link.subscribe(f"{self.prefix}/status", self._on_ha_status)

    def config_topic(self, gesture: str) -> str:
        return f"{self.trigger_root}/{gesture}/config"

    def trigger_config(self, gesture: str) -> str:
        return json.dumps(
            {
                "automation_type": "trigger",
                "type": TRIGGER_TYPE,
                "subtype": gesture,
                "topic": self.link.trigger_topic,
                "payload": gesture,
                "qos": self.link.config.qos,
                "device": self.device,
            },
            separators=(",", ":"),
        )

    def sensor_config(self) -> str:
        return json.dumps(
            {
                "name": "Last gesture",
                "unique_id": f"gestured_{self.device_id}_last_gesture",
                "state_topic": self.link.trigger_topic,
                "availability_topic": self.link.status_topic,
                "icon": "mdi:hand-back-right",
                "device": self.device,
            },
            separators=(",", ":"),
        )

    def update_gestures(self, gestures: Iterable[str]) -> None:
        """Publish configs for `gestures` and remove those of vanished gestures.

        A name in two model families gets one trigger, as the trigger topic
        carries only the name.
        """
        names = set(gestures)
        for gesture in names:
            if not isinstance(gesture, str) or not LABEL_PATTERN.fullmatch(gesture):
                raise ValueError(f"invalid gesture name {gesture!r}")
        with self._lock:
            first = self._gestures is None
            removed = (self._gestures or set()) - names
            self._gestures = names
        self._publish(names)
        for gesture in sorted(removed):
            logger.info("removing Home Assistant trigger for gesture %s", gesture)
            self.link.retain(self.config_topic(gesture), b"")
        if first:
            # Retained configs from an earlier run show which gestures are gone
            # since then; before the first update every one would look stale.
            self.link.subscribe(f"{self.trigger_root}/+/config", self._on_config)
        logger.info("Home Assistant discovery for %d gestures", len(names))

    def _publish(self, gestures: Iterable[str]) -> None:
        self.link.retain(self.sensor_topic, self.sensor_config())
        for gesture in sorted(gestures):
            self.link.retain(self.config_topic(gesture), self.trigger_config(gesture))

    def _on_ha_status(self, msg: mqtt.MQTTMessage) -> None:
        if bytes(msg.payload).strip() != b"online":
            return
        with self._lock:
            if self._gestures is None:
                return
            gestures = set(self._gestures)
        logger.info("Home Assistant is online, resending %d triggers", len(gestures))
        self._publish(gestures)

    def _on_config(self, msg: mqtt.MQTTMessage) -> None:
        # Only retained copies show the broker's state; live copies are ours.
        if not msg.retain or not msg.payload:
            return
        gesture = msg.topic[len(self.trigger_root) + 1 :].split("/", 1)[0]
        with self._lock:
            current = self._gestures or set()
            stale = gesture not in current
        if stale:
            logger.info("removing stale Home Assistant trigger %s", gesture)
            self.link.retain(msg.topic, b"")
