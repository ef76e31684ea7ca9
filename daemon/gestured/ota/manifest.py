"""The signed bundle manifest: its format, and the checks a device runs on it.

The manifest is the only file the signature covers directly. It names every
other file of the bundle with its size and sha256, so a verified manifest
extends trust to each byte the device later installs.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from gestured.dataset.schema import FAMILIES, LABEL_PATTERN
from gestured.features import FEATURE_SPECS

BUNDLE_FORMAT = 1
BUNDLE_KIND = "gestured-model-bundle"
MANIFEST_FILE = "manifest.json"
SIGNATURE_FILE = "manifest.sig"
MAX_MANIFEST_BYTES = 1024 * 1024
MAX_VALIDATION_VECTORS = 1024
# Files a family folder may contain once installed; anything else is rejected.
FILE_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
SHA256_PATTERN = re.compile(r"^[0-9a-f]{64}$")


class ManifestError(ValueError):
    """A bundle manifest that does not fit the format."""


@dataclass(frozen=True)
class BundleFile:
    name: str  # file name inside the bundle folder on the server
    install_as: str  # file name inside the family folder on the device
    size: int
    sha256: str


@dataclass(frozen=True)
class FamilyEntry:
    family: str
    model_version: str
    labels: list[str]
    files: list[BundleFile]
    validation_features: list[list[float]]
    validation_expected: dict[str, list[str]]  # variant -> expected labels

    @property
    def trained(self) -> bool:
        return bool(self.validation_expected)


@dataclass(frozen=True)
class BundleManifest:
    version: int
    created: int
    expires: int
    families: dict[str, FamilyEntry]
    raw: bytes


def check_file_name(name: Any, what: str) -> str:
    """Return `name` if it is a plain file name, with no folder part or '..'."""
    if not isinstance(name, str) or not FILE_NAME_PATTERN.fullmatch(name):
        raise ManifestError(f"{what}: invalid file name {name!r}")
    if ".." in name:
        raise ManifestError(f"{what}: invalid file name {name!r}")
    return name


def _int(value: Any, what: str, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ManifestError(f"{what} must be an integer >= {minimum}, got {value!r}")
    return value


def _family(family: str, entry: Any) -> FamilyEntry:
    where = f"family {family}"
    if family not in FAMILIES:
        raise ManifestError(f"unknown family {family!r}")
    if not isinstance(entry, dict):
        raise ManifestError(f"{where}: entry must be an object")
    labels = entry.get("labels")
    if not isinstance(labels, list) or not all(
        isinstance(label, str) and LABEL_PATTERN.fullmatch(label) for label in labels
    ):
        raise ManifestError(f"{where}: labels must be a list of plain names")
    spec = FEATURE_SPECS[family]
    feature = entry.get("feature")
    if feature != {"name": spec.name, "size": spec.size}:
        raise ManifestError(f"{where}: feature spec {feature!r} is not {spec.name}")
    files_raw = entry.get("files")
    if not isinstance(files_raw, list) or not files_raw:
        raise ManifestError(f"{where}: files must be a non-empty list")
    files = []
    for item in files_raw:
        if not isinstance(item, dict):
            raise ManifestError(f"{where}: file entry must be an object")
        sha = item.get("sha256")
        if not isinstance(sha, str) or not SHA256_PATTERN.fullmatch(sha):
            raise ManifestError(f"{where}: invalid sha256 {sha!r}")
        files.append(
            BundleFile(
                name=check_file_name(item.get("name"), where),
                install_as=check_file_name(item.get("install_as"), where),
                size=_int(item.get("size"), f"{where}: size"),
                sha256=sha,
            )
        )
    installed = [item.install_as for item in files]
    if len(set(installed)) != len(installed) or MANIFEST_FILE not in installed:
        raise ManifestError(f"{where}: files must name manifest.json once each")
    validation = entry.get("validation", {})
    if not isinstance(validation, dict):
        raise ManifestError(f"{where}: validation must be an object")
    features = validation.get("features", [])
    expected = validation.get("expected", {})
    if not isinstance(features, list) or len(features) > MAX_VALIDATION_VECTORS:
        raise ManifestError(f"{where}: validation features must be a short list")
    for row in features:
        if (
            not isinstance(row, list)
            or len(row) != spec.size
            or not all(
                isinstance(x, (int, float)) and not isinstance(x, bool) for x in row
            )
        ):
            raise ManifestError(f"{where}: validation vector of the wrong size")
    if not isinstance(expected, dict):
        raise ManifestError(f"{where}: validation expected must be an object")
    for variant, answer in expected.items():
        if (
            not isinstance(answer, list)
            or len(answer) != len(features)
            or not all(label in labels for label in answer)
        ):
            raise ManifestError(f"{where}: expected labels of {variant!r} invalid")
    if expected and not features:
        raise ManifestError(f"{where}: expected labels without validation vectors")
    return FamilyEntry(
        family=family,
        model_version=str(entry.get("model_version", "")),
        labels=list(labels),
        files=files,
        validation_features=features,
        validation_expected=dict(expected),
    )


def parse_manifest(raw: bytes) -> BundleManifest:
    """Parse and validate bundle manifest bytes (already signature-checked)."""
    if len(raw) > MAX_MANIFEST_BYTES:
        raise ManifestError(f"manifest of {len(raw)} bytes exceeds the limit")
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ManifestError(f"manifest is not JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise ManifestError("manifest must be a JSON object")
    if data.get("kind") != BUNDLE_KIND or data.get("format") != BUNDLE_FORMAT:
        raise ManifestError(
            f"unknown manifest kind/format {data.get('kind')!r}/{data.get('format')!r}"
        )
    families = data.get("families")
    if not isinstance(families, dict) or not families:
        raise ManifestError("manifest names no families")
    parsed = {name: _family(name, entry) for name, entry in families.items()}
    names = [item.name for entry in parsed.values() for item in entry.files]
    if len(set(names)) != len(names):
        # Two entries naming one server file could carry two different hashes.
        raise ManifestError("manifest names a bundle file twice")
    return BundleManifest(
        version=_int(data.get("version"), "version", 1),
        created=_int(data.get("created"), "created"),
        expires=_int(data.get("expires"), "expires"),
        families=parsed,
        raw=raw,
    )
