"""Feature vectors of base gestures that a user model learns to call `__base__`."""

from __future__ import annotations

import logging
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gestured.base_model import read_manifest, verify_file
from gestured.dataset.schema import LABEL_PATTERN, check_family
from gestured.errors import ModelError
from gestured.features import FEATURE_SPECS

logger = logging.getLogger(__name__)

BACKGROUND_NAME = "background.npz"
MAX_BACKGROUND_ROWS = 500_000
MAX_BACKGROUND_BYTES = 256 * 1024 * 1024


@dataclass(frozen=True)
class Background:
    """Base-gesture samples of one family.

    features: float32 (N, size) from `features.features_for`.
    labels: unicode (N,), the base label of each row.
    base_version: version of the base model that shipped the set, "" if none.
    """

    family: str
    features: np.ndarray
    labels: np.ndarray
    base_version: str = ""

    @classmethod
    def build(
        cls, family: str, features: object, labels: object, base_version: str = ""
    ) -> Background:
        """Return a validated Background, raising ModelError on bad arrays."""
        check_family(family)
        size = FEATURE_SPECS[family].size
        matrix = np.asarray(features)
        names = np.asarray(labels)
        where = f"{family} background"
        if matrix.ndim != 2 or matrix.shape[1] != size:
            raise ModelError(
                f"{where}: features must have shape (N, {size}), got {matrix.shape}"
            )
        if not 1 <= matrix.shape[0] <= MAX_BACKGROUND_ROWS:
            raise ModelError(
                f"{where}: needs 1 to {MAX_BACKGROUND_ROWS} rows, got {matrix.shape[0]}"
            )
        if not np.issubdtype(matrix.dtype, np.floating):
            raise ModelError(f"{where}: features must be floats, got {matrix.dtype}")
        if not np.isfinite(matrix).all():
            raise ModelError(f"{where}: features contain NaN or infinity")
        if names.shape != (matrix.shape[0],) or names.dtype.kind != "U":
            raise ModelError(f"{where}: labels must be N strings, got {names.dtype}")
        for label in np.unique(names).tolist():
            if not LABEL_PATTERN.fullmatch(label):
                raise ModelError(f"{where}: invalid label {label!r}")
        return cls(family, matrix.astype(np.float32), names, base_version)


def load_background_file(path: Path, family: str, base_version: str = "") -> Background:
    """Load `background.npz` (float32 `features`, unicode `labels`) safely."""
    path = Path(path)
    try:
        if path.stat().st_size > MAX_BACKGROUND_BYTES:
            raise ModelError(f"{path}: larger than {MAX_BACKGROUND_BYTES} bytes")
        with np.load(path, allow_pickle=False) as archive:
            missing = {"features", "labels"} - set(archive.files)
            if missing:
                raise ModelError(
                    f"{path}: missing array(s) {', '.join(sorted(missing))}"
                )
            features = archive["features"]
            labels = archive["labels"]
    except FileNotFoundError as exc:
        raise ModelError(f"{path}: background file not found") from exc
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise ModelError(f"{path}: corrupt or unreadable background ({exc})") from exc
    try:
        return Background.build(family, features, labels, base_version)
    except ModelError as exc:
        raise ModelError(f"{path}: {exc}") from exc


def load_background(model_folder: Path) -> Background:
    """Load the background set that a base model folder's manifest lists.

    The file's size and sha256 are checked against the manifest first.
    """
    folder = Path(model_folder)
    manifest = read_manifest(folder)
    entry = manifest.get("background")
    if entry is None:
        raise ModelError(f"{folder}: manifest lists no background set")
    path = verify_file(folder, entry, str(folder / "manifest.json"))
    background = load_background_file(
        path, manifest["family"], str(manifest.get("version", ""))
    )
    logger.info(
        "Loaded %s background with %d rows", background.family, len(background.labels)
    )
    return background
