"""Checks of a downloaded bundle before it may replace the active models."""

from __future__ import annotations

import logging
from pathlib import Path

from gestured.base_model import BaseModel, read_manifest
from gestured.errors import ModelError
from gestured.ota.manifest import BundleManifest
from gestured.ota.vectors import check_vectors

logger = logging.getLogger(__name__)


def validate_staged(staging: Path, manifest: BundleManifest) -> str | None:
    """Return None when each family folder loads and reproduces its vectors.

    Otherwise return the first problem, naming the family and variant.
    """
    for family, entry in manifest.families.items():
        folder = staging / family
        try:
            model_manifest = read_manifest(folder)
        except ModelError as exc:
            return f"{family}: {exc}"
        if model_manifest["family"] != family:
            return f"{family}: folder holds a {model_manifest['family']} model"
        if model_manifest["labels"] != entry.labels:
            return f"{family}: model labels differ from the bundle manifest"
        variants = list(model_manifest["files"])
        if set(variants) != set(entry.validation_expected):
            return f"{family}: validation vectors missing for {variants}"
        for variant in variants:
            try:
                model = BaseModel.load(folder, variant=variant)
            except ModelError as exc:
                return f"{family}/{variant}: {exc}"
            problem = check_vectors(
                model, entry.validation_features, entry.validation_expected[variant]
            )
            if problem:
                return f"{family}/{variant}: {problem}"
    return None
