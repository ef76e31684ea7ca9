"""Typed configuration settings: kind, bounds, checks and conversion of text values.

Each dataclass field made by `setting` carries its kind and limits in its
metadata, so one checker validates values from TOML files, `--set` flags and
direct construction alike, and every error names the dotted key.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gestured.errors import ConfigError

KINDS = ("bool", "int", "float", "str", "path", "list")
TRUE_WORDS = ("true", "yes", "on", "1")
FALSE_WORDS = ("false", "no", "off", "0")
MAX_TEXT_LENGTH = 4096


def setting(
    default: Any,
    kind: str,
    *,
    choices: Sequence[Any] | None = None,
    minimum: float | None = None,
    maximum: float | None = None,
    optional: bool = False,
    factory: Any = None,
) -> Any:
    """Declare a configuration field; `optional` paths accept "" for none."""
    if kind not in KINDS:
        raise ValueError(f"unknown setting kind {kind!r}")
    metadata = {
        "kind": kind,
        "choices": tuple(choices) if choices is not None else None,
        "minimum": minimum,
        "maximum": maximum,
        "optional": optional,
    }
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def settings_of(cls: Any) -> list[dataclasses.Field[Any]]:
    """Return the fields of a config dataclass that are settings, not sections."""
    return [f for f in dataclasses.fields(cls) if "kind" in f.metadata]


def dotted(section: str, name: str) -> str:
    return f"{section}.{name}" if section else name


def describe_allowed(field: dataclasses.Field[Any]) -> str:
    """Describe the values a field accepts, for error messages."""
    meta = field.metadata
    if meta["choices"] is not None:
        return "one of " + ", ".join(repr(choice) for choice in meta["choices"])
    kind = meta["kind"]
    nouns = {
        "bool": "true or false",
        "int": "an integer",
        "float": "a number",
        "str": "a string",
        "path": "a file path" + (' or "" for none' if meta["optional"] else ""),
        "list": "a list of strings",
    }
    text = nouns[kind]
    low, high = meta["minimum"], meta["maximum"]
    if low is not None and high is not None:
        text += f" from {low} to {high}"
    elif low is not None:
        text += f" >= {low}"
    elif high is not None:
        text += f" <= {high}"
    return text


def invalid(key: str, value: Any, allowed: str) -> ConfigError:
    return ConfigError(f"invalid value {value!r} for {key}: expected {allowed}")


def _normalize(field: dataclasses.Field[Any], key: str, value: Any) -> Any:
    """Return `value` converted to the field's Python type, or raise ConfigError."""
    kind = field.metadata["kind"]
    allowed = describe_allowed(field)
    if kind == "bool":
        if not isinstance(value, bool):
            raise invalid(key, value, allowed)
        return value
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise invalid(key, value, allowed)
        return value
    if kind == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise invalid(key, value, allowed)
        if not math.isfinite(value):
            raise invalid(key, value, allowed)
        return float(value)
    if kind == "str":
        if not isinstance(value, str) or len(value) > MAX_TEXT_LENGTH:
            raise invalid(key, value, allowed)
        return value
    if kind == "path":
        if isinstance(value, Path):
            value = str(value)
        if value is None and field.metadata["optional"]:
            return None
        if not isinstance(value, str) or len(value) > MAX_TEXT_LENGTH or "\0" in value:
            raise invalid(key, value, allowed)
        if value == "":
            if field.metadata["optional"]:
                return None
            raise invalid(key, value, allowed)
        return Path(value)
    # kind == "list"
    if not isinstance(value, (list, tuple)) or not all(
        isinstance(item, str) for item in value
    ):
        raise invalid(key, value, allowed)
    return tuple(value)


def check_settings(obj: Any, section: str) -> None:
    """Normalize and validate every setting of a frozen dataclass in place."""
    for field in settings_of(obj):
        key = dotted(section, field.name)
        value = _normalize(field, key, getattr(obj, field.name))
        meta = field.metadata
        if meta["choices"] is not None and value not in meta["choices"]:
            raise invalid(key, value, describe_allowed(field))
        low, high = meta["minimum"], meta["maximum"]
        if meta["kind"] in ("int", "float") and (
            (low is not None and value < low) or (high is not None and value > high)
        ):
            raise invalid(key, value, describe_allowed(field))
        object.__setattr__(obj, field.name, value)


def parse_text(field: dataclasses.Field[Any], key: str, text: str) -> Any:
    """Convert a `--set key=value` text to the field's kind, before checking."""
    kind = field.metadata["kind"]
    allowed = describe_allowed(field)
    if kind == "bool":
        word = text.strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
        raise invalid(key, text, allowed)
    if kind == "int":
        try:
            return int(text.strip())
        except ValueError:
            raise invalid(key, text, allowed) from None
    if kind == "float":
        try:
            return float(text.strip())
        except ValueError:
            raise invalid(key, text, allowed) from None
    if kind == "list":
        return [item.strip() for item in text.split(",") if item.strip()]
    return text
