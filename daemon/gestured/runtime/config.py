"""The daemon's TOML configuration: one frozen dataclass per section.

`config/gestured.toml` in the repository lists every key with its default.
`load_config` reads a file, applies `--set section.key=value` overrides,
validates everything and resolves paths (see `config_load.py` for the rules).
"""

from __future__ import annotations

import re
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import SplitResult, urlsplit

from gestured.dataset.schema import FAMILIES
from gestured.errors import ConfigError
from gestured.landmarks import BACKENDS
from gestured.runtime.config_fields import check_settings, setting

NAME_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
# MQTT topic prefixes: plain levels separated by "/", never wildcards.
TOPIC_PREFIX_PATTERN = re.compile(r"^[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*$")
SOURCE_SCHEMES = ("rtsp", "http", "https")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def default_device_id() -> str:
    """Return the host name reduced to letters, digits, '_' and '-'."""
    name = re.sub(r"[^A-Za-z0-9_-]", "-", socket.gethostname().split(".")[0])
    name = name.strip("-")[:64]
    return name or "gestured"


def _check_name(value: str, key: str, pattern: re.Pattern[str], allowed: str) -> None:
    if not pattern.fullmatch(value):
        raise ConfigError(f"invalid value {value!r} for {key}: expected {allowed}")


def _split_url(url: str) -> SplitResult | None:
    """Split `url`; None when it is malformed or has no host."""
    try:
        parts = urlsplit(url)
        # Reading the port validates it; a bad one would fail later, in use.
        parts.port  # noqa: B018
    except ValueError:
        return None
    return parts if parts.hostname else None


@dataclass(frozen=True)
class SourceConfig:
    """[source]: where frames come from."""

    #: Camera index ("0"), device ("/dev/video0"), video file, or an rtsp://,
    #: http:// or https:// stream URL.
    uri: str = setting("0", "str")
    #: Read video files at their own frame rate instead of as fast as possible.
    realtime: bool = setting(False, "bool")
    #: Frame width to request from a camera in pixels; 0 keeps the camera's.
    width: int = setting(640, "int", minimum=0, maximum=8192)
    #: Frame height to request from a camera in pixels; 0 keeps the camera's.
    height: int = setting(480, "int", minimum=0, maximum=8192)
    #: Frame rate to request from a camera; 0 keeps the camera's.
    fps: int = setting(0, "int", minimum=0, maximum=240)
    #: Longest frame side in pixels; larger frames from any source are
    #: downscaled right after decoding.
    max_side: int = setting(1920, "int", minimum=160, maximum=16384)
    #: True when frames are mirror images, as from most selfie webcams.
    mirrored: bool = setting(False, "bool")
    #: Seconds before the first attempt to reopen a failed source.
    reopen_initial_delay: float = setting(1.0, "float", minimum=0.1, maximum=3600)
    #: Upper bound in seconds of the doubling delay between reopen attempts.
    reopen_max_delay: float = setting(30.0, "float", minimum=0.1, maximum=3600)

    def __post_init__(self) -> None:
        check_settings(self, "source")
        uri = self.uri.strip()
        if not uri or any(ch in uri for ch in "\0\r\n"):
            raise ConfigError(
                f"invalid value {self.uri!r} for source.uri: expected a camera index, "
                "a device or file path, or an rtsp://, http:// or https:// URL"
            )
        if "://" in uri:
            parts = _split_url(uri)
            if parts is None or parts.scheme.lower() not in SOURCE_SCHEMES:
                raise ConfigError(
                    f"invalid URL {uri!r} for source.uri: expected a scheme of "
                    f"{', '.join(SOURCE_SCHEMES)} and a valid host and port"
                )
        if self.reopen_max_delay < self.reopen_initial_delay:
            raise ConfigError(
                "source.reopen_max_delay must be >= source.reopen_initial_delay"
            )


