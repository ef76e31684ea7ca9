"""Reading the TOML file, applying `--set` overrides and resolving paths.

Path rules:

- `models_dir`, when relative, is inside `state_dir`, because model updates
  replace models there and the state directory is the one writable place.
- Any other relative path written in the config file is relative to the
  directory that contains the config file, so `ca_file = "ca.pem"` beside
  /etc/gestured/gestured.toml means /etc/gestured/ca.pem.
- Relative paths given by `--set` are relative to the current directory, as
  with any other command-line argument.
- `source.uri` is not a path setting and is passed on unchanged.
"""

from __future__ import annotations

import dataclasses
import difflib
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gestured.errors import ConfigError
from gestured.runtime.config import SECTIONS, Config
from gestured.runtime.config_fields import dotted, parse_text, settings_of

MAX_CONFIG_BYTES = 1024 * 1024
# Paths that the origin rule does not touch; see the module docstring.
STATE_RELATIVE = {"models_dir"}


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_CONFIG_BYTES + 1)
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file ({exc})") from exc
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(f"{path}: config file larger than {MAX_CONFIG_BYTES} bytes")
    try:
        return tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: config file is not UTF-8 ({exc})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML ({exc})") from exc


def _unknown(kind: str, name: str, known: list[str], section: str = "") -> ConfigError:
    close = difflib.get_close_matches(name, known, n=1)
    hint = f" (did you mean {dotted(section, close[0])}?)" if close else ""
    return ConfigError(
        f"unknown {kind} {dotted(section, name)}{hint}: expected one of "
        f"{', '.join(sorted(known))}"
    )


def _fields_by_name(cls: Any) -> dict[str, dataclasses.Field[Any]]:
    return {field.name: field for field in settings_of(cls)}


def _rebase(field: dataclasses.Field[Any], value: Any, base: Path) -> Any:
    """Make a relative path value absolute against `base`; leave anything else."""
    if field.metadata["kind"] != "path" or field.name in STATE_RELATIVE:
        return value
    if isinstance(value, str) and value and not Path(value).is_absolute():
        return str(base / value)
    return value


class _Collector:
    """Gathers raw values per section before the dataclasses check them."""

    def __init__(self) -> None:
        self.top: dict[str, Any] = {}
        self.sections: dict[str, dict[str, Any]] = {name: {} for name in SECTIONS}

    def lookup(self, section: str, name: str) -> dataclasses.Field[Any]:
        cls = SECTIONS[section] if section else Config
        fields = _fields_by_name(cls)
        if name not in fields:
            kind = "key" if section else "top-level key"
            raise _unknown(kind, name, list(fields), section)
        return fields[name]

    def store(self, section: str, name: str, value: Any) -> None:
        target = self.sections[section] if section else self.top
        target[name] = value

    def add_file(self, data: dict[str, Any], base: Path) -> None:
        for key, value in data.items():
            if key in SECTIONS:
                if not isinstance(value, dict):
                    raise ConfigError(f"{key} must be a [{key}] table")
                for name, item in value.items():
                    field = self.lookup(key, name)
                    self.store(key, name, _rebase(field, item, base))
            elif isinstance(value, dict):
                raise _unknown("section", key, list(SECTIONS))
            else:
                field = self.lookup("", key)
                self.store("", key, _rebase(field, value, base))

    def add_override(self, key: str, text: str) -> None:
        section, _, name = key.strip().rpartition(".")
        if section and section not in SECTIONS:
            raise _unknown("section", section, list(SECTIONS))
        field = self.lookup(section, name)
        value = parse_text(field, dotted(section, name), text)
        self.store(section, name, _rebase(field, value, Path.cwd()))

    def build(self) -> Config:
        sections = {name: cls(**self.sections[name]) for name, cls in SECTIONS.items()}
        return Config(**self.top, **sections)


def build_config(path: str | Path | None, overrides: Mapping[str, str]) -> Config:
    """Implement `config.load_config`."""
    collector = _Collector()
    if path is not None:
        path = Path(path)
        collector.add_file(_read_toml(path), path.absolute().parent)
    for key, text in overrides.items():
        if not isinstance(text, str):
            raise TypeError(f"override {key!r} must be text, not {type(text).__name__}")
        collector.add_override(key, text)
    config = collector.build()
    state_dir = config.state_dir
    if not state_dir.is_absolute():
        # A relative default or value that no rule rebased: use the current directory.
        state_dir = Path.cwd() / state_dir
    models_dir = config.models_dir
    if not models_dir.is_absolute():
        models_dir = state_dir / models_dir
    return dataclasses.replace(config, state_dir=state_dir, models_dir=models_dir)
