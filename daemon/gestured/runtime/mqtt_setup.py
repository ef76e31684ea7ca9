"""Credentials, TLS and reconnect settings of the paho client, from [mqtt]."""

from __future__ import annotations

import logging
import ssl
from pathlib import Path

import paho.mqtt.client as mqtt

from gestured.errors import ConfigError
from gestured.runtime.config import MqttConfig

logger = logging.getLogger(__name__)

MAX_PASSWORD_FILE_BYTES = 4096


def read_password(path: Path) -> str:
    """Return the first line of the password file; raise ConfigError if unreadable.

    Only the path appears in messages, never the content.
    """
    try:
        with Path(path).open("rb") as handle:
            raw = handle.read(MAX_PASSWORD_FILE_BYTES + 1)
    except OSError as exc:
        raise ConfigError(
            f"cannot read mqtt.password_file {path}: {exc.strerror}"
        ) from None
    if len(raw) > MAX_PASSWORD_FILE_BYTES:
        raise ConfigError(
            f"mqtt.password_file {path} is larger than {MAX_PASSWORD_FILE_BYTES} bytes"
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"mqtt.password_file {path} is not UTF-8") from None
    lines = text.splitlines()
    return lines[0] if lines else ""


def _check_readable(key: str, path: Path | None) -> None:
    if path is None:
        return
    try:
        with Path(path).open("rb"):
            pass
    except OSError as exc:
        raise ConfigError(f"cannot read {key} {path}: {exc.strerror}") from None


def configure_client(client: mqtt.Client, config: MqttConfig) -> None:
    """Apply backoff, credentials and TLS to a client that has not connected yet."""
    client.reconnect_delay_set(config.reconnect_min_delay, config.reconnect_max_delay)
    if config.username:
        password = None
        if config.password_file is not None:
            password = read_password(config.password_file)
        client.username_pw_set(config.username, password)
    if not config.tls:
        return
    _check_readable("mqtt.ca_file", config.ca_file)
    _check_readable("mqtt.cert_file", config.cert_file)
    _check_readable("mqtt.key_file", config.key_file)
    try:
        context = ssl.create_default_context(
            ssl.Purpose.SERVER_AUTH,
            cafile=str(config.ca_file) if config.ca_file else None,
        )
    except ssl.SSLError as exc:
        raise ConfigError(f"invalid mqtt.ca_file {config.ca_file}: {exc}") from None
    if config.cert_file is not None and config.key_file is not None:
        try:
            context.load_cert_chain(str(config.cert_file), str(config.key_file))
        except (ssl.SSLError, ValueError) as exc:
            raise ConfigError(
                f"invalid mqtt.cert_file {config.cert_file} or mqtt.key_file "
                f"{config.key_file}: {exc}"
            ) from None
    client.tls_set_context(context)
