"""Configuration loading: defaults, the shipped file, overrides, paths and errors."""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path

import pytest
from gestured.errors import ConfigError
from gestured.runtime.config import SECTIONS, Config, load_config
from gestured.runtime.config_fields import settings_of

REPO = Path(__file__).resolve().parents[1]
SHIPPED = REPO / "config" / "gestured.toml"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "gestured.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_file_equals_defaults() -> None:
    assert load_config(SHIPPED) == load_config(None)


def test_shipped_file_lists_every_key() -> None:
    data = tomllib.loads(SHIPPED.read_text(encoding="utf-8"))
    top_keys = {f.name for f in settings_of(Config)} - {"device_id"}
    assert {k for k, v in data.items() if not isinstance(v, dict)} == top_keys
    assert set(SECTIONS) == {k for k, v in data.items() if isinstance(v, dict)}
    for name, cls in SECTIONS.items():
        assert set(data[name]) == {f.name for f in settings_of(cls)}, name
    # device_id has a host-dependent default, so the file shows it commented out.
    assert "# device_id = " in SHIPPED.read_text(encoding="utf-8")


def test_defaults_are_sensible() -> None:
    config = load_config(None)
    assert config.mqtt.host == "localhost"
    assert config.mqtt.port == 1883
    assert config.mqtt.prefix == "gestured"
    assert config.mqtt.discovery is True
    assert config.mqtt.discovery_prefix == "homeassistant"
    assert config.models.base_threshold == 0.7
    assert config.models.user_threshold == 0.85
    assert config.smoothing.stable_seconds == 0.5
    assert config.source.max_side == 1920
    assert config.update.url == ""
    assert config.update.interval_days == 30
    assert config.user.share_samples is False
    assert config.state_dir == Path("/var/lib/gestured")
    assert config.models_dir == Path("/var/lib/gestured/models")
    assert config.mqtt_client_id == f"gestured-{config.device_id}"


def test_file_values_and_overrides(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        'device_id = "kitchen"\n[mqtt]\nport = 1884\nhost = "broker"\n'
        '[models]\nfamilies = ["static_single"]\n',
    )
    config = load_config(
        path,
        {
            "mqtt.port": "1885",
            "source.mirrored": "yes",
            "models.families": "static_single, dynamic_single",
            "smoothing.stable_seconds": "0.25",
            "log_level": "DEBUG",
        },
    )
    assert config.device_id == "kitchen"
    assert config.mqtt.host == "broker"
    assert config.mqtt.port == 1885
    assert config.source.mirrored is True
    assert config.models.families == ("static_single", "dynamic_single")
    assert config.smoothing.stable_seconds == 0.25
    assert config.log_level == "DEBUG"


def test_integer_accepted_for_float(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "[smoothing]\nstable_seconds = 1\n"))
    assert config.smoothing.stable_seconds == 1.0
    assert isinstance(config.smoothing.stable_seconds, float)


def test_relative_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    etc = tmp_path / "etc"
    etc.mkdir()
    path = write(
        etc,
        'state_dir = "state"\n[mqtt]\ntls = true\nca_file = "ca.pem"\n'
        '[landmarks]\ntask_path = "/abs/hand.task"\n',
    )
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    config = load_config(path, {"mqtt.cert_file": "c.pem", "mqtt.key_file": "k.pem"})
    assert config.state_dir == etc / "state"
    assert config.models_dir == etc / "state" / "models"
    assert config.mqtt.ca_file == etc / "ca.pem"
    assert config.mqtt.cert_file == work / "c.pem"
    assert config.mqtt.key_file == work / "k.pem"
    assert config.landmarks.task_path == Path("/abs/hand.task")
    absolute = load_config(path, {"models_dir": "/srv/models"})
    assert absolute.models_dir == Path("/srv/models")


def test_empty_optional_path_is_none(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, '[mqtt]\npassword_file = ""\n'))
    assert config.mqtt.password_file is None


def test_configs_are_frozen() -> None:
    config = load_config(None)
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.mqtt.port = 1  # type: ignore[misc]


