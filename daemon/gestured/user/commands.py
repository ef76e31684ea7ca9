"""Schemas and validation of the user-gesture MQTT commands.

Commands arrive on `<prefix>/<device_id>/cmd/<name>` with a JSON object as
payload. Every field is checked: unknown fields, wrong types (a JSON `true` is
not a number), out-of-range values and labels outside `LABEL_PATTERN` raise
`CommandError`, whose message is the reply text.

- `record`: `label` (required), `family` (default static_single), `samples`
  (1 to 500, default 50), `countdown` seconds (0 to 30, default 3), `timeout`
  seconds (1 to 300, default 60), `request_id`.
- `delete`: `label` (required), `request_id`.
- `list`: `request_id`.
- `update`: `request_id`; served by the updater when `update.url` is set.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from gestured.dataset.schema import FAMILIES
from gestured.errors import DatasetError, GesturedError
from gestured.user.model import check_user_label
from gestured.user.recorder import RecordRequest

MAX_PAYLOAD_BYTES = 4096
REQUEST_ID_PATTERN = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")


class CommandError(GesturedError, ValueError):
    """A rejected command; the message is the reply text."""

    def __init__(self, message: str, request_id: str = "") -> None:
        super().__init__(message)
        self.request_id = request_id


@dataclass(frozen=True)
class Field:
    kind: str  # "label", "family", "int", "number" or "request_id"
    required: bool = False
    default: Any = None
    low: float = 0
    high: float = 0


SCHEMAS: dict[str, dict[str, Field]] = {
    "record": {
        "label": Field("label", required=True),
        "family": Field("family", default="static_single"),
        "samples": Field("int", default=50, low=1, high=500),
        "countdown": Field("number", default=3.0, low=0, high=30),
        "timeout": Field("number", default=60.0, low=1, high=300),
        "request_id": Field("request_id", default=""),
    },
    "delete": {
        "label": Field("label", required=True),
        "request_id": Field("request_id", default=""),
    },
    "list": {"request_id": Field("request_id", default="")},
    "update": {"request_id": Field("request_id", default="")},
}


@dataclass(frozen=True)
class Command:
    """A validated command with every field filled in."""

    name: str
    request_id: str
    fields: dict[str, Any]

    def record_request(self) -> RecordRequest:
        if self.name != "record":
            raise RuntimeError(f"{self.name} command is not a record command")
        return RecordRequest(
            label=self.fields["label"],
            family=self.fields["family"],
            samples=self.fields["samples"],
            countdown=float(self.fields["countdown"]),
            timeout=float(self.fields["timeout"]),
            request_id=self.request_id,
        )


def parse_command(name: str, payload: bytes) -> Command:
    """Validate one command; raise CommandError with the reply text on any problem."""
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise CommandError(
            f"payload of {len(payload)} bytes exceeds the limit of "
            f"{MAX_PAYLOAD_BYTES} bytes"
        )
    try:
        data = json.loads(payload.decode("utf-8")) if payload.strip() else {}
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CommandError(f"payload is not valid UTF-8 JSON: {exc}") from exc
    except RecursionError as exc:
        raise CommandError("payload is nested too deeply") from exc
    if not isinstance(data, dict):
        raise CommandError(f"payload must be a JSON object, got {type(data).__name__}")
    request_id = _salvage_request_id(data)
    schema = SCHEMAS.get(name)
    if schema is None:
        raise CommandError(
            f"unknown command {name!r}: expected one of {', '.join(SCHEMAS)}",
            request_id,
        )
    unknown = sorted(set(data) - set(schema))
    if unknown:
        raise CommandError(
            f"unknown field(s) {', '.join(unknown)} for {name}: "
            f"allowed are {', '.join(schema)}",
            request_id,
        )
    fields = {}
    for key, spec in schema.items():
        if key not in data:
            if spec.required:
                raise CommandError(f"{name} needs the field {key}", request_id)
            fields[key] = spec.default
            continue
        try:
            fields[key] = _check(key, spec, data[key])
        except CommandError as exc:
            raise CommandError(str(exc), request_id) from exc
    return Command(name, fields["request_id"], fields)


def _check(key: str, spec: Field, value: Any) -> Any:
    if spec.kind == "label":
        if not isinstance(value, str):
            raise CommandError(f"{key} must be a string")
        try:
            return check_user_label(value)
        except DatasetError as exc:
            raise CommandError(str(exc)) from exc
    if spec.kind == "family":
        if not isinstance(value, str) or value not in FAMILIES:
            raise CommandError(f"{key} must be one of {', '.join(FAMILIES)}")
        return value
    if spec.kind == "request_id":
        if not isinstance(value, str) or not REQUEST_ID_PATTERN.fullmatch(value):
            raise CommandError(
                f"{key} must be 1 to 64 letters, digits or the characters _ . : -"
            )
        return value
    # bool is a subclass of int in Python, but `true` is no count of seconds.
    numeric = (int,) if spec.kind == "int" else (int, float)
    if isinstance(value, bool) or not isinstance(value, numeric):
        wanted = "an integer" if spec.kind == "int" else "a number"
        raise CommandError(f"{key} must be {wanted}, got {_shorten(json.dumps(value))}")
    if not spec.low <= value <= spec.high:
        raise CommandError(
            f"{key} must be between {spec.low:g} and {spec.high:g}, "
            f"got {_shorten(str(value))}"
        )
    return value


def _shorten(text: str, limit: int = 40) -> str:
    # A rejected value can be thousands of digits; replies and logs echo a prefix.
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} chars)"


def _salvage_request_id(data: dict[str, Any]) -> str:
    """Return the request id of a rejected command if it is valid, so the reply
    can name it."""
    value = data.get("request_id")
    if isinstance(value, str) and REQUEST_ID_PATTERN.fullmatch(value):
        return value
    return ""
