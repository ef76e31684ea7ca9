"""Validation vectors: feature inputs with the labels a model must predict.

The publisher runs each model on a few dozen inputs and writes the answers
into the signed manifest. A device reproduces them before it swaps models,
which catches a model file that loads but computes something else (a wrong
interpreter build, a broken conversion, a mixed-up file).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from gestured.base_model import BaseModel

logger = logging.getLogger(__name__)

VALIDATION_COUNT = 32
# Inputs whose two best classes are closer than this are skipped, so that the
# small float differences between interpreter builds cannot flip the answer.
MIN_MARGIN = 0.1
BACKGROUND_FILE = "background.npz"
MAX_BACKGROUND_ROWS = 4096


def _background_rows(folder: Path, size: int) -> np.ndarray:
    path = folder / BACKGROUND_FILE
    if not path.is_file():
        return np.zeros((0, size), np.float32)
    try:
        with np.load(path, allow_pickle=False) as archive:
            for name in archive.files:
                array = archive[name]
                if (
                    array.ndim == 2
                    and array.shape[1] == size
                    and np.issubdtype(array.dtype, np.floating)
                ):
                    rows = array[:MAX_BACKGROUND_ROWS].astype(np.float32)
                    return rows[np.isfinite(rows).all(axis=1)]
    except (OSError, ValueError) as exc:
        logger.warning("Cannot read %s for validation vectors: %s", path, exc)
    return np.zeros((0, size), np.float32)


def _margin(probabilities: np.ndarray) -> np.ndarray:
    if probabilities.shape[1] < 2:
        return np.ones(len(probabilities), np.float32)
    top = np.sort(probabilities, axis=1)
    return top[:, -1] - top[:, -2]


def make_vectors(
    folder: Path,
    variants: list[str],
    count: int = VALIDATION_COUNT,
    seed: int = 0,
) -> tuple[list[list[float]], dict[str, list[str]]]:
    """Pick validation inputs for a model folder and record each variant's answers.

    Rows of background.npz come first; random inputs in the feature range
    fill up the rest. Inputs with a small margin, or on which the variants
    disagree, are left out. The picks cycle through the predicted labels so
    that most classes are covered.
    """
    models = {variant: BaseModel.load(folder, variant=variant) for variant in variants}
    first = models[variants[0]]
    size = first.feature.size
    rng = np.random.default_rng(seed)
    candidates = np.concatenate(
        [
            _background_rows(folder, size),
            rng.uniform(-1.0, 1.0, (count * 20, size)).astype(np.float32),
        ]
    )
    answers = {}
    keep = np.ones(len(candidates), bool)
    for variant, model in models.items():
        probabilities = model.predict_proba(candidates)
        answers[variant] = probabilities.argmax(axis=1)
        keep &= _margin(probabilities) >= MIN_MARGIN
    reference = answers[variants[0]]
    for variant in variants[1:]:
        keep &= answers[variant] == reference
    chosen: list[int] = []
    by_label = {
        label: list(np.flatnonzero(keep & (reference == label)))
        for label in np.unique(reference[keep])
    }
    while len(chosen) < count and any(by_label.values()):
        for indices in by_label.values():
            if indices and len(chosen) < count:
                chosen.append(indices.pop(0))
    if not chosen:
        raise ValueError(f"{folder}: no input gives a clear answer for validation")
    features = [[float(x) for x in candidates[i]] for i in chosen]
    expected = {
        variant: [first.labels[int(answers[variant][i])] for i in chosen]
        for variant in variants
    }
    return features, expected


def check_vectors(
    model: BaseModel, features: list[list[float]], expected: list[str]
) -> str | None:
    """Return None when `model` reproduces `expected`, else why it does not."""
    if not features:
        return None
    predicted = model.predict_proba(np.asarray(features, np.float32)).argmax(axis=1)
    labels = [model.labels[int(index)] for index in predicted]
    wrong = sum(a != b for a, b in zip(labels, expected, strict=True))
    if wrong:
        return f"{wrong} of {len(expected)} validation vectors give other labels"
    return None
