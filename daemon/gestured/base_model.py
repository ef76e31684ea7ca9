"""A trained base model folder: manifest, integrity check and TFLite inference."""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gestured.dataset.schema import FAMILIES, LABEL_PATTERN
from gestured.errors import ModelError
from gestured.features import FEATURE_SPECS, FeatureSpec
from gestured.tflite import make_interpreter

logger = logging.getLogger(__name__)

MANIFEST_NAME = "manifest.json"
MANIFEST_FORMAT = 1
MAX_MANIFEST_BYTES = 1024 * 1024


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _safe_member(folder: Path, name: Any, where: str) -> Path:
    """Return folder/name, rejecting names that leave the folder."""
    if not isinstance(name, str) or not name or "/" in name or name.startswith("."):
        raise ModelError(f"{where}: invalid file name {name!r} in manifest")
    return folder / name


def read_manifest(folder: Path) -> dict[str, Any]:
    """Read and validate `folder/manifest.json`, raising ModelError on any problem."""
    path = Path(folder) / MANIFEST_NAME
    where = str(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError as exc:
        raise ModelError(f"{where}: model manifest not found") from exc
    if len(raw) > MAX_MANIFEST_BYTES:
        raise ModelError(f"{where}: manifest larger than {MAX_MANIFEST_BYTES} bytes")
    try:
        manifest = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"{where}: invalid JSON ({exc})") from exc
    if not isinstance(manifest, dict):
        raise ModelError(f"{where}: manifest must be a JSON object")
    if manifest.get("format") != MANIFEST_FORMAT:
        raise ModelError(f"{where}: unknown manifest format {manifest.get('format')!r}")
    family = manifest.get("family")
    if family not in FAMILIES:
        raise ModelError(f"{where}: unknown family {family!r}")
    labels = manifest.get("labels")
    if not isinstance(labels, list) or not all(
        isinstance(label, str) and LABEL_PATTERN.fullmatch(label) for label in labels
    ):
        raise ModelError(f"{where}: labels must be a list of plain names")
    if len(set(labels)) != len(labels):
        raise ModelError(f"{where}: duplicate labels")
    feature = manifest.get("feature")
    expected = FEATURE_SPECS[family]
    if not isinstance(feature, dict) or (
        feature.get("name"),
        feature.get("size"),
    ) != (expected.name, expected.size):
        raise ModelError(
            f"{where}: feature spec {feature!r} does not match this gestured's "
            f"{expected.name} of size {expected.size}"
        )
    if not isinstance(manifest.get("files"), dict):
        raise ModelError(f"{where}: files must be an object")
    return manifest


def verify_file(folder: Path, entry: Any, where: str) -> Path:
    """Check one manifest file entry's size and sha256; return the file's path."""
    if not isinstance(entry, dict):
        raise ModelError(f"{where}: file entry must be an object")
    path = _safe_member(Path(folder), entry.get("path"), where)
    if not path.is_file():
        raise ModelError(f"{path}: model file not found")
    size = path.stat().st_size
    if entry.get("size") != size:
        raise ModelError(
            f"{path}: size {size} differs from manifest {entry.get('size')}"
        )
    actual = sha256_file(path)
    if entry.get("sha256") != actual:
        raise ModelError(f"{path}: sha256 {actual} differs from the manifest")
    return path


@dataclass
class BaseModel:
    """A loaded base model of one family."""

    family: str
    version: str
    labels: list[str]
    feature: FeatureSpec
    folder: Path
    manifest: dict[str, Any]
    _interpreter: Any
    _lock: threading.Lock

    @classmethod
    def load(
        cls,
        folder: Path,
        *,
        variant: str = "float32",
        num_threads: int = 1,
        edgetpu: bool = False,
    ) -> BaseModel:
        """Load a model folder after checking its manifest, sizes and hashes."""
        folder = Path(folder)
        manifest = read_manifest(folder)
        where = str(folder / MANIFEST_NAME)
        files = manifest["files"]
        if variant not in files:
            raise ModelError(
                f"{where}: no {variant!r} model, "
                f"available: {', '.join(files) or 'none'}"
            )
        path = verify_file(folder, files[variant], where)
        interpreter = make_interpreter(
            str(path), num_threads=num_threads, edgetpu=edgetpu
        )
        model = cls(
            family=manifest["family"],
            version=str(manifest.get("version", "")),
            labels=list(manifest["labels"]),
            feature=FEATURE_SPECS[manifest["family"]],
            folder=folder,
            manifest=manifest,
            _interpreter=interpreter,
            _lock=threading.Lock(),
        )
        model._check_io(where)
        logger.info(
            "Loaded %s model %s (%s, %d labels)",
            model.family,
            model.version,
            variant,
            len(model.labels),
        )
        return model

    def _check_io(self, where: str) -> None:
        inputs = self._interpreter.get_input_details()
        outputs = self._interpreter.get_output_details()
        if len(inputs) != 1 or len(outputs) != 1:
            raise ModelError(f"{where}: model must have one input and one output")
        if int(inputs[0]["shape"][-1]) != self.feature.size:
            raise ModelError(
                f"{where}: model input {list(inputs[0]['shape'])} does not take "
                f"{self.feature.size} features"
            )
        if int(outputs[0]["shape"][-1]) != len(self.labels):
            raise ModelError(
                f"{where}: model output {list(outputs[0]['shape'])} does not match "
                f"{len(self.labels)} labels"
            )

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        """Return class probabilities (N, labels) for features (N, size)."""
        features = np.asarray(features, dtype=np.float32).reshape(-1, self.feature.size)
        with self._lock:
            interpreter = self._interpreter
            inp = interpreter.get_input_details()[0]
            out = interpreter.get_output_details()[0]
            rows = []
            for row in features:
                interpreter.set_tensor(inp["index"], _quantize(row[None, :], inp))
                interpreter.invoke()
                rows.append(_dequantize(interpreter.get_tensor(out["index"]), out)[0])
        return np.asarray(rows, dtype=np.float32).reshape(-1, len(self.labels))


def _quantize(values: np.ndarray, detail: dict[str, Any]) -> np.ndarray:
    dtype = detail["dtype"]
    if dtype == np.float32:
        return values.astype(np.float32)
    scale, zero_point = detail["quantization"]
    info = np.iinfo(dtype)
    quantized = np.round(values / scale + zero_point)
    return np.clip(quantized, info.min, info.max).astype(dtype)


def _dequantize(values: np.ndarray, detail: dict[str, Any]) -> np.ndarray:
    if detail["dtype"] == np.float32:
        return values.astype(np.float32)
    scale, zero_point = detail["quantization"]
    return (values.astype(np.float32) - zero_point) * scale
