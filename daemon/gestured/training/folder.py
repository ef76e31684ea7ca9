"""Writing a model folder: model files, background set and manifest.json."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np

from gestured.atomic import atomic_write_bytes
from gestured.base_model import MANIFEST_FORMAT, MANIFEST_NAME, sha256_file
from gestured.dataset.schema import FAMILIES, LABEL_MAX_LENGTH
from gestured.features import FEATURE_SPECS

BACKGROUND_NAME = "background.npz"


def file_entry(folder: Path, name: str) -> dict[str, Any]:
    path = folder / name
    return {"path": name, "size": path.stat().st_size, "sha256": sha256_file(path)}


def base_manifest(family: str, version: str, labels: list[str]) -> dict[str, Any]:
    spec = FEATURE_SPECS[family]
    return {
        "format": MANIFEST_FORMAT,
        "family": family,
        "version": version,
        "labels": labels,
        "feature": {"name": spec.name, "size": spec.size},
        "input_shape": [1, spec.size],
        "files": {},
    }


def write_manifest(folder: Path, manifest: dict[str, Any]) -> Path:
    """Write manifest.json last, so it only ever names files already complete."""
    path = folder / MANIFEST_NAME
    text = json.dumps(manifest, indent=2, sort_keys=False) + "\n"
    atomic_write_bytes(path, text.encode())
    return path


def write_stub(models: Path, family: str, version: str) -> Path:
    """Write a manifest without files, so that the daemon skips `family`."""
    folder = models / family
    folder.mkdir(parents=True, exist_ok=True)
    return write_manifest(folder, base_manifest(family, version, []))


def write_stubs(models: Path, version: str, trained: str) -> None:
    for family in FAMILIES:
        if family != trained and not (models / family / MANIFEST_NAME).exists():
            write_stub(models, family, version)


def background_bytes(features: np.ndarray, labels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.savez_compressed(
        buffer,
        features=np.asarray(features, dtype=np.float32),
        labels=np.asarray(labels, dtype=f"<U{LABEL_MAX_LENGTH}"),
    )
    return buffer.getvalue()


def balanced_background(
    features: np.ndarray, labels: np.ndarray, per_class: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Pick up to `per_class` rows of each label, at random but reproducibly."""
    rng = np.random.default_rng(seed)
    chosen = []
    for label in sorted(set(labels.tolist())):
        rows = np.flatnonzero(labels == label)
        chosen.append(rng.choice(rows, size=min(per_class, len(rows)), replace=False))
    index = np.sort(np.concatenate(chosen))
    return features[index], labels[index]
