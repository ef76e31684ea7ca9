"""The hybrid decision between the base model and the user model.

Both models output probabilities over their own label sets: the base model a
softmax over the base labels, the user model one-vs-rest logistic scores over
the user labels plus `__base__`, normalized to sum to 1. They are comparable
only in the sense that each is "how sure this model is among its own
choices", which is why the decision does not compare them directly. It asks
the user model first, because `__base__` was trained on the base model's own
samples: a high user probability means "this is my gesture and not one of the
base gestures". Only when the user model does not claim the frame does the
base model's probability decide. A user label equal to a base label therefore
overrides the base gesture.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from gestured.user.model import BACKGROUND_LABEL

DEFAULT_USER_THRESHOLD = 0.85
DEFAULT_BASE_THRESHOLD = 0.7


class Decision(NamedTuple):
    """The label chosen for one frame, its probability and which model chose it."""

    label: str
    confidence: float
    source: str  # "user" or "base"


def decide(
    base_labels: Sequence[str],
    base_proba: np.ndarray | None,
    user_labels: Sequence[str] = (),
    user_proba: np.ndarray | None = None,
    *,
    user_threshold: float = DEFAULT_USER_THRESHOLD,
    base_threshold: float = DEFAULT_BASE_THRESHOLD,
) -> Decision | None:
    """Return the decision for one frame, or None when neither model is sure.

    The user label wins when its probability is at least `user_threshold` and
    it is not `__base__`. Otherwise the base label wins when its probability is
    at least `base_threshold`. Either model may be missing (None).
    """
    if not 0.0 <= user_threshold <= 1.0 or not 0.0 <= base_threshold <= 1.0:
        raise ValueError("thresholds must lie between 0 and 1")
    if user_proba is not None and len(user_labels):
        scores = np.asarray(user_proba, dtype=np.float64).reshape(-1)
        if scores.shape != (len(user_labels),):
            raise ValueError(
                f"user model gave {scores.shape[0]} scores for "
                f"{len(user_labels)} labels"
            )
        best = int(np.argmax(scores))
        label = user_labels[best]
        if label != BACKGROUND_LABEL and scores[best] >= user_threshold:
            return Decision(label, float(scores[best]), "user")
    if base_proba is not None and len(base_labels):
        scores = np.asarray(base_proba, dtype=np.float64).reshape(-1)
        if scores.shape != (len(base_labels),):
            raise ValueError(
                f"base model gave {scores.shape[0]} scores for "
                f"{len(base_labels)} labels"
            )
        best = int(np.argmax(scores))
        if scores[best] >= base_threshold:
            return Decision(base_labels[best], float(scores[best]), "base")
    return None
