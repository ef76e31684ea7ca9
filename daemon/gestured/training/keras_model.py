"""The Keras MLP and its TFLite export (float32 and full-integer int8)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)


def build_mlp(inputs: int, classes: int) -> Any:
    """Return a compiled MLP from `inputs` features to `classes` probabilities."""
    import keras

    model = keras.Sequential(
        [
            keras.Input((inputs,), name="features"),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dropout(0.2),
            keras.layers.Dense(32, activation="relu"),
            keras.layers.Dense(classes, activation="softmax"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def fit(
    features: np.ndarray,
    targets: np.ndarray,
    classes: int,
    *,
    epochs: int,
    seed: int,
    members: int = 5,
    verbose: int = 1,
) -> Any:
    """Train `members` MLPs with class-balanced weights; return their average.

    One MLP's held-out score moved by several points from seed to seed, so
    the exported model averages the probabilities of independently trained
    members, which is steadier and still only a few thousand weights.
    """
    import keras

    counts = np.bincount(targets, minlength=classes).astype(np.float64)
    weights = {
        index: float(len(targets) / (classes * count))
        for index, count in enumerate(counts)
        if count
    }
    trained = []
    for member in range(members):
        logger.info("Training member %d of %d", member + 1, members)
        keras.utils.set_random_seed(seed + member)
        model = build_mlp(features.shape[1], classes)
        model.fit(
            features,
            targets,
            epochs=epochs,
            batch_size=128,
            shuffle=True,
            class_weight=weights,
            verbose=verbose,
        )
        trained.append(model)
    if members == 1:
        return trained[0]
    inputs = keras.Input((features.shape[1],), name="features")
    outputs = keras.layers.Average()([model(inputs) for model in trained])
    return keras.Model(inputs, outputs)


def to_tflite(model: Any, representative: np.ndarray | None = None) -> bytes:
    """Convert to TFLite: float32, or full int8 with `representative` features."""
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if representative is not None:
        samples = np.asarray(representative, dtype=np.float32)

        def batches() -> Iterator[list[np.ndarray]]:
            for row in samples:
                yield [row[None, :]]

        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = batches
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    return bytes(converter.convert())
