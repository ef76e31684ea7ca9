"""A small Keras softmax trainer that writes a model folder.

It is the default `train_fn` of `gestured retrain` and builds the models the
update tests install. The full trainer of `gestured train` can take its place
through the same signature.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path

import numpy as np

from gestured.atomic import atomic_write_bytes, atomic_write_with
from gestured.base_model import sha256_file
from gestured.dataset.schema import Samples
from gestured.features import FEATURE_SPECS, features_for

logger = logging.getLogger(__name__)


def _keras_tflite(
    features: np.ndarray, targets: np.ndarray, classes: int, epochs: int, seed: int
) -> bytes:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    tf.keras.utils.set_random_seed(seed)
    model = tf.keras.Sequential(
        [
            tf.keras.Input(shape=(features.shape[1],)),
            tf.keras.layers.Dense(32, activation="relu"),
            tf.keras.layers.Dense(classes, activation="softmax"),
        ]
    )
    model.compile(
        optimizer=tf.keras.optimizers.Adam(0.01),
        loss="sparse_categorical_crossentropy",
    )
    model.fit(features, targets, epochs=epochs, batch_size=64, verbose=0)
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    return bytes(converter.convert())


def write_model_folder(
    out_dir: Path,
    family: str,
    version: str,
    labels: list[str],
    tflite: bytes,
    background: np.ndarray | None = None,
    scores: dict[str, float] | None = None,
) -> Path:
    """Write a model folder (manifest.json, model.tflite, background.npz)."""
    out_dir = Path(out_dir)
    spec = FEATURE_SPECS[family]
    atomic_write_bytes(out_dir / "model.tflite", tflite)
    manifest = {
        "format": 1,
        "family": family,
        "version": version,
        "labels": labels,
        "feature": {"name": spec.name, "size": spec.size},
        "input_shape": [1, spec.size],
        "files": {"float32": _entry(out_dir / "model.tflite")},
        "scores": scores or {},
    }
    if background is not None and len(background):
        atomic_write_with(
            out_dir / "background.npz",
            lambda handle: np.savez_compressed(
                handle, features=background.astype(np.float32)
            ),
        )
        manifest["background"] = _entry(out_dir / "background.npz")
    atomic_write_bytes(
        out_dir / "manifest.json", json.dumps(manifest, indent=1).encode()
    )
    return out_dir


def _entry(path: Path) -> dict[str, object]:
    return {"path": path.name, "size": path.stat().st_size, "sha256": sha256_file(path)}


def train_family(
    train: Samples,
    val: Samples,
    labels: list[str],
    out_dir: Path,
    *,
    epochs: int = 40,
    seed: int = 0,
) -> Path:
    """Train on `train`, score on `val`, write a model folder; the retrain hook."""
    started = time.monotonic()
    index = {label: i for i, label in enumerate(labels)}
    features = features_for(train)
    targets = np.array([index[str(label)] for label in train.labels], np.int64)
    tflite = _keras_tflite(features, targets, len(labels), epochs, seed)
    version = time.strftime("%Y%m%d.%H%M%S", time.gmtime())
    rng = np.random.default_rng(seed)
    background = features[rng.permutation(len(features))[:256]]
    folder = write_model_folder(
        out_dir, train.family, version, labels, tflite, background
    )
    logger.info(
        "Trained %s on %d samples in %.1f s",
        train.family,
        len(train),
        time.monotonic() - started,
    )
    return folder
