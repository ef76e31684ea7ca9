"""`gestured publish`: a signed bundle folder that any static web server serves.

Layout of the output folder:

- `manifest.json`: format, bundle version, created and expires times, and per
  family the labels, feature spec, input shape, validation vectors and the
  files with size and sha256;
- `manifest.sig`: the detached 64-byte Ed25519 signature of manifest.json;
- the files, named `<family>-<sha256 prefix>-<name>` so that a cache can never
  serve an old file under a new manifest.

Old files stay in place: a device that fetched the previous manifest a moment
ago can still download what it names.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gestured.atomic import atomic_write_bytes
from gestured.base_model import read_manifest, sha256_file, verify_file
from gestured.dataset.schema import FAMILIES
from gestured.errors import GesturedError, ModelError
from gestured.ota import keys
from gestured.ota.manifest import (
    BUNDLE_FORMAT,
    BUNDLE_KIND,
    MANIFEST_FILE,
    SIGNATURE_FILE,
    ManifestError,
    parse_manifest,
)
from gestured.ota.vectors import make_vectors

logger = logging.getLogger(__name__)

DEFAULT_EXPIRES_DAYS = 60
SHA_PREFIX = 16


class PublishError(GesturedError):
    """A bundle that cannot be published as requested."""


def _iso(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat()


def published_version(out_dir: Path) -> int:
    """Return the bundle version in `out_dir`, 0 when there is none."""
    path = Path(out_dir) / MANIFEST_FILE
    if not path.exists():
        return 0
    try:
        return parse_manifest(path.read_bytes()).version
    except (OSError, ManifestError) as exc:
        raise PublishError(
            f"{path}: cannot read the published manifest ({exc})"
        ) from exc


def _family_files(folder: Path, manifest: dict[str, Any]) -> list[tuple[str, Path]]:
    """Return (install name, path) of every file the family's manifest names."""
    where = str(folder / MANIFEST_FILE)
    entries = list(manifest["files"].values())
    if isinstance(manifest.get("background"), dict):
        entries.append(manifest["background"])
    files = [(MANIFEST_FILE, folder / MANIFEST_FILE)]
    for entry in entries:
        path = verify_file(folder, entry, where)
        files.append((path.name, path))
    return files


def _family_entry(
    family: str, folder: Path, out_dir: Path, seed: int
) -> dict[str, Any]:
    manifest = read_manifest(folder)
    if manifest["family"] != family:
        raise PublishError(f"{folder}: manifest is for family {manifest['family']}")
    variants = list(manifest["files"])
    files = []
    for install_as, path in _family_files(folder, manifest):
        digest = sha256_file(path)
        name = f"{family}-{digest[:SHA_PREFIX]}-{install_as}"
        target = out_dir / name
        if not target.exists():
            atomic_write_bytes(target, path.read_bytes())
        files.append(
            {
                "name": name,
                "install_as": install_as,
                "size": path.stat().st_size,
                "sha256": digest,
            }
        )
    entry: dict[str, Any] = {
        "model_version": str(manifest.get("version", "")),
        "labels": manifest["labels"],
        "feature": manifest["feature"],
        "input_shape": manifest.get("input_shape", [1, manifest["feature"]["size"]]),
        "files": files,
    }
    if variants:
        features, expected = make_vectors(folder, variants, seed=seed)
        entry["validation"] = {"features": features, "expected": expected}
    return entry


def publish_bundle(
    models_dir: Path,
    private_key: Path,
    out_dir: Path,
    version: int,
    *,
    expires_days: float = DEFAULT_EXPIRES_DAYS,
    now: float | None = None,
) -> Path:
    """Write the bundle of the model folders in `models_dir`; return manifest path.

    `version` must exceed the version already in `out_dir`, since devices
    install only strictly newer bundles.
    """
    models_dir, out_dir = Path(models_dir), Path(out_dir)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise PublishError(f"bundle version must be a positive integer, got {version}")
    if expires_days <= 0:
        raise PublishError(f"expiry must be positive, got {expires_days} days")
    key = keys.load_private_key(private_key)
    existing = published_version(out_dir)
    if version <= existing:
        raise PublishError(
            f"{out_dir}: version {version} is not newer than published {existing}"
        )
    folders = {
        family: models_dir / family
        for family in FAMILIES
        if (models_dir / family / MANIFEST_FILE).is_file()
    }
    if not folders:
        raise PublishError(f"{models_dir}: no model folder with a manifest.json")
    out_dir.mkdir(parents=True, exist_ok=True)
    created = int(now if now is not None else time.time())
    expires = created + int(expires_days * 86400)
    try:
        families = {
            family: _family_entry(family, folder, out_dir, seed=version)
            for family, folder in folders.items()
        }
    except (ModelError, ValueError) as exc:
        raise PublishError(f"cannot publish: {exc}") from exc
    manifest = {
        "kind": BUNDLE_KIND,
        "format": BUNDLE_FORMAT,
        "version": version,
        "created": created,
        "created_iso": _iso(created),
        "expires": expires,
        "expires_iso": _iso(expires),
        "families": families,
    }
    raw = json.dumps(manifest, indent=1, sort_keys=True).encode("utf-8") + b"\n"
    parse_manifest(raw)  # the device's checks, run here first
    # The signature goes first: a device that fetches in between gets a
    # mismatch and retries at its next check, never an unsigned manifest.
    atomic_write_bytes(out_dir / SIGNATURE_FILE, keys.sign(key, raw))
    atomic_write_bytes(out_dir / MANIFEST_FILE, raw)
    logger.info(
        "Published bundle %d with %s to %s", version, ", ".join(families), out_dir
    )
    return out_dir / MANIFEST_FILE


def copy_model_set(src: Path, dst: Path) -> None:
    """Copy the family folders of a model set, used to carry unchanged families."""
    for family in FAMILIES:
        if (Path(src) / family / MANIFEST_FILE).is_file():
            shutil.copytree(Path(src) / family, Path(dst) / family, dirs_exist_ok=True)
