"""Sample sharing over MQTT: the device side, and the collector that stores shards.

A device with `share_samples = true` publishes each recorded shard, the
`.npz` bytes unchanged, QoS 1 on `gestured/<device_id>/samples`. The
collector keeps a persistent MQTT 5 session (fixed client id, clean_start
False, a session expiry), so the broker queues shards while it is away. It
validates each shard and stores the validated arrays, written afresh, as
`DIR/<device_id>/<family>-<sha256 of the message>.npz`: a message delivered
twice lands in one file, and nothing but schema fields reaches the disk.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
from pathlib import Path
from typing import Any, Protocol

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from gestured.atomic import atomic_write_bytes
from gestured.dataset.shards import SHARD_SUFFIX, load_shard_bytes, shard_bytes
from gestured.errors import DatasetError
from gestured.user.store import is_recording_name

logger = logging.getLogger(__name__)

SAMPLES_SUBTOPIC = "samples"
DEFAULT_CLIENT_ID = "gestured-collector"
DEFAULT_SESSION_EXPIRY = 30 * 86400
DEFAULT_MAX_SHARD_BYTES = 16 * 1024 * 1024
# Shared shards are recordings of at most 500 samples, under 5 MB unpacked
# even for dynamic_double, so this leaves a wide margin.
MAX_UNPACKED_BYTES = 64 * 1024 * 1024
DEVICE_ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
SHARED_LOG = ".shared.json"


class Publisher(Protocol):
    """The MQTT link of a device; `subtopic` goes below `gestured/<device_id>/`."""

    def publish(self, subtopic: str, payload: bytes, qos: int) -> Any: ...


def share_shard(
    link: Publisher,
    path: Path,
    *,
    timeout: float = 30.0,
    max_bytes: int = DEFAULT_MAX_SHARD_BYTES,
) -> bool:
    """Publish one shard QoS 1; return True once the broker acknowledged it."""
    path = Path(path)
    data = path.read_bytes()
    if len(data) > max_bytes:
        logger.warning(
            "Not sharing %s: %d bytes exceeds %d", path, len(data), max_bytes
        )
        return False
    load_shard_bytes(data, str(path))  # never send a shard the collector drops
    info = link.publish(SAMPLES_SUBTOPIC, data, 1)
    try:
        info.wait_for_publish(timeout)
    except (RuntimeError, ValueError) as exc:
        logger.warning("Sharing %s failed: %s", path.name, exc)
        return False
    if not info.is_published():
        logger.warning("Sharing %s not acknowledged within %.0f s", path.name, timeout)
        return False
    logger.info("Shared %s (%d bytes)", path.name, len(data))
    return True


def share_pending(link: Publisher, dataset_dir: Path, timeout: float = 30.0) -> int:
    """Share every recording in `dataset_dir` not yet acknowledged; return the count.

    Shards added by `gestured user import` and other files are not shared.
    Acknowledged names are kept in `.shared.json`, so a shard that failed to
    send is tried again on the next call and a shared one is not resent.
    """
    dataset_dir = Path(dataset_dir)
    log_path = dataset_dir / SHARED_LOG
    try:
        shared = set(json.loads(log_path.read_bytes()))
    except (FileNotFoundError, ValueError):
        shared = set()
    count = 0
    for path in sorted(dataset_dir.glob(f"*{SHARD_SUFFIX}")):
        if path.name in shared or not is_recording_name(path.name):
            continue
        try:
            ok = share_shard(link, path, timeout=timeout)
        except DatasetError as exc:
            logger.error("Not sharing invalid shard %s: %s", path.name, exc)
            continue
        if not ok:
            break
        shared.add(path.name)
        atomic_write_bytes(log_path, json.dumps(sorted(shared)).encode())
        count += 1
    return count


class Collector:
    """Receives shared shards and stores each one once per device."""

    def __init__(
        self,
        host: str,
        port: int,
        out_dir: Path,
        *,
        client_id: str = DEFAULT_CLIENT_ID,
        session_expiry: int = DEFAULT_SESSION_EXPIRY,
        max_shard_bytes: int = DEFAULT_MAX_SHARD_BYTES,
        prefix: str = "gestured",
    ) -> None:
        self.host, self.port = host, int(port)
        self.out_dir = Path(out_dir)
        self.max_shard_bytes = int(max_shard_bytes)
        self.prefix = prefix
        self.session_expiry = int(session_expiry)
        self.stored = 0
        self.rejected = 0
        self.connected = threading.Event()
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=mqtt.MQTTv5,
        )
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.client.reconnect_delay_set(1, 30)

    def start(self) -> None:
        properties = Properties(PacketTypes.CONNECT)
        properties.SessionExpiryInterval = self.session_expiry
        self.client.connect_async(
            self.host, self.port, clean_start=False, properties=properties
        )
        self.client.loop_start()

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:  # type: ignore[no-untyped-def]
        if reason_code.is_failure:
            logger.error("Collector connection refused: %s", reason_code)
            return
        logger.info(
            "Collector connected to %s:%d (session present: %s)",
            self.host,
            self.port,
            flags.session_present,
        )
        client.subscribe(f"{self.prefix}/+/{SAMPLES_SUBTOPIC}", qos=1)
        self.connected.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:  # type: ignore[no-untyped-def]
        self.connected.clear()
        logger.warning("Collector disconnected (%s), reconnecting", reason_code)

    def _on_message(self, client, userdata, message) -> None:  # type: ignore[no-untyped-def]
        # paho acknowledges a QoS 1 message after this returns, so the shard is
        # on disk before the broker drops its copy.
        try:
            self.handle(message.topic, message.payload)
        except Exception:
            self.rejected += 1
            logger.exception("Storing a shard from %s failed", message.topic)

    def handle(self, topic: str, payload: bytes) -> Path | None:
        """Validate and store one shard message; return its path, None if rejected."""
        parts = topic.split("/")
        device = parts[1] if len(parts) == 3 else ""
        if not DEVICE_ID_PATTERN.fullmatch(device):
            self.rejected += 1
            logger.warning("Rejected shard on topic %r: invalid device id", topic)
            return None
        if len(payload) > self.max_shard_bytes:
            self.rejected += 1
            logger.warning(
                "Rejected shard from %s: %d bytes exceeds %d",
                device,
                len(payload),
                self.max_shard_bytes,
            )
            return None
        digest = hashlib.sha256(payload).hexdigest()
        try:
            samples = load_shard_bytes(
                payload, f"shard {digest[:12]} from {device}", MAX_UNPACKED_BYTES
            )
        except DatasetError as exc:
            self.rejected += 1
            logger.warning("Rejected shard: %s", exc)
            return None
        path = self.out_dir / device / f"{samples.family}-{digest}{SHARD_SUFFIX}"
        if path.exists():
            logger.info("Shard %s from %s already stored", digest[:12], device)
            return path
        try:
            atomic_write_bytes(path, shard_bytes(samples), overwrite=False)
        except FileExistsError:
            return path
        self.stored += 1
        logger.info("Stored %d samples from %s in %s", len(samples), device, path.name)
        return path