@dataclass(frozen=True)
class LandmarksConfig:
    """[landmarks]: the MediaPipe hand landmark backend."""

    #: "solutions" (mp.solutions.hands), "tasks" (HandLandmarker with
    #: task_path) or "auto" (tasks when task_path is set).
    backend: str = setting("auto", "str", choices=BACKENDS)
    #: The hand_landmarker.task file for the tasks backend; "" for none.
    task_path: Path | None = setting(None, "path", optional=True)
    #: Landmark model size of the solutions backend: 0 is faster, 1 is more exact.
    model_complexity: int = setting(1, "int", choices=(0, 1))
    #: Minimum palm detection score for a new hand, 0 to 1.
    min_detection_confidence: float = setting(0.5, "float", minimum=0, maximum=1)
    #: Minimum tracking score before the detector runs again, 0 to 1.
    min_tracking_confidence: float = setting(0.5, "float", minimum=0, maximum=1)
    #: Frames between looks for a second hand while one is tracked, used only
    #: when two-hand model families are loaded; two-hand detection costs time.
    second_hand_probe_interval: int = setting(15, "int", minimum=1, maximum=10_000)

    def __post_init__(self) -> None:
        check_settings(self, "landmarks")
        if self.backend == "tasks" and self.task_path is None:
            raise ConfigError('landmarks.backend "tasks" needs landmarks.task_path')


@dataclass(frozen=True)
class ModelsConfig:
    """[models]: which gesture classifiers run and their thresholds."""

    #: Model families to load; families without a trained model are skipped.
    families: tuple[str, ...] = setting(None, "list", factory=lambda: tuple(FAMILIES))
    #: TFLite file of each base model: "float32" or "int8" (smaller, for Coral).
    variant: str = setting("float32", "str", choices=("float32", "int8"))
    #: CPU threads of each TFLite interpreter.
    num_threads: int = setting(1, "int", minimum=1, maximum=64)
    #: Try the Coral Edge TPU delegate first, falling back to the CPU.
    edgetpu: bool = setting(False, "bool")
    #: Minimum base model probability for a gesture, 0 to 1.
    base_threshold: float = setting(0.7, "float", minimum=0, maximum=1)
    #: Minimum user model probability for a user gesture, 0 to 1.
    user_threshold: float = setting(0.85, "float", minimum=0, maximum=1)

    def __post_init__(self) -> None:
        check_settings(self, "models")
        unknown = [name for name in self.families if name not in FAMILIES]
        if (
            unknown
            or not self.families
            or len(set(self.families)) != len(self.families)
        ):
            raise ConfigError(
                f"invalid value {list(self.families)!r} for models.families: expected "
                f"a non-empty list without repeats from {', '.join(FAMILIES)}"
            )


@dataclass(frozen=True)
class SmoothingConfig:
    """[smoothing]: turning per-frame predictions into events."""

    #: Seconds a gesture must hold before it fires.
    stable_seconds: float = setting(0.5, "float", minimum=0, maximum=10)
    #: Share of the frames within stable_seconds that must vote for the gesture.
    min_votes_fraction: float = setting(0.6, "float", minimum=0.01, maximum=1)
    #: Seconds the hand must be gone before the same gesture can fire again;
    #: another gesture in between re-arms it at once.
    rearm_seconds: float = setting(1.0, "float", minimum=0, maximum=600)

    def __post_init__(self) -> None:
        check_settings(self, "smoothing")