# (file text or None, overrides, key that the message must name, expected words)
BAD_CASES = [
    ("[mqtt]\nprot = 1\n", {}, "mqtt.prot", "did you mean mqtt.port"),
    ("colour = 1\n", {}, "colour", "top-level key"),
    ("[camera]\nuri = 1\n", {}, "camera", "unknown section"),
    ("mqtt = 3\n", {}, "mqtt", "table"),
    ("[mqtt]\nport = 70000\n", {}, "mqtt.port", "from 1 to 65535"),
    ('[mqtt]\nport = "x"\n', {}, "mqtt.port", "an integer"),
    ("[mqtt]\nport = true\n", {}, "mqtt.port", "an integer"),
    ("[mqtt]\nqos = 3\n", {}, "mqtt.qos", "one of 0, 1, 2"),
    ('[mqtt]\nprotocol = "4"\n', {}, "mqtt.protocol", "'5', '3.1.1'"),
    ('[mqtt]\nprefix = "a/#"\n', {}, "mqtt.prefix", "levels"),
    ('[mqtt]\nprefix = ""\n', {}, "mqtt.prefix", "levels"),
    ('[mqtt]\ndiscovery_prefix = "ha/+"\n', {}, "mqtt.discovery_prefix", "levels"),
    ('[mqtt]\nclient_id = "a b"\n', {}, "mqtt.client_id", "letters"),
    ('[mqtt]\nhost = ""\n', {}, "mqtt.host", "host name"),
    ('[mqtt]\nenabled = "yes"\n', {}, "mqtt.enabled", "true or false"),
    ('[mqtt]\ncert_file = "c.pem"\ntls = true\n', {}, "mqtt.key_file", "together"),
    ('[mqtt]\nca_file = "ca.pem"\n', {}, "mqtt.tls", "tls = true"),
    ('[mqtt]\npassword_file = "p"\n', {}, "mqtt.username", "empty"),
    (
        "[mqtt]\nreconnect_min_delay = 10\nreconnect_max_delay = 5\n",
        {},
        "mqtt.reconnect_max_delay",
        ">=",
    ),
    ('device_id = "my box"\n', {}, "device_id", "letters"),
    ('log_level = "TRACE"\n', {}, "log_level", "'DEBUG'"),
    ('state_dir = ""\n', {}, "state_dir", "a file path"),
    ('[source]\nuri = "ftp://cam/x"\n', {}, "source.uri", "rtsp"),
    ('[source]\nuri = ""\n', {}, "source.uri", "camera index"),
    ("[source]\nwidth = -1\n", {}, "source.width", "from 0 to 8192"),
    ("[source]\nmax_side = 0\n", {}, "source.max_side", "from 160 to 16384"),
    (
        "[source]\nreopen_initial_delay = 5.0\nreopen_max_delay = 1.0\n",
        {},
        "source.reopen_max_delay",
        ">=",
    ),
    ('[landmarks]\nbackend = "gpu"\n', {}, "landmarks.backend", "'auto'"),
    ('[landmarks]\nbackend = "tasks"\n', {}, "landmarks.task_path", "needs"),
    ("[landmarks]\nmodel_complexity = 2\n", {}, "landmarks.model_complexity", "0, 1"),
    (
        "[landmarks]\nmin_detection_confidence = 1.5\n",
        {},
        "landmarks.min_detection_confidence",
        "from 0 to 1",
    ),
    ('[models]\nfamilies = ["cats"]\n', {}, "models.families", "static_single"),
    ("[models]\nfamilies = []\n", {}, "models.families", "non-empty"),
    ("[models]\nfamilies = [1]\n", {}, "models.families", "list of strings"),
    ('[models]\nvariant = "int4"\n', {}, "models.variant", "'int8'"),
    ("[models]\nbase_threshold = 2\n", {}, "models.base_threshold", "from 0 to 1"),
    ("[smoothing]\nwindow = 8\n", {}, "smoothing.window", "unknown key"),
    ("[smoothing]\nstable_seconds = nan\n", {}, "smoothing.stable_seconds", "number"),
    ('[update]\nurl = "file:///x"\n', {}, "update.url", "http"),
    ('[update]\nurl = "https://u.example"\n', {}, "update.public_key", "empty"),
    ("[update]\ninterval_days = 0\n", {}, "update.interval_days", "from 0.001"),
    ("[user]\nshare_samples = 1\n", {}, "user.share_samples", "true or false"),
    (None, {"update.url": "http://[::1"}, "update.url", "http"),
    (None, {"update.url": "http://h:port/"}, "update.url", "http"),
    (None, {"source.uri": "rtsp://[zz"}, "source.uri", "rtsp"),
    (None, {"source.uri": "rtsp://[zz]/x"}, "source.uri", "rtsp"),
    (None, {"mqtt.port": "eighty"}, "mqtt.port", "an integer"),
    (None, {"mqtt.tls": "maybe"}, "mqtt.tls", "true or false"),
    (None, {"smoothing.rearm_seconds": "soon"}, "smoothing.rearm_seconds", "number"),
    (None, {"models.base_threshold": "x"}, "models.base_threshold", "a number"),
    (None, {"mqtt.nope": "1"}, "mqtt.nope", "unknown key"),
    (None, {"nope.port": "1"}, "nope", "unknown section"),
    (None, {"colour": "red"}, "colour", "unknown top-level key"),
]


@pytest.mark.parametrize(("text", "overrides", "key", "words"), BAD_CASES)
def test_bad_value_names_key(
    tmp_path: Path, text: str | None, overrides: dict[str, str], key: str, words: str
) -> None:
    path = write(tmp_path, text) if text is not None else None
    with pytest.raises(ConfigError) as caught:
        load_config(path, overrides)
    message = str(caught.value)
    assert key in message
    assert words in message


def test_invalid_toml_names_file(tmp_path: Path) -> None:
    path = write(tmp_path, "[mqtt\n")
    with pytest.raises(ConfigError, match="invalid TOML"):
        load_config(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "absent.toml")


def test_oversize_file_rejected(tmp_path: Path) -> None:
    path = write(tmp_path, "# " + "x" * (1024 * 1024) + "\n")
    with pytest.raises(ConfigError, match="larger than"):
        load_config(path)


def test_direct_construction_validates() -> None:
    from gestured.runtime.config import MqttConfig

    with pytest.raises(ConfigError, match="mqtt.port"):
        MqttConfig(port=0)
