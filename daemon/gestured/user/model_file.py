"""Saving and loading user models as plain `.npz` arrays, never pickles."""

from __future__ import annotations

import io
import logging
import time
from pathlib import Path

import numpy as np

from gestured.atomic import atomic_write_bytes
from gestured.dataset.schema import FAMILIES, LABEL_PATTERN
from gestured.errors import ModelError
from gestured.features import FEATURE_SPECS
from gestured.npz import read_npz
from gestured.user.model import BACKGROUND_LABEL, MIN_SCALE, UserModel

logger = logging.getLogger(__name__)

MODEL_FORMAT = 1
MAX_MODEL_BYTES = 16 * 1024 * 1024
MAX_CLASSES = 1000
# Training keeps every scale at or above MIN_SCALE. Weights and means of a
# trained model stay far below this bound (an estimate: regularized logistic
# regression on standardized features), and the bound keeps the products of
# one frame's features and weights finite in float64.
MAX_ABS_PARAMETER = 1e6
MODEL_FIELDS = frozenset(
    {
        "format",
        "family",
        "feature_name",
        "feature_size",
        "base_version",
        "classes",
        "coef",
        "intercept",
        "mean",
        "scale",
        "counts",
        "saved_at",
    }
)


def model_arrays(model: UserModel) -> dict[str, np.ndarray]:
    """Return the arrays that a user model file stores, keyed by name."""
    return {
        "format": np.int32(MODEL_FORMAT),
        "family": np.array(model.family, dtype="<U16"),
        "feature_name": np.array(model.feature.name, dtype="<U32"),
        "feature_size": np.int32(model.feature.size),
        "base_version": np.array(model.base_version, dtype="<U64"),
        "classes": np.array(model.classes, dtype="<U32"),
        "coef": np.asarray(model.coef, dtype=np.float64),
        "intercept": np.asarray(model.intercept, dtype=np.float64),
        "mean": np.asarray(model.mean, dtype=np.float64),
        "scale": np.asarray(model.scale, dtype=np.float64),
        "counts": np.asarray(model.counts, dtype=np.int64),
        "saved_at": np.float64(time.time()),
    }


def save_model(model: UserModel, path: Path) -> None:
    """Write `model` to `path` atomically: readers see the old or the new file."""
    buffer = io.BytesIO()
    np.savez(buffer, **model_arrays(model))
    atomic_write_bytes(Path(path), buffer.getvalue())
    logger.info(
        "Saved %s user model %s (%s)", model.family, path, ", ".join(model.labels)
    )


def load_model(path: Path) -> UserModel:
    """Load and validate a user model file, raising ModelError naming the problem."""
    path = Path(path)
    where = str(path)
    try:
        size = path.stat().st_size
        if size > MAX_MODEL_BYTES:
            raise ModelError(f"{where}: {size} bytes exceeds the user model limit")
        with path.open("rb") as handle:
            arrays = read_npz(
                handle,
                where,
                error=ModelError,
                allowed=MODEL_FIELDS,
                max_member_bytes=MAX_MODEL_BYTES,
                max_total_bytes=MAX_MODEL_BYTES,
            )
    except FileNotFoundError as exc:
        raise ModelError(f"{where}: user model not found") from exc
    except OSError as exc:
        raise ModelError(f"{where}: unreadable user model file ({exc})") from exc
    return model_from_arrays(arrays, where)


def model_from_arrays(arrays: dict[str, np.ndarray], where: str) -> UserModel:
    """Build a UserModel from loaded arrays after checking every field."""
    if int(_scalar(arrays, "format", where, np.integer)) != MODEL_FORMAT:
        raise ModelError(f"{where}: unknown user model format, expected {MODEL_FORMAT}")
    family = str(_scalar(arrays, "family", where, np.str_))
    if family not in FAMILIES:
        raise ModelError(f"{where}: unknown family {family!r}")
    spec = FEATURE_SPECS[family]
    name = str(_scalar(arrays, "feature_name", where, np.str_))
    size = int(_scalar(arrays, "feature_size", where, np.integer))
    if (name, size) != (spec.name, spec.size):
        raise ModelError(
            f"{where}: features {name}/{size} do not match {spec.name}/{spec.size}"
        )
    classes = _array(arrays, "classes", where, np.str_, 1)
    labels = classes.tolist()
    if not 2 <= len(labels) <= MAX_CLASSES:
        raise ModelError(
            f"{where}: needs 2 to {MAX_CLASSES} classes, got {len(labels)}"
        )
    if labels != sorted(set(labels)) or BACKGROUND_LABEL not in labels:
        raise ModelError(f"{where}: classes must be unique, sorted and hold __base__")
    for label in labels:
        if not LABEL_PATTERN.fullmatch(label):
            raise ModelError(f"{where}: invalid class label {label!r}")
    rows = 1 if len(labels) == 2 else len(labels)
    expected = {
        "coef": (rows, size),
        "intercept": (rows,),
        "mean": (size,),
        "scale": (size,),
    }
    values = {}
    for key, shape in expected.items():
        array = _array(arrays, key, where, np.floating, len(shape))
        if array.shape != shape:
            raise ModelError(
                f"{where}: {key} has shape {array.shape}, expected {shape}"
            )
        if not np.isfinite(array).all():
            raise ModelError(f"{where}: {key} contains NaN or infinity")
        if (np.abs(array) > MAX_ABS_PARAMETER).any():
            raise ModelError(
                f"{where}: {key} has values beyond +-{MAX_ABS_PARAMETER:g}"
            )
        values[key] = array
    if (values["scale"] < MIN_SCALE).any():
        raise ModelError(
            f"{where}: scale must be positive and at least {MIN_SCALE:g}, "
            f"found {values['scale'].min():g}"
        )
    counts = _array(arrays, "counts", where, np.integer, 1)
    if counts.shape != (len(labels),) or (counts < 0).any():
        raise ModelError(f"{where}: counts must be {len(labels)} non-negative numbers")
    return UserModel(
        family,
        labels,
        values["coef"],
        values["intercept"],
        values["mean"],
        values["scale"],
        counts.tolist(),
        str(_scalar(arrays, "base_version", where, np.str_)),
    )


def _array(
    arrays: dict[str, np.ndarray], key: str, where: str, kind: type, ndim: int
) -> np.ndarray:
    if key not in arrays:
        raise ModelError(f"{where}: missing field {key}")
    array = arrays[key]
    if array.ndim != ndim or not np.issubdtype(array.dtype, kind):
        raise ModelError(
            f"{where}: field {key} has dtype {array.dtype} and {array.ndim} dimensions"
        )
    return array


def _scalar(arrays: dict[str, np.ndarray], key: str, where: str, kind: type) -> object:
    return _array(arrays, key, where, kind, 0).item()