@dataclass(frozen=True)
class MqttConfig:
    """[mqtt]: the broker connection and Home Assistant discovery."""

    #: Publish over MQTT; when false, events go to standard output only.
    enabled: bool = setting(True, "bool")
    #: Broker host name or IP address.
    host: str = setting("localhost", "str")
    #: Broker TCP port (1883 plain, usually 8883 with TLS).
    port: int = setting(1883, "int", minimum=1, maximum=65535)
    #: MQTT protocol version: "5" or "3.1.1" for older brokers.
    protocol: str = setting("5", "str", choices=("5", "3.1.1"))
    #: First topic levels of every topic: <prefix>/<device_id>/...
    prefix: str = setting("gestured", "str")
    #: Client id; "" uses gestured-<device_id>.
    client_id: str = setting("", "str")
    #: Seconds between keepalive pings; the broker drops the client after 1.5x.
    keepalive: int = setting(30, "int", minimum=5, maximum=3600)
    #: User name; "" connects without credentials.
    username: str = setting("", "str")
    #: File holding the password on its first line, read at start; "" for none.
    password_file: Path | None = setting(None, "path", optional=True)
    #: Connect with TLS.
    tls: bool = setting(False, "bool")
    #: CA certificates (PEM) that sign the broker's certificate; "" uses the
    #: system's CA store.
    ca_file: Path | None = setting(None, "path", optional=True)
    #: Client certificate (PEM) for brokers that require one; "" for none.
    cert_file: Path | None = setting(None, "path", optional=True)
    #: Private key (PEM) of cert_file; "" for none.
    key_file: Path | None = setting(None, "path", optional=True)
    #: QoS of gesture events, replies and retained messages.
    qos: int = setting(1, "int", choices=(0, 1, 2))
    #: Publish Home Assistant device trigger discovery messages.
    discovery: bool = setting(True, "bool")
    #: Home Assistant's discovery prefix.
    discovery_prefix: str = setting("homeassistant", "str")
    #: Seconds before the first reconnect attempt; the delay doubles after.
    reconnect_min_delay: int = setting(1, "int", minimum=1, maximum=3600)
    #: Upper bound in seconds of the delay between reconnect attempts.
    reconnect_max_delay: int = setting(60, "int", minimum=1, maximum=3600)

    def __post_init__(self) -> None:
        check_settings(self, "mqtt")
        if not self.host or len(self.host) > 253 or any(c.isspace() for c in self.host):
            raise ConfigError(
                f"invalid value {self.host!r} for mqtt.host: expected a host name or "
                "IP address"
            )
        prefix_rule = "levels of letters, digits, '_' or '-' separated by '/'"
        _check_name(self.prefix, "mqtt.prefix", TOPIC_PREFIX_PATTERN, prefix_rule)
        _check_name(
            self.discovery_prefix,
            "mqtt.discovery_prefix",
            TOPIC_PREFIX_PATTERN,
            prefix_rule,
        )
        if self.client_id:
            _check_name(
                self.client_id,
                "mqtt.client_id",
                NAME_PATTERN,
                "1 to 64 letters, digits, '_' or '-'",
            )
        if self.password_file is not None and not self.username:
            raise ConfigError("mqtt.password_file is set but mqtt.username is empty")
        if (self.cert_file is None) != (self.key_file is None):
            raise ConfigError("mqtt.cert_file and mqtt.key_file must be set together")
        if not self.tls and any(
            path is not None for path in (self.ca_file, self.cert_file, self.key_file)
        ):
            raise ConfigError(
                "mqtt.ca_file, mqtt.cert_file and mqtt.key_file need mqtt.tls = true"
            )
        if self.reconnect_max_delay < self.reconnect_min_delay:
            raise ConfigError(
                "mqtt.reconnect_max_delay must be >= mqtt.reconnect_min_delay"
            )


@dataclass(frozen=True)
class UserConfig:
    """[user]: gestures that users record on the device."""

    #: Publish each recorded shard (landmarks and labels, no images) on
    #: <prefix>/<device_id>/samples for `gestured collect`; needs MQTT.
    share_samples: bool = setting(False, "bool")
    #: Largest mean landmark movement between two frames, in hand sizes, for a
    #: frame to count as held still while recording.
    motion_threshold: float = setting(0.05, "float", minimum=0.001, maximum=10)

    def __post_init__(self) -> None:
        check_settings(self, "user")


@dataclass(frozen=True)
class UpdateConfig:
    """[update]: signed model updates over HTTP(S)."""

    #: Update folder URL (http:// or https://) written by `gestured publish`;
    #: "" turns updates off. When set, models run from <state_dir>/models/,
    #: which models_dir seeds on the first start.
    url: str = setting("", "str")
    #: Public key file (base64 or PEM) that checks bundle signatures.
    public_key: Path | None = setting(None, "path", optional=True)
    #: Days between update checks.
    interval_days: float = setting(30.0, "float", minimum=0.001, maximum=365)
    #: Random extra delay up to this many hours, so devices do not check at once.
    jitter_hours: float = setting(12.0, "float", minimum=0, maximum=720)
    #: Largest update bundle in bytes: all its files and manifest together.
    max_bundle_bytes: int = setting(
        64 * 1024 * 1024, "int", minimum=1024, maximum=2**31
    )
    #: Seconds within which new models must process 10 frames without an
    #: error, or they are rolled back.
    health_seconds: float = setting(120.0, "float", minimum=1, maximum=86_400)

    def __post_init__(self) -> None:
        check_settings(self, "update")
        if self.url:
            parts = _split_url(self.url)
            if parts is None or parts.scheme not in ("http", "https"):
                raise ConfigError(
                    f"invalid value {self.url!r} for update.url: expected an "
                    'http:// or https:// URL, or "" to turn updates off'
                )
            if self.public_key is None:
                raise ConfigError("update.url is set but update.public_key is empty")


SECTIONS = {
    "source": SourceConfig,
    "landmarks": LandmarksConfig,
    "models": ModelsConfig,
    "smoothing": SmoothingConfig,
    "mqtt": MqttConfig,
    "user": UserConfig,
    "update": UpdateConfig,
}


@dataclass(frozen=True)
class Config:
    """The whole configuration: top-level keys and one field per section."""

    #: This device's name in MQTT topics and Home Assistant: 1 to 64 letters,
    #: digits, '_' or '-'. Defaults to the host name with other characters
    #: replaced by '-'.
    device_id: str = setting(None, "str", factory=default_device_id)
    #: Writable directory for models, user data and update state.
    state_dir: Path = setting(Path("/var/lib/gestured"), "path")
    #: Model folder; a relative path is inside state_dir.
    models_dir: Path = setting(Path("models"), "path")
    #: Minimum level of log lines.
    log_level: str = setting("INFO", "str", choices=LOG_LEVELS)
    source: SourceConfig = field(default_factory=SourceConfig)
    landmarks: LandmarksConfig = field(default_factory=LandmarksConfig)
    models: ModelsConfig = field(default_factory=ModelsConfig)
    smoothing: SmoothingConfig = field(default_factory=SmoothingConfig)
    mqtt: MqttConfig = field(default_factory=MqttConfig)
    user: UserConfig = field(default_factory=UserConfig)
    update: UpdateConfig = field(default_factory=UpdateConfig)

    def __post_init__(self) -> None:
        check_settings(self, "")
        _check_name(
            self.device_id,
            "device_id",
            NAME_PATTERN,
            "1 to 64 letters, digits, '_' or '-'",
        )

    @property
    def mqtt_client_id(self) -> str:
        return self.mqtt.client_id or f"gestured-{self.device_id}"[:64]


def load_config(
    path: str | Path | None, overrides: Mapping[str, str] | None = None
) -> Config:
    """Read the TOML file `path` (None for defaults), apply overrides, validate.

    `overrides` maps dotted keys such as "mqtt.port" to text values, as given
    by `--set mqtt.port=1884`. Raises ConfigError naming the key on any problem.
    """
    # Imported here because config_load builds the dataclasses defined above.
    from gestured.runtime.config_load import build_config

    return build_config(path, overrides or {})


__all__ = [
    "SECTIONS",
    "Config",
    "LandmarksConfig",
    "ModelsConfig",
    "MqttConfig",
    "SmoothingConfig",
    "SourceConfig",
    "UpdateConfig",
    "UserConfig",
    "load_config",
]
